// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for interrupt routing (vmm/irq.c) without /dev/kvm: ioctl is
 * replaced through -Wl,--wrap, records every request and copies the
 * routing tables KVM would have received.
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

#include <linux/kvm.h>

#include "raevm/irq.h"
#include "raevm/kvm.h"
#include "raevm/vm.h"

#define VM_FD 42
#define KVM_FD 41
#define MAX_ENTRIES 4200

struct mock {
	pthread_mutex_t lock;
	int cap_routing; /* KVM_CAP_IRQ_ROUTING's answer */
	int fail_errno;	 /* next matching ioctl fails with this */
	unsigned long fail_req;
	unsigned int nr_routing, nr_irqfd, nr_msi, nr_ioeventfd, nr_other;
	int last_fd;
	struct kvm_irq_routing_entry table[MAX_ENTRIES];
	unsigned int table_nr;
	struct kvm_irqfd irqfd;
	struct kvm_msi msi;
	struct kvm_ioeventfd ioeventfd;
};

static struct mock mock = { .lock = PTHREAD_MUTEX_INITIALIZER };

int __wrap_ioctl(int fd, unsigned long req, ...);

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	unsigned long arg;
	va_list ap;
	int rc = 0;

	va_start(ap, req);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	pthread_mutex_lock(&mock.lock);
	mock.last_fd = fd;
	if (mock.fail_errno && mock.fail_req == req) {
		errno = mock.fail_errno;
		mock.fail_errno = 0;
		pthread_mutex_unlock(&mock.lock);
		return -1;
	}
	switch (req) {
	case KVM_CHECK_EXTENSION:
		rc = arg == KVM_CAP_IRQ_ROUTING ? mock.cap_routing : 0;
		break;
	case KVM_SET_GSI_ROUTING: {
		const struct kvm_irq_routing *t = (const void *)arg;

		mock.nr_routing++;
		mock.table_nr = t->nr < MAX_ENTRIES ? t->nr : MAX_ENTRIES;
		memcpy(mock.table, t->entries,
		       mock.table_nr * sizeof(t->entries[0]));
		break;
	}
	case KVM_IRQFD:
		mock.nr_irqfd++;
		memcpy(&mock.irqfd, (const void *)arg, sizeof(mock.irqfd));
		break;
	case KVM_SIGNAL_MSI:
		mock.nr_msi++;
		memcpy(&mock.msi, (const void *)arg, sizeof(mock.msi));
		rc = 1;
		break;
	case KVM_IOEVENTFD:
		mock.nr_ioeventfd++;
		memcpy(&mock.ioeventfd, (const void *)arg,
		       sizeof(mock.ioeventfd));
		break;
	default:
		mock.nr_other++;
		break;
	}
	pthread_mutex_unlock(&mock.lock);
	return rc;
}

struct fixture {
	struct rv_kvm kvm;
	struct rv_vm vm;
};

static void mock_reset(int cap)
{
	pthread_mutex_lock(&mock.lock);
	mock.cap_routing = cap;
	mock.fail_errno = 0;
	mock.fail_req = 0;
	mock.nr_routing = mock.nr_irqfd = mock.nr_msi = 0;
	mock.nr_ioeventfd = mock.nr_other = 0;
	mock.table_nr = 0;
	pthread_mutex_unlock(&mock.lock);
}

static void fail_next(unsigned long req, int err)
{
	mock.fail_req = req;
	mock.fail_errno = err;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->kvm.fd = KVM_FD;
	f->vm.kvm = &f->kvm;
	f->vm.fd = VM_FD;
	mock_reset(4096);
	if (rv_irq_routing_create(&f->vm, &f->vm.irq))
		return -1;
	mock_reset(4096);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rv_irq_routing_destroy(f->vm.irq);
	free(f);
	return 0;
}

/* Routes for gsi in the last committed table, by chip (-1: MSI). */
static unsigned int find_routes(uint32_t gsi, int chip, uint32_t *pin)
{
	unsigned int i, n = 0;

	for (i = 0; i < mock.table_nr; i++) {
		const struct kvm_irq_routing_entry *e = &mock.table[i];

		if (e->gsi != gsi)
			continue;
		if (chip < 0 && e->type == KVM_IRQ_ROUTING_MSI) {
			n++;
		} else if (chip >= 0 && e->type == KVM_IRQ_ROUTING_IRQCHIP &&
			   e->u.irqchip.irqchip == (uint32_t)chip) {
			if (pin)
				*pin = e->u.irqchip.pin;
			n++;
		}
	}
	return n;
}

