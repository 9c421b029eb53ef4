/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_VIRTIO_H
#define RAEVM_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
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
 * calls rv_virtio_queue_error() (or rv_virtio_set_needs_reset()), which
 * sets DEVICE_NEEDS_RESET, raises a configuration interrupt and logs one
 * line. Host memory outside guest RAM is never touched: every address goes
 * through rv_mem_gpa_to_hva(), resolved again on every pop and push, so no
 * host pointer into a ring outlives the call that produced it.
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

/* Device status bits (virtio 1.2, 2.1). */
#define RV_VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define RV_VIRTIO_STATUS_DRIVER 0x02
#define RV_VIRTIO_STATUS_DRIVER_OK 0x04
#define RV_VIRTIO_STATUS_FEATURES_OK 0x08
#define RV_VIRTIO_STATUS_NEEDS_RESET 0x40
#define RV_VIRTIO_STATUS_FAILED 0x80

/* ISR status bits (INTx mode). */
#define RV_VIRTIO_ISR_QUEUE 0x01
#define RV_VIRTIO_ISR_CONFIG 0x02

#define RV_VIRTIO_MSI_NO_VECTOR 0xffff

/* The largest split queue the specification allows. */
#define RV_VIRTQ_MAX_SIZE 32768

/* Split ring descriptor flags. */
#define RV_VIRTQ_DESC_F_NEXT 1
#define RV_VIRTQ_DESC_F_WRITE 2
#define RV_VIRTQ_DESC_F_INDIRECT 4
#define RV_VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define RV_VIRTQ_USED_F_NO_NOTIFY 1

/*
 * One split virtqueue, as the driver configured it.
 *
 * Threads: the configuration fields (size .. indirect) are written by the
 * transport on a vCPU thread while the queue is disabled and are frozen
 * once it is enabled. The device-side state is owned by whichever single
 * thread the device uses to pop and push on this queue; the queue has no
 * lock of its own.
 */
struct rv_virtq {
	uint16_t index;
	uint16_t size; /* entries; power of two, <= max_size */
	uint16_t max_size;
	bool enabled; /* queue_enable written with 1 */
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	uint16_t msix_vector; /* RV_VIRTIO_MSI_NO_VECTOR = none */
	bool event_idx;	      /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;	      /* VIRTIO_F_INDIRECT_DESC negotiated */
	const struct rv_mem *mem;

	/* Device-side state. */
	uint16_t last_avail; /* next avail ring entry to consume */
	uint16_t used_idx;   /* our copy of used->idx */
	uint16_t signalled_used;
	bool signalled_used_valid;
};

/*
 * One popped descriptor chain: the device-readable segments come first
 * (iov[0 .. nr_out)), then the device-writable ones (iov[nr_out .. nr_out
 * + nr_in)). The iovecs point into guest RAM and stay valid only until the
 * chain is pushed back (the guest may reuse the memory afterwards).
 * Zero-length descriptors are kept as zero-length segments with a NULL
 * base, so every descriptor walked costs one segment of cap.
 */
struct rv_virtq_chain {
	uint16_t head;
	unsigned int nr_out;
	unsigned int nr_in;
	uint64_t out_len; /* total readable bytes */
	uint64_t in_len;  /* total writable bytes */
	unsigned int cap; /* capacity of iov */
	struct iovec *iov;
};

/* Allocates a chain able to hold max_segs segments (1 .. 65536). */
int rv_virtq_chain_init(struct rv_virtq_chain *chain,
			unsigned int max_segs) RV_MUST_CHECK;
void rv_virtq_chain_free(struct rv_virtq_chain *chain);

/*
 * Puts q in its reset state: size max_size, no addresses, no vector,
 * disabled, device-side state zero. rv_virtq_init also sets the identity.
 */
void rv_virtq_init(struct rv_virtq *q, const struct rv_mem *mem, uint16_t index,
		   uint16_t max_size);
void rv_virtq_reset(struct rv_virtq *q);

/*
 * Checks the queue's layout when the driver enables it: size a power of
 * two in [1, max_size] (-EINVAL), rings aligned as the specification
 * requires (16, 2, 4; -EINVAL) and wholly inside guest RAM including the
 * event index fields (-EFAULT). Pure: changes nothing.
 */
int rv_virtq_validate(const struct rv_virtq *q) RV_MUST_CHECK;

