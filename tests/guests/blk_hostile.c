/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Feeds malformed virtqueue contents to one virtio-blk disk (the victim,
 * disk=N, default 0) and checks that the device notices: it must set
 * DEVICE_NEEDS_RESET (status 0x40) and raise a configuration interrupt,
 * recover after a reset, and a second disk (the bystander, the next one,
 * or none with bystander=none) must keep working throughout.
 *
 * Cases (run all, or only=NAME):
 *   loop             a descriptor chain that loops back on itself
 *   next_oob         a next index beyond the queue size
 *   huge_len         a 4 GiB - 512 byte data buffer starting in RAM
 *   past_ram         a data buffer far above RAM and every BAR (bad_addr=)
 *   readable_data    an IN request whose data buffer is device-readable
 *   status_readable  a request without any device-writable byte (the
 *                    status byte is readable)
 *   order            a readable descriptor after a writable one
 *   avail_jump       avail->idx moved by more than the queue size
 *   indirect_nested  an indirect table holding an indirect descriptor
 *   indirect_len     an indirect table length that is not a multiple
 *                    of 16 (both only when INDIRECT_DESC is negotiated)
 * Every case must end in NEEDS_RESET, except readable_data, where failing
 * the request with IOERR/UNSUPP is also accepted (the device may refuse
 * the request without calling the queue broken).
 *
 * Command line: disk=N, bystander=N|none, only=NAME, bad_addr=0x...,
 * config_irq=0 (do not require the config interrupt), allow=NAME,NAME
 * (these cases may also complete the request: QEMU, the peer, needs
 * allow=past_ram because it bounces DMA to unassigned addresses), plus
 * the virtio keys (irq=msix by default; poll skips the interrupt check).
 *
 * Prints one line per case and "blk_hostile: ok cases=N". Exit codes:
 * 10 no disk, 11 open failed, 19 out of memory, 50+i case i had the
 * wrong outcome, 70+i the victim did not recover, 80 the bystander failed
 * after the last case, 90+i the bystander failed during case i.
 */
#include "guest.h"
#include "virtio.h"

#define REACT_TIMEOUT_US 2000000
#define CONFIG_IRQ_TIMEOUT_US 1000000
#define SCRATCH_SIZE 8192

enum outcome {
	OUT_NEEDS_RESET = 1,
	OUT_FAILED = 2, /* completed with IOERR or UNSUPP */
	OUT_OK = 4,	/* completed with OK */
	OUT_NOTHING = 8,
};

struct hcase {
	const char *name;
	/* Writes descriptors from index 0 on; returns the head or -1 when
	 * the case does not apply. */
	int (*build)(struct virtq *q);
	unsigned int accept;
};

static struct vblk victim, bystander;
static bool have_bystander;
static struct virtio_opts opts;
static struct virtio_blk_hdr *hdr; /* crafted requests' header */
static volatile uint8_t *status;
static uint8_t *scratch;
static struct virtq_desc *table; /* crafted indirect tables */
static uint64_t bad_addr;
static uint8_t *sector_buf;

static uint64_t pa(const volatile void *p)
{
	return (uint64_t)(uintptr_t)p;
}

static void set_desc(struct virtq *q, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	q->desc[i].addr = addr;
	q->desc[i].len = len;
	q->desc[i].flags = flags;
	q->desc[i].next = next;
}

static void set_hdr(uint32_t type)
{
	hdr->type = type;
	hdr->reserved = 0;
	hdr->sector = 0;
	*status = 0xff;
}

/* hdr -> data -> status, the data's direction and address given. */
static int three(struct virtq *q, uint32_t type, uint64_t data, uint32_t len,
		 uint16_t data_flags, uint16_t status_flags)
{
	set_hdr(type);
	set_desc(q, 0, pa(hdr), sizeof(*hdr), VIRTQ_DESC_F_NEXT, 1);
	set_desc(q, 1, data, len, data_flags | VIRTQ_DESC_F_NEXT, 2);
	set_desc(q, 2, pa(status), 1, status_flags, 0);
	return 0;
}

