// SPDX-License-Identifier: Apache-2.0
/*
 * qcow2 metadata at rest: parsing and checking the header, the refusals at
 * open, the scan of every table before the guest runs, image creation and
 * `img info`. The layout is QEMU's docs/interop/qcow2.txt.
 *
 * Images come from users and may have been written by anything, so every
 * field is checked before it is used as an offset or a size, and anything
 * raevm would have to give up on later (compressed clusters, features it
 * does not know, refcounts that disagree with the tables) is refused here,
 * when the disk is opened, never at the guest's first read.
 */
#include "qcow2.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return be32toh(v);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, sizeof(v));
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, sizeof(v));
}

#define FAIL(...)                                                              \
	do {                                                                   \
		snprintf(msg, msglen, __VA_ARGS__);                            \
		return -EINVAL;                                                \
	} while (0)

static int parse_fields(const uint8_t *buf, size_t len, struct qcow2_header *h,
			char *msg, size_t msglen)
{
	if (len < QCOW2_V2_HEADER_LEN)
		FAIL("truncated header (%zu bytes)", len);
	if (get32(buf) != QCOW2_MAGIC)
		FAIL("not a qcow2 image (bad magic)");
	h->version = get32(buf + 4);
	if (h->version != 2 && h->version != 3)
		FAIL("unsupported qcow2 version %u (raevm reads 2 and 3)",
		     h->version);
	h->backing_offset = get64(buf + 8);
	h->backing_size = get32(buf + 16);
	h->cluster_bits = get32(buf + 20);
	h->size = get64(buf + 24);
	h->crypt_method = get32(buf + 32);
	h->l1_size = get32(buf + 36);
	h->l1_offset = get64(buf + 40);
	h->rt_offset = get64(buf + 48);
	h->rt_clusters = get32(buf + 56);
	h->nb_snapshots = get32(buf + 60);
	h->snapshots_offset = get64(buf + 64);
	if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
	    h->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		FAIL("cluster_bits %u is out of range (%d-%d)", h->cluster_bits,
		     QCOW2_MIN_CLUSTER_BITS, QCOW2_MAX_CLUSTER_BITS);
	if (h->version == 2) {
		h->refcount_order = 4;
		h->header_length = QCOW2_V2_HEADER_LEN;
		return 0;
	}
	if (len < QCOW2_V3_HEADER_LEN)
		FAIL("truncated header (%zu bytes)", len);
	h->incompat = get64(buf + 72);
	h->compat = get64(buf + 80);
	h->autoclear = get64(buf + 88);
	h->refcount_order = get32(buf + 96);
	h->header_length = get32(buf + 100);
	if (h->header_length < QCOW2_V3_HEADER_LEN || h->header_length % 8 ||
	    h->header_length > (1U << h->cluster_bits))
		FAIL("bad header length %u (a multiple of 8 from %d to the "
		     "cluster size)",
		     h->header_length, QCOW2_V3_HEADER_LEN);
	if (h->refcount_order > 6)
		FAIL("refcount_order %u is out of range (0-6)",
		     h->refcount_order);
	return 0;
}

/* Do [a, a + alen) and [b, b + blen) share a byte? */
static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int check_tables(const struct qcow2_header *h, uint64_t file_size,
			char *msg, size_t msglen)
{
	uint64_t cs = 1ULL << h->cluster_bits;
	uint32_t span_bits = 2 * h->cluster_bits - 3;
	uint64_t need, l1_bytes, rt_bytes;

	if (h->size > QCOW2_MAX_SIZE)
		FAIL("virtual size %llu is too large",
		     (unsigned long long)h->size);
	need = (h->size + (1ULL << span_bits) - 1) >> span_bits;
	if (h->l1_size < need)
		FAIL("L1 table has %u entries; the virtual size needs %llu",
		     h->l1_size, (unsigned long long)need);
	l1_bytes = (uint64_t)h->l1_size * 8;
	if (l1_bytes > QCOW2_MAX_L1_BYTES)
		FAIL("L1 table is too large (%u entries)", h->l1_size);
	if (h->l1_offset % cs)
		FAIL("L1 table offset 0x%llx is not cluster-aligned",
		     (unsigned long long)h->l1_offset);
	if (l1_bytes && h->l1_offset == 0)
		FAIL("L1 table overlaps the header");
	if (l1_bytes &&
	    (h->l1_offset > file_size || l1_bytes > file_size - h->l1_offset))
		FAIL("L1 table (0x%llx, %u entries) ends past the end of the "
		     "file",
		     (unsigned long long)h->l1_offset, h->l1_size);
	if (h->rt_offset % cs)
		FAIL("refcount table offset 0x%llx is not cluster-aligned",
		     (unsigned long long)h->rt_offset);
	if (h->rt_clusters == 0)
		FAIL("refcount table is empty");
	rt_bytes = (uint64_t)h->rt_clusters << h->cluster_bits;
	if (rt_bytes > QCOW2_MAX_RT_BYTES)
		FAIL("refcount table is too large (%u clusters)",
		     h->rt_clusters);
	if (h->rt_offset == 0)
		FAIL("refcount table overlaps the header");
	if (h->rt_offset > file_size || rt_bytes > file_size - h->rt_offset)
		FAIL("refcount table (0x%llx, %u clusters) ends past the end "
		     "of the file",
		     (unsigned long long)h->rt_offset, h->rt_clusters);
	if (l1_bytes &&
	    overlaps(h->l1_offset, l1_bytes, h->rt_offset, rt_bytes))
		FAIL("L1 table and refcount table overlap");
	return 0;
}

