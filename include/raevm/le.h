/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_LE_H
#define RAEVM_LE_H

/*
 * Little-endian fields of n bytes (1 to 8) at any alignment: device
 * registers, config spaces and wire headers, read and written a byte at a
 * time so that no caller depends on the host's byte order or alignment.
 */
#include <stdint.h>

static inline uint64_t rv_le_get(const void *data, unsigned int n)
{
	const uint8_t *p = data;
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline void rv_le_put(void *data, uint64_t v, unsigned int n)
{
	uint8_t *p = data;
	unsigned int i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#endif
