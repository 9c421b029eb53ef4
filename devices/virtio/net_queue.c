// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net's datapath (devices/virtio/net.c has the device, its thread
 * and its set-up): frames between the two queues and the backend, run on
 * the NIC's I/O thread alone, between two acknowledgements of
 * activate()/reset() (so no queue is reset under it).
 *
 * Batching: the thread takes every available transmit chain (up to a
 * budget per round, so receive is not starved), hands the backend the
 * batch's end (be->ops->flush: the user and tap backends merge a TCP
 * stream's consecutive segments, devices/net/backend.h), and decides once
 * per round whether the driver wants an interrupt (EVENT_IDX's
 * used_event, or NO_INTERRUPT), for each queue. Transmit notifications
 * stay off after a round; net.c may poll the ring a little longer and
 * turns them on (rv__vnet_arm()) before it sleeps.
 * Received frames wait in a short queue of their own when the guest has
 * no buffers (at most RV__VNET_RX_PENDING_MAX frames); the backend then
 * stops reading (the host's socket and tap queues hold the rest), so
 * nothing is dropped while the guest catches up.
 *
 * Trust. Chains come from rv_virtq_pop(), which checked their shape and
 * bounds. Every transmitted packet is copied out of guest memory once and
 * only the copy is checked and sent, so the guest cannot change a frame
 * behind the check. The rule for the guest's mistakes:
 *  - a queue rv_virtq_pop() refuses, a device-writable transmit buffer, a
 *    device-readable receive buffer, or (with MRG_RXBUF) a receive buffer
 *    smaller than the header is a protocol violation: NEEDS_RESET, one log
 *    line, the queues are left alone until the driver resets the device;
 *  - a transmitted packet that cannot be a frame (shorter than the header
 *    or an Ethernet header, longer than MTU + headers without TSO, a
 *    header asking for an offload not negotiated or pointing outside the
 *    frame) is dropped and counted; the queue keeps working. The counters
 *    are logged once when the NIC is destroyed.
 * Received frames' headers come from the host (a tap's kernel) and are
 * held to the offloads the driver accepted before the guest sees them.
 */
#include "net_int.h"

#include "raevm/mem.h"
#include "raevm/virtio.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Transmit chains per round before receive gets its turn. */
#define TX_BUDGET 256u
#define USED_RING_OFF 4u
#define USED_ELEM_SIZE 8u

static void count(uint64_t *counter, uint64_t v)
{
	__atomic_fetch_add(counter, v, __ATOMIC_RELAXED);
}

static void put32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* ------------------------------------------------------------------------
 * Pure parts (net_int.h): header checks and receive buffer filling.
 */

static bool gso_ok(const struct rv_net_hdr *h, size_t frame_len, uint64_t acked)
{
	uint8_t type = h->gso_type & ~RV_NET_HDR_GSO_ECN;

	switch (type) {
	case RV_NET_HDR_GSO_NONE:
		return !(h->gso_type & RV_NET_HDR_GSO_ECN);
	case RV_NET_HDR_GSO_TCPV4:
		if (!rv__vnet_has(acked, RV_VNET_F_HOST_TSO4))
			return false;
		break;
	case RV_NET_HDR_GSO_TCPV6:
		if (!rv__vnet_has(acked, RV_VNET_F_HOST_TSO6))
			return false;
		break;
	default:
		/* UFO and USO are not offered. */
		return false;
	}
	/* ECN is its own feature (HOST_ECN), not offered. */
	if (h->gso_type & RV_NET_HDR_GSO_ECN)
		return false;
	/* Segmentation needs a partial checksum to finish per segment. */
	if (!(h->flags & RV_NET_HDR_F_NEEDS_CSUM) || h->gso_size == 0)
		return false;
	return h->hdr_len <= frame_len;
}

enum rv__vnet_tx_verdict rv__vnet_check_tx(const uint8_t *pkt, size_t len,
					   uint64_t acked, unsigned int mtu,
					   struct rv_net_hdr *hdr)
{
	size_t frame_len, max;
	bool tso;

