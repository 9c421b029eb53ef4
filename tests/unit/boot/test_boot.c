// SPDX-License-Identifier: Apache-2.0
/*
 * rv_boot_load() and the register set-up over buffer-backed guest RAM, with
 * small synthetic bzImage and PVH/ELF kernels built here (plus Debian's
 * bzImage when the fixture is there).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raevm/acpi.h"
#include "raevm/boot.h"
#include "raevm/layout.h"
#include "raevm/mem.h"
#include "raevm/util.h"

/* ---- helpers -------------------------------------------------------------- */

struct vm {
	struct rv_mem mem;
	uint8_t *buf;
};

static void vm_init(struct vm *v, uint64_t ram, uint64_t hole)
{
	/* calloc of this size maps fresh pages: untouched RAM costs nothing. */
	v->buf = calloc(1, ram);
	assert_non_null(v->buf);
	assert_int_equal(rv_mem_init_buffer(&v->mem, v->buf, ram, hole), 0);
}

static void vm_free(struct vm *v)
{
	free(v->buf);
}

static uint8_t *at(struct vm *v, uint64_t gpa, uint64_t len)
{
	uint8_t *p = rv_mem_gpa_to_hva(&v->mem, gpa, len);

	assert_non_null(p);
	return p;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)v);
	wr16(p + 2, (uint16_t)(v >> 16));
}

static void wr64(uint8_t *p, uint64_t v)
{
	wr32(p, (uint32_t)v);
	wr32(p + 4, (uint32_t)(v >> 32));
}

/*
 * A synthetic bzImage: 4 setup sectors + boot sector (2560 bytes), then
 * 8 KiB of "protected-mode code". Relocatable, pref_address 16 MiB,
 * init_size 4 MiB, cmdline_size 255, initrd_addr_max 0x37ffffff. The jump
 * at 0x200 ends the header at 0x268; a marker at 0x270 must not be copied.
 */
#define BZ_SETUP 0xa00
#define BZ_PM 0x2000
#define BZ_SIZE (BZ_SETUP + BZ_PM)

static uint8_t bz[BZ_SIZE];

static void make_bzimage(void)
{
	unsigned int i;

	memset(bz, 0, sizeof(bz));
	bz[0x1f1] = 4;
	wr32(bz + 0x1f4, BZ_PM / 16);
	wr16(bz + 0x1fa, 0xffff);
	wr16(bz + 0x1fe, 0xaa55);
	bz[0x200] = 0xeb;
	bz[0x201] = 0x66;
	memcpy(bz + 0x202, "HdrS", 4);
	wr16(bz + 0x206, 0x020f);
	bz[0x211] = 0x01;
	wr32(bz + 0x22c, 0x37ffffff);
	wr32(bz + 0x230, 0x200000);
	bz[0x234] = 1;
	wr16(bz + 0x236, 0x1);
	wr32(bz + 0x238, 255);
	wr64(bz + 0x258, 0x1000000);
	wr32(bz + 0x260, 0x400000);
	bz[0x270] = 0x77;
	for (i = 0; i < BZ_PM; i++)
		bz[BZ_SETUP + i] = (uint8_t)(i * 13 + 1);
}

/* The synthetic PVH ELF of test_kernel: 1 MiB, entry 1 MiB + 0x10. */
#define ELF_SIZE 0x3000
static uint8_t elf[ELF_SIZE];

static void make_elf(bool pvh)
{
	uint8_t *p;

	memset(elf, 0, sizeof(elf));
	memcpy(elf, "\177ELF", 4);
	elf[4] = 2;
	elf[5] = 1;
	elf[6] = 1;
	wr16(elf + 16, 2);
	wr16(elf + 18, 62);
	wr32(elf + 20, 1);
	wr64(elf + 24, 0x100000);
	wr64(elf + 32, 64);
	wr16(elf + 52, 64);
	wr16(elf + 54, 56);
	wr16(elf + 56, pvh ? 2 : 1);
	p = elf + 64;
	wr32(p, 1);
	wr64(p + 8, 0x1000);
	wr64(p + 24, 0x100000);
	wr64(p + 32, 0x1000);
	wr64(p + 40, 0x3000);
	memset(elf + 0x1000, 0x90, 0x1000);
	if (!pvh)
		return;
	p += 56;
	wr32(p, 4);
	wr64(p + 8, 0x2000);
	wr64(p + 32, 20);
	wr64(p + 40, 20);
	wr32(elf + 0x2000, 4);
	wr32(elf + 0x2004, 4);
	wr32(elf + 0x2008, 18);
	memcpy(elf + 0x200c, "Xen", 4);
	wr32(elf + 0x2010, 0x100010);
}

