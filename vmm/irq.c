// SPDX-License-Identifier: Apache-2.0
/*
 * Interrupt routing: raevm's copy of the VM's GSI routing table, committed
 * whole to KVM with KVM_SET_GSI_ROUTING, plus irqfd, KVM_SIGNAL_MSI and
 * ioeventfd. See include/raevm/irq.h for the default routes and the
 * threading rules.
 */
#include "raevm/irq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "raevm/kvm.h"
#include "raevm/log.h"
#include "raevm/vm.h"

#define NR_LEGACY_GSIS 24
#define NR_ISA_GSIS 16
#define ISA_CASCADE_GSI 2
#define PIT_GSI 0
#define PIT_IOAPIC_PIN 2
/* 15 PIC routes (all ISA GSIs but the cascade) and 23 IOAPIC routes. */
#define NR_DEFAULT_ROUTES 38
#define PIO_SPACE 0x10000ULL
/* Guest-provoked failures logged per VM, so a guest cannot flood the log. */
#define GUEST_ERRORS_LOGGED 8

struct msi_route {
	bool allocated;
	bool routed;
	uint64_t addr;
	uint32_t data;
};

struct rv_irq_routing {
	struct rv_vm *vm;
	pthread_mutex_t lock;
	unsigned int nr_msi;	/* GSIs FIRST_MSI .. FIRST_MSI + nr_msi */
	unsigned int next_free; /* allocation hint, an index into msi */
	struct msi_route *msi;
	struct kvm_irq_routing *table; /* room for every route at once */
	size_t msi_size, table_size;   /* bytes mapped for msi and table */
	unsigned int guest_errors;
};

/*
 * Zeroed memory for the two per-VM tables, sized for the most routes KVM
 * allows (about 115 KiB) of which a VM uses a few dozen: fresh anonymous
 * pages cost neither RSS nor page faults until touched, where calloc()
 * cleared every byte on the heap (docs/performance.md).
 */
