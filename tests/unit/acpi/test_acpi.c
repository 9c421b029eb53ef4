// SPDX-License-Identifier: Apache-2.0
/*
 * rv_acpi_write() over buffer-backed guest RAM: the tables are read back
 * the way a guest finds them (legacy scan for the RSDP, then the XSDT's
 * pointers), checked field by field, and checked against the MP table and
 * the boot structures rv_boot_load() writes. The DSDT is walked with a
 * small AML reader for the parts an OSPM acts on (\_S5, _PRT, _CRS), and
 * when Debian's iasl (acpica-tools) is installed every table is
 * decompiled with it and the DSDT compiled back. The AML builder
 * (vmm/x86/aml.c) is tested here too.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "raevm/acpi.h"
#include "raevm/boot.h"
#include "raevm/layout.h"
#include "raevm/mem.h"
#include "raevm/pci.h"
#include "raevm/util.h"

#include "../../../vmm/x86/aml.h"

#define RAM_SIZE (64 * RV_MiB)
#define HEADER_LEN 36
#define BIOS_AREA_START 0xe0000ULL
#define BIOS_AREA_END 0x100000ULL

/* ---- helpers -------------------------------------------------------------- */

struct vm {
	struct rv_mem mem;
	uint8_t *buf;
};

static void vm_init(struct vm *v, uint64_t ram)
{
	v->buf = calloc(1, ram);
	assert_non_null(v->buf);
	assert_int_equal(rv_mem_init_buffer(&v->mem, v->buf, ram,
					    RV_MMIO_HOLE_START),
			 0);
}

static void vm_free(struct vm *v)
{
	free(v->buf);
}

static const uint8_t *at(const struct vm *v, uint64_t gpa, uint64_t len)
{
	const uint8_t *p = rv_mem_gpa_to_hva(&v->mem, gpa, len);

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

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s = (uint8_t)(s + *p++);
	return s;
}

static uint64_t write_config(struct vm *v, const struct rv_acpi_config *cfg)
{
	uint64_t rsdp = 0;

	assert_int_equal(rv_acpi_write(&v->mem, cfg, &rsdp), 0);
	return rsdp;
}

static uint64_t write_tables(struct vm *v, unsigned int nr_cpus)
{
	const struct rv_acpi_config cfg = { .nr_cpus = nr_cpus };

	return write_config(v, &cfg);
}

/*
 * What a guest without a boot-protocol pointer does: look for "RSD PTR "
 * on 16-byte boundaries of 0xe0000-0xfffff and take the first one whose
 * ACPI 1.0 checksum holds. Returns 0 when there is none.
 */
static uint64_t legacy_scan(const struct vm *v)
{
	uint64_t gpa;

	for (gpa = BIOS_AREA_START; gpa < BIOS_AREA_END; gpa += 16) {
		const uint8_t *p = at(v, gpa, 20);

		if (memcmp(p, "RSD PTR ", 8) == 0 && sum(p, 20) == 0)
			return gpa;
	}
	return 0;
}

/*
 * Checks a table with a standard header at gpa: signature, a length that
 * stays in the ACPI window, a zero checksum and raevm's OEM ID. Returns a
 * pointer to its bytes and its length.
 */
static const uint8_t *table(const struct vm *v, uint64_t gpa,
			    const char *signature, uint32_t *len)
{
	const uint8_t *h = at(v, gpa, HEADER_LEN);
	uint32_t n = rd32(h + 4);

	assert_memory_equal(h, signature, 4);
	assert_true(n >= HEADER_LEN);
	assert_true(gpa >= RV_ACPI_BASE && gpa + n <= RV_ACPI_LIMIT);
	assert_int_equal(sum(at(v, gpa, n), n), 0);
	assert_memory_equal(h + 10, "RAEVM ", 6);
	if (len)
		*len = n;
	return h;
}

/* The XSDT entry whose table has the given signature; fails if none. */
static uint64_t xsdt_find(const struct vm *v, uint64_t rsdp,
			  const char *signature)
{
	uint64_t xsdt = rd64(at(v, rsdp + 24, 8));
	uint32_t len, i;
	const uint8_t *x = table(v, xsdt, "XSDT", &len);

	for (i = HEADER_LEN; i + 8 <= len; i += 8) {
		uint64_t t = rd64(x + i);

		if (memcmp(at(v, t, 4), signature, 4) == 0)
			return t;
	}
	fail_msg("no %s in the XSDT", signature);
	return 0;
}

struct madt_counts {
	unsigned int lapics, ioapics, overrides, nmis, others;
	uint16_t override_mask; /* ISA IRQs with an override */
};

/*
 * Walks the MADT's entries, checking the local APICs are 0..n-1 in order
 * and enabled, and counts each kind. Entry lengths must add up exactly.
 */
static void madt_walk(const struct vm *v, uint64_t rsdp, unsigned int nr_cpus,
		      struct madt_counts *c)
{
	uint32_t len, off;
	const uint8_t *m = table(v, xsdt_find(v, rsdp, "APIC"), "APIC", &len);

	memset(c, 0, sizeof(*c));
	assert_int_equal(m[8], 5);
	assert_int_equal(rd32(m + 36), RV_LAPIC_ADDR);
	assert_int_equal(rd32(m + 40), 1); /* PCAT_COMPAT */
	for (off = 44; off < len; off += m[off + 1]) {
		const uint8_t *e = m + off;

		assert_true(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], c->lapics); /* processor UID */
			assert_int_equal(e[3], c->lapics); /* APIC ID */
			assert_int_equal(rd32(e + 4), 1);  /* enabled */
			c->lapics++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], nr_cpus);
			assert_int_equal(rd32(e + 4), RV_IOAPIC_ADDR);
			assert_int_equal(rd32(e + 8), 0);
			c->ioapics++;
			break;
		case 2:
			assert_int_equal(e[1], 10);
			assert_int_equal(e[2], 0); /* ISA */
			assert_true(e[3] < 16);
			assert_int_equal(c->override_mask & (1u << e[3]), 0);
			c->override_mask |= (uint16_t)(1u << e[3]);
			if (e[3] == 0) {
				assert_int_equal(rd32(e + 4), 2);
				assert_int_equal(rd16(e + 8), 0);
			} else {
				/* The SCI and PCI INTx: level, active high. */
				assert_int_equal(rd32(e + 4), e[3]);
				assert_int_equal(rd16(e + 8), 0xd);
			}
			c->overrides++;
			break;
		case 4:
			assert_int_equal(e[1], 6);
			assert_int_equal(e[2], 0xff);
			assert_int_equal(rd16(e + 3), 0);
			assert_int_equal(e[5], 1); /* LINT1 */
			c->nmis++;
			break;
		default:
			c->others++;
		}
	}
	assert_int_equal(off, len);
}