static const struct kvm_irq_routing_entry *msi_entry(uint32_t gsi)
{
	unsigned int i;

	for (i = 0; i < mock.table_nr; i++)
		if (mock.table[i].gsi == gsi &&
		    mock.table[i].type == KVM_IRQ_ROUTING_MSI)
			return &mock.table[i];
	return NULL;
}

static void routing_create__default_table(void **state)
{
	struct fixture *f = *state;
	struct rv_irq_routing *r;
	uint32_t gsi, pin;

	mock_reset(4096);
	assert_int_equal(rv_irq_routing_create(&f->vm, &r), 0);
	assert_int_equal(mock.nr_routing, 1);
	assert_int_equal(mock.last_fd, VM_FD);
	assert_int_equal(mock.table_nr, 38);
	/* The PIT: PIC pin 0, IOAPIC pin 2, as the MP table and MADT say. */
	assert_int_equal(find_routes(0, KVM_IRQCHIP_PIC_MASTER, &pin), 1);
	assert_int_equal(pin, 0);
	assert_int_equal(find_routes(0, KVM_IRQCHIP_IOAPIC, &pin), 1);
	assert_int_equal(pin, 2);
	/* The cascade has no route at all. */
	assert_int_equal(find_routes(2, KVM_IRQCHIP_PIC_MASTER, NULL) +
				 find_routes(2, KVM_IRQCHIP_IOAPIC, NULL),
			 0);
	for (gsi = 1; gsi < 24; gsi++) {
		if (gsi == 2)
			continue;
		assert_int_equal(find_routes(gsi, KVM_IRQCHIP_IOAPIC, &pin), 1);
		assert_int_equal(pin, gsi);
		if (gsi < 8) {
			assert_int_equal(
				find_routes(gsi, KVM_IRQCHIP_PIC_MASTER, &pin),
				1);
			assert_int_equal(pin, gsi);
		} else if (gsi < 16) {
			assert_int_equal(find_routes(gsi, KVM_IRQCHIP_PIC_SLAVE,
						     &pin),
					 1);
			assert_int_equal(pin, gsi - 8);
		} else {
			assert_int_equal(
				find_routes(gsi, KVM_IRQCHIP_PIC_MASTER, NULL) +
					find_routes(gsi, KVM_IRQCHIP_PIC_SLAVE,
						    NULL),
				0);
		}
	}
	rv_irq_routing_destroy(r);
}

static void routing_create__no_routing_cap(void **state)
{
	struct fixture *f = *state;
	struct rv_irq_routing *r = (void *)1;

	mock_reset(0);
	assert_int_equal(rv_irq_routing_create(&f->vm, &r), -ENOTSUP);
	assert_null(r);
	assert_int_equal(mock.nr_routing, 0);
}

static void routing_create__ioctl_fails(void **state)
{
	struct fixture *f = *state;
	struct rv_irq_routing *r = (void *)1;

	mock_reset(4096);
	fail_next(KVM_SET_GSI_ROUTING, ENOMEM);
	assert_int_equal(rv_irq_routing_create(&f->vm, &r), -ENOMEM);
	assert_null(r);
}

static void alloc_gsi__limited_by_kvm_routes(void **state)
{
	struct fixture *f = *state;
	struct rv_irq_routing *saved = f->vm.irq;
	uint32_t a, b, c;

	/* 40 routes: 38 defaults leave room for two MSI routes. */
	mock_reset(40);
	assert_int_equal(rv_irq_routing_create(&f->vm, &f->vm.irq), 0);
	assert_int_equal(rv_irq_alloc_gsi(&f->vm, &a), 0);
	assert_int_equal(rv_irq_alloc_gsi(&f->vm, &b), 0);
	assert_int_equal(rv_irq_alloc_gsi(&f->vm, &c), -ENOSPC);
	assert_int_equal(a, RV_IRQ_FIRST_MSI_GSI);
	assert_int_equal(b, RV_IRQ_FIRST_MSI_GSI + 1);
	assert_int_equal(rv_irq_set_msi_route(&f->vm, a, 0xfee00000, 1), 0);
	assert_int_equal(rv_irq_set_msi_route(&f->vm, b, 0xfee00000, 2), 0);
	assert_int_equal(mock.table_nr, 40);
	rv_irq_free_gsi(&f->vm, a);
	assert_int_equal(rv_irq_alloc_gsi(&f->vm, &c), 0);
	assert_int_equal(c, a);
	rv_irq_routing_destroy(f->vm.irq);
	f->vm.irq = saved;
}

