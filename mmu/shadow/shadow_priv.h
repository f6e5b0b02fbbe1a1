/* SPDX-License-Identifier: MIT */
/*
 * DOC: shadow MMU internals shared by the files of mmu/shadow/.
 *
 * Files and their one job each:
 *  - machine.c  the machine's frame allocator;
 *  - walk.c     the guest page-table walker and the page-table update
 *               validator: pure functions of guest memory and the typing;
 *  - fill.c     shadow tables: allocation, the derivation index, filling at
 *               faults (with prefetch), invalidation and dropping;
 *  - rmap.c     a small chained hash map, and the reverse map built on it;
 *  - decode.c   the x86-64 store decoder for trapped page-table writes;
 *  - share.c    page sharing: write tracking, shares, copy-on-write;
 *  - reclaim.c  host reclaim's backend: fencing, eviction, fetching back,
 *               accessed bits;
 *  - shadow.c   the public API: locking, typing, refusals, stats.
 *
 * Everything here runs under g->lock (the allocator takes m->lock inside).
 */
#ifndef L1_MMU_SHADOW_PRIV_H
#define L1_MMU_SHADOW_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu/shadow/shadow.h"

/* x86-64 page-table entry bits. */
#define PTE_P    (1ull << 0)
#define PTE_RW   (1ull << 1)
#define PTE_US   (1ull << 2)
#define PTE_A    (1ull << 5)
#define PTE_D    (1ull << 6)
#define PTE_PS   (1ull << 7)
#define PTE_NX   (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

#define PT_ENTRIES 512u
#define PT_SHIFT(level) (12u + 9u * ((level) - 1u))
#define PT_INDEX(va, level) ((unsigned)(((va) >> PT_SHIFT(level)) & 511u))
/* 4 KiB frames covered by one entry of a table at level (1, 512, 512²). */
#define PT_FRAMES(level) (1ull << (9u * ((level) - 1u)))
#define GUEST_PML4_SLOTS 256u /* PML4 slots below L1_SHADOW_GUEST_VA_END */

#define NONE32 UINT32_MAX

/* ---- rmap.c: a chained multimap u64 → u64, and the reverse map ---- */

struct hnode {
	uint64_t key;
	uint64_t val;
	uint32_t next;      /* next node in the bucket, or in the free list */
};

struct hmap {
	uint32_t *bucket;   /* nbuckets heads (NONE32 = empty) */
	uint32_t nbuckets;  /* a power of two, or 0 before the first add */
	struct hnode *node; /* the node pool */
	uint32_t nnodes;    /* nodes ever handed out from the pool */
	uint32_t cap;       /* nodes allocated */
	uint32_t free_head; /* recycled nodes */
	uint64_t count;     /* live (key, val) pairs */
	uint64_t probes;    /* nodes looked at by hmap_first(): the work, for tests */
};

int hmap_add(struct hmap *h, uint64_t key, uint64_t val);
/* Bytes the next hmap_add() may allocate (0: it fits). */
size_t hmap_grow_bytes(const struct hmap *h);
bool hmap_del(struct hmap *h, uint64_t key, uint64_t val);
/* First node of key, or NONE32; then hmap_next_of() until NONE32. */
uint32_t hmap_first(const struct hmap *h, uint64_t key);
uint32_t hmap_next_of(const struct hmap *h, uint32_t i, uint64_t key);
void hmap_clear(struct hmap *h);
void hmap_destroy(struct hmap *h);
size_t hmap_bytes(const struct hmap *h);

/* A reverse-map slot: which shadow table and which entry. */
#define RMAP_SLOT(table_mfn, idx) (((uint64_t)(table_mfn) << 9) | (idx))
#define RMAP_TABLE(slot) ((slot) >> 9)
#define RMAP_INDEX(slot) ((unsigned)((slot) & 511u))

/*
 * The reverse map: per machine frame, a circular doubly linked list of the
 * shadow leaves that map it. Every leaf slot has its node at a fixed place,
 * RMAP_NODE(record, index), so a delete is O(1) whatever the list's length.
 */
#define RMAP_NODE(r, i) (((uint32_t)(r) << 9) | (uint32_t)(i))
#define RMAP_NODE_RECORD(n) ((n) >> 9)
#define RMAP_NODE_INDEX(n) ((unsigned)((n) & 511u))
/* Leaves of one guest that may map one machine frame: a fill beyond it evicts
 * the oldest (KVM here rebuilds a frame's translations on every new mapping
 * above ~1000, docs/machine-notes.md; and it bounds every per-frame walk). */
#define RMAP_FRAME_MAX 512u

struct rnode {
	uint32_t prev, next; /* the frame's list (valid while the leaf is present) */
};

