// SPDX-License-Identifier: Apache-2.0
/*
 * One handler per command of api.c's table, bound by wire name in
 * handlers[] below; rv__handlers_check() refuses to start the daemon when
 * the two lists differ. By the time a handler runs, the request parser has
 * checked the client's access and every argument's presence and type
 * (request.c); handlers check values (ranges, names, states).
 *
 * Each handler ends its call exactly once with rv__call_ok() or
 * rv__call_err*(), either before returning or later from a supervisor
 * callback. docs/api.md documents every result and error written here.
 */
#include "daemon.h"

#include "raevm/log.h"
#include "raevm/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOGS_DEFAULT_LINES 100
#define LOGS_MAX_LINES 10000
#define LOGS_MAX_BYTES (256 * 1024) /* of console output per reply */
#define STOP_DEFAULT_TIMEOUT 30
#define STOP_MAX_TIMEOUT 86400

/* The state a VM is in: the supervisor's when it knows the VM. */
struct vm_status {
	enum rv_sup_state state;
	const char *reason;
	int pid;
	int64_t started_at;
	uint64_t uptime_s;
	unsigned int restarts;
	bool restart_pending;
	bool known; /* the supervisor knows it */
};

static bool has_worker(enum rv_sup_state s)
{
	return s != RV_SUP_STOPPED && s != RV_SUP_CRASHED;
}

static void vm_status(struct rv_daemon *d, const struct rv_store_vm *vm,
		      struct vm_status *st)
{
	struct rv_sup_info info;

	memset(st, 0, sizeof(*st));
	st->state = vm->state;
	st->reason = vm->reason;
	if (!d->sup || rv_supervisor_info(d->sup, vm->name, &info))
		return;
	st->known = true;
	/*
	 * Without a worker the store's record is the better one: it holds
	 * the last transition (and its reason) even from before a daemon
	 * restart, while the supervisor may only know "stopped".
	 */
	if (has_worker(info.state) || has_worker(vm->state)) {
		st->state = info.state;
		st->reason = info.reason;
	}
	st->pid = info.pid;
	st->started_at = info.started_at;
	st->uptime_s = info.uptime_s;
	st->restarts = info.restarts;
	st->restart_pending = info.restart_pending;
}

/* The VM named by args.name, or NULL after replying ENOENT. */
static struct rv_store_vm *need_vm(struct rv_call *call)
{
	struct rv_daemon *d = rv__call_daemon(call);
	const char *name = rv__request_str(rv__call_request(call), "name");
	struct rv_store_vm *vm = rv__store_find(d->store, name);
	char q[64];

	if (vm)
		return vm;
	rv_manifest_quote(name, strlen(name), 40, q, sizeof(q));
	rv__call_err(call, -ENOENT, "no VM named '%s'", q);
	return NULL;
}

