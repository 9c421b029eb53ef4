/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCI bus 0: configuration access, enumeration, BAR assignment, MSI-X and
 * INTx. See include/pci.h for the contracts and the command-line keys.
 *
 * The guest cannot know whether firmware ran before it (QEMU's SeaBIOS
 * assigns BARs; raevm assigns them itself, as firmware would), so it reads
 * what is there and fills in only what is missing. What the device
 * reports is untrusted: BAR sizes must be powers of two, capability
 * pointers must stay in the capability area, MSI-X tables must fit in
 * their BAR.
 */
#include "internal.h"
#include "pci.h"

#define CF8_ADDR 0xcf8
#define CF8_DATA 0xcfc
#define CF8_ENABLE 0x80000000U

#define MEM_WINDOW_DEFAULT 0xc0000000ULL
#define MEM_WINDOW_SIZE 0x20000000ULL
#define IO_WINDOW_BASE 0xc000ULL
#define IO_WINDOW_END 0x10000ULL
#define IDENTITY_END (1ULL << 32)

#define CAP_WALK_MAX 48
#define MSIX_ENTRY_SIZE 16
#define MSIX_CTRL_MASKED 1U
#define MSI_ADDR_BASE 0xfee00000U

#define MCFG_ENTRIES_OFF 44
#define MCFG_ENTRY_SIZE 16

enum access { ACCESS_NONE, ACCESS_CF8, ACCESS_ECAM };

static enum access access;
static uint64_t ecam_base;
static struct spinlock cfg_lock;

static struct pci_dev devs[PCI_MAX_DEVS];
static unsigned int nr_devs;
static bool scanned;

/* The ECAM base of segment 0, bus 0 from the MCFG table, or 0. */
static uint64_t mcfg_base(void)
{
	const struct acpi_header *t = acpi_find_table("MCFG", 0);
	const uint8_t *p = (const uint8_t *)t;

	if (!t)
		return 0;
	for (uint32_t off = MCFG_ENTRIES_OFF;
	     off + MCFG_ENTRY_SIZE <= t->length; off += MCFG_ENTRY_SIZE) {
		uint64_t base;
		uint16_t seg;

		memcpy(&base, p + off, 8);
		memcpy(&seg, p + off + 8, 2);
		if (seg == 0 && p[off + 10] == 0)
			return base;
	}
	return 0;
}

int pci_init(void)
{
	char how[8];
	bool want_cf8 = false;
	uint64_t base;

	if (access != ACCESS_NONE)
		return 0;
	if (cmdline_get_str("pci", how, sizeof(how)) > 0)
		want_cf8 = !strcmp(how, "cf8");
	base = cmdline_get_uint("ecam", ~0ULL);
	if (base == ~0ULL)
		base = mcfg_base();
	/* ECAM must lie in the identity map, 1 MiB aligned, with room for
	 * bus 0's 1 MiB. */
	if (base && ((base & 0xfffff) || base > IDENTITY_END - (1 << 20))) {
		printf("pci: ECAM base %#lx unusable, using 0xcf8\n",
		       (unsigned long)base);
		base = 0;
	}
	if (!want_cf8 && base) {
		access = ACCESS_ECAM;
		ecam_base = base;
	} else {
		access = ACCESS_CF8;
	}
	return 0;
}

const char *pci_access_name(void)
{
	return access == ACCESS_ECAM ? "ecam" : "cf8";
}

uint64_t pci_ecam_base(void)
{
	return access == ACCESS_ECAM ? ecam_base : 0;
}

static bool cfg_args_ok(uint8_t dev, uint8_t fn, uint16_t off,
			unsigned int size)
{
	if (dev > 31 || fn > 7 || (size != 1 && size != 2 && size != 4))
		return false;
	if (off & (size - 1))
		return false;
	return off < (access == ACCESS_ECAM ? 4096 : 256);
}

static uint64_t ecam_addr(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
	return ecam_base + ((uint64_t)bus << 20) + ((uint64_t)dev << 15) +
	       ((uint64_t)fn << 12) + off;
}

static uint32_t cf8_addr(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
	return CF8_ENABLE | (uint32_t)bus << 16 | (uint32_t)dev << 11 |
	       (uint32_t)fn << 8 | (off & 0xfc);
}