struct rmap {
	struct hmap heads;   /* mfn → RMAP_HEAD(leaves, first node), one per mapped frame */
	struct rnode *node;  /* [node_records * 512], indexed by RMAP_NODE */
	uint32_t node_records;
	uint64_t count;      /* present leaves */
	uint64_t dels;       /* rmap_del() calls (with heads.probes: the work, for tests) */
};

struct shadow_guest_priv;
/*
 * Put leaf i of shadow L1 table record r, which maps mfn, in the map.
 * At RMAP_FRAME_MAX leaves on mfn: with evict, the oldest one is zeroed
 * (flush_needed set, counted in rmap_evictions); without, -EMLINK.
 * -ENOMEM: no memory (or the metadata quota).
 */
int rmap_add(struct shadow_guest *g, uint32_t r, unsigned i, uint64_t mfn, bool evict);
void rmap_del(struct shadow_guest *g, uint32_t r, unsigned i, uint64_t mfn);
/* Leaves that map mfn. */
unsigned rmap_count(const struct shadow_guest *g, uint64_t mfn);
/*
 * Node of the first (newest) leaf that maps mfn, or NONE32; then
 * rmap_next(g, first, n) until NONE32 (the list must not change meanwhile).
 */
uint32_t rmap_first(const struct shadow_guest *g, uint64_t mfn);
uint32_t rmap_next(const struct shadow_guest *g, uint32_t first, uint32_t n);
/* Slot (RMAP_SLOT) of node n. */
uint64_t rmap_slot(const struct shadow_guest *g, uint32_t n);
/* Whether the map has the leaf slot for mfn (tests, consistency checks). */
bool rmap_has(const struct shadow_guest *g, uint64_t mfn, uint64_t slot);
/* Room for the nodes of records [0, records). 0 or -ENOMEM. */
int rmap_reserve(struct shadow_guest *g, uint32_t records);
void rmap_destroy(struct rmap *rm);
size_t rmap_bytes(const struct rmap *rm);
/* Clear RW in every shadow leaf that maps mfn (sets flush_needed if any was RW). */
void rmap_write_protect(struct shadow_guest *g, uint64_t mfn);
/* The same without flush_needed (the caller tells KVM per frame); how many were RW. */
unsigned rmap_clear_rw(struct shadow_guest *g, uint64_t mfn);
/* Zero every shadow leaf that maps mfn (sets flush_needed if any); how many. */
unsigned rmap_unmap(struct shadow_guest *g, uint64_t mfn);
/* The same without flush_needed (the caller tells KVM: shadow__machine_forget). */
unsigned rmap_zap(struct shadow_guest *g, uint64_t mfn);
/* Clear A in every shadow leaf that maps mfn; how many had it. KVM sets it
 * again only when it builds a translation anew (reclaim.c's harvest). */
unsigned rmap_take_accessed(struct shadow_guest *g, uint64_t mfn);

/* l1vmm's growable memory for this guest (tables' records, both maps), bytes. */
size_t meta_bytes(const struct shadow_guest *g);
/* Whether growing by bytes more stays within g's metadata quota (counted when not). */
bool meta_allows(struct shadow_guest *g, size_t bytes);

/* ---- walk.c: guest walker and validator (pure) ---- */

/*
 * What the validator looks at: guest memory, the guest's frames and the
 * current typing. pend is scratch (one byte per gfn, zero between calls):
 * the levels a validation would give to pages that are not typed yet, listed
 * in pend_list[0, pend_n). walk_pend_reset() clears it after the caller has
 * applied (or dropped) the result.
 */
struct walk_ctx {
	const struct ept_mem *mem;
	const struct shadow_guest *g; /* set: read frames through g->p2m_mfn */
	uint64_t nr_frames;
	const uint8_t *pt_level; /* current typing; NULL: validate a fresh tree */
	uint8_t *pend;
	uint64_t *pend_list;     /* nr_frames entries */
	uint64_t pend_n;
	/*
	 * Tables per region, so that a large leaf's check costs O(1), not a
	 * scan of every frame it covers: typed_2m/typed_1g count the pages
	 * pt_level types in each 2 MiB / 1 GiB of gfns (kept with pt_level,
	 * set_typed()), pend_2m/pend_1g the pages in pend.
	 */
	const uint32_t *typed_2m, *typed_1g;
	uint32_t *pend_2m, *pend_1g;
	/* A frame the last validation read that host reclaim holds (SF_EVICTED),
	 * or UINT64_MAX: when set, the result does not count (the caller resets it) */
	uint64_t evicted;
};

#define REGION_2M(gfn) ((gfn) >> 9)
#define REGION_1G(gfn) ((gfn) >> 18)

enum entry_kind { ENTRY_NONE, ENTRY_LEAF, ENTRY_LINK };

