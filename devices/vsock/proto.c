// SPDX-License-Identifier: Apache-2.0
/*
 * The pure parts of virtio-vsock (virtio 1.2, 5.10): the packet header,
 * its checks, the credit arithmetic of 5.10.6.3 and the hybrid socket's
 * "CONNECT <port>" / "OK <port>" lines. Nothing here touches a queue, a
 * socket or a clock, so the unit tests run it over plain buffers.
 *
 * Counters wrap at 2^32 as the specification's are: every difference is
 * taken in uint32_t arithmetic.
 */
#include "vsock_int.h"

#include "raevm/le.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *rv__vsock_drop_name(enum rv_vsock_drop why)
{
	static const char *const names[RV_VSOCK_DROP_NR] = {
		[RV_VSOCK_OK] = "ok",
		[RV_VSOCK_DROP_SHORT] = "short",
		[RV_VSOCK_DROP_WRITABLE] = "writable",
		[RV_VSOCK_DROP_TYPE] = "type",
		[RV_VSOCK_DROP_LEN] = "len",
		[RV_VSOCK_DROP_SRC_CID] = "src_cid",
		[RV_VSOCK_DROP_DST_CID] = "dst_cid",
		[RV_VSOCK_DROP_OP] = "op",
		[RV_VSOCK_DROP_CREDIT] = "credit",
		[RV_VSOCK_DROP_STATE] = "state",
	};

	if ((unsigned int)why >= RV_VSOCK_DROP_NR)
		return "?";
	return names[why];
}

void rv__vsock_hdr_decode(const uint8_t *b, struct rv_vsock_hdr *h)
{
	h->src_cid = rv_le_get(b + 0, 8);
	h->dst_cid = rv_le_get(b + 8, 8);
	h->src_port = (uint32_t)rv_le_get(b + 16, 4);
	h->dst_port = (uint32_t)rv_le_get(b + 20, 4);
	h->len = (uint32_t)rv_le_get(b + 24, 4);
	h->type = (uint16_t)rv_le_get(b + 28, 2);
	h->op = (uint16_t)rv_le_get(b + 30, 2);
	h->flags = (uint32_t)rv_le_get(b + 32, 4);
	h->buf_alloc = (uint32_t)rv_le_get(b + 36, 4);
	h->fwd_cnt = (uint32_t)rv_le_get(b + 40, 4);
}

void rv__vsock_hdr_encode(const struct rv_vsock_hdr *h, uint8_t *b)
{
	rv_le_put(b + 0, h->src_cid, 8);
	rv_le_put(b + 8, h->dst_cid, 8);
	rv_le_put(b + 16, h->src_port, 4);
	rv_le_put(b + 20, h->dst_port, 4);
	rv_le_put(b + 24, h->len, 4);
	rv_le_put(b + 28, h->type, 2);
	rv_le_put(b + 30, h->op, 2);
	rv_le_put(b + 32, h->flags, 4);
	rv_le_put(b + 36, h->buf_alloc, 4);
	rv_le_put(b + 40, h->fwd_cnt, 4);
}

/* Copies the first len bytes of the segments into dst (total >= len). */
static void gather(const struct iovec *iov, unsigned int nr, uint8_t *dst,
		   size_t len)
{
	unsigned int i;
	size_t done = 0, n;

	for (i = 0; i < nr && done < len; i++) {
		n = iov[i].iov_len;
		if (n > len - done)
			n = len - done;
		if (n)
			memcpy(dst + done, iov[i].iov_base, n);
		done += n;
	}
}

static bool known_op(uint16_t op)
{
	return op >= RV_VSOCK_OP_REQUEST && op <= RV_VSOCK_OP_CREDIT_REQUEST;
}

enum rv_vsock_drop rv__vsock_hdr_check(const struct iovec *iov, unsigned int nr,
				       uint64_t total, unsigned int nr_in,
				       uint64_t guest_cid,
				       struct rv_vsock_hdr *h)
{
	uint8_t raw[RV_VSOCK_HDR_LEN];

	if (nr_in)
		return RV_VSOCK_DROP_WRITABLE;
	if (total < RV_VSOCK_HDR_LEN)
		return RV_VSOCK_DROP_SHORT;
	gather(iov, nr, raw, sizeof(raw));
	rv__vsock_hdr_decode(raw, h);
	if (h->src_cid != guest_cid)
		return RV_VSOCK_DROP_SRC_CID;
	if (h->dst_cid != RV_VSOCK_HOST_CID)
		return RV_VSOCK_DROP_DST_CID;
	if (h->type != RV_VSOCK_TYPE_STREAM)
		return RV_VSOCK_DROP_TYPE;
	if (!known_op(h->op))
		return RV_VSOCK_DROP_OP;
	if (h->len > total - RV_VSOCK_HDR_LEN ||
	    h->len > RV_VSOCK_MAX_PKT_PAYLOAD)
		return RV_VSOCK_DROP_LEN;
	/* Only RW carries data; a payload anywhere else is a lie about len. */
	if (h->len && h->op != RV_VSOCK_OP_RW)
		return RV_VSOCK_DROP_OP;
	return RV_VSOCK_OK;
}

uint32_t rv__vsock_peer_credit(uint32_t buf_alloc, uint32_t fwd_cnt,
			       uint32_t tx_cnt)
{
	uint32_t in_flight = tx_cnt - fwd_cnt;

	if (in_flight > buf_alloc)
		return 0;
	return buf_alloc - in_flight;
}

bool rv__vsock_credit_ok(uint32_t buf_alloc, uint32_t rx_cnt, uint32_t fwd_cnt,
			 uint32_t len)
{
	uint32_t held = rx_cnt - fwd_cnt;

	if (held > buf_alloc)
		return false;
	return len <= buf_alloc - held;
}

int rv__vsock_parse_connect(const char *buf, size_t len, uint32_t *port,
			    size_t *consumed)
{
	static const char word[] = "CONNECT ";
	const size_t wlen = sizeof(word) - 1;
	const char *nl = memchr(buf, '\n', len);
	size_t i, end, digits = 0;
	uint64_t v = 0;

	/* Whatever is there must be a prefix of a valid line. */
	if (memcmp(buf, word, len < wlen ? len : wlen) != 0)
		return -EINVAL;
	if (!nl) {
		if (len >= RV_VSOCK_CONNECT_MAX)
			return -EINVAL;
		for (i = wlen; i < len; i++) {
			if ((buf[i] < '0' || buf[i] > '9') &&
			    !(buf[i] == '\r' && i == len - 1))
				return -EINVAL;
		}
		return 0;
	}
	end = (size_t)(nl - buf);
	if (end + 1 > RV_VSOCK_CONNECT_MAX || end < wlen)
		return -EINVAL;
	if (end > wlen && buf[end - 1] == '\r')
		end--;
	for (i = wlen; i < end; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(buf[i] - '0');
		if (v > UINT32_MAX)
			return -EINVAL;
		digits++;
	}
	if (!digits)
		return -EINVAL;
	*port = (uint32_t)v;
	*consumed = (size_t)(nl - buf) + 1;
	return 1;
}

size_t rv__vsock_format_ok(char *buf, size_t size, uint32_t port)
{
	int n = snprintf(buf, size, "OK %u\n", port);

	return n < 0 ? 0 : (size_t)n;
}

int rv__vsock_port_path(const char *socket, uint32_t port, char *buf,
			size_t size)
{
	int n = snprintf(buf, size, "%s_%u", socket, port);

	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}
