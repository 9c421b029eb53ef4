// SPDX-License-Identifier: Apache-2.0
/*
 * An i8042 keyboard controller with nothing plugged into it.
 *
 * It exists for two reasons: guests (Linux among them) probe it at boot and
 * must find a controller that answers its self-tests, and the classic way a
 * PC guest reboots is to pulse the reset line through it. raevm does not
 * reboot guests in place: a reset request ends the VM with
 * RV_STOP_GUEST_RESET and whoever started it decides what happens next.
 *
 * No keyboard or mouse is attached: bytes the guest sends to either device
 * are dropped, no scan codes are ever produced and IRQ 1/12 are never
 * raised. A guest's PS/2 drivers then see their commands time out and
 * report no device. Commands are processed the moment they are written, so
 * the input buffer is never full.
 *
 * Locking: `lock` protects the state below; bus callbacks come from any
 * vCPU thread. The reset request is made after the lock is dropped.
 */
#include "raevm/device.h"

#include "raevm/bus.h"
#include "raevm/layout.h"
#include "raevm/log.h"
#include "raevm/vm.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Status register bits (port 0x64, read). */
#define STS_OBF 0x01	 /* output buffer full */
#define STS_IBF 0x02	 /* input buffer full: never, see above */
#define STS_SYS 0x04	 /* system flag, set once the self-test passed */
#define STS_CMD 0x08	 /* last write went to the command port */
#define STS_UNLOCK 0x10	 /* keyboard not inhibited by the key lock */
#define STS_AUX_OBF 0x20 /* output buffer holds aux (mouse) data */

/* Command byte bits. */
#define CTR_KBD_INT 0x01
#define CTR_AUX_INT 0x02
#define CTR_SYS 0x04
#define CTR_KBD_DIS 0x10
#define CTR_AUX_DIS 0x20
#define CTR_XLATE 0x40

/* Output port bits. */
#define OUT_RESET 0x01 /* active low: 0 holds the CPU in reset */
#define OUT_A20 0x02

/* Controller commands (port 0x64, write). */
#define CMD_READ_RAM 0x20  /* 0x20-0x3f: RAM byte n, byte 0 = command byte */
#define CMD_WRITE_RAM 0x60 /* 0x60-0x7f */
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE 0xa8
#define CMD_AUX_TEST 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_READ_INPUT 0xc0
#define CMD_READ_OUTPUT 0xd0
#define CMD_WRITE_OUTPUT 0xd1
#define CMD_WRITE_KBD_OBUF 0xd2
#define CMD_WRITE_AUX_OBUF 0xd3
#define CMD_WRITE_AUX 0xd4
#define CMD_PULSE 0xf0 /* 0xf0-0xff: low nibble 0 bits pulse lines */

#define SELF_TEST_OK 0x55
#define PORT_TEST_OK 0x00

/* What a firmware would have left: translated keyboard, IRQ 1 enabled. */
#define CTR_DEFAULT (CTR_KBD_INT | CTR_SYS | CTR_XLATE)
#define RAM_SIZE 32

struct i8042 {
	pthread_mutex_t lock;
	struct rv_vm *vm;
	uint8_t ram[RAM_SIZE]; /* ram[0] is the command byte */
	uint8_t status;
	uint8_t outbuf;
	uint8_t outport;
	uint8_t pending_cmd; /* a command waiting for its data byte, or 0 */
};

static void set_output(struct i8042 *kbc, uint8_t val, bool aux)
{
	kbc->outbuf = val;
	kbc->status |= STS_OBF;
	if (aux)
		kbc->status |= STS_AUX_OBF;
	else
		kbc->status &= ~STS_AUX_OBF;
}

/*
 * A new command byte. The system flag in the status register follows the
 * command byte's, as on real controllers.
 */
static void write_ctr(struct i8042 *kbc, uint8_t val)
{
	kbc->ram[0] = val;
	if (val & CTR_SYS)
		kbc->status |= STS_SYS;
	else
		kbc->status &= ~STS_SYS;
}

/* A data byte following a command that takes one. Returns true to reset. */
static bool command_data(struct i8042 *kbc, uint8_t cmd, uint8_t val)
{
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + RAM_SIZE) {
		if (cmd == CMD_WRITE_RAM)
			write_ctr(kbc, val);
		else
			kbc->ram[cmd - CMD_WRITE_RAM] = val;
		return false;
	}
	switch (cmd) {
	case CMD_WRITE_OUTPUT:
		/* A20 is always on in raevm: the bit is kept for read-back. */
		kbc->outport = val;
		return !(val & OUT_RESET);
	case CMD_WRITE_KBD_OBUF:
		set_output(kbc, val, false);
		break;
	case CMD_WRITE_AUX_OBUF:
		set_output(kbc, val, true);
		break;
	default:
		/* CMD_WRITE_AUX: no mouse to receive the byte. */
		break;
	}
	return false;
}

