// SPDX-License-Identifier: Apache-2.0
/*
 * Intel MultiProcessor Specification 1.4 tables: the floating pointer that
 * guests scan for and the configuration table it points to, describing the
 * vCPUs, one ISA bus, the IOAPIC and how the legacy IRQs reach it. Guests
 * without ACPI (the test guests, older kernels) find their CPUs and IOAPIC
 * here; ACPI guests use the MADT (vmm/x86/acpi.c), which describes the same.
 * The SCI and the PCI INTx lines are ISA IRQs here too (rv_acpi_level_irqs),
 * marked level-triggered and active high, as the MADT's overrides say; a
 * guest that reads only this table finds a PCI device's line in its
 * config space (Interrupt Line), which devices/pci fills in.
 *
 * Kernels built without CONFIG_X86_MPPARSE never look for this table.
 * Debian's cloud kernel is one of them: it relies on the MADT.
 */
#include "raevm/boot.h"

#include <errno.h>
#include <string.h>

#include "raevm/acpi.h"
#include "raevm/layout.h"
#include "raevm/mem.h"

#define MPF_SIZE 16
#define MPC_HEADER_SIZE 44
#define MPC_CPU_SIZE 20
#define MPC_SMALL_SIZE 8 /* bus, IOAPIC, I/O and local interrupt entries */
#define MP_SPEC_REV 4	 /* 1.4 */

enum mpc_entry_type {
	MP_PROCESSOR = 0,
	MP_BUS = 1,
	MP_IOAPIC = 2,
	MP_INTSRC = 3,
	MP_LINTSRC = 4,
};

enum mp_irq_type {
	MP_INT = 0,
	MP_NMI = 1,
	MP_EXTINT = 3,
};

#define CPU_ENABLED 0x01
#define CPU_BSP 0x02
#define LAPIC_VERSION 0x14  /* integrated xAPIC, as KVM's reports */
#define IOAPIC_VERSION 0x11 /* 82093AA-compatible, as KVM's reports */
#define IOAPIC_ENABLED 0x01
/* Family 6 signature and CPUID.1:EDX FPU|APIC: informational only. */
#define CPU_SIGNATURE 0x600
#define CPU_FEATURES ((1u << 0) | (1u << 9))
#define ISA_IRQS 16
#define ISA_CASCADE_IRQ 2
/*
 * Interrupt entry flags: polarity in bits 0-1, trigger mode in bits 2-3.
 * 0 "conforms to the bus" means edge-triggered, active high on ISA.
 */
#define MP_IRQ_CONFORMS 0
#define MP_IRQ_ACTIVE_HIGH 0x1
#define MP_IRQ_LEVEL (0x3 << 2)
#define MP_ALL_LAPICS 0xff

/* ISA IRQs 0-15 except the cascade, then LINT0 and LINT1. */
#define NR_INTSRC (ISA_IRQS - 1)
#define NR_LINTSRC 2

