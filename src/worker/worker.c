// SPDX-License-Identifier: Apache-2.0
/*
 * `raevmd worker`: one VM under the daemon. The supervisor spawns it with
 * the daemon's end of a socketpair as --control-fd; it builds the VM with
 * the same phases as `raevmd run` (vmrun.h), but its serial console goes to
 * VM_DIR/console.log and to viewers on RUN_DIR/console.sock, and it obeys
 * the control channel (worker_proto.h) instead of a terminal.
 *
 * The worker outlives its daemon: when the control channel closes it keeps
 * the VM running and waits for the next daemon on RUN_DIR/control.sock
 * (re-adoption, docs/architecture.md "Processes"). RUN_DIR/worker.pid holds
 * its pid under an exclusive lock for its whole life, so there is never a
 * second worker for one VM, and runtime files found unlocked are stale.
 *
 * It ends when its VM stops, after the disks are flushed, with one "exit"
 * report on the control channel and an exit status the supervisor maps to
 * stopped or crashed (RV_WORKER_EXIT_*).
 */
#include "raevm/worker_proto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "raevm/acpi.h"
#include "raevm/api.h"
#include "raevm/cgroup.h"
#include "raevm/log.h"
#include "raevm/manifest.h"
#include "raevm/sandbox.h"
#include "raevm/vm.h"
#include "console_server.h"
#include "vmrun.h"

/* SIGTERM's grace for the guest, as the daemon's default stop. */
#define SIGTERM_TIMEOUT_S 30
#define STOP_TIMEOUT_MAX_S 86400

enum wstate {
	W_STARTING,
	W_RUNNING,
	W_PAUSED,
	W_STOPPING,
};

static const char *const wstate_names[] = {
	[W_STARTING] = "starting",
	[W_RUNNING] = "running",
	[W_PAUSED] = "paused",
	[W_STOPPING] = "stopping",
};

struct worker_opts {
	int ctl_fd;
	const char *name;
	const char *vm_dir;
	const char *run_dir;
	const char *manifest;
	uint64_t log_max;
};

struct worker {
	struct worker_opts o;
	struct rv_vm_config cfg;
	struct rv__run_vm r;
	struct rv_console_server *console;

	uv_loop_t loop;
	uv_async_t stop_async;
	uv_signal_t sig_term;
	uv_signal_t sig_int;
	uv_timer_t shutdown_timer;
	bool handles_ok; /* the handles above are initialised */
	uv_poll_t listen_poll;
	bool listening; /* listen_poll is initialised */
	int listen_fd;
	struct rv_wp_chan *ctl; /* the controlling daemon, or NULL */

	enum wstate state;
	int64_t started_at;
	bool button_pressed;
	char stop_msg[128]; /* why the host stopped the VM */
	bool finished;

	int lock_fd;
	int pid;    /* as the daemon sees it (host_pid()) */
	int status; /* the exit status, once known */
	char pid_path[PATH_MAX];
	char ctl_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char con_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char log_path[PATH_MAX];
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: raevmd worker --control-fd N --name NAME --vm-dir DIR\n"
		"                     --run-dir DIR --manifest PATH\n"
		"                     [--console-log-max BYTES]\n"
		"Runs one VM for the raevmd daemon, which starts it; not for "
		"direct use.\n");
}