static void alloc_gsi__unique_until_freed(void **state)
{
	struct fixture *f = *state;
	static uint8_t seen[4096];
	uint32_t gsi;
	unsigned int n = 0;

	memset(seen, 0, sizeof(seen));
	while (rv_irq_alloc_gsi(&f->vm, &gsi) == 0) {
		assert_true(gsi >= RV_IRQ_FIRST_MSI_GSI && gsi < 4096);
		assert_int_equal(seen[gsi], 0);
		seen[gsi] = 1;
		n++;
	}
	assert_int_equal(n, RV_IRQ_MAX_MSI_GSIS);
	assert_int_equal(mock.nr_routing,
			 0); /* allocation alone commits nothing */
	rv_irq_free_gsi(&f->vm, 100);
	assert_int_equal(rv_irq_alloc_gsi(&f->vm, &gsi), 0);
	assert_int_equal(gsi, 100);
}

static void set_msi_route__commits_entry(void **state)
{
	struct fixture *f = *state;
	const struct kvm_irq_routing_entry *e;
	uint32_t gsi;

	assert_int_equal(rv_irq_alloc_gsi(&f->vm, &gsi), 0);
	assert_int_equal(
		rv_irq_set_msi_route(&f->vm, gsi, 0x12fee01000ULL, 0x4041), 0);
	assert_int_equal(mock.nr_routing, 1);
	assert_int_equal(mock.table_nr, 39);
	e = msi_entry(gsi);
	assert_non_null(e);
	assert_int_equal(e->u.msi.address_lo, 0xfee01000);
	assert_int_equal(e->u.msi.address_hi, 0x12);
	assert_int_equal(e->u.msi.data, 0x4041);
	assert_int_equal(e->flags, 0);
	/* The defaults are still there: setting the table replaces KVM's. */
	assert_int_equal(find_routes(0, KVM_IRQCHIP_IOAPIC, NULL), 1);

	/* The same values again: nothing to tell KVM. */
	assert_int_equal(
		rv_irq_set_msi_route(&f->vm, gsi, 0x12fee01000ULL, 0x4041), 0);
	assert_int_equal(mock.nr_routing, 1);
	/* New data: one more commit with the new entry. */
	assert_int_equal(rv_irq_set_msi_route(&f->vm, gsi, 0xfee00000, 0x22),
			 0);
	assert_int_equal(mock.nr_routing, 2);
	assert_int_equal(msi_entry(gsi)->u.msi.data, 0x22);
	assert_int_equal(mock.table_nr, 39);
}

static void routing_recommit__same_table_again(void **state)
{
	struct fixture *f = *state;
	const struct kvm_irq_routing_entry *e;
	uint32_t gsi;

	assert_int_equal(rv_irq_alloc_gsi(&f->vm, &gsi), 0);
	assert_int_equal(rv_irq_set_msi_route(&f->vm, gsi, 0xfee00000, 0x31),
			 0);
	mock_reset(4096);

	assert_int_equal(rv__irq_routing_recommit(f->vm.irq), 0);

	/* One more KVM_SET_GSI_ROUTING, on the VM, with the same 39 routes. */
	assert_int_equal(mock.nr_routing, 1);
	assert_int_equal(mock.nr_other, 0);
	assert_int_equal(mock.last_fd, VM_FD);
	assert_int_equal(mock.table_nr, 39);
	e = msi_entry(gsi);
	assert_non_null(e);
	assert_int_equal(e->u.msi.address_lo, 0xfee00000);
	assert_int_equal(e->u.msi.data, 0x31);
	assert_int_equal(find_routes(0, KVM_IRQCHIP_IOAPIC, NULL), 1);
}

