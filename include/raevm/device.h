/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_DEVICE_H
#define RAEVM_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "raevm/util.h"

struct rv_vm;
struct rv_vm_config;
struct rv_pci_bus;

/* A byte sink for device output (the serial console). */
struct rv_chardev {
	void (*write)(void *opaque, const uint8_t *buf, size_t len);
	void *opaque;
};

/* What a device gets when it is created. */
struct rv_device_ctx {
	struct rv_vm *vm; /* buses, irq lines, memory */
	const struct rv_vm_config *cfg;
	const struct rv_chardev *console; /* where COM1 writes */
	struct rv_pci_bus *pci;		  /* the root bus, for PCI functions */
};

/*
 * A device type. The board's devices are listed in one explicit table
 * (rv_board_devices) and created in its order, destroyed in reverse.
 */
struct rv_device_type {
	const char *name;
	int (*create)(const struct rv_device_ctx *ctx, void **out);
	void (*destroy)(void *dev);
};

/*
 * For create(): checks ctx and allocates a zeroed instance of size bytes.
 * Returns NULL after logging one line naming the device. Every create()
 * logs its own failures, so callers only propagate the error code.
 */
void *rv__device_alloc(const struct rv_device_ctx *ctx, const char *name,
		       size_t size);

/* Room callers keep for the board's instances (checked in board.c). */
#define RV_BOARD_MAX_DEVICES 8

extern const struct rv_device_type *const rv_board_devices[];
extern const size_t rv_board_nr_devices;

extern const struct rv_device_type rv_uart_type;
extern const struct rv_device_type rv_i8042_type;
extern const struct rv_device_type rv_rtc_type;
extern const struct rv_device_type rv_debug_exit_type;
/* ACPI PM1 blocks, power button and S5; its API is in raevm/acpi.h. */
extern const struct rv_device_type rv_acpi_pm_type;

/*
 * 16550A UART. Host input arrives through rv_uart_input() from the main
 * loop; it is queued (up to RV_UART_INPUT_MAX bytes beyond the 16-byte
 * receive FIFO) and raises the receive interrupt when enabled. Returns the
 * number of bytes accepted; the rest must be offered again later.
 */
#define RV_UART_INPUT_MAX 4096
struct rv_uart;
size_t rv_uart_input(struct rv_uart *uart, const uint8_t *buf, size_t len);

#endif
