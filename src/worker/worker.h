/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_WORKER_H
#define RAEVM_WORKER_H

#include <stdio.h>

#include "raevm/config.h"
#include "raevm/log.h"
#include "raevm/util.h"

/*
 * `raevmd run [MANIFEST] [flags]`: the options of one foreground VM.
 *
 * The manifest is read first and the flags are applied on top of it, so a
 * flag always overrides the manifest field it names, wherever it appears on
 * the command line. The exception is --disk, which adds disks after the
 * manifest's (a file named twice is an error) instead of replacing them. Flag values are checked exactly like the manifest's
 * fields (same ranges, same CPU template names). Paths given as flags are
 * relative to the current directory; paths in a manifest are relative to
 * the manifest's folder.
 */
struct rv_run_options {
	struct rv_vm_config cfg; /* the VM to run; owned */
	const char *manifest;	 /* the MANIFEST argument (in argv) or NULL */
	enum rv_log_level log_level; /* applied with rv_log_set_level() */
	/*
	 * --shutdown-timeout: seconds between SIGTERM's power-button press
	 * and the hard stop; 0 makes SIGTERM stop at once.
	 */
	unsigned int shutdown_timeout;
};

#define RV_RUN_SHUTDOWN_TIMEOUT_DEFAULT 10
#define RV_RUN_SHUTDOWN_TIMEOUT_MAX 86400 /* a day: a sanity bound */

/*
 * Parses argv (argv[0] is "run"). Stateless: it may be called any number
 * of times. On success applies opts->log_level to the logger.
 *
 * Returns 0 with opts filled (release it with rv_run_options_free()),
 * 1 when --help was printed to stdout, or a negative errno after logging
 * what was wrong: one line naming the bad flag and value, or one line per
 * problem of the manifest. On 1 and on errors nothing is left to free.
 */
int rv_run_options_parse(int argc, char **argv,
			 struct rv_run_options *opts) RV_MUST_CHECK;

/*
 * Releases opts->cfg. Safe on any opts rv_run_options_parse() returned,
 * whatever it returned, and safe to call twice.
 */
void rv_run_options_free(struct rv_run_options *opts);

/* The `raevmd run --help` text. */
void rv_run_options_usage(FILE *f);

#endif
