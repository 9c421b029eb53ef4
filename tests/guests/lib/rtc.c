/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CMOS real-time clock (MC146818). The registers must not be read while an
 * update is in progress (status A bit 7, UIP), and a read can still straddle
 * an update, so we read until two passes agree.
 */
#include "internal.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71

#define RTC_SEC 0x00
#define RTC_MIN 0x02
#define RTC_HOUR 0x04
#define RTC_DAY 0x07
#define RTC_MON 0x08
#define RTC_YEAR 0x09
#define RTC_STATUS_A 0x0a
#define RTC_STATUS_B 0x0b
#define RTC_CENTURY 0x32 /* the usual place (ACPI FADT default) */

#define STATUS_A_UIP 0x80
#define STATUS_B_24H 0x02
#define STATUS_B_BINARY 0x04
#define HOUR_PM 0x80

/* UIP lasts under 2 ms per second; a whole second bounds it generously. */
#define UIP_TIMEOUT_US 1100000
#define READ_ATTEMPTS 5

static uint8_t cmos_read(uint8_t reg)
{
	/* Bit 7 of the index is NMI-disable: keep it clear. */
	outb(CMOS_INDEX, reg & 0x7f);
	return inb(CMOS_DATA);
}

static int wait_uip_clear(void)
{
	uint64_t deadline = tsc_deadline_us(UIP_TIMEOUT_US);

	while (cmos_read(RTC_STATUS_A) & STATUS_A_UIP) {
		if (rdtsc() > deadline)
			return -ETIMEDOUT;
		cpu_pause();
	}
	return 0;
}

struct raw_time {
	uint8_t sec, min, hour, day, mon, year, century;
};

static void read_raw(struct raw_time *r)
{
	r->sec = cmos_read(RTC_SEC);
	r->min = cmos_read(RTC_MIN);
	r->hour = cmos_read(RTC_HOUR);
	r->day = cmos_read(RTC_DAY);
	r->mon = cmos_read(RTC_MON);
	r->year = cmos_read(RTC_YEAR);
	r->century = cmos_read(RTC_CENTURY);
}

static unsigned int from_bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0xf);
}

static bool bcd_valid(uint8_t v)
{
	return (v >> 4) <= 9 && (v & 0xf) <= 9;
}

int rtc_read(struct rtc_time *t)
{
	struct raw_time a, b;
	unsigned int century;
	uint8_t status_b, hour;
	bool bcd, pm = false;
	int attempt, r;

	for (attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
		r = wait_uip_clear();
		if (r)
			return r;
		read_raw(&a);
		r = wait_uip_clear();
		if (r)
			return r;
		read_raw(&b);
		if (!memcmp(&a, &b, sizeof(a)))
			break;
	}
	if (attempt == READ_ATTEMPTS)
		return -ETIMEDOUT;

	status_b = cmos_read(RTC_STATUS_B);
	bcd = !(status_b & STATUS_B_BINARY);
	hour = a.hour;
	if (!(status_b & STATUS_B_24H)) {
		pm = hour & HOUR_PM;
		hour &= (uint8_t)~HOUR_PM;
	}
	if (bcd) {
		if (!bcd_valid(a.sec) || !bcd_valid(a.min) ||
		    !bcd_valid(hour) || !bcd_valid(a.day) ||
		    !bcd_valid(a.mon) || !bcd_valid(a.year))
			return -EIO;
		t->sec = from_bcd(a.sec);
		t->min = from_bcd(a.min);
		t->hour = from_bcd(hour);
		t->day = from_bcd(a.day);
		t->mon = from_bcd(a.mon);
		t->year = from_bcd(a.year);
		century = bcd_valid(a.century) ? from_bcd(a.century) : 0;
	} else {
		t->sec = a.sec;
		t->min = a.min;
		t->hour = hour;
		t->day = a.day;
		t->mon = a.mon;
		t->year = a.year;
		century = a.century;
	}
	if (!(status_b & STATUS_B_24H)) {
		/* 12-hour clock: 12 AM is 0, 12 PM is 12. */
		if (t->hour == 12)
			t->hour = 0;
		if (pm)
			t->hour += 12;
	}
	if (t->year > 99)
		return -EIO;
	/* Without a believable century register, assume the 2000s. */
	if (century < 19 || century > 21)
		century = 20;
	t->year += century * 100;
	if (t->sec > 59 || t->min > 59 || t->hour > 23 || t->day < 1 ||
	    t->day > 31 || t->mon < 1 || t->mon > 12)
		return -EIO;
	return 0;
}
