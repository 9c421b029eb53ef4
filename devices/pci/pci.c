// SPDX-License-Identifier: Apache-2.0
/*
 * The PCI root bus: slots, config space semantics, BARs and INTx.
 *
 * Config space is dev->config with two masks: wmask (bits a guest write
 * changes) and w1cmask (bits a guest write of 1 clears). Everything the
 * guest sends passes through those masks byte by byte, so no access at any
 * offset or width can touch a read-only field. The registers with side
 * effects are handled after the bytes are stored:
 *   - the command register switches BAR decoding (mapping the BARs on the
 *     VM's MMIO or port bus) and masks INTx;
 *   - a BAR write moves the BAR on its bus. Sizing needs no special case:
 *     a BAR's wmask is ~(size - 1) above its type bits, so writing all
 *     ones reads back the size mask with the type bits.
 *   - the MSI-X control word goes to msix.c.
 *
 * A BAR is reachable (registered on its bus) when its decode enable is on,
 * its address is not 0 and the whole BAR fits in its address space (port
 * BARs below 0x10000). When the guest programs a BAR over a range another
 * device or BAR already holds, the bus refuses it and the BAR stays
 * unreachable (accesses there keep going to the first owner) until the
 * guest writes the BAR or the command register again. A BAR over guest
 * RAM is registered but never reached: KVM serves RAM first.
 *
 * INTx: every slot's pin A is swizzled onto the ISA lines 5, 10 and 11
 * (rv_pci_intx_gsi). Devices that share a line are OR'ed here, because
 * KVM_IRQ_LINE has a single source for all of user space.
 */
#include "raevm/pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raevm/kvm.h"
#include "raevm/layout.h"
#include "raevm/le.h"
#include "raevm/log.h"
#include "raevm/mem.h"
#include "raevm/vm.h"

#define BAR_END (RV_PCI_BAR0 + 4 * RV_PCI_NR_BARS)
#define BAR_IO_FLAG 0x1
#define BAR_MEM_TYPE_64 0x4
#define BAR_MEM_PREFETCH 0x8
#define BAR_IO_MAX 256
#define BAR_MEM_MIN 16
#define PIO_SPACE 0x10000ULL
#define NR_ISA_GSIS 16
/* Status bits a guest clears by writing 1 (all in the status high byte). */
#define STATUS_HI_W1C 0xf9
#define CAP_WALK_MAX 64
/* AMD reserves [0xfd_0000_0000, 1 TiB) for HyperTransport. */
#define HT_HOLE_START 0xfd00000000ULL
/* 4-level nested paging (what KVM uses on most hosts) reaches 48 bits. */
#define MAX_PHYS_BITS 48
#define MIN_PHYS_BITS 36
#define CPUID_EXT_ADDR_SIZES 0x80000008

static const uint8_t intx_lines[] = { 5, 10, 11 };

struct rv_pci_bus {
	struct rv_vm *vm;
	pthread_mutex_t lock; /* slots and the allocation cursors */
	struct rv_pci_dev *slots[RV_PCI_MAX_SLOTS];
	struct rv_pci_host *host;
	uint64_t mmio32_next, mmio32_end;
	uint64_t mmio64_base, mmio64_size, mmio64_next;
	uint64_t io_next, io_end;

	pthread_mutex_t intx_lock; /* intx_count and every dev->intx_* */
	unsigned int intx_count[NR_ISA_GSIS];
};

static uint16_t cfg16(const struct rv_pci_dev *dev, uint32_t off)
{
	return (uint16_t)rv_le_get(dev->config + off, 2);
}

static uint32_t cfg32(const struct rv_pci_dev *dev, uint32_t off)
{
	return rv_le_get(dev->config + off, 4);
}

/* Whether [off, off + len) meets [start, start + size). */
static bool touches(uint32_t off, uint32_t len, uint32_t start, uint32_t size)
{
	return off < start + size && start < off + len;
}

uint32_t rv_pci_intx_gsi(unsigned int slot, unsigned int pin)
{
	unsigned int p = pin >= 1 && pin <= 4 ? pin - 1 : 0;

	return intx_lines[(slot + p) % RV_ARRAY_SIZE(intx_lines)];
}

struct rv_vm *rv__pci_bus_vm(const struct rv_pci_bus *bus)
{
	return bus->vm;
}

