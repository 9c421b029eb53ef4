// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for split virtqueues (devices/virtio/queue.c) over a plain
 * buffer standing in for guest RAM: descriptor walking and every
 * validation failure of rv_virtq_pop() with its exact errno, indirect
 * tables, 16-bit index wrap-around, the used ring after a push and the
 * EVENT_IDX notification decisions. Memory barriers are not observable
 * here; queue.c documents each pairing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raevm/mem.h"
#include "raevm/virtio.h"

#define RAM_SIZE (2u * 1024 * 1024)
#define QSIZE 16
#define DESC_GPA 0x1000ULL
#define AVAIL_GPA 0x2000ULL
#define USED_GPA 0x3000ULL
#define TABLE_GPA 0x8000ULL /* indirect tables */
#define BUF_GPA 0x40000ULL  /* data buffers */
#define BIG_TABLE_GPA 0x100000ULL

#define F_NEXT RV_VIRTQ_DESC_F_NEXT
#define F_WRITE RV_VIRTQ_DESC_F_WRITE
#define F_INDIRECT RV_VIRTQ_DESC_F_INDIRECT

struct fixture {
	uint8_t *ram;
	struct rv_mem mem;
	struct rv_virtq q;
	struct rv_virtq_chain chain;
	uint16_t avail_idx; /* the driver's */
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

/* Writes descriptor i of the table at table_gpa. */
static void desc_at(struct fixture *f, uint64_t table_gpa, unsigned int i,
		    uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = f->ram + table_gpa + 16ULL * i;

	put64(d, addr);
	put32(d + 8, len);
	put16(d + 12, flags);
	put16(d + 14, next);
}

static void desc(struct fixture *f, unsigned int i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	desc_at(f, DESC_GPA, i, addr, len, flags, next);
}

/* The driver makes head available and publishes the index. */
static void avail(struct fixture *f, uint16_t head)
{
	put16(f->ram + AVAIL_GPA + 4 + 2 * (f->avail_idx % f->q.size), head);
	f->avail_idx++;
	put16(f->ram + AVAIL_GPA + 2, f->avail_idx);
}

static void set_avail_idx(struct fixture *f, uint16_t idx)
{
	f->avail_idx = idx;
	put16(f->ram + AVAIL_GPA + 2, idx);
}

static uint16_t used_idx(const struct fixture *f)
{
	return get16(f->ram + USED_GPA + 2);
}

static uint16_t *used_event_field(struct fixture *f)
{
	return (uint16_t *)(void *)(f->ram + AVAIL_GPA + 4 + 2 * f->q.size);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0, RAM_SIZE);
	assert_int_equal(rv_mem_init_buffer(&f->mem, f->ram, RAM_SIZE,
					    0xc0000000ULL),
			 0);
	rv_virtq_init(&f->q, &f->mem, 0, 256);
	f->q.size = QSIZE;
	f->q.desc_gpa = DESC_GPA;
	f->q.avail_gpa = AVAIL_GPA;
	f->q.used_gpa = USED_GPA;
	f->q.enabled = true;
	assert_int_equal(rv_virtq_chain_init(&f->chain, 64), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rv_virtq_chain_free(&f->chain);
	free(f->ram);
	free(f);
	return 0;
}

static int pop(struct fixture *f)
{
	return rv_virtq_pop(&f->q, &f->chain);
}

/* Expects pop to fail with err and leave the queue where it was. */
static void expect_pop_error(struct fixture *f, int err)
{
	uint16_t before = f->q.last_avail;

	assert_int_equal(pop(f), err);
	assert_int_equal(f->q.last_avail, before);
}

/* ---- rv_virtq_validate ---------------------------------------------- */

static void virtq_validate__good_layout(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rv_virtq_validate(&f->q), 0);
}

static void virtq_validate__size_not_power_of_two(void **state)
{
	struct fixture *f = *state;

	f->q.size = 12;
	assert_int_equal(rv_virtq_validate(&f->q), -EINVAL);
}

static void virtq_validate__size_zero_or_above_max(void **state)
{
	struct fixture *f = *state;

	f->q.size = 0;
	assert_int_equal(rv_virtq_validate(&f->q), -EINVAL);
	f->q.size = 512;
	assert_int_equal(rv_virtq_validate(&f->q), -EINVAL);
}

