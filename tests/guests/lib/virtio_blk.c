/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk driver (virtio 1.2, 5.2) on the kit's virtio core: one
 * request queue, requests as header + data + status chains, a batch API
 * (submit many, kick once, reap) and synchronous helpers on top.
 */
#include "internal.h"
#include "virtio.h"

#define VBLK_MAX_DATA_SEGS (VIRTQ_INDIRECT_MAX - 2)
#define STATUS_PENDING 0xff

struct pci_dev *vblk_find(unsigned int nth)
{
	return virtio_find(VIRTIO_ID_BLK, 0x1001, nth);
}

static uint32_t cfg32(struct vblk *b, uint32_t off, unsigned int feature)
{
	uint32_t v = 0;

	if (!virtio_has(&b->vd, feature) ||
	    virtio_config_read(&b->vd, off, &v, 4))
		return 0;
	return v;
}

static int read_config(struct vblk *b)
{
	int r = virtio_config_read(&b->vd, VIRTIO_BLK_CFG_CAPACITY,
				   &b->capacity, 8);

	if (r) {
		printf("%s: cannot read the capacity (%d)\n", b->vd.name, r);
		return r;
	}
	b->blk_size = cfg32(b, VIRTIO_BLK_CFG_BLK_SIZE, VIRTIO_BLK_F_BLK_SIZE);
	b->seg_max = cfg32(b, VIRTIO_BLK_CFG_SEG_MAX, VIRTIO_BLK_F_SEG_MAX);
	b->size_max = cfg32(b, VIRTIO_BLK_CFG_SIZE_MAX, VIRTIO_BLK_F_SIZE_MAX);
	b->max_discard_sectors = cfg32(b, VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS,
				       VIRTIO_BLK_F_DISCARD);
	b->max_discard_seg =
		cfg32(b, VIRTIO_BLK_CFG_MAX_DISCARD_SEG, VIRTIO_BLK_F_DISCARD);
	b->max_wz_sectors = cfg32(b, VIRTIO_BLK_CFG_MAX_WZ_SECTORS,
				  VIRTIO_BLK_F_WRITE_ZEROES);
	b->max_wz_seg =
		cfg32(b, VIRTIO_BLK_CFG_MAX_WZ_SEG, VIRTIO_BLK_F_WRITE_ZEROES);
	b->ro = virtio_has(&b->vd, VIRTIO_BLK_F_RO);
	return 0;
}

static const char *irq_name(enum virtio_irq_mode m)
{
	return m == VIRTIO_IRQ_MSIX ? "msix" :
	       m == VIRTIO_IRQ_INTX ? "intx" :
				      "poll";
}

int vblk_open(struct vblk *b, struct pci_dev *pci, const struct virtio_opts *o)
{
	struct virtio_opts opts = *o;
	int r;

	if (b->vd.pci != pci) {
		memset(b, 0, sizeof(*b));
		r = virtio_probe(&b->vd, pci);
		if (r)
			return r;
		if (b->vd.device_id != VIRTIO_ID_BLK)
			return -ENODEV;
	}
	opts.want |= VBLK_FEATURES;
	r = virtio_start(&b->vd, &opts);
	if (r)
		return r;
	r = read_config(b);
	if (r)
		return r;
	r = virtio_queue_setup(&b->vd, 0);
	if (r) {
		printf("%s: queue 0 set-up failed (%d)\n", b->vd.name, r);
		return r;
	}
	b->q = &b->vd.vq[0];
	r = virtio_driver_ok(&b->vd);
	if (r || opts.quiet)
		return r;
	printf("%s: %lu sectors%s, features %#lx%s%s, irq %s, queue %u\n",
	       b->vd.name, (unsigned long)b->capacity, b->ro ? " (ro)" : "",
	       (unsigned long)b->vd.features,
	       virtio_has(&b->vd, VIRTIO_F_EVENT_IDX) ? " event_idx" : "",
	       b->q->use_indirect ? " indirect" : "", irq_name(opts.irq),
	       b->q->size);
	return 0;
}

void vblk_prep_range(struct vblk_req *r, uint64_t sector, uint32_t n,
		     bool unmap)
{
	r->range.sector = sector;
	r->range.num_sectors = n;
	r->range.flags = unmap ? 1 : 0;
}

/* Splits data into segments no longer than the device's size_max. */
static int data_segs(struct vblk *b, struct virtq_seg *segs, void *data,
		     uint32_t len, bool write)
{
	uint32_t max = b->size_max ? b->size_max : len;
	uint64_t a = (uint64_t)(uintptr_t)data;
	unsigned int n = 0;

	while (len) {
		uint32_t chunk = len < max ? len : max;

		if (n == VBLK_MAX_DATA_SEGS || (b->seg_max && n == b->seg_max))
			return -EINVAL;
		segs[n].addr = a;
		segs[n].len = chunk;
		segs[n].write = write;
		n++;
		a += chunk;
		len -= chunk;
	}
	return (int)n;
}

