// SPDX-License-Identifier: Apache-2.0
/*
 * Raw images: the disk is the file (or block device) byte for byte. Reads
 * and writes are preadv/pwritev; flush is fdatasync. Discard and
 * write-zeroes use fallocate where the file system has it and fall back to
 * ioctls (block devices) or to writing zeros.
 *
 * Host caching (docs/devices.md, "Host page cache"). A raw image the user
 * named (the top of a chain, not a qcow2 backing file) on a file system
 * that takes O_DIRECT gets a second descriptor opened with it, and every
 * read and write whose offset, lengths and buffers meet the file's direct
 * I/O alignment goes through that one: the guest has a page cache of its
 * own, and a second copy in the host's costs a memory copy per request and
 * host memory the guest does not own. Everything else uses the buffered
 * descriptor, which also holds the lock:
 *  - requests that are not aligned (odd or hostile guests; Linux never sends
 *    them), so that no guest request fails because of the host's caching;
 *  - files in memory (tmpfs, ramfs): O_DIRECT there is still a copy out of
 *    the page cache, which is the file itself;
 *  - file systems that refuse O_DIRECT (EINVAL at open): silently.
 * Mixing the two is coherent on Linux: a direct read first writes back the
 * dirty page-cache pages of its range, and a direct write drops the cached
 * ones. O_DIRECT is not O_SYNC: a completed write may still sit in the
 * device's volatile cache, and a write into a hole changes file metadata,
 * so FLUSH still calls fdatasync.
 */
#include "block_int.h"

#include "raevm/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

/* Alignment assumed when the kernel cannot tell (no STATX_DIOALIGN). */
#define DIO_FALLBACK_ALIGN 4096u
/* Reported alignments above this, or not powers of two, are not believed. */
#define DIO_MAX_ALIGN (1u << 20)

struct raw {
	struct rv_blk blk;
	int fd;		    /* buffered; holds the lock */
	int dfd;	    /* the same file with O_DIRECT, or -1 */
	uint32_t mem_align; /* direct I/O: buffer addresses */
	uint32_t off_align; /* direct I/O: offsets and lengths */
	bool blockdev;
	bool in_memory; /* tmpfs or ramfs */
};

static struct raw *to_raw(struct rv_blk *blk)
{
	return rv_container_of(blk, struct raw, blk);
}

/*
 * Whether a transfer may use the O_DIRECT descriptor: the offset, every
 * length and every buffer address meet the file's alignment. Zero-length
 * pieces are checked too (the kernel does).
 */
static bool direct_ok(const struct raw *r, const struct iovec *iov, int iovcnt,
		      uint64_t offset)
{
	uint64_t mem = r->mem_align - 1, off = r->off_align - 1;
	int i;

	if (r->dfd < 0 || iovcnt <= 0 || (offset & off))
		return false;
	for (i = 0; i < iovcnt; i++) {
		if (((uintptr_t)iov[i].iov_base & mem) ||
		    ((uint64_t)iov[i].iov_len & off))
			return false;
	}
	return true;
}

/*
 * A direct transfer the kernel refuses with EINVAL (an alignment rule we
 * did not know about, a file system that changed its mind) is redone on
 * the buffered descriptor: the guest's request does not fail for it.
 */
static int raw_xfer(struct rv_blk *blk, const struct iovec *iov, int iovcnt,
		    uint64_t offset, bool write)
{
	struct raw *r = to_raw(blk);
	int rc;

	if (direct_ok(r, iov, iovcnt, offset)) {
		rc = write ? rv__blk_pwritev_full(r->dfd, iov, iovcnt, offset) :
			     rv__blk_preadv_full(r->dfd, iov, iovcnt, offset);
		if (rc != -EINVAL)
			return rc;
	}
	return write ? rv__blk_pwritev_full(r->fd, iov, iovcnt, offset) :
		       rv__blk_preadv_full(r->fd, iov, iovcnt, offset);
}

