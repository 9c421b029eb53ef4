// SPDX-License-Identifier: Apache-2.0
/*
 * vCPUs: creation, boot register state and the run loop.
 *
 * Stopping and pausing never wait on a timer: the controlling thread sets a
 * flag under vm->lock, then sets kvm_run.immediate_exit and signals the vCPU
 * thread. The vCPU clears immediate_exit before it reads the flags, so a kick
 * is either seen in the flags or makes the next KVM_RUN return at once.
 */
#include "raevm/vcpu.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "raevm/boot.h"
#include "raevm/bus.h"
#include "raevm/cpuid.h"
#include "raevm/kvm.h"
#include "raevm/log.h"
#include "raevm/sandbox.h"
#include "raevm/vm.h"

#define CPUID_MAX_ENTRIES 256

static int set_cpuid(struct rv_vcpu *vcpu)
{
	struct rv_vm *vm = vcpu->vm;
	struct kvm_cpuid2 *c;
	int rc;

	c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = CPUID_MAX_ENTRIES;
	rc = rv_cpuid_build(vm->cpu_template, vm->kvm->supported_cpuid,
			    vcpu->id, vm->nr_vcpus, c);
	if (rc) {
		rv_error("vCPU %u: cannot build the CPUID table: %s", vcpu->id,
			 strerror(-rc));
		goto out;
	}
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0)
		rc = rv_kvm_ioctl_error("KVM_SET_CPUID2", errno);
out:
	free(c);
	return rc;
}

static int set_lapic(struct rv_vcpu *vcpu)
{
	struct kvm_lapic_state lapic;

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0)
		return rv_kvm_ioctl_error("KVM_GET_LAPIC", errno);
	rv_boot_setup_lapic(&lapic);
	if (ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0)
		return rv_kvm_ioctl_error("KVM_SET_LAPIC", errno);
	return 0;
}

int rv_vcpu_create(struct rv_vm *vm, unsigned int id, struct rv_vcpu **out)
{
	struct rv_vcpu *vcpu;
	void *run;
	int rc;

	*out = NULL;
	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return -ENOMEM;
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		rc = rv_kvm_ioctl_error("KVM_CREATE_VCPU", errno);
		goto err_free;
	}
	vcpu->run_size = (size_t)vm->kvm->run_mmap_size;
	run = mmap(NULL, vcpu->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu->fd, 0);
	if (run == MAP_FAILED) {
		rc = rv_kvm_ioctl_error("mmap of kvm_run", errno);
		goto err_close;
	}
	vcpu->run = run;
	rc = set_cpuid(vcpu);
	if (rc)
		goto err_unmap;
	rc = set_lapic(vcpu);
	if (rc)
		goto err_unmap;
	*out = vcpu;
	return 0;

err_unmap:
	munmap(vcpu->run, vcpu->run_size);
err_close:
	close(vcpu->fd);
err_free:
	free(vcpu);
	return rc;
}

void rv_vcpu_destroy(struct rv_vcpu *vcpu)
{
	if (!vcpu)
		return;
	if (vcpu->run)
		munmap(vcpu->run, vcpu->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	free(vcpu);
}

int rv_vcpu_setup_boot(struct rv_vcpu *vcpu, const struct rv_boot_entry *entry)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return rv_kvm_ioctl_error("KVM_GET_SREGS", errno);
	rv_boot_setup_sregs(entry, &sregs);
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
		return rv_kvm_ioctl_error("KVM_SET_SREGS", errno);
	memset(&regs, 0, sizeof(regs));
	rv_boot_setup_regs(entry, &regs);
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return rv_kvm_ioctl_error("KVM_SET_REGS", errno);
	memset(&fpu, 0, sizeof(fpu));
	rv_boot_setup_fpu(&fpu);
	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0)
		return rv_kvm_ioctl_error("KVM_SET_FPU", errno);
	return 0;
}