static int build_loop(struct virtq *q)
{
	set_hdr(VIRTIO_BLK_T_IN);
	set_desc(q, 0, pa(hdr), sizeof(*hdr), VIRTQ_DESC_F_NEXT, 1);
	set_desc(q, 1, pa(scratch), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
		 2);
	set_desc(q, 2, pa(scratch + 512), 512,
		 VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	return 0;
}

static int build_next_oob(struct virtq *q)
{
	set_hdr(VIRTIO_BLK_T_IN);
	set_desc(q, 0, pa(hdr), sizeof(*hdr), VIRTQ_DESC_F_NEXT,
		 (uint16_t)(q->size + 3));
	return 0;
}

static int build_huge_len(struct virtq *q)
{
	return three(q, VIRTIO_BLK_T_IN, pa(scratch), 0xfffffe00,
		     VIRTQ_DESC_F_WRITE, VIRTQ_DESC_F_WRITE);
}

static int build_past_ram(struct virtq *q)
{
	return three(q, VIRTIO_BLK_T_IN, bad_addr, 512, VIRTQ_DESC_F_WRITE,
		     VIRTQ_DESC_F_WRITE);
}

static int build_readable_data(struct virtq *q)
{
	return three(q, VIRTIO_BLK_T_IN, pa(scratch), 512, 0,
		     VIRTQ_DESC_F_WRITE);
}

static int build_status_readable(struct virtq *q)
{
	return three(q, VIRTIO_BLK_T_OUT, pa(scratch), 512, 0, 0);
}

static int build_order(struct virtq *q)
{
	set_hdr(VIRTIO_BLK_T_IN);
	set_desc(q, 0, pa(hdr), sizeof(*hdr), VIRTQ_DESC_F_NEXT, 1);
	set_desc(q, 1, pa(scratch), 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
		 2);
	set_desc(q, 2, pa(scratch + 512), 512, VIRTQ_DESC_F_NEXT, 3);
	set_desc(q, 3, pa(status), 1, VIRTQ_DESC_F_WRITE, 0);
	return 0;
}

/* Marks avail_jump for post(): it moves avail->idx instead. */
static int build_avail_jump(struct virtq *q)
{
	(void)three(q, VIRTIO_BLK_T_IN, pa(scratch), 512, VIRTQ_DESC_F_WRITE,
		    VIRTQ_DESC_F_WRITE);
	return 0x10000;
}

static int build_indirect_nested(struct virtq *q)
{
	if (!virtio_has(q->dev, VIRTIO_F_INDIRECT_DESC))
		return -1;
	set_hdr(VIRTIO_BLK_T_IN);
	table[0] = (struct virtq_desc){ pa(table + 4), 3 * 16,
					VIRTQ_DESC_F_INDIRECT, 0 };
	table[4] = (struct virtq_desc){ pa(hdr), sizeof(*hdr),
					VIRTQ_DESC_F_NEXT, 1 };
	table[5] = (struct virtq_desc){ pa(scratch), 512,
					VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
					2 };
	table[6] = (struct virtq_desc){ pa(status), 1, VIRTQ_DESC_F_WRITE, 0 };
	set_desc(q, 0, pa(table), 16, VIRTQ_DESC_F_INDIRECT, 0);
	return 0;
}

static int build_indirect_len(struct virtq *q)
{
	if (!virtio_has(q->dev, VIRTIO_F_INDIRECT_DESC))
		return -1;
	set_hdr(VIRTIO_BLK_T_IN);
	table[0] = (struct virtq_desc){ pa(hdr), sizeof(*hdr),
					VIRTQ_DESC_F_NEXT, 1 };
	table[1] = (struct virtq_desc){ pa(scratch), 512,
					VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
					2 };
	table[2] = (struct virtq_desc){ pa(status), 1, VIRTQ_DESC_F_WRITE, 0 };
	set_desc(q, 0, pa(table), 3 * 16 + 4, VIRTQ_DESC_F_INDIRECT, 0);
	return 0;
}

static const struct hcase cases[] = {
	{ "loop", build_loop, OUT_NEEDS_RESET },
	{ "next_oob", build_next_oob, OUT_NEEDS_RESET },
	{ "huge_len", build_huge_len, OUT_NEEDS_RESET },
	{ "past_ram", build_past_ram, OUT_NEEDS_RESET },
	{ "readable_data", build_readable_data, OUT_NEEDS_RESET | OUT_FAILED },
	{ "status_readable", build_status_readable, OUT_NEEDS_RESET },
	{ "order", build_order, OUT_NEEDS_RESET },
	{ "avail_jump", build_avail_jump, OUT_NEEDS_RESET },
	{ "indirect_nested", build_indirect_nested, OUT_NEEDS_RESET },
	{ "indirect_len", build_indirect_len, OUT_NEEDS_RESET },
};

#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

/* Publishes head (or, for 0x10000, an avail index far ahead) and kicks. */
static void post(struct virtq *q, int head)
{
	uint16_t idx = q->avail_idx;

	if (head == 0x10000) {
		idx = (uint16_t)(idx + q->size + 5);
	} else {
		q->avail->ring[idx & (q->size - 1)] = (uint16_t)head;
		idx++;
	}
	__asm__ volatile("mfence" ::: "memory");
	q->avail->idx = idx;
	q->avail_idx = q->kicked_idx = idx;
	__asm__ volatile("mfence" ::: "memory");
	virtq_notify(q);
}

static bool config_irq_seen(void *arg)
{
	return victim.vd.config_irqs != *(const uint32_t *)arg;
}

/*
 * Waits for the device's reaction: NEEDS_RESET, or the request coming
 * back through the used ring. irqs0 is the config interrupt count from
 * before the kick: the device may have reacted before we got here.
 */
static enum outcome react(struct virtq *q, uint32_t irqs0, bool *config_irq)
{
	uint64_t deadline = tsc_deadline_us(REACT_TIMEOUT_US);

	*config_irq = false;
	for (;;) {
		if (virtio_needs_reset(&victim.vd)) {
			*config_irq = !wait_until(config_irq_seen, &irqs0,
						  CONFIG_IRQ_TIMEOUT_US);
			return OUT_NEEDS_RESET;
		}
		if (q->used->idx != q->last_used) {
			uint8_t s = *status;

			return s == VIRTIO_BLK_S_OK ? OUT_OK : OUT_FAILED;
		}
		if (rdtsc() > deadline)
			return OUT_NOTHING;
		udelay(1000);
	}
}

static const char *outcome_name(enum outcome o)
{
	switch (o) {
	case OUT_NEEDS_RESET:
		return "needs-reset";
	case OUT_FAILED:
		return "request-failed";
	case OUT_OK:
		return "request-ok";
	default:
		return "no-reaction";
	}
}

/* Writes and reads back one sector with the pattern; true when good. */
static bool disk_works(struct vblk *b, uint64_t lba, uint8_t seed)
{
	if (lba >= b->capacity)
		lba = 0;
	blk_pattern_fill(sector_buf, lba, 1, seed);
	if (vblk_write(b, lba, sector_buf, VIRTIO_BLK_SECTOR) != 0)
		return false;
	memset(sector_buf, 0, VIRTIO_BLK_SECTOR);
	if (vblk_read(b, lba, sector_buf, VIRTIO_BLK_SECTOR) != 0)
		return false;
	return blk_pattern_check(sector_buf, lba, 1, seed) < 0;
}

/*
 * Above RAM and every BAR, 1 GiB aligned, plus 1 GiB of margin. Reserved
 * memmap ranges do not count: QEMU reserves 1012-1024 GiB on AMD hosts,
 * and nothing answers there either.
 */
static uint64_t pick_bad_addr(void)
{
	const struct hvm_memmap_table_entry *map;
	unsigned int n = guest_memmap(&map);
	uint64_t top = 1ULL << 32;

	for (unsigned int i = 0; i < n; i++) {
		if (map[i].type == HVM_MEMMAP_RAM &&
		    map[i].addr + map[i].size > top)
			top = map[i].addr + map[i].size;
	}
	for (unsigned int i = 0; i < pci_count(); i++) {
		const struct pci_dev *d = pci_get(i);

		for (unsigned int j = 0; j < PCI_NR_BARS; j++) {
			uint64_t e = d->bars[j].addr + d->bars[j].size;

			if (d->bars[j].type != PCI_BAR_IO && e > top)
				top = e;
		}
	}
	return ((top + (1ULL << 30) - 1) & ~((1ULL << 30) - 1)) + (1ULL << 30);
}

/* True when name is one of the comma-separated words of allow=. */
static bool allowed(const char *name)
{
	char list[128];
	size_t n = strlen(name);
	const char *p = list;

	if (cmdline_get_str("allow", list, sizeof(list)) <= 0)
		return false;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && !strncmp(p, name, n))
			return true;
		if (!e)
			break;
		p = e + 1;
	}
	return false;
}

