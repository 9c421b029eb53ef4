// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the PCI root bus and host bridge (devices/pci/pci.c,
 * devices/pci/host_bridge.c) over a stand-in struct rv_vm with real port
 * and MMIO buses, so config accesses go through 0xcf8/0xcfc and ECAM
 * exactly as a vCPU's exits would, and BAR moves are checked on the buses.
 * rv_vm_irq_line and rv_vm_request_stop are replaced through -Wl,--wrap.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raevm/bus.h"
#include "raevm/kvm.h"
#include "raevm/pci.h"
#include "raevm/vm.h"

#define MAX_IRQ_CALLS 1024

struct irq_call {
	uint32_t gsi;
	int level;
};

static struct irq_call irq_calls[MAX_IRQ_CALLS];
static unsigned int nr_irq_calls;
static unsigned int nr_stops;
static enum rv_stop_reason last_stop;

int __wrap_rv_vm_irq_line(struct rv_vm *vm, uint32_t gsi, int level);
void __wrap_rv_vm_request_stop(struct rv_vm *vm, enum rv_stop_reason reason,
			       int exit_code);

int __wrap_rv_vm_irq_line(struct rv_vm *vm, uint32_t gsi, int level)
{
	(void)vm;
	if (nr_irq_calls < MAX_IRQ_CALLS)
		irq_calls[nr_irq_calls] = (struct irq_call){ gsi, level };
	nr_irq_calls++;
	return 0;
}

void __wrap_rv_vm_request_stop(struct rv_vm *vm, enum rv_stop_reason reason,
			       int exit_code)
{
	(void)vm;
	(void)exit_code;
	nr_stops++;
	last_stop = reason;
}

/* A test function: records BAR accesses, config hooks and BAR moves. */
struct tdev {
	struct rv_pci_dev pci;
	unsigned int bar_reads[RV_PCI_NR_BARS];
	unsigned int bar_writes[RV_PCI_NR_BARS];
	unsigned int cfg_writes, cfg_reads, moves;
	uint32_t last_cfg_off, last_cfg_val, last_cfg_len;
	unsigned int last_move_bar;
	uint64_t last_move_old, last_move_new;
	bool override_read; /* config_read hook replaces offset 0x48 */
};

struct bar_ref {
	struct tdev *dev;
	unsigned int bar;
};

static void bar_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct bar_ref *r = opaque;

	(void)off;
	r->dev->bar_reads[r->bar]++;
	memset(data, 0xa0 + (int)r->bar, len);
}

static void bar_write(void *opaque, uint64_t off, const void *data,
		      uint32_t len)
{
	struct bar_ref *r = opaque;

	(void)off;
	(void)data;
	(void)len;
	r->dev->bar_writes[r->bar]++;
}

static const struct rv_bus_ops bar_ops = { .read = bar_read,
					   .write = bar_write };

static void hook_write(struct rv_pci_dev *pci, uint32_t off, uint32_t val,
		       uint32_t len)
{
	struct tdev *d = rv_container_of(pci, struct tdev, pci);

	d->cfg_writes++;
	d->last_cfg_off = off;
	d->last_cfg_val = val;
	d->last_cfg_len = len;
}

static void hook_read(struct rv_pci_dev *pci, uint32_t off, uint32_t *val,
		      uint32_t len)
{
	struct tdev *d = rv_container_of(pci, struct tdev, pci);

	d->cfg_reads++;
	if (d->override_read && off == 0x48 && len == 4)
		*val = 0x12345678;
}

static void hook_moved(struct rv_pci_dev *pci, unsigned int bar,
		       uint64_t old_addr, uint64_t new_addr)
{
	struct tdev *d = rv_container_of(pci, struct tdev, pci);

	d->moves++;
	d->last_move_bar = bar;
	d->last_move_old = old_addr;
	d->last_move_new = new_addr;
}

static const struct rv_pci_dev_ops tdev_ops = {
	.config_write = hook_write,
	.config_read = hook_read,
	.bar_moved = hook_moved,
};

#define MAX_DEVS 32

struct fixture {
	struct rv_vm vm;
	struct rv_pci_bus *bus;
	struct tdev *devs[MAX_DEVS];
	struct bar_ref refs[MAX_DEVS][RV_PCI_NR_BARS];
	unsigned int nr_devs;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (rv_bus_create("pio", &f->vm.pio) ||
	    rv_bus_create("mmio", &f->vm.mmio))
		return -1;
	if (rv_pci_bus_create(&f->vm, &f->bus))
		return -1;
	nr_irq_calls = 0;
	nr_stops = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	for (i = 0; i < f->nr_devs; i++) {
		rv_pci_unregister(&f->devs[i]->pci);
		free(f->devs[i]);
	}
	rv_pci_bus_destroy(f->bus);
	rv_bus_destroy(f->vm.mmio);
	rv_bus_destroy(f->vm.pio);
	free(f);
	return 0;
}

/* A function with a 4 KiB MEM32 BAR 0, a 16 KiB MEM64 BAR 2, IO BAR 4. */
static struct tdev *new_dev(struct fixture *f, bool with_bars)
{
	struct tdev *d = calloc(1, sizeof(*d));
	unsigned int n = f->nr_devs, i;

	assert_non_null(d);
	rv_pci_dev_init(&d->pci, "test", 0x1234, 0x5678, 0x010203, 7, 0xabcd,
			0xef01, &tdev_ops);
	for (i = 0; i < RV_PCI_NR_BARS; i++)
		f->refs[n][i] = (struct bar_ref){ d, i };
	if (with_bars) {
		assert_int_equal(rv_pci_set_bar(&d->pci, 0, RV_PCI_BAR_MEM32,
						0x1000, false, &bar_ops,
						&f->refs[n][0]),
				 0);
		assert_int_equal(rv_pci_set_bar(&d->pci, 2, RV_PCI_BAR_MEM64,
						0x4000, true, &bar_ops,
						&f->refs[n][2]),
				 0);
		assert_int_equal(rv_pci_set_bar(&d->pci, 4, RV_PCI_BAR_IO, 0x20,
						false, &bar_ops,
						&f->refs[n][4]),
				 0);
	}
	f->devs[f->nr_devs++] = d;
	return d;
}

static struct tdev *add_dev(struct fixture *f, bool with_bars)
{
	struct tdev *d = new_dev(f, with_bars);

	assert_int_equal(rv_pci_register(f->bus, &d->pci), 0);
	return d;
}

/* ---- Config access helpers ---------------------------------------------- */

static uint32_t cf8_addr(unsigned int bus, unsigned int slot, unsigned int fn,
			 uint32_t reg)
{
	return 0x80000000u | bus << 16 | slot << 11 | fn << 8 | (reg & 0xfc);
}

static void outl(struct fixture *f, uint16_t port, uint32_t v)
{
	assert_int_equal(rv_bus_access(f->vm.pio, port, &v, 4, true), 0);
}

static uint32_t pio_read(struct fixture *f, uint16_t port, uint32_t len)
{
	uint32_t v = 0;

	assert_int_equal(rv_bus_access(f->vm.pio, port, &v, len, false), 0);
	return v;
}

