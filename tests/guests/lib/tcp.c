/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny TCP (RFC 793 with RFC 1122's corrections, much simplified) for
 * test guests: enough for one stream per connection between a guest and a
 * host through a VMM's NAT or tap, with a real peer's behaviour on the
 * other side (the host kernel, through libslirp or a tap).
 *
 * What it keeps: active and passive open with the MSS option, in-order
 * receive into a ring (anything else is dropped and re-acknowledged),
 * sending within the peer's window, go-back-N retransmission from the
 * oldest unacknowledged byte when the timer runs out or after three
 * duplicate ACKs, a one-byte probe into a zero window, FIN in both
 * directions. What it leaves out: window scaling, SACK, timestamps,
 * urgent data, congestion control (the peer is one hop away), and
 * TIME_WAIT's 2 MSL (TIME_WAIT counts as closed).
 *
 * Segments are hostile input: the data offset, options and lengths are
 * checked against the segment, the checksum is verified, and sequence and
 * acknowledgement numbers are compared modulo 2^32 before they move state.
 */
#include "internal.h"
#include "net.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

#define OUR_MSS 1460
#define DEFAULT_MSS 536
#define RTO_INIT_US 300000
#define RTO_MAX_US 2000000
#define MAX_RETRIES 12
#define DUP_ACK_THRESHOLD 3
#define EPHEMERAL_BASE 49152

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_LE(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b) SEQ_LT(b, a)

const char *tcp_state_name(enum tcp_state s)
{
	static const char *const names[] = {
		"CLOSED",      "LISTEN",     "SYN_SENT",   "SYN_RCVD",
		"ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSING",
		"TIME_WAIT",   "CLOSE_WAIT", "LAST_ACK",
	};

	return (unsigned int)s < sizeof(names) / sizeof(names[0]) ? names[s] :
								    "?";
}

int tcp_conn_init(struct netif *ni, struct tcp_conn *c, uint32_t sbuf_bytes,
		  uint32_t rbuf_bytes)
{
	int slot = -1;

	for (unsigned int i = 0; i < NET_TCP_CONNS; i++) {
		if (ni->tcp[i] == c) {
			slot = (int)i;
			break;
		}
		if (!ni->tcp[i] && slot < 0)
			slot = (int)i;
	}
	if (slot < 0)
		return -ENOSPC;
	if (!sbuf_bytes || !rbuf_bytes)
		return -EINVAL;
	memset(c, 0, sizeof(*c));
	c->ni = ni;
	c->sbuf = dma_alloc(sbuf_bytes, 64);
	c->rbuf = dma_alloc(rbuf_bytes, 64);
	if (!c->sbuf || !c->rbuf)
		return -ENOMEM;
	c->scap = sbuf_bytes;
	c->rcap = rbuf_bytes;
	c->mss = DEFAULT_MSS;
	c->rto_us = RTO_INIT_US;
	ni->tcp[slot] = c;
	return 0;
}

static uint16_t rcv_window(const struct tcp_conn *c)
{
	uint32_t w = c->rcap - c->rlen;

	return (uint16_t)(w > 0xffff ? 0xffff : w);
}

/*
 * Builds and queues one segment: flags, seq, and len bytes of the send
 * ring from offset off (relative to snd_una). Returns 0, -EAGAIN (next hop
 * not resolved yet: an ARP request went out) or -ENOSPC.
 */
static int seg_out(struct tcp_conn *c, uint32_t seq, uint8_t flags,
		   uint32_t off, uint32_t len, bool kick)
{
	struct netif *ni = c->ni;
	const uint8_t *mac = net_arp_lookup(ni, c->rip);
	uint32_t hl = (flags & TCP_SYN) ? TCP_HLEN + 4 : TCP_HLEN, sum;
	uint8_t *f, *t;

	if (!mac)
		return -EAGAIN;
	f = vnet_tx_buf(ni->dev);
	if (!f) {
		ni->tx_dropped++;
		return -ENOSPC;
	}
	t = f + ETH_HLEN + IP_HLEN;
	net_put16(t, c->lport);
	net_put16(t + 2, c->rport);
	net_put32(t + 4, seq);
	net_put32(t + 8, (flags & TCP_ACK) ? c->rcv_nxt : 0);
	t[12] = (uint8_t)((hl / 4) << 4);
	t[13] = flags;
	net_put16(t + 14, rcv_window(c));
	net_put16(t + 16, 0);
	net_put16(t + 18, 0);
	if (flags & TCP_SYN) {
		t[20] = 2;
		t[21] = 4;
		net_put16(t + 22, OUR_MSS);
	}
	if (len) {
		uint32_t pos = (c->shead + off) % c->scap;
		uint32_t first = c->scap - pos < len ? c->scap - pos : len;

		memcpy(t + hl, c->sbuf + pos, first);
		memcpy(t + hl + first, c->sbuf, len - first);
	}
	sum = (c->lip >> 16) + (c->lip & 0xffff) + (c->rip >> 16) +
	      (c->rip & 0xffff) + IPPROTO_TCP + hl + len;
	net_put16(t + 16, net_csum_fold(net_csum_add(sum, t, hl + len)));
	c->segs_out++;
	if (flags & TCP_ACK)
		c->ack_pending = false;
	return net_ip_output(ni, f, mac, c->rip, IPPROTO_TCP, hl + len, kick);
}

/* A reset for a segment that matches no connection (RFC 793, p. 36). */
static void rst_reply(struct netif *ni, uint32_t src, uint32_t dst,
		      uint16_t sport, uint16_t dport, uint32_t seq,
		      uint32_t ack, uint8_t flags, uint32_t plen)
{
	struct tcp_conn tmp;

	memset(&tmp, 0, sizeof(tmp));
	tmp.ni = ni;
	tmp.lip = dst;
	tmp.rip = src;
	tmp.lport = dport;
	tmp.rport = sport;
	if (flags & TCP_ACK) {
		(void)seg_out(&tmp, ack, TCP_RST, 0, 0, true);
		return;
	}
	tmp.rcv_nxt = seq + plen + !!(flags & TCP_SYN) + !!(flags & TCP_FIN);
	(void)seg_out(&tmp, 0, TCP_RST | TCP_ACK, 0, 0, true);
}

static void timer_arm(struct tcp_conn *c)
{
	if (!c->rto_at)
		c->rto_at = net_now_us(c->ni) + c->rto_us;
}

static bool can_send_data(const struct tcp_conn *c)
{
	return c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT;
}

static bool fin_state(const struct tcp_conn *c)
{
	return c->state == TCP_FIN_WAIT_1 || c->state == TCP_CLOSING ||
	       c->state == TCP_LAST_ACK;
}

/* Sends what the window allows, then the FIN once the data is out. */
static void tcp_output(struct tcp_conn *c, uint32_t wnd, bool kick)
{
	uint32_t off = c->snd_nxt - c->snd_una;

	if (!can_send_data(c) && !fin_state(c))
		return;
	while (off < c->slen && off < wnd) {
		uint32_t n = c->slen - off;

		if (n > c->mss)
			n = c->mss;
		if (n > wnd - off)
			n = wnd - off;
		if (seg_out(c, c->snd_nxt,
			    TCP_ACK | (off + n == c->slen ? TCP_PSH : 0), off,
			    n, false))
			break;
		c->snd_nxt += n;
		off += n;
		if (SEQ_GT(c->snd_nxt, c->snd_max))
			c->snd_max = c->snd_nxt;
		timer_arm(c);
	}
	if (c->fin_queued && !c->fin_sent && off == c->slen) {
		if (!seg_out(c, c->snd_nxt, TCP_FIN | TCP_ACK, 0, 0, false)) {
			c->fin_sent = true;
			c->snd_nxt++;
			if (SEQ_GT(c->snd_nxt, c->snd_max))
				c->snd_max = c->snd_nxt;
			if (c->state == TCP_ESTABLISHED)
				c->state = TCP_FIN_WAIT_1;
			else if (c->state == TCP_CLOSE_WAIT)
				c->state = TCP_LAST_ACK;
			timer_arm(c);
		}
	}
	if (kick)
		vnet_tx_flush(c->ni->dev);
}

static void fail(struct tcp_conn *c, int err)
{
	c->error = err;
	c->state = TCP_CLOSED;
	c->rto_at = 0;
}

static void syn_out(struct tcp_conn *c)
{
	uint8_t flags = TCP_SYN | (c->state == TCP_SYN_RCVD ? TCP_ACK : 0);

	(void)seg_out(c, c->iss, flags, 0, 0, true);
	timer_arm(c);
}

static void retransmit(struct tcp_conn *c)
{
	c->rto_at = 0;
	if (++c->retries > MAX_RETRIES) {
		fail(c, -ETIMEDOUT);
		return;
	}
	c->rto_us = c->rto_us * 2 > RTO_MAX_US ? RTO_MAX_US : c->rto_us * 2;
	if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD) {
		syn_out(c);
		return;
	}
	if (c->snd_una == c->snd_max)
		return;
	c->retransmits++;
	c->snd_nxt = c->snd_una;
	if (c->fin_sent && !c->fin_acked)
		c->fin_sent = false;
	/* A zero window gets a one-byte probe. */
	tcp_output(c, c->snd_wnd ? c->snd_wnd : 1, true);
	timer_arm(c);
}

