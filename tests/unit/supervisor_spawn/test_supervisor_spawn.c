// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for src/daemon/supervisor_spawn.c: cloning a worker as PID 1
 * of a new pid namespace, the fallback without privilege, the descriptors
 * and signals it gets, and reaping through its pidfd. The children are
 * real (/bin/sh); the pid namespace cases need root and skip without it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cap-ng.h>
#include <cmocka.h>

#include "../src/daemon/supervisor_internal.h"

/* A child's stdout/stderr and channel: the write ends of one pipe. */
struct kid {
	struct rv__sup_exec x;
	char *argv[4];
	char sh[4], c[4], script[256];
	int out[2];
	int pid, pidfd;
};

static void kid_init(struct kid *k, const char *script, bool pidns)
{
	memset(k, 0, sizeof(*k));
	assert_int_equal(pipe2(k->out, O_CLOEXEC), 0);
	/* exec wants char *: writable copies. */
	snprintf(k->sh, sizeof(k->sh), "sh");
	snprintf(k->c, sizeof(k->c), "-c");
	snprintf(k->script, sizeof(k->script), "%s", script);
	k->argv[0] = k->sh;
	k->argv[1] = k->c;
	k->argv[2] = k->script;
	k->argv[3] = NULL;
	k->x.path = "/bin/sh";
	k->x.argv = k->argv;
	k->x.fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(k->x.fds[0] >= 0);
	k->x.fds[1] = k->out[1];
	k->x.fds[2] = k->out[1];
	k->x.fds[3] = k->out[1];
	k->x.new_session = true;
	k->x.pidns = pidns;
	k->pid = -1;
	k->pidfd = -1;
}

/* Closes the parent's ends of what the child got. */
static void kid_started(struct kid *k)
{
	close(k->x.fds[0]);
	close(k->out[1]);
}