static void pio_write(struct fixture *f, uint16_t port, uint32_t v,
		      uint32_t len)
{
	assert_int_equal(rv_bus_access(f->vm.pio, port, &v, len, true), 0);
}

static uint32_t cf8_read(struct fixture *f, unsigned int slot, uint32_t off,
			 uint32_t len)
{
	outl(f, 0xcf8, cf8_addr(0, slot, 0, off));
	return pio_read(f, (uint16_t)(0xcfc + (off & 3)), len);
}

static void cf8_write(struct fixture *f, unsigned int slot, uint32_t off,
		      uint32_t v, uint32_t len)
{
	outl(f, 0xcf8, cf8_addr(0, slot, 0, off));
	pio_write(f, (uint16_t)(0xcfc + (off & 3)), v, len);
}

static uint64_t ecam_addr(unsigned int bus, unsigned int slot, unsigned int fn,
			  uint32_t off)
{
	return RV_PCI_ECAM_BASE + ((uint64_t)bus << 20) + (slot << 15) +
	       (fn << 12) + off;
}

static uint64_t ecam_read(struct fixture *f, unsigned int slot, uint32_t off,
			  uint32_t len)
{
	uint64_t v = 0;

	assert_int_equal(rv_bus_access(f->vm.mmio, ecam_addr(0, slot, 0, off),
				       &v, len, false),
			 0);
	return v;
}

static void ecam_write(struct fixture *f, unsigned int slot, uint32_t off,
		       uint64_t v, uint32_t len)
{
	assert_int_equal(rv_bus_access(f->vm.mmio, ecam_addr(0, slot, 0, off),
				       &v, len, true),
			 0);
}

/* Reads one byte of BAR memory; returns the bus's code. */
static int mmio_probe(struct fixture *f, uint64_t addr, uint8_t *v)
{
	return rv_bus_access(f->vm.mmio, addr, v, 1, false);
}

/* ---- The host bridge and the config mechanisms ------------------------- */

static void host_bridge__ids_both_mechanisms(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cf8_read(f, 0, 0, 4),
			 RV_PCI_HOST_DEVICE << 16 | RV_PCI_HOST_VENDOR);
	assert_int_equal(ecam_read(f, 0, 0, 4),
			 RV_PCI_HOST_DEVICE << 16 | RV_PCI_HOST_VENDOR);
	/* Class 06/00/00, revision 0; header type 0, single function. */
	assert_int_equal(cf8_read(f, 0, 0x08, 4), 0x06000000);
	assert_int_equal(cf8_read(f, 0, RV_PCI_HEADER_TYPE, 1), 0);
	assert_int_equal(cf8_read(f, 0, RV_PCI_INT_PIN, 1), 0);
	assert_int_equal(ecam_read(f, 0, 0x10, 4), 0); /* no BARs */
}

static void cf8__address_register(void **state)
{
	struct fixture *f = *state;

	outl(f, 0xcf8, 0xffffffff);
	/* Reserved bits 30:24 and 1:0 read 0. */
	assert_int_equal(pio_read(f, 0xcf8, 4), 0x80fffffc);
	/* Narrow accesses to 0xcf8-0xcfb never reach the register. */
	pio_write(f, 0xcf8, 0, 2);
	pio_write(f, 0xcfa, 0, 1);
	assert_int_equal(pio_read(f, 0xcf8, 4), 0x80fffffc);
	assert_int_equal(pio_read(f, 0xcf8, 2), 0xffff);
	assert_int_equal(pio_read(f, 0xcfb, 1), 0xff);
}

static void cf8__enable_bit(void **state)
{
	struct fixture *f = *state;

	outl(f, 0xcf8, cf8_addr(0, 0, 0, 0) & ~0x80000000u);
	assert_int_equal(pio_read(f, 0xcfc, 4), 0xffffffff);
	outl(f, 0xcf8, cf8_addr(0, 0, 0, 0));
	assert_int_equal(pio_read(f, 0xcfc, 4),
			 RV_PCI_HOST_DEVICE << 16 | RV_PCI_HOST_VENDOR);
}

static void cf8__byte_and_word_offsets(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = add_dev(f, false);

	assert_int_equal(d->pci.slot, 1);
	outl(f, 0xcf8, cf8_addr(0, 1, 0, 0));
	assert_int_equal(pio_read(f, 0xcfc, 1), 0x34);
	assert_int_equal(pio_read(f, 0xcfd, 1), 0x12);
	assert_int_equal(pio_read(f, 0xcfe, 2), 0x5678);
	assert_int_equal(pio_read(f, 0xcfd, 2), 0x7812);
	assert_int_equal(pio_read(f, 0xcff, 1), 0x56);
	/* A 4-byte access at 0xcfd runs past the ports: the bus refuses. */
	{
		uint32_t v;

		assert_int_equal(rv_bus_access(f->vm.pio, 0xcfd, &v, 4, false),
				 -ENOENT);
	}
	/* Straddling the address and data registers: ignored, all ones. */
	assert_int_equal(pio_read(f, 0xcfa, 4), 0xffffffff);
	pio_write(f, 0xcfa, 0, 4);
	assert_int_equal(pio_read(f, 0xcf8, 4), cf8_addr(0, 1, 0, 0));
	/* Interrupt line through a byte write at 0xcfc + 0. */
	cf8_write(f, 1, RV_PCI_INT_LINE, 0x0b, 1);
	assert_int_equal(ecam_read(f, 1, RV_PCI_INT_LINE, 1), 0x0b);
}

static void cf8__extended_registers_unreachable(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = add_dev(f, false);

	d->pci.config[0x140] = 0x5a;
	d->pci.config[0x40] = 0x11;
	assert_int_equal(ecam_read(f, 1, 0x140, 1), 0x5a);
	/*
	 * Bits 27:24 (AMD's extended register number) are reserved here:
	 * the address reads back without them and selects register 0x40.
	 */
	outl(f, 0xcf8, cf8_addr(0, 1, 0, 0x40) | 0x01000000);
	assert_int_equal(pio_read(f, 0xcf8, 4), cf8_addr(0, 1, 0, 0x40));
	assert_int_equal(pio_read(f, 0xcfc, 1), 0x11);
}

static void config__absent_functions_read_all_ones(void **state)
{
	struct fixture *f = *state;
	uint32_t v = 0x1234;

	add_dev(f, false);
	/* Empty slot, function 1, bus 1, through both mechanisms. */
	assert_int_equal(cf8_read(f, 5, 0, 4), 0xffffffff);
	outl(f, 0xcf8, cf8_addr(0, 1, 1, 0));
	assert_int_equal(pio_read(f, 0xcfc, 4), 0xffffffff);
	outl(f, 0xcf8, cf8_addr(1, 1, 0, 0));
	assert_int_equal(pio_read(f, 0xcfc, 4), 0xffffffff);
	assert_int_equal(rv_bus_access(f->vm.mmio, ecam_addr(1, 0, 0, 0), &v, 4,
				       false),
			 0);
	assert_int_equal(v, 0xffffffff);
	assert_int_equal(rv_bus_access(f->vm.mmio, ecam_addr(255, 31, 7, 0xffc),
				       &v, 4, false),
			 0);
	assert_int_equal(v, 0xffffffff);
	assert_int_equal(rv_bus_access(f->vm.mmio, ecam_addr(0, 1, 3, 0), &v, 4,
				       false),
			 0);
	assert_int_equal(v, 0xffffffff);
	/* Writes there go nowhere. */
	v = 0;
	assert_int_equal(rv_bus_access(f->vm.mmio, ecam_addr(1, 1, 0, 4), &v, 4,
				       true),
			 0);
}

