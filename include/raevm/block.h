/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_BLOCK_H
#define RAEVM_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "raevm/util.h"

/*
 * Disk images behind one interface (devices/block/): raw files and block
 * devices, and qcow2 (v3, and v2 images made by older tools) with backing
 * chains of either format.
 *
 * Threads: a disk is used by one thread at a time (its I/O thread); the
 * backends keep caches and scratch buffers in the rv_blk and are not
 * thread-safe. Two rv_blk for the same file in one process are refused like
 * two processes are: writable images hold an exclusive OFD lock, read-only
 * ones (and backing files) a shared one.
 *
 * Format is never guessed from a raw image's contents (a guest could write
 * a qcow2 header into its raw disk): callers name it, and a qcow2 backing
 * file's format comes from the backing-format header extension (raw when
 * the image does not record one).
 *
 * Errors: every call returns 0 or a negative errno. -EINVAL: a range past
 * the end of the disk, an overflowing length or more than IOV_MAX iovecs;
 * -EROFS: a write, discard or write-zeroes on a read-only disk; -EIO: qcow2
 * metadata found corrupt while running, or a metadata write failed earlier
 * (after that the image refuses writes until it is reopened); anything else
 * is the host's errno from the file (-ENOSPC, -EIO, ...).
 */
enum rv_blk_format {
	RV_BLK_RAW,
	RV_BLK_QCOW2,
};

struct rv_blk;

struct rv_blk_ops {
	const char *name;
	int (*preadv)(struct rv_blk *blk, const struct iovec *iov, int iovcnt,
		      uint64_t offset);
	int (*pwritev)(struct rv_blk *blk, const struct iovec *iov, int iovcnt,
		       uint64_t offset);
	int (*flush)(struct rv_blk *blk);
	int (*discard)(struct rv_blk *blk, uint64_t offset, uint64_t len);
	int (*write_zeroes)(struct rv_blk *blk, uint64_t offset, uint64_t len,
			    bool may_unmap);
	void (*close)(struct rv_blk *blk);
};

struct rv_blk {
	const struct rv_blk_ops *ops;
	enum rv_blk_format format;
	char *path;
	uint64_t size; /* virtual disk size in bytes */
	bool readonly;
	uint32_t block_size; /* logical block size, 512 */
	/*
	 * Aligned reads and writes bypass the host's page cache (O_DIRECT;
	 * raw images on file systems that take it; devices/block/raw.c).
	 */
	bool direct;
};

/*
 * Opens path as format. Everything that makes an image unusable is refused
 * here, with one line in err: a missing file, a truncated or corrupt
 * header, compressed or encrypted clusters, unknown incompatible feature
 * bits, a dirty image, a backing file that is missing or loops. The line
 * starts with the image's path in quotes ("'disk.qcow2': image is dirty:
 * ..."), so callers prefix only what the image is ("disks[0]: ").
 * Opening a qcow2 image reads its L1 table, every L2 table and refcount
 * block (about 1/8192 of the allocated data with 64 KiB clusters) to check
 * them before the guest runs.
 * A raw image opened here (not as a backing file) bypasses the host's page
 * cache for aligned transfers where its file system allows (blk->direct;
 * not in tmpfs); unaligned ones still work, through the page cache.
 */
int rv_blk_open(const char *path, enum rv_blk_format format, bool readonly,
		struct rv_blk **out, char *err, size_t errlen) RV_MUST_CHECK;
void rv_blk_close(struct rv_blk *blk);

/*
 * Full transfers or a negative errno; offsets/lengths are checked against
 * blk->size (byte granular: no alignment is required). The iovecs are not
 * modified. Reads of never-written qcow2 clusters return the backing file's
 * data, or zeros past its end.
 */
int rv_blk_preadv(struct rv_blk *blk, const struct iovec *iov, int iovcnt,
		  uint64_t offset) RV_MUST_CHECK;
int rv_blk_pwritev(struct rv_blk *blk, const struct iovec *iov, int iovcnt,
		   uint64_t offset) RV_MUST_CHECK;
/*
 * Durable: returns 0 once every write that completed before the call (data
 * and the qcow2 metadata that maps it) is on stable storage (fdatasync).
 * Writes that completed without a later flush may be lost by a crash, but a
 * qcow2 image stays consistent: at worst it leaks clusters.
 */
int rv_blk_flush(struct rv_blk *blk) RV_MUST_CHECK;
/*
 * A hint: the range's contents become unspecified and its space may be
 * given back (raw: punched hole; qcow2: whole clusters deallocated, partial
 * ones left alone). Returns 0 when the file system cannot punch holes.
 */
int rv_blk_discard(struct rv_blk *blk, uint64_t offset,
		   uint64_t len) RV_MUST_CHECK;
/*
 * The range reads as zeros afterwards. may_unmap lets the backend free the
 * space (punch a hole, drop qcow2 clusters); without it allocated space
 * stays allocated (qcow2: the zero flag over the existing cluster).
 */
int rv_blk_write_zeroes(struct rv_blk *blk, uint64_t offset, uint64_t len,
			bool may_unmap) RV_MUST_CHECK;

/*
 * `raevmd img create`: a new image, optionally an overlay over backing.
 * The file must not exist yet (-EEXIST). backing is stored in the header as
 * given and, when relative, names a file in the new image's folder.
 */
