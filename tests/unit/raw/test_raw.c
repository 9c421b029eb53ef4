// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the raw backend and the block front end
 * (devices/block/raw.c, block.c) over files in a temporary folder. preadv
 * and pwritev are wrapped (-Wl,--wrap) so tests can force short transfers
 * and EINTR and check that the full-transfer loops put every byte in its
 * place, and see which descriptor (O_DIRECT or not) a transfer used; open
 * is wrapped so a test can make the file system refuse O_DIRECT.
 */
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
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>
#include <liburing.h>
#include <sys/vfs.h>
#include <linux/magic.h>

#include "raevm/block.h"

#include "../../../devices/block/block_int.h"

#define MiB (1024ULL * 1024)

/* ---- preadv/pwritev wrappers ---- */

static int short_max;	/* > 0: transfer at most this many bytes a call */
static bool eintr_next; /* fail the next call with EINTR */
static unsigned int calls;
static bool last_direct;	  /* the last call's descriptor had O_DIRECT */
static unsigned int direct_calls; /* calls on an O_DIRECT descriptor */
static bool direct_einval;	  /* fail the next O_DIRECT call with EINVAL */
static bool refuse_direct;	  /* open() refuses O_DIRECT with EINVAL */

ssize_t __real_preadv(int fd, const struct iovec *iov, int cnt, off_t off);
ssize_t __real_pwritev(int fd, const struct iovec *iov, int cnt, off_t off);
ssize_t __wrap_preadv(int fd, const struct iovec *iov, int cnt, off_t off);
ssize_t __wrap_pwritev(int fd, const struct iovec *iov, int cnt, off_t off);

static ssize_t fake(int fd, const struct iovec *iov, int cnt, off_t off,
		    bool write)
{
	struct iovec one;

	calls++;
	last_direct = (fcntl(fd, F_GETFL) & O_DIRECT) != 0;
	if (last_direct)
		direct_calls++;
	if (last_direct && direct_einval) {
		direct_einval = false;
		errno = EINVAL;
		return -1;
	}
	if (eintr_next) {
		eintr_next = false;
		errno = EINTR;
		return -1;
	}
	if (short_max > 0 && cnt > 0) {
		eintr_next = (calls % 3) == 0;
		one.iov_base = iov[0].iov_base;
		one.iov_len = iov[0].iov_len < (size_t)short_max ?
				      iov[0].iov_len :
				      (size_t)short_max;
		iov = &one;
		cnt = 1;
	}
	return write ? __real_pwritev(fd, iov, cnt, off) :
		       __real_preadv(fd, iov, cnt, off);
}

ssize_t __wrap_preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return fake(fd, iov, cnt, off, false);
}

ssize_t __wrap_pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	return fake(fd, iov, cnt, off, true);
}

int __real_open(const char *path, int flags, ...);
int __wrap_open(const char *path, int flags, ...);

/* A file system without O_DIRECT (old tmpfs, some FUSE) says EINVAL. */
int __wrap_open(const char *path, int flags, ...)
{
	va_list ap;
	int mode;

	if (refuse_direct && (flags & O_DIRECT)) {
		errno = EINVAL;
		return -1;
	}
	va_start(ap, flags);
	mode = va_arg(ap, int);
	va_end(ap);
	return __real_open(path, flags, mode);
}

/* ---- fixtures ---- */

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

