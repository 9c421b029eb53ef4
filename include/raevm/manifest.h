/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_MANIFEST_H
#define RAEVM_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raevm/config.h"
#include "raevm/util.h"

/*
 * .raeVM manifests: the JSON description of one VM (docs/manifest.md is the
 * contract). A manifest is user input and is treated as hostile: its size,
 * nesting, string lengths and every value are checked before use, and every
 * problem is reported, not only the first one.
 */

/* The format versions this build reads ("raevm": 1). */
#define RV_MANIFEST_VERSION_MIN 1
#define RV_MANIFEST_VERSION_MAX 1

#define RV_MANIFEST_MAX_SIZE (1024 * 1024) /* bytes of JSON text */
#define RV_MANIFEST_MAX_STRING 4096	   /* bytes in any string value */
#define RV_MANIFEST_MAX_DEPTH 16	   /* nested objects and arrays */
#define RV_MANIFEST_MAX_ERRORS 32	   /* stored; the rest are counted */
#define RV_MANIFEST_NAME_MAX 64
#define RV_MANIFEST_MAX_CPUS 254
#define RV_MANIFEST_MAX_MEMORY (16ULL * 1024 * 1024 * 1024 * 1024) /* 16T */
#define RV_MANIFEST_MEMORY_ALIGN 4096ULL /* memory granularity */
#define RV_MANIFEST_HUGEPAGE_ALIGN (2ULL * 1024 * 1024)
#define RV_MANIFEST_SERIAL_MAX 20 /* bytes in a virtio-blk ID (GET_ID) */
/* bytes in a Unix socket path: sizeof(sun_path) less its terminator */
#define RV_MANIFEST_SOCKET_PATH_MAX 107

/*
 * The problems found in one manifest. Each line reads "<where>: <message>",
 * where <where> is a JSON path ("boot.kernel", "disks[1].path") or
 * "line L, column C" for a syntax error; a few whole-file problems (empty,
 * too large) have no <where>. rv_manifest_errors_print() prefixes each line
 * with the file name when one is known.
 */
struct rv_manifest_errors {
	char *file;   /* the manifest's path as given, or NULL; owned */
	char **lines; /* count lines, owned */
	size_t count;
	size_t capacity;
	size_t dropped; /* errors beyond RV_MANIFEST_MAX_ERRORS, not stored */
};

void rv_manifest_errors_init(struct rv_manifest_errors *errs);
/* Releases everything and leaves errs initialised (empty). Accepts NULL. */
void rv_manifest_errors_free(struct rv_manifest_errors *errs);
/*
 * Logs every stored line with rv_error(), one line each, as
 * "<file>: <line>" (or "<line>" without a file), then one line counting the
 * dropped errors if there are any.
 */
void rv_manifest_errors_print(const struct rv_manifest_errors *errs);

/*
 * Parses the manifest in text[0..len) (no NUL terminator needed). Relative
 * paths are joined to base_dir (the manifest's folder; NULL or "" keeps them
 * relative to the current directory); files are not opened here.
 *
 * cfg must have been initialised with rv_vm_config_init(). On success its old
 * contents are released and replaced by the manifest's VM, with the defaults
 * of config.h for absent fields. On failure cfg is untouched and errs (which
 * must be initialised; lines are appended) holds at least one line.
 *
 * CPU template names are validated here with rv_cpu_template_find().
 *
 * Returns 0, -EINVAL for an invalid manifest, -EFBIG when text is longer
 * than RV_MANIFEST_MAX_SIZE, -ENOMEM.
 */
int rv_manifest_parse(const char *text, size_t len, const char *base_dir,
		      struct rv_vm_config *cfg,
		      struct rv_manifest_errors *errs) RV_MUST_CHECK;

/*
 * Reads the manifest at path and parses it with the absolute path of its
 * folder as base_dir. Sets errs->file to path. A file that cannot be read
 * is reported in errs like any other problem ("cannot read it: ...").
 * Returns 0 or a negative errno (-ENOENT, -EFBIG, -EINVAL, ...).
 */
int rv_manifest_load(const char *path, struct rv_vm_config *cfg,
		     struct rv_manifest_errors *errs) RV_MUST_CHECK;

/*
 * Helpers shared with the `raevmd run` flag parser so that a flag and a
 * manifest field accept exactly the same values.
 */

/* True when name is 1-64 of [A-Za-z0-9._-] and does not start with . or -. */
bool rv_manifest_name_valid(const char *name);

/*
 * Returns NULL when bytes is an acceptable guest memory size, otherwise a
 * static phrase that completes "<value> ..." ("is below the minimum of 16M").
 */
const char *rv_manifest_memory_problem(uint64_t bytes);

/* True for the disk formats raevm opens: "raw" and "qcow2" (exact case). */
bool rv_manifest_disk_format_valid(const char *format);

/*
 * Returns NULL when serial is an acceptable virtio-blk serial (1 to 20
 * bytes of printable ASCII), otherwise a phrase that completes
 * "<where>: ..." ("must not be empty", "too long (21 bytes; the virtio-blk
 * limit is 20)", "contains the control character 0x1b"), written into buf.
 */
const char *rv_manifest_serial_problem(const char *serial, char *buf,
				       size_t size);

/*
 * True when a and b spell the same path once empty and "." components are
 * ignored ("/srv/./a.img" and "/srv//a.img"). Symbolic links, ".." and
 * hard links are not followed: whoever opens the files must still compare
 * their inodes.
 */
bool rv_manifest_same_path(const char *a, const char *b);

/*
 * The manifest's "restart" values ("no", "on-failure", "always") and back;
 * parse returns 0 or -EINVAL for any other text (exact case).
 */
const char *rv_manifest_restart_name(enum rv_restart_policy policy);
int rv_manifest_restart_parse(const char *text,
			      enum rv_restart_policy *out) RV_MUST_CHECK;

/*
 * Returns the candidate closest to word by edit distance when it is close
 * enough to be a likely typo, otherwise NULL. Candidates are compared
 * case-insensitively.
 */
const char *rv_manifest_suggest(const char *word, const char *const *candidates,
				size_t nr_candidates);

/*
 * Writes s[0..len) into buf as printable ASCII for an error message: control
 * and non-ASCII bytes become \xNN escapes, quotes and backslashes are
 * escaped, and text past max_chars is cut and marked with "...". buf is
 * always NUL-terminated. Returns buf.
 */
const char *rv_manifest_quote(const char *s, size_t len, size_t max_chars,
			      char *buf, size_t size);

#endif
