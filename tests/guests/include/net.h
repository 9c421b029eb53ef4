/* SPDX-License-Identifier: Apache-2.0 */
#ifndef GUEST_NET_H
#define GUEST_NET_H

/*
 * Networking for test guests: a virtio-net driver on the kit's virtio core
 * (lib/virtio_net.c), a small IPv4 stack (lib/net.c: Ethernet, ARP, IPv4,
 * ICMP echo, UDP, a DHCP client) and a tiny TCP (lib/tcp.c: one stream per
 * struct tcp_conn, active and passive open, in-order data, go-back-N
 * retransmission on timeout, FIN in both directions).
 *
 * Everything is polled: nothing here takes interrupts, and every function
 * works at CPL3 (guests run their loops through user_enter(), which these
 * hosts run natively). Nothing is thread-safe: one CPU drives one netif.
 *
 * What arrives from the wire and from the device is untrusted: frame and
 * header lengths, num_buffers, options and TCP sequence numbers are checked
 * before they are used, and bad frames are dropped and counted.
 *
 * Addresses (IPv4) are uint32_t in host byte order: 10.0.2.15 is
 * 0x0a00020f. Ports are host byte order.
 */
#include "guest.h"
#include "virtio.h"

/* Error numbers guest.h does not define (Linux values). */
#ifndef EPIPE
#define EPIPE 32
#endif
#ifndef ECONNRESET
#define ECONNRESET 104
#endif
#ifndef ENOTCONN
#define ENOTCONN 107
#endif
#ifndef ECONNREFUSED
#define ECONNREFUSED 111
#endif

/* ------------------------------------------------------------------------
 * virtio-net (virtio 1.2, 5.1).
 */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17

#define VIRTIO_NET_S_LINK_UP 1

/* Device config offsets. */
#define VIRTIO_NET_CFG_MAC 0
#define VIRTIO_NET_CFG_STATUS 6
#define VIRTIO_NET_CFG_MAX_VQ_PAIRS 8
#define VIRTIO_NET_CFG_MTU 10

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_GSO_NONE 0

/* The header in front of every frame (VERSION_1: num_buffers always). */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

#define VNET_HDR_LEN 12
/* Every rx and tx buffer: header plus the largest frame, rounded up. */
#define VNET_BUF_SIZE 2048
#define ETH_FRAME_MAX 1514 /* without FCS; MTU 1500 */
/* Frames longer than this (device bug or hostile) are dropped. */
#define VNET_RX_MAX (ETH_FRAME_MAX + 4)
#define VNET_RX_MAX_BUFS 8 /* num_buffers accepted for one frame */

/* Features the driver asks for: no offloads, it computes checksums. */
#define VNET_FEATURES                                                          \
	(VIRTIO_BIT(VIRTIO_NET_F_MAC) | VIRTIO_BIT(VIRTIO_NET_F_MTU) |         \
	 VIRTIO_BIT(VIRTIO_NET_F_MRG_RXBUF) | VIRTIO_BIT(VIRTIO_NET_F_STATUS))

struct vnet {
	struct virtio_dev vd;
	struct virtq *rxq, *txq;
	uint8_t mac[6];
	uint16_t mtu;
	bool mrg; /* mergeable rx buffers negotiated */
	/* rx: one VNET_BUF_SIZE buffer per ring entry, always posted. */
	uint8_t *rx_bufs;
	unsigned int rx_count;
	unsigned int rx_unkicked; /* re-posted since the last kick */
	unsigned int rx_hold;	  /* buffers vnet_open() leaves unposted */
	/* tx: a stack of free VNET_BUF_SIZE buffers. */
	uint8_t *tx_bufs;
	uint16_t *tx_free;
	unsigned int tx_count, tx_nfree;
	unsigned int tx_unkicked;
	/* Counters. */
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
	uint64_t rx_bad;  /* too short, too long, bad num_buffers */
	uint64_t tx_full; /* vnet_tx_buf() found no free buffer */
	uint64_t rx_kicks, tx_kicks;
};

/* The nth virtio-net function on bus 0 (modern 0x1041 or 0x1000), or NULL. */
struct pci_dev *vnet_find(unsigned int nth);
/*
 * Brings the NIC up: probe, start with o (VNET_FEATURES added to o->want),
 * read the MAC (a fixed local address when the device has none), queues 0
 * (rx, every buffer posted) and 1 (tx), DRIVER_OK. Prints one line unless
 * o->quiet. Calling it again resets and restarts the NIC (buffers in
 * flight are forgotten). Returns 0 or -errno.
 */
int vnet_open(struct vnet *n, struct pci_dev *pci, const struct virtio_opts *o)
	__attribute__((warn_unused_result));
/* Link status from the config (up when the device has no STATUS). */
bool vnet_link_up(struct vnet *n);

