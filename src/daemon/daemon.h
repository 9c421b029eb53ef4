/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_DAEMON_H
#define RAEVM_DAEMON_H

/*
 * The raevmd daemon's control plane, internal to src/daemon/: start-up and
 * shutdown (daemon.c), the control socket and its clients (server.c), the
 * request parser (request.c), one handler per api.h command (handlers.c)
 * and the VM store on disk (store.c). docs/api.md is the wire contract.
 *
 * Everything here runs on the daemon's single libuv loop thread; nothing is
 * locked.
 */
#include "raevm/api.h"
#include "raevm/config.h"
#include "raevm/supervisor.h"
#include "raevm/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>
#include <uv.h>

#ifndef RAEVM_VERSION
#define RAEVM_VERSION "0.1.0"
#endif

struct rv_daemon;
struct rv_server;
struct rv_client;
struct rv_store;

/* ---------------------------------------------------------------------- */
/* daemon.c                                                               */

struct rv_daemon_options {
	const char *socket;	 /* NULL: RUN_DIR/raevmd.sock */
	const char *state_dir;	 /* NULL: /var/lib/raevm or XDG_DATA_HOME */
	const char *runtime_dir; /* NULL: /run/raevm or XDG_RUNTIME_DIR */
	bool foreground;	 /* log to stderr only (always true for now) */
	/*
	 * Seconds the shutdown waits for VMs to power off before they are
	 * stopped hard (SIGTERM: every VM gets the power button).
	 */
	unsigned int shutdown_timeout;
};

/* `raevmd daemon [options]`: parses argv (argv[0] is "daemon") and runs. */
int rv_daemon_main(int argc, char **argv);

struct rv_daemon {
	uv_loop_t *loop;
	char *socket_path;
	char *state_dir;
	char *runtime_dir;
	uid_t uid;	     /* the daemon's effective uid */
	gid_t sock_gid;	     /* the socket's group: read access */
	char sock_group[64]; /* its name, for messages */
	struct rv_server *server;
	struct rv_store *store;
	struct rv_supervisor *sup; /* NULL: VMs cannot be started */
	uint64_t start_ms;	   /* uv_now() at start-up, for uptime */
	uv_signal_t sig_term;
	uv_signal_t sig_int;
	uv_signal_t sig_hup;
	bool signals;	     /* the three above are initialised */
	char *notify_socket; /* $NOTIFY_SOCKET (systemd), or NULL */
	unsigned int shutdown_timeout;
	bool stopping;
	int exit_code; /* of rv_daemon_main() once the loop ends */
};

/*
 * Sends one sd_notify(3) datagram ("READY=1", "STOPPING=1", "STATUS=...")
 * to $NOTIFY_SOCKET when the daemon runs under systemd; a no-op otherwise.
 */
void rv__daemon_notify(struct rv_daemon *d, const char *msg);

/* Begins the shutdown (signals, tests): stops VMs, closes clients. */
void rv__daemon_shutdown(struct rv_daemon *d);

/* ---------------------------------------------------------------------- */
/* request.c: framing, strict JSON and validation against api.h's table  */

/*
 * Nesting allowed in a request: the request object, args, then a manifest
 * with its own limit (RV_MANIFEST_MAX_DEPTH, 16) and some room.
 */
#define RV_REQUEST_MAX_DEPTH 20

/* One parsed request; see rv__request_parse(). */
struct rv_request {
	struct json_object *root;     /* owned, or NULL */
	struct json_object *id;	      /* in root, or NULL when unknown */
	const struct rv_api_cmd *cmd; /* NULL until the command is known */
	struct json_object *args;     /* in root or owned empty object */
	bool args_owned;
};

/*
 * Finds the end of the next line in buf[0..len). Returns 1 with *line_len
 * (without the '\n') when a whole line is there, 0 when more bytes are
 * needed, -EMSGSIZE when no '\n' comes within RV_API_MAX_LINE bytes (the
 * line is too long and the connection must be closed).
 */
int rv__request_next_line(const char *buf, size_t len, size_t *line_len);

/* True when line[0..len) holds nothing but JSON whitespace. */
bool rv__request_blank(const char *line, size_t len);

