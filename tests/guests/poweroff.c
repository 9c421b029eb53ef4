/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ACPI soft-off from the guest side. Reads the FADT for the PM1 control
 * blocks (or, on hardware-reduced ACPI, the sleep control register) and
 * the DSDT (then SSDTs) for the \_S5 package, switches the platform into
 * ACPI mode through SMI_CMD when the FADT says that is needed, and writes
 * SLP_TYP | SLP_EN: the VMM should end the VM with status 0.
 *
 * Modes (command line):
 *   (none)   power off now
 *   info     print what the tables say and exit 0 without powering off
 *   button   enable the power-button event, print "poweroff: waiting for
 *            the power button", wait (button_ms=N, default 30000) until
 *            PWRBTN_STS shows in PM1 status (by SCI interrupt or by
 *            polling every 10 ms), then power off
 *
 * The AML parser knows exactly one shape: NameOp "_S5_" (optionally with
 * the root prefix) PackageOp PkgLength NumElements and integer elements
 * (Zero, One, BytePrefix, WordPrefix, DWordPrefix).
 *
 * Exit codes: 0 info done, 40 still running after S5, 41 no FADT, 42 no
 * \_S5 package, 43 no PM1a control block, 44 ACPI mode never came on,
 * 45 no power-button press in time.
 */
#include "guest.h"

#define FADT_SCI_INT 46
#define FADT_SMI_CMD 48
#define FADT_ACPI_ENABLE 52
#define FADT_PM1A_EVT 56
#define FADT_PM1B_EVT 60
#define FADT_PM1A_CNT 64
#define FADT_PM1B_CNT 68
#define FADT_PM1_EVT_LEN 88
#define FADT_PM1_CNT_LEN 89
#define FADT_FLAGS 112
#define FADT_X_PM1A_EVT 148
#define FADT_X_PM1A_CNT 172
#define FADT_X_PM1B_CNT 184
#define FADT_SLEEP_CTRL 244

#define FADT_F_HW_REDUCED (1U << 20)

#define PM1_SCI_EN 0x0001
#define PM1_SLP_TYP_SHIFT 10
#define PM1_SLP_TYP_MASK (7U << 10)
#define PM1_SLP_EN 0x2000
#define PM1_PWRBTN 0x0100
#define SLEEP_CTRL_SLP_EN 0x20

#define GAS_MEMORY 0
#define GAS_IO 1

#define AML_ZERO 0x00
#define AML_ONE 0x01
#define AML_NAME 0x08
#define AML_BYTE 0x0a
#define AML_WORD 0x0b
#define AML_DWORD 0x0c
#define AML_PACKAGE 0x12
#define AML_ROOT 0x5c
#define AML_ONES 0xff

#define ACPI_MODE_TIMEOUT_US 3000000
#define S5_GRACE_US 2000000

/* A register: an I/O port or an MMIO address, with its width in bytes. */
struct reg {
	bool mmio;
	uint64_t addr;
	unsigned int width;
};

struct pm {
	const uint8_t *fadt;
	uint32_t fadt_len;
	bool hw_reduced;
	struct reg pm1a_cnt, pm1b_cnt, pm1a_sts, pm1a_en, sleep_ctrl;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint16_t sci;
	int slp_typa, slp_typb;
};

static volatile uint32_t sci_count;
static volatile uint16_t sci_status;
static struct pm pm;

static uint32_t get32(const uint8_t *p, uint32_t off)
{
	uint32_t v;

	memcpy(&v, p + off, 4);
	return v;
}

static uint64_t get64(const uint8_t *p, uint32_t off)
{
	uint64_t v;

	memcpy(&v, p + off, 8);
	return v;
}

static uint32_t reg_read(const struct reg *r)
{
	if (r->mmio)
		return r->width == 1 ? mmio_read8(r->addr) :
		       r->width == 2 ? mmio_read16(r->addr) :
				       mmio_read32(r->addr);
	return r->width == 1 ? inb((uint16_t)r->addr) :
	       r->width == 2 ? inw((uint16_t)r->addr) :
			       inl((uint16_t)r->addr);
}

static void reg_write(const struct reg *r, uint32_t v)
{
	if (r->mmio) {
		if (r->width == 1)
			mmio_write8(r->addr, (uint8_t)v);
		else if (r->width == 2)
			mmio_write16(r->addr, (uint16_t)v);
		else
			mmio_write32(r->addr, v);
	} else if (r->width == 1) {
		outb((uint16_t)r->addr, (uint8_t)v);
	} else if (r->width == 2) {
		outw((uint16_t)r->addr, (uint16_t)v);
	} else {
		outl((uint16_t)r->addr, v);
	}
}

/*
 * A register from the 12-byte GAS at off (ACPI 2.0+), else from the
 * 32-bit port field legacy_off. Only system I/O and memory below 4 GiB.
 */
