// SPDX-License-Identifier: Apache-2.0
/*
 * Manifest parser tests. Most cases live in the golden corpus:
 *   tests/manifests/valid/NAME.raeVM    parses; NAME.expect lists the config
 *   tests/manifests/invalid/NAME.raeVM  fails; NAME.err holds the exact lines
 * found through $RV_SOURCE_DIR (default "."). Paths resolve against the
 * fixed base folder "/base" so the expectations do not depend on the
 * checkout. RV_GOLDEN_UPDATE=1 rewrites .expect/.err from the parser's
 * output instead of comparing (review the diff before committing it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "raevm/manifest.h"
#include "raevm/netcfg.h"
#include "raevm/config.h"
#include "raevm/log.h"
#include "raevm/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BASE "/base"
#define PATH_BUF (PATH_MAX + 512) /* a folder plus a file name */

static const char *source_dir(void)
{
	const char *s = getenv("RV_SOURCE_DIR");

	return s && *s ? s : ".";
}

static bool golden_update(void)
{
	const char *s = getenv("RV_GOLDEN_UPDATE");

	return s && strcmp(s, "1") == 0;
}

static char *read_text(const char *path, size_t *len)
{
	uint8_t *data;
	size_t n;

	if (rv_read_file(path, 4 * RV_MANIFEST_MAX_SIZE, &data, &n))
		return NULL;
	if (len)
		*len = n;
	return (char *)data;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/*
 * The NICs, vsock, ephemeral and limits, printed only when they differ from
 * the defaults so the .expect files of older manifests stay as they are.
 */
static void dump_net_and_limits(FILE *f, const struct rv_vm_config *cfg)
{
	char buf[RV_NET_FORWARD_STR_LEN];
	unsigned int i, j;

	if (cfg->nr_nets)
		fprintf(f, "nets=%u\n", cfg->nr_nets);
	for (i = 0; i < cfg->nr_nets; i++) {
		const struct rv_net_config *n = &cfg->nets[i];

		fprintf(f, "net%u.mode=%s\n", i,
			n->mode == RV_NET_TAP ? "tap" : "user");
		fprintf(f, "net%u.restrict=%s\n", i,
			n->restrict_net ? "true" : "false");
		fprintf(f, "net%u.mac=%s\n", i,
			n->mac_set ?
				rv_net_mac_format(n->mac, buf, sizeof(buf)) :
				"(generated)");
		fprintf(f, "net%u.mtu=%u\n", i, n->mtu);
		fprintf(f, "net%u.tap=%s\n", i,
			n->tap_name ? n->tap_name : "(null)");
		fprintf(f, "net%u.tap_fd=%d\n", i, n->tap_fd);
		for (j = 0; j < n->nr_forwards; j++)
			fprintf(f, "net%u.forward%u=%s\n", i, j,
				rv_net_forward_format(&n->forwards[j], buf,
						      sizeof(buf)));
	}
	if (cfg->vsock.enabled)
		fprintf(f, "vsock.cid=%u\nvsock.socket=%s\n", cfg->vsock.cid,
			cfg->vsock.socket ? cfg->vsock.socket : "(null)");
	if (cfg->ephemeral)
		fprintf(f, "ephemeral=true\n");
	if (cfg->limits.memory)
		fprintf(f, "limits.memory=%llu\n",
			(unsigned long long)cfg->limits.memory);
	if (cfg->limits.cpu_pct)
		fprintf(f, "limits.cpu=%u\n", cfg->limits.cpu_pct);
	if (cfg->limits.cpuset)
		fprintf(f, "limits.cpuset=%s\n", cfg->limits.cpuset);
	if (cfg->limits.pids)
		fprintf(f, "limits.pids=%u\n", cfg->limits.pids);
	if (!cfg->sandbox)
		fprintf(f, "sandbox=false\n");
}

/*
 * The config as the .expect files spell it: one key=value per line, then
 * diskN.field=value for each disk in order.
 */
static char *dump_config(const struct rv_vm_config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	unsigned int i;

	assert_non_null(f);
	fprintf(f, "name=%s\n", cfg->name ? cfg->name : "(null)");
	fprintf(f, "kernel=%s\n", cfg->kernel ? cfg->kernel : "(null)");
	fprintf(f, "initrd=%s\n", cfg->initrd ? cfg->initrd : "(null)");
	fprintf(f, "cmdline=%s\n", cfg->cmdline ? cfg->cmdline : "(null)");
	fprintf(f, "cpus=%u\n", cfg->cpus);
	fprintf(f, "memory=%llu\n", (unsigned long long)cfg->memory);
	fprintf(f, "cpu_template=%s\n",
		cfg->cpu_template ? cfg->cpu_template : "(null)");
	fprintf(f, "hugepages=%s\n", cfg->hugepages ? "true" : "false");
	fprintf(f, "memfd=%s\n", cfg->memfd ? "true" : "false");
	fprintf(f, "rng=%s\n", cfg->rng ? "true" : "false");
	fprintf(f, "console_socket=%s\n",
		cfg->console_socket ? cfg->console_socket : "(null)");
	/* Printed only when set, so older .expect files stay as they are. */
	if (cfg->autostart)
		fprintf(f, "autostart=true\n");
	if (cfg->restart != RV_RESTART_NO)
		fprintf(f, "restart=%s\n",
			rv_manifest_restart_name(cfg->restart));
	fprintf(f, "disks=%u\n", cfg->nr_disks);
	for (i = 0; i < cfg->nr_disks; i++) {
		const struct rv_disk_config *d = &cfg->disks[i];

		fprintf(f, "disk%u.path=%s\n", i, d->path ? d->path : "(null)");
		fprintf(f, "disk%u.format=%s\n", i,
			d->format ? d->format : "(null)");
		fprintf(f, "disk%u.readonly=%s\n", i,
			d->readonly ? "true" : "false");
		fprintf(f, "disk%u.serial=%s\n", i,
			d->serial ? d->serial : "(null)");
	}
	dump_net_and_limits(f, cfg);
	fclose(f);
	return buf;
}

/* The error lines as a user sees them for file name, without "raevmd: ". */
static char *dump_errors(const char *name,
			 const struct rv_manifest_errors *errs)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	for (i = 0; i < errs->count; i++)
		fprintf(f, "%s: %s\n", name, errs->lines[i]);
	if (errs->dropped)
		fprintf(f, "%s: %zu more errors not shown\n", name,
			errs->dropped);
	fclose(f);
	return buf;
}

