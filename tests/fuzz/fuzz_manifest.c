// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for rv_manifest_parse(): arbitrary bytes must never
 * crash, leak or read out of bounds, and the result must keep the parser's
 * promises, checked below (a broken promise traps so the fuzzer keeps the
 * input).
 */
#include "raevm/manifest.h"

#include "raevm/config.h"
#include "raevm/log.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			__builtin_trap();                                      \
	} while (0)

/* Error lines are printed to terminals: one line, no control bytes. */
static void check_line(const char *line)
{
	const unsigned char *c;

	CHECK(line[0] != '\0');
	for (c = (const unsigned char *)line; *c; c++)
		CHECK(*c >= 0x20 && *c != 0x7f);
	CHECK(strlen(line) < 1024);
}

static void check_config(const struct rv_vm_config *cfg)
{
	CHECK(cfg->name && rv_manifest_name_valid(cfg->name));
	CHECK(cfg->kernel && cfg->kernel[0] != '\0');
	CHECK(cfg->cpus >= 1 && cfg->cpus <= RV_MANIFEST_MAX_CPUS);
	CHECK(!rv_manifest_memory_problem(cfg->memory));
	CHECK(!cfg->hugepages || cfg->memory % RV_MANIFEST_HUGEPAGE_ALIGN == 0);
	CHECK(!cfg->cmdline || strlen(cfg->cmdline) < 4096);
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
	}
	for (i = 0; i < errs.count; i++)
		check_line(errs.lines[i]);
	rv_vm_config_free(&cfg);
	rv_manifest_errors_free(&errs);
	return 0;
}
