// SPDX-License-Identifier: Apache-2.0
/*
 * Polled virtio-vsock driver for test guests (include/vsock.h).
 *
 * Receive buffers are VSOCK_RX_BUFS chains of one header-plus-64-KiB
 * segment each, reposted as soon as their packet is taken. Transmit
 * packets are built in VSOCK_TX_SLOTS slots of the same size (header and
 * payload contiguous, one descriptor) and the slot returns to the free
 * list when the device completes it. Received bytes are copied into the
 * stream's ring; the freed space goes back to the host as fwd_cnt, in
 * every header we send and in a CREDIT_UPDATE once a quarter of the ring
 * has been consumed.
 */
#include "vsock.h"

#define PKT_SIZE (VSOCK_HDR_LEN + VSOCK_MAX_PAYLOAD)
#define RXQ 0
#define TXQ 1
#define EVQ 2
#define EV_BUFS 8
#define PORT_BASE 49152u

struct pci_dev *vsock_find(unsigned int nth)
{
	/* Modern only: vsock has no transitional device id. */
	return virtio_find(VIRTIO_ID_VSOCK, 0, nth);
}

int vsock_bringup(struct vsock *v, const char *who, bool quiet)
{
	struct virtio_opts o;
	struct pci_dev *pci;

	virtio_opts_from_cmdline(&o, VIRTIO_IRQ_POLL);
	if (quiet)
		o.quiet = true;
	pci = vsock_find(0);
	if (!pci) {
		if (who)
			printf("%s: no virtio-vsock device\n", who);
		return 10;
	}
	if (vsock_open(v, pci, &o)) {
		if (who)
			printf("%s: cannot open the device\n", who);
		return 11;
	}
	return 0;
}

uint64_t vsock_deadline_ms(uint64_t ms)
{
	return rdtsc() + ms * (tsc_hz() / 1000);
}

static int post_rx(struct vsock *v, uint8_t *buf)
{
	struct virtq_seg seg = { (uint64_t)(uintptr_t)buf, PKT_SIZE, true };

	return virtq_add(v->rx, &seg, 1, buf);
}

int vsock_open(struct vsock *v, struct pci_dev *pci,
	       const struct virtio_opts *o)
{
	static uint8_t evbuf[EV_BUFS][8];
	int r;

	memset(v, 0, sizeof(*v));
	r = virtio_probe(&v->vd, pci);
	if (!r && v->vd.device_id != VIRTIO_ID_VSOCK)
		r = -ENODEV;
	if (!r)
		r = virtio_start(&v->vd, o);
	for (unsigned int q = 0; !r && q < 3; q++)
		r = virtio_queue_setup(&v->vd, q);
	if (r)
		return r;
	v->rx = &v->vd.vq[RXQ];
	v->tx = &v->vd.vq[TXQ];
	v->ev = &v->vd.vq[EVQ];
	r = virtio_config_read(&v->vd, 0, &v->cid, 8);
	if (r)
		return r;
	v->rxbufs = dma_alloc((size_t)VSOCK_RX_BUFS * PKT_SIZE, 4096);
	v->slots = dma_alloc((size_t)VSOCK_TX_SLOTS * PKT_SIZE, 4096);
	if (!v->rxbufs || !v->slots)
		return -ENOMEM;
	for (unsigned int i = 0; i < VSOCK_TX_SLOTS; i++)
		v->free_slots[v->nr_free++] = (uint16_t)i;
	for (unsigned int i = 0; i < VSOCK_RX_BUFS && i < v->rx->size; i++) {
		r = post_rx(v, v->rxbufs + (size_t)i * PKT_SIZE);
		if (r)
			return r;
	}
	for (unsigned int i = 0; i < EV_BUFS && i < v->ev->size; i++) {
		struct virtq_seg seg = { (uint64_t)(uintptr_t)evbuf[i], 8,
					 true };

		r = virtq_add(v->ev, &seg, 1, evbuf[i]);
		if (r)
			return r;
	}
	virtq_irq_arm(v->rx, false);
	virtq_irq_arm(v->tx, false);
	r = virtio_driver_ok(&v->vd);
	if (r)
		return r;
	virtq_kick(v->rx);
	virtq_kick(v->ev);
	v->next_port = PORT_BASE;
	if (!o->quiet)
		printf("%s: guest cid %lu, queues %u/%u/%u\n", v->vd.name,
		       (unsigned long)v->cid, v->rx->size, v->tx->size,
		       v->ev->size);
	return 0;
}

/* ------------------------------------------------------------------------
 * Transmit.
 */

