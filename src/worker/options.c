// SPDX-License-Identifier: Apache-2.0
/*
 * `raevmd run` flags. A small table-driven parser rather than getopt_long:
 * it has no global state (tests call it repeatedly), it refuses GNU-style
 * abbreviations (`--kern` would silently break when a `--kernel-foo` flag
 * arrives) and it can word each error as one line naming the flag.
 */
#include "worker.h"

#include "raevm/cpuid.h"
#include "raevm/layout.h"
#include "raevm/manifest.h"
#include "raevm/netcfg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHOW_CHARS 64 /* characters of a flag value shown in an error */

enum opt_id {
	OPT_KERNEL,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_CPUS,
	OPT_MEMORY,
	OPT_CPU_TEMPLATE,
	OPT_HUGEPAGES,
	OPT_MEMFD,
	OPT_DISK,
	OPT_RNG,
	OPT_NO_RNG,
	OPT_CONSOLE_SOCKET,
	OPT_NET,
	OPT_VSOCK,
	OPT_EPHEMERAL,
	OPT_LIMIT,
	OPT_NO_SANDBOX,
	OPT_SHUTDOWN_TIMEOUT,
	OPT_VERBOSE,
	OPT_QUIET,
	OPT_HELP,
};

struct opt {
	const char *name; /* without the leading "--" */
	char short_name;  /* 0 when there is none */
	enum opt_id id;
	const char *arg; /* the value's name in --help; NULL: no value */
	const char *help;
};

static const struct opt opt_table[] = {
	{ "kernel", 0, OPT_KERNEL, "PATH",
	  "kernel to boot (ELF/PVH or bzImage)" },
	{ "initrd", 0, OPT_INITRD, "PATH", "initial ramdisk" },
	{ "cmdline", 0, OPT_CMDLINE, "TEXT", "kernel command line" },
	{ "cpus", 0, OPT_CPUS, "N", "number of vCPUs, 1 to 254 (default 1)" },
	{ "memory", 0, OPT_MEMORY, "SIZE",
	  "guest RAM such as 512M or 2G (default 512M)" },
	{ "cpu-template", 0, OPT_CPU_TEMPLATE, "NAME",
	  "CPU model shown to the guest (default host)" },
	{ "hugepages", 0, OPT_HUGEPAGES, NULL,
	  "back guest RAM with 2 MiB huge pages" },
	{ "memfd", 0, OPT_MEMFD, NULL, "back guest RAM with a memfd" },
	{ "disk", 0, OPT_DISK, "SPEC",
	  "add a virtio-blk disk (repeatable; SPEC below)" },
	{ "rng", 0, OPT_RNG, NULL,
	  "give the guest a virtio-rng (the default)" },
	{ "no-rng", 0, OPT_NO_RNG, NULL, "no virtio-rng device" },
	{ "console-socket", 0, OPT_CONSOLE_SOCKET, "PATH",
	  "serve a virtio-console on this Unix socket" },
	{ "net", 0, OPT_NET, "SPEC",
	  "add a virtio-net NIC (repeatable; SPEC below)" },
	{ "vsock", 0, OPT_VSOCK, "SPEC",
	  "add a virtio-vsock: cid=N,socket=PATH" },
	{ "ephemeral", 0, OPT_EPHEMERAL, NULL,
	  "write disks to throw-away overlays" },
	{ "limit", 0, OPT_LIMIT, "KEY=VALUE",
	  "a resource limit (repeatable; KEYs below)" },
	{ "no-sandbox", 0, OPT_NO_SANDBOX, NULL,
	  "no seccomp, namespaces or cgroups (debugging)" },
	{ "shutdown-timeout", 0, OPT_SHUTDOWN_TIMEOUT, "SECONDS",
	  "how long SIGTERM waits for an ACPI power-off (default 10)" },
	{ "verbose", 'v', OPT_VERBOSE, NULL,
	  "more messages (twice for debug output)" },
	{ "quiet", 'q', OPT_QUIET, NULL, "errors only" },
	{ "help", 'h', OPT_HELP, NULL, "show this text" },
};

/*
 * Flag values, checked, waiting to be laid over the manifest. Strings point
 * into argv except the disks', which are split out of their SPEC and owned
 * here until apply() hands them to the config.
 */
struct flags {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	const char *cpu_template;
	const char *memory_text;
	uint64_t memory;
	unsigned int cpus;
	bool have_cpus;
	bool have_memory;
	bool hugepages;
	bool memfd;
	const char *console_socket;
	int rng; /* -1: not given; else the last of --rng / --no-rng */
	unsigned int shutdown_timeout;
	struct rv_disk_config disks[RV_CONFIG_MAX_DISKS];
	const char *disk_specs[RV_CONFIG_MAX_DISKS]; /* as given, for errors */
	unsigned int nr_disks;
	/* --net: replaces the manifest's NICs when given at all. */
	struct rv_net_config nets[RV_CONFIG_MAX_NETS];
	const char *net_specs[RV_CONFIG_MAX_NETS];
	unsigned int nr_nets;
	bool have_net;
	bool net_none;
	struct rv_vsock_config vsock; /* enabled: --vsock was given */
	const char *vsock_spec;
	bool ephemeral;
	bool no_sandbox;
	/* --limit: each key given replaces the manifest's. */
	struct rv_limits_config limits;
	bool have_limit_memory, have_limit_cpu, have_limit_pids;
};