/* A present entry's meaning: leaf [gfn, gfn + frames) or link to table gfn. */
struct entry_info {
	enum entry_kind kind;
	uint64_t gfn;
	uint64_t frames;
};

/* The guest's entry idx of table gfn (0 when the table is not RAM). */
uint64_t walk_read(const struct ept_mem *mem, uint64_t gfn, unsigned idx);
/* Pointer to that entry, or NULL. */
uint64_t *walk_entry_ptr(const struct ept_mem *mem, uint64_t gfn, unsigned idx);

/*
 * The shape of entry e at index idx of a table of level (1..4), without the
 * typing rules: reserved bits (RESERVED), a present PML4 entry above the guest
 * half (VA_RANGE), frames beyond nr_frames (FOREIGN_GFN). 0, or -L1_E* with
 * *why set.
 */
int walk_check_shape(uint64_t nr_frames, unsigned level, unsigned idx, uint64_t e,
		     struct entry_info *info, enum shadow_refusal *why);

/* Level gfn has, counting a pending validation (0: not a table). */
unsigned walk_level_of(const struct walk_ctx *c, uint64_t gfn);

/*
 * Validate the tree rooted at root_gfn as a fresh tree (c->pt_level ignored):
 * every table and every entry, every page reached at one level only, no leaf
 * mapping a table of this tree writable. The tree's tables are left in pend.
 * 0 or -L1_E* with *why.
 */
int walk_validate_tree(struct walk_ctx *c, uint64_t root_gfn, enum shadow_refusal *why);

/*
 * The page-table update validator: may the guest write val into the entry at
 * gpa ptr, given the current typing (c->pt_level)? A new link to a page that
 * is not typed validates that page (and its subtree) as tables; they are left
 * in pend. 0 or -L1_E* with *why. Pure: nothing is written.
 */
int walk_validate_update(struct walk_ctx *c, uint64_t ptr, uint64_t val,
			 enum shadow_refusal *why);

void walk_pend_reset(struct walk_ctx *c);
/* Give gfn the level (0: untyped), keeping the region counts. */
void walk_set_typed(struct shadow_guest *g, uint64_t gfn, unsigned level);

/* A translation through the guest's tables. */
struct guest_walk {
	bool present;          /* the whole walk found a leaf */
	unsigned leaf_level;   /* 1 (4 KiB), 2 (2 MiB) or 3 (1 GiB) */
	uint64_t table[5];     /* gfn of the table used at each level [1..4] */
	uint64_t entry[5];     /* the entry read at each level */
	uint64_t gfn;          /* the 4 KiB frame va lands in */
	bool rw, nx;           /* writable at every level / NX at some level */
};

/*
 * Walk va from the table root_gfn. Entries that are malformed, point outside
 * the guest, or link to a page not typed at the right level (with pt_level)
 * end the walk as not present: the walker never trusts guest memory.
 */
void walk_guest(const struct ept_mem *mem, uint64_t nr_frames, const uint8_t *pt_level,
		uint64_t root_gfn, uint64_t va, struct guest_walk *w);

/* ---- fill.c: shadow tables ---- */

/* One shadow table (a machine frame of this guest's shadows). */
struct spage {
	uint64_t mfn;
	uint64_t src_gfn;     /* the guest table it shadows (synthetic: holding the leaf) */
	uint64_t syn_gfn;     /* synthetic: the first gfn under this table */
	uint32_t prev, next;  /* derivation list of src_gfn (not synthetic); free list */
	uint16_t src_index;   /* synthetic: index of the large leaf in src_gfn */
	uint8_t level;        /* 1..4 */
	uint8_t src_level;    /* synthetic: level of the large leaf (2 or 3) */
	bool synthetic;       /* split from a guest 2 MiB / 1 GiB leaf */
	bool acc_rw, acc_nx;  /* permissions of the guest path above the table */
	bool in_use;
};

struct shadow_guest_priv {
	struct spage *sp;       /* shadow table records */
	uint32_t nsp, sp_cap;   /* records handed out / allocated */
	uint32_t sp_free;       /* recycled records */
	struct hmap pages;      /* shadow table mfn → record index */
	struct rmap rmap;       /* mapped mfn → the shadow leaves that map it */
	uint32_t *derived;      /* gfn → first record derived from that guest table */
	uint32_t *refs;         /* gfn → links to it from typed tables (+1: the root) */
	uint32_t *typed_2m;     /* REGION_2M → typed pages in it (ctx.typed_2m) */
	uint32_t *typed_1g;     /* REGION_1G → the same per 1 GiB */
	uint32_t root;          /* record of the shadow root, or NONE32 */
	bool has_root;          /* guest_root_gpa is valid */
	struct walk_ctx ctx;    /* the validator's scratch (pend) */
};

