// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the qcow2 backend: the input is an image file. It
 * is opened read-only and read at a few places, then opened for writing,
 * written, discarded, zeroed and flushed, and opened again. Nothing may
 * crash, leak or touch memory out of bounds, and the backend's promises
 * are checked (a broken promise traps so the fuzzer keeps the input):
 *   - a refused open leaves *out NULL and one printable line in err;
 *   - requests inside the disk return 0 or a negative errno;
 *   - an image raevm accepted for writing and then wrote to is accepted
 *     again (its writes keep refcounts exact, at worst leaking clusters).
 * The image lives in a private folder next to a raw and a qcow2 file named
 * base.raw and base.qcow2, so backing file names can resolve.
 */
#include "raevm/block.h"

#include "fuzz.h"

#include "raevm/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static char image[128];

/* libFuzzer ends with exit(): the folder goes with it. */
static void cleanup(void)
{
	static const char *const names[] = { "img.qcow2", "base.raw",
					     "base.qcow2" };
	char p[128];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

static void prepare(void)
{
	struct rv_blk_create_opts o = { .format = RV_BLK_RAW, .size = 1 << 20 };
	char p[128], err[512];

	snprintf(dir, sizeof(dir), "%s/rv-fuzz-qcow2-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	CHECK(mkdtemp(dir) != NULL);
	atexit(cleanup);
	snprintf(image, sizeof(image), "%s/img.qcow2", dir);
	snprintf(p, sizeof(p), "%s/base.raw", dir);
	CHECK(rv_blk_create(p, &o, err, sizeof(err)) == 0);
	o.format = RV_BLK_QCOW2;
	o.cluster_bits = 9;
	snprintf(p, sizeof(p), "%s/base.qcow2", dir);
	CHECK(rv_blk_create(p, &o, err, sizeof(err)) == 0);
	rv_log_set_level(RV_LOG_ERROR);
}

static struct rv_blk *try_open(bool ro)
{
	struct rv_blk *b = (struct rv_blk *)&b;
	char err[1024] = "";
	int rc;

	rc = rv_blk_open(image, RV_BLK_QCOW2, ro, &b, err, sizeof(err));
	if (rc) {
		CHECK(rc < 0 && b == NULL);
		fuzz_check_line(err);
		return NULL;
	}
	CHECK(b && b->size <= (1ULL << 56) && b->readonly == ro);
	return b;
}

/* A small deterministic generator seeded from the input. */
static uint64_t next(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 11;
}

static uint64_t pick_offset(const struct rv_blk *b, uint64_t *s, uint64_t *len)
{
	uint64_t span = b->size < (64ULL << 20) ? b->size : 64ULL << 20;
	uint64_t off, max;

	if (span == 0) {
		*len = 0;
		return 0;
	}
	off = next(s) % span;
	if (next(s) & 1)
		off = b->size - 1 - off; /* the end of the disk too */
	max = b->size - off;
	*len = 1 + next(s) % 200000;
	if (*len > max)
		*len = max;
	return off;
}

static void exercise(struct rv_blk *b, uint64_t *s, bool write)
{
	static uint8_t buf[200000];
	int i;

	for (i = 0; i < 8; i++) {
		uint64_t len, off = pick_offset(b, s, &len);
		struct iovec v = { buf, (size_t)len };
		int rc;

		switch (write ? next(s) % 5 : 0) {
		case 0:
			rc = rv_blk_preadv(b, &v, 1, off);
			break;
		case 1:
			memset(buf, (int)(next(s) & 0xff), sizeof(buf));
			rc = rv_blk_pwritev(b, &v, 1, off);
			break;
		case 2:
			rc = rv_blk_discard(b, off, len);
			break;
		case 3:
			rc = rv_blk_write_zeroes(b, off, len, next(s) & 1);
			break;
		default:
			rc = rv_blk_flush(b);
			break;
		}
		CHECK(rc <= 0 && rc != -EINVAL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t seed = 1469598103934665603ULL;
	struct rv_blk *b;
	size_t i;
	int fd;

	if (!dir[0])
		prepare();
	for (i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 1099511628211ULL;
	fd = open(image, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, data, size) == (ssize_t)size);
	close(fd);

	b = try_open(true);
	if (!b)
		return 0;
	exercise(b, &seed, false);
	rv_blk_close(b);

	b = try_open(false);
	if (!b)
		return 0;
	exercise(b, &seed, true);
	rv_blk_close(b);

	b = try_open(false);
	CHECK(b != NULL);
	exercise(b, &seed, false);
	rv_blk_close(b);
	return 0;
}
