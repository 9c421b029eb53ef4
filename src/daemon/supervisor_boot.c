// SPDX-License-Identifier: Apache-2.0
/*
 * The supervisor around the daemon's own life: re-adopting the workers an
 * earlier daemon left running, autostart with bounded parallelism, and
 * stopping every VM when the daemon shuts down (supervisor_internal.h).
 *
 * Re-adoption: a worker keeps its VM running when its daemon goes away and
 * listens on RUN_DIR/NAME/control.sock. The next daemon connects there,
 * checks the peer's credentials (same user or root; the pid comes from
 * SO_PEERCRED, not from a file) and sends "hello"; the reply says whether
 * the VM runs or is paused. A worker that no longer exists leaves an
 * unlocked RUN_DIR/NAME/worker.pid: its runtime files are removed and the
 * VM is stopped. Such a worker is not this daemon's child, so how it ends is
 * known from its "exit" report only: one killed by a signal ends "crashed"
 * with the reason "the worker ended without a report".
 */
#include "supervisor_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "raevm/log.h"

/* ---------------------------------------------------------------------- */
/* Re-adoption                                                            */

static void remove_stale(struct sup_vm *vm)
{
	unlink(vm->ctl_path);
	unlink(vm->console_path);
	unlink(vm->pid_path);
}

/*
 * Connects to the worker's control socket and says hello. Returns 0 with
 * the hello in flight, -ESRCH when no worker exists (stale files removed),
 * -EBUSY when one holds the VM's lock but does not answer, -EPERM when the
 * socket's owner is not us.
 */
static int adopt_vm(struct sup_vm *vm)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned int uid;
	int fd, pid, rc;

	if (vm->live)
		return -EBUSY;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, vm->ctl_path, strlen(vm->ctl_path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = errno == EAGAIN ? -EBUSY : -ESRCH;
		close(fd);
		if (rc == -ESRCH && rv__sup_worker_alive(vm))
			rc = -EBUSY;
		if (rc == -ESRCH)
			remove_stale(vm);
		return rc;
	}
	rc = rv_wp_peer(fd, &pid, &uid);
	if (rc == 0 && uid != geteuid() && uid != 0)
		rc = -EPERM;
	if (rc == 0 && pid <= 0)
		rc = -ESRCH;
	if (rc) {
		close(fd);
		return rc;
	}
	rc = rv__sup_attach(vm, fd);
	if (rc)
		return rc;
	vm->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	vm->pid = pid;
	vm->live = true;
	vm->child = false;
	vm->adopted = true;
	vm->proc_exited = false;
	vm->exit_status = -1;
	vm->term_signal = 0;
	vm->report = false;
	vm->req = SUP_STOP_NONE;
	vm->adopting = true;
	rc = rv__sup_request(vm, "hello", false, 0, SUP_REQ_HELLO, NULL, NULL);
	if (rc) {
		rv_wp_chan_close(vm->chan, false);
		vm->chan = NULL;
		if (vm->pidfd >= 0)
			close(vm->pidfd);
		vm->pidfd = -1;
		vm->pid = 0;
		vm->live = false;
		vm->adopted = false;
		vm->adopting = false;
		return rc;
	}
	return 0;
}

void rv__sup_adopted(struct sup_vm *vm, int status, struct json_object *res)
{
	struct json_object *v;
	const char *state = NULL;
	enum rv_sup_state s = RV_SUP_RUNNING;

	if (status == 0 && res && json_object_object_get_ex(res, "state", &v) &&
	    json_object_is_type(v, json_type_string))
		state = json_object_get_string(v);
	if (res && json_object_object_get_ex(res, "started_at", &v) &&
	    json_object_is_type(v, json_type_int))
		vm->started_at = json_object_get_int64(v);
	if (state && strcmp(state, "paused") == 0)
		s = RV_SUP_PAUSED;
	else if (state && strcmp(state, "starting") == 0)
		s = RV_SUP_STARTING;
	else if (state && strcmp(state, "stopping") == 0)
		s = RV_SUP_STOPPING;
	/* An earlier daemon asked for this stop: no restart after it. */
	if (s == RV_SUP_STOPPING)
		vm->req = SUP_STOP_STOP;
	vm->running_since_ms = uv_now(vm->sup->loop);
	rv__sup_set_state(vm, s, "adopted from an earlier daemon", false, 0);
	rv__sup_adopt_result(vm, status);
}

