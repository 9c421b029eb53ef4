// SPDX-License-Identifier: Apache-2.0
/*
 * The seccomp allowlists, one per thread class, kept as data: one row per
 * system call with the classes that may make it, how its arguments are
 * restricted and why it is there. Anything not listed kills the whole
 * process (SECCOMP_RET_KILL_PROCESS): a worker whose device emulation was
 * subverted by the guest dies rather than reach the host. docs/security.md
 * summarises the lists; tests/unit/sandbox checks their shape.
 *
 * Filters stack: a thread keeps the filters it inherited and adds its own,
 * and the kernel takes the strictest answer. vCPU threads are the only ones
 * started after the main thread's filter (rv_vm_start() runs after
 * rv_sandbox_apply()), so MAIN must allow everything VCPU allows; the unit
 * tests check that. Device threads start before it and see their own only.
 *
 * Writing a list: run with RAEVM_SECCOMP_LOG=1, which logs a forbidden
 * call (kernel log, "audit: type=1326 ... syscall=N") and lets it run.
 */
#include "sandbox_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

#include "raevm/log.h"

#define M (1u << RV_THREAD_MAIN)
#define V (1u << RV_THREAD_VCPU)
#define B (1u << RV_THREAD_BLK)
#define N (1u << RV_THREAD_NET)
#define S (1u << RV_THREAD_VSOCK)
#define C (1u << RV_THREAD_CONSOLE)
/* Device threads, and every thread of the jailed worker. */
#define DEV (B | N | S | C)
#define ALL (M | V | DEV)

static const char *const class_names[RV__SB_NR_FILTERS] = {
	[RV_THREAD_MAIN] = "main",   [RV_THREAD_VCPU] = "vcpu",
	[RV_THREAD_BLK] = "blk",     [RV_THREAD_NET] = "net",
	[RV_THREAD_VSOCK] = "vsock", [RV_THREAD_CONSOLE] = "console",
};

const char *rv__sb_class_name(unsigned int cls)
{
	return cls < RV__SB_NR_FILTERS ? class_names[cls] : NULL;
}