/* On a disk file system (never tmpfs by convention), for O_DIRECT. */
static char disk_dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/rv-raw-XXXXXX");
	snprintf(disk_dir, sizeof(disk_dir), "/var/tmp/rv-raw-XXXXXX");
	return mkdtemp(dir) && mkdtemp(disk_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	nftw(disk_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int reset(void **state)
{
	(void)state;
	short_max = 0;
	eintr_next = false;
	calls = 0;
	direct_calls = 0;
	direct_einval = false;
	refuse_direct = false;
	return 0;
}

static void make_raw(const char *path, uint64_t size)
{
	struct rv_blk_create_opts o = { .format = RV_BLK_RAW, .size = size };
	char err[512] = "";

	assert_int_equal(rv_blk_create(path, &o, err, sizeof(err)), 0);
}

static struct rv_blk *open_raw(const char *path, bool ro)
{
	struct rv_blk *b = NULL;
	char err[512] = "";

	assert_int_equal(
		rv_blk_open(path, RV_BLK_RAW, ro, &b, err, sizeof(err)), 0);
	return b;
}

static void expect_error(const char *path, bool ro, int code, const char *why)
{
	struct rv_blk *b = (struct rv_blk *)&b;
	char err[512] = "", want[512];

	assert_int_equal(
		rv_blk_open(path, RV_BLK_RAW, ro, &b, err, sizeof(err)), code);
	assert_null(b);
	snprintf(want, sizeof(want), "'%s': %s", path, why);
	assert_string_equal(err, want);
}

static void fill(struct rv_blk *b, uint64_t off, uint64_t len, int pattern)
{
	uint8_t *buf = malloc(len);
	struct iovec v = { buf, len };

	memset(buf, pattern, len);
	assert_int_equal(rv_blk_pwritev(b, &v, 1, off), 0);
	free(buf);
}

static void check(struct rv_blk *b, uint64_t off, uint64_t len, int pattern)
{
	uint8_t *buf = malloc(len);
	struct iovec v = { buf, len };
	uint64_t i;

	memset(buf, ~pattern, len);
	assert_int_equal(rv_blk_preadv(b, &v, 1, off), 0);
	for (i = 0; i < len; i++)
		assert_int_equal(buf[i], (uint8_t)pattern);
	free(buf);
}

static uint64_t blocks(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_blocks;
}

/* ---- tests ---- */

static void open__errors(void **state)
{
	char p[256];

	(void)state;
	path_of(p, "none.img");
	expect_error(p, true, -ENOENT, "no such file");
	expect_error(dir, true, -EISDIR, "is a directory");
	expect_error("/dev/null", true, -EINVAL,
		     "not a regular file or block device");
	expect_error("", true, -EINVAL, "no image path");
}

static void open__size_and_fields(void **state)
{
	struct rv_blk *b;
	char p[256];

	(void)state;
	path_of(p, "fields.img");
	make_raw(p, 3 * MiB);
	b = open_raw(p, true);
	assert_int_equal(b->size, 3 * MiB);
	assert_int_equal(b->format, RV_BLK_RAW);
	assert_true(b->readonly);
	assert_int_equal(b->block_size, 512);
	assert_string_equal(b->path, p);
	rv_blk_close(b);
}

static void preadv__scatter_gather(void **state)
{
	uint8_t a[100], c[5000], d[1];
	struct iovec v[3] = { { a, sizeof(a) }, { c, sizeof(c) }, { d, 1 } };
	struct rv_blk *b;
	char p[256];

	(void)state;
	path_of(p, "sg.img");
	make_raw(p, MiB);
	b = open_raw(p, false);
	memset(a, 1, sizeof(a));
	memset(c, 2, sizeof(c));
	d[0] = 3;
	assert_int_equal(rv_blk_pwritev(b, v, 3, 777), 0);
	check(b, 777, 100, 1);
	check(b, 877, 5000, 2);
	check(b, 5877, 1, 3);
	memset(a, 0, sizeof(a));
	memset(c, 0, sizeof(c));
	d[0] = 0;
	assert_int_equal(rv_blk_preadv(b, v, 3, 777), 0);
	assert_int_equal(a[99], 1);
	assert_int_equal(c[0], 2);
	assert_int_equal(c[4999], 2);
	assert_int_equal(d[0], 3);
	rv_blk_close(b);
}

static void preadv__short_transfers_and_eintr(void **state)
{
	uint8_t a[1000], c[3000];
	struct iovec v[2] = { { a, sizeof(a) }, { c, sizeof(c) } };
	struct rv_blk *b;
	char p[256];

	(void)state;
	path_of(p, "short.img");
	make_raw(p, MiB);
	b = open_raw(p, false);
	memset(a, 0xa1, sizeof(a));
	memset(c, 0xc3, sizeof(c));
	short_max = 7;
	eintr_next = true;
	assert_int_equal(rv_blk_pwritev(b, v, 2, 4096), 0);
	assert_true(calls > 4000 / 7);
	memset(a, 0, sizeof(a));
	memset(c, 0, sizeof(c));
	calls = 0;
	eintr_next = true;
	assert_int_equal(rv_blk_preadv(b, v, 2, 4096), 0);
	assert_true(calls > 4000 / 7);
	short_max = 0;
	assert_int_equal(a[0], 0xa1);
	assert_int_equal(a[999], 0xa1);
	assert_int_equal(c[0], 0xc3);
	assert_int_equal(c[2999], 0xc3);
	check(b, 4096 + 1000, 3000, 0xc3);
	check(b, 0, 4096, 0);
	rv_blk_close(b);
}

/* A file that shrinks under the disk reads zeros past its new end. */
static void preadv__past_end_of_file(void **state)
{
	struct rv_blk *b;
	char p[256];

	(void)state;
	path_of(p, "shrink.img");
	make_raw(p, MiB);
	b = open_raw(p, false);
	fill(b, 0, MiB, 0x77);
	assert_int_equal(truncate(p, 1000), 0);
	check(b, 0, 1000, 0x77);
	check(b, 1000, MiB - 1000, 0);
	rv_blk_close(b);
}

static void requests__bounds(void **state)
{
	uint8_t buf[512];
	struct iovec v = { buf, sizeof(buf) };
	struct iovec huge[2] = { { buf, SIZE_MAX }, { buf, 2 } };
	struct rv_blk *b;
	char p[256];

	(void)state;
	path_of(p, "bounds.img");
	make_raw(p, 4096);
	b = open_raw(p, false);
	assert_int_equal(rv_blk_preadv(b, &v, 1, 3584), 0);
	assert_int_equal(rv_blk_preadv(b, &v, 1, 3585), -EINVAL);
	assert_int_equal(rv_blk_pwritev(b, &v, 1, 4096), -EINVAL);
	assert_int_equal(rv_blk_pwritev(b, huge, 2, 0), -EINVAL);
	assert_int_equal(rv_blk_preadv(b, &v, 2000, 0), -EINVAL);
	assert_int_equal(rv_blk_preadv(b, NULL, 1, 0), -EINVAL);
	assert_int_equal(rv_blk_preadv(b, &v, 0, 4096), 0);
	assert_int_equal(rv_blk_discard(b, 4000, 97), -EINVAL);
	assert_int_equal(rv_blk_write_zeroes(b, UINT64_MAX, 2, false), -EINVAL);
	rv_blk_close(b);
}

static void requests__read_only(void **state)
{
	uint8_t buf[512] = { 0 };
	struct iovec v = { buf, sizeof(buf) };
	struct rv_blk *b;
	char p[256];

	(void)state;
	path_of(p, "ro.img");
	make_raw(p, 4096);
	b = open_raw(p, true);
	assert_int_equal(rv_blk_pwritev(b, &v, 1, 0), -EROFS);
	assert_int_equal(rv_blk_discard(b, 0, 512), -EROFS);
	assert_int_equal(rv_blk_write_zeroes(b, 0, 512, false), -EROFS);
	assert_int_equal(rv_blk_flush(b), 0);
	assert_int_equal(rv_blk_preadv(b, &v, 1, 0), 0);
	rv_blk_close(b);
}

static void write_zeroes__unmap_punches_a_hole(void **state)
{
	struct rv_blk *b;
	char p[256];
	uint64_t before;

	(void)state;
	path_of(p, "punch.img");
	make_raw(p, 4 * MiB);
	b = open_raw(p, false);
	fill(b, 0, 4 * MiB, 0x5a);
	assert_int_equal(rv_blk_flush(b), 0);
	before = blocks(p);
	assert_int_equal(rv_blk_write_zeroes(b, MiB, 2 * MiB, true), 0);
	check(b, 0, MiB, 0x5a);
	check(b, MiB, 2 * MiB, 0);
	check(b, 3 * MiB, MiB, 0x5a);
	assert_true(blocks(p) < before);
	/* Keeping the space: still zeros, the size does not change. */
	assert_int_equal(rv_blk_write_zeroes(b, 100, 1000, false), 0);
	check(b, 0, 100, 0x5a);
	check(b, 100, 1000, 0);
	check(b, 1100, 1000, 0x5a);
	assert_int_equal(b->size, 4 * MiB);
	rv_blk_close(b);
}

static void discard__keeps_size(void **state)
{
	struct rv_blk *b;
	struct stat st;
	char p[256];

	(void)state;
	path_of(p, "discard.img");
	make_raw(p, 2 * MiB);
	b = open_raw(p, false);
	fill(b, 0, 2 * MiB, 0x11);
	assert_int_equal(rv_blk_discard(b, 0, MiB), 0);
	assert_int_equal(rv_blk_flush(b), 0);
	check(b, MiB, MiB, 0x11);
	rv_blk_close(b);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 2 * MiB);
}

static void create__raw(void **state)
{
	struct rv_blk_create_opts o = { .format = RV_BLK_RAW, .size = 8 * MiB };
	char p[256], err[512], want[512];
	struct stat st;

	(void)state;
	path_of(p, "new.img");
	assert_int_equal(rv_blk_create(p, &o, err, sizeof(err)), 0);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 8 * MiB);
	assert_int_equal(st.st_blocks, 0);
	assert_int_equal(rv_blk_create(p, &o, err, sizeof(err)), -EEXIST);
	snprintf(want, sizeof(want), "'%s': the file already exists", p);
	assert_string_equal(err, want);
	path_of(p, "other.img");
	o.backing = "new.img";
	assert_int_equal(rv_blk_create(p, &o, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want),
		 "'%s': raw images cannot have a backing file (use qcow2)", p);
	assert_string_equal(err, want);
	o.backing = NULL;
	o.size = 513;
	assert_int_equal(rv_blk_create(p, &o, err, sizeof(err)), -EINVAL);
	assert_int_equal(access(p, F_OK), -1);
}

