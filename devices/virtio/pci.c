// SPDX-License-Identifier: Apache-2.0
/*
 * The modern virtio PCI transport (virtio 1.2, 4.1), non-transitional: no
 * legacy I/O BAR, VIRTIO_F_VERSION_1 is required.
 *
 * Layout. BAR 0 is a 64-bit prefetchable memory BAR of 16 KiB, one page per
 * structure so each can be mapped and reasoned about on its own:
 *   0x0000 common configuration   (struct virtio_pci_common_cfg)
 *   0x1000 ISR status             (one byte, read-to-clear)
 *   0x2000 device configuration   (ops->config_size bytes)
 *   0x3000 notifications          (queue n at 0x3000 + 4n)
 * BAR 2 is a 32-bit non-prefetchable memory BAR holding the MSI-X table
 * (offset 0) and PBA (offset 0x800): the PCI specification wants MSI-X
 * structures where reads have no side effects and writes are not merged,
 * so they get a BAR of their own rather than sharing the prefetchable one.
 *
 * Trust: every register write comes from the guest. Values are checked
 * before they are stored (MSI-X vectors, feature bits at FEATURES_OK,
 * queue layouts at queue_enable), queue registers are frozen while the
 * queue is enabled, and device status only moves forward until a reset.
 *
 * Locking is described next to struct rv_virtio_dev in raevm/virtio.h.
 */
#include "raevm/virtio.h"

#include "raevm/irq.h"
#include "raevm/kvm.h"
#include "raevm/le.h"
#include "raevm/log.h"
#include "raevm/vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define VIRTIO_BAR 0
#define VIRTIO_BAR_SIZE 0x4000u
#define MSIX_BAR 2
#define MSIX_BAR_SIZE 0x1000u
#define MSIX_TABLE_OFF 0x000u
#define MSIX_PBA_OFF 0x800u

#define COMMON_OFF 0x0000u
#define COMMON_LEN 0x38u /* up to and including queue_device */
#define ISR_OFF 0x1000u
#define ISR_LEN 1u
#define DEVCFG_OFF 0x2000u
#define NOTIFY_OFF 0x3000u
#define NOTIFY_MULT 4u
#define REGION_SIZE 0x1000u

/* Vendor-specific capability types (4.1.4). */
#define PCI_CAP_ID_VNDR 0x09
#define CAP_COMMON_CFG 1
#define CAP_NOTIFY_CFG 2
#define CAP_ISR_CFG 3
#define CAP_DEVICE_CFG 4
#define CAP_PCI_CFG 5

/* struct virtio_pci_cap, minus the 2-byte id/next header rv_pci_add_cap adds. */
#define CAP_BODY_LEN 14u
#define CAPB_LEN 0 /* cap_len */
#define CAPB_TYPE 1
#define CAPB_BAR 2
#define CAPB_ID 3
#define CAPB_OFFSET 6
#define CAPB_LENGTH 10
#define CAPB_EXTRA 14 /* notify_off_multiplier or pci_cfg_data */
/* The same fields as offsets from the capability's start in config space. */
#define CAP_BAR (CAPB_BAR + 2)
#define CAP_OFFSET (CAPB_OFFSET + 2)
#define CAP_LENGTH (CAPB_LENGTH + 2)
#define CAP_DATA (CAPB_EXTRA + 2)

/* struct virtio_pci_common_cfg offsets. */
enum {
	CC_DFSELECT = 0x00,
	CC_DF = 0x04,
	CC_GFSELECT = 0x08,
	CC_GF = 0x0c,
	CC_MSIX = 0x10,
	CC_NUMQ = 0x12,
	CC_STATUS = 0x14,
	CC_CFGGEN = 0x15,
	CC_Q_SELECT = 0x16,
	CC_Q_SIZE = 0x18,
	CC_Q_MSIX = 0x1a,
	CC_Q_ENABLE = 0x1c,
	CC_Q_NOFF = 0x1e,
	CC_Q_DESC = 0x20,
	CC_Q_AVAIL = 0x28,
	CC_Q_USED = 0x30,
	CC_IMAGE = 0x40, /* bytes in our image of the structure */
};

/* How long repeated NEEDS_RESET lines from one device are held back. */
#define RESET_LOG_INTERVAL_NS (5ULL * 1000000000ULL)

static const uint8_t status_driver_bits =
	RV_VIRTIO_STATUS_ACKNOWLEDGE | RV_VIRTIO_STATUS_DRIVER |
	RV_VIRTIO_STATUS_FEATURES_OK | RV_VIRTIO_STATUS_DRIVER_OK |
	RV_VIRTIO_STATUS_FAILED;

/* Fixed-width little-endian fields, at any alignment. */
#define put16(p, v) rv_le_put(p, v, 2)
#define put32(p, v) rv_le_put(p, v, 4)
#define put64(p, v) rv_le_put(p, v, 8)
#define get16(p) ((uint16_t)rv_le_get(p, 2))
#define get32(p) ((uint32_t)rv_le_get(p, 4))
#define get64(p) rv_le_get(p, 8)

