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
 * handling (for device-specific registers) and BAR moves. A device that has
 * writable capability fields of its own sets their dev->wmask bytes after
 * rv_pci_add_cap() and before rv_pci_register().
 *
 * Life cycle: rv_pci_dev_init(), rv_pci_set_bar(), rv_pci_add_cap() and
 * rv_msix_init() (in that order, before registration), rv_pci_register();
 * at teardown, once every vCPU has stopped: rv_pci_unregister(),
 * rv_msix_destroy().
 *
 * Threads and locks: config accesses come from vCPU threads; each device's
 * config space, BARs and hooks run under dev->lock. Lock order:
 *   dev->lock -> the device's own locks (taken in its hooks)
 *             -> the MSI-X lock -> the bus's INTx lock -> irq routing lock.
 * rv_pci_intx(), rv_msix_notify() and rv_msix_enabled() never take
 * dev->lock, so a device may call them while holding its own lock, from
 * any thread, including from its hooks.
 */
#define RV_PCI_CFG_SIZE 4096
#define RV_PCI_NR_BARS 6
#define RV_PCI_MAX_SLOTS 32

/* Guest physical windows (inside the MMIO hole and above RAM). */
#define RV_PCI_MMIO32_BASE 0xc0000000ULL
#define RV_PCI_MMIO32_SIZE 0x20000000ULL /* 512 MiB */
#define RV_PCI_ECAM_BASE 0xe0000000ULL
#define RV_PCI_ECAM_SIZE 0x10000000ULL /* 256 buses * 1 MiB */
#define RV_PCI_IO_BASE 0xc000ULL
#define RV_PCI_IO_SIZE 0x4000ULL

/*
 * 64-bit BARs up to this size are placed in the 32-bit window (so guests
 * and firmware that cannot reach above 4 GiB still see them); larger ones
 * go to the 64-bit window above RAM (rv_pci_mmio64_window()).
 */
#define RV_PCI_MMIO64_SMALL (32ULL << 20)

/*
 * The host bridge at 00:00.0: Intel's "virtual PCIe host" ID (8086:0d57),
 * the ID other KVM VMMs give a bridge that is no real chipset. No guest
 * driver binds to it, so guests see a plain class 06/00/00 host bridge and
 * never poke chipset registers raevm does not have, as they would for an
 * i440FX or Q35 ID.
 */
#define RV_PCI_HOST_VENDOR 0x8086
#define RV_PCI_HOST_DEVICE 0x0d57

/* The reset control register (byte port; bit 2 resets the machine). */
#define RV_PCI_RESET_PORT 0xcf9

/* Standard config registers and bits the transport code may need. */
#define RV_PCI_VENDOR_ID 0x00
#define RV_PCI_DEVICE_ID 0x02
#define RV_PCI_COMMAND 0x04
#define RV_PCI_STATUS 0x06
#define RV_PCI_REVISION 0x08
#define RV_PCI_CLASS_PROG 0x09
#define RV_PCI_HEADER_TYPE 0x0e
#define RV_PCI_BAR0 0x10
#define RV_PCI_SUBSYS_VENDOR 0x2c
#define RV_PCI_SUBSYS_ID 0x2e
#define RV_PCI_ROM 0x30
#define RV_PCI_CAP_PTR 0x34
#define RV_PCI_INT_LINE 0x3c
#define RV_PCI_INT_PIN 0x3d
#define RV_PCI_CAP_START 0x40	  /* first capability */
#define RV_PCI_STD_CFG_SIZE 0x100 /* what 0xCF8/0xCFC reaches */

#define RV_PCI_CMD_IO 0x0001
#define RV_PCI_CMD_MEM 0x0002
#define RV_PCI_CMD_MASTER 0x0004
#define RV_PCI_CMD_PARITY 0x0040
#define RV_PCI_CMD_SERR 0x0100
#define RV_PCI_CMD_INTX_DISABLE 0x0400

#define RV_PCI_STATUS_INTX 0x0008 /* the device asserts INTx */
#define RV_PCI_STATUS_CAP_LIST 0x0010

#define RV_PCI_CAP_ID_VNDR 0x09
#define RV_PCI_CAP_ID_MSIX 0x11

/* INTx: pin A is 1, D is 4. */
#define RV_PCI_INTA 1

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
	uint64_t size; /* power of two, >= 16 (mem) or 4..256 (io) */
	bool prefetchable;
	uint64_t addr; /* programmed guest address; 0 = unassigned */
	bool mapped;   /* registered on the bus at addr right now */
	const struct rv_bus_ops *ops; /* accesses, offset relative to BAR */
	void *opaque;
};

