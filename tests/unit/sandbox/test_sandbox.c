// SPDX-License-Identifier: Apache-2.0
/*
 * The seccomp tables (src/sandbox/seccomp.c) as data: every row names a
 * real system call, has a reason and known classes, no class lists a call
 * twice, the main thread's list covers the vCPU's (vCPU threads inherit
 * it), and the test hook's call is in no list. Then the compiled filters:
 * each class builds, and in a child process a loaded filter lets listed
 * calls through and kills the process with SIGSYS on anything else.
 */
#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <seccomp.h>

#include "../src/sandbox/sandbox_int.h"

#define ALL_FILTERS ((1u << RV__SB_NR_FILTERS) - 1)

static void rules__every_row_is_well_formed(void **state)
{
	size_t i;

	(void)state;
	assert_true(rv__sc_nr_rules > 0);
	for (i = 0; i < rv__sc_nr_rules; i++) {
		const struct rv__sc_rule *r = &rv__sc_rules[i];

		assert_non_null(r->name);
		if (seccomp_syscall_resolve_name(r->name) == __NR_SCMP_ERROR)
			fail_msg("row %zu: no system call '%s'", i, r->name);
		assert_non_null(r->why);
		if (strlen(r->why) < 8)
			fail_msg("row %zu (%s): no reason given", i, r->name);
		assert_int_not_equal(r->classes, 0);
		assert_int_equal(r->classes & ~ALL_FILTERS, 0);
	}
}

static void rules__no_class_lists_a_call_twice(void **state)
{
	unsigned int cls;
	size_t i, j;

	(void)state;
	for (cls = 0; cls < RV__SB_NR_FILTERS; cls++)
		for (i = 0; i < rv__sc_nr_rules; i++) {
			if (!rv__sc_in_class(rv__sc_rules[i].classes, cls))
				continue;
			for (j = i + 1; j < rv__sc_nr_rules; j++)
				if (rv__sc_in_class(rv__sc_rules[j].classes,
						    cls) &&
				    strcmp(rv__sc_rules[i].name,
					   rv__sc_rules[j].name) == 0)
					fail_msg("class %s lists '%s' twice",
						 rv__sb_class_name(cls),
						 rv__sc_rules[i].name);
		}
}

static void ioctls__every_row_is_well_formed(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < rv__sc_nr_ioctls; i++) {
		const struct rv__sc_ioctl *r = &rv__sc_ioctls[i];

		assert_non_null(r->name);
		assert_non_null(r->why);
		if (strlen(r->why) < 8)
			fail_msg("ioctl %s: no reason given", r->name);
		assert_int_not_equal(r->classes, 0);
		assert_int_equal(r->classes & ~ALL_FILTERS, 0);
		for (j = i + 1; j < rv__sc_nr_ioctls; j++)
			if (rv__sc_ioctls[j].request == r->request &&
			    (rv__sc_ioctls[j].classes & r->classes))
				fail_msg("ioctl %s listed twice", r->name);
	}
}

static const struct rv__sc_rule *find_rule(const char *name, unsigned int cls)
{
	size_t i;

	for (i = 0; i < rv__sc_nr_rules; i++)
		if (rv__sc_in_class(rv__sc_rules[i].classes, cls) &&
		    strcmp(rv__sc_rules[i].name, name) == 0)
			return &rv__sc_rules[i];
	return NULL;
}

/* An ioctl request for a class whose filter has no ioctl row is dead. */
static void ioctls__every_class_may_call_ioctl(void **state)
{
	unsigned int cls;
	size_t i;

	(void)state;
	for (i = 0; i < rv__sc_nr_ioctls; i++)
		for (cls = 0; cls < RV__SB_NR_FILTERS; cls++)
			if (rv__sc_in_class(rv__sc_ioctls[i].classes, cls) &&
			    !find_rule("ioctl", cls))
				fail_msg("ioctl %s for %s, which may not call "
					 "ioctl",
					 rv__sc_ioctls[i].name,
					 rv__sb_class_name(cls));
}

/*
 * Threads are started and filters added by the main thread only (vCPU
 * threads under its filter): no device class may clone, add a filter or
 * pin a thread (docs/security.md, "How the lists were audited").
 */
static void rules__only_main_starts_threads(void **state)
{
	static const char *const main_only[] = {
		"clone",	   "clone3", "seccomp",
		"set_robust_list", "rseq",   "sched_setaffinity"
	};
	unsigned int cls;
	size_t i;

	(void)state;
	for (i = 0; i < RV_ARRAY_SIZE(main_only); i++) {
		assert_non_null(find_rule(main_only[i], RV_THREAD_MAIN));
		for (cls = 0; cls < RV__SB_NR_FILTERS; cls++)
			if (cls != RV_THREAD_MAIN &&
			    find_rule(main_only[i], cls))
				fail_msg("%s allows '%s'",
					 rv__sb_class_name(cls), main_only[i]);
	}
}

