/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_PCI_H
#define RAEVM_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "raevm/bus.h"
#include "raevm/util.h"

/*
 * PCI: one root bus (bus 0) behind a host bridge, reached through the legacy
 * 0xCF8/0xCFC mechanism and ECAM. Devices embed struct rv_pci_dev as their
 * first member and are reached with rv_container_of().
 *
 * Config space is a byte array with a write mask (bits the guest may change)
 * and a write-1-to-clear mask; the generic code handles the header, BAR
 * sizing and relocation, the command register's decode enables, capability
 * lists and MSI-X. Device hooks see config accesses after the generic
 * handling (for device-specific registers) and BAR moves.
 *
 * Threads: config and BAR accesses come from vCPU threads; each device's
 * config space is protected by dev->lock.
 */
#define RV_PCI_CFG_SIZE 4096
#define RV_PCI_NR_BARS 6
#define RV_PCI_MAX_SLOTS 32

/* Guest physical windows (inside the MMIO hole and above RAM). */
#define RV_PCI_MMIO32_BASE 0xc0000000ULL
#define RV_PCI_MMIO32_SIZE 0x20000000ULL /* 512 MiB */
#define RV_PCI_ECAM_BASE 0xe0000000ULL
#define RV_PCI_ECAM_SIZE 0x10000000ULL   /* 256 buses * 1 MiB */
#define RV_PCI_IO_BASE 0xc000ULL
#define RV_PCI_IO_SIZE 0x4000ULL

struct rv_vm;
struct rv_pci_bus;
struct rv_pci_dev;
struct rv_msix;

enum rv_pci_bar_type {
	RV_PCI_BAR_NONE = 0,
	RV_PCI_BAR_MEM32,
	RV_PCI_BAR_MEM64, /* takes this slot and the next */
	RV_PCI_BAR_IO,
};

struct rv_pci_bar {
	enum rv_pci_bar_type type;
	uint64_t size;          /* power of two, >= 16 (mem) or 4 (io) */
	bool prefetchable;
	uint64_t addr;          /* current guest address; 0 = unassigned */
	bool mapped;            /* registered on the bus right now */
	const struct rv_bus_ops *ops; /* accesses, offset relative to BAR */
	void *opaque;
};

struct rv_pci_dev_ops {
	/*
	 * Called after the generic code handled an access at offset (already
	 * applied to dev->config for writes). May be NULL.
	 */
	void (*config_write)(struct rv_pci_dev *dev, uint32_t offset,
			     uint32_t value, uint32_t len);
	void (*config_read)(struct rv_pci_dev *dev, uint32_t offset,
			    uint32_t *value, uint32_t len);
	/* A BAR moved or was enabled/disabled (addr 0 = unmapped). May be NULL. */
	void (*bar_moved)(struct rv_pci_dev *dev, unsigned int bar,
			  uint64_t old_addr, uint64_t new_addr);
};

struct rv_pci_dev {
	pthread_mutex_t lock;
	struct rv_pci_bus *bus;
	const struct rv_pci_dev_ops *ops;
	const char *name;
	unsigned int slot;      /* device number on bus 0 */
	uint8_t config[RV_PCI_CFG_SIZE];
	uint8_t wmask[RV_PCI_CFG_SIZE];
	uint8_t w1cmask[RV_PCI_CFG_SIZE];
	struct rv_pci_bar bars[RV_PCI_NR_BARS];
	uint16_t next_cap;      /* where the next capability goes */
	struct rv_msix *msix;   /* NULL without MSI-X */
	uint32_t intx_gsi;      /* legacy INTx line (ISA IRQ / IOAPIC pin) */
};

/* The root bus: host bridge, config mechanisms, address allocation. */
int rv_pci_bus_create(struct rv_vm *vm, struct rv_pci_bus **out) RV_MUST_CHECK;
void rv_pci_bus_destroy(struct rv_pci_bus *bus);

/*
 * Initialises dev's config header (vendor, device, class, revision,
 * subsystem ids) before BARs and capabilities are added.
 */
void rv_pci_dev_init(struct rv_pci_dev *dev, const char *name,
		     uint16_t vendor, uint16_t device, uint32_t class_code,
		     uint8_t revision, uint16_t subsys_vendor,
		     uint16_t subsys_id, const struct rv_pci_dev_ops *ops);

/* Declares a BAR (before rv_pci_register). */
int rv_pci_set_bar(struct rv_pci_dev *dev, unsigned int bar,
		   enum rv_pci_bar_type type, uint64_t size, bool prefetchable,
		   const struct rv_bus_ops *ops, void *opaque) RV_MUST_CHECK;

/*
 * Appends a capability: id, then body (len bytes, excluding the 2-byte
 * id/next header). Returns its config offset through *offset.
 */
int rv_pci_add_cap(struct rv_pci_dev *dev, uint8_t id, const void *body,
		   uint32_t len, uint16_t *offset) RV_MUST_CHECK;

/*
 * Places dev in a free slot, assigns BAR addresses from the windows (as
 * firmware would; the guest may move them) and an INTx line.
 */
int rv_pci_register(struct rv_pci_bus *bus,
		    struct rv_pci_dev *dev) RV_MUST_CHECK;
void rv_pci_unregister(struct rv_pci_dev *dev);

/* Raises/lowers the device's INTx line (used when MSI-X is off). */
int rv_pci_intx(struct rv_pci_dev *dev, int level);

/* The 64-bit MMIO window, for ACPI _CRS: base and size. */
void rv_pci_mmio64_window(const struct rv_pci_bus *bus, uint64_t *base,
			  uint64_t *size);

/*
 * MSI-X (devices/pci/msix.c): a table and PBA living in one of the device's
 * BARs, each vector routed through KVM GSI routing and an irqfd, so a
 * device thread raises an interrupt by writing an eventfd, without an ioctl
 * and without entering the VMM's vCPU path.
 */
int rv_msix_init(struct rv_pci_dev *dev, unsigned int nr_vectors,
		 unsigned int bar, uint32_t table_offset,
		 uint32_t pba_offset) RV_MUST_CHECK;
void rv_msix_destroy(struct rv_pci_dev *dev);
/* BAR accesses that fall in the table or PBA; true when handled. */
bool rv_msix_bar_access(struct rv_pci_dev *dev, uint64_t offset, void *data,
			uint32_t len, bool is_write);
/*
 * Signals vector: writes its irqfd, or sets the pending bit when masked
 * (function mask, vector mask, or MSI-X disabled). Safe from any thread.
 * Returns -EINVAL for a vector out of range.
 */
int rv_msix_notify(struct rv_pci_dev *dev, unsigned int vector);
bool rv_msix_enabled(const struct rv_pci_dev *dev);

#endif
