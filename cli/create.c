// SPDX-License-Identifier: Apache-2.0
/*
 * `raevm create`: builds the manifest the daemon stores, from a .raeVM file,
 * from flags, or both, and the disk SPECs that --disk (create and set)
 * takes. The file is checked with the same strict parser the daemon uses
 * before anything is sent, so its problems are reported with their lines.
 * Relative paths in flags are made absolute here; relative paths in the
 * manifest stay as written and resolve against base_dir, the manifest's
 * folder, which is sent with it.
 */
#include "cli.h"

#include "raevm/config.h"
#include "raevm/log.h"
#include "raevm/manifest.h"
#include "raevm/netcfg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Quotes a user-supplied value for an error line. */
static const char *q(const char *s, char *buf, size_t size)
{
	return rv_cli_sanitize(s, buf, size);
}

/*
 * The folder that holds path, made absolute against cwd. When it exists its
 * canonical name is used ("../vms" becomes "/srv/vms"): the daemon resolves
 * the manifest's relative paths against it, long after this cwd is gone.
 */
static char *folder_of(const char *cwd, const char *path)
{
	char *abs = rv_cli_absolute(cwd, path), *slash, *real;

	if (!abs)
		return NULL;
	slash = strrchr(abs, '/');
	if (slash == abs)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	real = realpath(abs, NULL);
	if (!real)
		return abs;
	free(abs);
	return real;
}

/* ----------------------------------------------------------------- disks */

static const char *const disk_keys[] = { "format", "readonly", "serial" };