static int run_case(unsigned int i, bool want_config_irq)
{
	const struct hcase *c = &cases[i];
	struct virtq *q;
	enum outcome o;
	bool cfg_irq = false, recovered, by_ok = true;
	unsigned int accept;
	uint32_t irqs0;
	int head;

	if (vblk_open(&victim, victim.vd.pci, &opts))
		return 70 + (int)i;
	q = victim.q;
	head = c->build(q);
	if (head < 0) {
		printf("blk_hostile: %-15s skipped (no indirect descriptors)\n",
		       c->name);
		return -1;
	}
	irqs0 = victim.vd.config_irqs;
	post(q, head);
	o = react(q, irqs0, &cfg_irq);
	if (have_bystander)
		by_ok = disk_works(&bystander, 8 + i, (uint8_t)i);
	/* Reset and bring the victim back, then prove it works. */
	recovered = !vblk_open(&victim, victim.vd.pci, &opts) &&
		    disk_works(&victim, 16 + i, (uint8_t)(0x80 + i));
	printf("blk_hostile: %-15s %s%s recovered=%s bystander=%s\n", c->name,
	       outcome_name(o),
	       o != OUT_NEEDS_RESET || opts.irq == VIRTIO_IRQ_POLL ? "" :
	       cfg_irq ? " config-irq=yes" :
			 " config-irq=no",
	       recovered ? "yes" : "no",
	       !have_bystander ? "none" :
	       by_ok	       ? "ok" :
				 "FAILED");
	accept = c->accept;
	if (allowed(c->name))
		accept |= OUT_FAILED | OUT_OK;
	if (!(o & accept))
		return 50 + (int)i;
	if (o == OUT_NEEDS_RESET && want_config_irq &&
	    opts.irq != VIRTIO_IRQ_POLL && !cfg_irq)
		return 50 + (int)i;
	if (!recovered)
		return 70 + (int)i;
	if (!by_ok)
		return 90 + (int)i;
	return 0;
}

