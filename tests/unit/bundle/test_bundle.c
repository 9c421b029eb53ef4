// SPDX-License-Identifier: Apache-2.0
/*
 * Bundles (src/daemon/bundle.c), SHA-256 and ustar headers: known answers,
 * a round trip through the real writer and reader, and the reader's
 * refusals of damaged and hostile tar streams built here in memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../src/daemon/bundle.h"
#include "raevm/block.h"
#include "raevm/manifest.h"
#include "raevm/sha256.h"
#include "raevm/tar.h"

/* ------------------------------------------------------------ helpers */

static void hex_of(const void *data, size_t len, char hex[65])
{
	struct rv_sha256 s;
	uint8_t d[RV_SHA256_LEN];

	rv_sha256_init(&s);
	rv_sha256_update(&s, data, len);
	rv_sha256_final(&s, d);
	rv_sha256_hex(d, hex);
}

/* A tar stream built in memory. */
struct mtar {
	uint8_t *data;
	size_t len;
	char sums[4096];
	size_t sums_len;
	size_t pos; /* read position */
};

static void mt_bytes(struct mtar *t, const void *p, size_t n)
{
	t->data = realloc(t->data, t->len + n);
	assert_non_null(t->data);
	memcpy(t->data + t->len, p, n);
	t->len += n;
}

/* One entry; type '0' unless given; its checksum line unless nosum. */
static void mt_add(struct mtar *t, const char *name, const void *p, size_t n,
		   char type, bool sum)
{
	static const uint8_t zeros[RV_TAR_BLOCK];
	uint8_t hdr[RV_TAR_BLOCK];
	unsigned int i, c = 0;
	char hex[65];

	assert_int_equal(rv_tar_header_encode(hdr, name, n, 0640, 0), 0);
	if (type != '0') {
		hdr[156] = (uint8_t)type;
		memset(hdr + 148, ' ', 8);
		for (i = 0; i < RV_TAR_BLOCK; i++)
			c += hdr[i];
		snprintf((char *)hdr + 148, 8, "%06o", c);
	}
	mt_bytes(t, hdr, sizeof(hdr));
	mt_bytes(t, p, n);
	mt_bytes(t, zeros, rv_tar_padding(n));
	if (sum) {
		hex_of(p, n, hex);
		t->sums_len += (size_t)snprintf(t->sums + t->sums_len,
						sizeof(t->sums) - t->sums_len,
						"%s  %s\n", hex, name);
	}
}

static void mt_end(struct mtar *t)
{
	static const uint8_t zeros[2 * RV_TAR_BLOCK];

	mt_add(t, RV_BUNDLE_SUMS, t->sums, t->sums_len, '0', false);
	mt_bytes(t, zeros, sizeof(zeros));
}

static ssize_t mt_read(void *opaque, void *buf, size_t len)
{
	struct mtar *t = opaque;
	size_t n = t->len - t->pos < len ? t->len - t->pos : len;

	memcpy(buf, t->data + t->pos, n);
	t->pos += n;
	return (ssize_t)n;
}

static const char good_manifest[] =
	"{\"raevm\": 1, \"name\": \"b\", \"boot\": {\"kernel\": \"boot/k\"},"
	" \"disks\": [{\"path\": \"disks/0-d.img\"}]}";

/* The usual bundle: manifest, boot/k, disks/0-d.img. */
static void mt_good(struct mtar *t)
{
	mt_add(t, RV_BUNDLE_MANIFEST, good_manifest, strlen(good_manifest), '0',
	       true);
	mt_add(t, "boot/k", "KERNEL", 6, '0', true);
	mt_add(t, "disks/0-d.img", "DISK", 4, '0', true);
}

static char dir[64];
static int dirfd_;

static int rm_entry(const char *p, const struct stat *st, int f,
		    struct FTW *ftw)
{
	(void)st;
	(void)f;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/rv-bundle-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY);
	return dirfd_ < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	close(dirfd_);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static int read_mt(struct mtar *t, struct rv_bundle_contents *c, char *err,
		   size_t errlen)
{
	struct rv_bundle_src src = { mt_read, t };

	t->pos = 0;
	return rv__bundle_read_tar(&src, dirfd_, c, err, errlen);
}

