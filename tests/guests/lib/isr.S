/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Interrupt entry stubs and the user-mode switch.
 *
 * isr_stubs holds 256 stubs, 16 bytes apart, so runtime.c computes a
 * vector's stub address instead of keeping a table. Each stub makes the
 * frame uniform (a zero error code where the CPU pushes none), pushes its
 * vector and jumps to isr_common, which saves the registers as a
 * struct trap_frame and calls trap_dispatch().
 */
#include "internal.h"

	.text
	.code64
	.balign 16
	.globl isr_stubs
isr_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	/* The CPU pushed an error code. */
	.else
	pushq $0
	.endif
	pushq $vec
	jmp isr_common
	.set vec, vec + 1
	.endr

isr_common:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rbx
	pushq %rbp
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	cld
	movq %rsp, %rdi
	/* RBX is callee-saved: it carries the frame address over the call
	 * while RSP is aligned for the C ABI. */
	movq %rsp, %rbx
	andq $-16, %rsp
	call trap_dispatch
	movq %rbx, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rbp
	popq %rbx
	popq %rdx
	popq %rcx
	popq %rax
	addq $16, %rsp		/* vector and error code */
	iretq

/*
 * long user_enter_asm(fn, arg, stack_top): saves the callee-saved registers
 * and RFLAGS on the kernel stack, records that stack in this CPU's
 * guest_cpu.kernel_rsp and irets to fn(arg) at CPL3 with IOPL=3. When fn
 * returns it lands in user_return_stub, which comes back to our caller
 * through user_return_to_kernel() with fn's return value.
 * stack_top must be 16-byte aligned (user.c checks).
 */
	.globl user_enter_asm
	.type user_enter_asm, @function
user_enter_asm:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	pushfq
	movq %rsp, %gs:CPU_OFF_KERNEL_RSP
	/* fn starts as if called: its return address is on the stack. */
	subq $8, %rdx
	movq $user_return_stub, %rax
	movq %rax, (%rdx)
	pushq $(SEL_UDATA | 3)	/* SS */
	pushq %rdx		/* RSP */
	pushfq
	popq %rax
	/* Clear TF, DF, NT and AC; keep IF; set IOPL=3. */
	andq $~0x44500, %rax
	orq $0x3000, %rax
	pushq %rax		/* RFLAGS */
	pushq $(SEL_UCODE | 3)	/* CS */
	pushq %rdi		/* RIP */
	movq %rsi, %rdi
	movl $(SEL_UDATA | 3), %eax
	movl %eax, %ds
	movl %eax, %es
	xorl %eax, %eax
	xorl %ebx, %ebx
	xorl %ecx, %ecx
	xorl %edx, %edx
	xorl %esi, %esi
	xorl %ebp, %ebp
	xorl %r8d, %r8d
	xorl %r9d, %r9d
	xorl %r10d, %r10d
	xorl %r11d, %r11d
	xorl %r12d, %r12d
	xorl %r13d, %r13d
	xorl %r14d, %r14d
	xorl %r15d, %r15d
	iretq

/*
 * Runs at CPL3 when the user function returns (RAX = its value). The way
 * back to CPL0 is the #UD of this ud2, which trap_dispatch() recognises by
 * its address. (Neither int n nor syscall: the PVM-based KVM of this
 * project's hosts raises #UD for int n at CPL3 and does not switch to CPL0
 * on syscall for guests that are not PVM-aware; exceptions work everywhere.)
 */
	.globl user_return_stub, user_return_ud2
user_return_stub:
	movq %rax, %rdi
user_return_ud2:
	ud2

/*
 * void user_return_to_kernel(long value): called by trap_dispatch() on the
 * trap stack; resumes the user_enter_asm() caller with value. The trap
 * frame is abandoned: the next entry from CPL3 starts the stack afresh.
 */
	.globl user_return_to_kernel
	.type user_return_to_kernel, @function
user_return_to_kernel:
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movq %rdi, %rax
	movq %gs:CPU_OFF_KERNEL_RSP, %rsp
	movq $0, %gs:CPU_OFF_KERNEL_RSP
	popfq
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret

	.section .note.GNU-stack, "", @progbits
