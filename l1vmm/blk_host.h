/* SPDX-License-Identifier: MIT */
/*
 * DOC: a VM's disk: the virtio-blk device (virtio/blk.h) over a host file.
 *
 * `vms/NAME/disk=PATH` (`disk=PATH` in --vm, `--disk PATH` for one VM) gives
 * the VM a virtio-blk device backed by PATH. A missing file is created
 * (mode 0600) at `vms/NAME/disk_size` bytes (default BLK_HOST_DEFAULT_SIZE);
 * an existing one is used at its size, rounded down to 512-byte sectors.
 * PATH must be a regular file l1vmm can read and write; anything else ends
 * the set-up with one line (exit status 2).
 *
 * The device sits at BLK_HOST_GPA (4 KiB window, virtio-mmio version 2) and
 * is described to the guest the way Linux takes it on its command line
 * (BLK_HOST_CMDLINE, appended by vm.c). ept mode: its interrupt is IOAPIC
 * pin BLK_HOST_IRQ. Shadow mode: the guest reaches the window through
 * l1vmm's device window in the top slot of its address space
 * (L1_SHADOW_MMIO_VA, pvops/l1vmm_abi.h), and there is no interrupt: the
 * device answers before the notify returns, so the driver polls.
 * Requests are served on the notifying vCPU's thread (sandbox: pread64,
 * pwrite64, fdatasync in the vCPU list).
 */
#ifndef L1VMM_BLK_HOST_H
#define L1VMM_BLK_HOST_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct vm_config;

#define BLK_HOST_GPA 0xd0002000ull
#define BLK_HOST_IRQ 6
#define BLK_HOST_CMDLINE " virtio_mmio.device=4K@0xd0002000:6"
#define BLK_HOST_DEFAULT_SIZE (64ull << 20)

/*
 * Open or create cfg->disk and put the device on vm's bus (after the VM's
 * RAM exists). Nothing without cfg->disk. 0, or -1 with a one-line reason.
 */
int blk_host__create(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen);
void blk_host__destroy(struct vm *vm);

/* The device's state as "key value" lines, for the tree ("none" without a disk). */
int blk_host__show(struct vm *vm, char *buf, size_t len);

#endif
