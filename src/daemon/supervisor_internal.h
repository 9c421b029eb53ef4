/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_SUPERVISOR_INTERNAL_H
#define RAEVM_SUPERVISOR_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <sys/un.h>

#include <json-c/json.h>
#include <uv.h>

#include "raevm/manifest.h"
#include "raevm/supervisor.h"
#include "raevm/worker_proto.h"

/*
 * Shared by supervisor.c (records, spawning, reaping, the worker channel,
 * the restart policy), supervisor_ops.c (the public requests) and
 * supervisor_boot.c (re-adoption, autostart, stopping everything at
 * shutdown). All of it runs on the daemon's loop thread.
 */
#define REASON_LEN 256
/* After a stop's own timeout, before SIGKILL. */
#define RV_SUP_KILL_GRACE_MS 10000
#define RV_SUP_STOP_TIMEOUT_DEFAULT 30
#define RV_SUP_MAX_BURST 32

#define SUN_PATH_LEN sizeof(((struct sockaddr_un *)0)->sun_path)

/* What the daemon asked of a live worker. */
enum sup_stop_req {
	SUP_STOP_NONE,
	SUP_STOP_STOP, /* graceful or forced stop through the channel */
	SUP_STOP_KILL, /* a signal */
};

enum sup_req_kind {
	SUP_REQ_HELLO, /* adoption */
	SUP_REQ_STOP,
	SUP_REQ_OTHER,
};

struct sup_waiter {
	struct sup_waiter *next;
	rv_sup_done_cb cb;
	void *opaque;
};

/* A request sent to a worker, waiting for its reply. */
struct sup_pending {
	struct sup_pending *next;
	uint32_t id;
	enum sup_req_kind kind;
	rv_sup_done_cb cb;
	void *opaque;
};

/* A callback or an event waiting for the next loop iteration. */
struct sup_deferred {
	struct sup_deferred *next;
	bool is_event;
	rv_sup_done_cb cb;
	void *opaque;
	int status;
	struct rv_sup_event ev;
	char name[RV_MANIFEST_NAME_MAX + 1];
	char reason[REASON_LEN];
};

struct sup_vm {
	struct sup_vm *next; /* sorted by name */
	struct rv_supervisor *sup;
	char *name;
	char *vm_dir;
	char *manifest;
	enum rv_restart_policy restart;
	bool autostart;
	char run_dir[SUN_PATH_LEN];
	char ctl_path[SUN_PATH_LEN];
	char console_path[SUN_PATH_LEN];
	char pid_path[PATH_MAX];
	char wlog_path[PATH_MAX];

	enum rv_sup_state state;
	char reason[REASON_LEN];
	int guest_code;

	/* The worker. */
	bool live;  /* a worker exists (spawned or adopted) */
	bool child; /* spawned by this daemon: proc is valid until reaped */
	bool adopted;
	/* A child's exit watch until reaped (heap: closes on its own time). */
	uv_poll_t *proc;
	struct rv_wp_chan *chan;
	int pid; /* as this daemon sees it */
	/* Signals go through it, never to a reused pid; a child's exit too. */
	int pidfd;
	int64_t started_at;
	uint64_t spawned_ms;
	uint64_t running_since_ms;
	bool proc_exited;
	int exit_status;
	int term_signal;
	bool report; /* the worker's "exit" report arrived */
	char report_reason[32];
	char report_msg[REASON_LEN];
	int report_code;
	int report_status;
	enum sup_stop_req req;
	bool force_sent;
	bool killed_by_us;
	bool restart_after_stop; /* rv_supervisor_restart() */
	uint32_t next_id;
	struct sup_pending *pending;
	struct sup_waiter *start_waiters;
	struct sup_waiter *stop_waiters;
	/* Kill backstop while live, restart delay while not. */
	uv_timer_t timer;

	/* The restart policy. */
	bool restart_pending;
	char restart_why[64];
	unsigned int restarts;
	uint64_t backoff_ms;
	uint64_t restart_times[RV_SUP_MAX_BURST];
	unsigned int nr_restart_times;
	unsigned int next_restart_slot;

	/* Adoption and autostart (supervisor_boot.c). */
	bool adopting;
	bool boot_adopt; /* part of rv_supervisor_startup() */
	rv_sup_done_cb adopt_cb;
	void *adopt_opaque;
	bool as_queued;
	bool as_inflight;
	uint64_t as_seq;
};

