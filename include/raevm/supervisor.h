/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_SUPERVISOR_H
#define RAEVM_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "raevm/config.h"
#include "raevm/util.h"

/*
 * The daemon's supervisor of VM workers (src/daemon/supervisor.c).
 *
 * One worker process per running VM: the same raevmd binary started as
 * `raevmd worker`, connected to the daemon by a socketpair (its control
 * channel, line-delimited JSON; docs/architecture.md "Processes"). The
 * supervisor spawns and reaps workers on the daemon's libuv loop, turns
 * what they report and how they end into VM states, applies each VM's
 * restart policy and re-adopts workers that outlived a previous daemon.
 *
 * Threads: everything here runs on the loop's thread; callbacks are called
 * from the loop, never from inside the function that triggered them (so a
 * callback may call back into the supervisor).
 *
 * Files of a running VM, RUN_DIR/NAME/ (mode 0700, made by the supervisor):
 *   control.sock  the worker's listening control socket, for re-adoption
 *   console.sock  the serial console: any number of viewers (raw bytes)
 *   worker.pid    the worker's pid, written by the worker
 * and in the VM's folder VM_DIR/ (the store's):
 *   console.log   serial output scrollback, capped at 1 MiB, then rotated
 *                 to console.log.1 (so at most 2 MiB on disk)
 *   worker.log    the worker's own messages (stderr), truncated per start
 */

/* The life cycle of a VM as the daemon sees it. */
enum rv_sup_state {
	RV_SUP_STOPPED = 0, /* no worker; the last stop was clean */
	RV_SUP_STARTING,    /* worker spawned, VM not running yet */
	RV_SUP_RUNNING,
	RV_SUP_PAUSED,
	RV_SUP_STOPPING, /* a stop was asked for; the worker still lives */
	RV_SUP_CRASHED,	 /* no worker; it failed or was killed */
};

/* "stopped", "starting", "running", "paused", "stopping", "crashed". */
const char *rv_sup_state_name(enum rv_sup_state state);

/* A state change, as passed to on_state (valid during the call only). */
struct rv_sup_event {
	const char *name; /* the VM */
	enum rv_sup_state state;
	enum rv_sup_state old_state;
	/*
	 * One line for people: "guest powered off", "guest exited with code
	 * 3", "killed by signal 9", "kernel 'x': no such file", "stopped by
	 * request", "adopted from a previous daemon", ...
	 */
	const char *reason;
	int pid;		   /* the worker's, or 0 */
	int exit_status;	   /* the worker's exit status, or -1 */
	int term_signal;	   /* the signal that ended the worker, or 0 */
	int guest_code;		   /* the guest's debug-exit code, or -1 */
	bool restarting;	   /* the restart policy will start it again */
	uint64_t restart_delay_ms; /* when restarting */
};

/* How the supervisor is set up; copied at create. */
struct rv_supervisor_config {
	/*
	 * The runtime folder for per-VM sockets (the daemon's, e.g.
	 * /run/raevm or $XDG_RUNTIME_DIR/raevm); it must exist. Socket paths
	 * must fit sun_path: RUN_DIR/NAME/console.sock under 108 bytes.
	 */
	const char *run_dir;
	/* The raevmd binary to run workers from; NULL: /proc/self/exe. */
	const char *worker_exe;
	/* Called on every state change (may be NULL). */
	void (*on_state)(void *opaque, const struct rv_sup_event *ev);
	void *opaque;
	/*
	 * Restart policy tuning; 0 takes the default. The delay before an
	 * automatic restart starts at backoff_min_ms (1000) and doubles up to
	 * backoff_max_ms (30000); it falls back to the minimum once a VM has
	 * run for backoff_reset_ms (60000). At most restart_burst (5)
	 * automatic restarts happen within restart_window_ms (600000); the
	 * next failure leaves the VM crashed ("restart limit reached").
	 */
	unsigned int backoff_min_ms;
	unsigned int backoff_max_ms;
	unsigned int backoff_reset_ms;
	unsigned int restart_burst;
	unsigned int restart_window_ms;
	/*
	 * Autostart: at most autostart_parallel (4) VMs starting at once,
	 * launches at least autostart_stagger_ms (250) apart.
	 */
	unsigned int autostart_parallel;
	unsigned int autostart_stagger_ms;
	/* console.log's cap before it rotates; 0: 1 MiB. */
	uint64_t console_log_max;
};

