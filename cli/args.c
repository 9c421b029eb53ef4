// SPDX-License-Identifier: Apache-2.0
/*
 * raevm's command line: global flags, a verb from the shared command table
 * (rv_api_cmds[]) and the verb's arguments, turned into the request's args
 * object. The table decides what each command takes; this file only decides
 * how an argument is spelled: a required string is positional (NAME, FILE),
 * any other argument is a flag named after it (keep_disks is --keep-disks),
 * and a few arguments have a conventional spelling (export's path is -o).
 * create is the one command with its own parser (create.c): it builds a
 * manifest.
 *
 * Everything here is user input: each value is checked before it goes on
 * the wire, and each problem is one line that names the flag.
 */
#include "cli.h"

#include "raevm/config.h"
#include "raevm/log.h"
#include "raevm/manifest.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FLAGS 16

const char *const rv__cli_global_flags[RV_CLI_NR_GLOBAL_FLAGS] = {
	"socket",
	"json",
	"help",
};

/*
 * Arguments whose flag is not simply their name: conventional spellings
 * (`-o FILE`, `-n N`) and the repeatable --disk that builds "disks".
 */
static const struct {
	const char *cmd;
	const char *arg;
	const char *flag;
	char short_name;
} aliases[] = {
	{ "vm.export", "path", "output", 'o' },
	{ "vm.logs", "lines", "lines", 'n' },
	{ "vm.set", "disks", "disk", 0 },
};

/* How one wire argument of a command is given on the command line. */
struct spec {
	const struct rv_api_arg *arg;
	char flag[RV_CLI_FLAG_MAX]; /* without the dashes; "" when positional */
	char short_name;
	bool positional;
	bool seen;
	bool net_none; /* --net none was given (set's "net") */
};

/* -------------------------------------------------------------- helpers */

char *rv_cli_absolute(const char *dir, const char *path)
{
	char *out;
	size_t dl;

	if (!path)
		return NULL;
	if (path[0] == '/' || !dir || !dir[0])
		return strdup(path);
	dl = strlen(dir);
	while (dl > 0 && dir[dl - 1] == '/')
		dl--;
	if (asprintf(&out, "%.*s/%s", (int)dl, dir, path) < 0)
		return NULL;
	return out;
}

int rv__cli_put(struct json_object *obj, const char *key,
		struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_object_add(obj, key, val) < 0) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

int rv__cli_put_string(struct json_object *obj, const char *key, const char *s)
{
	return rv__cli_put(obj, key, json_object_new_string(s));
}

int rv__cli_put_path(struct json_object *obj, const char *key, const char *cwd,
		     const char *path)
{
	char *abs = rv_cli_absolute(cwd, path);
	int r;

	if (!abs)
		return -ENOMEM;
	r = rv__cli_put_string(obj, key, abs);
	free(abs);
	return r;
}

/* Quotes a user-supplied value for an error line. */
static const char *q(const char *s, char *buf, size_t size)
{
	return rv_cli_sanitize(s, buf, size);
}

void rv__cli_unknown_option(const char *where, const char *opt,
			    const char *const *names, size_t n)
{
	const char *word = opt, *close;
	char b[128];

	while (*word == '-')
		word++;
	close = rv_manifest_suggest(word, names, n);
	if (close)
		rv_error("%s%sunknown option '%s' (did you mean '%s%s'?)",
			 where ? where : "", where ? ": " : "",
			 q(opt, b, sizeof(b)), strlen(close) == 1 ? "-" : "--",
			 close);
	else
		rv_error("%s%sunknown option '%s' (run 'raevm help%s%s')",
			 where ? where : "", where ? ": " : "",
			 q(opt, b, sizeof(b)), where ? " " : "",
			 where ? where : "");
}

int rv__cli_check_memory(const char *where, const char *flag, const char *v)
{
	uint64_t bytes;
	const char *problem;
	char b[128];

	if (rv_parse_size(v, &bytes) < 0) {
		rv_error("%s: --%s: '%s' is not a size like 512M or 2G", where,
			 flag, q(v, b, sizeof(b)));
		return -EINVAL;
	}
	problem = rv_manifest_memory_problem(bytes);
	if (problem) {
		rv_error("%s: --%s: '%s' %s", where, flag, q(v, b, sizeof(b)),
			 problem);
		return -EINVAL;
	}
	return 0;
}

