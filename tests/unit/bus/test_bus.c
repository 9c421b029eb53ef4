// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "raevm/bus.h"

struct probe {
	uint64_t last_offset;
	uint32_t last_len;
	uint32_t reads, writes;
	uint8_t value;
};

static void probe_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct probe *p = opaque;

	p->reads++;
	p->last_offset = offset;
	p->last_len = len;
	memset(data, p->value, len);
}

static void probe_write(void *opaque, uint64_t offset, const void *data,
			uint32_t len)
{
	struct probe *p = opaque;

	p->writes++;
	p->last_offset = offset;
	p->last_len = len;
	p->value = *(const uint8_t *)data;
}

static const struct rv_bus_ops probe_ops = {
	.read = probe_read,
	.write = probe_write,
};

static int setup(void **state)
{
	struct rv_bus *bus;

	if (rv_bus_create("test", &bus))
		return -1;
	*state = bus;
	return 0;
}

static int teardown(void **state)
{
	rv_bus_destroy(*state);
	return 0;
}

static void register__overlaps_rejected(void **state)
{
	struct rv_bus *bus = *state;
	struct probe p = { 0 };

	assert_int_equal(rv_bus_register(bus, 0x100, 0x10, &probe_ops, &p), 0);
	assert_int_equal(rv_bus_register(bus, 0x200, 0x10, &probe_ops, &p), 0);
	/* Inside, straddling the start, straddling the end, covering all. */
	assert_int_equal(rv_bus_register(bus, 0x104, 1, &probe_ops, &p),
			 -EEXIST);
	assert_int_equal(rv_bus_register(bus, 0xf8, 0x10, &probe_ops, &p),
			 -EEXIST);
	assert_int_equal(rv_bus_register(bus, 0x10f, 0x2, &probe_ops, &p),
			 -EEXIST);
	assert_int_equal(rv_bus_register(bus, 0x0, 0x1000, &probe_ops, &p),
			 -EEXIST);
	/* Exactly adjacent on both sides is fine. */
	assert_int_equal(rv_bus_register(bus, 0x110, 0xf0, &probe_ops, &p), 0);
	assert_int_equal(rv_bus_register(bus, 0xf0, 0x10, &probe_ops, &p), 0);
}

static void register__bad_ranges(void **state)
{
	struct rv_bus *bus = *state;
	struct probe p = { 0 };

	assert_int_equal(rv_bus_register(bus, 0x100, 0, &probe_ops, &p),
			 -EINVAL);
	assert_int_equal(rv_bus_register(bus, UINT64_MAX - 1, 4, &probe_ops,
					 &p),
			 -EINVAL);
	assert_int_equal(rv_bus_register(bus, 0x100, 4, NULL, &p), -EINVAL);
	/* The very top byte of the space is a valid range. */
	assert_int_equal(rv_bus_register(bus, UINT64_MAX, 1, &probe_ops, &p),
			 0);
}

static void access__routes_with_offset(void **state)
{
	struct rv_bus *bus = *state;
	struct probe a = { .value = 0xaa }, b = { .value = 0xbb };
	uint32_t v = 0;
	uint8_t w = 0x42;

	assert_int_equal(rv_bus_register(bus, 0x3f8, 8, &probe_ops, &a), 0);
	assert_int_equal(rv_bus_register(bus, 0x60, 1, &probe_ops, &b), 0);
	assert_int_equal(rv_bus_access(bus, 0x3fc, &v, 4, false), 0);
	assert_int_equal(v, 0xaaaaaaaa);
	assert_int_equal(a.last_offset, 4);
	assert_int_equal(a.last_len, 4);
	assert_int_equal(rv_bus_access(bus, 0x60, &w, 1, true), 0);
	assert_int_equal(b.value, 0x42);
	assert_int_equal(b.writes, 1);
	assert_int_equal(a.writes, 0);
}

