// SPDX-License-Identifier: Apache-2.0
/*
 * The .raeVM manifest parser (docs/manifest.md is the contract).
 *
 * A manifest is user input: it may be truncated, enormous, deeply nested or
 * crafted. Parsing runs in four steps, each of which trusts only what the
 * previous one proved:
 *   1. size and byte checks on the raw text (limit, NUL bytes, BOM, empty);
 *   2. json-c builds the tree and reports syntax errors with a position;
 *   3. a strict scanner walks the same text again, because json-c accepts
 *      things JSON does not (single quotes, NaN, raw control characters) and
 *      silently keeps the last of duplicate keys; the scanner rejects those
 *      and reports every duplicate key by its JSON path;
 *   4. a walker checks every key of the tree against the tables of known
 *      fields, collecting all problems, and fills a private rv_vm_config
 *      that only replaces the caller's once nothing was wrong.
 */
#include "raevm/manifest.h"

#include "raevm/cpuid.h"
#include "raevm/layout.h"
#include "raevm/log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

/* The phrases below spell these limits out; keep them in step. */
_Static_assert(RV_CONFIG_MIN_MEMORY == 16 * RV_MiB, "memory minimum message");
_Static_assert(RV_MANIFEST_MAX_MEMORY == 16 * 1024 * RV_GiB, "memory maximum");
_Static_assert(RV_MANIFEST_MAX_SIZE == 1024 * 1024, "size limit message");

#define PATH_LEN 512   /* a JSON path in a message; longer ones are cut */
#define QUOTE_CHARS 40 /* characters of a value shown in a message */
#define KEY_CHARS 32   /* characters of an odd key shown in a path */
#define DESCRIBE_LEN 192

struct parse {
	struct rv_manifest_errors *errs;
	const char *text; /* the whole text, for line and column numbers */
	size_t len;
	size_t bom; /* bytes of a leading UTF-8 byte order mark */
	const char *base_dir;
	struct rv_vm_config cfg; /* built here, handed over on success */
	size_t nr_errors;	 /* problems found by this parse */
	bool nomem;
	bool have_memory; /* memory was given and valid */
};

/* ---------------------------------------------------------------------- */
/* Error lists                                                            */

void rv_manifest_errors_init(struct rv_manifest_errors *errs)
{
	memset(errs, 0, sizeof(*errs));
}

void rv_manifest_errors_free(struct rv_manifest_errors *errs)
{
	size_t i;

	if (!errs)
		return;
	for (i = 0; i < errs->count; i++)
		free(errs->lines[i]);
	free(errs->lines);
	free(errs->file);
	rv_manifest_errors_init(errs);
}

void rv_manifest_errors_print(const struct rv_manifest_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->count; i++) {
		if (errs->file)
			rv_error("%s: %s", errs->file, errs->lines[i]);
		else
			rv_error("%s", errs->lines[i]);
	}
	if (errs->dropped)
		rv_error("%s%s%zu more error%s not shown",
			 errs->file ? errs->file : "", errs->file ? ": " : "",
			 errs->dropped, errs->dropped == 1 ? "" : "s");
}

static int errs_vadd(struct rv_manifest_errors *errs, const char *fmt,
		     va_list ap) __attribute__((format(printf, 2, 0)));

static int errs_vadd(struct rv_manifest_errors *errs, const char *fmt,
		     va_list ap)
{
	char *line;

	/* A hostile manifest can hold thousands of problems; keep a few. */
	if (errs->count >= RV_MANIFEST_MAX_ERRORS) {
		errs->dropped++;
		return 0;
	}
	if (errs->count == errs->capacity) {
		size_t cap = errs->capacity ? errs->capacity * 2 : 8;
		char **lines = realloc(errs->lines, cap * sizeof(*lines));

		if (!lines)
			return -ENOMEM;
		errs->lines = lines;
		errs->capacity = cap;
	}
	if (vasprintf(&line, fmt, ap) < 0)
		return -ENOMEM;
	errs->lines[errs->count++] = line;
	return 0;
}

