// SPDX-License-Identifier: Apache-2.0
/*
 * A test driver for the VM supervisor (include/raevm/supervisor.h), used by
 * tests/integration/test_supervisor.sh. It is a test program linked against
 * libraevm.a, not part of raevmd.
 *
 *   supervisor_driver RUN_DIR WORKER_EXE [--fast]
 *
 * reads one command per line on stdin and prints one line per result and
 * per state event on stdout (flushed at once):
 *
 *   start NAME VMDIR MANIFEST POLICY        -> "ok start NAME", later
 *                                               "done start NAME STATUS"
 *   restart NAME VMDIR MANIFEST POLICY T    -> likewise
 *   adopt NAME VMDIR MANIFEST POLICY        -> "done adopt NAME STATUS"
 *   stop NAME force|graceful TIMEOUT        -> "done stop NAME STATUS"
 *   kill NAME [SIGNAL] | pause NAME | resume NAME
 *   info NAME   -> "info NAME state=S pid=P restarts=N pending=B
 *                   adopted=B code=C reason=..."
 *   startup NAME:VMDIR:MANIFEST:POLICY:AUTOSTART ...  -> "done startup N"
 *   stopall TIMEOUT                          -> "done stopall STATUS"
 *   view ID NAME FILE   attach a console viewer that appends to FILE
 *   stall ID NAME       attach a viewer that never reads
 *   unstall ID FILE     start reading a stalled viewer into FILE
 *   type ID TEXT...     send TEXT and a newline through viewer ID
 *   detach              destroy the supervisor (workers keep running), exit
 * Errors print "err CMD NAME ERRNO". Events print
 *   "event NAME STATE restarting=B delay=MS pid=P status=S signal=G
 *    code=C reason=..."
 * --fast shortens the restart backoff (200 ms doubling to 800 ms, 3
 * restarts per minute), the autostart stagger (50 ms) and caps console.log
 * at 8 KiB, so the policy and rotation cases run in seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "raevm/api.h"
#include "raevm/manifest.h"
#include "raevm/supervisor.h"

#define MAX_VIEWERS 8
#define MAX_STARTUP 16

struct viewer {
	bool used;
	bool reading;
	uv_pipe_t pipe;
	int out_fd;
};

struct driver {
	uv_loop_t *loop;
	struct rv_supervisor *sup;
	uv_pipe_t in;
	char line[4096];
	size_t len;
	struct viewer viewers[MAX_VIEWERS];
	struct rv_sup_vm startup[MAX_STARTUP];
	char *startup_text;
	bool quitting;
};

/* A completion for a named request. */
struct done_ctx {
	char what[16];
	char name[80];
};

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* "0" or the errno's name, also for errnos the API table lacks. */
static const char *errname(int status)
{
	const char *name = status ? strerrorname_np(-status) : "0";

	return name ? name : "E?";
}

static void on_done(void *opaque, int status)
{
	struct done_ctx *d = opaque;

	if (d->name[0])
		out("done %s %s %s", d->what, d->name, errname(status));
	else
		out("done %s %d", d->what, status);
	free(d);
}

static struct done_ctx *ctx(const char *what, const char *name)
{
	struct done_ctx *d = calloc(1, sizeof(*d));

	if (d) {
		snprintf(d->what, sizeof(d->what), "%s", what);
		snprintf(d->name, sizeof(d->name), "%s", name ? name : "");
	}
	return d;
}

/* Reports a synchronous result; on error the completion never comes. */
static void result(const char *what, const char *name, int rc,
		   struct done_ctx *d)
{
	if (rc) {
		out("err %s %s %s", what, name, rv_api_errno_name(rc));
		free(d);
	} else {
		out("ok %s %s", what, name);
	}
}

static void on_state(void *opaque, const struct rv_sup_event *ev)
{
	(void)opaque;
	out("event %s %s restarting=%d delay=%llu pid=%d status=%d signal=%d "
	    "code=%d reason=%s",
	    ev->name, rv_sup_state_name(ev->state), ev->restarting,
	    (unsigned long long)ev->restart_delay_ms, ev->pid, ev->exit_status,
	    ev->term_signal, ev->guest_code, ev->reason);
}

