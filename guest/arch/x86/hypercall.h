/* SPDX-License-Identifier: MIT */
/*
 * DOC: l1vmm hypercalls (shadow mode, pvops/l1vmm_abi.h).
 *
 * A hypercall is a store of its number to the hypercall page,
 * `movabs %rax, L1_SHADOW_HYPERCALL_VA`, with arguments in RDI, RSI, RDX,
 * R10, R8; the result comes back in RAX (>= 0, or -L1_E*), every other
 * register is preserved. Each one is an exit to l1vmm (tens of µs here), so
 * callers batch: one mmu_update per queue of PTE writes, one console call
 * per write.
 */
#ifndef L1G_ARCH_X86_HYPERCALL_H
#define L1G_ARCH_X86_HYPERCALL_H

#include <stdint.h>

#include "pvops/l1vmm_abi.h"

static inline int64_t hypercall5(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3,
				 uint64_t a4, uint64_t a5)
{
	register uint64_t r10 __asm__("r10") = a4;
	register uint64_t r8 __asm__("r8") = a5;

	__asm__ volatile("movabs %%rax, 0xffffffffff000000"
			 : "+a"(nr)
			 : "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8)
			 : "memory");
	return (int64_t)nr;
}

static inline int64_t hypercall2(uint64_t nr, uint64_t a1, uint64_t a2)
{
	return hypercall5(nr, a1, a2, 0, 0, 0);
}

static inline int64_t hypercall1(uint64_t nr, uint64_t a1)
{
	return hypercall5(nr, a1, 0, 0, 0, 0);
}

static inline int64_t hypercall0(uint64_t nr)
{
	return hypercall5(nr, 0, 0, 0, 0, 0);
}

/* The shared-info page (start_info.shared_info_gpa, identity mapped). */
extern struct l1_shared_info *pv__shared;

/* This vCPU's part of it (the running task's CPU). */
struct l1_vcpu_info *pv__vcpu(void);

/* pvclock time in ns. */
uint64_t pv__clock_ns(void);

#endif
