// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests for the 16550A UART (devices/legacy/uart.c), driven through a
 * real port bus. rv_vm_irq_line is replaced through -Wl,--wrap so every
 * change of the IRQ line is recorded; the console is a chardev that
 * captures what the guest transmits.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "raevm/bus.h"
#include "raevm/device.h"
#include "raevm/layout.h"
#include "raevm/vm.h"

/* Register offsets and bits, written out as the datasheet gives them. */
#define THR 0
#define RBR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

#define IIR_NONE 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_CTI 0x0c

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MAX_IRQ_CALLS 65536
#define MAX_OUT 8192

struct irq_call {
	struct rv_vm *vm;
	uint32_t gsi;
	int level;
};

static struct irq_call irq_calls[MAX_IRQ_CALLS];
static size_t nr_irq_calls;
static int irq_ret;

int __wrap_rv_vm_irq_line(struct rv_vm *vm, uint32_t gsi, int level);

int __wrap_rv_vm_irq_line(struct rv_vm *vm, uint32_t gsi, int level)
{
	if (nr_irq_calls < MAX_IRQ_CALLS)
		irq_calls[nr_irq_calls] = (struct irq_call){ .vm = vm,
							     .gsi = gsi,
							     .level = level };
	nr_irq_calls++;
	return irq_ret;
}

struct fixture {
	struct rv_vm vm;
	struct rv_vm_config *cfg;
	struct rv_chardev console;
	struct rv_uart *uart;
	uint8_t out[MAX_OUT];
	size_t out_len;
};

static void console_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct fixture *f = opaque;

	assert_true(f->out_len + len <= MAX_OUT);
	memcpy(f->out + f->out_len, buf, len);
	f->out_len += len;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct rv_device_ctx ctx;
	void *dev;

	if (!f)
		return -1;
	if (rv_bus_create("pio", &f->vm.pio) < 0)
		return -1;
	f->console.write = console_write;
	f->console.opaque = f;
	ctx = (struct rv_device_ctx){ .vm = &f->vm, .console = &f->console };
	if (rv_uart_type.create(&ctx, &dev) < 0)
		return -1;
	f->uart = dev;
	nr_irq_calls = 0;
	irq_ret = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rv_uart_type.destroy(f->uart);
	rv_bus_destroy(f->vm.pio);
	free(f);
	return 0;
}

static void outb(struct fixture *f, unsigned int reg, uint8_t val)
{
	assert_int_equal(
		rv_bus_access(f->vm.pio, RV_COM1_PORT + reg, &val, 1, true), 0);
}

static uint8_t inb(struct fixture *f, unsigned int reg)
{
	uint8_t val = 0xaa;

	assert_int_equal(rv_bus_access(f->vm.pio, RV_COM1_PORT + reg, &val, 1,
				       false),
			 0);
	return val;
}

static void input(struct fixture *f, const char *s)
{
	size_t len = strlen(s);

	assert_int_equal(rv_uart_input(f->uart, (const uint8_t *)s, len), len);
}

/* The IRQ line must only ever be told to change, and only on COM1's IRQ. */
static void assert_irq_calls_sane(struct fixture *f)
{
	size_t i;

	assert_true(nr_irq_calls <= MAX_IRQ_CALLS);
	for (i = 0; i < nr_irq_calls; i++) {
		assert_ptr_equal(irq_calls[i].vm, &f->vm);
		assert_int_equal(irq_calls[i].gsi, RV_COM1_IRQ);
		assert_int_equal(irq_calls[i].level, i % 2 == 0 ? 1 : 0);
	}
}

/* ------------------------------------------------------------------ */

static void uart_create__claims_eight_ports(void **state)
{
	struct fixture *f = *state;
	struct rv_device_ctx ctx = { .vm = &f->vm, .console = &f->console };
	uint8_t val = 0;
	void *dev = (void *)1;

	assert_int_equal(rv_bus_access(f->vm.pio, RV_COM1_PORT - 1, &val, 1,
				       false),
			 -ENOENT);
	assert_int_equal(rv_bus_access(f->vm.pio, RV_COM1_PORT + 8, &val, 1,
				       false),
			 -ENOENT);
	assert_int_equal(
		rv_bus_access(f->vm.pio, RV_COM1_PORT + 7, &val, 1, false), 0);
	/* A second UART cannot claim the same ports. */
	assert_int_equal(rv_uart_type.create(&ctx, &dev), -EEXIST);
	assert_null(dev);
}