static bool need_supervisor(struct rv_call *call)
{
	if (rv__call_daemon(call)->sup)
		return true;
	rv__call_err(call, -ENOSYS,
		     "supervisor not available: this daemon cannot run VMs");
	return false;
}

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static void add_int(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static void add_status(struct json_object *o, const struct vm_status *st)
{
	add_str(o, "state", rv_sup_state_name(st->state));
	add_str(o, "reason", st->reason ? st->reason : "");
	add_int(o, "pid", st->pid);
	add_int(o, "uptime", (int64_t)st->uptime_s);
}

static struct json_object *name_result(const char *name,
				       enum rv_sup_state state)
{
	struct json_object *o = json_object_new_object();

	add_str(o, "name", name);
	add_str(o, "state", rv_sup_state_name(state));
	return o;
}

/* ---------------------------------------------------------------------- */
/* Events from the supervisor                                             */

static void emit_state(struct rv_daemon *d, const char *name,
		       enum rv_sup_state state, enum rv_sup_state old,
		       const char *reason)
{
	struct json_object *o = json_object_new_object();

	add_str(o, "name", name);
	add_str(o, "state", rv_sup_state_name(state));
	add_str(o, "old_state", rv_sup_state_name(old));
	add_str(o, "reason", reason ? reason : "");
	rv__server_event(d->server, "vm.state", o);
	json_object_put(o);
}

void rv__handlers_on_state(void *opaque, const struct rv_sup_event *ev)
{
	struct rv_daemon *d = opaque;
	struct rv_store_vm *vm = rv__store_find(d->store, ev->name);

	rv_debug("VM '%s': %s -> %s%s%s", ev->name,
		 rv_sup_state_name(ev->old_state), rv_sup_state_name(ev->state),
		 ev->reason && ev->reason[0] ? ": " : "",
		 ev->reason ? ev->reason : "");
	if (vm)
		rv__store_set_state(d->store, vm, ev->state, ev->reason);
	emit_state(d, ev->name, ev->state, ev->old_state, ev->reason);
}

static void emit_name(struct rv_daemon *d, const char *type, const char *name)
{
	struct json_object *o = json_object_new_object();

	add_str(o, "name", name);
	rv__server_event(d->server, type, o);
	json_object_put(o);
}

/* ---------------------------------------------------------------------- */
/* daemon.version, events.subscribe                                       */

static void h_version(struct rv_call *call)
{
	struct rv_daemon *d = rv__call_daemon(call);
	struct json_object *o = json_object_new_object();
	size_t nr;

	rv__store_list(d->store, &nr);
	add_str(o, "version", RAEVM_VERSION);
	add_int(o, "protocol", RV_API_PROTOCOL);
	add_int(o, "pid", getpid());
	add_int(o, "uptime", (int64_t)((uv_now(d->loop) - d->start_ms) / 1000));
	add_int(o, "vms", (int64_t)nr);
	add_int(o, "running",
		d->sup ? (int64_t)rv_supervisor_nr_running(d->sup) : 0);
	add_int(o, "clients", rv__server_nr_clients(d->server));
	json_object_object_add(o, "supervisor",
			       json_object_new_boolean(d->sup != NULL));
	rv__call_ok(call, o);
}

static void h_subscribe(struct rv_call *call)
{
	struct json_object *o = json_object_new_object();
	struct json_object *types = json_object_new_array();

	json_object_array_add(types, json_object_new_string("vm.state"));
	json_object_array_add(types, json_object_new_string("vm.created"));
	json_object_array_add(types, json_object_new_string("vm.deleted"));
	json_object_object_add(o, "events", types);
	rv__call_subscribe(call);
	rv__call_ok(call, o);
}

/* ---------------------------------------------------------------------- */
/* Supervisor requests                                                    */

struct pending {
	struct rv_call *call;
	struct rv_daemon *d;
	char *name;
	const char *verb; /* "start", "stop", ... for messages */
	/* vm.create start=true: a failed start still created the VM */
	bool created;
};

static struct pending *pending_new(struct rv_call *call, const char *name,
				   const char *verb)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->call = call;
	p->d = rv__call_daemon(call);
	p->name = strdup(name);
	p->verb = verb;
	if (!p->name) {
		free(p);
		return NULL;
	}
	return p;
}

static void pending_free(struct pending *p)
{
	if (!p)
		return;
	free(p->name);
	free(p);
}

static void reply_done(struct pending *p, int status)
{
	struct rv_store_vm *vm = rv__store_find(p->d->store, p->name);
	struct vm_status st = { .state = RV_SUP_STOPPED };
	struct json_object *o;

	if (vm)
		vm_status(p->d, vm, &st);
	if (status == 0) {
		o = name_result(p->name, st.state);
		if (p->created)
			json_object_object_add(o, "started",
					       json_object_new_boolean(true));
		add_int(o, "pid", st.pid);
		rv__call_ok(p->call, o);
		return;
	}
	if (p->created)
		rv__call_err(p->call, status,
			     "created VM '%s' but could not start it: %s",
			     p->name,
			     st.reason && st.reason[0] ? st.reason :
							 strerror(-status));
	else
		rv__call_err(p->call, status, "could not %s VM '%s': %s",
			     p->verb, p->name,
			     st.reason && st.reason[0] && status != -ECANCELED ?
				     st.reason :
				     strerror(-status));
}

static void on_done(void *opaque, int status)
{
	struct pending *p = opaque;

	reply_done(p, status);
	pending_free(p);
}

