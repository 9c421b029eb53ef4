// SPDX-License-Identifier: Apache-2.0
/*
 * Steps 1 to 3 of the manifest parser (manifest.c has the overview): raw
 * byte checks, json-c, and the strict scanner (src/common/jscan.c) that
 * rejects what json-c lets through and reports duplicate keys. Nothing here
 * knows any field.
 */
#include "internal.h"

#include "raevm/jscan.h"

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
/* Step 3: the strict scanner (raevm/jscan.h) finds what json-c lets through */

static void on_syntax(void *opaque, size_t off, const char *what)
{
	syntax_error(opaque, off, what);
}

/* Every repeated key is reported; the scan goes on. */
static int on_dup_key(void *opaque, const char *path, const char *key,
		      size_t key_len, size_t off, size_t first_off)
{
	struct rv__manifest_parse *ps = opaque;
	char full[PATH_LEN];
	size_t line, first, col;

	rv__manifest_path_key(full, sizeof(full), path, key, key_len);
	line_col(ps, off, &line, &col);
	line_col(ps, first_off, &first, &col);
	perr(ps, "%s: duplicate key on line %zu (first given on line %zu)",
	     full, line, first);
	return 0;
}

static const struct rv_jscan_ops scan_ops = {
	.syntax = on_syntax,
	.dup_key = on_dup_key,
	.path_key = rv__manifest_path_add_key,
};

/*
 * Returns 0 when the text is strict JSON but for repeated keys (reported),
 * -EINVAL (reported) or -ENOMEM.
 */
static int scan_strict(struct rv__manifest_parse *ps)
{
	size_t end;
	int rc;

	rc = rv_jscan(ps->text, ps->len, ps->bom, RV_MANIFEST_MAX_DEPTH,
		      &scan_ops, ps, &end);
	if (rc == 0 && end != ps->len) {
		syntax_error(ps, end,
			     "unexpected text after the top-level value");
		rc = -EBADMSG;
	}
	/*
	 * Repeated keys were reported but are not fatal here: the fields are
	 * still judged, and the recorded errors fail the parse.
	 */
	return rc == -EBADMSG ? -EINVAL : rc;
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
