// SPDX-License-Identifier: Apache-2.0
/*
 * `raevmd img`: create and describe disk images, and `img io`, a small
 * qemu-io-like tool that drives the same code a VM's disk uses (the
 * integration tests compare its results with qemu-io's; it also helps to
 * look into an image by hand).
 *
 *   raevmd img create [-f raw|qcow2] [-b BACKING -F FMT] [--cluster-size N]
 *                     PATH [SIZE]
 *   raevmd img info [-f FMT] [--json] PATH
 *   raevmd img io -f FMT [-r] PATH -c CMD [-c CMD ...]
 *
 * Every error is one line on stderr and exit status 1.
 */
#include "raevm/img.h"

#include "raevm/block.h"
#include "raevm/log.h"
#include "raevm/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#define MAX_IO_CMDS 256
#define IO_CHUNK (1024 * 1024)

enum {
	A_FORMAT = 1 << 0,
	A_BACKING = 1 << 1,
	A_BACKING_FORMAT = 1 << 2,
	A_CLUSTER = 1 << 3,
	A_JSON = 1 << 4,
	A_READONLY = 1 << 5,
	A_CMD = 1 << 6,
};

struct img_args {
	const char *what; /* "img create", for error lines */
	const char *format;
	const char *backing;
	const char *backing_format;
	const char *cluster_size;
	bool json;
	bool readonly;
	const char *cmds[MAX_IO_CMDS];
	int n_cmds;
	const char *pos[2];
	int n_pos;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: raevmd img create [-f raw|qcow2] [-b BACKING -F FMT] "
		"[--cluster-size N] PATH [SIZE]\n"
		"       raevmd img info [-f raw|qcow2] [--json] PATH\n"
		"       raevmd img io -f raw|qcow2 [-r] PATH -c CMD [-c CMD "
		"...]\n"
		"create makes a new image (raw without -b, qcow2 with it); a "
		"relative BACKING\n"
		"is a file in PATH's folder and SIZE defaults to its size.\n"
		"io commands: read [-P BYTE] OFF LEN, write [-P BYTE] OFF LEN, "
		"write -z [-u] OFF LEN,\n"
		"             discard OFF LEN, flush, dump FILE (the whole "
		"disk, as raw)\n");
}

/* Takes the value of option argv[*i]; one error line when it is missing. */
static int take(struct img_args *a, int argc, char **argv, int *i,
		const char **out)
{
	if (*i + 1 >= argc) {
		rv_error("%s: %s needs a value", a->what, argv[*i]);
		return -EINVAL;
	}
	*out = argv[++*i];
	return 0;
}

static int parse_args(struct img_args *a, int argc, char **argv,
		      unsigned int allowed, int max_pos)
{
	static const struct {
		const char *name;
		unsigned int flag;
	} opts[] = {
		{ "-f", A_FORMAT },
		{ "-b", A_BACKING },
		{ "-F", A_BACKING_FORMAT },
		{ "--cluster-size", A_CLUSTER },
		{ "--json", A_JSON },
		{ "-r", A_READONLY },
		{ "-c", A_CMD },
	};
	int i;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];
		unsigned int flag = 0;
		size_t k;
		int rc = 0;

		for (k = 0; k < RV_ARRAY_SIZE(opts); k++)
			if (strcmp(arg, opts[k].name) == 0)
				flag = opts[k].flag;
		if (!flag && arg[0] == '-' && arg[1] != '\0') {
			rv_error("%s: unknown option '%s'", a->what, arg);
			return -EINVAL;
		}
		if (flag && !(flag & allowed)) {
			rv_error("%s: option '%s' does not apply here", a->what,
				 arg);
			return -EINVAL;
		}
		switch (flag) {
		case 0:
			if (a->n_pos == max_pos) {
				rv_error("%s: unexpected argument '%s'",
					 a->what, arg);
				return -EINVAL;
			}
			a->pos[a->n_pos++] = arg;
			break;
		case A_FORMAT:
			rc = take(a, argc, argv, &i, &a->format);
			break;
		case A_BACKING:
			rc = take(a, argc, argv, &i, &a->backing);
			break;
		case A_BACKING_FORMAT:
			rc = take(a, argc, argv, &i, &a->backing_format);
			break;
		case A_CLUSTER:
			rc = take(a, argc, argv, &i, &a->cluster_size);
			break;
		case A_JSON:
			a->json = true;
			break;
		case A_READONLY:
			a->readonly = true;
			break;
		case A_CMD:
			if (a->n_cmds == MAX_IO_CMDS) {
				rv_error("%s: more than %d commands", a->what,
					 MAX_IO_CMDS);
				return -E2BIG;
			}
			rc = take(a, argc, argv, &i, &a->cmds[a->n_cmds]);
			a->n_cmds++;
			break;
		}
		if (rc)
			return rc;
	}
	if (a->n_pos == 0) {
		rv_error("%s: no image path", a->what);
		return -EINVAL;
	}
	return 0;
}

