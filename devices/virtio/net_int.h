/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_VIRTIO_NET_INT_H
#define RAEVM_VIRTIO_NET_INT_H

/*
 * virtio-net's internals, shared by the device (devices/virtio/net.c:
 * hooks, I/O thread, set-up), its datapath (devices/virtio/net_queue.c)
 * and the unit tests: the NIC's state, the pure parts (transmit header
 * checks, receive buffer filling, the default MAC) and the counters. Not
 * for use outside devices/virtio/ and tests.
 */
#include "../net/backend.h"

#include "raevm/util.h"
#include "raevm/virtio.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct rv_virtio_dev;

/* Feature bits (virtio 1.2, 5.1.3). */
#define RV_VNET_F_CSUM 0
#define RV_VNET_F_GUEST_CSUM 1
#define RV_VNET_F_MTU 3
#define RV_VNET_F_MAC 5
#define RV_VNET_F_GUEST_TSO4 7
#define RV_VNET_F_GUEST_TSO6 8
#define RV_VNET_F_HOST_TSO4 11
#define RV_VNET_F_HOST_TSO6 12
#define RV_VNET_F_MRG_RXBUF 15
#define RV_VNET_F_STATUS 16

#define RV_VNET_S_LINK_UP 1

/* struct virtio_net_config up to and including mtu. */
#define RV_VNET_CFG_MAC 0
#define RV_VNET_CFG_STATUS 6
#define RV_VNET_CFG_MAX_VQ_PAIRS 8
#define RV_VNET_CFG_MTU 10
#define RV_VNET_CONFIG_SIZE 12

#define RV_VNET_QUEUE_SIZE 256
#define RV_VNET_RXQ 0
#define RV_VNET_TXQ 1

/* Segments of one chain; Linux uses at most MAX_SKB_FRAGS + 2. */
#define RV__VNET_CHAIN_SEGS 1024u
/* Received frames held while the guest has no buffers. */
#define RV__VNET_RX_PENDING_MAX 256u
#define RV__VNET_TX_BUF_LEN (RV_NET_HDR_LEN + RV_NET_MAX_GSO_FRAME)

static inline bool rv__vnet_has(uint64_t acked, unsigned int bit)
{
	return acked & (1ULL << bit);
}

/*
 * What the NIC counted. Guest mistakes that are not protocol violations
 * (the frame is dropped, the queue keeps working) and host-side drops.
 */
struct rv_virtio_net_stats {
	uint64_t tx_frames, tx_bytes; /* handed to the backend */
	uint64_t rx_frames, rx_bytes; /* delivered to the guest */
	uint64_t tx_runt;	      /* shorter than an Ethernet header */
	uint64_t tx_oversize;	      /* longer than MTU + headers */
	uint64_t tx_bad_hdr;	      /* a virtio_net_hdr we cannot honour */
	uint64_t tx_bad_chain;	      /* shorter than the virtio_net_hdr */
	uint64_t tx_backend_drop;     /* the backend refused or was full */
	uint64_t tx_filtered;	      /* restricted mode's filter */
	uint64_t rx_no_buffer;	      /* no room in the guest: dropped */
	uint64_t rx_oversize;	      /* larger than the guest can take */
	uint64_t rx_bad_hdr;	      /* offloads the driver did not accept */
};

/* A frame waiting for receive buffers. */
struct rv__vnet_pending {
	struct rv_net_hdr hdr;
	size_t len;
	uint8_t data[];
};

struct rv_virtio_net {
	struct rv_virtio_dev vdev; /* first: rv_container_of */
	struct rv_vm *vm;
	unsigned int index;
	unsigned int mtu;
	uint64_t features;
	uint8_t config[RV_VNET_CONFIG_SIZE];
	struct rv_net_backend *be;

	/* Thread control: want_active and parked_active under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool want_active;   /* set by activate(), cleared by reset() */
	bool parked_active; /* what the thread last acknowledged */
	bool thread_started;
	bool thread_gone; /* the thread left its loop: nobody to wait for */
	pthread_t thread;
	int stop_fd, ctl_fd;
	int kick_fd[2]; /* the queues' ioeventfds, owned by the transport */

	/* The I/O thread's own state. */
	bool active;
	bool broken;
	bool mergeable;
	bool tx_more; /* the budget ran out with chains left */
	bool busy;    /* a chain was served or a frame delivered lately */
	unsigned int spin_ns; /* how long to poll the rings before sleeping */
	bool pushed[2];
	uint64_t acked;
	/*
	 * One chain per queue: slirp answers some frames (ARP, pings to
	 * its own addresses) from inside send(), so a receive runs in the
	 * middle of a transmit.
	 */
	struct rv_virtq_chain rx_chain;
	struct rv_virtq_chain tx_chain;
	uint8_t *tx_buf;
	struct rv__vnet_pending *pending[RV__VNET_RX_PENDING_MAX];
	unsigned int pend_head, nr_pending;
	uint16_t heads[RV_VNET_QUEUE_SIZE];
	uint32_t lens[RV_VNET_QUEUE_SIZE];
	struct rv_net_pollset ps;

	struct rv_virtio_net_stats stats; /* atomics */
};