static void access__unclaimed_and_straddling(void **state)
{
	struct rv_bus *bus = *state;
	struct probe a = { 0 };
	uint64_t v;

	assert_int_equal(rv_bus_register(bus, 0x1000, 8, &probe_ops, &a), 0);
	assert_int_equal(rv_bus_access(bus, 0x2000, &v, 4, false), -ENOENT);
	assert_int_equal(rv_bus_access(bus, 0xffe, &v, 4, false), -ENOENT);
	assert_int_equal(rv_bus_access(bus, 0x1006, &v, 4, false), -ENOENT);
	assert_int_equal(rv_bus_access(bus, 0x1000, &v, 3, false), -EINVAL);
	assert_int_equal(rv_bus_access(bus, 0x1000, &v, 8, false), 0);
	assert_int_equal(a.reads, 1);
}

static void unregister__frees_range(void **state)
{
	struct rv_bus *bus = *state;
	struct probe a = { 0 };
	uint8_t v;

	assert_int_equal(rv_bus_register(bus, 0x70, 2, &probe_ops, &a), 0);
	assert_int_equal(rv_bus_unregister(bus, 0x71), -ENOENT);
	assert_int_equal(rv_bus_unregister(bus, 0x70), 0);
	assert_int_equal(rv_bus_access(bus, 0x70, &v, 1, false), -ENOENT);
	assert_int_equal(rv_bus_register(bus, 0x70, 2, &probe_ops, &a), 0);
}

static void register__many_sorted(void **state)
{
	struct rv_bus *bus = *state;
	struct probe p[64];
	uint8_t v;
	int i;

	memset(p, 0, sizeof(p));
	/* Insert in a scrambled order to exercise the sorted insert. */
	for (i = 0; i < 64; i++) {
		int k = (i * 37) % 64;

		p[k].value = (uint8_t)k;
		assert_int_equal(rv_bus_register(bus, 0x1000 + k * 0x10, 0x10,
						 &probe_ops, &p[k]),
				 0);
	}
	for (i = 0; i < 64; i++) {
		assert_int_equal(rv_bus_access(bus, 0x1000 + i * 0x10 + 0xf, &v,
					       1, false),
				 0);
		assert_int_equal(v, i);
	}
}

/* A handler that moves its own range, as a PCI BAR write through ECAM does. */
struct mover {
	struct rv_bus *bus;
	uint64_t base;
};

static void mover_write(void *opaque, uint64_t offset, const void *data,
			uint32_t len);

static const struct rv_bus_ops mover_ops = { .write = mover_write };

static void mover_write(void *opaque, uint64_t offset, const void *data,
			uint32_t len)
{
	struct mover *m = opaque;
	uint8_t v = *(const uint8_t *)data;

	(void)offset;
	(void)len;
	assert_int_equal(rv_bus_unregister(m->bus, m->base), 0);
	m->base = 0x1000ULL * v;
	assert_int_equal(rv_bus_register(m->bus, m->base, 0x10, &mover_ops, m),
			 0);
}

static void access__handler_may_move_its_range(void **state)
{
	struct rv_bus *bus = *state;
	struct mover m = { .bus = bus, .base = 0x1000 };
	uint8_t v = 5;

	assert_int_equal(rv_bus_register(bus, 0x1000, 0x10, &mover_ops, &m), 0);
	assert_int_equal(rv_bus_access(bus, 0x1000, &v, 1, true), 0);
	assert_int_equal(m.base, 0x5000);
	assert_int_equal(rv_bus_access(bus, 0x1000, &v, 1, true), -ENOENT);
	v = 7;
	assert_int_equal(rv_bus_access(bus, 0x5004, &v, 1, true), 0);
	assert_int_equal(m.base, 0x7000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(register__overlaps_rejected,
						setup, teardown),
		cmocka_unit_test_setup_teardown(register__bad_ranges, setup,
						teardown),
		cmocka_unit_test_setup_teardown(access__routes_with_offset,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			access__unclaimed_and_straddling, setup, teardown),
		cmocka_unit_test_setup_teardown(unregister__frees_range, setup,
						teardown),
		cmocka_unit_test_setup_teardown(register__many_sorted, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			access__handler_may_move_its_range, setup, teardown),
	};

	return cmocka_run_group_tests_name("bus", tests, NULL, NULL);
}
