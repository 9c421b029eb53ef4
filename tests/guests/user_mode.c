/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Drops to CPL3 with IOPL=3, spins loops=N times (default 1e8) and exits
 * from user mode through the debug-exit port. On hosts that emulate CPL0
 * this shows user mode runs natively: the loop takes well under a second.
 */
#include "guest.h"

static long user_main(void *arg)
{
	uint64_t loops = *(const uint64_t *)arg;
	uint64_t n = loops;

	/* Tells the host the vCPU is about to spin without exits. */
	printf("user: cpl=%u spinning\n", current_cpl());
	/* The loop is asm so the compiler can neither drop nor fold it. */
	if (n) {
		__asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(n) : : "cc");
	}
	printf("user: cpl=%u loops=%lu done\n", current_cpl(), loops);
	guest_exit(0);
}

int guest_main(const struct hvm_start_info *si)
{
	uint64_t loops = cmdline_get_uint("loops", 100000000);
	long r;

	(void)si;
	r = user_enter(user_main, &loops, NULL);
	/* guest_exit() from CPL3 does not come back. */
	printf("user_mode: user_enter returned %ld\n", r);
	return 4;
}
