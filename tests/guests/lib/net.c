/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small IPv4 stack for test guests: Ethernet II, ARP (RFC 826), IPv4
 * without fragments or options on output (RFC 791), ICMP echo (RFC 792),
 * UDP (RFC 768) and a DHCP client (RFC 2131/2132). TCP lives in tcp.c.
 *
 * Frames come from the network through the VMM: every length, header
 * field and option is checked against the bytes actually received before
 * it is followed. A frame that fails a check is dropped and counted in
 * ni->rx_dropped; nothing a frame says can make the guest loop or read
 * past its buffer.
 */
#include "internal.h"
#include "net.h"

#define ARP_HLEN 28
#define ARP_REQUEST 1
#define ARP_REPLY 2
#define ARP_RETRY_US 250000
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO 8
#define PING_ID 0x5241
#define IP_DF 0x4000
#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff

#define DHCP_CLIENT_PORT 68
#define DHCP_SERVER_PORT 67
#define DHCP_MAGIC 0x63825363U
#define DHCP_FIXED 236 /* BOOTP header up to the options' magic */
#define DHCP_LEN 300   /* what we send: padded like BOOTP asks */
#define DHCP_DISCOVER 1
#define DHCP_OFFER 2
#define DHCP_REQUEST 3
#define DHCP_ACK 5
#define DHCP_NAK 6
#define DHCP_WAIT_US 1000000

static const uint8_t eth_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

uint64_t net_now_us(const struct netif *ni)
{
	return rdtsc() / ni->tsc_per_us;
}

int net_init(struct netif *ni, struct vnet *dev)
{
	uint64_t hz = tsc_hz();

	memset(ni, 0, sizeof(*ni));
	ni->dev = dev;
	memcpy(ni->mac, dev->mac, 6);
	ni->tsc_per_us = hz / 1000000 ? hz / 1000000 : 1;
	ni->ip_id = (uint16_t)rdtsc();
	ni->rx_frame = dma_alloc(VNET_RX_MAX, 64);
	return ni->rx_frame ? 0 : -ENOMEM;
}

int net_parse_ip(const char *s, uint32_t *out)
{
	uint32_t ip = 0;

	for (int part = 0; part < 4; part++) {
		uint64_t v;
		size_t len = 0;

		while (s[len] >= '0' && s[len] <= '9')
			len++;
		if (len == 0 || len > 3 || parse_uint(s, len, &v) || v > 255)
			return -EINVAL;
		ip = ip << 8 | (uint32_t)v;
		s += len;
		if (part < 3 && *s++ != '.')
			return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	*out = ip;
	return 0;
}

char *net_ip_str(uint32_t ip, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff,
		 (ip >> 8) & 0xff, ip & 0xff);
	return buf;
}

static int cmdline_ip(const char *key, uint32_t *out)
{
	char v[20];
	int r = cmdline_get_str(key, v, sizeof(v));

	if (r == -ENOENT)
		return 0;
	if (r < 0 || net_parse_ip(v, out)) {
		printf("net: %s=%s is not an IPv4 address\n", key, v);
		return -EINVAL;
	}
	return 1;
}

int net_config_from_cmdline(struct netif *ni)
{
	uint64_t prefix = cmdline_get_uint("prefix", 24);
	int r = cmdline_ip("ip", &ni->ip);

	if (r <= 0)
		return r;
	if (prefix > 32)
		return -EINVAL;
	ni->mask = prefix ? ~0U << (32 - prefix) : 0;
	if (cmdline_ip("mask", &ni->mask) < 0 ||
	    cmdline_ip("gw", &ni->gw) < 0 || cmdline_ip("dns", &ni->dns) < 0)
		return -EINVAL;
	return 1;
}

/* ------------------------------------------------------------------------
 * Checksums (RFC 1071). Sums are kept as the sum of big-endian 16-bit
 * words; the loop adds native (little-endian) 32-bit words and swaps at the
 * end, which RFC 1071 shows gives the same one's complement result.
 */
