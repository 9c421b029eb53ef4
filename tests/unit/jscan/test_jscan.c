// SPDX-License-Identifier: Apache-2.0
/* The strict JSON scanner shared by requests and manifests (jscan.c). */
#include "raevm/jscan.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

struct log {
	char syntax[128];
	size_t syntax_off;
	unsigned int nr_syntax;
	char dups[512];
	unsigned int nr_dups;
	int dup_ret;
};

static void on_syntax(void *opaque, size_t off, const char *what)
{
	struct log *l = opaque;

	snprintf(l->syntax, sizeof(l->syntax), "%s", what);
	l->syntax_off = off;
	l->nr_syntax++;
}

static int on_dup(void *opaque, const char *path, const char *key,
		  size_t key_len, size_t off, size_t first_off)
{
	struct log *l = opaque;
	size_t n = strlen(l->dups);

	snprintf(l->dups + n, sizeof(l->dups) - n, "%s/%.*s@%zu<%zu;", path,
		 (int)key_len, key, off, first_off);
	l->nr_dups++;
	return l->dup_ret;
}

static void add_key(char *buf, size_t size, const char *key, size_t key_len)
{
	size_t n = strlen(buf);

	snprintf(buf + n, size - n, "%s%.*s", n ? "." : "", (int)key_len, key);
}

static const struct rv_jscan_ops ops = {
	.syntax = on_syntax,
	.dup_key = on_dup,
	.path_key = add_key,
};

static int scan(const char *text, unsigned int depth, struct log *l,
		size_t *end)
{
	return rv_jscan(text, strlen(text), 0, depth, &ops, l, end);
}

static void rv_jscan__valid_value_sets_end_past_white_space(void **state)
{
	struct log l = { 0 };
	size_t end = 0;
	static const char text[] =
		" {\"a\": [1, -2.5e3, true, null, \"x\\u00e9\"]} ";

	(void)state;
	assert_int_equal(scan(text, 4, &l, &end), 0);
	assert_int_equal(end, sizeof(text) - 1);
	assert_int_equal(l.nr_syntax, 0);
	assert_int_equal(l.nr_dups, 0);
}

static void rv_jscan__trailing_text_is_left_to_the_caller(void **state)
{
	struct log l = { 0 };
	size_t end = 0;

	(void)state;
	assert_int_equal(scan("{} x", 4, &l, &end), 0);
	assert_int_equal(end, 3);
}

static void rv_jscan__bare_word_is_named(void **state)
{
	struct log l = { 0 };
	size_t end;

	(void)state;
	assert_int_equal(scan("{\"a\": NaN}", 4, &l, &end), -EBADMSG);
	assert_string_equal(l.syntax, "unexpected 'NaN'");
	assert_int_equal(l.syntax_off, 6);
}

static void rv_jscan__depth_limit(void **state)
{
	struct log l = { 0 };
	size_t end;

	(void)state;
	assert_int_equal(scan("[[[]]]", 3, &l, &end), 0);
	assert_int_equal(scan("[[[[]]]]", 3, &l, &end), -EBADMSG);
	assert_string_equal(l.syntax, "nesting too deep");
	assert_int_equal(l.syntax_off, 3);
}

static void rv_jscan__every_repeat_reported_with_its_path(void **state)
{
	struct log l = { 0 };
	size_t end;

	(void)state;
	assert_int_equal(
		scan("{\"a\": [{\"k\": 1, \"k\": 2, \"k\": 3}], \"b\": 0, \"b\": 1}",
		     4, &l, &end),
		0);
	assert_int_equal(l.nr_dups, 3);
	assert_string_equal(l.dups, "a[0]/k@16<8;a[0]/k@24<8;/b@42<34;");
}

static void rv_jscan__dup_callback_can_stop_the_scan(void **state)
{
	struct log l = { .dup_ret = 1 };
	size_t end;

	(void)state;
	assert_int_equal(scan("{\"x\": 1, \"x\": 2, \"x\": 3}", 4, &l, &end),
			 -EBADMSG);
	assert_int_equal(l.nr_dups, 1);
}

static void rv_jscan__escaped_keys_compare_decoded(void **state)
{
	struct log l = { 0 };
	size_t end;

	(void)state;
	assert_int_equal(scan("{\"a\": 1, \"\\u0061\": 2}", 4, &l, &end), 0);
	assert_int_equal(l.nr_dups, 1);
}

static void rv_jscan__nul_escape_in_key_refused(void **state)
{
	struct log l = { 0 };
	size_t end;

	(void)state;
	assert_int_equal(scan("{\"a\\u0000b\": 1}", 4, &l, &end), -EBADMSG);
	assert_string_equal(l.syntax, "object keys must not contain \\u0000");
}

static void rv_jscan__unpaired_surrogate_refused(void **state)
{
	struct log l = { 0 };
	size_t end;

	(void)state;
	assert_int_equal(scan("\"\\ud800x\"", 4, &l, &end), -EBADMSG);
	assert_string_equal(l.syntax, "unpaired UTF-16 surrogate escape");
	assert_int_equal(l.syntax_off, 1);
}

static void rv_jscan__truncated_object(void **state)
{
	struct log l = { 0 };
	size_t end;

	(void)state;
	assert_int_equal(scan("{\"a\": 1,", 4, &l, &end), -EBADMSG);
	assert_string_equal(l.syntax, "unexpected end of data");
	assert_int_equal(scan("{\"a\"", 4, &l, &end), -EBADMSG);
	assert_string_equal(l.syntax, "unexpected end of data");
}

static void rv_jscan__malformed_numbers(void **state)
{
	static const char *const bad[] = { "01", "1.", "-", "1e", "1x", ".5" };
	size_t i, end;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct log l = { 0 };

		assert_int_equal(scan(bad[i], 4, &l, &end), -EBADMSG);
		assert_int_equal(l.nr_syntax, 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			rv_jscan__valid_value_sets_end_past_white_space),
		cmocka_unit_test(rv_jscan__trailing_text_is_left_to_the_caller),
		cmocka_unit_test(rv_jscan__bare_word_is_named),
		cmocka_unit_test(rv_jscan__depth_limit),
		cmocka_unit_test(rv_jscan__every_repeat_reported_with_its_path),
		cmocka_unit_test(rv_jscan__dup_callback_can_stop_the_scan),
		cmocka_unit_test(rv_jscan__escaped_keys_compare_decoded),
		cmocka_unit_test(rv_jscan__nul_escape_in_key_refused),
		cmocka_unit_test(rv_jscan__unpaired_surrogate_refused),
		cmocka_unit_test(rv_jscan__truncated_object),
		cmocka_unit_test(rv_jscan__malformed_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
