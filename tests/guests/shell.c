/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An interactive console for `make run`: a prompt with line editing and a
 * few commands that exercise the VMM's devices. Input is interrupt-driven
 * (UART receive interrupt -> IOAPIC pin of ISA IRQ 4 -> LAPIC) and the CPU
 * sits in hlt while idle, so an idle shell costs the host nothing.
 * "poll" on the command line reads the UART by polling instead, for
 * VMMs whose interrupt path is under suspicion.
 */
#include "guest.h"

#define VEC_COM1 0x24
#define LINE_MAX 128
#define RX_RING 256 /* power of two */
#define RX_DRAIN_MAX 256

static volatile uint8_t rx_ring[RX_RING];
static volatile unsigned int rx_head; /* written by the interrupt handler */
static volatile unsigned int rx_tail; /* written by the main loop */
static bool polling;

static void com1_irq(struct trap_frame *f, void *arg)
{
	(void)f;
	(void)arg;
	/* Drain everything: the ISA line is edge-triggered, and data left in
	 * the FIFO would raise no new edge. */
	for (unsigned int i = 0; i < RX_DRAIN_MAX; i++) {
		int c = serial_getc_poll();
		unsigned int next = (rx_head + 1) & (RX_RING - 1);

		if (c < 0)
			break;
		if (next != rx_tail) {
			rx_ring[rx_head] = (uint8_t)c;
			rx_head = next;
		}
	}
}

/* Returns the next input byte, sleeping in hlt until one arrives. */
static int read_byte(void)
{
	int c;

	if (polling) {
		while ((c = serial_getc_poll()) < 0)
			cpu_pause();
		return c;
	}
	for (;;) {
		irq_disable();
		if (rx_head != rx_tail)
			break;
		/* sti takes effect after hlt starts: no wake-up is lost. */
		irq_enable_and_hlt();
	}
	c = rx_ring[rx_tail];
	rx_tail = (rx_tail + 1) & (RX_RING - 1);
	irq_enable();
	return c;
}

static void cmd_help(const char *args);

static void cmd_echo(const char *args)
{
	puts(args);
}

static void cmd_cpus(const char *args)
{
	unsigned int n = mp_cpu_count();

	(void)args;
	if (n)
		printf("cpus: %u\n", n);
	else
		puts("cpus: 1 (no MP table)");
}

static void cmd_date(const char *args)
{
	struct rtc_time t;
	int r = rtc_read(&t);

	(void)args;
	if (r) {
		printf("date: cannot read the RTC (%d)\n", r);
		return;
	}
	printf("%04u-%02u-%02u %02u:%02u:%02u UTC\n", t.year, t.mon, t.day,
	       t.hour, t.min, t.sec);
}

static const char *memmap_type(uint32_t type)
{
	switch (type) {
	case HVM_MEMMAP_RAM:
		return "ram";
	case HVM_MEMMAP_RESERVED:
		return "reserved";
	case HVM_MEMMAP_ACPI:
		return "acpi";
	case HVM_MEMMAP_NVS:
		return "nvs";
	case HVM_MEMMAP_UNUSABLE:
		return "unusable";
	default:
		return "other";
	}
}

static void cmd_mem(const char *args)
{
	const struct hvm_memmap_table_entry *map;
	unsigned int n = guest_memmap(&map);
	uint64_t ram = 0;

	(void)args;
	if (!n) {
		puts("mem: start_info has no memory map");
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		printf("  0x%016lx-0x%016lx %s\n", map[i].addr,
		       map[i].addr + map[i].size - 1, memmap_type(map[i].type));
		if (map[i].type == HVM_MEMMAP_RAM)
			ram += map[i].size;
	}
	printf("mem: %lu MiB usable (%lu KiB) in %u entries\n", ram >> 20,
	       ram >> 10, n);
}

static void cmd_reboot(const char *args)
{
	(void)args;
	puts("rebooting");
	i8042_reset();
	udelay(1000000);
	puts("reboot: the i8042 reset did nothing");
}

static void cmd_exit(const char *args)
{
	uint64_t code = 0;

	if (*args && (parse_uint(args, strlen(args), &code) || code > 255)) {
		printf("exit: '%s' is not a number 0-255\n", args);
		return;
	}
	printf("exit %lu\n", code);
	guest_exit((unsigned int)code);
}

/* The command table; help prints it. */
struct command {
	const char *name;
	const char *usage;
	const char *help;
	void (*fn)(const char *args);
};