static uint8_t load_status(struct rv_virtio_dev *dev)
{
	return __atomic_load_n(&dev->status, __ATOMIC_ACQUIRE);
}

bool rv_virtio_needs_reset(struct rv_virtio_dev *dev)
{
	return load_status(dev) & RV_VIRTIO_STATUS_NEEDS_RESET;
}

bool rv_virtio_driver_ok(struct rv_virtio_dev *dev)
{
	uint8_t s = load_status(dev);

	return (s & RV_VIRTIO_STATUS_DRIVER_OK) &&
	       !(s & RV_VIRTIO_STATUS_NEEDS_RESET);
}

/* ------------------------------------------------------------------------
 * Interrupts.
 */

/* INTx: sets ISR bits and raises the line if it is not up already. */
static int raise_intx(struct rv_virtio_dev *dev, uint8_t bits)
{
	int rc = 0;

	pthread_mutex_lock(&dev->irq_lock);
	dev->isr |= bits;
	if (!dev->intx_level) {
		rc = rv_pci_intx(&dev->pci, 1);
		if (rc == 0)
			dev->intx_level = true;
	}
	pthread_mutex_unlock(&dev->irq_lock);
	return rc;
}

/* Reading ISR returns it, clears it and lowers INTx (4.1.4.5). */
static uint8_t read_isr(struct rv_virtio_dev *dev)
{
	uint8_t v;

	pthread_mutex_lock(&dev->irq_lock);
	v = dev->isr;
	dev->isr = 0;
	if (dev->intx_level) {
		rv_pci_intx(&dev->pci, 0);
		dev->intx_level = false;
	}
	pthread_mutex_unlock(&dev->irq_lock);
	return v;
}

int rv_virtio_notify_queue(struct rv_virtio_dev *dev, unsigned int q)
{
	uint16_t vector;

	if (q >= dev->ops->nr_queues)
		return -EINVAL;
	if (rv_msix_enabled(&dev->pci)) {
		/* With MSI-X on, NO_VECTOR means the driver wants none. */
		vector = __atomic_load_n(&dev->queues[q].msix_vector,
					 __ATOMIC_RELAXED);
		if (vector == RV_VIRTIO_MSI_NO_VECTOR)
			return 0;
		return rv_msix_notify(&dev->pci, vector);
	}
	return raise_intx(dev, RV_VIRTIO_ISR_QUEUE);
}

int rv_virtio_notify_config(struct rv_virtio_dev *dev)
{
	uint16_t vector;

	if (rv_msix_enabled(&dev->pci)) {
		/* The ISR config bit is set before any config interrupt. */
		pthread_mutex_lock(&dev->irq_lock);
		dev->isr |= RV_VIRTIO_ISR_CONFIG;
		pthread_mutex_unlock(&dev->irq_lock);
		vector = __atomic_load_n(&dev->config_msix_vector,
					 __ATOMIC_RELAXED);
		if (vector == RV_VIRTIO_MSI_NO_VECTOR)
			return 0;
		return rv_msix_notify(&dev->pci, vector);
	}
	return raise_intx(dev, RV_VIRTIO_ISR_CONFIG);
}

