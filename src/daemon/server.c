// SPDX-License-Identifier: Apache-2.0
/*
 * The control socket: a Unix stream socket carrying line-delimited JSON
 * (docs/api.md). Every peer is identified with SO_PEERCRED when it
 * connects and gets full access (root, the daemon's user), read access
 * (members of the socket's group) or one error line and the door.
 *
 * Each client is handled strictly in order: one request at a time, its
 * reply before the next request is parsed, so a slow handler (a start that
 * waits for the guest) delays only its own client. Output is bounded per
 * client: a client that stops reading its replies stops being read
 * (back-pressure), and an events subscriber that falls behind by more
 * than RV_SERVER_EVENT_QUEUE bytes is told so and disconnected, so one
 * stuck viewer can never make the daemon's memory grow.
 */
#include "daemon.h"

#include "raevm/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)
#define LISTEN_BACKLOG 256

struct rv_server {
	struct rv_daemon *d;
	uv_pipe_t listener;
	bool listening;
	int lock_fd;
	char *lock_path;
	struct rv_client *clients; /* doubly linked, newest first */
	unsigned int nr_clients;
	uint64_t next_client_id;
	bool closing;
	bool locked;
	/*
	 * libuv handles not yet closed (listener and clients): the server is
	 * freed by the close callback that brings this to zero.
	 */
	unsigned int handles;
};

struct rv_client {
	struct rv_server *srv;
	uv_pipe_t pipe;
	struct rv_client *next, *prev;
	uint64_t id;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	enum rv_api_access access;
	char *in; /* unparsed input: in[off..len) */
	size_t in_off, in_len, in_cap;
	/*
	 * Bytes from in_off known to hold no '\n': a client that trickles a
	 * long line byte by byte must not make each read rescan all of it.
	 */
	size_t in_checked;
	struct rv_call *pending; /* the request being handled, or NULL */
	bool subscribed;
	bool reading;
	bool in_process; /* process() is on the stack */
	bool closing;
};

struct rv_call {
	struct rv_client *client; /* NULL once the client has gone */
	struct rv_daemon *d;
	struct rv_request req;
};

struct out_req {
	uv_write_t w;
	struct rv_client *client;
	size_t len;
	char data[];
};

static void process(struct rv_client *c);
static void client_close(struct rv_client *c);

/* ---------------------------------------------------------------------- */
/* Output                                                                 */

static size_t queued(struct rv_client *c)
{
	return uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
}

static void resume_reading(struct rv_client *c);

static void on_written(uv_write_t *w, int status)
{
	struct out_req *o = rv_container_of(w, struct out_req, w);
	struct rv_client *c = o->client;

	(void)status;
	free(o);
	/* c is valid: a closing handle completes its writes before close. */
	if (c && !c->closing && !c->reading && queued(c) < RV_SERVER_OUT_HIGH)
		resume_reading(c);
}

/* Queues text plus '\n'. Returns 0 or a negative errno. */
static int send_line(struct rv_client *c, const char *text)
{
	size_t len = strlen(text);
	struct out_req *o;
	uv_buf_t buf;
	int rc;

	if (c->closing)
		return -EPIPE;
	o = malloc(sizeof(*o) + len + 1);
	if (!o)
		return -ENOMEM;
	o->client = c;
	o->len = len + 1;
	memcpy(o->data, text, len);
	o->data[len] = '\n';
	buf = uv_buf_init(o->data, (unsigned int)o->len);
	rc = uv_write(&o->w, (uv_stream_t *)&c->pipe, &buf, 1, on_written);
	if (rc) {
		free(o);
		return rc;
	}
	return 0;
}

static int send_json(struct rv_client *c, struct json_object *o)
{
	const char *text = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	return text ? send_line(c, text) : -ENOMEM;
}

static struct json_object *error_object(int err, const char *message)
{
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "code",
			       json_object_new_string(rv_api_errno_name(err)));
	json_object_object_add(e, "message", json_object_new_string(message));
	return e;
}

/* An error line outside any request (refusals, oversized lines). */
static void send_error_line(struct rv_client *c, int err, const char *message)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", NULL);
	json_object_object_add(o, "ok", json_object_new_boolean(false));
	json_object_object_add(o, "error", error_object(err, message));
	send_json(c, o);
	json_object_put(o);
}