static int has_suffix(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 6 && strcmp(d->d_name + n - 6, ".raeVM") == 0;
}

/*
 * Compares got with the golden file next to the manifest (or rewrites it).
 * Returns 0 on a match.
 */
static int golden(const char *dir, const char *name, const char *ext,
		  const char *got)
{
	char path[PATH_BUF];
	char *want;
	int diff;

	snprintf(path, sizeof(path), "%s/%.*s%s", dir, (int)(strlen(name) - 6),
		 name, ext);
	if (golden_update()) {
		write_text(path, got);
		return 0;
	}
	want = read_text(path, NULL);
	if (!want) {
		print_error("%s: missing golden file %s\n", name, path);
		return 1;
	}
	diff = strcmp(want, got);
	if (diff)
		print_error("%s: mismatch\n--- want (%s)\n%s--- got\n%s", name,
			    path, want, got);
	free(want);
	return diff != 0;
}

static int corpus(const char *sub, struct dirent ***list, char *dir,
		  size_t size)
{
	snprintf(dir, size, "%s/tests/manifests/%s", source_dir(), sub);
	return scandir(dir, list, has_suffix, alphasort);
}

static void corpus__valid_files_parse_to_expected_config(void **state)
{
	struct dirent **list;
	char dir[PATH_MAX], path[PATH_BUF];
	int n, i, failures = 0;

	(void)state;
	n = corpus("valid", &list, dir, sizeof(dir));
	assert_true(n >= 10);
	for (i = 0; i < n; i++) {
		struct rv_manifest_errors errs;
		struct rv_vm_config cfg;
		size_t len = 0;
		char *text, *got;
		int rc;

		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		text = read_text(path, &len);
		assert_non_null(text);
		rv_vm_config_init(&cfg);
		rv_manifest_errors_init(&errs);
		rc = rv_manifest_parse(text, len, BASE, &cfg, &errs);
		if (rc != 0) {
			got = dump_errors(list[i]->d_name, &errs);
			print_error("%s: rc %d\n%s", list[i]->d_name, rc, got);
			free(got);
			failures++;
		} else {
			got = dump_config(&cfg);
			failures +=
				golden(dir, list[i]->d_name, ".expect", got);
			free(got);
		}
		rv_manifest_errors_free(&errs);
		rv_vm_config_free(&cfg);
		free(text);
		free(list[i]);
	}
	free(list);
	assert_int_equal(failures, 0);
}

static void corpus__invalid_files_give_exact_errors(void **state)
{
	struct dirent **list;
	char dir[PATH_MAX], path[PATH_BUF];
	int n, i, failures = 0;

	(void)state;
	n = corpus("invalid", &list, dir, sizeof(dir));
	assert_true(n >= 25);
	for (i = 0; i < n; i++) {
		struct rv_manifest_errors errs;
		struct rv_vm_config cfg;
		size_t len = 0;
		char *text, *got;
		int rc;

		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		text = read_text(path, &len);
		assert_non_null(text);
		rv_vm_config_init(&cfg);
		cfg.name = strdup("sentinel");
		rv_manifest_errors_init(&errs);
		rc = rv_manifest_parse(text, len, BASE, &cfg, &errs);
		got = dump_errors(list[i]->d_name, &errs);
		if (rc != -EINVAL || errs.count == 0) {
			print_error("%s: rc %d, %zu errors\n", list[i]->d_name,
				    rc, errs.count);
			failures++;
		} else if (strcmp(cfg.name, "sentinel") != 0 || cfg.kernel ||
			   cfg.nr_disks || cfg.console_socket || !cfg.rng) {
			print_error("%s: a failed parse changed cfg\n",
				    list[i]->d_name);
			failures++;
		} else {
			failures += golden(dir, list[i]->d_name, ".err", got);
		}
		free(got);
		rv_manifest_errors_free(&errs);
		rv_vm_config_free(&cfg);
		free(text);
		free(list[i]);
	}
	free(list);
	assert_int_equal(failures, 0);
}

/* Parses a NUL-terminated manifest; errors are returned in errs. */
static int parse(const char *text, const char *base, struct rv_vm_config *cfg,
		 struct rv_manifest_errors *errs)
{
	rv_vm_config_init(cfg);
	rv_manifest_errors_init(errs);
	return rv_manifest_parse(text, strlen(text), base, cfg, errs);
}