static void ecam__widths_and_alignment(void **state)
{
	struct fixture *f = *state;

	add_dev(f, false);
	assert_int_equal(ecam_read(f, 1, 0, 8) & 0xffffffff, 0x56781234);
	assert_int_equal(ecam_read(f, 1, 8, 8) >> 32, 0); /* header etc. */
	assert_int_equal(ecam_read(f, 1, 2, 2), 0x5678);
	assert_int_equal(ecam_read(f, 1, 1, 1), 0x12);
	/* Crossing a dword, or an unaligned qword: all ones. */
	assert_int_equal(ecam_read(f, 1, 2, 4), 0xffffffff);
	assert_int_equal(ecam_read(f, 1, 3, 2), 0xffff);
	assert_int_equal(ecam_read(f, 1, 4, 8), 0xffffffffffffffffULL);
	/* An 8-byte write reaches both dwords: interrupt line at 0x3c. */
	ecam_write(f, 1, 0x38, 0x000000ee00000000ULL, 8);
	assert_int_equal(ecam_read(f, 1, RV_PCI_INT_LINE, 1), 0xee);
}

static void reset_register__cf9(void **state)
{
	struct fixture *f = *state;

	pio_write(f, RV_PCI_RESET_PORT, 0x02, 1);
	assert_int_equal(nr_stops, 0);
	assert_int_equal(pio_read(f, RV_PCI_RESET_PORT, 1), 0x02);
	pio_write(f, RV_PCI_RESET_PORT, 0x06, 1);
	assert_int_equal(nr_stops, 1);
	assert_int_equal(last_stop, RV_STOP_GUEST_RESET);
	/* A dword write at 0xcf8 is the address register, not a reset. */
	outl(f, 0xcf8, 0x0600);
	assert_int_equal(nr_stops, 1);
}

/* ---- Header semantics --------------------------------------------------- */

static void header__read_only_fields(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = add_dev(f, true);
	uint8_t before[0x40];

	memcpy(before, d->pci.config, sizeof(before));
	cf8_write(f, 1, 0x00, 0xffffffff, 4);
	cf8_write(f, 1, 0x08, 0xffffffff, 4);
	cf8_write(f, 1, 0x0c, 0xffff0000, 4); /* latency, header type, BIST */
	cf8_write(f, 1, 0x2c, 0xffffffff, 4);
	cf8_write(f, 1, 0x30, 0xffffffff, 4); /* no expansion ROM */
	cf8_write(f, 1, 0x34, 0xffffffff, 4);
	cf8_write(f, 1, RV_PCI_INT_PIN, 0xff, 1);
	assert_memory_equal(d->pci.config, before, 0x0c);
	assert_memory_equal(d->pci.config + 0x0d, before + 0x0d, 3);
	assert_memory_equal(d->pci.config + 0x2c, before + 0x2c, 0x0c);
	assert_int_equal(cf8_read(f, 1, 0, 4), 0x56781234);
	assert_int_equal(cf8_read(f, 1, 0x08, 4), 0x01020307);
	assert_int_equal(cf8_read(f, 1, 0x30, 4), 0);
	assert_int_equal(cf8_read(f, 1, RV_PCI_INT_PIN, 1), RV_PCI_INTA);
	/* Cache line size and interrupt line are the guest's. */
	cf8_write(f, 1, 0x0c, 0x10, 1);
	assert_int_equal(cf8_read(f, 1, 0x0c, 1), 0x10);
	cf8_write(f, 1, RV_PCI_INT_LINE, 0x42, 1);
	assert_int_equal(cf8_read(f, 1, RV_PCI_INT_LINE, 1), 0x42);
}

static void command__writable_bits(void **state)
{
	struct fixture *f = *state;

	add_dev(f, false);
	cf8_write(f, 1, RV_PCI_COMMAND, 0xffff, 2);
	assert_int_equal(cf8_read(f, 1, RV_PCI_COMMAND, 2),
			 RV_PCI_CMD_IO | RV_PCI_CMD_MEM | RV_PCI_CMD_MASTER |
				 RV_PCI_CMD_PARITY | RV_PCI_CMD_SERR |
				 RV_PCI_CMD_INTX_DISABLE);
	cf8_write(f, 1, RV_PCI_COMMAND, 0, 2);
	assert_int_equal(cf8_read(f, 1, RV_PCI_COMMAND, 2), 0);
}

static void status__write_one_to_clear(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = add_dev(f, false);
	uint16_t cap;

	assert_int_equal(rv_pci_add_cap(&d->pci, 0x09, NULL, 0, &cap), -EBUSY);
	/* The device reports a received master abort and a parity error. */
	d->pci.config[RV_PCI_STATUS + 1] |= 0x21;
	/* Writing 0 leaves them, writing 1 clears only those bits. */
	cf8_write(f, 1, RV_PCI_STATUS, 0x0000, 2);
	assert_int_equal(cf8_read(f, 1, RV_PCI_STATUS, 2), 0x2100);
	cf8_write(f, 1, RV_PCI_STATUS, 0x2000, 2);
	assert_int_equal(cf8_read(f, 1, RV_PCI_STATUS, 2), 0x0100);
	/* Writing all ones through the command dword clears the rest. */
	cf8_write(f, 1, RV_PCI_COMMAND, 0xffff0000, 4);
	assert_int_equal(cf8_read(f, 1, RV_PCI_STATUS, 2), 0);
}

/* ---- BARs --------------------------------------------------------------- */

static void register__assigns_bars_like_firmware(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = add_dev(f, true);
	uint64_t a0, a2, a4;
	uint8_t v;

	a0 = d->pci.bars[0].addr;
	a2 = d->pci.bars[2].addr;
	a4 = d->pci.bars[4].addr;
	/* Naturally aligned, inside the windows; the small 64-bit BAR low. */
	assert_true(a0 >= RV_PCI_MMIO32_BASE &&
		    a0 + 0x1000 <= RV_PCI_MMIO32_BASE + RV_PCI_MMIO32_SIZE);
	assert_true(a2 >= RV_PCI_MMIO32_BASE &&
		    a2 + 0x4000 <= RV_PCI_MMIO32_BASE + RV_PCI_MMIO32_SIZE);
	assert_true(a4 >= RV_PCI_IO_BASE &&
		    a4 + 0x20 <= RV_PCI_IO_BASE + RV_PCI_IO_SIZE);
	assert_int_equal(a0 % 0x1000, 0);
	assert_int_equal(a2 % 0x4000, 0);
	assert_int_equal(a4 % 0x20, 0);
	assert_true(a0 + 0x1000 <= a2 || a2 + 0x4000 <= a0);
	/* The config registers say the same, with their type bits. */
	assert_int_equal(cf8_read(f, 1, 0x10, 4), a0);
	assert_int_equal(cf8_read(f, 1, 0x18, 4), a2 | 0xc);
	assert_int_equal(cf8_read(f, 1, 0x1c, 4), a2 >> 32);
	assert_int_equal(cf8_read(f, 1, 0x20, 4), a4 | 1);
	/* Decoding is on and the BARs answer on the buses. */
	assert_int_equal(cf8_read(f, 1, RV_PCI_COMMAND, 2),
			 RV_PCI_CMD_IO | RV_PCI_CMD_MEM);
	assert_int_equal(mmio_probe(f, a0 + 0xfff, &v), 0);
	assert_int_equal(v, 0xa0);
	assert_int_equal(mmio_probe(f, a2, &v), 0);
	assert_int_equal(v, 0xa2);
	assert_int_equal(pio_read(f, (uint16_t)(a4 + 0x1f), 1), 0xa4);
	assert_true(d->pci.bars[0].mapped && d->pci.bars[2].mapped &&
		    d->pci.bars[4].mapped);
	/* INTx pin A of slot 1 is on line 10, written to the line register. */
	assert_int_equal(d->pci.intx_gsi, 10);
	assert_int_equal(cf8_read(f, 1, RV_PCI_INT_LINE, 1), 10);
}

