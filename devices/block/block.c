// SPDX-License-Identifier: Apache-2.0
/*
 * The block layer's front: format dispatch, the checks every request passes
 * before a backend sees it (ranges, read-only), image creation and the
 * helpers the backends share (full transfers, iovec slicing, locking).
 */
#include "block_int.h"

#include "raevm/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const format_names[] = {
	[RV_BLK_RAW] = "raw",
	[RV_BLK_QCOW2] = "qcow2",
};

const char *rv_blk_format_name(enum rv_blk_format format)
{
	if ((unsigned int)format >= RV_ARRAY_SIZE(format_names))
		return "unknown";
	return format_names[format];
}

int rv_blk_parse_format(const char *name, enum rv_blk_format *out)
{
	size_t i;

	if (!name)
		return -EINVAL;
	for (i = 0; i < RV_ARRAY_SIZE(format_names); i++) {
		if (strcmp(name, format_names[i]) == 0) {
			*out = (enum rv_blk_format)i;
			return 0;
		}
	}
	return -EINVAL;
}

void rv__blk_err(char *err, size_t errlen, const char *path, const char *fmt,
		 ...)
{
	va_list ap;
	int n;

	if (!err || errlen == 0)
		return;
	n = snprintf(err, errlen, "'%s': ", path ? path : "");
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	/* Names come from image headers: keep the message one plain line. */
	for (; *err; err++)
		if ((unsigned char)*err < 0x20 || *err == 0x7f)
			*err = '?';
}

const char *rv__blk_strerror(int err)
{
	switch (err) {
	case ENOENT:
		return "no such file";
	case EACCES:
	case EPERM:
		return "permission denied";
	case EISDIR:
		return "is a directory";
	case EROFS:
		return "read-only file system";
	case ENOSPC:
		return "no space left on the device";
	case EIO:
		return "input/output error";
	case ENOTDIR:
		return "a folder in the path is not a folder";
	case ENAMETOOLONG:
		return "the path is too long";
	case ELOOP:
		return "too many symbolic links";
	case EEXIST:
		return "the file already exists";
	case EFBIG:
		return "the file would be too large";
	default:
		return strerror(err);
	}
}

