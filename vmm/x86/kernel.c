// SPDX-License-Identifier: Apache-2.0
/*
 * Kernel image probing: Linux bzImage (boot protocol 2.06+, 64-bit entry)
 * and ELF64 x86-64 executables, with or without a PVH entry note.
 *
 * The image comes from the user and is hostile: every offset, size and count
 * read from it is checked against the file length and for overflow before it
 * is used, and each rejection is one sentence in err. Probing is pure: it
 * reads the bytes and fills struct rv_kernel_info, nothing else.
 *
 * Format choice for ELF images: when an ELF carries the PVH entry note
 * (XEN_ELFNOTE_PHYS32_ENTRY) it is booted through PVH, even if it is a Linux
 * vmlinux whose e_entry is also a valid 64-bit entry. PVH is a specified,
 * stable boot ABI (hvm_start_info with memory map, modules and command
 * line), whereas jumping to a vmlinux's startup_64 reuses the hand-off from
 * the kernel's own decompressor, which only the bzImage path guarantees.
 * Test guests are PVH ELFs too, so one entry path covers both.
 */
#include "raevm/boot.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "raevm/layout.h"

/* Setup header fields, as byte offsets into the image (boot protocol). */
#define HDR_SETUP_SECTS 0x1f1
#define HDR_SYSSIZE 0x1f4
#define HDR_BOOT_FLAG 0x1fe
#define HDR_MAGIC 0x202
#define HDR_VERSION 0x206
#define HDR_LOADFLAGS 0x211
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE 0x234
#define HDR_XLOADFLAGS 0x236
#define HDR_CMDLINE_SIZE 0x238
#define HDR_PREF_ADDRESS 0x258
#define HDR_INIT_SIZE 0x260

#define LOADFLAG_LOADED_HIGH 0x01
#define XLF_KERNEL_64 0x0001
#define BZ_SECTOR 512
#define BZ_64BIT_ENTRY_OFFSET 0x200

/* ELF64 constants and layout (System V gABI, x86-64 psABI). */
#define EHDR_SIZE 64
#define PHDR_SIZE 56
#define SHDR_SIZE 64
#define ELFCLASS32 1
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define ET_EXEC 2
#define ET_DYN 3
#define EM_X86_64 62
#define PN_XNUM 0xffff
#define PT_LOAD 1
#define PT_NOTE 4
#define SHT_NOTE 7
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* x86-64 physical addresses are at most 52 bits wide. */
#define MAX_PHYS_ADDR (1ULL << 52)

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -ENOEXEC;
}

/* True when [off, off + size) lies inside a buffer of len bytes. */
static bool in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static unsigned long long ull(uint64_t v)
{
	return (unsigned long long)v;
}

const char *rv_kernel_format_name(enum rv_kernel_format format)
{
	switch (format) {
	case RV_KERNEL_BZIMAGE:
		return "bzImage";
	case RV_KERNEL_ELF_LINUX:
		return "ELF (64-bit Linux entry)";
	case RV_KERNEL_ELF_PVH:
		return "ELF (PVH entry)";
	}
	return "unknown";
}

/* ---- bzImage ------------------------------------------------------------ */

/*
 * Memory a bzImage needs when its protected-mode part is loaded at load:
 * the part itself, plus init_size bytes from the address the kernel
 * decompresses to. A relocatable x86-64 kernel decompresses at load rounded
 * up to kernel_alignment but never below its built-in start (pref_address);
 * a non-relocatable one always at pref_address. Returns the exclusive end,
 * or 0 on overflow.
 */
uint64_t rv__kernel_bz_end(const struct rv_kernel_info *info, uint64_t load)
{
	uint64_t pm_end, run, run_end;

	if (load > MAX_PHYS_ADDR || info->pref_address > MAX_PHYS_ADDR)
		return 0;
	pm_end = load + info->segments[0].file_size;
	run = info->pref_address;
	if (info->relocatable) {
		uint64_t a = info->kernel_alignment;

		run = (load + a - 1) & ~(a - 1);
		if (run < info->pref_address)
			run = info->pref_address;
	}
	run_end = run + info->init_size;
	if (pm_end > MAX_PHYS_ADDR || run_end > MAX_PHYS_ADDR)
		return 0;
	return pm_end > run_end ? pm_end : run_end;
}

/*
 * Where the protected-mode part goes before the loader has seen the VM's
 * RAM: pref_address for relocatable kernels, 1 MiB otherwise. rv_boot_load()
 * may fall back to 1 MiB; the segment here records the preference.
 */
