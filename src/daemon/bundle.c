// SPDX-License-Identifier: Apache-2.0
/*
 * VM bundles: the export plan, the writer and the strict reader (see
 * bundle.h and docs/manifest.md "Bundles"). A bundle comes from anywhere,
 * so the reader trusts nothing in it: names come from a short fixed
 * grammar (never a '/' beyond the first, never "..", never absolute), only
 * regular files are unpacked, every size is bounded, each file is created
 * with O_EXCL | O_NOFOLLOW below a folder opened by the caller, and the
 * checksums are compared before anything is used.
 *
 * Disks are streamed in RV_BUNDLE_CHUNK pieces, never held whole. Holes
 * of sparse raw files are found with SEEK_DATA and fed to the compressor
 * as zeros without being read; on import all-zero chunks become holes.
 *
 * libzstd is loaded on demand (zstd_dl.h), not linked: every call into it
 * goes through a table, w->zl or z->zl.
 */
#include "bundle.h"
#include "zstd_dl.h"

#include "raevm/block.h"
#include "raevm/manifest.h"
#include "raevm/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define RV_BUNDLE_CHUNK (1024 * 1024)
#define RV_BUNDLE_HOLE (64 * 1024)
#define ZSTD_LEVEL 3
#define FILE_MODE 0640
#define DIR_MODE 0750
/* The most an import keeps free on the target file system (check_space). */
#define RV_BUNDLE_MIN_FREE_MAX (1ULL << 30)

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* ---------------------------------------------------------------------- */
/* Names                                                                  */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/*
 * The names a bundle may hold besides manifest.raeVM and SHA256SUMS:
 * "boot/" or "disks/" and 1-64 of [A-Za-z0-9._-] not starting with '.'
 * or '-'. So no name is absolute, climbs with "..", or has a third level.
 */
