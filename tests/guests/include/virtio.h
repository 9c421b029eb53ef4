/* SPDX-License-Identifier: Apache-2.0 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

/*
 * A small virtio 1.2 driver library for test guests: the modern PCI
 * transport with split virtqueues (lib/virtio.c) and a virtio-blk driver
 * on top (lib/virtio_blk.c). Net and vsock drivers can reuse the core.
 *
 * Everything works at CPL0 and at CPL3 (rings and buffers are in the
 * user-accessible identity map; port I/O goes through the TSS bitmap), so
 * benchmarks run their submission loops in user mode. Interrupt handlers
 * only count; completions are always taken from the used ring by the
 * code that submitted, so no lock is needed between the two.
 *
 * The device is untrusted: used-ring ids and lengths, capability offsets
 * and config sizes are checked before they are followed.
 */
#include "guest.h"
#include "pci.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_MODERN_BASE 0x1040 /* + device id */

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_VSOCK 19

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/* Transport feature bits. */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED 34
#define VIRTIO_BIT(n) (1ULL << (n))

/* Split ring layout (virtio 1.2, 2.7). */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* size entries, then used_event */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[]; /* size entries, then avail_event */
};

#define VIRTQ_MAX_SIZE 1024
#define VIRTQ_INDIRECT_MAX 16 /* segments of one indirect table */
#define VIRTIO_MAX_QUEUES 4
#define VIRTIO_NO_VECTOR 0xffff

/* Where a capability's structure lives: an MMIO address or an I/O port. */
struct virtio_region {
	uint64_t addr;
	uint32_t len;
	bool io;
};

enum virtio_irq_mode {
	VIRTIO_IRQ_POLL = 0, /* no vectors: completions are polled */
	VIRTIO_IRQ_MSIX,     /* one MSI-X vector per queue plus config */
	VIRTIO_IRQ_INTX,     /* the INTx line through the IOAPIC, ISR reads */
};

struct virtio_dev;

struct virtq {
	struct virtio_dev *dev;
	uint16_t index;
	uint16_t size; /* 0: not set up */
	volatile struct virtq_desc *desc;
	volatile struct virtq_avail *avail;
	volatile struct virtq_used *used;
	volatile uint16_t *used_event;	/* in the avail ring, after ring[] */
	volatile uint16_t *avail_event; /* in the used ring, after ring[] */
	uint64_t notify;		/* notify address (port when io) */
	bool notify_io;
	/* Descriptor bookkeeping. */
	uint16_t free_head;
	uint16_t num_free;
	uint16_t avail_idx;  /* next avail->idx we will publish */
	uint16_t kicked_idx; /* avail->idx at the last notification check */
	uint16_t last_used;  /* next used entry to take */
	bool use_indirect;   /* add() puts multi-segment chains in tables */
	bool irq_wanted;     /* ask the device to interrupt (else poll) */
	void **cookie;	     /* per head: caller's pointer, NULL when free */
	uint16_t *ndescs;    /* per head: descriptors the chain holds */
	struct virtq_desc *indirect; /* size tables of VIRTQ_INDIRECT_MAX */
	uint16_t alloc_size; /* entries the memory above was sized for */
	/* MSI-X. */
	uint16_t msix_entry; /* VIRTIO_NO_VECTOR without */
	int vector;
	/* Counters: interrupts seen, notifications sent and skipped. */
	volatile uint32_t irqs;
	uint32_t notifies;
	uint32_t notifies_skipped;
	/*
	 * Interrupt accounting (virtq_wait_used): at each re-arm, the
	 * interrupt count and the used index. Entries below used_at_arm
	 * were there already and need no interrupt; later ones must be
	 * preceded by one, or they count in irq_misses.
	 */
	uint32_t irqs_at_arm;
	uint16_t used_at_arm;
	uint32_t irq_misses;
};

struct virtio_opts {
	uint64_t want; /* optional features (device bits included) */
	uint64_t need; /* features without which start fails */
	enum virtio_irq_mode irq;
	uint16_t queue_size; /* 0: the device's maximum, capped at 256 */
	bool indirect;	     /* use indirect tables when negotiated */
	uint64_t timeout_us; /* for resets and request waits; 0: 5 s */
	bool quiet;	     /* no line when a device comes up */
};

