// SPDX-License-Identifier: Apache-2.0
/*
 * The on-demand loaders (raevm/dl.h): a missing library or symbol is an
 * error naming the library and its Debian package, and the real tables
 * point at callable functions of the right libraries.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../../devices/net/slirp_dl.h"
#include "../../../src/daemon/zstd_dl.h"
#include "raevm/dl.h"
#include "raevm/util.h"

struct two {
	__typeof__(ZSTD_isError) *ZSTD_isError;
	__typeof__(ZSTD_versionNumber) *ZSTD_versionNumber;
};

static const struct rv_dl_sym two_syms[] = {
	RV_DL_SYM(struct two, ZSTD_isError),
	RV_DL_SYM(struct two, ZSTD_versionNumber),
};

static void dl_load__missing_library(void **state)
{
	const struct rv_dl_lib lib = { "libraevm-absent.so.9", "raevm-absent",
				       two_syms, RV_ARRAY_SIZE(two_syms) };
	struct two t = { NULL, NULL };
	char err[256] = "";

	(void)state;
	assert_int_equal(rv_dl_load(&lib, &t, err, sizeof(err)), -ENOSYS);
	assert_non_null(strstr(err, "cannot load libraevm-absent.so.9 "
				    "(Debian package raevm-absent): "));
	assert_null(strchr(err, '\n'));
}

static void dl_load__missing_symbol(void **state)
{
	static const struct rv_dl_sym syms[] = {
		RV_DL_SYM(struct two, ZSTD_isError),
		{ "ZSTD_raevm_no_such_function",
		  offsetof(struct two, ZSTD_versionNumber) },
	};
	const struct rv_dl_lib lib = { "libzstd.so.1", "libzstd1", syms,
				       RV_ARRAY_SIZE(syms) };
	struct two t = { NULL, NULL };
	char err[256] = "";

	(void)state;
	assert_int_equal(rv_dl_load(&lib, &t, err, sizeof(err)), -ENOSYS);
	assert_string_equal(err, "libzstd.so.1 has no symbol "
				 "ZSTD_raevm_no_such_function (Debian package "
				 "libzstd1 too old?)");
}

static void dl_load__fills_table(void **state)
{
	const struct rv_dl_lib lib = { "libzstd.so.1", "libzstd1", two_syms,
				       RV_ARRAY_SIZE(two_syms) };
	struct two t = { NULL, NULL };
	char err[256] = "";

	(void)state;
	assert_int_equal(rv_dl_load(&lib, &t, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	/* Both entries point at the real functions, each at its own slot. */
	assert_true(t.ZSTD_versionNumber() >= 10400);
	assert_int_equal(t.ZSTD_isError(0), 0);
	assert_int_not_equal(t.ZSTD_isError((size_t)-1), 0);
}

static void zstd_dl_load__table(void **state)
{
	const struct rv_zstd_dl *a = NULL, *b = NULL;
	static const char junk[16] = "not a zstd frame";
	ZSTD_inBuffer in = { junk, sizeof(junk), 0 };
	uint8_t buf[64];
	ZSTD_outBuffer out = { buf, sizeof(buf), 0 };
	char err[256] = "";
	ZSTD_DCtx *dctx;
	size_t left;

	(void)state;
	assert_int_equal(rv__zstd_dl_load(&a, err, sizeof(err)), 0);
	assert_int_equal(rv__zstd_dl_load(&b, err, sizeof(err)), 0);
	assert_non_null(a);
	assert_ptr_equal(a, b); /* loaded once */
	assert_true(a->ZSTD_CStreamOutSize() > 0);
	dctx = a->ZSTD_createDCtx();
	assert_non_null(dctx);
	left = a->ZSTD_decompressStream(dctx, &out, &in);
	assert_int_not_equal(a->ZSTD_isError(left), 0);
	assert_string_equal(a->ZSTD_getErrorName(left),
			    "Unknown frame descriptor");
	a->ZSTD_freeDCtx(dctx);
}

static void slirp_dl_load__table(void **state)
{
	const struct rv_slirp_dl *s = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(rv_dl_slirp_preload(err, sizeof(err)), 0);
	assert_int_equal(rv__slirp_dl_load(&s, err, sizeof(err)), 0);
	assert_non_null(s);
	/* Debian 12 ships 4.7; raevm needs SlirpConfig version 4 (4.7+). */
	assert_int_equal(strncmp(s->slirp_version_string(), "4.", 2), 0);
	assert_non_null(s->slirp_new);
	assert_non_null(s->slirp_add_hostfwd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dl_load__missing_library),
		cmocka_unit_test(dl_load__missing_symbol),
		cmocka_unit_test(dl_load__fills_table),
		cmocka_unit_test(zstd_dl_load__table),
		cmocka_unit_test(slirp_dl_load__table),
	};

	return cmocka_run_group_tests_name("dl", tests, NULL, NULL);
}
