/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_VIRTIO_BLK_INT_H
#define RAEVM_VIRTIO_BLK_INT_H

/*
 * Shared between the two halves of the virtio-blk device: blk.c owns the
 * device, its I/O thread and the synchronous requests, blk_uring.c the
 * io_uring path for reads and writes on raw disks. Not for use outside
 * devices/virtio/.
 */
#include "raevm/block.h"
#include "raevm/virtio.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define RV__VBLK_SECTOR 512u
#define RV__VBLK_CHAIN_SEGS RV_VIRTIO_BLK_QUEUE_SIZE
/* Reads and writes in flight at once on the io_uring path. */
#define RV__VBLK_AIO_DEPTH 64u

struct rv_virtio_blk {
	struct rv_virtio_dev vdev; /* first: rv_container_of */
	struct rv_blk *blk;	   /* borrowed; see the top of blk.c */
	unsigned int index;
	uint64_t sectors; /* capacity in 512-byte sectors */
	uint64_t features;
	uint8_t serial[RV_VIRTIO_BLK_ID_BYTES];
	uint8_t config[RV_VIRTIO_BLK_CONFIG_SIZE];

	/*
	 * Written by activate() before it wakes the thread, read by the
	 * thread: park_lock orders the two.
	 */
	uint64_t acked;	   /* device features the driver accepted */
	bool writethrough; /* FLUSH not negotiated: every write is durable */

	/*
	 * The I/O thread starts at creation and stays parked until the
	 * driver sets DRIVER_OK (sandbox.h: no thread is started from a vCPU
	 * thread). Under park_lock: want_active (activate and reset, with
	 * dev->lock held), is_active (the thread), quit (destroy).
	 */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t park_lock;
	pthread_cond_t park_cond;
	bool want_active;
	bool is_active;
	bool quit;
	bool running; /* activate() ran and reset() has not; under dev->lock */
	int kick_fd;  /* the queue's ioeventfd, owned by the transport */
	int stop_fd;
	bool stopping; /* atomic: the thread should leave the queue alone */

	/* The I/O thread's own state. */
	bool broken; /* NEEDS_RESET raised; nothing more until reset */
	struct rv_virtq_chain chain;
	struct iovec *data; /* the request's data, RV__VBLK_CHAIN_SEGS entries */
	uint64_t err_log_ns;
	unsigned int err_suppressed;

	/*
	 * The io_uring path (NULL aio: every request is synchronous). Made
	 * at creation and used by the I/O thread only; it reaps every slot
	 * before it returns, so a new thread finds them all free.
	 */
	struct rv_blk_aio *aio;
	struct rv__vblk_slot *slots; /* RV__VBLK_AIO_DEPTH */
	unsigned int *free_slots;    /* a stack of indices into slots */
	unsigned int nr_free;
	struct rv_blk_aio_done *done; /* RV__VBLK_AIO_DEPTH */
};

/* One parsed request; the pointers go into guest RAM. */
struct rv__vblk_req {
	uint32_t type;
	uint64_t sector;
	uint8_t *status;
	struct iovec *data;
	int nr_data;
	uint64_t data_len;
};

/* A read or write in flight on the io_uring path. */
struct rv__vblk_slot {
	struct rv__vblk_req req; /* req.data points at iov */
	uint16_t head;
	/* RV__VBLK_CHAIN_SEGS entries, stable while in flight. */
	struct iovec *iov;
};

static inline bool rv__vblk_stop_requested(struct rv_virtio_blk *b)
{
	return __atomic_load_n(&b->stopping, __ATOMIC_ACQUIRE);
}

/* In blk.c. */
bool rv__vblk_rw_ok(const struct rv_virtio_blk *b, const struct rv__vblk_req *r,
		    bool write);
uint8_t rv__vblk_do_rw(struct rv_virtio_blk *b, const struct rv__vblk_req *r,
		       bool write);

/* In blk_uring.c; every one is for the I/O thread only. */
int rv__vblk_complete(struct rv_virtio_blk *b, struct rv_virtq *q, bool wait,
		      bool all, bool *pushed);
int rv__vblk_queue_rw(struct rv_virtio_blk *b, struct rv_virtq *q,
		      struct rv__vblk_slot *s, uint16_t head, bool *pushed);
int rv__vblk_submit(struct rv_virtio_blk *b, struct rv_virtq *q, bool *pushed);
int rv__vblk_setup_aio(struct rv_virtio_blk *b);
void rv__vblk_free_aio(struct rv_virtio_blk *b);

#endif /* RAEVM_VIRTIO_BLK_INT_H */