const struct rv__sc_rule rv__sc_rules[] = {
	/* Every thread. */
	{ "read", ALL, RV__SC_ANY, "eventfd counters, sockets, the terminal" },
	{ "write", ALL, RV__SC_ANY,
	  "log lines to stderr, eventfd signals (irqfd, uv_async_send)" },
	{ "readv", ALL, RV__SC_ANY, "libuv stream reads" },
	{ "writev", ALL, RV__SC_ANY, "libuv stream writes, console output" },
	{ "close", ALL, RV__SC_ANY,
	  "descriptors of clients and connections that ended" },
	{ "futex", ALL, RV__SC_ANY,
	  "pthread mutexes, condition variables and joins" },
	{ "clock_gettime", ALL, RV__SC_ANY,
	  "timestamps when the vDSO falls back to the kernel" },
	{ "gettimeofday", ALL, RV__SC_ANY, "the same, older interface" },
	{ "clock_nanosleep", ALL, RV__SC_ANY,
	  "short back-offs in retry loops" },
	{ "nanosleep", ALL, RV__SC_ANY, "the same, older interface" },
	{ "sched_yield", ALL, RV__SC_ANY, "glibc's lock back-off" },
	{ "exit", ALL, RV__SC_ANY, "a thread's own end" },
	{ "exit_group", ALL, RV__SC_ANY, "the process's end" },
	{ "restart_syscall", ALL, RV__SC_ANY,
	  "a call interrupted by the kick signal resumes" },
	{ "rt_sigreturn", ALL, RV__SC_ANY,
	  "return from the vCPU kick handler and libuv's signal handler" },
	{ "rt_sigprocmask", ALL, RV__SC_ANY,
	  "glibc masks signals around thread start and end" },
	{ "getpid", ALL, RV__SC_ANY,
	  "pthread_kill and raise() name the process" },
	{ "gettid", ALL, RV__SC_ANY,
	  "pthread_kill and raise() name the thread" },
	{ "tgkill", ALL, RV__SC_OWN_PROCESS,
	  "kicks vCPU threads out of KVM_RUN (rv_vm_request_stop from any "
	  "thread); never another process" },
	{ "mmap", ALL, RV__SC_NO_EXEC,
	  "malloc and thread stacks, never executable" },
	{ "mprotect", ALL, RV__SC_NO_EXEC,
	  "malloc arenas and stack guards, never executable" },
	{ "munmap", ALL, RV__SC_ANY, "malloc returns memory" },
	{ "mremap", ALL, RV__SC_ANY, "realloc of large buffers" },
	{ "brk", ALL, RV__SC_ANY, "malloc's main heap" },
	{ "madvise", ALL, RV__SC_ANY,
	  "glibc frees a finished thread's stack and trims arenas" },
	{ "prctl", ALL, RV__SC_PRCTL,
	  "pthread_setname_np names the thread; no_new_privs before a filter" },
	{ "ioctl", ALL, RV__SC_IOCTL,
	  "KVM, block and terminal requests: the per-class table below" },
	{ "fcntl", ALL, RV__SC_ANY,
	  "O_NONBLOCK on accepted sockets; file locks at close" },

	/* Waiting. */
	{ "epoll_wait", M | N | S, RV__SC_ANY,
	  "the libuv loop and socket loops" },
	{ "epoll_pwait", M | N | S, RV__SC_ANY,
	  "the same, with a signal mask" },
	{ "epoll_ctl", M | N | S, RV__SC_ANY, "watching new sockets" },
	{ "epoll_create1", N | S, RV__SC_ANY, "a device's own socket loop" },
	{ "poll", M | DEV, RV__SC_ANY,
	  "device threads wait on eventfds and sockets" },
	{ "ppoll", M | DEV, RV__SC_ANY, "the same, newer interface" },

	/* Files already open (disks, logs) and the jail's own folders. */
	{ "pread64", M | B, RV__SC_ANY, "disk reads; qcow2 metadata" },
	{ "pwrite64", M | B, RV__SC_ANY,
	  "disk writes; qcow2 metadata, also at close" },
	{ "preadv", M | B, RV__SC_ANY, "disk reads" },
	{ "pwritev", M | B, RV__SC_ANY, "disk writes" },
	{ "lseek", M | B, RV__SC_ANY, "image sizes; the console log's end" },
	{ "fsync", M | B, RV__SC_ANY, "FLUSH requests; the flush at stop" },
	{ "fdatasync", M | B, RV__SC_ANY, "FLUSH requests; the flush at stop" },
	{ "fallocate", B, RV__SC_ANY, "DISCARD and WRITE_ZEROES punch holes" },
	{ "ftruncate", M | B, RV__SC_ANY, "qcow2 images grow and shrink" },
	{ "io_uring_enter", B, RV__SC_ANY,
	  "reads and writes of raw disks (ring set up before the filter)" },
	{ "fstat", M | N | S | C, RV__SC_ANY,
	  "stdio and libuv check descriptors" },
	{ "newfstatat", M | N | S | C, RV__SC_ANY,
	  "the same, newer interface" },
	{ "openat", M | N, RV__SC_ANY,
	  "the console log reopened after rotation; slirp reads "
	  "/etc/resolv.conf (only the jail's files exist)" },
	{ "rename", M, RV__SC_ANY, "console log rotation (inside the jail)" },
	{ "renameat", M, RV__SC_ANY, "the same, newer interface" },
	{ "renameat2", M, RV__SC_ANY, "the same, newer interface" },
	{ "unlink", M | S, RV__SC_ANY,
	  "runtime files removed at exit; stale vsock sockets" },
	{ "unlinkat", M | S, RV__SC_ANY, "the same, newer interface" },
	{ "flock", M, RV__SC_ANY, "the pidfile and disk locks at exit" },
	{ "rmdir", M, RV__SC_ANY,
	  "`raevmd run` removes its cgroup at exit (limits; bound in the jail)" },

	/* Sockets. */
	{ "accept4", M | S | C, RV__SC_ANY,
	  "console, control and vsock clients" },
	{ "accept", N, RV__SC_ANY, "slirp accepts on a port forward's socket" },
	{ "getsockopt", M | N | S | C, RV__SC_ANY,
	  "SO_PEERCRED of a re-adopting daemon; SO_ERROR of a connect" },
	{ "setsockopt", M | N | S | C, RV__SC_ANY,
	  "buffer sizes, TCP options for NAT" },
	{ "sendto", M | V | N | S | C, RV__SC_ANY,
	  "virtio-console sends on the notifying vCPU thread" },
	{ "recvfrom", M | N | S | C, RV__SC_ANY, "socket reads" },
	{ "sendmsg", M | V | N | S | C, RV__SC_ANY, "socket writes" },
	{ "recvmsg", M | N | S | C, RV__SC_ANY, "socket reads" },
	{ "shutdown", M | N | S | C, RV__SC_ANY, "half-closed connections" },
	{ "getsockname", M | N | S, RV__SC_ANY, "slirp's NAT and libuv" },
	{ "getpeername", M | N | S, RV__SC_ANY, "slirp's NAT and libuv" },
	{ "socket", N, RV__SC_SOCKET_INET,
	  "slirp's outbound NAT (TCP, UDP, ICMP)" },
	{ "socket", S, RV__SC_SOCKET_UNIX,
	  "guest-to-host vsock connects to <socket>_<port>" },
	{ "connect", N | S, RV__SC_ANY, "outbound NAT; <socket>_<port>" },
	{ "bind", N | S, RV__SC_ANY, "UDP NAT sockets; host-side listeners" },
	{ "listen", N | S, RV__SC_ANY, "port forwards; host-side listeners" },

	/* Threads and the sandbox itself (MAIN starts the vCPU threads). */
	{ "clone", M, RV__SC_CLONE_THREAD,
	  "rv_vm_start starts the vCPU threads" },
	{ "clone3", M, RV__SC_ENOSYS,
	  "flags hidden in memory: ENOSYS makes glibc use clone" },
	{ "set_robust_list", M, RV__SC_ANY,
	  "a new thread registers its robust futexes" },
	{ "rseq", M, RV__SC_ANY, "a new thread registers its rseq area" },
	{ "sched_getaffinity", M | V, RV__SC_ANY,
	  "vCPU pinning (limits.cpuset)" },
	{ "sched_setaffinity", M | V, RV__SC_ANY,
	  "vCPU pinning (limits.cpuset)" },
	{ "seccomp", M, RV__SC_SECCOMP_FILTER,
	  "a new vCPU thread adds its own (stricter) filter" },
	{ "capget", M, RV__SC_ANY,
	  "a new vCPU thread checks that it holds no capability" },
	{ "eventfd2", M | V, RV__SC_ANY,
	  "an MSI-X vector gets its irqfd when the driver routes it" },
	{ "getrandom", M | V | N, RV__SC_ANY,
	  "virtio-rng fills buffers on the notifying vCPU thread; slirp" },
	{ "geteuid", M, RV__SC_ANY,
	  "a re-adopting daemon must be the same user" },
	{ "getuid", M, RV__SC_ANY, "the same check" },

	{ "rt_sigaction", M, RV__SC_ANY, "libuv stops its signal watchers" },
#ifdef __SANITIZE_ADDRESS__
	/*
	 * Sanitizer builds only: AddressSanitizer gives every thread an
	 * alternate signal stack when it starts and takes it down at the
	 * thread's end and at _exit, so without this row a kill-mode filter
	 * ends any thread's life cycle (tests/unit/sandbox loads them).
	 * Harmless: it names a stack of the calling thread only.
	 */
	{ "sigaltstack", ALL, RV__SC_ANY,
	  "sanitizer builds: ASan's per-thread signal stack" },
#endif
};
const size_t rv__sc_nr_rules = RV_ARRAY_SIZE(rv__sc_rules);