/* Expects the reader to refuse t with -EBADMSG and an error containing want. */
static void expect_refused(struct mtar *t, const char *want)
{
	struct rv_bundle_contents c;
	char err[512] = "";

	assert_int_equal(read_mt(t, &c, err, sizeof(err)), -EBADMSG);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
	free(t->data);
}

/* ------------------------------------------------------------ sha256 */

static void sha256__known_answers(void **state)
{
	char hex[65];
	struct rv_sha256 s;
	uint8_t d[RV_SHA256_LEN], chunk[997];
	size_t left = 1000000;

	(void)state;
	hex_of("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb924"
				 "27ae41e4649b934ca495991b7852b855");
	hex_of("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
				 "b00361a396177a9cb410ff61f20015ad");
	hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	       hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039"
				 "a33ce45964ff2167f6ecedd419db06c1");
	/* One million 'a' fed in odd-sized pieces crosses every buffer case. */
	memset(chunk, 'a', sizeof(chunk));
	rv_sha256_init(&s);
	while (left) {
		size_t n = left < sizeof(chunk) ? left : sizeof(chunk);

		rv_sha256_update(&s, chunk, n);
		left -= n;
	}
	rv_sha256_final(&s, d);
	rv_sha256_hex(d, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67"
				 "f1809a48a497200e046d39ccc7112cd0");
}

/* ------------------------------------------------------------ tar */

static void tar_header__round_trip_large(void **state)
{
	uint8_t hdr[RV_TAR_BLOCK];
	struct rv_tar_entry e;
	char err[128];

	(void)state;
	assert_int_equal(rv_tar_header_encode(hdr, "disks/0-big.img",
					      (1ULL << 40) + 5, 0640, 1),
			 0);
	assert_int_equal(hdr[124], 0x80);
	assert_int_equal(
		rv_tar_header_decode(hdr, 1ULL << 41, &e, err, sizeof(err)), 0);
	assert_string_equal(e.name, "disks/0-big.img");
	assert_int_equal(e.size, (1ULL << 40) + 5);
	assert_int_equal(rv_tar_header_decode(hdr, 1ULL << 40, &e, err,
					      sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "more than allowed"));
}

static void tar_header_decode__bad_checksum(void **state)
{
	uint8_t hdr[RV_TAR_BLOCK];
	struct rv_tar_entry e;
	char err[128];

	(void)state;
	assert_int_equal(rv_tar_header_encode(hdr, "boot/k", 10, 0640, 1), 0);
	hdr[0] = 'c';
	assert_int_equal(rv_tar_header_decode(hdr, 100, &e, err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "checksum"));
}

static void tar_header_encode__name_too_long(void **state)
{
	uint8_t hdr[RV_TAR_BLOCK];
	char name[120];

	(void)state;
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(rv_tar_header_encode(hdr, name, 1, 0640, 1),
			 -ENAMETOOLONG);
	assert_int_equal(rv_tar_header_encode(hdr, "", 1, 0640, 1),
			 -ENAMETOOLONG);
}

/* ------------------------------------------------------------ reader */

