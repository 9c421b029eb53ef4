// SPDX-License-Identifier: Apache-2.0
/*
 * Capabilities of the jailed worker (docs/security.md "Privileges").
 *
 * Two steps. Right after the jail is built (still single-threaded) the
 * process keeps only what building the VM needs: CAP_NET_ADMIN when a tap
 * device is to be created, and CAP_SETPCAP, without which the bounding set
 * could not be emptied later; the bounding set shrinks to the same. Once
 * the VM is built (rv_sandbox_apply) nothing is left: effective,
 * permitted, inheritable, ambient and bounding sets all empty, so
 * /proc/PID/status shows CapEff 0000000000000000 and CapBnd likewise.
 *
 * The first step also locks the securebits (no root special cases, no
 * ambient raise); both clear the ambient set.
 *
 * Capabilities belong to threads. Device threads start between the two
 * steps and drop theirs themselves (rv__caps_drop_thread, raw capset on
 * the calling thread, as libcap-ng addresses the process).
 */
#include "sandbox_int.h"

#include <errno.h>
#include <stdint.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cap-ng.h>

/*
 * The bounding set is emptied with prctl here, not through libcap-ng:
 * its bounding step reads /proc/PID/status, which the jail does not have.
 * Keeps the capabilities in keep (a mask of 1 << CAP_*).
 */
static int drop_bounding(uint64_t keep)
{
	unsigned long cap;

	for (cap = 0; cap <= CAP_LAST_CAP; cap++) {
		if ((keep & (1ULL << cap)) ||
		    prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 0)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	}
	return 0;
}

/*
 * Root's special cases off for good: no capabilities come back with uid 0
 * at an execve (NOROOT), none are kept or dropped by a uid change
 * (NO_SETUID_FIXUP, KEEP_CAPS off), no ambient capability can be raised,
 * and every bit is locked. Seccomp allows neither execve nor setuid, so
 * this is the layer under it. Needs CAP_SETPCAP; threads created later
 * inherit the bits.
 */
static int lock_securebits(void)
{
	int cur = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);

	if (cur >= 0 && (unsigned int)cur == RV__CAPS_SECUREBITS)
		return 0;
	if (prctl(PR_SET_SECUREBITS, RV__CAPS_SECUREBITS, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

/* Ambient capabilities survive an execve; there must be none. */
static int clear_ambient(void)
{
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL)
		return -errno;
	return 0;
}

/* Sets effective and permitted to keep on the calling (main) thread. */
static int apply_caps(uint64_t keep)
{
	unsigned int cap;

	capng_clear(CAPNG_SELECT_BOTH);
	/* The pid as this process sees it: the main thread's own id. */
	capng_setpid((int)getpid());
	for (cap = 0; cap <= CAP_LAST_CAP; cap++)
		if ((keep & (1ULL << cap)) &&
		    capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
				 cap))
			return -EINVAL;
	return capng_apply(CAPNG_SELECT_CAPS) ? -EPERM : 0;
}

int rv__caps_drop_build(bool keep_net_admin)
{
	uint64_t keep = 1ULL << CAP_SETPCAP;
	int rc;

	if (keep_net_admin)
		keep |= 1ULL << CAP_NET_ADMIN;
	rc = lock_securebits();
	if (!rc)
		rc = clear_ambient();
	if (!rc)
		rc = drop_bounding(keep);
	return rc ? rc : apply_caps(keep);
}

int rv__caps_drop_all(void)
{
	/* The bounding set goes first, while CAP_SETPCAP is still held. */
	int rc = clear_ambient();

	if (!rc)
		rc = drop_bounding(0);
	return rc ? rc : apply_caps(0);
}

int rv__caps_drop_thread(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0, /* the calling thread */
	};
	struct __user_cap_data_struct data[2] = { { 0 } };
	unsigned long cap;
	int rc;

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	if (!data[0].permitted && !data[1].permitted && !data[0].inheritable &&
	    !data[1].inheritable)
		return 0;
	rc = clear_ambient();
	if (rc)
		return rc;
	/* While CAP_SETPCAP is still effective, empty the bounding set. */
	for (cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
		    errno != EINVAL && errno != EPERM)
			return -errno;
	data[0] = (struct __user_cap_data_struct){ 0 };
	data[1] = (struct __user_cap_data_struct){ 0 };
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}