/* What to run; strings are copied. */
struct rv_sup_vm {
	const char *name;   /* a valid manifest name (rv_manifest_name_valid) */
	const char *vm_dir; /* the VM's folder: console.log, worker.log */
	const char *manifest; /* the .raeVM the worker loads */
	enum rv_restart_policy restart;
	bool autostart; /* for rv_supervisor_startup() */
};

/* A snapshot for list/info; strings valid until the supervisor next runs. */
struct rv_sup_info {
	const char *name;
	enum rv_sup_state state;
	const char *reason; /* of the last state change; "" when none */
	int pid;	    /* 0 without a worker */
	int64_t started_at; /* unix time the VM started, 0 when not running */
	uint64_t uptime_s;  /* 0 when not running */
	enum rv_restart_policy restart;
	unsigned int restarts; /* automatic restarts since the last start */
	bool restart_pending;  /* crashed/stopped, restart timer running */
	bool adopted;	       /* the worker was spawned by an earlier daemon */
	const char *console_path; /* RUN_DIR/NAME/console.sock */
	int guest_code;		  /* of the last stop, or -1 */
};

/*
 * Completion of an asynchronous request: status 0 once done (start: the VM
 * runs; stop/kill: the worker is gone; pause/resume: the worker confirmed),
 * or a negative errno (-ECANCELED when the supervisor is destroyed first,
 * -ECHILD when the worker ended first: rv_supervisor_info()'s reason then
 * says why, e.g. "kernel '/vm/k': no such file"; the worker's error
 * otherwise, e.g. -EALREADY for pausing a paused VM).
 */
typedef void (*rv_sup_done_cb)(void *opaque, int status);

struct rv_supervisor;

/* Returns 0, -EINVAL (no run_dir, bad tuning), -ENOMEM. */
int rv_supervisor_create(uv_loop_t *loop,
			 const struct rv_supervisor_config *cfg,
			 struct rv_supervisor **out) RV_MUST_CHECK;

/*
 * Detaches from every worker (they keep running and can be re-adopted by
 * the next daemon) and closes the supervisor's handles. Completions already
 * due are delivered and pending ones fail with -ECANCELED, from inside this
 * call (the one exception to the rule above); no more events follow. The
 * memory is released from the handles' close callbacks, so the caller must
 * run the loop once more (uv_run) before closing it. Use
 * rv_supervisor_stop_all() first to stop the VMs instead. Accepts NULL;
 * may be called from a supervisor callback.
 */
void rv_supervisor_destroy(struct rv_supervisor *sup);

/*
 * Spawns the VM's worker. Returns 0 when spawned (cb follows), -EINVAL for
 * a bad name or missing path, -EBUSY when a worker for name already lives
 * (also one left by an earlier daemon that was not adopted), -ENAMETOOLONG
 * when the socket paths do not fit, or the spawn's error. A VM that is
 * crashed or stopped with a restart pending starts at once. An explicit
 * start resets the restart policy's counters. -ECANCELED after
 * rv_supervisor_stop_all().
 */
int rv_supervisor_start(struct rv_supervisor *sup, const struct rv_sup_vm *vm,
			rv_sup_done_cb cb, void *opaque) RV_MUST_CHECK;

/*
 * Stops a VM. Graceful (force false): the worker presses the ACPI power
 * button and, if the guest has not powered off after timeout_s seconds,
 * stops the VM itself; the supervisor kills the worker (SIGKILL) if it is
 * still there 5 s after that. force: the worker stops the VM at once
 * (disks are flushed). A timeout_s of 0 takes 30 s. A stopped VM does not
 * restart whatever its policy. A pending automatic restart is cancelled.
 * A stop while another runs waits for the same end (a forced stop hurries
 * a graceful one). A VM that is still starting is stopped at once (its
 * guest cannot answer the button yet).
 * Returns 0 (cb follows), -ENOENT for an unknown name, -ESRCH when there
 * is no worker and no pending restart (nothing to stop).
 */
int rv_supervisor_stop(struct rv_supervisor *sup, const char *name, bool force,
		       unsigned int timeout_s, rv_sup_done_cb cb,
		       void *opaque) RV_MUST_CHECK;

/*
 * Sends signum (SIGKILL when 0) to the worker: no flush, no guest
 * cooperation. The VM ends "stopped" ("killed by request") and does not
 * restart. Same returns as rv_supervisor_stop().
 */
int rv_supervisor_kill(struct rv_supervisor *sup, const char *name, int signum,
		       rv_sup_done_cb cb, void *opaque) RV_MUST_CHECK;

