// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for virtio-vsock's pure parts (devices/vsock/proto.c): header
 * decoding and validation of guest packets, the credit arithmetic of
 * virtio 1.2 5.10.6.3 (with wrapping counters), the hybrid socket's
 * "CONNECT <port>" parser and the "OK" and "<socket>_<port>" formats, all
 * over plain buffers; then the device itself (devices/virtio/vsock.c) with
 * a mocked transport (../virtio_mock.h), real queues over a buffer and
 * real Unix sockets in a temporary folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <cmocka.h>

#include "../virtio_mock.h"

#include "../../../devices/vsock/vsock_int.h"
#include "raevm/config.h"
#include "raevm/log.h"

#define GUEST_CID 3

static uint8_t pkt[RV_VSOCK_HDR_LEN + 64];

/* A valid REQUEST from the guest, encoded into pkt. */
static struct rv_vsock_hdr good(void)
{
	struct rv_vsock_hdr h = {
		.src_cid = GUEST_CID,
		.dst_cid = RV_VSOCK_HOST_CID,
		.src_port = 1000,
		.dst_port = 52,
		.type = RV_VSOCK_TYPE_STREAM,
		.op = RV_VSOCK_OP_REQUEST,
		.buf_alloc = 4096,
	};
	return h;
}

static enum rv_vsock_drop check(const struct rv_vsock_hdr *in, uint64_t total,
				unsigned int nr_in, struct rv_vsock_hdr *out)
{
	struct iovec iov = { pkt, (size_t)total };

	rv__vsock_hdr_encode(in, pkt);
	return rv__vsock_hdr_check(&iov, 1, total, nr_in, GUEST_CID, out);
}

static void hdr_encode__round_trip_little_endian(void **state)
{
	struct rv_vsock_hdr h = good(), back;

	(void)state;
	memset(&back, 0xee, sizeof(back));
	h.src_cid = 0x0102030405060708ULL;
	h.fwd_cnt = 0xa1b2c3d4;
	rv__vsock_hdr_encode(&h, pkt);
	rv__vsock_hdr_decode(pkt, &back);
	assert_int_equal(pkt[0], 0x08);
	assert_int_equal(pkt[7], 0x01);
	assert_int_equal(pkt[40], 0xd4);
	assert_int_equal(pkt[28], RV_VSOCK_TYPE_STREAM);
	assert_int_equal(pkt[30], RV_VSOCK_OP_REQUEST);
	assert_int_equal(back.src_cid, h.src_cid);
	assert_int_equal(back.dst_cid, h.dst_cid);
	assert_int_equal(back.src_port, h.src_port);
	assert_int_equal(back.dst_port, h.dst_port);
	assert_int_equal(back.len, h.len);
	assert_int_equal(back.type, h.type);
	assert_int_equal(back.op, h.op);
	assert_int_equal(back.flags, h.flags);
	assert_int_equal(back.buf_alloc, h.buf_alloc);
	assert_int_equal(back.fwd_cnt, h.fwd_cnt);
}

static void hdr_check__valid_request(void **state)
{
	struct rv_vsock_hdr h = good(), out;

	(void)state;
	assert_int_equal(check(&h, RV_VSOCK_HDR_LEN, 0, &out), RV_VSOCK_OK);
	assert_int_equal(out.dst_port, 52);
	assert_int_equal(out.buf_alloc, 4096);
}

static void hdr_check__header_split_across_segments(void **state)
{
	struct rv_vsock_hdr h = good(), out;
	struct iovec iov[3];

	(void)state;
	h.op = RV_VSOCK_OP_RW;
	h.len = 10;
	rv__vsock_hdr_encode(&h, pkt);
	iov[0] = (struct iovec){ pkt, 5 };
	iov[1] = (struct iovec){ NULL, 0 };
	iov[2] = (struct iovec){ pkt + 5, RV_VSOCK_HDR_LEN + 10 - 5 };
	assert_int_equal(rv__vsock_hdr_check(iov, 3, RV_VSOCK_HDR_LEN + 10, 0,
					     GUEST_CID, &out),
			 RV_VSOCK_OK);
	assert_int_equal(out.len, 10);
	assert_int_equal(out.src_port, 1000);
}

static void hdr_check__short_chain(void **state)
{
	struct rv_vsock_hdr h = good(), out;

	(void)state;
	assert_int_equal(check(&h, RV_VSOCK_HDR_LEN - 1, 0, &out),
			 RV_VSOCK_DROP_SHORT);
}