static void rv_manifest_parse__larger_than_limit(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;
	size_t len = RV_MANIFEST_MAX_SIZE + 1;
	char *text = malloc(len);

	(void)state;
	assert_non_null(text);
	memset(text, ' ', len);
	memcpy(text, "{\"raevm\": 1}", 12);
	rv_vm_config_init(&cfg);
	rv_manifest_errors_init(&errs);
	assert_int_equal(rv_manifest_parse(text, len, NULL, &cfg, &errs),
			 -EFBIG);
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.lines[0], "the manifest is larger than 1 MiB");
	rv_manifest_errors_free(&errs);
	free(text);
}

static void rv_manifest_parse__exactly_at_limit(void **state)
{
	static const char m[] =
		"{\"raevm\": 1, \"name\": \"big\", \"boot\": {\"kernel\": \"k\"}}";
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;
	size_t len = RV_MANIFEST_MAX_SIZE;
	char *text = malloc(len);

	(void)state;
	assert_non_null(text);
	memset(text, '\n', len);
	memcpy(text, m, sizeof(m) - 1);
	rv_vm_config_init(&cfg);
	rv_manifest_errors_init(&errs);
	assert_int_equal(rv_manifest_parse(text, len, NULL, &cfg, &errs), 0);
	assert_string_equal(cfg.name, "big");
	rv_vm_config_free(&cfg);
	rv_manifest_errors_free(&errs);
	free(text);
}

/* The text is not NUL-terminated: ASan flags any read past len. */
static void rv_manifest_parse__unterminated_buffer(void **state)
{
	static const char m[] =
		"{\"raevm\": 1, \"name\": \"x\", \"boot\": {\"kernel\": \"k\"}, \"cpus\": 12";
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;
	char *text = malloc(sizeof(m) - 1);

	(void)state;
	assert_non_null(text);
	memcpy(text, m, sizeof(m) - 1);
	rv_vm_config_init(&cfg);
	rv_manifest_errors_init(&errs);
	assert_int_equal(rv_manifest_parse(text, sizeof(m) - 1, NULL, &cfg,
					   &errs),
			 -EINVAL);
	assert_int_equal(errs.count, 1);
	assert_string_equal(
		errs.lines[0],
		"line 1, column 62: invalid JSON: unexpected end of data");
	rv_manifest_errors_free(&errs);
	free(text);
}

static void rv_manifest_parse__nul_byte(void **state)
{
	static const char m[] = "{\"raevm\": 1,\n \"name\": \"x\0y\"}";
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;

	(void)state;
	rv_vm_config_init(&cfg);
	rv_manifest_errors_init(&errs);
	assert_int_equal(rv_manifest_parse(m, sizeof(m) - 1, NULL, &cfg, &errs),
			 -EINVAL);
	assert_int_equal(errs.count, 1);
	assert_string_equal(
		errs.lines[0],
		"line 2, column 12: invalid JSON: NUL byte in the text");
	rv_manifest_errors_free(&errs);
}

static void rv_manifest_parse__null_text_is_empty(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;

	(void)state;
	rv_vm_config_init(&cfg);
	rv_manifest_errors_init(&errs);
	assert_int_equal(rv_manifest_parse(NULL, 5, NULL, &cfg, &errs),
			 -EINVAL);
	assert_int_equal(errs.count, 1);
	rv_manifest_errors_free(&errs);
}

static void rv_manifest_parse__success_replaces_cfg(void **state)
{
	static const char m[] =
		"{\"raevm\":1,\"name\":\"n\",\"boot\":{\"kernel\":\"k\"}}";
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;

	(void)state;
	rv_vm_config_init(&cfg);
	cfg.kernel = strdup("old-kernel");
	cfg.initrd = strdup("old-initrd");
	cfg.cpus = 7;
	rv_manifest_errors_init(&errs);
	assert_int_equal(rv_manifest_parse(m, sizeof(m) - 1, "/d", &cfg, &errs),
			 0);
	/* Absent fields take the defaults, not the old values. */
	assert_string_equal(cfg.kernel, "/d/k");
	assert_null(cfg.initrd);
	assert_int_equal(cfg.cpus, RV_CONFIG_DEFAULT_CPUS);
	assert_int_equal(cfg.memory, RV_CONFIG_DEFAULT_MEMORY);
	assert_int_equal(errs.count, 0);
	rv_vm_config_free(&cfg);
}

static void rv_manifest_parse__success_replaces_disks(void **state)
{
	static const char m[] =
		"{\"raevm\":1,\"name\":\"n\",\"boot\":{\"kernel\":\"k\"},"
		"\"disks\":[{\"path\":\"a.img\",\"serial\":\"s\"}]}";
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;

	(void)state;
	rv_vm_config_init(&cfg);
	cfg.nr_disks = 2;
	cfg.disks[0].path = strdup("old0");
	cfg.disks[1].path = strdup("old1");
	cfg.disks[1].serial = strdup("old");
	cfg.console_socket = strdup("old.sock");
	cfg.rng = false;
	rv_manifest_errors_init(&errs);
	assert_int_equal(rv_manifest_parse(m, sizeof(m) - 1, "/d", &cfg, &errs),
			 0);
	/* The old disks are released (ASan would see a leak), not merged. */
	assert_int_equal(cfg.nr_disks, 1);
	assert_string_equal(cfg.disks[0].path, "/d/a.img");
	assert_string_equal(cfg.disks[0].serial, "s");
	assert_null(cfg.disks[0].format);
	assert_false(cfg.disks[0].readonly);
	assert_null(cfg.disks[1].path);
	assert_null(cfg.console_socket);
	assert_true(cfg.rng);
	rv_vm_config_free(&cfg);
}

