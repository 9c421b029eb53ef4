// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the qcow2 backend (devices/block/qcow2*.c) over images
 * made in a temporary folder: every header check at open with its exact
 * line (crafted by patching bytes of an image rv_blk_create() made), read
 * and write round trips, zero clusters, backing files, copy-on-write,
 * discard, refcount table growth, and the on-disk state after writes with
 * and without a flush. Refcounts are checked by a walker written here,
 * independently of the backend: every cluster's refcount must equal the
 * number of references to it (no leaks after a clean close; after a
 * "crash" copy, leaks are allowed but a missing refcount is not).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "raevm/block.h"
#include "raevm/util.h"

#include "../../../devices/block/qcow2.h"

#define MiB (1024ULL * 1024)

static char dir[64];

static void path_of(char *out, const char *name)
{
	snprintf(out, 256, "%s/%s", dir, name);
}

static int rm_one(const char *p, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/rv-qcow2-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers ---- */

static void create(const char *path, uint64_t size, uint32_t cbits,
		   const char *backing, enum rv_blk_format bfmt)
{
	struct rv_blk_create_opts o = {
		.format = RV_BLK_QCOW2,
		.size = size,
		.backing = backing,
		.backing_format = bfmt,
		.cluster_bits = cbits,
	};
	char err[512] = "";
	int rc = rv_blk_create(path, &o, err, sizeof(err));

	if (rc)
		print_error("create %s: %s\n", path, err);
	assert_int_equal(rc, 0);
}

/* A raw file of any size (a backing file need not be sector-sized). */
static void create_raw(const char *path, uint64_t size, int pattern)
{
	uint8_t *buf;
	int fd;

	buf = malloc(size);
	assert_non_null(buf);
	memset(buf, pattern, size);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, size, 0), (ssize_t)size);
	close(fd);
	free(buf);
}

static void poke(const char *path, uint64_t off, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static void poke32(const char *path, uint64_t off, uint32_t v)
{
	v = htobe32(v);
	poke(path, off, &v, 4);
}

static void poke64(const char *path, uint64_t off, uint64_t v)
{
	v = htobe64(v);
	poke(path, off, &v, 8);
}

static uint64_t peek64(const char *path, uint64_t off)
{
	uint64_t v = 0;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &v, 8, (off_t)off), 8);
	close(fd);
	return be64toh(v);
}

static struct rv_blk *open_ok(const char *path, bool ro)
{
	struct rv_blk *b = NULL;
	char err[1024] = "";
	int rc = rv_blk_open(path, RV_BLK_QCOW2, ro, &b, err, sizeof(err));

	if (rc)
		print_error("open %s: %s\n", path, err);
	assert_int_equal(rc, 0);
	return b;
}

/* The open fails with code and exactly "'path': why". */
static void open_fails(const char *path, bool ro, int code, const char *why)
{
	struct rv_blk *b = (struct rv_blk *)&b;
	char err[1024] = "", want[1024];

	assert_int_equal(rv_blk_open(path, RV_BLK_QCOW2, ro, &b, err,
				     sizeof(err)),
			 code);
	assert_null(b);
	snprintf(want, sizeof(want), "'%s': %s", path, why);
	assert_string_equal(err, want);
}

static void wr(struct rv_blk *b, uint64_t off, uint64_t len, int pattern)
{
	uint8_t *buf = malloc(len);
	struct iovec v = { .iov_base = buf, .iov_len = len };

	assert_non_null(buf);
	memset(buf, pattern, len);
	assert_int_equal(rv_blk_pwritev(b, &v, 1, off), 0);
	free(buf);
}

/* Reads [off, off + len) and checks every byte is pattern. */
static void rd(struct rv_blk *b, uint64_t off, uint64_t len, int pattern)
{
	uint8_t *buf = malloc(len);
	struct iovec v = { .iov_base = buf, .iov_len = len };
	uint64_t i;

	assert_non_null(buf);
	memset(buf, ~pattern, len);
	assert_int_equal(rv_blk_preadv(b, &v, 1, off), 0);
	for (i = 0; i < len; i++) {
		if (buf[i] != (uint8_t)pattern)
			print_error("byte %llu: 0x%02x != 0x%02x\n",
				    (unsigned long long)(off + i), buf[i],
				    pattern);
		assert_int_equal(buf[i], (uint8_t)pattern);
	}
	free(buf);
}

/* ---- the refcount walker ---- */

struct walk {
	uint64_t errors; /* clusters with fewer refcounts than references */
	uint64_t leaks;	 /* clusters with more */
	uint64_t data;	 /* data clusters referenced */
};

static uint32_t be32at(const uint8_t *b, uint64_t off)
{
	uint32_t v;

	memcpy(&v, b + off, 4);
	return be32toh(v);
}

static uint64_t be64at(const uint8_t *b, uint64_t off)
{
	uint64_t v;

	memcpy(&v, b + off, 8);
	return be64toh(v);
}

static uint64_t refcount_at(const uint8_t *blk, uint32_t order, uint64_t i)
{
	uint32_t bits = 1U << order;
	uint64_t v = 0, k;

	if (bits < 8)
		return (blk[i * bits / 8] >> (i * bits % 8)) &
		       ((1U << bits) - 1);
	for (k = 0; k < bits / 8; k++)
		v = v << 8 | blk[i * bits / 8 + k];
	return v;
}

