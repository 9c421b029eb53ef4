/* SPDX-License-Identifier: Apache-2.0 */
/* Prints the CMOS clock as "rtc: YYYY-MM-DD HH:MM:SS"; exit 2 on failure. */
#include "guest.h"

int guest_main(const struct hvm_start_info *si)
{
	struct rtc_time t;
	int r;

	(void)si;
	r = rtc_read(&t);
	if (r) {
		printf("rtc: read failed (%d)\n", r);
		return 2;
	}
	printf("rtc: %04u-%02u-%02u %02u:%02u:%02u\n", t.year, t.mon, t.day,
	       t.hour, t.min, t.sec);
	return 0;
}
