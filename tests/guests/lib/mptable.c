/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel MultiProcessor Specification 1.4 tables: the floating pointer
 * ("_MP_") is searched in the first KiB of the EBDA, the last KiB of base
 * memory and the BIOS ROM (0xF0000-0xFFFFF); the configuration table
 * ("PCMP") it points at lists processors, buses, IOAPICs and interrupt
 * assignments. The tables come from the VMM, so every length, count and
 * address is checked before it is followed.
 */
#include "internal.h"

#define MPF_SIG 0x5f504d5fU  /* "_MP_" */
#define PCMP_SIG 0x504d4350U /* "PCMP" */
#define PCMP_MAX_LEN 0x10000 /* far above anything a VMM writes */

#define MP_PROCESSOR 0
#define MP_BUS 1
#define MP_IOAPIC 2
#define MP_IOINTR 3
#define MP_LINTR 4

#define MP_CPU_ENABLED 0x01
#define MP_CPU_BSP 0x02
#define MP_IOAPIC_ENABLED 0x01
#define MP_INT_TYPE_INT 0

struct mpf {
	uint32_t signature;
	uint32_t physptr;
	uint8_t length; /* in 16-byte units, 1 */
	uint8_t spec_rev;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct pcmp {
	uint32_t signature;
	uint16_t length;
	uint8_t spec_rev;
	uint8_t checksum;
	char oem_id[8];
	char product_id[12];
	uint32_t oem_table;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_addr;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mp_cpu_entry {
	uint8_t type;
	uint8_t apic_id;
	uint8_t apic_ver;
	uint8_t flags;
	uint32_t signature;
	uint32_t features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mp_bus_entry {
	uint8_t type;
	uint8_t bus_id;
	char bus_type[6];
} __attribute__((packed));

struct mp_ioapic_entry {
	uint8_t type;
	uint8_t id;
	uint8_t version;
	uint8_t flags;
	uint32_t addr;
} __attribute__((packed));

struct mp_intr_entry {
	uint8_t type;
	uint8_t int_type;
	uint16_t flags;
	uint8_t src_bus;
	uint8_t src_irq;
	uint8_t dst_apic;
	uint8_t dst_pin;
} __attribute__((packed));

_Static_assert(sizeof(struct mpf) == 16, "mpf size");
_Static_assert(sizeof(struct pcmp) == 44, "pcmp size");
_Static_assert(sizeof(struct mp_cpu_entry) == 20, "cpu entry size");

static struct mp_info info;
static bool parsed;
static bool isa_bus[256];

static bool checksum_ok(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += p[i];
	return sum == 0;
}

static const struct mpf *scan(uint32_t start, uint32_t len)
{
	for (uint32_t a = start; a + 16 <= start + len; a += 16) {
		const struct mpf *f = phys_ptr(a);

		if (f->signature != MPF_SIG || f->length != 1)
			continue;
		if (checksum_ok(phys_ptr(a), 16))
			return f;
	}
	return NULL;
}

static const struct mpf *find_floating(void)
{
	uint16_t ebda_seg = *(volatile uint16_t *)phys_ptr(0x40e);
	uint32_t base_kib = *(volatile uint16_t *)phys_ptr(0x413);
	uint32_t ebda = (uint32_t)ebda_seg << 4;
	const struct mpf *f = NULL;

	/* The BDA words are only hints: a VMM may leave them zero. */
	if (ebda >= 0x80000 && ebda < 0xa0000)
		f = scan(ebda, 1024);
	if (!f && base_kib >= 512 && base_kib <= 640)
		f = scan(base_kib * 1024 - 1024, 1024);
	if (!f)
		f = scan(0x9fc00, 1024);
	if (!f)
		f = scan(0xf0000, 0x10000);
	return f;
}

static void add_cpu(uint8_t apic_id, bool bsp)
{
	if (info.nr_cpus >= GUEST_MAX_CPUS) {
		info.nr_cpus_ignored++;
		return;
	}
	if (bsp && info.bsp < 0)
		info.bsp = (int)info.nr_cpus;
	info.apic_ids[info.nr_cpus++] = apic_id;
}

static void add_intr(const struct mp_intr_entry *e)
{
	struct mp_isa_irq *irq;

	if (e->int_type != MP_INT_TYPE_INT || !isa_bus[e->src_bus])
		return;
	if (info.nr_isa_irqs >= MP_MAX_ISA_IRQS)
		return;
	irq = &info.isa_irqs[info.nr_isa_irqs++];
	irq->src_irq = e->src_irq;
	irq->ioapic_id = e->dst_apic;
	irq->pin = e->dst_pin;
	irq->flags = e->flags;
}

/*
 * Walks the base table; stops at the first entry that does not fit. The
 * table's length bounds the walk. Its entry count does too when it is not
 * zero: some firmware (qboot) writes zero there, and Linux walks by length.
 */
static void parse_entries(const uint8_t *p, const uint8_t *end,
			  unsigned int count)
{
	if (!count)
		count = UINT32_MAX;
	for (unsigned int i = 0; i < count && p < end; i++) {
		size_t size = *p == MP_PROCESSOR ? 20 : 8;

		if (*p > MP_LINTR || (size_t)(end - p) < size) {
			printf("guest: MP table entry %u (type %u) is bad, "
			       "ignoring the rest\n",
			       i, *p);
			return;
		}
		if (*p == MP_PROCESSOR) {
			const struct mp_cpu_entry *c = (const void *)p;

			if (c->flags & MP_CPU_ENABLED)
				add_cpu(c->apic_id, c->flags & MP_CPU_BSP);
		} else if (*p == MP_BUS) {
			const struct mp_bus_entry *b = (const void *)p;

			isa_bus[b->bus_id] = !memcmp(b->bus_type, "ISA", 3);
		} else if (*p == MP_IOAPIC) {
			const struct mp_ioapic_entry *a = (const void *)p;

			if ((a->flags & MP_IOAPIC_ENABLED) &&
			    info.nr_ioapics < MP_MAX_IOAPICS) {
				info.ioapics[info.nr_ioapics].id = a->id;
				info.ioapics[info.nr_ioapics].addr = a->addr;
				info.nr_ioapics++;
			}
		} else if (*p == MP_IOINTR) {
			add_intr((const void *)p);
		}
		p += size;
	}
}

/* MP spec chapter 5: a default configuration has no table. */
static void default_config(uint8_t type)
{
	printf("guest: MP default configuration %u\n", type);
	add_cpu(0, true);
	add_cpu(1, false);
	info.lapic_addr = LAPIC_DEFAULT_ADDR;
	info.ioapics[0].id = 2;
	info.ioapics[0].addr = IOAPIC_DEFAULT_ADDR;
	info.nr_ioapics = 1;
	info.found = true;
}

static void parse(void)
{
	const struct mpf *f = find_floating();
	const struct pcmp *t;

	info.bsp = -1;
	if (!f)
		return;
	info.floating_addr = (uint32_t)(uintptr_t)f;
	if (f->feature[0]) {
		default_config(f->feature[0]);
		return;
	}
	if (!f->physptr || f->physptr > 0xffffffffU - PCMP_MAX_LEN) {
		printf("guest: MP floating pointer at %#x: bad table address "
		       "%#x\n",
		       info.floating_addr, f->physptr);
		return;
	}
	t = phys_ptr(f->physptr);
	if (t->signature != PCMP_SIG || t->length < sizeof(*t) ||
	    !checksum_ok((const uint8_t *)t, t->length)) {
		printf("guest: MP configuration table at %#x is bad "
		       "(signature, length %u or checksum)\n",
		       f->physptr, t->length);
		return;
	}
	info.config_addr = f->physptr;
	info.lapic_addr = t->lapic_addr ? t->lapic_addr : LAPIC_DEFAULT_ADDR;
	parse_entries((const uint8_t *)(t + 1), (const uint8_t *)t + t->length,
		      t->entry_count);
	info.found = true;
}

const struct mp_info *mp_info(void)
{
	if (!parsed) {
		parse();
		parsed = true;
	}
	return &info;
}

unsigned int mp_cpu_count(void)
{
	return mp_info()->nr_cpus;
}
