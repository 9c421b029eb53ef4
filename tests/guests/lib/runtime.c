/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kit's C runtime: per-CPU descriptor tables, the trap dispatcher,
 * guest_exit() and the start-up that leads to guest_main().
 */
#include <stddef.h>

#include "internal.h"

#define GATE_INTERRUPT 0x8e /* present, DPL0, 64-bit interrupt gate */
#define TSS_AVAILABLE 0x89  /* present, 64-bit available TSS */
#define IST_DOUBLE_FAULT 1
#define VEC_UD 6

/* How long guest_exit() gives the VMM to act on the debug-exit write. */
#define EXIT_GRACE_US 200000

struct idt_gate {
	uint16_t offset0;
	uint16_t selector;
	uint8_t ist;
	uint8_t type;
	uint16_t offset1;
	uint32_t offset2;
	uint32_t reserved;
} __attribute__((packed));

struct table_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

_Static_assert(offsetof(struct guest_cpu, self) == CPU_OFF_SELF, "self");
_Static_assert(offsetof(struct guest_cpu, kernel_rsp) == CPU_OFF_KERNEL_RSP,
	       "kernel_rsp");
_Static_assert(sizeof(struct tss64) == 104, "tss size");
_Static_assert(offsetof(struct guest_cpu, iomap) ==
		       offsetof(struct guest_cpu, tss) + sizeof(struct tss64),
	       "the I/O bitmap must follow the TSS");

struct guest_cpu guest_cpus[GUEST_MAX_CPUS] __attribute__((noinit));

static struct idt_gate idt[256] __attribute__((aligned(16)));

/* The handler registry; written by irq_register(), read by any CPU. */
static struct {
	trap_handler_t fn;
	void *arg;
} handlers[256];

static const struct hvm_start_info *start_info;

static const char *const exception_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "RSV",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "RSV", "RSV",
	"RSV", "RSV", "RSV", "RSV", "#HV", "#VC", "#SX", "RSV",
};

/* Writes the gate with the present bit last, so a CPU taking the vector
 * meanwhile sees either no gate or the whole one. */
static void idt_set(unsigned int vector, uint64_t addr, unsigned int dpl,
		    unsigned int ist)
{
	struct idt_gate *g = &idt[vector];

	g->type = 0;
	__asm__ volatile("" ::: "memory");
	g->offset0 = (uint16_t)addr;
	g->selector = SEL_KCODE;
	g->ist = (uint8_t)ist;
	g->offset1 = (uint16_t)(addr >> 16);
	g->offset2 = (uint32_t)(addr >> 32);
	g->reserved = 0;
	__asm__ volatile("" ::: "memory");
	g->type = (uint8_t)(GATE_INTERRUPT | (dpl << 5));
}

static uint64_t stub_addr(unsigned int vector)
{
	return (uint64_t)(uintptr_t)(isr_stubs + 16 * vector);
}

/* Only exceptions and the kit's own vectors get gates up front: every
 * gate costs emulated instructions at boot. irq_register() adds more. */
static void idt_init(void)
{
	for (unsigned int v = 0; v < 32; v++)
		idt_set(v, stub_addr(v), 0, v == 8 ? IST_DOUBLE_FAULT : 0);
	idt_set(VEC_SPURIOUS, stub_addr(VEC_SPURIOUS), 0, 0);
}

static uint64_t stack_top(uint8_t *base, unsigned int index, uint64_t size)
{
	return (uint64_t)(uintptr_t)base + (index + 1) * size;
}