/* Strings of a half-valid disk list are freed when the parse fails. */
static void rv_manifest_parse__failed_disks_leave_cfg_alone(void **state)
{
	static const char m[] =
		"{\"raevm\":1,\"name\":\"n\",\"boot\":{\"kernel\":\"k\"},"
		"\"console\":{\"socket\":\"c\"},\"disks\":[{\"path\":\"a\","
		"\"format\":\"raw\",\"serial\":\"x\"},{\"path\":\"b\","
		"\"format\":\"qcow3\"}]}";
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;

	(void)state;
	rv_vm_config_init(&cfg);
	cfg.nr_disks = 1;
	cfg.disks[0].path = strdup("keep");
	rv_manifest_errors_init(&errs);
	assert_int_equal(rv_manifest_parse(m, sizeof(m) - 1, "/d", &cfg, &errs),
			 -EINVAL);
	assert_int_equal(errs.count, 1);
	assert_string_equal(
		errs.lines[0],
		"disks[1].format: expected \"raw\" or \"qcow2\", got \"qcow3\" (did you mean \"qcow2\"?)");
	assert_int_equal(cfg.nr_disks, 1);
	assert_string_equal(cfg.disks[0].path, "keep");
	assert_null(cfg.console_socket);
	rv_vm_config_free(&cfg);
	rv_manifest_errors_free(&errs);
}

/* Without a base folder disk and socket paths stay as written. */
static void rv_manifest_parse__disk_paths_without_base_dir(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;

	(void)state;
	assert_int_equal(
		parse("{\"raevm\":1,\"name\":\"n\",\"boot\":{\"kernel\":\"k\"},"
		      "\"disks\":[{\"path\":\"a.img\"},{\"path\":\"/b.img\"}],"
		      "\"console\":{\"socket\":\"c.sock\"}}",
		      NULL, &cfg, &errs),
		0);
	assert_int_equal(cfg.nr_disks, 2);
	assert_string_equal(cfg.disks[0].path, "a.img");
	assert_string_equal(cfg.disks[1].path, "/b.img");
	assert_string_equal(cfg.console_socket, "c.sock");
	rv_vm_config_free(&cfg);
}

static void rv_manifest_parse__relative_paths_without_base_dir(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;

	(void)state;
	assert_int_equal(
		parse("{\"raevm\":1,\"name\":\"n\",\"boot\":{\"kernel\":\"a/k\",\"initrd\":\"i\"}}",
		      NULL, &cfg, &errs),
		0);
	assert_string_equal(cfg.kernel, "a/k");
	assert_string_equal(cfg.initrd, "i");
	rv_vm_config_free(&cfg);
	assert_int_equal(
		parse("{\"raevm\":1,\"name\":\"n\",\"boot\":{\"kernel\":\"k\"}}",
		      "", &cfg, &errs),
		0);
	assert_string_equal(cfg.kernel, "k");
	rv_vm_config_free(&cfg);
}

static void rv_manifest_parse__base_dir_with_trailing_slash(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;

	(void)state;
	assert_int_equal(
		parse("{\"raevm\":1,\"name\":\"n\",\"boot\":{\"kernel\":\"k\"}}",
		      "/", &cfg, &errs),
		0);
	assert_string_equal(cfg.kernel, "/k");
	rv_vm_config_free(&cfg);
	assert_int_equal(
		parse("{\"raevm\":1,\"name\":\"n\",\"boot\":{\"kernel\":\"k\"}}",
		      "/srv/", &cfg, &errs),
		0);
	assert_string_equal(cfg.kernel, "/srv/k");
	rv_vm_config_free(&cfg);
}

static void rv_manifest_parse__errors_are_appended(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;

	(void)state;
	assert_int_equal(parse("{\"raevm\":1,\"name\":\"n\"}", NULL, &cfg,
			       &errs),
			 -EINVAL);
	assert_int_equal(errs.count, 1);
	assert_int_equal(rv_manifest_parse("[]", 2, NULL, &cfg, &errs),
			 -EINVAL);
	assert_int_equal(errs.count, 2);
	assert_string_equal(
		errs.lines[1],
		"expected a JSON object at the top level, got an array");
	rv_manifest_errors_free(&errs);
}

/* A hostile manifest with thousands of problems keeps a bounded list. */
static void rv_manifest_parse__error_list_is_capped(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int i;

	(void)state;
	assert_non_null(f);
	fputs("{\"raevm\": 1, \"name\": \"n\", \"boot\": {\"kernel\": \"k\"}",
	      f);
	for (i = 0; i < 1000; i++)
		fprintf(f, ", \"k%d\": %d", i, i);
	fputs("}", f);
	fclose(f);
	rv_vm_config_init(&cfg);
	rv_manifest_errors_init(&errs);
	assert_int_equal(rv_manifest_parse(text, len, NULL, &cfg, &errs),
			 -EINVAL);
	assert_int_equal(errs.count, RV_MANIFEST_MAX_ERRORS);
	assert_int_equal(errs.dropped, 1000 - RV_MANIFEST_MAX_ERRORS);
	assert_string_equal(errs.lines[0], "k0: unknown key");
	rv_manifest_errors_free(&errs);
	free(text);
}