static int bz_placement(struct rv_kernel_info *info, uint64_t pm_len, char *err,
			size_t errlen)
{
	uint64_t load, end;

	load = info->relocatable ? info->pref_address : RV_BZIMAGE_LOAD;
	info->segments[0] = (struct rv_kernel_segment){
		.file_offset = info->setup_size,
		.file_size = pm_len,
		.paddr = load,
	};
	info->nr_segments = 1;
	end = rv__kernel_bz_end(info, load);
	if (end == 0)
		return fail(err, errlen,
			    "bzImage pref_address 0x%llx plus init_size 0x%x "
			    "lies beyond the physical address space",
			    ull(info->pref_address), info->init_size);
	info->segments[0].mem_size = end - load;
	info->entry = load + BZ_64BIT_ENTRY_OFFSET;
	info->image_end = end;
	return 0;
}

static int probe_bzimage(const uint8_t *img, size_t len,
			 struct rv_kernel_info *info, char *err, size_t errlen)
{
	uint16_t version;
	uint32_t setup_sects, syssize;
	uint64_t pm_len;

	if (le16(img + HDR_BOOT_FLAG) != 0xaa55)
		return fail(err, errlen,
			    "bzImage boot sector lacks the 0xAA55 signature "
			    "at offset 0x1fe");
	/*
	 * A setup_sects of 0 means 4, for compatibility with old images. The
	 * setup part is at least 2.5 KiB, so once the file is longer than it
	 * every header field read below lies inside the file.
	 */
	setup_sects = img[HDR_SETUP_SECTS];
	if (setup_sects == 0)
		setup_sects = 4;
	info->setup_size = (setup_sects + 1) * BZ_SECTOR;
	if (len <= info->setup_size)
		return fail(err, errlen,
			    "bzImage is truncated: %zu bytes, but its setup "
			    "part alone is %u bytes",
			    len, info->setup_size);
	version = le16(img + HDR_VERSION);
	if (version < 0x0206)
		return fail(err, errlen,
			    "bzImage boot protocol %u.%02u is older than 2.06, "
			    "the oldest raevm supports",
			    version >> 8, version & 0xff);
	info->format = RV_KERNEL_BZIMAGE;
	info->boot_protocol = version;
	pm_len = len - info->setup_size;
	syssize = le32(img + HDR_SYSSIZE);
	if ((uint64_t)syssize * 16 > pm_len)
		return fail(err, errlen,
			    "bzImage is truncated: syssize promises %llu bytes "
			    "of protected-mode code but only %llu follow the "
			    "setup part",
			    ull((uint64_t)syssize * 16), ull(pm_len));
	if (pm_len <= BZ_64BIT_ENTRY_OFFSET)
		return fail(err, errlen,
			    "bzImage protected-mode part is %llu bytes, too "
			    "short to hold the 64-bit entry at offset 0x200",
			    ull(pm_len));
	if (!(img[HDR_LOADFLAGS] & LOADFLAG_LOADED_HIGH))
		return fail(err, errlen,
			    "image is a zImage (LOADED_HIGH is clear in "
			    "loadflags); raevm boots bzImages only");

	info->initrd_addr_max = le32(img + HDR_INITRD_ADDR_MAX);
	info->kernel_alignment = le32(img + HDR_KERNEL_ALIGNMENT);
	info->relocatable = img[HDR_RELOCATABLE] != 0;
	info->cmdline_size = le32(img + HDR_CMDLINE_SIZE);
	/* xloadflags exists from 2.12; older images cannot declare 64-bit. */
	if (version >= 0x020c)
		info->xlf_kernel_64 =
			(le16(img + HDR_XLOADFLAGS) & XLF_KERNEL_64) != 0;
	if (version >= 0x020a) {
		info->pref_address = le64(img + HDR_PREF_ADDRESS);
		info->init_size = le32(img + HDR_INIT_SIZE);
	} else {
		info->pref_address = RV_BZIMAGE_LOAD;
	}
	if (!info->xlf_kernel_64) {
		if (version < 0x020c)
			return fail(err, errlen,
				    "bzImage boot protocol %u.%02u predates "
				    "xloadflags (2.12), so it has no 64-bit "
				    "entry point; raevm boots 64-bit kernels "
				    "only",
				    version >> 8, version & 0xff);
		return fail(err, errlen,
			    "bzImage has no 64-bit entry point (XLF_KERNEL_64 "
			    "is clear in xloadflags); raevm boots 64-bit "
			    "kernels only");
	}
	if (info->relocatable && !is_pow2(info->kernel_alignment))
		return fail(err, errlen,
			    "bzImage kernel_alignment 0x%x is not a power of "
			    "two",
			    info->kernel_alignment);
	if (info->pref_address < RV_HIGH_MEM_START)
		return fail(err, errlen,
			    "bzImage pref_address 0x%llx lies below 1 MiB, "
			    "where raevm keeps its boot structures",
			    ull(info->pref_address));
	return bz_placement(info, pm_len, err, errlen);
}

