// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the ACPI PM device (devices/legacy/acpi_pm.c): register
 * semantics through the port bus, the SCI level and the soft-off request.
 * rv_vm_irq_line and rv_vm_request_stop are replaced through -Wl,--wrap
 * and recorded.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raevm/acpi.h"
#include "raevm/bus.h"
#include "raevm/device.h"
#include "raevm/vm.h"

#define PM1_STS RV_ACPI_PM1A_EVT_PORT
#define PM1_EN (RV_ACPI_PM1A_EVT_PORT + 2)
#define PM1_CNT RV_ACPI_PM1A_CNT_PORT
#define S5_CNT                                                                 \
	(RV_ACPI_SLP_TYP_S5 << RV_ACPI_PM1_CNT_SLP_TYP_SHIFT |                 \
	 RV_ACPI_PM1_CNT_SLP_EN)
#define MAX_CALLS 16

struct irq_call {
	uint32_t gsi;
	int level;
};

struct stop_call {
	enum rv_stop_reason reason;
	int exit_code;
};

static struct irq_call irqs[MAX_CALLS];
static size_t nr_irqs;
static int irq_result; /* what the wrapped rv_vm_irq_line returns */
static struct stop_call stops[MAX_CALLS];
static size_t nr_stops;

int __wrap_rv_vm_irq_line(struct rv_vm *vm, uint32_t gsi, int level);
void __wrap_rv_vm_request_stop(struct rv_vm *vm, enum rv_stop_reason reason,
			       int exit_code);

int __wrap_rv_vm_irq_line(struct rv_vm *vm, uint32_t gsi, int level)
{
	(void)vm;
	if (nr_irqs < MAX_CALLS)
		irqs[nr_irqs] = (struct irq_call){ gsi, level };
	nr_irqs++;
	return irq_result;
}

void __wrap_rv_vm_request_stop(struct rv_vm *vm, enum rv_stop_reason reason,
			       int exit_code)
{
	(void)vm;
	if (nr_stops < MAX_CALLS)
		stops[nr_stops] = (struct stop_call){ reason, exit_code };
	nr_stops++;
}

struct fixture {
	struct rv_vm vm;
	struct rv_acpi_pm *pm;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct rv_device_ctx ctx;
	void *dev;

	if (!f)
		return -1;
	if (rv_bus_create("pio", &f->vm.pio) < 0)
		return -1;
	ctx = (struct rv_device_ctx){ .vm = &f->vm };
	if (rv_acpi_pm_type.create(&ctx, &dev) < 0)
		return -1;
	f->pm = dev;
	nr_irqs = 0;
	nr_stops = 0;
	irq_result = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rv_acpi_pm_type.destroy(f->pm);
	rv_bus_destroy(f->vm.pio);
	free(f);
	return 0;
}

static void out(struct fixture *f, uint16_t port, uint32_t val, uint32_t len)
{
	assert_int_equal(rv_bus_access(f->vm.pio, port, &val, len, true), 0);
}

static uint32_t in(struct fixture *f, uint16_t port, uint32_t len)
{
	uint32_t val = 0;

	assert_int_equal(rv_bus_access(f->vm.pio, port, &val, len, false), 0);
	return val;
}

static void assert_irq(size_t i, int level)
{
	assert_true(i < nr_irqs);
	assert_int_equal(irqs[i].gsi, RV_ACPI_SCI_IRQ);
	assert_int_equal(irqs[i].level, level);
}

/* ---- registers ------------------------------------------------------------ */

static void pm1_cnt__sci_en_always_set(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(in(f, PM1_CNT, 2), RV_ACPI_PM1_CNT_SCI_EN);
	/* There is no SMM to hand the events to: SCI_EN cannot be cleared. */
	out(f, PM1_CNT, 0, 2);
	assert_int_equal(in(f, PM1_CNT, 2), RV_ACPI_PM1_CNT_SCI_EN);
	assert_int_equal(in(f, PM1_CNT, 1), RV_ACPI_PM1_CNT_SCI_EN);
	assert_int_equal(nr_stops, 0);
}

static void pm1_en__stores_defined_bits(void **state)
{
	struct fixture *f = *state;

	out(f, PM1_EN, 0xffff, 2);
	assert_int_equal(in(f, PM1_EN, 2), 0x4721);
	out(f, PM1_EN, 0, 2);
	assert_int_equal(in(f, PM1_EN, 2), 0);
	/* A byte write to the high half leaves the low half alone. */
	out(f, PM1_EN, 0x21, 1);
	out(f, PM1_EN + 1, 0x01, 1);
	assert_int_equal(in(f, PM1_EN, 2), 0x0121);
	assert_int_equal(in(f, PM1_EN + 1, 1), 0x01);
}

