/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Local APIC (xAPIC, MMIO), IOAPIC and the legacy 8259 pair.
 */
#include "internal.h"

#define LAPIC_ID 0x020
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_ESR 0x280
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_LINT0 0x350

#define APIC_BASE_ENABLE (1ULL << 11)
#define SVR_ENABLE 0x100
#define LVT_MASKED 0x10000
#define ICR_BUSY 0x1000
#define ICR_FIXED 0x000
#define ICR_INIT 0x500
#define ICR_STARTUP 0x600
#define ICR_ASSERT 0x4000
#define ICR_LEVEL 0x8000

#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN 0x10
#define IOAPIC_VER 0x01
#define IOAPIC_REDTBL(pin) (0x10 + 2 * (pin))
#define REDTBL_ACTIVE_LOW (1U << 13)
#define REDTBL_LEVEL (1U << 15)
#define REDTBL_MASKED (1U << 16)

/* MP table interrupt flags (MP spec table 4-10). */
#define MP_POLARITY_MASK 0x3
#define MP_POLARITY_LOW 0x3
#define MP_TRIGGER_MASK 0xc
#define MP_TRIGGER_LEVEL 0xc

/* How long an IPI may stay pending before we call the LAPIC broken. */
#define ICR_TIMEOUT_US 100000

static uint64_t lapic_base(void)
{
	return rdmsr(MSR_APIC_BASE) & 0xfffff000ULL;
}

static uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(lapic_base() + reg);
}

static void lapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(lapic_base() + reg, v);
}

void lapic_init(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE);

	if (!(base & APIC_BASE_ENABLE))
		wrmsr(MSR_APIC_BASE, base | APIC_BASE_ENABLE);
	lapic_write(LAPIC_TPR, 0);
	/* The 8259s are masked; LINT0 (ExtINT) is masked as well so a PIC
	 * interrupt cannot arrive under a vector we do not expect. */
	lapic_write(LAPIC_LVT_LINT0, lapic_read(LAPIC_LVT_LINT0) | LVT_MASKED);
	lapic_write(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
}

uint32_t lapic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

static int icr_wait_idle(void)
{
	uint64_t deadline = tsc_deadline_us(ICR_TIMEOUT_US);

	while (lapic_read(LAPIC_ICR_LO) & ICR_BUSY) {
		if (rdtsc() > deadline)
			return -ETIMEDOUT;
		cpu_pause();
	}
	return 0;
}

static int send_icr(uint32_t apic_id, uint32_t lo)
{
	int r;

	if (apic_id > 0xff)
		return -EINVAL;
	r = icr_wait_idle();
	if (r)
		return r;
	lapic_write(LAPIC_ESR, 0);
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, lo);
	return icr_wait_idle();
}

int lapic_send_init(uint32_t apic_id)
{
	int r = send_icr(apic_id, ICR_INIT | ICR_LEVEL | ICR_ASSERT);

	if (r)
		return r;
	/* The de-assert is what MP spec B.4 asks of older APICs; newer ones
	 * ignore it. */
	return send_icr(apic_id, ICR_INIT | ICR_LEVEL);
}

int lapic_send_sipi(uint32_t apic_id, uint8_t page)
{
	return send_icr(apic_id, ICR_STARTUP | page);
}

int lapic_send_ipi(uint32_t apic_id, uint8_t vector)
{
	if (vector < VEC_USER_FIRST)
		return -EINVAL;
	return send_icr(apic_id, ICR_FIXED | ICR_ASSERT | vector);
}

static uint32_t ioapic_read(uint64_t base, uint32_t reg)
{
	mmio_write32(base + IOAPIC_REGSEL, reg);
	return mmio_read32(base + IOAPIC_WIN);
}

static void ioapic_write(uint64_t base, uint32_t reg, uint32_t v)
{
	mmio_write32(base + IOAPIC_REGSEL, reg);
	mmio_write32(base + IOAPIC_WIN, v);
}

/*
 * Where ISA IRQ irq enters an IOAPIC: the MP table's assignment, else the
 * first IOAPIC, pin = irq, bus-default (edge, active high) signalling.
 */
