// SPDX-License-Identifier: Apache-2.0
/*
 * The daemon <-> worker control channel's pure parts: the line framer and
 * the message parser, over plain buffers (include/raevm/worker_proto.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "raevm/worker_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct lines {
	char got[8][64];
	size_t n;
	int fail_at; /* return -EPIPE for this line (1-based), 0: never */
};

static int collect(void *opaque, char *line, size_t len)
{
	struct lines *l = opaque;

	assert_int_equal(strlen(line), len);
	if (l->n < 8)
		snprintf(l->got[l->n], sizeof(l->got[0]), "%s", line);
	l->n++;
	return l->fail_at && (int)l->n == l->fail_at ? -EPIPE : 0;
}

static void framer_push__lines_across_chunks(void **state)
{
	struct rv_wp_framer f;
	struct lines l = { 0 };

	(void)state;
	rv_wp_framer_init(&f, 64);

	assert_int_equal(
		rv_wp_framer_push(&f, "{\"a\":1}\n{\"b\"", 12, collect, &l), 0);
	assert_int_equal(rv_wp_framer_push(&f, ":2}\n\n", 5, collect, &l), 0);

	assert_int_equal(l.n, 3);
	assert_string_equal(l.got[0], "{\"a\":1}");
	assert_string_equal(l.got[1], "{\"b\":2}");
	assert_string_equal(l.got[2], "");
	assert_int_equal(f.len, 0);
	rv_wp_framer_free(&f);
}

static void framer_push__line_too_long(void **state)
{
	struct rv_wp_framer f;
	struct lines l = { 0 };
	char big[40];

	(void)state;
	memset(big, 'x', sizeof(big));
	rv_wp_framer_init(&f, 32);

	/* 20 + 20 bytes without a newline pass the 32-byte limit. */
	assert_int_equal(rv_wp_framer_push(&f, big, 20, collect, &l), 0);
	assert_int_equal(rv_wp_framer_push(&f, big, 20, collect, &l),
			 -EMSGSIZE);

	assert_int_equal(l.n, 0);
	rv_wp_framer_free(&f);
}

static void framer_push__exactly_max_fits(void **state)
{
	struct rv_wp_framer f;
	struct lines l = { 0 };
	char buf[33];

	(void)state;
	memset(buf, 'y', 32);
	buf[32] = '\n';
	rv_wp_framer_init(&f, 32);

	assert_int_equal(rv_wp_framer_push(&f, buf, sizeof(buf), collect, &l),
			 0);

	assert_int_equal(l.n, 1);
	assert_int_equal(strlen(l.got[0]), 32);
	rv_wp_framer_free(&f);
}

static void framer_push__callback_error_stops(void **state)
{
	struct rv_wp_framer f;
	struct lines l = { .fail_at = 1 };

	(void)state;
	rv_wp_framer_init(&f, 64);

	assert_int_equal(rv_wp_framer_push(&f, "a\nb\nc\n", 6, collect, &l),
			 -EPIPE);

	assert_int_equal(l.n, 1);
	assert_string_equal(l.got[0], "a");
	rv_wp_framer_free(&f);
}

static void parse__object(void **state)
{
	const char *text = "{\"id\":7,\"cmd\":\"stop\",\"force\":true}";
	struct json_object *o, *v;

	(void)state;
	o = rv_wp_parse(text, strlen(text));

	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "id", &v));
	assert_int_equal(json_object_get_int(v), 7);
	json_object_put(o);
}

static void parse__rejects_non_objects(void **state)
{
	static const char *const bad[] = {
		"[1,2]",    "42",
		"\"stop\"", "{\"a\":1} trailing",
		"{\"a\":",  "{\"a\":[[[[[[[[[[1]]]]]]]]]]}",
		"",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *o = rv_wp_parse(bad[i], strlen(bad[i]));

		if (o)
			fail_msg("accepted '%s'", bad[i]);
	}
}

static void parse__rejects_embedded_nul(void **state)
{
	const char text[] = "{\"a\":1}\0{\"b\":2}";

	(void)state;
	assert_null(rv_wp_parse(text, sizeof(text) - 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(framer_push__lines_across_chunks),
		cmocka_unit_test(framer_push__line_too_long),
		cmocka_unit_test(framer_push__exactly_max_fits),
		cmocka_unit_test(framer_push__callback_error_stops),
		cmocka_unit_test(parse__object),
		cmocka_unit_test(parse__rejects_non_objects),
		cmocka_unit_test(parse__rejects_embedded_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