static void pm1_sts__pwrbtn_write_one_to_clear(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(in(f, PM1_STS, 2), 0);
	assert_int_equal(rv_acpi_pm_press_power_button(f->pm), 0);
	assert_int_equal(in(f, PM1_STS, 2), RV_ACPI_PM1_STS_PWRBTN);
	/* Writing 0, or 1 to other bits, leaves it set. */
	out(f, PM1_STS, 0, 2);
	out(f, PM1_STS, (uint16_t)~RV_ACPI_PM1_STS_PWRBTN, 2);
	assert_int_equal(in(f, PM1_STS, 2), RV_ACPI_PM1_STS_PWRBTN);
	out(f, PM1_STS, RV_ACPI_PM1_STS_PWRBTN, 2);
	assert_int_equal(in(f, PM1_STS, 2), 0);
}

static void pm1_evt__dword_read_spans_sts_and_en(void **state)
{
	struct fixture *f = *state;

	out(f, PM1_EN, RV_ACPI_PM1_EN_PWRBTN, 2);
	assert_int_equal(rv_acpi_pm_press_power_button(f->pm), 0);
	assert_int_equal(in(f, PM1_STS, 4),
			 RV_ACPI_PM1_STS_PWRBTN |
				 (uint32_t)RV_ACPI_PM1_EN_PWRBTN << 16);
	/* A dword write clears the status and disables in one go. */
	out(f, PM1_STS, RV_ACPI_PM1_STS_PWRBTN, 4);
	assert_int_equal(in(f, PM1_STS, 4), 0);
}

static void access__outside_block_ignored(void **state)
{
	struct fixture *f = *state;
	uint32_t v = 0;

	/* A dword at the control block would run past the six ports. */
	assert_int_equal(rv_bus_access(f->vm.pio, PM1_CNT, &v, 4, true),
			 -ENOENT);
	assert_int_equal(nr_stops, 0);
	/* A dword at PM1_EN reaches PM1_EN and PM1_CNT. */
	out(f, PM1_EN, RV_ACPI_PM1_EN_PWRBTN, 2);
	assert_int_equal(in(f, PM1_EN, 4),
			 RV_ACPI_PM1_EN_PWRBTN |
				 (uint32_t)RV_ACPI_PM1_CNT_SCI_EN << 16);
}

/* ---- SCI ------------------------------------------------------------------ */

static void press__no_sci_until_enabled(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rv_acpi_pm_press_power_button(f->pm), 0);
	assert_int_equal(nr_irqs, 0);
	/* Enabling the event with the status pending raises the SCI. */
	out(f, PM1_EN, RV_ACPI_PM1_EN_PWRBTN, 2);
	assert_int_equal(nr_irqs, 1);
	assert_irq(0, 1);
	/* Disabling it lowers the SCI again. */
	out(f, PM1_EN, 0, 2);
	assert_int_equal(nr_irqs, 2);
	assert_irq(1, 0);
}

static void press__sci_level_until_cleared(void **state)
{
	struct fixture *f = *state;

	out(f, PM1_EN, RV_ACPI_PM1_EN_PWRBTN, 2);
	assert_int_equal(nr_irqs, 0);
	assert_int_equal(rv_acpi_pm_press_power_button(f->pm), 0);
	assert_int_equal(nr_irqs, 1);
	assert_irq(0, 1);
	/* A second press while pending changes nothing: it is a level. */
	assert_int_equal(rv_acpi_pm_press_power_button(f->pm), 0);
	out(f, PM1_STS, 0, 2);
	assert_int_equal(nr_irqs, 1);
	out(f, PM1_STS, RV_ACPI_PM1_STS_PWRBTN, 2);
	assert_int_equal(nr_irqs, 2);
	assert_irq(1, 0);
}

static void press__irq_failure_retried(void **state)
{
	struct fixture *f = *state;

	out(f, PM1_EN, RV_ACPI_PM1_EN_PWRBTN, 2);
	irq_result = -EIO;
	assert_int_equal(rv_acpi_pm_press_power_button(f->pm), 0);
	assert_int_equal(nr_irqs, 1);
	/* The level KVM holds is unknown: the next update tries again. */
	irq_result = 0;
	out(f, PM1_EN, RV_ACPI_PM1_EN_PWRBTN, 2);
	assert_int_equal(nr_irqs, 2);
	assert_irq(1, 1);
}

static void press__null(void **state)
{
	(void)state;
	assert_int_equal(rv_acpi_pm_press_power_button(NULL), -EINVAL);
}

/* ---- sleep ---------------------------------------------------------------- */

static void slp_en__s5_powers_off(void **state)
{
	struct fixture *f = *state;

	out(f, PM1_CNT, S5_CNT | RV_ACPI_PM1_CNT_SCI_EN, 2);
	assert_int_equal(nr_stops, 1);
	assert_int_equal(stops[0].reason, RV_STOP_GUEST_POWEROFF);
	assert_int_equal(stops[0].exit_code, 0);
	/* SLP_EN is write-only; SLP_TYP keeps its value. */
	assert_int_equal(in(f, PM1_CNT, 2),
			 RV_ACPI_SLP_TYP_S5 << RV_ACPI_PM1_CNT_SLP_TYP_SHIFT |
				 RV_ACPI_PM1_CNT_SCI_EN);
}

