/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_SLIRP_DL_H
#define RAEVM_SLIRP_DL_H

/*
 * libslirp, loaded on demand (raevm/dl.h): the functions slirp.c calls,
 * typed by libslirp.h's own prototypes, so a call through the table is
 * checked exactly as a direct call was.
 */
#include "raevm/dl.h"

#include <libslirp.h>

struct rv_slirp_dl {
	__typeof__(slirp_new) *slirp_new;
	__typeof__(slirp_cleanup) *slirp_cleanup;
	__typeof__(slirp_input) *slirp_input;
	__typeof__(slirp_pollfds_fill) *slirp_pollfds_fill;
	__typeof__(slirp_pollfds_poll) *slirp_pollfds_poll;
	__typeof__(slirp_handle_timer) *slirp_handle_timer;
	__typeof__(slirp_add_hostfwd) *slirp_add_hostfwd;
	__typeof__(slirp_version_string) *slirp_version_string;
};

/*
 * Loads libslirp.so.0 once per process and sets *out to the table, which
 * is never written again. Safe from any thread, but the first call must
 * come before the jail (rv_dl_slirp_preload()) or the library is not
 * found. Returns 0, or -ENOSYS with a one-line message in err (the same
 * message on every later call).
 */
int rv__slirp_dl_load(const struct rv_slirp_dl **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* RAEVM_SLIRP_DL_H */
