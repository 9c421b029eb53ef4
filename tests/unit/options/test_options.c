// SPDX-License-Identifier: Apache-2.0
/*
 * `raevmd run` option tests. Errors are checked as the exact text written
 * to stderr (captured by pointing fd 2 at a temporary file), which also
 * proves that each bad flag costs exactly one line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../../../src/worker/worker.h"

#include "raevm/config.h"
#include "raevm/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ARGS 16

struct call {
	char *argv[MAX_ARGS + 1];
	int argc;
	struct rv_run_options opts;
	int rc;
	char *out; /* what the call wrote to stdout */
	char *err; /* what the call wrote to stderr */
};

static char *read_back(FILE *tmp)
{
	long n;
	char *text;

	fflush(tmp);
	n = lseek(fileno(tmp), 0, SEEK_END);
	assert_true(n >= 0);
	text = calloc(1, (size_t)n + 1);
	assert_non_null(text);
	assert_int_equal(pread(fileno(tmp), text, (size_t)n, 0), n);
	fclose(tmp);
	return text;
}

/*
 * Runs rv_run_options_parse over "run" and the NULL-terminated arguments,
 * with stdout and stderr captured into c->out and c->err.
 */
static void call(struct call *c, ...)
{
	FILE *out = tmpfile(), *err = tmpfile();
	int saved_out, saved_err;
	const char *arg;
	va_list ap;

	assert_non_null(out);
	assert_non_null(err);
	memset(c, 0, sizeof(*c));
	c->argv[c->argc++] = strdup("run");
	va_start(ap, c);
	while ((arg = va_arg(ap, const char *)) != NULL) {
		assert_true(c->argc < MAX_ARGS);
		c->argv[c->argc++] = strdup(arg);
	}
	va_end(ap);
	fflush(stdout);
	fflush(stderr);
	saved_out = dup(STDOUT_FILENO);
	saved_err = dup(STDERR_FILENO);
	assert_true(saved_out >= 0 && saved_err >= 0);
	assert_true(dup2(fileno(out), STDOUT_FILENO) >= 0);
	assert_true(dup2(fileno(err), STDERR_FILENO) >= 0);
	c->rc = rv_run_options_parse(c->argc, c->argv, &c->opts);
	fflush(stdout);
	fflush(stderr);
	assert_true(dup2(saved_out, STDOUT_FILENO) >= 0);
	assert_true(dup2(saved_err, STDERR_FILENO) >= 0);
	close(saved_out);
	close(saved_err);
	c->out = read_back(out);
	c->err = read_back(err);
}

static void call_done(struct call *c)
{
	int i;

	rv_run_options_free(&c->opts);
	for (i = 0; i < c->argc; i++)
		free(c->argv[i]);
	free(c->out);
	free(c->err);
}

/* Expects rc and exactly the error text err (with the program prefix). */
static void expect_error(struct call *c, int rc, const char *err)
{
	assert_int_equal(c->rc, rc);
	assert_string_equal(c->err, err);
	assert_string_equal(c->out, "");
	/* Nothing may be left allocated after a failure. */
	assert_null(c->opts.cfg.kernel);
	assert_null(c->opts.cfg.name);
	call_done(c);
}

static char tmp_dir[] = "/tmp/raevm-test-options-XXXXXX";

/* Writes a manifest into the test folder; returns its malloc'd path. */
static char *write_manifest(const char *name, const char *text)
{
	char *path;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", tmp_dir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	return path;
}

static int setup(void **state)
{
	(void)state;
	rv_log_set_prog("raevmd");
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void rv_run_options_parse__kernel_only_gives_defaults(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "guest.elf", NULL);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.err, "");
	assert_string_equal(c.opts.cfg.kernel, "guest.elf");
	assert_null(c.opts.cfg.initrd);
	assert_null(c.opts.cfg.cmdline);
	assert_null(c.opts.cfg.name);
	assert_null(c.opts.cfg.cpu_template);
	assert_null(c.opts.manifest);
	assert_int_equal(c.opts.cfg.cpus, RV_CONFIG_DEFAULT_CPUS);
	assert_int_equal(c.opts.cfg.memory, RV_CONFIG_DEFAULT_MEMORY);
	assert_false(c.opts.cfg.hugepages);
	assert_false(c.opts.cfg.memfd);
	assert_int_equal(c.opts.log_level, RV_LOG_WARN);
	call_done(&c);
}

