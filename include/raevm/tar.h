/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_TAR_H
#define RAEVM_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raevm/util.h"

/*
 * The ustar headers of VM bundles (POSIX.1-2001 "ustar" interchange
 * format; docs/manifest.md "Bundles"). Only what bundles need: regular
 * files whose names fit the 100-byte name field. Sizes of 8 GiB and more
 * are written in the base-256 form that GNU tar and libarchive read (the
 * first byte has bit 7 set, the rest is the big-endian size), because the
 * octal field stops at 8 GiB - 1.
 */
#define RV_TAR_BLOCK 512
#define RV_TAR_NAME_MAX 99 /* bytes, without the NUL */

struct rv_tar_entry {
	char name[RV_TAR_NAME_MAX + 1];
	uint64_t size;
	uint32_t mode;
	char type; /* '0' for a regular file; the decoder refuses the rest */
};

/*
 * Fills hdr for a regular file. Returns 0, or -ENAMETOOLONG when name is
 * empty or longer than RV_TAR_NAME_MAX.
 */
int rv_tar_header_encode(uint8_t hdr[RV_TAR_BLOCK], const char *name,
			 uint64_t size, uint32_t mode,
			 uint64_t mtime) RV_MUST_CHECK;

/*
 * Reads one header block. Refused, with -EBADMSG and one line in err: a bad
 * checksum, a missing "ustar" magic, a name that is not NUL-terminated, a
 * non-empty prefix field, a malformed or larger than max_size size, and
 * any type but a regular file (links, devices, folders, FIFOs, pax and GNU
 * extension headers).
 */
int rv_tar_header_decode(const uint8_t hdr[RV_TAR_BLOCK], uint64_t max_size,
			 struct rv_tar_entry *out, char *err,
			 size_t errlen) RV_MUST_CHECK;

/* True when the block is all zeros (the archive's end is two of them). */
bool rv_tar_block_zero(const uint8_t blk[RV_TAR_BLOCK]);

/* Bytes of padding after size bytes of file data. */
static inline uint64_t rv_tar_padding(uint64_t size)
{
	return (RV_TAR_BLOCK - size % RV_TAR_BLOCK) % RV_TAR_BLOCK;
}

#endif
