// SPDX-License-Identifier: Apache-2.0
/*
 * CPU templates: what the guest sees in CPUID, built per vCPU from
 * KVM_GET_SUPPORTED_CPUID. A template filters feature bits; the topology
 * (APIC IDs, logical processor counts, leaf 0xB/0x1F levels) and the
 * hypervisor leaves are then filled in the same way for every template.
 *
 * Topology: one socket, one thread per core, nr_vcpus cores; the APIC ID of
 * a vCPU is its index, which is also what the MP table says.
 *
 * "host": every bit KVM supports, unchanged.
 *
 * "baseline": x86-64-v1 as defined by the psABI, plus the system features
 * every x86-64 CPU has. Bits are kept by allow-list; anything not listed is
 * cleared, so features new hardware adds never leak through:
 *
 *   leaf          register  kept                         why
 *   0             all       max leaf, vendor             identification
 *   1             EAX       family/model/stepping        identification
 *   1             EBX       brand, CLFLUSH size          APIC ID/count set below
 *   1             ECX       none (hypervisor set below)  SSE3+, POPCNT, CX16,
 *                                                        XSAVE/OSXSAVE, AVX,
 *                                                        x2APIC, TSC deadline
 *                                                        are post-v1
 *   1             EDX       FPU VME DE PSE TSC MSR PAE   the v1 set (CX8, CMOV,
 *                           MCE CX8 APIC SEP MTRR PGE    FPU, FXSR, MMX, SSE,
 *                           MCA CMOV PAT PSE36 CLFSH     SSE2) and the system
 *                           MMX FXSR SSE SSE2 (HTT)      features of any x86-64
 *   2, 4          all       cache descriptors            informational
 *   6             EAX       ARAT only                    APIC timer always runs
 *   7, 0xD        all       zero                         SMEP/SMAP, AVX2, BMI,
 *                                                        ERMS, XSAVE state: all
 *                                                        post-v1
 *   0xB, 0x1F     all       rebuilt below                topology
 *   0x15, 0x16    all       TSC/clock frequencies        informational
 *   other basic   all       zero                         PMU (0xA), RDT, SGX,
 *                                                        PT, AMX, ...
 *   0x80000000    all       max leaf, vendor             identification
 *   0x80000001    EAX, EBX  signature                    identification
 *   0x80000001    ECX       LAHF_LM                      no ABM/LZCNT, SSE4A,
 *                                                        SVM, XOP, TOPOEXT
 *   0x80000001    EDX       SYSCALL, NX, LM              no RDTSCP, 1G pages
 *   0x80000002-6  all       brand string, caches         informational
 *   0x80000007    EDX       invariant TSC only           clock source choice
 *   0x80000008    EAX, ECX  address sizes, core count    EBX (CLZERO, WBNOINVD,
 *                                                        speculation controls)
 *                                                        and EDX cleared
 *   other ext.    all       zero                         SEV, SVM, TOPOEXT data
 *   0x40000000-1  as below  KVM signature and features   paravirt clock etc.
 */
#include "raevm/cpuid.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define LEAF_VENDOR 0x0
#define LEAF_FEATURES 0x1
#define LEAF_CACHE 0x4
#define LEAF_TOPOLOGY 0xb
#define LEAF_TOPOLOGY_V2 0x1f
#define LEAF_KVM_SIGNATURE 0x40000000
#define LEAF_KVM_FEATURES 0x40000001
#define LEAF_EXT_SIZES 0x80000008
#define LEAF_AMD_CACHE 0x8000001d
#define LEAF_AMD_TOPOLOGY 0x8000001e

#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_EDX_HTT (1u << 28)

/* Topology levels of leaf 0xB / 0x1F, in ECX[15:8]. */
#define TOPO_LEVEL_INVALID 0
#define TOPO_LEVEL_SMT 1
#define TOPO_LEVEL_CORE 2

