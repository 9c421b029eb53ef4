/* SPDX-License-Identifier: Apache-2.0 */
#ifndef GUEST_H
#define GUEST_H

/*
 * The raevm test-guest kit: a freestanding runtime for small PVH guests.
 *
 * A guest is one source file that defines guest_main(). The runtime
 * (lib/entry.S) enters long mode with the first 4 GiB identity-mapped in
 * 2 MiB user-accessible pages, installs a GDT, a TSS and an IDT on the boot
 * CPU, initialises COM1, copies the command line and calls guest_main();
 * its return value becomes the VM's exit code through the debug-exit port.
 *
 * Everything here runs at CPL0 unless entered through user_enter(). CPL0 code
 * may be emulated instruction by instruction on some hosts, so the kit keeps
 * kernel-mode work small and bounds every wait by the TSC.
 */

/* Constants first: the kit's assembly files include this header too. */
#ifdef __ASSEMBLER__
#define GUEST_UL(x) x
#else
#define GUEST_UL(x) x##UL
#endif

/* Error numbers, Linux values; kit functions return 0 or -E*. */
#define EPERM 1
#define ENOENT 2
#define EIO 5
#define ENXIO 6
#define E2BIG 7
#define EAGAIN 11
#define ENOMEM 12
#define EFAULT 14
#define EBUSY 16
#define ENODEV 19
#define EINVAL 22
#define ENOSPC 28
#define ERANGE 34
#define ELOOP 40
#define EPROTO 71
#define EOPNOTSUPP 95
#define ETIMEDOUT 110

/* Fixed facts of the kit and of the PC platform it runs on. */
#define GUEST_LOAD_ADDR GUEST_UL(0x100000) /* guest.ld links here */
#define GUEST_MAX_CPUS 64		   /* CPUs beyond this stay parked */
#define GUEST_TRAMPOLINE_ADDR GUEST_UL(0x10000) /* AP start, SIPI vector 0x10 */
#define GUEST_EXIT_PORT 0xf4  /* debug-exit: a byte ends the VM */
#define GUEST_EXIT_FAULT 0xEE /* exit code of an unhandled exception */
#define GUEST_COM1_PORT 0x3f8
#define GUEST_COM1_IRQ 4
#define GUEST_I8042_CMD_PORT 0x64
#define LAPIC_DEFAULT_ADDR GUEST_UL(0xfee00000)
#define IOAPIC_DEFAULT_ADDR GUEST_UL(0xfec00000)

/*
 * Interrupt vectors. 0-31 are exceptions; guests may register handlers for
 * 0x20-0xef. The kit reserves the rest.
 */
#define VEC_USER_FIRST 0x20
#define VEC_USER_LAST 0xef
#define VEC_SPURIOUS 0xff /* LAPIC spurious vector, ignored */