/*
 * Takes the next available chain. Returns 1 with chain filled, 0 when the
 * queue is empty (or disabled), or a negative errno for a malformed queue;
 * the queue is then unusable until the driver resets the device:
 *  -EPROTO    the avail index moved more than the queue size; a
 *             device-readable descriptor after a device-writable one;
 *             VIRTQ_DESC_F_INDIRECT without VIRTIO_F_INDIRECT_DESC, inside
 *             an indirect table (nested) or together with
 *             VIRTQ_DESC_F_NEXT; an indirect table whose length is zero or
 *             not a multiple of 16
 *  -ERANGE    a descriptor index (avail ring entry or next) not below the
 *             queue size, or a next inside an indirect table pointing past
 *             the table
 *  -ELOOP     a chain longer than the queue size (a loop), or longer than
 *             its indirect table
 *  -EFAULT    a ring, an indirect table or a buffer not wholly inside one
 *             region of guest RAM (this includes gpa + len wrapping)
 *  -EOVERFLOW the chain's buffers add up to more than 2^32 bytes
 *  -E2BIG     more segments than chain->cap (a device limit)
 * Each descriptor is copied out of guest memory once and only the copy is
 * validated and used, so the guest cannot change it behind the check.
 */
int rv_virtq_pop(struct rv_virtq *q, struct rv_virtq_chain *chain);

/*
 * Returns a chain to the driver: writes {head, written} into the used ring,
 * then publishes the new used index. -EINVAL for a disabled queue or a head
 * out of range, -EFAULT if the used ring is not in guest RAM.
 */
int rv_virtq_push(struct rv_virtq *q, uint16_t head, uint32_t written);

/*
 * After one or more pushes: whether the driver wants an interrupt now
 * (EVENT_IDX's used_event, or VIRTQ_AVAIL_F_NO_INTERRUPT). Records what
 * was signalled, so call it once per batch and interrupt when it says so.
 */
bool rv_virtq_should_notify(struct rv_virtq *q);

/*
 * Asks the driver to notify again once it adds buffers (writes avail_event
 * with EVENT_IDX, clears VIRTQ_USED_F_NO_NOTIFY without); returns true if
 * buffers arrived meanwhile, in which case the caller must pop again
 * instead of sleeping.
 */
bool rv_virtq_enable_notify(struct rv_virtq *q);

/*
 * Tells the driver not to notify while the device is busy polling the
 * queue (VIRTQ_USED_F_NO_NOTIFY; with EVENT_IDX nothing is needed, the
 * driver notifies at most once per rv_virtq_enable_notify()).
 */
void rv_virtq_disable_notify(struct rv_virtq *q);

/* A short description of an rv_virtq_pop() error, for log lines. */
const char *rv_virtq_strerror(int err);

/*
 * EVENT_IDX's test (virtio 1.2, 2.7.10 helpers): whether moving an index
 * from old to new_idx passed event_idx, i.e. event_idx is in [old, new_idx).
 */
static inline bool rv_virtq_need_event(uint16_t event_idx, uint16_t new_idx,
				       uint16_t old)
{
	return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old);
}

/*
 * A device type's hooks (STYLE.md: one const table per device type).
 *
 * The transport calls reset, activate, config_read and config_write on a
 * vCPU thread with dev->lock held, so they are serialised with each other
 * and with every driver register access; they may call rv_virtio_*
 * functions (which never take dev->lock) but must not wait for anything
 * that waits for a vCPU. queue_notify is called without dev->lock.
 */
struct rv_virtio_ops {
	const char *name;
	uint16_t device_id;	 /* virtio device id: 2 blk, 3 console, 4 rng */
	uint32_t pci_class;	 /* PCI class code for the function */
	unsigned int nr_queues;	 /* 1 .. RV_VIRTIO_MAX_QUEUES */
	uint16_t queue_max_size; /* power of two <= RV_VIRTQ_MAX_SIZE */
	uint32_t config_size;	 /* bytes of device-specific config, <= 4096 */
	/*
	 * Device feature bits (the transport adds VERSION_1 and ring bits).
	 * Called once, from rv_virtio_pci_init().
	 */
	uint64_t (*features)(struct rv_virtio_dev *dev);
	/* offset + len <= config_size is checked by the transport. */
	void (*config_read)(struct rv_virtio_dev *dev, uint32_t offset,
			    void *data, uint32_t len);
	void (*config_write)(struct rv_virtio_dev *dev, uint32_t offset,
			     const void *data, uint32_t len);
	/*
	 * The driver notified queue q while DRIVER_OK is set. Called on the
	 * vCPU thread for queues without an ioeventfd (see
	 * rv_virtio_queue_eventfd()); may race with reset from another vCPU,
	 * so the device checks its own "active" state under its own lock.
	 */
	void (*queue_notify)(struct rv_virtio_dev *dev, unsigned int q);
	/*
	 * DRIVER_OK is being set: the device may start using its queues.
	 * Notifications that came before DRIVER_OK were dropped, so a device
	 * looks at its queues once here. A failure puts the device in
	 * NEEDS_RESET.
	 */
	int (*activate)(struct rv_virtio_dev *dev);
	/*
	 * The driver reset the device (or the VM stops): stop using the
	 * queues before returning (join or park I/O threads), forget
	 * in-flight requests. The transport clears the queues afterwards.
	 */
	void (*reset)(struct rv_virtio_dev *dev);
	/* Snapshots (later issue); NULL until then. */
	int (*save)(struct rv_virtio_dev *dev, void *buf, size_t *len);
	int (*restore)(struct rv_virtio_dev *dev, const void *buf, size_t len);
};

