/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_KVM_H
#define RAEVM_KVM_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "raevm/util.h"

/*
 * The /dev/kvm system handle. Opening it checks the API version and every
 * capability raevm relies on; each failure is reported as one line that
 * names the problem (missing device, permission, version, capability).
 */
struct rv_kvm {
	int fd;
	int run_mmap_size; /* size of each vCPU's kvm_run mapping */
	unsigned int max_vcpus;
	/*
	 * KVM_GET_SUPPORTED_CPUID, fetched by rv__kvm_load_cpuid(), which
	 * rv_vm_create() calls before it creates vCPUs (so NULL before).
	 */
	struct kvm_cpuid2 *supported_cpuid;
};

/* Opens path (normally "/dev/kvm"); logs and returns -errno on failure. */
int rv_kvm_open(const char *path, struct rv_kvm **out) RV_MUST_CHECK;
void rv_kvm_close(struct rv_kvm *kvm);

/*
 * Fills kvm->supported_cpuid once (vmm-internal). It is one of the slower
 * /dev/kvm calls (~0.4 ms), so rv_vm_create() makes it while KVM finishes
 * other start-up work (docs/performance.md). Returns 0 or -errno (logged).
 */
int rv__kvm_load_cpuid(struct rv_kvm *kvm) RV_MUST_CHECK;

/* Returns KVM_CHECK_EXTENSION's value for cap (0 when absent). */
int rv_kvm_check_cap(const struct rv_kvm *kvm, long cap);

/* Name of a KVM_CAP_* constant, for messages ("KVM_CAP_IRQCHIP"). */
const char *rv_kvm_cap_name(long cap);

/* Names an ioctl failure for messages: "KVM_CREATE_VM: <strerror>". */
int rv_kvm_ioctl_error(const char *what, int err);

#endif
