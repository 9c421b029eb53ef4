// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the CMOS RTC (devices/legacy/rtc.c). The host clock is
 * replaced through rv__rtc_set_clock with a fixed, steerable time, so the
 * register encodings can be checked exactly.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "raevm/bus.h"
#include "raevm/config.h"
#include "raevm/device.h"
#include "raevm/layout.h"
#include "raevm/util.h"
#include "raevm/vm.h"

/* rtc.c's test hook; it has no header of its own. */
struct rv_rtc;
void rv__rtc_set_clock(struct rv_rtc *rtc, void (*clock)(struct timespec *ts));

/* 2024-02-29 13:05:09 UTC, a Thursday. */
#define T0 1709211909LL
/* 2024-02-29 00:30:00 UTC. */
#define T_HALF_PAST_MIDNIGHT 1709166600LL

#define REG_SEC 0x00
#define REG_MIN 0x02
#define REG_HOUR 0x04
#define REG_WDAY 0x06
#define REG_MDAY 0x07
#define REG_MON 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define REG_CENTURY 0x32

static struct timespec fake_now;
static size_t nr_irq_calls;

int __wrap_rv_vm_irq_line(struct rv_vm *vm, uint32_t gsi, int level);

int __wrap_rv_vm_irq_line(struct rv_vm *vm, uint32_t gsi, int level)
{
	(void)vm;
	(void)gsi;
	(void)level;
	nr_irq_calls++;
	return 0;
}

static void fake_clock(struct timespec *ts)
{
	*ts = fake_now;
}

struct fixture {
	struct rv_vm vm;
	struct rv_vm_config cfg;
	struct rv_rtc *rtc;
};

