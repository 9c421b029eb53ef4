/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DHCP and ping: brings up the first virtio-net NIC, takes a DHCP lease
 * (or ip=/gw= from the command line), prints it and pings the gateway (or
 * ping=A.B.C.D) count= times (3). Everything after the NIC's set-up runs
 * at CPL3, polled.
 *
 * Command line: timeout_ms=N for the lease (10000), ping=IP, count=N,
 * payload=N bytes per echo (56), nic=N, plus the static keys of
 * net_configure() and the virtio keys.
 *
 * Prints "net_dhcp: lease ip=... gw=...", one "net_dhcp: ping IP seq=N
 * time=Nus" per reply and "net_dhcp: ok pings=N". Exit codes: 110 no NIC
 * or it did not open, 112 no lease, 113 a ping went unanswered, 119 out of
 * memory.
 */
#include "guest.h"
#include "net.h"

#define WHO "net_dhcp"

static struct vnet nic;
static struct netif ni;

static long run(void *arg)
{
	uint64_t timeout = cmdline_get_uint("timeout_ms", 10000) * 1000;
	unsigned int count = (unsigned int)cmdline_get_uint("count", 3);
	uint32_t payload = (uint32_t)cmdline_get_uint("payload", 56);
	uint32_t dst;
	char a[16];

	(void)arg;
	if (net_configure(&ni, WHO, timeout))
		return 112;
	dst = net_cmdline_ip("ping", ni.gw);
	for (unsigned int i = 0; i < count; i++) {
		int64_t us =
			net_ping(&ni, dst, (uint16_t)(i + 1), payload, 2000000);

		if (us < 0) {
			printf(WHO ": ping %s seq=%u: no reply (%ld)\n",
			       net_ip_str(dst, a), i + 1, (long)us);
			return 113;
		}
		printf(WHO ": ping %s seq=%u time=%ldus\n", net_ip_str(dst, a),
		       i + 1, (long)us);
	}
	printf(WHO ": ok pings=%u rx=%lu tx=%lu dropped=%lu\n", count,
	       (unsigned long)nic.rx_frames, (unsigned long)nic.tx_frames,
	       (unsigned long)ni.rx_dropped);
	return 0;
}

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	return net_run_user(&ni, &nic, WHO, run);
}
