// SPDX-License-Identifier: Apache-2.0
/*
 * cgroup limits against a fake cgroup tree in a temporary folder: a
 * mountinfo and a /proc/self/cgroup written by the test point the probe at
 * plain directories, and the host is marked plain_dir so that the writes
 * create the files a real cgroupfs provides. Each test reads back the
 * exact file names and values written for v1 and for v2.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "raevm/cgroup.h"

struct fx {
	char root[256];
	char mountinfo[300];
	char self[300];
	struct rv_cgroup_host host;
	struct rv_limits_config lim;
	char err[PATH_MAX + 256];
};

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void mkdirs(const char *path)
{
	char buf[PATH_MAX];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(buf, 0755);
		*p = '/';
	}
	mkdir(buf, 0755);
}

/* Path under the fake root, in one of four rotating buffers. */
static const char *at(struct fx *f, const char *rel)
{
	static char bufs[4][PATH_MAX];
	static unsigned int next;
	char *b = bufs[next++ % 4];

	snprintf(b, PATH_MAX, "%s/%s", f->root, rel);
	return b;
}

/* The file's content, or "<absent>". */
static const char *slurp(struct fx *f, const char *rel)
{
	static char buf[4096];
	FILE *fp = fopen(at(f, rel), "r");
	size_t n;

	if (!fp)
		return "<absent>";
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static int exists(struct fx *f, const char *rel)
{
	struct stat st;

	return stat(at(f, rel), &st) == 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "/tmp/rv-cgroup-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->mountinfo, sizeof(f->mountinfo), "%s/mountinfo", f->root);
	snprintf(f->self, sizeof(f->self), "%s/self-cgroup", f->root);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	assert_int_equal(system(cmd), 0);
	free(f->lim.cpuset);
	free(f);
	return 0;
}

/*
 * This host's layout: v1 controllers (cpu co-mounted with cpuacct), the
 * own memory group nested, and a cgroup2 mount that offers none of ours.
 */
static void fake_v1(struct fx *f)
{
	char mi[8192];

	snprintf(mi, sizeof(mi),
		 "31 23 0:28 / %s/sys rw - tmpfs tmpfs rw\n"
		 "32 31 0:29 / %s/sys/cpu,cpuacct rw,relatime - cgroup cgroup "
		 "rw,cpu,cpuacct\n"
		 "34 31 0:31 / %s/sys/cpuset rw - cgroup cgroup rw,cpuset\n"
		 "35 31 0:32 / %s/sys/memory rw - cgroup cgroup rw,memory\n"
		 "39 31 0:36 / %s/sys/pids rw - cgroup cgroup rw,pids\n"
		 "40 31 0:37 / %s/sys/systemd rw - cgroup cgroup "
		 "rw,name=systemd\n"
		 "41 31 0:38 / %s/sys/unified rw - cgroup2 cgroup2 rw\n",
		 f->root, f->root, f->root, f->root, f->root, f->root, f->root);
	put_file(f->mountinfo, mi);
	put_file(f->self, "9:name=systemd:/\n"
			  "8:pids:/\n"
			  "4:memory:/api/abc\n"
			  "3:cpuset:/\n"
			  "1:cpu,cpuacct:/\n"
			  "0::/\n");
	mkdirs(at(f, "sys/cpu,cpuacct"));
	mkdirs(at(f, "sys/cpuset"));
	mkdirs(at(f, "sys/memory/api/abc"));
	mkdirs(at(f, "sys/pids"));
	mkdirs(at(f, "sys/unified"));
	put_file(at(f, "sys/unified/cgroup.controllers"), "hugetlb\n");
	put_file(at(f, "sys/cpuset/cpuset.cpus"), "0-3\n");
	put_file(at(f, "sys/cpuset/cpuset.mems"), "0\n");
}

/* A unified host: the own group /svc is offered every controller. */
static void fake_v2(struct fx *f, const char *controllers)
{
	char mi[4096];

	snprintf(mi, sizeof(mi),
		 "30 23 0:27 / %s/cg rw,nosuid - cgroup2 cgroup2 "
		 "rw,nsdelegate\n",
		 f->root);
	put_file(f->mountinfo, mi);
	put_file(f->self, "0::/svc\n");
	mkdirs(at(f, "cg/svc"));
	put_file(at(f, "cg/svc/cgroup.controllers"), controllers);
	put_file(at(f, "cg/svc/cgroup.subtree_control"), "");
}

static void probe(struct fx *f)
{
	assert_int_equal(rv_cgroup_probe(f->mountinfo, f->self, &f->host), 0);
	f->host.plain_dir = true;
}

static void all_limits(struct fx *f)
{
	f->lim.memory = 1ULL << 30;
	f->lim.cpu_pct = 150;
	f->lim.cpuset = strdup("1,3");
	f->lim.pids = 64;
}

/* ---------------------------------------------------------------------- */

static void probe__v1_hybrid(void **state)
{
	struct fx *f = *state;

	fake_v1(f);
	probe(f);
	assert_int_equal(f->host.version, RV_CGROUP_V1);
	assert_string_equal(f->host.base[RV_CGROUP_MEMORY],
			    at(f, "sys/memory/api/abc"));
	assert_string_equal(f->host.base[RV_CGROUP_CPU],
			    at(f, "sys/cpu,cpuacct"));
	assert_string_equal(f->host.base[RV_CGROUP_CPUSET],
			    at(f, "sys/cpuset"));
	assert_string_equal(f->host.base[RV_CGROUP_PIDS], at(f, "sys/pids"));
}

static void probe__v2_unified(void **state)
{
	struct fx *f = *state;

	fake_v2(f, "cpuset cpu io memory hugetlb pids rdma misc\n");
	probe(f);
	assert_int_equal(f->host.version, RV_CGROUP_V2);
	assert_string_equal(f->host.base[RV_CGROUP_MEMORY], at(f, "cg/svc"));
	assert_string_equal(f->host.base[RV_CGROUP_CPU], at(f, "cg/svc"));
	assert_string_equal(f->host.base[RV_CGROUP_CPUSET], at(f, "cg/svc"));
	assert_string_equal(f->host.base[RV_CGROUP_PIDS], at(f, "cg/svc"));
}

static void probe__v2_partial_controllers(void **state)
{
	struct fx *f = *state;

	fake_v2(f, "io memory\n");
	probe(f);
	assert_int_equal(f->host.version, RV_CGROUP_V2);
	assert_string_equal(f->host.base[RV_CGROUP_MEMORY], at(f, "cg/svc"));
	assert_string_equal(f->host.base[RV_CGROUP_CPU], "");
	assert_string_equal(f->host.base[RV_CGROUP_CPUSET], "");
	assert_string_equal(f->host.base[RV_CGROUP_PIDS], "");
}

/* A container: the mount's root is its own group, paths are below it. */
static void probe__mount_root_and_escapes(void **state)
{
	struct fx *f = *state;
	char mi[4096];

	snprintf(mi, sizeof(mi),
		 "30 23 0:27 /ctr/x %s/my\\040cg rw - cgroup2 cgroup2 rw\n",
		 f->root);
	put_file(f->mountinfo, mi);
	put_file(f->self, "0::/ctr/x/inner\n");
	mkdirs(at(f, "my cg/inner"));
	put_file(at(f, "my cg/inner/cgroup.controllers"), "pids");
	probe(f);
	assert_int_equal(f->host.version, RV_CGROUP_V2);
	assert_string_equal(f->host.base[RV_CGROUP_PIDS], at(f, "my cg/inner"));
}

static void probe__no_cgroups(void **state)
{
	struct fx *f = *state;

	put_file(f->mountinfo, "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n");
	put_file(f->self, "0::/\n");
	probe(f);
	assert_int_equal(f->host.version, RV_CGROUP_NONE);
}

static void probe__missing_file(void **state)
{
	struct fx *f = *state;

	assert_int_equal(rv_cgroup_probe(at(f, "nope"), f->self, &f->host),
			 -ENOENT);
}

/* ---------------------------------------------------------------------- */

static void cpu_list_parse__order_and_ranges(void **state)
{
	struct rv_cpu_list l;

	(void)state;
	assert_int_equal(rv_cpu_list_parse("3,0-1,1,5-5", &l), 0);
	assert_int_equal(l.nr, 4);
	assert_int_equal(l.order[0], 3);
	assert_int_equal(l.order[1], 0);
	assert_int_equal(l.order[2], 1);
	assert_int_equal(l.order[3], 5);
	assert_true(rv_cpu_list_has(&l, 5));
	assert_false(rv_cpu_list_has(&l, 2));
	assert_int_equal(rv_cpu_list_parse("8191", &l), 0);
	assert_true(rv_cpu_list_has(&l, 8191));
}

static void cpu_list_parse__malformed(void **state)
{
	static const char *const bad[] = { "",	   "1-",   "3-1",   "a",
					   "1,,2", "8192", "1 ",    "-1",
					   ",1",   "1,",   "1-2-3", "0x1" };
	struct rv_cpu_list l;
	unsigned int i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(rv_cpu_list_parse(bad[i], &l), -EINVAL);
	assert_int_equal(rv_cpu_list_parse(NULL, &l), -EINVAL);
}

/* ---------------------------------------------------------------------- */

static void check(struct fx *f, const char *host, unsigned int vcpus,
		  uint64_t guest, int want)
{
	struct rv_cpu_list hc;

	assert_int_equal(rv_cpu_list_parse(host, &hc), 0);
	f->err[0] = '\0';
	assert_int_equal(rv_cgroup_check_limits(&f->lim, vcpus, guest, &hc,
						f->err, sizeof(f->err)),
			 want);
}

static void check_limits__ok(void **state)
{
	struct fx *f = *state;

	all_limits(f);
	check(f, "0-3", 2, 512ULL << 20, 0);
	assert_string_equal(f->err, "");
}

static void check_limits__memory_not_above_guest(void **state)
{
	struct fx *f = *state;

	f->lim.memory = 512ULL << 20;
	check(f, "0-1", 1, 512ULL << 20, -EINVAL);
	assert_string_equal(f->err,
			    "limits.memory: 512 MiB must be larger than the "
			    "guest's memory (512 MiB): it counts the whole "
			    "worker, guest RAM included");
	f->lim.memory = (512ULL << 20) + 1;
	check(f, "0-1", 1, 512ULL << 20, 0);
}

static void check_limits__cpuset_cpu_not_on_host(void **state)
{
	struct fx *f = *state;

	f->lim.cpuset = strdup("0-1,3");
	check(f, "0-1", 1, 1 << 20, -EINVAL);
	assert_string_equal(f->err, "limits.cpuset: CPU 3 in '0-1,3' is not "
				    "online on this host (2 CPUs online)");
}

static void check_limits__cpuset_malformed(void **state)
{
	struct fx *f = *state;

	f->lim.cpuset = strdup("1-0");
	check(f, "0-1", 1, 1 << 20, -EINVAL);
	assert_string_equal(f->err, "limits.cpuset: '1-0' is not a CPU list "
				    "such as \"0-1,3\"");
}

static void check_limits__cpu_above_host(void **state)
{
	struct fx *f = *state;

	f->lim.cpu_pct = 201;
	check(f, "0-1", 1, 1 << 20, -EINVAL);
	assert_string_equal(f->err, "limits.cpu: 201% is more than this "
				    "host's 2 CPUs (200%)");
	f->lim.cpu_pct = 200;
	check(f, "0-1", 1, 1 << 20, 0);
}

static void check_limits__pids_too_few(void **state)
{
	struct fx *f = *state;

	f->lim.pids = 2;
	check(f, "0-1", 2, 1 << 20, -EINVAL);
	assert_string_equal(f->err, "limits.pids: 2 is fewer than the VM's 2 "
				    "vCPU threads and its main thread");
}

/* ---------------------------------------------------------------------- */

static void create__v1_writes_limit_files(void **state)
{
	struct fx *f = *state;
	struct rv_cgroup *cg;

	fake_v1(f);
	probe(f);
	all_limits(f);
	assert_int_equal(rv_cgroup_create(&f->host, "web", &f->lim, &cg, f->err,
					  sizeof(f->err)),
			 0);
	assert_string_equal(
		slurp(f, "sys/memory/api/abc/raevm/web/memory.limit_in_bytes"),
		"1073741824");
	assert_string_equal(
		slurp(f, "sys/cpu,cpuacct/raevm/web/cpu.cfs_period_us"),
		"100000");
	assert_string_equal(slurp(f,
				  "sys/cpu,cpuacct/raevm/web/cpu.cfs_quota_us"),
			    "150000");
	/* raevm/ inherits the parent's CPUs and nodes; the VM gets its own. */
	assert_string_equal(slurp(f, "sys/cpuset/raevm/cpuset.cpus"), "0-3");
	assert_string_equal(slurp(f, "sys/cpuset/raevm/cpuset.mems"), "0");
	assert_string_equal(slurp(f, "sys/cpuset/raevm/web/cpuset.cpus"),
			    "1,3");
	assert_string_equal(slurp(f, "sys/cpuset/raevm/web/cpuset.mems"), "0");
	assert_string_equal(slurp(f, "sys/pids/raevm/web/pids.max"), "64");
	assert_string_equal(rv_cgroup_path(cg, RV_CGROUP_PIDS),
			    at(f, "sys/pids/raevm/web"));
	assert_int_equal(rv_cgroup_destroy(cg), 0);
}

static void create__v1_only_needed_controllers(void **state)
{
	struct fx *f = *state;
	struct rv_cgroup *cg;

	fake_v1(f);
	probe(f);
	f->lim.pids = 100;
	assert_int_equal(rv_cgroup_create(&f->host, "web", &f->lim, &cg, f->err,
					  sizeof(f->err)),
			 0);
	assert_string_equal(slurp(f, "sys/pids/raevm/web/pids.max"), "100");
	assert_false(exists(f, "sys/memory/api/abc/raevm"));
	assert_false(exists(f, "sys/cpu,cpuacct/raevm"));
	assert_false(exists(f, "sys/cpuset/raevm"));
	assert_null(rv_cgroup_path(cg, RV_CGROUP_MEMORY));
	assert_int_equal(rv_cgroup_destroy(cg), 0);
}

static void attach__v1_every_hierarchy(void **state)
{
	struct fx *f = *state;
	struct rv_cgroup *cg;

	fake_v1(f);
	probe(f);
	all_limits(f);
	assert_int_equal(rv_cgroup_create(&f->host, "web", &f->lim, &cg, f->err,
					  sizeof(f->err)),
			 0);
	assert_int_equal(rv_cgroup_attach(cg, 4321, f->err, sizeof(f->err)), 0);
	assert_string_equal(
		slurp(f, "sys/memory/api/abc/raevm/web/cgroup.procs"), "4321");
	assert_string_equal(slurp(f, "sys/cpu,cpuacct/raevm/web/cgroup.procs"),
			    "4321");
	assert_string_equal(slurp(f, "sys/cpuset/raevm/web/cgroup.procs"),
			    "4321");
	assert_string_equal(slurp(f, "sys/pids/raevm/web/cgroup.procs"),
			    "4321");
	assert_int_equal(rv_cgroup_destroy(cg), 0);
}

static void leave__v1_back_to_own_group(void **state)
{
	struct fx *f = *state;
	struct rv_cgroup *cg;
	char pid[16];

	fake_v1(f);
	probe(f);
	f->lim.memory = 1ULL << 30;
	assert_int_equal(rv_cgroup_create(&f->host, "web", &f->lim, &cg, f->err,
					  sizeof(f->err)),
			 0);
	assert_int_equal(rv_cgroup_leave(cg), 0);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	assert_string_equal(slurp(f, "sys/memory/api/abc/cgroup.procs"), pid);
	assert_false(exists(f, "sys/pids/cgroup.procs"));
	assert_int_equal(rv_cgroup_destroy(cg), 0);
}

static void destroy__v1_removes_groups_and_parent(void **state)
{
	struct fx *f = *state;
	struct rv_cgroup *cg;

	fake_v1(f);
	probe(f);
	all_limits(f);
	assert_int_equal(rv_cgroup_create(&f->host, "web", &f->lim, &cg, f->err,
					  sizeof(f->err)),
			 0);
	assert_int_equal(rv_cgroup_destroy(cg), 0);
	assert_false(exists(f, "sys/memory/api/abc/raevm"));
	assert_false(exists(f, "sys/cpu,cpuacct/raevm"));
	assert_false(exists(f, "sys/cpuset/raevm"));
	assert_false(exists(f, "sys/pids/raevm"));
	assert_true(exists(f, "sys/memory/api/abc"));
}

/* ---------------------------------------------------------------------- */

static void create__v2_writes_limit_files(void **state)
{
	struct fx *f = *state;
	struct rv_cgroup *cg;

	fake_v2(f, "cpuset cpu io memory pids\n");
	probe(f);
	all_limits(f);
	f->lim.cpu_pct = 50;
	assert_int_equal(rv_cgroup_create(&f->host, "web", &f->lim, &cg, f->err,
					  sizeof(f->err)),
			 0);
	assert_string_equal(slurp(f, "cg/svc/cgroup.subtree_control"),
			    "+memory +cpu +cpuset +pids");
	assert_string_equal(slurp(f, "cg/svc/raevm/cgroup.subtree_control"),
			    "+memory +cpu +cpuset +pids");
	assert_string_equal(slurp(f, "cg/svc/raevm/web/memory.max"),
			    "1073741824");
	assert_string_equal(slurp(f, "cg/svc/raevm/web/cpu.max"),
			    "50000 100000");
	assert_string_equal(slurp(f, "cg/svc/raevm/web/cpuset.cpus"), "1,3");
	assert_string_equal(slurp(f, "cg/svc/raevm/web/pids.max"), "64");
	/* v2 leaves cpuset.mems empty: the parent's nodes. */
	assert_false(exists(f, "cg/svc/raevm/web/cpuset.mems"));
	assert_int_equal(rv_cgroup_attach(cg, 77, f->err, sizeof(f->err)), 0);
	assert_string_equal(slurp(f, "cg/svc/raevm/web/cgroup.procs"), "77");
	assert_int_equal(rv_cgroup_destroy(cg), 0);
	assert_false(exists(f, "cg/svc/raevm"));
}

static void create__v2_enabled_controllers_not_rewritten(void **state)
{
	struct fx *f = *state;
	struct rv_cgroup *cg;

	fake_v2(f, "cpu memory pids\n");
	put_file(at(f, "cg/svc/cgroup.subtree_control"), "memory pids\n");
	probe(f);
	f->lim.memory = 1ULL << 30;
	f->lim.cpu_pct = 100;
	assert_int_equal(rv_cgroup_create(&f->host, "web", &f->lim, &cg, f->err,
					  sizeof(f->err)),
			 0);
	assert_string_equal(slurp(f, "cg/svc/cgroup.subtree_control"), "+cpu");
	assert_string_equal(slurp(f, "cg/svc/raevm/web/cpu.max"),
			    "100000 100000");
	assert_false(exists(f, "cg/svc/raevm/web/pids.max"));
	assert_int_equal(rv_cgroup_destroy(cg), 0);
}

static void create__v2_missing_controller(void **state)
{
	struct fx *f = *state;
	struct rv_cgroup *cg = (void *)1;

	fake_v2(f, "memory pids\n");
	probe(f);
	f->lim.cpuset = strdup("0");
	assert_int_equal(rv_cgroup_create(&f->host, "web", &f->lim, &cg, f->err,
					  sizeof(f->err)),
			 -EOPNOTSUPP);
	assert_null(cg);
	assert_string_equal(f->err, "limits.cpuset: the cpuset cgroup "
				    "controller is not available to this "
				    "process (cgroup v2)");
	assert_false(exists(f, "cg/svc/raevm"));
}

/* A group left by a crashed worker loses its old limits. */
static void create__stale_group_replaced(void **state)
{
	struct fx *f = *state;
	struct rv_cgroup *cg;

	fake_v2(f, "memory pids\n");
	mkdirs(at(f, "cg/svc/raevm/web"));
	put_file(at(f, "cg/svc/raevm/web/memory.max"), "4096");
	probe(f);
	f->lim.pids = 10;
	assert_int_equal(rv_cgroup_create(&f->host, "web", &f->lim, &cg, f->err,
					  sizeof(f->err)),
			 0);
	assert_false(exists(f, "cg/svc/raevm/web/memory.max"));
	assert_string_equal(slurp(f, "cg/svc/raevm/web/pids.max"), "10");
	assert_int_equal(rv_cgroup_destroy(cg), 0);
}

static void create__no_cgroups(void **state)
{
	struct fx *f = *state;
	struct rv_cgroup *cg = (void *)1;

	put_file(f->mountinfo, "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n");
	put_file(f->self, "0::/\n");
	probe(f);
	f->lim.memory = 1ULL << 30;
	assert_int_equal(rv_cgroup_create(&f->host, "web", &f->lim, &cg, f->err,
					  sizeof(f->err)),
			 -EOPNOTSUPP);
	assert_null(cg);
	assert_string_equal(f->err, "limits: no cgroup controller is mounted "
				    "on this host; remove the limits or mount "
				    "cgroups");
}

static void create__bad_name(void **state)
{
	struct fx *f = *state;
	struct rv_cgroup *cg = (void *)1;

	fake_v2(f, "memory\n");
	probe(f);
	f->lim.memory = 1ULL << 30;
	assert_int_equal(rv_cgroup_create(&f->host, "../x", &f->lim, &cg,
					  f->err, sizeof(f->err)),
			 -EINVAL);
	assert_int_equal(rv_cgroup_create(&f->host, "..", &f->lim, &cg, f->err,
					  sizeof(f->err)),
			 -EINVAL);
	assert_int_equal(rv_cgroup_create(&f->host, "", &f->lim, &cg, f->err,
					  sizeof(f->err)),
			 -EINVAL);
	assert_null(cg);
	assert_false(exists(f, "cg/svc/raevm"));
}

/* A base that is not a directory: the error names the path. */
static void create__unwritable_tree(void **state)
{
	struct fx *f = *state;
	struct rv_cgroup *cg = (void *)1;
	char want[PATH_MAX + 128];

	fake_v1(f);
	probe(f);
	rmdir(at(f, "sys/pids"));
	put_file(at(f, "sys/pids"), "");
	f->lim.pids = 10;
	assert_int_equal(rv_cgroup_create(&f->host, "web", &f->lim, &cg, f->err,
					  sizeof(f->err)),
			 -ENOTDIR);
	assert_null(cg);
	snprintf(want, sizeof(want),
		 "limits: cannot create cgroup %s: Not a directory",
		 at(f, "sys/pids/raevm"));
	assert_string_equal(f->err, want);
}

/* ---------------------------------------------------------------------- */

static void remove__by_name_after_worker_end(void **state)
{
	struct fx *f = *state;
	struct rv_cgroup *cg, *other;

	fake_v1(f);
	probe(f);
	all_limits(f);
	assert_int_equal(rv_cgroup_create(&f->host, "web", &f->lim, &cg, f->err,
					  sizeof(f->err)),
			 0);
	assert_int_equal(rv_cgroup_create(&f->host, "db", &f->lim, &other,
					  f->err, sizeof(f->err)),
			 0);
	/* The daemon knows only the name. */
	assert_int_equal(rv_cgroup_remove(&f->host, "web"), 0);
	assert_false(exists(f, "sys/pids/raevm/web"));
	assert_false(exists(f, "sys/memory/api/abc/raevm/web"));
	/* Another VM's group and raevm/ stay. */
	assert_true(exists(f, "sys/pids/raevm/db"));
	assert_int_equal(rv_cgroup_remove(&f->host, "web"), 0);
	assert_int_equal(rv_cgroup_remove(&f->host, "a/b"), -EINVAL);
	assert_int_equal(rv_cgroup_destroy(other), 0);
	assert_false(exists(f, "sys/pids/raevm"));
	/* Its directories are gone already: only the memory is left. */
	assert_int_equal(rv_cgroup_destroy(cg), 0);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(probe__v1_hybrid),
		T(probe__v2_unified),
		T(probe__v2_partial_controllers),
		T(probe__mount_root_and_escapes),
		T(probe__no_cgroups),
		T(probe__missing_file),
		T(cpu_list_parse__order_and_ranges),
		T(cpu_list_parse__malformed),
		T(check_limits__ok),
		T(check_limits__memory_not_above_guest),
		T(check_limits__cpuset_cpu_not_on_host),
		T(check_limits__cpuset_malformed),
		T(check_limits__cpu_above_host),
		T(check_limits__pids_too_few),
		T(create__v1_writes_limit_files),
		T(create__v1_only_needed_controllers),
		T(attach__v1_every_hierarchy),
		T(leave__v1_back_to_own_group),
		T(destroy__v1_removes_groups_and_parent),
		T(create__v2_writes_limit_files),
		T(create__v2_enabled_controllers_not_rewritten),
		T(create__v2_missing_controller),
		T(create__stale_group_replaced),
		T(create__no_cgroups),
		T(create__bad_name),
		T(create__unwritable_tree),
		T(remove__by_name_after_worker_end),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
#undef T
}
