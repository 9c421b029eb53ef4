/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_CGROUP_H
#define RAEVM_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "raevm/config.h"
#include "raevm/util.h"

/*
 * Resource limits per VM through cgroups (src/sandbox/cgroup.c,
 * docs/security.md "Resource limits").
 *
 * Each limited VM gets its own group, OWN/raevm/NAME, where OWN is the
 * group the creating process is in (read from /proc/self/cgroup), so a VM
 * never escapes the limits its daemon runs under. With cgroup v2 that is
 * one group with the controllers delegated through cgroup.subtree_control;
 * with v1 it is one directory per controller that a limit needs. The
 * version is detected at run time (rv_cgroup_probe()) and each version is
 * one ops table behind struct rv_cgroup.
 *
 * Who does what: the process that runs the VM (`raevmd worker` or
 * `raevmd run`) creates its group and moves itself in before it maps guest
 * memory, so guest RAM is charged to the VM. The daemon removes the group
 * of a worker once the worker is gone (it is the one alive after a crash);
 * `raevmd run` removes its own on the way out.
 */
enum rv_cgroup_version {
	RV_CGROUP_NONE = 0, /* no usable cgroup controller */
	RV_CGROUP_V1,
	RV_CGROUP_V2,
};

enum rv_cgroup_ctrl {
	RV_CGROUP_MEMORY = 0,
	RV_CGROUP_CPU,
	RV_CGROUP_CPUSET,
	RV_CGROUP_PIDS,
	RV_CGROUP_NR_CTRLS,
};

/* The parent of the VM groups: "raevm" below the creator's own group. */
#define RV_CGROUP_PARENT "raevm"

/*
 * Where the controllers are, as found by rv_cgroup_probe(). base[c] is the
 * directory of the creator's own group in controller c's hierarchy (v2:
 * the same directory for all); empty when c is not available.
 */
struct rv_cgroup_host {
	enum rv_cgroup_version version;
	char base[RV_CGROUP_NR_CTRLS][PATH_MAX];
	/*
	 * Tests only: the tree is a plain directory, so limit files are
	 * created by the writes (cgroupfs provides them) and removed with
	 * the group.
	 */
	bool plain_dir;
};

/* "memory", "cpu", "cpuset", "pids". */
const char *rv_cgroup_ctrl_name(enum rv_cgroup_ctrl c);

/*
 * Reads mountinfo (e.g. /proc/self/mountinfo) and self_cgroup (e.g.
 * /proc/self/cgroup) and fills host. v2 is chosen when a cgroup2 mount
 * offers at least one of the four controllers to the own group (its
 * cgroup.controllers lists it); else v1 with the hierarchies of the four
 * controllers that are mounted; else RV_CGROUP_NONE (returns 0). Returns 0
 * or a negative errno when a file cannot be read.
 */
int rv_cgroup_probe(const char *mountinfo, const char *self_cgroup,
		    struct rv_cgroup_host *host) RV_MUST_CHECK;

/*
 * A host CPU list such as "0-1,3": CPUs in the order listed (duplicates
 * dropped), for pinning vCPU n to the n-th one, and as a set.
 */
#define RV_CGROUP_MAX_CPU 8191
#define RV_CGROUP_MAX_LISTED 256

struct rv_cpu_list {
	unsigned int nr;		      /* distinct CPUs named */
	uint16_t order[RV_CGROUP_MAX_LISTED]; /* the first ones, as listed */
	uint64_t set[(RV_CGROUP_MAX_CPU + 1) / 64];
};

/*
 * Parses text (comma-separated CPU numbers and ascending ranges a-b, each
 * CPU at most RV_CGROUP_MAX_CPU). Returns 0 or -EINVAL.
 */
int rv_cpu_list_parse(const char *text, struct rv_cpu_list *out) RV_MUST_CHECK;

/* 1 when cpu is in the list. */
int rv_cpu_list_has(const struct rv_cpu_list *l, unsigned int cpu);