static int create(struct fixture *f, uint64_t memory)
{
	struct rv_device_ctx ctx = { .vm = &f->vm, .cfg = &f->cfg };
	void *dev;

	f->cfg.memory = memory;
	if (rv_rtc_type.create(&ctx, &dev) < 0)
		return -1;
	f->rtc = dev;
	rv__rtc_set_clock(f->rtc, fake_clock);
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (rv_bus_create("pio", &f->vm.pio) < 0)
		return -1;
	fake_now = (struct timespec){ .tv_sec = T0, .tv_nsec = 500000000 };
	nr_irq_calls = 0;
	if (create(f, 512 * RV_MiB) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	/* The RTC never raises IRQ 8. */
	assert_int_equal(nr_irq_calls, 0);
	rv_rtc_type.destroy(f->rtc);
	rv_bus_destroy(f->vm.pio);
	free(f);
	return 0;
}

static uint8_t cmos_read(struct fixture *f, uint8_t reg)
{
	uint8_t val = 0xaa;

	assert_int_equal(rv_bus_access(f->vm.pio, RV_RTC_PORT, &reg, 1, true),
			 0);
	assert_int_equal(
		rv_bus_access(f->vm.pio, RV_RTC_PORT + 1, &val, 1, false), 0);
	return val;
}

static void cmos_write(struct fixture *f, uint8_t reg, uint8_t val)
{
	assert_int_equal(rv_bus_access(f->vm.pio, RV_RTC_PORT, &reg, 1, true),
			 0);
	assert_int_equal(
		rv_bus_access(f->vm.pio, RV_RTC_PORT + 1, &val, 1, true), 0);
}

struct rtc_time {
	uint8_t sec, min, hour, wday, mday, mon, year, century;
};

static struct rtc_time read_time(struct fixture *f)
{
	struct rtc_time t = {
		.sec = cmos_read(f, REG_SEC),
		.min = cmos_read(f, REG_MIN),
		.hour = cmos_read(f, REG_HOUR),
		.wday = cmos_read(f, REG_WDAY),
		.mday = cmos_read(f, REG_MDAY),
		.mon = cmos_read(f, REG_MON),
		.year = cmos_read(f, REG_YEAR),
		.century = cmos_read(f, REG_CENTURY),
	};

	return t;
}

/* ------------------------------------------------------------------ */

static void rtc_create__claims_two_ports(void **state)
{
	struct fixture *f = *state;
	struct rv_device_ctx ctx = { .vm = &f->vm, .cfg = &f->cfg };
	uint8_t val;
	void *dev = (void *)1;

	assert_int_equal(rv_bus_access(f->vm.pio, RV_RTC_PORT + 2, &val, 1,
				       false),
			 -ENOENT);
	assert_int_equal(rv_rtc_type.create(&ctx, &dev), -EEXIST);
	assert_null(dev);
	rv_rtc_type.destroy(NULL);
}

static void rtc_time__bcd_24h_by_default(void **state)
{
	struct fixture *f = *state;
	struct rtc_time t = read_time(f);

	assert_int_equal(cmos_read(f, REG_B), 0x02);
	assert_int_equal(t.sec, 0x09);
	assert_int_equal(t.min, 0x05);
	assert_int_equal(t.hour, 0x13);
	assert_int_equal(t.wday, 0x05);
	assert_int_equal(t.mday, 0x29);
	assert_int_equal(t.mon, 0x02);
	assert_int_equal(t.year, 0x24);
	assert_int_equal(t.century, 0x20);
}

static void rtc_time__binary_mode(void **state)
{
	struct fixture *f = *state;
	struct rtc_time t;

	cmos_write(f, REG_B, 0x06);
	t = read_time(f);
	assert_int_equal(t.sec, 9);
	assert_int_equal(t.min, 5);
	assert_int_equal(t.hour, 13);
	assert_int_equal(t.wday, 5);
	assert_int_equal(t.mday, 29);
	assert_int_equal(t.mon, 2);
	assert_int_equal(t.year, 24);
	assert_int_equal(t.century, 20);
}

static void rtc_time__12h_bcd(void **state)
{
	struct fixture *f = *state;

	cmos_write(f, REG_B, 0x00);
	assert_int_equal(cmos_read(f, REG_HOUR), 0x81); /* 1 PM */
	fake_now.tv_sec = T_HALF_PAST_MIDNIGHT;
	assert_int_equal(cmos_read(f, REG_HOUR), 0x12); /* 12 AM */
	fake_now.tv_sec = T_HALF_PAST_MIDNIGHT + 12 * 3600;
	assert_int_equal(cmos_read(f, REG_HOUR), 0x92); /* 12 PM */
}

static void rtc_time__12h_binary(void **state)
{
	struct fixture *f = *state;

	cmos_write(f, REG_B, 0x04);
	assert_int_equal(cmos_read(f, REG_HOUR), 0x80 | 1);
	fake_now.tv_sec = T_HALF_PAST_MIDNIGHT;
	assert_int_equal(cmos_read(f, REG_HOUR), 12);
	fake_now.tv_sec = T_HALF_PAST_MIDNIGHT + 23 * 3600;
	assert_int_equal(cmos_read(f, REG_HOUR), 0x80 | 11);
}

static void rtc_time__follows_host_clock(void **state)
{
	struct fixture *f = *state;

	fake_now.tv_sec = T0 + 51;
	assert_int_equal(cmos_read(f, REG_SEC), 0x00);
	assert_int_equal(cmos_read(f, REG_MIN), 0x06);
}

static void rtc_set_time__moves_offset(void **state)
{
	struct fixture *f = *state;
	struct rtc_time t;

	cmos_write(f, REG_B, 0x82);
	cmos_write(f, REG_CENTURY, 0x20);
	cmos_write(f, REG_YEAR, 0x30);
	cmos_write(f, REG_MON, 0x01);
	cmos_write(f, REG_MDAY, 0x15);
	cmos_write(f, REG_HOUR, 0x08);
	cmos_write(f, REG_MIN, 0x00);
	cmos_write(f, REG_SEC, 0x00);
	cmos_write(f, REG_B, 0x02);

	t = read_time(f);
	assert_int_equal(t.year, 0x30);
	assert_int_equal(t.mon, 0x01);
	assert_int_equal(t.mday, 0x15);
	assert_int_equal(t.hour, 0x08);
	assert_int_equal(t.wday, 0x03); /* a Tuesday, derived from the date */

	/* The guest clock keeps running from the new time. */
	fake_now.tv_sec += 61;
	assert_int_equal(cmos_read(f, REG_MIN), 0x01);
	assert_int_equal(cmos_read(f, REG_SEC), 0x01);
	/* The host clock itself was never written. */
	assert_int_equal(fake_now.tv_sec, T0 + 61);
}

static void rtc_set_time__frozen_while_set(void **state)
{
	struct fixture *f = *state;

	cmos_write(f, REG_B, 0x82);
	fake_now.tv_sec += 5;
	assert_int_equal(cmos_read(f, REG_SEC), 0x09);
	cmos_write(f, REG_B, 0x02);
	/* Clearing SET commits the frozen time: it resumes from 13:05:09. */
	assert_int_equal(cmos_read(f, REG_SEC), 0x09);
	fake_now.tv_sec += 1;
	assert_int_equal(cmos_read(f, REG_SEC), 0x10);
}

static void rtc_set_time__invalid_values_ignored(void **state)
{
	struct fixture *f = *state;

	cmos_write(f, REG_B, 0x82);
	cmos_write(f, REG_MON, 0x13);
	cmos_write(f, REG_B, 0x02);
	assert_int_equal(cmos_read(f, REG_MON), 0x02);

	cmos_write(f, REG_B, 0x82);
	cmos_write(f, REG_SEC, 0x5a); /* not BCD */
	cmos_write(f, REG_B, 0x02);
	assert_int_equal(cmos_read(f, REG_SEC), 0x09);

	/* 12-hour mode: hour 0 does not exist. */
	cmos_write(f, REG_B, 0x80);
	cmos_write(f, REG_HOUR, 0x80);
	cmos_write(f, REG_B, 0x00);
	assert_int_equal(cmos_read(f, REG_HOUR), 0x81);
}

static void rtc_set_time__single_field_while_running(void **state)
{
	struct fixture *f = *state;

	cmos_write(f, REG_HOUR, 0x22);
	assert_int_equal(cmos_read(f, REG_HOUR), 0x22);
	assert_int_equal(cmos_read(f, REG_MIN), 0x05);
	assert_int_equal(cmos_read(f, REG_MDAY), 0x29);
}

static void rtc_set_time__12h_binary_pm(void **state)
{
	struct fixture *f = *state;

	cmos_write(f, REG_B, 0x84);
	cmos_write(f, REG_HOUR, 0x80 | 7);
	cmos_write(f, REG_B, 0x04);
	assert_int_equal(cmos_read(f, REG_HOUR), 0x80 | 7);
	cmos_write(f, REG_B, 0x06);
	assert_int_equal(cmos_read(f, REG_HOUR), 19);
}

static void rtc_status_a__uip_before_second_boundary(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cmos_read(f, REG_A), 0x26);
	fake_now.tv_nsec = 999900000;
	assert_int_equal(cmos_read(f, REG_A), 0x80 | 0x26);
	/* SET stops the update cycle. */
	cmos_write(f, REG_B, 0x82);
	assert_int_equal(cmos_read(f, REG_A), 0x26);
	cmos_write(f, REG_B, 0x02);
	/* UIP is read-only; a stopped divider never updates. */
	cmos_write(f, REG_A, 0xff);
	assert_int_equal(cmos_read(f, REG_A), 0x7f);
}

