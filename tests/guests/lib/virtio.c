/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio 1.2 driver core: the modern PCI transport (4.1) and split
 * virtqueues (2.7). See include/virtio.h for the contracts.
 *
 * Memory ordering: x86 keeps stores in order and loads in order, so
 * publishing ring entries before the index, and reading the used index
 * before the entries, needs only compiler barriers. The one reordering
 * x86 does, a load passing an earlier store, matters where the driver
 * writes an index and then reads the device's suppression state
 * (avail->idx then avail_event or used->flags; used_event then used->idx):
 * those places use mfence.
 */
#include "internal.h"
#include "virtio.h"

/* virtio_pci_cap (4.1.4) field offsets within the capability. */
#define CAP_CFG_TYPE 3
#define CAP_BAR 4
#define CAP_OFFSET 8
#define CAP_LENGTH 12
#define CAP_NOTIFY_MULT 16
#define CAP_MIN_LEN 16
#define CAP_NOTIFY_MIN_LEN 20

#define CFG_COMMON 1
#define CFG_NOTIFY 2
#define CFG_ISR 3
#define CFG_DEVICE 4

/* virtio_pci_common_cfg (4.1.4.3). */
#define COMMON_DFSELECT 0x00
#define COMMON_DF 0x04
#define COMMON_GFSELECT 0x08
#define COMMON_GF 0x0c
#define COMMON_MSIX 0x10
#define COMMON_NUMQ 0x12
#define COMMON_STATUS 0x14
#define COMMON_CFGGEN 0x15
#define COMMON_Q_SELECT 0x16
#define COMMON_Q_SIZE 0x18
#define COMMON_Q_MSIX 0x1a
#define COMMON_Q_ENABLE 0x1c
#define COMMON_Q_NOFF 0x1e
#define COMMON_Q_DESCLO 0x20
#define COMMON_Q_DESCHI 0x24
#define COMMON_Q_AVAILLO 0x28
#define COMMON_Q_AVAILHI 0x2c
#define COMMON_Q_USEDLO 0x30
#define COMMON_Q_USEDHI 0x34
#define COMMON_MIN_LEN 0x38

#define ISR_QUEUE 1
#define ISR_CONFIG 2

#define DEFAULT_TIMEOUT_US 5000000ULL
/* How often a wait looks at the device status (an exit each time). */
#define STATUS_CHECK_US 10000
/* How long after a completion its interrupt may take. */
#define IRQ_GRACE_US 1000000
#define DEFAULT_QUEUE_SIZE 256
#define CONFIG_READ_TRIES 16
/* Where irq_arm puts used_event to mean "not for a long while". */
#define USED_EVENT_FAR 0x7fff

static void mfence(void)
{
	__asm__ volatile("mfence" ::: "memory");
}

static void barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

/* Region accessors; callers keep offsets inside the checked length. */
static uint8_t rd8(const struct virtio_region *r, uint32_t off)
{
	return r->io ? inb((uint16_t)(r->addr + off)) :
		       mmio_read8(r->addr + off);
}

static uint16_t rd16(const struct virtio_region *r, uint32_t off)
{
	return r->io ? inw((uint16_t)(r->addr + off)) :
		       mmio_read16(r->addr + off);
}

static uint32_t rd32(const struct virtio_region *r, uint32_t off)
{
	return r->io ? inl((uint16_t)(r->addr + off)) :
		       mmio_read32(r->addr + off);
}

static void wr8(const struct virtio_region *r, uint32_t off, uint8_t v)
{
	if (r->io)
		outb((uint16_t)(r->addr + off), v);
	else
		mmio_write8(r->addr + off, v);
}

static void wr16(const struct virtio_region *r, uint32_t off, uint16_t v)
{
	if (r->io)
		outw((uint16_t)(r->addr + off), v);
	else
		mmio_write16(r->addr + off, v);
}