void rv_run_options_usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: raevmd run [MANIFEST] [options]\n"
		"\n"
		"Runs one VM in the foreground with its serial console on\n"
		"stdin/stdout. MANIFEST is a .raeVM file (docs/manifest.md);\n"
		"flags override its fields. Without a manifest, --kernel is\n"
		"required.\n"
		"\n");
	for (i = 0; i < RV_ARRAY_SIZE(opt_table); i++) {
		const struct opt *o = &opt_table[i];
		char left[48], short_form[8] = "    ";

		/* Long-only flags line up with the long half of "-v, --verbose". */
		if (o->short_name)
			snprintf(short_form, sizeof(short_form), "-%c, ",
				 o->short_name);
		snprintf(left, sizeof(left), "%s--%s%s%s", short_form, o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-25s %s\n", left, o->help);
	}
	fprintf(f,
		"\n"
		"A disk SPEC is PATH[,format=raw|qcow2][,readonly][,serial=ID]:\n"
		"the path comes first (path=PATH also works), the format is\n"
		"raw unless given (never guessed), and ID is at most 20\n"
		"printable ASCII characters. A path or serial that contains a\n"
		"comma can only be given in a manifest. --disk adds to the\n"
		"manifest's disks; naming one file twice is an error.\n"
		"\n"
		"A NIC SPEC is one of\n"
		"  user[,forward=F]...[,restrict][,mac=M][,mtu=N]\n"
		"  tap,name=IF[,mac=M][,mtu=N]     (opened, or created with\n"
		"                                  CAP_NET_ADMIN)\n"
		"  tap,fd=N[,mac=M][,mtu=N]        (an open tap fd)\n"
		"  none                            (no NIC)\n"
		"F is PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, such as\n"
		"tcp::2222-:22 (an empty host address is 127.0.0.1, an empty\n"
		"guest address the guest's DHCP address). restrict air-gaps a\n"
		"user-mode NIC: only forwards reach the guest. --net replaces\n"
		"the manifest's NICs; without --net or \"net\" the VM has none.\n"
		"\n"
		"--vsock cid=N,socket=PATH: the guest's CID (3 or more) and the\n"
		"Unix socket host programs connect to. --limit KEY=VALUE sets\n"
		"memory=SIZE (the whole VM process, guest RAM included),\n"
		"cpu=PCT (percent of one CPU: 150 is one and a half),\n"
		"cpuset=LIST (host CPUs such as 0-1,3) or pids=N (tasks).\n"
		"\n"
		"SIGTERM presses the guest's ACPI power button and stops the\n"
		"VM hard (status 143) if it has not powered off (status 0)\n"
		"after --shutdown-timeout seconds, 0 to %d; 0 stops at once.\n"
		"A second SIGTERM, SIGINT (Ctrl-C) or SIGHUP stops at once.\n"
		"\nCPU templates: %s.\n",
		RV_RUN_SHUTDOWN_TIMEOUT_MAX, rv_cpu_template_names());
}

static const char *show(const char *value, char *buf, size_t size)
{
	return rv_manifest_quote(value, strlen(value), SHOW_CHARS, buf, size);
}

static const struct opt *find_long(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < RV_ARRAY_SIZE(opt_table); i++)
		if (strlen(opt_table[i].name) == len &&
		    memcmp(opt_table[i].name, name, len) == 0)
			return &opt_table[i];
	return NULL;
}

static const struct opt *find_short(char c)
{
	size_t i;

	for (i = 0; i < RV_ARRAY_SIZE(opt_table); i++)
		if (opt_table[i].short_name == c)
			return &opt_table[i];
	return NULL;
}

/*
 * True when arg is itself one of our flags. `--kernel --cpus 2` then reads
 * as a missing value rather than a kernel called "--cpus"; a value that
 * really looks like a flag can still be given as `--kernel=--cpus`.
 */
static bool is_flag(const char *arg)
{
	const char *eq;

	if (arg[0] != '-')
		return false;
	if (arg[1] != '-')
		return arg[1] && !arg[2] && find_short(arg[1]);
	eq = strchr(arg + 2, '=');
	return find_long(arg + 2,
			 eq ? (size_t)(eq - arg - 2) : strlen(arg + 2));
}