/* vCPU threads start under the main thread's filter, then add theirs. */
static void rules__main_covers_vcpu(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < rv__sc_nr_rules; i++) {
		const struct rv__sc_rule *r = &rv__sc_rules[i], *m;

		if (!rv__sc_in_class(r->classes, RV_THREAD_VCPU))
			continue;
		m = find_rule(r->name, RV_THREAD_MAIN);
		if (!m)
			fail_msg("vcpu allows '%s', main does not", r->name);
		if (m->arg != RV__SC_ANY && m->arg != r->arg)
			fail_msg("'%s': main restricts it differently",
				 r->name);
	}
	for (i = 0; i < rv__sc_nr_ioctls; i++)
		if (rv__sc_in_class(rv__sc_ioctls[i].classes, RV_THREAD_VCPU) &&
		    !rv__sc_in_class(rv__sc_ioctls[i].classes, RV_THREAD_MAIN))
			fail_msg("vcpu allows ioctl %s, main does not",
				 rv__sc_ioctls[i].name);
}

static void rules__hook_call_is_forbidden_everywhere(void **state)
{
	unsigned int cls;

	(void)state;
	for (cls = 0; cls < RV__SB_NR_FILTERS; cls++) {
		assert_null(find_rule("getppid", cls));
		/* Nothing may start a process or trace one either. */
		assert_null(find_rule("execve", cls));
		assert_null(find_rule("ptrace", cls));
		assert_null(find_rule("fork", cls));
	}
}

static void class_name__bounds(void **state)
{
	(void)state;
	assert_string_equal(rv__sb_class_name(RV_THREAD_MAIN), "main");
	assert_string_equal(rv__sb_class_name(RV_THREAD_VCPU), "vcpu");
	assert_string_equal(rv__sb_class_name(RV_THREAD_CONSOLE), "console");
	assert_null(rv__sb_class_name(RV__SB_NR_FILTERS));
}

static void seccomp_build__every_class(void **state)
{
	struct sock_fprog prog;
	unsigned int cls;

	(void)state;
	for (cls = 0; cls < RV__SB_NR_FILTERS; cls++) {
		assert_int_equal(rv__seccomp_build(cls, false, &prog), 0);
		assert_non_null(prog.filter);
		assert_true(prog.len > 4);
		rv__seccomp_free(&prog);
		assert_null(prog.filter);
		assert_int_equal(rv__seccomp_build(cls, true, &prog), 0);
		rv__seccomp_free(&prog);
	}
}

static void seccomp_build__unknown_class(void **state)
{
	struct sock_fprog prog;

	(void)state;
	assert_int_equal(rv__seccomp_build(RV__SB_NR_FILTERS, false, &prog),
			 -EINVAL);
	assert_null(prog.filter);
}

/*
 * Loads cls's filter in a child, which then makes call nr (no
 * arguments) and exits 0. Returns the child's wait status.
 */
