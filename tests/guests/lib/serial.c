/* SPDX-License-Identifier: Apache-2.0 */
/*
 * COM1 (16550A) console. Output is polled; every register access is a VM
 * exit, so the transmitter is refilled a FIFO's worth at a time after one
 * THRE check instead of checking before every byte.
 */
#include "internal.h"

#define UART_RBR 0 /* receive buffer (read) */
#define UART_THR 0 /* transmit holding (write) */
#define UART_DLL 0 /* divisor latch low (DLAB=1) */
#define UART_IER 1
#define UART_DLM 1 /* divisor latch high (DLAB=1) */
#define UART_IIR 2 /* read */
#define UART_FCR 2 /* write */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5

#define IER_RDI 0x01
#define LCR_DLAB 0x80
#define LCR_8N1 0x03
#define FCR_ENABLE_CLEAR 0x07
#define IIR_FIFO_ON 0xc0
#define MCR_DTR_RTS_OUT2 0x0b /* OUT2 gates the IRQ line on PCs */
#define LSR_DR 0x01
#define LSR_THRE 0x20

/* Polls of LSR before we decide the transmitter is stuck. */
#define THRE_POLLS 100000

static const uint16_t com1 = GUEST_COM1_PORT;

/* Protected by the console lock. */
static unsigned int tx_fifo = 1;  /* bytes THR takes once THRE is seen */
static unsigned int tx_room;
static bool tx_stuck;             /* THRE never came: stop waiting */

static struct spinlock console_spin = SPINLOCK_INIT;
static volatile int console_owner = -1; /* CPU index holding the console */
static unsigned int console_depth;

void serial_init(void)
{
	outb(com1 + UART_IER, 0);
	outb(com1 + UART_LCR, LCR_DLAB);
	outb(com1 + UART_DLL, 1); /* 115200 baud */
	outb(com1 + UART_DLM, 0);
	outb(com1 + UART_LCR, LCR_8N1);
	outb(com1 + UART_FCR, FCR_ENABLE_CLEAR);
	tx_fifo = (inb(com1 + UART_IIR) & IIR_FIFO_ON) == IIR_FIFO_ON ? 16 : 1;
	tx_room = 0;
	outb(com1 + UART_MCR, MCR_DTR_RTS_OUT2);
}

static void tx_byte(char c)
{
	if (tx_room == 0) {
		unsigned int i;

		for (i = 0; !tx_stuck && i < THRE_POLLS; i++) {
			if (inb(com1 + UART_LSR) & LSR_THRE)
				break;
			cpu_pause();
		}
		if (i == THRE_POLLS)
			tx_stuck = true;
		tx_room = tx_fifo;
	}
	outb(com1 + UART_THR, (uint8_t)c);
	tx_room--;
}

/* Caller holds the console. */
static void console_putc_locked(char c)
{
	if (c == '\n')
		tx_byte('\r');
	tx_byte(c);
}

uint64_t console_lock(void)
{
	uint64_t flags = irq_save();
	int me = (int)smp_cpu_index();

	if (console_owner == me) {
		console_depth++;
		return flags;
	}
	spin_lock(&console_spin);
	console_owner = me;
	console_depth = 1;
	return flags;
}

/*
 * For fatal paths: waits a bounded time for the console, then takes it
 * anyway, since a CPU that died holding it must not silence the report.
 */
uint64_t console_lock_force(void)
{
	uint64_t flags = irq_save();
	int me = (int)smp_cpu_index();
	uint64_t deadline = tsc_deadline_us(500000);

	if (console_owner == me) {
		console_depth++;
		return flags;
	}
	while (!spin_trylock(&console_spin)) {
		if (rdtsc() > deadline) {
			console_spin.locked = 1;
			break;
		}
		cpu_pause();
	}
	console_owner = me;
	console_depth = 1;
	return flags;
}

void console_unlock(uint64_t flags)
{
	if (--console_depth == 0) {
		console_owner = -1;
		spin_unlock(&console_spin);
	}
	irq_restore(flags);
}

void serial_putc(char c)
{
	uint64_t flags = console_lock();

	console_putc_locked(c);
	console_unlock(flags);
}

void serial_write(const char *s, size_t n)
{
	uint64_t flags = console_lock();

	for (size_t i = 0; i < n; i++)
		console_putc_locked(s[i]);
	console_unlock(flags);
}

void serial_puts(const char *s)
{
	serial_write(s, strlen(s));
}

int puts(const char *s)
{
	uint64_t flags = console_lock();

	serial_puts(s);
	console_putc_locked('\n');
	console_unlock(flags);
	return 0;
}

int serial_getc_poll(void)
{
	if (!(inb(com1 + UART_LSR) & LSR_DR))
		return -1;
	return inb(com1 + UART_RBR);
}

int serial_getc_timeout(uint64_t timeout_us)
{
	uint64_t deadline = tsc_deadline_us(timeout_us);

	do {
		int c = serial_getc_poll();

		if (c >= 0)
			return c;
		cpu_pause();
	} while (rdtsc() < deadline);
	return -ETIMEDOUT;
}

void serial_set_rx_irq(bool on)
{
	outb(com1 + UART_IER, on ? IER_RDI : 0);
}
