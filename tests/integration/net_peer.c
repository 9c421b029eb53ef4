/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host side of the networking tests and benchmark (test_net.sh,
 * tests/bench/net.sh): small socket programs that talk to the test guests
 * (tests/guests/net_*.c). Built by the scripts with the host compiler, so
 * they need neither Python nor socat.
 *
 *   net_peer udp-recv ADDR PORT TIMEOUT_MS        one datagram, printed
 *   net_peer udp-ping ADDR PORT MSG TIMEOUT_MS    send until it comes back
 *   net_peer tcp-echo ADDR PORT TIMEOUT_MS        serve one echo connection
 *   net_peer tcp-check ADDR PORT BYTES TIMEOUT_MS send the pattern, read it back
 *   net_peer tcp-sink ADDR PORT TIMEOUT_MS        count one stream's bytes
 *   net_peer tcp-source ADDR PORT BYTES TIMEOUT_MS send BYTES, then close
 *   net_peer tcp-hold ADDR PORT TIMEOUT_MS        keep a port listening
 *
 * Listeners accept PORT 0 (the kernel picks one) and print "ready PORT"
 * once they listen, so a script can wait for that line. Everything is
 * bounded by TIMEOUT_MS: exit 0 on success, 1 on a usage or socket error,
 * 2 on a data mismatch, 3 on a timeout. The pattern byte at offset i is
 * (i * 7 + (i >> 11)) & 0xff, the same as the net_tcp guest's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 7 + (i >> 11));
}

static int addr_of(const char *host, const char *port, struct sockaddr_in *sa)
{
	char *end;
	long p = strtol(port, &end, 10);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (*end || p < 0 || p > 65535 ||
	    inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
		fprintf(stderr, "net_peer: bad address %s:%s\n", host, port);
		return -1;
	}
	sa->sin_port = htons((uint16_t)p);
	return 0;
}

/* Waits for fd to become readable (or writable) until deadline. */
static int wait_fd(int fd, short ev, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	uint64_t now = now_ms();
	int r;

	if (now >= deadline)
		return 0;
	do {
		r = poll(&p, 1, (int)(deadline - now));
	} while (r < 0 && errno == EINTR);
	return r;
}

static int listen_on(int type, struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int one = 1;
	int fd = socket(AF_INET, type, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)sa, sizeof(*sa)) ||
	    (type == SOCK_STREAM && listen(fd, 4)) ||
	    getsockname(fd, (struct sockaddr *)sa, &len)) {
		fprintf(stderr, "net_peer: %s:%u: %s\n",
			inet_ntoa(sa->sin_addr), ntohs(sa->sin_port),
			strerror(errno));
		close(fd);
		return -1;
	}
	printf("ready %u\n", ntohs(sa->sin_port));
	fflush(stdout);
	return fd;
}

static int accept_one(int lfd, uint64_t deadline)
{
	if (wait_fd(lfd, POLLIN, deadline) <= 0) {
		fprintf(stderr, "net_peer: nobody connected in time\n");
		return -3;
	}
	return accept(lfd, NULL, NULL);
}

static int udp_recv(struct sockaddr_in *sa, uint64_t deadline)
{
	char buf[2048];
	int fd = listen_on(SOCK_DGRAM, sa);
	ssize_t n;

	if (fd < 0)
		return 1;
	if (wait_fd(fd, POLLIN, deadline) <= 0) {
		printf("nothing\n");
		return 3;
	}
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return 1;
	buf[n] = 0;
	printf("got %s\n", buf);
	return 0;
}

static int udp_ping(struct sockaddr_in *sa, const char *msg, uint64_t deadline)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	size_t len = strlen(msg);
	char buf[2048];

	if (fd < 0 || connect(fd, (struct sockaddr *)sa, sizeof(*sa)))
		return 1;
	/* Datagrams may be lost: resend every 200 ms until the echo. */
	while (now_ms() < deadline) {
		uint64_t next = now_ms() + 200;

		if (send(fd, msg, len, 0) < 0 && errno != ECONNREFUSED)
			return 1;
		while (wait_fd(fd, POLLIN, next < deadline ? next : deadline) >
		       0) {
			ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

			if (n < 0)
				break;
			buf[n] = 0;
			if ((size_t)n == len && !memcmp(buf, msg, len)) {
				printf("echo %s\n", buf);
				return 0;
			}
		}
	}
	printf("no echo\n");
	return 3;
}

static int tcp_echo(struct sockaddr_in *sa, uint64_t deadline)
{
	int lfd = listen_on(SOCK_STREAM, sa), fd;
	uint64_t total = 0;
	char buf[65536];

	if (lfd < 0)
		return 1;
	fd = accept_one(lfd, deadline);
	if (fd < 0)
		return fd == -3 ? 3 : 1;
	for (;;) {
		ssize_t n;

		if (wait_fd(fd, POLLIN, deadline) <= 0)
			return 3;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));

			if (w < 0)
				return 1;
			off += w;
		}
		total += (uint64_t)n;
	}
	close(fd);
	printf("echoed %llu\n", (unsigned long long)total);
	return 0;
}