static void virtq_validate__misaligned_rings(void **state)
{
	struct fixture *f = *state;

	f->q.desc_gpa = DESC_GPA + 8;
	assert_int_equal(rv_virtq_validate(&f->q), -EINVAL);
	f->q.desc_gpa = DESC_GPA;
	f->q.avail_gpa = AVAIL_GPA + 1;
	assert_int_equal(rv_virtq_validate(&f->q), -EINVAL);
	f->q.avail_gpa = AVAIL_GPA;
	f->q.used_gpa = USED_GPA + 2;
	assert_int_equal(rv_virtq_validate(&f->q), -EINVAL);
}

static void virtq_validate__ring_outside_ram(void **state)
{
	struct fixture *f = *state;

	/* The used ring is 6 + 8 * 16 bytes; this one ends past RAM. */
	f->q.used_gpa = RAM_SIZE - 64;
	assert_int_equal(rv_virtq_validate(&f->q), -EFAULT);
	f->q.used_gpa = USED_GPA;
	/* The avail ring's used_event must be inside RAM as well. */
	f->q.avail_gpa = RAM_SIZE - (4 + 2 * QSIZE);
	assert_int_equal(rv_virtq_validate(&f->q), -EFAULT);
	f->q.avail_gpa = AVAIL_GPA;
	f->q.desc_gpa = 0xfffffffffffffff0ULL;
	assert_int_equal(rv_virtq_validate(&f->q), -EFAULT);
}

/* ---- rv_virtq_pop: good chains -------------------------------------- */

static void virtq_pop__empty_queue(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(pop(f), 0);
}

static void virtq_pop__disabled_queue(void **state)
{
	struct fixture *f = *state;

	desc(f, 0, BUF_GPA, 16, 0, 0);
	avail(f, 0);
	f->q.enabled = false;
	assert_int_equal(pop(f), 0);
}

static void virtq_pop__read_then_write_chain(void **state)
{
	struct fixture *f = *state;

	desc(f, 3, BUF_GPA, 16, F_NEXT, 7);
	desc(f, 7, BUF_GPA + 0x100, 512, F_NEXT, 1);
	desc(f, 1, BUF_GPA + 0x1000, 1, F_WRITE, 0);
	avail(f, 3);

	assert_int_equal(pop(f), 1);
	assert_int_equal(f->chain.head, 3);
	assert_int_equal(f->chain.nr_out, 2);
	assert_int_equal(f->chain.nr_in, 1);
	assert_int_equal(f->chain.out_len, 528);
	assert_int_equal(f->chain.in_len, 1);
	assert_ptr_equal(f->chain.iov[0].iov_base, f->ram + BUF_GPA);
	assert_int_equal(f->chain.iov[1].iov_len, 512);
	assert_ptr_equal(f->chain.iov[2].iov_base, f->ram + BUF_GPA + 0x1000);
	assert_int_equal(f->q.last_avail, 1);
	assert_int_equal(pop(f), 0);
}

static void virtq_pop__zero_length_descriptor(void **state)
{
	struct fixture *f = *state;

	/* No byte is accessed, so even an address past RAM is harmless. */
	desc(f, 0, 0x7000000000ULL, 0, F_NEXT, 1);
	desc(f, 1, BUF_GPA, 8, F_WRITE, 0);
	avail(f, 0);

	assert_int_equal(pop(f), 1);
	assert_int_equal(f->chain.nr_out, 1);
	assert_null(f->chain.iov[0].iov_base);
	assert_int_equal(f->chain.iov[0].iov_len, 0);
	assert_int_equal(f->chain.nr_in, 1);
}

static void virtq_pop__index_wraparound(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	/* The 16-bit indices wrap at 65536 while the ring slot wraps at 16. */
	f->q.last_avail = 65534;
	set_avail_idx(f, 65534);
	for (i = 0; i < 3; i++) {
		desc(f, i, BUF_GPA + 0x100 * i, 4, 0, 0);
		avail(f, (uint16_t)i);
	}
	assert_int_equal(f->avail_idx, 1);
	for (i = 0; i < 3; i++) {
		assert_int_equal(pop(f), 1);
		assert_int_equal(f->chain.head, i);
	}
	assert_int_equal(f->q.last_avail, 1);
	assert_int_equal(pop(f), 0);
}

static void virtq_pop__full_ring(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	/* Exactly queue-size entries pending is legal. */
	for (i = 0; i < QSIZE; i++) {
		desc(f, i, BUF_GPA, 4, 0, 0);
		avail(f, (uint16_t)i);
	}
	for (i = 0; i < QSIZE; i++)
		assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 0);
}

