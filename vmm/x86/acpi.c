// SPDX-License-Identifier: Apache-2.0
/*
 * Static ACPI tables (ACPI 6.3): the RSDP, an XSDT listing the FADT, the
 * MADT and the MCFG, the FADT pointing at the FACS and the DSDT. Guests
 * that ignore the MP table (kernels without CONFIG_X86_MPPARSE, such as
 * Debian's cloud kernel) find their vCPUs and the IOAPIC in the MADT, the
 * PCI root bridge and its interrupt routing in the DSDT and the ECAM
 * window in the MCFG.
 *
 * Each fixed-layout table is a packed struct built on the host and copied
 * into guest RAM with rv_mem_write(); one helper fills the common header
 * and one seals the checksum. The DSDT's AML comes from the byte builder
 * in aml.c. The layout is a pure function of the vCPU count and of whether
 * there is a 64-bit PCI window, so the address of every table is known
 * before any is written and the XSDT and FADT can point forward. x86 hosts
 * only: the structs are stored in host byte order, which the static
 * assertion below pins to little endian.
 *
 * Window [RV_ACPI_BASE, RV_ACPI_LIMIT), 16-byte aligned tables:
 *   RSDP (36) | FACS (64, 64-byte aligned) | DSDT (about 2.3 KiB) |
 *   FADT (276) | MADT (44 + 8 per vCPU + 12 + 10 per override + 6) |
 *   MCFG (60) | XSDT (36 + 8 per entry)
 * 254 vCPUs need about 4.8 KiB of the 64 KiB.
 */
#include "raevm/acpi.h"

#include <errno.h>
#include <string.h>

#include "raevm/layout.h"
#include "raevm/mem.h"
#include "raevm/pci.h"

#include "aml.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the ACPI table structs assume a little-endian host"
#endif

#define OEM_ID "RAEVM "
#define OEM_TABLE_ID "RAEVM VM"
#define OEM_REVISION 1
#define CREATOR_ID "RAEV"
#define CREATOR_REVISION 1

/* ACPI 6.3 revisions of each structure. */
#define RSDP_REVISION 2 /* ACPI 2.0+: has the XSDT address */
#define XSDT_REVISION 1
#define FADT_REVISION 6
#define FADT_MINOR_REVISION 3
#define MADT_REVISION 5
#define MCFG_REVISION 1
#define DSDT_REVISION 2 /* 2 and up: AML integers are 64 bits */
#define FACS_VERSION 2

#define RSDP_V1_LEN 20 /* the part the first checksum covers */
#define TABLE_ALIGN 16
#define FACS_ALIGN 64 /* the FACS must be 64-byte aligned */

/* ---- table layouts -------------------------------------------------------- */

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum; /* covers the first RSDP_V1_LEN bytes */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* covers all of it */
	uint8_t reserved[3];
} __attribute__((packed));

/* Generic Address Structure. */
struct acpi_gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));

#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_UNDEFINED 0

struct acpi_fadt {
	struct acpi_header header;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_revision;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));

/* FADT flags. */
#define FADT_WBINVD (1u << 0)
#define FADT_PROC_C1 (1u << 2)
#define FADT_PWR_BUTTON (1u << 4) /* set: no fixed-feature power button */
#define FADT_SLP_BUTTON (1u << 5) /* set: no fixed-feature sleep button */
#define FADT_FIX_RTC (1u << 6)	  /* set: no RTC wake status in PM1 */
/* IA-PC boot architecture flags. */
#define BOOT_LEGACY_DEVICES (1u << 0)
#define BOOT_8042 (1u << 1)
#define BOOT_VGA_NOT_PRESENT (1u << 2)
/* C2/C3 latencies above these limits mean "not supported". */
#define P_LVL2_NONE 101
#define P_LVL3_NONE 1001
#define RTC_CENTURY_INDEX 0x32 /* devices/legacy/rtc.c keeps it there */

struct acpi_facs {
	char signature[4];
	uint32_t length;
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;
	uint8_t reserved0[3];
	uint32_t ospm_flags;
	uint8_t reserved1[24];
} __attribute__((packed));

struct acpi_madt {
	struct acpi_header header;
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));

#define MADT_PCAT_COMPAT (1u << 0) /* dual 8259s are present too */

enum madt_type {
	MADT_LAPIC = 0,
	MADT_IOAPIC = 1,
	MADT_INT_OVERRIDE = 2,
	MADT_LAPIC_NMI = 4,
};