static void formats__names(void **state)
{
	enum rv_blk_format f = RV_BLK_RAW;

	(void)state;
	assert_int_equal(rv_blk_parse_format("qcow2", &f), 0);
	assert_int_equal(f, RV_BLK_QCOW2);
	assert_int_equal(rv_blk_parse_format("raw", &f), 0);
	assert_int_equal(f, RV_BLK_RAW);
	assert_int_equal(rv_blk_parse_format("QCOW2", &f), -EINVAL);
	assert_int_equal(rv_blk_parse_format("vmdk", &f), -EINVAL);
	assert_int_equal(rv_blk_parse_format(NULL, &f), -EINVAL);
	assert_string_equal(rv_blk_format_name(RV_BLK_QCOW2), "qcow2");
	assert_string_equal(rv_blk_format_name((enum rv_blk_format)9),
			    "unknown");
}

static void probe__magic(void **state)
{
	struct rv_blk_create_opts o = { .format = RV_BLK_QCOW2, .size = MiB };
	struct rv_blk_info in;
	enum rv_blk_format f;
	char p[256], q[256], err[512];

	(void)state;
	path_of(p, "probe.img");
	path_of(q, "probe.qcow2");
	make_raw(p, MiB);
	assert_int_equal(rv_blk_create(q, &o, err, sizeof(err)), 0);
	assert_int_equal(rv_blk_probe_format(p, &f, err, sizeof(err)), 0);
	assert_int_equal(f, RV_BLK_RAW);
	assert_int_equal(rv_blk_probe_format(q, &f, err, sizeof(err)), 0);
	assert_int_equal(f, RV_BLK_QCOW2);
	assert_int_equal(rv_blk_query(p, RV_BLK_RAW, &in, err, sizeof(err)), 0);
	assert_int_equal(in.virtual_size, MiB);
	assert_false(in.has_backing);
	/* A raw image is never taken for qcow2 just because of its bytes. */
	{
		struct rv_blk *b = open_raw(q, true);

		assert_int_equal(b->size, 4 * 65536);
		rv_blk_close(b);
	}
}

