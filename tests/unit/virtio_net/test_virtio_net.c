// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for virtio-net (devices/virtio/net.c) and the pure parts of
 * its backends (devices/net/backend.c): transmit header checks, receive
 * buffer filling, the default MAC and restricted mode's filter over plain
 * buffers; then the whole device with its I/O thread and a real libslirp
 * backend, over a heap "guest RAM". The transport's functions are
 * replaced through -Wl,--wrap: the mock builds the queues, hands out
 * eventfds as the queues' ioeventfds, and counts interrupts and
 * NEEDS_RESET with a condition variable the tests wait on (bounded).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../virtio_mock.h"

#include "../../../devices/virtio/net_int.h"
#include "raevm/config.h"
#include "raevm/log.h"
#include "raevm/mem.h"
#include "raevm/virtio.h"
#include "raevm/vm.h"

#define BIT(n) (1ULL << (n))
#define MTU 1500u

/* ---- Frames ----------------------------------------------------------- */

static void put16be(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A virtio_net_hdr then an Ethernet frame of frame_len bytes. */
static uint8_t *make_pkt(size_t frame_len, const struct rv_net_hdr *hdr)
{
	static const struct rv_net_hdr none;
	uint8_t *p = calloc(1, RV_NET_HDR_LEN + frame_len + 1);

	assert_non_null(p);
	rv_net_hdr_encode(hdr ? hdr : &none, p);
	if (frame_len >= RV_NET_ETH_HLEN)
		put16be(p + RV_NET_HDR_LEN + 12, 0x0800);
	return p;
}

static enum rv__vnet_tx_verdict
check(size_t frame_len, const struct rv_net_hdr *hdr, uint64_t acked)
{
	struct rv_net_hdr out;
	uint8_t *p = make_pkt(frame_len, hdr);
	enum rv__vnet_tx_verdict v;

	v = rv__vnet_check_tx(p, RV_NET_HDR_LEN + frame_len, acked, MTU, &out);
	free(p);
	return v;
}

/* An IPv4 frame to dst with protocol proto and source port sport. */
static size_t ipv4_frame(uint8_t *f, uint32_t dst, uint8_t proto,
			 uint16_t sport)
{
	memset(f, 0, 64);
	put16be(f + 12, 0x0800);
	f[14] = 0x45;
	f[14 + 9] = proto;
	f[14 + 16] = (uint8_t)(dst >> 24);
	f[14 + 17] = (uint8_t)(dst >> 16);
	f[14 + 18] = (uint8_t)(dst >> 8);
	f[14 + 19] = (uint8_t)dst;
	put16be(f + 34, sport);
	return 64;
}

/* ---- rv__vnet_check_tx ------------------------------------------------- */

static void check_tx__shorter_than_header(void **state)
{
	uint8_t p[RV_NET_HDR_LEN] = { 0 };
	struct rv_net_hdr h;

	(void)state;
	assert_int_equal(rv__vnet_check_tx(p, RV_NET_HDR_LEN - 1, 0, MTU, &h),
			 RV__VNET_TX_BAD_CHAIN);
}

static void check_tx__runt_frame(void **state)
{
	(void)state;
	assert_int_equal(check(RV_NET_ETH_HLEN - 1, NULL, 0), RV__VNET_TX_RUNT);
	assert_int_equal(check(RV_NET_ETH_HLEN, NULL, 0), RV__VNET_TX_OK);
}

static void check_tx__longer_than_mtu(void **state)
{
	(void)state;
	assert_int_equal(check(MTU + 18, NULL, 0), RV__VNET_TX_OK);
	assert_int_equal(check(MTU + 19, NULL, 0), RV__VNET_TX_OVERSIZE);
}

static void check_tx__csum_not_negotiated(void **state)
{
	struct rv_net_hdr h = { .flags = RV_NET_HDR_F_NEEDS_CSUM,
				.csum_start = 34,
				.csum_offset = 16 };

	(void)state;
	assert_int_equal(check(100, &h, 0), RV__VNET_TX_BAD_HDR);
	assert_int_equal(check(100, &h, BIT(RV_VNET_F_CSUM)), RV__VNET_TX_OK);
}

static void check_tx__csum_outside_frame(void **state)
{
	struct rv_net_hdr h = { .flags = RV_NET_HDR_F_NEEDS_CSUM,
				.csum_start = 90,
				.csum_offset = 9 };

	(void)state;
	assert_int_equal(check(100, &h, BIT(RV_VNET_F_CSUM)),
			 RV__VNET_TX_BAD_HDR);
	h.csum_offset = 8;
	assert_int_equal(check(100, &h, BIT(RV_VNET_F_CSUM)), RV__VNET_TX_OK);
}

static void check_tx__unknown_flags(void **state)
{
	struct rv_net_hdr h = { .flags = RV_NET_HDR_F_DATA_VALID };

	(void)state;
	assert_int_equal(check(100, &h, BIT(RV_VNET_F_CSUM)),
			 RV__VNET_TX_BAD_HDR);
	h.flags = 0x80;
	assert_int_equal(check(100, &h, BIT(RV_VNET_F_CSUM)),
			 RV__VNET_TX_BAD_HDR);
}

static void check_tx__gso(void **state)
{
	uint64_t tso = BIT(RV_VNET_F_CSUM) | BIT(RV_VNET_F_HOST_TSO4);
	struct rv_net_hdr h = { .flags = RV_NET_HDR_F_NEEDS_CSUM,
				.gso_type = RV_NET_HDR_GSO_TCPV4,
				.hdr_len = 54,
				.gso_size = 1448,
				.csum_start = 34,
				.csum_offset = 16 };

	(void)state;
	/* Not negotiated, then a large frame once it is. */
	assert_int_equal(check(20000, &h, BIT(RV_VNET_F_CSUM)),
			 RV__VNET_TX_OVERSIZE);
	assert_int_equal(check(20000, &h, tso), RV__VNET_TX_OK);
	assert_int_equal(check(RV_NET_MAX_GSO_FRAME + 1, &h, tso),
			 RV__VNET_TX_OVERSIZE);
	h.gso_size = 0;
	assert_int_equal(check(20000, &h, tso), RV__VNET_TX_BAD_HDR);
	h.gso_size = 1448;
	h.flags = 0;
	assert_int_equal(check(1000, &h, tso), RV__VNET_TX_BAD_HDR);
	h.flags = RV_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = RV_NET_HDR_GSO_TCPV6;
	assert_int_equal(check(1000, &h, tso), RV__VNET_TX_BAD_HDR);
	h.gso_type = RV_NET_HDR_GSO_UDP;
	assert_int_equal(check(1000, &h, tso), RV__VNET_TX_BAD_HDR);
	h.gso_type = RV_NET_HDR_GSO_TCPV4 | RV_NET_HDR_GSO_ECN;
	assert_int_equal(check(1000, &h, tso), RV__VNET_TX_BAD_HDR);
}

static void check_tx__clears_num_buffers(void **state)
{
	struct rv_net_hdr h = { .num_buffers = 7 }, out;
	uint8_t *p = make_pkt(60, &h);

	(void)state;
	assert_int_equal(rv__vnet_check_tx(p, RV_NET_HDR_LEN + 60, 0, MTU,
					   &out),
			 RV__VNET_TX_OK);
	assert_int_equal(out.num_buffers, 0);
	free(p);
}

/* ---- rv__vnet_rx_* ------------------------------------------------------ */

/* ---- rv__vnet_check_rx ------------------------------------------------ */

static void check_rx__without_guest_csum(void **state)
{
	struct rv_net_hdr in = { .flags = RV_NET_HDR_F_DATA_VALID,
				 .num_buffers = 7 },
			  out;

	(void)state;
	/* A tap's DATA_VALID hint is not the driver's to see: cleared. */
	memset(&out, 0xee, sizeof(out));
	assert_true(rv__vnet_check_rx(&in, 0, &out));
	assert_int_equal(out.flags, 0);
	assert_int_equal(out.num_buffers, 0);
	/* A partial checksum nobody will finish: dropped. */
	in.flags = RV_NET_HDR_F_NEEDS_CSUM;
	assert_false(rv__vnet_check_rx(&in, 0, &out));
	/* Segmentation the driver did not accept: dropped. */
	in = (struct rv_net_hdr){ .gso_type = RV_NET_HDR_GSO_TCPV4,
				  .gso_size = 1448 };
	assert_false(rv__vnet_check_rx(&in, BIT(RV_VNET_F_GUEST_TSO4), &out));
}

static void check_rx__with_offloads(void **state)
{
	uint64_t acked = BIT(RV_VNET_F_GUEST_CSUM) | BIT(RV_VNET_F_GUEST_TSO4);
	struct rv_net_hdr in = { .flags = RV_NET_HDR_F_NEEDS_CSUM | 0x80,
				 .gso_type = RV_NET_HDR_GSO_TCPV4,
				 .gso_size = 1448,
				 .csum_start = 34,
				 .csum_offset = 16 },
			  out;

	(void)state;
	assert_true(rv__vnet_check_rx(&in, acked, &out));
	assert_int_equal(out.flags, RV_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(out.gso_type, RV_NET_HDR_GSO_TCPV4);
	assert_int_equal(out.gso_size, 1448);
	assert_int_equal(out.csum_start, 34);
	in.gso_type = RV_NET_HDR_GSO_TCPV6;
	assert_false(rv__vnet_check_rx(&in, acked, &out));
	in.gso_type = RV_NET_HDR_GSO_UDP;
	assert_false(rv__vnet_check_rx(&in, acked, &out));
	in.gso_type = RV_NET_HDR_GSO_TCPV4 | RV_NET_HDR_GSO_ECN;
	assert_false(rv__vnet_check_rx(&in, acked, &out));
}

static void fill_frame(uint8_t *f, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		f[i] = (uint8_t)(i * 7 + 1);
}

static void rx_fill__single_buffer(void **state)
{
	static const struct rv_net_hdr hdr = { .flags = 2 };
	uint8_t frame[100], buf[200];
	struct iovec iov = { buf, sizeof(buf) };
	struct rv__vnet_rx rx;
	struct rv_net_hdr got;

	(void)state;
	fill_frame(frame, sizeof(frame));
	memset(buf, 0xee, sizeof(buf));
	rv__vnet_rx_begin(&rx, &hdr, frame, sizeof(frame), false);
	assert_int_equal(rv__vnet_rx_fill(&rx, &iov, 1),
			 RV_NET_HDR_LEN + sizeof(frame));
	assert_true(rv__vnet_rx_done(&rx));
	rv__vnet_rx_finish(&rx);
	rv_net_hdr_decode(buf, &got);
	assert_int_equal(got.flags, 2);
	assert_int_equal(got.num_buffers, 1);
	assert_memory_equal(buf + RV_NET_HDR_LEN, frame, sizeof(frame));
	assert_int_equal(buf[RV_NET_HDR_LEN + sizeof(frame)], 0xee);
	/* Nothing more goes into a second buffer. */
	assert_int_equal(rv__vnet_rx_fill(&rx, &iov, 1), -EMSGSIZE);
}

static void rx_fill__buffer_too_small_without_mrg(void **state)
{
	static const struct rv_net_hdr hdr;
	uint8_t frame[100], buf[111];
	struct iovec iov = { buf, sizeof(buf) };
	struct rv__vnet_rx rx;

	(void)state;
	fill_frame(frame, sizeof(frame));
	memset(buf, 0xee, sizeof(buf));
	rv__vnet_rx_begin(&rx, &hdr, frame, sizeof(frame), false);
	assert_int_equal(rv__vnet_rx_fill(&rx, &iov, 1), -EMSGSIZE);
	assert_false(rv__vnet_rx_done(&rx));
	assert_int_equal(buf[0], 0xee);
}

static void rx_fill__mergeable_spans_buffers(void **state)
{
	static const struct rv_net_hdr hdr;
	uint8_t frame[1000], b0[5], b1[300], b2[400], b3[600];
	/* The first buffer splits the header over two segments. */
	struct iovec first[2] = { { b0, sizeof(b0) }, { b1, sizeof(b1) } };
	struct iovec second = { b2, sizeof(b2) };
	struct iovec third = { b3, sizeof(b3) };
	struct rv__vnet_rx rx;
	uint8_t raw[RV_NET_HDR_LEN];
	struct rv_net_hdr got;

	(void)state;
	fill_frame(frame, sizeof(frame));
	rv__vnet_rx_begin(&rx, &hdr, frame, sizeof(frame), true);
	assert_int_equal(rv__vnet_rx_fill(&rx, first, 2), 305);
	assert_false(rv__vnet_rx_done(&rx));
	assert_int_equal(rv__vnet_rx_fill(&rx, &second, 1), 400);
	assert_int_equal(rv__vnet_rx_fill(&rx, &third, 1),
			 RV_NET_HDR_LEN + 1000 - 705);
	assert_true(rv__vnet_rx_done(&rx));
	rv__vnet_rx_finish(&rx);
	memcpy(raw, b0, 5);
	memcpy(raw + 5, b1, RV_NET_HDR_LEN - 5);
	rv_net_hdr_decode(raw, &got);
	assert_int_equal(got.num_buffers, 3);
	assert_memory_equal(b1 + 7, frame, 293);
	assert_memory_equal(b2, frame + 293, 400);
	assert_memory_equal(b3, frame + 693, 307);
}

static void rx_fill__mergeable_first_smaller_than_header(void **state)
{
	static const struct rv_net_hdr hdr;
	uint8_t frame[100] = { 0 }, buf[RV_NET_HDR_LEN - 1];
	struct iovec iov = { buf, sizeof(buf) };
	struct rv__vnet_rx rx;

	(void)state;
	rv__vnet_rx_begin(&rx, &hdr, frame, sizeof(frame), true);
	assert_int_equal(rv__vnet_rx_fill(&rx, &iov, 1), -EMSGSIZE);
}

/* ---- rv__vnet_default_mac ------------------------------------------------ */

static void default_mac__stable_and_local_unicast(void **state)
{
	/* FNV-1a 64 of "web\0" + index 0 (LE): see docs/networking.md. */
	static const uint8_t want[6] = { 0x32, 0xc1, 0x50, 0x7e, 0xa3, 0x5f };
	uint8_t a[6], b[6];

	(void)state;
	rv__vnet_default_mac("web", 0, a);
	rv__vnet_default_mac("web", 0, b);
	assert_memory_equal(a, b, 6);
	assert_memory_equal(a, want, 6);
	assert_int_equal(a[0] & 3, 2);
}

static void default_mac__differs_by_name_and_index(void **state)
{
	uint8_t a[6], b[6], c[6], d[6];

	(void)state;
	rv__vnet_default_mac("web", 0, a);
	rv__vnet_default_mac("web", 1, b);
	rv__vnet_default_mac("db", 0, c);
	assert_memory_not_equal(a, b, 6);
	assert_memory_not_equal(a, c, 6);
	assert_int_equal(b[0] & 3, 2);
	assert_int_equal(c[0] & 3, 2);
	rv__vnet_default_mac(NULL, 0, c);
	rv__vnet_default_mac("raevm", 0, d);
	assert_memory_equal(c, d, 6);
}

/* ---- rv_net_coalesce ------------------------------------------------------ */

/* RFC 1071 over 16-bit big-endian words, written out plainly. */
static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Whether an Ethernet + IPv4 + TCP frame's two checksums are right. */
static bool tcp_csums_ok(const uint8_t *f)
{
	const uint8_t *ip = f + 14;
	unsigned int tot = (unsigned int)(ip[2] << 8 | ip[3]);
	uint32_t sum = sum16(0, ip + 12, 8) + 6 + (tot - 20);

	return fold(sum16(0, ip, 20)) == 0xffff &&
	       fold(sum16(sum, ip + 20, tot - 20)) == 0xffff;
}

/*
 * A guest TCP segment 10.0.2.15:40000 -> 10.0.2.2:5001 with seq, flags
 * and n payload bytes (byte i is seq + i), checksums right; returns the
 * frame's length.
 */
static size_t tcp_seg(uint8_t *f, uint32_t seq, uint8_t flags, size_t n)
{
	uint8_t *ip = f + 14, *tcp = ip + 20;
	uint32_t sum;
	size_t i;

	memset(f, 0, 14 + 40);
	memcpy(f, "\x52\x55\x0a\x00\x02\x02\x02\x00\x00\x00\x00\x01", 12);
	put16be(f + 12, 0x0800);
	ip[0] = 0x45;
	put16be(ip + 2, (uint16_t)(40 + n));
	put16be(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, "\x0a\x00\x02\x0f\x0a\x00\x02\x02", 8);
	put16be(tcp, 40000);
	put16be(tcp + 2, 5001);
	put16be(tcp + 4, (uint16_t)(seq >> 16));
	put16be(tcp + 6, (uint16_t)seq);
	put16be(tcp + 10, 7); /* ack */
	tcp[12] = 0x50;
	tcp[13] = flags;
	put16be(tcp + 14, 8192);
	for (i = 0; i < n; i++)
		tcp[20 + i] = (uint8_t)(seq + i);
	put16be(ip + 10, (uint16_t)~fold(sum16(0, ip, 20)));
	sum = sum16(0, ip + 12, 8) + 6 + (uint32_t)(20 + n);
	put16be(tcp + 16, (uint16_t)~fold(sum16(sum, tcp, 20 + n)));
	return 14 + 40 + n;
}

static void coalesce_merge__consecutive_segments(void **state)
{
	static uint8_t a[2048], b[2048], c[2048];
	struct rv_net_coalesce co;
	const uint8_t *out;
	size_t na, nb, nc, len, i;

	(void)state;
	assert_int_equal(rv_net_coalesce_init(&co), 0);
	na = tcp_seg(a, 1000, 0x10, 1460);
	nb = tcp_seg(b, 2460, 0x18, 1460);
	nc = tcp_seg(c, 3920, 0x10, 101); /* odd: the last word is half */
	assert_true(rv_net_coalesce_hold(&co, a, na));
	assert_true(rv_net_coalesce_merge(&co, b, nb));
	assert_true(rv_net_coalesce_merge(&co, c, nc));
	out = rv_net_coalesce_take(&co, &len);
	assert_non_null(out);
	assert_int_equal(len, 14 + 40 + 3021);
	assert_int_equal(out[16] << 8 | out[17], 40 + 3021);
	assert_true(tcp_csums_ok(out));
	/* The payload runs on in order; PSH was seen; first seq kept. */
	for (i = 0; i < 3021; i++)
		assert_int_equal(out[54 + i], (uint8_t)(1000 + i));
	assert_int_equal(out[14 + 20 + 13], 0x18);
	assert_int_equal(out[14 + 20 + 6] << 8 | out[14 + 20 + 7], 1000);
	assert_int_equal(co.merged, 2);
	/* Nothing is held any more. */
	assert_null(rv_net_coalesce_take(&co, &len));
	rv_net_coalesce_free(&co);
}

static void coalesce_merge__refuses_other_segments(void **state)
{
	static uint8_t a[2048], b[2048];
	struct rv_net_coalesce co;
	size_t na, nb;

	(void)state;
	assert_int_equal(rv_net_coalesce_init(&co), 0);
	na = tcp_seg(a, 1000, 0x10, 1000);
	assert_true(rv_net_coalesce_hold(&co, a, na));
	/* Out of sequence, a retransmission, a FIN, another port. */
	nb = tcp_seg(b, 2001, 0x10, 10);
	assert_false(rv_net_coalesce_merge(&co, b, nb));
	nb = tcp_seg(b, 1000, 0x10, 10);
	assert_false(rv_net_coalesce_merge(&co, b, nb));
	nb = tcp_seg(b, 2000, 0x11, 10);
	assert_false(rv_net_coalesce_merge(&co, b, nb));
	nb = tcp_seg(b, 2000, 0x10, 10);
	b[14 + 20 + 1] ^= 1; /* source port: the flow differs */
	assert_false(rv_net_coalesce_merge(&co, b, nb));
	/* A bad TCP checksum never merges, whatever else is right. */
	nb = tcp_seg(b, 2000, 0x10, 10);
	b[14 + 20 + 16] ^= 0x40;
	assert_false(rv_net_coalesce_merge(&co, b, nb));
	assert_int_equal(co.merged, 0);
	rv_net_coalesce_free(&co);
}

static void coalesce_hold__only_plain_segments(void **state)
{
	static uint8_t a[2048], copy[2048];
	struct rv_net_coalesce co;
	const uint8_t *out;
	size_t na, len;

	(void)state;
	assert_int_equal(rv_net_coalesce_init(&co), 0);
	/* No payload, SYN, IP options, a fragment, a bad IP checksum. */
	na = tcp_seg(a, 1, 0x10, 0);
	assert_false(rv_net_coalesce_hold(&co, a, na));
	na = tcp_seg(a, 1, 0x12, 10);
	assert_false(rv_net_coalesce_hold(&co, a, na));
	na = tcp_seg(a, 1, 0x10, 10);
	a[14] = 0x46;
	assert_false(rv_net_coalesce_hold(&co, a, na));
	na = tcp_seg(a, 1, 0x10, 10);
	a[14 + 6] |= 0x20; /* more fragments */
	assert_false(rv_net_coalesce_hold(&co, a, na));
	na = tcp_seg(a, 1, 0x10, 10);
	a[14 + 10] ^= 1;
	assert_false(rv_net_coalesce_hold(&co, a, na));
	/* A total length past the frame, and a runt. */
	na = tcp_seg(a, 1, 0x10, 10);
	assert_false(rv_net_coalesce_hold(&co, a, na - 1));
	assert_false(rv_net_coalesce_hold(&co, a, 40));
	/* A lone held segment comes back unchanged, padding dropped. */
	na = tcp_seg(a, 1, 0x10, 2);
	memcpy(copy, a, na);
	assert_true(rv_net_coalesce_hold(&co, a, na + 4));
	out = rv_net_coalesce_take(&co, &len);
	assert_non_null(out);
	assert_int_equal(len, na);
	assert_memory_equal(out, copy, na);
	rv_net_coalesce_free(&co);
}

static void coalesce_merge__stops_at_the_size_limit(void **state)
{
	static uint8_t a[2048];
	struct rv_net_coalesce co;
	const uint8_t *out;
	uint32_t seq = 0;
	size_t n, len;
	unsigned int merged = 0;

	(void)state;
	assert_int_equal(rv_net_coalesce_init(&co), 0);
	n = tcp_seg(a, seq, 0x10, 1460);
	assert_true(rv_net_coalesce_hold(&co, a, n));
	for (;;) {
		seq += 1460;
		n = tcp_seg(a, seq, 0x10, 1460);
		if (!rv_net_coalesce_merge(&co, a, n))
			break;
		merged++;
	}
	out = rv_net_coalesce_take(&co, &len);
	assert_non_null(out);
	assert_true(len - 14 <= RV_NET_COALESCE_MAX);
	assert_true(len - 14 + 1460 > RV_NET_COALESCE_MAX);
	assert_int_equal(len, 14 + 40 + (merged + 1) * 1460u);
	assert_true(tcp_csums_ok(out));
	rv_net_coalesce_free(&co);
}

/*
 * For a tap: the merged packet asks the host to segment it and to finish
 * a partial checksum; finished as the host would, it must be right.
 */
static void coalesce_take_gso__partial_checksum(void **state)
{
	static uint8_t a[2048], b[2048], done[4096];
	struct rv_net_coalesce co;
	struct rv_net_hdr h;
	const uint8_t *out;
	size_t na, nb, len;
	uint16_t field;

	(void)state;
	assert_int_equal(rv_net_coalesce_init(&co), 0);
	na = tcp_seg(a, 5, 0x10, 1000);
	nb = tcp_seg(b, 1005, 0x18, 1460);
	assert_true(rv_net_coalesce_hold(&co, a, na));
	assert_true(rv_net_coalesce_merge(&co, b, nb));
	out = rv_net_coalesce_take_gso(&co, &len, &h);
	assert_non_null(out);
	assert_int_equal(len, 14 + 40 + 2460);
	assert_int_equal(h.flags, RV_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h.gso_type, RV_NET_HDR_GSO_TCPV4);
	assert_int_equal(h.gso_size, 1460);
	assert_int_equal(h.hdr_len, 54);
	assert_int_equal(h.csum_start, 34);
	assert_int_equal(h.csum_offset, 16);
	/* Finish it: the sum from csum_start, complemented, into the field. */
	memcpy(done, out, len);
	field = (uint16_t)~fold(sum16(0, done + 34, len - 34));
	put16be(done + 34 + 16, field);
	assert_true(tcp_csums_ok(done));
	/* A lone segment: no offload asked, the frame unchanged. */
	na = tcp_seg(a, 5, 0x10, 10);
	assert_true(rv_net_coalesce_hold(&co, a, na));
	out = rv_net_coalesce_take_gso(&co, &len, &h);
	assert_non_null(out);
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.gso_type, RV_NET_HDR_GSO_NONE);
	assert_memory_equal(out, a, na);
	rv_net_coalesce_free(&co);
}

/* ---- rv_net_restrict_allows ---------------------------------------------- */

static void restrict_allows__inside_user_network_only(void **state)
{
	uint8_t f[64];
	size_t n;

	(void)state;
	n = ipv4_frame(f, 0x0a000202, 17, 40000);
	assert_true(rv_net_restrict_allows(f, n, NULL, 0));
	n = ipv4_frame(f, 0xffffffff, 17, 68);
	assert_true(rv_net_restrict_allows(f, n, NULL, 0));
	n = ipv4_frame(f, 0x08080808, 17, 40000);
	assert_false(rv_net_restrict_allows(f, n, NULL, 0));
	n = ipv4_frame(f, 0x0a000302, 1, 0);
	assert_false(rv_net_restrict_allows(f, n, NULL, 0));
	/* ARP passes; IPv6, a VLAN tag and a runt do not. */
	put16be(f + 12, 0x0806);
	assert_true(rv_net_restrict_allows(f, n, NULL, 0));
	put16be(f + 12, 0x86dd);
	assert_false(rv_net_restrict_allows(f, n, NULL, 0));
	put16be(f + 12, 0x8100);
	assert_false(rv_net_restrict_allows(f, n, NULL, 0));
	assert_false(rv_net_restrict_allows(f, 13, NULL, 0));
	n = ipv4_frame(f, 0x0a000202, 17, 1);
	assert_false(rv_net_restrict_allows(f, 33, NULL, 0));
}

static void restrict_allows__tcp_answer_on_forward(void **state)
{
	struct rv_net_forward fw[2] = {
		{ .udp = true, .host_port = 5353, .guest_port = 53 },
		{ .udp = false, .host_port = 2222, .guest_port = 22 },
	};
	uint8_t f[64];
	size_t n;

	(void)state;
	n = ipv4_frame(f, 0xc0a80105, 6, 22);
	assert_true(rv_net_restrict_allows(f, n, fw, 2));
	n = ipv4_frame(f, 0xc0a80105, 6, 23);
	assert_false(rv_net_restrict_allows(f, n, fw, 2));
	/* A UDP forward's port does not open the way out. */
	n = ipv4_frame(f, 0xc0a80105, 17, 53);
	assert_false(rv_net_restrict_allows(f, n, fw, 2));
	/* A later fragment has no port to check. */
	n = ipv4_frame(f, 0xc0a80105, 6, 22);
	f[14 + 7] = 0x10;
	assert_false(rv_net_restrict_allows(f, n, fw, 2));
}

/* ---- The device, with a mocked transport ------------------------------- */

#define RAM_SIZE (2u * 1024 * 1024)
#define QSIZE 16
#define RX_DESC 0x10000ULL
#define RX_AVAIL 0x11000ULL
#define RX_USED 0x12000ULL
#define TX_DESC 0x14000ULL
#define TX_AVAIL 0x15000ULL
#define TX_USED 0x16000ULL
#define RX_BUFS 0x20000ULL /* 2 KiB apart */
#define TX_BUFS 0x80000ULL /* 4 KiB apart */
#define BUF_STEP 0x800ULL

/* poll() of the NIC's thread fails while this is set. */
static bool poll_fails;
static bool wedged; /* a test left the device unusable (and leaked) */
static unsigned int poll_failed; /* under mk.lock */

static bool poll_has_failed(const void *arg)
{
	(void)arg;
	return poll_failed > 0;
}

int __real_poll(struct pollfd *fds, nfds_t n, int timeout);
int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout);

