// SPDX-License-Identifier: Apache-2.0
/*
 * rv_mptable_write(): the tables are parsed back the way a guest would
 * (find "_MP_", check both checksums, walk the typed entries).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raevm/acpi.h"
#include "raevm/boot.h"
#include "raevm/layout.h"
#include "raevm/pci.h"
#include "raevm/mem.h"
#include "raevm/util.h"

#define RAM (2 * RV_MiB)

struct parsed {
	unsigned int cpus, buses, ioapics, intsrc, lintsrc;
	uint8_t cpu_id[256], cpu_flags[256];
	uint8_t ioapic_id;
	uint32_t ioapic_addr;
	int irq_pin[16]; /* -1: no entry */
	uint8_t irq_dst[16];
	uint16_t irq_flags[16];
	uint8_t lint_type[2];
	uint8_t lint_dst[2];
	char bus_type[7];
};

static uint8_t *ram;
static struct rv_mem mem;

static int setup(void **state)
{
	(void)state;
	ram = calloc(1, RAM);
	if (!ram || rv_mem_init_buffer(&mem, ram, RAM, RV_MMIO_HOLE_START))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(ram);
	return 0;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* Parses the tables at addr as a guest would; fails the test if invalid. */
static void parse(uint64_t addr, struct parsed *out)
{
	const uint8_t *mpf = ram + addr, *mpc, *p, *end;
	unsigned int i, count;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < 16; i++)
		out->irq_pin[i] = -1;
	assert_memory_equal(mpf, "_MP_", 4);
	assert_int_equal(mpf[8], 1);
	assert_int_equal(mpf[9], 4);
	assert_int_equal(sum(mpf, 16), 0);
	assert_int_equal(mpf[11], 0); /* a configuration table follows */
	assert_true(rd32(mpf + 4) + 44 <= RAM);
	mpc = ram + rd32(mpf + 4);
	assert_memory_equal(mpc, "PCMP", 4);
	assert_int_equal(mpc[6], 4);
	assert_true(rd32(mpf + 4) + rd16(mpc + 4) <= RAM);
	assert_int_equal(sum(mpc, rd16(mpc + 4)), 0);
	assert_int_equal(rd32(mpc + 36), RV_LAPIC_ADDR);
	count = rd16(mpc + 34);
	p = mpc + 44;
	end = mpc + rd16(mpc + 4);
	for (i = 0; i < count; i++) {
		assert_true(p < end);
		switch (p[0]) {
		case 0:
			out->cpu_id[out->cpus] = p[1];
			out->cpu_flags[out->cpus++] = p[3];
			p += 20;
			continue;
		case 1:
			out->buses++;
			memcpy(out->bus_type, p + 2, 6);
			break;
		case 2:
			out->ioapics++;
			out->ioapic_id = p[1];
			assert_int_equal(p[3] & 1, 1);
			out->ioapic_addr = rd32(p + 4);
			break;
		case 3:
			assert_int_equal(p[1], 0); /* INT */
			assert_int_equal(p[4], 0); /* ISA bus */
			assert_true(p[5] < 16);
			out->irq_pin[p[5]] = p[7];
			out->irq_dst[p[5]] = p[6];
			out->irq_flags[p[5]] = rd16(p + 2);
			out->intsrc++;
			break;
		case 4:
			assert_true(p[7] < 2);
			out->lint_type[p[7]] = p[1];
			out->lint_dst[p[7]] = p[6];
			out->lintsrc++;
			break;
		default:
			fail_msg("unknown MP entry type %u", p[0]);
		}
		p += 8;
	}
	assert_ptr_equal(p, end);
}

static void mptable_write__two_cpus(void **state)
{
	struct parsed t;
	unsigned int i;

	(void)state;
	memset(ram, 0, RAM);
	assert_int_equal(rv_mptable_write(&mem, RV_EBDA_ADDR, 2), 0);
	parse(RV_EBDA_ADDR, &t);
	assert_int_equal(rd32(ram + RV_EBDA_ADDR + 4), RV_EBDA_ADDR + 16);
	assert_int_equal(t.cpus, 2);
	assert_int_equal(t.cpu_id[0], 0);
	assert_int_equal(t.cpu_flags[0], 3); /* enabled, BSP */
	assert_int_equal(t.cpu_id[1], 1);
	assert_int_equal(t.cpu_flags[1], 1); /* enabled */
	assert_int_equal(t.buses, 1);
	assert_string_equal(t.bus_type, "ISA   ");
	assert_int_equal(t.ioapics, 1);
	assert_int_equal(t.ioapic_id, 2);
	assert_int_equal(t.ioapic_addr, RV_IOAPIC_ADDR);
	assert_int_equal(t.intsrc, 15);
	assert_int_equal(t.irq_pin[0], 2);
	assert_int_equal(t.irq_pin[2], -1);
	for (i = 1; i < 16; i++) {
		if (i == 2)
			continue;
		assert_int_equal(t.irq_pin[i], i);
		assert_int_equal(t.irq_dst[i], 2);
	}
	assert_int_equal(t.lintsrc, 2);
	assert_int_equal(t.lint_type[0], 3); /* ExtINT */
	assert_int_equal(t.lint_type[1], 1); /* NMI */
	assert_int_equal(t.lint_dst[0], 0xff);
	/* Nothing written past the table. */
	assert_int_equal(ram[RV_EBDA_ADDR + rv_mptable_size(2)], 0);
	assert_int_not_equal(ram[RV_EBDA_ADDR + rv_mptable_size(2) - 1], 0);
}

