// SPDX-License-Identifier: Apache-2.0
/*
 * The host end of the vsock tests and benchmark (tests/integration/
 * test_vsock.sh, tests/bench/vsock.sh): speaks Firecracker's hybrid vsock
 * on the VM's Unix socket. A test program, not part of raevmd.
 *
 *   vsock_peer connect SOCK PORT STREAMS BYTES   host -> guest echo: opens
 *       STREAMS connections ("CONNECT PORT\n", "OK <n>\n"), sends BYTES of
 *       the kit's pattern on each (seed 100 + stream), checks the echo byte
 *       for byte, shuts down writing, waits for the end of stream
 *   vsock_peer serve SOCK PORT STREAMS           guest -> host echo: listens
 *       on SOCK_PORT, echoes STREAMS connections until each ends
 *   vsock_peer hold SOCK PORT                    listens, accepts, never reads
 *   vsock_peer refused SOCK PORT                 a CONNECT the guest refuses:
 *       the connection must close without "OK"
 *   vsock_peer badline SOCK TEXT                 TEXT instead of CONNECT: the
 *       connection must close
 *   vsock_peer sink SOCK PORT                    listens, reads one stream to
 *       its end, prints the rate
 *   vsock_peer source SOCK PORT BYTES            connects, writes BYTES,
 *       prints the rate
 * Listening modes print "listening" once the socket is bound. Every wait
 * is bounded by VSOCK_PEER_TIMEOUT seconds (30). Exit status 0 on success,
 * 1 with one line on stderr otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_STREAMS 128
#define CHUNK (256 * 1024)

/*
 * The one I/O buffer of this single-threaded program, in .bss: the modes
 * used to malloc() theirs and never free it, which LeakSanitizer reported
 * whenever no stale copy of the pointer was left on the stack at exit.
 */
static uint8_t iobuf[1 << 20];

static int timeout_s = 30;

static uint8_t pat(uint32_t seed, uint64_t off)
{
	return (uint8_t)(off * 131 + (off >> 9) * 7 + seed * 29 + 11);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what)
{
	fprintf(stderr, "vsock_peer: %s\n", what);
	return 1;
}

static int unix_addr(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path))
		return -1;
	strcpy(a->sun_path, path);
	return 0;
}

/* Reads one "OK <port>\n" line byte by byte (so no data is taken). */
static int read_ok(int fd)
{
	char line[32];
	size_t n = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (n < sizeof(line) - 1) {
		if (poll(&p, 1, timeout_s * 1000) <= 0)
			return -1;
		if (read(fd, line + n, 1) != 1)
			return -1;
		if (line[n++] == '\n')
			break;
	}
	line[n] = '\0';
	return strncmp(line, "OK ", 3) == 0 ? 0 : -1;
}

/* A hybrid connect, retried (the guest may not listen yet). */
static int hybrid_connect(const char *sock, const char *port, bool retry)
{
	struct sockaddr_un a;
	double end = now_s() + timeout_s;
	char line[64];
	int fd;

	if (unix_addr(sock, &a))
		return -1;
	do {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0)
			return -1;
		snprintf(line, sizeof(line), "CONNECT %s\n", port);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		    write(fd, line, strlen(line)) == (ssize_t)strlen(line) &&
		    read_ok(fd) == 0)
			return fd;
		close(fd);
		if (retry) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };

			nanosleep(&ts, NULL); /* retry pacing, not a sync */
		}
	} while (retry && now_s() < end);
	return -1;
}

static int listen_on(const char *sock, const char *port)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct sockaddr_un a;
	int fd;

	snprintf(path, sizeof(path), "%s_%s", sock, port);
	if (unix_addr(path, &a))
		return -1;
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, MAX_STREAMS) < 0)
		return -1;
	printf("listening\n");
	fflush(stdout);
	return fd;
}

static int accept_one(int lfd)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	if (poll(&p, 1, timeout_s * 1000) <= 0)
		return -1;
	return accept(lfd, NULL, NULL);
}

/* ------------------------------------------------------------------------
 * Echo client: many streams, checked byte for byte.
 */
