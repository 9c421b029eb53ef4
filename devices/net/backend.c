// SPDX-License-Identifier: Apache-2.0
/*
 * Helpers shared by the network backends and the virtio-net device: the
 * virtio_net_hdr wire format, the poll set and restricted mode's frame
 * filter.
 */
#include "backend.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define IPV4_MIN_HLEN 20u
#define IPPROTO_TCP_NUM 6

static uint16_t get16le(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void put16le(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void rv_net_hdr_decode(const uint8_t raw[RV_NET_HDR_LEN],
		       struct rv_net_hdr *hdr)
{
	hdr->flags = raw[0];
	hdr->gso_type = raw[1];
	hdr->hdr_len = get16le(raw + 2);
	hdr->gso_size = get16le(raw + 4);
	hdr->csum_start = get16le(raw + 6);
	hdr->csum_offset = get16le(raw + 8);
	hdr->num_buffers = get16le(raw + 10);
}

void rv_net_hdr_encode(const struct rv_net_hdr *hdr,
		       uint8_t raw[RV_NET_HDR_LEN])
{
	raw[0] = hdr->flags;
	raw[1] = hdr->gso_type;
	put16le(raw + 2, hdr->hdr_len);
	put16le(raw + 4, hdr->gso_size);
	put16le(raw + 6, hdr->csum_start);
	put16le(raw + 8, hdr->csum_offset);
	put16le(raw + 10, hdr->num_buffers);
}

int rv_net_pollset_add(struct rv_net_pollset *ps, int fd, short events)
{
	struct pollfd *fds;
	unsigned int cap;

	if (ps->n == ps->cap) {
		cap = ps->cap ? 2 * ps->cap : 16;
		fds = realloc(ps->fds, cap * sizeof(*fds));
		if (!fds)
			return -ENOMEM;
		ps->fds = fds;
		ps->cap = cap;
	}
	ps->fds[ps->n] = (struct pollfd){ .fd = fd, .events = events };
	return (int)ps->n++;
}

void rv_net_pollset_free(struct rv_net_pollset *ps)
{
	free(ps->fds);
	ps->fds = NULL;
	ps->n = ps->cap = 0;
}

/* Whether port is the guest port of a TCP forward. */
static bool tcp_forwarded(uint16_t port, const struct rv_net_forward *fwd,
			  unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		if (!fwd[i].udp && fwd[i].guest_port == port)
			return true;
	}
	return false;
}

/*
 * Trusts nothing in the frame: every field read is inside len. A frame
 * with an 802.1Q tag is refused (its EtherType is not IPv4 or ARP), so a
 * tag cannot hide a packet from the filter. Fragments other than the
 * first carry no port and only pass inside the user network.
 */
bool rv_net_restrict_allows(const uint8_t *frame, size_t len,
			    const struct rv_net_forward *fwd, unsigned int nr)
{
	const uint8_t *ip;
	size_t ihl;
	uint32_t dst;
	uint16_t type, sport;

	if (len < RV_NET_ETH_HLEN)
		return false;
	type = (uint16_t)(frame[12] << 8 | frame[13]);
	if (type == ETHERTYPE_ARP)
		return true;
	if (type != ETHERTYPE_IPV4 || len < RV_NET_ETH_HLEN + IPV4_MIN_HLEN)
		return false;
	ip = frame + RV_NET_ETH_HLEN;
	if (ip[0] >> 4 != 4)
		return false;
	dst = (uint32_t)ip[16] << 24 | (uint32_t)ip[17] << 16 |
	      (uint32_t)ip[18] << 8 | ip[19];
	if (dst == 0xffffffffu ||
	    (dst & RV_NET_USER_NETMASK) == RV_NET_USER_NETWORK)
		return true;
	/* Outside the user network: only TCP answers on a forward. */
	ihl = (size_t)(ip[0] & 0x0f) * 4;
	if (ip[9] != IPPROTO_TCP_NUM || ihl < IPV4_MIN_HLEN ||
	    (ip[6] & 0x1f) != 0 || ip[7] != 0 ||
	    len < RV_NET_ETH_HLEN + ihl + 4)
		return false;
	sport = (uint16_t)(ip[ihl] << 8 | ip[ihl + 1]);
	return tcp_forwarded(sport, fwd, nr);
}

/* ------------------------------------------------------------------------
 * Coalescing of a guest's TCP stream (backend.h).
 */

#define TCP_MIN_HLEN 20u
#define TCP_FLAG_PSH 0x08
#define TCP_FLAG_ACK 0x10
#define IPV4_MAX_LEN 65535u

/* One mergeable segment, as parse_seg() found it. */
struct seg {
	const uint8_t *ip;
	size_t tot;	/* IPv4 total length */
	size_t payload; /* TCP payload bytes */
	uint32_t seq, ack;
	uint8_t flags;
};

static uint16_t get16be(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put16be(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * The one's complement sum of len bytes (RFC 1071) added to sum, as
 * big-endian 16-bit words. The words are added in host order, eight bytes
 * at a time, and the folded result swapped once at the end (RFC 1071,
 * 2(B): the sum does not depend on byte order but for that swap). An odd
 * last byte counts as the high byte of a word, as the RFC says.
 */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	uint64_t acc = 0, w;
	uint16_t h;

	while (len >= 8) {
		memcpy(&w, p, 8);
		acc += (w & 0xffffffffu) + (w >> 32);
		p += 8;
		len -= 8;
	}
	while (len >= 2) {
		memcpy(&h, p, 2);
		acc += h;
		p += 2;
		len -= 2;
	}
	if (len) {
		h = 0;
		memcpy(&h, p, 1);
		acc += h;
	}
	return sum + ntohs(csum_fold(acc));
}

/* The TCP checksum's sum over the pseudo-header and the segment. */
static uint16_t tcp_sum(const uint8_t *ip, size_t tot)
{
	uint64_t sum = csum_add(0, ip + 12, 8); /* source, destination */

	sum += IPPROTO_TCP_NUM;
	sum += tot - IPV4_MIN_HLEN;
	return csum_fold(
		csum_add(sum, ip + IPV4_MIN_HLEN, tot - IPV4_MIN_HLEN));
}

/*
 * Whether a guest frame is a plain TCP data segment that may be merged:
 * IPv4 without options or fragmentation, TCP without options, flags ACK
 * or ACK|PSH, some payload, and both checksums right (a segment the
 * guest got wrong goes to slirp alone, which drops it as before).
 * Trusts nothing: every field read lies inside len.
 */
static bool parse_seg(const uint8_t *frame, size_t len, struct seg *s)
{
	const uint8_t *ip = frame + RV_NET_ETH_HLEN, *tcp;

	if (len < RV_NET_ETH_HLEN + IPV4_MIN_HLEN + TCP_MIN_HLEN ||
	    get16be(frame + 12) != ETHERTYPE_IPV4 || ip[0] != 0x45 ||
	    ip[9] != IPPROTO_TCP_NUM || (get16be(ip + 6) & 0x3fff) != 0)
		return false;
	s->tot = get16be(ip + 2);
	if (s->tot < IPV4_MIN_HLEN + TCP_MIN_HLEN ||
	    s->tot > len - RV_NET_ETH_HLEN)
		return false;
	tcp = ip + IPV4_MIN_HLEN;
	/* Data offset 5 and no reserved bits; no urgent data. */
	if (tcp[12] != 0x50 || (tcp[13] & ~TCP_FLAG_PSH) != TCP_FLAG_ACK ||
	    get16be(tcp + 18) != 0)
		return false;
	s->payload = s->tot - IPV4_MIN_HLEN - TCP_MIN_HLEN;
	if (!s->payload)
		return false;
	if (csum_fold(csum_add(0, ip, IPV4_MIN_HLEN)) != 0xffff ||
	    tcp_sum(ip, s->tot) != 0xffff)
		return false;
	s->ip = ip;
	s->seq = get32be(tcp + 4);
	s->ack = get32be(tcp + 8);
	s->flags = tcp[13];
	return true;
}

int rv_net_coalesce_init(struct rv_net_coalesce *c)
{
	*c = (struct rv_net_coalesce){ 0 };
	c->buf = malloc(RV_NET_ETH_HLEN + IPV4_MAX_LEN);
	return c->buf ? 0 : -ENOMEM;
}

void rv_net_coalesce_free(struct rv_net_coalesce *c)
{
	free(c->buf);
	c->buf = NULL;
	c->len = 0;
}

bool rv_net_coalesce_hold(struct rv_net_coalesce *c, const uint8_t *frame,
			  size_t len)
{
	struct seg s;

	if (!c->buf || c->len || !parse_seg(frame, len, &s))
		return false;
	/* Ethernet padding past the IP packet is left behind. */
	c->len = RV_NET_ETH_HLEN + s.tot;
	memcpy(c->buf, frame, c->len);
	c->segs = 1;
	c->mss = s.payload;
	c->next_seq = s.seq + (uint32_t)s.payload;
	c->ack = s.ack;
	return true;
}

bool rv_net_coalesce_merge(struct rv_net_coalesce *c, const uint8_t *frame,
			   size_t len)
{
	uint8_t *ip = c->buf + RV_NET_ETH_HLEN, *tcp = ip + IPV4_MIN_HLEN;
	struct seg s;

	if (!c->len || !parse_seg(frame, len, &s))
		return false;
	/*
	 * The same flow, next in sequence, the same ACK, and nothing else
	 * in the headers differs (MACs, TOS, DF, TTL, addresses, ports).
	 */
	if (s.seq != c->next_seq || s.ack != c->ack ||
	    c->len - RV_NET_ETH_HLEN + s.payload > RV_NET_COALESCE_MAX ||
	    memcmp(frame, c->buf, 12) != 0 || s.ip[1] != ip[1] ||
	    s.ip[6] != ip[6] || s.ip[8] != ip[8] ||
	    memcmp(s.ip + 12, ip + 12, 8) != 0 ||
	    memcmp(s.ip + IPV4_MIN_HLEN, tcp, 4) != 0)
		return false;
	memcpy(c->buf + c->len, s.ip + IPV4_MIN_HLEN + TCP_MIN_HLEN, s.payload);
	c->len += s.payload;
	c->next_seq += (uint32_t)s.payload;
	/* The newest window; PSH if any segment had it. */
	memcpy(tcp + 14, s.ip + IPV4_MIN_HLEN + 14, 2);
	tcp[13] |= s.flags & TCP_FLAG_PSH;
	if (s.payload > c->mss)
		c->mss = s.payload;
	c->segs++;
	c->merged++;
	return true;
}

/* Writes the merged packet's IPv4 total length and header checksum. */
static void fix_ip(uint8_t *ip, size_t tot)
{
	put16be(ip + 2, (uint16_t)tot);
	put16be(ip + 10, 0);
	put16be(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, IPV4_MIN_HLEN)));
}