static void slp_en__s5_by_byte_write(void **state)
{
	struct fixture *f = *state;

	out(f, PM1_CNT + 1, S5_CNT >> 8, 1);
	assert_int_equal(nr_stops, 1);
	assert_int_equal(stops[0].reason, RV_STOP_GUEST_POWEROFF);
}

static void slp_en__type_written_first(void **state)
{
	struct fixture *f = *state;

	/* ACPICA's order: the type alone, then the type with SLP_EN. */
	out(f, PM1_CNT, RV_ACPI_SLP_TYP_S5 << RV_ACPI_PM1_CNT_SLP_TYP_SHIFT, 2);
	assert_int_equal(nr_stops, 0);
	out(f, PM1_CNT, S5_CNT, 2);
	assert_int_equal(nr_stops, 1);
}

static void slp_en__other_type_reports_wake(void **state)
{
	struct fixture *f = *state;

	out(f, PM1_CNT,
	    1 << RV_ACPI_PM1_CNT_SLP_TYP_SHIFT | RV_ACPI_PM1_CNT_SLP_EN, 2);
	assert_int_equal(nr_stops, 0);
	assert_int_equal(in(f, PM1_STS, 2), RV_ACPI_PM1_STS_WAK);
	/* WAK_STS has no enable: no SCI. */
	assert_int_equal(nr_irqs, 0);
	out(f, PM1_STS, RV_ACPI_PM1_STS_WAK, 2);
	assert_int_equal(in(f, PM1_STS, 2), 0);
}

static void slp_en__low_byte_write_ignored(void **state)
{
	struct fixture *f = *state;

	/* Only the high byte holds SLP_EN: a low-byte write cannot sleep. */
	out(f, PM1_CNT + 1, RV_ACPI_SLP_TYP_S5 << 2, 1);
	out(f, PM1_CNT, 0xff, 1);
	assert_int_equal(nr_stops, 0);
	assert_int_equal(in(f, PM1_STS, 2), 0);
}

/* ---- life cycle ----------------------------------------------------------- */

static void noop_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	(void)opaque;
	(void)offset;
	memset(data, 0, len);
}

static void noop_write(void *opaque, uint64_t offset, const void *data,
		       uint32_t len)
{
	(void)opaque;
	(void)offset;
	(void)data;
	(void)len;
}

static const struct rv_bus_ops noop_ops = { noop_read, noop_write };

static void create__ports_taken(void **state)
{
	struct rv_vm vm = { 0 };
	struct rv_device_ctx ctx = { .vm = &vm };
	void *dev = (void *)1;

	(void)state;
	assert_int_equal(rv_bus_create("pio", &vm.pio), 0);
	assert_int_equal(rv_bus_register(vm.pio, PM1_CNT, 1, &noop_ops, NULL),
			 0);
	assert_int_equal(rv_acpi_pm_type.create(&ctx, &dev), -EEXIST);
	assert_null(dev);
	/* The failed create left the bus as it was. */
	assert_int_equal(rv_bus_access(vm.pio, PM1_STS, &dev, 1, false),
			 -ENOENT);
	rv_acpi_pm_type.destroy(NULL);
	rv_bus_destroy(vm.pio);
}

static void destroy__releases_ports(void **state)
{
	struct rv_vm vm = { 0 };
	struct rv_device_ctx ctx = { .vm = &vm };
	void *dev;
	uint16_t v;

	(void)state;
	assert_int_equal(rv_bus_create("pio", &vm.pio), 0);
	assert_int_equal(rv_acpi_pm_type.create(&ctx, &dev), 0);
	rv_acpi_pm_type.destroy(dev);
	assert_int_equal(rv_bus_access(vm.pio, PM1_STS, &v, 2, false), -ENOENT);
	rv_bus_destroy(vm.pio);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(pm1_cnt__sci_en_always_set),
		T(pm1_en__stores_defined_bits),
		T(pm1_sts__pwrbtn_write_one_to_clear),
		T(pm1_evt__dword_read_spans_sts_and_en),
		T(access__outside_block_ignored),
		T(press__no_sci_until_enabled),
		T(press__sci_level_until_cleared),
		T(press__irq_failure_retried),
		cmocka_unit_test(press__null),
		T(slp_en__s5_powers_off),
		T(slp_en__s5_by_byte_write),
		T(slp_en__type_written_first),
		T(slp_en__other_type_reports_wake),
		T(slp_en__low_byte_write_ignored),
		cmocka_unit_test(create__ports_taken),
		cmocka_unit_test(destroy__releases_ports),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
