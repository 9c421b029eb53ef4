/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The start-up benchmark guest: its first instructions write 0 to the
 * debug-exit port, so the VM's life is VMM start -> first guest
 * instruction -> exit. It carries its own PVH note and entry and uses
 * nothing from libguest (defining _start keeps the archive out).
 */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4			/* namesz: "Xen\0" */
	.long 4			/* descsz: 32-bit physical entry */
	.long 18		/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.long _start

	.text
	.code32
	.globl _start
	.type _start, @function
_start:
	xorl %eax, %eax
	outb %al, $0xf4
1:
	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
