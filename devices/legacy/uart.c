// SPDX-License-Identifier: Apache-2.0
/*
 * A 16550A UART on COM1, the guest's serial console.
 *
 * Transmission is instantaneous: a byte written to THR goes straight to the
 * console chardev, so THR and the transmitter are always empty when the guest
 * looks. Reception uses the 16-byte FIFO (or the one-byte holding register
 * when the FIFO is off) fed from a host-side queue that rv_uart_input() fills;
 * the queue is the "wire" and is flow-controlled, so host input never
 * overruns. Only loopback mode can overrun the FIFO.
 *
 * Locking: `lock` protects every register, the FIFO and the queue; it is
 * taken by vCPU threads (bus callbacks) and by the main loop
 * (rv_uart_input). rv_vm_irq_line() is called with `lock` held so that line
 * changes reach KVM in the order the state changed. Console writes happen
 * after `lock` is dropped, under `tx_lock`, because a chardev may block or
 * call back into the main loop, which must never wait for a vCPU that holds
 * `lock`. `tx_lock` is never taken with `lock` held, nor the other way round.
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

#define UART_NR_PORTS 8
#define UART_FIFO_SIZE 16

/* Register offsets from the base port. */
enum {
	REG_RBR_THR = 0, /* DLAB=1: divisor latch low */
	REG_IER = 1,	 /* DLAB=1: divisor latch high */
	REG_IIR_FCR = 2,
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IER_ELSI 0x04  /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */
#define IER_MASK 0x0f

/* Interrupt identification, lowest priority first. */
#define IIR_MSI 0x00
#define IIR_NONE 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_CTI 0x0c
#define IIR_FIFO_ON 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

/* Divisor 12 is 9600 baud; the value only matters to guests that read it. */
#define UART_DEFAULT_DIVISOR 12

struct rv_uart {
	pthread_mutex_t lock;
	pthread_mutex_t tx_lock;
	struct rv_vm *vm;
	const struct rv_chardev *console;

	uint8_t ier;
	uint8_t lcr;
	uint8_t mcr;
	uint8_t scr;
	uint16_t divisor;
	bool fifo_enabled;
	uint8_t rx_trigger; /* bytes that raise RDI with the FIFO on */
	bool overrun;	    /* LSR.OE, cleared by reading LSR */
	bool thr_pending;   /* the THRE interrupt is latched */
	uint8_t msr_lines;  /* CTS/DSR/RI/DCD as the guest sees them now */
	uint8_t msr_delta;  /* delta bits, cleared by reading MSR */
	bool irq_level;	    /* what we last told KVM */
	bool irq_failed;    /* an irq ioctl failed; warned once */

	uint8_t rx[UART_FIFO_SIZE];
	unsigned int rx_head;
	unsigned int rx_count;