static void reap_tx(struct vsock *v)
{
	uint32_t len;
	uint8_t *slot;

	while ((slot = virtq_get(v->tx, &len)) != NULL) {
		size_t i = (size_t)(slot - v->slots) / PKT_SIZE;

		if (i < VSOCK_TX_SLOTS && v->nr_free < VSOCK_TX_SLOTS)
			v->free_slots[v->nr_free++] = (uint16_t)i;
	}
}

/* A slot to build a packet in, or NULL when all are in flight. */
static uint8_t *get_slot(struct vsock *v)
{
	if (!v->nr_free)
		reap_tx(v);
	if (!v->nr_free)
		return NULL;
	return v->slots + (size_t)v->free_slots[--v->nr_free] * PKT_SIZE;
}

static int queue_slot(struct vsock *v, uint8_t *slot, uint32_t len)
{
	struct virtq_seg seg = { (uint64_t)(uintptr_t)slot, len, false };
	int r = virtq_add(v->tx, &seg, 1, slot);

	if (r) {
		v->free_slots[v->nr_free++] =
			(uint16_t)((size_t)(slot - v->slots) / PKT_SIZE);
		return r;
	}
	v->tx_pkts++;
	return 0;
}

static void fill_hdr(struct vsock *v, struct vsock_hdr *h, uint32_t local,
		     uint32_t peer, uint16_t op, uint32_t len, uint32_t flags,
		     struct vsock_stream *st)
{
	h->src_cid = v->cid;
	h->dst_cid = VSOCK_HOST_CID;
	h->src_port = local;
	h->dst_port = peer;
	h->len = len;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
	h->flags = flags;
	h->buf_alloc = st ? VSOCK_RBUF : 0;
	h->fwd_cnt = st ? st->fwd_cnt : 0;
	if (st) {
		st->fwd_reported = st->fwd_cnt;
		st->owe_credit = false;
	}
}

/* A control packet; false when no slot was free (the caller retries). */
static bool send_ctl(struct vsock *v, uint32_t local, uint32_t peer,
		     uint16_t op, uint32_t flags, struct vsock_stream *st)
{
	uint8_t *slot = get_slot(v);

	if (!slot)
		return false;
	fill_hdr(v, (struct vsock_hdr *)slot, local, peer, op, 0, flags, st);
	if (queue_slot(v, slot, VSOCK_HDR_LEN))
		return false;
	virtq_kick(v->tx);
	return true;
}

int vsock_send_raw(struct vsock *v, const void *pkt, uint32_t len)
{
	uint8_t *slot;

	if (len > PKT_SIZE)
		return -EINVAL;
	slot = get_slot(v);
	if (!slot)
		return -ENOSPC;
	memcpy(slot, pkt, len);
	if (queue_slot(v, slot, len))
		return -ENOSPC;
	virtq_kick(v->tx);
	return 0;
}

/* ------------------------------------------------------------------------
 * Receive.
 */

static struct vsock_stream *find(struct vsock *v, uint32_t local, uint32_t peer)
{
	for (unsigned int i = 0; i < VSOCK_MAX_STREAMS; i++) {
		struct vsock_stream *st = &v->s[i];

		if (st->state != VS_FREE && st->local_port == local &&
		    st->peer_port == peer)
			return st;
	}
	return NULL;
}

static struct vsock_stream *alloc_stream(struct vsock *v)
{
	for (unsigned int i = 0; i < VSOCK_MAX_STREAMS; i++) {
		struct vsock_stream *st = &v->s[i];
		uint8_t *rbuf = st->rbuf;

		if (st->state != VS_FREE)
			continue;
		if (!rbuf)
			rbuf = dma_alloc(VSOCK_RBUF, 64);
		if (!rbuf)
			return NULL;
		memset(st, 0, sizeof(*st));
		st->rbuf = rbuf;
		return st;
	}
	return NULL;
}

static void take_data(struct vsock *v, struct vsock_stream *st,
		      const uint8_t *p, uint32_t len)
{
	uint32_t tail, n;

	if (st->state != VS_OPEN || len > VSOCK_RBUF - st->rlen ||
	    (st->peer_shut & VSOCK_SHUTDOWN_SEND)) {
		v->bad_pkts++;
		return;
	}
	while (len) {
		tail = (st->rhead + st->rlen) % VSOCK_RBUF;
		n = VSOCK_RBUF - tail;
		if (n > len)
			n = len;
		memcpy(st->rbuf + tail, p, n);
		st->rlen += n;
		p += n;
		len -= n;
	}
}