/*
 * A minimal ELF kernel: one PT_LOAD of 4 KiB at 1 MiB; with pvh, a
 * PT_NOTE holding XEN_ELFNOTE_PHYS32_ENTRY makes it a PVH kernel.
 */
#define KERNEL_SIZE 0x3000
static uint8_t kernel[KERNEL_SIZE];

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

static void make_kernel(bool pvh, struct rv_kernel_info *info)
{
	uint8_t *ph = kernel + 64;
	char err[256];

	memset(kernel, 0, sizeof(kernel));
	memcpy(kernel, "\177ELF", 4);
	kernel[4] = 2;		/* 64-bit */
	kernel[5] = 1;		/* little endian */
	kernel[6] = 1;		/* version */
	put16(kernel + 16, 2);	/* ET_EXEC */
	put16(kernel + 18, 62); /* x86-64 */
	put32(kernel + 20, 1);
	put64(kernel + 24, 0x100000);
	put64(kernel + 32, 64); /* program headers right after */
	put16(kernel + 52, 64);
	put16(kernel + 54, 56);
	put16(kernel + 56, pvh ? 2 : 1);
	put32(ph, 1); /* PT_LOAD */
	put64(ph + 8, 0x1000);
	put64(ph + 24, 0x100000);
	put64(ph + 32, 0x1000);
	put64(ph + 40, 0x1000);
	if (pvh) {
		ph += 56;
		put32(ph, 4); /* PT_NOTE */
		put64(ph + 8, 0x2000);
		put64(ph + 32, 20);
		put64(ph + 40, 20);
		put32(kernel + 0x2000, 4);  /* name size */
		put32(kernel + 0x2004, 4);  /* desc size */
		put32(kernel + 0x2008, 18); /* XEN_ELFNOTE_PHYS32_ENTRY */
		memcpy(kernel + 0x200c, "Xen", 4);
		put32(kernel + 0x2010, 0x100000);
	}
	assert_int_equal(rv_kernel_probe(kernel, sizeof(kernel), info, err,
					 sizeof(err)),
			 0);
	assert_int_equal(info->format,
			 pvh ? RV_KERNEL_ELF_PVH : RV_KERNEL_ELF_LINUX);
}

static void boot(struct vm *v, bool pvh, unsigned int nr_cpus)
{
	struct rv_kernel_info info;
	struct rv_boot_params bp = { .kernel = kernel,
				     .kernel_len = sizeof(kernel),
				     .nr_cpus = nr_cpus };
	struct rv_boot_entry e;
	char err[256];

	make_kernel(pvh, &info);
	assert_int_equal(
		rv_boot_load(&v->mem, &info, &bp, &e, err, sizeof(err)), 0);
}

/* ---- rv_acpi_write ---------------------------------------------------------- */

static void acpi_write__rsdp_checksums(void **state)
{
	const uint8_t *r;
	uint64_t rsdp;
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	rsdp = write_tables(&v, 2);

	assert_int_equal(rsdp, RV_ACPI_RSDP_ADDR);
	assert_int_equal(rsdp % 16, 0);
	r = at(&v, rsdp, 36);
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_memory_equal(r + 9, "RAEVM ", 6);
	assert_int_equal(r[15], 2);	    /* ACPI 2.0+ */
	assert_int_equal(rd32(r + 20), 36); /* length */
	assert_int_equal(sum(r, 20), 0);    /* ACPI 1.0 checksum */
	assert_int_equal(sum(r, 36), 0);    /* extended checksum */
	assert_int_not_equal(rd64(r + 24), 0);
	vm_free(&v);
}

static void acpi_write__legacy_scan_finds_rsdp(void **state)
{
	uint64_t rsdp;
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	assert_int_equal(legacy_scan(&v), 0);
	rsdp = write_tables(&v, 4);
	assert_int_equal(legacy_scan(&v), rsdp);
	vm_free(&v);
}

static void acpi_write__xsdt_entries_valid(void **state)
{
	uint32_t len, i;
	const uint8_t *x;
	uint64_t rsdp;
	unsigned int facp = 0, apic = 0, mcfg = 0;
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	rsdp = write_tables(&v, 2);

	x = table(&v, rd64(at(&v, rsdp + 24, 8)), "XSDT", &len);
	assert_int_equal(x[8], 1);
	assert_int_equal(len, HEADER_LEN + 3 * 8);
	for (i = HEADER_LEN; i < len; i += 8) {
		uint64_t t = rd64(x + i);

		if (memcmp(at(&v, t, 4), "FACP", 4) == 0) {
			table(&v, t, "FACP", NULL);
			facp++;
		} else if (memcmp(at(&v, t, 4), "MCFG", 4) == 0) {
			table(&v, t, "MCFG", NULL);
			mcfg++;
		} else {
			table(&v, t, "APIC", NULL);
			apic++;
		}
	}
	assert_int_equal(facp, 1);
	assert_int_equal(apic, 1);
	assert_int_equal(mcfg, 1);
	vm_free(&v);
}