static void wr32(const struct virtio_region *r, uint32_t off, uint32_t v)
{
	if (r->io)
		outl((uint16_t)(r->addr + off), v);
	else
		mmio_write32(r->addr + off, v);
}

/* 64-bit fields as two 32-bit writes, low half first (4.1.3.1). */
static void wr64(const struct virtio_region *r, uint32_t off, uint64_t v)
{
	wr32(r, off, (uint32_t)v);
	wr32(r, off + 4, (uint32_t)(v >> 32));
}

void virtio_opts_from_cmdline(struct virtio_opts *o, enum virtio_irq_mode def)
{
	char irq[8];

	memset(o, 0, sizeof(*o));
	o->irq = def;
	if (cmdline_get_str("irq", irq, sizeof(irq)) > 0) {
		if (!strcmp(irq, "poll"))
			o->irq = VIRTIO_IRQ_POLL;
		else if (!strcmp(irq, "msix"))
			o->irq = VIRTIO_IRQ_MSIX;
		else if (!strcmp(irq, "intx"))
			o->irq = VIRTIO_IRQ_INTX;
		else
			printf("virtio: irq=%s unknown (poll, msix, intx)\n",
			       irq);
	}
	if (cmdline_get_uint("event_idx", 1))
		o->want |= VIRTIO_BIT(VIRTIO_F_EVENT_IDX);
	if (cmdline_get_uint("indirect", 1)) {
		o->want |= VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC);
		o->indirect = true;
	}
	o->queue_size = (uint16_t)cmdline_get_uint("qsize", 0);
	o->timeout_us = cmdline_get_uint("timeout_ms", 0) * 1000;
}

/* Reads one virtio_pci_cap and turns it into a region inside its BAR. */
static int cap_region(struct virtio_dev *vd, uint8_t cap,
		      struct virtio_region *out)
{
	struct pci_dev *d = vd->pci;
	uint8_t bar = pci_read8(d, cap + CAP_BAR);
	uint32_t off = pci_read32(d, cap + CAP_OFFSET);
	uint32_t len = pci_read32(d, cap + CAP_LENGTH);
	const struct pci_bar *b;

	if (bar >= PCI_NR_BARS)
		return -EIO;
	b = &d->bars[bar];
	if (b->type == PCI_BAR_NONE || !b->addr || off > b->size ||
	    len > b->size - off)
		return -EIO;
	if (b->type != PCI_BAR_IO && b->addr + b->size > (1ULL << 32))
		return -EIO;
	out->addr = b->addr + off;
	out->len = len;
	out->io = b->type == PCI_BAR_IO;
	return 0;
}

static int find_caps(struct virtio_dev *vd)
{
	struct pci_dev *d = vd->pci;
	bool have[5] = { false };
	uint8_t cap = 0;

	while ((cap = pci_find_cap(d, PCI_CAP_VENDOR, cap)) != 0) {
		uint8_t type = pci_read8(d, cap + CAP_CFG_TYPE);
		uint8_t cap_len = pci_read8(d, cap + 2);
		struct virtio_region r;

		/* The first usable capability of each type wins (4.1.4). */
		if (type < CFG_COMMON || type > CFG_DEVICE || have[type])
			continue;
		if (cap_len < CAP_MIN_LEN ||
		    (type == CFG_NOTIFY && cap_len < CAP_NOTIFY_MIN_LEN))
			continue;
		if (cap_region(vd, cap, &r)) {
			printf("%s: virtio capability type %u at %#x points "
			       "outside its BAR\n",
			       vd->name, type, cap);
			continue;
		}
		switch (type) {
		case CFG_COMMON:
			if (r.len < COMMON_MIN_LEN)
				continue;
			vd->common = r;
			break;
		case CFG_NOTIFY:
			if (r.len < 2)
				continue;
			vd->notify = r;
			vd->notify_mult = pci_read32(d, cap + CAP_NOTIFY_MULT);
			break;
		case CFG_ISR:
			if (r.len < 1)
				continue;
			vd->isr = r;
			break;
		default:
			vd->device = r;
			break;
		}
		have[type] = true;
	}
	if (!have[CFG_COMMON] || !have[CFG_NOTIFY] || !have[CFG_ISR])
		return -EIO;
	return 0;
}