int rv__blk_resolve(const char *image, const char *name, char *out,
		    size_t outlen)
{
	const char *slash = strrchr(image, '/');
	int n;

	if (name[0] == '/' || !slash)
		n = snprintf(out, outlen, "%s", name);
	else
		n = snprintf(out, outlen, "%.*s/%s", (int)(slash - image),
			     image, name);
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

/* The folder part of path ("." when there is none), into out. */
static int folder_of(const char *path, char *out, size_t outlen)
{
	const char *slash = strrchr(path, '/');
	int n;

	if (!slash)
		n = snprintf(out, outlen, ".");
	else if (slash == path)
		n = snprintf(out, outlen, "/");
	else
		n = snprintf(out, outlen, "%.*s", (int)(slash - path), path);
	if (n < 0 || (size_t)n >= outlen)
		return -ENAMETOOLONG;
	return 0;
}

/* Is canonical path p inside canonical folder dir, or below it? */
static bool is_below(const char *p, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return p[0] == '/' && p[1] != '\0';
	return strncmp(p, dir, n) == 0 && p[n] == '/' && p[n + 1] != '\0';
}

/*
 * The backing file name comes from an image header, which whoever made the
 * image chose: it is a request to read a host file with raevm's privileges.
 * Only regular files inside the image's own folder (or below it) are
 * followed, after every symbolic link and ".." has been resolved, so that
 * an image cannot name /etc/shadow, ../../home/x/.ssh/id_rsa, a link to
 * either, or a device. docs/devices.md, "Backing files", is the policy.
 */
int rv__blk_resolve_backing(const char *image, const char *name, char *out,
			    size_t outlen, char *err, size_t errlen)
{
	char dir[PATH_MAX], canon_dir[PATH_MAX], joined[PATH_MAX],
		canon[PATH_MAX];
	struct stat st;
	int rc;

	rc = rv__blk_resolve(image, name, joined, sizeof(joined));
	if (!rc)
		rc = folder_of(image, dir, sizeof(dir));
	if (rc) {
		rv__blk_err(err, errlen, image, "backing file: %s",
			    rv__blk_strerror(-rc));
		return rc;
	}
	if (!realpath(dir, canon_dir)) {
		rc = -errno;
		rv__blk_err(err, errlen, image,
			    "cannot resolve the image's folder '%s': %s", dir,
			    rv__blk_strerror(-rc));
		return rc;
	}
	if (!realpath(joined, canon)) {
		rc = -errno;
		rv__blk_err(err, errlen, image, "backing file: '%s': %s",
			    joined, rv__blk_strerror(-rc));
		return rc;
	}
	if (!is_below(canon, canon_dir)) {
		rv__blk_err(err, errlen, image,
			    "backing file '%s' is outside the image's folder "
			    "'%s'; raevm only follows backing files inside "
			    "that folder or below it: move or copy the base "
			    "image there and rebase the overlay (see "
			    "docs/devices.md)",
			    name, canon_dir);
		return -EPERM;
	}
	/*
	 * Checked again on the descriptor (rv__blk_open_file()); this early
	 * look keeps open() away from FIFOs, which would block.
	 */
	if (stat(canon, &st) < 0 || !S_ISREG(st.st_mode)) {
		rv__blk_err(err, errlen, image,
			    "backing file '%s' is not a regular file (devices, "
			    "FIFOs, sockets and folders are refused; see "
			    "docs/devices.md)",
			    name);
		return -EPERM;
	}
	if (strlen(canon) >= outlen) {
		rv__blk_err(err, errlen, image, "backing file: %s",
			    rv__blk_strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	strcpy(out, canon);
	return 0;
}

/* ---- iovecs ---- */

uint64_t rv__blk_iov_len(const struct iovec *iov, int iovcnt)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < iovcnt; i++) {
		if (sum + iov[i].iov_len < sum)
			return UINT64_MAX;
		sum += iov[i].iov_len;
	}
	return sum;
}

int rv__blk_iov_slice(const struct iovec *iov, int iovcnt, uint64_t skip,
		      uint64_t len, struct iovec *dst, int dstmax)
{
	int i = 0, n = 0;

	while (i < iovcnt && skip >= iov[i].iov_len) {
		skip -= iov[i].iov_len;
		i++;
	}
	for (; i < iovcnt && len > 0; i++) {
		uint64_t avail = iov[i].iov_len - skip;
		uint64_t take = avail < len ? avail : len;

		if (take == 0)
			continue;
		if (n == dstmax)
			return -EINVAL;
		dst[n].iov_base = (char *)iov[i].iov_base + skip;
		dst[n].iov_len = take;
		n++;
		len -= take;
		skip = 0;
	}
	return len ? -EINVAL : n;
}

/* Calls fn on each piece of bytes [skip, skip + len) of iov. */
static void iov_walk(const struct iovec *iov, int iovcnt, uint64_t skip,
		     uint64_t len, void (*fn)(void *piece, size_t n, void *ctx),
		     void *ctx)
{
	int i;

	for (i = 0; i < iovcnt && len > 0; i++) {
		uint64_t take;

		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		take = iov[i].iov_len - skip;
		if (take > len)
			take = len;
		fn((char *)iov[i].iov_base + skip, take, ctx);
		len -= take;
		skip = 0;
	}
}

static void zero_piece(void *piece, size_t n, void *ctx)
{
	(void)ctx;
	memset(piece, 0, n);
}

void rv__blk_iov_zero(const struct iovec *iov, int iovcnt, uint64_t skip,
		      uint64_t len)
{
	iov_walk(iov, iovcnt, skip, len, zero_piece, NULL);
}

static void copy_piece(void *piece, size_t n, void *ctx)
{
	char **dst = ctx;

	memcpy(*dst, piece, n);
	*dst += n;
}

void rv__blk_iov_to_buf(const struct iovec *iov, int iovcnt, uint64_t skip,
			void *buf, uint64_t len)
{
	char *p = buf;

	iov_walk(iov, iovcnt, skip, len, copy_piece, &p);
}

/* ---- full transfers ---- */

#define LOCAL_IOVS 32

static int xfer_full(int fd, const struct iovec *iov, int iovcnt,
		     uint64_t offset, bool write)
{
	struct iovec local[LOCAL_IOVS], *tmp = NULL;
	const struct iovec *cur = iov;
	uint64_t total = rv__blk_iov_len(iov, iovcnt), done = 0;
	int curcnt = iovcnt, rc = 0;

	while (done < total) {
		ssize_t n;

		if (write)
			n = pwritev(fd, cur, curcnt, (off_t)(offset + done));
		else
			n = preadv(fd, cur, curcnt, (off_t)(offset + done));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (n == 0) {
			/* A write that makes no progress would spin. */
			if (write) {
				rc = -EIO;
				break;
			}
			rv__blk_iov_zero(iov, iovcnt, done, total - done);
			break;
		}
		done += (uint64_t)n;
		if (done == total)
			break;
		if (!tmp) {
			tmp = iovcnt <= LOCAL_IOVS ?
				      local :
				      malloc(sizeof(*tmp) * (size_t)iovcnt);
			if (!tmp) {
				rc = -ENOMEM;
				break;
			}
		}
		curcnt = rv__blk_iov_slice(iov, iovcnt, done, total - done, tmp,
					   iovcnt);
		if (curcnt < 0) {
			rc = curcnt;
			break;
		}
		cur = tmp;
	}
	if (tmp != local)
		free(tmp);
	return rc;
}

int rv__blk_preadv_full(int fd, const struct iovec *iov, int iovcnt,
			uint64_t offset)
{
	return xfer_full(fd, iov, iovcnt, offset, false);
}

int rv__blk_pwritev_full(int fd, const struct iovec *iov, int iovcnt,
			 uint64_t offset)
{
	return xfer_full(fd, iov, iovcnt, offset, true);
}

int rv__blk_pread_full(int fd, void *buf, size_t len, uint64_t offset)
{
	struct iovec v = { .iov_base = buf, .iov_len = len };

	return xfer_full(fd, &v, 1, offset, false);
}

int rv__blk_pwrite_full(int fd, const void *buf, size_t len, uint64_t offset)
{
	struct iovec v = { .iov_base = (void *)(uintptr_t)buf, .iov_len = len };

	return xfer_full(fd, &v, 1, offset, true);
}

/* ---- opening ---- */

/*
 * An OFD lock over the whole file keeps two writers (two raevm workers, or
 * raevm and QEMU, which probes the same way) off one image. File systems
 * without locks are used without one.
 */
static int lock_file(int fd, bool readonly)
{
	struct flock fl = {
		.l_type = readonly ? F_RDLCK : F_WRLCK,
		.l_whence = SEEK_SET,
	};

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return -EBUSY;
	return 0;
}

static int chain_add(struct rv__blk_chain *chain, const struct stat *st,
		     const char *path, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < chain->depth; i++) {
		if (chain->dev[i] == st->st_dev &&
		    chain->ino[i] == st->st_ino) {
			rv__blk_err(err, errlen, path,
				    "backing file loop: the image is its own "
				    "backing file (%d levels down)",
				    chain->depth - i);
			return -ELOOP;
		}
	}
	if (chain->depth > RV_BLK_MAX_CHAIN) {
		rv__blk_err(err, errlen, path,
			    "backing chain is longer than %d images",
			    RV_BLK_MAX_CHAIN);
		return -ELOOP;
	}
	chain->dev[chain->depth] = st->st_dev;
	chain->ino[chain->depth] = st->st_ino;
	chain->depth++;
	return 0;
}