/* Replies to a supervisor call that failed before it began. */
static void sup_refused(struct rv_call *call, const char *name,
			const char *verb, int rc)
{
	switch (rc) {
	case -ENOENT:
	case -ESRCH:
		if (strcmp(verb, "stop") == 0 || strcmp(verb, "kill") == 0)
			rv__call_err(call, -EALREADY, "VM '%s' is not running",
				     name);
		else
			rv__call_err(call, -ESRCH, "VM '%s' is not running",
				     name);
		return;
	case -EALREADY:
		if (strcmp(verb, "pause") == 0)
			rv__call_err(call, rc, "VM '%s' is already paused",
				     name);
		else if (strcmp(verb, "resume") == 0)
			rv__call_err(call, rc, "VM '%s' is not paused", name);
		else
			rv__call_err(call, rc,
				     "a %s of VM '%s' is already under way",
				     verb, name);
		return;
	case -EBUSY:
		rv__call_err(
			call, rc,
			"VM '%s' is starting or stopping; try again when it is done",
			name);
		return;
	default:
		rv__call_err(call, rc, "could not %s VM '%s': %s", verb, name,
			     strerror(-rc));
	}
}

/* Starts vm; the pending reply follows. Consumes p. */
static void start_vm(struct pending *p, struct rv_store_vm *vm)
{
	struct rv_sup_vm sv;
	int rc;

	rv__store_sup_vm(vm, &sv);
	rc = rv_supervisor_start(p->d->sup, &sv, on_done, p);
	if (rc == 0)
		return;
	if (p->created)
		rv__call_err(p->call, rc,
			     "created VM '%s' but could not start it: %s",
			     vm->name, strerror(-rc));
	else if (rc == -EBUSY)
		rv__call_err(p->call, -EALREADY, "VM '%s' is already running",
			     vm->name);
	else
		sup_refused(p->call, vm->name, "start", rc);
	pending_free(p);
}

/* Checks that vm can start; replies and returns false when not. */
static bool startable(struct rv_call *call, struct rv_store_vm *vm)
{
	struct vm_status st;

	if (vm->problem) {
		rv__call_err(call, -EINVAL, "VM '%s' cannot start: %s",
			     vm->name, vm->problem);
		return false;
	}
	vm_status(rv__call_daemon(call), vm, &st);
	if (st.state == RV_SUP_RUNNING || st.state == RV_SUP_PAUSED) {
		rv__call_err(call, -EALREADY, "VM '%s' is already %s", vm->name,
			     rv_sup_state_name(st.state));
		return false;
	}
	if (has_worker(st.state)) {
		rv__call_err(call, -EBUSY,
			     "VM '%s' is %s; try again when it is done",
			     vm->name, rv_sup_state_name(st.state));
		return false;
	}
	return true;
}

static void h_start(struct rv_call *call)
{
	struct rv_store_vm *vm = need_vm(call);
	struct pending *p;

	if (!vm || !need_supervisor(call) || !startable(call, vm))
		return;
	p = pending_new(call, vm->name, "start");
	if (!p) {
		rv__call_err(call, -ENOMEM, "out of memory");
		return;
	}
	start_vm(p, vm);
}

/* args.timeout in seconds, or false after replying EINVAL. */
static bool stop_timeout(struct rv_call *call, unsigned int *out)
{
	int64_t t;

	*out = STOP_DEFAULT_TIMEOUT;
	if (!rv__request_int(rv__call_request(call), "timeout", &t))
		return true;
	if (t < 1 || t > STOP_MAX_TIMEOUT) {
		rv__call_err(call, -EINVAL,
			     "args.timeout: expected 1 to %d seconds, got %lld",
			     STOP_MAX_TIMEOUT, (long long)t);
		return false;
	}
	*out = (unsigned int)t;
	return true;
}

static void h_stop(struct rv_call *call)
{
	/* Arguments are read first: need_vm() may end the call. */
	bool force = rv__request_bool(rv__call_request(call), "force", false);
	struct rv_store_vm *vm = need_vm(call);
	unsigned int timeout;
	struct pending *p;
	int rc;

	if (!vm || !stop_timeout(call, &timeout) || !need_supervisor(call))
		return;
	p = pending_new(call, vm->name, "stop");
	if (!p) {
		rv__call_err(call, -ENOMEM, "out of memory");
		return;
	}
	rc = rv_supervisor_stop(p->d->sup, vm->name, force, timeout, on_done,
				p);
	if (rc) {
		sup_refused(call, vm->name, "stop", rc);
		pending_free(p);
	}
}