	/* Host input not yet in the FIFO, a ring of RV_UART_INPUT_MAX bytes. */
	size_t q_head;
	size_t q_count;
	uint8_t queue[RV_UART_INPUT_MAX];
};

static unsigned int rx_capacity(const struct rv_uart *u)
{
	return u->fifo_enabled ? UART_FIFO_SIZE : 1;
}

static void rx_clear(struct rv_uart *u)
{
	u->rx_head = 0;
	u->rx_count = 0;
}

static void rx_push(struct rv_uart *u, uint8_t byte)
{
	u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = byte;
	u->rx_count++;
}

static uint8_t rx_pop(struct rv_uart *u)
{
	uint8_t byte = u->rx[u->rx_head];

	u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
	u->rx_count--;
	return byte;
}

/*
 * A byte arriving from the transmitter in loopback mode. With the FIFO on,
 * a full FIFO keeps its contents and the new byte is lost; with it off, the
 * new byte overwrites the holding register. Either way LSR.OE is set.
 */
static void rx_receive_loopback(struct rv_uart *u, uint8_t byte)
{
	if (u->rx_count < rx_capacity(u)) {
		rx_push(u, byte);
		return;
	}
	u->overrun = true;
	if (!u->fifo_enabled)
		u->rx[u->rx_head] = byte;
}

/*
 * Moves queued host input into the FIFO. The serial input is disconnected
 * in loopback mode, so the queue waits until loopback ends.
 */
static void rx_refill(struct rv_uart *u)
{
	if (u->mcr & MCR_LOOP)
		return;
	while (u->q_count && u->rx_count < rx_capacity(u)) {
		rx_push(u, u->queue[u->q_head]);
		u->q_head = (u->q_head + 1) % RV_UART_INPUT_MAX;
		u->q_count--;
	}
}

/* The modem input lines: a connected cable, or MCR looped back. */
static uint8_t modem_lines(const struct rv_uart *u)
{
	uint8_t lines = 0;

	if (!(u->mcr & MCR_LOOP))
		return MSR_CTS | MSR_DSR | MSR_DCD;
	if (u->mcr & MCR_RTS)
		lines |= MSR_CTS;
	if (u->mcr & MCR_DTR)
		lines |= MSR_DSR;
	if (u->mcr & MCR_OUT1)
		lines |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		lines |= MSR_DCD;
	return lines;
}

/* Recomputes the modem lines and latches the delta bits for what changed. */
static void update_modem_lines(struct rv_uart *u)
{
	uint8_t now = modem_lines(u);
	uint8_t changed = now ^ u->msr_lines;

	if (changed & MSR_CTS)
		u->msr_delta |= MSR_DCTS;
	if (changed & MSR_DSR)
		u->msr_delta |= MSR_DDSR;
	/* RI reports only its trailing edge. */
	if ((changed & MSR_RI) && !(now & MSR_RI))
		u->msr_delta |= MSR_TERI;
	if (changed & MSR_DCD)
		u->msr_delta |= MSR_DDCD;
	u->msr_lines = now;
}

/* The highest-priority pending interrupt, as an IIR identification. */
static uint8_t pending_iid(const struct rv_uart *u)
{
	if ((u->ier & IER_ELSI) && u->overrun)
		return IIR_RLSI;
	if ((u->ier & IER_ERBFI) && u->rx_count) {
		/*
		 * Below the trigger level a real 16550 raises the character
		 * timeout after four character times of silence. There is no
		 * timer here and host input arrives in bursts that are already
		 * complete, so the timeout is reported at once.
		 */
		if (!u->fifo_enabled || u->rx_count >= u->rx_trigger)
			return IIR_RDI;
		return IIR_CTI;
	}
	if ((u->ier & IER_ETBEI) && u->thr_pending)
		return IIR_THRI;
	if ((u->ier & IER_EDSSI) && u->msr_delta)
		return IIR_MSI;
	return IIR_NONE;
}

/*
 * Refills the FIFO and drives the IRQ line to match the pending interrupts.
 * OUT2 gates the line as on PCs; in loopback mode the OUT2 pin is forced
 * inactive, so the line stays low there too. Called with u->lock held after
 * every state change.
 */
static void update(struct rv_uart *u)
{
	bool level;
	int ret;

	rx_refill(u);
	level = pending_iid(u) != IIR_NONE && (u->mcr & MCR_OUT2) &&
		!(u->mcr & MCR_LOOP);
	if (level == u->irq_level)
		return;
	u->irq_level = level;
	ret = rv_vm_irq_line(u->vm, RV_COM1_IRQ, level);
	if (ret < 0 && !u->irq_failed) {
		u->irq_failed = true;
		rv_warn("uart: cannot set IRQ %d: %s", RV_COM1_IRQ,
			strerror(-ret));
	}
}

static uint8_t read_iir(struct rv_uart *u)
{
	uint8_t iid = pending_iid(u);

	/* Reading IIR acknowledges THRE only when it is what IIR reports. */
	if (iid == IIR_THRI)
		u->thr_pending = false;
	return iid | (u->fifo_enabled ? IIR_FIFO_ON : 0);
}

static uint8_t read_lsr(struct rv_uart *u)
{
	uint8_t lsr = LSR_THRE | LSR_TEMT;

	if (u->rx_count)
		lsr |= LSR_DR;
	if (u->overrun)
		lsr |= LSR_OE;
	u->overrun = false;
	return lsr;
}

static uint8_t read_msr(struct rv_uart *u)
{
	uint8_t msr = u->msr_lines | u->msr_delta;

	u->msr_delta = 0;
	return msr;
}

static uint8_t read_reg(struct rv_uart *u, uint64_t offset)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (offset) {
	case REG_RBR_THR:
		if (dlab)
			return u->divisor & 0xff;
		return u->rx_count ? rx_pop(u) : 0;
	case REG_IER:
		return dlab ? u->divisor >> 8 : u->ier;
	case REG_IIR_FCR:
		return read_iir(u);
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		return read_lsr(u);
	case REG_MSR:
		return read_msr(u);
	case REG_SCR:
		return u->scr;
	default:
		return 0xff;
	}
}

