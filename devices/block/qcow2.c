// SPDX-License-Identifier: Apache-2.0
/*
 * qcow2 at run time: reads through L1 -> L2 -> data with zero clusters and
 * backing files, writes that allocate clusters (copy-on-write of partial
 * clusters from the backing file), refcounts, discard and write-zeroes.
 *
 * Crash safety. The rule is "leaks after a crash, corruption never", for a
 * killed process and for a power cut alike. It comes from the order in
 * which things reach the disk:
 *   1. a new cluster's refcount is written (write-through) as soon as the
 *      cluster is allocated, and its data right after;
 *   2. L2 changes stay in the L2 cache (dirty, pinned) and L1 changes in
 *      memory until a barrier: fdatasync, then the L2 tables, then (if the
 *      L1 table changed) fdatasync and the L1 entries, then fdatasync;
 *   3. clusters that lost their last reference are freed (refcount 0) only
 *      after that last fdatasync, so a cluster is never reused while an
 *      older table on disk may still point at it.
 * The barrier runs on every flush and when the L2 cache has no clean slot.
 * A new refcount block or refcount table is made durable (fdatasync) before
 * anything points at it. The image's dirty bit is never set: refcounts are
 * always exact on disk, give or take leaks.
 */
#include "qcow2.h"

#include "raevm/log.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct qcow2 *to_q(struct rv_blk *blk)
{
	return rv_container_of(blk, struct qcow2, blk);
}

static int sync_metadata(struct qcow2 *q, bool *synced) RV_MUST_CHECK;

/* A failed metadata write leaves memory and disk apart: stop writing. */
static int broken(struct qcow2 *q, int rc)
{
	if (!q->broken)
		rv_error("'%s': metadata update failed (%s); the image is "
			 "read-only until it is reopened",
			 q->blk.path, rv__blk_strerror(-rc));
	q->broken = true;
	return rc;
}

/* ---- the L2 table cache ---- */

/* A slot for a table: free, or the least recently used clean one. */
static int l2_slot(struct qcow2 *q, struct qcow2_l2 **out)
{
	struct qcow2_l2 *best = NULL;
	bool synced;
	int i, rc;

	for (i = 0; i < q->n_l2; i++) {
		struct qcow2_l2 *s = &q->l2c[i];

		if (!s->offset) {
			*out = s;
			return 0;
		}
		if (!s->dirty && (!best || s->used < best->used))
			best = s;
	}
	if (!best) {
		/* Every slot is dirty: write them out in order. */
		rc = sync_metadata(q, &synced);
		if (rc)
			return rc;
		for (i = 0; i < q->n_l2; i++)
			if (!best || q->l2c[i].used < best->used)
				best = &q->l2c[i];
	}
	best->offset = 0;
	*out = best;
	return 0;
}

/*
 * The open-time scan checked every table, but the file may have changed
 * since (another writer ignoring the lock): check again what is loaded.
 */
static bool l2_valid(const struct qcow2 *q, const uint64_t *t)
{
	uint64_t bad = QCOW2_OFLAG_COMPRESSED | QCOW2_L2_RESERVED, i;

	if (q->h.version == 2)
		bad |= QCOW2_OFLAG_ZERO;
	for (i = 0; i < (1ULL << q->l2_bits); i++)
		if (be64toh(t[i]) & bad)
			return false;
	return true;
}

static int l2_load(struct qcow2 *q, uint64_t offset, struct qcow2_l2 **out)
{
	struct qcow2_l2 *s;
	int i, rc;

	for (i = 0; i < q->n_l2; i++) {
		if (q->l2c[i].offset == offset) {
			q->l2c[i].used = ++q->tick;
			*out = &q->l2c[i];
			return 0;
		}
	}
	rc = l2_slot(q, &s);
	if (rc)
		return rc;
	rc = rv__blk_pread_full(q->fd, s->table, q->cs, offset);
	if (rc)
		return rc;
	if (!l2_valid(q, s->table)) {
		rv_error("'%s': the L2 table at 0x%llx is corrupt", q->blk.path,
			 (unsigned long long)offset);
		return -EIO;
	}
	s->offset = offset;
	s->dirty = false;
	s->used = ++q->tick;
	*out = s;
	return 0;
}