struct madt_lapic {
	uint8_t type;
	uint8_t length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));

#define LAPIC_ENABLED (1u << 0)

struct madt_ioapic {
	uint8_t type;
	uint8_t length;
	uint8_t ioapic_id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));

struct madt_int_override {
	uint8_t type;
	uint8_t length;
	uint8_t bus; /* 0: ISA */
	uint8_t source;
	uint32_t gsi;
	uint16_t flags;
} __attribute__((packed));

/* MPS INTI flags: polarity in bits 0-1, trigger mode in bits 2-3. */
#define INTI_CONFORMS 0x0
#define INTI_ACTIVE_HIGH 0x1
#define INTI_LEVEL (0x3 << 2)

struct madt_lapic_nmi {
	uint8_t type;
	uint8_t length;
	uint8_t processor_uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

#define ALL_PROCESSORS 0xff

struct acpi_mcfg {
	struct acpi_header header;
	uint64_t reserved;
} __attribute__((packed));

struct mcfg_alloc {
	uint64_t base;
	uint16_t segment;
	uint8_t start_bus;
	uint8_t end_bus;
	uint32_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_header) == 36, "ACPI header");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT (ACPI 6.x)");
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS");
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT");
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT local APIC");
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT IOAPIC");
_Static_assert(sizeof(struct madt_int_override) == 10, "MADT override");
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT LAPIC NMI");
_Static_assert(sizeof(struct acpi_mcfg) == 44, "MCFG");
_Static_assert(sizeof(struct mcfg_alloc) == 16, "MCFG allocation");

#define XSDT_ENTRIES 3 /* FADT, MADT, MCFG */
#define ISA_IRQS 16
#define ISA_TIMER_IRQ 0
#define ISA_TIMER_GSI 2
#define ISA_CASCADE_IRQ 2
#define LAPIC_NMI_LINT 1
/* The timer's override plus one per level-triggered ISA IRQ, at most. */
#define MAX_OVERRIDES (1 + ISA_IRQS)

/*
 * ECAM: what devices/pci/host_bridge.c decodes, 1 MiB per bus over the
 * whole 256 MiB window. Only bus 0 has devices; config reads of buses
 * 1-255 return all ones, as for an empty bus behind a real root complex.
 */
#define ECAM_START_BUS 0
#define ECAM_END_BUS 255
#define PCI_SEGMENT 0

#define XSDT_SIZE (sizeof(struct acpi_header) + XSDT_ENTRIES * 8)
#define MCFG_SIZE (sizeof(struct acpi_mcfg) + sizeof(struct mcfg_alloc))
#define MADT_MAX_SIZE                                                          \
	(sizeof(struct acpi_madt) +                                            \
	 RV_ACPI_MAX_CPUS * sizeof(struct madt_lapic) +                        \
	 sizeof(struct madt_ioapic) +                                          \
	 MAX_OVERRIDES * sizeof(struct madt_int_override) +                    \
	 sizeof(struct madt_lapic_nmi))
/* Room for the DSDT; dsdt_build() refuses to overflow it. */
#define DSDT_MAX_SIZE 4096

uint16_t rv_acpi_level_irqs(void)
{
	uint16_t mask = 1u << RV_ACPI_SCI_IRQ;
	unsigned int slot, pin;

	for (slot = 0; slot < RV_PCI_MAX_SLOTS; slot++) {
		for (pin = 1; pin <= 4; pin++) {
			uint32_t gsi = rv_pci_intx_gsi(slot, pin);

			/* A GSI above the ISA range needs no override. */
			if (gsi < ISA_IRQS && gsi != ISA_TIMER_IRQ &&
			    gsi != ISA_CASCADE_IRQ)
				mask |= (uint16_t)(1u << gsi);
		}
	}
	return mask;
}

static unsigned int nr_overrides(void)
{
	return 1 + (unsigned int)__builtin_popcount(rv_acpi_level_irqs());
}

static size_t madt_size(unsigned int nr_cpus)
{
	return sizeof(struct acpi_madt) +
	       (size_t)nr_cpus * sizeof(struct madt_lapic) +
	       sizeof(struct madt_ioapic) +
	       nr_overrides() * sizeof(struct madt_int_override) +
	       sizeof(struct madt_lapic_nmi);
}