int __wrap_poll(struct pollfd *fds, nfds_t n, int timeout)
{
	if (__atomic_load_n(&poll_fails, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&mk.lock);
		poll_failed++;
		pthread_cond_broadcast(&mk.cond);
		pthread_mutex_unlock(&mk.lock);
		errno = ENOMEM;
		return -1;
	}
	return __real_poll(fds, n, timeout);
}

struct fixture {
	uint8_t *ram;
	struct rv_mem mem;
	struct rv_vm vm;
	struct rv_virtio_dev *dev;
	struct mock_ring rx, tx;
};

static char bus_token;
#define BUS ((struct rv_pci_bus *)(void *)&bus_token)

static int setup_dev(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct rv_net_config net;

	assert_non_null(f);
	mock_reset_counters();
	rv_log_set_level(RV_LOG_ERROR);
	f->ram = mock_ram_init(&f->mem, &f->vm, RAM_SIZE);
	rv_net_config_init(&net);
	assert_int_equal(
		rv_virtio_net_create(&f->vm, BUS, &net, "web", 0, &f->dev), 0);
	f->rx = (struct mock_ring){
		f->ram, RX_DESC, RX_AVAIL, RX_USED, QSIZE, 0
	};
	f->tx = (struct mock_ring){
		f->ram, TX_DESC, TX_AVAIL, TX_USED, QSIZE, 0
	};
	mock_ring_enable(&f->rx, &f->dev->queues[RV_VNET_RXQ]);
	mock_ring_enable(&f->tx, &f->dev->queues[RV_VNET_TXQ]);
	f->dev->driver_features = BIT(RV_VIRTIO_F_VERSION_1) |
				  BIT(RV_VNET_F_MAC) | BIT(RV_VNET_F_MRG_RXBUF);
	assert_int_equal(f->dev->ops->activate(f->dev), 0);
	*state = f;
	return 0;
}