#ifndef __ASSEMBLER__

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_NORETURN __attribute__((noreturn))
#define GUEST_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* ------------------------------------------------------------------------
 * PVH boot information (Xen's hvm_start_info, version 0 and 1).
 */
#define HVM_START_MAGIC 0x336ec578U

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	/* Version 1 and later. */
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

#define HVM_MEMMAP_RAM 1
#define HVM_MEMMAP_RESERVED 2
#define HVM_MEMMAP_ACPI 3
#define HVM_MEMMAP_NVS 4
#define HVM_MEMMAP_UNUSABLE 5

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

/* Each guest defines this; its return value is the VM's exit code. */
int guest_main(const struct hvm_start_info *si);

/*
 * The start_info the VMM passed, or NULL when EBX did not point at one with
 * the right magic (the runtime has already said so on the serial port).
 */
const struct hvm_start_info *guest_start_info(void);

/*
 * The e820-style memory map of start_info (version >= 1). Returns the number
 * of entries and sets *map, or 0 when there is none.
 */
unsigned int guest_memmap(const struct hvm_memmap_table_entry **map);

/*
 * Ends the VM with code (0-255) through the debug-exit port. Works at CPL0
 * and, with IOPL=3, at CPL3. If the VMM ignores the port the guest says so
 * and pulses the i8042 reset line, then halts.
 */
void guest_exit(unsigned int code) GUEST_NORETURN;

/* Prints a message and exits with code; for "this cannot go on" cases. */
void guest_panic(unsigned int code, const char *fmt, ...)
	GUEST_PRINTF(2, 3) GUEST_NORETURN;

/* Turns a physical address (below 4 GiB) into a pointer. */
static inline void *phys_ptr(uint64_t pa)
{
	void *p;

	/* The empty asm hides the constant so the compiler neither assumes
	 * low addresses are NULL-like nor warns about fixed addresses. */
	__asm__("" : "=r"(p) : "0"(pa));
	return p;
}

/* ------------------------------------------------------------------------
 * Port I/O and MMIO. Port I/O works at CPL3 only with IOPL=3.
 */
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint8_t mmio_read8(uint64_t pa)
{
	return *(volatile uint8_t *)phys_ptr(pa);
}

static inline uint16_t mmio_read16(uint64_t pa)
{
	return *(volatile uint16_t *)phys_ptr(pa);
}

static inline uint32_t mmio_read32(uint64_t pa)
{
	return *(volatile uint32_t *)phys_ptr(pa);
}

static inline uint64_t mmio_read64(uint64_t pa)
{
	return *(volatile uint64_t *)phys_ptr(pa);
}

static inline void mmio_write8(uint64_t pa, uint8_t v)
{
	*(volatile uint8_t *)phys_ptr(pa) = v;
}

static inline void mmio_write16(uint64_t pa, uint16_t v)
{
	*(volatile uint16_t *)phys_ptr(pa) = v;
}

static inline void mmio_write32(uint64_t pa, uint32_t v)
{
	*(volatile uint32_t *)phys_ptr(pa) = v;
}

static inline void mmio_write64(uint64_t pa, uint64_t v)
{
	*(volatile uint64_t *)phys_ptr(pa) = v;
}

/* ------------------------------------------------------------------------
 * CPU helpers.
 */
#define RFLAGS_IF 0x200UL
#define RFLAGS_IOPL3 0x3000UL

/* The current privilege level, from the low bits of CS. */
static inline unsigned int current_cpl(void)
{
	uint16_t cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}

static inline void cpu_pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* CPL0 only. */
static inline void cpu_hlt(void)
{
	__asm__ volatile("hlt" ::: "memory");
}

/* cli/sti: CPL0, or CPL3 where the hypervisor honours IOPL=3. */
static inline void irq_disable(void)
{
	__asm__ volatile("cli" ::: "memory");
}

static inline void irq_enable(void)
{
	__asm__ volatile("sti" ::: "memory");
}

/* Enables interrupts and halts with no window in between (CPL0 only). */
static inline void irq_enable_and_hlt(void)
{
	__asm__ volatile("sti; hlt" ::: "memory");
}

static inline uint64_t read_rflags(void)
{
	uint64_t f;

	__asm__ volatile("pushfq; popq %0" : "=r"(f) : : "memory");
	return f;
}

/*
 * At CPL3 these leave interrupts alone: cli/sti there need IOPL=3, which
 * some hypervisors (the PVM-based KVM of this project's hosts) ignore.
 */
static inline uint64_t irq_save(void)
{
	uint64_t f = read_rflags();

	if (current_cpl() != 0)
		return f & ~RFLAGS_IF;
	irq_disable();
	return f;
}

static inline void irq_restore(uint64_t flags)
{
	if (flags & RFLAGS_IF)
		irq_enable();
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr"
			 :
			 : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "memory");
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b,
			 uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid"
			 : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
			 : "a"(leaf), "c"(sub));
}

/* ------------------------------------------------------------------------
 * Freestanding string functions (the compiler may also call mem*).
 */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);

/*
 * Parses an unsigned number (decimal, or hex with 0x) that spans exactly
 * [s, s + len). Returns 0, -EINVAL for anything else, -ERANGE on overflow.
 */
int parse_uint(const char *s, size_t len, uint64_t *out);

