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
 * Writing a list: run with RAEVM_SECCOMP_LOG=1, which lets a forbidden
 * call run and has the kernel log it ("audit: type=1326 ... syscall=N";
 * reliably only where audit is enabled; kills are logged everywhere).
 * Auditing the lists (strace of the integration suite,
 * classes told apart by filter length): docs/security.md, "How the lists
 * were audited". Every row's reason names the code path that makes the
 * call; a row kept for a path the suite does not reach says so.
 */
#include "sandbox_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
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
	{ "read", ALL, RV__SC_ANY,
	  "eventfd counters (stop, kick, ioeventfd), sockets, stdin" },
	{ "write", ALL, RV__SC_ANY,
	  "log lines to stderr, eventfd signals (irqfd, uv_async_send)" },
	{ "futex", ALL, RV__SC_ANY,
	  "pthread mutexes, condition variables and joins" },
	{ "clock_gettime", ALL, RV__SC_ANY,
	  "the vDSO falls back to the kernel on hosts whose clocksource it "
	  "cannot read (hpet, acpi_pm); unseen in the suite" },
	{ "exit", ALL, RV__SC_ANY, "a thread's own end" },
	{ "restart_syscall", ALL, RV__SC_ANY,
	  "a poll or futex wait with a timeout resumes after a signal "
	  "(the kick, or SIGTERM delivered to any unblocked thread)" },
	{ "rt_sigreturn", ALL, RV__SC_ANY,
	  "return from the vCPU kick handler and libuv's signal handler, "
	  "which the kernel may run on any thread" },
	{ "rt_sigprocmask", ALL, RV__SC_ANY,
	  "glibc masks signals around thread start and end" },
	{ "getpid", ALL, RV__SC_ANY,
	  "pthread_kill names the process (rv_vm_request_stop kicks the "
	  "vCPUs from any thread)" },
	{ "tgkill", ALL, RV__SC_OWN_PROCESS,
	  "kicks vCPU threads out of KVM_RUN (rv_vm_request_stop from any "
	  "thread, e.g. a device thread's I/O error); never another process" },
	{ "mmap", ALL, RV__SC_NO_EXEC,
	  "malloc: a thread's first allocation maps its arena; never "
	  "executable" },
	{ "mprotect", ALL, RV__SC_NO_EXEC,
	  "malloc grows a thread's arena; never executable" },
	{ "munmap", ALL, RV__SC_ANY,
	  "free of large blocks, arena trimming, thread stacks" },
	{ "mremap", M | N, RV__SC_ANY,
	  "realloc of a block glibc mapped (>= 128 KiB): the control "
	  "channel's frame buffer, slirp's socket buffers (sbreserve)" },
	{ "brk", ALL, RV__SC_ANY,
	  "malloc's main heap; a thread uses it when glibc hands it the "
	  "main arena (more threads than arenas)" },
	{ "madvise", ALL, RV__SC_ANY,
	  "glibc frees a finished thread's stack (MADV_DONTNEED) and trims "
	  "arenas" },
	{ "ioctl", ALL, RV__SC_IOCTL,
	  "KVM, block, tap and terminal requests: the per-class table below" },
	{ "prctl", M | V | B | N, RV__SC_PRCTL,
	  "pthread_setname_np names vcpuN, blkN, netN after their filter; "
	  "no_new_privs before a vCPU thread's filter (under main's)" },
	{ "close", M | N | S | C, RV__SC_ANY,
	  "clients and connections that ended; slirp's NAT sockets; "
	  "teardown of devices and handles" },
	{ "fcntl", M | N, RV__SC_ANY,
	  "libuv and the stdio console set O_NONBLOCK (F_SETFL); slirp makes "
	  "its NAT sockets non-blocking" },
	{ "exit_group", ALL, RV__SC_ANY,
	  "the process's end; abort() falls back to it on any thread" },
	{ "gettid", ALL, RV__SC_ANY,
	  "pthread_kill on itself (a vCPU that stops the VM kicks itself); "
	  "raise() in abort(), so a library assertion on a device thread "
	  "(glib in slirp) ends by SIGABRT, not as a forbidden call" },

	/* Waiting. */
	{ "epoll_wait", M | S, RV__SC_ANY,
	  "the libuv loop; the vsock thread's connections" },
	{ "epoll_ctl", M | S, RV__SC_ANY,
	  "libuv handles; vsock connections come and go" },
	{ "poll", M | B | N | C, RV__SC_ANY,
	  "device threads wait on eventfds and sockets; the stdio console "
	  "drains its output at stop" },
	{ "sched_yield", M, RV__SC_ANY,
	  "libuv spins with it while closing or reading an async handle "
	  "that another thread is signalling" },

	/* Files already open (disks, logs) and the jail's own folders. */
	{ "preadv", M | B, RV__SC_ANY,
	  "disk reads; qcow2 close on main may load a refcount block" },
	{ "preadv2", B, RV__SC_ANY,
	  "a raw disk tries the page cache first (RWF_NOWAIT, uring.c)" },
	{ "pwritev", M | B, RV__SC_ANY,
	  "disk writes; qcow2 writes its dirty tables at close on main" },
	{ "fdatasync", M | B, RV__SC_ANY, "FLUSH requests; the flush at stop" },
	{ "fallocate", B, RV__SC_ANY, "DISCARD and WRITE_ZEROES punch holes" },
	{ "io_uring_enter", B, RV__SC_ANY,
	  "reads and writes of raw disks (ring set up before the filter)" },
	{ "newfstatat", M | N, RV__SC_ANY,
	  "glibc's fstat and stat: the console log's size after rotation; "
	  "slirp checks /etc/resolv.conf before reading it" },
	{ "openat", M | N, RV__SC_ANY,
	  "the console log reopened after rotation; slirp reads "
	  "/etc/resolv.conf (only the jail's files exist)" },
	{ "rename", M, RV__SC_ANY, "console log rotation (inside the jail)" },
	{ "unlink", M, RV__SC_ANY,
	  "sockets and runtime files removed at exit" },
	{ "rmdir", M, RV__SC_ANY,
	  "`raevmd run` removes its cgroup at exit (limits; bound in the jail)" },

	/* Sockets. */
	{ "accept4", M | S | C, RV__SC_ANY,
	  "console, control and vsock clients" },
	{ "accept", N, RV__SC_ANY, "slirp accepts on a port forward's socket" },
	{ "getsockopt", M | N, RV__SC_ANY,
	  "SO_PEERCRED of a re-adopting daemon; slirp's SO_ERROR of a "
	  "non-blocking connect" },
	{ "setsockopt", M | N, RV__SC_ANY,
	  "a console viewer's send buffer; slirp's TCP and IP options" },
	{ "sendto", N | S | C, RV__SC_ANY,
	  "slirp's NAT; vsock's connect replies; the console's busy notice" },
	{ "recvfrom", N | S | C, RV__SC_ANY,
	  "slirp's NAT; vsock's connect lines; console client input" },
	{ "sendmsg", M | V | S, RV__SC_ANY,
	  "virtio-console sends on the notifying vCPU thread; vsock data" },
	{ "recvmsg", N, RV__SC_ANY,
	  "slirp reads ICMP errors (IP_RECVERR) and UDP replies" },
	{ "readv", S, RV__SC_ANY, "vsock reads host sockets into rx buffers" },
	{ "writev", N, RV__SC_ANY, "frames to a tap device" },
	{ "shutdown", M | N | S, RV__SC_ANY,
	  "half-closed connections: viewers, slirp's NAT, vsock" },
	{ "getsockname", N, RV__SC_ANY,
	  "libslirp asks a forward's socket for its address; unseen in the "
	  "suite, kept so an untested forward path cannot end the VM" },
	{ "getpeername", N, RV__SC_ANY,
	  "slirp reads the peer of an accepted forward connection" },
	{ "socket", N, RV__SC_SOCKET_INET,
	  "slirp's outbound NAT (TCP, UDP, ICMP)" },
	{ "socket", S, RV__SC_SOCKET_UNIX,
	  "guest-to-host vsock connects to <socket>_<port>" },
	{ "connect", N | S, RV__SC_ANY, "outbound NAT; <socket>_<port>" },

	/* Threads and the sandbox itself (MAIN starts the vCPU threads). */
	{ "clone", M, RV__SC_CLONE_THREAD,
	  "rv_vm_start starts the vCPU threads" },
	{ "clone3", M, RV__SC_ENOSYS,
	  "flags hidden in memory: ENOSYS makes glibc use clone" },
	{ "set_robust_list", M, RV__SC_ANY,
	  "a new vCPU thread registers its robust futexes" },
	{ "rseq", M, RV__SC_ANY, "a new vCPU thread registers its rseq area" },
	{ "sched_setaffinity", M, RV__SC_ANY,
	  "main pins each vCPU thread (limits.cpuset)" },
	{ "seccomp", M, RV__SC_SECCOMP_FILTER,
	  "a new vCPU thread adds its own (stricter) filter" },
	{ "capget", M, RV__SC_ANY,
	  "a new vCPU thread checks that it holds no capability" },
	{ "eventfd2", M | V, RV__SC_ANY,
	  "an MSI-X vector or a queue notification gets its eventfd when "
	  "the driver enables it (vCPU)" },
	{ "getrandom", M | V, RV__SC_ANY,
	  "virtio-rng fills buffers on the notifying vCPU thread" },
	{ "geteuid", M, RV__SC_ANY,
	  "a re-adopting daemon must be the same user" },
	{ "rt_sigaction", M, RV__SC_ANY, "libuv stops its signal watchers" },