static int open_disks(void)
{
	struct pci_dev *v =
		vblk_find((unsigned int)cmdline_get_uint("disk", 0));
	char by[8];
	struct pci_dev *b = NULL;

	if (!v) {
		puts("blk_hostile: no virtio-blk disk");
		return 10;
	}
	if (cmdline_get_str("bystander", by, sizeof(by)) < 0 ||
	    strcmp(by, "none")) {
		unsigned int n = (unsigned int)cmdline_get_uint(
			"bystander", cmdline_get_uint("disk", 0) + 1);

		b = vblk_find(n);
		if (!b || b == v) {
			puts("blk_hostile: no bystander disk (bystander=none "
			     "runs without)");
			return 10;
		}
	}
	if (vblk_open(&victim, v, &opts))
		return 11;
	if (b) {
		if (vblk_open(&bystander, b, &opts))
			return 11;
		have_bystander = true;
	}
	return 0;
}

int guest_main(const struct hvm_start_info *si)
{
	char only[24];
	bool want_cfg = cmdline_get_uint("config_irq", 1);
	bool filter = cmdline_get_str("only", only, sizeof(only)) > 0;
	unsigned int ran = 0;
	int r;

	(void)si;
	virtio_opts_from_cmdline(&opts, VIRTIO_IRQ_MSIX);
	/* Short waits: a broken victim should not stall the run. */
	if (!opts.timeout_us)
		opts.timeout_us = 2000000;
	if (opts.irq != VIRTIO_IRQ_POLL) {
		lapic_init();
		irq_enable();
	}
	hdr = dma_zalloc(sizeof(*hdr), 64);
	status = dma_zalloc(64, 64);
	scratch = dma_alloc(SCRATCH_SIZE, 4096);
	table = dma_zalloc(16 * sizeof(*table), 64);
	sector_buf = dma_alloc(VIRTIO_BLK_SECTOR, 512);
	if (!hdr || !status || !scratch || !table || !sector_buf)
		return 19;
	r = open_disks();
	if (r)
		return r;
	/* The victim is reopened twice per case: once is enough to see. */
	opts.quiet = true;
	bad_addr = cmdline_get_uint("bad_addr", pick_bad_addr());
	printf("blk_hostile: victim %s, bystander %s, bad_addr %#lx\n",
	       victim.vd.name, have_bystander ? bystander.vd.name : "none",
	       (unsigned long)bad_addr);
	for (unsigned int i = 0; i < NR_CASES; i++) {
		if (filter && strcmp(only, cases[i].name))
			continue;
		r = run_case(i, want_cfg);
		if (r > 0)
			return r;
		if (r == 0)
			ran++;
	}
	if (have_bystander && !disk_works(&bystander, 1, 0x33)) {
		puts("blk_hostile: the bystander failed at the end");
		return 80;
	}
	printf("blk_hostile: ok cases=%u\n", ran);
	return 0;
}