	if (len < RV_NET_HDR_LEN)
		return RV__VNET_TX_BAD_CHAIN;
	rv_net_hdr_decode(pkt, hdr);
	frame_len = len - RV_NET_HDR_LEN;
	if (frame_len < RV_NET_ETH_HLEN)
		return RV__VNET_TX_RUNT;
	tso = rv__vnet_has(acked, RV_VNET_F_HOST_TSO4) ||
	      rv__vnet_has(acked, RV_VNET_F_HOST_TSO6);
	max = (size_t)mtu + RV_NET_ETH_HLEN + RV_NET_VLAN_HLEN;
	if (tso && hdr->gso_type != RV_NET_HDR_GSO_NONE)
		max = RV_NET_MAX_GSO_FRAME;
	if (frame_len > max)
		return RV__VNET_TX_OVERSIZE;
	/* DATA_VALID is for the receive side only (5.1.6.2.1). */
	if (hdr->flags & ~RV_NET_HDR_F_NEEDS_CSUM)
		return RV__VNET_TX_BAD_HDR;
	if (hdr->flags & RV_NET_HDR_F_NEEDS_CSUM) {
		if (!rv__vnet_has(acked, RV_VNET_F_CSUM))
			return RV__VNET_TX_BAD_HDR;
		/* The 16-bit checksum field lies inside the frame. */
		if ((size_t)hdr->csum_start + hdr->csum_offset + 2 > frame_len)
			return RV__VNET_TX_BAD_HDR;
	}
	if (!gso_ok(hdr, frame_len, acked))
		return RV__VNET_TX_BAD_HDR;
	/* The driver's num_buffers means nothing on transmit (5.1.6.2). */
	hdr->num_buffers = 0;
	return RV__VNET_TX_OK;
}

bool rv__vnet_check_rx(const struct rv_net_hdr *in, uint64_t acked,
		       struct rv_net_hdr *out)
{
	uint8_t type = in->gso_type;

	*out = (struct rv_net_hdr){ 0 };
	if (!rv__vnet_has(acked, RV_VNET_F_GUEST_CSUM)) {
		/* A partial checksum the driver cannot finish: drop it. */
		return !(in->flags & RV_NET_HDR_F_NEEDS_CSUM) &&
		       type == RV_NET_HDR_GSO_NONE;
	}
	if (type == RV_NET_HDR_GSO_TCPV4 &&
	    !rv__vnet_has(acked, RV_VNET_F_GUEST_TSO4))
		return false;
	if (type == RV_NET_HDR_GSO_TCPV6 &&
	    !rv__vnet_has(acked, RV_VNET_F_GUEST_TSO6))
		return false;
	if (type != RV_NET_HDR_GSO_NONE && type != RV_NET_HDR_GSO_TCPV4 &&
	    type != RV_NET_HDR_GSO_TCPV6)
		return false; /* UFO, USO and ECN are not offered */
	*out = *in;
	out->flags &= RV_NET_HDR_F_NEEDS_CSUM | RV_NET_HDR_F_DATA_VALID;
	out->num_buffers = 0;
	return true;
}

void rv__vnet_rx_begin(struct rv__vnet_rx *rx, const struct rv_net_hdr *hdr,
		       const uint8_t *frame, size_t len, bool mergeable)
{
	struct rv_net_hdr h = *hdr;

	h.num_buffers = 1;
	rv_net_hdr_encode(&h, rx->hdr);
	rx->frame = frame;
	rx->len = len;
	rx->off = 0;
	rx->nr_bufs = 0;
	rx->mergeable = mergeable;
	rx->nr_hdr_at = 0;
}

/* Bytes [off, off + n) of header + frame. */
static void copy_out(const struct rv__vnet_rx *rx, size_t off, uint8_t *dst,
		     size_t n)
{
	size_t h;

	if (off < RV_NET_HDR_LEN) {
		h = RV_NET_HDR_LEN - off;
		if (h > n)
			h = n;
		memcpy(dst, rx->hdr + off, h);
		dst += h;
		off += h;
		n -= h;
	}
	if (n)
		memcpy(dst, rx->frame + (off - RV_NET_HDR_LEN), n);
}

int rv__vnet_rx_fill(struct rv__vnet_rx *rx, const struct iovec *iov,
		     unsigned int n)
{
	size_t total = RV_NET_HDR_LEN + rx->len, cap = 0, done = 0, take;
	unsigned int i;

	for (i = 0; i < n; i++)
		cap += iov[i].iov_len;
	if (rx->nr_bufs == 0 && cap < (rx->mergeable ? RV_NET_HDR_LEN : total))
		return -EMSGSIZE;
	if (rx->off == total || (!rx->mergeable && rx->nr_bufs))
		return -EMSGSIZE;
	for (i = 0; i < n && rx->off < total; i++) {
		take = iov[i].iov_len;
		if (take > total - rx->off)
			take = total - rx->off;
		if (take == 0)
			continue;
		/* Remember where the header went, for num_buffers. */
		if (rx->off < RV_NET_HDR_LEN) {
			rx->hdr_at[rx->nr_hdr_at++] = (struct iovec){
				.iov_base = iov[i].iov_base,
				.iov_len = take < RV_NET_HDR_LEN - rx->off ?
						   take :
						   RV_NET_HDR_LEN - rx->off,
			};
		}
		copy_out(rx, rx->off, iov[i].iov_base, take);
		rx->off += take;
		done += take;
	}
	rx->nr_bufs++;
	return (int)done;
}