static void probe_ok(const uint8_t *img, size_t len,
		     struct rv_kernel_info *info)
{
	char err[256];

	assert_int_equal(rv_kernel_probe(img, len, info, err, sizeof(err)), 0);
}

static int load(struct vm *v, const struct rv_kernel_info *info,
		const struct rv_boot_params *bp, struct rv_boot_entry *e,
		char *err)
{
	return rv_boot_load(&v->mem, info, bp, e, err, 256);
}

static void check_e820(const uint8_t *e, uint64_t addr, uint64_t size,
		       uint32_t type)
{
	assert_int_equal(rd64(e), addr);
	assert_int_equal(rd64(e + 8), size);
	assert_int_equal(rd32(e + 16), type);
}

/* ---- bzImage ---------------------------------------------------------------- */

static void boot_load__bzimage_boot_params(void **state)
{
	static const char cmdline[] = "console=ttyS0 panic=-1";
	uint8_t initrd[0x10000];
	struct rv_kernel_info info;
	struct rv_boot_params bp = {
		.kernel = bz,
		.kernel_len = sizeof(bz),
		.initrd = initrd,
		.initrd_len = sizeof(initrd),
		.cmdline = cmdline,
		.nr_cpus = 2,
	};
	struct rv_boot_entry e;
	struct vm v;
	uint8_t *zp;
	char err[256];

	(void)state;
	make_bzimage();
	memset(initrd, 0x5c, sizeof(initrd));
	probe_ok(bz, sizeof(bz), &info);
	vm_init(&v, 128 * RV_MiB, RV_MMIO_HOLE_START);

	assert_int_equal(load(&v, &info, &bp, &e, err), 0);
	assert_string_equal(err, "");
	assert_int_equal(e.mode, RV_ENTRY_LINUX64);
	assert_int_equal(e.rip, 0x1000200);
	assert_int_equal(e.boot_info, RV_ZERO_PAGE_ADDR);
	assert_int_equal(e.stack, 0);

	zp = at(&v, RV_ZERO_PAGE_ADDR, 4096);
	/* The image's own header, with the loader's fields filled in. */
	assert_memory_equal(zp + 0x202, "HdrS", 4);
	assert_int_equal(rd16(zp + 0x206), 0x020f);
	assert_int_equal(rd16(zp + 0x1fa), 0xffff);
	assert_int_equal(zp[0x1f1], 4);
	assert_int_equal(rd32(zp + 0x238), 255);
	assert_int_equal(zp[0x270], 0);
	assert_int_equal(zp[0x1ef], 0); /* sentinel */
	assert_int_equal(zp[0x210], 0xff);
	assert_int_equal(zp[0x211], 0x01);
	assert_int_equal(rd32(zp + 0x214), 0x1000000);
	assert_int_equal(rd32(zp + 0x228), RV_CMDLINE_ADDR);
	assert_int_equal(rd32(zp + 0x0c8), 0);
	assert_string_equal((char *)at(&v, RV_CMDLINE_ADDR, sizeof(cmdline)),
			    cmdline);
	/* The initrd ends at the top of RAM, page-aligned. */
	assert_int_equal(rd32(zp + 0x218), 128 * RV_MiB - 0x10000);
	assert_int_equal(rd32(zp + 0x21c), 0x10000);
	assert_int_equal(rd32(zp + 0x0c0), 0);
	assert_memory_equal(at(&v, 128 * RV_MiB - 0x10000, 0x10000), initrd,
			    sizeof(initrd));
	/* e820: low RAM, the reserved legacy area, RAM from 1 MiB. */
	assert_int_equal(zp[0x1e8], 3);
	check_e820(zp + 0x2d0, 0, 0x9fc00, 1);
	check_e820(zp + 0x2d0 + 20, 0x9fc00, 0x60400, 2);
	check_e820(zp + 0x2d0 + 40, 0x100000, 127 * RV_MiB, 1);
	check_e820(zp + 0x2d0 + 60, 0, 0, 0);
	/* The protected-mode part at pref_address. */
	assert_memory_equal(at(&v, 0x1000000, BZ_PM), bz + BZ_SETUP, BZ_PM);
	vm_free(&v);
}

