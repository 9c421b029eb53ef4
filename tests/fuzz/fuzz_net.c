// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for virtio-net's parsers of guest input: the transmit
 * header check (rv__vnet_check_tx, devices/virtio/net_queue.c), the TCP
 * segment coalescer behind it (rv_net_coalesce_*, devices/net/backend.c),
 * restricted mode's filter, and the receive side's header check and
 * buffer filling (rv__vnet_check_rx, rv__vnet_rx_*).
 *
 * The input is a 4-byte header, then records:
 *   0      features: bit 0 CSUM, 1 HOST_TSO4, 2 HOST_TSO6, 3 GUEST_CSUM,
 *          4 GUEST_TSO4, 5 GUEST_TSO6, 6 MRG_RXBUF, 7 restricted mode
 *   1..2   MTU (little-endian, at least 68)
 *   3      bit 0: a tap backend with vnet headers (merged packets leave
 *          with a partial checksum and TSO), else user mode (slirp)
 * A record is op (1 byte), len (2 bytes, little-endian), len bytes:
 *   op bit 0  the transmit batch ends after this record (flush)
 *   op bit 1  the bytes are the payload of a segment that continues the
 *             last TCP segment sent (same headers, next sequence number,
 *             checksums right), so that merging is reachable
 *   op bit 2  the bytes are virtio_net_hdr + frame; an IPv4/TCP frame gets
 *             right checksums first
 *   op bit 3  the bytes go to the receive side: virtio_net_hdr + frame,
 *             placed into guest buffers whose sizes come from op's top bits
 *   otherwise virtio_net_hdr + frame as they are.
 * The backend's send() logic is mirrored here (the real ones need libslirp
 * or a tap); what leaves the coalescer is checked against what went in:
 * frames never longer than their limit, every frame either passed through
 * unchanged or merged from consecutive segments of one flow whose payload
 * bytes it holds exactly, in order, with right checksums (or the partial
 * checksum a TSO header promises), nothing lost and nothing reordered. A
 * broken promise traps so the fuzzer keeps the input.
 */
#include "../../devices/net/backend.h"
#include "../../devices/virtio/net_int.h"

#include "fuzz.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BATCH 64u
#define MAX_RX_BUFS 64u
#define ETH 14u
#define IPH 20u
#define TCPH 20u

/* A frame that went into the coalescer, or one that came out of it. */
struct frame {
	uint8_t *data;
	size_t len;
	struct rv_net_hdr hdr;
};

struct state {
	uint64_t acked;
	unsigned int mtu;
	bool tap;
	bool restricted;
	struct rv_net_coalesce co;
	struct frame in[MAX_BATCH];
	unsigned int nr_in;
	struct frame out[MAX_BATCH];
	unsigned int nr_out;
	/* The last TCP segment sent, for op bit 1. */
	uint8_t prev[ETH + IPH + TCPH];
	bool have_prev;
	size_t prev_payload;
};