static void register__large_bar_goes_high(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = new_dev(f, false);
	uint64_t base, size;

	assert_int_equal(rv_pci_set_bar(&d->pci, 0, RV_PCI_BAR_MEM64,
					1ULL << 30, true, &bar_ops,
					&f->refs[0][0]),
			 0);
	assert_int_equal(rv_pci_register(f->bus, &d->pci), 0);
	rv_pci_mmio64_window(f->bus, &base, &size);
	assert_true(size >= 1ULL << 30);
	assert_true(d->pci.bars[0].addr >= base &&
		    d->pci.bars[0].addr + (1ULL << 30) <= base + size);
	assert_int_equal(d->pci.bars[0].addr % (1ULL << 30), 0);
	assert_true(d->pci.bars[0].mapped);
	assert_int_equal(cf8_read(f, 1, 0x14, 4), d->pci.bars[0].addr >> 32);
}

static void register__window_full(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = new_dev(f, false), *e;

	/* A 1 GiB 32-bit BAR cannot fit the 512 MiB window. */
	assert_int_equal(rv_pci_set_bar(&d->pci, 0, RV_PCI_BAR_MEM32,
					1ULL << 30, false, &bar_ops,
					&f->refs[0][0]),
			 0);
	assert_int_equal(rv_pci_register(f->bus, &d->pci), -ENOSPC);
	assert_null(d->pci.bus);
	/* Nothing was taken: the next device still gets slot 1. */
	e = add_dev(f, true);
	assert_int_equal(e->pci.slot, 1);
	assert_int_equal(cf8_read(f, 2, 0, 4), 0xffffffff);
}

static void register__slots_run_out(void **state)
{
	struct fixture *f = *state;
	struct tdev *d;
	unsigned int i;

	for (i = 1; i < RV_PCI_MAX_SLOTS; i++)
		assert_int_equal(add_dev(f, false)->pci.slot, i);
	d = new_dev(f, false);
	assert_int_equal(rv_pci_register(f->bus, &d->pci), -ENOSPC);
	assert_int_equal(rv_pci_register(f->bus, &f->devs[0]->pci), -EBUSY);
}

static void set_bar__invalid(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = new_dev(f, false);
	void *r = &f->refs[0][0];

	assert_int_equal(rv_pci_set_bar(&d->pci, 6, RV_PCI_BAR_MEM32, 4096,
					false, &bar_ops, r),
			 -EINVAL);
	assert_int_equal(rv_pci_set_bar(&d->pci, 0, RV_PCI_BAR_MEM32, 3000,
					false, &bar_ops, r),
			 -EINVAL);
	assert_int_equal(rv_pci_set_bar(&d->pci, 0, RV_PCI_BAR_MEM32, 8, false,
					&bar_ops, r),
			 -EINVAL);
	assert_int_equal(rv_pci_set_bar(&d->pci, 0, RV_PCI_BAR_IO, 512, false,
					&bar_ops, r),
			 -EINVAL);
	assert_int_equal(rv_pci_set_bar(&d->pci, 0, RV_PCI_BAR_IO, 16, true,
					&bar_ops, r),
			 -EINVAL);
	assert_int_equal(rv_pci_set_bar(&d->pci, 5, RV_PCI_BAR_MEM64, 4096,
					false, &bar_ops, r),
			 -EINVAL);
	assert_int_equal(rv_pci_set_bar(&d->pci, 0, RV_PCI_BAR_NONE, 4096,
					false, &bar_ops, r),
			 -EINVAL);
	assert_int_equal(rv_pci_set_bar(&d->pci, 0, RV_PCI_BAR_MEM32, 4096,
					false, NULL, r),
			 -EINVAL);
	/* A 64-bit BAR's upper half is taken, and so is a used slot. */
	assert_int_equal(rv_pci_set_bar(&d->pci, 1, RV_PCI_BAR_MEM64, 4096,
					false, &bar_ops, r),
			 0);
	assert_int_equal(rv_pci_set_bar(&d->pci, 2, RV_PCI_BAR_MEM32, 4096,
					false, &bar_ops, r),
			 -EBUSY);
	assert_int_equal(rv_pci_set_bar(&d->pci, 1, RV_PCI_BAR_MEM32, 4096,
					false, &bar_ops, r),
			 -EBUSY);
	assert_int_equal(rv_pci_set_bar(&d->pci, 0, RV_PCI_BAR_MEM64, 4096,
					false, &bar_ops, r),
			 -EBUSY);
	assert_int_equal(rv_pci_register(f->bus, &d->pci), 0);
	assert_int_equal(rv_pci_set_bar(&d->pci, 4, RV_PCI_BAR_MEM32, 4096,
					false, &bar_ops, r),
			 -EBUSY);
}

static void bar_sizing__every_type(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = add_dev(f, true);
	uint32_t saved0 = cf8_read(f, 1, 0x10, 4);
	uint32_t saved2 = cf8_read(f, 1, 0x18, 4);
	uint32_t saved3 = cf8_read(f, 1, 0x1c, 4);
	uint32_t saved4 = cf8_read(f, 1, 0x20, 4);

	/* As Linux does: decode off, all ones, read the mask, restore. */
	cf8_write(f, 1, RV_PCI_COMMAND, 0, 2);
	assert_false(d->pci.bars[0].mapped || d->pci.bars[2].mapped ||
		     d->pci.bars[4].mapped);
	d->moves = 0;
	cf8_write(f, 1, 0x10, 0xffffffff, 4);
	assert_int_equal(cf8_read(f, 1, 0x10, 4), 0xfffff000);
	cf8_write(f, 1, 0x18, 0xffffffff, 4);
	cf8_write(f, 1, 0x1c, 0xffffffff, 4);
	assert_int_equal(cf8_read(f, 1, 0x18, 4), 0xffffc00c);
	assert_int_equal(cf8_read(f, 1, 0x1c, 4), 0xffffffff);
	cf8_write(f, 1, 0x20, 0xffffffff, 4);
	assert_int_equal(cf8_read(f, 1, 0x20, 4), 0xffffffe1);
	/* Unused BARs size to 0. */
	cf8_write(f, 1, 0x24, 0xffffffff, 4);
	assert_int_equal(cf8_read(f, 1, 0x24, 4), 0);
	assert_int_equal(d->moves, 0); /* decode was off throughout */
	cf8_write(f, 1, 0x10, saved0, 4);
	cf8_write(f, 1, 0x18, saved2, 4);
	cf8_write(f, 1, 0x1c, saved3, 4);
	cf8_write(f, 1, 0x20, saved4, 4);
	assert_int_equal(d->moves, 0);
	cf8_write(f, 1, RV_PCI_COMMAND, RV_PCI_CMD_IO | RV_PCI_CMD_MEM, 2);
	assert_true(d->pci.bars[0].mapped && d->pci.bars[2].mapped &&
		    d->pci.bars[4].mapped);
	assert_int_equal(d->pci.bars[0].addr, saved0);
}

