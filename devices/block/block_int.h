/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_BLOCK_INT_H
#define RAEVM_BLOCK_INT_H

/*
 * What the block backends (raw.c, qcow2*.c) share with block.c and with
 * each other. Nothing outside devices/block/ includes this header.
 */
#include "raevm/block.h"

#include <stdarg.h>
#include <sys/types.h>

/* Backing chains longer than this are refused (they are also slow). */
#define RV_BLK_MAX_CHAIN 16

/*
 * The images opened so far on the way down a backing chain, so that a file
 * that appears twice (a loop) is refused and the depth is bounded.
 */
struct rv__blk_chain {
	int depth;
	dev_t dev[RV_BLK_MAX_CHAIN + 1];
	ino_t ino[RV_BLK_MAX_CHAIN + 1];
};

/*
 * Opens path (regular file or block device) with an OFD lock (shared for
 * read-only use, exclusive for writing) and records it in chain. Below
 * the top of a chain (chain->depth > 0: a backing file, whose name
 * rv__blk_resolve_backing() canonicalised) only regular files are taken,
 * and a symbolic link that appeared in the path since is refused. On success
 * *fd is the descriptor and *size the file or device size.
 */
int rv__blk_open_file(const char *path, bool readonly,
		      struct rv__blk_chain *chain, int *fd, uint64_t *size,
		      bool *is_blockdev, char *err,
		      size_t errlen) RV_MUST_CHECK;

/* Opens one image of a chain; rv_blk_open() starts with an empty chain. */
int rv__blk_open_chain(const char *path, enum rv_blk_format format,
		       bool readonly, struct rv__blk_chain *chain,
		       struct rv_blk **out, char *err,
		       size_t errlen) RV_MUST_CHECK;

int rv__blk_raw_open(const char *path, bool readonly,
		     struct rv__blk_chain *chain, struct rv_blk **out,
		     char *err, size_t errlen) RV_MUST_CHECK;
/* A raw disk's file descriptor (devices/block/uring.c); -EOPNOTSUPP else. */
int rv__blk_raw_fd(struct rv_blk *blk);
/*
 * The descriptor one transfer of a raw disk should use: the O_DIRECT one
 * (*direct set) when the disk has one and the offset, lengths and buffers
 * are aligned for it, the buffered one otherwise; -EOPNOTSUPP for other
 * formats.
 */
int rv__blk_raw_io_fd(struct rv_blk *blk, const struct iovec *iov, int iovcnt,
		      uint64_t offset, bool *direct);
/* Whether a raw disk's file lives in memory (tmpfs, ramfs). */
bool rv__blk_raw_in_memory(struct rv_blk *blk);

struct io_uring;
/*
 * Sets up ring (entries deep) the way rv_blk_aio_create() uses it
 * (uring.c): completions signal event_fd (none when negative), and the
 * kernel refuses everything but readv and writev without sqe flags, with
 * -EACCES in the completion. -EOPNOTSUPP when the kernel cannot restrict
 * a ring (logged at debug level); another -errno when it has no io_uring.
 */
int rv__blk_uring_init(struct io_uring *ring, unsigned int entries,
		       int event_fd) RV_MUST_CHECK;
int rv__blk_qcow2_open(const char *path, bool readonly,
		       struct rv__blk_chain *chain, struct rv_blk **out,
		       char *err, size_t errlen) RV_MUST_CHECK;
int rv__blk_qcow2_create(const char *path, const struct rv_blk_create_opts *o,
			 uint64_t size, char *err, size_t errlen) RV_MUST_CHECK;
int rv__blk_qcow2_query(const char *path, int fd, struct rv_blk_info *info,
			char *err, size_t errlen) RV_MUST_CHECK;

/*
 * Resolves a backing file name as written in image's header: absolute
 * names stay, relative ones name a file in image's folder. -ENAMETOOLONG
 * when out is too small.
 */
int rv__blk_resolve(const char *image, const char *name, char *out,
		    size_t outlen) RV_MUST_CHECK;

/*
 * Resolves and confines a backing file name written in image's header:
 * after resolving it against image's folder and canonicalising it, it must
 * name a regular file inside that folder or below it. On success out holds
 * the canonical path; otherwise err holds the refusal ("'image': ...") and
 * the result is -EPERM, or -errno when the name does not resolve.
 */
int rv__blk_resolve_backing(const char *image, const char *name, char *out,
			    size_t outlen, char *err,
			    size_t errlen) RV_MUST_CHECK;

/* Writes "'path': <message>" into err (truncated to errlen). */
void rv__blk_err(char *err, size_t errlen, const char *path, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));

/* A short lower-case description of an errno for error lines. */
const char *rv__blk_strerror(int err);

/*
 * Full transfers with retries on EINTR and short counts. Reads past the end
 * of the file fill the rest with zeros (a qcow2 cluster may end past EOF; a
 * raw file may shrink under us). Return 0 or a negative errno.
 */
int rv__blk_preadv_full(int fd, const struct iovec *iov, int iovcnt,
			uint64_t offset) RV_MUST_CHECK;
int rv__blk_pwritev_full(int fd, const struct iovec *iov, int iovcnt,
			 uint64_t offset) RV_MUST_CHECK;
int rv__blk_pread_full(int fd, void *buf, size_t len,
		       uint64_t offset) RV_MUST_CHECK;
int rv__blk_pwrite_full(int fd, const void *buf, size_t len,
			uint64_t offset) RV_MUST_CHECK;

/* Sum of the iovec lengths; -EINVAL (as a huge value check) is the caller's. */
uint64_t rv__blk_iov_len(const struct iovec *iov, int iovcnt);

/*
 * Describes bytes [skip, skip + len) of iov in dst (at most dstmax entries)
 * and returns the entry count, or -EINVAL when the range does not fit.
 */
int rv__blk_iov_slice(const struct iovec *iov, int iovcnt, uint64_t skip,
		      uint64_t len, struct iovec *dst, int dstmax);

/* Fills bytes [skip, skip + len) of iov with zeros. */
void rv__blk_iov_zero(const struct iovec *iov, int iovcnt, uint64_t skip,
		      uint64_t len);

/* Copies bytes [skip, skip + len) of iov into buf. */
void rv__blk_iov_to_buf(const struct iovec *iov, int iovcnt, uint64_t skip,
			void *buf, uint64_t len);

#endif
