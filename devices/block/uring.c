// SPDX-License-Identifier: Apache-2.0
/*
 * Asynchronous reads and writes of raw disks through io_uring (liburing),
 * for a device that keeps many requests in flight from one thread
 * (virtio-blk's I/O thread): a guest's queue depth reaches the host's
 * disk instead of becoming one synchronous preadv at a time.
 *
 * Only raw images: their disk offsets are file offsets, so a request is
 * one readv/writev on the file and the backend's state is not involved.
 * Each request goes to the descriptor raw.c picks for it: O_DIRECT when
 * the disk has one and the request is aligned (the device reads straight
 * into guest memory, and io_uring issues it without a kernel worker), the
 * buffered one otherwise. Files in memory (tmpfs) are refused: their reads
 * and writes never wait for a device, and io_uring hands every one of them
 * to a kernel worker thread (tmpfs has no non-blocking reads), which
 * measured at less than half the speed of a plain preadv
 * (docs/performance.md).
 * qcow2 maps offsets through tables it updates and caches (not
 * thread-safe, and not re-entrant while a request is in flight), so it
 * stays on the synchronous path.
 *
 * The ring is created when the device is set up (before any sandbox), and
 * used afterwards by one thread at a time. The number of requests queued
 * or in flight never exceeds the depth, and the completion ring holds
 * twice that, so completions are never dropped.
 *
 * Seccomp sees io_uring_enter(), never the operations a ring carries: a
 * compromised I/O thread could queue openat, socket or connect on it. So
 * the ring starts disabled, is restricted to the operations listed in
 * ring_rules below (with no sqe flag and no registration after start),
 * and only then enabled, all before the sandbox denies io_uring_setup and
 * io_uring_register. A kernel without restrictions (before 5.10: EINVAL)
 * gets no ring at all and the disk runs on the synchronous path
 * (docs/security.md).
 */
#include "block_int.h"

#include "raevm/log.h"

#include <errno.h>
#include <limits.h>
#include <liburing.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct rv_blk_aio {
	struct io_uring ring;
	struct rv_blk *blk;
	int event_fd; /* signalled when completions are posted */
	unsigned int depth;
	unsigned int inflight; /* queued or submitted, not yet reaped */
	bool no_nowait;	       /* the file system refused RWF_NOWAIT */
};

/*
 * Everything the ring may ever carry, one line of reason each. The kernel
 * fails any other opcode, and any sqe flag, with -EACCES in its
 * completion; no register opcode is listed, so none is allowed once the
 * ring runs.
 */
static const struct io_uring_restriction ring_rules[] = {
	/* Guest reads (rv_blk_aio_queue()). */
	{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_READV },
	/* Guest writes; flushes, discards stay on the synchronous path. */
	{ .opcode = IORING_RESTRICTION_SQE_OP, .sqe_op = IORING_OP_WRITEV },
	/* No fixed files or buffers, links, drains or forced async work. */
	{ .opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED, .sqe_flags = 0 },
};

int rv__blk_uring_init(struct io_uring *ring, unsigned int entries,
		       int event_fd)
{
	int rc;

	rc = io_uring_queue_init(entries, ring, IORING_SETUP_R_DISABLED);
	if (rc == -EINVAL) {
		rv_debug("io_uring: no disabled rings (kernel before 5.10); "
			 "not used");
		return -EOPNOTSUPP;
	}
	if (rc < 0)
		return rc;
	/*
	 * Plain (not "async only") eventfd notification: completions of
	 * buffered reads that waited for the page cache, and of direct I/O,
	 * are posted from task work, which the async-only mode ignores.
	 * Registered now: nothing may be registered once the ring runs.
	 */
	if (event_fd >= 0) {
		rc = io_uring_register_eventfd(ring, event_fd);
		if (rc < 0)
			goto err_ring;
	}
	/*
	 * Through io_uring_register() itself: Debian's liburing 2.3 declares
	 * io_uring_register_restrictions() and io_uring_enable_rings() but
	 * its shared library does not export them.
	 */
	rc = io_uring_register((unsigned int)ring->ring_fd,
			       IORING_REGISTER_RESTRICTIONS, ring_rules,
			       RV_ARRAY_SIZE(ring_rules));
	if (rc == -EINVAL) {
		rv_debug(
			"io_uring: the kernel cannot restrict rings; not used");
		rc = -EOPNOTSUPP;
	}
	if (rc < 0)
		goto err_ring;
	rc = io_uring_register((unsigned int)ring->ring_fd,
			       IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (rc < 0)
		goto err_ring;
	return 0;

err_ring:
	io_uring_queue_exit(ring);
	return rc;
}

int rv_blk_aio_create(struct rv_blk *blk, unsigned int depth,
		      struct rv_blk_aio **out)
{
	struct rv_blk_aio *a;
	int fd, rc;

	*out = NULL;
	if (!blk || depth == 0 || depth > 4096)
		return -EINVAL;
	fd = rv__blk_raw_fd(blk);
	if (fd < 0)
		return fd;
	if (rv__blk_raw_in_memory(blk))
		return -EOPNOTSUPP;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->blk = blk;
	a->depth = depth;
	a->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->event_fd < 0) {
		rc = -errno;
		goto err_free;
	}
	rc = rv__blk_uring_init(&a->ring, depth, a->event_fd);
	if (rc < 0)
		goto err_close;
	*out = a;
	return 0;

err_close:
	close(a->event_fd);
err_free:
	free(a);
	return rc;
}

