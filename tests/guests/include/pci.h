/* SPDX-License-Identifier: Apache-2.0 */
#ifndef GUEST_PCI_H
#define GUEST_PCI_H

/*
 * PCI for test guests (lib/pci.c): configuration access through the
 * legacy 0xCF8/0xCFC ports or ECAM, enumeration of bus 0 with BAR sizes
 * and capability lists, BAR assignment where no firmware did it, decode
 * and bus-master enables, MSI-X and INTx through the IOAPIC.
 *
 * Everything a device reports (BAR sizes, capability pointers, table
 * offsets, interrupt lines) is checked before it is used; a device that
 * reports nonsense is refused with -EIO and a line on the console.
 *
 * Command-line keys read by pci_init():
 *   pci=cf8 | pci=ecam   force an access method (default: ECAM when the
 *                        MCFG table or ecam= gives a base, else 0xCF8)
 *   ecam=0xADDR          ECAM base for bus 0 (overrides MCFG)
 *   pci_mem=0xADDR       32-bit window for BARs the guest assigns
 *                        (default 0xc0000000, 512 MiB: raevm's window)
 *   pci_reassign         move every BAR of an enabled device into the
 *                        guest's window, even ones firmware assigned
 */
#include "guest.h"

#define PCI_MAX_DEVS 64
#define PCI_NR_BARS 6

/* Configuration header offsets. */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_SUBSYS_ID 0x2e
#define PCI_CAP_PTR 0x34
#define PCI_INT_LINE 0x3c
#define PCI_INT_PIN 0x3d

#define PCI_CMD_IO 0x0001
#define PCI_CMD_MEM 0x0002
#define PCI_CMD_MASTER 0x0004
#define PCI_CMD_INTX_DISABLE 0x0400
#define PCI_STATUS_CAP_LIST 0x0010
#define PCI_STATUS_INTX 0x0008

#define PCI_CAP_MSI 0x05
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_PCIE 0x10
#define PCI_CAP_MSIX 0x11

#define PCI_MSIX_CTRL_ENABLE 0x8000
#define PCI_MSIX_CTRL_MASKALL 0x4000

enum pci_bar_type {
	PCI_BAR_NONE = 0,
	PCI_BAR_IO,
	PCI_BAR_MEM32,
	PCI_BAR_MEM64, /* also takes the next BAR slot */
};

struct pci_bar {
	enum pci_bar_type type;
	bool prefetch;
	uint64_t addr; /* 0: not assigned */
	uint64_t size; /* a power of two; 0 for no BAR */
};

struct pci_dev {
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint16_t subsys_vendor, subsys_id;
	uint32_t class_code; /* class << 16 | subclass << 8 | prog-if */
	uint8_t revision;
	uint8_t header_type; /* without the multi-function bit */
	uint8_t irq_line;    /* 0xff or 0: none assigned */
	uint8_t irq_pin;     /* 0 none, 1-4 INTA-INTD */
	struct pci_bar bars[PCI_NR_BARS];
	bool bars_bad; /* a BAR did not size sanely: not enabled */
	/* MSI-X, from the capability (msix_cap 0: none). */
	uint8_t msix_cap;
	uint16_t msix_size; /* table entries */
	uint8_t msix_bir;
	uint32_t msix_offset;
	uint64_t msix_table; /* address once pci_msix_enable() mapped it */
	/* INTx as pci_intx_route() set it up. */
	int intx_vector; /* -1 when not routed */
};

/* Picks the access method (see above); idempotent. Returns 0 or -ENODEV. */
int pci_init(void) __attribute__((warn_unused_result));
/* "cf8" or "ecam", and the ECAM base (0 with cf8). */
const char *pci_access_name(void);
uint64_t pci_ecam_base(void);

/*
 * Raw configuration access. Offsets >= 256 need ECAM (cf8 reads all ones
 * there and drops writes); off must be aligned to size (1, 2 or 4).
 */
uint32_t pci_cfg_read(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off,
		      unsigned int size);
