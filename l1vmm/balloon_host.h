/* SPDX-License-Identifier: MIT */
/*
 * DOC: a VM's balloon on the host: the PV balloon and the wiring of both devices.
 *
 * Every VM booted with the l1vmm protocol gets a balloon (balloon/balloon.h)
 * whose frames go back to the host through its mode's backend:
 *   ept     ept__discard(): MADV_DONTNEED on the guest's RAM mapping (KVM's
 *           MMU notifier drops the EPT entries; the next guest access faults
 *           in a zero page);
 *   shadow  shadow__discard(): MADV_DONTNEED on the guest's machine frames,
 *           one call per run of consecutive machine frames (KVM drops the
 *           machine's translations of those host pages; the shadow entries
 *           stay and read zero).
 * The PV balloon (pvops/l1vmm_abi.h) runs in both modes: the target goes into
 * shared_info.balloon, the event is L1_EVT_BALLOON on vCPU 0 (shadow) or an
 * MSI at the vector the guest chose (ept), and L1_HC_BALLOON arrives as a
 * shadow hypercall or, in ept mode, through the hypercall doorbell register.
 * The virtio-balloon device (balloon/virtio_balloon.h) is added in ept mode,
 * at L1_VIRTIO_BALLOON_GPA on IOAPIC pin L1_VIRTIO_BALLOON_IRQ, described to
 * the guest the way Linux takes it on its command line
 * (BALLOON_HOST_VIRTIO_CMDLINE, appended by vm.c). Shadow-mode guests are PV
 * by construction and use the PV balloon.
 *
 * Page sharing and ballooning compose: for a VM l1vmm's engine shares, the
 * p2m hands a balloon move to its client, the engine (a shared frame leaves
 * its copy first, under the engine lock; mmu/p2m.h); with KSM the host
 * kernel unshares what the discard drops.
 */
#ifndef L1VMM_BALLOON_HOST_H
#define L1VMM_BALLOON_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "l1vmm/bus.h"

struct vm;
struct pv_mem;

/* What vm.c appends to the command line of a guest with the virtio device. */
#define BALLOON_HOST_VIRTIO_CMDLINE " virtio_mmio.device=4K@0xd0001000:5"

/* Where the shared-info page lives in every l1vmm-protocol guest. */
#define VM_SHARED_INFO_GPA 0x6000ull

/*
 * After the VM's RAM and vCPUs exist, before boot data is written: the
 * balloon, the shared-info page in ept mode, the hypercall doorbell. 0, or
 * -1 with a reason.
 */
int balloon_host__create(struct vm *vm, char *err, size_t errlen);
void balloon_host__destroy(struct vm *vm);

/* L1_HC_BALLOON from the guest: op, the gfn list at list (read through mem:
 * guest-virtual in shadow mode, guest-physical in ept mode), count, order.
 * The hypercall's result. */
int64_t balloon_host__hypercall(struct vm *vm, const struct pv_mem *mem, uint64_t op,
				uint64_t list, uint64_t count, uint64_t order);

/* Copy the guest's PV statistics from shared info into the core (a no-op for
 * a guest without a PV driver). */
void balloon_host__pull_stats(struct vm *vm);

/* The guest's balloon driver in use: "pv", "virtio" or "none". */
const char *balloon_host__driver(struct vm *vm);

#endif
