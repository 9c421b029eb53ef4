/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lists PCI bus 0 (ids, class, interrupt pin and line, BARs with sizes,
 * MSI-X) and, when ECAM is in use, reads the first 64 bytes of every
 * function's configuration space through 0xCF8/0xCFC too and compares:
 * the two mechanisms must show the same registers. With "enable" it also
 * assigns and enables every function's BARs (pci_reassign moves them
 * all) and lists the result.
 *
 * Command line: the PCI keys (pci=, ecam=, pci_mem=, pci_reassign),
 * enable. Prints "pci_list: ok functions=N". Exit codes: 100 ECAM and
 * 0xCF8 disagree, 101 no function found, 102 a function could not be
 * enabled.
 */
#include "guest.h"
#include "pci.h"

#define CF8_ADDR 0xcf8
#define CF8_DATA 0xcfc

static uint32_t cf8_read32(const struct pci_dev *d, uint16_t off)
{
	outl(CF8_ADDR, 0x80000000U | (uint32_t)d->bus << 16 |
			       (uint32_t)d->dev << 11 | (uint32_t)d->fn << 8 |
			       off);
	return inl(CF8_DATA);
}

/* Compares the header through both mechanisms; 0 when they agree. */
static int cross_check(const struct pci_dev *d)
{
	for (uint16_t off = 0; off < 64; off += 4) {
		uint32_t e = pci_read32(d, off), c = cf8_read32(d, off);

		if (e != c) {
			printf("pci_list: %02x:%02x.%x offset %#x: ecam %#x, "
			       "cf8 %#x\n",
			       d->bus, d->dev, d->fn, off, e, c);
			return 100;
		}
	}
	return 0;
}

int guest_main(const struct hvm_start_info *si)
{
	bool enable = cmdline_has("enable");
	int n = pci_scan();

	(void)si;
	if (n <= 0) {
		puts("pci_list: no PCI function found");
		return 101;
	}
	for (unsigned int i = 0; i < (unsigned int)n; i++) {
		struct pci_dev *d = pci_get(i);
		int r;

		if (pci_ecam_base()) {
			r = cross_check(d);
			if (r)
				return r;
		}
		/* The host bridge keeps its decode as firmware left it. */
		if (enable && d->class_code >> 8 != 0x0600) {
			r = pci_enable(d);
			if (r) {
				printf("pci_list: %02x:%02x.%x: enable failed "
				       "(%d)\n",
				       d->bus, d->dev, d->fn, r);
				return 102;
			}
		}
		pci_print(d);
	}
	printf("pci_list: ok functions=%d access=%s\n", n, pci_access_name());
	return 0;
}
