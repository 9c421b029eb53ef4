/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_CONSOLE_SERVER_H
#define RAEVM_CONSOLE_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "raevm/device.h"
#include "raevm/util.h"

/*
 * A worker's serial console (console_server.c): guest output goes to a
 * scrollback log file and to every viewer connected to a Unix socket;
 * input from any viewer goes to the guest.
 *
 * Life cycle, all on the main thread:
 *   create -> (devices take the chardev) -> start(loop, socket) -> ... ->
 *   stop (the VM stopped; closes the socket and the viewers) ->
 *   destroy (after the vCPUs stopped and the loop ended: logs what is left).
 * The chardev's write may be called from any thread between create and
 * destroy and never blocks: output waits in a bounded ring drained by the
 * loop. A viewer that does not keep up loses output (counted; it is told
 * "[raevm: N bytes of console output dropped]" once it catches up), so no
 * viewer can stall a vCPU or another viewer.
 */
#define RV_CONSOLE_LOG_MAX_DEFAULT (1024 * 1024) /* then console.log.1 */
#define RV_CONSOLE_MAX_VIEWERS 16
#define RV_CONSOLE_VIEWER_QUEUE (64 * 1024) /* bytes queued per viewer */

struct rv_console_server;

struct rv_console_stats {
	unsigned int viewers;	 /* connected now */
	uint64_t logged;	 /* bytes written to the log */
	uint64_t ring_dropped;	 /* the loop did not keep up (the guest) */
	uint64_t viewer_dropped; /* summed over viewers */
	uint64_t log_errors;	 /* failed writes to the log */
};

/*
 * Opens (appends to) the log at log_path; log_max is its cap in bytes
 * (0: RV_CONSOLE_LOG_MAX_DEFAULT). Logs one line on failure.
 */
int rv_console_server_create(const char *log_path, uint64_t log_max,
			     struct rv_console_server **out) RV_MUST_CHECK;
const struct rv_chardev *
rv_console_server_chardev(struct rv_console_server *cs);
/* Where viewers' input goes; sink returns how many bytes it took. */
void rv_console_server_set_sink(struct rv_console_server *cs,
				size_t (*sink)(void *opaque, const uint8_t *buf,
					       size_t len),
				void *opaque);
/*
 * Listens on sock_path (a stale socket there is replaced; mode 0600).
 * Returns 0 or a negative errno after logging one line.
 */
int rv_console_server_start(struct rv_console_server *cs, uv_loop_t *loop,
			    const char *sock_path) RV_MUST_CHECK;
/* Closes the socket and the viewers; output still reaches the log. */
void rv_console_server_stop(struct rv_console_server *cs);
void rv_console_server_stats(struct rv_console_server *cs,
			     struct rv_console_stats *st);
/* Logs what is left in the ring, closes the log and frees. Accepts NULL. */
void rv_console_server_destroy(struct rv_console_server *cs);

#endif
