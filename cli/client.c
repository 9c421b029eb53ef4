// SPDX-License-Identifier: Apache-2.0
/*
 * The client side of the control protocol (include/raevm/api.h): find the
 * socket, connect, check the greeting, send one request and wait for the
 * reply with its id. Replies and events arrive as lines of JSON; a line is
 * bounded (RV_CLI_MAX_LINE) so a runaway daemon cannot exhaust our memory.
 */
#include "cli.h"

#include "raevm/log.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/*
 * Replies can be larger than requests (RV_API_MAX_LINE bounds what the
 * daemon accepts): `logs` returns the scrollback in one line.
 */
#define RV_CLI_MAX_LINE (16 * 1024 * 1024)
#define READ_CHUNK 65536

static int copy_path(char *dst, const char *src, const char *what)
{
	size_t len = strlen(src);

	if (len >= RV_CLI_SOCKET_MAX) {
		rv_error("%s: too long for a Unix socket (%zu bytes; the limit "
			 "is %d)",
			 what, len, RV_CLI_SOCKET_MAX - 1);
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, len + 1);
	return 0;
}

int rv_cli_socket_pick(const char *flag, const char *env, const char *xdg,
		       uid_t uid, struct rv_cli_socket *out)
{
	char user[RV_CLI_SOCKET_MAX + 32];

	memset(out, 0, sizeof(*out));
	if (flag || (env && env[0])) {
		out->explicit = true;
		return copy_path(out->path, flag ? flag : env,
				 flag ? "--socket" : "RAEVM_SOCKET");
	}
	memcpy(out->path, RV_CLI_SYSTEM_SOCKET, sizeof(RV_CLI_SYSTEM_SOCKET));
	/* Root talks to the system daemon; so does anyone without a runtime dir. */
	if (uid == 0 || !xdg || xdg[0] != '/')
		return 0;
	snprintf(user, sizeof(user), "%s/%s", xdg, RV_CLI_USER_SOCKET);
	if (strlen(user) >= RV_CLI_SOCKET_MAX)
		return 0;
	/*
	 * A rootless daemon of one's own wins when it runs; otherwise a member
	 * of the raevm group reaches the system daemon. Both are named when
	 * neither answers.
	 */
	if (access(user, F_OK) == 0)
		memcpy(out->path, user, strlen(user) + 1);
	else
		memcpy(out->alt, user, strlen(user) + 1);
	return 0;
}

