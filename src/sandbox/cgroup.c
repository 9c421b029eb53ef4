// SPDX-License-Identifier: Apache-2.0
/*
 * Resource limits per VM through cgroups (include/raevm/cgroup.h,
 * docs/security.md "Resource limits").
 *
 * The host is probed at run time: a cgroup2 mount that offers our
 * controllers wins, otherwise the v1 hierarchies are used. Each version is
 * one ops table (create, attach, leave, remove) over the same struct
 * rv_cgroup; everything above the table (limit checks, CPU lists, probing
 * in cgroup_probe.c, pinning) is shared. Every file written is named in docs/security.md.
 */
#include "raevm/cgroup.h"

#include "cgroup_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "raevm/log.h"
#include "raevm/vcpu.h"
#include "raevm/vm.h"

/* CFS period for the CPU quota: 100 ms, the kernel's default. */
#define CPU_PERIOD_US 100000ULL
#define NAME_MAX_LEN 64
/* A concurrent removal of raevm/ may race our mkdir below it. */
#define CREATE_TRIES 3

static const char *const ctrl_names[RV_CGROUP_NR_CTRLS] = {
	[RV_CGROUP_MEMORY] = "memory",
	[RV_CGROUP_CPU] = "cpu",
	[RV_CGROUP_CPUSET] = "cpuset",
	[RV_CGROUP_PIDS] = "pids",
};

/* The manifest key of each controller's limit, for error lines. */
static const char *const ctrl_keys[RV_CGROUP_NR_CTRLS] = {
	[RV_CGROUP_MEMORY] = "limits.memory",
	[RV_CGROUP_CPU] = "limits.cpu",
	[RV_CGROUP_CPUSET] = "limits.cpuset",
	[RV_CGROUP_PIDS] = "limits.pids",
};

struct rv_cgroup;

/* One cgroup version: how a group is made, joined, left and removed. */
struct cg_ops {
	const char *name;
	int (*create)(struct rv_cgroup *cg, const struct rv_limits_config *lim,
		      char *err, size_t err_size);
	int (*attach)(struct rv_cgroup *cg, pid_t pid, char *err,
		      size_t err_size);
	int (*leave)(struct rv_cgroup *cg);
};

struct rv_cgroup {
	const struct cg_ops *ops;
	struct rv_cgroup_host host;
	char name[NAME_MAX_LEN + 1];
	/* The group's directory per controller; empty when not used. */
	char path[RV_CGROUP_NR_CTRLS][PATH_MAX];
};

const char *rv_cgroup_ctrl_name(enum rv_cgroup_ctrl c)
{
	return (unsigned int)c < RV_CGROUP_NR_CTRLS ? ctrl_names[c] : "?";
}

/* ---------------------------------------------------------------------- */
/* Files                                                                  */

static int join(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/*
 * Writes value to dir/file in one write(), as cgroupfs wants. A plain
 * directory (tests) gets the file created; cgroupfs files always exist.
 */
static int write_at(const struct rv_cgroup_host *host, const char *dir,
		    const char *file, const char *value)
{
	char path[PATH_MAX];
	size_t len = strlen(value);
	ssize_t n;
	int fd, rc;

	rc = join(path, sizeof(path), dir, file);
	if (rc)
		return rc;
	fd = open(path,
		  O_WRONLY | O_CLOEXEC | O_NOFOLLOW |
			  (host->plain_dir ? O_CREAT | O_TRUNC : 0),
		  0644);
	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	rc = n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* Reads the first line of path into buf without its newline. */
static int read_line(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int rv__cgroup_read_at(const char *dir, const char *file, char *buf,
		       size_t size)
{
	char path[PATH_MAX];
	int rc = join(path, sizeof(path), dir, file);

	return rc ? rc : read_line(path, buf, size);
}

int rv__cgroup_has_word(const char *list, const char *word)
{
	size_t wl = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word))) {
		if ((p == list || p[-1] == ' ' || p[-1] == '+') &&
		    (p[wl] == '\0' || p[wl] == ' ' || p[wl] == '\n'))
			return 1;
		p += wl;
	}
	return 0;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void empty_plain_dir(const char *dir);

/*
 * Makes a VM's group afresh: one left by a crashed worker is removed
 * first, so no limit of an earlier configuration survives. It fails with
 * -EBUSY while a process is still in it.
 */
static int make_group_dir(const struct rv_cgroup_host *host, const char *path)
{
	if (mkdir(path, 0755) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (host->plain_dir)
		empty_plain_dir(path);
	if (rmdir(path) < 0 || mkdir(path, 0755) < 0)
		return -errno;
	return 0;
}

/* A plain directory (tests) holds the files our writes created. */
static void empty_plain_dir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_type == DT_REG &&
		    join(path, sizeof(path), dir, de->d_name) == 0)
			unlink(path);
	closedir(d);
}