static int unknown_long(const char *name, size_t len)
{
	const char *names[RV_ARRAY_SIZE(opt_table)];
	char word[RV_MANIFEST_NAME_MAX + 1], q[SHOW_CHARS * 4 + 8];
	const char *hint = NULL;
	size_t i;

	rv_manifest_quote(name, len, SHOW_CHARS, q, sizeof(q));
	if (len < sizeof(word)) {
		for (i = 0; i < RV_ARRAY_SIZE(opt_table); i++)
			names[i] = opt_table[i].name;
		memcpy(word, name, len);
		word[len] = '\0';
		hint = rv_manifest_suggest(word, names, RV_ARRAY_SIZE(names));
	}
	if (hint)
		rv_error("unknown option '--%s' (did you mean '--%s'?)", q,
			 hint);
	else
		rv_error("unknown option '--%s'", q);
	return -EINVAL;
}

static int check_path(const char *flag, const char *value)
{
	size_t len = strlen(value);

	if (len == 0) {
		rv_error("--%s: empty path", flag);
		return -EINVAL;
	}
	if (len > RV_MANIFEST_MAX_STRING) {
		rv_error("--%s: too long (%zu bytes; the limit is %d)", flag,
			 len, RV_MANIFEST_MAX_STRING);
		return -EINVAL;
	}
	return 0;
}

static int check_cmdline(const char *value)
{
	size_t len = strlen(value);
	const char *c;

	if (len > RV_CMDLINE_MAX - 1) {
		rv_error("--cmdline: too long (%zu bytes; the limit is %llu)",
			 len, RV_CMDLINE_MAX - 1);
		return -EINVAL;
	}
	for (c = value; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			rv_error(
				"--cmdline: contains the control character 0x%02x",
				(unsigned char)*c);
			return -EINVAL;
		}
	}
	return 0;
}

static int check_memory(const char *value, struct flags *fl)
{
	char q[SHOW_CHARS * 4 + 8];
	const char *problem;
	int rc = rv_parse_size(value, &fl->memory);

	if (rc == -ERANGE) {
		rv_error("--memory: '%s' is too large (the maximum is 16T)",
			 show(value, q, sizeof(q)));
		return -EINVAL;
	}
	if (rc) {
		rv_error("--memory: '%s' is not a size like 512M or 2G",
			 show(value, q, sizeof(q)));
		return -EINVAL;
	}
	problem = rv_manifest_memory_problem(fl->memory);
	if (problem) {
		rv_error("--memory: '%s' %s", show(value, q, sizeof(q)),
			 problem);
		return -EINVAL;
	}
	fl->memory_text = value;
	fl->have_memory = true;
	return 0;
}

static int check_template(const char *value)
{
	char q[SHOW_CHARS * 4 + 8];

	if (rv_cpu_template_find(value))
		return 0;
	rv_error("--cpu-template: '%s' is not a CPU template (known: %s)",
		 show(value, q, sizeof(q)), rv_cpu_template_names());
	return -EINVAL;
}

/* ---------------------------------------------------------------------- */
/* --disk PATH[,format=raw|qcow2][,readonly][,serial=ID]                  */

static const char *const disk_keys[] = { "path", "format", "readonly",
					 "serial" };

/*
 * Logs "--disk: <what> in '<spec>'<hint>", the one line every problem of a
 * SPEC gets, so the user sees which of several --disk flags is wrong.
 */
static int disk_fail(const char *spec, const char *what, const char *hint)
{
	char q[SHOW_CHARS * 4 + 8];

	rv_error("--disk: %s in '%s'%s", what, show(spec, q, sizeof(q)),
		 hint ? hint : "");
	return -EINVAL;
}

static int disk_nomem(void)
{
	rv_error("out of memory");
	return -ENOMEM;
}

/* True when item[0..len) is "key" or starts with "key=". */
static bool item_is(const char *item, size_t len, const char *key)
{
	size_t n = strlen(key);

	return len >= n && memcmp(item, key, n) == 0 &&
	       (len == n || item[n] == '=');
}

/* The first item: PATH or path=PATH. */
static int disk_path(const char *spec, const char *item, size_t len,
		     struct rv_disk_config *d)
{
	char what[96];

	if (item_is(item, len, "path") && len > 4) {
		item += 5;
		len -= 5;
	} else if (item_is(item, len, "format") ||
		   item_is(item, len, "readonly") ||
		   item_is(item, len, "serial")) {
		/* Write ./readonly or path=readonly for a file of that name. */
		return disk_fail(spec, "the path must come first", NULL);
	}
	if (len == 0)
		return disk_fail(spec, "empty path", NULL);
	if (len > RV_MANIFEST_MAX_STRING) {
		snprintf(what, sizeof(what),
			 "path too long (%zu bytes; the limit is %d)", len,
			 RV_MANIFEST_MAX_STRING);
		return disk_fail(spec, what, NULL);
	}
	d->path = strndup(item, len);
	return d->path ? 0 : disk_nomem();
}

