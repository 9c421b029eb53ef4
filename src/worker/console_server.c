// SPDX-License-Identifier: Apache-2.0
/*
 * A worker's serial console: a scrollback log on disk and a Unix socket
 * that any number of viewers (up to RV_CONSOLE_MAX_VIEWERS) attach to.
 *
 * vCPU threads never block here: COM1 output is copied into a bounded ring
 * under a mutex and the main loop drains it, first to the log, then to each
 * viewer. A viewer gets what its socket takes at once plus a bounded queue
 * (RV_CONSOLE_VIEWER_QUEUE bytes); beyond that its output is dropped and
 * counted, and it is told how much it lost once it catches up. A stalled
 * viewer therefore costs at most its queue and never slows the guest, the
 * log or the other viewers.
 *
 * The log is appended to across restarts of the VM. When it reaches its
 * cap it is renamed to "<log>.1" (replacing the previous one) and a new one
 * starts, so the scrollback on disk stays between one and two caps.
 *
 * Input: bytes from any viewer go to the sink (the UART) in arrival order
 * per viewer. When the UART's queue is full the viewer is not read until
 * the queue has room (back-pressure on a paste, retried every 10 ms).
 */
#include "console_server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "raevm/log.h"

#define RING_SIZE (256 * 1024)
#define DRAIN_CHUNK (16 * 1024)
#define VIEWER_IN 1024
#define VIEWER_SNDBUF (16 * 1024)
#define RETRY_MS 10

struct viewer {
	uv_pipe_t pipe;
	struct rv_console_server *cs;
	struct viewer *next;
	size_t queued;	  /* bytes in write requests not completed */
	uint64_t dropped; /* since the viewer was last told */
	bool blocked;	  /* input waits for room in the sink */
	bool closing;
	size_t in_len;
	uint8_t in[VIEWER_IN];
};

struct write_req {
	uv_write_t req;
	struct viewer *v;
	size_t len;
	uint8_t data[];
};

struct rv_console_server {
	struct rv_chardev chardev;

	pthread_mutex_t lock; /* the ring, ring_dropped and loop_active */
	uint8_t *ring;
	size_t head;
	size_t len;
	uint64_t ring_dropped;
	bool loop_active; /* out_async may be signalled */

	uv_loop_t *loop;
	bool started;
	uv_async_t out_async;
	uv_pipe_t listener;
	bool listening;
	uv_timer_t retry_timer;
	char *sock_path;

	struct viewer *viewers;
	unsigned int nr_viewers;
	uint64_t viewer_dropped;

	size_t (*sink)(void *opaque, const uint8_t *buf, size_t len);
	void *sink_opaque;

	int log_fd;
	char *log_path;
	char *log_old; /* log_path + ".1" */
	uint64_t log_size;
	uint64_t log_max;
	uint64_t logged;
	uint64_t log_errors;
};

/* Called on vCPU threads: copy, never block. */
static void console_write(void *opaque, const uint8_t *buf, size_t len)
{
	struct rv_console_server *cs = opaque;
	size_t room, tail, first;

	pthread_mutex_lock(&cs->lock);
	room = RING_SIZE - cs->len;
	if (len > room) {
		cs->ring_dropped += len - room;
		len = room;
	}
	tail = (cs->head + cs->len) % RING_SIZE;
	first = len < RING_SIZE - tail ? len : RING_SIZE - tail;
	memcpy(cs->ring + tail, buf, first);
	memcpy(cs->ring, buf + first, len - first);
	cs->len += len;
	/* Under the lock: stop() clears loop_active before closing it. */
	if (cs->loop_active && len > 0)
		uv_async_send(&cs->out_async);
	pthread_mutex_unlock(&cs->lock);
}

/* ---------------------------------------------------------------------- */
/* The log                                                                */

