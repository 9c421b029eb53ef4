#!/usr/bin/env bash
# Control API benchmark (issue 4, item 8), against a private daemon whose
# socket, store and runtime folder live in a temporary folder:
#  1. round trip: one connection, N sequential `daemon.version` requests,
#     each timed with clock_gettime(CLOCK_MONOTONIC): p50/p99/max in us;
#  2. create+start rate: VMS tiny VMs (build/guests/hello.elf, 16M, 1 cpu)
#     are created, then started with pipelined `vm.start` requests on one
#     connection; the clock runs from the first start request until
#     events.subscribe has reported every VM `running` or `stopped`.
# The VMs are deleted and the daemon stopped with SIGTERM afterwards.
# The client is a small C program compiled here with the system cc, because
# per-request timing needs more than socat.
set -u
BUILD=${1:-build}
N=${N:-5000}
VMS=${VMS:-50}
WAIT=${WAIT:-60} # seconds: a bound against hangs, not a timing assertion
RAEVMD=$BUILD/raevmd
GUEST=$BUILD/guests/hello.elf
OUT=$(mktemp -d)
DPID=

. "$(dirname "$0")/lib.sh"
bench_need "" "$GUEST" "$RAEVMD"
CC=${CC:-cc}
if ! pkg-config --exists json-c; then
	echo "bench: SKIP: json-c development files are not installed" >&2
	exit 0
fi

# stop_daemon: SIGTERM, then the daemon must be gone within $WAIT seconds.
stop_daemon() {
	local i
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null
	for ((i = 0; i < WAIT * 20; i++)); do
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$DPID" 2>/dev/null; then
		echo "bench: the daemon did not stop on SIGTERM; killing it" >&2
		kill -KILL "$DPID"
	fi
	wait "$DPID" 2>/dev/null
	DPID=
}
cleanup() {
	stop_daemon
	rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

cat >"$OUT/apibench.c" <<'EOF'
/*
 * apibench SOCKET N VMS KERNEL: the two measurements described in
 * tests/bench/api.sh. Prints result lines on stdout, errors on stderr, and
 * exits non-zero when the daemon misbehaves or a step times out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#define TIMEOUT_MS 60000
#define SUBSCRIBE "{\"id\":0,\"cmd\":\"events.subscribe\"}\n"

struct conn {
	int fd;
	char buf[1 << 20];
	size_t len;
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	c->len = 0;
	return 0;
}

static int send_all(struct conn *c, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(c->fd, s, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one line (without its '\n') into out; waits at most TIMEOUT_MS. */
static int read_line(struct conn *c, char *out, size_t cap)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (nl) {
			size_t n = (size_t)(nl - c->buf);

			if (n >= cap)
				return -EMSGSIZE;
			memcpy(out, c->buf, n);
			out[n] = 0;
			c->len -= n + 1;
			memmove(c->buf, nl + 1, c->len);
			return 0;
		}
		if (c->len == sizeof(c->buf))
			return -EMSGSIZE;
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int r = poll(&p, 1, TIMEOUT_MS);

		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return -errno;
		ssize_t got = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);

		if (got == 0)
			return -ECONNRESET;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c->len += (size_t)got;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_get_string(v);
}

static int round_trip(const char *path, int n)
{
	static char line[1 << 16];
	struct conn *c = calloc(1, sizeof(*c));
	double *t = calloc((size_t)n, sizeof(*t));
	char req[128];
	int i, r;

	if (!c || !t)
		return -ENOMEM;
	r = conn_open(c, path);
	if (r == 0)
		r = read_line(c, line, sizeof(line));
	if (r < 0 || !strstr(line, "\"raevm\"")) {
		fprintf(stderr, "apibench: no greeting: %s\n", strerror(-r));
		return r ? r : -EPROTO;
	}
	for (i = 0; i < n; i++) {
		int len = snprintf(req, sizeof(req),
				   "{\"id\":%d,\"cmd\":\"daemon.version\"}\n", i);
		double t0 = now_us();

		r = send_all(c, req, (size_t)len);
		if (r == 0)
			r = read_line(c, line, sizeof(line));
		t[i] = now_us() - t0;
		if (r < 0 || !strstr(line, "\"ok\":true")) {
			fprintf(stderr, "apibench: request %d: %s: %.200s\n", i,
				strerror(-r), r ? "" : line);
			return r ? r : -EPROTO;
		}
	}
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("round trip (%d x daemon.version): p50 %.1f us, p99 %.1f us, max %.1f us (target p99 < 1000 us)\n",
	       n, t[n / 2], t[(size_t)(n * 0.99)], t[n - 1]);
	fflush(stdout);
	close(c->fd);
	free(c);
	free(t);
	return 0;
}