static void boot_load__bzimage_initrd_below_addr_max(void **state)
{
	struct rv_kernel_info info;
	uint8_t *initrd = calloc(1, RV_MiB + 100);
	struct rv_boot_params bp = {
		.kernel = bz,
		.kernel_len = sizeof(bz),
		.initrd = initrd,
		.initrd_len = RV_MiB + 100,
		.nr_cpus = 1,
	};
	struct rv_boot_entry e;
	struct vm v;
	char err[256];

	(void)state;
	assert_non_null(initrd);
	make_bzimage();
	probe_ok(bz, sizeof(bz), &info);
	vm_init(&v, RV_GiB, RV_MMIO_HOLE_START);
	assert_int_equal(load(&v, &info, &bp, &e, err), 0);
	/* Highest page-aligned start whose last byte is <= 0x37ffffff. */
	assert_int_equal(rd32(at(&v, RV_ZERO_PAGE_ADDR + 0x218, 4)),
			 0x37eff000);
	assert_int_equal(rd32(at(&v, RV_ZERO_PAGE_ADDR + 0x21c, 4)),
			 RV_MiB + 100);
	free(initrd);
	vm_free(&v);
}

static void boot_load__bzimage_not_relocatable(void **state)
{
	struct rv_kernel_info info;
	struct rv_boot_params bp = { .kernel = bz,
				     .kernel_len = sizeof(bz),
				     .nr_cpus = 1 };
	struct rv_boot_entry e;
	struct vm v;
	char err[256];

	(void)state;
	make_bzimage();
	bz[0x234] = 0;
	wr64(bz + 0x258, 0x100000);
	probe_ok(bz, sizeof(bz), &info);
	vm_init(&v, 16 * RV_MiB, RV_MMIO_HOLE_START);
	assert_int_equal(load(&v, &info, &bp, &e, err), 0);
	assert_int_equal(e.rip, 0x100200);
	assert_memory_equal(at(&v, 0x100000, BZ_PM), bz + BZ_SETUP, BZ_PM);
	assert_int_equal(rd32(at(&v, RV_ZERO_PAGE_ADDR + 0x214, 4)), 0x100000);
	/* No initrd: no ramdisk fields, and an empty command line. */
	assert_int_equal(rd32(at(&v, RV_ZERO_PAGE_ADDR + 0x218, 4)), 0);
	assert_int_equal(*at(&v, RV_CMDLINE_ADDR, 1), 0);
	vm_free(&v);
}

static void boot_load__bzimage_ram_too_small(void **state)
{
	struct rv_kernel_info info;
	struct rv_boot_params bp = { .kernel = bz,
				     .kernel_len = sizeof(bz),
				     .nr_cpus = 1 };
	struct rv_boot_entry e;
	struct vm v;
	char err[256];

	(void)state;
	make_bzimage();
	wr32(bz + 0x260, 40 * RV_MiB);
	probe_ok(bz, sizeof(bz), &info);
	vm_init(&v, 32 * RV_MiB, RV_MMIO_HOLE_START);
	assert_int_equal(load(&v, &info, &bp, &e, err), -ENOMEM);
	assert_string_equal(err, "kernel needs 40 MiB from 0x1000000 but the "
				 "VM has 32 MiB of RAM");
	vm_free(&v);
}

static void boot_load__initrd_too_big(void **state)
{
	struct rv_kernel_info info;
	uint8_t *initrd = calloc(1, 900 * RV_MiB);
	struct rv_boot_params bp = {
		.kernel = bz,
		.kernel_len = sizeof(bz),
		.initrd = initrd,
		.initrd_len = 120 * RV_MiB,
		.nr_cpus = 1,
	};
	struct rv_boot_entry e;
	struct vm v;
	char err[256];

	(void)state;
	assert_non_null(initrd);
	make_bzimage();
	probe_ok(bz, sizeof(bz), &info);
	/* Limited by RAM: 128 MiB minus the kernel's first 20 MiB. */
	vm_init(&v, 128 * RV_MiB, RV_MMIO_HOLE_START);
	assert_int_equal(load(&v, &info, &bp, &e, err), -ENOMEM);
	assert_string_equal(err, "initrd is 120 MiB but only 108 MiB of RAM is "
				 "free below 0x7ffffff");
	vm_free(&v);
	/* Limited by initrd_addr_max. */
	vm_init(&v, RV_GiB, RV_MMIO_HOLE_START);
	bp.initrd_len = 900 * RV_MiB;
	assert_int_equal(load(&v, &info, &bp, &e, err), -ENOMEM);
	assert_string_equal(err, "initrd is 900 MiB but only 876 MiB of RAM is "
				 "free below 0x37ffffff");
	vm_free(&v);
	free(initrd);
}