/*
 * Opens a backing file that rv__blk_resolve_backing() canonicalised: the
 * path holds no symbolic link, so one found now was put there since, and
 * is refused (RESOLVE_NO_SYMLINKS where the kernel has openat2(), the last
 * component only otherwise). O_NONBLOCK keeps a FIFO swapped in from
 * blocking the open; fstat() refuses it right after.
 */
static int open_backing_file(const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_NONBLOCK),
		.resolve = RESOLVE_NO_SYMLINKS,
	};
	long f;

	f = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (f < 0 && (errno == ENOSYS || errno == EPERM))
		f = open(path, flags | O_NOFOLLOW | O_NONBLOCK);
	if (f >= 0 && fcntl((int)f, F_SETFL, 0) < 0) {
		int e = errno;

		close((int)f);
		errno = e;
		return -1;
	}
	return (int)f;
}

int rv__blk_open_file(const char *path, bool readonly,
		      struct rv__blk_chain *chain, int *fd, uint64_t *size,
		      bool *is_blockdev, char *err, size_t errlen)
{
	/* Below the top of a chain, path names a backing file. */
	bool backing = chain->depth > 0;
	int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;
	int f, rc;

	f = backing ? open_backing_file(path, flags) : open(path, flags);
	if (f < 0) {
		rc = -errno;
		rv__blk_err(err, errlen, path, "%s%s", rv__blk_strerror(-rc),
			    !readonly && (rc == -EACCES || rc == -EROFS) ?
				    " (open it read-only?)" :
				    "");
		return rc;
	}
	if (fstat(f, &st) < 0) {
		rc = -errno;
		rv__blk_err(err, errlen, path, "%s", rv__blk_strerror(-rc));
		goto err_close;
	}
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		*is_blockdev = false;
	} else if (backing) {
		rc = -EPERM;
		rv__blk_err(err, errlen, path,
			    "not a regular file (a backing file must be one; "
			    "see docs/devices.md)");
		goto err_close;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(f, BLKGETSIZE64, size) < 0) {
			rc = -errno;
			rv__blk_err(err, errlen, path,
				    "cannot read the device size: %s",
				    rv__blk_strerror(-rc));
			goto err_close;
		}
		*is_blockdev = true;
	} else {
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		rv__blk_err(err, errlen, path, "%s",
			    rc == -EISDIR ? "is a directory" :
					    "not a regular file or block "
					    "device");
		goto err_close;
	}
	rc = chain_add(chain, &st, path, err, errlen);
	if (rc)
		goto err_close;
	rc = lock_file(f, readonly);
	if (rc) {
		rv__blk_err(err, errlen, path,
			    "the image is in use (another process holds a "
			    "%s lock on it)",
			    readonly ? "write" : "conflicting");
		goto err_close;
	}
	*fd = f;
	return 0;