struct pci_dev *virtio_find(unsigned int type, uint16_t legacy_id,
			    unsigned int nth)
{
	if (pci_scan() < 0)
		return NULL;
	for (unsigned int i = 0; i < pci_count(); i++) {
		struct pci_dev *d = pci_get(i);

		if (d->vendor != VIRTIO_PCI_VENDOR)
			continue;
		if (d->device != VIRTIO_PCI_MODERN_BASE + type &&
		    !(legacy_id && d->device == legacy_id &&
		      d->subsys_id == type))
			continue;
		if (nth-- == 0)
			return d;
	}
	return NULL;
}

int virtio_probe(struct virtio_dev *vd, struct pci_dev *pci)
{
	static const char *const names[] = { "0", "net", "blk", "console",
					     "rng" };
	uint16_t id;
	int r;

	if (pci->vendor != VIRTIO_PCI_VENDOR)
		return -ENODEV;
	if (pci->device >= VIRTIO_PCI_MODERN_BASE && pci->device <= 0x107f)
		id = pci->device - VIRTIO_PCI_MODERN_BASE;
	else if (pci->device >= 0x1000 && pci->device <= 0x103f)
		id = pci->subsys_id; /* transitional: id in the subsystem */
	else
		return -ENODEV;
	memset(vd, 0, sizeof(*vd));
	vd->pci = pci;
	vd->device_id = id;
	vd->config_vector = -1;
	snprintf(vd->name, sizeof(vd->name), "virtio-%s %02x:%02x.%x",
		 id < 5 ? names[id] : "dev", pci->bus, pci->dev, pci->fn);
	r = pci_enable(pci);
	if (r) {
		printf("%s: cannot enable the PCI function (%d)\n", vd->name,
		       r);
		return r;
	}
	r = find_caps(vd);
	if (r) {
		printf("%s: no usable common/notify/ISR capabilities\n",
		       vd->name);
		return r;
	}
	return 0;
}

uint8_t virtio_status(const struct virtio_dev *vd)
{
	return rd8(&vd->common, COMMON_STATUS);
}

bool virtio_needs_reset(const struct virtio_dev *vd)
{
	return virtio_status(vd) & VIRTIO_STATUS_NEEDS_RESET;
}

bool virtio_has(const struct virtio_dev *vd, unsigned int bit)
{
	return bit < 64 && (vd->features & VIRTIO_BIT(bit));
}

static void set_status(struct virtio_dev *vd, uint8_t bits)
{
	wr8(&vd->common, COMMON_STATUS, virtio_status(vd) | bits);
}

static uint64_t timeout_us(const struct virtio_dev *vd)
{
	return vd->opts.timeout_us ? vd->opts.timeout_us : DEFAULT_TIMEOUT_US;
}

int virtio_reset(struct virtio_dev *vd)
{
	uint64_t deadline = tsc_deadline_us(timeout_us(vd));

	wr8(&vd->common, COMMON_STATUS, 0);
	/* The device may finish the reset asynchronously (4.1.4.3.2). */
	while (virtio_status(vd) != 0) {
		if (rdtsc() > deadline) {
			printf("%s: reset did not complete (status %#x)\n",
			       vd->name, virtio_status(vd));
			return -ETIMEDOUT;
		}
		cpu_pause();
	}
	for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vd->vq[i].size = 0;
	return 0;
}

static void config_irq(struct trap_frame *f, void *arg)
{
	struct virtio_dev *vd = arg;

	(void)f;
	vd->config_irqs++;
}

static void queue_irq(struct trap_frame *f, void *arg)
{
	struct virtq *q = arg;

	(void)f;
	q->irqs++;
}