struct rv_cpu_template {
	const char *name;
	/* Clears the feature bits the template hides; NULL keeps them all. */
	void (*filter)(struct kvm_cpuid_entry2 *e);
};

/* Bits kept by "baseline", as in the table at the top of this file. */
struct leaf_mask {
	uint32_t function;
	uint32_t eax, ebx, ecx, edx;
};

#define ALL 0xffffffffu
#define BITS(lo, hi) ((uint32_t)((2ULL << (hi)) - (1ULL << (lo))))

static const struct leaf_mask baseline_masks[] = {
	{ 0x00000000, ALL, ALL, ALL, ALL },
	/* FPU..APIC (0-9), SEP..PSE36 (11-17), CLFSH (19), MMX..SSE2
	 * (23-26), HTT (28, set from the topology). */
	{ 0x00000001, ALL, ALL, 0,
	  BITS(0, 9) | BITS(11, 17) | (1u << 19) | BITS(23, 26) | (1u << 28) },
	{ 0x00000002, ALL, ALL, ALL, ALL },
	{ 0x00000004, ALL, ALL, ALL, ALL },
	{ 0x00000006, 1u << 2, 0, 0, 0 },
	{ 0x0000000b, ALL, ALL, ALL, ALL },
	{ 0x00000015, ALL, ALL, ALL, ALL },
	{ 0x00000016, ALL, ALL, ALL, ALL },
	{ 0x0000001f, ALL, ALL, ALL, ALL },
	{ 0x80000000, ALL, ALL, ALL, ALL },
	/* LAHF_LM (ECX 0); SYSCALL (EDX 11), NX (20), LM (29). */
	{ 0x80000001, ALL, ALL, 1u << 0, (1u << 11) | (1u << 20) | (1u << 29) },
	{ 0x80000002, ALL, ALL, ALL, ALL },
	{ 0x80000003, ALL, ALL, ALL, ALL },
	{ 0x80000004, ALL, ALL, ALL, ALL },
	{ 0x80000005, ALL, ALL, ALL, ALL },
	{ 0x80000006, ALL, ALL, ALL, ALL },
	{ 0x80000007, 0, 0, 0, 1u << 8 },
	{ 0x80000008, ALL, 0, ALL, 0 },
	{ 0x40000001, ALL, ALL, ALL, ALL },
};

static void baseline_filter(struct kvm_cpuid_entry2 *e)
{
	unsigned int i;

	for (i = 0; i < RV_ARRAY_SIZE(baseline_masks); i++) {
		const struct leaf_mask *m = &baseline_masks[i];

		if (m->function != e->function)
			continue;
		e->eax &= m->eax;
		e->ebx &= m->ebx;
		e->ecx &= m->ecx;
		e->edx &= m->edx;
		return;
	}
	e->eax = e->ebx = e->ecx = e->edx = 0;
}

static const struct rv_cpu_template templates[] = {
	{ .name = "host", .filter = NULL },
	{ .name = "baseline", .filter = baseline_filter },
};

const struct rv_cpu_template *rv_cpu_template_find(const char *name)
{
	unsigned int i;

	if (!name)
		return NULL;
	for (i = 0; i < RV_ARRAY_SIZE(templates); i++)
		if (!strcmp(templates[i].name, name))
			return &templates[i];
	return NULL;
}

const char *rv_cpu_template_names(void)
{
	return "host, baseline";
}

/* ---- topology ----------------------------------------------------------- */

struct topo {
	uint32_t apic_id;
	uint32_t nr;	/* vCPUs = cores in the one package */
	uint32_t shift; /* APIC ID bits for the cores: ceil(log2(nr)) */
	bool amd;
};

