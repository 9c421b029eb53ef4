// SPDX-License-Identifier: Apache-2.0
/*
 * MSI-X: the capability, the vector table and the pending bit array (PBA),
 * with each vector delivered through a KVM MSI route and an irqfd.
 *
 * A vector is deliverable when MSI-X is enabled, the function is not
 * masked and the vector is not masked. The first time a vector is
 * deliverable with an x86 MSI address (0xfeexxxxx in the low dword), it
 * gets an eventfd, a GSI and an irqfd; from then on its KVM route follows
 * the table entry whenever the entry changes while deliverable (and on
 * unmask), so rv_msix_notify() is one eventfd write. The irqfd stays bound
 * while the vector is masked: masking happens here, by setting the pending
 * bit instead of writing the eventfd, and unmasking delivers a pending
 * message. Without a route (no GSI left, or KVM refused the guest's
 * address/data) a deliverable message goes through KVM_SIGNAL_MSI; one
 * whose address is not an MSI address is dropped, as the write would go
 * nowhere on real hardware.
 *
 * The guest writes the table's address and data: they are handed to KVM,
 * which validates them. Table and PBA accesses must be 4 or 8 bytes and
 * aligned; anything else is ignored (reads see all ones). The PBA is read
 * only.
 *
 * Locking: m->lock protects the table, the PBA and the routes. It is taken
 * under dev->lock (control word writes) and never the other way round, and
 * it is held across the rv_irq_* calls (which take the routing lock).
 */
#include "raevm/pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "raevm/irq.h"
#include "raevm/log.h"

#define ENTRY_SIZE 16
#define CTRL_ENABLE 0x8000
#define CTRL_FMASK 0x4000
#define CTRL_TABLE_SIZE 0x07ff
#define VECTOR_MASKED 0x1
#define MSI_ADDR_MASK 0xfff00000u
#define MSI_ADDR_BASE 0xfee00000u
#define CAP_BODY_LEN 10
#define WARNINGS_LOGGED 8

struct vector {
	uint32_t addr_lo, addr_hi, data, ctrl; /* the guest's table entry */
	int efd; /* -1 until the vector is first set up */
	uint32_t gsi;
	bool has_gsi;
	bool irqfd;  /* efd bound to gsi */
	bool routed; /* KVM routes gsi to (r_addr, r_data) */
	uint64_t r_addr;
	uint32_t r_data;
};

struct rv_msix {
	pthread_mutex_t lock;
	struct rv_pci_dev *dev;
	struct rv_vm *vm; /* set once a vector has used the VM's routing */
	unsigned int nr;
	unsigned int bar;
	uint32_t table_off, pba_off;
	uint16_t cap;
	bool enabled; /* also read without the lock (rv_msix_enabled) */
	bool fmask;
	struct vector *v;
	uint64_t *pba;
	unsigned int warnings;
};

static uint32_t pba_bytes(unsigned int nr)
{
	return ((nr + 63) / 64) * 8;
}

static bool deliverable(const struct rv_msix *m, const struct vector *v)
{
	return m->enabled && !m->fmask && !(v->ctrl & VECTOR_MASKED);
}

static bool msi_addr_valid(const struct vector *v)
{
	return (v->addr_lo & MSI_ADDR_MASK) == MSI_ADDR_BASE;
}

static uint64_t vector_addr(const struct vector *v)
{
	return ((uint64_t)v->addr_hi << 32) | v->addr_lo;
}

static bool pending(const struct rv_msix *m, unsigned int i)
{
	return m->pba[i / 64] & (1ULL << (i % 64));
}

static void set_pending(struct rv_msix *m, unsigned int i, bool on)
{
	if (on)
		m->pba[i / 64] |= 1ULL << (i % 64);
	else
		m->pba[i / 64] &= ~(1ULL << (i % 64));
}

/*
 * The VM, from the bus the device sits on. Kept once found, so teardown
 * after rv_pci_unregister() still releases the GSIs and irqfds.
 */
