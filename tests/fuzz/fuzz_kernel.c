// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the kernel image parser: rv_kernel_probe() on
 * arbitrary bytes, then, for images it accepts, the invariants the loader
 * relies on and a full rv_boot_load() into a small buffer-backed guest.
 * Seeds: a bzImage header or an ELF header (tests/fuzz/corpus/kernel).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "raevm/boot.h"
#include "raevm/layout.h"
#include "raevm/mem.h"
#include "raevm/util.h"

#define FUZZ_RAM (32 * RV_MiB)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What every accepted image must satisfy; a violation is a parser bug. */
static void check_info(const struct rv_kernel_info *info, size_t size)
{
	bool entry_inside = false;
	unsigned int i;

	if (info->nr_segments == 0 ||
	    info->nr_segments > RV_KERNEL_MAX_SEGMENTS)
		__builtin_trap();
	for (i = 0; i < info->nr_segments; i++) {
		const struct rv_kernel_segment *s = &info->segments[i];

		if (s->file_offset > size ||
		    s->file_size > size - s->file_offset)
			__builtin_trap();
		if (s->file_size > s->mem_size || s->paddr < RV_HIGH_MEM_START)
			__builtin_trap();
		if (s->paddr + s->mem_size < s->paddr ||
		    s->paddr + s->mem_size > info->image_end)
			__builtin_trap();
		if (info->entry >= s->paddr &&
		    info->entry - s->paddr < s->mem_size)
			entry_inside = true;
	}
	if (!entry_inside)
		__builtin_trap();
	if (info->format == RV_KERNEL_ELF_PVH && info->entry >= RV_4G)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	static struct rv_mem mem;
	struct rv_kernel_info info;
	struct rv_boot_params bp = {
		.kernel = data,
		.kernel_len = size,
		.cmdline = "console=ttyS0",
		.nr_cpus = 2,
	};
	struct rv_boot_entry entry;
	char err[256];

	if (rv_kernel_probe(data, size, &info, err, sizeof(err)) != 0)
		return 0;
	check_info(&info, size);
	if (!ram) {
		ram = calloc(1, FUZZ_RAM);
		if (!ram ||
		    rv_mem_init_buffer(&mem, ram, FUZZ_RAM, RV_MMIO_HOLE_START))
			abort();
	}
	if (rv_boot_load(&mem, &info, &bp, &entry, err, sizeof(err)) == 0 &&
	    entry.rip >= FUZZ_RAM)
		__builtin_trap();
	return 0;
}
