// SPDX-License-Identifier: Apache-2.0
/*
 * Copy-on-write overlays for ephemeral disks (ephemeral.h). One I/O thread
 * uses a disk at a time (block.h), so nothing here is locked. Ranges have
 * been checked against blk->size by block.c before the ops run.
 */
#include "ephemeral.h"

#include "raevm/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

#define BLK RV_EPHEMERAL_BLOCK

struct eph {
	struct rv_blk blk; /* first: reached with container_of */
	struct rv_blk *base;
	int fd;		 /* the overlay, nameless */
	uint64_t *map;	 /* bit per block: the overlay holds it */
	uint8_t *bounce; /* one block, for copy-up */
	uint8_t *zeros;	 /* one block of zeros, for write_zeroes; lazily */
};

static struct eph *to_eph(struct rv_blk *b)
{
	return rv_container_of(b, struct eph, blk);
}

static bool mapped(const struct eph *e, uint64_t blk)
{
	return e->map[blk / 64] >> (blk % 64) & 1;
}

static void set_mapped(struct eph *e, uint64_t blk)
{
	e->map[blk / 64] |= 1ULL << (blk % 64);
}

/*
 * Describes bytes [skip, skip + len) of iov in out (at most max entries).
 * Returns the count, or -EINVAL when the range does not fit.
 */
