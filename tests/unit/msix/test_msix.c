// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for MSI-X (devices/pci/msix.c): a test function with the
 * table and PBA in a BAR, on a real PCI bus over a stand-in struct rv_vm
 * with real port and MMIO buses. The rv_irq_* calls are replaced through
 * -Wl,--wrap and recorded; the eventfds are real, so a delivery is an
 * eventfd whose counter moved.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "raevm/bus.h"
#include "raevm/irq.h"
#include "raevm/pci.h"
#include "raevm/vm.h"

#define NR_VECTORS 70 /* two PBA qwords */
#define BAR_SIZE 0x4000
#define TABLE_OFF 0x1000
#define PBA_OFF 0x3000
#define MAX_CALLS 4096

struct route_call {
	uint32_t gsi;
	uint64_t addr;
	uint32_t data;
};

static struct {
	pthread_mutex_t lock;
	unsigned int nr_alloc, nr_free, nr_route, nr_irqfd, nr_msi;
	int alloc_rc, route_rc, irqfd_rc;
	uint32_t next_gsi;
	struct route_call routes[MAX_CALLS];
	int irqfd_fd[MAX_CALLS];
	uint32_t irqfd_gsi[MAX_CALLS];
	bool irqfd_assign[MAX_CALLS];
	uint32_t freed[MAX_CALLS];
	uint64_t msi_addr;
	uint32_t msi_data;
	bool bad_route; /* a route with a non-MSI address was asked for */
} mock = { .lock = PTHREAD_MUTEX_INITIALIZER };

int __wrap_rv_irq_alloc_gsi(struct rv_vm *vm, uint32_t *gsi);
void __wrap_rv_irq_free_gsi(struct rv_vm *vm, uint32_t gsi);
int __wrap_rv_irq_set_msi_route(struct rv_vm *vm, uint32_t gsi, uint64_t addr,
				uint32_t data);
int __wrap_rv_irqfd(struct rv_vm *vm, int fd, uint32_t gsi, bool assign);
int __wrap_rv_irq_signal_msi(struct rv_vm *vm, uint64_t addr, uint32_t data);

int __wrap_rv_irq_alloc_gsi(struct rv_vm *vm, uint32_t *gsi)
{
	(void)vm;
	pthread_mutex_lock(&mock.lock);
	mock.nr_alloc++;
	if (!mock.alloc_rc)
		*gsi = mock.next_gsi++;
	pthread_mutex_unlock(&mock.lock);
	return mock.alloc_rc;
}

void __wrap_rv_irq_free_gsi(struct rv_vm *vm, uint32_t gsi)
{
	(void)vm;
	if (mock.nr_free < MAX_CALLS)
		mock.freed[mock.nr_free] = gsi;
	mock.nr_free++;
}

int __wrap_rv_irq_set_msi_route(struct rv_vm *vm, uint32_t gsi, uint64_t addr,
				uint32_t data)
{
	(void)vm;
	if ((addr & 0xfff00000) != 0xfee00000)
		mock.bad_route = true;
	if (mock.nr_route < MAX_CALLS)
		mock.routes[mock.nr_route] =
			(struct route_call){ gsi, addr, data };
	mock.nr_route++;
	return mock.route_rc;
}

int __wrap_rv_irqfd(struct rv_vm *vm, int fd, uint32_t gsi, bool assign)
{
	(void)vm;
	if (mock.nr_irqfd < MAX_CALLS) {
		mock.irqfd_fd[mock.nr_irqfd] = fd;
		mock.irqfd_gsi[mock.nr_irqfd] = gsi;
		mock.irqfd_assign[mock.nr_irqfd] = assign;
	}
	mock.nr_irqfd++;
	return mock.irqfd_rc;
}

int __wrap_rv_irq_signal_msi(struct rv_vm *vm, uint64_t addr, uint32_t data)
{
	(void)vm;
	mock.nr_msi++;
	mock.msi_addr = addr;
	mock.msi_data = data;
	return 0;
}

struct tdev {
	struct rv_pci_dev pci;
	unsigned int other_reads, other_writes;
};

/* The BAR's owner: MSI-X first, the rest is the device's. */
static void owner_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct tdev *d = opaque;

	if (!rv_msix_bar_access(&d->pci, off, data, len, false)) {
		d->other_reads++;
		memset(data, 0, len);
	}
}

