// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raevm/mem.h"

#define HOLE 0x100000ULL /* a 1 MiB "hole" keeps the test buffers small */

static uint8_t buf[3 * HOLE];

static void gpa_to_hva__low_and_high(void **state)
{
	struct rv_mem mem;

	(void)state;
	assert_int_equal(rv_mem_init_buffer(&mem, buf, 3 * HOLE, HOLE), 0);
	assert_int_equal(mem.nr_regions, 2);
	assert_ptr_equal(rv_mem_gpa_to_hva(&mem, 0, 1), buf);
	assert_ptr_equal(rv_mem_gpa_to_hva(&mem, HOLE - 4, 4), buf + HOLE - 4);
	/* RAM past the hole starts at 4 GiB. */
	assert_ptr_equal(rv_mem_gpa_to_hva(&mem, 0x100000000ULL, 8),
			 buf + HOLE);
	assert_ptr_equal(rv_mem_gpa_to_hva(&mem, 0x100000000ULL + 2 * HOLE - 1,
					   1),
			 buf + 3 * HOLE - 1);
	assert_int_equal(rv_mem_low_end(&mem), HOLE);
}

static void gpa_to_hva__outside(void **state)
{
	struct rv_mem mem;

	(void)state;
	assert_int_equal(rv_mem_init_buffer(&mem, buf, 3 * HOLE, HOLE), 0);
	/* In the hole, straddling the end of a region, past the end. */
	assert_null(rv_mem_gpa_to_hva(&mem, HOLE, 1));
	assert_null(rv_mem_gpa_to_hva(&mem, HOLE - 4, 8));
	assert_null(rv_mem_gpa_to_hva(&mem, 0x100000000ULL + 2 * HOLE, 1));
	assert_null(rv_mem_gpa_to_hva(&mem, 0x100000000ULL - 1, 2));
}

static void gpa_to_hva__overflow(void **state)
{
	struct rv_mem mem;

	(void)state;
	assert_int_equal(rv_mem_init_buffer(&mem, buf, HOLE, HOLE), 0);
	assert_null(rv_mem_gpa_to_hva(&mem, 16, UINT64_MAX));
	assert_null(rv_mem_gpa_to_hva(&mem, UINT64_MAX, 2));
	assert_null(rv_mem_gpa_to_hva(&mem, UINT64_MAX - 1, UINT64_MAX));
	/* Length 0 still needs one valid byte. */
	assert_non_null(rv_mem_gpa_to_hva(&mem, HOLE - 1, 0));
	assert_null(rv_mem_gpa_to_hva(&mem, HOLE, 0));
}

static void read_write__bounds(void **state)
{
	struct rv_mem mem;
	uint32_t v = 0xdeadbeef, r = 0;

	(void)state;
	assert_int_equal(rv_mem_init_buffer(&mem, buf, HOLE, HOLE), 0);
	assert_int_equal(rv_mem_write(&mem, 0x1000, &v, 4), 0);
	assert_int_equal(rv_mem_read(&mem, 0x1000, &r, 4), 0);
	assert_int_equal(r, 0xdeadbeef);
	assert_int_equal(rv_mem_write(&mem, HOLE - 2, &v, 4), -EFAULT);
	assert_int_equal(rv_mem_read(&mem, HOLE, &r, 4), -EFAULT);
}

static void init__bad_sizes(void **state)
{
	struct rv_mem mem;

	(void)state;
	assert_int_equal(rv_mem_init_buffer(&mem, buf, 0, HOLE), -EINVAL);
	assert_int_equal(rv_mem_init_buffer(&mem, buf, HOLE, 0), -EINVAL);
	assert_int_equal(rv_mem_init_buffer(&mem, buf, 1ULL << 47, HOLE),
			 -EINVAL);
}

static void create__maps_untouched_ram(void **state)
{
	struct rv_mem *mem;
	uint8_t *p;

	(void)state;
	assert_int_equal(rv_mem_create(64ULL << 20, 0xc0000000ULL, 0, &mem), 0);
	p = rv_mem_gpa_to_hva(mem, (64ULL << 20) - 1, 1);
	assert_non_null(p);
	assert_int_equal(*p, 0);
	rv_mem_destroy(mem);
	assert_int_equal(rv_mem_create(64ULL << 20, 0xc0000000ULL, RV_MEM_MEMFD,
				       &mem),
			 0);
	assert_true(mem->memfd >= 0);
	rv_mem_destroy(mem);
	/* Hugepages need whole 2 MiB pages. */
	assert_int_equal(rv_mem_create((64ULL << 20) + 4096, 0xc0000000ULL,
				       RV_MEM_HUGEPAGES, &mem),
			 -EINVAL);
	assert_null(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gpa_to_hva__low_and_high),
		cmocka_unit_test(gpa_to_hva__outside),
		cmocka_unit_test(gpa_to_hva__overflow),
		cmocka_unit_test(read_write__bounds),
		cmocka_unit_test(init__bad_sizes),
		cmocka_unit_test(create__maps_untouched_ram),
	};

	return cmocka_run_group_tests_name("mem", tests, NULL, NULL);
}
