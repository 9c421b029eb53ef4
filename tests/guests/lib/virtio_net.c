/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net driver (virtio 1.2, 5.1) on the kit's virtio core: queue 0
 * receives, queue 1 transmits, no control queue and no offloads (the
 * stack computes its own checksums, so every frame fits one 2 KiB
 * buffer). Mergeable receive buffers are negotiated when offered: the
 * device may then spread one frame over several buffers, whose count the
 * first header gives; each is checked before it is copied.
 *
 * Completions are polled; nothing here takes interrupts, so the same code
 * serves CPL0 set-up and CPL3 loops.
 */
#include "internal.h"
#include "net.h"

#define RX_QUEUE 0
#define TX_QUEUE 1
/* Re-posted rx buffers published in one go. */
#define RX_KICK_BATCH 32

struct pci_dev *vnet_find(unsigned int nth)
{
	return virtio_find(VIRTIO_ID_NET, 0x1000, nth);
}

static int read_config(struct vnet *n)
{
	static const uint8_t fallback[6] = {
		0x52, 0x54, 0x00, 0x12, 0x34, 0x56
	};
	int r;

	memcpy(n->mac, fallback, 6);
	if (virtio_has(&n->vd, VIRTIO_NET_F_MAC)) {
		r = virtio_config_read(&n->vd, VIRTIO_NET_CFG_MAC, n->mac, 6);
		if (r)
			return r;
	}
	n->mtu = 1500;
	if (virtio_has(&n->vd, VIRTIO_NET_F_MTU)) {
		uint16_t mtu = 0;

		r = virtio_config_read(&n->vd, VIRTIO_NET_CFG_MTU, &mtu, 2);
		if (r)
			return r;
		/* Frames still go out at 1500 at most: 2 KiB buffers. */
		if (mtu >= 68 && mtu < n->mtu)
			n->mtu = mtu;
	}
	n->mrg = virtio_has(&n->vd, VIRTIO_NET_F_MRG_RXBUF);
	return 0;
}

bool vnet_link_up(struct vnet *n)
{
	uint16_t st = 0;

	if (!virtio_has(&n->vd, VIRTIO_NET_F_STATUS))
		return true;
	if (virtio_config_read(&n->vd, VIRTIO_NET_CFG_STATUS, &st, 2))
		return false;
	return st & VIRTIO_NET_S_LINK_UP;
}

static int rx_post(struct vnet *n, uint8_t *buf)
{
	struct virtq_seg s = { (uint64_t)(uintptr_t)buf, VNET_BUF_SIZE, true };
	int r = virtq_add(n->rxq, &s, 1, buf);

	if (!r)
		n->rx_unkicked++;
	return r;
}

void vnet_rx_flush(struct vnet *n)
{
	if (!n->rx_unkicked)
		return;
	n->rx_unkicked = 0;
	if (virtq_kick(n->rxq))
		n->rx_kicks++;
}

static int buffers_alloc(struct vnet *n)
{
	unsigned int rx = n->rxq->size, tx = n->txq->size;

	/* Sizes only change when the device's queue sizes do. */
	if (!n->rx_bufs || n->rx_count < rx) {
		n->rx_bufs = dma_alloc((size_t)rx * VNET_BUF_SIZE, 4096);
		n->rx_count = rx;
	}
	if (!n->tx_bufs || n->tx_count < tx) {
		n->tx_bufs = dma_alloc((size_t)tx * VNET_BUF_SIZE, 4096);
		n->tx_free = dma_alloc(sizeof(uint16_t) * tx, 8);
		n->tx_count = tx;
	}
	if (!n->rx_bufs || !n->tx_bufs || !n->tx_free)
		return -ENOMEM;
	return 0;
}

static int queues_fill(struct vnet *n)
{
	int r;

	unsigned int hold = n->rx_hold < n->rxq->size ? n->rx_hold :
							n->rxq->size;

	for (unsigned int i = 0; i < n->rxq->size - hold; i++) {
		r = rx_post(n, n->rx_bufs + (size_t)i * VNET_BUF_SIZE);
		if (r)
			return r;
	}
	n->tx_nfree = n->txq->size;
	for (unsigned int i = 0; i < n->txq->size; i++)
		n->tx_free[i] = (uint16_t)i;
	n->tx_unkicked = 0;
	return 0;
}

