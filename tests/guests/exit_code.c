/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exits with the number given as code=N on the command line (default 0),
 * so tests can check that the VMM passes the guest's exit code through.
 * The debug-exit port takes one byte: N is reported in full but exits as
 * N & 0xff.
 */
#include "guest.h"

int guest_main(const struct hvm_start_info *si)
{
	uint64_t code = cmdline_get_uint("code", 0);

	(void)si;
	printf("exit_code: %lu\n", code);
	return (int)(code & 0xff);
}
