// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the split virtqueue parser (devices/virtio/queue.c).
 *
 * The input is a 16-byte header followed by an image of guest RAM (rings,
 * descriptors, indirect tables, data; zero-filled to RAM_SIZE):
 *   0      log2 of the queue size (mod 9: 1 .. 256 entries)
 *   1      bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 split RAM in two
 *          regions (the second at 4 GiB, as around the MMIO hole)
 *   2..7   desc, avail and used offsets into RAM (little-endian u16)
 *   8..11  the device's last_avail and used_idx to start from
 *   12     segment capacity of the chain (1 .. 256)
 * The target then pops and pushes until the queue is empty or broken, the
 * way a device does. RAM is a heap block of exactly RAM_SIZE bytes, and the
 * target reads every byte of every readable segment and writes every
 * writable one, so ASan reports any segment reaching outside guest RAM;
 * the explicit range check below catches one that lands elsewhere inside
 * the heap. Every loop in the parser is bounded, so libFuzzer's timeout
 * would expose one that is not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raevm/mem.h"
#include "raevm/virtio.h"

#define RAM_SIZE 0x10000u
#define HDR_SIZE 16u
#define SPLIT_AT 0xc000u
#define HIGH_GPA 0x100000000ULL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Guest physical address of RAM offset off under the chosen layout. */
static uint64_t gpa_of(uint32_t off, int split)
{
	if (split && off >= SPLIT_AT)
		return HIGH_GPA + (off - SPLIT_AT);
	return off;
}

static void check_segment(const uint8_t *ram, const struct iovec *iov,
			  int writable)
{
	const uint8_t *p = iov->iov_base;
	volatile uint8_t sink = 0;
	size_t i;

	if (iov->iov_len == 0)
		return;
	if (p < ram || iov->iov_len > RAM_SIZE ||
	    (size_t)(p - ram) > RAM_SIZE - iov->iov_len)
		__builtin_trap();
	for (i = 0; i < iov->iov_len; i++)
		sink ^= p[i];
	if (writable)
		memset(iov->iov_base, 0xa5, iov->iov_len);
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rv_virtq_chain chain;
	struct rv_virtq q;
	struct rv_mem mem;
	unsigned int i, rounds;
	uint8_t *ram;
	int split, rc;

	if (size < HDR_SIZE)
		return 0;
	ram = malloc(RAM_SIZE);
	if (!ram)
		return 0;
	memset(ram, 0, RAM_SIZE);
	memcpy(ram, data + HDR_SIZE,
	       size - HDR_SIZE < RAM_SIZE ? size - HDR_SIZE : RAM_SIZE);
	split = data[1] & 4;
	if (rv_mem_init_buffer(&mem, ram, RAM_SIZE,
			       split ? SPLIT_AT : 0x80000000ULL))
		goto out_ram;
	if (rv_virtq_chain_init(&chain, 1u + data[12] % 256u))
		goto out_ram;

	rv_virtq_init(&q, &mem, 0, 256);
	q.size = (uint16_t)(1u << (data[0] % 9));
	q.event_idx = data[1] & 1;
	q.indirect = data[1] & 2;
	q.desc_gpa = gpa_of(le16(data + 2) & ~15u, split);
	q.avail_gpa = gpa_of(le16(data + 4) & ~1u, split);
	q.used_gpa = gpa_of(le16(data + 6) & ~3u, split);
	if (rv_virtq_validate(&q))
		goto out_chain;
	q.enabled = true;
	q.last_avail = le16(data + 8);
	q.used_idx = le16(data + 10);

	/* More rounds than entries could ever be pending, to prove the end. */
	rounds = 2u * q.size + 2;
	for (i = 0; i < rounds; i++) {
		rc = rv_virtq_pop(&q, &chain);
		if (rc == 0 && !rv_virtq_enable_notify(&q))
			break;
		if (rc < 0)
			break;
		if (rc == 0)
			continue;
		if (chain.nr_out + chain.nr_in > chain.cap)
			__builtin_trap();
		for (unsigned int s = 0; s < chain.nr_out + chain.nr_in; s++)
			check_segment(ram, &chain.iov[s], s >= chain.nr_out);
		if (rv_virtq_push(&q, chain.head,
				  (uint32_t)(chain.in_len & 0xffffffffu)))
			__builtin_trap();
		if (i % 4 == 0)
			(void)rv_virtq_should_notify(&q);
	}
	rv_virtq_disable_notify(&q);

out_chain:
	rv_virtq_chain_free(&chain);
out_ram:
	free(ram);
	return 0;
}