static struct reg fadt_reg(uint32_t off, uint32_t legacy_off,
			   unsigned int width)
{
	struct reg r = { false, 0, width };

	if (off && pm.fadt_len >= off + 12) {
		const uint8_t *g = pm.fadt + off;
		uint64_t a = get64(g, 4);

		if (a && (g[0] == GAS_IO ||
			  (g[0] == GAS_MEMORY && a < (1ULL << 32) - 4))) {
			r.mmio = g[0] == GAS_MEMORY;
			r.addr = a;
			return r;
		}
	}
	if (legacy_off && pm.fadt_len >= legacy_off + 4)
		r.addr = get32(pm.fadt, legacy_off);
	return r;
}

/* Reads one AML integer at *p (within end); returns -1 when it is none. */
static int64_t aml_int(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *q = *p;
	int64_t v;

	if (q >= end)
		return -1;
	switch (*q) {
	case AML_ZERO:
		*p = q + 1;
		return 0;
	case AML_ONE:
		*p = q + 1;
		return 1;
	case AML_ONES:
		*p = q + 1;
		return 0xff;
	case AML_BYTE:
		if (q + 2 > end)
			return -1;
		*p = q + 2;
		return q[1];
	case AML_WORD:
		if (q + 3 > end)
			return -1;
		*p = q + 3;
		return q[1] | q[2] << 8;
	case AML_DWORD:
		if (q + 5 > end)
			return -1;
		v = (int64_t)get32(q, 1);
		*p = q + 5;
		return v;
	default:
		return -1;
	}
}

/* Looks for Name(_S5_, Package(){a, b, ...}) in one definition block. */
static bool find_s5(const struct acpi_header *t)
{
	const uint8_t *b = (const uint8_t *)t, *end = b + t->length;

	for (const uint8_t *p = b + sizeof(*t) + 1; p + 8 <= end; p++) {
		const uint8_t *q;
		unsigned int follow;
		int64_t a, c;

		if (memcmp(p, "_S5_", 4))
			continue;
		if (p[-1] != AML_NAME &&
		    !(p[-1] == AML_ROOT && p - 2 >= b && p[-2] == AML_NAME))
			continue;
		q = p + 4;
		if (*q++ != AML_PACKAGE)
			continue;
		/* PkgLength: bits 6-7 of the lead byte count what follows. */
		follow = *q >> 6;
		q += 1 + follow;
		if (q + 1 >= end)
			return false;
		q++; /* NumElements */
		a = aml_int(&q, end);
		c = aml_int(&q, end);
		if (a < 0)
			return false;
		pm.slp_typa = (int)(a & 7);
		pm.slp_typb = c < 0 ? pm.slp_typa : (int)(c & 7);
		return true;
	}
	return false;
}

static int read_tables(void)
{
	const struct acpi_header *f = acpi_find_table("FACP", 0);
	const struct acpi_header *t;
	unsigned int evt_len;

	if (!f) {
		puts("poweroff: no FADT (no ACPI tables found)");
		return 41;
	}
	pm.fadt = (const uint8_t *)f;
	pm.fadt_len = f->length;
	if (pm.fadt_len < FADT_PM1_CNT_LEN + 1) {
		puts("poweroff: the FADT is too short");
		return 41;
	}
	pm.hw_reduced = pm.fadt_len >= FADT_FLAGS + 4 &&
			(get32(pm.fadt, FADT_FLAGS) & FADT_F_HW_REDUCED);
	pm.smi_cmd = get32(pm.fadt, FADT_SMI_CMD);
	pm.acpi_enable = pm.fadt[FADT_ACPI_ENABLE];
	pm.sci = (uint16_t)(pm.fadt[FADT_SCI_INT] | pm.fadt[FADT_SCI_INT + 1]
							    << 8);
	pm.pm1a_cnt = fadt_reg(FADT_X_PM1A_CNT, FADT_PM1A_CNT, 2);
	pm.pm1b_cnt = fadt_reg(FADT_X_PM1B_CNT, FADT_PM1B_CNT, 2);
	pm.pm1a_sts = fadt_reg(FADT_X_PM1A_EVT, FADT_PM1A_EVT, 2);
	evt_len = pm.fadt[FADT_PM1_EVT_LEN];
	pm.pm1a_en = pm.pm1a_sts;
	pm.pm1a_en.addr += evt_len / 2;
	pm.sleep_ctrl = fadt_reg(pm.hw_reduced ? FADT_SLEEP_CTRL : 0, 0, 1);
	t = acpi_find_table("DSDT", 0);
	printf("poweroff: FADT rev %u len %u%s, PM1a_CNT %s%#lx, PM1a_EVT "
	       "%#lx/%u, SMI_CMD %#x ACPI_ENABLE %#x, SCI %u, DSDT len %u\n",
	       f->revision, pm.fadt_len, pm.hw_reduced ? " hw-reduced" : "",
	       pm.pm1a_cnt.mmio ? "mmio " : "port ",
	       (unsigned long)pm.pm1a_cnt.addr, (unsigned long)pm.pm1a_sts.addr,
	       evt_len, pm.smi_cmd, pm.acpi_enable, pm.sci, t ? t->length : 0);
	pm.slp_typa = -1;
	if (!(t && find_s5(t))) {
		for (unsigned int i = 0; (t = acpi_find_table("SSDT", i));
		     i++) {
			if (find_s5(t))
				break;
		}
	}
	if (pm.slp_typa < 0) {
		puts("poweroff: no \\_S5 package in the DSDT or SSDTs");
		return 42;
	}
	printf("poweroff: \\_S5 SLP_TYPa=%d SLP_TYPb=%d\n", pm.slp_typa,
	       pm.slp_typb);
	if (!pm.hw_reduced && !pm.pm1a_cnt.addr) {
		puts("poweroff: no PM1a control block");
		return 43;
	}
	return 0;
}