/* ---------------------------------------------------------------------- */
/* Calls                                                                  */

static void call_finish(struct rv_call *call, struct json_object *reply)
{
	struct rv_client *c = call->client;

	if (c) {
		if (send_json(c, reply))
			rv_debug("client %llu: reply not sent",
				 (unsigned long long)c->id);
		c->pending = NULL;
	}
	json_object_put(reply);
	rv__request_free(&call->req);
	free(call);
	if (c && !c->in_process && !c->closing)
		process(c);
}

static struct json_object *reply_base(const struct rv_call *call, bool ok)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_get(call->req.id));
	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	return o;
}

void rv__call_ok(struct rv_call *call, struct json_object *result)
{
	struct json_object *o = reply_base(call, true);

	json_object_object_add(o, "result",
			       result ? result : json_object_new_object());
	call_finish(call, o);
}

static void call_verr(struct rv_call *call, int err, struct json_object *list,
		      const char *fmt, va_list ap)
{
	struct json_object *o = reply_base(call, false), *e;
	char msg[2048];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	e = error_object(err, msg);
	if (list)
		json_object_object_add(e, "errors", list);
	json_object_object_add(o, "error", e);
	if (call->client)
		rv_debug("client %llu: %s: %s: %s",
			 (unsigned long long)call->client->id,
			 call->req.cmd ? call->req.cmd->name : "?",
			 rv_api_errno_name(err), msg);
	call_finish(call, o);
}

void rv__call_err(struct rv_call *call, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	call_verr(call, err, NULL, fmt, ap);
	va_end(ap);
}

void rv__call_err_list(struct rv_call *call, int err,
		       struct json_object *errors, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	call_verr(call, err, errors, fmt, ap);
	va_end(ap);
}

struct rv_daemon *rv__call_daemon(const struct rv_call *call)
{
	return call->d;
}

const struct rv_request *rv__call_request(const struct rv_call *call)
{
	return &call->req;
}

void rv__call_subscribe(struct rv_call *call)
{
	if (call->client)
		call->client->subscribed = true;
}

/* ---------------------------------------------------------------------- */
/* Input                                                                  */

static void handle_line(struct rv_client *c, const char *line, size_t len)
{
	struct rv_call *call;
	rv_handler_fn fn;
	char msg[512];
	int rc;

	if (rv__request_blank(line, len))
		return;
	call = calloc(1, sizeof(*call));
	if (!call) {
		send_error_line(c, -ENOMEM, "out of memory");
		return;
	}
	call->client = c;
	call->d = c->srv->d;
	c->pending = call;
	rc = rv__request_parse(line, len, c->access, &call->req, msg,
			       sizeof(msg));
	if (rc) {
		rv__call_err(call, rc, "%s", msg);
		return;
	}
	rv_debug("client %llu: %s", (unsigned long long)c->id,
		 call->req.cmd->name);
	fn = rv__handler_find(call->req.cmd);
	if (!fn) {
		rv__call_err(call, -ENOSYS, "%s has no handler",
			     call->req.cmd->name);
		return;
	}
	fn(call);
}

static void too_long(struct rv_client *c)
{
	char msg[160];

	snprintf(msg, sizeof(msg),
		 "the request is longer than %d bytes; closing the connection",
		 RV_API_MAX_LINE);
	rv_warn("client %llu (pid %d): %s", (unsigned long long)c->id,
		(int)c->pid, msg);
	send_error_line(c, -EMSGSIZE, msg);
	client_close(c);
}

/*
 * Handles the complete lines in the input buffer, one request at a time.
 * A handler that answers later leaves c->pending set; its reply calls
 * process() again for the lines that queued up meanwhile.
 */
