/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_VMRUN_H
#define RAEVM_VMRUN_H

#include <stddef.h>
#include <stdint.h>

#include "raevm/block.h"
#include "raevm/boot.h"
#include "raevm/config.h"
#include "raevm/device.h"
#include "raevm/util.h"
#include "raevm/vm.h"

/*
 * The VM build and teardown phases shared by `raevmd run` (run.c, console
 * on stdio) and `raevmd worker` (worker.c, console on a socket and a log).
 * Both own the main loop, the console and the way a stop is asked for;
 * this part owns the VM and its devices (src/worker/run.c).
 *
 * Use: zero the struct, set cfg and console, rv__run_build(), start the
 * vCPUs with rv_vm_start(r->vm), run the loop, rv_vm_wait(), then
 * rv__run_teardown() (also after a failed build: it undoes what was done).
 */
struct rv_pci_bus;
struct rv_virtio_dev;
struct rv_acpi_pm;
struct rv_uart;
struct rv_kvm;

struct rv__run_vm {
	const struct rv_vm_config *cfg;	  /* set by the caller */
	const struct rv_chardev *console; /* COM1 output; set by the caller */
	/* The VM's runtime folder (worker), or NULL: ephemeral overlays' home. */
	const char *runtime_dir;

	struct rv_kvm *kvm;
	struct rv_vm *vm;
	struct rv_pci_bus *pci; /* root bus; later phases add functions */
	struct rv_virtio_dev *rng;
	struct rv_virtio_dev *vconsole;
	struct rv_virtio_dev *vblk[RV_CONFIG_MAX_DISKS];
	struct rv_virtio_dev *vnet[RV_CONFIG_MAX_NETS]; /* after the disks */
	struct rv_virtio_dev *vsock; /* created last, destroyed first */
	struct rv_blk *disks[RV_CONFIG_MAX_DISKS]; /* opened in the image phase */
	void *devices[RV_BOARD_MAX_DEVICES];
	struct rv_uart *uart;	    /* COM1, for host input */
	struct rv_acpi_pm *acpi_pm; /* the power button */

	uint8_t *kernel;
	size_t kernel_len;
	uint8_t *initrd;
	size_t initrd_len;
	struct rv_kernel_info info;
};

/*
 * Phases: read the images and open the disks, open KVM, create the VM,
 * load the kernel, create the board's devices, then the virtio devices.
 * Each failure is logged as one line. Returns 0 or a negative errno.
 */
int rv__run_build(struct rv__run_vm *r) RV_MUST_CHECK;

/*
 * rv__run_build() in two halves, for the sandbox's jail in between
 * (include/raevm/sandbox.h): rv__run_open() reads the images and opens
 * the disks and /dev/kvm, everything reached by a host path;
 * rv__run_create() builds the VM and its devices from what is open.
 */
int rv__run_open(struct rv__run_vm *r) RV_MUST_CHECK;
int rv__run_create(struct rv__run_vm *r) RV_MUST_CHECK;

/* Undoes rv__run_build() in reverse, after the vCPUs stopped. */
void rv__run_teardown(struct rv__run_vm *r);

/* Host input for COM1; returns how many bytes the UART took. */
size_t rv__run_uart_input(struct rv__run_vm *r, const uint8_t *buf, size_t len);

/*
 * The process exit status for a VM that stopped for reason with code
 * (rv_vm_wait()): the guest's code for a debug-exit, a reset or a host
 * request, 0 for a power-off, 1 for an error.
 */
int rv__run_exit_status(enum rv_stop_reason reason, int code);

#endif
