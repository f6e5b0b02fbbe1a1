/* SPDX-License-Identifier: MIT */
#include "l1vmm/testdev.h"

#include <string.h>

#include "pvops/l1vmm_abi.h"

static uint32_t low32(const void *data, unsigned size)
{
	uint64_t v = 0;
	memcpy(&v, data, size); /* x86 is little-endian: the low bytes come first */
	return (uint32_t)v;
}

static void port_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct testdev *dev = opaque;
	if (offset != 0)
		return;
	uint32_t v = low32(data, size);
	dev->on_exit(dev->ctx, dev->isa_debug_exit ? (v << 1) | 1 : v);
}

static void doorbell_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct testdev *dev = opaque;
	if (offset == L1_DOORBELL_EXIT)
		dev->on_exit(dev->ctx, low32(data, size));
	else if (offset == L1_DOORBELL_NOP)
		__atomic_fetch_add(&dev->doorbell_nops, 1, __ATOMIC_RELAXED);
}

static void read_zero(void *opaque, uint64_t offset, void *data, unsigned size)
{
	(void)opaque;
	(void)offset;
	memset(data, 0, size);
}

const struct bus_dev_ops testdev__port_ops = { .read = read_zero, .write = port_write };
const struct bus_dev_ops testdev__doorbell_ops = { .read = read_zero, .write = doorbell_write };
