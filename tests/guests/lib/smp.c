/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Application processor start-up (MP spec appendix B.4): INIT, a 10 ms
 * pause, then two STARTUP IPIs pointing at the real-mode trampoline. All
 * APs are started together; each finds its CPU index from its APIC ID in
 * apic_to_cpu (entry.S), so no per-AP hand-over through shared memory is
 * needed and an AP that never arrives cannot confuse the others.
 */
#include "internal.h"

#define INIT_DELAY_US 10000
#define SIPI_DELAY_US 200

uint8_t apic_to_cpu[256];

static ap_main_fn ap_fn;
static bool started;
static volatile unsigned int online = 1; /* the BSP */
static volatile bool cpu_online[GUEST_MAX_CPUS];

unsigned int smp_online(void)
{
	return online;
}

void ap_start(unsigned int index)
{
	uint32_t apic_id = guest_cpus[index].apic_id;

	cpu_setup(index, apic_id);
	lapic_init();
	cpu_online[index] = true;
	__atomic_fetch_add(&online, 1, __ATOMIC_SEQ_CST);
	if (ap_fn)
		ap_fn(index, apic_id);
	/* Idle, but stay reachable by IPIs. */
	for (;;)
		irq_enable_and_hlt();
}

static bool all_online(void *arg)
{
	unsigned int want = *(const unsigned int *)arg;

	return online >= want;
}

/* Sends one IPI to each AP that is not online yet. */
static int send_to_aps(unsigned int n, int (*send)(uint32_t id, uint8_t p),
		       uint8_t page)
{
	int r = 0;

	for (unsigned int i = 1; i < n; i++) {
		int e;

		if (cpu_online[i])
			continue;
		e = send(guest_cpus[i].apic_id, page);
		if (e) {
			printf("guest: IPI to APIC %u failed (%d)\n",
			       guest_cpus[i].apic_id, e);
			r = e;
		}
	}
	return r;
}

static int send_init(uint32_t id, uint8_t page)
{
	(void)page;
	return lapic_send_init(id);
}

/*
 * Fills apic_to_cpu: the BSP is index 0, the other enabled processors of
 * the MP table follow in table order. Returns the number of CPUs.
 */
static unsigned int assign_indices(const struct mp_info *mp, uint32_t bsp_id)
{
	unsigned int n = 1;
	bool bsp_listed = false;

	memset(apic_to_cpu, 0xff, sizeof(apic_to_cpu));
	apic_to_cpu[bsp_id] = 0;
	for (unsigned int i = 0; i < mp->nr_cpus; i++) {
		uint8_t id = mp->apic_ids[i];

		if (id == bsp_id) {
			bsp_listed = true;
			continue;
		}
		if (apic_to_cpu[id] != 0xff) {
			printf("guest: MP table lists APIC ID %u twice\n", id);
			continue;
		}
		if (n >= GUEST_MAX_CPUS)
			break;
		apic_to_cpu[id] = (uint8_t)n;
		guest_cpus[n].apic_id = id;
		n++;
	}
	if (!bsp_listed)
		printf("guest: the BSP (APIC ID %u) is not in the MP table\n",
		       bsp_id);
	return n;
}

int smp_start(ap_main_fn fn, uint64_t timeout_us)
{
	const struct mp_info *mp = mp_info();
	size_t tramp_len = (size_t)(ap_trampoline_end - ap_trampoline_start);
	uint32_t bsp_id;
	unsigned int n;
	int r;

	if (started)
		return -EBUSY;
	started = true;
	lapic_init();
	bsp_id = lapic_id();
	guest_cpus[0].apic_id = bsp_id;
	if (!mp->found)
		return 1;
	n = assign_indices(mp, bsp_id);
	if (n == 1)
		return 1;

	memcpy(phys_ptr(GUEST_TRAMPOLINE_ADDR), ap_trampoline_start, tramp_len);
	ap_fn = fn;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	r = send_to_aps(n, send_init, 0);
	udelay(INIT_DELAY_US);
	if (!r)
		r = send_to_aps(n, lapic_send_sipi,
				(uint8_t)(GUEST_TRAMPOLINE_ADDR >> 12));
	udelay(SIPI_DELAY_US);
	if (!r)
		r = send_to_aps(n, lapic_send_sipi,
				(uint8_t)(GUEST_TRAMPOLINE_ADDR >> 12));
	(void)wait_until(all_online, &n, timeout_us);
	return (int)online;
}
