/* SPDX-License-Identifier: Apache-2.0 */
/* The smallest kit guest: a greeting, the command line, exit code 0. */
#include "guest.h"

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	puts("hello from raevm guest");
	printf("cmdline: %s\n", cmdline());
	return 0;
}
