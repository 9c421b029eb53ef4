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
 * Steps 1 to 3 live in json.c; this file holds the error list, the
 * message helpers, the shared validators and step 4.
 */
#include "raevm/manifest.h"

#include "internal.h"

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

#define PATH_LEN RV__MANIFEST_PATH_LEN
#define QUOTE_CHARS 40 /* characters of a value shown in a message */
#define KEY_CHARS 32   /* characters of an odd key shown in a path */
#define DESCRIBE_LEN 192

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

void rv__manifest_verr(struct rv__manifest_parse *ps, const char *fmt,
		       va_list ap)
{
	if (errs_vadd(ps->errs, fmt, ap) < 0)
		ps->nomem = true;
	ps->nr_errors++;
}

static void perr(struct rv__manifest_parse *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void perr(struct rv__manifest_parse *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rv__manifest_verr(ps, fmt, ap);
	va_end(ap);
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
const char *rv__manifest_describe(struct json_object *v, char *buf, size_t size)
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

void rv__manifest_appendf(char *buf, size_t size, const char *fmt, ...)
{
	size_t used = strnlen(buf, size);
	va_list ap;

	if (used + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, size - used, fmt, ap);
	va_end(ap);
}

void rv__manifest_path_add_key(char *buf, size_t size, const char *key,
			       size_t key_len)
{
	char q[KEY_CHARS * 4 + 8];

	if (key_is_plain(key, key_len) && key_len <= KEY_CHARS)
		rv__manifest_appendf(buf, size, "%s%.*s", buf[0] ? "." : "",
				     (int)key_len, key);
	else
		rv__manifest_appendf(buf, size, "[\"%s\"]",
				     rv_manifest_quote(key, key_len, KEY_CHARS,
						       q, sizeof(q)));
}

void rv__manifest_path_key(char *buf, size_t size, const char *parent,
			   const char *key, size_t key_len)
{
	snprintf(buf, size, "%s", parent);
	rv__manifest_path_add_key(buf, size, key, key_len);
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

bool rv_manifest_disk_format_valid(const char *format)
{
	return strcmp(format, "raw") == 0 || strcmp(format, "qcow2") == 0;
}

/*
 * The guest reads the serial through VIRTIO_BLK_T_GET_ID and shows it in
 * sysfs and in /dev/disk/by-id names, so it is held to printable ASCII.
 */
const char *rv_manifest_serial_problem(const char *serial, char *buf,
				       size_t size)
{
	size_t len = strlen(serial);
	const char *c;

	if (len == 0)
		return "must not be empty";
	for (c = serial; *c; c++) {
		unsigned char ch = (unsigned char)*c;

		if (ch < 0x20 || ch == 0x7f) {
			snprintf(buf, size,
				 "contains the control character 0x%02x", ch);
			return buf;
		}
		if (ch > 0x7f) {
			snprintf(
				buf, size,
				"contains the non-ASCII byte 0x%02x (use printable ASCII)",
				ch);
			return buf;
		}
	}
	if (len > RV_MANIFEST_SERIAL_MAX) {
		snprintf(buf, size,
			 "too long (%zu bytes; the virtio-blk limit is %d)",
			 len, RV_MANIFEST_SERIAL_MAX);
		return buf;
	}
	return NULL;
}

/* Skips separators and "." components; *len is 0 at the end of p. */
static const char *path_component(const char *p, size_t *len)
{
	for (;;) {
		while (*p == '/')
			p++;
		*len = strcspn(p, "/");
		if (*len != 1 || p[0] != '.')
			return p;
		p++;
	}
}

bool rv_manifest_same_path(const char *a, const char *b)
{
	size_t la, lb;

	if ((a[0] == '/') != (b[0] == '/'))
		return false;
	for (;;) {
		a = path_component(a, &la);
		b = path_component(b, &lb);
		if (la != lb || memcmp(a, b, la) != 0)
			return false;
		if (la == 0)
			return true;
		a += la;
		b += lb;
	}
}

/* ---------------------------------------------------------------------- */
/* Step 4: fields                                                         */

static void expected(struct rv__manifest_parse *ps, const char *path,
		     const char *what, struct json_object *v)
{
	char d[DESCRIBE_LEN];

	perr(ps, "%s: expected %s, got %s", path, what,
	     rv__manifest_describe(v, d, sizeof(d)));
}

/*
 * Returns the string value of v, or NULL after reporting why it is not an
 * acceptable string (wrong type, NUL inside, longer than max bytes).
 */
static const char *get_string(struct rv__manifest_parse *ps, const char *path,
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

static void set_string(struct rv__manifest_parse *ps, char **dst, const char *s)
{
	char *copy = strdup(s);

	if (!copy) {
		ps->nomem = true;
		return;
	}
	free(*dst);
	*dst = copy;
}

static void walk_object(struct rv__manifest_parse *ps, const char *path,
			struct json_object *obj,
			const struct rv__manifest_field *fields,
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
		rv__manifest_path_key(child, sizeof(child), path, key,
				      strlen(key));
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
static void field_version(struct rv__manifest_parse *ps, const char *path,
			  struct json_object *v)
{
	(void)ps;
	(void)path;
	(void)v;
}

static void field_name(struct rv__manifest_parse *ps, const char *path,
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
		     path, rv__manifest_describe(v, d, sizeof(d)));
		return;
	}
	set_string(ps, &ps->cfg.name, s);
}

static void field_cpus(struct rv__manifest_parse *ps, const char *path,
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

static void field_memory(struct rv__manifest_parse *ps, const char *path,
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
			     path, rv__manifest_describe(v, d, sizeof(d)));
			return;
		}
		if (rc) {
			perr(ps, "%s: %s is not a size like \"512M\" or \"2G\"",
			     path, rv__manifest_describe(v, d, sizeof(d)));
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
		perr(ps, "%s: %s %s", path,
		     rv__manifest_describe(v, d, sizeof(d)), problem);
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

static void field_cpu_template(struct rv__manifest_parse *ps, const char *path,
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
			     path, rv__manifest_describe(v, d, sizeof(d)),
			     rv_cpu_template_names(), hint);
		else
			perr(ps, "%s: %s is not a CPU template (known: %s)",
			     path, rv__manifest_describe(v, d, sizeof(d)),
			     rv_cpu_template_names());
		return;
	}
	set_string(ps, &ps->cfg.cpu_template, s);
}

static void field_hugepages(struct rv__manifest_parse *ps, const char *path,
			    struct json_object *v)
{
	if (!json_object_is_type(v, json_type_boolean)) {
		expected(ps, path, "true or false", v);
		return;
	}
	ps->cfg.hugepages = json_object_get_boolean(v);
}

/* Joins a relative path to the manifest's folder; absolute ones stay. */
static void set_path(struct rv__manifest_parse *ps, const char *path,
		     char **dst, struct json_object *v)
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

static void field_kernel(struct rv__manifest_parse *ps, const char *path,
			 struct json_object *v)
{
	set_path(ps, path, &ps->cfg.kernel, v);
}

static void field_initrd(struct rv__manifest_parse *ps, const char *path,
			 struct json_object *v)
{
	set_path(ps, path, &ps->cfg.initrd, v);
}

static void field_cmdline(struct rv__manifest_parse *ps, const char *path,
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

static const struct rv__manifest_field boot_fields[] = {
	{ "kernel", field_kernel },
	{ "initrd", field_initrd },
	{ "cmdline", field_cmdline },
};

static void field_boot(struct rv__manifest_parse *ps, const char *path,
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

/*
 * A path a field names must exist in the object; its absence is reported
 * against the object ("disks[0]: missing required key \"path\"").
 */
static void require_key(struct rv__manifest_parse *ps, const char *path,
			struct json_object *obj, const char *key)
{
	if (!json_object_object_get_ex(obj, key, NULL))
		perr(ps, "%s: missing required key \"%s\"", path, key);
}

/* The helpers above, for the fields that live in other files. */
void rv__manifest_err(struct rv__manifest_parse *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rv__manifest_verr(ps, fmt, ap);
	va_end(ap);
}

void rv__manifest_expected(struct rv__manifest_parse *ps, const char *path,
			   const char *what, struct json_object *v)
{
	expected(ps, path, what, v);
}

const char *rv__manifest_get_string(struct rv__manifest_parse *ps,
				    const char *path, struct json_object *v,
				    const char *what, size_t max)
{
	return get_string(ps, path, v, what, max);
}

void rv__manifest_set_string(struct rv__manifest_parse *ps, char **dst,
			     const char *s)
{
	set_string(ps, dst, s);
}

void rv__manifest_set_path(struct rv__manifest_parse *ps, const char *path,
			   char **dst, struct json_object *v)
{
	set_path(ps, path, dst, v);
}

void rv__manifest_walk(struct rv__manifest_parse *ps, const char *path,
		       struct json_object *obj,
		       const struct rv__manifest_field *fields,
		       size_t nr_fields)
{
	walk_object(ps, path, obj, fields, nr_fields);
}

void rv__manifest_require_key(struct rv__manifest_parse *ps, const char *path,
			      struct json_object *obj, const char *key)
{
	require_key(ps, path, obj, key);
}

static void field_disk_path(struct rv__manifest_parse *ps, const char *path,
			    struct json_object *v)
{
	set_path(ps, path, &ps->disk->path, v);
}

static void field_disk_format(struct rv__manifest_parse *ps, const char *path,
			      struct json_object *v)
{
	static const char *const formats[] = { "raw", "qcow2" };
	char d[DESCRIBE_LEN];
	const char *s = NULL, *hint = NULL;

	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		/* A "raw\u0000..." string must not pass as "raw". */
		if (strlen(s) != (size_t)json_object_get_string_len(v))
			s = NULL;
		if (s && rv_manifest_disk_format_valid(s)) {
			set_string(ps, &ps->disk->format, s);
			return;
		}
		if (s)
			hint = rv_manifest_suggest(s, formats,
						   RV_ARRAY_SIZE(formats));
	}
	if (hint)
		perr(ps,
		     "%s: expected \"raw\" or \"qcow2\", got %s (did you mean \"%s\"?)",
		     path, rv__manifest_describe(v, d, sizeof(d)), hint);
	else
		expected(ps, path, "\"raw\" or \"qcow2\"", v);
}

static void field_disk_readonly(struct rv__manifest_parse *ps, const char *path,
				struct json_object *v)
{
	if (!json_object_is_type(v, json_type_boolean)) {
		expected(ps, path, "true or false", v);
		return;
	}
	ps->disk->readonly = json_object_get_boolean(v);
}

static void field_disk_serial(struct rv__manifest_parse *ps, const char *path,
			      struct json_object *v)
{
	const char *s = get_string(ps, path, v, "a serial string",
				   RV_MANIFEST_MAX_STRING);
	const char *problem;
	char why[96];

	if (!s)
		return;
	problem = rv_manifest_serial_problem(s, why, sizeof(why));
	if (problem) {
		perr(ps, "%s: %s", path, problem);
		return;
	}
	set_string(ps, &ps->disk->serial, s);
}

static const struct rv__manifest_field disk_fields[] = {
	{ "path", field_disk_path },
	{ "format", field_disk_format },
	{ "readonly", field_disk_readonly },
	{ "serial", field_disk_serial },
};

/*
 * Two disks on one file would let the guest corrupt it through two caches
 * (and qcow2 metadata through two writers), so a repeated path is an
 * error. Only the spelling is compared here; the loader compares inodes.
 */
static void check_disk_paths(struct rv__manifest_parse *ps, const char *path)
{
	unsigned int i, j;

	for (j = 1; j < ps->cfg.nr_disks; j++) {
		const char *b = ps->cfg.disks[j].path;

		for (i = 0; b && i < j; i++) {
			const char *a = ps->cfg.disks[i].path;

			if (a && rv_manifest_same_path(a, b)) {
				perr(ps,
				     "%s[%u].path: names the same file as %s[%u].path",
				     path, j, path, i);
				break;
			}
		}
	}
}

static void field_disks(struct rv__manifest_parse *ps, const char *path,
			struct json_object *v)
{
	size_t i, n;

	if (!json_object_is_type(v, json_type_array)) {
		expected(ps, path, "an array of disks", v);
		return;
	}
	n = json_object_array_length(v);
	if (n > RV_CONFIG_MAX_DISKS) {
		perr(ps, "%s: too many disks (%zu; the limit is %d)", path, n,
		     RV_CONFIG_MAX_DISKS);
		return;
	}
	for (i = 0; i < n; i++) {
		struct json_object *d = json_object_array_get_idx(v, i);
		char child[PATH_LEN];

		snprintf(child, sizeof(child), "%s[%zu]", path, i);
		if (!json_object_is_type(d, json_type_object)) {
			expected(
				ps, child,
				"a disk object such as {\"path\": \"root.img\"}",
				d);
			continue;
		}
		/* Counted first, so that rv_vm_config_free sees its strings. */
		ps->disk = &ps->cfg.disks[ps->cfg.nr_disks++];
		walk_object(ps, child, d, disk_fields,
			    RV_ARRAY_SIZE(disk_fields));
		require_key(ps, child, d, "path");
		ps->disk = NULL;
	}
	check_disk_paths(ps, path);
}

static void field_rng(struct rv__manifest_parse *ps, const char *path,
		      struct json_object *v)
{
	if (!json_object_is_type(v, json_type_boolean)) {
		expected(ps, path, "true or false", v);
		return;
	}
	ps->cfg.rng = json_object_get_boolean(v);
}

static void field_console_socket(struct rv__manifest_parse *ps,
				 const char *path, struct json_object *v)
{
	size_t len;

	set_path(ps, path, &ps->cfg.console_socket, v);
	if (!ps->cfg.console_socket)
		return;
	/* Checked as resolved: that is the name bind() will get. */
	len = strlen(ps->cfg.console_socket);
	if (len > RV_MANIFEST_SOCKET_PATH_MAX) {
		perr(ps,
		     "%s: too long for a Unix socket (%zu bytes as resolved; the limit is %d)",
		     path, len, RV_MANIFEST_SOCKET_PATH_MAX);
		free(ps->cfg.console_socket);
		ps->cfg.console_socket = NULL;
	}
}

static const struct rv__manifest_field console_fields[] = {
	{ "socket", field_console_socket },
};

static void field_console(struct rv__manifest_parse *ps, const char *path,
			  struct json_object *v)
{
	if (!json_object_is_type(v, json_type_object)) {
		expected(ps, path,
			 "an object such as {\"socket\": \"console.sock\"}", v);
		return;
	}
	walk_object(ps, path, v, console_fields, RV_ARRAY_SIZE(console_fields));
	require_key(ps, path, v, "socket");
}

static void field_autostart(struct rv__manifest_parse *ps, const char *path,
			    struct json_object *v)
{
	if (!json_object_is_type(v, json_type_boolean)) {
		expected(ps, path, "true or false", v);
		return;
	}
	ps->cfg.autostart = json_object_get_boolean(v);
}

static const char *const restart_names[] = {
	[RV_RESTART_NO] = "no",
	[RV_RESTART_ON_FAILURE] = "on-failure",
	[RV_RESTART_ALWAYS] = "always",
};

const char *rv_manifest_restart_name(enum rv_restart_policy policy)
{
	if ((unsigned int)policy >= RV_ARRAY_SIZE(restart_names))
		return "?";
	return restart_names[policy];
}

int rv_manifest_restart_parse(const char *text, enum rv_restart_policy *out)
{
	unsigned int i;

	for (i = 0; text && i < RV_ARRAY_SIZE(restart_names); i++) {
		if (strcmp(text, restart_names[i]) == 0) {
			*out = (enum rv_restart_policy)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void field_restart(struct rv__manifest_parse *ps, const char *path,
			  struct json_object *v)
{
	char d[DESCRIBE_LEN];
	const char *s = NULL, *hint = NULL;
	enum rv_restart_policy policy;

	if (json_object_is_type(v, json_type_string)) {
		s = json_object_get_string(v);
		/* An "always\u0000..." string must not pass as "always". */
		if (strlen(s) != (size_t)json_object_get_string_len(v))
			s = NULL;
		if (s && rv_manifest_restart_parse(s, &policy) == 0) {
			ps->cfg.restart = policy;
			return;
		}
		if (s)
			hint = rv_manifest_suggest(
				s, restart_names, RV_ARRAY_SIZE(restart_names));
	}
	if (hint)
		perr(ps,
		     "%s: expected \"no\", \"on-failure\" or \"always\", got %s (did you mean \"%s\"?)",
		     path, rv__manifest_describe(v, d, sizeof(d)), hint);
	else
		expected(ps, path, "\"no\", \"on-failure\" or \"always\"", v);
}

static const struct rv__manifest_field top_fields[] = {
	{ "raevm", field_version },
	{ "name", field_name },
	{ "cpus", field_cpus },
	{ "memory", field_memory },
	{ "cpu_template", field_cpu_template },
	{ "boot", field_boot },
	{ "hugepages", field_hugepages },
	{ "disks", field_disks },
	{ "rng", field_rng },
	{ "console", field_console },
	{ "autostart", field_autostart },
	{ "restart", field_restart },
	{ "net", rv__manifest_field_net },
	{ "vsock", rv__manifest_field_vsock },
	{ "ephemeral", rv__manifest_field_ephemeral },
	{ "limits", rv__manifest_field_limits },
	/* Described in DESIGN.md, implemented by a later version. */
	{ "devices", NULL },
};

/*
 * Checks "raevm". Returns false when the manifest claims a version this
 * build does not read: its other fields may mean something else, so they
 * are not judged.
 */
static bool check_version(struct rv__manifest_parse *ps,
			  struct json_object *root)
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
		     rv__manifest_describe(v, d, sizeof(d)),
		     RV_MANIFEST_VERSION_MAX);
		return false;
	}
	return true;
}

static void check_manifest(struct rv__manifest_parse *ps,
			   struct json_object *root)
{
	if (!json_object_is_type(root, json_type_object)) {
		char d[DESCRIBE_LEN];

		perr(ps, "expected a JSON object at the top level, got %s",
		     rv__manifest_describe(root, d, sizeof(d)));
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
	rv__manifest_check_limits(ps, root);
	/* 2 MiB pages cannot back a partial page. */
	if (ps->have_memory && ps->cfg.hugepages &&
	    ps->cfg.memory % RV_MANIFEST_HUGEPAGE_ALIGN)
		perr(ps,
		     "memory: must be a multiple of 2M when hugepages is true");
}

int rv_manifest_parse(const char *text, size_t len, const char *base_dir,
		      struct rv_vm_config *cfg, struct rv_manifest_errors *errs)
{
	struct rv__manifest_parse ps = {
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
	rc = rv__manifest_parse_json(&ps, &root);
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