void tcp_tick(struct netif *ni)
{
	uint64_t now = net_now_us(ni);

	for (unsigned int i = 0; i < NET_TCP_CONNS; i++) {
		struct tcp_conn *c = ni->tcp[i];

		if (!c || c->state == TCP_CLOSED || c->state == TCP_LISTEN)
			continue;
		if (c->rto_at && now >= c->rto_at)
			retransmit(c);
		tcp_output(c, c->snd_wnd, false);
		if (c->ack_pending && c->state != TCP_CLOSED)
			(void)seg_out(c, c->snd_nxt, TCP_ACK, 0, 0, false);
	}
}

static uint16_t parse_mss(const uint8_t *t, uint32_t hl)
{
	uint32_t i = TCP_HLEN;

	while (i < hl) {
		uint8_t kind = t[i];

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= hl || t[i + 1] < 2 || t[i + 1] > hl - i)
			break;
		if (kind == 2 && t[i + 1] == 4) {
			uint16_t m = net_get16(t + i + 2);

			return m < 64 ? 64 : m > OUR_MSS ? OUR_MSS : m;
		}
		i += t[i + 1];
	}
	return DEFAULT_MSS;
}

static struct tcp_conn *lookup(struct netif *ni, uint32_t src, uint32_t dst,
			       uint16_t sport, uint16_t dport)
{
	struct tcp_conn *listener = NULL;

	for (unsigned int i = 0; i < NET_TCP_CONNS; i++) {
		struct tcp_conn *c = ni->tcp[i];

		if (!c || c->state == TCP_CLOSED || c->lport != dport)
			continue;
		if (c->state == TCP_LISTEN) {
			listener = c;
			continue;
		}
		if (c->rip == src && c->rport == sport && c->lip == dst)
			return c;
	}
	return listener;
}