/*
 * Pauses or resumes the vCPUs. Returns 0 (cb follows), -ENOENT, -ESRCH
 * (no worker), -EBUSY when the VM is starting or stopping, -EALREADY when
 * it is already paused (pause) or running (resume).
 */
int rv_supervisor_pause(struct rv_supervisor *sup, const char *name,
			rv_sup_done_cb cb, void *opaque) RV_MUST_CHECK;
int rv_supervisor_resume(struct rv_supervisor *sup, const char *name,
			 rv_sup_done_cb cb, void *opaque) RV_MUST_CHECK;

/*
 * Stops (as rv_supervisor_stop(), force false) a running VM and starts it
 * again with vm (the manifest may have changed); starts it when it is not
 * running. cb follows the new start. Same returns as rv_supervisor_start().
 */
int rv_supervisor_restart(struct rv_supervisor *sup, const struct rv_sup_vm *vm,
			  unsigned int timeout_s, rv_sup_done_cb cb,
			  void *opaque) RV_MUST_CHECK;

/*
 * Snapshot of one VM the supervisor knows (it knows a VM from its first
 * start or adoption until rv_supervisor_forget()). Returns 0 or -ENOENT.
 */
int rv_supervisor_info(struct rv_supervisor *sup, const char *name,
		       struct rv_sup_info *out) RV_MUST_CHECK;

/* Calls fn for every VM the supervisor knows, in name order. */
void rv_supervisor_foreach(struct rv_supervisor *sup,
			   void (*fn)(void *opaque,
				      const struct rv_sup_info *info),
			   void *opaque);

/* Drops a stopped or crashed VM (vm.delete). -ENOENT, -EBUSY if a worker lives. */
int rv_supervisor_forget(struct rv_supervisor *sup,
			 const char *name) RV_MUST_CHECK;

/*
 * The console socket of a running VM: RUN_DIR/NAME/console.sock into buf.
 * Viewers connect to it and exchange raw bytes; every viewer sees all
 * output, input from any of them goes to the guest's COM1. Returns 0,
 * -ENOENT, -ESRCH (no worker), -ENAMETOOLONG (buf too small).
 */
int rv_supervisor_console_path(struct rv_supervisor *sup, const char *name,
			       char *buf, size_t size) RV_MUST_CHECK;

/*
 * Opens a connection to the console socket and returns its fd (blocking,
 * close-on-exec), e.g. to pass to a client with SCM_RIGHTS; or a negative
 * errno as rv_supervisor_console_path(), or connect()'s.
 */
int rv_supervisor_console_connect(struct rv_supervisor *sup,
				  const char *name) RV_MUST_CHECK;

/*
 * Daemon start-up. For every stored VM: re-adopts its worker if one is
 * alive from an earlier daemon (RUN_DIR/NAME/control.sock answers), else
 * removes stale runtime files and, when vm->autostart, starts it, at most
 * autostart_parallel at once and staggered. cb (may be NULL) runs once every
 * VM is adopted, started, failed or left stopped, with the number of VMs
 * that failed to start as a negative count (0 when all went well).
 * Returns 0 or -ENOMEM, -EBUSY while an earlier startup runs.
 */
int rv_supervisor_startup(struct rv_supervisor *sup,
			  const struct rv_sup_vm *vms, size_t nr_vms,
			  rv_sup_done_cb cb, void *opaque) RV_MUST_CHECK;

/*
 * Re-adopts one VM's live worker. cb gets 0 once adopted (state running
 * or paused), -ESRCH when no worker answers (stale files are removed and
 * the VM is left stopped). Returns 0, -EBUSY when a worker is known.
 */
int rv_supervisor_adopt(struct rv_supervisor *sup, const struct rv_sup_vm *vm,
			rv_sup_done_cb cb, void *opaque) RV_MUST_CHECK;

/*
 * Daemon shutdown: cancels pending restarts and autostarts, stops every
 * live worker gracefully (power button, timeout_s, then hard stop, then
 * SIGKILL) and calls cb (may be NULL) once none is left. Returns 0.
 */
int rv_supervisor_stop_all(struct rv_supervisor *sup, unsigned int timeout_s,
			   rv_sup_done_cb cb, void *opaque) RV_MUST_CHECK;

/* The number of live workers (for the daemon's status and shutdown). */
unsigned int rv_supervisor_nr_running(const struct rv_supervisor *sup);

#endif