static void *map_zeroed(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static struct kvm_irq_routing_entry irqchip_route(uint32_t gsi, uint32_t chip,
						  uint32_t pin)
{
	struct kvm_irq_routing_entry e;

	memset(&e, 0, sizeof(e));
	e.gsi = gsi;
	e.type = KVM_IRQ_ROUTING_IRQCHIP;
	e.u.irqchip.irqchip = chip;
	e.u.irqchip.pin = pin;
	return e;
}

/* Writes the default routes to e; returns how many (NR_DEFAULT_ROUTES). */
static unsigned int default_routes(struct kvm_irq_routing_entry *e)
{
	unsigned int n = 0;
	uint32_t gsi;

	for (gsi = 0; gsi < NR_LEGACY_GSIS; gsi++) {
		if (gsi == ISA_CASCADE_GSI)
			continue;
		if (gsi < NR_ISA_GSIS)
			e[n++] = irqchip_route(gsi,
					       gsi < 8 ?
						       KVM_IRQCHIP_PIC_MASTER :
						       KVM_IRQCHIP_PIC_SLAVE,
					       gsi % 8);
		e[n++] = irqchip_route(gsi, KVM_IRQCHIP_IOAPIC,
				       gsi == PIT_GSI ? PIT_IOAPIC_PIN : gsi);
	}
	return n;
}

/* Logs a guest-provoked ioctl failure, at most GUEST_ERRORS_LOGGED times. */
static int guest_ioctl_error(struct rv_irq_routing *r, const char *what,
			     int err)
{
	if (__atomic_fetch_add(&r->guest_errors, 1, __ATOMIC_RELAXED) <
	    GUEST_ERRORS_LOGGED)
		rv_warn("%s failed: %s", what, strerror(err));
	return -err;
}

/* Builds the whole table and hands it to KVM. Caller holds r->lock. */
static int commit(struct rv_irq_routing *r)
{
	struct kvm_irq_routing *t = r->table;
	unsigned int n = default_routes(t->entries), i;

	for (i = 0; i < r->nr_msi; i++) {
		const struct msi_route *m = &r->msi[i];
		struct kvm_irq_routing_entry *e;

		if (!m->routed)
			continue;
		e = &t->entries[n++];
		memset(e, 0, sizeof(*e));
		e->gsi = RV_IRQ_FIRST_MSI_GSI + i;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (uint32_t)m->addr;
		e->u.msi.address_hi = (uint32_t)(m->addr >> 32);
		e->u.msi.data = m->data;
	}
	t->nr = n;
	t->flags = 0;
	if (ioctl(r->vm->fd, KVM_SET_GSI_ROUTING, t) < 0)
		return -errno;
	return 0;
}

int rv_irq_routing_create(struct rv_vm *vm, struct rv_irq_routing **out)
{
	struct rv_irq_routing *r;
	int max, rc;

	*out = NULL;
	max = rv_kvm_check_cap(vm->kvm, KVM_CAP_IRQ_ROUTING);
	if (max <= NR_DEFAULT_ROUTES) {
		rv_error("KVM_CAP_IRQ_ROUTING: KVM offers %d routes, raevm "
			 "needs more than %d",
			 max, NR_DEFAULT_ROUTES);
		return -ENOTSUP;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->vm = vm;
	pthread_mutex_init(&r->lock, NULL);
	/* Every route must fit in one table of at most max entries. */
	r->nr_msi = (unsigned int)max - NR_DEFAULT_ROUTES;
	if (r->nr_msi > RV_IRQ_MAX_MSI_GSIS)
		r->nr_msi = RV_IRQ_MAX_MSI_GSIS;
	r->msi_size = r->nr_msi * sizeof(*r->msi);
	r->table_size =
		sizeof(*r->table) +
		(NR_DEFAULT_ROUTES + r->nr_msi) * sizeof(r->table->entries[0]);
	r->msi = map_zeroed(r->msi_size);
	r->table = map_zeroed(r->table_size);
	if (!r->msi || !r->table) {
		rc = -ENOMEM;
		goto err;
	}
	rc = commit(r);
	if (rc) {
		rv_kvm_ioctl_error("KVM_SET_GSI_ROUTING", -rc);
		goto err;
	}
	*out = r;
	return 0;

err:
	rv_irq_routing_destroy(r);
	return rc;
}

void rv_irq_routing_destroy(struct rv_irq_routing *r)
{
	if (!r)
		return;
	if (r->table)
		munmap(r->table, r->table_size);
	if (r->msi)
		munmap(r->msi, r->msi_size);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int rv__irq_routing_recommit(struct rv_irq_routing *r)
{
	int rc;

	pthread_mutex_lock(&r->lock);
	rc = commit(r);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* The MSI slot of gsi, or NULL when gsi is not an MSI GSI. */
static struct msi_route *msi_slot(struct rv_irq_routing *r, uint32_t gsi)
{
	if (gsi < RV_IRQ_FIRST_MSI_GSI ||
	    gsi - RV_IRQ_FIRST_MSI_GSI >= r->nr_msi)
		return NULL;
	return &r->msi[gsi - RV_IRQ_FIRST_MSI_GSI];
}

int rv_irq_alloc_gsi(struct rv_vm *vm, uint32_t *gsi)
{
	struct rv_irq_routing *r = vm->irq;
	unsigned int i, k;
	int rc = -ENOSPC;

	if (!r)
		return -ENODEV;
	pthread_mutex_lock(&r->lock);
	for (k = 0; k < r->nr_msi; k++) {
		i = (r->next_free + k) % r->nr_msi;
		if (r->msi[i].allocated)
			continue;
		r->msi[i] = (struct msi_route){ .allocated = true };
		r->next_free = (i + 1) % r->nr_msi;
		*gsi = RV_IRQ_FIRST_MSI_GSI + i;
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void rv_irq_free_gsi(struct rv_vm *vm, uint32_t gsi)
{
	struct rv_irq_routing *r = vm->irq;
	struct msi_route *m;
	int rc;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	m = msi_slot(r, gsi);
	if (m && m->allocated) {
		bool routed = m->routed;

		*m = (struct msi_route){ 0 };
		if (routed) {
			rc = commit(r);
			if (rc)
				rv_kvm_ioctl_error("KVM_SET_GSI_ROUTING", -rc);
		}
	}
	pthread_mutex_unlock(&r->lock);
}

int rv_irq_set_msi_route(struct rv_vm *vm, uint32_t gsi, uint64_t addr,
			 uint32_t data)
{
	struct rv_irq_routing *r = vm->irq;
	struct msi_route *m, old;
	int rc = 0;

	if (!r)
		return -ENODEV;
	pthread_mutex_lock(&r->lock);
	m = msi_slot(r, gsi);
	if (!m || !m->allocated) {
		rc = -EINVAL;
		goto out;
	}
	if (m->routed && m->addr == addr && m->data == data)
		goto out;
	old = *m;
	m->routed = true;
	m->addr = addr;
	m->data = data;
	rc = commit(r);
	if (rc) {
		/* KVM kept its previous table; so does raevm. */
		*m = old;
		rc = guest_ioctl_error(r, "KVM_SET_GSI_ROUTING", -rc);
	}
out:
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int rv_irq_clear_route(struct rv_vm *vm, uint32_t gsi)
{
	struct rv_irq_routing *r = vm->irq;
	struct msi_route *m;
	int rc = 0;

	if (!r)
		return -ENODEV;
	pthread_mutex_lock(&r->lock);
	m = msi_slot(r, gsi);
	if (!m || !m->allocated) {
		rc = -EINVAL;
	} else if (m->routed) {
		m->routed = false;
		rc = commit(r);
		if (rc) {
			m->routed = true;
			rc = rv_kvm_ioctl_error("KVM_SET_GSI_ROUTING", -rc);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int rv_irqfd(struct rv_vm *vm, int fd, uint32_t gsi, bool assign)
{
	struct rv_irq_routing *r = vm->irq;
	struct kvm_irqfd req;

	if (fd < 0 || !r || gsi >= RV_IRQ_FIRST_MSI_GSI + r->nr_msi)
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.fd = (uint32_t)fd;
	req.gsi = gsi;
	req.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN;
	if (ioctl(vm->fd, KVM_IRQFD, &req) < 0)
		return rv_kvm_ioctl_error(
			assign ? "KVM_IRQFD" : "KVM_IRQFD (deassign)", errno);
	return 0;
}

int rv_irq_signal_msi(struct rv_vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi;

	memset(&msi, 0, sizeof(msi));
	msi.address_lo = (uint32_t)addr;
	msi.address_hi = (uint32_t)(addr >> 32);
	msi.data = data;
	/* > 0: delivered; 0: the guest blocked it (as hardware would drop it). */
	if (ioctl(vm->fd, KVM_SIGNAL_MSI, &msi) < 0) {
		if (vm->irq)
			return guest_ioctl_error(vm->irq, "KVM_SIGNAL_MSI",
						 errno);
		return rv_kvm_ioctl_error("KVM_SIGNAL_MSI", errno);
	}
	return 0;
}

static bool ioeventfd_valid(uint64_t addr, uint32_t len, bool pio,
			    const uint64_t *datamatch, int fd)
{
	if (fd < 0)
		return false;
	if (len != 0 && len != 1 && len != 2 && len != 4 && len != 8)
		return false;
	if (len == 0 && (pio || datamatch))
		return false;
	if (pio)
		return addr < PIO_SPACE && len <= PIO_SPACE - addr;
	return len == 0 || addr + (len - 1) >= addr;
}

int rv_ioeventfd(struct rv_vm *vm, uint64_t addr, uint32_t len, bool pio,
		 const uint64_t *datamatch, int fd, bool assign)
{
	struct kvm_ioeventfd req;

	if (!ioeventfd_valid(addr, len, pio, datamatch, fd))
		return -EINVAL;
	memset(&req, 0, sizeof(req));
	req.addr = addr;
	req.len = len;
	req.fd = fd;
	if (pio)
		req.flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (datamatch) {
		req.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
		req.datamatch = *datamatch;
	}
	if (!assign)
		req.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	if (ioctl(vm->fd, KVM_IOEVENTFD, &req) < 0)
		return rv_kvm_ioctl_error(assign ? "KVM_IOEVENTFD" :
						   "KVM_IOEVENTFD (deassign)",
					  errno);
	return 0;
}
