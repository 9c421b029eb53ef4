// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for virtio-vsock's parsers of guest and host input
 * (devices/vsock/proto.c): packet headers gathered from a transmit chain
 * cut into arbitrary segments, the credit arithmetic a hostile guest's
 * buf_alloc/fwd_cnt numbers drive, and the hybrid socket's
 * "CONNECT <port>" line from a host client. The connection state machine
 * lives in devices/virtio/vsock.c behind the device's I/O thread, epoll
 * and sockets, so it is not reached from here; the hostile-guest
 * integration test (vsock_hostile) covers it.
 *
 * The input is a 1-byte header (the guest's CID: 3 + byte), then records
 * of kind (1 byte), len (1 byte), len bytes:
 *   kind % 4 == 0  a transmit chain: the bytes cut into up to 8 segments
 *                  at the lengths the kind's top bits choose
 *   kind % 4 == 1  a connection's credit: buf_alloc, then pairs of
 *                  (bytes the guest sends, bytes the host forwards)
 *   kind % 4 == 2  the first bytes of a host client's line
 *   kind % 4 == 3  a listener path: socket path and port
 * A broken promise traps so the fuzzer keeps the input.
 */
#include "../../devices/vsock/vsock_int.h"

#include "fuzz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void chain(const uint8_t *p, size_t n, uint8_t kind, uint64_t cid)
{
	struct iovec iov[8];
	struct rv_vsock_hdr h;
	enum rv_vsock_drop why;
	uint8_t *seg[8], raw[RV_VSOCK_HDR_LEN], gathered[RV_VSOCK_HDR_LEN];
	unsigned int nr = 0, i, nr_in = (kind >> 2) & 1;
	uint32_t x = kind * 2654435761u + (uint32_t)n;
	size_t off = 0, cut, k;

	/* Each segment its own heap block: ASan sees a read past it. */
	while (off < n && nr < 8) {
		x = x * 1103515245u + 12345u;
		cut = nr == 7 ? n - off :
				1 + (x >> 16) % (kind & 0x80 ? 48 : 8);
		if (cut > n - off)
			cut = n - off;
		seg[nr] = malloc(cut);
		CHECK(seg[nr]);
		memcpy(seg[nr], p + off, cut);
		iov[nr] = (struct iovec){ .iov_base = seg[nr], .iov_len = cut };
		off += cut;
		nr++;
	}
	why = rv__vsock_hdr_check(iov, nr, off, nr_in, cid, &h);
	CHECK((unsigned int)why < RV_VSOCK_DROP_NR);
	CHECK(strcmp(rv__vsock_drop_name(why), "?") != 0);
	if (nr_in)
		CHECK(why == RV_VSOCK_DROP_WRITABLE);
	if (off < RV_VSOCK_HDR_LEN && !nr_in)
		CHECK(why == RV_VSOCK_DROP_SHORT);
	if (why == RV_VSOCK_OK) {
		CHECK(h.src_cid == cid && h.dst_cid == RV_VSOCK_HOST_CID);
		CHECK(h.type == RV_VSOCK_TYPE_STREAM);
		CHECK(h.op >= RV_VSOCK_OP_REQUEST &&
		      h.op <= RV_VSOCK_OP_CREDIT_REQUEST);
		CHECK(h.len <= off - RV_VSOCK_HDR_LEN &&
		      h.len <= RV_VSOCK_MAX_PKT_PAYLOAD);
		CHECK(h.len == 0 || h.op == RV_VSOCK_OP_RW);
		/* The header is the chain's first 44 bytes, whatever the cut. */
		for (i = 0, k = 0; i < nr && k < sizeof(gathered); i++) {
			cut = iov[i].iov_len;
			if (cut > sizeof(gathered) - k)
				cut = sizeof(gathered) - k;
			memcpy(gathered + k, iov[i].iov_base, cut);
			k += cut;
		}
		rv__vsock_hdr_encode(&h, raw);
		CHECK(!memcmp(raw, gathered, sizeof(raw)));
	}
	for (i = 0; i < nr; i++)
		free(seg[i]);
}

/*
 * A connection's two counters under a guest's numbers: what we accept
 * never exceeds the buffer we advertised, and the credit we compute for a
 * peer never lets us overrun the buffer it advertised.
 */
static void credit(const uint8_t *p, size_t n)
{
	uint32_t buf_alloc, rx_cnt, fwd_cnt, len, fwd, c, tx_cnt, peer_fwd;
	size_t i;

	if (n < 12)
		return;
	buf_alloc = le32(p);
	rx_cnt = fwd_cnt = le32(p + 4);
	tx_cnt = peer_fwd = le32(p + 8);
	for (i = 12; i + 8 <= n; i += 8) {
		len = le32(p + i) >> (p[i + 3] & 0x1f);
		fwd = le32(p + i + 4);
		if (rv__vsock_credit_ok(buf_alloc, rx_cnt, fwd_cnt, len)) {
			rx_cnt += len;
			CHECK(rx_cnt - fwd_cnt <= buf_alloc);
		}
		/* The host forwards at most what it holds. */
		if (fwd > rx_cnt - fwd_cnt)
			fwd = rx_cnt - fwd_cnt;
		fwd_cnt += fwd;
		CHECK(rx_cnt - fwd_cnt <= buf_alloc);

		/* The peer's numbers, hostile: any fwd_cnt at all. */
		c = rv__vsock_peer_credit(buf_alloc, le32(p + i + 4), tx_cnt);
		CHECK(c <= buf_alloc);
		if (c)
			CHECK(tx_cnt - le32(p + i + 4) + c <= buf_alloc);
		/* An honest peer: sending the credit fills its buffer. */
		c = rv__vsock_peer_credit(buf_alloc, peer_fwd, tx_cnt);
		tx_cnt += c;
		CHECK(rv__vsock_peer_credit(buf_alloc, peer_fwd, tx_cnt) == 0);
		peer_fwd += (tx_cnt - peer_fwd) >> (p[i + 7] & 0x1f);
	}
}

static void connect_line(const uint8_t *p, size_t n)
{
	char *buf = malloc(n ? n : 1), line[64], ok[16];
	size_t consumed = 0, len;
	uint32_t port = 0, again = 0;
	int rc;

	CHECK(buf);
	if (n)
		memcpy(buf, p, n);
	rc = rv__vsock_parse_connect(buf, n, &port, &consumed);
	CHECK(rc == 1 || rc == 0 || rc == -EINVAL);
	if (rc == 0)
		CHECK(!memchr(buf, '\n', n) && n < RV_VSOCK_CONNECT_MAX);
	if (rc == 1) {
		CHECK(consumed >= 10 && consumed <= n &&
		      consumed <= RV_VSOCK_CONNECT_MAX);
		CHECK(buf[consumed - 1] == '\n');
		CHECK(!memchr(buf, '\n', consumed - 1));
		/* The canonical line says the same. */
		len = (size_t)snprintf(line, sizeof(line), "CONNECT %u\n",
				       port);
		CHECK(rv__vsock_parse_connect(line, len, &again, &consumed) ==
		      1);
		CHECK(again == port && consumed == len);
		len = rv__vsock_format_ok(ok, sizeof(ok), port);
		CHECK(len < sizeof(ok) && ok[len - 1] == '\n');
	}
	free(buf);
}

static void port_path(const uint8_t *p, size_t n)
{
	char sock[256], *out;
	size_t size;
	uint32_t port;
	int rc;

	if (n < 5)
		return;
	port = le32(p);
	size = p[4];
	memcpy(sock, p + 5, n - 5);
	sock[n - 5] = '\0';
	out = malloc(size ? size : 1);
	CHECK(out);
	rc = rv__vsock_port_path(sock, port, out, size);
	CHECK(rc == 0 || rc == -ENAMETOOLONG);
	if (rc == 0)
		CHECK(strlen(out) < size && !strncmp(out, sock, strlen(sock)) &&
		      out[strlen(sock)] == '_');
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 1, n;
	uint64_t cid;
	uint8_t kind;

	if (size < 1)
		return 0;
	cid = 3u + data[0];
	while (pos + 2 <= size) {
		kind = data[pos];
		n = data[pos + 1];
		pos += 2;
		if (n > size - pos)
			n = size - pos;
		switch (kind % 4) {
		case 0:
			chain(data + pos, n, kind, cid);
			break;
		case 1:
			credit(data + pos, n);
			break;
		case 2:
			connect_line(data + pos, n);
			break;
		default:
			port_path(data + pos, n);
			break;
		}
		pos += n;
	}
	return 0;
}