void rv__vnet_rx_finish(struct rv__vnet_rx *rx)
{
	struct rv_net_hdr h;
	uint8_t raw[RV_NET_HDR_LEN];
	size_t off = 0;
	unsigned int i;

	rv_net_hdr_decode(rx->hdr, &h);
	h.num_buffers = (uint16_t)rx->nr_bufs;
	rv_net_hdr_encode(&h, raw);
	/* Rewrite the whole header: it may be split over segments. */
	for (i = 0; i < rx->nr_hdr_at; i++) {
		memcpy(rx->hdr_at[i].iov_base, raw + off,
		       rx->hdr_at[i].iov_len);
		off += rx->hdr_at[i].iov_len;
	}
}

/* ------------------------------------------------------------------------
 * Receive, on the I/O thread.
 */

static void set_broken(struct rv_virtio_net *n, const char *why)
{
	n->broken = true;
	rv_virtio_set_needs_reset(&n->vdev, why);
}

static void queue_broken(struct rv_virtio_net *n, unsigned int q, int err)
{
	n->broken = true;
	rv_virtio_queue_error(&n->vdev, q, err);
}

/*
 * Publishes the k used elements of one packet at once: all but the last
 * are written ahead of the used index, then rv_virtq_push() writes the
 * last and publishes the index with a release store, so the driver never
 * sees a packet with some of its num_buffers missing.
 */
static int publish(struct rv_virtq *q, const uint16_t *heads,
		   const uint32_t *lens, unsigned int k)
{
	unsigned int i, slot;
	uint8_t *elem;

	for (i = 0; i + 1 < k; i++) {
		slot = (uint16_t)(q->used_idx + i) & (q->size - 1u);
		elem = rv_mem_gpa_to_hva(q->mem,
					 q->used_gpa + USED_RING_OFF +
						 (uint64_t)USED_ELEM_SIZE *
							 slot,
					 USED_ELEM_SIZE);
		if (!elem)
			return -EFAULT;
		put32le(elem, heads[i]);
		put32le(elem + 4, lens[i]);
	}
	q->used_idx = (uint16_t)(q->used_idx + k - 1);
	return rv_virtq_push(q, heads[k - 1], lens[k - 1]);
}

/*
 * Gives back chains popped for a packet that cannot be placed now: they
 * are popped (and checked) again next time. The queue's device-side state
 * belongs to this thread alone.
 */
static void unpop(struct rv_virtq *q, unsigned int k)
{
	q->last_avail = (uint16_t)(q->last_avail - k);
}

/*
 * Places one packet into receive buffers. Returns 1 when delivered, 0
 * when the guest has no room (nothing consumed), -1 when the packet was
 * dropped (too large for the guest, or the device broke).
 */
static int deliver(struct rv_virtio_net *n, const struct rv_net_hdr *hdr,
		   const uint8_t *frame, size_t len)
{
	struct rv_virtq *q = &n->vdev.queues[RV_VNET_RXQ];
	struct rv_virtq_chain *c = &n->rx_chain;
	struct rv__vnet_rx rx;
	unsigned int k = 0, retries = 0;
	int rc;

again:
	rv__vnet_rx_begin(&rx, hdr, frame, len, n->mergeable);
	k = 0;
	while (!rv__vnet_rx_done(&rx)) {
		if (k == RV_VNET_QUEUE_SIZE || (q->size && k == q->size))
			goto too_big;
		rc = rv_virtq_pop(q, c);
		if (rc < 0) {
			queue_broken(n, RV_VNET_RXQ, rc);
			return -1;
		}
		if (rc == 0) {
			unpop(q, k);
			/* Ask for a kick; buffers that came meanwhile: retry. */
			if (rv_virtq_enable_notify(q) && retries++ < 2)
				goto again;
			return 0;
		}
		if (c->nr_out) {
			set_broken(n, "queue 0: receive buffer is "
				      "device-readable");
			return -1;
		}
		if (n->mergeable && c->in_len < RV_NET_HDR_LEN) {
			set_broken(n, "queue 0: receive buffer is smaller "
				      "than the virtio-net header");
			return -1;
		}
		rc = rv__vnet_rx_fill(&rx, c->iov, c->nr_in);
		if (rc < 0) {
			k++;
			goto too_big;
		}
		n->heads[k] = c->head;
		n->lens[k] = (uint32_t)rc;
		k++;
	}
	rv__vnet_rx_finish(&rx);
	rc = publish(q, n->heads, n->lens, k);
	if (rc) {
		queue_broken(n, RV_VNET_RXQ, rc);
		return -1;
	}
	n->pushed[RV_VNET_RXQ] = true;
	n->busy = true;
	count(&n->stats.rx_frames, 1);
	count(&n->stats.rx_bytes, len);
	return 1;

too_big:
	unpop(q, k);
	count(&n->stats.rx_oversize, 1);
	return -1;
}