static void bundle_read_tar__good(void **state)
{
	struct mtar t = { 0 };
	struct rv_bundle_contents c;
	char err[256] = "", buf[16] = "";
	int fd;

	(void)state;
	mt_good(&t);
	mt_end(&t);
	assert_int_equal(read_mt(&t, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nr_names, 2);
	assert_string_equal(c.names[0], "boot/k");
	assert_string_equal(c.names[1], "disks/0-d.img");
	assert_string_equal(c.manifest, good_manifest);
	fd = openat(dirfd_, "disks/0-d.img", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "DISK");
	close(fd);
	rv__bundle_contents_free(&c);
	free(t.data);
}

static void bundle_read_tar__tampered(void **state)
{
	struct mtar t = { 0 };
	uint8_t *p;

	(void)state;
	mt_good(&t);
	mt_end(&t);
	p = memmem(t.data, t.len, "DISK", 4);
	assert_non_null(p);
	p[0] = 'X';
	expect_refused(&t, "'disks/0-d.img' is damaged");
}

static void bundle_read_tar__truncated(void **state)
{
	struct mtar t = { 0 };

	(void)state;
	mt_good(&t);
	mt_end(&t);
	t.len -= 2 * RV_TAR_BLOCK + 1;
	expect_refused(&t, "truncated");
}

static void bundle_read_tar__no_sums(void **state)
{
	struct mtar t = { 0 };
	static const uint8_t zeros[2 * RV_TAR_BLOCK];

	(void)state;
	mt_good(&t);
	mt_bytes(&t, zeros, sizeof(zeros));
	expect_refused(&t, "ends before SHA256SUMS");
}

static void bundle_read_tar__path_traversal(void **state)
{
	static const char *const bad[] = { "../evil",	       "/etc/passwd",
					   "disks/../../evil", "boot/.hidden",
					   "disks/a/b",	       "other/x" };
	unsigned int i;

	(void)state;
	for (i = 0; i < RV_ARRAY_SIZE(bad); i++) {
		struct mtar t = { 0 };

		/* Each run starts from an empty folder. */
		unlinkat(dirfd_, "boot/k", 0);
		unlinkat(dirfd_, "disks/0-d.img", 0);
		mt_good(&t);
		mt_add(&t, bad[i], "x", 1, '0', true);
		mt_end(&t);
		expect_refused(&t, "not a name a bundle may hold");
	}
	assert_int_equal(faccessat(dirfd_, "../evil", F_OK, 0), -1);
}

static void bundle_read_tar__symlink(void **state)
{
	struct mtar t = { 0 };

	(void)state;
	mt_good(&t);
	mt_add(&t, "disks/link", "", 0, '2', true);
	mt_end(&t);
	expect_refused(&t, "a symbolic link");
}

static void bundle_read_tar__device(void **state)
{
	struct mtar t = { 0 };

	(void)state;
	mt_good(&t);
	mt_add(&t, "disks/dev", "", 0, '4', true);
	mt_end(&t);
	expect_refused(&t, "a block device");
}

static void bundle_read_tar__duplicate(void **state)
{
	struct mtar t = { 0 };

	(void)state;
	mt_good(&t);
	mt_add(&t, "boot/k", "AGAIN", 5, '0', true);
	mt_end(&t);
	expect_refused(&t, "appears twice");
}

static void bundle_read_tar__manifest_not_first(void **state)
{
	struct mtar t = { 0 };

	(void)state;
	mt_add(&t, "boot/k", "KERNEL", 6, '0', true);
	mt_end(&t);
	expect_refused(&t, "first entry is not manifest.raeVM");
}

static void bundle_read_tar__oversized_manifest(void **state)
{
	struct mtar t = { 0 };
	uint8_t hdr[RV_TAR_BLOCK];

	(void)state;
	assert_int_equal(rv_tar_header_encode(hdr, RV_BUNDLE_MANIFEST,
					      RV_BUNDLE_MAX_MANIFEST + 1, 0640,
					      0),
			 0);
	mt_bytes(&t, hdr, sizeof(hdr));
	expect_refused(&t, "more than allowed");
}

static void bundle_read_tar__oversized_boot(void **state)
{
	struct mtar t = { 0 };
	uint8_t hdr[RV_TAR_BLOCK];

	(void)state;
	mt_add(&t, RV_BUNDLE_MANIFEST, good_manifest, strlen(good_manifest),
	       '0', true);
	assert_int_equal(rv_tar_header_encode(hdr, "boot/k",
					      RV_BUNDLE_MAX_BOOT + 1, 0640, 0),
			 0);
	mt_bytes(&t, hdr, sizeof(hdr));
	expect_refused(&t, "too large");
}

/* SHA256SUMS is bounded by its own limit, not by the disk limit. */
static void bundle_read_tar__oversized_sums(void **state)
{
	struct mtar t = { 0 };
	uint8_t hdr[RV_TAR_BLOCK];

	(void)state;
	mt_good(&t);
	assert_int_equal(rv_tar_header_encode(hdr, RV_BUNDLE_SUMS, 1ULL << 30,
					      0640, 0),
			 0);
	mt_bytes(&t, hdr, sizeof(hdr));
	expect_refused(&t, "'SHA256SUMS' is too large");
}

/* A stream: the bytes of a prefix, then fill bytes, watching free space. */
struct bomb {
	struct mtar *prefix;
	uint64_t fill;	   /* bytes of 0x5a after the prefix */
	int dirfd;	   /* the file system being filled */
	uint64_t min_free; /* the least f_bavail seen, in bytes */
};

static ssize_t bomb_read(void *opaque, void *buf, size_t len)
{
	struct bomb *b = opaque;
	struct statvfs sv;
	size_t n;

	if (fstatvfs(b->dirfd, &sv) == 0 &&
	    (uint64_t)sv.f_bavail * sv.f_frsize < b->min_free)
		b->min_free = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (b->prefix->pos < b->prefix->len)
		return mt_read(b->prefix, buf, len);
	n = b->fill < len ? (size_t)b->fill : len;
	memset(buf, 0x5a, n);
	b->fill -= n;
	return (ssize_t)n;
}

/*
 * A disk that expands past the free space of a 32 MiB tmpfs is refused
 * while a reserve (1/32 of the file system) is still free, not when the
 * file system is full.
 */
static void bundle_read_tar__fills_disk(void **state)
{
	struct mtar t = { 0 };
	struct rv_bundle_contents c;
	struct rv_bundle_src src;
	struct bomb b = { &t, 64 << 20, -1, UINT64_MAX };
	uint8_t hdr[RV_TAR_BLOCK];
	char mnt[64] = "/tmp/rv-bundle-fs-XXXXXX", err[512] = "";
	int rc;

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_non_null(mkdtemp(mnt));
	/* A private mount namespace: nothing here reaches the host's table. */
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("rv-test", mnt, "tmpfs", 0, "size=32m")) {
		rmdir(mnt);
		skip();
	}
	b.dirfd = open(mnt, O_RDONLY | O_DIRECTORY);
	assert_true(b.dirfd >= 0);
	mt_add(&t, RV_BUNDLE_MANIFEST, good_manifest, strlen(good_manifest),
	       '0', true);
	mt_add(&t, "boot/k", "KERNEL", 6, '0', true);
	assert_int_equal(
		rv_tar_header_encode(hdr, "disks/0-d.img", b.fill, 0640, 0), 0);
	mt_bytes(&t, hdr, sizeof(hdr));
	src.read = bomb_read;
	src.opaque = &b;

	rc = rv__bundle_read_tar(&src, b.dirfd, &c, err, sizeof(err));

	assert_int_equal(rc, -ENOSPC);
	if (!strstr(err, "not enough free space"))
		fail_msg("error '%s'", err);
	if (b.min_free < 512 * 1024)
		fail_msg("only %llu bytes were left free",
			 (unsigned long long)b.min_free);
	close(b.dirfd);
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
	free(t.data);
}