/* ---- header and checksum helpers ------------------------------------------ */

/* The byte that makes p[0..len) sum to zero once stored in a zero field. */
static uint8_t checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;
	size_t i;

	for (i = 0; i < len; i++)
		sum = (uint8_t)(sum + b[i]);
	return (uint8_t)-sum;
}

static void header_init(struct acpi_header *h, const char *signature,
			size_t length, uint8_t revision)
{
	memcpy(h->signature, signature, sizeof(h->signature));
	h->length = (uint32_t)length;
	h->revision = revision;
	h->checksum = 0;
	memcpy(h->oem_id, OEM_ID, sizeof(h->oem_id));
	memcpy(h->oem_table_id, OEM_TABLE_ID, sizeof(h->oem_table_id));
	h->oem_revision = OEM_REVISION;
	memcpy(h->creator_id, CREATOR_ID, sizeof(h->creator_id));
	h->creator_revision = CREATOR_REVISION;
}

/* Seals a table whose header starts at table and whose length is final. */
static void header_seal(void *table)
{
	struct acpi_header *h = table;

	h->checksum = 0;
	h->checksum = checksum(table, h->length);
}

static struct acpi_gas gas_io(uint16_t port, uint8_t len)
{
	return (struct acpi_gas){ .space_id = GAS_SYSTEM_IO,
				  .bit_width = (uint8_t)(len * 8),
				  .bit_offset = 0,
				  .access_size = GAS_ACCESS_UNDEFINED,
				  .address = port };
}

/* ---- DSDT ----------------------------------------------------------------- */

/*
 * The PCI Firmware Specification's _OSC UUID for PCI host bridges,
 * 33DB4D5B-1FF7-401C-9657-7441C03DD766, in the byte order of ASL's
 * ToUUID(): the first three fields little endian.
 */
static const uint8_t pci_osc_uuid[16] = {
	0x5b, 0x4d, 0xdb, 0x33, 0xf7, 0x1f, 0x1c, 0x40,
	0x96, 0x57, 0x74, 0x41, 0xc0, 0x3d, 0xd7, 0x66,
};

/* _OSC status bits in the first capabilities DWORD (CDW1). */
#define OSC_UNRECOGNIZED_UUID 0x04
#define OSC_UNRECOGNIZED_REVISION 0x08
#define OSC_PCI_REVISION 1

/* PCI _PRT addresses: the device in the high word, any function. */
#define PRT_ANY_FUNCTION 0xffff
#define PCI_INTX_PINS 4

#define CONFIG_PORT 0xcf8
#define CONFIG_NR_PORTS 8
#define COM1_NR_PORTS 8
#define RTC_NR_PORTS 2

/* Name (name, EisaId (id)). */
static void name_eisaid(struct rv_aml *a, const char *name, const char *id)
{
	rv__aml_name(a, name);
	rv__aml_eisaid(a, id);
}

static void name_int(struct rv_aml *a, const char *name, uint64_t v)
{
	rv__aml_name(a, name);
	rv__aml_int(a, v);
}

/* Name (name, ResourceTemplate () {...}) from a finished template. */
static void name_resources(struct rv_aml *a, const char *name,
			   const struct rv_aml *res)
{
	rv__aml_name(a, name);
	if (res->overflow)
		a->overflow = true;
	else
		rv__aml_buffer(a, res->buf, res->len);
}

/*
 * Name (\_S5, Package () {SLP_TYPa, SLP_TYPb, 0, 0}): soft-off, with the
 * value the PM device acts on; raevm has no PM1b block, so both agree.
 */
static void dsdt_s5(struct rv_aml *a)
{
	size_t pkg;

	rv__aml_name(a, "\\_S5");
	pkg = rv__aml_package_open(a, 4);
	rv__aml_int(a, RV_ACPI_SLP_TYP_S5);
	rv__aml_int(a, RV_ACPI_SLP_TYP_S5);
	rv__aml_int(a, 0);
	rv__aml_int(a, 0);
	rv__aml_close(a, pkg);
}

/*
 * The root bridge's resources: every bus number (what ECAM decodes), the
 * config ports it consumes itself, and the three windows devices/pci
 * assigns BARs from. The windows are neither cacheable nor prefetchable,
 * so an OSPM may place any memory BAR in either of them.
 */
