// SPDX-License-Identifier: Apache-2.0
/*
 * The manifest fields "net", "vsock", "ephemeral" and "limits" (step 4 of
 * the parser, see manifest.c). Values are judged by the checkers in
 * src/common/netcfg.c, the same ones `raevmd run` and the CLI use, and
 * each problem is reported with its JSON path; the walk goes on after a
 * problem so one run reports them all.
 */
#include "internal.h"

#include "raevm/netcfg.h"
#include "raevm/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define PATH_LEN RV__MANIFEST_PATH_LEN
#define DESCRIBE_LEN 192

#define perr rv__manifest_err
#define expected rv__manifest_expected

static bool get_bool(struct rv__manifest_parse *ps, const char *path,
		     struct json_object *v, bool *out)
{
	if (!json_object_is_type(v, json_type_boolean)) {
		expected(ps, path, "true or false", v);
		return false;
	}
	*out = json_object_get_boolean(v);
	return true;
}

/*
 * An integer in [min, max], or false after "expected <what>". json-c
 * clamps huge numbers, so a clamped value is out of range either way.
 */
static bool get_uint(struct rv__manifest_parse *ps, const char *path,
		     struct json_object *v, uint64_t min, uint64_t max,
		     const char *what, uint64_t *out)
{
	int64_t n;

	if (json_object_is_type(v, json_type_int)) {
		n = json_object_get_int64(v);
		if (n >= 0 && (uint64_t)n >= min && (uint64_t)n <= max) {
			*out = (uint64_t)n;
			return true;
		}
	}
	expected(ps, path, what, v);
	return false;
}

/* ---------------------------------------------------------------------- */
/* "net": [{"mode": "user", "forward": [...], ...}]                       */

static const char *const mode_names[] = { "user", "tap", "none" };

static const char *kind_name(int kind)
{
	return kind == RV_NET_TAP  ? "tap" :
	       kind == RV_NET_USER ? "user" :
				     "none";
}

/* Reads "mode" as text; returns RV__MANIFEST_NET_UNKNOWN for anything else. */
static int mode_of(struct json_object *v)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return RV__MANIFEST_NET_UNKNOWN;
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return RV__MANIFEST_NET_UNKNOWN;
	if (strcmp(s, "user") == 0)
		return RV_NET_USER;
	if (strcmp(s, "tap") == 0)
		return RV_NET_TAP;
	if (strcmp(s, "none") == 0)
		return RV__MANIFEST_NET_NONE;
	return RV__MANIFEST_NET_UNKNOWN;
}

static void net_mode(struct rv__manifest_parse *ps, const char *path,
		     struct json_object *v)
{
	char d[DESCRIBE_LEN];
	const char *hint = NULL;

	if (mode_of(v) != RV__MANIFEST_NET_UNKNOWN)
		return; /* read before the walk, see field_net() */
	if (json_object_is_type(v, json_type_string))
		hint = rv_manifest_suggest(json_object_get_string(v),
					   mode_names,
					   RV_ARRAY_SIZE(mode_names));
	if (hint)
		perr(ps,
		     "%s: expected \"user\", \"tap\" or \"none\", got %s (did you mean \"%s\"?)",
		     path, rv__manifest_describe(v, d, sizeof(d)), hint);
	else
		expected(ps, path, "\"user\", \"tap\" or \"none\"", v);
}

/*
 * A key that only one mode takes. Returns false (after saying so) when the
 * NIC's mode is another; an unknown mode was reported already and lets the
 * value be checked for its own sake.
 */
static bool mode_takes(struct rv__manifest_parse *ps, const char *path,
		       int kind)
{
	if (ps->net_kind == RV__MANIFEST_NET_UNKNOWN || ps->net_kind == kind)
		return true;
	if (ps->net_kind == RV__MANIFEST_NET_NONE)
		perr(ps, "%s: not used by a \"none\" entry (it means no NIC)",
		     path);
	else
		perr(ps,
		     "%s: only a %s NIC takes it (this NIC's mode is \"%s\")",
		     path, kind == RV_NET_USER ? "user-mode" : "tap",
		     kind_name(ps->net_kind));
	return false;
}

/* A key every NIC takes, but not a "none" entry. */
static bool nic_takes(struct rv__manifest_parse *ps, const char *path)
{
	if (ps->net_kind != RV__MANIFEST_NET_NONE)
		return true;
	perr(ps, "%s: not used by a \"none\" entry (it means no NIC)", path);
	return false;
}

