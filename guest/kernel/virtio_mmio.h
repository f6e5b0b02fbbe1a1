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

/* virtio-mmio version 2 registers (§4.2.2) */
#define VM_MAGIC          0x000
#define VM_VERSION        0x004
#define VM_DEVICE_ID      0x008
#define VM_DEV_FEATURES   0x010
#define VM_DEV_FEAT_SEL   0x014
#define VM_DRV_FEATURES   0x020
#define VM_DRV_FEAT_SEL   0x024
#define VM_QUEUE_SEL      0x030
#define VM_QUEUE_NUM_MAX  0x034
#define VM_QUEUE_NUM      0x038
#define VM_QUEUE_READY    0x044
#define VM_QUEUE_NOTIFY   0x050
#define VM_INT_STATUS     0x060
#define VM_INT_ACK        0x064
#define VM_STATUS         0x070
#define VM_QUEUE_DESC     0x080 /* low, high at +4 */
#define VM_QUEUE_DRIVER   0x090
#define VM_QUEUE_DEVICE   0x0a0
#define VM_CONFIG         0x100

#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */

/* device status (§2.1) */
#define ST_ACKNOWLEDGE 0x01u
#define ST_DRIVER      0x02u
#define ST_DRIVER_OK   0x04u
#define ST_FEATURES_OK 0x08u
#define ST_NEEDS_RESET 0x40u
#define ST_FAILED      0x80u

#define F_VERSION_1    32

/* A 32-bit register of the window the kernel reaches at va. */
static inline uint32_t virtio_mmio__rd(uint64_t va, uint32_t off)
{
	return *(volatile uint32_t *)(uintptr_t)(va + off);
}

static inline void virtio_mmio__wr(uint64_t va, uint32_t off, uint32_t val)
{
	*(volatile uint32_t *)(uintptr_t)(va + off) = val;
}

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
