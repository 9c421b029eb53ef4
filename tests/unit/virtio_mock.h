/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_TEST_VIRTIO_MOCK_H
#define RAEVM_TEST_VIRTIO_MOCK_H

/*
 * A mocked virtio-PCI transport for the unit tests of devices with an I/O
 * thread (virtio-net, virtio-vsock), linked with
 * -Wl,--wrap= for rv_virtio_pci_init, rv_virtio_pci_destroy,
 * rv_virtio_queue_eventfd, rv_virtio_notify_queue,
 * rv_virtio_set_needs_reset and rv_virtio_queue_error (the Makefile's
 * <test>_WRAP). The queues are real (devices/virtio/queue.c) over a plain
 * buffer standing in for guest RAM; the tests write the driver's side of
 * the rings themselves, kick the queues' eventfds and wait, with a bound,
 * for the device's answers. Include it once, after cmocka.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "raevm/mem.h"
#include "raevm/virtio.h"
#include "raevm/vm.h"

#define MOCK_MAX_QUEUES 4

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int notifies[MOCK_MAX_QUEUES];
	unsigned int resets;
	int kick[MOCK_MAX_QUEUES];
} mk = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.kick = { -1, -1, -1, -1 },
};

int __wrap_rv_virtio_pci_init(struct rv_virtio_dev *dev, struct rv_vm *vm,
			      struct rv_pci_bus *bus,
			      const struct rv_virtio_ops *ops);
void __wrap_rv_virtio_pci_destroy(struct rv_virtio_dev *dev);
int __wrap_rv_virtio_queue_eventfd(struct rv_virtio_dev *dev, unsigned int q);
int __wrap_rv_virtio_notify_queue(struct rv_virtio_dev *dev, unsigned int q);
void __wrap_rv_virtio_set_needs_reset(struct rv_virtio_dev *dev,
				      const char *why);
void __wrap_rv_virtio_queue_error(struct rv_virtio_dev *dev, unsigned int q,
				  int err);

int __wrap_rv_virtio_pci_init(struct rv_virtio_dev *dev, struct rv_vm *vm,
			      struct rv_pci_bus *bus,
			      const struct rv_virtio_ops *ops)
{
	unsigned int i;

	(void)bus;
	dev->ops = ops;
	dev->vm = vm;
	snprintf(dev->name, sizeof(dev->name), "%s test", ops->name);
	dev->device_features = ops->features(dev) |
			       (1ULL << RV_VIRTIO_F_VERSION_1);
	dev->queues = calloc(ops->nr_queues, sizeof(*dev->queues));
	if (!dev->queues)
		return -ENOMEM;
	for (i = 0; i < ops->nr_queues; i++)
		rv_virtq_init(&dev->queues[i], vm->mem, (uint16_t)i,
			      ops->queue_max_size);
	return 0;
}

void __wrap_rv_virtio_pci_destroy(struct rv_virtio_dev *dev)
{
	free(dev->queues);
	dev->queues = NULL;
}

int __wrap_rv_virtio_queue_eventfd(struct rv_virtio_dev *dev, unsigned int q)
{
	(void)dev;
	if (q >= MOCK_MAX_QUEUES)
		return -EINVAL;
	if (mk.kick[q] < 0)
		mk.kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return mk.kick[q];
}

int __wrap_rv_virtio_notify_queue(struct rv_virtio_dev *dev, unsigned int q)
{
	(void)dev;
	pthread_mutex_lock(&mk.lock);
	if (q < MOCK_MAX_QUEUES)
		mk.notifies[q]++;
	pthread_cond_broadcast(&mk.cond);
	pthread_mutex_unlock(&mk.lock);
	return 0;
}

void __wrap_rv_virtio_set_needs_reset(struct rv_virtio_dev *dev,
				      const char *why)
{
	(void)dev;
	(void)why;
	pthread_mutex_lock(&mk.lock);
	mk.resets++;
	pthread_cond_broadcast(&mk.cond);
	pthread_mutex_unlock(&mk.lock);
}

void __wrap_rv_virtio_queue_error(struct rv_virtio_dev *dev, unsigned int q,
				  int err)
{
	(void)q;
	(void)err;
	__wrap_rv_virtio_set_needs_reset(dev, "queue");
}

static inline void mock_reset_counters(void)
{
	pthread_mutex_lock(&mk.lock);
	memset(mk.notifies, 0, sizeof(mk.notifies));
	mk.resets = 0;
	pthread_mutex_unlock(&mk.lock);
}

static inline void put_le(uint8_t *p, uint64_t v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t get_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Zeroed fake guest RAM of size bytes at gpa 0, as vm->mem. */
static inline uint8_t *mock_ram_init(struct rv_mem *mem, struct rv_vm *vm,
				     size_t size)
{
	uint8_t *ram = aligned_alloc(4096, size);

	assert_non_null(ram);
	memset(ram, 0, size);
	assert_int_equal(rv_mem_init_buffer(mem, ram, size, 0xc0000000ULL), 0);
	vm->mem = mem;
	return ram;
}

