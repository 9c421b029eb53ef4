/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_ZSTD_DL_H
#define RAEVM_ZSTD_DL_H

/*
 * libzstd, loaded on demand (raevm/dl.h) by the first bundle export or
 * import: the functions bundle.c calls, typed by zstd.h's own prototypes,
 * so a call through the table is checked exactly as a direct call was.
 */
#include "raevm/dl.h"

#include <zstd.h>

struct rv_zstd_dl {
	__typeof__(ZSTD_isError) *ZSTD_isError;
	__typeof__(ZSTD_getErrorName) *ZSTD_getErrorName;
	__typeof__(ZSTD_createCCtx) *ZSTD_createCCtx;
	__typeof__(ZSTD_freeCCtx) *ZSTD_freeCCtx;
	__typeof__(ZSTD_CCtx_setParameter) *ZSTD_CCtx_setParameter;
	__typeof__(ZSTD_CStreamOutSize) *ZSTD_CStreamOutSize;
	__typeof__(ZSTD_compressStream2) *ZSTD_compressStream2;
	__typeof__(ZSTD_createDCtx) *ZSTD_createDCtx;
	__typeof__(ZSTD_freeDCtx) *ZSTD_freeDCtx;
	__typeof__(ZSTD_DCtx_setParameter) *ZSTD_DCtx_setParameter;
	__typeof__(ZSTD_DStreamInSize) *ZSTD_DStreamInSize;
	__typeof__(ZSTD_decompressStream) *ZSTD_decompressStream;
};

/*
 * Loads libzstd.so.1 once per process and sets *out to the table, which
 * is never written again. Safe from any thread (exports and imports run
 * on libuv's pool; the daemon has no seccomp filter). Returns 0, or
 * -ENOSYS with a one-line message in err (the same on every later call).
 */
int rv__zstd_dl_load(const struct rv_zstd_dl **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* RAEVM_ZSTD_DL_H */