/* ---- ELF ---------------------------------------------------------------- */

struct elf {
	const uint8_t *img;
	size_t len;
	uint64_t entry;
	uint64_t phoff;
	uint16_t phnum;
	uint64_t shoff;
	uint16_t shnum;
	uint16_t shentsize;
};

static int elf_header(struct elf *e, char *err, size_t errlen)
{
	const uint8_t *h = e->img;
	uint16_t type, machine, phentsize;

	if (e->len < EHDR_SIZE)
		return fail(err, errlen,
			    "truncated ELF header: the file is %zu bytes, the "
			    "header needs 64",
			    e->len);
	if (h[4] == ELFCLASS32)
		return fail(err, errlen,
			    "32-bit ELF kernels are not supported; raevm "
			    "loads ELF64 x86-64 executables");
	if (h[4] != ELFCLASS64)
		return fail(err, errlen, "invalid ELF class %u", h[4]);
	if (h[5] != ELFDATA2LSB)
		return fail(err, errlen,
			    "ELF is not little-endian (EI_DATA %u)", h[5]);
	type = le16(h + 16);
	machine = le16(h + 18);
	if (machine != EM_X86_64)
		return fail(err, errlen, "ELF machine %u is not x86-64 (62)",
			    machine);
	if (type == ET_DYN)
		return fail(err, errlen,
			    "ELF is position-independent (ET_DYN); raevm "
			    "loads fixed-address executables (ET_EXEC)");
	if (type != ET_EXEC)
		return fail(err, errlen,
			    "ELF type %u is not an executable (ET_EXEC)", type);
	e->entry = le64(h + 24);
	e->phoff = le64(h + 32);
	e->shoff = le64(h + 40);
	phentsize = le16(h + 54);
	e->phnum = le16(h + 56);
	e->shentsize = le16(h + 58);
	e->shnum = le16(h + 60);
	if (e->phnum == 0)
		return fail(err, errlen, "ELF has no program headers");
	if (e->phnum == PN_XNUM)
		return fail(err, errlen,
			    "ELF uses extended program header numbering "
			    "(PN_XNUM), which raevm does not support");
	if (phentsize != PHDR_SIZE)
		return fail(err, errlen, "ELF program header size %u is not 56",
			    phentsize);
	if (e->phoff % 8)
		return fail(err, errlen,
			    "ELF program header table offset 0x%llx is not "
			    "8-byte aligned",
			    ull(e->phoff));
	if (!in_file(e->phoff, (uint64_t)e->phnum * PHDR_SIZE, e->len))
		return fail(err, errlen,
			    "truncated ELF program header table: %u entries at "
			    "offset 0x%llx run past the end of the %zu-byte "
			    "file",
			    e->phnum, ull(e->phoff), e->len);
	return 0;
}

struct phdr {
	uint32_t type;
	uint64_t offset;
	uint64_t paddr;
	uint64_t filesz;
	uint64_t memsz;
	uint64_t align;
};

static struct phdr elf_phdr(const struct elf *e, unsigned int i)
{
	const uint8_t *p = e->img + e->phoff + (uint64_t)i * PHDR_SIZE;

	return (struct phdr){
		.type = le32(p),
		.offset = le64(p + 8),
		.paddr = le64(p + 24),
		.filesz = le64(p + 32),
		.memsz = le64(p + 40),
		.align = le64(p + 48),
	};
}

static int check_load(const struct elf *e, unsigned int i,
		      const struct phdr *ph, char *err, size_t errlen)
{
	if (ph->filesz > ph->memsz)
		return fail(err, errlen,
			    "ELF program header %u: p_filesz 0x%llx is larger "
			    "than p_memsz 0x%llx",
			    i, ull(ph->filesz), ull(ph->memsz));
	if (!in_file(ph->offset, ph->filesz, e->len))
		return fail(err, errlen,
			    "ELF program header %u: 0x%llx bytes at offset "
			    "0x%llx run past the end of the %zu-byte file",
			    i, ull(ph->filesz), ull(ph->offset), e->len);
	if (ph->align > 1 && !is_pow2(ph->align))
		return fail(err, errlen,
			    "ELF program header %u: p_align 0x%llx is not a "
			    "power of two",
			    i, ull(ph->align));
	if (ph->paddr > MAX_PHYS_ADDR || ph->memsz > MAX_PHYS_ADDR - ph->paddr)
		return fail(
			err, errlen,
			"ELF program header %u: segment at 0x%llx of 0x%llx "
			"bytes lies beyond the 52-bit physical address "
			"space",
			i, ull(ph->paddr), ull(ph->memsz));
	if (ph->paddr < RV_HIGH_MEM_START)
		return fail(err, errlen,
			    "ELF program header %u: segment at 0x%llx lies "
			    "below 1 MiB, where raevm keeps its boot "
			    "structures",
			    i, ull(ph->paddr));
	return 0;
}