int vblk_submit(struct vblk *b, struct vblk_req *r, uint32_t type,
		uint64_t sector, void *data, uint32_t len)
{
	struct virtq_seg segs[VIRTQ_INDIRECT_MAX];
	unsigned int n = 0;
	int k;

	if (!b->q)
		return -EINVAL;
	r->hdr.type = type;
	r->hdr.reserved = 0;
	r->hdr.sector = sector;
	r->status = STATUS_PENDING;
	r->done = false;
	r->written = 0;
	r->data = data;
	r->len = len;
	segs[n++] = (struct virtq_seg){ (uint64_t)(uintptr_t)&r->hdr,
					sizeof(r->hdr), false };
	if ((type == VIRTIO_BLK_T_DISCARD ||
	     type == VIRTIO_BLK_T_WRITE_ZEROES) &&
	    !data) {
		segs[n++] = (struct virtq_seg){ (uint64_t)(uintptr_t)&r->range,
						sizeof(r->range), false };
	} else if (len) {
		k = data_segs(b, segs + n, data, len,
			      type == VIRTIO_BLK_T_IN ||
				      type == VIRTIO_BLK_T_GET_ID);
		if (k < 0)
			return k;
		n += (unsigned int)k;
	}
	segs[n++] =
		(struct virtq_seg){ (uint64_t)(uintptr_t)&r->status, 1, true };
	return virtq_add(b->q, segs, n, r);
}

bool vblk_kick(struct vblk *b)
{
	return b->q ? virtq_kick(b->q) : false;
}

unsigned int vblk_reap(struct vblk *b, struct vblk_req **out, unsigned int max)
{
	unsigned int n = 0;

	while (b->q && n < max) {
		uint32_t len = 0;
		struct vblk_req *r = virtq_get(b->q, &len);

		if (!r)
			break;
		r->written = len;
		r->done = true;
		if (out)
			out[n] = r;
		n++;
	}
	return n;
}

int vblk_wait(struct vblk *b, struct vblk_req *r)
{
	uint64_t deadline;

	if (!b->q)
		return -EINVAL;
	deadline = virtio_deadline(&b->vd);
	while (!r->done) {
		int e = virtq_wait_used(b->q, deadline);

		if (e)
			return e;
		vblk_reap(b, NULL, 1);
	}
	return 0;
}

int vblk_do(struct vblk *b, uint32_t type, uint64_t sector, void *data,
	    uint32_t len)
{
	struct vblk_req r;
	int e = vblk_submit(b, &r, type, sector, data, len);

	if (e)
		return e;
	vblk_kick(b);
	e = vblk_wait(b, &r);
	if (e) {
		/* The request may still complete into this stack frame:
		 * the caller must reset the device before going on. */
		printf("%s: request type %u sector %lu: %s\n", b->vd.name, type,
		       (unsigned long)sector,
		       e == -EIO ? "device needs reset" : "timed out");
		return e;
	}
	return r.status;
}

int vblk_read(struct vblk *b, uint64_t sector, void *buf, uint32_t len)
{
	return vblk_do(b, VIRTIO_BLK_T_IN, sector, buf, len);
}

int vblk_write(struct vblk *b, uint64_t sector, const void *buf, uint32_t len)
{
	/* The device only reads an OUT buffer. */
	void *p;

	__asm__("" : "=r"(p) : "0"(buf));
	return vblk_do(b, VIRTIO_BLK_T_OUT, sector, p, len);
}