static void boot_load__cmdline_too_long(void **state)
{
	char cmdline[5001];
	struct rv_kernel_info info;
	struct rv_boot_params bp = {
		.kernel = bz,
		.kernel_len = sizeof(bz),
		.cmdline = cmdline,
		.nr_cpus = 1,
	};
	struct rv_boot_entry e;
	struct vm v;
	char err[256];

	(void)state;
	make_bzimage();
	probe_ok(bz, sizeof(bz), &info);
	vm_init(&v, 64 * RV_MiB, RV_MMIO_HOLE_START);
	memset(cmdline, 'a', 300);
	cmdline[300] = '\0';
	assert_int_equal(load(&v, &info, &bp, &e, err), -E2BIG);
	assert_string_equal(err, "command line is 300 bytes; this kernel "
				 "accepts at most 255");
	cmdline[255] = '\0';
	assert_int_equal(load(&v, &info, &bp, &e, err), 0);
	assert_int_equal(strlen((char *)at(&v, RV_CMDLINE_ADDR, 256)), 255);

	/* ELF kernels: the 4 KiB buffer at RV_CMDLINE_ADDR is the limit. */
	make_elf(true);
	probe_ok(elf, sizeof(elf), &info);
	bp.kernel = elf;
	bp.kernel_len = sizeof(elf);
	memset(cmdline, 'b', 5000);
	cmdline[5000] = '\0';
	assert_int_equal(load(&v, &info, &bp, &e, err), -E2BIG);
	assert_string_equal(err, "command line is 5000 bytes; this kernel "
				 "accepts at most 4095");
	cmdline[4095] = '\0';
	assert_int_equal(load(&v, &info, &bp, &e, err), 0);
	vm_free(&v);
}

static void boot_load__debian_bzimage(void **state)
{
	const char *dir = getenv("RV_FIXTURES");
	struct rv_kernel_info info;
	struct rv_boot_params bp = { .cmdline = "console=ttyS0", .nr_cpus = 1 };
	struct rv_boot_entry e;
	char path[4096], err[256];
	uint8_t *img;
	size_t len;
	struct vm v;

	(void)state;
	snprintf(path, sizeof(path), "%s/vmlinuz",
		 dir && *dir ? dir : "build/fixtures");
	if (rv_read_file(path, 256 * RV_MiB, &img, &len) != 0)
		skip();
	probe_ok(img, len, &info);
	bp.kernel = img;
	bp.kernel_len = len;
	vm_init(&v, 256 * RV_MiB, RV_MMIO_HOLE_START);
	assert_int_equal(load(&v, &info, &bp, &e, err), 0);
	assert_int_equal(e.rip, 0x1000200);
	/* The header as the image has it, up to type_of_loader. */
	assert_memory_equal(at(&v, RV_ZERO_PAGE_ADDR + 0x1f1, 0x1f),
			    img + 0x1f1, 0x1f);
	assert_int_equal(rd16(at(&v, RV_ZERO_PAGE_ADDR + 0x206, 2)), 0x020f);
	assert_memory_equal(at(&v, 0x1000000, len - info.setup_size),
			    img + info.setup_size, len - info.setup_size);
	vm_free(&v);
	/* 64 MiB is less than pref_address + init_size. */
	vm_init(&v, 64 * RV_MiB, RV_MMIO_HOLE_START);
	assert_int_equal(load(&v, &info, &bp, &e, err), -ENOMEM);
	assert_non_null(strstr(err, "from 0x1000000 but the VM has 64 MiB"));
	vm_free(&v);
	free(img);
}

/* ---- ELF and PVH ------------------------------------------------------------ */