/* Duplicate detection must stay fast on an object with very many keys. */
static void rv_manifest_parse__many_keys_one_duplicate(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int i;

	(void)state;
	assert_non_null(f);
	fputs("{\"raevm\": 1, \"name\": \"n\", \"boot\": {\"kernel\": \"k\"}, \"x\": {",
	      f);
	for (i = 0; i < 50000; i++)
		fprintf(f, "\"k%d\": 0, ", i);
	fputs("\"k31337\": 1}}", f);
	fclose(f);
	rv_vm_config_init(&cfg);
	rv_manifest_errors_init(&errs);
	assert_int_equal(rv_manifest_parse(text, len, NULL, &cfg, &errs),
			 -EINVAL);
	assert_int_equal(errs.count, 2);
	assert_string_equal(
		errs.lines[0],
		"x.k31337: duplicate key on line 1 (first given on line 1)");
	assert_string_equal(errs.lines[1], "x: unknown key");
	rv_manifest_errors_free(&errs);
	free(text);
}

static void rv_manifest_parse__deep_nesting_at_limit(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;
	char text[256];
	int i, o = 0;

	(void)state;
	/* The root object is level 1; "x" adds RV_MANIFEST_MAX_DEPTH - 1. */
	o += snprintf(text + o, sizeof(text) - (size_t)o,
		      "{\"raevm\":1,\"x\":");
	for (i = 0; i < RV_MANIFEST_MAX_DEPTH - 1; i++)
		text[o++] = '[';
	for (i = 0; i < RV_MANIFEST_MAX_DEPTH - 1; i++)
		text[o++] = ']';
	snprintf(text + o, sizeof(text) - (size_t)o, "}");
	assert_int_equal(parse(text, NULL, &cfg, &errs), -EINVAL);
	/* Deep but within the limit: judged as a manifest, not as JSON. */
	assert_string_equal(errs.lines[0], "x: unknown key");
	rv_manifest_errors_free(&errs);
}

static void rv_manifest_parse__deep_nesting_over_limit(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;
	char text[256];
	int i, o = 0;

	(void)state;
	o += snprintf(text + o, sizeof(text) - (size_t)o,
		      "{\"raevm\":1,\"x\":");
	for (i = 0; i < RV_MANIFEST_MAX_DEPTH; i++)
		text[o++] = '[';
	for (i = 0; i < RV_MANIFEST_MAX_DEPTH; i++)
		text[o++] = ']';
	snprintf(text + o, sizeof(text) - (size_t)o, "}");
	assert_int_equal(parse(text, NULL, &cfg, &errs), -EINVAL);
	assert_int_equal(errs.count, 1);
	assert_non_null(
		strstr(errs.lines[0], "invalid JSON: nesting too deep"));
	rv_manifest_errors_free(&errs);
}

static void rv_manifest_parse__string_at_limit(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;
	char *text = NULL, *path = malloc(RV_MANIFEST_MAX_STRING + 1);
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	assert_non_null(path);
	memset(path, 'p', RV_MANIFEST_MAX_STRING);
	path[0] = '/';
	path[RV_MANIFEST_MAX_STRING] = '\0';
	fprintf(f, "{\"raevm\":1,\"name\":\"n\",\"boot\":{\"kernel\":\"%s\"}}",
		path);
	fclose(f);
	rv_vm_config_init(&cfg);
	rv_manifest_errors_init(&errs);
	assert_int_equal(rv_manifest_parse(text, len, NULL, &cfg, &errs), 0);
	assert_int_equal(strlen(cfg.kernel), RV_MANIFEST_MAX_STRING);
	rv_vm_config_free(&cfg);
	free(text);
	free(path);
}

