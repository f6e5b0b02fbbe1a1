/* SPDX-License-Identifier: MIT */
/*
 * DOC: the guest's own paging to its virtio-blk disk (kernel/swap.c).
 */
#ifndef L1G_KERNEL_SWAP_H
#define L1G_KERNEL_SWAP_H

#include <stdbool.h>
#include <stdint.h>

#include "include/uapi.h"

/* `swap=virtio` on cmdline: the swap region on the disk (vblk__init first). Boot, CPU 0. */
void swap__init(const char *cmdline);
/* SYS_SWAP_ALLOC: the region's address, or -L1G_ENOSYS / EINVAL / EBUSY / ENOMEM. */
int64_t swap__alloc(uint64_t bytes);
/* SYS_SWAP_FREE: frames and slots of the region back. 0 or -L1G_EINVAL. */
int64_t swap__free(uint64_t addr);
/* SYS_SWAP_STATS into the task's buffer (checked by the caller). */
void swap__stats(struct l1g_swap_stats *out);
/*
 * A #PF at addr from a task: true when the swap region took it (mapped the
 * page: zero, or read back from the disk), false when it is not the
 * region's (or no frame could be had: the task is killed as before).
 */
bool swap__fault(uint64_t addr);

#endif
