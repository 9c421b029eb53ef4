/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCP through the kit's tiny stack, as a client or as an echo server.
 *
 * mode=client (default): connects to dst=IP (the gateway: the host under
 * slirp) port=N, sends bytes=N (100000) of the pattern
 * (i * 7 + (i >> 11)) & 0xff, reads the echo back and checks every byte,
 * then closes and waits for both FINs. The host runs
 * `net_peer tcp-echo`.
 * mode=server: listens on port=N (7), prints "net_tcp: listening on IP:N"
 * and echoes conns=N connections (1) one after the other until each peer
 * closes; a host reaches it through a forward (tcp:127.0.0.1:H-:N) with
 * `net_peer tcp-check`.
 * mode=refused: connects to dst:port and expects a reset (nobody listens).
 *
 * Command line: the keys above, wait_ms=N bounding each connection
 * (60000), plus net_configure()'s keys.
 *
 * Prints "net_tcp: client ok bytes=N", "net_tcp: served N bytes",
 * "net_tcp: server ok conns=N" or "net_tcp: refused ok", each with the
 * segment counters. Exit codes: 110 no NIC, 112 no address, 117 connect
 * or accept failed, 118 the stream broke or timed out, 120 wrong data,
 * 121 a refused connect was accepted, 119 out of memory.
 */
#include "guest.h"
#include "net.h"

#define WHO "net_tcp"
#define CHUNK 8192

static struct vnet nic;
static struct netif ni;
static struct tcp_conn conn;
static uint8_t buf[CHUNK];

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 7 + (i >> 11));
}

static void counters(const char *what)
{
	printf(WHO ": %s segs_in=%lu segs_out=%lu retransmits=%lu "
		   "ooo_drops=%lu rx_dropped=%lu\n",
	       what, (unsigned long)conn.segs_in, (unsigned long)conn.segs_out,
	       (unsigned long)conn.retransmits, (unsigned long)conn.ooo_drops,
	       (unsigned long)ni.rx_dropped);
}

static int client(uint64_t wait_us)
{
	uint32_t dst = net_cmdline_ip("dst", ni.gw);
	uint16_t port = (uint16_t)cmdline_get_uint("port", 7);
	uint64_t bytes = cmdline_get_uint("bytes", 100000), sent = 0, got = 0;
	uint64_t end;
	char a[16];
	int r;

	r = tcp_connect(&conn, dst, port, 0, wait_us);
	if (r) {
		printf(WHO ": connect to %s:%u failed (%d)\n",
		       net_ip_str(dst, a), port, r);
		return 117;
	}
	printf(WHO ": connected to %s:%u from port %u\n", net_ip_str(dst, a),
	       port, conn.lport);
	end = net_now_us(&ni) + wait_us;
	while (got < bytes) {
		if (sent < bytes) {
			uint32_t n = bytes - sent < CHUNK ?
					     (uint32_t)(bytes - sent) :
					     CHUNK;

			for (uint32_t i = 0; i < n; i++)
				buf[i] = pattern(sent + i);
			r = tcp_send(&conn, buf, n);
			if (r < 0)
				break;
			sent += (uint64_t)r;
		}
		net_poll(&ni, 64);
		r = tcp_recv(&conn, buf, CHUNK);
		if (r < 0)
			break;
		for (int i = 0; i < r; i++) {
			if (buf[i] != pattern(got + (uint64_t)i)) {
				printf(WHO ": byte %lu is %#x, not %#x\n",
				       (unsigned long)(got + (uint64_t)i),
				       buf[i], pattern(got + (uint64_t)i));
				return 120;
			}
		}
		got += (uint64_t)r;
		if (net_now_us(&ni) > end) {
			r = -ETIMEDOUT;
			break;
		}
	}
	if (got < bytes) {
		printf(WHO ": stream broke after %lu of %lu bytes back (%d, "
			   "state %s)\n",
		       (unsigned long)got, (unsigned long)bytes, r,
		       tcp_state_name(conn.state));
		return 118;
	}
	tcp_close(&conn);
	r = tcp_wait_closed(&conn, wait_us);
	/* The host closes after echoing: its FIN may still be on the way. */
	while (!r && !conn.fin_rcvd && conn.state != TCP_CLOSED)
		r = tcp_wait_closed(&conn, wait_us);
	if (r) {
		printf(WHO ": close failed (%d, state %s)\n", r,
		       tcp_state_name(conn.state));
		return 118;
	}
	printf(WHO ": client ok bytes=%lu\n", (unsigned long)bytes);
	counters("client");
	return 0;
}