void rv_virtio_config_changed(struct rv_virtio_dev *dev)
{
	/*
	 * One generation step per change the driver has not read yet
	 * (4.1.4.3.1's note): counting every change could wrap the 8-bit
	 * counter back to the value the driver saw.
	 */
	if (!__atomic_exchange_n(&dev->config_dirty, true, __ATOMIC_ACQ_REL))
		__atomic_add_fetch(&dev->config_generation, 1,
				   __ATOMIC_RELEASE);
	rv_virtio_notify_config(dev);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void rv_virtio_set_needs_reset(struct rv_virtio_dev *dev, const char *why)
{
	unsigned int suppressed = 0;
	bool log = false;
	uint8_t old;
	uint64_t now;

	old = __atomic_fetch_or(&dev->status, RV_VIRTIO_STATUS_NEEDS_RESET,
				__ATOMIC_ACQ_REL);
	if (old & RV_VIRTIO_STATUS_NEEDS_RESET)
		return;
	/*
	 * A guest can break the device, reset it and break it again in a
	 * loop: one line per device per interval, then a count.
	 */
	now = now_ns();
	pthread_mutex_lock(&dev->irq_lock);
	if (dev->reset_log_ns == 0 ||
	    now - dev->reset_log_ns >= RESET_LOG_INTERVAL_NS) {
		log = true;
		suppressed = dev->reset_log_suppressed;
		dev->reset_log_suppressed = 0;
		dev->reset_log_ns = now ? now : 1;
	} else {
		dev->reset_log_suppressed++;
	}
	pthread_mutex_unlock(&dev->irq_lock);
	if (log && suppressed)
		rv_warn("%s: %s; device needs reset (%u similar messages "
			"suppressed)",
			dev->name, why, suppressed);
	else if (log)
		rv_warn("%s: %s; device needs reset", dev->name, why);
	rv_virtio_notify_config(dev);
}

void rv_virtio_queue_error(struct rv_virtio_dev *dev, unsigned int q, int err)
{
	char why[160];

	snprintf(why, sizeof(why), "queue %u: %s", q, rv_virtq_strerror(err));
	rv_virtio_set_needs_reset(dev, why);
}

/* ------------------------------------------------------------------------
 * Ioeventfds.
 */

static uint64_t notify_addr(uint64_t bar_addr, unsigned int q)
{
	return bar_addr + NOTIFY_OFF + (uint64_t)q * NOTIFY_MULT;
}

/*
 * Binds fd at queue q's notify address, or unbinds it if it is bound. A
 * zero length matches a write of any width and, on hosts with EPT, takes
 * KVM's fast MMIO path; hosts without KVM_CAP_IOEVENTFD_ANY_LENGTH get the
 * 2-byte write drivers use. Called with evfd_lock held.
 */
static int bind_fd(struct rv_virtio_dev *dev, unsigned int q, int fd,
		   uint64_t bar_addr, bool assign)
{
	uint64_t addr = notify_addr(bar_addr, q), bit = 1ULL << q;
	int rc;

	if (!assign) {
		if (!(dev->notify_bound & bit))
			return 0;
		dev->notify_bound &= ~bit;
		return rv_ioeventfd(dev->vm, addr, dev->ioeventfd_len, false,
				    NULL, fd, false);
	}
	rc = rv_ioeventfd(dev->vm, addr, dev->ioeventfd_len, false, NULL, fd,
			  true);
	if (rc == -EINVAL && dev->ioeventfd_len == 0) {
		dev->ioeventfd_len = 2;
		rc = rv_ioeventfd(dev->vm, addr, 2, false, NULL, fd, true);
	}
	if (rc == 0)
		dev->notify_bound |= bit;
	return rc;
}

int rv_virtio_queue_eventfd(struct rv_virtio_dev *dev, unsigned int q)
{
	int fd, rc;

	if (q >= dev->ops->nr_queues)
		return -EINVAL;
	pthread_mutex_lock(&dev->evfd_lock);
	fd = dev->notify_fds[q];
	if (fd >= 0)
		goto out;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		fd = -errno;
		goto out;
	}
	/*
	 * Without the binding (KVM out of I/O bus slots, say) the device
	 * still works: notifications exit to notify_write(), which signals
	 * the same eventfd, only slower.
	 */
	if (dev->notify_bar_addr) {
		rc = bind_fd(dev, q, fd, dev->notify_bar_addr, true);
		if (rc)
			rv_warn("%s: queue %u: no ioeventfd (%s); notifications "
				"go through the VMM",
				dev->name, q, strerror(-rc));
	}
	__atomic_store_n(&dev->notify_fds[q], fd, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&dev->evfd_lock);
	return fd;
}

/* The guest moved BAR 0 (or turned memory decoding off or on). */
static void move_ioeventfds(struct rv_virtio_dev *dev, uint64_t new_addr)
{
	unsigned int q;
	int fd;

	pthread_mutex_lock(&dev->evfd_lock);
	for (q = 0; q < dev->ops->nr_queues; q++) {
		fd = dev->notify_fds[q];
		if (fd < 0)
			continue;
		if (dev->notify_bar_addr)
			bind_fd(dev, q, fd, dev->notify_bar_addr, false);
		/*
		 * If binding fails, notifications still work: they exit to
		 * notify_write(), which signals the same eventfd.
		 */
		if (new_addr && bind_fd(dev, q, fd, new_addr, true))
			rv_warn("%s: queue %u: no ioeventfd at 0x%llx; "
				"notifications go through the VMM",
				dev->name, q, (unsigned long long)new_addr);
	}
	dev->notify_bar_addr = new_addr;
	pthread_mutex_unlock(&dev->evfd_lock);
}

/* ------------------------------------------------------------------------
 * Common configuration.
 */

static struct rv_virtq *selected_queue(struct rv_virtio_dev *dev)
{
	if (dev->queue_select >= dev->ops->nr_queues)
		return NULL;
	return &dev->queues[dev->queue_select];
}

static uint16_t check_vector(const struct rv_virtio_dev *dev, uint16_t v)
{
	/* A vector past the table is refused by reading back NO_VECTOR. */
	if (v != RV_VIRTIO_MSI_NO_VECTOR && v >= dev->nr_vectors)
		return RV_VIRTIO_MSI_NO_VECTOR;
	return v;
}

