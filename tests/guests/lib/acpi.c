/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI table lookup: the RSDP (from start_info, else the EBDA and the BIOS
 * area), then the XSDT (or the RSDT of ACPI 1.0). Tables come from the VMM
 * or its firmware, so each one is checked before it is handed out: it
 * must lie below 4 GiB (the identity map), have a sane length and sum to
 * zero.
 */
#include "internal.h"

#define RSDP_SIG "RSD PTR "
#define RSDP_V1_LEN 20
#define RSDP_V2_LEN 36
#define TABLE_MAX_LEN 0x100000 /* 1 MiB: far above any real table */
#define ROOT_MAX_ENTRIES 64
#define EBDA_SEG_PTR 0x40e
#define BIOS_AREA 0xe0000
#define BIOS_AREA_END 0x100000

#define FADT_DSDT 40
#define FADT_X_DSDT 140

struct rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	/* Revision 2 and later. */
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum;
	uint8_t reserved[3];
} __attribute__((packed));

static uint64_t rsdp_addr;
static bool rsdp_searched;

static uint8_t sum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	for (size_t i = 0; i < n; i++)
		s += b[i];
	return s;
}

static bool rsdp_valid(uint64_t pa)
{
	const struct rsdp *r;

	if (pa == 0 || pa > (1ULL << 32) - RSDP_V2_LEN)
		return false;
	r = phys_ptr(pa);
	if (memcmp(r->signature, RSDP_SIG, 8) || sum(r, RSDP_V1_LEN))
		return false;
	/* The extended checksum covers the revision 2 fields. */
	if (r->revision >= 2 &&
	    (r->length < RSDP_V2_LEN || r->length > 4096 ||
	     pa > (1ULL << 32) - r->length || sum(r, r->length)))
		return false;
	return true;
}

/* Scans [start, end) on 16-byte boundaries (ACPI 5.2.5.1). */
static uint64_t rsdp_scan(uint64_t start, uint64_t end)
{
	for (uint64_t pa = start; pa + RSDP_V2_LEN <= end; pa += 16) {
		/* A cheap first test: most positions fail on the first word. */
		if (*(const uint32_t *)phys_ptr(pa) != 0x20445352) /* "RSD " */
			continue;
		if (rsdp_valid(pa))
			return pa;
	}
	return 0;
}

uint64_t acpi_rsdp(void)
{
	const struct hvm_start_info *si = guest_start_info();
	uint64_t ebda;

	if (rsdp_searched)
		return rsdp_addr;
	rsdp_searched = true;
	if (si && rsdp_valid(si->rsdp_paddr)) {
		rsdp_addr = si->rsdp_paddr;
		return rsdp_addr;
	}
	ebda = (uint64_t) * (const uint16_t *)phys_ptr(EBDA_SEG_PTR) << 4;
	if (ebda >= 0x80000 && ebda < 0xa0000)
		rsdp_addr = rsdp_scan(ebda, ebda + 1024);
	if (!rsdp_addr)
		rsdp_addr = rsdp_scan(BIOS_AREA, BIOS_AREA_END);
	return rsdp_addr;
}

/* Returns the table at pa when it passes the checks, else NULL. */
static const struct acpi_header *table_at(uint64_t pa)
{
	const struct acpi_header *h;

	if (pa == 0 || pa > (1ULL << 32) - sizeof(*h))
		return NULL;
	h = phys_ptr(pa);
	if (h->length < sizeof(*h) || h->length > TABLE_MAX_LEN ||
	    pa > (1ULL << 32) - h->length || sum(h, h->length))
		return NULL;
	return h;
}

static const struct acpi_header *dsdt_from_fadt(void)
{
	const struct acpi_header *f = acpi_find_table("FACP", 0);
	const uint8_t *b = (const uint8_t *)f;
	uint64_t pa = 0;

	if (!f)
		return NULL;
	if (f->length >= FADT_X_DSDT + 8)
		memcpy(&pa, b + FADT_X_DSDT, 8);
	if (!pa && f->length >= FADT_DSDT + 4) {
		uint32_t d;

		memcpy(&d, b + FADT_DSDT, 4);
		pa = d;
	}
	return table_at(pa);
}

const struct acpi_header *acpi_find_table(const char *sig, unsigned int nth)
{
	const struct rsdp *r;
	const struct acpi_header *root;
	unsigned int entry_size, n;
	uint64_t pa = acpi_rsdp();

	if (!pa || !sig || strnlen(sig, 5) != 4)
		return NULL;
	if (!memcmp(sig, "DSDT", 4))
		return nth ? NULL : dsdt_from_fadt();
	r = phys_ptr(pa);
	if (r->revision >= 2 && r->xsdt) {
		root = table_at(r->xsdt);
		entry_size = 8;
	} else {
		root = table_at(r->rsdt);
		entry_size = 4;
	}
	if (!root)
		return NULL;
	n = (root->length - sizeof(*root)) / entry_size;
	if (n > ROOT_MAX_ENTRIES)
		n = ROOT_MAX_ENTRIES;
	for (unsigned int i = 0; i < n; i++) {
		const uint8_t *e = (const uint8_t *)(root + 1) + i * entry_size;
		const struct acpi_header *t;
		uint64_t tpa = 0;

		memcpy(&tpa, e, entry_size);
		t = table_at(tpa);
		if (t && !memcmp(t->signature, sig, 4) && nth-- == 0)
			return t;
	}
	return NULL;
}