/* One queue's rings in the fake RAM, and the driver's avail index. */
struct mock_ring {
	uint8_t *ram;
	uint64_t desc, avail, used;
	uint16_t size;
	uint16_t avail_idx;
};

/* Lays the ring out and enables queue q, as a driver would. */
static inline void mock_ring_enable(struct mock_ring *r, struct rv_virtq *q)
{
	q->size = r->size;
	q->desc_gpa = r->desc;
	q->avail_gpa = r->avail;
	q->used_gpa = r->used;
	__atomic_store_n(&q->enabled, true, __ATOMIC_RELEASE);
}

/* Adds a one-descriptor chain (descriptor d) and publishes it. */
static inline void mock_ring_add(struct mock_ring *r, uint16_t d, uint64_t gpa,
				 uint32_t len, bool writable)
{
	uint8_t *e = r->ram + r->desc + 16u * d;

	put_le(e, gpa, 8);
	put_le(e + 8, len, 4);
	put_le(e + 12, writable ? RV_VIRTQ_DESC_F_WRITE : 0, 2);
	put_le(e + 14, 0, 2);
	put_le(r->ram + r->avail + 4 + 2u * (r->avail_idx % r->size), d, 2);
	r->avail_idx++;
	__atomic_store_n((uint16_t *)(void *)(r->ram + r->avail + 2),
			 r->avail_idx, __ATOMIC_RELEASE);
}

static inline uint16_t mock_used_idx(const struct mock_ring *r)
{
	return __atomic_load_n((uint16_t *)(void *)(r->ram + r->used + 2),
			       __ATOMIC_ACQUIRE);
}

/* Used element i: {id, len}. */
static inline uint32_t mock_used_len(const struct mock_ring *r, uint16_t i)
{
	return (uint32_t)get_le(r->ram + r->used + 4 + 8u * (i % r->size) + 4,
				4);
}

/* Waits at most secs for cond(arg) under mk.lock, woken by the mocks. */
static inline bool mock_wait(bool (*cond)(const void *), const void *arg,
			     int secs)
{
	struct timespec ts;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	pthread_mutex_lock(&mk.lock);
	while (!(ok = cond(arg))) {
		if (pthread_cond_timedwait(&mk.cond, &mk.lock, &ts) ==
		    ETIMEDOUT) {
			ok = cond(arg);
			break;
		}
	}
	pthread_mutex_unlock(&mk.lock);
	return ok;
}

struct mock_used_want {
	const struct mock_ring *r;
	uint16_t want;
};

static inline bool mock_used_reached(const void *arg)
{
	const struct mock_used_want *w = arg;

	return mock_used_idx(w->r) == w->want;
}

/* Waits (at most 5 s) until the used index reaches want. */
static inline bool mock_wait_used(const struct mock_ring *r, uint16_t want)
{
	struct mock_used_want w = { r, want };

	return mock_wait(mock_used_reached, &w, 5);
}

static inline bool mock_resets_reached(const void *arg)
{
	return mk.resets >= *(const unsigned int *)arg;
}

static inline bool mock_wait_resets(unsigned int want)
{
	return mock_wait(mock_resets_reached, &want, 5);
}

static inline void mock_kick(unsigned int q)
{
	uint64_t one = 1;

	assert_int_equal(write(mk.kick[q], &one, sizeof(one)), sizeof(one));
}

#endif
