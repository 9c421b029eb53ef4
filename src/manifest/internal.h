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
	struct rv_net_config *net;   /* the element of "net" being walked */
	int net_kind;		     /* its mode: enum rv_net_mode, or below */
};

#define RV__MANIFEST_NET_NONE (-1)    /* "mode": "none" */
#define RV__MANIFEST_NET_UNKNOWN (-2) /* "mode" was not valid */

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
 * Step 4 is a walk over tables of known keys. A field's check reports its
 * problems with its JSON path and fills ps->cfg; check NULL marks a key
 * reserved for a later version.
 */
typedef void (*rv__manifest_field_fn)(struct rv__manifest_parse *ps,
				      const char *path, struct json_object *v);

struct rv__manifest_field {
	const char *key;
	rv__manifest_field_fn check;
};

/* Shared helpers of manifest.c for the fields in other files. */
void rv__manifest_err(struct rv__manifest_parse *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "<path>: expected <what>, got <v described>". */
void rv__manifest_expected(struct rv__manifest_parse *ps, const char *path,
			   const char *what, struct json_object *v);
/* A value for a message: strings quoted and cut, numbers as written. */
const char *rv__manifest_describe(struct json_object *v, char *buf,
				  size_t size);
/* The string value of v, or NULL after reporting why it is not one. */
const char *rv__manifest_get_string(struct rv__manifest_parse *ps,
				    const char *path, struct json_object *v,
				    const char *what, size_t max);
void rv__manifest_set_string(struct rv__manifest_parse *ps, char **dst,
			     const char *s);
/* A path field: relative paths are joined to ps->base_dir. */
void rv__manifest_set_path(struct rv__manifest_parse *ps, const char *path,
			   char **dst, struct json_object *v);
/* Checks every key of obj against fields; unknown keys get suggestions. */
void rv__manifest_walk(struct rv__manifest_parse *ps, const char *path,
		       struct json_object *obj,
		       const struct rv__manifest_field *fields,
		       size_t nr_fields);
void rv__manifest_require_key(struct rv__manifest_parse *ps, const char *path,
			      struct json_object *obj, const char *key);

/* "net", "vsock", "ephemeral" and "limits" (fields_net.c). */
void rv__manifest_field_net(struct rv__manifest_parse *ps, const char *path,
			    struct json_object *v);
void rv__manifest_field_vsock(struct rv__manifest_parse *ps, const char *path,
			      struct json_object *v);
void rv__manifest_field_ephemeral(struct rv__manifest_parse *ps,
				  const char *path, struct json_object *v);
void rv__manifest_field_limits(struct rv__manifest_parse *ps, const char *path,
			       struct json_object *v);
/* Checks that need the whole manifest (the memory limit against memory). */
void rv__manifest_check_limits(struct rv__manifest_parse *ps,
			       struct json_object *root);

/*
 * Steps 1 to 3: checks the raw text, parses it with json-c and scans it
 * again strictly. Returns 0 with *root set (the caller puts it), -EINVAL
 * after reporting the problems in ps, or -ENOMEM; *root is NULL on failure.
 */
int rv__manifest_parse_json(struct rv__manifest_parse *ps,
			    struct json_object **root);

#endif