size_t rv_mptable_size(unsigned int nr_cpus)
{
	return MPF_SIZE + MPC_HEADER_SIZE + (size_t)nr_cpus * MPC_CPU_SIZE +
	       MPC_SMALL_SIZE * (2 + NR_INTSRC + NR_LINTSRC);
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

/* The byte that makes the sum of p[0..len) zero, with p[at] still 0. */
static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	size_t i;

	for (i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return (uint8_t)-sum;
}

static uint8_t *put_cpu(uint8_t *p, unsigned int id)
{
	p[0] = MP_PROCESSOR;
	p[1] = (uint8_t)id;
	p[2] = LAPIC_VERSION;
	p[3] = CPU_ENABLED | (id == 0 ? CPU_BSP : 0);
	put32(p + 4, CPU_SIGNATURE);
	put32(p + 8, CPU_FEATURES);
	return p + MPC_CPU_SIZE;
}

static uint8_t *put_irq(uint8_t *p, uint8_t type, uint8_t irq_type,
			uint16_t flags, uint8_t src_irq, uint8_t dst_id,
			uint8_t dst_pin)
{
	p[0] = type;
	p[1] = irq_type;
	put16(p + 2, flags);
	p[4] = 0; /* source bus: the ISA bus, ID 0 */
	p[5] = src_irq;
	p[6] = dst_id;
	p[7] = dst_pin;
	return p + MPC_SMALL_SIZE;
}

/* Fills the configuration table (header and entries) at mpc. */
static void build_config(uint8_t *mpc, size_t mpc_len, unsigned int nr_cpus)
{
	uint8_t ioapic_id = (uint8_t)nr_cpus;
	uint8_t *p = mpc + MPC_HEADER_SIZE;
	uint16_t level = rv_acpi_level_irqs();
	unsigned int i;

	memcpy(mpc, "PCMP", 4);
	put16(mpc + 4, (uint16_t)mpc_len);
	mpc[6] = MP_SPEC_REV;
	memcpy(mpc + 8, "RAEVM   ", 8);
	memcpy(mpc + 16, "RAEVM VM    ", 12);
	put16(mpc + 34, (uint16_t)(nr_cpus + 2 + NR_INTSRC + NR_LINTSRC));
	put32(mpc + 36, (uint32_t)RV_LAPIC_ADDR);

	for (i = 0; i < nr_cpus; i++)
		p = put_cpu(p, i);

	p[0] = MP_BUS;
	p[1] = 0;
	memcpy(p + 2, "ISA   ", 6);
	p += MPC_SMALL_SIZE;

	p[0] = MP_IOAPIC;
	p[1] = ioapic_id;
	p[2] = IOAPIC_VERSION;
	p[3] = IOAPIC_ENABLED;
	put32(p + 4, (uint32_t)RV_IOAPIC_ADDR);
	p += MPC_SMALL_SIZE;

	/*
	 * The PIT's IRQ 0 arrives on IOAPIC pin 2, as on PCs (pin 0 carries
	 * the 8259's ExtINT); IRQ 2 is the 8259 cascade and has no pin.
	 */
	for (i = 0; i < ISA_IRQS; i++) {
		uint16_t flags = level & (1u << i) ?
					 MP_IRQ_ACTIVE_HIGH | MP_IRQ_LEVEL :
					 MP_IRQ_CONFORMS;

		if (i == ISA_CASCADE_IRQ)
			continue;
		p = put_irq(p, MP_INTSRC, MP_INT, flags, (uint8_t)i, ioapic_id,
			    (uint8_t)(i == 0 ? 2 : i));
	}
	p = put_irq(p, MP_LINTSRC, MP_EXTINT, MP_IRQ_CONFORMS, 0, MP_ALL_LAPICS,
		    0);
	put_irq(p, MP_LINTSRC, MP_NMI, MP_IRQ_CONFORMS, 0, MP_ALL_LAPICS, 1);

	mpc[7] = checksum(mpc, mpc_len);
}

int rv_mptable_write(struct rv_mem *mem, uint64_t addr, unsigned int nr_cpus)
{
	uint8_t buf[MPF_SIZE + MPC_HEADER_SIZE +
		    RV_MPTABLE_MAX_CPUS * MPC_CPU_SIZE +
		    MPC_SMALL_SIZE * (2 + NR_INTSRC + NR_LINTSRC)];
	size_t len = rv_mptable_size(nr_cpus);
	uint8_t *mpf = buf;

	if (nr_cpus == 0)
		return -EINVAL;
	if (nr_cpus > RV_MPTABLE_MAX_CPUS)
		return -E2BIG;
	/* The floating pointer holds a 32-bit physical address. */
	if (addr > UINT32_MAX - len)
		return -EFAULT;
	memset(buf, 0, len);

	memcpy(mpf, "_MP_", 4);
	put32(mpf + 4, (uint32_t)(addr + MPF_SIZE));
	mpf[8] = 1; /* length in 16-byte units */
	mpf[9] = MP_SPEC_REV;
	/* Feature bytes 0: a configuration table follows, no IMCR. */
	mpf[10] = checksum(mpf, MPF_SIZE);

	build_config(buf + MPF_SIZE, len - MPF_SIZE, nr_cpus);
	return rv_mem_write(mem, addr, buf, len);
}
