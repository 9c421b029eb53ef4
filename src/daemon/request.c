// SPDX-License-Identifier: Apache-2.0
/*
 * The control protocol's request parser: line framing, strict JSON and the
 * checks of a request against api.h's command table. A request line comes
 * from any local process that may connect, so it is hostile: its length is
 * capped by the framing, its nesting by the scanner, and every field is
 * checked for presence and type before a handler sees it. Nothing here
 * touches a socket, so tests/fuzz/fuzz_request.c drives it over plain
 * buffers.
 *
 * The strict scanner (raevm/jscan.h) runs before json-c, which keeps the
 * last of two equal keys silently.
 */
#include "daemon.h"

#include "raevm/jscan.h"
#include "raevm/manifest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rv__request_next_line(const char *buf, size_t len, size_t *line_len)
{
	size_t scan = len < (size_t)RV_API_MAX_LINE + 1 ?
			      len :
			      (size_t)RV_API_MAX_LINE + 1;
	const char *nl = memchr(buf, '\n', scan);

	if (nl) {
		*line_len = (size_t)(nl - buf);
		return 1;
	}
	if (len > RV_API_MAX_LINE)
		return -EMSGSIZE;
	return 0;
}

bool rv__request_blank(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return false;
	return true;
}

/* ---------------------------------------------------------------------- */
/* Strict scanner (raevm/jscan.h)                                         */

/* The first problem of one line. */
struct scan_report {
	char what[96];
	size_t pos;
};

static void on_syntax(void *opaque, size_t off, const char *what)
{
	struct scan_report *r = opaque;

	snprintf(r->what, sizeof(r->what), "%s", what);
	r->pos = off;
}

/* The first repeated key ends the scan: a request is judged whole. */
static int on_dup_key(void *opaque, const char *path, const char *key,
		      size_t key_len, size_t off, size_t first_off)
{
	struct scan_report *r = opaque;
	char q[64];

	(void)path;
	(void)first_off;
	snprintf(r->what, sizeof(r->what), "duplicate key \"%s\"",
		 rv_manifest_quote(key, key_len, 40, q, sizeof(q)));
	r->pos = off;
	return 1;
}

static const struct rv_jscan_ops scan_ops = {
	.syntax = on_syntax,
	.dup_key = on_dup_key,
};

/* Column (from 1, in UTF-8 characters) of byte offset off in the line. */
static size_t column(const char *p, size_t off)
{
	size_t i, col = 1;

	for (i = 0; i < off; i++)
		if (((unsigned char)p[i] & 0xc0) != 0x80)
			col++;
	return col;
}

static int scan_line(const char *line, size_t len, char *msg, size_t size)
{
	struct scan_report r = { .what = "" };
	const char *nul = memchr(line, '\0', len);
	size_t end;
	int rc;

	if (nul) {
		snprintf(msg, size, "invalid JSON at column %zu: NUL byte",
			 column(line, (size_t)(nul - line)));
		return -EBADMSG;
	}
	rc = rv_jscan(line, len, 0, RV_REQUEST_MAX_DEPTH, &scan_ops, &r, &end);
	if (rc == 0 && end != len) {
		on_syntax(&r, end, "unexpected text after the request");
		rc = -EBADMSG;
	}
	if (rc == -EBADMSG)
		snprintf(msg, size, "invalid JSON at column %zu: %s",
			 column(line, r.pos), r.what);
	else if (rc == -ENOMEM)
		snprintf(msg, size, "out of memory");
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Request checks                                                         */

static int msgf(char *msg, size_t size, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int msgf(char *msg, size_t size, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, size, fmt, ap);
	va_end(ap);
	return err;
}

/* A short, printable rendering of a value for "got ..." in messages. */
static const char *describe(struct json_object *v, char *buf, size_t size)
{
	const char *s;

	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return json_object_get_boolean(v) ? "true" : "false";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		/* Quoted in place: "..." around the escaped text. */
		s = json_object_get_string(v);
		buf[0] = '"';
		rv_manifest_quote(s, (size_t)json_object_get_string_len(v), 40,
				  buf + 1, size - 2);
		strcat(buf, "\"");
		return buf;
	default:
		s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		rv_manifest_quote(s, strlen(s), 40, buf, size);
		return buf;
	}
}

static const char *type_phrase(enum rv_api_arg_type t)
{
	switch (t) {
	case RV_API_STRING:
		return "a string";
	case RV_API_INT:
		return "an integer";
	case RV_API_BOOL:
		return "true or false";
	case RV_API_OBJECT:
		return "an object";
	case RV_API_ARRAY:
		return "an array";
	}
	return "a value";
}

