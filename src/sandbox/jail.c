// SPDX-License-Identifier: Apache-2.0
/*
 * The worker's jail (docs/security.md "Namespaces and the jail").
 *
 * After the VM's files are open (images read, disks and /dev/kvm open) and
 * before anything else, still single-threaded, the worker:
 *  - unshares mount, ipc and uts namespaces, the network namespace when
 *    the VM has no NIC (slirp needs the host's network and a tap is
 *    created in the current one), and, without root, a user namespace
 *    first, which maps the user to itself and gives the others;
 *  - builds a read-only tmpfs root holding only bind mounts of what the
 *    worker still reaches by path (jail->dirs, the folders of the console
 *    and vsock sockets, /dev/net/tun for a tap, /etc/resolv.conf for
 *    slirp, /dev/null and /dev/urandom), each at its host path, and
 *    pivot_roots into it; the old root is detached. There is no /proc,
 *    /sys, /home or /dev/kvm inside: what was opened before stays usable,
 *    nothing else on the host can be opened;
 *  - drops every capability but what the build still needs (caps.c).
 *
 * No pid namespace: it only takes effect in a child, and a fork here
 * would put a second process between the daemon (or a script) and the
 * VM, so that a SIGKILL of the tracked pid no longer ended the VM at once
 * (its disks stay locked for a moment) and exit statuses needed relaying.
 * What a pid namespace would stop is stopped otherwise: the filters allow
 * no kill, ptrace or process_vm_* call, tgkill only at this process, and
 * the jail has no /proc.
 *
 * Sources are opened (O_PATH) after the mount namespace exists (a bind
 * source must belong to it) but before the tmpfs is mounted, and bound
 * through /proc/self/fd, so no source can be hidden by the new root.
 */
#include "sandbox_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "raevm/config.h"
#include "raevm/log.h"

/* Where the new root is built before pivot_root (in our mount namespace). */
#define JAIL_BASE "/tmp"
#define MAX_BINDS (RV_SANDBOX_MAX_DIRS + RV_CONFIG_MAX_DISKS + 8)

struct bind {
	char path[PATH_MAX]; /* absolute, as the worker will name it */
	int fd;		     /* O_PATH of the source */
	bool dir;
	bool ro;
};

struct binds {
	struct bind b[MAX_BINDS];
	unsigned int n;
};

