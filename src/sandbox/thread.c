// SPDX-License-Identifier: Apache-2.0
/*
 * The sandbox's process state and the thread side of the contract in
 * include/raevm/sandbox.h: rv_sandbox_enable() compiles every class's
 * filter once, single-threaded; rv_sandbox_thread_enter() then costs a
 * thread one capget (and a capset when it still holds capabilities) and
 * one seccomp(2).
 *
 * The state is a process-wide registry (STYLE.md allows those): filters
 * are per process, and a thread's start function has nothing but its
 * class to find them with. It is written once, before any thread but the
 * main one exists, and only read afterwards.
 *
 * Test builds (RAEVM_TEST_HOOKS) read RAEVM_TEST_SECCOMP_VIOLATE=<class>
 * at rv_sandbox_enable(): the first thread of that class makes a
 * forbidden call right after its filter is in place, which must end the
 * worker by SIGSYS (tests/integration/test_sandbox.sh); and
 * RAEVM_TEST_JAIL_OPEN=<path>, a host file the confined main thread tries
 * to open, logging the result; RAEVM_TEST_JAIL_WRITE=<path>, a file it
 * tries to open for writing (test_sandbox.sh: the VM's manifest). Release
 * builds
 * have neither the variable nor the call.
 */
#include "sandbox_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "raevm/config.h"
#include "raevm/log.h"

static struct {
	bool enabled;
	bool log;
	struct sock_fprog filters[RV__SB_NR_FILTERS];
	int violate; /* test builds: the class that misbehaves, or -1 */
	const char *jail_open;	/* test builds: a host file main tries */
	const char *jail_write; /* test builds: a file main tries to write */
} sb = { .violate = -1 };

bool rv_sandbox_enabled(void)
{
	return sb.enabled;
}

const struct sock_fprog *rv__sb_filter(unsigned int cls)
{
	return cls < RV__SB_NR_FILTERS && sb.filters[cls].filter ?
		       &sb.filters[cls] :
		       NULL;
}

#ifdef RAEVM_TEST_HOOKS
static void read_test_hook(void)
{
	const char *v = getenv("RAEVM_TEST_SECCOMP_VIOLATE");
	unsigned int c;

	sb.jail_open = getenv("RAEVM_TEST_JAIL_OPEN");
	sb.jail_write = getenv("RAEVM_TEST_JAIL_WRITE");
	if (!v || !*v)
		return;
	for (c = 0; c < RV__SB_NR_FILTERS; c++)
		if (strcmp(v, rv__sb_class_name(c)) == 0)
			sb.violate = (int)c;
	if (sb.violate < 0)
		rv_warn("RAEVM_TEST_SECCOMP_VIOLATE: no class '%s'", v);
	else
		rv_warn("test hook: the %s class will make a forbidden call",
			v);
}

int rv__sb_test_violate_class(void)
{
	return sb.violate;
}

void rv__sb_test_hook(unsigned int cls)
{
	int fd;

	/* The confined main thread tries a host file (openat is allowed). */
	if (cls == RV_THREAD_MAIN && sb.jail_open) {
		fd = open(sb.jail_open, O_RDONLY | O_CLOEXEC);
		rv_warn("test hook: open '%s': %s", sb.jail_open,
			fd < 0 ? strerror(errno) : "opened");
		if (fd >= 0)
			close(fd);
	}
	/* ...and to append to a file of a folder it keeps (nothing written). */
	if (cls == RV_THREAD_MAIN && sb.jail_write) {
		fd = open(sb.jail_write, O_WRONLY | O_APPEND | O_CLOEXEC);
		rv_warn("test hook: write '%s': %s", sb.jail_write,
			fd < 0 ? strerror(errno) : "opened");
		if (fd >= 0)
			close(fd);
	}
	if (sb.violate != (int)cls)
		return;
	/* getppid is in no class's list (tests/unit/sandbox checks it). */
	(void)syscall(SYS_getppid);
}
#else
static void read_test_hook(void)
{
}

int rv__sb_test_violate_class(void)
{
	return -1;
}

void rv__sb_test_hook(unsigned int cls)
{
	(void)cls;
}
#endif

/* The classes a VM needs; a thread of another class cannot start. */
static bool class_needed(const struct rv_vm_config *cfg, unsigned int c)
{
	if (!cfg)
		return true;
	switch (c) {
	case RV_THREAD_BLK:
		return cfg->nr_disks > 0;
	case RV_THREAD_NET:
		return cfg->nr_nets > 0;
	case RV_THREAD_VSOCK:
		return cfg->vsock.enabled;
	case RV_THREAD_CONSOLE:
		return cfg->console_socket != NULL;
	default:
		return true;
	}
}

int rv_sandbox_enable(const struct rv_vm_config *cfg)
{
	const char *v = getenv("RAEVM_SECCOMP_LOG");
	unsigned int c;
	int rc;

	if (sb.enabled)
		return 0;
	sb.log = v && strcmp(v, "1") == 0;
	/* A user who asked for log mode is told what it costs. */
	if (sb.log)
		rv_warn("RAEVM_SECCOMP_LOG=1: forbidden system calls are "
			"logged by the kernel and allowed (debugging only)");
#ifdef __SANITIZE_ADDRESS__
	/*
	 * The sanitizer runtime makes calls no worker makes (LeakSanitizer
	 * clones a tracer, reads /proc and ptraces the threads at exit), so
	 * sanitizer builds always log. That is how the build is made, not a
	 * choice of the user's: a debug note, not a warning, so the build's
	 * output is the release build's (tests compare stderr).
	 */
	if (!sb.log)
		rv_debug("sandbox: sanitizer build: seccomp filters log "
			 "forbidden calls instead of killing");
	sb.log = true;
#endif
	for (c = 0; c < RV__SB_NR_FILTERS; c++) {
		if (!class_needed(cfg, c))
			continue;
		rc = rv__seccomp_build(c, sb.log, &sb.filters[c]);
		if (rc) {
			rv_error("sandbox: cannot build the %s filter: %s",
				 rv__sb_class_name(c), strerror(-rc));
			while (c-- > 0)
				rv__seccomp_free(&sb.filters[c]);
			return rc;
		}
	}
	read_test_hook();
	sb.enabled = true;
	return 0;
}

int rv_sandbox_thread_enter(enum rv_thread_class cls)
{
	unsigned int c = (unsigned int)cls;
	int rc;

	if (!sb.enabled)
		return 0;
	if (c >= RV_THREAD_NR_CLASSES) {
		rv_error("sandbox: unknown thread class %u", c);
		return -EINVAL;
	}
	rc = rv__caps_drop_thread();
	if (rc) {
		rv_error("sandbox: %s thread: cannot drop capabilities: %s",
			 rv__sb_class_name(c), strerror(-rc));
		return rc;
	}
	rc = sb.filters[c].filter ? rv__seccomp_load(&sb.filters[c]) : -ENOENT;
	if (rc) {
		rv_error("sandbox: %s thread: cannot install its filter: %s",
			 rv__sb_class_name(c), strerror(-rc));
		return rc;
	}
	rv__sb_test_hook(c);
	return 0;
}
