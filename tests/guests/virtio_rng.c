/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reads entropy from a virtio-rng device through the kit's virtio core:
 * batch=N buffers of bytes=N bytes each (default 8 x 64) go out in one
 * kick, rounds=N times (default 4). Every completion must report a
 * length within its buffer and above zero, the bytes must not be all one
 * value, and no two buffers may be equal. A small check of the virtio
 * transport (probe, features, queue, MSI-X or INTx, used ring) that needs
 * no disk.
 *
 * Command line: bytes=N, batch=N, rounds=N, plus the virtio keys
 * (irq=msix by default).
 *
 * Prints "virtio_rng: ok bytes=N". Exit codes: 10 no device, 11 open
 * failed, 12 a request failed or timed out, 13 a bad used length, 14 the
 * data looks constant or repeats, 16 interrupts missing, 19 out of
 * memory, 20 bad arguments.
 */
#include "guest.h"
#include "virtio.h"

#define MAX_BATCH 64
#define MAX_BYTES 4096

static struct virtio_dev dev;

static struct pci_dev *find_rng(void)
{
	struct pci_dev *d = pci_find(VIRTIO_PCI_VENDOR,
				     VIRTIO_PCI_MODERN_BASE + VIRTIO_ID_RNG, 0);

	if (!d)
		d = pci_find(VIRTIO_PCI_VENDOR, 0x1005, 0);
	return d;
}

static int open_rng(struct pci_dev *pci, const struct virtio_opts *o)
{
	int r = virtio_probe(&dev, pci);

	if (!r && dev.device_id != VIRTIO_ID_RNG)
		r = -ENODEV;
	if (!r)
		r = virtio_start(&dev, o);
	if (!r)
		r = virtio_queue_setup(&dev, 0);
	if (!r)
		r = virtio_driver_ok(&dev);
	if (r)
		printf("virtio_rng: cannot open %s (%d)\n", dev.name, r);
	else
		printf("%s: features %#lx, queue %u\n", dev.name,
		       (unsigned long)dev.features, dev.vq[0].size);
	return r;
}

/* Not all bytes equal: 64 random bytes are that by chance with 2^-504. */
static bool varied(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		if (p[i] != p[0])
			return true;
	}
	return n < 2;
}

static int round_trip(uint8_t *bufs, uint32_t bytes, unsigned int batch,
		      uint64_t *total)
{
	struct virtq *q = &dev.vq[0];
	uint32_t lens[MAX_BATCH];
	unsigned int got = 0;
	uint64_t deadline = virtio_deadline(&dev);

	for (unsigned int i = 0; i < batch; i++) {
		struct virtq_seg s = { (uint64_t)(uintptr_t)(bufs + i * bytes),
				       bytes, true };

		memset(bufs + i * bytes, 0, bytes);
		if (virtq_add(q, &s, 1, bufs + i * bytes))
			return 20;
	}
	virtq_kick(q);
	while (got < batch) {
		uint8_t *b;
		uint32_t len = 0;
		int e = virtq_wait_used(q, deadline);

		if (e) {
			printf("virtio_rng: waiting: %d\n", e);
			return 12;
		}
		b = virtq_get(q, &len);
		if (!b)
			continue;
		if (len == 0 || len > bytes) {
			printf("virtio_rng: used length %u for a %u-byte "
			       "buffer\n",
			       len, bytes);
			return 13;
		}
		lens[(b - bufs) / bytes] = len;
		*total += len;
		got++;
	}
	for (unsigned int i = 0; i < batch; i++) {
		const uint8_t *b = bufs + i * bytes;

		if (lens[i] >= 16 && !varied(b, lens[i])) {
			printf("virtio_rng: buffer %u is one byte repeated\n",
			       i);
			return 14;
		}
		for (unsigned int j = 0; j < i; j++) {
			if (lens[i] >= 16 && lens[i] == lens[j] &&
			    !memcmp(b, bufs + j * bytes, lens[i])) {
				printf("virtio_rng: buffers %u and %u are "
				       "equal\n",
				       j, i);
				return 14;
			}
		}
	}
	return 0;
}

int guest_main(const struct hvm_start_info *si)
{
	uint32_t bytes = (uint32_t)cmdline_get_uint("bytes", 64);
	unsigned int batch = (unsigned int)cmdline_get_uint("batch", 8);
	uint64_t rounds = cmdline_get_uint("rounds", 4), total = 0;
	struct virtio_opts o;
	struct pci_dev *pci;
	uint8_t *bufs;

	(void)si;
	if (!bytes || bytes > MAX_BYTES || !batch || batch > MAX_BATCH) {
		puts("virtio_rng: bad bytes or batch");
		return 20;
	}
	virtio_opts_from_cmdline(&o, VIRTIO_IRQ_MSIX);
	pci = find_rng();
	if (!pci) {
		puts("virtio_rng: no virtio-rng device");
		return 10;
	}
	if (o.irq != VIRTIO_IRQ_POLL) {
		lapic_init();
		irq_enable();
	}
	if (open_rng(pci, &o))
		return 11;
	bufs = dma_alloc((size_t)bytes * batch, 64);
	if (!bufs)
		return 19;
	for (uint64_t r = 0; r < rounds; r++) {
		int e = round_trip(bufs, bytes, batch, &total);

		if (e)
			return e;
	}
	irq_disable();
	if (dev.vq[0].irq_misses) {
		printf("virtio_rng: %u completions without an interrupt\n",
		       dev.vq[0].irq_misses);
		return 16;
	}
	printf("virtio_rng: irqs=%u notifies=%u skipped=%u\n", dev.vq[0].irqs,
	       dev.vq[0].notifies, dev.vq[0].notifies_skipped);
	printf("virtio_rng: ok bytes=%lu\n", (unsigned long)total);
	return 0;
}