struct stream {
	int fd;
	uint64_t sent, got;
	bool shut, eof;
};

static int echo_step(struct stream *s, unsigned int i, uint64_t bytes,
		     short rev, uint8_t *buf)
{
	ssize_t n;

	if ((rev & POLLOUT) && s->sent < bytes) {
		size_t len = bytes - s->sent > CHUNK ?
				     CHUNK :
				     (size_t)(bytes - s->sent);

		for (size_t j = 0; j < len; j++)
			buf[j] = pat(100 + i, s->sent + j);
		n = send(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			return die("send failed");
		if (n > 0)
			s->sent += (uint64_t)n;
	}
	if (s->sent == bytes && !s->shut) {
		shutdown(s->fd, SHUT_WR);
		s->shut = true;
	}
	if (rev & (POLLIN | POLLHUP)) {
		n = recv(s->fd, buf, CHUNK, MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN)
			return die("recv failed");
		if (n == 0) {
			if (s->got != bytes) {
				fprintf(stderr,
					"vsock_peer: stream %u ended after "
					"%llu of %llu bytes\n",
					i, (unsigned long long)s->got,
					(unsigned long long)bytes);
				return 1;
			}
			s->eof = true;
		}
		for (ssize_t j = 0; j < n; j++) {
			if (buf[j] != pat(100 + i, s->got + (uint64_t)j)) {
				fprintf(stderr,
					"vsock_peer: stream %u: byte %llu "
					"differs\n",
					i, (unsigned long long)(s->got + j));
				return 1;
			}
		}
		if (n > 0)
			s->got += (uint64_t)n;
	}
	return 0;
}

static int do_connect(const char *sock, const char *port, unsigned int n,
		      uint64_t bytes)
{
	static struct stream st[MAX_STREAMS];
	struct pollfd p[MAX_STREAMS];
	uint8_t *buf = iobuf;
	double t0 = now_s(), end;
	unsigned int i, done = 0;

	if (!buf || n == 0 || n > MAX_STREAMS)
		return die("bad arguments");
	for (i = 0; i < n; i++) {
		st[i].fd = hybrid_connect(sock, port, true);
		if (st[i].fd < 0)
			return die("connect: no OK from the guest");
	}
	end = now_s() + timeout_s;
	while (done < n) {
		for (i = 0; i < n; i++) {
			p[i].fd = st[i].eof ? -1 : st[i].fd;
			p[i].events = POLLIN |
				      (st[i].sent < bytes ? POLLOUT : 0);
		}
		if (poll(p, n, 1000) < 0)
			return die("poll failed");
		for (i = 0; i < n; i++) {
			if (st[i].eof || !p[i].revents)
				continue;
			if (echo_step(&st[i], i, bytes, p[i].revents, buf))
				return 1;
			if (st[i].eof)
				done++;
		}
		if (now_s() > end)
			return die("timed out");
	}
	printf("ok streams=%u bytes=%llu ms=%.0f\n", n,
	       (unsigned long long)bytes * n, (now_s() - t0) * 1000);
	return 0;
}

/* ------------------------------------------------------------------------
 * Echo server for guest clients.
 */
static int do_serve(const char *sock, const char *port, unsigned int n)
{
	struct pollfd p[MAX_STREAMS + 1];
	uint8_t *buf = iobuf;
	unsigned int accepted = 0, done = 0, i;
	uint64_t total = 0;
	double end = now_s() + timeout_s;
	int lfd = listen_on(sock, port);

	if (lfd < 0 || !buf || n > MAX_STREAMS)
		return die("cannot listen");
	for (i = 0; i <= MAX_STREAMS; i++)
		p[i].fd = -1;
	p[0].fd = lfd;
	while (done < n) {
		for (i = 0; i <= n; i++)
			p[i].events = POLLIN;
		if (poll(p, n + 1, 1000) < 0)
			return die("poll failed");
		if ((p[0].revents & POLLIN) && accepted < n) {
			int fd = accept(lfd, NULL, NULL);

			if (fd >= 0)
				p[1 + accepted++].fd = fd;
		}
		for (i = 1; i <= n; i++) {
			ssize_t r;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			r = read(p[i].fd, buf, CHUNK);
			if (r <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				done++;
				continue;
			}
			/* Blocking write: the guest keeps reading. */
			if (write(p[i].fd, buf, (size_t)r) != r)
				return die("echo write failed");
			total += (uint64_t)r;
		}
		if (now_s() > end)
			return die("timed out");
	}
	printf("served streams=%u bytes=%llu\n", n, (unsigned long long)total);
	return 0;
}

/* ------------------------------------------------------------------------
 * The rest.
 */
static int do_hold(const char *sock, const char *port)
{
	int lfd = listen_on(sock, port), fd;

	if (lfd < 0)
		return die("cannot listen");
	fd = accept_one(lfd);
	if (fd < 0)
		return die("nobody connected");
	pause();
	return 0;
}

/* The connection must close without an OK line. */
static int expect_close(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, timeout_s * 1000) <= 0)
		return die("the connection stayed open");
	if (read(fd, &c, 1) > 0)
		return die("got data instead of a close");
	printf("closed\n");
	return 0;
}