static void on_listen(struct tcp_conn *c, uint32_t src, uint32_t dst,
		      uint16_t sport, const uint8_t *t, uint32_t hl)
{
	uint8_t flags = t[13];

	if (!(flags & TCP_SYN) || (flags & (TCP_ACK | TCP_RST | TCP_FIN)))
		return;
	c->rip = src;
	c->lip = dst;
	c->rport = sport;
	c->rcv_nxt = net_get32(t + 4) + 1;
	c->iss = (uint32_t)rdtsc();
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->snd_wnd = net_get16(t + 14);
	c->mss = parse_mss(t, hl);
	c->state = TCP_SYN_RCVD;
	syn_out(c);
}

static void on_syn_sent(struct tcp_conn *c, const uint8_t *t, uint32_t hl)
{
	uint8_t flags = t[13];
	uint32_t ack = net_get32(t + 8);

	if ((flags & TCP_ACK) && ack != c->iss + 1) {
		if (!(flags & TCP_RST))
			rst_reply(c->ni, c->rip, c->lip, c->rport, c->lport, 0,
				  ack, TCP_ACK, 0);
		return;
	}
	if (flags & TCP_RST) {
		if (flags & TCP_ACK)
			fail(c, -ECONNREFUSED);
		return;
	}
	if (!(flags & TCP_SYN) || !(flags & TCP_ACK))
		return;
	c->rcv_nxt = net_get32(t + 4) + 1;
	c->snd_una = ack;
	c->snd_wnd = net_get16(t + 14);
	c->mss = parse_mss(t, hl);
	c->state = TCP_ESTABLISHED;
	c->rto_at = 0;
	c->retries = 0;
	c->rto_us = RTO_INIT_US;
	(void)seg_out(c, c->snd_nxt, TCP_ACK, 0, 0, true);
}

