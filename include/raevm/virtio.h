/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_VIRTIO_H
#define RAEVM_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "raevm/pci.h"
#include "raevm/util.h"

/*
 * virtio 1.2 over the modern PCI transport (devices/virtio/pci.c) with
 * split virtqueues (devices/virtio/queue.c).
 *
 * Trust: everything in a virtqueue is written by the guest. rv_virtq_pop()
 * validates every index, length, address, flag and the chain's shape before
 * the device sees a buffer; a violation returns an error and the device
 * calls rv_virtio_set_needs_reset(), which sets DEVICE_NEEDS_RESET, raises a
 * configuration interrupt and logs one line. Host memory outside guest RAM
 * is never touched: every address goes through rv_mem_gpa_to_hva().
 */
struct rv_mem;
struct rv_vm;
struct rv_virtio_dev;

#define RV_VIRTIO_PCI_VENDOR 0x1af4
#define RV_VIRTIO_PCI_DEVICE_BASE 0x1040 /* + virtio device id */

/* Feature bits the transport and queue code handle themselves. */
#define RV_VIRTIO_F_INDIRECT_DESC 28
#define RV_VIRTIO_F_EVENT_IDX 29
#define RV_VIRTIO_F_VERSION_1 32

/* One split virtqueue, as the driver configured it. */
struct rv_virtq {
	uint16_t index;
	uint16_t size;          /* entries; power of two, <= max_size */
	uint16_t max_size;
	bool enabled;           /* queue_enable written with 1 */
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	uint16_t msix_vector;   /* 0xffff = none */
	bool event_idx;         /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;          /* VIRTIO_F_INDIRECT_DESC negotiated */
	const struct rv_mem *mem;

	/* Device-side state. */
	uint16_t last_avail;    /* next avail ring entry to consume */
	uint16_t used_idx;      /* our copy of used->idx */
	uint16_t signalled_used;
	bool signalled_used_valid;
};

/*
 * One popped descriptor chain: the device-readable segments come first
 * (iov[0 .. nr_out)), then the device-writable ones (iov[nr_out .. nr_out
 * + nr_in)). The iovecs point into guest RAM.
 */
struct rv_virtq_chain {
	uint16_t head;
	unsigned int nr_out;
	unsigned int nr_in;
	uint64_t out_len;       /* total readable bytes */
	uint64_t in_len;        /* total writable bytes */
	unsigned int cap;       /* capacity of iov */
	struct iovec *iov;
};

/* Allocates a chain able to hold max_segs segments. */
int rv_virtq_chain_init(struct rv_virtq_chain *chain,
			unsigned int max_segs) RV_MUST_CHECK;
void rv_virtq_chain_free(struct rv_virtq_chain *chain);

/*
 * Checks the queue's layout (size a power of two, rings aligned and inside
 * guest RAM) when the driver enables it. Returns 0 or -EINVAL/-EFAULT.
 */
int rv_virtq_validate(struct rv_virtq *q) RV_MUST_CHECK;

/*
 * Takes the next available chain. Returns 1 with chain filled, 0 when the
 * queue is empty, or a negative errno for a malformed queue: -EFAULT (an
 * address outside guest RAM), -ELOOP (a descriptor loop or a chain longer
 * than the queue), -EPROTO (a readable descriptor after a writable one,
 * nested indirect tables, a bad indirect length, an avail index that moved
 * more than the queue size), -E2BIG (more segments than chain->cap).
 */
int rv_virtq_pop(struct rv_virtq *q, struct rv_virtq_chain *chain);

/* Returns a chain to the driver with written bytes in the used ring. */
int rv_virtq_push(struct rv_virtq *q, uint16_t head, uint32_t written);

/*
 * After one or more pushes: whether the driver wants an interrupt now
 * (EVENT_IDX's used_event, or VIRTQ_AVAIL_F_NO_INTERRUPT).
 */
bool rv_virtq_should_notify(struct rv_virtq *q);

