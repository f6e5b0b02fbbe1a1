/* SPDX-License-Identifier: MIT */
/*
 * DOC: the guest page-table walker and the page-table update validator.
 *
 * Both are pure functions of guest memory (an ept_mem view), the guest's
 * frame count and the typing (pt_level: gfn → 0 or the level 1..4 the page is
 * a table of). Nothing here writes guest memory or shadow state, so the fuzz
 * target and the unit tests call them directly.
 *
 * The rules an entry of a table of level L must follow (when present):
 *  - no reserved bits: PS in a PML4 entry; bits 20:13 of a 2 MiB leaf and
 *    29:13 of a 1 GiB leaf (RESERVED);
 *  - at level 4, slots >= 256 (at or above L1_SHADOW_GUEST_VA_END) stay
 *    non-present (VA_RANGE);
 *  - every frame it maps, or the table it links, is one of the guest's own:
 *    a whole 2 MiB / 1 GiB leaf must lie inside [0, nr_frames) (FOREIGN_GFN);
 *  - a link goes to a page that is a table of level L - 1 or that validates
 *    as one (recursively); a page is a table of one level only (RESERVED);
 *  - a writable leaf maps no page-table page; for a large leaf, no page of
 *    its range (PT_WRITABLE).
 * Non-present entries are not looked at (hardware ignores their other bits).
 * Bits 62:52 and 11:9 are ignored, as by hardware; PAT/PCD/PWT/G are accepted
 * and not propagated to the shadows.
 *
 * Validation has two passes so that a leaf is checked against the final
 * typing: pass 1 walks the links and gives every new table its level in the
 * scratch map pend; pass 2 checks the leaves of the new tables.
 */
#include <string.h>

#include "mmu/shadow/shadow_priv.h"

uint64_t *walk_entry_ptr(const struct ept_mem *mem, uint64_t gfn, unsigned idx)
{
	if (gfn >= (1ull << 40) || idx >= PT_ENTRIES)
		return NULL;
	return ept__gpa_ptr(mem, gfn * EPT_PAGE_SIZE + idx * 8ull, 8);
}

uint64_t walk_read(const struct ept_mem *mem, uint64_t gfn, unsigned idx)
{
	const uint64_t *p = walk_entry_ptr(mem, gfn, idx);
	return p ? __atomic_load_n(p, __ATOMIC_RELAXED) : 0;
}

/*
 * What validation reads: a page being validated is not typed yet, so it may
 * map a stored copy or a zero frame (page sharing): read what the guest
 * reads. Typed pages are always the guest's own frames (share.c). A page
 * host reclaim holds reads as empty here and is noted in c->evicted: the
 * caller fetches it and validates again (its host page holds nothing now).
 */
static uint64_t ctx_read(struct walk_ctx *c, uint64_t gfn, unsigned idx)
{
	if (!c->g || gfn >= c->nr_frames || idx >= PT_ENTRIES)
		return walk_read(c->mem, gfn, idx);
	if (frame_evicted(c->g, gfn)) {
		c->evicted = gfn;
		return 0;
	}
	const uint64_t *t = shadow__mfn_ptr(c->g->m, c->g->p2m_mfn[gfn]);
	return t ? __atomic_load_n(&t[idx], __ATOMIC_RELAXED) : 0;
}

static int refuse(enum shadow_refusal reason, enum shadow_refusal *why)
{
	*why = reason;
	switch (reason) {
	case SHADOW_REFUSE_FOREIGN_GFN:
	case SHADOW_REFUSE_PT_WRITABLE:
	case SHADOW_REFUSE_VA_RANGE:
	case SHADOW_REFUSE_PINNED:
		return -L1_EPERM;
	case SHADOW_REFUSE_TOO_MANY:
		return -L1_E2BIG;
	default:
		return -L1_EINVAL;
	}
}

int walk_check_shape(uint64_t nr_frames, unsigned level, unsigned idx, uint64_t e,
		     struct entry_info *info, enum shadow_refusal *why)
{
	*info = (struct entry_info){ .kind = ENTRY_NONE };
	if (!(e & PTE_P))
		return 0;
	if (level < 1 || level > 4 || idx >= PT_ENTRIES)
		return refuse(SHADOW_REFUSE_RESERVED, why);
	if (level == 4 && (e & PTE_PS))
		return refuse(SHADOW_REFUSE_RESERVED, why);
	if (level == 4 && idx >= GUEST_PML4_SLOTS)
		return refuse(SHADOW_REFUSE_VA_RANGE, why);