static int parse_opts(int argc, char **argv, struct worker_opts *o)
{
	uint64_t v;
	int i;

	memset(o, 0, sizeof(*o));
	o->ctl_fd = -1;
	for (i = 1; i < argc; i++) {
		const char *flag = argv[i],
			   *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(flag, "--help") == 0) {
			usage(stdout);
			return 1;
		}
		if (!val) {
			rv_error("worker: %s needs a value", flag);
			return -EINVAL;
		}
		i++;
		if (strcmp(flag, "--control-fd") == 0) {
			if (rv_parse_uint(val, 3, INT_MAX, &v)) {
				rv_error("worker: --control-fd: '%s' is not a "
					 "descriptor number from 3",
					 val);
				return -EINVAL;
			}
			o->ctl_fd = (int)v;
		} else if (strcmp(flag, "--name") == 0) {
			o->name = val;
		} else if (strcmp(flag, "--vm-dir") == 0) {
			o->vm_dir = val;
		} else if (strcmp(flag, "--run-dir") == 0) {
			o->run_dir = val;
		} else if (strcmp(flag, "--manifest") == 0) {
			o->manifest = val;
		} else if (strcmp(flag, "--console-log-max") == 0) {
			if (rv_parse_size(val, &v) || v < 4096) {
				rv_error("worker: --console-log-max: '%s' is "
					 "not a size of at least 4K",
					 val);
				return -EINVAL;
			}
			o->log_max = v;
		} else {
			rv_error("worker: unknown option '%s'", flag);
			return -EINVAL;
		}
	}
	if (o->ctl_fd < 0 || !o->name || !o->vm_dir || !o->run_dir ||
	    !o->manifest) {
		usage(stderr);
		return -EINVAL;
	}
	if (!rv_manifest_name_valid(o->name)) {
		rv_error("worker: --name: '%s' is not a valid VM name",
			 o->name);
		return -EINVAL;
	}
	return 0;
}

/* The control fd must be the socket the daemon passed, checked first. */
static int check_control_fd(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		rv_error("worker: --control-fd %d: not a socket", fd);
		return -ENOTSOCK;
	}
	return 0;
}

