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
 *
 * The default routes match the MP table and the MADT: GSI n reaches PIC pin
 * n (master for 0-7, slave for 8-15) and IOAPIC pin n, except GSI 0 (the
 * PIT), which reaches IOAPIC pin 2 as on PCs, and GSI 2 (the 8259 cascade),
 * which has no route. GSIs 16-23 reach IOAPIC pins 16-23 only.
 *
 * Threads: every function may be called from any thread (vCPU threads
 * program MSI-X vectors); the table is guarded by one lock, held across
 * KVM_SET_GSI_ROUTING so commits reach KVM in order. Failing ioctls are
 * logged with their name; those a guest can provoke (routes built from
 * guest-written MSI addresses) are logged a bounded number of times.
 */
struct rv_vm;
struct rv_irq_routing;

#define RV_IRQ_FIRST_MSI_GSI 24
/* MSI GSIs at most (fewer when KVM's KVM_CAP_IRQ_ROUTING is smaller). */
#define RV_IRQ_MAX_MSI_GSIS 2048

/*
 * Creates vm's routing state (vm->irq) and commits the default table.
 * Needs the in-kernel irqchip. Returns 0, -ENOMEM, -ENOTSUP without
 * KVM_CAP_IRQ_ROUTING, or the ioctl's -errno (logged).
 */
int rv_irq_routing_create(struct rv_vm *vm,
			  struct rv_irq_routing **out) RV_MUST_CHECK;
void rv_irq_routing_destroy(struct rv_irq_routing *routing);

/*
 * Commits the current table again, unchanged (vmm-internal, for vm.c): the
 * ioctl waits for an expedited grace period of KVM's irq SRCU domain, which
 * also ends a slow, timer-paced one that another thread is waiting for.
 * Returns 0 or the ioctl's -errno.
 */
int rv__irq_routing_recommit(struct rv_irq_routing *routing);

/* Allocates a GSI for an MSI route (not yet programmed); -ENOSPC if none. */
int rv_irq_alloc_gsi(struct rv_vm *vm, uint32_t *gsi) RV_MUST_CHECK;
/* Removes gsi's route (committing if it had one) and frees the GSI. */
void rv_irq_free_gsi(struct rv_vm *vm, uint32_t gsi);
/*
 * Points gsi at an MSI (address/data) and commits the table to KVM. The
 * values may come from the guest: KVM validates them. On failure the
 * previous route stays (in raevm's table and in KVM's). Returns 0,
 * -EINVAL for a GSI that is not allocated, or the ioctl's -errno.
 */
int rv_irq_set_msi_route(struct rv_vm *vm, uint32_t gsi, uint64_t addr,
			 uint32_t data) RV_MUST_CHECK;
/* Removes gsi's route (the GSI stays allocated). */
int rv_irq_clear_route(struct rv_vm *vm, uint32_t gsi);
/*
 * Binds (or unbinds) an eventfd to a GSI: a write raises the interrupt.
 * Returns 0, -EINVAL for a bad fd or a GSI past the table, or -errno.
 */
int rv_irqfd(struct rv_vm *vm, int fd, uint32_t gsi, bool assign) RV_MUST_CHECK;
/* Delivers one MSI directly (KVM_SIGNAL_MSI); 0 even when KVM drops it. */
int rv_irq_signal_msi(struct rv_vm *vm, uint64_t addr, uint32_t data);
/*
 * Binds (or unbinds) an eventfd to a guest write at addr (len bytes, MMIO or
 * PIO), optionally only when the written value equals *datamatch. len is
 * 1, 2, 4 or 8, or 0 for an MMIO write of any width (no datamatch then);
 * PIO ranges end at 0x10000. Returns 0, -EINVAL, or the ioctl's -errno.
 */
int rv_ioeventfd(struct rv_vm *vm, uint64_t addr, uint32_t len, bool pio,
		 const uint64_t *datamatch, int fd, bool assign) RV_MUST_CHECK;

#endif