static int check_backing_name(const uint8_t *buf, size_t len,
			      struct qcow2_header *h, char *msg, size_t msglen)
{
	uint64_t cs = 1ULL << h->cluster_bits;

	if (h->backing_offset == 0)
		return 0;
	if (h->backing_size == 0)
		FAIL("backing file name is empty");
	if (h->backing_size > QCOW2_MAX_BACKING_NAME)
		FAIL("backing file name is too long (%u bytes; the limit is "
		     "%d)",
		     h->backing_size, QCOW2_MAX_BACKING_NAME);
	if (h->backing_offset < h->header_length)
		FAIL("backing file name overlaps the header");
	if (h->backing_offset > cs || h->backing_size > cs - h->backing_offset)
		FAIL("backing file name lies outside the header cluster");
	if (h->backing_offset + h->backing_size > len)
		FAIL("truncated header (the backing file name is cut off)");
	if (memchr(buf + h->backing_offset, 0, h->backing_size))
		FAIL("backing file name contains a NUL byte");
	memcpy(h->backing, buf + h->backing_offset, h->backing_size);
	h->backing[h->backing_size] = '\0';
	return 0;
}

static int ext_backing_format(const uint8_t *data, uint32_t elen,
			      struct qcow2_header *h, char *msg, size_t msglen)
{
	if (h->has_backing_format)
		FAIL("duplicate backing format header extension");
	if (elen == 0 || elen >= sizeof(h->backing_format))
		FAIL("backing format name has a bad length (%u)", elen);
	if (memchr(data, 0, elen))
		FAIL("backing format name contains a NUL byte");
	memcpy(h->backing_format, data, elen);
	h->backing_format[elen] = '\0';
	h->has_backing_format = true;
	return 0;
}

static int ext_features(const uint8_t *data, uint32_t elen,
			struct qcow2_header *h, char *msg, size_t msglen)
{
	uint32_t i;

	if (h->n_features)
		FAIL("duplicate feature name table");
	if (elen % 48)
		FAIL("feature name table has a bad length (%u)", elen);
	for (i = 0; i < elen / 48 && h->n_features < QCOW2_FEATURE_NAMES; i++) {
		struct qcow2_feature_name *f = &h->features[h->n_features++];
		const uint8_t *e = data + 48 * i;
		size_t n;

		f->type = e[0];
		f->bit = e[1];
		n = strnlen((const char *)e + 2, 46);
		memcpy(f->name, e + 2, n);
		f->name[n] = '\0';
	}
	return 0;
}

/*
 * Header extensions run from the end of the header to the backing file name
 * (or the end of the cluster), each 8-byte aligned, until a zero type.
 */
static int parse_extensions(const uint8_t *buf, size_t len,
			    struct qcow2_header *h, char *msg, size_t msglen)
{
	uint64_t end = h->backing_offset ? h->backing_offset :
					   1ULL << h->cluster_bits;
	uint64_t off = h->header_length;
	int rc;

	if (end > len)
		end = len;
	while (off + 8 <= end) {
		uint32_t type = get32(buf + off), elen = get32(buf + off + 4);
		const uint8_t *data = buf + off + 8;

		if (type == QCOW2_EXT_END)
			return 0;
		if (elen > end - off - 8)
			FAIL("header extension 0x%08x at offset %llu runs past "
			     "the extension area",
			     type, (unsigned long long)off);
		rc = 0;
		if (type == QCOW2_EXT_BACKING_FORMAT)
			rc = ext_backing_format(data, elen, h, msg, msglen);
		else if (type == QCOW2_EXT_FEATURE_TABLE)
			rc = ext_features(data, elen, h, msg, msglen);
		if (rc)
			return rc;
		off += 8 + (((uint64_t)elen + 7) & ~7ULL);
	}
	return 0;
}

