/* SPDX-License-Identifier: Apache-2.0 */
#ifndef RAEVM_BUS_H
#define RAEVM_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "raevm/util.h"

/*
 * A port-I/O or MMIO bus: non-overlapping ranges, each with an ops table and
 * an opaque device pointer. Accesses arrive from vCPU threads concurrently,
 * so devices lock their own state. Registration takes a write lock and may
 * happen while vCPUs run (PCI BAR moves); dispatch looks the range up under a
 * read lock and calls the device after dropping it, so a handler may itself
 * register or unregister ranges. Lifetime rule: a device must stay alive
 * (even after unregistering) until every vCPU thread has stopped.
 */
struct rv_bus_ops {
	/* offset is relative to the registered base; len is 1, 2, 4 or 8. */
	void (*read)(void *opaque, uint64_t offset, void *data, uint32_t len);
	void (*write)(void *opaque, uint64_t offset, const void *data,
		      uint32_t len);
};

struct rv_bus;

int rv_bus_create(const char *name, struct rv_bus **out) RV_MUST_CHECK;
void rv_bus_destroy(struct rv_bus *bus);

/*
 * Claims [base, base + len). Returns 0, -EINVAL for len 0 or a range that
 * wraps, -EEXIST when it overlaps a range already claimed, -ENOMEM.
 */
int rv_bus_register(struct rv_bus *bus, uint64_t base, uint64_t len,
		    const struct rv_bus_ops *ops, void *opaque) RV_MUST_CHECK;
/* Releases the range starting exactly at base; -ENOENT if none. */
int rv_bus_unregister(struct rv_bus *bus, uint64_t base);

/*
 * Routes one access. The access must lie entirely inside one range.
 * Returns 0, or -ENOENT when no device claims it (reads then see all ones,
 * which the caller fills in), -EINVAL for a bad length.
 */
int rv_bus_access(struct rv_bus *bus, uint64_t addr, void *data, uint32_t len,
		  bool is_write);

const char *rv_bus_name(const struct rv_bus *bus);

#endif