static void rtc_status_c__read_clears(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cmos_read(f, REG_C), 0x00);
	fake_now.tv_sec += 1;
	/* A second boundary (UF) and a 1024 Hz period (PF) passed. */
	assert_int_equal(cmos_read(f, REG_C), 0x50);
	assert_int_equal(cmos_read(f, REG_C), 0x00);
	fake_now.tv_nsec += 2000000;
	assert_int_equal(cmos_read(f, REG_C), 0x40);
	/* Rate 0 turns PF off. */
	cmos_write(f, REG_A, 0x20);
	fake_now.tv_nsec += 2000000;
	assert_int_equal(cmos_read(f, REG_C), 0x00);
	/* Writes are ignored. */
	cmos_write(f, REG_C, 0xff);
	assert_int_equal(cmos_read(f, REG_C), 0x00);
}

static void rtc_status_d__valid_ram(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cmos_read(f, REG_D), 0x80);
	cmos_write(f, REG_D, 0x00);
	assert_int_equal(cmos_read(f, REG_D), 0x80);
}

static void rtc_index__nmi_bit_masked(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cmos_read(f, 0x80 | REG_YEAR), 0x24);
	cmos_write(f, 0x80 | 0x40, 0x5a);
	assert_int_equal(cmos_read(f, 0x40), 0x5a);
}

static void rtc_index__port_reads_all_ones(void **state)
{
	struct fixture *f = *state;
	uint8_t val = 0;

	assert_int_equal(rv_bus_access(f->vm.pio, RV_RTC_PORT, &val, 1, false),
			 0);
	assert_int_equal(val, 0xff);
}