/* ---- host caching: O_DIRECT ---- */

/*
 * A raw image on a disk file system, opened with an O_DIRECT descriptor;
 * skips where the file system there refuses O_DIRECT (then nothing here
 * can be tested).
 */
static struct rv_blk *open_direct_disk(const char *name, char *p)
{
	struct rv_blk *b;

	snprintf(p, 256, "%s/%s", disk_dir, name);
	make_raw(p, MiB);
	b = open_raw(p, false);
	if (!b->direct) {
		rv_blk_close(b);
		skip();
	}
	return b;
}

/* A buffer aligned to 4 KiB plus misalign bytes, pattern-filled. */
static uint8_t *abuf(size_t len, size_t misalign, int pattern, void **base)
{
	assert_int_equal(posix_memalign(base, 4096, len + misalign), 0);
	memset((uint8_t *)*base + misalign, pattern, len);
	return (uint8_t *)*base + misalign;
}

static void open__direct_on_a_disk_file(void **state)
{
	struct rv_blk *b;
	void *mem;
	uint8_t *buf;
	struct iovec v;
	char p[256];

	(void)state;
	b = open_direct_disk("direct.img", p);
	buf = abuf(8192, 0, 0x5a, &mem);
	v = (struct iovec){ buf, 8192 };
	assert_int_equal(rv_blk_pwritev(b, &v, 1, 4096), 0);
	assert_true(last_direct);
	memset(buf, 0, 8192);
	assert_int_equal(rv_blk_preadv(b, &v, 1, 4096), 0);
	assert_true(last_direct);
	assert_int_equal(buf[0], 0x5a);
	assert_int_equal(buf[8191], 0x5a);
	/* O_DIRECT is not O_SYNC: flush still reaches fdatasync. */
	assert_int_equal(rv_blk_flush(b), 0);
	free(mem);
	rv_blk_close(b);
}

