/* SPDX-License-Identifier: Apache-2.0 */
/*
 * COM1 (16550A) console. Output is polled; every register access is a VM
 * exit, so output is buffered a FIFO's worth at a time and sent after one
 * THRE check with one string instruction: two exits per 16 bytes instead
 * of two per byte. The buffer is flushed whenever the console is released.
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
#define FCR_ENABLE_CLEAR_TX 0x05
#define IIR_FIFO_ON 0xc0
#define MCR_DTR_RTS_OUT2 0x0b /* OUT2 gates the IRQ line on PCs */
#define LSR_DR 0x01
#define LSR_THRE 0x20

/* Polls of LSR before we decide the transmitter is stuck. */
#define THRE_POLLS 100000

static const uint16_t com1 = GUEST_COM1_PORT;

#define TX_FIFO_MAX 16

/* Protected by the console lock. */
static unsigned int tx_fifo = 1; /* bytes THR takes once THRE is seen */
static char tx_buf[TX_FIFO_MAX]; /* bytes not yet handed to the UART */
static unsigned int tx_len;
static bool tx_stuck; /* THRE never came: stop waiting */

/*
 * Bytes that were waiting in the receiver before serial_init(): switching
 * the FIFOs on empties them (as on a real 16550), and input the host sent
 * before the guest started must not be lost. serial_getc_poll() returns
 * these first. Written only by serial_init(), on the boot CPU.
 */
#define EARLY_RX_MAX 256

static uint8_t early_rx[EARLY_RX_MAX];
static unsigned int early_rx_len, early_rx_pos;

static struct spinlock console_spin;
static volatile int console_owner = -1; /* CPU index holding the console */
static unsigned int console_depth;

void serial_init(void)
{
	outb(com1 + UART_IER, 0);
	early_rx_len = 0;
	while (early_rx_len < EARLY_RX_MAX && (inb(com1 + UART_LSR) & LSR_DR))
		early_rx[early_rx_len++] = inb(com1 + UART_RBR);
	outb(com1 + UART_LCR, LCR_DLAB);
	outb(com1 + UART_DLL, 1); /* 115200 baud */
	outb(com1 + UART_DLM, 0);
	outb(com1 + UART_LCR, LCR_8N1);
	outb(com1 + UART_FCR, FCR_ENABLE_CLEAR_TX);
	tx_fifo = 1;
	if ((inb(com1 + UART_IIR) & IIR_FIFO_ON) == IIR_FIFO_ON)
		tx_fifo = TX_FIFO_MAX;
	tx_len = 0;
	outb(com1 + UART_MCR, MCR_DTR_RTS_OUT2);
}

/* Waits (bounded) until the transmitter is empty. */
static void wait_thre(void)
{
	unsigned int i;

	for (i = 0; !tx_stuck && i < THRE_POLLS; i++) {
		if (inb(com1 + UART_LSR) & LSR_THRE)
			return;
		cpu_pause();
	}
	if (i == THRE_POLLS)
		tx_stuck = true;
}

/*
 * Sends the buffered bytes: one THRE check, then the whole FIFO's worth in
 * one rep outsb, which a hypervisor takes as a single exit.
 */
static void tx_flush(void)
{
	const char *p = tx_buf;
	size_t n = tx_len;

	if (!n)
		return;
	wait_thre();
	__asm__ volatile("rep outsb"
			 : "+S"(p), "+c"(n)
			 : "d"(com1 + UART_THR)
			 : "memory");
	tx_len = 0;
}

/* Caller holds the console. */
static void tx_byte(char c)
{
	tx_buf[tx_len++] = c;
	if (tx_len >= tx_fifo)
		tx_flush();
}

/*
 * Caller holds the console. Copies runs without newlines into the buffer
 * in one go: each CPL0 instruction may be emulated, so the per-byte work
 * is kept to the scan.
 */
void console_write_locked(const char *p, size_t n)
{
	while (n) {
		size_t room = tx_fifo - tx_len, k = 0;

		while (k < n && k < room && p[k] != '\n')
			k++;
		memcpy(tx_buf + tx_len, p, k);
		tx_len += k;
		p += k;
		n -= k;
		if (tx_len >= tx_fifo)
			tx_flush();
		if (n && *p == '\n') {
			tx_byte('\r');
			tx_byte('\n');
			p++;
			n--;
		}
	}
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
		tx_flush();
		console_owner = -1;
		spin_unlock(&console_spin);
	}
	irq_restore(flags);
}

void serial_putc(char c)
{
	uint64_t flags = console_lock();

	console_write_locked(&c, 1);
	console_unlock(flags);
}

void serial_write(const char *s, size_t n)
{
	uint64_t flags = console_lock();

	console_write_locked(s, n);
	console_unlock(flags);
}

void serial_puts(const char *s)
{
	serial_write(s, strlen(s));
}

int puts(const char *s)
{
	uint64_t flags = console_lock();

	console_write_locked(s, strlen(s));
	console_write_locked("\n", 1);
	console_unlock(flags);
	return 0;
}

int serial_getc_poll(void)
{
	if (early_rx_pos < early_rx_len)
		return early_rx[early_rx_pos++];
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
