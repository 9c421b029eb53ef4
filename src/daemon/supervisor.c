// SPDX-License-Identifier: Apache-2.0
/*
 * The daemon's supervisor of VM workers (include/raevm/supervisor.h).
 *
 * One record per VM the daemon has started or adopted. A record with a
 * live worker ("live") has a control channel and, when this daemon spawned
 * the worker, a watch on its pidfd (supervisor_spawn.c). The worker is gone once both its channel
 * has closed and (for a child) its exit was reaped; only then is the VM
 * stopped or crashed, so a restart never races the old worker's disk flush.
 *
 * Every callback to the daemon (state events, completions) goes through a
 * queue drained from a uv_async on the next loop iteration, never from
 * inside the call that caused it: the daemon may call back in freely.
 */
#include "raevm/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "raevm/api.h"
#include "raevm/cgroup.h"
#include "raevm/log.h"
#include "raevm/manifest.h"
#include "raevm/worker_proto.h"
#include "supervisor_internal.h"

static const char *const state_names[] = {
	[RV_SUP_STOPPED] = "stopped",	[RV_SUP_STARTING] = "starting",
	[RV_SUP_RUNNING] = "running",	[RV_SUP_PAUSED] = "paused",
	[RV_SUP_STOPPING] = "stopping", [RV_SUP_CRASHED] = "crashed",
};

const char *rv_sup_state_name(enum rv_sup_state state)
{
	if ((unsigned int)state >= RV_ARRAY_SIZE(state_names))
		return "?";
	return state_names[state];
}

/* ---------------------------------------------------------------------- */
/* Deferred callbacks                                                     */

static void defer_push(struct rv_supervisor *sup, struct sup_deferred *d)
{
	struct sup_deferred **pp = &sup->deferred;

	while (*pp)
		pp = &(*pp)->next;
	*pp = d;
	uv_async_send(&sup->async);
}

void rv__sup_defer_done(struct rv_supervisor *sup, rv_sup_done_cb cb,
			void *opaque, int status)
{
	struct sup_deferred *d;

	if (!cb)
		return;
	d = calloc(1, sizeof(*d));
	if (!d) {
		/* Better late in the wrong place than never. */
		cb(opaque, status);
		return;
	}
	d->cb = cb;
	d->opaque = opaque;
	d->status = status;
	defer_push(sup, d);
}

/* Records a state change and queues its event. */
void rv__sup_set_state(struct sup_vm *vm, enum rv_sup_state state,
		       const char *reason, bool restarting, uint64_t delay_ms)
{
	struct rv_supervisor *sup = vm->sup;
	struct sup_deferred *d;

	if (vm->state == state && strcmp(vm->reason, reason) == 0 &&
	    !restarting)
		return;
	d = calloc(1, sizeof(*d));
	if (d) {
		d->is_event = true;
		snprintf(d->name, sizeof(d->name), "%s", vm->name);
		snprintf(d->reason, sizeof(d->reason), "%s", reason);
		d->ev.state = state;
		d->ev.old_state = vm->state;
		d->ev.pid = vm->pid;
		d->ev.exit_status = vm->exit_status;
		d->ev.term_signal = vm->term_signal;
		d->ev.guest_code = vm->guest_code;
		d->ev.restarting = restarting;
		d->ev.restart_delay_ms = delay_ms;
	}
	vm->state = state;
	snprintf(vm->reason, sizeof(vm->reason), "%s", reason);
	rv_info("VM '%s': %s (%s)", vm->name, rv_sup_state_name(state), reason);
	if (d)
		defer_push(sup, d);
}

static void on_async(uv_async_t *h)
{
	struct rv_supervisor *sup = h->data;
	struct sup_deferred *d;

	while ((d = sup->deferred) && !sup->destroyed) {
		sup->deferred = d->next;
		if (d->is_event) {
			d->ev.name = d->name;
			d->ev.reason = d->reason;
			if (sup->cfg.on_state)
				sup->cfg.on_state(sup->cfg.opaque, &d->ev);
		} else {
			d->cb(d->opaque, d->status);
		}
		free(d);
	}
}

/* Completes every waiter on list with status (deferred). */
void rv__sup_complete(struct rv_supervisor *sup, struct sup_waiter **list,
		      int status)
{
	struct sup_waiter *w;

	while ((w = *list)) {
		*list = w->next;
		rv__sup_defer_done(sup, w->cb, w->opaque, status);
		free(w);
	}
}