static void on_request(struct vsock *v, const struct vsock_hdr *h)
{
	struct vsock_stream *st = NULL;

	if (v->listening && h->dst_port == v->listen_port &&
	    !find(v, h->dst_port, h->src_port))
		st = alloc_stream(v);
	if (!st) {
		send_ctl(v, h->dst_port, h->src_port, VSOCK_OP_RST, 0, NULL);
		return;
	}
	st->state = VS_OPEN;
	st->local_port = h->dst_port;
	st->peer_port = h->src_port;
	st->peer_buf_alloc = h->buf_alloc;
	st->peer_fwd_cnt = h->fwd_cnt;
	send_ctl(v, st->local_port, st->peer_port, VSOCK_OP_RESPONSE, 0, st);
}

static void on_packet(struct vsock *v, const struct vsock_hdr *h, uint32_t used)
{
	struct vsock_stream *st;

	if (used < VSOCK_HDR_LEN || h->len > used - VSOCK_HDR_LEN ||
	    h->type != VSOCK_TYPE_STREAM || h->src_cid != VSOCK_HOST_CID ||
	    h->dst_cid != v->cid) {
		v->bad_pkts++;
		return;
	}
	v->rx_pkts++;
	if (h->op == VSOCK_OP_REQUEST) {
		on_request(v, h);
		return;
	}
	st = find(v, h->dst_port, h->src_port);
	if (!st) {
		if (h->op != VSOCK_OP_RST)
			send_ctl(v, h->dst_port, h->src_port, VSOCK_OP_RST, 0,
				 NULL);
		return;
	}
	st->peer_buf_alloc = h->buf_alloc;
	st->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case VSOCK_OP_RESPONSE:
		if (st->state == VS_CONNECTING)
			st->state = VS_OPEN;
		else
			v->bad_pkts++;
		break;
	case VSOCK_OP_RST:
		v->rst_rx++;
		if (st->state == VS_CONNECTING)
			st->refused = true;
		st->state = VS_RESET;
		break;
	case VSOCK_OP_SHUTDOWN:
		st->peer_shut |= h->flags & 3;
		/* The host closed both ways: end it with the RST it expects. */
		if (st->peer_shut == 3 && st->state == VS_OPEN) {
			send_ctl(v, st->local_port, st->peer_port, VSOCK_OP_RST,
				 0, st);
			st->state = VS_RESET;
		}
		break;
	case VSOCK_OP_RW:
		take_data(v, st, (const uint8_t *)(h + 1), h->len);
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		st->owe_credit = true;
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break;
	default:
		v->bad_pkts++;
		break;
	}
}

void vsock_poll(struct vsock *v)
{
	uint32_t len;
	uint8_t *buf;
	bool reposted = false;

	reap_tx(v);
	while ((buf = virtq_get(v->rx, &len)) != NULL) {
		size_t i = (size_t)(buf - v->rxbufs) / PKT_SIZE;

		if (i >= VSOCK_RX_BUFS || buf != v->rxbufs + i * PKT_SIZE) {
			v->bad_pkts++;
			continue;
		}
		on_packet(v, (const struct vsock_hdr *)buf,
			  len > PKT_SIZE ? 0 : len);
		if (post_rx(v, buf) == 0)
			reposted = true;
	}
	if (reposted)
		virtq_kick(v->rx);
	for (unsigned int i = 0; i < VSOCK_MAX_STREAMS; i++) {
		struct vsock_stream *st = &v->s[i];

		if (st->state == VS_OPEN &&
		    (st->owe_credit ||
		     st->fwd_cnt - st->fwd_reported >= VSOCK_RBUF / 4))
			send_ctl(v, st->local_port, st->peer_port,
				 VSOCK_OP_CREDIT_UPDATE, 0, st);
	}
}

/* ------------------------------------------------------------------------
 * Stream calls.
 */

static struct vsock_stream *stream(struct vsock *v, int s)
{
	if (s < 0 || s >= VSOCK_MAX_STREAMS || v->s[s].state == VS_FREE)
		return NULL;
	return &v->s[s];
}

void vsock_listen(struct vsock *v, uint32_t port)
{
	v->listen_port = port;
	v->listening = true;
}

int vsock_accept(struct vsock *v)
{
	vsock_poll(v);
	for (int i = 0; i < VSOCK_MAX_STREAMS; i++) {
		struct vsock_stream *st = &v->s[i];

		if (st->state != VS_FREE && st->state != VS_CONNECTING &&
		    !st->accepted && v->listening &&
		    st->local_port == v->listen_port) {
			st->accepted = true;
			return i;
		}
	}
	return -EAGAIN;
}

int vsock_connect(struct vsock *v, uint32_t port)
{
	struct vsock_stream *st = alloc_stream(v);

	if (!st)
		return -ENOSPC;
	st->state = VS_CONNECTING;
	st->accepted = true;
	st->local_port = v->next_port++;
	st->peer_port = port;
	if (!send_ctl(v, st->local_port, port, VSOCK_OP_REQUEST, 0, st)) {
		st->state = VS_FREE;
		return -ENOSPC;
	}
	return (int)(st - v->s);
}

