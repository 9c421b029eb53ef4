// SPDX-License-Identifier: Apache-2.0
/* The VM description shared by the manifest parser, `raevmd run` and the VM. */
#include "raevm/config.h"

#include <stdlib.h>
#include <string.h>

void rv_vm_config_init(struct rv_vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->cpus = RV_CONFIG_DEFAULT_CPUS;
	cfg->memory = RV_CONFIG_DEFAULT_MEMORY;
	cfg->rng = true;
	cfg->sandbox = true;
	for (unsigned int i = 0; i < RV_CONFIG_MAX_NETS; i++)
		rv_net_config_init(&cfg->nets[i]);
}

void rv_net_config_init(struct rv_net_config *net)
{
	memset(net, 0, sizeof(*net));
	net->mode = RV_NET_USER;
	net->tap_fd = -1;
}

/*
 * Leaves cfg initialised rather than poisoned, so a config can be freed
 * twice or refilled after a failed parse.
 */
void rv_vm_config_free(struct rv_vm_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->name);
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	free(cfg->cpu_template);
	for (unsigned int i = 0; i < cfg->nr_disks; i++) {
		free(cfg->disks[i].path);
		free(cfg->disks[i].format);
		free(cfg->disks[i].serial);
	}
	free(cfg->console_socket);
	for (unsigned int i = 0; i < cfg->nr_nets; i++)
		free(cfg->nets[i].tap_name);
	free(cfg->vsock.socket);
	free(cfg->limits.cpuset);
	rv_vm_config_init(cfg);
}