static void pci0_crs(struct rv_aml *a, const struct rv_acpi_config *cfg)
{
	uint8_t buf[256];
	struct rv_aml r;

	rv__aml_init(&r, buf, sizeof(buf));
	rv__aml_res_word_bus(&r, ECAM_START_BUS, ECAM_END_BUS);
	rv__aml_res_io(&r, CONFIG_PORT, CONFIG_NR_PORTS);
	rv__aml_res_word_io(&r, RV_PCI_IO_BASE,
			    RV_PCI_IO_BASE + RV_PCI_IO_SIZE - 1);
	rv__aml_res_dword_mem(&r, RV_PCI_MMIO32_BASE,
			      RV_PCI_MMIO32_BASE + RV_PCI_MMIO32_SIZE - 1);
	if (cfg->pci_mmio64_size)
		rv__aml_res_qword_mem(&r, cfg->pci_mmio64_base,
				      cfg->pci_mmio64_base +
					      cfg->pci_mmio64_size - 1);
	rv__aml_res_end(&r);
	name_resources(a, "_CRS", &r);
}

/*
 * Name (_PRT, Package () {...}): INTA-INTD of every slot in the GSI form
 * (Source 0, Source Index = the GSI), the same lines devices/pci raises
 * and the MP table and MADT mark level-triggered. ACPI defines GSI-form
 * entries as level-triggered, active low; KVM's IOAPIC ignores the
 * polarity bit and takes a line held at 1 as asserted, so both settings
 * work and the MADT's "active high" describes what raevm drives.
 */
static void pci0_prt(struct rv_aml *a)
{
	unsigned int slot, pin;
	size_t prt;

	rv__aml_name(a, "_PRT");
	prt = rv__aml_package_open(a, RV_PCI_MAX_SLOTS * PCI_INTX_PINS);
	for (slot = 0; slot < RV_PCI_MAX_SLOTS; slot++) {
		for (pin = 0; pin < PCI_INTX_PINS; pin++) {
			size_t e = rv__aml_package_open(a, 4);

			rv__aml_int(a, (uint64_t)slot << 16 | PRT_ANY_FUNCTION);
			rv__aml_int(a, pin); /* 0 is INTA */
			rv__aml_int(a, 0);   /* Source: none, a GSI */
			rv__aml_int(a, rv_pci_intx_gsi(slot, pin + 1));
			rv__aml_close(a, e);
		}
	}
	rv__aml_close(a, prt);
}

/*
 * Method (_OSC, 4) {
 *     CreateDWordField (Arg3, 0, CDW1)
 *     If (Arg0 == ToUUID (PCI host bridge)) {
 *         If (Arg1 != 1) { CDW1 |= unrecognized revision }
 *     } Else { CDW1 |= unrecognized UUID }
 *     Return (Arg3)
 * }
 * Returning the control DWORD unchanged grants the OSPM every native
 * PCIe feature it asks for (hotplug, PME, AER, ...). The bridge has no
 * ports that implement them, so the grant hands over nothing the
 * platform would otherwise manage; without _OSC Linux disables ASPM and
 * logs an _OSC failure for every boot.
 */
static void pci0_osc(struct rv_aml *a)
{
	size_t method, outer, inner, other;

	method = rv__aml_method_open(a, "_OSC", 4, false);
	rv__aml_byte(a, RV_AML_CREATE_DWORD_FIELD);
	rv__aml_arg(a, 3);
	rv__aml_int(a, 0);
	rv__aml_name_string(a, "CDW1");

	outer = rv__aml_if_open(a);
	rv__aml_byte(a, RV_AML_LEQUAL);
	rv__aml_arg(a, 0);
	rv__aml_buffer(a, pci_osc_uuid, sizeof(pci_osc_uuid));
	inner = rv__aml_if_open(a);
	rv__aml_byte(a, RV_AML_LNOT);
	rv__aml_byte(a, RV_AML_LEQUAL);
	rv__aml_arg(a, 1);
	rv__aml_int(a, OSC_PCI_REVISION);
	rv__aml_byte(a, RV_AML_OR);
	rv__aml_name_string(a, "CDW1");
	rv__aml_int(a, OSC_UNRECOGNIZED_REVISION);
	rv__aml_name_string(a, "CDW1");
	rv__aml_close(a, inner);
	rv__aml_close(a, outer);

	other = rv__aml_else_open(a);
	rv__aml_byte(a, RV_AML_OR);
	rv__aml_name_string(a, "CDW1");
	rv__aml_int(a, OSC_UNRECOGNIZED_UUID);
	rv__aml_name_string(a, "CDW1");
	rv__aml_close(a, other);

	rv__aml_byte(a, RV_AML_RETURN);
	rv__aml_arg(a, 3);
	rv__aml_close(a, method);
}

