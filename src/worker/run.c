// SPDX-License-Identifier: Apache-2.0
/*
 * `raevmd run`: builds one VM from a config, attaches the board's devices
 * and the serial console to stdio, and runs a libuv loop until the VM stops.
 *
 * Start-up runs in named phases (read images, open KVM, create the VM, load
 * the kernel, create devices, start vCPUs); teardown runs in reverse.
 */
#include "raevm/run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "raevm/acpi.h"
#include "raevm/block.h"
#include "raevm/boot.h"
#include "raevm/cgroup.h"
#include "raevm/device.h"
#include "raevm/dl.h"
#include "raevm/kvm.h"
#include "raevm/log.h"
#include "raevm/mem.h"
#include "raevm/pci.h"
#include "raevm/sandbox.h"
#include "raevm/virtio.h"
#include "raevm/vcpu.h"
#include "raevm/vm.h"
#include "stdio_console.h"
#include "ephemeral.h"
#include "vmrun.h"
#include "worker.h"

#define KERNEL_MAX_BYTES (1ULL << 30)
#define INITRD_MAX_BYTES (2ULL << 30)

/* `raevmd run`: the VM, the console on stdio and the signal handling. */
struct run_ctx {
	struct rv__run_vm r;
	struct rv_stdio_console *console;
	uv_loop_t loop;
	uv_async_t stop_async;
	uv_signal_t signals[3];

	/* SIGTERM: power button, then a hard stop after the timeout. */
	unsigned int shutdown_timeout; /* seconds; 0: stop at once */
	bool shutting_down;	       /* the button was pressed */
	uv_timer_t shutdown_timer;
};

static int read_image(const char *what, const char *path, uint64_t max,
		      uint8_t **data, size_t *len)
{
	char limit[32];
	int rc = rv_read_file(path, (size_t)max, data, len);

	switch (rc) {
	case 0:
		if (*len == 0) {
			rv_error("%s '%s': the file is empty", what, path);
			free(*data);
			*data = NULL;
			return -ENOEXEC;
		}
		return 0;
	case -ENOENT:
		rv_error("%s: no such file '%s'", what, path);
		break;
	case -EFBIG:
		rv_error("%s '%s': larger than %s", what, path,
			 rv_format_size(max, limit, sizeof(limit)));
		break;
	case -EISDIR:
		rv_error("%s '%s': is a directory", what, path);
		break;
	case -EINVAL:
		rv_error("%s '%s': not a regular file", what, path);
		break;
	default:
		rv_error("%s '%s': cannot read: %s", what, path, strerror(-rc));
		break;
	}
	return rc;
}

/*
 * Two disks on one file would corrupt it through two caches. The run
 * options catch one path given twice; this catches the same file reached
 * through another name (a symbolic or hard link, "./", a bind mount).
 * A path that cannot be examined is left for rv_blk_open() to report.
 */
static int check_disk_unique(const struct rv_vm_config *cfg, unsigned int i,
			     struct stat *seen)
{
	unsigned int j;

	if (stat(cfg->disks[i].path, &seen[i]) < 0) {
		seen[i].st_ino = 0;
		return 0;
	}
	for (j = 0; j < i; j++) {
		if (seen[j].st_ino == 0 || seen[j].st_dev != seen[i].st_dev ||
		    seen[j].st_ino != seen[i].st_ino)
			continue;
		rv_error("disks[%u] '%s': the same file as disks[%u] '%s'", i,
			 cfg->disks[i].path, j, cfg->disks[j].path);
		return -EBUSY;
	}
	return 0;
}

/*
 * Phase (with the images): open every disk, so a missing file, a corrupt
 * image or a lock held by another process is one line before KVM is
 * touched: "disks[N] 'path': <what>".
 */
