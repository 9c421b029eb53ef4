// SPDX-License-Identifier: Apache-2.0
/*
 * Runs one VM with a virtio-vsock device, as `raevmd run` does, for
 * tests/integration/test_vsock.sh and tests/bench/vsock.sh until
 * `raevmd run --vsock cid=N,socket=PATH` exists. A test program linked
 * against libraevm.a, not part of raevmd.
 *
 *   vsock_vm KERNEL CID SOCKET [CMDLINE]
 *
 * Exit status as `raevmd run` (the guest's code for a debug-exit).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raevm/config.h"
#include "raevm/run.h"

int main(int argc, char **argv)
{
	struct rv_vm_config cfg;
	int status;

	if (argc < 4 || argc > 5) {
		fprintf(stderr,
			"usage: vsock_vm KERNEL CID SOCKET [CMDLINE]\n");
		return 2;
	}
	rv_vm_config_init(&cfg);
	cfg.kernel = strdup(argv[1]);
	cfg.vsock.enabled = true;
	cfg.vsock.cid = (uint32_t)strtoul(argv[2], NULL, 0);
	cfg.vsock.socket = strdup(argv[3]);
	cfg.cmdline = strdup(argc == 5 ? argv[4] : "");
	cfg.memory = 256ULL << 20;
	if (!cfg.kernel || !cfg.vsock.socket || !cfg.cmdline)
		return 1;
	status = rv_run_vm(&cfg);
	rv_vm_config_free(&cfg);
	return status;
}
