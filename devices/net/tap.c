// SPDX-License-Identifier: Apache-2.0
/*
 * A host tap device as a NIC's backend: an existing tap opened by name, a
 * tap raevm creates when the name does not exist (CAP_NET_ADMIN; it is
 * brought up and vanishes when the VM stops), or an fd the caller opened
 * (`tap,fd=N`), checked with TUNGETIFF.
 *
 * Opened with IFF_VNET_HDR, the tap carries a 12-byte virtio_net_hdr in
 * front of every frame, so checksum and TCP segmentation offloads pass
 * through untouched in both directions: the host kernel finishes partial
 * checksums and segments large frames the guest sends, and hands the guest
 * large frames once TUNSETOFFLOAD says the driver takes them. A passed fd
 * opened without IFF_VNET_HDR still works, without offloads.
 *
 * The fd is non-blocking: a full host queue drops the frame (counted by
 * the device) instead of stalling the NIC thread, as a wire would.
 */
#include "backend.h"

#include "raevm/log.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cap-ng.h>

/* Frames read in one poll_done(), so a flood cannot starve transmit. */
#define TAP_RX_BATCH 64u
#define TAP_BUF_LEN (RV_NET_HDR_LEN + RV_NET_MAX_GSO_FRAME)

struct net_tap {
	struct rv_net_backend be; /* first: rv_container_of */
	int fd;
	bool vnet_hdr;
	int poll_idx; /* in the set of the last poll_fill(), -1 = not there */
	/* Guest TCP segments held back within one batch (backend.h). */
	struct rv_net_coalesce co;
	char name[IFNAMSIZ];
	uint8_t buf[TAP_BUF_LEN];
};

static struct net_tap *to_tap(struct rv_net_backend *be)
{
	return rv_container_of(be, struct net_tap, be);
}

static int tap_write(struct net_tap *t, const struct rv_net_hdr *hdr,
		     const uint8_t *frame, size_t len)
{
	uint8_t raw[RV_NET_HDR_LEN];
	struct iovec iov[2];
	int n = 0;
	ssize_t w;

	if (t->vnet_hdr) {
		/* net.c's checked copy, never the guest's memory. */
		rv_net_hdr_encode(hdr, raw);
		iov[n++] = (struct iovec){ .iov_base = raw,
					   .iov_len = sizeof(raw) };
	}
	iov[n++] = (struct iovec){ .iov_base = (void *)(uintptr_t)frame,
				   .iov_len = len };
	w = writev(t->fd, iov, n);
	if (w < 0)
		return -errno;
	return 0;
}

/*
 * Writes the held segments as one frame the host kernel segments (or
 * delivers whole). A failed write is not reported: the guest's segments
 * were counted as sent, and TCP retransmits what a full queue dropped.
 */
static void tap_flush(struct rv_net_backend *be)
{
	struct net_tap *t = to_tap(be);
	struct rv_net_hdr hdr;
	const uint8_t *p;
	size_t len;

	p = rv_net_coalesce_take_gso(&t->co, &len, &hdr);
	if (p)
		(void)tap_write(t, &hdr, p, len);
}

static int tap_send(struct rv_net_backend *be, const struct rv_net_hdr *hdr,
		    const uint8_t *frame, size_t len)
{
	struct net_tap *t = to_tap(be);
	bool plain = hdr->flags == 0 && hdr->gso_type == RV_NET_HDR_GSO_NONE;

	/* Only frames without offloads of their own merge (backend.h). */
	if (plain && t->vnet_hdr && t->co.buf) {
		if (rv_net_coalesce_merge(&t->co, frame, len))
			return 0;
		tap_flush(be);
		if (rv_net_coalesce_hold(&t->co, frame, len))
			return 0;
	} else {
		tap_flush(be);
	}
	return tap_write(t, hdr, frame, len);
}

static int tap_poll_fill(struct rv_net_backend *be, struct rv_net_pollset *ps,
			 int *timeout_ms, bool want_rx)
{
	struct net_tap *t = to_tap(be);
	int idx;

	(void)timeout_ms;
	t->poll_idx = -1;
	if (!want_rx)
		return 0;
	idx = rv_net_pollset_add(ps, t->fd, POLLIN);
	if (idx < 0)
		return idx;
	t->poll_idx = idx;
	return 0;
}

