// SPDX-License-Identifier: Apache-2.0
/*
 * The ACPI PM1a register blocks the FADT declares (vmm/x86/acpi.c), with
 * the fixed power button, soft-off (S5) and the SCI.
 *
 * Ports (include/raevm/acpi.h):
 *   0x600 PM1_STS  status; write 1 to clear. PWRBTN_STS is set by
 *                  rv_acpi_pm_press_power_button(); WAK_STS by a sleep
 *                  request this device ignores (below). The other status
 *                  bits exist in the spec but nothing here ever sets them.
 *   0x602 PM1_EN   enables: every bit ACPI 6.3 defines is stored, so an
 *                  OSPM that enables an event and reads it back (ACPICA
 *                  does) sees its write; only PWRBTN_EN matters, as the
 *                  power button is the one event that can happen.
 *   0x604 PM1_CNT  SCI_EN reads 1 and cannot be cleared: there is no SMM,
 *                  the platform is always in ACPI mode (FADT SMI_CMD 0).
 *                  SLP_TYP and BM_RLD are stored. Writing SLP_EN (which
 *                  reads 0) with SLP_TYP = RV_ACPI_SLP_TYP_S5 ends the VM
 *                  with RV_STOP_GUEST_POWEROFF, status 0 from raevmd run.
 *
 * Other sleep types: the DSDT declares no \_S1-\_S4, so an OSPM has no
 * value to write for them; a guest that writes SLP_EN with another type
 * anyway keeps running and sees WAK_STS set at once, as if it had woken
 * up immediately, so that an OSPM waiting for the wake (ACPICA polls
 * WAK_STS after entering S1-S3) does not spin forever.
 *
 * The SCI is ISA IRQ 9, a level held at 1 through rv_vm_irq_line while
 * (PM1_STS & PM1_EN) != 0; the guest lowers it by clearing the status bit
 * or the enable.
 *
 * Accesses of 1, 2 or 4 bytes anywhere in the six ports are split into
 * the 16-bit registers they touch, so a byte write to the high half of
 * PM1_CNT (where SLP_TYP and SLP_EN live) acts like a word write that
 * leaves the low byte alone.
 *
 * Locking: `lock` protects the registers and the SCI level, and is held
 * across rv_vm_irq_line() so that the level KVM sees always matches the
 * last state (vCPU threads and the main loop's power button race). The
 * stop request is made after the lock is dropped.
 */
#include "raevm/acpi.h"

#include "raevm/bus.h"
#include "raevm/device.h"
#include "raevm/log.h"
#include "raevm/vm.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define PM_BASE RV_ACPI_PM1A_EVT_PORT
#define PM_NR_PORTS (RV_ACPI_PM1_EVT_LEN + RV_ACPI_PM1_CNT_LEN)
#define REG_STS 0 /* offsets from PM_BASE */
#define REG_EN 2
#define REG_CNT 4
#define NR_REGS 3

_Static_assert(RV_ACPI_PM1A_CNT_PORT == PM_BASE + REG_CNT,
	       "the control block follows the event block");

/* PM1_STS bits ACPI 6.3 defines, all write-1-to-clear. */
#define STS_DEFINED 0xcf31
/* PM1_EN bits ACPI 6.3 defines: TMR, GBL, PWRBTN, SLPBTN, RTC, PCIEXP_WAKE_DIS. */
#define EN_DEFINED 0x4721
/* PM1_CNT bits stored as written: BM_RLD and SLP_TYP. */
#define CNT_BM_RLD 0x0002
#define CNT_GBL_RLS 0x0004
#define CNT_STORED (CNT_BM_RLD | RV_ACPI_PM1_CNT_SLP_TYP_MASK)

struct rv_acpi_pm {
	pthread_mutex_t lock;
	struct rv_vm *vm;
	uint16_t sts;
	uint16_t en;
	uint16_t cnt;	 /* without SCI_EN, which always reads 1 */
	bool sci_level;	 /* what KVM was last told */
	bool sci_failed; /* an irq ioctl failed; warned once */
	bool registered;
};

/* Drives the SCI to match status and enables. Caller holds pm->lock. */
static void sci_update(struct rv_acpi_pm *pm)
{
	bool level = (pm->sts & pm->en) != 0;
	int rc;

	if (level == pm->sci_level)
		return;
	rc = rv_vm_irq_line(pm->vm, RV_ACPI_SCI_IRQ, level);
	if (rc) {
		if (!pm->sci_failed)
			rv_warn("acpi-pm: cannot set the SCI (IRQ %d): %s",
				RV_ACPI_SCI_IRQ, strerror(-rc));
		pm->sci_failed = true;
		return;
	}
	pm->sci_level = level;
}

static uint16_t reg_read(const struct rv_acpi_pm *pm, unsigned int reg)
{
	switch (reg) {
	case REG_STS:
		return pm->sts;
	case REG_EN:
		return pm->en;
	default:
		return pm->cnt | RV_ACPI_PM1_CNT_SCI_EN;
	}
}

/*
 * PM1_CNT write. Returns true when the guest asked for soft-off. mask says
 * which bytes the access wrote; SLP_EN lives in the high byte with
 * SLP_TYP, so a write that sets it always carries the type it means.
 */
