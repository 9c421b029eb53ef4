// SPDX-License-Identifier: Apache-2.0
/*
 * `raevmd daemon`: start-up in named phases, the libuv loop, signals and
 * shutdown (teardown in reverse order). The daemon never maps guest
 * memory: VMs run in workers that the supervisor spawns.
 *
 * Start-up: options -> paths -> handler table check -> folders -> store
 * -> supervisor -> control socket -> re-adoption and autostart -> READY=1.
 * SIGTERM and SIGINT: stop accepting, stop every VM gracefully (power
 * button, then hard stop after --shutdown-timeout), STOPPING=1, exit 0.
 */
#include "daemon.h"

#include "raevm/log.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SHUTDOWN_TIMEOUT 30
#define MAX_SHUTDOWN_TIMEOUT 3600

/* ---------------------------------------------------------------------- */
/* sd_notify                                                              */

void rv__daemon_notify(struct rv_daemon *d, const char *msg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = d->notify_socket;
	socklen_t len;
	int fd;

	if (!path || !path[0])
		return;
	/* "@name" is an abstract socket: sun_path starts with a NUL. */
	if (strlen(path) >= sizeof(sa.sun_path) ||
	    (path[0] != '/' && path[0] != '@'))
		return;
	strcpy(sa.sun_path, path);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
			  strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   len) < 0)
		rv_warn("cannot notify systemd: %m");
	close(fd);
}

/* ---------------------------------------------------------------------- */
/* Options and paths                                                      */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: raevmd daemon [--socket PATH] [--state-dir DIR] [--runtime-dir DIR]\n"
		"                     [--shutdown-timeout SECONDS] [--foreground] [-v|-q]\n"
		"Runs the raevm daemon: the control socket, the VM store and the VMs.\n"
		"  --socket PATH        control socket (default RUNTIME_DIR/raevmd.sock)\n"
		"  --state-dir DIR      the VM store (default /var/lib/raevm for root,\n"
		"                       $XDG_DATA_HOME/raevm otherwise)\n"
		"  --runtime-dir DIR    sockets and runtime files (default /run/raevm for\n"
		"                       root, $XDG_RUNTIME_DIR/raevm otherwise)\n"
		"  --shutdown-timeout N seconds VMs get to power off when the daemon stops\n"
		"                       (default %d)\n"
		"  --foreground         stay in the foreground and log to stderr (the\n"
		"                       only mode: systemd and scripts run it this way)\n"
		"  -v, --verbose        more messages (twice for debug); -q: errors only\n",
		DEFAULT_SHUTDOWN_TIMEOUT);
}

/* Returns the value of --name VALUE / --name=VALUE, advancing *i. */
static const char *opt_value(int argc, char **argv, int *i, const char *name,
			     int *err)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	if (strncmp(a, name, n) != 0)
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (a[n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		rv_error("%s: missing value", name);
		*err = -EINVAL;
		return NULL;
	}
	return argv[++*i];
}

static int parse_options(int argc, char **argv, struct rv_daemon_options *o,
			 enum rv_log_level *level)
{
	int i, err = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v;

		if ((v = opt_value(argc, argv, &i, "--socket", &err))) {
			o->socket = v;
		} else if ((v = opt_value(argc, argv, &i, "--state-dir",
					  &err))) {
			o->state_dir = v;
		} else if ((v = opt_value(argc, argv, &i, "--runtime-dir",
					  &err))) {
			o->runtime_dir = v;
		} else if ((v = opt_value(argc, argv, &i, "--shutdown-timeout",
					  &err))) {
			uint64_t t;

			if (rv_parse_uint(v, 1, MAX_SHUTDOWN_TIMEOUT, &t)) {
				rv_error(
					"--shutdown-timeout: '%s' is not a number from 1 to %d",
					v, MAX_SHUTDOWN_TIMEOUT);
				return -EINVAL;
			}
			o->shutdown_timeout = (unsigned int)t;
		} else if (err) {
			return err;
		} else if (strcmp(a, "--foreground") == 0) {
			o->foreground = true;
		} else if (strcmp(a, "-v") == 0 ||
			   strcmp(a, "--verbose") == 0) {
			*level = *level < RV_LOG_INFO ? RV_LOG_INFO :
							RV_LOG_DEBUG;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			*level = RV_LOG_ERROR;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 1;
		} else {
			rv_error(
				"daemon: unknown option '%s' (try 'raevmd daemon --help')",
				a);
			return -EINVAL;
		}
		if (err)
			return err;
	}
	return 0;
}

