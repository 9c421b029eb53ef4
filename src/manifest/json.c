// SPDX-License-Identifier: Apache-2.0
/*
 * Steps 1 to 3 of the manifest parser (manifest.c has the overview): raw
 * byte checks, json-c, and the strict scanner that rejects what json-c lets
 * through and reports duplicate keys. Nothing here knows any field.
 */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#define PATH_LEN RV__MANIFEST_PATH_LEN

static void perr(struct rv__manifest_parse *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void perr(struct rv__manifest_parse *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rv__manifest_verr(ps, fmt, ap);
	va_end(ap);
}

/*
 * Line and column (both from 1) of byte offset off. Columns count UTF-8
 * characters, not bytes, and the byte order mark does not count.
 */
static void line_col(const struct rv__manifest_parse *ps, size_t off,
		     size_t *line, size_t *col)
{
	size_t i, l = 1, c = 1;

	if (off > ps->len)
		off = ps->len;
	for (i = ps->bom; i < off; i++) {
		unsigned char ch = (unsigned char)ps->text[i];

		if (ch == '\n') {
			l++;
			c = 1;
		} else if ((ch & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

static void syntax_error(struct rv__manifest_parse *ps, size_t off,
			 const char *what)
{
	size_t line, col;

	line_col(ps, off, &line, &col);
	perr(ps, "line %zu, column %zu: invalid JSON: %s", line, col, what);
}

/* ---------------------------------------------------------------------- */
/* Strict scanner: what json-c lets through                               */

struct scan_key {
	char *s; /* decoded bytes, owned */
	size_t len;
	size_t off;	  /* offset of the opening quote */
	size_t first_off; /* offset of the first use of a duplicated key */
	bool dup;
};

struct scan_frame {
	bool is_object;
	size_t index;		    /* array: the element being scanned */
	const struct scan_key *key; /* object: the member being scanned */
	struct scan_key *keys;
	size_t nr_keys;
	size_t cap_keys;
};

struct scan {
	struct rv__manifest_parse *ps;
	const char *p;
	size_t len;
	size_t pos;
	unsigned int depth;
	bool stop; /* a syntax error was reported */
	struct scan_frame frames[RV_MANIFEST_MAX_DEPTH];
};

static int scan_value(struct scan *sc);

static int scan_fail(struct scan *sc, size_t off, const char *what)
{
	syntax_error(sc->ps, off, what);
	sc->stop = true;
	return -EINVAL;
}

static void scan_ws(struct scan *sc)
{
	while (sc->pos < sc->len) {
		char c = sc->p[sc->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		sc->pos++;
	}
}

static int scan_peek(const struct scan *sc)
{
	return sc->pos < sc->len ? (unsigned char)sc->p[sc->pos] : -1;
}

/* The JSON path of the value being scanned, for duplicate-key messages. */
static void scan_path(const struct scan *sc, unsigned int depth, char *buf,
		      size_t size)
{
	unsigned int d;

	buf[0] = '\0';
	for (d = 0; d < depth; d++) {
		const struct scan_frame *f = &sc->frames[d];

		if (f->is_object && f->key)
			rv__manifest_path_add_key(buf, size, f->key->s,
						  f->key->len);
		else if (!f->is_object)
			rv__manifest_appendf(buf, size, "[%zu]", f->index);
	}
}

static int buf_put(char **buf, size_t *len, size_t *cap, const char *src,
		   size_t n)
{
	if (*len + n > *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		char *nbuf;

		while (ncap < *len + n)
			ncap *= 2;
		nbuf = realloc(*buf, ncap);
		if (!nbuf)
			return -ENOMEM;
		*buf = nbuf;
		*cap = ncap;
	}
	memcpy(*buf + *len, src, n);
	*len += n;
	return 0;
}

/* Reads the \\uXXXX escape at sc->pos (on the 'u') into a code point. */
static int scan_unicode(struct scan *sc, size_t start, unsigned int *cp)
{
	unsigned int hi, lo;

	if (sc->len - sc->pos < 5 || rv_hex4_decode(sc->p + sc->pos + 1, &hi))
		return scan_fail(sc, start, "bad \\u escape in a string");
	sc->pos += 5;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return scan_fail(sc, start, "unpaired UTF-16 surrogate escape");
	if (hi >= 0xd800 && hi <= 0xdbff) {
		if (sc->len - sc->pos < 6 || sc->p[sc->pos] != '\\' ||
		    sc->p[sc->pos + 1] != 'u' ||
		    rv_hex4_decode(sc->p + sc->pos + 2, &lo) || lo < 0xdc00 ||
		    lo > 0xdfff)
			return scan_fail(sc, start,
					 "unpaired UTF-16 surrogate escape");
		sc->pos += 6;
		hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
	}
	*cp = hi;
	return 0;
}

/*
 * Decodes the escape at sc->pos (on the backslash) into enc, advancing past
 * it. Sets *is_nul when it spells U+0000.
 */
static int scan_escape(struct scan *sc, char *enc, size_t *n, bool *is_nul)
{
	static const char from[] = "\"\\/bfnrt";
	static const char to[] = "\"\\/\b\f\n\r\t";
	size_t start = sc->pos;
	const char *hit;
	unsigned int cp;
	int c, rc;

	*is_nul = false;
	c = sc->pos + 1 < sc->len ? (unsigned char)sc->p[sc->pos + 1] : -1;
	if (c == 'u') {
		sc->pos++;
		rc = scan_unicode(sc, start, &cp);
		if (rc)
			return rc;
		*is_nul = cp == 0;
		*n = rv_utf8_encode(cp, enc);
		return 0;
	}
	hit = c > 0 ? strchr(from, c) : NULL;
	if (!hit)
		return scan_fail(sc, start, "bad escape in a string");
	enc[0] = to[hit - from];
	*n = 1;
	sc->pos += 2;
	return 0;
}

/*
 * Scans the string at sc->pos. With out set (object keys) the decoded bytes
 * are returned in a malloc'd buffer; keys may not contain U+0000 because
 * json-c would cut them there and merge different keys.
 */
static int scan_string(struct scan *sc, char **out, size_t *out_len)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;

	sc->pos++;
	for (;;) {
		size_t start = sc->pos, n = 1;
		bool is_nul = false;
		char enc[4];
		int c = scan_peek(sc);

		if (c < 0) {
			rc = scan_fail(sc, sc->pos, "unterminated string");
			break;
		}
		if (c == '"') {
			sc->pos++;
			break;
		}
		if (c < 0x20) {
			rc = scan_fail(
				sc, start,
				"control character in a string (write it as an escape such as \\n)");
			break;
		}
		if (c == '\\') {
			rc = scan_escape(sc, enc, &n, &is_nul);
			if (rc)
				break;
		} else {
			enc[0] = (char)c;
			sc->pos++;
		}
		if (!out)
			continue;
		if (is_nul) {
			rc = scan_fail(sc, start,
				       "object keys must not contain \\u0000");
			break;
		}
		if (buf_put(&buf, &len, &cap, enc, n)) {
			rc = -ENOMEM;
			break;
		}
	}
	if (rc == 0 && out && !buf)
		buf = malloc(1); /* "": keep keys non-NULL for memcmp */
	if (rc == 0 && out && !buf)
		rc = -ENOMEM;
	if (rc || !out) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = len;
	return 0;
}

static bool scan_digits(struct scan *sc)
{
	size_t start = sc->pos;

	while (sc->pos < sc->len && isdigit((unsigned char)sc->p[sc->pos]))
		sc->pos++;
	return sc->pos > start;
}

/* RFC 8259 numbers: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(struct scan *sc)
{
	size_t start = sc->pos;

	if (scan_peek(sc) == '-')
		sc->pos++;
	if (scan_peek(sc) == '0')
		sc->pos++;
	else if (!scan_digits(sc))
		return scan_fail(sc, start, "malformed number");
	if (scan_peek(sc) == '.') {
		sc->pos++;
		if (!scan_digits(sc))
			return scan_fail(sc, start, "malformed number");
	}
	if (scan_peek(sc) == 'e' || scan_peek(sc) == 'E') {
		sc->pos++;
		if (scan_peek(sc) == '+' || scan_peek(sc) == '-')
			sc->pos++;
		if (!scan_digits(sc))
			return scan_fail(sc, start, "malformed number");
	}
	if (scan_peek(sc) >= 0 && isalnum(scan_peek(sc)))
		return scan_fail(sc, start, "malformed number");
	return 0;
}

/* A word that is not a JSON literal: NaN, Infinity, 'single quotes', ... */
static int scan_bareword(struct scan *sc)
{
	char msg[64], q[48];
	size_t start = sc->pos, end = sc->pos;

	if (sc->p[start] == '\'')
		return scan_fail(sc, start, "strings must be in double quotes");
	while (end < sc->len && end - start < 16 &&
	       (isalnum((unsigned char)sc->p[end]) || sc->p[end] == '_' ||
		sc->p[end] == '-' || sc->p[end] == '+' || sc->p[end] == '.'))
		end++;
	if (end == start)
		end = start + 1;
	snprintf(msg, sizeof(msg), "unexpected '%s'",
		 rv_manifest_quote(sc->p + start, end - start, 16, q,
				   sizeof(q)));
	return scan_fail(sc, start, msg);
}

static int scan_literal(struct scan *sc)
{
	static const char *const words[] = { "true", "false", "null" };
	size_t i;

	for (i = 0; i < RV_ARRAY_SIZE(words); i++) {
		size_t n = strlen(words[i]);

		if (sc->len - sc->pos >= n &&
		    memcmp(sc->p + sc->pos, words[i], n) == 0 &&
		    (sc->len - sc->pos == n ||
		     !isalnum((unsigned char)sc->p[sc->pos + n]))) {
			sc->pos += n;
			return 0;
		}
	}
	return scan_bareword(sc);
}

static int key_order(const void *a, const void *b)
{
	const struct scan_key *ka = a, *kb = b;
	size_t n = ka->len < kb->len ? ka->len : kb->len;
	int c = memcmp(ka->s, kb->s, n);

	if (c)
		return c;
	if (ka->len != kb->len)
		return ka->len < kb->len ? -1 : 1;
	return ka->off < kb->off ? -1 : ka->off > kb->off;
}

static int off_order(const void *a, const void *b)
{
	const struct scan_key *ka = a, *kb = b;

	return ka->off < kb->off ? -1 : ka->off > kb->off;
}

/*
 * Reports every repeated key of the object that frame depth-1 holds, in
 * document order. Sorting keeps hostile objects with 100k keys linear-ish.
 */
static void scan_report_dups(struct scan *sc, struct scan_frame *f)
{
	char path[PATH_LEN], full[PATH_LEN];
	size_t i;

	if (f->nr_keys < 2)
		return;
	qsort(f->keys, f->nr_keys, sizeof(*f->keys), key_order);
	for (i = 1; i < f->nr_keys; i++) {
		struct scan_key *a = &f->keys[i - 1], *b = &f->keys[i];

		if (a->len == b->len && memcmp(a->s, b->s, a->len) == 0) {
			b->dup = true;
			b->first_off = a->dup ? a->first_off : a->off;
		}
	}
	qsort(f->keys, f->nr_keys, sizeof(*f->keys), off_order);
	f->key = NULL;
	scan_path(sc, sc->depth, path, sizeof(path));
	for (i = 0; i < f->nr_keys; i++) {
		size_t line, first, col;

		if (!f->keys[i].dup)
			continue;
		rv__manifest_path_key(full, sizeof(full), path, f->keys[i].s,
				      f->keys[i].len);
		line_col(sc->ps, f->keys[i].off, &line, &col);
		line_col(sc->ps, f->keys[i].first_off, &first, &col);
		perr(sc->ps,
		     "%s: duplicate key on line %zu (first given on line %zu)",
		     full, line, first);
	}
}

static void scan_frame_release(struct scan_frame *f)
{
	size_t i;

	for (i = 0; i < f->nr_keys; i++)
		free(f->keys[i].s);
	free(f->keys);
	memset(f, 0, sizeof(*f));
}

static int scan_add_key(struct scan_frame *f, char *s, size_t len, size_t off)
{
	if (f->nr_keys == f->cap_keys) {
		size_t cap = f->cap_keys ? f->cap_keys * 2 : 8;
		struct scan_key *keys = realloc(f->keys, cap * sizeof(*keys));

		if (!keys)
			return -ENOMEM;
		f->keys = keys;
		f->cap_keys = cap;
	}
	f->keys[f->nr_keys] =
		(struct scan_key){ .s = s, .len = len, .off = off };
	f->key = &f->keys[f->nr_keys];
	f->nr_keys++;
	return 0;
}

static int scan_member(struct scan *sc, struct scan_frame *f)
{
	size_t off = sc->pos;
	char *key;
	size_t key_len;
	int rc;

	if (scan_peek(sc) == '\'')
		return scan_fail(sc, off, "keys must be in double quotes");
	if (scan_peek(sc) != '"')
		return scan_fail(sc, off, "expected a key in double quotes");
	rc = scan_string(sc, &key, &key_len);
	if (rc)
		return rc;
	if (scan_add_key(f, key, key_len, off)) {
		free(key);
		return -ENOMEM;
	}
	scan_ws(sc);
	if (scan_peek(sc) != ':')
		return scan_fail(sc, sc->pos, "expected ':' after a key");
	sc->pos++;
	scan_ws(sc);
	return scan_value(sc);
}

/*
 * Scans an object or array. On failure its frame stays pushed so that
 * scan_strict() releases the keys of every open object in one place.
 */
static int scan_container(struct scan *sc, bool is_object)
{
	char close = is_object ? '}' : ']';
	struct scan_frame *f;
	int rc;

	if (sc->depth >= RV_MANIFEST_MAX_DEPTH)
		return scan_fail(sc, sc->pos, "nesting too deep");
	f = &sc->frames[sc->depth++];
	memset(f, 0, sizeof(*f));
	f->is_object = is_object;
	sc->pos++;
	scan_ws(sc);
	if (scan_peek(sc) == close) {
		sc->pos++;
	} else {
		for (;;) {
			rc = is_object ? scan_member(sc, f) : scan_value(sc);
			if (rc)
				return rc;
			scan_ws(sc);
			if (scan_peek(sc) == close) {
				sc->pos++;
				break;
			}
			if (scan_peek(sc) != ',')
				return scan_fail(sc, sc->pos,
						 is_object ?
							 "expected ',' or '}'" :
							 "expected ',' or ']'");
			sc->pos++;
			scan_ws(sc);
			f->index++;
		}
	}
	sc->depth--;
	scan_report_dups(sc, f);
	scan_frame_release(f);
	return 0;
}

static int scan_value(struct scan *sc)
{
	int c = scan_peek(sc);

	if (c == '{' || c == '[')
		return scan_container(sc, c == '{');
	if (c == '"')
		return scan_string(sc, NULL, NULL);
	if (c == '-' || (c >= '0' && c <= '9'))
		return scan_number(sc);
	if (c < 0)
		return scan_fail(sc, sc->pos, "unexpected end of data");
	return scan_literal(sc);
}

/* Returns 0 when the text is strict JSON, -EINVAL (reported) or -ENOMEM. */
static int scan_strict(struct rv__manifest_parse *ps)
{
	struct scan *sc;
	unsigned int d;
	int rc;

	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return -ENOMEM;
	sc->ps = ps;
	sc->p = ps->text;
	sc->len = ps->len;
	sc->pos = ps->bom;
	scan_ws(sc);
	rc = scan_value(sc);
	if (rc == 0) {
		scan_ws(sc);
		if (sc->pos != sc->len)
			rc = scan_fail(
				sc, sc->pos,
				"unexpected text after the top-level value");
	}
	/* On failure frames below depth still own their keys. */
	for (d = 0; d < sc->depth; d++)
		scan_frame_release(&sc->frames[d]);
	free(sc);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Steps 1 and 2: raw text and json-c                                     */

int rv__manifest_parse_json(struct rv__manifest_parse *ps,
			    struct json_object **root)
{
	const char *nul = memchr(ps->text, '\0', ps->len);
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	size_t i, body;
	char *buf;
	int rc = 0;

	*root = NULL;
	if (nul) {
		syntax_error(ps, (size_t)(nul - ps->text),
			     "NUL byte in the text");
		return -EINVAL;
	}
	if (ps->len >= 3 && memcmp(ps->text, "\xef\xbb\xbf", 3) == 0)
		ps->bom = 3;
	for (i = ps->bom; i < ps->len; i++)
		if (!isspace((unsigned char)ps->text[i]))
			break;
	if (i == ps->len) {
		perr(ps,
		     "the manifest is empty (expected a JSON object such as {\"raevm\": 1, ...})");
		return -EINVAL;
	}
	/*
	 * json-c needs the terminating NUL in the length to finish a
	 * top-level scalar and to see trailing garbage in strict mode.
	 */
	body = ps->len - ps->bom;
	buf = malloc(body + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, ps->text + ps->bom, body);
	buf[body] = '\0';
	tok = json_tokener_new_ex(RV_MANIFEST_MAX_DEPTH);
	if (!tok) {
		free(buf);
		return -ENOMEM;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
					    JSON_TOKENER_VALIDATE_UTF8);
	*root = json_tokener_parse_ex(tok, buf, (int)(body + 1));
	jerr = json_tokener_get_error(tok);
	if (jerr != json_tokener_success) {
		syntax_error(ps, ps->bom + json_tokener_get_parse_end(tok),
			     json_tokener_error_desc(jerr));
		json_object_put(*root);
		*root = NULL;
		rc = -EINVAL;
	}
	json_tokener_free(tok);
	free(buf);
	if (rc)
		return rc;
	rc = scan_strict(ps);
	if (rc) {
		json_object_put(*root);
		*root = NULL;
	}
	return rc;
}