static void uart_destroy__releases_ports_and_accepts_null(void **state)
{
	struct fixture *f = *state;
	uint8_t val = 0;

	rv_uart_type.destroy(NULL);
	rv_uart_type.destroy(f->uart);
	assert_int_equal(rv_bus_access(f->vm.pio, RV_COM1_PORT, &val, 1, false),
			 -ENOENT);
	/* Let the teardown destroy a fresh instance. */
	{
		struct rv_device_ctx ctx = { .vm = &f->vm,
					     .console = &f->console };
		void *dev;

		assert_int_equal(rv_uart_type.create(&ctx, &dev), 0);
		f->uart = dev;
	}
}

static void uart_reset__register_values(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(inb(f, IER), 0x00);
	assert_int_equal(inb(f, IIR), IIR_NONE);
	assert_int_equal(inb(f, LCR), 0x00);
	assert_int_equal(inb(f, MCR), 0x00);
	assert_int_equal(inb(f, LSR), LSR_THRE | LSR_TEMT);
	assert_int_equal(inb(f, MSR), 0xb0);
	assert_int_equal(inb(f, SCR), 0x00);
	assert_int_equal(nr_irq_calls, 0);
}

static void uart_divisor_latch__dlab_switches_registers(void **state)
{
	struct fixture *f = *state;

	outb(f, LCR, 0x83);
	outb(f, DLL, 0x01);
	outb(f, DLM, 0x02);
	assert_int_equal(inb(f, DLL), 0x01);
	assert_int_equal(inb(f, DLM), 0x02);
	assert_int_equal(f->out_len, 0);

	outb(f, LCR, 0x03);
	assert_int_equal(inb(f, LCR), 0x03);
	/* IER was not touched by the DLM write. */
	assert_int_equal(inb(f, IER), 0x00);
	outb(f, THR, 'A');
	assert_int_equal(f->out_len, 1);
	assert_int_equal(f->out[0], 'A');

	/* The latch kept its value across the DLAB=0 accesses. */
	outb(f, LCR, 0x80);
	assert_int_equal(inb(f, DLL), 0x01);
	assert_int_equal(inb(f, DLM), 0x02);
}

static void uart_ier__upper_bits_read_zero(void **state)
{
	struct fixture *f = *state;

	outb(f, IER, 0xff);
	assert_int_equal(inb(f, IER), 0x0f);
	outb(f, MCR, 0xff);
	assert_int_equal(inb(f, MCR), 0x1f);
}

static void uart_fifo__keeps_order(void **state)
{
	struct fixture *f = *state;
	const char *msg = "hello, world!";
	size_t i;

	outb(f, FCR, 0x01);
	input(f, msg);
	for (i = 0; i < strlen(msg); i++) {
		assert_int_equal(inb(f, LSR) & LSR_DR, LSR_DR);
		assert_int_equal(inb(f, RBR), (uint8_t)msg[i]);
	}
	assert_int_equal(inb(f, LSR), LSR_THRE | LSR_TEMT);
}

static void uart_fifo__loopback_overflow_sets_oe(void **state)
{
	struct fixture *f = *state;
	unsigned int i;

	outb(f, FCR, 0x01);
	outb(f, MCR, MCR_LOOP);
	for (i = 0; i < 17; i++)
		outb(f, THR, (uint8_t)('a' + i));
	assert_int_equal(inb(f, LSR), LSR_DR | LSR_OE | LSR_THRE | LSR_TEMT);
	/* Reading LSR cleared OE. */
	assert_int_equal(inb(f, LSR), LSR_DR | LSR_THRE | LSR_TEMT);
	/* The FIFO kept the first sixteen bytes; the seventeenth was lost. */
	for (i = 0; i < 16; i++)
		assert_int_equal(inb(f, RBR), 'a' + i);
	assert_int_equal(inb(f, LSR) & LSR_DR, 0);
	assert_int_equal(f->out_len, 0);
}

static void uart_fifo__off_overrun_overwrites_holding_register(void **state)
{
	struct fixture *f = *state;

	outb(f, MCR, MCR_LOOP);
	outb(f, THR, 'x');
	assert_int_equal(inb(f, LSR), LSR_DR | LSR_THRE | LSR_TEMT);
	outb(f, THR, 'y');
	assert_int_equal(inb(f, LSR), LSR_DR | LSR_OE | LSR_THRE | LSR_TEMT);
	assert_int_equal(inb(f, RBR), 'y');
	assert_int_equal(inb(f, LSR) & LSR_DR, 0);
}