static const struct rv_net_forward forwards[] = {
	{ .udp = false, .guest_port = 22 },
	{ .udp = true, .guest_port = 7 },
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void wbe16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wbe32(uint8_t *p, uint32_t v)
{
	wbe16(p, (uint16_t)(v >> 16));
	wbe16(p + 2, (uint16_t)v);
}

/* RFC 1071, byte by byte: an oracle independent of backend.c's. */
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

static uint32_t pseudo(const uint8_t *ip, size_t tot)
{
	return sum16(0, ip + 12, 8) + 6 + (uint32_t)(tot - IPH);
}

/* Writes right IPv4 and TCP checksums into an option-less segment. */
static void fix_csums(uint8_t *frame, size_t len)
{
	uint8_t *ip = frame + ETH;
	size_t tot;

	if (len < ETH + IPH + TCPH || be16(frame + 12) != 0x0800 ||
	    ip[0] != 0x45 || ip[9] != 6)
		return;
	tot = be16(ip + 2);
	if (tot < IPH + TCPH || tot > len - ETH)
		return;
	wbe16(ip + 10, 0);
	wbe16(ip + 10, (uint16_t)~fold(sum16(0, ip, IPH)));
	wbe16(ip + IPH + 16, 0);
	wbe16(ip + IPH + 16,
	      (uint16_t)~fold(sum16(pseudo(ip, tot), ip + IPH, tot - IPH)));
}

static uint8_t *dup(const uint8_t *p, size_t len)
{
	uint8_t *d = malloc(len ? len : 1);

	if (d && len)
		memcpy(d, p, len);
	return d;
}

static void emit(struct state *st, const struct rv_net_hdr *hdr,
		 const uint8_t *frame, size_t len)
{
	struct frame *f;

	CHECK(st->nr_out < MAX_BATCH);
	f = &st->out[st->nr_out++];
	f->data = dup(frame, len);
	CHECK(f->data);
	f->len = len;
	f->hdr = *hdr;
}

static void take(struct state *st)
{
	static const struct rv_net_hdr none;
	struct rv_net_hdr hdr;
	const uint8_t *p;
	size_t len = 0;

	if (st->tap) {
		p = rv_net_coalesce_take_gso(&st->co, &len, &hdr);
		if (p)
			emit(st, &hdr, p, len);
	} else {
		p = rv_net_coalesce_take(&st->co, &len);
		if (p)
			emit(st, &none, p, len);
	}
	/* Nothing stays held after a take. */
	CHECK(rv_net_coalesce_take(&st->co, &len) == NULL);
}

/* The backends' send(): slirp.c's slirp_send and tap.c's tap_send. */
static void backend_send(struct state *st, const struct rv_net_hdr *hdr,
			 const uint8_t *frame, size_t len)
{
	bool plain = hdr->flags == 0 && hdr->gso_type == RV_NET_HDR_GSO_NONE;
	struct frame *f;

	if (!st->tap && st->restricted &&
	    !rv_net_restrict_allows(frame, len, forwards, 2))
		return;
	CHECK(st->nr_in < MAX_BATCH);
	f = &st->in[st->nr_in++];
	f->data = dup(frame, len);
	CHECK(f->data);
	f->len = len;
	f->hdr = *hdr;
	if (st->tap && !plain) {
		take(st);
		emit(st, hdr, frame, len);
		return;
	}
	if (rv_net_coalesce_merge(&st->co, frame, len))
		return;
	take(st);
	if (rv_net_coalesce_hold(&st->co, frame, len))
		return;
	emit(st, hdr, frame, len);
}

/* Whether f is a segment the coalescer may merge; fills its numbers. */
static bool plain_seg(const struct frame *f, size_t *tot, size_t *payload,
		      uint32_t *seq)
{
	const uint8_t *ip = f->data + ETH, *tcp = ip + IPH;

	if (f->len < ETH + IPH + TCPH || be16(f->data + 12) != 0x0800 ||
	    ip[0] != 0x45 || ip[9] != 6 || (be16(ip + 6) & 0x3fff))
		return false;
	*tot = be16(ip + 2);
	if (*tot <= IPH + TCPH || *tot > f->len - ETH || tcp[12] != 0x50 ||
	    (tcp[13] & ~0x08) != 0x10 || be16(tcp + 18))
		return false;
	if (fold(sum16(0, ip, IPH)) != 0xffff ||
	    fold(sum16(pseudo(ip, *tot), tcp, *tot - IPH)) != 0xffff)
		return false;
	*payload = *tot - IPH - TCPH;
	*seq = be32(tcp + 4);
	return true;
}

/*
 * out is merged from in[*i ..]: checks it and advances *i past the
 * segments it holds.
 */
static void check_merged(const struct state *st, const struct frame *out,
			 unsigned int *i)
{
	const uint8_t *ip = out->data + ETH, *tcp = ip + IPH;
	const struct frame *first = &st->in[*i];
	size_t tot, payload, in_tot, in_pl, done = 0, max_pl = 0;
	uint32_t seq, in_seq;
	unsigned int k = 0;
	uint8_t *copy;

	CHECK(out->len >= ETH + IPH + TCPH && ip[0] == 0x45 && ip[9] == 6);
	tot = be16(ip + 2);
	CHECK(tot == out->len - ETH);
	CHECK(tot <= RV_NET_COALESCE_MAX);
	CHECK(fold(sum16(0, ip, IPH)) == 0xffff);
	payload = tot - IPH - TCPH;
	seq = be32(tcp + 4);
	/* The first segment's flow, addresses and ACK. */
	CHECK(plain_seg(first, &in_tot, &in_pl, &in_seq));
	CHECK(in_seq == seq);
	CHECK(!memcmp(out->data, first->data, 12));
	CHECK(!memcmp(ip + 12, first->data + ETH + 12, 8));
	CHECK(!memcmp(tcp, first->data + ETH + IPH, 4));
	CHECK(!memcmp(tcp + 8, first->data + ETH + IPH + 8, 4));
	while (done < payload) {
		const struct frame *f = &st->in[*i];

		CHECK(*i < st->nr_in);
		CHECK(plain_seg(f, &in_tot, &in_pl, &in_seq));
		CHECK(in_seq == seq + (uint32_t)done);
		CHECK(in_pl <= payload - done);
		CHECK(!memcmp(f->data + ETH + 12, ip + 12, 8));
		CHECK(!memcmp(tcp + TCPH + done, f->data + ETH + IPH + TCPH,
			      in_pl));
		if (in_pl > max_pl)
			max_pl = in_pl;
		done += in_pl;
		(*i)++;
		k++;
	}
	CHECK(k >= 2);
	if (!st->tap) {
		CHECK(out->hdr.flags == 0 && out->hdr.gso_type == 0);
		CHECK(fold(sum16(pseudo(ip, tot), tcp, tot - IPH)) == 0xffff);
		return;
	}
	/* A TSO request with the pseudo-header's sum in the field. */
	CHECK(out->hdr.flags == RV_NET_HDR_F_NEEDS_CSUM);
	CHECK(out->hdr.gso_type == RV_NET_HDR_GSO_TCPV4);
	CHECK(out->hdr.hdr_len == ETH + IPH + TCPH);
	CHECK(out->hdr.csum_start == ETH + IPH && out->hdr.csum_offset == 16);
	CHECK(out->hdr.gso_size == max_pl && max_pl > 0);
	CHECK(out->hdr.gso_size + ETH + IPH + TCPH <=
	      st->mtu + ETH + RV_NET_VLAN_HLEN);
	copy = dup(out->data, out->len);
	CHECK(copy);
	wbe16(copy + ETH + IPH + 16,
	      (uint16_t)~fold(sum16(0, copy + ETH + IPH, tot - IPH)));
	CHECK(fold(sum16(pseudo(ip, tot), copy + ETH + IPH, tot - IPH)) ==
	      0xffff);
	free(copy);
}

/* Everything that went in came out, in order, whole or merged. */
static void check_batch(struct state *st)
{
	unsigned int i = 0, o;
	size_t tot, pl;
	uint32_t seq;

	for (o = 0; o < st->nr_out; o++) {
		const struct frame *out = &st->out[o], *in;

		CHECK(i < st->nr_in);
		in = &st->in[i];
		if (out->len == in->len &&
		    !memcmp(out->data, in->data, in->len)) {
			i++;
			continue;
		}
		/* A lone held segment loses only its Ethernet padding. */
		if (plain_seg(in, &tot, &pl, &seq) && out->len == ETH + tot &&
		    !memcmp(out->data, in->data, out->len)) {
			i++;
			continue;
		}
		check_merged(st, out, &i);
	}
	CHECK(i == st->nr_in);
	for (i = 0; i < st->nr_in; i++)
		free(st->in[i].data);
	for (o = 0; o < st->nr_out; o++)
		free(st->out[o].data);
	st->nr_in = st->nr_out = 0;
}

static void flush(struct state *st)
{
	take(st);
	check_batch(st);
}

/* The promises of rv__vnet_check_tx() about a frame it let through. */
static void check_tx_ok(const struct state *st, const struct rv_net_hdr *h,
			size_t frame_len)
{
	bool tso = st->acked &
		   (1ULL << RV_VNET_F_HOST_TSO4 | 1ULL << RV_VNET_F_HOST_TSO6);
	uint8_t type = h->gso_type;

	CHECK(frame_len >= ETH);
	if (type == RV_NET_HDR_GSO_NONE)
		CHECK(frame_len <= st->mtu + ETH + RV_NET_VLAN_HLEN);
	else
		CHECK(tso && frame_len <= RV_NET_MAX_GSO_FRAME);
	CHECK(!(h->flags & ~RV_NET_HDR_F_NEEDS_CSUM));
	if (h->flags & RV_NET_HDR_F_NEEDS_CSUM) {
		CHECK(st->acked & 1ULL << RV_VNET_F_CSUM);
		CHECK((size_t)h->csum_start + h->csum_offset + 2 <= frame_len);
	}
	if (type == RV_NET_HDR_GSO_TCPV4)
		CHECK(st->acked & 1ULL << RV_VNET_F_HOST_TSO4);
	if (type == RV_NET_HDR_GSO_TCPV6)
		CHECK(st->acked & 1ULL << RV_VNET_F_HOST_TSO6);
	CHECK(type == RV_NET_HDR_GSO_NONE || type == RV_NET_HDR_GSO_TCPV4 ||
	      type == RV_NET_HDR_GSO_TCPV6);
	if (type != RV_NET_HDR_GSO_NONE)
		CHECK(h->gso_size && h->hdr_len <= frame_len &&
		      (h->flags & RV_NET_HDR_F_NEEDS_CSUM));
	CHECK(h->num_buffers == 0);
}

static void remember(struct state *st, const uint8_t *frame, size_t len)
{
	struct frame f = { .data = (uint8_t *)(uintptr_t)frame, .len = len };
	size_t tot, pl;
	uint32_t seq;

	if (!plain_seg(&f, &tot, &pl, &seq))
		return;
	memcpy(st->prev, frame, sizeof(st->prev));
	st->prev_payload = pl;
	st->have_prev = true;
}

static void tx(struct state *st, uint8_t *pkt, size_t len)
{
	struct rv_net_hdr hdr;
	enum rv__vnet_tx_verdict v;

	v = rv__vnet_check_tx(pkt, len, st->acked, st->mtu, &hdr);
	if (v != RV__VNET_TX_OK) {
		CHECK(v == RV__VNET_TX_BAD_CHAIN || v == RV__VNET_TX_RUNT ||
		      v == RV__VNET_TX_OVERSIZE || v == RV__VNET_TX_BAD_HDR);
		return;
	}
	check_tx_ok(st, &hdr, len - RV_NET_HDR_LEN);
	/* A backend without offloads never sees a header (net.c's rule). */
	if (!st->tap && (hdr.flags || hdr.gso_type))
		return;
	if (st->nr_in == MAX_BATCH)
		flush(st);
	remember(st, pkt + RV_NET_HDR_LEN, len - RV_NET_HDR_LEN);
	backend_send(st, &hdr, pkt + RV_NET_HDR_LEN, len - RV_NET_HDR_LEN);
}

/* A segment continuing the last one, with payload p (op bit 1). */
static void tx_continue(struct state *st, const uint8_t *p, size_t n,
			uint8_t op)
{
	uint8_t *pkt, *f, *ip, *tcp;
	size_t len = RV_NET_HDR_LEN + sizeof(st->prev) + n;

	if (!st->have_prev || n > 65535 - IPH - TCPH)
		return;
	pkt = calloc(1, len);
	CHECK(pkt);
	f = pkt + RV_NET_HDR_LEN;
	ip = f + ETH;
	tcp = ip + IPH;
	memcpy(f, st->prev, sizeof(st->prev));
	memcpy(tcp + TCPH, p, n);
	wbe16(ip + 2, (uint16_t)(IPH + TCPH + n));
	wbe16(ip + 4, (uint16_t)(be16(ip + 4) + 1));
	wbe32(tcp + 4, be32(tcp + 4) + (uint32_t)st->prev_payload);
	tcp[13] = (uint8_t)(0x10 | (op & 0x10 ? 0x08 : 0));
	fix_csums(f, len - RV_NET_HDR_LEN);
	tx(st, pkt, len);
	free(pkt);
}

/*
 * The receive side: the host's header held to the driver's features, then
 * the packet placed into buffers of sizes drawn from seed, each segment a
 * heap block of its own size so ASan sees any write past it.
 */
static void rx(const struct state *st, const uint8_t *pkt, size_t len,
	       uint8_t seed)
{
	struct rv_net_hdr in, h;
	struct rv__vnet_rx r;
	struct iovec iov[MAX_RX_BUFS][3];
	unsigned int nseg[MAX_RX_BUFS], b, s, nb = 0;
	bool mrg = st->acked & 1ULL << RV_VNET_F_MRG_RXBUF;
	size_t written[MAX_RX_BUFS], off = 0, total;
	uint32_t x = seed * 2654435761u + 1;
	uint8_t raw[RV_NET_HDR_LEN];
	int rc = 0;

	if (len < RV_NET_HDR_LEN)
		return;
	rv_net_hdr_decode(pkt, &in);
	pkt += RV_NET_HDR_LEN;
	len -= RV_NET_HDR_LEN;
	if (!rv__vnet_check_rx(&in, st->acked, &h))
		return;
	CHECK(!(h.flags &
		~(RV_NET_HDR_F_NEEDS_CSUM | RV_NET_HDR_F_DATA_VALID)));
	if (!(st->acked & 1ULL << RV_VNET_F_GUEST_CSUM))
		CHECK(h.flags == 0 && h.gso_type == RV_NET_HDR_GSO_NONE);
	if (h.gso_type == RV_NET_HDR_GSO_TCPV4)
		CHECK(st->acked & 1ULL << RV_VNET_F_GUEST_TSO4);
	else if (h.gso_type == RV_NET_HDR_GSO_TCPV6)
		CHECK(st->acked & 1ULL << RV_VNET_F_GUEST_TSO6);
	else
		CHECK(h.gso_type == RV_NET_HDR_GSO_NONE);
	CHECK(h.num_buffers == 0);

	total = RV_NET_HDR_LEN + len;
	rv__vnet_rx_begin(&r, &h, pkt, len, mrg);
	while (!rv__vnet_rx_done(&r) && nb < MAX_RX_BUFS) {
		x = x * 1103515245u + 12345u;
		nseg[nb] = 1 + (x >> 16) % 3;
		for (s = 0; s < nseg[nb]; s++) {
			size_t sz;

			x = x * 1103515245u + 12345u;
			sz = (x >> 8) % (seed & 0x80 ? 2048u : 80u);
			iov[nb][s].iov_base = malloc(sz ? sz : 1);
			CHECK(iov[nb][s].iov_base);
			iov[nb][s].iov_len = sz;
		}
		rc = rv__vnet_rx_fill(&r, iov[nb], nseg[nb]);
		nb++;
		if (rc < 0)
			break;
		written[nb - 1] = (size_t)rc;
		off += (size_t)rc;
		CHECK(off == r.off);
	}
	if (rc >= 0 && rv__vnet_rx_done(&r)) {
		uint8_t *all = malloc(total);

		CHECK(all);
		CHECK(mrg || nb == 1);
		rv__vnet_rx_finish(&r);
		/* What the guest sees: the header, num_buffers, the frame. */
		for (off = 0, b = 0; b < nb; b++) {
			size_t left = written[b], n;

			for (s = 0; s < nseg[b] && left; s++) {
				n = iov[b][s].iov_len < left ?
					    iov[b][s].iov_len :
					    left;
				memcpy(all + off, iov[b][s].iov_base, n);
				off += n;
				left -= n;
			}
			CHECK(left == 0);
		}
		CHECK(off == total);
		h.num_buffers = (uint16_t)nb;
		rv_net_hdr_encode(&h, raw);
		CHECK(!memcmp(all, raw, RV_NET_HDR_LEN));
		CHECK(!memcmp(all + RV_NET_HDR_LEN, pkt, len));
		free(all);
	} else if (rc < 0) {
		/* Refused only when the buffer cannot be used at all. */
		CHECK(!mrg || nb == 1 || r.off == total);
	}
	for (b = 0; b < nb; b++)
		for (s = 0; s < nseg[b]; s++)
			free(iov[b][s].iov_base);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned int feat_bits[] = {
		RV_VNET_F_CSUM,	      RV_VNET_F_HOST_TSO4,
		RV_VNET_F_HOST_TSO6,  RV_VNET_F_GUEST_CSUM,
		RV_VNET_F_GUEST_TSO4, RV_VNET_F_GUEST_TSO6,
		RV_VNET_F_MRG_RXBUF,
	};
	static struct state st;
	size_t pos = 4, n;
	unsigned int i;
	uint8_t op, *pkt;

	if (size < 4)
		return 0;
	memset(&st, 0, sizeof(st));
	for (i = 0; i < sizeof(feat_bits) / sizeof(feat_bits[0]); i++)
		if (data[0] & 1u << i)
			st.acked |= 1ULL << feat_bits[i];
	st.restricted = data[0] & 0x80;
	st.mtu = (unsigned int)(data[1] | data[2] << 8);
	if (st.mtu < 68)
		st.mtu = 68;
	st.tap = data[3] & 1;
	if (rv_net_coalesce_init(&st.co))
		return 0;
	while (pos + 3 <= size) {
		op = data[pos];
		n = (size_t)(data[pos + 1] | data[pos + 2] << 8);
		pos += 3;
		if (n > size - pos)
			n = size - pos;
		if (op & 8) {
			rx(&st, data + pos, n, op);
		} else if (op & 2) {
			tx_continue(&st, data + pos, n, op);
		} else {
			/* A copy of its own, as net.c sends (tx_buf). */
			pkt = dup(data + pos, n);
			CHECK(pkt);
			if (op & 4 && n > RV_NET_HDR_LEN)
				fix_csums(pkt + RV_NET_HDR_LEN,
					  n - RV_NET_HDR_LEN);
			tx(&st, pkt, n);
			free(pkt);
		}
		if (op & 1)
			flush(&st);
		pos += n;
	}
	flush(&st);
	rv_net_coalesce_free(&st.co);
	return 0;
}
