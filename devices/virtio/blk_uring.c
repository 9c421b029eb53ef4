// SPDX-License-Identifier: Apache-2.0
/*
 * virtio-blk's io_uring path (see the comment at the top of blk.c): reads
 * and writes on raw disks are queued on the ring, submitted once per batch
 * and completed in the order the ring reports them. Everything here runs
 * on the disk's I/O thread, apart from set-up and teardown.
 */
#include "blk_int.h"

#include "raevm/block.h"
#include "raevm/log.h"
#include "raevm/virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Completes one reaped read or write: status, used ring. A short or failed
 * transfer (a file that shrank, EAGAIN, a real error) is redone by the
 * synchronous path, which reads zeros past the end of a file, retries
 * short counts and logs host errors. Returns 0, or -1 when the used ring
 * is broken. While the device is broken or stopping, nothing is pushed.
 */
static int finish(struct rv_virtio_blk *b, struct rv_virtq *q,
		  const struct rv_blk_aio_done *d, bool *pushed)
{
	struct rv__vblk_slot *s;
	bool write;
	uint8_t st = RV_VIRTIO_BLK_S_OK;
	uint32_t used = 1;
	int rc;

	/* Tags are slot indices this thread queued. */
	s = &b->slots[d->tag];
	b->free_slots[b->nr_free++] = (unsigned int)d->tag;
	if (b->broken || rv__vblk_stop_requested(b))
		return 0;
	write = s->req.type == RV_VIRTIO_BLK_T_OUT;
	if (d->res != (int64_t)s->req.data_len)
		st = rv__vblk_do_rw(b, &s->req, write);
	*s->req.status = st;
	if (!write && st == RV_VIRTIO_BLK_S_OK)
		used = (uint32_t)(s->req.data_len + 1);
	rc = rv_virtq_push(q, s->head, used);
	if (rc) {
		rv_virtio_queue_error(&b->vdev, 0, rc);
		return -1;
	}
	*pushed = true;
	return 0;
}

/*
 * Completes what the ring reports: everything outstanding with all,
 * at least one with wait, what is already there otherwise. Returns 0, or
 * -1 when the device broke (everything was still reaped).
 */
int rv__vblk_complete(struct rv_virtio_blk *b, struct rv_virtq *q, bool wait,
		      bool all, bool *pushed)
{
	int n, i, ret = 0;

	do {
		n = rv_blk_aio_reap(b->aio, b->done, RV__VBLK_AIO_DEPTH,
				    wait || all);
		if (n < 0) {
			/* Only a broken ring gets here; it cannot be waited on. */
			rv_error("%s: cannot reap block requests: %s",
				 b->vdev.name, strerror(-n));
			return -1;
		}
		for (i = 0; i < n; i++) {
			if (finish(b, q, &b->done[i], pushed))
				ret = -1;
		}
		if (ret)
			b->broken = true;
	} while (all && rv_blk_aio_inflight(b->aio) > 0);
	return ret;
}

/*
 * Queues a parsed IN or OUT on the ring, or completes a read at once when
 * the host has its data in memory. Returns 1 when it did either, 0 when
 * the request must run synchronously (a write-through write, a refused
 * one, not a read or write), or -1 when the device broke.
 */
int rv__vblk_queue_rw(struct rv_virtio_blk *b, struct rv_virtq *q,
		      struct rv__vblk_slot *s, uint16_t head, bool *pushed)
{
	bool write = s->req.type == RV_VIRTIO_BLK_T_OUT;
	int rc;

	if (s->req.type != RV_VIRTIO_BLK_T_IN && !write)
		return 0;
	if ((write && b->writethrough) || s->req.data_len == 0 ||
	    !rv__vblk_rw_ok(b, &s->req, write))
		return 0;
	/*
	 * Page-cache hits cost a copy: done here they skip the ring's
	 * bookkeeping, which measured slower on tmpfs (docs/devices.md).
	 */
	if (!write &&
	    rv_blk_aio_read_cached(b->aio, s->req.data, s->req.nr_data,
				   s->req.sector * RV__VBLK_SECTOR,
				   s->req.data_len) == 0) {
		*s->req.status = RV_VIRTIO_BLK_S_OK;
		rc = rv_virtq_push(q, head, (uint32_t)(s->req.data_len + 1));
		if (rc) {
			rv_virtio_queue_error(&b->vdev, 0, rc);
			return -1;
		}
		*pushed = true;
		return 1;
	}
	s->head = head;
	if (rv_blk_aio_queue(b->aio, write, s->req.data, s->req.nr_data,
			     s->req.sector * RV__VBLK_SECTOR,
			     (uint64_t)(s - b->slots)))
		return 0;
	b->nr_free--;
	return 1;
}

/*
 * Hands the queued reads and writes to the kernel and completes those that
 * finished at once (page-cache hits). Returns 0 or -1 (broken).
 */
int rv__vblk_submit(struct rv_virtio_blk *b, struct rv_virtq *q, bool *pushed)
{
	int rc;

	if (!b->aio || !rv_blk_aio_inflight(b->aio))
		return 0;
	rc = rv_blk_aio_submit(b->aio);
	if (rc) {
		/* Rare (no kernel memory): wait for everything instead. */
		rv_warn("%s: cannot submit block requests: %s; waiting for "
			"them",
			b->vdev.name, strerror(-rc));
		return rv__vblk_complete(b, q, false, true, pushed);
	}
	return rv__vblk_complete(b, q, false, false, pushed);
}

/*
 * The io_uring path for raw disks. Failing to set it up is not an error:
 * requests then run synchronously, and the user learns why in one line.
 */
int rv__vblk_setup_aio(struct rv_virtio_blk *b)
{
	unsigned int i;
	int rc;

	rc = rv_blk_aio_create(b->blk, RV__VBLK_AIO_DEPTH, &b->aio);
	if (rc == -EOPNOTSUPP)
		return 0;
	if (rc == -ENOMEM)
		return rc;
	if (rc) {
		rv_info("disks[%u]: io_uring is not available (%s); requests "
			"run one at a time",
			b->index, strerror(-rc));
		return 0;
	}
	b->slots = calloc(RV__VBLK_AIO_DEPTH, sizeof(*b->slots));
	b->free_slots = calloc(RV__VBLK_AIO_DEPTH, sizeof(*b->free_slots));
	b->done = calloc(RV__VBLK_AIO_DEPTH, sizeof(*b->done));
	if (!b->slots || !b->free_slots || !b->done)
		return -ENOMEM;
	for (i = 0; i < RV__VBLK_AIO_DEPTH; i++) {
		/* Untouched until used: the pages cost nothing before. */
		b->slots[i].iov =
			calloc(RV__VBLK_CHAIN_SEGS, sizeof(struct iovec));
		if (!b->slots[i].iov)
			return -ENOMEM;
		b->free_slots[i] = RV__VBLK_AIO_DEPTH - 1 - i;
	}
	b->nr_free = RV__VBLK_AIO_DEPTH;
	return 0;
}

void rv__vblk_free_aio(struct rv_virtio_blk *b)
{
	unsigned int i;

	rv_blk_aio_destroy(b->aio);
	if (b->slots) {
		for (i = 0; i < RV__VBLK_AIO_DEPTH; i++)
			free(b->slots[i].iov);
	}
	free(b->slots);
	free(b->free_slots);
	free(b->done);
}