#ifdef __SANITIZE_ADDRESS__
	/*
	 * Sanitizer builds only: AddressSanitizer gives every thread an
	 * alternate signal stack when it starts and takes it down at the
	 * thread's end and at _exit, and reads each new thread's stack
	 * bounds (pthread_getattr_np() asks for the affinity), so without
	 * these rows a kill-mode filter ends any thread's life cycle
	 * (tests/unit/sandbox loads them). Harmless: both concern the
	 * calling thread only.
	 */
	{ "sigaltstack", ALL, RV__SC_ANY,
	  "sanitizer builds: ASan's per-thread signal stack" },
	{ "sched_getaffinity", ALL, RV__SC_ANY,
	  "sanitizer builds: ASan reads a new thread's stack bounds through pthread_getattr_np()" },
#endif
};
const size_t rv__sc_nr_rules = RV_ARRAY_SIZE(rv__sc_rules);

const struct rv__sc_ioctl rv__sc_ioctls[] = {
	{ KVM_RUN, "KVM_RUN", M | V, "runs the guest" },
	{ KVM_GET_REGS, "KVM_GET_REGS", M | V,
	  "the RIP in an emulation-failure line (report_internal_error)" },
	{ KVM_IRQ_LINE, "KVM_IRQ_LINE", ALL,
	  "legacy and INTx interrupts, raised by whichever thread completes "
	  "the work" },
	{ KVM_SIGNAL_MSI, "KVM_SIGNAL_MSI", ALL,
	  "an MSI-X vector fired before it has a route (msix.c fire())" },
	{ KVM_IRQFD, "KVM_IRQFD", M | V,
	  "MSI-X vectors routed by the driver; unbound at teardown" },
	{ KVM_IOEVENTFD, "KVM_IOEVENTFD", M | V,
	  "queue notifications when the driver enables a queue; unbound at "
	  "teardown" },
	{ KVM_SET_GSI_ROUTING, "KVM_SET_GSI_ROUTING", M | V,
	  "MSI-X routes the driver writes; freed at teardown" },
	{ BLKDISCARD, "BLKDISCARD", B, "DISCARD on a block device" },
	{ BLKZEROOUT, "BLKZEROOUT", B, "WRITE_ZEROES on a block device" },
	{ FIONBIO, "FIONBIO", M,
	  "uv_pipe_open makes a re-adopting daemon's control connection "
	  "non-blocking (worker.c on_listen)" },
	{ FIONREAD, "FIONREAD", N,
	  "slirp sizes a UDP datagram before reading" },
	{ TCGETS, "TCGETS", M,
	  "the stdio console's restore at stop: glibc reads the terminal "
	  "around its TCSETS" },
	{ TCSETS, "TCSETS", M,
	  "the stdio console restores the terminal at stop (TCSANOW)" },
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
