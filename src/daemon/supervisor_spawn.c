// SPDX-License-Identifier: Apache-2.0
/*
 * Starting a worker as PID 1 of its own pid namespace (supervisor_internal.h).
 *
 * The daemon clones the worker with CLONE_NEWPID itself instead of going
 * through uv_spawn(): a pid namespace applies to children only, and a
 * worker that forked into one would put a second process between the
 * daemon and the VM. Cloned directly, the pid the daemon tracks is the VM
 * process: a kill -9 ends the VM at once (its disk locks go with it), the
 * exit status, SIGSYS included, is the worker's own, and when it dies the
 * kernel ends anything left in its namespace.
 *
 * The child runs between clone() and execve() in a copy of a possibly
 * multi-threaded daemon: it makes async-signal-safe calls only, and all
 * signals stay blocked until the daemon's handlers are reset, so a
 * libuv signal handler never runs in it.
 *
 * The exit is watched through a pidfd and reaped with waitid(P_PIDFD): no
 * waitpid(-1) that would take someone else's child.
 */
#include "supervisor_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

/* The first descriptor the child does not keep. */
#define KEEP_FDS RV__SUP_EXEC_FDS

/*
 * The worker's whole environment: these variables, where the daemon has
 * them, and nothing else. Whatever else the daemon was started with
 * (NOTIFY_SOCKET, a service's Environment= secrets, a user's shell) is
 * none of a VM's business, and a worker that a guest took over could
 * read it from its own memory (docs/security.md). No LANG or LC_*: the
 * worker never calls setlocale().
 */
static const char *const worker_env[] = {
	/* Sanitizer symbolizers and debugging tools look programs up in it. */
	"PATH",
	/* The daemon's binary must find the same shared and dlopen()ed libs. */
	"LD_LIBRARY_PATH",
	/* Local time, loaded before the jail (jail.c), is the daemon's. */
	"TZ",
	/* The KVM device node the worker opens (run.c; tests move it). */
	"RAEVM_KVM_DEVICE",
	/* The sandbox's debug switch: seccomp logs instead of killing. */
	"RAEVM_SECCOMP_LOG",
#ifdef RAEVM_TEST_HOOKS
	/* Test builds: the thread class that breaks its seccomp filter. */
	"RAEVM_TEST_SECCOMP_VIOLATE",
	/* Test builds: a host file the jailed main thread tries to open. */
	"RAEVM_TEST_JAIL_OPEN",
	/* Test builds: a kept file the jailed main thread tries to write. */
	"RAEVM_TEST_JAIL_WRITE",
#endif
#ifdef __SANITIZE_ADDRESS__
	/* Sanitizer builds: AddressSanitizer's settings (make sanitize). */
	"ASAN_OPTIONS",
	/* Sanitizer builds: UndefinedBehaviorSanitizer's settings. */
	"UBSAN_OPTIONS",
	/* Sanitizer builds: LeakSanitizer's settings. */
	"LSAN_OPTIONS",
#endif
};

#define WORKER_ENV_MAX (sizeof(worker_env) / sizeof(worker_env[0]))

/* Whether "NAME=value" names one of worker_env, or one already in envp. */
static bool env_listed(const char *entry, const char *const *names, size_t nr)
{
	size_t i, len;

	for (i = 0; i < nr; i++) {
		len = strlen(names[i]);
		if (strncmp(entry, names[i], len) == 0 && entry[len] == '=')
			return true;
	}
	return false;
}

/*
 * Fills envp (WORKER_ENV_MAX + 1 entries) with the daemon's "NAME=value"
 * strings for the kept names, the first of each like getenv(), then NULL.
 * Built before clone(): the child makes async-signal-safe calls only.
 */
static void worker_envp(char **envp)
{
	size_t n = 0;
	char **e;

	for (e = environ; e && *e && n < WORKER_ENV_MAX; e++) {
		if (!env_listed(*e, worker_env, WORKER_ENV_MAX) ||
		    env_listed(*e, (const char *const *)envp, n))
			continue;
		envp[n++] = *e;
	}
	envp[n] = NULL;
}

/* Moves fd to a number >= KEEP_FDS so that no dup2() in the child hits it. */
static int high_fd(int *fd)
{
	int nfd;

	if (*fd >= KEEP_FDS)
		return 0;
	nfd = fcntl(*fd, F_DUPFD_CLOEXEC, KEEP_FDS);
	if (nfd < 0)
		return -errno;
	close(*fd);
	*fd = nfd;
	return 0;
}

