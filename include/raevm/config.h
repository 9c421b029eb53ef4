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
#define RV_CONFIG_MAX_NETS 4
#define RV_CONFIG_MAX_FORWARDS 32 /* per NIC */
#define RV_CONFIG_DEFAULT_MTU 1500
#define RV_CONFIG_MIN_MTU 68
#define RV_CONFIG_MAX_MTU 65535
#define RV_CONFIG_TAP_NAME_MAX 15 /* IFNAMSIZ - 1 */
/* Guest CIDs 0-2 are reserved (hypervisor, local, host); -1U is "any". */
#define RV_CONFIG_VSOCK_MIN_CID 3U
#define RV_CONFIG_VSOCK_MAX_CID 0xfffffffeU

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

/*
 * One virtio-net NIC (`--net user[,forward=..][,restrict][,mac=..][,mtu=..]
 * | tap,name=tap0 | tap,fd=N | none`, manifest "net": [...]); see
 * docs/networking.md. `none` is not stored: it means nr_nets == 0.
 */
enum rv_net_mode {
	RV_NET_USER = 0, /* libslirp NAT, no privilege */
	RV_NET_TAP, /* a host tap device (existing, passed fd, or created) */
};

/*
 * A host port forward, "tcp:127.0.0.1:2222-:22" or "udp::5353-10.0.2.15:53":
 * PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT. Addresses are IPv4 in
 * network byte order. An empty HOSTADDR is stored as 127.0.0.1: forwards
 * never listen on every interface unless "0.0.0.0" (stored as 0) is
 * written. guest_addr 0 means the address the guest gets from DHCP. Ports
 * are host byte order, 1..65535.
 */
struct rv_net_forward {
	bool udp; /* false: TCP */
	uint32_t host_addr;
	uint16_t host_port;
	uint32_t guest_addr;
	uint16_t guest_port;
};

struct rv_net_config {
	enum rv_net_mode mode;
	bool restrict_net; /* user: air-gapped, only forwards reach the guest */
	bool mac_set;	   /* false: derived from the VM name, stable */
	uint8_t mac[6];
	unsigned int mtu; /* 0 = RV_CONFIG_DEFAULT_MTU */
	struct rv_net_forward forwards[RV_CONFIG_MAX_FORWARDS];
	unsigned int nr_forwards;
	char *tap_name; /* tap: the device to open, or to create if absent */
	int tap_fd;	/* tap: an open tap fd passed in (`fd=N`); -1 = none */
};

/*
 * virtio-vsock with Firecracker-compatible hybrid host sockets
 * (`--vsock cid=N,socket=PATH`, manifest "vsock": {"cid": N, "socket": P}).
 * socket NULL in a manifest run by the daemon means "vsock.sock in the VM's
 * runtime folder".
 */
struct rv_vsock_config {
	bool enabled;
	uint32_t cid; /* RV_CONFIG_VSOCK_MIN_CID .. RV_CONFIG_VSOCK_MAX_CID */
	char *socket;
};

/*
 * Resource limits (manifest "limits", `--limit KEY=VALUE`), applied through
 * cgroups by the sandbox (src/sandbox/cgroup.c, docs/security.md). Zero or
 * NULL means "no limit".
 */
struct rv_limits_config {
	uint64_t memory; /* bytes for the whole worker, guest RAM included */
	unsigned int cpu_pct; /* CPU quota in percent of one CPU (150 = 1.5) */
	char *cpuset;	      /* host CPUs, "0-1,3"; vCPU n pins to the n-th */
	unsigned int pids;    /* tasks (threads count) */
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
	struct rv_net_config nets[RV_CONFIG_MAX_NETS];
	unsigned int nr_nets; /* 0: no NIC (the default, and `--net none`) */
	struct rv_vsock_config vsock;
	/*
	 * Disks are written to throw-away qcow2 overlays in a tmpfs, removed
	 * when the VM stops; the images themselves are opened read-only.
	 */
	bool ephemeral;
	struct rv_limits_config limits;
	bool sandbox; /* default true; `--no-sandbox` (debugging) clears it */
};

/* Sets a NIC to its defaults: user mode, no forwards, tap_fd -1. */
void rv_net_config_init(struct rv_net_config *net);

void rv_vm_config_init(struct rv_vm_config *cfg);
void rv_vm_config_free(struct rv_vm_config *cfg);

#endif
