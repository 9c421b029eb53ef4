/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_RUN_H
#define RAEVM_RUN_H

#include "raevm/config.h"

/*
 * `raevmd run`: one VM in the foreground with its serial console on stdio.
 * argv[0] is "run". Returns the process exit status:
 *   the guest's code when it wrote one to the debug-exit port,
 *   0 after a guest reset (i8042) or power-off, 1 after a triple fault,
 *   128 + signal number when stopped by SIGINT/SIGTERM/SIGHUP,
 *   1 for any error (bad input, KVM failure), after one line on stderr.
 */
int rv_run_main(int argc, char **argv);

/* Runs the VM described by cfg; same statuses as rv_run_main(). */
int rv_run_vm(const struct rv_vm_config *cfg);

#endif