struct rv_pci_dev_ops {
	/*
	 * Called under dev->lock after the generic code handled an access at
	 * offset (already applied to dev->config for writes). offset may be
	 * any byte of a dword; offset + len never crosses a dword. May be NULL.
	 */
	void (*config_write)(struct rv_pci_dev *dev, uint32_t offset,
			     uint32_t value, uint32_t len);
	void (*config_read)(struct rv_pci_dev *dev, uint32_t offset,
			    uint32_t *value, uint32_t len);
	/*
	 * Under dev->lock: where the guest can reach the BAR changed (moved,
	 * or decoding switched on or off; 0 = not reachable). May be NULL.
	 */
	void (*bar_moved)(struct rv_pci_dev *dev, unsigned int bar,
			  uint64_t old_addr, uint64_t new_addr);
};

struct rv_pci_dev {
	pthread_mutex_t lock;
	struct rv_pci_bus *bus; /* NULL until registered */
	const struct rv_pci_dev_ops *ops;
	const char *name;
	unsigned int slot; /* device number on bus 0 */
	uint8_t config[RV_PCI_CFG_SIZE];
	uint8_t wmask[RV_PCI_CFG_SIZE];
	uint8_t w1cmask[RV_PCI_CFG_SIZE];
	struct rv_pci_bar bars[RV_PCI_NR_BARS];
	uint16_t next_cap;    /* where the next capability goes */
	struct rv_msix *msix; /* NULL without MSI-X */
	uint32_t intx_gsi;    /* legacy INTx line (ISA IRQ / IOAPIC pin) */

	/* INTx state, private to pci.c, under the bus's INTx lock. */
	bool intx_level;    /* what the device asks for */
	bool intx_disabled; /* the command register's INTx disable */
	bool intx_out;	    /* what it contributes to the shared line */
};

/*
 * The root bus: host bridge, config mechanisms, address allocation.
 * Claims ports 0xcf8-0xcff on vm->pio and the ECAM window on vm->mmio.
 */
int rv_pci_bus_create(struct rv_vm *vm, struct rv_pci_bus **out) RV_MUST_CHECK;
/* Releases the bus; every other device must be unregistered first. */
void rv_pci_bus_destroy(struct rv_pci_bus *bus);

/*
 * Initialises dev (zeroing it) and its config header (vendor, device,
 * class, revision, subsystem ids, interrupt pin A) before BARs and
 * capabilities are added. A device without INTx clears
 * config[RV_PCI_INT_PIN] before registering.
 */
void rv_pci_dev_init(struct rv_pci_dev *dev, const char *name, uint16_t vendor,
		     uint16_t device, uint32_t class_code, uint8_t revision,
		     uint16_t subsys_vendor, uint16_t subsys_id,
		     const struct rv_pci_dev_ops *ops);

/*
 * Declares a BAR (before rv_pci_register). Returns -EINVAL for a bad index,
 * type, size or ops (a 64-bit BAR needs bar <= 4 and a free next slot),
 * -EBUSY when the slot is taken or dev is already registered.
 */
int rv_pci_set_bar(struct rv_pci_dev *dev, unsigned int bar,
		   enum rv_pci_bar_type type, uint64_t size, bool prefetchable,
		   const struct rv_bus_ops *ops, void *opaque) RV_MUST_CHECK;

/*
 * Appends a capability: id, then body (len bytes, excluding the 2-byte
 * id/next header), dword aligned in the standard config space (below
 * 0x100, where both config mechanisms reach it). Returns its config offset
 * through *offset; -ENOSPC when it does not fit, -EBUSY after registration.
 */
int rv_pci_add_cap(struct rv_pci_dev *dev, uint8_t id, const void *body,
		   uint32_t len, uint16_t *offset) RV_MUST_CHECK;

/*
 * Places dev in the lowest free slot, assigns BAR addresses from the
 * windows (naturally aligned, as firmware would; the guest may move them)
 * and an INTx line, and enables decoding of the assigned BARs. Returns
 * -ENOSPC (no slot, or a window is full; logged), -EBUSY if registered.
 */
int rv_pci_register(struct rv_pci_bus *bus,
		    struct rv_pci_dev *dev) RV_MUST_CHECK;
/* Unmaps the BARs, lowers INTx and frees the slot. Window space is kept. */
void rv_pci_unregister(struct rv_pci_dev *dev);

/*
 * Raises/lowers the device's INTx line (used when MSI-X is off). Devices
 * sharing a line are OR'ed; the command register's INTx disable masks
 * the device. Returns 0, -EINVAL without an interrupt pin or unregistered.
 */
int rv_pci_intx(struct rv_pci_dev *dev, int level);