static int open_disks(struct rv__run_vm *c)
{
	const struct rv_vm_config *cfg = c->cfg;
	struct stat seen[RV_CONFIG_MAX_DISKS];
	char err[4352];
	unsigned int i;
	int rc;

	for (i = 0; i < cfg->nr_disks && i < RV_CONFIG_MAX_DISKS; i++) {
		const struct rv_disk_config *d = &cfg->disks[i];
		enum rv_blk_format format = RV_BLK_RAW;

		if (d->format && rv_blk_parse_format(d->format, &format)) {
			rv_error("disks[%u] '%s': unknown format '%s'", i,
				 d->path, d->format);
			return -EINVAL;
		}
		rc = check_disk_unique(cfg, i, seen);
		if (rc)
			return rc;
		/* Ephemeral: writes go to a nameless tmpfs overlay (ephemeral.h). */
		if (cfg->ephemeral && !d->readonly)
			rc = rv__ephemeral_open(
				d->path, format,
				rv__ephemeral_dir(c->runtime_dir), &c->disks[i],
				err, sizeof(err));
		else
			rc = rv_blk_open(d->path, format, d->readonly,
					 &c->disks[i], err, sizeof(err));
		if (rc) {
			rv_error("disks[%u] %s", i, err);
			return rc;
		}
	}
	return 0;
}

/*
 * After the devices are gone. A clean stop flushes what the guest wrote
 * without flushing, as a disk's own cache would on power-down.
 */
static void close_disks(struct rv__run_vm *c)
{
	unsigned int i;
	int rc;

	for (i = 0; i < RV_CONFIG_MAX_DISKS; i++) {
		if (!c->disks[i])
			continue;
		rc = rv_blk_flush(c->disks[i]);
		if (rc)
			rv_warn("disks[%u] '%s': flushing at exit failed: %s",
				i, c->disks[i]->path, strerror(-rc));
		rv_blk_close(c->disks[i]);
		c->disks[i] = NULL;
	}
}

/* Phase: read and check the kernel and initrd, before KVM is touched. */
static int read_images(struct rv__run_vm *c)
{
	const struct rv_vm_config *cfg = c->cfg;
	char err[256];
	int rc;

	rc = read_image("kernel", cfg->kernel, KERNEL_MAX_BYTES, &c->kernel,
			&c->kernel_len);
	if (rc)
		return rc;
	rc = rv_kernel_probe(c->kernel, c->kernel_len, &c->info, err,
			     sizeof(err));
	if (rc) {
		rv_error("kernel '%s': %s", cfg->kernel, err);
		return rc;
	}
	if (cfg->initrd)
		rc = read_image("initrd", cfg->initrd, INITRD_MAX_BYTES,
				&c->initrd, &c->initrd_len);
	if (rc)
		return rc;
	return open_disks(c);
}

static void free_images(struct rv__run_vm *c)
{
	free(c->initrd);
	free(c->kernel);
	c->initrd = NULL;
	c->kernel = NULL;
}

/* Phase: copy the images into guest RAM and set up the boot vCPU. */
static int load_kernel(struct rv__run_vm *c)
{
	const struct rv_vm_config *cfg = c->cfg;
	struct rv_boot_params bp = {
		.kernel = c->kernel,
		.kernel_len = c->kernel_len,
		.initrd = c->initrd,
		.initrd_len = c->initrd_len,
		.cmdline = cfg->cmdline,
		.nr_cpus = cfg->cpus,
	};
	struct rv_boot_entry entry;
	char err[256];
	int rc;

	rv_pci_vm_mmio64_window(c->vm, &bp.pci_mmio64_base,
				&bp.pci_mmio64_size);
	rc = rv_boot_load(c->vm->mem, &c->info, &bp, &entry, err, sizeof(err));
	/* The images now live in guest RAM; drop the host copies. */
	free_images(c);
	if (rc) {
		rv_error("%s", err);
		return rc;
	}
	rv_debug("kernel '%s': %s, entry 0x%llx", cfg->kernel,
		 rv_kernel_format_name(c->info.format),
		 (unsigned long long)entry.rip);
	return rv_vcpu_setup_boot(c->vm->vcpus[0], &entry);
}

/*
 * Phase: the PCI root bus, then the board's devices in table order. The
 * bus comes first so that devices may place functions on it.
 */
static int create_devices(struct rv__run_vm *c)
{
	struct rv_device_ctx dctx = {
		.vm = c->vm,
		.cfg = c->cfg,
		.console = c->console,
	};
	size_t i;
	int rc;

	rc = rv_pci_bus_create(c->vm, &c->pci);
	if (rc)
		return rc; /* logged */
	dctx.pci = c->pci;
	for (i = 0; i < rv_board_nr_devices; i++) {
		const struct rv_device_type *t = rv_board_devices[i];

		rc = t->create(&dctx, &c->devices[i]);
		if (rc)
			return rc; /* logged by the device */
		if (t == &rv_uart_type)
			c->uart = c->devices[i];
		if (t == &rv_acpi_pm_type)
			c->acpi_pm = c->devices[i];
	}
	return 0;
}

