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
#include "raevm/manifest.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ARGS 40

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
 * Runs rv_run_options_parse over "run" and args[0..n), with stdout and
 * stderr captured into c->out and c->err.
 */
static void call_args(struct call *c, const char *const *args, int n)
{
	FILE *out = tmpfile(), *err = tmpfile();
	int saved_out, saved_err, i;

	assert_non_null(out);
	assert_non_null(err);
	assert_true(n < MAX_ARGS);
	memset(c, 0, sizeof(*c));
	c->argv[c->argc++] = strdup("run");
	for (i = 0; i < n; i++)
		c->argv[c->argc++] = strdup(args[i]);
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

/* call_args() over the NULL-terminated arguments. */
static void call(struct call *c, ...)
{
	const char *args[MAX_ARGS];
	const char *arg;
	int n = 0;
	va_list ap;

	va_start(ap, c);
	while ((arg = va_arg(ap, const char *)) != NULL) {
		assert_true(n < MAX_ARGS - 1);
		args[n++] = arg;
	}
	va_end(ap);
	call_args(c, args, n);
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
	assert_int_equal(c->opts.cfg.nr_disks, 0);
	assert_null(c->opts.cfg.console_socket);
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
	assert_true(c.opts.cfg.rng);
	assert_int_equal(c.opts.cfg.nr_disks, 0);
	assert_null(c.opts.cfg.console_socket);
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
	assert_non_null(strstr(c.out, "--disk SPEC"));
	assert_non_null(strstr(c.out, "--no-rng"));
	assert_non_null(strstr(c.out, "--console-socket PATH"));
	assert_non_null(strstr(
		c.out, "PATH[,format=raw|qcow2][,readonly][,serial=ID]"));
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

/* Asserts one disk of a successful call. */
static void expect_disk(const struct call *c, unsigned int i, const char *path,
			const char *format, bool readonly, const char *serial)
{
	const struct rv_disk_config *d = &c->opts.cfg.disks[i];

	assert_true(i < c->opts.cfg.nr_disks);
	assert_string_equal(d->path, path);
	if (format)
		assert_string_equal(d->format, format);
	else
		assert_null(d->format);
	assert_int_equal(d->readonly, readonly);
	if (serial)
		assert_string_equal(d->serial, serial);
	else
		assert_null(d->serial);
}

static void rv_run_options_parse__disks(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--disk", "a.img", "--disk",
	     "/srv/b.qcow2,format=qcow2,readonly,serial=data-1",
	     "--disk=img/c.img,serial=s p a c e,format=raw", NULL);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.err, "");
	assert_int_equal(c.opts.cfg.nr_disks, 3);
	expect_disk(&c, 0, "a.img", NULL, false, NULL);
	expect_disk(&c, 1, "/srv/b.qcow2", "qcow2", true, "data-1");
	expect_disk(&c, 2, "img/c.img", "raw", false, "s p a c e");
	call_done(&c);
}

/* The first item is the path even with '=' in it; path= also works. */
static void rv_run_options_parse__disk_path_forms(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--disk", "a=b.img,readonly", "--disk",
	     "path=c.img,serial=x=y", "--disk", "path=path=d.img", "--disk",
	     "./readonly", "--disk", "path", NULL);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.err, "");
	expect_disk(&c, 0, "a=b.img", NULL, true, NULL);
	expect_disk(&c, 1, "c.img", NULL, false, "x=y");
	expect_disk(&c, 2, "path=d.img", NULL, false, NULL);
	expect_disk(&c, 3, "./readonly", NULL, false, NULL);
	expect_disk(&c, 4, "path", NULL, false, NULL);
	call_done(&c);
}

static void rv_run_options_parse__disk_unknown_option(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--disk", "a.img,fromat=raw", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: unknown option 'fromat' in 'a.img,fromat=raw' (did you mean 'format'?)\n");
	call(&c, "--kernel", "k", "--disk", "a.img,read-only", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: unknown option 'read-only' in 'a.img,read-only' (did you mean 'readonly'?)\n");
	call(&c, "--kernel", "k", "--disk", "a.img,cache=none", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: unknown option 'cache' in 'a.img,cache=none'\n");
	call(&c, "--kernel", "k", "--disk", "a.img,ro", NULL);
	expect_error(&c, -EINVAL,
		     "raevmd: --disk: unknown option 'ro' in 'a.img,ro'\n");
}

/* "my,disk.img" is most likely a path with a comma; say how to give it. */
static void rv_run_options_parse__disk_path_with_comma(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--disk", "my,disk.img", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: unknown option 'disk.img' in 'my,disk.img' (a path with a comma can only be given in a manifest)\n");
}