struct virtio_dev {
	struct pci_dev *pci;
	uint16_t device_id; /* virtio device id (2 = blk) */
	char name[24];	    /* "virtio-blk 00:04.0" */
	struct virtio_region common, notify, isr, device;
	uint32_t notify_mult;
	uint64_t device_features;
	uint64_t features; /* negotiated */
	uint16_t num_queues;
	struct virtio_opts opts;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	/* Interrupts. */
	bool msix_on;
	int config_vector;
	volatile uint32_t config_irqs;
	volatile uint32_t intx_irqs;
	bool intx_routed;
};

/*
 * Fills opts from the command line: event_idx=0|1 and indirect=0|1
 * (default 1: offer what the device offers), irq=poll|msix|intx (default
 * def_irq), qsize=N, timeout_ms=N.
 */
void virtio_opts_from_cmdline(struct virtio_opts *o, enum virtio_irq_mode def);

/*
 * The nth virtio function of device type type on bus 0: the modern id
 * (0x1040 + type) or, when legacy_id is not 0, the transitional id
 * legacy_id with type in the subsystem id. NULL when there is none.
 */
struct pci_dev *virtio_find(unsigned int type, uint16_t legacy_id,
			    unsigned int nth);

/*
 * Finds the virtio capabilities of a PCI function (enabling it first):
 * common, notify, ISR and device config, each checked against its BAR.
 * Returns 0, -ENODEV when it is not a modern virtio device, -EIO for
 * capabilities that point outside their BAR.
 */
int virtio_probe(struct virtio_dev *vd, struct pci_dev *pci)
	__attribute__((warn_unused_result));

/*
 * The start sequence up to FEATURES_OK (reset, ACKNOWLEDGE, DRIVER,
 * features = offered & (want | need | VERSION_1), FEATURES_OK, read back)
 * and the interrupt set-up the options ask for. Returns 0, -EOPNOTSUPP when
 * the device lacks VERSION_1 or a needed feature, -EIO when it refused
 * FEATURES_OK (status then has FAILED), -ETIMEDOUT when reset never ends.
 */
int virtio_start(struct virtio_dev *vd, const struct virtio_opts *o)
	__attribute__((warn_unused_result));
/* Sets up queue index with the options' size; after virtio_start(). */
int virtio_queue_setup(struct virtio_dev *vd, unsigned int index)
	__attribute__((warn_unused_result));
/* Sets DRIVER_OK; returns -EIO when the device reports NEEDS_RESET or
 * FAILED afterwards. */
int virtio_driver_ok(struct virtio_dev *vd) __attribute__((warn_unused_result));

/*
 * Writes 0 to device_status and waits (bounded) for it to read back 0;
 * the device then forgets queues and features. Interrupt routes stay.
 * Returns 0 or -ETIMEDOUT.
 */
int virtio_reset(struct virtio_dev *vd) __attribute__((warn_unused_result));
uint8_t virtio_status(const struct virtio_dev *vd);
bool virtio_needs_reset(const struct virtio_dev *vd);
bool virtio_has(const struct virtio_dev *vd, unsigned int bit);

/*
 * Copies len bytes of device config from off, retrying while
 * config_generation changes (a torn read). Returns 0, -EINVAL past the
 * config area, -EAGAIN when it never settles.
 */
int virtio_config_read(struct virtio_dev *vd, uint32_t off, void *buf,
		       uint32_t len) __attribute__((warn_unused_result));
int virtio_config_write(struct virtio_dev *vd, uint32_t off, const void *buf,
			uint32_t len) __attribute__((warn_unused_result));

/* One buffer of a request: device-readable, or device-writable (write). */
struct virtq_seg {
	uint64_t addr;
	uint32_t len;
	bool write;
};

/*
 * Adds a chain of n segments (readable ones first) for cookie (non-NULL).
 * It becomes visible to the device at the next virtq_kick(). With indirect
 * descriptors in use a chain of 2..VIRTQ_INDIRECT_MAX segments takes one
 * ring slot. Returns 0, -ENOSPC when the ring is full, -EINVAL.
 */
int virtq_add(struct virtq *q, const struct virtq_seg *segs, unsigned int n,
	      void *cookie) __attribute__((warn_unused_result));
/*
 * Publishes the chains added since the last kick and notifies the device
 * unless it said it does not need it (EVENT_IDX's avail_event or the
 * NO_NOTIFY flag). Returns true when it notified.
 */