static void uart_fcr__clear_and_toggle_empty_fifo(void **state)
{
	struct fixture *f = *state;

	outb(f, FCR, 0x01);
	input(f, "abc");
	outb(f, FCR, 0x03);
	assert_int_equal(inb(f, LSR) & LSR_DR, 0);

	input(f, "def");
	outb(f, FCR, 0x00);
	assert_int_equal(inb(f, LSR) & LSR_DR, 0);
	assert_int_equal(inb(f, IIR) & 0xc0, 0x00);
	outb(f, FCR, 0x01);
	assert_int_equal(inb(f, IIR) & 0xc0, 0xc0);
}

static void uart_fcr__clear_keeps_queued_host_input(void **state)
{
	struct fixture *f = *state;
	char buf[21];

	outb(f, FCR, 0x01);
	memset(buf, 'q', 16);
	memcpy(buf + 16, "next", 5);
	input(f, buf);
	/* The sixteen bytes in the FIFO go, the queue refills it. */
	outb(f, FCR, 0x03);
	assert_int_equal(inb(f, RBR), 'n');
	assert_int_equal(inb(f, RBR), 'e');
}

static void uart_iir__priorities(void **state)
{
	struct fixture *f = *state;

	/* Loopback with all-zero outputs drops CTS, DSR and DCD: deltas. */
	outb(f, MCR, MCR_LOOP);
	outb(f, IER, 0x0f);
	outb(f, THR, '1');
	outb(f, THR, '2'); /* overruns the one-byte holding register */

	assert_int_equal(inb(f, IIR), IIR_RLSI);
	assert_int_equal(inb(f, IIR), IIR_RLSI);
	inb(f, LSR);
	assert_int_equal(inb(f, IIR), IIR_RDI);
	assert_int_equal(inb(f, RBR), '2');
	assert_int_equal(inb(f, IIR), IIR_THRI);
	assert_int_equal(inb(f, IIR), IIR_MSI);
	assert_int_equal(inb(f, MSR), 0x0b);
	assert_int_equal(inb(f, IIR), IIR_NONE);
}

static void uart_iir__disabled_sources_not_reported(void **state)
{
	struct fixture *f = *state;

	outb(f, MCR, MCR_LOOP);
	outb(f, THR, '1');
	outb(f, THR, '2');
	/* OE, data, THR empty and modem deltas, but IER enables none. */
	assert_int_equal(inb(f, IIR), IIR_NONE);
	outb(f, IER, 0x01);
	assert_int_equal(inb(f, IIR), IIR_RDI);
}

static void uart_iir__timeout_below_trigger(void **state)
{
	struct fixture *f = *state;

	outb(f, FCR, 0xc1); /* trigger level 14 */
	outb(f, IER, 0x01);
	input(f, "abc");
	assert_int_equal(inb(f, IIR), 0xc0 | IIR_CTI);
	input(f, "defghijklmn"); /* 14 bytes in the FIFO */
	assert_int_equal(inb(f, IIR), 0xc0 | IIR_RDI);
	inb(f, RBR);
	assert_int_equal(inb(f, IIR), 0xc0 | IIR_CTI);

	outb(f, FCR, 0x41); /* trigger level 4 */
	assert_int_equal(inb(f, IIR), 0xc0 | IIR_RDI);
}

static void uart_thre__raised_when_etbei_enabled(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(inb(f, IIR), IIR_NONE);
	outb(f, IER, 0x02);
	assert_int_equal(inb(f, IIR), IIR_THRI);
	/* That read acknowledged it. */
	assert_int_equal(inb(f, IIR), IIR_NONE);
	/* Rewriting IER with ETBEI still set is not an enable. */
	outb(f, IER, 0x02);
	assert_int_equal(inb(f, IIR), IIR_NONE);
	outb(f, IER, 0x00);
	outb(f, IER, 0x02);
	assert_int_equal(inb(f, IIR), IIR_THRI);
}

static void uart_thre__raised_again_after_thr_write(void **state)
{
	struct fixture *f = *state;

	outb(f, IER, 0x02);
	assert_int_equal(inb(f, IIR), IIR_THRI);
	assert_int_equal(inb(f, IIR), IIR_NONE);
	outb(f, THR, 'z');
	assert_int_equal(inb(f, IIR), IIR_THRI);
	assert_int_equal(f->out_len, 1);

	/* Without ETBEI a THR write latches nothing. */
	outb(f, IER, 0x00);
	outb(f, THR, 'z');
	outb(f, IER, 0x01);
	assert_int_equal(inb(f, IIR), IIR_NONE);
}

