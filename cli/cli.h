/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_CLI_H
#define RAEVM_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "raevm/api.h"
#include "raevm/util.h"

#include <json-c/json.h>

/*
 * raevm, the command-line client of raevmd. It speaks the control protocol
 * (include/raevm/api.h, docs/api.md) and nothing else: it never opens
 * /dev/kvm. Its sub-commands, their flags and their help come from the
 * shared command table rv_api_cmds[], so a command added there appears here.
 *
 *   args.c     argv -> the request (command + args object), help texts
 *   create.c   create's flags and manifest, disk SPECs
 *   client.c   the control socket: connect, greeting, request/reply, events
 *   output.c   tables and key: value blocks for people, exit statuses
 *   console.c  attach the terminal to a VM's console socket
 *   main.c     main(): ties them together; the only place that exits
 */

#ifndef RAEVM_VERSION
#define RAEVM_VERSION "0.1.0"
#endif

/* Exit statuses, documented in raevm(1) "EXIT STATUS". */
#define RV_CLI_EXIT_OK 0
#define RV_CLI_EXIT_ERROR 1	/* the daemon answered with an error */
#define RV_CLI_EXIT_USAGE 2	/* bad command line */
#define RV_CLI_EXIT_NO_DAEMON 3 /* no daemon at the socket, or it went away */
#define RV_CLI_EXIT_DENIED 4	/* permission denied (socket or command) */
#define RV_CLI_EXIT_NOT_FOUND 5 /* no such VM or file */

/* The system daemon's socket and the rootless one's, under the runtime dir. */
#define RV_CLI_SYSTEM_SOCKET "/run/raevm/raevmd.sock"
#define RV_CLI_USER_SOCKET "raevm/raevmd.sock"
#define RV_CLI_SOCKET_MAX 108 /* sizeof(sun_path), terminator included */

/* How long the daemon has to send its greeting before raevm gives up. */
#define RV_CLI_GREETING_TIMEOUT_MS 10000

/* ------------------------------------------------------------------ args */

enum rv_cli_action {
	RV_CLI_REQUEST,	      /* send cmd with args to the daemon */
	RV_CLI_HELP,	      /* print help (cmd NULL: the overview) */
	RV_CLI_LIST_COMMANDS, /* `help --commands`: verbs, for completion */
	RV_CLI_LIST_FLAGS, /* `help --flags CMD`: its flags, for completion */
	RV_CLI_VERSION,	   /* --version: the CLI's own version only */
};

/* One parsed command line. */
struct rv_cli_call {
	enum rv_cli_action action;
	const char *socket; /* --socket PATH (in argv) or NULL */
	bool json;	    /* --json */
	const struct rv_api_cmd *cmd;
	struct json_object *args; /* the request's "args"; owned */
};

/*
 * Parses argv (argv[0] is the program) into call. cwd is the absolute
 * current directory, against which relative paths on the command line and
 * a manifest's folder are made absolute (the daemon has another one).
 *
 * Returns 0 with call filled (release it with rv_cli_call_free()), or a
 * negative errno after one error line on stderr ("raevm: ..."):
 *   -EINVAL   a usage error (unknown command or flag, missing value)
 *   -EBADMSG  create: the manifest is invalid (one line per problem)
 *   -ENOENT, -EACCES, ...  create: the manifest file cannot be read
 *   -ENOMEM
 */
int rv_cli_parse(int argc, char **argv, const char *cwd,
		 struct rv_cli_call *call) RV_MUST_CHECK;

/* Releases call->args; accepts a zeroed or already released call. */
void rv_cli_call_free(struct rv_cli_call *call);

/*
 * Parses one disk SPEC, PATH[,format=raw|qcow2][,readonly][,serial=ID],
 * the syntax of `raevmd run --disk` (docs/manifest.md), into a manifest
 * disk object with an absolute path. what names the flag in the error line.
 * Returns 0 with *out set, or -EINVAL after one error line.
 */
int rv_cli_parse_disk(const char *spec, const char *cwd, const char *what,
		      struct json_object **out) RV_MUST_CHECK;

/*
 * Parses one NIC SPEC, the syntax of `raevmd run --net` (user[,forward=F]
 * ...[,restrict][,mac=M][,mtu=N], tap,name=IF[,...] or none), into a
 * manifest "net" entry. tap,fd=N is refused: a file descriptor cannot
 * travel to the daemon. For "none" *out is NULL and *none true. Returns 0,
 * or -EINVAL after one error line naming what.
 */
int rv_cli_parse_net(const char *spec, const char *what, bool *none,
		     struct json_object **out) RV_MUST_CHECK;

/*
 * Joins a relative path to dir ("a.img" in "/srv" is "/srv/a.img");
 * absolute paths are copied. Returns a malloc'd string or NULL.
 */
char *rv_cli_absolute(const char *dir, const char *path);