static int do_refused(const char *sock, const char *port)
{
	struct sockaddr_un a;
	char line[64];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(line, sizeof(line), "CONNECT %s\n", port);
	if (fd < 0 || unix_addr(sock, &a) ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		return die("cannot connect");
	return expect_close(fd);
}

static int do_badline(const char *sock, const char *text)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0 || unix_addr(sock, &a) ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return die("cannot connect");
	return expect_close(fd);
}

static int do_sink(const char *sock, const char *port)
{
	uint8_t *buf = iobuf;
	int lfd = listen_on(sock, port), fd;
	uint64_t total = 0;
	double t0;
	ssize_t n;

	if (lfd < 0 || !buf)
		return die("cannot listen");
	fd = accept_one(lfd);
	if (fd < 0)
		return die("nobody connected");
	t0 = now_s();
	while ((n = read(fd, buf, 1 << 20)) > 0)
		total += (uint64_t)n;
	printf("sink bytes=%llu MB/s=%.1f\n", (unsigned long long)total,
	       (double)total / (now_s() - t0) / 1e6);
	return 0;
}

static int do_source(const char *sock, const char *port, uint64_t bytes)
{
	uint8_t *buf = iobuf;
	int fd = hybrid_connect(sock, port, true);
	uint64_t sent = 0;
	double t0;
	char c;

	if (fd < 0 || !buf)
		return die("connect: no OK from the guest");
	memset(buf, 0xa5, 1 << 20);
	t0 = now_s();
	while (sent < bytes) {
		size_t len = bytes - sent > (1 << 20) ? (1 << 20) :
							(size_t)(bytes - sent);
		ssize_t n = write(fd, buf, len);

		if (n <= 0)
			return die("write failed");
		sent += (uint64_t)n;
	}
	shutdown(fd, SHUT_WR);
	/* The guest closes once it has read everything. */
	if (read(fd, &c, 1) < 0)
		return die("read failed");
	printf("source bytes=%llu MB/s=%.1f\n", (unsigned long long)sent,
	       (double)sent / (now_s() - t0) / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	const char *t = getenv("VSOCK_PEER_TIMEOUT");

	signal(SIGPIPE, SIG_IGN);
	if (t && atoi(t) > 0)
		timeout_s = atoi(t);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 6 && !strcmp(argv[1], "connect"))
		return do_connect(argv[2], argv[3], (unsigned)atoi(argv[4]),
				  strtoull(argv[5], NULL, 0));
	if (argc == 5 && !strcmp(argv[1], "serve"))
		return do_serve(argv[2], argv[3], (unsigned)atoi(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "hold"))
		return do_hold(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "refused"))
		return do_refused(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "badline"))
		return do_badline(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "sink"))
		return do_sink(argv[2], argv[3]);
	if (argc == 5 && !strcmp(argv[1], "source"))
		return do_source(argv[2], argv[3], strtoull(argv[4], NULL, 0));
	fprintf(stderr, "usage: see tests/integration/vsock_peer.c\n");
	return 2;
}