static int run_filtered(unsigned int cls, long nr)
{
	struct sock_fprog prog;
	int status = 0;
	pid_t pid;

	assert_int_equal(rv__seccomp_build(cls, false, &prog), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (rv__seccomp_load(&prog))
			_exit(99);
		syscall(nr);
		_exit(0);
	}
	rv__seccomp_free(&prog);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void seccomp_load__listed_call_runs(void **state)
{
	int st;

	(void)state;
	st = run_filtered(RV_THREAD_VCPU, SYS_gettid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void seccomp_load__forbidden_call_kills_by_sigsys(void **state)
{
	unsigned int cls;
	int st;

	(void)state;
	for (cls = 0; cls < RV__SB_NR_FILTERS; cls++) {
		st = run_filtered(cls, SYS_getppid);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
			fail_msg("class %s: getppid ended with status 0x%x",
				 rv__sb_class_name(cls), st);
	}
}

/* tgkill names this process only: no signal reaches another one. */
static void seccomp_load__tgkill_other_process_kills(void **state)
{
	struct sock_fprog prog;
	int status = 0;
	pid_t pid;

	(void)state;
	assert_int_equal(rv__seccomp_build(RV_THREAD_MAIN, false, &prog), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The filter names the parent's pid: the child is "another". */
		if (rv__seccomp_load(&prog))
			_exit(99);
		syscall(SYS_tgkill, getpid(), getpid(), 0);
		_exit(0);
	}
	rv__seccomp_free(&prog);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

static void seccomp_load__blk_cannot_open_files(void **state)
{
	int st;

	(void)state;
	/* A disk thread works on open descriptors only. */
	st = run_filtered(RV_THREAD_BLK, SYS_openat);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

/*
 * In a child: builds and loads cls's filter, then runs fn (which returns
 * the child's exit code). Returns the wait status.
 */
static int run_child(unsigned int cls, int (*fn)(void))
{
	int status = 0;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sock_fprog prog;

		if (rv__seccomp_build(cls, false, &prog) ||
		    rv__seccomp_load(&prog))
			_exit(99);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void expect_sigsys(int st, const char *what)
{
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		fail_msg("%s: the child ended with status 0x%x, not SIGSYS",
			 what, st);
}

static void *i386_getppid(void *arg)
{
	long ret = 64; /* getppid in the i386 table */

	__asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
	return arg;
}

static void *x32_getppid(void *arg)
{
	syscall(0x40000000L | SYS_getppid); /* __X32_SYSCALL_BIT */
	return arg;
}

/*
 * A thread made by pthread_create under the main filter (so the clone
 * rule must match glibc's flags) makes a call through another ABI: the
 * whole process dies, not just that thread.
 */
static int thread_calls(void *(*fn)(void *))
{
	pthread_t t;

	if (pthread_create(&t, NULL, fn, NULL))
		return 98;
	pthread_join(t, NULL);
	return 0;
}

static int thread_i386(void)
{
	return thread_calls(i386_getppid);
}

static int thread_x32(void)
{
	return thread_calls(x32_getppid);
}

static void *nothing(void *arg)
{
	return arg;
}

static int thread_plain(void)
{
	return thread_calls(nothing);
}

static void seccomp_load__pthread_create_allowed(void **state)
{
	int st;

	(void)state;
	st = run_child(RV_THREAD_MAIN, thread_plain);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void seccomp_load__i386_abi_kills_process(void **state)
{
	(void)state;
	expect_sigsys(run_child(RV_THREAD_MAIN, thread_i386), "int 0x80");
}

static void seccomp_load__x32_abi_kills_process(void **state)
{
	(void)state;
	expect_sigsys(run_child(RV_THREAD_MAIN, thread_x32), "x32 getppid");
}

/* CLONE_NEWPID with CLONE_THREAD: the kernel says EINVAL, seccomp kills. */
static int clone_with_namespace(void)
{
	syscall(SYS_clone, (unsigned long)(RV__SC_PTHREAD_CLONE | CLONE_NEWPID),
		NULL, NULL, NULL, 0UL);
	return 0;
}

static void seccomp_load__clone_other_flags_kills(void **state)
{
	(void)state;
	expect_sigsys(run_child(RV_THREAD_MAIN, clone_with_namespace),
		      "clone with CLONE_NEWPID");
}

/* seccomp(2) with a flag (TSYNC): refused before the kernel looks. */
static int seccomp_tsync(void)
{
	syscall(SYS_seccomp, 1 /* SET_MODE_FILTER */, 1 /* TSYNC */, NULL);
	return 0;
}

static void seccomp_load__seccomp_flags_kill(void **state)
{
	(void)state;
	expect_sigsys(run_child(RV_THREAD_MAIN, seccomp_tsync),
		      "seccomp with TSYNC");
}

/*
 * After both steps (as root): every set empty, the bounding set too, no
 * ambient capability, securebits locked.
 */
static void caps_drop__nothing_left_and_locked(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct __user_cap_header_struct hdr = {
			_LINUX_CAPABILITY_VERSION_3, 0
		};
		struct __user_cap_data_struct d[2];
		unsigned long cap;

		if (rv__caps_drop_build(false) || rv__caps_drop_all())
			_exit(1);
		if (prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) !=
		    (int)RV__CAPS_SECUREBITS)
			_exit(2);
		if (syscall(SYS_capget, &hdr, d) || d[0].effective ||
		    d[0].permitted || d[0].inheritable || d[1].effective ||
		    d[1].permitted || d[1].inheritable)
			_exit(3);
		for (cap = 0; cap <= CAP_LAST_CAP; cap++)
			if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 0 ||
			    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0,
				  0) > 0)
				_exit(4);
		/* Locked: not even the same call succeeds without privilege. */
		if (prctl(PR_SET_SECUREBITS, 0, 0, 0, 0) == 0)
			_exit(5);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rules__every_row_is_well_formed),
		cmocka_unit_test(rules__no_class_lists_a_call_twice),
		cmocka_unit_test(ioctls__every_row_is_well_formed),
		cmocka_unit_test(rules__main_covers_vcpu),
		cmocka_unit_test(ioctls__every_class_may_call_ioctl),
		cmocka_unit_test(rules__only_main_starts_threads),
		cmocka_unit_test(rules__hook_call_is_forbidden_everywhere),
		cmocka_unit_test(class_name__bounds),
		cmocka_unit_test(seccomp_build__every_class),
		cmocka_unit_test(seccomp_build__unknown_class),
		cmocka_unit_test(seccomp_load__listed_call_runs),
		cmocka_unit_test(seccomp_load__forbidden_call_kills_by_sigsys),
		cmocka_unit_test(seccomp_load__blk_cannot_open_files),
		cmocka_unit_test(seccomp_load__tgkill_other_process_kills),
		cmocka_unit_test(seccomp_load__pthread_create_allowed),
		cmocka_unit_test(seccomp_load__i386_abi_kills_process),
		cmocka_unit_test(seccomp_load__x32_abi_kills_process),
		cmocka_unit_test(seccomp_load__clone_other_flags_kills),
		cmocka_unit_test(seccomp_load__seccomp_flags_kill),
		cmocka_unit_test(caps_drop__nothing_left_and_locked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
