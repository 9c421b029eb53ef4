// SPDX-License-Identifier: Apache-2.0
/*
 * The strict JSON scanner (include/raevm/jscan.h). The text is hostile:
 * every read is bounded by len, nesting by max_depth, and keys are kept
 * only while their object is open (to find repeats).
 */
#include "raevm/jscan.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "raevm/manifest.h"

struct scan_key {
	char *s; /* decoded bytes, owned */
	size_t len;
	size_t off;	  /* offset of the opening quote */
	size_t first_off; /* offset of the first use of a repeated key */
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
	const struct rv_jscan_ops *ops;
	void *opaque;
	const char *p;
	size_t len;
	size_t pos;
	unsigned int depth;
	unsigned int max_depth;
	struct scan_frame *frames; /* max_depth of them */
};

static int scan_value(struct scan *sc);

static int scan_fail(struct scan *sc, size_t off, const char *what)
{
	sc->ops->syntax(sc->opaque, off, what);
	return -EBADMSG;
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

/* The JSON path of the object in frame depth-1, for dup_key. */
static void scan_path(const struct scan *sc, char *buf, size_t size)
{
	unsigned int d;
	size_t n;

	buf[0] = '\0';
	if (!sc->ops->path_key)
		return;
	for (d = 0; d < sc->depth; d++) {
		const struct scan_frame *f = &sc->frames[d];

		if (f->is_object && f->key) {
			sc->ops->path_key(buf, size, f->key->s, f->key->len);
		} else if (!f->is_object) {
			n = strlen(buf);
			snprintf(buf + n, size - n, "[%zu]", f->index);
		}
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

/* Reads the \uXXXX escape at sc->pos (on the 'u') into a code point. */
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
 * json-c would cut them there and merge different keys. Raw bytes of 0x80
 * and above are left to json-c's UTF-8 validation.
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
 * Reports every repeated key of the object that frame depth holds (already
 * popped), in document order. Sorting keeps hostile objects with 100k keys
 * n log n.
 */
static int scan_report_dups(struct scan *sc, struct scan_frame *f)
{
	char path[RV_JSCAN_PATH_LEN];
	bool any = false;
	size_t i;

	if (f->nr_keys < 2)
		return 0;
	qsort(f->keys, f->nr_keys, sizeof(*f->keys), key_order);
	for (i = 1; i < f->nr_keys; i++) {
		struct scan_key *a = &f->keys[i - 1], *b = &f->keys[i];

		if (a->len == b->len && memcmp(a->s, b->s, a->len) == 0) {
			b->dup = true;
			b->first_off = a->dup ? a->first_off : a->off;
			any = true;
		}
	}
	if (!any)
		return 0;
	qsort(f->keys, f->nr_keys, sizeof(*f->keys), off_order);
	f->key = NULL;
	scan_path(sc, path, sizeof(path));
	for (i = 0; i < f->nr_keys; i++) {
		const struct scan_key *k = &f->keys[i];

		if (k->dup && sc->ops->dup_key(sc->opaque, path, k->s, k->len,
					       k->off, k->first_off))
			return -EBADMSG;
	}
	return 0;
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
	if (scan_peek(sc) < 0)
		return scan_fail(sc, off, "unexpected end of data");
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
		return scan_fail(sc, sc->pos,
				 scan_peek(sc) < 0 ?
					 "unexpected end of data" :
					 "expected ':' after a key");
	sc->pos++;
	scan_ws(sc);
	return scan_value(sc);
}

/*
 * Scans an object or array. On failure its frame stays pushed so that
 * rv_jscan() releases the keys of every open object in one place.
 */
static int scan_container(struct scan *sc, bool is_object)
{
	char close = is_object ? '}' : ']';
	struct scan_frame *f;
	int rc;

	if (sc->depth >= sc->max_depth)
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
				return scan_fail(
					sc, sc->pos,
					scan_peek(sc) < 0 ?
						"unexpected end of data" :
					is_object ? "expected ',' or '}'" :
						    "expected ',' or ']'");
			sc->pos++;
			scan_ws(sc);
			f->index++;
		}
	}
	sc->depth--;
	rc = scan_report_dups(sc, f);
	scan_frame_release(f);
	return rc;
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

int rv_jscan(const char *text, size_t len, size_t start, unsigned int max_depth,
	     const struct rv_jscan_ops *ops, void *opaque, size_t *end)
{
	struct scan sc = {
		.ops = ops,
		.opaque = opaque,
		.p = text,
		.len = len,
		.pos = start < len ? start : len,
		.max_depth = max_depth,
	};
	unsigned int d;
	int rc;

	sc.frames = calloc(max_depth ? max_depth : 1, sizeof(*sc.frames));
	if (!sc.frames)
		return -ENOMEM;
	scan_ws(&sc);
	rc = scan_value(&sc);
	if (rc == 0)
		scan_ws(&sc);
	/* On failure frames below depth still own their keys. */
	for (d = 0; d < sc.depth; d++)
		scan_frame_release(&sc.frames[d]);
	free(sc.frames);
	*end = sc.pos;
	return rc;
}
