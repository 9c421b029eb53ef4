/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_SANDBOX_H
#define RAEVM_SANDBOX_H

#include "raevm/util.h"

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

#endif