/* ------------------------------------------------------------------------
 * Spinlocks (xchg). A zeroed struct spinlock is unlocked. The irqsave
 * variants keep interrupt handlers on the same CPU from deadlocking on a
 * lock the CPU already holds.
 */
struct spinlock {
	volatile uint32_t locked;
};

void spin_lock(struct spinlock *l);
bool spin_trylock(struct spinlock *l);
void spin_unlock(struct spinlock *l);
uint64_t spin_lock_irqsave(struct spinlock *l);
void spin_unlock_irqrestore(struct spinlock *l, uint64_t flags);

/* ------------------------------------------------------------------------
 * COM1 serial console (16550A, 115200 8N1, polled output). Every output
 * function takes the console lock, so lines from different CPUs do not
 * interleave within one call; '\n' goes out as "\r\n".
 */
void serial_init(void);
void serial_putc(char c);
void serial_write(const char *s, size_t n);
void serial_puts(const char *s); /* no newline added */
int puts(const char *s);	 /* adds a newline, like C's */
/* Returns the next received byte, or -1 when none is waiting. */
int serial_getc_poll(void);
/* Waits up to timeout_us for a byte; -ETIMEDOUT when none came. */
int serial_getc_timeout(uint64_t timeout_us);
/* Enables or disables the UART's receive-data interrupt (IER bit 0). */
void serial_set_rx_irq(bool on);

/* Holds the console across several calls (nests with the output calls). */
uint64_t console_lock(void);
void console_unlock(uint64_t flags);

/*
 * printf family: %d %i %u %x %X %o %c %s %p %%, flags '-' '0' '#' '+' ' ',
 * width and precision (also '*'), lengths hh h l ll z t j.
 */
int printf(const char *fmt, ...) GUEST_PRINTF(1, 2);
int vprintf(const char *fmt, va_list ap) GUEST_PRINTF(1, 0);
int snprintf(char *buf, size_t size, const char *fmt, ...) GUEST_PRINTF(3, 4);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
	GUEST_PRINTF(3, 0);

/* ------------------------------------------------------------------------
 * Kernel command line (copied from start_info at boot, at most 4095 bytes).
 */
const char *cmdline(void);
/*
 * The value of the last "key=N" word (decimal or 0x hex), or def when the
 * key is absent or its value is not a number that fits in 64 bits.
 */
uint64_t cmdline_get_uint(const char *key, uint64_t def);
/*
 * Copies the value of the last "key=..." word into buf (NUL-terminated).
 * Returns its length, -ENOENT when absent, -E2BIG when it does not fit.
 */
int cmdline_get_str(const char *key, char *buf, size_t size);
/* True when the bare word (or "word=...") appears on the command line. */
bool cmdline_has(const char *word);

/* ------------------------------------------------------------------------
 * Intel MultiProcessor table (version 1.1/1.4), found and parsed once.
 */
#define MP_MAX_IOAPICS 8
#define MP_MAX_ISA_IRQS 32

struct mp_isa_irq {
	uint8_t src_irq;
	uint8_t ioapic_id;
	uint8_t pin;
	uint16_t flags; /* MP polarity (bits 0-1), trigger (2-3) */
};

struct mp_info {
	bool found;
	uint32_t floating_addr; /* "_MP_" structure */
	uint32_t config_addr; /* "PCMP" table, 0 for a default configuration */
	uint32_t lapic_addr;
	unsigned int nr_cpus; /* enabled processors, at most GUEST_MAX_CPUS */
	unsigned int nr_cpus_ignored; /* enabled ones beyond GUEST_MAX_CPUS */
	uint8_t apic_ids[GUEST_MAX_CPUS];
	int bsp; /* index in apic_ids flagged as BSP, or -1 */
	unsigned int nr_ioapics;
	struct {
		uint8_t id;
		uint32_t addr;
	} ioapics[MP_MAX_IOAPICS];
	unsigned int nr_isa_irqs;
	struct mp_isa_irq isa_irqs[MP_MAX_ISA_IRQS];
};