static void h_kill(struct rv_call *call)
{
	struct rv_store_vm *vm = need_vm(call);
	struct pending *p;
	int rc;

	if (!vm || !need_supervisor(call))
		return;
	p = pending_new(call, vm->name, "kill");
	if (!p) {
		rv__call_err(call, -ENOMEM, "out of memory");
		return;
	}
	rc = rv_supervisor_kill(p->d->sup, vm->name, SIGKILL, on_done, p);
	if (rc) {
		sup_refused(call, vm->name, "kill", rc);
		pending_free(p);
	}
}

static void pause_resume(struct rv_call *call, bool pause)
{
	struct rv_store_vm *vm = need_vm(call);
	const char *verb = pause ? "pause" : "resume";
	struct pending *p;
	int rc;

	if (!vm || !need_supervisor(call))
		return;
	p = pending_new(call, vm->name, verb);
	if (!p) {
		rv__call_err(call, -ENOMEM, "out of memory");
		return;
	}
	rc = pause ? rv_supervisor_pause(p->d->sup, vm->name, on_done, p) :
		     rv_supervisor_resume(p->d->sup, vm->name, on_done, p);
	if (rc) {
		sup_refused(call, vm->name, verb, rc);
		pending_free(p);
	}
}

static void h_pause(struct rv_call *call)
{
	pause_resume(call, true);
}

static void h_resume(struct rv_call *call)
{
	pause_resume(call, false);
}

/* restart --force: the forced stop has ended; start again. */
static void on_forced_stop(void *opaque, int status)
{
	struct pending *p = opaque;
	struct rv_store_vm *vm = rv__store_find(p->d->store, p->name);

	if (status && status != -ECHILD) {
		on_done(p, status);
		return;
	}
	if (!vm) {
		rv__call_err(p->call, -ENOENT, "VM '%s' was deleted meanwhile",
			     p->name);
		pending_free(p);
		return;
	}
	p->verb = "start";
	start_vm(p, vm);
}

static void h_restart(struct rv_call *call)
{
	/* Arguments are read first: need_vm() may end the call. */
	bool force = rv__request_bool(rv__call_request(call), "force", false);
	struct rv_store_vm *vm = need_vm(call);
	struct rv_sup_vm sv;
	struct vm_status st;
	unsigned int timeout;
	struct pending *p;
	int rc;

	if (!vm || !stop_timeout(call, &timeout) || !need_supervisor(call))
		return;
	if (vm->problem) {
		rv__call_err(call, -EINVAL, "VM '%s' cannot start: %s",
			     vm->name, vm->problem);
		return;
	}
	p = pending_new(call, vm->name, "restart");
	if (!p) {
		rv__call_err(call, -ENOMEM, "out of memory");
		return;
	}
	vm_status(p->d, vm, &st);
	if (force && has_worker(st.state)) {
		rc = rv_supervisor_stop(p->d->sup, vm->name, true, timeout,
					on_forced_stop, p);
	} else {
		rv__store_sup_vm(vm, &sv);
		rc = rv_supervisor_restart(p->d->sup, &sv, timeout, on_done, p);
	}
	if (rc) {
		sup_refused(call, vm->name, "restart", rc);
		pending_free(p);
	}
}

static void h_console(struct rv_call *call)
{
	struct rv_store_vm *vm = need_vm(call);
	struct json_object *o;
	char path[256];
	int rc;

	if (!vm || !need_supervisor(call))
		return;
	rc = rv_supervisor_console_path(rv__call_daemon(call)->sup, vm->name,
					path, sizeof(path));
	if (rc) {
		sup_refused(call, vm->name, "attach to", rc);
		return;
	}
	o = json_object_new_object();
	add_str(o, "name", vm->name);
	add_str(o, "socket", path);
	add_str(o, "escape", "^]");
	rv__call_ok(call, o);
}

/* ---------------------------------------------------------------------- */
/* Store requests                                                         */

