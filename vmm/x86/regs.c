// SPDX-License-Identifier: Apache-2.0
/*
 * Boot register state for the BSP and LAPIC set-up for every vCPU, as pure
 * functions over KVM's structs so that they are unit-tested without
 * /dev/kvm.
 *
 * Two entry modes:
 *   RV_ENTRY_LINUX64  Linux 64-bit boot protocol: long mode, paging on with
 *                     the identity map at RV_PML4_ADDR, CS = 0x10 (64-bit
 *                     code), DS/ES/SS = 0x18, RSI = boot_params.
 *   RV_ENTRY_PVH32    PVH: 32-bit flat protected mode, paging off,
 *                     CS = 0x10 (32-bit code), data 0x18, TR a 32-bit busy
 *                     TSS, EBX = hvm_start_info, every other CR bit clear.
 * The selectors match the GDT that rv_boot_load() writes at RV_GDT_ADDR, so
 * a guest that reloads a segment register gets the same descriptor.
 */
#include "raevm/boot.h"

#include <string.h>

#include "raevm/layout.h"

#define X86_CR0_PE (1ULL << 0)
#define X86_CR0_ET (1ULL << 4)
#define X86_CR0_NE (1ULL << 5)
#define X86_CR0_PG (1ULL << 31)
#define X86_CR4_PAE (1ULL << 5)
#define X86_EFER_LME (1ULL << 8)
#define X86_EFER_LMA (1ULL << 10)
#define X86_RFLAGS_FIXED 0x2ULL

#define SEG_TYPE_CODE_XRA 0xb /* execute/read, accessed */
#define SEG_TYPE_DATA_RWA 0x3 /* read/write, accessed */
#define SEG_TYPE_TSS_BUSY 0xb /* 32-bit (or 64-bit) busy TSS */
#define SEG_TYPE_LDT 0x2

#define FPU_FCW_DEFAULT 0x37f	 /* all exceptions masked, 64-bit precision */
#define FPU_MXCSR_DEFAULT 0x1f80 /* all SSE exceptions masked */

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_DM_NMI (4u << 8)
#define APIC_DM_EXTINT (7u << 8)

void rv_boot_setup_regs(const struct rv_boot_entry *entry,
			struct kvm_regs *regs)
{
	memset(regs, 0, sizeof(*regs));
	regs->rflags = X86_RFLAGS_FIXED; /* IF, TF and VM clear */
	regs->rip = entry->rip;
	regs->rsp = entry->stack;
	if (entry->mode == RV_ENTRY_PVH32)
		regs->rbx = entry->boot_info;
	else
		regs->rsi = entry->boot_info;
}

static struct kvm_segment flat_segment(uint16_t selector, uint8_t type,
				       bool long_code)
{
	return (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = long_code ? 0 : 1, /* D must be 0 when L is 1 */
		.s = 1,
		.l = long_code ? 1 : 0,
		.g = 1,
	};
}

void rv_boot_setup_sregs(const struct rv_boot_entry *entry,
			 struct kvm_sregs *sregs)
{
	bool long_mode = entry->mode == RV_ENTRY_LINUX64;
	struct kvm_segment data =
		flat_segment(RV_BOOT_DS, SEG_TYPE_DATA_RWA, false);

	sregs->cs = flat_segment(RV_BOOT_CS, SEG_TYPE_CODE_XRA, long_mode);
	sregs->ds = data;
	sregs->es = data;
	sregs->fs = data;
	sregs->gs = data;
	sregs->ss = data;
	/* VM entry needs a usable busy TSS in TR; nothing ever switches to it. */
	sregs->tr = (struct kvm_segment){
		.base = 0,
		.limit = RV_BOOT_TSS_LIMIT,
		.selector = RV_BOOT_TSS,
		.type = SEG_TYPE_TSS_BUSY,
		.present = 1,
	};
	sregs->ldt = (struct kvm_segment){
		.limit = 0xffff,
		.type = SEG_TYPE_LDT,
		.present = 1,
	};
	sregs->gdt.base = RV_GDT_ADDR;
	sregs->gdt.limit = RV_BOOT_GDT_ENTRIES * 8 - 1;
	/* An empty IDT: the kernel installs its own before enabling IRQs. */
	sregs->idt.base = RV_IDT_ADDR;
	sregs->idt.limit = 0;

	if (long_mode) {
		/* Caching on (CD/NW clear), x87 errors native, paging on. */
		sregs->cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_NE | X86_CR0_PG;
		sregs->cr3 = RV_PML4_ADDR;
		sregs->cr4 = X86_CR4_PAE;
		sregs->efer = X86_EFER_LME | X86_EFER_LMA;
	} else {
		/* PVH: PE set, every other writable CR0 bit clear. */
		sregs->cr0 = X86_CR0_PE | X86_CR0_ET;
		sregs->cr3 = 0;
		sregs->cr4 = 0;
		sregs->efer = 0;
	}
}

void rv_boot_setup_fpu(struct kvm_fpu *fpu)
{
	memset(fpu, 0, sizeof(*fpu));
	fpu->fcw = FPU_FCW_DEFAULT;
	fpu->mxcsr = FPU_MXCSR_DEFAULT;
}

static void put_lapic_reg(struct kvm_lapic_state *lapic, unsigned int off,
			  uint32_t v)
{
	memcpy(&lapic->regs[off], &v, sizeof(v));
}

/*
 * Firmware leaves LINT0 as virtual-wire ExtINT (the 8259 reaches the CPU
 * through it) and LINT1 as NMI, both unmasked and edge-triggered; kernels
 * that parse the MP table's local interrupt entries expect exactly that.
 */
void rv_boot_setup_lapic(struct kvm_lapic_state *lapic)
{
	put_lapic_reg(lapic, APIC_LVT0, APIC_DM_EXTINT);
	put_lapic_reg(lapic, APIC_LVT1, APIC_DM_NMI);
}