bool virtq_kick(struct virtq *q);
/* Notifies unconditionally. */
void virtq_notify(struct virtq *q);
/*
 * Takes one completion: returns its cookie and the bytes the device wrote
 * through *len, or NULL when the used ring holds nothing new. A used id
 * that is out of range or not in flight is reported and skipped.
 */
void *virtq_get(struct virtq *q, uint32_t *len);
/*
 * Waits until the used ring holds an entry: by polling, or, when the
 * queue wants interrupts, also until the interrupt for that entry came
 * (up to 1 s after the entry; a completion without its interrupt counts
 * in q->irq_misses and is still returned). Checks the device status every
 * 10 ms. Returns 0, -EIO when the device reports NEEDS_RESET, -ETIMEDOUT
 * once the TSC passes deadline.
 */
int virtq_wait_used(struct virtq *q, uint64_t deadline)
	__attribute__((warn_unused_result));
/* The TSC deadline for the device's request timeout from now. */
uint64_t virtio_deadline(const struct virtio_dev *vd);
/* Chains in flight (added and not yet returned). */
unsigned int virtq_inflight(const struct virtq *q);
bool virtq_has_used(const struct virtq *q);
/*
 * Interrupt suppression for the next completion: with EVENT_IDX sets
 * used_event, else clears/sets VIRTQ_AVAIL_F_NO_INTERRUPT.
 */
void virtq_irq_arm(struct virtq *q, bool want);

/* ------------------------------------------------------------------------
 * virtio-blk.
 */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_GEOMETRY 4
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_CONFIG_WCE 11
#define VIRTIO_BLK_F_MQ 12
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_SECTOR 512

/* Device config offsets. */
#define VIRTIO_BLK_CFG_CAPACITY 0
#define VIRTIO_BLK_CFG_SIZE_MAX 8
#define VIRTIO_BLK_CFG_SEG_MAX 12
#define VIRTIO_BLK_CFG_BLK_SIZE 20
#define VIRTIO_BLK_CFG_WRITEBACK 32
#define VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS 36
#define VIRTIO_BLK_CFG_MAX_DISCARD_SEG 40
#define VIRTIO_BLK_CFG_MAX_WZ_SECTORS 48
#define VIRTIO_BLK_CFG_MAX_WZ_SEG 52

struct virtio_blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct virtio_blk_range {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags; /* bit 0: unmap (write-zeroes) */
};

/*
 * One request. It must live in RAM the device can reach (any kit memory
 * qualifies: the image, its stacks, dma_alloc()). The header, range and
 * status are what the device reads and writes; the rest is the driver's.
 */
struct vblk_req {
	struct virtio_blk_hdr hdr;
	struct virtio_blk_range range;
	volatile uint8_t status;
	volatile bool done;
	uint32_t written; /* bytes the device reported (status included) */
	void *data;
	uint32_t len;
	void *priv; /* for the caller */
};

struct vblk {
	struct virtio_dev vd;
	struct virtq *q;
	uint64_t capacity; /* 512-byte sectors */
	uint32_t blk_size;
	uint32_t seg_max, size_max;
	uint32_t max_discard_sectors, max_discard_seg;
	uint32_t max_wz_sectors, max_wz_seg;
	bool ro;
};

/* Features blk asks for by default: everything this driver speaks. */
#define VBLK_FEATURES                                                          \
	(VIRTIO_BIT(VIRTIO_BLK_F_SIZE_MAX) |                                   \
	 VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_RO) |      \
	 VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) |  \
	 VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) |                                    \
	 VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES))

/*
 * The nth virtio-blk function on bus 0 (modern id 0x1042 or transitional
 * 0x1001), or NULL.
 */
struct pci_dev *vblk_find(unsigned int nth);
/*
 * Brings the disk up: probe, start with o (VBLK_FEATURES are added to
 * o->want), read the config, set up queue 0, DRIVER_OK. Prints one line
 * naming the disk, its size and the negotiated features. Returns 0 or
 * -errno. Calling it again on an open disk resets and restarts it.
 */
int vblk_open(struct vblk *b, struct pci_dev *pci, const struct virtio_opts *o)
	__attribute__((warn_unused_result));