/* Phase: virtio functions on the PCI bus, from the config. */
static int create_virtio_devices(struct rv__run_vm *c)
{
	const struct rv_vm_config *cfg = c->cfg;
	unsigned int i;
	int rc;

	if (cfg->rng) {
		rc = rv_virtio_rng_create(c->vm, c->pci, &c->rng);
		if (rc)
			return rc; /* logged */
	}
	if (cfg->console_socket) {
		rc = rv_virtio_console_create(
			c->vm, c->pci, cfg->console_socket, &c->vconsole);
		if (rc)
			return rc; /* logged */
	}
	for (i = 0; i < cfg->nr_disks && i < RV_CONFIG_MAX_DISKS; i++) {
		rc = rv_virtio_blk_create(c->vm, c->pci, c->disks[i],
					  cfg->disks[i].serial, i, &c->vblk[i]);
		if (rc)
			return rc; /* logged */
	}
	for (i = 0; i < cfg->nr_nets && i < RV_CONFIG_MAX_NETS; i++) {
		rc = rv_virtio_net_create(c->vm, c->pci, &cfg->nets[i],
					  cfg->name, i, &c->vnet[i]);
		if (rc)
			return rc; /* logged */
	}
	/* After every other virtio function: destroyed first. */
	if (cfg->vsock.enabled) {
		rc = rv_virtio_vsock_create(c->vm, c->pci, &cfg->vsock,
					    &c->vsock);
		if (rc)
			return rc; /* logged */
	}
	return 0;
}

/* Runs after the vCPUs stopped: virtio, then the board, then the bus. */
static void destroy_devices(struct rv__run_vm *c)
{
	size_t i = rv_board_nr_devices;
	unsigned int d;

	rv_virtio_vsock_destroy(c->vsock);
	c->vsock = NULL;
	for (d = RV_CONFIG_MAX_NETS; d-- > 0;) {
		rv_virtio_net_destroy(c->vnet[d]);
		c->vnet[d] = NULL;
	}
	for (d = 0; d < RV_CONFIG_MAX_DISKS; d++) {
		rv_virtio_blk_destroy(c->vblk[d]);
		c->vblk[d] = NULL;
	}
	rv_virtio_console_destroy(c->vconsole);
	c->vconsole = NULL;
	rv_virtio_rng_destroy(c->rng);
	c->rng = NULL;

	while (i-- > 0) {
		if (c->devices[i])
			rv_board_devices[i]->destroy(c->devices[i]);
		c->devices[i] = NULL;
	}
	rv_pci_bus_destroy(c->pci);
	c->pci = NULL;
}

/* stdin bytes for the guest's COM1. */
static size_t uart_sink(void *opaque, const uint8_t *buf, size_t len)
{
	struct run_ctx *c = opaque;

	return rv__run_uart_input(&c->r, buf, len);
}

static void on_shutdown_timeout(uv_timer_t *t)
{
	struct run_ctx *c = t->data;

	rv_info("the guest did not power off within %u s: stopping it",
		c->shutdown_timeout);
	rv_vm_request_stop(c->r.vm, RV_STOP_HOST_REQUEST, 128 + SIGTERM);
}

/*
 * The first SIGTERM asks the guest to shut down: it presses the ACPI
 * power button and stops the VM hard (128 + SIGTERM) if the guest has not
 * powered off (status 0) after shutdown_timeout seconds. A second
 * SIGTERM, SIGINT, SIGHUP, or SIGTERM with a timeout of 0 stops at once.
 */
static void on_signal(uv_signal_t *h, int signum)
{
	struct run_ctx *c = h->data;
	uint64_t ms = (uint64_t)c->shutdown_timeout * 1000;

	if (signum == SIGTERM && !c->shutting_down && c->r.acpi_pm && ms &&
	    rv_acpi_pm_press_power_button(c->r.acpi_pm) == 0 &&
	    uv_timer_start(&c->shutdown_timer, on_shutdown_timeout, ms, 0) ==
		    0) {
		rv_info("SIGTERM: pressed the power button; stopping in %u s",
			c->shutdown_timeout);
		c->shutting_down = true;
		return;
	}
	rv_vm_request_stop(c->r.vm, RV_STOP_HOST_REQUEST, 128 + signum);
}

