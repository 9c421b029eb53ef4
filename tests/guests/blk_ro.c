/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checks a read-only virtio-blk disk: the device offers VIRTIO_BLK_F_RO,
 * reads work, a write (and WRITE_ZEROES when offered) completes with
 * VIRTIO_BLK_S_IOERR, a DISCARD completes one way or another, and the
 * sector reads back as it was.
 *
 * Command line: disk=N, lba=N (the sector to try, default 0), pattern
 * (the disk holds the kit's pattern with seed=N, default 0: check the
 * sector against it), plus the virtio keys.
 *
 * Prints "blk_ro: ok". Exit codes: 10 no disk, 11 open failed, 14 read
 * failed, 15 the sector changed or does not match the pattern, 30 RO not
 * offered, 31 a write succeeded, 32 a write failed otherwise than IOERR,
 * 33 write-zeroes not refused, or discard did not complete.
 */
#include "guest.h"
#include "virtio.h"

static struct vblk disk;
static uint8_t before[VIRTIO_BLK_SECTOR] __attribute__((aligned(512)));
static uint8_t after[VIRTIO_BLK_SECTOR] __attribute__((aligned(512)));
static uint8_t junk[VIRTIO_BLK_SECTOR] __attribute__((aligned(512)));

static int read_sector(uint64_t lba, uint8_t *buf)
{
	int s = vblk_read(&disk, lba, buf, VIRTIO_BLK_SECTOR);

	if (s != VIRTIO_BLK_S_OK) {
		printf("blk_ro: read lba %lu: %s\n", (unsigned long)lba,
		       vblk_status_name(s));
		return 14;
	}
	return 0;
}

/* A range request must be refused with IOERR (UNSUPP is also fair). */
static int range_refused(const char *what, int s)
{
	printf("blk_ro: %s -> %s\n", what, vblk_status_name(s));
	if (s == VIRTIO_BLK_S_IOERR || s == VIRTIO_BLK_S_UNSUPP)
		return 0;
	return 33;
}

int guest_main(const struct hvm_start_info *si)
{
	struct virtio_opts o;
	struct pci_dev *pci;
	uint64_t lba = cmdline_get_uint("lba", 0);
	int s, r;

	(void)si;
	virtio_opts_from_cmdline(&o, VIRTIO_IRQ_POLL);
	pci = vblk_find((unsigned int)cmdline_get_uint("disk", 0));
	if (!pci) {
		puts("blk_ro: no virtio-blk disk");
		return 10;
	}
	if (o.irq != VIRTIO_IRQ_POLL) {
		lapic_init();
		irq_enable();
	}
	if (vblk_open(&disk, pci, &o)) {
		puts("blk_ro: cannot open the disk");
		return 11;
	}
	if (!disk.ro) {
		puts("blk_ro: VIRTIO_BLK_F_RO is not offered");
		return 30;
	}
	if (lba >= disk.capacity)
		lba = 0;
	r = read_sector(lba, before);
	if (r)
		return r;
	if (cmdline_has("pattern") &&
	    blk_pattern_check(before, lba, 1,
			      (uint8_t)cmdline_get_uint("seed", 0)) >= 0) {
		puts("blk_ro: the sector does not hold the pattern");
		return 15;
	}
	for (unsigned int i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)~before[i];
	s = vblk_write(&disk, lba, junk, sizeof(junk));
	printf("blk_ro: write lba %lu -> %s\n", (unsigned long)lba,
	       vblk_status_name(s));
	if (s == VIRTIO_BLK_S_OK)
		return 31;
	if (s != VIRTIO_BLK_S_IOERR)
		return 32;
	if (virtio_has(&disk.vd, VIRTIO_BLK_F_WRITE_ZEROES)) {
		r = range_refused("write-zeroes",
				  vblk_write_zeroes(&disk, lba, 1, false));
		if (r)
			return r;
	}
	/* DISCARD is advisory: a device may refuse it or complete it
	 * without doing anything (QEMU does the latter); either way the data
	 * must stay, which the comparison below checks. */
	if (virtio_has(&disk.vd, VIRTIO_BLK_F_DISCARD)) {
		s = vblk_discard(&disk, lba, 1);
		printf("blk_ro: discard -> %s\n", vblk_status_name(s));
		if (s < 0)
			return 33;
	}
	r = read_sector(lba, after);
	if (r)
		return r;
	if (memcmp(before, after, sizeof(before))) {
		puts("blk_ro: the sector changed");
		return 15;
	}
	puts("blk_ro: ok");
	return 0;
}
