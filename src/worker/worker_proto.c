// SPDX-License-Identifier: Apache-2.0
/*
 * The daemon <-> worker control channel: line-delimited JSON on a Unix
 * stream socket (include/raevm/worker_proto.h). Both the worker and the
 * daemon's supervisor use it; each distrusts the other's bytes.
 */
#include "raevm/worker_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "raevm/log.h"

#define READ_CHUNK 4096
#define SEND_QUEUE_MAX (1024 * 1024)
#define PARSE_DEPTH 8

struct rv_wp_chan {
	uv_pipe_t pipe;
	struct rv_wp_framer framer;
	rv_wp_msg_cb on_msg;
	rv_wp_close_cb on_close;
	void *opaque;
	char rbuf[READ_CHUNK];
	bool failed;  /* on_close ran or is due; no more sends */
	bool closing; /* rv_wp_chan_close() was called */
	uv_shutdown_t shutdown;
};

struct send_req {
	uv_write_t req;
	char data[];
};

void rv_wp_framer_init(struct rv_wp_framer *f, size_t max)
{
	memset(f, 0, sizeof(*f));
	f->max = max;
}

void rv_wp_framer_free(struct rv_wp_framer *f)
{
	free(f->buf);
	f->buf = NULL;
	f->len = 0;
	f->cap = 0;
}

static int framer_append(struct rv_wp_framer *f, const char *data, size_t len)
{
	size_t need = f->len + len + 1;
	char *p;

	if (need > f->cap) {
		size_t cap = f->cap ? f->cap : 256;

		while (cap < need)
			cap *= 2;
		p = realloc(f->buf, cap);
		if (!p)
			return -ENOMEM;
		f->buf = p;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, data, len);
	f->len += len;
	return 0;
}

int rv_wp_framer_push(struct rv_wp_framer *f, const char *data, size_t len,
		      int (*fn)(void *opaque, char *line, size_t len),
		      void *opaque)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		int rc;

		/* The partial line plus this piece, without the newline. */
		if (f->len + take > f->max)
			return -EMSGSIZE;
		rc = framer_append(f, data, take);
		if (rc)
			return rc;
		if (!nl)
			return 0;
		data += take + 1;
		len -= take + 1;
		f->buf[f->len] = '\0';
		take = f->len;
		f->len = 0;
		rc = fn(opaque, f->buf, take);
		if (rc)
			return rc;
	}
	return 0;
}

struct json_object *rv_wp_parse(const char *line, size_t len)
{
	struct json_tokener *tok;
	struct json_object *obj;

	if (len == 0 || len > RV_WP_MAX_LINE || strlen(line) != len)
		return NULL;
	tok = json_tokener_new_ex(PARSE_DEPTH);
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	/* Trailing bytes after the object are a broken message too. */
	if (obj && (json_tokener_get_error(tok) != json_tokener_success ||
		    json_tokener_get_parse_end(tok) != len ||
		    !json_object_is_type(obj, json_type_object))) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

static void chan_free(uv_handle_t *h)
{
	struct rv_wp_chan *c = h->data;

	rv_wp_framer_free(&c->framer);
	free(c);
}

/* The peer is gone or broke the protocol: tell the owner once. */
static void chan_fail(struct rv_wp_chan *c, int err)
{
	if (c->failed)
		return;
	c->failed = true;
	uv_read_stop((uv_stream_t *)&c->pipe);
	if (!c->closing && c->on_close)
		c->on_close(c->opaque, err);
}

static int on_line(void *opaque, char *line, size_t len)
{
	struct rv_wp_chan *c = opaque;
	struct json_object *msg;

	if (len == 0)
		return 0; /* blank lines are allowed between messages */
	msg = rv_wp_parse(line, len);
	if (!msg)
		return -EPROTO;
	if (!c->closing && !c->failed)
		c->on_msg(c->opaque, msg);
	json_object_put(msg);
	/* on_msg may have closed the channel; stop at once then. */
	return c->closing || c->failed ? -ECANCELED : 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct rv_wp_chan *c = h->data;

	(void)hint;
	buf->base = c->rbuf;
	buf->len = sizeof(c->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct rv_wp_chan *c = s->data;
	int rc;

	if (n == 0)
		return;
	if (n < 0) {
		chan_fail(c, n == UV_EOF ? 0 : -EIO);
		return;
	}
	rc = rv_wp_framer_push(&c->framer, buf->base, (size_t)n, on_line, c);
	if (rc == -ECANCELED)
		return;
	if (rc)
		chan_fail(c, rc == -EMSGSIZE ? -EMSGSIZE : -EPROTO);
}

int rv_wp_chan_open(uv_loop_t *loop, int fd, rv_wp_msg_cb on_msg,
		    rv_wp_close_cb on_close, void *opaque,
		    struct rv_wp_chan **out)
{
	struct rv_wp_chan *c;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	rv_wp_framer_init(&c->framer, RV_WP_MAX_LINE);
	c->on_msg = on_msg;
	c->on_close = on_close;
	c->opaque = opaque;
	uv_pipe_init(loop, &c->pipe, 0);
	c->pipe.data = c;
	rc = uv_pipe_open(&c->pipe, fd);
	if (rc) {
		close(fd);
		uv_close((uv_handle_t *)&c->pipe, chan_free);
		return rc;
	}
	/* From here the handle owns fd: uv_close() closes it. */
	rc = uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
	if (rc) {
		uv_close((uv_handle_t *)&c->pipe, chan_free);
		return rc;
	}
	*out = c;
	return 0;
}

static void on_written(uv_write_t *req, int status)
{
	struct send_req *sr = rv_container_of(req, struct send_req, req);
	struct rv_wp_chan *c = req->handle->data;

	if (status < 0 && status != UV_ECANCELED)
		chan_fail(c, -EPIPE);
	free(sr);
}

int rv_wp_send(struct rv_wp_chan *c, struct json_object *msg)
{
	const char *text;
	size_t len;
	struct send_req *sr;
	uv_buf_t buf;
	int rc;

	if (!c || c->failed || c->closing)
		return -EPIPE;
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) >
	    SEND_QUEUE_MAX)
		return -ENOBUFS;
	text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	sr = malloc(sizeof(*sr) + len + 1);
	if (!sr)
		return -ENOMEM;
	memcpy(sr->data, text, len);
	sr->data[len] = '\n';
	buf = uv_buf_init(sr->data, (unsigned int)(len + 1));
	rc = uv_write(&sr->req, (uv_stream_t *)&c->pipe, &buf, 1, on_written);
	if (rc) {
		free(sr);
		return -EPIPE;
	}
	return 0;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct rv_wp_chan *c = req->data;

	(void)status;
	uv_close((uv_handle_t *)&c->pipe, chan_free);
}

void rv_wp_chan_close(struct rv_wp_chan *c, bool flush)
{
	if (!c || c->closing)
		return;
	c->closing = true;
	uv_read_stop((uv_stream_t *)&c->pipe);
	c->shutdown.data = c;
	if (flush && !c->failed &&
	    uv_shutdown(&c->shutdown, (uv_stream_t *)&c->pipe, on_shutdown) ==
		    0)
		return;
	uv_close((uv_handle_t *)&c->pipe, chan_free);
}

void rv_wp_chan_pause(struct rv_wp_chan *c)
{
	if (c && !c->closing)
		uv_read_stop((uv_stream_t *)&c->pipe);
}

int rv_wp_peer(int fd, int *pid, unsigned int *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	if (pid)
		*pid = cred.pid;
	if (uid)
		*uid = cred.uid;
	return 0;
}