static void rv_run_options_parse__every_flag(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k.elf", "--initrd", "rd.img", "--cmdline",
	     "console=ttyS0 quiet", "--cpus", "4", "--memory", "2G",
	     "--cpu-template", "baseline", "--hugepages", "--memfd", NULL);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.err, "");
	assert_string_equal(c.opts.cfg.kernel, "k.elf");
	assert_string_equal(c.opts.cfg.initrd, "rd.img");
	assert_string_equal(c.opts.cfg.cmdline, "console=ttyS0 quiet");
	assert_int_equal(c.opts.cfg.cpus, 4);
	assert_int_equal(c.opts.cfg.memory, 2ULL << 30);
	assert_string_equal(c.opts.cfg.cpu_template, "baseline");
	assert_true(c.opts.cfg.hugepages);
	assert_true(c.opts.cfg.memfd);
	call_done(&c);
}

static void rv_run_options_parse__equals_form(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel=k", "--cpus=3", "--memory=64M", "--cmdline=a=b",
	     "--cmdline=", NULL);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.opts.cfg.kernel, "k");
	assert_int_equal(c.opts.cfg.cpus, 3);
	assert_int_equal(c.opts.cfg.memory, 64ULL << 20);
	/* The last --cmdline wins, and an empty command line is allowed. */
	assert_string_equal(c.opts.cfg.cmdline, "");
	call_done(&c);
}

static void rv_run_options_parse__last_flag_wins(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--cpus", "2", "--kernel", "a", "--cpus", "8", "--kernel", "b",
	     NULL);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.opts.cfg.cpus, 8);
	assert_string_equal(c.opts.cfg.kernel, "b");
	call_done(&c);
}

static void rv_run_options_parse__manifest_alone(void **state)
{
	char *path = write_manifest(
		"m.raeVM",
		"{\"raevm\": 1, \"name\": \"web\", \"cpus\": 2, \"memory\": \"1G\","
		" \"boot\": {\"kernel\": \"/k\", \"cmdline\": \"console=ttyS0\"}}");
	struct call c;

	(void)state;
	call(&c, path, NULL);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.err, "");
	assert_ptr_equal(c.opts.manifest, c.argv[1]);
	assert_string_equal(c.opts.cfg.name, "web");
	assert_string_equal(c.opts.cfg.kernel, "/k");
	assert_string_equal(c.opts.cfg.cmdline, "console=ttyS0");
	assert_int_equal(c.opts.cfg.cpus, 2);
	assert_int_equal(c.opts.cfg.memory, 1ULL << 30);
	call_done(&c);
	free(path);
}

/* Flags win over the manifest whether they come before or after it. */
static void rv_run_options_parse__flags_override_manifest(void **state)
{
	char *path = write_manifest(
		"o.raeVM",
		"{\"raevm\": 1, \"name\": \"web\", \"cpus\": 2, \"memory\": \"1G\","
		" \"cpu_template\": \"host\", \"boot\": {\"kernel\": \"/k\","
		" \"initrd\": \"/i\", \"cmdline\": \"console=ttyS0\"}}");
	struct call c;

	(void)state;
	call(&c, "--cpus", "4", path, "--kernel", "other.elf", "--cmdline",
	     "quiet", "--cpu-template", "baseline", NULL);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.opts.cfg.name, "web");
	assert_string_equal(c.opts.cfg.kernel, "other.elf");
	assert_string_equal(c.opts.cfg.initrd, "/i");
	assert_string_equal(c.opts.cfg.cmdline, "quiet");
	assert_string_equal(c.opts.cfg.cpu_template, "baseline");
	assert_int_equal(c.opts.cfg.cpus, 4);
	assert_int_equal(c.opts.cfg.memory, 1ULL << 30);
	call_done(&c);
	free(path);
}

