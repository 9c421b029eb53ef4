/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reads a virtio-blk disk the host prepared with the kit's disk pattern
 * (README.md, "Disk pattern"; tests/guests/blk_pattern.py gen makes one)
 * and checks every byte, after printing the serial the device returns for
 * GET_ID. Completions are polled unless irq= says otherwise.
 *
 * Command line: disk=N, start=LBA, sectors=N (default: the whole disk),
 * chunk=BYTES (65536), batch=N (8), seed=N (0), serial=ID (when given,
 * the GET_ID answer must equal it), plus the virtio keys.
 *
 * Prints "blk_read: serial=ID" and "blk_read: ok sectors=N". Exit codes:
 * 10 no disk, 11 open failed, 14 read error, 15 mismatch, 16 interrupts
 * missing, 19 out of memory, 20 bad arguments, 21 GET_ID failed, 22 wrong
 * serial.
 */
#include "guest.h"
#include "virtio.h"

#define MAX_BATCH 64

static struct vblk disk;

static long run(void *arg)
{
	const struct vblk_pass *p = arg;
	uint64_t t0 = rdtsc(), ms;
	int r = vblk_pattern_pass(p, false);

	if (r)
		return r == VBLK_PASS_MISMATCH ? 15 : 14;
	ms = (rdtsc() - t0) * 1000 / tsc_hz();
	printf("blk_read: read+verified %lu sectors in %lu ms\n",
	       (unsigned long)p->sectors, (unsigned long)ms);
	return 0;
}

static int check_serial(void)
{
	char id[VIRTIO_BLK_ID_BYTES + 1], want[VIRTIO_BLK_ID_BYTES + 2];
	int r = vblk_get_id(&disk, id);

	if (r != VIRTIO_BLK_S_OK) {
		printf("blk_read: GET_ID: %s\n", vblk_status_name(r));
		return 21;
	}
	printf("blk_read: serial=%s\n", id);
	if (cmdline_get_str("serial", want, sizeof(want)) >= 0 &&
	    strcmp(id, want)) {
		printf("blk_read: serial should be '%s'\n", want);
		return 22;
	}
	return 0;
}

int guest_main(const struct hvm_start_info *si)
{
	struct virtio_opts o;
	struct vblk_pass p;
	struct pci_dev *pci;
	long r;

	(void)si;
	virtio_opts_from_cmdline(&o, VIRTIO_IRQ_POLL);
	pci = vblk_find((unsigned int)cmdline_get_uint("disk", 0));
	if (!pci) {
		puts("blk_read: no virtio-blk disk");
		return 10;
	}
	if (o.irq != VIRTIO_IRQ_POLL) {
		lapic_init();
		irq_enable();
	}
	if (vblk_open(&disk, pci, &o)) {
		puts("blk_read: cannot open the disk");
		return 11;
	}
	r = check_serial();
	if (r)
		return (int)r;
	memset(&p, 0, sizeof(p));
	p.b = &disk;
	p.who = "blk_read";
	p.start = cmdline_get_uint("start", 0);
	p.chunk = (uint32_t)cmdline_get_uint("chunk", 65536);
	p.batch = (unsigned int)cmdline_get_uint("batch", 8);
	p.seed = (uint8_t)cmdline_get_uint("seed", 0);
	if (p.start >= disk.capacity || p.chunk > (4U << 20) ||
	    p.batch > MAX_BATCH) {
		puts("blk_read: bad start, chunk or batch");
		return 20;
	}
	p.sectors = cmdline_get_uint("sectors", disk.capacity - p.start);
	if (!p.sectors || p.sectors > disk.capacity - p.start) {
		puts("blk_read: the range does not fit on the disk");
		return 20;
	}
	if (vblk_pass_alloc(&p)) {
		puts("blk_read: out of memory");
		return 19;
	}
	r = user_enter(run, &p, NULL);
	irq_disable();
	if (r)
		return (int)r;
	if (disk.q->irq_misses) {
		printf("blk_read: %u completions without an interrupt\n",
		       disk.q->irq_misses);
		return 16;
	}
	printf("blk_read: ok sectors=%lu\n", (unsigned long)p.sectors);
	return 0;
}