/* The register file as the driver sees it now. Called with dev->lock. */
static void common_image(struct rv_virtio_dev *dev, uint8_t *img)
{
	const struct rv_virtq *q = selected_queue(dev);
	uint32_t sel;

	memset(img, 0, CC_IMAGE);
	put32(img + CC_DFSELECT, dev->device_feature_select);
	sel = dev->device_feature_select;
	if (sel < 2)
		put32(img + CC_DF,
		      (uint32_t)(dev->device_features >> (32 * sel)));
	put32(img + CC_GFSELECT, dev->driver_feature_select);
	sel = dev->driver_feature_select;
	if (sel < 2)
		put32(img + CC_GF,
		      (uint32_t)(dev->driver_features >> (32 * sel)));
	put16(img + CC_MSIX, dev->config_msix_vector);
	put16(img + CC_NUMQ, (uint16_t)dev->ops->nr_queues);
	img[CC_STATUS] = load_status(dev);
	img[CC_CFGGEN] =
		__atomic_load_n(&dev->config_generation, __ATOMIC_ACQUIRE);
	put16(img + CC_Q_SELECT, dev->queue_select);
	if (!q)
		return; /* queue_size 0: no such queue */
	put16(img + CC_Q_SIZE, q->size);
	put16(img + CC_Q_MSIX, q->msix_vector);
	put16(img + CC_Q_ENABLE, q->enabled);
	put16(img + CC_Q_NOFF, q->index); /* times NOTIFY_MULT */
	put64(img + CC_Q_DESC, q->desc_gpa);
	put64(img + CC_Q_AVAIL, q->avail_gpa);
	put64(img + CC_Q_USED, q->used_gpa);
}

static void reset_device(struct rv_virtio_dev *dev)
{
	unsigned int i;

	/* The device stops using the queues before they are cleared. */
	if (dev->ops->reset)
		dev->ops->reset(dev);
	for (i = 0; i < dev->ops->nr_queues; i++)
		rv_virtq_reset(&dev->queues[i]);
	dev->driver_features = 0;
	dev->device_feature_select = 0;
	dev->driver_feature_select = 0;
	dev->queue_select = 0;
	__atomic_store_n(&dev->config_msix_vector, RV_VIRTIO_MSI_NO_VECTOR,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&dev->config_dirty, false, __ATOMIC_RELAXED);
	pthread_mutex_lock(&dev->irq_lock);
	dev->isr = 0;
	if (dev->intx_level) {
		rv_pci_intx(&dev->pci, 0);
		dev->intx_level = false;
	}
	pthread_mutex_unlock(&dev->irq_lock);
	__atomic_store_n(&dev->status, 0, __ATOMIC_RELEASE);
}

/* FEATURES_OK is accepted only for a subset of ours that has VERSION_1. */
static bool features_acceptable(const struct rv_virtio_dev *dev)
{
	uint64_t f = dev->driver_features;

	if (f & ~dev->device_features)
		return false;
	return f & (1ULL << RV_VIRTIO_F_VERSION_1);
}

static void write_status(struct rv_virtio_dev *dev, uint8_t v)
{
	uint8_t cur = load_status(dev);
	uint8_t add;
	int rc;

	if (v == 0) {
		reset_device(dev);
		return;
	}
	/*
	 * Bits only go on until the next reset: a driver clearing one
	 * (forbidden, 2.1.2) is ignored, and NEEDS_RESET belongs to us.
	 */
	add = v & ~cur & status_driver_bits;
	if ((add & RV_VIRTIO_STATUS_FEATURES_OK) && !features_acceptable(dev)) {
		rv_debug("%s: refusing features 0x%llx (offered 0x%llx)",
			 dev->name, (unsigned long long)dev->driver_features,
			 (unsigned long long)dev->device_features);
		add &= ~RV_VIRTIO_STATUS_FEATURES_OK;
	}
	if ((add & RV_VIRTIO_STATUS_DRIVER_OK) &&
	    (!((cur | add) & RV_VIRTIO_STATUS_FEATURES_OK) ||
	     (cur & RV_VIRTIO_STATUS_NEEDS_RESET)))
		add &= ~RV_VIRTIO_STATUS_DRIVER_OK;
	if (add & RV_VIRTIO_STATUS_FAILED)
		rv_info("%s: the driver gave up on the device", dev->name);
	if (!(add & RV_VIRTIO_STATUS_DRIVER_OK)) {
		__atomic_fetch_or(&dev->status, add, __ATOMIC_ACQ_REL);
		return;
	}
	__atomic_fetch_or(&dev->status, add & ~RV_VIRTIO_STATUS_DRIVER_OK,
			  __ATOMIC_ACQ_REL);
	rc = dev->ops->activate ? dev->ops->activate(dev) : 0;
	/* Published after activate(): notify paths check DRIVER_OK. */
	__atomic_fetch_or(&dev->status, RV_VIRTIO_STATUS_DRIVER_OK,
			  __ATOMIC_ACQ_REL);
	if (rc)
		rv_virtio_set_needs_reset(dev, "the device failed to start");
}

static void enable_queue(struct rv_virtio_dev *dev, struct rv_virtq *q)
{
	uint8_t s = load_status(dev);
	char why[160];
	int rc;

	/* Ring features are known only once FEATURES_OK is set (3.1.1). */
	if (!(s & RV_VIRTIO_STATUS_FEATURES_OK) ||
	    (s & RV_VIRTIO_STATUS_NEEDS_RESET)) {
		rv_debug("%s: queue %u enabled before FEATURES_OK; ignored",
			 dev->name, q->index);
		return;
	}
	q->event_idx = dev->driver_features & (1ULL << RV_VIRTIO_F_EVENT_IDX);
	q->indirect = dev->driver_features &
		      (1ULL << RV_VIRTIO_F_INDIRECT_DESC);
	rc = rv_virtq_validate(q);
	if (rc) {
		snprintf(why, sizeof(why),
			 "queue %u: %s (size %u, desc 0x%llx, driver 0x%llx, "
			 "device 0x%llx)",
			 q->index,
			 rc == -EFAULT ? "ring outside guest RAM" :
					 "bad size or ring alignment",
			 q->size, (unsigned long long)q->desc_gpa,
			 (unsigned long long)q->avail_gpa,
			 (unsigned long long)q->used_gpa);
		rv_virtio_set_needs_reset(dev, why);
		return;
	}
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_used = 0;
	q->signalled_used_valid = false;
	__atomic_store_n(&q->enabled, true, __ATOMIC_RELEASE);
}

