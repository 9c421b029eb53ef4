// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for rv_manifest_parse(): arbitrary bytes must never
 * crash, leak or read out of bounds, and the result must keep the parser's
 * promises, checked below (a broken promise traps so the fuzzer keeps the
 * input).
 */
#include "raevm/manifest.h"

#include "fuzz.h"

#include "raevm/config.h"
#include "raevm/log.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Error lines are one printable line, and short. */
static void check_line(const char *line)
{
	fuzz_check_line(line);
	CHECK(strlen(line) < 1024);
}

/* Disks are complete, valid and name different files. */
static void check_disks(const struct rv_vm_config *cfg)
{
	unsigned int i, j;
	char buf[96];

	CHECK(cfg->nr_disks <= RV_CONFIG_MAX_DISKS);
	for (i = 0; i < cfg->nr_disks; i++) {
		const struct rv_disk_config *d = &cfg->disks[i];

		CHECK(d->path && d->path[0] != '\0');
		CHECK(!d->format || rv_manifest_disk_format_valid(d->format));
		CHECK(!d->serial ||
		      !rv_manifest_serial_problem(d->serial, buf, sizeof(buf)));
		for (j = 0; j < i; j++)
			CHECK(!rv_manifest_same_path(cfg->disks[j].path,
						     d->path));
	}
	for (; i < RV_CONFIG_MAX_DISKS; i++)
		CHECK(!cfg->disks[i].path && !cfg->disks[i].format &&
		      !cfg->disks[i].serial);
}

static void check_config(const struct rv_vm_config *cfg)
{
	CHECK(cfg->name && rv_manifest_name_valid(cfg->name));
	CHECK(cfg->kernel && cfg->kernel[0] != '\0');
	CHECK(cfg->cpus >= 1 && cfg->cpus <= RV_MANIFEST_MAX_CPUS);
	CHECK(!rv_manifest_memory_problem(cfg->memory));
	CHECK(!cfg->hugepages || cfg->memory % RV_MANIFEST_HUGEPAGE_ALIGN == 0);
	CHECK(!cfg->cmdline || strlen(cfg->cmdline) < 4096);
	CHECK(!cfg->console_socket ||
	      (cfg->console_socket[0] != '\0' &&
	       strlen(cfg->console_socket) <= RV_MANIFEST_SOCKET_PATH_MAX));
	check_disks(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;
	size_t i;
	int rc;

	rv_log_set_level(RV_LOG_ERROR);
	rv_vm_config_init(&cfg);
	rv_manifest_errors_init(&errs);
	rc = rv_manifest_parse((const char *)data, size, "/base", &cfg, &errs);
	if (rc == 0) {
		CHECK(errs.count == 0 && errs.dropped == 0);
		check_config(&cfg);
	} else {
		CHECK(rc == -EINVAL || rc == -EFBIG || rc == -ENOMEM);
		CHECK(errs.count > 0 || rc == -ENOMEM);
		CHECK(errs.count <= RV_MANIFEST_MAX_ERRORS);
		/* A failed parse leaves the caller's config alone. */
		CHECK(!cfg.name && !cfg.kernel && !cfg.initrd && !cfg.cmdline);
		CHECK(cfg.nr_disks == 0 && !cfg.console_socket && cfg.rng);
	}
	for (i = 0; i < errs.count; i++)
		check_line(errs.lines[i]);
	rv_vm_config_free(&cfg);
	rv_manifest_errors_free(&errs);
	return 0;
}
