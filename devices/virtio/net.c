// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-net (virtio 1.2, 5.1): one receive queue (0) and one transmit
 * queue (1), no control queue, in front of a backend (devices/net/):
 * user-mode NAT over libslirp or a host tap.
 *
 * Offered: MAC, MTU, STATUS (the link is always up), MRG_RXBUF, and where
 * the backend takes them (a tap with IFF_VNET_HDR) CSUM, GUEST_CSUM,
 * HOST_TSO4/6 and GUEST_TSO4/6. The transport adds VERSION_1, EVENT_IDX
 * and INDIRECT_DESC.
 *
 * Threads. Each NIC has an I/O thread ("netN", class RV_THREAD_NET),
 * started at creation and parked (serving only its backend, reading no
 * frames) until DRIVER_OK. It alone pops and pushes on both queues and
 * alone calls the backend. It poll(2)s a stop eventfd (destroy), a control
 * eventfd (activate/reset), the two queues' ioeventfds and the backend's
 * fds, with the backend's next timer as the timeout; after a round that
 * moved frames it first polls the rings for up to 50 us (spin()).
 * activate() and reset() run on vCPU threads with dev->lock held: they
 * set want_active under n->lock and kick the thread; reset() then waits
 * on n->cond until the thread has parked, so it returns only once no
 * queue is in use (a poll of the rings delays that by 50 us at most).
 * The thread never takes dev->lock.

 *
 * Datapath (the queues, the backend's frames, what the guest may get
 * wrong and how each mistake is answered): devices/virtio/net_queue.c.
 */
#include "raevm/virtio.h"

#include "evfd.h"
#include "net_int.h"

#include "raevm/config.h"
#include "raevm/log.h"
#include "raevm/sandbox.h"
#include "raevm/vm.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define NET_DEVICE_ID 1
/* PCI class 0x0200: network controller, Ethernet. */
#define NET_PCI_CLASS 0x020000

static struct rv_virtio_net *to_net(struct rv_virtio_dev *dev)
{
	return rv_container_of(dev, struct rv_virtio_net, vdev);
}

void rv__vnet_default_mac(const char *vm_name, unsigned int index,
			  uint8_t mac[6])
{
	const char *name = vm_name && *vm_name ? vm_name : "raevm";
	uint64_t h = 0xcbf29ce484222325ULL;
	uint8_t tail[5] = { 0, (uint8_t)index, (uint8_t)(index >> 8),
			    (uint8_t)(index >> 16), (uint8_t)(index >> 24) };
	unsigned int i;

	for (; *name; name++) {
		h ^= (uint8_t)*name;
		h *= 0x100000001b3ULL;
	}
	for (i = 0; i < sizeof(tail); i++) {
		h ^= tail[i];
		h *= 0x100000001b3ULL;
	}
	for (i = 0; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * i));
	/* Locally administered (bit 1), unicast (bit 0 clear). */
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
}

/* ------------------------------------------------------------------------
 * The I/O thread.
 */

static unsigned int offloads_of(uint64_t acked)
{
	unsigned int o = 0;

	if (rv__vnet_has(acked, RV_VNET_F_GUEST_CSUM)) {
		o |= RV_NET_OFFLOAD_CSUM;
		if (rv__vnet_has(acked, RV_VNET_F_GUEST_TSO4))
			o |= RV_NET_OFFLOAD_TSO4;
		if (rv__vnet_has(acked, RV_VNET_F_GUEST_TSO6))
			o |= RV_NET_OFFLOAD_TSO6;
	}
	return o;
}