static int get_format(const struct img_args *a, const char *flag,
		      const char *text, enum rv_blk_format *out)
{
	if (rv_blk_parse_format(text, out) == 0)
		return 0;
	rv_error("%s: %s: unknown format '%s' (raw or qcow2)", a->what, flag,
		 text);
	return -EINVAL;
}

/* ---- create ---- */

static int cluster_bits(const struct img_args *a, uint32_t *out)
{
	uint64_t v;
	uint32_t b;

	if (rv_parse_size(a->cluster_size, &v) == 0)
		for (b = 9; b <= 21; b++)
			if (v == 1ULL << b) {
				*out = b;
				return 0;
			}
	rv_error("%s: --cluster-size: '%s' is not a power of two from 512 "
		 "to 2M",
		 a->what, a->cluster_size);
	return -EINVAL;
}

static int img_create(int argc, char **argv)
{
	struct img_args a = { .what = "img create" };
	struct rv_blk_create_opts o = { 0 };
	char err[1024];
	int rc;

	rc = parse_args(&a, argc, argv,
			A_FORMAT | A_BACKING | A_BACKING_FORMAT | A_CLUSTER, 2);
	if (rc)
		return 1;
	o.format = a.backing ? RV_BLK_QCOW2 : RV_BLK_RAW;
	if (a.format && get_format(&a, "-f", a.format, &o.format))
		return 1;
	if (a.backing_format && !a.backing) {
		rv_error("%s: -F names the backing file's format; it needs -b",
			 a.what);
		return 1;
	}
	if (a.backing && !a.backing_format) {
		rv_error("%s: -b needs -F raw|qcow2 (a backing file's format "
			 "is never guessed)",
			 a.what);
		return 1;
	}
	if (a.backing_format &&
	    get_format(&a, "-F", a.backing_format, &o.backing_format))
		return 1;
	o.backing = a.backing;
	if (a.cluster_size) {
		if (o.format != RV_BLK_QCOW2) {
			rv_error("%s: --cluster-size applies to qcow2 images "
				 "only",
				 a.what);
			return 1;
		}
		if (cluster_bits(&a, &o.cluster_bits))
			return 1;
	}
	if (a.n_pos == 2 && rv_parse_size(a.pos[1], &o.size) != 0) {
		rv_error("%s: bad size '%s' (for example 10G or 512M)", a.what,
			 a.pos[1]);
		return 1;
	}
	if (a.n_pos == 2 && o.size == 0) {
		rv_error("%s: the size must be greater than 0", a.what);
		return 1;
	}
	rc = rv_blk_create(a.pos[0], &o, err, sizeof(err));
	if (rc) {
		rv_error("%s: %s", a.what, err);
		return 1;
	}
	return 0;
}

/* ---- info ---- */

static const char *yes_no(bool v)
{
	return v ? "yes" : "no";
}

static void print_info(const char *path, const struct rv_blk_info *in)
{
	char b1[32], b2[32];

	printf("image: %s\n", path);
	printf("format: %s\n", rv_blk_format_name(in->format));
	printf("virtual size: %s (%llu bytes)\n",
	       rv_format_size(in->virtual_size, b1, sizeof(b1)),
	       (unsigned long long)in->virtual_size);
	printf("disk size: %s\n",
	       rv_format_size(in->disk_usage, b2, sizeof(b2)));
	if (in->format != RV_BLK_QCOW2)
		return;
	printf("cluster size: %u\n", in->cluster_size);
	printf("qcow2 version: %u\n", in->version);
	printf("refcount bits: %u\n", in->refcount_bits);
	if (in->nb_snapshots)
		printf("internal snapshots: %u\n", in->nb_snapshots);
	if (in->crypt_method)
		printf("encrypted: yes (method %u)\n", in->crypt_method);
	if (in->has_backing) {
		printf("backing file: %s", in->backing);
		if (strcmp(in->backing, in->backing_path) != 0)
			printf(" (%s)", in->backing_path);
		printf("\nbacking format: %s%s\n", in->backing_format,
		       in->backing_format_recorded ?
			       "" :
			       " (not recorded; assumed)");
	}
	if (in->incompatible & ~3ULL)
		printf("incompatible features: 0x%llx\n",
		       (unsigned long long)in->incompatible);
	printf("dirty: %s\n", yes_no(in->dirty));
	printf("corrupt: %s\n", yes_no(in->corrupt));
}