/* Device (PCI0): the PCI Express root bridge of segment 0, bus 0. */
static void dsdt_pci0(struct rv_aml *a, const struct rv_acpi_config *cfg)
{
	size_t dev = rv__aml_device_open(a, "PCI0");

	name_eisaid(a, "_HID", "PNP0A08");
	name_eisaid(a, "_CID", "PNP0A03");
	name_int(a, "_SEG", PCI_SEGMENT);
	name_int(a, "_BBN", ECAM_START_BUS);
	name_int(a, "_UID", 0);
	pci0_crs(a, cfg);
	pci0_prt(a);
	pci0_osc(a);
	rv__aml_close(a, dev);
}

/*
 * Device (MRES): motherboard resources (PNP0C02) that no device's _CRS
 * claims. Linux accepts the MCFG's ECAM window only when firmware
 * reserves it here (or in the e820 map).
 */
static void dsdt_mres(struct rv_aml *a)
{
	uint8_t buf[32];
	struct rv_aml r;
	size_t dev = rv__aml_device_open(a, "MRES");

	name_eisaid(a, "_HID", "PNP0C02");
	rv__aml_init(&r, buf, sizeof(buf));
	rv__aml_res_mem32_fixed(&r, (uint32_t)RV_PCI_ECAM_BASE,
				(uint32_t)RV_PCI_ECAM_SIZE);
	rv__aml_res_end(&r);
	name_resources(a, "_CRS", &r);
	rv__aml_close(a, dev);
}

/* An ISA device with one port range and one edge-triggered IRQ. */
static void dsdt_isa(struct rv_aml *a, const char *name, const char *hid,
		     uint16_t port, uint8_t nr_ports, unsigned int irq)
{
	uint8_t buf[32];
	struct rv_aml r;
	size_t dev = rv__aml_device_open(a, name);

	name_eisaid(a, "_HID", hid);
	name_int(a, "_UID", 1);
	rv__aml_init(&r, buf, sizeof(buf));
	rv__aml_res_io(&r, port, nr_ports);
	rv__aml_res_irq(&r, irq);
	rv__aml_res_end(&r);
	name_resources(a, "_CRS", &r);
	rv__aml_close(a, dev);
}

/*
 * The DSDT: \_S5, then Scope (\_SB) with the PCI root bridge, the
 * motherboard resources, COM1 (PNP0501) and the RTC (PNP0B00). The
 * i8042 is left to the FADT's 8042 boot flag: nothing is plugged into
 * it, so there is no keyboard to describe. Returns the table's length,
 * or 0 when it would not fit in cap bytes.
 */
static size_t dsdt_build(const struct rv_acpi_config *cfg, uint8_t *buf,
			 size_t cap)
{
	struct rv_aml a;
	size_t sb;

	if (cap < sizeof(struct acpi_header))
		return 0;
	rv__aml_init(&a, buf + sizeof(struct acpi_header),
		     cap - sizeof(struct acpi_header));
	dsdt_s5(&a);
	sb = rv__aml_scope_open(&a, "\\_SB");
	dsdt_pci0(&a, cfg);
	dsdt_mres(&a);
	dsdt_isa(&a, "COM1", "PNP0501", RV_COM1_PORT, COM1_NR_PORTS,
		 RV_COM1_IRQ);
	dsdt_isa(&a, "RTC", "PNP0B00", RV_RTC_PORT, RTC_NR_PORTS, RV_RTC_IRQ);
	rv__aml_close(&a, sb);
	if (a.overflow)
		return 0;
	header_init((struct acpi_header *)buf, "DSDT",
		    sizeof(struct acpi_header) + a.len, DSDT_REVISION);
	header_seal(buf);
	return sizeof(struct acpi_header) + a.len;
}

/* ---- layout --------------------------------------------------------------- */