#define RV_VIRTIO_MAX_QUEUES 64

/*
 * The transport's state. Locks, outermost first:
 *  - lock: every driver register access and the device hooks called from
 *    it (reset, activate, config_read, config_write). Device threads never
 *    take it.
 *  - evfd_lock: notify_fds and the notify BAR address (ioeventfds follow
 *    BAR moves).
 *  - irq_lock: isr, the INTx level and the NEEDS_RESET log rate limit.
 *    A leaf: only rv_pci_intx() is called under it.
 * status is read and updated with atomics so device threads can set
 * NEEDS_RESET and check it without a lock.
 */
struct rv_virtio_dev {
	struct rv_pci_dev pci; /* first: reached with rv_container_of */
	const struct rv_virtio_ops *ops;
	struct rv_vm *vm;
	char name[48];	      /* "virtio-rng 00:03.0", for log lines */
	pthread_mutex_t lock; /* transport state below */
	uint64_t device_features;
	uint64_t driver_features;
	uint32_t device_feature_select;
	uint32_t driver_feature_select;
	uint8_t status;		   /* atomics; see above */
	uint8_t config_generation; /* atomics */
	bool config_dirty;	   /* atomics: changed since the last read */
	uint16_t queue_select;
	uint16_t config_msix_vector;
	unsigned int nr_vectors; /* MSI-X table size: queues + 1 */
	struct rv_virtq *queues;
	uint16_t pci_cfg_cap; /* config offset of VIRTIO_PCI_CAP_PCI_CFG */

	pthread_mutex_t evfd_lock;
	int *notify_fds;	  /* ioeventfd per queue, -1 when none */
	uint64_t notify_bar_addr; /* BAR address the fds are bound at, 0 = none */
	uint64_t notify_bound;	  /* bit n: queue n's fd is bound there */
	uint32_t ioeventfd_len;	  /* 0 (any width) or 2 */

	pthread_mutex_t irq_lock;
	uint8_t isr;
	bool intx_level;
	uint64_t reset_log_ns; /* CLOCK_MONOTONIC of the last log line */
	unsigned int reset_log_suppressed;
};

/*
 * Sets up the PCI function and registers it on bus:
 *  - vendor 0x1af4, device 0x1040 + ops->device_id, revision 1, subsystem
 *    0x1af4 / 0x1040 + id, class ops->pci_class;
 *  - BAR 0 (64-bit, prefetchable, 16 KiB): common config at 0x0000, ISR at
 *    0x1000, device config at 0x2000, notify at 0x3000 (multiplier 4: queue
 *    n at 0x3000 + 4n);
 *  - BAR 2 (32-bit, not prefetchable): the MSI-X table and PBA, one vector
 *    per queue plus one for configuration changes;
 *  - vendor capabilities: common, notify, ISR, device (if config_size),
 *    PCI configuration access.
 * dev is embedded in the device's own struct and must be zeroed; on
 * failure nothing is left registered and rv_virtio_pci_destroy() is a
 * no-op.
 */
int rv_virtio_pci_init(struct rv_virtio_dev *dev, struct rv_vm *vm,
		       struct rv_pci_bus *bus,
		       const struct rv_virtio_ops *ops) RV_MUST_CHECK;
/*
 * Unregisters, unbinds and closes the ioeventfds, frees the queues. Call it
 * once the vCPUs and the device's own threads have stopped; it does not
 * call ops->reset.
 */