/* The overview (`raevm help`) and one command's help (`raevm help stop`). */
void rv_cli_usage(FILE *f);
void rv_cli_command_help(FILE *f, const struct rv_api_cmd *cmd);
/* One line per verb, then per flag of cmd: what the completion reads. */
void rv_cli_print_commands(FILE *f);
void rv_cli_print_flags(FILE *f, const struct rv_api_cmd *cmd);

/*
 * Shared by the two halves of the parser, args.c and create.c; not for
 * other files.
 */
#define RV_CLI_FLAG_MAX 32 /* bytes in a flag's name, dashes excluded */
#define RV_CLI_NR_GLOBAL_FLAGS 3

/* The global flags' names ("socket", "json", "help"). */
extern const char *const rv__cli_global_flags[RV_CLI_NR_GLOBAL_FLAGS];

/* Adds key to obj; takes the reference to val even on failure. */
int rv__cli_put(struct json_object *obj, const char *key,
		struct json_object *val) RV_MUST_CHECK;
int rv__cli_put_string(struct json_object *obj, const char *key,
		       const char *s) RV_MUST_CHECK;
/* Adds path, made absolute against cwd. */
int rv__cli_put_path(struct json_object *obj, const char *key, const char *cwd,
		     const char *path) RV_MUST_CHECK;

/* One line: "<where>: unknown option '--x' (did you mean '--y'?)". */
void rv__cli_unknown_option(const char *where, const char *opt,
			    const char *const *names, size_t n);

/*
 * Flag values checked as the manifest checks its fields. Each returns 0 or
 * -EINVAL after one line naming the flag.
 */
int rv__cli_check_memory(const char *where, const char *flag,
			 const char *v) RV_MUST_CHECK;
int rv__cli_parse_int(const char *where, const char *flag, const char *v,
		      uint64_t min, uint64_t max, int *out) RV_MUST_CHECK;

/*
 * Handles a global flag met after the verb. Returns 1 when argv[*i] was one
 * (its value consumed), 0 when it was not, or -EINVAL after one line.
 */
int rv__cli_global_flag(int argc, char **argv, int *i,
			struct rv_cli_call *call) RV_MUST_CHECK;
/* True for "--json", "--socket", "--socket=...", "-h" and "--help". */
bool rv__cli_is_global(const char *opt);

/*
 * Returns the value of option argv[*i] (after '=' in eq, or the next
 * argument), or NULL after one line. A next argument for which is_flag(ctx,
 * arg) holds reads as a missing value: `--lines --json` does not send
 * "--json" as a number (`--lines=--json` does).
 */
const char *rv__cli_take_value(int argc, char **argv, int *i, const char *eq,
			       const char *where, const char *flag,
			       bool (*is_flag)(const void *, const char *),
			       const void *ctx);

/*
 * create.c: `create [FILE.raeVM] [flags]` from argv[first] on into
 * call->args; same returns as rv_cli_parse(). Its help and its flags.
 */
int rv__cli_parse_create(int argc, char **argv, int first, const char *cwd,
			 struct rv_cli_call *call) RV_MUST_CHECK;
void rv__cli_create_help(FILE *f);
void rv__cli_create_flags(FILE *f);

/* ---------------------------------------------------------------- client */

/* Where the daemon is expected, and how to describe it in an error line. */
struct rv_cli_socket {
	char path[RV_CLI_SOCKET_MAX];
	char alt[RV_CLI_SOCKET_MAX]; /* the rootless socket also tried, or "" */
	bool explicit;		     /* from --socket or $RAEVM_SOCKET */
};

/*
 * Chooses the control socket: flag (--socket), else env ($RAEVM_SOCKET),
 * else for root the system socket, else the rootless daemon's socket under
 * xdg ($XDG_RUNTIME_DIR) when it exists and the system socket otherwise (a
 * member of the raevm group talks to the system daemon).
 * Returns 0, or -ENAMETOOLONG after one error line.
 */
int rv_cli_socket_pick(const char *flag, const char *env, const char *xdg,
		       uid_t uid, struct rv_cli_socket *out) RV_MUST_CHECK;

/*
 * Prints the one line that says why rv_cli_connect() failed with err
 * (unless it printed it itself) and returns the exit status: 3 when there
 * is no daemon, 4 when access is denied, 1 otherwise.
 */
int rv_cli_report_connect_error(const struct rv_cli_socket *sock, int err);

struct rv_cli_conn {
	int fd;
	char *buf; /* received bytes not yet returned as lines */
	size_t len, cap;
	size_t consumed; /* bytes of the last returned line, to drop next */
	int next_id;
	/* ppoll()'s mask: signals that may interrupt a wait; NULL: none */
	const sigset_t *wait_mask;
	struct json_object *greeting; /* the "raevm" object; owned */
};

