/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hostile vsock guest: sends malformed packets and checks that the device
 * drops them and keeps working (the host side counts them; test_vsock.sh
 * checks the counts in raevm's log):
 *   short       a 20-byte packet (shorter than a header)
 *   writable    a transmit buffer the device could write
 *   type        type 2 (SEQPACKET, not offered)
 *   len         len 1000 on a 54-byte packet
 *   src_cid     src_cid that is not ours
 *   dst_cid     dst_cid 7 (not the host)
 *   op          op 99
 *   payload     a REQUEST carrying 8 bytes
 *   credit      (hold_port=P given) RW data far beyond the host's credit
 *               on a stream whose host end never reads: must end in RST
 * Afterwards the device must not be in NEEDS_RESET and must still answer:
 * a connect to a port nobody listens on (alive_port=, 9) gets an RST.
 *
 * Prints one line per case and "vsock_hostile: ok cases=N". Exit codes:
 * 10 no device, 11 open failed, 19 out of memory, 30 the device asked for
 * a reset, 31 the device stopped answering, 32 credit overrun not reset.
 */
#include "guest.h"
#include "vsock.h"

#define PKT_MAX (VSOCK_HDR_LEN + VSOCK_MAX_PAYLOAD)

static struct vsock v;
static uint8_t pkt[PKT_MAX] __attribute__((aligned(64)));
static uint8_t wbuf[64] __attribute__((aligned(64)));

static struct vsock_hdr *hdr(uint32_t sport, uint32_t dport, uint16_t op)
{
	struct vsock_hdr *h = (struct vsock_hdr *)pkt;

	memset(pkt, 0, VSOCK_HDR_LEN + 64);
	h->src_cid = v.cid;
	h->dst_cid = VSOCK_HOST_CID;
	h->src_port = sport;
	h->dst_port = dport;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
	h->buf_alloc = VSOCK_RBUF;
	return h;
}

static int send(const char *name, uint32_t len)
{
	uint64_t deadline = vsock_deadline_ms(2000);

	while (vsock_send_raw(&v, pkt, len)) {
		vsock_poll(&v);
		if (rdtsc() > deadline)
			return 31;
	}
	printf("vsock_hostile: sent %s\n", name);
	return 0;
}

/* Waits until the device has completed everything we queued. */
static int drain(void)
{
	uint64_t deadline = vsock_deadline_ms(5000);

	while (virtq_inflight(v.tx)) {
		vsock_poll(&v);
		if (rdtsc() > deadline)
			return 31;
	}
	return virtio_needs_reset(&v.vd) ? 30 : 0;
}

static int writable_case(void)
{
	struct virtq_seg seg[2] = {
		{ (uint64_t)(uintptr_t)pkt, VSOCK_HDR_LEN, false },
		{ (uint64_t)(uintptr_t)wbuf, sizeof(wbuf), true },
	};

	hdr(5000, 9, VSOCK_OP_REQUEST);
	if (virtq_add(v.tx, seg, 2, wbuf))
		return 31;
	virtq_kick(v.tx);
	puts("vsock_hostile: sent writable");
	return 0;
}

/* Ignores the host's credit on a stream nobody reads at the host end. */
static int credit_case(uint32_t port)
{
	uint64_t deadline = vsock_deadline_ms(10000);
	int s = vsock_connect(&v, port), r;
	struct vsock_hdr *h;
	uint32_t sent = 0;

	if (s < 0)
		return 19;
	while ((r = vsock_connected(&v, s)) == 0) {
		if (rdtsc() > deadline)
			return 31;
	}
	if (r < 0)
		return 31;
	while (v.s[s].state == VS_OPEN && sent < (64u << 20)) {
		h = hdr(v.s[s].local_port, port, VSOCK_OP_RW);
		h->len = VSOCK_MAX_PAYLOAD;
		if (vsock_send_raw(&v, pkt, PKT_MAX) == 0)
			sent += VSOCK_MAX_PAYLOAD;
		vsock_poll(&v);
		if (rdtsc() > deadline)
			break;
	}
	while (v.s[s].state == VS_OPEN && rdtsc() < deadline)
		vsock_poll(&v);
	if (v.s[s].state != VS_RESET) {
		printf("vsock_hostile: %u bytes past credit and no RST\n",
		       sent);
		return 32;
	}
	printf("vsock_hostile: credit overrun reset after %u bytes\n", sent);
	vsock_close(&v, s, vsock_deadline_ms(100));
	return 0;
}

static long run(void *arg)
{
	uint32_t hold = (uint32_t)cmdline_get_uint("hold_port", 0);
	uint32_t alive = (uint32_t)cmdline_get_uint("alive_port", 9);
	unsigned int cases = 0;
	struct vsock_hdr *h;
	int r, s;

	(void)arg;
	hdr(5000, 9, VSOCK_OP_REQUEST);
	if ((r = send("short", 20)))
		return r;
	if ((r = writable_case()))
		return r;
	h = hdr(5001, 9, VSOCK_OP_REQUEST);
	h->type = 2;
	if ((r = send("type", VSOCK_HDR_LEN)))
		return r;
	h = hdr(5002, 9, VSOCK_OP_RW);
	h->len = 1000;
	if ((r = send("len", VSOCK_HDR_LEN + 10)))
		return r;
	h = hdr(5003, 9, VSOCK_OP_REQUEST);
	h->src_cid = v.cid + 1;
	if ((r = send("src_cid", VSOCK_HDR_LEN)))
		return r;
	h = hdr(5004, 9, VSOCK_OP_REQUEST);
	h->dst_cid = 7;
	if ((r = send("dst_cid", VSOCK_HDR_LEN)))
		return r;
	h = hdr(5005, 9, 99);
	if ((r = send("op", VSOCK_HDR_LEN)))
		return r;
	h = hdr(5006, 9, VSOCK_OP_REQUEST);
	h->len = 8;
	if ((r = send("payload", VSOCK_HDR_LEN + 8)))
		return r;
	cases = 8;
	if ((r = drain()))
		return r;
	if (hold) {
		if ((r = credit_case(hold)))
			return r;
		cases++;
		if ((r = drain()))
			return r;
	}
	s = vsock_connect(&v, alive);
	if (s < 0)
		return 19;
	uint64_t deadline = vsock_deadline_ms(5000);

	while ((r = vsock_connected(&v, s)) == 0) {
		if (rdtsc() > deadline) {
			puts("vsock_hostile: the device stopped answering");
			return 31;
		}
	}
	if (r != -ECONNREFUSED) {
		printf("vsock_hostile: liveness connect gave %d\n", r);
		return 31;
	}
	if (virtio_needs_reset(&v.vd))
		return 30;
	printf("vsock_hostile: ok cases=%u\n", cases);
	return 0;
}

int guest_main(const struct hvm_start_info *si)
{
	int r;

	(void)si;
	r = vsock_bringup(&v, NULL, false);
	if (r)
		return r;
	return (int)user_enter(run, NULL, user_stack_top());
}