static void tap_poll_done(struct rv_net_backend *be,
			  const struct rv_net_pollset *ps, unsigned int first)
{
	static const struct rv_net_hdr none;
	struct net_tap *t = to_tap(be);
	struct rv_net_hdr hdr;
	unsigned int i;
	size_t skip = t->vnet_hdr ? RV_NET_HDR_LEN : 0;
	ssize_t n;

	(void)first;
	if (t->poll_idx < 0 || (unsigned int)t->poll_idx >= ps->n ||
	    !ps->fds[t->poll_idx].revents)
		return;
	for (i = 0; i < TAP_RX_BATCH; i++) {
		n = read(t->fd, t->buf, sizeof(t->buf));
		if (n < 0)
			break; /* EAGAIN: drained; anything else: next time */
		if ((size_t)n < skip + RV_NET_ETH_HLEN)
			continue;
		if (skip)
			rv_net_hdr_decode(t->buf, &hdr);
		be->rx(be->rx_opaque, skip ? &hdr : &none, t->buf + skip,
		       (size_t)n - skip);
	}
}

static int tap_set_offloads(struct rv_net_backend *be, unsigned int offloads)
{
	struct net_tap *t = to_tap(be);
	unsigned int flags = 0;

	if (!t->vnet_hdr)
		return offloads ? -EOPNOTSUPP : 0;
	/* The kernel wants TUN_F_CSUM with any segmentation flag. */
	if (offloads & RV_NET_OFFLOAD_CSUM) {
		flags |= TUN_F_CSUM;
		if (offloads & RV_NET_OFFLOAD_TSO4)
			flags |= TUN_F_TSO4;
		if (offloads & RV_NET_OFFLOAD_TSO6)
			flags |= TUN_F_TSO6;
	}
	if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)flags) < 0)
		return -errno;
	return 0;
}

static void tap_destroy(struct rv_net_backend *be)
{
	struct net_tap *t = to_tap(be);

	if (t->fd >= 0)
		close(t->fd);
	rv_net_coalesce_free(&t->co);
	free(t);
}

static const struct rv_net_backend_ops tap_ops = {
	.kind = "tap",
	.send = tap_send,
	.poll_fill = tap_poll_fill,
	.poll_done = tap_poll_done,
	.set_offloads = tap_set_offloads,
	.flush = tap_flush,
	.destroy = tap_destroy,
};

/* ------------------------------------------------------------------------
 * Set-up.
 */

static bool have_net_admin(void)
{
	capng_get_caps_process();
	return capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN);
}

/* Brings a tap raevm created up, so it carries frames without more set-up. */
static void link_up(struct net_tap *t)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	memcpy(ifr.ifr_name, t->name, sizeof(ifr.ifr_name));
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			rv_warn("net[%u]: tap %s: cannot bring it up: %s",
				t->be.index, t->name, strerror(errno));
	}
	close(s);
}

