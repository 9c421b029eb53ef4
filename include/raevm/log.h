/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_LOG_H
#define RAEVM_LOG_H

#include <stdarg.h>

/*
 * The logger is one of the few mutable globals (STYLE.md). Messages go to
 * stderr as one line: "raevmd: <message>" for errors, with a level tag for
 * the others.
 *
 * Error convention: the function that detects a failure a user must see logs
 * exactly one line with rv_error() naming what was wrong and where, then
 * returns a negative errno. Callers propagate the code without logging again,
 * so every failure reaches the user as one line.
 */
enum rv_log_level {
	RV_LOG_ERROR = 0,
	RV_LOG_WARN = 1,
	RV_LOG_INFO = 2,
	RV_LOG_DEBUG = 3,
};

void rv_log_set_level(enum rv_log_level level);
void rv_log_set_prog(const char *prog);
enum rv_log_level rv_log_get_level(void);

void rv_log(enum rv_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void rv_vlog(enum rv_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define rv_error(...) rv_log(RV_LOG_ERROR, __VA_ARGS__)
#define rv_warn(...) rv_log(RV_LOG_WARN, __VA_ARGS__)
#define rv_info(...) rv_log(RV_LOG_INFO, __VA_ARGS__)
#define rv_debug(...) rv_log(RV_LOG_DEBUG, __VA_ARGS__)

#endif