uint32_t net_csum_add(uint32_t sum, const void *data, uint32_t len)
{
	const uint8_t *p = data;
	uint64_t acc = 0;
	uint32_t le;

	while (len >= 4) {
		uint32_t w;

		memcpy(&w, p, 4);
		acc += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		acc += (uint32_t)(p[0] | p[1] << 8);
		p += 2;
		len -= 2;
	}
	if (len)
		acc += p[0];
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	le = (uint32_t)acc;
	return sum + (((le & 0xff) << 8) | (le >> 8));
}

uint16_t net_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto,
			   uint32_t len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) +
	       proto + len;
}

/* ------------------------------------------------------------------------
 * ARP.
 */
static bool on_link(const struct netif *ni, uint32_t dst)
{
	return (dst & ni->mask) == (ni->ip & ni->mask);
}

static int next_hop(const struct netif *ni, uint32_t dst, uint32_t *hop)
{
	if (dst == IP_BROADCAST || on_link(ni, dst)) {
		*hop = dst;
		return 0;
	}
	if (!ni->gw)
		return -EINVAL;
	*hop = ni->gw;
	return 0;
}

static struct net_arp_entry *arp_find(struct netif *ni, uint32_t ip)
{
	for (unsigned int i = 0; i < NET_ARP_ENTRIES; i++) {
		if (ni->arp[i].valid && ni->arp[i].ip == ip)
			return &ni->arp[i];
	}
	return NULL;
}

static void arp_learn(struct netif *ni, uint32_t ip, const uint8_t mac[6],
		      bool create)
{
	struct net_arp_entry *e = arp_find(ni, ip);

	if (!e) {
		if (!create)
			return;
		e = &ni->arp[ni->arp_next++ % NET_ARP_ENTRIES];
	}
	e->ip = ip;
	memcpy(e->mac, mac, 6);
	e->valid = true;
}

static int arp_send(struct netif *ni, uint16_t op, const uint8_t dmac[6],
		    uint32_t tip, const uint8_t tmac[6])
{
	uint8_t *f = vnet_tx_buf(ni->dev);
	uint8_t *a;

	if (!f) {
		ni->tx_dropped++;
		return -ENOSPC;
	}
	memcpy(f, dmac, 6);
	memcpy(f + 6, ni->mac, 6);
	net_put16(f + 12, ETH_P_ARP);
	a = f + ETH_HLEN;
	net_put16(a, 1);
	net_put16(a + 2, ETH_P_IP);
	a[4] = 6;
	a[5] = 4;
	net_put16(a + 6, op);
	memcpy(a + 8, ni->mac, 6);
	net_put32(a + 14, ni->ip);
	memcpy(a + 18, tmac, 6);
	net_put32(a + 24, tip);
	/* Ethernet's 60-byte minimum; the device need not pad for us. */
	memset(a + ARP_HLEN, 0, 60 - ETH_HLEN - ARP_HLEN);
	return vnet_tx_commit(ni->dev, f, 60, true);
}

static void arp_input(struct netif *ni, const uint8_t *a, uint32_t len)
{
	uint32_t sip, tip;
	uint16_t op;

	if (len < ARP_HLEN || net_get16(a) != 1 ||
	    net_get16(a + 2) != ETH_P_IP || a[4] != 6 || a[5] != 4) {
		ni->rx_dropped++;
		return;
	}
	ni->rx_arp++;
	op = net_get16(a + 6);
	sip = net_get32(a + 14);
	tip = net_get32(a + 24);
	if (!ni->ip || tip != ni->ip) {
		arp_learn(ni, sip, a + 8, false);
		return;
	}
	arp_learn(ni, sip, a + 8, true);
	if (op == ARP_REQUEST)
		(void)arp_send(ni, ARP_REPLY, a + 8, sip, a + 8);
}

static void arp_request(struct netif *ni, uint32_t hop)
{
	static const uint8_t zero[6];
	uint64_t now = net_now_us(ni);

	/* One request per address per retry interval, however many
	 * callers ask. */
	if (hop == ni->arp_req_ip && now - ni->arp_req_us < ARP_RETRY_US)
		return;
	ni->arp_req_ip = hop;
	ni->arp_req_us = now;
	(void)arp_send(ni, ARP_REQUEST, eth_bcast, hop, zero);
}