static void bar_relocation__moves_on_the_bus(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = add_dev(f, true);
	uint64_t old = d->pci.bars[0].addr, new_addr = 0xd0000000;
	uint8_t v;

	d->moves = 0;
	ecam_write(f, 1, 0x10, new_addr, 4);
	assert_int_equal(d->pci.bars[0].addr, new_addr);
	assert_int_equal(mmio_probe(f, old, &v), -ENOENT);
	assert_int_equal(mmio_probe(f, new_addr + 0x10, &v), 0);
	assert_int_equal(v, 0xa0);
	assert_int_equal(d->moves, 1);
	assert_int_equal(d->last_move_bar, 0);
	assert_int_equal(d->last_move_old, old);
	assert_int_equal(d->last_move_new, new_addr);
	/* The low bits of a BAR write are dropped: 4 KiB alignment. */
	ecam_write(f, 1, 0x10, 0xd0001fff, 4);
	assert_int_equal(d->pci.bars[0].addr, 0xd0001000);
	/* A 64-bit BAR moved above 4 GiB, one dword at a time. */
	ecam_write(f, 1, 0x1c, 0x8, 4);
	ecam_write(f, 1, 0x18, 0x00100000, 4);
	assert_int_equal(d->pci.bars[2].addr, 0x800100000ULL);
	assert_int_equal(mmio_probe(f, 0x800100000ULL + 0x3fff, &v), 0);
	assert_int_equal(v, 0xa2);
	/* An IO BAR moved; the old ports go quiet. */
	{
		uint32_t x;
		uint64_t oldio = d->pci.bars[4].addr;

		ecam_write(f, 1, 0x20, 0xe000, 4);
		assert_int_equal(rv_bus_access(f->vm.pio, oldio, &x, 1, false),
				 -ENOENT);
		assert_int_equal(pio_read(f, 0xe000, 1), 0xa4);
	}
}

static void bar__io_beyond_port_space_unmapped(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = add_dev(f, true);

	/* Beyond the 64 KiB port space: decoded nowhere. */
	ecam_write(f, 1, 0x20, 0x1ffe0, 4);
	assert_false(d->pci.bars[4].mapped);
	assert_int_equal(d->last_move_bar, 4);
	assert_int_equal(d->last_move_new, 0);
	ecam_write(f, 1, 0x20, 0x12340, 4);
	assert_false(d->pci.bars[4].mapped);
	/* The low bits are not writable: 0xfff0 becomes 0xffe0, which fits. */
	ecam_write(f, 1, 0x20, 0xfff0, 4);
	assert_int_equal(d->pci.bars[4].addr, 0xffe0);
	assert_true(d->pci.bars[4].mapped);
	assert_int_equal(pio_read(f, 0xffff, 1), 0xa4);
	/* Address 0 counts as unassigned. */
	ecam_write(f, 1, 0x10, 0, 4);
	assert_false(d->pci.bars[0].mapped);
}

static void command__decode_enable_maps_and_unmaps(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = add_dev(f, true);
	uint64_t a0 = d->pci.bars[0].addr, a4 = d->pci.bars[4].addr;
	uint32_t x;
	uint8_t v;

	d->moves = 0;
	cf8_write(f, 1, RV_PCI_COMMAND, RV_PCI_CMD_IO, 2);
	assert_int_equal(mmio_probe(f, a0, &v), -ENOENT);
	assert_false(d->pci.bars[2].mapped);
	assert_true(d->pci.bars[4].mapped);
	assert_int_equal(d->moves, 2);
	assert_int_equal(d->last_move_new, 0);
	cf8_write(f, 1, RV_PCI_COMMAND, RV_PCI_CMD_MEM, 2);
	assert_int_equal(rv_bus_access(f->vm.pio, a4, &x, 1, false), -ENOENT);
	assert_int_equal(mmio_probe(f, a0, &v), 0);
	assert_int_equal(d->moves, 5);
	/* A BAR written while decode is off moves without being mapped. */
	cf8_write(f, 1, RV_PCI_COMMAND, 0, 2);
	cf8_write(f, 1, 0x10, 0xd8000000, 4);
	assert_false(d->pci.bars[0].mapped);
	assert_int_equal(mmio_probe(f, 0xd8000000, &v), -ENOENT);
	cf8_write(f, 1, RV_PCI_COMMAND, RV_PCI_CMD_MEM, 2);
	assert_int_equal(mmio_probe(f, 0xd8000000, &v), 0);
	assert_true(d->pci.bars[0].mapped);
	assert_int_equal(d->pci.bars[0].addr, 0xd8000000);
}

static void bar_overlap__later_bar_stays_unmapped(void **state)
{
	struct fixture *f = *state;
	struct tdev *a = add_dev(f, true), *b = add_dev(f, true);
	uint64_t a0 = a->pci.bars[0].addr, b0 = b->pci.bars[0].addr;
	uint8_t v;

	/* b's BAR 0 onto a's: the bus refuses, a keeps the range. */
	ecam_write(f, 2, 0x10, a0, 4);
	assert_false(b->pci.bars[0].mapped);
	assert_int_equal(b->pci.bars[0].addr, a0);
	assert_int_equal(cf8_read(f, 2, 0x10, 4), a0);
	a->bar_reads[0] = 0;
	assert_int_equal(mmio_probe(f, a0, &v), 0);
	assert_int_equal(a->bar_reads[0], 1);
	assert_int_equal(b->bar_reads[0], 0);
	assert_int_equal(mmio_probe(f, b0, &v), -ENOENT);
	/* Overlapping partly (b's 16 KiB BAR over a's 4 KiB one) too. */
	ecam_write(f, 2, 0x1c, 0, 4);
	ecam_write(f, 2, 0x18, a0 & ~0x3fffULL, 4);
	assert_false(b->pci.bars[2].mapped);
	/* Once a moves away, b is mapped on its next write. */
	ecam_write(f, 1, 0x10, 0xd0000000, 4);
	assert_false(b->pci.bars[0].mapped);
	ecam_write(f, 2, 0x10, a0, 4);
	assert_true(b->pci.bars[0].mapped);
	b->bar_reads[0] = 0;
	assert_int_equal(mmio_probe(f, a0, &v), 0);
	assert_int_equal(b->bar_reads[0], 1);
	/* A BAR over the ECAM window or the config ports is refused too. */
	ecam_write(f, 2, 0x10, RV_PCI_ECAM_BASE, 4);
	assert_false(b->pci.bars[0].mapped);
	ecam_write(f, 2, 0x20, 0xcf8 & ~0x1f, 4);
	assert_false(b->pci.bars[4].mapped);
	assert_int_equal(cf8_read(f, 0, 0, 2), RV_PCI_HOST_VENDOR);
}

