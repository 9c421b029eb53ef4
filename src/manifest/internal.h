/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_MANIFEST_INTERNAL_H
#define RAEVM_MANIFEST_INTERNAL_H

/*
 * Shared between the two halves of the manifest parser: json.c turns the
 * text into a json-c tree that is known to be strict JSON, manifest.c
 * judges the fields. Not for use outside src/manifest/.
 */
#include "raevm/config.h"
#include "raevm/manifest.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct json_object;

#define RV__MANIFEST_PATH_LEN 512 /* a JSON path in a message; cut beyond */

/* One run of rv_manifest_parse(). */
struct rv__manifest_parse {
	struct rv_manifest_errors *errs;
	const char *text; /* the whole text, for line and column numbers */
	size_t len;
	size_t bom; /* bytes of a leading UTF-8 byte order mark */
	const char *base_dir;
	struct rv_vm_config cfg; /* built here, handed over on success */
	size_t nr_errors;	 /* problems found by this parse */
	bool nomem;
	bool have_memory;	     /* memory was given and valid */
	struct rv_disk_config *disk; /* the element of "disks" being walked */
};

/* Records one problem ("<where>: <message>"); counts it even when dropped. */
void rv__manifest_verr(struct rv__manifest_parse *ps, const char *fmt,
		       va_list ap) __attribute__((format(printf, 2, 0)));

/* Appends to the string in buf; a path too long for buf is cut. */
void rv__manifest_appendf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Appends one key to the JSON path in buf: "boot" -> "boot.kernel". */
void rv__manifest_path_add_key(char *buf, size_t size, const char *key,
			       size_t key_len);
/* Writes parent + key into buf. */
void rv__manifest_path_key(char *buf, size_t size, const char *parent,
			   const char *key, size_t key_len);

/*
 * Steps 1 to 3: checks the raw text, parses it with json-c and scans it
 * again strictly. Returns 0 with *root set (the caller puts it), -EINVAL
 * after reporting the problems in ps, or -ENOMEM; *root is NULL on failure.
 */
int rv__manifest_parse_json(struct rv__manifest_parse *ps,
			    struct json_object **root);

#endif