/*
 * Checks limits against the VM and the host: memory at least the guest's
 * RAM, the cpuset well formed and naming only CPUs in host_cpus (the
 * online ones), cpu_pct at most 100 per host CPU, pids enough for the
 * vCPU threads and the main thread. On failure writes one line naming the
 * key ("limits.memory: ...") to err and returns -EINVAL.
 */
int rv_cgroup_check_limits(const struct rv_limits_config *lim,
			   unsigned int vcpus, uint64_t guest_memory,
			   const struct rv_cpu_list *host_cpus, char *err,
			   size_t err_size) RV_MUST_CHECK;

/* True when lim sets any limit (a group is needed). */
bool rv_cgroup_limits_set(const struct rv_limits_config *lim);

/* One VM's group. */
struct rv_cgroup;

/*
 * Creates OWN/raevm/name in every hierarchy a limit of lim needs and writes
 * the limits (an existing group of that name, left by a crashed worker, is
 * reused). lim must have passed rv_cgroup_check_limits(). name is a plain
 * file name ([A-Za-z0-9._-], not "." or ".."). On failure the part made is
 * removed, one line saying why is written to err and a negative errno is
 * returned (-EACCES/-EPERM/-EROFS without write access to the tree,
 * -EOPNOTSUPP when a needed controller is missing).
 */
int rv_cgroup_create(const struct rv_cgroup_host *host, const char *name,
		     const struct rv_limits_config *lim, struct rv_cgroup **out,
		     char *err, size_t err_size) RV_MUST_CHECK;

/* Moves process pid (0: the caller, with all its threads) into the group. */
int rv_cgroup_attach(struct rv_cgroup *cg, pid_t pid, char *err,
		     size_t err_size) RV_MUST_CHECK;

/*
 * Moves the caller back to the group it came from, so that the group can
 * be removed by rv_cgroup_destroy() while the process still runs.
 */
int rv_cgroup_leave(struct rv_cgroup *cg) RV_MUST_CHECK;

/*
 * Removes the group's directories (and OWN/raevm when it is left empty)
 * and frees cg. The group must hold no process. Accepts NULL. Returns 0 or
 * the first rmdir error (the memory is freed in every case).
 */
int rv_cgroup_destroy(struct rv_cgroup *cg);

/*
 * Removes OWN/raevm/name from every hierarchy of host, whatever limits it
 * had: the daemon's clean-up after a worker ended. Returns 0 when nothing
 * is left (also when there was nothing), or the first error.
 */
int rv_cgroup_remove(const struct rv_cgroup_host *host, const char *name);

/* The group's directory for controller c, or NULL when it has none. */
const char *rv_cgroup_path(const struct rv_cgroup *cg, enum rv_cgroup_ctrl c);

/*
 * For the process that runs a VM: when cfg sets limits, probes the host
 * (/proc/self), checks the limits against it, creates the group named
 * group and moves the caller in. *out is NULL when no limit is set (no
 * cgroup is touched, so rootless VMs without limits run). Every failure is
 * one rv_error() line that names the limit or says why the tree cannot be
 * used; returns 0 or a negative errno. out may be NULL when another
 * process removes the group (a worker: its daemon does).
 */
int rv_cgroup_enter(const struct rv_vm_config *cfg, const char *group,
		    struct rv_cgroup **out) RV_MUST_CHECK;

/*
 * The daemon's clean-up of VM name's group after its worker ended: probes
 * the host and removes the group; logs a warning when it cannot.
 */
void rv_cgroup_cleanup(const char *name);

struct rv_vm;

/*
 * Pins vCPU n's thread to the n-th CPU of lim->cpuset (wrapping around
 * when there are more vCPUs than CPUs). Does nothing without a cpuset.
 * Called by the main thread right after the vCPU threads started.
 */
int rv_cgroup_pin_vcpus(struct rv_vm *vm,
			const struct rv_limits_config *lim) RV_MUST_CHECK;

#endif