static void rtc_ram__all_user_bytes_round_trip(void **state)
{
	struct fixture *f = *state;
	unsigned int reg;

	for (reg = 0x40; reg < 0x80; reg++)
		cmos_write(f, (uint8_t)reg, (uint8_t)(reg ^ 0xa5));
	for (reg = 0x40; reg < 0x80; reg++)
		assert_int_equal(cmos_read(f, (uint8_t)reg), reg ^ 0xa5);
}

static void rtc_access__wide_uses_low_byte(void **state)
{
	struct fixture *f = *state;
	uint16_t v16 = 0x1289; /* index 0x09 with NMI bit, junk above */
	uint16_t out = 0xffff;

	assert_int_equal(rv_bus_access(f->vm.pio, RV_RTC_PORT, &v16, 2, true),
			 0);
	/* A 2-byte access at 0x71 runs past the device. */
	assert_int_equal(rv_bus_access(f->vm.pio, RV_RTC_PORT + 1, &out, 2,
				       false),
			 -ENOENT);
	assert_int_equal(cmos_read(f, REG_YEAR), 0x24);
}

static void rtc_memory__512m(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cmos_read(f, 0x15) | cmos_read(f, 0x16) << 8, 640);
	/* 511 MiB above 1 MiB does not fit in 16 bits of KiB. */
	assert_int_equal(cmos_read(f, 0x17) | cmos_read(f, 0x18) << 8, 0xffff);
	assert_int_equal(cmos_read(f, 0x30) | cmos_read(f, 0x31) << 8, 0xffff);
	assert_int_equal(cmos_read(f, 0x34) | cmos_read(f, 0x35) << 8,
			 (512 - 16) * 16);
	assert_int_equal(cmos_read(f, 0x5b), 0);
	assert_int_equal(cmos_read(f, 0x5c), 0);
	assert_int_equal(cmos_read(f, 0x5d), 0);
}

static void rtc_memory__small_and_large(void **state)
{
	struct fixture *f = *state;

	rv_rtc_type.destroy(f->rtc);
	assert_int_equal(create(f, 16 * RV_MiB), 0);
	assert_int_equal(cmos_read(f, 0x17) | cmos_read(f, 0x18) << 8,
			 15 * 1024);
	assert_int_equal(cmos_read(f, 0x34) | cmos_read(f, 0x35) << 8, 0);

	rv_rtc_type.destroy(f->rtc);
	assert_int_equal(create(f, 8 * RV_GiB), 0);
	/* 3 GiB below the MMIO hole, 5 GiB moved above 4 GiB. */
	assert_int_equal(cmos_read(f, 0x34) | cmos_read(f, 0x35) << 8,
			 (3 * 1024 - 16) * 16);
	assert_int_equal(cmos_read(f, 0x5b) | cmos_read(f, 0x5c) << 8 |
				 cmos_read(f, 0x5d) << 16,
			 5 * 1024 * 16);
}

static void rtc_memory__checksum_covers_0x10_to_0x2d(void **state)
{
	struct fixture *f = *state;
	unsigned int sum = 0;
	unsigned int reg;

	for (reg = 0x10; reg <= 0x2d; reg++)
		sum += cmos_read(f, (uint8_t)reg);
	assert_int_not_equal(sum, 0);
	assert_int_equal(cmos_read(f, 0x2e) << 8 | cmos_read(f, 0x2f), sum);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(rtc_create__claims_two_ports),
		T(rtc_time__bcd_24h_by_default),
		T(rtc_time__binary_mode),
		T(rtc_time__12h_bcd),
		T(rtc_time__12h_binary),
		T(rtc_time__follows_host_clock),
		T(rtc_set_time__moves_offset),
		T(rtc_set_time__frozen_while_set),
		T(rtc_set_time__invalid_values_ignored),
		T(rtc_set_time__single_field_while_running),
		T(rtc_set_time__12h_binary_pm),
		T(rtc_status_a__uip_before_second_boundary),
		T(rtc_status_c__read_clears),
		T(rtc_status_d__valid_ram),
		T(rtc_index__nmi_bit_masked),
		T(rtc_index__port_reads_all_ones),
		T(rtc_ram__all_user_bytes_round_trip),
		T(rtc_access__wide_uses_low_byte),
		T(rtc_memory__512m),
		T(rtc_memory__small_and_large),
		T(rtc_memory__checksum_covers_0x10_to_0x2d),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
