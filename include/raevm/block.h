/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_BLOCK_H
#define RAEVM_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "raevm/util.h"

/*
 * Disk images behind one interface (devices/block/): raw files and qcow2
 * v3 with backing chains. A disk is used by one I/O thread at a time; the
 * backends are not thread-safe on their own.
 *
 * Format is never guessed from a raw image's contents (a guest could write
 * a qcow2 header into its raw disk): callers name it, and a qcow2 backing
 * file's format comes from the backing-format header extension.
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
	uint64_t size;          /* virtual disk size in bytes */
	bool readonly;
	uint32_t block_size;    /* logical block size, 512 */
};

/*
 * Opens path as format. Everything that makes an image unusable is refused
 * here, with one line in err: a missing file, a truncated or corrupt
 * header, compressed or encrypted clusters, unknown incompatible feature
 * bits, a dirty image, a backing file that is missing or loops.
 */
int rv_blk_open(const char *path, enum rv_blk_format format, bool readonly,
		struct rv_blk **out, char *err, size_t errlen) RV_MUST_CHECK;
void rv_blk_close(struct rv_blk *blk);

/* Full transfers or a negative errno; offsets/lengths are checked. */
int rv_blk_preadv(struct rv_blk *blk, const struct iovec *iov, int iovcnt,
		  uint64_t offset) RV_MUST_CHECK;
int rv_blk_pwritev(struct rv_blk *blk, const struct iovec *iov, int iovcnt,
		   uint64_t offset) RV_MUST_CHECK;
/* Durable: returns once everything written before is on stable storage. */
int rv_blk_flush(struct rv_blk *blk) RV_MUST_CHECK;
int rv_blk_discard(struct rv_blk *blk, uint64_t offset,
		   uint64_t len) RV_MUST_CHECK;
int rv_blk_write_zeroes(struct rv_blk *blk, uint64_t offset, uint64_t len,
			bool may_unmap) RV_MUST_CHECK;

/* `raevmd img create`: a new image, optionally an overlay over backing. */
struct rv_blk_create_opts {
	enum rv_blk_format format;
	uint64_t size;              /* 0 with a backing file: its size */
	const char *backing;        /* NULL for none */
	enum rv_blk_format backing_format;
	uint32_t cluster_bits;      /* qcow2; 0 = 16 (64 KiB) */
};
int rv_blk_create(const char *path, const struct rv_blk_create_opts *opts,
		  char *err, size_t errlen) RV_MUST_CHECK;

const char *rv_blk_format_name(enum rv_blk_format format);
/* Parses "raw" / "qcow2"; -EINVAL otherwise. */
int rv_blk_parse_format(const char *name,
			enum rv_blk_format *out) RV_MUST_CHECK;

#endif