	uint64_t addr = e & PTE_ADDR;
	if (level == 1) {
		*info = (struct entry_info){ .kind = ENTRY_LEAF, .gfn = addr >> 12, .frames = 1 };
	} else if (e & PTE_PS) {
		uint64_t align = (1ull << PT_SHIFT(level)) - 1;
		/* bit 12 is PAT; the bits between it and the alignment are reserved */
		if (addr & align & ~0x1000ull)
			return refuse(SHADOW_REFUSE_RESERVED, why);
		*info = (struct entry_info){ .kind = ENTRY_LEAF, .gfn = (addr & ~align) >> 12,
					     .frames = PT_FRAMES(level) };
	} else {
		*info = (struct entry_info){ .kind = ENTRY_LINK, .gfn = addr >> 12, .frames = 1 };
	}
	if (info->gfn >= nr_frames || info->frames > nr_frames - info->gfn)
		return refuse(SHADOW_REFUSE_FOREIGN_GFN, why);
	return 0;
}

unsigned walk_level_of(const struct walk_ctx *c, uint64_t gfn)
{
	if (gfn >= c->nr_frames)
		return 0;
	if (c->pend[gfn])
		return c->pend[gfn];
	return c->pt_level ? c->pt_level[gfn] : 0;
}

void walk_pend_reset(struct walk_ctx *c)
{
	for (uint64_t i = 0; i < c->pend_n; i++) {
		uint64_t gfn = c->pend_list[i];
		c->pend[gfn] = 0;
		c->pend_2m[REGION_2M(gfn)]--;
		c->pend_1g[REGION_1G(gfn)]--;
	}
	c->pend_n = 0;
}

void walk_set_typed(struct shadow_guest *g, uint64_t gfn, unsigned level)
{
	struct shadow_guest_priv *p = g->priv;
	int delta = (level != 0) - (g->pt_level[gfn] != 0);
	g->pt_level[gfn] = (uint8_t)level;
	p->typed_2m[REGION_2M(gfn)] += (uint32_t)delta;
	p->typed_1g[REGION_1G(gfn)] += (uint32_t)delta;
}

/* Pass 1: give gfn (and, through its links, its subtree) the level. */
static int type_subtree(struct walk_ctx *c, uint64_t gfn, unsigned level,
			enum shadow_refusal *why)
{
	unsigned have = walk_level_of(c, gfn);
	if (have == level)
		return 0; /* typed already, or reached twice in this tree */
	if (have)
		return refuse(SHADOW_REFUSE_RESERVED, why);
	if (c->g && gfn < c->nr_frames && (c->g->frame[gfn] & SF_PINNED))
		return refuse(SHADOW_REFUSE_PINNED, why); /* l1vmm writes it behind the shadows */
	if (!walk_entry_ptr(c->mem, gfn, 0))
		return refuse(SHADOW_REFUSE_FOREIGN_GFN, why);
	c->pend[gfn] = (uint8_t)level;
	c->pend_list[c->pend_n++] = gfn;
	c->pend_2m[REGION_2M(gfn)]++;
	c->pend_1g[REGION_1G(gfn)]++;
	for (unsigned i = 0; i < PT_ENTRIES; i++) {
		struct entry_info info;
		int err = walk_check_shape(c->nr_frames, level, i, ctx_read(c, gfn, i),
					   &info, why);
		if (err)
			return err;
		if (info.kind == ENTRY_LINK) {
			err = type_subtree(c, info.gfn, level - 1, why);
			if (err)
				return err;
		}
	}
	return 0;
}

/* Whether a table (typed or pending) lies in the leaf's frames: a 4 KiB page,
 * or an aligned 2 MiB or 1 GiB region (walk_check_shape), O(1) either way. */
