/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The block benchmark guest (make bench): 4 KiB random reads at a queue
 * depth, then 1 MiB sequential reads, against a virtio-blk disk. The
 * submission loop runs at CPL3, which these hosts run natively (CPL0 is
 * emulated), with polled completions and no interrupts, so the guest
 * spends nothing but ring writes and the notifications the device asks
 * for (EVENT_IDX): the figures measure the VMM, not the guest.
 *
 * Command line: disk=N, mode=rand|seq|both (both), secs=N per test (3)
 * or reqs=N per test (stop after N completions instead), qd=N for random
 * reads (32), seq_qd=N for sequential reads (4), seed=N (the LCG's), plus
 * the virtio keys (irq=poll by default; qsize=, indirect=, event_idx=).
 *
 * Random offsets: a 64-bit LCG (Knuth's MMIX constants) over the disk's
 * 4 KiB blocks. Sequential reads wrap at the end of the disk. Rates come
 * from the TSC (tsc_hz(): CPUID or kvmclock); MB is 10^6 bytes.
 *
 * Prints detail lines and "bench: rand4k iops=N seq1m MB/s=X.Y" (a test
 * not run shows 0). Exit codes: 10 no disk, 11 open failed, 19 out of
 * memory, 20 bad arguments, 24 a request failed, 25 the device stalled.
 */
#include "guest.h"
#include "virtio.h"

#define RAND_BS 4096U
#define SEQ_BS (1U << 20)
#define MAX_QD 1024
#define STALL_US 5000000ULL

struct test {
	const char *name;
	uint32_t bs;
	unsigned int qd;
	bool random;
	uint8_t *bufs;
	struct vblk_req *reqs;
	/* Results. */
	uint64_t done, ticks, notifies, skipped;
};

struct bench {
	struct vblk *b;
	uint64_t secs, max_reqs;
	uint64_t lcg;
	uint64_t next_seq; /* in blocks of the test's size */
	struct test rand, seq;
	int error;
};

static struct vblk disk;

static uint64_t next_block(struct bench *bb, const struct test *t)
{
	uint64_t nblocks = bb->b->capacity / (t->bs / VIRTIO_BLK_SECTOR), blk;

	if (t->random) {
		bb->lcg = bb->lcg * 6364136223846793005ULL +
			  1442695040888963407ULL;
		blk = (bb->lcg >> 17) % nblocks;
	} else {
		blk = bb->next_seq++ % nblocks;
	}
	return blk * (t->bs / VIRTIO_BLK_SECTOR);
}

static int submit(struct bench *bb, struct test *t, struct vblk_req *r)
{
	unsigned int i = (unsigned int)(r - t->reqs);

	return vblk_submit(bb->b, r, VIRTIO_BLK_T_IN, next_block(bb, t),
			   t->bufs + (uint64_t)i * t->bs, t->bs);
}

/*
 * Keeps t->qd requests in flight until the time or request budget is
 * spent, then drains. Runs at CPL3: nothing here may use cli/sti/hlt.
 */
static int run_test(struct bench *bb, struct test *t)
{
	struct vblk_req *out[MAX_QD];
	uint64_t hz = tsc_hz(), t0, stop, last_progress;
	uint64_t stall = STALL_US * hz / 1000000, inflight = 0;
	uint32_t n0 = bb->b->q->notifies, s0 = bb->b->q->notifies_skipped;
	bool stopping = false;

	t0 = rdtsc();
	stop = t0 + bb->secs * hz;
	for (unsigned int i = 0; i < t->qd; i++) {
		if (submit(bb, t, &t->reqs[i]))
			return 20;
		inflight++;
	}
	vblk_kick(bb->b);
	last_progress = t0;
	while (inflight) {
		unsigned int n = vblk_reap(bb->b, out, t->qd);
		uint64_t now = rdtsc();

		if (!n) {
			if (now - last_progress > stall) {
				printf("bench: %s: no completion for %lu s "
				       "(status %#x)\n",
				       t->name,
				       (unsigned long)(STALL_US / 1000000),
				       virtio_status(&bb->b->vd));
				return 25;
			}
			cpu_pause();
			continue;
		}
		last_progress = now;
		inflight -= n;
		t->done += n;
		if (now >= stop || (bb->max_reqs && t->done >= bb->max_reqs))
			stopping = true;
		for (unsigned int i = 0; i < n; i++) {
			if (out[i]->status != VIRTIO_BLK_S_OK) {
				printf("bench: %s: lba %lu: %s\n", t->name,
				       (unsigned long)out[i]->hdr.sector,
				       vblk_status_name(out[i]->status));
				return 24;
			}
			if (stopping)
				continue;
			if (submit(bb, t, out[i]))
				return 20;
			inflight++;
		}
		if (!stopping)
			vblk_kick(bb->b);
	}
	t->ticks = rdtsc() - t0;
	t->notifies = bb->b->q->notifies - n0;
	t->skipped = bb->b->q->notifies_skipped - s0;
	return 0;
}

static long bench_main(void *arg)
{
	struct bench *bb = arg;
	int r;

	if (bb->rand.qd) {
		r = run_test(bb, &bb->rand);
		if (r)
			return r;
	}
	if (bb->seq.qd) {
		r = run_test(bb, &bb->seq);
		if (r)
			return r;
	}
	return 0;
}

/*
 * x per second over ticks. Scaled to kHz so that x * rate stays inside 64
 * bits up to about 7e12 (7 TB moved in one test).
 */
static uint64_t per_sec(uint64_t x, uint64_t ticks)
{
	uint64_t khz = tsc_hz() / 1000, kticks = ticks / 1000;

	return kticks ? x * khz / kticks : 0;
}

static void report(const struct test *t)
{
	uint64_t ms = t->ticks / (tsc_hz() / 1000);
	uint64_t bytes = t->done * t->bs;

	if (!t->qd || !t->ticks)
		return;
	printf("bench: %s qd=%u bs=%u reqs=%lu ms=%lu bytes_per_s=%lu "
	       "notifies=%lu skipped=%lu\n",
	       t->name, t->qd, t->bs, (unsigned long)t->done, (unsigned long)ms,
	       (unsigned long)per_sec(bytes, t->ticks),
	       (unsigned long)t->notifies, (unsigned long)t->skipped);
}

static int setup_test(struct bench *bb, struct test *t, const char *name,
		      uint32_t bs, unsigned int qd, bool random)
{
	t->name = name;
	t->bs = bs;
	t->qd = qd;
	t->random = random;
	if (!qd)
		return 0;
	if (qd > MAX_QD || qd > bb->b->q->size ||
	    (!bb->b->q->use_indirect && qd * 3 > bb->b->q->size)) {
		printf("bench: %s: qd=%u does not fit a queue of %u%s\n", name,
		       qd, bb->b->q->size,
		       bb->b->q->use_indirect ? "" : " (3 descriptors each)");
		return 20;
	}
	if (bb->b->capacity < bs / VIRTIO_BLK_SECTOR) {
		printf("bench: the disk is smaller than %u bytes\n", bs);
		return 20;
	}
	t->bufs = dma_alloc((size_t)qd * bs, 4096);
	t->reqs = dma_zalloc(sizeof(*t->reqs) * qd, 64);
	if (!t->bufs || !t->reqs) {
		puts("bench: out of memory");
		return 19;
	}
	return 0;
}

int guest_main(const struct hvm_start_info *si)
{
	static struct bench bb;
	struct virtio_opts o;
	struct pci_dev *pci;
	char mode[8] = "both";
	uint64_t hz, rand_iops = 0, seq_mbps10 = 0;
	long r;

	(void)si;
	virtio_opts_from_cmdline(&o, VIRTIO_IRQ_POLL);
	if (o.irq != VIRTIO_IRQ_POLL) {
		puts("bench: completions are polled; irq= is ignored");
		o.irq = VIRTIO_IRQ_POLL;
	}
	pci = vblk_find((unsigned int)cmdline_get_uint("disk", 0));
	if (!pci) {
		puts("bench: no virtio-blk disk");
		return 10;
	}
	if (vblk_open(&disk, pci, &o))
		return 11;
	bb.b = &disk;
	bb.secs = cmdline_get_uint("secs", 3);
	bb.max_reqs = cmdline_get_uint("reqs", 0);
	bb.lcg = cmdline_get_uint("seed", 1);
	if (bb.max_reqs)
		bb.secs = 3600;
	(void)cmdline_get_str("mode", mode, sizeof(mode));
	r = setup_test(&bb, &bb.rand, "rand4k", RAND_BS,
		       strcmp(mode, "seq") ?
			       (unsigned int)cmdline_get_uint("qd", 32) :
			       0,
		       true);
	if (!r)
		r = setup_test(&bb, &bb.seq, "seq1m", SEQ_BS,
			       strcmp(mode, "rand") ?
				       (unsigned int)cmdline_get_uint("seq_qd",
								      4) :
				       0,
			       false);
	if (r)
		return (int)r;
	hz = tsc_hz();
	printf("bench: tsc %lu Hz, %s %lu per test\n", (unsigned long)hz,
	       bb.max_reqs ? "requests" : "seconds",
	       (unsigned long)(bb.max_reqs ? bb.max_reqs : bb.secs));
	r = user_enter(bench_main, &bb, NULL);
	if (r)
		return (int)r;
	report(&bb.rand);
	report(&bb.seq);
	rand_iops = per_sec(bb.rand.done, bb.rand.ticks);
	seq_mbps10 = per_sec(bb.seq.done * SEQ_BS, bb.seq.ticks) / 100000;
	printf("bench: rand4k iops=%lu seq1m MB/s=%lu.%lu\n",
	       (unsigned long)rand_iops, (unsigned long)(seq_mbps10 / 10),
	       (unsigned long)(seq_mbps10 % 10));
	return 0;
}