uint32_t pci_cfg_read(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off,
		      unsigned int size)
{
	uint32_t v = 0xffffffff;
	uint64_t flags;

	if (access == ACCESS_NONE && pci_init())
		return v;
	if (!cfg_args_ok(dev, fn, off, size))
		return size == 4 ? v : v & ((1U << (size * 8)) - 1);
	if (access == ACCESS_ECAM) {
		uint64_t a = ecam_addr(bus, dev, fn, off);

		if (size == 1)
			return mmio_read8(a);
		if (size == 2)
			return mmio_read16(a);
		return mmio_read32(a);
	}
	/* The address/data pair is two steps: hold the lock across both. */
	flags = spin_lock_irqsave(&cfg_lock);
	outl(CF8_ADDR, cf8_addr(bus, dev, fn, off));
	if (size == 1)
		v = inb(CF8_DATA + (off & 3));
	else if (size == 2)
		v = inw(CF8_DATA + (off & 2));
	else
		v = inl(CF8_DATA);
	spin_unlock_irqrestore(&cfg_lock, flags);
	return v;
}

void pci_cfg_write(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off,
		   unsigned int size, uint32_t v)
{
	uint64_t flags;

	if (access == ACCESS_NONE && pci_init())
		return;
	if (!cfg_args_ok(dev, fn, off, size))
		return;
	if (access == ACCESS_ECAM) {
		uint64_t a = ecam_addr(bus, dev, fn, off);

		if (size == 1)
			mmio_write8(a, (uint8_t)v);
		else if (size == 2)
			mmio_write16(a, (uint16_t)v);
		else
			mmio_write32(a, v);
		return;
	}
	flags = spin_lock_irqsave(&cfg_lock);
	outl(CF8_ADDR, cf8_addr(bus, dev, fn, off));
	if (size == 1)
		outb(CF8_DATA + (off & 3), (uint8_t)v);
	else if (size == 2)
		outw(CF8_DATA + (off & 2), (uint16_t)v);
	else
		outl(CF8_DATA, v);
	spin_unlock_irqrestore(&cfg_lock, flags);
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/*
 * Sizes BAR i by writing all ones and reading the mask back (decode is
 * off while this runs, so the device never answers at the probe address)
 * and restores the original value. Returns how many slots it took (1 or
 * 2), or 0 when the BAR is malformed.
 */
static unsigned int bar_probe(struct pci_dev *d, unsigned int i)
{
	uint16_t off = (uint16_t)(PCI_BAR0 + 4 * i);
	uint32_t orig = pci_read32(d, off), lo, hi = 0, orig_hi = 0;
	struct pci_bar *b = &d->bars[i];
	uint64_t mask;

	pci_write32(d, off, 0xffffffff);
	lo = pci_read32(d, off);
	pci_write32(d, off, orig);
	if (orig & 1) {
		uint32_t m = lo & ~3U;

		if (!m)
			return 1;
		/* Many devices decode 16 bits of I/O and read 0 above. */
		if (!(m & 0xffff0000))
			m |= 0xffff0000;
		b->type = PCI_BAR_IO;
		b->size = (uint32_t)(~m + 1);
		b->addr = orig & ~3U;
		return is_pow2(b->size) && b->size <= 0x10000 ? 1 : 0;
	}
	switch ((orig >> 1) & 3) {
	case 0:
	case 1: /* "below 1 MiB", obsolete: treat as 32-bit */
		b->type = PCI_BAR_MEM32;
		break;
	case 2:
		if (i + 1 >= PCI_NR_BARS)
			return 0;
		b->type = PCI_BAR_MEM64;
		orig_hi = pci_read32(d, off + 4);
		pci_write32(d, off + 4, 0xffffffff);
		hi = pci_read32(d, off + 4);
		pci_write32(d, off + 4, orig_hi);
		break;
	default:
		return 0;
	}
	b->prefetch = orig & 8;
	if (b->type == PCI_BAR_MEM32) {
		hi = 0xffffffff;
		if (!(lo & ~0xfU)) {
			b->type = PCI_BAR_NONE;
			return 1;
		}
	} else if (!(lo & ~0xfU) && !hi) {
		b->type = PCI_BAR_NONE;
		return 2;
	}
	mask = (uint64_t)hi << 32 | (lo & ~0xfU);
	b->size = ~mask + 1;
	b->addr = (uint64_t)orig_hi << 32 | (orig & ~0xfU);
	if (!is_pow2(b->size) || b->size < 16)
		return 0;
	return b->type == PCI_BAR_MEM64 ? 2 : 1;
}

static void bars_probe(struct pci_dev *d)
{
	unsigned int nbars = d->header_type == 0 ? 6 :
			     d->header_type == 1 ? 2 :
						   0;
	uint16_t cmd = pci_read16(d, PCI_COMMAND);

	pci_write16(d, PCI_COMMAND, cmd & ~(PCI_CMD_IO | PCI_CMD_MEM));
	for (unsigned int i = 0; i < nbars;) {
		unsigned int n = bar_probe(d, i);

		if (!n) {
			printf("pci %02x:%02x.%x: BAR%u does not size sanely\n",
			       d->bus, d->dev, d->fn, i);
			d->bars_bad = true;
			d->bars[i].type = PCI_BAR_NONE;
			d->bars[i].size = 0;
			break;
		}
		i += n;
	}
	pci_write16(d, PCI_COMMAND, cmd);
}

uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t start)
{
	uint8_t p;

	if (!(pci_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	p = start ? pci_read8(d, start + 1) : pci_read8(d, PCI_CAP_PTR);
	for (unsigned int n = 0; n < CAP_WALK_MAX; n++) {
		p &= 0xfc;
		if (p < 0x40)
			return 0;
		if (pci_read8(d, p) == id)
			return p;
		p = pci_read8(d, p + 1);
	}
	return 0;
}

static void msix_probe(struct pci_dev *d)
{
	uint8_t cap = pci_find_cap(d, PCI_CAP_MSIX, 0);
	uint32_t t;

	if (!cap)
		return;
	t = pci_read32(d, cap + 4);
	d->msix_cap = cap;
	d->msix_size = (pci_read16(d, cap + 2) & 0x7ff) + 1;
	d->msix_bir = t & 7;
	d->msix_offset = t & ~7U;
}

static void func_probe(uint8_t dev, uint8_t fn)
{
	struct pci_dev *d;
	uint32_t id = pci_cfg_read(0, dev, fn, PCI_VENDOR_ID, 4);

	if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0)
		return;
	if (nr_devs >= PCI_MAX_DEVS)
		return;
	d = &devs[nr_devs++];
	memset(d, 0, sizeof(*d));
	d->bus = 0;
	d->dev = dev;
	d->fn = fn;
	d->vendor = (uint16_t)id;
	d->device = (uint16_t)(id >> 16);
	d->revision = pci_read8(d, PCI_REVISION);
	d->class_code = pci_read32(d, PCI_REVISION) >> 8;
	d->header_type = pci_read8(d, PCI_HEADER_TYPE) & 0x7f;
	d->intx_vector = -1;
	if (d->header_type == 0) {
		d->subsys_vendor = pci_read16(d, PCI_SUBSYS_VENDOR);
		d->subsys_id = pci_read16(d, PCI_SUBSYS_ID);
	}
	d->irq_line = pci_read8(d, PCI_INT_LINE);
	d->irq_pin = pci_read8(d, PCI_INT_PIN);
	if (d->irq_pin > 4)
		d->irq_pin = 0;
	bars_probe(d);
	msix_probe(d);
}

int pci_scan(void)
{
	int r = pci_init();

	if (r)
		return r;
	if (scanned)
		return (int)nr_devs;
	for (uint8_t dev = 0; dev < 32; dev++) {
		uint32_t id = pci_cfg_read(0, dev, 0, PCI_VENDOR_ID, 4);
		unsigned int nfn = 1;

		if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0)
			continue;
		if (pci_cfg_read(0, dev, 0, PCI_HEADER_TYPE, 1) & 0x80)
			nfn = 8;
		for (uint8_t fn = 0; fn < nfn; fn++)
			func_probe(dev, fn);
	}
	scanned = true;
	if (access == ACCESS_ECAM)
		printf("pci: %u functions on bus 0 (ecam at %#lx)\n", nr_devs,
		       (unsigned long)ecam_base);
	else
		printf("pci: %u functions on bus 0 (cf8)\n", nr_devs);
	return (int)nr_devs;
}