static uint32_t order(uint32_t n)
{
	uint32_t s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

static void fix_leaf1(struct kvm_cpuid_entry2 *e, const struct topo *t)
{
	/* Addressable IDs in the package: a power of two, 8 bits wide. */
	uint32_t ids = 1u << t->shift;

	if (ids > 255)
		ids = 255;
	e->ebx = (e->ebx & 0xffff) | ids << 16 | t->apic_id << 24;
	/* HTT says EBX[23:16] is meaningful: more than one CPU per package. */
	if (t->nr > 1)
		e->edx |= CPUID_1_EDX_HTT;
	else
		e->edx &= ~CPUID_1_EDX_HTT;
	e->ecx |= CPUID_1_ECX_HYPERVISOR;
}

/*
 * Deterministic cache parameters (Intel leaf 4, AMD 0x8000001D share the
 * EAX layout): L1 and L2 belong to one core, L3 to the whole package.
 */
static void fix_cache(struct kvm_cpuid_entry2 *e, const struct topo *t,
		      bool intel_cores)
{
	uint32_t level = (e->eax >> 5) & 0x7;
	uint32_t sharing = level >= 3 ? (1u << t->shift) - 1 : 0;

	if ((e->eax & 0x1f) == 0)
		return; /* no cache at this index */
	e->eax = (e->eax & ~BITS(14, 25)) | (sharing & 0xfff) << 14;
	if (intel_cores) {
		uint32_t cores = (1u << t->shift) - 1;

		e->eax = (e->eax & ~BITS(26, 31)) | (cores > 63 ? 63 : cores)
							    << 26;
	}
}

static void fix_topology(struct kvm_cpuid_entry2 *e, const struct topo *t)
{
	switch (e->function) {
	case LEAF_FEATURES:
		fix_leaf1(e, t);
		break;
	case LEAF_CACHE:
		fix_cache(e, t, true);
		break;
	case LEAF_AMD_CACHE:
		fix_cache(e, t, false);
		break;
	case LEAF_EXT_SIZES:
		/* AMD: NC (cores - 1) in ECX[7:0], ApicIdSize in [15:12]. */
		if (t->amd)
			e->ecx = (e->ecx & ~(BITS(0, 7) | BITS(12, 15))) |
				 (t->nr - 1) | t->shift << 12;
		break;
	case LEAF_AMD_TOPOLOGY:
		/* Extended APIC ID, core ID, one thread per core, node 0. */
		if (t->amd && e->eax | e->ebx | e->ecx | e->edx) {
			e->eax = t->apic_id;
			e->ebx = t->apic_id & 0xff;
			e->ecx = 0;
		}
		break;
	default:
		break;
	}
}

/* ---- table building ----------------------------------------------------- */

struct builder {
	struct kvm_cpuid2 *out;
	uint32_t cap;
};

static int emit(struct builder *b, const struct kvm_cpuid_entry2 *e)
{
	if (b->out->nent >= b->cap)
		return -E2BIG;
	b->out->entries[b->out->nent++] = *e;
	return 0;
}

/* Subleaves 0 (SMT), 1 (core) and 2 (end) of an extended topology leaf. */
static int emit_topology_leaf(struct builder *b, uint32_t function,
			      const struct topo *t)
{
	struct kvm_cpuid_entry2 e;
	int rc;

	memset(&e, 0, sizeof(e));
	e.function = function;
	e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	e.edx = t->apic_id;

	e.index = 0;
	e.eax = 0; /* one thread per core: no APIC ID bits for SMT */
	e.ebx = 1;
	e.ecx = TOPO_LEVEL_SMT << 8 | 0;
	rc = emit(b, &e);
	if (rc)
		return rc;

	e.index = 1;
	e.eax = t->shift;
	e.ebx = t->nr;
	e.ecx = TOPO_LEVEL_CORE << 8 | 1;
	rc = emit(b, &e);
	if (rc)
		return rc;

	e.index = 2;
	e.eax = 0;
	e.ebx = 0;
	e.ecx = TOPO_LEVEL_INVALID << 8 | 2;
	return emit(b, &e);
}

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c,
					   uint32_t function, uint32_t index)
{
	uint32_t i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == function &&
		    c->entries[i].index == index)
			return &c->entries[i];
	return NULL;
}

