// SPDX-License-Identifier: Apache-2.0
/*
 * Split virtqueues (virtio 1.2, 2.7): the device's side of the descriptor
 * table, the available ring and the used ring.
 *
 * Everything here reads memory the guest writes concurrently, from another
 * CPU, with hostile intent. The rules that keep the VMM safe:
 *  - every guest address is turned into a host pointer by
 *    rv_mem_gpa_to_hva() with the full length of the access, on every call;
 *    nothing caches a host pointer, so a reset or a memory change cannot
 *    leave a stale one behind;
 *  - a value the guest can change (a descriptor, a ring entry, an index) is
 *    loaded once into a local, validated, and only the local is used;
 *  - every loop is bounded: a chain by the queue size, an indirect table by
 *    its own length, and both by the caller's segment capacity.
 *
 * Memory ordering. The guest is another CPU, so the accesses to shared
 * fields are C11 atomics (relaxed unless stated) and the barriers pair with
 * the driver's as follows:
 *  (A) pop: avail->idx is loaded with acquire. It pairs with the driver's
 *      write barrier between filling the ring entry and descriptors and
 *      storing avail->idx (2.7.13.3), so the ring entry and the descriptors
 *      read afterwards are at least as new as the index.
 *  (B) push: the used element is stored, then used->idx with release. It
 *      pairs with the driver's read barrier between loading used->idx and
 *      reading the element (2.7.14).
 *  (C) should_notify: a full fence between storing used->idx and loading
 *      used_event / avail->flags. It pairs with the driver's full barrier
 *      between storing used_event (re-enabling interrupts) and re-reading
 *      used->idx, so either the driver sees our new index or we see its new
 *      used_event: an interrupt is never lost.
 *  (D) enable_notify: a full fence between storing avail_event (or the
 *      used flags) and re-loading avail->idx. It pairs with the driver's
 *      full barrier between storing avail->idx and loading avail_event
 *      before deciding to notify (2.7.13.4), so a buffer added meanwhile is
 *      either seen here or notified.
 */
#include "raevm/virtio.h"

#include "raevm/mem.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DESC_SIZE 16u

/* struct virtq_desc as laid out in guest memory (little-endian). */
struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Byte offsets inside the rings. */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 2
#define AVAIL_RING 4
#define USED_FLAGS 0
#define USED_IDX 2
#define USED_RING 4
#define USED_ELEM_SIZE 8u

static uint64_t avail_bytes(uint16_t size)
{
	/* flags, idx, ring[size], used_event */
	return 6 + 2ULL * size;
}

static uint64_t used_bytes(uint16_t size)
{
	/* flags, idx, ring[size], avail_event */
	return 6 + (uint64_t)USED_ELEM_SIZE * size;
}

static uint16_t load16(const uint8_t *p, int order)
{
	return le16toh(
		__atomic_load_n((const uint16_t *)(const void *)p, order));
}

static void store16(uint8_t *p, uint16_t v, int order)
{
	__atomic_store_n((uint16_t *)(void *)p, htole16(v), order);
}

static void store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, htole32(v), __ATOMIC_RELAXED);
}

int rv_virtq_chain_init(struct rv_virtq_chain *chain, unsigned int max_segs)
{
	memset(chain, 0, sizeof(*chain));
	if (max_segs == 0 || max_segs > 65536)
		return -EINVAL;
	chain->iov = calloc(max_segs, sizeof(*chain->iov));
	if (!chain->iov)
		return -ENOMEM;
	chain->cap = max_segs;
	return 0;
}

void rv_virtq_chain_free(struct rv_virtq_chain *chain)
{
	if (!chain)
		return;
	free(chain->iov);
	chain->iov = NULL;
	chain->cap = 0;
}