static bool file_name_valid(const char *name, bool *is_disk)
{
	const char *base;
	size_t i, n;

	if (strncmp(name, "boot/", 5) == 0) {
		base = name + 5;
		*is_disk = false;
	} else if (strncmp(name, "disks/", 6) == 0) {
		base = name + 6;
		*is_disk = true;
	} else {
		return false;
	}
	n = strlen(base);
	if (n == 0 || n > 64 || base[0] == '.' || base[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!name_char(base[i]))
			return false;
	return true;
}

/* dir + basename of path, made to fit the grammar above. */
static void make_name(char *out, size_t size, const char *dir,
		      const char *prefix, const char *path)
{
	const char *base = strrchr(path, '/');
	char clean[49];
	size_t i, n = 0;

	base = base ? base + 1 : path;
	for (i = 0; base[i] && n < sizeof(clean) - 1; i++)
		clean[n++] = name_char(base[i]) ? base[i] : '_';
	clean[n] = '\0';
	if (n == 0)
		snprintf(clean, sizeof(clean), "file");
	if (clean[0] == '.' || clean[0] == '-')
		clean[0] = '_';
	snprintf(out, size, "%s/%s%s", dir, prefix, clean);
}

/* ---------------------------------------------------------------------- */
/* Plan                                                                   */

static void json_set_path(struct json_object *obj, const char *key,
			  const char *val)
{
	if (obj && json_object_is_type(obj, json_type_object))
		json_object_object_add(obj, key, json_object_new_string(val));
}

static int plan_add(struct rv_bundle_plan *p, const char *src, const char *name,
		    bool flatten)
{
	struct rv_bundle_file *f = &p->files[p->nr_files];

	if (p->nr_files >= RV_BUNDLE_MAX_FILES)
		return -E2BIG;
	f->src = strdup(src);
	if (!f->src)
		return -ENOMEM;
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->flatten = flatten;
	p->nr_files++;
	return 0;
}

/* Drops obj.key ("console": {"socket": ...}) when obj is there. */
static void drop_key(struct json_object *doc, const char *obj, const char *key)
{
	struct json_object *o;

	if (json_object_object_get_ex(doc, obj, &o) &&
	    json_object_is_type(o, json_type_object))
		json_object_object_del(o, key);
}

static int plan_disk(struct rv_bundle_plan *p, struct json_object *disks,
		     const struct rv_vm_config *cfg, unsigned int i, char *err,
		     size_t errlen)
{
	const struct rv_disk_config *dk = &cfg->disks[i];
	bool flatten = false;
	char name[RV_TAR_NAME_MAX + 1], prefix[16];
	int rc;

	if (dk->format && strcmp(dk->format, "qcow2") == 0) {
		struct rv_blk_info *info = calloc(1, sizeof(*info));
		char qerr[512];

		if (!info)
			return -ENOMEM;
		rc = rv_blk_query(dk->path, RV_BLK_QCOW2, info, qerr,
				  sizeof(qerr));
		flatten = info->has_backing;
		free(info);
		if (rc) {
			seterr(err, errlen, "disks[%u]: %s", i, qerr);
			return rc;
		}
	}
	snprintf(prefix, sizeof(prefix), "%u-", i);
	make_name(name, sizeof(name), "disks", prefix, dk->path);
	rc = plan_add(p, dk->path, name, flatten);
	if (rc)
		return rc;
	json_set_path(json_object_array_get_idx(disks, i), "path", name);
	return 0;
}

int rv__bundle_plan(struct json_object *manifest,
		    const struct rv_vm_config *cfg, struct rv_bundle_plan *out,
		    char *err, size_t errlen)
{
	struct json_object *doc = NULL, *boot = NULL, *disks = NULL;
	char kname[RV_TAR_NAME_MAX + 1], iname[RV_TAR_NAME_MAX + 1];
	const char *text;
	unsigned int i;
	int rc = -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (json_object_deep_copy(manifest, &doc, NULL) || !doc)
		return -ENOMEM;
	if (!json_object_object_get_ex(doc, "boot", &boot) || !cfg->kernel) {
		seterr(err, errlen, "the VM has no kernel to export");
		rc = -EINVAL;
		goto err;
	}
	make_name(kname, sizeof(kname), "boot", "", cfg->kernel);
	rc = plan_add(out, cfg->kernel, kname, false);
	if (rc)
		goto err;
	json_set_path(boot, "kernel", kname);
	if (cfg->initrd) {
		make_name(iname, sizeof(iname), "boot", "", cfg->initrd);
		if (strcmp(iname, kname) == 0)
			make_name(iname, sizeof(iname), "boot", "initrd-",
				  cfg->initrd);
		rc = plan_add(out, cfg->initrd, iname, false);
		if (rc)
			goto err;
		json_set_path(boot, "initrd", iname);
	}
	json_object_object_get_ex(doc, "disks", &disks);
	for (i = 0; i < cfg->nr_disks; i++) {
		rc = plan_disk(out, disks, cfg, i, err, errlen);
		if (rc)
			goto err;
	}
	/* Sockets are paths on this host; the importer's daemon picks its own. */
	drop_key(doc, "console", "socket");
	drop_key(doc, "vsock", "socket");
	text = json_object_to_json_string_ext(
		doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			     JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text || asprintf(&out->manifest, "%s\n", text) < 0) {
		out->manifest = NULL;
		rc = -ENOMEM;
		goto err;
	}
	json_object_put(doc);
	return 0;
err:
	if (rc == -ENOMEM && !err[0])
		seterr(err, errlen, "out of memory");
	json_object_put(doc);
	rv__bundle_plan_free(out);
	return rc;
}

void rv__bundle_plan_free(struct rv_bundle_plan *plan)
{
	unsigned int i;

	if (!plan)
		return;
	for (i = 0; i < plan->nr_files; i++)
		free(plan->files[i].src);
	free(plan->manifest);
	memset(plan, 0, sizeof(*plan));
}

/* ---------------------------------------------------------------------- */
/* Writer                                                                 */

struct writer {
	int fd;
	const struct rv_zstd_dl *zl;
	ZSTD_CCtx *cctx;
	uint8_t *out; /* compressed output buffer */
	size_t out_size;
	uint8_t *buf; /* one chunk of input */
	char sums[RV_BUNDLE_MAX_SUMS];
	size_t sums_len;
	char *err;
	size_t errlen;
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Compresses len bytes (end: finishes the frame) and writes the output. */
static int emit(struct writer *w, const void *data, size_t len, bool end)
{
	ZSTD_inBuffer in = { data, len, 0 };
	size_t left;
	int rc;

	do {
		ZSTD_outBuffer out = { w->out, w->out_size, 0 };

		left = w->zl->ZSTD_compressStream2(
			w->cctx, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
		if (w->zl->ZSTD_isError(left)) {
			seterr(w->err, w->errlen, "zstd: %s",
			       w->zl->ZSTD_getErrorName(left));
			return -EIO;
		}
		rc = write_all(w->fd, w->out, out.pos);
		if (rc) {
			seterr(w->err, w->errlen, "cannot write the bundle: %s",
			       strerror(-rc));
			return rc;
		}
	} while (in.pos < in.size || (end && left));
	return 0;
}

static int emit_header(struct writer *w, const char *name, uint64_t size)
{
	uint8_t hdr[RV_TAR_BLOCK];
	int rc = rv_tar_header_encode(hdr, name, size, FILE_MODE,
				      (uint64_t)time(NULL));

	if (rc) {
		seterr(w->err, w->errlen, "'%s': name too long", name);
		return rc;
	}
	return emit(w, hdr, sizeof(hdr), false);
}

static int emit_padding(struct writer *w, uint64_t size)
{
	static const uint8_t zeros[RV_TAR_BLOCK];

	return emit(w, zeros, (size_t)rv_tar_padding(size), false);
}

static int add_sum(struct writer *w, const char *name, struct rv_sha256 *s)
{
	uint8_t d[RV_SHA256_LEN];
	char hex[RV_SHA256_HEX_LEN + 1];
	int n;

	rv_sha256_final(s, d);
	rv_sha256_hex(d, hex);
	n = snprintf(w->sums + w->sums_len, sizeof(w->sums) - w->sums_len,
		     "%s  %s\n", hex, name);
	if (n < 0 || (size_t)n >= sizeof(w->sums) - w->sums_len)
		return -E2BIG;
	w->sums_len += (size_t)n;
	return 0;
}

/* One entry from memory (the manifest, SHA256SUMS). */
static int emit_mem(struct writer *w, const char *name, const char *data,
		    size_t len, bool sum)
{
	struct rv_sha256 s;
	int rc;

	rc = emit_header(w, name, len);
	if (!rc)
		rc = emit(w, data, len, false);
	if (!rc)
		rc = emit_padding(w, len);
	if (!rc && sum) {
		rv_sha256_init(&s);
		rv_sha256_update(&s, data, len);
		rc = add_sum(w, name, &s);
	}
	return rc;
}

/*
 * Feeds size bytes of fd: data ranges are read, holes (SEEK_DATA) are fed
 * as zeros from the chunk buffer without touching the disk.
 */
static int emit_fd(struct writer *w, int fd, uint64_t size, struct rv_sha256 *s,
		   const char *src)
{
	uint64_t off = 0, data;
	int rc;

	while (off < size) {
		off_t d = lseek(fd, (off_t)off, SEEK_DATA);
		size_t n;

		data = d < 0 ? size : (uint64_t)d;
		if (d < 0 && errno != ENXIO)
			data = off; /* no SEEK_DATA here: read everything */
		if (data > size)
			data = size;
		while (off < data) {
			n = data - off < RV_BUNDLE_CHUNK ?
				    (size_t)(data - off) :
				    RV_BUNDLE_CHUNK;
			memset(w->buf, 0, n);
			rv_sha256_update(s, w->buf, n);
			rc = emit(w, w->buf, n, false);
			if (rc)
				return rc;
			off += n;
		}
		if (off >= size)
			break;
		n = size - off < RV_BUNDLE_CHUNK ? (size_t)(size - off) :
						   RV_BUNDLE_CHUNK;
		ssize_t r = pread(fd, w->buf, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			seterr(w->err, w->errlen, "cannot read '%s': %s", src,
			       r < 0 ? strerror(errno) : "it became shorter");
			return r < 0 ? -errno : -EIO;
		}
		rv_sha256_update(s, w->buf, (size_t)r);
		rc = emit(w, w->buf, (size_t)r, false);
		if (rc)
			return rc;
		off += (uint64_t)r;
	}
	return 0;
}

/* A shared OFD lock: a worker that wants to write the file is refused. */
static int lock_shared(int fd)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };

	return fcntl(fd, F_OFD_SETLK, &fl) ? -errno : 0;
}

static int emit_file_path(struct writer *w, const char *path, const char *name,
			  const char *what)
{
	struct rv_sha256 s;
	struct stat sb;
	uint64_t size;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		seterr(w->err, w->errlen, "%s: cannot open '%s': %s", what,
		       path, strerror(-rc));
		return rc;
	}
	rc = lock_shared(fd);
	if (rc) {
		seterr(w->err, w->errlen,
		       "%s: '%s' is in use (is the VM running?)", what, path);
		rc = -EBUSY;
		goto out;
	}
	if (fstat(fd, &sb) || !(S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode))) {
		seterr(w->err, w->errlen,
		       "%s: '%s' is not a regular file or block device", what,
		       path);
		rc = -EINVAL;
		goto out;
	}
	size = S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size :
				     (uint64_t)lseek(fd, 0, SEEK_END);
	rv_sha256_init(&s);
	rc = emit_header(w, name, size);
	if (!rc)
		rc = emit_fd(w, fd, size, &s, path);
	if (!rc)
		rc = emit_padding(w, size);
	if (!rc)
		rc = add_sum(w, name, &s);