const uint8_t *net_arp_lookup(struct netif *ni, uint32_t dst)
{
	struct net_arp_entry *e;
	uint32_t hop;

	if (dst == IP_BROADCAST)
		return eth_bcast;
	if (next_hop(ni, dst, &hop))
		return NULL;
	e = arp_find(ni, hop);
	if (e)
		return e->mac;
	arp_request(ni, hop);
	return NULL;
}

int net_arp_resolve(struct netif *ni, uint32_t dst, uint8_t mac[6],
		    uint64_t timeout_us)
{
	uint64_t end = net_now_us(ni) + timeout_us;
	uint32_t hop;

	if (next_hop(ni, dst, &hop))
		return -EINVAL;
	for (;;) {
		const uint8_t *m = net_arp_lookup(ni, dst);

		if (m) {
			memcpy(mac, m, 6);
			return 0;
		}
		/* Called from a handler inside net_poll(): no waiting. */
		if (ni->in_poll)
			return -EAGAIN;
		if (net_now_us(ni) > end)
			return -ETIMEDOUT;
		net_poll(ni, 64);
		cpu_pause();
	}
}

/* ------------------------------------------------------------------------
 * IPv4.
 */
int net_ip_output(struct netif *ni, uint8_t *frame, const uint8_t dmac[6],
		  uint32_t dst, uint8_t proto, uint32_t len, bool kick)
{
	uint8_t *ip = frame + ETH_HLEN;

	if (len > ETH_FRAME_MAX - ETH_HLEN - IP_HLEN) {
		vnet_tx_abort(ni->dev, frame);
		return -EINVAL;
	}
	memcpy(frame, dmac, 6);
	memcpy(frame + 6, ni->mac, 6);
	net_put16(frame + 12, ETH_P_IP);
	ip[0] = 0x45;
	ip[1] = 0;
	net_put16(ip + 2, (uint16_t)(IP_HLEN + len));
	net_put16(ip + 4, ni->ip_id++);
	net_put16(ip + 6, IP_DF);
	ip[8] = 64;
	ip[9] = proto;
	net_put16(ip + 10, 0);
	net_put32(ip + 12, ni->ip);
	net_put32(ip + 16, dst);
	net_put16(ip + 10, net_csum_fold(net_csum_add(0, ip, IP_HLEN)));
	len += ETH_HLEN + IP_HLEN;
	/* Pad to Ethernet's minimum with zeroes, not stale buffer bytes. */
	if (len < 60) {
		memset(frame + len, 0, 60 - len);
		len = 60;
	}
	return vnet_tx_commit(ni->dev, frame, len, kick);
}

static void icmp_input(struct netif *ni, uint32_t src, const uint8_t *p,
		       uint32_t len)
{
	const uint8_t *mac;
	uint8_t *f;

	if (len < 8 || net_csum_fold(net_csum_add(0, p, len)) != 0) {
		ni->rx_dropped++;
		return;
	}
	ni->rx_icmp++;
	if (p[0] == ICMP_ECHO_REPLY && net_get16(p + 4) == PING_ID) {
		ni->ping_seq = net_get16(p + 6);
		ni->ping_got = true;
		return;
	}
	if (p[0] != ICMP_ECHO || !ni->ip)
		return;
	mac = net_arp_lookup(ni, src);
	f = mac ? vnet_tx_buf(ni->dev) : NULL;
	if (!f) {
		ni->tx_dropped++;
		return;
	}
	uint8_t *r = f + ETH_HLEN + IP_HLEN;

	memcpy(r, p, len);
	r[0] = ICMP_ECHO_REPLY;
	net_put16(r + 2, 0);
	net_put16(r + 2, net_csum_fold(net_csum_add(0, r, len)));
	(void)net_ip_output(ni, f, mac, src, IPPROTO_ICMP, len, true);
}

