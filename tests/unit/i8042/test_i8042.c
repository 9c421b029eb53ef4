// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the i8042 controller (devices/legacy/i8042.c) and the
 * debug-exit port (devices/legacy/debug_exit.c): both end the VM through
 * rv_vm_request_stop, which is replaced through -Wl,--wrap and recorded.
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

#include "raevm/bus.h"
#include "raevm/device.h"
#include "raevm/layout.h"
#include "raevm/vm.h"

#define STS_OBF 0x01
#define STS_SYS 0x04
#define STS_CMD 0x08
#define STS_AUX_OBF 0x20

#define MAX_STOPS 16

struct stop_call {
	struct rv_vm *vm;
	enum rv_stop_reason reason;
	int exit_code;
};

static struct stop_call stops[MAX_STOPS];
static size_t nr_stops;

void __wrap_rv_vm_request_stop(struct rv_vm *vm, enum rv_stop_reason reason,
			       int exit_code);

void __wrap_rv_vm_request_stop(struct rv_vm *vm, enum rv_stop_reason reason,
			       int exit_code)
{
	if (nr_stops < MAX_STOPS)
		stops[nr_stops] = (struct stop_call){ vm, reason, exit_code };
	nr_stops++;
}

struct fixture {
	struct rv_vm vm;
	void *kbc;
	void *dbg;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct rv_device_ctx ctx;

	if (!f)
		return -1;
	if (rv_bus_create("pio", &f->vm.pio) < 0)
		return -1;
	ctx = (struct rv_device_ctx){ .vm = &f->vm };
	if (rv_i8042_type.create(&ctx, &f->kbc) < 0)
		return -1;
	if (rv_debug_exit_type.create(&ctx, &f->dbg) < 0)
		return -1;
	nr_stops = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rv_debug_exit_type.destroy(f->dbg);
	rv_i8042_type.destroy(f->kbc);
	rv_bus_destroy(f->vm.pio);
	free(f);
	return 0;
}

static void outb(struct fixture *f, uint16_t port, uint8_t val)
{
	assert_int_equal(rv_bus_access(f->vm.pio, port, &val, 1, true), 0);
}

static uint8_t inb(struct fixture *f, uint16_t port)
{
	uint8_t val = 0xaa;

	assert_int_equal(rv_bus_access(f->vm.pio, port, &val, 1, false), 0);
	return val;
}

static uint8_t status(struct fixture *f)
{
	return inb(f, RV_I8042_CMD_PORT);
}

/* Sends a controller command and returns the byte it answers with. */
static uint8_t command_reply(struct fixture *f, uint8_t cmd)
{
	outb(f, RV_I8042_CMD_PORT, cmd);
	assert_int_equal(status(f) & STS_OBF, STS_OBF);
	return inb(f, RV_I8042_DATA_PORT);
}

static uint8_t read_ctr(struct fixture *f)
{
	return command_reply(f, 0x20);
}

static void assert_one_stop(enum rv_stop_reason reason, int code,
			    struct fixture *f)
{
	assert_int_equal(nr_stops, 1);
	assert_ptr_equal(stops[0].vm, &f->vm);
	assert_int_equal(stops[0].reason, reason);
	assert_int_equal(stops[0].exit_code, code);
}

/* ------------------------------------------------------------------ */

static void i8042_create__claims_two_ports(void **state)
{
	struct fixture *f = *state;
	struct rv_device_ctx ctx = { .vm = &f->vm };
	uint8_t val;
	void *dev = (void *)1;

	assert_int_equal(rv_bus_access(f->vm.pio, 0x61, &val, 1, false),
			 -ENOENT);
	assert_int_equal(rv_bus_access(f->vm.pio, 0x63, &val, 1, false),
			 -ENOENT);
	assert_int_equal(rv_i8042_type.create(&ctx, &dev), -EEXIST);
	assert_null(dev);
	rv_i8042_type.destroy(NULL);
}

static void i8042_status__idle_after_create(void **state)
{
	struct fixture *f = *state;

	/* No output, input buffer empty, system flag up. */
	assert_int_equal(status(f) & 0x23, 0);
	assert_int_equal(status(f) & STS_SYS, STS_SYS);
}

