// SPDX-License-Identifier: Apache-2.0
/*
 * A KVM VM: memory, in-kernel irqchip and PIT, buses and vCPUs, and the
 * stop/pause protocol between the controlling thread and the vCPU threads.
 */
#include "raevm/vm.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "raevm/bus.h"
#include "raevm/config.h"
#include "raevm/cpuid.h"
#include "raevm/irq.h"
#include "raevm/kvm.h"
#include "raevm/layout.h"
#include "raevm/log.h"
#include "raevm/mem.h"
#include "raevm/util.h"
#include "raevm/vcpu.h"

/* Placed at the top of the 32-bit space, below the BIOS area: Intel only. */
#define RV_TSS_ADDR 0xfffbd000UL
#define RV_IDENTITY_MAP_ADDR 0xfffbc000ULL

static int check_config(struct rv_kvm *kvm, const struct rv_vm_config *cfg,
			const struct rv_cpu_template **tmpl)
{
	unsigned int max = kvm->max_vcpus < RV_VM_MAX_VCPUS ? kvm->max_vcpus :
							      RV_VM_MAX_VCPUS;
	const char *tname = cfg->cpu_template ? cfg->cpu_template : "host";
	struct sysinfo si;
	char a[32], b[32];

	if (cfg->cpus == 0 || cfg->cpus > max) {
		rv_error("cpus: %u is not a vCPU count from 1 to %u (KVM "
			 "allows %u, raevm %u)",
			 cfg->cpus, max, kvm->max_vcpus, RV_VM_MAX_VCPUS);
		return -EINVAL;
	}
	if (cfg->memory < RV_CONFIG_MIN_MEMORY) {
		rv_error("memory: %s is too small; a VM needs at least %s",
			 rv_format_size(cfg->memory, a, sizeof(a)),
			 rv_format_size(RV_CONFIG_MIN_MEMORY, b, sizeof(b)));
		return -EINVAL;
	}
	if (sysinfo(&si) == 0) {
		uint64_t host = (uint64_t)si.totalram * si.mem_unit;

		if (cfg->memory > host) {
			rv_error("memory: %s is more than this host's %s of "
				 "RAM",
				 rv_format_size(cfg->memory, a, sizeof(a)),
				 rv_format_size(host, b, sizeof(b)));
			return -ENOMEM;
		}
	}
	*tmpl = rv_cpu_template_find(tname);
	if (!*tmpl) {
		rv_error("cpu_template: unknown template '%s' (known: %s)",
			 tname, rv_cpu_template_names());
		return -EINVAL;
	}
	return 0;
}