static int collect_loads(const struct elf *e, struct rv_kernel_info *info,
			 char *err, size_t errlen)
{
	unsigned int i, j, n = 0;

	for (i = 0; i < e->phnum; i++) {
		struct phdr ph = elf_phdr(e, i);
		int rc;

		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		rc = check_load(e, i, &ph, err, errlen);
		if (rc)
			return rc;
		if (n == RV_KERNEL_MAX_SEGMENTS)
			return fail(err, errlen,
				    "ELF has more than %u PT_LOAD segments",
				    RV_KERNEL_MAX_SEGMENTS);
		info->segments[n++] = (struct rv_kernel_segment){
			.file_offset = ph.offset,
			.file_size = ph.filesz,
			.paddr = ph.paddr,
			.mem_size = ph.memsz,
		};
	}
	if (n == 0)
		return fail(err, errlen, "ELF has no PT_LOAD segment");
	/* Overlapping segments would make load order matter; refuse them. */
	for (i = 0; i < n; i++) {
		const struct rv_kernel_segment *a = &info->segments[i];

		for (j = i + 1; j < n; j++) {
			const struct rv_kernel_segment *b = &info->segments[j];

			if (a->paddr < b->paddr + b->mem_size &&
			    b->paddr < a->paddr + a->mem_size)
				return fail(
					err, errlen,
					"ELF PT_LOAD segments at 0x%llx and "
					"0x%llx overlap",
					ull(a->paddr), ull(b->paddr));
		}
		if (a->paddr + a->mem_size > info->image_end)
			info->image_end = a->paddr + a->mem_size;
	}
	info->nr_segments = n;
	return 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/*
 * Walks the notes in [off, off + size) of the file (already bounds-checked)
 * looking for Xen's PHYS32_ENTRY. Returns 1 and sets *entry when found,
 * 0 when absent, -ENOEXEC for a malformed note.
 */
static int find_pvh_note(const struct elf *e, uint64_t off, uint64_t size,
			 uint64_t align, uint64_t *entry, char *err,
			 size_t errlen)
{
	uint64_t pos = 0;

	/* Linux and most linkers pad notes to 4 bytes; honour 8 if asked. */
	align = align == 8 ? 8 : 4;
	while (size - pos >= 12) {
		const uint8_t *n = e->img + off + pos;
		uint64_t namesz = le32(n), descsz = le32(n + 4);
		uint32_t type = le32(n + 8);
		uint64_t name_end, desc_off, desc_end;

		/* 32-bit sizes cannot overflow these 64-bit sums. */
		name_end = pos + 12 + namesz;
		desc_off = align_up(name_end, align);
		desc_end = desc_off + descsz;
		if (desc_end > size)
			return fail(err, errlen,
				    "ELF note at file offset 0x%llx runs past "
				    "the end of its note segment",
				    ull(off + pos));
		if (namesz == 4 && !memcmp(n + 12, "Xen", 4) &&
		    type == XEN_ELFNOTE_PHYS32_ENTRY) {
			const uint8_t *d = e->img + off + desc_off;

			if (descsz != 4 && descsz != 8)
				return fail(err, errlen,
					    "PVH entry note (Xen type 18) has "
					    "a %llu-byte value; expected 4 or "
					    "8 bytes",
					    ull(descsz));
			*entry = descsz == 4 ? le32(d) : le64(d);
			return 1;
		}
		pos = align_up(desc_end, align);
		if (pos >= size)
			break;
	}
	return 0;
}

/*
 * PT_NOTE segments are searched first; only an ELF without any falls back
 * to SHT_NOTE sections (some linker scripts drop the PT_NOTE header).
 */
static int elf_pvh_entry(const struct elf *e, uint64_t *entry, char *err,
			 size_t errlen)
{
	bool have_pt_note = false;
	unsigned int i;
	int rc;

	for (i = 0; i < e->phnum; i++) {
		struct phdr ph = elf_phdr(e, i);

		if (ph.type != PT_NOTE)
			continue;
		have_pt_note = true;
		if (!in_file(ph.offset, ph.filesz, e->len))
			return fail(
				err, errlen,
				"ELF PT_NOTE program header %u: 0x%llx "
				"bytes at offset 0x%llx run past the end of "
				"the %zu-byte file",
				i, ull(ph.filesz), ull(ph.offset), e->len);
		rc = find_pvh_note(e, ph.offset, ph.filesz, ph.align, entry,
				   err, errlen);
		if (rc)
			return rc;
	}
	if (have_pt_note || e->shoff == 0 || e->shnum == 0)
		return 0;
	if (e->shentsize != SHDR_SIZE)
		return fail(err, errlen, "ELF section header size %u is not 64",
			    e->shentsize);
	if (!in_file(e->shoff, (uint64_t)e->shnum * SHDR_SIZE, e->len))
		return fail(err, errlen,
			    "truncated ELF section header table: %u entries at "
			    "offset 0x%llx run past the end of the %zu-byte "
			    "file",
			    e->shnum, ull(e->shoff), e->len);
	for (i = 0; i < e->shnum; i++) {
		const uint8_t *s = e->img + e->shoff + (uint64_t)i * SHDR_SIZE;
		uint64_t off = le64(s + 24), size = le64(s + 32);

		if (le32(s + 4) != SHT_NOTE)
			continue;
		if (!in_file(off, size, e->len))
			return fail(err, errlen,
				    "ELF note section %u: 0x%llx bytes at "
				    "offset 0x%llx run past the end of the "
				    "%zu-byte file",
				    i, ull(size), ull(off), e->len);
		rc = find_pvh_note(e, off, size, le64(s + 48), entry, err,
				   errlen);
		if (rc)
			return rc;
	}
	return 0;
}

static bool in_segment(const struct rv_kernel_info *info, uint64_t addr)
{
	unsigned int i;

	for (i = 0; i < info->nr_segments; i++) {
		const struct rv_kernel_segment *s = &info->segments[i];

		if (addr >= s->paddr && addr - s->paddr < s->mem_size)
			return true;
	}
	return false;
}

static int probe_elf(const uint8_t *img, size_t len,
		     struct rv_kernel_info *info, char *err, size_t errlen)
{
	struct elf e = { .img = img, .len = len };
	uint64_t pvh_entry = 0;
	int rc;

	rc = elf_header(&e, err, errlen);
	if (rc)
		return rc;
	rc = collect_loads(&e, info, err, errlen);
	if (rc)
		return rc;
	rc = elf_pvh_entry(&e, &pvh_entry, err, errlen);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		if (pvh_entry >= RV_4G)
			return fail(err, errlen,
				    "PVH entry point 0x%llx lies above 4 GiB, "
				    "out of reach of 32-bit mode",
				    ull(pvh_entry));
		if (!in_segment(info, pvh_entry))
			return fail(err, errlen,
				    "PVH entry point 0x%llx lies outside every "
				    "PT_LOAD segment",
				    ull(pvh_entry));
		info->format = RV_KERNEL_ELF_PVH;
		info->entry = pvh_entry;
		return 0;
	}
	if (!in_segment(info, e.entry))
		return fail(err, errlen,
			    "ELF entry point 0x%llx lies outside every PT_LOAD "
			    "segment (raevm loads by physical address)",
			    ull(e.entry));
	info->format = RV_KERNEL_ELF_LINUX;
	info->entry = e.entry;
	return 0;
}

int rv_kernel_probe(const uint8_t *image, size_t len,
		    struct rv_kernel_info *info, char *err, size_t errlen)
{
	memset(info, 0, sizeof(*info));
	if (err && errlen)
		err[0] = '\0';
	if (!image || len == 0)
		return fail(err, errlen, "kernel image is empty");
	if (len >= 4 && !memcmp(image, "\177ELF", 4))
		return probe_elf(image, len, info, err, errlen);
	if (len >= HDR_MAGIC + 4 && !memcmp(image + HDR_MAGIC, "HdrS", 4))
		return probe_bzimage(image, len, info, err, errlen);
	if (len < HDR_MAGIC + 4)
		return fail(err, errlen,
			    "kernel image is only %zu bytes, too small to be a "
			    "bzImage or an ELF kernel",
			    len);
	return fail(err, errlen,
		    "not a kernel image: no ELF magic and no bzImage \"HdrS\" "
		    "setup header at offset 0x202");
}