/* Guest physical addresses of the tables. */
struct layout {
	uint64_t rsdp, facs, dsdt, fadt, madt, mcfg, xsdt;
	size_t dsdt_len, madt_len;
	uint64_t end;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static void layout_tables(unsigned int nr_cpus, size_t dsdt_len,
			  struct layout *l)
{
	l->rsdp = RV_ACPI_RSDP_ADDR;
	l->facs = align_up(l->rsdp + sizeof(struct acpi_rsdp), FACS_ALIGN);
	l->dsdt = align_up(l->facs + sizeof(struct acpi_facs), TABLE_ALIGN);
	l->dsdt_len = dsdt_len;
	l->fadt = align_up(l->dsdt + dsdt_len, TABLE_ALIGN);
	l->madt = align_up(l->fadt + sizeof(struct acpi_fadt), TABLE_ALIGN);
	l->madt_len = madt_size(nr_cpus);
	l->mcfg = align_up(l->madt + l->madt_len, TABLE_ALIGN);
	l->xsdt = align_up(l->mcfg + MCFG_SIZE, TABLE_ALIGN);
	l->end = l->xsdt + XSDT_SIZE;
}

_Static_assert(RV_ACPI_BASE % 16 == 0, "legacy scans step by 16 bytes");
_Static_assert(RV_ACPI_BASE >= 0xe0000 && RV_ACPI_LIMIT <= 0x100000,
	       "the RSDP must lie where legacy scans look");

size_t rv_acpi_size(unsigned int nr_cpus)
{
	/* The largest DSDT: one with a 64-bit window. */
	const struct rv_acpi_config cfg = { .nr_cpus = nr_cpus,
					    .pci_mmio64_base = RV_4G,
					    .pci_mmio64_size = RV_4G };
	uint8_t dsdt[DSDT_MAX_SIZE];
	struct layout l;
	size_t dsdt_len;

	if (nr_cpus == 0 || nr_cpus > RV_ACPI_MAX_CPUS)
		return 0;
	dsdt_len = dsdt_build(&cfg, dsdt, sizeof(dsdt));
	if (dsdt_len == 0)
		return 0;
	layout_tables(nr_cpus, dsdt_len, &l);
	return (size_t)(l.end - RV_ACPI_BASE);
}

/* ---- tables --------------------------------------------------------------- */

static void rsdp_build(const struct layout *l, struct acpi_rsdp *r)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->signature, "RSD PTR ", sizeof(r->signature));
	memcpy(r->oem_id, OEM_ID, sizeof(r->oem_id));
	r->revision = RSDP_REVISION;
	/* No RSDT: every OSPM that reads revision 2 uses the XSDT. */
	r->rsdt_address = 0;
	r->length = sizeof(*r);
	r->xsdt_address = l->xsdt;
	r->checksum = checksum(r, RSDP_V1_LEN);
	r->extended_checksum = checksum(r, sizeof(*r));
}

/*
 * The FACS is mandatory outside hardware-reduced mode. No firmware waking
 * vector: raevm has no S3 resume path, and OSPM writes the vector itself
 * before it sleeps.
 */
static void facs_build(struct acpi_facs *f)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->signature, "FACS", sizeof(f->signature));
	f->length = sizeof(*f);
	f->version = FACS_VERSION;
}

/*
 * Minimal fixed hardware rather than HW_REDUCED_ACPI: on x86, Linux takes
 * hardware-reduced mode to mean "not a PC" and swaps in a null legacy PIC
 * and skips the PIT timer set-up, while raevm's board is a PC (in-kernel
 * 8259s, PIT and IOAPIC, ISA UART/RTC/i8042 on ISA IRQs) that the MP table
 * describes the same way. The PM1a blocks belong to the ACPI PM device
 * (devices/legacy/acpi_pm.c), which gives the fixed power button and S5;
 * the PM timer is optional since ACPI 5.0a.
 */