static void walk_buf(const uint8_t *f, size_t len, struct walk *w)
{
	uint32_t cbits = be32at(f, 20), version = be32at(f, 4);
	uint64_t cs = 1ULL << cbits, n = (len + cs - 1) / cs;
	uint32_t l1_size = be32at(f, 36), rt_cl = be32at(f, 56);
	uint64_t l1_off = be64at(f, 40), rt_off = be64at(f, 48), i, k;
	uint32_t order = version >= 3 ? be32at(f, 96) : 4;
	uint64_t rbe = cs * 8 >> order, rt_n = rt_cl * cs / 8;
	uint32_t *want = calloc(n + 1, sizeof(*want));

	assert_non_null(want);
	memset(w, 0, sizeof(*w));
#define REF(off)                                                               \
	do {                                                                   \
		assert_true((off) / cs < n);                                   \
		want[(off) / cs]++;                                            \
	} while (0)
	REF(0);
	for (i = 0; i < (l1_size * 8ULL + cs - 1) / cs; i++)
		REF(l1_off + i * cs);
	for (i = 0; i < rt_cl; i++)
		REF(rt_off + i * cs);
	for (i = 0; i < rt_n; i++)
		if (be64at(f, rt_off + 8 * i))
			REF(be64at(f, rt_off + 8 * i));
	for (i = 0; i < l1_size; i++) {
		uint64_t e = be64at(f, l1_off + 8 * i);
		uint64_t l2 = e & QCOW2_OFFSET_MASK;

		if (!l2)
			continue;
		assert_true(e & QCOW2_OFLAG_COPIED);
		REF(l2);
		for (k = 0; k < cs / 8; k++) {
			uint64_t e2 = be64at(f, l2 + 8 * k);

			if (!(e2 & QCOW2_OFFSET_MASK))
				continue;
			assert_true(e2 & QCOW2_OFLAG_COPIED);
			REF(e2 & QCOW2_OFFSET_MASK);
			w->data++;
		}
	}
#undef REF
	for (i = 0; i < n; i++) {
		uint64_t j = i / rbe, have = 0;

		if (j < rt_n && be64at(f, rt_off + 8 * j))
			have = refcount_at(f + be64at(f, rt_off + 8 * j), order,
					   i % rbe);
		if (have < want[i])
			w->errors++;
		else if (have > want[i])
			w->leaks++;
	}
	free(want);
}

static void walk(const char *path, struct walk *w)
{
	uint8_t *f;
	size_t len;

	assert_int_equal(rv_read_file(path, 512 * MiB, &f, &len), 0);
	walk_buf(f, len, w);
	free(f);
}

static void expect_exact_refcounts(const char *path)
{
	struct walk w;

	walk(path, &w);
	assert_int_equal(w.errors, 0);
	assert_int_equal(w.leaks, 0);
}

/* ---- header checks at open ---- */

static void open__missing_file(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "nope.qcow2");
	open_fails(p, false, -ENOENT, "no such file");
}

static void open__directory(void **state)
{
	(void)state;
	open_fails(dir, true, -EISDIR, "is a directory");
}

static void open__bad_magic(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "magic.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	poke32(p, 0, 0x514649fa);
	open_fails(p, true, -EINVAL, "not a qcow2 image (bad magic)");
}

static void open__truncated(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "short.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	assert_int_equal(truncate(p, 50), 0);
	open_fails(p, true, -EINVAL, "truncated header (the file is 50 bytes)");
}

static void open__bad_version(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "v4.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	poke32(p, 4, 4);
	open_fails(p, true, -EINVAL,
		   "unsupported qcow2 version 4 (raevm reads 2 and 3)");
}

static void open__cluster_bits(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "cbits.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	poke32(p, 20, 8);
	open_fails(p, true, -EINVAL, "cluster_bits 8 is out of range (9-21)");
	poke32(p, 20, 22);
	open_fails(p, true, -EINVAL, "cluster_bits 22 is out of range (9-21)");
}

static void open__header_length(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "hlen.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	poke32(p, 100, 100);
	open_fails(p, true, -EINVAL,
		   "bad header length 100 (a multiple of 8 from 104 to the "
		   "cluster size)");
	poke32(p, 100, 108);
	open_fails(p, true, -EINVAL,
		   "bad header length 108 (a multiple of 8 from 104 to the "
		   "cluster size)");
}

static void open__refcount_order(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "order.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	poke32(p, 96, 7);
	open_fails(p, true, -EINVAL, "refcount_order 7 is out of range (0-6)");
}

static void open__l1_too_small(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "l1small.qcow2");
	/* 64 KiB clusters: one L1 entry covers 512 MiB. */
	create(p, 600 * MiB, 0, NULL, RV_BLK_RAW);
	poke32(p, 36, 1);
	open_fails(p, true, -EINVAL,
		   "L1 table has 1 entries; the virtual size needs 2");
}