/* args.base_dir, when given, must be absolute; replies when it is not. */
static bool base_dir_ok(struct rv_call *call)
{
	const char *b = rv__request_str(rv__call_request(call), "base_dir");

	if (!b || b[0] == '/')
		return true;
	rv__call_err(call, -EINVAL, "args.base_dir: must be an absolute path");
	return false;
}

static void reply_invalid(struct rv_call *call, struct json_object *errors,
			  const char *what)
{
	size_t i, n = json_object_array_length(errors);
	char msg[1536];
	size_t off;

	off = (size_t)snprintf(msg, sizeof(msg), "%s", what);
	for (i = 0; i < n && off < sizeof(msg); i++)
		off += (size_t)snprintf(
			msg + off, sizeof(msg) - off, "%s%s", i ? "; " : ": ",
			json_object_get_string(
				json_object_array_get_idx(errors, i)));
	rv__call_err_list(call, -EINVAL, errors, "%s", msg);
}

static void h_create(struct rv_call *call)
{
	const struct rv_request *req = rv__call_request(call);
	struct rv_daemon *d = rv__call_daemon(call);
	struct json_object *errors = json_object_new_array();
	struct rv_store_vm *vm;
	struct pending *p;
	char q[64];
	int rc;

	if (!base_dir_ok(call)) {
		json_object_put(errors);
		return;
	}
	rc = rv__store_create(d->store, rv__request_arg(req, "manifest"),
			      rv__request_str(req, "base_dir"), NULL, errors,
			      &vm);
	if (rc == -EINVAL) {
		reply_invalid(call, errors, "invalid manifest");
		return;
	}
	json_object_put(errors);
	if (rc == -EEXIST) {
		struct json_object *n = NULL;
		const char *name = "";

		json_object_object_get_ex(rv__request_arg(req, "manifest"),
					  "name", &n);
		name = json_object_get_string(n);
		rv_manifest_quote(name, strlen(name), 40, q, sizeof(q));
		rv__call_err(call, rc, "a VM named '%s' already exists", q);
		return;
	}
	if (rc == -ENOSPC) {
		rv__call_err(call, rc, "the store is full (%d VMs)",
			     RV_STORE_MAX_VMS);
		return;
	}
	if (rc) {
		rv__call_err(call, rc, "could not store the VM: %s",
			     strerror(-rc));
		return;
	}
	rv_info("VM '%s' created", vm->name);
	emit_name(d, "vm.created", vm->name);
	if (!rv__request_bool(req, "start", false)) {
		struct json_object *o = name_result(vm->name, RV_SUP_STOPPED);

		add_str(o, "dir", vm->dir);
		rv__call_ok(call, o);
		return;
	}
	if (!d->sup) {
		rv__call_err(
			call, -ENOSYS,
			"created VM '%s' but could not start it: supervisor not available",
			vm->name);
		return;
	}
	p = pending_new(call, vm->name, "start");
	if (!p) {
		rv__call_err(call, -ENOMEM, "created VM '%s'; out of memory",
			     vm->name);
		return;
	}
	p->created = true;
	start_vm(p, vm);
}

static struct json_object *list_entry(struct rv_daemon *d,
				      const struct rv_store_vm *vm)
{
	struct json_object *o = json_object_new_object();
	struct vm_status st;

	vm_status(d, vm, &st);
	add_str(o, "name", vm->name);
	add_status(o, &st);
	add_int(o, "cpus", vm->cfg.cpus);
	add_int(o, "memory", (int64_t)vm->cfg.memory);
	json_object_object_add(o, "autostart",
			       json_object_new_boolean(vm->cfg.autostart));
	add_str(o, "problem", vm->problem);
	return o;
}

static void h_list(struct rv_call *call)
{
	struct rv_daemon *d = rv__call_daemon(call);
	struct json_object *o = json_object_new_object();
	struct json_object *arr = json_object_new_array();
	struct rv_store_vm *const *vms;
	size_t i, nr;

	vms = rv__store_list(d->store, &nr);
	for (i = 0; i < nr; i++)
		json_object_array_add(arr, list_entry(d, vms[i]));
	json_object_object_add(o, "vms", arr);
	rv__call_ok(call, o);
}

static const char *restart_name(enum rv_restart_policy p)
{
	switch (p) {
	case RV_RESTART_ON_FAILURE:
		return "on-failure";
	case RV_RESTART_ALWAYS:
		return "always";
	default:
		return "no";
	}
}