static void i8042_self_test__replies_0x55(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(command_reply(f, 0xaa), 0x55);
	assert_int_equal(status(f) & STS_OBF, 0);
	assert_int_equal(nr_stops, 0);
}

static void i8042_interface_tests__reply_zero(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(command_reply(f, 0xab), 0x00);
	assert_int_equal(command_reply(f, 0xa9), 0x00);
}

static void i8042_command_byte__write_then_read(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(read_ctr(f), 0x45);
	outb(f, RV_I8042_CMD_PORT, 0x60);
	outb(f, RV_I8042_DATA_PORT, 0x30);
	assert_int_equal(read_ctr(f), 0x30);
	/* The status register's system flag follows the command byte. */
	assert_int_equal(status(f) & STS_SYS, 0);
	outb(f, RV_I8042_CMD_PORT, 0x60);
	outb(f, RV_I8042_DATA_PORT, 0x47);
	assert_int_equal(read_ctr(f), 0x47);
	assert_int_equal(status(f) & STS_SYS, STS_SYS);
}

static void i8042_disable_enable__update_command_byte(void **state)
{
	struct fixture *f = *state;

	outb(f, RV_I8042_CMD_PORT, 0xad);
	assert_int_equal(read_ctr(f), 0x45 | 0x10);
	outb(f, RV_I8042_CMD_PORT, 0xa7);
	assert_int_equal(read_ctr(f), 0x45 | 0x30);
	outb(f, RV_I8042_CMD_PORT, 0xae);
	assert_int_equal(read_ctr(f), 0x45 | 0x20);
	outb(f, RV_I8042_CMD_PORT, 0xa8);
	assert_int_equal(read_ctr(f), 0x45);
}

static void i8042_status__command_bit_tracks_last_port(void **state)
{
	struct fixture *f = *state;

	outb(f, RV_I8042_CMD_PORT, 0xad);
	assert_int_equal(status(f) & STS_CMD, STS_CMD);
	outb(f, RV_I8042_DATA_PORT, 0xf4);
	assert_int_equal(status(f) & STS_CMD, 0);
}

static void i8042_keyboard_write__dropped(void **state)
{
	struct fixture *f = *state;

	/* "Identify keyboard": there is no keyboard to answer. */
	outb(f, RV_I8042_DATA_PORT, 0xf2);
	assert_int_equal(status(f) & STS_OBF, 0);
	/* A data byte without a pending command does not change the CTR. */
	assert_int_equal(read_ctr(f), 0x45);
	assert_int_equal(nr_stops, 0);
}

static void i8042_aux_loopback__sets_aux_obf(void **state)
{
	struct fixture *f = *state;

	outb(f, RV_I8042_CMD_PORT, 0xd3);
	outb(f, RV_I8042_DATA_PORT, 0x5a);
	assert_int_equal(status(f) & (STS_OBF | STS_AUX_OBF),
			 STS_OBF | STS_AUX_OBF);
	assert_int_equal(inb(f, RV_I8042_DATA_PORT), 0x5a);
	assert_int_equal(status(f) & (STS_OBF | STS_AUX_OBF), 0);
}

static void i8042_output_port__bit0_clear_resets(void **state)
{
	struct fixture *f = *state;

	outb(f, RV_I8042_CMD_PORT, 0xd1);
	outb(f, RV_I8042_DATA_PORT, 0x03);
	assert_int_equal(nr_stops, 0);
	assert_int_equal(command_reply(f, 0xd0), 0x03);

	outb(f, RV_I8042_CMD_PORT, 0xd1);
	outb(f, RV_I8042_DATA_PORT, 0x02);
	assert_one_stop(RV_STOP_GUEST_RESET, 0, f);
}

static void i8042_pulse__fe_resets(void **state)
{
	struct fixture *f = *state;

	outb(f, RV_I8042_CMD_PORT, 0xff);
	assert_int_equal(nr_stops, 0);
	outb(f, RV_I8042_CMD_PORT, 0xfe);
	assert_one_stop(RV_STOP_GUEST_RESET, 0, f);
}

static void i8042_command__new_command_cancels_pending_data(void **state)
{
	struct fixture *f = *state;

	/* 0xd1 awaits a byte, but a new command replaces it. */
	outb(f, RV_I8042_CMD_PORT, 0xd1);
	outb(f, RV_I8042_CMD_PORT, 0xad);
	outb(f, RV_I8042_DATA_PORT, 0x00);
	assert_int_equal(nr_stops, 0);
}