int rv__sup_wait(struct sup_waiter **list, rv_sup_done_cb cb, void *opaque)
{
	struct sup_waiter *w;

	if (!cb)
		return 0;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cb = cb;
	w->opaque = opaque;
	w->next = *list;
	*list = w;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Records                                                                */

struct sup_vm *rv__sup_find(struct rv_supervisor *sup, const char *name)
{
	struct sup_vm *vm;

	for (vm = sup->vms; vm && name; vm = vm->next)
		if (strcmp(vm->name, name) == 0)
			return vm;
	return NULL;
}

static void vm_free(uv_handle_t *h)
{
	struct sup_vm *vm = h->data;
	struct rv_supervisor *sup = vm->sup;

	free(vm->name);
	free(vm->vm_dir);
	free(vm->manifest);
	free(vm);
	rv__sup_handle_closed(sup);
}

/* Frees vm (unlinked from the list) once its timer has closed. */
void rv__sup_vm_close(struct sup_vm *vm)
{
	uv_close((uv_handle_t *)&vm->timer, vm_free);
}

/* Builds the runtime paths; they must fit a sockaddr_un. */
static int vm_paths(struct rv_supervisor *sup, struct sup_vm *vm)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
	int n;

	n = snprintf(vm->run_dir, sizeof(vm->run_dir), "%s/%s",
		     sup->cfg.run_dir, vm->name);
	if (n < 0 || (size_t)n + sizeof("/console.sock") > max)
		return -ENAMETOOLONG;
	if ((size_t)snprintf(vm->ctl_path, sizeof(vm->ctl_path),
			     "%s/control.sock", vm->run_dir) >= max ||
	    (size_t)snprintf(vm->console_path, sizeof(vm->console_path),
			     "%s/console.sock", vm->run_dir) >= max ||
	    (size_t)snprintf(vm->pid_path, sizeof(vm->pid_path),
			     "%s/worker.pid",
			     vm->run_dir) >= sizeof(vm->pid_path))
		return -ENAMETOOLONG;
	return 0;
}

/* Updates what to run; the running worker, if any, keeps its own copy. */
int rv__sup_vm_set(struct sup_vm *vm, const struct rv_sup_vm *v)
{
	char *dir = strdup(v->vm_dir), *man = strdup(v->manifest);

	if (!dir || !man) {
		free(dir);
		free(man);
		return -ENOMEM;
	}
	free(vm->vm_dir);
	free(vm->manifest);
	vm->vm_dir = dir;
	vm->manifest = man;
	vm->restart = v->restart;
	vm->autostart = v->autostart;
	if ((size_t)snprintf(vm->wlog_path, sizeof(vm->wlog_path),
			     "%s/worker.log", dir) >= sizeof(vm->wlog_path))
		return -ENAMETOOLONG;
	return 0;
}

int rv__sup_check_vm(const struct rv_sup_vm *v)
{
	if (!v || !v->name || !rv_manifest_name_valid(v->name) || !v->vm_dir ||
	    !*v->vm_dir || !v->manifest || !*v->manifest ||
	    (unsigned int)v->restart > RV_RESTART_ALWAYS)
		return -EINVAL;
	return 0;
}

/* Finds or makes the record for v (sorted by name), updated from v. */
int rv__sup_get(struct rv_supervisor *sup, const struct rv_sup_vm *v,
		struct sup_vm **out)
{
	struct sup_vm *vm, **pp;
	int rc;