int vnet_open(struct vnet *n, struct pci_dev *pci, const struct virtio_opts *o)
{
	struct virtio_opts opts = *o;
	int r;

	if (n->vd.pci != pci) {
		memset(n, 0, sizeof(*n));
		r = virtio_probe(&n->vd, pci);
		if (r)
			return r;
		if (n->vd.device_id != VIRTIO_ID_NET)
			return -ENODEV;
	}
	/* One segment per chain: indirect tables would only cost time. */
	opts.want |= VNET_FEATURES;
	opts.indirect = false;
	opts.irq = VIRTIO_IRQ_POLL;
	r = virtio_start(&n->vd, &opts);
	if (r)
		return r;
	r = read_config(n);
	if (r)
		return r;
	if (n->vd.num_queues < 2) {
		printf("%s: %u queues, need rx and tx\n", n->vd.name,
		       n->vd.num_queues);
		return -EIO;
	}
	r = virtio_queue_setup(&n->vd, RX_QUEUE);
	if (!r)
		r = virtio_queue_setup(&n->vd, TX_QUEUE);
	if (r) {
		printf("%s: queue set-up failed (%d)\n", n->vd.name, r);
		return r;
	}
	n->rxq = &n->vd.vq[RX_QUEUE];
	n->txq = &n->vd.vq[TX_QUEUE];
	r = buffers_alloc(n);
	if (!r)
		r = queues_fill(n);
	if (r)
		return r;
	r = virtio_driver_ok(&n->vd);
	if (r)
		return r;
	vnet_rx_flush(n);
	if (opts.quiet)
		return 0;
	printf("%s: mac %02x:%02x:%02x:%02x:%02x:%02x mtu %u link %s, "
	       "features %#lx%s%s, queues %u/%u\n",
	       n->vd.name, n->mac[0], n->mac[1], n->mac[2], n->mac[3],
	       n->mac[4], n->mac[5], n->mtu, vnet_link_up(n) ? "up" : "down",
	       (unsigned long)n->vd.features, n->mrg ? " mrg_rxbuf" : "",
	       virtio_has(&n->vd, VIRTIO_F_EVENT_IDX) ? " event_idx" : "",
	       n->rxq->size, n->txq->size);
	return 0;
}

static bool is_tx_buf(const struct vnet *n, const uint8_t *frame)
{
	const uint8_t *b = frame - VNET_HDR_LEN;

	return b >= n->tx_bufs &&
	       b < n->tx_bufs + (size_t)n->tx_count * VNET_BUF_SIZE &&
	       (uint64_t)(b - n->tx_bufs) % VNET_BUF_SIZE == 0;
}

void vnet_tx_reap(struct vnet *n)
{
	uint8_t *b;

	while ((b = virtq_get(n->txq, NULL)) != NULL) {
		uint64_t i = (uint64_t)(b - n->tx_bufs) / VNET_BUF_SIZE;

		/* net_hostile queues chains of its own: not ours to free. */
		if (!is_tx_buf(n, b + VNET_HDR_LEN))
			continue;
		if (n->tx_nfree < n->tx_count)
			n->tx_free[n->tx_nfree++] = (uint16_t)i;
	}
}

void *vnet_tx_buf(struct vnet *n)
{
	struct virtio_net_hdr *h;
	uint8_t *b;

	if (!n->tx_nfree)
		vnet_tx_reap(n);
	if (!n->tx_nfree) {
		/* Queued but never published buffers would never come back. */
		vnet_tx_flush(n);
		n->tx_full++;
		return NULL;
	}
	b = n->tx_bufs + (size_t)n->tx_free[--n->tx_nfree] * VNET_BUF_SIZE;
	h = (struct virtio_net_hdr *)b;
	memset(h, 0, VNET_HDR_LEN);
	return b + VNET_HDR_LEN;
}

void vnet_tx_abort(struct vnet *n, void *frame)
{
	uint8_t *b = (uint8_t *)frame - VNET_HDR_LEN;

	if (is_tx_buf(n, frame) && n->tx_nfree < n->tx_count)
		n->tx_free[n->tx_nfree++] =
			(uint16_t)((uint64_t)(b - n->tx_bufs) / VNET_BUF_SIZE);
}

