/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A bump allocator for device memory (virtqueues, request headers, data
 * buffers). Guests allocate at start-up and never free, so a pointer that
 * only moves up is all that is needed. The arena is the RAM after the
 * image: the memmap entry holding the image tells where RAM ends; the
 * arena stops at 3 GiB, where the identity map turns uncached.
 */
#include "internal.h"

#define ARENA_CEILING 0xc0000000ULL
#define ARENA_FALLBACK_END 0x2000000ULL /* 32 MiB without a memmap */

static struct spinlock lock;
static uint64_t next, end;
static bool ready;

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * Picks the arena once: from the end of the image to the end of the RAM
 * entry that contains the image. The memmap comes from the VMM, so an
 * entry that wraps or lies elsewhere is ignored.
 */
static void arena_init(void)
{
	const struct hvm_memmap_table_entry *map;
	uint64_t start = align_up((uint64_t)(uintptr_t)__image_end, 4096);
	unsigned int n = guest_memmap(&map);
	uint64_t top = 0;

	for (unsigned int i = 0; i < n; i++) {
		uint64_t a = map[i].addr, e = map[i].addr + map[i].size;

		if (map[i].type != HVM_MEMMAP_RAM || e < a)
			continue;
		if (a <= start && e > start && e > top)
			top = e;
	}
	if (!n)
		top = ARENA_FALLBACK_END;
	if (top > ARENA_CEILING)
		top = ARENA_CEILING;
	next = start;
	end = top > start ? top : start;
	ready = true;
}

void *dma_alloc(size_t size, size_t align)
{
	uint64_t flags, p;
	void *r = NULL;

	if (align < 8)
		align = 8;
	if (align & (align - 1) || size == 0 || size > (1ULL << 31))
		return NULL;
	flags = spin_lock_irqsave(&lock);
	if (!ready)
		arena_init();
	p = align_up(next, align);
	if (p >= next && p <= end && size <= end - p) {
		next = p + size;
		r = phys_ptr(p);
	}
	spin_unlock_irqrestore(&lock, flags);
	return r;
}

void *dma_zalloc(size_t size, size_t align)
{
	void *p = dma_alloc(size, align);

	if (p)
		memset(p, 0, size);
	return p;
}

uint64_t dma_free_bytes(void)
{
	uint64_t flags = spin_lock_irqsave(&lock), n;

	if (!ready)
		arena_init();
	n = end - next;
	spin_unlock_irqrestore(&lock, flags);
	return n;
}
