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
 * (default 0x5a), passes=N (write the range N times with seeds seed,
 * seed + 1, ..., flushing and printing "blk_rw: pass P seed S flushed"
 * after each; 0 = forever, for kill -9 durability tests; the read-back
 * checks the last seed), plus the virtio keys (irq=msix|intx|poll,
 * event_idx=, indirect=, qsize=). Pattern work and submission run at
 * CPL3.
 *
 * Prints "blk_rw: ok sectors=N". Exit codes: 10 no disk, 11 open failed,
 * 12 write, 13 flush, 14 read, 15 mismatch, 16 interrupts missing,
 * 17 write-zeroes, 18 discard, 19 out of memory, 20 bad arguments.
 */
#include "guest.h"
#include "virtio.h"

#define MAX_BATCH 64

static struct vblk disk;

/* WRITE_ZEROES over the first chunk must read back as zeroes. */
static int check_write_zeroes(struct vblk_pass *j)
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

static int check_discard(struct vblk_pass *j)
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

static int flush(struct vblk_pass *j)
{
	int s = vblk_flush(j->b);

	/* Without VIRTIO_BLK_F_FLUSH the device may say UNSUPP. */
	if (s == VIRTIO_BLK_S_OK ||
	    (s == VIRTIO_BLK_S_UNSUPP &&
	     !virtio_has(&j->b->vd, VIRTIO_BLK_F_FLUSH)))
		return 0;
	printf("blk_rw: flush: %s\n", vblk_status_name(s));
	return 13;
}

/*
 * Pass p writes seed + p over the range and flushes; only then does it
 * print its line, so a host that kills the VMM after reading "pass P seed
 * S flushed" knows every sector held seed S at that moment (and may hold
 * S + 1 since). passes=0 never stops.
 */
static int write_passes(struct vblk_pass *j, uint64_t passes)
{
	uint8_t seed0 = j->seed;
	int r;

	for (uint64_t p = 0; passes == 0 || p < passes; p++) {
		j->seed = (uint8_t)(seed0 + p);
		if (vblk_pattern_pass(j, true))
			return 12;
		r = flush(j);
		if (r)
			return r;
		if (passes != 1)
			printf("blk_rw: pass %lu seed %u flushed\n",
			       (unsigned long)p, j->seed);
	}
	return 0;
}

static long run(void *arg)
{
	struct vblk_pass *j = arg;
	uint64_t t0, t1, t2, hz = tsc_hz();
	int r;

	r = check_write_zeroes(j);
	if (!r)
		r = check_discard(j);
	if (r)
		return r;
	t0 = rdtsc();
	r = write_passes(j, cmdline_get_uint("passes", 1));
	if (r)
		return r;
	t1 = rdtsc();
	r = vblk_pattern_pass(j, false);
	if (r)
		return r == VBLK_PASS_MISMATCH ? 15 : 14;
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
	struct vblk_pass j;
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
	j.who = "blk_rw";
	if (vblk_pass_alloc(&j)) {
		puts("blk_rw: out of memory");
		return 19;
	}
	if (o.irq != VIRTIO_IRQ_POLL)
		irq_enable();
	r = user_enter(run, &j, NULL);
	irq_disable();
	if (r)
		return (int)r;
	if (disk.q->irq_misses) {
		printf("blk_rw: %u completions without an interrupt\n",
		       disk.q->irq_misses);
		return 16;
	}
	printf("blk_rw: irqs=%u notifies=%u skipped=%u\n", disk.q->irqs,
	       disk.q->notifies, disk.q->notifies_skipped);
	printf("blk_rw: ok sectors=%lu\n", (unsigned long)j.sectors);
	return 0;
}