/* A command written to port 0x64. Returns true when it resets the guest. */
static bool command(struct i8042 *kbc, uint8_t cmd)
{
	kbc->pending_cmd = 0;
	if (cmd >= CMD_READ_RAM && cmd < CMD_READ_RAM + RAM_SIZE) {
		set_output(kbc, kbc->ram[cmd - CMD_READ_RAM], false);
		return false;
	}
	if ((cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + RAM_SIZE) ||
	    cmd == CMD_WRITE_OUTPUT || cmd == CMD_WRITE_KBD_OBUF ||
	    cmd == CMD_WRITE_AUX_OBUF || cmd == CMD_WRITE_AUX) {
		kbc->pending_cmd = cmd;
		return false;
	}
	/* Pulse commands: a clear bit 0 pulses the reset line. */
	if ((cmd & 0xf0) == CMD_PULSE)
		return !(cmd & OUT_RESET);

	switch (cmd) {
	case CMD_AUX_DISABLE:
		kbc->ram[0] |= CTR_AUX_DIS;
		break;
	case CMD_AUX_ENABLE:
		kbc->ram[0] &= ~CTR_AUX_DIS;
		break;
	case CMD_KBD_DISABLE:
		kbc->ram[0] |= CTR_KBD_DIS;
		break;
	case CMD_KBD_ENABLE:
		kbc->ram[0] &= ~CTR_KBD_DIS;
		break;
	case CMD_SELF_TEST:
		kbc->status |= STS_SYS;
		set_output(kbc, SELF_TEST_OK, false);
		break;
	case CMD_AUX_TEST:
	case CMD_KBD_TEST:
		set_output(kbc, PORT_TEST_OK, false);
		break;
	case CMD_READ_INPUT:
		/* Bit 7 set: the keyboard is not inhibited by a key lock. */
		set_output(kbc, 0x80, false);
		break;
	case CMD_READ_OUTPUT:
		set_output(kbc, kbc->outport, false);
		break;
	default:
		/* Unknown or vendor commands are ignored, as many chips do. */
		break;
	}
	return false;
}

static void request_reset(struct i8042 *kbc)
{
	rv_info("i8042: guest requested a reset; stopping the VM");
	rv_vm_request_stop(kbc->vm, RV_STOP_GUEST_RESET, 0);
}

static void data_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct i8042 *kbc = opaque;
	uint8_t val;

	(void)offset;
	if (len == 0 || len > 8)
		return;
	pthread_mutex_lock(&kbc->lock);
	/* An empty buffer reads as its last contents. */
	val = kbc->outbuf;
	kbc->status &= ~(STS_OBF | STS_AUX_OBF);
	pthread_mutex_unlock(&kbc->lock);
	memset(data, 0, len);
	*(uint8_t *)data = val;
}

static void data_write(void *opaque, uint64_t offset, const void *data,
		       uint32_t len)
{
	struct i8042 *kbc = opaque;
	uint8_t val, cmd;
	bool reset = false;

	(void)offset;
	if (len == 0 || len > 8)
		return;
	val = *(const uint8_t *)data;
	pthread_mutex_lock(&kbc->lock);
	kbc->status &= ~STS_CMD;
	cmd = kbc->pending_cmd;
	kbc->pending_cmd = 0;
	/* Without a pending command the byte is for the keyboard: dropped. */
	if (cmd)
		reset = command_data(kbc, cmd, val);
	pthread_mutex_unlock(&kbc->lock);
	if (reset)
		request_reset(kbc);
}

static void cmd_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct i8042 *kbc = opaque;
	uint8_t val;

	(void)offset;
	if (len == 0 || len > 8)
		return;
	pthread_mutex_lock(&kbc->lock);
	val = kbc->status;
	pthread_mutex_unlock(&kbc->lock);
	memset(data, 0, len);
	*(uint8_t *)data = val;
}

static void cmd_write(void *opaque, uint64_t offset, const void *data,
		      uint32_t len)
{
	struct i8042 *kbc = opaque;
	bool reset;

	(void)offset;
	if (len == 0 || len > 8)
		return;
	pthread_mutex_lock(&kbc->lock);
	kbc->status |= STS_CMD;
	reset = command(kbc, *(const uint8_t *)data);
	pthread_mutex_unlock(&kbc->lock);
	if (reset)
		request_reset(kbc);
}

static const struct rv_bus_ops data_ops = {
	.read = data_read,
	.write = data_write,
};

static const struct rv_bus_ops cmd_ops = {
	.read = cmd_read,
	.write = cmd_write,
};

static void i8042_destroy(void *dev)
{
	struct i8042 *kbc = dev;

	if (!kbc)
		return;
	rv_bus_unregister(kbc->vm->pio, RV_I8042_CMD_PORT);
	rv_bus_unregister(kbc->vm->pio, RV_I8042_DATA_PORT);
	pthread_mutex_destroy(&kbc->lock);
	free(kbc);
}

static int i8042_create(const struct rv_device_ctx *ctx, void **out)
{
	struct i8042 *kbc;
	int ret;

	*out = NULL;
	kbc = rv__device_alloc(ctx, "i8042", sizeof(*kbc));
	if (!kbc)
		return -ENOMEM; /* logged */
	kbc->vm = ctx->vm;
	kbc->status = STS_UNLOCK;
	write_ctr(kbc, CTR_DEFAULT);
	kbc->outport = OUT_RESET | OUT_A20;
	ret = -pthread_mutex_init(&kbc->lock, NULL);
	if (ret)
		goto err_free;
	ret = rv_bus_register(ctx->vm->pio, RV_I8042_DATA_PORT, 1, &data_ops,
			      kbc);
	if (ret < 0) {
		rv_error("i8042: cannot claim port 0x%x: %s",
			 RV_I8042_DATA_PORT, strerror(-ret));
		goto err_lock;
	}
	ret = rv_bus_register(ctx->vm->pio, RV_I8042_CMD_PORT, 1, &cmd_ops,
			      kbc);
	if (ret < 0) {
		rv_error("i8042: cannot claim port 0x%x: %s", RV_I8042_CMD_PORT,
			 strerror(-ret));
		goto err_data;
	}
	*out = kbc;
	return 0;

err_data:
	rv_bus_unregister(ctx->vm->pio, RV_I8042_DATA_PORT);
err_lock:
	pthread_mutex_destroy(&kbc->lock);
err_free:
	free(kbc);
	return ret;
}

const struct rv_device_type rv_i8042_type = {
	.name = "i8042",
	.create = i8042_create,
	.destroy = i8042_destroy,
};