static int teardown_dev(void **state)
{
	struct fixture *f = *state;

	if (wedged)
		return 0;

	f->dev->ops->reset(f->dev);
	rv_virtio_net_destroy(f->dev);
	free(f->ram);
	free(f);
	return 0;
}

/* Sends pkt (header + frame) as transmit descriptor d. */
static void send_pkt(struct fixture *f, uint16_t d, const uint8_t *pkt,
		     size_t len, bool writable)
{
	uint64_t gpa = TX_BUFS + (uint64_t)d * 0x1000;

	memcpy(f->ram + gpa, pkt, len);
	mock_ring_add(&f->tx, d, gpa, (uint32_t)len, writable);
	mock_kick(RV_VNET_TXQ);
}

static void device__malformed_frames_counted(void **state)
{
	struct fixture *f = *state;
	struct rv_virtio_net_stats st;
	struct rv_net_hdr bad = { .flags = RV_NET_HDR_F_NEEDS_CSUM };
	uint8_t *p = make_pkt(MTU + 100, NULL);
	uint16_t i;

	send_pkt(f, 0, p, RV_NET_HDR_LEN + 10, false);	     /* runt */
	send_pkt(f, 1, p, RV_NET_HDR_LEN + MTU + 19, false); /* oversize */
	send_pkt(f, 2, p, 8, false);			     /* bad chain */
	free(p);
	p = make_pkt(60, &bad); /* no CSUM negotiated */
	send_pkt(f, 3, p, RV_NET_HDR_LEN + 60, false);
	free(p);
	assert_true(mock_wait_used(&f->tx, 4));
	rv_virtio_net_get_stats(f->dev, &st);
	assert_int_equal(st.tx_runt, 1);
	assert_int_equal(st.tx_oversize, 1);
	assert_int_equal(st.tx_bad_chain, 1);
	assert_int_equal(st.tx_bad_hdr, 1);
	assert_int_equal(st.tx_frames, 0);
	assert_int_equal(mk.resets, 0);
	/* Every chain went back with nothing written. */
	for (i = 0; i < 4; i++)
		assert_int_equal(mock_used_len(&f->tx, i), 0);
}