err_close:
	close(f);
	return rc;
}

int rv__blk_open_chain(const char *path, enum rv_blk_format format,
		       bool readonly, struct rv__blk_chain *chain,
		       struct rv_blk **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!path || !*path) {
		rv__blk_err(err, errlen, "", "no image path");
		return -EINVAL;
	}
	switch (format) {
	case RV_BLK_RAW:
		return rv__blk_raw_open(path, readonly, chain, out, err,
					errlen);
	case RV_BLK_QCOW2:
		return rv__blk_qcow2_open(path, readonly, chain, out, err,
					  errlen);
	}
	rv__blk_err(err, errlen, path, "unknown image format %d", format);
	return -EINVAL;
}

int rv_blk_open(const char *path, enum rv_blk_format format, bool readonly,
		struct rv_blk **out, char *err, size_t errlen)
{
	struct rv__blk_chain chain = { .depth = 0 };

	if (err && errlen)
		err[0] = '\0';
	return rv__blk_open_chain(path, format, readonly, &chain, out, err,
				  errlen);
}

void rv_blk_close(struct rv_blk *blk)
{
	if (blk)
		blk->ops->close(blk);
}

/* ---- requests ---- */

static int check_range(const struct rv_blk *blk, uint64_t offset, uint64_t len)
{
	if (offset > blk->size || len > blk->size - offset)
		return -EINVAL;
	return 0;
}

