/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small printf: one formatter that feeds a sink, used by vsnprintf
 * (buffer) and vprintf (serial console).
 */
#include "internal.h"

struct sink {
	void (*write)(struct sink *s, const char *p, size_t n);
	char *buf; /* vsnprintf */
	size_t size;
	size_t count; /* characters produced, stored or not */
};

struct spec {
	bool left; /* '-' */
	bool zero; /* '0' */
	bool alt;  /* '#' */
	char sign; /* '+', ' ' or 0 */
	int width;
	int prec;   /* -1: none */
	int length; /* 0 int, 1 long, 2 long long, -1 short, -2 char */
};

static void emit_run(struct sink *s, const char *p, size_t n)
{
	s->write(s, p, n);
	s->count += n;
}

static void emit(struct sink *s, char c)
{
	emit_run(s, &c, 1);
}

static void pad(struct sink *s, char c, int n)
{
	while (n-- > 0)
		emit(s, c);
}

static void put_string(struct sink *s, const struct spec *sp, const char *str)
{
	size_t len;

	if (!str)
		str = "(null)";
	len = sp->prec >= 0 ? strnlen(str, (size_t)sp->prec) : strlen(str);
	if (!sp->left)
		pad(s, ' ', sp->width - (int)len);
	emit_run(s, str, len);
	if (sp->left)
		pad(s, ' ', sp->width - (int)len);
}

/* Formats v in base with the sign, prefix, precision and width rules. */
static void put_number(struct sink *s, const struct spec *sp, uint64_t v,
		       bool negative, unsigned int base, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	const char *prefix = "";
	int n = 0, zeros, total;

	while (v) {
		tmp[n++] = digits[v % base];
		v /= base;
	}
	if (sp->prec < 0 && n == 0)
		tmp[n++] = '0';
	if (negative)
		prefix = "-";
	else if (sp->sign == '+')
		prefix = "+";
	else if (sp->sign == ' ')
		prefix = " ";
	if (sp->alt && base == 16 && n > 0 && !(n == 1 && tmp[0] == '0'))
		prefix = upper ? "0X" : "0x";
	else if (sp->alt && base == 8 && tmp[n - 1] != '0')
		prefix = "0";
	zeros = sp->prec > n ? sp->prec - n : 0;
	total = (int)strlen(prefix) + zeros + n;
	if (sp->zero && !sp->left && sp->prec < 0 && sp->width > total) {
		zeros += sp->width - total;
		total = sp->width;
	}
	if (!sp->left)
		pad(s, ' ', sp->width - total);
	for (const char *p = prefix; *p; p++)
		emit(s, *p);
	pad(s, '0', zeros);
	while (n > 0)
		emit(s, tmp[--n]);
	if (sp->left)
		pad(s, ' ', sp->width - total);
}

static const char *parse_spec(const char *f, struct spec *sp, va_list *ap)
{
	*sp = (struct spec){ .prec = -1 };
	for (;; f++) {
		if (*f == '-')
			sp->left = true;
		else if (*f == '0')
			sp->zero = true;
		else if (*f == '#')
			sp->alt = true;
		else if (*f == '+' || (*f == ' ' && sp->sign != '+'))
			sp->sign = *f;
		else
			break;
	}
	if (*f == '*') {
		sp->width = va_arg(*ap, int);
		if (sp->width < 0) {
			sp->left = true;
			sp->width = -sp->width;
		}
		f++;
	} else {
		while (*f >= '0' && *f <= '9' && sp->width < 10000)
			sp->width = sp->width * 10 + (*f++ - '0');
	}
	if (*f == '.') {
		f++;
		sp->prec = 0;
		if (*f == '*') {
			sp->prec = va_arg(*ap, int);
			if (sp->prec < 0)
				sp->prec = -1;
			f++;
		} else {
			while (*f >= '0' && *f <= '9' && sp->prec < 10000)
				sp->prec = sp->prec * 10 + (*f++ - '0');
		}
	}
	for (;; f++) {
		if (*f == 'l')
			sp->length = sp->length == 1 ? 2 : 1;
		else if (*f == 'h')
			sp->length = sp->length == -1 ? -2 : -1;
		else if (*f == 'z' || *f == 't' || *f == 'j')
			sp->length = 1;
		else
			break;
	}
	return f;
}

