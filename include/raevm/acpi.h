/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_ACPI_H
#define RAEVM_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "raevm/util.h"

struct rv_mem;

/*
 * Static ACPI tables for x86 guests (vmm/x86/acpi.c): RSDP, XSDT, FADT,
 * FACS, MADT and a minimal DSDT, written once before the first vCPU runs.
 *
 * They live in [RV_ACPI_BASE, RV_ACPI_LIMIT), inside the e820-reserved
 * legacy area, with the RSDP first: 16-byte aligned in 0xe0000-0xfffff, so
 * a guest that scans the BIOS area finds it as well as one that is handed
 * its address (boot_params.acpi_rsdp_addr, hvm_start_info.rsdp_paddr). The
 * window ends where the MP table's BIOS-area placement begins
 * (RV_MPTABLE_BIOS_ADDR), so the two never overlap.
 */
#define RV_ACPI_BASE 0xe0000ULL
#define RV_ACPI_LIMIT 0xf0000ULL
#define RV_ACPI_RSDP_ADDR RV_ACPI_BASE

/*
 * The MADT gives every vCPU an 8-bit APIC ID equal to its index and the
 * IOAPIC the ID nr_cpus; 255 is the broadcast ID and the processor UID
 * 0xff means "all processors" in the LAPIC NMI entry, hence 254.
 */
#define RV_ACPI_MAX_CPUS 254

/*
 * The hardware model the FADT describes: minimal fixed hardware, no SMM
 * (SMI_CMD 0: the platform is always in ACPI mode), no PM timer, no GPE
 * blocks. The PM1a event (status + enable) and control blocks sit at
 * these I/O ports and the SCI is ISA IRQ 9, level-triggered and active
 * high through a MADT interrupt source override, as KVM's in-kernel
 * PIC/IOAPIC deliver a line held at 1. No device claims the ports yet:
 * reads return all ones and writes are dropped, which ACPICA tolerates
 * as long as the SCI never fires. The power-button/S5 work adds a device
 * here (see docs/architecture.md, "ACPI").
 */
#define RV_ACPI_SCI_IRQ 9
#define RV_ACPI_PM1A_EVT_PORT 0x600
#define RV_ACPI_PM1_EVT_LEN 4
#define RV_ACPI_PM1A_CNT_PORT 0x604
#define RV_ACPI_PM1_CNT_LEN 2

/* What the tables describe; grows with the platform (PCI, devices). */
struct rv_acpi_config {
	unsigned int nr_cpus;
};

/*
 * Bytes from RV_ACPI_BASE to the end of the last table for nr_cpus vCPUs,
 * or 0 when nr_cpus is 0 or above RV_ACPI_MAX_CPUS.
 */
size_t rv_acpi_size(unsigned int nr_cpus);

/*
 * Writes all tables through rv_mem and stores the RSDP's guest physical
 * address in *rsdp. Returns 0, -EINVAL for 0 vCPUs, -E2BIG above
 * RV_ACPI_MAX_CPUS, -EFAULT when the window is not guest RAM. Guest RAM
 * is left untouched on -EINVAL and -E2BIG.
 */
int rv_acpi_write(struct rv_mem *mem, const struct rv_acpi_config *cfg,
		  uint64_t *rsdp) RV_MUST_CHECK;

#endif
