// SPDX-License-Identifier: Apache-2.0
/*
 * The VM store: one folder per VM under STATE_DIR/vms/NAME holding
 *   manifest.raeVM  the VM's manifest, every path absolute
 *   state           {"state", "reason", "since", "created"}: the last state
 *                   the daemon knew, so a restarted daemon can tell a VM
 *                   that crashed from one that was stopped
 * and the files the supervisor writes there (console.log, worker.log).
 *
 * Every file is replaced atomically (temporary file, fsync, rename, fsync
 * of the folder) and a VM folder appears and disappears by one rename
 * (.NAME.creating -> NAME, NAME -> .NAME.deleting), so a crash or a full
 * disk leaves a VM either whole or absent. Leftover dot-folders are
 * removed at the next start. Names are checked with
 * rv_manifest_name_valid(), which refuses '/', "." and "..", so a name
 * can never leave STATE_DIR/vms.
 */
#include "daemon.h"

#include "raevm/log.h"
#include "raevm/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MANIFEST_FILE "manifest.raeVM"
#define STATE_FILE "state"
#define DIR_MODE 0750
#define FILE_MODE 0640

struct rv_store {
	char *state_dir;
	char *vms_dir;		  /* state_dir/vms */
	struct rv_store_vm **vms; /* sorted by name */
	size_t nr_vms;
	size_t cap_vms;
};

static char *path_join(const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s/%s", a, b) < 0)
		return NULL;
	return s;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char *tmp = strdup(path);
	char *p;
	int rc = 0;

	if (!tmp)
		return -ENOMEM;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST) {
			rc = -errno;
			break;
		}
		*p = '/';
	}
	if (!rc && mkdir(tmp, mode) && errno != EEXIST)
		rc = -errno;
	free(tmp);
	return rc;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		rc = -errno;
	close(fd);
	return rc;
}

int rv__store_write_atomic(const char *path, const char *data, size_t len,
			   mode_t mode)
{
	char *tmp, *dir, *slash;
	size_t off = 0;
	int fd, rc = 0;

	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		free(tmp);
		return rc;
	}
	if (fchmod(fd, mode))
		rc = -errno;
	while (!rc && off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		else
			off += (size_t)n;
	}
	if (!rc && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc) {
		unlink(tmp);
		free(tmp);
		return rc;
	}
	free(tmp);
	dir = strdup(path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	else if (slash)
		slash[1] = '\0';
	rc = fsync_dir(slash ? dir : ".");
	free(dir);
	return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	/* Keep going past a failure: remove as much as possible. */
	if (remove(path) && errno != ENOENT)
		rv_warn("store: cannot remove '%s': %m", path);
	return 0;
}

/* rm -rf without following symbolic links. */
static void remove_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

void rv__store_remove_runtime(const char *runtime_dir, const char *name)
{
	char *p;

	if (!rv_manifest_name_valid(name) ||
	    asprintf(&p, "%s/%s", runtime_dir, name) < 0)
		return;
	remove_tree(p);
	free(p);
}

static void vm_free(struct rv_store_vm *vm)
{
	if (!vm)
		return;
	free(vm->name);
	free(vm->dir);
	free(vm->manifest_path);
	json_object_put(vm->manifest);
	rv_vm_config_free(&vm->cfg);
	free(vm->problem);
	free(vm->reason);
	free(vm);
}

static int vm_alloc(struct rv_store *st, const char *name,
		    struct rv_store_vm **out)
{
	struct rv_store_vm *vm = calloc(1, sizeof(*vm));

	*out = NULL;
	if (!vm)
		return -ENOMEM;
	rv_vm_config_init(&vm->cfg);
	vm->name = strdup(name);
	vm->dir = path_join(st->vms_dir, name);
	vm->manifest_path = vm->dir ? path_join(vm->dir, MANIFEST_FILE) : NULL;
	vm->reason = strdup("");
	if (!vm->name || !vm->dir || !vm->manifest_path || !vm->reason) {
		vm_free(vm);
		return -ENOMEM;
	}
	*out = vm;
	return 0;
}

