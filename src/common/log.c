// SPDX-License-Identifier: Apache-2.0
/* The process-wide logger: one line per message on stderr. */
#include "raevm/log.h"

#include <stdio.h>
#include <string.h>

static enum rv_log_level log_level = RV_LOG_WARN;
static const char *log_prog = "raevmd";

void rv_log_set_level(enum rv_log_level level)
{
	log_level = level;
}

enum rv_log_level rv_log_get_level(void)
{
	return log_level;
}

void rv_log_set_prog(const char *prog)
{
	log_prog = prog;
}

void rv_vlog(enum rv_log_level level, const char *fmt, va_list ap)
{
	static const char *const tags[] = {
		[RV_LOG_ERROR] = "",
		[RV_LOG_WARN] = "warning: ",
		[RV_LOG_INFO] = "",
		[RV_LOG_DEBUG] = "debug: ",
	};
	char line[1024];
	int n;

	if (level > log_level)
		return;
	/*
	 * Format into one buffer and write it with a single call so lines
	 * from concurrent vCPU threads never interleave.
	 */
	n = snprintf(line, sizeof(line), "%s: %s", log_prog, tags[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	n = (int)strlen(line);
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
	fflush(stderr);
}

void rv_log(enum rv_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rv_vlog(level, fmt, ap);
	va_end(ap);
}