static void acpi_write__fadt_fixed_hardware(void **state)
{
	const uint8_t *f, *facs;
	uint64_t rsdp, dsdt;
	uint32_t len, flags;
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	rsdp = write_tables(&v, 1);
	f = table(&v, xsdt_find(&v, rsdp, "FACP"), "FACP", &len);

	assert_int_equal(len, 276);
	assert_int_equal(f[8], 6);   /* revision 6 */
	assert_int_equal(f[131], 3); /* minor: ACPI 6.3 */
	assert_int_equal(rd16(f + 46), RV_ACPI_SCI_IRQ);
	assert_int_equal(rd32(f + 48), 0); /* no SMI_CMD: always ACPI */
	assert_int_equal(rd32(f + 56), RV_ACPI_PM1A_EVT_PORT);
	assert_int_equal(rd32(f + 64), RV_ACPI_PM1A_CNT_PORT);
	assert_int_equal(f[88], RV_ACPI_PM1_EVT_LEN);
	assert_int_equal(f[89], RV_ACPI_PM1_CNT_LEN);
	/* X_PM1a_EVT_BLK and X_PM1a_CNT_BLK: system I/O, same ports. */
	assert_int_equal(f[148], 1);
	assert_int_equal(f[149], 32);
	assert_int_equal(rd64(f + 152), RV_ACPI_PM1A_EVT_PORT);
	assert_int_equal(f[172], 1);
	assert_int_equal(f[173], 16);
	assert_int_equal(rd64(f + 176), RV_ACPI_PM1A_CNT_PORT);
	assert_int_equal(rd32(f + 76), 0);	    /* no PM timer */
	assert_int_equal(rd32(f + 80), 0);	    /* no GPE0 */
	assert_int_equal(rd16(f + 109) & 0x3, 0x3); /* legacy + 8042 */
	flags = rd32(f + 112);
	assert_int_equal(flags & (1u << 20), 0);      /* not HW-reduced */
	assert_int_equal(flags & (1u << 4), 0);	      /* a fixed power button */
	assert_int_equal(flags & (1u << 5), 1u << 5); /* no sleep button */

	/* The DSDT: both pointers agree, revision 2 (64-bit integers). */
	dsdt = rd64(f + 140);
	assert_int_equal(rd32(f + 40), dsdt);
	table(&v, dsdt, "DSDT", &len);
	assert_true(len > HEADER_LEN);
	assert_int_equal(at(&v, dsdt, HEADER_LEN)[8], 2);

	/* The FACS: 64-byte aligned, named by FIRMWARE_CTRL alone. */
	assert_int_equal(rd64(f + 132), 0);
	assert_int_equal(rd32(f + 36) % 64, 0);
	facs = at(&v, rd32(f + 36), 64);
	assert_memory_equal(facs, "FACS", 4);
	assert_int_equal(rd32(facs + 4), 64);
	vm_free(&v);
}

static void check_madt(unsigned int nr_cpus)
{
	struct madt_counts c;
	uint64_t rsdp;
	struct vm v;

	vm_init(&v, RAM_SIZE);
	rsdp = write_tables(&v, nr_cpus);
	madt_walk(&v, rsdp, nr_cpus, &c);
	assert_int_equal(c.lapics, nr_cpus);
	assert_int_equal(c.ioapics, 1);
	/* IRQ 0, the SCI and the PCI INTx lines 5, 10 and 11. */
	assert_int_equal(c.overrides, 5);
	assert_int_equal(c.override_mask,
			 1u << 0 | 1u << 5 | 1u << 9 | 1u << 10 | 1u << 11);
	assert_int_equal(c.nmis, 1);
	assert_int_equal(c.others, 0);
	assert_true(rv_acpi_size(nr_cpus) <= RV_ACPI_LIMIT - RV_ACPI_BASE);
	vm_free(&v);
}

static void acpi_write__madt_one_cpu(void **state)
{
	(void)state;
	check_madt(1);
}

static void acpi_write__madt_two_cpus(void **state)
{
	(void)state;
	check_madt(2);
}

static void acpi_write__madt_four_cpus(void **state)
{
	(void)state;
	check_madt(4);
}

static void acpi_write__madt_max_cpus(void **state)
{
	(void)state;
	check_madt(RV_ACPI_MAX_CPUS);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	while (len--)
		if (*p++)
			return false;
	return true;
}

static void acpi_write__too_many_cpus(void **state)
{
	struct rv_acpi_config cfg = { .nr_cpus = RV_ACPI_MAX_CPUS + 1 };
	uint64_t rsdp = 0x1234;
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	assert_int_equal(rv_acpi_write(&v.mem, &cfg, &rsdp), -E2BIG);
	cfg.nr_cpus = 0;
	assert_int_equal(rv_acpi_write(&v.mem, &cfg, &rsdp), -EINVAL);
	assert_int_equal(rsdp, 0x1234);
	assert_true(all_zero(at(&v, RV_ACPI_BASE, RV_ACPI_LIMIT - RV_ACPI_BASE),
			     RV_ACPI_LIMIT - RV_ACPI_BASE));
	assert_int_equal(rv_acpi_size(RV_ACPI_MAX_CPUS + 1), 0);
	assert_int_equal(rv_acpi_size(0), 0);
	vm_free(&v);
}

static void acpi_write__window_outside_ram(void **state)
{
	const struct rv_acpi_config cfg = { .nr_cpus = 1 };
	uint64_t rsdp = 0;
	struct vm v;

	(void)state;
	/* RAM ends inside the window: nothing may be written. */
	vm_init(&v, RV_ACPI_BASE + 0x100);
	assert_int_equal(rv_acpi_write(&v.mem, &cfg, &rsdp), -EFAULT);
	assert_true(all_zero(at(&v, RV_ACPI_BASE, 0x100), 0x100));
	assert_int_equal(rsdp, 0);
	vm_free(&v);
}

static void acpi_write__stale_ram_cleared(void **state)
{
	size_t len = rv_acpi_size(2);
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	memset(v.buf + RV_ACPI_BASE, 0xaa, RV_ACPI_LIMIT - RV_ACPI_BASE);
	write_tables(&v, 2);
	/* Padding between tables (after the 36-byte RSDP) reads as zero. */
	assert_true(all_zero(at(&v, RV_ACPI_BASE + 36, 28), 28));
	/* Past the last table, RAM is not the writer's business. */
	assert_int_equal(*at(&v, RV_ACPI_BASE + len, 1), 0xaa);
	vm_free(&v);
}

/* ---- MCFG and DSDT ---------------------------------------------------------- */

static void acpi_write__mcfg_ecam(void **state)
{
	const uint8_t *m;
	uint64_t rsdp;
	uint32_t len;
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	rsdp = write_tables(&v, 2);
	m = table(&v, xsdt_find(&v, rsdp, "MCFG"), "MCFG", &len);
	assert_int_equal(len, 60);
	assert_int_equal(m[8], 1);
	assert_int_equal(rd64(m + 36), 0); /* reserved */
	assert_int_equal(rd64(m + 44), RV_PCI_ECAM_BASE);
	assert_int_equal(rd16(m + 52), 0); /* segment */
	assert_int_equal(m[54], 0);	   /* first bus */
	assert_int_equal(m[55], 255);	   /* last bus */
	/* The buses listed fill the ECAM window exactly. */
	assert_int_equal((uint64_t)(m[55] - m[54] + 1) << 20, RV_PCI_ECAM_SIZE);
	vm_free(&v);
}

