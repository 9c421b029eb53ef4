/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TSC time. The kit needs time only to bound waits, so it does not
 * calibrate: it takes the TSC frequency from CPUID or kvmclock where the
 * CPU or the hypervisor states it and otherwise assumes a fast 4 GHz, which
 * makes every bound longer than asked, never shorter, on slower TSCs.
 */
#include "internal.h"

#define TSC_HZ_GUESS 4000000000ULL

#define KVM_CPUID_SIGNATURE 0x40000000
#define KVM_CPUID_FEATURES 0x40000001
#define KVM_FEATURE_CLOCKSOURCE2 (1U << 3)
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

/* KVM's pvclock page (Documentation/virt/kvm/x86/msr.rst). */
struct pvclock {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;
	uint8_t pad[2];
} __attribute__((packed));

static uint64_t tsc_hz_cached;
static struct pvclock kvmclock __attribute__((aligned(64)));

static bool is_kvm(void)
{
	uint32_t a, b, c, d;

	cpuid(KVM_CPUID_SIGNATURE, 0, &a, &b, &c, &d);
	/* "KVMKVMKVM\0\0\0" */
	return b == 0x4b4d564b && c == 0x564b4d56 && d == 0x4d;
}

/*
 * KVM states the TSC rate through kvmclock: ns = ticks * 2^shift * mul /
 * 2^32. We enable the clock just long enough to read one sample, then turn
 * it off so the host stops writing into our memory. CPL0 only.
 */
static uint64_t tsc_hz_from_kvmclock(void)
{
	uint32_t a, b, c, d;
	uint64_t hz;
	uint32_t mul, version;
	int8_t shift;

	if (current_cpl() != 0 || !is_kvm())
		return 0;
	cpuid(KVM_CPUID_FEATURES, 0, &a, &b, &c, &d);
	if (!(a & KVM_FEATURE_CLOCKSOURCE2))
		return 0;
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)&kvmclock | 1);
	version = *(volatile uint32_t *)&kvmclock.version;
	mul = *(volatile uint32_t *)&kvmclock.tsc_to_system_mul;
	shift = *(volatile int8_t *)&kvmclock.tsc_shift;
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);
	/* An odd version is an update in progress. */
	if (!mul || (version & 1) || shift < -31 || shift > 31)
		return 0;
	hz = (1000000000ULL << 32) / mul;
	return shift < 0 ? hz << -shift : hz >> shift;
}

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
		if (!hz)
			hz = tsc_hz_from_kvmclock();
		/* Below 100 MHz the value cannot be a TSC rate. */
		if (hz < 100000000ULL)
			hz = 0;
		/* At CPL3 kvmclock was out of reach: guess, but do not keep
		 * the guess for a later caller at CPL0. */
		if (hz || current_cpl() == 0)
			tsc_hz_cached = hz ? hz : TSC_HZ_GUESS;
		if (!hz)
			hz = TSC_HZ_GUESS;
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
