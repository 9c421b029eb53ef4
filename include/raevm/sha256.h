/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_SHA256_H
#define RAEVM_SHA256_H

#include <stddef.h>
#include <stdint.h>

/*
 * SHA-256 (FIPS 180-4), streamed: init, any number of updates, final. Used
 * for the checksums inside VM bundles (docs/manifest.md "Bundles"); not a
 * constant-time implementation, which checksums do not need.
 */
#define RV_SHA256_LEN 32
#define RV_SHA256_HEX_LEN 64

struct rv_sha256 {
	uint32_t h[8];
	uint64_t bytes; /* total fed so far */
	uint8_t buf[64];
	size_t fill; /* bytes waiting in buf */
};

void rv_sha256_init(struct rv_sha256 *s);
void rv_sha256_update(struct rv_sha256 *s, const void *data, size_t len);
void rv_sha256_final(struct rv_sha256 *s, uint8_t out[RV_SHA256_LEN]);
/* Writes the 64 lowercase hex digits and a NUL into hex. */
void rv_sha256_hex(const uint8_t digest[RV_SHA256_LEN],
		   char hex[RV_SHA256_HEX_LEN + 1]);

#endif
