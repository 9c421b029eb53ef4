// SPDX-License-Identifier: Apache-2.0
/*
 * vm.export and vm.import (docs/api.md): the daemon does the work because
 * it owns the store and can read the disks, which the client may not.
 * Bundles can be many gigabytes, so the reading and writing runs on
 * libuv's thread pool; the loop thread only plans before and touches the
 * store after. The call stays valid meanwhile (a client that leaves just
 * misses the reply).
 *
 * An import unpacks into STATE_DIR/images/.import-XXXXXX, checks
 * everything there, and only then renames the folder to
 * STATE_DIR/images/NAME and creates the VM, so a refused or failed import
 * leaves nothing behind.
 */
#include "bundle.h"
#include "daemon.h"

#include "raevm/log.h"
#include "raevm/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMAGES_DIR "images"

struct bundle_job {
	uv_work_t work;
	struct rv_call *call;
	struct rv_daemon *d;
	char *path; /* the bundle */
	int rc;
	char err[1024];
	/* export */
	char *name;
	struct rv_bundle_plan plan;
	/* import */
	char *new_name; /* --name, or NULL */
	char *tmpdir;
	struct rv_bundle_contents contents;
	struct json_object *doc;
	struct json_object *errors;
	char vm_name[65];
};

static void job_free(struct bundle_job *j)
{
	rv__bundle_plan_free(&j->plan);
	rv__bundle_contents_free(&j->contents);
	json_object_put(j->doc);
	json_object_put(j->errors);
	free(j->path);
	free(j->name);
	free(j->new_name);
	free(j->tmpdir);
	free(j);
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool absolute_arg(struct rv_call *call, const char *path)
{
	if (path[0] == '/')
		return true;
	rv__call_err(call, -EINVAL, "args.path: must be an absolute path");
	return false;
}

/* ---------------------------------------------------------------------- */
/* vm.export                                                              */

static void export_work(uv_work_t *w)
{
	struct bundle_job *j = rv_container_of(w, struct bundle_job, work);

	j->rc = rv__bundle_write(&j->plan, j->path, j->err, sizeof(j->err));
}

static void export_done(uv_work_t *w, int status)
{
	struct bundle_job *j = rv_container_of(w, struct bundle_job, work);
	struct json_object *o;
	struct stat sb;

	if (status)
		j->rc = status;
	if (j->rc) {
		rv_warn("export of VM '%s' to '%s' failed: %s", j->name,
			j->path, j->err[0] ? j->err : strerror(-j->rc));
		rv__call_err(j->call, j->rc, "cannot export VM '%s': %s",
			     j->name, j->err[0] ? j->err : strerror(-j->rc));
		job_free(j);
		return;
	}
	rv_info("VM '%s' exported to '%s'", j->name, j->path);
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(j->name));
	json_object_object_add(o, "path", json_object_new_string(j->path));
	json_object_object_add(o, "files",
			       json_object_new_int((int)j->plan.nr_files + 1));
	if (stat(j->path, &sb) == 0)
		json_object_object_add(o, "bytes",
				       json_object_new_int64(sb.st_size));
	rv__call_ok(j->call, o);
	job_free(j);
}

/* True when the supervisor runs a worker for the VM. */
static bool running(struct rv_daemon *d, const char *name)
{
	struct rv_sup_info info;

	if (!d->sup || rv_supervisor_info(d->sup, name, &info))
		return false;
	return info.state != RV_SUP_STOPPED && info.state != RV_SUP_CRASHED;
}