/* INTx is level-triggered: reading the ISR lowers the line before EOI. */
static void intx_irq(struct trap_frame *f, void *arg)
{
	struct virtio_dev *vd = arg;
	uint8_t isr = rd8(&vd->isr, 0);

	(void)f;
	vd->intx_irqs++;
	if (isr & ISR_QUEUE) {
		for (unsigned int i = 0; i < VIRTIO_MAX_QUEUES; i++)
			vd->vq[i].irqs++;
	}
	if (isr & ISR_CONFIG)
		vd->config_irqs++;
}

/*
 * Interrupt routes are made once per device and survive resets; the
 * config vector (MSI-X table entry 0) is rewritten into the common config
 * on every start because a reset clears it.
 */
static int irq_setup(struct virtio_dev *vd)
{
	struct pci_dev *d = vd->pci;
	uint16_t vec = VIRTIO_NO_VECTOR;
	int r;

	if (vd->opts.irq == VIRTIO_IRQ_INTX) {
		if (vd->msix_on) {
			pci_msix_disable(d);
			vd->msix_on = false;
		}
		if (!vd->intx_routed) {
			r = pci_intx_route(d, intx_irq, vd);
			if (r < 0) {
				printf("%s: no INTx route (%d)\n", vd->name, r);
				return r;
			}
			vd->intx_routed = true;
		}
		return 0;
	}
	if (vd->intx_routed) {
		pci_intx_unroute(d);
		vd->intx_routed = false;
	}
	/* Polling still turns MSI-X on, with no vector anywhere: the device
	 * then raises nothing at all instead of holding INTx up. */
	if (!d->msix_cap) {
		if (vd->opts.irq == VIRTIO_IRQ_MSIX)
			return -ENODEV;
		return 0;
	}
	if (!vd->msix_on) {
		r = pci_msix_enable(d);
		if (r)
			return r;
		vd->msix_on = true;
	}
	if (vd->opts.irq == VIRTIO_IRQ_MSIX) {
		if (vd->config_vector < 0) {
			r = irq_register_any(config_irq, vd);
			if (r < 0)
				return r;
			vd->config_vector = r;
		}
		r = pci_msix_set(d, 0, (uint8_t)vd->config_vector, 0);
		if (r)
			return r;
		vec = 0;
	}
	wr16(&vd->common, COMMON_MSIX, vec);
	if (rd16(&vd->common, COMMON_MSIX) != vec) {
		printf("%s: device refused config MSI-X vector %u\n", vd->name,
		       vec);
		return -EIO;
	}
	return 0;
}

int virtio_start(struct virtio_dev *vd, const struct virtio_opts *o)
{
	uint64_t accept;
	int r;

	vd->opts = *o;
	r = virtio_reset(vd);
	if (r)
		return r;
	set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE);
	set_status(vd, VIRTIO_STATUS_DRIVER);
	wr32(&vd->common, COMMON_DFSELECT, 0);
	vd->device_features = rd32(&vd->common, COMMON_DF);
	wr32(&vd->common, COMMON_DFSELECT, 1);
	vd->device_features |= (uint64_t)rd32(&vd->common, COMMON_DF) << 32;
	/* ACCESS_PLATFORM is harmless to accept: guest addresses are
	 * physical addresses here, with or without an IOMMU in between. */
	accept = o->want | o->need | VIRTIO_BIT(VIRTIO_F_VERSION_1) |
		 VIRTIO_BIT(VIRTIO_F_ACCESS_PLATFORM);
	accept &= ~VIRTIO_BIT(VIRTIO_F_RING_PACKED);
	vd->features = vd->device_features & accept;
	if (!virtio_has(vd, VIRTIO_F_VERSION_1) ||
	    (vd->features & o->need) != o->need) {
		printf("%s: device features %#lx lack VERSION_1 or needed "
		       "%#lx\n",
		       vd->name, (unsigned long)vd->device_features,
		       (unsigned long)o->need);
		set_status(vd, VIRTIO_STATUS_FAILED);
		return -EOPNOTSUPP;
	}
	wr32(&vd->common, COMMON_GFSELECT, 0);
	wr32(&vd->common, COMMON_GF, (uint32_t)vd->features);
	wr32(&vd->common, COMMON_GFSELECT, 1);
	wr32(&vd->common, COMMON_GF, (uint32_t)(vd->features >> 32));
	set_status(vd, VIRTIO_STATUS_FEATURES_OK);
	if (!(virtio_status(vd) & VIRTIO_STATUS_FEATURES_OK)) {
		printf("%s: device refused features %#lx\n", vd->name,
		       (unsigned long)vd->features);
		set_status(vd, VIRTIO_STATUS_FAILED);
		return -EIO;
	}
	vd->num_queues = rd16(&vd->common, COMMON_NUMQ);
	r = irq_setup(vd);
	if (r) {
		set_status(vd, VIRTIO_STATUS_FAILED);
		return r;
	}
	return 0;
}