static int disk_format(const char *spec, const char *value, size_t len,
		       struct rv_disk_config *d)
{
	static const char *const formats[] = { "raw", "qcow2" };
	char what[SHOW_CHARS * 4 + 32], hint[48], q[SHOW_CHARS * 4 + 8];
	char *format = strndup(value, len);
	const char *close;

	if (!format)
		return disk_nomem();
	if (rv_manifest_disk_format_valid(format)) {
		d->format = format;
		return 0;
	}
	close = rv_manifest_suggest(format, formats, RV_ARRAY_SIZE(formats));
	snprintf(what, sizeof(what), "unknown format '%s'",
		 rv_manifest_quote(value, len, SHOW_CHARS, q, sizeof(q)));
	if (close)
		snprintf(hint, sizeof(hint), " (did you mean '%s'?)", close);
	else
		snprintf(hint, sizeof(hint), " (use raw or qcow2)");
	free(format);
	return disk_fail(spec, what, hint);
}

static int disk_serial(const char *spec, const char *value, size_t len,
		       struct rv_disk_config *d)
{
	char what[112], why[96];
	char *serial = strndup(value, len);
	const char *problem;

	if (!serial)
		return disk_nomem();
	problem = rv_manifest_serial_problem(serial, why, sizeof(why));
	if (problem) {
		free(serial);
		snprintf(what, sizeof(what), "serial %s", problem);
		return disk_fail(spec, what, NULL);
	}
	d->serial = serial;
	return 0;
}

static int disk_unknown(const char *spec, const char *item, size_t key_len,
			bool has_value)
{
	char what[SHOW_CHARS * 4 + 32], hint[80], q[SHOW_CHARS * 4 + 8];
	char word[RV_MANIFEST_NAME_MAX + 1];
	const char *close = NULL;

	if (key_len < sizeof(word)) {
		memcpy(word, item, key_len);
		word[key_len] = '\0';
		close = rv_manifest_suggest(word, disk_keys,
					    RV_ARRAY_SIZE(disk_keys));
	}
	snprintf(what, sizeof(what), "unknown option '%s'",
		 rv_manifest_quote(item, key_len, SHOW_CHARS, q, sizeof(q)));
	hint[0] = '\0';
	if (close)
		snprintf(hint, sizeof(hint), " (did you mean '%s'?)", close);
	else if (!has_value &&
		 (memchr(item, '.', key_len) || memchr(item, '/', key_len)))
		/* "a,b.img": most likely a path with a comma in it. */
		snprintf(
			hint, sizeof(hint),
			" (a path with a comma can only be given in a manifest)");
	return disk_fail(spec, what, hint);
}

/* One item after the path; seen[] records the keys given so far. */
static int disk_option(const char *spec, const char *item, size_t len,
		       bool seen[RV_ARRAY_SIZE(disk_keys)],
		       struct rv_disk_config *d)
{
	const char *eq = memchr(item, '=', len);
	size_t key_len = eq ? (size_t)(eq - item) : len;
	const char *value = eq ? eq + 1 : NULL;
	size_t value_len = eq ? len - key_len - 1 : 0;
	char what[64];
	size_t k;

	if (len == 0)
		return disk_fail(spec, "empty option", NULL);
	for (k = 0; k < RV_ARRAY_SIZE(disk_keys); k++)
		if (strlen(disk_keys[k]) == key_len &&
		    memcmp(disk_keys[k], item, key_len) == 0)
			break;
	if (k == RV_ARRAY_SIZE(disk_keys))
		return disk_unknown(spec, item, key_len, eq != NULL);
	if (k == 0)
		return disk_fail(spec, "the path must come first", NULL);
	if (seen[k]) {
		snprintf(what, sizeof(what), "'%s' given twice", disk_keys[k]);
		return disk_fail(spec, what, NULL);
	}
	seen[k] = true;
	if (strcmp(disk_keys[k], "readonly") == 0) {
		if (eq)
			return disk_fail(spec, "'readonly' takes no value",
					 NULL);
		d->readonly = true;
		return 0;
	}
	if (!eq || (value_len == 0 && strcmp(disk_keys[k], "format") == 0)) {
		snprintf(what, sizeof(what), "'%s' needs a value",
			 disk_keys[k]);
		return disk_fail(spec, what, NULL);
	}
	if (strcmp(disk_keys[k], "format") == 0)
		return disk_format(spec, value, value_len, d);
	return disk_serial(spec, value, value_len, d);
}

static void disk_release(struct rv_disk_config *d)
{
	free(d->path);
	free(d->format);
	free(d->serial);
	memset(d, 0, sizeof(*d));
}

/*
 * Splits SPEC at its commas. The first item is always the path, so a path
 * may contain '=' but not ','; such a path needs a manifest.
 */