static void fadt_build(const struct layout *l, struct acpi_fadt *f)
{
	memset(f, 0, sizeof(*f));
	header_init(&f->header, "FACP", sizeof(*f), FADT_REVISION);
	f->minor_revision = FADT_MINOR_REVISION;
	/*
	 * ACPI 6.3 wants X_FIRMWARE_CTRL zero when FIRMWARE_CTRL is set (and
	 * Linux would install the FACS twice); the FACS lies below 4 GiB.
	 */
	f->firmware_ctrl = (uint32_t)l->facs;
	f->x_firmware_ctrl = 0;
	/* Both forms agree, so ACPICA's 32/64-bit mismatch check is quiet. */
	f->dsdt = (uint32_t)l->dsdt;
	f->x_dsdt = l->dsdt;
	f->sci_int = RV_ACPI_SCI_IRQ;
	/* smi_cmd, acpi_enable and acpi_disable 0: no SMM, always ACPI. */
	f->pm1a_evt_blk = RV_ACPI_PM1A_EVT_PORT;
	f->pm1_evt_len = RV_ACPI_PM1_EVT_LEN;
	f->x_pm1a_evt_blk = gas_io(RV_ACPI_PM1A_EVT_PORT, RV_ACPI_PM1_EVT_LEN);
	f->pm1a_cnt_blk = RV_ACPI_PM1A_CNT_PORT;
	f->pm1_cnt_len = RV_ACPI_PM1_CNT_LEN;
	f->x_pm1a_cnt_blk = gas_io(RV_ACPI_PM1A_CNT_PORT, RV_ACPI_PM1_CNT_LEN);
	/* vCPUs idle with HLT (C1); there are no C2/C3 or throttling. */
	f->p_lvl2_lat = P_LVL2_NONE;
	f->p_lvl3_lat = P_LVL3_NONE;
	f->century = RTC_CENTURY_INDEX;
	/*
	 * The ISA UART, RTC and i8042 exist (Linux skips probing an 8042 the
	 * firmware does not announce); no VGA. MSI stays allowed for PCI.
	 */
	f->iapc_boot_arch = BOOT_LEGACY_DEVICES | BOOT_8042 |
			    BOOT_VGA_NOT_PRESENT;
	/*
	 * FADT_PWR_BUTTON stays clear: the fixed power button exists (the
	 * host presses it). No sleep button, no RTC wake status.
	 */
	f->flags = FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC;
	header_seal(f);
}

/*
 * One enabled local APIC per vCPU (APIC ID and processor UID = index,
 * as the vCPUs' CPUID and the MP table say), the IOAPIC with ID nr_cpus
 * and GSIs from 0, and the same ISA wiring as the MP table: identity
 * except IRQ 0, which reaches IOAPIC pin 2 (pin 0 carries the 8259's
 * ExtINT). The SCI and the PCI INTx lines (rv_acpi_level_irqs()) get
 * identity overrides that make them level-triggered and active high.
 * LINT1 is NMI on every CPU. Returns the table's length.
 */
static size_t madt_build(unsigned int nr_cpus, uint8_t *buf)
{
	struct acpi_madt *m = (struct acpi_madt *)buf;
	uint8_t *p = buf + sizeof(*m);
	struct madt_ioapic io = {
		.type = MADT_IOAPIC,
		.length = sizeof(io),
		.ioapic_id = (uint8_t)nr_cpus,
		.address = (uint32_t)RV_IOAPIC_ADDR,
		.gsi_base = 0,
	};
	struct madt_int_override timer = {
		.type = MADT_INT_OVERRIDE,
		.length = sizeof(struct madt_int_override),
		.source = ISA_TIMER_IRQ,
		.gsi = ISA_TIMER_GSI,
		.flags = INTI_CONFORMS,
	};
	struct madt_lapic_nmi nmi = {
		.type = MADT_LAPIC_NMI,
		.length = sizeof(nmi),
		.processor_uid = ALL_PROCESSORS,
		.flags = INTI_CONFORMS,
		.lint = LAPIC_NMI_LINT,
	};
	uint16_t level = rv_acpi_level_irqs();
	size_t len = madt_size(nr_cpus);
	unsigned int i;

	memset(m, 0, sizeof(*m));
	header_init(&m->header, "APIC", len, MADT_REVISION);
	m->lapic_address = (uint32_t)RV_LAPIC_ADDR;
	m->flags = MADT_PCAT_COMPAT;
	for (i = 0; i < nr_cpus; i++) {
		struct madt_lapic lapic = { .type = MADT_LAPIC,
					    .length = sizeof(lapic),
					    .processor_uid = (uint8_t)i,
					    .apic_id = (uint8_t)i,
					    .flags = LAPIC_ENABLED };

		memcpy(p, &lapic, sizeof(lapic));
		p += sizeof(lapic);
	}
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);
	memcpy(p, &timer, sizeof(timer));
	p += sizeof(timer);
	for (i = 0; i < ISA_IRQS; i++) {
		struct madt_int_override o = {
			.type = MADT_INT_OVERRIDE,
			.length = sizeof(o),
			.source = (uint8_t)i,
			.gsi = i,
			.flags = INTI_ACTIVE_HIGH | INTI_LEVEL,
		};

		if (!(level & (1u << i)))
			continue;
		memcpy(p, &o, sizeof(o));
		p += sizeof(o);
	}
	memcpy(p, &nmi, sizeof(nmi));
	header_seal(buf);
	return len;
}