static void routing_recommit__ioctl_fails(void **state)
{
	struct fixture *f = *state;

	fail_next(KVM_SET_GSI_ROUTING, EBUSY);

	assert_int_equal(rv__irq_routing_recommit(f->vm.irq), -EBUSY);

	assert_int_equal(mock.nr_routing, 0);
}

static void set_msi_route__gsi_not_allocated(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rv_irq_set_msi_route(&f->vm, 30, 0xfee00000, 1),
			 -EINVAL);
	assert_int_equal(rv_irq_set_msi_route(&f->vm, 5, 0xfee00000, 1),
			 -EINVAL);
	assert_int_equal(rv_irq_set_msi_route(&f->vm, 1u << 31, 0xfee00000, 1),
			 -EINVAL);
	assert_int_equal(rv_irq_clear_route(&f->vm, 30), -EINVAL);
	assert_int_equal(mock.nr_routing, 0);
}

static void set_msi_route__kvm_rejects_keeps_old(void **state)
{
	struct fixture *f = *state;
	uint32_t a, b;

	assert_int_equal(rv_irq_alloc_gsi(&f->vm, &a), 0);
	assert_int_equal(rv_irq_alloc_gsi(&f->vm, &b), 0);
	assert_int_equal(rv_irq_set_msi_route(&f->vm, a, 0xfee00000, 1), 0);
	fail_next(KVM_SET_GSI_ROUTING, EINVAL);
	assert_int_equal(rv_irq_set_msi_route(&f->vm, a, 0xdead0000, 9),
			 -EINVAL);
	/* The next commit still carries a's old route, not the refused one. */
	assert_int_equal(rv_irq_set_msi_route(&f->vm, b, 0xfee00000, 2), 0);
	assert_non_null(msi_entry(a));
	assert_int_equal(msi_entry(a)->u.msi.address_lo, 0xfee00000);
	assert_int_equal(msi_entry(a)->u.msi.data, 1);
	assert_int_equal(mock.table_nr, 40);
}

static void clear_route__removes_entry(void **state)
{
	struct fixture *f = *state;
	uint32_t a, b;

	assert_int_equal(rv_irq_alloc_gsi(&f->vm, &a), 0);
	assert_int_equal(rv_irq_alloc_gsi(&f->vm, &b), 0);
	assert_int_equal(rv_irq_set_msi_route(&f->vm, a, 0xfee00000, 1), 0);
	assert_int_equal(rv_irq_set_msi_route(&f->vm, b, 0xfee00000, 2), 0);
	assert_int_equal(rv_irq_clear_route(&f->vm, a), 0);
	assert_null(msi_entry(a));
	assert_non_null(msi_entry(b));
	/* Clearing a GSI without a route commits nothing. */
	mock.nr_routing = 0;
	assert_int_equal(rv_irq_clear_route(&f->vm, a), 0);
	assert_int_equal(mock.nr_routing, 0);
	/* a is still allocated: a route can be set again. */
	assert_int_equal(rv_irq_set_msi_route(&f->vm, a, 0xfee00000, 3), 0);
	assert_int_equal(msi_entry(a)->u.msi.data, 3);
}

static void free_gsi__removes_route(void **state)
{
	struct fixture *f = *state;
	uint32_t a;

	assert_int_equal(rv_irq_alloc_gsi(&f->vm, &a), 0);
	assert_int_equal(rv_irq_set_msi_route(&f->vm, a, 0xfee00000, 1), 0);
	rv_irq_free_gsi(&f->vm, a);
	assert_int_equal(mock.nr_routing, 2);
	assert_null(msi_entry(a));
	assert_int_equal(rv_irq_set_msi_route(&f->vm, a, 0xfee00000, 1),
			 -EINVAL);
	/* Freeing what is not allocated, or a legacy GSI, does nothing. */
	rv_irq_free_gsi(&f->vm, a);
	rv_irq_free_gsi(&f->vm, 4);
	assert_int_equal(mock.nr_routing, 2);
}

static void irqfd__assign_and_deassign(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rv_irqfd(&f->vm, 7, 25, true), 0);
	assert_int_equal(mock.nr_irqfd, 1);
	assert_int_equal(mock.last_fd, VM_FD);
	assert_int_equal(mock.irqfd.fd, 7);
	assert_int_equal(mock.irqfd.gsi, 25);
	assert_int_equal(mock.irqfd.flags, 0);
	assert_int_equal(rv_irqfd(&f->vm, 7, 25, false), 0);
	assert_int_equal(mock.irqfd.flags, KVM_IRQFD_FLAG_DEASSIGN);
	assert_int_equal(mock.nr_irqfd, 2);
}