static void virtq_pop__longest_chain(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	/* A chain through every descriptor once is the longest allowed. */
	for (i = 0; i < QSIZE; i++)
		desc(f, i, BUF_GPA, 4, i + 1 < QSIZE ? F_NEXT : 0,
		     (uint16_t)(i + 1));
	avail(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->chain.nr_out, QSIZE);
}

/* ---- rv_virtq_pop: malformed queues --------------------------------- */

static void virtq_pop__avail_idx_moved_too_far(void **state)
{
	struct fixture *f = *state;

	desc(f, 0, BUF_GPA, 4, 0, 0);
	set_avail_idx(f, QSIZE + 1);
	expect_pop_error(f, -EPROTO);
}

static void virtq_pop__avail_idx_moved_backwards(void **state)
{
	struct fixture *f = *state;

	/* A decremented index looks like a jump of almost 65536. */
	f->q.last_avail = 5;
	set_avail_idx(f, 4);
	expect_pop_error(f, -EPROTO);
}

static void virtq_pop__head_out_of_range(void **state)
{
	struct fixture *f = *state;

	avail(f, QSIZE);
	expect_pop_error(f, -ERANGE);
}

static void virtq_pop__next_out_of_range(void **state)
{
	struct fixture *f = *state;

	desc(f, 0, BUF_GPA, 4, F_NEXT, 0xffff);
	avail(f, 0);
	expect_pop_error(f, -ERANGE);
}

static void virtq_pop__chain_loop(void **state)
{
	struct fixture *f = *state;

	desc(f, 0, BUF_GPA, 4, F_NEXT, 1);
	desc(f, 1, BUF_GPA, 4, F_NEXT, 2);
	desc(f, 2, BUF_GPA, 4, F_NEXT, 0);
	avail(f, 0);
	expect_pop_error(f, -ELOOP);
}

static void virtq_pop__self_loop(void **state)
{
	struct fixture *f = *state;

	desc(f, 5, BUF_GPA, 4, F_NEXT, 5);
	avail(f, 5);
	expect_pop_error(f, -ELOOP);
}

static void virtq_pop__readable_after_writable(void **state)
{
	struct fixture *f = *state;

	desc(f, 0, BUF_GPA, 4, F_WRITE | F_NEXT, 1);
	desc(f, 1, BUF_GPA, 4, 0, 0);
	avail(f, 0);
	expect_pop_error(f, -EPROTO);
}

static void virtq_pop__buffer_outside_ram(void **state)
{
	struct fixture *f = *state;

	desc(f, 0, RAM_SIZE, 1, 0, 0);
	avail(f, 0);
	expect_pop_error(f, -EFAULT);
}

static void virtq_pop__buffer_straddles_end_of_ram(void **state)
{
	struct fixture *f = *state;

	desc(f, 0, RAM_SIZE - 8, 16, F_WRITE, 0);
	avail(f, 0);
	expect_pop_error(f, -EFAULT);
}

static void virtq_pop__buffer_wraps_address_space(void **state)
{
	struct fixture *f = *state;

	desc(f, 0, 0xfffffffffffff000ULL, 0x2000, 0, 0);
	avail(f, 0);
	expect_pop_error(f, -EFAULT);
}

static void virtq_pop__huge_length(void **state)
{
	struct fixture *f = *state;

	desc(f, 0, BUF_GPA, 0xffffffffu, F_WRITE, 0);
	avail(f, 0);
	expect_pop_error(f, -EFAULT);
}

static void virtq_pop__more_segments_than_cap(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	rv_virtq_chain_free(&f->chain);
	assert_int_equal(rv_virtq_chain_init(&f->chain, 4), 0);
	for (i = 0; i < 5; i++)
		desc(f, i, BUF_GPA, 4, i < 4 ? F_NEXT : 0, (uint16_t)(i + 1));
	avail(f, 0);
	expect_pop_error(f, -E2BIG);
}

static void virtq_pop__rings_outside_ram(void **state)
{
	struct fixture *f = *state;

	/* Layout changes after enable are not possible, but pop re-checks. */
	desc(f, 0, BUF_GPA, 4, 0, 0);
	avail(f, 0);
	f->q.desc_gpa = RAM_SIZE - 16;
	expect_pop_error(f, -EFAULT);
	f->q.desc_gpa = DESC_GPA;
	f->q.avail_gpa = RAM_SIZE;
	expect_pop_error(f, -EFAULT);
}