/* ---- Capabilities ------------------------------------------------------- */

static void add_cap__chain_walk(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = new_dev(f, false);
	const uint8_t body1[6] = { 1, 2, 3, 4, 5, 6 };
	const uint8_t body2[1] = { 0x77 };
	const uint8_t body3[14] = { 0 };
	const uint8_t ids[3] = { 0x09, 0x05, 0x10 };
	uint16_t off[3];
	unsigned int n = 0;
	uint32_t p;

	assert_int_equal(rv_pci_add_cap(&d->pci, ids[0], body1, sizeof(body1),
					&off[0]),
			 0);
	assert_int_equal(rv_pci_add_cap(&d->pci, ids[1], body2, sizeof(body2),
					&off[1]),
			 0);
	assert_int_equal(rv_pci_add_cap(&d->pci, ids[2], body3, sizeof(body3),
					&off[2]),
			 0);
	assert_int_equal(off[0], 0x40);
	assert_int_equal(off[1], 0x48);
	assert_int_equal(off[2], 0x4c);
	assert_int_equal(rv_pci_register(f->bus, &d->pci), 0);
	assert_true(cf8_read(f, 1, RV_PCI_STATUS, 2) & RV_PCI_STATUS_CAP_LIST);
	/* Walk as a guest would: pointer, then id/next pairs. */
	for (p = cf8_read(f, 1, RV_PCI_CAP_PTR, 1); p; n++) {
		uint32_t hdr = cf8_read(f, 1, p, 2);

		assert_true(n < 3);
		assert_int_equal(p % 4, 0);
		assert_int_equal(p, off[n]);
		assert_int_equal(hdr & 0xff, ids[n]);
		p = hdr >> 8;
	}
	assert_int_equal(n, 3);
	assert_int_equal(cf8_read(f, 1, off[0] + 2, 2), 0x0201);
	assert_int_equal(cf8_read(f, 1, off[0] + 4, 4), 0x06050403);
	assert_int_equal(ecam_read(f, 1, off[1] + 2, 1), 0x77);
	/* The chain is read-only to the guest. */
	cf8_write(f, 1, off[0], 0xffffffff, 4);
	cf8_write(f, 1, RV_PCI_CAP_PTR, 0, 1);
	assert_int_equal(cf8_read(f, 1, RV_PCI_CAP_PTR, 1), 0x40);
	assert_int_equal(cf8_read(f, 1, off[0], 4), 0x02014809);
}

static void add_cap__no_space(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = new_dev(f, false);
	uint8_t big[200];
	uint16_t off;

	memset(big, 0, sizeof(big));
	assert_int_equal(rv_pci_add_cap(&d->pci, 1, big, 190, &off), 0);
	assert_int_equal(off, 0x40);
	/* 0x40 + 192 = 0x100: full. */
	assert_int_equal(rv_pci_add_cap(&d->pci, 1, big, 1, &off), -ENOSPC);
	assert_int_equal(rv_pci_add_cap(&d->pci, 1, big, 1000, &off), -ENOSPC);
	assert_int_equal(rv_pci_add_cap(&d->pci, 1, NULL, 4, &off), -EINVAL);
}

static void config_hooks__see_accesses(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = add_dev(f, false);

	cf8_write(f, 1, 0x49, 0xbeef, 2);
	assert_int_equal(d->cfg_writes, 1);
	assert_int_equal(d->last_cfg_off, 0x49);
	assert_int_equal(d->last_cfg_val, 0xbeef);
	assert_int_equal(d->last_cfg_len, 2);
	d->override_read = true;
	assert_int_equal(cf8_read(f, 1, 0x48, 4), 0x12345678);
	assert_int_equal(cf8_read(f, 1, 0x48, 2), 0);
	assert_true(d->cfg_reads >= 2);
}

/* ---- INTx --------------------------------------------------------------- */

static void intx_gsi__clear_of_board_lines(void **state)
{
	unsigned int slot, pin, seen = 0;

	(void)state;
	for (slot = 0; slot < RV_PCI_MAX_SLOTS; slot++)
		for (pin = 1; pin <= 4; pin++) {
			uint32_t g = rv_pci_intx_gsi(slot, pin);

			assert_true(g < 16);
			assert_true(g != 0 && g != 1 && g != 2 && g != 4 &&
				    g != 8 && g != 9 && g != 12);
			seen |= 1u << g;
		}
	/* The swizzle spreads slots over all three lines. */
	assert_int_equal(seen, (1u << 5) | (1u << 10) | (1u << 11));
	assert_int_not_equal(rv_pci_intx_gsi(1, 1), rv_pci_intx_gsi(2, 1));
	assert_int_equal(rv_pci_intx_gsi(1, 2), rv_pci_intx_gsi(2, 1));
}

static void intx__shared_line_is_ored(void **state)
{
	struct fixture *f = *state;
	struct tdev *d[4];
	unsigned int i;

	for (i = 0; i < 4; i++)
		d[i] = add_dev(f, false);
	/* Slots 1 and 4 share a line. */
	assert_int_equal(d[0]->pci.intx_gsi, d[3]->pci.intx_gsi);
	nr_irq_calls = 0;
	assert_int_equal(rv_pci_intx(&d[0]->pci, 1), 0);
	assert_int_equal(nr_irq_calls, 1);
	assert_int_equal(irq_calls[0].gsi, d[0]->pci.intx_gsi);
	assert_int_equal(irq_calls[0].level, 1);
	assert_int_equal(rv_pci_intx(&d[3]->pci, 1), 0);
	assert_int_equal(rv_pci_intx(&d[0]->pci, 1), 0); /* again: no change */
	assert_int_equal(nr_irq_calls, 1);
	assert_int_equal(rv_pci_intx(&d[0]->pci, 0), 0);
	assert_int_equal(nr_irq_calls, 1); /* d[3] still holds it */
	assert_int_equal(rv_pci_intx(&d[3]->pci, 0), 0);
	assert_int_equal(nr_irq_calls, 2);
	assert_int_equal(irq_calls[1].level, 0);
	/* Another line is independent. */
	assert_int_equal(rv_pci_intx(&d[1]->pci, 1), 0);
	assert_int_equal(irq_calls[2].gsi, d[1]->pci.intx_gsi);
	assert_int_not_equal(irq_calls[2].gsi, irq_calls[0].gsi);
	/* Unregistering lowers what the device held. */
	rv_pci_unregister(&d[1]->pci);
	assert_int_equal(nr_irq_calls, 4);
	assert_int_equal(irq_calls[3].level, 0);
	assert_int_equal(rv_pci_intx(&d[1]->pci, 1), -EINVAL);
}