int rv__cli_parse_int(const char *where, const char *flag, const char *v,
		      uint64_t min, uint64_t max, int *out)
{
	uint64_t n;
	char b[128];

	if (rv_parse_uint(v, min, max, &n) < 0) {
		rv_error("%s: --%s: '%s' is not a number from %llu to %llu",
			 where, flag, q(v, b, sizeof(b)),
			 (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = (int)n;
	return 0;
}

/* ------------------------------------------------------- generic commands */

static bool has_arg(const struct rv_api_cmd *cmd, const char *name)
{
	const struct rv_api_arg *a;

	for (a = cmd->args; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return true;
	return false;
}

static void make_specs(const struct rv_api_cmd *cmd, struct spec *specs,
		       size_t *n)
{
	const struct rv_api_arg *a;
	size_t i, k = 0;

	for (a = cmd->args; a->name && k < MAX_FLAGS; a++) {
		struct spec *s;

		/* Not a flag: raevm sends its own directory (see below). */
		if (strcmp(a->name, "base_dir") == 0)
			continue;
		s = &specs[k++];
		memset(s, 0, sizeof(*s));
		s->arg = a;
		for (i = 0; i < RV_ARRAY_SIZE(aliases); i++)
			if (strcmp(aliases[i].cmd, cmd->name) == 0 &&
			    strcmp(aliases[i].arg, a->name) == 0)
				break;
		if (i < RV_ARRAY_SIZE(aliases)) {
			snprintf(s->flag, sizeof(s->flag), "%s",
				 aliases[i].flag);
			s->short_name = aliases[i].short_name;
			continue;
		}
		if (a->required && a->type == RV_API_STRING) {
			s->positional = true;
			continue;
		}
		snprintf(s->flag, sizeof(s->flag), "%s", a->name);
		for (i = 0; s->flag[i]; i++)
			if (s->flag[i] == '_')
				s->flag[i] = '-';
	}
	*n = k;
}

/* The placeholder of a value in help and error lines. */
static const char *metavar(const struct rv_api_arg *a)
{
	if (strcmp(a->name, "memory") == 0)
		return "SIZE";
	if (strcmp(a->name, "disks") == 0 || strcmp(a->name, "net") == 0)
		return "SPEC";
	if (strcmp(a->name, "path") == 0)
		return "FILE";
	if (strcmp(a->name, "timeout") == 0)
		return "SECONDS";
	if (a->type == RV_API_INT)
		return "N";
	if (a->type == RV_API_OBJECT || a->type == RV_API_ARRAY)
		return "JSON";
	return "VALUE";
}

/* The name of a positional argument: NAME, FILE. */
static void positional_name(const struct rv_api_arg *a, char *buf, size_t size)
{
	size_t i;

	if (strcmp(a->name, "path") == 0) {
		snprintf(buf, size, "FILE");
		return;
	}
	for (i = 0; a->name[i] && i + 1 < size; i++)
		buf[i] = (char)(a->name[i] >= 'a' && a->name[i] <= 'z' ?
					a->name[i] - 'a' + 'A' :
					a->name[i]);
	buf[i] = '\0';
}

/* --disk SPEC, repeatable: each adds one disk to the "disks" array. */
static int add_disk(const struct rv_api_cmd *cmd, const struct spec *s,
		    const char *v, const char *cwd, struct json_object *args)
{
	struct json_object *arr, *disk;
	char what[64];
	int r;

	if (!json_object_object_get_ex(args, s->arg->name, &arr)) {
		r = rv__cli_put(args, s->arg->name, json_object_new_array());
		if (r < 0)
			return r;
		json_object_object_get_ex(args, s->arg->name, &arr);
	}
	if (json_object_array_length(arr) >= RV_CONFIG_MAX_DISKS) {
		rv_error("%s: --%s: too many disks (the limit is %d)", cmd->cli,
			 s->flag, RV_CONFIG_MAX_DISKS);
		return -EINVAL;
	}
	snprintf(what, sizeof(what), "%s: --%s", cmd->cli, s->flag);
	r = rv_cli_parse_disk(v, cwd, what, &disk);
	if (r < 0)
		return r;
	if (json_object_array_add(arr, disk) < 0) {
		json_object_put(disk);
		return -ENOMEM;
	}
	return 0;
}

/*
 * --net SPEC, repeatable: each adds one NIC to the "net" array; "none"
 * alone sends [] (no NIC).
 */
static int add_net(const struct rv_api_cmd *cmd, struct spec *s, const char *v,
		   struct json_object *args)
{
	struct json_object *arr, *net;
	char what[64];
	bool none;
	int r;

	if (!json_object_object_get_ex(args, s->arg->name, &arr)) {
		r = rv__cli_put(args, s->arg->name, json_object_new_array());
		if (r < 0)
			return r;
		json_object_object_get_ex(args, s->arg->name, &arr);
	}
	snprintf(what, sizeof(what), "%s: --%s", cmd->cli, s->flag);
	r = rv_cli_parse_net(v, what, &none, &net);
	if (r < 0)
		return r;
	if ((none && json_object_array_length(arr)) || (!none && s->net_none)) {
		json_object_put(net);
		rv_error("%s: 'none' cannot be combined with another --net",
			 what);
		return -EINVAL;
	}
	if (none) {
		s->net_none = true;
		return 0;
	}
	if (json_object_array_length(arr) >= RV_CONFIG_MAX_NETS) {
		json_object_put(net);
		rv_error("%s: too many NICs (the limit is %d)", what,
			 RV_CONFIG_MAX_NETS);
		return -EINVAL;
	}
	if (json_object_array_add(arr, net) < 0) {
		json_object_put(net);
		return -ENOMEM;
	}
	return 0;
}

/* An OBJECT or ARRAY argument given as JSON text. */
static int set_json(const struct rv_api_cmd *cmd, const struct spec *s,
		    const char *v, struct json_object *args)
{
	bool array = s->arg->type == RV_API_ARRAY;
	struct json_object *val = json_tokener_parse(v);
	char b[128];

	if (!val || !json_object_is_type(val, array ? json_type_array :
						      json_type_object)) {
		json_object_put(val);
		rv_error("%s: --%s: '%s' is not a JSON %s", cmd->cli, s->flag,
			 q(v, b, sizeof(b)), array ? "array" : "object");
		return -EINVAL;
	}
	return rv__cli_put(args, s->arg->name, val);
}

/* Converts one value for a wire argument and stores it in args. */
static int set_value(const struct rv_api_cmd *cmd, struct spec *s,
		     const char *v, const char *cwd, struct json_object *args)
{
	const struct rv_api_arg *a = s->arg;
	int n, r;

	switch (a->type) {
	case RV_API_BOOL:
		return rv__cli_put(args, a->name, json_object_new_boolean(1));
	case RV_API_INT:
		if (strcmp(a->name, "cpus") == 0)
			r = rv__cli_parse_int(cmd->cli, s->flag, v, 1,
					      RV_MANIFEST_MAX_CPUS, &n);
		else
			r = rv__cli_parse_int(cmd->cli, s->flag, v, 0, INT_MAX,
					      &n);
		if (r < 0)
			return r;
		return rv__cli_put(args, a->name, json_object_new_int(n));
	case RV_API_STRING:
		if (strcmp(a->name, "path") == 0)
			return rv__cli_put_path(args, a->name, cwd, v);
		if (strcmp(a->name, "memory") == 0) {
			r = rv__cli_check_memory(cmd->cli, s->flag, v);
			if (r < 0)
				return r;
		}
		return rv__cli_put_string(args, a->name, v);
	case RV_API_ARRAY:
		if (strcmp(a->name, "disks") == 0)
			return add_disk(cmd, s, v, cwd, args);
		if (strcmp(a->name, "net") == 0)
			return add_net(cmd, s, v, args);
		/* Other arrays are given as JSON text, like objects. */
		return set_json(cmd, s, v, args);
	case RV_API_OBJECT:
		return set_json(cmd, s, v, args);
	}
	return -EINVAL;
}

/* The index of the spec of "--flag" or "-f"; -1 when the command has none. */
static int find_spec(const struct spec *specs, size_t n, const char *opt)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (specs[i].positional)
			continue;
		if (opt[1] == '-' && strcmp(opt + 2, specs[i].flag) == 0)
			return (int)i;
		if (opt[1] != '-' && specs[i].short_name &&
		    opt[1] == specs[i].short_name && opt[2] == '\0')
			return (int)i;
	}
	return -1;
}

static void usage_hint(const struct rv_api_cmd *cmd, char *buf, size_t size)
{
	snprintf(buf, size, "usage: raevm %s%s%s", cmd->cli,
		 cmd->usage[0] ? " " : "", cmd->usage);
}

/*
 * Handles a global flag that appears after the verb. Returns 1 when opt
 * was one (consuming its value), 0 when it was not, or -EINVAL.
 */
int rv__cli_global_flag(int argc, char **argv, int *i, struct rv_cli_call *call)
{
	const char *opt = argv[*i];

	if (strcmp(opt, "--json") == 0) {
		call->json = true;
		return 1;
	}
	if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
		call->action = RV_CLI_HELP;
		return 1;
	}
	if (strncmp(opt, "--socket=", 9) == 0) {
		call->socket = opt + 9;
	} else if (strcmp(opt, "--socket") == 0) {
		if (*i + 1 >= argc) {
			rv_error("--socket: missing value");
			return -EINVAL;
		}
		call->socket = argv[++*i];
	} else {
		return 0;
	}
	if (!call->socket[0]) {
		rv_error("--socket: missing value");
		return -EINVAL;
	}
	return 1;
}

/*
 * Returns the value of option argv[*i] (inline after '=' or the next
 * argument), or NULL after an error line. A next argument that is itself
 * a flag of the command reads as a missing value, so `--lines --json` does
 * not send "--json" as a number; `--lines=--json` means it.
 */
const char *rv__cli_take_value(int argc, char **argv, int *i, const char *eq,
			       const char *where, const char *flag,
			       bool (*is_flag)(const void *, const char *),
			       const void *ctx)
{
	if (eq)
		return eq + 1;
	if (*i + 1 >= argc || (argv[*i + 1][0] == '-' && argv[*i + 1][1] &&
			       is_flag(ctx, argv[*i + 1]))) {
		rv_error("%s: --%s: missing value", where, flag);
		return NULL;
	}
	return argv[++*i];
}

bool rv__cli_is_global(const char *opt)
{
	return strcmp(opt, "--json") == 0 || strcmp(opt, "--socket") == 0 ||
	       strncmp(opt, "--socket=", 9) == 0 ||
	       strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0;
}

/* The state of parse_generic(), also the context of spec_is_flag(). */
struct generic {
	const struct rv_api_cmd *cmd;
	struct rv_cli_call *call;
	const char *cwd;
	struct spec specs[MAX_FLAGS];
	size_t n;    /* specs in use */
	size_t npos; /* the next positional spec to look at */
	const char *names[MAX_FLAGS + RV_CLI_NR_GLOBAL_FLAGS]; /* suggestions */
	size_t nnames;
};

static bool spec_is_flag(const void *ctx, const char *opt)
{
	const struct generic *g = ctx;
	char name[RV_CLI_FLAG_MAX + 2];
	const char *eq = strchr(opt, '=');

	snprintf(name, sizeof(name), "%.*s",
		 (int)(eq ? (size_t)(eq - opt) : strlen(opt)), opt);
	return rv__cli_is_global(name) || find_spec(g->specs, g->n, name) >= 0;
}

/*
 * Rebuilds args with its members in the order of the command table, so a
 * request reads the same whatever the order of the flags was.
 */
static int table_order(const struct rv_api_cmd *cmd, struct json_object **args)
{
	struct json_object *sorted = json_object_new_object(), *v;
	const struct rv_api_arg *a;

	if (!sorted)
		return -ENOMEM;
	for (a = cmd->args; a->name; a++) {
		if (!json_object_object_get_ex(*args, a->name, &v))
			continue;
		if (rv__cli_put(sorted, a->name, json_object_get(v)) < 0) {
			json_object_put(sorted);
			return -ENOMEM;
		}
	}
	json_object_put(*args);
	*args = sorted;
	return 0;
}

/* A positional argument: the next positional spec takes it. */
static int generic_positional(struct generic *g, const char *a)
{
	char hint[256], b[128];

	while (g->npos < g->n && !g->specs[g->npos].positional)
		g->npos++;
	if (g->npos == g->n) {
		usage_hint(g->cmd, hint, sizeof(hint));
		rv_error("%s: unexpected argument '%s' (%s)", g->cmd->cli,
			 q(a, b, sizeof(b)), hint);
		return -EINVAL;
	}
	g->specs[g->npos].seen = true;
	return set_value(g->cmd, &g->specs[g->npos++], a, g->cwd,
			 g->call->args);
}

/* The flag argv[*k] (and its value, which *k moves past). */
static int generic_flag(struct generic *g, int argc, char **argv, int *k)
{
	const char *a = argv[*k], *eq, *v;
	char opt[RV_CLI_FLAG_MAX + 4];
	struct spec *s;
	int r;

	r = rv__cli_global_flag(argc, argv, k, g->call);
	if (r != 0)
		return r < 0 ? r : 0;
	eq = strchr(a, '=');
	snprintf(opt, sizeof(opt), "%.*s",
		 (int)(eq ? (size_t)(eq - a) : strlen(a)), a);
	r = find_spec(g->specs, g->n, opt);
	if (r < 0) {
		rv__cli_unknown_option(g->cmd->cli, opt, g->names, g->nnames);
		return -EINVAL;
	}
	s = &g->specs[r];
	if (s->arg->type == RV_API_BOOL) {
		if (eq) {
			rv_error("%s: --%s takes no value", g->cmd->cli,
				 s->flag);
			return -EINVAL;
		}
		v = "";
	} else {
		v = rv__cli_take_value(argc, argv, k, eq, g->cmd->cli, s->flag,
				       spec_is_flag, g);
		if (!v)
			return -EINVAL;
	}
	s->seen = true;
	return set_value(g->cmd, s, v, g->cwd, g->call->args);
}

/* One line for the first required argument that was not given. */
static int check_required(const struct generic *g)
{
	char hint[256], pname[32];
	size_t i;

	for (i = 0; i < g->n; i++) {
		const struct spec *s = &g->specs[i];

		if (!s->arg->required || s->seen)
			continue;
		usage_hint(g->cmd, hint, sizeof(hint));
		if (s->positional) {
			positional_name(s->arg, pname, sizeof(pname));
			rv_error("%s: missing %s (%s)", g->cmd->cli, pname,
				 hint);
		} else {
			rv_error("%s: missing --%s %s (%s)", g->cmd->cli,
				 s->flag, metavar(s->arg), hint);
		}
		return -EINVAL;
	}
	return 0;
}

static int parse_generic(int argc, char **argv, int first, const char *cwd,
			 struct rv_cli_call *call)
{
	struct generic g = { .cmd = call->cmd, .call = call, .cwd = cwd };
	bool dashdash = false;
	size_t i;
	int r;

	make_specs(g.cmd, g.specs, &g.n);
	for (i = 0; i < g.n; i++)
		if (!g.specs[i].positional)
			g.names[g.nnames++] = g.specs[i].flag;
	for (i = 0; i < RV_CLI_NR_GLOBAL_FLAGS; i++)
		g.names[g.nnames++] = rv__cli_global_flags[i];

	for (int k = first; k < argc; k++) {
		const char *a = argv[k];

		r = 0;
		if (!dashdash && strcmp(a, "--") == 0)
			dashdash = true;
		else if (dashdash || a[0] != '-' || !a[1])
			r = generic_positional(&g, a);
		else
			r = generic_flag(&g, argc, argv, &k);
		if (r < 0)
			return r;
	}
	if (call->action == RV_CLI_HELP)
		return 0;
	/*
	 * A command that resolves relative paths takes base_dir; raevm's
	 * own paths are already absolute, and anything else the user wrote
	 * was meant relative to where they stand.
	 */
	if (has_arg(g.cmd, "base_dir")) {
		r = rv__cli_put_string(call->args, "base_dir", cwd);
		if (r < 0)
			return r;
	}
	r = table_order(g.cmd, &call->args);
	if (r < 0)
		return r;
	return check_required(&g);
}

/* ------------------------------------------------------------------ help */

void rv_cli_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: raevm [--socket PATH] [--json] COMMAND [ARGS...]\n"
		   "\n"
		   "Drives the VMs of the raevmd daemon.\n"
		   "\n"
		   "Commands:\n");
	for (i = 0; i < rv_api_nr_cmds; i++)
		fprintf(f, "  %-9s %s\n", rv_api_cmds[i].cli,
			rv_api_cmds[i].summary);
	fprintf(f, "  %-9s %s\n", "help",
		"show this text, or a command's arguments (help COMMAND)");
	fprintf(f,
		"\n"
		"Options:\n"
		"  --socket PATH  the daemon's control socket; default "
		"$RAEVM_SOCKET, else\n"
		"                 $XDG_RUNTIME_DIR/" RV_CLI_USER_SOCKET
		" if it exists, else\n"
		"                 " RV_CLI_SYSTEM_SOCKET "\n"
		"  --json         print the daemon's result as one JSON "
		"document\n"
		"  -h, --help     show help (after a command: its help)\n"
		"  --version      print raevm's version\n"
		"\n"
		"Exit status: 0 ok, 1 the daemon answered with an error, 2 "
		"usage error,\n"
		"3 the daemon is not running, 4 permission denied, 5 not "
		"found.\n"
		"Run 'raevm help COMMAND' for a command's arguments, and see "
		"raevm(1).\n");
}