/* Reports errno to the parent through the exec pipe and ends the child. */
static __attribute__((noreturn)) void child_fail(int pipe_fd, int err)
{
	ssize_t n;

	do
		n = write(pipe_fd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	_exit(127);
}

/*
 * The child: what uv_spawn() did for the worker, in async-signal-safe
 * calls only. Signals are blocked on entry.
 */
static __attribute__((noreturn)) void child_exec(const struct rv__sup_exec *x,
						 const int *fds, char **envp,
						 int pipe_fd)
{
	/* The kernel's struct sigaction (x86-64): handler, flags, restorer, mask. */
	struct {
		void (*handler)(int);
		unsigned long flags;
		void (*restorer)(void);
		uint64_t mask;
	} dfl = { SIG_DFL, 0, NULL, 0 };
	sigset_t none;
	int fd, sig;

	/*
	 * Back to default dispositions before anything is unblocked: the
	 * daemon's handlers must not run here, and an ignored SIGPIPE would
	 * survive execve(). The raw call, because glibc's sigaction() refuses
	 * the two signals it reserves (32 and 33, EINVAL): ignored by whoever
	 * started the daemon, they would stay ignored in every worker.
	 */
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL,
				sizeof(dfl.mask));
	if (x->new_session && setsid() < 0)
		child_fail(pipe_fd, errno);
	for (fd = 0; fd < KEEP_FDS; fd++)
		if (dup2(fds[fd], fd) < 0)
			child_fail(pipe_fd, errno);
	/*
	 * Nothing else crosses execve(), even a descriptor someone opened
	 * without O_CLOEXEC. The exec pipe is above KEEP_FDS and closes too.
	 * Kernels before 5.11 lack the flag; there O_CLOEXEC everywhere has
	 * to do.
	 */
	syscall(SYS_close_range, (unsigned int)KEEP_FDS, ~0U,
		CLOSE_RANGE_CLOEXEC);
	/* The worker starts with no signal blocked, as uv_spawn() gave it. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(x->path, x->argv, envp);
	child_fail(pipe_fd, errno);
}

/* clone() with fork semantics: the child returns 0 on a copy of our stack. */
static pid_t do_clone(unsigned long flags)
{
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
}

/*
 * Clones with the pid namespace when *pidns says so; falls back to a plain
 * clone (and clears *pidns) where the kernel refuses it to an unprivileged
 * caller (EPERM) or lacks pid namespaces (EINVAL).
 */
static pid_t clone_child(bool *pidns, int *err)
{
	sigset_t all, old;
	pid_t pid;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = do_clone(*pidns ? CLONE_NEWPID : 0);
	if (pid < 0 && *pidns && (errno == EPERM || errno == EINVAL)) {
		*err = errno;
		*pidns = false;
		pid = do_clone(0);
	}
	if (pid != 0) {
		int saved = errno;

		pthread_sigmask(SIG_SETMASK, &old, NULL);
		errno = saved;
	}
	return pid;
}

/* Waits for the exec pipe: 0 when execve() succeeded, else -errno. */
static int exec_result(int fd)
{
	int err = 0;
	ssize_t n;

	do
		n = read(fd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(err) || err <= 0)
		return -EIO;
	return -err;
}

/*
 * The descriptors to hand over, each numbered KEEP_FDS or above (copies
 * where needed, marked in copied[]), so that no dup2() in the child
 * overwrites one it still has to hand over.
 */
static int high_fds(const struct rv__sup_exec *x, int *fds, bool *copied)
{
	int i;

	for (i = 0; i < KEEP_FDS; i++) {
		fds[i] = x->fds[i];
		copied[i] = false;
		if (fds[i] >= KEEP_FDS)
			continue;
		fds[i] = fcntl(x->fds[i], F_DUPFD_CLOEXEC, KEEP_FDS);
		if (fds[i] < 0)
			return -errno;
		copied[i] = true;
	}
	return 0;
}

static void close_copies(const int *fds, const bool *copied)
{
	int i;

	for (i = 0; i < KEEP_FDS; i++)
		if (copied[i] && fds[i] >= 0)
			close(fds[i]);
}

int rv__sup_clone_exec(struct rv__sup_exec *x, int *pid_out, int *pidfd_out)
{
	int fds[KEEP_FDS] = { 0 }, pfd[2] = { -1, -1 }, fd, rc, perm_err = 0;
	bool copied[KEEP_FDS] = { false };
	char *envp[WORKER_ENV_MAX + 1];
	pid_t pid;

	*pid_out = -1;
	*pidfd_out = -1;
	rc = high_fds(x, fds, copied);
	if (rc)
		goto err_fds;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		rc = -errno;
		goto err_fds;
	}
	rc = high_fd(&pfd[1]);
	if (rc)
		goto err_pipe;
	worker_envp(envp);
	pid = clone_child(&x->pidns, &perm_err);
	if (pid == 0) {
		close(pfd[0]);
		child_exec(x, fds, envp, pfd[1]);
	}
	if (pid < 0) {
		rc = -errno;
		goto err_pipe;
	}
	x->pidns_err = perm_err;
	close_copies(fds, copied);
	close(pfd[1]);
	pfd[1] = -1;
	rc = exec_result(pfd[0]);
	close(pfd[0]);
	if (rc == 0) {
		fd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (fd >= 0) {
			*pid_out = (int)pid;
			*pidfd_out = fd;
			return 0;
		}
		rc = -errno;
		/* Unwatchable, so not to be run; our child: its pid is safe. */
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return rc;
err_pipe:
	close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
err_fds:
	close_copies(fds, copied);
	return rc;
}

int rv__sup_reap(int pidfd, int *exit_status, int *term_signal)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG) < 0)
		return -errno;
	if (si.si_pid == 0)
		return -EAGAIN;
	rv__sup_exit_decode(&si, exit_status, term_signal);
	return 0;
}

void rv__sup_exit_decode(const siginfo_t *si, int *exit_status,
			 int *term_signal)
{
	switch (si->si_code) {
	case CLD_EXITED:
		*exit_status = si->si_status;
		*term_signal = 0;
		break;
	case CLD_KILLED:
	case CLD_DUMPED:
		*exit_status = -1;
		*term_signal = si->si_status;
		break;
	default:
		/* WEXITED reports nothing else; an unknown end is no status. */
		*exit_status = -1;
		*term_signal = 0;
		break;
	}
}
