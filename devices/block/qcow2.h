/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_QCOW2_H
#define RAEVM_QCOW2_H

/*
 * qcow2 internals shared by qcow2_meta.c (header, validation at open,
 * creation) and qcow2.c (reads, writes, allocation, metadata ordering).
 * The field names follow QEMU's docs/interop/qcow2.txt.
 */
#include "block_int.h"

#define QCOW2_MAGIC 0x514649fbU /* "QFI\xfb" */
#define QCOW2_V2_HEADER_LEN 72
#define QCOW2_V3_HEADER_LEN 104
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_MAX_BACKING_NAME 1023
/* QEMU's own limits, so that images raevm makes open there too. */
#define QCOW2_MAX_L1_BYTES (32ULL << 20)
#define QCOW2_MAX_RT_BYTES (8ULL << 20)
/* Virtual sizes up to 2^56 bytes (the L2 offset field's reach). */
#define QCOW2_MAX_SIZE (1ULL << 56)
/* The open-time scan reads at most this much of L2 tables. */
#define QCOW2_MAX_SCAN_BYTES (4ULL << 30)
/* The open-time scan keeps a bit per host cluster: at most 128 MiB. */
#define QCOW2_MAX_FILE_CLUSTERS (1ULL << 30)

#define QCOW2_INCOMPAT_DIRTY (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ULL << 4)

#define QCOW2_EXT_END 0x00000000U
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acaU
#define QCOW2_EXT_FEATURE_TABLE 0x6803f857U

/* L1 and L2 entries. */
#define QCOW2_OFLAG_COPIED (1ULL << 63)
#define QCOW2_OFLAG_COMPRESSED (1ULL << 62)
#define QCOW2_OFLAG_ZERO (1ULL << 0)
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ULL
#define QCOW2_L1_RESERVED 0x7f000000000001ffULL
#define QCOW2_L2_RESERVED 0x3f000000000001feULL
#define QCOW2_RT_RESERVED 0x00000000000001ffULL

#define QCOW2_L2_CACHE_MAX 64
#define QCOW2_RB_CACHE 4
#define QCOW2_MAX_DEFERRED 4096
#define QCOW2_FEATURE_NAMES 64

struct qcow2_feature_name {
	uint8_t type; /* 0 incompatible, 1 compatible, 2 autoclear */
	uint8_t bit;
	char name[47];
};

/* The header and its extensions, host-endian, as parsed and validated. */
struct qcow2_header {
	uint32_t version;
	uint64_t backing_offset;
	uint32_t backing_size;
	uint32_t cluster_bits;
	uint64_t size;
	uint32_t crypt_method;
	uint32_t l1_size;
	uint64_t l1_offset;
	uint64_t rt_offset;
	uint32_t rt_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshots_offset;
	uint64_t incompat;
	uint64_t compat;
	uint64_t autoclear;
	uint32_t refcount_order;
	uint32_t header_length;
	bool has_backing_format;
	char backing_format[32];
	char backing[QCOW2_MAX_BACKING_NAME + 1];
	int n_features;
	struct qcow2_feature_name features[QCOW2_FEATURE_NAMES];
};

struct qcow2_l2 {
	uint64_t offset; /* 0: the slot is free */
	uint64_t *table; /* big-endian, as on disk */
	uint64_t used;	 /* LRU tick */
	bool dirty;	 /* changed in memory, not yet written */
};

struct qcow2_rb {
	uint64_t offset; /* 0: the slot is free */
	uint8_t *block;	 /* as on disk; write-through */
	uint64_t used;
};

/* A range of host clusters to free once their last reference is durable. */
struct qcow2_free {
	uint64_t offset;
	uint64_t count;
};

struct qcow2 {
	struct rv_blk blk;
	int fd;
	struct qcow2_header h;
	uint64_t cs;	  /* cluster size */
	uint32_t cbits;	  /* cluster_bits */
	uint32_t l2_bits; /* log2 of entries per L2 table */
	uint64_t *l1;	  /* host-endian copy of the L1 table */
	bool l1_dirty;
	uint32_t l1_dirty_lo, l1_dirty_hi; /* [lo, hi) */
	uint64_t *rt; /* host-endian copy of the refcount table */
	uint64_t rt_entries;
	uint64_t rb_entries; /* refcounts per refcount block */
	uint64_t end;	     /* clusters in the file (allocation frontier) */
	uint64_t free_hint;  /* no free cluster below this index */
	int n_l2;
	struct qcow2_l2 l2c[QCOW2_L2_CACHE_MAX];
	struct qcow2_rb rbc[QCOW2_RB_CACHE];
	uint64_t tick;
	struct qcow2_free *deferred; /* freed after the next barrier */
	size_t n_deferred;
	uint8_t *cow; /* one cluster for copy-on-write */
	struct iovec *scratch;
	struct rv_blk *backing;
	bool broken; /* a metadata write failed: no more writes */
};

/* Refcount i of a refcount block b, for any refcount_order (0-6). */
static inline uint64_t qcow2_rc_get(uint32_t order, const uint8_t *b,
				    uint64_t i)
{
	uint64_t v = 0;
	uint32_t k;

	if (order < 3) {
		uint32_t bits = 1U << order;
		uint64_t bit = i * bits;

		return (b[bit / 8] >> (bit % 8)) & ((1U << bits) - 1);
	}
	for (k = 0; k < (1U << (order - 3)); k++)
		v = (v << 8) | b[(i << (order - 3)) + k];
	return v;
}

/*
 * Sets refcount i of b to v (v fits refcount_bits); *byte and *len name the
 * bytes that changed, for a write-through of just those.
 */
static inline void qcow2_rc_put(uint32_t order, uint8_t *b, uint64_t i,
				uint64_t v, uint64_t *byte, uint32_t *len)
{
	uint32_t k, n;

	if (order < 3) {
		uint32_t bits = 1U << order;
		uint64_t bit = i * bits;
		uint8_t mask = (uint8_t)(((1U << bits) - 1) << (bit % 8));

		b[bit / 8] = (uint8_t)((b[bit / 8] & ~mask) |
				       ((v << (bit % 8)) & mask));
		*byte = bit / 8;
		*len = 1;
		return;
	}
	n = 1U << (order - 3);
	for (k = 0; k < n; k++)
		b[(i << (order - 3)) + k] = (uint8_t)(v >> (8 * (n - 1 - k)));
	*byte = i << (order - 3);
	*len = n;
}

/*
 * Parses and checks the header cluster buf[0..len) of a file of file_size
 * bytes. On failure msg holds the reason (without the path).
 */
int rv__qcow2_parse_header(const uint8_t *buf, size_t len, uint64_t file_size,
			   struct qcow2_header *h, char *msg,
			   size_t msglen) RV_MUST_CHECK;

/* The I/O side (qcow2.c). */
extern const struct rv_blk_ops rv__qcow2_ops;
int rv__qcow2_init_runtime(struct qcow2 *q) RV_MUST_CHECK;
void rv__qcow2_free(struct qcow2 *q);

#endif
