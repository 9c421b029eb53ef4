// SPDX-License-Identifier: Apache-2.0
/*
 * The serial console of `raevmd run` on the process's stdin and stdout.
 *
 * vCPU threads never block on host I/O: guest output goes into a bounded
 * ring under a mutex and the main loop drains it to stdout, which is made
 * non-blocking. When stdout is slower than the guest and the ring is full,
 * the excess is dropped and counted (one warning at the end), so a stuck
 * terminal or pipe can neither stall a vCPU nor keep the VM from stopping.
 *
 * Input: stdin is polled by the main loop and handed to a sink (the UART),
 * with back-pressure when the sink's queue is full. A terminal is switched
 * to character-at-a-time input without echo; ISIG stays on so Ctrl-C stops
 * the VM, while Ctrl-Z and Ctrl-\ are passed to the guest as bytes (so the
 * VMM cannot be suspended or killed with the terminal left raw).
 * The terminal settings and the file status flags of fds 0 and 1 are
 * restored on every exit path that runs rv_stdio_console_destroy().
 */
#include "stdio_console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "raevm/log.h"

#define OUT_RING_SIZE (256 * 1024)
#define IN_PENDING 256
/* How long teardown may wait for a slow stdout before dropping the rest. */
#define FLUSH_TIMEOUT_MS 1000

struct rv_stdio_console {
	struct rv_chardev chardev;

	pthread_mutex_t lock; /* the ring and loop_active */
	uint8_t *ring;
	size_t head; /* next byte to write out */
	size_t len;  /* bytes in the ring */
	uint64_t dropped;
	bool loop_active; /* out_async may be signalled */

	uv_loop_t *loop;
	uv_async_t out_async;
	uv_poll_t out_poll;
	bool out_poll_ok;
	bool out_polling;
	uv_poll_t in_poll;
	bool in_poll_ok;
	bool in_polling;
	uv_timer_t retry_timer;

	size_t (*sink)(void *opaque, const uint8_t *buf, size_t len);
	void *sink_opaque;
	uint8_t pending[IN_PENDING];
	size_t pending_len;

	bool tty_saved;
	struct termios tty;
	int fl_in; /* saved fcntl(F_GETFL) of fds 0 and 1 */
	int fl_out;
};

/* Called on vCPU threads: copy, never block. */
static void console_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct rv_stdio_console *con = opaque;
	size_t room, tail, first;
	bool wake;

	pthread_mutex_lock(&con->lock);
	room = OUT_RING_SIZE - con->len;
	if (len > room) {
		con->dropped += len - room;
		len = room;
	}
	tail = (con->head + con->len) % OUT_RING_SIZE;
	first = len < OUT_RING_SIZE - tail ? len : OUT_RING_SIZE - tail;
	memcpy(con->ring + tail, buf, first);
	memcpy(con->ring, buf + first, len - first);
	con->len += len;
	wake = con->loop_active && len > 0;
	/*
	 * Sent under the lock: rv_stdio_console_stop() takes it before the
	 * handle is closed, so no send can race with the close.
	 */
	if (wake)
		uv_async_send(&con->out_async);
	pthread_mutex_unlock(&con->lock);
}

/*
 * Writes as much of the ring as stdout takes. Returns 1 when bytes remain
 * because stdout would block, 0 when the ring is empty or stdout is gone.
 */
static int drain(struct rv_stdio_console *con)
{
	for (;;) {
		size_t chunk;
		ssize_t n;

		pthread_mutex_lock(&con->lock);
		chunk = con->len;
		if (chunk > OUT_RING_SIZE - con->head)
			chunk = OUT_RING_SIZE - con->head;
		pthread_mutex_unlock(&con->lock);
		if (chunk == 0)
			return 0;
		/* Only this thread advances head, so the bytes stay valid. */
		n = write(STDOUT_FILENO, con->ring + con->head, chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 1;
		pthread_mutex_lock(&con->lock);
		if (n <= 0) {
			/* stdout is closed: the guest runs on unheard. */
			con->dropped += con->len;
			con->len = 0;
		} else {
			con->head = (con->head + (size_t)n) % OUT_RING_SIZE;
			con->len -= (size_t)n;
		}
		pthread_mutex_unlock(&con->lock);
		if (n <= 0)
			return 0;
	}
}

static void on_out_writable(uv_poll_t *h, int status, int events);

static void drain_or_wait(struct rv_stdio_console *con)
{
	int more = drain(con);

	if (more && !con->out_polling && con->out_poll_ok &&
	    uv_poll_start(&con->out_poll, UV_WRITABLE, on_out_writable) == 0)
		con->out_polling = true;
	else if (!more && con->out_polling) {
		uv_poll_stop(&con->out_poll);
		con->out_polling = false;
	}
}

static void on_out_writable(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	drain_or_wait(h->data);
}

static void on_out_async(uv_async_t *h)
{
	drain_or_wait(h->data);
}

static void feed(struct rv_stdio_console *con)
{
	size_t took;

	if (!con->sink || con->pending_len == 0)
		return;
	took = con->sink(con->sink_opaque, con->pending, con->pending_len);
	memmove(con->pending, con->pending + took, con->pending_len - took);
	con->pending_len -= took;
}

static void on_stdin(uv_poll_t *h, int status, int events);

static void stdin_resume(struct rv_stdio_console *con)
{
	if (con->in_poll_ok && !con->in_polling &&
	    uv_poll_start(&con->in_poll, UV_READABLE, on_stdin) == 0)
		con->in_polling = true;
}

static void stdin_pause(struct rv_stdio_console *con)
{
	if (con->in_polling)
		uv_poll_stop(&con->in_poll);
	con->in_polling = false;
}

/*
 * The sink's queue was full: retry shortly. This is back-pressure on a
 * paste bigger than the UART's queue, not synchronisation with the guest.
 */
static void on_retry(uv_timer_t *t)
{
	struct rv_stdio_console *con = t->data;

	feed(con);
	if (con->pending_len == 0) {
		uv_timer_stop(t);
		stdin_resume(con);
	}
}

static void on_stdin(uv_poll_t *h, int status, int events)
{
	struct rv_stdio_console *con = h->data;
	ssize_t n;

	(void)events;
	if (status < 0) {
		stdin_pause(con);
		return;
	}
	n = read(STDIN_FILENO, con->pending + con->pending_len,
		 sizeof(con->pending) - con->pending_len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		stdin_pause(con); /* EOF: the guest runs on without input */
		return;
	}
	con->pending_len += (size_t)n;
	feed(con);
	if (con->pending_len == 0)
		return;
	stdin_pause(con);
	uv_timer_start(&con->retry_timer, on_retry, 10, 10);
}

static void tty_setup(struct rv_stdio_console *con)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &con->tty) < 0)
		return;
	con->tty_saved = true;
	t = con->tty;
	/* Characters go to the guest as typed, without local echo. */
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ECHONL | IEXTEN);
	t.c_iflag &= ~(tcflag_t)(ICRNL | IXON);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	t.c_cc[VQUIT] = _POSIX_VDISABLE;
	t.c_cc[VSUSP] = _POSIX_VDISABLE;
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