/* True when v has the JSON type an argument of type t needs. */
bool rv__request_type_ok(struct json_object *v, enum rv_api_arg_type t);

/*
 * Parses and validates one request line (without its '\n') for a client
 * with the given access. Returns 0 with req filled, or a negative errno
 * with a one-line reason in msg:
 *   -EBADMSG  not JSON (syntax, duplicate key, NUL byte, too deep)
 *   -EINVAL   not a request: not an object, no or bad "id", no "cmd",
 *             unknown top-level key, bad "args" or an argument missing,
 *             unknown or of the wrong type
 *   -ENOSYS   unknown command
 *   -EACCES   the command needs more access than the client has
 *   -ENOMEM
 * req->id is set whenever the line was an object with a usable "id", so
 * the error reply can echo it. Release req with rv__request_free() in
 * every case.
 */
int rv__request_parse(const char *line, size_t len, enum rv_api_access access,
		      struct rv_request *req, char *msg,
		      size_t msg_size) RV_MUST_CHECK;

void rv__request_free(struct rv_request *req);

/* Argument accessors for handlers; the table has checked the types. */
const char *rv__request_str(const struct rv_request *req, const char *name);
bool rv__request_bool(const struct rv_request *req, const char *name,
		      bool dflt);
/* Returns true and *out when the integer argument is present. */
bool rv__request_int(const struct rv_request *req, const char *name,
		     int64_t *out);
struct json_object *rv__request_arg(const struct rv_request *req,
				    const char *name);

/* ---------------------------------------------------------------------- */
/* server.c: the control socket                                           */

/* The outcome a handler gives for one request. */
struct rv_call;

/* Upper bounds, per client (docs/api.md "Limits"). */
#define RV_SERVER_MAX_CLIENTS 1024
#define RV_SERVER_EVENT_QUEUE (256 * 1024)   /* bytes of unsent output */
#define RV_SERVER_OUT_HIGH (4 * 1024 * 1024) /* stop reading requests */

/*
 * Binds the control socket (refusing when a daemon answers on it, removing
 * a stale one) and starts accepting. Returns 0 or a negative errno after
 * logging one line.
 */
int rv__server_create(struct rv_daemon *d,
		      struct rv_server **out) RV_MUST_CHECK;

/* Stops accepting, closes every client and removes the socket file. */
void rv__server_destroy(struct rv_server *srv);

/*
 * Sends {"event": type, "data": data, "ts": ...} to every subscribed
 * client. Takes a reference to data (the caller keeps its own).
 */
void rv__server_event(struct rv_server *srv, const char *type,
		      struct json_object *data);

unsigned int rv__server_nr_clients(const struct rv_server *srv);

/*
 * Replies to a call. result is consumed (may be NULL for {}); the call is
 * finished and must not be used afterwards. Safe when the client has gone.
 */