	rc = rv__sup_check_vm(v);
	if (rc)
		return rc;
	vm = rv__sup_find(sup, v->name);
	if (vm) {
		*out = vm;
		return vm->live ? 0 : rv__sup_vm_set(vm, v);
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->sup = sup;
	vm->name = strdup(v->name);
	vm->guest_code = -1;
	vm->exit_status = -1;
	vm->pidfd = -1;
	vm->backoff_ms = sup->cfg.backoff_min_ms;
	rc = vm->name ? vm_paths(sup, vm) : -ENOMEM;
	if (!rc)
		rc = rv__sup_vm_set(vm, v);
	if (rc) {
		free(vm->name);
		free(vm->vm_dir);
		free(vm->manifest);
		free(vm);
		return rc;
	}
	uv_timer_init(sup->loop, &vm->timer);
	vm->timer.data = vm;
	sup->open_handles++;
	for (pp = &sup->vms; *pp && strcmp((*pp)->name, vm->name) < 0;
	     pp = &(*pp)->next)
		;
	vm->next = *pp;
	*pp = vm;
	*out = vm;
	return 0;
}

void rv__sup_handle_closed(struct rv_supervisor *sup)
{
	if (--sup->open_handles == 0 && sup->destroyed)
		free(sup);
}

/* ---------------------------------------------------------------------- */
/* Talking to workers                                                     */

int rv__sup_request(struct sup_vm *vm, const char *cmd, bool force,
		    unsigned int timeout_s, enum sup_req_kind kind,
		    rv_sup_done_cb cb, void *opaque)
{
	struct json_object *m;
	struct sup_pending *p;
	int rc;

	if (!vm->chan)
		return -ESRCH;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	m = json_object_new_object();
	p->id = ++vm->next_id;
	p->kind = kind;
	p->cb = cb;
	p->opaque = opaque;
	json_object_object_add(m, "id", json_object_new_int64(p->id));
	json_object_object_add(m, "cmd", json_object_new_string(cmd));
	if (strcmp(cmd, "stop") == 0) {
		json_object_object_add(m, "force",
				       json_object_new_boolean(force));
		json_object_object_add(m, "timeout",
				       json_object_new_int((int)timeout_s));
	}
	rc = rv_wp_send(vm->chan, m);
	json_object_put(m);
	if (rc) {
		free(p);
		return rc;
	}
	p->next = vm->pending;
	vm->pending = p;
	return 0;
}

static void fail_pending(struct sup_vm *vm, int status)
{
	struct sup_pending *p;

	while ((p = vm->pending)) {
		vm->pending = p->next;
		if (p->kind == SUP_REQ_HELLO)
			rv__sup_adopt_result(vm, -ESRCH);
		rv__sup_defer_done(vm->sup, p->cb, p->opaque, status);
		free(p);
	}
}

static enum rv_sup_state worker_state(const char *s)
{
	if (s && strcmp(s, "running") == 0)
		return RV_SUP_RUNNING;
	if (s && strcmp(s, "paused") == 0)
		return RV_SUP_PAUSED;
	if (s && strcmp(s, "stopping") == 0)
		return RV_SUP_STOPPING;
	return RV_SUP_STARTING;
}

static int64_t get_int(struct json_object *o, const char *key, int64_t dflt)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_int))
		return json_object_get_int64(v);
	return dflt;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

/* The worker says where its VM is; requests of the daemon win. */
static void on_worker_state(struct sup_vm *vm, enum rv_sup_state s,
			    int64_t started_at)
{
	if (started_at > 0)
		vm->started_at = started_at;
	if (vm->req != SUP_STOP_NONE)
		return; /* stays "stopping" until the worker is gone */
	switch (s) {
	case RV_SUP_RUNNING:
		if (vm->state == RV_SUP_STARTING) {
			vm->running_since_ms = uv_now(vm->sup->loop);
			rv__sup_set_state(vm, s, "the VM runs", false, 0);
			rv__sup_complete(vm->sup, &vm->start_waiters, 0);
			rv__sup_autostart_pump(vm->sup);
		} else {
			rv__sup_set_state(vm, s, "resumed", false, 0);
		}
		break;
	case RV_SUP_PAUSED:
		rv__sup_set_state(vm, s, "paused", false, 0);
		break;
	case RV_SUP_STOPPING:
		/*
		 * Someone signalled the worker (SIGTERM): whoever may do that
		 * meant the VM to stop, so no restart follows.
		 */
		vm->req = SUP_STOP_STOP;
		rv__sup_set_state(vm, s, "the worker is stopping the VM", false,
				  0);
		break;
	case RV_SUP_STOPPED:
	case RV_SUP_STARTING:
	case RV_SUP_CRASHED:
		break;
	}
}

static void on_reply(struct sup_vm *vm, struct json_object *msg)
{
	int64_t id = get_int(msg, "id", -1);
	struct sup_pending **pp, *p;
	struct json_object *ok, *res = NULL;
	int status = 0;

	for (pp = &vm->pending; (p = *pp); pp = &p->next)
		if ((int64_t)p->id == id)
			break;
	if (!p)
		return; /* an answer to a request of an earlier daemon */
	*pp = p->next;
	if (!json_object_object_get_ex(msg, "ok", &ok) ||
	    !json_object_get_boolean(ok)) {
		const char *e = get_str(msg, "error");
		int err = e ? rv_api_errno_from_name(e) : 0;

		status = err < 0 ? err : -EIO;
	}
	json_object_object_get_ex(msg, "result", &res);
	if (p->kind == SUP_REQ_HELLO)
		rv__sup_adopted(vm, status, res);
	rv__sup_defer_done(vm->sup, p->cb, p->opaque, status);
	free(p);
}