static int tcp_check(struct sockaddr_in *sa, uint64_t bytes, uint64_t deadline)
{
	uint64_t sent = 0, got = 0;
	uint8_t buf[65536];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)sa, sizeof(*sa))) {
		fprintf(stderr, "net_peer: connect: %s\n", strerror(errno));
		return 1;
	}
	while (got < bytes) {
		struct pollfd p = {
			.fd = fd,
			.events = (short)(POLLIN | (sent < bytes ? POLLOUT : 0))
		};
		uint64_t now = now_ms();

		if (now >= deadline ||
		    poll(&p, 1, (int)(deadline - now)) <= 0) {
			fprintf(stderr,
				"net_peer: timeout after %llu of %llu "
				"bytes back\n",
				(unsigned long long)got,
				(unsigned long long)bytes);
			return 3;
		}
		if ((p.revents & POLLOUT) && sent < bytes) {
			size_t n = bytes - sent < sizeof(buf) ? bytes - sent :
								sizeof(buf);
			ssize_t w;

			for (size_t i = 0; i < n; i++)
				buf[i] = pattern(sent + i);
			w = write(fd, buf, n);
			if (w < 0)
				return 1;
			sent += (uint64_t)w;
			if (sent == bytes)
				shutdown(fd, SHUT_WR);
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(fd, buf, sizeof(buf));

			if (n <= 0) {
				fprintf(stderr,
					"net_peer: stream ended after "
					"%llu of %llu bytes\n",
					(unsigned long long)got,
					(unsigned long long)bytes);
				return 2;
			}
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] != pattern(got + (uint64_t)i)) {
					fprintf(stderr,
						"net_peer: byte %llu "
						"differs\n",
						(unsigned long long)(got +
								     (uint64_t)
									     i));
					return 2;
				}
			}
			got += (uint64_t)n;
		}
	}
	printf("ok %llu\n", (unsigned long long)got);
	return 0;
}

static int tcp_sink(struct sockaddr_in *sa, uint64_t deadline)
{
	int lfd = listen_on(SOCK_STREAM, sa), fd;
	static char buf[1 << 20];
	uint64_t total = 0;
	double t0, t1;

	if (lfd < 0)
		return 1;
	fd = accept_one(lfd, deadline);
	if (fd < 0)
		return fd == -3 ? 3 : 1;
	t0 = now_s();
	for (;;) {
		ssize_t n;

		if (wait_fd(fd, POLLIN, deadline) <= 0)
			return 3;
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		total += (uint64_t)n;
	}
	t1 = now_s();
	close(fd);
	printf("bytes=%llu secs=%.3f MBps=%.1f\n", (unsigned long long)total,
	       t1 - t0, t1 > t0 ? (double)total / (t1 - t0) / 1e6 : 0.0);
	return 0;
}

static int tcp_source(struct sockaddr_in *sa, uint64_t bytes, uint64_t deadline)
{
	int lfd = listen_on(SOCK_STREAM, sa), fd;
	static uint8_t buf[1 << 16];
	uint64_t sent = 0;
	double t0, t1;

	if (lfd < 0)
		return 1;
	fd = accept_one(lfd, deadline);
	if (fd < 0)
		return fd == -3 ? 3 : 1;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern(i);
	t0 = now_s();
	while (sent < bytes) {
		size_t n = bytes - sent < sizeof(buf) ? bytes - sent :
							sizeof(buf);
		ssize_t w;

		if (wait_fd(fd, POLLOUT, deadline) <= 0)
			return 3;
		w = write(fd, buf, n);
		if (w < 0)
			return 1;
		sent += (uint64_t)w;
	}
	shutdown(fd, SHUT_WR);
	/* Wait for the guest's FIN: everything then arrived. */
	while (wait_fd(fd, POLLIN, deadline) > 0 && read(fd, buf, 1) > 0)
		;
	t1 = now_s();
	close(fd);
	printf("bytes=%llu secs=%.3f MBps=%.1f\n", (unsigned long long)sent,
	       t1 - t0, t1 > t0 ? (double)sent / (t1 - t0) / 1e6 : 0.0);
	return 0;
}

static int tcp_hold(struct sockaddr_in *sa, uint64_t deadline)
{
	int lfd = listen_on(SOCK_STREAM, sa);
	uint64_t now;

	if (lfd < 0)
		return 1;
	/* Until the script kills it or the time is up; never accepts. */
	while ((now = now_ms()) < deadline)
		poll(NULL, 0, (int)(deadline - now));
	close(lfd);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa;
	const char *mode;
	uint64_t deadline;

	if (argc < 5 || addr_of(argv[2], argv[3], &sa)) {
		fprintf(stderr, "usage: net_peer MODE ADDR PORT [ARG] "
				"TIMEOUT_MS (see net_peer.c)\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	mode = argv[1];
	deadline = now_ms() + strtoull(argv[argc - 1], NULL, 10);
	if (!strcmp(mode, "udp-recv"))
		return udp_recv(&sa, deadline);
	if (!strcmp(mode, "tcp-echo"))
		return tcp_echo(&sa, deadline);
	if (!strcmp(mode, "tcp-sink"))
		return tcp_sink(&sa, deadline);
	if (!strcmp(mode, "tcp-hold"))
		return tcp_hold(&sa, deadline);
	if (argc < 6)
		return 1;
	if (!strcmp(mode, "udp-ping"))
		return udp_ping(&sa, argv[4], deadline);
	if (!strcmp(mode, "tcp-check"))
		return tcp_check(&sa, strtoull(argv[4], NULL, 10), deadline);
	if (!strcmp(mode, "tcp-source"))
		return tcp_source(&sa, strtoull(argv[4], NULL, 10), deadline);
	fprintf(stderr, "net_peer: unknown mode %s\n", mode);
	return 1;
}
