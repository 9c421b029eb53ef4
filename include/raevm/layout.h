/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_LAYOUT_H
#define RAEVM_LAYOUT_H

/*
 * The x86 guest physical memory map raevm builds. Low memory holds the boot
 * structures; the kernel goes to 1 MiB (bzImage) or its ELF addresses; the
 * 32-bit MMIO hole [RV_MMIO_HOLE_START, 4 GiB) holds devices, the IOAPIC and
 * the local APICs, and RAM that would fall into it moves above 4 GiB.
 */
#define RV_GDT_ADDR 0x500ULL	      /* boot GDT, 4 entries */
#define RV_IDT_ADDR 0x520ULL	      /* empty IDT */
#define RV_PVH_INFO_ADDR 0x6000ULL    /* hvm_start_info */
#define RV_PVH_MEMMAP_ADDR 0x6040ULL  /* hvm_memmap_table_entry[] */
#define RV_PVH_MODLIST_ADDR 0x6e00ULL /* hvm_modlist_entry (initrd) */
#define RV_ZERO_PAGE_ADDR 0x7000ULL   /* Linux boot_params */
#define RV_PML4_ADDR 0x9000ULL	      /* identity page tables */
#define RV_PDPT_ADDR 0xa000ULL
#define RV_PD_ADDR 0xb000ULL /* 4 pages: 4 GiB in 2 MiB pages */
#define RV_CMDLINE_ADDR 0x20000ULL
#define RV_CMDLINE_MAX 4096ULL	      /* bytes incl. NUL, for ELF/PVH */
#define RV_EBDA_ADDR 0x9fc00ULL	      /* MP table lives here */
#define RV_LOW_RAM_END 0x9fc00ULL     /* e820: usable below this */
#define RV_HIGH_MEM_START 0x100000ULL /* 1 MiB */
#define RV_BZIMAGE_LOAD 0x100000ULL
#define RV_MMIO_HOLE_START 0xc0000000ULL
#define RV_4G 0x100000000ULL
#define RV_IOAPIC_ADDR 0xfec00000ULL
#define RV_LAPIC_ADDR 0xfee00000ULL

/* Legacy ports and IRQs. */
#define RV_COM1_PORT 0x3f8
#define RV_COM1_IRQ 4
#define RV_I8042_DATA_PORT 0x60
#define RV_I8042_CMD_PORT 0x64
#define RV_RTC_PORT 0x70
#define RV_RTC_IRQ 8
/* Debug exit: a byte written here ends the VM with that exit code. */
#define RV_DEBUG_EXIT_PORT 0xf4

#endif
