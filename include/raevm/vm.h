/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_VM_H
#define RAEVM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "raevm/util.h"

struct rv_kvm;
struct rv_mem;
struct rv_bus;
struct rv_vcpu;
struct rv_vm_config;
struct rv_cpu_template;
struct rv_irq_routing;

/* Why a VM stopped; the first reason recorded wins. */
enum rv_stop_reason {
	RV_STOP_NONE = 0,
	RV_STOP_GUEST_EXIT,	/* debug-exit port: exit code from the guest */
	RV_STOP_GUEST_RESET,	/* i8042 reset or triple fault */
	RV_STOP_GUEST_POWEROFF, /* ACPI S5 (later) */
	RV_STOP_HOST_REQUEST,	/* Ctrl-C, SIGTERM, daemon stop */
	RV_STOP_ERROR,		/* an internal error or an unrecoverable exit */
};

enum rv_vm_state {
	RV_VM_CREATED,
	RV_VM_RUNNING,
	RV_VM_PAUSED,
	RV_VM_STOPPED,
};

#define RV_VM_MAX_VCPUS 254 /* MP table: APIC IDs 0..253, IOAPIC 254 */

/*
 * A VM: the KVM VM fd, guest memory, the two buses and the vCPUs.
 * It knows nothing of particular devices; devices attach through the buses,
 * the irq functions and memory. Threads: vCPU threads call into the buses;
 * any thread may call rv_vm_request_stop(); pause/resume/wait belong to the
 * controlling (main) thread.
 */
struct rv_vm {
	struct rv_kvm *kvm;
	int fd;
	struct rv_mem *mem;
	struct rv_bus *pio;
	struct rv_bus *mmio;
	unsigned int nr_vcpus;
	struct rv_vcpu *vcpus[RV_VM_MAX_VCPUS];
	const struct rv_cpu_template *cpu_template;
	struct rv_irq_routing *irq; /* GSI routing, irqfds (vmm/irq.c) */
	/*
	 * The set-up thread that switches PIT tick reinjection off (vm.c):
	 * started by rv_vm_create(), joined before the first vCPU starts.
	 */
	pthread_t pit_thread;
	bool pit_thread_started; /* main thread only */
	bool pit_thread_done;	 /* atomic: its ioctl has returned */
	/* Under vm->lock, signalled on vm->cond: ns when it made it, or 0. */
	uint64_t pit_thread_entered;

	pthread_mutex_t lock; /* protects everything below */
	pthread_cond_t cond;
	enum rv_vm_state state;
	enum rv_stop_reason stop_reason;
	int exit_code;
	bool stop_requested;
	bool pause_requested;
	unsigned int vcpus_paused;
	unsigned int vcpus_running;
	/* Called (from any thread, without vm->lock) once the VM must stop. */
	void (*on_stop)(void *opaque);
	void *on_stop_opaque;
};

/*
 * Creates the KVM VM: memory, in-kernel irqchip and PIT, the buses and
 * cfg->cpus vCPUs (threads not started). Validates cpus and memory against
 * KVM and the host, logging one line per failure.
 */
int rv_vm_create(struct rv_kvm *kvm, const struct rv_vm_config *cfg,
		 struct rv_vm **out) RV_MUST_CHECK;
void rv_vm_destroy(struct rv_vm *vm);

/* Starts every vCPU thread. */
int rv_vm_start(struct rv_vm *vm) RV_MUST_CHECK;

/*
 * Records a stop reason (the first wins) and kicks every vCPU out of
 * KVM_RUN. Safe from any thread, including vCPU threads and device code.
 */
void rv_vm_request_stop(struct rv_vm *vm, enum rv_stop_reason reason,
			int exit_code);

/* Pauses every vCPU and returns once all are out of KVM_RUN. */
int rv_vm_pause(struct rv_vm *vm);
int rv_vm_resume(struct rv_vm *vm);

/* Waits for every vCPU thread to end; returns the stop reason. */
enum rv_stop_reason rv_vm_wait(struct rv_vm *vm, int *exit_code);

/* Interrupt lines (ISA IRQs / IOAPIC pins) through KVM_IRQ_LINE. */
int rv_vm_irq_line(struct rv_vm *vm, uint32_t gsi, int level);
/* An edge: raise then lower. */
int rv_vm_irq_pulse(struct rv_vm *vm, uint32_t gsi);

const char *rv_stop_reason_name(enum rv_stop_reason reason);

#endif