void rv_virtq_reset(struct rv_virtq *q)
{
	/*
	 * Disabled first, with release, pairing with the acquire in
	 * snapshot(): an I/O thread that still sees the queue enabled may
	 * read a mix of old and reset fields, which is safe because it reads
	 * each once and checks the copy it uses.
	 */
	__atomic_store_n(&q->enabled, false, __ATOMIC_RELEASE);
	__atomic_store_n(&q->size, q->max_size, __ATOMIC_RELAXED);
	__atomic_store_n(&q->desc_gpa, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&q->avail_gpa, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&q->used_gpa, 0, __ATOMIC_RELAXED);
	q->msix_vector = RV_VIRTIO_MSI_NO_VECTOR;
	q->event_idx = false;
	q->indirect = false;
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_used = 0;
	q->signalled_used_valid = false;
}

void rv_virtq_init(struct rv_virtq *q, const struct rv_mem *mem, uint16_t index,
		   uint16_t max_size)
{
	memset(q, 0, sizeof(*q));
	q->index = index;
	q->max_size = max_size;
	q->mem = mem;
	rv_virtq_reset(q);
}

int rv_virtq_validate(const struct rv_virtq *q)
{
	uint16_t size = q->size;

	if (!q->mem || size == 0 || (size & (size - 1)) || size > q->max_size)
		return -EINVAL;
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	if (!rv_mem_gpa_to_hva(q->mem, q->desc_gpa, (uint64_t)DESC_SIZE * size))
		return -EFAULT;
	if (!rv_mem_gpa_to_hva(q->mem, q->avail_gpa, avail_bytes(size)))
		return -EFAULT;
	if (!rv_mem_gpa_to_hva(q->mem, q->used_gpa, used_bytes(size)))
		return -EFAULT;
	return 0;
}

/*
 * The queue's layout as one call sees it. The fields are read once per
 * call, and the bounds checks and the index arithmetic use only these
 * copies, so a transport that rewrites q (a reset racing an I/O thread)
 * cannot make a ring access go past the length that was checked.
 */
struct layout {
	const struct rv_mem *mem;
	uint16_t size; /* a power of two */
	uint64_t desc, avail, used;
};

/* Fills l; false when the queue is disabled or its layout is unusable. */
static bool snapshot(const struct rv_virtq *q, struct layout *l)
{
	/* Pairs with the release stores of enable (transport) and reset. */
	if (!__atomic_load_n(&q->enabled, __ATOMIC_ACQUIRE))
		return false;
	l->mem = q->mem;
	l->size = __atomic_load_n(&q->size, __ATOMIC_RELAXED);
	l->desc = __atomic_load_n(&q->desc_gpa, __ATOMIC_RELAXED);
	l->avail = __atomic_load_n(&q->avail_gpa, __ATOMIC_RELAXED);
	l->used = __atomic_load_n(&q->used_gpa, __ATOMIC_RELAXED);
	return l->mem && l->size && !(l->size & (l->size - 1));
}

/* The avail and used rings as host pointers, or NULL when not in RAM. */
static uint8_t *avail_ring(const struct layout *l)
{
	return rv_mem_gpa_to_hva(l->mem, l->avail, avail_bytes(l->size));
}

static uint8_t *used_ring(const struct layout *l)
{
	return rv_mem_gpa_to_hva(l->mem, l->used, used_bytes(l->size));
}

/* Copies descriptor idx of a table out of guest memory. */
static void read_desc(const uint8_t *table, uint32_t idx, struct vdesc *d)
{
	struct vdesc raw;

	/*
	 * One copy, then only the copy is looked at: the guest may rewrite
	 * the descriptor at any moment. memcpy because an indirect table
	 * need not be aligned.
	 */
	memcpy(&raw, table + (uint64_t)idx * DESC_SIZE, sizeof(raw));
	d->addr = le64toh(raw.addr);
	d->len = le32toh(raw.len);
	d->flags = le16toh(raw.flags);
	d->next = le16toh(raw.next);
}

/* Where the walk currently reads descriptors from. */
struct walk {
	const uint8_t *table;
	uint32_t entries; /* descriptors in table */
	uint32_t visited; /* descriptors visited in table */
	bool indirect;	  /* table is an indirect table */
	uint64_t total;	  /* bytes in the chain so far */
};