static void boot_load__pvh_start_info(void **state)
{
	uint8_t initrd[0x2000];
	struct rv_kernel_info info;
	struct rv_boot_params bp = {
		.kernel = elf,
		.kernel_len = sizeof(elf),
		.initrd = initrd,
		.initrd_len = sizeof(initrd),
		.cmdline = "root=/dev/vda",
		.nr_cpus = 1,
	};
	struct rv_boot_entry e;
	struct vm v;
	uint8_t *si, *map, *mod;
	char err[256];

	(void)state;
	make_elf(true);
	memset(initrd, 0x3c, sizeof(initrd));
	probe_ok(elf, sizeof(elf), &info);
	assert_int_equal(info.format, RV_KERNEL_ELF_PVH);
	vm_init(&v, 64 * RV_MiB, RV_MMIO_HOLE_START);
	/* Stale data from an earlier boot must not survive in the BSS. */
	memset(at(&v, 0x100000, 0x4000), 0xaa, 0x4000);

	assert_int_equal(load(&v, &info, &bp, &e, err), 0);
	assert_int_equal(e.mode, RV_ENTRY_PVH32);
	assert_int_equal(e.rip, 0x100010);
	assert_int_equal(e.boot_info, RV_PVH_INFO_ADDR);

	si = at(&v, RV_PVH_INFO_ADDR, 56);
	assert_int_equal(rd32(si), 0x336ec578);
	assert_int_equal(rd32(si + 4), 1);
	assert_int_equal(rd32(si + 8), 0);
	assert_int_equal(rd32(si + 12), 1);
	assert_int_equal(rd64(si + 16), RV_PVH_MODLIST_ADDR);
	assert_int_equal(rd64(si + 24), RV_CMDLINE_ADDR);
	assert_int_equal(rd64(si + 32), RV_ACPI_RSDP_ADDR);
	assert_int_equal(rd64(si + 40), RV_PVH_MEMMAP_ADDR);
	assert_int_equal(rd32(si + 48), 3);
	assert_string_equal((char *)at(&v, RV_CMDLINE_ADDR, 14),
			    "root=/dev/vda");

	map = at(&v, RV_PVH_MEMMAP_ADDR, 3 * 24);
	check_e820(map, 0, 0x9fc00, 1);
	check_e820(map + 24, 0x9fc00, 0x60400, 2);
	check_e820(map + 48, 0x100000, 63 * RV_MiB, 1);

	mod = at(&v, RV_PVH_MODLIST_ADDR, 32);
	assert_int_equal(rd64(mod), 64 * RV_MiB - 0x2000);
	assert_int_equal(rd64(mod + 8), 0x2000);
	assert_int_equal(rd64(mod + 16), 0);
	assert_memory_equal(at(&v, 64 * RV_MiB - 0x2000, 0x2000), initrd,
			    sizeof(initrd));

	/* File bytes, zeroed BSS, and untouched memory after the segment. */
	assert_memory_equal(at(&v, 0x100000, 0x1000), elf + 0x1000, 0x1000);
	assert_int_equal(*at(&v, 0x101000, 1), 0);
	assert_int_equal(*at(&v, 0x102fff, 1), 0);
	assert_int_equal(*at(&v, 0x103000, 1), 0xaa);
	vm_free(&v);
}

static void boot_load__pvh_without_initrd(void **state)
{
	struct rv_kernel_info info;
	struct rv_boot_params bp = { .kernel = elf,
				     .kernel_len = sizeof(elf),
				     .nr_cpus = 1 };
	struct rv_boot_entry e;
	struct vm v;
	uint8_t *si;
	char err[256];

	(void)state;
	make_elf(true);
	probe_ok(elf, sizeof(elf), &info);
	vm_init(&v, 64 * RV_MiB, 32 * RV_MiB);
	assert_int_equal(load(&v, &info, &bp, &e, err), 0);
	si = at(&v, RV_PVH_INFO_ADDR, 56);
	assert_int_equal(rd32(si + 12), 0);
	assert_int_equal(rd64(si + 16), 0);
	/* RAM split around a hole at 32 MiB: the memmap shows both parts. */
	assert_int_equal(rd32(si + 48), 4);
	check_e820(at(&v, RV_PVH_MEMMAP_ADDR + 48, 24), 0x100000, 31 * RV_MiB,
		   1);
	check_e820(at(&v, RV_PVH_MEMMAP_ADDR + 72, 24), RV_4G, 32 * RV_MiB, 1);
	vm_free(&v);
}

static void boot_load__elf_linux_boot_params(void **state)
{
	struct rv_kernel_info info;
	struct rv_boot_params bp = { .kernel = elf,
				     .kernel_len = sizeof(elf),
				     .nr_cpus = 1 };
	struct rv_boot_entry e;
	struct vm v;
	uint8_t *zp;
	char err[256];

	(void)state;
	make_elf(false);
	probe_ok(elf, sizeof(elf), &info);
	assert_int_equal(info.format, RV_KERNEL_ELF_LINUX);
	vm_init(&v, 64 * RV_MiB, RV_MMIO_HOLE_START);
	assert_int_equal(load(&v, &info, &bp, &e, err), 0);
	assert_int_equal(e.mode, RV_ENTRY_LINUX64);
	assert_int_equal(e.rip, 0x100000);
	assert_int_equal(e.boot_info, RV_ZERO_PAGE_ADDR);
	zp = at(&v, RV_ZERO_PAGE_ADDR, 4096);
	assert_int_equal(rd16(zp + 0x1fe), 0xaa55);
	assert_memory_equal(zp + 0x202, "HdrS", 4);
	assert_int_equal(rd16(zp + 0x206), 0x020c);
	assert_int_equal(zp[0x210], 0xff);
	assert_int_equal(rd32(zp + 0x228), RV_CMDLINE_ADDR);
	assert_int_equal(rd32(zp + 0x238), 4095);
	assert_int_equal(zp[0x1e8], 3);
	vm_free(&v);
}