static void isa_irq_pin(unsigned int irq, uint64_t *base, unsigned int *pin,
			uint16_t *flags)
{
	const struct mp_info *mp = mp_info();

	*base = mp->nr_ioapics ? mp->ioapics[0].addr : IOAPIC_DEFAULT_ADDR;
	*pin = irq;
	*flags = 0;
	for (unsigned int i = 0; i < mp->nr_isa_irqs; i++) {
		const struct mp_isa_irq *e = &mp->isa_irqs[i];

		if (e->src_irq != irq)
			continue;
		for (unsigned int j = 0; j < mp->nr_ioapics; j++) {
			if (mp->ioapics[j].id == e->ioapic_id)
				*base = mp->ioapics[j].addr;
		}
		*pin = e->pin;
		*flags = e->flags;
		return;
	}
}

static int ioapic_set_pin(unsigned int irq, uint32_t lo, uint32_t hi)
{
	unsigned int pin, max_pin;
	uint64_t base;
	uint16_t flags;

	if (irq > 15)
		return -EINVAL;
	isa_irq_pin(irq, &base, &pin, &flags);
	max_pin = (ioapic_read(base, IOAPIC_VER) >> 16) & 0xff;
	if (pin > max_pin) {
		printf("guest: ISA IRQ %u maps to IOAPIC pin %u, the IOAPIC at "
		       "%#lx has pins 0-%u\n",
		       irq, pin, (unsigned long)base, max_pin);
		return -ENODEV;
	}
	if ((flags & MP_POLARITY_MASK) == MP_POLARITY_LOW)
		lo |= REDTBL_ACTIVE_LOW;
	if ((flags & MP_TRIGGER_MASK) == MP_TRIGGER_LEVEL)
		lo |= REDTBL_LEVEL;
	/* Mask first so the pin never fires half-programmed. */
	ioapic_write(base, IOAPIC_REDTBL(pin), REDTBL_MASKED);
	ioapic_write(base, IOAPIC_REDTBL(pin) + 1, hi);
	ioapic_write(base, IOAPIC_REDTBL(pin), lo);
	return 0;
}

int ioapic_route_isa_irq(unsigned int irq, unsigned int vector,
			 uint32_t dest_apic)
{
	if (vector < VEC_USER_FIRST || vector > VEC_USER_LAST ||
	    dest_apic > 0xff)
		return -EINVAL;
	/* Fixed delivery, physical destination, unmasked. */
	return ioapic_set_pin(irq, vector, dest_apic << 24);
}

int ioapic_mask_isa_irq(unsigned int irq)
{
	return ioapic_set_pin(irq, REDTBL_MASKED, 0);
}

/*
 * Finds the IOAPIC and pin of gsi: the MP table's IOAPICs in table order,
 * each covering as many GSIs as it has pins, else the default IOAPIC.
 */
static int gsi_pin(unsigned int gsi, uint64_t *base, unsigned int *pin)
{
	const struct mp_info *mp = mp_info();
	unsigned int first = 0, n = mp->nr_ioapics ? mp->nr_ioapics : 1;

	for (unsigned int i = 0; i < n; i++) {
		uint64_t b = mp->nr_ioapics ? mp->ioapics[i].addr :
					      IOAPIC_DEFAULT_ADDR;
		unsigned int pins =
			((ioapic_read(b, IOAPIC_VER) >> 16) & 0xff) + 1;

		if (gsi < first + pins) {
			*base = b;
			*pin = gsi - first;
			return 0;
		}
		first += pins;
	}
	return -ENODEV;
}

int ioapic_route_gsi(unsigned int gsi, unsigned int vector, uint32_t dest_apic,
		     bool level, bool active_low)
{
	uint32_t lo = vector;
	unsigned int pin;
	uint64_t base;
	int r;

	if (vector < VEC_USER_FIRST || vector > VEC_USER_LAST ||
	    dest_apic > 0xff || gsi > 255)
		return -EINVAL;
	r = gsi_pin(gsi, &base, &pin);
	if (r)
		return r;
	if (level)
		lo |= REDTBL_LEVEL;
	if (active_low)
		lo |= REDTBL_ACTIVE_LOW;
	ioapic_write(base, IOAPIC_REDTBL(pin), REDTBL_MASKED);
	ioapic_write(base, IOAPIC_REDTBL(pin) + 1, dest_apic << 24);
	ioapic_write(base, IOAPIC_REDTBL(pin), lo);
	return 0;
}

int ioapic_mask_gsi(unsigned int gsi)
{
	unsigned int pin;
	uint64_t base;
	int r;

	if (gsi > 255)
		return -EINVAL;
	r = gsi_pin(gsi, &base, &pin);
	if (r)
		return r;
	ioapic_write(base, IOAPIC_REDTBL(pin), REDTBL_MASKED);
	return 0;
}

void pic_disable(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}