/* Field ids for writes; each is applied once if the write touched it. */
struct cc_field {
	uint8_t off;
	uint8_t len;
};

static const struct cc_field cc_writable[] = {
	{ CC_DFSELECT, 4 }, { CC_GFSELECT, 4 }, { CC_GF, 4 },
	{ CC_MSIX, 2 },	    { CC_STATUS, 1 },	{ CC_Q_SELECT, 2 },
	{ CC_Q_SIZE, 2 },   { CC_Q_MSIX, 2 },	{ CC_Q_ENABLE, 2 },
	{ CC_Q_DESC, 8 },   { CC_Q_AVAIL, 8 },	{ CC_Q_USED, 8 },
};

static void apply_driver_features(struct rv_virtio_dev *dev, uint32_t v)
{
	uint32_t sel = dev->driver_feature_select;
	uint64_t mask;

	/* Frozen once FEATURES_OK is set (3.1.1). */
	if (load_status(dev) & RV_VIRTIO_STATUS_FEATURES_OK)
		return;
	if (sel >= 2)
		return;
	mask = 0xffffffffULL << (32 * sel);
	dev->driver_features = (dev->driver_features & ~mask) |
			       ((uint64_t)v << (32 * sel));
}

static void apply_field(struct rv_virtio_dev *dev, const uint8_t *img,
			unsigned int off)
{
	struct rv_virtq *q = selected_queue(dev);
	/* Queue registers are frozen while the queue is enabled. */
	bool q_writable = q && !q->enabled;

	switch (off) {
	case CC_DFSELECT:
		dev->device_feature_select = get32(img + off);
		break;
	case CC_GFSELECT:
		dev->driver_feature_select = get32(img + off);
		break;
	case CC_GF:
		apply_driver_features(dev, get32(img + off));
		break;
	case CC_MSIX:
		__atomic_store_n(&dev->config_msix_vector,
				 check_vector(dev, get16(img + off)),
				 __ATOMIC_RELAXED);
		break;
	case CC_STATUS:
		write_status(dev, img[off]);
		break;
	case CC_Q_SELECT:
		dev->queue_select = get16(img + off);
		break;
	case CC_Q_SIZE:
		if (q_writable)
			q->size = get16(img + off);
		break;
	case CC_Q_MSIX:
		if (q_writable)
			__atomic_store_n(&q->msix_vector,
					 check_vector(dev, get16(img + off)),
					 __ATOMIC_RELAXED);
		break;
	case CC_Q_ENABLE:
		/* Writing 0 is forbidden to drivers (4.1.4.3.2); ignored. */
		if (q_writable && get16(img + off) == 1)
			enable_queue(dev, q);
		break;
	case CC_Q_DESC:
		if (q_writable)
			q->desc_gpa = get64(img + off);
		break;
	case CC_Q_AVAIL:
		if (q_writable)
			q->avail_gpa = get64(img + off);
		break;
	case CC_Q_USED:
		if (q_writable)
			q->used_gpa = get64(img + off);
		break;
	default:
		break;
	}
}

static void common_read(struct rv_virtio_dev *dev, uint32_t off, uint8_t *data,
			uint32_t len)
{
	uint8_t img[CC_IMAGE];

	pthread_mutex_lock(&dev->lock);
	common_image(dev, img);
	pthread_mutex_unlock(&dev->lock);
	if (off < CC_IMAGE)
		memcpy(data, img + off,
		       len < CC_IMAGE - off ? len : CC_IMAGE - off);
}

/*
 * A write of any width at any offset: the bytes are merged into the
 * current register image, then every writable field the write overlaps is
 * applied from the image, in offset order. A 32-bit write to one half of a
 * 64-bit address therefore keeps the other half.
 */
static void common_write(struct rv_virtio_dev *dev, uint32_t off,
			 const uint8_t *data, uint32_t len)
{
	uint8_t img[CC_IMAGE];
	unsigned int i, n;

	if (off >= CC_IMAGE)
		return;
	n = len < CC_IMAGE - off ? len : CC_IMAGE - off;
	pthread_mutex_lock(&dev->lock);
	common_image(dev, img);
	memcpy(img + off, data, n);
	for (i = 0; i < RV_ARRAY_SIZE(cc_writable); i++) {
		const struct cc_field *f = &cc_writable[i];

		if (off < f->off + f->len && f->off < off + n)
			apply_field(dev, img, f->off);
	}
	pthread_mutex_unlock(&dev->lock);
}