static const struct command commands[] = {
	{ "help", "", "this list", cmd_help },
	{ "echo", "TEXT", "print TEXT", cmd_echo },
	{ "cpus", "", "processors in the MP table", cmd_cpus },
	{ "date", "", "the CMOS clock (UTC)", cmd_date },
	{ "mem", "", "the memory map from start_info", cmd_mem },
	{ "reboot", "", "reset through the i8042", cmd_reboot },
	{ "exit", "[N]", "end the VM with exit code N (0-255)", cmd_exit },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void cmd_help(const char *args)
{
	uint64_t flags = console_lock();

	(void)args;
	puts("commands:");
	for (size_t i = 0; i < NR_COMMANDS; i++) {
		char synopsis[32];

		snprintf(synopsis, sizeof(synopsis), "%s %s", commands[i].name,
			 commands[i].usage);
		printf("  %-12s %s\n", synopsis, commands[i].help);
	}
	console_unlock(flags);
}

static void run_line(char *line)
{
	char *cmd = line, *args;
	size_t len;

	while (*cmd == ' ')
		cmd++;
	if (!*cmd)
		return;
	for (args = cmd; *args && *args != ' '; args++)
		;
	len = (size_t)(args - cmd);
	while (*args == ' ')
		args++;
	for (size_t i = 0; i < NR_COMMANDS; i++) {
		if (strlen(commands[i].name) == len &&
		    !strncmp(commands[i].name, cmd, len)) {
			/* Trailing blanks are not part of the arguments. */
			size_t alen = strlen(args);

			while (alen && args[alen - 1] == ' ')
				args[--alen] = '\0';
			commands[i].fn(args);
			return;
		}
	}
	printf("unknown command: %.*s\n", (int)len, cmd);
}

enum esc_state { ESC_NONE, ESC_START, ESC_CSI, ESC_SS3 };

/*
 * Swallows terminal escape sequences (arrow keys and the like) so they do
 * not end up in the line. Returns true when c belonged to one.
 */
static bool escape_eat(enum esc_state *st, int c)
{
	switch (*st) {
	case ESC_NONE:
		if (c != 0x1b)
			return false;
		*st = ESC_START;
		return true;
	case ESC_START:
		*st = c == '[' ? ESC_CSI : c == 'O' ? ESC_SS3 : ESC_NONE;
		return true;
	case ESC_CSI:
		if (c >= 0x40 && c <= 0x7e)
			*st = ESC_NONE;
		return true;
	case ESC_SS3:
		*st = ESC_NONE;
		return true;
	}
	return false;
}

static void shell_loop(void)
{
	char line[LINE_MAX];
	enum esc_state esc = ESC_NONE;
	size_t len = 0;
	bool last_cr = false;

	serial_puts("raevm> ");
	for (;;) {
		int c = read_byte();
		bool was_cr = last_cr;

		last_cr = c == '\r';
		if (escape_eat(&esc, c))
			continue;
		if (c == '\n' && was_cr)
			continue; /* the LF of a CR LF pair */
		if (c == '\r' || c == '\n') {
			serial_putc('\n');
			line[len] = '\0';
			run_line(line);
			len = 0;
			serial_puts("raevm> ");
		} else if (c == 0x08 || c == 0x7f) {
			if (len) {
				len--;
				serial_puts("\b \b");
			}
		} else if (c == 0x15) { /* Ctrl-U: kill the line */
			for (; len; len--)
				serial_puts("\b \b");
		} else if (c == 0x03) { /* Ctrl-C: drop the line */
			len = 0;
			serial_puts("^C\nraevm> ");
		} else if (c >= 0x20 && c < 0x7f && len < LINE_MAX - 1) {
			line[len++] = (char)c;
			serial_putc((char)c);
		}
	}
}

static int setup_rx_irq(void)
{
	int r;

	lapic_init();
	r = irq_register(VEC_COM1, com1_irq, NULL);
	if (r)
		return r;
	r = ioapic_route_isa_irq(GUEST_COM1_IRQ, VEC_COM1, lapic_id());
	if (r)
		return r;
	serial_set_rx_irq(true);
	/* Bytes that came before the interrupt was on raise no edge. */
	com1_irq(NULL, NULL);
	return 0;
}

int guest_main(const struct hvm_start_info *si)
{
	(void)si;
	puts("");
	puts("raevm test shell (tests/guests/shell) - type 'help' for commands");
	polling = cmdline_has("poll");
	if (!polling) {
		int r = setup_rx_irq();

		if (r) {
			printf("shell: no receive interrupt (%d), polling\n",
			       r);
			polling = true;
		}
	}
	shell_loop();
	return 0;
}