/* ---- rv_virtq_pop: indirect tables ---------------------------------- */

static void virtq_pop__indirect_table(void **state)
{
	struct fixture *f = *state;

	f->q.indirect = true;
	desc_at(f, TABLE_GPA, 0, BUF_GPA, 16, F_NEXT, 2);
	desc_at(f, TABLE_GPA, 2, BUF_GPA + 0x100, 32, F_NEXT, 1);
	desc_at(f, TABLE_GPA, 1, BUF_GPA + 0x200, 64, F_WRITE, 0);
	/* The WRITE flag on the descriptor naming the table is ignored. */
	desc(f, 4, TABLE_GPA, 3 * 16, F_INDIRECT | F_WRITE, 0);
	avail(f, 4);

	assert_int_equal(pop(f), 1);
	assert_int_equal(f->chain.head, 4);
	assert_int_equal(f->chain.nr_out, 2);
	assert_int_equal(f->chain.nr_in, 1);
	assert_int_equal(f->chain.out_len, 48);
	assert_int_equal(f->chain.in_len, 64);
	assert_ptr_equal(f->chain.iov[2].iov_base, f->ram + BUF_GPA + 0x200);
}

static void virtq_pop__direct_then_indirect(void **state)
{
	struct fixture *f = *state;

	/* 2.7.5.3.2: normal descriptors followed by one indirect one. */
	f->q.indirect = true;
	desc(f, 0, BUF_GPA, 16, F_NEXT, 1);
	desc(f, 1, TABLE_GPA, 16, F_INDIRECT, 0);
	desc_at(f, TABLE_GPA, 0, BUF_GPA + 0x100, 8, F_WRITE, 0);
	avail(f, 0);

	assert_int_equal(pop(f), 1);
	assert_int_equal(f->chain.nr_out, 1);
	assert_int_equal(f->chain.nr_in, 1);
	assert_int_equal(f->chain.in_len, 8);
}

static void virtq_pop__indirect_not_negotiated(void **state)
{
	struct fixture *f = *state;

	desc_at(f, TABLE_GPA, 0, BUF_GPA, 16, 0, 0);
	desc(f, 0, TABLE_GPA, 16, F_INDIRECT, 0);
	avail(f, 0);
	expect_pop_error(f, -EPROTO);
}

static void virtq_pop__indirect_with_next(void **state)
{
	struct fixture *f = *state;

	f->q.indirect = true;
	desc_at(f, TABLE_GPA, 0, BUF_GPA, 16, 0, 0);
	desc(f, 0, TABLE_GPA, 16, F_INDIRECT | F_NEXT, 1);
	desc(f, 1, BUF_GPA, 16, 0, 0);
	avail(f, 0);
	expect_pop_error(f, -EPROTO);
}

static void virtq_pop__indirect_nested(void **state)
{
	struct fixture *f = *state;

	f->q.indirect = true;
	desc_at(f, TABLE_GPA, 0, TABLE_GPA + 0x100, 16, F_INDIRECT, 0);
	desc_at(f, TABLE_GPA + 0x100, 0, BUF_GPA, 16, 0, 0);
	desc(f, 0, TABLE_GPA, 16, F_INDIRECT, 0);
	avail(f, 0);
	expect_pop_error(f, -EPROTO);
}

static void virtq_pop__indirect_zero_length(void **state)
{
	struct fixture *f = *state;

	f->q.indirect = true;
	desc(f, 0, TABLE_GPA, 0, F_INDIRECT, 0);
	avail(f, 0);
	expect_pop_error(f, -EPROTO);
}

static void virtq_pop__indirect_length_not_multiple_of_16(void **state)
{
	struct fixture *f = *state;

	f->q.indirect = true;
	desc_at(f, TABLE_GPA, 0, BUF_GPA, 16, 0, 0);
	desc(f, 0, TABLE_GPA, 24, F_INDIRECT, 0);
	avail(f, 0);
	expect_pop_error(f, -EPROTO);
}

static void virtq_pop__indirect_table_outside_ram(void **state)
{
	struct fixture *f = *state;

	f->q.indirect = true;
	desc(f, 0, RAM_SIZE - 16, 32, F_INDIRECT, 0);
	avail(f, 0);
	expect_pop_error(f, -EFAULT);
}

