/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsock echo server: listens on port=P (1234) and echoes every stream the
 * host opens (CONNECT P through the VM's vsock socket) until the host shuts
 * its side, then closes the stream (SHUTDOWN both ways, the device's RST).
 * Serves conns=N streams (1), any number at once, then exits. Everything
 * after the device set-up runs at CPL3 (native speed here).
 *
 * Prints "vsock_echo: listening on port P" once the device is up and
 * "vsock_echo: ok conns=N bytes=B" at the end. Exit codes: 10 no device,
 * 11 open failed, 19 out of memory, 20 bad arguments, 24 a stream was
 * reset, 25 no progress for timeout_ms (30000), 26 bad packets seen.
 */
#include "guest.h"
#include "vsock.h"

#define CHUNK VSOCK_MAX_PAYLOAD

struct echo {
	struct vsock v;
	unsigned int conns, done;
	uint64_t timeout_ms, bytes;
	uint8_t *pend[VSOCK_MAX_STREAMS];
	uint32_t pend_off[VSOCK_MAX_STREAMS], pend_len[VSOCK_MAX_STREAMS];
	bool live[VSOCK_MAX_STREAMS];
};

static struct echo e;

/* One step of stream s; returns 1 on progress, 0 without, or an exit code. */
static int step(int s)
{
	long n;

	if (e.pend_off[s] < e.pend_len[s]) {
		n = vsock_send(&e.v, s, e.pend[s] + e.pend_off[s],
			       e.pend_len[s] - e.pend_off[s]);
		if (n < 0) {
			printf("vsock_echo: stream %d: send: %ld\n", s, n);
			return -24;
		}
		e.pend_off[s] += (uint32_t)n;
		return n > 0;
	}
	n = vsock_recv(&e.v, s, e.pend[s], CHUNK);
	if (n == -EAGAIN)
		return 0;
	if (n < 0) {
		printf("vsock_echo: stream %d: recv: %ld\n", s, n);
		return -24;
	}
	if (n == 0) {
		vsock_close(&e.v, s, vsock_deadline_ms(2000));
		e.live[s] = false;
		e.done++;
		return 1;
	}
	e.pend_off[s] = 0;
	e.pend_len[s] = (uint32_t)n;
	e.bytes += (uint64_t)n;
	return 1;
}

static long run(void *arg)
{
	uint64_t idle = e.timeout_ms * (tsc_hz() / 1000), last = rdtsc();
	int s, r;

	(void)arg;
	while (e.done < e.conns) {
		bool progress = false;

		while ((s = vsock_accept(&e.v)) >= 0) {
			if (!e.pend[s])
				e.pend[s] = dma_alloc(CHUNK, 64);
			if (!e.pend[s])
				return 19;
			e.pend_off[s] = e.pend_len[s] = 0;
			e.live[s] = true;
			progress = true;
		}
		for (s = 0; s < VSOCK_MAX_STREAMS; s++) {
			if (!e.live[s])
				continue;
			r = step(s);
			if (r < 0)
				return -r;
			progress |= r > 0;
		}
		if (progress) {
			last = rdtsc();
		} else if (rdtsc() - last > idle) {
			printf("vsock_echo: no progress for %lu ms (%u of %u "
			       "done)\n",
			       (unsigned long)e.timeout_ms, e.done, e.conns);
			return 25;
		}
		vsock_poll(&e.v);
	}
	if (e.v.bad_pkts) {
		printf("vsock_echo: %lu bad packets\n",
		       (unsigned long)e.v.bad_pkts);
		return 26;
	}
	printf("vsock_echo: ok conns=%u bytes=%lu\n", e.conns,
	       (unsigned long)e.bytes);
	return 0;
}

int guest_main(const struct hvm_start_info *si)
{
	uint32_t port = (uint32_t)cmdline_get_uint("port", 1234);
	int r;

	(void)si;
	e.conns = (unsigned int)cmdline_get_uint("conns", 1);
	e.timeout_ms = cmdline_get_uint("timeout_ms", 30000);
	if (!e.conns || !e.timeout_ms)
		return 20;
	r = vsock_bringup(&e.v, "vsock_echo", false);
	if (r)
		return r;
	vsock_listen(&e.v, port);
	printf("vsock_echo: listening on port %u\n", port);
	return (int)user_enter(run, NULL, user_stack_top());
}