void rv__vnet_drop_pending(struct rv_virtio_net *n)
{
	while (n->nr_pending) {
		free(n->pending[n->pend_head]);
		n->pending[n->pend_head] = NULL;
		n->pend_head = (n->pend_head + 1) % RV__VNET_RX_PENDING_MAX;
		n->nr_pending--;
		count(&n->stats.rx_no_buffer, 1);
	}
}

/* Delivers waiting frames in order until the guest runs out of room. */
void rv__vnet_flush_pending(struct rv_virtio_net *n)
{
	struct rv__vnet_pending *p;

	while (n->nr_pending && !n->broken) {
		p = n->pending[n->pend_head];
		if (deliver(n, &p->hdr, p->data, p->len) == 0)
			return;
		free(p);
		n->pending[n->pend_head] = NULL;
		n->pend_head = (n->pend_head + 1) % RV__VNET_RX_PENDING_MAX;
		n->nr_pending--;
	}
	if (n->broken)
		rv__vnet_drop_pending(n);
}

/* The backend's rx callback: straight into the guest, or wait in line. */
void rv__vnet_on_rx(void *opaque, const struct rv_net_hdr *hdr,
		    const uint8_t *frame, size_t len)
{
	struct rv_virtio_net *n = opaque;
	struct rv__vnet_pending *p;
	struct rv_net_hdr h;
	unsigned int tail;

	if (!n->active || n->broken) {
		count(&n->stats.rx_no_buffer, 1);
		return;
	}
	if (len < RV_NET_ETH_HLEN || len > RV_NET_MAX_GSO_FRAME) {
		count(&n->stats.rx_oversize, 1);
		return;
	}
	/* The host's header says only what the driver accepted (5.1.6.4). */
	if (!rv__vnet_check_rx(hdr, n->acked, &h)) {
		count(&n->stats.rx_bad_hdr, 1);
		return;
	}
	hdr = &h;
	if (n->nr_pending == 0 && deliver(n, hdr, frame, len) != 0)
		return;
	if (n->nr_pending == RV__VNET_RX_PENDING_MAX) {
		count(&n->stats.rx_no_buffer, 1);
		return;
	}
	p = malloc(sizeof(*p) + len);
	if (!p) {
		count(&n->stats.rx_no_buffer, 1);
		return;
	}
	p->hdr = *hdr;
	p->len = len;
	memcpy(p->data, frame, len);
	tail = (n->pend_head + n->nr_pending) % RV__VNET_RX_PENDING_MAX;
	n->pending[tail] = p;
	n->nr_pending++;
}

/* ------------------------------------------------------------------------
 * Transmit, on the I/O thread.
 */

/* Copies the chain's readable bytes into dst (the caller checked len). */
static void gather(const struct rv_virtq_chain *c, uint8_t *dst)
{
	unsigned int i;

	for (i = 0; i < c->nr_out; i++) {
		if (!c->iov[i].iov_len)
			continue;
		memcpy(dst, c->iov[i].iov_base, c->iov[i].iov_len);
		dst += c->iov[i].iov_len;
	}
}

static void count_verdict(struct rv_virtio_net *n, enum rv__vnet_tx_verdict v)
{
	switch (v) {
	case RV__VNET_TX_BAD_CHAIN:
		count(&n->stats.tx_bad_chain, 1);
		break;
	case RV__VNET_TX_RUNT:
		count(&n->stats.tx_runt, 1);
		break;
	case RV__VNET_TX_OVERSIZE:
		count(&n->stats.tx_oversize, 1);
		break;
	case RV__VNET_TX_BAD_HDR:
		count(&n->stats.tx_bad_hdr, 1);
		break;
	case RV__VNET_TX_OK:
		break;
	}
}