/* A forward must not take a host port an earlier one (any NIC) has. */
static bool forward_clashes(struct rv__manifest_parse *ps,
			    const struct rv_net_forward *fw)
{
	unsigned int n, i;

	for (n = 0; n < ps->cfg.nr_nets; n++)
		for (i = 0; i < ps->cfg.nets[n].nr_forwards; i++)
			if (rv_net_forward_clash(&ps->cfg.nets[n].forwards[i],
						 fw))
				return true;
	return false;
}

static void net_forward(struct rv__manifest_parse *ps, const char *path,
			struct json_object *v)
{
	char child[PATH_LEN], d[DESCRIBE_LEN], p[RV_NETCFG_PHRASE_LEN];
	size_t i, n;

	if (!json_object_is_type(v, json_type_array)) {
		expected(ps, path,
			 "an array of forwards such as [\"tcp::2222-:22\"]", v);
		return;
	}
	if (!mode_takes(ps, path, RV_NET_USER))
		return;
	n = json_object_array_length(v);
	if (n > RV_CONFIG_MAX_FORWARDS) {
		perr(ps, "%s: too many forwards (%zu; the limit is %d)", path,
		     n, RV_CONFIG_MAX_FORWARDS);
		return;
	}
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		struct rv_net_forward fw;
		const char *s, *problem;

		snprintf(child, sizeof(child), "%s[%zu]", path, i);
		s = rv__manifest_get_string(
			ps, child, e, "a forward such as \"tcp::2222-:22\"",
			RV_MANIFEST_MAX_STRING);
		if (!s)
			continue;
		problem = rv_net_forward_parse(s, &fw, p, sizeof(p));
		if (problem) {
			perr(ps, "%s: %s in %s", child, problem,
			     rv__manifest_describe(e, d, sizeof(d)));
			continue;
		}
		if (forward_clashes(ps, &fw)) {
			perr(ps,
			     "%s: %s uses the same host port as an earlier forward",
			     child, rv__manifest_describe(e, d, sizeof(d)));
			continue;
		}
		ps->net->forwards[ps->net->nr_forwards++] = fw;
	}
}

static void net_restrict(struct rv__manifest_parse *ps, const char *path,
			 struct json_object *v)
{
	bool b;

	if (get_bool(ps, path, v, &b) && mode_takes(ps, path, RV_NET_USER))
		ps->net->restrict_net = b;
}

static void net_mac(struct rv__manifest_parse *ps, const char *path,
		    struct json_object *v)
{
	char d[DESCRIBE_LEN], p[RV_NETCFG_PHRASE_LEN];
	const char *s, *problem;
	unsigned int i;
	uint8_t mac[6];

	s = rv__manifest_get_string(
		ps, path, v, "a MAC address such as \"52:54:00:12:34:56\"",
		RV_MANIFEST_MAX_STRING);
	if (!s || !nic_takes(ps, path))
		return;
	problem = rv_net_mac_parse(s, mac, p, sizeof(p));
	if (problem) {
		perr(ps, "%s: %s %s", path,
		     rv__manifest_describe(v, d, sizeof(d)), problem);
		return;
	}
	/* Two NICs with one address confuse the guest and the switch. */
	for (i = 0; i < ps->cfg.nr_nets; i++) {
		const struct rv_net_config *o = &ps->cfg.nets[i];

		if (o != ps->net && o->mac_set && memcmp(o->mac, mac, 6) == 0) {
			perr(ps, "%s: %s is the address of an earlier NIC",
			     path, rv__manifest_describe(v, d, sizeof(d)));
			return;
		}
	}
	memcpy(ps->net->mac, mac, 6);
	ps->net->mac_set = true;
}

static void net_mtu(struct rv__manifest_parse *ps, const char *path,
		    struct json_object *v)
{
	uint64_t n;

	if (get_uint(ps, path, v, RV_CONFIG_MIN_MTU, RV_CONFIG_MAX_MTU,
		     "an MTU from 68 to 65535", &n) &&
	    nic_takes(ps, path))
		ps->net->mtu = (unsigned int)n;
}

static void net_tap(struct rv__manifest_parse *ps, const char *path,
		    struct json_object *v)
{
	char d[DESCRIBE_LEN], p[RV_NETCFG_PHRASE_LEN];
	const char *s, *problem;
	unsigned int i;

	s = rv__manifest_get_string(ps, path, v,
				    "a tap device name such as \"tap0\"",
				    RV_MANIFEST_MAX_STRING);
	if (!s || !mode_takes(ps, path, RV_NET_TAP))
		return;
	problem = rv_net_tap_name_problem(s, p, sizeof(p));
	if (problem) {
		perr(ps, "%s: %s %s", path,
		     rv__manifest_describe(v, d, sizeof(d)), problem);
		return;
	}
	for (i = 0; i < ps->cfg.nr_nets; i++) {
		const char *o = ps->cfg.nets[i].tap_name;

		if (&ps->cfg.nets[i] != ps->net && o && strcmp(o, s) == 0) {
			perr(ps, "%s: %s is the tap of an earlier NIC", path,
			     rv__manifest_describe(v, d, sizeof(d)));
			return;
		}
	}
	rv__manifest_set_string(ps, &ps->net->tap_name, s);
}