/*
 * "vsock": where a host program connects to reach the guest (the manifest's
 * socket, or the one the worker makes in the VM's runtime folder), or null.
 */
static void add_vsock(const struct rv_daemon *d, const struct rv_store_vm *vm,
		      struct json_object *o)
{
	struct json_object *v;
	char path[512];

	if (!vm->cfg.vsock.enabled) {
		json_object_object_add(o, "vsock", NULL);
		return;
	}
	v = json_object_new_object();
	add_int(v, "cid", vm->cfg.vsock.cid);
	if (vm->cfg.vsock.socket)
		add_str(v, "socket", vm->cfg.vsock.socket);
	else if ((size_t)snprintf(path, sizeof(path), "%s/%s/vsock.sock",
				  d->runtime_dir, vm->name) < sizeof(path))
		add_str(v, "socket", path);
	else
		add_str(v, "socket", NULL);
	json_object_object_add(o, "vsock", v);
}

static void h_info(struct rv_call *call)
{
	struct rv_daemon *d = rv__call_daemon(call);
	struct rv_store_vm *vm = need_vm(call);
	struct json_object *o;
	struct vm_status st;
	char path[256];

	if (!vm)
		return;
	o = list_entry(d, vm);
	vm_status(d, vm, &st);
	add_int(o, "started_at", st.started_at);
	add_int(o, "since", vm->since);
	add_int(o, "created", vm->created);
	add_str(o, "restart", restart_name(vm->cfg.restart));
	add_int(o, "restarts", st.restarts);
	json_object_object_add(o, "restart_pending",
			       json_object_new_boolean(st.restart_pending));
	add_str(o, "dir", vm->dir);
	add_str(o, "manifest_path", vm->manifest_path);
	if (d->sup && has_worker(st.state) &&
	    rv_supervisor_console_path(d->sup, vm->name, path, sizeof(path)) ==
		    0)
		add_str(o, "console", path);
	else
		add_str(o, "console", NULL);
	add_vsock(d, vm, o);
	json_object_object_add(o, "manifest", json_object_get(vm->manifest));
	rv__call_ok(call, o);
}

static bool stopped_or_refuse(struct rv_call *call, struct rv_store_vm *vm,
			      const char *what)
{
	struct vm_status st;

	vm_status(rv__call_daemon(call), vm, &st);
	if (!has_worker(st.state))
		return true;
	rv__call_err(call, -EBUSY, "VM '%s' is %s; stop it before %s", vm->name,
		     rv_sup_state_name(st.state), what);
	return false;
}

static void h_delete(struct rv_call *call)
{
	struct rv_daemon *d = rv__call_daemon(call);
	struct rv_store_vm *vm = need_vm(call);
	struct json_object *removed, *kept, *o;
	char *name;
	int rc;

	if (!vm || !stopped_or_refuse(call, vm, "deleting it"))
		return;
	if (d->sup) {
		rc = rv_supervisor_forget(d->sup, vm->name);
		if (rc == -EBUSY) {
			rv__call_err(call, rc, "VM '%s' still has a worker",
				     vm->name);
			return;
		}
	}
	name = strdup(vm->name);
	removed = json_object_new_array();
	kept = json_object_new_array();
	if (!name || !removed || !kept) {
		free(name);
		json_object_put(removed);
		json_object_put(kept);
		rv__call_err(call, -ENOMEM, "out of memory");
		return;
	}
	rc = rv__store_delete(d->store, vm,
			      rv__request_bool(rv__call_request(call),
					       "keep_disks", false),
			      removed, kept);
	if (rc) {
		rv__call_err(call, rc, "could not delete VM '%s': %s", name,
			     strerror(-rc));
		json_object_put(removed);
		json_object_put(kept);
		free(name);
		return;
	}
	rv__store_remove_runtime(d->runtime_dir, name);
	rv_info("VM '%s' deleted", name);
	emit_name(d, "vm.deleted", name);
	o = json_object_new_object();
	add_str(o, "name", name);
	json_object_object_add(o, "disks_removed", removed);
	json_object_object_add(o, "disks_kept", kept);
	free(name);
	rv__call_ok(call, o);
}

