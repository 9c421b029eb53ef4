// SPDX-License-Identifier: Apache-2.0
/*
 * Runs one VM in the foreground through rv_run_vm() (the code behind
 * `raevmd run`) with resource limits filled in directly, for
 * tests/integration/test_limits.sh:
 *
 *   limits_driver KERNEL CPUS MEMORY MEM_LIMIT CPU_PCT CPUSET PIDS
 *
 * MEMORY and MEM_LIMIT are sizes ("64M"); "-" leaves a limit unset. The
 * exit status is rv_run_vm()'s. The limits are set here rather than with
 * `raevmd run --limit` so that the test does not depend on the option
 * parser; test_limits.sh uses `--limit` too when raevmd offers it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raevm/config.h"
#include "raevm/log.h"
#include "raevm/run.h"
#include "raevm/util.h"

static int parse_u(const char *what, const char *text, uint64_t max,
		   uint64_t *out)
{
	*out = 0;
	if (strcmp(text, "-") == 0)
		return 0;
	if (rv_parse_uint(text, 1, max, out)) {
		fprintf(stderr, "limits_driver: bad %s '%s'\n", what, text);
		return -1;
	}
	return 0;
}

static int parse_sz(const char *what, const char *text, uint64_t *out)
{
	*out = 0;
	if (strcmp(text, "-") == 0)
		return 0;
	if (rv_parse_size(text, out)) {
		fprintf(stderr, "limits_driver: bad %s '%s'\n", what, text);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct rv_vm_config cfg;
	uint64_t cpus, pct, pids, mem;
	int status;

	if (argc != 8) {
		fprintf(stderr, "usage: limits_driver KERNEL CPUS MEMORY "
				"MEM_LIMIT CPU_PCT CPUSET PIDS\n");
		return 2;
	}
	rv_vm_config_init(&cfg);
	cfg.kernel = strdup(argv[1]);
	cfg.cmdline = strdup("");
	if (!cfg.kernel || !cfg.cmdline ||
	    parse_u("cpus", argv[2], 254, &cpus) ||
	    parse_sz("memory", argv[3], &mem) ||
	    parse_sz("memory limit", argv[4], &cfg.limits.memory) ||
	    parse_u("cpu", argv[5], 100000, &pct) ||
	    parse_u("pids", argv[7], 1 << 22, &pids)) {
		rv_vm_config_free(&cfg);
		return 2;
	}
	cfg.cpus = cpus ? (unsigned int)cpus : 1;
	if (mem)
		cfg.memory = mem;
	cfg.limits.cpu_pct = (unsigned int)pct;
	cfg.limits.pids = (unsigned int)pids;
	if (strcmp(argv[6], "-") != 0)
		cfg.limits.cpuset = strdup(argv[6]);
	status = rv_run_vm(&cfg);
	rv_vm_config_free(&cfg);
	return status;
}