static int check_iov(const struct rv_blk *blk, const struct iovec *iov,
		     int iovcnt, uint64_t offset, uint64_t *len)
{
	if (!blk || iovcnt < 0 || iovcnt > IOV_MAX || (iovcnt > 0 && !iov))
		return -EINVAL;
	*len = rv__blk_iov_len(iov, iovcnt);
	if (*len == UINT64_MAX)
		return -EINVAL;
	return check_range(blk, offset, *len);
}

int rv_blk_preadv(struct rv_blk *blk, const struct iovec *iov, int iovcnt,
		  uint64_t offset)
{
	uint64_t len;
	int rc = check_iov(blk, iov, iovcnt, offset, &len);

	if (rc || len == 0)
		return rc;
	return blk->ops->preadv(blk, iov, iovcnt, offset);
}

int rv_blk_pwritev(struct rv_blk *blk, const struct iovec *iov, int iovcnt,
		   uint64_t offset)
{
	uint64_t len;
	int rc = check_iov(blk, iov, iovcnt, offset, &len);

	if (rc)
		return rc;
	if (blk->readonly)
		return -EROFS;
	if (len == 0)
		return 0;
	return blk->ops->pwritev(blk, iov, iovcnt, offset);
}

int rv_blk_flush(struct rv_blk *blk)
{
	if (!blk)
		return -EINVAL;
	if (blk->readonly)
		return 0;
	return blk->ops->flush(blk);
}

int rv_blk_discard(struct rv_blk *blk, uint64_t offset, uint64_t len)
{
	int rc;

	if (!blk)
		return -EINVAL;
	rc = check_range(blk, offset, len);
	if (rc)
		return rc;
	if (blk->readonly)
		return -EROFS;
	if (len == 0)
		return 0;
	return blk->ops->discard(blk, offset, len);
}

int rv_blk_write_zeroes(struct rv_blk *blk, uint64_t offset, uint64_t len,
			bool may_unmap)
{
	int rc;

	if (!blk)
		return -EINVAL;
	rc = check_range(blk, offset, len);
	if (rc)
		return rc;
	if (blk->readonly)
		return -EROFS;
	if (len == 0)
		return 0;
	return blk->ops->write_zeroes(blk, offset, len, may_unmap);
}

/* ---- creating and describing images ---- */

/* The backing file's size, which also proves that it opens. */
static int backing_size(const char *path, const struct rv_blk_create_opts *o,
			uint64_t *size, char *err, size_t errlen)
{
	char resolved[4096], sub[512];
	struct rv_blk *b;
	int rc;

	if (!*o->backing) {
		rv__blk_err(err, errlen, path,
			    "the backing file name is empty");
		return -EINVAL;
	}
	if (strlen(o->backing) > 1023) {
		rv__blk_err(err, errlen, path,
			    "the backing file name is longer than 1023 bytes");
		return -ENAMETOOLONG;
	}
	/* The same rule as at open: an overlay raevm would refuse is not made. */
	rc = rv__blk_resolve_backing(path, o->backing, resolved,
				     sizeof(resolved), err, errlen);
	if (rc)
		return rc;
	rc = rv_blk_open(resolved, o->backing_format, true, &b, sub,
			 sizeof(sub));
	if (rc) {
		rv__blk_err(err, errlen, path, "backing file: %s", sub);
		return rc;
	}
	*size = b->size;
	rv_blk_close(b);
	return 0;
}

static int create_raw(const char *path, uint64_t size, char *err, size_t errlen)
{
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		rv__blk_err(err, errlen, path, "%s", rv__blk_strerror(-rc));
		return rc;
	}
	if (size > INT64_MAX || ftruncate(fd, (off_t)size) < 0 ||
	    fsync(fd) < 0) {
		rc = size > INT64_MAX ? -EFBIG : -errno;
		rv__blk_err(err, errlen, path, "%s", rv__blk_strerror(-rc));
		unlink(path);
	}
	close(fd);
	return rc;
}