/*
 * Buffers, offsets and lengths the O_DIRECT descriptor cannot take (a
 * hostile or odd guest) go through the page cache, and both views of the
 * file agree afterwards whichever way the data went in.
 */
static void preadv__unaligned_requests_use_the_page_cache(void **state)
{
	struct rv_blk *b;
	void *m1, *m2;
	uint8_t *odd, *al;
	struct iovec v;
	char p[256];
	size_t i;

	(void)state;
	b = open_direct_disk("unaligned.img", p);
	/* A misaligned buffer, at an aligned offset. */
	odd = abuf(4096, 1, 0x11, &m1);
	v = (struct iovec){ odd, 4096 };
	assert_int_equal(rv_blk_pwritev(b, &v, 1, 0), 0);
	assert_false(last_direct);
	/* An odd offset and length, in the middle of that block. */
	memset(odd, 0x22, 1000);
	v = (struct iovec){ odd, 1000 };
	assert_int_equal(rv_blk_pwritev(b, &v, 1, 100), 0);
	assert_false(last_direct);
	/* An aligned (direct) read sees both buffered writes. */
	al = abuf(4096, 0, 0, &m2);
	v = (struct iovec){ al, 4096 };
	assert_int_equal(rv_blk_preadv(b, &v, 1, 0), 0);
	assert_true(last_direct);
	for (i = 0; i < 4096; i++)
		assert_int_equal(al[i], i >= 100 && i < 1100 ? 0x22 : 0x11);
	/* A direct write, then an unaligned read sees it. */
	memset(al, 0x33, 4096);
	assert_int_equal(rv_blk_pwritev(b, &v, 1, 8192), 0);
	assert_true(last_direct);
	memset(odd, 0, 4096);
	v = (struct iovec){ odd, 777 };
	assert_int_equal(rv_blk_preadv(b, &v, 1, 8192 + 3), 0);
	assert_false(last_direct);
	assert_int_equal(odd[0], 0x33);
	assert_int_equal(odd[776], 0x33);
	assert_int_equal(odd[777], 0);
	/* One misaligned piece makes the whole request buffered. */
	{
		struct iovec two[2] = { { al, 4096 }, { odd, 512 } };

		memset(odd, 0xee, 512);
		assert_int_equal(rv_blk_preadv(b, two, 2, 0), 0);
		assert_false(last_direct);
		assert_int_equal(al[0], 0x11);
		assert_int_equal(al[100], 0x22);
		assert_int_equal(odd[0], 0);
		assert_int_equal(odd[511], 0);
	}
	free(m1);
	free(m2);
	rv_blk_close(b);
}

