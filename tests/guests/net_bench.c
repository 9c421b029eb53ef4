/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The network benchmark guest (make bench, tests/bench/net.sh): one TCP
 * stream between the guest and a host socket, through whatever the VMM
 * puts in between (slirp, a tap). The whole loop runs at CPL3 (native on
 * these hosts, where CPL0 is emulated), polled, with transmissions batched
 * per poll, so the figure measures the VMM's datapath and not the guest.
 *
 * dir=tx (default): connects to dst=IP (the gateway) port=N, sends for
 * secs=N (3) or bytes=N, closes and waits until the host acknowledged the
 * FIN (so every byte arrived). The host runs `net_peer tcp-sink`.
 * dir=rx: connects and receives until the host closes (`net_peer
 * tcp-source ADDR PORT BYTES`).
 *
 * Prints "net_bench: tx bytes=N us=N MB/s=X.Y" (MB = 10^6 bytes; time
 * from ESTABLISHED to the last ACK or FIN) and a detail line with segment,
 * kick and retransmission counts. Exit codes: 110 no NIC, 112 no address,
 * 117 connect failed, 118 the stream broke, 119 out of memory.
 */
#include "guest.h"
#include "net.h"

#define WHO "net_bench"
#define CHUNK 16384

static struct vnet nic;
static struct netif ni;
static struct tcp_conn conn;
static uint8_t buf[CHUNK];

static void report(const char *dir, uint64_t bytes, uint64_t us)
{
	uint64_t rate10 = us ? bytes * 10 / us : 0; /* tenths of MB/s */

	printf(WHO ": %s bytes=%lu us=%lu MB/s=%lu.%lu\n", dir,
	       (unsigned long)bytes, (unsigned long)us,
	       (unsigned long)(rate10 / 10), (unsigned long)(rate10 % 10));
	printf(WHO ": detail segs_in=%lu segs_out=%lu retransmits=%lu "
		   "dup_acks=%lu ooo_drops=%lu tx_kicks=%lu rx_kicks=%lu "
		   "tx_full=%lu rx_bad=%lu\n",
	       (unsigned long)conn.segs_in, (unsigned long)conn.segs_out,
	       (unsigned long)conn.retransmits, (unsigned long)conn.dup_acks,
	       (unsigned long)conn.ooo_drops, (unsigned long)nic.tx_kicks,
	       (unsigned long)nic.rx_kicks, (unsigned long)nic.tx_full,
	       (unsigned long)nic.rx_bad);
}

static int tx(uint64_t wait_us)
{
	uint64_t secs = cmdline_get_uint("secs", 3);
	uint64_t limit = cmdline_get_uint("bytes", 0), sent = 0;
	uint64_t t0 = net_now_us(&ni), stop = t0 + secs * 1000000;
	int r;

	for (uint32_t i = 0; i < CHUNK; i++)
		buf[i] = (uint8_t)(i * 7);
	for (;;) {
		uint32_t n = CHUNK;

		if (limit) {
			if (sent >= limit)
				break;
			if (limit - sent < n)
				n = (uint32_t)(limit - sent);
		} else if (net_now_us(&ni) >= stop) {
			break;
		}
		r = tcp_send(&conn, buf, n);
		if (r < 0) {
			printf(WHO ": send failed (%d)\n", r);
			return 118;
		}
		sent += (uint64_t)r;
		net_poll(&ni, 256);
	}
	tcp_close(&conn);
	r = tcp_wait_closed(&conn, wait_us);
	if (r || !conn.fin_acked) {
		printf(WHO ": close failed (%d, state %s)\n", r,
		       tcp_state_name(conn.state));
		return 118;
	}
	report("tx", sent, net_now_us(&ni) - t0);
	return 0;
}

static int rx(uint64_t wait_us)
{
	uint64_t t0 = net_now_us(&ni), end = t0 + wait_us, got = 0;
	int r;

	for (;;) {
		net_poll(&ni, 256);
		r = tcp_recv(&conn, buf, CHUNK);
		if (r == -EPIPE)
			break;
		if (r < 0 || net_now_us(&ni) > end) {
			printf(WHO ": receive failed after %lu bytes (%d)\n",
			       (unsigned long)got, r);
			return 118;
		}
		got += (uint64_t)r;
	}
	report("rx", got, net_now_us(&ni) - t0);
	tcp_close(&conn);
	r = tcp_wait_closed(&conn, wait_us);
	return r ? 118 : 0;
}

static long run(void *arg)
{
	uint64_t wait_us = cmdline_get_uint("wait_ms", 60000) * 1000;
	uint32_t dst;
	uint16_t port = (uint16_t)cmdline_get_uint("port", 5001);
	char dir[8], a[16];
	int r;

	(void)arg;
	if (net_configure(&ni, WHO,
			  cmdline_get_uint("timeout_ms", 10000) * 1000))
		return 112;
	if (tcp_conn_init(&ni, &conn, 256 * 1024, 256 * 1024))
		return 119;
	dst = net_cmdline_ip("dst", ni.gw);
	r = tcp_connect(&conn, dst, port, 0, wait_us);
	if (r) {
		printf(WHO ": connect to %s:%u failed (%d)\n",
		       net_ip_str(dst, a), port, r);
		return 117;
	}
	if (cmdline_get_str("dir", dir, sizeof(dir)) > 0 && !strcmp(dir, "rx"))
		return rx(wait_us);
	return tx(wait_us);
}

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	return net_run_user(&ni, &nic, WHO, run);
}
