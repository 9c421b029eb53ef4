// SPDX-License-Identifier: Apache-2.0
/*
 * raevmd entry point: dispatches to its commands. Only main() exits.
 */
#include "daemon.h"

#include <stdio.h>
#include <string.h>

#include "raevm/img.h"
#include "raevm/log.h"
#include "raevm/run.h"
#include "raevm/worker_proto.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: raevmd [daemon] [--socket PATH] [options]        "
		   "run the daemon (`raevmd daemon --help`)\n"
		   "       raevmd run [MANIFEST] [--kernel PATH] [options]  "
		   "run one VM in the foreground\n"
		   "       raevmd img create|info|io ...                   "
		   "disk images (`raevmd img help`)\n"
		   "       raevmd worker --control-fd N ...                "
		   "one VM for the daemon (started by it)\n"
		   "       raevmd version                                  "
		   "print the version\n"
		   "       raevmd help                                     "
		   "this text\n"
		   "Run `raevmd run --help` for the VM options.\n");
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	rv_log_set_prog("raevmd");
	/* Without a command, or with options only, raevmd is the daemon. */
	if (!cmd)
		return rv_daemon_main(1, argv);
	if (strcmp(cmd, "daemon") == 0)
		return rv_daemon_main(argc - 1, argv + 1);
	if (cmd[0] == '-' && strcmp(cmd, "--help") && strcmp(cmd, "-h") &&
	    strcmp(cmd, "--version"))
		return rv_daemon_main(argc, argv);
	if (strcmp(cmd, "run") == 0)
		return rv_run_main(argc - 1, argv + 1);
	if (strcmp(cmd, "img") == 0)
		return rv_img_main(argc - 1, argv + 1);
	if (strcmp(cmd, "worker") == 0)
		return rv_worker_main(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("raevmd %s\n", RAEVM_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	rv_error("unknown command '%s' (try 'raevmd help')", cmd);
	return 2;
}