/*
 * Removes a group directory; ENOENT counts as done. Then tries its
 * parent raevm/, which stays while other VMs use it.
 */
static int remove_dir(const struct rv_cgroup_host *host, const char *dir)
{
	char parent[PATH_MAX];
	char *slash;
	int rc = 0;

	if (host->plain_dir)
		empty_plain_dir(dir);
	if (rmdir(dir) < 0 && errno != ENOENT)
		rc = -errno;
	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (rc == 0 && slash) {
		*slash = '\0';
		if (host->plain_dir)
			empty_plain_dir(parent);
		rmdir(parent);
	}
	return rc;
}

static const char *access_hint(int rc)
{
	if (rc == -EACCES || rc == -EPERM || rc == -EROFS)
		return " (no write access to the cgroup tree: run as root or "
		       "delegate a cgroup to this user, see docs/security.md "
		       "\"Resource limits\"; or remove the limits)";
	return "";
}

/* ---------------------------------------------------------------------- */
/* CPU lists                                                              */

static int parse_cpu(const char **p, unsigned int *out)
{
	unsigned long v;
	char *end;

	if (**p < '0' || **p > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(*p, &end, 10);
	if (errno || v > RV_CGROUP_MAX_CPU || end - *p > 5)
		return -EINVAL;
	*p = end;
	*out = (unsigned int)v;
	return 0;
}

int rv_cpu_list_has(const struct rv_cpu_list *l, unsigned int cpu)
{
	if (cpu > RV_CGROUP_MAX_CPU)
		return 0;
	return (l->set[cpu / 64] >> (cpu % 64)) & 1;
}

static void cpu_list_add(struct rv_cpu_list *l, unsigned int cpu)
{
	if (rv_cpu_list_has(l, cpu))
		return;
	l->set[cpu / 64] |= 1ULL << (cpu % 64);
	if (l->nr < RV_CGROUP_MAX_LISTED)
		l->order[l->nr] = (uint16_t)cpu;
	l->nr++;
}

int rv_cpu_list_parse(const char *text, struct rv_cpu_list *out)
{
	const char *p = text;
	unsigned int a, b, cpu;

	memset(out, 0, sizeof(*out));
	if (!text || !*text)
		return -EINVAL;
	for (;;) {
		if (parse_cpu(&p, &a))
			return -EINVAL;
		b = a;
		if (*p == '-') {
			p++;
			if (parse_cpu(&p, &b) || b < a)
				return -EINVAL;
		}
		for (cpu = a; cpu <= b; cpu++)
			cpu_list_add(out, cpu);
		if (*p == '\0')
			return 0;
		if (*p != ',')
			return -EINVAL;
		p++;
	}
}

/* Writes the first CPU of want that host lacks, or returns -1. */
static long first_missing(const struct rv_cpu_list *want,
			  const struct rv_cpu_list *host)
{
	unsigned int cpu;

	for (cpu = 0; cpu <= RV_CGROUP_MAX_CPU; cpu++)
		if (rv_cpu_list_has(want, cpu) && !rv_cpu_list_has(host, cpu))
			return cpu;
	return -1;
}

/* ---------------------------------------------------------------------- */
/* Limit checks                                                           */

bool rv_cgroup_limits_set(const struct rv_limits_config *lim)
{
	return lim->memory || lim->cpu_pct || (lim->cpuset && *lim->cpuset) ||
	       lim->pids;
}

static int check_cpuset(const struct rv_limits_config *lim,
			const struct rv_cpu_list *host_cpus, char *err,
			size_t err_size)
{
	struct rv_cpu_list want;
	long missing;

	if (rv_cpu_list_parse(lim->cpuset, &want)) {
		snprintf(err, err_size,
			 "limits.cpuset: '%s' is not a CPU list such as "
			 "\"0-1,3\"",
			 lim->cpuset);
		return -EINVAL;
	}
	missing = first_missing(&want, host_cpus);
	if (missing >= 0) {
		snprintf(err, err_size,
			 "limits.cpuset: CPU %ld in '%s' is not online on this "
			 "host (%u CPUs online)",
			 missing, lim->cpuset, host_cpus->nr);
		return -EINVAL;
	}
	return 0;
}

int rv_cgroup_check_limits(const struct rv_limits_config *lim,
			   unsigned int vcpus, uint64_t guest_memory,
			   const struct rv_cpu_list *host_cpus, char *err,
			   size_t err_size)
{
	char a[32], b[32];

	if (lim->memory && lim->memory <= guest_memory) {
		snprintf(err, err_size,
			 "limits.memory: %s must be larger than the guest's "
			 "memory (%s): it counts the whole worker, guest RAM "
			 "included",
			 rv_format_size(lim->memory, a, sizeof(a)),
			 rv_format_size(guest_memory, b, sizeof(b)));
		return -EINVAL;
	}
	if (lim->cpu_pct && (uint64_t)lim->cpu_pct > 100ULL * host_cpus->nr) {
		snprintf(err, err_size,
			 "limits.cpu: %u%% is more than this host's %u CPUs "
			 "(%u%%)",
			 lim->cpu_pct, host_cpus->nr, 100 * host_cpus->nr);
		return -EINVAL;
	}
	if (lim->cpuset && *lim->cpuset &&
	    check_cpuset(lim, host_cpus, err, err_size))
		return -EINVAL;
	/* Every vCPU is a thread, plus the main loop's. */
	if (lim->pids && lim->pids < vcpus + 1) {
		snprintf(err, err_size,
			 "limits.pids: %u is fewer than the VM's %u vCPU "
			 "threads and its main thread",
			 lim->pids, vcpus);
		return -EINVAL;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Values                                                                 */

static bool needs(const struct rv_limits_config *lim, enum rv_cgroup_ctrl c)
{
	switch (c) {
	case RV_CGROUP_MEMORY:
		return lim->memory != 0;
	case RV_CGROUP_CPU:
		return lim->cpu_pct != 0;
	case RV_CGROUP_CPUSET:
		return lim->cpuset && *lim->cpuset;
	case RV_CGROUP_PIDS:
		return lim->pids != 0;
	case RV_CGROUP_NR_CTRLS:
		break;
	}
	return false;
}

/* One limit file write, with the error line naming the key. */
static int put(struct rv_cgroup *cg, enum rv_cgroup_ctrl c, const char *file,
	       const char *value, char *err, size_t err_size)
{
	int rc = write_at(&cg->host, cg->path[c], file, value);

	if (rc)
		snprintf(err, err_size, "%s: cannot write '%s' to %s/%s: %s%s",
			 ctrl_keys[c], value, cg->path[c], file, strerror(-rc),
			 access_hint(rc));
	return rc;
}

static int put_u64(struct rv_cgroup *cg, enum rv_cgroup_ctrl c,
		   const char *file, uint64_t v, char *err, size_t err_size)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return put(cg, c, file, buf, err, err_size);
}

static int mkdir_err(const char *path, int rc, char *err, size_t err_size)
{
	snprintf(err, err_size, "limits: cannot create cgroup %s: %s%s", path,
		 strerror(-rc),
		 rc == -EBUSY ? " (a process of an earlier run of this VM is "
				"still in it)" :
				access_hint(rc));
	return rc;
}

/* ---------------------------------------------------------------------- */
/* cgroup v1: one directory per controller                                */

/*
 * A new v1 cpuset group starts with empty cpuset.cpus and cpuset.mems and
 * takes no task until both are set: raevm/ copies its parent's.
 */
static int v1_init_cpuset_parent(const struct rv_cgroup_host *host,
				 const char *base, const char *parent)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char cur[4096], up[4096];
	unsigned int i;
	int rc;

	for (i = 0; i < RV_ARRAY_SIZE(files); i++) {
		rc = rv__cgroup_read_at(parent, files[i], cur, sizeof(cur));
		if (rc && rc != -ENOENT)
			return rc;
		if (rc == 0 && cur[0])
			continue;
		rc = rv__cgroup_read_at(base, files[i], up, sizeof(up));
		if (rc == 0)
			rc = write_at(host, parent, files[i], up);
		if (rc)
			return rc;
	}
	return 0;
}

static int v1_make_group(struct rv_cgroup *cg, enum rv_cgroup_ctrl c, char *err,
			 size_t err_size)
{
	const char *base = cg->host.base[c];
	char parent[PATH_MAX];
	int rc, tries;

	rc = join(parent, sizeof(parent), base, RV_CGROUP_PARENT);
	if (!rc)
		rc = join(cg->path[c], sizeof(cg->path[c]), parent, cg->name);
	if (rc)
		return mkdir_err(base, rc, err, err_size);
	for (tries = 0; tries < CREATE_TRIES; tries++) {
		rc = make_dir(parent);
		if (rc)
			return mkdir_err(parent, rc, err, err_size);
		if (c == RV_CGROUP_CPUSET) {
			rc = v1_init_cpuset_parent(&cg->host, base, parent);
			if (rc) {
				snprintf(err, err_size,
					 "limits.cpuset: cannot set up %s: "
					 "%s%s",
					 parent, strerror(-rc),
					 access_hint(rc));
				return rc;
			}
		}
		rc = make_group_dir(&cg->host, cg->path[c]);
		if (rc != -ENOENT)
			break;
	}
	if (rc)
		return mkdir_err(cg->path[c], rc, err, err_size);
	return 0;
}

static int v1_write_limits(struct rv_cgroup *cg, enum rv_cgroup_ctrl c,
			   const struct rv_limits_config *lim, char *err,
			   size_t err_size)
{
	char parent[PATH_MAX], mems[4096], *slash;
	int rc;

	switch (c) {
	case RV_CGROUP_MEMORY:
		return put_u64(cg, c, "memory.limit_in_bytes", lim->memory, err,
			       err_size);
	case RV_CGROUP_CPU:
		rc = put_u64(cg, c, "cpu.cfs_period_us", CPU_PERIOD_US, err,
			     err_size);
		return rc ? rc :
			    put_u64(cg, c, "cpu.cfs_quota_us",
				    (uint64_t)lim->cpu_pct * CPU_PERIOD_US /
					    100,
				    err, err_size);
	case RV_CGROUP_CPUSET:
		rc = put(cg, c, "cpuset.cpus", lim->cpuset, err, err_size);
		if (rc)
			return rc;
		/* Memory nodes are not limited: the parent's, all of them. */
		snprintf(parent, sizeof(parent), "%s", cg->path[c]);
		slash = strrchr(parent, '/');
		if (slash)
			*slash = '\0';
		rc = rv__cgroup_read_at(parent, "cpuset.mems", mems,
					sizeof(mems));
		if (rc) {
			snprintf(err, err_size,
				 "limits.cpuset: cannot read %s/cpuset.mems: "
				 "%s",
				 parent, strerror(-rc));
			return rc;
		}
		return put(cg, c, "cpuset.mems", mems, err, err_size);
	case RV_CGROUP_PIDS:
		return put_u64(cg, c, "pids.max", lim->pids, err, err_size);
	case RV_CGROUP_NR_CTRLS:
		break;
	}
	return -EINVAL;
}

static int v1_create(struct rv_cgroup *cg, const struct rv_limits_config *lim,
		     char *err, size_t err_size)
{
	unsigned int c;
	int rc;

	for (c = 0; c < RV_CGROUP_NR_CTRLS; c++) {
		if (!needs(lim, c))
			continue;
		rc = v1_make_group(cg, c, err, err_size);
		if (!rc)
			rc = v1_write_limits(cg, c, lim, err, err_size);
		if (rc)
			return rc;
	}
	return 0;
}

/* Writes pid to cgroup.procs of every used directory (v1) or the one (v2). */
static int procs_write(struct rv_cgroup *cg, bool back, pid_t pid, char *err,
		       size_t err_size)
{
	const char *last = NULL;
	char buf[16];
	unsigned int c;
	int rc;

	snprintf(buf, sizeof(buf), "%d", (int)(pid ? pid : getpid()));
	for (c = 0; c < RV_CGROUP_NR_CTRLS; c++) {
		const char *dir = back ? cg->host.base[c] : cg->path[c];

		if (!cg->path[c][0] || (last && strcmp(last, dir) == 0))
			continue;
		last = dir;
		rc = write_at(&cg->host, dir, "cgroup.procs", buf);
		if (rc) {
			if (err)
				snprintf(err, err_size,
					 "limits: cannot move process %s into "
					 "%s: %s%s",
					 buf, dir, strerror(-rc),
					 access_hint(rc));
			return rc;
		}
	}
	return 0;
}

static int v1_attach(struct rv_cgroup *cg, pid_t pid, char *err,
		     size_t err_size)
{
	return procs_write(cg, false, pid, err, err_size);
}

static int vx_leave(struct rv_cgroup *cg)
{
	return procs_write(cg, true, 0, NULL, 0);
}

static const struct cg_ops v1_ops = {
	.name = "v1",
	.create = v1_create,
	.attach = v1_attach,
	.leave = vx_leave,
};

/* ---------------------------------------------------------------------- */
/* cgroup v2: one group, controllers delegated through subtree_control    */

/*
 * Enables the needed controllers for dir's children with one write such
 * as "+memory +pids" (only those not enabled yet). The kernel refuses
 * (EBUSY) when dir is not the root and holds processes itself: the "no
 * internal processes" rule.
 */
static int v2_delegate(struct rv_cgroup *cg, const char *dir,
		       const struct rv_limits_config *lim, char *err,
		       size_t err_size)
{
	char have[512], want[64] = "";
	unsigned int c;
	int rc;

	rc = rv__cgroup_read_at(dir, "cgroup.subtree_control", have,
				sizeof(have));
	if (rc == -ENOENT && cg->host.plain_dir) {
		have[0] = '\0';
	} else if (rc) {
		snprintf(err, err_size,
			 "limits: cannot read %s/cgroup.subtree_control: %s",
			 dir, strerror(-rc));
		return rc;
	}
	for (c = 0; c < RV_CGROUP_NR_CTRLS; c++)
		if (needs(lim, c) && !rv__cgroup_has_word(have, ctrl_names[c]))
			snprintf(want + strlen(want),
				 sizeof(want) - strlen(want), "%s+%s",
				 want[0] ? " " : "", ctrl_names[c]);
	if (!want[0])
		return 0;
	rc = write_at(&cg->host, dir, "cgroup.subtree_control", want);
	if (rc)
		snprintf(err, err_size,
			 "limits: cannot enable '%s' in "
			 "%s/cgroup.subtree_control: %s%s",
			 want, dir, strerror(-rc),
			 rc == -EBUSY ? " (the group holds processes: start "
					"raevmd in a leaf of a delegated "
					"cgroup, see docs/security.md)" :
					access_hint(rc));
	return rc;
}

static int v2_write_limits(struct rv_cgroup *cg,
			   const struct rv_limits_config *lim, char *err,
			   size_t err_size)
{
	char buf[64];
	int rc = 0;

	if (lim->memory)
		rc = put_u64(cg, RV_CGROUP_MEMORY, "memory.max", lim->memory,
			     err, err_size);
	if (!rc && lim->cpu_pct) {
		snprintf(buf, sizeof(buf), "%llu %llu",
			 (unsigned long long)lim->cpu_pct * CPU_PERIOD_US / 100,
			 CPU_PERIOD_US);
		rc = put(cg, RV_CGROUP_CPU, "cpu.max", buf, err, err_size);
	}
	if (!rc && lim->cpuset && *lim->cpuset)
		rc = put(cg, RV_CGROUP_CPUSET, "cpuset.cpus", lim->cpuset, err,
			 err_size);
	if (!rc && lim->pids)
		rc = put_u64(cg, RV_CGROUP_PIDS, "pids.max", lim->pids, err,
			     err_size);
	return rc;
}

static int v2_create(struct rv_cgroup *cg, const struct rv_limits_config *lim,
		     char *err, size_t err_size)
{
	char base[PATH_MAX], parent[PATH_MAX], group[PATH_MAX];
	unsigned int c;
	int rc, tries;

	base[0] = '\0';
	for (c = 0; c < RV_CGROUP_NR_CTRLS; c++)
		if (cg->host.base[c][0])
			snprintf(base, sizeof(base), "%s", cg->host.base[c]);
	rc = join(parent, sizeof(parent), base, RV_CGROUP_PARENT);
	if (!rc)
		rc = join(group, sizeof(group), parent, cg->name);
	if (rc)
		return mkdir_err(base, rc, err, err_size);
	rc = v2_delegate(cg, base, lim, err, err_size);
	if (rc)
		return rc;
	for (tries = 0; tries < CREATE_TRIES; tries++) {
		rc = make_dir(parent);
		if (rc)
			return mkdir_err(parent, rc, err, err_size);
		rc = v2_delegate(cg, parent, lim, err, err_size);
		if (rc == -ENOENT)
			continue;
		if (rc)
			return rc;
		rc = make_group_dir(&cg->host, group);
		if (rc != -ENOENT)
			break;
	}
	if (rc)
		return mkdir_err(group, rc, err, err_size);
	/* One group: every controller's path is the same directory. */
	for (c = 0; c < RV_CGROUP_NR_CTRLS; c++)
		snprintf(cg->path[c], sizeof(cg->path[c]), "%s", group);
	return v2_write_limits(cg, lim, err, err_size);
}

static int v2_attach(struct rv_cgroup *cg, pid_t pid, char *err,
		     size_t err_size)
{
	return procs_write(cg, false, pid, err, err_size);
}

static const struct cg_ops v2_ops = {
	.name = "v2",
	.create = v2_create,
	.attach = v2_attach,
	.leave = vx_leave,
};

/* ---------------------------------------------------------------------- */
/* Groups                                                                 */

static bool name_ok(const char *name)
{
	size_t i, len = name ? strlen(name) : 0;

	if (len == 0 || len > NAME_MAX_LEN || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return false;
	for (i = 0; i < len; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-'))
			return false;
	}
	return true;
}

/* Which controller lacks a base for a limit, or -1. */
static int missing_ctrl(const struct rv_cgroup_host *host,
			const struct rv_limits_config *lim)
{
	unsigned int c;

	for (c = 0; c < RV_CGROUP_NR_CTRLS; c++)
		if (needs(lim, c) && !host->base[c][0])
			return (int)c;
	return -1;
}

int rv_cgroup_create(const struct rv_cgroup_host *host, const char *name,
		     const struct rv_limits_config *lim, struct rv_cgroup **out,
		     char *err, size_t err_size)
{
	struct rv_cgroup *cg;
	int c, rc;

	*out = NULL;
	if (!name_ok(name)) {
		snprintf(err, err_size, "limits: '%s' cannot name a cgroup",
			 name ? name : "");
		return -EINVAL;
	}
	if (host->version == RV_CGROUP_NONE) {
		snprintf(err, err_size,
			 "limits: no cgroup controller is mounted on this "
			 "host; remove the limits or mount cgroups");
		return -EOPNOTSUPP;
	}
	c = missing_ctrl(host, lim);
	if (c >= 0) {
		snprintf(err, err_size,
			 "%s: the %s cgroup controller is not available to "
			 "this process (cgroup %s)",
			 ctrl_keys[c], ctrl_names[c],
			 host->version == RV_CGROUP_V2 ? "v2" : "v1");
		return -EOPNOTSUPP;
	}
	cg = calloc(1, sizeof(*cg));
	if (!cg) {
		snprintf(err, err_size, "limits: out of memory");
		return -ENOMEM;
	}
	cg->host = *host;
	cg->ops = host->version == RV_CGROUP_V2 ? &v2_ops : &v1_ops;
	snprintf(cg->name, sizeof(cg->name), "%s", name);
	rc = cg->ops->create(cg, lim, err, err_size);
	if (rc) {
		rv_cgroup_destroy(cg);
		return rc;
	}
	*out = cg;
	return 0;
}

int rv_cgroup_attach(struct rv_cgroup *cg, pid_t pid, char *err,
		     size_t err_size)
{
	return cg->ops->attach(cg, pid, err, err_size);
}

int rv_cgroup_leave(struct rv_cgroup *cg)
{
	return cg->ops->leave(cg);
}

int rv_cgroup_destroy(struct rv_cgroup *cg)
{
	const char *last = NULL;
	unsigned int c;
	int rc = 0, r;

	if (!cg)
		return 0;
	for (c = 0; c < RV_CGROUP_NR_CTRLS; c++) {
		if (!cg->path[c][0] || (last && strcmp(last, cg->path[c]) == 0))
			continue;
		last = cg->path[c];
		r = remove_dir(&cg->host, cg->path[c]);
		if (r && !rc)
			rc = r;
	}
	free(cg);
	return rc;
}

int rv_cgroup_remove(const struct rv_cgroup_host *host, const char *name)
{
	char path[PATH_MAX];
	const char *last = NULL;
	unsigned int c;
	int rc = 0, r;

	if (!name_ok(name))
		return -EINVAL;
	for (c = 0; c < RV_CGROUP_NR_CTRLS; c++) {
		if (!host->base[c][0] ||
		    (last && strcmp(last, host->base[c]) == 0))
			continue;
		last = host->base[c];
		if (snprintf(path, sizeof(path), "%s/%s/%s", host->base[c],
			     RV_CGROUP_PARENT, name) >= (int)sizeof(path))
			continue;
		r = remove_dir(host, path);
		if (r && !rc)
			rc = r;
	}
	return rc;
}

const char *rv_cgroup_path(const struct rv_cgroup *cg, enum rv_cgroup_ctrl c)
{
	if (!cg || (unsigned int)c >= RV_CGROUP_NR_CTRLS || !cg->path[c][0])
		return NULL;
	return cg->path[c];
}

/* ---------------------------------------------------------------------- */
/* The process that runs a VM, and the daemon                             */

static int host_cpus(struct rv_cpu_list *out)
{
	char buf[4096];
	int rc = read_line("/sys/devices/system/cpu/online", buf, sizeof(buf));

	if (rc)
		return rc;
	return rv_cpu_list_parse(buf, out);
}

int rv_cgroup_enter(const struct rv_vm_config *cfg, const char *group,
		    struct rv_cgroup **out)
{
	struct rv_cgroup_host host;
	struct rv_cpu_list *cpus;
	struct rv_cgroup *cg;
	char err[PATH_MAX + 256];
	int rc;

	if (out)
		*out = NULL;
	if (!rv_cgroup_limits_set(&cfg->limits))
		return 0;
	/* `--no-sandbox` is for debugging and promises no cgroups. */
	if (!cfg->sandbox) {
		rv_warn("limits: not applied: the sandbox is off");
		return 0;
	}
	cpus = malloc(sizeof(*cpus));
	if (!cpus)
		return -ENOMEM;
	rc = host_cpus(cpus);
	if (rc) {
		rv_error("limits: cannot read the host's online CPUs: %s",
			 strerror(-rc));
		free(cpus);
		return rc;
	}
	rc = rv_cgroup_check_limits(&cfg->limits, cfg->cpus, cfg->memory, cpus,
				    err, sizeof(err));
	free(cpus);
	if (rc) {
		rv_error("%s", err);
		return rc;
	}
	rc = rv_cgroup_probe("/proc/self/mountinfo", "/proc/self/cgroup",
			     &host);
	if (rc) {
		rv_error("limits: cannot find the cgroup mounts: %s",
			 strerror(-rc));
		return rc;
	}
	rc = rv_cgroup_create(&host, group, &cfg->limits, &cg, err,
			      sizeof(err));
	if (!rc) {
		rc = rv_cgroup_attach(cg, 0, err, sizeof(err));
		if (rc) {
			rv_cgroup_destroy(cg);
			cg = NULL;
		}
	}
	if (rc) {
		rv_error("%s", err);
		return rc;
	}
	rv_debug("limits: in cgroup %s %s", cg->ops->name, group);
	if (out)
		*out = cg;
	else
		free(cg); /* the daemon removes the group (rv_cgroup_cleanup) */
	return 0;
}

void rv_cgroup_cleanup(const char *name)
{
	struct rv_cgroup_host host;
	int rc;

	if (rv_cgroup_probe("/proc/self/mountinfo", "/proc/self/cgroup",
			    &host) ||
	    host.version == RV_CGROUP_NONE)
		return;
	rc = rv_cgroup_remove(&host, name);
	if (rc && rc != -EACCES && rc != -EPERM && rc != -EROFS)
		rv_warn("VM '%s': cannot remove its cgroup: %s", name,
			strerror(-rc));
}

int rv_cgroup_pin_vcpus(struct rv_vm *vm, const struct rv_limits_config *lim)
{
	struct rv_cpu_list *list;
	unsigned int i, n;
	cpu_set_t *set;
	size_t size;
	int rc = 0;

	if (!lim->cpuset || !*lim->cpuset)
		return 0;
	list = malloc(sizeof(*list));
	if (!list)
		return -ENOMEM;
	if (rv_cpu_list_parse(lim->cpuset, list) || list->nr == 0) {
		free(list);
		return -EINVAL;
	}
	n = list->nr < RV_CGROUP_MAX_LISTED ? list->nr : RV_CGROUP_MAX_LISTED;
	set = CPU_ALLOC(RV_CGROUP_MAX_CPU + 1);
	size = CPU_ALLOC_SIZE(RV_CGROUP_MAX_CPU + 1);
	if (!set) {
		free(list);
		return -ENOMEM;
	}
	for (i = 0; i < vm->nr_vcpus && i < RV_VM_MAX_VCPUS; i++) {
		struct rv_vcpu *v = vm->vcpus[i];
		unsigned int cpu = list->order[i % n];

		if (!v || !v->thread_started)
			continue;
		CPU_ZERO_S(size, set);
		CPU_SET_S(cpu, size, set);
		rc = -pthread_setaffinity_np(v->thread, size, set);
		if (rc) {
			rv_error("limits.cpuset: cannot pin vCPU %u to CPU %u: "
				 "%s",
				 i, cpu, strerror(-rc));
			break;
		}
	}
	CPU_FREE(set);
	free(list);
	return rc;
}