static void uart_thre__kept_when_iir_reports_other_source(void **state)
{
	struct fixture *f = *state;

	outb(f, IER, 0x03);
	input(f, "r");
	assert_int_equal(inb(f, IIR), IIR_RDI);
	inb(f, RBR);
	/* The RDI report did not acknowledge THRE. */
	assert_int_equal(inb(f, IIR), IIR_THRI);
	assert_int_equal(inb(f, IIR), IIR_NONE);
}

static void uart_irq__line_follows_pending(void **state)
{
	struct fixture *f = *state;

	outb(f, MCR, MCR_OUT2);
	outb(f, IER, 0x01);
	assert_int_equal(nr_irq_calls, 0);
	input(f, "x");
	assert_int_equal(nr_irq_calls, 1);
	input(f, "y");
	assert_int_equal(nr_irq_calls, 1);
	inb(f, RBR);
	assert_int_equal(nr_irq_calls, 1);
	inb(f, RBR);
	assert_int_equal(nr_irq_calls, 2);
	assert_irq_calls_sane(f);
}

static void uart_irq__thre_edge_after_iir_ack(void **state)
{
	struct fixture *f = *state;

	outb(f, MCR, MCR_OUT2);
	outb(f, IER, 0x02);
	assert_int_equal(nr_irq_calls, 1);
	inb(f, IIR);
	assert_int_equal(nr_irq_calls, 2);
	/* The transmitted byte empties THR again: a new edge. */
	outb(f, THR, '!');
	assert_int_equal(nr_irq_calls, 3);
	outb(f, IER, 0x00);
	assert_int_equal(nr_irq_calls, 4);
	assert_irq_calls_sane(f);
}

static void uart_irq__out2_gates_line(void **state)
{
	struct fixture *f = *state;

	outb(f, IER, 0x01);
	input(f, "x");
	assert_int_equal(inb(f, IIR), IIR_RDI);
	assert_int_equal(nr_irq_calls, 0);
	outb(f, MCR, MCR_OUT2);
	assert_int_equal(nr_irq_calls, 1);
	outb(f, MCR, MCR_DTR | MCR_RTS);
	assert_int_equal(nr_irq_calls, 2);
	assert_irq_calls_sane(f);
}

static void uart_irq__loopback_holds_line_low(void **state)
{
	struct fixture *f = *state;

	outb(f, IER, 0x01);
	outb(f, MCR, MCR_OUT2 | MCR_LOOP);
	outb(f, THR, 'l');
	assert_int_equal(inb(f, IIR), IIR_RDI);
	assert_int_equal(nr_irq_calls, 0);
	/* Leaving loopback with data still pending raises the line. */
	outb(f, MCR, MCR_OUT2);
	assert_int_equal(nr_irq_calls, 1);
	assert_irq_calls_sane(f);
}

static void uart_irq__ioctl_failure_does_not_repeat_calls(void **state)
{
	struct fixture *f = *state;

	irq_ret = -EBADF;
	outb(f, MCR, MCR_OUT2);
	outb(f, IER, 0x01);
	input(f, "x");
	input(f, "y");
	assert_int_equal(nr_irq_calls, 1);
	inb(f, RBR);
	inb(f, RBR);
	assert_int_equal(nr_irq_calls, 2);
}

static void uart_loopback__mcr_drives_msr(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(inb(f, MSR), 0xb0);
	outb(f, MCR, MCR_LOOP | MCR_RTS | MCR_OUT2);
	/* CTS and DCD stay up, DSR dropped: DDSR. */
	assert_int_equal(inb(f, MSR), 0x90 | 0x02);
	outb(f, MCR, MCR_LOOP | MCR_DTR | MCR_OUT1);
	assert_int_equal(inb(f, MSR), 0x60 | 0x0b);
	/* RI falling is a trailing edge. */
	outb(f, MCR, MCR_LOOP | MCR_DTR);
	assert_int_equal(inb(f, MSR), 0x20 | 0x04);
	assert_int_equal(inb(f, MSR), 0x20);
	outb(f, MCR, 0);
	assert_int_equal(inb(f, MSR), 0xb0 | 0x09);
	assert_int_equal(inb(f, MSR), 0xb0);
}