static uint64_t fetch_unsigned(const struct spec *sp, va_list *ap)
{
	switch (sp->length) {
	case 2:
		return va_arg(*ap, unsigned long long);
	case 1:
		return va_arg(*ap, unsigned long);
	case -1:
		return (unsigned short)va_arg(*ap, unsigned int);
	case -2:
		return (unsigned char)va_arg(*ap, unsigned int);
	default:
		return va_arg(*ap, unsigned int);
	}
}

static int64_t fetch_signed(const struct spec *sp, va_list *ap)
{
	switch (sp->length) {
	case 2:
		return va_arg(*ap, long long);
	case 1:
		return va_arg(*ap, long);
	case -1:
		return (short)va_arg(*ap, int);
	case -2:
		return (signed char)va_arg(*ap, int);
	default:
		return va_arg(*ap, int);
	}
}

static void format(struct sink *s, const char *f, va_list ap_in)
{
	struct spec sp;
	va_list ap;

	va_copy(ap, ap_in);
	while (*f) {
		if (*f != '%') {
			const char *run = f;

			while (*f && *f != '%')
				f++;
			emit_run(s, run, (size_t)(f - run));
			continue;
		}
		f = parse_spec(f + 1, &sp, &ap);
		switch (*f) {
		case 'd':
		case 'i': {
			int64_t v = fetch_signed(&sp, &ap);
			uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;

			put_number(s, &sp, mag, v < 0, 10, false);
			break;
		}
		case 'u':
			put_number(s, &sp, fetch_unsigned(&sp, &ap), false, 10,
				   false);
			break;
		case 'x':
		case 'X':
			put_number(s, &sp, fetch_unsigned(&sp, &ap), false, 16,
				   *f == 'X');
			break;
		case 'o':
			put_number(s, &sp, fetch_unsigned(&sp, &ap), false, 8,
				   false);
			break;
		case 'p':
			sp.alt = true;
			sp.length = 1;
			put_number(s, &sp, (uintptr_t)va_arg(ap, void *), false,
				   16, false);
			break;
		case 'c': {
			char c = (char)va_arg(ap, int);

			if (!sp.left)
				pad(s, ' ', sp.width - 1);
			emit(s, c);
			if (sp.left)
				pad(s, ' ', sp.width - 1);
			break;
		}
		case 's':
			put_string(s, &sp, va_arg(ap, const char *));
			break;
		case '%':
			emit(s, '%');
			break;
		case '\0':
			/* A lone '%' at the end: print it, stop. */
			emit(s, '%');
			va_end(ap);
			return;
		default:
			emit(s, '%');
			emit(s, *f);
			break;
		}
		f++;
	}
	va_end(ap);
}

/* Stores what fits, leaving room for the NUL; count goes on regardless. */
static void buf_write(struct sink *s, const char *p, size_t n)
{
	size_t room;

	if (s->count + 1 >= s->size)
		return;
	room = s->size - 1 - s->count;
	memcpy(s->buf + s->count, p, n < room ? n : room);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sink s = { .write = buf_write, .buf = buf, .size = size };

	format(&s, fmt, ap);
	if (size)
		buf[s.count < size ? s.count : size - 1] = '\0';
	return (int)s.count;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void console_sink_write(struct sink *s, const char *p, size_t n)
{
	(void)s;
	console_write_locked(p, n);
}

int vprintf(const char *fmt, va_list ap)
{
	struct sink s = { .write = console_sink_write };
	uint64_t flags = console_lock();

	format(&s, fmt, ap);
	console_unlock(flags);
	return (int)s.count;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}