/* An absolute path for p: relative ones are taken from the cwd. */
static int absolute(const char *p, const char *cwd, char *out, size_t size)
{
	int n = p[0] == '/' ? snprintf(out, size, "%s", p) :
			      snprintf(out, size, "%s/%s", cwd, p);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/*
 * Adds path (a folder when dir, else a file) to bind. optional: a missing
 * source is skipped silently (resolv.conf on a host without one).
 */
static int add_bind(struct binds *bs, const char *cwd, const char *path,
		    bool dir, bool ro, bool optional)
{
	struct bind *b;
	struct stat st;
	unsigned int i;
	int rc;

	if (bs->n >= MAX_BINDS)
		return -E2BIG;
	b = &bs->b[bs->n];
	rc = absolute(path, cwd, b->path, sizeof(b->path));
	if (rc) {
		rv_error("sandbox: '%s': path too long", path);
		return rc;
	}
	/* The host's root would undo the jail. */
	if (strspn(b->path, "/") == strlen(b->path)) {
		rv_error("sandbox: '%s': the jail cannot keep the root folder "
			 "(put sockets in a folder of their own)",
			 path);
		return -EINVAL;
	}
	for (i = 0; i < bs->n; i++)
		if (strcmp(bs->b[i].path, b->path) == 0)
			return 0;
	b->fd = open(b->path, O_PATH | O_CLOEXEC);
	if (b->fd < 0 || fstat(b->fd, &st) < 0) {
		rc = -errno;
		if (b->fd >= 0)
			close(b->fd);
		if (optional)
			return 0;
		rv_error("sandbox: '%s': %s", b->path, strerror(-rc));
		return rc;
	}
	if (dir != !!S_ISDIR(st.st_mode)) {
		close(b->fd);
		rv_error("sandbox: '%s': %s", b->path,
			 dir ? "not a folder" : "is a folder");
		return dir ? -ENOTDIR : -EISDIR;
	}
	b->dir = dir;
	b->ro = ro;
	bs->n++;
	return 0;
}

/* The folder a socket file is (to be) created in. */
static int add_socket_dir(struct binds *bs, const char *cwd, const char *sock)
{
	char dir[PATH_MAX];
	char *slash;
	int rc;

	rc = absolute(sock, cwd, dir, sizeof(dir));
	if (rc)
		return rc;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return add_bind(bs, cwd, dir, true, false, false);
}

static void close_binds(struct binds *bs)
{
	unsigned int i;

	for (i = 0; i < bs->n; i++)
		if (bs->b[i].fd >= 0)
			close(bs->b[i].fd);
	bs->n = 0;
}

static int collect(const struct rv_vm_config *cfg,
		   const struct rv_sandbox_jail *jail, const char *cwd,
		   struct binds *bs)
{
	bool tap = false, user = false;
	unsigned int i;
	int rc = 0;

	for (i = 0; i < jail->nr_dirs && !rc; i++)
		rc = add_bind(bs, cwd, jail->dirs[i], true, false, false);
	if (!rc && cfg->console_socket)
		rc = add_socket_dir(bs, cwd, cfg->console_socket);
	if (!rc && cfg->vsock.enabled && cfg->vsock.socket)
		rc = add_socket_dir(bs, cwd, cfg->vsock.socket);
	/* virtio-blk reads a qcow2 header by path for the discard hint. */
	for (i = 0; i < cfg->nr_disks && i < RV_CONFIG_MAX_DISKS && !rc; i++)
		if (cfg->disks[i].format &&
		    strcmp(cfg->disks[i].format, "qcow2") == 0)
			rc = add_bind(bs, cwd, cfg->disks[i].path, false, true,
				      true);
	for (i = 0; i < cfg->nr_nets && i < RV_CONFIG_MAX_NETS; i++) {
		tap |= cfg->nets[i].mode == RV_NET_TAP;
		user |= cfg->nets[i].mode == RV_NET_USER;
	}
	if (!rc && tap)
		rc = add_bind(bs, cwd, "/dev/net/tun", false, false, false);
	if (!rc && user)
		rc = add_bind(bs, cwd, "/etc/resolv.conf", false, true, true);
	if (!rc)
		rc = add_bind(bs, cwd, "/dev/null", false, false, true);
	if (!rc)
		rc = add_bind(bs, cwd, "/dev/urandom", false, true, true);
	return rc;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t len = (ssize_t)strlen(text);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, (size_t)len) != len)
		rc = -errno;
	close(fd);
	return rc;
}

/* In a new user namespace: the user stays itself, nothing else exists. */
static int map_ids(uid_t uid, gid_t gid)
{
	char line[64];
	int rc;

	rc = write_file("/proc/self/setgroups", "deny");
	if (rc && rc != -ENOENT)
		return rc;
	snprintf(line, sizeof(line), "%u %u 1\n", (unsigned int)uid,
		 (unsigned int)uid);
	rc = write_file("/proc/self/uid_map", line);
	if (rc)
		return rc;
	snprintf(line, sizeof(line), "%u %u 1\n", (unsigned int)gid,
		 (unsigned int)gid);
	return write_file("/proc/self/gid_map", line);
}