/* ---- INTx --------------------------------------------------------------- */

/* Recomputes dev's contribution to its line. Caller holds intx_lock. */
static int intx_update(struct rv_pci_bus *bus, struct rv_pci_dev *dev)
{
	bool out = dev->intx_level && !dev->intx_disabled;
	uint32_t gsi = dev->intx_gsi;

	if (out == dev->intx_out || gsi >= NR_ISA_GSIS)
		return 0;
	dev->intx_out = out;
	if (out)
		return bus->intx_count[gsi]++ == 0 ?
			       rv_vm_irq_line(bus->vm, gsi, 1) :
			       0;
	return --bus->intx_count[gsi] == 0 ? rv_vm_irq_line(bus->vm, gsi, 0) :
					     0;
}

int rv_pci_intx(struct rv_pci_dev *dev, int level)
{
	struct rv_pci_bus *bus = dev->bus;
	int rc;

	if (!bus || dev->config[RV_PCI_INT_PIN] == 0)
		return -EINVAL;
	pthread_mutex_lock(&bus->intx_lock);
	__atomic_store_n(&dev->intx_level, level != 0, __ATOMIC_RELAXED);
	rc = intx_update(bus, dev);
	pthread_mutex_unlock(&bus->intx_lock);
	return rc;
}

static void intx_set_disabled(struct rv_pci_dev *dev, bool disabled)
{
	struct rv_pci_bus *bus = dev->bus;

	pthread_mutex_lock(&bus->intx_lock);
	dev->intx_disabled = disabled;
	intx_update(bus, dev);
	pthread_mutex_unlock(&bus->intx_lock);
}

/* ---- BARs --------------------------------------------------------------- */

/* The address the guest programmed into bar (0 when none). */
static uint64_t bar_config_addr(const struct rv_pci_dev *dev, unsigned int i)
{
	uint32_t off = RV_PCI_BAR0 + 4 * i;

	switch (dev->bars[i].type) {
	case RV_PCI_BAR_IO:
		return cfg32(dev, off) & ~3u;
	case RV_PCI_BAR_MEM32:
		return cfg32(dev, off) & ~0xfu;
	case RV_PCI_BAR_MEM64:
		return (cfg32(dev, off) & ~0xfu) |
		       ((uint64_t)cfg32(dev, off + 4) << 32);
	case RV_PCI_BAR_NONE:
		break;
	}
	return 0;
}

static struct rv_bus *bar_bus(const struct rv_pci_dev *dev,
			      const struct rv_pci_bar *b)
{
	struct rv_vm *vm = dev->bus->vm;

	return b->type == RV_PCI_BAR_IO ? vm->pio : vm->mmio;
}

/* Whether bar may be reachable at addr with the current command register. */
static bool bar_decodes(const struct rv_pci_dev *dev,
			const struct rv_pci_bar *b, uint64_t addr)
{
	uint16_t cmd = cfg16(dev, RV_PCI_COMMAND);

	if (addr == 0)
		return false;
	if (b->type == RV_PCI_BAR_IO)
		return (cmd & RV_PCI_CMD_IO) && addr < PIO_SPACE &&
		       b->size <= PIO_SPACE - addr;
	return (cmd & RV_PCI_CMD_MEM) && addr + (b->size - 1) > addr;
}

/*
 * Brings BAR i's bus registration in line with its config register and the
 * command register, and tells the device when where it is reached changed.
 * Caller holds dev->lock; dev is registered.
 */
static void bar_refresh(struct rv_pci_dev *dev, unsigned int i)
{
	struct rv_pci_bar *b = &dev->bars[i];
	uint64_t want = bar_config_addr(dev, i);
	bool on = bar_decodes(dev, b, want);
	uint64_t before = b->mapped ? b->addr : 0, after;
	struct rv_bus *bus;
	int rc;

	if (b->type == RV_PCI_BAR_NONE)
		return;
	bus = bar_bus(dev, b);
	if (b->mapped && (!on || want != b->addr)) {
		rv_bus_unregister(bus, b->addr);
		b->mapped = false;
	}
	b->addr = want;
	if (on && !b->mapped) {
		rc = rv_bus_register(bus, want, b->size, b->ops, b->opaque);
		b->mapped = rc == 0;
		if (rc)
			rv_debug("pci %s: BAR %u at 0x%llx overlaps another "
				 "range; left unmapped",
				 dev->name, i, (unsigned long long)want);
	}
	after = b->mapped ? b->addr : 0;
	if (before != after && dev->ops && dev->ops->bar_moved)
		dev->ops->bar_moved(dev, i, before, after);
}