void rv_cli_command_help(FILE *f, const struct rv_api_cmd *cmd)
{
	struct spec specs[MAX_FLAGS];
	char left[64], hint[256], sentence[256];
	size_t n, i;

	usage_hint(cmd, hint, sizeof(hint));
	/* The table's summaries are phrases; here they open a sentence. */
	snprintf(sentence, sizeof(sentence), "%s", cmd->summary);
	if (sentence[0] >= 'a' && sentence[0] <= 'z')
		sentence[0] = (char)(sentence[0] - 'a' + 'A');
	fprintf(f, "%s\n\n%s.\n", hint, sentence);
	if (strcmp(cmd->name, "vm.create") == 0) {
		rv__cli_create_help(f);
	} else {
		make_specs(cmd, specs, &n);
		if (n)
			fputc('\n', f);
		for (i = 0; i < n; i++) {
			const struct rv_api_arg *a = specs[i].arg;

			if (specs[i].positional)
				positional_name(a, left, sizeof(left));
			else if (a->type == RV_API_BOOL)
				snprintf(left, sizeof(left), "--%s",
					 specs[i].flag);
			else if (specs[i].short_name)
				snprintf(left, sizeof(left), "-%c, --%s %s",
					 specs[i].short_name, specs[i].flag,
					 metavar(a));
			else
				snprintf(left, sizeof(left), "--%s %s",
					 specs[i].flag, metavar(a));
			/* --disk builds the array from SPECs, one per disk. */
			fprintf(f, "  %-22s %s\n", left,
				strcmp(a->name, "disks") == 0 ?
					"one disk, PATH[,format=raw|qcow2]"
					"[,readonly][,serial=ID]; repeat for "
					"each (replaces the disks)" :
				strcmp(a->name, "net") == 0 ?
					"one NIC, user[,forward=F][,restrict]"
					"[,mac=M][,mtu=N] or tap,name=IF; "
					"repeat for each (replaces the NICs); "
					"none for no NIC" :
					a->help);
		}
	}
	fprintf(f, "\n%s\nWire command: %s (docs/api.md).\n",
		cmd->access == RV_API_READ ?
			"Allowed to root, the daemon's owner and members of "
			"its group." :
			"Allowed to root and the daemon's owner.",
		cmd->name);
}

