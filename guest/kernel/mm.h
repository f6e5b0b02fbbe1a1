/* SPDX-License-Identifier: MIT */
/*
 * DOC: memory: page tables (paging.c) and the frame allocator (mm.c).
 *
 * Physical memory is identity mapped with 2 MiB pages; a 2 MiB page is a
 * "chunk", and chunk n covers gpa [n << 21, (n + 1) << 21): low RAM is chunks
 * [0, ram_below_4g >> 21), high RAM starts at chunk 2048 (4 GiB). The U/S bit
 * of a chunk's PDE says who may touch it: the kernel image and kernel frames
 * are supervisor-only, the user image and memory handed to tasks are user.
 */
#ifndef L1G_KERNEL_MM_H
#define L1G_KERNEL_MM_H

#include <stdbool.h>
#include <stdint.h>

#include "pvops/l1vmm_abi.h"

#define MM_HIGH_PD_MAX 60 /* page directories for RAM above 4 GiB: 60 GiB */
#define MM_LOW_CHUNKS  2048
#define MM_MAX_CHUNKS  (MM_LOW_CHUNKS + MM_HIGH_PD_MAX * 512)
#define MM_MAX_ORDER   6  /* largest mm__alloc_frames block: 64 frames */

/* paging.c */
/*
 * Build the identity map for RAM chunks [0, low) and [2048, 2048 + high)
 * and load it. Returns the first gpa after what the tables took from RAM
 * at image_end (shadow mode; natively they are in the image: image_end).
 */
uint64_t paging__init(const struct l1_start_info *si, uint64_t image_end,
		      uint64_t low_chunks, uint64_t high_chunks);
/* Load the kernel's page tables on this CPU. */
void paging__load(void);
/* Make chunks [first, first + n) user-accessible or supervisor-only (local flush). */
void paging__set_user(uint64_t first, uint64_t n, bool user);
/*
 * Map the 2 MiB of the MMIO hole holding gpa (uncached, supervisor-only)
 * unless it is mapped already (the LAPIC chunk keeps its flags); in the
 * doorbell's chunk only the 4 KiB page holding gpa (the doorbell page
 * keeps its flags: user). False in shadow mode or when gpa is not in
 * [L1_RAM_HOLE_START, 4 GiB). Boot, CPU 0.
 */
bool paging__map_mmio(uint64_t gpa);
/*
 * Page tables made at run time (kernel/swap.c): make_table before a zeroed
 * kernel frame is linked as a table (shadow mode: read-only in the kernel's
 * map, as l1vmm requires), unmake_table after it is unlinked; link_pml4
 * puts a table in the kernel's top level (queued: commit).
 */
void paging__make_table(uint64_t gpa);
void paging__unmake_table(uint64_t gpa);
void paging__link_pml4(unsigned int slot, uint64_t entry);
/* Would CPL3 be allowed this access now? (tells stale-TLB faults from real ones) */
bool paging__user_may_access(uint64_t va, bool write);

/* paging_pv.c: shadow mode's 4 KiB identity map (paging.c calls it). */
struct paging_pv {
	uint64_t *pml4, *pdpt, *pd;
	uint64_t *pte;                 /* flat: pte[gfn] maps va gfn << 12 */
	uint64_t *spare_pd, *spare_pt; /* unlinked at boot: the PV_SPARE_VA window */
	uint64_t nr_frames;            /* gfns [0, nr_frames) are mapped (but gfn 0) */
	uint64_t start, end;           /* gpa range of what we allocated (tables, spares) */
	bool adopted;                  /* pv_tables=boot: the host's boot tree, no switch */
};
extern struct paging_pv paging_pv;
#define PV_SPARE_VA (256ull << 30) /* pdpt slot 256: 2 MiB through spare_pd[0] */
uint64_t paging_pv__init(const struct l1_start_info *si, uint64_t image_end,
			 uint64_t low_chunks, uint64_t high_chunks);
/* The root to load, or 0 with pv_tables=boot (the boot tree stays current). */
uint64_t paging_pv__root(void);
/* After the first load: fix-ups made through pv_ops.mmu (pv_tables=boot). */
void paging_pv__after_load(void);
/* The kernel's map of frame gpa writable or not (flushed). */
void paging_pv__set_writable(uint64_t gpa, bool writable);

/* mm.c */
/* Take over RAM from si; everything below the end of the image stays reserved. */
void mm__init(const struct l1_start_info *si, uint64_t image_end,
	      uint64_t user_start, uint64_t user_end);
/*
 * 2^order contiguous 4 KiB frames aligned to their size (order <=
 * MM_MAX_ORDER), from supervisor-only (user = false) or user memory. Not
 * zeroed. NULL when memory is exhausted.
 */
void *mm__alloc_frames(unsigned int order, bool user);
/* Give frames back; -1 if they were not allocated (double free), else 0. */
int mm__free_frames(void *p, unsigned int order);
/*
 * User memory for SYS_MEM_ALLOC: bytes rounded up to whole chunks, physically
 * contiguous, 2 MiB aligned. Returns the address, or -L1G_EINVAL/-L1G_ENOMEM.
 */
int64_t mm__alloc_user(uint64_t bytes);
/* Free what mm__alloc_user returned: 0 or -L1G_EINVAL. */
int mm__free_user(uint64_t addr);
/* Is [addr, addr + len) entirely memory a task may use? (len 0: true) */
bool mm__user_ok(uint64_t addr, uint64_t len);
/* Free chunks mm__alloc_user could still take, in bytes (with those in flight for reporting). */
uint64_t mm__user_free_bytes(void);
/* Allocations that failed for want of memory (after the balloon gave back what it could). */
uint64_t mm__oom_events(void);
/* Free 4 KiB frames inside the frame pools, in bytes. */
uint64_t mm__pool_free_bytes(void);

/*
 * Balloon support (kernel/balloon.c). Claim up to max free chunks into
 * chunks[], freed user chunks not reported first (the host holds memory
 * for them), then the reported ones, then never-used ones, highest first:
 * they become BALLOONED and are never handed out until released. Chunks in
 * flight for reporting are never claimed. Returns how many.
 */
unsigned int mm__balloon_claim(uint32_t *chunks, unsigned int max);
/* Give claimed chunks back to the allocator (as they were: FREE or USER_FREE). */
void mm__balloon_release(const uint32_t *chunks, unsigned int n);
/* Put claimed chunks back without having used them (same as release). */
#define mm__balloon_unclaim mm__balloon_release
/*
 * Free page reporting (kernel/balloon.c). Isolate up to max USER_FREE
 * chunks not reported since they became free into chunks[]: they become
 * REPORTING, which nothing hands out, and stay counted as free
 * (mm__user_free_bytes, so SYS_INFO's user_free does not move while they
 * are in flight). An allocation that finds no room while chunks are in
 * flight waits for them. Returns how many; 0 at once, without a scan,
 * when no chunk was freed since the last full scan. Boot done, any CPU.
 */
unsigned int mm__report_isolate(uint32_t *chunks, unsigned int max);
/*
 * Put back what mm__report_isolate returned: USER_FREE again, the first
 * reported_n of them marked reported (not isolated again until taken and
 * freed), the others reportable again. The caller must not allocate
 * between the two calls (an allocation could wait for its own chunks).
 */
void mm__report_putback(const uint32_t *chunks, unsigned int n, unsigned int reported_n);

#endif