/* Scans the EBDA, the top of base memory and the BIOS ROM as the MP spec
 * says. Never NULL; check ->found. */
const struct mp_info *mp_info(void);
/* Enabled processors in the MP table, or 0 when there is no table. */
unsigned int mp_cpu_count(void);

/* ------------------------------------------------------------------------
 * Local APIC (xAPIC MMIO), IOAPIC and the legacy 8259 PICs.
 */
void lapic_init(void); /* software-enable this CPU's LAPIC */
uint32_t lapic_id(void);
void lapic_eoi(void);
int lapic_send_init(uint32_t apic_id) __attribute__((warn_unused_result));
int lapic_send_sipi(uint32_t apic_id, uint8_t page)
	__attribute__((warn_unused_result));
int lapic_send_ipi(uint32_t apic_id, uint8_t vector)
	__attribute__((warn_unused_result));

/*
 * Routes ISA IRQ irq (0-15) through the IOAPIC to vector on the CPU with
 * dest_apic, unmasked, honouring the MP table's pin, polarity and trigger
 * (identity pin, edge, active high without a table).
 */
int ioapic_route_isa_irq(unsigned int irq, unsigned int vector,
			 uint32_t dest_apic)
	__attribute__((warn_unused_result));
int ioapic_mask_isa_irq(unsigned int irq) __attribute__((warn_unused_result));

/*
 * Routes global system interrupt gsi (an IOAPIC pin, counted across the
 * IOAPICs of the MP table in order, else the one at IOAPIC_DEFAULT_ADDR)
 * to vector on dest_apic with the given trigger and polarity: PCI INTx
 * lines are level-triggered. Returns 0, -EINVAL, or -ENODEV when no IOAPIC
 * has that pin.
 */
int ioapic_route_gsi(unsigned int gsi, unsigned int vector, uint32_t dest_apic,
		     bool level, bool active_low)
	__attribute__((warn_unused_result));
int ioapic_mask_gsi(unsigned int gsi) __attribute__((warn_unused_result));

/* Masks every line of both 8259s (the runtime does this at boot). */
void pic_disable(void);

/* ------------------------------------------------------------------------
 * Interrupts and exceptions.
 */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

typedef void (*trap_handler_t)(struct trap_frame *f, void *arg);

/*
 * Installs fn for vector (0-31 exceptions, VEC_USER_FIRST-VEC_USER_LAST
 * interrupts) on every CPU; fn NULL removes it. For vectors >= 32 the kit
 * sends the LAPIC EOI after fn returns. Unhandled exceptions print the
 * vector, RIP and error code and exit with GUEST_EXIT_FAULT.
 * Returns 0, -EINVAL for a reserved vector, -EBUSY if one is installed.
 */
int irq_register(unsigned int vector, trap_handler_t fn, void *arg)
	__attribute__((warn_unused_result));

/*
 * Like irq_register() on the first free vector from VEC_DYN_FIRST up
 * (drivers take their MSI-X and INTx vectors here; 0x20-0x3f stay for
 * guests' fixed choices). Returns the vector or -EBUSY when none is free.
 */
#define VEC_DYN_FIRST 0x40
int irq_register_any(trap_handler_t fn, void *arg)
	__attribute__((warn_unused_result));

/* ------------------------------------------------------------------------
 * Time, by the TSC.
 */
/* TSC ticks per second: CPUID leaves 0x40000010, 0x15, 0x16, KVM's
 * kvmclock, else a generous 4 GHz guess (so bounds err on the long side).
 * Call it once at CPL0 first: kvmclock cannot be read at CPL3. */
uint64_t tsc_hz(void);
uint64_t tsc_deadline_us(uint64_t us);
void udelay(uint64_t us);
/*
 * Spins (pause) until done(arg) is true or timeout_us passes.
 * Returns 0 or -ETIMEDOUT.
 */
int wait_until(bool (*done)(void *arg), void *arg, uint64_t timeout_us);

/* ------------------------------------------------------------------------
 * SMP.
 */