void rv_cli_print_commands(FILE *f)
{
	size_t i;

	for (i = 0; i < rv_api_nr_cmds; i++)
		fprintf(f, "%s\n", rv_api_cmds[i].cli);
	fprintf(f, "help\n");
}

void rv_cli_print_flags(FILE *f, const struct rv_api_cmd *cmd)
{
	struct spec specs[MAX_FLAGS];
	size_t n, i;

	if (cmd && strcmp(cmd->name, "vm.create") == 0) {
		rv__cli_create_flags(f);
	} else if (cmd) {
		make_specs(cmd, specs, &n);
		for (i = 0; i < n; i++)
			if (!specs[i].positional)
				fprintf(f, "--%s\n", specs[i].flag);
	}
	for (i = 0; i < RV_CLI_NR_GLOBAL_FLAGS; i++)
		fprintf(f, "--%s\n", rv__cli_global_flags[i]);
}

/* ------------------------------------------------------------ top level */

static const struct rv_api_cmd *find_verb(const char *verb)
{
	const char *names[64];
	const char *close;
	char b[128];
	size_t i, n = 0;
	const struct rv_api_cmd *cmd = rv_api_find_cli(verb);

	if (cmd)
		return cmd;
	for (i = 0; i < rv_api_nr_cmds && n < RV_ARRAY_SIZE(names) - 1; i++)
		names[n++] = rv_api_cmds[i].cli;
	names[n++] = "help";
	close = rv_manifest_suggest(verb, names, n);
	if (close)
		rv_error("unknown command '%s' (did you mean '%s'?)",
			 q(verb, b, sizeof(b)), close);
	else
		rv_error("unknown command '%s' (run 'raevm help' for the list)",
			 q(verb, b, sizeof(b)));
	return NULL;
}