static void intx__disable_bit_masks_line(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = add_dev(f, false);

	nr_irq_calls = 0;
	assert_int_equal(rv_pci_intx(&d->pci, 1), 0);
	assert_true(cf8_read(f, 1, RV_PCI_STATUS, 2) & RV_PCI_STATUS_INTX);
	cf8_write(f, 1, RV_PCI_COMMAND, RV_PCI_CMD_INTX_DISABLE, 2);
	assert_int_equal(nr_irq_calls, 2);
	assert_int_equal(irq_calls[1].level, 0);
	/* The status bit still shows the device's request. */
	assert_true(cf8_read(f, 1, RV_PCI_STATUS, 2) & RV_PCI_STATUS_INTX);
	assert_int_equal(rv_pci_intx(&d->pci, 0), 0);
	assert_int_equal(rv_pci_intx(&d->pci, 1), 0);
	assert_int_equal(nr_irq_calls, 2);
	cf8_write(f, 1, RV_PCI_COMMAND, 0, 2);
	assert_int_equal(nr_irq_calls, 3);
	assert_int_equal(irq_calls[2].level, 1);
	assert_int_equal(rv_pci_intx(&d->pci, 0), 0);
	assert_false(cf8_read(f, 1, RV_PCI_STATUS, 2) & RV_PCI_STATUS_INTX);
}

static void intx__without_pin(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = new_dev(f, false);

	d->pci.config[RV_PCI_INT_PIN] = 0;
	assert_int_equal(rv_pci_register(f->bus, &d->pci), 0);
	assert_int_equal(rv_pci_intx(&d->pci, 1), -EINVAL);
	assert_int_equal(cf8_read(f, 1, RV_PCI_INT_LINE, 1), 0);
}

/* ---- The 64-bit window -------------------------------------------------- */

static void mmio64_calc__fits_physical_width(void **state)
{
	uint64_t base, size;

	(void)state;
	/* 36 bits (64 GiB), 2 GiB of RAM: the upper half. */
	rv_pci_mmio64_calc(36, 2ULL << 30, &base, &size);
	assert_int_equal(base, 32ULL << 30);
	assert_int_equal(size, 32ULL << 30);
	/* RAM past the half: from RAM's end, rounded up to 1 GiB. */
	rv_pci_mmio64_calc(36, (40ULL << 30) + 5, &base, &size);
	assert_int_equal(base, 41ULL << 30);
	assert_int_equal(size, 23ULL << 30);
	/* 40 bits: stops below AMD's HyperTransport hole. */
	rv_pci_mmio64_calc(40, 8ULL << 30, &base, &size);
	assert_int_equal(base, 512ULL << 30);
	assert_int_equal(base + size, 0xfd00000000ULL);
	/* 48 bits: the upper half; 52 bits is held to 48. */
	rv_pci_mmio64_calc(48, 8ULL << 30, &base, &size);
	assert_int_equal(base, 1ULL << 47);
	assert_int_equal(size, 1ULL << 47);
	rv_pci_mmio64_calc(52, 8ULL << 30, &base, &size);
	assert_int_equal(base + size, 1ULL << 48);
	/* Nonsense widths fall back to 36 bits. */
	rv_pci_mmio64_calc(0, 0, &base, &size);
	assert_int_equal(base + size, 1ULL << 36);
	rv_pci_mmio64_calc(200, 0, &base, &size);
	assert_int_equal(base + size, 1ULL << 36);
	/* RAM filling the space: no window. */
	rv_pci_mmio64_calc(36, 1ULL << 36, &base, &size);
	assert_int_equal(size, 0);
	rv_pci_mmio64_calc(36, UINT64_MAX - 5, &base, &size);
	assert_int_equal(size, 0);
}

static void bus_create__window_from_cpuid(void **state)
{
	struct fixture *f = *state;
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[2];
	} cpuid;
	struct rv_kvm kvm;
	struct rv_vm vm;
	struct rv_pci_bus *bus;
	uint64_t base, size;

	memset(&cpuid, 0, sizeof(cpuid));
	memset(&kvm, 0, sizeof(kvm));
	cpuid.c.nent = 2;
	cpuid.e[0].function = 1;
	cpuid.e[1].function = 0x80000008;
	cpuid.e[1].eax = 0x3028; /* 40-bit physical, 48-bit virtual */
	kvm.supported_cpuid = &cpuid.c;
	vm = f->vm;
	vm.kvm = &kvm;
	/* The fixture's bus holds the ports; use fresh buses. */
	assert_int_equal(rv_bus_create("pio", &vm.pio), 0);
	assert_int_equal(rv_bus_create("mmio", &vm.mmio), 0);
	assert_int_equal(rv_pci_bus_create(&vm, &bus), 0);
	rv_pci_mmio64_window(bus, &base, &size);
	assert_int_equal(base, 512ULL << 30);
	rv_pci_bus_destroy(bus);
	/* EAX[23:16], the guest's own width, wins when KVM gives it. */
	cpuid.e[1].eax = 0x00273028;
	assert_int_equal(rv_pci_bus_create(&vm, &bus), 0);
	rv_pci_mmio64_window(bus, &base, &size);
	assert_int_equal(base + size, 1ULL << 39);
	rv_pci_bus_destroy(bus);
	/* The ports are free again after destroy. */
	assert_int_equal(rv_bus_register(vm.pio, 0xcf8, 8, &bar_ops, NULL), 0);
	rv_bus_destroy(vm.mmio);
	rv_bus_destroy(vm.pio);
}

static void unregister__frees_slot_and_ranges(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = add_dev(f, true), *e;
	uint64_t a0 = d->pci.bars[0].addr, a4 = d->pci.bars[4].addr;
	uint32_t x;
	uint8_t v;

	rv_pci_unregister(&d->pci);
	assert_null(d->pci.bus);
	assert_int_equal(cf8_read(f, 1, 0, 4), 0xffffffff);
	assert_int_equal(mmio_probe(f, a0, &v), -ENOENT);
	assert_int_equal(rv_bus_access(f->vm.pio, a4, &x, 1, false), -ENOENT);
	rv_pci_unregister(&d->pci); /* twice is harmless */
	e = add_dev(f, false);
	assert_int_equal(e->pci.slot, 1);
}

