// SPDX-License-Identifier: Apache-2.0
/*
 * Kernel loading: copies a probed kernel, the initrd and the command line
 * into guest RAM and writes what the kernel expects to find at entry:
 * boot_params (Linux 64-bit boot protocol) or hvm_start_info (PVH), the e820
 * map, the boot GDT, identity page tables for the low 4 GiB, the MP table
 * and the ACPI tables (vmm/x86/acpi.c), whose RSDP address both boot
 * structures carry.
 *
 * Low memory, from include/raevm/layout.h:
 *   0x500   GDT (4 entries)         0x6000  hvm_start_info, memmap, modlist
 *   0x520   IDT (empty)             0x7000  boot_params (zero page)
 *   0x9000  PML4, 0xa000 PDPT, 0xb000-0xefff four page directories
 *   0x20000 command line            0x9fc00 MP table (EBDA, e820-reserved)
 *   0xe0000 ACPI tables, RSDP first 0xf0000 MP table beyond 40 vCPUs
 * The kernel goes to 1 MiB or above, the initrd as high as the kernel allows
 * below the end of low RAM. Every write goes through rv_mem and is checked.
 */
#include "raevm/boot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "raevm/acpi.h"
#include "raevm/layout.h"
#include "raevm/mem.h"

/* boot_params (the zero page), byte offsets from the Linux boot protocol. */
#define BP_SIZE 0x1000
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR 0x1f1
#define BP_HDR_MAX_END 0x290 /* the setup header never extends past this */
#define BP_BOOT_FLAG 0x1fe
#define BP_JUMP 0x200
#define BP_MAGIC 0x202
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_CODE32_START 0x214
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_CMD_LINE_PTR 0x228
#define BP_CMDLINE_SIZE 0x238
#define BP_SETUP_DATA 0x250 /* u64 list of setup_data: the loader's */
#define BP_E820_TABLE 0x2d0
#define BP_E820_MAX 128
#define BP_E820_ENTRY_SIZE 20

#define LOADER_UNDEFINED 0xff /* type_of_loader: not a registered loader */
#define LOADFLAG_LOADED_HIGH 0x01
#define LOADFLAG_KEEP_SEGMENTS 0x40
#define LOADFLAG_CAN_USE_HEAP 0x80
/* The version raevm writes for a vmlinux: 2.12, the first with xloadflags. */
#define ELF_LINUX_BOOT_PROTOCOL 0x020c

/* PVH (xen/include/public/arch-x86/hvm/start_info.h), version 1. */
#define PVH_MAGIC 0x336ec578
#define PVH_VERSION 1
#define PVH_INFO_SIZE 56
#define PVH_RSDP_PADDR 32
#define PVH_MEMMAP_ENTRY_SIZE 24
#define PVH_MEMMAP_MAX                                                         \
	((RV_PVH_MODLIST_ADDR - RV_PVH_MEMMAP_ADDR) / PVH_MEMMAP_ENTRY_SIZE)
#define PVH_MODLIST_ENTRY_SIZE 32

#define PAGE_SIZE 4096ULL
#define PTE_PRESENT 0x1ULL
#define PTE_WRITE 0x2ULL
#define PTE_PS 0x80ULL
#define IDENTITY_PDS 4 /* 4 page directories of 512 x 2 MiB = 4 GiB */
#define PD_ENTRIES 512
#define SIZE_2M 0x200000ULL

#define E820_MAX_ENTRIES (2 + RV_MEM_MAX_REGIONS * 2)

struct loader {
	struct rv_mem *mem;
	const struct rv_kernel_info *info;
	const struct rv_boot_params *p;
	char *err;
	size_t errlen;
	uint64_t low_end;     /* end of RAM below the MMIO hole */
	uint64_t kernel_load; /* bzImage: where the protected-mode part goes */
	uint64_t kernel_end;  /* end of everything the kernel may touch */
	uint64_t initrd_addr;
	uint64_t rsdp_addr; /* set by write_acpi() */
	size_t cmdline_len;
	struct rv_e820_entry e820[E820_MAX_ENTRIES];
	unsigned int nr_e820;
};