static int make_paths(struct worker *w)
{
	const struct worker_opts *o = &w->o;

	if ((size_t)snprintf(w->ctl_path, sizeof(w->ctl_path),
			     "%s/control.sock",
			     o->run_dir) >= sizeof(w->ctl_path) ||
	    (size_t)snprintf(w->con_path, sizeof(w->con_path),
			     "%s/console.sock",
			     o->run_dir) >= sizeof(w->con_path)) {
		rv_error("run dir '%s': too long for a Unix socket path",
			 o->run_dir);
		return -ENAMETOOLONG;
	}
	if ((size_t)snprintf(w->pid_path, sizeof(w->pid_path), "%s/worker.pid",
			     o->run_dir) >= sizeof(w->pid_path) ||
	    (size_t)snprintf(w->log_path, sizeof(w->log_path), "%s/console.log",
			     o->vm_dir) >= sizeof(w->log_path)) {
		rv_error("run dir or VM dir: path too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

/*
 * Takes RUN_DIR/worker.pid with an exclusive lock held until exit and
 * writes the pid into it. A held lock means another worker runs this VM.
 */
/*
 * This process's pid as the daemon and the host see it. A daemon worker
 * is PID 1 of its own pid namespace, where getpid() says 1; /proc is still
 * the host's here (before the jail), and its "self" link names the pid in
 * the namespace /proc was mounted for.
 */
static int host_pid(void)
{
	char buf[16];
	ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);
	long pid;
	char *end;

	if (n <= 0)
		return (int)getpid();
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	return *end || pid <= 0 || pid > INT_MAX ? (int)getpid() : (int)pid;
}

static int lock_vm(struct worker *w)
{
	char text[32];
	int n;

	w->lock_fd = open(w->pid_path,
			  O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w->lock_fd < 0) {
		rv_error("'%s': %s", w->pid_path, strerror(errno));
		return -errno;
	}
	if (flock(w->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno;

		rv_error("VM '%s': another worker runs it ('%s' is locked)",
			 w->o.name, w->pid_path);
		close(w->lock_fd);
		w->lock_fd = -1;
		return err == EWOULDBLOCK ? -EBUSY : -err;
	}
	w->pid = host_pid();
	n = snprintf(text, sizeof(text), "%d\n", w->pid);
	if (ftruncate(w->lock_fd, 0) < 0 ||
	    pwrite(w->lock_fd, text, (size_t)n, 0) != n)
		rv_warn("'%s': cannot write the pid", w->pid_path);
	return 0;
}

static void unlock_vm(struct worker *w)
{
	if (w->lock_fd < 0)
		return;
	/* Unlinked under the lock: an unlocked pidfile is always stale. */
	unlink(w->ctl_path);
	unlink(w->pid_path);
	close(w->lock_fd);
	w->lock_fd = -1;
}

/* ---------------------------------------------------------------------- */
/* Messages to the daemon                                                 */

static void send_msg(struct worker *w, struct json_object *msg)
{
	if (w->ctl && rv_wp_send(w->ctl, msg) < 0)
		rv_debug("control channel: a message was not sent");
	json_object_put(msg);
}

static void send_state(struct worker *w)
{
	struct json_object *m = json_object_new_object();

	json_object_object_add(m, "event", json_object_new_string("state"));
	json_object_object_add(m, "state",
			       json_object_new_string(wstate_names[w->state]));
	json_object_object_add(m, "pid", json_object_new_int(w->pid));
	json_object_object_add(m, "started_at",
			       json_object_new_int64(w->started_at));
	send_msg(w, m);
}

static void set_state(struct worker *w, enum wstate s)
{
	if (w->state == s)
		return;
	w->state = s;
	send_state(w);
}

static void reply(struct worker *w, struct json_object *id, int err,
		  const char *message, struct json_object *result)
{
	struct json_object *m = json_object_new_object();

	json_object_object_add(m, "id", json_object_get(id));
	json_object_object_add(m, "ok", json_object_new_boolean(err == 0));
	if (err) {
		json_object_object_add(
			m, "error",
			json_object_new_string(rv_api_errno_name(err)));
		json_object_object_add(m, "message",
				       json_object_new_string(message));
		json_object_put(result);
	} else {
		json_object_object_add(m, "result",
				       result ? result :
						json_object_new_object());
	}
	send_msg(w, m);
}

static struct json_object *status_object(struct worker *w)
{
	struct json_object *r = json_object_new_object();
	struct rv_console_stats st = { 0 };

	if (w->console)
		rv_console_server_stats(w->console, &st);
	json_object_object_add(r, "name", json_object_new_string(w->o.name));
	json_object_object_add(r, "pid", json_object_new_int(w->pid));
	json_object_object_add(r, "state",
			       json_object_new_string(wstate_names[w->state]));
	json_object_object_add(r, "started_at",
			       json_object_new_int64(w->started_at));
	json_object_object_add(r, "console_viewers",
			       json_object_new_int((int)st.viewers));
	json_object_object_add(
		r, "console_dropped",
		json_object_new_int64(
			(int64_t)(st.viewer_dropped + st.ring_dropped)));
	return r;
}

/* ---------------------------------------------------------------------- */
/* Requests                                                               */

static void on_shutdown_timeout(uv_timer_t *t)
{
	struct worker *w = t->data;

	rv_info("VM '%s': the guest did not power off in time; stopping it",
		w->o.name);
	rv_vm_request_stop(w->r.vm, RV_STOP_HOST_REQUEST, 0);
}

/*
 * Graceful: resume a paused guest (it cannot answer otherwise), press the
 * power button and stop the VM after timeout_s if the guest has not powered
 * off. Without a power button, a timeout of 0 or force: stop at once.
 */
static int do_stop(struct worker *w, bool force, unsigned int timeout_s,
		   const char *who)
{
	if (!w->r.vm || w->state == W_STARTING)
		return -EAGAIN;
	if (!force && timeout_s && w->r.acpi_pm) {
		if (w->button_pressed)
			return 0;
		if (w->state == W_PAUSED && rv_vm_resume(w->r.vm) == 0)
			set_state(w, W_RUNNING);
		if (rv_acpi_pm_press_power_button(w->r.acpi_pm) == 0 &&
		    uv_timer_start(&w->shutdown_timer, on_shutdown_timeout,
				   (uint64_t)timeout_s * 1000, 0) == 0) {
			w->button_pressed = true;
			snprintf(w->stop_msg, sizeof(w->stop_msg),
				 "stopped %s: the guest did not power off "
				 "within %u s of the power button",
				 who, timeout_s);
			set_state(w, W_STOPPING);
			return 0;
		}
	}
	snprintf(w->stop_msg, sizeof(w->stop_msg), "stopped %s", who);
	set_state(w, W_STOPPING);
	rv_vm_request_stop(w->r.vm, RV_STOP_HOST_REQUEST, 0);
	return 0;
}

static int do_pause(struct worker *w, bool pause)
{
	int rc;

	if (w->state == W_STARTING || w->state == W_STOPPING)
		return -EBUSY;
	if (pause == (w->state == W_PAUSED))
		return -EALREADY;
	rc = pause ? rv_vm_pause(w->r.vm) : rv_vm_resume(w->r.vm);
	if (rc)
		return rc == -ECANCELED ? -EBUSY : rc;
	set_state(w, pause ? W_PAUSED : W_RUNNING);
	return 0;
}

static void handle_stop(struct worker *w, struct json_object *id,
			struct json_object *msg)
{
	struct json_object *v;
	bool force = false;
	int64_t timeout = SIGTERM_TIMEOUT_S;
	int rc;

	if (json_object_object_get_ex(msg, "force", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			reply(w, id, -EINVAL, "force: expected true or false",
			      NULL);
			return;
		}
		force = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(msg, "timeout", &v)) {
		timeout = json_object_is_type(v, json_type_int) ?
				  json_object_get_int64(v) :
				  -1;
		if (timeout < 0 || timeout > STOP_TIMEOUT_MAX_S) {
			reply(w, id, -EINVAL,
			      "timeout: expected seconds from 0 to 86400",
			      NULL);
			return;
		}
	}
	rc = do_stop(w, force, (unsigned int)timeout, "by request");
	reply(w, id, rc, "the VM is not running yet", NULL);
}

static void on_ctl_msg(void *opaque, struct json_object *msg)
{
	struct worker *w = opaque;
	struct json_object *id = NULL, *cmdv;
	const char *cmd;
	int rc;

	json_object_object_get_ex(msg, "id", &id);
	if (!json_object_object_get_ex(msg, "cmd", &cmdv) ||
	    !json_object_is_type(cmdv, json_type_string)) {
		reply(w, id, -EINVAL, "expected a \"cmd\" string", NULL);
		return;
	}
	cmd = json_object_get_string(cmdv);
	if (strcmp(cmd, "hello") == 0 || strcmp(cmd, "status") == 0) {
		reply(w, id, 0, NULL, status_object(w));
	} else if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0) {
		rc = do_pause(w, strcmp(cmd, "pause") == 0);
		reply(w, id, rc,
		      rc == -EALREADY ? "the VM is already in that state" :
		      rc == -EBUSY    ? "the VM is starting or stopping" :
					strerror(-rc),
		      NULL);
	} else if (strcmp(cmd, "stop") == 0) {
		handle_stop(w, id, msg);
	} else {
		reply(w, id, -EINVAL, "unknown command", NULL);
	}
}

static void on_ctl_close(void *opaque, int err)
{
	struct worker *w = opaque;

	/* The daemon went away: the VM runs on until a new one adopts it. */
	if (err)
		rv_warn("control channel: %s; waiting for the daemon",
			strerror(-err));
	rv_wp_chan_close(w->ctl, false);
	w->ctl = NULL;
}

/* A (new) daemon connects to re-adopt this worker: the newest one wins. */
static void on_listen(uv_poll_t *p, int status, int events)
{
	struct worker *w = p->data;
	unsigned int uid;
	int fd;

	(void)events;
	if (status < 0)
		return;
	fd = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (rv_wp_peer(fd, NULL, &uid) < 0 || (uid != geteuid() && uid != 0)) {
		close(fd);
		return;
	}
	if (w->ctl) {
		rv_info("control channel: a new daemon takes over");
		rv_wp_chan_close(w->ctl, false);
		w->ctl = NULL;
	}
	if (rv_wp_chan_open(&w->loop, fd, on_ctl_msg, on_ctl_close, w,
			    &w->ctl) < 0)
		w->ctl = NULL;
}

static int listen_control(struct worker *w)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int rc;

	w->listen_fd =
		socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (w->listen_fd < 0)
		return -errno;
	memcpy(sa.sun_path, w->ctl_path, strlen(w->ctl_path) + 1);
	/* Stale: this worker holds the VM's lock. */
	unlink(w->ctl_path);
	if (bind(w->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(w->listen_fd, 4) < 0) {
		rc = -errno;
		rv_error("control socket '%s': %s", w->ctl_path, strerror(-rc));
		return rc;
	}
	rc = uv_poll_init(&w->loop, &w->listen_poll, w->listen_fd);
	if (rc)
		return rc;
	w->listening = true;
	w->listen_poll.data = w;
	return uv_poll_start(&w->listen_poll, UV_READABLE, on_listen);
}

/* ---------------------------------------------------------------------- */
/* Stopping                                                               */

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/*
 * The last word: one "exit" report, flushed, then every handle closes and
 * the loop ends. reason is the machine word of worker_proto.h.
 */
static void finish(struct worker *w, const char *reason, int code,
		   const char *message, int status)
{
	struct json_object *m;

	if (w->finished)
		return;
	w->finished = true;
	w->status = status;
	m = json_object_new_object();
	json_object_object_add(m, "event", json_object_new_string("exit"));
	json_object_object_add(m, "reason", json_object_new_string(reason));
	json_object_object_add(m, "code", json_object_new_int(code));
	json_object_object_add(m, "message", json_object_new_string(message));
	json_object_object_add(m, "status", json_object_new_int(status));
	send_msg(w, m);
	rv_wp_chan_close(w->ctl, true);
	w->ctl = NULL;
	rv_console_server_stop(w->console);
	if (w->listening) {
		close_handle((uv_handle_t *)&w->listen_poll);
		w->listening = false;
		unlink(w->ctl_path);
	}
	/* The channel and the console close their own handles. */
	if (w->handles_ok) {
		close_handle((uv_handle_t *)&w->stop_async);
		close_handle((uv_handle_t *)&w->shutdown_timer);
		close_handle((uv_handle_t *)&w->sig_term);
		close_handle((uv_handle_t *)&w->sig_int);
	}
}

/* Maps how the VM stopped to the report and the exit status. */
static void finish_stopped(struct worker *w, enum rv_stop_reason reason,
			   int code)
{
	char msg[160];

	switch (reason) {
	case RV_STOP_GUEST_POWEROFF:
		finish(w, "poweroff", 0, "guest powered off",
		       RV_WORKER_EXIT_OK);
		return;
	case RV_STOP_GUEST_EXIT:
		snprintf(msg, sizeof(msg), "guest exited with code %d", code);
		finish(w, "exit", code, msg, RV_WORKER_EXIT_OK);
		return;
	case RV_STOP_GUEST_RESET:
		if (code == 0)
			finish(w, "reset", 0, "guest rebooted",
			       RV_WORKER_EXIT_OK);
		else
			finish(w, "triple-fault", code,
			       "the guest triple-faulted",
			       RV_WORKER_EXIT_VM_ERROR);
		return;
	case RV_STOP_HOST_REQUEST:
		finish(w, "host", code,
		       w->stop_msg[0] ? w->stop_msg : "stopped by request",
		       RV_WORKER_EXIT_OK);
		return;
	case RV_STOP_NONE:
	case RV_STOP_ERROR:
		break;
	}
	finish(w, "error", code, "internal error (see worker.log)",
	       RV_WORKER_EXIT_VM_ERROR);
}

/* The VM must stop (from any thread, through the async): wind down. */
static void on_stop_async(uv_async_t *h)
{
	struct worker *w = h->data;
	enum rv_stop_reason reason;
	int code = 1;

	if (w->finished)
		return;
	w->state = W_STOPPING;
	reason = rv_vm_wait(w->r.vm, &code);
	rv_debug("VM '%s' stopped: %s, code %d", w->o.name,
		 rv_stop_reason_name(reason), code);
	/* The last output reaches the viewers before they are closed. */
	rv_console_server_stop(w->console);
	/* Disks are flushed before the daemon hears that the VM stopped. */
	rv__run_teardown(&w->r);
	finish_stopped(w, reason, code);
}

static void on_vm_stop(void *opaque)
{
	struct worker *w = opaque;

	uv_async_send(&w->stop_async);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct worker *w = h->data;

	/* A second SIGTERM, or SIGINT, stops at once. */
	if (signum == SIGTERM && !w->button_pressed)
		do_stop(w, false, SIGTERM_TIMEOUT_S, "by SIGTERM");
	else if (w->r.vm)
		do_stop(w, true, 0,
			signum == SIGTERM ? "by SIGTERM" : "by SIGINT");
}

static size_t uart_sink(void *opaque, const uint8_t *buf, size_t len)
{
	struct worker *w = opaque;

	return rv__run_uart_input(&w->r, buf, len);
}

/* ---------------------------------------------------------------------- */

static int setup_handles(struct worker *w)
{
	uv_async_init(&w->loop, &w->stop_async, on_stop_async);
	w->stop_async.data = w;
	uv_timer_init(&w->loop, &w->shutdown_timer);
	w->shutdown_timer.data = w;
	uv_signal_init(&w->loop, &w->sig_term);
	w->sig_term.data = w;
	uv_signal_init(&w->loop, &w->sig_int);
	w->sig_int.data = w;
	w->handles_ok = true;
	if (uv_signal_start(&w->sig_term, on_signal, SIGTERM) ||
	    uv_signal_start(&w->sig_int, on_signal, SIGINT))
		return -EIO;
	return 0;
}

/*
 * A vsock whose manifest names no host socket gets RUN_DIR/vsock.sock, next
 * to console.sock: the daemon owns that folder and removes it with the VM's
 * runtime files (config.h, docs/manifest.md "vsock").
 */
static int default_vsock_socket(struct worker *w)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	if (!w->cfg.vsock.enabled || w->cfg.vsock.socket)
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/vsock.sock",
			     w->o.run_dir) >= sizeof(path)) {
		rv_error("run dir '%s': too long for the vsock socket path",
			 w->o.run_dir);
		return -ENAMETOOLONG;
	}
	w->cfg.vsock.socket = strdup(path);
	return w->cfg.vsock.socket ? 0 : -ENOMEM;
}

