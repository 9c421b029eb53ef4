/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_WORKER_PROTO_H
#define RAEVM_WORKER_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>
#include <uv.h>

#include "raevm/util.h"

/*
 * The control channel between the daemon's supervisor and a VM worker
 * (src/worker/worker_proto.c): line-delimited JSON on a Unix stream socket,
 * first the socketpair the daemon spawned the worker with, later any
 * connection a new daemon makes to RUN_DIR/NAME/control.sock to re-adopt
 * it. docs/architecture.md "Processes" lists the messages:
 *
 *   daemon -> worker  {"id": N, "cmd": "hello" | "status" | "pause" |
 *                      "resume" | "stop", "force": B, "timeout": S}
 *   worker -> daemon  {"id": N, "ok": true, "result": {...}}
 *                     {"id": N, "ok": false, "error": "EINVAL",
 *                      "message": "..."}
 *                     {"event": "state", "state": "starting" | "running" |
 *                      "paused" | "stopping", "pid": P, "started_at": T}
 *                     {"event": "exit", "reason": "poweroff" | "exit" |
 *                      "reset" | "triple-fault" | "host" | "error",
 *                      "code": N, "message": "...", "status": S}
 *
 * Each side treats the other's lines as untrusted: a line longer than
 * RV_WP_MAX_LINE, invalid JSON or a message that is not an object closes
 * the channel.
 */
#define RV_WP_MAX_LINE (64 * 1024)

/*
 * `raevmd worker --control-fd N --name NAME --vm-dir DIR --run-dir DIR
 * --manifest PATH [--console-log-max BYTES]`: one VM under the daemon
 * (src/worker/worker.c), started by the supervisor, never by people.
 * argv[0] is "worker". Returns the process exit status below.
 */
int rv_worker_main(int argc, char **argv);

/* The worker's exit statuses (docs/architecture.md "Processes"). */
#define RV_WORKER_EXIT_OK 0	  /* the VM stopped; the report says why */
#define RV_WORKER_EXIT_USAGE 1	  /* bad arguments or runtime files */
#define RV_WORKER_EXIT_BUILD 3	  /* the VM could not be built */
#define RV_WORKER_EXIT_VM_ERROR 4 /* internal error or a triple fault */

/*
 * Splits a byte stream into lines. push() hands every complete line (NUL
 * terminated in place, without its '\n') to fn; a line longer than max
 * fails with -EMSGSIZE and fn's non-zero return stops the walk and is
 * returned. Pure: no I/O, unit tested over plain buffers.
 */
struct rv_wp_framer {
	char *buf;
	size_t len;
	size_t cap;
	size_t max;
};

void rv_wp_framer_init(struct rv_wp_framer *f, size_t max);
void rv_wp_framer_free(struct rv_wp_framer *f);
int rv_wp_framer_push(struct rv_wp_framer *f, const char *data, size_t len,
		      int (*fn)(void *opaque, char *line, size_t len),
		      void *opaque) RV_MUST_CHECK;

/*
 * Parses one line into a JSON object (strict JSON, bounded depth).
 * Returns NULL for anything else.
 */
struct json_object *rv_wp_parse(const char *line, size_t len);

/*
 * A channel on the loop. on_msg gets each message (borrowed: valid during
 * the call); on_close runs once when the peer closes (0), a read fails or
 * the peer breaks the protocol (-EPROTO, -EMSGSIZE); the channel is then
 * closed and must not be used again. Neither runs after rv_wp_chan_close().
 */
struct rv_wp_chan;
typedef void (*rv_wp_msg_cb)(void *opaque, struct json_object *msg);
typedef void (*rv_wp_close_cb)(void *opaque, int err);

/* Takes fd (a connected stream socket) in all cases. */
int rv_wp_chan_open(uv_loop_t *loop, int fd, rv_wp_msg_cb on_msg,
		    rv_wp_close_cb on_close, void *opaque,
		    struct rv_wp_chan **out) RV_MUST_CHECK;

/*
 * Queues msg (not consumed) followed by '\n'. Returns 0, -EPIPE after the
 * channel failed, -ENOBUFS when more than 1 MiB waits to be written (a peer
 * that does not read), -ENOMEM.
 */
int rv_wp_send(struct rv_wp_chan *c, struct json_object *msg) RV_MUST_CHECK;

/*
 * Closes the channel: no more callbacks. With flush, queued messages are
 * written first (bounded by the socket: a peer that stopped reading loses
 * them). The memory is released once libuv is done with the handle.
 */
void rv_wp_chan_close(struct rv_wp_chan *c, bool flush);

/* Stops reading (the peer's messages wait in the socket). */
void rv_wp_chan_pause(struct rv_wp_chan *c);

/* Credentials of the peer (SO_PEERCRED); returns 0 or a negative errno. */
int rv_wp_peer(int fd, int *pid, unsigned int *uid) RV_MUST_CHECK;

#endif
