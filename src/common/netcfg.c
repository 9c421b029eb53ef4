// SPDX-License-Identifier: Apache-2.0
/*
 * Checkers for the network, vsock and limits values (include/raevm/netcfg.h).
 * One copy serves the manifest parser, `raevmd run` and the raevm CLI, so a
 * forward or a MAC address is accepted or refused the same way wherever it
 * is written. All input here is user input: every number is range-checked
 * as text before it is converted, and every value shown back in a phrase is
 * quoted and cut so a hostile string cannot forge log lines.
 */
#include "raevm/netcfg.h"

#include "raevm/manifest.h"
#include "raevm/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHOW 40 /* characters of a value part shown in a phrase */

/* A part of the value for a phrase: printable, escaped, cut. */
static const char *part(const char *s, size_t len, char *q, size_t size)
{
	return rv_manifest_quote(s, len, SHOW, q, size);
}

/*
 * Parses s[0..len) as a decimal number of at most 10 digits. Returns
 * false for an empty span, any other character or a leading '+'/'-'.
 */
static bool span_uint(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 10)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * Parses a dotted quad into network byte order. Leading zeros are refused:
 * inet_aton() would read "010" as octal 8, and a user would not.
 */
static bool span_ipv4(const char *s, size_t len, uint32_t *out)
{
	uint32_t addr = 0;
	size_t i = 0;
	int parts;

	for (parts = 0; parts < 4; parts++) {
		size_t start = i;
		uint64_t v;

		while (i < len && s[i] != '.')
			i++;
		if (!span_uint(s + start, i - start, &v) || v > 255 ||
		    (i - start > 1 && s[start] == '0'))
			return false;
		addr = addr << 8 | (uint32_t)v;
		if (parts < 3) {
			if (i >= len)
				return false;
			i++; /* the dot */
		}
	}
	if (i != len)
		return false;
	*out = __builtin_bswap32(addr);
	return true;
}

/* One side of a forward, "[ADDR]:PORT"; side is "host" or "guest". */
static const char *forward_side(const char *s, size_t len, const char *side,
				uint32_t empty_addr, uint32_t *addr,
				uint16_t *port, char *buf, size_t size)
{
	const char *colon = memrchr(s, ':', len);
	char q[SHOW * 4 + 8];
	size_t alen;
	uint64_t p;

	if (!colon)
		return NULL; /* the caller reports the shape */
	alen = (size_t)(colon - s);
	if (alen == 0) {
		*addr = empty_addr;
	} else if (!span_ipv4(s, alen, addr)) {
		snprintf(
			buf, size,
			"%s address '%s' is not an IPv4 address such as 127.0.0.1",
			side, part(s, alen, q, sizeof(q)));
		return buf;
	}
	if (!span_uint(colon + 1, len - alen - 1, &p) || p < 1 || p > 65535) {
		snprintf(buf, size,
			 "%s port '%s' is not a number from 1 to 65535", side,
			 part(colon + 1, len - alen - 1, q, sizeof(q)));
		return buf;
	}
	*port = (uint16_t)p;
	return NULL;
}

const char *rv_net_forward_parse(const char *text, struct rv_net_forward *out,
				 char *buf, size_t size)
{
	static const char shape[] =
		"expected PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT such as tcp:127.0.0.1:2222-:22";
	struct rv_net_forward fw = { 0 };
	const char *colon = strchr(text, ':');
	const char *dash, *rest, *problem;
	char q[SHOW * 4 + 8];
	size_t plen;

	if (!colon)
		return shape;
	plen = (size_t)(colon - text);
	if (plen == 3 && memcmp(text, "tcp", 3) == 0) {
		fw.udp = false;
	} else if (plen == 3 && memcmp(text, "udp", 3) == 0) {
		fw.udp = true;
	} else {
		snprintf(buf, size, "unknown protocol '%s' (use tcp or udp)",
			 part(text, plen, q, sizeof(q)));
		return buf;
	}
	rest = colon + 1;
	dash = strchr(rest, '-');
	if (!dash || strchr(dash + 1, '-') ||
	    !memchr(rest, ':', (size_t)(dash - rest)) || !strchr(dash + 1, ':'))
		return shape;
	problem = forward_side(rest, (size_t)(dash - rest), "host",
			       __builtin_bswap32(0x7f000001), &fw.host_addr,
			       &fw.host_port, buf, size);
	if (problem)
		return problem;
	problem = forward_side(dash + 1, strlen(dash + 1), "guest", 0,
			       &fw.guest_addr, &fw.guest_port, buf, size);
	if (problem)
		return problem;
	*out = fw;
	return NULL;
}

