/* SPDX-License-Identifier: Apache-2.0 */
/*
 * User mode (CPL3). The whole identity map has the U bit, so user code
 * calls kit functions freely; RFLAGS.IOPL=3 lets it use in/out and cli/sti.
 * This is how hot loops run at native speed on hosts where CPL0 is emulated.
 * The switch itself is user_enter_asm in isr.S.
 */
#include "internal.h"

void *user_stack_top(void)
{
	return (void *)(uintptr_t)((uint64_t)(uintptr_t)ustacks +
				   (smp_cpu_index() + 1) * USTACK_SIZE);
}

long user_enter(long (*fn)(void *arg), void *arg, void *stack_top)
{
	uint64_t top = (uint64_t)(uintptr_t)stack_top;

	if (current_cpl() != 0)
		return -EPERM;
	if (!fn)
		return -EINVAL;
	if (!stack_top)
		top = (uint64_t)(uintptr_t)user_stack_top();
	/* The stack must lie in the identity map, above the first page. */
	top &= ~0xfULL;
	if (top < 0x1000 || top > (1ULL << 32))
		return -EINVAL;
	/* Settle the TSC rate while kvmclock is still reachable. */
	(void)tsc_hz();
	return user_enter_asm(fn, arg, top);
}