void vnet_tx_flush(struct vnet *n)
{
	if (!n->tx_unkicked)
		return;
	n->tx_unkicked = 0;
	if (virtq_kick(n->txq))
		n->tx_kicks++;
}

int vnet_tx_commit(struct vnet *n, void *frame, uint32_t len, bool kick)
{
	uint8_t *b = (uint8_t *)frame - VNET_HDR_LEN;
	struct virtq_seg s = { (uint64_t)(uintptr_t)b, VNET_HDR_LEN + len,
			       false };
	int r;

	if (!is_tx_buf(n, frame))
		return -EINVAL;
	if (len > ETH_FRAME_MAX) {
		vnet_tx_abort(n, frame);
		return -EINVAL;
	}
	r = virtq_add(n->txq, &s, 1, b);
	if (r) {
		vnet_tx_abort(n, frame);
		return r;
	}
	n->tx_frames++;
	n->tx_bytes += len;
	n->tx_unkicked++;
	if (kick || n->tx_unkicked >= n->txq->size / 2)
		vnet_tx_flush(n);
	return 0;
}

int vnet_send(struct vnet *n, const void *frame, uint32_t len)
{
	void *b;

	if (len > ETH_FRAME_MAX)
		return -EINVAL;
	b = vnet_tx_buf(n);
	if (!b)
		return -ENOSPC;
	memcpy(b, frame, len);
	return vnet_tx_commit(n, b, len, true);
}

/* Takes one rx buffer off the used ring; NULL when there is none. */
static uint8_t *rx_take(struct vnet *n, uint32_t *len)
{
	return virtq_get(n->rxq, len);
}

static void rx_repost(struct vnet *n, uint8_t *b)
{
	/* The buffer just came off the ring, so a slot is free for it. */
	if (rx_post(n, b))
		printf("%s: cannot re-post an rx buffer\n", n->vd.name);
	if (n->rx_unkicked >= RX_KICK_BATCH)
		vnet_rx_flush(n);
}

int vnet_recv(struct vnet *n, void *buf, uint32_t cap)
{
	const struct virtio_net_hdr *h;
	uint32_t len = 0, total, nbufs = 1;
	uint8_t *out = buf;
	bool bad = false;
	uint8_t *b;

	b = rx_take(n, &len);
	if (!b)
		return 0;
	h = (const struct virtio_net_hdr *)b;
	if (n->mrg)
		nbufs = h->num_buffers;
	if (len < VNET_HDR_LEN || len > VNET_BUF_SIZE || nbufs == 0 ||
	    nbufs > VNET_RX_MAX_BUFS)
		bad = true;
	total = bad ? 0 : len - VNET_HDR_LEN;
	if (!bad && total <= cap)
		memcpy(out, b + VNET_HDR_LEN, total);
	rx_repost(n, b);
	/* The rest of a merged frame: every buffer is re-posted even when
	 * the frame is dropped, or the ring would drain. */
	for (uint32_t i = 1; !bad && i < nbufs; i++) {
		b = rx_take(n, &len);
		if (!b || len > VNET_BUF_SIZE) {
			bad = true;
		} else {
			if (total + len <= cap)
				memcpy(out + total, b, len);
			total += len;
		}
		if (b)
			rx_repost(n, b);
	}
	if (bad || total > cap || total > VNET_RX_MAX || total < ETH_HLEN) {
		n->rx_bad++;
		return -EIO;
	}
	n->rx_frames++;
	n->rx_bytes += total;
	return (int)total;
}

unsigned int vnet_rx_post_held(struct vnet *n)
{
	unsigned int posted = 0, size = n->rxq->size;
	unsigned int hold = n->rx_hold < size ? n->rx_hold : size;

	for (unsigned int i = size - hold; i < size; i++) {
		if (rx_post(n, n->rx_bufs + (size_t)i * VNET_BUF_SIZE))
			break;
		posted++;
	}
	n->rx_hold = 0;
	vnet_rx_flush(n);
	return posted;
}