static struct rv_vm *msix_vm(struct rv_msix *m)
{
	if (!m->vm && m->dev->bus)
		m->vm = rv__pci_bus_vm(m->dev->bus);
	return m->vm;
}

static void warn(struct rv_msix *m, const char *what, unsigned int i, int rc)
{
	if (m->warnings++ < WARNINGS_LOGGED)
		rv_warn("pci %s: MSI-X vector %u: %s: %s", m->dev->name, i,
			what, strerror(-rc));
}

/*
 * Makes KVM route vector i to its table entry, creating its eventfd, GSI
 * and irqfd on first use. On failure the vector is left unrouted (notify
 * then falls back to KVM_SIGNAL_MSI). Caller holds m->lock.
 */
static void route(struct rv_msix *m, unsigned int i)
{
	struct vector *v = &m->v[i];
	struct rv_vm *vm = msix_vm(m);
	uint64_t addr = vector_addr(v);
	int rc;

	if (!vm)
		return;
	if (!msi_addr_valid(v)) {
		/*
		 * The entry no longer holds an MSI address: the old route
		 * must not keep delivering to where the entry used to point.
		 * Unrouted, fire() drops the message (the irqfd stays bound
		 * but nothing writes the eventfd until the vector is routed
		 * again).
		 */
		v->routed = false;
		return;
	}
	if (v->routed && v->r_addr == addr && v->r_data == v->data)
		return;
	v->routed = false;
	if (v->efd < 0) {
		v->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->efd < 0) {
			warn(m, "eventfd", i, -errno);
			return;
		}
	}
	if (!v->has_gsi) {
		rc = rv_irq_alloc_gsi(vm, &v->gsi);
		if (rc) {
			warn(m, "no GSI left, using KVM_SIGNAL_MSI", i, rc);
			return;
		}
		v->has_gsi = true;
	}
	rc = rv_irq_set_msi_route(vm, v->gsi, addr, v->data);
	if (rc)
		return; /* logged by irq.c */
	if (!v->irqfd) {
		rc = rv_irqfd(vm, v->efd, v->gsi, true);
		if (rc)
			return;
		v->irqfd = true;
	}
	v->routed = true;
	v->r_addr = addr;
	v->r_data = v->data;
}

/* Sends vector i's message now. Caller holds m->lock. */
static void fire(struct rv_msix *m, unsigned int i)
{
	struct vector *v = &m->v[i];
	uint64_t one = 1;
	struct rv_vm *vm;

	if (v->routed) {
		/* Cannot fail short of a counter overflow KVM never lets happen. */
		if (write(v->efd, &one, sizeof(one)) != sizeof(one))
			warn(m, "eventfd write", i, -errno);
		return;
	}
	vm = msix_vm(m);
	if (vm && msi_addr_valid(v))
		rv_irq_signal_msi(vm, vector_addr(v), v->data);
}

/* Vector i may have become deliverable: route it, send what is pending. */
static void unmasked(struct rv_msix *m, unsigned int i)
{
	if (!deliverable(m, &m->v[i]))
		return;
	route(m, i);
	if (pending(m, i)) {
		set_pending(m, i, false);
		fire(m, i);
	}
}

