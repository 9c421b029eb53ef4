/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_JSCAN_H
#define RAEVM_JSCAN_H

#include <stddef.h>

#include "raevm/util.h"

/*
 * A strict JSON (RFC 8259) scanner for hostile text, shared by the control
 * protocol's request parser and the manifest parser. It runs beside json-c
 * because json-c accepts things a strict reader must refuse and keeps the
 * last of two equal keys silently: a request such as {"cmd": "vm.list",
 * "cmd": "vm.delete"} must not mean one thing to a proxy that checked it
 * and another to the daemon. It builds nothing; it only judges and reports.
 */
struct rv_jscan_ops {
	/*
	 * A syntax problem at byte offset off ("malformed number"); the scan
	 * stops after it.
	 */
	void (*syntax)(void *opaque, size_t off, const char *what);
	/*
	 * A key given twice in one object, called once per repeated use in
	 * document order when the object closes: path is the object's JSON
	 * path ("" at the top, or always "" without path_key), key its decoded
	 * bytes (no NUL: keys with \u0000 are syntax errors), off the offset
	 * of this use's opening quote and first_off that of the first use.
	 * Returning nonzero stops the scan with -EBADMSG.
	 */
	int (*dup_key)(void *opaque, const char *path, const char *key,
		       size_t key_len, size_t off, size_t first_off);
	/*
	 * Optional: appends one object key to the path in buf, so that
	 * dup_key gets paths; array indexes are appended as "[N]" here.
	 */
	void (*path_key)(char *buf, size_t size, const char *key,
			 size_t key_len);
};

/* Bytes of a path handed to dup_key; longer paths are cut. */
#define RV_JSCAN_PATH_LEN 512

/*
 * Scans one JSON value in text[start..len) after optional white space, and
 * the white space after it. *end is set to where that stopped, so the
 * caller decides what text after the value means. Nesting deeper than
 * max_depth objects and arrays is a syntax error.
 *
 * Returns 0, -EBADMSG after a report through ops, or -ENOMEM.
 */
int rv_jscan(const char *text, size_t len, size_t start, unsigned int max_depth,
	     const struct rv_jscan_ops *ops, void *opaque,
	     size_t *end) RV_MUST_CHECK;

#endif
