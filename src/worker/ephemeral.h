/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_EPHEMERAL_H
#define RAEVM_EPHEMERAL_H

#include "raevm/block.h"
#include "raevm/util.h"

#include <stddef.h>

/*
 * Ephemeral disks (manifest "ephemeral": true; docs/manifest.md): the
 * image is opened read-only and every guest write goes to a throw-away
 * file in a tmpfs that never has a name (O_TMPFILE, or a name unlinked
 * right after it is opened where O_TMPFILE is missing), so nothing is
 * left behind however the worker ends, kill -9 included.
 *
 * The throw-away layer is a copy-on-write overlay of its own rather than a
 * qcow2 overlay through the block layer: rv_blk_open() only follows
 * backing files inside the overlay's folder (a rule that keeps hostile
 * images from naming host files), and the image is never in the tmpfs.
 * The overlay is a sparse file of the disk's size with an in-memory bitmap
 * of the RV_EPHEMERAL_BLOCK blocks written so far; the first partial write
 * to a block copies it up from the image.
 */
#define RV_EPHEMERAL_BLOCK (64 * 1024)

/*
 * The folder for overlays: preferred (the VM's runtime folder) when it is
 * on a tmpfs, else /dev/shm. Returns the path (preferred or a constant).
 */
const char *rv__ephemeral_dir(const char *preferred);

/*
 * Opens path (format as for rv_blk_open, read-only) under a fresh overlay
 * in dir. The result is a writable rv_blk of the image's size; closing it
 * drops every write. Returns 0 or a negative errno with one line in err.
 */
int rv__ephemeral_open(const char *path, enum rv_blk_format format,
		       const char *dir, struct rv_blk **out, char *err,
		       size_t errlen) RV_MUST_CHECK;

#endif