/* The DSDT's AML (after the header) for the tables written at rsdp. */
static const uint8_t *dsdt_aml(const struct vm *v, uint64_t rsdp,
			       const uint8_t **end)
{
	const uint8_t *f = table(v, xsdt_find(v, rsdp, "FACP"), "FACP", NULL);
	uint32_t len;
	const uint8_t *d = table(v, rd64(f + 140), "DSDT", &len);

	*end = d + len;
	return d + HEADER_LEN;
}

/* Decodes a PkgLength at *p and advances past it. */
static size_t pkglen(const uint8_t **p)
{
	const uint8_t *q = *p;
	unsigned int follow = q[0] >> 6, i;
	size_t len;

	if (follow == 0) {
		*p = q + 1;
		return q[0] & 0x3f;
	}
	assert_int_equal(q[0] & 0x30, 0);
	len = q[0] & 0x0f;
	for (i = 0; i < follow; i++)
		len |= (size_t)q[1 + i] << (4 + 8 * i);
	*p = q + 1 + follow;
	return len;
}

/* Reads one integer constant at *p and advances past it. */
static uint64_t integer(const uint8_t **p)
{
	const uint8_t *q = *p;

	switch (q[0]) {
	case 0x00:
		*p = q + 1;
		return 0;
	case 0x01:
		*p = q + 1;
		return 1;
	case 0x0a:
		*p = q + 2;
		return q[1];
	case 0x0b:
		*p = q + 3;
		return rd16(q + 1);
	case 0x0c:
		*p = q + 5;
		return rd32(q + 1);
	case 0x0e:
		*p = q + 9;
		return rd64(q + 1);
	}
	fail_msg("no integer constant at opcode 0x%02x", q[0]);
	return 0;
}

/*
 * The object after the first Name (seg, ...) in [p, end), with or without
 * the root prefix; fails when there is none.
 */
static const uint8_t *named(const uint8_t *p, const uint8_t *end,
			    const char *seg)
{
	for (; p + 6 <= end; p++) {
		if (p[0] != 0x08)
			continue;
		if (memcmp(p + 1, seg, 4) == 0)
			return p + 5;
		if (p[1] == 0x5c && memcmp(p + 2, seg, 4) == 0)
			return p + 6;
	}
	fail_msg("no Name (%s) in the DSDT", seg);
	return NULL;
}

/* Opens the Package at *p: returns its element count, *end its end. */
static unsigned int package(const uint8_t **p, const uint8_t **end)
{
	const uint8_t *start;
	size_t len;

	assert_int_equal(**p, 0x12);
	(*p)++;
	start = *p;
	len = pkglen(p);
	*end = start + len;
	return *(*p)++;
}

static void acpi_write__dsdt_s5_matches_pm(void **state)
{
	const uint8_t *aml, *end, *p, *pkg_end;
	uint64_t rsdp;
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	rsdp = write_tables(&v, 1);
	aml = dsdt_aml(&v, rsdp, &end);
	/* Name (\_S5, ...) comes first, in the root scope. */
	assert_memory_equal(aml, "\x08\x5c_S5_", 6);
	p = named(aml, end, "_S5_");
	assert_int_equal(package(&p, &pkg_end), 4);
	assert_int_equal(integer(&p), RV_ACPI_SLP_TYP_S5);
	assert_int_equal(integer(&p), RV_ACPI_SLP_TYP_S5);
	assert_int_equal(integer(&p), 0);
	assert_int_equal(integer(&p), 0);
	assert_ptr_equal(p, pkg_end);
	vm_free(&v);
}

static void acpi_write__dsdt_prt_matches_pci(void **state)
{
	const uint8_t *aml, *end, *p, *prt_end, *e_end;
	unsigned int slot, pin;
	uint64_t rsdp;
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	rsdp = write_tables(&v, 1);
	aml = dsdt_aml(&v, rsdp, &end);
	p = named(aml, end, "_PRT");
	assert_int_equal(package(&p, &prt_end), RV_PCI_MAX_SLOTS * 4);
	assert_true(prt_end <= end);
	for (slot = 0; slot < RV_PCI_MAX_SLOTS; slot++) {
		for (pin = 0; pin < 4; pin++) {
			assert_int_equal(package(&p, &e_end), 4);
			assert_int_equal(integer(&p), slot << 16 | 0xffff);
			assert_int_equal(integer(&p), pin);
			assert_int_equal(integer(&p), 0); /* GSI form */
			assert_int_equal(integer(&p),
					 rv_pci_intx_gsi(slot, pin + 1));
			assert_ptr_equal(p, e_end);
		}
	}
	assert_ptr_equal(p, prt_end);
	vm_free(&v);
}

/* What a root bridge _CRS says, decoded from its resource template. */
struct crs {
	unsigned int bus_min, bus_max, io_port, io_len;
	unsigned int io_min, io_max;
	uint64_t mem32_min, mem32_max, mem64_min, mem64_max;
	unsigned int n_bus, n_io, n_wio, n_mem32, n_mem64, n_end;
};

