// SPDX-License-Identifier: Apache-2.0
/*
 * rv_kernel_probe() over Debian's cloud kernel (tests/fixtures/
 * fetch-kernel.sh; the tests are skipped, not passed, when the fixture is
 * missing), over corrupted copies of it, and over small synthetic ELF/PVH
 * images built here.
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

#include "raevm/boot.h"
#include "raevm/util.h"

struct fixture {
	uint8_t *data;
	size_t len;
};

/* Both images are read once and shared; tests corrupt private copies. */
static struct fixture vmlinuz, vmlinux;

static void load_fixture(const char *name, struct fixture *f)
{
	const char *dir = getenv("RV_FIXTURES");
	char path[4096];

	if (!dir || !*dir)
		dir = "build/fixtures";
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (rv_read_file(path, 512 * RV_MiB, &f->data, &f->len) != 0) {
		f->data = NULL;
		f->len = 0;
	}
}

static int setup_fixtures(void **state)
{
	(void)state;
	load_fixture("vmlinuz", &vmlinuz);
	load_fixture("vmlinux", &vmlinux);
	return 0;
}

static int teardown_fixtures(void **state)
{
	(void)state;
	free(vmlinuz.data);
	free(vmlinux.data);
	return 0;
}

/* A private copy of a fixture, or skip() when it is not there. */
static uint8_t *copy_of(const struct fixture *f)
{
	uint8_t *p;

	if (!f->data) {
		fprintf(stderr, "fixture missing: run make fixtures\n");
		skip();
	}
	p = malloc(f->len);
	assert_non_null(p);
	memcpy(p, f->data, f->len);
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

static int probe(const uint8_t *img, size_t len, struct rv_kernel_info *info,
		 char *err)
{
	return rv_kernel_probe(img, len, info, err, 256);
}

/* ---- Debian's bzImage ---------------------------------------------------- */

static void kernel_probe__debian_bzimage(void **state)
{
	uint8_t *img = copy_of(&vmlinuz);
	struct rv_kernel_info info;
	char err[256];

	(void)state;
	assert_int_equal(probe(img, vmlinuz.len, &info, err), 0);
	assert_string_equal(err, "");
	assert_int_equal(info.format, RV_KERNEL_BZIMAGE);
	/* Facts of Debian 12's 6.1 cloud kernel (see the report/docs). */
	assert_int_equal(info.boot_protocol, 0x020f);
	assert_true(info.relocatable);
	assert_true(info.xlf_kernel_64);
	assert_int_equal(info.pref_address, 0x1000000);
	assert_int_equal(info.kernel_alignment, 0x200000);
	assert_int_equal(info.cmdline_size, 2047);
	assert_int_equal(info.initrd_addr_max, 0x7fffffff);
	assert_int_equal(info.entry, 0x1000200);
	/* Build-dependent fields, checked against the raw header bytes. */
	assert_int_equal(info.setup_size, (img[0x1f1] + 1) * 512);
	assert_int_equal(info.init_size, rd32(img + 0x260));
	assert_true(info.init_size > vmlinuz.len - info.setup_size);
	assert_int_equal(info.nr_segments, 1);
	assert_int_equal(info.segments[0].file_offset, info.setup_size);
	assert_int_equal(info.segments[0].file_size,
			 vmlinuz.len - info.setup_size);
	assert_int_equal(info.segments[0].paddr, 0x1000000);
	assert_int_equal(info.image_end, 0x1000000ULL + info.init_size);
	free(img);
}

static void expect_bz_error(uint8_t *img, size_t len, const char *msg)
{
	struct rv_kernel_info info;
	char err[256];

	assert_int_equal(probe(img, len, &info, err), -ENOEXEC);
	assert_string_equal(err, msg);
}

static void kernel_probe__bzimage_truncated(void **state)
{
	uint8_t *img = copy_of(&vmlinuz);
	uint32_t setup = (img[0x1f1] + 1) * 512;
	char msg[256];

	(void)state;
	expect_bz_error(img, 100,
			"kernel image is only 100 bytes, too small to be a "
			"bzImage or an ELF kernel");
	snprintf(msg, sizeof(msg),
		 "bzImage is truncated: 768 bytes, but its setup part alone "
		 "is %u bytes",
		 setup);
	expect_bz_error(img, 0x300, msg);
	snprintf(msg, sizeof(msg),
		 "bzImage is truncated: %u bytes, but its setup part alone "
		 "is %u bytes",
		 setup, setup);
	expect_bz_error(img, setup, msg);
	snprintf(msg, sizeof(msg),
		 "bzImage is truncated: syssize promises %llu bytes of "
		 "protected-mode code but only 4096 follow the setup part",
		 (unsigned long long)rd32(img + 0x1f4) * 16);
	expect_bz_error(img, setup + 4096, msg);
	/* With syssize zeroed, too short for the entry at +0x200. */
	wr32(img + 0x1f4, 0);
	expect_bz_error(img, setup + 0x100,
			"bzImage protected-mode part is 256 bytes, too short "
			"to hold the 64-bit entry at offset 0x200");
	free(img);
}

static void kernel_probe__bzimage_bad_magic(void **state)
{
	uint8_t *img = copy_of(&vmlinuz);

	(void)state;
	img[0x205] = 'X';
	expect_bz_error(img, vmlinuz.len,
			"not a kernel image: no ELF magic and no bzImage "
			"\"HdrS\" setup header at offset 0x202");
	img[0x205] = 'S';
	img[0x1fe] = 0;
	expect_bz_error(img, vmlinuz.len,
			"bzImage boot sector lacks the 0xAA55 signature at "
			"offset 0x1fe");
	free(img);
}

static void kernel_probe__bzimage_protocol_too_old(void **state)
{
	uint8_t *img = copy_of(&vmlinuz);

	(void)state;
	wr16(img + 0x206, 0x0205);
	expect_bz_error(img, vmlinuz.len,
			"bzImage boot protocol 2.05 is older than 2.06, the "
			"oldest raevm supports");
	wr16(img + 0x206, 0x020b);
	expect_bz_error(img, vmlinuz.len,
			"bzImage boot protocol 2.11 predates xloadflags "
			"(2.12), so it has no 64-bit entry point; raevm boots "
			"64-bit kernels only");
	free(img);
}

static void kernel_probe__bzimage_no_kernel_64(void **state)
{
	uint8_t *img = copy_of(&vmlinuz);

	(void)state;
	wr16(img + 0x236, rd16(img + 0x236) & ~1u);
	expect_bz_error(
		img, vmlinuz.len,
		"bzImage has no 64-bit entry point (XLF_KERNEL_64 is "
		"clear in xloadflags); raevm boots 64-bit kernels only");
	free(img);
}

static void kernel_probe__bzimage_hostile_fields(void **state)
{
	uint8_t *img = copy_of(&vmlinuz);
	uint8_t saved[0x70];

	(void)state;
	memcpy(saved, img + 0x1f0, sizeof(saved));
	img[0x211] &= (uint8_t)~1u;
	expect_bz_error(img, vmlinuz.len,
			"image is a zImage (LOADED_HIGH is clear in "
			"loadflags); raevm boots bzImages only");
	memcpy(img + 0x1f0, saved, sizeof(saved));
	wr32(img + 0x230, 0x3);
	expect_bz_error(img, vmlinuz.len,
			"bzImage kernel_alignment 0x3 is not a power of two");
	memcpy(img + 0x1f0, saved, sizeof(saved));
	wr64(img + 0x258, 0x1000);
	expect_bz_error(img, vmlinuz.len,
			"bzImage pref_address 0x1000 lies below 1 MiB, where "
			"raevm keeps its boot structures");
	memcpy(img + 0x1f0, saved, sizeof(saved));
	wr64(img + 0x258, 0xfffffffffffff000ULL);
	wr32(img + 0x260, 0x2000);
	expect_bz_error(img, vmlinuz.len,
			"bzImage pref_address 0xfffffffffffff000 plus "
			"init_size 0x2000 lies beyond the physical address "
			"space");
	free(img);
}

static void kernel_probe__bzimage_setup_sects_zero(void **state)
{
	uint8_t *img = copy_of(&vmlinuz);
	struct rv_kernel_info info;
	char err[256];

	(void)state;
	img[0x1f1] = 0;
	assert_int_equal(probe(img, vmlinuz.len, &info, err), 0);
	assert_int_equal(info.setup_size, 5 * 512);
	assert_int_equal(info.segments[0].file_offset, 5 * 512);
	assert_int_equal(info.segments[0].file_size, vmlinuz.len - 5 * 512);
	free(img);
}

/* ---- Debian's vmlinux ----------------------------------------------------- */

/* File offset of the Xen PHYS32_ENTRY note header, or 0. */
static size_t find_pvh_note(const uint8_t *img, size_t len)
{
	static const uint8_t pat[] = { 4, 0, 0, 0 };
	size_t i;

	for (i = 0x40; i + 20 <= len; i += 4)
		if (!memcmp(img + i, pat, 4) && rd32(img + i + 8) == 18 &&
		    !memcmp(img + i + 12, "Xen", 4))
			return i;
	return 0;
}

static void kernel_probe__debian_vmlinux_is_pvh(void **state)
{
	uint8_t *img = copy_of(&vmlinux);
	struct rv_kernel_info info;
	char err[256];
	unsigned int i;
	size_t note;

	(void)state;
	note = find_pvh_note(img, vmlinux.len);
	assert_true(note != 0);
	assert_int_equal(probe(img, vmlinux.len, &info, err), 0);
	assert_int_equal(info.format, RV_KERNEL_ELF_PVH);
	/* The note's value (8 bytes in Debian's build) is the entry. */
	assert_int_equal(rd32(img + note + 4), 8);
	assert_int_equal(info.entry, rd64(img + note + 16));
	assert_int_equal(info.nr_segments, 4);
	assert_int_equal(info.segments[0].paddr, 0x1000000);
	assert_true(info.entry > 0x1000000 &&
		    info.entry < 0x1000000 + info.segments[0].mem_size);
	for (i = 0; i < info.nr_segments; i++) {
		const struct rv_kernel_segment *s = &info.segments[i];

		assert_true(s->paddr >= 0x1000000);
		assert_true(s->file_offset + s->file_size <= vmlinux.len);
		assert_true(s->paddr + s->mem_size <= info.image_end);
	}
	free(img);
}

static void kernel_probe__debian_vmlinux_without_pvh_note(void **state)
{
	uint8_t *img = copy_of(&vmlinux);
	struct rv_kernel_info info;
	char err[256];
	size_t note = find_pvh_note(img, vmlinux.len);

	(void)state;
	assert_true(note != 0);
	wr32(img + note + 8, 0x99);
	assert_int_equal(probe(img, vmlinux.len, &info, err), 0);
	assert_int_equal(info.format, RV_KERNEL_ELF_LINUX);
	assert_int_equal(info.entry, 0x1000000);
	/* The same image with an entry no segment holds. */
	wr64(img + 24, 0x500000);
	assert_int_equal(probe(img, vmlinux.len, &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF entry point 0x500000 lies outside every "
				 "PT_LOAD segment (raevm loads by physical "
				 "address)");
	free(img);
}

static void kernel_probe__vmlinux_pvh_note_bad_size(void **state)
{
	uint8_t *img = copy_of(&vmlinux);
	struct rv_kernel_info info;
	char err[256];
	size_t note = find_pvh_note(img, vmlinux.len);

	(void)state;
	assert_true(note != 0);
	wr32(img + note + 4, 6);
	assert_int_equal(probe(img, vmlinux.len, &info, err), -ENOEXEC);
	assert_string_equal(err, "PVH entry note (Xen type 18) has a 6-byte "
				 "value; expected 4 or 8 bytes");
	free(img);
}

static void kernel_probe__debian_vmlinux_hostile_headers(void **state)
{
	uint8_t *img = copy_of(&vmlinux);
	struct rv_kernel_info info;
	uint8_t ehdr[64], ph0[56];
	char err[256], msg[256];

	(void)state;
	memcpy(ehdr, img, 64);
	memcpy(ph0, img + rd64(img + 32), 56);

	wr64(img + 32, vmlinux.len & ~7ULL);
	assert_int_equal(probe(img, vmlinux.len, &info, err), -ENOEXEC);
	snprintf(msg, sizeof(msg),
		 "truncated ELF program header table: 5 entries at offset "
		 "0x%llx run past the end of the %zu-byte file",
		 (unsigned long long)(vmlinux.len & ~7ULL), vmlinux.len);
	assert_string_equal(err, msg);

	wr64(img + 32, 0xfffffffffffffff8ULL);
	assert_int_equal(probe(img, vmlinux.len, &info, err), -ENOEXEC);
	assert_non_null(strstr(err, "truncated ELF program header table"));

	memcpy(img, ehdr, 64);
	wr16(img + 56, 0xffff);
	assert_int_equal(probe(img, vmlinux.len, &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF uses extended program header numbering "
				 "(PN_XNUM), which raevm does not support");
	wr16(img + 56, 0);
	assert_int_equal(probe(img, vmlinux.len, &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF has no program headers");

	/* Segment 0 claims more bytes than the file has. */
	memcpy(img, ehdr, 64);
	wr64(img + 64 + 32, vmlinux.len);
	wr64(img + 64 + 40, vmlinux.len);
	assert_int_equal(probe(img, vmlinux.len, &info, err), -ENOEXEC);
	snprintf(msg, sizeof(msg),
		 "ELF program header 0: 0x%zx bytes at offset 0x200000 run "
		 "past the end of the %zu-byte file",
		 vmlinux.len, vmlinux.len);
	assert_string_equal(err, msg);

	memcpy(img + 64, ph0, 56);
	wr64(img + 64 + 40, 0x10);
	assert_int_equal(probe(img, vmlinux.len, &info, err), -ENOEXEC);
	assert_non_null(strstr(err, "p_filesz 0x1"));
	assert_non_null(strstr(err, "is larger than p_memsz 0x10"));

	memcpy(img + 64, ph0, 56);
	img[4] = 1;
	assert_int_equal(probe(img, vmlinux.len, &info, err), -ENOEXEC);
	assert_string_equal(err, "32-bit ELF kernels are not supported; raevm "
				 "loads ELF64 x86-64 executables");
	img[4] = 2;
	wr16(img + 18, 3);
	assert_int_equal(probe(img, vmlinux.len, &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF machine 3 is not x86-64 (62)");
	memcpy(img, ehdr, 64);
	assert_int_equal(probe(img, vmlinux.len, &info, err), 0);
	free(img);
}

static void kernel_probe__debian_vmlinux_truncated(void **state)
{
	uint8_t *img = copy_of(&vmlinux);
	struct rv_kernel_info info;
	char err[256], msg[256];
	const uint8_t *ph0;

	(void)state;
	ph0 = img + rd64(img + 32);
	assert_int_equal(probe(img, 40, &info, err), -ENOEXEC);
	assert_string_equal(err, "truncated ELF header: the file is 40 bytes, "
				 "the header needs 64");
	assert_int_equal(probe(img, 100, &info, err), -ENOEXEC);
	assert_string_equal(err, "truncated ELF program header table: 5 "
				 "entries at offset 0x40 run past the end of "
				 "the 100-byte file");
	/* Segment 0 starts at 2 MiB and is much longer than 1 MiB. */
	assert_int_equal(probe(img, 0x300000, &info, err), -ENOEXEC);
	snprintf(msg, sizeof(msg),
		 "ELF program header 0: 0x%llx bytes at offset 0x%llx run past "
		 "the end of the 3145728-byte file",
		 (unsigned long long)rd64(ph0 + 32),
		 (unsigned long long)rd64(ph0 + 8));
	assert_string_equal(err, msg);
	free(img);
}

/* ---- synthetic ELF images -------------------------------------------------- */

#define SYN_SIZE 0x4000

struct syn_ph {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz, align;
};

static void syn_header(uint8_t *b, uint64_t entry, unsigned int phnum)
{
	memset(b, 0, 64);
	memcpy(b, "\177ELF", 4);
	b[4] = 2; /* ELFCLASS64 */
	b[5] = 1; /* little-endian */
	b[6] = 1;
	wr16(b + 16, 2);  /* ET_EXEC */
	wr16(b + 18, 62); /* x86-64 */
	wr32(b + 20, 1);
	wr64(b + 24, entry);
	wr64(b + 32, 64);
	wr16(b + 52, 64);
	wr16(b + 54, 56);
	wr16(b + 56, (uint16_t)phnum);
	wr16(b + 58, 64);
}

static void syn_phdr(uint8_t *b, unsigned int i, const struct syn_ph *ph)
{
	uint8_t *p = b + 64 + i * 56;

	memset(p, 0, 56);
	wr32(p, ph->type);
	wr64(p + 8, ph->offset);
	wr64(p + 16, ph->paddr);
	wr64(p + 24, ph->paddr);
	wr64(p + 32, ph->filesz);
	wr64(p + 40, ph->memsz);
	wr64(p + 48, ph->align);
}

/* A note at off: name "Xen", the given type and a descsz-byte value. */
static void syn_note(uint8_t *b, size_t off, uint32_t type, uint64_t value,
		     uint32_t descsz)
{
	wr32(b + off, 4);
	wr32(b + off + 4, descsz);
	wr32(b + off + 8, type);
	memcpy(b + off + 12, "Xen", 4);
	wr64(b + off + 16, value);
}

/*
 * The standard synthetic PVH kernel: code at file 0x1000 loaded at 1 MiB
 * (0x1000 bytes of file, 0x3000 in memory) and a PT_NOTE at 0x2000 holding
 * an "ignored" Xen note (type 6) then the PHYS32_ENTRY note (1 MiB + 0x10).
 */
static void syn_pvh(uint8_t *b)
{
	const struct syn_ph load = {
		1, 0x1000, 0x100000, 0x1000, 0x3000, 0x1000
	};
	const struct syn_ph note = { 4, 0x2000, 0, 44, 44, 4 };

	memset(b, 0, SYN_SIZE);
	syn_header(b, 0x100000, 2);
	syn_phdr(b, 0, &load);
	syn_phdr(b, 1, &note);
	syn_note(b, 0x2000, 6, 0x78756e696c, 6); /* "linux\0": 24 bytes */
	syn_note(b, 0x2000 + 24, 18, 0x100010, 4);
	memset(b + 0x1000, 0x90, 0x1000);
}

static void kernel_probe__synthetic_pvh(void **state)
{
	static uint8_t b[SYN_SIZE];
	struct rv_kernel_info info;
	char err[256];

	(void)state;
	syn_pvh(b);
	assert_int_equal(probe(b, sizeof(b), &info, err), 0);
	assert_int_equal(info.format, RV_KERNEL_ELF_PVH);
	assert_int_equal(info.entry, 0x100010);
	assert_int_equal(info.nr_segments, 1);
	assert_int_equal(info.segments[0].file_offset, 0x1000);
	assert_int_equal(info.segments[0].file_size, 0x1000);
	assert_int_equal(info.segments[0].paddr, 0x100000);
	assert_int_equal(info.segments[0].mem_size, 0x3000);
	assert_int_equal(info.image_end, 0x103000);
	assert_string_equal(rv_kernel_format_name(info.format),
			    "ELF (PVH entry)");

	/* An 8-byte value works the same. */
	syn_note(b, 0x2000 + 24, 18, 0x100020, 8);
	wr64(b + 64 + 56 + 32, 48);
	assert_int_equal(probe(b, sizeof(b), &info, err), 0);
	assert_int_equal(info.entry, 0x100020);
}

static void kernel_probe__synthetic_pvh_note_in_section(void **state)
{
	static uint8_t b[SYN_SIZE];
	struct rv_kernel_info info;
	uint8_t *sh;
	char err[256];

	(void)state;
	syn_pvh(b);
	/* Drop the PT_NOTE header; describe the note as a section. */
	wr16(b + 56, 1);
	wr64(b + 40, 0x3000);
	wr16(b + 60, 2);
	sh = b + 0x3000 + 64;
	memset(b + 0x3000, 0, 128);
	wr32(sh + 4, 7); /* SHT_NOTE */
	wr64(sh + 24, 0x2000);
	wr64(sh + 32, 44);
	wr64(sh + 48, 4);
	assert_int_equal(probe(b, sizeof(b), &info, err), 0);
	assert_int_equal(info.format, RV_KERNEL_ELF_PVH);
	assert_int_equal(info.entry, 0x100010);

	wr64(sh + 32, SYN_SIZE);
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF note section 1: 0x4000 bytes at offset "
				 "0x2000 run past the end of the 16384-byte "
				 "file");
	wr64(b + 40, 0x3ff0);
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "truncated ELF section header table: 2 "
				 "entries at offset 0x3ff0 run past the end of "
				 "the 16384-byte file");
}

static void kernel_probe__synthetic_pvh_hostile_notes(void **state)
{
	static uint8_t b[SYN_SIZE];
	struct rv_kernel_info info;
	char err[256];

	(void)state;
	syn_pvh(b);
	wr32(b + 0x2000, 0xfffffff0); /* namesz far past the segment */
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF note at file offset 0x2000 runs past the "
				 "end of its note segment");

	syn_pvh(b);
	wr32(b + 0x2000 + 24 + 4, 3);
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "PVH entry note (Xen type 18) has a 3-byte "
				 "value; expected 4 or 8 bytes");

	syn_pvh(b);
	wr64(b + 64 + 56 + 8, SYN_SIZE - 8); /* PT_NOTE past the file */
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF PT_NOTE program header 1: 0x2c bytes at "
				 "offset 0x3ff8 run past the end of the "
				 "16384-byte file");

	syn_pvh(b);
	syn_note(b, 0x2000 + 24, 18, 0x100000000ULL, 8);
	wr64(b + 64 + 56 + 32, 48);
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err,
			    "PVH entry point 0x100000000 lies above 4 GiB, "
			    "out of reach of 32-bit mode");

	syn_pvh(b);
	syn_note(b, 0x2000 + 24, 18, 0x200000, 4);
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "PVH entry point 0x200000 lies outside every "
				 "PT_LOAD segment");
}

