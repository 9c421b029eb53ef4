/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsock throughput guest (make bench, tests/bench/vsock.sh). The loop runs
 * at CPL3 (native here) with polled rings; only the notifications the
 * device asks for (EVENT_IDX) leave the guest.
 *  mode=tx: connects to host port port=P (1236) and sends bytes=N
 *           (1 GiB) as fast as credit allows, then closes;
 *  mode=rx: listens on port=P, accepts one stream and reads (without
 *           copying) until the host ends it.
 * Rates come from the TSC (tsc_hz()); MB is 10^6 bytes.
 *
 * Prints "vsock_bench: MODE bytes=N ms=T MB/s=X". Exit codes: 10 no
 * device, 11 open failed, 19 out of memory, 20 bad arguments, 21 connect
 * refused, 24 a stream was reset, 25 no progress for timeout_ms (30000).
 */
#include "guest.h"
#include "vsock.h"

struct bench {
	struct vsock v;
	bool tx;
	uint32_t port;
	uint64_t bytes, timeout_ms;
	uint8_t *buf;
};

static struct bench b;

static void report(const char *mode, uint64_t bytes, uint64_t ticks)
{
	uint64_t hz = tsc_hz(), us = ticks / (hz / 1000000);
	uint64_t mbs10 = us ? bytes * 10 / us : 0;

	printf("vsock_bench: %s bytes=%lu ms=%lu MB/s=%lu.%lu\n", mode,
	       (unsigned long)bytes, (unsigned long)(us / 1000),
	       (unsigned long)(mbs10 / 10), (unsigned long)(mbs10 % 10));
}

static int stalled(uint64_t *last, bool progress)
{
	uint64_t now = rdtsc();

	if (progress) {
		*last = now;
		return 0;
	}
	if (now - *last > b.timeout_ms * (tsc_hz() / 1000)) {
		printf("vsock_bench: no progress for %lu ms\n",
		       (unsigned long)b.timeout_ms);
		return 25;
	}
	return 0;
}

static long run_tx(void)
{
	uint64_t sent = 0, t0, last;
	int s = vsock_connect(&b.v, b.port), r;

	if (s < 0)
		return 19;
	last = rdtsc();
	while ((r = vsock_connected(&b.v, s)) == 0) {
		if (stalled(&last, false))
			return 25;
	}
	if (r < 0)
		return 21;
	t0 = rdtsc();
	while (sent < b.bytes) {
		uint64_t left = b.bytes - sent;
		long n = vsock_send(&b.v, s, b.buf,
				    left > VSOCK_MAX_PAYLOAD ?
					    VSOCK_MAX_PAYLOAD :
					    (uint32_t)left);

		if (n < 0)
			return 24;
		if (n == 0)
			vsock_poll(&b.v);
		sent += (uint64_t)n;
		if (stalled(&last, n > 0))
			return 25;
	}
	/*
	 * The host has it all once it acknowledged every byte (fwd_cnt); it
	 * reports on its own only every quarter of its buffer, so ask.
	 */
	while (vsock_credit_request(&b.v, s) == -ENOSPC)
		vsock_poll(&b.v);
	while (b.v.s[s].peer_fwd_cnt != b.v.s[s].tx_cnt) {
		vsock_poll(&b.v);
		if (stalled(&last, false))
			return 25;
	}
	report("tx", sent, rdtsc() - t0);
	vsock_close(&b.v, s, vsock_deadline_ms(2000));
	return 0;
}

static long run_rx(void)
{
	uint64_t got = 0, t0 = 0, last = rdtsc();
	int s;
	long n;

	vsock_listen(&b.v, b.port);
	puts("vsock_bench: listening");
	while ((s = vsock_accept(&b.v)) < 0) {
		if (stalled(&last, false))
			return 25;
	}
	t0 = rdtsc();
	for (;;) {
		n = vsock_discard(&b.v, s, 1u << 30);
		if (n == 0)
			break;
		if (n == -EAGAIN)
			n = 0;
		if (n < 0)
			return 24;
		got += (uint64_t)n;
		if (stalled(&last, n > 0))
			return 25;
	}
	report("rx", got, rdtsc() - t0);
	vsock_close(&b.v, s, vsock_deadline_ms(2000));
	return 0;
}

static long run(void *arg)
{
	(void)arg;
	return b.tx ? run_tx() : run_rx();
}

int guest_main(const struct hvm_start_info *si)
{
	char mode[8];
	int r;

	(void)si;
	b.port = (uint32_t)cmdline_get_uint("port", 1236);
	b.bytes = cmdline_get_uint("bytes", 1ULL << 30);
	b.timeout_ms = cmdline_get_uint("timeout_ms", 30000);
	b.tx = cmdline_get_str("mode", mode, sizeof(mode)) > 0 &&
	       !strcmp(mode, "tx");
	if (!b.bytes || !b.timeout_ms)
		return 20;
	r = vsock_bringup(&b.v, NULL, true);
	if (r)
		return r;
	b.buf = dma_alloc(VSOCK_MAX_PAYLOAD, 4096);
	if (!b.buf)
		return 19;
	memset(b.buf, 0x5a, VSOCK_MAX_PAYLOAD);
	return (int)user_enter(run, NULL, user_stack_top());
}