/* Switches the walk to the indirect table d points at. */
static int enter_indirect(const struct rv_virtq *q, const struct layout *l,
			  struct walk *w, const struct vdesc *d)
{
	if (!q->indirect || w->indirect || (d->flags & RV_VIRTQ_DESC_F_NEXT))
		return -EPROTO;
	if (d->len == 0 || d->len % DESC_SIZE)
		return -EPROTO;
	w->table = rv_mem_gpa_to_hva(l->mem, d->addr, d->len);
	if (!w->table)
		return -EFAULT;
	w->entries = d->len / DESC_SIZE;
	w->visited = 0;
	w->indirect = true;
	return 0;
}

/* Appends the buffer d describes to chain. */
static int add_segment(const struct layout *l, struct rv_virtq_chain *chain,
		       struct walk *w, const struct vdesc *d)
{
	unsigned int n = chain->nr_out + chain->nr_in;
	struct iovec *iov;
	void *hva = NULL;

	if (n >= chain->cap)
		return -E2BIG;
	if (d->flags & RV_VIRTQ_DESC_F_WRITE) {
		chain->nr_in++;
		chain->in_len += d->len;
	} else {
		/* The driver must put readable buffers before writable ones. */
		if (chain->nr_in)
			return -EPROTO;
		chain->nr_out++;
		chain->out_len += d->len;
	}
	if (d->len) {
		hva = rv_mem_gpa_to_hva(l->mem, d->addr, d->len);
		if (!hva)
			return -EFAULT;
	}
	/* 2.7.5: a chain is at most 2^32 bytes in total. */
	w->total += d->len;
	if (w->total > (1ULL << 32))
		return -EOVERFLOW;
	iov = &chain->iov[n];
	iov->iov_base = hva;
	iov->iov_len = d->len;
	return 0;
}

static int walk_chain(const struct rv_virtq *q, const struct layout *l,
		      struct rv_virtq_chain *chain, uint16_t head)
{
	struct walk w = { .entries = l->size };
	uint32_t idx = head;
	struct vdesc d;
	int rc;

	w.table = rv_mem_gpa_to_hva(l->mem, l->desc,
				    (uint64_t)DESC_SIZE * l->size);
	if (!w.table)
		return -EFAULT;
	for (;;) {
		if (idx >= w.entries)
			return -ERANGE;
		/*
		 * A chain visits each descriptor of a table at most once, so
		 * more visits than entries means a loop.
		 */
		if (++w.visited > w.entries)
			return -ELOOP;
		read_desc(w.table, idx, &d);
		if (d.flags & RV_VIRTQ_DESC_F_INDIRECT) {
			/* The WRITE flag of this descriptor is ignored (2.7.5.3.2). */
			rc = enter_indirect(q, l, &w, &d);
			if (rc)
				return rc;
			idx = 0;
			continue;
		}
		rc = add_segment(l, chain, &w, &d);
		if (rc)
			return rc;
		if (!(d.flags & RV_VIRTQ_DESC_F_NEXT))
			return 0;
		idx = d.next;
	}
}

int rv_virtq_pop(struct rv_virtq *q, struct rv_virtq_chain *chain)
{
	struct layout l;
	const uint8_t *avail;
	uint16_t avail_idx, pending, head;
	int rc;

	if (!snapshot(q, &l))
		return 0;
	avail = avail_ring(&l);
	if (!avail)
		return -EFAULT;
	/* (A): the ring entry and descriptors are read after this load. */
	avail_idx = load16(avail + AVAIL_IDX, __ATOMIC_ACQUIRE);
	pending = (uint16_t)(avail_idx - q->last_avail);
	if (pending == 0)
		return 0;
	if (pending > l.size)
		return -EPROTO;
	head = load16(avail + AVAIL_RING + 2u * (q->last_avail & (l.size - 1)),
		      __ATOMIC_RELAXED);

	chain->head = head;
	chain->nr_out = 0;
	chain->nr_in = 0;
	chain->out_len = 0;
	chain->in_len = 0;
	rc = walk_chain(q, &l, chain, head);
	if (rc)
		return rc;
	q->last_avail++;
	return 1;
}

