// SPDX-License-Identifier: Apache-2.0
/*
 * rv_cpuid_build() over synthetic KVM_GET_SUPPORTED_CPUID tables: an AMD one
 * modelled on this project's hosts and an Intel one with leaf 4 and 0x1F.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raevm/cpuid.h"

#define CAP 128

struct table {
	struct kvm_cpuid2 c;
	struct kvm_cpuid_entry2 e[CAP];
};

static void add(struct table *t, uint32_t fn, uint32_t idx, uint32_t eax,
		uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	struct kvm_cpuid_entry2 *e = &t->c.entries[t->c.nent++];

	memset(e, 0, sizeof(*e));
	e->function = fn;
	e->index = idx;
	e->eax = eax;
	e->ebx = ebx;
	e->ecx = ecx;
	e->edx = edx;
}

/* "AuthenticAMD" in EBX, EDX, ECX order. */
static void amd_host(struct table *t)
{
	memset(t, 0, sizeof(*t));
	add(t, 0x0, 0, 0x1c, 0x68747541, 0x444d4163, 0x69746e65);
	add(t, 0x1, 0, 0x00a10f11, 0x01020800, 0x81202000 | 0x1 | 0x800000,
	    0x078bfbff | (1u << 28) | (1u << 22) | (1u << 27));
	add(t, 0x7, 0, 0x1, 0x01800002 | (1u << 7) | (1u << 20), 0x104,
	    0x20000000);
	add(t, 0x7, 1, 0, 0, 0, 0);
	add(t, 0xa, 0, 0x07300402, 0, 0, 0);
	add(t, 0xb, 0, 0, 0, 0, 1);
	add(t, 0xd, 0, 0xe7, 0x980, 0x980, 0);
	add(t, 0xd, 1, 0xf, 0, 0, 0);
	add(t, 0x80000000, 0, 0x80000021, 0x68747541, 0x444d4163, 0x69746e65);
	add(t, 0x80000001, 0, 0x00a10f11, 0x40000000, 0x00400393 | (1u << 5),
	    0x23d3fbff | (1u << 27) | (1u << 26));
	add(t, 0x80000007, 0, 0, 0, 0, 0x100 | 0x1);
	add(t, 0x80000008, 0, 0x3030, 0x50020005, 0x7001, 0);
	add(t, 0x8000001d, 0, 0x121, 0x01c0003f, 0x3f, 0);
	add(t, 0x8000001d, 3, 0x4163, 0x03c0003f, 0x7fff, 1);
	add(t, 0x8000001e, 0, 0x7, 0x0101, 0x0, 0);
	add(t, 0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d);
	add(t, 0x40000001, 0, 0x01007efb, 0, 0, 0);
}

/* "GenuineIntel", leaf 4 caches, leaf 0x1F; no KVM leaves reported. */
static void intel_host(struct table *t)
{
	memset(t, 0, sizeof(*t));
	add(t, 0x0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69);
	add(t, 0x1, 0, 0x000906ea, 0x00100800, 0x7ffafbff, 0xbfebfbff);
	add(t, 0x4, 0, 0x1c004121, 0x01c0003f, 0x3f, 0);
	add(t, 0x4, 3, 0x1c03c163, 0x03c0003f, 0x2fff, 6);
	add(t, 0x4, 4, 0, 0, 0, 0);
	add(t, 0x1f, 0, 1, 2, 0x100, 0);
	add(t, 0x80000000, 0, 0x80000008, 0, 0, 0);
	add(t, 0x80000008, 0, 0x3027, 0, 0, 0);
}

static const struct kvm_cpuid_entry2 *get(const struct table *t, uint32_t fn,
					  uint32_t idx)
{
	uint32_t i;

	for (i = 0; i < t->c.nent; i++)
		if (t->c.entries[i].function == fn &&
		    t->c.entries[i].index == idx)
			return &t->c.entries[i];
	fail_msg("no leaf 0x%x.%u", fn, idx);
	return NULL;
}

static unsigned int count(const struct table *t, uint32_t fn)
{
	unsigned int i, n = 0;

	for (i = 0; i < t->c.nent; i++)
		n += t->c.entries[i].function == fn;
	return n;
}

static int build(const char *tmpl, const struct table *sup, unsigned int id,
		 unsigned int nr, struct table *out)
{
	memset(out, 0, sizeof(*out));
	out->c.nent = CAP;
	return rv_cpuid_build(rv_cpu_template_find(tmpl), &sup->c, id, nr,
			      &out->c);
}

static struct table sup, out;

