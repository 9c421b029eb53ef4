// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-vsock (virtio 1.2, 5.10): stream sockets between the guest and
 * the host, with the host side on Unix sockets in the layout Firecracker
 * calls "hybrid vsock" (docs/networking.md, "vsock"):
 *  - host to guest: a host program connects to the listening socket
 *    cfg->socket and writes "CONNECT <port>\n"; the device asks the guest
 *    (REQUEST) and answers "OK <hostport>\n" once the guest accepts, or
 *    closes the connection when it refuses (RST) or does not answer;
 *  - guest to host: a guest connect to CID 2 port P connects to the Unix
 *    listener "<socket>_<P>"; nobody listening means RST.
 * Queues: 0 receive (device to driver), 1 transmit, 2 event (never used:
 * there is no migration that would reset the transport).
 *
 * Threads. One I/O thread (class RV_THREAD_VSOCK), created with the device
 * and parked until DRIVER_OK, epolls the receive and transmit queues'
 * ioeventfds, the listener, every connection's socket, a wake eventfd
 * (activate, reset) and a stop eventfd (destroy). It alone pops and pushes
 * on the queues and alone owns the connections. lock is held by the
 * thread for each round of work, and by activate() and reset() (on a vCPU
 * thread) to flip `active` and move `epoch` on, so reset() returns only
 * once the thread has left the queues; the thread notices the new epoch on
 * its next round and drops every connection of the old one.
 *
 * Flow control (5.10.6.3). Each connection offers the guest a buffer of
 * CONN_BUF_ALLOC bytes. Guest data is written to the host socket at once,
 * straight from guest memory; what the socket does not take is copied to
 * the connection's ring buffer, which can never hold more than buf_alloc
 * because a guest that sends past its credit is reset (RST, counted).
 * A ring is mapped when a connection first has bytes to keep and unmapped
 * as soon as it drains, and the rings mapped at once are bounded by
 * MAX_BUF_MEM (a connection that needs one past it is reset), so host
 * memory is bounded by what is really waiting, not by how many
 * connections once waited. Connections are bounded by MAX_CONNS and by a
 * quarter of RLIMIT_NOFILE, so a guest cannot take the worker's last fds.
 * Host data
 * is read into the guest's receive buffers only while the guest's credit
 * allows, so a guest that never reads makes the host socket fill up, not
 * the VMM's memory.
 *
 * Trust. Every transmit packet's header is copied out of guest memory once
 * and checked (proto.c); a packet with a bad header (short, wrong type,
 * len beyond the chain, wrong src_cid or dst_cid, unknown op, data beyond
 * credit, an op the connection's state does not allow) is dropped and
 * counted, and the device keeps working: malformed packets are the guest's
 * problem, not the VMM's. A malformed ring (rv_virtq_pop() errors) or a
 * receive buffer too small for a header is a protocol violation:
 * NEEDS_RESET.
 */
#include "raevm/virtio.h"

#include "../vsock/vsock_int.h"
#include "evfd.h"

#include "raevm/config.h"
#include "raevm/log.h"
#include "raevm/sandbox.h"
#include "raevm/util.h"
#include "raevm/vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* PCI class 0x0880: base system peripheral, other. */
#define VSOCK_PCI_CLASS 0x088000
#define VSOCK_QUEUE_SIZE 256
#define VSOCK_CONFIG_SIZE 8 /* le64 guest_cid */
#define RXQ 0
#define TXQ 1
#define EVQ 2

#define CONN_BUF_ALLOC (256u * 1024)
#define MAX_CONNS 1024u
#define MIN_CONNS 16u
/* Ring buffers mapped at once, all connections together (128 rings). */
#define MAX_BUF_MEM (32ULL * 1024 * 1024)
/* accept() failed for want of fds or memory: listener off this long. */
#define LISTEN_PAUSE_MS 200
/* At most one rate-limited warning line per this many ms. */
#define WARN_INTERVAL_MS 5000
#define HASH_BUCKETS 256
#define RST_RING 128
#define CONNECT_TIMEOUT_MS 2000
#define SHUTDOWN_TIMEOUT_MS 2000
/* Host ports of host-initiated connections start here, as Firecracker's. */
#define LOCAL_PORT_BASE (1u << 30)
#define MAX_EVENTS 64

/* epoll tags of the fixed fds; connections are tagged with their pointer. */
enum { TAG_STOP = 1, TAG_WAKE, TAG_RXQ, TAG_TXQ, TAG_LISTEN, TAG_MAX };

/* Control packets a connection owes the guest. */
#define OWE_REQUEST 1u
#define OWE_RESPONSE 2u
#define OWE_SHUTDOWN 4u
#define OWE_CREDIT 8u

enum conn_state {
	CONN_LINE,    /* host connected; waiting for "CONNECT <port>\n" */
	CONN_REQUEST, /* REQUEST owed or sent to the guest; no answer yet */
	CONN_OPEN,
	CONN_CLOSING, /* SHUTDOWN both ways; waiting for an RST or a flush */
};

struct list {
	struct list *prev, *next;
};

struct conn {
	struct list all;    /* vs->conns */
	struct list rx;	    /* vs->rx_list while it has work for the guest */
	struct conn *hnext; /* hash chain */
	bool hashed;
	int fd;
	enum conn_state state;
	uint32_t local_port; /* the host's (CID 2) port */
	uint32_t peer_port;  /* the guest's port */
	unsigned int owe;
	bool readable;	    /* the host socket may have bytes for the guest */
	bool host_eof;	    /* the host will send no more */
	bool host_hup;	    /* the host socket is gone both ways */
	bool wr_shut;	    /* shutdown(SHUT_WR) done */
	uint32_t peer_shut; /* the guest's SHUTDOWN flags */
	uint32_t events;    /* registered with epoll; ~0u: not registered */
	/* Guest's receive side, as it advertised it, and what we sent. */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* Our receive side: bytes from the guest, forwarded, last reported. */
	uint32_t rx_cnt, fwd_cnt, fwd_reported;
	uint8_t *buf; /* CONN_BUF_ALLOC ring of bytes the socket did not take */
	uint32_t buf_head, buf_len;
	uint64_t deadline_ms; /* 0: none */
	char line[RV_VSOCK_CONNECT_MAX];
	size_t line_len;
};

struct rst {
	uint32_t local_port, peer_port;
};

struct rv_virtio_vsock {
	struct rv_virtio_dev vdev; /* first: rv_container_of */
	pthread_mutex_t lock;
	bool active;	    /* between activate and reset */
	unsigned int epoch; /* moved on by activate and reset */
	uint64_t guest_cid;
	unsigned int max_conns; /* MAX_CONNS, less with a low RLIMIT_NOFILE */
	char *path;
	int listen_fd, ep_fd, stop_fd, wake_fd, rx_fd, tx_fd;
	pthread_t thread;
	bool thread_started;

	/* The thread's own state (also under lock, see above). */
	unsigned int seen_epoch;
	bool broken; /* NEEDS_RESET set: queues unused until reset */
	struct list conns;
	struct list rx_list;
	struct conn *hash[HASH_BUCKETS];
	unsigned int nr_conns;
	uint64_t buffered;	   /* bytes held in rings */
	uint64_t buf_mem;	   /* bytes of rings mapped */
	uint64_t listen_resume_ms; /* 0: the listener is watched */
	uint64_t warn_ms;	   /* last rate-limited warning */
	unsigned int warn_suppressed;
	uint32_t next_local_port;
	struct rst rsts[RST_RING];
	unsigned int rst_head, rst_len;
	struct rv_virtq_chain rx_chain, tx_chain;
	bool rx_held; /* rx_chain was popped and not used yet */
	struct iovec scratch[VSOCK_QUEUE_SIZE];
	struct rv_vsock_stats stats;
};

static struct rv_virtio_vsock *to_vsock(struct rv_virtio_dev *dev)
{
	return rv_container_of(dev, struct rv_virtio_vsock, vdev);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------
 * Lists and the connection table.
 */

static void list_init(struct list *l)
{
	l->prev = l->next = l;
}

static bool list_empty(const struct list *l)
{
	return l->next == l;
}

static void list_add_tail(struct list *head, struct list *n)
{
	n->prev = head->prev;
	n->next = head;
	head->prev->next = n;
	head->prev = n;
}

static void list_del(struct list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	list_init(n);
}

static unsigned int bucket(uint32_t local, uint32_t peer)
{
	return (local * 2654435761u ^ peer * 40503u) % HASH_BUCKETS;
}

static struct conn *conn_find(struct rv_virtio_vsock *vs, uint32_t local,
			      uint32_t peer)
{
	struct conn *c;

	for (c = vs->hash[bucket(local, peer)]; c; c = c->hnext) {
		if (c->local_port == local && c->peer_port == peer)
			return c;
	}
	return NULL;
}

static void conn_hash(struct rv_virtio_vsock *vs, struct conn *c)
{
	unsigned int b = bucket(c->local_port, c->peer_port);

	c->hnext = vs->hash[b];
	vs->hash[b] = c;
	c->hashed = true;
}

static void conn_unhash(struct rv_virtio_vsock *vs, struct conn *c)
{
	struct conn **p;

	if (!c->hashed)
		return;
	for (p = &vs->hash[bucket(c->local_port, c->peer_port)]; *p;
	     p = &(*p)->hnext) {
		if (*p == c) {
			*p = c->hnext;
			break;
		}
	}
	c->hashed = false;
}

/*
 * One warning line per WARN_INTERVAL_MS at most, with a count of those
 * suppressed: the guest or a host peer can make these happen at will.
 */
static void warn_limited(struct rv_virtio_vsock *vs, const char *what,
			 uint32_t port)
{
	uint64_t now = now_ms();

	if (vs->warn_ms && now - vs->warn_ms < WARN_INTERVAL_MS) {
		vs->warn_suppressed++;
		return;
	}
	rv_warn("%s: port %u: %s (%u similar lines suppressed)", vs->vdev.name,
		port, what, vs->warn_suppressed);
	vs->warn_ms = now;
	vs->warn_suppressed = 0;
}

/* Maps c's ring buffer; -ENOBUFS past MAX_BUF_MEM. */
static int buf_map(struct rv_virtio_vsock *vs, struct conn *c)
{
	void *p;

	if (c->buf)
		return 0;
	if (vs->buf_mem + CONN_BUF_ALLOC > MAX_BUF_MEM)
		return -ENOBUFS;
	p = mmap(NULL, CONN_BUF_ALLOC, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	c->buf = p;
	c->buf_head = 0;
	vs->buf_mem += CONN_BUF_ALLOC;
	return 0;
}

/* Gives an empty ring back to the system (munmap, not a cached free). */
static void buf_unmap(struct rv_virtio_vsock *vs, struct conn *c)
{
	if (!c->buf)
		return;
	munmap(c->buf, CONN_BUF_ALLOC);
	c->buf = NULL;
	c->buf_head = 0;
	vs->buf_mem -= CONN_BUF_ALLOC;
}

static struct conn *conn_new(struct rv_virtio_vsock *vs, int fd)
{
	struct conn *c;
	struct epoll_event ev = { .events = EPOLLIN };

	if (vs->nr_conns >= vs->max_conns)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	ev.data.ptr = c;
	if (epoll_ctl(vs->ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(c);
		return NULL;
	}
	c->events = EPOLLIN;
	list_init(&c->rx);
	list_add_tail(&vs->conns, &c->all);
	vs->nr_conns++;
	return c;
}

static void conn_free(struct rv_virtio_vsock *vs, struct conn *c)
{
	if (c->events != ~0u)
		epoll_ctl(vs->ep_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	conn_unhash(vs, c);
	list_del(&c->all);
	list_del(&c->rx);
	vs->buffered -= c->buf_len;
	vs->nr_conns--;
	buf_unmap(vs, c);
	free(c);
}

/* An RST for a pair of ports, owed to the guest (no connection needed). */
static void queue_rst(struct rv_virtio_vsock *vs, uint32_t local, uint32_t peer)
{
	if (vs->rst_len == RST_RING) {
		vs->stats.rst_lost++;
		return;
	}
	vs->rsts[(vs->rst_head + vs->rst_len) % RST_RING] =
		(struct rst){ local, peer };
	vs->rst_len++;
}

/* Ends a connection the guest knows of with an RST. */
static void conn_reset(struct rv_virtio_vsock *vs, struct conn *c)
{
	if (c->state != CONN_LINE)
		queue_rst(vs, c->local_port, c->peer_port);
	conn_free(vs, c);
}

static uint32_t peer_credit(const struct conn *c)
{
	return rv__vsock_peer_credit(c->peer_buf_alloc, c->peer_fwd_cnt,
				     c->tx_cnt);
}

/* Host bytes may flow to the guest now. */
static bool can_read(const struct conn *c)
{
	return c->state == CONN_OPEN && !c->host_eof &&
	       !(c->peer_shut & RV_VSOCK_SHUTDOWN_RCV) && peer_credit(c) > 0;
}

static bool has_rx_work(const struct conn *c)
{
	return c->owe || (c->readable && can_read(c));
}

/*
 * Brings the connection's epoll interest and its place on the receive
 * list in line with its state. Readable sockets leave epoll's read set
 * while they wait on the list, so a guest without receive buffers does not
 * make the thread spin.
 */
static void conn_sync(struct rv_virtio_vsock *vs, struct conn *c)
{
	struct epoll_event ev = { .data.ptr = c };
	uint32_t want = 0;

	if (has_rx_work(c)) {
		if (list_empty(&c->rx))
			list_add_tail(&vs->rx_list, &c->rx);
	} else if (!list_empty(&c->rx)) {
		list_del(&c->rx);
	}
	if (c->state == CONN_LINE || (!c->readable && can_read(c)))
		want |= EPOLLIN;
	if (c->buf_len)
		want |= EPOLLOUT;
	if (c->events == ~0u || want == c->events)
		return;
	ev.events = want;
	if (epoll_ctl(vs->ep_fd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
}

/* The socket is gone both ways: no more epoll (HUP cannot be masked). */
static void conn_unwatch(struct rv_virtio_vsock *vs, struct conn *c)
{
	if (c->events == ~0u)
		return;
	epoll_ctl(vs->ep_fd, EPOLL_CTL_DEL, c->fd, NULL);
	c->events = ~0u;
}

/*
 * Ends a connection whose both directions are finished: an RST tells the
 * guest it is gone (5.10.6.5: the peer answers a full shutdown with RST).
 * Returns true when c was freed.
 */
static bool conn_check_done(struct rv_virtio_vsock *vs, struct conn *c)
{
	bool guest_done = (c->peer_shut & RV_VSOCK_SHUTDOWN_SEND) &&
			  c->buf_len == 0;

	if (c->state != CONN_OPEN && c->state != CONN_CLOSING)
		return false;
	if (guest_done && !c->wr_shut) {
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = true;
	}
	if ((c->peer_shut == RV_VSOCK_SHUTDOWN_ALL && c->buf_len == 0) ||
	    (guest_done && c->host_eof && !(c->owe & OWE_SHUTDOWN))) {
		conn_reset(vs, c);
		return true;
	}
	if (c->host_hup && c->host_eof && !(c->owe & OWE_SHUTDOWN) &&
	    c->state == CONN_OPEN) {
		/* We said SHUTDOWN both ways; the guest has a while to RST. */
		c->state = CONN_CLOSING;
		c->deadline_ms = now_ms() + SHUTDOWN_TIMEOUT_MS;
	}
	return false;
}

/* ------------------------------------------------------------------------
 * Guest to host: bytes into the host socket.
 */

static void maybe_owe_credit(struct conn *c)
{
	if (c->fwd_cnt - c->fwd_reported >= CONN_BUF_ALLOC / 4)
		c->owe |= OWE_CREDIT;
}

/* Writes what the ring buffer holds; returns -errno for a dead socket. */
static int flush_buf(struct rv_virtio_vsock *vs, struct conn *c)
{
	while (c->buf_len) {
		uint32_t first = CONN_BUF_ALLOC - c->buf_head;
		struct iovec iov[2] = {
			{ c->buf + c->buf_head,
			  first < c->buf_len ? first : c->buf_len },
			{ c->buf, first < c->buf_len ? c->buf_len - first : 0 },
		};
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
		ssize_t n = sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		c->buf_head = (c->buf_head + (uint32_t)n) % CONN_BUF_ALLOC;
		c->buf_len -= (uint32_t)n;
		vs->buffered -= (uint64_t)n;
		c->fwd_cnt += (uint32_t)n;
		vs->stats.bytes_to_host += (uint64_t)n;
	}
	if (c->buf_len == 0)
		buf_unmap(vs, c);
	maybe_owe_credit(c);
	return 0;
}

/* Keeps the bytes of iov[0..nr) from skip on that the socket did not take. */
static int buffer_rest(struct rv_virtio_vsock *vs, struct conn *c,
		       const struct iovec *iov, unsigned int nr, size_t skip)
{
	unsigned int i;
	int rc;

	for (i = 0; i < nr; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		p += skip;
		len -= skip;
		skip = 0;
		rc = buf_map(vs, c);
		if (rc)
			return rc;
		while (len) {
			uint32_t tail =
				(c->buf_head + c->buf_len) % CONN_BUF_ALLOC;
			size_t n = CONN_BUF_ALLOC - tail;

			if (n > len)
				n = len;
			memcpy(c->buf + tail, p, n);
			c->buf_len += (uint32_t)n;
			vs->buffered += n;
			p += n;
			len -= n;
		}
	}
	return 0;
}

/*
 * Points vs->scratch at the bytes after the packet header in segments
 * [first, end) of the chain, at most max of them; returns how many
 * scratch segments that took (at most end - first: scratch has room for
 * a whole chain).
 */
static unsigned int slice_iov(struct rv_virtio_vsock *vs,
			      const struct rv_virtq_chain *ch,
			      unsigned int first, unsigned int end, size_t max)
{
	size_t skip = RV_VSOCK_HDR_LEN;
	unsigned int i, n = 0;

	for (i = first; i < end && max; i++) {
		uint8_t *p = ch->iov[i].iov_base;
		size_t l = ch->iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		p += skip;
		l -= skip;
		skip = 0;
		if (l > max)
			l = max;
		vs->scratch[n++] = (struct iovec){ p, l };
		max -= l;
	}
	return n;
}

/*
 * The payload of an RW packet: the chain's readable bytes after the
 * header, len of them (checked against the chain by proto.c).
 */
static unsigned int payload_iov(struct rv_virtio_vsock *vs,
				const struct rv_virtq_chain *ch, uint32_t len)
{
	return slice_iov(vs, ch, 0, ch->nr_out, len);
}

static void rx_data(struct rv_virtio_vsock *vs, struct conn *c,
		    const struct rv_virtq_chain *ch, uint32_t len)
{
	unsigned int nr;
	ssize_t n = 0;

	if (c->state != CONN_OPEN || (c->peer_shut & RV_VSOCK_SHUTDOWN_SEND)) {
		vs->stats.dropped[RV_VSOCK_DROP_STATE]++;
		conn_reset(vs, c);
		return;
	}
	if (!rv__vsock_credit_ok(CONN_BUF_ALLOC, c->rx_cnt, c->fwd_cnt, len)) {
		vs->stats.dropped[RV_VSOCK_DROP_CREDIT]++;
		conn_reset(vs, c);
		return;
	}
	if (len == 0)
		return;
	c->rx_cnt += len;
	nr = payload_iov(vs, ch, len);
	if (c->buf_len == 0) {
		struct msghdr msg = { .msg_iov = vs->scratch,
				      .msg_iovlen = nr };

		do {
			n = sendmsg(c->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		} while (n < 0 && errno == EINTR);
		if (n < 0 && errno != EAGAIN) {
			conn_reset(vs, c);
			return;
		}
		if (n < 0)
			n = 0;
		c->fwd_cnt += (uint32_t)n;
		vs->stats.bytes_to_host += (uint64_t)n;
	}
	if ((uint32_t)n < len &&
	    buffer_rest(vs, c, vs->scratch, nr, (size_t)n) < 0) {
		warn_limited(vs,
			     "host socket not reading and the VMM's vsock "
			     "buffers are full; resetting the connection",
			     c->local_port);
		conn_reset(vs, c);
		return;
	}
	maybe_owe_credit(c);
	conn_sync(vs, c);
}

/* ------------------------------------------------------------------------
 * Guest packets (transmit queue), one op each.
 */

/* The guest connects to CID 2 port dst_port: "<socket>_<port>". */
static void rx_request(struct rv_virtio_vsock *vs, const struct rv_vsock_hdr *h)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct conn *c = conn_find(vs, h->dst_port, h->src_port);
	int fd;

	if (c) {
		/* A second REQUEST for a live pair: both ends are confused. */
		vs->stats.dropped[RV_VSOCK_DROP_STATE]++;
		conn_reset(vs, c);
		return;
	}
	if (rv__vsock_port_path(vs->path, h->dst_port, addr.sun_path,
				sizeof(addr.sun_path)))
		goto refuse;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto refuse;
	if (connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		goto refuse;
	}
	c = conn_new(vs, fd);
	if (!c) {
		close(fd);
		goto refuse;
	}
	c->state = CONN_OPEN;
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->owe = OWE_RESPONSE;
	conn_hash(vs, c);
	vs->stats.conns_guest++;
	conn_sync(vs, c);
	return;

refuse:
	vs->stats.refused++;
	queue_rst(vs, h->dst_port, h->src_port);
}

/* The guest accepted a host-initiated connection: tell the host program. */
static void rx_response(struct rv_virtio_vsock *vs, struct conn *c)
{
	char line[24];
	size_t len;
	ssize_t n;

	if (c->state != CONN_REQUEST || (c->owe & OWE_REQUEST)) {
		vs->stats.dropped[RV_VSOCK_DROP_STATE]++;
		conn_reset(vs, c);
		return;
	}
	len = rv__vsock_format_ok(line, sizeof(line), c->local_port);
	n = send(c->fd, line, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n != (ssize_t)len) {
		conn_reset(vs, c);
		return;
	}
	c->state = CONN_OPEN;
	c->deadline_ms = 0;
	vs->stats.conns_host++;
	conn_sync(vs, c);
}

static void rx_shutdown(struct rv_virtio_vsock *vs, struct conn *c,
			uint32_t flags)
{
	if (c->state != CONN_OPEN && c->state != CONN_CLOSING) {
		vs->stats.dropped[RV_VSOCK_DROP_STATE]++;
		conn_reset(vs, c);
		return;
	}
	c->peer_shut |= flags & RV_VSOCK_SHUTDOWN_ALL;
	if (c->peer_shut == RV_VSOCK_SHUTDOWN_ALL && !c->deadline_ms) {
		/* The guest closed: flush what we hold, within a bound. */
		c->state = CONN_CLOSING;
		c->deadline_ms = now_ms() + SHUTDOWN_TIMEOUT_MS;
	}
	if (!conn_check_done(vs, c))
		conn_sync(vs, c);
}

/* Routes one checked packet. */
static void rx_packet(struct rv_virtio_vsock *vs, const struct rv_vsock_hdr *h,
		      const struct rv_virtq_chain *ch)
{
	struct conn *c;

	if (h->op == RV_VSOCK_OP_REQUEST) {
		rx_request(vs, h);
		return;
	}
	c = conn_find(vs, h->dst_port, h->src_port);
	if (!c) {
		/* Nothing to reset for an RST; anything else learns it is gone. */
		if (h->op != RV_VSOCK_OP_RST)
			queue_rst(vs, h->dst_port, h->src_port);
		return;
	}
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	switch (h->op) {
	case RV_VSOCK_OP_RESPONSE:
		rx_response(vs, c);
		return;
	case RV_VSOCK_OP_RST:
		conn_free(vs, c);
		return;
	case RV_VSOCK_OP_SHUTDOWN:
		rx_shutdown(vs, c, h->flags);
		return;
	case RV_VSOCK_OP_RW:
		rx_data(vs, c, ch, h->len);
		return;
	case RV_VSOCK_OP_CREDIT_REQUEST:
		c->owe |= OWE_CREDIT;
		break;
	default: /* CREDIT_UPDATE: the fields above were the news. */
		break;
	}
	conn_sync(vs, c);
}

static void tx_one(struct rv_virtio_vsock *vs, const struct rv_virtq_chain *ch)
{
	struct rv_vsock_hdr h;
	enum rv_vsock_drop why;

	why = rv__vsock_hdr_check(ch->iov, ch->nr_out, ch->out_len, ch->nr_in,
				  vs->guest_cid, &h);
	if (why != RV_VSOCK_OK) {
		vs->stats.dropped[why]++;
		/* A stream peer answers a packet it cannot take with RST. */
		if ((why == RV_VSOCK_DROP_TYPE || why == RV_VSOCK_DROP_OP) &&
		    h.op != RV_VSOCK_OP_RST)
			queue_rst(vs, h.dst_port, h.src_port);
		return;
	}
	rx_packet(vs, &h, ch);
}

static void set_broken(struct rv_virtio_vsock *vs, unsigned int q, int err)
{
	if (err)
		rv_virtio_queue_error(&vs->vdev, q, err);
	vs->broken = true;
}

/*
 * Serves the transmit queue, at most two rounds of the ring per call so the
 * receive side gets its turn. Returns true when chains were left behind.
 */
static bool serve_tx(struct rv_virtio_vsock *vs)
{
	struct rv_virtq *q = &vs->vdev.queues[TXQ];
	/*
	 * The budget comes from our own maximum, never from q->size: a
	 * driver may write any size, 0 included, into a queue it never
	 * enables, and a budget of 0 would read as "chains left behind" and
	 * make the thread spin.
	 */
	unsigned int budget = 2u * VSOCK_QUEUE_SIZE;
	bool pushed = false, more = false;
	int rc;

	for (;;) {
		while (budget > 0) {
			rc = rv_virtq_pop(q, &vs->tx_chain);
			if (rc == 0)
				break;
			if (rc < 0) {
				set_broken(vs, TXQ, rc);
				goto out;
			}
			budget--;
			tx_one(vs, &vs->tx_chain);
			/* The payload was written or copied: done with it. */
			rc = rv_virtq_push(q, vs->tx_chain.head, 0);
			if (rc) {
				set_broken(vs, TXQ, rc);
				goto out;
			}
			pushed = true;
		}
		if (budget == 0) {
			more = true;
			break;
		}
		if (!rv_virtq_enable_notify(q))
			break;
	}
out:
	if (pushed && (vs->broken || rv_virtq_should_notify(q)))
		rv_virtio_notify_queue(&vs->vdev, TXQ);
	return more;
}

/* ------------------------------------------------------------------------
 * Host to guest: the receive queue.
 */

static void make_hdr(const struct rv_virtio_vsock *vs, uint32_t local,
		     uint32_t peer, uint16_t op, uint32_t len, uint32_t flags,
		     uint32_t fwd_cnt, struct rv_vsock_hdr *h)
{
	*h = (struct rv_vsock_hdr){
		.src_cid = RV_VSOCK_HOST_CID,
		.dst_cid = vs->guest_cid,
		.src_port = local,
		.dst_port = peer,
		.len = len,
		.type = RV_VSOCK_TYPE_STREAM,
		.op = op,
		.flags = flags,
		.buf_alloc = CONN_BUF_ALLOC,
		.fwd_cnt = fwd_cnt,
	};
}

/* Writes the header at the start of the chain's writable bytes. */
static void put_hdr(const struct rv_virtq_chain *ch,
		    const struct rv_vsock_hdr *h)
{
	uint8_t raw[RV_VSOCK_HDR_LEN];
	unsigned int i, end = ch->nr_out + ch->nr_in;
	size_t done = 0, n;

	rv__vsock_hdr_encode(h, raw);
	for (i = ch->nr_out; i < end && done < sizeof(raw); i++) {
		n = ch->iov[i].iov_len;
		if (n > sizeof(raw) - done)
			n = sizeof(raw) - done;
		if (n)
			memcpy(ch->iov[i].iov_base, raw + done, n);
		done += n;
	}
}

/* The chain's writable bytes after the header, up to max of them. */
static unsigned int data_iov(struct rv_virtio_vsock *vs,
			     const struct rv_virtq_chain *ch, size_t max)
{
	return slice_iov(vs, ch, ch->nr_out, ch->nr_out + ch->nr_in, max);
}

/*
 * Reads host bytes into the chain after its header. Returns the bytes
 * read, 0 at end of stream, -EAGAIN when there were none, or another
 * -errno for a dead socket.
 */
static ssize_t read_into(struct rv_virtio_vsock *vs, struct conn *c,
			 const struct rv_virtq_chain *ch)
{
	size_t max = ch->in_len - RV_VSOCK_HDR_LEN;
	uint32_t credit = peer_credit(c);
	unsigned int nr;
	ssize_t n;

	if (max > credit)
		max = credit;
	if (max > RV_VSOCK_MAX_PKT_PAYLOAD)
		max = RV_VSOCK_MAX_PKT_PAYLOAD;
	if (max == 0)
		return -EAGAIN;
	nr = data_iov(vs, ch, max);
	do {
		n = readv(c->fd, vs->scratch, (int)nr);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/*
 * Fills the chain with the next packet c owes. Returns the bytes written
 * (header included), or 0 when c had nothing after all (the chain is then
 * still free). May free c.
 */
static uint32_t conn_produce(struct rv_virtio_vsock *vs, struct conn *c,
			     const struct rv_virtq_chain *ch)
{
	struct rv_vsock_hdr h;
	uint16_t op = 0;
	uint32_t len = 0, flags = 0;
	ssize_t n;

	if (c->owe & OWE_REQUEST) {
		op = RV_VSOCK_OP_REQUEST;
		c->owe &= ~OWE_REQUEST;
	} else if (c->owe & OWE_RESPONSE) {
		op = RV_VSOCK_OP_RESPONSE;
		c->owe &= ~OWE_RESPONSE;
	} else if (c->readable && can_read(c)) {
		n = read_into(vs, c, ch);
		if (n > 0) {
			op = RV_VSOCK_OP_RW;
			len = (uint32_t)n;
			c->tx_cnt += len;
			vs->stats.bytes_to_guest += len;
		} else if (n == 0) {
			c->host_eof = true;
			c->readable = false;
			c->owe |= OWE_SHUTDOWN;
		} else if (n == -EAGAIN) {
			c->readable = false;
		} else {
			conn_reset(vs, c);
			return 0;
		}
	}
	if (!op && (c->owe & OWE_SHUTDOWN)) {
		op = RV_VSOCK_OP_SHUTDOWN;
		flags = RV_VSOCK_SHUTDOWN_SEND |
			(c->host_hup ? RV_VSOCK_SHUTDOWN_RCV : 0);
		c->owe &= ~OWE_SHUTDOWN;
	}
	if (!op && (c->owe & OWE_CREDIT))
		op = RV_VSOCK_OP_CREDIT_UPDATE;
	if (!op) {
		conn_sync(vs, c);
		return 0;
	}
	/* Every header carries fwd_cnt: no separate update is owed now. */
	c->owe &= ~OWE_CREDIT;
	c->fwd_reported = c->fwd_cnt;
	make_hdr(vs, c->local_port, c->peer_port, op, len, flags, c->fwd_cnt,
		 &h);
	put_hdr(ch, &h);
	if (!conn_check_done(vs, c))
		conn_sync(vs, c);
	return RV_VSOCK_HDR_LEN + len;
}

static bool rx_pending(const struct rv_virtio_vsock *vs)
{
	return vs->rst_len || !list_empty(&vs->rx_list);
}

/* Takes a receive buffer; false when there is none (or the ring broke). */
static bool get_rx_chain(struct rv_virtio_vsock *vs, struct rv_virtq *q)
{
	int rc;

	if (vs->rx_held)
		return true;
	for (;;) {
		rc = rv_virtq_pop(q, &vs->rx_chain);
		if (rc < 0) {
			set_broken(vs, RXQ, rc);
			return false;
		}
		if (rc == 0) {
			/* Ask to be told about new buffers, then look again. */
			if (rv_virtq_enable_notify(q))
				continue;
			return false;
		}
		if (vs->rx_chain.nr_out ||
		    vs->rx_chain.in_len < RV_VSOCK_HDR_LEN) {
			rv_virtio_set_needs_reset(&vs->vdev,
						  "queue 0: receive buffer is "
						  "not device-writable or "
						  "shorter than a header");
			set_broken(vs, RXQ, 0);
			return false;
		}
		vs->rx_held = true;
		return true;
	}
}

/* Delivers owed packets and host bytes while receive buffers last. */
static void serve_rx(struct rv_virtio_vsock *vs)
{
	struct rv_virtq *q = &vs->vdev.queues[RXQ];
	struct rv_vsock_hdr h;
	unsigned int budget = 4u * VSOCK_QUEUE_SIZE; /* see serve_tx() */
	bool pushed = false;
	uint32_t len;
	int rc;

	while (rx_pending(vs) && budget-- > 0 && !vs->broken) {
		if (!get_rx_chain(vs, q))
			break;
		if (vs->rst_len) {
			struct rst *r = &vs->rsts[vs->rst_head];

			make_hdr(vs, r->local_port, r->peer_port,
				 RV_VSOCK_OP_RST, 0, 0, 0, &h);
			put_hdr(&vs->rx_chain, &h);
			vs->rst_head = (vs->rst_head + 1) % RST_RING;
			vs->rst_len--;
			vs->stats.rst_sent++;
			len = RV_VSOCK_HDR_LEN;
		} else {
			struct conn *c = rv_container_of(vs->rx_list.next,
							 struct conn, rx);

			/* Round robin: the connection goes to the back. */
			list_del(&c->rx);
			len = conn_produce(vs, c, &vs->rx_chain);
			if (!len)
				continue;
		}
		vs->rx_held = false;
		rc = rv_virtq_push(q, vs->rx_chain.head, len);
		if (rc) {
			set_broken(vs, RXQ, rc);
			break;
		}
		pushed = true;
	}
	if (pushed && (vs->broken || rv_virtq_should_notify(q)))
		rv_virtio_notify_queue(&vs->vdev, RXQ);
}

/* ------------------------------------------------------------------------
 * Host sockets.
 */

static uint32_t alloc_local_port(struct rv_virtio_vsock *vs, uint32_t peer)
{
	uint32_t p;

	do {
		p = vs->next_local_port++;
		if (vs->next_local_port == 0)
			vs->next_local_port = LOCAL_PORT_BASE;
	} while (p < LOCAL_PORT_BASE || conn_find(vs, p, peer));
	return p;
}

/*
 * Takes the listener out of (or back into) the epoll set. While it is
 * out, pending host connections wait in the kernel's backlog.
 */
static void listen_watch(struct rv_virtio_vsock *vs, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0,
				  .data.u64 = TAG_LISTEN };

	epoll_ctl(vs->ep_fd, EPOLL_CTL_MOD, vs->listen_fd, &ev);
}

/*
 * accept() failed with the connection still queued (no fd, no memory):
 * the listener stays readable, so it leaves the epoll set for a while
 * instead of waking the thread in a loop.
 */
static void listen_pause(struct rv_virtio_vsock *vs, int err)
{
	char why[96];

	listen_watch(vs, false);
	vs->listen_resume_ms = now_ms() + LISTEN_PAUSE_MS;
	snprintf(why, sizeof(why), "cannot accept host connections: %s",
		 strerror(err));
	warn_limited(vs, why, 0);
}

static void accept_host(struct rv_virtio_vsock *vs)
{
	struct conn *c;
	int fd, n;

	for (n = 0; n < 16; n++) {
		fd = accept4(vs->listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				listen_pause(vs, errno);
			return;
		}
		/* Before DRIVER_OK nobody in the guest can accept. */
		c = vs->active && !vs->broken ? conn_new(vs, fd) : NULL;
		if (!c) {
			close(fd);
			continue;
		}
		c->state = CONN_LINE;
		c->deadline_ms = now_ms() + CONNECT_TIMEOUT_MS;
	}
}

/* Reads the CONNECT line without taking any byte after it. */
static void read_line(struct rv_virtio_vsock *vs, struct conn *c)
{
	char tmp[RV_VSOCK_CONNECT_MAX];
	size_t room = sizeof(c->line) - c->line_len, take;
	uint32_t port;
	ssize_t n;
	char *nl;
	int rc;

	n = recv(c->fd, tmp, room, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		goto drop;
	nl = memchr(tmp, '\n', (size_t)n);
	take = nl ? (size_t)(nl - tmp) + 1 : (size_t)n;
	n = recv(c->fd, c->line + c->line_len, take, MSG_DONTWAIT);
	if (n != (ssize_t)take)
		goto drop;
	c->line_len += take;
	rc = rv__vsock_parse_connect(c->line, c->line_len, &port, &take);
	if (rc == 0)
		return;
	if (rc < 0)
		goto drop;
	c->peer_port = port;
	c->local_port = alloc_local_port(vs, port);
	c->state = CONN_REQUEST;
	c->owe = OWE_REQUEST;
	c->peer_buf_alloc = 0;
	conn_hash(vs, c);
	c->deadline_ms = now_ms() + CONNECT_TIMEOUT_MS;
	conn_sync(vs, c);
	return;

drop:
	conn_free(vs, c);
}

static void conn_event(struct rv_virtio_vsock *vs, struct conn *c,
		       uint32_t events)
{
	if (c->state == CONN_LINE) {
		read_line(vs, c);
		return;
	}
	if (events & EPOLLERR) {
		conn_reset(vs, c);
		return;
	}
	if ((events & EPOLLOUT) && flush_buf(vs, c) < 0) {
		conn_reset(vs, c);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP))
		c->readable = true;
	if (events & EPOLLHUP) {
		c->host_hup = true;
		conn_unwatch(vs, c);
		if (c->buf_len) {
			/* Nobody will read what the guest still has queued. */
			conn_reset(vs, c);
			return;
		}
	}
	if (!conn_check_done(vs, c))
		conn_sync(vs, c);
}

/*
 * Connections whose timer ran out (no CONNECT line, no answer, no RST),
 * and the listener's pause. Returns the epoll timeout to the next one.
 */
static int expire(struct rv_virtio_vsock *vs)
{
	struct list *l, *next;
	uint64_t now = now_ms(), first = 0;

	if (vs->listen_resume_ms && vs->listen_resume_ms <= now) {
		vs->listen_resume_ms = 0;
		listen_watch(vs, true);
	}
	if (vs->listen_resume_ms)
		first = vs->listen_resume_ms;

	for (l = vs->conns.next; l != &vs->conns; l = next) {
		struct conn *c = rv_container_of(l, struct conn, all);

		next = l->next;
		if (!c->deadline_ms)
			continue;
		if (c->deadline_ms <= now) {
			vs->stats.timeouts++;
			conn_reset(vs, c);
			continue;
		}
		if (!first || c->deadline_ms < first)
			first = c->deadline_ms;
	}
	return first ? (int)(first - now) : -1;
}

static void drop_all(struct rv_virtio_vsock *vs)
{
	while (!list_empty(&vs->conns))
		conn_free(vs,
			  rv_container_of(vs->conns.next, struct conn, all));
	vs->rst_len = 0;
	vs->rx_held = false;
	vs->broken = false;
	vs->next_local_port = LOCAL_PORT_BASE;
}

/* ------------------------------------------------------------------------
 * The I/O thread.
 */

/* One round of work after epoll_wait; lock held. Returns false to stop. */
static bool handle(struct rv_virtio_vsock *vs, struct epoll_event *ev, int n,
		   bool *again)
{
	bool dropped = false;
	int i;

	/* Events of this batch may name connections freed here: skip them. */
	if (vs->seen_epoch != vs->epoch) {
		drop_all(vs);
		vs->seen_epoch = vs->epoch;
		dropped = true;
	}
	for (i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64;

		switch (tag) {
		case TAG_STOP:
			return false;
		case TAG_WAKE:
			rv__evfd_drain(vs->wake_fd);
			break;
		case TAG_RXQ:
			rv__evfd_drain(vs->rx_fd);
			break;
		case TAG_TXQ:
			rv__evfd_drain(vs->tx_fd);
			break;
		case TAG_LISTEN:
			accept_host(vs);
			break;
		default:
			if (vs->active && !dropped)
				conn_event(vs, ev[i].data.ptr, ev[i].events);
			break;
		}
	}
	*again = false;
	if (!vs->active || vs->broken || rv_virtio_needs_reset(&vs->vdev))
		return true;
	*again = serve_tx(vs);
	serve_rx(vs);
	return true;
}

static void *io_thread(void *arg)
{
	struct rv_virtio_vsock *vs = arg;
	struct epoll_event ev[MAX_EVENTS];
	bool again = false;
	int n, timeout;

	pthread_setname_np(pthread_self(), "vsock");
	if (rv_sandbox_thread_enter(RV_THREAD_VSOCK)) {
		rv_vm_request_stop(vs->vdev.vm, RV_STOP_ERROR, 1);
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&vs->lock);
		timeout = expire(vs);
		pthread_mutex_unlock(&vs->lock);
		if (again)
			timeout = 0;
		n = epoll_wait(vs->ep_fd, ev, MAX_EVENTS, timeout);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rv_error("%s: I/O thread cannot wait: %s",
				 vs->vdev.name, strerror(errno));
			break;
		}
		pthread_mutex_lock(&vs->lock);
		if (!handle(vs, ev, n, &again)) {
			pthread_mutex_unlock(&vs->lock);
			break;
		}
		pthread_mutex_unlock(&vs->lock);
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * Device hooks, on vCPU threads with dev->lock held.
 */

static uint64_t vsock_features(struct rv_virtio_dev *dev)
{
	/* Streams only: no VIRTIO_VSOCK_F_SEQPACKET. */
	(void)dev;
	return 0;
}

static void vsock_config_read(struct rv_virtio_dev *dev, uint32_t offset,
			      void *data, uint32_t len)
{
	uint8_t cfg[VSOCK_CONFIG_SIZE];
	uint64_t cid = to_vsock(dev)->guest_cid;
	unsigned int i;

	for (i = 0; i < sizeof(cfg); i++)
		cfg[i] = (uint8_t)(cid >> (8 * i));
	/* The transport checked offset + len <= VSOCK_CONFIG_SIZE. */
	memcpy(data, cfg + offset, len);
}

static int vsock_activate(struct rv_virtio_dev *dev)
{
	struct rv_virtio_vsock *vs = to_vsock(dev);

	pthread_mutex_lock(&vs->lock);
	vs->active = true;
	vs->epoch++;
	pthread_mutex_unlock(&vs->lock);
	/* Packets queued before DRIVER_OK had their notification dropped. */
	rv__evfd_signal(vs->wake_fd);
	return 0;
}

static void vsock_reset(struct rv_virtio_dev *dev)
{
	struct rv_virtio_vsock *vs = to_vsock(dev);

	/* Waits until the thread is out of the queues. */
	pthread_mutex_lock(&vs->lock);
	vs->active = false;
	vs->epoch++;
	pthread_mutex_unlock(&vs->lock);
	rv__evfd_signal(vs->wake_fd);
}

const struct rv_virtio_ops rv_virtio_vsock_ops = {
	.name = "virtio-vsock",
	.device_id = RV_VSOCK_DEVICE_ID,
	.pci_class = VSOCK_PCI_CLASS,
	.nr_queues = 3,
	.queue_max_size = VSOCK_QUEUE_SIZE,
	.config_size = VSOCK_CONFIG_SIZE,
	.features = vsock_features,
	.config_read = vsock_config_read,
	.activate = vsock_activate,
	.reset = vsock_reset,
};

/* ------------------------------------------------------------------------
 * Set-up and teardown.
 */

static int watch(struct rv_virtio_vsock *vs, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(vs->ep_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void log_stats(struct rv_virtio_vsock *vs)
{
	const struct rv_vsock_stats *s = &vs->stats;
	char drops[256];
	uint64_t total = 0;
	size_t off = 0;
	int i;

	drops[0] = '\0';
	for (i = 1; i < RV_VSOCK_DROP_NR; i++) {
		total += s->dropped[i];
		if (s->dropped[i] && off < sizeof(drops))
			off += (size_t)snprintf(
				drops + off, sizeof(drops) - off, " %s=%llu",
				rv__vsock_drop_name(i),
				(unsigned long long)s->dropped[i]);
	}
	if (total)
		rv_warn("%s: dropped %llu malformed guest packets:%s",
			vs->vdev.name, (unsigned long long)total, drops);
	rv_info("%s: %llu host and %llu guest connections, %llu refused, "
		"%llu timed out, %llu RST sent (%llu lost), %llu bytes to the "
		"guest, %llu to the host",
		vs->vdev.name, (unsigned long long)s->conns_host,
		(unsigned long long)s->conns_guest,
		(unsigned long long)s->refused, (unsigned long long)s->timeouts,
		(unsigned long long)s->rst_sent,
		(unsigned long long)s->rst_lost,
		(unsigned long long)s->bytes_to_guest,
		(unsigned long long)s->bytes_to_host);
}

static void vsock_free(struct rv_virtio_vsock *vs)
{
	if (vs->thread_started) {
		rv__evfd_signal(vs->stop_fd);
		pthread_join(vs->thread, NULL);
	}
	if (vs->vdev.ops) {
		log_stats(vs);
		rv_virtio_pci_destroy(&vs->vdev);
	}
	drop_all(vs);
	if (vs->listen_fd >= 0) {
		close(vs->listen_fd);
		unlink(vs->path);
	}
	if (vs->ep_fd >= 0)
		close(vs->ep_fd);
	if (vs->stop_fd >= 0)
		close(vs->stop_fd);
	if (vs->wake_fd >= 0)
		close(vs->wake_fd);
	rv_virtq_chain_free(&vs->rx_chain);
	rv_virtq_chain_free(&vs->tx_chain);
	pthread_mutex_destroy(&vs->lock);
	free(vs->path);
	free(vs);
}

/*
 * Each connection holds an fd; a quarter of the fd limit leaves the rest
 * of the worker (disks, NICs, console, the control channel) its own.
 */
static unsigned int conn_limit(void)
{
	struct rlimit rl;
	rlim_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return MAX_CONNS;
	n = rl.rlim_cur / 4;
	if (n > MAX_CONNS)
		return MAX_CONNS;
	return n < MIN_CONNS ? MIN_CONNS : (unsigned int)n;
}

static int check_config(const struct rv_vsock_config *cfg)
{
	if (cfg->cid < RV_CONFIG_VSOCK_MIN_CID ||
	    cfg->cid > RV_CONFIG_VSOCK_MAX_CID) {
		rv_error("vsock: cid %u is reserved or out of range (%u..%u)",
			 cfg->cid, RV_CONFIG_VSOCK_MIN_CID,
			 RV_CONFIG_VSOCK_MAX_CID);
		return -EINVAL;
	}
	if (!cfg->socket || !cfg->socket[0]) {
		rv_error(
			"vsock: no host socket path (set vsock.socket in the manifest or --vsock socket=PATH)");
		return -EINVAL;
	}
	return 0;
}

/* The queues' eventfds and the fixed fds in the epoll set. */
static int setup_fds(struct rv_virtio_vsock *vs)
{
	int rc;

	vs->ep_fd = epoll_create1(EPOLL_CLOEXEC);
	vs->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vs->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vs->ep_fd < 0 || vs->stop_fd < 0 || vs->wake_fd < 0)
		return -errno;
	rc = rv_virtio_queue_eventfd(&vs->vdev, RXQ);
	if (rc < 0)
		return rc;
	vs->rx_fd = rc;
	rc = rv_virtio_queue_eventfd(&vs->vdev, TXQ);
	if (rc < 0)
		return rc;
	vs->tx_fd = rc;
	rc = watch(vs, vs->stop_fd, TAG_STOP);
	if (!rc)
		rc = watch(vs, vs->wake_fd, TAG_WAKE);
	if (!rc)
		rc = watch(vs, vs->rx_fd, TAG_RXQ);
	if (!rc)
		rc = watch(vs, vs->tx_fd, TAG_TXQ);
	if (!rc)
		rc = watch(vs, vs->listen_fd, TAG_LISTEN);
	return rc;
}

int rv_virtio_vsock_create(struct rv_vm *vm, struct rv_pci_bus *bus,
			   const struct rv_vsock_config *cfg,
			   struct rv_virtio_dev **out)
{
	struct rv_virtio_vsock *vs;
	int rc;

	*out = NULL;
	rc = check_config(cfg);
	if (rc)
		return rc;
	vs = calloc(1, sizeof(*vs));
	if (!vs)
		return -ENOMEM;
	pthread_mutex_init(&vs->lock, NULL);
	list_init(&vs->conns);
	list_init(&vs->rx_list);
	vs->guest_cid = cfg->cid;
	vs->max_conns = conn_limit();
	vs->next_local_port = LOCAL_PORT_BASE;
	vs->listen_fd = vs->ep_fd = vs->stop_fd = vs->wake_fd = -1;
	vs->rx_fd = vs->tx_fd = -1;
	vs->path = strdup(cfg->socket);
	if (!vs->path) {
		rc = -ENOMEM;
		goto err;
	}
	rc = rv_virtq_chain_init(&vs->rx_chain, VSOCK_QUEUE_SIZE);
	if (!rc)
		rc = rv_virtq_chain_init(&vs->tx_chain, VSOCK_QUEUE_SIZE);
	if (rc)
		goto err;
	/* Room for "_<port>" too, so guest connects can name their listener. */
	rc = rv_unix_listen(vs->path, 11, 128, "vsock socket", &vs->listen_fd);
	if (rc)
		goto err;
	rc = rv_virtio_pci_init(&vs->vdev, vm, bus, &rv_virtio_vsock_ops);
	if (rc) {
		rv_error("virtio-vsock: cannot add the device: %s",
			 strerror(-rc));
		goto err;
	}
	rc = setup_fds(vs);
	if (rc) {
		rv_error("%s: cannot set up its event loop: %s", vs->vdev.name,
			 strerror(-rc));
		goto err;
	}
	rc = rv_thread_create_blocked(&vs->thread, io_thread, vs);
	if (rc) {
		rv_error("%s: cannot start its thread: %s", vs->vdev.name,
			 strerror(-rc));
		goto err;
	}
	vs->thread_started = true;
	*out = &vs->vdev;
	return 0;

err:
	vsock_free(vs);
	return rc;
}

void rv_virtio_vsock_destroy(struct rv_virtio_dev *dev)
{
	if (!dev)
		return;
	vsock_free(to_vsock(dev));
}

void rv__vsock_stats(struct rv_virtio_dev *dev, struct rv_vsock_stats *out)
{
	struct rv_virtio_vsock *vs = to_vsock(dev);

	pthread_mutex_lock(&vs->lock);
	*out = vs->stats;
	out->buffered = vs->buffered;
	out->buf_mem = vs->buf_mem;
	out->nr_conns = vs->nr_conns;
	pthread_mutex_unlock(&vs->lock);
}