/* help [--commands | --flags COMMAND | COMMAND] */
static int parse_help(int argc, char **argv, int first,
		      struct rv_cli_call *call)
{
	const char *topic = NULL;
	bool flags = false;

	call->action = RV_CLI_HELP;
	for (int k = first; k < argc; k++) {
		if (strcmp(argv[k], "--commands") == 0) {
			call->action = RV_CLI_LIST_COMMANDS;
		} else if (strcmp(argv[k], "--flags") == 0) {
			flags = true;
		} else if (argv[k][0] == '-' && argv[k][1]) {
			static const char *const names[] = { "commands",
							     "flags" };

			rv__cli_unknown_option("help", argv[k], names, 2);
			return -EINVAL;
		} else if (topic) {
			rv_error("help: give one command");
			return -EINVAL;
		} else {
			topic = argv[k];
		}
	}
	if (topic && strcmp(topic, "help") != 0) {
		call->cmd = find_verb(topic);
		if (!call->cmd)
			return -EINVAL;
	}
	if (flags)
		call->action = RV_CLI_LIST_FLAGS;
	return 0;
}

int rv_cli_parse(int argc, char **argv, const char *cwd,
		 struct rv_cli_call *call)
{
	int k, r;

	memset(call, 0, sizeof(*call));
	call->action = RV_CLI_REQUEST;
	for (k = 1; k < argc; k++) {
		const char *a = argv[k];

		if (strcmp(a, "--") == 0) {
			k++;
			break;
		}
		if (a[0] != '-' || !a[1])
			break;
		if (strcmp(a, "--version") == 0) {
			/* Local: unlike `raevm version`, asks no daemon. */
			call->action = RV_CLI_VERSION;
			return 0;
		}
		r = rv__cli_global_flag(argc, argv, &k, call);
		if (r < 0)
			return r;
		if (r == 0) {
			rv__cli_unknown_option(NULL, a, rv__cli_global_flags,
					       RV_CLI_NR_GLOBAL_FLAGS);
			return -EINVAL;
		}
	}
	if (k >= argc) {
		if (call->action == RV_CLI_HELP)
			return 0;
		rv_cli_usage(stderr);
		return -EINVAL;
	}
	if (strcmp(argv[k], "help") == 0)
		return parse_help(argc, argv, k + 1, call);
	call->cmd = find_verb(argv[k]);
	if (!call->cmd)
		return -EINVAL;
	call->args = json_object_new_object();
	if (!call->args)
		return -ENOMEM;
	if (strcmp(call->cmd->name, "vm.create") == 0)
		r = rv__cli_parse_create(argc, argv, k + 1, cwd, call);
	else
		r = parse_generic(argc, argv, k + 1, cwd, call);
	if (r < 0)
		rv_cli_call_free(call);
	return r;
}

void rv_cli_call_free(struct rv_cli_call *call)
{
	if (!call)
		return;
	json_object_put(call->args);
	call->args = NULL;
}
