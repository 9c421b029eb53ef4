/* SPDX-License-Identifier: Apache-2.0 */
/*
 * UDP both ways. With dport=N the guest sends count= datagrams (1) of
 * msg=TEXT ("hello-from-guest", then " N" appended) from sport= (40000) to
 * dst=IP (the gateway: slirp's 10.0.2.2 is the host) and, with reply=1,
 * waits for an answer to each and prints it. With echo=PORT it then
 * answers echo_count= datagrams (1) on that port by sending each back,
 * which a host reaches through a forward (udp:127.0.0.1:H-:PORT).
 *
 * Command line: the keys above, wait_ms=N for each reply and for the echo
 * phase (30000), plus net_configure()'s keys (DHCP by default).
 *
 * Prints "net_udp: sent N to IP:PORT", "net_udp: reply '<text>'",
 * "net_udp: echo ready on IP:PORT" (the host may send from then on),
 * "net_udp: echoed N" and "net_udp: ok". Exit codes: 110 no NIC, 112 no
 * address, 114 a send failed, 115 no reply, 116 echo timed out, 119 out
 * of memory.
 */
#include "guest.h"
#include "net.h"

#define WHO "net_udp"

static struct vnet nic;
static struct netif ni;

struct udp_state {
	unsigned int got;
	char last[128];
};

static void on_datagram(struct netif *n, uint32_t src, uint16_t sport,
			uint16_t dport, const uint8_t *data, uint32_t len,
			void *arg)
{
	struct udp_state *st = arg;
	uint32_t keep = len < sizeof(st->last) - 1 ? len : sizeof(st->last) - 1;

	memcpy(st->last, data, keep);
	st->last[keep] = 0;
	st->got++;
	/* The echo port answers; the reply port only records. */
	if (dport == (uint16_t)cmdline_get_uint("echo", 0) &&
	    net_udp_send(n, src, dport, sport, data, len))
		printf(WHO ": echo to port %u failed\n", sport);
}

static bool wait_got(struct udp_state *st, unsigned int want, uint64_t us)
{
	uint64_t end = net_now_us(&ni) + us;

	while (st->got < want) {
		if (net_now_us(&ni) > end)
			return false;
		net_poll(&ni, 64);
		cpu_pause();
	}
	return true;
}

static int send_phase(uint64_t wait_us)
{
	uint16_t dport = (uint16_t)cmdline_get_uint("dport", 0);
	uint16_t sport = (uint16_t)cmdline_get_uint("sport", 40000);
	unsigned int count = (unsigned int)cmdline_get_uint("count", 1);
	bool reply = cmdline_get_uint("reply", 0);
	uint32_t dst = net_cmdline_ip("dst", ni.gw);
	static struct udp_state st;
	char msg[96], text[128], a[16];

	if (cmdline_get_str("msg", msg, sizeof(msg)) < 0)
		memcpy(msg, "hello-from-guest", 17);
	if (reply && net_udp_bind(&ni, sport, on_datagram, &st))
		return 114;
	for (unsigned int i = 0; i < count; i++) {
		int n = snprintf(text, sizeof(text), "%s %u", msg, i + 1);
		int r = net_udp_send(&ni, dst, sport, dport, text, (uint32_t)n);

		if (r) {
			printf(WHO ": send to %s:%u failed (%d)\n",
			       net_ip_str(dst, a), dport, r);
			return 114;
		}
		if (!reply)
			continue;
		if (!wait_got(&st, i + 1, wait_us)) {
			printf(WHO ": no reply to datagram %u\n", i + 1);
			return 115;
		}
		printf(WHO ": reply '%s'\n", st.last);
	}
	printf(WHO ": sent %u to %s:%u\n", count, net_ip_str(dst, a), dport);
	if (reply)
		net_udp_unbind(&ni, sport);
	return 0;
}

static int echo_phase(uint64_t wait_us)
{
	uint16_t port = (uint16_t)cmdline_get_uint("echo", 0);
	unsigned int count = (unsigned int)cmdline_get_uint("echo_count", 1);
	static struct udp_state st;
	char a[16];

	if (net_udp_bind(&ni, port, on_datagram, &st))
		return 114;
	printf(WHO ": echo ready on %s:%u\n", net_ip_str(ni.ip, a), port);
	for (unsigned int i = 0; i < count; i++) {
		if (!wait_got(&st, i + 1, wait_us)) {
			printf(WHO ": echo: %u of %u datagrams came\n", i,
			       count);
			return 116;
		}
		printf(WHO ": echoed '%s'\n", st.last);
	}
	printf(WHO ": echoed %u\n", count);
	return 0;
}

/*
 * Waits until the device has taken every transmitted frame (slirp sends
 * a datagram to its host socket before the chain is used), so the last
 * datagram is not lost with the VM. Bounded by time, not by a count of
 * polls: on a loaded host the NIC thread may not run for milliseconds
 * while this vCPU polls thousands of times. Returns false on a timeout.
 */
static bool drain_tx(uint64_t us)
{
	uint64_t end = net_now_us(&ni) + us;

	while (virtq_inflight(nic.txq)) {
		if (net_now_us(&ni) > end)
			return false;
		net_poll(&ni, 64);
		cpu_pause();
	}
	return true;
}

static long run(void *arg)
{
	uint64_t wait_us = cmdline_get_uint("wait_ms", 30000) * 1000;
	int r;

	(void)arg;
	if (net_configure(&ni, WHO,
			  cmdline_get_uint("timeout_ms", 10000) * 1000))
		return 112;
	if (cmdline_get_uint("dport", 0)) {
		r = send_phase(wait_us);
		if (r)
			return r;
	}
	if (cmdline_get_uint("echo", 0)) {
		r = echo_phase(wait_us);
		if (r)
			return r;
	}
	if (!drain_tx(wait_us)) {
		printf(WHO ": the last datagram never left\n");
		return 114;
	}
	printf(WHO ": ok\n");
	return 0;
}

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	return net_run_user(&ni, &nic, WHO, run);
}