int rv__qcow2_parse_header(const uint8_t *buf, size_t len, uint64_t file_size,
			   struct qcow2_header *h, char *msg, size_t msglen)
{
	int rc;

	memset(h, 0, sizeof(*h));
	rc = parse_fields(buf, len, h, msg, msglen);
	if (!rc && file_size < h->header_length)
		FAIL("truncated header (the file is %llu bytes)",
		     (unsigned long long)file_size);
	if (!rc)
		rc = check_tables(h, file_size, msg, msglen);
	if (!rc)
		rc = check_backing_name(buf, len, h, msg, msglen);
	if (!rc)
		rc = parse_extensions(buf, len, h, msg, msglen);
	return rc;
}

/* ---- refusals ---- */

static const char *incompat_name(const struct qcow2_header *h, int bit)
{
	static const char *const known[] = {
		"dirty bit",	    "corrupt bit",	   "external data file",
		"compression type", "extended L2 entries",
	};
	int i;

	for (i = 0; i < h->n_features; i++)
		if (h->features[i].type == 0 && h->features[i].bit == bit &&
		    h->features[i].name[0])
			return h->features[i].name;
	if (bit < (int)RV_ARRAY_SIZE(known))
		return known[bit];
	return NULL;
}

/*
 * Compression type (bit 3) only changes how compressed clusters are read,
 * and those are refused anyway, so it is the one incompatible bit accepted.
 */
static int check_features(const struct qcow2_header *h, bool readonly,
			  char *msg, size_t msglen)
{
	uint64_t unknown = h->incompat &
			   ~(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT |
			     QCOW2_INCOMPAT_COMPRESSION);
	bool sep_done = false;
	size_t n;
	int bit;

	if (h->crypt_method)
		FAIL("image is encrypted (%s); raevm cannot open encrypted "
		     "images",
		     h->crypt_method == 1 ? "AES" :
		     h->crypt_method == 2 ? "LUKS" :
					    "unknown method");
	if (h->incompat & QCOW2_INCOMPAT_DIRTY)
		FAIL("image is dirty: run 'qemu-img check -r all'");
	if (h->incompat & QCOW2_INCOMPAT_CORRUPT)
		FAIL("image is marked corrupt: run 'qemu-img check -r all'");
	if (unknown) {
		n = (size_t)snprintf(msg, msglen,
				     "image uses incompatible features raevm "
				     "does not support:");
		for (bit = 0; bit < 64 && n < msglen; bit++) {
			const char *name, *sep = sep_done ? ", " : " ";

			if (!(unknown & (1ULL << bit)))
				continue;
			name = incompat_name(h, bit);
			if (name)
				n += (size_t)snprintf(msg + n, msglen - n,
						      "%s%s (bit %d)", sep,
						      name, bit);
			else
				n += (size_t)snprintf(msg + n, msglen - n,
						      "%sbit %d", sep, bit);
			sep_done = true;
		}
		return -EOPNOTSUPP;
	}
	if (!readonly && h->nb_snapshots)
		FAIL("image has internal snapshots (%u); raevm opens such images "
		     "read-only only",
		     h->nb_snapshots);
	if (h->backing_offset && h->has_backing_format &&
	    strcmp(h->backing_format, "raw") != 0 &&
	    strcmp(h->backing_format, "qcow2") != 0)
		FAIL("backing file format '%s' is not supported (raw or qcow2)",
		     h->backing_format);
	return 0;
}

/* ---- the scan at open ---- */

struct scan {
	struct qcow2 *q;
	uint64_t *used; /* a bit per host cluster */
	uint64_t clusters;
	char *msg;
	size_t msglen;
};

static bool test_and_set(uint64_t *map, uint64_t i)
{
	uint64_t bit = 1ULL << (i % 64);
	bool was = map[i / 64] & bit;

	map[i / 64] |= bit;
	return was;
}

/* Claims clusters [first, first + n) for what; each may be claimed once. */
static int claim(struct scan *s, uint64_t offset, uint64_t n, const char *what,
		 uint64_t guest)
{
	uint64_t first = offset >> s->q->cbits, i;
	char *msg = s->msg;
	size_t msglen = s->msglen;

	for (i = 0; i < n; i++) {
		if (first + i >= s->clusters)
			FAIL("%s 0x%llx (guest offset 0x%llx) lies past the end "
			     "of the file",
			     what, (unsigned long long)offset,
			     (unsigned long long)guest);
		if (test_and_set(s->used, first + i))
			FAIL("%s 0x%llx (guest offset 0x%llx) overlaps other "
			     "metadata or data",
			     what, (unsigned long long)offset,
			     (unsigned long long)guest);
	}
	return 0;
}