/* Follows activate() and reset(); acknowledges under n->lock. */
static void sync_state(struct rv_virtio_net *n)
{
	int rc;

	pthread_mutex_lock(&n->lock);
	if (n->want_active == n->active) {
		pthread_mutex_unlock(&n->lock);
		return;
	}
	if (n->want_active) {
		/* activate() saw FEATURES_OK: driver_features is frozen. */
		n->acked = n->vdev.driver_features & n->vdev.device_features;
		n->mergeable = rv__vnet_has(n->acked, RV_VNET_F_MRG_RXBUF);
		n->broken = false;
		n->active = true;
		if (n->be->rx_offloads && n->be->ops->set_offloads) {
			rc = n->be->ops->set_offloads(n->be,
						      offloads_of(n->acked));
			if (rc)
				rv_warn("%s: cannot set the backend's "
					"offloads: %s",
					n->vdev.name, strerror(-rc));
		}
	} else {
		n->active = false;
		rv__vnet_drop_pending(n);
		n->pushed[0] = n->pushed[1] = false;
		if (n->be->rx_offloads && n->be->ops->set_offloads)
			(void)n->be->ops->set_offloads(n->be, 0);
	}
	n->parked_active = n->active;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * After a round that moved frames, the thread watches the rings for a
 * while before it sleeps, with transmit notifications still off: a
 * stream's next chains (or the ACK that opens the peer's window) often
 * come within microseconds, and catching them here spares the guest a
 * notification exit and this thread a sleep and a wake-up, each of which
 * costs more than a short wait. The wait adapts as KVM's halt polling
 * does: it shrinks when it catches nothing (a busy host, where spinning
 * would only take CPU from the vCPUs) and grows when the thread, having
 * slept, is kicked within SPIN_MAX_NS. Only after work, so an idle NIC
 * never spins. Returns true when there is something to serve.
 */
#define SPIN_MAX_NS 50000
#define SPIN_START_NS 10000

static bool spin(struct rv_virtio_net *n)
{
	const struct rv_virtq *tq = &n->vdev.queues[RV_VNET_TXQ];
	const struct rv_virtq *rq = &n->vdev.queues[RV_VNET_RXQ];
	int64_t end;
	unsigned int i;

	if (!n->spin_ns)
		return false;
	end = now_ns() + n->spin_ns;
	do {
		for (i = 0; i < 64; i++) {
			if (rv__vnet_avail_pending(tq))
				return true;
			if (n->nr_pending && rv__vnet_avail_pending(rq))
				return true;
			cpu_relax();
		}
	} while (now_ns() < end);
	n->spin_ns /= 2;
	if (n->spin_ns < SPIN_START_NS / 2)
		n->spin_ns = 0;
	return false;
}

/* A kick came soon after the thread went to sleep: spin longer next time. */
static void spin_grow(struct rv_virtio_net *n, int64_t slept_at)
{
	if (now_ns() - slept_at >= SPIN_MAX_NS)
		return;
	n->spin_ns = n->spin_ns ? 2 * n->spin_ns : SPIN_START_NS;
	if (n->spin_ns > SPIN_MAX_NS)
		n->spin_ns = SPIN_MAX_NS;
}

/*
 * Between rounds of a live NIC: returns true when the thread must not
 * sleep (work is waiting); otherwise transmit notifications are on again.
 */
static bool idle(struct rv_virtio_net *n)
{
	if (n->broken)
		return false;
	if (n->tx_more)
		return true;
	if (n->busy) {
		n->busy = false;
		if (spin(n)) {
			/*
			 * Serve at once: what came is most often the ACK
			 * that lets the backend send, and the backend's
			 * sockets are polled right after anyway.
			 */
			rv__vnet_flush_pending(n);
			if (!n->broken)
				rv__vnet_serve_tx(n);
			rv__vnet_end_round(n);
			return !n->broken;
		}
	}
	return rv__vnet_arm(n);
}

/* Fills the poll set; returns the index of the backend's first fd. */
static unsigned int fill_poll(struct rv_virtio_net *n, bool again, int *timeout)
{
	struct rv_net_pollset *ps = &n->ps;
	bool live = n->active && !n->broken;
	unsigned int first;

	ps->n = 0;
	/* The set's first slots always fit: it starts with room for 16. */
	(void)rv_net_pollset_add(ps, n->stop_fd, POLLIN);
	(void)rv_net_pollset_add(ps, n->ctl_fd, POLLIN);
	(void)rv_net_pollset_add(ps, live ? n->kick_fd[0] : -1, POLLIN);
	(void)rv_net_pollset_add(ps, live ? n->kick_fd[1] : -1, POLLIN);
	first = ps->n;
	*timeout = again ? 0 : -1;
	if (n->be->ops->poll_fill(n->be, ps, timeout,
				  live && n->nr_pending <
						  RV__VNET_RX_PENDING_MAX) < 0)
		*timeout = 100; /* out of memory: try again soon */
	return first;
}

