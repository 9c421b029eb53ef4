// SPDX-License-Identifier: Apache-2.0
/*
 * The raevm CLI without a daemon: command lines to request JSON, the output
 * formats, the exit status table, the socket choice and the client's side of
 * the wire (over a socketpair and a forked fake server).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "raevm/log.h"

#define CWD "/home/user/vms"

/* ------------------------------------------------------------- helpers */

static int saved_stderr = -1;
static FILE *err_file;
static char err_text[4096];

/* Sends stderr to a temporary file until err_end(). */
static void err_begin(void)
{
	fflush(stderr);
	err_file = tmpfile();
	assert_non_null(err_file);
	saved_stderr = dup(2);
	dup2(fileno(err_file), 2);
}

/* Restores stderr and returns what was written to it. */
static const char *err_end(void)
{
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	rewind(err_file);
	n = fread(err_text, 1, sizeof(err_text) - 1, err_file);
	err_text[n] = '\0';
	fclose(err_file);
	return err_text;
}

/* Parses a NULL-terminated list of arguments after "raevm". */
static int parse(struct rv_cli_call *call, ...)
{
	static char prog[] = "raevm";
	char *argv[64];
	va_list ap;
	int argc = 0;

	argv[argc++] = prog;
	va_start(ap, call);
	while (argc < 63 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	return rv_cli_parse(argc, argv, CWD, call);
}

static const char *args_json(const struct rv_cli_call *call)
{
	return json_object_to_json_string_ext(
		call->args,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* Runs fn into a memory stream and returns what it printed (static). */
static char mem_text[8192];
static FILE *mem_begin(void)
{
	FILE *f = fmemopen(mem_text, sizeof(mem_text), "w");

	assert_non_null(f);
	return f;
}

static const char *mem_end(FILE *f)
{
	fclose(f);
	return mem_text;
}

static int setup(void **state)
{
	(void)state;
	rv_log_set_prog("raevm");
	setenv("TZ", "UTC", 1);
	tzset();
	return 0;
}

/* ----------------------------------------------------------- parsing */

static void cli_parse__stop_flags_to_args(void **state)
{
	struct rv_cli_call call;

	(void)state;
	/* The request lists the arguments in the table's order. */
	assert_int_equal(parse(&call, "stop", "--timeout", "5", "web",
			       "--force", NULL),
			 0);
	assert_int_equal(call.action, RV_CLI_REQUEST);
	assert_string_equal(call.cmd->name, "vm.stop");
	assert_string_equal(args_json(&call),
			    "{\"name\":\"web\",\"force\":true,\"timeout\":5}");
	rv_cli_call_free(&call);
}

static void cli_parse__every_verb_builds_its_wire_command(void **state)
{
	static const struct {
		const char *argv[5];
		const char *cmd;
		const char *args;
	} cases[] = {
		{ { "version" }, "daemon.version", "{}" },
		{ { "list" }, "vm.list", "{}" },
		{ { "info", "web" }, "vm.info", "{\"name\":\"web\"}" },
		{ { "start", "web" }, "vm.start", "{\"name\":\"web\"}" },
		{ { "kill", "web" }, "vm.kill", "{\"name\":\"web\"}" },
		{ { "pause", "web" }, "vm.pause", "{\"name\":\"web\"}" },
		{ { "resume", "web" }, "vm.resume", "{\"name\":\"web\"}" },
		{ { "restart", "web", "--timeout=7" },
		  "vm.restart",
		  "{\"name\":\"web\",\"timeout\":7}" },
		{ { "delete", "web", "--keep-disks" },
		  "vm.delete",
		  "{\"name\":\"web\",\"keep_disks\":true}" },
		{ { "console", "web" }, "vm.console", "{\"name\":\"web\"}" },
		{ { "logs", "web", "-n", "20" },
		  "vm.logs",
		  "{\"name\":\"web\",\"lines\":20}" },
		{ { "events" }, "events.subscribe", "{}" },
		{ { "set", "web", "--cpus", "4", "--memory" },
		  NULL,
		  NULL }, /* --memory without a value: usage error */
		{ { "export", "web", "-o", "web.tar" },
		  "vm.export",
		  "{\"name\":\"web\",\"path\":\"" CWD "/web.tar\"}" },
		{ { "import", "/tmp/b.tar", "--name", "copy" },
		  "vm.import",
		  "{\"path\":\"/tmp/b.tar\",\"name\":\"copy\"}" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < RV_ARRAY_SIZE(cases); i++) {
		struct rv_cli_call call;
		int r;

		err_begin();
		r = parse(&call, cases[i].argv[0], cases[i].argv[1],
			  cases[i].argv[2], cases[i].argv[3], cases[i].argv[4],
			  NULL);
		err_end();
		if (!cases[i].cmd) {
			assert_int_equal(r, -EINVAL);
			continue;
		}
		assert_int_equal(r, 0);
		assert_string_equal(call.cmd->name, cases[i].cmd);
		assert_string_equal(args_json(&call), cases[i].args);
		rv_cli_call_free(&call);
	}
}

static void cli_parse__global_flags_anywhere(void **state)
{
	struct rv_cli_call call;

	(void)state;
	assert_int_equal(
		parse(&call, "--socket", "/a.sock", "list", "--json", NULL), 0);
	assert_true(call.json);
	assert_string_equal(call.socket, "/a.sock");
	rv_cli_call_free(&call);

	assert_int_equal(parse(&call, "info", "--socket=/b.sock", "web", NULL),
			 0);
	assert_false(call.json);
	assert_string_equal(call.socket, "/b.sock");
	assert_string_equal(args_json(&call), "{\"name\":\"web\"}");
	rv_cli_call_free(&call);
}

static void cli_parse__unknown_command_suggests(void **state)
{
	struct rv_cli_call call;

	(void)state;
	err_begin();
	assert_int_equal(parse(&call, "strat", "web", NULL), -EINVAL);
	assert_string_equal(err_end(), "raevm: unknown command 'strat' (did "
				       "you mean 'start'?)\n");
	err_begin();
	assert_int_equal(parse(&call, "frobnicate", NULL), -EINVAL);
	assert_string_equal(err_end(), "raevm: unknown command 'frobnicate' "
				       "(run 'raevm help' for the list)\n");
}

static void cli_parse__unknown_flag_suggests(void **state)
{
	struct rv_cli_call call;

	(void)state;
	err_begin();
	assert_int_equal(parse(&call, "stop", "web", "--forse", NULL), -EINVAL);
	assert_string_equal(err_end(), "raevm: stop: unknown option '--forse' "
				       "(did you mean '--force'?)\n");
	err_begin();
	assert_int_equal(parse(&call, "--jsno", "list", NULL), -EINVAL);
	assert_string_equal(err_end(), "raevm: unknown option '--jsno' (did "
				       "you mean '--json'?)\n");
	err_begin();
	assert_int_equal(parse(&call, "delete", "web", "--keep-disk", NULL),
			 -EINVAL);
	assert_string_equal(err_end(), "raevm: delete: unknown option "
				       "'--keep-disk' (did you mean "
				       "'--keep-disks'?)\n");
}

static void cli_parse__missing_and_extra_arguments(void **state)
{
	struct rv_cli_call call;

	(void)state;
	err_begin();
	assert_int_equal(parse(&call, "start", NULL), -EINVAL);
	assert_string_equal(err_end(), "raevm: start: missing NAME (usage: "
				       "raevm start NAME)\n");
	err_begin();
	assert_int_equal(parse(&call, "start", "a", "b", NULL), -EINVAL);
	assert_string_equal(err_end(), "raevm: start: unexpected argument 'b' "
				       "(usage: raevm start NAME)\n");
	err_begin();
	assert_int_equal(parse(&call, "export", "web", NULL), -EINVAL);
	assert_string_equal(err_end(), "raevm: export: missing --output FILE "
				       "(usage: raevm export NAME -o FILE)\n");
	err_begin();
	assert_int_equal(parse(&call, NULL), -EINVAL);
	assert_non_null(strstr(err_end(), "usage: raevm"));
}

static void cli_parse__bad_values(void **state)
{
	struct rv_cli_call call;

	(void)state;
	err_begin();
	assert_int_equal(parse(&call, "stop", "web", "--timeout", "soon", NULL),
			 -EINVAL);
	assert_string_equal(err_end(), "raevm: stop: --timeout: 'soon' is not "
				       "a number from 0 to 2147483647\n");
	err_begin();
	assert_int_equal(parse(&call, "set", "web", "--cpus", "0", NULL),
			 -EINVAL);
	assert_string_equal(err_end(), "raevm: set: --cpus: '0' is not a "
				       "number from 1 to 254\n");
	err_begin();
	assert_int_equal(parse(&call, "set", "web", "--memory", "12Q", NULL),
			 -EINVAL);
	assert_string_equal(err_end(), "raevm: set: --memory: '12Q' is not a "
				       "size like 512M or 2G\n");
	err_begin();
	assert_int_equal(parse(&call, "stop", "web", "--force=yes", NULL),
			 -EINVAL);
	assert_string_equal(err_end(), "raevm: stop: --force takes no value\n");
	/* A flag where a value belongs reads as a missing value. */
	err_begin();
	assert_int_equal(parse(&call, "logs", "web", "--lines", "--json", NULL),
			 -EINVAL);
	assert_string_equal(err_end(), "raevm: logs: --lines: missing value\n");
	err_begin();
	assert_int_equal(parse(&call, "list", "--socket", NULL), -EINVAL);
	assert_string_equal(err_end(), "raevm: --socket: missing value\n");
}

static void cli_parse__dashdash_ends_flags(void **state)
{
	struct rv_cli_call call;

	(void)state;
	assert_int_equal(parse(&call, "info", "--", "--json", NULL), 0);
	assert_false(call.json);
	assert_string_equal(args_json(&call), "{\"name\":\"--json\"}");
	rv_cli_call_free(&call);
}

/* set's relative disk paths: absolute, and base_dir is the cwd. */
static void cli_parse__set_disks_array(void **state)
{
	struct rv_cli_call call;

	(void)state;
	assert_int_equal(parse(&call, "set", "web", "--disk", "a.img", "--disk",
			       "/d/b.qcow2,format=qcow2,readonly", "--memory",
			       "2G", NULL),
			 0);
	assert_string_equal(args_json(&call),
			    "{\"name\":\"web\",\"memory\":\"2G\",\"disks\":[{"
			    "\"path\":\"" CWD "/a.img\"},{\"path\":"
			    "\"/d/b.qcow2\",\"format\":\"qcow2\",\"readonly\":"
			    "true}],\"base_dir\":\"" CWD "\"}");
	rv_cli_call_free(&call);
}

static void cli_parse__help_forms(void **state)
{
	struct rv_cli_call call;

	(void)state;
	assert_int_equal(parse(&call, "help", NULL), 0);
	assert_int_equal(call.action, RV_CLI_HELP);
	assert_null(call.cmd);

	assert_int_equal(parse(&call, "help", "stop", NULL), 0);
	assert_int_equal(call.action, RV_CLI_HELP);
	assert_string_equal(call.cmd->name, "vm.stop");

	assert_int_equal(parse(&call, "stop", "--help", NULL), 0);
	assert_int_equal(call.action, RV_CLI_HELP);
	assert_string_equal(call.cmd->name, "vm.stop");
	rv_cli_call_free(&call);

	assert_int_equal(parse(&call, "--help", NULL), 0);
	assert_int_equal(call.action, RV_CLI_HELP);

	assert_int_equal(parse(&call, "help", "--commands", NULL), 0);
	assert_int_equal(call.action, RV_CLI_LIST_COMMANDS);

	assert_int_equal(parse(&call, "help", "--flags", "delete", NULL), 0);
	assert_int_equal(call.action, RV_CLI_LIST_FLAGS);
	assert_string_equal(call.cmd->name, "vm.delete");

	assert_int_equal(parse(&call, "--version", NULL), 0);
	assert_int_equal(call.action, RV_CLI_VERSION);

	err_begin();
	assert_int_equal(parse(&call, "help", "stpo", NULL), -EINVAL);
	assert_string_equal(err_end(), "raevm: unknown command 'stpo' (did "
				       "you mean 'stop'?)\n");
}

static void cli_help__generated_from_the_table(void **state)
{
	FILE *f;
	const char *out;
	size_t i;

	(void)state;
	f = mem_begin();
	rv_cli_usage(f);
	out = mem_end(f);
	for (i = 0; i < rv_api_nr_cmds; i++)
		assert_non_null(strstr(out, rv_api_cmds[i].summary));

	f = mem_begin();
	rv_cli_command_help(f, rv_api_find("vm.stop"));
	out = mem_end(f);
	assert_non_null(strstr(out, "usage: raevm stop NAME [--force] "
				    "[--timeout SECONDS]\n"));
	assert_non_null(strstr(out, "  --timeout SECONDS "));
	assert_non_null(strstr(out, "Wire command: vm.stop"));

	f = mem_begin();
	rv_cli_print_flags(f, rv_api_find("vm.export"));
	assert_string_equal(mem_end(f), "--output\n--socket\n--json\n--help\n");
}

static void cli_parse__create_from_flags(void **state)
{
	struct rv_cli_call call;

	(void)state;
	assert_int_equal(parse(&call, "create", "--name", "t", "--kernel",
			       "k.elf", "--disk", "a.img,serial=s1", "--cpus",
			       "2", "--memory", "1G", "--start",
			       "--cmdline=console=ttyS0", "--no-rng", NULL),
			 0);
	assert_string_equal(call.cmd->name, "vm.create");
	assert_string_equal(
		args_json(&call),
		"{\"start\":true,\"base_dir\":\"" CWD "\",\"manifest\":{"
		"\"raevm\":1,\"name\":\"t\",\"boot\":{\"kernel\":\"" CWD
		"/k.elf\",\"cmdline\":\"console=ttyS0\"},\"cpus\":2,"
		"\"memory\":\"1G\",\"rng\":false,\"disks\":[{\"path\":\"" CWD
		"/a.img\",\"serial\":\"s1\"}]}}");
	rv_cli_call_free(&call);
}

/* create's --net, --vsock, --ephemeral and --limit become manifest fields. */
static void cli_parse__create_net_vsock_limits(void **state)
{
	struct rv_cli_call call;

	(void)state;
	assert_int_equal(
		parse(&call, "create", "--name", "t", "--kernel", "k", "--net",
		      "user,forward=tcp::2222-:22,restrict,mtu=9000", "--net",
		      "tap,name=tap0,mac=52:54:00:00:00:09", "--vsock",
		      "cid=3,socket=v.sock", "--ephemeral", "--limit",
		      "memory=1G", "--limit", "cpu=150", "--limit",
		      "cpuset=0-1", "--limit", "pids=64", NULL),
		0);
	assert_string_equal(
		args_json(&call),
		"{\"base_dir\":\"" CWD "\",\"manifest\":{\"raevm\":1,"
		"\"name\":\"t\",\"boot\":{\"kernel\":\"" CWD "/k\"},"
		"\"vsock\":{\"cid\":3,\"socket\":\"" CWD "/v.sock\"},"
		"\"ephemeral\":true,\"limits\":{\"memory\":\"1G\",\"cpu\":150,"
		"\"cpuset\":\"0-1\",\"pids\":64},\"net\":[{\"mode\":\"user\","
		"\"forward\":[\"tcp:127.0.0.1:2222-:22\"],\"restrict\":true,"
		"\"mtu\":9000},{\"mode\":\"tap\",\"mac\":\"52:54:00:00:00:09\","
		"\"tap\":\"tap0\"}]}}");
	rv_cli_call_free(&call);
	assert_int_equal(parse(&call, "create", "--name", "t", "--kernel", "k",
			       "--net", "none", NULL),
			 0);
	assert_non_null(strstr(args_json(&call), "\"net\":[]"));
	rv_cli_call_free(&call);
}

static void cli_parse__set_net(void **state)
{
	struct rv_cli_call call;
	const char *err;

	(void)state;
	assert_int_equal(parse(&call, "set", "web", "--net",
			       "forward=udp::5353-:53", NULL),
			 0);
	assert_string_equal(args_json(&call),
			    "{\"name\":\"web\",\"net\":[{\"mode\":\"user\","
			    "\"forward\":[\"udp:127.0.0.1:5353-:53\"]}],"
			    "\"base_dir\":\"" CWD "\"}");
	rv_cli_call_free(&call);
	assert_int_equal(parse(&call, "set", "web", "--net", "none", NULL), 0);
	assert_string_equal(args_json(&call),
			    "{\"name\":\"web\",\"net\":[],\"base_dir\":\"" CWD
			    "\"}");
	rv_cli_call_free(&call);

	err_begin();
	assert_int_not_equal(parse(&call, "set", "web", "--net", "none",
				   "--net", "user", NULL),
			     0);
	err = err_end();
	assert_string_equal(
		err,
		"raevm: set: --net: 'none' cannot be combined with another --net\n");
	rv_cli_call_free(&call);
	err_begin();
	assert_int_not_equal(
		parse(&call, "set", "web", "--net", "tap,fd=3", NULL), 0);
	err = err_end();
	assert_string_equal(
		err,
		"raevm: set: --net: fd=N works only with raevmd run (the daemon cannot take a descriptor from raevm; use name=IF) in 'tap,fd=3'\n");
	rv_cli_call_free(&call);
	err_begin();
	assert_int_not_equal(parse(&call, "create", "--name", "t", "--kernel",
				   "k", "--vsock", "cid=2", NULL),
			     0);
	err = err_end();
	assert_string_equal(
		err,
		"raevm: create: --vsock: cid '2' is not a guest CID from 3 to 4294967294 (0-2 are reserved) in 'cid=2'\n");
	rv_cli_call_free(&call);
	err_begin();
	assert_int_not_equal(parse(&call, "create", "--name", "t", "--kernel",
				   "k", "--limit", "pids=1", NULL),
			     0);
	err = err_end();
	assert_string_equal(
		err,
		"raevm: create: --limit: pids '1' is not a number of tasks from 8 to 4194304\n");
	rv_cli_call_free(&call);
}

static void cli_parse__create_needs_manifest_or_kernel(void **state)
{
	struct rv_cli_call call;

	(void)state;
	err_begin();
	assert_int_equal(parse(&call, "create", "--name", "t", NULL), -EINVAL);
	assert_string_equal(err_end(),
			    "raevm: create: give a manifest (raevm create "
			    "FILE.raeVM) or at least --name NAME --kernel "
			    "PATH\n");
	err_begin();
	assert_int_equal(parse(&call, "create", "--name", "my vm", "--kernel",
			       "k", NULL),
			 -EINVAL);
	assert_non_null(strstr(err_end(), "'my vm' is not a valid name"));
}

/* Writes text to dir/name and returns the path (static buffer). */
static const char *write_temp(const char *dir, const char *name,
			      const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void cli_parse__create_from_manifest(void **state)
{
	char dir[] = "/tmp/raevm-cli-XXXXXX";
	struct rv_cli_call call;
	const char *path;
	char expect[1024];

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = write_temp(dir, "web.raeVM",
			  "{\"raevm\": 1, \"name\": \"web\", \"cpus\": 2,\n"
			  " \"boot\": {\"kernel\": \"vmlinux\"}}\n");
	/* The manifest is sent as written, --cpus overrides its field. */
	assert_int_equal(parse(&call, "create", path, "--cpus", "4", NULL), 0);
	snprintf(expect, sizeof(expect),
		 "{\"base_dir\":\"%s\",\"manifest\":{\"raevm\":1,\"name\":"
		 "\"web\",\"cpus\":4,\"boot\":{\"kernel\":\"vmlinux\"}}}",
		 dir);
	assert_string_equal(args_json(&call), expect);
	rv_cli_call_free(&call);
	unlink(path);
	rmdir(dir);
}

static void cli_parse__create_invalid_manifest(void **state)
{
	char dir[] = "/tmp/raevm-cli-XXXXXX";
	struct rv_cli_call call;
	const char *path;
	char expect[1024];

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* json-c would keep the second "cpus"; the strict parser refuses. */
	path = write_temp(dir, "bad.raeVM",
			  "{\"raevm\": 1, \"name\": \"web\", \"cpus\": 2,\n"
			  " \"cpus\": 3, \"boot\": {\"kernel\": \"k\"}}\n");
	err_begin();
	assert_int_equal(parse(&call, "create", path, NULL), -EBADMSG);
	snprintf(expect, sizeof(expect),
		 "raevm: %s: cpus: duplicate key on line 2 (first given on "
		 "line 1)\n",
		 path);
	assert_string_equal(err_end(), expect);
	unlink(path);

	snprintf(expect, sizeof(expect), "%s/none.raeVM", dir);
	err_begin();
	assert_int_equal(parse(&call, "create", expect, NULL), -ENOENT);
	assert_non_null(strstr(err_end(), "cannot read it: No such file"));
	rmdir(dir);
}

static void cli_parse_disk__errors(void **state)
{
	static const struct {
		const char *spec;
		const char *line;
	} cases[] = {
		{ "a.img,fromat=raw",
		  "raevm: d: unknown option 'fromat' in 'a.img,fromat=raw' "
		  "(did you mean 'format'?)\n" },
		{ "a,b.img",
		  "raevm: d: unknown option 'b.img' in 'a,b.img' (a path "
		  "with a comma can only be given in a manifest)\n" },
		{ "a.img,format=vmdk",
		  "raevm: d: unknown format 'vmdk' in 'a.img,format=vmdk' "
		  "(use raw or qcow2)\n" },
		{ "a.img,format=qcow",
		  "raevm: d: unknown format 'qcow' in 'a.img,format=qcow' "
		  "(did you mean 'qcow2'?)\n" },
		{ "a.img,format=",
		  "raevm: d: 'format' needs a value in 'a.img,format='\n" },
		{ "a.img,readonly=yes",
		  "raevm: d: 'readonly' takes no value in "
		  "'a.img,readonly=yes'\n" },
		{ "a.img,readonly,readonly",
		  "raevm: d: 'readonly' given twice in "
		  "'a.img,readonly,readonly'\n" },
		{ ",readonly", "raevm: d: empty path in ',readonly'\n" },
		{ "a.img,,readonly",
		  "raevm: d: empty option in 'a.img,,readonly'\n" },
		{ "format=raw,a.img", "raevm: d: the path must come first in "
				      "'format=raw,a.img'\n" },
		{ "a.img,serial=ABCDEFGHIJKLMNOPQRSTU",
		  "raevm: d: serial too long (21 bytes; the virtio-blk limit "
		  "is 20) in 'a.img,serial=ABCDEFGHIJKLMNOPQRSTU'\n" },
	};
	struct json_object *disk;
	size_t i;

	(void)state;
	for (i = 0; i < RV_ARRAY_SIZE(cases); i++) {
		err_begin();
		assert_int_equal(rv_cli_parse_disk(cases[i].spec, "/w", "d",
						   &disk),
				 -EINVAL);
		assert_string_equal(err_end(), cases[i].line);
		assert_null(disk);
	}
	assert_int_equal(
		rv_cli_parse_disk("path=x.img,readonly", "/w", "d", &disk), 0);
	assert_string_equal(json_object_to_json_string_ext(
				    disk,
				    JSON_C_TO_STRING_PLAIN |
					    JSON_C_TO_STRING_NOSLASHESCAPE),
			    "{\"path\":\"/w/x.img\",\"readonly\":true}");
	json_object_put(disk);
}

static void cli_absolute__joins(void **state)
{
	char *p;

	(void)state;
	p = rv_cli_absolute("/a/", "b/c");
	assert_string_equal(p, "/a/b/c");
	free(p);
	p = rv_cli_absolute("/a", "/x");
	assert_string_equal(p, "/x");
	free(p);
	p = rv_cli_absolute("/", "x");
	assert_string_equal(p, "/x");
	free(p);
}

/* -------------------------------------------------------- exit codes */

static void cli_exit_status__wire_codes(void **state)
{
	(void)state;
	assert_int_equal(rv_cli_exit_status("ENOENT"), RV_CLI_EXIT_NOT_FOUND);
	assert_int_equal(rv_cli_exit_status("EACCES"), RV_CLI_EXIT_DENIED);
	assert_int_equal(rv_cli_exit_status("EPERM"), RV_CLI_EXIT_DENIED);
	assert_int_equal(rv_cli_exit_status("EEXIST"), RV_CLI_EXIT_ERROR);
	assert_int_equal(rv_cli_exit_status("EBUSY"), RV_CLI_EXIT_ERROR);
	assert_int_equal(rv_cli_exit_status("ENOSUCHCODE"), RV_CLI_EXIT_ERROR);
	assert_int_equal(rv_cli_exit_status(NULL), RV_CLI_EXIT_ERROR);
	assert_int_equal(RV_CLI_EXIT_NO_DAEMON, 3);
	assert_int_equal(RV_CLI_EXIT_DENIED, 4);
	assert_int_equal(RV_CLI_EXIT_NOT_FOUND, 5);
}

static void cli_exit_from_errno__local_errors(void **state)
{
	(void)state;
	assert_int_equal(rv_cli_exit_from_errno(0), RV_CLI_EXIT_OK);
	assert_int_equal(rv_cli_exit_from_errno(-EINVAL), RV_CLI_EXIT_USAGE);
	assert_int_equal(rv_cli_exit_from_errno(-ENOENT),
			 RV_CLI_EXIT_NOT_FOUND);
	assert_int_equal(rv_cli_exit_from_errno(-EACCES), RV_CLI_EXIT_DENIED);
	assert_int_equal(rv_cli_exit_from_errno(-ENOMEM), RV_CLI_EXIT_ERROR);
}

/* ------------------------------------------------------------ output */

static void cli_sanitize__escapes_controls(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(rv_cli_sanitize("a\x1b[31mb", buf, sizeof(buf)),
			    "a\\x1b[31mb");
	assert_string_equal(rv_cli_sanitize("caf\xc3\xa9", buf, sizeof(buf)),
			    "caf\xc3\xa9");
	/* U+009B (CSI) written as UTF-8, and a stray continuation byte. */
	assert_string_equal(rv_cli_sanitize("x\xc2\x9by\x80", buf, sizeof(buf)),
			    "x\\xc2\\x9by\\x80");
	assert_string_equal(rv_cli_sanitize("tab\tnl\n", buf, sizeof(buf)),
			    "tab\\x09nl\\x0a");
	assert_string_equal(rv_cli_sanitize("abcdefghij", buf, 8), "abcd...");
	assert_string_equal(rv_cli_sanitize(NULL, buf, sizeof(buf)), "");
}

static void cli_format__sizes_and_durations(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(rv_cli_format_size(1ULL << 30, buf, sizeof(buf)),
			    "1G");
	assert_string_equal(rv_cli_format_size(512ULL << 20, buf, sizeof(buf)),
			    "512M");
	assert_string_equal(rv_cli_format_size(3ULL << 29, buf, sizeof(buf)),
			    "1.5G");
	assert_string_equal(rv_cli_format_size(100, buf, sizeof(buf)), "100B");
	assert_string_equal(rv_cli_format_size(4096, buf, sizeof(buf)), "4K");
	assert_string_equal(rv_cli_format_duration(59, buf, sizeof(buf)),
			    "59s");
	assert_string_equal(rv_cli_format_duration(600, buf, sizeof(buf)),
			    "10m");
	assert_string_equal(rv_cli_format_duration(3725, buf, sizeof(buf)),
			    "1h 2m");
	assert_string_equal(rv_cli_format_duration(2 * 86400 + 5 * 3600 + 7,
						   buf, sizeof(buf)),
			    "2d 5h");
}

static void cli_print_table__aligned(void **state)
{
	static const char *const header[] = { "A", "NUM", "LAST" };
	static const char *const cells[] = { "long-name", "7",	 "x",
					     "b\x1b",	  "123", "" };
	FILE *f;

	(void)state;
	f = mem_begin();
	rv_cli_print_table(f, 3, header, cells, 2, 1u << 1);
	assert_string_equal(mem_end(f), "A          NUM  LAST\n"
					"long-name    7  x\n"
					"b\\x1b      123\n");
}

static struct json_object *json(const char *text)
{
	struct json_object *o = json_tokener_parse(text);

	assert_non_null(o);
	return o;
}

static void cli_print_list__table(void **state)
{
	struct json_object *r = json(
		"{\"vms\": [{\"name\": \"web\", \"state\": \"running\", "
		"\"cpus\": 2, \"memory\": 1073741824, \"uptime\": 3725},"
		"{\"name\": \"database\", \"state\": \"stopped\", \"cpus\": "
		"12, \"memory\": \"512M\", \"uptime\": 50}]}");
	FILE *f;

	(void)state;
	f = mem_begin();
	assert_int_equal(rv_cli_print_list(f, r), 0);
	assert_string_equal(mem_end(f),
			    "NAME      STATE    CPUS  MEMORY  UPTIME\n"
			    "web       running     2  1G      1h 2m\n"
			    "database  stopped    12  512M    -\n");
	json_object_put(r);

	r = json("{\"vms\": []}");
	f = mem_begin();
	assert_int_equal(rv_cli_print_list(f, r), 0);
	assert_string_equal(mem_end(f), "NAME  STATE  CPUS  MEMORY  UPTIME\n");
	json_object_put(r);

	r = json("{\"count\": 3}");
	err_begin();
	assert_int_equal(rv_cli_print_list(stdout, r), -EPROTO);
	assert_string_equal(err_end(),
			    "raevm: the daemon's list has no VM array\n");
	json_object_put(r);
}

static void cli_print_object__flattens(void **state)
{
	struct json_object *r = json(
		"{\"name\": \"web\", \"memory\": 536870912, \"boot\": "
		"{\"kernel\": \"/k\"}, \"tags\": [\"a\", \"b\"], \"disks\": "
		"[{\"path\": \"/d\"}], \"empty\": [], \"ok\": true, "
		"\"created\": 1735787045, \"started_at\": 0, \"reason\": \"\", "
		"\"console\": null}");
	FILE *f;

	(void)state;
	f = mem_begin();
	rv_cli_print_object(f, r);
	assert_string_equal(mem_end(f), "name:          web\n"
					"memory:        512M\n"
					"boot.kernel:   /k\n"
					"tags:          a, b\n"
					"disks[0].path: /d\n"
					"empty:         -\n"
					"ok:            true\n"
					"created:       2025-01-02 03:04:05\n"
					"started_at:    -\n"
					"reason:\n"
					"console:       -\n");
	json_object_put(r);
}

static void cli_print_logs__sanitized_on_terminals(void **state)
{
	struct json_object *r = json("{\"lines\": [\"ok\", \"\\u001b]0;x\\u0007"
				     "\\tend\"]}");
	FILE *f;

	(void)state;
	f = mem_begin();
	assert_int_equal(rv_cli_print_logs(f, r, true), 0);
	assert_string_equal(mem_end(f), "ok\n\\x1b]0;x\\x07\tend\n");
	f = mem_begin();
	assert_int_equal(rv_cli_print_logs(f, r, false), 0);
	assert_string_equal(mem_end(f), "ok\n\x1b]0;x\x07\tend\n");
	json_object_put(r);
}

static void cli_format_event__line(void **state)
{
	struct json_object *ev = json(
		"{\"event\": \"vm.state\", \"ts\": \"2025-01-02T03:04:05.5Z\", "
		"\"data\": {\"name\": \"web\", \"state\": \"crashed\", "
		"\"reason\": \"killed by signal 9\"}}");
	char buf[256];

	(void)state;
	assert_string_equal(
		rv_cli_format_event(ev, buf, sizeof(buf)),
		"2025-01-02 03:04:05  web               crashed     "
		"killed by signal 9");
	json_object_put(ev);

	/* An offset is honoured; another event shows its own name. */
	ev = json("{\"event\": \"daemon.stopping\", \"ts\": "
		  "\"2025-01-02T05:04:05+02:00\", \"data\": {}}");
	assert_string_equal(rv_cli_format_event(ev, buf, sizeof(buf)),
			    "2025-01-02 03:04:05  -                 "
			    "daemon.stopping");
	json_object_put(ev);
}

static void cli_print_result__people(void **state)
{
	struct json_object *args =
		json("{\"name\": \"web\", \"path\": \"/b\"}");
	struct json_object *res = json("{}");
	FILE *f;

	(void)state;
	f = mem_begin();
	assert_int_equal(
		rv_cli_print_result(f, rv_api_find("vm.start"), args, res), 0);
	assert_string_equal(mem_end(f), "started web\n");
	f = mem_begin();
	assert_int_equal(
		rv_cli_print_result(f, rv_api_find("vm.export"), args, res), 0);
	assert_string_equal(mem_end(f), "exported web to /b\n");
	f = mem_begin();
	rv_cli_print_json(f, args);
	assert_string_equal(mem_end(f), "{\"name\":\"web\",\"path\":\"/b\"}\n");
	json_object_put(args);
	json_object_put(res);
}

/* ------------------------------------------------------------ socket */

static void cli_socket_pick__order(void **state)
{
	char dir[] = "/tmp/raevm-xdg-XXXXXX", sub[256], path[256];
	struct rv_cli_socket s;
	char longp[200];

	(void)state;
	assert_int_equal(
		rv_cli_socket_pick("/f.sock", "/e.sock", "/x", 1000, &s), 0);
	assert_string_equal(s.path, "/f.sock");
	assert_true(s.explicit);
	assert_int_equal(rv_cli_socket_pick(NULL, "/e.sock", "/x", 0, &s), 0);
	assert_string_equal(s.path, "/e.sock");
	assert_int_equal(rv_cli_socket_pick(NULL, "", "/x", 0, &s), 0);
	assert_string_equal(s.path, RV_CLI_SYSTEM_SOCKET);
	assert_false(s.explicit);

	/* A user without a daemon of their own reaches the system one. */
	assert_non_null(mkdtemp(dir));
	assert_int_equal(rv_cli_socket_pick(NULL, NULL, dir, 1000, &s), 0);
	assert_string_equal(s.path, RV_CLI_SYSTEM_SOCKET);
	snprintf(path, sizeof(path), "%s/raevm/raevmd.sock", dir);
	assert_string_equal(s.alt, path);

	snprintf(sub, sizeof(sub), "%s/raevm", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(rv_cli_socket_pick(NULL, NULL, dir, 1000, &s), 0);
	assert_string_equal(s.path, path);
	assert_string_equal(s.alt, "");
	unlink(path);
	rmdir(sub);
	rmdir(dir);

	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	err_begin();
	assert_int_equal(rv_cli_socket_pick(longp, NULL, NULL, 0, &s),
			 -ENAMETOOLONG);
	assert_string_equal(err_end(),
			    "raevm: --socket: too long for a Unix "
			    "socket (199 bytes; the limit is 107)\n");
}

static void cli_report_connect_error__lines(void **state)
{
	struct rv_cli_socket s = { .path = "/run/raevm/raevmd.sock",
				   .alt = "/run/user/1/raevm/raevmd.sock" };

	(void)state;
	err_begin();
	assert_int_equal(rv_cli_report_connect_error(&s, -ENOENT),
			 RV_CLI_EXIT_NO_DAEMON);
	assert_string_equal(err_end(),
			    "raevm: the raevm daemon is not running (no socket "
			    "at /run/user/1/raevm/raevmd.sock or "
			    "/run/raevm/raevmd.sock); start it with: systemctl "
			    "start raevmd\n");
	s.alt[0] = '\0';
	s.explicit = true;
	err_begin();
	assert_int_equal(rv_cli_report_connect_error(&s, -ECONNREFUSED),
			 RV_CLI_EXIT_NO_DAEMON);
	assert_string_equal(err_end(),
			    "raevm: the raevm daemon is not running (nothing "
			    "listens on /run/raevm/raevmd.sock); start it "
			    "with: raevmd daemon --socket "
			    "/run/raevm/raevmd.sock\n");
	err_begin();
	assert_int_equal(rv_cli_report_connect_error(&s, -EACCES),
			 RV_CLI_EXIT_DENIED);
	assert_string_equal(err_end(), "raevm: permission denied on "
				       "/run/raevm/raevmd.sock (run as root, "
				       "or join the daemon's group, "
				       "'raevm')\n");
	/* rv_cli_connect() has printed these itself. */
	err_begin();
	assert_int_equal(rv_cli_report_connect_error(&s, -EKEYREJECTED),
			 RV_CLI_EXIT_DENIED);
	assert_int_equal(rv_cli_report_connect_error(&s, -EPROTO),
			 RV_CLI_EXIT_ERROR);
	assert_string_equal(err_end(), "");
}

/* A conn over one end of a socketpair; the test plays the daemon. */
static struct rv_cli_conn *pair_conn(int *peer)
{
	struct rv_cli_conn *conn = calloc(1, sizeof(*conn));
	int sv[2];

	assert_non_null(conn);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	conn->fd = sv[0];
	conn->next_id = 7;
	*peer = sv[1];
	return conn;
}

static void peer_write(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void cli_request__skips_events_and_other_ids(void **state)
{
	struct json_object *args = json("{\"name\": \"web\"}"), *reply;
	struct rv_cli_conn *conn;
	char sent[256];
	ssize_t n;
	int peer;

	(void)state;
	conn = pair_conn(&peer);
	peer_write(peer, "{\"event\": \"vm.state\", \"data\": {}}\n"
			 "{\"id\": 3, \"ok\": true, \"result\": {}}\n"
			 "{\"id\": 7, \"ok\": false, \"error\": {\"code\": "
			 "\"ENOENT\", \"message\": \"no VM\"}}\n");
	assert_int_equal(rv_cli_request(conn, "vm.info", args, 1000, &reply),
			 0);
	n = read(peer, sent, sizeof(sent) - 1);
	assert_true(n > 0);
	sent[n] = '\0';
	assert_string_equal(sent, "{\"id\":7,\"cmd\":\"vm.info\",\"args\":"
				  "{\"name\":\"web\"}}\n");
	assert_false(
		json_object_get_boolean(json_object_object_get(reply, "ok")));
	json_object_put(reply);

	/* An error the daemon could not give our id to is ours too. */
	peer_write(peer, "{\"id\": null, \"ok\": false, \"error\": {\"code\": "
			 "\"EINVAL\", \"message\": \"bad\"}}\n");
	assert_int_equal(rv_cli_request(conn, "vm.list", NULL, 1000, &reply),
			 0);
	assert_false(
		json_object_get_boolean(json_object_object_get(reply, "ok")));
	json_object_put(reply);
	assert_true(read(peer, sent, sizeof(sent)) > 0);

	/* A line split over two writes, then the daemon goes away. */
	peer_write(peer, "{\"id\": 9, \"ok\": tr");
	peer_write(peer, "ue}\n");
	assert_int_equal(rv_cli_request(conn, "vm.list", NULL, 1000, &reply),
			 0);
	json_object_put(reply);
	close(peer);
	assert_int_equal(rv_cli_request(conn, "vm.list", NULL, 1000, &reply),
			 -ECONNRESET);
	assert_null(reply);
	rv_cli_close(conn);
	json_object_put(args);
}

static void cli_request__malformed_replies(void **state)
{
	struct json_object *reply;
	struct rv_cli_conn *conn;
	int peer;

	(void)state;
	conn = pair_conn(&peer);
	peer_write(peer, "not json\n");
	err_begin();
	assert_int_equal(rv_cli_request(conn, "vm.list", NULL, 1000, &reply),
			 -EPROTO);
	assert_string_equal(err_end(), "raevm: the daemon sent a line that is "
				       "not a JSON object\n");
	peer_write(peer, "{\"id\": 8, \"result\": {}}\n");
	err_begin();
	assert_int_equal(rv_cli_request(conn, "vm.list", NULL, 1000, &reply),
			 -EPROTO);
	assert_string_equal(err_end(), "raevm: the daemon's reply has no "
				       "\"ok\"\n");
	/* Nothing more: the wait ends at its deadline. */
	assert_int_equal(rv_cli_request(conn, "vm.list", NULL, 10, &reply),
			 -ETIMEDOUT);
	close(peer);
	rv_cli_close(conn);
}

/*
 * Listens on a temporary socket and forks a child that accepts one client
 * and sends greeting (NULL: none, it only closes). Returns the child.
 */
static pid_t fake_daemon(const char *path, const char *greeting)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pid_t pid;
	int fd, c;

	strcpy(sa.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		c = accept(fd, NULL, NULL);
		if (c >= 0 && greeting)
			(void)!write(c, greeting, strlen(greeting));
		close(c);
		_exit(0);
	}
	close(fd);
	return pid;
}

static void cli_connect__greeting_checked(void **state)
{
	char path[] = "/tmp/raevm-cli-sock-XXXXXX";
	struct rv_cli_conn *conn;
	pid_t pid;
	int fd;

	(void)state;
	fd = mkstemp(path);
	close(fd);
	pid = fake_daemon(path, "{\"raevm\": {\"version\": \"x\", "
				"\"protocol\": 1}}\n");
	assert_int_equal(rv_cli_connect(path, 5000, &conn), 0);
	assert_non_null(conn->greeting);
	rv_cli_close(conn);
	waitpid(pid, NULL, 0);

	pid = fake_daemon(path, "{\"raevm\": {\"protocol\": 2}}\n");
	err_begin();
	assert_int_equal(rv_cli_connect(path, 5000, &conn), -EPROTO);
	assert_non_null(strstr(err_end(), "speaks protocol 2 and this raevm "
					  "speaks 1"));
	assert_null(conn);
	waitpid(pid, NULL, 0);

	pid = fake_daemon(path, "SSH-2.0-OpenSSH\r\n");
	err_begin();
	assert_int_equal(rv_cli_connect(path, 5000, &conn), -EPROTO);
	assert_non_null(strstr(err_end(), "is not a raevm daemon's socket"));
	waitpid(pid, NULL, 0);

	/* A refused peer gets an error line instead of the greeting. */
	pid = fake_daemon(path, "{\"id\": null, \"ok\": false, \"error\": "
				"{\"code\": \"EACCES\", \"message\": \"uid 9 "
				"may not use raevmd\"}}\n");
	err_begin();
	assert_int_equal(rv_cli_connect(path, 5000, &conn), -EKEYREJECTED);
	assert_string_equal(err_end(), "raevm: uid 9 may not use raevmd\n");
	waitpid(pid, NULL, 0);

	pid = fake_daemon(path, "{\"id\": null, \"ok\": false, \"error\": "
				"{\"code\": \"EAGAIN\", \"message\": \"too "
				"many clients\"}}\n");
	err_begin();
	assert_int_equal(rv_cli_connect(path, 5000, &conn), -EPROTO);
	assert_string_equal(err_end(), "raevm: too many clients\n");
	waitpid(pid, NULL, 0);

	pid = fake_daemon(path, NULL);
	assert_int_equal(rv_cli_connect(path, 5000, &conn), -ECONNRESET);
	waitpid(pid, NULL, 0);
	unlink(path);

	assert_int_equal(rv_cli_connect(path, 5000, &conn), -ENOENT);
}

static void cli_connect__refused_without_listener(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[] = "/tmp/raevm-cli-sock-XXXXXX";
	struct rv_cli_conn *conn;
	int fd;

	(void)state;
	fd = mkstemp(path);
	close(fd);
	unlink(path);
	strcpy(sa.sun_path, path);
	/* Bound but never listening: what a dead daemon leaves behind. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(rv_cli_connect(path, 5000, &conn), -ECONNREFUSED);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cli_parse__stop_flags_to_args),
		cmocka_unit_test(cli_parse__every_verb_builds_its_wire_command),
		cmocka_unit_test(cli_parse__global_flags_anywhere),
		cmocka_unit_test(cli_parse__unknown_command_suggests),
		cmocka_unit_test(cli_parse__unknown_flag_suggests),
		cmocka_unit_test(cli_parse__missing_and_extra_arguments),
		cmocka_unit_test(cli_parse__bad_values),
		cmocka_unit_test(cli_parse__dashdash_ends_flags),
		cmocka_unit_test(cli_parse__set_disks_array),
		cmocka_unit_test(cli_parse__help_forms),
		cmocka_unit_test(cli_help__generated_from_the_table),
		cmocka_unit_test(cli_parse__create_from_flags),
		cmocka_unit_test(cli_parse__create_net_vsock_limits),
		cmocka_unit_test(cli_parse__set_net),
		cmocka_unit_test(cli_parse__create_needs_manifest_or_kernel),
		cmocka_unit_test(cli_parse__create_from_manifest),
		cmocka_unit_test(cli_parse__create_invalid_manifest),
		cmocka_unit_test(cli_parse_disk__errors),
		cmocka_unit_test(cli_absolute__joins),
		cmocka_unit_test(cli_exit_status__wire_codes),
		cmocka_unit_test(cli_exit_from_errno__local_errors),
		cmocka_unit_test(cli_sanitize__escapes_controls),
		cmocka_unit_test(cli_format__sizes_and_durations),
		cmocka_unit_test(cli_print_table__aligned),
		cmocka_unit_test(cli_print_list__table),
		cmocka_unit_test(cli_print_object__flattens),
		cmocka_unit_test(cli_print_logs__sanitized_on_terminals),
		cmocka_unit_test(cli_format_event__line),
		cmocka_unit_test(cli_print_result__people),
		cmocka_unit_test(cli_socket_pick__order),
		cmocka_unit_test(cli_report_connect_error__lines),
		cmocka_unit_test(cli_request__skips_events_and_other_ids),
		cmocka_unit_test(cli_request__malformed_replies),
		cmocka_unit_test(cli_connect__greeting_checked),
		cmocka_unit_test(cli_connect__refused_without_listener),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
