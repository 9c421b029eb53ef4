/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_SANDBOX_H
#define RAEVM_SANDBOX_H

#include <stdbool.h>

#include "raevm/util.h"

struct rv_vm_config;

/*
 * The worker's sandbox (src/sandbox/, docs/security.md): capabilities,
 * no_new_privs, namespaces and a pivot_root jail for the process, and a
 * seccomp allowlist per thread class.
 *
 * Thread contract for every device and VMM thread of a worker:
 *  - a thread is created before the first guest instruction (at device
 *    creation, parked until it has work), never from a vCPU thread, so no
 *    thread inherits another class's filter;
 *  - the first thing its start function does is
 *    rv_sandbox_thread_enter(<its class>); when that fails the thread does
 *    no work and asks the VM to stop with RV_STOP_ERROR.
 */
enum rv_thread_class {
	RV_THREAD_MAIN = 0, /* the worker's libuv loop */
	RV_THREAD_VCPU,
	RV_THREAD_BLK,	   /* one per virtio-blk disk */
	RV_THREAD_NET,	   /* one per virtio-net NIC, with its backend */
	RV_THREAD_VSOCK,   /* virtio-vsock and its host sockets */
	RV_THREAD_CONSOLE, /* virtio-console host socket */
	RV_THREAD_NR_CLASSES,
};

/*
 * Installs the seccomp filter of cls on the calling thread when the
 * process's sandbox is on (rv_sandbox_enable() was called); otherwise does
 * nothing and returns 0. Returns 0 or a negative errno after logging one
 * line.
 */
int rv_sandbox_thread_enter(enum rv_thread_class cls) RV_MUST_CHECK;

/*
 * Process side (src/sandbox/jail.c, caps.c, seccomp.c). A worker that runs
 * with the sandbox on calls, in this order:
 *
 *  1. rv_sandbox_enable(), single-threaded, before anything is opened:
 *     compiles the filters of the classes the VM uses (so a thread's
 *     start costs one seccomp(2) call) and reads the debug switch RAEVM_SECCOMP_LOG=1,
 *     which makes every filter log a forbidden call instead of killing.
 *  2. opens what the VM needs by path: images, disks, /dev/kvm;
 *  3. rv_sandbox_jail(), still single-threaded: new user (without root),
 *     mount, ipc, uts and, for a VM without a NIC, net namespaces;
 *     pivot_root into an empty tmpfs holding only the folders in
 *     jail->dirs and the few files the config needs; drops the
 *     capabilities not needed to build the VM. No fork: the process stays
 *     the one its parent (the daemon) tracks;
 *  4. builds the VM (device threads start here, parked, and enter their
 *     classes);
 *  5. rv_sandbox_apply(): no_new_privs, every capability dropped, the
 *     main thread's filter; then rv_vm_start().
 *
 * Every function returns 0 or a negative errno after logging one line.
 */
#define RV_SANDBOX_MAX_DIRS 8

struct rv_sandbox_jail {
	/*
	 * Host folders the process still uses by path (runtime files, the
	 * console log, the folder of a socket it binds or connects to at run
	 * time), bind-mounted read-write at the same path.
	 */
	const char *dirs[RV_SANDBOX_MAX_DIRS];
	unsigned int nr_dirs;
};

/*
 * Step 1; also marks the process so that rv_sandbox_thread_enter() acts.
 * Only the classes cfg needs are compiled (NULL: all); a thread of another
 * class fails to enter with -ENOENT.
 */
int rv_sandbox_enable(const struct rv_vm_config *cfg) RV_MUST_CHECK;
bool rv_sandbox_enabled(void);

/* Step 3; does nothing when the sandbox is off. */
int rv_sandbox_jail(const struct rv_vm_config *cfg,
		    const struct rv_sandbox_jail *jail) RV_MUST_CHECK;

/* Step 5, on the main thread, after the VM is built. */
int rv_sandbox_apply(const struct rv_vm_config *cfg) RV_MUST_CHECK;

#endif