static void write_ier(struct rv_uart *u, uint8_t val)
{
	uint8_t old = u->ier;

	u->ier = val & IER_MASK;
	/*
	 * THR is always empty, so enabling ETBEI raises the THRE interrupt
	 * at once; disabling it drops any latched one.
	 */
	if ((u->ier & IER_ETBEI) && !(old & IER_ETBEI))
		u->thr_pending = true;
	if (!(u->ier & IER_ETBEI))
		u->thr_pending = false;
}

static void write_fcr(struct rv_uart *u, uint8_t val)
{
	static const uint8_t triggers[4] = { 1, 4, 8, 14 };

	/* Turning the FIFOs on or off empties them. */
	if (!(val & FCR_ENABLE)) {
		if (u->fifo_enabled)
			rx_clear(u);
		u->fifo_enabled = false;
		/* The other bits are ignored unless FCR0 is set. */
		return;
	}
	if (!u->fifo_enabled)
		rx_clear(u);
	u->fifo_enabled = true;
	if (val & FCR_CLEAR_RX)
		rx_clear(u);
	/* FCR_CLEAR_TX has nothing to clear: transmission is immediate. */
	u->rx_trigger = triggers[val >> 6];
}

/*
 * A THR write. Returns true when the byte must go to the console, which
 * the caller does after dropping u->lock.
 */
static bool write_thr(struct rv_uart *u, uint8_t val)
{
	bool out = true;

	if (u->mcr & MCR_LOOP) {
		rx_receive_loopback(u, val);
		out = false;
	}
	/*
	 * The write acknowledges a latched THRE interrupt, and THR empties
	 * again immediately, which raises it anew when ETBEI is set.
	 */
	u->thr_pending = u->ier & IER_ETBEI;
	return out;
}

static bool write_reg(struct rv_uart *u, uint64_t offset, uint8_t val)
{
	bool dlab = u->lcr & LCR_DLAB;

	switch (offset) {
	case REG_RBR_THR:
		if (!dlab)
			return write_thr(u, val);
		u->divisor = (u->divisor & 0xff00) | val;
		break;
	case REG_IER:
		if (dlab)
			u->divisor =
				(uint16_t)((u->divisor & 0x00ff) | val << 8);
		else
			write_ier(u, val);
		break;
	case REG_IIR_FCR:
		write_fcr(u, val);
		break;
	case REG_LCR:
		u->lcr = val;
		break;
	case REG_MCR:
		u->mcr = val & MCR_MASK;
		update_modem_lines(u);
		break;
	case REG_SCR:
		u->scr = val;
		break;
	default:
		/* LSR and MSR writes are factory-test features: ignored. */
		break;
	}
	return false;
}

/*
 * Bus callbacks. Accesses wider than a byte act on the register at the
 * access's offset with the low byte; the upper bytes of a read are zero.
 */
