/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Writes the kit's disk pattern (README.md, "Disk pattern", seed from the
 * command line) across a virtio-blk disk, flushes, reads everything back
 * and compares. Before that, when the device offers them, it checks that
 * WRITE_ZEROES zeroes and that DISCARD completes; the pattern written
 * afterwards covers both ranges, so the disk ends up holding the pattern
 * over [start, start + sectors).
 *
 * Command line: disk=N (which virtio-blk, default 0), start=LBA,
 * sectors=N (default: to the end of the disk), chunk=BYTES per request
 * (default 65536), batch=N requests per kick (default 8), seed=N
 * (default 0x5a), plus the virtio keys (irq=msix|intx|poll, event_idx=,
 * indirect=, qsize=). Pattern work and submission run at CPL3.
 *
 * Prints "blk_rw: ok sectors=N". Exit codes: 10 no disk, 11 open failed,
 * 12 write, 13 flush, 14 read, 15 mismatch, 16 interrupts missing,
 * 17 write-zeroes, 18 discard, 19 out of memory, 20 bad arguments.
 */
#include "guest.h"
#include "virtio.h"

#define MAX_BATCH 64

struct job {
	struct vblk *b;
	uint64_t start, sectors;
	uint32_t chunk; /* bytes, a multiple of 512 */
	unsigned int batch;
	uint8_t seed;
	uint8_t *buf; /* batch * chunk bytes */
	struct vblk_req *reqs;
};

static struct vblk disk;

/*
 * Runs one pass over the range: write (pattern filled first) or read
 * (pattern checked after). Returns 0 or an exit code.
 */
static int pass(struct job *j, bool write)
{
	uint32_t spc = j->chunk / VIRTIO_BLK_SECTOR;
	uint64_t lba = j->start, end = j->start + j->sectors;

	while (lba < end) {
		unsigned int n = 0;

		for (; n < j->batch && lba < end; n++) {
			uint64_t left = end - lba;
			uint32_t ns = left < spc ? (uint32_t)left : spc;
			uint8_t *p = j->buf + (uint64_t)n * j->chunk;
			struct vblk_req *r = &j->reqs[n];

			int e;

			if (write)
				blk_pattern_fill(p, lba, ns, j->seed);
			e = vblk_submit(j->b, r,
					write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
					lba, p, ns * VIRTIO_BLK_SECTOR);
			/* A small ring without indirect descriptors holds
			 * fewer requests than the batch: send what fits. */
			if (e == -ENOSPC && n > 0)
				break;
			if (e) {
				printf("blk_rw: submit failed at lba %lu (%d)\n",
				       (unsigned long)lba, e);
				return write ? 12 : 14;
			}
			r->priv = (void *)(uintptr_t)lba;
			lba += ns;
		}
		vblk_kick(j->b);
		for (unsigned int i = 0; i < n; i++) {
			struct vblk_req *r = &j->reqs[i];
			uint64_t rl = (uint64_t)(uintptr_t)r->priv;
			int64_t bad;
			int e = vblk_wait(j->b, r);

			if (e || r->status != VIRTIO_BLK_S_OK) {
				printf("blk_rw: %s lba %lu: %s\n",
				       write ? "write" : "read",
				       (unsigned long)rl,
				       vblk_status_name(e ? e : r->status));
				return write ? 12 : 14;
			}
			if (write)
				continue;
			bad = blk_pattern_check(r->data, rl,
						r->len / VIRTIO_BLK_SECTOR,
						j->seed);
			if (bad >= 0) {
				uint64_t off = (uint64_t)bad;

				printf("blk_rw: mismatch at lba %lu byte %lu: "
				       "%#x\n",
				       (unsigned long)(rl + off / 512),
				       (unsigned long)(off % 512),
				       ((uint8_t *)r->data)[off]);
				return 15;
			}
		}
	}
	return 0;
}

/* WRITE_ZEROES over the first chunk must read back as zeroes. */
static int check_write_zeroes(struct job *j)
{
	uint32_t ns = j->chunk / VIRTIO_BLK_SECTOR;
	int s;

	if (!virtio_has(&j->b->vd, VIRTIO_BLK_F_WRITE_ZEROES)) {
		puts("blk_rw: write-zeroes not offered, skipped");
		return 0;
	}
	if (ns > j->sectors)
		ns = (uint32_t)j->sectors;
	if (j->b->max_wz_sectors && ns > j->b->max_wz_sectors)
		ns = j->b->max_wz_sectors;
	memset(j->buf, 0xa5, (size_t)ns * VIRTIO_BLK_SECTOR);
	s = vblk_write(j->b, j->start, j->buf, ns * VIRTIO_BLK_SECTOR);
	if (s != VIRTIO_BLK_S_OK) {
		printf("blk_rw: write before write-zeroes: %s (%d)\n",
		       vblk_status_name(s), s);
		return 12;
	}
	s = vblk_write_zeroes(j->b, j->start, ns, false);
	if (s != VIRTIO_BLK_S_OK) {
		printf("blk_rw: write-zeroes: %s\n", vblk_status_name(s));
		return 17;
	}
	memset(j->buf, 0xa5, (size_t)ns * VIRTIO_BLK_SECTOR);
	s = vblk_read(j->b, j->start, j->buf, ns * VIRTIO_BLK_SECTOR);
	if (s != VIRTIO_BLK_S_OK) {
		printf("blk_rw: read after write-zeroes: %s (%d)\n",
		       vblk_status_name(s), s);
		return 14;
	}
	for (uint32_t i = 0; i < ns * VIRTIO_BLK_SECTOR; i++) {
		if (j->buf[i]) {
			printf("blk_rw: write-zeroes left %#x at byte %u\n",
			       j->buf[i], i);
			return 17;
		}
	}
	printf("blk_rw: write-zeroes ok sectors=%u\n", ns);
	return 0;
}