static int parse_policy(const char *s, enum rv_restart_policy *p)
{
	return s ? rv_manifest_restart_parse(s, p) : -EINVAL;
}

static void cmd_info(struct driver *dr, const char *name)
{
	struct rv_sup_info in;
	int rc = rv_supervisor_info(dr->sup, name, &in);

	if (rc) {
		out("err info %s %s", name, rv_api_errno_name(rc));
		return;
	}
	out("info %s state=%s pid=%d restarts=%u pending=%d adopted=%d "
	    "code=%d uptime=%llu reason=%s",
	    in.name, rv_sup_state_name(in.state), in.pid, in.restarts,
	    in.restart_pending, in.adopted, in.guest_code,
	    (unsigned long long)in.uptime_s, in.reason);
}

/* ---------------------------------------------------------------------- */
/* Console viewers                                                        */

static void on_view_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char b[65536];

	(void)h;
	(void)hint;
	buf->base = b;
	buf->len = sizeof(b);
}

static void on_view_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct viewer *v = s->data;

	if (n > 0 && v->out_fd >= 0 && write(v->out_fd, buf->base, (size_t)n))
		return;
	if (n < 0)
		uv_read_stop(s);
}

static struct viewer *viewer_at(struct driver *dr, const char *id)
{
	int i = id ? atoi(id) : -1;

	return i >= 0 && i < MAX_VIEWERS ? &dr->viewers[i] : NULL;
}

static void view_read(struct viewer *v, const char *file)
{
	v->out_fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (uv_read_start((uv_stream_t *)&v->pipe, on_view_alloc,
			  on_view_read) == 0)
		v->reading = true;
}

static void cmd_view(struct driver *dr, const char *id, const char *name,
		     const char *file)
{
	struct viewer *v = viewer_at(dr, id);
	int fd;

	if (!v || v->used || !name) {
		out("err view %s EINVAL", id ? id : "?");
		return;
	}
	fd = rv_supervisor_console_connect(dr->sup, name);
	if (fd < 0) {
		out("err view %s %s", id, rv_api_errno_name(fd));
		return;
	}
	if (!file) {
		/* A stalled viewer: a small receive buffer fills soon. */
		int small = 4096;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	}
	uv_pipe_init(dr->loop, &v->pipe, 0);
	v->pipe.data = v;
	v->out_fd = -1;
	uv_pipe_open(&v->pipe, fd);
	v->used = true;
	if (file)
		view_read(v, file);
	out("ok view %s", id);
}

static void cmd_type(struct driver *dr, const char *id, const char *text)
{
	struct viewer *v = viewer_at(dr, id);
	char buf[1024];
	uv_buf_t b;
	int n;

	if (!v || !v->used || !text) {
		out("err type %s EINVAL", id ? id : "?");
		return;
	}
	n = snprintf(buf, sizeof(buf), "%s\n", text);
	b = uv_buf_init(buf, (unsigned int)n);
	/* Short lines into a socket with room: written at once. */
	n = uv_try_write((uv_stream_t *)&v->pipe, &b, 1);
	if (n < 0)
		out("err type %s %s", id, uv_err_name(n));
	else
		out("ok type %s", id);
}

/* ---------------------------------------------------------------------- */

static int fill_vm(struct rv_sup_vm *vm, char *name, char *dir, char *man,
		   char *policy)
{
	memset(vm, 0, sizeof(*vm));
	vm->name = name;
	vm->vm_dir = dir;
	vm->manifest = man;
	return name && dir && man ? parse_policy(policy, &vm->restart) :
				    -EINVAL;
}

