// SPDX-License-Identifier: Apache-2.0
/*
 * The AML byte builder behind the DSDT (see aml.h). It emits only what
 * raevm's tables need: names, integers, strings, packages, buffers,
 * scopes, devices, methods with If/Else, and the resource descriptors of
 * a PCI root bridge and a few ISA devices. Encodings follow ACPI 6.3,
 * chapter 20 (AML) and section 6.4 (resource data types).
 */
#include "aml.h"

#include <string.h>

#define NAME_SEG_LEN 4
#define MAX_NAME_SEGS 16
#define PKGLEN_RESERVE 4
#define METHOD_SERIALIZED 0x08

/* Resource data (ACPI 6.3, 6.4). */
#define RES_IRQ_NOFLAGS 0x22 /* small item 0x04, length 2 */
#define RES_IO 0x47	     /* small item 0x08, length 7 */
#define RES_END_TAG 0x79     /* small item 0x0f, length 1 */
#define RES_MEM32_FIXED 0x86
#define RES_DWORD_ADDR 0x87
#define RES_WORD_ADDR 0x88
#define RES_QWORD_ADDR 0x8a
#define RES_IO_DECODE16 0x01
#define RES_MEM_READ_WRITE 0x01
/* Address space resource types. */
#define ADDR_MEMORY 0
#define ADDR_IO 1
#define ADDR_BUS 2
/* General flags: fixed minimum and maximum, producer, positive decode. */
#define ADDR_MIN_MAX_FIXED 0x0c
/* Type-specific flags. */
#define ADDR_IO_ENTIRE_RANGE 0x03
#define ADDR_MEM_NONCACHEABLE_RW 0x01
/* Lengths of the large descriptors after their 3-byte header. */
#define WORD_ADDR_LEN 13
#define DWORD_ADDR_LEN 23
#define QWORD_ADDR_LEN 43
#define MEM32_FIXED_LEN 9

void rv__aml_init(struct rv_aml *a, uint8_t *buf, size_t cap)
{
	a->buf = buf;
	a->cap = cap;
	a->len = 0;
	a->overflow = false;
}