static void our_fin_acked(struct tcp_conn *c)
{
	c->fin_acked = true;
	c->fin_sent = true;
	if (c->state == TCP_FIN_WAIT_1)
		c->state = TCP_FIN_WAIT_2;
	else if (c->state == TCP_CLOSING)
		c->state = TCP_TIME_WAIT;
	else if (c->state == TCP_LAST_ACK)
		c->state = TCP_CLOSED;
}

static void on_ack(struct tcp_conn *c, uint32_t ack, uint16_t win,
		   uint32_t plen, uint8_t flags)
{
	uint32_t acked, data;

	if (c->state == TCP_SYN_RCVD) {
		if (ack != c->iss + 1)
			return;
		c->state = TCP_ESTABLISHED;
		c->snd_una = ack;
		c->snd_wnd = win;
		c->rto_at = 0;
		c->retries = 0;
		c->rto_us = RTO_INIT_US;
		return;
	}
	if (SEQ_GT(ack, c->snd_max)) {
		/* Acknowledges what we never sent: answer with our state. */
		c->ack_pending = true;
		return;
	}
	if (SEQ_LE(ack, c->snd_una)) {
		if (ack == c->snd_una) {
			/* A window update is not a duplicate ACK. */
			bool same = win == c->snd_wnd;

			c->snd_wnd = win;
			if (same && !plen && !(flags & TCP_FIN) &&
			    c->snd_una != c->snd_max &&
			    ++c->dup_acks % DUP_ACK_THRESHOLD == 0) {
				c->retransmits++;
				c->snd_nxt = c->snd_una;
				if (c->fin_sent && !c->fin_acked)
					c->fin_sent = false;
			}
		}
		return;
	}
	acked = ack - c->snd_una;
	data = acked < c->slen ? acked : c->slen;
	c->shead = (c->shead + data) % c->scap;
	c->slen -= data;
	c->snd_una = ack;
	c->snd_wnd = win;
	if (SEQ_LT(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	c->retries = 0;
	c->rto_us = RTO_INIT_US;
	c->rto_at = 0;
	if (c->snd_una != c->snd_max)
		timer_arm(c);
	if (acked > data)
		our_fin_acked(c);
}

static void on_data(struct tcp_conn *c, uint32_t seq, const uint8_t *p,
		    uint32_t plen, uint8_t flags)
{
	bool open = c->state == TCP_ESTABLISHED || c->state == TCP_FIN_WAIT_1 ||
		    c->state == TCP_FIN_WAIT_2;

	if (plen && open) {
		if (SEQ_LT(seq, c->rcv_nxt) && SEQ_GT(seq + plen, c->rcv_nxt)) {
			uint32_t skip = c->rcv_nxt - seq;

			p += skip;
			plen -= skip;
			seq = c->rcv_nxt;
		}
		if (seq == c->rcv_nxt) {
			uint32_t room = c->rcap - c->rlen;
			uint32_t take = plen < room ? plen : room;
			uint32_t pos = (c->rhead + c->rlen) % c->rcap;
			uint32_t first = c->rcap - pos < take ? c->rcap - pos :
								take;

			memcpy(c->rbuf + pos, p, first);
			memcpy(c->rbuf, p + first, take - first);
			c->rlen += take;
			c->rcv_nxt += take;
			if (take < plen)
				flags &= (uint8_t)~TCP_FIN;
		} else {
			c->ooo_drops++;
			flags &= (uint8_t)~TCP_FIN;
		}
		c->ack_pending = true;
	} else if (plen) {
		c->ack_pending = true;
	}
	if (!(flags & TCP_FIN))
		return;
	c->ack_pending = true;
	if (c->fin_rcvd || seq + plen != c->rcv_nxt)
		return;
	c->fin_rcvd = true;
	c->rcv_nxt++;
	if (c->state == TCP_ESTABLISHED || c->state == TCP_SYN_RCVD)
		c->state = TCP_CLOSE_WAIT;
	else if (c->state == TCP_FIN_WAIT_1)
		c->state = c->fin_acked ? TCP_TIME_WAIT : TCP_CLOSING;
	else if (c->state == TCP_FIN_WAIT_2)
		c->state = TCP_TIME_WAIT;
}

void tcp_input(struct netif *ni, uint32_t src, uint32_t dst, const uint8_t *t,
	       uint32_t len)
{
	uint32_t hl, seq, ack, plen, sum;
	uint16_t sport, dport;
	struct tcp_conn *c;
	uint8_t flags;

	if (len < TCP_HLEN) {
		ni->rx_dropped++;
		return;
	}
	hl = (uint32_t)(t[12] >> 4) * 4;
	sum = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) +
	      IPPROTO_TCP + len;
	if (hl < TCP_HLEN || hl > len ||
	    net_csum_fold(net_csum_add(sum, t, len)) != 0) {
		ni->rx_dropped++;
		return;
	}
	sport = net_get16(t);
	dport = net_get16(t + 2);
	seq = net_get32(t + 4);
	ack = net_get32(t + 8);
	flags = t[13];
	plen = len - hl;
	c = lookup(ni, src, dst, sport, dport);
	if (!c) {
		if (!(flags & TCP_RST) && ni->ip)
			rst_reply(ni, src, dst, sport, dport, seq, ack, flags,
				  plen);
		return;
	}
	c->segs_in++;
	switch (c->state) {
	case TCP_LISTEN:
		if (flags & TCP_ACK)
			rst_reply(ni, src, dst, sport, dport, seq, ack, flags,
				  plen);
		else
			on_listen(c, src, dst, sport, t, hl);
		return;
	case TCP_SYN_SENT:
		on_syn_sent(c, t, hl);
		return;
	default:
		break;
	}
	if (flags & TCP_RST) {
		/* Only a reset inside the window counts (RFC 5961's spirit). */
		if (SEQ_LE(c->rcv_nxt, seq) &&
		    SEQ_LT(seq, c->rcv_nxt + rcv_window(c) + 1))
			fail(c, -ECONNRESET);
		return;
	}
	if (flags & TCP_SYN) {
		/* A retransmitted SYN: our SYN-ACK or ACK was lost. */
		if (c->state == TCP_SYN_RCVD)
			syn_out(c);
		else
			c->ack_pending = true;
		return;
	}
	if (!(flags & TCP_ACK))
		return;
	on_ack(c, ack, net_get16(t + 14), plen, flags);
	if (c->state == TCP_CLOSED)
		return;
	on_data(c, seq, t + hl, plen, flags);
	/* Fast retransmit or a window that opened: send now. */
	tcp_output(c, c->snd_wnd, false);
}

int tcp_connect(struct tcp_conn *c, uint32_t dst, uint16_t dport,
		uint16_t lport, uint64_t timeout_us)
{
	struct netif *ni = c->ni;
	uint64_t end = net_now_us(ni) + timeout_us;
	uint8_t mac[6];
	int r;

	if (c->state != TCP_CLOSED || !ni->ip)
		return -EINVAL;
	r = net_arp_resolve(ni, dst, mac, timeout_us);
	if (r)
		return r;
	c->error = 0;
	c->lip = ni->ip;
	c->rip = dst;
	c->rport = dport;
	c->lport = lport ? lport : (uint16_t)(EPHEMERAL_BASE + rdtsc() % 16000);
	c->iss = (uint32_t)rdtsc();
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->state = TCP_SYN_SENT;
	syn_out(c);
	while (c->state == TCP_SYN_SENT) {
		if (net_now_us(ni) > end) {
			fail(c, -ETIMEDOUT);
			break;
		}
		net_poll(ni, 64);
		cpu_pause();
	}
	if (c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT)
		return 0;
	return c->error ? c->error : -ECONNRESET;
}

int tcp_listen(struct tcp_conn *c, uint16_t port)
{
	if (c->state != TCP_CLOSED || !port)
		return -EINVAL;
	c->error = 0;
	c->lport = port;
	c->state = TCP_LISTEN;
	return 0;
}

int tcp_accept(struct tcp_conn *c, uint64_t timeout_us)
{
	uint64_t end = net_now_us(c->ni) + timeout_us;

	while (c->state == TCP_LISTEN || c->state == TCP_SYN_RCVD) {
		if (net_now_us(c->ni) > end)
			return -ETIMEDOUT;
		net_poll(c->ni, 64);
		cpu_pause();
	}
	if (c->state == TCP_CLOSED)
		return c->error ? c->error : -ECONNRESET;
	return 0;
}

int tcp_send(struct tcp_conn *c, const void *data, uint32_t len)
{
	const uint8_t *p = data;
	uint32_t n, pos, first;

	if (c->error)
		return c->error;
	if (!can_send_data(c) || c->fin_queued)
		return -ENOTCONN;
	n = c->scap - c->slen;
	if (n > len)
		n = len;
	pos = (c->shead + c->slen) % c->scap;
	first = c->scap - pos < n ? c->scap - pos : n;
	memcpy(c->sbuf + pos, p, first);
	memcpy(c->sbuf, p + first, n - first);
	c->slen += n;
	tcp_output(c, c->snd_wnd, true);
	return (int)n;
}

int tcp_recv(struct tcp_conn *c, void *buf, uint32_t cap)
{
	uint8_t *p = buf;
	uint32_t n = c->rlen < cap ? c->rlen : cap, first;
	bool was_small = rcv_window(c) < 2 * OUR_MSS;

	if (!n) {
		if (c->fin_rcvd)
			return -EPIPE;
		return c->error;
	}
	first = c->rcap - c->rhead < n ? c->rcap - c->rhead : n;
	memcpy(p, c->rbuf + c->rhead, first);
	memcpy(p + first, c->rbuf, n - first);
	c->rhead = (c->rhead + n) % c->rcap;
	c->rlen -= n;
	/* Tell a peer that stopped on our small window that it opened. */
	if (was_small && rcv_window(c) >= 2 * OUR_MSS)
		c->ack_pending = true;
	return (int)n;
}

uint32_t tcp_unacked(const struct tcp_conn *c)
{
	return c->slen;
}

void tcp_close(struct tcp_conn *c)
{
	if (c->state == TCP_LISTEN || c->state == TCP_SYN_SENT) {
		c->state = TCP_CLOSED;
		return;
	}
	c->fin_queued = true;
	tcp_output(c, c->snd_wnd, true);
}

int tcp_wait_closed(struct tcp_conn *c, uint64_t timeout_us)
{
	uint64_t end = net_now_us(c->ni) + timeout_us;

	while (c->state != TCP_CLOSED && c->state != TCP_TIME_WAIT) {
		if (net_now_us(c->ni) > end)
			return -ETIMEDOUT;
		net_poll(c->ni, 64);
		cpu_pause();
	}
	return c->error;
}

void tcp_abort(struct tcp_conn *c)
{
	if (c->state != TCP_CLOSED && c->state != TCP_LISTEN &&
	    c->state != TCP_SYN_SENT)
		(void)seg_out(c, c->snd_nxt, TCP_RST, 0, 0, true);
	c->state = TCP_CLOSED;
	c->rto_at = 0;
}