static int check_discard(struct job *j)
{
	uint32_t ns = j->chunk / VIRTIO_BLK_SECTOR;
	int s;

	if (!virtio_has(&j->b->vd, VIRTIO_BLK_F_DISCARD)) {
		puts("blk_rw: discard not offered, skipped");
		return 0;
	}
	if (ns > j->sectors)
		ns = (uint32_t)j->sectors;
	if (j->b->max_discard_sectors && ns > j->b->max_discard_sectors)
		ns = j->b->max_discard_sectors;
	/* Discarded data reads back as anything: only the status counts. */
	s = vblk_discard(j->b, j->start, ns);
	if (s != VIRTIO_BLK_S_OK) {
		printf("blk_rw: discard: %s\n", vblk_status_name(s));
		return 18;
	}
	printf("blk_rw: discard ok sectors=%u\n", ns);
	return 0;
}

static long run(void *arg)
{
	struct job *j = arg;
	uint64_t t0, t1, t2, hz = tsc_hz();
	int r, s;

	r = check_write_zeroes(j);
	if (!r)
		r = check_discard(j);
	if (r)
		return r;
	t0 = rdtsc();
	r = pass(j, true);
	if (r)
		return r;
	s = vblk_flush(j->b);
	if (s != VIRTIO_BLK_S_OK) {
		/* Without VIRTIO_BLK_F_FLUSH the device may say UNSUPP. */
		if (!(s == VIRTIO_BLK_S_UNSUPP &&
		      !virtio_has(&j->b->vd, VIRTIO_BLK_F_FLUSH))) {
			printf("blk_rw: flush: %s\n", vblk_status_name(s));
			return 13;
		}
	}
	t1 = rdtsc();
	r = pass(j, false);
	if (r)
		return r;
	t2 = rdtsc();
	printf("blk_rw: wrote+flushed in %lu ms, read+verified in %lu ms\n",
	       (unsigned long)((t1 - t0) * 1000 / hz),
	       (unsigned long)((t2 - t1) * 1000 / hz));
	return 0;
}

int guest_main(const struct hvm_start_info *si)
{
	struct virtio_opts o;
	struct pci_dev *pci;
	struct job j;
	long r;

	(void)si;
	virtio_opts_from_cmdline(&o, VIRTIO_IRQ_MSIX);
	pci = vblk_find((unsigned int)cmdline_get_uint("disk", 0));
	if (!pci) {
		puts("blk_rw: no virtio-blk disk");
		return 10;
	}
	if (o.irq != VIRTIO_IRQ_POLL)
		lapic_init();
	if (vblk_open(&disk, pci, &o)) {
		puts("blk_rw: cannot open the disk");
		return 11;
	}
	memset(&j, 0, sizeof(j));
	j.b = &disk;
	j.start = cmdline_get_uint("start", 0);
	j.chunk = (uint32_t)cmdline_get_uint("chunk", 65536);
	j.batch = (unsigned int)cmdline_get_uint("batch", 8);
	j.seed = (uint8_t)cmdline_get_uint("seed", 0x5a);
	if (j.start >= disk.capacity || !j.chunk || j.chunk % 512 ||
	    j.chunk > (4U << 20) || !j.batch || j.batch > MAX_BATCH) {
		puts("blk_rw: bad start, chunk or batch");
		return 20;
	}
	j.sectors = cmdline_get_uint("sectors", disk.capacity - j.start);
	if (j.sectors > disk.capacity - j.start || !j.sectors) {
		puts("blk_rw: the range does not fit on the disk");
		return 20;
	}
	j.buf = dma_alloc((size_t)j.batch * j.chunk, 4096);
	j.reqs = dma_zalloc(sizeof(*j.reqs) * j.batch, 64);
	if (!j.buf || !j.reqs) {
		puts("blk_rw: out of memory");
		return 19;
	}
	if (o.irq != VIRTIO_IRQ_POLL)
		irq_enable();
	r = user_enter(run, &j, NULL);
	irq_disable();
	if (r)
		return (int)r;
	if (disk.irq_misses) {
		printf("blk_rw: %u completions without an interrupt\n",
		       disk.irq_misses);
		return 16;
	}
	printf("blk_rw: irqs=%u notifies=%u skipped=%u\n", disk.q->irqs,
	       disk.q->notifies, disk.q->notifies_skipped);
	printf("blk_rw: ok sectors=%lu\n", (unsigned long)j.sectors);
	return 0;
}