static void h_set(struct rv_call *call)
{
	const struct rv_request *req = rv__call_request(call);
	struct rv_daemon *d = rv__call_daemon(call);
	struct rv_store_vm *vm = need_vm(call);
	struct json_object *doc = NULL, *errors, *v, *o;
	int rc, changes = 0;

	if (!vm || !base_dir_ok(call) ||
	    !stopped_or_refuse(call, vm, "changing it"))
		return;
	if (!vm->manifest) {
		rv__call_err(call, -EINVAL, "VM '%s' cannot be changed: %s",
			     vm->name,
			     vm->problem ? vm->problem : "no manifest");
		return;
	}
	if (json_object_deep_copy(vm->manifest, &doc, NULL) || !doc) {
		rv__call_err(call, -ENOMEM, "out of memory");
		return;
	}
	/* Each given argument replaces its manifest field as it is. */
	if ((v = rv__request_arg(req, "cpus"))) {
		json_object_object_add(doc, "cpus", json_object_get(v));
		changes++;
	}
	if ((v = rv__request_arg(req, "memory"))) {
		json_object_object_add(doc, "memory", json_object_get(v));
		changes++;
	}
	if ((v = rv__request_arg(req, "disks"))) {
		json_object_object_add(doc, "disks", json_object_get(v));
		changes++;
	}
	/* The whole NIC list; [] leaves the VM without a NIC. */
	if ((v = rv__request_arg(req, "net"))) {
		json_object_object_add(doc, "net", json_object_get(v));
		changes++;
	}
	if (!changes) {
		json_object_put(doc);
		rv__call_err(
			call, -EINVAL,
			"nothing to change: give cpus, memory, disks or net");
		return;
	}
	errors = json_object_new_array();
	rc = rv__store_replace(d->store, vm, doc,
			       rv__request_str(req, "base_dir"), errors);
	json_object_put(doc);
	if (rc == -EINVAL) {
		reply_invalid(call, errors, "invalid change");
		return;
	}
	json_object_put(errors);
	if (rc) {
		rv__call_err(call, rc, "could not store VM '%s': %s", vm->name,
			     strerror(-rc));
		return;
	}
	rv_info("VM '%s' changed", vm->name);
	o = json_object_new_object();
	add_str(o, "name", vm->name);
	json_object_object_add(o, "manifest", json_object_get(vm->manifest));
	rv__call_ok(call, o);
}

/* ---------------------------------------------------------------------- */
/* vm.logs                                                                */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * Console output is whatever the guest wrote: JSON needs valid UTF-8, so
 * invalid bytes become U+FFFD and NUL bytes are dropped. Control
 * characters stay (json-c escapes them); the CLI decides what to show.
 */
static char *utf8_clean(const char *in, size_t n)
{
	char *out = malloc(n * 3 + 1), *o = out;
	size_t i = 0, l;

	if (!out)
		return NULL;
	while (i < n) {
		l = utf8_seq((const unsigned char *)in + i, n - i);
		if (l == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		if (!(l == 1 && in[i] == '\0')) {
			memcpy(o, in + i, l);
			o += l;
		}
		i += l;
	}
	*o = '\0';
	return out;
}

/* Appends the last (max - *len) bytes of path to buf. */
static void read_tail(const char *path, char *buf, size_t *len, size_t max,
		      bool *cut)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat sb;
	off_t start = 0;
	size_t want;
	ssize_t n;

	if (fd < 0)
		return;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
		close(fd);
		return;
	}
	want = max - *len;
	if ((uint64_t)sb.st_size > want) {
		start = sb.st_size - (off_t)want;
		*cut = true;
	}
	while (*len < max &&
	       (n = pread(fd, buf + *len, max - *len, start)) > 0) {
		*len += (size_t)n;
		start += n;
	}
	close(fd);
}

/*
 * The last LOGS_MAX_BYTES of console output: the rotated file
 * (console.log.1) first, then the current one. Returns a malloc'd buffer
 * or NULL; *cut tells that older output exists.
 */