static void cmd_startup(struct driver *dr, char *rest)
{
	char *save = NULL, *tok;
	size_t n = 0;
	int rc;

	free(dr->startup_text);
	dr->startup_text = strdup(rest ? rest : "");
	if (!dr->startup_text) {
		out("err startup - ENOMEM");
		return;
	}
	for (tok = strtok_r(dr->startup_text, " ", &save);
	     tok && n < MAX_STARTUP; tok = strtok_r(NULL, " ", &save)) {
		char *f[5], *s2 = NULL;
		int i;

		for (i = 0; i < 5; i++)
			f[i] = strtok_r(i ? NULL : tok, ":", &s2);
		if (fill_vm(&dr->startup[n], f[0], f[1], f[2], f[3]) || !f[4]) {
			out("err startup %s EINVAL", tok);
			return;
		}
		dr->startup[n++].autostart = strcmp(f[4], "1") == 0;
	}
	rc = rv_supervisor_startup(dr->sup, dr->startup, n, on_done,
				   ctx("startup", NULL));
	if (rc)
		out("err startup - %s", rv_api_errno_name(rc));
}

static void run_command(struct driver *dr, char *line)
{
	char *save = NULL, *cmd = strtok_r(line, " ", &save);
	char *a1 = strtok_r(NULL, " ", &save);
	struct rv_sup_vm vm;
	struct done_ctx *d;
	int rc;

	if (!cmd)
		return;
	if (strcmp(cmd, "type") == 0) {
		cmd_type(dr, a1, strtok_r(NULL, "", &save));
		return;
	}
	if (strcmp(cmd, "startup") == 0) {
		/* a1 was split off; glue the list back together. */
		char *rest = strtok_r(NULL, "", &save);
		char all[4096];

		snprintf(all, sizeof(all), "%s%s%s", a1 ? a1 : "",
			 rest ? " " : "", rest ? rest : "");
		cmd_startup(dr, all);
		return;
	}
	if (!a1) {
		out("err %s - EINVAL", cmd);
		return;
	}
	if (strcmp(cmd, "start") == 0 || strcmp(cmd, "adopt") == 0 ||
	    strcmp(cmd, "restart") == 0) {
		char *dir = strtok_r(NULL, " ", &save);
		char *man = strtok_r(NULL, " ", &save);
		char *pol = strtok_r(NULL, " ", &save);
		char *t = strtok_r(NULL, " ", &save);

		d = ctx(cmd, a1);
		rc = fill_vm(&vm, a1, dir, man, pol);
		if (!rc && cmd[0] == 's')
			rc = rv_supervisor_start(dr->sup, &vm, on_done, d);
		else if (!rc && cmd[0] == 'a')
			rc = rv_supervisor_adopt(dr->sup, &vm, on_done, d);
		else if (!rc)
			rc = rv_supervisor_restart(
				dr->sup, &vm, t ? (unsigned int)atoi(t) : 0,
				on_done, d);
		result(cmd, a1, rc, d);
	} else if (strcmp(cmd, "stop") == 0) {
		char *mode = strtok_r(NULL, " ", &save);
		char *t = strtok_r(NULL, " ", &save);

		d = ctx(cmd, a1);
		rc = rv_supervisor_stop(dr->sup, a1,
					mode && strcmp(mode, "force") == 0,
					t ? (unsigned int)atoi(t) : 0, on_done,
					d);
		result(cmd, a1, rc, d);
	} else if (strcmp(cmd, "kill") == 0) {
		char *sig = strtok_r(NULL, " ", &save);

		d = ctx(cmd, a1);
		rc = rv_supervisor_kill(dr->sup, a1, sig ? atoi(sig) : 0,
					on_done, d);
		result(cmd, a1, rc, d);
	} else if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "resume") == 0) {
		d = ctx(cmd, a1);
		rc = cmd[0] == 'p' ?
			     rv_supervisor_pause(dr->sup, a1, on_done, d) :
			     rv_supervisor_resume(dr->sup, a1, on_done, d);
		result(cmd, a1, rc, d);
	} else if (strcmp(cmd, "info") == 0) {
		cmd_info(dr, a1);
	} else if (strcmp(cmd, "stopall") == 0) {
		rc = rv_supervisor_stop_all(dr->sup, (unsigned int)atoi(a1),
					    on_done, ctx("stopall", NULL));
		if (rc)
			out("err stopall - %s", rv_api_errno_name(rc));
	} else if (strcmp(cmd, "view") == 0) {
		char *name = strtok_r(NULL, " ", &save);

		cmd_view(dr, a1, name, strtok_r(NULL, " ", &save));
	} else if (strcmp(cmd, "stall") == 0) {
		cmd_view(dr, a1, strtok_r(NULL, " ", &save), NULL);
	} else if (strcmp(cmd, "unstall") == 0) {
		struct viewer *v = viewer_at(dr, a1);
		char *file = strtok_r(NULL, " ", &save);

		if (v && v->used && !v->reading && file) {
			view_read(v, file);
			out("ok unstall %s", a1);
		} else {
			out("err unstall %s EINVAL", a1);
		}
	} else {
		out("err %s - EINVAL", cmd);
	}
}