static void hdr_check__writable_segment(void **state)
{
	struct rv_vsock_hdr h = good(), out;

	(void)state;
	assert_int_equal(check(&h, RV_VSOCK_HDR_LEN, 1, &out),
			 RV_VSOCK_DROP_WRITABLE);
}

static void hdr_check__wrong_type(void **state)
{
	struct rv_vsock_hdr h = good(), out;

	(void)state;
	h.type = 2;
	assert_int_equal(check(&h, RV_VSOCK_HDR_LEN, 0, &out),
			 RV_VSOCK_DROP_TYPE);
}

static void hdr_check__len_beyond_chain(void **state)
{
	struct rv_vsock_hdr h = good(), out;

	(void)state;
	h.op = RV_VSOCK_OP_RW;
	h.len = 11;
	assert_int_equal(check(&h, RV_VSOCK_HDR_LEN + 10, 0, &out),
			 RV_VSOCK_DROP_LEN);
	h.len = 10;
	assert_int_equal(check(&h, RV_VSOCK_HDR_LEN + 10, 0, &out),
			 RV_VSOCK_OK);
}

static void hdr_check__len_over_packet_limit(void **state)
{
	struct rv_vsock_hdr h = good(), out;
	struct iovec iov = { pkt, RV_VSOCK_HDR_LEN };

	(void)state;
	h.op = RV_VSOCK_OP_RW;
	h.len = RV_VSOCK_MAX_PKT_PAYLOAD + 1;
	rv__vsock_hdr_encode(&h, pkt);
	/* The chain claims to be big enough; the limit still applies. */
	assert_int_equal(rv__vsock_hdr_check(&iov, 1,
					     RV_VSOCK_HDR_LEN + (1u << 20), 0,
					     GUEST_CID, &out),
			 RV_VSOCK_DROP_LEN);
}

static void hdr_check__wrong_src_cid(void **state)
{
	struct rv_vsock_hdr h = good(), out;

	(void)state;
	h.src_cid = GUEST_CID + 1;
	assert_int_equal(check(&h, RV_VSOCK_HDR_LEN, 0, &out),
			 RV_VSOCK_DROP_SRC_CID);
}

static void hdr_check__dst_not_host(void **state)
{
	struct rv_vsock_hdr h = good(), out;

	(void)state;
	h.dst_cid = GUEST_CID;
	assert_int_equal(check(&h, RV_VSOCK_HDR_LEN, 0, &out),
			 RV_VSOCK_DROP_DST_CID);
}

static void hdr_check__unknown_op(void **state)
{
	struct rv_vsock_hdr h = good(), out;

	(void)state;
	h.op = 0;
	assert_int_equal(check(&h, RV_VSOCK_HDR_LEN, 0, &out),
			 RV_VSOCK_DROP_OP);
	h.op = 8;
	assert_int_equal(check(&h, RV_VSOCK_HDR_LEN, 0, &out),
			 RV_VSOCK_DROP_OP);
}

static void hdr_check__payload_on_control_op(void **state)
{
	struct rv_vsock_hdr h = good(), out;

	(void)state;
	h.len = 4;
	assert_int_equal(check(&h, RV_VSOCK_HDR_LEN + 4, 0, &out),
			 RV_VSOCK_DROP_OP);
}

static void peer_credit__space_left(void **state)
{
	(void)state;
	assert_int_equal(rv__vsock_peer_credit(1000, 100, 300), 800);
	assert_int_equal(rv__vsock_peer_credit(1000, 300, 1300), 0);
}

static void peer_credit__counters_wrap(void **state)
{
	(void)state;
	/* 16 bytes in flight across the 2^32 wrap. */
	assert_int_equal(rv__vsock_peer_credit(64, 0xfffffff8u, 8), 48);
}

static void peer_credit__fwd_cnt_ahead_gives_nothing(void **state)
{
	(void)state;
	/* The peer claims to have forwarded more than we sent. */
	assert_int_equal(rv__vsock_peer_credit(1000, 500, 400), 0);
}

static void credit_ok__exact_fit_and_overrun(void **state)
{
	(void)state;
	assert_true(rv__vsock_credit_ok(1000, 600, 100, 500));
	assert_false(rv__vsock_credit_ok(1000, 600, 100, 501));
	assert_true(rv__vsock_credit_ok(16, 4, 0xfffffffcu, 8));
	assert_false(rv__vsock_credit_ok(16, 4, 0xfffffffcu, 9));
}