/*
 * Zero-copy transmit: vnet_tx_buf() returns room for one frame
 * (ETH_FRAME_MAX bytes; the header in front is filled already), or NULL
 * when every buffer is in flight (completions are reaped first).
 * vnet_tx_commit() queues it with len bytes of frame; kick true publishes
 * and notifies now, false leaves that to vnet_tx_flush() (batches).
 * Returns 0 or -EINVAL (len, or not a buffer of this NIC).
 */
void *vnet_tx_buf(struct vnet *n);
int vnet_tx_commit(struct vnet *n, void *frame, uint32_t len, bool kick)
	__attribute__((warn_unused_result));
/* Gives back a buffer from vnet_tx_buf() unsent. */
void vnet_tx_abort(struct vnet *n, void *frame);
void vnet_tx_flush(struct vnet *n);
/* Copies and sends one frame; -ENOSPC when no buffer is free. */
int vnet_send(struct vnet *n, const void *frame, uint32_t len)
	__attribute__((warn_unused_result));
/* Takes finished transmissions back onto the free stack. */
void vnet_tx_reap(struct vnet *n);

/*
 * Copies the next received frame (without the virtio header) into buf and
 * re-posts its buffers. Returns its length, 0 when none is waiting, or
 * -EIO for a frame the device got wrong (dropped, counted in rx_bad; the
 * caller just polls again). Frames longer than cap are dropped the same
 * way. Re-posted buffers are published by vnet_rx_flush() (or by the next
 * vnet_recv() once 32 are pending).
 */
int vnet_recv(struct vnet *n, void *buf, uint32_t cap);
void vnet_rx_flush(struct vnet *n);
/*
 * Posts the rx buffers an open with rx_hold set left out, as many as fit,
 * and clears rx_hold (net_hostile queues bad buffers in front of them).
 * Returns how many it posted.
 */
unsigned int vnet_rx_post_held(struct vnet *n);

/* ------------------------------------------------------------------------
 * Ethernet, ARP, IPv4, ICMP, UDP (lib/net.c).
 */
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define IP_HLEN 20
#define UDP_HLEN 8
#define TCP_HLEN 20
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define NET_UDP_MAX (ETH_FRAME_MAX - ETH_HLEN - IP_HLEN - UDP_HLEN)

