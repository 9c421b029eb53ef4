/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_IRQ_H
#define RAEVM_IRQ_H

#include <stdbool.h>
#include <stdint.h>

#include "raevm/util.h"

/*
 * Interrupt routing (vmm/irq.c): the VM's KVM GSI routing table (the default
 * PIC/IOAPIC routes for GSIs 0-23 plus MSI routes the devices allocate),
 * irqfds and ioeventfds. Setting the table replaces KVM's default one, so
 * the default routes are always part of it.
 */
struct rv_vm;

#define RV_IRQ_FIRST_MSI_GSI 24

/* Allocates a GSI for an MSI route (not yet programmed). */
int rv_irq_alloc_gsi(struct rv_vm *vm, uint32_t *gsi) RV_MUST_CHECK;
void rv_irq_free_gsi(struct rv_vm *vm, uint32_t gsi);
/* Points gsi at an MSI (address/data) and commits the table to KVM. */
int rv_irq_set_msi_route(struct rv_vm *vm, uint32_t gsi, uint64_t addr,
			 uint32_t data) RV_MUST_CHECK;
/* Removes gsi's route (the GSI stays allocated). */
int rv_irq_clear_route(struct rv_vm *vm, uint32_t gsi);
/* Binds (or unbinds) an eventfd to a GSI: a write raises the interrupt. */
int rv_irqfd(struct rv_vm *vm, int fd, uint32_t gsi,
	     bool assign) RV_MUST_CHECK;
/* Delivers one MSI directly (KVM_SIGNAL_MSI). */
int rv_irq_signal_msi(struct rv_vm *vm, uint64_t addr, uint32_t data);
/*
 * Binds (or unbinds) an eventfd to a guest write at addr (len bytes, MMIO or
 * PIO), optionally only when the written value equals *datamatch.
 */
int rv_ioeventfd(struct rv_vm *vm, uint64_t addr, uint32_t len, bool pio,
		 const uint64_t *datamatch, int fd, bool assign) RV_MUST_CHECK;

#endif