/* The kernel refusing a direct transfer after all: redone buffered. */
static void preadv__direct_einval_is_redone_buffered(void **state)
{
	struct rv_blk *b;
	void *mem;
	uint8_t *buf;
	struct iovec v;
	char p[256];

	(void)state;
	b = open_direct_disk("einval.img", p);
	fill(b, 0, 65536, 0x44);
	buf = abuf(4096, 0, 0, &mem);
	v = (struct iovec){ buf, 4096 };
	direct_einval = true;
	direct_calls = 0;
	assert_int_equal(rv_blk_preadv(b, &v, 1, 4096), 0);
	assert_int_equal(direct_calls, 1);
	assert_false(direct_einval);
	assert_false(last_direct);
	assert_int_equal(buf[0], 0x44);
	assert_int_equal(buf[4095], 0x44);
	free(mem);
	rv_blk_close(b);
}

/* A file system that refuses O_DIRECT: buffered, silently, and working. */
static void open__direct_refused_falls_back(void **state)
{
	struct rv_blk *b;
	void *mem;
	uint8_t *buf;
	struct iovec v;
	char p[256];

	(void)state;
	snprintf(p, sizeof(p), "%s/refused.img", disk_dir);
	make_raw(p, MiB);
	refuse_direct = true;
	b = open_raw(p, false);
	assert_false(b->direct);
	buf = abuf(4096, 0, 0x66, &mem);
	v = (struct iovec){ buf, 4096 };
	assert_int_equal(rv_blk_pwritev(b, &v, 1, 0), 0);
	memset(buf, 0, 4096);
	assert_int_equal(rv_blk_preadv(b, &v, 1, 0), 0);
	assert_int_equal(direct_calls, 0);
	assert_int_equal(buf[4095], 0x66);
	free(mem);
	rv_blk_close(b);
}

/* Files in memory stay buffered and synchronous (no io_uring). */
static void open__tmpfs_stays_buffered(void **state)
{
	struct rv_blk_aio *aio = (struct rv_blk_aio *)&aio;
	struct statfs sf;
	struct rv_blk *b;
	char p[256];

	(void)state;
	if (statfs("/dev/shm", &sf) < 0 || sf.f_type != TMPFS_MAGIC)
		skip();
	snprintf(p, sizeof(p), "/dev/shm/rv-raw-test-%d.img", (int)getpid());
	unlink(p);
	make_raw(p, MiB);
	b = open_raw(p, false);
	unlink(p);
	assert_false(b->direct);
	assert_int_equal(rv_blk_aio_create(b, 8, &aio), -EOPNOTSUPP);
	assert_null(aio);
	fill(b, 0, 4096, 0x77);
	assert_int_equal(direct_calls, 0);
	check(b, 0, 4096, 0x77);
	rv_blk_close(b);
}

/* Backing files are never direct: only the image the user named. */
static void open__backing_file_stays_buffered(void **state)
{
	struct rv_blk_create_opts o = { .format = RV_BLK_QCOW2,
					.backing = "base.img",
					.backing_format = RV_BLK_RAW };
	struct rv_blk *b;
	char p[256], q[256], err[512] = "";

	(void)state;
	snprintf(p, sizeof(p), "%s/base.img", disk_dir);
	make_raw(p, MiB);
	b = open_raw(p, true);
	if (!b->direct) {
		rv_blk_close(b);
		skip();
	}
	rv_blk_close(b);
	snprintf(q, sizeof(q), "%s/over.qcow2", disk_dir);
	assert_int_equal(rv_blk_create(q, &o, err, sizeof(err)), 0);
	assert_int_equal(
		rv_blk_open(q, RV_BLK_QCOW2, true, &b, err, sizeof(err)), 0);
	assert_false(b->direct);
	direct_calls = 0;
	check(b, 0, 65536, 0);
	assert_int_equal(direct_calls, 0);
	rv_blk_close(b);
}

/*
 * The io_uring path on a direct disk: aligned and unaligned reads in one
 * batch both complete with the right bytes.
 */