static void i8042_access__wide_access_does_not_fit(void **state)
{
	struct fixture *f = *state;
	uint16_t v16 = 0x00fe;
	uint32_t v32 = 0;

	/* Each port is a one-byte range: wider accesses belong to no one. */
	assert_int_equal(rv_bus_access(f->vm.pio, RV_I8042_CMD_PORT, &v16, 2,
				       true),
			 -ENOENT);
	assert_int_equal(rv_bus_access(f->vm.pio, RV_I8042_DATA_PORT, &v32, 4,
				       false),
			 -ENOENT);
	assert_int_equal(nr_stops, 0);
}

static void i8042_access__every_command_is_harmless(void **state)
{
	struct fixture *f = *state;
	unsigned int cmd;
	size_t expected = 0;

	for (cmd = 0; cmd < 256; cmd++) {
		outb(f, RV_I8042_CMD_PORT, (uint8_t)cmd);
		outb(f, RV_I8042_DATA_PORT, 0xff);
		inb(f, RV_I8042_DATA_PORT);
		/* Only the pulse commands with bit 0 clear reset. */
		if ((cmd & 0xf1) == 0xf0)
			expected++;
		assert_int_equal(nr_stops, expected);
	}
	assert_int_equal(expected, 8);
}

static void debug_exit_write__stops_with_code(void **state)
{
	struct fixture *f = *state;

	outb(f, RV_DEBUG_EXIT_PORT, 42);
	assert_one_stop(RV_STOP_GUEST_EXIT, 42, f);
}

static void debug_exit_write__wide_uses_low_byte(void **state)
{
	struct fixture *f = *state;
	uint32_t v32 = 0x123456fe;

	assert_int_equal(
		rv_bus_access(f->vm.pio, RV_DEBUG_EXIT_PORT, &v32, 4, true), 0);
	assert_one_stop(RV_STOP_GUEST_EXIT, 0xfe, f);
}

static void debug_exit_write__other_offsets_ignored(void **state)
{
	struct fixture *f = *state;

	outb(f, RV_DEBUG_EXIT_PORT + 1, 1);
	outb(f, RV_DEBUG_EXIT_PORT + 3, 1);
	assert_int_equal(nr_stops, 0);
}

static void debug_exit_read__all_ones(void **state)
{
	struct fixture *f = *state;
	uint32_t v32 = 0;

	assert_int_equal(inb(f, RV_DEBUG_EXIT_PORT), 0xff);
	assert_int_equal(rv_bus_access(f->vm.pio, RV_DEBUG_EXIT_PORT, &v32, 4,
				       false),
			 0);
	assert_int_equal(v32, 0xffffffff);
	assert_int_equal(nr_stops, 0);
}

static void debug_exit_destroy__releases_port(void **state)
{
	struct fixture *f = *state;
	struct rv_device_ctx ctx = { .vm = &f->vm };
	uint8_t val = 1;

	rv_debug_exit_type.destroy(f->dbg);
	f->dbg = NULL;
	assert_int_equal(rv_bus_access(f->vm.pio, RV_DEBUG_EXIT_PORT, &val, 1,
				       true),
			 -ENOENT);
	assert_int_equal(rv_debug_exit_type.create(&ctx, &f->dbg), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(i8042_create__claims_two_ports),
		T(i8042_status__idle_after_create),
		T(i8042_self_test__replies_0x55),
		T(i8042_interface_tests__reply_zero),
		T(i8042_command_byte__write_then_read),
		T(i8042_disable_enable__update_command_byte),
		T(i8042_status__command_bit_tracks_last_port),
		T(i8042_keyboard_write__dropped),
		T(i8042_aux_loopback__sets_aux_obf),
		T(i8042_output_port__bit0_clear_resets),
		T(i8042_pulse__fe_resets),
		T(i8042_command__new_command_cancels_pending_data),
		T(i8042_access__wide_access_does_not_fit),
		T(i8042_access__every_command_is_harmless),
		T(debug_exit_write__stops_with_code),
		T(debug_exit_write__wide_uses_low_byte),
		T(debug_exit_write__other_offsets_ignored),
		T(debug_exit_read__all_ones),
		T(debug_exit_destroy__releases_port),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