/* An absolute copy of path (relative ones are taken from the cwd). */
static char *absolute(const char *path)
{
	char cwd[PATH_MAX];
	char *s;

	if (path[0] == '/')
		return strdup(path);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	if (asprintf(&s, "%s/%s", cwd, path) < 0)
		return NULL;
	return s;
}

static int resolve_paths(struct rv_daemon *d, const struct rv_daemon_options *o)
{
	const char *xdg;
	char *tmp = NULL;

	if (o->state_dir) {
		d->state_dir = absolute(o->state_dir);
	} else if (d->uid == 0) {
		d->state_dir = strdup("/var/lib/raevm");
	} else if ((xdg = getenv("XDG_DATA_HOME")) && xdg[0] == '/') {
		if (asprintf(&d->state_dir, "%s/raevm", xdg) < 0)
			d->state_dir = NULL;
	} else if ((xdg = getenv("HOME")) && xdg[0] == '/') {
		if (asprintf(&d->state_dir, "%s/.local/share/raevm", xdg) < 0)
			d->state_dir = NULL;
	} else {
		rv_error(
			"no state folder: set HOME or XDG_DATA_HOME, or give --state-dir");
		return -EINVAL;
	}
	if (o->runtime_dir) {
		d->runtime_dir = absolute(o->runtime_dir);
	} else if (d->uid == 0) {
		d->runtime_dir = strdup("/run/raevm");
	} else if ((xdg = getenv("XDG_RUNTIME_DIR")) && xdg[0] == '/') {
		if (asprintf(&d->runtime_dir, "%s/raevm", xdg) < 0)
			d->runtime_dir = NULL;
	} else {
		rv_error(
			"no runtime folder: XDG_RUNTIME_DIR is not set; give --runtime-dir");
		return -EINVAL;
	}
	if (o->socket) {
		d->socket_path = absolute(o->socket);
	} else if (d->runtime_dir &&
		   asprintf(&tmp, "%s/raevmd.sock", d->runtime_dir) >= 0) {
		d->socket_path = tmp;
	}
	if (!d->state_dir || !d->runtime_dir || !d->socket_path)
		return -ENOMEM;
	return 0;
}

/*
 * The socket's group: "raevm" when it exists, else the daemon's own group.
 * Its members get read access (docs/api.md "Access").
 */
static void pick_group(struct rv_daemon *d)
{
	struct group *g = getgrnam("raevm");

	if (g) {
		d->sock_gid = g->gr_gid;
		snprintf(d->sock_group, sizeof(d->sock_group), "raevm");
		return;
	}
	d->sock_gid = getegid();
	g = getgrgid(d->sock_gid);
	if (g)
		snprintf(d->sock_group, sizeof(d->sock_group), "%s",
			 g->gr_name);
	else
		snprintf(d->sock_group, sizeof(d->sock_group), "%u",
			 (unsigned int)d->sock_gid);
}

static int make_dir(const char *path, mode_t mode, gid_t gid)
{
	char *tmp = strdup(path), *p;
	int rc = 0;

	if (!tmp)
		return -ENOMEM;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST)
			rc = -errno;
		*p = '/';
		if (rc)
			break;
	}
	if (!rc && mkdir(tmp, mode) && errno != EEXIST)
		rc = -errno;
	/*
	 * The runtime folder goes to the socket's group so its members can
	 * reach the socket (systemd's RuntimeDirectory= makes it root:root);
	 * only a folder the daemon owns is touched.
	 */
	if (!rc && gid != (gid_t)-1) {
		struct stat sb;

		if (stat(tmp, &sb) == 0 && sb.st_uid == geteuid() &&
		    sb.st_gid != gid && chown(tmp, (uid_t)-1, gid))
			rv_warn("cannot give '%s' to its group: %m", tmp);
	}
	if (rc)
		rv_error("cannot create '%s': %s", tmp, strerror(-rc));
	free(tmp);
	return rc;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	/* 100s of clients and VMs each hold descriptors. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ---------------------------------------------------------------------- */