const uint8_t *rv_net_coalesce_take_gso(struct rv_net_coalesce *c, size_t *len,
					struct rv_net_hdr *hdr)
{
	uint8_t *ip = c->buf + RV_NET_ETH_HLEN, *tcp = ip + IPV4_MIN_HLEN;
	size_t tot = c->len - RV_NET_ETH_HLEN;
	uint64_t sum;

	*hdr = (struct rv_net_hdr){ 0 };
	if (!c->len)
		return NULL;
	*len = c->len;
	c->len = 0;
	if (c->segs > 1) {
		fix_ip(ip, tot);
		/*
		 * A partial checksum as a Linux stack sends with TSO: the
		 * field holds the pseudo-header's sum, the host finishes it.
		 */
		sum = csum_add(0, ip + 12, 8) + IPPROTO_TCP_NUM +
		      (tot - IPV4_MIN_HLEN);
		put16be(tcp + 16, csum_fold(sum));
		hdr->flags = RV_NET_HDR_F_NEEDS_CSUM;
		hdr->gso_type = RV_NET_HDR_GSO_TCPV4;
		hdr->hdr_len = RV_NET_ETH_HLEN + IPV4_MIN_HLEN + TCP_MIN_HLEN;
		hdr->gso_size = (uint16_t)c->mss;
		hdr->csum_start = RV_NET_ETH_HLEN + IPV4_MIN_HLEN;
		hdr->csum_offset = 16;
	}
	c->segs = 0;
	return c->buf;
}

const uint8_t *rv_net_coalesce_take(struct rv_net_coalesce *c, size_t *len)
{
	uint8_t *ip = c->buf + RV_NET_ETH_HLEN, *tcp = ip + IPV4_MIN_HLEN;
	size_t tot = c->len - RV_NET_ETH_HLEN;

	if (!c->len)
		return NULL;
	*len = c->len;
	c->len = 0;
	/* A lone segment goes on exactly as the guest sent it. */
	if (c->segs > 1) {
		fix_ip(ip, tot);
		put16be(tcp + 16, 0);
		put16be(tcp + 16, (uint16_t)~tcp_sum(ip, tot));
	}
	c->segs = 0;
	return c->buf;
}