/* ---- Hostile guests ----------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* What must hold whatever the guest wrote. */
static void check_invariants(struct fixture *f, struct tdev *d,
			     const uint8_t *orig_hdr, uint16_t cap)
{
	unsigned int i;
	uint8_t v;

	assert_memory_equal(d->pci.config, orig_hdr, 4);	 /* ids */
	assert_memory_equal(d->pci.config + 8, orig_hdr + 8, 4); /* class */
	assert_int_equal(d->pci.config[RV_PCI_HEADER_TYPE], 0);
	assert_int_equal(d->pci.config[RV_PCI_INT_PIN], RV_PCI_INTA);
	assert_int_equal(d->pci.config[RV_PCI_CAP_PTR], cap);
	assert_int_equal(d->pci.config[cap], 0x09);
	assert_int_equal(d->pci.config[cap + 1], 0);
	assert_int_equal(d->pci.config[RV_PCI_BAR0] & 0xf, 0);
	assert_int_equal(d->pci.config[RV_PCI_BAR0 + 8] & 0xf, 0xc);
	assert_int_equal(d->pci.config[RV_PCI_BAR0 + 16] & 0x3, 1);
	assert_int_equal(d->pci.config[RV_PCI_BAR0 + 4], 0);
	assert_int_equal(d->pci.config[RV_PCI_ROM], 0);
	for (i = 0; i < RV_PCI_NR_BARS; i++) {
		const struct rv_pci_bar *b = &d->pci.bars[i];

		if (!b->mapped || b->type == RV_PCI_BAR_IO)
			continue;
		/* A mapped BAR is really on the bus, at its address. */
		d->bar_reads[i] = 0;
		assert_int_equal(mmio_probe(f, b->addr, &v), 0);
		assert_int_equal(d->bar_reads[i], 1);
	}
	/* The host bridge still answers through both mechanisms. */
	assert_int_equal(ecam_read(f, 0, 0, 2), RV_PCI_HOST_VENDOR);
	assert_int_equal(cf8_read(f, 0, 0, 2), RV_PCI_HOST_VENDOR);
}

static void hostile__every_offset_and_width(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = new_dev(f, true);
	static const uint32_t widths[] = { 1, 2, 4, 8 };
	uint8_t hdr[16];
	uint16_t cap;
	uint32_t off, w, round;

	assert_int_equal(rv_pci_add_cap(&d->pci, 0x09, "\x10\x20", 2, &cap), 0);
	assert_int_equal(rv_pci_register(f->bus, &d->pci), 0);
	memcpy(hdr, d->pci.config, sizeof(hdr));
	for (round = 0; round < 3; round++) {
		for (off = 0; off < RV_PCI_CFG_SIZE + 8; off++) {
			for (w = 0; w < RV_ARRAY_SIZE(widths); w++) {
				uint64_t v = rng(), r = 0;
				uint32_t len = widths[w];
				unsigned int slot = (rng() & 3) ? 1 : 0;

				if (round == 2)
					v = ~0ULL; /* sizing everywhere */
				/* Keep the host bridge usable for the checks. */
				if (slot == 0 && off < 0x40)
					continue;
				rv_bus_access(f->vm.mmio,
					      ecam_addr(0, slot, 0, off), &v,
					      len, true);
				rv_bus_access(f->vm.mmio,
					      ecam_addr(0, slot, 0, off), &r,
					      len, false);
				if (off < 0x100 && len <= 4) {
					outl(f, 0xcf8, cf8_addr(0, 1, 0, off));
					rv_bus_access(f->vm.pio,
						      0xcfc + (off & 3), &v,
						      len, true);
					rv_bus_access(f->vm.pio,
						      0xcfc + (off & 3), &r,
						      len, false);
				}
			}
			/* Now and then, decode back on so BARs map. */
			if ((off & 0x3f) == 0)
				ecam_write(f, 1, RV_PCI_COMMAND,
					   RV_PCI_CMD_IO | RV_PCI_CMD_MEM, 2);
		}
		check_invariants(f, d, hdr, cap);
	}
	/* Random full-width writes with random straddles through the ports. */
	for (round = 0; round < 20000; round++) {
		uint16_t port = (uint16_t)(0xcf8 + (rng() % 8));
		uint32_t len = widths[rng() % 3], v = (uint32_t)rng();

		if ((rng() & 7) == 0)
			v = 0x80000000u | (uint32_t)(rng() & 0xfffffc);
		if (port + len <= 0xd00)
			rv_bus_access(f->vm.pio, port, &v, len,
				      (rng() & 1) != 0);
	}
	check_invariants(f, d, hdr, cap);
}

/* ---- Threads ------------------------------------------------------------ */

struct mover {
	struct fixture *f;
	bool stop;
	unsigned int accesses, hits, wrong; /* written by the thread */
};

/* cmocka's asserts belong to the test's thread: count, check later. */
static void *access_thread(void *arg)
{
	struct mover *m = arg;
	uint8_t v;

	while (!__atomic_load_n(&m->stop, __ATOMIC_RELAXED)) {
		int rc1, rc2;

		v = 0;
		rc1 = mmio_probe(m->f, 0xd0000000, &v);
		if (rc1 == 0 && v != 0xa0)
			m->wrong++;
		rc2 = mmio_probe(m->f, 0xd8000000, &v);
		/* Only "mapped" or "nobody": never a wrong device or crash. */
		if ((rc1 != 0 && rc1 != -ENOENT) ||
		    (rc2 != 0 && rc2 != -ENOENT))
			m->wrong++;
		m->hits += (rc1 == 0) + (rc2 == 0);
		__atomic_fetch_add(&m->accesses, 2, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void bar_relocation__while_accessed(void **state)
{
	struct fixture *f = *state;
	struct tdev *d = add_dev(f, true);
	struct mover m = { .f = f };
	pthread_t t;
	unsigned int i;

	assert_int_equal(pthread_create(&t, NULL, access_thread, &m), 0);
	/* Move until the other thread has raced with a good number of moves. */
	for (i = 0; i < 20000 ||
		    (__atomic_load_n(&m.accesses, __ATOMIC_RELAXED) < 20000 &&
		     i < 20000000);
	     i++)
		ecam_write(f, 1, 0x10, (i & 1) ? 0xd0000000 : 0xd8000000, 4);
	if (i & 1) /* the last write, i - 1, was even */
		ecam_write(f, 1, 0x10, 0xd0000000, 4);
	__atomic_store_n(&m.stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	assert_true(m.accesses > 0);
	assert_int_equal(m.wrong, 0);
	assert_int_equal(d->pci.bars[0].addr, 0xd0000000);
	assert_true(d->pci.bars[0].mapped);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(host_bridge__ids_both_mechanisms),
		T(cf8__address_register),
		T(cf8__enable_bit),
		T(cf8__byte_and_word_offsets),
		T(cf8__extended_registers_unreachable),
		T(config__absent_functions_read_all_ones),
		T(ecam__widths_and_alignment),
		T(reset_register__cf9),
		T(header__read_only_fields),
		T(command__writable_bits),
		T(status__write_one_to_clear),
		T(register__assigns_bars_like_firmware),
		T(register__large_bar_goes_high),
		T(register__window_full),
		T(register__slots_run_out),
		T(set_bar__invalid),
		T(bar_sizing__every_type),
		T(bar_relocation__moves_on_the_bus),
		T(bar__io_beyond_port_space_unmapped),
		T(command__decode_enable_maps_and_unmaps),
		T(bar_overlap__later_bar_stays_unmapped),
		T(add_cap__chain_walk),
		T(add_cap__no_space),
		T(config_hooks__see_accesses),
		T(intx_gsi__clear_of_board_lines),
		T(intx__shared_line_is_ored),
		T(intx__disable_bit_masks_line),
		T(intx__without_pin),
		T(mmio64_calc__fits_physical_width),
		T(bus_create__window_from_cpuid),
		T(unregister__frees_slot_and_ranges),
		T(hostile__every_offset_and_width),
		T(bar_relocation__while_accessed),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