/* ---- refcounts and allocation ---- */

static int rb_load(struct qcow2 *q, uint64_t offset, struct qcow2_rb **out)
{
	struct qcow2_rb *best = &q->rbc[0];
	int i, rc;

	for (i = 0; i < QCOW2_RB_CACHE; i++) {
		if (q->rbc[i].offset == offset) {
			q->rbc[i].used = ++q->tick;
			*out = &q->rbc[i];
			return 0;
		}
		if (q->rbc[i].used < best->used)
			best = &q->rbc[i];
	}
	best->offset = 0;
	rc = rv__blk_pread_full(q->fd, best->block, q->cs, offset);
	if (rc)
		return rc;
	best->offset = offset;
	best->used = ++q->tick;
	*out = best;
	return 0;
}

/* Sets the refcount of cluster idx, whose refcount block must exist. */
static int refcount_set(struct qcow2 *q, uint64_t idx, uint64_t v)
{
	uint64_t j = idx / q->rb_entries, byte;
	struct qcow2_rb *b;
	uint32_t len;
	int rc;

	if (j >= q->rt_entries || !q->rt[j])
		return -EIO;
	rc = rb_load(q, q->rt[j], &b);
	if (rc)
		return rc;
	qcow2_rc_put(q->h.refcount_order, b->block, idx % q->rb_entries, v,
		     &byte, &len);
	rc = rv__blk_pwrite_full(q->fd, b->block + byte, len, q->rt[j] + byte);
	if (rc)
		b->offset = 0; /* the cached copy is ahead of the disk */
	return rc;
}

/* The lowest cluster with refcount 0 below the end, or the end. */
static int find_free(struct qcow2 *q, uint64_t *out)
{
	uint64_t i = q->free_hint;
	int rc;

	while (i < q->end) {
		uint64_t j = i / q->rb_entries, lim;
		struct qcow2_rb *b;

		if (j >= q->rt_entries)
			break;
		if (!q->rt[j]) {
			i = (j + 1) * q->rb_entries;
			continue;
		}
		rc = rb_load(q, q->rt[j], &b);
		if (rc)
			return rc;
		lim = (j + 1) * q->rb_entries;
		if (lim > q->end)
			lim = q->end;
		for (; i < lim; i++) {
			if (qcow2_rc_get(q->h.refcount_order, b->block,
					 i % q->rb_entries) == 0) {
				q->free_hint = i + 1;
				*out = i;
				return 0;
			}
		}
	}
	q->free_hint = q->end;
	*out = q->end;
	return 0;
}

static int defer_free(struct qcow2 *q, uint64_t offset, uint64_t count)
{
	bool synced;
	int rc;

	if (q->n_deferred == QCOW2_MAX_DEFERRED) {
		rc = sync_metadata(q, &synced);
		if (rc)
			return rc;
	}
	q->deferred[q->n_deferred].offset = offset;
	q->deferred[q->n_deferred].count = count;
	q->n_deferred++;
	return 0;
}

/*
 * A refcount block for table entry j placed at cluster idx (the end of the
 * file, inside the range it counts): it counts itself.
 */
