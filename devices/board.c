// SPDX-License-Identifier: Apache-2.0
/*
 * The board: every device a raevm VM has, in creation order. The worker
 * creates them front to back and destroys them back to front, so a device
 * may rely on those listed before it.
 */
#include "raevm/device.h"

const struct rv_device_type *const rv_board_devices[] = {
	&rv_uart_type,
	&rv_i8042_type,
	&rv_rtc_type,
	&rv_debug_exit_type,
};

const size_t rv_board_nr_devices = RV_ARRAY_SIZE(rv_board_devices);