static char *read_console(const struct rv_store_vm *vm, size_t *len, bool *cut)
{
	char *cur = NULL, *old = NULL, *a = malloc(LOGS_MAX_BYTES);
	char *b = malloc(LOGS_MAX_BYTES);
	size_t alen = 0, blen = 0;
	bool cut_cur = false, cut_old = false;

	*len = 0;
	*cut = false;
	if (!a || !b || asprintf(&cur, "%s/console.log", vm->dir) < 0 ||
	    asprintf(&old, "%s/console.log.1", vm->dir) < 0) {
		free(a);
		free(b);
		free(cur);
		return NULL;
	}
	read_tail(cur, a, &alen, LOGS_MAX_BYTES, &cut_cur);
	if (cut_cur || alen == LOGS_MAX_BYTES) {
		*cut = true;
	} else {
		read_tail(old, b, &blen, LOGS_MAX_BYTES - alen, &cut_old);
		*cut = cut_old;
	}
	memcpy(b + blen, a, alen);
	*len = blen + alen;
	free(a);
	free(cur);
	free(old);
	return b;
}

static void h_logs(struct rv_call *call)
{
	const struct rv_request *req = rv__call_request(call);
	struct rv_store_vm *vm = need_vm(call);
	size_t len, start, count = 0;
	int64_t lines = LOGS_DEFAULT_LINES;
	struct json_object *o;
	char *buf, *text;
	bool cut;

	if (!vm)
		return;
	if (rv__request_int(req, "lines", &lines) &&
	    (lines < 1 || lines > LOGS_MAX_LINES)) {
		rv__call_err(call, -EINVAL,
			     "args.lines: expected 1 to %d, got %lld",
			     LOGS_MAX_LINES, (long long)lines);
		return;
	}
	buf = read_console(vm, &len, &cut);
	if (!buf) {
		rv__call_err(call, -ENOMEM, "out of memory");
		return;
	}
	/* Keep the last `lines` lines; a final unterminated one counts. */
	start = len;
	if (start && buf[start - 1] == '\n')
		start--;
	while (start > 0) {
		if (buf[start - 1] == '\n' && ++count == (size_t)lines)
			break;
		start--;
	}
	if (start > 0)
		cut = true;
	text = utf8_clean(buf + start, len - start);
	free(buf);
	if (!text) {
		rv__call_err(call, -ENOMEM, "out of memory");
		return;
	}
	o = json_object_new_object();
	add_str(o, "name", vm->name);
	add_str(o, "text", text);
	json_object_object_add(o, "truncated", json_object_new_boolean(cut));
	free(text);
	rv__call_ok(call, o);
}

/* ---------------------------------------------------------------------- */

static const struct {
	const char *cmd;
	rv_handler_fn fn;
} handlers[] = {
	{ "daemon.version", h_version },
	{ "vm.create", h_create },
	{ "vm.list", h_list },
	{ "vm.info", h_info },
	{ "vm.start", h_start },
	{ "vm.stop", h_stop },
	{ "vm.kill", h_kill },
	{ "vm.pause", h_pause },
	{ "vm.resume", h_resume },
	{ "vm.restart", h_restart },
	{ "vm.delete", h_delete },
	{ "vm.console", h_console },
	{ "vm.logs", h_logs },
	{ "events.subscribe", h_subscribe },
	{ "vm.set", h_set },
	{ "vm.export", rv__handler_export },
	{ "vm.import", rv__handler_import },
};

rv_handler_fn rv__handler_find(const struct rv_api_cmd *cmd)
{
	size_t i;

	for (i = 0; cmd && i < RV_ARRAY_SIZE(handlers); i++)
		if (strcmp(handlers[i].cmd, cmd->name) == 0)
			return handlers[i].fn;
	return NULL;
}

int rv__handlers_check(void)
{
	size_t i;

	for (i = 0; i < rv_api_nr_cmds; i++) {
		if (!rv__handler_find(&rv_api_cmds[i])) {
			rv_error("internal error: command %s has no handler",
				 rv_api_cmds[i].name);
			return -ENOSYS;
		}
	}
	for (i = 0; i < RV_ARRAY_SIZE(handlers); i++) {
		if (!rv_api_find(handlers[i].cmd)) {
			rv_error(
				"internal error: handler for %s, which is not in the command table",
				handlers[i].cmd);
			return -ENOSYS;
		}
	}
	return 0;
}