/* Host pointer to the 512 entries of a shadow table. */
uint64_t *fill_table(const struct shadow_guest *g, uint64_t mfn);
/* A new, empty shadow root for guest table root_gfn (slot 511 linked to the
 * stub); its record, or NONE32 when no frame is free. Not made current. */
uint32_t fill_new_root(struct shadow_guest *g, uint64_t root_gfn);
/*
 * Drop every shadow of the guest. fresh: move to a newly allocated root if a
 * frame is free (else the old root is cleared in place); !fresh: clear in place.
 */
void fill_drop_all(struct shadow_guest *g, bool fresh);
/* Free every shadow table (the root too): guest destruction. */
void fill_free_all(struct shadow_guest *g);

enum fill_result { FILL_OK, FILL_NO_MEMORY, FILL_GUEST };
/* Build the shadow path for va along walk w and fill its leaf and neighbours. */
enum fill_result fill_fault(struct shadow_guest *g, uint64_t va, const struct guest_walk *w);

/* The guest changed entry idx of table gfn: zap it in every shadow derived from it. */
void fill_invalidate(struct shadow_guest *g, uint64_t gfn, unsigned idx);
/* Zap the shadow leaf of va (if any). */
void fill_flush_va(struct shadow_guest *g, uint64_t va);
/*
 * Recompute every shadow leaf that maps mfn from the guest's entries and
 * p2m_mfn now (after p2m_mfn or the frame flags changed); flush_needed is not
 * set: the caller tells KVM about the frames (shadow__machine_forget). How
 * many leaves left mfn (a leaf whose new frame has RMAP_FRAME_MAX leaves
 * already is dropped: it left too), and the slot of the first one in
 * *first_moved (may be NULL). At most RMAP_FRAME_MAX leaves: bounded.
 */
unsigned fill_refresh_mfn(struct shadow_guest *g, uint64_t mfn, uint64_t *first_moved);
/* The slot (RMAP_SLOT) of va's shadow leaf, if its path is there. */
bool fill_leaf_slot(const struct shadow_guest *g, uint64_t va, uint64_t *slot);

/* ---- share.c ---- */

static inline uint64_t own_mfn(const struct shadow_guest *g, uint64_t gfn)
{
	return g->first_mfn + gfn;
}
/* Host pointer to the page gfn reads now (own frame, copy or zero frame). */
static inline uint8_t *frame_ptr(const struct shadow_guest *g, uint64_t gfn)
{
	return shadow__mfn_ptr(g->m, g->p2m_mfn[gfn]);
}
/*
 * A write to gfn is about to land (a guest write fault that its tables allow,
 * an emulated write, a host write for the guest): give it back its own frame
 * with the bytes it reads now, and record the write (copy-on-write break,
 * first write, written since the last ask). Under g->lock.
 */
void share_note_write(struct shadow_guest *g, uint64_t gfn);
/* The same for a guest write fault at va (a cheaper copy-on-write). */
void share_write_fault(struct shadow_guest *g, uint64_t gfn, uint64_t va);

/* ---- reclaim.c ---- */

/* Whether gfn was fenced off or evicted by host reclaim (SF_EVICTED). */
static inline bool frame_evicted(const struct shadow_guest *g, uint64_t gfn)
{
	return g->frame[gfn] & SF_EVICTED;
}
/*
 * A host access under g->lock met evicted frame gfn: drop g->lock, fetch the
 * frame (a few tries when the store fails), take g->lock again. The caller
 * looks again: anything may have changed meanwhile. 1 (this call fetched
 * it), 0 (it was not in the store: an eviction still in flight, or another
 * thread fetched it), or the fetch's -errno.
 */
int reclaim_fetch_relocked(struct shadow_guest *g, uint64_t gfn);
/* A guest fault met evicted frame gfn; g->lock not held. 0 (fetched, or not
 * evicted any more: fault again), or -errno (counted). */
int reclaim_fault_fetch(struct shadow_guest *g, uint64_t gfn, uint64_t since_ns);

/* ---- decode.c ---- */

struct shadow_store {
	unsigned length;  /* instruction bytes */
	unsigned size;    /* bytes stored: 2, 4 or 8 */
	uint64_t value;   /* the bytes stored (zero-extended) */
	uint64_t ea;      /* the effective address */
};

/*
 * Decode the store at insn[0, len): [0x66] [REX] 0x89 /r or 0xC7 /0 id with a
 * memory operand (ModRM, SIB, disp8/disp32, RIP-relative). 0, or -L1_EINVAL for
 * anything else (other prefixes or opcodes, a register destination, bytes
 * missing, longer than 15). Pure.
 */
int decode_store(const uint8_t *insn, size_t len, const struct kvm_regs *regs,
		 struct shadow_store *st);

#endif
