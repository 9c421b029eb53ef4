/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_VCPU_H
#define RAEVM_VCPU_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "raevm/util.h"

/*
 * Exit decoding: a pure function from a kvm_run page to a description of
 * what the vCPU wants. It checks that the offsets KVM reports stay inside
 * the mapping, so a corrupted page cannot steer the VMM outside it.
 */
enum rv_exit_kind {
	RV_EXIT_IO_IN,
	RV_EXIT_IO_OUT,
	RV_EXIT_MMIO_READ,
	RV_EXIT_MMIO_WRITE,
	RV_EXIT_HLT,
	RV_EXIT_SHUTDOWN,     /* triple fault: the guest reset itself */
	RV_EXIT_SYSTEM_RESET, /* KVM_SYSTEM_EVENT_RESET */
	RV_EXIT_SYSTEM_OFF,   /* KVM_SYSTEM_EVENT_SHUTDOWN */
	RV_EXIT_INTR,	      /* KVM_EXIT_INTR: a kick from the VMM */
	RV_EXIT_INTERNAL_ERROR,
	RV_EXIT_FAIL_ENTRY,
	RV_EXIT_UNKNOWN, /* an exit reason raevm does not handle */
	RV_EXIT_INVALID, /* the page itself is inconsistent */
};

struct rv_exit {
	enum rv_exit_kind kind;
	uint32_t reason;     /* the raw exit_reason */
	uint64_t addr;	     /* port or guest physical address */
	uint32_t size;	     /* bytes per access: 1, 2, 4 (8 for MMIO) */
	uint32_t count;	     /* repetitions (string I/O); 1 for MMIO */
	uint8_t *data;	     /* inside the kvm_run page */
	uint32_t suberror;   /* internal error suberror; system event type */
	uint64_t hw_reason;  /* fail_entry reason */
	const uint8_t *insn; /* emulation failure: instruction bytes or NULL */
	uint32_t insn_len;
};

/*
 * Decodes run (a mapping of run_size bytes). Returns the kind; out is filled
 * in for every kind. Never reads outside [run, run + run_size).
 */
enum rv_exit_kind rv_exit_decode(struct kvm_run *run, size_t run_size,
				 struct rv_exit *out);

/* Human name of an exit kind, for logs. */
const char *rv_exit_kind_name(enum rv_exit_kind kind);

struct rv_vm;

/*
 * One virtual CPU and its thread. The thread loops on KVM_RUN and routes
 * port and MMIO exits through the VM's buses. It is stopped or paused by
 * setting a flag, setting kvm_run.immediate_exit and signalling the thread,
 * so no request waits on a timer.
 */
struct rv_vcpu {
	struct rv_vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	uint64_t exits;	     /* exits handled, for statistics */
	bool thread_started; /* main thread only */
	bool running;	     /* thread alive; under vm->lock */
	pthread_t thread;
};

int rv_vcpu_create(struct rv_vm *vm, unsigned int id,
		   struct rv_vcpu **out) RV_MUST_CHECK;
void rv_vcpu_destroy(struct rv_vcpu *vcpu);

struct rv_boot_entry;

/* Loads the boot register state (regs, sregs, FPU) into the BSP. */
int rv_vcpu_setup_boot(struct rv_vcpu *vcpu,
		       const struct rv_boot_entry *entry) RV_MUST_CHECK;

/* Starts the vCPU's thread. */
int rv_vcpu_start(struct rv_vcpu *vcpu) RV_MUST_CHECK;

/*
 * Kicks the vCPU out of KVM_RUN (the VM's flags say why). The caller holds
 * vm->lock, so the thread cannot end between the check and the signal.
 */
void rv_vcpu_kick(struct rv_vcpu *vcpu);

/* Installs the kick signal's handler; once per process, before vCPUs run. */
int rv__vcpu_init_signals(void) RV_MUST_CHECK;

/* Handles one decoded exit; returns 0 to keep running, 1 to stop the vCPU. */
int rv_vcpu_handle_exit(struct rv_vcpu *vcpu, struct rv_exit *exit);

#endif
