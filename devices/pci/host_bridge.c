// SPDX-License-Identifier: Apache-2.0
/*
 * The PCI host bridge: function 00:00.0 and the two ways to reach config
 * space.
 *
 * Configuration mechanism #1 (ports 0xcf8-0xcff): a 32-bit write to 0xcf8
 * sets the address (bit 31 enable, bus 23:16, device 15:11, function
 * 10:8, register 7:2; the reserved bits 30:24 and 1:0 read 0). Accesses of
 * 1, 2 or 4 bytes at 0xcfc-0xcff then reach the addressed dword at the
 * byte the port selects. The register field has 8 bits, so the extended
 * config space (0x100 and up) cannot be reached this way, as on real
 * chipsets. With the enable bit clear the data port reads all ones. Any
 * other access to 0xcf8-0xcfb is ignored and reads all ones, except byte
 * 0xcf9: the reset control register, whose bit 2 resets the machine (one
 * of the ways Linux reboots).
 *
 * ECAM (RV_PCI_ECAM_BASE, 1 MiB per bus, 4 KiB per function): the whole
 * 4 KiB of each function. Only bus 0 decodes; other buses read all ones.
 * An access must stay within one dword (1, 2 or 4 bytes) or be an aligned
 * 8-byte access, done as two dword accesses; others are ignored and read
 * all ones.
 *
 * Only function 0 of each slot exists (header type bit 7 clear), so the
 * guest finds single-function devices.
 */
#include "raevm/pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "raevm/le.h"
#include "raevm/log.h"
#include "raevm/vm.h"

#define CONFIG_PORT 0xcf8
#define CONFIG_NR_PORTS 8
#define DATA_OFFSET 4 /* 0xcfc within the port range */
#define RCR_OFFSET 1  /* 0xcf9 */
#define ADDR_ENABLE 0x80000000u
#define ADDR_MASK 0x80fffffcu
#define RCR_SYS_RST 0x02
#define RCR_RST_CPU 0x04
#define RCR_FULL_RST 0x08
#define CLASS_HOST_BRIDGE 0x060000

struct rv_pci_host {
	struct rv_pci_dev dev; /* 00:00.0 */
	struct rv_pci_bus *bus;
	struct rv_vm *vm;
	pthread_mutex_t lock; /* addr, rcr */
	uint32_t addr;	      /* the 0xcf8 register */
	uint8_t rcr;	      /* the 0xcf9 register */
	bool ports_registered;
	bool ecam_registered;
};

static void rcr_write(struct rv_pci_host *h, uint8_t v)
{
	bool reset;

	pthread_mutex_lock(&h->lock);
	h->rcr = v & (RCR_SYS_RST | RCR_FULL_RST);
	reset = v & RCR_RST_CPU;
	pthread_mutex_unlock(&h->lock);
	if (reset)
		rv_vm_request_stop(h->vm, RV_STOP_GUEST_RESET, 0);
}

/* 0xcf8-0xcfb: the address register and the reset control register. */
static void control_access(struct rv_pci_host *h, uint64_t off, void *data,
			   uint32_t len, bool is_write)
{
	if (off == 0 && len == 4) {
		pthread_mutex_lock(&h->lock);
		if (is_write)
			h->addr = rv_le_get(data, 4) & ADDR_MASK;
		else
			memcpy(data, &h->addr, 4);
		pthread_mutex_unlock(&h->lock);
	} else if (off == RCR_OFFSET && len == 1) {
		if (is_write) {
			rcr_write(h, *(const uint8_t *)data);
		} else {
			pthread_mutex_lock(&h->lock);
			*(uint8_t *)data = h->rcr;
			pthread_mutex_unlock(&h->lock);
		}
	} else if (!is_write) {
		memset(data, 0xff, len);
	}
}

static void data_access(struct rv_pci_host *h, uint32_t byte, void *data,
			uint32_t len, bool is_write)
{
	uint32_t addr;

	pthread_mutex_lock(&h->lock);
	addr = h->addr;
	pthread_mutex_unlock(&h->lock);
	if (!(addr & ADDR_ENABLE)) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	rv__pci_config_access(h->bus, (addr >> 16) & 0xff, (addr >> 11) & 0x1f,
			      (addr >> 8) & 0x7, (addr & 0xfc) + byte, data,
			      len, is_write);
}

