/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_BOOT_H
#define RAEVM_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "raevm/util.h"

struct rv_mem;

/*
 * x86 kernel loading. Probing is a pure function over the image bytes
 * (unit-tested against Debian's kernel and corrupted copies of it);
 * loading writes into guest memory through rv_mem only.
 */
enum rv_kernel_format {
	RV_KERNEL_BZIMAGE,   /* Linux bzImage, 64-bit boot protocol */
	RV_KERNEL_ELF_LINUX, /* uncompressed vmlinux, 64-bit entry */
	RV_KERNEL_ELF_PVH,   /* ELF with XEN_ELFNOTE_PHYS32_ENTRY */
};

/* How the BSP enters the kernel. */
enum rv_entry_mode {
	RV_ENTRY_LINUX64, /* long mode, paging on, RSI = boot_params */
	RV_ENTRY_PVH32, /* 32-bit protected mode, paging off, EBX = start_info */
};

#define RV_KERNEL_MAX_SEGMENTS 16

struct rv_kernel_segment {
	uint64_t file_offset;
	uint64_t file_size;
	uint64_t paddr;
	uint64_t mem_size;
};

struct rv_kernel_info {
	enum rv_kernel_format format;
	uint64_t entry; /* guest physical entry point */
	/* ELF: PT_LOAD segments. bzImage: one segment, the protected-mode part. */
	struct rv_kernel_segment segments[RV_KERNEL_MAX_SEGMENTS];
	unsigned int nr_segments;
	/* bzImage only. */
	uint16_t boot_protocol; /* setup header version, e.g. 0x020f */
	uint32_t setup_size;	/* bytes of real-mode setup incl. boot sector */
	uint32_t initrd_addr_max;
	uint32_t cmdline_size; /* max command line length, excl. NUL */
	uint64_t pref_address;
	uint32_t kernel_alignment;
	uint32_t init_size;
	bool relocatable;
	bool xlf_kernel_64; /* XLF_KERNEL_64: 64-bit entry at +0x200 */
	uint64_t image_end; /* highest guest address the image uses */
};

/*
 * Probes an image. Returns 0 and fills info, or -ENOEXEC with one line in
 * err (size errlen) saying why the bytes are not a bootable kernel
 * ("truncated ELF program header table", "bzImage boot protocol 2.05 is older
 * than 2.06", ...). Pure: no logging, no I/O.
 */
int rv_kernel_probe(const uint8_t *image, size_t len,
		    struct rv_kernel_info *info, char *err,
		    size_t errlen) RV_MUST_CHECK;

const char *rv_kernel_format_name(enum rv_kernel_format format);

/*
 * Internal to vmm/x86 (probe and loader agree on it): the exclusive end of
 * the memory a probed bzImage needs when its protected-mode part is loaded
 * at load, counting the decompression area of init_size bytes; 0 on overflow.
 */
uint64_t rv__kernel_bz_end(const struct rv_kernel_info *info, uint64_t load);

/* What the loaders produce for the vCPU set-up. */
struct rv_boot_entry {
	enum rv_entry_mode mode;
	uint64_t rip;
	uint64_t boot_info; /* RSI (boot_params) or EBX (start_info) */
	uint64_t stack;	    /* initial RSP, 0 for none */
};

struct rv_boot_params {
	const uint8_t *kernel; /* image bytes */
	size_t kernel_len;
	const uint8_t *initrd; /* may be NULL */
	size_t initrd_len;
	const char *cmdline; /* may be NULL */
	unsigned int nr_cpus;
	/*
	 * The PCI 64-bit MMIO window (rv_pci_vm_mmio64_window()) that the
	 * ACPI tables describe; size 0 (the default) describes none.
	 */
	uint64_t pci_mmio64_base;
	uint64_t pci_mmio64_size;
};

/*
 * Loads a probed kernel, the initrd and the command line into guest memory,
 * writes boot_params or hvm_start_info with the e820 map, the boot GDT and
 * identity page tables, and the MP table. Returns 0 or -errno with one line
 * in err naming the problem ("initrd (300 MiB) does not fit below
 * initrd_addr_max", "command line is 5000 bytes, kernel takes 2047").
 */
int rv_boot_load(struct rv_mem *mem, const struct rv_kernel_info *info,
		 const struct rv_boot_params *params,
		 struct rv_boot_entry *entry, char *err,
		 size_t errlen) RV_MUST_CHECK;

/*
 * e820 map for the RAM layout of mem: usable [0, RV_LOW_RAM_END), reserved
 * up to 1 MiB, usable from 1 MiB to the hole, usable above 4 GiB.
 * Returns the number of entries written (at most max).
 */
struct rv_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* 1 RAM, 2 reserved */
};
#define RV_E820_RAM 1
#define RV_E820_RESERVED 2
unsigned int rv_e820_build(const struct rv_mem *mem,
			   struct rv_e820_entry *entries, unsigned int max);

/*
 * The boot GDT rv_boot_load() writes at RV_GDT_ADDR: a null descriptor, a
 * busy TSS at 0x08, flat code at 0x10 (64-bit for RV_ENTRY_LINUX64, 32-bit
 * for RV_ENTRY_PVH32) and flat data at 0x18, the selectors the Linux boot
 * protocol names __BOOT_CS and __BOOT_DS.
 */
#define RV_BOOT_GDT_ENTRIES 4
#define RV_BOOT_TSS 0x08
#define RV_BOOT_CS 0x10
#define RV_BOOT_DS 0x18
#define RV_BOOT_TSS_LIMIT 0x67

/*
 * Register state for the BSP, as pure functions over KVM's structs:
 * sregs starts from KVM_GET_SREGS's value and is adjusted in place.
 */
void rv_boot_setup_regs(const struct rv_boot_entry *entry,
			struct kvm_regs *regs);
void rv_boot_setup_sregs(const struct rv_boot_entry *entry,
			 struct kvm_sregs *sregs);
void rv_boot_setup_fpu(struct kvm_fpu *fpu);
/* LINT0 = ExtINT, LINT1 = NMI, as firmware would leave them. */
void rv_boot_setup_lapic(struct kvm_lapic_state *lapic);

/*
 * Writes an Intel MP table (floating pointer + config table) at addr: the
 * 16-byte floating pointer first, the configuration table right after it,
 * rv_mptable_size(nr_cpus) bytes in all. APIC IDs are the vCPU indexes and
 * the IOAPIC's ID is nr_cpus, so 8-bit IDs (255 is broadcast) allow at most
 * RV_MPTABLE_MAX_CPUS vCPUs. Returns 0, -EINVAL for nr_cpus 0, -E2BIG above
 * the maximum, -EFAULT when the table does not lie in guest RAM.
 */
#define RV_MPTABLE_MAX_CPUS 254
/*
 * rv_boot_load() puts the table in the EBDA (RV_EBDA_ADDR, 1 KiB) while it
 * fits there, which is up to RV_MPTABLE_EBDA_MAX_CPUS vCPUs, and otherwise
 * in the BIOS area at RV_MPTABLE_BIOS_ADDR (64 KiB). Both are reserved in
 * the e820 map and both are where guests scan for the floating pointer.
 */
#define RV_MPTABLE_EBDA_MAX_CPUS 40
#define RV_MPTABLE_BIOS_ADDR 0xf0000ULL
size_t rv_mptable_size(unsigned int nr_cpus);
int rv_mptable_write(struct rv_mem *mem, uint64_t addr,
		     unsigned int nr_cpus) RV_MUST_CHECK;

#endif