static int setup_irqchip(struct rv_vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t identity = RV_IDENTITY_MAP_ADDR;

	if (ioctl(vm->fd, KVM_SET_TSS_ADDR, RV_TSS_ADDR) < 0)
		return rv_kvm_ioctl_error("KVM_SET_TSS_ADDR", errno);
	/* Only Intel's VMX needs (and offers) the identity map page. */
	if (rv_kvm_check_cap(vm->kvm, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
	    ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
		return rv_kvm_ioctl_error("KVM_SET_IDENTITY_MAP_ADDR", errno);
	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return rv_kvm_ioctl_error("KVM_CREATE_IRQCHIP", errno);
	if (ioctl(vm->fd, KVM_CREATE_PIT2, &pit) < 0)
		return rv_kvm_ioctl_error("KVM_CREATE_PIT2", errno);
	return 0;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Moves the calling thread to the highest CPU it may use other than CPU 0.
 * A young VM's SRCU domains are small, and a small domain runs the
 * callbacks that end its grace periods on the boot CPU, CPU 0. A waiter on
 * another CPU is woken by an inter-processor interrupt, which on the
 * measured host takes longer than SRCU's 25 us expedite hold-off, so the
 * waiter's next grace period is expedited too. Best effort: with no other
 * CPU the thread stays where it is.
 */
static void leave_boot_cpu(void)
{
	cpu_set_t set;
	int cpu;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return;
	for (cpu = CPU_SETSIZE - 1; cpu > 0; cpu--) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		(void)sched_setaffinity(0, sizeof(set), &set);
		return;
	}
}

/*
 * PIT tick reinjection is switched off while the VM is built.
 *
 * Off: KVM's default re-delivers every PIT tick the guest missed, which
 * only guests that count PIT ticks to keep time need. raevm's guests keep
 * time with the TSC, kvmclock or the LAPIC timer and use the PIT at most
 * to calibrate at boot; a real PIT drops missed ticks too (QEMU's
 * lost_tick_policy=discard). Every tick that fires is still delivered.
 *
 * Why at all: KVM keeps reinjection in two irq notifiers, and removing
 * them, at KVM_REINJECT_CONTROL or at VM destruction while reinjection is
 * on, waits for two grace periods of KVM's irq SRCU domain back to back.
 * The second normally comes too soon after the first to be expedited and
 * is a timer-paced one: 16 ms on the measured host, most of a short-lived
 * VM's start-to-exit time (docs/performance.md).
 *
 * Why on a thread, off CPU 0: there the switch took 0.13 ms (median of 21;
 * 16 ms on CPU 0, see leave_boot_cpu()), and it overlaps the rest of the
 * build. join_pit_thread() ends it before any vCPU runs, because the
 * thread holds the PIT's lock, which vCPU 0 takes on entry, and hurries a
 * switch that turned out slow. The thread exists only before the first
 * guest instruction and makes one ioctl. Without a thread the switch is
 * made inline: slower, same result.
 */
static void *pit_reinject_off(void *arg)
{
	struct rv_vm *vm = arg;
	struct kvm_reinject_control ctl = { .pit_reinject = 0 };

	pthread_mutex_lock(&vm->lock);
	vm->pit_thread_entered = monotonic_ns();
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	if (ioctl(vm->fd, KVM_REINJECT_CONTROL, &ctl) < 0)
		rv_warn("KVM_REINJECT_CONTROL failed: %s; missed PIT ticks "
			"stay reinjected",
			strerror(errno));
	pthread_mutex_lock(&vm->lock);
	__atomic_store_n(&vm->pit_thread_done, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

static void *pit_thread_main(void *arg)
{
	leave_boot_cpu();
	return pit_reinject_off(arg);
}

static void start_pit_thread(struct rv_vm *vm)
{
	if (rv_kvm_check_cap(vm->kvm, KVM_CAP_REINJECT_CONTROL) <= 0)
		return;
	if (rv_thread_create_blocked(&vm->pit_thread, pit_thread_main, vm) ==
	    0) {
		vm->pit_thread_started = true;
		return;
	}
	/* Inline, on this thread, which keeps its CPUs. */
	pit_reinject_off(vm);
}

/*
 * Joins the PIT thread, hurrying it when its switch turned out slow. An
 * unchanged commit of the routing table waits for an expedited grace
 * period of the same SRCU domain, and that ends the slow, timer-paced grace
 * period the thread waits for within two timer ticks (8 ms instead of 16
 * here). Timing matters: a commit that ends just before one of the
 * thread's removals makes that one slow, so the commits start only once
 * the thread has been in its ioctl for PIT_FAST_SWITCH_NS, by which time a
 * fast switch is over. Each further try covers one more slow grace period;
 * after them, or without a routing table, the join simply waits.
 */
#define PIT_THREAD_HURRY_TRIES 4
#define PIT_FAST_SWITCH_NS 1000000ULL

static bool pit_thread_done(struct rv_vm *vm)
{
	return __atomic_load_n(&vm->pit_thread_done, __ATOMIC_ACQUIRE);
}

/*
 * Waits until the thread is done or has been in its ioctl for
 * PIT_FAST_SWITCH_NS; returns true when it is still in there.
 */
static bool wait_pit_thread_fast(struct rv_vm *vm)
{
	struct timespec deadline;
	uint64_t end, now, ns;
	bool slow;

	pthread_mutex_lock(&vm->lock);
	while (!vm->pit_thread_entered)
		pthread_cond_wait(&vm->cond, &vm->lock);
	end = vm->pit_thread_entered + PIT_FAST_SWITCH_NS;
	now = monotonic_ns();
	if (now < end) {
		/* vm->cond waits on CLOCK_REALTIME. */
		clock_gettime(CLOCK_REALTIME, &deadline);
		ns = (uint64_t)deadline.tv_nsec + (end - now);
		deadline.tv_sec += (time_t)(ns / 1000000000ULL);
		deadline.tv_nsec = (long)(ns % 1000000000ULL);
		while (!pit_thread_done(vm) &&
		       pthread_cond_timedwait(&vm->cond, &vm->lock,
					      &deadline) == 0)
			;
	}
	slow = !pit_thread_done(vm);
	pthread_mutex_unlock(&vm->lock);
	return slow;
}

static void join_pit_thread(struct rv_vm *vm)
{
	unsigned int i;

	if (!vm->pit_thread_started)
		return;
	if (vm->irq && !pit_thread_done(vm) && wait_pit_thread_fast(vm)) {
		for (i = 0; i < PIT_THREAD_HURRY_TRIES && !pit_thread_done(vm);
		     i++)
			if (rv__irq_routing_recommit(vm->irq) < 0)
				break;
	}
	pthread_join(vm->pit_thread, NULL);
	vm->pit_thread_started = false;
}

static int setup_memory(struct rv_vm *vm, const struct rv_vm_config *cfg)
{
	unsigned int flags = 0, i;
	char a[32];
	int rc;

	if (cfg->memfd)
		flags |= RV_MEM_MEMFD;
	if (cfg->hugepages)
		flags |= RV_MEM_HUGEPAGES;
	rc = rv_mem_create(cfg->memory, RV_MMIO_HOLE_START, flags, &vm->mem);
	if (rc == -EINVAL && cfg->hugepages) {
		rv_error("memory: %s is not a multiple of the 2 MiB hugepage "
			 "size",
			 rv_format_size(cfg->memory, a, sizeof(a)));
		return rc;
	}
	if (rc) {
		rv_error("memory: cannot map %s of guest RAM%s: %s",
			 rv_format_size(cfg->memory, a, sizeof(a)),
			 cfg->hugepages ? " in hugepages (are enough reserved "
					  "in /proc/sys/vm/nr_hugepages?)" :
					  "",
			 strerror(-rc));
		return rc;
	}
	for (i = 0; i < vm->mem->nr_regions; i++) {
		struct rv_mem_region *r = &vm->mem->regions[i];
		struct kvm_userspace_memory_region kr = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->hva,
		};

		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0)
			return rv_kvm_ioctl_error("KVM_SET_USER_MEMORY_REGION",
						  errno);
	}
	return 0;
}

int rv_vm_create(struct rv_kvm *kvm, const struct rv_vm_config *cfg,
		 struct rv_vm **out)
{
	const struct rv_cpu_template *tmpl;
	struct rv_vm *vm;
	unsigned int i;
	int rc;

	*out = NULL;
	rc = check_config(kvm, cfg, &tmpl);
	if (rc)
		return rc;
	rc = rv__vcpu_init_signals();
	if (rc)
		return rc;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm->kvm = kvm;
	vm->fd = -1;
	vm->cpu_template = tmpl;
	vm->nr_vcpus = cfg->cpus;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	vm->fd = ioctl(kvm->fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		rc = rv_kvm_ioctl_error("KVM_CREATE_VM", errno);
		goto err;
	}
	/*
	 * RAM before the irqchip: on the hosts measured (docs/performance.md)
	 * the first memslot costs about 5 ms once an irqchip exists and
	 * 0.3 ms before it. KVM only requires the irqchip before the vCPUs.
	 */
	rc = setup_memory(vm, cfg);
	if (rc)
		goto err;
	rc = setup_irqchip(vm);
	if (rc)
		goto err;
	rc = rv_irq_routing_create(vm, &vm->irq);
	if (rc)
		goto err;
	/* After the routing commit, whose grace period must be over. */
	start_pit_thread(vm);
	rc = rv__kvm_load_cpuid(kvm);
	if (rc)
		goto err;
	rc = rv_bus_create("pio", &vm->pio);
	if (!rc)
		rc = rv_bus_create("mmio", &vm->mmio);
	if (rc)
		goto err;
	for (i = 0; i < cfg->cpus; i++) {
		rc = rv_vcpu_create(vm, i, &vm->vcpus[i]);
		if (rc)
			goto err;
	}
	vm->state = RV_VM_CREATED;
	*out = vm;
	return 0;

err:
	rv_vm_destroy(vm);
	return rc;
}

void rv_vm_destroy(struct rv_vm *vm)
{
	unsigned int i;
	bool started = false;

	if (!vm)
		return;
	/* Devices must outlive the vCPU threads (bus.h): stop them first. */
	for (i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i] && vm->vcpus[i]->thread_started)
			started = true;
	if (started) {
		rv_vm_request_stop(vm, RV_STOP_ERROR, 1);
		rv_vm_wait(vm, NULL);
	}
	for (i = 0; i < vm->nr_vcpus; i++)
		rv_vcpu_destroy(vm->vcpus[i]);
	rv_bus_destroy(vm->mmio);
	rv_bus_destroy(vm->pio);
	/* It uses vm->fd and vm->irq: joined before they go. */
	join_pit_thread(vm);
	rv_irq_routing_destroy(vm->irq);
	if (vm->fd >= 0)
		close(vm->fd);
	rv_mem_destroy(vm->mem);
	pthread_cond_destroy(&vm->cond);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
}

int rv_vm_start(struct rv_vm *vm)
{
	unsigned int i;
	int rc;

	join_pit_thread(vm);
	pthread_mutex_lock(&vm->lock);
	vm->state = RV_VM_RUNNING;
	pthread_mutex_unlock(&vm->lock);
	for (i = 0; i < vm->nr_vcpus; i++) {
		pthread_mutex_lock(&vm->lock);
		vm->vcpus_running++;
		vm->vcpus[i]->running = true;
		pthread_mutex_unlock(&vm->lock);
		rc = rv_vcpu_start(vm->vcpus[i]);
		if (rc) {
			pthread_mutex_lock(&vm->lock);
			vm->vcpus_running--;
			vm->vcpus[i]->running = false;
			pthread_mutex_unlock(&vm->lock);
			rv_vm_request_stop(vm, RV_STOP_ERROR, 1);
			return rc;
		}
	}
	return 0;
}

/*
 * Kicks every vCPU whose thread still runs. Under vm->lock, which the
 * threads take to clear their `running` flag on the way out, so a signal
 * never targets a thread that has ended (or been joined).
 */
static void kick_all(struct rv_vm *vm)
{
	unsigned int i;

	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i])
			rv_vcpu_kick(vm->vcpus[i]);
	pthread_mutex_unlock(&vm->lock);
}