/*
 * The thread stops serving for good (it could not wait): it lets go of
 * the queues and says so, or reset() on a vCPU thread, holding dev->lock,
 * would wait for an acknowledgement that never comes.
 */
static void thread_gone(struct rv_virtio_net *n)
{
	pthread_mutex_lock(&n->lock);
	n->active = false;
	n->thread_gone = true;
	n->parked_active = false;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

static void *io_thread(void *arg)
{
	struct rv_virtio_net *n = arg;
	unsigned int first;
	char name[16];
	int64_t slept_at;
	int timeout;
	bool again;

	if (rv_sandbox_thread_enter(RV_THREAD_NET)) {
		rv_vm_request_stop(n->vm, RV_STOP_ERROR, 1);
		/* No work at all: only wait to be joined. */
		for (;;) {
			struct pollfd p = { .fd = n->stop_fd,
					    .events = POLLIN };

			if (poll(&p, 1, -1) > 0)
				return NULL;
		}
	}
	snprintf(name, sizeof(name), "net%u", n->index);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		sync_state(n);
		again = false;
		if (n->active && !n->broken) {
			rv__vnet_flush_pending(n);
			if (!n->broken)
				rv__vnet_serve_tx(n);
			rv__vnet_end_round(n);
			again = idle(n);
		}
		first = fill_poll(n, again, &timeout);
		slept_at = timeout ? now_ns() : 0;
		if (poll(n->ps.fds, n->ps.n, timeout) < 0 && errno != EINTR) {
			rv_error("%s: I/O thread cannot wait: %s", n->vdev.name,
				 strerror(errno));
			thread_gone(n);
			break;
		}
		if (n->ps.fds[0].revents)
			break;
		if (n->ps.fds[1].revents)
			rv__evfd_drain(n->ctl_fd);
		/* Drained before serving: a later kick wakes us again. */
		if (n->ps.fds[2].revents)
			rv__evfd_drain(n->kick_fd[0]);
		if (n->ps.fds[3].revents) {
			rv__evfd_drain(n->kick_fd[1]);
			if (slept_at)
				spin_grow(n, slept_at);
		}
		n->be->ops->poll_done(n->be, &n->ps, first);
		if (n->active)
			rv__vnet_end_round(n);
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * Device hooks, on vCPU threads with dev->lock held.
 */

static uint64_t net_features(struct rv_virtio_dev *dev)
{
	return to_net(dev)->features;
}

static void net_config_read(struct rv_virtio_dev *dev, uint32_t offset,
			    void *data, uint32_t len)
{
	/* The transport checked offset + len <= RV_VNET_CONFIG_SIZE. */
	memcpy(data, to_net(dev)->config + offset, len);
}

/* The MAC is read-only with VERSION_1 (5.1.4.2): writes are ignored. */
static void net_config_write(struct rv_virtio_dev *dev, uint32_t offset,
			     const void *data, uint32_t len)
{
	(void)dev;
	(void)offset;
	(void)data;
	(void)len;
}

static int net_activate(struct rv_virtio_dev *dev)
{
	struct rv_virtio_net *n = to_net(dev);

	pthread_mutex_lock(&n->lock);
	n->want_active = true;
	pthread_mutex_unlock(&n->lock);
	rv__evfd_signal(n->ctl_fd);
	return 0;
}

static void net_reset(struct rv_virtio_dev *dev)
{
	struct rv_virtio_net *n = to_net(dev);

	pthread_mutex_lock(&n->lock);
	n->want_active = false;
	rv__evfd_signal(n->ctl_fd);
	/* The thread parks between rounds; a round is bounded. */
	while (n->thread_started && !n->thread_gone && n->parked_active)
		pthread_cond_wait(&n->cond, &n->lock);
	pthread_mutex_unlock(&n->lock);
}

static const struct rv_virtio_ops rv_virtio_net_ops = {
	.name = "virtio-net",
	.device_id = NET_DEVICE_ID,
	.pci_class = NET_PCI_CLASS,
	.nr_queues = 2,
	.queue_max_size = RV_VNET_QUEUE_SIZE,
	.config_size = RV_VNET_CONFIG_SIZE,
	.features = net_features,
	.config_read = net_config_read,
	.config_write = net_config_write,
	.activate = net_activate,
	.reset = net_reset,
};

/* ------------------------------------------------------------------------
 * Set-up and teardown.
 */

static void build_config(struct rv_virtio_net *n, const uint8_t mac[6])
{
	uint8_t *c = n->config;

	n->features = (1ULL << RV_VNET_F_MAC) | (1ULL << RV_VNET_F_MTU) |
		      (1ULL << RV_VNET_F_STATUS) |
		      (1ULL << RV_VNET_F_MRG_RXBUF);
	/* Segmentation needs checksum offload in the same direction. */
	if (n->be->offloads & RV_NET_OFFLOAD_CSUM) {
		n->features |= 1ULL << RV_VNET_F_CSUM;
		if (n->be->offloads & RV_NET_OFFLOAD_TSO4)
			n->features |= 1ULL << RV_VNET_F_HOST_TSO4;
		if (n->be->offloads & RV_NET_OFFLOAD_TSO6)
			n->features |= 1ULL << RV_VNET_F_HOST_TSO6;
	}
	if (n->be->rx_offloads & RV_NET_OFFLOAD_CSUM) {
		n->features |= 1ULL << RV_VNET_F_GUEST_CSUM;
		if (n->be->rx_offloads & RV_NET_OFFLOAD_TSO4)
			n->features |= 1ULL << RV_VNET_F_GUEST_TSO4;
		if (n->be->rx_offloads & RV_NET_OFFLOAD_TSO6)
			n->features |= 1ULL << RV_VNET_F_GUEST_TSO6;
	}
	memset(c, 0, RV_VNET_CONFIG_SIZE);
	memcpy(c + RV_VNET_CFG_MAC, mac, 6);
	c[RV_VNET_CFG_STATUS] = RV_VNET_S_LINK_UP;
	c[RV_VNET_CFG_MAX_VQ_PAIRS] = 1;
	c[RV_VNET_CFG_MTU] = (uint8_t)n->mtu;
	c[RV_VNET_CFG_MTU + 1] = (uint8_t)(n->mtu >> 8);
}

static void log_stats(struct rv_virtio_net *n)
{
	struct rv_virtio_net_stats s;

	rv_virtio_net_get_stats(&n->vdev, &s);
	rv_info("%s: tx %llu frames %llu bytes, rx %llu frames %llu bytes; "
		"dropped: tx runt %llu oversize %llu bad-header %llu "
		"bad-chain %llu backend %llu filtered %llu, rx no-buffer %llu "
		"oversize %llu bad-header %llu",
		n->vdev.name, (unsigned long long)s.tx_frames,
		(unsigned long long)s.tx_bytes, (unsigned long long)s.rx_frames,
		(unsigned long long)s.rx_bytes, (unsigned long long)s.tx_runt,
		(unsigned long long)s.tx_oversize,
		(unsigned long long)s.tx_bad_hdr,
		(unsigned long long)s.tx_bad_chain,
		(unsigned long long)s.tx_backend_drop,
		(unsigned long long)s.tx_filtered,
		(unsigned long long)s.rx_no_buffer,
		(unsigned long long)s.rx_oversize,
		(unsigned long long)s.rx_bad_hdr);
}

static void net_free(struct rv_virtio_net *n)
{
	if (n->thread_started) {
		rv__evfd_signal(n->stop_fd);
		pthread_join(n->thread, NULL);
		n->thread_started = false;
		log_stats(n);
	}
	rv__vnet_drop_pending(n);
	if (n->vdev.ops)
		rv_virtio_pci_destroy(&n->vdev);
	rv_net_backend_destroy(n->be);
	if (n->stop_fd >= 0)
		close(n->stop_fd);
	if (n->ctl_fd >= 0)
		close(n->ctl_fd);
	rv_net_pollset_free(&n->ps);
	rv_virtq_chain_free(&n->rx_chain);
	rv_virtq_chain_free(&n->tx_chain);
	free(n->tx_buf);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

static int make_backend(struct rv_virtio_net *n,
			const struct rv_net_config *net)
{
	switch (net->mode) {
	case RV_NET_USER:
		return rv_net_slirp_create(net, n->index, n->mtu,
					   rv__vnet_on_rx, n, &n->be);
	case RV_NET_TAP:
		return rv_net_tap_create(net, n->index, rv__vnet_on_rx, n,
					 &n->be);
	}
	rv_error("net[%u]: unknown mode %d", n->index, (int)net->mode);
	return -EINVAL;
}

int rv_virtio_net_create(struct rv_vm *vm, struct rv_pci_bus *bus,
			 const struct rv_net_config *net, const char *vm_name,
			 unsigned int index, struct rv_virtio_dev **out)
{
	struct rv_virtio_net *n;
	uint8_t mac[6];
	size_t len;
	int rc, q;

	*out = NULL;
	if (!net)
		return -EINVAL;
	if (net->mtu &&
	    (net->mtu < RV_CONFIG_MIN_MTU || net->mtu > RV_CONFIG_MAX_MTU)) {
		rv_error("net[%u]: mtu %u: must be %u..%u", index, net->mtu,
			 RV_CONFIG_MIN_MTU, RV_CONFIG_MAX_MTU);
		return -EINVAL;
	}
	if (net->mac_set && (net->mac[0] & 1)) {
		rv_error("net[%u]: mac: a multicast address cannot be a NIC's",
			 index);
		return -EINVAL;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	n->vm = vm;
	n->index = index;
	n->mtu = net->mtu ? net->mtu : RV_CONFIG_DEFAULT_MTU;
	n->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	n->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	n->tx_buf = malloc(RV__VNET_TX_BUF_LEN);
	if (n->ctl_fd < 0 || n->stop_fd < 0) {
		rc = -errno;
		goto err;
	}
	rc = rv_virtq_chain_init(&n->rx_chain, RV__VNET_CHAIN_SEGS);
	if (!rc)
		rc = rv_virtq_chain_init(&n->tx_chain, RV__VNET_CHAIN_SEGS);
	if (rc)
		goto err;
	if (!n->tx_buf || rv_net_pollset_add(&n->ps, -1, 0) < 0) {
		rc = -ENOMEM;
		goto err;
	}
	rc = make_backend(n, net);
	if (rc)
		goto err; /* logged */
	if (net->mac_set)
		memcpy(mac, net->mac, sizeof(mac));
	else
		rv__vnet_default_mac(vm_name, index, mac);
	build_config(n, mac);
	rc = rv_virtio_pci_init(&n->vdev, vm, bus, &rv_virtio_net_ops);
	if (rc) {
		rv_error("net[%u]: cannot add the virtio-net device: %s", index,
			 strerror(-rc));
		goto err;
	}
	len = strlen(n->vdev.name);
	snprintf(n->vdev.name + len, sizeof(n->vdev.name) - len, " (net[%u])",
		 index);
	for (q = 0; q < 2; q++) {
		rc = rv_virtio_queue_eventfd(&n->vdev, (unsigned int)q);
		if (rc < 0) {
			rv_error("%s: cannot create queue %d's eventfd: %s",
				 n->vdev.name, q, strerror(-rc));
			goto err;
		}
		n->kick_fd[q] = rc;
	}
	rc = rv_thread_create_blocked(&n->thread, io_thread, n);
	if (rc) {
		rv_error("%s: cannot start the I/O thread: %s", n->vdev.name,
			 strerror(-rc));
		goto err;
	}
	n->thread_started = true;
	rv_info("%s: %s backend, mac %02x:%02x:%02x:%02x:%02x:%02x, mtu %u",
		n->vdev.name, n->be->ops->kind, mac[0], mac[1], mac[2], mac[3],
		mac[4], mac[5], n->mtu);
	*out = &n->vdev;
	return 0;

err:
	net_free(n);
	return rc;
}

void rv_virtio_net_destroy(struct rv_virtio_dev *dev)
{
	if (!dev)
		return;
	net_free(to_net(dev));
}

void rv_virtio_net_get_stats(struct rv_virtio_dev *dev,
			     struct rv_virtio_net_stats *out)
{
	struct rv_virtio_net *n = to_net(dev);
	const uint64_t *src = (const uint64_t *)&n->stats;
	uint64_t *dst = (uint64_t *)out;
	size_t i;

	for (i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}