/*
 * The build with the sandbox around it (include/raevm/sandbox.h): open
 * what is reached by path, enter the jail, build the VM from descriptors,
 * confine the main thread.
 */
static int build_vm(struct worker *w)
{
	struct rv_sandbox_jail jail = { .nr_dirs = 0 };
	int rc = 0;

	if (w->cfg.sandbox)
		rc = rv_sandbox_enable(&w->cfg);
	if (!rc)
		rc = rv__run_open(&w->r);
	if (!rc) {
		/* Runtime files, the console log and its rotation. */
		jail.dirs[jail.nr_dirs++] = w->o.run_dir;
		jail.dirs[jail.nr_dirs++] = w->o.vm_dir;
		rc = rv_sandbox_jail(&w->cfg, &jail);
	}
	if (!rc)
		rc = rv__run_create(&w->r);
	if (!rc)
		rc = rv_sandbox_apply(&w->cfg);
	return rc;
}

/* Builds the VM and starts it; on failure the report is sent. */
static void start_vm(struct worker *w)
{
	struct rv_manifest_errors errs;
	int rc;

	rv_manifest_errors_init(&errs);
	rv_vm_config_init(&w->cfg);
	rc = rv_manifest_load(w->o.manifest, &w->cfg, &errs);
	if (rc) {
		rv_manifest_errors_print(&errs);
		rv_manifest_errors_free(&errs);
		finish(w, "error", 0,
		       "the manifest is invalid (see worker.log)",
		       RV_WORKER_EXIT_BUILD);
		return;
	}
	rv_manifest_errors_free(&errs);
	if (default_vsock_socket(w)) {
		finish(w, "error", 0, "no vsock socket path (see worker.log)",
		       RV_WORKER_EXIT_BUILD);
		return;
	}
	rc = rv_console_server_create(w->log_path, w->o.log_max, &w->console);
	if (!rc) {
		rv_console_server_set_sink(w->console, uart_sink, w);
		rc = rv_console_server_start(w->console, &w->loop, w->con_path);
	}
	if (!rc) {
		w->r.cfg = &w->cfg;
		w->r.console = rv_console_server_chardev(w->console);
		w->r.runtime_dir = w->o.run_dir;
		/* The cgroup before guest RAM; the daemon removes it. */
		rc = rv_cgroup_enter(&w->cfg, w->o.name, NULL);
		if (!rc)
			rc = build_vm(w);
	}
	if (rc) {
		rv__run_teardown(&w->r);
		finish(w, "error", 0, "the VM could not be built",
		       RV_WORKER_EXIT_BUILD);
		return;
	}
	w->r.vm->on_stop = on_vm_stop;
	w->r.vm->on_stop_opaque = w;
	w->started_at = (int64_t)time(NULL);
	rc = rv_vm_start(w->r.vm);
	if (rc == 0)
		rc = rv_cgroup_pin_vcpus(w->r.vm, &w->cfg.limits);
	/* A failed vCPU start requests a stop: the async winds down. */
	if (rc == 0)
		set_state(w, W_RUNNING);
	else
		rv_vm_request_stop(w->r.vm, RV_STOP_ERROR, 1);
}