static void format_ipv4(uint32_t be, char *buf, size_t size)
{
	uint32_t a = __builtin_bswap32(be);

	snprintf(buf, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff,
		 (a >> 8) & 0xff, a & 0xff);
}

const char *rv_net_forward_format(const struct rv_net_forward *fw, char *buf,
				  size_t size)
{
	char host[16], guest[16] = "";

	format_ipv4(fw->host_addr, host, sizeof(host));
	if (fw->guest_addr)
		format_ipv4(fw->guest_addr, guest, sizeof(guest));
	snprintf(buf, size, "%s:%s:%u-%s:%u", fw->udp ? "udp" : "tcp", host,
		 fw->host_port, guest, fw->guest_port);
	return buf;
}

bool rv_net_forward_clash(const struct rv_net_forward *a,
			  const struct rv_net_forward *b)
{
	return a->udp == b->udp && a->host_port == b->host_port &&
	       (a->host_addr == b->host_addr || a->host_addr == 0 ||
		b->host_addr == 0);
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

const char *rv_net_mac_parse(const char *text, uint8_t out[6], char *buf,
			     size_t size)
{
	uint8_t mac[6];
	int i;

	(void)buf;
	(void)size;
	if (strlen(text) != 17)
		return "is not a MAC address such as 52:54:00:12:34:56";
	for (i = 0; i < 6; i++) {
		int hi = hex(text[i * 3]), lo = hex(text[i * 3 + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && text[i * 3 + 2] != ':'))
			return "is not a MAC address such as 52:54:00:12:34:56";
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	if (mac[0] & 1)
		return "is a multicast address (a NIC needs a unicast one: the first byte must be even)";
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return "is all zeros (not a usable address)";
	memcpy(out, mac, 6);
	return NULL;
}

const char *rv_net_mac_format(const uint8_t mac[6], char *buf, size_t size)
{
	snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
		 mac[2], mac[3], mac[4], mac[5]);
	return buf;
}

_Static_assert(RV_CONFIG_MIN_MTU == 68 && RV_CONFIG_MAX_MTU == 65535,
	       "the MTU phrase spells these out");

const char *rv_net_mtu_problem(uint64_t mtu, char *buf, size_t size)
{
	(void)buf;
	(void)size;
	if (mtu < RV_CONFIG_MIN_MTU || mtu > RV_CONFIG_MAX_MTU)
		return "is not an MTU from 68 to 65535";
	return NULL;
}

const char *rv_net_tap_name_problem(const char *name, char *buf, size_t size)
{
	size_t len = strlen(name);
	const char *c;

	if (len == 0)
		return "is empty";
	for (c = name; *c; c++) {
		unsigned char ch = (unsigned char)*c;

		if (ch <= 0x20 || ch >= 0x7f || ch == '/' || ch == ':') {
			if (ch > 0x20 && ch < 0x7f)
				snprintf(
					buf, size,
					"contains '%c', which an interface name cannot hold",
					ch);
			else
				snprintf(
					buf, size,
					"contains the byte 0x%02x (use printable ASCII without spaces)",
					ch);
			return buf;
		}
	}
	if (len > RV_CONFIG_TAP_NAME_MAX) {
		snprintf(
			buf, size,
			"is too long (%zu bytes; an interface name has at most %d)",
			len, RV_CONFIG_TAP_NAME_MAX);
		return buf;
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "is not a valid interface name";
	return NULL;
}

const char *rv_limit_cpuset_problem(const char *text, unsigned int *count,
				    char *buf, size_t size)
{
	static const char shape[] = "is not a CPU list such as 0-1,3";
	uint8_t seen[(RV_LIMIT_MAX_CPU + 8) / 8];
	const char *item = text;
	unsigned int n = 0;

	if (text[0] == '\0')
		return "is empty";
	if (strlen(text) > RV_LIMIT_CPUSET_MAX) {
		snprintf(buf, size, "is too long (%zu bytes; the limit is %d)",
			 strlen(text), RV_LIMIT_CPUSET_MAX);
		return buf;
	}
	memset(seen, 0, sizeof(seen));
	for (;;) {
		size_t len = strcspn(item, ",");
		const char *dash = memchr(item, '-', len);
		uint64_t lo, hi;

		if (dash) {
			if (!span_uint(item, (size_t)(dash - item), &lo) ||
			    !span_uint(dash + 1,
				       len - (size_t)(dash - item) - 1, &hi))
				return shape;
		} else {
			if (!span_uint(item, len, &lo))
				return shape;
			hi = lo;
		}
		if (hi > RV_LIMIT_MAX_CPU) {
			snprintf(buf, size,
				 "names CPU %llu (the highest is %d)",
				 (unsigned long long)hi, RV_LIMIT_MAX_CPU);
			return buf;
		}
		if (lo > hi) {
			snprintf(
				buf, size,
				"has the range %llu-%llu, which runs backwards",
				(unsigned long long)lo, (unsigned long long)hi);
			return buf;
		}
		for (; lo <= hi; lo++) {
			if (!(seen[lo / 8] & (1u << (lo % 8))))
				n++;
			seen[lo / 8] |= (uint8_t)(1u << (lo % 8));
		}
		if (item[len] == '\0')
			break;
		item += len + 1;
	}
	if (count)
		*count = n;
	return NULL;
}

const char *rv_limit_memory_problem(uint64_t bytes, char *buf, size_t size)
{
	(void)buf;
	(void)size;
	_Static_assert(RV_LIMIT_MIN_MEMORY == 32 * RV_MiB, "phrase says 32M");
	if (bytes < RV_LIMIT_MIN_MEMORY)
		return "is below the minimum of 32M";
	if (bytes > RV_LIMIT_MAX_MEMORY)
		return "is above the maximum of 16T";
	return NULL;
}

const char *rv_limit_memory_parse(const char *text, uint64_t *out, char *buf,
				  size_t size)
{
	uint64_t bytes;
	int rc = rv_parse_size(text, &bytes);

	if (rc == -ERANGE)
		return "is above the maximum of 16T";
	if (rc)
		return "is not a size such as 512M or 2G";
	if (rv_limit_memory_problem(bytes, buf, size))
		return rv_limit_memory_problem(bytes, buf, size);
	*out = bytes;
	return NULL;
}

const char *rv_limit_memory_vs_guest(uint64_t limit, uint64_t guest_memory,
				     char *buf, size_t size)
{
	char l[32], g[32];

	if (limit > guest_memory)
		return NULL;
	snprintf(
		buf, size,
		"%s is not larger than the guest's memory (%s): the limit counts guest RAM and raevm's own use",
		rv_format_size(limit, l, sizeof(l)),
		rv_format_size(guest_memory, g, sizeof(g)));
	return buf;
}

const char *rv_limit_cpu_problem(uint64_t pct, char *buf, size_t size)
{
	(void)buf;
	(void)size;
	_Static_assert(RV_LIMIT_MAX_CPU_PCT == 25400, "phrase says 25400");
	if (pct < 1 || pct > RV_LIMIT_MAX_CPU_PCT)
		return "is not a percentage of one CPU from 1 to 25400";
	return NULL;
}

const char *rv_limit_pids_problem(uint64_t pids, char *buf, size_t size)
{
	(void)buf;
	(void)size;
	_Static_assert(RV_LIMIT_MIN_PIDS == 8 && RV_LIMIT_MAX_PIDS == 4194304,
		       "phrase spells these out");
	if (pids < RV_LIMIT_MIN_PIDS || pids > RV_LIMIT_MAX_PIDS)
		return "is not a number of tasks from 8 to 4194304";
	return NULL;
}

const char *rv_vsock_cid_problem(uint64_t cid, char *buf, size_t size)
{
	(void)buf;
	(void)size;
	_Static_assert(RV_CONFIG_VSOCK_MIN_CID == 3 &&
			       RV_CONFIG_VSOCK_MAX_CID == 4294967294U,
		       "phrase spells these out");
	if (cid < RV_CONFIG_VSOCK_MIN_CID || cid > RV_CONFIG_VSOCK_MAX_CID)
		return "is not a guest CID from 3 to 4294967294 (0-2 are reserved)";
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Command-line SPECs                                                     */

/* Splits item[0..len) at its first '='. */
struct item {
	const char *key;
	size_t key_len;
	const char *value; /* NULL: no '=' */
	size_t value_len;
};

static struct item split_item(const char *s, size_t len)
{
	const char *eq = memchr(s, '=', len);
	struct item it = { s, eq ? (size_t)(eq - s) : len, NULL, 0 };

	if (eq) {
		it.value = eq + 1;
		it.value_len = len - it.key_len - 1;
	}
	return it;
}

static bool key_is(const struct item *it, const char *key)
{
	return it->key_len == strlen(key) &&
	       memcmp(it->key, key, it->key_len) == 0;
}

/* "unknown option 'x' (did you mean 'y'?)" over the keys of a SPEC. */
static const char *unknown_key(const struct item *it, const char *const *keys,
			       size_t nr_keys, const char *known, char *buf,
			       size_t size)
{
	char word[32], q[SHOW * 4 + 8];
	const char *close = NULL;

	if (it->key_len < sizeof(word)) {
		memcpy(word, it->key, it->key_len);
		word[it->key_len] = '\0';
		close = rv_manifest_suggest(word, keys, nr_keys);
	}
	if (close)
		snprintf(buf, size, "unknown option '%s' (did you mean '%s'?)",
			 part(it->key, it->key_len, q, sizeof(q)), close);
	else
		snprintf(buf, size, "unknown option '%s' (known: %s)",
			 part(it->key, it->key_len, q, sizeof(q)), known);
	return buf;
}

/* Copies a value for a checker that wants a C string. */
static const char *value_copy(const struct item *it, char *out, size_t size)
{
	if (it->value_len >= size)
		return NULL;
	memcpy(out, it->value, it->value_len);
	out[it->value_len] = '\0';
	return out;
}

/* "<key> <value> <phrase>": a value and its checker's phrase. */
static const char *value_phrase(const char *what, const struct item *it,
				const char *phrase, char *buf, size_t size)
{
	char q[SHOW * 4 + 8], p[RV_NETCFG_PHRASE_LEN];

	snprintf(p, sizeof(p), "%s", phrase); /* phrase may live in buf */
	snprintf(buf, size, "%s '%s' %s", what,
		 part(it->value, it->value_len, q, sizeof(q)), p);
	return buf;
}

static const char *const net_keys[] = { "forward", "restrict", "mac",
					"mtu",	   "name",     "fd" };
#define NET_KEYS "forward, restrict, mac, mtu, name, fd"

static const char *net_forward(struct rv_net_config *net, const struct item *it,
			       char *buf, size_t size)
{
	char v[RV_NET_FORWARD_STR_LEN + 32], p[RV_NETCFG_PHRASE_LEN];
	struct rv_net_forward fw;
	const char *problem;
	unsigned int i;

	if (net->nr_forwards == RV_CONFIG_MAX_FORWARDS) {
		snprintf(buf, size, "too many forwards (the limit is %d)",
			 RV_CONFIG_MAX_FORWARDS);
		return buf;
	}
	if (!value_copy(it, v, sizeof(v)))
		return value_phrase("forward", it, "is too long", buf, size);
	problem = rv_net_forward_parse(v, &fw, p, sizeof(p));
	if (problem) {
		snprintf(buf, size, "forward '%s': %s", v, problem);
		return buf;
	}
	for (i = 0; i < net->nr_forwards; i++) {
		if (rv_net_forward_clash(&net->forwards[i], &fw)) {
			snprintf(
				buf, size,
				"forward '%s' uses the same host port as an earlier forward",
				v);
			return buf;
		}
	}
	net->forwards[net->nr_forwards++] = fw;
	return NULL;
}

static const char *net_option(struct rv_net_config *net, const struct item *it,
			      bool seen[RV_ARRAY_SIZE(net_keys)], char *buf,
			      size_t size)
{
	char v[64], p[RV_NETCFG_PHRASE_LEN];
	const char *problem;
	uint64_t n;
	size_t k;

	if (it->key_len == 0)
		return "empty option";
	for (k = 0; k < RV_ARRAY_SIZE(net_keys); k++)
		if (key_is(it, net_keys[k]))
			break;
	if (k == RV_ARRAY_SIZE(net_keys))
		return unknown_key(it, net_keys, RV_ARRAY_SIZE(net_keys),
				   NET_KEYS, buf, size);
	if (k != 0 && seen[k]) {
		snprintf(buf, size, "'%s' given twice", net_keys[k]);
		return buf;
	}
	seen[k] = true;
	if (k == 1) {
		if (it->value)
			return "'restrict' takes no value";
		net->restrict_net = true;
		return NULL;
	}
	if (!it->value || it->value_len == 0) {
		snprintf(buf, size, "'%s' needs a value", net_keys[k]);
		return buf;
	}
	if (k == 0)
		return net_forward(net, it, buf, size);
	if (!value_copy(it, v, sizeof(v)))
		return value_phrase(net_keys[k], it, "is too long", buf, size);
	switch (k) {
	case 2:
		problem = rv_net_mac_parse(v, net->mac, p, sizeof(p));
		if (problem)
			return value_phrase("mac", it, problem, buf, size);
		net->mac_set = true;
		return NULL;
	case 3:
		if (rv_parse_uint(v, 0, UINT32_MAX, &n) ||
		    rv_net_mtu_problem(n, p, sizeof(p)))
			return value_phrase("mtu", it,
					    "is not an MTU from 68 to 65535",
					    buf, size);
		net->mtu = (unsigned int)n;
		return NULL;
	case 4:
		problem = rv_net_tap_name_problem(v, p, sizeof(p));
		if (problem)
			return value_phrase("name", it, problem, buf, size);
		net->tap_name = strdup(v);
		return net->tap_name ? NULL : "out of memory";
	default:
		/* fd 0-2 are stdio, never a tap someone handed over. */
		if (rv_parse_uint(v, 3, INT32_MAX, &n))
			return value_phrase(
				"fd", it,
				"is not a file descriptor number (3 or more)",
				buf, size);
		net->tap_fd = (int)n;
		return NULL;
	}
}

/* Options that belong to one mode only. */
static const char *net_mode_check(const struct rv_net_config *net,
				  const bool seen[RV_ARRAY_SIZE(net_keys)])
{
	if (net->mode == RV_NET_USER) {
		if (seen[4] || seen[5])
			return "'name' and 'fd' are for a tap NIC (start the SPEC with tap)";
		return NULL;
	}
	if (seen[0] || seen[1])
		return "'forward' and 'restrict' are for a user-mode NIC, not a tap";
	if (seen[4] && seen[5])
		return "give a tap either 'name' or 'fd', not both";
	if (!seen[4] && !seen[5])
		return "a tap needs name=IF (the device to open or create) or fd=N";
	return NULL;
}

const char *rv_net_spec_parse(const char *spec, struct rv_net_config *net,
			      bool *none, char *buf, size_t size)
{
	bool seen[RV_ARRAY_SIZE(net_keys)] = { false };
	const char *item = spec, *problem = NULL;
	size_t len = strcspn(spec, ",");
	char q[SHOW * 4 + 8];

	rv_net_config_init(net);
	*none = false;
	if (spec[0] == '\0')
		return "empty SPEC (use user, tap,name=IF or none)";
	if (len == 4 && memcmp(spec, "none", 4) == 0) {
		if (spec[4])
			return "'none' takes no options";
		*none = true;
		return NULL;
	}
	if (len == 4 && memcmp(spec, "user", 4) == 0) {
		net->mode = RV_NET_USER;
		item += spec[len] ? len + 1 : len;
	} else if (len == 3 && memcmp(spec, "tap", 3) == 0) {
		net->mode = RV_NET_TAP;
		item += spec[len] ? len + 1 : len;
	} else if (!memchr(spec, '=', len) &&
		   !(len == 8 && memcmp(spec, "restrict", 8) == 0)) {
		snprintf(buf, size, "unknown mode '%s' (use user, tap or none)",
			 part(spec, len, q, sizeof(q)));
		return buf;
	}
	while (*item || (item > spec && item[-1] == ',')) {
		struct item it;

		len = strcspn(item, ",");
		it = split_item(item, len);
		problem = net_option(net, &it, seen, buf, size);
		if (problem || item[len] == '\0')
			break;
		item += len + 1;
	}
	if (!problem)
		problem = net_mode_check(net, seen);
	if (problem) {
		free(net->tap_name);
		rv_net_config_init(net);
	}
	return problem;
}

const char *rv_vsock_spec_parse(const char *spec, struct rv_vsock_config *vs,
				char *buf, size_t size)
{
	static const char *const keys[] = { "cid", "socket" };
	struct rv_vsock_config out = { .enabled = true };
	const char *item = spec, *problem = NULL;
	bool have_cid = false, have_socket = false;
	char v[16], p[RV_NETCFG_PHRASE_LEN];
	uint64_t n;

	if (spec[0] == '\0')
		return "empty SPEC (use cid=N[,socket=PATH])";
	for (;;) {
		size_t len = strcspn(item, ",");
		struct item it = split_item(item, len);

		if (len == 0) {
			problem = "empty option";
		} else if (key_is(&it, "cid")) {
			if (have_cid) {
				problem = "'cid' given twice";
			} else if (!it.value || !it.value_len) {
				problem = "'cid' needs a value";
			} else if (!value_copy(&it, v, sizeof(v)) ||
				   rv_parse_uint(v, 0, UINT64_MAX >> 1, &n) ||
				   rv_vsock_cid_problem(n, p, sizeof(p))) {
				problem = value_phrase(
					"cid", &it,
					"is not a guest CID from 3 to 4294967294 (0-2 are reserved)",
					buf, size);
			} else {
				out.cid = (uint32_t)n;
				have_cid = true;
			}
		} else if (key_is(&it, "socket")) {
			if (have_socket) {
				problem = "'socket' given twice";
			} else if (!it.value || !it.value_len) {
				problem = "'socket' needs a value";
			} else if (it.value_len > RV_MANIFEST_SOCKET_PATH_MAX) {
				snprintf(
					buf, size,
					"socket path too long for a Unix socket (%zu bytes; the limit is %d)",
					it.value_len,
					RV_MANIFEST_SOCKET_PATH_MAX);
				problem = buf;
			} else {
				free(out.socket);
				out.socket = strndup(it.value, it.value_len);
				have_socket = true;
				if (!out.socket)
					problem = "out of memory";
			}
		} else {
			problem = unknown_key(&it, keys, RV_ARRAY_SIZE(keys),
					      "cid, socket", buf, size);
		}
		if (problem || item[len] == '\0')
			break;
		item += len + 1;
	}
	if (!problem && !have_cid)
		problem = "'cid' is required (cid=N, 3 or more)";
	if (problem) {
		free(out.socket);
		return problem;
	}
	*vs = out;
	return NULL;
}

const char *rv_limit_spec_parse(const char *spec, struct rv_limits_config *lim,
				char *buf, size_t size)
{
	static const char *const keys[] = { "memory", "cpu", "cpuset", "pids" };
	struct item it = split_item(spec, strlen(spec));
	char v[RV_LIMIT_CPUSET_MAX + 1], p[RV_NETCFG_PHRASE_LEN];
	const char *problem;
	uint64_t n;
	size_t k;
	char *copy;

	for (k = 0; k < RV_ARRAY_SIZE(keys); k++)
		if (key_is(&it, keys[k]))
			break;
	if (k == RV_ARRAY_SIZE(keys)) {
		if (it.key_len == 0)
			return "expected KEY=VALUE (memory, cpu, cpuset or pids)";
		return unknown_key(&it, keys, RV_ARRAY_SIZE(keys),
				   "memory, cpu, cpuset, pids", buf, size);
	}
	if (!it.value || it.value_len == 0) {
		snprintf(buf, size, "'%s' needs a value", keys[k]);
		return buf;
	}
	if (!value_copy(&it, v, sizeof(v)))
		return value_phrase(keys[k], &it, "is too long", buf, size);
	switch (k) {
	case 0:
		problem = rv_limit_memory_parse(v, &lim->memory, p, sizeof(p));
		break;
	case 1:
		problem =
			rv_parse_uint(v, 0, UINT32_MAX, &n) ?
				"is not a percentage of one CPU from 1 to 25400" :
				rv_limit_cpu_problem(n, p, sizeof(p));
		if (!problem)
			lim->cpu_pct = (unsigned int)n;
		break;
	case 2:
		problem = rv_limit_cpuset_problem(v, NULL, p, sizeof(p));
		if (problem)
			break;
		copy = strdup(v);
		if (!copy)
			return "out of memory";
		free(lim->cpuset);
		lim->cpuset = copy;
		break;
	default:
		problem = rv_parse_uint(v, 0, UINT32_MAX, &n) ?
				  "is not a number of tasks from 8 to 4194304" :
				  rv_limit_pids_problem(n, p, sizeof(p));
		if (!problem)
			lim->pids = (unsigned int)n;
		break;
	}
	if (problem)
		return value_phrase(keys[k], &it, problem, buf, size);
	return NULL;
}