static void udp_input(struct netif *ni, uint32_t src, uint32_t dst,
		      const uint8_t *u, uint32_t len)
{
	uint16_t ulen, sport, dport;

	if (len < UDP_HLEN) {
		ni->rx_dropped++;
		return;
	}
	ulen = net_get16(u + 4);
	if (ulen < UDP_HLEN || ulen > len) {
		ni->rx_dropped++;
		return;
	}
	if (net_get16(u + 6) &&
	    net_csum_fold(net_csum_add(pseudo_sum(src, dst, IPPROTO_UDP, ulen),
				       u, ulen)) != 0) {
		ni->rx_dropped++;
		return;
	}
	ni->rx_udp++;
	sport = net_get16(u);
	dport = net_get16(u + 2);
	for (unsigned int i = 0; i < NET_UDP_HANDLERS; i++) {
		if (ni->udp[i].fn && ni->udp[i].port == dport) {
			ni->udp[i].fn(ni, src, sport, dport, u + UDP_HLEN,
				      ulen - UDP_HLEN, ni->udp[i].arg);
			return;
		}
	}
}

static void ip_input(struct netif *ni, const uint8_t *smac, const uint8_t *ip,
		     uint32_t len)
{
	uint32_t hl, tot, src, dst;
	uint16_t frag;

	if (len < IP_HLEN || (ip[0] >> 4) != 4) {
		ni->rx_dropped++;
		return;
	}
	hl = (ip[0] & 0xfU) * 4;
	tot = net_get16(ip + 2);
	if (hl < IP_HLEN || tot < hl || tot > len ||
	    net_csum_fold(net_csum_add(0, ip, hl)) != 0) {
		ni->rx_dropped++;
		return;
	}
	frag = net_get16(ip + 6);
	src = net_get32(ip + 12);
	dst = net_get32(ip + 16);
	/* No reassembly: a fragment is dropped like a foreign packet. */
	if (frag & (IP_MF | IP_OFFMASK)) {
		ni->rx_dropped++;
		return;
	}
	/* Before DHCP finishes any destination is accepted (offers may be
	 * unicast to the address being offered). */
	if (ni->ip && dst != ni->ip && dst != IP_BROADCAST &&
	    dst != (ni->ip | ~ni->mask)) {
		ni->rx_dropped++;
		return;
	}
	ni->rx_ip++;
	/*
	 * Learn the sender's next-hop MAC from the frame, so that a handler
	 * answering it (echo replies, UDP echoes) finds it cached: inside
	 * net_poll() nothing can wait for an ARP reply.
	 */
	if (ni->ip && src && src != IP_BROADCAST)
		arp_learn(ni, on_link(ni, src) ? src : ni->gw, smac,
			  on_link(ni, src) || ni->gw);
	switch (ip[9]) {
	case IPPROTO_ICMP:
		icmp_input(ni, src, ip + hl, tot - hl);
		break;
	case IPPROTO_UDP:
		udp_input(ni, src, dst, ip + hl, tot - hl);
		break;
	case IPPROTO_TCP:
		ni->rx_tcp++;
		tcp_input(ni, src, dst, ip + hl, tot - hl);
		break;
	default:
		ni->rx_dropped++;
		break;
	}
}

static void eth_input(struct netif *ni, const uint8_t *f, uint32_t len)
{
	uint16_t type;

	if (len < ETH_HLEN ||
	    (memcmp(f, ni->mac, 6) && memcmp(f, eth_bcast, 6))) {
		ni->rx_dropped++;
		return;
	}
	type = net_get16(f + 12);
	if (type == ETH_P_ARP)
		arp_input(ni, f + ETH_HLEN, len - ETH_HLEN);
	else if (type == ETH_P_IP)
		ip_input(ni, f + 6, f + ETH_HLEN, len - ETH_HLEN);
	else
		ni->rx_dropped++;
}

unsigned int net_poll(struct netif *ni, unsigned int budget)
{
	unsigned int n = 0;

	if (ni->in_poll)
		return 0;
	ni->in_poll = true;
	while (n < budget) {
		int len = vnet_recv(ni->dev, ni->rx_frame, VNET_RX_MAX);

		if (len == 0)
			break;
		n++;
		if (len < 0) {
			ni->rx_dropped++;
			continue;
		}
		eth_input(ni, ni->rx_frame, (uint32_t)len);
	}
	vnet_rx_flush(ni->dev);
	vnet_tx_reap(ni->dev);
	tcp_tick(ni);
	vnet_tx_flush(ni->dev);
	ni->in_poll = false;
	return n;
}