int rv_msix_notify(struct rv_pci_dev *dev, unsigned int vector)
{
	struct rv_msix *m = dev->msix;

	if (!m || vector >= m->nr)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (deliverable(m, &m->v[vector]))
		fire(m, vector);
	else
		set_pending(m, vector, true);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

bool rv_msix_enabled(const struct rv_pci_dev *dev)
{
	return dev->msix &&
	       __atomic_load_n(&dev->msix->enabled, __ATOMIC_ACQUIRE);
}

uint16_t rv__msix_cap_offset(const struct rv_pci_dev *dev)
{
	return dev->msix ? dev->msix->cap : 0;
}

void rv__msix_control_written(struct rv_pci_dev *dev)
{
	struct rv_msix *m = dev->msix;
	uint16_t ctrl;
	unsigned int i;

	if (!m)
		return;
	ctrl = (uint16_t)(dev->config[m->cap + 2] |
			  (dev->config[m->cap + 3] << 8));
	pthread_mutex_lock(&m->lock);
	__atomic_store_n(&m->enabled, (ctrl & CTRL_ENABLE) != 0,
			 __ATOMIC_RELEASE);
	m->fmask = (ctrl & CTRL_FMASK) != 0;
	if (m->enabled && !m->fmask)
		for (i = 0; i < m->nr; i++)
			unmasked(m, i);
	pthread_mutex_unlock(&m->lock);
}

/* One aligned dword of the table. Caller holds m->lock. */
static uint32_t table_read(struct rv_msix *m, uint32_t off)
{
	const struct vector *v = &m->v[off / ENTRY_SIZE];

	switch ((off % ENTRY_SIZE) / 4) {
	case 0:
		return v->addr_lo;
	case 1:
		return v->addr_hi;
	case 2:
		return v->data;
	default:
		return v->ctrl;
	}
}

static void table_write(struct rv_msix *m, uint32_t off, uint32_t val)
{
	unsigned int i = off / ENTRY_SIZE;
	struct vector *v = &m->v[i];

	switch ((off % ENTRY_SIZE) / 4) {
	case 0:
		/* Bits 1:0 are reserved: the address is dword aligned. */
		v->addr_lo = val & ~3u;
		break;
	case 1:
		v->addr_hi = val;
		break;
	case 2:
		v->data = val;
		break;
	default:
		v->ctrl = val & VECTOR_MASKED;
		break;
	}
	unmasked(m, i);
}

static uint32_t pba_read(const struct rv_msix *m, uint32_t off)
{
	uint64_t q = m->pba[off / 8];

	return (uint32_t)(off % 8 ? q >> 32 : q);
}

static bool overlaps(uint64_t off, uint32_t len, uint64_t start, uint64_t size)
{
	return off < start + size && start < off + len;
}

/* One aligned dword in the table or the PBA. Caller holds m->lock. */
static void dword_access(struct rv_msix *m, uint64_t off, uint8_t *data,
			 bool is_write)
{
	uint32_t val;

	if (off >= m->pba_off && off - m->pba_off < pba_bytes(m->nr)) {
		val = pba_read(m, (uint32_t)(off - m->pba_off));
		if (!is_write)
			memcpy(data, &val, 4);
		return;
	}
	if (is_write) {
		memcpy(&val, data, 4);
		table_write(m, (uint32_t)(off - m->table_off), val);
	} else {
		val = table_read(m, (uint32_t)(off - m->table_off));
		memcpy(data, &val, 4);
	}
}

bool rv_msix_bar_access(struct rv_pci_dev *dev, uint64_t offset, void *data,
			uint32_t len, bool is_write)
{
	struct rv_msix *m = dev->msix;
	uint64_t tsize, psize;
	bool in_table, in_pba;

	if (!m || len == 0)
		return false;
	tsize = (uint64_t)m->nr * ENTRY_SIZE;
	psize = pba_bytes(m->nr);
	in_table = overlaps(offset, len, m->table_off, tsize);
	in_pba = overlaps(offset, len, m->pba_off, psize);
	if (!in_table && !in_pba)
		return false;
	/*
	 * Aligned 4- and 8-byte accesses only; the table and PBA are 8-byte
	 * aligned, so an aligned access that starts inside stays inside.
	 */
	if ((len != 4 && len != 8) || offset % len ||
	    (in_table && offset < m->table_off) ||
	    (in_pba && offset < m->pba_off)) {
		if (!is_write)
			memset(data, 0xff, len);
		return true;
	}
	pthread_mutex_lock(&m->lock);
	dword_access(m, offset, data, is_write);
	if (len == 8)
		dword_access(m, offset + 4, (uint8_t *)data + 4, is_write);
	pthread_mutex_unlock(&m->lock);
	return true;
}

static int check_layout(const struct rv_pci_dev *dev, unsigned int nr,
			unsigned int bar, uint32_t table_off, uint32_t pba_off)
{
	const struct rv_pci_bar *b;
	uint64_t tsize = (uint64_t)nr * ENTRY_SIZE, psize = pba_bytes(nr);

	if (nr == 0 || nr > RV_MSIX_MAX_VECTORS || bar >= RV_PCI_NR_BARS)
		return -EINVAL;
	b = &dev->bars[bar];
	if (b->type != RV_PCI_BAR_MEM32 && b->type != RV_PCI_BAR_MEM64)
		return -EINVAL;
	if (table_off % 8 || pba_off % 8)
		return -EINVAL;
	if (table_off + tsize > b->size || pba_off + psize > b->size)
		return -EINVAL;
	if (overlaps(table_off, (uint32_t)tsize, pba_off, psize))
		return -EINVAL;
	return 0;
}

int rv_msix_init(struct rv_pci_dev *dev, unsigned int nr_vectors,
		 unsigned int bar, uint32_t table_offset, uint32_t pba_offset)
{
	uint8_t body[CAP_BODY_LEN];
	struct rv_msix *m;
	unsigned int i;
	uint32_t t = table_offset | bar, p = pba_offset | bar;
	int rc;

	if (dev->bus)
		return -EBUSY;
	if (dev->msix)
		return -EINVAL;
	rc = check_layout(dev, nr_vectors, bar, table_offset, pba_offset);
	if (rc)
		return rc;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->v = calloc(nr_vectors, sizeof(*m->v));
	m->pba = calloc(pba_bytes(nr_vectors) / 8, sizeof(*m->pba));
	if (!m->v || !m->pba) {
		rc = -ENOMEM;
		goto err;
	}
	/* Message control: table size N-1, enable and function mask off. */
	body[0] = (uint8_t)((nr_vectors - 1) & 0xff);
	body[1] = (uint8_t)(((nr_vectors - 1) >> 8) & (CTRL_TABLE_SIZE >> 8));
	memcpy(body + 2, &t, 4);
	memcpy(body + 6, &p, 4);
	rc = rv_pci_add_cap(dev, RV_PCI_CAP_ID_MSIX, body, sizeof(body),
			    &m->cap);
	if (rc)
		goto err;
	dev->wmask[m->cap + 3] = (CTRL_ENABLE | CTRL_FMASK) >> 8;
	pthread_mutex_init(&m->lock, NULL);
	m->dev = dev;
	m->nr = nr_vectors;
	m->bar = bar;
	m->table_off = table_offset;
	m->pba_off = pba_offset;
	for (i = 0; i < nr_vectors; i++) {
		m->v[i].efd = -1;
		m->v[i].ctrl = VECTOR_MASKED; /* the reset state */
	}
	dev->msix = m;
	return 0;

err:
	free(m->pba);
	free(m->v);
	free(m);
	return rc;
}

void rv_msix_destroy(struct rv_pci_dev *dev)
{
	struct rv_msix *m = dev->msix;
	struct rv_vm *vm;
	unsigned int i;

	if (!m)
		return;
	vm = msix_vm(m);
	for (i = 0; i < m->nr; i++) {
		struct vector *v = &m->v[i];

		if (vm && v->irqfd && rv_irqfd(vm, v->efd, v->gsi, false) != 0)
			rv_debug("pci %s: MSI-X vector %u keeps its irqfd",
				 dev->name, i);
		if (vm && v->has_gsi)
			rv_irq_free_gsi(vm, v->gsi);
		if (v->efd >= 0)
			close(v->efd);
	}
	dev->msix = NULL;
	pthread_mutex_destroy(&m->lock);
	free(m->pba);
	free(m->v);
	free(m);
}
