// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for exit decoding: the input is a kvm_run page of any
 * size. Whatever it holds, rv_exit_decode() must only describe bytes inside
 * the page; the target touches every byte it is pointed at, so ASan catches
 * a description that reaches outside the heap copy.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raevm/vcpu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t run_size =
		size < sizeof(struct kvm_run) ? sizeof(struct kvm_run) : size;
	struct kvm_run *run = calloc(1, run_size);
	volatile uint8_t sink = 0;
	struct rv_exit e;
	uint64_t n, i;

	if (!run)
		return 0;
	memcpy(run, data, size);
	switch (rv_exit_decode(run, run_size, &e)) {
	case RV_EXIT_IO_IN:
	case RV_EXIT_IO_OUT:
	case RV_EXIT_MMIO_READ:
	case RV_EXIT_MMIO_WRITE:
		n = (uint64_t)e.size * e.count;
		for (i = 0; i < n; i++)
			sink ^= e.data[i];
		break;
	case RV_EXIT_INTERNAL_ERROR:
		for (i = 0; e.insn && i < e.insn_len; i++)
			sink ^= e.insn[i];
		break;
	default:
		break;
	}
	(void)sink;
	free(run);
	return 0;
}