/*
 * The GSI (an ISA IRQ, the same IOAPIC pin) that pin (1 = INTA .. 4 =
 * INTD) of slot's function reaches: the usual swizzle over the lines
 * 5, 10 and 11, which no board device uses (PIT 0, i8042 1 and 12,
 * COM1 4, RTC 8, ACPI SCI 9). For MP and ACPI tables.
 */
uint32_t rv_pci_intx_gsi(unsigned int slot, unsigned int pin);

/* The 64-bit MMIO window, for ACPI _CRS: base and size (size 0: none). */
void rv_pci_mmio64_window(const struct rv_pci_bus *bus, uint64_t *base,
			  uint64_t *size);

/*
 * The same window for vm before its bus exists (firmware tables are
 * written in the boot phase, before the device phase creates the bus).
 */
void rv_pci_vm_mmio64_window(const struct rv_vm *vm, uint64_t *base,
			     uint64_t *size);

/*
 * Where the 64-bit window goes for a guest whose physical addresses are
 * phys_bits wide (taken as 36 when below 36 or nonsense, and held to 48,
 * what 4-level nested paging reaches) and whose RAM ends at ram_end: the
 * upper half of the physical address space (or from ram_end rounded up to
 * 1 GiB, if that is higher) to its top, stopping below AMD's
 * HyperTransport hole at 0xfd_0000_0000 when the window would straddle
 * it. Size 0 when RAM leaves no room. Pure; exposed for tests.
 */
void rv_pci_mmio64_calc(unsigned int phys_bits, uint64_t ram_end,
			uint64_t *base, uint64_t *size);

/*
 * MSI-X (devices/pci/msix.c): a table and PBA living in one of the device's
 * BARs, each vector routed through KVM GSI routing and an irqfd, so a
 * device thread raises an interrupt by writing an eventfd, without an ioctl
 * and without entering the VMM's vCPU path.
 *
 * rv_msix_init() comes after rv_pci_set_bar() of the BAR that holds the
 * table (a memory BAR) and before rv_pci_register(). The table must be
 * 8-byte aligned and hold nr_vectors (1..2048) entries of 16 bytes, the
 * PBA 8-byte aligned and ceil(nr_vectors / 64) qwords, both inside the BAR
 * and apart. Returns 0, -EINVAL, -ENOSPC (capability space), -ENOMEM.
 */
#define RV_MSIX_MAX_VECTORS 2048
int rv_msix_init(struct rv_pci_dev *dev, unsigned int nr_vectors,
		 unsigned int bar, uint32_t table_offset,
		 uint32_t pba_offset) RV_MUST_CHECK;
void rv_msix_destroy(struct rv_pci_dev *dev);
/*
 * BAR accesses that fall in the table or PBA; true when handled. The
 * owner of the BAR calls it first from its bus handler. Table and PBA
 * accesses must be 4 or 8 bytes and aligned to their size; others are
 * handled by ignoring writes and reading all ones.
 */
bool rv_msix_bar_access(struct rv_pci_dev *dev, uint64_t offset, void *data,
			uint32_t len, bool is_write);
/*
 * Signals vector: writes its irqfd, or sets the pending bit when masked
 * (function mask, vector mask, or MSI-X disabled). Safe from any thread.
 * Returns -EINVAL for a vector out of range.
 */
int rv_msix_notify(struct rv_pci_dev *dev, unsigned int vector);
bool rv_msix_enabled(const struct rv_pci_dev *dev);

/*
 * Internal, between pci.c, host_bridge.c and msix.c only.
 *
 * rv__pci_config_access: one config access from a config mechanism, for
 * bus number busnr, device slot, function fn, at offset (< 4096) of len
 * bytes (1, 2 or 4, not crossing a dword). Absent functions read all ones.
 */
void rv__pci_config_access(struct rv_pci_bus *bus, unsigned int busnr,
			   unsigned int slot, unsigned int fn, uint32_t offset,
			   void *data, uint32_t len, bool is_write);
struct rv_vm *rv__pci_bus_vm(const struct rv_pci_bus *bus);
/* The host bridge: 00:00.0 plus the 0xCF8/0xCFC ports and ECAM. */
struct rv_pci_host;
int rv__pci_host_create(struct rv_pci_bus *bus, struct rv_vm *vm,
			struct rv_pci_host **out) RV_MUST_CHECK;
void rv__pci_host_destroy(struct rv_pci_host *host);
/* The MSI-X capability's control word changed (under dev->lock). */
void rv__msix_control_written(struct rv_pci_dev *dev);
/* Offset of the MSI-X capability in config space, 0 without. */
uint16_t rv__msix_cap_offset(const struct rv_pci_dev *dev);

#endif