/*
 * The SCI and every PCI INTx line are level-triggered, active high
 * (flags 0x0d); every other ISA IRQ conforms to the bus (edge, high).
 */
static void mptable_write__level_irqs(void **state)
{
	uint16_t level = 0;
	unsigned int slot, pin, i;
	struct parsed t;

	(void)state;
	memset(ram, 0, RAM);
	assert_int_equal(rv_mptable_write(&mem, RV_EBDA_ADDR, 1), 0);
	parse(RV_EBDA_ADDR, &t);
	for (slot = 0; slot < RV_PCI_MAX_SLOTS; slot++)
		for (pin = 1; pin <= 4; pin++)
			level |= (uint16_t)(1u << rv_pci_intx_gsi(slot, pin));
	level |= 1u << RV_ACPI_SCI_IRQ;
	assert_int_equal(level, 1u << 5 | 1u << 9 | 1u << 10 | 1u << 11);
	assert_int_equal(rv_acpi_level_irqs(), level);
	for (i = 0; i < 16; i++) {
		if (i == 2)
			continue;
		assert_int_equal(t.irq_flags[i], level & (1u << i) ? 0x0d : 0);
	}
	/* The local interrupt entries keep conforming flags. */
	assert_int_equal(rd16(ram + RV_EBDA_ADDR + rv_mptable_size(1) - 14), 0);
	assert_int_equal(rd16(ram + RV_EBDA_ADDR + rv_mptable_size(1) - 6), 0);
}

static void mptable_write__ebda_capacity(void **state)
{
	struct parsed t;

	(void)state;
	/* The documented EBDA maximum fits its 1 KiB; one more does not. */
	assert_true(rv_mptable_size(RV_MPTABLE_EBDA_MAX_CPUS) <= 1024);
	assert_true(rv_mptable_size(RV_MPTABLE_EBDA_MAX_CPUS + 1) > 1024);
	memset(ram, 0, RAM);
	assert_int_equal(rv_mptable_write(&mem, RV_EBDA_ADDR,
					  RV_MPTABLE_EBDA_MAX_CPUS),
			 0);
	parse(RV_EBDA_ADDR, &t);
	assert_int_equal(t.cpus, RV_MPTABLE_EBDA_MAX_CPUS);
	assert_true(RV_EBDA_ADDR + rv_mptable_size(t.cpus) <= 0xa0000);
}

static void mptable_write__max_cpus(void **state)
{
	struct parsed t;
	unsigned int i;

	(void)state;
	memset(ram, 0, RAM);
	assert_int_equal(rv_mptable_write(&mem, RV_MPTABLE_BIOS_ADDR,
					  RV_MPTABLE_MAX_CPUS),
			 0);
	parse(RV_MPTABLE_BIOS_ADDR, &t);
	assert_int_equal(t.cpus, 254);
	for (i = 0; i < t.cpus; i++) {
		assert_int_equal(t.cpu_id[i], i);
		assert_int_equal(t.cpu_flags[i], i == 0 ? 3 : 1);
	}
	assert_int_equal(t.ioapic_id, 254);
	assert_int_equal(t.irq_dst[5], 254);
	assert_true(RV_MPTABLE_BIOS_ADDR + rv_mptable_size(254) <= 0x100000);
}

static void mptable_write__bad_args(void **state)
{
	(void)state;
	memset(ram, 0, RAM);
	assert_int_equal(rv_mptable_write(&mem, RV_EBDA_ADDR, 0), -EINVAL);
	assert_int_equal(rv_mptable_write(&mem, RV_EBDA_ADDR,
					  RV_MPTABLE_MAX_CPUS + 1),
			 -E2BIG);
	/* Outside guest RAM, or beyond the 32-bit pointer. */
	assert_int_equal(rv_mptable_write(&mem, RAM - 100, 1), -EFAULT);
	assert_int_equal(rv_mptable_write(&mem, 0xfffffff0ULL, 1), -EFAULT);
	assert_int_equal(ram[RV_EBDA_ADDR], 0);
	assert_int_equal(ram[RAM - 100], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mptable_write__two_cpus),
		cmocka_unit_test(mptable_write__level_irqs),
		cmocka_unit_test(mptable_write__ebda_capacity),
		cmocka_unit_test(mptable_write__max_cpus),
		cmocka_unit_test(mptable_write__bad_args),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