static void irqfd__invalid(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rv_irqfd(&f->vm, -1, 25, true), -EINVAL);
	assert_int_equal(rv_irqfd(&f->vm, 7,
				  RV_IRQ_FIRST_MSI_GSI + RV_IRQ_MAX_MSI_GSIS,
				  true),
			 -EINVAL);
	assert_int_equal(mock.nr_irqfd, 0);
	fail_next(KVM_IRQFD, EBUSY);
	assert_int_equal(rv_irqfd(&f->vm, 7, 25, true), -EBUSY);
}

static void signal_msi__fields(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rv_irq_signal_msi(&f->vm, 0x1fee00000ULL, 0x4031), 0);
	assert_int_equal(mock.nr_msi, 1);
	assert_int_equal(mock.msi.address_lo, 0xfee00000);
	assert_int_equal(mock.msi.address_hi, 1);
	assert_int_equal(mock.msi.data, 0x4031);
	assert_int_equal(mock.msi.flags, 0);
	fail_next(KVM_SIGNAL_MSI, EINVAL);
	assert_int_equal(rv_irq_signal_msi(&f->vm, 0, 0), -EINVAL);
}

static void ioeventfd__mmio_datamatch(void **state)
{
	struct fixture *f = *state;
	uint64_t match = 3;

	assert_int_equal(
		rv_ioeventfd(&f->vm, 0xc0001000, 2, false, &match, 9, true), 0);
	assert_int_equal(mock.nr_ioeventfd, 1);
	assert_int_equal(mock.ioeventfd.addr, 0xc0001000);
	assert_int_equal(mock.ioeventfd.len, 2);
	assert_int_equal(mock.ioeventfd.fd, 9);
	assert_int_equal(mock.ioeventfd.datamatch, 3);
	assert_int_equal(mock.ioeventfd.flags, KVM_IOEVENTFD_FLAG_DATAMATCH);
	assert_int_equal(rv_ioeventfd(&f->vm, 0xc0001000, 2, false, &match, 9,
				      false),
			 0);
	assert_int_equal(mock.ioeventfd.flags,
			 KVM_IOEVENTFD_FLAG_DATAMATCH |
				 KVM_IOEVENTFD_FLAG_DEASSIGN);
}

static void ioeventfd__pio_and_any_length(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rv_ioeventfd(&f->vm, 0xc040, 4, true, NULL, 9, true),
			 0);
	assert_int_equal(mock.ioeventfd.flags, KVM_IOEVENTFD_FLAG_PIO);
	assert_int_equal(mock.ioeventfd.addr, 0xc040);
	assert_int_equal(mock.ioeventfd.len, 4);
	/* MMIO with len 0 matches a write of any width. */
	assert_int_equal(
		rv_ioeventfd(&f->vm, 0xc0002000, 0, false, NULL, 9, true), 0);
	assert_int_equal(mock.ioeventfd.len, 0);
	assert_int_equal(mock.ioeventfd.flags, 0);
	assert_int_equal(rv_ioeventfd(&f->vm, 0xfffe, 2, true, NULL, 9, true),
			 0);
	fail_next(KVM_IOEVENTFD, EEXIST);
	assert_int_equal(rv_ioeventfd(&f->vm, 0xc040, 4, true, NULL, 9, true),
			 -EEXIST);
}

static void ioeventfd__invalid(void **state)
{
	struct fixture *f = *state;
	uint64_t match = 1;

	assert_int_equal(rv_ioeventfd(&f->vm, 0x1000, 3, false, NULL, 9, true),
			 -EINVAL);
	assert_int_equal(rv_ioeventfd(&f->vm, 0x1000, 16, false, NULL, 9, true),
			 -EINVAL);
	assert_int_equal(rv_ioeventfd(&f->vm, 0x100, 0, true, NULL, 9, true),
			 -EINVAL);
	assert_int_equal(rv_ioeventfd(&f->vm, 0x1000, 0, false, &match, 9,
				      true),
			 -EINVAL);
	assert_int_equal(rv_ioeventfd(&f->vm, 0xffff, 2, true, NULL, 9, true),
			 -EINVAL);
	assert_int_equal(rv_ioeventfd(&f->vm, 0x10000, 1, true, NULL, 9, true),
			 -EINVAL);
	assert_int_equal(rv_ioeventfd(&f->vm, UINT64_MAX - 2, 4, false, NULL, 9,
				      true),
			 -EINVAL);
	assert_int_equal(rv_ioeventfd(&f->vm, 0x1000, 4, false, NULL, -1, true),
			 -EINVAL);
	assert_int_equal(mock.nr_ioeventfd, 0);
}

