/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_AML_H
#define RAEVM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A small AML byte builder (ACPI 6.3, chapter 20) for the DSDT that
 * vmm/x86/acpi.c writes. Internal to vmm/x86 and its unit tests.
 *
 * The builder appends to a caller's buffer. A write that does not fit sets
 * `overflow` and every later write is dropped, so a caller checks once at
 * the end instead of after every call. Objects with a PkgLength (Scope,
 * Device, Method, Package, If, Else) are opened, filled and closed: the
 * open call reserves the longest PkgLength encoding (4 bytes) and the
 * close call writes the real one and moves the contents down over the
 * unused bytes. Opens and closes must nest; nothing checks it beyond the
 * unit tests.
 *
 * Resource templates (for _CRS) are built the same way into a second
 * builder with the rv__aml_res_* calls and placed with rv__aml_buffer().
 */
struct rv_aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

/* Opcodes the DSDT uses beyond those the helpers below emit. */
#define RV_AML_ZERO 0x00
#define RV_AML_ONE 0x01
#define RV_AML_NAME 0x08
#define RV_AML_BYTE 0x0a
#define RV_AML_WORD 0x0b
#define RV_AML_DWORD 0x0c
#define RV_AML_STRING 0x0d
#define RV_AML_QWORD 0x0e
#define RV_AML_SCOPE 0x10
#define RV_AML_BUFFER 0x11
#define RV_AML_PACKAGE 0x12
#define RV_AML_METHOD 0x14
#define RV_AML_DUAL_NAME 0x2e
#define RV_AML_MULTI_NAME 0x2f
#define RV_AML_EXT 0x5b
#define RV_AML_EXT_DEVICE 0x82 /* after RV_AML_EXT */
#define RV_AML_ROOT 0x5c
#define RV_AML_ARG0 0x68
#define RV_AML_OR 0x7d
#define RV_AML_CREATE_DWORD_FIELD 0x8a
#define RV_AML_LNOT 0x92
#define RV_AML_LEQUAL 0x93
#define RV_AML_IF 0xa0
#define RV_AML_ELSE 0xa1
#define RV_AML_RETURN 0xa4

#define RV_AML_PKGLEN_MAX 0x0fffffff /* 28 bits */

void rv__aml_init(struct rv_aml *a, uint8_t *buf, size_t cap);

void rv__aml_byte(struct rv_aml *a, uint8_t b);
void rv__aml_bytes(struct rv_aml *a, const void *p, size_t n);

/*
 * The shortest integer encoding: ZeroOp, OneOp, then Byte, Word, DWord or
 * QWord constant.
 */
void rv__aml_int(struct rv_aml *a, uint64_t v);
/* A String object: StringPrefix, the ASCII bytes, NUL. */
void rv__aml_string(struct rv_aml *a, const char *s);
/*
 * An EISA ID such as "PNP0A08" (three capitals, four hex digits) as the
 * compressed DWord the ASL EisaId() macro makes. A malformed ID sets
 * overflow, so the table is refused rather than written wrong.
 */
void rv__aml_eisaid(struct rv_aml *a, const char *id);
/*
 * A NameString from dotted ASL form: "\\_SB.PCI0", "_HID", "PCI0". Each
 * segment has 1 to 4 characters (padded with '_'); more than one segment
 * gets the dual or multi name prefix. A malformed path sets overflow.
 */
void rv__aml_name_string(struct rv_aml *a, const char *path);
/* Name (name, ...): NameOp and the name; the caller emits the object. */
void rv__aml_name(struct rv_aml *a, const char *name);
/* ArgN (0..6). */
void rv__aml_arg(struct rv_aml *a, unsigned int n);

/*
 * The encoding of a PkgLength of `total` bytes (counting the encoding
 * itself) into out[4]; returns the number of bytes, 0 when total cannot
 * be encoded. Pure; exposed for tests.
 */
size_t rv__aml_pkglen_encode(size_t total, uint8_t out[4]);

/*
 * Open/close pairs. Each open returns a mark that the matching close
 * takes. Package takes its element count (at most 255) at open.
 */
size_t rv__aml_scope_open(struct rv_aml *a, const char *path);
size_t rv__aml_device_open(struct rv_aml *a, const char *name);
size_t rv__aml_method_open(struct rv_aml *a, const char *name,
			   unsigned int nr_args, bool serialized);
size_t rv__aml_package_open(struct rv_aml *a, unsigned int nr_elements);
size_t rv__aml_if_open(struct rv_aml *a);
size_t rv__aml_else_open(struct rv_aml *a);
void rv__aml_close(struct rv_aml *a, size_t mark);

/* A Buffer object holding n bytes (a resource template, a UUID). */
void rv__aml_buffer(struct rv_aml *a, const void *p, size_t n);

/*
 * Resource descriptors (ACPI 6.3, 6.4). Address space descriptors are
 * bridge windows: producer, fixed minimum and maximum, positive decode.
 */
void rv__aml_res_word_bus(struct rv_aml *r, uint16_t min, uint16_t max);
void rv__aml_res_word_io(struct rv_aml *r, uint16_t min, uint16_t max);
void rv__aml_res_dword_mem(struct rv_aml *r, uint32_t min, uint32_t max);
void rv__aml_res_qword_mem(struct rv_aml *r, uint64_t min, uint64_t max);
/* IO (Decode16, port, port, 1, len): ports a device consumes. */
void rv__aml_res_io(struct rv_aml *r, uint16_t port, uint8_t len);
void rv__aml_res_mem32_fixed(struct rv_aml *r, uint32_t base, uint32_t len);
/* IRQNoFlags () {irq}: an ISA edge, active-high IRQ (0..15). */
void rv__aml_res_irq(struct rv_aml *r, unsigned int irq);
/* The end tag; a template is complete after it. */
void rv__aml_res_end(struct rv_aml *r);

#endif
