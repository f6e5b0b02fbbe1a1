/* SPDX-License-Identifier: MIT */
/* The ept sharing backend's insides (share.h), shared by its four files. */
#ifndef L1_MMU_EPT_SHARE_PRIV_H
#define L1_MMU_EPT_SHARE_PRIV_H

#include "mmu/ept/share.h"
#include "mmu/lock.h"

#define PAGE EPT_PAGE_SIZE

struct ept_slot {
	unsigned slot;
	uint64_t first_gfn, nr_pages;
	uint8_t *hva;
	uint64_t *log;          /* scratch for KVM_GET_DIRTY_LOG */
};

struct ept_guest {
	struct ept_share *b;
	struct ept_mem *mem;
	int vm_fd;
	ept_stuck_fn *stuck_fn;
	void *owner;
	struct ept_slot slot[EPT_MAX_REGIONS];
	unsigned nr_slots;
	uint64_t nr_frames;
	uint64_t *quiet;        /* bit per gfn: its bit stays set in KVM's log, nothing to
				 * learn from it (a PRIVATE frame's; track.c) */
	bool stuck;             /* a frame could not be made writable again */
	uint32_t *file_page;    /* gfn -> memfd page + 1 mapped there, 0: anonymous */
	uint64_t *host_written; /* bit per gfn: written by l1vmm for the guest (MMIO to RAM) */
	uint64_t *pinned;       /* bit per gfn: l1vmm's devices write it: never shared */
	uint64_t mappings;      /* estimated host mappings over this guest's RAM */
	struct ept_guest *next;
};

/* A frame queued by ept_share__queue() (maps.c). */
struct pending {
	struct ept_guest *g;
	uint64_t gfn;
	uint64_t copy; /* memfd page + 1; 0: zero */
};

struct ept_share {
	struct l1_lock hold_lock; /* taken before lock: the guest list stays while
				   * a flush holds the guests' vCPUs (maps.c) */
	struct l1_lock lock;
	struct ept_hold_ops hold; /* all NULL: never held */
	bool held;              /* every guest's vCPUs are held (lock held) */
	uint64_t holds;         /* flushes done with the vCPUs held */
	uint64_t hold_misses;   /* flushes that asked, and some vCPU did not stop in time */
	/* the copy store (store.c) */
	int memfd;
	uint8_t *store;         /* the memfd, MAP_SHARED, STORE_MAX_BYTES reserved */
	uint64_t file_pages;    /* the memfd's size in pages */
	uint64_t next_page;     /* never used yet: [next_page, file_pages) */
	uint32_t *free_pages;   /* a stack of freed memfd pages, memory punched out */
	uint64_t nr_free, free_cap;
	struct store_dirty {    /* freed memfd pages whose memory is still there: */
		uint32_t page;  /* reused first, else punched at the next flush */
		int32_t node;   /* the node it was filled for */
	} *dirty;
	uint64_t nr_dirty, dirty_cap;
	int8_t *page_node;      /* per memfd page: the node its copy was made for */
	/* host mappings (maps.c) */
	uint64_t max_map_count;
	uint64_t map_refusals;
	bool warned;
	struct pending *pending; /* frames queued by ept_share__queue() */
	size_t nr_pending, pending_cap;
	uint64_t map_calls;     /* runs replaced: one mprotect + one mapping call each */
	uint64_t last_protect_us; /* monotonic µs of the last write protection (atomic) */
	uint64_t apply_errors;  /* runs a mapping call failed for: left private */
	struct ept_guest *guests;
};

#define BIT_TEST(map, i) (((map)[(i) / 64] >> ((i) % 64)) & 1)
#define BIT_SET(map, i) ((map)[(i) / 64] |= 1ull << ((i) % 64))
#define BIT_CLEAR(map, i) ((map)[(i) / 64] &= ~(1ull << ((i) % 64)))

/* share.c */
uint8_t *share__frame_hva(const struct ept_guest *g, uint64_t gfn);
const struct ept_slot *share__slot_of(const struct ept_guest *g, uint64_t gfn);

/* store.c */
int store__init(struct ept_share *b, char *err, size_t errlen);
void store__destroy(struct ept_share *b);
/* Punch out the memory of the freed pages not reused yet (b->lock held). */
void store__punch_freed(struct ept_share *b);
static inline const uint8_t *store__page(const struct ept_share *b, uint64_t copy)
{
	return b->store + (copy - 1) * PAGE;
}

/* maps.c (b->lock held) */
void maps__init(struct ept_share *b);
void maps__apply_pending(struct ept_share *b);
uint64_t maps__total(const struct ept_share *b);
void maps__pin(struct ept_guest *g, uint64_t gfn, uint64_t n);

/* track.c (b->lock held) */
int track__forget_writes(struct ept_guest *g, uint64_t gfn, uint64_t n);
/* Slot of region i with dirty logging, manual protection on the VM. 0 or -errno. */
int track__start(struct ept_guest *g);

#endif