static void uart_read(void *opaque, uint64_t offset, void *data, uint32_t len)
{
	struct rv_uart *u = opaque;
	uint8_t val;

	if (len == 0 || len > 8)
		return;
	pthread_mutex_lock(&u->lock);
	val = read_reg(u, offset);
	update(u);
	pthread_mutex_unlock(&u->lock);
	memset(data, 0, len);
	*(uint8_t *)data = val;
}

static void uart_write(void *opaque, uint64_t offset, const void *data,
		       uint32_t len)
{
	struct rv_uart *u = opaque;
	uint8_t val;
	bool out;

	if (len == 0 || len > 8)
		return;
	val = *(const uint8_t *)data;
	pthread_mutex_lock(&u->lock);
	out = write_reg(u, offset, val);
	update(u);
	pthread_mutex_unlock(&u->lock);
	if (out && u->console && u->console->write) {
		pthread_mutex_lock(&u->tx_lock);
		u->console->write(u->console->opaque, &val, 1);
		pthread_mutex_unlock(&u->tx_lock);
	}
}

static const struct rv_bus_ops uart_ops = {
	.read = uart_read,
	.write = uart_write,
};

size_t rv_uart_input(struct rv_uart *u, const uint8_t *buf, size_t len)
{
	size_t done = 0;

	if (!u || !buf)
		return 0;
	pthread_mutex_lock(&u->lock);
	rx_refill(u);
	while (done < len && u->q_count < RV_UART_INPUT_MAX) {
		u->queue[(u->q_head + u->q_count) % RV_UART_INPUT_MAX] =
			buf[done++];
		u->q_count++;
		/* Keep room in the queue for what the FIFO can take now. */
		rx_refill(u);
	}
	update(u);
	pthread_mutex_unlock(&u->lock);
	return done;
}

static void uart_reset(struct rv_uart *u)
{
	u->ier = 0;
	u->lcr = 0;
	u->mcr = 0;
	u->scr = 0;
	u->divisor = UART_DEFAULT_DIVISOR;
	u->fifo_enabled = false;
	u->rx_trigger = 1;
	u->overrun = false;
	u->thr_pending = false;
	u->msr_lines = modem_lines(u);
	u->msr_delta = 0;
	u->irq_level = false;
	rx_clear(u);
}

static void uart_destroy(void *dev)
{
	struct rv_uart *u = dev;

	if (!u)
		return;
	rv_bus_unregister(u->vm->pio, RV_COM1_PORT);
	pthread_mutex_destroy(&u->tx_lock);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

static int uart_create(const struct rv_device_ctx *ctx, void **out)
{
	struct rv_uart *u;
	int ret;

	*out = NULL;
	u = rv__device_alloc(ctx, "uart", sizeof(*u));
	if (!u)
		return -ENOMEM; /* logged */
	u->vm = ctx->vm;
	u->console = ctx->console;
	uart_reset(u);
	ret = -pthread_mutex_init(&u->lock, NULL);
	if (ret)
		goto err_free;
	ret = -pthread_mutex_init(&u->tx_lock, NULL);
	if (ret)
		goto err_lock;
	ret = rv_bus_register(ctx->vm->pio, RV_COM1_PORT, UART_NR_PORTS,
			      &uart_ops, u);
	if (ret < 0) {
		rv_error("uart: cannot claim ports 0x%x-0x%x: %s", RV_COM1_PORT,
			 RV_COM1_PORT + UART_NR_PORTS - 1, strerror(-ret));
		goto err_tx_lock;
	}
	*out = u;
	return 0;

err_tx_lock:
	pthread_mutex_destroy(&u->tx_lock);
err_lock:
	pthread_mutex_destroy(&u->lock);
err_free:
	free(u);
	return ret;
}

const struct rv_device_type rv_uart_type = {
	.name = "uart",
	.create = uart_create,
	.destroy = uart_destroy,
};
