/* SPDX-License-Identifier: MIT */
/*
 * DOC: the virtio-blk driver (kernel/virtio_blk.c): synchronous sector I/O
 * for kernel code (guest swap, kernel/swap.c), both modes.
 */
#ifndef L1G_KERNEL_VIRTIO_BLK_H
#define L1G_KERNEL_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#define VBLK_SECTOR 512u

/*
 * Find the virtio-blk device among the command line's virtio_mmio.device=
 * windows and bring it up. 0; -L1G_ENOSYS (silently) when there is none;
 * -L1G_EINVAL with a console line when it does not come up. Boot, CPU 0.
 */
int vblk__init(const char *cmdline);
/* Sectors of the disk; 0 without a device. */
uint64_t vblk__capacity(void);
/*
 * Read (write = false) or write len bytes (a multiple of 512, at most
 * 1 MiB) at sector from or to guest-physical gpa, and wait for it. 0, or
 * -L1G_EINVAL (no device, out of range), -L1G_EIO (the device said IOERR or
 * UNSUPP, or stopped answering: then it is failed for good). Any CPU; one
 * request at a time.
 */
int vblk__rw(bool write, uint64_t sector, uint64_t gpa, uint32_t len);
/* VIRTIO_BLK_T_FLUSH (when offered; else 0 at once). 0 or -L1G_EIO. */
int vblk__flush(void);

#endif
