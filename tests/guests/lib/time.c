/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TSC time. The kit needs time only to bound waits, so it does not
 * calibrate: it takes the TSC frequency from CPUID where the CPU or the
 * hypervisor states it and otherwise assumes a fast 4 GHz, which makes
 * every bound longer than asked, never shorter, on slower TSCs.
 */
#include "internal.h"

#define TSC_HZ_GUESS 4000000000ULL

static uint64_t tsc_hz_cached;

static uint64_t tsc_hz_from_cpuid(void)
{
	uint32_t a, b, c, d, max;

	/* Hypervisor timing leaf (VMware convention, also set by some KVM
	 * VMMs): EAX = TSC kHz. */
	cpuid(1, 0, &a, &b, &c, &d);
	if (c & (1U << 31)) {
		cpuid(0x40000000, 0, &max, &b, &c, &d);
		if (max >= 0x40000010 && max < 0x40000100) {
			cpuid(0x40000010, 0, &a, &b, &c, &d);
			if (a)
				return (uint64_t)a * 1000;
		}
	}
	cpuid(0, 0, &max, &b, &c, &d);
	if (max >= 0x15) {
		/* Crystal clock Hz * numerator / denominator. */
		cpuid(0x15, 0, &a, &b, &c, &d);
		if (a && b && c)
			return (uint64_t)c * b / a;
	}
	if (max >= 0x16) {
		cpuid(0x16, 0, &a, &b, &c, &d);
		if (a & 0xffff)
			return (uint64_t)(a & 0xffff) * 1000000;
	}
	return 0;
}

uint64_t tsc_hz(void)
{
	uint64_t hz = tsc_hz_cached;

	if (!hz) {
		hz = tsc_hz_from_cpuid();
		/* Below 100 MHz the CPUID value cannot be a TSC rate. */
		if (hz < 100000000ULL)
			hz = TSC_HZ_GUESS;
		tsc_hz_cached = hz;
	}
	return hz;
}

uint64_t tsc_deadline_us(uint64_t us)
{
	uint64_t per_us = tsc_hz() / 1000000;
	uint64_t now = rdtsc();

	if (us > (UINT64_MAX - now) / per_us)
		return UINT64_MAX;
	return now + us * per_us;
}

void udelay(uint64_t us)
{
	uint64_t deadline = tsc_deadline_us(us);

	while (rdtsc() < deadline)
		cpu_pause();
}

int wait_until(bool (*done)(void *arg), void *arg, uint64_t timeout_us)
{
	uint64_t deadline = tsc_deadline_us(timeout_us);

	for (;;) {
		if (done(arg))
			return 0;
		if (rdtsc() > deadline)
			return done(arg) ? 0 : -ETIMEDOUT;
		cpu_pause();
	}
}
