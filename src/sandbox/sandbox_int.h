/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_SANDBOX_INT_H
#define RAEVM_SANDBOX_INT_H

/*
 * Shared by the files of src/sandbox/ and by tests/unit/sandbox: the
 * seccomp tables (seccomp.c), the capability steps (caps.c) and the
 * process state (thread.c). Not for use outside src/sandbox/.
 */
#include "raevm/sandbox.h"

#include <linux/filter.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Filters: one per thread class. */
#define RV__SB_NR_FILTERS ((unsigned int)RV_THREAD_NR_CLASSES)

/* How a row restricts its system call's arguments. */
enum rv__sc_arg {
	RV__SC_ANY = 0,
	RV__SC_IOCTL,	     /* request in the class's rows of rv__sc_ioctls */
	RV__SC_SOCKET_UNIX,  /* socket(AF_UNIX, ...) */
	RV__SC_SOCKET_INET,  /* socket(AF_INET or AF_INET6, ...) */
	RV__SC_CLONE_THREAD, /* clone() with pthread_create's flags only */
	RV__SC_ENOSYS,	     /* fails with ENOSYS instead of running */
	RV__SC_NO_EXEC,	     /* mmap/mprotect without PROT_EXEC */
	RV__SC_PRCTL,	     /* PR_SET_NAME and the no_new_privs pair */
	RV__SC_SECCOMP_FILTER, /* seccomp(SECCOMP_SET_MODE_FILTER, ...) */
	RV__SC_OWN_PROCESS     /* first argument: this process's pid */
};

/* The clone flags of glibc's pthread_create, the only clone allowed. */
#define RV__SC_PTHREAD_CLONE                                                   \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |    \
	 CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |                  \
	 CLONE_CHILD_CLEARTID)

/* One allowed system call: classes is a mask of 1u << class. */
struct rv__sc_rule {
	const char *name;
	uint32_t classes;
	enum rv__sc_arg arg;
	const char *why;
};

/* One allowed ioctl request for the classes whose ioctl row is IOCTL. */
struct rv__sc_ioctl {
	unsigned long request;
	const char *name;
	uint32_t classes;
	const char *why;
};

extern const struct rv__sc_rule rv__sc_rules[];
extern const size_t rv__sc_nr_rules;
extern const struct rv__sc_ioctl rv__sc_ioctls[];
extern const size_t rv__sc_nr_ioctls;

/* "main", "vcpu", ...; NULL past the last class. */
const char *rv__sb_class_name(unsigned int cls);

/* True when the row allows its call to class cls. */
static inline bool rv__sc_in_class(uint32_t classes, unsigned int cls)
{
	return cls < 32 && (classes & (1u << cls));
}

/*
 * Compiles the filter of cls into prog (filter malloc'd; free it with
 * rv__seccomp_free). It names this process's pid (tgkill), so a filter is
 * for the process that built it. log: forbidden calls are logged by the kernel and
 * run, instead of killing the process. Returns 0 or a negative errno.
 */
int rv__seccomp_build(unsigned int cls, bool log, struct sock_fprog *prog);
void rv__seccomp_free(struct sock_fprog *prog);

/* no_new_privs, then the filter on the calling thread. */
int rv__seccomp_load(const struct sock_fprog *prog);

/*
 * Capabilities (caps.c). keep_build: what building the VM still needs
 * after the jail (CAP_NET_ADMIN to create a tap, CAP_SETPCAP to empty the
 * bounding set later); every other capability, the bounding set included,
 * is dropped. rv__caps_drop_all: nothing left, bounding set included.
 * rv__caps_drop_thread: the calling thread only (a device thread started
 * before rv__caps_drop_all). rv__caps_drop_build also locks the
 * securebits (RV__CAPS_SECUREBITS) and both steps clear the ambient set.
 */
#define RV__CAPS_SECUREBITS                                                    \
	((1u << 0) | (1u << 1) | /* SECBIT_NOROOT and its lock */              \
	 (1u << 2) | (1u << 3) | /* SECBIT_NO_SETUID_FIXUP and its lock */     \
	 (1u << 5) |		 /* SECBIT_KEEP_CAPS_LOCKED (KEEP_CAPS off) */ \
	 (1u << 6) | (1u << 7))	 /* SECBIT_NO_CAP_AMBIENT_RAISE and lock */
int rv__caps_drop_build(bool keep_net_admin);
int rv__caps_drop_all(void);
int rv__caps_drop_thread(void);

/* The filter of a class, compiled by rv_sandbox_enable() (thread.c). */
const struct sock_fprog *rv__sb_filter(unsigned int cls);

/* Test builds only: the class told to make a forbidden call, or -1. */
int rv__sb_test_violate_class(void);
/* Makes the forbidden call when cls is the chosen class (test builds). */
void rv__sb_test_hook(unsigned int cls);

#endif /* RAEVM_SANDBOX_INT_H */
