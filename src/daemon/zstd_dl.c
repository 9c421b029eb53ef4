// SPDX-License-Identifier: Apache-2.0
/*
 * libzstd loaded with dlopen() by the first bundle export or import,
 * rather than linked into every raevmd (raevm/dl.h): `raevmd run` and VM
 * workers never compress.
 */
#include "zstd_dl.h"

#include "raevm/util.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>

static const struct rv_dl_sym zstd_syms[] = {
	RV_DL_SYM(struct rv_zstd_dl, ZSTD_isError),
	RV_DL_SYM(struct rv_zstd_dl, ZSTD_getErrorName),
	RV_DL_SYM(struct rv_zstd_dl, ZSTD_createCCtx),
	RV_DL_SYM(struct rv_zstd_dl, ZSTD_freeCCtx),
	RV_DL_SYM(struct rv_zstd_dl, ZSTD_CCtx_setParameter),
	RV_DL_SYM(struct rv_zstd_dl, ZSTD_CStreamOutSize),
	RV_DL_SYM(struct rv_zstd_dl, ZSTD_compressStream2),
	RV_DL_SYM(struct rv_zstd_dl, ZSTD_createDCtx),
	RV_DL_SYM(struct rv_zstd_dl, ZSTD_freeDCtx),
	RV_DL_SYM(struct rv_zstd_dl, ZSTD_DCtx_setParameter),
	RV_DL_SYM(struct rv_zstd_dl, ZSTD_DStreamInSize),
	RV_DL_SYM(struct rv_zstd_dl, ZSTD_decompressStream),
};

static const struct rv_dl_lib zstd_lib = {
	.soname = "libzstd.so.1",
	.package = "libzstd1",
	.syms = zstd_syms,
	.nr_syms = RV_ARRAY_SIZE(zstd_syms),
};

/* Written once under load_once, read only after it (the registry rule). */
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static struct rv_zstd_dl table;
static int load_rc;
static char load_err[256];

static void load(void)
{
	load_rc = rv_dl_load(&zstd_lib, &table, load_err, sizeof(load_err));
}

int rv__zstd_dl_load(const struct rv_zstd_dl **out, char *err, size_t errlen)
{
	*out = NULL;
	pthread_once(&load_once, load);
	if (load_rc) {
		snprintf(err, errlen, "%s", load_err);
		return load_rc;
	}
	*out = &table;
	return 0;
}