/* ------------------------------------------------------------------------
 * UDP.
 */
int net_udp_bind(struct netif *ni, uint16_t port, net_udp_fn fn, void *arg)
{
	int free_slot = -1;

	for (unsigned int i = 0; i < NET_UDP_HANDLERS; i++) {
		if (ni->udp[i].fn && ni->udp[i].port == port)
			return -EBUSY;
		if (!ni->udp[i].fn && free_slot < 0)
			free_slot = (int)i;
	}
	if (free_slot < 0)
		return -ENOSPC;
	ni->udp[free_slot].port = port;
	ni->udp[free_slot].fn = fn;
	ni->udp[free_slot].arg = arg;
	return 0;
}

void net_udp_unbind(struct netif *ni, uint16_t port)
{
	for (unsigned int i = 0; i < NET_UDP_HANDLERS; i++) {
		if (ni->udp[i].fn && ni->udp[i].port == port)
			ni->udp[i].fn = NULL;
	}
}

int net_udp_send(struct netif *ni, uint32_t dst, uint16_t sport, uint16_t dport,
		 const void *data, uint32_t len)
{
	uint8_t mac[6];
	uint8_t *f, *u;
	uint32_t sum;
	uint16_t c;
	int r;

	if (len > NET_UDP_MAX)
		return -EINVAL;
	r = net_arp_resolve(ni, dst, mac, 2000000);
	if (r)
		return r;
	f = vnet_tx_buf(ni->dev);
	if (!f) {
		ni->tx_dropped++;
		return -ENOSPC;
	}
	u = f + ETH_HLEN + IP_HLEN;
	net_put16(u, sport);
	net_put16(u + 2, dport);
	net_put16(u + 4, (uint16_t)(UDP_HLEN + len));
	net_put16(u + 6, 0);
	memcpy(u + UDP_HLEN, data, len);
	sum = pseudo_sum(ni->ip, dst, IPPROTO_UDP, UDP_HLEN + len);
	c = net_csum_fold(net_csum_add(sum, u, UDP_HLEN + len));
	net_put16(u + 6, c ? c : 0xffff);
	return net_ip_output(ni, f, mac, dst, IPPROTO_UDP, UDP_HLEN + len,
			     true);
}

/* ------------------------------------------------------------------------
 * ICMP echo.
 */
int64_t net_ping(struct netif *ni, uint32_t dst, uint16_t seq, uint32_t payload,
		 uint64_t timeout_us)
{
	uint64_t t0 = net_now_us(ni), end = t0 + timeout_us;
	uint8_t mac[6];
	uint8_t *f, *p;
	uint32_t len;
	int r;

	if (payload > ETH_FRAME_MAX - ETH_HLEN - IP_HLEN - 8)
		return -EINVAL;
	r = net_arp_resolve(ni, dst, mac, timeout_us);
	if (r)
		return r;
	f = vnet_tx_buf(ni->dev);
	if (!f)
		return -ENOSPC;
	p = f + ETH_HLEN + IP_HLEN;
	len = 8 + payload;
	p[0] = ICMP_ECHO;
	p[1] = 0;
	net_put16(p + 2, 0);
	net_put16(p + 4, PING_ID);
	net_put16(p + 6, seq);
	for (uint32_t i = 0; i < payload; i++)
		p[8 + i] = (uint8_t)(i + seq);
	net_put16(p + 2, net_csum_fold(net_csum_add(0, p, len)));
	ni->ping_got = false;
	t0 = net_now_us(ni);
	r = net_ip_output(ni, f, mac, dst, IPPROTO_ICMP, len, true);
	if (r)
		return r;
	while (!(ni->ping_got && ni->ping_seq == seq)) {
		if (net_now_us(ni) > end)
			return -ETIMEDOUT;
		net_poll(ni, 64);
		cpu_pause();
	}
	return (int64_t)(net_now_us(ni) - t0);
}

/* ------------------------------------------------------------------------
 * DHCP client.
 */
