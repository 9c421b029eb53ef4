// SPDX-License-Identifier: Apache-2.0
/*
 * VM lifecycle under /dev/kvm: pausing and stopping vCPUs that spin in guest
 * user mode without a single exit. Such a vCPU only leaves KVM_RUN because of
 * the immediate_exit kick, so these tests fail (by the alarm) if a kick is
 * ever lost. KVM_GET_REGS from another thread blocks while the vCPU is inside
 * KVM_RUN, so reading registers proves the vCPU is really parked.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmocka.h>

#include "raevm/boot.h"
#include "raevm/config.h"
#include "raevm/device.h"
#include "raevm/kvm.h"
#include "raevm/log.h"
#include "raevm/vcpu.h"
#include "raevm/vm.h"

/* A guard against hangs, not a timing assertion. */
#define GUARD_SECONDS 60

struct fixture {
	struct rv_kvm *kvm;
	struct rv_vm *vm;
	struct rv_vm_config cfg;
	void *devices[8];
};

/* The guest's serial output, collected so a test can wait for a line. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char text[4096];
	size_t len;
} console = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, "", 0 };

static void collect(void *opaque, const uint8_t *buf, size_t len)
{
	(void)opaque;
	pthread_mutex_lock(&console.lock);
	if (len > sizeof(console.text) - 1 - console.len)
		len = sizeof(console.text) - 1 - console.len;
	memcpy(console.text + console.len, buf, len);
	console.len += len;
	console.text[console.len] = '\0';
	pthread_cond_broadcast(&console.cond);
	pthread_mutex_unlock(&console.lock);
}

static const struct rv_chardev capture_console = { .write = collect };

/* Waits (bounded by the alarm) until the guest has printed text. */
static void wait_for_output(const char *text)
{
	pthread_mutex_lock(&console.lock);
	while (!strstr(console.text, text))
		pthread_cond_wait(&console.cond, &console.lock);
	pthread_mutex_unlock(&console.lock);
}

static void on_alarm(int sig)
{
	static const char msg[] = "test_vm: timed out: a vCPU kick was lost\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(2);
}

static int boot_guest(struct fixture *f, const char *guest, const char *cmdline)
{
	char path[512], err[256];
	const char *build = getenv("RV_BUILD");
	struct rv_kernel_info info;
	struct rv_boot_params bp = { .cmdline = cmdline };
	struct rv_boot_entry entry;
	struct rv_device_ctx ctx;
	uint8_t *image;
	size_t len, i;
	int rc;

	snprintf(path, sizeof(path), "%s/guests/%s", build ? build : "build",
		 guest);
	if (rv_read_file(path, 64 << 20, &image, &len))
		return -ENOENT;
	rc = rv_kernel_probe(image, len, &info, err, sizeof(err));
	if (!rc) {
		bp.kernel = image;
		bp.kernel_len = len;
		bp.nr_cpus = f->cfg.cpus;
		rc = rv_boot_load(f->vm->mem, &info, &bp, &entry, err,
				  sizeof(err));
	}
	free(image);
	if (!rc)
		rc = rv_vcpu_setup_boot(f->vm->vcpus[0], &entry);
	ctx = (struct rv_device_ctx){ .vm = f->vm,
				      .cfg = &f->cfg,
				      .console = &capture_console };
	for (i = 0; !rc && i < rv_board_nr_devices; i++)
		rc = rv_board_devices[i]->create(&ctx, &f->devices[i]);
	return rc;
}

static int setup(void **state)
{
	static struct fixture f;
	const char *dev = getenv("RAEVM_KVM_DEVICE");

	memset(&f, 0, sizeof(f));
	console.len = 0;
	console.text[0] = '\0';
	rv_log_set_level(RV_LOG_ERROR);
	if (access(dev ? dev : "/dev/kvm", R_OK | W_OK) != 0) {
		*state = NULL;
		return 0;
	}
	if (rv_kvm_open(dev ? dev : "/dev/kvm", &f.kvm))
		return -1;
	rv_vm_config_init(&f.cfg);
	f.cfg.cpus = 2;
	f.cfg.memory = 64ULL << 20;
	if (rv_vm_create(f.kvm, &f.cfg, &f.vm))
		return -1;
	*state = &f;
	signal(SIGALRM, on_alarm);
	alarm(GUARD_SECONDS);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	size_t i;

	alarm(0);
	if (!f)
		return 0;
	for (i = rv_board_nr_devices; i-- > 0;)
		if (f->devices[i])
			rv_board_devices[i]->destroy(f->devices[i]);
	rv_vm_destroy(f->vm);
	rv_kvm_close(f->kvm);
	rv_vm_config_free(&f->cfg);
	return 0;
}

