/* SPDX-License-Identifier: MIT */
/*
 * DOC: ept mode guest memory.
 *
 * Each ept-mode guest is its own KVM VM. Its RAM is one private anonymous
 * host mapping, registered with KVM as up to two memslots: [0, below) under
 * the MMIO hole and, for large guests, the rest at 4 GiB. The p2m (mmu/p2m.h)
 * records each frame's state.
 *
 * Every guest address the host touches goes through ept__gpa_ptr(), which
 * does overflow-safe range checks and never returns a pointer that reaches
 * outside one region.
 */
#ifndef L1_MMU_EPT_H
#define L1_MMU_EPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmu/p2m.h"

#define EPT_PAGE_SIZE 4096ull
#define EPT_MAX_REGIONS 2

struct ept_region {
	uint64_t gpa;  /* first guest-physical byte */
	uint64_t size; /* bytes, page aligned */
	uint8_t *hva;  /* host address of gpa */
};

struct ept_mem {
	uint8_t *base;        /* the whole host mapping (regions are slices of it) */
	bool owns_mapping;    /* ept__mem_destroy() unmaps base (false for a view) */
	uint64_t mem_bytes;   /* guest RAM, all regions */
	struct ept_region region[EPT_MAX_REGIONS];
	unsigned nr_regions;
	struct p2m p2m;       /* gfn → state; gfns cover [0, highest RAM gpa) */
};

/*
 * Map mem_bytes of guest RAM (a multiple of the page size, > 0) and lay it out
 * around the MMIO hole. 0 or -errno; on error nothing stays allocated.
 */
int ept__mem_init(struct ept_mem *mem, uint64_t mem_bytes);
void ept__mem_destroy(struct ept_mem *mem);

/*
 * A view of guest RAM that lives in someone else's mapping (a shadow-mode
 * guest's frames inside machine memory): one region at gpa 0 of bytes at hva,
 * with its own p2m. 0 or -errno.
 */
int ept__mem_view(struct ept_mem *mem, uint8_t *hva, uint64_t bytes);

/* Register the regions as KVM memslots of vm_fd. 0 or -errno. */
int ept__mem_register(const struct ept_mem *mem, int vm_fd);

/*
 * Host pointer to guest bytes [gpa, gpa + len), or NULL when any of them is
 * not RAM or the range crosses a region boundary. len == 0 is allowed.
 */
void *ept__gpa_ptr(const struct ept_mem *mem, uint64_t gpa, uint64_t len);

/*
 * Copy len bytes into the guest at gpa and mark the frames private.
 * False (nothing written) when the range is not entirely RAM.
 */
bool ept__write(struct ept_mem *mem, uint64_t gpa, const void *src, uint64_t len);

/*
 * Release the host memory of frames [gfn, gfn + n) (MADV_DONTNEED): they
 * read zero afterwards, and KVM's MMU notifier drops its translations of
 * them. 0, -EFAULT (not RAM within one region), or -errno. The p2m is the
 * caller's (p2m__move's host side).
 */
int ept__discard(struct ept_mem *mem, uint64_t gfn, uint64_t n);

/* Offer all of guest RAM to Linux KSM (MADV_MERGEABLE). 0 or -errno. */
int ept__mergeable(struct ept_mem *mem);

/*
 * The host wrote guest bytes [gpa, gpa + len) before the guest runs (a
 * loader, a boot structure): their frames are PRIVATE in the p2m. 0, or
 * p2m__move()'s error (a frame that is neither unpopulated nor private).
 */
int ept__mark_written(struct ept_mem *mem, uint64_t gpa, uint64_t len);

/* RAM bytes below the MMIO hole for a guest of mem_bytes. */
uint64_t ept__ram_below_4g(uint64_t mem_bytes);

#endif
