// SPDX-License-Identifier: Apache-2.0
/*
 * What raevm prints: aligned tables and "key: value" blocks for people,
 * the daemon's result verbatim for scripts (--json), and the exit status
 * that goes with an error. Everything that reaches a terminal from the
 * daemon (names, reasons, console logs written by a guest) is sanitized:
 * a hostile guest must not be able to send escape sequences to the user's
 * terminal through `raevm logs` or `raevm events`.
 */
#include "cli.h"

#include "raevm/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* --------------------------------------------------------- exit statuses */

/*
 * The one table from wire error codes to exit statuses (raevm(1) "EXIT
 * STATUS"). Every other code is 1: the daemon refused or failed.
 */
static const struct {
	const char *code;
	int status;
} exit_codes[] = {
	{ "EACCES", RV_CLI_EXIT_DENIED },
	{ "EPERM", RV_CLI_EXIT_DENIED },
	{ "ENOENT", RV_CLI_EXIT_NOT_FOUND },
};

int rv_cli_exit_status(const char *code)
{
	size_t i;

	for (i = 0; code && i < RV_ARRAY_SIZE(exit_codes); i++)
		if (strcmp(exit_codes[i].code, code) == 0)
			return exit_codes[i].status;
	return RV_CLI_EXIT_ERROR;
}

int rv_cli_exit_from_errno(int err)
{
	switch (-err) {
	case 0:
		return RV_CLI_EXIT_OK;
	case EINVAL:
		return RV_CLI_EXIT_USAGE;
	case ENOENT:
	case ENOTDIR:
		return RV_CLI_EXIT_NOT_FOUND;
	case EACCES:
	case EPERM:
		return RV_CLI_EXIT_DENIED;
	default:
		return RV_CLI_EXIT_ERROR;
	}
}

/* ---------------------------------------------------------- sanitizing */

/*
 * Length of the valid UTF-8 sequence at s (at most len bytes) that encodes
 * a printable code point (U+00A0 and up, no surrogates), or 0.
 */