static void bundle_read_tar__trailing_garbage(void **state)
{
	struct mtar t = { 0 };

	(void)state;
	mt_good(&t);
	mt_end(&t);
	mt_bytes(&t, "junk", 4);
	expect_refused(&t, "trailing garbage");
}

static void bundle_read_tar__sum_missing(void **state)
{
	struct mtar t = { 0 };

	(void)state;
	mt_good(&t);
	mt_add(&t, "disks/1-e.img", "E", 1, '0', false);
	mt_end(&t);
	expect_refused(&t, "no checksum for 'disks/1-e.img'");
}

/* ------------------------------------------------------------ check */

static void write_file(const char *path, const void *p, size_t n, off_t at)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, p, n, at), (ssize_t)n);
	close(fd);
}

static int check_text(const char *manifest, const char *names[],
		      unsigned int nr, char *err, size_t errlen)
{
	struct rv_bundle_contents c = { 0 };
	struct json_object *doc = NULL, *errors = json_object_new_array();
	char vm_name[65];
	unsigned int i;
	int rc;

	c.manifest = strdup(manifest);
	c.manifest_len = strlen(manifest);
	for (i = 0; i < nr; i++)
		snprintf(c.names[i], sizeof(c.names[i]), "%s", names[i]);
	c.nr_names = nr;
	rc = rv__bundle_check(&c, dir, "renamed", &doc, vm_name, errors, err,
			      errlen);
	if (rc == 0)
		assert_string_equal(vm_name, "renamed");
	json_object_put(doc);
	json_object_put(errors);
	free(c.manifest);
	return rc;
}

