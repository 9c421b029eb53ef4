/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_NETCFG_H
#define RAEVM_NETCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raevm/config.h"

/*
 * The values of the network, vsock and limits settings, checked the same
 * way wherever they are written: `raevmd run` flags, `raevm create`/`set`
 * flags and .raeVM manifests (docs/manifest.md, docs/networking.md).
 *
 * Every checker returns NULL when the value is good (and fills *out), or a
 * phrase. The phrases of the *_problem and single-value parsers complete
 * "<where>: <value> <phrase>" ("is not an MTU from 68 to 65535"); those of
 * the forward and SPEC parsers complete "<where>: <phrase>" and name the
 * part that is wrong ("host port '0' is not a number from 1 to 65535"). Phrases are static or written into buf; give buf at least
 * RV_NETCFG_PHRASE_LEN bytes. Nothing is allocated unless a function says
 * so, and nothing is left allocated when it fails.
 */
#define RV_NETCFG_PHRASE_LEN 192

/* Limits (manifest "limits", `--limit`); docs/security.md says why. */
#define RV_LIMIT_MIN_MEMORY (32ULL * 1024 * 1024) /* worker + smallest guest */
#define RV_LIMIT_MAX_MEMORY (16ULL * 1024 * 1024 * 1024 * 1024)
#define RV_LIMIT_MAX_CPU_PCT 25400 /* 254 vCPUs, each a whole CPU */
#define RV_LIMIT_MIN_PIDS 8	   /* main loop, a vCPU, I/O and helpers */
#define RV_LIMIT_MAX_PIDS 4194304  /* the kernel's PID_MAX_LIMIT */
#define RV_LIMIT_MAX_CPU 8191	   /* highest CPU number in a cpuset */
#define RV_LIMIT_CPUSET_MAX 256	   /* bytes of a cpuset list */

/* "52:54:00:12:34:56" plus its terminator. */
#define RV_NET_MAC_STR_LEN 18
/* "udp:255.255.255.255:65535-255.255.255.255:65535" plus its terminator. */
#define RV_NET_FORWARD_STR_LEN 48

/*
 * Parses a forward "PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT": PROTO
 * is tcp or udp, addresses are dotted IPv4 quads, ports 1 to 65535. An
 * empty host address is stored as 127.0.0.1 (a forward is reachable from
 * other machines only when "0.0.0.0" or a LAN address is written; 0.0.0.0
 * is stored as 0); an empty guest address is stored as 0, the address the
 * guest gets from DHCP.
 */
const char *rv_net_forward_parse(const char *text, struct rv_net_forward *out,
				 char *buf, size_t size);

/*
 * Writes fw as the text rv_net_forward_parse() reads back to the same
 * forward ("tcp:127.0.0.1:2222-:22"). Returns buf.
 */
const char *rv_net_forward_format(const struct rv_net_forward *fw, char *buf,
				  size_t size);

/*
 * True when a and b cannot both be bound: same protocol and host port, and
 * the same host address or one of them on every address (0.0.0.0).
 */
bool rv_net_forward_clash(const struct rv_net_forward *a,
			  const struct rv_net_forward *b);

/*
 * Parses a MAC address "52:54:00:12:34:56" (six pairs of hex digits, either
 * case). Multicast addresses (lowest bit of the first byte set) and
 * 00:00:00:00:00:00 are refused: a NIC needs a unicast address.
 */
const char *rv_net_mac_parse(const char *text, uint8_t out[6], char *buf,
			     size_t size);

/* Writes mac as "52:54:00:12:34:56" (lower case); buf >= 18 bytes. */
const char *rv_net_mac_format(const uint8_t mac[6], char *buf, size_t size);

/* NULL when mtu is RV_CONFIG_MIN_MTU..RV_CONFIG_MAX_MTU. */
const char *rv_net_mtu_problem(uint64_t mtu, char *buf, size_t size);

/*
 * NULL when name can name a network interface: 1 to 15 bytes of printable
 * ASCII without '/', ':' or spaces, and not "." or "..".
 */
const char *rv_net_tap_name_problem(const char *name, char *buf, size_t size);

/*
 * NULL when text is a host CPU list such as "0-1,3": comma-separated CPU
 * numbers and ascending ranges, each CPU at most RV_LIMIT_MAX_CPU, at most
 * RV_LIMIT_CPUSET_MAX bytes. If count is not NULL it receives the number
 * of distinct CPUs named.
 */
const char *rv_limit_cpuset_problem(const char *text, unsigned int *count,
				    char *buf, size_t size);

/*
 * Parses the memory limit, a size such as "1G" (rv_parse_size), from
 * RV_LIMIT_MIN_MEMORY to RV_LIMIT_MAX_MEMORY.
 */
const char *rv_limit_memory_parse(const char *text, uint64_t *out, char *buf,
				  size_t size);

/* NULL when bytes is RV_LIMIT_MIN_MEMORY..RV_LIMIT_MAX_MEMORY. */
const char *rv_limit_memory_problem(uint64_t bytes, char *buf, size_t size);

/*
 * NULL when a memory limit leaves room for the guest: the limit counts the
 * whole worker, guest RAM included, so it must be larger than guest_memory.
 */
const char *rv_limit_memory_vs_guest(uint64_t limit, uint64_t guest_memory,
				     char *buf, size_t size);

/* NULL when pct is 1..RV_LIMIT_MAX_CPU_PCT (percent of one CPU). */
const char *rv_limit_cpu_problem(uint64_t pct, char *buf, size_t size);

/* NULL when pids is RV_LIMIT_MIN_PIDS..RV_LIMIT_MAX_PIDS. */
const char *rv_limit_pids_problem(uint64_t pids, char *buf, size_t size);

/* NULL when cid is RV_CONFIG_VSOCK_MIN_CID..RV_CONFIG_VSOCK_MAX_CID. */
const char *rv_vsock_cid_problem(uint64_t cid, char *buf, size_t size);

/*
 * The command-line SPECs, shared by `raevmd run` and the raevm CLI. The
 * phrase of a failed SPEC is meant for "--flag: <phrase> in '<spec>'".
 *
 * rv_net_spec_parse() reads "user[,forward=F]...[,restrict][,mac=M][,mtu=N]",
 * "tap,name=IF[,mac=M][,mtu=N]", "tap,fd=N[,mac=M][,mtu=N]" or "none". The
 * mode may be left out when an option comes first (user is implied). net is
 * initialised here; on success it may own tap_name (the caller frees it),
 * and *none says the SPEC was "none" (net is then left at its defaults).
 */
const char *rv_net_spec_parse(const char *spec, struct rv_net_config *net,
			      bool *none, char *buf, size_t size);

/*
 * Reads "cid=N[,socket=PATH]" into vs (enabled, cid, socket allocated; the
 * caller frees it). A relative socket path is kept as written.
 */
const char *rv_vsock_spec_parse(const char *spec, struct rv_vsock_config *vs,
				char *buf, size_t size);

/*
 * Reads one "KEY=VALUE" of `--limit` (memory=SIZE, cpu=PCT, cpuset=LIST,
 * pids=N) and sets that one limit in lim; other limits are kept. The
 * cpuset string is allocated (an older one is freed).
 */
const char *rv_limit_spec_parse(const char *spec, struct rv_limits_config *lim,
				char *buf, size_t size);

#endif
