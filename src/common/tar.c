// SPDX-License-Identifier: Apache-2.0
/*
 * ustar header encoding and strict decoding for VM bundles. The decoder
 * reads hostile input (a bundle from anywhere): every field is checked
 * before use and anything a bundle never holds is refused.
 */
#include "raevm/tar.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Field offsets and sizes of the ustar header. */
#define OFF_NAME 0
#define LEN_NAME 100
#define OFF_MODE 100
#define OFF_UID 108
#define OFF_GID 116
#define OFF_SIZE 124
#define LEN_SIZE 12
#define OFF_MTIME 136
#define OFF_CHKSUM 148
#define LEN_CHKSUM 8
#define OFF_TYPE 156
#define OFF_MAGIC 257
#define OFF_VERSION 263
#define OFF_UNAME 265
#define OFF_GNAME 297
#define OFF_PREFIX 345
#define LEN_PREFIX 155

/* Writes v as len-1 octal digits and a NUL. */
static void put_octal(uint8_t *field, size_t len, uint64_t v)
{
	size_t i;

	field[len - 1] = '\0';
	for (i = len - 1; i-- > 0;) {
		field[i] = (uint8_t)('0' + (v & 7));
		v >>= 3;
	}
}

static unsigned int checksum(const uint8_t hdr[RV_TAR_BLOCK])
{
	unsigned int sum = 0, i;

	for (i = 0; i < RV_TAR_BLOCK; i++)
		sum += i >= OFF_CHKSUM && i < OFF_CHKSUM + LEN_CHKSUM ? ' ' :
									hdr[i];
	return sum;
}

int rv_tar_header_encode(uint8_t hdr[RV_TAR_BLOCK], const char *name,
			 uint64_t size, uint32_t mode, uint64_t mtime)
{
	size_t nl = strlen(name);
	unsigned int i;

	if (nl == 0 || nl > RV_TAR_NAME_MAX)
		return -ENAMETOOLONG;
	memset(hdr, 0, RV_TAR_BLOCK);
	memcpy(hdr + OFF_NAME, name, nl);
	put_octal(hdr + OFF_MODE, 8, mode & 07777);
	put_octal(hdr + OFF_UID, 8, 0);
	put_octal(hdr + OFF_GID, 8, 0);
	if (size < (1ULL << 33)) {
		put_octal(hdr + OFF_SIZE, LEN_SIZE, size);
	} else {
		hdr[OFF_SIZE] = 0x80;
		for (i = 0; i < 8; i++)
			hdr[OFF_SIZE + 4 + i] = (uint8_t)(size >> (56 - 8 * i));
	}
	put_octal(hdr + OFF_MTIME, 12, mtime & 077777777777ULL);
	hdr[OFF_TYPE] = '0';
	memcpy(hdr + OFF_MAGIC, "ustar", 6);
	memcpy(hdr + OFF_VERSION, "00", 2);
	memcpy(hdr + OFF_UNAME, "root", 4);
	memcpy(hdr + OFF_GNAME, "root", 4);
	/* Six octal digits, NUL, space: the form every tar writes. */
	snprintf((char *)hdr + OFF_CHKSUM, 7, "%06o", checksum(hdr) & 0777777);
	hdr[OFF_CHKSUM + 6] = '\0';
	hdr[OFF_CHKSUM + 7] = ' ';
	return 0;
}

/*
 * An octal field: optional leading spaces, digits, then NULs or spaces to
 * the end. Returns -EINVAL for anything else or on overflow.
 */
static int get_octal(const uint8_t *field, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	bool digits = false;

	while (i < len && field[i] == ' ')
		i++;
	for (; i < len && field[i] >= '0' && field[i] <= '7'; i++) {
		if (v >> 61)
			return -EINVAL;
		v = v << 3 | (uint64_t)(field[i] - '0');
		digits = true;
	}
	for (; i < len; i++)
		if (field[i] != '\0' && field[i] != ' ')
			return -EINVAL;
	if (!digits)
		return -EINVAL;
	*out = v;
	return 0;
}

