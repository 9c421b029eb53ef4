// SPDX-License-Identifier: Apache-2.0
/*
 * rv_acpi_write() over buffer-backed guest RAM: the tables are read back
 * the way a guest finds them (legacy scan for the RSDP, then the XSDT's
 * pointers), checked field by field, and checked against the MP table and
 * the boot structures rv_boot_load() writes.
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

#include "raevm/acpi.h"
#include "raevm/boot.h"
#include "raevm/layout.h"
#include "raevm/mem.h"
#include "raevm/util.h"

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

static uint64_t write_tables(struct vm *v, unsigned int nr_cpus)
{
	const struct rv_acpi_config cfg = { .nr_cpus = nr_cpus };
	uint64_t rsdp = 0;

	assert_int_equal(rv_acpi_write(&v->mem, &cfg, &rsdp), 0);
	return rsdp;
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
			if (e[3] == 0) {
				assert_int_equal(rd32(e + 4), 2);
				assert_int_equal(rd16(e + 8), 0);
			} else {
				/* The SCI: IRQ 9, level, active high. */
				assert_int_equal(e[3], RV_ACPI_SCI_IRQ);
				assert_int_equal(rd32(e + 4), RV_ACPI_SCI_IRQ);
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
	unsigned int facp = 0, apic = 0;
	struct vm v;

	(void)state;
	vm_init(&v, RAM_SIZE);
	rsdp = write_tables(&v, 2);

	x = table(&v, rd64(at(&v, rsdp + 24, 8)), "XSDT", &len);
	assert_int_equal(x[8], 1);
	assert_int_equal(len, HEADER_LEN + 2 * 8);
	for (i = HEADER_LEN; i < len; i += 8) {
		uint64_t t = rd64(x + i);

		if (memcmp(at(&v, t, 4), "FACP", 4) == 0) {
			table(&v, t, "FACP", NULL);
			facp++;
		} else {
			table(&v, t, "APIC", NULL);
			apic++;
		}
	}
	assert_int_equal(facp, 1);
	assert_int_equal(apic, 1);
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
	assert_int_equal(flags & (1u << 20), 0); /* not HW-reduced */
	assert_int_equal(flags & (1u << 4), 1u << 4);

	/* The DSDT: both pointers agree, an empty definition block. */
	dsdt = rd64(f + 140);
	assert_int_equal(rd32(f + 40), dsdt);
	table(&v, dsdt, "DSDT", &len);
	assert_int_equal(len, HEADER_LEN);
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
	assert_int_equal(c.overrides, 2);
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
		cmocka_unit_test(boot_load__acpi_and_mptable_disjoint),
		cmocka_unit_test(boot_load__boot_params_rsdp),
		cmocka_unit_test(boot_load__pvh_rsdp_paddr),
		cmocka_unit_test(boot_load__too_many_cpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
