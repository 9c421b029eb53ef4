/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_NET_BACKEND_H
#define RAEVM_NET_BACKEND_H

/*
 * The host side of a virtio-net NIC (devices/virtio/net.c): something that
 * takes Ethernet frames from the guest and hands frames back. Two kinds:
 * user-mode NAT over libslirp (slirp.c) and a host tap device (tap.c).
 *
 * Threads: a backend is created on the thread that builds the VM and from
 * then on used by the NIC's I/O thread alone (send, poll_fill, poll_done,
 * set_offloads), until destroy, which runs after that thread was joined.
 * Nothing here is thread-safe and nothing needs to be.
 *
 * Frames in both directions come with a virtio_net_hdr (virtio 1.2,
 * 5.1.6), parsed into struct rv_net_hdr. A backend without offloads
 * (offloads == 0) gets and gives only headers with flags 0 and gso_type
 * NONE; net.c guarantees the first and the backend the second.
 */
#include "raevm/config.h"
#include "raevm/util.h"

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* struct virtio_net_hdr with num_buffers: what VERSION_1 always uses. */
#define RV_NET_HDR_LEN 12u
#define RV_NET_HDR_F_NEEDS_CSUM 1
#define RV_NET_HDR_F_DATA_VALID 2
#define RV_NET_HDR_GSO_NONE 0
#define RV_NET_HDR_GSO_TCPV4 1
#define RV_NET_HDR_GSO_UDP 3
#define RV_NET_HDR_GSO_TCPV6 4
#define RV_NET_HDR_GSO_ECN 0x80

#define RV_NET_ETH_HLEN 14u
#define RV_NET_VLAN_HLEN 4u
/* The largest frame with segmentation offload: a 64 KiB IP packet. */
#define RV_NET_MAX_GSO_FRAME (65535u + RV_NET_ETH_HLEN + RV_NET_VLAN_HLEN)

/*
 * The user-mode network (docs/networking.md): the guest is 10.0.2.15 by
 * DHCP, the gateway and host alias 10.0.2.2, the DNS forwarder 10.0.2.3.
 * Host byte order.
 */
#define RV_NET_USER_NETWORK 0x0a000200u
#define RV_NET_USER_NETMASK 0xffffff00u
#define RV_NET_USER_HOST 0x0a000202u
#define RV_NET_USER_DNS 0x0a000203u
#define RV_NET_USER_GUEST 0x0a00020fu

/* Offloads a backend can take, as the matching virtio-net feature pairs. */
#define RV_NET_OFFLOAD_CSUM 1u /* partial checksums both ways */
#define RV_NET_OFFLOAD_TSO4 2u /* TCPv4 segmentation both ways */
#define RV_NET_OFFLOAD_TSO6 4u /* TCPv6 segmentation both ways */

/* A virtio_net_hdr in host byte order. */
struct rv_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};

/* Converts between the little-endian wire format and the struct. */
void rv_net_hdr_decode(const uint8_t raw[RV_NET_HDR_LEN],
		       struct rv_net_hdr *hdr);
void rv_net_hdr_encode(const struct rv_net_hdr *hdr,
		       uint8_t raw[RV_NET_HDR_LEN]);

/*
 * A frame for the guest, handed over by the backend from inside
 * poll_done() or send() (slirp answers ARP and DHCP synchronously). The
 * frame is only valid during the call; the callee copies it. hdr is the
 * backend's header (all zero for backends without offloads).
 */
typedef void (*rv_net_rx_fn)(void *opaque, const struct rv_net_hdr *hdr,
			     const uint8_t *frame, size_t len);

/* A growable poll set the NIC thread fills with its own fds first. */
struct rv_net_pollset {
	struct pollfd *fds;
	unsigned int n;
	unsigned int cap;
};

/* Appends fd; returns its index, or -ENOMEM. */
int rv_net_pollset_add(struct rv_net_pollset *ps, int fd, short events);
void rv_net_pollset_free(struct rv_net_pollset *ps);

struct rv_net_backend;

struct rv_net_backend_ops {
	const char *kind; /* "user", "tap" */
	/*
	 * Sends one guest frame (len bytes, already checked by net.c: a
	 * whole Ethernet header, at most MTU + headers or a valid GSO
	 * frame). Returns 0, or a negative errno when the frame was dropped
	 * (the caller counts it; -EAGAIN: the host side is full).
	 */
	int (*send)(struct rv_net_backend *be, const struct rv_net_hdr *hdr,
		    const uint8_t *frame, size_t len);
	/*
	 * Adds the backend's fds to ps and lowers *timeout_ms (-1 = none)
	 * to its next timer. want_rx false: the guest has no room, so the
	 * backend should not read frames it would have to drop. Returns 0
	 * or a negative errno.
	 */
	int (*poll_fill)(struct rv_net_backend *be, struct rv_net_pollset *ps,
			 int *timeout_ms, bool want_rx);
	/*
	 * After poll() returned (also on a timeout): handles the events of
	 * ps->fds[first ..] as filled by the last poll_fill(), runs timers,
	 * and delivers frames through the rx callback.
	 */
	void (*poll_done)(struct rv_net_backend *be,
			  const struct rv_net_pollset *ps, unsigned int first);
	/*
	 * Which RV_NET_OFFLOAD_* frames handed to the guest may use (what
	 * the driver accepted); 0 until the first call. NULL when the
	 * backend has no offloads. Returns 0 or a negative errno.
	 */
	int (*set_offloads)(struct rv_net_backend *be, unsigned int offloads);
	/*
	 * After a batch of send() calls: hands on whatever the backend held
	 * back to coalesce. NULL when send() holds nothing back.
	 */
	void (*flush)(struct rv_net_backend *be);
	/* Accepts a half-built backend. */
	void (*destroy)(struct rv_net_backend *be);
};