/* Runs on a vCPU thread (or the main thread): wake the loop. */
static void on_vm_stop(void *opaque)
{
	struct run_ctx *c = opaque;

	uv_async_send(&c->stop_async);
}

static void close_handle(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void on_stop_async(uv_async_t *h)
{
	struct run_ctx *c = h->data;

	rv_stdio_console_stop(c->console);
	uv_walk(&c->loop, close_handle, NULL);
}

/* Phase: the main loop's handles. */
static int setup_loop(struct run_ctx *c)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	unsigned int i;
	int rc;

	rc = uv_loop_init(&c->loop);
	if (rc) {
		rv_error("cannot start the main loop: %s", uv_strerror(rc));
		return rc;
	}
	uv_async_init(&c->loop, &c->stop_async, on_stop_async);
	c->stop_async.data = c;
	uv_timer_init(&c->loop, &c->shutdown_timer);
	c->shutdown_timer.data = c;
	for (i = 0; i < RV_ARRAY_SIZE(sigs); i++) {
		uv_signal_init(&c->loop, &c->signals[i]);
		c->signals[i].data = c;
		uv_signal_start(&c->signals[i], on_signal, sigs[i]);
	}
	rv_stdio_console_set_sink(c->console, uart_sink, c);
	return rv_stdio_console_start(c->console, &c->loop);
}

int rv__run_exit_status(enum rv_stop_reason reason, int code)
{
	switch (reason) {
	case RV_STOP_GUEST_EXIT:
	case RV_STOP_GUEST_RESET:
	case RV_STOP_HOST_REQUEST:
		return code & 0xff;
	case RV_STOP_GUEST_POWEROFF:
		return 0;
	case RV_STOP_NONE:
	case RV_STOP_ERROR:
		break;
	}
	return 1;
}

static int open_kvm(struct rv_kvm **kvm)
{
	const char *path = getenv("RAEVM_KVM_DEVICE");

	return rv_kvm_open(path && *path ? path : "/dev/kvm", kvm);
}

/*
 * Libraries loaded on demand that the VM's devices need, loaded now: the
 * jail that follows hides the host's library folders.
 */
static int load_libraries(const struct rv_vm_config *cfg)
{
	char err[256];
	unsigned int i;
	int rc;

	for (i = 0; i < cfg->nr_nets; i++) {
		if (cfg->nets[i].mode != RV_NET_USER)
			continue;
		rc = rv_dl_slirp_preload(err, sizeof(err));
		if (rc)
			rv_error("net[%u]: user networking: %s", i, err);
		return rc;
	}
	return 0;
}

int rv__run_open(struct rv__run_vm *r)
{
	int rc;

	rc = read_images(r);
	if (!rc)
		rc = load_libraries(r->cfg);
	if (rc)
		return rc;
	return open_kvm(&r->kvm);
}

int rv__run_build(struct rv__run_vm *r)
{
	int rc;

	rc = rv__run_open(r);
	if (rc)
		return rc;
	return rv__run_create(r);
}

int rv__run_create(struct rv__run_vm *r)
{
	int rc;

	rc = rv_vm_create(r->kvm, r->cfg, &r->vm);
	if (rc)
		return rc;
	rc = load_kernel(r);
	if (rc)
		return rc;
	rc = create_devices(r);
	if (rc)
		return rc;
	return create_virtio_devices(r);
}

void rv__run_teardown(struct rv__run_vm *r)
{
	destroy_devices(r);
	rv_vm_destroy(r->vm);
	r->vm = NULL;
	rv_kvm_close(r->kvm);
	r->kvm = NULL;
	free_images(r);
	close_disks(r);
}

size_t rv__run_uart_input(struct rv__run_vm *r, const uint8_t *buf, size_t len)
{
	return r->uart ? rv_uart_input(r->uart, buf, len) : len;
}

/*
 * rv__run_build() with the sandbox's jail between its halves
 * (include/raevm/sandbox.h). With limits, the folders holding the VM's
 * cgroup stay reachable: nobody else removes `raevmd run`'s group.
 */