/* One line: "<what>: <problem> in '<spec>'<hint>"; returns -EINVAL. */
static int disk_error(const char *what, const char *spec, const char *hint,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int disk_error(const char *what, const char *spec, const char *hint,
		      const char *fmt, ...)
{
	char sb[256], msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rv_error("%s: %s in '%s'%s", what, msg, q(spec, sb, sizeof(sb)),
		 hint ? hint : "");
	return -EINVAL;
}

/* Applies one "key[=value]" item of a disk SPEC to disk. */
static int disk_option(const char *what, const char *spec, char *item,
		       bool *given, struct json_object *disk)
{
	char *eq = strchr(item, '=');
	const char *close, *val = eq ? eq + 1 : NULL;
	char hint[128], buf[160], ib[128];
	size_t k;

	if (eq)
		*eq = '\0';
	for (k = 0; k < RV_ARRAY_SIZE(disk_keys); k++)
		if (strcmp(item, disk_keys[k]) == 0)
			break;
	if (k == RV_ARRAY_SIZE(disk_keys)) {
		close = rv_manifest_suggest(item, disk_keys,
					    RV_ARRAY_SIZE(disk_keys));
		if (close)
			snprintf(hint, sizeof(hint), " (did you mean '%s'?)",
				 close);
		else if (!eq)
			snprintf(hint, sizeof(hint),
				 " (a path with a comma can only be given in "
				 "a manifest)");
		else
			hint[0] = '\0';
		return disk_error(what, spec, hint, "unknown option '%s'",
				  q(item, ib, sizeof(ib)));
	}
	if (given[k])
		return disk_error(what, spec, NULL, "'%s' given twice", item);
	given[k] = true;
	if (k == 1) {
		if (val)
			return disk_error(what, spec, NULL,
					  "'%s' takes no value", item);
		return rv__cli_put(disk, "readonly",
				   json_object_new_boolean(1));
	}
	if (!val || !*val)
		return disk_error(what, spec, NULL, "'%s' needs a value", item);
	if (k == 0) {
		static const char *const formats[] = { "raw", "qcow2" };

		if (rv_manifest_disk_format_valid(val))
			return rv__cli_put_string(disk, "format", val);
		close = rv_manifest_suggest(val, formats, 2);
		snprintf(hint, sizeof(hint),
			 close ? " (did you mean '%s'?)" :
				 " (use raw or qcow2)",
			 close);
		return disk_error(what, spec, hint, "unknown format '%s'",
				  q(val, ib, sizeof(ib)));
	}
	close = rv_manifest_serial_problem(val, buf, sizeof(buf));
	if (close)
		return disk_error(what, spec, NULL, "serial %s", close);
	return rv__cli_put_string(disk, "serial", val);
}

int rv_cli_parse_disk(const char *spec, const char *cwd, const char *what,
		      struct json_object **out)
{
	bool given[RV_ARRAY_SIZE(disk_keys)] = { false };
	struct json_object *disk;
	char *copy, *item, *next, *path;
	int r;

	*out = NULL;
	copy = strdup(spec);
	disk = json_object_new_object();
	if (!copy || !disk) {
		r = -ENOMEM;
		goto err;
	}
	next = strchr(copy, ',');
	if (next)
		*next++ = '\0';
	path = copy;
	if (strncmp(path, "path=", 5) == 0)
		path += 5;
	if (!*path) {
		r = disk_error(what, spec, NULL, "empty path");
		goto err;
	}
	if (strncmp(path, "format=", 7) == 0 || strcmp(path, "readonly") == 0 ||
	    strncmp(path, "serial=", 7) == 0) {
		r = disk_error(what, spec, NULL, "the path must come first");
		goto err;
	}
	r = rv__cli_put_path(disk, "path", cwd, path);
	while (r == 0 && next) {
		item = next;
		next = strchr(item, ',');
		if (next)
			*next++ = '\0';
		if (!*item)
			r = disk_error(what, spec, NULL, "empty option");
		else
			r = disk_option(what, spec, item, given, disk);
	}
	if (r < 0)
		goto err;
	free(copy);
	*out = disk;
	return 0;
err:
	json_object_put(disk);
	free(copy);
	return r;
}

/* ------------------------------------------------------ nets and limits */

/* A NIC as its manifest entry, with only the keys that differ from the defaults. */
static struct json_object *net_json(const struct rv_net_config *n)
{
	struct json_object *o = json_object_new_object(), *fw = NULL;
	char buf[RV_NET_FORWARD_STR_LEN];
	unsigned int i;
	int r;

	if (!o)
		return NULL;
	r = rv__cli_put_string(o, "mode",
			       n->mode == RV_NET_TAP ? "tap" : "user");
	if (r == 0 && n->nr_forwards) {
		fw = json_object_new_array();
		r = fw ? 0 : -ENOMEM;
		for (i = 0; r == 0 && i < n->nr_forwards; i++)
			r = json_object_array_add(
				    fw, json_object_new_string(
						rv_net_forward_format(
							&n->forwards[i], buf,
							sizeof(buf)))) < 0 ?
				    -ENOMEM :
				    0;
		if (r == 0) {
			r = rv__cli_put(o, "forward", fw);
			fw = NULL;
		}
		json_object_put(fw);
	}
	if (r == 0 && n->restrict_net)
		r = rv__cli_put(o, "restrict", json_object_new_boolean(1));
	if (r == 0 && n->mac_set)
		r = rv__cli_put_string(
			o, "mac", rv_net_mac_format(n->mac, buf, sizeof(buf)));
	if (r == 0 && n->mtu)
		r = rv__cli_put(o, "mtu", json_object_new_int((int)n->mtu));
	if (r == 0 && n->tap_name)
		r = rv__cli_put_string(o, "tap", n->tap_name);
	if (r) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int rv_cli_parse_net(const char *spec, const char *what, bool *none,
		     struct json_object **out)
{
	char buf[RV_NETCFG_PHRASE_LEN], b[128];
	struct rv_net_config net;
	const char *problem;

	*out = NULL;
	problem = rv_net_spec_parse(spec, &net, none, buf, sizeof(buf));
	if (!problem && net.tap_fd >= 0)
		problem =
			"fd=N works only with raevmd run (the daemon cannot take a descriptor from raevm; use name=IF)";
	if (problem) {
		free(net.tap_name);
		rv_error("%s: %s in '%s'", what, problem,
			 q(spec, b, sizeof(b)));
		return -EINVAL;
	}
	if (*none)
		return 0;
	*out = net_json(&net);
	free(net.tap_name);
	return *out ? 0 : -ENOMEM;
}

/*
 * --net SPEC, repeatable: the "net" array, replacing the manifest's.
 * "none" alone gives [] (no NIC).
 */
static int nets_json(const char *const *specs, size_t n, const char *what,
		     struct json_object **out)
{
	struct json_object *arr = json_object_new_array(), *e;
	size_t i;
	bool none = false, some = false, this_none;
	int r = arr ? 0 : -ENOMEM;

	for (i = 0; r == 0 && i < n; i++) {
		r = rv_cli_parse_net(specs[i], what, &this_none, &e);
		if (r)
			break;
		none |= this_none;
		some |= !this_none;
		if (none && some) {
			json_object_put(e);
			rv_error("%s: 'none' cannot be combined with another "
				 "--net",
				 what);
			r = -EINVAL;
		} else if (e && json_object_array_add(arr, e) < 0) {
			json_object_put(e);
			r = -ENOMEM;
		}
	}
	if (r) {
		json_object_put(arr);
		return r;
	}
	*out = arr;
	return 0;
}

/* --vsock cid=N[,socket=PATH] as the manifest's "vsock" object. */
static int vsock_json(const char *spec, const char *cwd,
		      struct json_object **out)
{
	char buf[RV_NETCFG_PHRASE_LEN], b[128];
	struct rv_vsock_config vs = { 0 };
	const char *problem;
	struct json_object *o;
	int r;

	problem = rv_vsock_spec_parse(spec, &vs, buf, sizeof(buf));
	if (problem) {
		rv_error("create: --vsock: %s in '%s'", problem,
			 q(spec, b, sizeof(b)));
		return -EINVAL;
	}
	o = json_object_new_object();
	r = o ? rv__cli_put(o, "cid", json_object_new_int64(vs.cid)) : -ENOMEM;
	if (r == 0 && vs.socket)
		r = rv__cli_put_path(o, "socket", cwd, vs.socket);
	free(vs.socket);
	if (r) {
		json_object_put(o);
		return r;
	}
	*out = o;
	return 0;
}

/* One --limit KEY=VALUE, checked, set in the manifest's "limits". */
static int limit_apply(const char *spec, struct json_object *limits)
{
	char buf[RV_NETCFG_PHRASE_LEN];
	struct rv_limits_config lim = { 0 };
	const char *problem, *value = strchr(spec, '=');
	int r;

	problem = rv_limit_spec_parse(spec, &lim, buf, sizeof(buf));
	if (problem) {
		rv_error("create: --limit: %s", problem);
		free(lim.cpuset);
		return -EINVAL;
	}
	/* The value is kept as written: "1G" reads better than bytes. */
	if (strncmp(spec, "memory=", 7) == 0)
		r = rv__cli_put_string(limits, "memory", value + 1);
	else if (strncmp(spec, "cpuset=", 7) == 0)
		r = rv__cli_put_string(limits, "cpuset", lim.cpuset);
	else if (strncmp(spec, "cpu=", 4) == 0)
		r = rv__cli_put(limits, "cpu",
				json_object_new_int((int)lim.cpu_pct));
	else
		r = rv__cli_put(limits, "pids",
				json_object_new_int((int)lim.pids));
	free(lim.cpuset);
	return r;
}

/* ---------------------------------------------------------------- create */

enum create_id {
	C_NAME,
	C_KERNEL,
	C_INITRD,
	C_CMDLINE,
	C_CPUS,
	C_MEMORY,
	C_CPU_TEMPLATE,
	C_HUGEPAGES,
	C_DISK,
	C_RNG,
	C_NO_RNG,
	C_CONSOLE_SOCKET,
	C_NET,
	C_VSOCK,
	C_EPHEMERAL,
	C_LIMIT,
	C_START,
};

#define MAX_LIMIT_FLAGS 16

static const struct create_flag {
	const char *name;
	const char *value; /* placeholder; NULL when the flag takes none */
	const char *help;
} create_flags[] = {
	[C_NAME] = { "name", "NAME",
		     "the VM's name (overrides the manifest's)" },
	[C_KERNEL] = { "kernel", "PATH",
		       "the kernel to boot: PVH ELF or bzImage" },
	[C_INITRD] = { "initrd", "PATH", "initial ramdisk" },
	[C_CMDLINE] = { "cmdline", "TEXT", "kernel command line" },
	[C_CPUS] = { "cpus", "N", "number of vCPUs, 1 to 254 (default 1)" },
	[C_MEMORY] = { "memory", "SIZE",
		       "guest RAM, e.g. 512M or 2G (default 512M)" },
	[C_CPU_TEMPLATE] = { "cpu-template", "NAME",
			     "CPU model: host or baseline" },
	[C_HUGEPAGES] = { "hugepages", NULL,
			  "back guest RAM with 2 MiB huge pages" },
	[C_DISK] = { "disk", "SPEC",
		     "add a disk: PATH[,format=raw|qcow2][,readonly][,serial=ID]" },
	[C_RNG] = { "rng", NULL, "a virtio-rng device (the default)" },
	[C_NO_RNG] = { "no-rng", NULL, "no virtio-rng device" },
	[C_CONSOLE_SOCKET] = { "console-socket", "PATH",
			       "a virtio-console listening on this socket" },
	[C_NET] = { "net", "SPEC",
		    "a NIC: user[,forward=F][,restrict][,mac=M][,mtu=N], "
		    "tap,name=IF or none; repeatable (replaces the "
		    "manifest's)" },
	[C_VSOCK] = { "vsock", "SPEC", "a virtio-vsock: cid=N[,socket=PATH]" },
	[C_EPHEMERAL] = { "ephemeral", NULL,
			  "throw-away disk overlays, removed at stop" },
	[C_LIMIT] = { "limit", "KEY=VALUE",
		      "memory=SIZE, cpu=PCT, cpuset=LIST or pids=N; "
		      "repeatable" },
	[C_START] = { "start", NULL, "start the VM once created" },
};

/* Looks up a create flag by its spelling with dashes; -1 when unknown. */
static int create_find(const char *opt)
{
	size_t i;

	if (strncmp(opt, "--", 2) != 0)
		return -1;
	for (i = 0; i < RV_ARRAY_SIZE(create_flags); i++)
		if (strcmp(opt + 2, create_flags[i].name) == 0)
			return (int)i;
	return -1;
}

static bool create_is_flag(const void *ctx, const char *opt)
{
	char name[RV_CLI_FLAG_MAX + 2];
	const char *eq = strchr(opt, '=');

	(void)ctx;
	snprintf(name, sizeof(name), "%.*s",
		 (int)(eq ? (size_t)(eq - opt) : strlen(opt)), opt);
	return rv__cli_is_global(name) || create_find(name) >= 0;
}

/* Returns obj[key] as an object, adding an empty one when absent. */
static struct json_object *child(struct json_object *obj, const char *key)
{
	struct json_object *c;

	if (json_object_object_get_ex(obj, key, &c) &&
	    json_object_is_type(c, json_type_object))
		return c;
	if (rv__cli_put(obj, key, json_object_new_object()) < 0)
		return NULL;
	json_object_object_get_ex(obj, key, &c);
	return c;
}

/*
 * Reads the manifest at path, checks it with the strict parser the daemon
 * uses (which, unlike json-c, refuses duplicate keys, comments and the like,
 * and reports every problem with its line), then returns it as an object.
 */
static int load_manifest(const char *path, const char *base_dir,
			 struct json_object **out)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;
	struct json_tokener *tok;
	uint8_t *text = NULL;
	size_t len = 0, skip = 0;
	char b[256];
	int r;

	*out = NULL;
	r = rv_read_file(path, RV_MANIFEST_MAX_SIZE, &text, &len);
	if (r == -EFBIG) {
		rv_error("%s: the manifest is larger than 1 MiB",
			 q(path, b, sizeof(b)));
		return -EBADMSG;
	}
	if (r < 0) {
		rv_error("%s: cannot read it: %s", q(path, b, sizeof(b)),
			 strerror(-r));
		return r;
	}
	rv_manifest_errors_init(&errs);
	rv_vm_config_init(&cfg);
	errs.file = strdup(path);
	r = rv_manifest_parse((const char *)text, len, base_dir, &cfg, &errs);
	if (r < 0) {
		rv_manifest_errors_print(&errs);
		r = r == -ENOMEM ? -ENOMEM : -EBADMSG;
		goto out;
	}
	/* The strict parser skips a UTF-8 byte order mark; json-c does not. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		skip = 3;
	tok = json_tokener_new();
	if (!tok) {
		r = -ENOMEM;
		goto out;
	}
	*out = json_tokener_parse_ex(tok, (const char *)text + skip,
				     (int)(len - skip));
	json_tokener_free(tok);
	if (!*out || !json_object_is_type(*out, json_type_object)) {
		json_object_put(*out);
		*out = NULL;
		rv_error("%s: not a JSON object", q(path, b, sizeof(b)));
		r = -EBADMSG;
	}
out:
	rv_vm_config_free(&cfg);
	rv_manifest_errors_free(&errs);
	free(text);
	return r;
}

/* Applies one create flag to the manifest m. */
static int create_apply(int id, const char *v, const char *cwd,
			struct json_object *m, struct json_object *args)
{
	struct json_object *o, *disk;
	char b[128];
	int n, r;

	switch (id) {
	case C_NAME:
		if (!rv_manifest_name_valid(v)) {
			rv_error(
				"create: --name: '%s' is not a valid name (use "
				"1 to 64 letters, digits, '-', '_' or '.', not "
				"starting with '.' or '-')",
				q(v, b, sizeof(b)));
			return -EINVAL;
		}
		return rv__cli_put_string(m, "name", v);
	case C_KERNEL:
	case C_INITRD:
		o = child(m, "boot");
		return o ? rv__cli_put_path(
				   o, id == C_KERNEL ? "kernel" : "initrd", cwd,
				   v) :
			   -ENOMEM;
	case C_CMDLINE:
		o = child(m, "boot");
		return o ? rv__cli_put_string(o, "cmdline", v) : -ENOMEM;
	case C_CPUS:
		r = rv__cli_parse_int("create", "cpus", v, 1,
				      RV_MANIFEST_MAX_CPUS, &n);
		return r < 0 ? r :
			       rv__cli_put(m, "cpus", json_object_new_int(n));
	case C_MEMORY:
		r = rv__cli_check_memory("create", "memory", v);
		return r < 0 ? r : rv__cli_put_string(m, "memory", v);
	case C_CPU_TEMPLATE:
		return rv__cli_put_string(m, "cpu_template", v);
	case C_HUGEPAGES:
		return rv__cli_put(m, "hugepages", json_object_new_boolean(1));
	case C_RNG:
	case C_NO_RNG:
		return rv__cli_put(m, "rng",
				   json_object_new_boolean(id == C_RNG));
	case C_CONSOLE_SOCKET:
		o = json_object_new_object();
		if (!o)
			return -ENOMEM;
		r = rv__cli_put_path(o, "socket", cwd, v);
		if (r < 0) {
			json_object_put(o);
			return r;
		}
		return rv__cli_put(m, "console", o);
	case C_START:
		return rv__cli_put(args, "start", json_object_new_boolean(1));
	case C_EPHEMERAL:
		return rv__cli_put(m, "ephemeral", json_object_new_boolean(1));
	case C_VSOCK:
		r = vsock_json(v, cwd, &o);
		return r < 0 ? r : rv__cli_put(m, "vsock", o);
	case C_LIMIT:
		o = child(m, "limits");
		return o ? limit_apply(v, o) : -ENOMEM;
	case C_NET:
		/* Collected in create_args and applied by create_build(). */
		return -EINVAL;
	case C_DISK:
		if (!json_object_object_get_ex(m, "disks", &o) ||
		    !json_object_is_type(o, json_type_array)) {
			r = rv__cli_put(m, "disks", json_object_new_array());
			if (r < 0)
				return r;
			json_object_object_get_ex(m, "disks", &o);
		}
		if (json_object_array_length(o) >= RV_CONFIG_MAX_DISKS) {
			rv_error("create: --disk: too many disks (the limit is "
				 "%d)",
				 RV_CONFIG_MAX_DISKS);
			return -EINVAL;
		}
		r = rv_cli_parse_disk(v, cwd, "create: --disk", &disk);
		if (r < 0)
			return r;
		if (json_object_array_add(o, disk) < 0) {
			json_object_put(disk);
			return -ENOMEM;
		}
		return 0;
	}
	return -EINVAL;
}

/* What the command line of create says, before the manifest is built. */
struct create_args {
	const char *file;			       /* FILE.raeVM, or NULL */
	const char *vals[RV_ARRAY_SIZE(create_flags)]; /* by enum create_id */
	const char *disks[RV_CONFIG_MAX_DISKS];	       /* --disk, in order */
	size_t ndisks;
	const char *nets[RV_CONFIG_MAX_NETS]; /* --net, in order */
	size_t nnets;
	const char *limits[MAX_LIMIT_FLAGS]; /* --limit, in order */
	size_t nlimits;
};

/* The flag argv[*k] (and its value, which *k moves past). */
static int create_flag(int argc, char **argv, int *k, struct rv_cli_call *call,
		       struct create_args *ca)
{
	const char *names[RV_ARRAY_SIZE(create_flags) + RV_CLI_NR_GLOBAL_FLAGS];
	const char *a = argv[*k], *eq, *v = "";
	char opt[RV_CLI_FLAG_MAX + 4];
	size_t i, n = 0;
	int id, r;

	r = rv__cli_global_flag(argc, argv, k, call);
	if (r != 0)
		return r < 0 ? r : 0;
	eq = strchr(a, '=');
	snprintf(opt, sizeof(opt), "%.*s",
		 (int)(eq ? (size_t)(eq - a) : strlen(a)), a);
	id = create_find(opt);
	if (id < 0) {
		for (i = 0; i < RV_ARRAY_SIZE(create_flags); i++)
			names[n++] = create_flags[i].name;
		for (i = 0; i < RV_CLI_NR_GLOBAL_FLAGS; i++)
			names[n++] = rv__cli_global_flags[i];
		rv__cli_unknown_option("create", opt, names, n);
		return -EINVAL;
	}
	if (!create_flags[id].value && eq) {
		rv_error("create: --%s takes no value", create_flags[id].name);
		return -EINVAL;
	}
	if (create_flags[id].value) {
		v = rv__cli_take_value(argc, argv, k, eq, "create",
				       create_flags[id].name, create_is_flag,
				       NULL);
		if (!v)
			return -EINVAL;
	}
	if (id == C_DISK) {
		if (ca->ndisks == RV_CONFIG_MAX_DISKS) {
			rv_error("create: --disk: too many disks (the limit is "
				 "%d)",
				 RV_CONFIG_MAX_DISKS);
			return -EINVAL;
		}
		ca->disks[ca->ndisks++] = v;
		return 0;
	}
	if (id == C_NET) {
		if (ca->nnets == RV_CONFIG_MAX_NETS) {
			rv_error("create: --net: too many NICs (the limit is "
				 "%d)",
				 RV_CONFIG_MAX_NETS);
			return -EINVAL;
		}
		ca->nets[ca->nnets++] = v;
		return 0;
	}
	if (id == C_LIMIT) {
		if (ca->nlimits == MAX_LIMIT_FLAGS) {
			rv_error("create: --limit: given too often (%d times "
				 "at most)",
				 MAX_LIMIT_FLAGS);
			return -EINVAL;
		}
		ca->limits[ca->nlimits++] = v;
		return 0;
	}
	/* The last of --rng and --no-rng wins; so does a repeated flag. */
	if (id == C_RNG || id == C_NO_RNG)
		ca->vals[C_RNG] = ca->vals[C_NO_RNG] = NULL;
	ca->vals[id] = v;
	return 0;
}

/*
 * The manifest: the file's (checked) or a new one, then each flag laid
 * over it in a fixed order, then the --disk disks after the file's.
 */
static int create_build(const struct create_args *ca, const char *cwd,
			struct rv_cli_call *call)
{
	struct json_object *m = NULL;
	char *base;
	size_t i;
	int r;

	base = ca->file ? folder_of(cwd, ca->file) : strdup(cwd);
	if (!base)
		return -ENOMEM;
	if (ca->file) {
		r = load_manifest(ca->file, base, &m);
	} else {
		m = json_object_new_object();
		r = m ? rv__cli_put(m, "raevm", json_object_new_int(1)) :
			-ENOMEM;
	}
	for (i = 0; r == 0 && i < RV_ARRAY_SIZE(create_flags); i++)
		if (ca->vals[i])
			r = create_apply((int)i, ca->vals[i], cwd, m,
					 call->args);
	for (i = 0; r == 0 && i < ca->ndisks; i++)
		r = create_apply(C_DISK, ca->disks[i], cwd, m, call->args);
	for (i = 0; r == 0 && i < ca->nlimits; i++)
		r = create_apply(C_LIMIT, ca->limits[i], cwd, m, call->args);
	if (r == 0 && ca->nnets) {
		struct json_object *nets;

		r = nets_json(ca->nets, ca->nnets, "create: --net", &nets);
		if (r == 0)
			r = rv__cli_put(m, "net", nets);
	}
	if (r == 0)
		r = rv__cli_put_string(call->args, "base_dir", base);
	if (r == 0) {
		r = rv__cli_put(call->args, "manifest", m);
		m = NULL;
	}
	json_object_put(m);
	free(base);
	return r;
}

/*
 * create [FILE.raeVM] [flags]: the manifest is read first and the flags
 * then override the fields they name wherever they appear (the rule of
 * `raevmd run`), except --disk, which adds disks after the manifest's.
 */
int rv__cli_parse_create(int argc, char **argv, int first, const char *cwd,
			 struct rv_cli_call *call)
{
	struct create_args ca = { 0 };
	bool dashdash = false;
	char b[128];
	int r;

	for (int k = first; k < argc; k++) {
		const char *a = argv[k];

		if (!dashdash && strcmp(a, "--") == 0) {
			dashdash = true;
		} else if (dashdash || a[0] != '-' || !a[1]) {
			if (ca.file) {
				rv_error("create: unexpected argument '%s' "
					 "(give one manifest)",
					 q(a, b, sizeof(b)));
				return -EINVAL;
			}
			ca.file = a;
		} else {
			r = create_flag(argc, argv, &k, call, &ca);
			if (r < 0)
				return r;
		}
	}
	if (call->action == RV_CLI_HELP)
		return 0;
	if (!ca.file && (!ca.vals[C_NAME] || !ca.vals[C_KERNEL])) {
		rv_error("create: give a manifest (raevm create FILE.raeVM) or "
			 "at least --name NAME --kernel PATH");
		return -EINVAL;
	}
	return create_build(&ca, cwd, call);
}

void rv__cli_create_help(FILE *f)
{
	size_t i;

	fprintf(f,
		"\n"
		"FILE.raeVM is a manifest (raevm.manifest(5)); without one, "
		"--name and\n"
		"--kernel are required. Flags override the manifest's fields; "
		"--disk adds\n"
		"disks after the manifest's; --net replaces its NICs (a VM has "
		"none unless\n"
		"asked). A forward F is PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:"
		"GUESTPORT,\n"
		"such as tcp::2222-:22. Relative paths in flags are "
		"relative to the\n"
		"current directory, those in the manifest to its folder.\n"
		"\n");
	for (i = 0; i < RV_ARRAY_SIZE(create_flags); i++) {
		char left[48];

		snprintf(left, sizeof(left), "--%s%s%s", create_flags[i].name,
			 create_flags[i].value ? " " : "",
			 create_flags[i].value ? create_flags[i].value : "");
		fprintf(f, "  %-22s %s\n", left, create_flags[i].help);
	}
}

void rv__cli_create_flags(FILE *f)
{
	size_t i;

	for (i = 0; i < RV_ARRAY_SIZE(create_flags); i++)
		fprintf(f, "--%s\n", create_flags[i].name);
}