static int new_refcount_block(struct qcow2 *q, uint64_t idx, uint64_t j)
{
	uint8_t *b = calloc(1, q->cs);
	uint64_t byte, be;
	uint32_t len;
	int rc;

	if (!b)
		return -ENOMEM;
	qcow2_rc_put(q->h.refcount_order, b, idx % q->rb_entries, 1, &byte,
		     &len);
	rc = rv__blk_pwrite_full(q->fd, b, q->cs, idx << q->cbits);
	free(b);
	if (!rc && fdatasync(q->fd) < 0)
		rc = -errno;
	if (rc)
		return rc;
	be = htobe64(idx << q->cbits);
	rc = rv__blk_pwrite_full(q->fd, &be, 8, q->h.rt_offset + 8 * j);
	if (rc)
		return broken(q, rc);
	q->rt[j] = idx << q->cbits;
	q->end = idx + 1;
	return 0;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

/*
 * Moves the refcount table to the end of the file, twice as large, with
 * new refcount blocks in front of it that count the blocks and the table
 * themselves. Runs when the end of the file passes what the table covers.
 */
static int grow_refcount_table(struct qcow2 *q)
{
	uint64_t s = q->end, rbe = q->rb_entries, cs = q->cs;
	uint64_t j0 = s / rbe, j1, k = 1, t = 1, n, i, *rt, old_offset;
	uint32_t old_clusters;
	uint8_t *blocks, *table, hdr[12];
	int rc;

	for (;;) {
		uint64_t nk, nt;

		j1 = (s + k + t - 1) / rbe;
		nk = j1 - j0 + 1;
		n = q->rt_entries * 2 > j1 + 1 ? q->rt_entries * 2 : j1 + 1;
		nt = (n * 8 + cs - 1) / cs;
		if (nk == k && nt == t)
			break;
		k = nk;
		t = nt;
	}
	n = t * cs / 8;
	if (t * cs > QCOW2_MAX_RT_BYTES ||
	    ((s + k + t) << q->cbits) >= QCOW2_MAX_SIZE)
		return -EFBIG;
	blocks = calloc(k, cs);
	table = calloc(t, cs);
	rt = calloc(n, 8);
	rc = -ENOMEM;
	if (!blocks || !table || !rt)
		goto out;
	for (i = s; i < s + k + t; i++) {
		uint64_t byte;
		uint32_t len;

		qcow2_rc_put(q->h.refcount_order, blocks + (i / rbe - j0) * cs,
			     i % rbe, 1, &byte, &len);
	}
	memcpy(rt, q->rt, q->rt_entries * 8);
	for (i = j0; i <= j1; i++)
		rt[i] = (s + i - j0) << q->cbits;
	for (i = 0; i < n; i++)
		put_be64(table + 8 * i, rt[i]);
	rc = rv__blk_pwrite_full(q->fd, blocks, k * cs, s << q->cbits);
	if (!rc)
		rc = rv__blk_pwrite_full(q->fd, table, t * cs,
					 (s + k) << q->cbits);
	if (!rc && fdatasync(q->fd) < 0)
		rc = -errno;
	if (rc)
		goto out;
	put_be64(hdr, (s + k) << q->cbits);
	hdr[8] = (uint8_t)(t >> 24);
	hdr[9] = (uint8_t)(t >> 16);
	hdr[10] = (uint8_t)(t >> 8);
	hdr[11] = (uint8_t)t;
	rc = rv__blk_pwrite_full(q->fd, hdr, sizeof(hdr), 48);
	if (rc) {
		rc = broken(q, rc);
		goto out;
	}
	old_offset = q->h.rt_offset;
	old_clusters = q->h.rt_clusters;
	free(q->rt);
	q->rt = rt;
	rt = NULL;
	q->rt_entries = n;
	q->h.rt_offset = (s + k) << q->cbits;
	q->h.rt_clusters = (uint32_t)t;
	q->end = s + k + t;
	/* The old table is freed once the header is durable (next barrier). */
	rc = defer_free(q, old_offset, old_clusters);
out:
	free(blocks);
	free(table);
	free(rt);
	return rc;
}

/* One cluster, refcount 1 written through; returns its host offset. */
static int alloc_cluster(struct qcow2 *q, uint64_t *out)
{
	for (;;) {
		uint64_t idx, j;
		int rc;

		rc = find_free(q, &idx);
		if (rc)
			return rc;
		if ((idx + 1) << q->cbits > QCOW2_MAX_SIZE)
			return -EFBIG;
		j = idx / q->rb_entries;
		if (j >= q->rt_entries) {
			rc = grow_refcount_table(q);
			if (rc)
				return rc;
			continue;
		}
		if (!q->rt[j]) {
			rc = new_refcount_block(q, idx, j);
			if (rc)
				return rc;
			continue;
		}
		rc = refcount_set(q, idx, 1);
		if (rc)
			return rc;
		if (idx >= q->end)
			q->end = idx + 1;
		*out = idx << q->cbits;
		return 0;
	}
}

/* ---- the barrier ---- */

static int write_l1(struct qcow2 *q)
{
	uint32_t lo = q->l1_dirty_lo, hi = q->l1_dirty_hi, i;
	uint64_t *buf = malloc((size_t)(hi - lo) * 8);
	int rc;

	if (!buf)
		return -ENOMEM;
	for (i = lo; i < hi; i++)
		buf[i - lo] = htobe64(q->l1[i]);
	rc = rv__blk_pwrite_full(q->fd, buf, (size_t)(hi - lo) * 8,
				 q->h.l1_offset + 8ULL * lo);
	free(buf);
	return rc;
}

static int free_deferred(struct qcow2 *q)
{
	size_t i;
	int rc;

	for (i = 0; i < q->n_deferred; i++) {
		uint64_t first = q->deferred[i].offset >> q->cbits, c;

		for (c = 0; c < q->deferred[i].count; c++) {
			rc = refcount_set(q, first + c, 0);
			if (rc)
				return rc;
		}
		if (first < q->free_hint)
			q->free_hint = first;
	}
	q->n_deferred = 0;
	return 0;
}

/*
 * Writes every dirty table in the crash-safe order (see the top of the
 * file). *synced says whether it ended with an fdatasync after all writes
 * that matter to the guest.
 */
static int sync_metadata(struct qcow2 *q, bool *synced)
{
	bool l2_dirty = false, l1_dirty = q->l1_dirty;
	int i, rc;

	*synced = false;
	for (i = 0; i < q->n_l2; i++)
		l2_dirty |= q->l2c[i].dirty;
	if (!l2_dirty && !l1_dirty && !q->n_deferred)
		return 0;
	if (fdatasync(q->fd) < 0)
		return broken(q, -errno);
	for (i = 0; i < q->n_l2; i++) {
		struct qcow2_l2 *s = &q->l2c[i];

		if (!s->dirty)
			continue;
		rc = rv__blk_pwrite_full(q->fd, s->table, q->cs, s->offset);
		if (rc)
			return broken(q, rc);
		s->dirty = false;
	}
	if (l1_dirty) {
		if (fdatasync(q->fd) < 0)
			return broken(q, -errno);
		rc = write_l1(q);
		if (rc)
			return broken(q, rc);
		q->l1_dirty = false;
	}
	if ((l2_dirty || l1_dirty) && fdatasync(q->fd) < 0)
		return broken(q, -errno);
	*synced = true;
	rc = free_deferred(q);
	return rc ? broken(q, rc) : 0;
}

/* ---- mapping ---- */

enum kind { K_DATA, K_ZERO, K_UNALLOC };

struct extent {
	enum kind kind;
	bool copied;
	uint64_t host; /* K_DATA: host offset of the extent's first byte */
	uint64_t len;
};

static enum kind classify(const struct qcow2 *q, uint64_t e)
{
	if (q->h.version >= 3 && (e & QCOW2_OFLAG_ZERO))
		return K_ZERO;
	return (e & QCOW2_OFFSET_MASK) ? K_DATA : K_UNALLOC;
}

/*
 * Maps guest bytes [off, off + max) as far as they stay one kind (and, for
 * data, contiguous on the host) within one L2 table.
 */
static int map(struct qcow2 *q, uint64_t off, uint64_t max, struct extent *x)
{
	uint64_t vc = off >> q->cbits, in = off & (q->cs - 1);
	uint64_t n = 1ULL << q->l2_bits, l2i = vc & (n - 1),
		 l1i = vc >> q->l2_bits;
	uint64_t room = ((n - l2i) << q->cbits) - in, e, first;
	struct qcow2_l2 *s;
	int rc;

	if (room > max)
		room = max;
	x->copied = false;
	if (l1i >= q->h.l1_size || !(q->l1[l1i] & QCOW2_OFFSET_MASK)) {
		x->kind = K_UNALLOC;
		x->len = room;
		return 0;
	}
	rc = l2_load(q, q->l1[l1i] & QCOW2_OFFSET_MASK, &s);
	if (rc)
		return rc;
	e = be64toh(s->table[l2i]);
	x->kind = classify(q, e);
	x->copied = e & QCOW2_OFLAG_COPIED;
	first = e & QCOW2_OFFSET_MASK;
	x->host = first + in;
	x->len = q->cs - in;
	while (x->len < room) {
		uint64_t next = be64toh(s->table[++l2i]);
		uint64_t step = (uint64_t)(x->len + in) >> q->cbits;

		if (classify(q, next) != x->kind ||
		    !!(next & QCOW2_OFLAG_COPIED) != x->copied)
			break;
		if (x->kind == K_DATA &&
		    (next & QCOW2_OFFSET_MASK) != first + (step << q->cbits))
			break;
		x->len += q->cs;
	}
	if (x->len > room)
		x->len = room;
	return 0;
}

/* ---- reads ---- */

static int read_backing(struct qcow2 *q, const struct iovec *iov, int iovcnt,
			uint64_t skip, uint64_t off, uint64_t len)
{
	uint64_t n = 0;
	int cnt, rc;

	if (q->backing && off < q->backing->size)
		n = len < q->backing->size - off ? len : q->backing->size - off;
	if (n) {
		cnt = rv__blk_iov_slice(iov, iovcnt, skip, n, q->scratch,
					IOV_MAX);
		if (cnt < 0)
			return cnt;
		rc = rv_blk_preadv(q->backing, q->scratch, cnt, off);
		if (rc)
			return rc;
	}
	if (len > n)
		rv__blk_iov_zero(iov, iovcnt, skip + n, len - n);
	return 0;
}

static int qcow2_preadv(struct rv_blk *blk, const struct iovec *iov, int iovcnt,
			uint64_t offset)
{
	struct qcow2 *q = to_q(blk);
	uint64_t total = rv__blk_iov_len(iov, iovcnt), done = 0;
	struct extent x;
	int cnt, rc;

	while (done < total) {
		rc = map(q, offset + done, total - done, &x);
		if (rc)
			return rc;
		switch (x.kind) {
		case K_DATA:
			cnt = rv__blk_iov_slice(iov, iovcnt, done, x.len,
						q->scratch, IOV_MAX);
			rc = cnt < 0 ? cnt :
				       rv__blk_preadv_full(q->fd, q->scratch,
							   cnt, x.host);
			break;
		case K_ZERO:
			rv__blk_iov_zero(iov, iovcnt, done, x.len);
			break;
		case K_UNALLOC:
			rc = read_backing(q, iov, iovcnt, done, offset + done,
					  x.len);
			break;
		}
		if (rc)
			return rc;
		done += x.len;
	}
	return 0;
}

/* ---- writes ---- */

/* The L2 table for guest cluster vc, allocated (empty) when missing. */
static int l2_for_write(struct qcow2 *q, uint64_t vc, struct qcow2_l2 **out)
{
	uint64_t l1i = vc >> q->l2_bits, off;
	struct qcow2_l2 *s;
	int rc;

	if (l1i >= q->h.l1_size)
		return -EIO;
	if (q->l1[l1i] & QCOW2_OFFSET_MASK)
		return l2_load(q, q->l1[l1i] & QCOW2_OFFSET_MASK, out);
	rc = alloc_cluster(q, &off);
	if (rc)
		return rc;
	rc = l2_slot(q, &s);
	if (rc)
		return rc;
	memset(s->table, 0, q->cs);
	s->offset = off;
	s->dirty = true;
	s->used = ++q->tick;
	q->l1[l1i] = off | QCOW2_OFLAG_COPIED;
	if (!q->l1_dirty) {
		q->l1_dirty_lo = (uint32_t)l1i;
		q->l1_dirty_hi = (uint32_t)l1i + 1;
	} else if (l1i < q->l1_dirty_lo) {
		q->l1_dirty_lo = (uint32_t)l1i;
	} else if (l1i >= q->l1_dirty_hi) {
		q->l1_dirty_hi = (uint32_t)l1i + 1;
	}
	q->l1_dirty = true;
	*out = s;
	return 0;
}

/* The current contents of guest cluster cstart, for copy-on-write. */
static int cow_fill(struct qcow2 *q, uint64_t cstart, bool zero)
{
	struct iovec v = { .iov_base = q->cow, .iov_len = 0 };
	uint64_t n = 0;
	int rc;

	if (!zero && q->backing && cstart < q->backing->size)
		n = q->cs < q->backing->size - cstart ?
			    q->cs :
			    q->backing->size - cstart;
	if (n) {
		v.iov_len = n;
		rc = rv_blk_preadv(q->backing, &v, 1, cstart);
		if (rc)
			return rc;
	}
	memset(q->cow + n, 0, q->cs - n);
	return 0;
}

/*
 * Writes [off, off + len) of one guest cluster that has no data cluster of
 * its own yet (unallocated or zero): a cluster is allocated (or a zero
 * cluster's preallocated one reused), filled with the old contents around
 * the new bytes, and only then mapped.
 */
static int write_new(struct qcow2 *q, const struct iovec *iov, int iovcnt,
		     uint64_t skip, uint64_t off, uint64_t len)
{
	uint64_t vc = off >> q->cbits, in = off & (q->cs - 1), e, host;
	uint64_t l2i = vc & ((1ULL << q->l2_bits) - 1);
	struct qcow2_l2 *s;
	bool zero;
	int cnt, rc;

	rc = l2_for_write(q, vc, &s);
	if (rc)
		return rc;
	e = be64toh(s->table[l2i]);
	zero = classify(q, e) == K_ZERO;
	host = e & QCOW2_OFFSET_MASK;
	if (!(zero && host)) {
		rc = alloc_cluster(q, &host);
		if (rc)
			return rc;
	}
	if (in == 0 && len == q->cs) {
		cnt = rv__blk_iov_slice(iov, iovcnt, skip, len, q->scratch,
					IOV_MAX);
		rc = cnt < 0 ?
			     cnt :
			     rv__blk_pwritev_full(q->fd, q->scratch, cnt, host);
	} else {
		rc = cow_fill(q, vc << q->cbits, zero);
		if (!rc) {
			rv__blk_iov_to_buf(iov, iovcnt, skip, q->cow + in, len);
			rc = rv__blk_pwrite_full(q->fd, q->cow, q->cs, host);
		}
	}
	if (rc)
		return rc;
	/* l2_for_write()'s slot is still ours: nothing above evicts. */
	s->table[l2i] = htobe64(host | QCOW2_OFLAG_COPIED);
	s->dirty = true;
	return 0;
}

static int qcow2_pwritev(struct rv_blk *blk, const struct iovec *iov,
			 int iovcnt, uint64_t offset)
{
	struct qcow2 *q = to_q(blk);
	uint64_t total = rv__blk_iov_len(iov, iovcnt), done = 0;
	struct extent x;
	int cnt, rc;

	if (q->broken)
		return -EIO;
	while (done < total) {
		uint64_t off = offset + done;

		rc = map(q, off, total - done, &x);
		if (rc)
			return rc;
		if (x.kind == K_DATA) {
			if (!x.copied)
				return -EIO;
			cnt = rv__blk_iov_slice(iov, iovcnt, done, x.len,
						q->scratch, IOV_MAX);
			rc = cnt < 0 ? cnt :
				       rv__blk_pwritev_full(q->fd, q->scratch,
							    cnt, x.host);
		} else {
			uint64_t in = off & (q->cs - 1);

			if (x.len > q->cs - in)
				x.len = q->cs - in;
			rc = write_new(q, iov, iovcnt, done, off, x.len);
		}
		if (rc)
			return rc;
		done += x.len;
	}
	return 0;
}

/* ---- discard and write-zeroes ---- */

enum zmode { Z_DISCARD, Z_UNMAP, Z_KEEP };

static int write_zero_bytes(struct qcow2 *q, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[4096];
	struct iovec v[(QCOW2_MAX_CLUSTER_BITS > 12 ?
				1 << (QCOW2_MAX_CLUSTER_BITS - 12) :
				1) +
		       1];
	int n = 0;
	uint64_t left = len;

	/* Callers pass at most one cluster (2 MiB): it fits in v. */
	while (left) {
		uint64_t take = left < sizeof(zeros) ? left : sizeof(zeros);

		v[n].iov_base = (void *)(uintptr_t)zeros;
		v[n].iov_len = take;
		n++;
		left -= take;
	}
	return qcow2_pwritev(&q->blk, v, n, off);
}

/* The entry a whole guest cluster gets; returns 1 to write zeros instead. */
static int zero_entry(const struct qcow2 *q, uint64_t e, enum zmode m,
		      uint64_t *out)
{
	uint64_t host = classify(q, e) == K_UNALLOC ? 0 : e & QCOW2_OFFSET_MASK;
	bool back = q->backing != NULL;

	if (q->h.version < 3) {
		/* No zero flag: only "unallocated, no backing" reads zeros. */
		if (m == Z_DISCARD && back) {
			*out = e;
			return 0;
		}
		if (back || m == Z_KEEP)
			return 1;
		*out = 0;
		return 0;
	}
	if (m == Z_KEEP && host)
		*out = host | QCOW2_OFLAG_ZERO | QCOW2_OFLAG_COPIED;
	else
		*out = back ? QCOW2_OFLAG_ZERO : 0;
	return 0;
}

static int zero_cluster(struct qcow2 *q, uint64_t vc, enum zmode m)
{
	uint64_t l1i = vc >> q->l2_bits, l2i = vc & ((1ULL << q->l2_bits) - 1);
	uint64_t e = 0, ne, host, cstart = vc << q->cbits;
	struct qcow2_l2 *s = NULL;
	int rc;

	if (l1i < q->h.l1_size && (q->l1[l1i] & QCOW2_OFFSET_MASK)) {
		rc = l2_load(q, q->l1[l1i] & QCOW2_OFFSET_MASK, &s);
		if (rc)
			return rc;
		e = be64toh(s->table[l2i]);
	}
	rc = zero_entry(q, e, m, &ne);
	if (rc == 1) {
		uint64_t n = q->blk.size - cstart < q->cs ?
				     q->blk.size - cstart :
				     q->cs;

		return write_zero_bytes(q, cstart, n);
	}
	if (ne == e)
		return 0;
	if (!s) {
		rc = l2_for_write(q, vc, &s);
		if (rc)
			return rc;
	}
	host = classify(q, e) == K_UNALLOC ? 0 : e & QCOW2_OFFSET_MASK;
	if (host && !(ne & QCOW2_OFFSET_MASK)) {
		rc = defer_free(q, host, 1);
		if (rc)
			return rc;
	}
	/* defer_free() may run the barrier, which keeps slots in place. */
	s->table[l2i] = htobe64(ne);
	s->dirty = true;
	return 0;
}

static int zero_range(struct qcow2 *q, uint64_t off, uint64_t len, enum zmode m)
{
	int rc = 0;

	if (q->broken)
		return -EIO;
	while (len && !rc) {
		uint64_t in = off & (q->cs - 1);
		uint64_t n = q->cs - in < len ? q->cs - in : len;
		bool whole = in == 0 && (n == q->cs || off + n == q->blk.size);

		if (whole)
			rc = zero_cluster(q, off >> q->cbits, m);
		else if (m != Z_DISCARD)
			rc = write_zero_bytes(q, off, n);
		off += n;
		len -= n;
	}
	return rc;
}

static int qcow2_discard(struct rv_blk *blk, uint64_t offset, uint64_t len)
{
	return zero_range(to_q(blk), offset, len, Z_DISCARD);
}

static int qcow2_write_zeroes(struct rv_blk *blk, uint64_t offset, uint64_t len,
			      bool may_unmap)
{
	return zero_range(to_q(blk), offset, len, may_unmap ? Z_UNMAP : Z_KEEP);
}

/* ---- flush, close ---- */

static int qcow2_flush(struct rv_blk *blk)
{
	struct qcow2 *q = to_q(blk);
	bool synced;
	int rc;

	if (q->broken)
		return -EIO;
	rc = sync_metadata(q, &synced);
	if (!rc && !synced && fdatasync(q->fd) < 0)
		rc = -errno;
	return rc;
}

static void qcow2_close(struct rv_blk *blk)
{
	struct qcow2 *q = to_q(blk);
	bool synced;

	if (!q->blk.readonly && !q->broken && sync_metadata(q, &synced) == 0 &&
	    !synced)
		(void)fdatasync(q->fd);
	rv__qcow2_free(q);
}

const struct rv_blk_ops rv__qcow2_ops = {
	.name = "qcow2",
	.preadv = qcow2_preadv,
	.pwritev = qcow2_pwritev,
	.flush = qcow2_flush,
	.discard = qcow2_discard,
	.write_zeroes = qcow2_write_zeroes,
	.close = qcow2_close,
};

int rv__qcow2_init_runtime(struct qcow2 *q)
{
	int i;

	q->n_l2 = (int)((1ULL << 20) >> q->cbits);
	if (q->n_l2 < 4)
		q->n_l2 = 4;
	if (q->n_l2 > QCOW2_L2_CACHE_MAX)
		q->n_l2 = QCOW2_L2_CACHE_MAX;
	for (i = 0; i < q->n_l2; i++)
		if (!(q->l2c[i].table = malloc(q->cs)))
			return -ENOMEM;
	for (i = 0; i < QCOW2_RB_CACHE; i++)
		if (!(q->rbc[i].block = malloc(q->cs)))
			return -ENOMEM;
	q->cow = malloc(q->cs);
	q->scratch = calloc(IOV_MAX, sizeof(*q->scratch));
	q->deferred = calloc(QCOW2_MAX_DEFERRED, sizeof(*q->deferred));
	if (!q->cow || !q->scratch || !q->deferred)
		return -ENOMEM;
	return 0;
}

void rv__qcow2_free(struct qcow2 *q)
{
	int i;

	if (!q)
		return;
	rv_blk_close(q->backing);
	for (i = 0; i < QCOW2_L2_CACHE_MAX; i++)
		free(q->l2c[i].table);
	for (i = 0; i < QCOW2_RB_CACHE; i++)
		free(q->rbc[i].block);
	free(q->cow);
	free(q->scratch);
	free(q->deferred);
	free(q->l1);
	free(q->rt);
	if (q->fd >= 0)
		close(q->fd);
	free(q->blk.path);
	free(q);
}