int virtio_driver_ok(struct virtio_dev *vd)
{
	uint8_t s;

	set_status(vd, VIRTIO_STATUS_DRIVER_OK);
	s = virtio_status(vd);
	if (s & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED) ||
	    !(s & VIRTIO_STATUS_DRIVER_OK)) {
		printf("%s: status %#x after DRIVER_OK\n", vd->name, s);
		return -EIO;
	}
	return 0;
}

/* Rounds down to a power of two. */
static uint16_t pow2_floor(uint16_t v)
{
	uint16_t p = 1;

	while (p <= v / 2)
		p *= 2;
	return p;
}

/* Ring memory, kept across resets when the size still fits. */
static int queue_alloc(struct virtq *q, uint16_t size, bool indirect)
{
	if (q->alloc_size >= size && (!indirect || q->indirect))
		return 0;
	q->desc = dma_alloc(16ULL * size, 4096);
	q->avail = dma_alloc(6 + 2ULL * size, 4096);
	q->used = dma_alloc(6 + 8ULL * size, 4096);
	q->cookie = dma_alloc(sizeof(void *) * size, 8);
	q->ndescs = dma_alloc(2ULL * size, 8);
	q->indirect = indirect ? dma_alloc(sizeof(struct virtq_desc) *
						   VIRTQ_INDIRECT_MAX * size,
					   16) :
				 NULL;
	if (!q->desc || !q->avail || !q->used || !q->cookie || !q->ndescs ||
	    (indirect && !q->indirect))
		return -ENOMEM;
	q->alloc_size = size;
	return 0;
}

static void queue_reset_state(struct virtq *q, uint16_t size)
{
	memset((void *)q->desc, 0, 16ULL * size);
	memset((void *)q->avail, 0, 6 + 2ULL * size);
	memset((void *)q->used, 0, 6 + 8ULL * size);
	memset(q->cookie, 0, sizeof(void *) * size);
	for (uint16_t i = 0; i < size; i++)
		q->desc[i].next = (uint16_t)(i + 1 < size ? i + 1 : 0);
	q->size = size;
	q->free_head = 0;
	q->num_free = size;
	q->avail_idx = q->kicked_idx = q->last_used = 0;
	q->used_event = &q->avail->ring[size];
	q->avail_event = (volatile uint16_t *)&q->used->ring[size];
}