static void parse_connect__valid_line(void **state)
{
	uint32_t port = 0;
	size_t used = 0;
	const char line[] = "CONNECT 52\nhello";

	(void)state;
	assert_int_equal(rv__vsock_parse_connect(line, sizeof(line) - 1, &port,
						 &used),
			 1);
	assert_int_equal(port, 52);
	assert_int_equal(used, 11);
}

static void parse_connect__crlf_and_max_port(void **state)
{
	uint32_t port = 0;
	size_t used = 0;
	const char line[] = "CONNECT 4294967295\r\n";

	(void)state;
	assert_int_equal(rv__vsock_parse_connect(line, sizeof(line) - 1, &port,
						 &used),
			 1);
	assert_int_equal(port, 4294967295u);
	assert_int_equal(used, sizeof(line) - 1);
}

static void parse_connect__partial_needs_more(void **state)
{
	uint32_t port;
	size_t used;

	(void)state;
	assert_int_equal(rv__vsock_parse_connect("CONN", 4, &port, &used), 0);
	assert_int_equal(
		rv__vsock_parse_connect("CONNECT 12", 10, &port, &used), 0);
}

static void parse_connect__malformed(void **state)
{
	static const char *const bad[] = {
		"connect 52\n",		"CONNECT\n",	"CONNECT \n",
		"CONNECT 5x\n",		"CONNECT -1\n", "CONNECT  52\n",
		"CONNECT 4294967296\n", "HELLO",	"CONNECT 52 \n",
	};
	uint32_t port;
	size_t used;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(rv__vsock_parse_connect(bad[i], strlen(bad[i]),
							 &port, &used),
				 -EINVAL);
}

static void parse_connect__too_long_without_newline(void **state)
{
	char line[RV_VSOCK_CONNECT_MAX + 8];
	uint32_t port;
	size_t used;

	(void)state;
	memcpy(line, "CONNECT ", 8);
	memset(line + 8, '1', sizeof(line) - 8);
	assert_int_equal(rv__vsock_parse_connect(line, RV_VSOCK_CONNECT_MAX,
						 &port, &used),
			 -EINVAL);
}

static void format_ok__line(void **state)
{
	char buf[24];

	(void)state;
	assert_int_equal(rv__vsock_format_ok(buf, sizeof(buf), 1073741824u),
			 14);
	assert_string_equal(buf, "OK 1073741824\n");
}

static void port_path__fits_and_too_long(void **state)
{
	char buf[16];

	(void)state;
	assert_int_equal(rv__vsock_port_path("/tmp/v", 52, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "/tmp/v_52");
	assert_int_equal(rv__vsock_port_path("/tmp/vsock.sock", 52, buf,
					     sizeof(buf)),
			 -ENAMETOOLONG);
}

/* ---- The device, with a mocked transport ------------------------------- */

#define RAM_SIZE (2u * 1024 * 1024)
#define QSIZE 64
#define RXQ 0
#define TXQ 1
#define RX_DESC 0x10000ULL
#define RX_AVAIL 0x11000ULL
#define RX_USED 0x12000ULL
#define TX_DESC 0x14000ULL
#define TX_AVAIL 0x15000ULL
#define TX_USED 0x16000ULL
#define RX_BUFS 0x20000ULL /* 4 KiB apart */
#define TX_BUFS 0x80000ULL /* 0x11000 apart: a header and 64 KiB */
#define TX_STEP 0x11000ULL
#define HOST_PORT 5000u
#define GUEST_PORT 1234u

/* epoll_wait() calls of the device's thread: a spinning thread shows. */
static unsigned long nr_waits;

int __real_epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout);
int __wrap_epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout);

int __wrap_epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	__atomic_fetch_add(&nr_waits, 1, __ATOMIC_RELAXED);
	return __real_epoll_wait(epfd, ev, max, timeout);
}

struct fixture {
	uint8_t *ram;
	struct rv_mem mem;
	struct rv_vm vm;
	struct rv_virtio_dev *dev;
	struct mock_ring rx, tx;
	char dir[64];
	char path[96];
};

static char bus_token;
#define BUS ((struct rv_pci_bus *)(void *)&bus_token)