/* mkdir -p of path below root; the last component is a file unless dir. */
static int make_mountpoint(const char *root, const char *path, bool dir)
{
	char full[PATH_MAX + sizeof(JAIL_BASE)];
	size_t base = strlen(root);
	char *p;
	int fd;

	if ((size_t)snprintf(full, sizeof(full), "%s%s", root, path) >=
	    sizeof(full))
		return -ENAMETOOLONG;
	for (p = full + base + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(full, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (dir)
		return mkdir(full, 0755) < 0 && errno != EEXIST ? -errno : 0;
	fd = open(full, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/*
 * Remounts the bind at target with the flags in add (MS_RDONLY, MS_NOSUID,
 * ...) on top of those it has: a bind remount must keep the flags the
 * kernel locks on mounts that came from a more privileged namespace, or
 * it is refused.
 */
static int remount(const char *target, unsigned long add)
{
	unsigned long flags = MS_BIND | MS_REMOUNT | add;
	struct statvfs sv;

	if (statvfs(target, &sv) == 0) {
		if (sv.f_flag & ST_RDONLY)
			flags |= MS_RDONLY;
		if (sv.f_flag & ST_NOSUID)
			flags |= MS_NOSUID;
		if (sv.f_flag & ST_NODEV)
			flags |= MS_NODEV;
		if (sv.f_flag & ST_NOEXEC)
			flags |= MS_NOEXEC;
		if (sv.f_flag & ST_NOATIME)
			flags |= MS_NOATIME;
		if (sv.f_flag & ST_NODIRATIME)
			flags |= MS_NODIRATIME;
		if (sv.f_flag & ST_RELATIME)
			flags |= MS_RELATIME;
	}
	return mount(NULL, target, NULL, flags, NULL) < 0 ? -errno : 0;
}

/*
 * Files the daemon keeps in a VM's folder and trusts later: the manifest
 * names the disks and kernel the next start opens as root, the state file
 * steers the restart policy. The worker needs that folder read-write (the
 * console log and its rotation), so in the jail each of these files, when
 * present, is bound read-only over itself: writes fail with EROFS, and a
 * rename over or unlink of a mount point fails with EBUSY. The mounts live
 * in the worker's namespace only; the daemon still replaces the files.
 */
static const char *const protected_files[] = { "manifest.raeVM", "state" };

static int protect_files(const char *dir)
{
	char target[PATH_MAX + sizeof(JAIL_BASE) + 32];
	struct stat st;
	size_t i;
	int rc;

	for (i = 0; i < RV_ARRAY_SIZE(protected_files); i++) {
		if ((size_t)snprintf(target, sizeof(target), "%s%s/%s",
				     JAIL_BASE, dir,
				     protected_files[i]) >= sizeof(target))
			return -ENAMETOOLONG;
		if (lstat(target, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (mount(target, target, NULL, MS_BIND, NULL) < 0)
			return -errno;
		rc = remount(target,
			     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
		if (rc)
			return rc;
	}
	return 0;
}

static int bind_all(struct binds *bs)
{
	char src[64], target[PATH_MAX + sizeof(JAIL_BASE)];
	unsigned long add;
	unsigned int i;
	int rc;

	for (i = 0; i < bs->n; i++) {
		struct bind *b = &bs->b[i];

		rc = make_mountpoint(JAIL_BASE, b->path, b->dir);
		if (rc)
			return rc;
		snprintf(src, sizeof(src), "/proc/self/fd/%d", b->fd);
		snprintf(target, sizeof(target), "%s%s", JAIL_BASE, b->path);
		if (mount(src, target, NULL, MS_BIND | MS_REC, NULL) < 0)
			return -errno;
		/*
		 * Nothing in the jail is a program or a set-id file, and
		 * only the /dev nodes bound on purpose are devices.
		 */
		add = MS_NOSUID | MS_NOEXEC | (b->ro ? MS_RDONLY : 0);
		if (strncmp(b->path, "/dev/", 5) != 0)
			add |= MS_NODEV;
		rc = remount(target, add);
		if (!rc && b->dir && !b->ro)
			rc = protect_files(b->path);
		if (rc)
			return rc;
	}
	return 0;
}

#ifdef __SANITIZE_ADDRESS__
/*
 * Sanitizer builds only (docs/security.md "Sanitizer builds"):
 * LeakSanitizer lists the threads in /proc/PID/task and reads
 * /proc/self/maps when the process exits, and dies with "Can't open
 * /proc/PID/task" in a jail without /proc. So these builds give the jail a
 * read-only procfs, which weakens it: the worker can read what /proc shows
 * of the processes it can see. Release builds never reach this.
 *
 * A fresh procfs shows the worker's own pid namespace (a daemon worker is
 * PID 1 of its own, so the host's /proc would name other processes). In a
 * user namespace that does not own the pid namespace (a rootless
 * `raevmd run`) the kernel refuses one; the pid namespace is then the
 * host's, and a read-only bind of the host's /proc names the same pids.
 * Called before pivot_root, while the host's /proc is still reachable.
 */
static int mount_sanitizer_proc(void)
{
	const unsigned long ro = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
	const char *target = JAIL_BASE "/proc";
	int rc;

	rc = make_mountpoint(JAIL_BASE, "/proc", true);
	if (rc)
		return rc;
	if (mount("proc", target, "proc", ro, NULL) == 0)
		return 0;
	if (mount("/proc", target, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -errno;
	return remount(target, ro);
}
#endif

/*
 * A bind source must be a mount of this mount namespace: the descriptors
 * opened to check the paths before unshare() name the old one's.
 */
static int reopen_sources(struct binds *bs)
{
	unsigned int i;
	int fd;

	for (i = 0; i < bs->n; i++) {
		fd = open(bs->b[i].path, O_PATH | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		close(bs->b[i].fd);
		bs->b[i].fd = fd;
	}
	return 0;
}

static int enter_root(struct binds *bs, const char *cwd)
{
	int rc;

	/* Nothing done here may reach the host's mount table. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	rc = reopen_sources(bs);
	if (rc)
		return rc;
	if (mount("raevm-jail", JAIL_BASE, "tmpfs",
		  MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=1m") < 0)
		return -errno;
	rc = bind_all(bs);
	if (!rc && cwd[0] == '/' && cwd[1])
		rc = make_mountpoint(JAIL_BASE, cwd, true);
	if (rc)
		return rc;
#ifdef __SANITIZE_ADDRESS__
	/* Without it only the leak check at exit fails: go on and say so. */
	rc = mount_sanitizer_proc();
	if (rc)
		rv_warn("sandbox: sanitizer build: no /proc in the jail (%s): "
			"LeakSanitizer will fail at exit",
			strerror(-rc));
#endif
	close_binds(bs);
	if (chdir(JAIL_BASE) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		return -errno;
	if (mount(NULL, "/", NULL,
		  MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV |
			  MS_NOEXEC,
		  NULL) < 0)
		return -errno;
	/* Relative paths in the config keep working where they can. */
	if (chdir(cwd) < 0 && chdir("/") < 0)
		return -errno;
	return 0;
}

static bool needs_tap(const struct rv_vm_config *cfg)
{
	unsigned int i;

	for (i = 0; i < cfg->nr_nets && i < RV_CONFIG_MAX_NETS; i++)
		if (cfg->nets[i].mode == RV_NET_TAP)
			return true;
	return false;
}

static int enter_jail(const struct rv_vm_config *cfg, struct binds *bs,
		      const char *cwd)
{
	struct rlimit no_core = { 0, 0 };
	int rc;

	rc = enter_root(bs, cwd);
	if (rc) {
		rv_error("sandbox: cannot build the jail: %s", strerror(-rc));
		return rc;
	}
	if (sethostname("raevm", 5) < 0)
		rv_debug("sandbox: sethostname: %s", strerror(errno));
	/* Guest memory never lands in a core file. */
	setrlimit(RLIMIT_CORE, &no_core);
	rc = rv__caps_drop_build(needs_tap(cfg));
	if (rc)
		rv_error("sandbox: cannot drop capabilities: %s",
			 strerror(-rc));
	return rc;
}

int rv_sandbox_jail(const struct rv_vm_config *cfg,
		    const struct rv_sandbox_jail *jail)
{
	struct binds *bs;
	char cwd[PATH_MAX];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
	int rc;

	if (!rv_sandbox_enabled())
		return 0;
	if (!getcwd(cwd, sizeof(cwd)))
		snprintf(cwd, sizeof(cwd), "/");
	bs = calloc(1, sizeof(*bs));
	if (!bs)
		return -ENOMEM;
	rc = collect(cfg, jail, cwd, bs);
	if (rc)
		goto out;
	/* Local time is loaded now; the jail has no /etc/localtime. */
	tzset();
	if (cfg->nr_nets == 0)
		flags |= CLONE_NEWNET;
	if (uid != 0)
		flags |= CLONE_NEWUSER;
	if (unshare(flags) < 0) {
		rc = -errno;
		rv_error("sandbox: cannot create namespaces: %s%s",
			 strerror(-rc),
			 uid != 0 ? " (are user namespaces disabled? "
				    "--no-sandbox runs without)" :
				    "");
		goto out;
	}
	if (uid != 0) {
		rc = map_ids(uid, gid);
		if (rc) {
			rv_error("sandbox: cannot map the user namespace: %s",
				 strerror(-rc));
			goto out;
		}
	}
	rc = enter_jail(cfg, bs, cwd);
out:
	close_binds(bs);
	free(bs);
	return rc;
}

/* ---------------------------------------------------------------------- */

int rv_sandbox_apply(const struct rv_vm_config *cfg)
{
	const struct sock_fprog *f = rv__sb_filter(RV_THREAD_MAIN);
	int rc;

	(void)cfg;
	if (!rv_sandbox_enabled())
		return 0;
	rc = rv__caps_drop_all();
	if (rc) {
		rv_error("sandbox: cannot drop capabilities: %s",
			 strerror(-rc));
		return rc;
	}
	rc = f ? rv__seccomp_load(f) : -EINVAL;
	if (rc) {
		rv_error("sandbox: cannot install the main thread's filter: %s",
			 strerror(-rc));
		return rc;
	}
	rv__sb_test_hook(RV_THREAD_MAIN);
	return 0;
}