static void crs_decode(const uint8_t *p, const uint8_t *end, struct crs *c)
{
	memset(c, 0, sizeof(*c));
	while (p < end) {
		if (!(p[0] & 0x80)) {
			unsigned int tag = (p[0] >> 3) & 0x0f, len = p[0] & 7;

			if (tag == 0x08) { /* IO */
				assert_int_equal(len, 7);
				assert_int_equal(rd16(p + 2), rd16(p + 4));
				c->io_port = rd16(p + 2);
				c->io_len = p[7];
				c->n_io++;
			} else {
				assert_int_equal(tag, 0x0f); /* end tag */
				c->n_end++;
				assert_ptr_equal(p + 1 + len, end);
			}
			p += 1 + len;
			continue;
		}
		/* Address space descriptors: producer, min/max fixed. */
		assert_int_equal(p[4], 0x0c);
		switch (p[0]) {
		case 0x88:
			assert_int_equal(rd16(p + 1), 13);
			if (p[3] == 2) {
				c->bus_min = rd16(p + 8);
				c->bus_max = rd16(p + 10);
				c->n_bus++;
			} else {
				assert_int_equal(p[3], 1);
				c->io_min = rd16(p + 8);
				c->io_max = rd16(p + 10);
				c->n_wio++;
			}
			assert_int_equal(rd16(p + 14),
					 rd16(p + 10) - rd16(p + 8) + 1);
			break;
		case 0x87:
			assert_int_equal(rd16(p + 1), 23);
			c->mem32_min = rd32(p + 10);
			c->mem32_max = rd32(p + 14);
			assert_int_equal(rd32(p + 22),
					 c->mem32_max - c->mem32_min + 1);
			c->n_mem32++;
			break;
		case 0x8a:
			assert_int_equal(rd16(p + 1), 43);
			c->mem64_min = rd64(p + 14);
			c->mem64_max = rd64(p + 22);
			assert_true(rd64(p + 38) ==
				    c->mem64_max - c->mem64_min + 1);
			c->n_mem64++;
			break;
		default:
			fail_msg("unexpected descriptor 0x%02x", p[0]);
		}
		p += 3 + rd16(p + 1);
	}
	assert_ptr_equal(p, end);
}

/* Decodes the first _CRS in the DSDT (the root bridge's). */
static void pci0_crs(const struct vm *v, uint64_t rsdp, struct crs *c)
{
	const uint8_t *aml, *end, *p, *buf_end;
	uint64_t size;

	aml = dsdt_aml(v, rsdp, &end);
	p = named(aml, end, "_CRS");
	assert_int_equal(*p++, 0x11); /* Buffer */
	buf_end = p;
	buf_end += pkglen(&p);
	size = integer(&p);
	assert_ptr_equal(p + size, buf_end);
	crs_decode(p, buf_end, c);
}

static void acpi_write__dsdt_crs_windows(void **state)
{
	const struct rv_acpi_config cfg = {
		.nr_cpus = 2,
		.pci_mmio64_base = 0x8000000000ULL,
		.pci_mmio64_size = 0x7d00000000ULL,
	};
	uint64_t rsdp;
	struct crs c;
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	rsdp = write_config(&v, &cfg);
	pci0_crs(&v, rsdp, &c);
	assert_int_equal(c.n_bus, 1);
	assert_int_equal(c.bus_min, 0);
	assert_int_equal(c.bus_max, 255);
	assert_int_equal(c.n_io, 1);
	assert_int_equal(c.io_port, 0xcf8);
	assert_int_equal(c.io_len, 8);
	assert_int_equal(c.n_wio, 1);
	assert_int_equal(c.io_min, RV_PCI_IO_BASE);
	assert_int_equal(c.io_max, RV_PCI_IO_BASE + RV_PCI_IO_SIZE - 1);
	assert_int_equal(c.n_mem32, 1);
	assert_int_equal(c.mem32_min, RV_PCI_MMIO32_BASE);
	assert_int_equal(c.mem32_max,
			 RV_PCI_MMIO32_BASE + RV_PCI_MMIO32_SIZE - 1);
	assert_int_equal(c.n_mem64, 1);
	assert_true(c.mem64_min == cfg.pci_mmio64_base);
	assert_true(c.mem64_max ==
		    cfg.pci_mmio64_base + cfg.pci_mmio64_size - 1);
	assert_int_equal(c.n_end, 1);
	/* rv_acpi_size() counts this, the largest DSDT, exactly. */
	assert_int_equal(rd64(at(&v, rsdp + 24, 8)) + HEADER_LEN + 3 * 8,
			 RV_ACPI_BASE + rv_acpi_size(2));
	vm_free(&v);
}

static void acpi_write__dsdt_without_mmio64(void **state)
{
	uint64_t rsdp;
	struct crs c;
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	rsdp = write_tables(&v, 2);
	pci0_crs(&v, rsdp, &c);
	assert_int_equal(c.n_mem32, 1);
	assert_int_equal(c.n_mem64, 0);
	/* A shorter DSDT: rv_acpi_size() is an upper bound. */
	assert_true(rd64(at(&v, rsdp + 24, 8)) + HEADER_LEN + 3 * 8 <
		    RV_ACPI_BASE + rv_acpi_size(2));
	vm_free(&v);
}

static void acpi_write__mmio64_window_wraps(void **state)
{
	const struct rv_acpi_config cfg = {
		.nr_cpus = 1,
		.pci_mmio64_base = UINT64_MAX - 0xfff,
		.pci_mmio64_size = 0x2000,
	};
	uint64_t rsdp = 0x1234;
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	assert_int_equal(rv_acpi_write(&v.mem, &cfg, &rsdp), -EINVAL);
	assert_int_equal(rsdp, 0x1234);
	assert_true(all_zero(at(&v, RV_ACPI_BASE, RV_ACPI_LIMIT - RV_ACPI_BASE),
			     RV_ACPI_LIMIT - RV_ACPI_BASE));
	vm_free(&v);
}

/* Name (_HID, EisaId (id)) is somewhere after Device (dev). */
static void assert_device_hid(const uint8_t *aml, const uint8_t *end,
			      const char *dev, uint32_t eisaid)
{
	const uint8_t *p;

	for (p = aml; p + 6 <= end; p++)
		if (p[0] == 0x5b && p[1] == 0x82 &&
		    memcmp(p + 2 + (p[2] >> 6) + 1, dev, 4) == 0)
			break;
	assert_true(p + 6 <= end);
	p = named(p, end, "_HID");
	assert_int_equal(integer(&p), eisaid);
}

static void acpi_write__dsdt_devices(void **state)
{
	const uint8_t *aml, *end;
	uint64_t rsdp;
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	rsdp = write_tables(&v, 1);
	aml = dsdt_aml(&v, rsdp, &end);
	/* EisaId ("PNP0A08") and friends, as iasl encodes them. */
	assert_device_hid(aml, end, "PCI0", 0x080ad041);
	assert_device_hid(aml, end, "MRES", 0x020cd041);
	assert_device_hid(aml, end, "COM1", 0x0105d041);
	assert_device_hid(aml, end, "RTC_", 0x000bd041);
	vm_free(&v);
}