static void on_report(struct sup_vm *vm, struct json_object *msg)
{
	const char *reason = get_str(msg, "reason");
	const char *text = get_str(msg, "message");

	vm->report = true;
	snprintf(vm->report_reason, sizeof(vm->report_reason), "%s",
		 reason ? reason : "error");
	snprintf(vm->report_msg, sizeof(vm->report_msg), "%s",
		 text ? text : "the worker stopped");
	rv__sup_sanitize(vm->report_msg);
	vm->report_code = (int)get_int(msg, "code", 0);
	vm->report_status = (int)get_int(msg, "status", 1);
}

static void on_chan_msg(void *opaque, struct json_object *msg)
{
	struct sup_vm *vm = opaque;
	const char *event = get_str(msg, "event");

	if (!event) {
		on_reply(vm, msg);
		return;
	}
	if (strcmp(event, "state") == 0) {
		on_worker_state(vm, worker_state(get_str(msg, "state")),
				get_int(msg, "started_at", 0));
	} else if (strcmp(event, "exit") == 0) {
		on_report(vm, msg);
	}
}

static void on_chan_close(void *opaque, int err)
{
	struct sup_vm *vm = opaque;

	if (err)
		rv_warn("VM '%s': control channel: %s", vm->name,
			strerror(-err));
	rv_wp_chan_close(vm->chan, false);
	vm->chan = NULL;
	rv__sup_gone_maybe(vm);
}

