// SPDX-License-Identifier: Apache-2.0
/*
 * The host side of the test-guest kit's disk pattern (tests/guests/
 * README.md, "Disk pattern"), for test_blk.sh and durability.sh, which
 * build it with the host compiler: a fresh Debian may have no Python.
 *
 * In sector s, bytes 0-7 hold s ^ (seed * 0x0101010101010101) as a
 * little-endian number and byte i (8-511) holds (i * 7 + s + seed) & 0xff.
 *
 *   blk_pattern gen FILE SECTORS SEED          write a new pattern disk
 *   blk_pattern check FILE START SECTORS SEED  exit 1 at the first bad byte
 *   blk_pattern seeds FILE SECTORS FIRST COUNT [zeros]
 *       every sector holds the pattern of one seed in FIRST .. FIRST +
 *       COUNT - 1 (mod 256), or only zeros when "zeros" is given; prints
 *       how many sectors hold each, exit 1 at the first that does not
 *
 * Exit status 2 for bad arguments or an unreadable file.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECTOR 512

static uint8_t pattern_byte(uint64_t s, unsigned int i, uint8_t seed)
{
	if (i < 8)
		return (uint8_t)((s ^ (seed * 0x0101010101010101ULL)) >>
				 (8 * i));
	return (uint8_t)(i * 7 + s + seed);
}

static void fill(uint8_t *buf, uint64_t s, uint8_t seed)
{
	unsigned int i;

	for (i = 0; i < SECTOR; i++)
		buf[i] = pattern_byte(s, i, seed);
}

/* Returns -1 when buf holds sector s of seed, else the first bad byte. */
static int mismatch(const uint8_t *buf, uint64_t s, uint8_t seed)
{
	unsigned int i;

	for (i = 0; i < SECTOR; i++) {
		if (buf[i] != pattern_byte(s, i, seed))
			return (int)i;
	}
	return -1;
}

static int number(const char *text, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(text, &end, 0);
	if (errno || end == text || *end) {
		fprintf(stderr, "blk_pattern: not a number: '%s'\n", text);
		return -1;
	}
	return 0;
}

static FILE *open_file(const char *path, const char *mode)
{
	FILE *f = fopen(path, mode);

	if (!f)
		fprintf(stderr, "blk_pattern: %s: %s\n", path, strerror(errno));
	return f;
}

static int gen(const char *path, uint64_t sectors, uint8_t seed)
{
	uint8_t buf[SECTOR];
	FILE *f = open_file(path, "wb");
	uint64_t s;

	if (!f)
		return 2;
	for (s = 0; s < sectors; s++) {
		fill(buf, s, seed);
		if (fwrite(buf, SECTOR, 1, f) != 1) {
			fprintf(stderr, "blk_pattern: %s: write failed\n",
				path);
			fclose(f);
			return 2;
		}
	}
	return fclose(f) ? 2 : 0;
}

static int check(const char *path, uint64_t start, uint64_t sectors,
		 uint8_t seed)
{
	uint8_t buf[SECTOR];
	FILE *f = open_file(path, "rb");
	uint64_t s;
	int bad;

	if (!f)
		return 2;
	if (fseeko(f, (off_t)(start * SECTOR), SEEK_SET)) {
		fclose(f);
		return 2;
	}
	for (s = start; s < start + sectors; s++) {
		if (fread(buf, SECTOR, 1, f) != 1) {
			printf("sector %llu: short read\n",
			       (unsigned long long)s);
			fclose(f);
			return 1;
		}
		bad = mismatch(buf, s, seed);
		if (bad >= 0) {
			printf("sector %llu byte %d: 0x%02x, expected 0x%02x\n",
			       (unsigned long long)s, bad, buf[bad],
			       pattern_byte(s, (unsigned int)bad, seed));
			fclose(f);
			return 1;
		}
	}
	fclose(f);
	return 0;
}

static bool all_zero(const uint8_t *buf)
{
	unsigned int i;

	for (i = 0; i < SECTOR; i++) {
		if (buf[i])
			return false;
	}
	return true;
}

static int seeds(const char *path, uint64_t sectors, uint8_t first,
		 unsigned int count, bool zeros)
{
	uint64_t hist[256] = { 0 }, nzero = 0;
	uint8_t buf[SECTOR], seed;
	FILE *f = open_file(path, "rb");
	uint64_t s;
	unsigned int i;

	if (!f)
		return 2;
	for (s = 0; s < sectors; s++) {
		if (fread(buf, SECTOR, 1, f) != 1) {
			printf("sector %llu: short read\n",
			       (unsigned long long)s);
			fclose(f);
			return 1;
		}
		if (zeros && all_zero(buf)) {
			nzero++;
			continue;
		}
		/* Byte 0 is (s ^ seed) & 0xff: it names the seed to check. */
		seed = (uint8_t)(buf[0] ^ (uint8_t)s);
		if ((uint8_t)(seed - first) >= count ||
		    mismatch(buf, s, seed) >= 0) {
			printf("sector %llu holds no pattern of seeds %u..%u "
			       "(byte 0 suggests %u)\n",
			       (unsigned long long)s, first,
			       (first + count - 1) & 0xff, seed);
			fclose(f);
			return 1;
		}
		hist[seed]++;
	}
	fclose(f);
	for (i = 0; i < count; i++) {
		seed = (uint8_t)(first + i);
		printf("seed %u: %llu sectors\n", seed,
		       (unsigned long long)hist[seed]);
	}
	if (zeros)
		printf("zeros: %llu sectors\n", (unsigned long long)nzero);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t a, b, c;

	if (argc == 5 && !strcmp(argv[1], "gen")) {
		if (number(argv[3], &a) || number(argv[4], &b) || b > 255)
			return 2;
		return gen(argv[2], a, (uint8_t)b);
	}
	if (argc == 6 && !strcmp(argv[1], "check")) {
		if (number(argv[3], &a) || number(argv[4], &b) ||
		    number(argv[5], &c) || c > 255)
			return 2;
		return check(argv[2], a, b, (uint8_t)c);
	}
	if ((argc == 6 || (argc == 7 && !strcmp(argv[6], "zeros"))) &&
	    !strcmp(argv[1], "seeds")) {
		if (number(argv[3], &a) || number(argv[4], &b) ||
		    number(argv[5], &c) || b > 255 || c < 1 || c > 256)
			return 2;
		return seeds(argv[2], a, (uint8_t)b, (unsigned int)c,
			     argc == 7);
	}
	fprintf(stderr, "usage: blk_pattern gen FILE SECTORS SEED\n"
			"       blk_pattern check FILE START SECTORS SEED\n"
			"       blk_pattern seeds FILE SECTORS FIRST COUNT "
			"[zeros]\n");
	return 2;
}