void cpu_setup(unsigned int index, uint32_t apic_id)
{
	struct guest_cpu *c = &guest_cpus[index];
	uint64_t base = (uint64_t)(uintptr_t)&c->tss;
	uint64_t limit = sizeof(c->tss) + sizeof(c->iomap) - 1;
	unsigned int slot = GDT_FIXED_ENTRIES + 2 * index;
	struct table_ptr idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
	uint16_t tr = (uint16_t)(SEL_TSS0 + 16 * index);

	memset(c, 0, sizeof(*c));
	c->self = c;
	c->index = index;
	c->apic_id = apic_id;
	c->tss.rsp[0] = stack_top(trapstacks, index, TRAPSTACK_SIZE);
	c->tss.ist[IST_DOUBLE_FAULT - 1] =
		stack_top(dfstacks, index, DFSTACK_SIZE);
	c->tss.iomap_base = sizeof(c->tss);
	c->iomap[IOMAP_BYTES - 1] = 0xff;

	gdt[slot] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
		    ((uint64_t)TSS_AVAILABLE << 40) |
		    (((limit >> 16) & 0xf) << 48) |
		    (((base >> 24) & 0xff) << 56);
	gdt[slot + 1] = base >> 32;
	__asm__ volatile("ltr %0" : : "r"(tr) : "memory");
	__asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
	wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)c);
}

struct guest_cpu *this_cpu(void)
{
	struct guest_cpu *c;

	__asm__ volatile("movq %%gs:0, %0" : "=r"(c));
	return c;
}

unsigned int smp_cpu_index(void)
{
	return this_cpu()->index;
}

static uint64_t read_cr2(void)
{
	uint64_t v;

	__asm__ volatile("movq %%cr2, %0" : "=r"(v));
	return v;
}

static void GUEST_NORETURN fatal_trap(const struct trap_frame *f)
{
	uint64_t cr2 = f->vector == 14 ? read_cr2() : 0;
	uint64_t flags = console_lock_force();

	if (f->vector < 32)
		printf("guest: exception %lu (%s) on cpu %u: rip=%#lx err=%#lx "
		       "cs=%#lx rflags=%#lx rsp=%#lx cr2=%#lx\n",
		       f->vector, exception_names[f->vector], smp_cpu_index(),
		       f->rip, f->error, f->cs, f->rflags, f->rsp, cr2);
	else
		printf("guest: unexpected interrupt vector %lu on cpu %u: "
		       "rip=%#lx cs=%#lx\n",
		       f->vector, smp_cpu_index(), f->rip, f->cs);
	/* An interrupt through a gate we never installed shows up as #NP or
	 * #GP with the IDT bit in the error code. */
	if ((f->vector == 11 || f->vector == 13) && (f->error & 2))
		printf("guest: (IDT vector %lu has no handler)\n",
		       f->error >> 3);
	console_unlock(flags);
	guest_exit(GUEST_EXIT_FAULT);
}

void trap_dispatch(struct trap_frame *f)
{
	unsigned int v = (unsigned int)f->vector & 0xff;
	trap_handler_t fn = handlers[v].fn;

	if (v == VEC_SPURIOUS)
		return;
	/* The function user_enter() ran at CPL3 has returned. */
	if (v == VEC_UD && (f->cs & 3) == 3 &&
	    f->rip == (uint64_t)(uintptr_t)user_return_ud2 &&
	    this_cpu()->kernel_rsp)
		user_return_to_kernel((long)f->rdi);
	if (!fn)
		fatal_trap(f);
	fn(f, handlers[v].arg);
	if (v >= 32)
		lapic_eoi();
}

int irq_register(unsigned int vector, trap_handler_t fn, void *arg)
{
	bool exception = vector < 32;

	if (!exception && (vector < VEC_USER_FIRST || vector > VEC_USER_LAST))
		return -EINVAL;
	if (fn && handlers[vector].fn)
		return -EBUSY;
	if (!fn) {
		/* Exceptions keep their gate and fall back to the report. */
		if (!exception)
			idt[vector].type = 0;
		handlers[vector].fn = NULL;
		return 0;
	}
	handlers[vector].arg = arg;
	__atomic_store_n(&handlers[vector].fn, fn, __ATOMIC_RELEASE);
	if (!exception)
		idt_set(vector, stub_addr(vector), 0, 0);
	return 0;
}

