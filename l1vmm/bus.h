/* SPDX-License-Identifier: MIT */
/*
 * DOC: the I/O bus: port I/O and MMIO ranges with their device handlers.
 *
 * A VM has two buses (ports and MMIO). Devices register non-overlapping
 * ranges before the vCPUs start; afterwards the bus is read-only and lookups
 * need no lock (devices lock their own state). An access that hits no device
 * is counted; a read of it returns all ones, like an empty ISA/PCI bus.
 */
#ifndef L1VMM_BUS_H
#define L1VMM_BUS_H

#include <stdbool.h>
#include <stdint.h>

struct bus_dev_ops {
	/* offset is relative to the range base; size is 1, 2, 4 or 8 */
	void (*read)(void *opaque, uint64_t offset, void *data, unsigned size);
	void (*write)(void *opaque, uint64_t offset, const void *data, unsigned size);
};

struct bus_range {
	uint64_t base, len;
	const struct bus_dev_ops *ops;
	void *opaque;
	const char *name;
};

#define BUS_MAX_RANGES 32

struct bus {
	const char *name;                    /* "pio" or "mmio", for messages */
	struct bus_range range[BUS_MAX_RANGES]; /* sorted by base, disjoint */
	unsigned nr;
	uint64_t unhandled;                  /* accesses that hit no device */
};

/*
 * Register [base, base + len). 0, or -EINVAL (len 0, wraps past 2^64),
 * -EEXIST (overlaps a registered range), -ENOSPC (table full).
 */
int bus__register(struct bus *bus, uint64_t base, uint64_t len,
		  const struct bus_dev_ops *ops, void *opaque, const char *name);

/* The range containing addr, or NULL. */
const struct bus_range *bus__find(const struct bus *bus, uint64_t addr);

/*
 * Dispatch one access of size bytes (1..8). True if a device took it; false
 * (reads filled with 0xff) when none did, or when the access straddles the end
 * of a range.
 */
bool bus__access(struct bus *bus, uint64_t addr, void *data, unsigned size, bool is_write);

#endif