struct dhcp_reply {
	uint32_t xid;
	const uint8_t *mac;
	bool got;
	uint8_t type;
	uint32_t yiaddr, mask, router, dns, server, lease;
};

static uint32_t opt32(const uint8_t *v, uint8_t len)
{
	return len >= 4 ? net_get32(v) : 0;
}

/* Walks the options, each bounded by the datagram's end. */
static void dhcp_options(struct dhcp_reply *d, const uint8_t *o,
			 const uint8_t *end)
{
	while (o < end && *o != 255) {
		uint8_t code = *o++, len;

		if (code == 0)
			continue;
		if (o >= end)
			break;
		len = *o++;
		if (len > end - o)
			break;
		switch (code) {
		case 1:
			d->mask = opt32(o, len);
			break;
		case 3:
			d->router = opt32(o, len);
			break;
		case 6:
			d->dns = opt32(o, len);
			break;
		case 51:
			d->lease = opt32(o, len);
			break;
		case 53:
			d->type = len ? o[0] : 0;
			break;
		case 54:
			d->server = opt32(o, len);
			break;
		default:
			break;
		}
		o += len;
	}
}

static void dhcp_input(struct netif *ni, uint32_t src, uint16_t sport,
		       uint16_t dport, const uint8_t *data, uint32_t len,
		       void *arg)
{
	struct dhcp_reply *d = arg;
	struct dhcp_reply r;

	(void)ni;
	(void)src;
	(void)dport;
	if (sport != DHCP_SERVER_PORT || len < DHCP_FIXED + 4 || data[0] != 2 ||
	    net_get32(data + 4) != d->xid || memcmp(data + 28, d->mac, 6) ||
	    net_get32(data + DHCP_FIXED) != DHCP_MAGIC)
		return;
	memset(&r, 0, sizeof(r));
	r.xid = d->xid;
	r.mac = d->mac;
	r.yiaddr = net_get32(data + 16);
	dhcp_options(&r, data + DHCP_FIXED + 4, data + len);
	if (r.type != DHCP_OFFER && r.type != DHCP_ACK && r.type != DHCP_NAK)
		return;
	r.got = true;
	*d = r;
}

static int dhcp_send(struct netif *ni, uint32_t xid, uint8_t type,
		     uint32_t want_ip, uint32_t server)
{
	uint8_t p[DHCP_LEN];
	uint8_t *o = p + DHCP_FIXED + 4;

	memset(p, 0, sizeof(p));
	p[0] = 1; /* BOOTREQUEST */
	p[1] = 1; /* Ethernet */
	p[2] = 6;
	net_put32(p + 4, xid);
	net_put16(p + 10, 0x8000); /* answer by broadcast: we have no IP */
	memcpy(p + 28, ni->mac, 6);
	net_put32(p + DHCP_FIXED, DHCP_MAGIC);
	*o++ = 53;
	*o++ = 1;
	*o++ = type;
	*o++ = 55; /* parameters: mask, router, DNS, lease, server */
	*o++ = 4;
	*o++ = 1;
	*o++ = 3;
	*o++ = 6;
	*o++ = 51;
	if (want_ip) {
		*o++ = 50;
		*o++ = 4;
		net_put32(o, want_ip);
		o += 4;
	}
	if (server) {
		*o++ = 54;
		*o++ = 4;
		net_put32(o, server);
		o += 4;
	}
	*o++ = 255;
	return net_udp_send(ni, IP_BROADCAST, DHCP_CLIENT_PORT,
			    DHCP_SERVER_PORT, p, sizeof(p));
}

/* Polls until a reply of one of the wanted types came or wait_us passed. */
static bool dhcp_wait(struct netif *ni, struct dhcp_reply *d, uint8_t t1,
		      uint8_t t2, uint64_t wait_us)
{
	uint64_t end = net_now_us(ni) + wait_us;

	while (net_now_us(ni) < end) {
		net_poll(ni, 64);
		if (d->got && (d->type == t1 || d->type == t2))
			return true;
		d->got = false;
		cpu_pause();
	}
	return false;
}