/* ------------------------------------------------------------------------
 * BAR 0 dispatch.
 */

static void devcfg_access(struct rv_virtio_dev *dev, uint32_t off,
			  uint8_t *data, uint32_t len, bool is_write)
{
	uint32_t size = dev->ops->config_size;

	if (off >= size)
		return;
	if (len > size - off)
		len = size - off;
	pthread_mutex_lock(&dev->lock);
	if (is_write) {
		if (dev->ops->config_write)
			dev->ops->config_write(dev, off, data, len);
	} else {
		/* The driver has now seen the current configuration. */
		__atomic_store_n(&dev->config_dirty, false, __ATOMIC_RELEASE);
		if (dev->ops->config_read)
			dev->ops->config_read(dev, off, data, len);
	}
	pthread_mutex_unlock(&dev->lock);
}

static void notify_write(struct rv_virtio_dev *dev, unsigned int q)
{
	uint64_t one = 1;
	int fd;

	if (q >= dev->ops->nr_queues || !rv_virtio_driver_ok(dev))
		return;
	if (!__atomic_load_n(&dev->queues[q].enabled, __ATOMIC_ACQUIRE))
		return;
	fd = __atomic_load_n(&dev->notify_fds[q], __ATOMIC_ACQUIRE);
	if (fd >= 0) {
		/*
		 * The device thread waits on this eventfd; a failure can only
		 * be EAGAIN, a saturated counter, which is already a wake-up.
		 */
		ssize_t n = write(fd, &one, sizeof(one));

		(void)n;
		return;
	}
	if (dev->ops->queue_notify)
		dev->ops->queue_notify(dev, q);
}

static void bar_access(struct rv_virtio_dev *dev, uint64_t off, uint8_t *data,
		       uint32_t len, bool is_write)
{
	uint32_t region, roff;

	if (!is_write)
		memset(data, 0, len);
	if (len == 0 || len > 8 || off >= VIRTIO_BAR_SIZE)
		return;
	region = (uint32_t)off & ~(REGION_SIZE - 1);
	roff = (uint32_t)off - region;
	/* An access straddling two structures only reaches the first. */
	if (len > REGION_SIZE - roff)
		len = REGION_SIZE - roff;
	switch (region) {
	case COMMON_OFF:
		if (is_write)
			common_write(dev, roff, data, len);
		else
			common_read(dev, roff, data, len);
		break;
	case ISR_OFF:
		if (!is_write && roff == 0)
			data[0] = read_isr(dev);
		break;
	case DEVCFG_OFF:
		devcfg_access(dev, roff, data, len, is_write);
		break;
	case NOTIFY_OFF:
		if (is_write)
			notify_write(dev, roff / NOTIFY_MULT);
		break;
	default:
		break;
	}
}

static void virtio_bar_read(void *opaque, uint64_t off, void *data,
			    uint32_t len)
{
	bar_access(opaque, off, data, len, false);
}

static void virtio_bar_write(void *opaque, uint64_t off, const void *data,
			     uint32_t len)
{
	uint8_t buf[8];

	if (len == 0 || len > sizeof(buf))
		return;
	memcpy(buf, data, len);
	bar_access(opaque, off, buf, len, true);
}

static const struct rv_bus_ops virtio_bar_ops = {
	.read = virtio_bar_read,
	.write = virtio_bar_write,
};

static void msix_bar_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct rv_virtio_dev *dev = opaque;

	if (!rv_msix_bar_access(&dev->pci, off, data, len, false))
		memset(data, 0, len);
}

static void msix_bar_write(void *opaque, uint64_t off, const void *data,
			   uint32_t len)
{
	struct rv_virtio_dev *dev = opaque;
	uint8_t buf[8];

	if (len == 0 || len > sizeof(buf))
		return;
	memcpy(buf, data, len);
	rv_msix_bar_access(&dev->pci, off, buf, len, true);
}

static const struct rv_bus_ops msix_bar_ops = {
	.read = msix_bar_read,
	.write = msix_bar_write,
};

/* ------------------------------------------------------------------------
 * PCI configuration space hooks: the VIRTIO_PCI_CAP_PCI_CFG window and BAR
 * moves.
 */

static struct rv_virtio_dev *to_virtio(struct rv_pci_dev *pci)
{
	return rv_container_of(pci, struct rv_virtio_dev, pci);
}

static bool overlaps_window(const struct rv_virtio_dev *dev, uint32_t off,
			    uint32_t len)
{
	uint32_t start = dev->pci_cfg_cap + CAP_DATA;

	return dev->pci_cfg_cap && off < start + 4 && start < off + len;
}

/*
 * Performs the access the window is set up for (4.1.4.9): cap.bar must be
 * BAR 0, cap.length 1, 2 or 4, cap.offset aligned to it and inside the BAR.
 * Anything else is ignored; a read then leaves pci_cfg_data as it was.
 */