/* Re-adoption, signals, shutdown                                         */

/*
 * A VM that the store last saw with a worker, which the supervisor did not
 * re-adopt, has lost that worker: it is recorded as stopped.
 */
static void mark_orphans(struct rv_daemon *d)
{
	struct rv_store_vm *const *vms;
	struct rv_sup_info info;
	size_t i, nr;

	vms = rv__store_list(d->store, &nr);
	for (i = 0; i < nr; i++) {
		struct rv_store_vm *vm = vms[i];

		if (vm->state == RV_SUP_STOPPED || vm->state == RV_SUP_CRASHED)
			continue;
		if (d->sup &&
		    rv_supervisor_info(d->sup, vm->name, &info) == 0 &&
		    info.state != RV_SUP_STOPPED &&
		    info.state != RV_SUP_CRASHED)
			continue; /* re-adopted */
		rv_info("VM '%s' was %s; its worker is gone: now stopped",
			vm->name, rv_sup_state_name(vm->state));
		rv__store_set_state(
			d->store, vm, RV_SUP_STOPPED,
			"the worker was gone when the daemon started");
	}
}

static void on_startup_done(void *opaque, int status)
{
	struct rv_daemon *d = opaque;

	if (status < 0)
		rv_warn("%d VMs failed to start with the daemon", -status);
	mark_orphans(d);
}