const struct rv__sc_ioctl rv__sc_ioctls[] = {
	{ KVM_RUN, "KVM_RUN", M | V, "runs the guest" },
	{ KVM_GET_REGS, "KVM_GET_REGS", M | V, "the RIP in an error line" },
	{ KVM_GET_SREGS, "KVM_GET_SREGS", M | V, "the mode in an error line" },
	{ KVM_IRQ_LINE, "KVM_IRQ_LINE", ALL, "legacy and INTx interrupts" },
	{ KVM_SIGNAL_MSI, "KVM_SIGNAL_MSI", ALL, "MSI without an irqfd" },
	{ KVM_IRQFD, "KVM_IRQFD", M | V, "MSI-X vectors routed by the driver" },
	{ KVM_IOEVENTFD, "KVM_IOEVENTFD", M | V,
	  "queue notifications when the driver enables a queue" },
	{ KVM_SET_GSI_ROUTING, "KVM_SET_GSI_ROUTING", M | V,
	  "MSI-X routes the driver writes" },
	{ BLKDISCARD, "BLKDISCARD", B, "DISCARD on a block device" },
	{ BLKZEROOUT, "BLKZEROOUT", B, "WRITE_ZEROES on a block device" },
	{ TUNSETOFFLOAD, "TUNSETOFFLOAD", N,
	  "the tap's receive offloads, once the driver accepted them" },
	{ FIONBIO, "FIONBIO", M | N | S | C,
	  "libuv makes descriptors non-blocking" },
	{ FIOCLEX, "FIOCLEX", M | N | S | C,
	  "libuv marks descriptors close-on-exec" },
	{ FIONREAD, "FIONREAD", M | N | S | C, "bytes waiting on a socket" },
	{ TCGETS, "TCGETS", M, "the stdio console restores the terminal" },
	{ TCSETS, "TCSETS", M, "the same (TCSANOW)" },
	{ TCSETSW, "TCSETSW", M, "the same (TCSADRAIN)" },
	{ TIOCGWINSZ, "TIOCGWINSZ", M, "libuv's tty handles" },
};
const size_t rv__sc_nr_ioctls = RV_ARRAY_SIZE(rv__sc_ioctls);