static void bundle_check__good(void **state)
{
	const char *names[] = { "boot/k", "disks/0-d.img" };
	char err[256] = "";

	(void)state;
	assert_int_equal(check_text(good_manifest, names, 2, err, sizeof(err)),
			 0);
}

static void bundle_check__absolute_path(void **state)
{
	const char *names[] = { "boot/k", "disks/0-d.img" };
	char err[256] = "";
	const char *m = "{\"raevm\": 1, \"name\": \"b\", \"boot\": "
			"{\"kernel\": \"boot/k\"}, \"disks\": "
			"[{\"path\": \"/etc/shadow\"}]}";

	(void)state;
	assert_int_equal(check_text(m, names, 2, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "disks[0].path must name"));
}

static void bundle_check__dotdot(void **state)
{
	const char *names[] = { "boot/k", "disks/0-d.img" };
	char err[256] = "";
	const char *m = "{\"raevm\": 1, \"name\": \"b\", \"boot\": "
			"{\"kernel\": \"boot/../../../etc/k\"}, \"disks\": "
			"[{\"path\": \"disks/0-d.img\"}]}";

	(void)state;
	assert_int_equal(check_text(m, names, 2, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "boot.kernel must name"));
}

static void bundle_check__unused_file(void **state)
{
	const char *names[] = { "boot/k", "disks/0-d.img", "disks/1-x" };
	char err[256] = "";

	(void)state;
	assert_int_equal(check_text(good_manifest, names, 3, err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "'disks/1-x' is in the bundle"));
}

