// SPDX-License-Identifier: Apache-2.0
/*
 * The board: every device a raevm VM has, in creation order. The worker
 * creates them front to back and destroys them back to front, so a device
 * may rely on those listed before it.
 */
#include "raevm/device.h"

#include <stdlib.h>

#include "raevm/log.h"
#include "raevm/vm.h"

const struct rv_device_type *const rv_board_devices[] = {
	&rv_uart_type,
	&rv_i8042_type,
	&rv_rtc_type,
	&rv_debug_exit_type,
	/* The PM1 blocks at 0x600: power button, S5 and the SCI. */
	&rv_acpi_pm_type,
};

const size_t rv_board_nr_devices = RV_ARRAY_SIZE(rv_board_devices);

_Static_assert(RV_ARRAY_SIZE(rv_board_devices) <= RV_BOARD_MAX_DEVICES,
	       "raise RV_BOARD_MAX_DEVICES");

void *rv__device_alloc(const struct rv_device_ctx *ctx, const char *name,
		       size_t size)
{
	void *dev;

	if (!ctx || !ctx->vm || !ctx->vm->pio) {
		rv_error("%s: created without a VM", name);
		return NULL;
	}
	dev = calloc(1, size);
	if (!dev)
		rv_error("%s: out of memory", name);
	return dev;
}