/* One allocation: segment 0's ECAM window and the buses it decodes. */
static void mcfg_build(uint8_t *buf)
{
	struct mcfg_alloc alloc = {
		.base = RV_PCI_ECAM_BASE,
		.segment = PCI_SEGMENT,
		.start_bus = ECAM_START_BUS,
		.end_bus = ECAM_END_BUS,
	};

	_Static_assert(RV_PCI_ECAM_SIZE ==
			       (ECAM_END_BUS - ECAM_START_BUS + 1) * RV_MiB,
		       "the MCFG's bus range covers the ECAM window");
	memset(buf, 0, MCFG_SIZE);
	header_init((struct acpi_header *)buf, "MCFG", MCFG_SIZE,
		    MCFG_REVISION);
	memcpy(buf + sizeof(struct acpi_mcfg), &alloc, sizeof(alloc));
	header_seal(buf);
}

static void xsdt_build(const struct layout *l, uint8_t *buf)
{
	const uint64_t entries[XSDT_ENTRIES] = { l->fadt, l->madt, l->mcfg };

	header_init((struct acpi_header *)buf, "XSDT", XSDT_SIZE,
		    XSDT_REVISION);
	memcpy(buf + sizeof(struct acpi_header), entries, sizeof(entries));
	header_seal(buf);
}

/* ---- writer --------------------------------------------------------------- */

int rv_acpi_write(struct rv_mem *mem, const struct rv_acpi_config *cfg,
		  uint64_t *rsdp)
{
	uint8_t dsdt[DSDT_MAX_SIZE];
	uint8_t madt[MADT_MAX_SIZE];
	uint8_t mcfg[MCFG_SIZE];
	uint8_t xsdt[XSDT_SIZE];
	struct acpi_rsdp r;
	struct acpi_facs facs;
	struct acpi_fadt fadt;
	struct layout l;
	size_t dsdt_len, madt_len;

	if (cfg->nr_cpus == 0)
		return -EINVAL;
	if (cfg->nr_cpus > RV_ACPI_MAX_CPUS)
		return -E2BIG;
	/* A window that wraps past 2^64 cannot be described. */
	if (cfg->pci_mmio64_size &&
	    cfg->pci_mmio64_base > UINT64_MAX - (cfg->pci_mmio64_size - 1))
		return -EINVAL;
	dsdt_len = dsdt_build(cfg, dsdt, sizeof(dsdt));
	if (dsdt_len == 0)
		return -E2BIG;
	layout_tables(cfg->nr_cpus, dsdt_len, &l);
	/* The whole window must be RAM before the first byte is written. */
	if (l.end > RV_ACPI_LIMIT ||
	    !rv_mem_gpa_to_hva(mem, RV_ACPI_BASE, l.end - RV_ACPI_BASE))
		return -EFAULT;

	rsdp_build(&l, &r);
	facs_build(&facs);
	fadt_build(&l, &fadt);
	madt_len = madt_build(cfg->nr_cpus, madt);
	mcfg_build(mcfg);
	xsdt_build(&l, xsdt);

	/* Zero the gaps so stale RAM from an earlier boot never shows. */
	memset(rv_mem_gpa_to_hva(mem, RV_ACPI_BASE, l.end - RV_ACPI_BASE), 0,
	       l.end - RV_ACPI_BASE);
	if (rv_mem_write(mem, l.rsdp, &r, sizeof(r)) ||
	    rv_mem_write(mem, l.facs, &facs, sizeof(facs)) ||
	    rv_mem_write(mem, l.dsdt, dsdt, dsdt_len) ||
	    rv_mem_write(mem, l.fadt, &fadt, sizeof(fadt)) ||
	    rv_mem_write(mem, l.madt, madt, madt_len) ||
	    rv_mem_write(mem, l.mcfg, mcfg, sizeof(mcfg)) ||
	    rv_mem_write(mem, l.xsdt, xsdt, sizeof(xsdt)))
		return -EFAULT;
	*rsdp = l.rsdp;
	return 0;
}