static void owner_write(void *opaque, uint64_t off, const void *data,
			uint32_t len)
{
	struct tdev *d = opaque;
	uint8_t buf[8];

	memcpy(buf, data, len);
	if (!rv_msix_bar_access(&d->pci, off, buf, len, true))
		d->other_writes++;
}

static const struct rv_bus_ops bar_ops = { .read = owner_read,
					   .write = owner_write };

struct fixture {
	struct rv_vm vm;
	struct rv_pci_bus *bus;
	struct tdev *d;
	uint64_t bar;
	uint16_t cap;
};

static void mock_reset(void)
{
	mock.nr_alloc = mock.nr_free = mock.nr_route = 0;
	mock.nr_irqfd = mock.nr_msi = 0;
	mock.alloc_rc = mock.route_rc = mock.irqfd_rc = 0;
	mock.next_gsi = 24;
	mock.bad_route = false;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	mock_reset();
	if (rv_bus_create("pio", &f->vm.pio) ||
	    rv_bus_create("mmio", &f->vm.mmio))
		return -1;
	if (rv_pci_bus_create(&f->vm, &f->bus))
		return -1;
	f->d = calloc(1, sizeof(*f->d));
	if (!f->d)
		return -1;
	rv_pci_dev_init(&f->d->pci, "msix-test", 0x1af4, 0x1042, 0x018000, 1,
			0x1af4, 0x1042, NULL);
	if (rv_pci_set_bar(&f->d->pci, 0, RV_PCI_BAR_MEM32, BAR_SIZE, false,
			   &bar_ops, f->d))
		return -1;
	if (rv_msix_init(&f->d->pci, NR_VECTORS, 0, TABLE_OFF, PBA_OFF))
		return -1;
	if (rv_pci_register(f->bus, &f->d->pci))
		return -1;
	f->bar = f->d->pci.bars[0].addr;
	f->cap = f->d->pci.config[RV_PCI_CAP_PTR];
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rv_pci_unregister(&f->d->pci);
	rv_msix_destroy(&f->d->pci);
	free(f->d);
	rv_pci_bus_destroy(f->bus);
	rv_bus_destroy(f->vm.mmio);
	rv_bus_destroy(f->vm.pio);
	free(f);
	return 0;
}

/* ---- Helpers ------------------------------------------------------------ */

static void ecam_write16(struct fixture *f, uint32_t off, uint16_t v)
{
	uint64_t a = RV_PCI_ECAM_BASE + (f->d->pci.slot << 15) + off;

	assert_int_equal(rv_bus_access(f->vm.mmio, a, &v, 2, true), 0);
}

static uint32_t ecam_read(struct fixture *f, uint32_t off, uint32_t len)
{
	uint64_t a = RV_PCI_ECAM_BASE + (f->d->pci.slot << 15) + off;
	uint32_t v = 0;

	assert_int_equal(rv_bus_access(f->vm.mmio, a, &v, len, false), 0);
	return v;
}

#define CTRL_ENABLE 0x8000
#define CTRL_FMASK 0x4000

static void set_control(struct fixture *f, uint16_t v)
{
	ecam_write16(f, f->cap + 2, v);
}

static void bar_write32(struct fixture *f, uint64_t off, uint32_t v)
{
	assert_int_equal(rv_bus_access(f->vm.mmio, f->bar + off, &v, 4, true),
			 0);
}

static uint64_t bar_read(struct fixture *f, uint64_t off, uint32_t len)
{
	uint64_t v = 0;

	assert_int_equal(
		rv_bus_access(f->vm.mmio, f->bar + off, &v, len, false), 0);
	return v;
}

static void entry_write(struct fixture *f, unsigned int vec, unsigned int field,
			uint32_t v)
{
	bar_write32(f, TABLE_OFF + vec * 16 + field * 4, v);
}

static uint32_t entry_read(struct fixture *f, unsigned int vec,
			   unsigned int field)
{
	return (uint32_t)bar_read(f, TABLE_OFF + vec * 16 + field * 4, 4);
}

static bool pba_bit(struct fixture *f, unsigned int vec)
{
	uint64_t q = bar_read(f, PBA_OFF + (vec / 64) * 8, 8);

	return q >> (vec % 64) & 1;
}

/* Programs vec with an MSI address and data, and unmasks it. */
static void program(struct fixture *f, unsigned int vec, uint32_t data)
{
	entry_write(f, vec, 0, 0xfee00000);
	entry_write(f, vec, 1, 0);
	entry_write(f, vec, 2, data);
	entry_write(f, vec, 3, 0);
}