out:
	close(fd);
	return rc;
}

/*
 * Copies a qcow2 overlay and its backing chain into one new qcow2 image
 * at dst, skipping all-zero chunks so the copy stays as sparse as the
 * guest left it.
 */
static int flatten(const char *src, const char *dst, uint8_t *buf, char *err,
		   size_t errlen)
{
	struct rv_blk_create_opts o = { .format = RV_BLK_QCOW2 };
	struct rv_blk *in = NULL, *out = NULL;
	char berr[512];
	uint64_t off;
	int rc;

	rc = rv_blk_open(src, RV_BLK_QCOW2, true, &in, berr, sizeof(berr));
	if (rc)
		goto fail;
	o.size = in->size;
	rc = rv_blk_create(dst, &o, berr, sizeof(berr));
	if (!rc)
		rc = rv_blk_open(dst, RV_BLK_QCOW2, false, &out, berr,
				 sizeof(berr));
	if (rc)
		goto fail;
	for (off = 0; off < in->size;) {
		size_t n = in->size - off < RV_BUNDLE_CHUNK ?
				   (size_t)(in->size - off) :
				   RV_BUNDLE_CHUNK;
		struct iovec iov = { buf, n };

		rc = rv_blk_preadv(in, &iov, 1, off);
		if (!rc && !all_zero(buf, n))
			rc = rv_blk_pwritev(out, &iov, 1, off);
		if (rc) {
			snprintf(berr, sizeof(berr),
				 "'%.300s': copy failed at %llu: %s", src,
				 (unsigned long long)off, strerror(-rc));
			goto fail;
		}
		off += n;
	}
	rc = rv_blk_flush(out);
	if (rc)
		snprintf(berr, sizeof(berr), "'%.300s': %s", dst,
			 strerror(-rc));
fail:
	if (rc)
		seterr(err, errlen, "flattening: %s", berr);
	rv_blk_close(out);
	rv_blk_close(in);
	return rc;
}

/*
 * A flattened disk is written into a fresh 0700 folder next to the
 * bundle, never straight into the bundle's folder: that may be /tmp,
 * where another user could open the copy (the block layer creates it
 * 0644) and keep reading the VM's disk through that descriptor, or plant
 * a link at its name.
 */