bool rv__request_type_ok(struct json_object *v, enum rv_api_arg_type t)
{
	switch (t) {
	case RV_API_STRING:
		return json_object_is_type(v, json_type_string);
	case RV_API_INT:
		return json_object_is_type(v, json_type_int);
	case RV_API_BOOL:
		return json_object_is_type(v, json_type_boolean);
	case RV_API_OBJECT:
		return json_object_is_type(v, json_type_object);
	case RV_API_ARRAY:
		return json_object_is_type(v, json_type_array);
	}
	return false;
}

static const struct rv_api_arg *find_arg(const struct rv_api_cmd *cmd,
					 const char *name)
{
	const struct rv_api_arg *a;

	for (a = cmd->args; a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

static int unknown_arg(const struct rv_api_cmd *cmd, const char *key, char *msg,
		       size_t size)
{
	const char *names[32];
	const struct rv_api_arg *a;
	const char *hint;
	char q[64];
	size_t n = 0;

	rv_manifest_quote(key, strlen(key), 40, q, sizeof(q));
	if (!cmd->args[0].name)
		return msgf(msg, size, -EINVAL,
			    "args[\"%s\"]: %s takes no arguments", q,
			    cmd->name);
	for (a = cmd->args; a->name && n < RV_ARRAY_SIZE(names); a++)
		names[n++] = a->name;
	hint = rv_manifest_suggest(key, names, n);
	if (hint)
		return msgf(
			msg, size, -EINVAL,
			"args[\"%s\"]: unknown argument of %s (did you mean \"%s\"?)",
			q, cmd->name, hint);
	return msgf(msg, size, -EINVAL, "args[\"%s\"]: unknown argument of %s",
		    q, cmd->name);
}

static int check_args(struct rv_request *req, char *msg, size_t size)
{
	const struct rv_api_cmd *cmd = req->cmd;
	const struct rv_api_arg *a;
	char buf[64];

	json_object_object_foreach(req->args, key, val)
	{
		a = find_arg(cmd, key);
		if (!a)
			return unknown_arg(cmd, key, msg, size);
		if (!rv__request_type_ok(val, a->type))
			return msgf(msg, size, -EINVAL,
				    "args.%s: expected %s, got %s", a->name,
				    type_phrase(a->type),
				    describe(val, buf, sizeof(buf)));
		if (a->type == RV_API_STRING &&
		    strlen(json_object_get_string(val)) !=
			    (size_t)json_object_get_string_len(val))
			return msgf(
				msg, size, -EINVAL,
				"args.%s: contains a NUL character (\\u0000)",
				a->name);
	}
	for (a = cmd->args; a->name; a++)
		if (a->required &&
		    !json_object_object_get_ex(req->args, a->name, NULL))
			return msgf(msg, size, -EINVAL, "args.%s: missing (%s)",
				    a->name, a->help);
	return 0;
}

static int check_cmd(struct rv_request *req, struct json_object *cmd, char *msg,
		     size_t size)
{
	const char *names[64];
	const char *name, *hint;
	char q[64], buf[64];
	size_t i;

	if (!cmd)
		return msgf(
			msg, size, -EINVAL,
			"missing \"cmd\" (the command to run, e.g. \"vm.list\")");
	if (!json_object_is_type(cmd, json_type_string))
		return msgf(msg, size, -EINVAL,
			    "\"cmd\": expected a string, got %s",
			    describe(cmd, buf, sizeof(buf)));
	name = json_object_get_string(cmd);
	req->cmd = rv_api_find(name);
	if (req->cmd && strlen(name) == (size_t)json_object_get_string_len(cmd))
		return 0;
	req->cmd = NULL;
	rv_manifest_quote(name, (size_t)json_object_get_string_len(cmd), 40, q,
			  sizeof(q));
	for (i = 0; i < rv_api_nr_cmds && i < RV_ARRAY_SIZE(names); i++)
		names[i] = rv_api_cmds[i].name;
	hint = rv_manifest_suggest(name, names, i);
	if (hint)
		return msgf(msg, size, -ENOSYS,
			    "unknown command \"%s\" (did you mean \"%s\"?)", q,
			    hint);
	return msgf(msg, size, -ENOSYS, "unknown command \"%s\"", q);
}

static int check_request(struct rv_request *req, enum rv_api_access access,
			 char *msg, size_t size)
{
	struct json_object *root = req->root, *id = NULL, *cmd = NULL;
	struct json_object *args = NULL;
	char q[64], buf[64];
	int rc;

	if (!json_object_is_type(root, json_type_object))
		return msgf(
			msg, size, -EINVAL,
			"a request is a JSON object such as {\"id\": 1, \"cmd\": \"vm.list\"}, got %s",
			describe(root, buf, sizeof(buf)));
	if (!json_object_object_get_ex(root, "id", &id))
		return msgf(
			msg, size, -EINVAL,
			"missing \"id\" (every request needs one; its reply echoes it)");
	if (!id || json_object_is_type(id, json_type_object) ||
	    json_object_is_type(id, json_type_array))
		return msgf(
			msg, size, -EINVAL,
			"\"id\": expected a number, a string or a boolean, got %s",
			describe(id, buf, sizeof(buf)));
	req->id = id;
	json_object_object_foreach(root, key, val)
	{
		(void)val;
		if (strcmp(key, "id") && strcmp(key, "cmd") &&
		    strcmp(key, "args")) {
			rv_manifest_quote(key, strlen(key), 40, q, sizeof(q));
			return msgf(
				msg, size, -EINVAL,
				"unknown key \"%s\" in the request (known: id, cmd, args)",
				q);
		}
	}
	json_object_object_get_ex(root, "cmd", &cmd);
	rc = check_cmd(req, cmd, msg, size);
	if (rc)
		return rc;
	if (req->cmd->access == RV_API_CHANGE && access != RV_API_CHANGE)
		return msgf(
			msg, size, -EACCES,
			"%s changes things: only root and the daemon's user may run it (you have read-only access)",
			req->cmd->name);
	if (json_object_object_get_ex(root, "args", &args)) {
		if (!json_object_is_type(args, json_type_object))
			return msgf(msg, size, -EINVAL,
				    "\"args\": expected an object, got %s",
				    describe(args, buf, sizeof(buf)));
		req->args = args;
	} else {
		req->args = json_object_new_object();
		if (!req->args)
			return msgf(msg, size, -ENOMEM, "out of memory");
		req->args_owned = true;
	}
	return check_args(req, msg, size);
}

int rv__request_parse(const char *line, size_t len, enum rv_api_access access,
		      struct rv_request *req, char *msg, size_t msg_size)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	char *buf;
	int rc;

	memset(req, 0, sizeof(*req));
	msg[0] = '\0';
	if (len > RV_API_MAX_LINE)
		return msgf(msg, msg_size, -EMSGSIZE,
			    "the request is longer than %d bytes",
			    RV_API_MAX_LINE);
	rc = scan_line(line, len, msg, msg_size);
	if (rc)
		return rc;
	/* json-c needs the NUL to finish a top-level scalar. */
	buf = malloc(len + 1);
	if (!buf)
		return msgf(msg, msg_size, -ENOMEM, "out of memory");
	memcpy(buf, line, len);
	buf[len] = '\0';
	tok = json_tokener_new_ex(RV_REQUEST_MAX_DEPTH + 1);
	if (!tok) {
		free(buf);
		return msgf(msg, msg_size, -ENOMEM, "out of memory");
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					    JSON_TOKENER_VALIDATE_UTF8);
	req->root = json_tokener_parse_ex(tok, buf, (int)(len + 1));
	jerr = json_tokener_get_error(tok);
	if (jerr != json_tokener_success) {
		rc = msgf(msg, msg_size, -EBADMSG,
			  "invalid JSON at column %zu: %s",
			  column(line, json_tokener_get_parse_end(tok)),
			  json_tokener_error_desc(jerr));
		json_object_put(req->root);
		req->root = NULL;
	}
	json_tokener_free(tok);
	free(buf);
	if (rc)
		return rc;
	return check_request(req, access, msg, msg_size);
}

void rv__request_free(struct rv_request *req)
{
	if (!req)
		return;
	if (req->args_owned)
		json_object_put(req->args);
	json_object_put(req->root);
	memset(req, 0, sizeof(*req));
}

struct json_object *rv__request_arg(const struct rv_request *req,
				    const char *name)
{
	struct json_object *v = NULL;

	if (!req->args || !json_object_object_get_ex(req->args, name, &v))
		return NULL;
	return v;
}

const char *rv__request_str(const struct rv_request *req, const char *name)
{
	struct json_object *v = rv__request_arg(req, name);

	return v && json_object_is_type(v, json_type_string) ?
		       json_object_get_string(v) :
		       NULL;
}

bool rv__request_bool(const struct rv_request *req, const char *name, bool dflt)
{
	struct json_object *v = rv__request_arg(req, name);

	return v && json_object_is_type(v, json_type_boolean) ?
		       json_object_get_boolean(v) :
		       dflt;
}

bool rv__request_int(const struct rv_request *req, const char *name,
		     int64_t *out)
{
	struct json_object *v = rv__request_arg(req, name);

	if (!v || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}