static struct json_object *info_json(const char *path,
				     const struct rv_blk_info *in)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "path", json_object_new_string(path));
	json_object_object_add(
		o, "format",
		json_object_new_string(rv_blk_format_name(in->format)));
	json_object_object_add(
		o, "virtual_size",
		json_object_new_int64((int64_t)in->virtual_size));
	json_object_object_add(o, "file_size",
			       json_object_new_int64((int64_t)in->file_size));
	json_object_object_add(o, "disk_size",
			       json_object_new_int64((int64_t)in->disk_usage));
	if (in->format != RV_BLK_QCOW2)
		return o;
	json_object_object_add(o, "cluster_size",
			       json_object_new_int64(in->cluster_size));
	json_object_object_add(o, "qcow2_version",
			       json_object_new_int64(in->version));
	json_object_object_add(o, "refcount_bits",
			       json_object_new_int64(in->refcount_bits));
	json_object_object_add(o, "snapshots",
			       json_object_new_int64(in->nb_snapshots));
	json_object_object_add(o, "encrypted",
			       json_object_new_boolean(in->crypt_method != 0));
	json_object_object_add(
		o, "incompatible_features",
		json_object_new_int64((int64_t)in->incompatible));
	json_object_object_add(o, "dirty", json_object_new_boolean(in->dirty));
	json_object_object_add(o, "corrupt",
			       json_object_new_boolean(in->corrupt));
	if (in->has_backing) {
		json_object_object_add(o, "backing_file",
				       json_object_new_string(in->backing));
		json_object_object_add(
			o, "backing_path",
			json_object_new_string(in->backing_path));
		json_object_object_add(
			o, "backing_format",
			json_object_new_string(in->backing_format));
		json_object_object_add(
			o, "backing_format_recorded",
			json_object_new_boolean(in->backing_format_recorded));
	}
	return o;
}

/*
 * Prints the image and its backing chain. A broken link (missing file,
 * loop, unknown format) ends the chain with an error after what was found.
 */