#undef M
#undef V
#undef B
#undef N
#undef S
#undef C
#undef DEV
#undef ALL

static int add_ioctls(scmp_filter_ctx ctx, int nr, unsigned int cls)
{
	size_t i;
	int rc;

	for (i = 0; i < rv__sc_nr_ioctls; i++) {
		if (!rv__sc_in_class(rv__sc_ioctls[i].classes, cls))
			continue;
		/* The kernel takes the request as an unsigned int. */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				      SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL,
					      rv__sc_ioctls[i].request &
						      0xffffffffUL));
		if (rc)
			return rc;
	}
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, const struct rv__sc_rule *r,
		    unsigned int cls)
{
	static const int prctl_ok[] = { PR_SET_NAME, PR_SET_NO_NEW_PRIVS,
					PR_GET_NO_NEW_PRIVS };
	int nr = seccomp_syscall_resolve_name(r->name);
	size_t i;
	int rc;

	if (nr == __NR_SCMP_ERROR)
		return -ENOSYS;
	switch (r->arg) {
	case RV__SC_ANY:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	case RV__SC_IOCTL:
		return add_ioctls(ctx, nr, cls);
	case RV__SC_SOCKET_UNIX:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	case RV__SC_SOCKET_INET:
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
				      SCMP_A0(SCMP_CMP_EQ, AF_INET));
		return rc ? rc :
			    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					     SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	case RV__SC_CLONE_THREAD:
		/*
		 * x86-64 clone(flags, ...): exactly the flags of glibc's
		 * pthread_create and nothing else (no namespace flag, no
		 * CLONE_PARENT, no CLONE_PTRACE, no exit signal). The kernel
		 * reads the low 32 bits only.
		 */
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					SCMP_A0(SCMP_CMP_MASKED_EQ,
						0xffffffffUL,
						RV__SC_PTHREAD_CLONE));
	case RV__SC_ENOSYS:
		return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
	case RV__SC_NO_EXEC:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC,
						0));
	case RV__SC_PRCTL:
		for (i = 0; i < RV_ARRAY_SIZE(prctl_ok); i++) {
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					      SCMP_A0(SCMP_CMP_EQ,
						      prctl_ok[i]));
			if (rc)
				return rc;
		}
		return 0;
	case RV__SC_OWN_PROCESS:
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
					SCMP_A0(SCMP_CMP_EQ,
						(scmp_datum_t)getpid()));
	case RV__SC_SECCOMP_FILTER:
		/* Flags 0: no TSYNC, no user notification, no SPEC_ALLOW. */
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 2,
					SCMP_A0(SCMP_CMP_EQ,
						SECCOMP_SET_MODE_FILTER),
					SCMP_A1(SCMP_CMP_EQ, 0));
	}
	return -EINVAL;
}