/* Everything the child wrote, until it closed its ends. */
static void kid_output(struct kid *k, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < size &&
	       (n = read(k->out[0], buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(k->out[0]);
}

/* Waits for the pidfd to report the end, then reaps. */
static int kid_reap(struct kid *k, int *status, int *sig)
{
	struct pollfd p = { .fd = k->pidfd, .events = POLLIN };
	int rc;

	assert_int_equal(poll(&p, 1, 10000), 1);
	rc = rv__sup_reap(k->pidfd, status, sig);
	close(k->pidfd);
	return rc;
}

static bool is_root(void)
{
	return geteuid() == 0;
}

static void rv__sup_clone_exec__pid_one_in_new_namespace(void **state)
{
	struct kid k;
	char buf[64];
	int rc, status = -2, sig = -2;

	(void)state;
	if (!is_root())
		skip();
	kid_init(&k, "echo $$; echo x >&3", true);

	rc = rv__sup_clone_exec(&k.x, &k.pid, &k.pidfd);
	kid_started(&k);

	assert_int_equal(rc, 0);
	assert_true(k.x.pidns);
	assert_true(k.pid > 1);
	kid_output(&k, buf, sizeof(buf));
	assert_string_equal(buf, "1\nx\n");
	assert_int_equal(kid_reap(&k, &status, &sig), 0);
	assert_int_equal(status, 0);
	assert_int_equal(sig, 0);
}

static void rv__sup_clone_exec__exit_status(void **state)
{
	struct kid k;
	char buf[16];
	int status = -2, sig = -2;

	(void)state;
	kid_init(&k, "exit 3", is_root());

	assert_int_equal(rv__sup_clone_exec(&k.x, &k.pid, &k.pidfd), 0);
	kid_started(&k);

	kid_output(&k, buf, sizeof(buf));
	assert_int_equal(kid_reap(&k, &status, &sig), 0);
	assert_int_equal(status, 3);
	assert_int_equal(sig, 0);
}

static void rv__sup_clone_exec__exec_fails(void **state)
{
	struct kid k;
	int rc;

	(void)state;
	kid_init(&k, "", is_root());
	k.x.path = "/nonexistent/raevmd";

	rc = rv__sup_clone_exec(&k.x, &k.pid, &k.pidfd);
	kid_started(&k);
	close(k.out[0]);

	assert_int_equal(rc, -ENOENT);
	assert_int_equal(k.pid, -1);
	assert_int_equal(k.pidfd, -1);
	/* Reaped already: no child of ours is left. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/* A descriptor without O_CLOEXEC above 3 is not inherited anyway. */
static void rv__sup_clone_exec__other_fds_closed(void **state)
{
	struct kid k;
	char script[128], buf[64];
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* F_DUPFD, not F_DUPFD_CLOEXEC: no close-on-exec on purpose. */
	int leak = fcntl(null, F_DUPFD, 20);

	(void)state;
	close(null);
	assert_true(leak >= 20);
	snprintf(script, sizeof(script),
		 "[ -e /proc/self/fd/%d ] && echo leaked; "
		 "[ -e /proc/self/fd/3 ] && echo three; "
		 "read x && echo stdin",
		 leak);
	kid_init(&k, script, is_root());

	assert_int_equal(rv__sup_clone_exec(&k.x, &k.pid, &k.pidfd), 0);
	kid_started(&k);
	close(leak);

	kid_output(&k, buf, sizeof(buf));
	assert_string_equal(buf, "three\n");
	close(k.pidfd);
	assert_int_equal(waitpid(k.pid, NULL, 0), k.pid);
}

/* Descriptors below 4 are handed over right, and stay the caller's. */
static void rv__sup_clone_exec__low_fds(void **state)
{
	struct kid k;
	char buf[64];
	int saved = dup(0);

	(void)state;
	kid_init(&k, "echo out; echo err >&2; echo chan >&3", false);
	/* The pipe's write end as fd 0: fd 0 is also the child's stdin. */
	assert_int_equal(dup2(k.out[1], 0), 0);
	close(k.out[1]);
	k.out[1] = 0;
	k.x.fds[1] = k.x.fds[2] = k.x.fds[3] = 0;

	assert_int_equal(rv__sup_clone_exec(&k.x, &k.pid, &k.pidfd), 0);
	assert_int_equal(fcntl(0, F_GETFD), 0); /* still open, still ours */
	dup2(saved, 0);
	close(saved);
	close(k.x.fds[0]);

	kid_output(&k, buf, sizeof(buf));
	assert_string_equal(buf, "out\nerr\nchan\n");
	close(k.pidfd);
	assert_int_equal(waitpid(k.pid, NULL, 0), k.pid);
}

/* The daemon's ignored and blocked signals are not the worker's. */
static void rv__sup_clone_exec__signals_reset(void **state)
{
	struct kid k;
	sigset_t block, old;
	char buf[256];

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	kid_init(&k, "grep -E '^(SigBlk|SigIgn):' /proc/self/status", false);

	assert_int_equal(rv__sup_clone_exec(&k.x, &k.pid, &k.pidfd), 0);
	kid_started(&k);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGPIPE, SIG_DFL);

	kid_output(&k, buf, sizeof(buf));
	assert_string_equal(buf, "SigBlk:\t0000000000000000\n"
				 "SigIgn:\t0000000000000000\n");
	close(k.pidfd);
	assert_int_equal(waitpid(k.pid, NULL, 0), k.pid);
}

/* SIGKILL from the daemon ends PID 1 and is reported as the signal. */
static void rv__sup_reap__killed(void **state)
{
	struct kid k;
	int status = -2, sig = -2;

	(void)state;
	kid_init(&k, "exec sleep 30", is_root());
	assert_int_equal(rv__sup_clone_exec(&k.x, &k.pid, &k.pidfd), 0);
	kid_started(&k);
	close(k.out[0]);

	assert_int_equal(rv__sup_reap(k.pidfd, &status, &sig), -EAGAIN);
	assert_int_equal(
		syscall(SYS_pidfd_send_signal, k.pidfd, SIGKILL, NULL, 0), 0);

	assert_int_equal(kid_reap(&k, &status, &sig), 0);
	assert_int_equal(status, -1);
	assert_int_equal(sig, SIGKILL);
}

/*
 * Without CAP_SYS_ADMIN (a rootless daemon) CLONE_NEWPID is refused: the
 * child starts without a pid namespace, and the call says why. Run in a
 * forked process that drops its capabilities; it reports through its exit.
 */
static int fallback_child(void)
{
	struct kid k;
	char buf[64];
	int rc;

	capng_clear(CAPNG_SELECT_BOTH);
	if (capng_apply(CAPNG_SELECT_BOTH))
		return 10;
	kid_init(&k, "echo $$", true);
	rc = rv__sup_clone_exec(&k.x, &k.pid, &k.pidfd);
	kid_started(&k);
	if (rc)
		return 11;
	if (k.x.pidns || k.x.pidns_err != EPERM)
		return 12;
	kid_output(&k, buf, sizeof(buf));
	if (atoi(buf) != k.pid)
		return 13;
	waitpid(k.pid, NULL, 0);
	return 0;
}

static void rv__sup_clone_exec__no_privilege_no_pidns(void **state)
{
	int status = -1;
	pid_t pid;

	(void)state;
	if (!is_root())
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fallback_child());

	assert_int_equal(waitpid(pid, &status, 0), pid);

	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The names a release build's worker may get (supervisor_spawn.c). */
static bool env_kept(const char *entry)
{
	static const char *const kept[] = {
		"PATH=",
		"LD_LIBRARY_PATH=",
		"TZ=",
		"RAEVM_KVM_DEVICE=",
		"RAEVM_SECCOMP_LOG=",
		"ASAN_OPTIONS=",
		"UBSAN_OPTIONS=",
		"LSAN_OPTIONS=",
	};
	size_t i;

	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (strncmp(entry, kept[i], strlen(kept[i])) == 0)
			return true;
	return false;
}

/* /proc/PID/environ as "\nNAME=value\n...": each entry between newlines. */
static void read_environ(int pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	size_t i;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	buf[0] = '\n';
	n = read(fd, buf + 1, size - 2);
	close(fd);
	assert_true(n >= 0 && (size_t)n < size - 2);
	for (i = 1; i <= (size_t)n; i++)
		if (buf[i] == '\0')
			buf[i] = '\n';
	buf[n + 1] = '\0';
}

/*
 * The worker gets the daemon's kept variables only: one set in the
 * daemon's environment is absent from the running worker's
 * /proc/PID/environ, kept ones are there, and a build without the test
 * hooks drops their variables too.
 */
static void rv__sup_clone_exec__minimal_environment(void **state)
{
	struct kid k;
	char env[8192], buf[16], *line, *save;
	size_t got = 0;
	ssize_t n;
	int in[2], status = -2, sig = -2;

	(void)state;
	setenv("RV_DAEMON_ONLY", "secret", 1);
	setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
	setenv("RAEVM_TEST_JAIL_OPEN", "/etc/passwd", 1);
	setenv("RAEVM_SECCOMP_LOG", "1", 1);
	setenv("TZ", "UTC", 1);
	kid_init(&k, "echo up; read x; true", is_root());
	/* Its stdin is a pipe: it waits there while its environ is read. */
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	close(k.x.fds[0]);
	k.x.fds[0] = in[0];

	assert_int_equal(rv__sup_clone_exec(&k.x, &k.pid, &k.pidfd), 0);
	kid_started(&k);
	while (got < 3 && (n = read(k.out[0], buf + got, 3 - got)) > 0)
		got += (size_t)n;
	assert_int_equal(got, 3);
	read_environ(k.pid, env, sizeof(env));
	close(in[1]);
	kid_output(&k, buf, sizeof(buf));
	assert_int_equal(kid_reap(&k, &status, &sig), 0);
	unsetenv("RV_DAEMON_ONLY");
	unsetenv("NOTIFY_SOCKET");
	unsetenv("RAEVM_TEST_JAIL_OPEN");
	unsetenv("RAEVM_SECCOMP_LOG");
	unsetenv("TZ");

	assert_int_equal(status, 0);
	assert_null(strstr(env, "\nRV_DAEMON_ONLY="));
	assert_null(strstr(env, "\nNOTIFY_SOCKET="));
	assert_null(strstr(env, "\nRAEVM_TEST_JAIL_OPEN="));
	assert_non_null(strstr(env, "\nRAEVM_SECCOMP_LOG=1\n"));
	assert_non_null(strstr(env, "\nTZ=UTC\n"));
	if (getenv("PATH"))
		assert_non_null(strstr(env, "\nPATH="));
	for (line = strtok_r(env, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!env_kept(line))
			fail_msg("not a kept variable: '%s'", line);
	}
}

static void rv__sup_exit_decode__codes(void **state)
{
	siginfo_t si;
	int status, sig;

	(void)state;
	memset(&si, 0, sizeof(si));
	si.si_code = CLD_EXITED;
	si.si_status = 3;
	rv__sup_exit_decode(&si, &status, &sig);
	assert_int_equal(status, 3);
	assert_int_equal(sig, 0);

	si.si_code = CLD_KILLED;
	si.si_status = SIGSYS;
	rv__sup_exit_decode(&si, &status, &sig);
	assert_int_equal(status, -1);
	assert_int_equal(sig, SIGSYS);

	si.si_code = CLD_DUMPED;
	si.si_status = SIGSEGV;
	rv__sup_exit_decode(&si, &status, &sig);
	assert_int_equal(status, -1);
	assert_int_equal(sig, SIGSEGV);

	si.si_code = CLD_STOPPED;
	si.si_status = SIGSTOP;
	rv__sup_exit_decode(&si, &status, &sig);
	assert_int_equal(status, -1);
	assert_int_equal(sig, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rv__sup_clone_exec__pid_one_in_new_namespace),
		cmocka_unit_test(rv__sup_clone_exec__exit_status),
		cmocka_unit_test(rv__sup_clone_exec__exec_fails),
		cmocka_unit_test(rv__sup_clone_exec__other_fds_closed),
		cmocka_unit_test(rv__sup_clone_exec__low_fds),
		cmocka_unit_test(rv__sup_clone_exec__signals_reset),
		cmocka_unit_test(rv__sup_reap__killed),
		cmocka_unit_test(rv__sup_clone_exec__no_privilege_no_pidns),
		cmocka_unit_test(rv__sup_clone_exec__minimal_environment),
		cmocka_unit_test(rv__sup_exit_decode__codes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