/*
 * With EVENT_IDX, tells the driver to notify again once it adds buffers
 * (writes avail_event); returns true if buffers arrived meanwhile.
 */
bool rv_virtq_enable_notify(struct rv_virtq *q);

/* A device type's hooks (STYLE.md: one const table per device type). */
struct rv_virtio_ops {
	const char *name;
	uint16_t device_id;        /* virtio device id: 2 blk, 3 console, 4 rng */
	uint32_t pci_class;        /* PCI class code for the function */
	unsigned int nr_queues;
	uint16_t queue_max_size;
	uint32_t config_size;      /* bytes of device-specific config */
	/* Device feature bits (the transport adds VERSION_1 and ring bits). */
	uint64_t (*features)(struct rv_virtio_dev *dev);
	void (*config_read)(struct rv_virtio_dev *dev, uint32_t offset,
			    void *data, uint32_t len);
	void (*config_write)(struct rv_virtio_dev *dev, uint32_t offset,
			     const void *data, uint32_t len);
	/*
	 * The driver notified queue q. Called on the vCPU thread for queues
	 * without an ioeventfd (see rv_virtio_queue_eventfd()).
	 */
	void (*queue_notify)(struct rv_virtio_dev *dev, unsigned int q);
	/* DRIVER_OK was set: the device may start using its queues. */
	int (*activate)(struct rv_virtio_dev *dev);
	/* The driver reset the device (or the VM stops): quiesce, forget. */
	void (*reset)(struct rv_virtio_dev *dev);
	/* Snapshots (later issue); NULL until then. */
	int (*save)(struct rv_virtio_dev *dev, void *buf, size_t *len);
	int (*restore)(struct rv_virtio_dev *dev, const void *buf, size_t len);
};

struct rv_virtio_dev {
	struct rv_pci_dev pci;     /* first: reached with rv_container_of */
	const struct rv_virtio_ops *ops;
	struct rv_vm *vm;
	pthread_mutex_t lock;      /* transport state below */
	uint64_t device_features;
	uint64_t driver_features;
	uint32_t device_feature_select;
	uint32_t driver_feature_select;
	uint8_t status;
	uint8_t isr;
	uint32_t config_generation;
	uint16_t queue_select;
	uint16_t config_msix_vector;
	struct rv_virtq *queues;
	int *notify_fds;           /* ioeventfd per queue, -1 when none */
};

/*
 * Sets up the PCI function (virtio vendor/device ids, the common, notify,
 * ISR and device config capabilities in a 64-bit memory BAR, MSI-X with one
 * vector per queue plus config) and registers it on bus.
 */
int rv_virtio_pci_init(struct rv_virtio_dev *dev, struct rv_vm *vm,
		       struct rv_pci_bus *bus,
		       const struct rv_virtio_ops *ops) RV_MUST_CHECK;
void rv_virtio_pci_destroy(struct rv_virtio_dev *dev);

/*
 * Asks for an ioeventfd on queue q's notify address: guest notifications
 * then only make the returned eventfd readable, without a VM exit to user
 * space. Call it from activate(); the fd belongs to the transport.
 */
int rv_virtio_queue_eventfd(struct rv_virtio_dev *dev, unsigned int q);

/* Interrupts the driver for queue q (MSI-X vector, or INTx + ISR bit 0). */
int rv_virtio_notify_queue(struct rv_virtio_dev *dev, unsigned int q);
/* Configuration change interrupt (ISR bit 1 / config vector). */
int rv_virtio_notify_config(struct rv_virtio_dev *dev);

/*
 * The guest broke the protocol: sets DEVICE_NEEDS_RESET, raises a config
 * interrupt and logs why (one line, rate-limited). The device stops using
 * its queues until the driver resets it.
 */
void rv_virtio_set_needs_reset(struct rv_virtio_dev *dev, const char *why);
bool rv_virtio_needs_reset(struct rv_virtio_dev *dev);

#endif