void rv__sup_adopt_result(struct sup_vm *vm, int status)
{
	struct rv_supervisor *sup = vm->sup;

	if (!vm->adopting && !vm->adopt_cb && !vm->boot_adopt)
		return;
	vm->adopting = false;
	if (vm->adopt_cb)
		rv__sup_defer_done(sup, vm->adopt_cb, vm->adopt_opaque, status);
	vm->adopt_cb = NULL;
	if (!vm->boot_adopt)
		return;
	vm->boot_adopt = false;
	sup->boot_adopting--;
	if (status == -ESRCH && vm->autostart && !sup->shutting_down) {
		vm->as_queued = true;
		vm->as_seq = sup->as_next_seq++;
	} else if (status && status != -ESRCH) {
		sup->boot_failed++;
	}
	rv__sup_autostart_pump(sup);
}

int rv_supervisor_adopt(struct rv_supervisor *sup, const struct rv_sup_vm *v,
			rv_sup_done_cb cb, void *opaque)
{
	struct sup_vm *vm;
	int rc;

	rc = rv__sup_get(sup, v, &vm);
	if (rc)
		return rc;
	if (vm->live || vm->adopt_cb)
		return -EBUSY;
	rc = adopt_vm(vm);
	if (rc == -ESRCH) {
		rv__sup_defer_done(sup, cb, opaque, -ESRCH);
		return 0;
	}
	if (rc)
		return rc;
	vm->adopt_cb = cb;
	vm->adopt_opaque = opaque;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Autostart                                                              */

static void boot_check(struct rv_supervisor *sup)
{
	struct sup_vm *vm;

	if (!sup->boot_active || sup->boot_adopting || sup->boot_inflight)
		return;
	for (vm = sup->vms; vm; vm = vm->next)
		if (vm->as_queued)
			return;
	sup->boot_active = false;
	rv__sup_defer_done(sup, sup->boot_cb, sup->boot_opaque,
			   -(int)sup->boot_failed);
	sup->boot_cb = NULL;
}

static void on_stagger(uv_timer_t *t)
{
	rv__sup_autostart_pump(t->data);
}

static struct sup_vm *next_queued(struct rv_supervisor *sup)
{
	struct sup_vm *vm, *best = NULL;

	for (vm = sup->vms; vm; vm = vm->next)
		if (vm->as_queued && (!best || vm->as_seq < best->as_seq))
			best = vm;
	return best;
}

/*
 * Settles autostarted VMs that left "starting" (running, or ended: a
 * failure), then launches queued ones while fewer than autostart_parallel
 * are starting, one per autostart_stagger_ms.
 */
void rv__sup_autostart_pump(struct rv_supervisor *sup)
{
	struct sup_vm *vm;

	if (!sup->boot_active)
		return;
	for (vm = sup->vms; vm; vm = vm->next) {
		if (!vm->as_inflight ||
		    (vm->live && vm->state == RV_SUP_STARTING))
			continue;
		vm->as_inflight = false;
		sup->boot_inflight--;
		if (!vm->live)
			sup->boot_failed++;
	}
	while (!sup->shutting_down &&
	       sup->boot_inflight < sup->cfg.autostart_parallel &&
	       !uv_is_active((uv_handle_t *)&sup->stagger)) {
		vm = next_queued(sup);
		if (!vm)
			break;
		vm->as_queued = false;
		if (vm->live)
			continue;
		if (rv__sup_start_now(vm, "autostart") == 0) {
			vm->as_inflight = true;
			sup->boot_inflight++;
		} else {
			sup->boot_failed++;
		}
		uv_timer_start(&sup->stagger, on_stagger,
			       sup->cfg.autostart_stagger_ms, 0);
	}
	boot_check(sup);
}

int rv_supervisor_startup(struct rv_supervisor *sup,
			  const struct rv_sup_vm *vms, size_t nr_vms,
			  rv_sup_done_cb cb, void *opaque)
{
	struct sup_vm *vm;
	size_t i;
	int rc;

	if (sup->boot_active)
		return -EBUSY;
	if (sup->shutting_down)
		return -ECANCELED;
	sup->boot_active = true;
	sup->boot_failed = 0;
	sup->boot_cb = cb;
	sup->boot_opaque = opaque;
	/* Counted as adopting until the loop below is done. */
	sup->boot_adopting = 1;
	for (i = 0; i < nr_vms; i++) {
		rc = rv__sup_get(sup, &vms[i], &vm);
		if (rc) {
			rv_error("VM '%s': cannot supervise it: %s",
				 vms[i].name ? vms[i].name : "?",
				 strerror(-rc));
			sup->boot_failed++;
			continue;
		}
		if (vm->live || vm->boot_adopt)
			continue;
		vm->boot_adopt = true;
		sup->boot_adopting++;
		rc = adopt_vm(vm);
		if (rc) {
			if (rc != -ESRCH)
				rv_warn("VM '%s': cannot adopt its worker: %s",
					vm->name, strerror(-rc));
			rv__sup_adopt_result(vm, rc);
		}
	}
	sup->boot_adopting--;
	rv__sup_autostart_pump(sup);
	return 0;
}

/* Drops the queue; VMs starting now finish on their own. */
void rv__sup_boot_cancel(struct rv_supervisor *sup)
{
	struct sup_vm *vm;

	for (vm = sup->vms; vm; vm = vm->next)
		vm->as_queued = false;
	uv_timer_stop(&sup->stagger);
	boot_check(sup);
}

void rv__sup_boot_forget(struct rv_supervisor *sup, struct sup_vm *vm)
{
	vm->as_queued = false;
	if (vm->as_inflight)
		sup->boot_inflight--;
	vm->as_inflight = false;
	if (vm->boot_adopt)
		sup->boot_adopting--;
	vm->boot_adopt = false;
	boot_check(sup);
}

/* ---------------------------------------------------------------------- */
/* Daemon shutdown                                                        */

void rv__sup_stop_all_check(struct rv_supervisor *sup)
{
	if (!sup->stop_all_active || rv_supervisor_nr_running(sup))
		return;
	sup->stop_all_active = false;
	rv__sup_defer_done(sup, sup->stop_all_cb, sup->stop_all_opaque, 0);
	sup->stop_all_cb = NULL;
}

int rv_supervisor_stop_all(struct rv_supervisor *sup, unsigned int timeout_s,
			   rv_sup_done_cb cb, void *opaque)
{
	struct sup_vm *vm;

	sup->shutting_down = true;
	if (sup->stop_all_active)
		rv__sup_defer_done(sup, sup->stop_all_cb, sup->stop_all_opaque,
				   -ECANCELED);
	sup->stop_all_active = true;
	sup->stop_all_cb = cb;
	sup->stop_all_opaque = opaque;
	rv__sup_boot_cancel(sup);
	for (vm = sup->vms; vm; vm = vm->next) {
		if (!vm->live) {
			if (vm->restart_pending) {
				uv_timer_stop(&vm->timer);
				vm->restart_pending = false;
			}
			continue;
		}
		if (vm->req == SUP_STOP_NONE &&
		    rv_supervisor_stop(sup, vm->name, false, timeout_s, NULL,
				       NULL))
			rv__sup_signal(vm, SIGKILL);
	}
	rv__sup_stop_all_check(sup);
	return 0;
}
