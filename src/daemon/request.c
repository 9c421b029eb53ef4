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
 * The strict scanner runs before json-c because json-c keeps the last of
 * two equal keys silently; a request such as {"cmd": "vm.list", "cmd":
 * "vm.delete"} must not mean one thing to a proxy that checked it and
 * another to the daemon.
 */
#include "daemon.h"

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
/* Strict scanner                                                         */

struct key {
	char *s; /* decoded, owned */
	size_t len;
	size_t pos; /* of its opening quote, for messages */
};

struct scan {
	const char *p;
	size_t len;
	size_t pos;
	unsigned int depth;
	const char *what; /* the first problem, or NULL */
	size_t what_pos;
	char dup[96]; /* a duplicate key, quoted for the message */
};

static int fail(struct scan *sc, size_t pos, const char *what)
{
	if (!sc->what) {
		sc->what = what;
		sc->what_pos = pos;
	}
	return -EBADMSG;
}

static void skip_ws(struct scan *sc)
{
	while (sc->pos < sc->len) {
		char c = sc->p[sc->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		sc->pos++;
	}
}

static int peek(const struct scan *sc)
{
	return sc->pos < sc->len ? (unsigned char)sc->p[sc->pos] : -1;
}

/* One \u escape (and its low surrogate) at sc->pos, just past the 'u'. */
static int scan_unicode(struct scan *sc, unsigned int *cp)
{
	unsigned int hi, lo;

	if (sc->len - sc->pos < 4 || rv_hex4_decode(sc->p + sc->pos, &hi))
		return fail(sc, sc->pos, "bad \\u escape");
	sc->pos += 4;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return fail(sc, sc->pos - 6,
			    "lone low surrogate in \\u escape");
	if (hi < 0xd800 || hi > 0xdbff) {
		*cp = hi;
		return 0;
	}
	if (sc->len - sc->pos < 6 || sc->p[sc->pos] != '\\' ||
	    sc->p[sc->pos + 1] != 'u' ||
	    rv_hex4_decode(sc->p + sc->pos + 2, &lo) || lo < 0xdc00 ||
	    lo > 0xdfff)
		return fail(sc, sc->pos, "high surrogate without its low half");
	sc->pos += 6;
	*cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
	return 0;
}

/*
 * A string at sc->pos (on its opening quote). With key set, the decoded
 * bytes are returned in it (owned by the caller). Raw bytes of 0x80 and
 * above are left for json-c's UTF-8 validation.
 */
static int scan_string(struct scan *sc, struct key *key)
{
	char *out = NULL;
	size_t n = 0;

	sc->pos++;
	if (key) {
		/*
		 * Decoding never lengthens a string, so the raw text up to
		 * the closing quote bounds the buffer.
		 */
		size_t i = sc->pos;

		while (i < sc->len && sc->p[i] != '"')
			i += sc->p[i] == '\\' ? 2 : 1;
		out = malloc(i - sc->pos + 4);
		if (!out)
			return -ENOMEM;
		key->s = out;
		key->len = 0;
	}
	for (;;) {
		char tmp[4];
		size_t tn = 0;
		int c = peek(sc);
		unsigned int cp;

		if (c < 0)
			return fail(sc, sc->pos, "unterminated string");
		if (c == '"') {
			sc->pos++;
			break;
		}
		if (c < 0x20)
			return fail(sc, sc->pos,
				    "control character in a string");
		sc->pos++;
		if (c != '\\') {
			tmp[tn++] = (char)c;
		} else {
			c = peek(sc);
			sc->pos++;
			switch (c) {
			case '"':
			case '\\':
			case '/':
				tmp[tn++] = (char)c;
				break;
			case 'b':
				tmp[tn++] = '\b';
				break;
			case 'f':
				tmp[tn++] = '\f';
				break;
			case 'n':
				tmp[tn++] = '\n';
				break;
			case 'r':
				tmp[tn++] = '\r';
				break;
			case 't':
				tmp[tn++] = '\t';
				break;
			case 'u':
				if (scan_unicode(sc, &cp))
					return -EBADMSG;
				if (cp == 0 && key)
					return fail(
						sc, sc->pos - 6,
						"NUL character (\\u0000) in a key");
				tn = rv_utf8_encode(cp, tmp);
				break;
			default:
				return fail(sc, sc->pos - 2, "bad escape");
			}
		}
		if (key) {
			memcpy(out + n, tmp, tn);
			n += tn;
			key->len = n;
		}
	}
	return 0;
}

static int scan_digits(struct scan *sc)
{
	size_t start = sc->pos;

	while (sc->pos < sc->len && sc->p[sc->pos] >= '0' &&
	       sc->p[sc->pos] <= '9')
		sc->pos++;
	return sc->pos > start ? 0 : fail(sc, sc->pos, "malformed number");
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(struct scan *sc)
{
	if (peek(sc) == '-')
		sc->pos++;
	if (peek(sc) == '0')
		sc->pos++;
	else if (scan_digits(sc))
		return -EBADMSG;
	if (peek(sc) == '.') {
		sc->pos++;
		if (scan_digits(sc))
			return -EBADMSG;
	}
	if (peek(sc) == 'e' || peek(sc) == 'E') {
		sc->pos++;
		if (peek(sc) == '+' || peek(sc) == '-')
			sc->pos++;
		if (scan_digits(sc))
			return -EBADMSG;
	}
	return 0;
}

static int scan_literal(struct scan *sc)
{
	static const char *const words[] = { "true", "false", "null" };
	size_t i;

	for (i = 0; i < RV_ARRAY_SIZE(words); i++) {
		size_t n = strlen(words[i]);

		if (sc->len - sc->pos >= n &&
		    memcmp(sc->p + sc->pos, words[i], n) == 0) {
			sc->pos += n;
			return 0;
		}
	}
	return fail(sc, sc->pos, "unexpected character");
}

static int key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);

	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/*
 * Sorts the keys of one object and reports a key given twice at its second
 * use.
 */
static int check_dups(struct scan *sc, struct key *keys, size_t n)
{
	size_t i;

	if (n < 2)
		return 0;
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (i = 1; i < n; i++) {
		if (key_cmp(&keys[i - 1], &keys[i]) == 0) {
			char q[64];

			rv_manifest_quote(keys[i].s, keys[i].len, 40, q,
					  sizeof(q));
			snprintf(sc->dup, sizeof(sc->dup),
				 "duplicate key \"%s\"", q);
			return fail(sc,
				    keys[i].pos > keys[i - 1].pos ?
					    keys[i].pos :
					    keys[i - 1].pos,
				    sc->dup);
		}
	}
	return 0;
}

static int scan_value(struct scan *sc);

static int scan_object(struct scan *sc)
{
	struct key *keys = NULL;
	size_t n = 0, cap = 0, i;
	int rc = 0;

	sc->pos++;
	skip_ws(sc);
	if (peek(sc) == '}') {
		sc->pos++;
		return 0;
	}
	for (;;) {
		if (peek(sc) != '"') {
			rc = fail(sc, sc->pos, "keys must be in double quotes");
			break;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct key *nk = realloc(keys, ncap * sizeof(*nk));

			if (!nk) {
				rc = -ENOMEM;
				break;
			}
			keys = nk;
			cap = ncap;
		}
		keys[n].s = NULL;
		keys[n].pos = sc->pos;
		rc = scan_string(sc, &keys[n]);
		n++;
		if (rc)
			break;
		skip_ws(sc);
		if (peek(sc) != ':') {
			rc = fail(sc, sc->pos,
				  peek(sc) < 0 ? "unexpected end of data" :
						 "expected ':' after a key");
			break;
		}
		sc->pos++;
		skip_ws(sc);
		rc = scan_value(sc);
		if (rc)
			break;
		skip_ws(sc);
		if (peek(sc) == ',') {
			sc->pos++;
			skip_ws(sc);
			continue;
		}
		if (peek(sc) == '}') {
			sc->pos++;
			break;
		}
		rc = fail(sc, sc->pos,
			  peek(sc) < 0 ? "unexpected end of data" :
					 "expected ',' or '}'");
		break;
	}
	if (rc == 0)
		rc = check_dups(sc, keys, n);
	for (i = 0; i < n; i++)
		free(keys[i].s);
	free(keys);
	return rc;
}

static int scan_array(struct scan *sc)
{
	int rc;

	sc->pos++;
	skip_ws(sc);
	if (peek(sc) == ']') {
		sc->pos++;
		return 0;
	}
	for (;;) {
		rc = scan_value(sc);
		if (rc)
			return rc;
		skip_ws(sc);
		if (peek(sc) == ',') {
			sc->pos++;
			skip_ws(sc);
			continue;
		}
		if (peek(sc) == ']') {
			sc->pos++;
			return 0;
		}
		return fail(sc, sc->pos,
			    peek(sc) < 0 ? "unexpected end of data" :
					   "expected ',' or ']'");
	}
}

static int scan_value(struct scan *sc)
{
	int c = peek(sc);
	int rc;

	if (c == '{' || c == '[') {
		if (sc->depth >= RV_REQUEST_MAX_DEPTH)
			return fail(sc, sc->pos, "nesting too deep");
		sc->depth++;
		rc = c == '{' ? scan_object(sc) : scan_array(sc);
		sc->depth--;
		return rc;
	}
	if (c == '"')
		return scan_string(sc, NULL);
	if (c == '-' || (c >= '0' && c <= '9'))
		return scan_number(sc);
	if (c < 0)
		return fail(sc, sc->pos, "unexpected end of data");
	return scan_literal(sc);
}

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
	struct scan sc = { .p = line, .len = len };
	const char *nul = memchr(line, '\0', len);
	int rc;

	if (nul) {
		snprintf(msg, size, "invalid JSON at column %zu: NUL byte",
			 column(line, (size_t)(nul - line)));
		return -EBADMSG;
	}
	skip_ws(&sc);
	rc = scan_value(&sc);
	if (rc == 0) {
		skip_ws(&sc);
		if (sc.pos != sc.len)
			rc = fail(&sc, sc.pos,
				  "unexpected text after the request");
	}
	if (rc == -EBADMSG)
		snprintf(msg, size, "invalid JSON at column %zu: %s",
			 column(line, sc.what_pos), sc.what);
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

static bool type_ok(struct json_object *v, enum rv_api_arg_type t)
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
		if (!type_ok(val, a->type))
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