static void kernel_probe__synthetic_elf_segments(void **state)
{
	static uint8_t b[SYN_SIZE];
	struct rv_kernel_info info;
	struct syn_ph ph = { 1, 0x1000, 0x100000, 0x100, 0x1000, 0x1000 };
	char err[256];
	unsigned int i;

	(void)state;
	/* No PVH note: the 64-bit Linux entry at e_entry. */
	memset(b, 0, sizeof(b));
	syn_header(b, 0x100000, 1);
	syn_phdr(b, 0, &ph);
	assert_int_equal(probe(b, sizeof(b), &info, err), 0);
	assert_int_equal(info.format, RV_KERNEL_ELF_LINUX);
	assert_int_equal(info.entry, 0x100000);

	ph.paddr = 0x8000;
	syn_phdr(b, 0, &ph);
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF program header 0: segment at 0x8000 lies "
				 "below 1 MiB, where raevm keeps its boot "
				 "structures");

	ph.paddr = 0xfffffffffffff000ULL;
	syn_phdr(b, 0, &ph);
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF program header 0: segment at "
				 "0xfffffffffffff000 of 0x1000 bytes lies "
				 "beyond the 52-bit physical address space");

	ph.paddr = 0x100000;
	ph.align = 0x1001;
	syn_phdr(b, 0, &ph);
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err,
			    "ELF program header 0: p_align 0x1001 is not a "
			    "power of two");

	/* Two segments that overlap by one page. */
	ph.align = 0x1000;
	syn_header(b, 0x100000, 2);
	syn_phdr(b, 0, &ph);
	ph.paddr = 0x100800;
	syn_phdr(b, 1, &ph);
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF PT_LOAD segments at 0x100000 and "
				 "0x100800 overlap");

	/* Only a PT_NOTE: nothing to load. */
	ph.type = 4;
	syn_header(b, 0x100000, 1);
	syn_phdr(b, 0, &ph);
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF has no PT_LOAD segment");

	/* 17 disjoint PT_LOADs: one too many. */
	ph.type = 1;
	syn_header(b, 0x100000, 17);
	for (i = 0; i < 17; i++) {
		ph.paddr = 0x100000 + i * 0x1000ULL;
		syn_phdr(b, i, &ph);
	}
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF has more than 16 PT_LOAD segments");
	/* Sixteen are fine, and an empty (memsz 0) one is skipped. */
	wr64(b + 64 + 16 * 56 + 40, 0);
	wr64(b + 64 + 16 * 56 + 32, 0);
	assert_int_equal(probe(b, sizeof(b), &info, err), 0);
	assert_int_equal(info.nr_segments, 16);
	assert_int_equal(info.image_end, 0x110000);
}