static void
rv_run_options_parse__manifest_hugepages_with_flag_memory(void **state)
{
	char *path = write_manifest(
		"h.raeVM",
		"{\"raevm\": 1, \"name\": \"h\", \"hugepages\": true,"
		" \"boot\": {\"kernel\": \"/k\"}}");
	struct call c;

	(void)state;
	call(&c, path, "--memory", "1025M", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --memory: '1025M' is not a multiple of 2M, which hugepages need\n");
	free(path);
}

static void rv_run_options_parse__manifest_errors_are_reported(void **state)
{
	char *path = write_manifest(
		"bad.raeVM", "{\"raevm\": 1, \"name\": \"b\", \"cpus\": 0,"
			     " \"boot\": {\"kernal\": \"k\"}}");
	char *want;
	struct call c;

	(void)state;
	assert_true(
		asprintf(
			&want,
			"raevmd: %s: cpus: expected an integer from 1 to 254, got 0\n"
			"raevmd: %s: boot.kernal: unknown key (did you mean \"kernel\"?)\n"
			"raevmd: %s: boot.kernel: missing (the kernel to boot is required)\n",
			path, path, path) > 0);
	/* A --kernel flag does not excuse an invalid manifest. */
	call(&c, path, "--kernel", "k", NULL);
	expect_error(&c, -EINVAL, want);
	free(want);
	free(path);
}

static void rv_run_options_parse__manifest_missing(void **state)
{
	struct call c;

	(void)state;
	call(&c, "/nonexistent/vm.raeVM", NULL);
	expect_error(
		&c, -ENOENT,
		"raevmd: /nonexistent/vm.raeVM: cannot read it: No such file or directory\n");
}

static void rv_run_options_parse__double_dash_ends_flags(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--", "--odd.raeVM", NULL);
	expect_error(
		&c, -ENOENT,
		"raevmd: --odd.raeVM: cannot read it: No such file or directory\n");
}

static void rv_run_options_parse__log_levels(void **state)
{
	static const struct {
		const char *a, *b;
		enum rv_log_level want;
	} cases[] = {
		{ "-v", NULL, RV_LOG_INFO },
		{ "-v", "--verbose", RV_LOG_DEBUG },
		{ "-vv", NULL, RV_LOG_DEBUG },
		{ "-q", NULL, RV_LOG_ERROR },
		{ "-v", "--quiet", RV_LOG_ERROR },
		{ "-qv", NULL, RV_LOG_INFO },
	};
	enum rv_log_level saved = rv_log_get_level();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct call c;

		rv_log_set_level(RV_LOG_WARN);
		call(&c, "--kernel", "k", cases[i].a, cases[i].b, NULL);
		assert_int_equal(c.rc, 0);
		assert_int_equal(c.opts.log_level, cases[i].want);
		assert_int_equal(rv_log_get_level(), cases[i].want);
		call_done(&c);
	}
	rv_log_set_level(saved);
}

static void rv_run_options_parse__help(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--cpus", "2", "--help", "--bogus", NULL);
	assert_int_equal(c.rc, 1);
	assert_string_equal(c.err, "");
	assert_non_null(
		strstr(c.out, "usage: raevmd run [MANIFEST] [options]\n"));
	assert_non_null(strstr(c.out, "--kernel PATH"));
	assert_non_null(strstr(c.out, "-q, --quiet"));
	assert_null(c.opts.cfg.kernel);
	call_done(&c);
	call(&c, "-h", NULL);
	assert_int_equal(c.rc, 1);
	assert_non_null(strstr(c.out, "usage: raevmd run"));
	call_done(&c);
}

/* The parser keeps no state between calls (no getopt optind). */
static void rv_run_options_parse__repeated_calls_are_independent(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "a", "--cpus", "5", "--hugepages", NULL);
	assert_int_equal(c.rc, 0);
	call_done(&c);
	call(&c, "--kernel", "b", NULL);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.opts.cfg.cpus, RV_CONFIG_DEFAULT_CPUS);
	assert_false(c.opts.cfg.hugepages);
	call_done(&c);
	call(&c, "--cpus", "0", NULL);
	assert_int_equal(c.rc, -EINVAL);
	call_done(&c);
	call(&c, "--cpus", "7", "--kernel", "c", NULL);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.opts.cfg.cpus, 7);
	call_done(&c);
}