static void boot_load__segment_outside_ram(void **state)
{
	struct rv_kernel_info info;
	struct rv_boot_params bp = { .kernel = elf,
				     .kernel_len = sizeof(elf),
				     .nr_cpus = 1 };
	struct rv_boot_entry e;
	struct vm v;
	char err[256];

	(void)state;
	make_elf(false);
	wr64(elf + 64 + 24, 0x10000000);
	wr64(elf + 24, 0x10000000);
	probe_ok(elf, sizeof(elf), &info);
	vm_init(&v, 64 * RV_MiB, RV_MMIO_HOLE_START);
	assert_int_equal(load(&v, &info, &bp, &e, err), -ENOMEM);
	assert_string_equal(err, "kernel needs 12 KiB from 0x10000000 but the "
				 "VM has 64 MiB of RAM");
	vm_free(&v);

	/* Enough RAM in total, but the segment sits past the hole. */
	wr64(elf + 64 + 24, 0x2800000);
	wr64(elf + 24, 0x2800000);
	probe_ok(elf, sizeof(elf), &info);
	vm_init(&v, 64 * RV_MiB, 32 * RV_MiB);
	assert_int_equal(load(&v, &info, &bp, &e, err), -ENOMEM);
	assert_string_equal(err, "kernel needs [0x2800000, 0x2803000) but the "
				 "VM's RAM below 4 GiB ends at 0x2000000");
	vm_free(&v);
}

static void boot_load__bad_params(void **state)
{
	struct rv_kernel_info info;
	struct rv_boot_params bp = { .kernel = elf,
				     .kernel_len = sizeof(elf),
				     .nr_cpus = 0 };
	struct rv_boot_entry e;
	struct vm v;
	char err[256];

	(void)state;
	make_elf(true);
	probe_ok(elf, sizeof(elf), &info);
	vm_init(&v, 16 * RV_MiB, RV_MMIO_HOLE_START);
	assert_int_equal(load(&v, &info, &bp, &e, err), -EINVAL);
	assert_string_equal(err, "a VM needs at least one vCPU");
	bp.nr_cpus = 255;
	assert_int_equal(load(&v, &info, &bp, &e, err), -E2BIG);
	assert_string_equal(err, "255 vCPUs do not fit the MP table, which "
				 "describes at most 254");
	/* An image shorter than the one that was probed. */
	bp.nr_cpus = 1;
	bp.kernel_len = 0x1800;
	assert_int_equal(load(&v, &info, &bp, &e, err), -EINVAL);
	assert_string_equal(err, "kernel segment 0 does not match the image it "
				 "was probed from");
	vm_free(&v);
}