/* libseccomp writes the program to a descriptor; read it back. */
static int export_prog(scmp_filter_ctx ctx, struct sock_fprog *prog)
{
	struct sock_filter *f = NULL;
	off_t len;
	int fd, rc;

	fd = memfd_create("raevm-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = seccomp_export_bpf(ctx, fd);
	if (rc)
		goto out;
	len = lseek(fd, 0, SEEK_END);
	if (len <= 0 || len % (off_t)sizeof(*f) ||
	    len / (off_t)sizeof(*f) > 0xffff) {
		rc = -EINVAL;
		goto out;
	}
	f = malloc((size_t)len);
	if (!f) {
		rc = -ENOMEM;
		goto out;
	}
	if (pread(fd, f, (size_t)len, 0) != len) {
		free(f);
		rc = -EIO;
		goto out;
	}
	prog->filter = f;
	prog->len = (unsigned short)(len / (off_t)sizeof(*f));
	rc = 0;
out:
	close(fd);
	return rc;
}

int rv__seccomp_build(unsigned int cls, bool log, struct sock_fprog *prog)
{
	scmp_filter_ctx ctx;
	size_t i;
	int rc = 0;

	prog->filter = NULL;
	prog->len = 0;
	if (cls >= RV__SB_NR_FILTERS)
		return -EINVAL;
	ctx = seccomp_init(log ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	/*
	 * A call through another ABI (int 0x80 as i386, or an x32 number with
	 * __X32_SYSCALL_BIT) is checked by libseccomp before the table and
	 * would by default kill only the calling thread; end the whole
	 * worker instead, in log mode too: no list is written for those ABIs.
	 */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
			      SCMP_ACT_KILL_PROCESS);
	if (rc) {
		seccomp_release(ctx);
		return rc;
	}
	for (i = 0; i < rv__sc_nr_rules && !rc; i++) {
		if (!rv__sc_in_class(rv__sc_rules[i].classes, cls))
			continue;
		rc = add_rule(ctx, &rv__sc_rules[i], cls);
		if (rc)
			rv_error("sandbox: seccomp rule '%s' for the %s class: "
				 "%s",
				 rv__sc_rules[i].name, class_names[cls],
				 strerror(-rc));
	}
	if (!rc)
		rc = export_prog(ctx, prog);
	seccomp_release(ctx);
	return rc;
}

void rv__seccomp_free(struct sock_fprog *prog)
{
	free(prog->filter);
	prog->filter = NULL;
	prog->len = 0;
}

int rv__seccomp_load(const struct sock_fprog *prog)
{
	/* Without privileges the kernel insists on no_new_privs first. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0)
		return -errno;
	return 0;
}