static uint16_t tx_used_flags(const struct fixture *f)
{
	return __atomic_load_n(
		(const uint16_t *)(const void *)(f->ram + TX_USED),
		__ATOMIC_ACQUIRE);
}

/*
 * The thread serves with transmit notifications off and may poll the
 * ring for a while; before it sleeps it must turn them on again, or a
 * later chain would wait forever for a kick the driver never sends.
 */
static void device__tx_notifications_on_when_idle(void **state)
{
	struct fixture *f = *state;
	uint8_t *p = make_pkt(60, NULL);
	struct timespec t0, t;
	double waited = 0;

	send_pkt(f, 0, p, RV_NET_HDR_LEN + 60, false);
	assert_true(mock_wait_used(&f->tx, 1));
	/* Bounded: the poll lasts at most 50 us. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((tx_used_flags(f) & RV_VIRTQ_USED_F_NO_NOTIFY) && waited < 5) {
		sched_yield();
		clock_gettime(CLOCK_MONOTONIC, &t);
		waited = (double)(t.tv_sec - t0.tv_sec) +
			 (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
	}
	assert_int_equal(tx_used_flags(f) & RV_VIRTQ_USED_F_NO_NOTIFY, 0);
	send_pkt(f, 1, p, RV_NET_HDR_LEN + 60, false);
	free(p);
	assert_true(mock_wait_used(&f->tx, 2));
}

/* An ARP request for 10.0.2.2: slirp answers it at once. */
static void device__arp_answered_through_slirp(void **state)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 1, 2, 3 };
	struct fixture *f = *state;
	struct rv_virtio_net_stats st;
	struct rv_net_hdr got;
	uint8_t pkt[RV_NET_HDR_LEN + 42] = { 0 }, *a = pkt + RV_NET_HDR_LEN;
	uint8_t *rx;
	uint32_t len;

	mock_ring_add(&f->rx, 0, RX_BUFS, 2048, true);
	memset(a, 0xff, 6);
	memcpy(a + 6, mac, 6);
	put16be(a + 12, 0x0806);
	put16be(a + 14, 1);	 /* Ethernet */
	put16be(a + 16, 0x0800); /* IPv4 */
	a[18] = 6;
	a[19] = 4;
	put16be(a + 20, 1); /* request */
	memcpy(a + 22, mac, 6);
	a[28] = 10, a[29] = 0, a[30] = 2, a[31] = 15;
	a[38] = 10, a[39] = 0, a[40] = 2, a[41] = 2;
	send_pkt(f, 0, pkt, sizeof(pkt), false);
	assert_true(mock_wait_used(&f->tx, 1));
	assert_true(mock_wait_used(&f->rx, 1));
	len = mock_used_len(&f->rx, 0);
	assert_true(len >= RV_NET_HDR_LEN + 42);
	rx = f->ram + RX_BUFS;
	rv_net_hdr_decode(rx, &got);
	assert_int_equal(got.num_buffers, 1);
	assert_memory_equal(rx + RV_NET_HDR_LEN, mac, 6);
	assert_int_equal(rx[RV_NET_HDR_LEN + 21], 2); /* a reply */
	rv_virtio_net_get_stats(f->dev, &st);
	assert_int_equal(st.tx_frames, 1);
	assert_int_equal(st.rx_frames, 1);
}