static size_t utf8_printable(const unsigned char *s, size_t len)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* C1 controls, overlong forms, surrogates and beyond U+10FFFF. */
	if (cp < 0xa0 || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/*
 * Writes the clean form of the unit at s into out (at most 16 bytes) and
 * returns how many input bytes it took. lines keeps newlines, carriage
 * returns and tabs.
 */
static size_t clean_unit(const unsigned char *s, size_t len, bool lines,
			 char *out, size_t *outlen)
{
	size_t n;

	if (s[0] >= 0x20 && s[0] < 0x7f) {
		out[0] = (char)s[0];
		*outlen = 1;
		return 1;
	}
	/* Serial consoles end lines with CR LF: keep both in text. */
	if (lines && (s[0] == '\n' || s[0] == '\t' || s[0] == '\r')) {
		out[0] = (char)s[0];
		*outlen = 1;
		return 1;
	}
	n = s[0] >= 0x80 ? utf8_printable(s, len) : 0;
	if (n) {
		memcpy(out, s, n);
		*outlen = n;
		return n;
	}
	*outlen = (size_t)snprintf(out, 16, "\\x%02x", s[0]);
	return 1;
}

const char *rv_cli_sanitize(const char *s, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t len = strlen((const char *)p), o = 0, n, on;
	char unit[16];

	if (!size)
		return buf;
	while (len) {
		n = clean_unit(p, len, false, unit, &on);
		/* Keep room for "..." when the text is cut. */
		if (o + on + 4 > size) {
			if (o + 4 <= size) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(buf + o, unit, on);
		o += on;
		p += n;
		len -= n;
	}
	buf[o < size ? o : size - 1] = '\0';
	return buf;
}

/* A sanitized malloc'd copy; NULL only when memory runs out. */
static char *clean_dup(const char *s)
{
	size_t size = strlen(s ? s : "") * 4 + 4;
	char *buf = malloc(size);

	if (buf)
		rv_cli_sanitize(s, buf, size);
	return buf;
}

/* Characters a terminal shows for s: UTF-8 continuation bytes take none. */
static size_t display_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

/* ------------------------------------------------------------ formatting */

const char *rv_cli_format_size(uint64_t bytes, char *buf, size_t size)
{
	static const char units[] = "BKMGTPE";
	uint64_t scale = 1;
	int u = 0;

	while (u < 6 && bytes >= scale * 1024) {
		scale *= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%" PRIu64 "B", bytes);
	else if (bytes % scale == 0)
		snprintf(buf, size, "%" PRIu64 "%c", bytes / scale, units[u]);
	else
		/* One decimal, rounded down so a size never reads larger. */
		snprintf(buf, size, "%" PRIu64 ".%" PRIu64 "%c", bytes / scale,
			 (bytes % scale) * 10 / scale, units[u]);
	return buf;
}

const char *rv_cli_format_duration(uint64_t s, char *buf, size_t size)
{
	if (s < 60)
		snprintf(buf, size, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(buf, size, "%" PRIu64 "m", s / 60);
	else if (s < 86400)
		snprintf(buf, size, "%" PRIu64 "h %" PRIu64 "m", s / 3600,
			 s % 3600 / 60);
	else
		snprintf(buf, size, "%" PRIu64 "d %" PRIu64 "h", s / 86400,
			 s % 86400 / 3600);
	return buf;
}

/* Prints one row; the padding of empty trailing cells is not printed. */
static void print_row(FILE *f, size_t ncols, const size_t *width,
		      const char *const *row, unsigned int right_mask)
{
	size_t c, w, last = 0;
	char *clean;

	for (c = 0; c < ncols; c++)
		if (row[c] && row[c][0])
			last = c;
	for (c = 0; c <= last; c++) {
		bool right = right_mask & (1u << c);

		clean = clean_dup(row[c]);
		if (!clean)
			break;
		w = display_width(clean);
		if (c)
			fputs("  ", f);
		if (right)
			fprintf(f, "%*s", (int)(width[c] - w), "");
		fputs(clean, f);
		/* The last column gets no padding: no trailing blanks. */
		if (!right && c < last)
			fprintf(f, "%*s", (int)(width[c] - w), "");
		free(clean);
	}
	fputc('\n', f);
}

void rv_cli_print_table(FILE *f, size_t ncols, const char *const *header,
			const char *const *cells, size_t nrows,
			unsigned int right_mask)
{
	size_t width[16] = { 0 }, r, c, w;
	char *clean;

	if (ncols > RV_ARRAY_SIZE(width))
		ncols = RV_ARRAY_SIZE(width);
	for (c = 0; c < ncols; c++)
		width[c] = display_width(header[c]);
	for (r = 0; r < nrows; r++) {
		for (c = 0; c < ncols; c++) {
			clean = clean_dup(cells[r * ncols + c]);
			w = clean ? display_width(clean) : 0;
			if (w > width[c])
				width[c] = w;
			free(clean);
		}
	}
	print_row(f, ncols, width, header, right_mask);
	for (r = 0; r < nrows; r++)
		print_row(f, ncols, width, &cells[r * ncols], right_mask);
}

static const char *get_string(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o && json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static bool get_int(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return false;
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
		return true;
	}
	if (json_object_is_type(v, json_type_double)) {
		*out = (int64_t)json_object_get_double(v);
		return true;
	}
	return false;
}

/* A size given as bytes or as text ("1G"), for a table cell. */
static const char *size_cell(struct json_object *o, const char *key, char *buf,
			     size_t size)
{
	const char *s = get_string(o, key);
	int64_t n;

	if (s)
		return s;
	if (get_int(o, key, &n) && n >= 0)
		return rv_cli_format_size((uint64_t)n, buf, size);
	return "-";
}

/* --------------------------------------------------------------- results */

/* The VM array of a vm.list result: the result itself or its "vms". */
static struct json_object *vm_array(struct json_object *result)
{
	struct json_object *vms;

	if (json_object_is_type(result, json_type_array))
		return result;
	if (json_object_is_type(result, json_type_object) &&
	    json_object_object_get_ex(result, "vms", &vms) &&
	    json_object_is_type(vms, json_type_array))
		return vms;
	return NULL;
}

int rv_cli_print_list(FILE *f, struct json_object *result)
{
	static const char *const header[] = { "NAME", "STATE", "CPUS", "MEMORY",
					      "UPTIME" };
	enum { NCOLS = 5 };
	struct json_object *vms = vm_array(result);
	size_t n, i;
	const char **cells;
	char(*bufs)[3][32];
	int64_t v;

	if (!vms) {
		rv_error("the daemon's list has no VM array");
		return -EPROTO;
	}
	n = json_object_array_length(vms);
	cells = calloc(n * NCOLS + 1, sizeof(*cells));
	bufs = calloc(n + 1, sizeof(*bufs));
	if (!cells || !bufs) {
		free(cells);
		free(bufs);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct json_object *vm = json_object_array_get_idx(vms, i);
		const char **row = &cells[i * NCOLS];
		const char *state = get_string(vm, "state");

		row[0] = get_string(vm, "name");
		row[1] = state;
		row[2] = "-";
		if (get_int(vm, "cpus", &v)) {
			snprintf(bufs[i][0], sizeof(bufs[i][0]), "%" PRId64, v);
			row[2] = bufs[i][0];
		}
		row[3] =
			size_cell(vm, "memory", bufs[i][1], sizeof(bufs[i][1]));
		row[4] = "-";
		if ((get_int(vm, "uptime", &v) ||
		     get_int(vm, "uptime_s", &v)) &&
		    v >= 0 &&
		    (!state || strcmp(state, "running") == 0 ||
		     strcmp(state, "paused") == 0))
			row[4] = rv_cli_format_duration((uint64_t)v, bufs[i][2],
							sizeof(bufs[i][2]));
		if (!row[0])
			row[0] = "?";
		if (!row[1])
			row[1] = "?";
	}
	rv_cli_print_table(f, NCOLS, header, cells, n, 1u << 2);
	free(cells);
	free(bufs);
	return 0;
}

/* "key: value" pairs collected before printing, for the alignment. */
struct kv {
	char **keys, **vals;
	size_t n, cap;
};

static void kv_add(struct kv *kv, const char *key, const char *val)
{
	if (kv->n == kv->cap) {
		size_t cap = kv->cap ? kv->cap * 2 : 16;
		char **k = realloc(kv->keys, cap * sizeof(*k));
		char **v;

		if (!k)
			return;
		kv->keys = k;
		v = realloc(kv->vals, cap * sizeof(*v));
		if (!v)
			return;
		kv->vals = v;
		kv->cap = cap;
	}
	kv->keys[kv->n] = clean_dup(key);
	kv->vals[kv->n] = clean_dup(val);
	if (!kv->keys[kv->n] || !kv->vals[kv->n]) {
		free(kv->keys[kv->n]);
		free(kv->vals[kv->n]);
		return;
	}
	kv->n++;
}

static bool is_scalar(struct json_object *v)
{
	return !json_object_is_type(v, json_type_object) &&
	       !json_object_is_type(v, json_type_array);
}

/* True for the keys whose integers are Unix times (docs/api.md). */
static bool is_time_key(const char *leaf)
{
	size_t len = strlen(leaf);

	return strcmp(leaf, "created") == 0 || strcmp(leaf, "since") == 0 ||
	       (len > 3 && strcmp(leaf + len - 3, "_at") == 0);
}

/*
 * Formats a scalar for people: sizes, durations and times by their key's
 * name ("memory", "uptime", "created"), the rest as JSON would write it.
 */
static const char *scalar(const char *key, struct json_object *v, char *buf,
			  size_t size)
{
	const char *leaf = strrchr(key, '.');

	leaf = leaf ? leaf + 1 : key;
	if (!v)
		return "-";
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	if (json_object_is_type(v, json_type_int)) {
		int64_t n = json_object_get_int64(v);
		time_t t = (time_t)n;
		struct tm tm;

		if (n >= 0 && strcmp(leaf, "memory") == 0)
			return rv_cli_format_size((uint64_t)n, buf, size);
		if (n >= 0 && (strcmp(leaf, "uptime") == 0 ||
			       strcmp(leaf, "uptime_s") == 0))
			return rv_cli_format_duration((uint64_t)n, buf, size);
		if (is_time_key(leaf)) {
			if (n <= 0)
				return "-";
			if (localtime_r(&t, &tm) &&
			    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
				return buf;
		}
	}
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

static void flatten(struct kv *kv, const char *prefix, struct json_object *v)
{
	char key[256], buf[64];
	size_t i, n;

	if (json_object_is_type(v, json_type_object)) {
		if (json_object_object_length(v) == 0 && prefix[0])
			kv_add(kv, prefix, "-");
		json_object_object_foreach(v, k, child)
		{
			snprintf(key, sizeof(key), "%s%s%s", prefix,
				 prefix[0] ? "." : "", k);
			flatten(kv, key, child);
		}
		return;
	}
	if (json_object_is_type(v, json_type_array)) {
		bool scalars = true;
		char *joined = NULL;
		size_t len = 0;
		FILE *m;

		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			if (!is_scalar(json_object_array_get_idx(v, i)))
				scalars = false;
		if (n == 0 || scalars) {
			/* Short lists of plain values read best on one line. */
			m = open_memstream(&joined, &len);
			if (!m)
				return;
			for (i = 0; i < n; i++)
				fprintf(m, "%s%s", i ? ", " : "",
					scalar(prefix,
					       json_object_array_get_idx(v, i),
					       buf, sizeof(buf)));
			if (n == 0)
				fputs("-", m);
			fclose(m);
			kv_add(kv, prefix, joined);
			free(joined);
			return;
		}
		for (i = 0; i < n; i++) {
			snprintf(key, sizeof(key), "%s[%zu]", prefix, i);
			flatten(kv, key, json_object_array_get_idx(v, i));
		}
		return;
	}
	kv_add(kv, prefix, scalar(prefix, v, buf, sizeof(buf)));
}

void rv_cli_print_object(FILE *f, struct json_object *result)
{
	struct kv kv = { 0 };
	size_t i, w = 0;

	if (!result)
		return;
	if (!json_object_is_type(result, json_type_object) &&
	    !json_object_is_type(result, json_type_array)) {
		char buf[64];

		kv_add(&kv, "", scalar("", result, buf, sizeof(buf)));
		if (kv.n)
			fprintf(f, "%s\n", kv.vals[0]);
		goto out;
	}
	flatten(&kv, "", result);
	for (i = 0; i < kv.n; i++)
		if (display_width(kv.keys[i]) > w)
			w = display_width(kv.keys[i]);
	for (i = 0; i < kv.n; i++) {
		/* An empty value leaves no trailing blanks. */
		if (!kv.vals[i][0])
			fprintf(f, "%s:\n", kv.keys[i]);
		else
			fprintf(f, "%s:%*s %s\n", kv.keys[i],
				(int)(w - display_width(kv.keys[i])), "",
				kv.vals[i]);
	}
out:
	for (i = 0; i < kv.n; i++) {
		free(kv.keys[i]);
		free(kv.vals[i]);
	}
	free(kv.keys);
	free(kv.vals);
}

/* Writes text, sanitized but for newlines and tabs when asked. */
static void write_text(FILE *f, const char *s, size_t len, bool sanitize)
{
	const unsigned char *p = (const unsigned char *)s;
	char unit[16];
	size_t n, on;

	if (!sanitize) {
		fwrite(s, 1, len, f);
		return;
	}
	while (len) {
		n = clean_unit(p, len, true, unit, &on);
		fwrite(unit, 1, on, f);
		p += n;
		len -= n;
	}
}

int rv_cli_print_logs(FILE *f, struct json_object *result, bool sanitize)
{
	static const char *const text_keys[] = { "text", "data", "log" };
	struct json_object *v;
	size_t i, n;

	if (json_object_is_type(result, json_type_object) &&
	    json_object_object_get_ex(result, "lines", &v) &&
	    json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			struct json_object *l = json_object_array_get_idx(v, i);
			const char *s = json_object_get_string(l);

			write_text(f, s ? s : "", s ? strlen(s) : 0, sanitize);
			fputc('\n', f);
		}
		return 0;
	}
	for (i = 0; i < RV_ARRAY_SIZE(text_keys); i++) {
		if (json_object_is_type(result, json_type_object) &&
		    json_object_object_get_ex(result, text_keys[i], &v) &&
		    json_object_is_type(v, json_type_string)) {
			write_text(f, json_object_get_string(v),
				   (size_t)json_object_get_string_len(v),
				   sanitize);
			return 0;
		}
	}
	rv_error("the daemon's logs result has no text");
	return -EPROTO;
}

void rv_cli_print_version(FILE *f, struct json_object *result)
{
	const char *v = get_string(result, "version");
	char b[128];
	int64_t proto;

	fprintf(f, "raevm   %s (protocol %d)\n", RAEVM_VERSION,
		RV_API_PROTOCOL);
	if (!result)
		return;
	if (!get_int(result, "protocol", &proto))
		proto = RV_API_PROTOCOL;
	fprintf(f, "raevmd  %s (protocol %" PRId64 ")\n",
		rv_cli_sanitize(v ? v : "?", b, sizeof(b)), proto);
}

/*
 * Turns an RFC 3339 time ("2025-11-22T10:00:00.123Z", "...+01:00") or
 * seconds since the epoch into local "YYYY-MM-DD HH:MM:SS"; false when
 * ts is neither.
 */
static bool local_time(struct json_object *ts, char *buf, size_t size)
{
	struct tm tm = { 0 };
	const char *s, *p;
	time_t t;
	long off = 0;

	if (json_object_is_type(ts, json_type_int) ||
	    json_object_is_type(ts, json_type_double)) {
		double d = json_object_get_double(ts);

		/* Milliseconds when it is too large to be seconds. */
		t = (time_t)(d > 1e11 ? d / 1000 : d);
	} else if (json_object_is_type(ts, json_type_string)) {
		s = json_object_get_string(ts);
		p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
		if (!p)
			return false;
		if (*p == '.')
			for (p++; *p >= '0' && *p <= '9'; p++)
				;
		if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':')
			off = (p[0] == '-' ? -1 : 1) *
			      (((p[1] - '0') * 10 + (p[2] - '0')) * 3600 +
			       ((p[4] - '0') * 10 + (p[5] - '0')) * 60);
		else if (strcmp(p, "Z") != 0 && strcmp(p, "z") != 0)
			return false;
		t = timegm(&tm) - off;
	} else {
		return false;
	}
	if (!localtime_r(&t, &tm))
		return false;
	return strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) > 0;
}

const char *rv_cli_format_event(struct json_object *event, char *buf,
				size_t size)
{
	struct json_object *data = NULL, *ts = NULL;
	const char *name, *vm, *state, *reason;
	char tb[64], c[4][256];
	size_t len;

	json_object_object_get_ex(event, "data", &data);
	json_object_object_get_ex(event, "ts", &ts);
	name = get_string(event, "event");
	vm = get_string(data, "name");
	if (!vm)
		vm = get_string(data, "vm");
	state = get_string(data, "state");
	/* Events other than state changes show their own name there. */
	if (!state || (name && strcmp(name, "vm.state") != 0))
		state = name;
	reason = get_string(data, "reason");
	if (!local_time(ts, tb, sizeof(tb)))
		snprintf(tb, sizeof(tb), "%s",
			 ts ? json_object_get_string(ts) : "-");
	snprintf(buf, size, "%-19s  %-16s  %-10s  %s",
		 rv_cli_sanitize(tb, c[0], sizeof(c[0])),
		 rv_cli_sanitize(vm ? vm : "-", c[1], sizeof(c[1])),
		 rv_cli_sanitize(state ? state : "-", c[2], sizeof(c[2])),
		 rv_cli_sanitize(reason ? reason : "", c[3], sizeof(c[3])));
	len = strlen(buf);
	while (len && buf[len - 1] == ' ')
		buf[--len] = '\0';
	return buf;
}

/* Past tense for the people output of a command that changes a VM. */
static const struct {
	const char *cli;
	const char *done;
} done_words[] = {
	{ "create", "created" },    { "start", "started" },
	{ "stop", "stopped" },	    { "kill", "killed" },
	{ "pause", "paused" },	    { "resume", "resumed" },
	{ "restart", "restarted" }, { "delete", "deleted" },
	{ "set", "updated" },	    { "export", "exported" },
	{ "import", "imported" },
};

int rv_cli_print_result(FILE *f, const struct rv_api_cmd *cmd,
			struct json_object *args, struct json_object *result)
{
	struct json_object *m = NULL;
	const char *name, *path;
	char nb[256], pb[1024];
	size_t i;

	if (strcmp(cmd->name, "vm.list") == 0)
		return rv_cli_print_list(f, result);
	if (strcmp(cmd->name, "vm.logs") == 0)
		return rv_cli_print_logs(f, result, isatty(fileno(f)));
	if (strcmp(cmd->name, "daemon.version") == 0) {
		rv_cli_print_version(f, result);
		return 0;
	}
	for (i = 0; i < RV_ARRAY_SIZE(done_words); i++)
		if (strcmp(cmd->cli, done_words[i].cli) == 0)
			break;
	if (i == RV_ARRAY_SIZE(done_words)) {
		rv_cli_print_object(f, result);
		return 0;
	}
	/* The daemon's name wins: import may have chosen one. */
	name = get_string(result, "name");
	if (!name)
		name = get_string(args, "name");
	if (!name && json_object_object_get_ex(args, "manifest", &m))
		name = get_string(m, "name");
	fprintf(f, "%s %s", done_words[i].done,
		rv_cli_sanitize(name ? name : "the VM", nb, sizeof(nb)));
	/* create --start: the daemon says whether it started too. */
	if (json_object_get_boolean(json_object_object_get(result, "started")))
		fputs(" and started it", f);
	path = get_string(args, "path");
	if (path && strcmp(cmd->name, "vm.export") == 0)
		fprintf(f, " to %s", rv_cli_sanitize(path, pb, sizeof(pb)));
	if (path && strcmp(cmd->name, "vm.import") == 0)
		fprintf(f, " from %s", rv_cli_sanitize(path, pb, sizeof(pb)));
	fputc('\n', f);
	return 0;
}

void rv_cli_print_json(FILE *f, struct json_object *result)
{
	const char *s = json_object_to_json_string_ext(
		result,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	fprintf(f, "%s\n", s ? s : "null");
}