int vblk_flush(struct vblk *b)
{
	return vblk_do(b, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
}

int vblk_get_id(struct vblk *b, char id[VIRTIO_BLK_ID_BYTES + 1])
{
	int r;

	memset(id, 0, VIRTIO_BLK_ID_BYTES + 1);
	r = vblk_do(b, VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES);
	id[VIRTIO_BLK_ID_BYTES] = 0;
	return r;
}

static int range_op(struct vblk *b, uint32_t type, uint64_t sector, uint32_t n,
		    bool unmap)
{
	struct vblk_req r;
	int e;

	vblk_prep_range(&r, sector, n, unmap);
	e = vblk_submit(b, &r, type, 0, NULL, 0);
	if (e)
		return e;
	vblk_kick(b);
	e = vblk_wait(b, &r);
	return e ? e : r.status;
}

int vblk_discard(struct vblk *b, uint64_t sector, uint32_t n)
{
	return range_op(b, VIRTIO_BLK_T_DISCARD, sector, n, false);
}

int vblk_write_zeroes(struct vblk *b, uint64_t sector, uint32_t n, bool unmap)
{
	return range_op(b, VIRTIO_BLK_T_WRITE_ZEROES, sector, n, unmap);
}

const char *vblk_status_name(int status)
{
	switch (status) {
	case VIRTIO_BLK_S_OK:
		return "ok";
	case VIRTIO_BLK_S_IOERR:
		return "ioerr";
	case VIRTIO_BLK_S_UNSUPP:
		return "unsupp";
	case -ETIMEDOUT:
		return "timeout";
	case -EIO:
		return "needs-reset";
	default:
		return "other";
	}
}

static uint8_t pattern_byte(uint64_t sector, uint32_t i, uint8_t seed)
{
	if (i < 8) {
		uint64_t w = sector ^ (seed * 0x0101010101010101ULL);

		return (uint8_t)(w >> (8 * i));
	}
	return (uint8_t)(i * 7 + sector + seed);
}

void blk_pattern_fill(void *buf, uint64_t sector, uint32_t nsect, uint8_t seed)
{
	uint8_t *p = buf;

	for (uint32_t s = 0; s < nsect; s++, p += VIRTIO_BLK_SECTOR) {
		for (uint32_t i = 0; i < VIRTIO_BLK_SECTOR; i++)
			p[i] = pattern_byte(sector + s, i, seed);
	}
}

int64_t blk_pattern_check(const void *buf, uint64_t sector, uint32_t nsect,
			  uint8_t seed)
{
	const uint8_t *p = buf;

	for (uint32_t s = 0; s < nsect; s++, p += VIRTIO_BLK_SECTOR) {
		for (uint32_t i = 0; i < VIRTIO_BLK_SECTOR; i++) {
			if (p[i] != pattern_byte(sector + s, i, seed))
				return (int64_t)s * VIRTIO_BLK_SECTOR + i;
		}
	}
	return -1;
}

int vblk_pass_alloc(struct vblk_pass *p)
{
	if (!p->batch || !p->chunk || p->chunk % VIRTIO_BLK_SECTOR)
		return -EINVAL;
	p->buf = dma_alloc((size_t)p->batch * p->chunk, 4096);
	p->reqs = dma_zalloc(sizeof(*p->reqs) * p->batch, 64);
	return p->buf && p->reqs ? 0 : -ENOMEM;
}

/* Fills up to p->batch requests from *lba on; returns how many. */
static int pass_submit(const struct vblk_pass *p, bool write, uint64_t *lba,
		       uint64_t end)
{
	uint32_t spc = p->chunk / VIRTIO_BLK_SECTOR;
	unsigned int n = 0;

	for (; n < p->batch && *lba < end; n++) {
		uint64_t left = end - *lba;
		uint32_t ns = left < spc ? (uint32_t)left : spc;
		uint8_t *buf = p->buf + (uint64_t)n * p->chunk;
		struct vblk_req *r = &p->reqs[n];
		int e;

		if (write)
			blk_pattern_fill(buf, *lba, ns, p->seed);
		e = vblk_submit(p->b, r,
				write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
				*lba, buf, ns * VIRTIO_BLK_SECTOR);
		/* A small ring without indirect descriptors holds fewer
		 * requests than the batch: send what fits. */
		if (e == -ENOSPC && n > 0)
			break;
		if (e) {
			printf("%s: submit at lba %lu failed (%d)\n", p->who,
			       (unsigned long)*lba, e);
			return e;
		}
		r->priv = (void *)(uintptr_t)*lba;
		*lba += ns;
	}
	return (int)n;
}

static int pass_complete(const struct vblk_pass *p, bool write,
			 struct vblk_req *r)
{
	uint64_t lba = (uint64_t)(uintptr_t)r->priv;
	int64_t bad;
	int e = vblk_wait(p->b, r);

	if (e || r->status != VIRTIO_BLK_S_OK) {
		printf("%s: %s lba %lu: %s\n", p->who, write ? "write" : "read",
		       (unsigned long)lba, vblk_status_name(e ? e : r->status));
		return VBLK_PASS_IOERR;
	}
	if (write)
		return VBLK_PASS_OK;
	bad = blk_pattern_check(r->data, lba, r->len / VIRTIO_BLK_SECTOR,
				p->seed);
	if (bad >= 0) {
		uint64_t off = (uint64_t)bad;

		printf("%s: mismatch at lba %lu byte %lu: %#x\n", p->who,
		       (unsigned long)(lba + off / VIRTIO_BLK_SECTOR),
		       (unsigned long)(off % VIRTIO_BLK_SECTOR),
		       ((const uint8_t *)r->data)[off]);
		return VBLK_PASS_MISMATCH;
	}
	return VBLK_PASS_OK;
}

int vblk_pattern_pass(const struct vblk_pass *p, bool write)
{
	uint64_t lba = p->start, end = p->start + p->sectors;

	if (end < p->start || end > p->b->capacity)
		return VBLK_PASS_IOERR;
	while (lba < end) {
		int n = pass_submit(p, write, &lba, end);

		if (n < 0)
			return VBLK_PASS_IOERR;
		vblk_kick(p->b);
		for (int i = 0; i < n; i++) {
			int r = pass_complete(p, write, &p->reqs[i]);

			if (r)
				return r;
		}
	}
	return VBLK_PASS_OK;
}
