/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_MEM_H
#define RAEVM_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raevm/util.h"

/*
 * Guest RAM: one host mapping split into at most RV_MEM_MAX_REGIONS guest
 * physical ranges (RAM below the 32-bit MMIO hole and RAM above 4 GiB).
 * Every guest physical address a device or loader uses goes through
 * rv_mem_gpa_to_hva(), the single bounds check between the guest and the host.
 */
#define RV_MEM_MAX_REGIONS 4

enum rv_mem_flags {
	RV_MEM_MEMFD = 1u << 0,	    /* back RAM by a memfd (shareable) */
	RV_MEM_HUGEPAGES = 1u << 1, /* 2 MiB hugetlb pages */
};

struct rv_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct rv_mem {
	struct rv_mem_region regions[RV_MEM_MAX_REGIONS];
	unsigned int nr_regions;
	uint64_t ram_size; /* total bytes of guest RAM */
	uint8_t *base;	   /* the host mapping, ram_size bytes */
	int memfd;	   /* -1 unless RV_MEM_MEMFD */
	unsigned int flags;
};

/*
 * Creates guest RAM of ram_size bytes laid out around the MMIO hole
 * [hole_start, 4 GiB). Nothing is touched, so untouched RAM costs no RSS.
 * Returns 0, -EINVAL for a bad size, -ENOMEM when the host cannot map it.
 */
int rv_mem_create(uint64_t ram_size, uint64_t hole_start, unsigned int flags,
		  struct rv_mem **out) RV_MUST_CHECK;
void rv_mem_destroy(struct rv_mem *mem);

/*
 * Builds a layout over a caller-provided buffer (unit tests, fuzzers): the
 * same region split as rv_mem_create() without any mapping of its own.
 */
int rv_mem_init_buffer(struct rv_mem *mem, uint8_t *buf, uint64_t ram_size,
		       uint64_t hole_start) RV_MUST_CHECK;

/*
 * Translates [gpa, gpa + len) to a host pointer. Returns NULL unless the
 * whole range lies inside one RAM region (len 0 is treated as 1). Overflow
 * of gpa + len is rejected. This is where the guest is distrusted.
 */
void *rv_mem_gpa_to_hva(const struct rv_mem *mem, uint64_t gpa, uint64_t len);

/* Copies into / out of guest RAM; -EFAULT when out of bounds. */
int rv_mem_write(const struct rv_mem *mem, uint64_t gpa, const void *src,
		 uint64_t len) RV_MUST_CHECK;
int rv_mem_read(const struct rv_mem *mem, uint64_t gpa, void *dst,
		uint64_t len) RV_MUST_CHECK;

/* Highest RAM address below 4 GiB (exclusive end of the low region). */
uint64_t rv_mem_low_end(const struct rv_mem *mem);

#endif