static int get_size(const uint8_t *field, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int i;

	if (!(field[0] & 0x80))
		return get_octal(field, LEN_SIZE, out);
	/* Base-256: a negative number (0xff) or one past 64 bits is refused. */
	if (field[0] != 0x80)
		return -EINVAL;
	for (i = 1; i < 4; i++)
		if (field[i])
			return -EINVAL;
	for (i = 4; i < LEN_SIZE; i++)
		v = v << 8 | field[i];
	*out = v;
	return 0;
}

bool rv_tar_block_zero(const uint8_t blk[RV_TAR_BLOCK])
{
	unsigned int i;

	for (i = 0; i < RV_TAR_BLOCK; i++)
		if (blk[i])
			return false;
	return true;
}

static const char *type_name(char t)
{
	switch (t) {
	case '1':
		return "a hard link";
	case '2':
		return "a symbolic link";
	case '3':
		return "a character device";
	case '4':
		return "a block device";
	case '5':
		return "a folder";
	case '6':
		return "a FIFO";
	case 'x':
	case 'g':
		return "a pax extended header";
	case 'L':
	case 'K':
		return "a GNU long-name header";
	default:
		return "an unknown entry type";
	}
}

/*
 * The entry's name for an error message: at most 60 bytes, anything but
 * printable ASCII as '?', so a hostile name cannot break the line.
 */
static const char *printable(const char *name, char buf[64])
{
	size_t i;

	for (i = 0; name[i] && i < 60; i++)
		buf[i] = name[i] >= 0x20 && name[i] < 0x7f && name[i] != '\'' ?
				 name[i] :
				 '?';
	buf[i] = '\0';
	return buf;
}

int rv_tar_header_decode(const uint8_t hdr[RV_TAR_BLOCK], uint64_t max_size,
			 struct rv_tar_entry *out, char *err, size_t errlen)
{
	uint64_t sum, mode, size;
	char q[64];
	size_t nl;
	char t;

	memset(out, 0, sizeof(*out));
	if (get_octal(hdr + OFF_CHKSUM, LEN_CHKSUM, &sum) ||
	    sum != checksum(hdr)) {
		snprintf(err, errlen, "a tar header has a bad checksum");
		return -EBADMSG;
	}
	if (memcmp(hdr + OFF_MAGIC, "ustar", 6) != 0 &&
	    memcmp(hdr + OFF_MAGIC, "ustar  ", 8) != 0) {
		snprintf(err, errlen, "a tar header is not in ustar format");
		return -EBADMSG;
	}
	nl = strnlen((const char *)hdr + OFF_NAME, LEN_NAME);
	if (nl == 0 || nl > RV_TAR_NAME_MAX) {
		snprintf(err, errlen,
			 "a tar entry has an empty or too long name");
		return -EBADMSG;
	}
	memcpy(out->name, hdr + OFF_NAME, nl);
	if (hdr[OFF_PREFIX] != '\0') {
		snprintf(err, errlen, "'%s': a name prefix is not allowed",
			 printable(out->name, q));
		return -EBADMSG;
	}
	t = (char)hdr[OFF_TYPE];
	if (t != '0' && t != '\0') {
		snprintf(err, errlen,
			 "'%s' is %s (only regular files are allowed)",
			 printable(out->name, q), type_name(t));
		return -EBADMSG;
	}
	if (get_octal(hdr + OFF_MODE, 8, &mode) ||
	    get_size(hdr + OFF_SIZE, &size)) {
		snprintf(err, errlen, "'%s': malformed mode or size",
			 printable(out->name, q));
		return -EBADMSG;
	}
	if (size > max_size) {
		snprintf(err, errlen,
			 "'%s': %llu bytes is more than allowed (%llu)",
			 printable(out->name, q), (unsigned long long)size,
			 (unsigned long long)max_size);
		return -EBADMSG;
	}
	out->size = size;
	out->mode = (uint32_t)(mode & 0777);
	out->type = '0';
	return 0;
}
