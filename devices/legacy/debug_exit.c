// SPDX-License-Identifier: Apache-2.0
/*
 * The debug-exit port: a byte written to RV_DEBUG_EXIT_PORT ends the VM
 * with that byte as its exit code (RV_STOP_GUEST_EXIT). Test guests use it
 * to report pass/fail without a console parser.
 *
 * The device claims four ports so that 16- and 32-bit writes at the base
 * land here; only a write at the base port acts, with its low byte. Reads
 * return all ones. It has no state, hence no lock.
 */
#include "raevm/device.h"

#include "raevm/bus.h"
#include "raevm/layout.h"
#include "raevm/log.h"
#include "raevm/vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define DEBUG_EXIT_NR_PORTS 4

struct debug_exit {
	struct rv_vm *vm;
};

static void debug_exit_read(void *opaque, uint64_t offset, void *data,
			    uint32_t len)
{
	(void)opaque;
	(void)offset;
	if (len == 0 || len > 8)
		return;
	memset(data, 0xff, len);
}

static void debug_exit_write(void *opaque, uint64_t offset, const void *data,
			     uint32_t len)
{
	struct debug_exit *dev = opaque;
	uint8_t code;

	if (len == 0 || len > 8 || offset != 0)
		return;
	code = *(const uint8_t *)data;
	rv_debug("debug-exit: guest exits with code %u", code);
	rv_vm_request_stop(dev->vm, RV_STOP_GUEST_EXIT, code);
}

static const struct rv_bus_ops debug_exit_ops = {
	.read = debug_exit_read,
	.write = debug_exit_write,
};

static void debug_exit_destroy(void *opaque)
{
	struct debug_exit *dev = opaque;

	if (!dev)
		return;
	rv_bus_unregister(dev->vm->pio, RV_DEBUG_EXIT_PORT);
	free(dev);
}

static int debug_exit_create(const struct rv_device_ctx *ctx, void **out)
{
	struct debug_exit *dev;
	int ret;

	*out = NULL;
	dev = rv__device_alloc(ctx, "debug-exit", sizeof(*dev));
	if (!dev)
		return -ENOMEM; /* logged */
	dev->vm = ctx->vm;
	ret = rv_bus_register(ctx->vm->pio, RV_DEBUG_EXIT_PORT,
			      DEBUG_EXIT_NR_PORTS, &debug_exit_ops, dev);
	if (ret < 0) {
		rv_error("debug-exit: cannot claim ports 0x%x-0x%x: %s",
			 RV_DEBUG_EXIT_PORT,
			 RV_DEBUG_EXIT_PORT + DEBUG_EXIT_NR_PORTS - 1,
			 strerror(-ret));
		free(dev);
		return ret;
	}
	*out = dev;
	return 0;
}

const struct rv_device_type rv_debug_exit_type = {
	.name = "debug-exit",
	.create = debug_exit_create,
	.destroy = debug_exit_destroy,
};