int rv_stdio_console_create(struct rv_stdio_console **out)
{
	struct rv_stdio_console *con;

	*out = NULL;
	con = calloc(1, sizeof(*con));
	if (!con)
		return -ENOMEM;
	/* Untouched pages of the ring cost no memory. */
	con->ring = malloc(OUT_RING_SIZE);
	if (!con->ring) {
		free(con);
		return -ENOMEM;
	}
	pthread_mutex_init(&con->lock, NULL);
	con->chardev.write = console_write;
	con->chardev.opaque = con;
	con->fl_in = fcntl(STDIN_FILENO, F_GETFL);
	con->fl_out = fcntl(STDOUT_FILENO, F_GETFL);
	*out = con;
	return 0;
}

const struct rv_chardev *rv_stdio_console_chardev(struct rv_stdio_console *con)
{
	return &con->chardev;
}

void rv_stdio_console_set_sink(struct rv_stdio_console *con,
			       size_t (*sink)(void *opaque, const uint8_t *buf,
					      size_t len),
			       void *opaque)
{
	con->sink = sink;
	con->sink_opaque = opaque;
}

int rv_stdio_console_start(struct rv_stdio_console *con, uv_loop_t *loop)
{
	con->loop = loop;
	uv_async_init(loop, &con->out_async, on_out_async);
	con->out_async.data = con;
	uv_timer_init(loop, &con->retry_timer);
	con->retry_timer.data = con;
	/* uv_poll_init makes the fd non-blocking; the flags are restored. */
	if (uv_poll_init(loop, &con->out_poll, STDOUT_FILENO) == 0) {
		con->out_poll.data = con;
		con->out_poll_ok = true;
	} else if (con->fl_out >= 0) {
		/* A regular file: writes never block; set it anyway. */
		fcntl(STDOUT_FILENO, F_SETFL, con->fl_out | O_NONBLOCK);
	}
	/* stdin may be a file or /dev/null, which cannot be polled: no input. */
	if (uv_poll_init(loop, &con->in_poll, STDIN_FILENO) == 0) {
		con->in_poll.data = con;
		con->in_poll_ok = true;
		tty_setup(con);
		stdin_resume(con);
	}
	pthread_mutex_lock(&con->lock);
	con->loop_active = true;
	pthread_mutex_unlock(&con->lock);
	/* Output written before the loop started. */
	uv_async_send(&con->out_async);
	return 0;
}

void rv_stdio_console_stop(struct rv_stdio_console *con)
{
	pthread_mutex_lock(&con->lock);
	con->loop_active = false;
	pthread_mutex_unlock(&con->lock);
	con->in_polling = false;
	con->out_polling = false;
}

void rv_stdio_console_restore(struct rv_stdio_console *con)
{
	if (con->tty_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &con->tty);
	con->tty_saved = false;
	if (con->fl_in >= 0)
		fcntl(STDIN_FILENO, F_SETFL, con->fl_in);
	if (con->fl_out >= 0)
		fcntl(STDOUT_FILENO, F_SETFL, con->fl_out);
}

/* Teardown: the vCPUs have stopped; write what is left, bounded in time. */
static void flush_rest(struct rv_stdio_console *con)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
	int waited = 0;

	fcntl(STDOUT_FILENO, F_SETFL,
	      (con->fl_out >= 0 ? con->fl_out : 0) | O_NONBLOCK);
	while (drain(con) && waited < FLUSH_TIMEOUT_MS) {
		if (poll(&p, 1, 100) == 0)
			waited += 100;
	}
	pthread_mutex_lock(&con->lock);
	con->dropped += con->len;
	con->len = 0;
	pthread_mutex_unlock(&con->lock);
}

void rv_stdio_console_destroy(struct rv_stdio_console *con)
{
	if (!con)
		return;
	flush_rest(con);
	rv_stdio_console_restore(con);
	if (con->dropped)
		rv_warn("console: %llu bytes of guest output were dropped "
			"because stdout did not keep up",
			(unsigned long long)con->dropped);
	pthread_mutex_destroy(&con->lock);
	free(con->ring);
	free(con);
}