int rv__sup_attach(struct sup_vm *vm, int fd)
{
	int rc = rv_wp_chan_open(vm->sup->loop, fd, on_chan_msg, on_chan_close,
				 vm, &vm->chan);

	vm->chan = rc ? NULL : vm->chan;
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Spawning and reaping                                                   */

/* RUN_DIR/NAME: a directory of ours, 0700, not a link. */
static int make_run_dir(struct sup_vm *vm)
{
	struct stat st;

	if (mkdir(vm->run_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (lstat(vm->run_dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		rv_error("VM '%s': '%s' is not a directory of this user",
			 vm->name, vm->run_dir);
		return -EPERM;
	}
	return 0;
}

/* 1 when a worker holds RUN_DIR/NAME/worker.pid, 0 when none does. */
int rv__sup_worker_alive(struct sup_vm *vm)
{
	int fd = open(vm->pid_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int alive = 0;

	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		alive = errno == EWOULDBLOCK;
	close(fd);
	return alive;
}

static void proc_free(uv_handle_t *h)
{
	free(h);
}

/* Stops watching the child's pidfd (the pidfd stays open). */
static void unwatch(struct sup_vm *vm)
{
	if (!vm->proc)
		return;
	vm->proc->data = NULL;
	uv_close((uv_handle_t *)vm->proc, proc_free);
	vm->proc = NULL;
}

/* The child's pidfd is readable: it has ended. Reap it. */
static void on_proc_exit(uv_poll_t *p, int status, int events)
{
	struct sup_vm *vm = p->data;
	int rc;

	(void)status;
	(void)events;
	if (!vm)
		return;
	rc = rv__sup_reap(vm->pidfd, &vm->exit_status, &vm->term_signal);
	if (rc == -EAGAIN || rc == -EINTR)
		return;
	if (rc) {
		/* Someone else reaped it: how it ended is unknown. */
		rv_warn("VM '%s': cannot reap worker %d: %s", vm->name, vm->pid,
			strerror(-rc));
		vm->exit_status = -1;
		vm->term_signal = 0;
	}
	unwatch(vm);
	close(vm->pidfd);
	vm->pidfd = -1;
	vm->proc_exited = true;
	rv__sup_gone_maybe(vm);
}

/*
 * Clones the worker as PID 1 of a new pid namespace (supervisor_spawn.c),
 * or without one when the kernel refuses it to an unprivileged daemon.
 */
static int start_child(struct sup_vm *vm, char **args, int logfd, int chan_fd)
{
	struct rv_supervisor *sup = vm->sup;
	struct rv__sup_exec x = {
		.path = sup->worker_exe,
		.argv = args,
		.fds = { -1, logfd, logfd, chan_fd },
		/* Its own session: a Ctrl-C for the daemon is not one for the VMs. */
		.new_session = true,
		.pidns = !sup->no_pidns,
	};
	int nullfd, pid, pidfd, rc;

	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0)
		return -errno;
	x.fds[0] = nullfd;
	rc = rv__sup_clone_exec(&x, &pid, &pidfd);
	close(nullfd);
	if (!x.pidns && !sup->no_pidns) {
		sup->no_pidns = true;
		rv_debug("workers get no pid namespace: %s (an unprivileged "
			 "daemon; docs/security.md)",
			 strerror(x.pidns_err));
	}
	if (rc)
		return rc;
	vm->proc = calloc(1, sizeof(*vm->proc));
	if (!vm->proc) {
		rc = -ENOMEM;
		goto err_kill;
	}
	rc = uv_poll_init(sup->loop, vm->proc, pidfd);
	if (rc) {
		free(vm->proc);
		vm->proc = NULL;
		goto err_kill;
	}
	vm->proc->data = vm;
	rc = uv_poll_start(vm->proc, UV_READABLE, on_proc_exit);
	if (rc) {
		unwatch(vm);
		goto err_kill;
	}
	vm->pid = pid;
	vm->pidfd = pidfd;
	return 0;
err_kill:
	/* Unwatched, it would never be reaped: end it now. */
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	close(pidfd);
	return rc;
}

int rv__sup_spawn(struct sup_vm *vm)
{
	struct rv_supervisor *sup = vm->sup;
	/* exec wants char *: writable copies of the fixed words. */
	struct {
		char prog[8], mode[8], fd_flag[16], fd[4], name[8], dir[16];
		char run[16], man[16], log_flag[24], log_max[32];
	} a = { "raevmd",    "worker",	   "--control-fd",
		"3",	     "--name",	   "--vm-dir",
		"--run-dir", "--manifest", "--console-log-max",
		"" };
	char *args[16];
	int sv[2], logfd, rc, n = 0;

	rc = make_run_dir(vm);
	if (rc)
		return rc;
	if (rv__sup_worker_alive(vm))
		return -EBUSY;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	logfd = open(vm->wlog_path,
		     O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		     0600);
	if (logfd < 0) {
		rc = -errno;
		rv_error("VM '%s': '%s': %s", vm->name, vm->wlog_path,
			 strerror(-rc));
		goto err_sv;
	}
	args[n++] = a.prog;
	args[n++] = a.mode;
	args[n++] = a.fd_flag;
	args[n++] = a.fd;
	args[n++] = a.name;
	args[n++] = vm->name;
	args[n++] = a.dir;
	args[n++] = vm->vm_dir;
	args[n++] = a.run;
	args[n++] = vm->run_dir;
	args[n++] = a.man;
	args[n++] = vm->manifest;
	if (sup->cfg.console_log_max) {
		snprintf(a.log_max, sizeof(a.log_max), "%" PRIu64,
			 sup->cfg.console_log_max);
		args[n++] = a.log_flag;
		args[n++] = a.log_max;
	}
	args[n] = NULL;
	rc = start_child(vm, args, logfd, sv[1]);
	if (rc) {
		rv_error("VM '%s': cannot start a worker (%s): %s", vm->name,
			 sup->worker_exe, strerror(-rc));
		goto err_log;
	}
	close(logfd);
	close(sv[1]);
	vm->live = true;
	vm->child = true;
	vm->adopted = false;
	vm->proc_exited = false;
	vm->exit_status = -1;
	vm->term_signal = 0;
	vm->report = false;
	vm->req = SUP_STOP_NONE;
	vm->started_at = 0;
	vm->spawned_ms = uv_now(sup->loop);
	vm->guest_code = -1;
	if (rv__sup_attach(vm, sv[0]))
		/* Without a channel the worker cannot be driven: end it. */
		rv__sup_signal(vm, SIGKILL);
	return 0;
err_log:
	close(logfd);
err_sv:
	close(sv[0]);
	close(sv[1]);
	return rc;
}

/*
 * Signals the worker through its pidfd, so a reused pid is never hit (the
 * pid alone only for an adopted worker where pidfds are missing). A child
 * already reaped is not signalled: its pid may belong to someone else now.
 */
int rv__sup_signal(struct sup_vm *vm, int signum)
{
	int rc;

	if (!vm->live || (vm->child && vm->proc_exited))
		return -ESRCH;
	if (vm->pidfd >= 0)
		rc = (int)syscall(SYS_pidfd_send_signal, vm->pidfd, signum,
				  NULL, 0);
	else if (!vm->child && vm->pid > 0)
		rc = kill(vm->pid, signum);
	else
		return -ESRCH;
	return rc < 0 ? -errno : 0;
}

static void on_kill_timer(uv_timer_t *t)
{
	struct sup_vm *vm = t->data;

	if (!vm->live)
		return;
	rv_warn("VM '%s': the worker did not stop in time; killing it",
		vm->name);
	vm->killed_by_us = true;
	rv__sup_signal(vm, SIGKILL);
}

void rv__sup_arm_kill(struct sup_vm *vm, uint64_t ms)
{
	uv_timer_start(&vm->timer, on_kill_timer, ms, 0);
}

static void on_restart_timer(uv_timer_t *t)
{
	struct sup_vm *vm = t->data;
	int rc;

	vm->restart_pending = false;
	if (vm->live || vm->sup->shutting_down)
		return;
	rc = rv__sup_spawn(vm);
	if (rc) {
		char why[REASON_LEN];

		snprintf(why, sizeof(why), "restart failed: %s", strerror(-rc));
		rv__sup_set_state(vm, RV_SUP_CRASHED, why, false, 0);
		return;
	}
	vm->restarts++;
	rv__sup_set_state(vm, RV_SUP_STARTING, vm->restart_why, false, 0);
}

/* ---------------------------------------------------------------------- */
/* The end of a worker                                                    */

/*
 * The last error line of worker.log, without the "raevmd: " prefix, when
 * the worker logged one: the best reason for a failed start.
 */
static bool worker_log_reason(struct sup_vm *vm, char *out, size_t size)
{
	char buf[4096], *line, *save = NULL;
	const char *best = NULL;
	ssize_t n;
	off_t len;
	int fd = open(vm->wlog_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return false;
	len = lseek(fd, 0, SEEK_END);
	if (len > (off_t)sizeof(buf) - 1)
		lseek(fd, len - (off_t)sizeof(buf) + 1, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "raevmd: ", 8) == 0)
			line += 8;
		if (strncmp(line, "warning: ", 9) == 0 ||
		    strncmp(line, "debug: ", 7) == 0 || !*line)
			continue;
		best = line;
	}
	if (!best)
		return false;
	snprintf(out, size, "%s", best);
	rv__sup_sanitize(out);
	return true;
}

void rv__sup_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			*s = '?';
}

/* Decides how the worker ended: crashed or not, and why. */
static bool outcome(struct sup_vm *vm, char *why, size_t size)
{
	bool user = vm->req != SUP_STOP_NONE;
	int status = vm->exit_status;

	if (vm->req == SUP_STOP_KILL) {
		snprintf(why, size, "killed by request");
		return false;
	}
	if (vm->term_signal) {
		if (user && vm->killed_by_us) {
			snprintf(why, size,
				 "killed: the worker did not stop in time");
			return false;
		}
		/*
		 * The worker's seccomp filters kill it with SIGSYS: a device
		 * bug or a guest exploit, never a normal end.
		 */
		if (vm->term_signal == SIGSYS) {
			snprintf(why, size,
				 "killed by signal %d (SIGSYS): a system call "
				 "the seccomp sandbox forbids",
				 SIGSYS);
			return true;
		}
		snprintf(why, size, "killed by signal %d", vm->term_signal);
		return !user;
	}
	if (vm->report && (status < 0 || status == vm->report_status)) {
		status = vm->report_status;
		if (status == RV_WORKER_EXIT_OK) {
			snprintf(why, size, "%s", vm->report_msg);
			return false;
		}
	}
	if (status == RV_WORKER_EXIT_OK) {
		snprintf(why, size, "the worker ended without a report");
		return false;
	}
	if ((status == RV_WORKER_EXIT_BUILD ||
	     status == RV_WORKER_EXIT_USAGE) &&
	    worker_log_reason(vm, why, size))
		return true;
	if (vm->report)
		snprintf(why, size, "%s", vm->report_msg);
	else if (status > 0)
		snprintf(why, size, "the worker exited with status %d", status);
	else
		snprintf(why, size, "the worker ended without a report");
	return !user || status != RV_WORKER_EXIT_OK;
}

/*
 * Whether and when the restart policy starts the VM again. Returns false
 * to leave it; appends the reason for giving up to why.
 */
static bool plan_restart(struct sup_vm *vm, bool crashed, bool reboot,
			 uint64_t *delay, char *why, size_t size)
{
	const struct rv_supervisor_config *c = &vm->sup->cfg;
	uint64_t now = uv_now(vm->sup->loop), ran;
	unsigned int i, recent = 0;

	if (vm->req != SUP_STOP_NONE || vm->sup->shutting_down)
		return false;
	if (!reboot && !(vm->restart == RV_RESTART_ALWAYS ||
			 (vm->restart == RV_RESTART_ON_FAILURE && crashed)))
		return false;
	ran = vm->running_since_ms ? now - vm->running_since_ms : 0;
	if (ran >= c->backoff_reset_ms)
		vm->backoff_ms = c->backoff_min_ms;
	for (i = 0; i < vm->nr_restart_times; i++)
		if (now - vm->restart_times[i] < c->restart_window_ms)
			recent++;
	if (!reboot && recent >= c->restart_burst) {
		size_t len = strlen(why);

		snprintf(why + len, size - len,
			 "; restart limit reached (%u in %u s)",
			 c->restart_burst, c->restart_window_ms / 1000);
		return false;
	}
	/* A guest that reboots after running a while comes back at once. */
	if (reboot && ran >= 1000) {
		*delay = 0;
	} else {
		*delay = vm->backoff_ms;
		vm->backoff_ms = vm->backoff_ms * 2 > c->backoff_max_ms ?
					 c->backoff_max_ms :
					 vm->backoff_ms * 2;
	}
	if (!reboot) {
		vm->restart_times[vm->next_restart_slot] = now;
		vm->next_restart_slot = (vm->next_restart_slot + 1) %
					RV_ARRAY_SIZE(vm->restart_times);
		if (vm->nr_restart_times < RV_ARRAY_SIZE(vm->restart_times))
			vm->nr_restart_times++;
	}
	return true;
}

/*
 * The runtime files a worker removes on its way out (control.sock,
 * console.sock, worker.pid and the default vsock.sock): one killed by a
 * signal cannot, and they would be left in RUN_DIR/NAME until its next start.
 * Only when no worker holds the pid file's lock, so a live worker whose
 * channel closed keeps its sockets.
 */
static void remove_runtime_files(struct sup_vm *vm)
{
	char path[sizeof(vm->run_dir) + sizeof("/vsock.sock")];

	if (rv__sup_worker_alive(vm))
		return;
	unlink(vm->ctl_path);
	unlink(vm->console_path);
	if ((size_t)snprintf(path, sizeof(path), "%s/vsock.sock", vm->run_dir) <
	    sizeof(path))
		unlink(path);
	unlink(vm->pid_path);
}

static void finalize(struct sup_vm *vm)
{
	struct rv_supervisor *sup = vm->sup;
	char why[REASON_LEN];
	bool crashed, reboot, restart;
	uint64_t delay = 0;

	uv_timer_stop(&vm->timer);
	/* The worker made its cgroup; after a crash only we are left. */
	rv_cgroup_cleanup(vm->name);
	remove_runtime_files(vm);
	crashed = outcome(vm, why, sizeof(why));
	reboot = !crashed && vm->req == SUP_STOP_NONE && vm->report &&
		 strcmp(vm->report_reason, "reset") == 0;
	vm->guest_code = vm->report && strcmp(vm->report_reason, "exit") == 0 ?
				 vm->report_code :
				 -1;
	vm->live = false;
	vm->child = false;
	if (vm->pidfd >= 0)
		close(vm->pidfd);
	vm->pidfd = -1;
	restart = plan_restart(vm, crashed, reboot, &delay, why, sizeof(why));
	fail_pending(vm, -ECHILD);
	rv__sup_set_state(vm, crashed ? RV_SUP_CRASHED : RV_SUP_STOPPED, why,
			  restart, delay);
	vm->pid = 0;
	vm->started_at = 0;
	vm->running_since_ms = 0;
	rv__sup_complete(sup, &vm->stop_waiters, 0);
	if (vm->restart_after_stop) {
		vm->restart_after_stop = false;
		rv__sup_start_now(vm, "restarted by request");
	} else {
		rv__sup_complete(sup, &vm->start_waiters, -ECHILD);
	}
	if (restart) {
		snprintf(vm->restart_why, sizeof(vm->restart_why),
			 reboot ? "guest rebooted" :
				  "restarted by the restart policy");
		vm->restart_pending = true;
		uv_timer_start(&vm->timer, on_restart_timer, delay, 0);
	}
	vm->req = SUP_STOP_NONE;
	vm->killed_by_us = false;
	rv__sup_autostart_pump(sup);
	rv__sup_stop_all_check(sup);
}

static void on_exit_grace(uv_timer_t *t)
{
	struct sup_vm *vm = t->data;

	/* The child is reaped but its channel never closed: go on. */
	if (vm->live && vm->proc_exited) {
		rv_wp_chan_close(vm->chan, false);
		vm->chan = NULL;
		finalize(vm);
	}
}

/*
 * Called when the channel closes and when a child is reaped: the worker is
 * gone once both happened (an adopted worker only has its channel).
 */
void rv__sup_gone_maybe(struct sup_vm *vm)
{
	if (!vm->live)
		return;
	if (vm->child && !vm->proc_exited) {
		/* The channel closed first: the exit follows, or a kill. */
		if (!uv_is_active((uv_handle_t *)&vm->timer))
			rv__sup_arm_kill(vm, RV_SUP_KILL_GRACE_MS);
		return;
	}
	if (vm->chan) {
		/* Reaped: the report may still be in the socket. */
		uv_timer_start(&vm->timer, on_exit_grace, 1000, 0);
		return;
	}
	finalize(vm);
}

/* ---------------------------------------------------------------------- */
/* Public operations                                                      */

int rv_supervisor_create(uv_loop_t *loop,
			 const struct rv_supervisor_config *cfg,
			 struct rv_supervisor **out)
{
	struct rv_supervisor *sup;

	*out = NULL;
	if (!loop || !cfg || !cfg->run_dir || !*cfg->run_dir)
		return -EINVAL;
	sup = calloc(1, sizeof(*sup));
	if (!sup)
		return -ENOMEM;
	sup->loop = loop;
	sup->cfg = *cfg;
	sup->run_dir = strdup(cfg->run_dir);
	sup->worker_exe =
		strdup(cfg->worker_exe ? cfg->worker_exe : "/proc/self/exe");
	if (!sup->run_dir || !sup->worker_exe) {
		free(sup->run_dir);
		free(sup->worker_exe);
		free(sup);
		return -ENOMEM;
	}
	sup->cfg.run_dir = sup->run_dir;
	sup->cfg.worker_exe = sup->worker_exe;
#define DEFAULT(f, v)                                                          \
	do {                                                                   \
		if (!sup->cfg.f)                                               \
			sup->cfg.f = (v);                                      \
	} while (0)
	DEFAULT(backoff_min_ms, 1000);
	DEFAULT(backoff_max_ms, 30000);
	DEFAULT(backoff_reset_ms, 60000);
	DEFAULT(restart_burst, 5);
	DEFAULT(restart_window_ms, 600000);
	DEFAULT(autostart_parallel, 4);
	DEFAULT(autostart_stagger_ms, 250);
#undef DEFAULT
	if (sup->cfg.restart_burst > RV_SUP_MAX_BURST)
		sup->cfg.restart_burst = RV_SUP_MAX_BURST;
	if (sup->cfg.backoff_max_ms < sup->cfg.backoff_min_ms)
		sup->cfg.backoff_max_ms = sup->cfg.backoff_min_ms;
	uv_async_init(loop, &sup->async, on_async);
	sup->async.data = sup;
	uv_timer_init(loop, &sup->stagger);
	sup->stagger.data = sup;
	sup->open_handles = 2;
	*out = sup;
	return 0;
}

static void sup_handle_closed(uv_handle_t *h)
{
	rv__sup_handle_closed(h->data);
}

void rv_supervisor_destroy(struct rv_supervisor *sup)
{
	struct sup_deferred *d;
	struct sup_vm *vm;

	if (!sup || sup->destroyed)
		return;
	sup->destroyed = true;
	/* Completions already due are delivered; events are dropped. */
	while ((d = sup->deferred)) {
		sup->deferred = d->next;
		if (!d->is_event)
			d->cb(d->opaque, d->status);
		free(d);
	}
	while ((vm = sup->vms)) {
		sup->vms = vm->next;
		rv__sup_cancel_all(vm);
		/* The worker runs on; the next daemon re-adopts it. */
		rv_wp_chan_close(vm->chan, false);
		vm->chan = NULL;
		/* Closing the watch kills nothing. */
		unwatch(vm);
		if (vm->pidfd >= 0)
			close(vm->pidfd);
		rv__sup_vm_close(vm);
	}
	rv__sup_boot_cancel(sup);
	uv_close((uv_handle_t *)&sup->async, sup_handle_closed);
	uv_close((uv_handle_t *)&sup->stagger, sup_handle_closed);
	free(sup->run_dir);
	free(sup->worker_exe);
	sup->run_dir = NULL;
	sup->worker_exe = NULL;
}

/* Calls every waiter of vm now with -ECANCELED (destroy only). */
void rv__sup_cancel_all(struct sup_vm *vm)
{
	struct sup_waiter **lists[] = { &vm->start_waiters, &vm->stop_waiters };
	struct sup_pending *p;
	struct sup_waiter *w;
	size_t i;

	for (i = 0; i < RV_ARRAY_SIZE(lists); i++) {
		while ((w = *lists[i])) {
			*lists[i] = w->next;
			w->cb(w->opaque, -ECANCELED);
			free(w);
		}
	}
	while ((p = vm->pending)) {
		vm->pending = p->next;
		if (p->cb)
			p->cb(p->opaque, -ECANCELED);
		free(p);
	}
	if (vm->adopt_cb)
		vm->adopt_cb(vm->adopt_opaque, -ECANCELED);
	vm->adopt_cb = NULL;
}
