/* SPDX-License-Identifier: MIT */
/*
 * DOC: virtio-mmio windows as the command line describes them, for the
 * virtio drivers (virtio_balloon.c, virtio_blk.c).
 *
 * l1vmm describes each virtio-mmio device the way Linux takes it:
 * `virtio_mmio.device=<size>@<base>:<irq>[:<id>]` (size with K/M/G, base in
 * hex or decimal), one word per device.
 */
#ifndef L1G_KERNEL_VIRTIO_MMIO_H
#define L1G_KERNEL_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

struct virtio_mmio_window {
	uint64_t size, base, irq;
};

/*
 * The index-th virtio_mmio.device= word of cmdline into *w: 1 found, 0 no
 * such word, -1 a word that does not parse (a console line says so; who
 * is the driver's name for it).
 */
int virtio_mmio__window(const char *cmdline, unsigned int index, struct virtio_mmio_window *w,
			const char *who);

/*
 * The address the kernel reaches guest-physical gpa of a device window at
 * (mapping it, ept mode: paging__map_mmio; shadow mode: l1vmm's device
 * window, L1_SHADOW_MMIO_VA), or 0 when it cannot. Boot, CPU 0.
 */
uint64_t virtio_mmio__map(uint64_t gpa);

#endif