static int serve_one(uint64_t wait_us)
{
	uint64_t end = net_now_us(&ni) + wait_us, total = 0;
	uint32_t pending = 0, off = 0;
	int r;

	for (;;) {
		net_poll(&ni, 64);
		if (pending) {
			r = tcp_send(&conn, buf + off, pending);
			if (r < 0)
				break;
			off += (uint32_t)r;
			pending -= (uint32_t)r;
		}
		if (!pending) {
			r = tcp_recv(&conn, buf, CHUNK);
			if (r == -EPIPE)
				break;
			if (r < 0)
				return 118;
			off = 0;
			pending = (uint32_t)r;
			total += (uint64_t)r;
		}
		if (net_now_us(&ni) > end)
			return 118;
	}
	tcp_close(&conn);
	r = tcp_wait_closed(&conn, wait_us);
	if (r) {
		printf(WHO ": close failed (%d, state %s)\n", r,
		       tcp_state_name(conn.state));
		return 118;
	}
	printf(WHO ": served %lu bytes\n", (unsigned long)total);
	return 0;
}

static int server(uint64_t wait_us)
{
	uint16_t port = (uint16_t)cmdline_get_uint("port", 7);
	unsigned int conns = (unsigned int)cmdline_get_uint("conns", 1);
	char a[16];

	for (unsigned int i = 0; i < conns; i++) {
		int r;

		if (tcp_conn_init(&ni, &conn, 65536, 65536) ||
		    tcp_listen(&conn, port))
			return 119;
		if (i == 0)
			printf(WHO ": listening on %s:%u\n",
			       net_ip_str(ni.ip, a), port);
		r = tcp_accept(&conn, wait_us);
		if (r) {
			printf(WHO ": accept failed (%d)\n", r);
			return 117;
		}
		printf(WHO ": connection from %s:%u\n", net_ip_str(conn.rip, a),
		       conn.rport);
		r = serve_one(wait_us);
		if (r) {
			printf(WHO ": connection %u broke (state %s, error "
				   "%d)\n",
			       i + 1, tcp_state_name(conn.state), conn.error);
			return r;
		}
	}
	printf(WHO ": server ok conns=%u\n", conns);
	counters("server");
	return 0;
}

static int refused(uint64_t wait_us)
{
	uint32_t dst = net_cmdline_ip("dst", ni.gw);
	uint16_t port = (uint16_t)cmdline_get_uint("port", 7);
	int r = tcp_connect(&conn, dst, port, 0, wait_us);

	if (r == 0) {
		printf(WHO ": connect to port %u was accepted\n", port);
		return 121;
	}
	printf(WHO ": refused ok (%d)\n", r);
	return 0;
}

static long run(void *arg)
{
	uint64_t wait_us = cmdline_get_uint("wait_ms", 60000) * 1000;
	char mode[16];

	(void)arg;
	if (net_configure(&ni, WHO,
			  cmdline_get_uint("timeout_ms", 10000) * 1000))
		return 112;
	if (cmdline_get_str("mode", mode, sizeof(mode)) < 0)
		memcpy(mode, "client", 7);
	if (!strcmp(mode, "server"))
		return server(wait_us);
	if (tcp_conn_init(&ni, &conn, 65536, 65536))
		return 119;
	if (!strcmp(mode, "refused"))
		return refused(wait_us);
	return client(wait_us);
}

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	return net_run_user(&ni, &nic, WHO, run);
}