void rv__handler_export(struct rv_call *call)
{
	const struct rv_request *req = rv__call_request(call);
	struct rv_daemon *d = rv__call_daemon(call);
	const char *name = rv__request_str(req, "name");
	const char *path = rv__request_str(req, "path");
	struct rv_store_vm *vm = rv__store_find(d->store, name);
	struct bundle_job *j;
	char q[64];
	int rc;

	rv_manifest_quote(name, strlen(name), 40, q, sizeof(q));
	if (!vm) {
		rv__call_err(call, -ENOENT, "no VM named '%s'", q);
		return;
	}
	if (!absolute_arg(call, path))
		return;
	if (vm->problem) {
		rv__call_err(call, -EINVAL, "VM '%s' cannot be exported: %s", q,
			     vm->problem);
		return;
	}
	if (running(d, vm->name)) {
		rv__call_err(call, -EBUSY,
			     "VM '%s' is running; stop it before exporting", q);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(path)) || !(j->name = strdup(vm->name))) {
		if (j)
			job_free(j);
		rv__call_err(call, -ENOMEM, "out of memory");
		return;
	}
	j->call = call;
	j->d = d;
	rc = rv__bundle_plan(vm->manifest, &vm->cfg, &j->plan, j->err,
			     sizeof(j->err));
	if (!rc)
		rc = uv_queue_work(d->loop, &j->work, export_work, export_done);
	if (rc) {
		rv__call_err(call, rc, "cannot export VM '%s': %s", q,
			     j->err[0] ? j->err : strerror(-rc));
		job_free(j);
	}
}

/* ---------------------------------------------------------------------- */
/* vm.import                                                              */

static void import_work(uv_work_t *w)
{
	struct bundle_job *j = rv_container_of(w, struct bundle_job, work);
	int dirfd;

	dirfd = open(j->tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		j->rc = -errno;
		snprintf(j->err, sizeof(j->err), "cannot open '%s': %s",
			 j->tmpdir, strerror(errno));
		return;
	}
	j->rc = rv__bundle_read(j->path, dirfd, &j->contents, j->err,
				sizeof(j->err));
	close(dirfd);
	if (!j->rc)
		j->rc = rv__bundle_check(&j->contents, j->tmpdir, j->new_name,
					 &j->doc, j->vm_name, j->errors, j->err,
					 sizeof(j->err));
}

static void reply_errors(struct bundle_job *j)
{
	size_t i, n = json_object_array_length(j->errors);
	char msg[1536];
	size_t off;

	off = (size_t)snprintf(msg, sizeof(msg),
			       "cannot import '%s': invalid manifest", j->path);
	for (i = 0; i < n && off < sizeof(msg); i++)
		off += (size_t)snprintf(
			msg + off, sizeof(msg) - off, "%s%s", i ? "; " : ": ",
			json_object_get_string(
				json_object_array_get_idx(j->errors, i)));
	rv__call_err_list(j->call, -EINVAL, json_object_get(j->errors), "%s",
			  msg);
}

/* Moves the checked files into place and creates the VM. */
static int import_finish(struct bundle_job *j, struct rv_store_vm **vm)
{
	char *final = NULL, q[64];
	int rc;

	rv_manifest_quote(j->vm_name, strlen(j->vm_name), 40, q, sizeof(q));
	if (rv__store_find(j->d->store, j->vm_name)) {
		snprintf(j->err, sizeof(j->err),
			 "a VM named '%s' already exists (give --name)", q);
		return -EEXIST;
	}
	if (asprintf(&final, "%s/%s/%s", j->d->state_dir, IMAGES_DIR,
		     j->vm_name) < 0)
		return -ENOMEM;
	if (rename(j->tmpdir, final)) {
		rc = errno == ENOTEMPTY || errno == EEXIST ? -EEXIST : -errno;
		snprintf(j->err, sizeof(j->err),
			 "cannot move the files to '%s': %s", final,
			 rc == -EEXIST ? "it already exists" : strerror(-rc));
		free(final);
		return rc;
	}
	json_object_put(j->errors);
	j->errors = json_object_new_array();
	rc = rv__store_create(j->d->store, j->doc, final, NULL, j->errors, vm);
	if (rc) {
		remove_tree(final);
		if (rc == -EEXIST)
			snprintf(j->err, sizeof(j->err),
				 "a VM named '%s' already exists (give --name)",
				 q);
		else if (rc != -EINVAL)
			snprintf(j->err, sizeof(j->err),
				 "could not store the VM: %s", strerror(-rc));
	}
	free(final);
	return rc;
}