static bool sci_enabled(void *arg)
{
	(void)arg;
	return reg_read(&pm.pm1a_cnt) & PM1_SCI_EN;
}

/* ACPI 4.8.2.1 / 16.3: SMI_CMD 0 means the platform is always in ACPI
 * mode; otherwise write ACPI_ENABLE there and wait for SCI_EN. */
static int acpi_mode(void)
{
	if (pm.hw_reduced || sci_enabled(NULL))
		return 0;
	if (!pm.smi_cmd || !pm.acpi_enable) {
		puts("poweroff: SCI_EN is clear and there is no SMI_CMD; going on");
		return 0;
	}
	outb((uint16_t)pm.smi_cmd, pm.acpi_enable);
	if (wait_until(sci_enabled, NULL, ACPI_MODE_TIMEOUT_US)) {
		puts("poweroff: SCI_EN never came on");
		return 44;
	}
	puts("poweroff: ACPI mode enabled");
	return 0;
}

static void sleep_s5(void)
{
	if (pm.hw_reduced && pm.sleep_ctrl.addr) {
		reg_write(&pm.sleep_ctrl,
			  (uint32_t)(pm.slp_typa & 7) << 2 | SLEEP_CTRL_SLP_EN);
		return;
	}
	if (pm.pm1b_cnt.addr) {
		uint32_t v = reg_read(&pm.pm1b_cnt) & ~PM1_SLP_TYP_MASK;

		reg_write(&pm.pm1b_cnt,
			  v | (uint32_t)pm.slp_typb << PM1_SLP_TYP_SHIFT |
				  PM1_SLP_EN);
	}
	reg_write(&pm.pm1a_cnt,
		  (reg_read(&pm.pm1a_cnt) & ~PM1_SLP_TYP_MASK) |
			  (uint32_t)pm.slp_typa << PM1_SLP_TYP_SHIFT |
			  PM1_SLP_EN);
}

/* The SCI is level-triggered: clearing the status bits lowers it. */
static void sci_irq(struct trap_frame *f, void *arg)
{
	uint16_t s = (uint16_t)reg_read(&pm.pm1a_sts);

	(void)f;
	(void)arg;
	sci_count++;
	sci_status |= s;
	reg_write(&pm.pm1a_sts, s);
}

static int wait_button(void)
{
	uint64_t ms = cmdline_get_uint("button_ms", 30000);
	uint64_t deadline = tsc_deadline_us(ms * 1000);
	int vec = -1;

	if (!pm.pm1a_sts.addr) {
		puts("poweroff: no PM1a event block for the power button");
		return 45;
	}
	/* Clear a stale press, then enable the event. */
	reg_write(&pm.pm1a_sts, PM1_PWRBTN);
	reg_write(&pm.pm1a_en, reg_read(&pm.pm1a_en) | PM1_PWRBTN);
	if (pm.sci) {
		lapic_init();
		vec = irq_register_any(sci_irq, NULL);
		if (vec >= 0 &&
		    ioapic_route_gsi(pm.sci, (unsigned int)vec, 0, true, false))
			vec = -1;
		if (vec >= 0)
			irq_enable();
	}
	puts("poweroff: waiting for the power button");
	for (;;) {
		uint16_t s;

		if (sci_status & PM1_PWRBTN)
			break;
		s = (uint16_t)reg_read(&pm.pm1a_sts);
		if (s & PM1_PWRBTN && !(sci_status & PM1_PWRBTN)) {
			/* Give the SCI a moment before calling it missing. */
			udelay(20000);
			if (!(sci_status & PM1_PWRBTN)) {
				reg_write(&pm.pm1a_sts, PM1_PWRBTN);
				printf("poweroff: power button pressed "
				       "(polled, sci=%s)\n",
				       vec < 0 ? "unrouted" : "missing");
				irq_disable();
				return 0;
			}
		}
		if (rdtsc() > deadline) {
			irq_disable();
			puts("poweroff: no power-button press in time");
			return 45;
		}
		udelay(10000);
	}
	irq_disable();
	printf("poweroff: power button pressed (sci, %u interrupts)\n",
	       sci_count);
	return 0;
}

int guest_main(const struct hvm_start_info *si)
{
	int r;

	(void)si;
	r = read_tables();
	if (r || cmdline_has("info"))
		return r;
	r = acpi_mode();
	if (r)
		return r;
	if (cmdline_has("button")) {
		r = wait_button();
		if (r)
			return r;
	}
	puts("poweroff: entering S5");
	sleep_s5();
	udelay(S5_GRACE_US);
	puts("poweroff: still running after the S5 write");
	return 40;
}
