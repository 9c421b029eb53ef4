// SPDX-License-Identifier: Apache-2.0
/*
 * raevmd entry point: dispatches to its commands. Only main() exits.
 */
#include <stdio.h>
#include <string.h>

#include "raevm/img.h"
#include "raevm/log.h"
#include "raevm/run.h"

#ifndef RAEVM_VERSION
#define RAEVM_VERSION "0.1.0"
#endif

static void usage(FILE *f)
{
	fprintf(f, "usage: raevmd run [MANIFEST] [--kernel PATH] [options]  "
		   "run one VM in the foreground\n"
		   "       raevmd img create|info|io ...                   "
		   "disk images (`raevmd img help`)\n"
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
	if (!cmd) {
		usage(stderr);
		return 2;
	}
	if (strcmp(cmd, "run") == 0)
		return rv_run_main(argc - 1, argv + 1);
	if (strcmp(cmd, "img") == 0)
		return rv_img_main(argc - 1, argv + 1);
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
