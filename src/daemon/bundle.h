/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_BUNDLE_H
#define RAEVM_BUNDLE_H

/*
 * VM bundles (`raevm export` / `raevm import`; docs/manifest.md "Bundles"):
 * one zstd-compressed ustar stream holding
 *   manifest.raeVM     first; every path relative to the bundle
 *   boot/NAME          the kernel and initrd
 *   disks/N-NAME       the disks, qcow2 overlays flattened
 *   SHA256SUMS         last; `sha256sum -c` format over every entry above
 * Internal to src/daemon/. The write and read functions block for as long
 * as the disks take: the daemon runs them on libuv's thread pool. They
 * touch no daemon state, so they are safe there.
 */
#include "raevm/config.h"
#include "raevm/tar.h"
#include "raevm/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#define RV_BUNDLE_MANIFEST "manifest.raeVM"
#define RV_BUNDLE_SUMS "SHA256SUMS"
/* Kernel, initrd and the disks. */
#define RV_BUNDLE_MAX_FILES (2 + RV_CONFIG_MAX_DISKS)
#define RV_BUNDLE_MAX_MANIFEST (1024 * 1024)
#define RV_BUNDLE_MAX_SUMS (16 * 1024)
#define RV_BUNDLE_MAX_BOOT (1ULL << 30)	 /* a kernel or an initrd */
#define RV_BUNDLE_MAX_DISK (16ULL << 40) /* one disk, as stored */
/* Zero bytes a tar writer may add after the end-of-archive blocks. */
#define RV_BUNDLE_MAX_TAIL (64 * 1024)

struct rv_bundle_file {
	char *src; /* absolute path on this host */
	char name[RV_TAR_NAME_MAX + 1];
	bool flatten; /* a qcow2 overlay: written as one standalone image */
};

struct rv_bundle_plan {
	char *manifest; /* the bundle's manifest.raeVM text */
	struct rv_bundle_file files[RV_BUNDLE_MAX_FILES];
	unsigned int nr_files;
};

/*
 * Plans the export of a stored VM: manifest (its stored, absolute-path
 * document) and cfg (what it parses to). Host-specific keys (console and
 * vsock sockets) are left out. Returns 0, or a negative errno with one line
 * in err. Runs on the loop thread (it reads qcow2 headers, which is quick).
 */
int rv__bundle_plan(struct json_object *manifest,
		    const struct rv_vm_config *cfg, struct rv_bundle_plan *out,
		    char *err, size_t errlen) RV_MUST_CHECK;
void rv__bundle_plan_free(struct rv_bundle_plan *plan);

/*
 * Writes the bundle to path through a temporary file in its folder renamed
 * into place at the end, so path holds a whole bundle or what it held
 * before. Each source file is read under a shared OFD lock, so a VM that
 * starts meanwhile cannot write to it. Returns 0, or a negative errno
 * with one line in err.
 */
int rv__bundle_write(const struct rv_bundle_plan *plan, const char *path,
		     char *err, size_t errlen) RV_MUST_CHECK;

/* A stream of bundle bytes: read returns bytes read, 0 at the end, -errno. */
struct rv_bundle_src {
	ssize_t (*read)(void *opaque, void *buf, size_t len);
	void *opaque;
};

struct rv_bundle_contents {
	char *manifest; /* NUL-terminated */
	size_t manifest_len;
	char names[RV_BUNDLE_MAX_FILES][RV_TAR_NAME_MAX + 1];
	unsigned int nr_names;
};

/*
 * Reads an uncompressed bundle (the tar stream) from src and writes its
 * files below the folder dirfd (boot/ and disks/ are created), all-zero
 * blocks as holes. Verifies the order of entries, their names, types and
 * sizes, that no name repeats, every checksum in SHA256SUMS, and that
 * nothing but zeros follows the end of the archive. On failure returns
 * -EBADMSG (a damaged or hostile bundle) or the host's errno, with one line
 * in err; files already written are left for the caller to remove.
 */
int rv__bundle_read_tar(const struct rv_bundle_src *src, int dirfd,
			struct rv_bundle_contents *out, char *err,
			size_t errlen) RV_MUST_CHECK;

/*
 * rv__bundle_read_tar() over the zstd file at path, refusing anything
 * after the compressed stream.
 */
int rv__bundle_read(const char *path, int dirfd, struct rv_bundle_contents *out,
		    char *err, size_t errlen) RV_MUST_CHECK;

void rv__bundle_contents_free(struct rv_bundle_contents *c);

/*
 * Checks the unpacked bundle's manifest as if its files lived in dir:
 * a valid manifest (renamed to name when not NULL), whose kernel, initrd
 * and disks are exactly the bundle's files, with no socket path outside
 * dir and no qcow2 disk that names a backing file. Returns 0 with *doc (the
 * manifest, renamed) and vm_name, -EINVAL with the problems as lines in
 * errors (an array), or -EBADMSG with one line in err.
 */
int rv__bundle_check(const struct rv_bundle_contents *c, const char *dir,
		     const char *name, struct json_object **doc,
		     char vm_name[65], struct json_object *errors, char *err,
		     size_t errlen) RV_MUST_CHECK;

#endif
