// SPDX-License-Identifier: Apache-2.0
/*
 * Ephemeral overlays (src/worker/ephemeral.c) over real files: reads merge
 * the image and the overlay, partial writes keep the image's other bytes,
 * the image itself is never written, and the overlay has no name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../src/worker/ephemeral.h"

#define SIZE (3 * RV_EPHEMERAL_BLOCK + 1000) /* ends inside a block */

static char dir[64], image[96];
static uint8_t pattern[SIZE];

static int setup(void **state)
{
	int fd;
	size_t i;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/rv-eph-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(image, sizeof(image), "%s/base.img", dir);
	for (i = 0; i < SIZE; i++)
		pattern[i] = (uint8_t)(i * 7 + i / 251);
	fd = open(image, O_WRONLY | O_CREAT, 0644);
	if (fd < 0 || write(fd, pattern, SIZE) != SIZE)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(image);
	rmdir(dir);
	return 0;
}

static unsigned int entries(const char *path)
{
	DIR *d = opendir(path);
	unsigned int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void image_unchanged(void)
{
	static uint8_t now[SIZE];
	int fd = open(image, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, now, SIZE), SIZE);
	close(fd);
	assert_memory_equal(now, pattern, SIZE);
}

static void ephemeral_open__writes_stay_in_overlay(void **state)
{
	static uint8_t want[SIZE], got[SIZE];
	struct rv_blk *b;
	char err[256];
	uint8_t data[5000];
	struct iovec v[2];

	(void)state;
	assert_int_equal(rv__ephemeral_open(image, RV_BLK_RAW, dir, &b, err,
					    sizeof(err)),
			 0);
	assert_int_equal(b->size, SIZE);
	assert_false(b->readonly);
	/* The overlay never shows in its folder (only the image is there). */
	assert_int_equal(entries(dir), 3);
	memcpy(want, pattern, SIZE);

	/* A write straddling blocks 0 and 1, unaligned at both ends. */
	memset(data, 0xab, sizeof(data));
	v[0] = (struct iovec){ data, 3000 };
	v[1] = (struct iovec){ data + 3000, 2000 };
	assert_int_equal(rv_blk_pwritev(b, v, 2, RV_EPHEMERAL_BLOCK - 2500), 0);
	memset(want + RV_EPHEMERAL_BLOCK - 2500, 0xab, 5000);
	/* The disk's last, partial block. */
	v[0] = (struct iovec){ data, 10 };
	assert_int_equal(rv_blk_pwritev(b, v, 1, SIZE - 10), 0);
	memset(want + SIZE - 10, 0xab, 10);
	/* Zeros in the middle of block 2. */
	assert_int_equal(rv_blk_write_zeroes(b, 2 * RV_EPHEMERAL_BLOCK + 100,
					     300, true),
			 0);
	memset(want + 2 * RV_EPHEMERAL_BLOCK + 100, 0, 300);

	/* One read across image-only and overlay blocks, in odd pieces. */
	v[0] = (struct iovec){ got, 777 };
	v[1] = (struct iovec){ got + 777, SIZE - 777 };
	assert_int_equal(rv_blk_preadv(b, v, 2, 0), 0);
	assert_memory_equal(got, want, SIZE);
	image_unchanged();
	rv_blk_close(b);
	image_unchanged();
}

static void ephemeral_open__missing_image(void **state)
{
	struct rv_blk *b = (struct rv_blk *)1;
	char err[256] = "";

	(void)state;
	assert_int_equal(rv__ephemeral_open("/nonexistent/x.img", RV_BLK_RAW,
					    dir, &b, err, sizeof(err)),
			 -ENOENT);
	assert_null(b);
	assert_non_null(strstr(err, "x.img"));
}

static void ephemeral_open__past_end(void **state)
{
	struct rv_blk *b;
	char err[256];
	uint8_t data[16] = { 0 };
	struct iovec v = { data, sizeof(data) };

	(void)state;
	assert_int_equal(rv__ephemeral_open(image, RV_BLK_RAW, dir, &b, err,
					    sizeof(err)),
			 0);
	assert_int_equal(rv_blk_pwritev(b, &v, 1, SIZE - 8), -EINVAL);
	rv_blk_close(b);
	image_unchanged();
}

static void ephemeral_dir__not_tmpfs(void **state)
{
	(void)state;
	/* The build tree is not a tmpfs here; /dev/shm always is. */
	assert_string_equal(rv__ephemeral_dir("/proc"), "/dev/shm");
	assert_string_equal(rv__ephemeral_dir(NULL), "/dev/shm");
	assert_string_equal(rv__ephemeral_dir("/dev/shm"), "/dev/shm");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(ephemeral_open__writes_stay_in_overlay),
		T(ephemeral_open__missing_image),
		T(ephemeral_open__past_end),
		T(ephemeral_dir__not_tmpfs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
