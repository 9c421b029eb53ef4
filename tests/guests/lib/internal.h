/* SPDX-License-Identifier: Apache-2.0 */
#ifndef GUEST_INTERNAL_H
#define GUEST_INTERNAL_H

/*
 * Kit-internal layout shared by the assembly and C parts of lib/. Guests
 * include guest.h only.
 */

#include "guest.h"

/* GDT selectors. TSS descriptors (16 bytes each) follow, one per CPU. */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x18
#define SEL_UCODE 0x20
#define SEL_TSS0 0x28
#define GDT_FIXED_ENTRIES 5

/* Per-CPU stacks, all in the NOBITS .stack section (never zeroed). */
#define KSTACK_SIZE 0x4000    /* kernel stack the CPU starts on */
#define TRAPSTACK_SIZE 0x2000 /* TSS.RSP0: traps from CPL3 */
#define DFSTACK_SIZE 0x1000   /* IST1: double fault */
#define USTACK_SIZE 0x4000    /* user_stack_top() */

/* Offsets in struct guest_cpu used by isr.S (checked in runtime.c). */
#define CPU_OFF_SELF 0
#define CPU_OFF_KERNEL_RSP 8

#define MSR_EFER 0xc0000080
#define MSR_GS_BASE 0xc0000101
#define MSR_APIC_BASE 0x1b
#define EFER_LME 0x100
#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR4_PAE 0x20

#define XEN_ELFNOTE_PHYS32_ENTRY 18

#ifndef __ASSEMBLER__

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

/* I/O permission bitmap: one bit per port plus the all-ones end byte. */
#define IOMAP_BYTES (65536 / 8 + 1)

/*
 * One per CPU, reached through the GS base (%gs:0 is self). The TSS is
 * followed by an all-zero I/O bitmap, which lets CPL3 use every port: some
 * hypervisors (the PVM-based KVM of this project's hosts) ignore
 * RFLAGS.IOPL in user mode but do honour the bitmap.
 * The array is __attribute__((noinit)); cpu_setup() clears an entry when
 * its CPU starts, so CPUs that do not exist cost no boot time.
 */
struct guest_cpu {
	struct guest_cpu *self;
	uint64_t kernel_rsp; /* saved by user_enter, 0 when not in it */
	unsigned int index;
	uint32_t apic_id;
	struct tss64 tss;
	uint8_t iomap[IOMAP_BYTES];
};

extern struct guest_cpu guest_cpus[GUEST_MAX_CPUS];

/* Defined in entry.S. */
extern uint64_t gdt[];
extern uint8_t kstacks[], trapstacks[], dfstacks[], ustacks[];
extern uint8_t __bss_start[], __bss_end[], __image_end[];
void ap_entry32(void);

/* Defined in isr.S. */
extern const uint8_t isr_stubs[]; /* 256 stubs, 16 bytes apart */
extern const uint8_t user_return_ud2[];
void user_return_to_kernel(long value) GUEST_NORETURN;
long user_enter_asm(long (*fn)(void *), void *arg, uint64_t stack_top);

/* Defined in trampoline.S: the real-mode blob copied below 1 MiB. */
extern const uint8_t ap_trampoline_start[], ap_trampoline_end[];

/* runtime.c */
void runtime_start(uint32_t start_info_pa) GUEST_NORETURN;
void cpu_setup(unsigned int index, uint32_t apic_id);
struct guest_cpu *this_cpu(void);
void trap_dispatch(struct trap_frame *f);
void ap_start(unsigned int index) GUEST_NORETURN;

/* cmdline.c */
void cmdline_init(const struct hvm_start_info *si);

/* serial.c: output while the console may be wedged (fatal paths). */
uint64_t console_lock_force(void);
/* serial.c: output for a caller holding the console ("\n" -> "\r\n"). */
void console_write_locked(const char *p, size_t n);

/* smp.c: APIC ID -> CPU index, 0xff for none; read by entry.S. */
extern uint8_t apic_to_cpu[256];

#endif /* __ASSEMBLER__ */

#endif