#define IP4(a, b, c, d)                                                        \
	(((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) |                       \
	 ((uint32_t)(c) << 8) | (uint32_t)(d))
#define IP_BROADCAST 0xffffffffU

#define NET_ARP_ENTRIES 8
#define NET_UDP_HANDLERS 4
#define NET_TCP_CONNS 4

struct netif;
struct tcp_conn;

/* Called for each datagram to a bound port; data is valid during the call. */
typedef void (*net_udp_fn)(struct netif *ni, uint32_t src, uint16_t sport,
			   uint16_t dport, const uint8_t *data, uint32_t len,
			   void *arg);

struct net_arp_entry {
	uint32_t ip;
	uint8_t mac[6];
	bool valid;
};

struct netif {
	struct vnet *dev;
	uint8_t mac[6];
	uint32_t ip, mask, gw, dns; /* 0 until configured */
	uint32_t dhcp_server;
	uint32_t lease_s;
	uint64_t tsc_per_us;
	uint16_t ip_id;
	struct net_arp_entry arp[NET_ARP_ENTRIES];
	unsigned int arp_next;
	uint32_t arp_req_ip; /* the last ARP request sent, and when */
	uint64_t arp_req_us;
	struct {
		uint16_t port;
		net_udp_fn fn;
		void *arg;
	} udp[NET_UDP_HANDLERS];
	struct tcp_conn *tcp[NET_TCP_CONNS];
	/* The last echo reply: id and sequence it carried. */
	uint16_t ping_id, ping_seq;
	bool ping_got;
	uint8_t *rx_frame; /* VNET_RX_MAX bytes */
	bool in_poll;	   /* net_poll() does not nest */
	/* Counters. */
	uint64_t rx_dropped; /* bad or foreign frames */
	uint64_t rx_ip, rx_udp, rx_icmp, rx_tcp, rx_arp;
	uint64_t tx_dropped; /* no tx buffer, no ARP answer */
};

/*
 * Sets ni up over an open NIC. Call at CPL0 once (it reads tsc_hz());
 * everything after works at CPL3. Returns 0 or -ENOMEM.
 */
int net_init(struct netif *ni, struct vnet *dev)
	__attribute__((warn_unused_result));
/* Microseconds from the TSC. */
uint64_t net_now_us(const struct netif *ni);
/*
 * Static configuration from the command line: ip=A.B.C.D, mask=A.B.C.D or
 * prefix=N (default 24), gw=A.B.C.D, dns=. Returns 1 when ip= was given, 0
 * when absent, -EINVAL for a malformed address.
 */
int net_config_from_cmdline(struct netif *ni);
/* Parses a dotted quad that spans the whole string; 0 or -EINVAL. */
int net_parse_ip(const char *s, uint32_t *out);
/* "10.0.2.15" into buf (at least 16 bytes); returns buf. */
char *net_ip_str(uint32_t ip, char *buf);

/*
 * Receives and handles every waiting frame (ARP answers, echo replies,
 * UDP to bound ports, TCP to open connections; at most budget frames),
 * reaps transmissions, re-posts rx buffers, sends pending TCP ACKs and
 * runs TCP retransmission timers. Returns the number of frames handled.
 */
unsigned int net_poll(struct netif *ni, unsigned int budget);

/* Binds a UDP port to fn; -ENOSPC when the table is full, -EBUSY if bound. */
int net_udp_bind(struct netif *ni, uint16_t port, net_udp_fn fn, void *arg)
	__attribute__((warn_unused_result));
void net_udp_unbind(struct netif *ni, uint16_t port);
/*
 * Sends one datagram (len <= NET_UDP_MAX), resolving the next hop through
 * ARP first (bounded by 2 s; a broadcast destination needs none).
 * Returns 0, -EINVAL, -ETIMEDOUT (no ARP answer), -ENOSPC (no tx buffer).
 */
int net_udp_send(struct netif *ni, uint32_t dst, uint16_t sport, uint16_t dport,
		 const void *data, uint32_t len)
	__attribute__((warn_unused_result));

/*
 * The MAC of the next hop for dst (dst itself on the local subnet, else the
 * gateway): from the cache, else by ARP requests for up to timeout_us.
 * Returns 0, -ETIMEDOUT, -EINVAL (off-link and no gateway), or -EAGAIN
 * when called inside net_poll() (a handler) for an address not cached:
 * the stack learns every sender's MAC from its frames, so answers to a
 * sender are always cached.
 */
int net_arp_resolve(struct netif *ni, uint32_t dst, uint8_t mac[6],
		    uint64_t timeout_us) __attribute__((warn_unused_result));
/*
 * The cached MAC of dst's next hop, or NULL after sending one ARP request
 * for it (never waits: callers inside net_poll() use this).
 */
const uint8_t *net_arp_lookup(struct netif *ni, uint32_t dst);

/*
 * Sends an echo request with payload bytes and waits up to timeout_us for
 * its reply. Returns the round trip in microseconds (>= 0) or -ETIMEDOUT.
 */
int64_t net_ping(struct netif *ni, uint32_t dst, uint16_t seq, uint32_t payload,
		 uint64_t timeout_us);

/*
 * A DHCP lease (RFC 2131: DISCOVER, OFFER, REQUEST, ACK), retried until
 * timeout_us runs out; fills ni->ip, mask, gw, dns, dhcp_server, lease_s.
 * Returns 0, -ETIMEDOUT, -EPROTO (a NAK).
 */
int net_dhcp(struct netif *ni, uint64_t timeout_us)
	__attribute__((warn_unused_result));

/*
 * Builds Ethernet + IPv4 headers in front of an IPv4 payload of len bytes
 * that the caller wrote at frame + ETH_HLEN + IP_HLEN of a vnet_tx_buf()
 * buffer, and commits it. Internal to net.c and tcp.c, exposed for
 * net_hostile. Returns 0 or -errno; the buffer is consumed either way.
 */
int net_ip_output(struct netif *ni, uint8_t *frame, const uint8_t dmac[6],
		  uint32_t dst, uint8_t proto, uint32_t len, bool kick);
/* The Internet checksum of len bytes added to sum (not folded). */
uint32_t net_csum_add(uint32_t sum, const void *data, uint32_t len);
uint16_t net_csum_fold(uint32_t sum);

/*
 * Guest conveniences. net_bringup() opens NIC nic=N (default 0) with the
 * virtio keys of the command line and sets ni up; call it at CPL0.
 * net_configure() takes ip=/prefix=/mask=/gw=/dns= from the command line
 * or else a DHCP lease (timeout_us), printing "<who>: lease ip=... mask=...
 * gw=... dns=... server=... lease=Ns" or "<who>: static ip=...". Both
 * print their failures and return 0 or -errno. net_cmdline_ip() is the
 * address under key, or def when absent or malformed.
 */
int net_bringup(struct netif *ni, struct vnet *dev, const char *who)
	__attribute__((warn_unused_result));
/*
 * The network guests' guest_main(): net_bringup() (exit code 110 when it
 * fails), then fn(NULL) at CPL3 on a fresh 64 KiB stack (119 when there is
 * no memory for it). Returns fn's result as the guest's exit code.
 */
int net_run_user(struct netif *ni, struct vnet *dev, const char *who,
		 long (*fn)(void *arg));
int net_configure(struct netif *ni, const char *who, uint64_t timeout_us)
	__attribute__((warn_unused_result));
uint32_t net_cmdline_ip(const char *key, uint32_t def);

/* Big-endian loads and stores (the wire's order). */
static inline uint16_t net_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t net_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

static inline void net_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void net_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ------------------------------------------------------------------------
 * TCP (lib/tcp.c). No window scaling, SACK or timestamps; the receive
 * side keeps in-order data only (anything else is dropped and answered
 * with a duplicate ACK), the send side retransmits from the oldest
 * unacknowledged byte when its timer runs out (doubling up to 2 s, 12
 * times at most, then the connection fails with -ETIMEDOUT).
 */
enum tcp_state {
	TCP_CLOSED = 0,
	TCP_LISTEN,
	TCP_SYN_SENT,
	TCP_SYN_RCVD,
	TCP_ESTABLISHED,
	TCP_FIN_WAIT_1,
	TCP_FIN_WAIT_2,
	TCP_CLOSING,
	TCP_TIME_WAIT,
	TCP_CLOSE_WAIT,
	TCP_LAST_ACK,
};

struct tcp_conn {
	struct netif *ni;
	enum tcp_state state;
	int error; /* -ECONNRESET, -ETIMEDOUT, -ECONNREFUSED once failed */
	uint32_t lip, rip;
	uint16_t lport, rport;
	uint16_t mss; /* the peer's, capped at our 1460 */
	uint32_t iss, snd_una, snd_nxt, snd_wnd;
	uint32_t snd_max; /* the highest sequence number sent so far + 1 */
	uint32_t rcv_nxt;
	/* Send ring: slen bytes from snd_una on, starting at shead. */
	uint8_t *sbuf;
	uint32_t scap, shead, slen;
	/* Receive ring: rlen bytes starting at rhead. */
	uint8_t *rbuf;
	uint32_t rcap, rhead, rlen;
	bool fin_queued; /* the application closed its side */
	bool fin_sent, fin_acked, fin_rcvd;
	bool ack_pending;
	uint64_t rto_at; /* us; 0: timer off */
	uint32_t rto_us, retries;
	/* Counters. */
	uint64_t segs_in, segs_out, retransmits, dup_acks, ooo_drops;
};

/* Buffers are dma_alloc'd here; -ENOMEM, -ENOSPC (NET_TCP_CONNS in use). */
int tcp_conn_init(struct netif *ni, struct tcp_conn *c, uint32_t sbuf_bytes,
		  uint32_t rbuf_bytes) __attribute__((warn_unused_result));
/*
 * Active open to dst:dport from lport (0: an ephemeral port), waiting up
 * to timeout_us for ESTABLISHED. Returns 0, -ECONNREFUSED (RST),
 * -ETIMEDOUT.
 */
int tcp_connect(struct tcp_conn *c, uint32_t dst, uint16_t dport,
		uint16_t lport, uint64_t timeout_us)
	__attribute__((warn_unused_result));
/* Passive open: the connection waits in LISTEN on port. */
int tcp_listen(struct tcp_conn *c, uint16_t port)
	__attribute__((warn_unused_result));
/* Waits up to timeout_us for a listening conn to reach ESTABLISHED. */
int tcp_accept(struct tcp_conn *c, uint64_t timeout_us)
	__attribute__((warn_unused_result));
/*
 * Queues up to len bytes (what fits the send ring) and sends what the
 * peer's window allows. Returns the bytes queued (0 when the ring is
 * full) or the connection's error.
 */
int tcp_send(struct tcp_conn *c, const void *data, uint32_t len);
/*
 * Copies up to cap received bytes. Returns the count, 0 when nothing is
 * waiting, -EPIPE at the end of the stream (FIN received, ring empty), or
 * the connection's error.
 */
int tcp_recv(struct tcp_conn *c, void *buf, uint32_t cap);
/* Bytes queued and not yet acknowledged. */
uint32_t tcp_unacked(const struct tcp_conn *c);
/* Queues a FIN after the data (the stream stays readable). */
void tcp_close(struct tcp_conn *c);
/*
 * Waits up to timeout_us until both directions are closed and our FIN is
 * acknowledged (TIME_WAIT or CLOSED). Returns 0, -ETIMEDOUT or the error.
 */
int tcp_wait_closed(struct tcp_conn *c, uint64_t timeout_us)
	__attribute__((warn_unused_result));
/* Sends RST and forgets the connection (it may be init'd again). */
void tcp_abort(struct tcp_conn *c);
const char *tcp_state_name(enum tcp_state s);

/* Internal to lib/: net.c hands TCP segments and timer ticks over. */
void tcp_input(struct netif *ni, uint32_t src, uint32_t dst, const uint8_t *seg,
	       uint32_t len);
void tcp_tick(struct netif *ni);

#endif
