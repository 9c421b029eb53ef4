/* SPDX-License-Identifier: Apache-2.0 */
#ifndef GUEST_VSOCK_H
#define GUEST_VSOCK_H

/*
 * A polled virtio-vsock driver for test guests (lib/virtio_vsock.c), on
 * the kit's virtio core: stream sockets with credit-based flow control
 * (virtio 1.2, 5.10), enough for echo servers, clients to the host and
 * benchmarks. No interrupts: every call that waits polls the used rings
 * (vsock_poll), so it all runs at CPL3, natively on these hosts.
 *
 * Streams are slots of a fixed table (VSOCK_MAX_STREAMS); each has a
 * receive ring of VSOCK_RBUF bytes, which is the buf_alloc it advertises.
 * The device is untrusted: used lengths, headers and credit are checked;
 * a packet that breaks the rules counts in v->bad_pkts and is dropped.
 */
#include "virtio.h"

/* Linux's numbers for the errors streams report (guest.h lacks them). */
#ifndef EPIPE
#define EPIPE 32
#endif
#ifndef ECONNRESET
#define ECONNRESET 104
#endif
#ifndef ECONNREFUSED
#define ECONNREFUSED 111
#endif

#define VSOCK_HOST_CID 2
#define VSOCK_HDR_LEN 44
#define VSOCK_MAX_STREAMS 128
#define VSOCK_RBUF (1024u * 1024)
#define VSOCK_MAX_PAYLOAD (64u * 1024)
#define VSOCK_RX_BUFS 128
#define VSOCK_TX_SLOTS 128

#define VSOCK_TYPE_STREAM 1
#define VSOCK_OP_REQUEST 1
#define VSOCK_OP_RESPONSE 2
#define VSOCK_OP_RST 3
#define VSOCK_OP_SHUTDOWN 4
#define VSOCK_OP_RW 5
#define VSOCK_OP_CREDIT_UPDATE 6
#define VSOCK_OP_CREDIT_REQUEST 7
#define VSOCK_SHUTDOWN_RCV 1
#define VSOCK_SHUTDOWN_SEND 2

struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

enum vsock_state {
	VS_FREE = 0,
	VS_CONNECTING, /* REQUEST sent, no answer yet */
	VS_OPEN,
	VS_RESET,   /* RST received (a refused connect included) */
	VS_CLOSING, /* SHUTDOWN both ways sent; waiting for RST */
};

struct vsock_stream {
	enum vsock_state state;
	bool accepted; /* handed out by vsock_accept() */
	bool refused;  /* RST while connecting */
	uint32_t local_port, peer_port;
	uint32_t peer_shut; /* the host's SHUTDOWN flags */
	uint8_t *rbuf;	    /* VSOCK_RBUF ring; allocated once per slot */
	uint32_t rhead, rlen;
	uint32_t fwd_cnt, fwd_reported;
	uint32_t tx_cnt, peer_buf_alloc, peer_fwd_cnt;
	bool owe_credit;
};

struct vsock {
	struct virtio_dev vd;
	uint64_t cid;
	struct virtq *rx, *tx, *ev;
	uint8_t *rxbufs; /* VSOCK_RX_BUFS of VSOCK_HDR_LEN + VSOCK_MAX_PAYLOAD */
	uint8_t *slots;	 /* VSOCK_TX_SLOTS of the same size */
	uint16_t free_slots[VSOCK_TX_SLOTS];
	unsigned int nr_free;
	uint32_t listen_port;
	bool listening;
	uint32_t next_port;
	struct vsock_stream s[VSOCK_MAX_STREAMS];
	/* Counters. */
	uint64_t rx_pkts, tx_pkts, bad_pkts, rst_rx;
};

/* The nth virtio-vsock function on bus 0, or NULL. */
struct pci_dev *vsock_find(unsigned int nth);
/*
 * Brings the device up (3 queues, DRIVER_OK), reads the guest CID and
 * fills the receive queue. Returns 0 or -errno.
 */
int vsock_open(struct vsock *v, struct pci_dev *pci,
	       const struct virtio_opts *o) __attribute__((warn_unused_result));
/*
 * The vsock guests' set-up: vsock_open() on the first device with the
 * virtio keys of the command line (o.quiet forced when quiet). Returns 0,
 * or the guest exit code 10 (no device) or 11 (cannot open), printing
 * "<who>: ..." first unless who is NULL.
 */
int vsock_bringup(struct vsock *v, const char *who, bool quiet);
/* Takes every completion and packet the device has; never waits. */
void vsock_poll(struct vsock *v);

/* Accepts host connections to port (one listening port). */
void vsock_listen(struct vsock *v, uint32_t port);
/* A newly accepted stream, or -EAGAIN when none is waiting. */
int vsock_accept(struct vsock *v);
/*
 * Starts a connection to (VSOCK_HOST_CID, port); returns the stream or
 * -ENOSPC. vsock_connected() then says 1 open, 0 still waiting,
 * -ECONNREFUSED for an RST.
 */
int vsock_connect(struct vsock *v, uint32_t port);
int vsock_connected(struct vsock *v, int s);

/*
 * Queues up to len bytes within the host's credit and the free transmit
 * slots and kicks; returns the bytes taken (0 when blocked), -EPIPE after
 * our shutdown, -ECONNRESET after an RST.
 */
long vsock_send(struct vsock *v, int s, const void *buf, uint32_t len);
/* Bytes received (at most len), 0 at end of stream, -EAGAIN, -ECONNRESET. */
long vsock_recv(struct vsock *v, int s, void *buf, uint32_t len);
/* Drops up to len received bytes without copying (benchmarks). */
long vsock_discard(struct vsock *v, int s, uint32_t len);
/* Sends SHUTDOWN with flags (VSOCK_SHUTDOWN_*). */
int vsock_shutdown(struct vsock *v, int s, uint32_t flags);
/* Asks the host for its fwd_cnt (CREDIT_REQUEST); 0, -EINVAL, -ENOSPC. */
int vsock_credit_request(struct vsock *v, int s);
/*
 * Full close: SHUTDOWN both ways, then waits (polling, bounded by
 * deadline in TSC ticks) for the host's RST; frees the slot. Returns 0 or
 * -ETIMEDOUT (the slot is freed anyway).
 */
int vsock_close(struct vsock *v, int s, uint64_t deadline);

/*
 * Adds one raw transmit packet (a header and payload the caller built,
 * possibly malformed, len bytes in a slot) and kicks: for hostile tests.
 * Returns 0 or -ENOSPC.
 */
int vsock_send_raw(struct vsock *v, const void *pkt, uint32_t len);

/* The TSC deadline timeout_ms from now. */
uint64_t vsock_deadline_ms(uint64_t ms);

/*
 * The vsock guests' stream pattern (tests/integration/vsock_peer.c
 * computes the same): byte off of the stream with seed. Offsets and seeds
 * both move it, so a byte from another place or another stream is caught.
 */
static inline uint8_t vsock_pat(uint32_t seed, uint64_t off)
{
	return (uint8_t)(off * 131 + (off >> 9) * 7 + seed * 29 + 11);
}

#endif