/* The device, created and not yet activated; queues laid out, disabled. */
static int setup_dev(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct rv_vsock_config cfg = { .enabled = true, .cid = GUEST_CID };

	assert_non_null(f);
	mock_reset_counters();
	rv_log_set_level(RV_LOG_ERROR);
	f->ram = mock_ram_init(&f->mem, &f->vm, RAM_SIZE);
	snprintf(f->dir, sizeof(f->dir), "/tmp/rv-vsock-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/v.sock", f->dir);
	cfg.socket = f->path;
	assert_int_equal(rv_virtio_vsock_create(&f->vm, BUS, &cfg, &f->dev), 0);
	f->rx = (struct mock_ring){
		f->ram, RX_DESC, RX_AVAIL, RX_USED, QSIZE, 0
	};
	f->tx = (struct mock_ring){
		f->ram, TX_DESC, TX_AVAIL, TX_USED, QSIZE, 0
	};
	*state = f;
	return 0;
}

static void activate(struct fixture *f, bool tx_enabled)
{
	mock_ring_enable(&f->rx, &f->dev->queues[RXQ]);
	if (tx_enabled)
		mock_ring_enable(&f->tx, &f->dev->queues[TXQ]);
	f->dev->driver_features = 1ULL << RV_VIRTIO_F_VERSION_1;
	assert_int_equal(f->dev->ops->activate(f->dev), 0);
}

static int teardown_dev(void **state)
{
	struct fixture *f = *state;
	char sub[128];

	f->dev->ops->reset(f->dev);
	rv_virtio_vsock_destroy(f->dev);
	snprintf(sub, sizeof(sub), "%s_%u", f->path, HOST_PORT);
	unlink(sub);
	rmdir(f->dir);
	free(f->ram);
	free(f);
	return 0;
}

/* Waits ms, then says how often the device's thread woke meanwhile. */
static unsigned long wakeups_during(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	unsigned long before = __atomic_load_n(&nr_waits, __ATOMIC_RELAXED);

	/* A measuring window, not a synchronisation: nothing to wait on. */
	nanosleep(&ts, NULL);
	return __atomic_load_n(&nr_waits, __ATOMIC_RELAXED) - before;
}

/* A guest packet as transmit descriptor d (header, then len bytes of fill). */
static void guest_send(struct fixture *f, uint16_t d, uint16_t op, uint32_t len,
		       uint8_t fill)
{
	struct rv_vsock_hdr h = {
		.src_cid = GUEST_CID,
		.dst_cid = RV_VSOCK_HOST_CID,
		.src_port = GUEST_PORT,
		.dst_port = HOST_PORT,
		.len = len,
		.type = RV_VSOCK_TYPE_STREAM,
		.op = op,
		.buf_alloc = 1u << 20,
	};
	uint64_t gpa = TX_BUFS + d * TX_STEP;

	rv__vsock_hdr_encode(&h, f->ram + gpa);
	memset(f->ram + gpa + RV_VSOCK_HDR_LEN, fill, len);
	mock_ring_add(&f->tx, d, gpa, RV_VSOCK_HDR_LEN + len, false);
}

static void stats_of(struct fixture *f, struct rv_vsock_stats *st)
{
	rv__vsock_stats(f->dev, st);
}

/*
 * A driver may write queue_size 0 into a queue it never enables and still
 * set DRIVER_OK: the thread must go to sleep, not take "no budget" for
 * "more work" and spin.
 */
static void device__disabled_queue_of_size_zero_does_not_spin(void **state)
{
	struct fixture *f = *state;

	f->dev->queues[TXQ].size = 0;
	activate(f, false);
	(void)wakeups_during(100);
	assert_true(wakeups_during(300) < 10);
}

/*
 * accept() failing with EMFILE leaves the listener readable; the thread
 * must back off instead of waking in a loop, and take the connection once
 * fds are there again.
 */
static void device__accept_out_of_fds_does_not_spin(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rlimit saved, low;
	struct rv_vsock_hdr h;
	int fd, spare;

	activate(f, true);
	mock_ring_add(&f->rx, 0, RX_BUFS, 4096, true);
	mock_kick(RXQ);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	/* Every fd below the lowest free one is taken: no new fd at all. */
	spare = dup(fd);
	assert_true(spare >= 0);
	close(spare);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = (rlim_t)spare;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	(void)wakeups_during(100);
	assert_true(wakeups_during(300) < 10);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);

	/* With fds back, the connection is taken: the guest gets a REQUEST. */
	assert_int_equal(write(fd, "CONNECT 77\n", 11), 11);
	assert_true(mock_wait_used(&f->rx, 1));
	rv__vsock_hdr_decode(f->ram + RX_BUFS, &h);
	assert_int_equal(h.op, RV_VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, 77);
	close(fd);
}