static void acpi_level_irqs__sci_and_pci_lines(void **state)
{
	uint16_t mask = rv_acpi_level_irqs();
	unsigned int slot, pin;

	(void)state;
	assert_int_equal(mask & (1u << RV_ACPI_SCI_IRQ), 1u << RV_ACPI_SCI_IRQ);
	for (slot = 0; slot < RV_PCI_MAX_SLOTS; slot++)
		for (pin = 1; pin <= 4; pin++)
			assert_true(mask & (1u << rv_pci_intx_gsi(slot, pin)));
	/* Timer, keyboard, COM1 and RTC stay edge-triggered. */
	assert_int_equal(mask & (1u << 0 | 1u << 1 | 1u << 4 | 1u << 8), 0);
}

/*
 * Every table goes through Debian's iasl: decompiled without complaint,
 * and the DSDT's source compiled back without errors or warnings.
 */
static int run(const char *dir, const char *cmd)
{
	char line[1024];

	snprintf(line, sizeof(line), "cd '%s' && %s >>iasl.log 2>&1", dir, cmd);
	return system(line);
}

static void save(const char *dir, const char *name, const void *p, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static bool file_has(const char *dir, const char *name, const char *text)
{
	char path[256], cmd[600];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(cmd, sizeof(cmd), "grep -qF -- '%s' '%s'", text, path);
	return system(cmd) == 0;
}

static void acpi_write__iasl_decompiles(void **state)
{
	static const char *const sigs[] = { "FACP", "APIC", "MCFG" };
	const struct rv_acpi_config cfg = {
		.nr_cpus = 4,
		.pci_mmio64_base = 0x8000000000ULL,
		.pci_mmio64_size = 0x8000000000ULL,
	};
	char dir[] = "/tmp/raevm-acpi-XXXXXX", cmd[64];
	const uint8_t *f, *d;
	uint64_t rsdp;
	uint32_t len;
	unsigned int i;
	struct vm v;

	(void)state;
	if (system("command -v iasl >/dev/null 2>&1") != 0) {
		skip();
		return;
	}
	assert_non_null(mkdtemp(dir));
	vm_init(&v, RAM_SIZE);
	rsdp = write_config(&v, &cfg);
	for (i = 0; i < RV_ARRAY_SIZE(sigs); i++) {
		const uint8_t *t =
			table(&v, xsdt_find(&v, rsdp, sigs[i]), sigs[i], &len);

		save(dir, sigs[i], t, len);
	}
	f = table(&v, xsdt_find(&v, rsdp, "FACP"), "FACP", NULL);
	d = table(&v, rd64(f + 140), "DSDT", &len);
	save(dir, "DSDT", d, len);
	save(dir, "FACS", at(&v, rd32(f + 36), 64), 64);
	d = table(&v, rd64(at(&v, rsdp + 24, 8)), "XSDT", &len);
	save(dir, "XSDT", d, len);
	for (i = 0; i < 6; i++) {
		static const char *const all[] = { "FACP", "APIC", "MCFG",
						   "DSDT", "FACS", "XSDT" };

		snprintf(cmd, sizeof(cmd), "iasl -d %s.dat", all[i]);
		assert_int_equal(run(dir, cmd), 0);
	}
	assert_false(file_has(dir, "iasl.log", "Error"));
	assert_false(file_has(dir, "iasl.log", "Warning"));
	assert_true(file_has(dir, "DSDT.dsl", "EisaId (\"PNP0A08\")"));
	assert_true(file_has(dir, "DSDT.dsl", "QWordMemory"));
	assert_true(file_has(dir, "DSDT.dsl", "Method (_OSC, 4"));
	assert_true(
		file_has(dir, "MCFG.dsl", "Base Address : 00000000E0000000"));
	/* Round trip: the source iasl wrote compiles cleanly. */
	assert_int_equal(run(dir, "iasl -p again DSDT.dsl"), 0);
	assert_true(file_has(dir, "iasl.log", "0 Errors, 0 Warnings"));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	vm_free(&v);
}

/*
 * ACPICA's own interpreter (acpiexec, from acpica-tools, the code Linux
 * runs) loads the DSDT and evaluates what an OSPM evaluates: \_S5 and
 * the root bridge's _OSC for the PCI UUID, a bad revision and an unknown
 * UUID. Linux cannot get that far on this host (HOST.md), so this is the
 * closest check of the namespace.
 */
static bool acpiexec_says(const char *dir, const char *eval, const char *want)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "acpiexec -b '%s' DSDT.dat >acpiexec.out 2>&1 && "
		 "grep -qF -- '%s' acpiexec.out",
		 eval, want);
	return run(dir, cmd) == 0;
}

#define OSC_ARGS(uuid0, rev)                                                   \
	"evaluate \\_SB.PCI0._OSC (" uuid0 " 4d db 33 f7 1f 1c 40 96 57 74 "   \
	"41 c0 3d d7 66) " rev " 3 (00 00 00 00 1f 00 00 00 1d 00 00 00)"

static void acpi_write__acpiexec_evaluates(void **state)
{
	const struct rv_acpi_config cfg = { .nr_cpus = 1 };
	char dir[] = "/tmp/raevm-acpi-XXXXXX", cmd[64];
	const uint8_t *f, *d;
	uint64_t rsdp;
	uint32_t len;
	struct vm v;

	(void)state;
	if (system("command -v acpiexec >/dev/null 2>&1") != 0) {
		skip();
		return;
	}
	assert_non_null(mkdtemp(dir));
	vm_init(&v, RAM_SIZE);
	rsdp = write_config(&v, &cfg);
	f = table(&v, xsdt_find(&v, rsdp, "FACP"), "FACP", NULL);
	d = table(&v, rd64(f + 140), "DSDT", &len);
	save(dir, "DSDT", d, len);
	assert_true(acpiexec_says(dir, "evaluate \\_S5",
				  "[Package] Contains 4 Elements"));
	assert_true(acpiexec_says(dir, "evaluate \\_SB.PCI0._PRT",
				  "[Package] Contains 128 Elements"));
	/* Granted unchanged; then "unrecognized revision" and "UUID". */
	assert_true(acpiexec_says(dir, OSC_ARGS("5b", "1"),
				  "0000: 00 00 00 00 1F 00 00 00 1D 00 00 00"));
	assert_true(acpiexec_says(dir, OSC_ARGS("5b", "2"),
				  "0000: 08 00 00 00 1F 00 00 00 1D 00 00 00"));
	assert_true(acpiexec_says(dir, OSC_ARGS("5c", "1"),
				  "0000: 04 00 00 00 1F 00 00 00 1D 00 00 00"));
	/* The test can fail: a wrong answer is not found. */
	assert_false(
		acpiexec_says(dir, OSC_ARGS("5c", "1"),
			      "0000: 00 00 00 00 1F 00 00 00 1D 00 00 00"));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	vm_free(&v);
}