static void aio__direct_and_unaligned_reads(void **state)
{
	struct rv_blk_aio_done done[4];
	struct rv_blk_aio *aio;
	struct rv_blk *b;
	void *m1, *m2;
	uint8_t *al, *odd;
	struct iovec v1, v2;
	unsigned int got = 0;
	char p[256];
	int rc;

	(void)state;
	b = open_direct_disk("aio.img", p);
	fill(b, 0, 65536, 0x99);
	rc = rv_blk_aio_create(b, 4, &aio);
	if (rc) {
		rv_blk_close(b);
		skip();
	}
	al = abuf(4096, 0, 0, &m1);
	odd = abuf(1536, 3, 0, &m2);
	v1 = (struct iovec){ al, 4096 };
	v2 = (struct iovec){ odd, 1536 };
	/* A direct read is never taken from the page cache. */
	assert_int_equal(rv_blk_aio_read_cached(aio, &v1, 1, 8192, 4096),
			 -EAGAIN);
	assert_int_equal(rv_blk_aio_queue(aio, false, &v1, 1, 8192, 1), 0);
	assert_int_equal(rv_blk_aio_queue(aio, false, &v2, 1, 512, 2), 0);
	assert_int_equal(rv_blk_aio_submit(aio), 0);
	while (rv_blk_aio_inflight(aio) > 0) {
		rc = rv_blk_aio_reap(aio, done + got, 4 - got, true);
		assert_true(rc >= 0);
		got += (unsigned int)rc;
	}
	assert_int_equal(got, 2);
	assert_int_equal(done[0].res + done[1].res, 4096 + 1536);
	assert_int_equal(al[0], 0x99);
	assert_int_equal(al[4095], 0x99);
	assert_int_equal(odd[0], 0x99);
	assert_int_equal(odd[1535], 0x99);
	rv_blk_aio_destroy(aio);
	free(m1);
	free(m2);
	rv_blk_close(b);
}

/* Submits the one sqe just prepared and returns its completion's result. */
static int ring_run(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int res;

	assert_int_equal(io_uring_submit(ring), 1);
	assert_int_equal(io_uring_wait_cqe(ring, &cqe), 0);
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

/* Prepares an openat of path on ring: what a compromised thread would try. */
static void prep_openat(struct io_uring *ring, const char *path)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	assert_non_null(sqe);
	io_uring_prep_openat(sqe, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
}

static void prep_rw(struct io_uring *ring, bool write, int fd, struct iovec *v,
		    uint64_t off, uint8_t flags)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	assert_non_null(sqe);
	if (write)
		io_uring_prep_writev(sqe, fd, v, 1, off);
	else
		io_uring_prep_readv(sqe, fd, v, 1, off);
	io_uring_sqe_set_flags(sqe, flags);
}

/*
 * The ring the I/O thread gets refuses what seccomp cannot see (openat
 * here; an ordinary ring opens the same file, so the refusal is the
 * restriction's), refuses sqe flags and registrations, and still reads
 * and writes.
 */
static void uring_init__restricted_ring_refuses_openat(void **state)
{
	struct io_uring ring, open_ring;
	uint8_t out[512], in[512];
	struct iovec vo = { out, sizeof(out) }, vi = { in, sizeof(in) };
	char p[256];
	int fd, efd, rc;

	(void)state;
	rc = rv__blk_uring_init(&ring, 8, -1);
	if (rc)
		skip(); /* no io_uring, or no restrictions, on this kernel */
	path_of(p, "ring.img");
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 65536), 0);
	assert_int_equal(io_uring_queue_init(4, &open_ring, 0), 0);
	prep_openat(&open_ring, p);
	rc = ring_run(&open_ring);
	assert_true(rc >= 0);
	close(rc);
	io_uring_queue_exit(&open_ring);

	prep_openat(&ring, p);
	assert_int_equal(ring_run(&ring), -EACCES);
	memset(out, 0xc3, sizeof(out));
	prep_rw(&ring, true, fd, &vo, 4096, 0);
	assert_int_equal(ring_run(&ring), (int)sizeof(out));
	prep_rw(&ring, false, fd, &vi, 4096, 0);
	assert_int_equal(ring_run(&ring), (int)sizeof(in));
	assert_memory_equal(in, out, sizeof(in));
	/* A permitted opcode with a flag (forced async work) is refused. */
	prep_rw(&ring, false, fd, &vi, 4096, IOSQE_ASYNC);
	assert_int_equal(ring_run(&ring), -EACCES);
	efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	assert_int_equal(io_uring_register_eventfd(&ring, efd), -EACCES);
	close(efd);
	io_uring_queue_exit(&ring);
	close(fd);
}