static void boot_load__page_tables_and_gdt(void **state)
{
	struct rv_kernel_info info;
	struct rv_boot_params bp = { .kernel = bz,
				     .kernel_len = sizeof(bz),
				     .nr_cpus = 1 };
	struct rv_boot_entry e;
	struct vm v;
	uint8_t *pd, *gdt;
	char err[256];
	unsigned int i;

	(void)state;
	make_bzimage();
	probe_ok(bz, sizeof(bz), &info);
	vm_init(&v, 64 * RV_MiB, RV_MMIO_HOLE_START);
	assert_int_equal(load(&v, &info, &bp, &e, err), 0);

	assert_int_equal(rd64(at(&v, RV_PML4_ADDR, 8)), RV_PDPT_ADDR | 3);
	assert_int_equal(rd64(at(&v, RV_PML4_ADDR + 8, 8)), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(rd64(at(&v, RV_PDPT_ADDR + i * 8, 8)),
				 (RV_PD_ADDR + i * 0x1000) | 3);
	assert_int_equal(rd64(at(&v, RV_PDPT_ADDR + 32, 8)), 0);
	pd = at(&v, RV_PD_ADDR, 4 * 4096);
	assert_int_equal(rd64(pd), 0x83);
	assert_int_equal(rd64(pd + 8), 0x200083);
	assert_int_equal(rd64(pd + 8 * 1536), 0xc0000083);
	assert_int_equal(rd64(pd + 8 * 2047), 0xffe00083);

	gdt = at(&v, RV_GDT_ADDR, 32);
	assert_int_equal(rd64(gdt), 0);
	assert_int_equal(rd64(gdt + 8), 0x00008b0000000067ULL);
	assert_int_equal(rd64(gdt + 16), 0x00af9b000000ffffULL);
	assert_int_equal(rd64(gdt + 24), 0x00cf93000000ffffULL);
	vm_free(&v);

	/* PVH: the code segment is 32-bit. */
	make_elf(true);
	probe_ok(elf, sizeof(elf), &info);
	bp.kernel = elf;
	bp.kernel_len = sizeof(elf);
	vm_init(&v, 64 * RV_MiB, RV_MMIO_HOLE_START);
	assert_int_equal(load(&v, &info, &bp, &e, err), 0);
	assert_int_equal(rd64(at(&v, RV_GDT_ADDR + 16, 8)),
			 0x00cf9b000000ffffULL);
	vm_free(&v);
}

static void boot_load__mptable_placement(void **state)
{
	struct rv_kernel_info info;
	struct rv_boot_params bp = { .kernel = elf,
				     .kernel_len = sizeof(elf),
				     .nr_cpus = 2 };
	struct rv_boot_entry e;
	struct vm v;
	char err[256];

	(void)state;
	make_elf(true);
	probe_ok(elf, sizeof(elf), &info);
	vm_init(&v, 64 * RV_MiB, RV_MMIO_HOLE_START);
	assert_int_equal(load(&v, &info, &bp, &e, err), 0);
	assert_memory_equal(at(&v, RV_EBDA_ADDR, 4), "_MP_", 4);
	assert_int_equal(rd32(at(&v, RV_EBDA_ADDR + 4, 4)), RV_EBDA_ADDR + 16);
	vm_free(&v);

	/* Beyond what the 1 KiB EBDA holds: the BIOS area. */
	bp.nr_cpus = RV_MPTABLE_EBDA_MAX_CPUS + 1;
	vm_init(&v, 64 * RV_MiB, RV_MMIO_HOLE_START);
	assert_int_equal(load(&v, &info, &bp, &e, err), 0);
	assert_int_equal(rd32(at(&v, RV_EBDA_ADDR, 4)), 0);
	assert_memory_equal(at(&v, RV_MPTABLE_BIOS_ADDR, 4), "_MP_", 4);
	vm_free(&v);
}

static void e820_build__layouts(void **state)
{
	struct rv_e820_entry e[8];
	struct vm v;

	(void)state;
	vm_init(&v, 64 * RV_MiB, 32 * RV_MiB);
	assert_int_equal(rv_e820_build(&v.mem, e, 8), 4);
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[0].size, RV_LOW_RAM_END);
	assert_int_equal(e[0].type, RV_E820_RAM);
	assert_int_equal(e[1].addr, RV_LOW_RAM_END);
	assert_int_equal(e[1].size, RV_HIGH_MEM_START - RV_LOW_RAM_END);
	assert_int_equal(e[1].type, RV_E820_RESERVED);
	assert_int_equal(e[2].addr, RV_HIGH_MEM_START);
	assert_int_equal(e[2].size, 31 * RV_MiB);
	assert_int_equal(e[3].addr, RV_4G);
	assert_int_equal(e[3].size, 32 * RV_MiB);
	assert_int_equal(e[3].type, RV_E820_RAM);
	/* max bounds the output. */
	memset(e, 0, sizeof(e));
	assert_int_equal(rv_e820_build(&v.mem, e, 2), 2);
	assert_int_equal(e[2].size, 0);
	vm_free(&v);
}

/* ---- registers -------------------------------------------------------------- */

static void boot_setup_regs__entry_modes(void **state)
{
	struct rv_boot_entry e = { .mode = RV_ENTRY_LINUX64,
				   .rip = 0x1000200,
				   .boot_info = 0x7000 };
	struct kvm_regs r;

	(void)state;
	memset(&r, 0xff, sizeof(r));
	rv_boot_setup_regs(&e, &r);
	assert_int_equal(r.rip, 0x1000200);
	assert_int_equal(r.rsi, 0x7000);
	assert_int_equal(r.rbx, 0);
	assert_int_equal(r.rflags, 0x2);
	assert_int_equal(r.rsp, 0);
	assert_int_equal(r.rax, 0);

	e = (struct rv_boot_entry){ .mode = RV_ENTRY_PVH32,
				    .rip = 0x100010,
				    .boot_info = 0x6000 };
	rv_boot_setup_regs(&e, &r);
	assert_int_equal(r.rip, 0x100010);
	assert_int_equal(r.rbx, 0x6000);
	assert_int_equal(r.rsi, 0);
	assert_int_equal(r.rflags, 0x2);
}

static void check_flat(const struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	assert_int_equal(s->base, 0);
	assert_int_equal(s->limit, 0xffffffff);
	assert_int_equal(s->selector, sel);
	assert_int_equal(s->type, type);
	assert_int_equal(s->present, 1);
	assert_int_equal(s->s, 1);
	assert_int_equal(s->g, 1);
	assert_int_equal(s->dpl, 0);
}

