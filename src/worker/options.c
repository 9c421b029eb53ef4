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

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

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
	{ "verbose", 'v', OPT_VERBOSE, NULL,
	  "more messages (twice for debug output)" },
	{ "quiet", 'q', OPT_QUIET, NULL, "errors only" },
	{ "help", 'h', OPT_HELP, NULL, "show this text" },
};

/* Flag values, checked, waiting to be laid over the manifest. */
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
		char left[40];

		snprintf(left, sizeof(left), "%s%c%s--%s%s%s",
			 o->short_name ? "-" : "    ",
			 o->short_name ? o->short_name : ' ',
			 o->short_name ? ", " : "", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		fprintf(f, "  %-24s %s\n", left, o->help);
	}
	fprintf(f, "\nCPU templates: %s.\n", rv_cpu_template_names());
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

/* Checks and records one flag. Returns 0, 1 for --help, -EINVAL. */
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

/* Lays the flags over the manifest's config (or the defaults). */
static int apply(const struct flags *fl, struct rv_vm_config *cfg)
{
	char size[32], q[SHOW_CHARS * 4 + 8];
	int rc;

	rc = set_str(&cfg->kernel, fl->kernel);
	rc = rc ? rc : set_str(&cfg->initrd, fl->initrd);
	rc = rc ? rc : set_str(&cfg->cmdline, fl->cmdline);
	rc = rc ? rc : set_str(&cfg->cpu_template, fl->cpu_template);
	if (rc)
		return rc;
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
	return 0;
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
	struct flags fl = { 0 };
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
	opts->log_level = level;
	rv_log_set_level(level);
	return 0;

err:
	rv_run_options_free(opts);
	return rc;
}

void rv_run_options_free(struct rv_run_options *opts)
{
	if (!opts)
		return;
	rv_vm_config_free(&opts->cfg);
}