static int startup_vms(struct rv_daemon *d)
{
	struct rv_store_vm *const *vms;
	struct rv_sup_vm *list;
	size_t i, n = 0, nr;
	int rc;

	if (!d->sup) {
		mark_orphans(d);
		return 0;
	}
	vms = rv__store_list(d->store, &nr);
	list = calloc(nr ? nr : 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (i = 0; i < nr; i++)
		if (!vms[i]->problem)
			rv__store_sup_vm(vms[i], &list[n++]);
	rc = rv_supervisor_startup(d->sup, list, n, on_startup_done, d);
	free(list);
	if (rc) {
		rv_error("cannot start the VMs: %s", strerror(-rc));
		mark_orphans(d);
	}
	return rc;
}

static void close_signals(struct rv_daemon *d)
{
	if (!d->signals)
		return;
	d->signals = false;
	uv_close((uv_handle_t *)&d->sig_term, NULL);
	uv_close((uv_handle_t *)&d->sig_int, NULL);
	uv_close((uv_handle_t *)&d->sig_hup, NULL);
}

static void on_all_stopped(void *opaque, int status)
{
	struct rv_daemon *d = opaque;

	(void)status;
	rv_info("every VM is stopped");
	rv_supervisor_destroy(d->sup);
	d->sup = NULL;
	close_signals(d);
}

void rv__daemon_shutdown(struct rv_daemon *d)
{
	if (d->stopping) {
		rv_info("already stopping");
		return;
	}
	d->stopping = true;
	rv_info("stopping");
	rv__daemon_notify(d, "STOPPING=1");
	rv__server_destroy(d->server);
	d->server = NULL;
	if (d->sup && rv_supervisor_stop_all(d->sup, d->shutdown_timeout,
					     on_all_stopped, d) == 0)
		return;
	rv_supervisor_destroy(d->sup);
	d->sup = NULL;
	close_signals(d);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct rv_daemon *d = s->data;

	if (signum == SIGHUP) {
		rv_info("SIGHUP: nothing to reload");
		return;
	}
	rv_info("%s received", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	rv__daemon_shutdown(d);
}

static int watch_signals(struct rv_daemon *d)
{
	uv_signal_t *s[] = { &d->sig_term, &d->sig_int, &d->sig_hup };
	int nums[] = { SIGTERM, SIGINT, SIGHUP };
	size_t i;
	int rc;

	for (i = 0; i < RV_ARRAY_SIZE(s); i++) {
		uv_signal_init(d->loop, s[i]);
		s[i]->data = d;
	}
	d->signals = true;
	for (i = 0; i < RV_ARRAY_SIZE(s); i++) {
		rc = uv_signal_start(s[i], on_signal, nums[i]);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */

static void daemon_free(struct rv_daemon *d)
{
	free(d->state_dir);
	free(d->runtime_dir);
	free(d->socket_path);
	free(d->notify_socket);
}

/* Runs the loop until no handle is left, so close callbacks complete. */
static void drain(uv_loop_t *loop)
{
	while (uv_run(loop, UV_RUN_DEFAULT))
		;
}

static int start(struct rv_daemon *d)
{
	struct rv_supervisor_config sc = { 0 };
	int rc;

	rc = make_dir(d->state_dir, 0750, (gid_t)-1);
	if (!rc)
		rc = make_dir(d->runtime_dir, 0750, d->sock_gid);
	if (rc)
		return rc;
	rc = rv__store_open(d->state_dir, &d->store);
	if (rc)
		return rc;
	sc.run_dir = d->runtime_dir;
	sc.on_state = rv__handlers_on_state;
	sc.opaque = d;
	rc = rv_supervisor_create(d->loop, &sc, &d->sup);
	if (rc) {
		rv_warn("no supervisor (%s): VMs cannot be started",
			strerror(-rc));
		d->sup = NULL;
	}
	rc = rv__server_create(d, &d->server);
	if (rc)
		return rc;
	rc = watch_signals(d);
	if (rc) {
		rv_error("cannot watch signals: %s", uv_strerror(rc));
		return rc;
	}
	return startup_vms(d) == -ENOMEM ? -ENOMEM : 0;
}

int rv_daemon_main(int argc, char **argv)
{
	struct rv_daemon_options o = { .shutdown_timeout =
					       DEFAULT_SHUTDOWN_TIMEOUT };
	enum rv_log_level level = RV_LOG_INFO;
	struct rv_daemon d = { 0 };
	const char *ns;
	int rc;

	rc = parse_options(argc, argv, &o, &level);
	if (rc)
		return rc > 0 ? 0 : 2;
	rv_log_set_level(level);
	if (rv__handlers_check())
		return 1;
	d.uid = geteuid();
	d.shutdown_timeout = o.shutdown_timeout;
	ns = getenv("NOTIFY_SOCKET");
	if (ns) {
		d.notify_socket = strdup(ns);
		/* Workers must not talk to systemd in the daemon's name. */
		unsetenv("NOTIFY_SOCKET");
	}
	rc = resolve_paths(&d, &o);
	if (rc) {
		daemon_free(&d);
		return 1;
	}
	pick_group(&d);
	raise_fd_limit();
	signal(SIGPIPE, SIG_IGN);
	if (chdir("/"))
		rv_warn("cannot change to /: %m");
	d.loop = uv_default_loop();
	d.start_ms = uv_now(d.loop);
	rc = start(&d);
	if (rc) {
		d.stopping = true;
		rv__server_destroy(d.server);
		rv_supervisor_destroy(d.sup);
		close_signals(&d);
		drain(d.loop);
		rv__store_close(d.store);
		uv_loop_close(d.loop);
		daemon_free(&d);
		return 1;
	}
	rv_info("raevmd %s listening on %s (store %s, group '%s')",
		RAEVM_VERSION, d.socket_path, d.state_dir, d.sock_group);
	rv__daemon_notify(&d, "READY=1\nSTATUS=listening");
	drain(d.loop);
	rv__store_close(d.store);
	if (uv_loop_close(d.loop))
		rv_debug("loop closed with handles open");
	rv_info("stopped");
	daemon_free(&d);
	return d.exit_code;
}
