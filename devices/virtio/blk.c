// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk (virtio 1.2, 5.2): one request queue in front of a disk image
 * (include/raevm/block.h).
 *
 * Threads. Each disk has an I/O thread of its own ("blkN"), started at
 * creation in the RV_THREAD_BLK sandbox class and parked until activate()
 * (DRIVER_OK) wakes it; reset() parks it again and destroy() joins it, so
 * no thread is ever started from a vCPU thread. Guest notifications
 * reach it through the queue's ioeventfd without a trip through a vCPU
 * thread; a "stop" eventfd of its own ends it. The thread alone pops and
 * pushes on the queue and alone calls the backend, which is not
 * thread-safe; the vCPU threads only touch the configuration image, which
 * never changes after creation. The thread never takes dev->lock (reset()
 * holds it while joining).
 *
 * Concurrency. On raw disks, reads and writes go through io_uring
 * (rv_blk_aio): the thread queues every IN and OUT of a batch, submits
 * them with one system call, and completes them as the completion ring
 * reports them, in any order (virtio allows it), up to RV__VBLK_AIO_DEPTH
 * at once (blk_uring.c). Every other request (FLUSH, GET_ID, DISCARD,
 * WRITE_ZEROES) and every write of a write-through disk waits until all
 * earlier ones completed and then runs synchronously, so a FLUSH covers
 * every write the driver submitted before it. qcow2 disks, and raw ones
 * when io_uring is not available, run every request synchronously
 * (preadv/pwritev). See docs/devices.md for the measurements behind this.
 *
 * Batching: the thread takes every available request, asks for the next
 * notification, then decides once whether the driver wants an interrupt
 * (EVENT_IDX's used_event or the NO_INTERRUPT flag); buffers that arrived
 * meanwhile start another round. A burst of requests costs one wake-up
 * and one interrupt.
 *
 * Trust. A request is a descriptor chain rv_virtq_pop() has already
 * checked for shape and bounds; this file checks what it means. The rule
 * for the guest's mistakes:
 *  - a chain that cannot be a request (no 16-byte device-readable header,
 *    no device-writable status byte, data in the wrong direction for the
 *    type) is a protocol violation: NEEDS_RESET, one log line, the queue is
 *    not used again until the driver resets the device;
 *  - a well-formed request the disk cannot do (a sector range past the
 *    capacity, a length that is not whole sectors, a write to a read-only
 *    disk, a bad discard segment) completes with VIRTIO_BLK_S_IOERR, and an
 *    unknown type or flag with VIRTIO_BLK_S_UNSUPP, as the specification
 *    asks; the queue keeps working;
 *  - a failing host file completes with IOERR and logs one line (at most
 *    one every few seconds, then a count).
 * Header and discard segments are copied out of guest memory once and only
 * the copies are used, so the guest cannot change them behind a check.
 */
#include "raevm/virtio.h"

#include "blk_int.h"
#include "evfd.h"

#include "raevm/block.h"
#include "raevm/le.h"
#include "raevm/log.h"
#include "raevm/sandbox.h"
#include "raevm/vm.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define BLK_DEVICE_ID 2
/* PCI class 0x0100: mass storage controller, SCSI (what guests expect). */
#define BLK_PCI_CLASS 0x010000
#define HDR_LEN 16u
#define SEG_LEN 16u
#define ERR_LOG_INTERVAL_NS (5ULL * 1000000000ULL)
/* Sector alignment advertised for discard when the image does not say. */
#define DEFAULT_DISCARD_ALIGN 8u

/* A discard or write-zeroes segment, as copied out of the request. */
struct blk_range {
	uint64_t sector;
	uint32_t num;
	uint32_t flags;
};

static struct rv_virtio_blk *to_blk(struct rv_virtio_dev *dev)
{
	return rv_container_of(dev, struct rv_virtio_blk, vdev);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------------
 * Scatter-gather helpers over a chain's segments.
 */

/* Copies bytes [skip, skip + len) of iov into dst; the caller checked sizes. */
static void gather(const struct iovec *iov, unsigned int n, uint64_t skip,
		   void *dst, size_t len)
{
	uint8_t *out = dst;
	unsigned int i;

	for (i = 0; i < n && len > 0; i++) {
		size_t take;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - (size_t)skip;
		if (take > len)
			take = len;
		memcpy(out, (const uint8_t *)iov[i].iov_base + skip, take);
		out += take;
		len -= take;
		skip = 0;
	}
}

/* Copies len bytes from src into the start of iov; the caller checked sizes. */
static void scatter(const struct iovec *iov, int n, const void *src, size_t len)
{
	const uint8_t *in = src;
	int i;

	for (i = 0; i < n && len > 0; i++) {
		size_t take = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(iov[i].iov_base, in, take);
		in += take;
		len -= take;
	}
}

/*
 * Describes bytes [skip, skip + len) of iov in dst, leaving out empty
 * pieces (zero-length descriptors have no address). Returns the count; dst
 * has room for n entries, which is always enough.
 */
static int slice(const struct iovec *iov, unsigned int n, uint64_t skip,
		 uint64_t len, struct iovec *dst)
{
	unsigned int i;
	int out = 0;

	for (i = 0; i < n && len > 0; i++) {
		uint64_t take;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - skip;
		if (take > len)
			take = len;
		dst[out].iov_base = (uint8_t *)iov[i].iov_base + skip;
		dst[out].iov_len = (size_t)take;
		out++;
		len -= take;
		skip = 0;
	}
	return out;
}

/* The last byte of the last non-empty segment; n holds at least one byte. */
static uint8_t *last_byte(const struct iovec *iov, unsigned int n)
{
	while (n-- > 0) {
		if (iov[n].iov_len)
			return (uint8_t *)iov[n].iov_base + iov[n].iov_len - 1;
	}
	return NULL;
}

/* ------------------------------------------------------------------------
 * Requests, on the I/O thread.
 */

/*
 * A host-side failure: the guest gets IOERR, the host one line at most
 * every ERR_LOG_INTERVAL_NS, so a failing disk cannot flood the log.
 */
static void io_error(struct rv_virtio_blk *b, const char *what, uint64_t sector,
		     uint64_t bytes, int err)
{
	uint64_t now = now_ns();
	unsigned int suppressed;

	if (b->err_log_ns && now - b->err_log_ns < ERR_LOG_INTERVAL_NS) {
		b->err_suppressed++;
		return;
	}
	suppressed = b->err_suppressed;
	b->err_suppressed = 0;
	b->err_log_ns = now ? now : 1;
	if (suppressed)
		rv_warn("%s: %s of %llu bytes at sector %llu failed: %s; the "
			"guest gets an I/O error (%u similar messages "
			"suppressed)",
			b->vdev.name, what, (unsigned long long)bytes,
			(unsigned long long)sector, strerror(-err), suppressed);
	else
		rv_warn("%s: %s of %llu bytes at sector %llu failed: %s; the "
			"guest gets an I/O error",
			b->vdev.name, what, (unsigned long long)bytes,
			(unsigned long long)sector, strerror(-err));
}

/* Whether sectors [sector, sector + n) lie on the disk. */
static bool in_range(const struct rv_virtio_blk *b, uint64_t sector, uint64_t n)
{
	return sector <= b->sectors && n <= b->sectors - sector;
}

/* Which way a request type's data goes; NONE is not checked. */
enum blk_dir {
	DIR_NONE,
	DIR_TO_GUEST,	/* the device writes data: IN, GET_ID */
	DIR_FROM_GUEST, /* the device reads data: OUT, DISCARD, WRITE_ZEROES */
};

static enum blk_dir type_dir(uint32_t type)
{
	switch (type) {
	case RV_VIRTIO_BLK_T_IN:
	case RV_VIRTIO_BLK_T_GET_ID:
		return DIR_TO_GUEST;
	case RV_VIRTIO_BLK_T_OUT:
	case RV_VIRTIO_BLK_T_DISCARD:
	case RV_VIRTIO_BLK_T_WRITE_ZEROES:
		return DIR_FROM_GUEST;
	default:
		/* FLUSH carries no data; unknown types are refused unread. */
		return DIR_NONE;
	}
}

/*
 * Finds the header, the data and the status byte of a chain. Returns 0, or
 * -EPROTO with *why set when the chain cannot be a request.
 */
static int parse(const struct rv_virtq_chain *c, struct iovec *data,
		 struct rv__vblk_req *r, const char **why)
{
	const struct iovec *in = c->iov + c->nr_out;
	uint8_t hdr[HDR_LEN];
	uint64_t rd, wr;

	if (c->out_len < HDR_LEN) {
		*why = "queue 0: request header is not 16 device-readable "
		       "bytes";
		return -EPROTO;
	}
	if (c->in_len < 1) {
		*why = "queue 0: request has no device-writable status byte";
		return -EPROTO;
	}
	gather(c->iov, c->nr_out, 0, hdr, HDR_LEN);
	r->type = (uint32_t)rv_le_get(hdr, 4);
	r->sector = rv_le_get(hdr + 8, 8);
	r->status = last_byte(in, c->nr_in);
	r->data = data;
	r->nr_data = 0;
	r->data_len = 0;
	rd = c->out_len - HDR_LEN;
	wr = c->in_len - 1;
	switch (type_dir(r->type)) {
	case DIR_TO_GUEST:
		if (rd) {
			*why = "queue 0: request with device-readable data "
			       "for the device to fill";
			return -EPROTO;
		}
		r->nr_data = slice(in, c->nr_in, 0, wr, r->data);
		r->data_len = wr;
		break;
	case DIR_FROM_GUEST:
		if (wr) {
			*why = "queue 0: request with device-writable data "
			       "for the device to read";
			return -EPROTO;
		}
		r->nr_data = slice(c->iov, c->nr_out, HDR_LEN, rd, r->data);
		r->data_len = rd;
		break;
	case DIR_NONE:
		break;
	}
	return 0;
}

/* Whether an IN or OUT is well-formed and allowed on this disk. */
bool rv__vblk_rw_ok(const struct rv_virtio_blk *b, const struct rv__vblk_req *r,
		    bool write)
{
	if (r->data_len % RV__VBLK_SECTOR ||
	    !in_range(b, r->sector, r->data_len / RV__VBLK_SECTOR))
		return false;
	return !(write && b->blk->readonly);
}

/* IN and OUT. */
uint8_t rv__vblk_do_rw(struct rv_virtio_blk *b, const struct rv__vblk_req *r,
		       bool write)
{
	uint64_t n = r->data_len / RV__VBLK_SECTOR;
	int rc;

	/* The driver's mistakes: no log line, the request just fails. */
	if (r->data_len % RV__VBLK_SECTOR || !in_range(b, r->sector, n)) {
		rv_debug("%s: %s of %llu bytes at sector %llu refused "
			 "(capacity %llu sectors)",
			 b->vdev.name, write ? "write" : "read",
			 (unsigned long long)r->data_len,
			 (unsigned long long)r->sector,
			 (unsigned long long)b->sectors);
		return RV_VIRTIO_BLK_S_IOERR;
	}
	if (write && b->blk->readonly)
		return RV_VIRTIO_BLK_S_IOERR;
	if (write)
		rc = rv_blk_pwritev(b->blk, r->data, r->nr_data,
				    r->sector * RV__VBLK_SECTOR);
	else
		rc = rv_blk_preadv(b->blk, r->data, r->nr_data,
				   r->sector * RV__VBLK_SECTOR);
	if (rc == 0 && write && b->writethrough)
		rc = rv_blk_flush(b->blk);
	if (rc) {
		io_error(b, write ? "write" : "read", r->sector, r->data_len,
			 rc);
		return RV_VIRTIO_BLK_S_IOERR;
	}
	return RV_VIRTIO_BLK_S_OK;
}

/*
 * FLUSH: returns once every write completed before it is on stable
 * storage (fdatasync, qcow2 metadata included); only then does the guest
 * see the status.
 */
static uint8_t do_flush(struct rv_virtio_blk *b)
{
	int rc = rv_blk_flush(b->blk);

	if (rc) {
		io_error(b, "flush", 0, 0, rc);
		return RV_VIRTIO_BLK_S_IOERR;
	}
	return RV_VIRTIO_BLK_S_OK;
}

/* GET_ID: the serial, zero-padded to 20 bytes (no NUL when it is 20). */
static uint8_t do_get_id(struct rv_virtio_blk *b, const struct rv__vblk_req *r,
			 uint64_t *written)
{
	size_t n = r->data_len < RV_VIRTIO_BLK_ID_BYTES ?
			   (size_t)r->data_len :
			   RV_VIRTIO_BLK_ID_BYTES;

	scatter(r->data, r->nr_data, b->serial, n);
	*written = n;
	return RV_VIRTIO_BLK_S_OK;
}

/* Copies the segments out and checks them all before any runs. */
static uint8_t load_ranges(struct rv_virtio_blk *b,
			   const struct rv__vblk_req *r, bool discard,
			   struct blk_range *seg, unsigned int *nr)
{
	uint8_t raw[SEG_LEN];
	unsigned int i, n;

	if (r->data_len == 0 || r->data_len % SEG_LEN ||
	    r->data_len / SEG_LEN > RV_VIRTIO_BLK_MAX_RANGE_SEGS)
		return RV_VIRTIO_BLK_S_IOERR;
	n = (unsigned int)(r->data_len / SEG_LEN);
	for (i = 0; i < n; i++) {
		gather(r->data, (unsigned int)r->nr_data, (uint64_t)i * SEG_LEN,
		       raw, SEG_LEN);
		seg[i].sector = rv_le_get(raw, 8);
		seg[i].num = (uint32_t)rv_le_get(raw + 8, 4);
		seg[i].flags = (uint32_t)rv_le_get(raw + 12, 4);
	}
	/* Unknown flags, and unmap on a discard, are UNSUPP (5.2.6.2). */
	for (i = 0; i < n; i++) {
		if (seg[i].flags & ~RV_VIRTIO_BLK_WZ_UNMAP ||
		    (discard && seg[i].flags))
			return RV_VIRTIO_BLK_S_UNSUPP;
	}
	for (i = 0; i < n; i++) {
		if (seg[i].num > RV_VIRTIO_BLK_MAX_RANGE_SECTORS ||
		    !in_range(b, seg[i].sector, seg[i].num))
			return RV_VIRTIO_BLK_S_IOERR;
	}
	*nr = n;
	return RV_VIRTIO_BLK_S_OK;
}

/* DISCARD and WRITE_ZEROES. */
static uint8_t do_ranges(struct rv_virtio_blk *b, const struct rv__vblk_req *r)
{
	struct blk_range seg[RV_VIRTIO_BLK_MAX_RANGE_SEGS];
	bool discard = r->type == RV_VIRTIO_BLK_T_DISCARD;
	unsigned int feature = discard ? RV_VIRTIO_BLK_F_DISCARD :
					 RV_VIRTIO_BLK_F_WRITE_ZEROES;
	unsigned int i, n = 0;
	uint8_t st;
	int rc = 0;

	if (!(b->acked & (1ULL << feature)))
		return RV_VIRTIO_BLK_S_UNSUPP;
	if (b->blk->readonly)
		return RV_VIRTIO_BLK_S_IOERR;
	st = load_ranges(b, r, discard, seg, &n);
	if (st != RV_VIRTIO_BLK_S_OK)
		return st;
	for (i = 0; i < n && rc == 0; i++) {
		uint64_t off = seg[i].sector * RV__VBLK_SECTOR;
		uint64_t len = (uint64_t)seg[i].num * RV__VBLK_SECTOR;

		if (discard)
			rc = rv_blk_discard(b->blk, off, len);
		else
			rc = rv_blk_write_zeroes(
				b->blk, off, len,
				seg[i].flags & RV_VIRTIO_BLK_WZ_UNMAP);
		if (rc)
			io_error(b, discard ? "discard" : "write-zeroes",
				 seg[i].sector, len, rc);
	}
	if (rc == 0 && b->writethrough) {
		rc = rv_blk_flush(b->blk);
		if (rc)
			io_error(b, "flush", 0, 0, rc);
	}
	return rc ? RV_VIRTIO_BLK_S_IOERR : RV_VIRTIO_BLK_S_OK;
}

/*
 * Runs one parsed request to the end and writes its status. Returns the
 * bytes written into device-writable buffers, status included.
 */
static uint32_t run_sync(struct rv_virtio_blk *b,
			 const struct rv__vblk_req *req)
{
	struct rv__vblk_req r = *req;
	uint64_t written = 0;
	uint8_t st;

	switch (r.type) {
	case RV_VIRTIO_BLK_T_IN:
		st = rv__vblk_do_rw(b, &r, false);
		if (st == RV_VIRTIO_BLK_S_OK)
			written = r.data_len;
		break;
	case RV_VIRTIO_BLK_T_OUT:
		st = rv__vblk_do_rw(b, &r, true);
		break;
	case RV_VIRTIO_BLK_T_FLUSH:
		st = do_flush(b);
		break;
	case RV_VIRTIO_BLK_T_GET_ID:
		st = do_get_id(b, &r, &written);
		break;
	case RV_VIRTIO_BLK_T_DISCARD:
	case RV_VIRTIO_BLK_T_WRITE_ZEROES:
		st = do_ranges(b, &r);
		break;
	default:
		st = RV_VIRTIO_BLK_S_UNSUPP;
		break;
	}
	*r.status = st;
	/* The chain is at most 2^32 bytes and 16 of them are the header. */
	return (uint32_t)(written + 1);
}

/* ------------------------------------------------------------------------
 * Serving the queue.
 */

/*
 * Takes one chain off the queue and completes it, or queues it on the
 * ring. Returns 1 when it did, 0 when the queue is empty, or -1 when the
 * device is broken now.
 */
static int serve_one(struct rv_virtio_blk *b, struct rv_virtq *q, bool *pushed)
{
	struct rv_virtio_dev *dev = &b->vdev;
	struct rv__vblk_slot *s = NULL;
	struct iovec *data = b->data;
	struct rv__vblk_req r;
	const char *why = NULL;
	uint32_t used;
	int rc;

	/* A free slot first, so that a popped chain always has one. */
	if (b->aio && !b->nr_free &&
	    rv__vblk_complete(b, q, true, false, pushed))
		return -1;
	rc = rv_virtq_pop(q, &b->chain);
	if (rc == 0)
		return 0;
	if (rc < 0) {
		rv_virtio_queue_error(dev, 0, rc);
		return -1;
	}
	if (b->aio) {
		s = &b->slots[b->free_slots[b->nr_free - 1]];
		data = s->iov;
	}
	if (parse(&b->chain, data, &r, &why)) {
		rv_virtio_set_needs_reset(dev, why);
		return -1;
	}
	if (s) {
		s->req = r;
		rc = rv__vblk_queue_rw(b, q, s, b->chain.head, pushed);
		if (rc)
			return rc;
		/* Everything submitted before this request completes first. */
		if (rv__vblk_complete(b, q, false, true, pushed))
			return -1;
	}
	used = run_sync(b, &r);
	rc = rv_virtq_push(q, b->chain.head, used);
	if (rc) {
		rv_virtio_queue_error(dev, 0, rc);
		return -1;
	}
	*pushed = true;
	return 1;
}

/* The device broke: reap what is in flight, push nothing more. */
static void set_broken(struct rv_virtio_blk *b, struct rv_virtq *q)
{
	bool ignored = false;

	b->broken = true;
	if (b->aio)
		(void)rv__vblk_complete(b, q, false, true, &ignored);
}

/*
 * Serves the queue until it is empty and the driver has been asked to
 * notify again; signals completions once per run of requests. Reads and
 * writes on the io_uring path may still be in flight when it returns.
 *
 * The thread does not poll an empty queue before sleeping: measured here
 * (docs/devices.md), every polling window made 4 KiB random reads slower,
 * as requests were then taken one by one instead of in batches.
 */
static void serve(struct rv_virtio_blk *b)
{
	struct rv_virtio_dev *dev = &b->vdev;
	struct rv_virtq *q = &dev->queues[0];
	bool pushed = false, more;
	int rc = 0;

	if (b->broken || rv_virtio_needs_reset(dev))
		return;
	for (;;) {
		/* While busy, the driver need not notify (no EVENT_IDX). */
		rv_virtq_disable_notify(q);
		while (!rv__vblk_stop_requested(b) &&
		       (rc = serve_one(b, q, &pushed)) > 0)
			;
		if (rc < 0 || rv__vblk_submit(b, q, &pushed))
			goto broken;
		/*
		 * Ask for the next notification before interrupting, so a
		 * driver woken by the interrupt finds it asked for.
		 */
		more = !rv__vblk_stop_requested(b) && rv_virtq_enable_notify(q);
		if (pushed && rv_virtq_should_notify(q))
			rv_virtio_notify_queue(dev, 0);
		pushed = false;
		if (!more)
			return;
	}

broken:
	set_broken(b, q);
	/* What completed before the bad chain is the driver's to see. */
	if (pushed)
		rv_virtio_notify_queue(dev, 0);
}

/* Completions the ring reported while the thread slept. */
static void serve_completions(struct rv_virtio_blk *b)
{
	struct rv_virtio_dev *dev = &b->vdev;
	struct rv_virtq *q = &dev->queues[0];
	bool pushed = false;

	rv__evfd_drain(rv_blk_aio_event_fd(b->aio));
	if (rv__vblk_complete(b, q, false, false, &pushed))
		set_broken(b, q);
	if (pushed && (b->broken || rv_virtq_should_notify(q)))
		rv_virtio_notify_queue(dev, 0);
}

/* One activation: serves the queue until reset() or destroy() stops it. */
static void run_active(struct rv_virtio_blk *b)
{
	struct pollfd p[3];
	nfds_t n = 2;

	/* Requests queued before DRIVER_OK had their notification dropped. */
	serve(b);
	for (;;) {
		p[0] = (struct pollfd){ .fd = b->stop_fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = b->kick_fd, .events = POLLIN };
		if (b->aio) {
			p[2] = (struct pollfd){
				.fd = rv_blk_aio_event_fd(b->aio),
				.events = POLLIN,
			};
			n = 3;
		}
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			rv_error("%s: I/O thread cannot wait: %s", b->vdev.name,
				 strerror(errno));
			break;
		}
		if (p[0].revents || rv__vblk_stop_requested(b))
			break;
		if (n == 3 && p[2].revents)
			serve_completions(b);
		if (p[1].revents) {
			/* Drained first: a later notification wakes us again. */
			rv__evfd_drain(b->kick_fd);
			serve(b);
		}
	}
	/*
	 * Nothing may write into guest memory after the thread is joined:
	 * wait for every request in flight (their results are dropped; the
	 * driver is resetting the device).
	 */
	if (b->aio) {
		bool ignored = false;

		__atomic_store_n(&b->stopping, true, __ATOMIC_RELEASE);
		(void)rv__vblk_complete(b, &b->vdev.queues[0], false, true,
					&ignored);
	}
}

/* A thread without its sandbox serves nothing: it waits to be parked. */
static void wait_stop(struct rv_virtio_blk *b)
{
	struct pollfd p = { .fd = b->stop_fd, .events = POLLIN };

	while (!rv__vblk_stop_requested(b))
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break;
}

static void *io_thread(void *arg)
{
	struct rv_virtio_blk *b = arg;
	char name[16];
	int rc;

	/* The sandbox first (sandbox.h); a thread without it serves nothing. */
	rc = rv_sandbox_thread_enter(RV_THREAD_BLK);
	if (rc)
		rv_vm_request_stop(b->vdev.vm, RV_STOP_ERROR, 1);
	snprintf(name, sizeof(name), "blk%u", b->index);
	pthread_setname_np(pthread_self(), name);
	pthread_mutex_lock(&b->park_lock);
	for (;;) {
		while (!b->want_active && !b->quit)
			pthread_cond_wait(&b->park_cond, &b->park_lock);
		if (b->quit)
			break;
		b->is_active = true;
		pthread_mutex_unlock(&b->park_lock);
		if (!rc)
			run_active(b);
		else
			wait_stop(b);
		pthread_mutex_lock(&b->park_lock);
		b->is_active = false;
		/* One activation per activate(): the next waits for the next. */
		b->want_active = false;
		pthread_cond_broadcast(&b->park_cond);
	}
	pthread_mutex_unlock(&b->park_lock);
	return NULL;
}

/* ------------------------------------------------------------------------
 * Device hooks, on vCPU threads with dev->lock held.
 */

/* Wakes the parked thread for one activation. */
static void start_thread(struct rv_virtio_blk *b)
{
	pthread_mutex_lock(&b->park_lock);
	b->want_active = true;
	pthread_cond_broadcast(&b->park_cond);
	pthread_mutex_unlock(&b->park_lock);
	b->running = true;
}

/* Returns once the thread has parked, leaving the queue and disk alone. */
static void stop_thread(struct rv_virtio_blk *b)
{
	if (!b->running)
		return;
	__atomic_store_n(&b->stopping, true, __ATOMIC_RELEASE);
	rv__evfd_signal(b->stop_fd);
	pthread_mutex_lock(&b->park_lock);
	/* Not woken yet: it must not start this activation at all. */
	if (!b->is_active)
		b->want_active = false;
	while (b->is_active)
		pthread_cond_wait(&b->park_cond, &b->park_lock);
	pthread_mutex_unlock(&b->park_lock);
	rv__evfd_drain(b->stop_fd);
	__atomic_store_n(&b->stopping, false, __ATOMIC_RELEASE);
	b->running = false;
}

/* Ends the thread for good (destroy, or a failed creation). */
static void end_thread(struct rv_virtio_blk *b)
{
	if (!b->thread_started)
		return;
	stop_thread(b);
	pthread_mutex_lock(&b->park_lock);
	b->quit = true;
	pthread_cond_broadcast(&b->park_cond);
	pthread_mutex_unlock(&b->park_lock);
	pthread_join(b->thread, NULL);
	b->thread_started = false;
}

static uint64_t blk_features(struct rv_virtio_dev *dev)
{
	return to_blk(dev)->features;
}

static void blk_config_read(struct rv_virtio_dev *dev, uint32_t offset,
			    void *data, uint32_t len)
{
	/* The transport checked offset + len <= RV_VIRTIO_BLK_CONFIG_SIZE. */
	memcpy(data, to_blk(dev)->config + offset, len);
}

static int blk_activate(struct rv_virtio_dev *dev)
{
	struct rv_virtio_blk *b = to_blk(dev);

	if (b->running)
		return 0;
	b->acked = dev->driver_features & b->features;
	/*
	 * FLUSH offered but not negotiated means a write-through cache
	 * (5.2.6.2): each write is durable before it completes.
	 */
	b->writethrough = !(b->acked & (1ULL << RV_VIRTIO_BLK_F_FLUSH)) &&
			  !b->blk->readonly;
	b->broken = false;
	start_thread(b);
	return 0;
}

static void blk_reset(struct rv_virtio_dev *dev)
{
	/* In-flight requests are forgotten: the thread runs them to the end. */
	stop_thread(to_blk(dev));
}

const struct rv_virtio_ops rv_virtio_blk_ops = {
	.name = "virtio-blk",
	.device_id = BLK_DEVICE_ID,
	.pci_class = BLK_PCI_CLASS,
	.nr_queues = 1,
	.queue_max_size = RV_VIRTIO_BLK_QUEUE_SIZE,
	.config_size = RV_VIRTIO_BLK_CONFIG_SIZE,
	.features = blk_features,
	.config_read = blk_config_read,
	.activate = blk_activate,
	.reset = blk_reset,
};

/* ------------------------------------------------------------------------
 * Set-up and teardown.
 */

/*
 * Discard works on whole clusters of a qcow2 image (partial ones are left
 * alone), so the driver is told to align to them; raw files punch holes in
 * file system blocks (4 KiB is the common size).
 */
static uint32_t discard_alignment(const struct rv_blk *blk)
{
	struct rv_blk_info *info;
	char err[256];
	uint32_t sectors = DEFAULT_DISCARD_ALIGN;

	if (blk->format != RV_BLK_QCOW2 || !blk->path)
		return sectors;
	info = malloc(sizeof(*info));
	if (!info)
		return sectors;
	if (rv_blk_query(blk->path, blk->format, info, err, sizeof(err)) == 0 &&
	    info->cluster_size >= RV__VBLK_SECTOR)
		sectors = info->cluster_size / RV__VBLK_SECTOR;
	free(info);
	return sectors;
}

static void build_config(struct rv_virtio_blk *b)
{
	uint8_t *c = b->config;
	bool rw = !b->blk->readonly;

	b->features = (1ULL << RV_VIRTIO_BLK_F_SEG_MAX) |
		      (1ULL << RV_VIRTIO_BLK_F_BLK_SIZE) |
		      (1ULL << RV_VIRTIO_BLK_F_FLUSH);
	if (rw)
		b->features |= (1ULL << RV_VIRTIO_BLK_F_DISCARD) |
			       (1ULL << RV_VIRTIO_BLK_F_WRITE_ZEROES);
	else
		b->features |= 1ULL << RV_VIRTIO_BLK_F_RO;

	memset(c, 0, RV_VIRTIO_BLK_CONFIG_SIZE);
	rv_le_put(c + RV_VIRTIO_BLK_CFG_CAPACITY, b->sectors, 8);
	rv_le_put(c + RV_VIRTIO_BLK_CFG_SEG_MAX, RV_VIRTIO_BLK_SEG_MAX, 4);
	rv_le_put(c + RV_VIRTIO_BLK_CFG_BLK_SIZE,
		  b->blk->block_size ? b->blk->block_size : RV__VBLK_SECTOR, 4);
	rv_le_put(c + RV_VIRTIO_BLK_CFG_NUM_QUEUES, 1, 2);
	if (!rw)
		return;
	rv_le_put(c + RV_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS,
		  RV_VIRTIO_BLK_MAX_RANGE_SECTORS, 4);
	rv_le_put(c + RV_VIRTIO_BLK_CFG_MAX_DISCARD_SEG,
		  RV_VIRTIO_BLK_MAX_RANGE_SEGS, 4);
	rv_le_put(c + RV_VIRTIO_BLK_CFG_DISCARD_ALIGNMENT,
		  discard_alignment(b->blk), 4);
	rv_le_put(c + RV_VIRTIO_BLK_CFG_MAX_WZ_SECTORS,
		  RV_VIRTIO_BLK_MAX_RANGE_SECTORS, 4);
	rv_le_put(c + RV_VIRTIO_BLK_CFG_MAX_WZ_SEG,
		  RV_VIRTIO_BLK_MAX_RANGE_SEGS, 4);
	/* Both backends can free the space of zeroed ranges. */
	c[RV_VIRTIO_BLK_CFG_WZ_MAY_UNMAP] = 1;
}

static void blk_free(struct rv_virtio_blk *b)
{
	end_thread(b);
	if (b->vdev.ops)
		rv_virtio_pci_destroy(&b->vdev);
	if (b->stop_fd >= 0)
		close(b->stop_fd);
	rv__vblk_free_aio(b);
	rv_virtq_chain_free(&b->chain);
	free(b->data);
	pthread_cond_destroy(&b->park_cond);
	pthread_mutex_destroy(&b->park_lock);
	free(b);
}

int rv_virtio_blk_create(struct rv_vm *vm, struct rv_pci_bus *bus,
			 struct rv_blk *blk, const char *serial,
			 unsigned int index, struct rv_virtio_dev **out)
{
	struct rv_virtio_blk *b;
	size_t len;
	int rc;

	*out = NULL;
	if (!blk)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->blk = blk;
	b->index = index;
	b->sectors = blk->size / RV__VBLK_SECTOR;
	b->kick_fd = -1;
	pthread_mutex_init(&b->park_lock, NULL);
	pthread_cond_init(&b->park_cond, NULL);
	b->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->stop_fd < 0) {
		rc = -errno;
		goto err;
	}
	if (serial) {
		len = strnlen(serial, RV_VIRTIO_BLK_ID_BYTES);
		memcpy(b->serial, serial, len);
	}
	build_config(b);
	rc = rv_virtq_chain_init(&b->chain, RV__VBLK_CHAIN_SEGS);
	if (rc)
		goto err;
	b->data = calloc(RV__VBLK_CHAIN_SEGS, sizeof(*b->data));
	if (!b->data) {
		rc = -ENOMEM;
		goto err;
	}
	rc = rv__vblk_setup_aio(b);
	if (rc)
		goto err;
	rc = rv_virtio_pci_init(&b->vdev, vm, bus, &rv_virtio_blk_ops);
	if (rc) {
		rv_error("disks[%u]: cannot add the virtio-blk device: %s",
			 index, strerror(-rc));
		goto err;
	}
	/* Log lines name the disk as the user configured it. */
	len = strlen(b->vdev.name);
	snprintf(b->vdev.name + len, sizeof(b->vdev.name) - len, " (disks[%u])",
		 index);
	rc = rv_virtio_queue_eventfd(&b->vdev, 0);
	if (rc < 0) {
		rv_error("%s: cannot create the queue's eventfd: %s",
			 b->vdev.name, strerror(-rc));
		goto err;
	}
	b->kick_fd = rc;
	/* Parked until DRIVER_OK; started here, never on a vCPU thread. */
	rc = rv_thread_create_blocked(&b->thread, io_thread, b);
	if (rc) {
		rv_error("%s: cannot start the I/O thread: %s", b->vdev.name,
			 strerror(-rc));
		goto err;
	}
	b->thread_started = true;
	*out = &b->vdev;
	return 0;

err:
	blk_free(b);
	return rc;
}

void rv_virtio_blk_destroy(struct rv_virtio_dev *dev)
{
	if (!dev)
		return;
	blk_free(to_blk(dev));
}