int rv_cli_report_connect_error(const struct rv_cli_socket *sock, int err)
{
	char p[RV_CLI_SOCKET_MAX * 4], a[RV_CLI_SOCKET_MAX * 4];
	char start[RV_CLI_SOCKET_MAX * 4 + 64];

	rv_cli_sanitize(sock->path, p, sizeof(p));
	rv_cli_sanitize(sock->alt, a, sizeof(a));
	if (sock->explicit)
		snprintf(start, sizeof(start), "raevmd daemon --socket %s", p);
	else
		snprintf(start, sizeof(start), "systemctl start raevmd");
	switch (-err) {
	case ENOENT:
	case ENOTDIR:
		rv_error("the raevm daemon is not running (no socket at "
			 "%s%s%s); start it with: %s",
			 a, a[0] ? " or " : "", p, start);
		return RV_CLI_EXIT_NO_DAEMON;
	case ECONNREFUSED:
		rv_error("the raevm daemon is not running (nothing listens on "
			 "%s); start it with: %s",
			 p, start);
		return RV_CLI_EXIT_NO_DAEMON;
	case ECONNRESET:
		rv_error("the daemon at %s closed the connection", p);
		return RV_CLI_EXIT_NO_DAEMON;
	case EACCES:
	case EPERM:
		rv_error("permission denied on %s (run as root, or join the "
			 "daemon's group, 'raevm')",
			 p);
		return RV_CLI_EXIT_DENIED;
	case EKEYREJECTED:
		return RV_CLI_EXIT_DENIED; /* rv_cli_connect() said why */
	case EPROTO:
		return RV_CLI_EXIT_ERROR; /* rv_cli_connect() said why */
	case ETIMEDOUT:
		rv_error("the daemon at %s did not greet within %d s", p,
			 RV_CLI_GREETING_TIMEOUT_MS / 1000);
		return RV_CLI_EXIT_ERROR;
	default:
		rv_error("cannot connect to %s: %s", p, strerror(-err));
		return RV_CLI_EXIT_ERROR;
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is readable or the deadline (-1: none) passes. */
static int wait_readable(struct rv_cli_conn *conn, int64_t deadline)
{
	struct pollfd pfd = { .fd = conn->fd, .events = POLLIN };
	struct timespec ts, *tsp = NULL;
	int64_t left;
	int r;

	for (;;) {
		if (deadline >= 0) {
			left = deadline - now_ms();
			if (left < 0)
				left = 0;
			ts.tv_sec = left / 1000;
			ts.tv_nsec = (left % 1000) * 1000000;
			tsp = &ts;
		}
		r = ppoll(&pfd, 1, tsp, conn->wait_mask);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
		if (conn->wait_mask)
			return -EINTR;
	}
}

int rv_cli_read_line(struct rv_cli_conn *conn, int timeout_ms, char **line,
		     size_t *len)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	size_t scanned = 0;
	char *nl;
	ssize_t n;
	int r;

	if (conn->consumed) {
		memmove(conn->buf, conn->buf + conn->consumed,
			conn->len - conn->consumed);
		conn->len -= conn->consumed;
		conn->consumed = 0;
	}
	for (;;) {
		nl = conn->len > scanned ? memchr(conn->buf + scanned, '\n',
						  conn->len - scanned) :
					   NULL;
		if (nl) {
			*nl = '\0';
			*line = conn->buf;
			*len = (size_t)(nl - conn->buf);
			conn->consumed = *len + 1;
			return 0;
		}
		scanned = conn->len;
		if (conn->len > RV_CLI_MAX_LINE)
			return -EMSGSIZE;
		if (conn->cap - conn->len < READ_CHUNK + 1) {
			size_t cap = conn->cap ? conn->cap * 2 : READ_CHUNK * 2;
			char *b = realloc(conn->buf, cap);

			if (!b)
				return -ENOMEM;
			conn->buf = b;
			conn->cap = cap;
		}
		r = wait_readable(conn, deadline);
		if (r < 0)
			return r;
		n = read(conn->fd, conn->buf + conn->len, READ_CHUNK);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		conn->len += (size_t)n;
	}
}

static int send_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Parses a line as a JSON object; NULL for anything else. */
static struct json_object *parse_object(const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (o && (json_tokener_get_error(tok) != json_tokener_success ||
		  !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/*
 * A daemon that will not serve this peer (SO_PEERCRED: not root, not its
 * owner, not in its group; or too many clients) sends an error instead of
 * the greeting. Says why and returns -EKEYREJECTED for a refused user or
 * -EPROTO otherwise; msg is released.
 */
static int refused_greeting(struct json_object *msg, struct json_object *err)
{
	struct json_object *code = NULL, *text = NULL;
	char b[512];
	int r;

	json_object_object_get_ex(err, "code", &code);
	json_object_object_get_ex(err, "message", &text);
	rv_error("%s",
		 rv_cli_sanitize(text ? json_object_get_string(text) :
					"the daemon refused the connection",
				 b, sizeof(b)));
	r = rv_cli_exit_status(json_object_get_string(code)) ==
			    RV_CLI_EXIT_DENIED ?
		    -EKEYREJECTED :
		    -EPROTO;
	json_object_put(msg);
	return r;
}

static int check_greeting(struct rv_cli_conn *conn, const char *path,
			  int timeout_ms)
{
	struct json_object *msg, *g, *proto;
	char p[RV_CLI_SOCKET_MAX * 4];
	char *line;
	size_t len;
	int r, version;

	r = rv_cli_read_line(conn, timeout_ms, &line, &len);
	if (r == -EMSGSIZE)
		r = -EPROTO;
	if (r < 0 && r != -EPROTO)
		return r;
	rv_cli_sanitize(path, p, sizeof(p));
	msg = r == 0 ? parse_object(line, len) : NULL;
	if (msg && json_object_object_get_ex(msg, "error", &g))
		return refused_greeting(msg, g);
	if (!msg || !json_object_object_get_ex(msg, "raevm", &g) ||
	    !json_object_is_type(g, json_type_object)) {
		json_object_put(msg);
		rv_error("%s is not a raevm daemon's socket (unexpected "
			 "greeting)",
			 p);
		return -EPROTO;
	}
	if (!json_object_object_get_ex(g, "protocol", &proto) ||
	    !json_object_is_type(proto, json_type_int)) {
		json_object_put(msg);
		rv_error("the daemon at %s did not say its protocol version",
			 p);
		return -EPROTO;
	}
	version = json_object_get_int(proto);
	if (version != RV_API_PROTOCOL) {
		json_object_put(msg);
		rv_error("the daemon at %s speaks protocol %d and this raevm "
			 "speaks %d (install matching raevm and raevmd)",
			 p, version, RV_API_PROTOCOL);
		return -EPROTO;
	}
	conn->greeting = json_object_get(g);
	json_object_put(msg);
	return 0;
}

int rv_cli_connect(const char *path, int timeout_ms, struct rv_cli_conn **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rv_cli_conn *conn;
	int r;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	conn = calloc(1, sizeof(*conn));
	if (!conn)
		return -ENOMEM;
	conn->next_id = 1;
	conn->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (conn->fd < 0) {
		r = -errno;
		goto err;
	}
	if (connect(conn->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto err;
	}
	r = check_greeting(conn, path, timeout_ms);
	if (r < 0)
		goto err;
	*out = conn;
	return 0;
err:
	rv_cli_close(conn);
	return r;
}

void rv_cli_close(struct rv_cli_conn *conn)
{
	if (!conn)
		return;
	if (conn->fd >= 0)
		close(conn->fd);
	json_object_put(conn->greeting);
	free(conn->buf);
	free(conn);
}

int rv_cli_request(struct rv_cli_conn *conn, const char *cmd,
		   struct json_object *args, int timeout_ms,
		   struct json_object **reply)
{
	struct json_object *req, *msg, *id, *ok;
	const char *text;
	char *line, *wire;
	size_t len;
	int r, my_id = conn->next_id++;

	*reply = NULL;
	req = json_object_new_object();
	if (!req)
		return -ENOMEM;
	json_object_object_add(req, "id", json_object_new_int(my_id));
	json_object_object_add(req, "cmd", json_object_new_string(cmd));
	json_object_object_add(req, "args",
			       args ? json_object_get(args) :
				      json_object_new_object());
	text = json_object_to_json_string_ext(
		req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text || asprintf(&wire, "%s\n", text) < 0) {
		json_object_put(req);
		return -ENOMEM;
	}
	json_object_put(req);
	r = send_all(conn->fd, wire, strlen(wire));
	free(wire);
	if (r == -EPIPE)
		r = -ECONNRESET;
	if (r < 0)
		return r;

	for (;;) {
		r = rv_cli_read_line(conn, timeout_ms, &line, &len);
		if (r < 0)
			return r;
		msg = parse_object(line, len);
		if (!msg) {
			rv_error("the daemon sent a line that is not a JSON "
				 "object");
			return -EPROTO;
		}
		/*
		 * Events and other ids are not our reply. An error with a
		 * null id is: the daemon could not read the request's id,
		 * and a connection carries one request at a time.
		 */
		if (json_object_object_get_ex(msg, "event", NULL) ||
		    !json_object_object_get_ex(msg, "id", &id) ||
		    (id && (!json_object_is_type(id, json_type_int) ||
			    json_object_get_int(id) != my_id))) {
			json_object_put(msg);
			continue;
		}
		if (!json_object_object_get_ex(msg, "ok", &ok) ||
		    !json_object_is_type(ok, json_type_boolean)) {
			json_object_put(msg);
			rv_error("the daemon's reply has no \"ok\"");
			return -EPROTO;
		}
		*reply = msg;
		return 0;
	}
}