static void bundle_check__qcow2_backing(void **state)
{
	const char *names[] = { "boot/k", "disks/0-d.qcow2" };
	char secret[128];
	struct rv_blk_create_opts o = { .format = RV_BLK_QCOW2,
					.backing = secret,
					.backing_format = RV_BLK_RAW,
					.size = 1 << 20 };
	char err[256] = "", path[128];
	const char *m =
		"{\"raevm\": 1, \"name\": \"b\", \"boot\": "
		"{\"kernel\": \"boot/k\"}, \"disks\": "
		"[{\"path\": \"disks/0-d.qcow2\", \"format\": \"qcow2\"}]}";

	(void)state;
	/*
	 * Stands for any file a hostile image could name (the block layer
	 * already refuses backing files outside the image's folder).
	 */
	snprintf(secret, sizeof(secret), "%s/disks/secret", dir);
	mkdirat(dirfd_, "disks", 0750);
	write_file(secret, "SECRET", 6, 0);
	snprintf(path, sizeof(path), "%s/disks/0-d.qcow2", dir);
	if (rv_blk_create(path, &o, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(check_text(m, names, 2, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "names a backing file"));
}

static void bundle_check__invalid_manifest(void **state)
{
	const char *names[] = { "boot/k" };
	char err[256] = "";

	(void)state;
	assert_int_equal(check_text("{\"raevm\": 1, \"cpus\": 0, \"boot\": "
				    "{\"kernel\": \"boot/k\"}}",
				    names, 1, err, sizeof(err)),
			 -EINVAL);
}

/* ------------------------------------------------------------ writer */

static void bundle_write__round_trip(void **state)
{
	struct rv_manifest_errors errs;
	struct rv_vm_config cfg;
	struct rv_bundle_plan plan;
	struct rv_bundle_contents c;
	struct json_object *doc, *errors = json_object_new_array();
	char err[512] = "", path[128], text[512], out[128], vm_name[65];
	struct stat sb;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/kernel", dir);
	write_file(path, "KERNEL", 6, 0);
	snprintf(path, sizeof(path), "%s/d.img", dir);
	write_file(path, "DATA", 4, 40 << 20); /* sparse: 40 MiB hole */
	snprintf(text, sizeof(text),
		 "{\"raevm\": 1, \"name\": \"w\", \"boot\": {\"kernel\": "
		 "\"kernel\"}, \"disks\": [{\"path\": \"d.img\"}]}");
	rv_vm_config_init(&cfg);
	rv_manifest_errors_init(&errs);
	assert_int_equal(
		rv_manifest_parse(text, strlen(text), dir, &cfg, &errs), 0);
	doc = json_tokener_parse(text);
	assert_int_equal(rv__bundle_plan(doc, &cfg, &plan, err, sizeof(err)),
			 0);
	assert_non_null(strstr(plan.manifest, "\"disks/0-d.img\""));
	snprintf(out, sizeof(out), "%s/b.raevm", dir);
	assert_int_equal(rv__bundle_write(&plan, out, err, sizeof(err)), 0);
	/* The 40 MiB hole compresses to almost nothing. */
	assert_int_equal(stat(out, &sb), 0);
	assert_true(sb.st_size < 64 * 1024);

	assert_int_equal(mkdirat(dirfd_, "in", 0750), 0);
	fd = openat(dirfd_, "in", O_RDONLY | O_DIRECTORY);
	assert_int_equal(rv__bundle_read(out, fd, &c, err, sizeof(err)), 0);
	assert_int_equal(fstatat(fd, "disks/0-d.img", &sb, 0), 0);
	assert_int_equal(sb.st_size, (40 << 20) + 4);
	/* Unpacked sparse: far less than 40 MiB allocated. */
	assert_true(sb.st_blocks * 512 < (1 << 20));
	close(fd);
	snprintf(path, sizeof(path), "%s/in", dir);
	/* The check hands back the imported manifest in doc. */
	json_object_put(doc);
	doc = NULL;
	assert_int_equal(rv__bundle_check(&c, path, NULL, &doc, vm_name, errors,
					  err, sizeof(err)),
			 0);
	assert_string_equal(vm_name, "w");

	/* One byte more after the zstd frame is refused. */
	fd = open(out, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	assert_int_equal(mkdirat(dirfd_, "in2", 0750), 0);
	fd = openat(dirfd_, "in2", O_RDONLY | O_DIRECTORY);
	rv__bundle_contents_free(&c);
	assert_int_equal(rv__bundle_read(out, fd, &c, err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "trailing data"));
	close(fd);

	json_object_put(doc);
	json_object_put(errors);
	rv__bundle_plan_free(&plan);
	rv_vm_config_free(&cfg);
	rv_manifest_errors_free(&errs);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(sha256__known_answers),
		T(tar_header__round_trip_large),
		T(tar_header_decode__bad_checksum),
		T(tar_header_encode__name_too_long),
		T(bundle_read_tar__good),
		T(bundle_read_tar__tampered),
		T(bundle_read_tar__truncated),
		T(bundle_read_tar__no_sums),
		T(bundle_read_tar__path_traversal),
		T(bundle_read_tar__symlink),
		T(bundle_read_tar__device),
		T(bundle_read_tar__duplicate),
		T(bundle_read_tar__manifest_not_first),
		T(bundle_read_tar__oversized_manifest),
		T(bundle_read_tar__oversized_boot),
		T(bundle_read_tar__oversized_sums),
		T(bundle_read_tar__fills_disk),
		T(bundle_read_tar__trailing_garbage),
		T(bundle_read_tar__sum_missing),
		T(bundle_check__good),
		T(bundle_check__absolute_path),
		T(bundle_check__dotdot),
		T(bundle_check__unused_file),
		T(bundle_check__qcow2_backing),
		T(bundle_check__invalid_manifest),
		T(bundle_write__round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
