// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the bundle reader (src/daemon/bundle.c): a hostile
 * bundle must never crash it, make it write outside the folder it was
 * given, or produce an error that is not one printable line. The first
 * byte picks the layer: even feeds the rest as the tar stream, odd writes
 * it to a file and reads it as a zstd bundle.
 */
#include "../../src/daemon/bundle.h"

#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct mem {
	const uint8_t *p;
	size_t len, pos;
};

static ssize_t mem_read(void *opaque, void *buf, size_t len)
{
	struct mem *m = opaque;
	size_t n = m->len - m->pos < len ? m->len - m->pos : len;

	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static int rm_entry(const char *p, const struct stat *st, int f,
		    struct FTW *ftw)
{
	(void)st;
	(void)f;
	/* Only boot/ and disks/ and their files may exist below the root. */
	if (ftw->level == 1)
		CHECK(strcmp(p + ftw->base, "boot") == 0 ||
		      strcmp(p + ftw->base, "disks") == 0 ||
		      strcmp(p + ftw->base, "in.raevm") == 0);
	CHECK(ftw->level <= 2);
	if (ftw->level > 0)
		remove(p);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char root[64];
	struct rv_bundle_contents c;
	char err[1024] = "", path[128];
	unsigned int i;
	int dirfd, rc;

	if (!root[0]) {
		snprintf(root, sizeof(root), "/tmp/fuzz-bundle-XXXXXX");
		CHECK(mkdtemp(root));
	}
	if (size < 1)
		return 0;
	dirfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dirfd >= 0);
	if (data[0] & 1) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/in.raevm", root);
		f = fopen(path, "w");
		CHECK(f);
		CHECK(fwrite(data + 1, 1, size - 1, f) == size - 1);
		fclose(f);
		rc = rv__bundle_read(path, dirfd, &c, err, sizeof(err));
	} else {
		struct mem m = { data + 1, size - 1, 0 };
		struct rv_bundle_src src = { mem_read, &m };

		rc = rv__bundle_read_tar(&src, dirfd, &c, err, sizeof(err));
	}
	if (rc) {
		fuzz_check_line(err);
	} else {
		CHECK(c.manifest && strlen(c.manifest) == c.manifest_len);
		for (i = 0; i < c.nr_names; i++)
			CHECK(faccessat(dirfd, c.names[i], F_OK,
					AT_SYMLINK_NOFOLLOW) == 0);
		rv__bundle_contents_free(&c);
	}
	close(dirfd);
	nftw(root, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	return 0;
}