static int parse_disk(const char *spec, struct rv_disk_config *d)
{
	bool seen[RV_ARRAY_SIZE(disk_keys)] = { false };
	const char *item = spec;
	int rc = 0;

	if (spec[0] == '\0') {
		rv_error("--disk: empty path");
		return -EINVAL;
	}
	for (;;) {
		const char *comma = strchr(item, ',');
		size_t len = comma ? (size_t)(comma - item) : strlen(item);

		if (item == spec)
			rc = disk_path(spec, item, len, d);
		else
			rc = disk_option(spec, item, len, seen, d);
		if (rc || !comma)
			break;
		item = comma + 1;
	}
	if (rc)
		disk_release(d);
	return rc;
}

static int add_disk(const char *spec, struct flags *fl)
{
	int rc;

	if (fl->nr_disks == RV_CONFIG_MAX_DISKS) {
		rv_error("--disk: too many disks (the limit is %d)",
			 RV_CONFIG_MAX_DISKS);
		return -EINVAL;
	}
	rc = parse_disk(spec, &fl->disks[fl->nr_disks]);
	if (rc)
		return rc;
	fl->disk_specs[fl->nr_disks++] = spec;
	return 0;
}

static int check_console_socket(const char *value)
{
	size_t len = strlen(value);
	int rc = check_path("console-socket", value);

	if (rc)
		return rc;
	if (len > RV_MANIFEST_SOCKET_PATH_MAX) {
		rv_error(
			"--console-socket: too long for a Unix socket (%zu bytes; the limit is %d)",
			len, RV_MANIFEST_SOCKET_PATH_MAX);
		return -EINVAL;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* --net, --vsock, --limit                                                */

static int add_net(const char *spec, struct flags *fl)
{
	char buf[RV_NETCFG_PHRASE_LEN], q[SHOW_CHARS * 4 + 8];
	struct rv_net_config net;
	const char *problem;
	bool none;

	problem = rv_net_spec_parse(spec, &net, &none, buf, sizeof(buf));
	if (problem) {
		rv_error("--net: %s in '%s'", problem,
			 show(spec, q, sizeof(q)));
		return strcmp(problem, "out of memory") ? -EINVAL : -ENOMEM;
	}
	if ((none && fl->have_net) || (!none && fl->net_none)) {
		free(net.tap_name);
		rv_error("--net: 'none' cannot be combined with another --net");
		return -EINVAL;
	}
	fl->have_net = true;
	if (none) {
		fl->net_none = true;
		return 0;
	}
	if (fl->nr_nets == RV_CONFIG_MAX_NETS) {
		free(net.tap_name);
		rv_error("--net: too many NICs (the limit is %d)",
			 RV_CONFIG_MAX_NETS);
		return -EINVAL;
	}
	fl->net_specs[fl->nr_nets] = spec;
	fl->nets[fl->nr_nets++] = net;
	return 0;
}

/*
 * What one NIC's SPEC cannot see: two NICs forwarding one host port, or
 * sharing a MAC address or a tap.
 */
static int check_nets_together(const struct flags *fl)
{
	char q[SHOW_CHARS * 4 + 8];
	unsigned int i, j, a, b;

	for (i = 1; i < fl->nr_nets; i++) {
		const struct rv_net_config *n = &fl->nets[i];

		for (j = 0; j < i; j++) {
			const struct rv_net_config *o = &fl->nets[j];
			const char *what = NULL;

			for (a = 0; a < n->nr_forwards && !what; a++)
				for (b = 0; b < o->nr_forwards && !what; b++)
					if (rv_net_forward_clash(
						    &n->forwards[a],
						    &o->forwards[b]))
						what = "forwards a host port an earlier --net forwards";
			if (!what && n->mac_set && o->mac_set &&
			    memcmp(n->mac, o->mac, 6) == 0)
				what = "has the MAC address of an earlier --net";
			if (!what && n->tap_name && o->tap_name &&
			    strcmp(n->tap_name, o->tap_name) == 0)
				what = "names the tap of an earlier --net";
			if (!what && n->tap_fd >= 0 && n->tap_fd == o->tap_fd)
				what = "passes the tap fd of an earlier --net";
			if (what) {
				rv_error("--net: '%s' %s",
					 show(fl->net_specs[i], q, sizeof(q)),
					 what);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int take_vsock(const char *spec, struct flags *fl)
{
	char buf[RV_NETCFG_PHRASE_LEN], q[SHOW_CHARS * 4 + 8];
	struct rv_vsock_config vs;
	const char *problem;

	problem = rv_vsock_spec_parse(spec, &vs, buf, sizeof(buf));
	if (!problem && !vs.socket)
		problem = "'socket' is required with raevmd run (socket=PATH)";
	if (problem) {
		rv_error("--vsock: %s in '%s'", problem,
			 show(spec, q, sizeof(q)));
		return -EINVAL;
	}
	free(fl->vsock.socket);
	fl->vsock = vs;
	fl->vsock_spec = spec;
	return 0;
}

static int take_limit(const char *spec, struct flags *fl)
{
	char buf[RV_NETCFG_PHRASE_LEN];
	struct rv_limits_config old = fl->limits;
	const char *problem;

	problem = rv_limit_spec_parse(spec, &fl->limits, buf, sizeof(buf));
	if (problem) {
		rv_error("--limit: %s", problem);
		return strcmp(problem, "out of memory") ? -EINVAL : -ENOMEM;
	}
	fl->have_limit_memory |= fl->limits.memory != old.memory;
	fl->have_limit_cpu |= fl->limits.cpu_pct != old.cpu_pct;
	fl->have_limit_pids |= fl->limits.pids != old.pids;
	return 0;
}

/*
 * Checks and records one flag. Returns 0, 1 for --help, -EINVAL or -ENOMEM.
 */
static int take(const struct opt *o, const char *value, struct flags *fl,
		enum rv_log_level *level)
{
	char q[SHOW_CHARS * 4 + 8];
	uint64_t n;

	switch (o->id) {
	case OPT_KERNEL:
		fl->kernel = value;
		return check_path(o->name, value);
	case OPT_INITRD:
		fl->initrd = value;
		return check_path(o->name, value);
	case OPT_CMDLINE:
		fl->cmdline = value;
		return check_cmdline(value);
	case OPT_CPUS:
		if (rv_parse_uint(value, 1, RV_MANIFEST_MAX_CPUS, &n)) {
			rv_error("--cpus: '%s' is not a number from 1 to 254",
				 show(value, q, sizeof(q)));
			return -EINVAL;
		}
		fl->cpus = (unsigned int)n;
		fl->have_cpus = true;
		return 0;
	case OPT_MEMORY:
		return check_memory(value, fl);
	case OPT_CPU_TEMPLATE:
		fl->cpu_template = value;
		return check_template(value);
	case OPT_HUGEPAGES:
		fl->hugepages = true;
		return 0;
	case OPT_MEMFD:
		fl->memfd = true;
		return 0;
	case OPT_DISK:
		return add_disk(value, fl);
	case OPT_RNG:
	case OPT_NO_RNG:
		fl->rng = o->id == OPT_RNG;
		return 0;
	case OPT_CONSOLE_SOCKET:
		fl->console_socket = value;
		return check_console_socket(value);
	case OPT_NET:
		return add_net(value, fl);
	case OPT_VSOCK:
		return take_vsock(value, fl);
	case OPT_EPHEMERAL:
		fl->ephemeral = true;
		return 0;
	case OPT_LIMIT:
		return take_limit(value, fl);
	case OPT_NO_SANDBOX:
		fl->no_sandbox = true;
		return 0;
	case OPT_SHUTDOWN_TIMEOUT:
		if (rv_parse_uint(value, 0, RV_RUN_SHUTDOWN_TIMEOUT_MAX, &n)) {
			rv_error(
				"--shutdown-timeout: '%s' is not a number of seconds from 0 to %d",
				show(value, q, sizeof(q)),
				RV_RUN_SHUTDOWN_TIMEOUT_MAX);
			return -EINVAL;
		}
		fl->shutdown_timeout = (unsigned int)n;
		return 0;
	case OPT_VERBOSE:
		*level = *level < RV_LOG_INFO ? RV_LOG_INFO : RV_LOG_DEBUG;
		return 0;
	case OPT_QUIET:
		*level = RV_LOG_ERROR;
		return 0;
	case OPT_HELP:
		rv_run_options_usage(stdout);
		return 1;
	}
	return -EINVAL;
}

/* "--name", "--name=value" or "--name value"; advances *i past the value. */
static int parse_long(int argc, char **argv, int *i, struct flags *fl,
		      enum rv_log_level *level)
{
	const char *name = argv[*i] + 2;
	const char *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	const struct opt *o = find_long(name, len);
	const char *value;

	if (!o)
		return unknown_long(name, len);
	if (!o->arg) {
		if (eq) {
			rv_error("--%s: takes no value", o->name);
			return -EINVAL;
		}
		return take(o, NULL, fl, level);
	}
	if (eq) {
		value = eq + 1;
	} else if (*i + 1 < argc && !is_flag(argv[*i + 1])) {
		value = argv[++*i];
	} else {
		rv_error("--%s: missing value", o->name);
		return -EINVAL;
	}
	return take(o, value, fl, level);
}

/* A cluster of value-less short flags such as "-vq". */
static int parse_short(const char *arg, struct flags *fl,
		       enum rv_log_level *level)
{
	char q[16];
	const char *c;
	int rc;

	for (c = arg + 1; *c; c++) {
		const struct opt *o = find_short(*c);

		if (!o) {
			rv_error("unknown option '-%s'",
				 rv_manifest_quote(c, 1, 1, q, sizeof(q)));
			return -EINVAL;
		}
		rc = take(o, NULL, fl, level);
		if (rc)
			return rc;
	}
	return 0;
}

static int set_str(char **dst, const char *value)
{
	char *copy;

	if (!value)
		return 0;
	copy = strdup(value);
	if (!copy) {
		rv_error("out of memory");
		return -ENOMEM;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

/* A flag's path spelt from the root, for comparisons only. */
static char *absolute(const char *path, const char *cwd)
{
	char *abs;

	if (path[0] == '/' || !cwd)
		return strdup(path);
	if (asprintf(&abs, "%s/%s", cwd, path) < 0)
		return NULL;
	return abs;
}

/* Returns 0 when no --disk repeats a file that an earlier disk names. */
static int check_disk_repeats(const struct flags *fl,
			      const struct rv_vm_config *cfg, char **abs)
{
	char q[SHOW_CHARS * 4 + 8], q0[SHOW_CHARS * 4 + 8];
	unsigned int i, j;

	for (i = 0; i < fl->nr_disks; i++) {
		for (j = 0; j < cfg->nr_disks; j++) {
			if (!rv_manifest_same_path(cfg->disks[j].path, abs[i]))
				continue;
			rv_error(
				"--disk: '%s' names the same file as the manifest's disks[%u]",
				show(fl->disks[i].path, q, sizeof(q)), j);
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			if (!rv_manifest_same_path(abs[j], abs[i]))
				continue;
			rv_error(
				"--disk: '%s' names the same file as the earlier --disk '%s'",
				show(fl->disks[i].path, q, sizeof(q)),
				show(fl->disks[j].path, q0, sizeof(q0)));
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Appends the --disk flags to the manifest's disks (flag disks come after
 * them, in command-line order). Two disks on one file are refused: the
 * guest would corrupt it through two caches.
 */
static int merge_disks(struct flags *fl, struct rv_vm_config *cfg)
{
	char *abs[RV_CONFIG_MAX_DISKS] = { NULL };
	char *cwd = NULL;
	unsigned int i;
	int rc = 0;

	if (fl->nr_disks == 0)
		return 0;
	if (cfg->nr_disks + fl->nr_disks > RV_CONFIG_MAX_DISKS) {
		rv_error(
			"--disk: too many disks (the manifest has %u and --disk adds %u; the limit is %d)",
			cfg->nr_disks, fl->nr_disks, RV_CONFIG_MAX_DISKS);
		return -EINVAL;
	}
	/* Without a current directory, relative paths compare as written. */
	cwd = getcwd(NULL, 0);
	for (i = 0; i < fl->nr_disks && rc == 0; i++) {
		abs[i] = absolute(fl->disks[i].path, cwd);
		if (!abs[i])
			rc = disk_nomem();
	}
	rc = rc ? rc : check_disk_repeats(fl, cfg, abs);
	for (i = 0; i < fl->nr_disks; i++) {
		free(abs[i]);
		if (rc)
			continue;
		/* Ownership of the strings moves to the config. */
		cfg->disks[cfg->nr_disks++] = fl->disks[i];
		memset(&fl->disks[i], 0, sizeof(fl->disks[i]));
	}
	if (rc == 0)
		fl->nr_disks = 0;
	free(cwd);
	return rc;
}

static void flags_free(struct flags *fl)
{
	unsigned int i;

	for (i = 0; i < fl->nr_disks; i++)
		disk_release(&fl->disks[i]);
	fl->nr_disks = 0;
	for (i = 0; i < fl->nr_nets; i++)
		free(fl->nets[i].tap_name);
	fl->nr_nets = 0;
	free(fl->vsock.socket);
	fl->vsock.socket = NULL;
	free(fl->limits.cpuset);
	fl->limits.cpuset = NULL;
}

/*
 * Lays --net, --vsock, --limit, --ephemeral and --no-sandbox over the
 * config. Strings move from the flags to the config.
 */
static int apply_net_and_limits(struct flags *fl, struct rv_vm_config *cfg)
{
	char buf[RV_NETCFG_PHRASE_LEN];
	const char *problem;
	unsigned int i;

	if (fl->have_net) {
		for (i = 0; i < cfg->nr_nets; i++)
			free(cfg->nets[i].tap_name);
		for (i = 0; i < RV_CONFIG_MAX_NETS; i++)
			rv_net_config_init(&cfg->nets[i]);
		for (i = 0; i < fl->nr_nets; i++)
			cfg->nets[i] = fl->nets[i];
		cfg->nr_nets = fl->nr_nets;
		fl->nr_nets = 0;
	}
	if (fl->vsock.enabled) {
		free(cfg->vsock.socket);
		cfg->vsock = fl->vsock;
		fl->vsock.socket = NULL;
	}
	if (fl->have_limit_memory)
		cfg->limits.memory = fl->limits.memory;
	if (fl->have_limit_cpu)
		cfg->limits.cpu_pct = fl->limits.cpu_pct;
	if (fl->have_limit_pids)
		cfg->limits.pids = fl->limits.pids;
	if (fl->limits.cpuset) {
		free(cfg->limits.cpuset);
		cfg->limits.cpuset = fl->limits.cpuset;
		fl->limits.cpuset = NULL;
	}
	cfg->ephemeral |= fl->ephemeral;
	if (fl->no_sandbox)
		cfg->sandbox = false;
	/* Checked after merging: either side may have set either value. */
	problem = cfg->limits.memory ?
			  rv_limit_memory_vs_guest(cfg->limits.memory,
						   cfg->memory, buf,
						   sizeof(buf)) :
			  NULL;
	if (problem) {
		rv_error("%s: %s",
			 fl->have_limit_memory ? "--limit: memory" :
						 "limits.memory",
			 problem);
		return -EINVAL;
	}
	return 0;
}

/* Lays the flags over the manifest's config (or the defaults). */
static int apply(struct flags *fl, struct rv_vm_config *cfg)
{
	char size[32], q[SHOW_CHARS * 4 + 8];
	int rc;

	rc = set_str(&cfg->kernel, fl->kernel);
	rc = rc ? rc : set_str(&cfg->initrd, fl->initrd);
	rc = rc ? rc : set_str(&cfg->cmdline, fl->cmdline);
	rc = rc ? rc : set_str(&cfg->cpu_template, fl->cpu_template);
	rc = rc ? rc : set_str(&cfg->console_socket, fl->console_socket);
	if (rc)
		return rc;
	if (fl->rng >= 0)
		cfg->rng = fl->rng;
	if (fl->have_cpus)
		cfg->cpus = fl->cpus;
	if (fl->have_memory)
		cfg->memory = fl->memory;
	cfg->hugepages |= fl->hugepages;
	cfg->memfd |= fl->memfd;
	if (!cfg->kernel) {
		rv_error("no kernel: give --kernel PATH or a manifest");
		return -EINVAL;
	}
	/* Checked after merging: either side may have set either value. */
	if (cfg->hugepages && cfg->memory % RV_MANIFEST_HUGEPAGE_ALIGN) {
		rv_format_size(cfg->memory, size, sizeof(size));
		if (fl->have_memory)
			rv_error(
				"--memory: '%s' is not a multiple of 2M, which hugepages need",
				show(fl->memory_text, q, sizeof(q)));
		else
			rv_error(
				"--hugepages: the memory size (%s) is not a multiple of 2M",
				size);
		return -EINVAL;
	}
	rc = merge_disks(fl, cfg);
	return rc ? rc : apply_net_and_limits(fl, cfg);
}

static int load_manifest(const char *path, struct rv_vm_config *cfg)
{
	struct rv_manifest_errors errs;
	int rc;

	rv_manifest_errors_init(&errs);
	rc = rv_manifest_load(path, cfg, &errs);
	if (rc)
		rv_manifest_errors_print(&errs);
	rv_manifest_errors_free(&errs);
	return rc;
}

int rv_run_options_parse(int argc, char **argv, struct rv_run_options *opts)
{
	struct flags fl = {
		.rng = -1, .shutdown_timeout = RV_RUN_SHUTDOWN_TIMEOUT_DEFAULT
	};
	enum rv_log_level level = RV_LOG_WARN;
	bool positional_only = false;
	char q[SHOW_CHARS * 4 + 8];
	int i, rc = 0;

	memset(opts, 0, sizeof(*opts));
	rv_vm_config_init(&opts->cfg);
	opts->log_level = level;
	for (i = 1; i < argc && rc == 0; i++) {
		const char *arg = argv[i];

		if (!positional_only && strcmp(arg, "--") == 0)
			positional_only = true;
		else if (!positional_only && arg[0] == '-' && arg[1] == '-')
			rc = parse_long(argc, argv, &i, &fl, &level);
		else if (!positional_only && arg[0] == '-' && arg[1])
			rc = parse_short(arg, &fl, &level);
		else if (opts->manifest) {
			rv_error(
				"unexpected argument '%s' (only one manifest can be given)",
				show(arg, q, sizeof(q)));
			rc = -EINVAL;
		} else {
			opts->manifest = arg;
		}
	}
	if (rc == 0)
		rc = check_nets_together(&fl);
	if (rc)
		goto err;
	if (opts->manifest) {
		rc = load_manifest(opts->manifest, &opts->cfg);
		if (rc)
			goto err;
	}
	rc = apply(&fl, &opts->cfg);
	if (rc)
		goto err;
	flags_free(&fl);
	opts->log_level = level;
	opts->shutdown_timeout = fl.shutdown_timeout;
	rv_log_set_level(level);
	return 0;

err:
	flags_free(&fl);
	rv_run_options_free(opts);
	return rc;
}

void rv_run_options_free(struct rv_run_options *opts)
{
	if (!opts)
		return;
	rv_vm_config_free(&opts->cfg);
}