int rv_virtq_push(struct rv_virtq *q, uint16_t head, uint32_t written)
{
	struct layout l;
	uint8_t *used, *elem;

	if (!snapshot(q, &l) || head >= l.size)
		return -EINVAL;
	used = used_ring(&l);
	if (!used)
		return -EFAULT;
	elem = used + USED_RING + USED_ELEM_SIZE * (q->used_idx & (l.size - 1));
	store32(elem, head);
	store32(elem + 4, written);
	q->used_idx++;
	/* (B): the element above is visible before the index that covers it. */
	store16(used + USED_IDX, q->used_idx, __ATOMIC_RELEASE);
	return 0;
}

bool rv_virtq_should_notify(struct rv_virtq *q)
{
	struct layout l;
	const uint8_t *avail;
	uint16_t old, used_event;
	bool valid;

	if (!snapshot(q, &l))
		return false;
	avail = avail_ring(&l);
	if (!avail)
		return false;
	/* (C): our used->idx store is ordered before the loads below. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(load16(avail + AVAIL_FLAGS, __ATOMIC_RELAXED) &
			 RV_VIRTQ_AVAIL_F_NO_INTERRUPT);
	old = q->signalled_used;
	valid = q->signalled_used_valid;
	q->signalled_used = q->used_idx;
	q->signalled_used_valid = true;
	/* Nothing signalled since the queue was enabled: interrupt once. */
	if (!valid)
		return true;
	used_event = load16(avail + AVAIL_RING + 2u * l.size, __ATOMIC_RELAXED);
	return rv_virtq_need_event(used_event, q->used_idx, old);
}

bool rv_virtq_enable_notify(struct rv_virtq *q)
{
	struct layout l;
	const uint8_t *avail;
	uint8_t *used;
	uint16_t flags;

	if (!snapshot(q, &l))
		return false;
	avail = avail_ring(&l);
	used = used_ring(&l);
	if (!avail || !used)
		return false;
	if (q->event_idx) {
		store16(used + USED_RING + USED_ELEM_SIZE * l.size,
			q->last_avail, __ATOMIC_RELAXED);
	} else {
		flags = load16(used + USED_FLAGS, __ATOMIC_RELAXED);
		store16(used + USED_FLAGS, flags & ~RV_VIRTQ_USED_F_NO_NOTIFY,
			__ATOMIC_RELAXED);
	}
	/* (D): the store above is ordered before re-reading avail->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return load16(avail + AVAIL_IDX, __ATOMIC_ACQUIRE) != q->last_avail;
}

void rv_virtq_disable_notify(struct rv_virtq *q)
{
	struct layout l;
	uint8_t *used;
	uint16_t flags;

	if (!snapshot(q, &l) || q->event_idx)
		return;
	used = used_ring(&l);
	if (!used)
		return;
	flags = load16(used + USED_FLAGS, __ATOMIC_RELAXED);
	store16(used + USED_FLAGS, flags | RV_VIRTQ_USED_F_NO_NOTIFY,
		__ATOMIC_RELAXED);
}

const char *rv_virtq_strerror(int err)
{
	switch (err) {
	case -EPROTO:
		return "malformed descriptor chain or avail index";
	case -ERANGE:
		return "descriptor index out of range";
	case -ELOOP:
		return "descriptor loop or chain longer than the queue";
	case -EFAULT:
		return "address outside guest RAM";
	case -EOVERFLOW:
		return "chain longer than 4 GiB";
	case -E2BIG:
		return "chain has more segments than the device supports";
	case -EINVAL:
		return "invalid queue layout";
	default:
		return "queue error";
	}
}