static void process(struct rv_client *c)
{
	size_t ll;
	int rc;

	c->in_process = true;
	while (!c->pending && !c->closing) {
		size_t avail = c->in_len - c->in_off;

		if (avail == c->in_checked ||
		    !memchr(c->in + c->in_off + c->in_checked, '\n',
			    avail - c->in_checked)) {
			c->in_checked = avail;
			if (avail > RV_API_MAX_LINE)
				too_long(c);
			break;
		}
		c->in_checked = 0;
		rc = rv__request_next_line(c->in + c->in_off, avail, &ll);
		if (rc == 0)
			break;
		if (rc < 0) {
			too_long(c);
			break;
		}
		c->in_off += ll + 1;
		handle_line(c, c->in + c->in_off - ll - 1, ll);
	}
	c->in_process = false;
	if (c->closing)
		return;
	if (c->in_off) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	if (!c->reading && !c->pending && queued(c) < RV_SERVER_OUT_HIGH)
		resume_reading(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct rv_client *c = h->data;
	size_t need = c->in_len + READ_CHUNK;

	(void)suggested;
	if (need > c->in_cap) {
		char *n = realloc(c->in, need);

		if (!n) {
			*buf = uv_buf_init(NULL, 0);
			return;
		}
		c->in = n;
		c->in_cap = need;
	}
	*buf = uv_buf_init(c->in + c->in_len, READ_CHUNK);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct rv_client *c = s->data;

	(void)buf;
	if (n < 0) {
		if (n != UV_EOF)
			rv_debug("client %llu: read: %s",
				 (unsigned long long)c->id,
				 uv_strerror((int)n));
		client_close(c);
		return;
	}
	c->in_len += (size_t)n;
	/*
	 * Stop reading while a request is pending and a whole line's worth
	 * is buffered, or while replies pile up unread: the kernel's socket
	 * buffer then pushes back on the client.
	 */
	if ((c->pending && c->in_len - c->in_off > RV_API_MAX_LINE) ||
	    queued(c) >= RV_SERVER_OUT_HIGH) {
		uv_read_stop(s);
		c->reading = false;
	}
	if (!c->in_process)
		process(c);
}

static void resume_reading(struct rv_client *c)
{
	if (c->closing || c->reading)
		return;
	if (uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read) == 0)
		c->reading = true;
}

/* ---------------------------------------------------------------------- */
/* Clients                                                                */

static void handle_closed(struct rv_server *srv)
{
	if (--srv->handles == 0 && srv->closing)
		free(srv);
}

static void on_client_closed(uv_handle_t *h)
{
	struct rv_client *c = h->data;
	struct rv_server *srv = c->srv;

	free(c->in);
	free(c);
	handle_closed(srv);
}

static void client_close(struct rv_client *c)
{
	struct rv_server *srv = c->srv;

	if (c->closing)
		return;
	c->closing = true;
	if (c->pending)
		c->pending->client = NULL; /* its handler finishes alone */
	c->pending = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nr_clients--;
	rv_debug("client %llu: closed", (unsigned long long)c->id);
	uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

/* True when pid's supplementary groups (/proc/PID/status) contain gid. */
static bool proc_in_group(pid_t pid, gid_t gid)
{
	char path[64], line[4096];
	bool found = false;
	FILE *f;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (strncmp(line, "Groups:", 7))
			continue;
		for (p = line + 7;; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if ((gid_t)g == gid)
				found = true;
		}
		break;
	}
	fclose(f);
	return found;
}

/*
 * Decides a peer's access from its credentials. The pid is only used to
 * read the supplementary groups; a peer that exits and whose pid is reused
 * in between gains nothing, since its uid and primary gid were captured by
 * the kernel at connect().
 */
static int peer_access(struct rv_server *srv, struct rv_client *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	uv_os_fd_t fd;

	if (uv_fileno((uv_handle_t *)&c->pipe, &fd))
		return -EBADF;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return -errno;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	if (cred.uid == 0 || cred.uid == srv->d->uid) {
		c->access = RV_API_CHANGE;
		return 0;
	}
	if (cred.gid == srv->d->sock_gid ||
	    proc_in_group(cred.pid, srv->d->sock_gid)) {
		c->access = RV_API_READ;
		return 0;
	}
	return -EACCES;
}

static void greet(struct rv_client *c)
{
	struct json_object *o = json_object_new_object();
	struct json_object *g = json_object_new_object();
	struct json_object *caps = json_object_new_array();

	json_object_array_add(caps, json_object_new_string("events"));
	if (c->srv->d->sup)
		json_object_array_add(caps, json_object_new_string("vms"));
	json_object_object_add(g, "version",
			       json_object_new_string(RAEVM_VERSION));
	json_object_object_add(g, "protocol",
			       json_object_new_int(RV_API_PROTOCOL));
	json_object_object_add(g, "capabilities", caps);
	json_object_object_add(
		g, "access",
		json_object_new_string(c->access == RV_API_CHANGE ? "full" :
								    "read"));
	json_object_object_add(o, "raevm", g);
	send_json(c, o);
	json_object_put(o);
}