/* The eventfd bound for gsi (the last assignment recorded). */
static int irqfd_of(uint32_t gsi)
{
	unsigned int i = mock.nr_irqfd;

	while (i-- > 0)
		if (mock.irqfd_gsi[i] == gsi && mock.irqfd_assign[i])
			return mock.irqfd_fd[i];
	return -1;
}

/* Reads and resets an eventfd's counter (0 when nothing arrived). */
static uint64_t drain(int fd)
{
	uint64_t n = 0;

	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

/* ---- Tests -------------------------------------------------------------- */

static void init__capability_layout(void **state)
{
	struct fixture *f = *state;
	uint32_t table, pba;

	assert_int_equal(ecam_read(f, f->cap, 1), RV_PCI_CAP_ID_MSIX);
	assert_int_equal(ecam_read(f, f->cap + 1, 1), 0);
	assert_int_equal(ecam_read(f, f->cap + 2, 2), NR_VECTORS - 1);
	table = ecam_read(f, f->cap + 4, 4);
	pba = ecam_read(f, f->cap + 8, 4);
	assert_int_equal(table, TABLE_OFF | 0);
	assert_int_equal(pba, PBA_OFF | 0);
	/* Only enable and function mask are writable. */
	set_control(f, 0xffff);
	assert_int_equal(ecam_read(f, f->cap + 2, 2),
			 CTRL_ENABLE | CTRL_FMASK | (NR_VECTORS - 1));
	assert_true(rv_msix_enabled(&f->d->pci));
	set_control(f, 0);
	assert_int_equal(ecam_read(f, f->cap + 2, 2), NR_VECTORS - 1);
	assert_false(rv_msix_enabled(&f->d->pci));
	ecam_write16(f, f->cap + 4, 0xffff);
	assert_int_equal(ecam_read(f, f->cap + 4, 4), TABLE_OFF);
}

static void init__bad_layout(void **state)
{
	struct fixture *f = *state;
	struct tdev d;

	rv_pci_dev_init(&d.pci, "bad", 1, 2, 0, 0, 0, 0, NULL);
	assert_int_equal(rv_pci_set_bar(&d.pci, 0, RV_PCI_BAR_MEM32, 0x1000,
					false, &bar_ops, &d),
			 0);
	assert_int_equal(rv_pci_set_bar(&d.pci, 4, RV_PCI_BAR_IO, 0x100, false,
					&bar_ops, &d),
			 0);
	assert_int_equal(rv_msix_init(&d.pci, 0, 0, 0, 0x800), -EINVAL);
	assert_int_equal(rv_msix_init(&d.pci, 2049, 0, 0, 0x800), -EINVAL);
	assert_int_equal(rv_msix_init(&d.pci, 4, 1, 0, 0x800), -EINVAL);
	assert_int_equal(rv_msix_init(&d.pci, 4, 4, 0, 0x80), -EINVAL);
	assert_int_equal(rv_msix_init(&d.pci, 4, 6, 0, 0x800), -EINVAL);
	assert_int_equal(rv_msix_init(&d.pci, 4, 0, 4, 0x800), -EINVAL);
	assert_int_equal(rv_msix_init(&d.pci, 4, 0, 0, 0x804), -EINVAL);
	assert_int_equal(rv_msix_init(&d.pci, 4, 0, 0xff8, 0x800), -EINVAL);
	assert_int_equal(rv_msix_init(&d.pci, 4, 0, 0, 0x1000), -EINVAL);
	assert_int_equal(rv_msix_init(&d.pci, 4, 0, 0, 0x38), -EINVAL);
	assert_int_equal(rv_msix_init(&d.pci, 256, 0, 0, 0x800), -EINVAL);
	assert_null(d.pci.msix);
	assert_int_equal(rv_msix_init(&d.pci, 4, 0, 0, 0x40), 0);
	assert_int_equal(rv_msix_init(&d.pci, 4, 0, 0, 0x40), -EINVAL);
	rv_msix_destroy(&d.pci);
	assert_null(d.pci.msix);
	/* After registration the capability list is frozen. */
	assert_int_equal(rv_msix_init(&f->d->pci, 4, 0, 0, 0x40), -EBUSY);
}

static void table__reset_state(void **state)
{
	struct fixture *f = *state;
	unsigned int v;

	for (v = 0; v < NR_VECTORS; v++) {
		assert_int_equal(entry_read(f, v, 0), 0);
		assert_int_equal(entry_read(f, v, 1), 0);
		assert_int_equal(entry_read(f, v, 2), 0);
		assert_int_equal(entry_read(f, v, 3), 1);
		assert_false(pba_bit(f, v));
	}
	/* Reserved bits: the vector control keeps bit 0, address bits 1:0. */
	entry_write(f, 3, 3, 0xfffffffe);
	assert_int_equal(entry_read(f, 3, 3), 0);
	entry_write(f, 3, 0, 0xfee0000f);
	assert_int_equal(entry_read(f, 3, 0), 0xfee0000c);
	assert_int_equal(mock.nr_alloc, 0); /* MSI-X is still disabled */
}

static void notify__disabled_sets_pending(void **state)
{
	struct fixture *f = *state;

	program(f, 5, 0x41);
	assert_false(rv_msix_enabled(&f->d->pci));
	assert_int_equal(rv_msix_notify(&f->d->pci, 5), 0);
	assert_true(pba_bit(f, 5));
	assert_int_equal(mock.nr_alloc + mock.nr_msi + mock.nr_irqfd, 0);
	/* Enabling delivers it once, through the new route. */
	set_control(f, CTRL_ENABLE);
	assert_int_equal(mock.nr_alloc, 1);
	assert_int_equal(mock.nr_route, 1);
	assert_int_equal(mock.nr_irqfd, 1);
	assert_false(pba_bit(f, 5));
	assert_int_equal(drain(irqfd_of(24)), 1);
}

static void unmask__routes_vector_through_irqfd(void **state)
{
	struct fixture *f = *state;
	int fd;

	set_control(f, CTRL_ENABLE);
	assert_int_equal(mock.nr_alloc, 0); /* every vector masked */
	entry_write(f, 7, 0, 0xfee01000);
	entry_write(f, 7, 1, 0);
	entry_write(f, 7, 2, 0x4041);
	assert_int_equal(mock.nr_alloc, 0);
	entry_write(f, 7, 3, 0);
	assert_int_equal(mock.nr_alloc, 1);
	assert_int_equal(mock.nr_route, 1);
	assert_int_equal(mock.routes[0].gsi, 24);
	assert_int_equal(mock.routes[0].addr, 0xfee01000);
	assert_int_equal(mock.routes[0].data, 0x4041);
	assert_int_equal(mock.nr_irqfd, 1);
	assert_true(mock.irqfd_assign[0]);
	fd = irqfd_of(24);
	assert_true(fd >= 0);
	assert_int_equal(rv_msix_notify(&f->d->pci, 7), 0);
	assert_int_equal(rv_msix_notify(&f->d->pci, 7), 0);
	assert_int_equal(drain(fd), 2);
	assert_int_equal(mock.nr_msi, 0);
	/* Unmasking again changes nothing; a second vector gets its own. */
	entry_write(f, 7, 3, 0);
	assert_int_equal(mock.nr_route, 1);
	program(f, 8, 0x4042);
	assert_int_equal(mock.nr_alloc, 2);
	assert_true(irqfd_of(25) >= 0);
	assert_int_not_equal(irqfd_of(25), fd);
}

static void masked_vector__pending_until_unmasked(void **state)
{
	struct fixture *f = *state;
	int fd;

	set_control(f, CTRL_ENABLE);
	program(f, 0, 0x30);
	fd = irqfd_of(24);
	entry_write(f, 0, 3, 1);
	assert_int_equal(rv_msix_notify(&f->d->pci, 0), 0);
	assert_int_equal(rv_msix_notify(&f->d->pci, 0), 0);
	assert_true(pba_bit(f, 0));
	assert_int_equal(drain(fd), 0);
	/* The PBA is read only. */
	bar_write32(f, PBA_OFF, 0);
	assert_true(pba_bit(f, 0));
	entry_write(f, 0, 3, 0);
	assert_false(pba_bit(f, 0));
	assert_int_equal(drain(fd), 1); /* pending messages coalesce */
	/* The route was made once; masking kept the irqfd bound. */
	assert_int_equal(mock.nr_route, 1);
	assert_int_equal(mock.nr_irqfd, 1);
}

static void function_mask__pending_then_delivered(void **state)
{
	struct fixture *f = *state;
	int fd0, fd65;

	set_control(f, CTRL_ENABLE);
	program(f, 0, 0x30);
	program(f, 65, 0x31);
	fd0 = irqfd_of(24);
	fd65 = irqfd_of(25);
	set_control(f, CTRL_ENABLE | CTRL_FMASK);
	assert_true(rv_msix_enabled(&f->d->pci));
	assert_int_equal(rv_msix_notify(&f->d->pci, 65), 0);
	assert_true(pba_bit(f, 65));
	assert_false(pba_bit(f, 0));
	assert_int_equal(bar_read(f, PBA_OFF + 8, 4), 2);
	assert_int_equal(drain(fd65), 0);
	set_control(f, CTRL_ENABLE);
	assert_false(pba_bit(f, 65));
	assert_int_equal(drain(fd65), 1);
	assert_int_equal(drain(fd0), 0);
}

static void route__lazy_until_msi_address(void **state)
{
	struct fixture *f = *state;

	set_control(f, CTRL_ENABLE);
	/* Unmasked with address 0: no GSI yet, and a notify goes nowhere. */
	entry_write(f, 2, 3, 0);
	assert_int_equal(mock.nr_alloc, 0);
	assert_int_equal(rv_msix_notify(&f->d->pci, 2), 0);
	assert_int_equal(mock.nr_msi, 0);
	assert_false(pba_bit(f, 2));
	/* A DMA-looking address is not an MSI either. */
	entry_write(f, 2, 0, 0x12345000);
	assert_int_equal(mock.nr_alloc, 0);
	entry_write(f, 2, 0, 0xfee00000);
	assert_int_equal(mock.nr_alloc, 1);
	assert_int_equal(mock.nr_route, 1);
	assert_false(mock.bad_route);
}

static void route__follows_entry_changes(void **state)
{
	struct fixture *f = *state;

	set_control(f, CTRL_ENABLE);
	program(f, 4, 0x50);
	assert_int_equal(mock.nr_route, 1);
	/* Rewriting the same data is not a new route. */
	entry_write(f, 4, 2, 0x50);
	assert_int_equal(mock.nr_route, 1);
	/* New data while unmasked: the route follows at once. */
	entry_write(f, 4, 2, 0x51);
	assert_int_equal(mock.nr_route, 2);
	assert_int_equal(mock.routes[1].data, 0x51);
	/* Changed while masked: the route follows on unmask. */
	entry_write(f, 4, 3, 1);
	entry_write(f, 4, 0, 0xfee02000);
	entry_write(f, 4, 1, 0x1);
	assert_int_equal(mock.nr_route, 2);
	entry_write(f, 4, 3, 0);
	assert_int_equal(mock.nr_route, 3);
	assert_int_equal(mock.routes[2].addr, 0x1fee02000ULL);
	assert_int_equal(mock.routes[2].gsi, 24);
	assert_int_equal(mock.nr_alloc, 1);
	assert_int_equal(mock.nr_irqfd, 1);
}

static void route__non_msi_address_unroutes(void **state)
{
	struct fixture *f = *state;
	int fd;

	set_control(f, CTRL_ENABLE);
	program(f, 5, 0x60);
	fd = irqfd_of(24);
	assert_int_equal(rv_msix_notify(&f->d->pci, 5), 0);
	assert_int_equal(drain(fd), 1);
	/* Rewritten to a non-MSI address while unmasked: drop, not deliver. */
	entry_write(f, 5, 0, 0x12345000);
	assert_int_equal(rv_msix_notify(&f->d->pci, 5), 0);
	assert_int_equal(drain(fd), 0);
	assert_int_equal(mock.nr_msi, 0);
	assert_false(pba_bit(f, 5));
	assert_false(mock.bad_route);
	/* Back to an MSI address: routed again, on the same GSI. */
	entry_write(f, 5, 0, 0xfee01000);
	assert_int_equal(mock.nr_route, 2);
	assert_int_equal(mock.routes[1].addr, 0xfee01000);
	assert_int_equal(rv_msix_notify(&f->d->pci, 5), 0);
	assert_int_equal(drain(fd), 1);
	assert_int_equal(mock.nr_alloc, 1);
}

static void route__no_gsi_falls_back_to_signal_msi(void **state)
{
	struct fixture *f = *state;

	mock.alloc_rc = -ENOSPC;
	set_control(f, CTRL_ENABLE);
	program(f, 9, 0x77);
	assert_int_equal(mock.nr_irqfd, 0);
	assert_int_equal(rv_msix_notify(&f->d->pci, 9), 0);
	assert_int_equal(mock.nr_msi, 1);
	assert_int_equal(mock.msi_addr, 0xfee00000);
	assert_int_equal(mock.msi_data, 0x77);
	/* KVM refusing the route: the same fallback. */
	mock.alloc_rc = 0;
	mock.route_rc = -EINVAL;
	program(f, 10, 0x78);
	assert_int_equal(mock.nr_route, 1);
	assert_int_equal(mock.nr_irqfd, 0);
	assert_int_equal(rv_msix_notify(&f->d->pci, 10), 0);
	assert_int_equal(mock.nr_msi, 2);
	assert_int_equal(mock.msi_data, 0x78);
}

static void bar_access__widths_and_alignment(void **state)
{
	struct fixture *f = *state;
	uint64_t q = 0x00000001fee03000ULL;

	/* An aligned qword reaches address low and high. */
	assert_int_equal(rv_bus_access(f->vm.mmio, f->bar + TABLE_OFF + 16, &q,
				       8, true),
			 0);
	assert_int_equal(entry_read(f, 1, 0), 0xfee03000);
	assert_int_equal(entry_read(f, 1, 1), 1);
	assert_int_equal(bar_read(f, TABLE_OFF + 16, 8), q);
	/* Data and control as one qword. */
	q = 0x0000000000004242ULL;
	assert_int_equal(rv_bus_access(f->vm.mmio, f->bar + TABLE_OFF + 24, &q,
				       8, true),
			 0);
	assert_int_equal(entry_read(f, 1, 2), 0x4242);
	assert_int_equal(entry_read(f, 1, 3), 0);
	/* Bytes, words and misaligned dwords are ignored; reads all ones. */
	assert_int_equal(bar_read(f, TABLE_OFF + 16, 1), 0xff);
	assert_int_equal(bar_read(f, TABLE_OFF + 16, 2), 0xffff);
	assert_int_equal(bar_read(f, TABLE_OFF + 18, 4), 0xffffffff);
	assert_int_equal(bar_read(f, TABLE_OFF + 20, 8), 0xffffffffffffffffULL);
	bar_write32(f, TABLE_OFF + 17, 0);
	{
		uint8_t b = 0;

		assert_int_equal(rv_bus_access(f->vm.mmio,
					       f->bar + TABLE_OFF + 16, &b, 1,
					       true),
				 0);
	}
	assert_int_equal(entry_read(f, 1, 0), 0xfee03000);
	/* Straddling the table's start belongs to MSI-X and is ignored. */
	assert_int_equal(bar_read(f, TABLE_OFF - 4, 8), 0xffffffffffffffffULL);
	/* Outside the table and PBA the owner handles it. */
	f->d->other_reads = 0;
	bar_read(f, 0, 4);
	bar_read(f, TABLE_OFF + NR_VECTORS * 16, 4);
	bar_read(f, PBA_OFF + 16, 4);
	assert_int_equal(f->d->other_reads, 3);
	assert_int_equal(f->d->other_writes, 0);
	/* The PBA: qwords and dwords; bytes read all ones. */
	assert_int_equal(bar_read(f, PBA_OFF, 8), 0);
	assert_int_equal(bar_read(f, PBA_OFF + 4, 4), 0);
	assert_int_equal(bar_read(f, PBA_OFF + 1, 1), 0xff);
}

static void notify__invalid_vector(void **state)
{
	struct fixture *f = *state;
	struct rv_pci_dev plain;

	assert_int_equal(rv_msix_notify(&f->d->pci, NR_VECTORS), -EINVAL);
	assert_int_equal(rv_msix_notify(&f->d->pci, ~0u), -EINVAL);
	rv_pci_dev_init(&plain, "plain", 1, 2, 0, 0, 0, 0, NULL);
	assert_int_equal(rv_msix_notify(&plain, 0), -EINVAL);
	assert_false(rv_msix_enabled(&plain));
	assert_false(rv_msix_bar_access(&plain, 0, &plain, 4, false));
}

static void destroy__releases_routes(void **state)
{
	struct fixture *f = *state;
	int fd;

	set_control(f, CTRL_ENABLE);
	program(f, 1, 1);
	program(f, 2, 2);
	fd = irqfd_of(24);
	/* Unregister first, as teardown does: the GSIs are still freed. */
	rv_pci_unregister(&f->d->pci);
	rv_msix_destroy(&f->d->pci);
	assert_null(f->d->pci.msix);
	assert_int_equal(mock.nr_free, 2);
	assert_int_equal(mock.nr_irqfd, 4);
	assert_false(mock.irqfd_assign[2]);
	assert_false(mock.irqfd_assign[3]);
	assert_int_equal(mock.irqfd_fd[2], fd);
	/* The eventfd is closed. */
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	rv_msix_destroy(&f->d->pci); /* twice is harmless */
}

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void hostile__random_table_and_control(void **state)
{
	struct fixture *f = *state;
	static const uint32_t widths[] = { 1, 2, 4, 8 };
	unsigned int i, v;

	for (i = 0; i < 200000; i++) {
		uint64_t off =
			TABLE_OFF - 8 + rng() % (PBA_OFF + 32 - TABLE_OFF);
		uint64_t val = rng();
		uint32_t len = widths[rng() % 4];

		if ((rng() & 3) == 0) /* MSI addresses now and then */
			val = (val & ~0xffffffffULL) | 0xfee00000 |
			      (val & 0xff000);
		if (rng() % 64 == 0)
			set_control(f, (uint16_t)rng());
		if (rng() % 16 == 0)
			rv_msix_notify(&f->d->pci, (unsigned int)(rng() % 80));
		rv_bus_access(f->vm.mmio, f->bar + off, &val, len,
			      (rng() & 1) != 0);
	}
	/* KVM only saw MSI addresses; reserved bits stayed clear. */
	assert_false(mock.bad_route);
	for (v = 0; v < NR_VECTORS; v++) {
		assert_int_equal(entry_read(f, v, 3) & ~1u, 0);
		assert_int_equal(entry_read(f, v, 0) & 3u, 0);
	}
	/* Pending bits only for vectors that cannot deliver right now. */
	set_control(f, CTRL_ENABLE);
	for (v = 0; v < NR_VECTORS; v++)
		if (pba_bit(f, v))
			assert_int_equal(entry_read(f, v, 3), 1);
	assert_int_equal(bar_read(f, PBA_OFF + 8, 8) >> (NR_VECTORS - 64), 0);
}

struct notifier {
	struct rv_pci_dev *dev;
	bool stop;
	unsigned int sent;
};

static void *notify_thread(void *arg)
{
	struct notifier *n = arg;

	while (!__atomic_load_n(&n->stop, __ATOMIC_RELAXED)) {
		rv_msix_notify(n->dev, 3);
		__atomic_fetch_add(&n->sent, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void notify__concurrent_with_masking(void **state)
{
	struct fixture *f = *state;
	struct notifier n = { .dev = &f->d->pci };
	uint64_t got = 0;
	pthread_t t;
	unsigned int i;
	int fd;

	set_control(f, CTRL_ENABLE);
	program(f, 3, 0x33);
	fd = irqfd_of(24);
	assert_int_equal(pthread_create(&t, NULL, notify_thread, &n), 0);
	for (i = 0;
	     i < 20000 || __atomic_load_n(&n.sent, __ATOMIC_RELAXED) < 1000;
	     i++) {
		entry_write(f, 3, 3, i & 1);
		got += drain(fd);
	}
	__atomic_store_n(&n.stop, true, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	entry_write(f, 3, 3, 0);
	got += drain(fd);
	/* Every notify was delivered or coalesced; none is left pending. */
	assert_false(pba_bit(f, 3));
	assert_true(got >= 1 && got <= n.sent);
	assert_int_equal(mock.nr_route, 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(init__capability_layout),
		T(init__bad_layout),
		T(table__reset_state),
		T(notify__disabled_sets_pending),
		T(unmask__routes_vector_through_irqfd),
		T(masked_vector__pending_until_unmasked),
		T(function_mask__pending_then_delivered),
		T(route__lazy_until_msi_address),
		T(route__follows_entry_changes),
		T(route__non_msi_address_unroutes),
		T(route__no_gsi_falls_back_to_signal_msi),
		T(bar_access__widths_and_alignment),
		T(notify__invalid_vector),
		T(destroy__releases_routes),
		T(hostile__random_table_and_control),
		T(notify__concurrent_with_masking),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