static void virtq_pop__indirect_next_out_of_table(void **state)
{
	struct fixture *f = *state;

	/* next 2 is inside the queue size but past the 2-entry table. */
	f->q.indirect = true;
	desc_at(f, TABLE_GPA, 0, BUF_GPA, 16, F_NEXT, 2);
	desc_at(f, TABLE_GPA, 1, BUF_GPA, 16, 0, 0);
	desc_at(f, TABLE_GPA, 2, BUF_GPA, 16, 0, 0);
	desc(f, 0, TABLE_GPA, 32, F_INDIRECT, 0);
	avail(f, 0);
	expect_pop_error(f, -ERANGE);
}

static void virtq_pop__indirect_loop(void **state)
{
	struct fixture *f = *state;

	f->q.indirect = true;
	desc_at(f, TABLE_GPA, 0, BUF_GPA, 16, F_NEXT, 1);
	desc_at(f, TABLE_GPA, 1, BUF_GPA, 16, F_NEXT, 0);
	desc(f, 0, TABLE_GPA, 32, F_INDIRECT, 0);
	avail(f, 0);
	expect_pop_error(f, -ELOOP);
}

static void virtq_pop__readable_in_table_after_writable(void **state)
{
	struct fixture *f = *state;

	f->q.indirect = true;
	desc(f, 0, BUF_GPA, 16, F_WRITE | F_NEXT, 1);
	desc(f, 1, TABLE_GPA, 16, F_INDIRECT, 0);
	desc_at(f, TABLE_GPA, 0, BUF_GPA, 16, 0, 0);
	avail(f, 0);
	expect_pop_error(f, -EPROTO);
}

static void virtq_pop__indirect_buffer_outside_ram(void **state)
{
	struct fixture *f = *state;

	f->q.indirect = true;
	desc_at(f, TABLE_GPA, 0, BUF_GPA, 16, F_NEXT, 1);
	desc_at(f, TABLE_GPA, 1, RAM_SIZE + 0x1000, 16, F_WRITE, 0);
	desc(f, 0, TABLE_GPA, 32, F_INDIRECT, 0);
	avail(f, 0);
	expect_pop_error(f, -EFAULT);
}

/* An indirect table of n entries, each 1 MiB of the same buffer. */
static void big_table(struct fixture *f, unsigned int n)
{
	unsigned int i;

	f->q.indirect = true;
	rv_virtq_chain_free(&f->chain);
	assert_int_equal(rv_virtq_chain_init(&f->chain, 8192), 0);
	for (i = 0; i < n; i++)
		desc_at(f, BIG_TABLE_GPA, i, 0, 1024 * 1024,
			i + 1 < n ? F_NEXT : 0, (uint16_t)(i + 1));
	desc(f, 0, BIG_TABLE_GPA, 16 * n, F_INDIRECT, 0);
	avail(f, 0);
}

static void virtq_pop__total_length_exactly_4g(void **state)
{
	struct fixture *f = *state;

	big_table(f, 4096);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->chain.out_len, 1ULL << 32);
}

static void virtq_pop__total_length_over_4g(void **state)
{
	struct fixture *f = *state;

	big_table(f, 4097);
	expect_pop_error(f, -EOVERFLOW);
}

/* ---- rv_virtq_push ---------------------------------------------------- */

static void virtq_push__used_elem_then_idx(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rv_virtq_push(&f->q, 9, 1234), 0);
	assert_int_equal(get32(f->ram + USED_GPA + 4), 9);
	assert_int_equal(get32(f->ram + USED_GPA + 8), 1234);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(rv_virtq_push(&f->q, 2, 0), 0);
	assert_int_equal(get32(f->ram + USED_GPA + 12), 2);
	assert_int_equal(used_idx(f), 2);
}

static void virtq_push__index_wraparound(void **state)
{
	struct fixture *f = *state;

	f->q.used_idx = 65535;
	assert_int_equal(rv_virtq_push(&f->q, 1, 10), 0);
	/* Slot 65535 % 16 = 15 is the last element of the ring. */
	assert_int_equal(get32(f->ram + USED_GPA + 4 + 8 * 15), 1);
	assert_int_equal(used_idx(f), 0);
	assert_int_equal(rv_virtq_push(&f->q, 3, 20), 0);
	assert_int_equal(get32(f->ram + USED_GPA + 4), 3);
	assert_int_equal(used_idx(f), 1);
}