static void on_connection(uv_stream_t *listener, int status)
{
	struct rv_server *srv = listener->data;
	struct rv_client *c;
	char msg[256];
	int rc;

	if (status < 0) {
		rv_warn("control socket: accept: %s", uv_strerror(status));
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->srv = srv;
	c->id = ++srv->next_client_id;
	uv_pipe_init(srv->d->loop, &c->pipe, 0);
	c->pipe.data = c;
	srv->handles++;
	if (uv_accept(listener, (uv_stream_t *)&c->pipe)) {
		c->closing = true;
		uv_close((uv_handle_t *)&c->pipe, on_client_closed);
		return;
	}
	c->next = srv->clients;
	if (c->next)
		c->next->prev = c;
	srv->clients = c;
	srv->nr_clients++;
	rc = peer_access(srv, c);
	if (rc == -EACCES) {
		snprintf(
			msg, sizeof(msg),
			"uid %u may not use raevmd: only root, uid %u and members of group '%s' may connect",
			(unsigned int)c->uid, (unsigned int)srv->d->uid,
			srv->d->sock_group);
		rv_info("client %llu (pid %d, uid %u) refused",
			(unsigned long long)c->id, (int)c->pid,
			(unsigned int)c->uid);
		send_error_line(c, rc, msg);
		client_close(c);
		return;
	}
	if (rc) {
		client_close(c);
		return;
	}
	if (srv->nr_clients > RV_SERVER_MAX_CLIENTS) {
		snprintf(msg, sizeof(msg),
			 "too many clients (the limit is %d); try again later",
			 RV_SERVER_MAX_CLIENTS);
		send_error_line(c, -EAGAIN, msg);
		client_close(c);
		return;
	}
	rv_debug("client %llu: pid %d uid %u, %s access",
		 (unsigned long long)c->id, (int)c->pid, (unsigned int)c->uid,
		 c->access == RV_API_CHANGE ? "full" : "read");
	greet(c);
	resume_reading(c);
}

/* ---------------------------------------------------------------------- */
/* Events                                                                 */

static void timestamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

/* Tells a subscriber that fell behind why it is dropped, if it can. */
static void drop_slow(struct rv_client *c, const char *ts)
{
	char line[512];
	uv_buf_t buf;

	rv_warn("client %llu (pid %d): dropped: it read events too slowly (more than %d bytes unsent)",
		(unsigned long long)c->id, (int)c->pid, RV_SERVER_EVENT_QUEUE);
	snprintf(
		line, sizeof(line),
		"{\"event\":\"events.dropped\",\"data\":{\"reason\":\"the client read events too slowly (more than %d bytes unsent)\"},\"ts\":\"%s\"}\n",
		RV_SERVER_EVENT_QUEUE, ts);
	buf = uv_buf_init(line, (unsigned int)strlen(line));
	/* Best effort: the queue is full, so this may not fit. */
	uv_try_write((uv_stream_t *)&c->pipe, &buf, 1);
	client_close(c);
}

void rv__server_event(struct rv_server *srv, const char *type,
		      struct json_object *data)
{
	struct json_object *o;
	struct rv_client *c, *next;
	const char *text;
	char ts[48];

	if (!srv || srv->closing)
		return;
	timestamp(ts, sizeof(ts));
	o = json_object_new_object();
	if (!o)
		return;
	json_object_object_add(o, "event", json_object_new_string(type));
	json_object_object_add(o, "data", json_object_get(data));
	json_object_object_add(o, "ts", json_object_new_string(ts));
	text = json_object_to_json_string_ext(
		o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	for (c = srv->clients; text && c; c = next) {
		next = c->next;
		if (!c->subscribed || c->closing)
			continue;
		if (queued(c) > RV_SERVER_EVENT_QUEUE)
			drop_slow(c, ts);
		else
			send_line(c, text);
	}
	json_object_put(o);
}

unsigned int rv__server_nr_clients(const struct rv_server *srv)
{
	return srv ? srv->nr_clients : 0;
}

/* ---------------------------------------------------------------------- */
/* The listening socket                                                   */

/* Returns 1 when something accepts connections on path, else 0. */
static int socket_live(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, live;

	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return live;
}

static int take_lock(struct rv_server *srv, const char *path)
{
	if (asprintf(&srv->lock_path, "%s.lock", path) < 0) {
		srv->lock_path = NULL;
		return -ENOMEM;
	}
	srv->lock_fd = open(srv->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (srv->lock_fd < 0) {
		rv_error("cannot open the lock file '%s': %m", srv->lock_path);
		return -errno;
	}
	if (flock(srv->lock_fd, LOCK_EX | LOCK_NB) == 0) {
		srv->locked = true;
	} else {
		int err = errno;

		if (err == EWOULDBLOCK) {
			rv_error("another raevmd is running (it holds '%s')",
				 srv->lock_path);
			return -EBUSY;
		}
		rv_error("cannot lock '%s': %s", srv->lock_path, strerror(err));
		return -err;
	}
	return 0;
}

/* Removes a stale socket file; refuses a live socket or a non-socket. */
static int clear_path(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb)) {
		if (errno == ENOENT)
			return 0;
		rv_error("cannot check '%s': %m", path);
		return -errno;
	}
	if (!S_ISSOCK(sb.st_mode)) {
		rv_error("'%s' exists and is not a socket; not touching it",
			 path);
		return -EEXIST;
	}
	if (socket_live(path)) {
		rv_error("another raevmd is already listening on '%s'", path);
		return -EBUSY;
	}
	rv_info("removing the stale socket '%s'", path);
	if (unlink(path) && errno != ENOENT) {
		rv_error("cannot remove the stale socket '%s': %m", path);
		return -errno;
	}
	return 0;
}

static int bind_socket(struct rv_server *srv, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rv_daemon *d = srv->d;
	mode_t old;
	int fd, rc;

	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* Born 0600 so nobody can connect before the mode is final. */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc) {
		rc = -errno;
		rv_error("cannot bind '%s': %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	if (chown(path, (uid_t)-1, d->sock_gid))
		rv_warn("cannot give '%s' to group '%s': %m", path,
			d->sock_group);
	if (chmod(path, 0660)) {
		rc = -errno;
		rv_error("cannot chmod '%s': %m", path);
		goto err;
	}
	uv_pipe_init(d->loop, &srv->listener, 0);
	srv->listener.data = srv;
	srv->handles++;
	rc = uv_pipe_open(&srv->listener, fd);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&srv->listener, LISTEN_BACKLOG,
			       on_connection);
	srv->listening = true;
	if (rc) {
		rv_error("cannot listen on '%s': %s", path, uv_strerror(rc));
		return rc;
	}
	return 0;
err:
	close(fd);
	unlink(path);
	return rc;
}

int rv__server_create(struct rv_daemon *d, struct rv_server **out)
{
	struct rv_server *srv;
	int rc;

	*out = NULL;
	if (strlen(d->socket_path) >=
	    sizeof(((struct sockaddr_un *)0)->sun_path)) {
		rv_error(
			"the socket path '%s' is too long (the limit is %zu bytes)",
			d->socket_path,
			sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return -ENAMETOOLONG;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->d = d;
	srv->lock_fd = -1;
	rc = take_lock(srv, d->socket_path);
	if (!rc)
		rc = clear_path(d->socket_path);
	if (!rc)
		rc = bind_socket(srv, d->socket_path);
	*out = srv;
	if (rc) {
		rv__server_destroy(srv);
		*out = NULL;
	}
	return rc;
}

static void on_listener_closed(uv_handle_t *h)
{
	handle_closed(h->data);
}

void rv__server_destroy(struct rv_server *srv)
{
	if (!srv)
		return;
	srv->closing = true;
	while (srv->clients)
		client_close(srv->clients);
	if (srv->listening) {
		srv->listening = false;
		unlink(srv->d->socket_path);
		uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
	}
	/* Only the holder removes the lock file, never a rival's. */
	if (srv->locked)
		unlink(srv->lock_path);
	if (srv->lock_fd >= 0)
		close(srv->lock_fd);
	free(srv->lock_path);
	srv->lock_path = NULL;
	srv->lock_fd = -1;
	if (srv->handles == 0)
		free(srv);
}
