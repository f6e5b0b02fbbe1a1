/* SPDX-License-Identifier: MIT */
/*
 * DOC: the virtio-balloon driver's interrupt (kernel/virtio_balloon.c).
 *
 * balloon_virtio__init() (balloon.h) starts the driver; the device's pin is
 * routed through the IOAPIC to VEC_VIRTIO on CPU 0's LAPIC.
 */
#ifndef L1G_KERNEL_VIRTIO_BALLOON_H
#define L1G_KERNEL_VIRTIO_BALLOON_H

/*
 * VEC_VIRTIO (trap.c, interrupts off, CPU 0): acknowledge the device's
 * interrupt, EOI the LAPIC, then run balloon__work() on a configuration
 * change and answer the device's statistics request. Safe when the driver
 * did not start (EOI only).
 */
void virtio_balloon__irq(void);

#endif