static int vm_cmp(const void *a, const void *b)
{
	const struct rv_store_vm *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int list_add(struct rv_store *st, struct rv_store_vm *vm)
{
	if (st->nr_vms == st->cap_vms) {
		size_t ncap = st->cap_vms ? st->cap_vms * 2 : 16;
		struct rv_store_vm **n = realloc(st->vms, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		st->vms = n;
		st->cap_vms = ncap;
	}
	st->vms[st->nr_vms++] = vm;
	qsort(st->vms, st->nr_vms, sizeof(*st->vms), vm_cmp);
	return 0;
}

static void list_remove(struct rv_store *st, struct rv_store_vm *vm)
{
	size_t i;

	for (i = 0; i < st->nr_vms; i++) {
		if (st->vms[i] != vm)
			continue;
		memmove(&st->vms[i], &st->vms[i + 1],
			(st->nr_vms - i - 1) * sizeof(*st->vms));
		st->nr_vms--;
		return;
	}
}

struct rv_store_vm *rv__store_find(struct rv_store *st, const char *name)
{
	struct rv_store_vm key = { .name = (char *)(uintptr_t)name };
	struct rv_store_vm *kp = &key, **hit;

	if (!name || !st->nr_vms)
		return NULL;
	hit = bsearch(&kp, st->vms, st->nr_vms, sizeof(*st->vms), vm_cmp);
	return hit ? *hit : NULL;
}

struct rv_store_vm *const *rv__store_list(struct rv_store *st, size_t *nr)
{
	*nr = st->nr_vms;
	return st->vms;
}

int rv__store_state_parse(const char *name, enum rv_sup_state *out)
{
	enum rv_sup_state s;

	for (s = RV_SUP_STOPPED; s <= RV_SUP_CRASHED; s++) {
		if (name && strcmp(rv_sup_state_name(s), name) == 0) {
			*out = s;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---------------------------------------------------------------------- */
/* State file                                                             */

static int write_state(const struct rv_store_vm *vm)
{
	struct json_object *o = json_object_new_object();
	char *path = path_join(vm->dir, STATE_FILE);
	const char *text;
	char *line = NULL;
	int rc = -ENOMEM;

	if (!o || !path)
		goto out;
	json_object_object_add(
		o, "state",
		json_object_new_string(rv_sup_state_name(vm->state)));
	json_object_object_add(o, "reason", json_object_new_string(vm->reason));
	json_object_object_add(o, "since", json_object_new_int64(vm->since));
	json_object_object_add(o, "created",
			       json_object_new_int64(vm->created));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (!text || asprintf(&line, "%s\n", text) < 0)
		goto out;
	rc = rv__store_write_atomic(path, line, strlen(line), FILE_MODE);
out:
	free(line);
	free(path);
	json_object_put(o);
	return rc;
}

int rv__store_set_state(struct rv_store *st, struct rv_store_vm *vm,
			enum rv_sup_state state, const char *reason)
{
	char *r = strdup(reason ? reason : "");
	int rc;

	(void)st;
	if (!r)
		return -ENOMEM;
	free(vm->reason);
	vm->reason = r;
	vm->state = state;
	vm->since = (int64_t)time(NULL);
	rc = write_state(vm);
	if (rc)
		rv_warn("store: cannot record the state of VM '%s': %s",
			vm->name, strerror(-rc));
	return rc;
}

static void read_state(struct rv_store_vm *vm)
{
	char *path = path_join(vm->dir, STATE_FILE);
	struct json_object *o = NULL, *v;
	uint8_t *data = NULL;
	size_t len = 0;
	struct stat sb;

	vm->state = RV_SUP_STOPPED;
	if (stat(vm->manifest_path, &sb) == 0)
		vm->created = (int64_t)sb.st_mtime;
	if (!path || rv_read_file(path, 64 * 1024, &data, &len))
		goto out;
	data[len] = '\0'; /* rv_read_file() leaves a spare byte */
	o = json_tokener_parse((const char *)data);
	if (!o || !json_object_is_type(o, json_type_object)) {
		rv_warn("store: ignoring a damaged state file '%s'", path);
		goto out;
	}
	if (json_object_object_get_ex(o, "state", &v) &&
	    rv__store_state_parse(json_object_get_string(v), &vm->state))
		vm->state = RV_SUP_STOPPED;
	if (json_object_object_get_ex(o, "reason", &v) &&
	    json_object_is_type(v, json_type_string)) {
		char *r = strdup(json_object_get_string(v));

		if (r) {
			free(vm->reason);
			vm->reason = r;
		}
	}
	if (json_object_object_get_ex(o, "since", &v))
		vm->since = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "created", &v))
		vm->created = json_object_get_int64(v);
out:
	json_object_put(o);
	free(data);
	free(path);
}

/* ---------------------------------------------------------------------- */
/* Validation                                                             */

static void errors_add(struct json_object *errors, const char *line)
{
	if (errors)
		json_object_array_add(errors, json_object_new_string(line));
}

static void errors_addf(struct json_object *errors, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void errors_addf(struct json_object *errors, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	errors_add(errors, buf);
}

/* A path the parser left relative: base_dir was not given. */
static bool relative(const char *path)
{
	return path && path[0] != '/';
}

static void check_absolute(const struct rv_vm_config *cfg,
			   struct json_object *errors, int *bad)
{
	char q[64];
	unsigned int i;

#define CHECK(path, fmt, ...)                                                  \
	do {                                                                   \
		if (relative(path)) {                                          \
			rv_manifest_quote(path, strlen(path), 40, q,           \
					  sizeof(q));                          \
			errors_addf(errors,                                    \
				    fmt ": relative path '%s' needs base_dir " \
					"(the folder the manifest came from)", \
				    ##__VA_ARGS__, q);                         \
			(*bad)++;                                              \
		}                                                              \
	} while (0)

	CHECK(cfg->kernel, "boot.kernel");
	CHECK(cfg->initrd, "boot.initrd");
	for (i = 0; i < cfg->nr_disks; i++)
		CHECK(cfg->disks[i].path, "disks[%u].path", i);
	CHECK(cfg->console_socket, "console.socket");
	CHECK(cfg->vsock.socket, "vsock.socket");
#undef CHECK
}

static void set_str(struct json_object *obj, const char *key, const char *val)
{
	if (obj && val && json_object_is_type(obj, json_type_object))
		json_object_object_add(obj, key, json_object_new_string(val));
}

/*
 * Writes the parser's resolved paths back into the document so the stored
 * copy needs no base folder. The parse succeeded, so each key exists with
 * the type the parser accepted. A new path field in the manifest format
 * must be added here and to check_absolute().
 */
static void make_absolute(struct json_object *doc,
			  const struct rv_vm_config *cfg)
{
	struct json_object *boot = NULL, *disks = NULL, *console = NULL;
	struct json_object *vsock = NULL;
	unsigned int i;

	if (json_object_object_get_ex(doc, "boot", &boot)) {
		set_str(boot, "kernel", cfg->kernel);
		set_str(boot, "initrd", cfg->initrd);
	}
	if (json_object_object_get_ex(doc, "disks", &disks) &&
	    json_object_is_type(disks, json_type_array))
		for (i = 0;
		     i < cfg->nr_disks && i < json_object_array_length(disks);
		     i++)
			set_str(json_object_array_get_idx(disks, i), "path",
				cfg->disks[i].path);
	if (json_object_object_get_ex(doc, "console", &console))
		set_str(console, "socket", cfg->console_socket);
	if (json_object_object_get_ex(doc, "vsock", &vsock))
		set_str(vsock, "socket", cfg->vsock.socket);
}

/*
 * Parses doc with the manifest parser. On success cfg holds the VM and doc
 * has absolute paths; on -EINVAL errors holds one line per problem.
 */
static int validate(struct json_object *doc, const char *base_dir,
		    struct rv_vm_config *cfg, struct json_object *errors)
{
	struct rv_manifest_errors errs;
	const char *text;
	size_t i;
	int rc, bad = 0;

	if (base_dir && base_dir[0] != '/') {
		errors_add(errors, "base_dir: must be an absolute path");
		return -EINVAL;
	}
	text = json_object_to_json_string_ext(
		doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return -ENOMEM;
	rv_manifest_errors_init(&errs);
	rc = rv_manifest_parse(text, strlen(text), base_dir, cfg, &errs);
	if (rc == -EINVAL || rc == -EFBIG) {
		for (i = 0; i < errs.count; i++)
			errors_add(errors, errs.lines[i]);
		if (errs.dropped)
			errors_addf(errors, "%zu more errors not shown",
				    errs.dropped);
		if (!errs.count)
			errors_add(errors, "the manifest is not valid");
		rc = -EINVAL;
	}
	rv_manifest_errors_free(&errs);
	if (rc)
		return rc;
	check_absolute(cfg, errors, &bad);
	if (bad)
		return -EINVAL;
	make_absolute(doc, cfg);
	return 0;
}

static int write_manifest(const char *path, struct json_object *doc)
{
	const char *text = json_object_to_json_string_ext(
		doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			     JSON_C_TO_STRING_NOSLASHESCAPE);
	char *line = NULL;
	int rc;

	if (!text || asprintf(&line, "%s\n", text) < 0)
		return -ENOMEM;
	rc = rv__store_write_atomic(path, line, strlen(line), FILE_MODE);
	free(line);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Create, replace, delete                                                */

/* Writes the VM's folder as .NAME.creating and renames it into place. */
static int write_new_vm(struct rv_store *st, struct rv_store_vm *vm)
{
	char *tmpdir = NULL, *mpath = NULL, *dir;
	int rc = -ENOMEM;

	if (asprintf(&tmpdir, "%s/.%s.creating", st->vms_dir, vm->name) < 0) {
		tmpdir = NULL;
		goto out;
	}
	mpath = path_join(tmpdir, MANIFEST_FILE);
	if (!mpath)
		goto out;
	remove_tree(tmpdir);
	if (mkdir(tmpdir, DIR_MODE)) {
		rc = -errno;
		goto out;
	}
	rc = write_manifest(mpath, vm->manifest);
	if (rc)
		goto out_rm;
	/* write_state() writes into vm->dir: point it at the new folder. */
	dir = vm->dir;
	vm->dir = tmpdir;
	rc = write_state(vm);
	vm->dir = dir;
	if (rc)
		goto out_rm;
	if (rename(tmpdir, vm->dir)) {
		rc = errno == ENOTEMPTY || errno == EEXIST ? -EEXIST : -errno;
		goto out_rm;
	}
	rc = fsync_dir(st->vms_dir);
	goto out;
out_rm:
	remove_tree(tmpdir);
out:
	free(tmpdir);
	free(mpath);
	return rc;
}

int rv__store_create(struct rv_store *st, struct json_object *manifest,
		     const char *base_dir, const char *name,
		     struct json_object *errors, struct rv_store_vm **out)
{
	struct rv_vm_config cfg;
	struct json_object *doc = NULL;
	struct rv_store_vm *vm = NULL;
	int rc;

	*out = NULL;
	if (st->nr_vms >= RV_STORE_MAX_VMS)
		return -ENOSPC;
	if (json_object_deep_copy(manifest, &doc, NULL) || !doc)
		return -ENOMEM;
	if (name)
		json_object_object_add(doc, "name",
				       json_object_new_string(name));
	rv_vm_config_init(&cfg);
	rc = validate(doc, base_dir, &cfg, errors);
	if (rc)
		goto err;
	if (rv__store_find(st, cfg.name)) {
		rc = -EEXIST;
		goto err;
	}
	rc = vm_alloc(st, cfg.name, &vm);
	if (rc)
		goto err;
	vm->manifest = doc;
	doc = NULL;
	vm->cfg = cfg;
	rv_vm_config_init(&cfg);
	vm->created = vm->since = (int64_t)time(NULL);
	vm->state = RV_SUP_STOPPED;
	rc = write_new_vm(st, vm);
	if (rc) {
		if (rc != -EEXIST)
			rv_error("store: cannot write VM '%s' to '%s': %s",
				 vm->name, vm->dir, strerror(-rc));
		goto err;
	}
	rc = list_add(st, vm);
	if (rc) {
		remove_tree(vm->dir);
		goto err;
	}
	*out = vm;
	return 0;
err:
	vm_free(vm);
	rv_vm_config_free(&cfg);
	json_object_put(doc);
	return rc;
}

int rv__store_replace(struct rv_store *st, struct rv_store_vm *vm,
		      struct json_object *manifest, const char *base_dir,
		      struct json_object *errors)
{
	struct rv_vm_config cfg;
	struct json_object *doc = NULL;
	int rc;

	(void)st;
	if (json_object_deep_copy(manifest, &doc, NULL) || !doc)
		return -ENOMEM;
	json_object_object_add(doc, "name", json_object_new_string(vm->name));
	rv_vm_config_init(&cfg);
	rc = validate(doc, base_dir, &cfg, errors);
	if (rc)
		goto err;
	rc = write_manifest(vm->manifest_path, doc);
	if (rc) {
		rv_error("store: cannot write '%s': %s", vm->manifest_path,
			 strerror(-rc));
		goto err;
	}
	json_object_put(vm->manifest);
	vm->manifest = doc;
	rv_vm_config_free(&vm->cfg);
	vm->cfg = cfg;
	free(vm->problem);
	vm->problem = NULL;
	return 0;
err:
	rv_vm_config_free(&cfg);
	json_object_put(doc);
	return rc;
}

/* The other VM that uses path as a disk, or NULL. */
static const struct rv_store_vm *
disk_user(struct rv_store *st, const struct rv_store_vm *self, const char *path)
{
	size_t i;
	unsigned int d;

	for (i = 0; i < st->nr_vms; i++) {
		const struct rv_store_vm *o = st->vms[i];

		if (o == self)
			continue;
		for (d = 0; d < o->cfg.nr_disks; d++)
			if (rv_manifest_same_path(o->cfg.disks[d].path, path))
				return o;
	}
	return NULL;
}

static void kept(struct json_object *list, const char *path, const char *reason)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return;
	json_object_object_add(o, "path", json_object_new_string(path));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	json_object_array_add(list, o);
}

static void delete_disks(struct rv_store *st, const struct rv_store_vm *vm,
			 bool keep_disks, struct json_object *removed,
			 struct json_object *kept_list)
{
	const struct rv_store_vm *other;
	char why[128];
	unsigned int i;
	struct stat sb;

	for (i = 0; i < vm->cfg.nr_disks; i++) {
		const struct rv_disk_config *dk = &vm->cfg.disks[i];

		if (keep_disks) {
			kept(kept_list, dk->path, "keep_disks was given");
			continue;
		}
		if (dk->readonly) {
			kept(kept_list, dk->path, "read-only disk");
			continue;
		}
		other = disk_user(st, vm, dk->path);
		if (other) {
			snprintf(why, sizeof(why), "also a disk of VM '%s'",
				 other->name);
			kept(kept_list, dk->path, why);
			continue;
		}
		if (lstat(dk->path, &sb)) {
			kept(kept_list, dk->path,
			     errno == ENOENT ? "no such file" :
					       strerror(errno));
			continue;
		}
		if (!S_ISREG(sb.st_mode)) {
			kept(kept_list, dk->path, "not a regular file");
			continue;
		}
		if (unlink(dk->path)) {
			kept(kept_list, dk->path, strerror(errno));
			continue;
		}
		json_object_array_add(removed,
				      json_object_new_string(dk->path));
	}
}

/*
 * A VM made by vm.import keeps its kernel, initrd and disks in
 * STATE_DIR/images/NAME (handlers_bundle.c); that folder goes with the VM
 * unless the disks are kept. A VM whose kernel lives elsewhere was not
 * imported, and a folder of that name is not its own.
 */
static void remove_imported(struct rv_store *st, const struct rv_store_vm *vm)
{
	char *dir;
	size_t n;

	if (asprintf(&dir, "%s/images/%s", st->state_dir, vm->name) < 0)
		return;
	n = strlen(dir);
	if (vm->cfg.kernel && strncmp(vm->cfg.kernel, dir, n) == 0 &&
	    vm->cfg.kernel[n] == '/')
		remove_tree(dir);
	free(dir);
}

/* Removes what an import interrupted by a crash left (images/.import-*). */
static void remove_import_leftovers(struct rv_store *st)
{
	char *images = path_join(st->state_dir, "images");
	struct dirent *de;
	DIR *dir;

	if (!images)
		return;
	dir = opendir(images);
	while (dir && (de = readdir(dir))) {
		char *p;

		if (strncmp(de->d_name, ".import-", 8) != 0)
			continue;
		p = path_join(images, de->d_name);
		if (p) {
			rv_info("store: removing the leftover '%s'", p);
			remove_tree(p);
		}
		free(p);
	}
	if (dir)
		closedir(dir);
	free(images);
}

int rv__store_delete(struct rv_store *st, struct rv_store_vm *vm,
		     bool keep_disks, struct json_object *removed,
		     struct json_object *kept_list)
{
	char *gone;
	int rc;

	if (asprintf(&gone, "%s/.%s.deleting", st->vms_dir, vm->name) < 0)
		return -ENOMEM;
	remove_tree(gone);
	if (rename(vm->dir, gone)) {
		rc = -errno;
		rv_error("store: cannot remove '%s': %s", vm->dir,
			 strerror(-rc));
		free(gone);
		return rc;
	}
	fsync_dir(st->vms_dir);
	delete_disks(st, vm, keep_disks, removed, kept_list);
	if (!keep_disks)
		remove_imported(st, vm);
	remove_tree(gone);
	free(gone);
	list_remove(st, vm);
	vm_free(vm);
	return 0;
}

void rv__store_sup_vm(const struct rv_store_vm *vm, struct rv_sup_vm *out)
{
	memset(out, 0, sizeof(*out));
	out->name = vm->name;
	out->vm_dir = vm->dir;
	out->manifest = vm->manifest_path;
	out->restart = vm->cfg.restart;
	out->autostart = vm->cfg.autostart;
}

/* ---------------------------------------------------------------------- */
/* Opening                                                                */

static void load_problem(struct rv_store_vm *vm, struct rv_manifest_errors *e)
{
	size_t i, n = 0;
	char *s;

	for (i = 0; i < e->count; i++)
		n += strlen(e->lines[i]) + 2;
	s = malloc(n + 64);
	if (!s)
		return;
	s[0] = '\0';
	for (i = 0; i < e->count; i++) {
		if (i)
			strcat(s, "; ");
		strcat(s, e->lines[i]);
	}
	if (!e->count)
		strcpy(s, "the manifest cannot be read");
	free(vm->problem);
	vm->problem = s;
}

static int load_vm(struct rv_store *st, const char *name)
{
	struct rv_manifest_errors errs;
	struct rv_store_vm *vm;
	uint8_t *data = NULL;
	size_t len = 0;
	int rc;

	rc = vm_alloc(st, name, &vm);
	if (rc)
		return rc;
	rv_manifest_errors_init(&errs);
	rc = rv_manifest_load(vm->manifest_path, &vm->cfg, &errs);
	if (rc == -ENOMEM) {
		rv_manifest_errors_free(&errs);
		vm_free(vm);
		return rc;
	}
	if (rc) {
		load_problem(vm, &errs);
		rv_warn("store: VM '%s' cannot be started: %s", name,
			vm->problem ? vm->problem : "invalid manifest");
	} else if (!vm->cfg.name || strcmp(vm->cfg.name, name)) {
		vm->problem =
			strdup("the manifest's name differs from its folder's");
		rv_warn("store: VM '%s': %s", name, vm->problem);
	}
	rv_manifest_errors_free(&errs);
	if (rv_read_file(vm->manifest_path, RV_MANIFEST_MAX_SIZE, &data,
			 &len) == 0) {
		data[len] = '\0';
		vm->manifest = json_tokener_parse((const char *)data);
		free(data);
	}
	read_state(vm);
	rc = list_add(st, vm);
	if (rc)
		vm_free(vm);
	return rc;
}

static int load_all(struct rv_store *st)
{
	DIR *dir = opendir(st->vms_dir);
	struct dirent *de;
	int rc = 0;

	if (!dir) {
		rc = -errno;
		rv_error("store: cannot read '%s': %m", st->vms_dir);
		return rc;
	}
	while ((de = readdir(dir))) {
		char *p;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_name[0] == '.') {
			/* An interrupted create or delete. */
			p = path_join(st->vms_dir, de->d_name);
			if (p) {
				rv_info("store: removing the leftover '%s'", p);
				remove_tree(p);
			}
			free(p);
			continue;
		}
		if (!rv_manifest_name_valid(de->d_name)) {
			rv_warn("store: ignoring '%s/%s' (not a VM name)",
				st->vms_dir, de->d_name);
			continue;
		}
		if (st->nr_vms >= RV_STORE_MAX_VMS) {
			rv_warn("store: more than %d VMs; ignoring the rest",
				RV_STORE_MAX_VMS);
			break;
		}
		rc = load_vm(st, de->d_name);
		if (rc)
			break;
	}
	closedir(dir);
	return rc;
}

int rv__store_open(const char *state_dir, struct rv_store **out)
{
	struct rv_store *st = calloc(1, sizeof(*st));
	int rc;

	*out = NULL;
	if (!st)
		return -ENOMEM;
	st->state_dir = strdup(state_dir);
	st->vms_dir = path_join(state_dir, "vms");
	if (!st->state_dir || !st->vms_dir) {
		rc = -ENOMEM;
		goto err;
	}
	rc = mkdir_p(st->vms_dir, DIR_MODE);
	if (rc) {
		rv_error("store: cannot create '%s': %s", st->vms_dir,
			 strerror(-rc));
		goto err;
	}
	rc = load_all(st);
	if (rc)
		goto err;
	remove_import_leftovers(st);
	rv_info("store: %zu VMs in '%s'", st->nr_vms, st->vms_dir);
	*out = st;
	return 0;
err:
	rv__store_close(st);
	return rc;
}

void rv__store_close(struct rv_store *st)
{
	size_t i;

	if (!st)
		return;
	for (i = 0; i < st->nr_vms; i++)
		vm_free(st->vms[i]);
	free(st->vms);
	free(st->vms_dir);
	free(st->state_dir);
	free(st);
}