static int log_open(struct rv_console_server *cs, bool truncate)
{
	struct stat st;
	int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW;

	cs->log_fd = open(cs->log_path, flags | (truncate ? O_TRUNC : 0), 0600);
	if (cs->log_fd < 0)
		return -errno;
	cs->log_size = fstat(cs->log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

/* The log is full: it becomes <log>.1 and a new one starts. */
static void log_rotate(struct rv_console_server *cs)
{
	if (rename(cs->log_path, cs->log_old) < 0)
		cs->log_errors++;
	close(cs->log_fd);
	if (log_open(cs, true) < 0)
		cs->log_errors++;
}

static void log_write(struct rv_console_server *cs, const uint8_t *buf,
		      size_t len)
{
	while (len > 0 && cs->log_fd >= 0) {
		size_t room, take;
		ssize_t n;

		if (cs->log_size >= cs->log_max) {
			log_rotate(cs);
			continue;
		}
		room = (size_t)(cs->log_max - cs->log_size);
		take = len < room ? len : room;
		n = write(cs->log_fd, buf, take);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* A full disk loses scrollback, not the VM. */
			cs->log_errors++;
			return;
		}
		cs->log_size += (uint64_t)n;
		cs->logged += (uint64_t)n;
		buf += n;
		len -= (size_t)n;
	}
}

/* ---------------------------------------------------------------------- */
/* Viewers                                                                */

static void viewer_free(uv_handle_t *h)
{
	free(h->data);
}

static void viewer_close(struct viewer *v)
{
	struct rv_console_server *cs = v->cs;
	struct viewer **pp;

	if (v->closing)
		return;
	v->closing = true;
	for (pp = &cs->viewers; *pp; pp = &(*pp)->next) {
		if (*pp == v) {
			*pp = v->next;
			cs->nr_viewers--;
			break;
		}
	}
	cs->viewer_dropped += v->dropped;
	uv_close((uv_handle_t *)&v->pipe, viewer_free);
}

static void viewer_notice(struct viewer *v);

static void on_viewer_written(uv_write_t *req, int status)
{
	struct write_req *wr = rv_container_of(req, struct write_req, req);
	struct viewer *v = wr->v;

	v->queued -= wr->len;
	free(wr);
	if (status < 0 && status != UV_ECANCELED)
		viewer_close(v);
	/* Caught up after a loss: say so now, not with the next output. */
	else if (!v->closing && v->queued == 0 && v->dropped)
		viewer_notice(v);
}

/* Queues len bytes (already known to fit) behind what is in flight. */
static void viewer_queue(struct viewer *v, const uint8_t *buf, size_t len)
{
	struct write_req *wr = malloc(sizeof(*wr) + len);
	uv_buf_t b;

	if (!wr) {
		v->dropped += len;
		return;
	}
	wr->v = v;
	wr->len = len;
	memcpy(wr->data, buf, len);
	b = uv_buf_init((char *)wr->data, (unsigned int)len);
	if (uv_write(&wr->req, (uv_stream_t *)&v->pipe, &b, 1,
		     on_viewer_written) < 0) {
		free(wr);
		viewer_close(v);
		return;
	}
	v->queued += len;
}

/* Sends what the socket takes now and queues what fits; drops the rest. */
static void viewer_put(struct viewer *v, uint8_t *buf, size_t len)
{
	size_t room;

	if (v->queued == 0) {
		uv_buf_t b = uv_buf_init((char *)buf, (unsigned int)len);
		int n = uv_try_write((uv_stream_t *)&v->pipe, &b, 1);

		if (n < 0 && n != UV_EAGAIN) {
			viewer_close(v);
			return;
		}
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		}
	}
	if (len == 0)
		return;
	room = RV_CONSOLE_VIEWER_QUEUE - v->queued;
	if (len > room) {
		v->dropped += len - room;
		len = room;
	}
	if (len > 0)
		viewer_queue(v, buf, len);
}

/* Tells a viewer that caught up how much output it lost. */
static void viewer_notice(struct viewer *v)
{
	char note[96];
	int n = snprintf(note, sizeof(note),
			 "\r\n[raevm: %" PRIu64
			 " bytes of console output dropped]\r\n",
			 v->dropped);

	v->cs->viewer_dropped += v->dropped;
	v->dropped = 0;
	viewer_put(v, (uint8_t *)note, (size_t)n);
}

static void viewer_send(struct viewer *v, uint8_t *buf, size_t len)
{
	if (v->closing)
		return;
	if (v->dropped && v->queued == 0) {
		viewer_notice(v);
		if (v->closing)
			return;
	}
	viewer_put(v, buf, len);
}

static void on_viewer_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_viewer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* Offers a viewer's pending input to the sink; true when all was taken. */
static bool viewer_feed(struct viewer *v)
{
	struct rv_console_server *cs = v->cs;
	size_t took;

	if (v->in_len == 0)
		return true;
	took = cs->sink ? cs->sink(cs->sink_opaque, v->in, v->in_len) :
			  v->in_len;
	if (took > v->in_len)
		took = v->in_len;
	memmove(v->in, v->in + took, v->in_len - took);
	v->in_len -= took;
	return v->in_len == 0;
}

static void on_retry(uv_timer_t *t)
{
	struct rv_console_server *cs = t->data;
	struct viewer *v;
	bool waiting = false;

	for (v = cs->viewers; v; v = v->next) {
		if (!v->blocked)
			continue;
		if (viewer_feed(v)) {
			v->blocked = false;
			if (uv_read_start((uv_stream_t *)&v->pipe,
					  on_viewer_alloc, on_viewer_read) < 0)
				viewer_close(v);
		} else {
			waiting = true;
		}
	}
	if (!waiting)
		uv_timer_stop(t);
}