/* ---- the AML builder -------------------------------------------------------- */

static void aml_pkglen_encode__boundaries(void **state)
{
	static const struct {
		size_t total;
		size_t n;
		uint8_t b[4];
	} cases[] = {
		{ 0, 1, { 0x00 } },
		{ 0x3f, 1, { 0x3f } },
		{ 0x40, 2, { 0x40, 0x04 } },
		{ 0x7ef, 2, { 0x4f, 0x7e } },
		{ 0xfff, 2, { 0x4f, 0xff } },
		{ 0x1000, 3, { 0x80, 0x00, 0x01 } },
		{ 0xfffff, 3, { 0x8f, 0xff, 0xff } },
		{ 0x100000, 4, { 0xc0, 0x00, 0x00, 0x01 } },
		{ 0x0fffffff, 4, { 0xcf, 0xff, 0xff, 0xff } },
	};
	uint8_t out[4];
	size_t i;

	(void)state;
	for (i = 0; i < RV_ARRAY_SIZE(cases); i++) {
		memset(out, 0xee, sizeof(out));
		assert_int_equal(rv__aml_pkglen_encode(cases[i].total, out),
				 cases[i].n);
		assert_memory_equal(out, cases[i].b, cases[i].n);
	}
	assert_int_equal(rv__aml_pkglen_encode(0x10000000, out), 0);
}

static void aml_close__picks_shortest_pkglen(void **state)
{
	uint8_t buf[256];
	struct rv_aml a;
	size_t mark, i;

	(void)state;
	/* 62 content bytes and the PkgLength byte itself: 63 fits in one. */
	rv__aml_init(&a, buf, sizeof(buf));
	mark = rv__aml_scope_open(&a, "\\_SB");
	for (i = 0; i < 57; i++) /* after 5 name bytes */
		rv__aml_byte(&a, 0xa3);
	rv__aml_close(&a, mark);
	assert_false(a.overflow);
	assert_int_equal(a.len, 1 + 1 + 62);
	assert_int_equal(buf[0], 0x10);
	assert_int_equal(buf[1], 63);
	assert_memory_equal(buf + 2, "\\_SB_", 5);
	assert_int_equal(buf[a.len - 1], 0xa3);
	/* One more content byte needs a two-byte PkgLength: 65 in all. */
	rv__aml_init(&a, buf, sizeof(buf));
	mark = rv__aml_scope_open(&a, "\\_SB");
	for (i = 0; i < 58; i++)
		rv__aml_byte(&a, 0xa3);
	rv__aml_close(&a, mark);
	assert_int_equal(a.len, 1 + 2 + 63);
	assert_int_equal(buf[1], 0x41);
	assert_int_equal(buf[2], 0x04);
	assert_memory_equal(buf + 3, "\\_SB_", 5);
	assert_int_equal(buf[a.len - 1], 0xa3);
}

static void aml_name_string__forms(void **state)
{
	uint8_t buf[64];
	struct rv_aml a;

	(void)state;
	rv__aml_init(&a, buf, sizeof(buf));
	rv__aml_name_string(&a, "_HID");
	rv__aml_name_string(&a, "RTC");
	rv__aml_name_string(&a, "\\_SB.PCI0");
	rv__aml_name_string(&a, "\\_SB.PCI0.S08");
	assert_false(a.overflow);
	assert_int_equal(a.len, 4 + 4 + 10 + 15);
	assert_memory_equal(buf, "_HIDRTC_\\\x2e_SB_PCI0\\\x2f\x03_SB_PCI0S08_",
			    a.len);
}

static void aml_name_string__malformed(void **state)
{
	static const char *const bad[] = { "",	     "ABCDE", "a",
					   "1ABC",   "_SB.",  ".PCI0",
					   "_SB..X", "\\",    "PC-0" };
	uint8_t buf[64];
	struct rv_aml a;
	size_t i;

	(void)state;
	for (i = 0; i < RV_ARRAY_SIZE(bad); i++) {
		rv__aml_init(&a, buf, sizeof(buf));
		rv__aml_name_string(&a, bad[i]);
		assert_true(a.overflow);
	}
}

static void aml_int__shortest_encoding(void **state)
{
	uint8_t buf[64];
	struct rv_aml a;

	(void)state;
	rv__aml_init(&a, buf, sizeof(buf));
	rv__aml_int(&a, 0);
	rv__aml_int(&a, 1);
	rv__aml_int(&a, 0xff);
	rv__aml_int(&a, 0x100);
	rv__aml_int(&a, 0x10000);
	rv__aml_int(&a, 0x100000000ULL);
	assert_int_equal(a.len, 1 + 1 + 2 + 3 + 5 + 9);
	assert_memory_equal(buf,
			    "\x00\x01\x0a\xff\x0b\x00\x01\x0c\x00\x00\x01\x00"
			    "\x0e\x00\x00\x00\x00\x01\x00\x00\x00",
			    a.len);
}

static void aml_eisaid__encoding(void **state)
{
	uint8_t buf[16];
	struct rv_aml a;

	(void)state;
	rv__aml_init(&a, buf, sizeof(buf));
	rv__aml_eisaid(&a, "PNP0A03");
	assert_false(a.overflow);
	assert_memory_equal(buf, "\x0c\x41\xd0\x0a\x03", 5);
	rv__aml_eisaid(&a, "pnp0a03");
	assert_true(a.overflow);
	rv__aml_init(&a, buf, sizeof(buf));
	rv__aml_eisaid(&a, "PNP0A0G");
	assert_true(a.overflow);
}