/*
 * Connects to path and reads the greeting. Returns 0 with *out set, or
 * what connect(2) said (-ENOENT/-ECONNREFUSED: no daemon; -EACCES/-EPERM:
 * the socket's permissions), -ETIMEDOUT or -ECONNRESET (no greeting),
 * -ENOMEM, or, after printing one line itself: -EKEYREJECTED (the daemon
 * refused this user instead of greeting), -EPROTO (not a raevm daemon,
 * another protocol version, or another refusal).
 */
int rv_cli_connect(const char *path, int timeout_ms,
		   struct rv_cli_conn **out) RV_MUST_CHECK;
void rv_cli_close(struct rv_cli_conn *conn);

/*
 * Waits for the next line from the daemon, at most timeout_ms (negative:
 * no limit). *line points into conn's buffer, NUL-terminated without its
 * newline, and stays valid until the next call. Returns 0, -ECONNRESET when
 * the daemon closed the connection, -ETIMEDOUT, -EINTR (a signal of
 * wait_mask arrived), -EMSGSIZE for a line over RV_API_MAX_LINE, -EIO.
 */
int rv_cli_read_line(struct rv_cli_conn *conn, int timeout_ms, char **line,
		     size_t *len) RV_MUST_CHECK;

/*
 * Sends {"id": N, "cmd": cmd, "args": args} (args is borrowed) and waits
 * for the reply with that id; lines with other ids and events are skipped.
 * Returns 0 with *reply (owned by the caller) set whether ok is true or
 * false, or a negative errno as rv_cli_read_line() and -EPROTO for a reply
 * that is not a JSON object with "ok".
 */
int rv_cli_request(struct rv_cli_conn *conn, const char *cmd,
		   struct json_object *args, int timeout_ms,
		   struct json_object **reply) RV_MUST_CHECK;

/* ---------------------------------------------------------------- output */

/*
 * Maps a wire error code ("ENOENT") to an exit status: one table in
 * output.c, documented in raevm(1).
 */
int rv_cli_exit_status(const char *code);
/* The same for a negative errno that raevm met itself. */
int rv_cli_exit_from_errno(int err);

/*
 * Copies s into buf for a terminal: control bytes (C0, DEL and the C1
 * range written as UTF-8) become \xNN so text from the daemon or a guest
 * cannot send escape sequences. buf is always terminated; returns buf.
 */
const char *rv_cli_sanitize(const char *s, char *buf, size_t size);

/* "512M", "1G", "1.5G", "4K", "100B": compact sizes for tables. */
const char *rv_cli_format_size(uint64_t bytes, char *buf, size_t size);
/* "45s", "12m", "3h 4m", "2d 5h". */
const char *rv_cli_format_duration(uint64_t seconds, char *buf, size_t size);

/*
 * Prints cells (nrows x ncols, row-major, after a header row) as an aligned
 * table: columns two spaces apart, those in right_mask (bit i = column i)
 * right-aligned, no trailing blanks. Cells are sanitized.
 */
void rv_cli_print_table(FILE *f, size_t ncols, const char *const *header,
			const char *const *cells, size_t nrows,
			unsigned int right_mask);

/* `list`: NAME STATE CPUS MEMORY UPTIME. Returns 0 or -EPROTO. */
int rv_cli_print_list(FILE *f, struct json_object *result) RV_MUST_CHECK;
/* `info` and others: the result flattened to aligned "key: value" lines. */
void rv_cli_print_object(FILE *f, struct json_object *result);
/* `logs`: the scrollback text; sanitized when f is a terminal. */
int rv_cli_print_logs(FILE *f, struct json_object *result,
		      bool sanitize) RV_MUST_CHECK;
/* `version`: the CLI's version, then the daemon's (result may be NULL). */
void rv_cli_print_version(FILE *f, struct json_object *result);
/* One event as "TIME  VM  STATE  REASON" into buf. */
const char *rv_cli_format_event(struct json_object *event, char *buf,
				size_t size);
/* The people output of a successful command. */
int rv_cli_print_result(FILE *f, const struct rv_api_cmd *cmd,
			struct json_object *args,
			struct json_object *result) RV_MUST_CHECK;
/* The result as one JSON document (--json). */
void rv_cli_print_json(FILE *f, struct json_object *result);

/* --------------------------------------------------------------- console */

/*
 * Attaches the terminal (in_fd/out_fd) to the VM's console socket at path
 * until Ctrl-] is typed, the console closes, in_fd ends, or SIGTERM/SIGHUP
 * arrives. A terminal is put in raw mode and restored on every way out,
 * fatal signals included. name is the VM's, for the messages on stderr.
 * Returns 0 or a negative errno after one error line.
 */
int rv_cli_console(const char *path, const char *name, int in_fd,
		   int out_fd) RV_MUST_CHECK;

/* The detach key: Ctrl-] (0x1d), as in telnet and virsh console. */
#define RV_CLI_CONSOLE_ESCAPE 0x1d

#endif
