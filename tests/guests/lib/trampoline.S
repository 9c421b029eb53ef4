/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Real-mode start code for the APs. smp_start() copies the bytes between
 * ap_trampoline_start and ap_trampoline_end to GUEST_TRAMPOLINE_ADDR and
 * sends SIPI vector GUEST_TRAMPOLINE_ADDR >> 12; the AP then runs this at
 * CS:IP = vector*0x100:0. It only needs to reach flat 32-bit protected mode:
 * ap_entry32 in entry.S, in the image proper, does the rest. Everything here
 * is addressed relative to the copy, so the blob has no fix-ups. No stack is
 * used, so all APs may run it at once.
 */
#include "internal.h"

#define TRAMP(sym) (GUEST_TRAMPOLINE_ADDR + ((sym) - ap_trampoline_start))

	.text
	.code16
	.balign 16
	.globl ap_trampoline_start, ap_trampoline_end
ap_trampoline_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl tramp_gdt_ptr - ap_trampoline_start
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $0x08, $ap_entry32

	.balign 8
tramp_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08 flat 32-bit code */
	.quad 0x00cf92000000ffff	/* 0x10 flat data */
tramp_gdt_end:
tramp_gdt_ptr:
	.word tramp_gdt_end - tramp_gdt - 1
	.long TRAMP(tramp_gdt)
ap_trampoline_end:

	.code64
	.section .note.GNU-stack, "", @progbits