void rv_virtio_pci_destroy(struct rv_virtio_dev *dev);

/*
 * Asks for an ioeventfd on queue q's notify address: guest notifications
 * then only make the returned eventfd readable, without a VM exit to user
 * space (notifications that still reach the VMM, such as a write of an
 * unexpected width, or every one when KVM refused the binding, signal the
 * same eventfd). Returns the fd (owned by the transport; the same one on
 * every call) or a negative errno when no eventfd can be made. Call it
 * from activate() or before the guest runs.
 */
int rv_virtio_queue_eventfd(struct rv_virtio_dev *dev, unsigned int q);

/* Interrupts the driver for queue q (MSI-X vector, or INTx + ISR bit 0). */
int rv_virtio_notify_queue(struct rv_virtio_dev *dev, unsigned int q);
/* Configuration change interrupt (ISR bit 1 / config vector). */
int rv_virtio_notify_config(struct rv_virtio_dev *dev);

/*
 * The device-specific configuration changed (capacity, console size):
 * moves config_generation on and raises a configuration interrupt.
 */
void rv_virtio_config_changed(struct rv_virtio_dev *dev);

/*
 * The guest broke the protocol: sets DEVICE_NEEDS_RESET, raises a config
 * interrupt and logs why (one line naming the device; at most one line per
 * device every few seconds, with a count of those suppressed). Only the
 * first reason between two driver resets is reported. The device stops
 * using its queues until the driver resets it. Safe from any thread.
 */
void rv_virtio_set_needs_reset(struct rv_virtio_dev *dev, const char *why);
/* The same for an rv_virtq_pop() error on queue q ("queue 1: ..."). */
void rv_virtio_queue_error(struct rv_virtio_dev *dev, unsigned int q, int err);
bool rv_virtio_needs_reset(struct rv_virtio_dev *dev);
/* DRIVER_OK is set and NEEDS_RESET is not. */
bool rv_virtio_driver_ok(struct rv_virtio_dev *dev);

/*
 * virtio-rng (devices/virtio/rng.c): one queue, filled from getrandom(2)
 * on the notifying vCPU thread, at most RV_VIRTIO_RNG_MAX_BYTES per
 * notification.
 */
#define RV_VIRTIO_RNG_MAX_BYTES (64 * 1024)
extern const struct rv_virtio_ops rv_virtio_rng_ops;
int rv_virtio_rng_create(struct rv_vm *vm, struct rv_pci_bus *bus,
			 struct rv_virtio_dev **out) RV_MUST_CHECK;
void rv_virtio_rng_destroy(struct rv_virtio_dev *dev);

/*
 * virtio-console (devices/virtio/console.c): one port, no multiport. The
 * host side is a Unix stream socket listening at socket_path (mode 0600),
 * one client at a time; served by a thread of its own. Guest output is
 * written to the client without blocking and dropped (counted) when the
 * client is slow or absent.
 */
extern const struct rv_virtio_ops rv_virtio_console_ops;
int rv_virtio_console_create(struct rv_vm *vm, struct rv_pci_bus *bus,
			     const char *socket_path,
			     struct rv_virtio_dev **out) RV_MUST_CHECK;
void rv_virtio_console_destroy(struct rv_virtio_dev *dev);
/* Guest output bytes dropped because the client was slow. */
uint64_t rv_virtio_console_dropped(struct rv_virtio_dev *dev);

/*
 * virtio-blk (devices/virtio/blk.c, virtio 1.2, 5.2): one request queue
 * served by an I/O thread of the disk's own ("blkN"), woken by the queue's
 * ioeventfd; completions interrupt through rv_virtio_notify_queue() (an
 * irqfd with MSI-X). docs/devices.md lists what is offered and how each
 * malformed request is answered.
 */
#define RV_VIRTIO_BLK_F_SEG_MAX 2
#define RV_VIRTIO_BLK_F_RO 5
#define RV_VIRTIO_BLK_F_BLK_SIZE 6
#define RV_VIRTIO_BLK_F_FLUSH 9
#define RV_VIRTIO_BLK_F_DISCARD 13
#define RV_VIRTIO_BLK_F_WRITE_ZEROES 14

#define RV_VIRTIO_BLK_T_IN 0
#define RV_VIRTIO_BLK_T_OUT 1
#define RV_VIRTIO_BLK_T_FLUSH 4
#define RV_VIRTIO_BLK_T_GET_ID 8
#define RV_VIRTIO_BLK_T_DISCARD 11
#define RV_VIRTIO_BLK_T_WRITE_ZEROES 13