static void rv_run_options_parse__disk_bad_format(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--disk", "a.img,format=vmdk", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: unknown format 'vmdk' in 'a.img,format=vmdk' (use raw or qcow2)\n");
	call(&c, "--kernel", "k", "--disk", "a.img,format=qcow", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: unknown format 'qcow' in 'a.img,format=qcow' (did you mean 'qcow2'?)\n");
	call(&c, "--kernel", "k", "--disk", "a.img,format=RAW", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: unknown format 'RAW' in 'a.img,format=RAW' (did you mean 'raw'?)\n");
	call(&c, "--kernel", "k", "--disk", "a.img,format=", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: 'format' needs a value in 'a.img,format='\n");
	call(&c, "--kernel", "k", "--disk", "a.img,format", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: 'format' needs a value in 'a.img,format'\n");
}

static void rv_run_options_parse__disk_bad_serial(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--disk",
	     "a.img,serial=ABCDEFGHIJKLMNOPQRSTU", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: serial too long (21 bytes; the virtio-blk limit is 20) in 'a.img,serial=ABCDEFGHIJKLMNOPQRSTU'\n");
	call(&c, "--kernel", "k", "--disk", "a.img,serial=ABCDEFGHIJKLMNOPQRST",
	     NULL);
	assert_int_equal(c.rc, 0);
	expect_disk(&c, 0, "a.img", NULL, false, "ABCDEFGHIJKLMNOPQRST");
	call_done(&c);
	call(&c, "--kernel", "k", "--disk", "a.img,serial=a\tb", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: serial contains the control character 0x09 in 'a.img,serial=a\\x09b'\n");
	call(&c, "--kernel", "k", "--disk", "a.img,serial=caf\xc3\xa9", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: serial contains the non-ASCII byte 0xc3 (use printable ASCII) in 'a.img,serial=caf\\xc3\\xa9'\n");
	call(&c, "--kernel", "k", "--disk", "a.img,serial=", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: serial must not be empty in 'a.img,serial='\n");
	call(&c, "--kernel", "k", "--disk", "a.img,serial", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: 'serial' needs a value in 'a.img,serial'\n");
}

static void rv_run_options_parse__disk_empty_path(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--disk=", NULL);
	expect_error(&c, -EINVAL, "raevmd: --disk: empty path\n");
	call(&c, "--kernel", "k", "--disk", ",readonly", NULL);
	expect_error(&c, -EINVAL,
		     "raevmd: --disk: empty path in ',readonly'\n");
	call(&c, "--kernel", "k", "--disk", "path=,format=raw", NULL);
	expect_error(&c, -EINVAL,
		     "raevmd: --disk: empty path in 'path=,format=raw'\n");
}

static void rv_run_options_parse__disk_path_must_come_first(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--disk", "format=raw,path=a.img", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: the path must come first in 'format=raw,path=a.img'\n");
	call(&c, "--kernel", "k", "--disk", "readonly,a.img", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: the path must come first in 'readonly,a.img'\n");
	call(&c, "--kernel", "k", "--disk", "a.img,path=b.img", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: the path must come first in 'a.img,path=b.img'\n");
}

static void rv_run_options_parse__disk_malformed_options(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--disk", "a.img,readonly,readonly", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: 'readonly' given twice in 'a.img,readonly,readonly'\n");
	call(&c, "--kernel", "k", "--disk", "a.img,format=raw,format=qcow2",
	     NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: 'format' given twice in 'a.img,format=raw,format=qcow2'\n");
	call(&c, "--kernel", "k", "--disk", "a.img,readonly=yes", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: 'readonly' takes no value in 'a.img,readonly=yes'\n");
	call(&c, "--kernel", "k", "--disk", "a.img,,readonly", NULL);
	expect_error(&c, -EINVAL,
		     "raevmd: --disk: empty option in 'a.img,,readonly'\n");
	call(&c, "--kernel", "k", "--disk", "a.img,", NULL);
	expect_error(&c, -EINVAL, "raevmd: --disk: empty option in 'a.img,'\n");
	call(&c, "--kernel", "k", "--disk", NULL);
	expect_error(&c, -EINVAL, "raevmd: --disk: missing value\n");
}

static void rv_run_options_parse__disk_too_many(void **state)
{
	char names[RV_CONFIG_MAX_DISKS + 1][16];
	const char *args[2 * (RV_CONFIG_MAX_DISKS + 1) + 1];
	struct call c;
	int n = 0;
	unsigned int i;

	(void)state;
	args[n++] = "--kernel=k";
	for (i = 0; i <= RV_CONFIG_MAX_DISKS; i++) {
		snprintf(names[i], sizeof(names[i]), "d%u.img", i);
		args[n++] = "--disk";
		args[n++] = names[i];
	}
	/* Sixteen disks are fine... */
	call_args(&c, args, n - 2);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.opts.cfg.nr_disks, RV_CONFIG_MAX_DISKS);
	expect_disk(&c, 15, "d15.img", NULL, false, NULL);
	call_done(&c);
	/* ...the seventeenth is not. */
	call_args(&c, args, n);
	expect_error(&c, -EINVAL,
		     "raevmd: --disk: too many disks (the limit is 16)\n");
}

static void rv_run_options_parse__disk_same_file_twice(void **state)
{
	char *cwd = getcwd(NULL, 0), *abs, *want;
	struct call c;

	(void)state;
	assert_non_null(cwd);
	call(&c, "--kernel", "k", "--disk", "a.img", "--disk",
	     "./a.img,readonly", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: './a.img' names the same file as the earlier --disk 'a.img'\n");
	/* Relative and absolute spellings are compared from the root. */
	assert_true(asprintf(&abs, "%s//a.img", cwd) > 0);
	assert_true(
		asprintf(
			&want,
			"raevmd: --disk: 'a.img' names the same file as the earlier --disk '%s'\n",
			abs) > 0);
	call(&c, "--kernel", "k", "--disk", abs, "--disk", "a.img", NULL);
	/* A long working directory is cut in the message; compare the start. */
	assert_int_equal(c.rc, -EINVAL);
	assert_int_equal(strncmp(c.err, want, 90), 0);
	call_done(&c);
	/* Different files with the same name are different disks. */
	call(&c, "--kernel", "k", "--disk", "a/d.img", "--disk", "b/d.img",
	     NULL);
	assert_int_equal(c.rc, 0);
	call_done(&c);
	free(want);
	free(abs);
	free(cwd);
}

/* --disk appends to the manifest's disks, which come first. */
static void rv_run_options_parse__disks_append_to_manifest(void **state)
{
	char *path = write_manifest(
		"d.raeVM",
		"{\"raevm\": 1, \"name\": \"d\", \"boot\": {\"kernel\": \"/k\"},"
		" \"disks\": [{\"path\": \"root.qcow2\", \"format\": \"qcow2\","
		" \"serial\": \"root\"}]}");
	char *root, *want;
	struct call c;

	(void)state;
	assert_true(asprintf(&root, "%s/root.qcow2", tmp_dir) > 0);
	call(&c, "--disk", "/data.img,readonly", path, NULL);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.err, "");
	assert_int_equal(c.opts.cfg.nr_disks, 2);
	expect_disk(&c, 0, root, "qcow2", false, "root");
	expect_disk(&c, 1, "/data.img", NULL, true, NULL);
	call_done(&c);
	/* The manifest's disk again, spelt differently, is refused. */
	free(root);
	assert_true(asprintf(&root, "%s/./root.qcow2,readonly", tmp_dir) > 0);
	assert_true(strlen(root) < 60);
	assert_true(
		asprintf(
			&want,
			"raevmd: --disk: '%.*s' names the same file as the manifest's disks[0]\n",
			(int)(strlen(root) - strlen(",readonly")), root) > 0);
	call(&c, path, "--disk", root, NULL);
	expect_error(&c, -EINVAL, want);
	free(want);
	free(root);
	free(path);
}

static void rv_run_options_parse__disks_too_many_with_manifest(void **state)
{
	char *text = NULL, *path;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct call c;
	int i;

	(void)state;
	assert_non_null(f);
	fputs("{\"raevm\": 1, \"name\": \"d\", \"boot\": {\"kernel\": \"/k\"},"
	      " \"disks\": [",
	      f);
	for (i = 0; i < 10; i++)
		fprintf(f, "%s{\"path\": \"m%d.img\"}", i ? ", " : "", i);
	fputs("]}", f);
	fclose(f);
	path = write_manifest("many.raeVM", text);
	call(&c, path, "--disk", "f0", "--disk", "f1", "--disk", "f2", "--disk",
	     "f3", "--disk", "f4", "--disk", "f5", NULL);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.opts.cfg.nr_disks, 16);
	expect_disk(&c, 15, "f5", NULL, false, NULL);
	call_done(&c);
	call(&c, path, "--disk", "f0", "--disk", "f1", "--disk", "f2", "--disk",
	     "f3", "--disk", "f4", "--disk", "f5", "--disk", "f6", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: too many disks (the manifest has 10 and --disk adds 7; the limit is 16)\n");
	free(path);
	free(text);
}

static void rv_run_options_parse__rng(void **state)
{
	char *path = write_manifest(
		"r.raeVM", "{\"raevm\": 1, \"name\": \"r\", \"rng\": false,"
			   " \"boot\": {\"kernel\": \"/k\"}}");
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--no-rng", NULL);
	assert_int_equal(c.rc, 0);
	assert_false(c.opts.cfg.rng);
	call_done(&c);
	/* The last of --rng and --no-rng wins. */
	call(&c, "--kernel", "k", "--no-rng", "--rng", NULL);
	assert_int_equal(c.rc, 0);
	assert_true(c.opts.cfg.rng);
	call_done(&c);
	call(&c, path, NULL);
	assert_int_equal(c.rc, 0);
	assert_false(c.opts.cfg.rng);
	call_done(&c);
	call(&c, "--rng", path, NULL);
	assert_int_equal(c.rc, 0);
	assert_true(c.opts.cfg.rng);
	call_done(&c);
	call(&c, "--kernel", "k", "--rng=no", NULL);
	expect_error(&c, -EINVAL, "raevmd: --rng: takes no value\n");
	call(&c, "--kernel", "k", "--no-rgn", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: unknown option '--no-rgn' (did you mean '--no-rng'?)\n");
	free(path);
}

static void rv_run_options_parse__console_socket(void **state)
{
	char *path = write_manifest(
		"c.raeVM",
		"{\"raevm\": 1, \"name\": \"c\", \"boot\": {\"kernel\": \"/k\"},"
		" \"console\": {\"socket\": \"/run/m.sock\"}}");
	char long_path[RV_MANIFEST_SOCKET_PATH_MAX + 2];
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--console-socket", "vm.sock", NULL);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.opts.cfg.console_socket, "vm.sock");
	call_done(&c);
	call(&c, path, NULL);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.opts.cfg.console_socket, "/run/m.sock");
	call_done(&c);
	call(&c, path, "--console-socket=/tmp/f.sock", NULL);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.opts.cfg.console_socket, "/tmp/f.sock");
	call_done(&c);
	call(&c, "--kernel", "k", "--console-socket=", NULL);
	expect_error(&c, -EINVAL, "raevmd: --console-socket: empty path\n");
	memset(long_path, 's', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	call(&c, "--kernel", "k", "--console-socket", long_path, NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --console-socket: too long for a Unix socket (108 bytes; the limit is 107)\n");
	long_path[sizeof(long_path) - 2] = '\0';
	call(&c, "--kernel", "k", "--console-socket", long_path, NULL);
	assert_int_equal(c.rc, 0);
	call_done(&c);
	free(path);
}

/* Hostile bytes in a --disk SPEC stay escaped in the one error line. */
static void rv_run_options_parse__disk_value_is_escaped(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--disk", "a\x1b[2J.img,\x1b[31m", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --disk: unknown option '\\x1b[31m' in 'a\\x1b[2J.img,\\x1b[31m'\n");
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

/* ------------------------------------------------- --net, --vsock, --limit */

static void rv_run_options_parse__net_vsock_limits(void **state)
{
	struct call c;
	const struct rv_vm_config *cfg = &c.opts.cfg;

	(void)state;
	call(&c, "--kernel", "k", "--net",
	     "user,forward=tcp::2222-:22,restrict,mac=52:54:00:00:00:02",
	     "--net", "tap,name=tap0,mtu=1400", "--vsock",
	     "cid=5,socket=/tmp/v.sock", "--ephemeral", "--limit", "memory=1G",
	     "--limit", "cpu=150", "--limit=cpuset=0-1", "--limit", "pids=64",
	     "--no-sandbox", NULL);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.err, "");
	assert_int_equal(cfg->nr_nets, 2);
	assert_int_equal(cfg->nets[0].mode, RV_NET_USER);
	assert_true(cfg->nets[0].restrict_net);
	assert_int_equal(cfg->nets[0].nr_forwards, 1);
	assert_int_equal(cfg->nets[0].forwards[0].guest_port, 22);
	assert_true(cfg->nets[0].mac_set);
	assert_int_equal(cfg->nets[1].mode, RV_NET_TAP);
	assert_string_equal(cfg->nets[1].tap_name, "tap0");
	assert_int_equal(cfg->nets[1].mtu, 1400);
	assert_true(cfg->vsock.enabled);
	assert_int_equal(cfg->vsock.cid, 5);
	assert_string_equal(cfg->vsock.socket, "/tmp/v.sock");
	assert_true(cfg->ephemeral);
	assert_int_equal(cfg->limits.memory, 1ULL << 30);
	assert_int_equal(cfg->limits.cpu_pct, 150);
	assert_string_equal(cfg->limits.cpuset, "0-1");
	assert_int_equal(cfg->limits.pids, 64);
	assert_false(cfg->sandbox);
	call_done(&c);
}

static void rv_run_options_parse__net_defaults_to_none(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", NULL);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.opts.cfg.nr_nets, 0);
	assert_false(c.opts.cfg.vsock.enabled);
	assert_false(c.opts.cfg.ephemeral);
	assert_true(c.opts.cfg.sandbox);
	call_done(&c);
}

/* --net replaces the manifest's NICs; --net none removes them. */
static void rv_run_options_parse__net_replaces_manifest(void **state)
{
	char *path = write_manifest(
		"net.raeVM",
		"{\"raevm\": 1, \"name\": \"n\", \"boot\": {\"kernel\": \"k\"},"
		" \"net\": [{\"mode\": \"tap\", \"tap\": \"tapm\"}, {}],"
		" \"vsock\": {\"cid\": 9, \"socket\": \"m.sock\"},"
		" \"limits\": {\"memory\": \"2G\", \"pids\": 100}}");
	struct call c;

	(void)state;
	call(&c, path, "--net", "user,mtu=1280", "--limit", "pids=200", NULL);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.err, "");
	assert_int_equal(c.opts.cfg.nr_nets, 1);
	assert_int_equal(c.opts.cfg.nets[0].mode, RV_NET_USER);
	assert_int_equal(c.opts.cfg.nets[0].mtu, 1280);
	assert_null(c.opts.cfg.nets[0].tap_name);
	assert_int_equal(c.opts.cfg.vsock.cid, 9);
	assert_string_equal(c.opts.cfg.vsock.socket + strlen(tmp_dir),
			    "/m.sock");
	assert_int_equal(c.opts.cfg.limits.memory, 2ULL << 30);
	assert_int_equal(c.opts.cfg.limits.pids, 200);
	call_done(&c);

	call(&c, path, "--net", "none", NULL);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.opts.cfg.nr_nets, 0);
	call_done(&c);

	call(&c, path, NULL);
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.opts.cfg.nr_nets, 2);
	assert_string_equal(c.opts.cfg.nets[0].tap_name, "tapm");
	call_done(&c);
	free(path);
}

static void rv_run_options_parse__net_errors(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--net", "slirp", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --net: unknown mode 'slirp' (use user, tap or none) in 'slirp'\n");
	call(&c, "--kernel", "k", "--net", "user,forward=tcp::0-:22", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --net: forward 'tcp::0-:22': host port '0' is not a number from 1 to 65535 in 'user,forward=tcp::0-:22'\n");
	call(&c, "--kernel", "k", "--net", "tap", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --net: a tap needs name=IF (the device to open or create) or fd=N in 'tap'\n");
	call(&c, "--kernel", "k", "--net",
	     "tap,name=tap0,mac=ff:ff:ff:ff:ff:ff", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --net: mac 'ff:ff:ff:ff:ff:ff' is a multicast address (a NIC needs a unicast one: the first byte must be even) in 'tap,name=tap0,mac=ff:ff:ff:ff:ff:ff'\n");
	call(&c, "--kernel", "k", "--net", "user", "--net", "none", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --net: 'none' cannot be combined with another --net\n");
	call(&c, "--kernel", "k", "--net", "none", "--net", "user", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --net: 'none' cannot be combined with another --net\n");
	call(&c, "--kernel", "k", "--net", "user", "--net", "user", "--net",
	     "user", "--net", "user", "--net", "user", NULL);
	expect_error(&c, -EINVAL,
		     "raevmd: --net: too many NICs (the limit is 4)\n");
	call(&c, "--kernel", "k", "--net", "user,forward=tcp::80-:80", "--net",
	     "user,forward=tcp:0.0.0.0:80-:81", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --net: 'user,forward=tcp:0.0.0.0:80-:81' forwards a host port an earlier --net forwards\n");
	call(&c, "--kernel", "k", "--net", "tap,name=tap0", "--net",
	     "tap,name=tap0", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --net: 'tap,name=tap0' names the tap of an earlier --net\n");
	call(&c, "--kernel", "k", "--net", NULL);
	expect_error(&c, -EINVAL, "raevmd: --net: missing value\n");
}

static void rv_run_options_parse__vsock_and_limit_errors(void **state)
{
	struct call c;

	(void)state;
	call(&c, "--kernel", "k", "--vsock", "cid=3", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --vsock: 'socket' is required with raevmd run (socket=PATH) in 'cid=3'\n");
	call(&c, "--kernel", "k", "--vsock", "cid=1,socket=v", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --vsock: cid '1' is not a guest CID from 3 to 4294967294 (0-2 are reserved) in 'cid=1,socket=v'\n");
	call(&c, "--kernel", "k", "--limit", "memory=8M", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --limit: memory '8M' is below the minimum of 32M\n");
	call(&c, "--kernel", "k", "--limit", "cpuset=0-", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --limit: cpuset '0-' is not a CPU list such as 0-1,3\n");
	call(&c, "--kernel", "k", "--limit", "swap=1G", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --limit: unknown option 'swap' (known: memory, cpu, cpuset, pids)\n");
	call(&c, "--kernel", "k", "--memory", "1G", "--limit", "memory=1G",
	     NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: --limit: memory: 1 GiB is not larger than the guest's memory (1 GiB): the limit counts guest RAM and raevm's own use\n");
	call(&c, "--kernel", "k", "--ephemeral=yes", NULL);
	expect_error(&c, -EINVAL, "raevmd: --ephemeral: takes no value\n");
	call(&c, "--kernel", "k", "--no-sandbx", NULL);
	expect_error(
		&c, -EINVAL,
		"raevmd: unknown option '--no-sandbx' (did you mean '--no-sandbox'?)\n");
}

static void rv_run_options_usage__lists_new_flags(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	rv_run_options_usage(f);
	fclose(f);
	assert_non_null(strstr(text, "--net SPEC"));
	assert_non_null(strstr(text, "--vsock SPEC"));
	assert_non_null(strstr(text, "--limit KEY=VALUE"));
	assert_non_null(strstr(text, "--ephemeral"));
	assert_non_null(strstr(text, "--no-sandbox"));
	assert_non_null(
		strstr(text, "user[,forward=F]...[,restrict][,mac=M][,mtu=N]"));
	free(text);
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
		cmocka_unit_test(rv_run_options_parse__disks),
		cmocka_unit_test(rv_run_options_parse__disk_path_forms),
		cmocka_unit_test(rv_run_options_parse__disk_unknown_option),
		cmocka_unit_test(rv_run_options_parse__disk_path_with_comma),
		cmocka_unit_test(rv_run_options_parse__disk_bad_format),
		cmocka_unit_test(rv_run_options_parse__disk_bad_serial),
		cmocka_unit_test(rv_run_options_parse__disk_empty_path),
		cmocka_unit_test(
			rv_run_options_parse__disk_path_must_come_first),
		cmocka_unit_test(rv_run_options_parse__disk_malformed_options),
		cmocka_unit_test(rv_run_options_parse__disk_too_many),
		cmocka_unit_test(rv_run_options_parse__disk_same_file_twice),
		cmocka_unit_test(
			rv_run_options_parse__disks_append_to_manifest),
		cmocka_unit_test(
			rv_run_options_parse__disks_too_many_with_manifest),
		cmocka_unit_test(rv_run_options_parse__rng),
		cmocka_unit_test(rv_run_options_parse__console_socket),
		cmocka_unit_test(rv_run_options_parse__disk_value_is_escaped),
		cmocka_unit_test(rv_run_options_free__twice_is_safe),
		cmocka_unit_test(rv_run_options_parse__net_vsock_limits),
		cmocka_unit_test(rv_run_options_parse__net_defaults_to_none),
		cmocka_unit_test(rv_run_options_parse__net_replaces_manifest),
		cmocka_unit_test(rv_run_options_parse__net_errors),
		cmocka_unit_test(rv_run_options_parse__vsock_and_limit_errors),
		cmocka_unit_test(rv_run_options_usage__lists_new_flags),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