static void no_routing__enodev(void **state)
{
	struct fixture *f = *state;
	struct rv_vm vm = { .fd = VM_FD };
	uint32_t gsi;

	(void)f;
	assert_int_equal(rv_irq_alloc_gsi(&vm, &gsi), -ENODEV);
	assert_int_equal(rv_irq_set_msi_route(&vm, 24, 0xfee00000, 0), -ENODEV);
	assert_int_equal(rv_irq_clear_route(&vm, 24), -ENODEV);
	assert_int_equal(rv_irqfd(&vm, 3, 24, true), -EINVAL);
	rv_irq_free_gsi(&vm, 24);
	assert_int_equal(mock.nr_routing + mock.nr_irqfd, 0);
}

#define NR_THREADS 4
#define ROUTES_PER_THREAD 50

struct worker {
	struct rv_vm *vm;
	unsigned int id;
	int rc;
};

static void *route_worker(void *arg)
{
	struct worker *w = arg;
	unsigned int i;

	for (i = 0; i < ROUTES_PER_THREAD && w->rc == 0; i++) {
		uint32_t gsi;

		w->rc = rv_irq_alloc_gsi(w->vm, &gsi);
		if (w->rc == 0)
			w->rc = rv_irq_set_msi_route(w->vm, gsi, 0xfee00000,
						     w->id << 16 | i);
	}
	return NULL;
}

static void set_msi_route__concurrent_threads(void **state)
{
	struct fixture *f = *state;
	struct worker w[NR_THREADS];
	pthread_t t[NR_THREADS];
	uint8_t seen[NR_THREADS][ROUTES_PER_THREAD];
	unsigned int i, nr_msi = 0;

	for (i = 0; i < NR_THREADS; i++) {
		w[i] = (struct worker){ .vm = &f->vm, .id = i };
		assert_int_equal(
			pthread_create(&t[i], NULL, route_worker, &w[i]), 0);
	}
	for (i = 0; i < NR_THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].rc, 0);
	}
	/* The last table KVM saw holds every route exactly once. */
	memset(seen, 0, sizeof(seen));
	assert_int_equal(mock.nr_routing, NR_THREADS * ROUTES_PER_THREAD);
	for (i = 0; i < mock.table_nr; i++) {
		const struct kvm_irq_routing_entry *e = &mock.table[i];
		uint32_t id, k;

		if (e->type != KVM_IRQ_ROUTING_MSI)
			continue;
		id = e->u.msi.data >> 16;
		k = e->u.msi.data & 0xffff;
		assert_true(id < NR_THREADS && k < ROUTES_PER_THREAD);
		assert_int_equal(seen[id][k], 0);
		seen[id][k] = 1;
		nr_msi++;
	}
	assert_int_equal(nr_msi, NR_THREADS * ROUTES_PER_THREAD);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(routing_create__default_table),
		T(routing_create__no_routing_cap),
		T(routing_create__ioctl_fails),
		T(alloc_gsi__limited_by_kvm_routes),
		T(alloc_gsi__unique_until_freed),
		T(set_msi_route__commits_entry),
		T(routing_recommit__same_table_again),
		T(routing_recommit__ioctl_fails),
		T(set_msi_route__gsi_not_allocated),
		T(set_msi_route__kvm_rejects_keeps_old),
		T(clear_route__removes_entry),
		T(free_gsi__removes_route),
		T(irqfd__assign_and_deassign),
		T(irqfd__invalid),
		T(signal_msi__fields),
		T(ioeventfd__mmio_datamatch),
		T(ioeventfd__pio_and_any_length),
		T(ioeventfd__invalid),
		T(no_routing__enodev),
		T(set_msi_route__concurrent_threads),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