void pci_cfg_write(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off,
		   unsigned int size, uint32_t v);

static inline uint32_t pci_read32(const struct pci_dev *d, uint16_t off)
{
	return pci_cfg_read(d->bus, d->dev, d->fn, off, 4);
}

static inline uint16_t pci_read16(const struct pci_dev *d, uint16_t off)
{
	return (uint16_t)pci_cfg_read(d->bus, d->dev, d->fn, off, 2);
}

static inline uint8_t pci_read8(const struct pci_dev *d, uint16_t off)
{
	return (uint8_t)pci_cfg_read(d->bus, d->dev, d->fn, off, 1);
}

static inline void pci_write32(const struct pci_dev *d, uint16_t off,
			       uint32_t v)
{
	pci_cfg_write(d->bus, d->dev, d->fn, off, 4, v);
}

static inline void pci_write16(const struct pci_dev *d, uint16_t off,
			       uint16_t v)
{
	pci_cfg_write(d->bus, d->dev, d->fn, off, 2, v);
}

static inline void pci_write8(const struct pci_dev *d, uint16_t off, uint8_t v)
{
	pci_cfg_write(d->bus, d->dev, d->fn, off, 1, v);
}

/*
 * Enumerates bus 0 (every function of every slot) once: ids, class,
 * BARs with their sizes, interrupt line and pin, MSI-X capability.
 * Returns the number of functions found (at most PCI_MAX_DEVS) or -errno.
 */
int pci_scan(void) __attribute__((warn_unused_result));
unsigned int pci_count(void);
struct pci_dev *pci_get(unsigned int i);
/*
 * The nth (0-based) function with this vendor and device id; device
 * 0xffff matches any device of the vendor. NULL when there is none.
 */
struct pci_dev *pci_find(uint16_t vendor, uint16_t device, unsigned int nth);
/* One line per function: address, ids, class, BARs, irq, caps. */
void pci_print(const struct pci_dev *d);

/*
 * The config offset of the first capability with this id after start
 * (start 0: from the head of the list), or 0 when there is none. The walk
 * stops at 48 capabilities, at a pointer below 0x40 and at a loop.
 */
uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t start);

/*
 * Makes the function usable: gives every BAR that has no address (or one
 * outside the identity-mapped 4 GiB, or all of them with pci_reassign) an
 * address in the guest's window, then enables I/O and memory decode and
 * bus mastering. Returns 0, -EIO for a function whose BARs did not size
 * sanely, -ENOSPC when the window is full.
 */
int pci_enable(struct pci_dev *d) __attribute__((warn_unused_result));

/*
 * MSI-X. pci_msix_enable() maps the table, masks every entry and turns
 * MSI-X on (INTx is then off). pci_msix_set() points entry at vector on
 * dest_apic (fixed delivery, physical destination, edge) and unmasks it.
 */
int pci_msix_enable(struct pci_dev *d) __attribute__((warn_unused_result));
void pci_msix_disable(struct pci_dev *d);
int pci_msix_set(struct pci_dev *d, unsigned int entry, uint8_t vector,
		 uint8_t dest_apic) __attribute__((warn_unused_result));
int pci_msix_mask(struct pci_dev *d, unsigned int entry, bool masked)
	__attribute__((warn_unused_result));

/*
 * INTx: routes the function's interrupt line (config 0x3c, as firmware or
 * the VMM set it) through the IOAPIC, level-triggered and active high as
 * PCI lines are on the PC platforms raevm and QEMU model, and clears the
 * command register's INTx disable. Lines are shared: every function on a
 * line gets the same vector, whose dispatcher calls each one's fn, so fn
 * must tolerate interrupts its function did not raise (read the status,
 * do nothing when clear). Returns the vector, -ENODEV without a pin or
 * line, -EBUSY when vectors or sharer slots run out.
 */
int pci_intx_route(struct pci_dev *d, trap_handler_t fn, void *arg)
	__attribute__((warn_unused_result));
void pci_intx_unroute(struct pci_dev *d);

#endif