static int build_vm(struct run_ctx *c, const struct rv_vm_config *cfg,
		    const struct rv_cgroup *cg)
{
	struct rv_sandbox_jail jail = { .nr_dirs = 0 };
	char own[RV_CGROUP_NR_CTRLS][PATH_MAX];
	unsigned int i;
	int rc = 0;

	if (cfg->sandbox)
		rc = rv_sandbox_enable(cfg);
	if (!rc)
		rc = rv__run_open(&c->r);
	for (i = 0; cg && i < RV_CGROUP_NR_CTRLS; i++) {
		const char *p = rv_cgroup_path(cg, (enum rv_cgroup_ctrl)i);
		char *slash;
		int n;

		if (!p || !*p || jail.nr_dirs >= RV_SANDBOX_MAX_DIRS)
			continue;
		/* OWN/raevm/NAME: OWN takes the process back at the end. */
		n = snprintf(own[i], sizeof(own[i]), "%s", p);
		if (n < 0 || (size_t)n >= sizeof(own[i]))
			continue;
		for (n = 0; n < 2 && (slash = strrchr(own[i], '/')); n++)
			*slash = '\0';
		if (own[i][0])
			jail.dirs[jail.nr_dirs++] = own[i];
	}
	if (!rc)
		rc = rv_sandbox_jail(cfg, &jail);
	if (!rc)
		rc = rv__run_create(&c->r);
	return rc;
}

/* No daemon cleans up after `raevmd run`: leave the group, remove it. */
static void remove_cgroup(struct rv_cgroup *cg, const char *group)
{
	int gone;

	if (!cg)
		return;
	gone = rv_cgroup_leave(cg);
	gone = rv_cgroup_destroy(cg) ? -1 : gone;
	if (gone)
		rv_warn("limits: cannot remove cgroup %s", group);
}

static int run_vm(const struct rv_vm_config *cfg, unsigned int shutdown_timeout)
{
	struct run_ctx c = { .r.cfg = cfg,
			     .shutdown_timeout = shutdown_timeout };
	struct rv_cgroup *cg = NULL;
	enum rv_stop_reason reason;
	char group[32];
	int rc, code = 1;

	signal(SIGPIPE, SIG_IGN);
	rc = rv_stdio_console_create(&c.console);
	if (rc) {
		rv_error("console: %s", strerror(-rc));
		return 1;
	}
	c.r.console = rv_stdio_console_chardev(c.console);
	/* Limits first, so that guest RAM is charged to the VM's cgroup. */
	snprintf(group, sizeof(group), "run-%d", (int)getpid());
	rc = rv_cgroup_enter(cfg, group, &cg);
	if (!rc)
		rc = build_vm(&c, cfg, cg);
	if (rc)
		goto out;
	rc = setup_loop(&c);
	if (!rc)
		rc = rv_sandbox_apply(cfg);
	if (rc)
		goto out;
	c.r.vm->on_stop = on_vm_stop;
	c.r.vm->on_stop_opaque = &c;
	rc = rv_vm_start(c.r.vm);
	if (!rc && cg) {
		rc = rv_cgroup_pin_vcpus(c.r.vm, &cfg->limits);
		if (rc)
			rv_vm_request_stop(c.r.vm, RV_STOP_ERROR, 1);
	}
	/* Even when a vCPU failed to start, the loop runs to wind down. */
	uv_run(&c.loop, UV_RUN_DEFAULT);
	/* The terminal comes back first, even if joining the vCPUs is slow. */
	rv_stdio_console_restore(c.console);
	reason = rv_vm_wait(c.r.vm, &code);
	uv_loop_close(&c.loop);
	rv_debug("VM stopped: %s, code %d", rv_stop_reason_name(reason), code);
	code = rc ? 1 : rv__run_exit_status(reason, code);
	rc = 0;
out:
	rv__run_teardown(&c.r);
	rv_stdio_console_destroy(c.console);
	remove_cgroup(cg, group);
	return rc ? 1 : code;
}

int rv_run_vm(const struct rv_vm_config *cfg)
{
	return run_vm(cfg, RV_RUN_SHUTDOWN_TIMEOUT_DEFAULT);
}

int rv_run_main(int argc, char **argv)
{
	struct rv_run_options opts;
	int rc, status;

	rc = rv_run_options_parse(argc, argv, &opts);
	if (rc == 1)
		return 0;
	if (rc < 0)
		return 1;
	status = run_vm(&opts.cfg, opts.shutdown_timeout);
	rv_run_options_free(&opts);
	return status;
}