struct rv_net_backend {
	const struct rv_net_backend_ops *ops;
	/* RV_NET_OFFLOAD_* the backend takes in frames from the guest. */
	unsigned int offloads;
	/*
	 * RV_NET_OFFLOAD_* it can hand to the guest once set_offloads()
	 * allows them (called on the NIC thread at activate and reset, only
	 * when this is not 0).
	 */
	unsigned int rx_offloads;
	unsigned int index; /* the NIC's place in the config */
	rv_net_rx_fn rx;
	void *rx_opaque;
	/* Guest frames the backend refused (restricted mode's filter). */
	uint64_t filtered;
};

/*
 * Backends. Each logs one line naming the NIC (`net[0]: ...`) when it
 * cannot be made and returns a negative errno:
 *  - user: -EINVAL for an MTU slirp cannot use, -EADDRINUSE for a forward
 *    whose host port is taken, -errno of the failing bind otherwise;
 *  - tap: -ENOENT / -EPERM for a tap that does not exist and cannot be
 *    created, -EBADF / -EINVAL for a passed fd that is not a tap.
 */
int rv_net_slirp_create(const struct rv_net_config *cfg, unsigned int index,
			unsigned int mtu, rv_net_rx_fn rx, void *opaque,
			struct rv_net_backend **out) RV_MUST_CHECK;
int rv_net_tap_create(const struct rv_net_config *cfg, unsigned int index,
		      rv_net_rx_fn rx, void *opaque,
		      struct rv_net_backend **out) RV_MUST_CHECK;

static inline void rv_net_backend_destroy(struct rv_net_backend *be)
{
	if (be)
		be->ops->destroy(be);
}

/*
 * Restricted user mode's own filter, below slirp's restricted flag: a
 * guest frame passes only when it is ARP, IPv4 addressed inside the user
 * network or to the limited broadcast (DHCP), or a TCP segment from the
 * guest port of one of the nr TCP forwards in fwd (the answer to a
 * forwarded connection, which may come from any host address when the
 * forward listens on a LAN address). IPv6, 802.1Q-tagged frames and every
 * other EtherType are refused. Pure; for tests.
 */
bool rv_net_restrict_allows(const uint8_t *frame, size_t len,
			    const struct rv_net_forward *fwd, unsigned int nr);

/*
 * Coalescing of the guest's TCP stream before user-mode networking (a
 * software GRO): consecutive data segments of one flow sent in one batch
 * become one larger IPv4 packet, so slirp makes one write to the host
 * socket and one ACK instead of one per segment. Only plain segments
 * merge (IPv4 without options or fragments, TCP without options, flags
 * ACK or ACK|PSH, payload, both checksums right, the same ACK, next in
 * sequence); everything else, including every segment the guest got
 * wrong, is passed on as it came, in order. A merged packet gets fresh
 * IPv4 and TCP checksums; a lone held segment is passed on unchanged.
 * Pure (no I/O); one per backend, on the NIC thread.
 */
#define RV_NET_COALESCE_MAX 32768u /* IPv4 total length of a merged packet */

struct rv_net_coalesce {
	uint8_t *buf; /* the held packet: Ethernet header + IPv4 packet */
	size_t len;   /* bytes held; 0: nothing */
	unsigned int segs;
	size_t mss; /* the largest payload of a held segment */
	uint32_t next_seq, ack;
	uint64_t merged; /* segments merged into an earlier one */
};

int rv_net_coalesce_init(struct rv_net_coalesce *c) RV_MUST_CHECK;
void rv_net_coalesce_free(struct rv_net_coalesce *c);
/*
 * Starts holding frame when nothing is held and it may be merged; returns
 * false otherwise (send it as it is, after rv_net_coalesce_take()).
 */
bool rv_net_coalesce_hold(struct rv_net_coalesce *c, const uint8_t *frame,
			  size_t len);
/* Appends frame to the held packet when it continues it; else false. */
bool rv_net_coalesce_merge(struct rv_net_coalesce *c, const uint8_t *frame,
			   size_t len);
/*
 * Finishes the held packet and lets go of it: returns it (valid until
 * the next hold) with its length in *len, or NULL when nothing is held.
 */
const uint8_t *rv_net_coalesce_take(struct rv_net_coalesce *c, size_t *len);
/*
 * The same for a backend that takes segmentation offload (a tap with
 * IFF_VNET_HDR): a merged packet keeps a partial TCP checksum (the
 * pseudo-header's sum) and *hdr asks for NEEDS_CSUM and TCPV4
 * segmentation at the largest segment's size; a lone segment comes with
 * an all-zero *hdr, unchanged.
 */
const uint8_t *rv_net_coalesce_take_gso(struct rv_net_coalesce *c, size_t *len,
					struct rv_net_hdr *hdr);

#endif