static void ports_access(struct rv_pci_host *h, uint64_t off, void *data,
			 uint32_t len, bool is_write)
{
	if (off >= DATA_OFFSET)
		data_access(h, (uint32_t)(off - DATA_OFFSET), data, len,
			    is_write);
	else if (off + len <= DATA_OFFSET)
		control_access(h, off, data, len, is_write);
	else if (!is_write)
		memset(data, 0xff, len); /* straddles the two registers */
}

static void ports_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	ports_access(opaque, off, data, len, false);
}

static void ports_write(void *opaque, uint64_t off, const void *data,
			uint32_t len)
{
	/* Writes never modify data; the shared path takes it non-const. */
	ports_access(opaque, off, (void *)(uintptr_t)data, len, true);
}

static const struct rv_bus_ops ports_ops = {
	.read = ports_read,
	.write = ports_write,
};

static void ecam_access(struct rv_pci_host *h, uint64_t off, void *data,
			uint32_t len, bool is_write)
{
	unsigned int busnr = (unsigned int)(off >> 20);
	unsigned int slot = (off >> 15) & 0x1f, fn = (off >> 12) & 0x7;
	uint32_t reg = off & 0xfff;

	if (len == 8 && (reg & 7) == 0) {
		rv__pci_config_access(h->bus, busnr, slot, fn, reg, data, 4,
				      is_write);
		rv__pci_config_access(h->bus, busnr, slot, fn, reg + 4,
				      (uint8_t *)data + 4, 4, is_write);
	} else if (len <= 4 && (reg & 3) + len <= 4) {
		rv__pci_config_access(h->bus, busnr, slot, fn, reg, data, len,
				      is_write);
	} else if (!is_write) {
		memset(data, 0xff, len);
	}
}

static void ecam_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	ecam_access(opaque, off, data, len, false);
}

static void ecam_write(void *opaque, uint64_t off, const void *data,
		       uint32_t len)
{
	ecam_access(opaque, off, (void *)(uintptr_t)data, len, true);
}

static const struct rv_bus_ops ecam_ops = {
	.read = ecam_read,
	.write = ecam_write,
};

int rv__pci_host_create(struct rv_pci_bus *bus, struct rv_vm *vm,
			struct rv_pci_host **out)
{
	struct rv_pci_host *h;
	int rc;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h) {
		rv_error("pci: out of memory for the host bridge");
		return -ENOMEM;
	}
	h->bus = bus;
	h->vm = vm;
	pthread_mutex_init(&h->lock, NULL);
	rv_pci_dev_init(&h->dev, "host-bridge", RV_PCI_HOST_VENDOR,
			RV_PCI_HOST_DEVICE, CLASS_HOST_BRIDGE, 0, 0, 0, NULL);
	h->dev.config[RV_PCI_INT_PIN] = 0;
	rc = rv_pci_register(bus, &h->dev);
	if (rc)
		goto err; /* logged */
	rc = rv_bus_register(vm->pio, CONFIG_PORT, CONFIG_NR_PORTS, &ports_ops,
			     h);
	if (rc) {
		rv_error("pci: cannot claim ports 0x%x-0x%x: %s", CONFIG_PORT,
			 CONFIG_PORT + CONFIG_NR_PORTS - 1, strerror(-rc));
		goto err;
	}
	h->ports_registered = true;
	rc = rv_bus_register(vm->mmio, RV_PCI_ECAM_BASE, RV_PCI_ECAM_SIZE,
			     &ecam_ops, h);
	if (rc) {
		rv_error("pci: cannot claim the ECAM window at 0x%llx: %s",
			 (unsigned long long)RV_PCI_ECAM_BASE, strerror(-rc));
		goto err;
	}
	h->ecam_registered = true;
	*out = h;
	return 0;

err:
	rv__pci_host_destroy(h);
	return rc;
}

void rv__pci_host_destroy(struct rv_pci_host *h)
{
	if (!h)
		return;
	if (h->ecam_registered)
		rv_bus_unregister(h->vm->mmio, RV_PCI_ECAM_BASE);
	if (h->ports_registered)
		rv_bus_unregister(h->vm->pio, CONFIG_PORT);
	rv_pci_unregister(&h->dev);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