/*
 * The datapath (net_queue.c), on the NIC's I/O thread only, while it is
 * active (between its acknowledgements of activate() and reset()):
 * rv__vnet_on_rx() is the backend's rx callback (opaque: the NIC);
 * flush_pending() delivers frames that waited for buffers, drop_pending()
 * forgets them; serve_tx() sends a budget of transmit chains (tx_more
 * says whether it ran out); end_round() interrupts the driver for the
 * queues that were pushed to, once per round.
 */
void rv__vnet_on_rx(void *opaque, const struct rv_net_hdr *hdr,
		    const uint8_t *frame, size_t len);
void rv__vnet_flush_pending(struct rv_virtio_net *n);
void rv__vnet_drop_pending(struct rv_virtio_net *n);
void rv__vnet_serve_tx(struct rv_virtio_net *n);
void rv__vnet_end_round(struct rv_virtio_net *n);

/*
 * Whether the driver made buffers available on q that the device has not
 * taken yet (a hint for polling; rv_virtq_pop() decides). False for a
 * disabled queue or a ring outside guest RAM.
 */
bool rv__vnet_avail_pending(const struct rv_virtq *q);

/*
 * Before the thread sleeps: turns the transmit queue's notifications back
 * on (serve_tx() leaves them off). Returns true when chains arrived
 * meanwhile: serve again instead of sleeping.
 */
bool rv__vnet_arm(struct rv_virtio_net *n);

/* The counters so far (any thread; values are read one by one). */
void rv_virtio_net_get_stats(struct rv_virtio_dev *dev,
			     struct rv_virtio_net_stats *out);

/* Why rv__vnet_check_tx() refused a frame. */
enum rv__vnet_tx_verdict {
	RV__VNET_TX_OK = 0,
	RV__VNET_TX_BAD_CHAIN, /* less than a virtio_net_hdr */
	RV__VNET_TX_RUNT,
	RV__VNET_TX_OVERSIZE,
	RV__VNET_TX_BAD_HDR,
};

/*
 * Checks a transmitted packet (pkt: the virtio_net_hdr then the frame,
 * len bytes, a copy the guest cannot change) against the negotiated
 * features acked and the MTU; fills hdr on success. Without GSO a frame
 * is at most mtu + 18 bytes (Ethernet header and one VLAN tag); with a
 * negotiated TSO it may reach RV_NET_MAX_GSO_FRAME. Partial checksum
 * requests must lie inside the frame.
 */
enum rv__vnet_tx_verdict rv__vnet_check_tx(const uint8_t *pkt, size_t len,
					   uint64_t acked, unsigned int mtu,
					   struct rv_net_hdr *hdr);

/*
 * Checks a received packet's header (from the backend, e.g. a tap's
 * kernel) against the features the driver accepted: without GUEST_CSUM
 * the flags must be 0 (a DATA_VALID hint is dropped, a partial checksum
 * drops the packet), and a segmentation type needs its GUEST_TSO feature.
 * Fills out (num_buffers 0) and returns true when the packet may go to
 * the guest; false: drop it.
 */
bool rv__vnet_check_rx(const struct rv_net_hdr *in, uint64_t acked,
		       struct rv_net_hdr *out);

/*
 * Places one received packet into guest buffers, buffer by buffer. Start
 * with rv__vnet_rx_begin(), call rv__vnet_rx_fill() with each buffer's
 * writable segments until rv__vnet_rx_done(), then rv__vnet_rx_finish(),
 * which writes num_buffers into the header in the first buffer.
 */
struct rv__vnet_rx {
	uint8_t hdr[RV_NET_HDR_LEN];
	const uint8_t *frame;
	size_t len;	      /* of frame */
	size_t off;	      /* bytes of header + frame placed so far */
	unsigned int nr_bufs; /* buffers used */
	bool mergeable;	      /* VIRTIO_NET_F_MRG_RXBUF negotiated */
	struct iovec hdr_at[RV_NET_HDR_LEN]; /* where the header went */
	unsigned int nr_hdr_at;
};

void rv__vnet_rx_begin(struct rv__vnet_rx *rx, const struct rv_net_hdr *hdr,
		       const uint8_t *frame, size_t len, bool mergeable);
/*
 * Fills one buffer; returns the bytes written into it, or -EMSGSIZE when
 * the buffer cannot be used for this packet (without MRG_RXBUF: smaller
 * than the whole packet; with it, the first buffer smaller than the
 * header). Nothing is written then.
 */
int rv__vnet_rx_fill(struct rv__vnet_rx *rx, const struct iovec *iov,
		     unsigned int n);
static inline bool rv__vnet_rx_done(const struct rv__vnet_rx *rx)
{
	return rx->nr_bufs > 0 && rx->off == RV_NET_HDR_LEN + rx->len;
}
void rv__vnet_rx_finish(struct rv__vnet_rx *rx);

/*
 * The stable MAC of a NIC without one configured: FNV-1a (64 bit) over
 * the VM name, a zero byte and the NIC index (4 bytes, little endian);
 * the first six bytes of the hash, least significant first, with the
 * first byte's low bits set to "locally administered, unicast" (x2, x6,
 * xA or xE). A NULL or empty name counts as "raevm".
 */
void rv__vnet_default_mac(const char *vm_name, unsigned int index,
			  uint8_t mac[6]);

#endif /* RAEVM_VIRTIO_NET_INT_H */