int vsock_connected(struct vsock *v, int s)
{
	struct vsock_stream *st = stream(v, s);

	if (!st)
		return -EINVAL;
	vsock_poll(v);
	if (st->state == VS_OPEN)
		return 1;
	if (st->state == VS_CONNECTING)
		return 0;
	return st->refused ? -ECONNREFUSED : -ECONNRESET;
}

long vsock_send(struct vsock *v, int s, const void *buf, uint32_t len)
{
	struct vsock_stream *st = stream(v, s);
	const uint8_t *p = buf;
	uint32_t done = 0;
	bool queued = false;

	if (!st)
		return -EINVAL;
	if (st->state == VS_RESET || (st->peer_shut & VSOCK_SHUTDOWN_RCV))
		return -ECONNRESET;
	if (st->state != VS_OPEN)
		return -EPIPE;
	while (done < len) {
		uint32_t in_flight = st->tx_cnt - st->peer_fwd_cnt;
		uint32_t credit = in_flight > st->peer_buf_alloc ?
					  0 :
					  st->peer_buf_alloc - in_flight;
		uint32_t n = len - done;
		uint8_t *slot;

		if (n > credit)
			n = credit;
		if (n > VSOCK_MAX_PAYLOAD)
			n = VSOCK_MAX_PAYLOAD;
		if (!n)
			break;
		slot = get_slot(v);
		if (!slot)
			break;
		fill_hdr(v, (struct vsock_hdr *)slot, st->local_port,
			 st->peer_port, VSOCK_OP_RW, n, 0, st);
		memcpy(slot + VSOCK_HDR_LEN, p + done, n);
		if (queue_slot(v, slot, VSOCK_HDR_LEN + n))
			break;
		st->tx_cnt += n;
		done += n;
		queued = true;
	}
	if (queued)
		virtq_kick(v->tx);
	return done;
}

static long consume(struct vsock *v, int s, void *buf, uint32_t len)
{
	struct vsock_stream *st = stream(v, s);
	uint8_t *out = buf;
	uint32_t done = 0, n;

	if (!st)
		return -EINVAL;
	if (!st->rlen)
		vsock_poll(v);
	if (!st->rlen) {
		if (st->state == VS_RESET && !(st->peer_shut & 2))
			return -ECONNRESET;
		if ((st->peer_shut & VSOCK_SHUTDOWN_SEND) ||
		    st->state == VS_RESET)
			return 0;
		return -EAGAIN;
	}
	while (done < len && st->rlen) {
		n = VSOCK_RBUF - st->rhead;
		if (n > st->rlen)
			n = st->rlen;
		if (n > len - done)
			n = len - done;
		if (out)
			memcpy(out + done, st->rbuf + st->rhead, n);
		st->rhead = (st->rhead + n) % VSOCK_RBUF;
		st->rlen -= n;
		st->fwd_cnt += n;
		done += n;
	}
	return done;
}

long vsock_recv(struct vsock *v, int s, void *buf, uint32_t len)
{
	return consume(v, s, buf, len);
}

long vsock_discard(struct vsock *v, int s, uint32_t len)
{
	return consume(v, s, NULL, len);
}

int vsock_shutdown(struct vsock *v, int s, uint32_t flags)
{
	struct vsock_stream *st = stream(v, s);

	if (!st || st->state != VS_OPEN)
		return -EINVAL;
	return send_ctl(v, st->local_port, st->peer_port, VSOCK_OP_SHUTDOWN,
			flags, st) ?
		       0 :
		       -ENOSPC;
}

int vsock_credit_request(struct vsock *v, int s)
{
	struct vsock_stream *st = stream(v, s);

	if (!st || st->state != VS_OPEN)
		return -EINVAL;
	return send_ctl(v, st->local_port, st->peer_port,
			VSOCK_OP_CREDIT_REQUEST, 0, st) ?
		       0 :
		       -ENOSPC;
}

int vsock_close(struct vsock *v, int s, uint64_t deadline)
{
	struct vsock_stream *st = stream(v, s);
	int r = 0;

	if (!st)
		return -EINVAL;
	if (st->state == VS_OPEN) {
		while (!send_ctl(v, st->local_port, st->peer_port,
				 VSOCK_OP_SHUTDOWN, 3, st)) {
			if (rdtsc() > deadline)
				break;
			vsock_poll(v);
		}
		st->state = VS_CLOSING;
	}
	while (st->state == VS_CLOSING) {
		if (rdtsc() > deadline) {
			r = -ETIMEDOUT;
			break;
		}
		vsock_poll(v);
		cpu_pause();
	}
	st->state = VS_FREE;
	return r;
}