static int emit_plan_file(struct writer *w, const struct rv_bundle_file *f,
			  const char *path)
{
	char tmpdir[PATH_MAX], tmp[PATH_MAX + 16];
	int rc;

	if (!f->flatten)
		return emit_file_path(w, f->src, f->name, f->name);
	if (snprintf(tmpdir, sizeof(tmpdir), "%s.flat.XXXXXX", path) >=
	    (int)sizeof(tmpdir))
		return -ENAMETOOLONG;
	if (!mkdtemp(tmpdir)) {
		rc = -errno;
		seterr(w->err, w->errlen,
		       "cannot create a folder next to '%s': %s", path,
		       strerror(-rc));
		return rc;
	}
	snprintf(tmp, sizeof(tmp), "%s/disk.qcow2", tmpdir);
	rc = flatten(f->src, tmp, w->buf, w->err, w->errlen);
	if (!rc)
		rc = emit_file_path(w, tmp, f->name, f->name);
	unlink(tmp);
	rmdir(tmpdir);
	return rc;
}

static int write_entries(struct writer *w, const struct rv_bundle_plan *plan,
			 const char *path)
{
	static const uint8_t end[2 * RV_TAR_BLOCK];
	unsigned int i;
	int rc;

	rc = emit_mem(w, RV_BUNDLE_MANIFEST, plan->manifest,
		      strlen(plan->manifest), true);
	for (i = 0; !rc && i < plan->nr_files; i++)
		rc = emit_plan_file(w, &plan->files[i], path);
	if (!rc)
		rc = emit_mem(w, RV_BUNDLE_SUMS, w->sums, w->sums_len, false);
	if (!rc)
		rc = emit(w, end, sizeof(end), false);
	if (!rc)
		rc = emit(w, NULL, 0, true);
	return rc;
}

static int fsync_parent(const char *path)
{
	char *dir = strdup(path), *slash;
	int fd, rc = 0;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd))
		rc = -errno;
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

int rv__bundle_write(const struct rv_bundle_plan *plan, const char *path,
		     char *err, size_t errlen)
{
	struct writer w = { .fd = -1, .err = err, .errlen = errlen };
	char tmp[PATH_MAX];
	int rc = -ENOMEM;

	err[0] = '\0';
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >=
	    (int)sizeof(tmp)) {
		seterr(err, errlen, "'%s': path too long", path);
		return -ENAMETOOLONG;
	}
	rc = rv__zstd_dl_load(&w.zl, err, errlen);
	if (rc)
		return rc;
	rc = -ENOMEM;
	w.cctx = w.zl->ZSTD_createCCtx();
	w.out_size = w.zl->ZSTD_CStreamOutSize();
	w.out = malloc(w.out_size);
	w.buf = malloc(RV_BUNDLE_CHUNK);
	if (!w.cctx || !w.out || !w.buf)
		goto out;
	w.zl->ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_compressionLevel,
				     ZSTD_LEVEL);
	w.zl->ZSTD_CCtx_setParameter(w.cctx, ZSTD_c_checksumFlag, 1);
	w.fd = mkostemp(tmp, O_CLOEXEC);
	if (w.fd < 0) {
		rc = -errno;
		seterr(err, errlen, "cannot create '%s': %s", tmp,
		       strerror(-rc));
		goto out;
	}
	if (fchmod(w.fd, FILE_MODE))
		rc = -errno;
	else
		rc = write_entries(&w, plan, path);
	if (!rc && fsync(w.fd)) {
		rc = -errno;
		seterr(err, errlen, "cannot write '%s': %s", tmp,
		       strerror(-rc));
	}
	if (!rc && rename(tmp, path)) {
		rc = -errno;
		seterr(err, errlen, "cannot rename '%s' to '%s': %s", tmp, path,
		       strerror(-rc));
	}
	if (!rc)
		fsync_parent(path);
	close(w.fd);
	if (rc)
		unlink(tmp);
out:
	if (rc == -ENOMEM && !err[0])
		seterr(err, errlen, "out of memory");
	w.zl->ZSTD_freeCCtx(w.cctx);
	free(w.out);
	free(w.buf);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Reader                                                                 */

struct reader {
	const struct rv_bundle_src *src;
	int dirfd;
	uint8_t *buf;
	struct rv_bundle_contents *c;
	char *sums; /* SHA256SUMS, NUL-terminated */
	/* The digests of the entries read so far, in names[] order. */
	char hex[RV_BUNDLE_MAX_FILES + 1][RV_SHA256_HEX_LEN + 1];
	char *err;
	size_t errlen;
};

