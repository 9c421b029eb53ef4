/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_STDIO_CONSOLE_H
#define RAEVM_STDIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "raevm/device.h"
#include "raevm/util.h"

/*
 * The serial console on stdin/stdout for `raevmd run` (stdio_console.c).
 * Life cycle, all on the main thread:
 *   create -> (devices take the chardev) -> start(loop) -> ... ->
 *   stop (before the loop's handles are closed) -> restore (right after
 *   uv_run returns) -> destroy (after the vCPUs stopped).
 * The chardev's write may be called from any thread at any time between
 * create and destroy, and never blocks.
 */
struct rv_stdio_console;

int rv_stdio_console_create(struct rv_stdio_console **out) RV_MUST_CHECK;
const struct rv_chardev *rv_stdio_console_chardev(struct rv_stdio_console *con);
/* Where stdin bytes go; sink returns how many it took. */
void rv_stdio_console_set_sink(struct rv_stdio_console *con,
			       size_t (*sink)(void *opaque, const uint8_t *buf,
					      size_t len),
			       void *opaque);
int rv_stdio_console_start(struct rv_stdio_console *con,
			   uv_loop_t *loop) RV_MUST_CHECK;
/* The loop is shutting down: no more wake-ups through it. */
void rv_stdio_console_stop(struct rv_stdio_console *con);
/* Gives the terminal and fd flags back (idempotent). */
void rv_stdio_console_restore(struct rv_stdio_console *con);
/* Writes what is left (bounded wait), restores, reports drops, frees. */
void rv_stdio_console_destroy(struct rv_stdio_console *con);

#endif