void rv_vm_request_stop(struct rv_vm *vm, enum rv_stop_reason reason,
			int exit_code)
{
	bool first;

	pthread_mutex_lock(&vm->lock);
	first = !vm->stop_requested;
	if (first) {
		vm->stop_reason = reason;
		vm->exit_code = exit_code;
		__atomic_store_n(&vm->stop_requested, true, __ATOMIC_SEQ_CST);
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
	if (!first)
		return;
	kick_all(vm);
	if (vm->on_stop)
		vm->on_stop(vm->on_stop_opaque);
}

int rv_vm_pause(struct rv_vm *vm)
{
	int rc;

	pthread_mutex_lock(&vm->lock);
	if (vm->state != RV_VM_RUNNING || vm->stop_requested) {
		pthread_mutex_unlock(&vm->lock);
		return -EINVAL;
	}
	__atomic_store_n(&vm->pause_requested, true, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&vm->lock);
	kick_all(vm);
	pthread_mutex_lock(&vm->lock);
	while (vm->vcpus_paused < vm->vcpus_running && !vm->stop_requested)
		pthread_cond_wait(&vm->cond, &vm->lock);
	/* A stop that raced with the pause wins; the caller must know. */
	rc = vm->stop_requested ? -ECANCELED : 0;
	if (!rc)
		vm->state = RV_VM_PAUSED;
	pthread_mutex_unlock(&vm->lock);
	return rc;
}

int rv_vm_resume(struct rv_vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->state != RV_VM_PAUSED) {
		pthread_mutex_unlock(&vm->lock);
		return -EINVAL;
	}
	__atomic_store_n(&vm->pause_requested, false, __ATOMIC_SEQ_CST);
	vm->state = RV_VM_RUNNING;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

enum rv_stop_reason rv_vm_wait(struct rv_vm *vm, int *exit_code)
{
	enum rv_stop_reason reason;
	unsigned int i;

	for (i = 0; i < vm->nr_vcpus; i++) {
		struct rv_vcpu *vcpu = vm->vcpus[i];

		if (vcpu && vcpu->thread_started) {
			pthread_join(vcpu->thread, NULL);
			vcpu->thread_started = false;
		}
	}
	pthread_mutex_lock(&vm->lock);
	vm->state = RV_VM_STOPPED;
	reason = vm->stop_reason;
	if (exit_code)
		*exit_code = vm->exit_code;
	pthread_mutex_unlock(&vm->lock);
	return reason;
}

int rv_vm_irq_line(struct rv_vm *vm, uint32_t gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level ? 1 : 0 };

	if (ioctl(vm->fd, KVM_IRQ_LINE, &irq) < 0)
		return -errno;
	return 0;
}

int rv_vm_irq_pulse(struct rv_vm *vm, uint32_t gsi)
{
	int rc = rv_vm_irq_line(vm, gsi, 1);

	return rc ? rc : rv_vm_irq_line(vm, gsi, 0);
}

const char *rv_stop_reason_name(enum rv_stop_reason reason)
{
	switch (reason) {
	case RV_STOP_NONE:
		return "none";
	case RV_STOP_GUEST_EXIT:
		return "guest-exit";
	case RV_STOP_GUEST_RESET:
		return "guest-reset";
	case RV_STOP_GUEST_POWEROFF:
		return "guest-poweroff";
	case RV_STOP_HOST_REQUEST:
		return "host-request";
	case RV_STOP_ERROR:
		return "error";
	}
	return "?";
}