static bool cnt_write(struct rv_acpi_pm *pm, uint16_t v, uint16_t mask)
{
	unsigned int typ;

	pm->cnt = (uint16_t)((pm->cnt & ~(mask & CNT_STORED)) |
			     (v & mask & CNT_STORED));
	if (v & mask & CNT_GBL_RLS)
		rv_debug("acpi-pm: GBL_RLS ignored (no SMM firmware)");
	if (!(v & mask & RV_ACPI_PM1_CNT_SLP_EN))
		return false;
	typ = (pm->cnt & RV_ACPI_PM1_CNT_SLP_TYP_MASK) >>
	      RV_ACPI_PM1_CNT_SLP_TYP_SHIFT;
	if (typ == RV_ACPI_SLP_TYP_S5)
		return true;
	rv_debug("acpi-pm: sleep type %u ignored; reporting a wake", typ);
	pm->sts |= RV_ACPI_PM1_STS_WAK;
	return false;
}

/* One register write of the bytes in mask. Returns true for soft-off. */
static bool reg_write(struct rv_acpi_pm *pm, unsigned int reg, uint16_t v,
		      uint16_t mask)
{
	switch (reg) {
	case REG_STS:
		pm->sts &= (uint16_t) ~(v & mask & STS_DEFINED);
		break;
	case REG_EN:
		pm->en = (uint16_t)((pm->en & ~(mask & EN_DEFINED)) |
				    (v & mask & EN_DEFINED));
		break;
	default:
		return cnt_write(pm, v, mask);
	}
	return false;
}

/* Whether an access of len bytes at offset stays inside the block. */
static bool access_ok(uint64_t offset, uint32_t len)
{
	return (len == 1 || len == 2 || len == 4) && offset < PM_NR_PORTS &&
	       len <= PM_NR_PORTS - offset;
}

static void pm_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct rv_acpi_pm *pm = opaque;
	uint8_t *out = data;
	uint32_t i;

	if (!access_ok(offset, len)) {
		if (len <= 8)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&pm->lock);
	for (i = 0; i < len; i++) {
		unsigned int port = (unsigned int)offset + i;

		out[i] =
			(uint8_t)(reg_read(pm, port & ~1u) >> (8 * (port & 1)));
	}
	pthread_mutex_unlock(&pm->lock);
}

static void pm_write(void *opaque, uint64_t offset, const void *data,
		     uint32_t len)
{
	struct rv_acpi_pm *pm = opaque;
	const uint8_t *in = data;
	uint16_t val[NR_REGS] = { 0 }, mask[NR_REGS] = { 0 };
	bool poweroff = false;
	unsigned int r;
	uint32_t i;

	if (!access_ok(offset, len))
		return;
	/* Gather the bytes per register, then apply each register once. */
	for (i = 0; i < len; i++) {
		unsigned int port = (unsigned int)offset + i;
		unsigned int shift = 8 * (port & 1);

		val[port / 2] |= (uint16_t)(in[i] << shift);
		mask[port / 2] |= (uint16_t)(0xff << shift);
	}
	pthread_mutex_lock(&pm->lock);
	for (r = 0; r < NR_REGS; r++)
		if (mask[r])
			poweroff |= reg_write(pm, r * 2, val[r], mask[r]);
	sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
	if (poweroff) {
		rv_debug("acpi-pm: the guest entered S5");
		rv_vm_request_stop(pm->vm, RV_STOP_GUEST_POWEROFF, 0);
	}
}

static const struct rv_bus_ops pm_ops = {
	.read = pm_read,
	.write = pm_write,
};

int rv_acpi_pm_press_power_button(struct rv_acpi_pm *pm)
{
	if (!pm)
		return -EINVAL;
	pthread_mutex_lock(&pm->lock);
	pm->sts |= RV_ACPI_PM1_STS_PWRBTN;
	sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

static void acpi_pm_destroy(void *opaque)
{
	struct rv_acpi_pm *pm = opaque;

	if (!pm)
		return;
	if (pm->registered)
		rv_bus_unregister(pm->vm->pio, PM_BASE);
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

static int acpi_pm_create(const struct rv_device_ctx *ctx, void **out)
{
	struct rv_acpi_pm *pm;
	int rc;

	*out = NULL;
	pm = rv__device_alloc(ctx, "acpi-pm", sizeof(*pm));
	if (!pm)
		return -ENOMEM; /* logged */
	pthread_mutex_init(&pm->lock, NULL);
	pm->vm = ctx->vm;
	rc = rv_bus_register(ctx->vm->pio, PM_BASE, PM_NR_PORTS, &pm_ops, pm);
	if (rc < 0) {
		rv_error("acpi-pm: cannot claim ports 0x%x-0x%x: %s", PM_BASE,
			 PM_BASE + PM_NR_PORTS - 1, strerror(-rc));
		acpi_pm_destroy(pm);
		return rc;
	}
	pm->registered = true;
	*out = pm;
	return 0;
}

const struct rv_device_type rv_acpi_pm_type = {
	.name = "acpi-pm",
	.create = acpi_pm_create,
	.destroy = acpi_pm_destroy,
};