struct rv_blk_create_opts {
	enum rv_blk_format format;
	uint64_t size;	     /* 0 with a backing file: its size */
	const char *backing; /* NULL for none */
	enum rv_blk_format backing_format;
	uint32_t cluster_bits; /* qcow2; 0 = 16 (64 KiB) */
};
int rv_blk_create(const char *path, const struct rv_blk_create_opts *opts,
		  char *err, size_t errlen) RV_MUST_CHECK;

/*
 * `raevmd img info`: what an image's header says, without the refusals of
 * rv_blk_open() (a dirty or compressed image can be described) and without
 * following the backing file (backing_path names it for the next call).
 */
struct rv_blk_info {
	enum rv_blk_format format;
	uint64_t virtual_size;
	uint64_t file_size;  /* bytes, as stat reports */
	uint64_t disk_usage; /* bytes allocated on the host */
	uint64_t dev, ino;   /* to detect loops in a chain */
	/* qcow2 only: */
	uint32_t version;
	uint32_t cluster_size;
	uint32_t refcount_bits;
	uint32_t nb_snapshots;
	uint32_t crypt_method;
	uint64_t incompatible, compatible, autoclear;
	bool dirty, corrupt;
	bool has_backing;
	bool backing_format_recorded; /* false: "raw" is assumed */
	char backing_format[32]; /* as recorded, maybe one we cannot open */
	char backing[1024];	 /* as written in the header */
	char backing_path[4096]; /* resolved against the image's folder */
};
int rv_blk_query(const char *path, enum rv_blk_format format,
		 struct rv_blk_info *info, char *err,
		 size_t errlen) RV_MUST_CHECK;
/* The format of an image from its first bytes: for `img info` only. */
int rv_blk_probe_format(const char *path, enum rv_blk_format *out, char *err,
			size_t errlen) RV_MUST_CHECK;

const char *rv_blk_format_name(enum rv_blk_format format);
/* Parses "raw" / "qcow2"; -EINVAL otherwise. */
int rv_blk_parse_format(const char *name,
			enum rv_blk_format *out) RV_MUST_CHECK;

/*
 * Asynchronous reads and writes of a raw disk through io_uring
 * (devices/block/uring.c), so that one thread can keep many requests in
 * flight. rv_blk_aio_create() returns -EOPNOTSUPP for formats other than
 * raw (qcow2 maps offsets through state that is not thread-safe) and for
 * raw files in memory (tmpfs, ramfs: a synchronous transfer never waits
 * for a device there, and is much cheaper than the ring) and on kernels
 * that cannot restrict a ring to readv and writev (before 5.10), and the
 * kernel's error when io_uring is not available (old kernel, seccomp):
 * callers then use rv_blk_preadv()/pwritev(). At most depth requests are
 * queued or in flight. One thread at a time uses an rv_blk_aio, and the
 * iovecs, and the memory they describe, must stay valid until the
 * request is reaped. Callers reap every request before destroying it.
 */
struct rv_blk_aio;

struct rv_blk_aio_done {
	uint64_t tag; /* as queued */
	int64_t res;  /* bytes transferred (maybe short), or -errno */
};

int rv_blk_aio_create(struct rv_blk *blk, unsigned int depth,
		      struct rv_blk_aio **out) RV_MUST_CHECK;
void rv_blk_aio_destroy(struct rv_blk_aio *aio);
/* An eventfd that becomes readable when completions are posted. */
int rv_blk_aio_event_fd(const struct rv_blk_aio *aio);
unsigned int rv_blk_aio_inflight(const struct rv_blk_aio *aio);
bool rv_blk_aio_full(const struct rv_blk_aio *aio);
/*
 * Queues one readv or writev; nothing reaches the kernel before
 * rv_blk_aio_submit(). The range is checked like rv_blk_preadv() does
 * (-EINVAL, -EROFS); -EBUSY when depth requests are outstanding.
 */
int rv_blk_aio_queue(struct rv_blk_aio *aio, bool write,
		     const struct iovec *iov, int iovcnt, uint64_t offset,
		     uint64_t tag) RV_MUST_CHECK;
int rv_blk_aio_submit(struct rv_blk_aio *aio) RV_MUST_CHECK;
/*
 * Reads len bytes (the iovecs' total) at offset right away when all of
 * them are in the page cache (preadv2 with RWF_NOWAIT): 0 when done,
 * -EAGAIN when the read would block or came up short, or would go to
 * the disk's O_DIRECT descriptor (never cached), and the caller queues it
 * instead. Cheaper than a trip through the ring for data the
 * host already holds in memory.
 */
int rv_blk_aio_read_cached(struct rv_blk_aio *aio, const struct iovec *iov,
			   int iovcnt, uint64_t offset,
			   uint64_t len) RV_MUST_CHECK;
/*
 * Moves up to max completions into done and returns their count, or a
 * negative errno. With wait, submits what is queued and sleeps until at
 * least one request completes (returns 0 at once if none is outstanding).
 */
int rv_blk_aio_reap(struct rv_blk_aio *aio, struct rv_blk_aio_done *done,
		    unsigned int max, bool wait) RV_MUST_CHECK;

#endif