static int raw_preadv(struct rv_blk *blk, const struct iovec *iov, int iovcnt,
		      uint64_t offset)
{
	return raw_xfer(blk, iov, iovcnt, offset, false);
}

static int raw_pwritev(struct rv_blk *blk, const struct iovec *iov, int iovcnt,
		       uint64_t offset)
{
	return raw_xfer(blk, iov, iovcnt, offset, true);
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
	/*
	 * Not const on purpose: a const array would sit in .rodata, 64 KiB
	 * of the binary that the kernel's fault-around maps into every
	 * process at start. In .bss it costs nothing until used; it is only
	 * ever read.
	 */
	static uint8_t zeros[64 * 1024];
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

	if (r->dfd >= 0)
		close(r->dfd);
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

int rv__blk_raw_io_fd(struct rv_blk *blk, const struct iovec *iov, int iovcnt,
		      uint64_t offset, bool *direct)
{
	struct raw *r;

	*direct = false;
	if (!blk || blk->ops != &raw_ops)
		return -EOPNOTSUPP;
	r = to_raw(blk);
	*direct = direct_ok(r, iov, iovcnt, offset);
	return *direct ? r->dfd : r->fd;
}

bool rv__blk_raw_in_memory(struct rv_blk *blk)
{
	return blk && blk->ops == &raw_ops && to_raw(blk)->in_memory;
}

/* A power of two in [1, DIO_MAX_ALIGN], or the fallback. */
static uint32_t sane_align(uint32_t a)
{
	if (a == 0 || a > DIO_MAX_ALIGN || (a & (a - 1)))
		return DIO_FALLBACK_ALIGN;
	return a;
}

/*
 * The direct I/O alignment of fd: what statx reports (Linux 6.1+), else
 * the logical block size of a block device, else 4 KiB, which every
 * common device and file system accepts.
 */
static void dio_alignment(struct raw *r, int fd)
{
	struct statx stx;
	int bsz = 0;

	r->mem_align = DIO_FALLBACK_ALIGN;
	r->off_align = DIO_FALLBACK_ALIGN;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
		r->mem_align = sane_align(stx.stx_dio_mem_align);
		r->off_align = sane_align(stx.stx_dio_offset_align);
		return;
	}
	if (r->blockdev && ioctl(fd, BLKSSZGET, &bsz) == 0 && bsz > 0) {
		r->mem_align = sane_align((uint32_t)bsz);
		r->off_align = r->mem_align;
	}
}

/* Files that live in memory: the page cache is the file. */
static bool in_memory(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) < 0)
		return false;
	return sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC;
}

/*
 * Opens the O_DIRECT descriptor next to the buffered one (see the top of
 * this file). Not having one is never an error: a file system that refuses
 * O_DIRECT says EINVAL and the disk stays buffered without a word. The
 * second open goes by name, so it must find the same file the first one
 * locked (a rename in between would swap it).
 */
static void open_direct(struct raw *r, const char *path, bool readonly)
{
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_DIRECT;
	struct stat a, b;
	int f;

	r->in_memory = in_memory(r->fd);
	if (r->in_memory)
		return;
	/* A mode keeps this the plain open() symbol, which unit tests wrap. */
	f = open(path, flags, 0);
	if (f < 0) {
		if (errno != EINVAL)
			rv_debug("'%s': no direct I/O: %s", path,
				 strerror(errno));
		return;
	}
	if (fstat(r->fd, &a) < 0 || fstat(f, &b) < 0 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino) {
		close(f);
		return;
	}
	r->dfd = f;
	r->blk.direct = true;
	dio_alignment(r, f);
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
	r->dfd = -1;
	rc = rv__blk_open_file(path, readonly, chain, &r->fd, &r->blk.size,
			       &r->blockdev, err, errlen);
	if (rc)
		goto err_free;
	/* Backing files stay buffered: several overlays may share them. */
	if (chain->depth == 1)
		open_direct(r, path, readonly);
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
