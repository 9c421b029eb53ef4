/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_ACPI_H
#define RAEVM_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "raevm/util.h"

struct rv_mem;

/*
 * Static ACPI tables for x86 guests (vmm/x86/acpi.c): RSDP, XSDT, FADT,
 * FACS, MADT, MCFG and a DSDT (\_S5, the PCI root bridge, motherboard
 * resources, COM1 and the RTC), written once before the first vCPU runs.
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
 * (SMI_CMD 0: the platform is always in ACPI mode, so SCI_EN reads 1), no
 * PM timer, no GPE blocks. The PM1a event (status + enable) and control
 * blocks sit at these I/O ports, answered by the ACPI PM device
 * (devices/legacy/acpi_pm.c), and the SCI is ISA IRQ 9, level-triggered
 * and active high through a MADT interrupt source override, as KVM's
 * in-kernel PIC/IOAPIC deliver a line held at 1.
 */
#define RV_ACPI_SCI_IRQ 9
#define RV_ACPI_PM1A_EVT_PORT 0x600
#define RV_ACPI_PM1_EVT_LEN 4
#define RV_ACPI_PM1A_CNT_PORT 0x604
#define RV_ACPI_PM1_CNT_LEN 2

/* PM1 register bits (ACPI 6.3, 4.8.3.1 and 4.8.3.2). */
#define RV_ACPI_PM1_STS_PWRBTN 0x0100 /* write 1 to clear */
#define RV_ACPI_PM1_STS_WAK 0x8000    /* write 1 to clear */
#define RV_ACPI_PM1_EN_PWRBTN 0x0100
#define RV_ACPI_PM1_CNT_SCI_EN 0x0001
#define RV_ACPI_PM1_CNT_SLP_TYP_SHIFT 10
#define RV_ACPI_PM1_CNT_SLP_TYP_MASK 0x1c00
#define RV_ACPI_PM1_CNT_SLP_EN 0x2000 /* write-only: enter SLP_TYP */

/*
 * The SLP_TYP value of soft-off: the DSDT's \_S5 package names it and the
 * PM device ends the VM (RV_STOP_GUEST_POWEROFF) when the guest writes it
 * with SLP_EN. No other sleep state is declared.
 */
#define RV_ACPI_SLP_TYP_S5 5

/*
 * ISA IRQs the board wires level-triggered and active high: the SCI and
 * the PCI INTx lines (rv_pci_intx_gsi). Bit n is IRQ n. The MADT's
 * interrupt source overrides and the MP table's interrupt entries say so
 * for each of them; every other ISA IRQ stays edge-triggered.
 */
uint16_t rv_acpi_level_irqs(void);

/* What the tables describe beyond the fixed board. */
struct rv_acpi_config {
	unsigned int nr_cpus;
	/*
	 * The PCI 64-bit MMIO window (rv_pci_vm_mmio64_window()) for the
	 * root bridge's _CRS; size 0 leaves it out.
	 */
	uint64_t pci_mmio64_base;
	uint64_t pci_mmio64_size;
};

/*
 * Bytes from RV_ACPI_BASE to the end of the last table for nr_cpus vCPUs
 * at most (the DSDT is shorter without a 64-bit PCI window), or 0 when
 * nr_cpus is 0 or above RV_ACPI_MAX_CPUS.
 */
size_t rv_acpi_size(unsigned int nr_cpus);

/*
 * Writes all tables through rv_mem and stores the RSDP's guest physical
 * address in *rsdp. Returns 0, -EINVAL for 0 vCPUs or a 64-bit window
 * that wraps, -E2BIG above RV_ACPI_MAX_CPUS, -EFAULT when the window is
 * not guest RAM. Guest RAM is left untouched on -EINVAL and -E2BIG.
 */
int rv_acpi_write(struct rv_mem *mem, const struct rv_acpi_config *cfg,
		  uint64_t *rsdp) RV_MUST_CHECK;

/*
 * The ACPI PM device (devices/legacy/acpi_pm.c, rv_acpi_pm_type in the
 * board table): the PM1a event and control blocks and the SCI.
 *
 * rv_acpi_pm_press_power_button() is the fixed power button: it sets
 * PWRBTN_STS and raises the SCI if the guest enabled the event
 * (PWRBTN_EN). A guest that has not enabled it yet (still booting, or no
 * ACPI driver) sees the status bit but gets no interrupt; whether it then
 * shuts down is its business, so callers pair a press with a deadline.
 * Safe from any thread. Returns 0, -EINVAL for a NULL pm.
 */
struct rv_acpi_pm;
int rv_acpi_pm_press_power_button(struct rv_acpi_pm *pm);

#endif