static void virtq_push__bad_head_or_disabled(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rv_virtq_push(&f->q, QSIZE, 0), -EINVAL);
	f->q.enabled = false;
	assert_int_equal(rv_virtq_push(&f->q, 0, 0), -EINVAL);
	assert_int_equal(used_idx(f), 0);
}

static void virtq_push__used_ring_outside_ram(void **state)
{
	struct fixture *f = *state;

	f->q.used_gpa = RAM_SIZE - 8;
	assert_int_equal(rv_virtq_push(&f->q, 0, 0), -EFAULT);
}

/* ---- notifications ---------------------------------------------------- */

static void virtq_need_event__crossing(void **state)
{
	(void)state;
	/* Moving old -> new crosses event when event lies in [old, new). */
	assert_true(rv_virtq_need_event(1, 2, 1));
	assert_true(rv_virtq_need_event(3, 10, 2));
	assert_false(rv_virtq_need_event(10, 10, 2));
	assert_false(rv_virtq_need_event(1, 2, 2));
	/* Across the 16-bit wrap. */
	assert_true(rv_virtq_need_event(65535, 1, 65534));
	assert_true(rv_virtq_need_event(0, 2, 65535));
	assert_false(rv_virtq_need_event(5, 1, 65535));
}

static void virtq_should_notify__no_event_idx(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rv_virtq_push(&f->q, 0, 0), 0);
	assert_true(rv_virtq_should_notify(&f->q));
	put16(f->ram + AVAIL_GPA, RV_VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_int_equal(rv_virtq_push(&f->q, 0, 0), 0);
	assert_false(rv_virtq_should_notify(&f->q));
}

static void virtq_should_notify__event_idx_first_push(void **state)
{
	struct fixture *f = *state;

	/* Nothing signalled since enable: interrupt whatever used_event says. */
	f->q.event_idx = true;
	put16((uint8_t *)used_event_field(f), 100);
	assert_int_equal(rv_virtq_push(&f->q, 0, 0), 0);
	assert_true(rv_virtq_should_notify(&f->q));
}