static int worker_run(struct worker *w)
{
	int rc;

	rc = check_control_fd(w->o.ctl_fd);
	if (!rc)
		rc = make_paths(w);
	if (rc)
		return RV_WORKER_EXIT_USAGE;
	rc = lock_vm(w);
	if (rc)
		return RV_WORKER_EXIT_USAGE;
	rc = uv_loop_init(&w->loop);
	if (rc) {
		rv_error("cannot start the main loop: %s", uv_strerror(rc));
		unlock_vm(w);
		return RV_WORKER_EXIT_USAGE;
	}
	rc = rv_wp_chan_open(&w->loop, w->o.ctl_fd, on_ctl_msg, on_ctl_close, w,
			     &w->ctl);
	if (rc)
		rv_warn("control fd %d: %s; running without a daemon",
			w->o.ctl_fd, strerror(-rc));
	send_state(w);
	rc = setup_handles(w);
	if (!rc)
		rc = listen_control(w);
	if (rc)
		finish(w, "error", 0,
		       "cannot set up the worker (see worker.log)",
		       RV_WORKER_EXIT_USAGE);
	else
		start_vm(w);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	/* Only closing handles remain; let their callbacks run. */
	uv_run(&w->loop, UV_RUN_NOWAIT);
	if (uv_loop_close(&w->loop))
		rv_debug("the main loop still had handles at exit");
	rv_console_server_destroy(w->console);
	rv_vm_config_free(&w->cfg);
	unlock_vm(w);
	if (w->listen_fd >= 0)
		close(w->listen_fd);
	return w->status;
}

int rv_worker_main(int argc, char **argv)
{
	struct worker w = { .listen_fd = -1, .lock_fd = -1 };
	int rc;

	rc = parse_opts(argc, argv, &w.o);
	if (rc == 1)
		return 0;
	if (rc < 0)
		return RV_WORKER_EXIT_USAGE;
	/* Sockets, the pidfile and the log are for the daemon's user only. */
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	/* The daemon's terminal closing is no reason to stop a VM. */
	signal(SIGHUP, SIG_IGN);
	return worker_run(&w);
}
