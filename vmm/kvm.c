// SPDX-License-Identifier: Apache-2.0
/*
 * The /dev/kvm system handle: opening it, checking the API version and the
 * capabilities raevm depends on, each failure reported as one named line.
 */
#include "raevm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "raevm/log.h"

#define CAP(c)                                                                 \
	{                                                                      \
		c, #c                                                          \
	}

struct cap_name {
	long cap;
	const char *name;
};

/* Every capability raevm uses, with the reason in the comment. */
static const struct cap_name required_caps[] = {
	CAP(KVM_CAP_USER_MEMORY),	/* guest RAM from our mapping */
	CAP(KVM_CAP_IRQCHIP),		/* in-kernel PIC, IOAPIC, LAPIC */
	CAP(KVM_CAP_PIT2),		/* in-kernel i8254 timer */
	CAP(KVM_CAP_SET_TSS_ADDR),	/* required by Intel VMX guests */
	CAP(KVM_CAP_EXT_CPUID),		/* KVM_SET_CPUID2 */
	CAP(KVM_CAP_IMMEDIATE_EXIT),	/* race-free vCPU kicks */
	CAP(KVM_CAP_IRQ_INJECT_STATUS), /* KVM_IRQ_LINE_STATUS */
	CAP(KVM_CAP_IOEVENTFD),		/* device notifications without exits */
	CAP(KVM_CAP_IRQFD),		/* device interrupts without ioctls */
};

static const struct cap_name other_caps[] = {
	CAP(KVM_CAP_MAX_VCPUS),
	CAP(KVM_CAP_NR_VCPUS),
	CAP(KVM_CAP_IRQ_ROUTING),
	CAP(KVM_CAP_READONLY_MEM),
};

const char *rv_kvm_cap_name(long cap)
{
	size_t i;

	for (i = 0; i < RV_ARRAY_SIZE(required_caps); i++)
		if (required_caps[i].cap == cap)
			return required_caps[i].name;
	for (i = 0; i < RV_ARRAY_SIZE(other_caps); i++)
		if (other_caps[i].cap == cap)
			return other_caps[i].name;
	return "KVM_CAP_?";
}

int rv_kvm_ioctl_error(const char *what, int err)
{
	rv_error("%s failed: %s", what, strerror(err));
	return -err;
}

int rv_kvm_check_cap(const struct rv_kvm *kvm, long cap)
{
	int rc = ioctl(kvm->fd, KVM_CHECK_EXTENSION, cap);

	return rc < 0 ? 0 : rc;
}

static int open_device(const char *path, int *fd_out)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd >= 0) {
		*fd_out = fd;
		return 0;
	}
	switch (errno) {
	case ENOENT:
		rv_error("%s: not found: KVM is not available on this host "
			 "(load the kvm_intel or kvm_amd module and enable "
			 "virtualization in the firmware)",
			 path);
		return -ENOENT;
	case EACCES:
	case EPERM:
		rv_error("%s: permission denied (add your user to group "
			 "'kvm' or run as root)",
			 path);
		return -EACCES;
	default:
		rv_error("%s: cannot open: %s", path, strerror(errno));
		return -errno;
	}
}

static int check_caps(struct rv_kvm *kvm, const char *path)
{
	size_t i;

	for (i = 0; i < RV_ARRAY_SIZE(required_caps); i++) {
		if (rv_kvm_check_cap(kvm, required_caps[i].cap) <= 0) {
			rv_error("%s: KVM lacks the capability %s, which raevm "
				 "needs",
				 path, required_caps[i].name);
			return -ENOTSUP;
		}
	}
	return 0;
}

int rv__kvm_load_cpuid(struct rv_kvm *kvm)
{
	unsigned int nent = 128;

	if (kvm->supported_cpuid)
		return 0;
	for (;;) {
		struct kvm_cpuid2 *c;

		c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = nent;
		if (ioctl(kvm->fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			kvm->supported_cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG || nent >= 4096)
			return rv_kvm_ioctl_error("KVM_GET_SUPPORTED_CPUID",
						  errno);
		nent *= 2;
	}
}

int rv_kvm_open(const char *path, struct rv_kvm **out)
{
	struct rv_kvm *kvm;
	int api, rc, n;

	*out = NULL;
	kvm = calloc(1, sizeof(*kvm));
	if (!kvm)
		return -ENOMEM;
	rc = open_device(path, &kvm->fd);
	if (rc)
		goto err_free;
	api = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);
	if (api < 0) {
		rv_error("%s: not a KVM device (KVM_GET_API_VERSION: %s)", path,
			 strerror(errno));
		rc = -ENODEV;
		goto err_close;
	}
	if (api != KVM_API_VERSION) {
		rv_error("%s: KVM API version %d, raevm needs %d", path, api,
			 KVM_API_VERSION);
		rc = -ENOTSUP;
		goto err_close;
	}
	rc = check_caps(kvm, path);
	if (rc)
		goto err_close;
	kvm->run_mmap_size = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (kvm->run_mmap_size < 0) {
		rc = rv_kvm_ioctl_error("KVM_GET_VCPU_MMAP_SIZE", errno);
		goto err_close;
	}
	if (kvm->run_mmap_size < (int)sizeof(struct kvm_run)) {
		rc = rv_kvm_ioctl_error("KVM_GET_VCPU_MMAP_SIZE", EINVAL);
		goto err_close;
	}
	n = rv_kvm_check_cap(kvm, KVM_CAP_MAX_VCPUS);
	if (n <= 0)
		n = rv_kvm_check_cap(kvm, KVM_CAP_NR_VCPUS);
	kvm->max_vcpus = n > 0 ? (unsigned int)n : 4;
	*out = kvm;
	return 0;

err_close:
	close(kvm->fd);
err_free:
	free(kvm);
	return rc;
}

void rv_kvm_close(struct rv_kvm *kvm)
{
	if (!kvm)
		return;
	free(kvm->supported_cpuid);
	if (kvm->fd >= 0)
		close(kvm->fd);
	free(kvm);
}