void rv_blk_aio_destroy(struct rv_blk_aio *aio)
{
	if (!aio)
		return;
	/* Callers drain first; exiting the ring cancels anything left. */
	io_uring_queue_exit(&aio->ring);
	close(aio->event_fd);
	free(aio);
}

int rv_blk_aio_event_fd(const struct rv_blk_aio *aio)
{
	return aio->event_fd;
}

unsigned int rv_blk_aio_inflight(const struct rv_blk_aio *aio)
{
	return aio->inflight;
}

bool rv_blk_aio_full(const struct rv_blk_aio *aio)
{
	return aio->inflight >= aio->depth;
}

int rv_blk_aio_queue(struct rv_blk_aio *aio, bool write,
		     const struct iovec *iov, int iovcnt, uint64_t offset,
		     uint64_t tag)
{
	struct io_uring_sqe *sqe;
	uint64_t len = 0;
	bool direct;
	int i, fd;

	if (iovcnt <= 0 || iovcnt > IOV_MAX)
		return -EINVAL;
	for (i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > UINT64_MAX - len)
			return -EINVAL;
		len += iov[i].iov_len;
	}
	/* The same checks rv_blk_preadv() makes, kept here as well. */
	if (offset > aio->blk->size || len > aio->blk->size - offset)
		return -EINVAL;
	if (write && aio->blk->readonly)
		return -EROFS;
	if (aio->inflight >= aio->depth)
		return -EBUSY;
	fd = rv__blk_raw_io_fd(aio->blk, iov, iovcnt, offset, &direct);
	if (fd < 0)
		return fd;
	sqe = io_uring_get_sqe(&aio->ring);
	if (!sqe)
		return -EBUSY;
	if (write)
		io_uring_prep_writev(sqe, fd, iov, (unsigned int)iovcnt,
				     offset);
	else
		io_uring_prep_readv(sqe, fd, iov, (unsigned int)iovcnt, offset);
	io_uring_sqe_set_data64(sqe, tag);
	aio->inflight++;
	return 0;
}

int rv_blk_aio_read_cached(struct rv_blk_aio *aio, const struct iovec *iov,
			   int iovcnt, uint64_t offset, uint64_t len)
{
	bool direct;
	ssize_t n;
	int fd;

	if (iovcnt <= 0 || iovcnt > IOV_MAX || offset > aio->blk->size ||
	    len > aio->blk->size - offset)
		return -EINVAL;
	/*
	 * A direct read never finds its data in the page cache, and a file
	 * system without non-blocking reads says so every time: no system
	 * call for either.
	 */
	fd = rv__blk_raw_io_fd(aio->blk, iov, iovcnt, offset, &direct);
	if (fd < 0 || direct || aio->no_nowait)
		return -EAGAIN;
	n = preadv2(fd, iov, iovcnt, (off_t)offset, RWF_NOWAIT);
	if (n < 0 && errno == EOPNOTSUPP)
		aio->no_nowait = true;
	/* Short: part of the range is not cached (or the file shrank). */
	if (n < 0 || (uint64_t)n != len)
		return -EAGAIN;
	return 0;
}

int rv_blk_aio_submit(struct rv_blk_aio *aio)
{
	int rc;

	do {
		rc = io_uring_submit(&aio->ring);
	} while (rc == -EINTR);
	return rc < 0 ? rc : 0;
}

int rv_blk_aio_reap(struct rv_blk_aio *aio, struct rv_blk_aio_done *done,
		    unsigned int max, bool wait)
{
	struct io_uring_cqe *cqe;
	unsigned int n = 0;
	int rc;

	if (wait && aio->inflight > 0 && max > 0) {
		/* Submits whatever is queued, then sleeps for one. */
		do {
			rc = io_uring_submit_and_wait(&aio->ring, 1);
		} while (rc == -EINTR || rc == -EAGAIN);
		if (rc < 0)
			return rc;
	}
	while (n < max && io_uring_peek_cqe(&aio->ring, &cqe) == 0 && cqe) {
		done[n].tag = io_uring_cqe_get_data64(cqe);
		done[n].res = cqe->res;
		io_uring_cqe_seen(&aio->ring, cqe);
		aio->inflight--;
		n++;
	}
	return (int)n;
}
