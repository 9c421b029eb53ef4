/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_CONFIG_H
#define RAEVM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The description of one VM, filled from `raevmd run` flags or from a .raeVM
 * manifest. Strings are owned by the config (rv_vm_config_free releases them);
 * paths are already resolved (manifest paths against the manifest's folder).
 */
#define RV_CONFIG_DEFAULT_CPUS 1
#define RV_CONFIG_DEFAULT_MEMORY (512ULL * 1024 * 1024)
#define RV_CONFIG_MIN_MEMORY (16ULL * 1024 * 1024)

#define RV_CONFIG_MAX_DISKS 16

/* One virtio-blk disk (`--disk PATH[,format=..][,readonly][,serial=ID]`). */
struct rv_disk_config {
	char *path;
	char *format; /* "raw" or "qcow2"; NULL = raw (never guessed) */
	bool readonly;
	char *serial; /* VIRTIO_BLK_T_GET_ID; at most 20 bytes; may be NULL */
};

/*
 * What the daemon does when a VM's worker ends without being asked to
 * (manifest "restart"; docs/architecture.md "Processes"): never restart,
 * restart after a crash, or restart after any end but a requested stop.
 */
enum rv_restart_policy {
	RV_RESTART_NO = 0,
	RV_RESTART_ON_FAILURE,
	RV_RESTART_ALWAYS,
};

struct rv_vm_config {
	char *name;
	char *kernel;
	char *initrd;
	char *cmdline;
	unsigned int cpus;
	uint64_t memory;
	char *cpu_template; /* "host" or "baseline"; NULL = "host" */
	bool hugepages;
	bool memfd;
	struct rv_disk_config disks[RV_CONFIG_MAX_DISKS];
	unsigned int nr_disks;
	bool rng;	      /* virtio-rng; default on */
	char *console_socket; /* virtio-console host socket; NULL = none */
	bool autostart;	      /* the daemon starts it at start-up */
	enum rv_restart_policy restart; /* default RV_RESTART_NO */
};

void rv_vm_config_init(struct rv_vm_config *cfg);
void rv_vm_config_free(struct rv_vm_config *cfg);

#endif