static void open__l1_unaligned(void **state)
{
	char p[256];
	uint64_t l1;

	(void)state;
	path_of(p, "l1align.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	l1 = peek64(p, 40);
	poke64(p, 40, l1 + 512);
	open_fails(p, true, -EINVAL,
		   "L1 table offset 0x30200 is not cluster-aligned");
}

static void open__l1_past_end(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "l1end.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	poke64(p, 40, 0x100000);
	open_fails(p, true, -EINVAL,
		   "L1 table (0x100000, 1 entries) ends past the end of the "
		   "file");
}

static void open__refcount_table(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "rt.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	poke32(p, 56, 0);
	open_fails(p, true, -EINVAL, "refcount table is empty");
	poke32(p, 56, 4);
	open_fails(p, true, -EINVAL,
		   "refcount table (0x10000, 4 clusters) ends past the end of "
		   "the file");
	poke32(p, 56, 1);
	poke64(p, 48, 0x30000);
	open_fails(p, true, -EINVAL, "L1 table and refcount table overlap");
	poke64(p, 48, 0);
	open_fails(p, true, -EINVAL, "refcount table overlaps the header");
}

static void open__backing_name(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "bname.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	poke64(p, 8, 512);
	poke32(p, 16, 2000);
	open_fails(p, true, -EINVAL,
		   "backing file name is too long (2000 bytes; the limit is "
		   "1023)");
	poke64(p, 8, 65530);
	poke32(p, 16, 10);
	open_fails(p, true, -EINVAL,
		   "backing file name lies outside the header cluster");
	poke64(p, 8, 64);
	open_fails(p, true, -EINVAL, "backing file name overlaps the header");
	poke64(p, 8, 512); /* zeros there */
	open_fails(p, true, -EINVAL, "backing file name contains a NUL byte");
}

static void open__extension_overrun(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "ext.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	poke32(p, 104, 0x12345678);
	poke32(p, 108, 70000);
	open_fails(p, true, -EINVAL,
		   "header extension 0x12345678 at offset 104 runs past the "
		   "extension area");
	/* An unknown extension that fits is skipped. */
	poke32(p, 108, 8);
	rv_blk_close(open_ok(p, true));
}

static void open__encrypted(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "aes.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	poke32(p, 32, 1);
	open_fails(p, true, -EINVAL,
		   "image is encrypted (AES); raevm cannot open encrypted "
		   "images");
	poke32(p, 32, 2);
	open_fails(p, true, -EINVAL,
		   "image is encrypted (LUKS); raevm cannot open encrypted "
		   "images");
}

static void open__dirty_and_corrupt(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "dirty.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	poke64(p, 72, QCOW2_INCOMPAT_DIRTY);
	open_fails(p, true, -EINVAL,
		   "image is dirty: run 'qemu-img check -r all'");
	open_fails(p, false, -EINVAL,
		   "image is dirty: run 'qemu-img check -r all'");
	poke64(p, 72, QCOW2_INCOMPAT_CORRUPT);
	open_fails(p, true, -EINVAL,
		   "image is marked corrupt: run 'qemu-img check -r all'");
}

static void open__unknown_features(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "feat.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	poke64(p, 72, (1ULL << 5) | QCOW2_INCOMPAT_DATA_FILE | (1ULL << 63));
	open_fails(p, true, -EOPNOTSUPP,
		   "image uses incompatible features raevm does not support: "
		   "external data file (bit 2), bit 5, bit 63");
	/* Compression type alone only matters to compressed clusters. */
	poke64(p, 72, QCOW2_INCOMPAT_COMPRESSION);
	rv_blk_close(open_ok(p, false));
}

/* A feature name table names bits raevm has never heard of. */
static void open__feature_table_names(void **state)
{
	uint8_t ext[8 + 48] = { 0 };
	char p[256];

	(void)state;
	path_of(p, "ftab.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	ext[0] = 0x68;
	ext[1] = 0x03;
	ext[2] = 0xf8;
	ext[3] = 0x57;
	ext[7] = 48;
	ext[8] = 0; /* incompatible */
	ext[9] = 7; /* bit */
	memcpy(ext + 10, "time travel", 11);
	poke(p, 104, ext, sizeof(ext));
	poke64(p, 72, 1ULL << 7);
	open_fails(p, true, -EOPNOTSUPP,
		   "image uses incompatible features raevm does not support: "
		   "time travel (bit 7)");
}

static void open__compressed_cluster(void **state)
{
	struct rv_blk *b;
	uint64_t l2, e;
	char p[256];

	(void)state;
	path_of(p, "comp.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	b = open_ok(p, false);
	wr(b, 0x20000, 4096, 0x5a);
	rv_blk_close(b);
	l2 = peek64(p, 0x30000) & QCOW2_OFFSET_MASK;
	e = peek64(p, l2 + 16);
	poke64(p, l2 + 16, (e & ~QCOW2_OFLAG_COPIED) | QCOW2_OFLAG_COMPRESSED);
	open_fails(p, true, -EINVAL,
		   "image has compressed clusters (guest offset 0x20000); "
		   "raevm cannot read them: convert it with 'qemu-img convert "
		   "-O qcow2'");
}

static void open__data_over_metadata(void **state)
{
	struct rv_blk *b;
	char p[256];
	uint64_t l2;

	(void)state;
	path_of(p, "overlap.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	b = open_ok(p, false);
	wr(b, 0, 4096, 0x5a);
	rv_blk_close(b);
	l2 = peek64(p, 0x30000) & QCOW2_OFFSET_MASK;
	poke64(p, l2, 0x10000 | QCOW2_OFLAG_COPIED); /* the refcount table */
	open_fails(p, true, -EINVAL,
		   "data cluster 0x10000 (guest offset 0x0) overlaps other "
		   "metadata or data");
	poke64(p, l2, 0x7770000 | QCOW2_OFLAG_COPIED);
	open_fails(p, true, -EINVAL,
		   "data cluster 0x7770000 (guest offset 0x0) lies past the "
		   "end of the file");
	poke64(p, l2, 0x40000 | QCOW2_OFLAG_COPIED | 2);
	open_fails(p, true, -EINVAL,
		   "L2 entry for guest offset 0x0 has reserved bits set");
}

static void open__refcount_mismatch(void **state)
{
	struct rv_blk *b;
	char p[256];
	uint64_t l2, data, rb;
	uint16_t zero = 0;

	(void)state;
	path_of(p, "refs.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	b = open_ok(p, false);
	wr(b, 0, 4096, 0x5a);
	rv_blk_close(b);
	l2 = peek64(p, 0x30000) & QCOW2_OFFSET_MASK;
	data = peek64(p, l2) & QCOW2_OFFSET_MASK;
	rb = peek64(p, 0x10000);
	poke(p, rb + 2 * (data >> 16), &zero, 2);
	/* Writes need exact refcounts; reads do not. */
	open_fails(p, false, -EINVAL,
		   "cluster 0x50000 is in use but its refcount is 0: run "
		   "'qemu-img check -r all'");
	b = open_ok(p, true);
	rd(b, 0, 4096, 0x5a);
	rv_blk_close(b);
	assert_int_equal(data, 0x50000);
}

static void open__snapshots_read_only(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "snap.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	poke32(p, 60, 2);
	open_fails(p, false, -EINVAL,
		   "image has internal snapshots (2); raevm opens such images "
		   "read-only only");
	rv_blk_close(open_ok(p, true));
}

static void open__locked(void **state)
{
	struct rv_blk *a, *ro;
	char p[256];

	(void)state;
	path_of(p, "lock.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	a = open_ok(p, false);
	open_fails(p, true, -EBUSY,
		   "the image is in use (another process holds a write lock "
		   "on it)");
	rv_blk_close(a);
	ro = open_ok(p, true);
	rv_blk_close(open_ok(p, true)); /* readers share */
	open_fails(p, false, -EBUSY,
		   "the image is in use (another process holds a conflicting "
		   "lock on it)");
	rv_blk_close(ro);
}

static void open__backing_missing(void **state)
{
	char p[256], want[512], base[256];

	(void)state;
	path_of(p, "orphan.qcow2");
	path_of(base, "gone.raw");
	create_raw(base, MiB, 0);
	create(p, 0, 0, "gone.raw", RV_BLK_RAW);
	assert_int_equal(unlink(base), 0);
	snprintf(want, sizeof(want), "backing file: '%s': no such file", base);
	open_fails(p, true, -ENOENT, want);
}

static void open__backing_loop(void **state)
{
	char p[256], want[512];

	(void)state;
	path_of(p, "loop.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	/* Point the image at itself: name after the end-of-extensions. */
	poke(p, 112, "loop.qcow2", 10);
	poke64(p, 8, 112);
	poke32(p, 16, 10);
	snprintf(want, sizeof(want),
		 "backing file: '%s': backing file loop: the image is its own "
		 "backing file (1 levels down)",
		 p);
	open_fails(p, true, -ELOOP, want);
}

static void open__bad_backing_format(void **state)
{
	uint8_t ext[16] = { 0xe2, 0x79, 0x2a, 0xca, 0,	 0,
			    0,	  4,	'v',  'm',  'd', 'k' };
	char p[256];

	(void)state;
	path_of(p, "vmdk.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	poke(p, 104, ext, sizeof(ext));
	poke(p, 128, "base.vmdk", 9);
	poke64(p, 8, 128);
	poke32(p, 16, 9);
	open_fails(p, true, -EINVAL,
		   "backing file format 'vmdk' is not supported (raw or "
		   "qcow2)");
}

/* Names name as p's backing file (raw, no format extension). */
static void set_backing(const char *p, const char *name)
{
	poke(p, 112, name, strlen(name));
	poke64(p, 8, 112);
	poke32(p, 16, (uint32_t)strlen(name));
}

/* An image in dir/sub named name, whose backing file is backing. */
static void overlay_in(char *out, const char *sub, const char *name,
		       const char *backing)
{
	char folder[128];

	snprintf(folder, sizeof(folder), "%s/%s", dir, sub);
	if (mkdir(folder, 0755) < 0)
		assert_int_equal(errno, EEXIST);
	snprintf(out, 256, "%s/%s", folder, name);
	unlink(out);
	create(out, MiB, 0, NULL, RV_BLK_RAW);
	set_backing(out, backing);
}

static void expect_outside(const char *p, const char *name, const char *sub)
{
	char want[1024];

	snprintf(want, sizeof(want),
		 "backing file '%s' is outside the image's folder '%s/%s'; "
		 "raevm only follows backing files inside that folder or "
		 "below it: move or copy the base image there and rebase the "
		 "overlay (see docs/devices.md)",
		 name, dir, sub);
	open_fails(p, true, -EPERM, want);
}

static void expect_not_regular(const char *p, const char *name)
{
	char want[1024];

	snprintf(want, sizeof(want),
		 "backing file '%s' is not a regular file (devices, FIFOs, "
		 "sockets and folders are refused; see docs/devices.md)",
		 name);
	open_fails(p, true, -EPERM, want);
}

static void open__backing_outside_absolute(void **state)
{
	char p[256];

	(void)state;
	overlay_in(p, "abs", "evil.qcow2", "/etc/passwd");
	expect_outside(p, "/etc/passwd", "abs");
	set_backing(p, "/dev/zero");
	expect_outside(p, "/dev/zero", "abs");
}

static void open__backing_dotdot_escape(void **state)
{
	char p[256], base[256];

	(void)state;
	path_of(base, "up.raw");
	create_raw(base, MiB, 0x11);
	overlay_in(p, "dd", "escape.qcow2", "../up.raw");
	expect_outside(p, "../up.raw", "dd");
	/* ".." that comes back inside is fine. */
	set_backing(p, "../dd/ok.raw");
	path_of(base, "dd/ok.raw");
	create_raw(base, MiB, 0x22);
	rv_blk_close(open_ok(p, true));
}

static void open__backing_symlink_escape(void **state)
{
	char p[256], link[256], base[256];
	struct rv_blk *b;

	(void)state;
	path_of(base, "target.raw");
	create_raw(base, MiB, 0x33);
	overlay_in(p, "ln", "link.qcow2", "out.raw");
	path_of(link, "ln/out.raw");
	assert_int_equal(symlink("../target.raw", link), 0);
	expect_outside(p, "out.raw", "ln");
	/* A link that stays inside the folder is followed. */
	path_of(base, "ln/real.raw");
	create_raw(base, MiB, 0x44);
	path_of(link, "ln/in.raw");
	assert_int_equal(symlink("real.raw", link), 0);
	set_backing(p, "in.raw");
	b = open_ok(p, true);
	rd(b, 0, 4096, 0x44);
	rv_blk_close(b);
}

static void open__backing_not_regular(void **state)
{
	char p[256], node[256];

	(void)state;
	overlay_in(p, "nr", "fifo.qcow2", "pipe");
	path_of(node, "nr/pipe");
	assert_int_equal(mkfifo(node, 0600), 0);
	expect_not_regular(p, "pipe");
	set_backing(p, "sub");
	path_of(node, "nr/sub");
	assert_int_equal(mkdir(node, 0755), 0);
	expect_not_regular(p, "sub");
	/* A character device inside the folder (/dev/zero's numbers). */
	path_of(node, "nr/zero");
	if (mknod(node, S_IFCHR | 0600, makedev(1, 5)) == 0) {
		set_backing(p, "zero");
		expect_not_regular(p, "zero");
	}
}

static void open__backing_chain_escape(void **state)
{
	char top[256], mid[256], base[256], want[1024];

	(void)state;
	path_of(base, "chain-base.raw");
	create_raw(base, MiB, 0x55);
	overlay_in(mid, "ch", "mid.qcow2", "../chain-base.raw");
	path_of(top, "ch/top.qcow2");
	create(top, MiB, 0, NULL, RV_BLK_RAW);
	/* A qcow2 backing file: the format extension, then the name. */
	poke(top, 104,
	     (const uint8_t[]){ 0xe2, 0x79, 0x2a, 0xca, 0, 0, 0, 5, 'q', 'c',
				'o', 'w', '2', 0, 0, 0 },
	     16);
	poke64(top, 8, 128);
	poke32(top, 16, 9);
	poke(top, 128, "mid.qcow2", 9);
	snprintf(want, sizeof(want),
		 "backing file: '%s': backing file '../chain-base.raw' is "
		 "outside the image's folder '%s/ch'; raevm only follows "
		 "backing files inside that folder or below it: move or copy "
		 "the base image there and rebase the overlay (see "
		 "docs/devices.md)",
		 mid, dir);
	open_fails(top, true, -EPERM, want);
}

static void open__backing_allowed(void **state)
{
	char p[256], base[256];
	struct rv_blk *b;

	(void)state;
	path_of(base, "al/deeper/b.raw");
	overlay_in(p, "al", "ok.qcow2", "deeper/b.raw");
	path_of(base, "al/deeper");
	assert_int_equal(mkdir(base, 0755), 0);
	path_of(base, "al/deeper/b.raw");
	create_raw(base, MiB, 0x66);
	b = open_ok(p, true);
	rd(b, 0, 4096, 0x66);
	rv_blk_close(b);
	/* An absolute name that resolves inside. */
	set_backing(p, base);
	poke32(p, 16, (uint32_t)strlen(base));
	b = open_ok(p, true);
	rd(b, 4096, 4096, 0x66);
	rv_blk_close(b);
}

static void create__backing_outside(void **state)
{
	struct rv_blk_create_opts o = { .format = RV_BLK_QCOW2,
					.backing = "/etc/passwd",
					.backing_format = RV_BLK_RAW };
	char p[256], err[1024], base[256];

	(void)state;
	path_of(p, "cr-out.qcow2");
	assert_int_equal(rv_blk_create(p, &o, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "backing file '/etc/passwd' is outside "
				    "the image's folder"));
	assert_int_equal(access(p, F_OK), -1);
	/* Absolute or relative inside the folder: made. */
	path_of(base, "cr-base.raw");
	create_raw(base, MiB, 0);
	create(p, 0, 0, base, RV_BLK_RAW);
	path_of(p, "cr-rel.qcow2");
	create(p, 0, 0, "cr-base.raw", RV_BLK_RAW);
	rv_blk_close(open_ok(p, false));
}

/* ---- unaligned offsets ---- */

static void open__unaligned_l2_entry(void **state)
{
	struct rv_blk *b;
	char p[256];
	uint64_t l2;

	(void)state;
	path_of(p, "unal-l2.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	b = open_ok(p, false);
	wr(b, 0, 4096, 0x5a);
	rv_blk_close(b);
	l2 = peek64(p, 0x30000) & QCOW2_OFFSET_MASK;
	poke64(p, l2, 0x50200 | QCOW2_OFLAG_COPIED);
	open_fails(p, true, -EINVAL,
		   "L2 entry for guest offset 0x0 points at 0x50200, which is "
		   "not cluster-aligned (the image is corrupt)");
	/* Preallocated zero clusters too: a write would use the offset. */
	poke64(p, l2, 0x50200 | QCOW2_OFLAG_COPIED | QCOW2_OFLAG_ZERO);
	open_fails(p, true, -EINVAL,
		   "L2 entry for guest offset 0x0 points at 0x50200, which is "
		   "not cluster-aligned (the image is corrupt)");
}

static void open__unaligned_l1_entry(void **state)
{
	struct rv_blk *b;
	char p[256];

	(void)state;
	path_of(p, "unal-l1.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	b = open_ok(p, false);
	wr(b, 0, 4096, 0x5a);
	rv_blk_close(b);
	poke64(p, 0x30000, 0x40200 | QCOW2_OFLAG_COPIED);
	open_fails(p, true, -EINVAL,
		   "L1 entry 0 points at an L2 table at 0x40200, which is not "
		   "cluster-aligned (the image is corrupt)");
}

static void open__unaligned_refcount_block(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "unal-rt.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	poke64(p, 0x10000, 0x20200);
	open_fails(p, true, -EINVAL,
		   "refcount table entry 0 points at 0x20200, which is not "
		   "cluster-aligned (the image is corrupt)");
}

/* A sparse file whose L1 names more L2 tables than the scan reads. */
static void open__scan_bound(void **state)
{
	uint64_t n = (QCOW2_MAX_SCAN_BYTES >> 21) + 1, l1, i, *t;
	char p[256], want[512];

	(void)state;
	path_of(p, "scan.qcow2");
	create(p, n << 39, 21, NULL, RV_BLK_RAW);
	l1 = peek64(p, 40);
	t = calloc(n, 8);
	assert_non_null(t);
	for (i = 0; i < n; i++)
		t[i] = htobe64(((i + 16) << 21) | QCOW2_OFLAG_COPIED);
	poke(p, l1, t, n * 8);
	free(t);
	snprintf(want, sizeof(want),
		 "the image has %llu L2 tables (%llu MiB), more than raevm "
		 "checks at open (4096 MiB): copy it with 'qemu-img convert' "
		 "or split the disk",
		 (unsigned long long)n, (unsigned long long)(n * 2));
	open_fails(p, true, -EINVAL, want);
}

/* ---- the header changing between its two reads ---- */

int __real_rv__blk_pread_full(int fd, void *buf, size_t len, uint64_t off);
int __wrap_rv__blk_pread_full(int fd, void *buf, size_t len, uint64_t off);

static const char *race_path; /* rewrite this file after the first read */

int __wrap_rv__blk_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	int rc = __real_rv__blk_pread_full(fd, buf, len, off);

	if (race_path && off == 0 && len == QCOW2_V3_HEADER_LEN) {
		/* Another writer: cluster_bits 9 -> 21 between the reads. */
		poke32(race_path, 20, 21);
		race_path = NULL;
	}
	return rc;
}

static void open__header_changed_between_reads(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "race.qcow2");
	create(p, MiB, 9, NULL, RV_BLK_RAW);
	race_path = p;
	open_fails(p, true, -EINVAL,
		   "header changed while it was read (cluster_bits 9, then "
		   "21): is another program writing the image?");
	assert_null(race_path);
}

/* ---- reads and writes ---- */

static void rw__round_trip(void **state)
{
	struct rv_blk *b;
	char p[256];
	uint8_t a[3000], c[70000], back[73000];
	struct iovec w[2] = { { a, sizeof(a) }, { c, sizeof(c) } };
	struct iovec r = { back, sizeof(back) };

	(void)state;
	path_of(p, "trip.qcow2");
	create(p, 4 * MiB, 0, NULL, RV_BLK_RAW);
	b = open_ok(p, false);
	assert_int_equal(b->size, 4 * MiB);
	memset(a, 0x11, sizeof(a));
	memset(c, 0x22, sizeof(c));
	/* Unaligned, across a cluster boundary, from two iovecs. */
	assert_int_equal(rv_blk_pwritev(b, w, 2, 65000), 0);
	rd(b, 0, 65000, 0);
	rd(b, 65000, 3000, 0x11);
	rd(b, 68000, 70000, 0x22);
	rd(b, 138000, 4 * MiB - 138000, 0);
	/* Overwrite in place, then across the boundary again. */
	wr(b, 66000, 100, 0x33);
	rd(b, 66000, 100, 0x33);
	rv_blk_close(b);
	expect_exact_refcounts(p);
	b = open_ok(p, true);
	assert_int_equal(rv_blk_preadv(b, &r, 1, 65000), 0);
	assert_int_equal(back[0], 0x11);
	assert_int_equal(back[1000], 0x33);
	assert_int_equal(back[3000], 0x22);
	assert_int_equal(back[72999], 0x22);
	rv_blk_close(b);
}

static void rw__bounds_and_read_only(void **state)
{
	struct rv_blk *b;
	char p[256], buf[512];
	struct iovec v = { buf, sizeof(buf) };

	(void)state;
	path_of(p, "bounds.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	b = open_ok(p, true);
	assert_int_equal(rv_blk_preadv(b, &v, 1, MiB - 256), -EINVAL);
	assert_int_equal(rv_blk_preadv(b, &v, 1, UINT64_MAX - 100), -EINVAL);
	assert_int_equal(rv_blk_preadv(b, &v, -1, 0), -EINVAL);
	assert_int_equal(rv_blk_pwritev(b, &v, 1, 0), -EROFS);
	assert_int_equal(rv_blk_discard(b, 0, 512), -EROFS);
	assert_int_equal(rv_blk_write_zeroes(b, 0, 512, true), -EROFS);
	assert_int_equal(rv_blk_flush(b), 0);
	rv_blk_close(b);
	b = open_ok(p, false);
	assert_int_equal(rv_blk_discard(b, MiB, 1), -EINVAL);
	assert_int_equal(rv_blk_write_zeroes(b, 512, MiB, false), -EINVAL);
	rv_blk_close(b);
}

static void rw__zero_clusters(void **state)
{
	struct rv_blk *b;
	char p[256];
	uint64_t l2, e;

	(void)state;
	path_of(p, "zero.qcow2");
	create(p, 2 * MiB, 0, NULL, RV_BLK_RAW);
	b = open_ok(p, false);
	wr(b, 0, 4 * 65536, 0x5a);
	/* Keep the allocation: the zero flag over the cluster. */
	assert_int_equal(rv_blk_write_zeroes(b, 0, 65536, false), 0);
	/* A partial cluster gets real zeros, the rest stays. */
	assert_int_equal(rv_blk_write_zeroes(b, 65536 + 100, 200, true), 0);
	assert_int_equal(rv_blk_write_zeroes(b, 131072, 65536, true), 0);
	assert_int_equal(rv_blk_flush(b), 0);
	rd(b, 0, 65536, 0);
	rd(b, 65536, 100, 0x5a);
	rd(b, 65636, 200, 0);
	rd(b, 65836, 65536 - 300, 0x5a);
	rd(b, 131072, 65536, 0);
	rd(b, 196608, 65536, 0x5a);
	/* Writing into a preallocated zero cluster reuses it. */
	wr(b, 4096, 512, 0x77);
	rd(b, 0, 4096, 0);
	rd(b, 4096, 512, 0x77);
	rd(b, 4608, 65536 - 4608, 0);
	rv_blk_close(b);
	expect_exact_refcounts(p);
	l2 = peek64(p, 0x30000) & QCOW2_OFFSET_MASK;
	e = peek64(p, l2);
	assert_int_equal(e & QCOW2_OFLAG_ZERO, 0);
	assert_true(e & QCOW2_OFFSET_MASK);
	/* The unmapped cluster went back: no backing, so plain unallocated. */
	assert_int_equal(peek64(p, l2 + 16), 0);
}

static void rw__keep_zero_flag(void **state)
{
	struct rv_blk *b;
	char p[256];
	uint64_t l2, e;

	(void)state;
	path_of(p, "keep.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	b = open_ok(p, false);
	wr(b, 0, 65536, 0x5a);
	assert_int_equal(rv_blk_write_zeroes(b, 0, 65536, false), 0);
	rv_blk_close(b);
	l2 = peek64(p, 0x30000) & QCOW2_OFFSET_MASK;
	e = peek64(p, l2);
	assert_true(e & QCOW2_OFLAG_ZERO);
	assert_true(e & QCOW2_OFLAG_COPIED);
	assert_true(e & QCOW2_OFFSET_MASK);
	expect_exact_refcounts(p);
}

static void rw__backing_fall_through(void **state)
{
	struct rv_blk *b;
	char base[256], p[256];

	(void)state;
	path_of(base, "fall.raw");
	path_of(p, "fall.qcow2");
	create_raw(base, 100000, 0xbb);
	create(p, MiB, 0, "fall.raw", RV_BLK_RAW);
	b = open_ok(p, false);
	/* Unwritten clusters read the base, zeros past its end. */
	rd(b, 0, 100000, 0xbb);
	rd(b, 100000, MiB - 100000, 0);
	/* Copy-on-write of a partial cluster keeps the base around it. */
	wr(b, 70000, 1000, 0x44);
	rd(b, 65536, 70000 - 65536, 0xbb);
	rd(b, 70000, 1000, 0x44);
	rd(b, 71000, 100000 - 71000, 0xbb);
	rd(b, 100000, 131072 - 100000, 0);
	/* Discard hides the base (zero flag), it does not expose it. */
	wr(b, 0, 512, 0x55);
	assert_int_equal(rv_blk_discard(b, 0, 65536), 0);
	rd(b, 0, 65536, 0);
	rv_blk_close(b);
	expect_exact_refcounts(p);
	b = open_ok(p, true);
	rd(b, 65536, 70000 - 65536, 0xbb);
	rd(b, 70000, 1000, 0x44);
	rd(b, 0, 65536, 0);
	rv_blk_close(b);
	/* The base was only read. */
	assert_int_equal(rv_blk_open(base, RV_BLK_RAW, true, &b, NULL, 0), 0);
	rd(b, 0, 100000, 0xbb);
	rv_blk_close(b);
}

static void rw__qcow2_chain(void **state)
{
	struct rv_blk *b;
	char base[256], mid[256], top[256];

	(void)state;
	path_of(base, "c0.raw");
	path_of(mid, "c1.qcow2");
	path_of(top, "c2.qcow2");
	create_raw(base, MiB, 0x10);
	create(mid, 0, 12, "c0.raw", RV_BLK_RAW); /* 4 KiB clusters */
	b = open_ok(mid, false);
	assert_int_equal(b->size, MiB);
	wr(b, 8192, 100, 0x20);
	rv_blk_close(b);
	create(top, 2 * MiB, 0, "c1.qcow2", RV_BLK_QCOW2);
	b = open_ok(top, false);
	wr(b, 0, 1000, 0x30);
	rd(b, 0, 1000, 0x30);
	rd(b, 1000, 8192 - 1000, 0x10);
	rd(b, 8192, 100, 0x20);
	rd(b, 8292, MiB - 8292, 0x10);
	rd(b, MiB, MiB, 0);
	rv_blk_close(b);
	expect_exact_refcounts(mid);
	expect_exact_refcounts(top);
}

static void rw__discard_frees_and_reuses(void **state)
{
	struct rv_blk *b;
	struct stat st1, st2;
	char p[256];

	(void)state;
	path_of(p, "reuse.qcow2");
	create(p, 8 * MiB, 0, NULL, RV_BLK_RAW);
	b = open_ok(p, false);
	wr(b, 0, MiB, 0x5a);
	assert_int_equal(rv_blk_discard(b, 0, MiB), 0);
	assert_int_equal(rv_blk_flush(b), 0);
	assert_int_equal(stat(p, &st1), 0);
	/* The freed clusters are handed out again: the file does not grow. */
	wr(b, 4 * MiB, MiB, 0x6b);
	assert_int_equal(rv_blk_flush(b), 0);
	assert_int_equal(stat(p, &st2), 0);
	assert_int_equal(st1.st_size, st2.st_size);
	rd(b, 0, MiB, 0);
	rd(b, 4 * MiB, MiB, 0x6b);
	rv_blk_close(b);
	expect_exact_refcounts(p);
}

static void rw__refcount_table_grows(void **state)
{
	struct rv_blk *b;
	struct walk w;
	char p[256];
	uint64_t rt_before;

	(void)state;
	path_of(p, "grow.qcow2");
	/* 512-byte clusters: one refcount table cluster covers 8 MiB. */
	create(p, 32 * MiB, 9, NULL, RV_BLK_RAW);
	rt_before = peek64(p, 48);
	b = open_ok(p, false);
	wr(b, 0, 12 * MiB, 0x3c);
	wr(b, 20 * MiB, 100, 0x4d);
	assert_int_equal(rv_blk_discard(b, MiB, MiB), 0);
	rd(b, 0, MiB, 0x3c);
	rd(b, MiB, MiB, 0);
	rd(b, 2 * MiB, 10 * MiB, 0x3c);
	rd(b, 20 * MiB, 100, 0x4d);
	rv_blk_close(b);
	assert_int_not_equal(peek64(p, 48), rt_before);
	walk(p, &w);
	assert_int_equal(w.errors, 0);
	assert_int_equal(w.leaks, 0);
	assert_int_equal(w.data, 11 * 2048 + 1);
}

static void rw__version_2(void **state)
{
	struct rv_blk *b;
	char p[256];

	(void)state;
	path_of(p, "v2.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	/* The same layout read as v2: the extension area starts at 72. */
	poke32(p, 4, 2);
	b = open_ok(p, false);
	wr(b, 0, 131072, 0x5a);
	/* No zero flag in v2: zeros are written or the cluster dropped. */
	assert_int_equal(rv_blk_write_zeroes(b, 0, 65536, false), 0);
	assert_int_equal(rv_blk_write_zeroes(b, 65536, 65536, true), 0);
	rd(b, 0, 131072, 0);
	rv_blk_close(b);
	expect_exact_refcounts(p);
	assert_int_equal(
		peek64(p, (peek64(p, 0x30000) & QCOW2_OFFSET_MASK) + 8), 0);
}

/*
 * What a killed process leaves: the file as it is before flush. Leaks are
 * allowed, a referenced cluster without a refcount is not. After a flush
 * everything is mapped on disk.
 */
static void flush__crash_leaves_leaks_only(void **state)
{
	struct rv_blk *b, *copy;
	struct walk w;
	uint8_t *f;
	size_t len;
	char p[256], c[256];
	int fd;

	(void)state;
	path_of(p, "crash.qcow2");
	path_of(c, "crash-copy.qcow2");
	create(p, 4 * MiB, 0, NULL, RV_BLK_RAW);
	b = open_ok(p, false);
	wr(b, 0, 3 * MiB, 0x5a);
	assert_int_equal(rv_read_file(p, 64 * MiB, &f, &len), 0);
	walk_buf(f, len, &w);
	free(f);
	assert_int_equal(w.errors, 0);
	assert_true(w.leaks > 0);
	assert_int_equal(rv_blk_flush(b), 0);
	assert_int_equal(rv_read_file(p, 64 * MiB, &f, &len), 0);
	walk_buf(f, len, &w);
	assert_int_equal(w.errors, 0);
	assert_int_equal(w.leaks, 0);
	assert_int_equal(w.data, 48);
	fd = open(c, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, f, len), (ssize_t)len);
	close(fd);
	free(f);
	copy = open_ok(c, true);
	rd(copy, 0, 3 * MiB, 0x5a);
	rv_blk_close(copy);
	rv_blk_close(b);
}

/* ---- create ---- */

static void create__errors(void **state)
{
	struct rv_blk_create_opts o = { .format = RV_BLK_QCOW2, .size = MiB };
	char p[256], err[512], want[512];

	(void)state;
	path_of(p, "exists.qcow2");
	create(p, MiB, 0, NULL, RV_BLK_RAW);
	assert_int_equal(rv_blk_create(p, &o, err, sizeof(err)), -EEXIST);
	snprintf(want, sizeof(want), "'%s': the file already exists", p);
	assert_string_equal(err, want);
	path_of(p, "new.qcow2");
	o.size = 1000;
	assert_int_equal(rv_blk_create(p, &o, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "'%s': size 1000 is not a multiple of 512",
		 p);
	assert_string_equal(err, want);
	o.size = 0;
	assert_int_equal(rv_blk_create(p, &o, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "'%s': a size is needed (or a backing file to take it from)",
		 p);
	assert_string_equal(err, want);
	o.size = 1ULL << 50;
	o.cluster_bits = 9;
	assert_int_equal(rv_blk_create(p, &o, err, sizeof(err)), -EFBIG);
	snprintf(want, sizeof(want),
		 "'%s': size 1125899906842624 is too large for 512-byte "
		 "clusters",
		 p);
	assert_string_equal(err, want);
	o.size = MiB;
	o.cluster_bits = 22;
	assert_int_equal(rv_blk_create(p, &o, err, sizeof(err)), -EINVAL);
	o.cluster_bits = 0;
	o.backing = "nothere.raw";
	assert_int_equal(rv_blk_create(p, &o, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want),
		 "'%s': backing file: '%s/nothere.raw': no such file", p, dir);
	assert_string_equal(err, want);
	assert_int_equal(access(p, F_OK), -1);
}

static void create__overlay_header(void **state)
{
	struct rv_blk_info in;
	char base[256], p[256], err[512];

	(void)state;
	path_of(base, "hdr-base.qcow2");
	path_of(p, "hdr-top.qcow2");
	create(base, 3 * MiB, 0, NULL, RV_BLK_RAW);
	create(p, 0, 0, "hdr-base.qcow2", RV_BLK_QCOW2);
	assert_int_equal(rv_blk_query(p, RV_BLK_QCOW2, &in, err, sizeof(err)),
			 0);
	assert_int_equal(in.virtual_size, 3 * MiB);
	assert_int_equal(in.version, 3);
	assert_int_equal(in.cluster_size, 65536);
	assert_int_equal(in.refcount_bits, 16);
	assert_true(in.has_backing);
	assert_true(in.backing_format_recorded);
	assert_string_equal(in.backing, "hdr-base.qcow2");
	assert_string_equal(in.backing_path, base);
	assert_string_equal(in.backing_format, "qcow2");
	assert_false(in.dirty);
	expect_exact_refcounts(p);
}

/* Big disks need several refcount blocks and L1 clusters at creation. */
static void create__large_small_clusters(void **state)
{
	struct rv_blk *b;
	char p[256];

	(void)state;
	path_of(p, "big512.qcow2");
	create(p, 16ULL << 30, 9, NULL, RV_BLK_RAW);
	expect_exact_refcounts(p);
	b = open_ok(p, false);
	wr(b, (16ULL << 30) - 4096, 4096, 0x99);
	rd(b, (16ULL << 30) - 8192, 4096, 0);
	rd(b, (16ULL << 30) - 4096, 4096, 0x99);
	rv_blk_close(b);
	expect_exact_refcounts(p);
}

static void parse_header__short_buffer(void **state)
{
	struct qcow2_header h;
	uint8_t buf[72] = { 'Q', 'F', 'I', 0xfb, 0, 0, 0, 3 };
	char msg[256];

	(void)state;
	buf[23] = 16;
	assert_int_equal(rv__qcow2_parse_header(buf, sizeof(buf), 1 << 20, &h,
						msg, sizeof(msg)),
			 -EINVAL);
	assert_string_equal(msg, "truncated header (72 bytes)");
	assert_int_equal(rv__qcow2_parse_header(buf, 10, 1 << 20, &h, msg,
						sizeof(msg)),
			 -EINVAL);
	assert_string_equal(msg, "truncated header (10 bytes)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(open__missing_file),
		cmocka_unit_test(open__directory),
		cmocka_unit_test(open__bad_magic),
		cmocka_unit_test(open__truncated),
		cmocka_unit_test(open__bad_version),
		cmocka_unit_test(open__cluster_bits),
		cmocka_unit_test(open__header_length),
		cmocka_unit_test(open__refcount_order),
		cmocka_unit_test(open__l1_too_small),
		cmocka_unit_test(open__l1_unaligned),
		cmocka_unit_test(open__l1_past_end),
		cmocka_unit_test(open__refcount_table),
		cmocka_unit_test(open__backing_name),
		cmocka_unit_test(open__extension_overrun),
		cmocka_unit_test(open__encrypted),
		cmocka_unit_test(open__dirty_and_corrupt),
		cmocka_unit_test(open__unknown_features),
		cmocka_unit_test(open__feature_table_names),
		cmocka_unit_test(open__compressed_cluster),
		cmocka_unit_test(open__data_over_metadata),
		cmocka_unit_test(open__refcount_mismatch),
		cmocka_unit_test(open__snapshots_read_only),
		cmocka_unit_test(open__locked),
		cmocka_unit_test(open__backing_missing),
		cmocka_unit_test(open__backing_loop),
		cmocka_unit_test(open__bad_backing_format),
		cmocka_unit_test(open__backing_outside_absolute),
		cmocka_unit_test(open__backing_dotdot_escape),
		cmocka_unit_test(open__backing_symlink_escape),
		cmocka_unit_test(open__backing_not_regular),
		cmocka_unit_test(open__backing_chain_escape),
		cmocka_unit_test(open__backing_allowed),
		cmocka_unit_test(create__backing_outside),
		cmocka_unit_test(open__unaligned_l2_entry),
		cmocka_unit_test(open__unaligned_l1_entry),
		cmocka_unit_test(open__unaligned_refcount_block),
		cmocka_unit_test(open__scan_bound),
		cmocka_unit_test(open__header_changed_between_reads),
		cmocka_unit_test(rw__round_trip),
		cmocka_unit_test(rw__bounds_and_read_only),
		cmocka_unit_test(rw__zero_clusters),
		cmocka_unit_test(rw__keep_zero_flag),
		cmocka_unit_test(rw__backing_fall_through),
		cmocka_unit_test(rw__qcow2_chain),
		cmocka_unit_test(rw__discard_frees_and_reuses),
		cmocka_unit_test(rw__refcount_table_grows),
		cmocka_unit_test(rw__version_2),
		cmocka_unit_test(flush__crash_leaves_leaks_only),
		cmocka_unit_test(create__errors),
		cmocka_unit_test(create__overlay_header),
		cmocka_unit_test(create__large_small_clusters),
		cmocka_unit_test(parse_header__short_buffer),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