int rv_blk_create(const char *path, const struct rv_blk_create_opts *opts,
		  char *err, size_t errlen)
{
	uint64_t size;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!path || !*path || !opts) {
		rv__blk_err(err, errlen, "", "no image path");
		return -EINVAL;
	}
	if (opts->format == RV_BLK_RAW && opts->backing) {
		rv__blk_err(err, errlen, path,
			    "raw images cannot have a backing file "
			    "(use qcow2)");
		return -EINVAL;
	}
	size = opts->size;
	if (opts->backing) {
		uint64_t bsize;

		rc = backing_size(path, opts, &bsize, err, errlen);
		if (rc)
			return rc;
		if (size == 0)
			size = bsize;
	}
	if (size == 0) {
		rv__blk_err(err, errlen, path,
			    "a size is needed (or a backing file to take it "
			    "from)");
		return -EINVAL;
	}
	if (size % 512) {
		rv__blk_err(err, errlen, path,
			    "size %llu is not a multiple of 512",
			    (unsigned long long)size);
		return -EINVAL;
	}
	switch (opts->format) {
	case RV_BLK_RAW:
		return create_raw(path, size, err, errlen);
	case RV_BLK_QCOW2:
		return rv__blk_qcow2_create(path, opts, size, err, errlen);
	}
	rv__blk_err(err, errlen, path, "unknown image format %d", opts->format);
	return -EINVAL;
}

int rv_blk_query(const char *path, enum rv_blk_format format,
		 struct rv_blk_info *info, char *err, size_t errlen)
{
	struct stat st;
	uint64_t size;
	int fd, rc = 0;

	memset(info, 0, sizeof(*info));
	if (err && errlen)
		err[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		rv__blk_err(err, errlen, path, "%s", rv__blk_strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		rv__blk_err(err, errlen, path, "%s", rv__blk_strerror(-rc));
		goto out;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &size) < 0)
			size = 0;
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else {
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		rv__blk_err(err, errlen, path, "%s",
			    rc == -EISDIR ? "is a directory" :
					    "not a regular file or block "
					    "device");
		goto out;
	}
	info->format = format;
	info->file_size = size;
	info->virtual_size = size;
	info->disk_usage = (uint64_t)st.st_blocks * 512;
	info->dev = (uint64_t)st.st_dev;
	info->ino = (uint64_t)st.st_ino;
	if (format == RV_BLK_QCOW2) {
		rc = rv__blk_qcow2_query(path, fd, info, err, errlen);
		if (rc == 0 && info->has_backing) {
			rc = rv__blk_resolve(path, info->backing,
					     info->backing_path,
					     sizeof(info->backing_path));
			if (rc)
				rv__blk_err(err, errlen, path,
					    "backing file: %s",
					    rv__blk_strerror(-rc));
		}
	} else if (format != RV_BLK_RAW) {
		rc = -EINVAL;
		rv__blk_err(err, errlen, path, "unknown image format %d",
			    format);
	}
out:
	close(fd);
	return rc;
}

int rv_blk_probe_format(const char *path, enum rv_blk_format *out, char *err,
			size_t errlen)
{
	static const uint8_t magic[4] = { 'Q', 'F', 'I', 0xfb };
	uint8_t head[4] = { 0 };
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		rv__blk_err(err, errlen, path, "%s", rv__blk_strerror(-rc));
		return rc;
	}
	rc = rv__blk_pread_full(fd, head, sizeof(head), 0);
	close(fd);
	if (rc) {
		rv__blk_err(err, errlen, path, "%s", rv__blk_strerror(-rc));
		return rc;
	}
	*out = memcmp(head, magic, sizeof(magic)) == 0 ? RV_BLK_QCOW2 :
							 RV_BLK_RAW;
	return 0;
}