static bool range_has_table(const struct walk_ctx *c, uint64_t gfn, uint64_t frames)
{
	if (frames == 1)
		return walk_level_of(c, gfn) != 0;
	if (frames == PT_FRAMES(2))
		return c->pend_2m[REGION_2M(gfn)] || (c->pt_level && c->typed_2m[REGION_2M(gfn)]);
	return c->pend_1g[REGION_1G(gfn)] || (c->pt_level && c->typed_1g[REGION_1G(gfn)]);
}

static int check_leaf(const struct walk_ctx *c, const struct entry_info *info, uint64_t e,
		      enum shadow_refusal *why)
{
	if (info->kind == ENTRY_LEAF && (e & PTE_RW) && range_has_table(c, info->gfn, info->frames))
		return refuse(SHADOW_REFUSE_PT_WRITABLE, why);
	return 0;
}

/* Pass 2: the leaves of every page pass 1 typed. */
static int check_pending_leaves(struct walk_ctx *c, enum shadow_refusal *why)
{
	for (uint64_t k = 0; k < c->pend_n; k++) {
		uint64_t gfn = c->pend_list[k];
		unsigned level = c->pend[gfn];
		for (unsigned i = 0; i < PT_ENTRIES; i++) {
			uint64_t e = ctx_read(c, gfn, i);
			struct entry_info info;
			int err = walk_check_shape(c->nr_frames, level, i, e, &info, why);
			if (!err)
				err = check_leaf(c, &info, e, why);
			if (err)
				return err;
		}
	}
	return 0;
}

int walk_validate_tree(struct walk_ctx *c, uint64_t root_gfn, enum shadow_refusal *why)
{
	const uint8_t *saved = c->pt_level;
	c->pt_level = NULL; /* a fresh tree: the current typing does not count */
	int err;
	if (root_gfn >= c->nr_frames)
		err = refuse(SHADOW_REFUSE_FOREIGN_GFN, why);
	else
		err = type_subtree(c, root_gfn, 4, why);
	if (!err)
		err = check_pending_leaves(c, why);
	c->pt_level = saved;
	return err;
}

int walk_validate_update(struct walk_ctx *c, uint64_t ptr, uint64_t val,
			 enum shadow_refusal *why)
{
	if (ptr % 8)
		return refuse(SHADOW_REFUSE_RESERVED, why);
	uint64_t gfn = ptr / EPT_PAGE_SIZE;
	unsigned level = gfn < c->nr_frames && c->pt_level ? c->pt_level[gfn] : 0;
	if (level < 1 || level > 4)
		return refuse(SHADOW_REFUSE_NOT_PT, why);
	unsigned idx = (unsigned)(ptr % EPT_PAGE_SIZE) / 8;

	struct entry_info info;
	int err = walk_check_shape(c->nr_frames, level, idx, val, &info, why);
	if (err)
		return err;
	if (info.kind == ENTRY_LINK) {
		err = type_subtree(c, info.gfn, level - 1, why);
		if (!err)
			err = check_pending_leaves(c, why);
		return err;
	}
	return check_leaf(c, &info, val, why);
}

void walk_guest(const struct ept_mem *mem, uint64_t nr_frames, const uint8_t *pt_level,
		uint64_t root_gfn, uint64_t va, struct guest_walk *w)
{
	*w = (struct guest_walk){ .rw = true };
	if (va >= L1_SHADOW_GUEST_VA_END || root_gfn >= nr_frames)
		return;
	if (pt_level && pt_level[root_gfn] != 4)
		return;
	uint64_t table = root_gfn;
	for (unsigned level = 4; level >= 1; level--) {
		unsigned idx = PT_INDEX(va, level);
		uint64_t e = walk_read(mem, table, idx);
		struct entry_info info;
		enum shadow_refusal why;
		if (walk_check_shape(nr_frames, level, idx, e, &info, &why) ||
		    info.kind == ENTRY_NONE)
			return;
		w->table[level] = table;
		w->entry[level] = e;
		w->rw = w->rw && (e & PTE_RW);
		w->nx = w->nx || (e & PTE_NX);
		if (info.kind == ENTRY_LEAF) {
			w->leaf_level = level;
			w->gfn = info.gfn + ((va >> 12) & (info.frames - 1));
			w->present = true;
			return;
		}
		if (pt_level && pt_level[info.gfn] != level - 1)
			return;
		table = info.gfn;
	}
}
