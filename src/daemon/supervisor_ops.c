// SPDX-License-Identifier: Apache-2.0
/*
 * The supervisor's public requests: start, stop, kill, pause, resume,
 * restart, and the read side (info, list, console paths). The machinery
 * they drive (records, spawning, reaping, the restart policy) is in
 * supervisor.c; see supervisor_internal.h.
 */
#include "supervisor_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Spawns now and reports "starting"; start waiters complete later. */
int rv__sup_start_now(struct sup_vm *vm, const char *why)
{
	int rc;

	uv_timer_stop(&vm->timer);
	vm->restart_pending = false;
	rc = rv__sup_spawn(vm);
	if (rc) {
		char text[REASON_LEN];

		snprintf(text, sizeof(text), "cannot start: %s", strerror(-rc));
		rv__sup_complete(vm->sup, &vm->start_waiters, rc);
		if (vm->state != RV_SUP_CRASHED && vm->state != RV_SUP_STOPPED)
			rv__sup_set_state(vm, RV_SUP_CRASHED, text, false, 0);
		return rc;
	}
	rv__sup_set_state(vm, RV_SUP_STARTING, why, false, 0);
	return 0;
}

int rv_supervisor_start(struct rv_supervisor *sup, const struct rv_sup_vm *v,
			rv_sup_done_cb cb, void *opaque)
{
	struct sup_vm *vm;
	int rc;

	if (sup->shutting_down)
		return -ECANCELED;
	rc = rv__sup_get(sup, v, &vm);
	if (rc)
		return rc;
	if (vm->live)
		return -EBUSY;
	rc = rv__sup_spawn(vm);
	if (rc)
		return rc;
	uv_timer_stop(&vm->timer);
	vm->restart_pending = false;
	vm->restarts = 0;
	vm->nr_restart_times = 0;
	vm->backoff_ms = sup->cfg.backoff_min_ms;
	rv__sup_set_state(vm, RV_SUP_STARTING, "started by request", false, 0);
	if (rv__sup_wait(&vm->start_waiters, cb, opaque))
		rv__sup_defer_done(sup, cb, opaque, -ENOMEM);
	return 0;
}

static struct sup_vm *live_vm(struct rv_supervisor *sup, const char *name,
			      int *rc)
{
	struct sup_vm *vm = rv__sup_find(sup, name);

	*rc = !vm ? -ENOENT : !vm->live ? -ESRCH : 0;
	return *rc ? NULL : vm;
}

int rv_supervisor_stop(struct rv_supervisor *sup, const char *name, bool force,
		       unsigned int timeout_s, rv_sup_done_cb cb, void *opaque)
{
	struct sup_vm *vm = rv__sup_find(sup, name);
	char why[96];
	int rc;

	if (!vm)
		return -ENOENT;
	if (!vm->live) {
		if (!vm->restart_pending)
			return -ESRCH;
		/* Stopping a VM that waits to restart: it stays down. */
		uv_timer_stop(&vm->timer);
		vm->restart_pending = false;
		rv__sup_set_state(vm, vm->state, "restart cancelled by request",
				  false, 0);
		rv__sup_defer_done(sup, cb, opaque, 0);
		return 0;
	}
	if (rv__sup_wait(&vm->stop_waiters, cb, opaque))
		return -ENOMEM;
	if (timeout_s == 0)
		timeout_s = RV_SUP_STOP_TIMEOUT_DEFAULT;
	if (vm->state == RV_SUP_STARTING)
		force = true;
	if (vm->req == SUP_STOP_KILL ||
	    (vm->req == SUP_STOP_STOP && (vm->force_sent || !force)))
		return 0; /* the running stop ends the same way */
	vm->req = SUP_STOP_STOP;
	vm->force_sent = force;
	vm->restart_after_stop = false;
	rc = rv__sup_request(vm, "stop", force, timeout_s, SUP_REQ_STOP, NULL,
			     NULL);
	if (rc) {
		/* No channel to ask through: the only way left is a kill. */
		vm->killed_by_us = true;
		rv__sup_signal(vm, SIGKILL);
	}
	rv__sup_arm_kill(vm, (force ? 0 : (uint64_t)timeout_s * 1000) +
				     RV_SUP_KILL_GRACE_MS);
	if (force)
		snprintf(why, sizeof(why), "forced stop requested");
	else
		snprintf(why, sizeof(why),
			 "stop requested (power button, %u s timeout)",
			 timeout_s);
	rv__sup_set_state(vm, RV_SUP_STOPPING, why, false, 0);
	return 0;
}

int rv_supervisor_kill(struct rv_supervisor *sup, const char *name, int signum,
		       rv_sup_done_cb cb, void *opaque)
{
	int rc;
	struct sup_vm *vm = live_vm(sup, name, &rc);

	if (!vm)
		return rc;
	if (signum <= 0 || signum >= NSIG)
		signum = SIGKILL;
	rc = rv__sup_signal(vm, signum);
	if (rc)
		return rc;
	if (rv__sup_wait(&vm->stop_waiters, cb, opaque))
		rv__sup_defer_done(sup, cb, opaque, -ENOMEM);
	vm->req = SUP_STOP_KILL;
	vm->restart_after_stop = false;
	if (!uv_is_active((uv_handle_t *)&vm->timer) && signum != SIGKILL)
		rv__sup_arm_kill(vm, RV_SUP_KILL_GRACE_MS);
	rv__sup_set_state(vm, RV_SUP_STOPPING, "kill requested", false, 0);
	return 0;
}