static void import_done(uv_work_t *w, int status)
{
	struct bundle_job *j = rv_container_of(w, struct bundle_job, work);
	struct rv_store_vm *vm = NULL;
	struct json_object *o, *ev;

	if (status)
		j->rc = status;
	if (!j->rc)
		j->rc = import_finish(j, &vm);
	if (j->rc) {
		remove_tree(j->tmpdir);
		rv_warn("import of '%s' refused: %s", j->path,
			j->rc == -EINVAL ? "invalid manifest" :
			j->err[0]	 ? j->err :
					   strerror(-j->rc));
		if (j->rc == -EINVAL && json_object_array_length(j->errors))
			reply_errors(j);
		else
			rv__call_err(j->call, j->rc, "cannot import '%s': %s",
				     j->path,
				     j->err[0] ? j->err : strerror(-j->rc));
		job_free(j);
		return;
	}
	rv_info("VM '%s' imported from '%s'", vm->name, j->path);
	ev = json_object_new_object();
	json_object_object_add(ev, "name", json_object_new_string(vm->name));
	rv__server_event(j->d->server, "vm.created", ev);
	json_object_put(ev);
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(vm->name));
	json_object_object_add(o, "state", json_object_new_string("stopped"));
	json_object_object_add(o, "dir", json_object_new_string(vm->dir));
	rv__call_ok(j->call, o);
	job_free(j);
}

static int make_tmpdir(struct bundle_job *j)
{
	char *images;
	int rc = 0;

	if (asprintf(&images, "%s/%s", j->d->state_dir, IMAGES_DIR) < 0)
		return -ENOMEM;
	if (mkdir(images, 0750) && errno != EEXIST)
		rc = -errno;
	if (!rc && asprintf(&j->tmpdir, "%s/.import-XXXXXX", images) < 0) {
		j->tmpdir = NULL;
		rc = -ENOMEM;
	}
	if (!rc && !mkdtemp(j->tmpdir))
		rc = -errno;
	if (rc)
		snprintf(j->err, sizeof(j->err),
			 "cannot create a folder in '%s': %s", images,
			 strerror(-rc));
	free(images);
	if (rc) {
		free(j->tmpdir);
		j->tmpdir = NULL;
	}
	return rc;
}

void rv__handler_import(struct rv_call *call)
{
	const struct rv_request *req = rv__call_request(call);
	struct rv_daemon *d = rv__call_daemon(call);
	const char *path = rv__request_str(req, "path");
	const char *name = rv__request_str(req, "name");
	struct bundle_job *j;
	char q[64];
	int rc;

	if (!absolute_arg(call, path))
		return;
	if (name) {
		rv_manifest_quote(name, strlen(name), 40, q, sizeof(q));
		if (!rv_manifest_name_valid(name)) {
			rv__call_err(
				call, -EINVAL,
				"args.name: '%s' is not a valid VM name (1-64 of A-Z a-z 0-9 . _ -, not starting with . or -)",
				q);
			return;
		}
		if (rv__store_find(d->store, name)) {
			rv__call_err(call, -EEXIST,
				     "a VM named '%s' already exists", q);
			return;
		}
	}
	j = calloc(1, sizeof(*j));
	if (!j || !(j->path = strdup(path)) ||
	    (name && !(j->new_name = strdup(name))) ||
	    !(j->errors = json_object_new_array())) {
		if (j)
			job_free(j);
		rv__call_err(call, -ENOMEM, "out of memory");
		return;
	}
	j->call = call;
	j->d = d;
	rc = make_tmpdir(j);
	if (!rc) {
		rc = uv_queue_work(d->loop, &j->work, import_work, import_done);
		if (rc)
			remove_tree(j->tmpdir);
	}
	if (rc) {
		rv__call_err(call, rc, "cannot import '%s': %s", path,
			     j->err[0] ? j->err : strerror(-rc));
		job_free(j);
	}
}