static void perr(struct parse *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void perr(struct parse *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (errs_vadd(ps->errs, fmt, ap) < 0)
		ps->nomem = true;
	va_end(ap);
	ps->nr_errors++;
}

/*
 * Line and column (both from 1) of byte offset off. Columns count UTF-8
 * characters, not bytes, and the byte order mark does not count.
 */
static void line_col(const struct parse *ps, size_t off, size_t *line,
		     size_t *col)
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

static void syntax_error(struct parse *ps, size_t off, const char *what)
{
	size_t line, col;

	line_col(ps, off, &line, &col);
	perr(ps, "line %zu, column %zu: invalid JSON: %s", line, col, what);
}

/* ---------------------------------------------------------------------- */
/* Message helpers                                                        */

const char *rv_manifest_quote(const char *s, size_t len, size_t max_chars,
			      char *buf, size_t size)
{
	size_t i, o = 0;

	if (size == 0)
		return buf;
	for (i = 0; i < len && i < max_chars; i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[8];
		size_t n;

		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			n = 2;
		} else if (ch < 0x20 || ch >= 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", ch);
			n = 4;
		} else {
			esc[0] = (char)ch;
			n = 1;
		}
		/* Keep room for "..." and the terminator. */
		if (o + n + 4 > size)
			break;
		memcpy(buf + o, esc, n);
		o += n;
	}
	if (i < len && o + 4 <= size) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* Optimal string alignment distance, case-insensitive, short words only. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t rows[3][RV_MANIFEST_NAME_MAX + 2];
	size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

	if (la > RV_MANIFEST_NAME_MAX || lb > RV_MANIFEST_NAME_MAX)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		size_t *t;

		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]);
			int cb = tolower((unsigned char)b[j - 1]);
			size_t best = prev[j - 1] + (ca != cb);

			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 &&
			    ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb &&
			    prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
		t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

const char *rv_manifest_suggest(const char *word, const char *const *candidates,
				size_t nr_candidates)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX, i;

	for (i = 0; i < nr_candidates; i++) {
		size_t d = edit_distance(word, candidates[i]);
		/* Short names tolerate one typo, longer ones two. */
		size_t limit = strlen(candidates[i]) <= 4 ? 1 : 2;

		if (d <= limit && d < best_d) {
			best = candidates[i];
			best_d = d;
		}
	}
	return best;
}

/*
 * Describes a JSON value for "expected X, got Y": strings quoted and cut,
 * numbers as written, containers by kind.
 */
static const char *describe(struct json_object *v, char *buf, size_t size)
{
	char q[QUOTE_CHARS * 4 + 8];
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
		s = json_object_get_string(v);
		snprintf(buf, size, "\"%s\"",
			 rv_manifest_quote(
				 s, (size_t)json_object_get_string_len(v),
				 QUOTE_CHARS, q, sizeof(q)));
		return buf;
	case json_type_int:
		/* json-c clamps numbers beyond 64 bits to these extremes. */
		if (json_object_get_uint64(v) == UINT64_MAX ||
		    json_object_get_int64(v) == INT64_MIN)
			return "a number out of range";
		break;
	case json_type_double:
		break;
	}
	s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	return rv_manifest_quote(s, strlen(s), QUOTE_CHARS, buf, size);
}

static bool key_is_plain(const char *key, size_t len)
{
	size_t i;

	if (len == 0 || isdigit((unsigned char)key[0]))
		return false;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)key[i];

		if (!isalnum(ch) && ch != '_' && ch != '-')
			return false;
	}
	return true;
}

static void appendf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Appends to the string in buf; a path too long for buf is cut. */
static void appendf(char *buf, size_t size, const char *fmt, ...)
{
	size_t used = strnlen(buf, size);
	va_list ap;

	if (used + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, size - used, fmt, ap);
	va_end(ap);
}

/* Appends one key to the JSON path in buf: "boot" -> "boot.kernel". */
static void path_add_key(char *buf, size_t size, const char *key,
			 size_t key_len)
{
	char q[KEY_CHARS * 4 + 8];

	if (key_is_plain(key, key_len) && key_len <= KEY_CHARS)
		appendf(buf, size, "%s%.*s", buf[0] ? "." : "", (int)key_len,
			key);
	else
		appendf(buf, size, "[\"%s\"]",
			rv_manifest_quote(key, key_len, KEY_CHARS, q,
					  sizeof(q)));
}

/* Writes parent + key into buf. */
static void path_key(char *buf, size_t size, const char *parent,
		     const char *key, size_t key_len)
{
	snprintf(buf, size, "%s", parent);
	path_add_key(buf, size, key, key_len);
}