static void kernel_probe__synthetic_elf_header_checks(void **state)
{
	static uint8_t b[SYN_SIZE];
	const struct syn_ph ph = { 1, 0x1000, 0x100000, 0x100, 0x1000, 0 };
	struct rv_kernel_info info;
	char err[256];

	(void)state;
	memset(b, 0, sizeof(b));
	syn_header(b, 0x100000, 1);
	syn_phdr(b, 0, &ph);
	assert_int_equal(probe(b, sizeof(b), &info, err), 0);

	wr16(b + 16, 3);
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF is position-independent (ET_DYN); raevm "
				 "loads fixed-address executables (ET_EXEC)");
	wr16(b + 16, 1);
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF type 1 is not an executable (ET_EXEC)");
	wr16(b + 16, 2);
	b[5] = 2;
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF is not little-endian (EI_DATA 2)");
	b[5] = 1;
	b[4] = 7;
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "invalid ELF class 7");
	b[4] = 2;
	wr16(b + 54, 32);
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF program header size 32 is not 56");
	wr16(b + 54, 56);
	wr64(b + 32, 66);
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "ELF program header table offset 0x42 is not "
				 "8-byte aligned");
}

static void kernel_probe__garbage(void **state)
{
	static uint8_t b[4096];
	struct rv_kernel_info info;
	char err[256];
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(probe(b, sizeof(b), &info, err), -ENOEXEC);
	assert_string_equal(err, "not a kernel image: no ELF magic and no "
				 "bzImage \"HdrS\" setup header at offset "
				 "0x202");
	assert_int_equal(probe(b, 0, &info, err), -ENOEXEC);
	assert_string_equal(err, "kernel image is empty");
	assert_int_equal(probe(NULL, 10, &info, err), -ENOEXEC);
	/* A NULL error buffer is allowed. */
	assert_int_equal(rv_kernel_probe(b, sizeof(b), &info, NULL, 0),
			 -ENOEXEC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kernel_probe__debian_bzimage),
		cmocka_unit_test(kernel_probe__bzimage_truncated),
		cmocka_unit_test(kernel_probe__bzimage_bad_magic),
		cmocka_unit_test(kernel_probe__bzimage_protocol_too_old),
		cmocka_unit_test(kernel_probe__bzimage_no_kernel_64),
		cmocka_unit_test(kernel_probe__bzimage_hostile_fields),
		cmocka_unit_test(kernel_probe__bzimage_setup_sects_zero),
		cmocka_unit_test(kernel_probe__debian_vmlinux_is_pvh),
		cmocka_unit_test(kernel_probe__debian_vmlinux_without_pvh_note),
		cmocka_unit_test(kernel_probe__vmlinux_pvh_note_bad_size),
		cmocka_unit_test(kernel_probe__debian_vmlinux_hostile_headers),
		cmocka_unit_test(kernel_probe__debian_vmlinux_truncated),
		cmocka_unit_test(kernel_probe__synthetic_pvh),
		cmocka_unit_test(kernel_probe__synthetic_pvh_note_in_section),
		cmocka_unit_test(kernel_probe__synthetic_pvh_hostile_notes),
		cmocka_unit_test(kernel_probe__synthetic_elf_segments),
		cmocka_unit_test(kernel_probe__synthetic_elf_header_checks),
		cmocka_unit_test(kernel_probe__garbage),
	};

	return cmocka_run_group_tests(tests, setup_fixtures, teardown_fixtures);
}
