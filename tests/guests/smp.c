/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starts every AP of the MP table. Each CPU prints "cpu <apic id> up"; the
 * BSP then prints "smp: <N> cpus" with N the CPUs that checked in, and
 * exits 0, or 3 when some CPU did not check in within about 5 s.
 */
#include "guest.h"

#define CHECKIN_TIMEOUT_US 5000000
#define PRINT_TIMEOUT_US 1000000

static volatile unsigned int checked_in;

static void ap_main(unsigned int cpu, uint32_t apic_id)
{
	(void)cpu;
	printf("cpu %u up\n", apic_id);
	__atomic_fetch_add(&checked_in, 1, __ATOMIC_SEQ_CST);
}

static bool all_checked_in(void *arg)
{
	return checked_in >= *(const unsigned int *)arg;
}

int guest_main(const struct hvm_start_info *si)
{
	unsigned int expected = mp_cpu_count();
	int online;

	(void)si;
	if (!expected) {
		puts("smp: no CPUs in an MP table, only the boot CPU");
		expected = 1;
	}
	if (mp_info()->nr_cpus_ignored)
		printf("smp: %u cpus beyond the kit's %u left parked\n",
		       mp_info()->nr_cpus_ignored, GUEST_MAX_CPUS);
	/* The BSP checks in first so its line always leads. */
	lapic_init();
	ap_main(0, lapic_id());
	online = smp_start(ap_main, CHECKIN_TIMEOUT_US);
	if (online < 0) {
		printf("smp: start failed (%d)\n", online);
		return 3;
	}
	if ((unsigned int)online < expected) {
		printf("smp: only %d of %u cpus came online\n", online,
		       expected);
		return 3;
	}
	/* Online CPUs are printing their line; that takes milliseconds. */
	if (wait_until(all_checked_in, &expected, PRINT_TIMEOUT_US)) {
		printf("smp: only %u of %u cpus checked in\n", checked_in,
		       expected);
		return 3;
	}
	printf("smp: %u cpus\n", checked_in);
	return 0;
}