/* The kernel's default socket send buffer (what the device's socket has). */
static size_t default_sndbuf(void)
{
	FILE *fp = fopen("/proc/sys/net/core/wmem_default", "r");
	unsigned long v = 0;

	if (fp) {
		if (fscanf(fp, "%lu", &v) != 1)
			v = 0;
		fclose(fp);
	}
	return v;
}

/*
 * Bytes the host socket did not take wait in a ring; once the host reads
 * them, the ring goes back to the system rather than staying mapped for
 * the connection's life.
 */
static void device__drained_ring_is_unmapped(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rv_vsock_stats st;
	uint8_t *buf = malloc(4u << 16);
	size_t got = 0, want = 4u << 16, i;
	int lfd, hfd, tries;
	ssize_t n;
	uint16_t d;

	assert_non_null(buf);
	if (default_sndbuf() >= want) {
		/* The socket would take it all: nothing to buffer here. */
		free(buf);
		skip();
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", f->path, HOST_PORT);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	activate(f, true);
	guest_send(f, 0, RV_VSOCK_OP_REQUEST, 0, 0);
	for (d = 1; d <= 4; d++)
		guest_send(f, d, RV_VSOCK_OP_RW, 1u << 16, (uint8_t)d);
	mock_kick(TXQ);
	assert_true(mock_wait_used(&f->tx, 5));
	hfd = accept(lfd, NULL, NULL);
	assert_true(hfd >= 0);
	stats_of(f, &st);
	assert_int_equal(st.nr_conns, 1);
	/* 256 KiB is more than a Unix socket takes unread. */
	assert_true(st.buffered > 0);
	assert_int_equal(st.buf_mem, 256u * 1024);

	while (got < want) {
		n = read(hfd, buf + got, want - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	for (i = 0; i < want; i++)
		assert_int_equal(buf[i], 1 + i / (1u << 16));
	for (tries = 0; tries < 500; tries++) {
		stats_of(f, &st);
		if (st.buffered == 0 && st.buf_mem == 0)
			break;
		(void)wakeups_during(10);
	}
	assert_int_equal(st.buffered, 0);
	assert_int_equal(st.buf_mem, 0);
	assert_int_equal(st.bytes_to_host, want);
	close(hfd);
	close(lfd);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hdr_encode__round_trip_little_endian),
		cmocka_unit_test(hdr_check__valid_request),
		cmocka_unit_test(hdr_check__header_split_across_segments),
		cmocka_unit_test(hdr_check__short_chain),
		cmocka_unit_test(hdr_check__writable_segment),
		cmocka_unit_test(hdr_check__wrong_type),
		cmocka_unit_test(hdr_check__len_beyond_chain),
		cmocka_unit_test(hdr_check__len_over_packet_limit),
		cmocka_unit_test(hdr_check__wrong_src_cid),
		cmocka_unit_test(hdr_check__dst_not_host),
		cmocka_unit_test(hdr_check__unknown_op),
		cmocka_unit_test(hdr_check__payload_on_control_op),
		cmocka_unit_test(peer_credit__space_left),
		cmocka_unit_test(peer_credit__counters_wrap),
		cmocka_unit_test(peer_credit__fwd_cnt_ahead_gives_nothing),
		cmocka_unit_test(credit_ok__exact_fit_and_overrun),
		cmocka_unit_test(parse_connect__valid_line),
		cmocka_unit_test(parse_connect__crlf_and_max_port),
		cmocka_unit_test(parse_connect__partial_needs_more),
		cmocka_unit_test(parse_connect__malformed),
		cmocka_unit_test(parse_connect__too_long_without_newline),
		cmocka_unit_test(format_ok__line),
		cmocka_unit_test(port_path__fits_and_too_long),
		cmocka_unit_test_setup_teardown(
			device__disabled_queue_of_size_zero_does_not_spin,
			setup_dev, teardown_dev),
		cmocka_unit_test_setup_teardown(
			device__accept_out_of_fds_does_not_spin, setup_dev,
			teardown_dev),
		cmocka_unit_test_setup_teardown(device__drained_ring_is_unmapped,
						setup_dev, teardown_dev),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