static void close_all(struct driver *dr)
{
	unsigned int i;

	dr->quitting = true;
	for (i = 0; i < MAX_VIEWERS; i++)
		if (dr->viewers[i].used &&
		    !uv_is_closing((uv_handle_t *)&dr->viewers[i].pipe))
			uv_close((uv_handle_t *)&dr->viewers[i].pipe, NULL);
	if (!uv_is_closing((uv_handle_t *)&dr->in))
		uv_close((uv_handle_t *)&dr->in, NULL);
	rv_supervisor_destroy(dr->sup);
	dr->sup = NULL;
}

static void on_in_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct driver *dr = h->data;

	(void)hint;
	buf->base = dr->line + dr->len;
	buf->len = sizeof(dr->line) - 1 - dr->len;
}

static void on_in_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct driver *dr = s->data;
	char *nl;

	(void)buf;
	if (n < 0) {
		close_all(dr);
		return;
	}
	dr->len += (size_t)n;
	dr->line[dr->len] = '\0';
	while (!dr->quitting && (nl = strchr(dr->line, '\n'))) {
		size_t used = (size_t)(nl - dr->line) + 1;

		*nl = '\0';
		if (strcmp(dr->line, "detach") == 0)
			close_all(dr);
		else
			run_command(dr, dr->line);
		memmove(dr->line, dr->line + used, dr->len - used + 1);
		dr->len -= used;
	}
	if (dr->len >= sizeof(dr->line) - 1)
		dr->len = 0; /* an over-long line is dropped */
}

int main(int argc, char **argv)
{
	struct driver dr = { .loop = uv_default_loop() };
	struct rv_supervisor_config cfg = { .on_state = on_state };
	bool fast = argc > 3 && strcmp(argv[3], "--fast") == 0;
	int rc;

	if (argc < 3) {
		fprintf(stderr,
			"usage: supervisor_driver RUN_DIR WORKER_EXE [--fast]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	cfg.run_dir = argv[1];
	cfg.worker_exe = argv[2];
	cfg.opaque = &dr;
	if (fast) {
		cfg.backoff_min_ms = 200;
		cfg.backoff_max_ms = 800;
		cfg.restart_burst = 3;
		cfg.restart_window_ms = 60000;
		cfg.autostart_stagger_ms = 50;
		cfg.console_log_max = 8192;
	}
	rc = rv_supervisor_create(dr.loop, &cfg, &dr.sup);
	if (rc) {
		fprintf(stderr, "supervisor_driver: %s\n", strerror(-rc));
		return 1;
	}
	uv_pipe_init(dr.loop, &dr.in, 0);
	dr.in.data = &dr;
	if (uv_pipe_open(&dr.in, 0) ||
	    uv_read_start((uv_stream_t *)&dr.in, on_in_alloc, on_in_read)) {
		fprintf(stderr, "supervisor_driver: stdin must be a pipe\n");
		return 1;
	}
	out("ready");
	uv_run(dr.loop, UV_RUN_DEFAULT);
	free(dr.startup_text);
	uv_loop_close(dr.loop);
	return 0;
}
