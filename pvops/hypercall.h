/* SPDX-License-Identifier: MIT */
/*
 * DOC: the host's hypercall decoding: everything about a hypercall that is a
 * pure function of the guest's registers and memory.
 *
 * The guest controls every byte here, so every count is bounded before it
 * is used, every guest pointer is read through the accessor (which
 * translates guest-virtual addresses and refuses what is not mapped), and
 * every value that becomes machine state (a trap handler, an iret frame) is
 * range-checked. The dispatcher (l1vmm/shadow_vm.c) acts on the results. A
 * libFuzzer target drives these functions with arbitrary registers and
 * memory (tests/fuzz/fuzz_hypercall.c).
 */
#ifndef L1_PVOPS_HYPERCALL_H
#define L1_PVOPS_HYPERCALL_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include "pvops/l1vmm_abi.h"

struct pv_call {
	uint64_t nr;      /* enum l1_hypercall */
	uint64_t arg[5];  /* RDI, RSI, RDX, R10, R8 */
};

/* Reads len bytes of guest-virtual memory at va into dst: 0 or -L1_EFAULT. */
struct pv_mem {
	int (*read)(void *ctx, uint64_t va, void *dst, size_t len);
	void *ctx;
};

void pv__decode(const struct kvm_regs *regs, struct pv_call *call);

/* Copy count mmu_update entries from va into out[L1_MMU_UPDATE_MAX].
 * count, or -L1_E2BIG (count above the limit), -L1_EFAULT. */
int64_t pv__fetch_mmu_updates(const struct pv_mem *mem, uint64_t va, uint64_t count,
			      struct l1_mmu_update *out);

/* Copy and check count trap-table entries from va into handlers[256]
 * (unchanged on error). count, or -L1_E2BIG, -L1_EFAULT, -L1_EINVAL (a
 * handler outside the guest's half of the address space). */
int64_t pv__fetch_trap_table(const struct pv_mem *mem, uint64_t va, uint64_t count,
			     uint64_t handlers[256]);

/* Read and check the iret frame at rsp. 0, -L1_EFAULT, or -L1_EINVAL (a
 * selector pair that is neither the guest's kernel nor its user pair, or an
 * address outside the guest's half). */
int pv__fetch_iret_frame(const struct pv_mem *mem, uint64_t rsp, struct l1_iret_frame *f);

/* Copy count balloon extents (gfns) from va into out[L1_BALLOON_MAX_EXTENTS].
 * count, or -L1_E2BIG, -L1_EFAULT. The extents themselves are checked by the
 * balloon (balloon/balloon.h). */
int64_t pv__fetch_balloon_gfns(const struct pv_mem *mem, uint64_t va, uint64_t count,
			       uint64_t *out);

/* Copy and check the gfns of an L1_DP_HINT of kind (L1_DP_DROPPED or
 * L1_DP_FREE) from va into out[L1_DP_HINT_MAX], for a guest of nr_frames
 * frames. How many of them, from the first, are frames a hint may name
 * (>= L1_BALLOON_MIN_GFN, < nr_frames): the call stops at the first other
 * one. Or -L1_EINVAL (a bad kind, or the first gfn is bad), -L1_E2BIG,
 * -L1_EFAULT. What the host then does with a frame is its own check. */
int64_t pv__fetch_dp_hints(const struct pv_mem *mem, uint64_t kind, uint64_t va, uint64_t count,
			   uint64_t nr_frames, uint64_t *out);

/* RFLAGS a guest may keep: the arithmetic flags, TF, DF; IF and IOPL are l1vmm's. */
uint64_t pv__guest_rflags(uint64_t rflags);

/*
 * Take the console bytes the guest published: [*cons, prod) of ring, where
 * prod is the guest's console_prod read once. More than a ring's worth is a
 * lie: -L1_EINVAL, and *cons jumps to prod (nothing emitted). Otherwise
 * emit(ctx, byte) for each byte and the count.
 */
int64_t pv__console_take(const uint8_t ring[L1_CONSOLE_RING], uint32_t prod, uint32_t *cons,
			 void (*emit)(void *ctx, uint8_t byte), void *ctx);

#endif