static void rv_run_options_parse__cpus_zero(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--cpus", "0", NULL);
	expect_error(&c, -EINVAL,
		     "raevmd: --cpus: '0' is not a number from 1 to 254\n");
}

static void rv_run_options_parse__cpus_not_numbers(void **state)
{
	static const char *const bad[] = {
		"257", "two", "1.5", "-1", "", "4x", "99999999999999999999"
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct call c;
		char *want;

		assert_true(
			asprintf(
				&want,
				"raevmd: --cpus: '%s' is not a number from 1 to 254\n",
				bad[i]) > 0);
		call(&c, "--kernel", "k", "--cpus", bad[i], NULL);
		expect_error(&c, -EINVAL, want);
		free(want);
	}
}

static void rv_run_options_parse__memory_not_a_size(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--memory", "12Q", NULL);
	expect_error(&c, -EINVAL,
		     "raevmd: --memory: '12Q' is not a size like 512M or 2G\n");
}

static void rv_run_options_parse__memory_overflow(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--memory", "99999999999T", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --memory: '99999999999T' is too large (the maximum is 16T)\n");
}

static void rv_run_options_parse__memory_out_of_range(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--memory", "8M", NULL);
	expect_error(&c, -EINVAL,
		     "raevmd: --memory: '8M' is below the minimum of 16M\n");
	call(&c, "--kernel", "k", "--memory", "32T", NULL);
	expect_error(&c, -EINVAL,
		     "raevmd: --memory: '32T' is above the maximum of 16T\n");
	call(&c, "--kernel", "k", "--memory", "16777217", NULL);
	expect_error(&c, -EINVAL,
		     "raevmd: --memory: '16777217' is not a multiple of 4K\n");
}

static void rv_run_options_parse__hugepages_need_2m_multiple(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--memory", "1025M", "--hugepages", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --memory: '1025M' is not a multiple of 2M, which hugepages need\n");
	call(&c, "--kernel", "k", "--memory", "1026M", "--hugepages", NULL);
	assert_int_equal(c.rc, 0);
	call_done(&c);
}

static void rv_run_options_parse__unknown_long_option(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernal", "k", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: unknown option '--kernal' (did you mean '--kernel'?)\n");
	call(&c, "--kernal=k", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: unknown option '--kernal' (did you mean '--kernel'?)\n");
	call(&c, "--kernel", "k", "--frobnicate", NULL);
	expect_error(&c, -EINVAL, "raevmd: unknown option '--frobnicate'\n");
}

/* GNU getopt would take "--cpu" as --cpus; this parser does not guess. */
static void rv_run_options_parse__abbreviation_refused(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--cpu", "2", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: unknown option '--cpu' (did you mean '--cpus'?)\n");
}

static void rv_run_options_parse__unknown_short_option(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "-vx", NULL);
	expect_error(&c, -EINVAL, "raevmd: unknown option '-x'\n");
}

static void rv_run_options_parse__missing_value(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", NULL);
	expect_error(&c, -EINVAL, "raevmd: --kernel: missing value\n");
	call(&c, "--kernel", "--cpus", "2", NULL);
	expect_error(&c, -EINVAL, "raevmd: --kernel: missing value\n");
	call(&c, "--kernel", "k", "--memory", NULL);
	expect_error(&c, -EINVAL, "raevmd: --memory: missing value\n");
}

/* A value that looks like a flag but is not one of ours is a value. */
static void rv_run_options_parse__dash_value(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "--cpus=x", NULL);
	expect_error(&c, -EINVAL, "raevmd: --kernel: missing value\n");
	call(&c, "--kernel", "-image", "--cmdline", "--", NULL);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.opts.cfg.kernel, "-image");
	assert_string_equal(c.opts.cfg.cmdline, "--");
	call_done(&c);
}

static void rv_run_options_parse__flag_takes_no_value(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--hugepages=yes", NULL);
	expect_error(&c, -EINVAL, "raevmd: --hugepages: takes no value\n");
}