/* ---------------------------------------------------------------------- */
/* Shared validators                                                      */

bool rv_manifest_name_valid(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len > RV_MANIFEST_NAME_MAX)
		return false;
	if (name[0] == '.' || name[0] == '-')
		return false;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!isascii(ch) ||
		    (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.'))
			return false;
	}
	return true;
}

const char *rv_manifest_memory_problem(uint64_t bytes)
{
	if (bytes < RV_CONFIG_MIN_MEMORY)
		return "is below the minimum of 16M";
	if (bytes > RV_MANIFEST_MAX_MEMORY)
		return "is above the maximum of 16T";
	if (bytes % RV_MANIFEST_MEMORY_ALIGN)
		return "is not a multiple of 4K";
	return NULL;
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
	struct parse *ps;
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
			path_add_key(buf, size, f->key->s, f->key->len);
		else if (!f->is_object)
			appendf(buf, size, "[%zu]", f->index);
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

static int hex4(const char *s, unsigned int *out)
{
	unsigned int v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		int c = (unsigned char)s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned int)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static size_t utf8_encode(unsigned int cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Reads the \\uXXXX escape at sc->pos (on the 'u') into a code point. */
static int scan_unicode(struct scan *sc, size_t start, unsigned int *cp)
{
	unsigned int hi, lo;

	if (sc->len - sc->pos < 5 || hex4(sc->p + sc->pos + 1, &hi))
		return scan_fail(sc, start, "bad \\u escape in a string");
	sc->pos += 5;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return scan_fail(sc, start, "unpaired UTF-16 surrogate escape");
	if (hi >= 0xd800 && hi <= 0xdbff) {
		if (sc->len - sc->pos < 6 || sc->p[sc->pos] != '\\' ||
		    sc->p[sc->pos + 1] != 'u' ||
		    hex4(sc->p + sc->pos + 2, &lo) || lo < 0xdc00 ||
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
		*n = utf8_encode(cp, enc);
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
		path_key(full, sizeof(full), path, f->keys[i].s,
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
static int scan_strict(struct parse *ps)
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

static int parse_json(struct parse *ps, struct json_object **root)
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

/* ---------------------------------------------------------------------- */
/* Step 4: fields                                                         */

typedef void (*field_fn)(struct parse *ps, const char *path,
			 struct json_object *v);

struct field {
	const char *key;
	field_fn check; /* NULL: reserved for a later version */
};

static void expected(struct parse *ps, const char *path, const char *what,
		     struct json_object *v)
{
	char d[DESCRIBE_LEN];

	perr(ps, "%s: expected %s, got %s", path, what,
	     describe(v, d, sizeof(d)));
}

/*
 * Returns the string value of v, or NULL after reporting why it is not an
 * acceptable string (wrong type, NUL inside, longer than max bytes).
 */
static const char *get_string(struct parse *ps, const char *path,
			      struct json_object *v, const char *what,
			      size_t max)
{
	const char *s;
	size_t len;

	if (!json_object_is_type(v, json_type_string)) {
		expected(ps, path, what, v);
		return NULL;
	}
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len) {
		perr(ps, "%s: contains a NUL character (\\u0000)", path);
		return NULL;
	}
	if (len > max) {
		perr(ps, "%s: too long (%zu bytes; the limit is %zu)", path,
		     len, max);
		return NULL;
	}
	return s;
}

static void set_string(struct parse *ps, char **dst, const char *s)
{
	char *copy = strdup(s);

	if (!copy) {
		ps->nomem = true;
		return;
	}
	free(*dst);
	*dst = copy;
}

static void walk_object(struct parse *ps, const char *path,
			struct json_object *obj, const struct field *fields,
			size_t nr_fields)
{
	struct json_object_iterator it = json_object_iter_begin(obj);
	struct json_object_iterator end = json_object_iter_end(obj);
	const char *names[32];
	size_t i;

	for (i = 0; i < nr_fields && i < RV_ARRAY_SIZE(names); i++)
		names[i] = fields[i].key;
	while (!json_object_iter_equal(&it, &end)) {
		const char *key = json_object_iter_peek_name(&it);
		struct json_object *v = json_object_iter_peek_value(&it);
		char child[PATH_LEN];
		const char *hint;

		json_object_iter_next(&it);
		path_key(child, sizeof(child), path, key, strlen(key));
		for (i = 0; i < nr_fields; i++)
			if (strcmp(fields[i].key, key) == 0)
				break;
		if (i < nr_fields && fields[i].check) {
			fields[i].check(ps, child, v);
		} else if (i < nr_fields) {
			perr(ps,
			     "%s: not supported by this version of raevm yet",
			     child);
		} else {
			hint = rv_manifest_suggest(key, names, nr_fields);
			if (hint)
				perr(ps,
				     "%s: unknown key (did you mean \"%s\"?)",
				     child, hint);
			else
				perr(ps, "%s: unknown key", child);
		}
	}
}

/* The version was checked before the walk; nothing to do here. */
static void field_version(struct parse *ps, const char *path,
			  struct json_object *v)
{
	(void)ps;
	(void)path;
	(void)v;
}

static void field_name(struct parse *ps, const char *path,
		       struct json_object *v)
{
	const char *s = get_string(ps, path, v, "a name string",
				   RV_MANIFEST_MAX_STRING);
	char d[DESCRIBE_LEN];

	if (!s)
		return;
	if (!rv_manifest_name_valid(s)) {
		perr(ps,
		     "%s: %s is not a valid name (use 1 to 64 letters, digits, '-', '_' or '.', not starting with '.' or '-')",
		     path, describe(v, d, sizeof(d)));
		return;
	}
	set_string(ps, &ps->cfg.name, s);
}

static void field_cpus(struct parse *ps, const char *path,
		       struct json_object *v)
{
	int64_t n;

	if (json_object_is_type(v, json_type_int)) {
		n = json_object_get_int64(v);
		if (n >= 1 && n <= RV_MANIFEST_MAX_CPUS) {
			ps->cfg.cpus = (unsigned int)n;
			return;
		}
	}
	expected(ps, path, "an integer from 1 to 254", v);
}

static void field_memory(struct parse *ps, const char *path,
			 struct json_object *v)
{
	char d[DESCRIBE_LEN];
	const char *s, *problem;
	uint64_t bytes;
	int rc;

	if (json_object_is_type(v, json_type_string)) {
		s = get_string(ps, path, v, "a size", RV_MANIFEST_MAX_STRING);
		if (!s)
			return;
		rc = rv_parse_size(s, &bytes);
		if (rc == -ERANGE) {
			perr(ps, "%s: %s is too large (the maximum is 16T)",
			     path, describe(v, d, sizeof(d)));
			return;
		}
		if (rc) {
			perr(ps, "%s: %s is not a size like \"512M\" or \"2G\"",
			     path, describe(v, d, sizeof(d)));
			return;
		}
	} else if (json_object_is_type(v, json_type_int) &&
		   json_object_get_int64(v) >= 0) {
		bytes = json_object_get_uint64(v);
	} else {
		expected(ps, path,
			 "a size like \"512M\" or \"2G\" or a number of bytes",
			 v);
		return;
	}
	problem = rv_manifest_memory_problem(bytes);
	if (problem) {
		perr(ps, "%s: %s %s", path, describe(v, d, sizeof(d)), problem);
		return;
	}
	ps->cfg.memory = bytes;
	ps->have_memory = true;
}

/*
 * Splits rv_cpu_template_names() ("host, baseline") to suggest the closest
 * name for a typo. Returns NULL when nothing is close.
 */
static const char *template_suggest(const char *name, char *buf, size_t size)
{
	char names[256], *save = NULL, *tok;
	const char *cands[16], *hint;
	size_t n = 0;

	snprintf(names, sizeof(names), "%s", rv_cpu_template_names());
	for (tok = strtok_r(names, ", ", &save);
	     tok && n < RV_ARRAY_SIZE(cands); tok = strtok_r(NULL, ", ", &save))
		cands[n++] = tok;
	hint = rv_manifest_suggest(name, cands, n);
	if (!hint)
		return NULL;
	snprintf(buf, size, "%s", hint);
	return buf;
}

static void field_cpu_template(struct parse *ps, const char *path,
			       struct json_object *v)
{
	char d[DESCRIBE_LEN], hint[64];
	const char *s = get_string(ps, path, v, "a CPU template name",
				   RV_MANIFEST_MAX_STRING);

	if (!s)
		return;
	if (!rv_cpu_template_find(s)) {
		if (template_suggest(s, hint, sizeof(hint)))
			perr(ps,
			     "%s: %s is not a CPU template (known: %s; did you mean \"%s\"?)",
			     path, describe(v, d, sizeof(d)),
			     rv_cpu_template_names(), hint);
		else
			perr(ps, "%s: %s is not a CPU template (known: %s)",
			     path, describe(v, d, sizeof(d)),
			     rv_cpu_template_names());
		return;
	}
	set_string(ps, &ps->cfg.cpu_template, s);
}

static void field_hugepages(struct parse *ps, const char *path,
			    struct json_object *v)
{
	if (!json_object_is_type(v, json_type_boolean)) {
		expected(ps, path, "true or false", v);
		return;
	}
	ps->cfg.hugepages = json_object_get_boolean(v);
}

/* Joins a relative path to the manifest's folder; absolute ones stay. */
static void set_path(struct parse *ps, const char *path, char **dst,
		     struct json_object *v)
{
	const char *s = get_string(ps, path, v, "a path string",
				   RV_MANIFEST_MAX_STRING);
	const char *base = ps->base_dir;
	char *joined;

	if (!s)
		return;
	if (s[0] == '\0') {
		perr(ps, "%s: must not be empty", path);
		return;
	}
	if (s[0] == '/' || !base || !base[0]) {
		set_string(ps, dst, s);
		return;
	}
	if (asprintf(&joined, "%s%s%s", base,
		     base[strlen(base) - 1] == '/' ? "" : "/", s) < 0) {
		ps->nomem = true;
		return;
	}
	free(*dst);
	*dst = joined;
}

static void field_kernel(struct parse *ps, const char *path,
			 struct json_object *v)
{
	set_path(ps, path, &ps->cfg.kernel, v);
}

static void field_initrd(struct parse *ps, const char *path,
			 struct json_object *v)
{
	set_path(ps, path, &ps->cfg.initrd, v);
}

static void field_cmdline(struct parse *ps, const char *path,
			  struct json_object *v)
{
	/* The boot code copies it with its NUL into RV_CMDLINE_MAX bytes. */
	const char *s = get_string(ps, path, v, "a string", RV_CMDLINE_MAX - 1);
	const char *c;

	if (!s)
		return;
	for (c = s; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			perr(ps, "%s: contains the control character 0x%02x",
			     path, (unsigned char)*c);
			return;
		}
	}
	set_string(ps, &ps->cfg.cmdline, s);
}

static const struct field boot_fields[] = {
	{ "kernel", field_kernel },
	{ "initrd", field_initrd },
	{ "cmdline", field_cmdline },
};

static void field_boot(struct parse *ps, const char *path,
		       struct json_object *v)
{
	if (!json_object_is_type(v, json_type_object)) {
		expected(ps, path, "an object", v);
		return;
	}
	walk_object(ps, path, v, boot_fields, RV_ARRAY_SIZE(boot_fields));
	if (!json_object_object_get_ex(v, "kernel", NULL))
		perr(ps, "%s.kernel: missing (the kernel to boot is required)",
		     path);
}

static const struct field top_fields[] = {
	{ "raevm", field_version },
	{ "name", field_name },
	{ "cpus", field_cpus },
	{ "memory", field_memory },
	{ "cpu_template", field_cpu_template },
	{ "boot", field_boot },
	{ "hugepages", field_hugepages },
	/* Described in DESIGN.md, implemented by later versions. */
	{ "disks", NULL },
	{ "net", NULL },
	{ "vsock", NULL },
	{ "devices", NULL },
	{ "autostart", NULL },
	{ "restart", NULL },
	{ "ephemeral", NULL },
	{ "limits", NULL },
};

/*
 * Checks "raevm". Returns false when the manifest claims a version this
 * build does not read: its other fields may mean something else, so they
 * are not judged.
 */
static bool check_version(struct parse *ps, struct json_object *root)
{
	struct json_object *v;
	int64_t ver;

	if (!json_object_object_get_ex(root, "raevm", &v)) {
		perr(ps,
		     "raevm: missing (the format version; this raevm reads version %d)",
		     RV_MANIFEST_VERSION_MAX);
		return true;
	}
	if (!json_object_is_type(v, json_type_int)) {
		expected(ps, "raevm", "the format version 1", v);
		return true;
	}
	ver = json_object_get_int64(v);
	if (ver < RV_MANIFEST_VERSION_MIN || ver > RV_MANIFEST_VERSION_MAX) {
		char d[DESCRIBE_LEN];

		perr(ps,
		     "raevm: version %s is not supported (this raevm reads version %d)",
		     describe(v, d, sizeof(d)), RV_MANIFEST_VERSION_MAX);
		return false;
	}
	return true;
}

static void check_manifest(struct parse *ps, struct json_object *root)
{
	if (!json_object_is_type(root, json_type_object)) {
		char d[DESCRIBE_LEN];

		perr(ps, "expected a JSON object at the top level, got %s",
		     describe(root, d, sizeof(d)));
		return;
	}
	if (!check_version(ps, root))
		return;
	walk_object(ps, "", root, top_fields, RV_ARRAY_SIZE(top_fields));
	if (!json_object_object_get_ex(root, "name", NULL))
		perr(ps, "name: missing (every VM needs a name)");
	if (!json_object_object_get_ex(root, "boot", NULL))
		perr(ps,
		     "boot: missing (boot.kernel, the kernel to boot, is required)");
	/* 2 MiB pages cannot back a partial page. */
	if (ps->have_memory && ps->cfg.hugepages &&
	    ps->cfg.memory % RV_MANIFEST_HUGEPAGE_ALIGN)
		perr(ps,
		     "memory: must be a multiple of 2M when hugepages is true");
}

int rv_manifest_parse(const char *text, size_t len, const char *base_dir,
		      struct rv_vm_config *cfg, struct rv_manifest_errors *errs)
{
	struct parse ps = {
		.errs = errs,
		.text = text,
		.len = len,
		.base_dir = base_dir,
	};
	struct json_object *root = NULL;
	int rc;

	if (len > RV_MANIFEST_MAX_SIZE) {
		perr(&ps, "the manifest is larger than 1 MiB");
		return ps.nomem ? -ENOMEM : -EFBIG;
	}
	if (!text) {
		ps.text = "";
		ps.len = 0;
	}
	rv_vm_config_init(&ps.cfg);
	rc = parse_json(&ps, &root);
	if (rc == 0)
		check_manifest(&ps, root);
	json_object_put(root);
	if (ps.nomem || rc == -ENOMEM) {
		rv_vm_config_free(&ps.cfg);
		return -ENOMEM;
	}
	if (rc || ps.nr_errors) {
		rv_vm_config_free(&ps.cfg);
		return -EINVAL;
	}
	rv_vm_config_free(cfg);
	*cfg = ps.cfg;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Files                                                                  */

/* The absolute folder of path, so relative paths survive a later chdir. */
static char *manifest_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir, *abs;

	if (!slash)
		dir = strdup(".");
	else
		dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (!dir)
		return NULL;
	abs = realpath(dir, NULL);
	if (!abs)
		return dir;
	free(dir);
	return abs;
}

static int load_error(struct rv_manifest_errors *errs, int rc, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));

static int load_error(struct rv_manifest_errors *errs, int rc, const char *fmt,
		      ...)
{
	va_list ap;
	int add;

	va_start(ap, fmt);
	add = errs_vadd(errs, fmt, ap);
	va_end(ap);
	return add ? add : rc;
}

int rv_manifest_load(const char *path, struct rv_vm_config *cfg,
		     struct rv_manifest_errors *errs)
{
	uint8_t *data;
	size_t len;
	char *dir;
	int rc;

	free(errs->file);
	errs->file = strdup(path);
	if (!errs->file)
		return -ENOMEM;
	rc = rv_read_file(path, RV_MANIFEST_MAX_SIZE, &data, &len);
	if (rc == -EFBIG)
		return load_error(errs, rc,
				  "the manifest is larger than 1 MiB");
	if (rc == -EINVAL)
		return load_error(errs, rc,
				  "cannot read it: not a regular file");
	if (rc)
		return load_error(errs, rc, "cannot read it: %s",
				  strerror(-rc));
	dir = manifest_dir(path);
	if (!dir) {
		free(data);
		return -ENOMEM;
	}
	rc = rv_manifest_parse((const char *)data, len, dir, cfg, errs);
	free(dir);
	free(data);
	return rc;
}