/*
 * Reads lines until the reply with id `want`, feeding each vm.state event
 * to the seen[] bookkeeping. want < 0: return after the first line.
 */
struct vmstate {
	int vms;
	char *done;	/* reported running or stopped at least once */
	char *ended;	/* currently without a worker */
	int ndone, nended;
	double t_last;
};

static int vm_index(const char *name, int vms)
{
	int i;

	if (!name || strncmp(name, "bench", 5))
		return -1;
	i = atoi(name + 5);
	return i >= 0 && i < vms ? i : -1;
}

static int handle(struct vmstate *s, const char *line, int *reply_id, int *ok)
{
	struct json_object *o = json_tokener_parse(line), *v;
	const char *ev;

	*reply_id = -1;
	if (!o)
		return -EPROTO;
	ev = jstr(o, "event");
	if (ev && !strcmp(ev, "vm.state") && json_object_object_get_ex(o, "data", &v)) {
		const char *st = jstr(v, "state");
		int i = vm_index(jstr(v, "name"), s->vms);

		if (i >= 0 && st) {
			if (!s->done[i] && (!strcmp(st, "running") || !strcmp(st, "stopped"))) {
				s->done[i] = 1;
				s->ndone++;
				if (s->ndone == s->vms)
					s->t_last = now_us();
			}
			int end = !strcmp(st, "stopped") || !strcmp(st, "crashed");

			if (end != s->ended[i]) {
				s->ended[i] = (char)end;
				s->nended += end ? 1 : -1;
			}
		}
	} else if (json_object_object_get_ex(o, "ok", &v)) {
		*ok = json_object_get_boolean(v);
		if (json_object_object_get_ex(o, "id", &v))
			*reply_id = json_object_get_int(v);
	}
	json_object_put(o);
	return 0;
}

/* Sends count requests made by fmt (with the VM index) and reads replies. */
static int pipeline(struct conn *c, struct vmstate *s, const char *fmt,
		    const char *kernel, int id0, int quiet_err)
{
	static char req[1 << 20], line[1 << 16];
	size_t len = 0;
	int i, got = 0, r, fails = 0;

	for (i = 0; i < s->vms; i++)
		len += (size_t)snprintf(req + len, sizeof(req) - len, fmt,
					id0 + i, i, kernel);
	r = send_all(c, req, len);
	if (r < 0)
		return r;
	while (got < s->vms) {
		int id, ok = 0;

		r = read_line(c, line, sizeof(line));
		if (r < 0)
			return r;
		r = handle(s, line, &id, &ok);
		if (r < 0)
			return r;
		if (id < id0 || id >= id0 + s->vms)
			continue;
		got++;
		if (!ok && !quiet_err) {
			fprintf(stderr, "apibench: %.300s\n", line);
			fails++;
		}
	}
	return fails ? -EPROTO : 0;
}

static int wait_until(struct conn *c, struct vmstate *s, int *count, int want)
{
	static char line[1 << 16];
	int id, ok, r;

	while (*count < want) {
		r = read_line(c, line, sizeof(line));
		if (r < 0)
			return r;
		r = handle(s, line, &id, &ok);
		if (r < 0)
			return r;
	}
	return 0;
}

