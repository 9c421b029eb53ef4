/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_FUZZ_H
#define RAEVM_FUZZ_H

/*
 * What the libFuzzer targets share: the entry point's prototype (for
 * -Wmissing-prototypes), CHECK(), which traps on a broken promise so that
 * the fuzzer keeps the input, and the check that an error is one line.
 */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond))                                                   \
			__builtin_trap();                                      \
	} while (0)

/* Error lines are printed to terminals: one line, no control bytes. */
static inline void fuzz_check_line(const char *line)
{
	const unsigned char *c;

	CHECK(line[0] != '\0');
	for (c = (const unsigned char *)line; *c; c++)
		CHECK(*c >= 0x20 && *c != 0x7f);
}

#endif