static void handle_io(struct rv_vcpu *vcpu, struct rv_exit *e)
{
	bool is_write = e->kind == RV_EXIT_IO_OUT;
	uint32_t i;

	for (i = 0; i < e->count; i++) {
		uint8_t *d = e->data + (size_t)i * e->size;

		if (rv_bus_access(vcpu->vm->pio, e->addr, d, e->size,
				  is_write) < 0 &&
		    !is_write)
			memset(d, 0xff, e->size);
	}
}

static void handle_mmio(struct rv_vcpu *vcpu, struct rv_exit *e)
{
	bool is_write = e->kind == RV_EXIT_MMIO_WRITE;

	if (rv_bus_access(vcpu->vm->mmio, e->addr, e->data, e->size, is_write) <
		    0 &&
	    !is_write)
		memset(e->data, 0xff, e->size);
}

static void report_internal_error(struct rv_vcpu *vcpu, struct rv_exit *e)
{
	struct kvm_regs regs;
	char bytes[64] = "";
	size_t off = 0;
	uint32_t i;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0)
		memset(&regs, 0, sizeof(regs));
	for (i = 0; i < e->insn_len && off + 4 < sizeof(bytes); i++)
		off += (size_t)snprintf(bytes + off, sizeof(bytes) - off,
					"%s%02x", i ? " " : "", e->insn[i]);
	if (e->suberror == KVM_INTERNAL_ERROR_EMULATION)
		rv_error("vCPU %u: KVM cannot emulate the instruction at rip "
			 "0x%llx%s%s%s",
			 vcpu->id, (unsigned long long)regs.rip,
			 e->insn_len ? " (bytes " : "", bytes,
			 e->insn_len ? ")" : "");
	else
		rv_error("vCPU %u: KVM internal error, suberror %u, at rip "
			 "0x%llx",
			 vcpu->id, e->suberror, (unsigned long long)regs.rip);
}

int rv_vcpu_handle_exit(struct rv_vcpu *vcpu, struct rv_exit *e)
{
	struct rv_vm *vm = vcpu->vm;

	switch (e->kind) {
	case RV_EXIT_IO_IN:
	case RV_EXIT_IO_OUT:
		handle_io(vcpu, e);
		return 0;
	case RV_EXIT_MMIO_READ:
	case RV_EXIT_MMIO_WRITE:
		handle_mmio(vcpu, e);
		return 0;
	case RV_EXIT_HLT:
	case RV_EXIT_INTR:
		return 0;
	case RV_EXIT_SHUTDOWN:
		rv_warn("vCPU %u: the guest triple-faulted; stopping the VM",
			vcpu->id);
		rv_vm_request_stop(vm, RV_STOP_GUEST_RESET, 1);
		return 1;
	case RV_EXIT_SYSTEM_RESET:
		rv_vm_request_stop(vm, RV_STOP_GUEST_RESET, 0);
		return 1;
	case RV_EXIT_SYSTEM_OFF:
		rv_vm_request_stop(vm, RV_STOP_GUEST_POWEROFF, 0);
		return 1;
	case RV_EXIT_INTERNAL_ERROR:
		report_internal_error(vcpu, e);
		break;
	case RV_EXIT_FAIL_ENTRY:
		rv_error("vCPU %u: KVM could not enter the guest (hardware "
			 "reason 0x%" PRIx64 ")",
			 vcpu->id, e->hw_reason);
		break;
	case RV_EXIT_UNKNOWN:
		if (e->reason == KVM_EXIT_SYSTEM_EVENT)
			rv_error("vCPU %u: unhandled KVM system event type %u",
				 vcpu->id, e->suberror);
		else
			rv_error("vCPU %u: unhandled KVM exit reason %u",
				 vcpu->id, e->reason);
		break;
	case RV_EXIT_INVALID:
		rv_error("vCPU %u: inconsistent kvm_run page (exit reason %u)",
			 vcpu->id, e->reason);
		break;
	}
	rv_vm_request_stop(vm, RV_STOP_ERROR, 1);
	return 1;
}