int irq_register_any(trap_handler_t fn, void *arg)
{
	static struct spinlock lock;
	uint64_t flags;
	int r = -EBUSY;

	if (!fn)
		return -EINVAL;
	/* The lock makes the search and the claim one step for every CPU. */
	flags = spin_lock_irqsave(&lock);
	for (unsigned int v = VEC_DYN_FIRST; v <= VEC_USER_LAST; v++) {
		if (!handlers[v].fn && irq_register(v, fn, arg) == 0) {
			r = (int)v;
			break;
		}
	}
	spin_unlock_irqrestore(&lock, flags);
	return r;
}

void spin_lock(struct spinlock *l)
{
	while (!spin_trylock(l)) {
		while (l->locked)
			cpu_pause();
	}
}

bool spin_trylock(struct spinlock *l)
{
	uint32_t old = 1;

	/* xchg with memory is locked by itself. */
	__asm__ volatile("xchgl %0, %1"
			 : "+r"(old), "+m"(l->locked)
			 :
			 : "memory");
	return old == 0;
}

void spin_unlock(struct spinlock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

uint64_t spin_lock_irqsave(struct spinlock *l)
{
	uint64_t flags = irq_save();

	spin_lock(l);
	return flags;
}

void spin_unlock_irqrestore(struct spinlock *l, uint64_t flags)
{
	spin_unlock(l);
	irq_restore(flags);
}

void i8042_reset(void)
{
	uint64_t deadline = tsc_deadline_us(100000);

	/* Wait (bounded) for the controller's input buffer to drain. */
	while ((inb(GUEST_I8042_CMD_PORT) & 0x02) && rdtsc() < deadline)
		cpu_pause();
	outb(GUEST_I8042_CMD_PORT, 0xfe);
}

void guest_exit(unsigned int code)
{
	outb(GUEST_EXIT_PORT, (uint8_t)code);
	/* Still running: give a VMM that stops us asynchronously a moment,
	 * then say what happened and try the reset line instead. */
	udelay(EXIT_GRACE_US);
	printf("guest: debug-exit port 0x%x ignored (code %u), resetting\n",
	       GUEST_EXIT_PORT, code & 0xff);
	i8042_reset();
	udelay(EXIT_GRACE_US);
	printf("guest: reset ignored too, halting\n");
	for (;;) {
		if (current_cpl() == 0) {
			irq_disable();
			cpu_hlt();
		} else {
			cpu_pause();
		}
	}
}

void guest_panic(unsigned int code, const char *fmt, ...)
{
	uint64_t flags = console_lock_force();
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	console_unlock(flags);
	guest_exit(code);
}

const struct hvm_start_info *guest_start_info(void)
{
	return start_info;
}

unsigned int guest_memmap(const struct hvm_memmap_table_entry **map)
{
	const struct hvm_start_info *si = start_info;

	*map = NULL;
	if (!si || si->version < 1 || !si->memmap_paddr || !si->memmap_entries)
		return 0;
	/* Bound the table so it stays inside the identity map. */
	if (si->memmap_entries > 1024 ||
	    si->memmap_paddr >=
		    (1ULL << 32) - 1024 * sizeof(struct hvm_memmap_table_entry))
		return 0;
	*map = phys_ptr(si->memmap_paddr);
	return si->memmap_entries;
}

void runtime_start(uint32_t start_info_pa)
{
	const struct hvm_start_info *si = phys_ptr(start_info_pa);

	idt_init();
	cpu_setup(0, 0);
	pic_disable();
	serial_init();
	if (!start_info_pa || si->magic != HVM_START_MAGIC) {
		printf("guest: no hvm_start_info at %#x (bad magic), "
		       "going on without\n",
		       start_info_pa);
		si = NULL;
	}
	start_info = si;
	cmdline_init(si);
	guest_exit((unsigned int)guest_main(si) & 0xff);
}
