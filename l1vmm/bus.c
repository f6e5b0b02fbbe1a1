/* SPDX-License-Identifier: MIT */
#include "l1vmm/bus.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

int bus__register(struct bus *bus, uint64_t base, uint64_t len,
		  const struct bus_dev_ops *ops, void *opaque, const char *name)
{
	if (len == 0 || base + len - 1 < base)
		return -EINVAL;
	if (bus->nr == BUS_MAX_RANGES)
		return -ENOSPC;
	unsigned pos = 0;
	while (pos < bus->nr && bus->range[pos].base < base)
		pos++;
	if (pos > 0) {
		const struct bus_range *prev = &bus->range[pos - 1];
		if (prev->base + (prev->len - 1) >= base)
			return -EEXIST;
	}
	if (pos < bus->nr && base + (len - 1) >= bus->range[pos].base)
		return -EEXIST;
	memmove(&bus->range[pos + 1], &bus->range[pos],
		(bus->nr - pos) * sizeof(bus->range[0]));
	bus->range[pos] = (struct bus_range){
		.base = base, .len = len, .ops = ops, .opaque = opaque, .name = name };
	bus->nr++;
	return 0;
}

const struct bus_range *bus__find(const struct bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->nr;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->range[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus__access(struct bus *bus, uint64_t addr, void *data, unsigned size, bool is_write)
{
	const struct bus_range *r = size >= 1 && size <= 8 ? bus__find(bus, addr) : NULL;
	uint64_t off = r ? addr - r->base : 0;
	if (!r || size > r->len - off) {
		__atomic_fetch_add(&bus->unhandled, 1, __ATOMIC_RELAXED);
		if (!is_write && size <= 8)
			memset(data, 0xff, size);
		return false;
	}
	if (is_write) {
		if (r->ops->write)
			r->ops->write(r->opaque, off, data, size);
	} else if (r->ops->read) {
		r->ops->read(r->opaque, off, data, size);
	} else {
		memset(data, 0xff, size);
	}
	return true;
}