static bool has_function(const struct kvm_cpuid2 *c, uint32_t function)
{
	uint32_t i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == function)
			return true;
	return false;
}

static bool is_amd(const struct kvm_cpuid2 *c)
{
	const struct kvm_cpuid_entry2 *e = find(c, LEAF_VENDOR, 0);
	char v[12];

	if (!e)
		return false;
	memcpy(v, &e->ebx, 4);
	memcpy(v + 4, &e->edx, 4);
	memcpy(v + 8, &e->ecx, 4);
	return !memcmp(v, "AuthenticAMD", 12) || !memcmp(v, "HygonGenuine", 12);
}

/* "KVMKVMKVM\0\0\0" in EBX, ECX, EDX; EAX is the last hypervisor leaf. */
static int emit_kvm_leaves(struct builder *b, const struct kvm_cpuid2 *sup,
			   const struct rv_cpu_template *tmpl)
{
	const struct kvm_cpuid_entry2 *f = find(sup, LEAF_KVM_FEATURES, 0);
	struct kvm_cpuid_entry2 e;
	int rc;

	memset(&e, 0, sizeof(e));
	e.function = LEAF_KVM_SIGNATURE;
	e.eax = LEAF_KVM_FEATURES;
	memcpy(&e.ebx, "KVMK", 4);
	memcpy(&e.ecx, "VMKV", 4);
	memcpy(&e.edx, "M\0\0\0", 4);
	rc = emit(b, &e);
	if (rc)
		return rc;
	/* Features stay as KVM reports them; none when it reports none. */
	memset(&e, 0, sizeof(e));
	if (f)
		e = *f;
	e.function = LEAF_KVM_FEATURES;
	e.index = 0;
	if (tmpl->filter)
		tmpl->filter(&e);
	return emit(b, &e);
}

int rv_cpuid_build(const struct rv_cpu_template *tmpl,
		   const struct kvm_cpuid2 *supported, unsigned int vcpu_id,
		   unsigned int nr_vcpus, struct kvm_cpuid2 *out)
{
	struct builder b = { .out = out, .cap = out->nent };
	const struct kvm_cpuid_entry2 *leaf0;
	uint32_t max_basic, i;
	struct topo t;
	int rc;

	out->nent = 0;
	if (!tmpl || !supported || nr_vcpus == 0 ||
	    nr_vcpus > RV_CPUID_MAX_VCPUS || vcpu_id >= nr_vcpus)
		return -EINVAL;
	t = (struct topo){
		.apic_id = vcpu_id,
		.nr = nr_vcpus,
		.shift = order(nr_vcpus),
		.amd = is_amd(supported),
	};
	leaf0 = find(supported, LEAF_VENDOR, 0);
	max_basic = leaf0 ? leaf0->eax : 0;

	for (i = 0; i < supported->nent; i++) {
		struct kvm_cpuid_entry2 e = supported->entries[i];

		/* Rebuilt below, whatever KVM reported for them. */
		if (e.function == LEAF_TOPOLOGY ||
		    e.function == LEAF_TOPOLOGY_V2 ||
		    e.function == LEAF_KVM_SIGNATURE ||
		    e.function == LEAF_KVM_FEATURES)
			continue;
		if (tmpl->filter)
			tmpl->filter(&e);
		fix_topology(&e, &t);
		rc = emit(&b, &e);
		if (rc)
			return rc;
	}
	if (max_basic >= LEAF_TOPOLOGY) {
		rc = emit_topology_leaf(&b, LEAF_TOPOLOGY, &t);
		if (rc)
			return rc;
	}
	if (max_basic >= LEAF_TOPOLOGY_V2 &&
	    has_function(supported, LEAF_TOPOLOGY_V2)) {
		rc = emit_topology_leaf(&b, LEAF_TOPOLOGY_V2, &t);
		if (rc)
			return rc;
	}
	return emit_kvm_leaves(&b, supported, tmpl);
}
