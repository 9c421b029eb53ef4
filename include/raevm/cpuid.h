/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_CPUID_H
#define RAEVM_CPUID_H

#include <linux/kvm.h>

#include "raevm/util.h"

/*
 * CPU templates: named transformations of KVM_GET_SUPPORTED_CPUID.
 *   "host":     what KVM supports, with topology and the hypervisor leaves
 *               filled in.
 *   "baseline": an x86-64-v1 model (CMOV, CX8, FPU, FXSR, MMX, SCE, SSE,
 *               SSE2) that hides everything newer: SSE3+, POPCNT, CX16,
 *               XSAVE, AVX, SMEP/SMAP and the rest of leaf 7.
 */
struct rv_cpu_template;

/* Looks a template up by name; NULL when unknown. */
const struct rv_cpu_template *rv_cpu_template_find(const char *name);
/* Comma-separated list of template names, for messages. */
const char *rv_cpu_template_names(void);

/*
 * APIC IDs are vCPU indexes and leaf 1 holds them in 8 bits (255 is the
 * broadcast ID), so a VM described through CPUID has at most this many.
 */
#define RV_CPUID_MAX_VCPUS 255

/*
 * Builds the CPUID table for one vCPU into out (capacity out->nent on entry,
 * entries written on return). Pure. Returns 0, -E2BIG if out is too small,
 * -EINVAL when vcpu_id >= nr_vcpus or nr_vcpus is 0 or above
 * RV_CPUID_MAX_VCPUS.
 */
int rv_cpuid_build(const struct rv_cpu_template *tmpl,
		   const struct kvm_cpuid2 *supported, unsigned int vcpu_id,
		   unsigned int nr_vcpus, struct kvm_cpuid2 *out) RV_MUST_CHECK;

#endif