static void aml__overflow_is_sticky(void **state)
{
	uint8_t buf[8];
	struct rv_aml a;
	size_t mark;

	(void)state;
	rv__aml_init(&a, buf, sizeof(buf));
	mark = rv__aml_package_open(&a, 2);
	rv__aml_int(&a, 0x12345678);
	rv__aml_int(&a, 0x12345678);
	assert_true(a.overflow);
	rv__aml_close(&a, mark);
	rv__aml_byte(&a, 0);
	assert_true(a.overflow);
	assert_true(a.len <= sizeof(buf));
	/* More than 255 package elements need VarPackageOp: refused. */
	rv__aml_init(&a, buf, sizeof(buf));
	rv__aml_package_open(&a, 256);
	assert_true(a.overflow);
}

/* ---- with rv_boot_load ------------------------------------------------------ */

static bool mp_checksums_ok(const struct vm *v, uint64_t mpf)
{
	const uint8_t *f = at(v, mpf, 16);
	uint64_t mpc = rd32(f + 4);
	uint16_t len = rd16(at(v, mpc + 4, 2));

	return memcmp(f, "_MP_", 4) == 0 && sum(f, 16) == 0 &&
	       memcmp(at(v, mpc, 4), "PCMP", 4) == 0 &&
	       sum(at(v, mpc, len), len) == 0;
}

static void check_no_overlap(unsigned int nr_cpus)
{
	uint64_t mp = nr_cpus > RV_MPTABLE_EBDA_MAX_CPUS ?
			      RV_MPTABLE_BIOS_ADDR :
			      RV_EBDA_ADDR;
	uint64_t mp_end = mp + rv_mptable_size(nr_cpus);
	uint64_t acpi_end = RV_ACPI_BASE + rv_acpi_size(nr_cpus);
	struct madt_counts c;
	struct vm v;

	vm_init(&v, RAM_SIZE);
	boot(&v, true, nr_cpus);
	assert_true(mp_end <= RV_ACPI_BASE || acpi_end <= mp);
	/* Both survive the other being written. */
	assert_true(mp_checksums_ok(&v, mp));
	assert_int_equal(legacy_scan(&v), RV_ACPI_RSDP_ADDR);
	madt_walk(&v, RV_ACPI_RSDP_ADDR, nr_cpus, &c);
	assert_int_equal(c.lapics, nr_cpus);
	vm_free(&v);
}

static void boot_load__acpi_and_mptable_disjoint(void **state)
{
	(void)state;
	check_no_overlap(1);
	check_no_overlap(RV_MPTABLE_EBDA_MAX_CPUS);
	check_no_overlap(RV_MPTABLE_EBDA_MAX_CPUS + 1);
	check_no_overlap(RV_ACPI_MAX_CPUS);
}

static void boot_load__boot_params_rsdp(void **state)
{
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	boot(&v, false, 2);
	assert_int_equal(rd64(at(&v, RV_ZERO_PAGE_ADDR + 0x070, 8)),
			 RV_ACPI_RSDP_ADDR);
	assert_memory_equal(at(&v, RV_ACPI_RSDP_ADDR, 8), "RSD PTR ", 8);
	vm_free(&v);
}

static void boot_load__pvh_rsdp_paddr(void **state)
{
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	boot(&v, true, 2);
	assert_int_equal(rd32(at(&v, RV_PVH_INFO_ADDR, 4)), 0x336ec578);
	assert_int_equal(rd64(at(&v, RV_PVH_INFO_ADDR + 32, 8)),
			 RV_ACPI_RSDP_ADDR);
	vm_free(&v);
}

static void boot_load__too_many_cpus(void **state)
{
	struct rv_kernel_info info;
	struct rv_boot_params bp = { .kernel = kernel,
				     .kernel_len = sizeof(kernel),
				     .nr_cpus = RV_ACPI_MAX_CPUS + 1 };
	struct rv_boot_entry e;
	char err[256];
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	make_kernel(true, &info);
	assert_int_equal(rv_boot_load(&v.mem, &info, &bp, &e, err, sizeof(err)),
			 -E2BIG);
	assert_int_equal(legacy_scan(&v), 0);
	vm_free(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(acpi_write__rsdp_checksums),
		cmocka_unit_test(acpi_write__legacy_scan_finds_rsdp),
		cmocka_unit_test(acpi_write__xsdt_entries_valid),
		cmocka_unit_test(acpi_write__fadt_fixed_hardware),
		cmocka_unit_test(acpi_write__madt_one_cpu),
		cmocka_unit_test(acpi_write__madt_two_cpus),
		cmocka_unit_test(acpi_write__madt_four_cpus),
		cmocka_unit_test(acpi_write__madt_max_cpus),
		cmocka_unit_test(acpi_write__too_many_cpus),
		cmocka_unit_test(acpi_write__window_outside_ram),
		cmocka_unit_test(acpi_write__stale_ram_cleared),
		cmocka_unit_test(acpi_write__mcfg_ecam),
		cmocka_unit_test(acpi_write__dsdt_s5_matches_pm),
		cmocka_unit_test(acpi_write__dsdt_prt_matches_pci),
		cmocka_unit_test(acpi_write__dsdt_crs_windows),
		cmocka_unit_test(acpi_write__dsdt_without_mmio64),
		cmocka_unit_test(acpi_write__mmio64_window_wraps),
		cmocka_unit_test(acpi_write__dsdt_devices),
		cmocka_unit_test(acpi_level_irqs__sci_and_pci_lines),
		cmocka_unit_test(acpi_write__iasl_decompiles),
		cmocka_unit_test(acpi_write__acpiexec_evaluates),
		cmocka_unit_test(aml_pkglen_encode__boundaries),
		cmocka_unit_test(aml_close__picks_shortest_pkglen),
		cmocka_unit_test(aml_name_string__forms),
		cmocka_unit_test(aml_name_string__malformed),
		cmocka_unit_test(aml_int__shortest_encoding),
		cmocka_unit_test(aml_eisaid__encoding),
		cmocka_unit_test(aml__overflow_is_sticky),
		cmocka_unit_test(boot_load__acpi_and_mptable_disjoint),
		cmocka_unit_test(boot_load__boot_params_rsdp),
		cmocka_unit_test(boot_load__pvh_rsdp_paddr),
		cmocka_unit_test(boot_load__too_many_cpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