static int queue_vector(struct virtio_dev *vd, struct virtq *q)
{
	uint16_t entry = VIRTIO_NO_VECTOR;
	int r;

	if (vd->opts.irq == VIRTIO_IRQ_MSIX) {
		/* Entry 0 is the config vector's; queue i takes entry 1 + i. */
		entry = (uint16_t)(1 + q->index);
		if (entry >= vd->pci->msix_size) {
			printf("%s: MSI-X table has %u entries, queue %u needs "
			       "entry %u\n",
			       vd->name, vd->pci->msix_size, q->index, entry);
			return -ENODEV;
		}
		if (q->vector <= 0) {
			r = irq_register_any(queue_irq, q);
			if (r < 0)
				return r;
			q->vector = r;
		}
		r = pci_msix_set(vd->pci, entry, (uint8_t)q->vector, 0);
		if (r)
			return r;
	}
	q->msix_entry = entry;
	if (!vd->msix_on)
		return 0;
	wr16(&vd->common, COMMON_Q_MSIX, entry);
	if (rd16(&vd->common, COMMON_Q_MSIX) != entry) {
		printf("%s: device refused MSI-X entry %u for queue %u\n",
		       vd->name, entry, q->index);
		return -EIO;
	}
	return 0;
}

int virtio_queue_setup(struct virtio_dev *vd, unsigned int index)
{
	struct virtq *q;
	uint16_t max, size, noff;
	uint64_t off;
	int r;

	if (index >= VIRTIO_MAX_QUEUES || index >= vd->num_queues)
		return -EINVAL;
	q = &vd->vq[index];
	q->dev = vd;
	q->index = (uint16_t)index;
	wr16(&vd->common, COMMON_Q_SELECT, (uint16_t)index);
	max = rd16(&vd->common, COMMON_Q_SIZE);
	if (!max)
		return -ENODEV;
	size = vd->opts.queue_size ? vd->opts.queue_size : DEFAULT_QUEUE_SIZE;
	if (size > max)
		size = max;
	if (size > VIRTQ_MAX_SIZE)
		size = VIRTQ_MAX_SIZE;
	size = pow2_floor(size);
	q->use_indirect = vd->opts.indirect &&
			  virtio_has(vd, VIRTIO_F_INDIRECT_DESC);
	r = queue_alloc(q, size, q->use_indirect);
	if (r)
		return r;
	queue_reset_state(q, size);
	q->irq_wanted = vd->opts.irq != VIRTIO_IRQ_POLL;
	virtq_irq_arm(q, q->irq_wanted);
	wr16(&vd->common, COMMON_Q_SIZE, size);
	wr64(&vd->common, COMMON_Q_DESCLO, (uint64_t)(uintptr_t)q->desc);
	wr64(&vd->common, COMMON_Q_AVAILLO, (uint64_t)(uintptr_t)q->avail);
	wr64(&vd->common, COMMON_Q_USEDLO, (uint64_t)(uintptr_t)q->used);
	r = queue_vector(vd, q);
	if (r)
		return r;
	noff = rd16(&vd->common, COMMON_Q_NOFF);
	off = (uint64_t)noff * vd->notify_mult;
	if (off + 2 > vd->notify.len) {
		printf("%s: queue %u notify offset %#lx outside the notify "
		       "region (%#x bytes)\n",
		       vd->name, index, (unsigned long)off, vd->notify.len);
		return -EIO;
	}
	q->notify = vd->notify.addr + off;
	q->notify_io = vd->notify.io;
	wr16(&vd->common, COMMON_Q_ENABLE, 1);
	return 0;
}

int virtio_config_read(struct virtio_dev *vd, uint32_t off, void *buf,
		       uint32_t len)
{
	uint8_t *p = buf;

	if (off > vd->device.len || len > vd->device.len - off)
		return -EINVAL;
	for (unsigned int t = 0; t < CONFIG_READ_TRIES; t++) {
		uint8_t gen = rd8(&vd->common, COMMON_CFGGEN);
		uint32_t i = 0;

		/* Natural widths: the spec asks for them (4.1.3.1). */
		while (i < len) {
			uint32_t left = len - i, a = off + i;

			if (left >= 4 && !(a & 3)) {
				uint32_t v = rd32(&vd->device, a);

				memcpy(p + i, &v, 4);
				i += 4;
			} else if (left >= 2 && !(a & 1)) {
				uint16_t v = rd16(&vd->device, a);

				memcpy(p + i, &v, 2);
				i += 2;
			} else {
				p[i] = rd8(&vd->device, a);
				i++;
			}
		}
		if (rd8(&vd->common, COMMON_CFGGEN) == gen)
			return 0;
	}
	return -EAGAIN;
}