#define NEED_KVM(state)                                                        \
	do {                                                                   \
		if (!*(state)) {                                               \
			fprintf(stderr, "SKIP: /dev/kvm not usable\n");        \
			skip();                                                \
		}                                                              \
	} while (0)

static void read_regs(struct rv_vcpu *vcpu, struct kvm_regs *regs)
{
	assert_int_equal(ioctl(vcpu->fd, KVM_GET_REGS, regs), 0);
}

static void vm_pause__parks_spinning_vcpus(void **state)
{
	struct fixture *f = *state;
	struct kvm_regs a, b;
	int code = -1;

	NEED_KVM(state);
	/* About a minute of user-mode spinning: it never exits on its own. */
	assert_int_equal(boot_guest(f, "user_mode.elf", "loops=100000000000"),
			 0);
	assert_int_equal(rv_vm_start(f->vm), 0);
	/* Both vCPUs are now inside KVM_RUN: vCPU 0 spinning at CPL3. */
	wait_for_output("user: cpl=3 spinning");
	assert_int_equal(rv_vm_pause(f->vm), 0);
	assert_int_equal(f->vm->state, RV_VM_PAUSED);
	assert_int_equal(f->vm->vcpus_paused, 2);
	read_regs(f->vm->vcpus[0], &a);
	read_regs(f->vm->vcpus[0], &b);
	assert_memory_equal(&a, &b, sizeof(a));
	/* Pausing twice is refused; resuming works once. */
	assert_int_equal(rv_vm_pause(f->vm), -EINVAL);
	assert_int_equal(rv_vm_resume(f->vm), 0);
	assert_int_equal(rv_vm_resume(f->vm), -EINVAL);
	assert_int_equal(f->vm->state, RV_VM_RUNNING);

	rv_vm_request_stop(f->vm, RV_STOP_HOST_REQUEST, 130);
	assert_int_equal(rv_vm_wait(f->vm, &code), RV_STOP_HOST_REQUEST);
	assert_int_equal(code, 130);
	assert_int_equal(f->vm->vcpus_running, 0);
}

static void vm_request_stop__while_paused(void **state)
{
	struct fixture *f = *state;
	int code = -1;

	NEED_KVM(state);
	assert_int_equal(boot_guest(f, "user_mode.elf", "loops=100000000000"),
			 0);
	assert_int_equal(rv_vm_start(f->vm), 0);
	wait_for_output("user: cpl=3 spinning");
	assert_int_equal(rv_vm_pause(f->vm), 0);
	rv_vm_request_stop(f->vm, RV_STOP_HOST_REQUEST, 143);
	/* The first reason wins. */
	rv_vm_request_stop(f->vm, RV_STOP_ERROR, 1);
	assert_int_equal(rv_vm_wait(f->vm, &code), RV_STOP_HOST_REQUEST);
	assert_int_equal(code, 143);
	assert_int_equal(f->vm->state, RV_VM_STOPPED);
	assert_int_equal(rv_vm_resume(f->vm), -EINVAL);
}

static void vm_wait__guest_exit_code(void **state)
{
	struct fixture *f = *state;
	int code = -1;

	NEED_KVM(state);
	assert_int_equal(boot_guest(f, "exit_code.elf", "code=77"), 0);
	assert_int_equal(rv_vm_start(f->vm), 0);
	assert_int_equal(rv_vm_wait(f->vm, &code), RV_STOP_GUEST_EXIT);
	assert_int_equal(code, 77);
	assert_non_null(strstr(console.text, "exit_code: 77"));
	/* Pausing a stopped VM is refused. */
	assert_int_equal(rv_vm_pause(f->vm), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(vm_pause__parks_spinning_vcpus,
						setup, teardown),
		cmocka_unit_test_setup_teardown(vm_request_stop__while_paused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(vm_wait__guest_exit_code, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("vm", tests, NULL, NULL);
}