static int scan_l2(struct scan *s, uint32_t l1i, bool writable)
{
	struct qcow2 *q = s->q;
	uint64_t l2_off = q->l1[l1i] & QCOW2_OFFSET_MASK,
		 n = 1ULL << q->l2_bits;
	uint64_t k, bad = QCOW2_L2_RESERVED;
	char *msg = s->msg;
	size_t msglen = s->msglen;
	int rc;

	rc = rv__blk_pread_full(q->fd, q->cow, q->cs, l2_off);
	if (rc)
		FAIL("cannot read the L2 table at 0x%llx: %s",
		     (unsigned long long)l2_off, rv__blk_strerror(-rc));
	if (q->h.version == 2)
		bad |= QCOW2_OFLAG_ZERO;
	for (k = 0; k < n; k++) {
		uint64_t e = get64(q->cow + 8 * k);
		uint64_t guest = (((uint64_t)l1i << q->l2_bits) + k)
				 << q->cbits;
		uint64_t off = e & QCOW2_OFFSET_MASK;

		if (e == 0)
			continue;
		if (e & QCOW2_OFLAG_COMPRESSED)
			FAIL("image has compressed clusters (guest offset "
			     "0x%llx); raevm cannot read them: convert it with "
			     "'qemu-img convert -O qcow2'",
			     (unsigned long long)guest);
		if (e & bad)
			FAIL("L2 entry for guest offset 0x%llx has reserved "
			     "bits set",
			     (unsigned long long)guest);
		if (!off) {
			if (e & QCOW2_OFLAG_COPIED)
				FAIL("L2 entry for guest offset 0x%llx has no "
				     "cluster but is marked in use",
				     (unsigned long long)guest);
			continue;
		}
		/*
		 * QCOW2_OFFSET_MASK keeps bits 9 and up; with larger clusters
		 * an offset inside a cluster would make the data span two
		 * clusters, the second one unclaimed (possibly metadata).
		 */
		if (off & (q->cs - 1))
			FAIL("L2 entry for guest offset 0x%llx points at 0x%llx, "
			     "which is not cluster-aligned (the image is "
			     "corrupt)",
			     (unsigned long long)guest,
			     (unsigned long long)off);
		if (writable && !(e & QCOW2_OFLAG_COPIED))
			FAIL("cluster for guest offset 0x%llx is shared or its "
			     "refcount is wrong: run 'qemu-img check -r all'",
			     (unsigned long long)guest);
		rc = claim(s, off, 1, "data cluster", guest);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * The scan reads every L2 table the L1 table names. A hostile image can
 * name millions of them in a small sparse file, which would keep the open
 * busy for minutes reading holes, so the total is bounded up front
 * (QCOW2_MAX_SCAN_BYTES; docs/devices.md). Real images stay far below:
 * 4 GiB of 64 KiB-cluster L2 tables map 32 TiB of allocated guest data.
 */
static int check_scan_size(const struct qcow2 *q, char *msg, size_t msglen)
{
	uint64_t tables = 0;
	uint32_t i;

	for (i = 0; i < q->h.l1_size; i++)
		if (q->l1[i] & QCOW2_OFFSET_MASK)
			tables++;
	if (tables > QCOW2_MAX_SCAN_BYTES >> q->cbits)
		FAIL("the image has %llu L2 tables (%llu MiB), more than raevm "
		     "checks at open (%llu MiB): copy it with 'qemu-img "
		     "convert' or split the disk",
		     (unsigned long long)tables,
		     (unsigned long long)((tables << q->cbits) >> 20),
		     (unsigned long long)(QCOW2_MAX_SCAN_BYTES >> 20));
	return 0;
}

static int scan_tables(struct scan *s, bool writable)
{
	struct qcow2 *q = s->q;
	uint64_t l1_cl = ((uint64_t)q->h.l1_size * 8 + q->cs - 1) >> q->cbits;
	char *msg = s->msg;
	size_t msglen = s->msglen;
	uint64_t j;
	uint32_t i;
	int rc;

	rc = check_scan_size(q, msg, msglen);
	if (!rc)
		rc = claim(s, 0, 1, "header", 0);
	if (!rc && l1_cl)
		rc = claim(s, q->h.l1_offset, l1_cl, "L1 table", 0);
	if (!rc)
		rc = claim(s, q->h.rt_offset, q->h.rt_clusters,
			   "refcount table", 0);
	for (j = 0; !rc && j < q->rt_entries; j++) {
		if (q->rt[j] & QCOW2_RT_RESERVED)
			FAIL("refcount table entry %llu has reserved bits set",
			     (unsigned long long)j);
		if (q->rt[j] & (q->cs - 1))
			FAIL("refcount table entry %llu points at 0x%llx, which "
			     "is not cluster-aligned (the image is corrupt)",
			     (unsigned long long)j,
			     (unsigned long long)q->rt[j]);
		if (q->rt[j])
			rc = claim(s, q->rt[j], 1, "refcount block", 0);
	}
	for (i = 0; !rc && i < q->h.l1_size; i++) {
		uint64_t e = q->l1[i],
			 guest = (uint64_t)i << (q->l2_bits + q->cbits);

		if (e & QCOW2_L1_RESERVED)
			FAIL("L1 entry %u has reserved bits set", i);
		if (!(e & QCOW2_OFFSET_MASK))
			continue;
		if (e & QCOW2_OFFSET_MASK & (q->cs - 1))
			FAIL("L1 entry %u points at an L2 table at 0x%llx, which "
			     "is not cluster-aligned (the image is corrupt)",
			     i, (unsigned long long)(e & QCOW2_OFFSET_MASK));
		if (writable && !(e & QCOW2_OFLAG_COPIED))
			FAIL("L2 table for guest offset 0x%llx is shared or "
			     "its refcount is wrong: run 'qemu-img check -r "
			     "all'",
			     (unsigned long long)guest);
		rc = claim(s, e & QCOW2_OFFSET_MASK, 1, "L2 table", guest);
		if (!rc)
			rc = scan_l2(s, i, writable);
	}
	return rc;
}

/*
 * Writes can only allocate safely if every cluster in use has a refcount of
 * exactly one (no snapshots are allowed on writable images): a zero would
 * let the allocator hand a live cluster out again.
 */
static int scan_refcounts(struct scan *s)
{
	struct qcow2 *q = s->q;
	uint64_t cur = UINT64_MAX, w, idx;
	char *msg = s->msg;
	size_t msglen = s->msglen;
	int rc;

	for (w = 0; w < (s->clusters + 63) / 64; w++) {
		uint64_t bits = s->used[w];

		while (bits) {
			uint64_t j, rcv = 0;

			idx = w * 64 + (uint64_t)__builtin_ctzll(bits);
			bits &= bits - 1;
			j = idx / q->rb_entries;
			if (j < q->rt_entries && q->rt[j]) {
				if (j != cur) {
					rc = rv__blk_pread_full(
						q->fd, q->cow, q->cs, q->rt[j]);
					if (rc)
						FAIL("cannot read a refcount "
						     "block: %s",
						     rv__blk_strerror(-rc));
					cur = j;
				}
				rcv = qcow2_rc_get(q->h.refcount_order, q->cow,
						   idx % q->rb_entries);
			}
			if (rcv != 1)
				FAIL("cluster 0x%llx is in use but its refcount "
				     "is %llu: run 'qemu-img check -r all'",
				     (unsigned long long)(idx << q->cbits),
				     (unsigned long long)rcv);
		}
	}
	return 0;
}

static int scan(struct qcow2 *q, bool writable, char *msg, size_t msglen)
{
	struct scan s = {
		.q = q, .clusters = q->end, .msg = msg, .msglen = msglen
	};
	int rc;

	if (s.clusters > QCOW2_MAX_FILE_CLUSTERS)
		FAIL("the file has too many clusters to check (%llu; the limit "
		     "is %llu)",
		     (unsigned long long)s.clusters,
		     (unsigned long long)QCOW2_MAX_FILE_CLUSTERS);
	s.used = calloc((size_t)((s.clusters + 63) / 64) + 1, 8);
	if (!s.used)
		FAIL("out of memory");
	rc = scan_tables(&s, writable);
	if (!rc && writable)
		rc = scan_refcounts(&s);
	free(s.used);
	return rc;
}

/* ---- open ---- */

static int load_table(int fd, uint64_t offset, uint64_t entries, uint64_t **out)
{
	uint64_t *t = calloc((size_t)entries + 1, sizeof(uint64_t));
	uint64_t i;
	int rc;

	if (!t)
		return -ENOMEM;
	rc = rv__blk_pread_full(fd, t, (size_t)entries * 8, offset);
	if (rc) {
		free(t);
		return rc;
	}
	for (i = 0; i < entries; i++)
		t[i] = be64toh(t[i]);
	*out = t;
	return 0;
}

/*
 * Reads the header cluster into a new buffer (*out, *outlen bytes), sized
 * by the cluster_bits of a first, short read. The file can change between
 * the two reads (OFD locks are advisory), so the buffer's own cluster_bits
 * must still be the one it was sized from; every parser then uses *outlen,
 * never a length recomputed from the buffer. A first read that is not a
 * plausible header comes back as those bytes, for the parser to name what
 * is wrong.
 */
static int read_header(int fd, uint64_t file_size, uint8_t **out,
		       size_t *outlen, char *msg, size_t msglen)
{
	uint8_t head[QCOW2_V3_HEADER_LEN], *buf;
	uint32_t cbits;
	size_t len;
	bool plausible;
	int rc;

	rc = rv__blk_pread_full(fd, head, sizeof(head), 0);
	if (rc)
		FAIL("cannot read the header: %s", rv__blk_strerror(-rc));
	if (file_size < QCOW2_V2_HEADER_LEN)
		FAIL("truncated header (the file is %llu bytes)",
		     (unsigned long long)file_size);
	cbits = get32(head + 20);
	plausible = get32(head) == QCOW2_MAGIC &&
		    cbits >= QCOW2_MIN_CLUSTER_BITS &&
		    cbits <= QCOW2_MAX_CLUSTER_BITS;
	len = plausible ? (size_t)1 << cbits : sizeof(head);
	buf = malloc(len);
	if (!buf)
		FAIL("out of memory");
	if (!plausible) {
		memcpy(buf, head, sizeof(head));
	} else {
		rc = rv__blk_pread_full(fd, buf, len, 0);
		if (rc) {
			free(buf);
			FAIL("cannot read the header: %s",
			     rv__blk_strerror(-rc));
		}
		if (get32(buf + 20) != cbits) {
			uint32_t now = get32(buf + 20);

			free(buf);
			FAIL("header changed while it was read (cluster_bits "
			     "%u, then %u): is another program writing the "
			     "image?",
			     cbits, now);
		}
	}
	*out = buf;
	*outlen = len;
	return 0;
}

static int open_backing(struct qcow2 *q, struct rv__blk_chain *chain, char *err,
			size_t errlen)
{
	enum rv_blk_format fmt = RV_BLK_RAW;
	char resolved[4096], sub[1024];
	int rc;

	if (q->h.has_backing_format &&
	    rv_blk_parse_format(q->h.backing_format, &fmt) != 0)
		return -EINVAL; /* check_features() refused it already */
	/*
	 * The name is the image maker's, not the user's: it is confined to
	 * the image's folder at every level of the chain (each level resolves
	 * against its own, canonical, folder).
	 */
	rc = rv__blk_resolve_backing(q->blk.path, q->h.backing, resolved,
				     sizeof(resolved), err, errlen);
	if (rc)
		return rc;
	rc = rv__blk_open_chain(resolved, fmt, true, chain, &q->backing, sub,
				sizeof(sub));
	if (rc)
		rv__blk_err(err, errlen, q->blk.path, "backing file: %s", sub);
	return rc;
}

/*
 * Autoclear bits describe data (bitmaps) that raevm does not keep up to
 * date; the format says a writer must clear them before it writes.
 */
static int clear_autoclear(struct qcow2 *q)
{
	uint8_t zero[8] = { 0 };
	int rc;

	if (q->h.version < 3 || q->h.autoclear == 0)
		return 0;
	rc = rv__blk_pwrite_full(q->fd, zero, sizeof(zero), 88);
	if (!rc && fdatasync(q->fd) < 0)
		rc = -errno;
	if (!rc)
		q->h.autoclear = 0;
	return rc;
}

static int setup(struct qcow2 *q, uint64_t file_size, char *msg, size_t msglen)
{
	int rc;

	q->cbits = q->h.cluster_bits;
	q->cs = 1ULL << q->cbits;
	q->l2_bits = q->cbits - 3;
	q->rb_entries = (q->cs * 8) >> q->h.refcount_order;
	q->end = (file_size + q->cs - 1) >> q->cbits;
	q->rt_entries = ((uint64_t)q->h.rt_clusters << q->cbits) / 8;
	rc = load_table(q->fd, q->h.l1_offset, q->h.l1_size, &q->l1);
	if (!rc)
		rc = load_table(q->fd, q->h.rt_offset, q->rt_entries, &q->rt);
	if (rc)
		FAIL("cannot read the L1 or refcount table: %s",
		     rv__blk_strerror(-rc));
	rc = rv__qcow2_init_runtime(q);
	if (rc)
		FAIL("out of memory");
	return 0;
}

int rv__blk_qcow2_open(const char *path, bool readonly,
		       struct rv__blk_chain *chain, struct rv_blk **out,
		       char *err, size_t errlen)
{
	char msg[512] = "";
	uint8_t *hdr = NULL;
	size_t hdr_len = 0;
	uint64_t file_size;
	bool blockdev;
	struct qcow2 *q;
	int rc;

	q = calloc(1, sizeof(*q));
	if (!q || !(q->blk.path = strdup(path))) {
		free(q);
		rv__blk_err(err, errlen, path, "out of memory");
		return -ENOMEM;
	}
	q->fd = -1;
	q->blk.ops = &rv__qcow2_ops;
	q->blk.format = RV_BLK_QCOW2;
	q->blk.readonly = readonly;
	q->blk.block_size = 512;
	rc = rv__blk_open_file(path, readonly, chain, &q->fd, &file_size,
			       &blockdev, err, errlen);
	if (rc)
		goto err_free;
	rc = read_header(q->fd, file_size, &hdr, &hdr_len, msg, sizeof(msg));
	if (!rc)
		rc = rv__qcow2_parse_header(hdr, hdr_len, file_size, &q->h, msg,
					    sizeof(msg));
	free(hdr);
	if (!rc)
		rc = check_features(&q->h, readonly, msg, sizeof(msg));
	if (!rc)
		rc = setup(q, file_size, msg, sizeof(msg));
	if (!rc)
		rc = scan(q, !readonly, msg, sizeof(msg));
	if (rc) {
		rv__blk_err(err, errlen, path, "%s", msg);
		goto err_free;
	}
	q->blk.size = q->h.size;
	if (q->h.backing_offset) {
		rc = open_backing(q, chain, err, errlen);
		if (rc)
			goto err_free;
	}
	if (!readonly) {
		rc = clear_autoclear(q);
		if (rc) {
			rv__blk_err(err, errlen, path,
				    "cannot update the header: %s",
				    rv__blk_strerror(-rc));
			goto err_free;
		}
	}
	*out = &q->blk;
	return 0;

err_free:
	rv__qcow2_free(q);
	return rc;
}

/* ---- info ---- */

int rv__blk_qcow2_query(const char *path, int fd, struct rv_blk_info *info,
			char *err, size_t errlen)
{
	struct qcow2 q = { .fd = fd };
	struct qcow2_header *h = &q.h;
	char msg[512] = "";
	uint8_t *hdr = NULL;
	size_t hdr_len = 0;
	int rc;

	rc = read_header(q.fd, info->file_size, &hdr, &hdr_len, msg,
			 sizeof(msg));
	if (!rc)
		rc = rv__qcow2_parse_header(hdr, hdr_len, info->file_size, h,
					    msg, sizeof(msg));
	free(hdr);
	if (rc) {
		rv__blk_err(err, errlen, path, "%s", msg);
		return rc;
	}
	info->virtual_size = h->size;
	info->version = h->version;
	info->cluster_size = 1U << h->cluster_bits;
	info->refcount_bits = 1U << h->refcount_order;
	info->nb_snapshots = h->nb_snapshots;
	info->crypt_method = h->crypt_method;
	info->incompatible = h->incompat;
	info->compatible = h->compat;
	info->autoclear = h->autoclear;
	info->dirty = h->incompat & QCOW2_INCOMPAT_DIRTY;
	info->corrupt = h->incompat & QCOW2_INCOMPAT_CORRUPT;
	info->has_backing = h->backing_offset != 0;
	if (info->has_backing) {
		snprintf(info->backing, sizeof(info->backing), "%s",
			 h->backing);
		info->backing_format_recorded = h->has_backing_format;
		snprintf(info->backing_format, sizeof(info->backing_format),
			 "%s",
			 h->has_backing_format ? h->backing_format : "raw");
	}
	return 0;
}

/* ---- create ---- */

struct layout {
	uint64_t cs, l1_size, l1_cl, rt_cl, rb_n, total;
};

/*
 * Header, refcount table, refcount blocks and the L1 table, in that order,
 * with refcount blocks enough to count all of them (refcount_order 4).
 */
static void plan(uint32_t cbits, uint64_t size, struct layout *l)
{
	uint64_t rbe, span = 1ULL << (2 * cbits - 3);

	l->cs = 1ULL << cbits;
	rbe = l->cs / 2;
	l->l1_size = (size + span - 1) / span;
	l->l1_cl = (l->l1_size * 8 + l->cs - 1) / l->cs;
	if (l->l1_cl == 0)
		l->l1_cl = 1;
	l->rt_cl = 1;
	l->rb_n = 1;
	for (;;) {
		uint64_t rb, rt;

		l->total = 1 + l->rt_cl + l->rb_n + l->l1_cl;
		rb = (l->total + rbe - 1) / rbe;
		rt = (rb * 8 + l->cs - 1) / l->cs;
		if (rb == l->rb_n && rt == l->rt_cl)
			break;
		l->rb_n = rb;
		l->rt_cl = rt;
	}
}

static size_t put_header(uint8_t *p, const struct layout *l, uint32_t cbits,
			 uint64_t size, const struct rv_blk_create_opts *o)
{
	const char *fmt = rv_blk_format_name(o->backing_format);
	size_t off = QCOW2_V3_HEADER_LEN;

	put32(p, QCOW2_MAGIC);
	put32(p + 4, 3);
	put32(p + 20, cbits);
	put64(p + 24, size);
	put32(p + 36, (uint32_t)l->l1_size);
	put64(p + 40, (1 + l->rt_cl + l->rb_n) * l->cs);
	put64(p + 48, l->cs);
	put32(p + 56, (uint32_t)l->rt_cl);
	put32(p + 96, 4);
	put32(p + 100, QCOW2_V3_HEADER_LEN);
	if (o->backing) {
		put32(p + off, QCOW2_EXT_BACKING_FORMAT);
		put32(p + off + 4, (uint32_t)strlen(fmt));
		memcpy(p + off + 8, fmt, strlen(fmt));
		off += 8 + ((strlen(fmt) + 7) & ~(size_t)7);
	}
	off += 8; /* the end-of-extensions marker is zeros */
	if (o->backing) {
		put64(p + 8, off);
		put32(p + 16, (uint32_t)strlen(o->backing));
		memcpy(p + off, o->backing, strlen(o->backing));
		off += strlen(o->backing);
	}
	return off;
}

static int write_image(int fd, const struct layout *l, uint8_t *hdr)
{
	uint64_t rt_bytes = l->rt_cl * l->cs, rb_bytes = l->rb_n * l->cs;
	uint8_t *rt = calloc(1, rt_bytes), *rb = calloc(1, rb_bytes);
	uint64_t i;
	int rc = -ENOMEM;

	if (!rt || !rb)
		goto out;
	for (i = 0; i < l->rb_n; i++)
		put64(rt + 8 * i, (1 + l->rt_cl + i) * l->cs);
	for (i = 0; i < l->total; i++) {
		rb[2 * i] = 0;
		rb[2 * i + 1] = 1;
	}
	rc = rv__blk_pwrite_full(fd, hdr, l->cs, 0);
	if (!rc)
		rc = rv__blk_pwrite_full(fd, rt, rt_bytes, l->cs);
	if (!rc)
		rc = rv__blk_pwrite_full(fd, rb, rb_bytes,
					 (1 + l->rt_cl) * l->cs);
	if (!rc && ftruncate(fd, (off_t)(l->total * l->cs)) < 0)
		rc = -errno;
	if (!rc && fsync(fd) < 0)
		rc = -errno;
out:
	free(rt);
	free(rb);
	return rc;
}

int rv__blk_qcow2_create(const char *path, const struct rv_blk_create_opts *o,
			 uint64_t size, char *err, size_t errlen)
{
	uint32_t cbits = o->cluster_bits ? o->cluster_bits : 16;
	struct layout l;
	uint8_t *hdr;
	int fd, rc;

	if (cbits < QCOW2_MIN_CLUSTER_BITS || cbits > QCOW2_MAX_CLUSTER_BITS) {
		rv__blk_err(err, errlen, path,
			    "the cluster size must be a power of two from 512 "
			    "to 2M");
		return -EINVAL;
	}
	plan(cbits, size, &l);
	if (size > QCOW2_MAX_SIZE || l.l1_size * 8 > QCOW2_MAX_L1_BYTES) {
		rv__blk_err(err, errlen, path,
			    "size %llu is too large for %llu-byte clusters",
			    (unsigned long long)size, (unsigned long long)l.cs);
		return -EFBIG;
	}
	if (o->backing &&
	    QCOW2_V3_HEADER_LEN + 32 + strlen(o->backing) > l.cs) {
		rv__blk_err(err, errlen, path,
			    "the backing file name does not fit in a %llu-byte "
			    "header cluster",
			    (unsigned long long)l.cs);
		return -ENAMETOOLONG;
	}
	hdr = calloc(1, l.cs);
	if (!hdr) {
		rv__blk_err(err, errlen, path, "out of memory");
		return -ENOMEM;
	}
	put_header(hdr, &l, cbits, size, o);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		rv__blk_err(err, errlen, path, "%s", rv__blk_strerror(-rc));
		free(hdr);
		return rc;
	}
	rc = write_image(fd, &l, hdr);
	free(hdr);
	close(fd);
	if (rc) {
		rv__blk_err(err, errlen, path, "%s", rv__blk_strerror(-rc));
		unlink(path);
	}
	return rc;
}