int virtio_config_write(struct virtio_dev *vd, uint32_t off, const void *buf,
			uint32_t len)
{
	const uint8_t *p = buf;

	if (off > vd->device.len || len > vd->device.len - off)
		return -EINVAL;
	for (uint32_t i = 0; i < len; i++)
		wr8(&vd->device, off + i, p[i]);
	return 0;
}

int virtq_add(struct virtq *q, const struct virtq_seg *segs, unsigned int n,
	      void *cookie)
{
	bool indirect = q->use_indirect && n > 1 && n <= VIRTQ_INDIRECT_MAX;
	unsigned int need = indirect ? 1 : n;
	uint16_t head = q->free_head, idx = head;

	if (!q->size || !cookie || n == 0 || n > q->size)
		return -EINVAL;
	if (q->num_free < need)
		return -ENOSPC;
	/* The order of readable and writable segments is not checked:
	 * hostile tests break it on purpose. */
	if (indirect) {
		struct virtq_desc *t = &q->indirect[head * VIRTQ_INDIRECT_MAX];

		for (unsigned int i = 0; i < n; i++) {
			t[i].addr = segs[i].addr;
			t[i].len = segs[i].len;
			t[i].flags =
				(uint16_t)((segs[i].write ? VIRTQ_DESC_F_WRITE :
							    0) |
					   (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
			t[i].next = (uint16_t)(i + 1 < n ? i + 1 : 0);
		}
		q->desc[head].addr = (uint64_t)(uintptr_t)t;
		q->desc[head].len = n * sizeof(*t);
		q->desc[head].flags = VIRTQ_DESC_F_INDIRECT;
		q->free_head = q->desc[head].next;
	} else {
		/* Chains follow the free list's own next links. */
		for (unsigned int i = 0; i < n; i++) {
			volatile struct virtq_desc *d = &q->desc[idx];

			d->addr = segs[i].addr;
			d->len = segs[i].len;
			d->flags =
				(uint16_t)((segs[i].write ? VIRTQ_DESC_F_WRITE :
							    0) |
					   (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
			idx = d->next;
		}
		q->free_head = idx;
	}
	q->num_free = (uint16_t)(q->num_free - need);
	q->ndescs[head] = (uint16_t)need;
	q->cookie[head] = cookie;
	q->avail->ring[q->avail_idx & (q->size - 1)] = head;
	q->avail_idx++;
	return 0;
}

void virtq_notify(struct virtq *q)
{
	if (q->notify_io)
		outw((uint16_t)q->notify, q->index);
	else
		mmio_write16(q->notify, q->index);
	q->notifies++;
}

bool virtq_kick(struct virtq *q)
{
	uint16_t old = q->kicked_idx, new = q->avail_idx;
	bool need;

	if (!q->size)
		return false;
	barrier();
	q->avail->idx = new;
	q->kicked_idx = new;
	mfence();
	if (old == new)
		return false;
	if (virtio_has(q->dev, VIRTIO_F_EVENT_IDX))
		need = (uint16_t)(new - *q->avail_event - 1) <
		       (uint16_t)(new - old);
	else
		need = !(q->used->flags & VIRTQ_USED_F_NO_NOTIFY);
	if (!need) {
		q->notifies_skipped++;
		return false;
	}
	virtq_notify(q);
	return true;
}

bool virtq_has_used(const struct virtq *q)
{
	return q->size && q->used->idx != q->last_used;
}

unsigned int virtq_inflight(const struct virtq *q)
{
	unsigned int n = 0;

	for (uint16_t i = 0; i < q->size; i++)
		n += q->cookie[i] != NULL;
	return n;
}

/*
 * Takes the interrupt snapshot after the suppression state is written:
 * the count first, then the used index, so an entry whose interrupt
 * lands between the two reads is either counted as present or covered
 * by the count.
 */
static void arm_snapshot(struct virtq *q)
{
	mfence();
	q->irqs_at_arm = q->irqs;
	barrier();
	q->used_at_arm = q->used->idx;
}

void virtq_irq_arm(struct virtq *q, bool want)
{
	q->irq_wanted = want;
	if (!q->size)
		return;
	if (virtio_has(q->dev, VIRTIO_F_EVENT_IDX)) {
		*q->used_event =
			want ? q->last_used :
			       (uint16_t)(q->last_used + USED_EVENT_FAR);
		q->avail->flags = 0;
	} else {
		q->avail->flags = want ? 0 : VIRTQ_AVAIL_F_NO_INTERRUPT;
	}
	if (want)
		arm_snapshot(q);
}

/* Puts a finished chain back on the free list. */
static void chain_free(struct virtq *q, uint16_t head)
{
	uint16_t last = head, n = q->ndescs[head];

	for (uint16_t i = 1; i < n; i++)
		last = q->desc[last].next & (q->size - 1);
	q->desc[last].next = q->free_head;
	q->free_head = head;
	q->num_free = (uint16_t)(q->num_free + n);
	q->cookie[head] = NULL;
}

void *virtq_get(struct virtq *q, uint32_t *len)
{
	while (virtq_has_used(q)) {
		volatile struct virtq_used_elem *e;
		uint32_t id;
		void *c;

		barrier();
		e = &q->used->ring[q->last_used & (q->size - 1)];
		id = e->id;
		if (len)
			*len = e->len;
		q->last_used++;
		/* Keep used_event just ahead (interrupt on the next one) or
		 * far away (polling). */
		if (virtio_has(q->dev, VIRTIO_F_EVENT_IDX))
			*q->used_event = q->irq_wanted ?
						 q->last_used :
						 (uint16_t)(q->last_used +
							    USED_EVENT_FAR);
		if (q->irq_wanted)
			arm_snapshot(q);
		if (id >= q->size || !q->cookie[id]) {
			printf("%s: queue %u: used id %u is not in flight\n",
			       q->dev->name, q->index, id);
			continue;
		}
		c = q->cookie[id];
		chain_free(q, (uint16_t)id);
		return c;
	}
	return NULL;
}

uint64_t virtio_deadline(const struct virtio_dev *vd)
{
	return tsc_deadline_us(timeout_us(vd));
}

/* Bounded spin until fn(q) holds; checks the device every 10 ms. */
static int spin(struct virtq *q, bool (*fn)(const struct virtq *q),
		uint64_t deadline)
{
	uint64_t step = tsc_deadline_us(STATUS_CHECK_US) - rdtsc();
	uint64_t next = rdtsc() + step;

	while (!fn(q)) {
		uint64_t now = rdtsc();

		if (now > next) {
			if (virtio_needs_reset(q->dev))
				return -EIO;
			if (now > deadline)
				return -ETIMEDOUT;
			next = now + step;
		}
		cpu_pause();
	}
	return 0;
}

static bool irq_since_arm(const struct virtq *q)
{
	return q->irqs != q->irqs_at_arm;
}

int virtq_wait_used(struct virtq *q, uint64_t deadline)
{
	int r;

	if (!q->size)
		return -EINVAL;
	r = spin(q, virtq_has_used, deadline);
	if (r || !q->irq_wanted)
		return r;
	/* Present when we armed: the device owed us no interrupt. */
	if ((int16_t)(q->used_at_arm - q->last_used) > 0)
		return 0;
	r = spin(q, irq_since_arm, tsc_deadline_us(IRQ_GRACE_US));
	if (r == -ETIMEDOUT) {
		if (!q->irq_misses++)
			printf("%s: queue %u: a completion came without its "
			       "interrupt\n",
			       q->dev->name, q->index);
		return 0;
	}
	return r;
}
