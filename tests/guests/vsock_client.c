/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsock client: opens streams=N (1) connections to the host (CID 2) port
 * port=P (1235), all at once, sends bytes=N (1 MiB) of the kit's vsock
 * pattern on each (seed = stream number), and checks byte for byte what
 * the host's echo server sends back; then shuts down its sending side,
 * waits for the host's end of stream and closes. expect=rst instead checks
 * that every connect is refused with an RST (nobody listens on the port).
 * Everything after the device set-up runs at CPL3.
 *
 * Prints "vsock_client: ok streams=N bytes=B" or "vsock_client: refused
 * streams=N". Exit codes: 10 no device, 11 open failed, 19 out of memory,
 * 20 bad arguments, 21 a connect was refused, 22 a connect was accepted
 * with expect=rst, 23 echoed data differs, 24 a stream was reset, 25 no
 * progress for timeout_ms (30000), 26 bad packets seen.
 */
#include "guest.h"
#include "vsock.h"

#define CHUNK VSOCK_MAX_PAYLOAD
#define MAX_STREAMS 100

struct cl {
	struct vsock v;
	uint32_t port;
	unsigned int n;
	uint64_t bytes, timeout_ms;
	bool expect_rst;
	int s[MAX_STREAMS];
	uint64_t sent[MAX_STREAMS], got[MAX_STREAMS];
	bool shut[MAX_STREAMS], eof[MAX_STREAMS];
	uint8_t *tx, *rx;
};

static struct cl c;

static int connect_all(void)
{
	uint64_t deadline = vsock_deadline_ms(c.timeout_ms);
	unsigned int i, open = 0, refused = 0;

	for (i = 0; i < c.n; i++) {
		c.s[i] = vsock_connect(&c.v, c.port);
		if (c.s[i] < 0)
			return 19;
	}
	while (open + refused < c.n) {
		open = refused = 0;
		for (i = 0; i < c.n; i++) {
			int r = vsock_connected(&c.v, c.s[i]);

			open += r == 1;
			refused += r < 0;
		}
		if (rdtsc() > deadline) {
			printf("vsock_client: %u of %u connects unanswered\n",
			       c.n - open - refused, c.n);
			return 25;
		}
	}
	if (c.expect_rst) {
		if (open) {
			printf("vsock_client: %u connects accepted\n", open);
			return 22;
		}
		printf("vsock_client: refused streams=%u\n", c.n);
		return 0;
	}
	if (refused) {
		printf("vsock_client: %u connects refused\n", refused);
		return 21;
	}
	return -1;
}

static int send_some(unsigned int i)
{
	uint64_t left = c.bytes - c.sent[i];
	uint32_t n = left > CHUNK ? CHUNK : (uint32_t)left;
	long r;

	if (!n) {
		if (!c.shut[i] &&
		    vsock_shutdown(&c.v, c.s[i], VSOCK_SHUTDOWN_SEND) == 0)
			c.shut[i] = true;
		return 0;
	}
	for (uint32_t j = 0; j < n; j++)
		c.tx[j] = vsock_pat(i, c.sent[i] + j);
	r = vsock_send(&c.v, c.s[i], c.tx, n);
	if (r < 0) {
		printf("vsock_client: stream %u: send: %ld\n", i, r);
		return -24;
	}
	c.sent[i] += (uint64_t)r;
	return r > 0;
}

static int recv_some(unsigned int i)
{
	long r = vsock_recv(&c.v, c.s[i], c.rx, CHUNK);

	if (r == -EAGAIN)
		return 0;
	if (r < 0) {
		printf("vsock_client: stream %u: recv: %ld\n", i, r);
		return -24;
	}
	if (r == 0) {
		if (c.got[i] != c.bytes) {
			printf("vsock_client: stream %u: end of stream after "
			       "%lu bytes\n",
			       i, (unsigned long)c.got[i]);
			return -23;
		}
		c.eof[i] = true;
		return 1;
	}
	for (long j = 0; j < r; j++) {
		uint8_t want = vsock_pat(i, c.got[i] + (uint64_t)j);

		if (c.rx[j] != want) {
			printf("vsock_client: stream %u: byte %lu is %#x, "
			       "expected %#x\n",
			       i, (unsigned long)(c.got[i] + (uint64_t)j),
			       c.rx[j], want);
			return -23;
		}
	}
	c.got[i] += (uint64_t)r;
	return 1;
}

static long run(void *arg)
{
	uint64_t idle = c.timeout_ms * (tsc_hz() / 1000), last;
	unsigned int i, done = 0;
	int r;

	(void)arg;
	r = connect_all();
	if (r >= 0)
		return r;
	last = rdtsc();
	while (done < c.n) {
		bool progress = false;

		done = 0;
		for (i = 0; i < c.n; i++) {
			if (c.eof[i]) {
				done++;
				continue;
			}
			r = send_some(i);
			if (r < 0)
				return -r;
			progress |= r > 0;
			r = recv_some(i);
			if (r < 0)
				return -r;
			progress |= r > 0;
		}
		if (progress) {
			last = rdtsc();
		} else if (rdtsc() - last > idle) {
			printf("vsock_client: no progress for %lu ms\n",
			       (unsigned long)c.timeout_ms);
			return 25;
		}
	}
	for (i = 0; i < c.n; i++)
		vsock_close(&c.v, c.s[i], vsock_deadline_ms(2000));
	if (c.v.bad_pkts) {
		printf("vsock_client: %lu bad packets\n",
		       (unsigned long)c.v.bad_pkts);
		return 26;
	}
	printf("vsock_client: ok streams=%u bytes=%lu\n", c.n,
	       (unsigned long)(c.bytes * c.n));
	return 0;
}

int guest_main(const struct hvm_start_info *si)
{
	char word[8];
	int r;

	(void)si;
	c.port = (uint32_t)cmdline_get_uint("port", 1235);
	c.n = (unsigned int)cmdline_get_uint("streams", 1);
	c.bytes = cmdline_get_uint("bytes", 1 << 20);
	c.timeout_ms = cmdline_get_uint("timeout_ms", 30000);
	c.expect_rst = cmdline_get_str("expect", word, sizeof(word)) > 0 &&
		       !strcmp(word, "rst");
	if (!c.n || c.n > MAX_STREAMS || !c.timeout_ms)
		return 20;
	r = vsock_bringup(&c.v, "vsock_client", false);
	if (r)
		return r;
	c.tx = dma_alloc(CHUNK, 64);
	c.rx = dma_alloc(CHUNK, 64);
	if (!c.tx || !c.rx)
		return 19;
	return (int)user_enter(run, NULL, user_stack_top());
}
