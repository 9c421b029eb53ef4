/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pulses the i8042 reset line, which must end the VM. Exit code 9 means the
 * guest was still running a second later.
 */
#include "guest.h"

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	puts("reset: pulsing i8042");
	i8042_reset();
	udelay(1000000);
	puts("reset: still alive");
	return 9;
}