/* The signal that kicks a vCPU thread out of KVM_RUN; its handler is empty. */
static int kick_signal(void)
{
	return SIGRTMIN;
}

static void kick_handler(int sig)
{
	(void)sig;
}

int rv__vcpu_init_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: KVM_RUN must return EINTR. */
	if (sigaction(kick_signal(), &sa, NULL) < 0)
		return -errno;
	return 0;
}

void rv_vcpu_kick(struct rv_vcpu *vcpu)
{
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (vcpu->running)
		pthread_kill(vcpu->thread, kick_signal());
}

/*
 * Called before every KVM_RUN. Returns true when the thread must end and
 * parks the thread while the VM is paused. The fast path is two atomic
 * loads; vm->lock is taken only when a request is pending.
 */
static bool check_requests(struct rv_vcpu *vcpu)
{
	struct rv_vm *vm = vcpu->vm;
	bool stop;

	/* Pairs with the store in rv_vcpu_kick(): clear, then read flags. */
	__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&vm->stop_requested, __ATOMIC_SEQ_CST) &&
	    !__atomic_load_n(&vm->pause_requested, __ATOMIC_SEQ_CST))
		return false;
	pthread_mutex_lock(&vm->lock);
	while (vm->pause_requested && !vm->stop_requested) {
		vm->vcpus_paused++;
		pthread_cond_broadcast(&vm->cond);
		pthread_cond_wait(&vm->cond, &vm->lock);
		vm->vcpus_paused--;
	}
	stop = vm->stop_requested;
	pthread_mutex_unlock(&vm->lock);
	return stop;
}

static void *vcpu_thread(void *arg)
{
	struct rv_vcpu *vcpu = arg;
	struct rv_vm *vm = vcpu->vm;
	struct rv_exit e;
	sigset_t set;
	char name[16];

	/*
	 * The vCPU's seccomp filter before anything else: from its first
	 * instruction the guest may be driving this thread (sandbox.h).
	 */
	if (rv_sandbox_thread_enter(RV_THREAD_VCPU)) {
		rv_vm_request_stop(vm, RV_STOP_ERROR, 1);
		goto out;
	}
	snprintf(name, sizeof(name), "vcpu%u", vcpu->id);
	pthread_setname_np(pthread_self(), name);
	/*
	 * Process signals (SIGINT, SIGTERM, ...) belong to the main loop; a
	 * vCPU thread only takes the kick.
	 */
	sigfillset(&set);
	sigdelset(&set, kick_signal());
	pthread_sigmask(SIG_SETMASK, &set, NULL);

	while (!check_requests(vcpu)) {
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			/*
			 * EINTR: a kick. EAGAIN: an AP left its wait for
			 * INIT/SIPI (KVM blocked in the ioctl; no spinning).
			 */
			if (errno == EINTR || errno == EAGAIN)
				continue;
			rv_error("vCPU %u: KVM_RUN failed: %s", vcpu->id,
				 strerror(errno));
			rv_vm_request_stop(vm, RV_STOP_ERROR, 1);
			break;
		}
		vcpu->exits++;
		rv_exit_decode(vcpu->run, vcpu->run_size, &e);
		if (rv_vcpu_handle_exit(vcpu, &e))
			break;
	}

out:
	pthread_mutex_lock(&vm->lock);
	vm->vcpus_running--;
	vcpu->running = false;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

int rv_vcpu_start(struct rv_vcpu *vcpu)
{
	pthread_attr_t attr;
	int rc;

	pthread_attr_init(&attr);
	/* Exit handling is shallow; 256 KiB keeps the VMM's footprint small. */
	pthread_attr_setstacksize(&attr, 256 * 1024);
	rc = pthread_create(&vcpu->thread, &attr, vcpu_thread, vcpu);
	pthread_attr_destroy(&attr);
	if (rc) {
		rv_error("vCPU %u: cannot start its thread: %s", vcpu->id,
			 strerror(rc));
		return -rc;
	}
	vcpu->thread_started = true;
	return 0;
}