static int slice(const struct iovec *iov, int iovcnt, uint64_t skip,
		 uint64_t len, struct iovec *out, int max)
{
	int i, n = 0;

	for (i = 0; i < iovcnt && len; i++) {
		uint64_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		if (n == max)
			return -EINVAL;
		out[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out[n].iov_len = l - skip < len ? l - skip : len;
		len -= out[n].iov_len;
		skip = 0;
		n++;
	}
	return len ? -EINVAL : n;
}

static int fd_rw(int fd, bool write, const struct iovec *iov, int iovcnt,
		 uint64_t off)
{
	struct iovec v[IOV_MAX];
	uint64_t total = 0, done = 0;
	int i, n;

	for (i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	while (done < total) {
		ssize_t r;

		n = slice(iov, iovcnt, done, total - done, v, IOV_MAX);
		if (n < 0)
			return n;
		r = write ? pwritev(fd, v, n, (off_t)(off + done)) :
			    preadv(fd, v, n, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0) {
			/* Past the overlay's end reads zeros (never happens: it is sized). */
			if (write)
				return -EIO;
			n = slice(iov, iovcnt, done, total - done, v, IOV_MAX);
			for (i = 0; i < n; i++)
				memset(v[i].iov_base, 0, v[i].iov_len);
			return 0;
		}
		done += (uint64_t)r;
	}
	return 0;
}

/* Runs of blocks with one source, each read from where it lives. */
static int eph_preadv(struct rv_blk *b, const struct iovec *iov, int iovcnt,
		      uint64_t offset)
{
	struct eph *e = to_eph(b);
	struct iovec v[IOV_MAX];
	uint64_t total = 0, done = 0;
	int i, n, rc;

	for (i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	while (done < total) {
		uint64_t off = offset + done, end = off, run;
		bool ov = mapped(e, off / BLK);

		do
			end = (end / BLK + 1) * BLK;
		while (end < offset + total && mapped(e, end / BLK) == ov);
		if (end > offset + total)
			end = offset + total;
		run = end - off;
		n = slice(iov, iovcnt, done, run, v, IOV_MAX);
		if (n < 0)
			return n;
		rc = ov ? fd_rw(e->fd, false, v, n, off) :
			  rv_blk_preadv(e->base, v, n, off);
		if (rc)
			return rc;
		done += run;
	}
	return 0;
}

/* Copies block blk from the image into the overlay, once. */
static int copy_up(struct eph *e, uint64_t blk)
{
	uint64_t off = blk * BLK;
	size_t len = e->blk.size - off < BLK ? (size_t)(e->blk.size - off) :
					       BLK;
	struct iovec v = { e->bounce, len };
	int rc;

	rc = rv_blk_preadv(e->base, &v, 1, off);
	if (!rc)
		rc = fd_rw(e->fd, true, &v, 1, off);
	if (!rc)
		set_mapped(e, blk);
	return rc;
}

static int eph_pwritev(struct rv_blk *b, const struct iovec *iov, int iovcnt,
		       uint64_t offset)
{
	struct eph *e = to_eph(b);
	uint64_t total = 0, end, first, last, k;
	int i, rc;

	for (i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	end = offset + total;
	first = offset / BLK;
	last = (end - 1) / BLK;
	/* Blocks the write covers only in part keep the image's other bytes. */
	if (!mapped(e, first) && offset % BLK) {
		rc = copy_up(e, first);
		if (rc)
			return rc;
	}
	if (!mapped(e, last) && end % BLK && end < e->blk.size) {
		rc = copy_up(e, last);
		if (rc)
			return rc;
	}
	rc = fd_rw(e->fd, true, iov, iovcnt, offset);
	if (rc)
		return rc;
	for (k = first; k <= last; k++)
		set_mapped(e, k);
	return 0;
}

/* Nothing to make durable: the overlay is thrown away. */
static int eph_flush(struct rv_blk *b)
{
	(void)b;
	return 0;
}

/* A hint (block.h): nothing is given back, the contents stay as they are. */
static int eph_discard(struct rv_blk *b, uint64_t offset, uint64_t len)
{
	(void)b;
	(void)offset;
	(void)len;
	return 0;
}

static int eph_write_zeroes(struct rv_blk *b, uint64_t offset, uint64_t len,
			    bool may_unmap)
{
	struct eph *e = to_eph(b);
	int rc;

	(void)may_unmap;
	if (!e->zeros)
		e->zeros = calloc(1, BLK);
	if (!e->zeros)
		return -ENOMEM;
	while (len) {
		size_t n = len < BLK ? (size_t)len : BLK;
		struct iovec v = { e->zeros, n };

		rc = eph_pwritev(b, &v, 1, offset);
		if (rc)
			return rc;
		offset += n;
		len -= n;
	}
	return 0;
}

static void eph_close(struct rv_blk *b)
{
	struct eph *e = to_eph(b);

	rv_blk_close(e->base);
	if (e->fd >= 0)
		close(e->fd);
	free(e->map);
	free(e->bounce);
	free(e->zeros);
	free(e->blk.path);
	free(e);
}

static const struct rv_blk_ops eph_ops = {
	.name = "ephemeral",
	.preadv = eph_preadv,
	.pwritev = eph_pwritev,
	.flush = eph_flush,
	.discard = eph_discard,
	.write_zeroes = eph_write_zeroes,
	.close = eph_close,
};

const char *rv__ephemeral_dir(const char *preferred)
{
	struct statfs sf;

	if (preferred && statfs(preferred, &sf) == 0 &&
	    sf.f_type == TMPFS_MAGIC)
		return preferred;
	return "/dev/shm";
}

/* A file in dir that has no name: O_TMPFILE, or create and unlink. */
static int nameless_file(const char *dir)
{
	char path[4096];
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd >= 0 ? fd : -errno;
	if (snprintf(path, sizeof(path), "%s/raevm-ephemeral-XXXXXX", dir) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unlink(path);
	return fd;
}

int rv__ephemeral_open(const char *path, enum rv_blk_format format,
		       const char *dir, struct rv_blk **out, char *err,
		       size_t errlen)
{
	struct eph *e;
	uint64_t blocks;
	int rc;

	*out = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->fd = -1;
	rc = rv_blk_open(path, format, true, &e->base, err, errlen);
	if (rc)
		goto err;
	rc = -ENOMEM;
	blocks = (e->base->size + BLK - 1) / BLK;
	e->map = calloc(blocks / 64 + 1, sizeof(uint64_t));
	e->bounce = malloc(BLK);
	e->blk.path = strdup(path);
	if (!e->map || !e->bounce || !e->blk.path) {
		snprintf(err, errlen, "'%s': out of memory for the overlay",
			 path);
		goto err;
	}
	rc = nameless_file(dir);
	if (rc < 0) {
		snprintf(err, errlen,
			 "'%s': cannot create an overlay in '%s': %s", path,
			 dir, strerror(-rc));
		goto err;
	}
	e->fd = rc;
	if (ftruncate(e->fd, (off_t)e->base->size)) {
		rc = -errno;
		snprintf(err, errlen,
			 "'%s': cannot size the overlay in '%s': %s", path, dir,
			 strerror(-rc));
		goto err;
	}
	e->blk.ops = &eph_ops;
	e->blk.format = e->base->format;
	e->blk.size = e->base->size;
	e->blk.readonly = false;
	e->blk.block_size = e->base->block_size;
	*out = &e->blk;
	return 0;
err:
	e->blk.ops = &eph_ops;
	eph_close(&e->blk);
	return rc;
}