static int fail(struct loader *l, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct loader *l, int rc, const char *fmt, ...)
{
	va_list ap;

	if (l->err && l->errlen) {
		va_start(ap, fmt);
		vsnprintf(l->err, l->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static unsigned long long ull(uint64_t v)
{
	return (unsigned long long)v;
}

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

/* ---- e820 --------------------------------------------------------------- */

static unsigned int e820_add(struct rv_e820_entry *e, unsigned int n,
			     unsigned int max, uint64_t start, uint64_t end,
			     uint32_t type)
{
	if (end <= start || n >= max)
		return n;
	e[n] = (struct rv_e820_entry){ .addr = start,
				       .size = end - start,
				       .type = type };
	return n + 1;
}

/*
 * RAM pieces of every region clipped to [lo, hi), in region order. The
 * regions are sorted by address (mem.h), so the output is sorted too.
 */
static unsigned int e820_ram(const struct rv_mem *mem, struct rv_e820_entry *e,
			     unsigned int n, unsigned int max, uint64_t lo,
			     uint64_t hi)
{
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++) {
		uint64_t s = mem->regions[i].gpa;
		uint64_t t = s + mem->regions[i].size;

		n = e820_add(e, n, max, s > lo ? s : lo, t < hi ? t : hi,
			     RV_E820_RAM);
	}
	return n;
}

unsigned int rv_e820_build(const struct rv_mem *mem,
			   struct rv_e820_entry *entries, unsigned int max)
{
	unsigned int n;

	n = e820_ram(mem, entries, 0, max, 0, RV_LOW_RAM_END);
	/* EBDA, VGA window and BIOS area: where the MP table lives. */
	n = e820_add(entries, n, max, RV_LOW_RAM_END, RV_HIGH_MEM_START,
		     RV_E820_RESERVED);
	return e820_ram(mem, entries, n, max, RV_HIGH_MEM_START, UINT64_MAX);
}

/* ---- checks and placement ----------------------------------------------- */

static int check_params(struct loader *l)
{
	const struct rv_kernel_info *info = l->info;
	const struct rv_boot_params *p = l->p;
	char a[32];
	unsigned int i, max;

	if (!p->kernel || info->nr_segments == 0 ||
	    info->nr_segments > RV_KERNEL_MAX_SEGMENTS)
		return fail(l, -EINVAL, "kernel was not probed successfully");
	/* The image must be the one that was probed; re-check its bounds. */
	for (i = 0; i < info->nr_segments; i++) {
		const struct rv_kernel_segment *s = &info->segments[i];

		if (s->file_offset > p->kernel_len ||
		    s->file_size > p->kernel_len - s->file_offset ||
		    s->file_size > s->mem_size)
			return fail(l, -EINVAL,
				    "kernel segment %u does not match the "
				    "image it was probed from",
				    i);
	}
	if (info->format == RV_KERNEL_BZIMAGE &&
	    (info->setup_size < BP_HDR_MAX_END ||
	     info->setup_size > p->kernel_len))
		return fail(l, -EINVAL,
			    "bzImage setup size does not match the image");
	if (p->nr_cpus == 0)
		return fail(l, -EINVAL, "a VM needs at least one vCPU");
	if (p->nr_cpus > RV_MPTABLE_MAX_CPUS)
		return fail(l, -E2BIG,
			    "%u vCPUs do not fit the MP table, which describes "
			    "at most %u",
			    p->nr_cpus, RV_MPTABLE_MAX_CPUS);
	if (l->low_end < RV_HIGH_MEM_START)
		return fail(l, -ENOMEM,
			    "the VM has %s of RAM below 4 GiB; the boot "
			    "structures need the first 1 MiB",
			    rv_format_size(l->low_end, a, sizeof(a)));

	/* bzImage: the header's limit; ELF/PVH: the buffer at 0x20000. */
	max = RV_CMDLINE_MAX - 1;
	if (info->format == RV_KERNEL_BZIMAGE && info->cmdline_size < max)
		max = info->cmdline_size;
	l->cmdline_len = p->cmdline ? strlen(p->cmdline) : 0;
	if (l->cmdline_len > max)
		return fail(l, -E2BIG,
			    "command line is %zu bytes; this kernel accepts at "
			    "most %u",
			    l->cmdline_len, max);
	return 0;
}

/* 0 when [start, end) is RAM below 4 GiB, else -ENOMEM with a message. */
static int check_kernel_range(struct loader *l, uint64_t start, uint64_t end)
{
	char a[32], b[32];

	if (end > start && end <= l->low_end &&
	    rv_mem_gpa_to_hva(l->mem, start, end - start))
		return 0;
	if (l->low_end == l->mem->ram_size)
		return fail(l, -ENOMEM,
			    "kernel needs %s from 0x%llx but the VM has %s of "
			    "RAM",
			    rv_format_size(end - start, a, sizeof(a)),
			    ull(start),
			    rv_format_size(l->mem->ram_size, b, sizeof(b)));
	return fail(l, -ENOMEM,
		    "kernel needs [0x%llx, 0x%llx) but the VM's RAM below "
		    "4 GiB ends at 0x%llx",
		    ull(start), ull(end), ull(l->low_end));
}

/*
 * A relocatable bzImage goes to pref_address when the VM's RAM holds all
 * it needs there, else to 1 MiB (the kernel still decompresses to its own
 * preferred address; rv__kernel_bz_end() knows where).
 */
static int place_bzimage(struct loader *l)
{
	const struct rv_kernel_info *info = l->info;
	uint64_t pref = info->pref_address;
	uint64_t pref_end = rv__kernel_bz_end(info, pref);
	uint64_t end;

	if (info->relocatable && pref_end && pref_end <= l->low_end &&
	    rv_mem_gpa_to_hva(l->mem, pref, pref_end - pref)) {
		l->kernel_load = pref;
		l->kernel_end = pref_end;
		return 0;
	}
	l->kernel_load = RV_BZIMAGE_LOAD;
	end = rv__kernel_bz_end(info, RV_BZIMAGE_LOAD);
	if (end == 0)
		return fail(l, -EINVAL,
			    "bzImage init_size 0x%x does not fit the address "
			    "space",
			    info->init_size);
	l->kernel_end = end;
	if (check_kernel_range(l, RV_BZIMAGE_LOAD, end) == 0)
		return 0;
	/* Neither fits: say what the preferred placement needs. */
	if (info->relocatable && pref_end)
		return check_kernel_range(l, pref, pref_end);
	return -ENOMEM;
}

static int place_elf(struct loader *l)
{
	const struct rv_kernel_info *info = l->info;
	unsigned int i;
	int rc;

	for (i = 0; i < info->nr_segments; i++) {
		const struct rv_kernel_segment *s = &info->segments[i];

		rc = check_kernel_range(l, s->paddr, s->paddr + s->mem_size);
		if (rc)
			return rc;
		if (s->paddr + s->mem_size > l->kernel_end)
			l->kernel_end = s->paddr + s->mem_size;
	}
	return 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * The initrd goes page-aligned as high as possible below the kernel's
 * initrd_addr_max (inclusive) and the end of low RAM, and above the kernel,
 * which keeps it clear of the decompressor's work area.
 */
static int place_initrd(struct loader *l)
{
	uint64_t max = UINT32_MAX, top, floor, room, len = l->p->initrd_len;
	char a[32], b[32];

	if (!l->p->initrd || len == 0)
		return 0;
	if (l->info->format == RV_KERNEL_BZIMAGE)
		max = l->info->initrd_addr_max;
	top = max + 1 < l->low_end ? max + 1 : l->low_end;
	floor = align_up(l->kernel_end, PAGE_SIZE);
	room = top > floor ? top - floor : 0;
	if (len > room)
		return fail(l, -ENOMEM,
			    "initrd is %s but only %s of RAM is free below "
			    "0x%llx",
			    rv_format_size(len, a, sizeof(a)),
			    rv_format_size(room, b, sizeof(b)), ull(top - 1));
	l->initrd_addr = (top - len) & ~(PAGE_SIZE - 1);
	return 0;
}

/* ---- writers ------------------------------------------------------------ */

static int write_mem(struct loader *l, uint64_t gpa, const void *src,
		     uint64_t len, const char *what)
{
	if (rv_mem_write(l->mem, gpa, src, len))
		return fail(l, -EFAULT,
			    "cannot write the %s at 0x%llx: outside guest RAM",
			    what, ull(gpa));
	return 0;
}

static int write_kernel(struct loader *l)
{
	const struct rv_kernel_info *info = l->info;
	unsigned int i;
	int rc;

	for (i = 0; i < info->nr_segments; i++) {
		const struct rv_kernel_segment *s = &info->segments[i];
		uint64_t at = s->paddr, bss;
		uint8_t *hva;

		if (info->format == RV_KERNEL_BZIMAGE) {
			/* Decompression zeroes its own memory. */
			rc = write_mem(l, l->kernel_load,
				       l->p->kernel + s->file_offset,
				       s->file_size, "kernel");
			if (rc)
				return rc;
			continue;
		}
		rc = write_mem(l, at, l->p->kernel + s->file_offset,
			       s->file_size, "kernel segment");
		if (rc)
			return rc;
		/* RAM may hold a previous boot's data: zero the BSS. */
		bss = s->mem_size - s->file_size;
		if (bss == 0)
			continue;
		hva = rv_mem_gpa_to_hva(l->mem, at + s->file_size, bss);
		if (!hva)
			return fail(l, -EFAULT,
				    "cannot clear the kernel BSS at 0x%llx: "
				    "outside guest RAM",
				    ull(at + s->file_size));
		memset(hva, 0, bss);
	}
	return 0;
}

static uint64_t gdt_entry(uint32_t base, uint32_t limit, uint8_t access,
			  uint8_t flags)
{
	return (uint64_t)(limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 |
	       (uint64_t)access << 40 | (uint64_t)((limit >> 16) & 0xf) << 48 |
	       (uint64_t)(flags & 0xf) << 52 | (uint64_t)(base >> 24) << 56;
}

/*
 * The GDT matches the segment state rv_boot_setup_sregs() loads. In long
 * mode a TSS descriptor would take 16 bytes; nothing loads TR from this
 * table (KVM takes it from sregs), so the 8-byte form serves both modes.
 */
static int write_gdt(struct loader *l, enum rv_entry_mode mode)
{
	uint8_t gdt[RV_BOOT_GDT_ENTRIES * 8];
	uint8_t idt[16] = { 0 };
	int rc;

	put64(gdt, 0);
	put64(gdt + RV_BOOT_TSS, gdt_entry(0, RV_BOOT_TSS_LIMIT, 0x8b, 0x0));
	/* Flat 4 GiB code: L=1 for 64-bit, D=1 for 32-bit; G=1. */
	put64(gdt + RV_BOOT_CS,
	      gdt_entry(0, 0xfffff, 0x9b,
			mode == RV_ENTRY_LINUX64 ? 0xa : 0xc));
	put64(gdt + RV_BOOT_DS, gdt_entry(0, 0xfffff, 0x93, 0xc));
	rc = write_mem(l, RV_GDT_ADDR, gdt, sizeof(gdt), "boot GDT");
	if (rc)
		return rc;
	return write_mem(l, RV_IDT_ADDR, idt, sizeof(idt), "boot IDT");
}

/* Identity map of the low 4 GiB in 2 MiB pages: PML4 -> PDPT -> 4 PDs. */
static int write_page_tables(struct loader *l)
{
	uint8_t *pml4, *pdpt, *pd;
	unsigned int i;

	pml4 = rv_mem_gpa_to_hva(l->mem, RV_PML4_ADDR, PAGE_SIZE);
	pdpt = rv_mem_gpa_to_hva(l->mem, RV_PDPT_ADDR, PAGE_SIZE);
	pd = rv_mem_gpa_to_hva(l->mem, RV_PD_ADDR, IDENTITY_PDS * PAGE_SIZE);
	if (!pml4 || !pdpt || !pd)
		return fail(l, -EFAULT,
			    "cannot write the page tables at 0x%llx: outside "
			    "guest RAM",
			    ull(RV_PML4_ADDR));
	memset(pml4, 0, PAGE_SIZE);
	memset(pdpt, 0, PAGE_SIZE);
	put64(pml4, RV_PDPT_ADDR | PTE_PRESENT | PTE_WRITE);
	for (i = 0; i < IDENTITY_PDS; i++)
		put64(pdpt + i * 8,
		      (RV_PD_ADDR + i * PAGE_SIZE) | PTE_PRESENT | PTE_WRITE);
	for (i = 0; i < IDENTITY_PDS * PD_ENTRIES; i++)
		put64(pd + i * 8,
		      (uint64_t)i * SIZE_2M | PTE_PRESENT | PTE_WRITE | PTE_PS);
	return 0;
}

static int write_cmdline(struct loader *l)
{
	const char *cmdline = l->p->cmdline ? l->p->cmdline : "";

	return write_mem(l, RV_CMDLINE_ADDR, cmdline, l->cmdline_len + 1,
			 "command line");
}

/*
 * The setup header is copied from the image (0x1f1 up to the end the jump
 * at 0x200 announces) so the kernel sees its own fields; then the fields a
 * boot loader owns are filled in.
 */
static void fill_bzimage_header(struct loader *l, uint8_t *bp)
{
	const uint8_t *img = l->p->kernel;
	size_t end = 0x268;

	if (img[BP_JUMP] == 0xeb)
		end = BP_MAGIC + img[BP_JUMP + 1];
	if (end < BP_CMDLINE_SIZE + 4)
		end = BP_CMDLINE_SIZE + 4;
	if (end > BP_HDR_MAX_END)
		end = BP_HDR_MAX_END;
	/* check_params() made sure the setup part covers BP_HDR_MAX_END. */
	memcpy(bp + BP_HDR, img + BP_HDR, end - BP_HDR);
	/*
	 * setup_data belongs to the loader, which passes none: a pointer left
	 * in the image must not reach the kernel.
	 */
	if (end >= BP_SETUP_DATA + 8)
		memset(bp + BP_SETUP_DATA, 0, 8);
	bp[BP_LOADFLAGS] =
		(uint8_t)((bp[BP_LOADFLAGS] | LOADFLAG_LOADED_HIGH) &
			  ~(LOADFLAG_KEEP_SEGMENTS | LOADFLAG_CAN_USE_HEAP));
	put32(bp + BP_CODE32_START, (uint32_t)l->kernel_load);
}

/* A vmlinux has no setup header; write the fields its entry code reads. */
static void fill_elf_header(uint8_t *bp)
{
	put16(bp + BP_BOOT_FLAG, 0xaa55);
	memcpy(bp + BP_MAGIC, "HdrS", 4);
	put16(bp + BP_VERSION, ELF_LINUX_BOOT_PROTOCOL);
	bp[BP_LOADFLAGS] = LOADFLAG_LOADED_HIGH;
	put32(bp + BP_CMDLINE_SIZE, (uint32_t)(RV_CMDLINE_MAX - 1));
}

static int write_boot_params(struct loader *l)
{
	uint8_t bp[BP_SIZE];
	unsigned int i, n;

	memset(bp, 0, sizeof(bp));
	if (l->info->format == RV_KERNEL_BZIMAGE)
		fill_bzimage_header(l, bp);
	else
		fill_elf_header(bp);
	bp[BP_TYPE_OF_LOADER] = LOADER_UNDEFINED;
	put32(bp + BP_CMD_LINE_PTR, (uint32_t)RV_CMDLINE_ADDR);
	put32(bp + BP_EXT_CMD_LINE_PTR, 0);
	put64(bp + BP_ACPI_RSDP_ADDR, l->rsdp_addr);
	if (l->initrd_addr) {
		uint64_t len = l->p->initrd_len;

		put32(bp + BP_RAMDISK_IMAGE, (uint32_t)l->initrd_addr);
		put32(bp + BP_RAMDISK_SIZE, (uint32_t)len);
		put32(bp + BP_EXT_RAMDISK_IMAGE,
		      (uint32_t)(l->initrd_addr >> 32));
		put32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)(len >> 32));
	}
	n = l->nr_e820 < BP_E820_MAX ? l->nr_e820 : BP_E820_MAX;
	bp[BP_E820_ENTRIES] = (uint8_t)n;
	for (i = 0; i < n; i++) {
		uint8_t *e = bp + BP_E820_TABLE + i * BP_E820_ENTRY_SIZE;

		put64(e, l->e820[i].addr);
		put64(e + 8, l->e820[i].size);
		put32(e + 16, l->e820[i].type);
	}
	return write_mem(l, RV_ZERO_PAGE_ADDR, bp, sizeof(bp), "boot_params");
}

static int write_start_info(struct loader *l)
{
	uint8_t info[PVH_INFO_SIZE] = { 0 };
	uint8_t map[PVH_MEMMAP_MAX * PVH_MEMMAP_ENTRY_SIZE];
	uint8_t mod[PVH_MODLIST_ENTRY_SIZE] = { 0 };
	unsigned int i, n;
	int rc;

	n = l->nr_e820 < PVH_MEMMAP_MAX ? l->nr_e820 : PVH_MEMMAP_MAX;
	memset(map, 0, sizeof(map));
	for (i = 0; i < n; i++) {
		uint8_t *e = map + i * PVH_MEMMAP_ENTRY_SIZE;

		/* XEN_HVM_MEMMAP_TYPE_RAM/RESERVED equal the e820 types. */
		put64(e, l->e820[i].addr);
		put64(e + 8, l->e820[i].size);
		put32(e + 16, l->e820[i].type);
	}
	put32(info, PVH_MAGIC);
	put32(info + 4, PVH_VERSION);
	put64(info + 24, RV_CMDLINE_ADDR);
	put64(info + PVH_RSDP_PADDR, l->rsdp_addr);
	put64(info + 40, RV_PVH_MEMMAP_ADDR);
	put32(info + 48, n);
	if (l->initrd_addr) {
		/* The initrd is module 0, as Linux's PVH entry expects. */
		put32(info + 12, 1);
		put64(info + 16, RV_PVH_MODLIST_ADDR);
		put64(mod, l->initrd_addr);
		put64(mod + 8, l->p->initrd_len);
	}
	rc = write_mem(l, RV_PVH_MEMMAP_ADDR, map,
		       (uint64_t)n * PVH_MEMMAP_ENTRY_SIZE, "PVH memory map");
	if (!rc)
		rc = write_mem(l, RV_PVH_MODLIST_ADDR, mod, sizeof(mod),
			       "PVH module list");
	if (!rc)
		rc = write_mem(l, RV_PVH_INFO_ADDR, info, sizeof(info),
			       "PVH start_info");
	return rc;
}

static int write_mptable(struct loader *l)
{
	uint64_t addr = RV_EBDA_ADDR;
	int rc;

	if (l->p->nr_cpus > RV_MPTABLE_EBDA_MAX_CPUS)
		addr = RV_MPTABLE_BIOS_ADDR;
	rc = rv_mptable_write(l->mem, addr, l->p->nr_cpus);
	if (rc)
		return fail(l, rc, "cannot write the MP table at 0x%llx: %s",
			    ull(addr), strerror(-rc));
	return 0;
}

/*
 * The ACPI tables go in before boot_params or start_info, which carry the
 * RSDP's address. The MP table stays for guests without ACPI.
 */
static int write_acpi(struct loader *l)
{
	const struct rv_acpi_config cfg = {
		.nr_cpus = l->p->nr_cpus,
		.pci_mmio64_base = l->p->pci_mmio64_base,
		.pci_mmio64_size = l->p->pci_mmio64_size,
	};
	int rc;

	rc = rv_acpi_write(l->mem, &cfg, &l->rsdp_addr);
	if (rc)
		return fail(l, rc, "cannot write the ACPI tables at 0x%llx: %s",
			    ull(RV_ACPI_BASE), strerror(-rc));
	return 0;
}

int rv_boot_load(struct rv_mem *mem, const struct rv_kernel_info *info,
		 const struct rv_boot_params *params,
		 struct rv_boot_entry *entry, char *err, size_t errlen)
{
	struct loader l = {
		.mem = mem,
		.info = info,
		.p = params,
		.err = err,
		.errlen = errlen,
		.low_end = rv_mem_low_end(mem),
	};
	enum rv_entry_mode mode;
	int rc;

	memset(entry, 0, sizeof(*entry));
	if (err && errlen)
		err[0] = '\0';
	rc = check_params(&l);
	if (rc)
		return rc;
	mode = info->format == RV_KERNEL_ELF_PVH ? RV_ENTRY_PVH32 :
						   RV_ENTRY_LINUX64;
	rc = info->format == RV_KERNEL_BZIMAGE ? place_bzimage(&l) :
						 place_elf(&l);
	if (rc)
		return rc;
	rc = place_initrd(&l);
	if (rc)
		return rc;
	l.nr_e820 = rv_e820_build(mem, l.e820, E820_MAX_ENTRIES);

	rc = write_kernel(&l);
	if (!rc && l.initrd_addr)
		rc = write_mem(&l, l.initrd_addr, params->initrd,
			       params->initrd_len, "initrd");
	if (!rc)
		rc = write_cmdline(&l);
	if (!rc)
		rc = write_gdt(&l, mode);
	if (!rc)
		rc = write_page_tables(&l);
	if (!rc)
		rc = write_acpi(&l);
	if (!rc)
		rc = mode == RV_ENTRY_PVH32 ? write_start_info(&l) :
					      write_boot_params(&l);
	if (!rc)
		rc = write_mptable(&l);
	if (rc)
		return rc;

	entry->mode = mode;
	if (info->format == RV_KERNEL_BZIMAGE)
		entry->rip =
			l.kernel_load + (info->entry - info->segments[0].paddr);
	else
		entry->rip = info->entry;
	entry->boot_info = mode == RV_ENTRY_PVH32 ? RV_PVH_INFO_ADDR :
						    RV_ZERO_PAGE_ADDR;
	entry->stack = 0;
	return 0;
}