static void on_viewer_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct viewer *v = h->data;

	(void)hint;
	buf->base = (char *)v->in + v->in_len;
	buf->len = sizeof(v->in) - v->in_len;
}

static void on_viewer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct viewer *v = s->data;

	(void)buf;
	if (n == 0)
		return;
	if (n < 0) {
		viewer_close(v);
		return;
	}
	v->in_len += (size_t)n;
	if (viewer_feed(v))
		return;
	v->blocked = true;
	uv_read_stop(s);
	if (!uv_is_active((uv_handle_t *)&v->cs->retry_timer))
		uv_timer_start(&v->cs->retry_timer, on_retry, RETRY_MS,
			       RETRY_MS);
}

/* Accepts and closes a connection beyond the limit, with a reason. */
static void refuse(struct rv_console_server *cs)
{
	char msg[] = "raevm: too many console viewers\r\n";
	struct viewer *v = calloc(1, sizeof(*v));
	uv_buf_t b = uv_buf_init(msg, sizeof(msg) - 1);

	if (!v)
		return;
	uv_pipe_init(cs->loop, &v->pipe, 0);
	v->pipe.data = v;
	if (uv_accept((uv_stream_t *)&cs->listener, (uv_stream_t *)&v->pipe) ==
	    0)
		(void)uv_try_write((uv_stream_t *)&v->pipe, &b, 1);
	uv_close((uv_handle_t *)&v->pipe, viewer_free);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct rv_console_server *cs = server->data;
	struct viewer *v;

	if (status < 0)
		return;
	if (cs->nr_viewers >= RV_CONSOLE_MAX_VIEWERS) {
		refuse(cs);
		return;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		refuse(cs);
		return;
	}
	v->cs = cs;
	uv_pipe_init(cs->loop, &v->pipe, 0);
	v->pipe.data = v;
	if (uv_accept(server, (uv_stream_t *)&v->pipe) < 0 ||
	    uv_read_start((uv_stream_t *)&v->pipe, on_viewer_alloc,
			  on_viewer_read) < 0) {
		uv_close((uv_handle_t *)&v->pipe, viewer_free);
		return;
	}
	/*
	 * A small kernel buffer keeps what a stalled viewer pins small; the
	 * bounded queue above it does the rest.
	 */
	(void)uv_send_buffer_size((uv_handle_t *)&v->pipe,
				  &(int){ VIEWER_SNDBUF });
	v->next = cs->viewers;
	cs->viewers = v;
	cs->nr_viewers++;
}

/* ---------------------------------------------------------------------- */
/* Draining the ring                                                      */

/* Moves up to one chunk out of the ring; returns the bytes moved. */
static size_t take_chunk(struct rv_console_server *cs, uint8_t *out)
{
	size_t n, first;

	pthread_mutex_lock(&cs->lock);
	n = cs->len < DRAIN_CHUNK ? cs->len : DRAIN_CHUNK;
	first = n < RING_SIZE - cs->head ? n : RING_SIZE - cs->head;
	memcpy(out, cs->ring + cs->head, first);
	memcpy(out + first, cs->ring, n - first);
	cs->head = (cs->head + n) % RING_SIZE;
	cs->len -= n;
	pthread_mutex_unlock(&cs->lock);
	return n;
}

static void drain(struct rv_console_server *cs, bool to_viewers)
{
	uint8_t chunk[DRAIN_CHUNK];
	struct viewer *v, *next;
	size_t n;

	while ((n = take_chunk(cs, chunk)) > 0) {
		log_write(cs, chunk, n);
		if (!to_viewers)
			continue;
		for (v = cs->viewers; v; v = next) {
			next = v->next; /* viewer_send may close v */
			viewer_send(v, chunk, n);
		}
	}
}

static void on_out_async(uv_async_t *h)
{
	drain(h->data, true);
}

/* ---------------------------------------------------------------------- */

int rv_console_server_create(const char *log_path, uint64_t log_max,
			     struct rv_console_server **out)
{
	struct rv_console_server *cs;
	int rc = -ENOMEM;

