// SPDX-License-Identifier: Apache-2.0
/*
 * The PIO and MMIO buses: a sorted array of non-overlapping ranges searched
 * with a binary search. vCPU threads dispatch under a read lock; registration
 * takes the write lock.
 */
#include "raevm/bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct range {
	uint64_t base;
	uint64_t len;
	const struct rv_bus_ops *ops;
	void *opaque;
};

struct rv_bus {
	const char *name;
	pthread_rwlock_t lock;
	struct range *ranges;
	size_t nr;
	size_t cap;
};

int rv_bus_create(const char *name, struct rv_bus **out)
{
	struct rv_bus *bus;

	*out = NULL;
	bus = calloc(1, sizeof(*bus));
	if (!bus)
		return -ENOMEM;
	bus->name = name;
	if (pthread_rwlock_init(&bus->lock, NULL)) {
		free(bus);
		return -ENOMEM;
	}
	*out = bus;
	return 0;
}

void rv_bus_destroy(struct rv_bus *bus)
{
	if (!bus)
		return;
	pthread_rwlock_destroy(&bus->lock);
	free(bus->ranges);
	free(bus);
}

const char *rv_bus_name(const struct rv_bus *bus)
{
	return bus->name;
}

/* Index of the first range whose end lies above addr. Caller holds lock. */
static size_t lower_bound(const struct rv_bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct range *r = &bus->ranges[mid];

		if (r->base + (r->len - 1) < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int rv_bus_register(struct rv_bus *bus, uint64_t base, uint64_t len,
		    const struct rv_bus_ops *ops, void *opaque)
{
	uint64_t last;
	size_t i;
	int rc = 0;

	if (len == 0 || !ops)
		return -EINVAL;
	last = base + (len - 1);
	if (last < base)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	i = lower_bound(bus, base);
	if (i < bus->nr && bus->ranges[i].base <= last) {
		rc = -EEXIST;
		goto out;
	}
	if (bus->nr == bus->cap) {
		size_t cap = bus->cap ? bus->cap * 2 : 16;
		struct range *r = realloc(bus->ranges, cap * sizeof(*r));

		if (!r) {
			rc = -ENOMEM;
			goto out;
		}
		bus->ranges = r;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i],
		(bus->nr - i) * sizeof(*bus->ranges));
	bus->ranges[i] = (struct range){ base, len, ops, opaque };
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return rc;
}

int rv_bus_unregister(struct rv_bus *bus, uint64_t base)
{
	size_t i;
	int rc = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	i = lower_bound(bus, base);
	if (i < bus->nr && bus->ranges[i].base == base) {
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->nr - i - 1) * sizeof(*bus->ranges));
		bus->nr--;
		rc = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return rc;
}

int rv_bus_access(struct rv_bus *bus, uint64_t addr, void *data, uint32_t len,
		  bool is_write)
{
	struct range r;
	uint64_t off;
	size_t i;

	if (len != 1 && len != 2 && len != 4 && len != 8)
		return -EINVAL;
	pthread_rwlock_rdlock(&bus->lock);
	i = lower_bound(bus, addr);
	if (i == bus->nr || addr < bus->ranges[i].base) {
		pthread_rwlock_unlock(&bus->lock);
		return -ENOENT;
	}
	r = bus->ranges[i];
	pthread_rwlock_unlock(&bus->lock);

	off = addr - r.base;
	/* The whole access must fit: a straddling access belongs to no one. */
	if (len > r.len || off > r.len - len)
		return -ENOENT;
	/*
	 * The device is called without the bus lock, so its handler may move
	 * ranges on this bus (a PCI BAR written through ECAM). That is safe
	 * because devices stay alive until every vCPU has stopped.
	 */
	if (is_write) {
		if (r.ops->write)
			r.ops->write(r.opaque, off, data, len);
	} else if (r.ops->read) {
		r.ops->read(r.opaque, off, data, len);
	} else {
		memset(data, 0xff, len);
	}
	return 0;
}