/* Exactly len bytes, or -EBADMSG "truncated" at an early end. */
static int pull(struct reader *r, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = r->src->read(r->src->opaque, p, len);

		if (n < 0) {
			if (!r->err[0])
				seterr(r->err, r->errlen,
				       "cannot read the bundle: %s",
				       strerror((int)-n));
			return (int)n;
		}
		if (n == 0) {
			seterr(r->err, r->errlen, "the bundle is truncated");
			return -EBADMSG;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int skip_padding(struct reader *r, uint64_t size)
{
	uint8_t pad[RV_TAR_BLOCK];
	size_t n = (size_t)rv_tar_padding(size);
	int rc = pull(r, pad, n);

	if (!rc && !all_zero(pad, n)) {
		seterr(r->err, r->errlen, "garbage in a tar entry's padding");
		return -EBADMSG;
	}
	return rc;
}

/* Reads a small entry whole (manifest, SHA256SUMS) as a C string. */
static int pull_text(struct reader *r, const struct rv_tar_entry *e, char **out,
		     size_t *len, struct rv_sha256 *s)
{
	char *t = malloc(e->size + 1);
	int rc;

	if (!t)
		return -ENOMEM;
	rc = pull(r, t, e->size);
	if (!rc)
		rc = skip_padding(r, e->size);
	if (rc) {
		free(t);
		return rc;
	}
	t[e->size] = '\0';
	if (memchr(t, '\0', e->size)) {
		seterr(r->err, r->errlen, "'%s' holds a NUL byte", e->name);
		free(t);
		return -EBADMSG;
	}
	if (s)
		rv_sha256_update(s, t, e->size);
	*out = t;
	*len = e->size;
	return 0;
}

static int make_dirs(struct reader *r)
{
	if ((mkdirat(r->dirfd, "boot", DIR_MODE) && errno != EEXIST) ||
	    (mkdirat(r->dirfd, "disks", DIR_MODE) && errno != EEXIST)) {
		int rc = -errno;

		seterr(r->err, r->errlen, "cannot create folders: %s",
		       strerror(-rc));
		return rc;
	}
	return 0;
}

/* Writes buf at off, leaving each all-zero RV_BUNDLE_HOLE block a hole. */
static int write_sparse(int fd, const uint8_t *buf, size_t n, uint64_t off)
{
	size_t pos = 0, len;

	while (pos < n) {
		len = n - pos < RV_BUNDLE_HOLE ? n - pos : RV_BUNDLE_HOLE;
		if (all_zero(buf + pos, len)) {
			pos += len;
			continue;
		}
		ssize_t w = pwrite(fd, buf + pos, len, (off_t)(off + pos));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		pos += (size_t)w;
	}
	return 0;
}

/*
 * A bundle is small but may expand hugely (a zstd frame of repeated bytes
 * compresses about 30000:1), and the daemon writes as root, which may use
 * the blocks a file system keeps back for root. So before each chunk that
 * is not a hole, the space left to ordinary users (f_bavail) must exceed
 * the chunk plus a reserve of 1/32 of the file system (at most 1 GiB): an
 * import that would fill the disk is refused before it does.
 */
static int check_space(struct reader *r, const char *name, size_t n)
{
	struct statvfs sv;
	uint64_t avail, reserve;

	if (fstatvfs(r->dirfd, &sv))
		return 0; /* nothing to judge by: pwrite still says ENOSPC */
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	reserve = (uint64_t)sv.f_blocks * sv.f_frsize / 32;
	if (reserve > RV_BUNDLE_MIN_FREE_MAX)
		reserve = RV_BUNDLE_MIN_FREE_MAX;
	if (avail >= reserve && avail - reserve >= n)
		return 0;
	seterr(r->err, r->errlen,
	       "'%s': not enough free space to unpack the bundle "
	       "(%llu MiB left, %llu MiB kept free)",
	       name, (unsigned long long)(avail >> 20),
	       (unsigned long long)(reserve >> 20));
	return -ENOSPC;
}

/* Streams one file entry to dirfd/name; all-zero blocks stay holes. */
static int unpack_file(struct reader *r, const struct rv_tar_entry *e,
		       struct rv_sha256 *s)
{
	uint64_t off = 0;
	int fd, rc = 0;

	fd = openat(r->dirfd, e->name,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    FILE_MODE);
	if (fd < 0) {
		rc = -errno;
		seterr(r->err, r->errlen, "cannot create '%s': %s", e->name,
		       strerror(-rc));
		return rc;
	}
	while (off < e->size) {
		size_t n = e->size - off < RV_BUNDLE_CHUNK ?
				   (size_t)(e->size - off) :
				   RV_BUNDLE_CHUNK;

		rc = pull(r, r->buf, n);
		if (rc)
			goto out;
		rv_sha256_update(s, r->buf, n);
		if (!all_zero(r->buf, n)) {
			rc = check_space(r, e->name, n);
			if (rc)
				goto out;
		}
		rc = write_sparse(fd, r->buf, n, off);
		if (rc) {
			seterr(r->err, r->errlen, "cannot write '%s': %s",
			       e->name, strerror(-rc));
			goto out;
		}
		off += n;
	}
	if (ftruncate(fd, (off_t)e->size) || fsync(fd)) {
		rc = -errno;
		seterr(r->err, r->errlen, "cannot write '%s': %s", e->name,
		       strerror(-rc));
		goto out;
	}
	rc = skip_padding(r, e->size);
out:
	close(fd);
	return rc;
}

static void digest_hex(struct rv_sha256 *s, char hex[RV_SHA256_HEX_LEN + 1])
{
	uint8_t d[RV_SHA256_LEN];

	rv_sha256_final(s, d);
	rv_sha256_hex(d, hex);
}

static bool is_hex(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		      (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

/*
 * Compares SHA256SUMS, lines "<64 hex>  <name>", with what was read: the
 * manifest and every file once each, nothing else.
 */
static int check_sums(struct reader *r)
{
	bool seen[RV_BUNDLE_MAX_FILES + 1] = { false };
	char *line = r->sums, *nl;
	unsigned int i, n = r->c->nr_names + 1;

	for (; *line; line = nl + 1) {
		const char *name;

		nl = strchr(line, '\n');
		if (!nl || nl - line < RV_SHA256_HEX_LEN + 3 ||
		    !is_hex(line, RV_SHA256_HEX_LEN) ||
		    line[RV_SHA256_HEX_LEN] != ' ' ||
		    line[RV_SHA256_HEX_LEN + 1] != ' ') {
			seterr(r->err, r->errlen, "SHA256SUMS: malformed line");
			return -EBADMSG;
		}
		*nl = '\0';
		name = line + RV_SHA256_HEX_LEN + 2;
		for (i = 0; i < n; i++) {
			const char *want = i == 0 ? RV_BUNDLE_MANIFEST :
						    r->c->names[i - 1];

			if (strcmp(name, want) == 0)
				break;
		}
		if (i == n || seen[i]) {
			char q[64];

			rv_manifest_quote(name, strlen(name), 40, q, sizeof(q));
			seterr(r->err, r->errlen, "SHA256SUMS: '%s' is %s", q,
			       i == n ? "not in the bundle" : "listed twice");
			return -EBADMSG;
		}
		seen[i] = true;
		if (memcmp(line, r->hex[i], RV_SHA256_HEX_LEN) != 0) {
			seterr(r->err, r->errlen,
			       "'%s' is damaged: its SHA-256 does not match SHA256SUMS",
			       name);
			return -EBADMSG;
		}
	}
	for (i = 0; i < n; i++) {
		if (!seen[i]) {
			seterr(r->err, r->errlen,
			       "SHA256SUMS: no checksum for '%s'",
			       i == 0 ? RV_BUNDLE_MANIFEST :
					r->c->names[i - 1]);
			return -EBADMSG;
		}
	}
	return 0;
}

/* After SHA256SUMS: two zero blocks, then at most RV_BUNDLE_MAX_TAIL zeros. */
static int read_end(struct reader *r)
{
	uint8_t blk[RV_TAR_BLOCK];
	size_t tail = 0;
	ssize_t n;
	int rc, i;

	for (i = 0; i < 2; i++) {
		rc = pull(r, blk, sizeof(blk));
		if (rc)
			return rc;
		if (!rv_tar_block_zero(blk)) {
			seterr(r->err, r->errlen,
			       "an entry follows SHA256SUMS (it must be last)");
			return -EBADMSG;
		}
	}
	for (;;) {
		n = r->src->read(r->src->opaque, blk, sizeof(blk));
		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0;
		tail += (size_t)n;
		if (!all_zero(blk, (size_t)n) || tail > RV_BUNDLE_MAX_TAIL) {
			seterr(r->err, r->errlen,
			       "trailing garbage after the end of the archive");
			return -EBADMSG;
		}
	}
}

static int read_entry(struct reader *r, const struct rv_tar_entry *e,
		      bool *done)
{
	struct rv_bundle_contents *c = r->c;
	struct rv_sha256 s;
	size_t len;
	bool disk;
	unsigned int i;
	int rc;

	rv_sha256_init(&s);
	if (strcmp(e->name, RV_BUNDLE_SUMS) == 0) {
		/*
		 * The header was decoded against the disk limit; a SHA256SUMS
		 * claiming gigabytes would be allocated and filled whole.
		 */
		if (e->size > RV_BUNDLE_MAX_SUMS) {
			seterr(r->err, r->errlen,
			       "'%s' is too large (%llu bytes, at most %d)",
			       RV_BUNDLE_SUMS, (unsigned long long)e->size,
			       RV_BUNDLE_MAX_SUMS);
			return -EBADMSG;
		}
		rc = pull_text(r, e, &r->sums, &len, NULL);
		if (!rc)
			rc = check_sums(r);
		*done = true;
		return rc;
	}
	if (!file_name_valid(e->name, &disk)) {
		char q[64];

		rv_manifest_quote(e->name, strlen(e->name), 40, q, sizeof(q));
		seterr(r->err, r->errlen,
		       "'%s': not a name a bundle may hold (boot/NAME or disks/NAME)",
		       q);
		return -EBADMSG;
	}
	for (i = 0; i < c->nr_names; i++) {
		if (strcmp(c->names[i], e->name) == 0) {
			seterr(r->err, r->errlen, "'%s' appears twice",
			       e->name);
			return -EBADMSG;
		}
	}
	if (c->nr_names >= RV_BUNDLE_MAX_FILES) {
		seterr(r->err, r->errlen, "more than %d files",
		       RV_BUNDLE_MAX_FILES);
		return -EBADMSG;
	}
	if (e->size > (disk ? RV_BUNDLE_MAX_DISK : RV_BUNDLE_MAX_BOOT)) {
		seterr(r->err, r->errlen, "'%s' is too large (%llu bytes)",
		       e->name, (unsigned long long)e->size);
		return -EBADMSG;
	}
	snprintf(c->names[c->nr_names], sizeof(c->names[0]), "%s", e->name);
	c->nr_names++;
	rc = unpack_file(r, e, &s);
	if (!rc)
		digest_hex(&s, r->hex[c->nr_names]);
	return rc;
}

int rv__bundle_read_tar(const struct rv_bundle_src *src, int dirfd,
			struct rv_bundle_contents *out, char *err,
			size_t errlen)
{
	struct reader r = { .src = src,
			    .dirfd = dirfd,
			    .c = out,
			    .err = err,
			    .errlen = errlen };
	uint8_t hdr[RV_TAR_BLOCK];
	struct rv_tar_entry e;
	struct rv_sha256 s;
	bool done = false;
	int rc;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	r.buf = malloc(RV_BUNDLE_CHUNK);
	if (!r.buf)
		return -ENOMEM;
	rc = pull(&r, hdr, sizeof(hdr));
	if (!rc)
		rc = rv_tar_header_decode(hdr, RV_BUNDLE_MAX_MANIFEST, &e, err,
					  errlen);
	if (!rc && strcmp(e.name, RV_BUNDLE_MANIFEST) != 0) {
		seterr(err, errlen, "the first entry is not %s",
		       RV_BUNDLE_MANIFEST);
		rc = -EBADMSG;
	}
	rv_sha256_init(&s);
	if (!rc)
		rc = pull_text(&r, &e, &out->manifest, &out->manifest_len, &s);
	if (!rc) {
		digest_hex(&s, r.hex[0]);
		rc = make_dirs(&r);
	}
	while (!rc && !done) {
		rc = pull(&r, hdr, sizeof(hdr));
		if (!rc && rv_tar_block_zero(hdr)) {
			seterr(err, errlen,
			       "the archive ends before SHA256SUMS");
			rc = -EBADMSG;
		}
		if (!rc)
			rc = rv_tar_header_decode(hdr, RV_BUNDLE_MAX_DISK, &e,
						  err, errlen);
		if (!rc && strcmp(e.name, RV_BUNDLE_MANIFEST) == 0) {
			seterr(err, errlen, "'%s' appears twice",
			       RV_BUNDLE_MANIFEST);
			rc = -EBADMSG;
		}
		if (!rc)
			rc = read_entry(&r, &e, &done);
	}
	if (!rc)
		rc = read_end(&r);
	free(r.sums);
	free(r.buf);
	if (rc == -ENOMEM && !err[0])
		seterr(err, errlen, "out of memory");
	if (rc)
		rv__bundle_contents_free(out);
	return rc;
}

void rv__bundle_contents_free(struct rv_bundle_contents *c)
{
	if (!c)
		return;
	free(c->manifest);
	memset(c, 0, sizeof(*c));
}

/* ---------------------------------------------------------------------- */
/* The zstd layer                                                         */

struct zsrc {
	int fd;
	const struct rv_zstd_dl *zl;
	ZSTD_DCtx *dctx;
	uint8_t *in;
	ZSTD_inBuffer ib;
	size_t in_size;
	bool frame_done; /* the first frame ended: nothing more is read */
	bool file_eof;
	char *err;
	size_t errlen;
};

static ssize_t zsrc_read(void *opaque, void *buf, size_t len)
{
	struct zsrc *z = opaque;
	ZSTD_outBuffer ob = { buf, len, 0 };

	while (ob.pos == 0 && !z->frame_done) {
		size_t ret;

		if (z->ib.pos == z->ib.size && !z->file_eof) {
			ssize_t n = read(z->fd, z->in, z->in_size);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			if (n == 0)
				z->file_eof = true;
			z->ib.src = z->in;
			z->ib.size = (size_t)n;
			z->ib.pos = 0;
		}
		if (z->ib.pos == z->ib.size && z->file_eof)
			return 0; /* the frame never ended: truncated */
		ret = z->zl->ZSTD_decompressStream(z->dctx, &ob, &z->ib);
		if (z->zl->ZSTD_isError(ret)) {
			seterr(z->err, z->errlen,
			       "not a raevm bundle or damaged (zstd: %s)",
			       z->zl->ZSTD_getErrorName(ret));
			return -EBADMSG;
		}
		if (ret == 0)
			z->frame_done = true;
	}
	return (ssize_t)ob.pos;
}

/* True when bytes follow the zstd frame in the file. */
static int zsrc_trailing(struct zsrc *z)
{
	uint8_t b;
	ssize_t n;

	if (z->ib.pos < z->ib.size)
		return 1;
	do
		n = read(z->fd, &b, 1);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n > 0;
}

int rv__bundle_read(const char *path, int dirfd, struct rv_bundle_contents *out,
		    char *err, size_t errlen)
{
	struct zsrc z = { .err = err, .errlen = errlen };
	struct rv_bundle_src src = { zsrc_read, &z };
	struct stat sb;
	int rc = -ENOMEM;

	memset(out, 0, sizeof(*out));
	err[0] = '\0';
	rc = rv__zstd_dl_load(&z.zl, err, errlen);
	if (rc)
		return rc;
	rc = -ENOMEM;
	z.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (z.fd < 0) {
		rc = -errno;
		seterr(err, errlen, "cannot open '%s': %s", path,
		       strerror(-rc));
		return rc;
	}
	if (fstat(z.fd, &sb) || !S_ISREG(sb.st_mode)) {
		seterr(err, errlen, "'%s' is not a regular file", path);
		close(z.fd);
		return -EINVAL;
	}
	z.dctx = z.zl->ZSTD_createDCtx();
	z.in_size = z.zl->ZSTD_DStreamInSize();
	z.in = malloc(z.in_size);
	if (!z.dctx || !z.in)
		goto out;
	/* A hostile frame must not make the decoder reserve a huge window. */
	z.zl->ZSTD_DCtx_setParameter(z.dctx, ZSTD_d_windowLogMax, 27);
	rc = rv__bundle_read_tar(&src, dirfd, out, err, errlen);
	if (!rc && !z.frame_done) {
		seterr(err, errlen, "the bundle is truncated");
		rc = -EBADMSG;
	}
	if (!rc && zsrc_trailing(&z)) {
		seterr(err, errlen,
		       "trailing data after the compressed stream");
		rc = -EBADMSG;
	}
	if (rc)
		rv__bundle_contents_free(out);
out:
	if (rc == -ENOMEM && !err[0])
		seterr(err, errlen, "out of memory");
	z.zl->ZSTD_freeDCtx(z.dctx);
	free(z.in);
	close(z.fd);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* The unpacked bundle's manifest                                         */

/*
 * Which bundle file path names, as dir/NAME; marks it used. Returns false
 * for a path that is not one of the bundle's files (absolute elsewhere,
 * climbing with "..", or simply absent), or one used twice.
 */
static bool claim(const struct rv_bundle_contents *c, bool *used,
		  const char *dir, const char *path, bool want_disk)
{
	size_t dl = strlen(dir);
	unsigned int i;
	bool disk;

	if (!path || strncmp(path, dir, dl) != 0 || path[dl] != '/')
		return false;
	for (i = 0; i < c->nr_names; i++) {
		if (strcmp(path + dl + 1, c->names[i]) != 0)
			continue;
		if (used[i] || !file_name_valid(c->names[i], &disk) ||
		    disk != want_disk)
			return false;
		used[i] = true;
		return true;
	}
	return false;
}

static void errors_addf(struct json_object *errors, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void errors_addf(struct json_object *errors, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_array_add(errors, json_object_new_string(buf));
}

/* The checks of rv__bundle_check() on a parsed manifest. */
static int check_cfg(const struct rv_bundle_contents *c, const char *dir,
		     const struct rv_vm_config *cfg, char *err, size_t errlen)
{
	bool used[RV_BUNDLE_MAX_FILES] = { false };
	struct rv_blk_info *info;
	unsigned int i;
	char qerr[512];
	int rc = 0;

	if (!claim(c, used, dir, cfg->kernel, false)) {
		seterr(err, errlen,
		       "boot.kernel must name a boot/ file of the bundle");
		return -EBADMSG;
	}
	if (cfg->initrd && !claim(c, used, dir, cfg->initrd, false)) {
		seterr(err, errlen,
		       "boot.initrd must name a boot/ file of the bundle");
		return -EBADMSG;
	}
	for (i = 0; i < cfg->nr_disks; i++) {
		if (!claim(c, used, dir, cfg->disks[i].path, true)) {
			seterr(err, errlen,
			       "disks[%u].path must name a disks/ file of the bundle",
			       i);
			return -EBADMSG;
		}
	}
	for (i = 0; i < c->nr_names; i++) {
		if (!used[i]) {
			seterr(err, errlen,
			       "'%s' is in the bundle but its manifest does not use it",
			       c->names[i]);
			return -EBADMSG;
		}
	}
	if (cfg->console_socket || cfg->vsock.socket) {
		seterr(err, errlen,
		       "the manifest names a socket path (console.socket or vsock.socket); bundles carry none");
		return -EBADMSG;
	}
	info = calloc(1, sizeof(*info));
	if (!info)
		return -ENOMEM;
	/* A backing file would let the bundle read any file of this host. */
	for (i = 0; !rc && i < cfg->nr_disks; i++) {
		if (!cfg->disks[i].format ||
		    strcmp(cfg->disks[i].format, "qcow2") != 0)
			continue;
		rc = rv_blk_query(cfg->disks[i].path, RV_BLK_QCOW2, info, qerr,
				  sizeof(qerr));
		if (rc) {
			seterr(err, errlen, "disks[%u]: %s", i,
			       strrchr(qerr, '/') ? strrchr(qerr, '/') + 1 :
						    qerr);
			rc = -EBADMSG;
		} else if (info->has_backing) {
			seterr(err, errlen,
			       "disks[%u]: the qcow2 image names a backing file; bundles carry standalone images",
			       i);
			rc = -EBADMSG;
		}
	}
	free(info);
	return rc;
}

int rv__bundle_check(const struct rv_bundle_contents *c, const char *dir,
		     const char *name, struct json_object **doc,
		     char vm_name[65], struct json_object *errors, char *err,
		     size_t errlen)
{
	struct json_tokener *tok = json_tokener_new();
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;
	struct json_object *d = NULL;
	const char *text;
	size_t i;
	int rc;

	*doc = NULL;
	err[0] = '\0';
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	d = json_tokener_parse_ex(tok, c->manifest, (int)c->manifest_len);
	json_tokener_free(tok);
	if (!d || !json_object_is_type(d, json_type_object)) {
		seterr(err, errlen, "%s is not a JSON object",
		       RV_BUNDLE_MANIFEST);
		json_object_put(d);
		return -EBADMSG;
	}
	if (name)
		json_object_object_add(d, "name", json_object_new_string(name));
	text = json_object_to_json_string_ext(
		d, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text) {
		json_object_put(d);
		return -ENOMEM;
	}
	rv_vm_config_init(&cfg);
	rv_manifest_errors_init(&errs);
	rc = rv_manifest_parse(text, strlen(text), dir, &cfg, &errs);
	if (rc == -EINVAL || rc == -EFBIG) {
		for (i = 0; i < errs.count; i++)
			errors_addf(errors, "%s", errs.lines[i]);
		if (!errs.count)
			errors_addf(errors, "the manifest is not valid");
		rc = -EINVAL;
	}
	rv_manifest_errors_free(&errs);
	if (!rc)
		rc = check_cfg(c, dir, &cfg, err, errlen);
	if (!rc) {
		snprintf(vm_name, 65, "%s", cfg.name);
		*doc = d;
		d = NULL;
	}
	if (rc == -ENOMEM && !err[0])
		seterr(err, errlen, "out of memory");
	rv_vm_config_free(&cfg);
	json_object_put(d);
	return rc;
}