	*out = NULL;
	cs = calloc(1, sizeof(*cs));
	if (!cs)
		return -ENOMEM;
	cs->log_fd = -1;
	cs->log_max = log_max ? log_max : RV_CONSOLE_LOG_MAX_DEFAULT;
	cs->ring = malloc(RING_SIZE);
	cs->log_path = strdup(log_path);
	if (!cs->ring || !cs->log_path ||
	    asprintf(&cs->log_old, "%s.1", log_path) < 0) {
		cs->log_old = NULL;
		goto err;
	}
	rc = log_open(cs, false);
	if (rc) {
		rv_error("console log '%s': %s", log_path, strerror(-rc));
		goto err;
	}
	pthread_mutex_init(&cs->lock, NULL);
	cs->chardev.write = console_write;
	cs->chardev.opaque = cs;
	*out = cs;
	return 0;
err:
	free(cs->log_old);
	free(cs->log_path);
	free(cs->ring);
	free(cs);
	return rc;
}

const struct rv_chardev *rv_console_server_chardev(struct rv_console_server *cs)
{
	return &cs->chardev;
}

void rv_console_server_set_sink(struct rv_console_server *cs,
				size_t (*sink)(void *opaque, const uint8_t *buf,
					       size_t len),
				void *opaque)
{
	cs->sink = sink;
	cs->sink_opaque = opaque;
}

int rv_console_server_start(struct rv_console_server *cs, uv_loop_t *loop,
			    const char *sock_path)
{
	struct sockaddr_un sa;
	int rc;

	/* libuv would silently cut a longer path. */
	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		rv_error("console socket '%s': longer than %zu bytes",
			 sock_path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	cs->sock_path = strdup(sock_path);
	if (!cs->sock_path)
		return -ENOMEM;
	cs->loop = loop;
	uv_async_init(loop, &cs->out_async, on_out_async);
	cs->out_async.data = cs;
	uv_timer_init(loop, &cs->retry_timer);
	cs->retry_timer.data = cs;
	uv_pipe_init(loop, &cs->listener, 0);
	cs->listener.data = cs;
	cs->started = true;
	/* The worker holds the VM's lock file, so a socket here is stale. */
	unlink(sock_path);
	rc = uv_pipe_bind(&cs->listener, sock_path);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&cs->listener, 16, on_connection);
	if (rc) {
		rv_error("console socket '%s': %s", sock_path, uv_strerror(rc));
		return rc;
	}
	cs->listening = true;
	pthread_mutex_lock(&cs->lock);
	cs->loop_active = true;
	pthread_mutex_unlock(&cs->lock);
	/* Output written before the loop started. */
	uv_async_send(&cs->out_async);
	return 0;
}

void rv_console_server_stop(struct rv_console_server *cs)
{
	if (!cs || !cs->started)
		return;
	pthread_mutex_lock(&cs->lock);
	cs->loop_active = false;
	pthread_mutex_unlock(&cs->lock);
	/* The last words of the guest still reach the viewers. */
	drain(cs, true);
	while (cs->viewers)
		viewer_close(cs->viewers);
	if (cs->listening && cs->sock_path)
		unlink(cs->sock_path);
	cs->listening = false;
	if (!uv_is_closing((uv_handle_t *)&cs->listener))
		uv_close((uv_handle_t *)&cs->listener, NULL);
	if (!uv_is_closing((uv_handle_t *)&cs->out_async))
		uv_close((uv_handle_t *)&cs->out_async, NULL);
	if (!uv_is_closing((uv_handle_t *)&cs->retry_timer))
		uv_close((uv_handle_t *)&cs->retry_timer, NULL);
	cs->started = false;
}

void rv_console_server_stats(struct rv_console_server *cs,
			     struct rv_console_stats *st)
{
	struct viewer *v;

	memset(st, 0, sizeof(*st));
	st->viewers = cs->nr_viewers;
	st->logged = cs->logged;
	st->log_errors = cs->log_errors;
	st->viewer_dropped = cs->viewer_dropped;
	for (v = cs->viewers; v; v = v->next)
		st->viewer_dropped += v->dropped;
	pthread_mutex_lock(&cs->lock);
	st->ring_dropped = cs->ring_dropped;
	pthread_mutex_unlock(&cs->lock);
}

void rv_console_server_destroy(struct rv_console_server *cs)
{
	if (!cs)
		return;
	drain(cs, false);
	if (cs->ring_dropped)
		rv_warn("console: %" PRIu64 " bytes of guest output were "
			"dropped because the main loop did not keep up",
			cs->ring_dropped);
	if (cs->log_errors)
		rv_warn("console log '%s': %" PRIu64 " writes failed",
			cs->log_path, cs->log_errors);
	if (cs->log_fd >= 0)
		close(cs->log_fd);
	pthread_mutex_destroy(&cs->lock);
	free(cs->sock_path);
	free(cs->log_old);
	free(cs->log_path);
	free(cs->ring);
	free(cs);
}