static int pause_resume(struct rv_supervisor *sup, const char *name, bool pause,
			rv_sup_done_cb cb, void *opaque)
{
	int rc;
	struct sup_vm *vm = live_vm(sup, name, &rc);

	if (!vm)
		return rc;
	if (vm->state != RV_SUP_RUNNING && vm->state != RV_SUP_PAUSED)
		return -EBUSY;
	if (pause == (vm->state == RV_SUP_PAUSED))
		return -EALREADY;
	return rv__sup_request(vm, pause ? "pause" : "resume", false, 0,
			       SUP_REQ_OTHER, cb, opaque);
}

int rv_supervisor_pause(struct rv_supervisor *sup, const char *name,
			rv_sup_done_cb cb, void *opaque)
{
	return pause_resume(sup, name, true, cb, opaque);
}

int rv_supervisor_resume(struct rv_supervisor *sup, const char *name,
			 rv_sup_done_cb cb, void *opaque)
{
	return pause_resume(sup, name, false, cb, opaque);
}

int rv_supervisor_restart(struct rv_supervisor *sup, const struct rv_sup_vm *v,
			  unsigned int timeout_s, rv_sup_done_cb cb,
			  void *opaque)
{
	struct sup_vm *vm = v && v->name ? rv__sup_find(sup, v->name) : NULL;
	int rc;

	if (!vm || !vm->live)
		return rv_supervisor_start(sup, v, cb, opaque);
	rc = rv__sup_check_vm(v);
	if (!rc)
		rc = rv__sup_vm_set(vm, v);
	if (!rc)
		rc = rv_supervisor_stop(sup, v->name, false, timeout_s, NULL,
					NULL);
	if (rc)
		return rc;
	vm->restart_after_stop = true;
	if (rv__sup_wait(&vm->start_waiters, cb, opaque))
		rv__sup_defer_done(sup, cb, opaque, -ENOMEM);
	return 0;
}

int rv_supervisor_info(struct rv_supervisor *sup, const char *name,
		       struct rv_sup_info *out)
{
	struct sup_vm *vm = rv__sup_find(sup, name);
	time_t now = time(NULL);

	if (!vm)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->name = vm->name;
	out->state = vm->state;
	out->reason = vm->reason;
	out->pid = vm->live ? vm->pid : 0;
	out->started_at = vm->live ? vm->started_at : 0;
	out->uptime_s = out->started_at && now > out->started_at ?
				(uint64_t)(now - out->started_at) :
				0;
	out->restart = vm->restart;
	out->restarts = vm->restarts;
	out->restart_pending = vm->restart_pending;
	out->adopted = vm->live && vm->adopted;
	out->console_path = vm->console_path;
	out->guest_code = vm->guest_code;
	return 0;
}

void rv_supervisor_foreach(struct rv_supervisor *sup,
			   void (*fn)(void *opaque,
				      const struct rv_sup_info *info),
			   void *opaque)
{
	struct sup_vm *vm, *next;
	struct rv_sup_info info;

	for (vm = sup->vms; vm; vm = next) {
		next = vm->next;
		if (rv_supervisor_info(sup, vm->name, &info) == 0)
			fn(opaque, &info);
	}
}

int rv_supervisor_forget(struct rv_supervisor *sup, const char *name)
{
	struct sup_vm *vm = rv__sup_find(sup, name), **pp;

	if (!vm)
		return -ENOENT;
	if (vm->live)
		return -EBUSY;
	for (pp = &sup->vms; *pp != vm; pp = &(*pp)->next)
		;
	*pp = vm->next;
	rv__sup_boot_forget(sup, vm);
	rv__sup_complete(sup, &vm->start_waiters, -ECANCELED);
	rv__sup_complete(sup, &vm->stop_waiters, -ECANCELED);
	rv__sup_vm_close(vm);
	return 0;
}

int rv_supervisor_console_path(struct rv_supervisor *sup, const char *name,
			       char *buf, size_t size)
{
	int rc;
	struct sup_vm *vm = live_vm(sup, name, &rc);

	if (!vm)
		return rc;
	if ((size_t)snprintf(buf, size, "%s", vm->console_path) >= size)
		return -ENAMETOOLONG;
	return 0;
}

int rv_supervisor_console_connect(struct rv_supervisor *sup, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int rc, fd;
	struct sup_vm *vm = live_vm(sup, name, &rc);

	if (!vm)
		return rc;
	memcpy(sa.sun_path, vm->console_path, strlen(vm->console_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

unsigned int rv_supervisor_nr_running(const struct rv_supervisor *sup)
{
	const struct sup_vm *vm;
	unsigned int n = 0;

	for (vm = sup->vms; vm; vm = vm->next)
		n += vm->live;
	return n;
}