static void device__writable_tx_buffer_needs_reset(void **state)
{
	struct fixture *f = *state;
	uint8_t *p = make_pkt(60, NULL);

	send_pkt(f, 0, p, RV_NET_HDR_LEN + 60, true);
	free(p);
	assert_true(mock_wait_resets(1));
	assert_int_equal(mock_used_idx(&f->tx), 0);
}

static void *reset_thread(void *arg)
{
	struct rv_virtio_dev *dev = arg;

	dev->ops->reset(dev);
	return NULL;
}

/*
 * The I/O thread gave up (poll failed) while the device was active: a
 * reset from a vCPU thread must still return, not wait for a thread that
 * is gone.
 */
static void device__reset_after_thread_died_returns(void **state)
{
	struct fixture *f = *state;
	struct timespec ts;
	pthread_t t;
	uint8_t *p = make_pkt(60, NULL);

	/* The thread has acknowledged activation once it served a frame. */
	send_pkt(f, 0, p, RV_NET_HDR_LEN + 60, false);
	free(p);
	assert_true(mock_wait_used(&f->tx, 1));
	__atomic_store_n(&poll_fails, true, __ATOMIC_RELEASE);
	mock_kick(RV_VNET_TXQ);
	/* Reset only once the thread is past its last acknowledgement. */
	assert_true(mock_wait(poll_has_failed, NULL, 5));
	assert_int_equal(pthread_create(&t, NULL, reset_thread, f->dev), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	if (pthread_timedjoin_np(t, NULL, &ts) != 0) {
		/* The device is wedged: teardown must leave it alone. */
		wedged = true;
		fail_msg("reset did not return after the I/O thread died");
	}
	__atomic_store_n(&poll_fails, false, __ATOMIC_RELEASE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(check_tx__shorter_than_header),
		cmocka_unit_test(check_tx__runt_frame),
		cmocka_unit_test(check_tx__longer_than_mtu),
		cmocka_unit_test(check_tx__csum_not_negotiated),
		cmocka_unit_test(check_tx__csum_outside_frame),
		cmocka_unit_test(check_tx__unknown_flags),
		cmocka_unit_test(check_tx__gso),
		cmocka_unit_test(check_tx__clears_num_buffers),
		cmocka_unit_test(check_rx__without_guest_csum),
		cmocka_unit_test(check_rx__with_offloads),
		cmocka_unit_test(rx_fill__single_buffer),
		cmocka_unit_test(rx_fill__buffer_too_small_without_mrg),
		cmocka_unit_test(rx_fill__mergeable_spans_buffers),
		cmocka_unit_test(rx_fill__mergeable_first_smaller_than_header),
		cmocka_unit_test(default_mac__stable_and_local_unicast),
		cmocka_unit_test(default_mac__differs_by_name_and_index),
		cmocka_unit_test(restrict_allows__inside_user_network_only),
		cmocka_unit_test(restrict_allows__tcp_answer_on_forward),
		cmocka_unit_test(coalesce_merge__consecutive_segments),
		cmocka_unit_test(coalesce_merge__refuses_other_segments),
		cmocka_unit_test(coalesce_hold__only_plain_segments),
		cmocka_unit_test(coalesce_merge__stops_at_the_size_limit),
		cmocka_unit_test(coalesce_take_gso__partial_checksum),
		cmocka_unit_test_setup_teardown(device__malformed_frames_counted,
						setup_dev, teardown_dev),
		cmocka_unit_test_setup_teardown(
			device__arp_answered_through_slirp, setup_dev,
			teardown_dev),
		cmocka_unit_test_setup_teardown(
			device__tx_notifications_on_when_idle, setup_dev,
			teardown_dev),
		cmocka_unit_test_setup_teardown(
			device__writable_tx_buffer_needs_reset, setup_dev,
			teardown_dev),
		cmocka_unit_test_setup_teardown(
			device__reset_after_thread_died_returns, setup_dev,
			teardown_dev),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