static void window_access(struct rv_virtio_dev *dev, bool is_write)
{
	uint8_t *cap = &dev->pci.config[dev->pci_cfg_cap];
	uint32_t off = get32(cap + CAP_OFFSET);
	uint32_t len = get32(cap + CAP_LENGTH);

	if (cap[CAP_BAR] != VIRTIO_BAR)
		return;
	if (len != 1 && len != 2 && len != 4)
		return;
	if (off % len || off >= VIRTIO_BAR_SIZE)
		return;
	bar_access(dev, off, cap + CAP_DATA, len, is_write);
}

static void pci_config_write(struct rv_pci_dev *pci, uint32_t offset,
			     uint32_t value, uint32_t len)
{
	struct rv_virtio_dev *dev = to_virtio(pci);

	(void)value;
	/* The generic code already stored the bytes in pci_cfg_data. */
	if (overlaps_window(dev, offset, len))
		window_access(dev, true);
}

static void pci_config_read(struct rv_pci_dev *pci, uint32_t offset,
			    uint32_t *value, uint32_t len)
{
	struct rv_virtio_dev *dev = to_virtio(pci);
	uint8_t buf[4] = { 0 };

	if (!overlaps_window(dev, offset, len) || len > 4 ||
	    offset + len > RV_PCI_CFG_SIZE)
		return;
	window_access(dev, false);
	memcpy(buf, &pci->config[offset], len);
	*value = get32(buf);
}

static void pci_bar_moved(struct rv_pci_dev *pci, unsigned int bar,
			  uint64_t old_addr, uint64_t new_addr)
{
	(void)old_addr;
	if (bar == VIRTIO_BAR)
		move_ioeventfds(to_virtio(pci), new_addr);
}

static const struct rv_pci_dev_ops virtio_pci_ops = {
	.config_write = pci_config_write,
	.config_read = pci_config_read,
	.bar_moved = pci_bar_moved,
};

/* ------------------------------------------------------------------------
 * Set-up and teardown.
 */

static int add_vendor_cap(struct rv_virtio_dev *dev, uint8_t type,
			  uint32_t offset, uint32_t length, const void *extra,
			  uint16_t *where)
{
	uint8_t body[CAP_BODY_LEN + 4];
	uint32_t len = CAP_BODY_LEN + (extra ? 4 : 0);
	uint16_t at;

	memset(body, 0, sizeof(body));
	body[CAPB_LEN] = (uint8_t)(len + 2);
	body[CAPB_TYPE] = type;
	body[CAPB_BAR] = VIRTIO_BAR;
	body[CAPB_ID] = 0;
	put32(body + CAPB_OFFSET, offset);
	put32(body + CAPB_LENGTH, length);
	if (extra)
		memcpy(body + CAPB_EXTRA, extra, 4);
	if (!where)
		where = &at;
	return rv_pci_add_cap(&dev->pci, PCI_CAP_ID_VNDR, body, len, where);
}

static int add_caps(struct rv_virtio_dev *dev)
{
	const struct rv_virtio_ops *ops = dev->ops;
	uint8_t mult[4], zero[4] = { 0 };
	uint8_t *wmask;
	int rc;

	put32(mult, NOTIFY_MULT);
	rc = add_vendor_cap(dev, CAP_COMMON_CFG, COMMON_OFF, COMMON_LEN, NULL,
			    NULL);
	if (!rc)
		rc = add_vendor_cap(dev, CAP_NOTIFY_CFG, NOTIFY_OFF,
				    ops->nr_queues * NOTIFY_MULT, mult, NULL);
	if (!rc)
		rc = add_vendor_cap(dev, CAP_ISR_CFG, ISR_OFF, ISR_LEN, NULL,
				    NULL);
	if (!rc && ops->config_size)
		rc = add_vendor_cap(dev, CAP_DEVICE_CFG, DEVCFG_OFF,
				    ops->config_size, NULL, NULL);
	if (!rc)
		rc = add_vendor_cap(dev, CAP_PCI_CFG, 0, 0, zero,
				    &dev->pci_cfg_cap);
	if (rc)
		return rc;
	/* cap.bar, cap.offset, cap.length and pci_cfg_data are driver-writable. */
	wmask = &dev->pci.wmask[dev->pci_cfg_cap];
	wmask[CAP_BAR] = 0xff;
	memset(wmask + CAP_OFFSET, 0xff, 4);
	memset(wmask + CAP_LENGTH, 0xff, 4);
	memset(wmask + CAP_DATA, 0xff, 4);
	return 0;
}

static int check_ops(const struct rv_virtio_ops *ops)
{
	uint16_t qmax = ops->queue_max_size;

	if (!ops->name || ops->nr_queues == 0 ||
	    ops->nr_queues > RV_VIRTIO_MAX_QUEUES)
		return -EINVAL;
	if (qmax == 0 || (qmax & (qmax - 1)) || qmax > RV_VIRTQ_MAX_SIZE)
		return -EINVAL;
	if (ops->config_size > REGION_SIZE || ops->device_id > 0x3f)
		return -EINVAL;
	return 0;
}

static void free_state(struct rv_virtio_dev *dev)
{
	free(dev->queues);
	dev->queues = NULL;
	free(dev->notify_fds);
	dev->notify_fds = NULL;
	pthread_mutex_destroy(&dev->irq_lock);
	pthread_mutex_destroy(&dev->evfd_lock);
	pthread_mutex_destroy(&dev->lock);
	dev->ops = NULL;
}