void rv__call_ok(struct rv_call *call, struct json_object *result);
void rv__call_err(struct rv_call *call, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* As rv__call_err() with an "errors" array of lines (consumed). */
void rv__call_err_list(struct rv_call *call, int err,
		       struct json_object *errors, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
struct rv_daemon *rv__call_daemon(const struct rv_call *call);
const struct rv_request *rv__call_request(const struct rv_call *call);
/* Subscribes the calling client to events (events.subscribe). */
void rv__call_subscribe(struct rv_call *call);

/* ---------------------------------------------------------------------- */
/* handlers.c                                                             */

typedef void (*rv_handler_fn)(struct rv_call *call);

/* The handler bound to a command, or NULL. */
rv_handler_fn rv__handler_find(const struct rv_api_cmd *cmd);

/*
 * Checks that every command in api.c's table has a handler and every
 * handler a command. Returns 0 or -ENOSYS after logging the first gap.
 */
int rv__handlers_check(void) RV_MUST_CHECK;

/* vm.export and vm.import (handlers_bundle.c). */
void rv__handler_export(struct rv_call *call);
void rv__handler_import(struct rv_call *call);

/* The supervisor's state-change callback: persists and emits vm.state. */
void rv__handlers_on_state(void *opaque, const struct rv_sup_event *ev);

/* ---------------------------------------------------------------------- */
/* store.c: one folder per VM                                             */

/*
 * One stored VM. manifest is the stored document (paths absolute); cfg is
 * what it parses to. A VM whose stored manifest no longer parses (written
 * by a newer raevm, edited by hand) keeps its place with problem set, so
 * it can be inspected and deleted but not started.
 */
struct rv_store_vm {
	char *name;
	char *dir;	     /* STATE_DIR/vms/NAME */
	char *manifest_path; /* dir/manifest.raeVM */
	struct json_object *manifest;
	struct rv_vm_config cfg;
	char *problem;	 /* NULL when the manifest is valid */
	int64_t created; /* unix time */
	/* The last state known, persisted in dir/state. */
	enum rv_sup_state state;
	char *reason;
	int64_t since; /* unix time of the last change */
};

#define RV_STORE_MAX_VMS 4096

/*
 * Opens (creating when missing) STATE_DIR/vms and loads every VM in it.
 * VMs recorded as starting, running, paused or stopping are loaded as
 * such; the supervisor then re-adopts their workers or they are marked
 * stopped (rv__store_set_state). Leftovers of an interrupted create or
 * delete are removed. Returns 0 or a negative errno after logging.
 */
int rv__store_open(const char *state_dir, struct rv_store **out) RV_MUST_CHECK;
void rv__store_close(struct rv_store *st);

struct rv_store_vm *rv__store_find(struct rv_store *st, const char *name);
/* The VMs sorted by name; *nr set. Valid until the next change. */
struct rv_store_vm *const *rv__store_list(struct rv_store *st, size_t *nr);

/*
 * Validates manifest (a JSON object) with the manifest parser, relative
 * paths resolved against base_dir (absolute, or NULL when every path is
 * absolute), renames the VM to name when not NULL, and writes it to the
 * store atomically. The stored copy has every path absolute.
 *
 * Returns 0 with *out, -EINVAL with the problems as lines in errors (an
 * array, one string each), -EEXIST when the name is taken, -ENOSPC when
 * the store is full, or an I/O errno after logging.
 */
int rv__store_create(struct rv_store *st, struct json_object *manifest,
		     const char *base_dir, const char *name,
		     struct json_object *errors,
		     struct rv_store_vm **out) RV_MUST_CHECK;

/*
 * Replaces a VM's manifest with manifest (validated as above, name
 * unchanged), atomically. Same returns as rv__store_create().
 */
int rv__store_replace(struct rv_store *st, struct rv_store_vm *vm,
		      struct json_object *manifest, const char *base_dir,
		      struct json_object *errors) RV_MUST_CHECK;

/*
 * Removes a VM's folder and forgets it; vm is freed. Unless keep_disks,
 * first removes its disk images that are regular files, not read-only and
 * not disks of another VM; removed and kept (with reasons) get one entry
 * each. Returns 0 or a negative errno after logging.
 */
int rv__store_delete(struct rv_store *st, struct rv_store_vm *vm,
		     bool keep_disks, struct json_object *removed,
		     struct json_object *kept) RV_MUST_CHECK;

/* Records a state change in memory and in dir/state (atomically). */
int rv__store_set_state(struct rv_store *st, struct rv_store_vm *vm,
			enum rv_sup_state state, const char *reason);

/*
 * Writes data[0..len) to path through a temporary file in the same folder,
 * fsync, rename and fsync of the folder, so a crash leaves the old or the
 * new file, never a mix. Returns 0 or a negative errno.
 */
int rv__store_write_atomic(const char *path, const char *data, size_t len,
			   mode_t mode) RV_MUST_CHECK;

/*
 * Removes RUNTIME_DIR/NAME (the sockets of a VM that is gone), when name
 * is a valid VM name.
 */
void rv__store_remove_runtime(const char *runtime_dir, const char *name);

/* Fills vm for rv_supervisor_start() and friends (strings borrowed). */
void rv__store_sup_vm(const struct rv_store_vm *vm, struct rv_sup_vm *out);

/* Parses a state name; returns -EINVAL for an unknown one. */
int rv__store_state_parse(const char *name, enum rv_sup_state *out);

#endif