static void boot_setup_sregs__linux64(void **state)
{
	struct rv_boot_entry e = { .mode = RV_ENTRY_LINUX64 };
	struct kvm_sregs s;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.cr0 = 0x60000010; /* reset value: CD, NW, ET */
	s.apic_base = 0xfee00900;
	rv_boot_setup_sregs(&e, &s);
	check_flat(&s.cs, 0x10, 0xb);
	assert_int_equal(s.cs.l, 1);
	assert_int_equal(s.cs.db, 0);
	check_flat(&s.ds, 0x18, 0x3);
	check_flat(&s.ss, 0x18, 0x3);
	check_flat(&s.es, 0x18, 0x3);
	assert_int_equal(s.ds.db, 1);
	assert_int_equal(s.tr.type, 0xb);
	assert_int_equal(s.tr.selector, 0x08);
	assert_int_equal(s.tr.present, 1);
	assert_int_equal(s.gdt.base, RV_GDT_ADDR);
	assert_int_equal(s.gdt.limit, 31);
	assert_int_equal(s.idt.base, RV_IDT_ADDR);
	assert_int_equal(s.cr0, 0x80000031); /* PG NE ET PE */
	assert_int_equal(s.cr3, RV_PML4_ADDR);
	assert_int_equal(s.cr4, 0x20);
	assert_int_equal(s.efer, 0x500);
	/* What the function does not own is left as KVM reported it. */
	assert_int_equal(s.apic_base, 0xfee00900);
}

static void boot_setup_sregs__pvh32(void **state)
{
	struct rv_boot_entry e = { .mode = RV_ENTRY_PVH32 };
	struct kvm_sregs s;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.cr0 = 0x60000010;
	s.cr4 = 0x20;
	s.efer = 0x500;
	rv_boot_setup_sregs(&e, &s);
	check_flat(&s.cs, 0x10, 0xb);
	assert_int_equal(s.cs.l, 0);
	assert_int_equal(s.cs.db, 1);
	check_flat(&s.gs, 0x18, 0x3);
	assert_int_equal(s.tr.type, 0xb);
	assert_int_equal(s.tr.limit, 0x67);
	assert_int_equal(s.tr.s, 0);
	assert_int_equal(s.cr0, 0x11); /* ET PE, paging off */
	assert_int_equal(s.cr3, 0);
	assert_int_equal(s.cr4, 0);
	assert_int_equal(s.efer, 0);
}

static void boot_setup_fpu__defaults(void **state)
{
	struct kvm_fpu f;

	(void)state;
	memset(&f, 0xff, sizeof(f));
	rv_boot_setup_fpu(&f);
	assert_int_equal(f.fcw, 0x37f);
	assert_int_equal(f.mxcsr, 0x1f80);
	assert_int_equal(f.fsw, 0);
	assert_int_equal(f.ftwx, 0);
}

static void boot_setup_lapic__lint_pins(void **state)
{
	struct kvm_lapic_state l;

	(void)state;
	memset(&l, 0, sizeof(l));
	wr32((uint8_t *)l.regs + 0x350, 0x10000); /* masked, as after reset */
	wr32((uint8_t *)l.regs + 0x360, 0x10000);
	wr32((uint8_t *)l.regs + 0x20, 0x5000000); /* APIC ID stays */
	rv_boot_setup_lapic(&l);
	assert_int_equal(rd32((uint8_t *)l.regs + 0x350), 0x700);
	assert_int_equal(rd32((uint8_t *)l.regs + 0x360), 0x400);
	assert_int_equal(rd32((uint8_t *)l.regs + 0x20), 0x5000000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(boot_load__bzimage_boot_params),
		cmocka_unit_test(boot_load__bzimage_initrd_below_addr_max),
		cmocka_unit_test(boot_load__bzimage_not_relocatable),
		cmocka_unit_test(boot_load__bzimage_ram_too_small),
		cmocka_unit_test(boot_load__initrd_too_big),
		cmocka_unit_test(boot_load__cmdline_too_long),
		cmocka_unit_test(boot_load__debian_bzimage),
		cmocka_unit_test(boot_load__pvh_start_info),
		cmocka_unit_test(boot_load__pvh_without_initrd),
		cmocka_unit_test(boot_load__elf_linux_boot_params),
		cmocka_unit_test(boot_load__segment_outside_ram),
		cmocka_unit_test(boot_load__bad_params),
		cmocka_unit_test(boot_load__page_tables_and_gdt),
		cmocka_unit_test(boot_load__mptable_placement),
		cmocka_unit_test(e820_build__layouts),
		cmocka_unit_test(boot_setup_regs__entry_modes),
		cmocka_unit_test(boot_setup_sregs__linux64),
		cmocka_unit_test(boot_setup_sregs__pvh32),
		cmocka_unit_test(boot_setup_fpu__defaults),
		cmocka_unit_test(boot_setup_lapic__lint_pins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