static int alloc_state(struct rv_virtio_dev *dev, struct rv_vm *vm,
		       const struct rv_virtio_ops *ops)
{
	unsigned int i;

	dev->ops = ops;
	dev->vm = vm;
	snprintf(dev->name, sizeof(dev->name), "%s", ops->name);
	pthread_mutex_init(&dev->lock, NULL);
	pthread_mutex_init(&dev->evfd_lock, NULL);
	pthread_mutex_init(&dev->irq_lock, NULL);
	dev->queues = calloc(ops->nr_queues, sizeof(*dev->queues));
	dev->notify_fds = calloc(ops->nr_queues, sizeof(*dev->notify_fds));
	if (!dev->queues || !dev->notify_fds) {
		free_state(dev);
		return -ENOMEM;
	}
	for (i = 0; i < ops->nr_queues; i++) {
		rv_virtq_init(&dev->queues[i], vm->mem, (uint16_t)i,
			      ops->queue_max_size);
		dev->notify_fds[i] = -1;
	}
	dev->nr_vectors = ops->nr_queues + 1;
	dev->config_msix_vector = RV_VIRTIO_MSI_NO_VECTOR;
	/* Any-width ioeventfds unless KVM says it cannot (see bind_fd()). */
	dev->ioeventfd_len = 0;
	if (vm->kvm &&
	    rv_kvm_check_cap(vm->kvm, KVM_CAP_IOEVENTFD_ANY_LENGTH) <= 0)
		dev->ioeventfd_len = 2;
	dev->device_features = (ops->features ? ops->features(dev) : 0) |
			       (1ULL << RV_VIRTIO_F_VERSION_1) |
			       (1ULL << RV_VIRTIO_F_INDIRECT_DESC) |
			       (1ULL << RV_VIRTIO_F_EVENT_IDX);
	return 0;
}

int rv_virtio_pci_init(struct rv_virtio_dev *dev, struct rv_vm *vm,
		       struct rv_pci_bus *bus, const struct rv_virtio_ops *ops)
{
	uint16_t pci_id;
	int rc;

	rc = check_ops(ops);
	if (rc)
		return rc;
	rc = alloc_state(dev, vm, ops);
	if (rc)
		return rc;
	pci_id = (uint16_t)(RV_VIRTIO_PCI_DEVICE_BASE + ops->device_id);
	rv_pci_dev_init(&dev->pci, ops->name, RV_VIRTIO_PCI_VENDOR, pci_id,
			ops->pci_class, 1, RV_VIRTIO_PCI_VENDOR, pci_id,
			&virtio_pci_ops);
	rc = rv_pci_set_bar(&dev->pci, VIRTIO_BAR, RV_PCI_BAR_MEM64,
			    VIRTIO_BAR_SIZE, true, &virtio_bar_ops, dev);
	if (rc)
		goto err_state;
	rc = rv_pci_set_bar(&dev->pci, MSIX_BAR, RV_PCI_BAR_MEM32,
			    MSIX_BAR_SIZE, false, &msix_bar_ops, dev);
	if (rc)
		goto err_state;
	rc = add_caps(dev);
	if (rc)
		goto err_state;
	rc = rv_msix_init(&dev->pci, dev->nr_vectors, MSIX_BAR, MSIX_TABLE_OFF,
			  MSIX_PBA_OFF);
	if (rc)
		goto err_state;
	rc = rv_pci_register(bus, &dev->pci);
	if (rc)
		goto err_msix;
	snprintf(dev->name, sizeof(dev->name), "%s 00:%02x.0", ops->name,
		 dev->pci.slot);
	pthread_mutex_lock(&dev->evfd_lock);
	if (dev->pci.bars[VIRTIO_BAR].mapped)
		dev->notify_bar_addr = dev->pci.bars[VIRTIO_BAR].addr;
	pthread_mutex_unlock(&dev->evfd_lock);
	return 0;

err_msix:
	rv_msix_destroy(&dev->pci);
err_state:
	free_state(dev);
	return rc;
}

void rv_virtio_pci_destroy(struct rv_virtio_dev *dev)
{
	unsigned int q;
	int fd;

	if (!dev || !dev->ops)
		return;
	pthread_mutex_lock(&dev->irq_lock);
	if (dev->intx_level)
		rv_pci_intx(&dev->pci, 0);
	dev->intx_level = false;
	pthread_mutex_unlock(&dev->irq_lock);
	rv_pci_unregister(&dev->pci);
	pthread_mutex_lock(&dev->evfd_lock);
	for (q = 0; q < dev->ops->nr_queues; q++) {
		fd = dev->notify_fds[q];
		if (fd < 0)
			continue;
		if (dev->notify_bar_addr)
			bind_fd(dev, q, fd, dev->notify_bar_addr, false);
		close(fd);
		dev->notify_fds[q] = -1;
	}
	pthread_mutex_unlock(&dev->evfd_lock);
	rv_msix_destroy(&dev->pci);
	free_state(dev);
}