unsigned int pci_count(void)
{
	return nr_devs;
}

struct pci_dev *pci_get(unsigned int i)
{
	return i < nr_devs ? &devs[i] : NULL;
}

struct pci_dev *pci_find(uint16_t vendor, uint16_t device, unsigned int nth)
{
	if (pci_scan() < 0)
		return NULL;
	for (unsigned int i = 0; i < nr_devs; i++) {
		if (devs[i].vendor != vendor)
			continue;
		if (device != 0xffff && devs[i].device != device)
			continue;
		if (nth-- == 0)
			return &devs[i];
	}
	return NULL;
}

static const char *const bar_names[] = { "-", "io", "mem32", "mem64" };

void pci_print(const struct pci_dev *d)
{
	uint64_t flags = console_lock();

	printf("pci %02x:%02x.%x %04x:%04x class %06x", d->bus, d->dev, d->fn,
	       d->vendor, d->device, d->class_code);
	if (d->irq_pin)
		printf(" int%c line %u", 'A' + d->irq_pin - 1, d->irq_line);
	for (unsigned int i = 0; i < PCI_NR_BARS; i++) {
		const struct pci_bar *b = &d->bars[i];

		if (b->type == PCI_BAR_NONE)
			continue;
		printf(" bar%u %s%s %#lx+%#lx", i, bar_names[b->type],
		       b->prefetch ? "p" : "", (unsigned long)b->addr,
		       (unsigned long)b->size);
	}
	if (d->msix_cap)
		printf(" msix %u@bar%u+%#x", d->msix_size, d->msix_bir,
		       d->msix_offset);
	printf("\n");
	console_unlock(flags);
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/*
 * Finds a size-aligned home for a BAR in [base, end) that overlaps no
 * assigned BAR of the same space on any function (except skip itself) and
 * not the ECAM area. Returns the address or 0.
 */
static uint64_t window_fit(const struct pci_bar *skip, bool io, uint64_t size,
			   uint64_t base, uint64_t end)
{
	uint64_t a = (base + size - 1) & ~(size - 1);

	while (a >= base && a + size <= end) {
		uint64_t bump = 0;

		if (!io && pci_ecam_base() &&
		    overlaps(a, size, pci_ecam_base(), 256ULL << 20))
			bump = pci_ecam_base() + (256ULL << 20);
		for (unsigned int i = 0; i < nr_devs && !bump; i++) {
			for (unsigned int j = 0; j < PCI_NR_BARS; j++) {
				const struct pci_bar *o = &devs[i].bars[j];

				if (o == skip || !o->addr || !o->size ||
				    (o->type == PCI_BAR_IO) != io)
					continue;
				if (overlaps(a, size, o->addr, o->size)) {
					bump = o->addr + o->size;
					break;
				}
			}
		}
		if (!bump)
			return a;
		a = (bump + size - 1) & ~(size - 1);
	}
	return 0;
}

static bool bar_needs_home(const struct pci_bar *b, bool reassign)
{
	if (b->type == PCI_BAR_NONE || !b->size)
		return false;
	if (reassign || !b->addr)
		return true;
	/* The kit reaches memory below 4 GiB only. */
	return b->type != PCI_BAR_IO && b->addr + b->size > IDENTITY_END;
}

static int bar_assign(struct pci_dev *d, unsigned int i)
{
	struct pci_bar *b = &d->bars[i];
	bool io = b->type == PCI_BAR_IO;
	uint64_t base = io ? IO_WINDOW_BASE :
			     cmdline_get_uint("pci_mem", MEM_WINDOW_DEFAULT);
	uint64_t end = io ? IO_WINDOW_END : base + MEM_WINDOW_SIZE;
	uint64_t old = b->addr, a;
	uint16_t off = (uint16_t)(PCI_BAR0 + 4 * i);

	if (end > IDENTITY_END)
		end = IDENTITY_END;
	/* Take it out of the overlap search while it looks for a home. */
	b->addr = 0;
	a = window_fit(b, io, b->size, base, end);
	if (!a) {
		b->addr = old;
		printf("pci %02x:%02x.%x: no room for BAR%u (%#lx bytes) in "
		       "%#lx-%#lx\n",
		       d->bus, d->dev, d->fn, i, (unsigned long)b->size,
		       (unsigned long)base, (unsigned long)end);
		return -ENOSPC;
	}
	pci_write32(d, off, (uint32_t)a | (io ? 1 : 0));
	if (b->type == PCI_BAR_MEM64)
		pci_write32(d, off + 4, (uint32_t)(a >> 32));
	b->addr = a;
	printf("pci %02x:%02x.%x: BAR%u %#lx -> %#lx\n", d->bus, d->dev, d->fn,
	       i, (unsigned long)old, (unsigned long)a);
	return 0;
}

int pci_enable(struct pci_dev *d)
{
	bool reassign = cmdline_has("pci_reassign");
	uint16_t cmd, want = PCI_CMD_MASTER;
	int r = 0;

	if (d->bars_bad)
		return -EIO;
	cmd = pci_read16(d, PCI_COMMAND);
	pci_write16(d, PCI_COMMAND, cmd & ~(PCI_CMD_IO | PCI_CMD_MEM));
	for (unsigned int i = 0; i < PCI_NR_BARS && !r; i++) {
		struct pci_bar *b = &d->bars[i];

		if (bar_needs_home(b, reassign))
			r = bar_assign(d, i);
		if (b->type == PCI_BAR_IO)
			want |= PCI_CMD_IO;
		else if (b->type != PCI_BAR_NONE)
			want |= PCI_CMD_MEM;
		if (b->type == PCI_BAR_MEM64)
			i++;
	}
	if (r) {
		pci_write16(d, PCI_COMMAND, cmd);
		return r;
	}
	pci_write16(d, PCI_COMMAND, cmd | want);
	return 0;
}

/* The MSI-X table's address, checked against its BAR. */
static int msix_table_addr(const struct pci_dev *d, uint64_t *out)
{
	const struct pci_bar *b;

	if (!d->msix_cap)
		return -ENODEV;
	if (d->msix_bir >= PCI_NR_BARS)
		return -EIO;
	b = &d->bars[d->msix_bir];
	if ((b->type != PCI_BAR_MEM32 && b->type != PCI_BAR_MEM64) ||
	    !b->addr || d->msix_offset >= b->size ||
	    (uint64_t)d->msix_size * MSIX_ENTRY_SIZE >
		    b->size - d->msix_offset ||
	    b->addr + b->size > IDENTITY_END)
		return -EIO;
	*out = b->addr + d->msix_offset;
	return 0;
}

int pci_msix_enable(struct pci_dev *d)
{
	uint16_t ctrl;
	uint64_t t;
	int r = msix_table_addr(d, &t);

	if (r)
		return r;
	ctrl = pci_read16(d, d->msix_cap + 2);
	/* Function-mask while the entries are masked one by one, so no
	 * half-written entry ever fires. */
	pci_write16(d, d->msix_cap + 2,
		    ctrl | PCI_MSIX_CTRL_ENABLE | PCI_MSIX_CTRL_MASKALL);
	for (unsigned int i = 0; i < d->msix_size; i++)
		mmio_write32(t + i * MSIX_ENTRY_SIZE + 12, MSIX_CTRL_MASKED);
	pci_write16(d, d->msix_cap + 2,
		    (ctrl | PCI_MSIX_CTRL_ENABLE) & ~PCI_MSIX_CTRL_MASKALL);
	d->msix_table = t;
	return 0;
}

void pci_msix_disable(struct pci_dev *d)
{
	uint16_t ctrl;

	if (!d->msix_cap)
		return;
	ctrl = pci_read16(d, d->msix_cap + 2);
	pci_write16(d, d->msix_cap + 2,
		    ctrl & ~(PCI_MSIX_CTRL_ENABLE | PCI_MSIX_CTRL_MASKALL));
	d->msix_table = 0;
}

int pci_msix_set(struct pci_dev *d, unsigned int entry, uint8_t vector,
		 uint8_t dest_apic)
{
	uint64_t e;

	if (!d->msix_table || entry >= d->msix_size ||
	    vector < VEC_USER_FIRST || vector > VEC_USER_LAST)
		return -EINVAL;
	e = d->msix_table + entry * MSIX_ENTRY_SIZE;
	mmio_write32(e + 12, MSIX_CTRL_MASKED);
	/* Physical destination mode, fixed delivery, edge. */
	mmio_write32(e + 0, MSI_ADDR_BASE | (uint32_t)dest_apic << 12);
	mmio_write32(e + 4, 0);
	mmio_write32(e + 8, vector);
	mmio_write32(e + 12, 0);
	return 0;
}

int pci_msix_mask(struct pci_dev *d, unsigned int entry, bool masked)
{
	if (!d->msix_table || entry >= d->msix_size)
		return -EINVAL;
	mmio_write32(d->msix_table + entry * MSIX_ENTRY_SIZE + 12,
		     masked ? MSIX_CTRL_MASKED : 0);
	return 0;
}

/*
 * PCI INTx lines are shared (QEMU's PIIX puts every slot on four lines):
 * one vector per line, whose dispatcher calls every function's handler;
 * each handler must cope with an interrupt its function did not raise.
 */
#define INTX_LINES 8
#define INTX_SHARERS 8

struct intx_line {
	uint8_t gsi;
	int vector; /* 0: slot unused */
	unsigned int n;
	struct {
		struct pci_dev *dev;
		trap_handler_t fn;
		void *arg;
	} h[INTX_SHARERS];
};

static struct intx_line intx_lines[INTX_LINES];

static void intx_dispatch(struct trap_frame *f, void *arg)
{
	struct intx_line *l = arg;

	for (unsigned int i = 0; i < l->n; i++) {
		if (l->h[i].fn)
			l->h[i].fn(f, l->h[i].arg);
	}
}

static struct intx_line *intx_line_get(uint8_t gsi)
{
	struct intx_line *free = NULL;
	int v, r;

	for (unsigned int i = 0; i < INTX_LINES; i++) {
		if (intx_lines[i].vector && intx_lines[i].gsi == gsi)
			return &intx_lines[i];
		if (!intx_lines[i].vector && !free)
			free = &intx_lines[i];
	}
	if (!free)
		return NULL;
	v = irq_register_any(intx_dispatch, free);
	if (v < 0)
		return NULL;
	r = ioapic_route_gsi(gsi, (unsigned int)v, 0, true, false);
	if (r) {
		if (irq_register((unsigned int)v, NULL, NULL))
			printf("pci: cannot release vector %d\n", v);
		return NULL;
	}
	free->gsi = gsi;
	free->n = 0;
	free->vector = v;
	return free;
}

int pci_intx_route(struct pci_dev *d, trap_handler_t fn, void *arg)
{
	struct intx_line *l;
	uint64_t flags;

	if (!d->irq_pin || d->irq_line == 0 || d->irq_line == 0xff || !fn)
		return -ENODEV;
	if (d->intx_vector >= 0)
		return -EBUSY;
	l = intx_line_get(d->irq_line);
	if (!l)
		return -EBUSY;
	if (l->n >= INTX_SHARERS)
		return -EBUSY;
	/* The dispatcher may run meanwhile: fill the slot, then count it. */
	flags = irq_save();
	l->h[l->n].dev = d;
	l->h[l->n].fn = fn;
	l->h[l->n].arg = arg;
	l->n++;
	irq_restore(flags);
	d->intx_vector = l->vector;
	pci_write16(d, PCI_COMMAND,
		    pci_read16(d, PCI_COMMAND) & ~PCI_CMD_INTX_DISABLE);
	return l->vector;
}

/* The line stays routed for its other sharers; this one stops raising. */
void pci_intx_unroute(struct pci_dev *d)
{
	uint64_t flags;

	if (d->intx_vector < 0)
		return;
	pci_write16(d, PCI_COMMAND,
		    pci_read16(d, PCI_COMMAND) | PCI_CMD_INTX_DISABLE);
	flags = irq_save();
	for (unsigned int i = 0; i < INTX_LINES; i++) {
		struct intx_line *l = &intx_lines[i];

		if (l->vector != d->intx_vector)
			continue;
		for (unsigned int j = 0; j < l->n; j++) {
			if (l->h[j].dev == d)
				l->h[j].fn = NULL;
		}
	}
	irq_restore(flags);
	d->intx_vector = -1;
}