/* Writes and reads through rv_blk_aio (the restricted ring) land. */
static void aio__writes_and_reads_on_the_restricted_ring(void **state)
{
	struct rv_blk_aio_done done[2];
	struct rv_blk_aio *aio;
	struct rv_blk *b;
	uint8_t out[1024], in[1024];
	struct iovec vo = { out, sizeof(out) }, vi = { in, sizeof(in) };
	char p[256];
	int rc;

	(void)state;
	path_of(p, "aio-rw.img");
	make_raw(p, MiB);
	b = open_raw(p, false);
	rc = rv_blk_aio_create(b, 2, &aio);
	if (rc == -EOPNOTSUPP) {
		/* /tmp in memory: use the disk folder instead. */
		rv_blk_close(b);
		snprintf(p, sizeof(p), "%s/aio-rw.img", disk_dir);
		make_raw(p, MiB);
		b = open_raw(p, false);
		rc = rv_blk_aio_create(b, 2, &aio);
	}
	if (rc) {
		rv_blk_close(b);
		skip();
	}
	memset(out, 0x3c, sizeof(out));
	assert_int_equal(rv_blk_aio_queue(aio, true, &vo, 1, 1000, 7), 0);
	assert_int_equal(rv_blk_aio_submit(aio), 0);
	assert_int_equal(rv_blk_aio_reap(aio, done, 2, true), 1);
	assert_int_equal(done[0].tag, 7);
	assert_int_equal(done[0].res, sizeof(out));
	assert_int_equal(rv_blk_aio_queue(aio, false, &vi, 1, 1000, 8), 0);
	assert_int_equal(rv_blk_aio_reap(aio, done, 2, true), 1);
	assert_int_equal(done[0].tag, 8);
	assert_int_equal(done[0].res, sizeof(in));
	assert_memory_equal(in, out, sizeof(in));
	rv_blk_aio_destroy(aio);
	rv_blk_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(open__errors, reset),
		cmocka_unit_test_setup(open__size_and_fields, reset),
		cmocka_unit_test_setup(preadv__scatter_gather, reset),
		cmocka_unit_test_setup(preadv__short_transfers_and_eintr,
				       reset),
		cmocka_unit_test_setup(preadv__past_end_of_file, reset),
		cmocka_unit_test_setup(requests__bounds, reset),
		cmocka_unit_test_setup(requests__read_only, reset),
		cmocka_unit_test_setup(write_zeroes__unmap_punches_a_hole,
				       reset),
		cmocka_unit_test_setup(discard__keeps_size, reset),
		cmocka_unit_test_setup(create__raw, reset),
		cmocka_unit_test_setup(formats__names, reset),
		cmocka_unit_test_setup(probe__magic, reset),
		cmocka_unit_test_setup(open__direct_on_a_disk_file, reset),
		cmocka_unit_test_setup(
			preadv__unaligned_requests_use_the_page_cache, reset),
		cmocka_unit_test_setup(preadv__direct_einval_is_redone_buffered,
				       reset),
		cmocka_unit_test_setup(open__direct_refused_falls_back, reset),
		cmocka_unit_test_setup(open__tmpfs_stays_buffered, reset),
		cmocka_unit_test_setup(open__backing_file_stays_buffered,
				       reset),
		cmocka_unit_test_setup(aio__direct_and_unaligned_reads, reset),
		cmocka_unit_test_setup(
			uring_init__restricted_ring_refuses_openat, reset),
		cmocka_unit_test_setup(
			aio__writes_and_reads_on_the_restricted_ring, reset),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
