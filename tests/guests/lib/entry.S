/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PVH entry of the test-guest kit.
 *
 * The VMM enters _start in 32-bit protected mode with paging off, flat
 * segments and EBX = physical address of hvm_start_info. We switch to long
 * mode on page tables that are static data (no CPL0 loop builds them: every
 * CPL0 instruction may be emulated), zero .bss and call runtime_start().
 * APs arrive at ap_entry32 from the real-mode trampoline and take the same
 * path to long mode.
 */
#include "internal.h"

/* The PVH note: 4-byte physical entry. The linker script puts a zero word
 * right after it because QEMU reads a 64-bit value for ELF64 images. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4			/* namesz: "Xen\0" */
	.long 4			/* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.balign 4
	.long _start

/* Loads CR3, sets PAE, EFER.LME and CR0.PG, loads the kit's GDT and far
 * jumps to target in 64-bit mode. Preserves EBX. */
.macro ENTER_LONG_MODE target
	movl $pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_PE), %eax
	movl %eax, %cr0
	lgdt gdt_ptr
	ljmp $SEL_KCODE, $\target
.endm

	.section .text.entry, "ax", @progbits
	.code32
	.globl _start
	.type _start, @function
_start:
	cli
	cld
	ENTER_LONG_MODE bsp_entry64

	.globl ap_entry32
	.type ap_entry32, @function
ap_entry32:
	/* Selector 0x10 is flat data in the trampoline's GDT. */
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	ENTER_LONG_MODE ap_entry64

	.code64
bsp_entry64:
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	movq $(kstacks + KSTACK_SIZE), %rsp
	/* Zero .bss (8-byte aligned by guest.ld). */
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	shrl $3, %ecx
	xorl %eax, %eax
	rep stosq
	movl %ebx, %edi
	call runtime_start
	jmp park

ap_entry64:
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	/* Our CPU index comes from the APIC ID, through the table the BSP
	 * filled in smp_start(); an AP not in it parks. */
	movl $MSR_APIC_BASE, %ecx
	rdmsr
	andl $0xfffff000, %eax
	movl 0x20(%rax), %eax
	shrl $24, %eax
	movzbl apic_to_cpu(%rax), %edi
	testl %edi, %edi	/* index 0 is the BSP's: never an AP's */
	jz park
	cmpl $GUEST_MAX_CPUS, %edi
	jae park
	leal 1(%edi), %eax
	imull $KSTACK_SIZE, %eax
	addq $kstacks, %rax
	movq %rax, %rsp
	call ap_start

park:
	cli
	hlt
	jmp park

/* Identity map of the first 4 GiB in 2 MiB pages, user-accessible so
 * user_enter() can run kit code; the top GiB (MMIO) is uncached. */
	.section .data.pagetables, "aw", @progbits
	.balign 4096
pml4:
	.quad pdpt + 0x7
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x0007
	.quad pd + 0x1007
	.quad pd + 0x2007
	.quad pd + 0x3007
	.fill 508, 8, 0
pd:
	.set addr, 0
	.rept 1536
	.quad addr | 0x87	/* P RW US PS */
	.set addr, addr + 0x200000
	.endr
	.rept 512
	.quad addr | 0x9f	/* P RW US PWT PCD PS */
	.set addr, addr + 0x200000
	.endr

/* GDT: null, kernel code/data, user data/code (the SYSRET order), then
 * one 16-byte TSS descriptor per CPU, filled in by cpu_setup(). */
	.section .data, "aw", @progbits
	.balign 16
	.globl gdt
gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08 kernel code, 64-bit */
	.quad 0x00cf92000000ffff	/* 0x10 kernel data */
	.quad 0x00cff2000000ffff	/* 0x18 user data, DPL3 */
	.quad 0x00affa000000ffff	/* 0x20 user code, 64-bit, DPL3 */
	.fill 2 * GUEST_MAX_CPUS, 8, 0
gdt_end:
	.balign 8
	.globl gdt_ptr
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt

/* Per-CPU stacks: NOBITS, so they cost neither file size nor zeroing. */
	.section .stack, "aw", @nobits
	.balign 4096
	.globl kstacks, trapstacks, dfstacks, ustacks
kstacks:
	.skip GUEST_MAX_CPUS * KSTACK_SIZE
trapstacks:
	.skip GUEST_MAX_CPUS * TRAPSTACK_SIZE
dfstacks:
	.skip GUEST_MAX_CPUS * DFSTACK_SIZE
ustacks:
	.skip GUEST_MAX_CPUS * USTACK_SIZE

	.section .note.GNU-stack, "", @progbits