static void uart_loopback__host_input_waits(void **state)
{
	struct fixture *f = *state;

	outb(f, MCR, MCR_LOOP);
	input(f, "h");
	assert_int_equal(inb(f, LSR) & LSR_DR, 0);
	outb(f, THR, 'g');
	assert_int_equal(f->out_len, 0);
	assert_int_equal(inb(f, RBR), 'g');
	outb(f, MCR, 0);
	assert_int_equal(inb(f, RBR), 'h');
}

static void uart_msr__modem_status_interrupt(void **state)
{
	struct fixture *f = *state;

	outb(f, IER, 0x08);
	assert_int_equal(inb(f, IIR), IIR_NONE);
	outb(f, MCR, MCR_LOOP);
	assert_int_equal(inb(f, IIR), IIR_MSI);
	inb(f, MSR);
	assert_int_equal(inb(f, IIR), IIR_NONE);
}

static void uart_input__limits_fifo_on(void **state)
{
	struct fixture *f = *state;
	size_t total = 16 + RV_UART_INPUT_MAX;
	uint8_t *buf = malloc(total + 10);
	size_t i;

	assert_non_null(buf);
	for (i = 0; i < total + 10; i++)
		buf[i] = (uint8_t)i;
	outb(f, FCR, 0x01);
	assert_int_equal(rv_uart_input(f->uart, buf, total + 10), total);
	assert_int_equal(rv_uart_input(f->uart, buf, 1), 0);
	assert_int_equal(inb(f, RBR), 0);
	assert_int_equal(rv_uart_input(f->uart, buf + total, 2), 1);
	/* Everything arrives in order, nothing is duplicated or lost. */
	for (i = 1; i < total; i++)
		assert_int_equal(inb(f, RBR), (uint8_t)i);
	assert_int_equal(inb(f, RBR), (uint8_t)total);
	assert_int_equal(inb(f, LSR) & (LSR_DR | LSR_OE), 0);
	free(buf);
}

static void uart_input__limits_fifo_off(void **state)
{
	struct fixture *f = *state;
	size_t total = 1 + RV_UART_INPUT_MAX;
	uint8_t *buf = calloc(1, total + 1);

	assert_non_null(buf);
	assert_int_equal(rv_uart_input(f->uart, buf, total + 1), total);
	free(buf);
}

static void uart_input__bad_arguments(void **state)
{
	struct fixture *f = *state;
	uint8_t b = 'x';

	assert_int_equal(rv_uart_input(NULL, &b, 1), 0);
	assert_int_equal(rv_uart_input(f->uart, NULL, 1), 0);
	assert_int_equal(rv_uart_input(f->uart, &b, 0), 0);
	assert_int_equal(inb(f, LSR) & LSR_DR, 0);
}

static void uart_access__wide_uses_low_byte(void **state)
{
	struct fixture *f = *state;
	uint32_t v32 = 0x11223341;
	uint16_t v16 = 0x5583;
	uint64_t v64 = ~0ULL;

	assert_int_equal(rv_bus_access(f->vm.pio, RV_COM1_PORT, &v32, 4, true),
			 0);
	assert_int_equal(f->out_len, 1);
	assert_int_equal(f->out[0], 0x41);

	assert_int_equal(
		rv_bus_access(f->vm.pio, RV_COM1_PORT + LCR, &v16, 2, true), 0);
	assert_int_equal(inb(f, LCR), 0x83);
	v32 = ~0U;
	assert_int_equal(rv_bus_access(f->vm.pio, RV_COM1_PORT + LCR, &v32, 4,
				       false),
			 0);
	assert_int_equal(v32, 0x83);
	assert_int_equal(rv_bus_access(f->vm.pio, RV_COM1_PORT, &v64, 8, false),
			 0);
	assert_int_equal(v64, 12); /* the default divisor's low byte */
	/* An access that runs past the last register belongs to no one. */
	assert_int_equal(rv_bus_access(f->vm.pio, RV_COM1_PORT + SCR, &v32, 4,
				       true),
			 -ENOENT);
}

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

