// SPDX-License-Identifier: Apache-2.0
/*
 * Guest RAM. One host mapping backs all of it; the guest sees it split
 * around the 32-bit MMIO hole. rv_mem_gpa_to_hva() is the single place that
 * turns a guest-controlled address into a host pointer.
 */
#include "raevm/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RV_4G_BYTES 0x100000000ULL

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

static int layout(struct rv_mem *mem, uint64_t ram_size, uint64_t hole_start)
{
	uint64_t low;

	if (ram_size == 0 || hole_start == 0 || hole_start > RV_4G_BYTES)
		return -EINVAL;
	/* Sizes past 2^46 bytes are beyond any x86 guest physical space. */
	if (ram_size > (1ULL << 46))
		return -EINVAL;
	low = ram_size < hole_start ? ram_size : hole_start;
	mem->nr_regions = 0;
	mem->regions[mem->nr_regions++] = (struct rv_mem_region){
		.gpa = 0, .size = low, .hva = mem->base
	};
	if (ram_size > low)
		mem->regions[mem->nr_regions++] = (struct rv_mem_region){
			.gpa = RV_4G_BYTES,
			.size = ram_size - low,
			.hva = mem->base + low,
		};
	mem->ram_size = ram_size;
	return 0;
}

int rv_mem_init_buffer(struct rv_mem *mem, uint8_t *buf, uint64_t ram_size,
		       uint64_t hole_start)
{
	memset(mem, 0, sizeof(*mem));
	mem->base = buf;
	mem->memfd = -1;
	return layout(mem, ram_size, hole_start);
}

/* Guest RAM below this keeps 4 KiB pages (see map_ram()). */
#define THP_SKIP_BYTES (2ULL * 1024 * 1024)

static int map_ram(struct rv_mem *mem, uint64_t size, unsigned int flags)
{
	/*
	 * Ordinary RAM is overcommitted: untouched pages cost nothing.
	 * Hugepages are reserved at mmap time instead, so a short pool fails
	 * here with ENOMEM rather than with SIGBUS at the guest's first touch.
	 */
	int mflags = (flags & RV_MEM_HUGEPAGES) ? 0 : MAP_NORESERVE;
	int fd = -1;
	void *p;

	if ((flags & RV_MEM_HUGEPAGES) && (size & (2 * 1024 * 1024 - 1)))
		return -EINVAL;
	if (flags & RV_MEM_MEMFD) {
		unsigned int mfd = MFD_CLOEXEC;

		if (flags & RV_MEM_HUGEPAGES)
			mfd |= MFD_HUGETLB;
		fd = memfd_create("raevm-guest-ram", mfd);
		if (fd < 0)
			return -errno;
		if (ftruncate(fd, (off_t)size) < 0) {
			int rc = -errno;

			close(fd);
			return rc;
		}
		mflags |= MAP_SHARED;
	} else {
		mflags |= MAP_PRIVATE | MAP_ANONYMOUS;
		if (flags & RV_MEM_HUGEPAGES)
			mflags |= MAP_HUGETLB;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, mflags, fd, 0);
	if (p == MAP_FAILED) {
		int rc = -errno;

		if (fd >= 0)
			close(fd);
		return rc;
	}
	/*
	 * Transparent huge pages for anonymous RAM above the first 2 MiB:
	 * hosts set to "madvise" (Debian's default) back it with 4 KiB pages
	 * otherwise, and a 1 MiB O_DIRECT read into such a guest buffer then
	 * reaches the disk in up to 256 pieces (1 MiB sequential reads ran at
	 * half the speed of QEMU, which asks for huge pages too). The first
	 * 2 MiB (boot structures, a tiny guest's whole footprint) keep small
	 * pages, so a guest that touches little still costs little. Advice
	 * only: a host without THP ignores it or says EINVAL, both fine.
	 */
	if (!(flags & (RV_MEM_MEMFD | RV_MEM_HUGEPAGES)) &&
	    size > THP_SKIP_BYTES)
		(void)madvise((uint8_t *)p + THP_SKIP_BYTES,
			      size - THP_SKIP_BYTES, MADV_HUGEPAGE);
	mem->base = p;
	mem->memfd = fd;
	return 0;
}

int rv_mem_create(uint64_t ram_size, uint64_t hole_start, unsigned int flags,
		  struct rv_mem **out)
{
	struct rv_mem *mem;
	int rc;

	*out = NULL;
	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	mem->memfd = -1;
	mem->flags = flags;
	rc = layout(mem, ram_size, hole_start);
	if (rc)
		goto err_free;
	rc = map_ram(mem, ram_size, flags);
	if (rc)
		goto err_free;
	/* Re-run the layout now that base is known. */
	rc = layout(mem, ram_size, hole_start);
	if (rc)
		goto err_unmap;
	/* Guest RAM must never end up in a core dump of the VMM. */
	madvise(mem->base, ram_size, MADV_DONTDUMP);
	*out = mem;
	return 0;

err_unmap:
	munmap(mem->base, ram_size);
	if (mem->memfd >= 0)
		close(mem->memfd);
err_free:
	free(mem);
	return rc;
}

void rv_mem_destroy(struct rv_mem *mem)
{
	if (!mem)
		return;
	if (mem->base)
		munmap(mem->base, mem->ram_size);
	if (mem->memfd >= 0)
		close(mem->memfd);
	free(mem);
}

void *rv_mem_gpa_to_hva(const struct rv_mem *mem, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	if (len == 0)
		len = 1;
	for (i = 0; i < mem->nr_regions; i++) {
		const struct rv_mem_region *r = &mem->regions[i];

		/* Written so that no sum can overflow: gpa - r->gpa first. */
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

int rv_mem_write(const struct rv_mem *mem, uint64_t gpa, const void *src,
		 uint64_t len)
{
	void *dst;

	if (len == 0)
		return 0;
	dst = rv_mem_gpa_to_hva(mem, gpa, len);
	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int rv_mem_read(const struct rv_mem *mem, uint64_t gpa, void *dst, uint64_t len)
{
	const void *src;

	if (len == 0)
		return 0;
	src = rv_mem_gpa_to_hva(mem, gpa, len);
	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

uint64_t rv_mem_low_end(const struct rv_mem *mem)
{
	return mem->nr_regions ? mem->regions[0].size : 0;
}