#define RV_VIRTIO_BLK_S_OK 0
#define RV_VIRTIO_BLK_S_IOERR 1
#define RV_VIRTIO_BLK_S_UNSUPP 2

/* Flags of a discard / write-zeroes segment. */
#define RV_VIRTIO_BLK_WZ_UNMAP 1u

#define RV_VIRTIO_BLK_QUEUE_SIZE 256
/* Data segments per request; a chain may hold two more (header, status). */
#define RV_VIRTIO_BLK_SEG_MAX (RV_VIRTIO_BLK_QUEUE_SIZE - 2)
#define RV_VIRTIO_BLK_ID_BYTES 20
/* Per discard / write-zeroes segment (1 GiB) and per request. */
#define RV_VIRTIO_BLK_MAX_RANGE_SECTORS (1u << 21)
#define RV_VIRTIO_BLK_MAX_RANGE_SEGS 32

/* struct virtio_blk_config, up to and including unused1. */
#define RV_VIRTIO_BLK_CFG_CAPACITY 0
#define RV_VIRTIO_BLK_CFG_SEG_MAX 12
#define RV_VIRTIO_BLK_CFG_BLK_SIZE 20
#define RV_VIRTIO_BLK_CFG_NUM_QUEUES 34
#define RV_VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36
#define RV_VIRTIO_BLK_CFG_MAX_DISCARD_SEG 40
#define RV_VIRTIO_BLK_CFG_DISCARD_ALIGNMENT 44
#define RV_VIRTIO_BLK_CFG_MAX_WZ_SECTORS 48
#define RV_VIRTIO_BLK_CFG_MAX_WZ_SEG 52
#define RV_VIRTIO_BLK_CFG_WZ_MAY_UNMAP 56
#define RV_VIRTIO_BLK_CONFIG_SIZE 60

struct rv_blk;
extern const struct rv_virtio_ops rv_virtio_blk_ops;

/*
 * Adds a virtio-blk function for blk, which the device borrows: the caller
 * closes it after rv_virtio_blk_destroy(). Between DRIVER_OK and the next
 * reset (or destroy) the disk's I/O thread is the only user of blk.
 * serial (may be NULL; at most RV_VIRTIO_BLK_ID_BYTES are used) answers
 * GET_ID; index is the disk's place in the VM config, for the thread's name
 * and log lines. Read-only disks (blk->readonly) offer VIRTIO_BLK_F_RO and
 * no discard or write-zeroes.
 */
int rv_virtio_blk_create(struct rv_vm *vm, struct rv_pci_bus *bus,
			 struct rv_blk *blk, const char *serial,
			 unsigned int index,
			 struct rv_virtio_dev **out) RV_MUST_CHECK;
/* Stops the I/O thread and removes the function; blk stays open. */
void rv_virtio_blk_destroy(struct rv_virtio_dev *dev);

/*
 * virtio-net (devices/virtio/net.c, virtio 1.2, 5.1) with a user (libslirp)
 * or tap backend (devices/net/). The NIC's I/O thread ("netN", thread class
 * RV_THREAD_NET) is started here and serves both queues and the backend.
 * vm_name seeds the stable MAC when net->mac_set is false; index is the
 * NIC's place in the VM config. Backend failures (a bad forward, a port in
 * use, a missing tap, no CAP_NET_ADMIN) are logged as one line here.
 */
struct rv_net_config;
int rv_virtio_net_create(struct rv_vm *vm, struct rv_pci_bus *bus,
			 const struct rv_net_config *net, const char *vm_name,
			 unsigned int index,
			 struct rv_virtio_dev **out) RV_MUST_CHECK;
void rv_virtio_net_destroy(struct rv_virtio_dev *dev);

/*
 * virtio-vsock (devices/virtio/vsock.c, virtio 1.2, 5.10) with
 * Firecracker-compatible hybrid Unix sockets on the host (docs/networking.md).
 * The listening socket cfg->socket is bound here; its I/O thread (class
 * RV_THREAD_VSOCK) is started here.
 */
struct rv_vsock_config;
int rv_virtio_vsock_create(struct rv_vm *vm, struct rv_pci_bus *bus,
			   const struct rv_vsock_config *cfg,
			   struct rv_virtio_dev **out) RV_MUST_CHECK;
void rv_virtio_vsock_destroy(struct rv_virtio_dev *dev);

#endif
