/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel command line. The runtime copies it out of start_info at boot,
 * before anything can overwrite low memory, and bounds it: the VMM is not
 * trusted to NUL-terminate it.
 */
#include "internal.h"

#define CMDLINE_MAX 4096 /* bytes incl. NUL, as raevm's layout.h */

static char cmdline_buf[CMDLINE_MAX];

void cmdline_init(const struct hvm_start_info *si)
{
	const char *src;
	size_t n = 0;

	cmdline_buf[0] = '\0';
	if (!si || !si->cmdline_paddr)
		return;
	if (si->cmdline_paddr >= (1ULL << 32) - CMDLINE_MAX) {
		printf("guest: command line at %#lx is outside the 4 GiB map, "
		       "ignored\n",
		       (unsigned long)si->cmdline_paddr);
		return;
	}
	src = phys_ptr(si->cmdline_paddr);
	while (n < CMDLINE_MAX - 1 && src[n]) {
		cmdline_buf[n] = src[n];
		n++;
	}
	cmdline_buf[n] = '\0';
}

const char *cmdline(void)
{
	return cmdline_buf;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * Finds the last word "key=value" and returns the value's start and length
 * through val and len. Returns false when the key does not appear.
 */
static bool find_value(const char *key, const char **val, size_t *len)
{
	size_t klen = strlen(key);
	const char *p = cmdline_buf;
	bool found = false;

	while (*p) {
		const char *word;
		size_t wlen;

		while (is_space(*p))
			p++;
		word = p;
		while (*p && !is_space(*p))
			p++;
		wlen = (size_t)(p - word);
		if (klen && wlen > klen && word[klen] == '=' &&
		    !strncmp(word, key, klen)) {
			*val = word + klen + 1;
			*len = wlen - klen - 1;
			found = true;
		}
	}
	return found;
}

uint64_t cmdline_get_uint(const char *key, uint64_t def)
{
	const char *val;
	size_t len;
	uint64_t v;

	if (!find_value(key, &val, &len) || parse_uint(val, len, &v))
		return def;
	return v;
}

int cmdline_get_str(const char *key, char *buf, size_t size)
{
	const char *val;
	size_t len;

	if (!find_value(key, &val, &len))
		return -ENOENT;
	if (len + 1 > size)
		return -E2BIG;
	memcpy(buf, val, len);
	buf[len] = '\0';
	return (int)len;
}

bool cmdline_has(const char *word)
{
	size_t wlen = strlen(word);
	const char *p = cmdline_buf;

	if (!wlen)
		return false;
	while (*p) {
		const char *w;

		while (is_space(*p))
			p++;
		w = p;
		while (*p && !is_space(*p))
			p++;
		if ((size_t)(p - w) >= wlen && !strncmp(w, word, wlen) &&
		    ((size_t)(p - w) == wlen || w[wlen] == '='))
			return true;
	}
	return false;
}