static void rv_run_options_parse__no_kernel(void **state)
{
	struct call c;

	(void)state;
	call(&c, NULL);
	expect_error(&c, -EINVAL,
		     "raevmd: no kernel: give --kernel PATH or a manifest\n");
	call(&c, "--cpus", "2", NULL);
	expect_error(&c, -EINVAL,
		     "raevmd: no kernel: give --kernel PATH or a manifest\n");
}

static void rv_run_options_parse__empty_paths(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel=", NULL);
	expect_error(&c, -EINVAL, "raevmd: --kernel: empty path\n");
	call(&c, "--kernel", "k", "--initrd", "", NULL);
	expect_error(&c, -EINVAL, "raevmd: --initrd: empty path\n");
}

static void rv_run_options_parse__cpu_template_unknown(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--cpu-template", "hots", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --cpu-template: 'hots' is not a CPU template (known: host, baseline)\n");
}

static void rv_run_options_parse__cmdline_control_character(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--cmdline", "a\nb", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --cmdline: contains the control character 0x0a\n");
}

static void rv_run_options_parse__two_manifests(void **state)
{
	struct call c;

	(void)state;
	call(&c, "a.raeVM", "b.raeVM", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: unexpected argument 'b.raeVM' (only one manifest can be given)\n");
}

/* Hostile bytes in a value are escaped so the error stays one clean line. */
static void rv_run_options_parse__value_is_escaped(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--cpus", "\x1b[31m\n", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --cpus: '\\x1b[31m\\x0a' is not a number from 1 to 254\n");
}

static void rv_run_options_free__twice_is_safe(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", NULL);
	assert_int_equal(c.rc, 0);
	rv_run_options_free(&c.opts);
	assert_null(c.opts.cfg.kernel);
	call_done(&c);
	rv_run_options_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			rv_run_options_parse__kernel_only_gives_defaults),
		cmocka_unit_test(rv_run_options_parse__every_flag),
		cmocka_unit_test(rv_run_options_parse__equals_form),
		cmocka_unit_test(rv_run_options_parse__last_flag_wins),
		cmocka_unit_test(rv_run_options_parse__manifest_alone),
		cmocka_unit_test(rv_run_options_parse__flags_override_manifest),
		cmocka_unit_test(
			rv_run_options_parse__manifest_hugepages_with_flag_memory),
		cmocka_unit_test(
			rv_run_options_parse__manifest_errors_are_reported),
		cmocka_unit_test(rv_run_options_parse__manifest_missing),
		cmocka_unit_test(rv_run_options_parse__double_dash_ends_flags),
		cmocka_unit_test(rv_run_options_parse__log_levels),
		cmocka_unit_test(rv_run_options_parse__help),
		cmocka_unit_test(
			rv_run_options_parse__repeated_calls_are_independent),
		cmocka_unit_test(rv_run_options_parse__cpus_zero),
		cmocka_unit_test(rv_run_options_parse__cpus_not_numbers),
		cmocka_unit_test(rv_run_options_parse__memory_not_a_size),
		cmocka_unit_test(rv_run_options_parse__memory_overflow),
		cmocka_unit_test(rv_run_options_parse__memory_out_of_range),
		cmocka_unit_test(
			rv_run_options_parse__hugepages_need_2m_multiple),
		cmocka_unit_test(rv_run_options_parse__unknown_long_option),
		cmocka_unit_test(rv_run_options_parse__abbreviation_refused),
		cmocka_unit_test(rv_run_options_parse__unknown_short_option),
		cmocka_unit_test(rv_run_options_parse__missing_value),
		cmocka_unit_test(rv_run_options_parse__dash_value),
		cmocka_unit_test(rv_run_options_parse__flag_takes_no_value),
		cmocka_unit_test(rv_run_options_parse__no_kernel),
		cmocka_unit_test(rv_run_options_parse__empty_paths),
		cmocka_unit_test(rv_run_options_parse__cpu_template_unknown),
		cmocka_unit_test(
			rv_run_options_parse__cmdline_control_character),
		cmocka_unit_test(rv_run_options_parse__two_manifests),
		cmocka_unit_test(rv_run_options_parse__value_is_escaped),
		cmocka_unit_test(rv_run_options_free__twice_is_safe),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
