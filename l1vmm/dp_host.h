/* SPDX-License-Identifier: MIT */
/*
 * DOC: no double paging, the host's side (pvops/l1vmm_abi.h, "No double
 * paging"): the p2m-aware access path of a VM's devices, the guest's hints
 * and the bitmap of the frames host reclaim holds.
 *
 * The device access path (dp_host__read, dp_host__write: the virtio-blk
 * device's, virtio/blk.h) copies guest RAM the way a guest access would
 * find it, a page at a time:
 *  - shadow mode: shadow__access_gpa(), under the guest's lock: an evicted
 *    frame is fetched first, a write gives a shared frame its own page and
 *    records the write (share_note_write), a page table is refused;
 *  - ept mode: a write to a SHARED or ZERO frame unshares it first (a p2m
 *    move through page sharing, the client), then copies through the host
 *    mapping (userfaultfd brings an evicted frame back) and records the
 *    write (p2m__record_written);
 *  - cooperative (vms/NAME/reclaim/cooperative 1): a read of a COMPRESSED
 *    frame takes its bytes from the store (reclaim_vm__read_stored: the
 *    frame stays in the store), a write that covers a whole COMPRESSED frame
 *    drops its stored bytes (the frame is discarded, then written), so
 *    neither fetches;
 *  - every fetch the path still causes is a double-paging event
 *    (reclaim_vm__note_double_paging: vms/NAME/reclaim/double_paging_events).
 *
 * Hints (L1_DP_HINT): each frame, PRIVATE or COMPRESSED, moves to
 * UNPOPULATED through the p2m with the mode's discard (the store hook drops
 * stored bytes); UNPOPULATED ones stay; frames page sharing holds are
 * skipped; page tables, pinned frames and the bitmap stop the call.
 *
 * The bitmap (L1_DP_REGISTER): frames of guest RAM the guest gives; they
 * are fetched, made the guest's own and pinned (shadow__pin_unused, which
 * checks that none is a page table or pinned and pins them under one hold
 * of the guest's lock; ept: kept out of page sharing like a used ring,
 * dedup_ept__host_writes) and never evicted (reclaim_vm__set_pinned); host
 * reclaim's watch sets and clears their bits with atomic operations under
 * the p2m lock. Unregistering (0 pages) stops the watch first, then
 * unpins the frames (shadow__unpin): a guest that moves its bitmap again
 * and again holds one bitmap's pins at a time; at teardown the pins go
 * with the shadow guest.
 *
 * Locking: the path takes the locks of what it calls (the p2m's, the
 * guest's shadow lock, the store's), never across a file I/O;
 * vm->dp_lock holds one registration from its check to its install (then:
 * g->lock and the p2m lock through the fetches, r->lock, vm->lock).
 */
#ifndef L1VMM_DP_HOST_H
#define L1VMM_DP_HOST_H

#include <stdint.h>

#include "pvops/hypercall.h"

struct vm;

/* The device access path: 0, or -1 (not guest RAM, a page table for a
 * write, a fetch or store read that failed). */
int dp_host__read(void *vm, uint64_t gpa, void *dst, uint32_t len);
int dp_host__write(void *vm, uint64_t gpa, const void *src, uint32_t len);

/* L1_HC_DP(op, a1, a2, a3) from the guest's kernel; mem reads its list. */
int64_t dp_host__hypercall(struct vm *vm, const struct pv_mem *mem, uint64_t op, uint64_t a1,
			   uint64_t a2, uint64_t a3);

/* vms/NAME/reclaim/cooperative: on (1) or off (0), at once. */
void dp_host__set_cooperative(struct vm *vm, int on);

#endif