struct rv_supervisor {
	uv_loop_t *loop;
	struct rv_supervisor_config cfg;
	char *run_dir;
	char *worker_exe;
	uv_async_t async;
	uv_timer_t stagger;
	unsigned int open_handles; /* freed when 0 after destroy */
	bool destroyed;
	bool no_pidns; /* the kernel refused CLONE_NEWPID once: not tried again */
	struct sup_deferred *deferred;
	struct sup_vm *vms;

	/* Daemon shutdown. */
	bool shutting_down;
	bool stop_all_active;
	rv_sup_done_cb stop_all_cb;
	void *stop_all_opaque;

	/* Start-up: adoption, then autostart. */
	bool boot_active;
	unsigned int boot_adopting;
	unsigned int boot_inflight;
	unsigned int boot_failed;
	uint64_t as_next_seq;
	rv_sup_done_cb boot_cb;
	void *boot_opaque;
};

/* supervisor.c */
void rv__sup_defer_done(struct rv_supervisor *sup, rv_sup_done_cb cb,
			void *opaque, int status);
void rv__sup_set_state(struct sup_vm *vm, enum rv_sup_state state,
		       const char *reason, bool restarting, uint64_t delay_ms);
void rv__sup_complete(struct rv_supervisor *sup, struct sup_waiter **list,
		      int status);
int rv__sup_wait(struct sup_waiter **list, rv_sup_done_cb cb,
		 void *opaque) RV_MUST_CHECK;
struct sup_vm *rv__sup_find(struct rv_supervisor *sup, const char *name);
int rv__sup_get(struct rv_supervisor *sup, const struct rv_sup_vm *v,
		struct sup_vm **out) RV_MUST_CHECK;
int rv__sup_check_vm(const struct rv_sup_vm *v) RV_MUST_CHECK;
int rv__sup_vm_set(struct sup_vm *vm, const struct rv_sup_vm *v) RV_MUST_CHECK;
void rv__sup_handle_closed(struct rv_supervisor *sup);
void rv__sup_vm_close(struct sup_vm *vm);
int rv__sup_request(struct sup_vm *vm, const char *cmd, bool force,
		    unsigned int timeout_s, enum sup_req_kind kind,
		    rv_sup_done_cb cb, void *opaque) RV_MUST_CHECK;
int rv__sup_attach(struct sup_vm *vm, int fd) RV_MUST_CHECK;
int rv__sup_worker_alive(struct sup_vm *vm);
int rv__sup_spawn(struct sup_vm *vm) RV_MUST_CHECK;
int rv__sup_signal(struct sup_vm *vm, int signum);
void rv__sup_arm_kill(struct sup_vm *vm, uint64_t ms);
void rv__sup_sanitize(char *s);
void rv__sup_gone_maybe(struct sup_vm *vm);
void rv__sup_cancel_all(struct sup_vm *vm);
int rv__sup_start_now(struct sup_vm *vm, const char *why);

/* supervisor_spawn.c */
/* The worker's descriptors: 0 stdin, 1 stdout, 2 stderr, 3 its channel. */
#define RV__SUP_EXEC_FDS 4

struct rv__sup_exec {
	const char *path;
	char *const *argv; /* NULL-terminated; the environment: worker_env[] */
	int fds[RV__SUP_EXEC_FDS]; /* the caller's: they stay open */
	bool new_session;
	bool pidns; /* in: try CLONE_NEWPID; out: whether the child has one */
	int pidns_err; /* out: why it has none after trying (EPERM, EINVAL) */
};

/*
 * Clones a child (PID 1 of a new pid namespace when x->pidns) that execs
 * x->path. Returns 0 once execve() succeeded, with the pid and a pidfd;
 * -errno when the clone or execve() failed (the child is reaped).
 */
int rv__sup_clone_exec(struct rv__sup_exec *x, int *pid_out,
		       int *pidfd_out) RV_MUST_CHECK;
/* Reaps the child behind pidfd: 0, -EAGAIN while it runs, or -errno. */
int rv__sup_reap(int pidfd, int *exit_status, int *term_signal) RV_MUST_CHECK;
/* exit_status -1 unless it exited; term_signal 0 unless a signal ended it. */
void rv__sup_exit_decode(const siginfo_t *si, int *exit_status,
			 int *term_signal);

/* supervisor_boot.c */
void rv__sup_adopted(struct sup_vm *vm, int status, struct json_object *res);
void rv__sup_adopt_result(struct sup_vm *vm, int status);
void rv__sup_autostart_pump(struct rv_supervisor *sup);
void rv__sup_stop_all_check(struct rv_supervisor *sup);
void rv__sup_boot_cancel(struct rv_supervisor *sup);
void rv__sup_boot_forget(struct rv_supervisor *sup, struct sup_vm *vm);

#endif