static const struct rv__manifest_field net_fields[] = {
	{ "mode", net_mode },	      { "forward", net_forward },
	{ "restrict", net_restrict }, { "mac", net_mac },
	{ "mtu", net_mtu },	      { "tap", net_tap },
};

/* One element of "net"; returns true when it was a "none" entry. */
static bool net_entry(struct rv__manifest_parse *ps, const char *path,
		      struct json_object *e)
{
	struct json_object *mode = NULL;
	int kind = RV_NET_USER;

	if (json_object_object_get_ex(e, "mode", &mode))
		kind = mode_of(mode);
	/*
	 * Counted first, so that rv_vm_config_free sees its strings; a
	 * "none" entry takes no value (mode_takes) and is uncounted below.
	 */
	ps->net = &ps->cfg.nets[ps->cfg.nr_nets++];
	rv_net_config_init(ps->net);
	ps->net_kind = kind;
	if (kind == RV_NET_TAP)
		ps->net->mode = RV_NET_TAP;
	rv__manifest_walk(ps, path, e, net_fields, RV_ARRAY_SIZE(net_fields));
	if (kind == RV_NET_TAP && !json_object_object_get_ex(e, "tap", NULL))
		perr(ps,
		     "%s: missing required key \"tap\" (the tap device to open or create)",
		     path);
	ps->net = NULL;
	if (kind == RV__MANIFEST_NET_NONE) {
		ps->cfg.nr_nets--;
		rv_net_config_init(&ps->cfg.nets[ps->cfg.nr_nets]);
		return true;
	}
	return false;
}

void rv__manifest_field_net(struct rv__manifest_parse *ps, const char *path,
			    struct json_object *v)
{
	char child[PATH_LEN];
	size_t i, n;

	if (!json_object_is_type(v, json_type_array)) {
		expected(ps, path,
			 "an array of NICs such as [{\"mode\": \"user\"}]", v);
		return;
	}
	n = json_object_array_length(v);
	if (n > RV_CONFIG_MAX_NETS) {
		perr(ps, "%s: too many NICs (%zu; the limit is %d)", path, n,
		     RV_CONFIG_MAX_NETS);
		return;
	}
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);

		snprintf(child, sizeof(child), "%s[%zu]", path, i);
		if (!json_object_is_type(e, json_type_object)) {
			expected(ps, child,
				 "a NIC object such as {\"mode\": \"user\"}",
				 e);
			continue;
		}
		if (net_entry(ps, child, e) && n > 1)
			perr(ps,
			     "%s: \"none\" must be the only entry of %s (it means no NIC)",
			     child, path);
	}
}

/* ---------------------------------------------------------------------- */
/* "vsock": {"cid": 3, "socket": "vsock.sock"}                            */

static void vsock_cid(struct rv__manifest_parse *ps, const char *path,
		      struct json_object *v)
{
	uint64_t n;

	if (get_uint(ps, path, v, RV_CONFIG_VSOCK_MIN_CID,
		     RV_CONFIG_VSOCK_MAX_CID,
		     "a guest CID from 3 to 4294967294 (0-2 are reserved)", &n))
		ps->cfg.vsock.cid = (uint32_t)n;
}

static void vsock_socket(struct rv__manifest_parse *ps, const char *path,
			 struct json_object *v)
{
	size_t len;

	rv__manifest_set_path(ps, path, &ps->cfg.vsock.socket, v);
	if (!ps->cfg.vsock.socket)
		return;
	/*
	 * Checked as resolved: bind() gets this name. Guest-initiated
	 * connections go to "<socket>_<port>", which the device checks.
	 */
	len = strlen(ps->cfg.vsock.socket);
	if (len > RV_MANIFEST_SOCKET_PATH_MAX) {
		perr(ps,
		     "%s: too long for a Unix socket (%zu bytes as resolved; the limit is %d)",
		     path, len, RV_MANIFEST_SOCKET_PATH_MAX);
		free(ps->cfg.vsock.socket);
		ps->cfg.vsock.socket = NULL;
	}
}

static const struct rv__manifest_field vsock_fields[] = {
	{ "cid", vsock_cid },
	{ "socket", vsock_socket },
};

