// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the control protocol's request parser
 * (src/daemon/request.c): the input is a byte stream as a client would
 * send it, cut into lines by rv__request_next_line() and parsed with
 * rv__request_parse() at both access levels. Nothing may crash, leak or
 * read out of bounds, and the parser's promises are checked below (a broken
 * promise traps so the fuzzer keeps the input).
 */
#include "../../src/daemon/daemon.h"

#include "fuzz.h"

#include "raevm/api.h"
#include "raevm/log.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Error messages end up on terminals: one printable line. */
static void check_msg(const char *msg)
{
	const unsigned char *c;

	CHECK(msg[0] != '\0');
	for (c = (const unsigned char *)msg; *c; c++)
		CHECK(*c >= 0x20 && *c < 0x7f);
}

/* An accepted request names a known command with valid arguments. */
static void check_ok(const struct rv_request *req, enum rv_api_access access)
{
	const struct rv_api_arg *a;
	size_t n = 0;

	CHECK(req->cmd && rv_api_find(req->cmd->name) == req->cmd);
	CHECK(req->cmd->access == RV_API_READ || access == RV_API_CHANGE);
	CHECK(req->id && !json_object_is_type(req->id, json_type_null) &&
	      !json_object_is_type(req->id, json_type_object) &&
	      !json_object_is_type(req->id, json_type_array));
	CHECK(json_object_is_type(req->args, json_type_object));
	for (a = req->cmd->args; a->name; a++) {
		struct json_object *v = rv__request_arg(req, a->name);

		CHECK(!a->required || v);
		if (v) {
			CHECK(rv__request_type_ok(v, a->type));
			n++;
		}
	}
	/* Nothing else is in args. */
	CHECK((size_t)json_object_object_length(req->args) == n);
}

static void parse_line(const char *line, size_t len)
{
	static const enum rv_api_access levels[] = { RV_API_READ,
						     RV_API_CHANGE };
	struct rv_request req;
	char msg[512];
	size_t i;
	int rc;

	if (rv__request_blank(line, len))
		return;
	for (i = 0; i < 2; i++) {
		rc = rv__request_parse(line, len, levels[i], &req, msg,
				       sizeof(msg));
		if (rc == 0) {
			check_ok(&req, levels[i]);
		} else {
			CHECK(rc == -EBADMSG || rc == -EINVAL ||
			      rc == -ENOSYS || rc == -EACCES || rc == -ENOMEM);
			CHECK(rc != -EACCES || levels[i] == RV_API_READ);
			check_msg(msg);
			/* A reply can only echo a usable id. */
			CHECK(!req.id ||
			      !json_object_is_type(req.id, json_type_null));
		}
		rv__request_free(&req);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t off = 0, ll;
	int rc;

	rv_log_set_level(RV_LOG_ERROR);
	while (off < size) {
		rc = rv__request_next_line(p + off, size - off, &ll);
		if (rc < 0) {
			CHECK(rc == -EMSGSIZE && size - off > RV_API_MAX_LINE);
			return 0;
		}
		if (rc == 0) {
			/* The last line without '\n' is parsed as it is. */
			parse_line(p + off, size - off);
			return 0;
		}
		CHECK(ll <= RV_API_MAX_LINE && p[off + ll] == '\n');
		parse_line(p + off, ll);
		off += ll + 1;
	}
	return 0;
}
