/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_API_H
#define RAEVM_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The control protocol's command table: one declarative list shared by the
 * daemon (which binds a handler to each name), the CLI (which builds its
 * sub-commands and help from it) and docs/api.md (which documents each).
 *
 * Wire format (docs/api.md is the contract): line-delimited JSON over a Unix
 * stream socket. On connect the daemon sends
 *   {"raevm": {"version": "...", "protocol": 1, "capabilities": [...]}}
 * A request is {"id": N, "cmd": "vm.start", "args": {...}}; the reply is
 * {"id": N, "ok": true, "result": {...}} or
 * {"id": N, "ok": false, "error": {"code": "ENOENT", "message": "..."}}.
 * After events.subscribe the connection also carries
 * {"event": "vm.state", "data": {...}, "ts": "..."}.
 */
#define RV_API_PROTOCOL 1
#define RV_API_MAX_LINE (1024 * 1024) /* a longer request is refused */

enum rv_api_arg_type {
	RV_API_STRING,
	RV_API_INT,
	RV_API_BOOL,
	RV_API_OBJECT, /* a JSON object, e.g. an inline manifest */
	RV_API_ARRAY,
};

struct rv_api_arg {
	const char *name;
	enum rv_api_arg_type type;
	bool required;
	const char *help;
};

/* Who may run a command (SO_PEERCRED; see docs/api.md "Access"). */
enum rv_api_access {
	RV_API_READ,   /* members of the daemon's group, owner, root */
	RV_API_CHANGE, /* the daemon's owner and root only */
};

struct rv_api_cmd {
	const char *name;    /* wire name: "vm.start" */
	const char *cli;     /* CLI verb: "start" */
	const char *usage;   /* CLI arguments: "NAME [--force]" */
	const char *summary; /* one line for help */
	enum rv_api_access access;
	const struct rv_api_arg *args; /* terminated by { NULL } */
};

extern const struct rv_api_cmd rv_api_cmds[];
extern const size_t rv_api_nr_cmds;

/* Looks a command up by wire name or by CLI verb; NULL when unknown. */
const struct rv_api_cmd *rv_api_find(const char *name);
const struct rv_api_cmd *rv_api_find_cli(const char *verb);

/*
 * Error codes on the wire are errno names ("ENOENT", "EEXIST", "EACCES",
 * "EINVAL", "EBUSY", ...) so scripts can match them; the message is one
 * line for people. These map a negative errno to its name and back.
 */
const char *rv_api_errno_name(int err);
int rv_api_errno_from_name(const char *name);

#endif