static void uart_access__random_sequence_keeps_invariants(void **state)
{
	struct fixture *f = *state;
	static const uint32_t widths[] = { 1, 2, 4, 8 };
	unsigned int i;

	for (i = 0; i < 200000; i++) {
		uint32_t r = rng();
		uint32_t len = widths[r & 3];
		unsigned int off = (r >> 2) & 7;
		bool is_write = (r >> 12) & 1;
		uint64_t val = ((uint64_t)rng() << 32) | rng();
		uint64_t upper;
		int ret;

		if ((r >> 5) % 64 == 0) {
			uint8_t in[40];

			memset(in, (int)r, sizeof(in));
			rv_uart_input(f->uart, in, (r >> 11) % sizeof(in));
			continue;
		}
		if (!is_write)
			val = ~0ULL;
		ret = rv_bus_access(f->vm.pio, RV_COM1_PORT + off, &val, len,
				    is_write);
		if (off + len > 8) {
			assert_int_equal(ret, -ENOENT);
			continue;
		}
		assert_int_equal(ret, 0);
		if (is_write)
			continue;
		/* A read fills exactly len bytes: zeros above the low byte. */
		upper = len == 8 ? 0 : ~0ULL << (len * 8);
		assert_int_equal(val & ~0xffULL, upper);
		if (off == IIR) {
			uint8_t id = val & 0x0f;

			assert_true(id == IIR_NONE || id == IIR_MSI ||
				    id == IIR_THRI || id == IIR_RDI ||
				    id == IIR_RLSI || id == IIR_CTI);
			assert_int_equal(val & 0x30, 0);
		}
		if (off == LSR)
			assert_int_equal(val & 0x9c, 0);
	}
	assert_true(nr_irq_calls > 0);
	assert_irq_calls_sane(f);
}

#define WRITERS 4
#define BYTES_PER_WRITER 1000

static void *writer_thread(void *arg)
{
	struct fixture *f = arg;
	uint8_t val = 'w';
	unsigned int i;

	for (i = 0; i < BYTES_PER_WRITER; i++) {
		rv_bus_access(f->vm.pio, RV_COM1_PORT + THR, &val, 1, true);
		rv_bus_access(f->vm.pio, RV_COM1_PORT + IIR, &val, 1, false);
		val = 'w';
	}
	return NULL;
}

static void uart_threads__concurrent_tx_and_input(void **state)
{
	struct fixture *f = *state;
	pthread_t threads[WRITERS];
	unsigned int i, got = 0;
	uint8_t b = 'i';

	outb(f, MCR, MCR_OUT2);
	outb(f, IER, 0x03);
	for (i = 0; i < WRITERS; i++)
		assert_int_equal(
			pthread_create(&threads[i], NULL, writer_thread, f), 0);
	/* The main loop's side: feed input and drain it meanwhile. */
	for (i = 0; i < 2000; i++) {
		got += rv_uart_input(f->uart, &b, 1);
		while (inb(f, LSR) & LSR_DR)
			assert_int_equal(inb(f, RBR), 'i');
	}
	for (i = 0; i < WRITERS; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	assert_int_equal(got, 2000);
	assert_int_equal(f->out_len, WRITERS * BYTES_PER_WRITER);
	assert_irq_calls_sane(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(uart_create__claims_eight_ports),
		T(uart_destroy__releases_ports_and_accepts_null),
		T(uart_reset__register_values),
		T(uart_divisor_latch__dlab_switches_registers),
		T(uart_ier__upper_bits_read_zero),
		T(uart_fifo__keeps_order),
		T(uart_fifo__loopback_overflow_sets_oe),
		T(uart_fifo__off_overrun_overwrites_holding_register),
		T(uart_fcr__clear_and_toggle_empty_fifo),
		T(uart_fcr__clear_keeps_queued_host_input),
		T(uart_iir__priorities),
		T(uart_iir__disabled_sources_not_reported),
		T(uart_iir__timeout_below_trigger),
		T(uart_thre__raised_when_etbei_enabled),
		T(uart_thre__raised_again_after_thr_write),
		T(uart_thre__kept_when_iir_reports_other_source),
		T(uart_irq__line_follows_pending),
		T(uart_irq__thre_edge_after_iir_ack),
		T(uart_irq__out2_gates_line),
		T(uart_irq__loopback_holds_line_low),
		T(uart_irq__ioctl_failure_does_not_repeat_calls),
		T(uart_loopback__mcr_drives_msr),
		T(uart_loopback__host_input_waits),
		T(uart_msr__modem_status_interrupt),
		T(uart_input__limits_fifo_on),
		T(uart_input__limits_fifo_off),
		T(uart_input__bad_arguments),
		T(uart_access__wide_uses_low_byte),
		T(uart_access__random_sequence_keeps_invariants),
		T(uart_threads__concurrent_tx_and_input),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