static void virtq_should_notify__event_idx_used_event(void **state)
{
	struct fixture *f = *state;

	f->q.event_idx = true;
	/* VIRTQ_AVAIL_F_NO_INTERRUPT is ignored with EVENT_IDX. */
	put16(f->ram + AVAIL_GPA, RV_VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_int_equal(rv_virtq_push(&f->q, 0, 0), 0);
	assert_true(rv_virtq_should_notify(&f->q)); /* signalled 1 */

	/* The driver wants an interrupt once entry 3 is used (idx 4). */
	put16((uint8_t *)used_event_field(f), 3);
	assert_int_equal(rv_virtq_push(&f->q, 0, 0), 0);
	assert_int_equal(rv_virtq_push(&f->q, 0, 0), 0);
	assert_false(rv_virtq_should_notify(&f->q)); /* 1 -> 3 */
	assert_int_equal(rv_virtq_push(&f->q, 0, 0), 0);
	assert_true(rv_virtq_should_notify(&f->q)); /* 3 -> 4 */
	/* Nothing new since: no second interrupt. */
	assert_false(rv_virtq_should_notify(&f->q));
}

static void virtq_should_notify__event_idx_wraparound(void **state)
{
	struct fixture *f = *state;

	f->q.event_idx = true;
	f->q.used_idx = 65534;
	f->q.signalled_used = 65534;
	f->q.signalled_used_valid = true;
	put16((uint8_t *)used_event_field(f), 65535);
	assert_int_equal(rv_virtq_push(&f->q, 0, 0), 0);
	assert_int_equal(rv_virtq_push(&f->q, 0, 0), 0);
	assert_int_equal(f->q.used_idx, 0);
	assert_true(rv_virtq_should_notify(&f->q));
}

static void virtq_enable_notify__event_idx_avail_event(void **state)
{
	struct fixture *f = *state;
	uint8_t *avail_event = f->ram + USED_GPA + 4 + 8 * QSIZE;

	f->q.event_idx = true;
	desc(f, 0, BUF_GPA, 4, 0, 0);
	avail(f, 0);
	assert_int_equal(pop(f), 1);
	assert_false(rv_virtq_enable_notify(&f->q));
	assert_int_equal(get16(avail_event), 1);
	/* The used flags are left alone with EVENT_IDX. */
	rv_virtq_disable_notify(&f->q);
	assert_int_equal(get16(f->ram + USED_GPA), 0);

	avail(f, 0);
	assert_true(rv_virtq_enable_notify(&f->q));
}

static void virtq_enable_notify__no_event_idx_flags(void **state)
{
	struct fixture *f = *state;

	rv_virtq_disable_notify(&f->q);
	assert_int_equal(get16(f->ram + USED_GPA), RV_VIRTQ_USED_F_NO_NOTIFY);
	assert_false(rv_virtq_enable_notify(&f->q));
	assert_int_equal(get16(f->ram + USED_GPA), 0);
	desc(f, 0, BUF_GPA, 4, 0, 0);
	avail(f, 0);
	assert_true(rv_virtq_enable_notify(&f->q));
}

/* ---- helpers ------------------------------------------------------------ */

static void virtq_chain_init__bad_capacity(void **state)
{
	struct rv_virtq_chain c;

	(void)state;
	assert_int_equal(rv_virtq_chain_init(&c, 0), -EINVAL);
	assert_int_equal(rv_virtq_chain_init(&c, 65537), -EINVAL);
}

static void virtq_reset__back_to_defaults(void **state)
{
	struct fixture *f = *state;

	f->q.last_avail = 7;
	f->q.msix_vector = 2;
	rv_virtq_reset(&f->q);
	assert_false(f->q.enabled);
	assert_int_equal(f->q.size, 256);
	assert_int_equal(f->q.desc_gpa, 0);
	assert_int_equal(f->q.last_avail, 0);
	assert_int_equal(f->q.msix_vector, RV_VIRTIO_MSI_NO_VECTOR);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(virtq_validate__good_layout),
		T(virtq_validate__size_not_power_of_two),
		T(virtq_validate__size_zero_or_above_max),
		T(virtq_validate__misaligned_rings),
		T(virtq_validate__ring_outside_ram),
		T(virtq_pop__empty_queue),
		T(virtq_pop__disabled_queue),
		T(virtq_pop__read_then_write_chain),
		T(virtq_pop__zero_length_descriptor),
		T(virtq_pop__index_wraparound),
		T(virtq_pop__full_ring),
		T(virtq_pop__longest_chain),
		T(virtq_pop__avail_idx_moved_too_far),
		T(virtq_pop__avail_idx_moved_backwards),
		T(virtq_pop__head_out_of_range),
		T(virtq_pop__next_out_of_range),
		T(virtq_pop__chain_loop),
		T(virtq_pop__self_loop),
		T(virtq_pop__readable_after_writable),
		T(virtq_pop__buffer_outside_ram),
		T(virtq_pop__buffer_straddles_end_of_ram),
		T(virtq_pop__buffer_wraps_address_space),
		T(virtq_pop__huge_length),
		T(virtq_pop__more_segments_than_cap),
		T(virtq_pop__rings_outside_ram),
		T(virtq_pop__indirect_table),
		T(virtq_pop__direct_then_indirect),
		T(virtq_pop__indirect_not_negotiated),
		T(virtq_pop__indirect_with_next),
		T(virtq_pop__indirect_nested),
		T(virtq_pop__indirect_zero_length),
		T(virtq_pop__indirect_length_not_multiple_of_16),
		T(virtq_pop__indirect_table_outside_ram),
		T(virtq_pop__indirect_next_out_of_table),
		T(virtq_pop__indirect_loop),
		T(virtq_pop__readable_in_table_after_writable),
		T(virtq_pop__indirect_buffer_outside_ram),
		T(virtq_pop__total_length_exactly_4g),
		T(virtq_pop__total_length_over_4g),
		T(virtq_push__used_elem_then_idx),
		T(virtq_push__index_wraparound),
		T(virtq_push__bad_head_or_disabled),
		T(virtq_push__used_ring_outside_ram),
		T(virtq_need_event__crossing),
		T(virtq_should_notify__no_event_idx),
		T(virtq_should_notify__event_idx_first_push),
		T(virtq_should_notify__event_idx_used_event),
		T(virtq_should_notify__event_idx_wraparound),
		T(virtq_enable_notify__event_idx_avail_event),
		T(virtq_enable_notify__no_event_idx_flags),
		T(virtq_chain_init__bad_capacity),
		T(virtq_reset__back_to_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