static void cpuid_build__host_topology(void **state)
{
	const struct kvm_cpuid_entry2 *e;
	unsigned int i;

	(void)state;
	amd_host(&sup);
	assert_int_equal(build("host", &sup, 3, 6, &out), 0);
	e = get(&out, 1, 0);
	assert_int_equal(e->ebx >> 24, 3);
	assert_int_equal((e->ebx >> 16) & 0xff, 8);
	assert_int_equal(e->ebx & 0xffff, 0x0800);
	assert_true(e->edx & (1u << 28));
	assert_true(e->ecx & (1u << 31));
	/* Leaf 0xB rebuilt: SMT, core, end; x2APIC ID in EDX. */
	assert_int_equal(count(&out, 0xb), 3);
	for (i = 0; i < 3; i++) {
		e = get(&out, 0xb, i);
		assert_int_equal(e->edx, 3);
		assert_int_equal(e->flags, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
		assert_int_equal(e->ecx & 0xff, i);
	}
	e = get(&out, 0xb, 0);
	assert_int_equal(e->eax, 0);
	assert_int_equal(e->ebx, 1);
	assert_int_equal(e->ecx >> 8, 1);
	e = get(&out, 0xb, 1);
	assert_int_equal(e->eax, 3);
	assert_int_equal(e->ebx, 6);
	assert_int_equal(e->ecx >> 8, 2);
	e = get(&out, 0xb, 2);
	assert_int_equal(e->ebx, 0);
	assert_int_equal(e->ecx >> 8, 0);
	/* AMD topology leaves. */
	e = get(&out, 0x80000008, 0);
	assert_int_equal(e->ecx & 0xff, 5);
	assert_int_equal((e->ecx >> 12) & 0xf, 3);
	e = get(&out, 0x8000001e, 0);
	assert_int_equal(e->eax, 3);
	assert_int_equal(e->ebx, 3);
	e = get(&out, 0x8000001d, 3);
	assert_int_equal((e->eax >> 14) & 0xfff, 7);
	e = get(&out, 0x8000001d, 0);
	assert_int_equal((e->eax >> 14) & 0xfff, 0);
	/* "host" keeps every feature bit. */
	assert_memory_equal(get(&out, 7, 0), get(&sup, 7, 0),
			    sizeof(struct kvm_cpuid_entry2));
	assert_int_equal(get(&out, 0xd, 0)->eax, 0xe7);
	assert_int_equal(get(&out, 0x80000001, 0)->ecx,
			 get(&sup, 0x80000001, 0)->ecx);
}

static void cpuid_build__single_vcpu(void **state)
{
	const struct kvm_cpuid_entry2 *e;

	(void)state;
	amd_host(&sup);
	assert_int_equal(build("host", &sup, 0, 1, &out), 0);
	e = get(&out, 1, 0);
	assert_int_equal(e->ebx >> 24, 0);
	assert_int_equal((e->ebx >> 16) & 0xff, 1);
	assert_false(e->edx & (1u << 28));
	assert_int_equal(get(&out, 0xb, 1)->eax, 0);
	assert_int_equal(get(&out, 0xb, 1)->ebx, 1);
}

static void cpuid_build__kvm_leaves(void **state)
{
	const struct kvm_cpuid_entry2 *e;

	(void)state;
	amd_host(&sup);
	assert_int_equal(build("baseline", &sup, 1, 2, &out), 0);
	assert_int_equal(count(&out, 0x40000000), 1);
	e = get(&out, 0x40000000, 0);
	assert_int_equal(e->eax, 0x40000001);
	assert_memory_equal(&e->ebx, "KVMK", 4);
	assert_memory_equal(&e->ecx, "VMKV", 4);
	assert_memory_equal(&e->edx, "M\0\0\0", 4);
	assert_int_equal(get(&out, 0x40000001, 0)->eax, 0x01007efb);

	/* KVM reported no hypervisor leaves: signature and empty features. */
	intel_host(&sup);
	assert_int_equal(build("host", &sup, 0, 1, &out), 0);
	assert_int_equal(get(&out, 0x40000000, 0)->eax, 0x40000001);
	assert_int_equal(get(&out, 0x40000001, 0)->eax, 0);
}

static void cpuid_build__baseline_hides(void **state)
{
	const struct kvm_cpuid_entry2 *e;

	(void)state;
	amd_host(&sup);
	assert_int_equal(build("baseline", &sup, 0, 2, &out), 0);
	e = get(&out, 1, 0);
	/* Only the hypervisor bit: no SSE3, CX16, POPCNT, x2APIC, XSAVE. */
	assert_int_equal(e->ecx, 1u << 31);
	/* v1 EDX: FPU, CX8, CMOV, MMX, FXSR, SSE, SSE2 and friends; ACPI
	 * (22) and SS (27) are gone. */
	assert_int_equal(e->edx, 0x178bfbff);
	assert_int_equal(e->eax, 0x00a10f11);
	e = get(&out, 7, 0);
	assert_int_equal(e->eax | e->ebx | e->ecx | e->edx, 0);
	e = get(&out, 0xd, 0);
	assert_int_equal(e->eax | e->ebx | e->ecx | e->edx, 0);
	e = get(&out, 0xd, 1);
	assert_int_equal(e->eax, 0);
	e = get(&out, 0xa, 0);
	assert_int_equal(e->eax, 0);
	e = get(&out, 0x80000001, 0);
	assert_int_equal(e->ecx, 1u << 0);
	assert_int_equal(e->edx, (1u << 11) | (1u << 20) | (1u << 29));
	e = get(&out, 0x80000007, 0);
	assert_int_equal(e->edx, 0x100);
	e = get(&out, 0x80000008, 0);
	assert_int_equal(e->ebx, 0);
	assert_int_equal(e->eax, 0x3030);
	e = get(&out, 0x8000001e, 0);
	assert_int_equal(e->eax | e->ebx | e->ecx | e->edx, 0);
	/* Identification and topology stay. */
	assert_memory_equal(get(&out, 0, 0), get(&sup, 0, 0),
			    sizeof(struct kvm_cpuid_entry2));
	assert_int_equal(count(&out, 0xb), 3);
	assert_int_equal(get(&out, 0x80000008, 0)->ecx & 0xff, 1);
}

static void cpuid_build__intel_topology(void **state)
{
	const struct kvm_cpuid_entry2 *e;

	(void)state;
	intel_host(&sup);
	assert_int_equal(build("host", &sup, 2, 4, &out), 0);
	/* Cores per package - 1 in EAX[31:26]; L3 shared by all four. */
	e = get(&out, 4, 0);
	assert_int_equal(e->eax >> 26, 3);
	assert_int_equal((e->eax >> 14) & 0xfff, 0);
	assert_int_equal(e->eax & 0x3fff, 0x0121);
	e = get(&out, 4, 3);
	assert_int_equal(e->eax >> 26, 3);
	assert_int_equal((e->eax >> 14) & 0xfff, 3);
	e = get(&out, 4, 4);
	assert_int_equal(e->eax, 0);
	/* 0x1F mirrors 0xB; 0x80000008 ECX is not AMD's to fill here. */
	assert_int_equal(count(&out, 0x1f), 3);
	assert_int_equal(get(&out, 0x1f, 1)->ebx, 4);
	assert_int_equal(get(&out, 0x1f, 1)->edx, 2);
	assert_int_equal(get(&out, 0xb, 0)->edx, 2);
	assert_int_equal(get(&out, 0x80000008, 0)->ecx, 0);
	/* Leaf 1's x2APIC and other ECX bits survive under "host". */
	assert_int_equal(get(&out, 1, 0)->ecx, 0x7ffafbff | (1u << 31));
	assert_int_equal(get(&out, 1, 0)->ebx >> 24, 2);
}

static void cpuid_build__errors(void **state)
{
	(void)state;
	amd_host(&sup);
	memset(&out, 0, sizeof(out));
	out.c.nent = sup.c.nent; /* room for the copy, not the added leaves */
	assert_int_equal(rv_cpuid_build(rv_cpu_template_find("host"), &sup.c, 0,
					1, &out.c),
			 -E2BIG);
	assert_int_equal(build("host", &sup, 2, 2, &out), -EINVAL);
	assert_int_equal(build("host", &sup, 0, 0, &out), -EINVAL);
	assert_int_equal(build("host", &sup, 0, RV_CPUID_MAX_VCPUS + 1, &out),
			 -EINVAL);
	assert_int_equal(build("host", &sup, RV_CPUID_MAX_VCPUS - 1,
			       RV_CPUID_MAX_VCPUS, &out),
			 0);
	assert_int_equal(get(&out, 1, 0)->ebx >> 24, 254);
	assert_int_equal((get(&out, 1, 0)->ebx >> 16) & 0xff, 255);
	assert_int_equal(build("nonexistent", &sup, 0, 1, &out), -EINVAL);
}

static void cpu_template_find__names(void **state)
{
	(void)state;
	assert_non_null(rv_cpu_template_find("host"));
	assert_non_null(rv_cpu_template_find("baseline"));
	assert_ptr_not_equal(rv_cpu_template_find("host"),
			     rv_cpu_template_find("baseline"));
	assert_null(rv_cpu_template_find("max"));
	assert_null(rv_cpu_template_find(NULL));
	assert_string_equal(rv_cpu_template_names(), "host, baseline");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cpuid_build__host_topology),
		cmocka_unit_test(cpuid_build__single_vcpu),
		cmocka_unit_test(cpuid_build__kvm_leaves),
		cmocka_unit_test(cpuid_build__baseline_hides),
		cmocka_unit_test(cpuid_build__intel_topology),
		cmocka_unit_test(cpuid_build__errors),
		cmocka_unit_test(cpu_template_find__names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