static char *make_tmpdir(void)
{
	char *dir = strdup("/tmp/raevm-test-manifest-XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static void rv_manifest_load__resolves_against_manifest_folder(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;
	char *dir = make_tmpdir(), *real, path[PATH_MAX], want[PATH_MAX];

	(void)state;
	snprintf(path, sizeof(path), "%s/vm.raeVM", dir);
	write_text(
		path,
		"{\"raevm\":1,\"name\":\"n\",\"boot\":{\"kernel\":\"img/k\",\"initrd\":\"/abs/i\"}}");
	real = realpath(dir, NULL);
	assert_non_null(real);
	snprintf(want, sizeof(want), "%s/img/k", real);
	rv_vm_config_init(&cfg);
	rv_manifest_errors_init(&errs);
	assert_int_equal(rv_manifest_load(path, &cfg, &errs), 0);
	assert_string_equal(cfg.kernel, want);
	assert_string_equal(cfg.initrd, "/abs/i");
	assert_string_equal(errs.file, path);
	rv_vm_config_free(&cfg);
	rv_manifest_errors_free(&errs);
	unlink(path);
	rmdir(dir);
	free(real);
	free(dir);
}

static void rv_manifest_load__missing_file(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;

	(void)state;
	rv_vm_config_init(&cfg);
	rv_manifest_errors_init(&errs);
	assert_int_equal(rv_manifest_load("/nonexistent/vm.raeVM", &cfg, &errs),
			 -ENOENT);
	assert_int_equal(errs.count, 1);
	assert_string_equal(errs.file, "/nonexistent/vm.raeVM");
	assert_string_equal(errs.lines[0],
			    "cannot read it: No such file or directory");
	rv_manifest_errors_free(&errs);
}

static void rv_manifest_load__too_large(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;
	char *dir = make_tmpdir(), path[PATH_MAX];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/big.raeVM", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, RV_MANIFEST_MAX_SIZE + 1), 0);
	close(fd);
	rv_vm_config_init(&cfg);
	rv_manifest_errors_init(&errs);
	assert_int_equal(rv_manifest_load(path, &cfg, &errs), -EFBIG);
	assert_string_equal(errs.lines[0], "the manifest is larger than 1 MiB");
	rv_manifest_errors_free(&errs);
	unlink(path);
	rmdir(dir);
	free(dir);
}

static void rv_manifest_load__directory(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;

	(void)state;
	rv_vm_config_init(&cfg);
	rv_manifest_errors_init(&errs);
	assert_int_equal(rv_manifest_load("/", &cfg, &errs), -EISDIR);
	assert_string_equal(errs.lines[0], "cannot read it: Is a directory");
	rv_manifest_errors_free(&errs);
}

/* Runs fn with stderr redirected to a file and returns what it wrote. */
static char *capture_stderr(void (*fn)(const void *), const void *arg)
{
	FILE *tmp = tmpfile();
	int saved;
	long n;
	char *out;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	fn(arg);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	n = ftell(tmp);
	if (n < 0)
		n = lseek(fileno(tmp), 0, SEEK_END);
	assert_true(n >= 0);
	out = calloc(1, (size_t)n + 1);
	assert_non_null(out);
	assert_int_equal(pread(fileno(tmp), out, (size_t)n, 0), n);
	fclose(tmp);
	return out;
}

static void print_errs(const void *arg)
{
	rv_manifest_errors_print(arg);
}

static void rv_manifest_errors_print__one_line_each_with_file(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;
	char *out;

	(void)state;
	rv_log_set_prog("raevmd");
	assert_int_equal(
		parse("{\"raevm\":1,\"name\":\"n\",\"cpus\":0,\"boot\":{\"kernal\":\"k\"}}",
		      NULL, &cfg, &errs),
		-EINVAL);
	errs.file = strdup("vm.raeVM");
	errs.dropped = 3;
	out = capture_stderr(print_errs, &errs);
	assert_string_equal(
		out,
		"raevmd: vm.raeVM: cpus: expected an integer from 1 to 254, got 0\n"
		"raevmd: vm.raeVM: boot.kernal: unknown key (did you mean \"kernel\"?)\n"
		"raevmd: vm.raeVM: boot.kernel: missing (the kernel to boot is required)\n"
		"raevmd: vm.raeVM: 3 more errors not shown\n");
	free(out);
	rv_manifest_errors_free(&errs);
}

static void rv_manifest_errors_print__without_file(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;
	char *out;

	(void)state;
	assert_int_equal(parse("", NULL, &cfg, &errs), -EINVAL);
	out = capture_stderr(print_errs, &errs);
	assert_string_equal(
		out,
		"raevmd: the manifest is empty (expected a JSON object such as {\"raevm\": 1, ...})\n");
	free(out);
	rv_manifest_errors_free(&errs);
}

static void rv_manifest_errors_free__twice_is_safe(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;

	(void)state;
	assert_int_equal(parse("1", NULL, &cfg, &errs), -EINVAL);
	rv_manifest_errors_free(&errs);
	assert_int_equal(errs.count, 0);
	assert_null(errs.lines);
	rv_manifest_errors_free(&errs);
	rv_manifest_errors_free(NULL);
}

static void rv_manifest_suggest__close_and_far_words(void **state)
{
	static const char *const keys[] = { "kernel", "initrd", "cmdline",
					    "cpus" };

	(void)state;
	assert_string_equal(rv_manifest_suggest("kernal", keys, 4), "kernel");
	assert_string_equal(rv_manifest_suggest("initdr", keys, 4), "initrd");
	assert_string_equal(rv_manifest_suggest("CMDLINE", keys, 4), "cmdline");
	assert_string_equal(rv_manifest_suggest("cpu", keys, 4), "cpus");
	/* Short names tolerate one edit only. */
	assert_null(rv_manifest_suggest("cp", keys, 4));
	assert_null(rv_manifest_suggest("append", keys, 4));
	assert_null(rv_manifest_suggest("", keys, 4));
	assert_null(rv_manifest_suggest("kernel", keys, 0));
}

static void rv_manifest_quote__escapes_and_cuts(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(rv_manifest_quote("a\"b\\c\n\x1b\xc3", 8, 40, buf,
					      sizeof(buf)),
			    "a\\\"b\\\\c\\x0a\\x1b\\xc3");
	assert_string_equal(rv_manifest_quote("abcdefgh", 8, 4, buf,
					      sizeof(buf)),
			    "abcd...");
	/* A small buffer cuts too, and always terminates. */
	assert_string_equal(rv_manifest_quote("abcdefgh", 8, 40, buf, 8),
			    "abcd...");
	assert_string_equal(rv_manifest_quote("abc", 3, 40, buf, 1), "");
}

static void rv_manifest_name_valid__rules(void **state)
{
	char name[RV_MANIFEST_NAME_MAX + 2];

	(void)state;
	assert_true(rv_manifest_name_valid("web"));
	assert_true(rv_manifest_name_valid("Web_1.prod-2"));
	assert_true(rv_manifest_name_valid("9"));
	assert_false(rv_manifest_name_valid(""));
	assert_false(rv_manifest_name_valid(".web"));
	assert_false(rv_manifest_name_valid("-web"));
	assert_false(rv_manifest_name_valid("my vm"));
	assert_false(rv_manifest_name_valid("a/b"));
	assert_false(rv_manifest_name_valid("caf\xc3\xa9"));
	memset(name, 'a', RV_MANIFEST_NAME_MAX);
	name[RV_MANIFEST_NAME_MAX] = '\0';
	assert_true(rv_manifest_name_valid(name));
	name[RV_MANIFEST_NAME_MAX] = 'a';
	name[RV_MANIFEST_NAME_MAX + 1] = '\0';
	assert_false(rv_manifest_name_valid(name));
}

static void rv_manifest_memory_problem__bounds(void **state)
{
	(void)state;
	assert_null(rv_manifest_memory_problem(RV_CONFIG_MIN_MEMORY));
	assert_null(rv_manifest_memory_problem(RV_MANIFEST_MAX_MEMORY));
	assert_string_equal(
		rv_manifest_memory_problem(RV_CONFIG_MIN_MEMORY - 4096),
		"is below the minimum of 16M");
	assert_string_equal(
		rv_manifest_memory_problem(RV_MANIFEST_MAX_MEMORY + 4096),
		"is above the maximum of 16T");
	assert_string_equal(
		rv_manifest_memory_problem(RV_CONFIG_MIN_MEMORY + 1),
		"is not a multiple of 4K");
}

static void rv_manifest_disk_format_valid__names(void **state)
{
	(void)state;
	assert_true(rv_manifest_disk_format_valid("raw"));
	assert_true(rv_manifest_disk_format_valid("qcow2"));
	assert_false(rv_manifest_disk_format_valid("RAW"));
	assert_false(rv_manifest_disk_format_valid("qcow"));
	assert_false(rv_manifest_disk_format_valid("raw "));
	assert_false(rv_manifest_disk_format_valid(""));
}

static void rv_manifest_serial_problem__rules(void **state)
{
	char buf[96];

	(void)state;
	assert_null(rv_manifest_serial_problem("root", buf, sizeof(buf)));
	assert_null(rv_manifest_serial_problem("ABCDEFGHIJKLMNOPQRST", buf,
					       sizeof(buf)));
	assert_null(rv_manifest_serial_problem(" a b,c=d~", buf, sizeof(buf)));
	assert_string_equal(rv_manifest_serial_problem("", buf, sizeof(buf)),
			    "must not be empty");
	assert_string_equal(rv_manifest_serial_problem("ABCDEFGHIJKLMNOPQRSTU",
						       buf, sizeof(buf)),
			    "too long (21 bytes; the virtio-blk limit is 20)");
	assert_string_equal(rv_manifest_serial_problem("a\x7f", buf,
						       sizeof(buf)),
			    "contains the control character 0x7f");
	assert_string_equal(
		rv_manifest_serial_problem("caf\xc3\xa9", buf, sizeof(buf)),
		"contains the non-ASCII byte 0xc3 (use printable ASCII)");
	/* A bad character is named before the length of a long serial. */
	assert_string_equal(
		rv_manifest_serial_problem("ABCDEFGHIJKLMNOPQRSTUVWXYZ\n", buf,
					   sizeof(buf)),
		"contains the control character 0x0a");
}

static void rv_manifest_same_path__spellings(void **state)
{
	(void)state;
	assert_true(rv_manifest_same_path("/a/b.img", "/a/b.img"));
	assert_true(rv_manifest_same_path("/a/./b.img", "/a//b.img"));
	assert_true(rv_manifest_same_path("a.img", "./a.img"));
	assert_true(rv_manifest_same_path("d/", "d"));
	assert_true(rv_manifest_same_path("/", "//."));
	assert_false(rv_manifest_same_path("/a.img", "a.img"));
	assert_false(rv_manifest_same_path("/a/b.img", "/a/b.im"));
	assert_false(rv_manifest_same_path("/a/b.img", "/a/b.img/c"));
	assert_false(rv_manifest_same_path("a/b", "ab"));
	/* ".." is left alone: a/.. need not be the folder a is in. */
	assert_false(rv_manifest_same_path("a/../b", "b"));
	assert_false(rv_manifest_same_path("..a", ".a"));
}

static void rv_vm_config_init__defaults(void **state)
{
	struct rv_vm_config cfg;

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	rv_vm_config_init(&cfg);
	assert_int_equal(cfg.cpus, RV_CONFIG_DEFAULT_CPUS);
	assert_int_equal(cfg.memory, RV_CONFIG_DEFAULT_MEMORY);
	assert_null(cfg.name);
	assert_null(cfg.kernel);
	assert_null(cfg.cpu_template);
	assert_false(cfg.hugepages);
	assert_false(cfg.memfd);
	assert_true(cfg.rng);
	assert_int_equal(cfg.nr_disks, 0);
	assert_null(cfg.console_socket);
}

static void rv_vm_config_free__leaves_config_reusable(void **state)
{
	struct rv_vm_config cfg;

	(void)state;
	rv_vm_config_init(&cfg);
	cfg.name = strdup("n");
	cfg.kernel = strdup("k");
	cfg.cpus = 4;
	rv_vm_config_free(&cfg);
	assert_null(cfg.name);
	assert_null(cfg.kernel);
	assert_int_equal(cfg.cpus, RV_CONFIG_DEFAULT_CPUS);
	rv_vm_config_free(&cfg);
	rv_vm_config_free(NULL);
}

/* A failed parse must not touch the caller's NICs, vsock or limits. */
static void rv_manifest_parse__bad_net_keeps_old_config(void **state)
{
	static const char m[] =
		"{\"raevm\": 1, \"name\": \"n\", \"boot\": {\"kernel\": \"k\"},"
		" \"net\": [{\"mode\": \"tap\", \"tap\": \"tap9\"},"
		" {\"forward\": [\"tcp::1-:0\"]}],"
		" \"vsock\": {\"cid\": 7}, \"limits\": {\"cpuset\": \"0\"}}";
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;

	(void)state;
	rv_vm_config_init(&cfg);
	cfg.nr_nets = 1;
	cfg.nets[0].mtu = 1234;
	rv_manifest_errors_init(&errs);
	assert_int_equal(rv_manifest_parse(m, strlen(m), BASE, &cfg, &errs),
			 -EINVAL);
	assert_int_equal(errs.count, 1);
	assert_string_equal(
		errs.lines[0],
		"net[1].forward[0]: guest port '0' is not a number from 1 to 65535 in \"tcp::1-:0\"");
	assert_int_equal(cfg.nr_nets, 1);
	assert_int_equal(cfg.nets[0].mtu, 1234);
	assert_null(cfg.nets[0].tap_name);
	assert_false(cfg.vsock.enabled);
	assert_null(cfg.limits.cpuset);
	rv_manifest_errors_free(&errs);
	rv_vm_config_free(&cfg);
}

/* "none" is not stored: it means no NIC, as an absent "net" does. */
static void rv_manifest_parse__net_none_is_no_nic(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;

	(void)state;
	assert_int_equal(
		parse("{\"raevm\": 1, \"name\": \"n\", \"boot\": {\"kernel\": \"k\"},"
		      " \"net\": [{\"mode\": \"none\"}]}",
		      BASE, &cfg, &errs),
		0);
	assert_int_equal(cfg.nr_nets, 0);
	assert_int_equal(cfg.nets[0].tap_fd, -1);
	assert_int_equal(cfg.nets[0].mode, RV_NET_USER);
	rv_manifest_errors_free(&errs);
	rv_vm_config_free(&cfg);
}

/* Defaults of the new fields: no NIC, no vsock, not ephemeral, sandboxed. */
static void rv_manifest_parse__new_fields_default(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;

	(void)state;
	assert_int_equal(
		parse("{\"raevm\": 1, \"name\": \"n\", \"boot\": {\"kernel\": \"k\"},"
		      " \"net\": [{}], \"vsock\": {\"cid\": 3}}",
		      NULL, &cfg, &errs),
		0);
	assert_int_equal(cfg.nr_nets, 1);
	assert_int_equal(cfg.nets[0].mode, RV_NET_USER);
	assert_false(cfg.nets[0].mac_set);
	assert_int_equal(cfg.nets[0].mtu, 0);
	assert_true(cfg.vsock.enabled);
	assert_null(cfg.vsock.socket);
	assert_false(cfg.ephemeral);
	assert_true(cfg.sandbox);
	assert_int_equal(cfg.limits.memory, 0);
	assert_int_equal(cfg.limits.pids, 0);
	rv_manifest_errors_free(&errs);
	rv_vm_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(corpus__valid_files_parse_to_expected_config),
		cmocka_unit_test(corpus__invalid_files_give_exact_errors),
		cmocka_unit_test(rv_manifest_parse__larger_than_limit),
		cmocka_unit_test(rv_manifest_parse__exactly_at_limit),
		cmocka_unit_test(rv_manifest_parse__unterminated_buffer),
		cmocka_unit_test(rv_manifest_parse__nul_byte),
		cmocka_unit_test(rv_manifest_parse__null_text_is_empty),
		cmocka_unit_test(rv_manifest_parse__success_replaces_cfg),
		cmocka_unit_test(rv_manifest_parse__success_replaces_disks),
		cmocka_unit_test(
			rv_manifest_parse__failed_disks_leave_cfg_alone),
		cmocka_unit_test(
			rv_manifest_parse__disk_paths_without_base_dir),
		cmocka_unit_test(
			rv_manifest_parse__relative_paths_without_base_dir),
		cmocka_unit_test(
			rv_manifest_parse__base_dir_with_trailing_slash),
		cmocka_unit_test(rv_manifest_parse__errors_are_appended),
		cmocka_unit_test(rv_manifest_parse__error_list_is_capped),
		cmocka_unit_test(rv_manifest_parse__many_keys_one_duplicate),
		cmocka_unit_test(rv_manifest_parse__deep_nesting_at_limit),
		cmocka_unit_test(rv_manifest_parse__deep_nesting_over_limit),
		cmocka_unit_test(rv_manifest_parse__string_at_limit),
		cmocka_unit_test(
			rv_manifest_load__resolves_against_manifest_folder),
		cmocka_unit_test(rv_manifest_load__missing_file),
		cmocka_unit_test(rv_manifest_load__too_large),
		cmocka_unit_test(rv_manifest_load__directory),
		cmocka_unit_test(
			rv_manifest_errors_print__one_line_each_with_file),
		cmocka_unit_test(rv_manifest_errors_print__without_file),
		cmocka_unit_test(rv_manifest_errors_free__twice_is_safe),
		cmocka_unit_test(rv_manifest_suggest__close_and_far_words),
		cmocka_unit_test(rv_manifest_quote__escapes_and_cuts),
		cmocka_unit_test(rv_manifest_name_valid__rules),
		cmocka_unit_test(rv_manifest_memory_problem__bounds),
		cmocka_unit_test(rv_manifest_disk_format_valid__names),
		cmocka_unit_test(rv_manifest_serial_problem__rules),
		cmocka_unit_test(rv_manifest_same_path__spellings),
		cmocka_unit_test(rv_vm_config_init__defaults),
		cmocka_unit_test(rv_vm_config_free__leaves_config_reusable),
		cmocka_unit_test(rv_manifest_parse__bad_net_keeps_old_config),
		cmocka_unit_test(rv_manifest_parse__net_none_is_no_nic),
		cmocka_unit_test(rv_manifest_parse__new_fields_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
