/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_VSOCK_INT_H
#define RAEVM_VSOCK_INT_H

/*
 * virtio-vsock internals shared by devices/virtio/vsock.c (the device, its
 * I/O thread and connections) and devices/vsock/proto.c (the pure parts:
 * packet headers, credit arithmetic, the hybrid socket's CONNECT line),
 * which the unit tests exercise over plain buffers.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "raevm/util.h"

struct rv_virtio_dev;

#define RV_VSOCK_DEVICE_ID 19
#define RV_VSOCK_HOST_CID 2ULL
#define RV_VSOCK_HDR_LEN 44u

#define RV_VSOCK_TYPE_STREAM 1

enum rv_vsock_op {
	RV_VSOCK_OP_INVALID = 0,
	RV_VSOCK_OP_REQUEST = 1,
	RV_VSOCK_OP_RESPONSE = 2,
	RV_VSOCK_OP_RST = 3,
	RV_VSOCK_OP_SHUTDOWN = 4,
	RV_VSOCK_OP_RW = 5,
	RV_VSOCK_OP_CREDIT_UPDATE = 6,
	RV_VSOCK_OP_CREDIT_REQUEST = 7,
};

/* SHUTDOWN flags: the sender will receive / send no more data. */
#define RV_VSOCK_SHUTDOWN_RCV 1u
#define RV_VSOCK_SHUTDOWN_SEND 2u
#define RV_VSOCK_SHUTDOWN_ALL 3u

/* Largest payload of one packet, either way (what Linux and others use). */
#define RV_VSOCK_MAX_PKT_PAYLOAD (64u * 1024)

/* struct virtio_vsock_hdr (virtio 1.2, 5.10.6), decoded to host order. */
struct rv_vsock_hdr {
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
};

/* Why a packet from the guest was dropped (index into the counters). */
enum rv_vsock_drop {
	RV_VSOCK_OK = 0,
	RV_VSOCK_DROP_SHORT,	/* chain shorter than a header */
	RV_VSOCK_DROP_WRITABLE, /* transmit buffer is device-writable */
	RV_VSOCK_DROP_TYPE,	/* not VIRTIO_VSOCK_TYPE_STREAM */
	RV_VSOCK_DROP_LEN,	/* len beyond the chain or the packet limit */
	RV_VSOCK_DROP_SRC_CID,	/* src_cid is not the guest's CID */
	RV_VSOCK_DROP_DST_CID,	/* dst_cid is not the host */
	RV_VSOCK_DROP_OP,	/* unknown op, or a payload on a control op */
	RV_VSOCK_DROP_CREDIT,	/* data beyond the credit we gave */
	RV_VSOCK_DROP_STATE,	/* op not valid in the connection's state */
	RV_VSOCK_DROP_NR,
};

/* Counters readable by tests (rv__vsock_stats()) and logged at destroy. */
struct rv_vsock_stats {
	uint64_t dropped[RV_VSOCK_DROP_NR];
	uint64_t rst_sent;
	uint64_t rst_lost;    /* owed RSTs dropped because the queue was full */
	uint64_t conns_host;  /* host-initiated connections established */
	uint64_t conns_guest; /* guest-initiated connections established */
	uint64_t refused;     /* guest connects nobody listened for */
	uint64_t timeouts;    /* connections closed by a timer */
	uint64_t bytes_to_guest;
	uint64_t bytes_to_host;
	/* Gauges, at the time of the copy. */
	uint64_t buffered;     /* guest bytes held for slow host sockets */
	uint64_t buf_mem;      /* ring buffer memory mapped for them */
	unsigned int nr_conns; /* connections open */
};

/* A short name for a drop reason, for log lines. */
const char *rv__vsock_drop_name(enum rv_vsock_drop why);

/* Decodes/encodes the 44-byte little-endian header. */
void rv__vsock_hdr_decode(const uint8_t *buf, struct rv_vsock_hdr *h);
void rv__vsock_hdr_encode(const struct rv_vsock_hdr *h, uint8_t *buf);

/*
 * Copies the header out of a transmit chain's readable segments (the
 * first nr of iov, total bytes) and checks it against the chain and the
 * guest's CID. Returns RV_VSOCK_OK with *h filled, or why the packet must
 * be dropped. Only the copy is used afterwards: the guest may change the
 * ring under us. nr_in is the number of device-writable segments.
 */
enum rv_vsock_drop rv__vsock_hdr_check(const struct iovec *iov, unsigned int nr,
				       uint64_t total, unsigned int nr_in,
				       uint64_t guest_cid,
				       struct rv_vsock_hdr *h);

/*
 * How many bytes we may send to a peer that advertised buf_alloc and
 * fwd_cnt, having sent tx_cnt in all. A peer whose numbers do not add up
 * (fwd_cnt ahead of what we sent, or more in flight than its buffer)
 * gets no credit.
 */
uint32_t rv__vsock_peer_credit(uint32_t buf_alloc, uint32_t fwd_cnt,
			       uint32_t tx_cnt);

/*
 * Whether len more bytes from the guest fit in our buffer of buf_alloc,
 * given rx_cnt received and fwd_cnt forwarded so far.
 */
bool rv__vsock_credit_ok(uint32_t buf_alloc, uint32_t rx_cnt, uint32_t fwd_cnt,
			 uint32_t len);

/*
 * Parses the hybrid socket's first line, "CONNECT <port>\n", from the
 * len bytes at buf (not NUL-terminated). Returns 1 with *port and
 * *consumed (the line's length, newline included) set, 0 when more bytes
 * are needed, -EINVAL for anything else (a wrong word, a port that is not
 * decimal or does not fit 32 bits, a line longer than
 * RV_VSOCK_CONNECT_MAX). A trailing "\r" before the newline is accepted.
 */
#define RV_VSOCK_CONNECT_MAX 32u
int rv__vsock_parse_connect(const char *buf, size_t len, uint32_t *port,
			    size_t *consumed);

/* "OK <port>\n" into buf; returns its length. */
size_t rv__vsock_format_ok(char *buf, size_t size, uint32_t port);

/*
 * The host listener path for guest connections to port: "<socket>_<port>"
 * into buf. Returns 0 or -ENAMETOOLONG when it does not fit size.
 */
int rv__vsock_port_path(const char *socket, uint32_t port, char *buf,
			size_t size);

/* The device's counters, copied under its lock. */
void rv__vsock_stats(struct rv_virtio_dev *dev, struct rv_vsock_stats *out);

#endif