static int img_info(int argc, char **argv)
{
	struct img_args a = { .what = "img info" };
	struct json_object *top = NULL, *chain = NULL;
	struct rv_blk_info *in = malloc(sizeof(*in));
	uint64_t seen_dev[17], seen_ino[17];
	char err[8192], path[4096];
	enum rv_blk_format fmt;
	int depth, status = 0;

	if (!in || parse_args(&a, argc, argv, A_FORMAT | A_JSON, 1)) {
		free(in);
		return 1;
	}
	if (a.format ? get_format(&a, "-f", a.format, &fmt) :
		       rv_blk_probe_format(a.pos[0], &fmt, err, sizeof(err))) {
		if (!a.format)
			rv_error("%s: %s", a.what, err);
		free(in);
		return 1;
	}
	snprintf(path, sizeof(path), "%s", a.pos[0]);
	for (depth = 0;; depth++) {
		int i;

		if (rv_blk_query(path, fmt, in, err, sizeof(err))) {
			status = 1;
			break;
		}
		for (i = 0; i < depth; i++)
			if (seen_dev[i] == in->dev && seen_ino[i] == in->ino)
				break;
		if (i < depth || depth == (int)RV_ARRAY_SIZE(seen_dev)) {
			snprintf(err, sizeof(err),
				 "'%s': backing file loop or "
				 "chain longer than %d images",
				 path, (int)RV_ARRAY_SIZE(seen_dev) - 1);
			status = 1;
			break;
		}
		seen_dev[depth] = in->dev;
		seen_ino[depth] = in->ino;
		if (a.json) {
			struct json_object *o = info_json(path, in);

			if (!top) {
				top = o;
				chain = json_object_new_array();
				json_object_object_add(top, "backing_chain",
						       chain);
			} else {
				json_object_array_add(chain, o);
			}
		} else {
			if (depth)
				printf("\n");
			print_info(path, in);
		}
		if (!in->has_backing)
			break;
		if (rv_blk_parse_format(in->backing_format, &fmt)) {
			snprintf(err, sizeof(err),
				 "'%s': backing format '%s' is not supported",
				 path, in->backing_format);
			status = 1;
			break;
		}
		snprintf(path, sizeof(path), "%s", in->backing_path);
	}
	if (top) {
		printf("%s\n",
		       json_object_to_json_string_ext(
			       top, JSON_C_TO_STRING_PRETTY |
					    JSON_C_TO_STRING_SPACED |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(top);
	}
	if (status)
		rv_error("%s: %s%s", a.what, depth ? "backing file: " : "",
			 err);
	free(in);
	return status;
}

/* ---- io ---- */

struct io_cmd {
	const char *text; /* for error lines */
	char *argv[8];
	int argc;
};

static int io_num(const struct io_cmd *c, const char *s, uint64_t *out)
{
	if (rv_parse_size(s, out) == 0)
		return 0;
	rv_error("img io: '%s': bad number '%s'", c->text, s);
	return -EINVAL;
}

static int io_pattern(const struct io_cmd *c, const char *s, uint8_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v > 255) {
		rv_error("img io: '%s': bad pattern '%s' (a byte)", c->text, s);
		return -EINVAL;
	}
	*out = (uint8_t)v;
	return 0;
}

static int io_failed(const struct io_cmd *c, int rc)
{
	rv_error("img io: '%s': %s", c->text, strerror(-rc));
	return rc;
}

/* read/write of [off, off + len) in chunks, with an optional pattern. */
static int io_rw(struct rv_blk *blk, const struct io_cmd *c, bool write,
		 int pattern, uint64_t off, uint64_t len)
{
	uint8_t *buf = malloc(IO_CHUNK);
	uint64_t done = 0;
	int rc = 0;

	if (!buf)
		return io_failed(c, -ENOMEM);
	if (write)
		memset(buf, pattern, IO_CHUNK);
	while (!rc && done < len) {
		size_t n = len - done < IO_CHUNK ? (size_t)(len - done) :
						   IO_CHUNK;
		struct iovec v = { .iov_base = buf, .iov_len = n };
		size_t i;

		rc = write ? rv_blk_pwritev(blk, &v, 1, off + done) :
			     rv_blk_preadv(blk, &v, 1, off + done);
		if (rc) {
			io_failed(c, rc);
			break;
		}
		for (i = 0; !write && pattern >= 0 && i < n; i++) {
			if (buf[i] != pattern) {
				rv_error("img io: '%s': byte at offset %llu is "
					 "0x%02x, expected 0x%02x",
					 c->text,
					 (unsigned long long)(off + done + i),
					 buf[i], pattern);
				rc = -EILSEQ;
				break;
			}
		}
		done += n;
	}
	free(buf);
	return rc;
}

static int io_dump(struct rv_blk *blk, const struct io_cmd *c, const char *file)
{
	uint8_t *buf = malloc(IO_CHUNK);
	uint64_t done = 0;
	int fd, rc = 0;

	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (!buf || fd < 0) {
		rc = buf ? -errno : -ENOMEM;
		free(buf);
		if (fd >= 0)
			close(fd);
		return io_failed(c, rc);
	}
	while (!rc && done < blk->size) {
		size_t n = blk->size - done < IO_CHUNK ?
				   (size_t)(blk->size - done) :
				   IO_CHUNK;
		struct iovec v = { .iov_base = buf, .iov_len = n };
		size_t w = 0;

		rc = rv_blk_preadv(blk, &v, 1, done);
		while (!rc && w < n) {
			ssize_t k =
				pwrite(fd, buf + w, n - w, (off_t)(done + w));

			if (k < 0 && errno != EINTR)
				rc = -errno;
			else if (k > 0)
				w += (size_t)k;
		}
		done += n;
	}
	if (rc)
		io_failed(c, rc);
	close(fd);
	free(buf);
	return rc;
}

/* Runs one command; the words are split on spaces (no quoting). */
static int io_run(struct rv_blk *blk, struct io_cmd *c)
{
	int pattern = -1, first = 1;
	bool zero = false, unmap = false;
	uint64_t off, len;
	uint8_t p;
	const char *verb = c->argc ? c->argv[0] : "";
	bool is_read = strcmp(verb, "read") == 0;
	bool is_write = strcmp(verb, "write") == 0;

	if (strcmp(verb, "flush") == 0 && c->argc == 1) {
		int rc = rv_blk_flush(blk);

		return rc ? io_failed(c, rc) : 0;
	}
	if (strcmp(verb, "dump") == 0 && c->argc == 2)
		return io_dump(blk, c, c->argv[1]);
	while ((is_read || is_write) && first < c->argc &&
	       c->argv[first][0] == '-') {
		const char *o = c->argv[first++];

		if (strcmp(o, "-P") == 0 && first < c->argc) {
			if (io_pattern(c, c->argv[first++], &p))
				return -EINVAL;
			pattern = p;
		} else if (strcmp(o, "-z") == 0 && is_write) {
			zero = true;
		} else if (strcmp(o, "-u") == 0 && is_write) {
			unmap = true;
		} else {
			rv_error("img io: '%s': unknown flag '%s'", c->text, o);
			return -EINVAL;
		}
	}
	if (!(is_read || is_write || strcmp(verb, "discard") == 0) ||
	    c->argc - first != 2) {
		rv_error("img io: '%s': unknown command (see 'raevmd img "
			 "help')",
			 c->text);
		return -EINVAL;
	}
	if (io_num(c, c->argv[first], &off) ||
	    io_num(c, c->argv[first + 1], &len))
		return -EINVAL;
	if (is_write && zero) {
		int rc = rv_blk_write_zeroes(blk, off, len, unmap);

		return rc ? io_failed(c, rc) : 0;
	}
	if (!is_read && !is_write) {
		int rc = rv_blk_discard(blk, off, len);

		return rc ? io_failed(c, rc) : 0;
	}
	if (is_write && pattern < 0)
		pattern = 0xcd; /* qemu-io's default */
	return io_rw(blk, c, is_write, pattern, off, len);
}

static void io_split(struct io_cmd *c, char *text)
{
	char *save = NULL, *w;

	c->argc = 0;
	for (w = strtok_r(text, " \t", &save);
	     w && c->argc < (int)RV_ARRAY_SIZE(c->argv);
	     w = strtok_r(NULL, " \t", &save))
		c->argv[c->argc++] = w;
}

static int img_io(int argc, char **argv)
{
	struct img_args a = { .what = "img io" };
	enum rv_blk_format fmt;
	struct rv_blk *blk;
	char err[1024];
	int i, rc = 0;

	if (parse_args(&a, argc, argv, A_FORMAT | A_READONLY | A_CMD, 1))
		return 1;
	if (!a.format) {
		rv_error("img io: -f raw|qcow2 is required (formats are never "
			 "guessed for writing)");
		return 1;
	}
	if (get_format(&a, "-f", a.format, &fmt))
		return 1;
	if (rv_blk_open(a.pos[0], fmt, a.readonly, &blk, err, sizeof(err))) {
		rv_error("img io: %s", err);
		return 1;
	}
	for (i = 0; i < a.n_cmds && !rc; i++) {
		struct io_cmd c = { .text = a.cmds[i] };
		char *copy = strdup(a.cmds[i]);

		if (!copy) {
			rc = io_failed(&c, -ENOMEM);
			break;
		}
		io_split(&c, copy);
		rc = io_run(blk, &c);
		free(copy);
	}
	if (!rc && !a.readonly) {
		rc = rv_blk_flush(blk);
		if (rc)
			rv_error("img io: '%s': flush: %s", a.pos[0],
				 strerror(-rc));
	}
	rv_blk_close(blk);
	return rc ? 1 : 0;
}

int rv_img_main(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (!sub) {
		usage(stderr);
		return 1;
	}
	if (strcmp(sub, "create") == 0)
		return img_create(argc - 1, argv + 1);
	if (strcmp(sub, "info") == 0)
		return img_info(argc - 1, argv + 1);
	if (strcmp(sub, "io") == 0)
		return img_io(argc - 1, argv + 1);
	if (strcmp(sub, "help") == 0 || strcmp(sub, "--help") == 0 ||
	    strcmp(sub, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	rv_error("img: unknown command '%s' (create, info, io)", sub);
	return 1;
}
