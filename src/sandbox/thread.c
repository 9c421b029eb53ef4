// SPDX-License-Identifier: Apache-2.0
/*
 * Placeholder until the seccomp lists land: no thread filters yet. The
 * sandbox work replaces this file (docs/security.md).
 */
#include "raevm/sandbox.h"

int rv_sandbox_thread_enter(enum rv_thread_class cls)
{
	(void)cls;
	return 0;
}