static int start_rate(const char *path, int vms, const char *kernel)
{
	static char line[1 << 16];
	struct conn *c = calloc(1, sizeof(*c));
	struct vmstate s = { .vms = vms };
	double t0;
	int r;

	s.done = calloc((size_t)vms, 1);
	s.ended = calloc((size_t)vms, 1);
	if (!c || !s.done || !s.ended)
		return -ENOMEM;
	r = conn_open(c, path);
	if (r == 0)
		r = read_line(c, line, sizeof(line));
	if (r == 0)
		r = send_all(c, SUBSCRIBE, strlen(SUBSCRIBE));
	if (r == 0)
		r = read_line(c, line, sizeof(line));
	if (r < 0 || !strstr(line, "\"ok\":true")) {
		fprintf(stderr, "apibench: events.subscribe failed: %s\n", strerror(-r));
		return r ? r : -EPROTO;
	}
	r = pipeline(c, &s,
		     "{\"id\":%d,\"cmd\":\"vm.create\",\"args\":{\"manifest\":"
		     "{\"raevm\":1,\"name\":\"bench%d\",\"memory\":\"16M\",\"cpus\":1,"
		     "\"boot\":{\"kernel\":\"%s\"}}}}\n", kernel, 1000, 0);
	if (r < 0) {
		fprintf(stderr, "apibench: vm.create: %s\n", strerror(-r));
		return r;
	}
	/* Only states reported after the first start request count. */
	memset(s.done, 0, (size_t)vms);
	s.ndone = 0;
	s.nended = vms;
	memset(s.ended, 1, (size_t)vms);
	t0 = now_us();
	r = pipeline(c, &s, "{\"id\":%d,\"cmd\":\"vm.start\",\"args\":{\"name\":\"bench%d\"}}\n%.0s",
		     "", 2000, 1);
	if (r == 0)
		r = wait_until(c, &s, &s.ndone, vms);
	if (r < 0) {
		fprintf(stderr, "apibench: vm.start: %s (%d of %d reported)\n",
			strerror(-r), s.ndone, vms);
		return r;
	}
	printf("create+start: %d VMs running or stopped in %.1f ms: %.1f VM starts/s (target >= 50/s)\n",
	       vms, (s.t_last - t0) / 1e3, vms / ((s.t_last - t0) / 1e6));
	/* hello exits at once; kill whatever still runs, then delete. */
	if (s.nended < vms) {
		r = pipeline(c, &s, "{\"id\":%d,\"cmd\":\"vm.kill\",\"args\":{\"name\":\"bench%d\"}}\n%.0s",
			     "", 3000, 1);
		if (r == 0)
			r = wait_until(c, &s, &s.nended, vms);
		if (r < 0)
			return r;
	}
	r = pipeline(c, &s, "{\"id\":%d,\"cmd\":\"vm.delete\",\"args\":{\"name\":\"bench%d\"}}\n%.0s",
		     "", 4000, 0);
	if (r < 0)
		fprintf(stderr, "apibench: vm.delete: %s\n", strerror(-r));
	close(c->fd);
	free(c);
	free(s.done);
	free(s.ended);
	return r;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: apibench SOCKET N VMS KERNEL\n");
		return 2;
	}
	if (round_trip(argv[1], atoi(argv[2])) < 0)
		return 1;
	if (start_rate(argv[1], atoi(argv[3]), argv[4]) < 0)
		return 1;
	return 0;
}
EOF
# shellcheck disable=SC2046
if ! "$CC" -O2 -std=gnu11 -Wall -o "$OUT/apibench" "$OUT/apibench.c" \
	$(pkg-config --cflags --libs json-c) 2>"$OUT/cc.err"; then
	echo "bench: could not compile the API client: $(head -c 600 "$OUT/cc.err")" >&2
	exit 1
fi

SOCK=$OUT/run/raevmd.sock
"$RAEVMD" daemon --socket "$SOCK" --state-dir "$OUT/state" \
	--runtime-dir "$OUT/run" -q >"$OUT/daemon.log" 2>&1 &
DPID=$!
for ((i = 0; i < WAIT * 20; i++)); do
	[ -S "$SOCK" ] && break
	kill -0 "$DPID" 2>/dev/null || break
	sleep 0.05
done
if [ ! -S "$SOCK" ]; then
	echo "bench: the daemon did not start: $(head -c 600 "$OUT/daemon.log")" >&2
	exit 1
fi

echo "control API, private daemon, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$OUT/apibench" "$SOCK" "$N" "$VMS" "$(realpath "$GUEST")"
st=$?
left=$(ls "$OUT/state/vms" 2>/dev/null | wc -l)
stop_daemon
if [ "$left" != 0 ]; then
	echo "bench: $left VM folders left in the store" >&2
	st=1
fi
if [ "$st" != 0 ]; then
	echo "bench: daemon log: $(tail -c 600 "$OUT/daemon.log")" >&2
fi
exit "$st"