typedef void (*ap_main_fn)(unsigned int cpu_index, uint32_t apic_id);

/*
 * Starts every enabled AP of the MP table with INIT/SIPI/SIPI through the
 * real-mode trampoline at GUEST_TRAMPOLINE_ADDR. Each AP gets its own stack,
 * GDT/TSS/IDT and LAPIC, then calls fn(cpu_index, apic_id) (the BSP is
 * index 0); when fn returns the AP idles in hlt with interrupts on.
 * Waits up to timeout_us for all of them to come online and returns the
 * number of online CPUs including the BSP (1 without an MP table), or
 * -EBUSY when called twice.
 */
int smp_start(ap_main_fn fn, uint64_t timeout_us);
unsigned int smp_cpu_index(void); /* this CPU's index */
unsigned int smp_online(void);	  /* CPUs that have come online */

/* ------------------------------------------------------------------------
 * User mode.
 */
/*
 * Runs fn(arg) at CPL3 on the given stack (NULL: this CPU's kit user stack)
 * with interrupts as they are now, RFLAGS.IOPL=3 and an all-ports I/O
 * bitmap in the TSS, so in/out work at CPL3 even under hypervisors that
 * ignore IOPL there (cli/sti then #GP: avoid them in user code; the kit's
 * own locks do). Returns fn's return value once fn returns, -EPERM when
 * called at CPL3, -EINVAL for a bad argument. Exceptions at CPL3 are fatal
 * unless a handler is registered.
 */
long user_enter(long (*fn)(void *arg), void *arg, void *stack_top);
/* The top of this CPU's 16 KiB user stack. */
void *user_stack_top(void);

/* ------------------------------------------------------------------------
 * Memory for devices: rings, request headers, data buffers.
 */
/*
 * Carves size bytes aligned to align (a power of two, at least 8) out of
 * the RAM above the image: the memmap's RAM range that holds the image,
 * capped at 3 GiB (the identity map's cached part), or 32 MiB without a
 * memmap. Addresses equal physical addresses (DMA-able as they are).
 * Never freed. The memory is not cleared (dma_zalloc clears it): at CPL0
 * clearing costs emulated time, so big data buffers should skip it.
 * Returns NULL when the RAM is used up. Safe at CPL3 and from any CPU.
 */
void *dma_alloc(size_t size, size_t align);
void *dma_zalloc(size_t size, size_t align);
/* Bytes dma_alloc() can still hand out (before alignment). */
uint64_t dma_free_bytes(void);

/* ------------------------------------------------------------------------
 * ACPI tables, found from start_info's RSDP or by scanning the EBDA and
 * 0xE0000-0xFFFFF. Every table is checked (signature, length, checksum,
 * below 4 GiB) before it is returned.
 */
struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));

/* The RSDP's address, or 0 when there is none with a good checksum. */
uint64_t acpi_rsdp(void);
/*
 * The nth (0-based) table with signature sig ("APIC", "MCFG", "FACP"; "DSDT"
 * and "FACS" are reached through the FADT), or NULL.
 */
const struct acpi_header *acpi_find_table(const char *sig, unsigned int nth);

/* ------------------------------------------------------------------------
 * CMOS real-time clock.
 */
struct rtc_time {
	unsigned int year; /* full year, e.g. 2025 */
	unsigned int mon;  /* 1-12 */
	unsigned int day;  /* 1-31 */
	unsigned int hour; /* 0-23 */
	unsigned int min;
	unsigned int sec;
};

/*
 * Reads the clock as the CMOS holds it (UTC on raevm and QEMU): waits for
 * UIP to clear, reads until two passes agree and converts BCD and 12-hour
 * formats per status register B. Returns 0, -ETIMEDOUT when UIP never
 * clears or the readings never settle, -EIO for out-of-range fields.
 */
int rtc_read(struct rtc_time *t) __attribute__((warn_unused_result));

/* i8042 reset pulse (ends the VM on raevm); returns if nothing happened. */
void i8042_reset(void);

#endif /* __ASSEMBLER__ */

#endif