/*
 * Queues one request without notifying: type, sector, data (len bytes,
 * device-writable for IN and GET_ID, readable otherwise; NULL/0 for
 * FLUSH). DISCARD and WRITE_ZEROES take their range from r->range, which
 * vblk_prep_range() fills. Returns 0, -ENOSPC when the queue is full,
 * -EINVAL.
 */
int vblk_submit(struct vblk *b, struct vblk_req *r, uint32_t type,
		uint64_t sector, void *data, uint32_t len)
	__attribute__((warn_unused_result));
void vblk_prep_range(struct vblk_req *r, uint64_t sector, uint32_t n,
		     bool unmap);
/* Publishes and notifies (if the device wants it). */
bool vblk_kick(struct vblk *b);
/*
 * Takes up to max completions off the used ring (marks each request done
 * and stores it in out[] when out is not NULL). Returns the number taken.
 */
unsigned int vblk_reap(struct vblk *b, struct vblk_req **out, unsigned int max);
/*
 * Waits for r to complete, taking completions one by one through
 * virtq_wait_used() (so, in an interrupt mode, each must come with its
 * interrupt; misses count in b->q->irq_misses). Returns 0, -ETIMEDOUT,
 * or -EIO when the device reports NEEDS_RESET meanwhile.
 */
int vblk_wait(struct vblk *b, struct vblk_req *r)
	__attribute__((warn_unused_result));

/*
 * One request, submitted, kicked and waited for. Returns the status byte
 * (VIRTIO_BLK_S_*) or -errno.
 */
int vblk_do(struct vblk *b, uint32_t type, uint64_t sector, void *data,
	    uint32_t len) __attribute__((warn_unused_result));
int vblk_read(struct vblk *b, uint64_t sector, void *buf, uint32_t len)
	__attribute__((warn_unused_result));
int vblk_write(struct vblk *b, uint64_t sector, const void *buf, uint32_t len)
	__attribute__((warn_unused_result));
int vblk_flush(struct vblk *b) __attribute__((warn_unused_result));
/* Copies the serial (up to 20 bytes, NUL-terminated) into id[21]. */
int vblk_get_id(struct vblk *b, char id[VIRTIO_BLK_ID_BYTES + 1])
	__attribute__((warn_unused_result));
int vblk_discard(struct vblk *b, uint64_t sector, uint32_t n)
	__attribute__((warn_unused_result));
int vblk_write_zeroes(struct vblk *b, uint64_t sector, uint32_t n, bool unmap)
	__attribute__((warn_unused_result));
const char *vblk_status_name(int status);

/*
 * A pattern pass over [start, start + sectors): writes the pattern
 * (filled just before each request) or reads and checks it, in requests
 * of chunk bytes, batch of them per kick. buf holds batch * chunk bytes
 * and reqs batch requests. Prints the first failure as "<who>: ...".
 * Returns VBLK_PASS_OK, VBLK_PASS_MISMATCH or VBLK_PASS_IOERR (a failed
 * submission, a timeout, NEEDS_RESET or a status other than OK).
 */
struct vblk_pass {
	struct vblk *b;
	const char *who;
	uint64_t start, sectors;
	uint32_t chunk;
	unsigned int batch;
	uint8_t seed;
	uint8_t *buf;
	struct vblk_req *reqs;
};

#define VBLK_PASS_OK 0
#define VBLK_PASS_MISMATCH 1
#define VBLK_PASS_IOERR 2
int vblk_pattern_pass(const struct vblk_pass *p, bool write);
/* Allocates p->buf and p->reqs for p->batch and p->chunk; -ENOMEM. */
int vblk_pass_alloc(struct vblk_pass *p);

/*
 * The kit's disk pattern (README.md, "Disk pattern"): in sector s, bytes
 * 0-7 hold s ^ (seed * 0x0101010101010101) little-endian and byte i >= 8
 * holds (i * 7 + s + seed) & 0xff. seed 0 is the pattern hosts prepare for
 * blk_read. Run these at CPL3 for big buffers: they are byte loops.
 */
void blk_pattern_fill(void *buf, uint64_t sector, uint32_t nsect, uint8_t seed);
/* Returns -1 when buf matches, else the offset of the first bad byte. */
int64_t blk_pattern_check(const void *buf, uint64_t sector, uint32_t nsect,
			  uint8_t seed);

#endif
