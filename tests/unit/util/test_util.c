// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "raevm/util.h"

static void parse_size__suffixes(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(rv_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(rv_parse_size("512M", &v), 0);
	assert_int_equal(v, 512ULL << 20);
	assert_int_equal(rv_parse_size("1G", &v), 0);
	assert_int_equal(v, 1ULL << 30);
	assert_int_equal(rv_parse_size("2GiB", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(rv_parse_size("3kb", &v), 0);
	assert_int_equal(v, 3072);
	assert_int_equal(rv_parse_size("1T", &v), 0);
	assert_int_equal(v, 1ULL << 40);
}

static void parse_size__malformed(void **state)
{
	uint64_t v = 77;

	(void)state;
	assert_int_equal(rv_parse_size("", &v), -EINVAL);
	assert_int_equal(rv_parse_size("M", &v), -EINVAL);
	assert_int_equal(rv_parse_size("12Q", &v), -EINVAL);
	assert_int_equal(rv_parse_size("-1", &v), -EINVAL);
	assert_int_equal(rv_parse_size("1 G", &v), -EINVAL);
	assert_int_equal(rv_parse_size("1GX", &v), -EINVAL);
	assert_int_equal(rv_parse_size(NULL, &v), -EINVAL);
	assert_int_equal(v, 77);
}

static void parse_size__overflow(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(rv_parse_size("99999999999999999999", &v), -ERANGE);
	assert_int_equal(rv_parse_size("99999999999T", &v), -ERANGE);
	assert_int_equal(rv_parse_size("16777215T", &v), 0);
	assert_int_equal(rv_parse_size("16777216T", &v), -ERANGE);
}

static void parse_uint__range(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(rv_parse_uint("4", 1, 8, &v), 0);
	assert_int_equal(v, 4);
	assert_int_equal(rv_parse_uint("0", 1, 8, &v), -ERANGE);
	assert_int_equal(rv_parse_uint("9", 1, 8, &v), -ERANGE);
	assert_int_equal(rv_parse_uint("1.5", 1, 8, &v), -EINVAL);
	assert_int_equal(rv_parse_uint("two", 1, 8, &v), -EINVAL);
}

static void format_size__units(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(rv_format_size(512, b, sizeof(b)), "512 bytes");
	assert_string_equal(rv_format_size(512ULL << 20, b, sizeof(b)),
			    "512 MiB");
	assert_string_equal(rv_format_size(3ULL << 29, b, sizeof(b)),
			    "1.5 GiB");
}

static void read_file__limits(void **state)
{
	char path[] = "/tmp/raevm-test-XXXXXX";
	uint8_t *data;
	size_t len;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello", 5), 5);
	close(fd);
	assert_int_equal(rv_read_file(path, 100, &data, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(data, "hello", 6);
	free(data);
	assert_int_equal(rv_read_file(path, 4, &data, &len), -EFBIG);
	assert_null(data);
	unlink(path);
	assert_int_equal(rv_read_file(path, 100, &data, &len), -ENOENT);
	assert_int_equal(rv_read_file("/tmp", 100, &data, &len), -EISDIR);
	assert_int_equal(rv_read_file("/dev/null", 100, &data, &len), -EINVAL);
}

static void hex4_decode__digits_and_rejects(void **state)
{
	unsigned int v = 7;

	(void)state;
	assert_int_equal(rv_hex4_decode("00aF", &v), 0);
	assert_int_equal(v, 0xaf);
	assert_int_equal(rv_hex4_decode("DC00", &v), 0);
	assert_int_equal(v, 0xdc00);
	assert_int_equal(rv_hex4_decode("12g4", &v), -EINVAL);
	assert_int_equal(v, 0xdc00);
}

static void utf8_encode__each_length(void **state)
{
	char b[4];

	(void)state;
	assert_int_equal(rv_utf8_encode(0x41, b), 1);
	assert_memory_equal(b, "A", 1);
	assert_int_equal(rv_utf8_encode(0xe9, b), 2);
	assert_memory_equal(b, "\xc3\xa9", 2);
	assert_int_equal(rv_utf8_encode(0x20ac, b), 3);
	assert_memory_equal(b, "\xe2\x82\xac", 3);
	assert_int_equal(rv_utf8_encode(0x1f600, b), 4);
	assert_memory_equal(b, "\xf0\x9f\x98\x80", 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_size__suffixes),
		cmocka_unit_test(parse_size__malformed),
		cmocka_unit_test(parse_size__overflow),
		cmocka_unit_test(parse_uint__range),
		cmocka_unit_test(format_size__units),
		cmocka_unit_test(read_file__limits),
		cmocka_unit_test(hex4_decode__digits_and_rejects),
		cmocka_unit_test(utf8_encode__each_length),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