/* Sends one chain's packet. Returns 1, 0 when the queue is empty, or -1. */
static int tx_one(struct rv_virtio_net *n, struct rv_virtq *q)
{
	struct rv_virtq_chain *c = &n->tx_chain;
	enum rv__vnet_tx_verdict v = RV__VNET_TX_OVERSIZE;
	struct rv_net_hdr hdr;
	int rc;

	rc = rv_virtq_pop(q, c);
	if (rc <= 0) {
		if (rc < 0)
			queue_broken(n, RV_VNET_TXQ, rc);
		return rc < 0 ? -1 : 0;
	}
	if (c->nr_in) {
		set_broken(n, "queue 1: transmit buffer is device-writable");
		return -1;
	}
	if (c->out_len <= RV__VNET_TX_BUF_LEN) {
		gather(c, n->tx_buf);
		v = rv__vnet_check_tx(n->tx_buf, (size_t)c->out_len, n->acked,
				      n->mtu, &hdr);
	}
	if (v == RV__VNET_TX_OK) {
		rc = n->be->ops->send(n->be, &hdr, n->tx_buf + RV_NET_HDR_LEN,
				      (size_t)c->out_len - RV_NET_HDR_LEN);
		if (rc == -EACCES) {
			count(&n->stats.tx_filtered, 1);
		} else if (rc) {
			count(&n->stats.tx_backend_drop, 1);
		} else {
			count(&n->stats.tx_frames, 1);
			count(&n->stats.tx_bytes, c->out_len - RV_NET_HDR_LEN);
		}
	} else {
		count_verdict(n, v);
	}
	rc = rv_virtq_push(q, c->head, 0);
	if (rc) {
		queue_broken(n, RV_VNET_TXQ, rc);
		return -1;
	}
	n->pushed[RV_VNET_TXQ] = true;
	n->busy = true;
	return 1;
}

/*
 * Sends up to a budget of chains. Notifications stay off afterwards: the
 * thread may poll the queue for a while (rv__vnet_avail_pending()) before
 * it sleeps, and rv__vnet_arm() turns them back on first.
 */
void rv__vnet_serve_tx(struct rv_virtio_net *n)
{
	struct rv_virtq *q = &n->vdev.queues[RV_VNET_TXQ];
	unsigned int budget = TX_BUDGET;
	int rc = 0;

	n->tx_more = false;
	/* While busy, the driver need not notify (no EVENT_IDX). */
	rv_virtq_disable_notify(q);
	while (budget && !n->broken && (rc = tx_one(n, q)) > 0)
		budget--;
	if (n->be->ops->flush)
		n->be->ops->flush(n->be);
	if (rc < 0 || n->broken)
		return;
	/* Out of budget: come back without sleeping, after receive. */
	n->tx_more = budget == 0;
}

bool rv__vnet_avail_pending(const struct rv_virtq *q)
{
	const uint8_t *idx;

	/* Pairs with the release stores of enable (transport) and reset. */
	if (!__atomic_load_n(&q->enabled, __ATOMIC_ACQUIRE))
		return false;
	/* Bounds-checked like any other ring access; the value is a hint. */
	idx = rv_mem_gpa_to_hva(
		q->mem, __atomic_load_n(&q->avail_gpa, __ATOMIC_RELAXED) + 2u,
		2u);
	if (!idx)
		return false;
	/* The ring is 2-aligned (rv_virtq_validate), so is its index. */
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)idx,
				       __ATOMIC_ACQUIRE)) != q->last_avail;
}

bool rv__vnet_arm(struct rv_virtio_net *n)
{
	struct rv_virtq *q = &n->vdev.queues[RV_VNET_TXQ];

	if (n->broken)
		return false;
	return rv_virtq_enable_notify(q);
}

/* One interrupt per queue per round, when the driver wants it. */
void rv__vnet_end_round(struct rv_virtio_net *n)
{
	unsigned int q;

	for (q = 0; q < 2; q++) {
		if (!n->pushed[q])
			continue;
		n->pushed[q] = false;
		if (n->broken || rv_virtq_should_notify(&n->vdev.queues[q]))
			rv_virtio_notify_queue(&n->vdev, q);
	}
}