int net_dhcp(struct netif *ni, uint64_t timeout_us)
{
	uint64_t end = net_now_us(ni) + timeout_us;
	struct dhcp_reply d;
	int r, result = -ETIMEDOUT;

	memset(&d, 0, sizeof(d));
	d.mac = ni->mac;
	r = net_udp_bind(ni, DHCP_CLIENT_PORT, dhcp_input, &d);
	if (r)
		return r;
	ni->ip = 0;
	ni->mask = 0;
	while (net_now_us(ni) < end) {
		uint32_t offered, server;

		d.xid = (uint32_t)rdtsc() ^ 0x52415645U;
		d.got = false;
		if (dhcp_send(ni, d.xid, DHCP_DISCOVER, 0, 0))
			continue;
		if (!dhcp_wait(ni, &d, DHCP_OFFER, DHCP_OFFER, DHCP_WAIT_US))
			continue;
		offered = d.yiaddr;
		server = d.server;
		d.got = false;
		if (dhcp_send(ni, d.xid, DHCP_REQUEST, offered, server))
			continue;
		if (!dhcp_wait(ni, &d, DHCP_ACK, DHCP_NAK, DHCP_WAIT_US))
			continue;
		if (d.type == DHCP_NAK) {
			result = -EPROTO;
			break;
		}
		if (!d.yiaddr || d.yiaddr == IP_BROADCAST)
			continue;
		ni->ip = d.yiaddr;
		ni->mask = d.mask ? d.mask : 0xffffff00U;
		ni->gw = d.router;
		ni->dns = d.dns;
		ni->dhcp_server = d.server ? d.server : server;
		ni->lease_s = d.lease;
		result = 0;
		break;
	}
	net_udp_unbind(ni, DHCP_CLIENT_PORT);
	return result;
}

/* ------------------------------------------------------------------------
 * Guest conveniences.
 */
int net_bringup(struct netif *ni, struct vnet *dev, const char *who)
{
	struct virtio_opts o;
	struct pci_dev *pci =
		vnet_find((unsigned int)cmdline_get_uint("nic", 0));
	int r;

	if (!pci) {
		printf("%s: no virtio-net device\n", who);
		return -ENODEV;
	}
	virtio_opts_from_cmdline(&o, VIRTIO_IRQ_POLL);
	r = vnet_open(dev, pci, &o);
	if (r) {
		printf("%s: cannot open the NIC (%d)\n", who, r);
		return r;
	}
	r = net_init(ni, dev);
	if (r)
		printf("%s: out of memory\n", who);
	return r;
}

int net_run_user(struct netif *ni, struct vnet *dev, const char *who,
		 long (*fn)(void *arg))
{
	uint8_t *stack;

	if (net_bringup(ni, dev, who))
		return 110;
	/* The kit's 16 KiB user stack is too small for the TCP guests. */
	stack = dma_alloc(65536, 4096);
	if (!stack)
		return 119;
	return (int)user_enter(fn, NULL, stack + 65536);
}

int net_configure(struct netif *ni, const char *who, uint64_t timeout_us)
{
	char a[16], m[16], g[16], d[16], s[16];
	int r = net_config_from_cmdline(ni);

	if (r < 0)
		return r;
	if (r == 0) {
		r = net_dhcp(ni, timeout_us);
		if (r) {
			printf("%s: no DHCP lease (%d)\n", who, r);
			return r;
		}
		printf("%s: lease ip=%s mask=%s gw=%s dns=%s server=%s "
		       "lease=%us\n",
		       who, net_ip_str(ni->ip, a), net_ip_str(ni->mask, m),
		       net_ip_str(ni->gw, g), net_ip_str(ni->dns, d),
		       net_ip_str(ni->dhcp_server, s), ni->lease_s);
		return 0;
	}
	printf("%s: static ip=%s mask=%s gw=%s\n", who, net_ip_str(ni->ip, a),
	       net_ip_str(ni->mask, m), net_ip_str(ni->gw, g));
	return 0;
}

uint32_t net_cmdline_ip(const char *key, uint32_t def)
{
	uint32_t ip;

	return cmdline_ip(key, &ip) == 1 ? ip : def;
}
