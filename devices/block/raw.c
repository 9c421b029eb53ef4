// SPDX-License-Identifier: Apache-2.0
/*
 * Raw images: the disk is the file (or block device) byte for byte. Reads
 * and writes are preadv/pwritev on the page cache; flush is fdatasync.
 * Discard and write-zeroes use fallocate where the file system has it and
 * fall back to ioctls (block devices) or to writing zeros.
 */
#include "block_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct raw {
	struct rv_blk blk;
	int fd;
	bool blockdev;
};

static struct raw *to_raw(struct rv_blk *blk)
{
	return rv_container_of(blk, struct raw, blk);
}

static int raw_preadv(struct rv_blk *blk, const struct iovec *iov, int iovcnt,
		      uint64_t offset)
{
	return rv__blk_preadv_full(to_raw(blk)->fd, iov, iovcnt, offset);
}

static int raw_pwritev(struct rv_blk *blk, const struct iovec *iov, int iovcnt,
		       uint64_t offset)
{
	return rv__blk_pwritev_full(to_raw(blk)->fd, iov, iovcnt, offset);
}

static int raw_flush(struct rv_blk *blk)
{
	return fdatasync(to_raw(blk)->fd) < 0 ? -errno : 0;
}

/* fallocate() that reports "not supported here" as -EOPNOTSUPP. */
static int falloc(int fd, int mode, uint64_t offset, uint64_t len)
{
	int rc;

	do {
		rc = fallocate(fd, mode, (off_t)offset, (off_t)len);
	} while (rc < 0 && errno == EINTR);
	if (rc == 0)
		return 0;
	if (errno == EOPNOTSUPP || errno == ENOSYS || errno == ENODEV)
		return -EOPNOTSUPP;
	return -errno;
}

/* A device ioctl over a byte range (BLKDISCARD, BLKZEROOUT). */
static int range_ioctl(int fd, unsigned long req, uint64_t offset, uint64_t len)
{
	uint64_t range[2] = { offset, len };

	if (ioctl(fd, req, range) == 0)
		return 0;
	if (errno == EOPNOTSUPP || errno == ENOTTY || errno == EINVAL)
		return -EOPNOTSUPP;
	return -errno;
}

static int raw_discard(struct rv_blk *blk, uint64_t offset, uint64_t len)
{
	struct raw *r = to_raw(blk);
	int rc;

	/* Devices take whole sectors only; a partial one is left alone. */
	if (r->blockdev && (offset % 512 || len % 512))
		return 0;
	rc = falloc(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset,
		    len);
	if (rc == -EOPNOTSUPP && r->blockdev)
		rc = range_ioctl(r->fd, BLKDISCARD, offset, len);
	/* Discard is a hint: a file system that cannot punch holes is fine. */
	return rc == -EOPNOTSUPP ? 0 : rc;
}

static int write_zero_bytes(int fd, uint64_t offset, uint64_t len)
{
	static const uint8_t zeros[64 * 1024];
	int rc;

	while (len > 0) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);

		rc = rv__blk_pwrite_full(fd, zeros, n, offset);
		if (rc)
			return rc;
		offset += n;
		len -= n;
	}
	return 0;
}

/*
 * Tries the cheapest way first: a punched hole when the space may go, then
 * ZERO_RANGE (keeps the blocks), then a hole refilled by a plain fallocate
 * (tmpfs has no ZERO_RANGE), then BLKZEROOUT on devices, then zeros.
 */
static int raw_write_zeroes(struct rv_blk *blk, uint64_t offset, uint64_t len,
			    bool may_unmap)
{
	struct raw *r = to_raw(blk);
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	int rc;

	if (r->blockdev && (offset % 512 || len % 512))
		return write_zero_bytes(r->fd, offset, len);
	if (may_unmap && !r->blockdev) {
		rc = falloc(r->fd, punch, offset, len);
		if (rc != -EOPNOTSUPP)
			return rc;
	}
	rc = falloc(r->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset,
		    len);
	if (rc != -EOPNOTSUPP)
		return rc;
	if (!r->blockdev) {
		rc = falloc(r->fd, punch, offset, len);
		if (rc == 0)
			rc = falloc(r->fd, FALLOC_FL_KEEP_SIZE, offset, len);
		if (rc != -EOPNOTSUPP)
			return rc;
	} else {
		rc = range_ioctl(r->fd, BLKZEROOUT, offset, len);
		if (rc != -EOPNOTSUPP)
			return rc;
	}
	return write_zero_bytes(r->fd, offset, len);
}

static void raw_close(struct rv_blk *blk)
{
	struct raw *r = to_raw(blk);

	close(r->fd);
	free(r->blk.path);
	free(r);
}

static const struct rv_blk_ops raw_ops = {
	.name = "raw",
	.preadv = raw_preadv,
	.pwritev = raw_pwritev,
	.flush = raw_flush,
	.discard = raw_discard,
	.write_zeroes = raw_write_zeroes,
	.close = raw_close,
};

int rv__blk_raw_fd(struct rv_blk *blk)
{
	if (!blk || blk->ops != &raw_ops)
		return -EOPNOTSUPP;
	return to_raw(blk)->fd;
}

int rv__blk_raw_open(const char *path, bool readonly,
		     struct rv__blk_chain *chain, struct rv_blk **out,
		     char *err, size_t errlen)
{
	struct raw *r;
	int rc;

	r = calloc(1, sizeof(*r));
	if (!r) {
		rv__blk_err(err, errlen, path, "out of memory");
		return -ENOMEM;
	}
	r->blk.path = strdup(path);
	if (!r->blk.path) {
		rv__blk_err(err, errlen, path, "out of memory");
		rc = -ENOMEM;
		goto err_free;
	}
	rc = rv__blk_open_file(path, readonly, chain, &r->fd, &r->blk.size,
			       &r->blockdev, err, errlen);
	if (rc)
		goto err_free;
	r->blk.ops = &raw_ops;
	r->blk.format = RV_BLK_RAW;
	r->blk.readonly = readonly;
	r->blk.block_size = 512;
	*out = &r->blk;
	return 0;

err_free:
	free(r->blk.path);
	free(r);
	return rc;
}