void rv__manifest_field_vsock(struct rv__manifest_parse *ps, const char *path,
			      struct json_object *v)
{
	if (!json_object_is_type(v, json_type_object)) {
		expected(ps, path, "an object such as {\"cid\": 3}", v);
		return;
	}
	rv__manifest_walk(ps, path, v, vsock_fields,
			  RV_ARRAY_SIZE(vsock_fields));
	rv__manifest_require_key(ps, path, v, "cid");
	ps->cfg.vsock.enabled = true;
}

void rv__manifest_field_ephemeral(struct rv__manifest_parse *ps,
				  const char *path, struct json_object *v)
{
	bool b;

	if (get_bool(ps, path, v, &b))
		ps->cfg.ephemeral = b;
}

/* ---------------------------------------------------------------------- */
/* "limits": {"memory": "1G", "cpu": 150, "cpuset": "0-1", "pids": 256}   */

static void limit_memory(struct rv__manifest_parse *ps, const char *path,
			 struct json_object *v)
{
	char d[DESCRIBE_LEN], p[RV_NETCFG_PHRASE_LEN];
	const char *s, *problem;
	uint64_t bytes;

	if (json_object_is_type(v, json_type_string)) {
		s = rv__manifest_get_string(ps, path, v, "a size",
					    RV_MANIFEST_MAX_STRING);
		if (!s)
			return;
		problem = rv_limit_memory_parse(s, &bytes, p, sizeof(p));
	} else if (json_object_is_type(v, json_type_int) &&
		   json_object_get_int64(v) >= 0) {
		bytes = json_object_get_uint64(v);
		problem = rv_limit_memory_problem(bytes, p, sizeof(p));
	} else {
		expected(ps, path,
			 "a size like \"1G\" or \"512M\" or a number of bytes",
			 v);
		return;
	}
	if (problem) {
		perr(ps, "%s: %s %s", path,
		     rv__manifest_describe(v, d, sizeof(d)), problem);
		return;
	}
	ps->cfg.limits.memory = bytes;
}

static void limit_cpu(struct rv__manifest_parse *ps, const char *path,
		      struct json_object *v)
{
	uint64_t n;

	if (get_uint(
		    ps, path, v, 1, RV_LIMIT_MAX_CPU_PCT,
		    "a percentage of one CPU from 1 to 25400 (150 is one and a half CPUs)",
		    &n))
		ps->cfg.limits.cpu_pct = (unsigned int)n;
}

static void limit_cpuset(struct rv__manifest_parse *ps, const char *path,
			 struct json_object *v)
{
	char d[DESCRIBE_LEN], p[RV_NETCFG_PHRASE_LEN];
	const char *s, *problem;

	s = rv__manifest_get_string(ps, path, v, "a CPU list such as \"0-1,3\"",
				    RV_MANIFEST_MAX_STRING);
	if (!s)
		return;
	problem = rv_limit_cpuset_problem(s, NULL, p, sizeof(p));
	if (problem) {
		perr(ps, "%s: %s %s", path,
		     rv__manifest_describe(v, d, sizeof(d)), problem);
		return;
	}
	rv__manifest_set_string(ps, &ps->cfg.limits.cpuset, s);
}

static void limit_pids(struct rv__manifest_parse *ps, const char *path,
		       struct json_object *v)
{
	uint64_t n;

	if (get_uint(ps, path, v, RV_LIMIT_MIN_PIDS, RV_LIMIT_MAX_PIDS,
		     "a number of tasks from 8 to 4194304", &n))
		ps->cfg.limits.pids = (unsigned int)n;
}

static const struct rv__manifest_field limit_fields[] = {
	{ "memory", limit_memory },
	{ "cpu", limit_cpu },
	{ "cpuset", limit_cpuset },
	{ "pids", limit_pids },
};

void rv__manifest_field_limits(struct rv__manifest_parse *ps, const char *path,
			       struct json_object *v)
{
	if (!json_object_is_type(v, json_type_object)) {
		expected(ps, path, "an object such as {\"memory\": \"1G\"}", v);
		return;
	}
	rv__manifest_walk(ps, path, v, limit_fields,
			  RV_ARRAY_SIZE(limit_fields));
}

void rv__manifest_check_limits(struct rv__manifest_parse *ps,
			       struct json_object *root)
{
	char p[RV_NETCFG_PHRASE_LEN];
	const char *problem;

	/* An invalid "memory" was reported already; compare nothing then. */
	if (!ps->cfg.limits.memory ||
	    (json_object_object_get_ex(root, "memory", NULL) &&
	     !ps->have_memory))
		return;
	problem = rv_limit_memory_vs_guest(ps->cfg.limits.memory,
					   ps->cfg.memory, p, sizeof(p));
	if (problem)
		perr(ps, "limits.memory: %s", problem);
}