static int open_by_name(struct net_tap *t, const char *name)
{
	struct ifreq ifr = { 0 };
	bool exists;
	int rc;

	if (!name || !*name || strlen(name) > RV_CONFIG_TAP_NAME_MAX) {
		rv_error("net[%u]: tap name '%s': 1..%u characters",
			 t->be.index, name ? name : "", RV_CONFIG_TAP_NAME_MAX);
		return -EINVAL;
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	exists = if_nametoindex(name) != 0;
	if (!exists && !have_net_admin()) {
		rv_error(
			"net[%u]: tap %s does not exist, and creating it needs "
			"CAP_NET_ADMIN, which raevmd does not have",
			t->be.index, name);
		return -EPERM;
	}
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		rc = -errno;
		rv_error("net[%u]: tap %s: cannot open /dev/net/tun: %s",
			 t->be.index, name, strerror(-rc));
		return rc;
	}
	memcpy(ifr.ifr_name, t->name, sizeof(ifr.ifr_name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		if (rc == -EPERM)
			rv_error("net[%u]: tap %s: permission denied (it "
				 "belongs to another user, or attaching needs "
				 "CAP_NET_ADMIN)",
				 t->be.index, name);
		else if (rc == -EINVAL || rc == -EBUSY)
			rv_error("net[%u]: tap %s: cannot attach: %s (is it a "
				 "tun device, or in use?)",
				 t->be.index, name, strerror(-rc));
		else
			rv_error("net[%u]: tap %s: cannot attach: %s",
				 t->be.index, name, strerror(-rc));
		return rc;
	}
	t->vnet_hdr = true;
	if (!exists)
		link_up(t);
	rv_info("net[%u]: %s tap %s", t->be.index,
		exists ? "attached to" : "created", t->name);
	return 0;
}

static int open_by_fd(struct net_tap *t, int fd)
{
	struct ifreq ifr = { 0 };
	int rc, fl;

	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		rc = -errno;
		rv_error("net[%u]: tap fd %d is not a tap device: %s",
			 t->be.index, fd, strerror(-rc));
		return rc == -ENOTTY || rc == -EBADFD ? -EINVAL : rc;
	}
	if ((ifr.ifr_flags & (IFF_TAP | IFF_TUN)) != IFF_TAP) {
		rv_error("net[%u]: tap fd %d is a tun (IP) device, not a tap",
			 t->be.index, fd);
		return -EINVAL;
	}
	/* Our own reference: the config keeps the fd it was given. */
	t->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (t->fd < 0)
		return -errno;
	fl = fcntl(t->fd, F_GETFL);
	if (fl < 0 || fcntl(t->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	t->vnet_hdr = ifr.ifr_flags & IFF_VNET_HDR;
	memcpy(t->name, ifr.ifr_name, sizeof(t->name));
	t->name[sizeof(t->name) - 1] = '\0';
	if (!t->vnet_hdr)
		rv_info("net[%u]: tap fd %d (%s) has no IFF_VNET_HDR: no "
			"offloads",
			t->be.index, fd, t->name);
	return 0;
}

int rv_net_tap_create(const struct rv_net_config *cfg, unsigned int index,
		      rv_net_rx_fn rx, void *opaque,
		      struct rv_net_backend **out)
{
	int hdr_len = (int)RV_NET_HDR_LEN;
	struct net_tap *t;
	int rc;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->be.ops = &tap_ops;
	t->be.index = index;
	t->be.rx = rx;
	t->be.rx_opaque = opaque;
	t->fd = -1;
	t->poll_idx = -1;
	if (cfg->tap_fd >= 0)
		rc = open_by_fd(t, cfg->tap_fd);
	else
		rc = open_by_name(t, cfg->tap_name);
	if (rc)
		goto err;
	if (t->vnet_hdr) {
		/* VERSION_1's header always has num_buffers: 12 bytes. */
		if (ioctl(t->fd, TUNSETVNETHDRSZ, &hdr_len) < 0 ||
		    ioctl(t->fd, TUNSETOFFLOAD, 0UL) < 0) {
			rc = -errno;
			rv_error("net[%u]: tap %s: cannot set up the virtio "
				 "header: %s",
				 index, t->name, strerror(-rc));
			goto err;
		}
		t->be.offloads = RV_NET_OFFLOAD_CSUM | RV_NET_OFFLOAD_TSO4 |
				 RV_NET_OFFLOAD_TSO6;
		/* Without memory the tap works, only unmerged. */
		if (rv_net_coalesce_init(&t->co))
			rv_warn("net[%u]: tap %s: no memory to merge TCP "
				"segments",
				index, t->name);
		/*
		 * Receive offloads need TUNSETOFFLOAD on the NIC thread when
		 * the driver accepts them, and the NET thread's seccomp list
		 * (src/sandbox/seccomp.c) does not allow that ioctl yet; the
		 * guest gets whole, checksummed frames until it does.
		 */
		t->be.rx_offloads = 0;
	}
	*out = &t->be;
	return 0;

err:
	tap_destroy(&t->be);
	return rc;
}