static void bars_refresh(struct rv_pci_dev *dev, bool io, bool mem)
{
	unsigned int i;

	for (i = 0; i < RV_PCI_NR_BARS; i++) {
		enum rv_pci_bar_type t = dev->bars[i].type;

		if ((t == RV_PCI_BAR_IO && io) ||
		    ((t == RV_PCI_BAR_MEM32 || t == RV_PCI_BAR_MEM64) && mem))
			bar_refresh(dev, i);
	}
}

/* Whether slot i is the upper half of a 64-bit BAR. */
static bool bar_is_upper(const struct rv_pci_dev *dev, unsigned int i)
{
	return i > 0 && dev->bars[i - 1].type == RV_PCI_BAR_MEM64;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int rv_pci_set_bar(struct rv_pci_dev *dev, unsigned int bar,
		   enum rv_pci_bar_type type, uint64_t size, bool prefetchable,
		   const struct rv_bus_ops *ops, void *opaque)
{
	uint32_t off = RV_PCI_BAR0 + 4 * bar, flags, mask;
	struct rv_pci_bar *b;

	if (bar >= RV_PCI_NR_BARS || !ops || !is_pow2(size))
		return -EINVAL;
	if (dev->bus)
		return -EBUSY;
	switch (type) {
	case RV_PCI_BAR_IO:
		if (size < 4 || size > BAR_IO_MAX || prefetchable)
			return -EINVAL;
		flags = BAR_IO_FLAG;
		break;
	case RV_PCI_BAR_MEM32:
		if (size < BAR_MEM_MIN || size > (1ULL << 31))
			return -EINVAL;
		flags = prefetchable ? BAR_MEM_PREFETCH : 0;
		break;
	case RV_PCI_BAR_MEM64:
		if (size < BAR_MEM_MIN || size > (1ULL << 63) ||
		    bar + 1 >= RV_PCI_NR_BARS)
			return -EINVAL;
		if (dev->bars[bar + 1].type != RV_PCI_BAR_NONE)
			return -EBUSY;
		flags = BAR_MEM_TYPE_64 | (prefetchable ? BAR_MEM_PREFETCH : 0);
		break;
	case RV_PCI_BAR_NONE:
	default:
		return -EINVAL;
	}
	if (dev->bars[bar].type != RV_PCI_BAR_NONE || bar_is_upper(dev, bar))
		return -EBUSY;
	b = &dev->bars[bar];
	*b = (struct rv_pci_bar){ .type = type,
				  .size = size,
				  .prefetchable = prefetchable,
				  .ops = ops,
				  .opaque = opaque };
	/* Address bits at and above the size are writable; type bits are not. */
	mask = (uint32_t) ~(size - 1) & (type == RV_PCI_BAR_IO ? ~3u : ~0xfu);
	rv_le_put(dev->config + off, flags, 4);
	rv_le_put(dev->wmask + off, mask, 4);
	if (type == RV_PCI_BAR_MEM64) {
		rv_le_put(dev->config + off + 4, 0, 4);
		rv_le_put(dev->wmask + off + 4, (uint32_t) ~((size - 1) >> 32),
			  4);
	}
	return 0;
}

/* ---- Config space ------------------------------------------------------- */

void rv_pci_dev_init(struct rv_pci_dev *dev, const char *name, uint16_t vendor,
		     uint16_t device, uint32_t class_code, uint8_t revision,
		     uint16_t subsys_vendor, uint16_t subsys_id,
		     const struct rv_pci_dev_ops *ops)
{
	memset(dev, 0, sizeof(*dev));
	pthread_mutex_init(&dev->lock, NULL);
	dev->name = name;
	dev->ops = ops;
	dev->next_cap = RV_PCI_CAP_START;
	rv_le_put(dev->config + RV_PCI_VENDOR_ID, vendor, 2);
	rv_le_put(dev->config + RV_PCI_DEVICE_ID, device, 2);
	dev->config[RV_PCI_REVISION] = revision;
	rv_le_put(dev->config + RV_PCI_CLASS_PROG, class_code & 0xffffff, 3);
	rv_le_put(dev->config + RV_PCI_SUBSYS_VENDOR, subsys_vendor, 2);
	rv_le_put(dev->config + RV_PCI_SUBSYS_ID, subsys_id, 2);
	dev->config[RV_PCI_INT_PIN] = RV_PCI_INTA;
	rv_le_put(dev->wmask + RV_PCI_COMMAND,
		  RV_PCI_CMD_IO | RV_PCI_CMD_MEM | RV_PCI_CMD_MASTER |
			  RV_PCI_CMD_PARITY | RV_PCI_CMD_SERR |
			  RV_PCI_CMD_INTX_DISABLE,
		  2);
	dev->w1cmask[RV_PCI_STATUS + 1] = STATUS_HI_W1C;
	dev->wmask[0x0c] = 0xff; /* cache line size: stored, unused */
	dev->wmask[RV_PCI_INT_LINE] = 0xff;
}

int rv_pci_add_cap(struct rv_pci_dev *dev, uint8_t id, const void *body,
		   uint32_t len, uint16_t *offset)
{
	uint32_t off = (dev->next_cap + 3u) & ~3u, p, n;

	if (dev->bus)
		return -EBUSY;
	if (len && !body)
		return -EINVAL;
	if (off < RV_PCI_CAP_START || len > RV_PCI_STD_CFG_SIZE ||
	    off + 2 + len > RV_PCI_STD_CFG_SIZE)
		return -ENOSPC;
	dev->config[off] = id;
	dev->config[off + 1] = 0;
	if (len)
		memcpy(dev->config + off + 2, body, len);
	p = dev->config[RV_PCI_CAP_PTR];
	if (p == 0) {
		dev->config[RV_PCI_CAP_PTR] = (uint8_t)off;
	} else {
		for (n = 0; dev->config[p + 1] != 0 && n < CAP_WALK_MAX; n++)
			p = dev->config[p + 1];
		dev->config[p + 1] = (uint8_t)off;
	}
	dev->config[RV_PCI_STATUS] |= RV_PCI_STATUS_CAP_LIST;
	dev->next_cap = (uint16_t)((off + 2 + len + 3u) & ~3u);
	*offset = (uint16_t)off;
	return 0;
}

static void command_written(struct rv_pci_dev *dev, uint16_t old)
{
	uint16_t cmd = cfg16(dev, RV_PCI_COMMAND);
	uint16_t changed = cmd ^ old;

	/* Also retries BARs that lost an overlap, as a rewrite would. */
	bars_refresh(dev, true, true);
	if (changed & RV_PCI_CMD_INTX_DISABLE)
		intx_set_disabled(dev, cmd & RV_PCI_CMD_INTX_DISABLE);
}

static void config_write(struct rv_pci_dev *dev, uint32_t off, uint32_t val,
			 uint32_t len)
{
	uint16_t old_cmd = cfg16(dev, RV_PCI_COMMAND);
	uint16_t msix = rv__msix_cap_offset(dev);
	uint32_t i;

	for (i = 0; i < len; i++) {
		uint32_t o = off + i;
		uint8_t b = (uint8_t)(val >> (8 * i));

		dev->config[o] = (uint8_t)((dev->config[o] & ~dev->wmask[o]) |
					   (b & dev->wmask[o]));
		dev->config[o] &= (uint8_t) ~(b & dev->w1cmask[o]);
	}
	if (touches(off, len, RV_PCI_COMMAND, 2))
		command_written(dev, old_cmd);
	for (i = 0; i < RV_PCI_NR_BARS; i++) {
		uint32_t size = dev->bars[i].type == RV_PCI_BAR_MEM64 ? 8 : 4;

		if (touches(off, len, RV_PCI_BAR0 + 4 * i, size))
			bar_refresh(dev, i);
	}
	if (msix && touches(off, len, msix + 2u, 2))
		rv__msix_control_written(dev);
	if (dev->ops && dev->ops->config_write)
		dev->ops->config_write(dev, off, val, len);
}

static uint32_t config_read(struct rv_pci_dev *dev, uint32_t off, uint32_t len)
{
	uint32_t v = rv_le_get(dev->config + off, len);

	/* The interrupt status bit follows the device's INTx request. */
	if (touches(off, len, RV_PCI_STATUS, 1) &&
	    __atomic_load_n(&dev->intx_level, __ATOMIC_RELAXED))
		v |= (uint32_t)RV_PCI_STATUS_INTX
		     << (8 * (RV_PCI_STATUS - off));
	if (dev->ops && dev->ops->config_read)
		dev->ops->config_read(dev, off, &v, len);
	return v;
}

void rv__pci_config_access(struct rv_pci_bus *bus, unsigned int busnr,
			   unsigned int slot, unsigned int fn, uint32_t offset,
			   void *data, uint32_t len, bool is_write)
{
	struct rv_pci_dev *dev = NULL;
	uint32_t v;

	if (busnr == 0 && fn == 0 && slot < RV_PCI_MAX_SLOTS &&
	    offset < RV_PCI_CFG_SIZE && (len == 1 || len == 2 || len == 4) &&
	    (offset & 3) + len <= 4) {
		pthread_mutex_lock(&bus->lock);
		dev = bus->slots[slot];
		pthread_mutex_unlock(&bus->lock);
	}
	if (!dev) {
		/* No function answers: a master abort, all ones. */
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&dev->lock);
	if (is_write) {
		config_write(dev, offset, rv_le_get(data, len), len);
	} else {
		v = config_read(dev, offset, len);
		rv_le_put(data, v, len);
	}
	pthread_mutex_unlock(&dev->lock);
}

/* ---- Registration and address assignment ------------------------------- */

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Takes size bytes, naturally aligned, from [*next, end). */
static bool window_take(uint64_t *next, uint64_t end, uint64_t size,
			uint64_t *addr)
{
	uint64_t a = align_up(*next, size);

	if (a < *next || a >= end || size > end - a)
		return false;
	*addr = a;
	*next = a + size;
	return true;
}

struct cursors {
	uint64_t mmio32, mmio64, io;
};

static bool assign_bar(const struct rv_pci_bus *bus, struct cursors *c,
		       const struct rv_pci_bar *b, uint64_t *addr)
{
	uint64_t end64 = bus->mmio64_base + bus->mmio64_size;

	switch (b->type) {
	case RV_PCI_BAR_IO:
		return window_take(&c->io, bus->io_end, b->size, addr);
	case RV_PCI_BAR_MEM32:
		return window_take(&c->mmio32, bus->mmio32_end, b->size, addr);
	case RV_PCI_BAR_MEM64:
		if (b->size <= RV_PCI_MMIO64_SMALL &&
		    window_take(&c->mmio32, bus->mmio32_end, b->size, addr))
			return true;
		if (bus->mmio64_size &&
		    window_take(&c->mmio64, end64, b->size, addr))
			return true;
		return window_take(&c->mmio32, bus->mmio32_end, b->size, addr);
	case RV_PCI_BAR_NONE:
		break;
	}
	return false;
}

/*
 * Gives every BAR of dev an address, biggest first so alignment wastes
 * little. Writes nothing to the bus until every BAR fits. Caller holds
 * bus->lock.
 */
static int assign_bars(struct rv_pci_bus *bus, struct rv_pci_dev *dev)
{
	struct cursors c = { bus->mmio32_next, bus->mmio64_next, bus->io_next };
	uint64_t addrs[RV_PCI_NR_BARS] = { 0 };
	bool done[RV_PCI_NR_BARS] = { false };
	unsigned int i, k;
	char size[32];

	for (k = 0; k < RV_PCI_NR_BARS; k++) {
		int best = -1;

		for (i = 0; i < RV_PCI_NR_BARS; i++)
			if (dev->bars[i].type != RV_PCI_BAR_NONE && !done[i] &&
			    (best < 0 ||
			     dev->bars[i].size > dev->bars[best].size))
				best = (int)i;
		if (best < 0)
			break;
		i = (unsigned int)best;
		done[i] = true;
		if (!assign_bar(bus, &c, &dev->bars[i], &addrs[i])) {
			rv_error("pci %s: BAR %u (%s) does not fit in the "
				 "%s window",
				 dev->name, i,
				 rv_format_size(dev->bars[i].size, size,
						sizeof(size)),
				 dev->bars[i].type == RV_PCI_BAR_IO ? "I/O" :
								      "MMIO");
			return -ENOSPC;
		}
	}
	for (i = 0; i < RV_PCI_NR_BARS; i++) {
		uint32_t off = RV_PCI_BAR0 + 4 * i;
		uint32_t low = (uint32_t)addrs[i];

		if (dev->bars[i].type == RV_PCI_BAR_NONE)
			continue;
		rv_le_put(dev->config + off,
			  (cfg32(dev, off) &
			   (dev->bars[i].type == RV_PCI_BAR_IO ? 3u : 0xfu)) |
				  low,
			  4);
		if (dev->bars[i].type == RV_PCI_BAR_MEM64)
			rv_le_put(dev->config + off + 4,
				  (uint32_t)(addrs[i] >> 32), 4);
	}
	bus->mmio32_next = c.mmio32;
	bus->mmio64_next = c.mmio64;
	bus->io_next = c.io;
	return 0;
}

int rv_pci_register(struct rv_pci_bus *bus, struct rv_pci_dev *dev)
{
	uint16_t cmd = 0;
	unsigned int slot, i;
	int rc;

	if (dev->bus)
		return -EBUSY;
	/*
	 * dev->lock first: a vCPU that finds dev in its slot before it is
	 * fully set up waits for it (config accesses never hold bus->lock
	 * while taking dev->lock).
	 */
	pthread_mutex_lock(&dev->lock);
	pthread_mutex_lock(&bus->lock);
	for (slot = 0; slot < RV_PCI_MAX_SLOTS && bus->slots[slot]; slot++)
		;
	if (slot == RV_PCI_MAX_SLOTS) {
		rv_error("pci %s: no free slot on bus 0 (%u devices at most)",
			 dev->name, RV_PCI_MAX_SLOTS - 1);
		rc = -ENOSPC;
	} else {
		rc = assign_bars(bus, dev);
	}
	if (rc) {
		pthread_mutex_unlock(&bus->lock);
		pthread_mutex_unlock(&dev->lock);
		return rc;
	}
	bus->slots[slot] = dev;
	dev->slot = slot;
	dev->bus = bus;
	pthread_mutex_unlock(&bus->lock);

	if (dev->config[RV_PCI_INT_PIN]) {
		dev->intx_gsi =
			rv_pci_intx_gsi(slot, dev->config[RV_PCI_INT_PIN]);
		dev->config[RV_PCI_INT_LINE] = (uint8_t)dev->intx_gsi;
	}
	for (i = 0; i < RV_PCI_NR_BARS; i++) {
		if (dev->bars[i].type == RV_PCI_BAR_IO)
			cmd |= RV_PCI_CMD_IO;
		else if (dev->bars[i].type != RV_PCI_BAR_NONE)
			cmd |= RV_PCI_CMD_MEM;
	}
	rv_le_put(dev->config + RV_PCI_COMMAND, cmd, 2);
	bars_refresh(dev, true, true);
	for (i = 0; i < RV_PCI_NR_BARS; i++)
		if (dev->bars[i].type != RV_PCI_BAR_NONE &&
		    !dev->bars[i].mapped)
			rv_warn("pci %s: BAR %u at 0x%llx overlaps another "
				"device; the guest must move it",
				dev->name, i,
				(unsigned long long)dev->bars[i].addr);
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

void rv_pci_unregister(struct rv_pci_dev *dev)
{
	struct rv_pci_bus *bus = dev->bus;
	unsigned int i;

	if (!bus)
		return;
	pthread_mutex_lock(&bus->lock);
	if (dev->slot < RV_PCI_MAX_SLOTS && bus->slots[dev->slot] == dev)
		bus->slots[dev->slot] = NULL;
	pthread_mutex_unlock(&bus->lock);

	pthread_mutex_lock(&dev->lock);
	for (i = 0; i < RV_PCI_NR_BARS; i++) {
		struct rv_pci_bar *b = &dev->bars[i];

		if (b->mapped)
			rv_bus_unregister(bar_bus(dev, b), b->addr);
		b->mapped = false;
	}
	pthread_mutex_unlock(&dev->lock);

	pthread_mutex_lock(&bus->intx_lock);
	dev->intx_level = false;
	intx_update(bus, dev);
	pthread_mutex_unlock(&bus->intx_lock);
	dev->bus = NULL;
}

/* ---- The bus ------------------------------------------------------------ */

void rv_pci_mmio64_calc(unsigned int phys_bits, uint64_t ram_end,
			uint64_t *base, uint64_t *size)
{
	uint64_t top, lo, b;

	if (phys_bits < MIN_PHYS_BITS || phys_bits > 63)
		phys_bits = MIN_PHYS_BITS;
	if (phys_bits > MAX_PHYS_BITS)
		phys_bits = MAX_PHYS_BITS;
	top = 1ULL << phys_bits;
	lo = align_up(ram_end > RV_4G ? ram_end : RV_4G, RV_GiB);
	if (lo < ram_end)
		lo = top; /* ram_end near 2^64: no window */
	b = lo > top / 2 ? lo : top / 2;
	if (b < HT_HOLE_START && top > HT_HOLE_START)
		top = HT_HOLE_START;
	*base = b < top ? b : 0;
	*size = b < top ? top - b : 0;
}

/*
 * The guest's physical address width: CPUID 0x80000008 EAX[23:16] (the
 * width KVM can map for the guest, when it says) else EAX[7:0], from what
 * KVM reports (the CPU templates pass EAX through unchanged).
 */
static unsigned int guest_phys_bits(const struct rv_vm *vm)
{
	const struct kvm_cpuid2 *c = vm->kvm ? vm->kvm->supported_cpuid : NULL;
	uint32_t i;

	for (i = 0; c && i < c->nent; i++) {
		uint32_t eax = c->entries[i].eax;

		if (c->entries[i].function != CPUID_EXT_ADDR_SIZES)
			continue;
		return (eax >> 16) & 0xff ? (eax >> 16) & 0xff : eax & 0xff;
	}
	return MIN_PHYS_BITS;
}

static uint64_t ram_end(const struct rv_vm *vm)
{
	uint64_t end = 0;
	unsigned int i;

	for (i = 0; vm->mem && i < vm->mem->nr_regions; i++) {
		const struct rv_mem_region *r = &vm->mem->regions[i];

		if (r->gpa + r->size > end)
			end = r->gpa + r->size;
	}
	return end;
}

void rv_pci_vm_mmio64_window(const struct rv_vm *vm, uint64_t *base,
			     uint64_t *size)
{
	rv_pci_mmio64_calc(guest_phys_bits(vm), ram_end(vm), base, size);
}

int rv_pci_bus_create(struct rv_vm *vm, struct rv_pci_bus **out)
{
	struct rv_pci_bus *bus;
	int rc;

	*out = NULL;
	bus = calloc(1, sizeof(*bus));
	if (!bus) {
		rv_error("pci: out of memory for the root bus");
		return -ENOMEM;
	}
	bus->vm = vm;
	pthread_mutex_init(&bus->lock, NULL);
	pthread_mutex_init(&bus->intx_lock, NULL);
	bus->mmio32_next = RV_PCI_MMIO32_BASE;
	bus->mmio32_end = RV_PCI_MMIO32_BASE + RV_PCI_MMIO32_SIZE;
	bus->io_next = RV_PCI_IO_BASE;
	bus->io_end = RV_PCI_IO_BASE + RV_PCI_IO_SIZE;
	rv_pci_vm_mmio64_window(vm, &bus->mmio64_base, &bus->mmio64_size);
	bus->mmio64_next = bus->mmio64_base;
	rc = rv__pci_host_create(bus, vm, &bus->host);
	if (rc) {
		rv_pci_bus_destroy(bus);
		return rc;
	}
	*out = bus;
	return 0;
}

void rv_pci_bus_destroy(struct rv_pci_bus *bus)
{
	if (!bus)
		return;
	rv__pci_host_destroy(bus->host);
	pthread_mutex_destroy(&bus->intx_lock);
	pthread_mutex_destroy(&bus->lock);
	free(bus);
}

void rv_pci_mmio64_window(const struct rv_pci_bus *bus, uint64_t *base,
			  uint64_t *size)
{
	*base = bus->mmio64_base;
	*size = bus->mmio64_size;
}