void rv__aml_bytes(struct rv_aml *a, const void *p, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = true;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void rv__aml_byte(struct rv_aml *a, uint8_t b)
{
	rv__aml_bytes(a, &b, 1);
}

/* n little-endian bytes of v. */
static void le(struct rv_aml *a, uint64_t v, unsigned int n)
{
	uint8_t b[8];
	unsigned int i;

	for (i = 0; i < n && i < sizeof(b); i++)
		b[i] = (uint8_t)(v >> (8 * i));
	rv__aml_bytes(a, b, i);
}

void rv__aml_int(struct rv_aml *a, uint64_t v)
{
	if (v == 0) {
		rv__aml_byte(a, RV_AML_ZERO);
	} else if (v == 1) {
		rv__aml_byte(a, RV_AML_ONE);
	} else if (v <= UINT8_MAX) {
		rv__aml_byte(a, RV_AML_BYTE);
		le(a, v, 1);
	} else if (v <= UINT16_MAX) {
		rv__aml_byte(a, RV_AML_WORD);
		le(a, v, 2);
	} else if (v <= UINT32_MAX) {
		rv__aml_byte(a, RV_AML_DWORD);
		le(a, v, 4);
	} else {
		rv__aml_byte(a, RV_AML_QWORD);
		le(a, v, 8);
	}
}

void rv__aml_string(struct rv_aml *a, const char *s)
{
	rv__aml_byte(a, RV_AML_STRING);
	rv__aml_bytes(a, s, strlen(s) + 1);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void rv__aml_eisaid(struct rv_aml *a, const char *id)
{
	uint8_t b[4];
	int d[4];
	unsigned int i;

	if (strlen(id) != 7)
		goto bad;
	for (i = 0; i < 3; i++)
		if (id[i] < 'A' || id[i] > 'Z')
			goto bad;
	for (i = 0; i < 4; i++) {
		d[i] = hex_digit(id[3 + i]);
		if (d[i] < 0)
			goto bad;
	}
	/* Three 5-bit letters ('A' is 1), then the digits, big-endian. */
	b[0] = (uint8_t)(((id[0] - '@') << 2) | ((id[1] - '@') >> 3));
	b[1] = (uint8_t)((((id[1] - '@') & 7) << 5) | (id[2] - '@'));
	b[2] = (uint8_t)(d[0] << 4 | d[1]);
	b[3] = (uint8_t)(d[2] << 4 | d[3]);
	rv__aml_int(a, (uint32_t)b[0] | (uint32_t)b[1] << 8 |
			       (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
	return;
bad:
	a->overflow = true;
}

static bool seg_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

void rv__aml_name_string(struct rv_aml *a, const char *path)
{
	uint8_t segs[MAX_NAME_SEGS][NAME_SEG_LEN];
	unsigned int n = 0, i;
	const char *p = path;

	if (*p == '\\') {
		rv__aml_byte(a, RV_AML_ROOT);
		p++;
	}
	while (*p) {
		if (n == MAX_NAME_SEGS)
			goto bad;
		memset(segs[n], '_', NAME_SEG_LEN);
		for (i = 0; *p && *p != '.'; i++, p++) {
			if (i == NAME_SEG_LEN || !seg_char(*p, i == 0))
				goto bad;
			segs[n][i] = (uint8_t)*p;
		}
		if (i == 0)
			goto bad;
		n++;
		if (*p == '.' && *++p == '\0')
			goto bad;
	}
	if (n == 0)
		goto bad;
	if (n == 2) {
		rv__aml_byte(a, RV_AML_DUAL_NAME);
	} else if (n > 2) {
		rv__aml_byte(a, RV_AML_MULTI_NAME);
		rv__aml_byte(a, (uint8_t)n);
	}
	rv__aml_bytes(a, segs, (size_t)n * NAME_SEG_LEN);
	return;
bad:
	a->overflow = true;
}

void rv__aml_name(struct rv_aml *a, const char *name)
{
	rv__aml_byte(a, RV_AML_NAME);
	rv__aml_name_string(a, name);
}

void rv__aml_arg(struct rv_aml *a, unsigned int n)
{
	if (n > 6) {
		a->overflow = true;
		return;
	}
	rv__aml_byte(a, (uint8_t)(RV_AML_ARG0 + n));
}

size_t rv__aml_pkglen_encode(size_t total, uint8_t out[4])
{
	size_t n;

	/* One byte holds 6 bits; each further byte adds 8 to a 4-bit lead. */
	if (total <= 0x3f) {
		out[0] = (uint8_t)total;
		return 1;
	}
	if (total <= 0xfff)
		n = 2;
	else if (total <= 0xfffff)
		n = 3;
	else if (total <= RV_AML_PKGLEN_MAX)
		n = 4;
	else
		return 0;
	out[0] = (uint8_t)((n - 1) << 6 | (total & 0x0f));
	out[1] = (uint8_t)(total >> 4);
	if (n > 2)
		out[2] = (uint8_t)(total >> 12);
	if (n > 3)
		out[3] = (uint8_t)(total >> 20);
	return n;
}

/* The encoding of `content` bytes preceded by their own PkgLength. */
static size_t pkglen_for_content(size_t content, uint8_t out[4])
{
	size_t n;

	for (n = 1; n <= PKGLEN_RESERVE; n++) {
		size_t got = rv__aml_pkglen_encode(content + n, out);

		if (got == n)
			return n;
	}
	return 0;
}

/* Reserves the PkgLength after op (1 or 2 bytes); returns the mark. */
static size_t open_op(struct rv_aml *a, uint8_t op, uint8_t ext_op)
{
	static const uint8_t reserve[PKGLEN_RESERVE];
	size_t mark;

	if (op == RV_AML_EXT)
		rv__aml_byte(a, RV_AML_EXT);
	rv__aml_byte(a, op == RV_AML_EXT ? ext_op : op);
	mark = a->len;
	rv__aml_bytes(a, reserve, sizeof(reserve));
	return mark;
}

void rv__aml_close(struct rv_aml *a, size_t mark)
{
	uint8_t enc[PKGLEN_RESERVE];
	size_t content, n;

	if (a->overflow)
		return;
	if (mark + PKGLEN_RESERVE > a->len) {
		a->overflow = true;
		return;
	}
	content = a->len - mark - PKGLEN_RESERVE;
	n = pkglen_for_content(content, enc);
	if (n == 0) {
		a->overflow = true;
		return;
	}
	memmove(a->buf + mark + n, a->buf + mark + PKGLEN_RESERVE, content);
	memcpy(a->buf + mark, enc, n);
	a->len -= PKGLEN_RESERVE - n;
}

size_t rv__aml_scope_open(struct rv_aml *a, const char *path)
{
	size_t mark = open_op(a, RV_AML_SCOPE, 0);

	rv__aml_name_string(a, path);
	return mark;
}

size_t rv__aml_device_open(struct rv_aml *a, const char *name)
{
	size_t mark = open_op(a, RV_AML_EXT, RV_AML_EXT_DEVICE);

	rv__aml_name_string(a, name);
	return mark;
}

size_t rv__aml_method_open(struct rv_aml *a, const char *name,
			   unsigned int nr_args, bool serialized)
{
	size_t mark = open_op(a, RV_AML_METHOD, 0);

	rv__aml_name_string(a, name);
	if (nr_args > 7)
		a->overflow = true;
	/* MethodFlags: ArgCount in bits 0-2, SerializeFlag bit 3. */
	rv__aml_byte(a, (uint8_t)((nr_args & 7) |
				  (serialized ? METHOD_SERIALIZED : 0)));
	return mark;
}

size_t rv__aml_package_open(struct rv_aml *a, unsigned int nr_elements)
{
	size_t mark = open_op(a, RV_AML_PACKAGE, 0);

	/* VarPackageOp would be needed beyond 255; the DSDT has no such. */
	if (nr_elements > UINT8_MAX)
		a->overflow = true;
	rv__aml_byte(a, (uint8_t)nr_elements);
	return mark;
}

size_t rv__aml_if_open(struct rv_aml *a)
{
	return open_op(a, RV_AML_IF, 0);
}

size_t rv__aml_else_open(struct rv_aml *a)
{
	return open_op(a, RV_AML_ELSE, 0);
}

void rv__aml_buffer(struct rv_aml *a, const void *p, size_t n)
{
	size_t mark = open_op(a, RV_AML_BUFFER, 0);

	rv__aml_int(a, n); /* BufferSize */
	rv__aml_bytes(a, p, n);
	rv__aml_close(a, mark);
}

/* ---- resource descriptors ------------------------------------------------ */

/* The 3-byte header of a large descriptor: its tag and data length. */
static void large(struct rv_aml *r, uint8_t tag, uint16_t len)
{
	rv__aml_byte(r, tag);
	le(r, len, 2);
}

/* Word, DWord and QWord address space descriptors differ in width only. */
static void addr_space(struct rv_aml *r, uint8_t tag, uint16_t len,
		       unsigned int width, uint8_t type, uint8_t type_flags,
		       uint64_t min, uint64_t max)
{
	large(r, tag, len);
	rv__aml_byte(r, type);
	rv__aml_byte(r, ADDR_MIN_MAX_FIXED);
	rv__aml_byte(r, type_flags);
	le(r, 0, width);	     /* granularity */
	le(r, min, width);	     /* minimum */
	le(r, max, width);	     /* maximum */
	le(r, 0, width);	     /* translation offset */
	le(r, max - min + 1, width); /* length */
	if (max < min)
		r->overflow = true;
}

void rv__aml_res_word_bus(struct rv_aml *r, uint16_t min, uint16_t max)
{
	addr_space(r, RES_WORD_ADDR, WORD_ADDR_LEN, 2, ADDR_BUS, 0, min, max);
}

void rv__aml_res_word_io(struct rv_aml *r, uint16_t min, uint16_t max)
{
	addr_space(r, RES_WORD_ADDR, WORD_ADDR_LEN, 2, ADDR_IO,
		   ADDR_IO_ENTIRE_RANGE, min, max);
}

void rv__aml_res_dword_mem(struct rv_aml *r, uint32_t min, uint32_t max)
{
	addr_space(r, RES_DWORD_ADDR, DWORD_ADDR_LEN, 4, ADDR_MEMORY,
		   ADDR_MEM_NONCACHEABLE_RW, min, max);
}

void rv__aml_res_qword_mem(struct rv_aml *r, uint64_t min, uint64_t max)
{
	addr_space(r, RES_QWORD_ADDR, QWORD_ADDR_LEN, 8, ADDR_MEMORY,
		   ADDR_MEM_NONCACHEABLE_RW, min, max);
}

void rv__aml_res_io(struct rv_aml *r, uint16_t port, uint8_t len)
{
	rv__aml_byte(r, RES_IO);
	rv__aml_byte(r, RES_IO_DECODE16);
	le(r, port, 2);	    /* minimum base */
	le(r, port, 2);	    /* maximum base */
	rv__aml_byte(r, 1); /* alignment */
	rv__aml_byte(r, len);
}

void rv__aml_res_mem32_fixed(struct rv_aml *r, uint32_t base, uint32_t len)
{
	large(r, RES_MEM32_FIXED, MEM32_FIXED_LEN);
	rv__aml_byte(r, RES_MEM_READ_WRITE);
	le(r, base, 4);
	le(r, len, 4);
}

void rv__aml_res_irq(struct rv_aml *r, unsigned int irq)
{
	if (irq > 15) {
		r->overflow = true;
		return;
	}
	rv__aml_byte(r, RES_IRQ_NOFLAGS);
	le(r, 1u << irq, 2);
}

void rv__aml_res_end(struct rv_aml *r)
{
	/* Checksum 0: "the template is valid", which OSPMs accept. */
	rv__aml_byte(r, RES_END_TAG);
	rv__aml_byte(r, 0);
}
