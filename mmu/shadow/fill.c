/* SPDX-License-Identifier: MIT */
/*
 * DOC: shadow tables: building, prefetch, derivation, invalidation.
 *
 * A shadow table is a machine frame of this guest with a record (struct
 * spage) saying what it is derived from:
 *  - an ordinary shadow of level L is derived from one guest table of level L
 *    and the permissions of the guest path above it (acc_rw: writable at every
 *    level above; acc_nx: NX at some level above). Shadows are not shared
 *    between parents, so a guest table linked twice has two shadows;
 *  - a synthetic shadow splits a guest 2 MiB or 1 GiB leaf into 4 KiB shadow
 *    entries: it is derived from (guest table, index, level) of that leaf and
 *    covers the frames from syn_gfn on.
 * Upper shadow entries are P|RW|US|A; the effective permissions live in the
 * leaves: P|US|A, RW (+D) only when the guest allows write at every level,
 * the guest leaf is dirty and the frame is not a page-table page; NX when
 * some guest level has NX. US is always set (ring compression: the guest
 * kernel runs at CPL3). Slot 511 of every root links l1vmm's stub subtree.
 *
 * The derivation index (gfn → records derived from that guest table) turns a
 * change of guest entry (P, i) into zapping entry i of each shadow of P;
 * zapping a link frees the shadow subtree below it. Every present shadow leaf
 * is in the reverse map (rmap.c), so zaps, overwrites and frees keep it exact.
 * A change of a present shadow entry that removes or narrows a translation
 * sets flush_needed (docs/machine-notes.md).
 *
 * At a fault the path is built top-down: a present shadow entry whose child
 * does not match what the guest walk says now is zapped and rebuilt. Then the
 * faulting leaf is filled, and up to g->prefetch - 1 neighbours of the same
 * shadow L1 table whose guest entries are present, nearest first (never
 * overwriting a present shadow leaf).
 */
#include <stdlib.h>
#include <string.h>

#include "mmu/shadow/shadow_priv.h"
#include "mmu/array.h"

#define UPPER_FLAGS (PTE_P | PTE_RW | PTE_US | PTE_A)

uint64_t *fill_table(const struct shadow_guest *g, uint64_t mfn)
{
	return shadow__mfn_ptr(g->m, mfn);
}

static struct spage *rec(const struct shadow_guest *g, uint32_t r)
{
	return &g->priv->sp[r];
}

static uint32_t record_of(const struct shadow_guest *g, uint64_t mfn)
{
	const struct hmap *h = &g->priv->pages;
	uint32_t i = hmap_first(h, mfn);
	return i == NONE32 ? NONE32 : (uint32_t)h->node[i].val;
}

static void derived_link(struct shadow_guest *g, uint32_t r)
{
	struct shadow_guest_priv *p = g->priv;
	struct spage *s = rec(g, r);
	s->prev = NONE32;
	s->next = p->derived[s->src_gfn];
	if (s->next != NONE32)
		rec(g, s->next)->prev = r;
	p->derived[s->src_gfn] = r;
}

static void derived_unlink(struct shadow_guest *g, uint32_t r)
{
	struct spage *s = rec(g, r);
	if (s->prev != NONE32)
		rec(g, s->prev)->next = s->next;
	else
		g->priv->derived[s->src_gfn] = s->next;
	if (s->next != NONE32)
		rec(g, s->next)->prev = s->prev;
	s->prev = s->next = NONE32;
}

static uint32_t record_alloc(struct shadow_guest *g)
{
	struct shadow_guest_priv *p = g->priv;
	if (p->sp_free != NONE32) {
		uint32_t r = p->sp_free;
		p->sp_free = p->sp[r].next;
		return r;
	}
	if (p->nsp >= p->sp_cap) {
		/* the records and their leaves' reverse-map nodes double together */
		size_t more = (p->sp_cap ? p->sp_cap : 64) *
			      (sizeof(*p->sp) + PT_ENTRIES * sizeof(struct rnode));
		if (!meta_allows(g, more + hmap_grow_bytes(&p->pages)))
			return NONE32;
	}
	if (ARRAY_ROOM(p->sp, p->sp_cap, p->nsp, 64) < 0 || rmap_reserve(g, p->sp_cap) < 0)
		return NONE32;
	return p->nsp++;
}

static void record_free(struct shadow_guest *g, uint32_t r)
{
	struct shadow_guest_priv *p = g->priv;
	p->sp[r] = (struct spage){ .in_use = false, .next = p->sp_free, .prev = NONE32 };
	p->sp_free = r;
}

/* A zeroed shadow table described by tmpl; its record, or NONE32 (no frame,
 * no memory, or the guest's table or metadata quota reached). */
static uint32_t new_table(struct shadow_guest *g, const struct spage *tmpl)
{
	uint64_t quota = __atomic_load_n(&g->table_quota, __ATOMIC_RELAXED);
	if (quota && g->stats.tables >= quota) {
		g->stats.table_quota_hits++;
		return NONE32;
	}
	int64_t mfn = shadow__alloc_frames(g->m, 1);
	if (mfn < 0)
		return NONE32;
	uint32_t r = record_alloc(g);
	if (r == NONE32 || hmap_add(&g->priv->pages, (uint64_t)mfn, r)) {
		if (r != NONE32)
			record_free(g, r);
		shadow__free_frames(g->m, (uint64_t)mfn, 1);
		return NONE32;
	}
	memset(fill_table(g, (uint64_t)mfn), 0, EPT_PAGE_SIZE);
	struct spage *s = rec(g, r);
	*s = *tmpl;
	s->mfn = (uint64_t)mfn;
	s->in_use = true;
	s->prev = s->next = NONE32;
	if (!s->synthetic)
		derived_link(g, r);
	g->stats.tables++;
	g->stats.meta_bytes = meta_bytes(g);
	return r;
}

static void free_table(struct shadow_guest *g, uint32_t r)
{
	struct spage *s = rec(g, r);
	if (!s->synthetic)
		derived_unlink(g, r);
	hmap_del(&g->priv->pages, s->mfn, r);
	shadow__free_frames(g->m, s->mfn, 1);
	g->stats.tables--;
	record_free(g, r);
}

/* Free table r and every shadow table below it; unlink its leaves from the rmap. */
static void free_subtree(struct shadow_guest *g, uint32_t r)
{
	unsigned level = rec(g, r)->level;
	uint64_t mfn = rec(g, r)->mfn;
	uint64_t *t = fill_table(g, mfn);
	unsigned n = level == 4 ? GUEST_PML4_SLOTS : PT_ENTRIES;
	for (unsigned i = 0; i < n; i++) {
		uint64_t e = t[i];
		if (!(e & PTE_P))
			continue;
		if (level == 1) {
			rmap_del(g, r, i, (e & PTE_ADDR) >> 12);
		} else {
			uint32_t child = record_of(g, (e & PTE_ADDR) >> 12);
			if (child != NONE32)
				free_subtree(g, child);
		}
		t[i] = 0;
	}
	free_table(g, r);
}

/* Zero entry i of shadow table r (freeing the subtree below a link). */
static void zap(struct shadow_guest *g, uint32_t r, unsigned i)
{
	struct spage *s = rec(g, r);
	uint64_t *t = fill_table(g, s->mfn);
	uint64_t e = t[i];
	if (!(e & PTE_P))
		return;
	if (s->level == 1) {
		rmap_del(g, r, i, (e & PTE_ADDR) >> 12);
	} else {
		uint32_t child = record_of(g, (e & PTE_ADDR) >> 12);
		if (child != NONE32)
			free_subtree(g, child);
	}
	t[i] = 0;
	g->flush_needed = true;
}

uint32_t fill_new_root(struct shadow_guest *g, uint64_t root_gfn)
{
	struct spage tmpl = { .src_gfn = root_gfn, .level = 4, .acc_rw = true };
	uint32_t r = new_table(g, &tmpl);
	if (r != NONE32 && g->m->stub_pdpt_mfn)
		fill_table(g, rec(g, r)->mfn)[SHADOW_STUB_SLOT] =
			(g->m->stub_pdpt_mfn << 12) | PTE_P | PTE_RW | PTE_US;
	return r;
}

void fill_drop_all(struct shadow_guest *g, bool fresh)
{
	struct shadow_guest_priv *p = g->priv;
	uint64_t root_gfn = g->guest_root_gpa >> 12;
	g->flush_needed = true;
	if (p->root == NONE32 || fresh) {
		uint32_t r = fill_new_root(g, root_gfn);
		if (r != NONE32 || p->root == NONE32) {
			if (p->root != NONE32)
				free_subtree(g, p->root);
			p->root = r;
			g->shadow_root_mfn = r == NONE32 ? 0 : rec(g, r)->mfn;
			return;
		}
	}
	/* In place: keep the root frame, empty the guest half. */
	for (unsigned i = 0; i < GUEST_PML4_SLOTS; i++)
		zap(g, p->root, i);
	if (rec(g, p->root)->src_gfn != root_gfn) {
		derived_unlink(g, p->root);
		rec(g, p->root)->src_gfn = root_gfn;
		derived_link(g, p->root);
	}
}

void fill_free_all(struct shadow_guest *g)
{
	if (g->priv->root != NONE32)
		free_subtree(g, g->priv->root);
	g->priv->root = NONE32;
	g->shadow_root_mfn = 0;
}

/* What the child of shadow table r's entry i must be, for the walk w. */
static struct spage child_template(const struct shadow_guest *g, uint32_t r, unsigned i,
				   const struct guest_walk *w)
{
	const struct spage *s = rec(g, r);
	unsigned level = s->level;
	if (s->synthetic)
		return (struct spage){ .src_gfn = s->src_gfn, .src_index = s->src_index,
				       .src_level = s->src_level, .level = (uint8_t)(level - 1),
				       .synthetic = true,
				       .syn_gfn = s->syn_gfn + i * PT_FRAMES(level),
				       .acc_rw = s->acc_rw, .acc_nx = s->acc_nx };
	uint64_t e = w->entry[level];
	bool rw = s->acc_rw && (e & PTE_RW), nx = s->acc_nx || (e & PTE_NX);
	if (w->leaf_level == level) {
		uint64_t first = w->gfn & ~(PT_FRAMES(level) - 1);
		return (struct spage){ .src_gfn = w->table[level], .src_index = (uint16_t)i,
				       .src_level = (uint8_t)level, .level = (uint8_t)(level - 1),
				       .synthetic = true, .syn_gfn = first,
				       .acc_rw = rw, .acc_nx = nx };
	}
	return (struct spage){ .src_gfn = w->table[level - 1], .level = (uint8_t)(level - 1),
			       .acc_rw = rw, .acc_nx = nx };
}

static bool same_derivation(const struct spage *a, const struct spage *b)
{
	if (a->level != b->level || a->synthetic != b->synthetic || a->src_gfn != b->src_gfn ||
	    a->acc_rw != b->acc_rw || a->acc_nx != b->acc_nx)
		return false;
	return !a->synthetic || (a->src_index == b->src_index && a->src_level == b->src_level &&
				 a->syn_gfn == b->syn_gfn);
}

/*
 * The shadow leaf for entry i of shadow L1 table r, from the guest's entries
 * now. A frame host reclaim holds (SF_EVICTED) has none. A frame the balloon
 * took (SF_ABSENT) has none either, except for the fault path (absent !=
 * NULL), which is given its leaf and the gfn in *absent.
 */
static bool leaf_for(const struct shadow_guest *g, uint32_t r, unsigned i, uint64_t *out,
		     uint64_t *absent)
{
	const struct spage *s = rec(g, r);
	struct entry_info info;
	enum shadow_refusal why;
	uint64_t gfn, e;
	bool rw, nx;
	if (s->synthetic) {
		e = walk_read(&g->view, s->src_gfn, s->src_index);
		if (walk_check_shape(g->nr_frames, s->src_level, s->src_index, e, &info, &why) ||
		    info.kind != ENTRY_LEAF || info.frames == 1)
			return false;
		gfn = s->syn_gfn + i;
		if (gfn < info.gfn || gfn >= info.gfn + info.frames)
			return false;
		rw = s->acc_rw && (e & PTE_D);
		nx = s->acc_nx;
	} else {
		e = walk_read(&g->view, s->src_gfn, i);
		if (walk_check_shape(g->nr_frames, 1, i, e, &info, &why) || info.kind != ENTRY_LEAF)
			return false;
		gfn = info.gfn;
		rw = s->acc_rw && (e & PTE_RW) && (e & PTE_D);
		nx = s->acc_nx || (e & PTE_NX);
	}
	/* host reclaim's: the fault fetches it first (shadow__fault), prefetch
	 * and refreshes leave it out */
	if (gfn >= g->nr_frames || frame_evicted(g, gfn))
		return false;
	if (g->frame[gfn] & SF_ABSENT) {
		if (!absent)
			return false;
		*absent = gfn;
	}
	/* page tables trap their writes; tracked, shared and zero frames too */
	rw = rw && !g->pt_level[gfn] && !(g->frame[gfn] & SF_WP);
	*out = (g->p2m_mfn[gfn] << 12) | PTE_P | PTE_US | PTE_A | (rw ? PTE_RW | PTE_D : 0) |
	       (nx ? PTE_NX : 0);
	return true;
}

/*
 * Write shadow leaf i of table r, keeping the rmap exact. quiet: the caller
 * tells KVM about the frames itself (no flush_needed). evict: make room on a
 * frame at RMAP_FRAME_MAX leaves (rmap_add). 0, or -EMLINK / -ENOMEM with the
 * leaf left not present.
 */
static int write_leaf(struct shadow_guest *g, uint32_t r, unsigned i, uint64_t v, bool quiet,
		      bool evict)
{
	uint64_t *t = fill_table(g, rec(g, r)->mfn);
	uint64_t old = t[i];
	if (old == v)
		return 0;
	bool same_frame = (old & PTE_P) && (v & PTE_P) && (old & PTE_ADDR) == (v & PTE_ADDR);
	if ((old & PTE_P) && !quiet &&
	    (!same_frame || ((old & PTE_RW) && !(v & PTE_RW)) || (!(old & PTE_NX) && (v & PTE_NX))))
		g->flush_needed = true;
	if (same_frame) {
		t[i] = v;
		return 0;
	}
	if (old & PTE_P)
		rmap_del(g, r, i, (old & PTE_ADDR) >> 12);
	t[i] = 0;
	if (v & PTE_P) {
		int err = rmap_add(g, r, i, (v & PTE_ADDR) >> 12, evict);
		if (err)
			return err;
	}
	t[i] = v;
	return 0;
}

static int set_leaf(struct shadow_guest *g, uint32_t r, unsigned i, uint64_t v, bool evict)
{
	return write_leaf(g, r, i, v, false, evict);
}

/*
 * Fill up to g->prefetch - 1 more entries of table r, nearest to the faulting
 * index first (alternately after and before it), skipping entries that are
 * present already or not present in the guest. Counting only new entries
 * keeps a sequential walk at prefetch entries per fault, where a fixed window
 * around the fault would mostly find its own earlier fills.
 */
static void prefetch(struct shadow_guest *g, uint32_t r, unsigned fidx)
{
	unsigned want = g->prefetch < 1 ? 0 : g->prefetch > PT_ENTRIES ? PT_ENTRIES - 1
									 : g->prefetch - 1;
	uint64_t *t = fill_table(g, rec(g, r)->mfn);
	for (unsigned d = 1; want && d < PT_ENTRIES; d++) {
		for (int side = 0; side < 2 && want; side++) {
			int j = side ? (int)fidx - (int)d : (int)(fidx + d);
			uint64_t v;
			if (j < 0 || j >= (int)PT_ENTRIES || (t[j] & PTE_P) ||
			    !leaf_for(g, r, (unsigned)j, &v, NULL))
				continue;
			int err = set_leaf(g, r, (unsigned)j, v, false);
			if (err == -EMLINK)
				continue; /* a fault there will make room */
			if (err)
				return;
			g->stats.prefetched++;
			want--;
		}
	}
}

enum fill_result fill_fault(struct shadow_guest *g, uint64_t va, const struct guest_walk *w)
{
	uint32_t r = g->priv->root;
	if (r == NONE32)
		return FILL_NO_MEMORY;
	for (unsigned level = 4; level >= 2; level--) {
		unsigned i = PT_INDEX(va, level);
		struct spage want = child_template(g, r, i, w);
		uint64_t *t = fill_table(g, rec(g, r)->mfn);
		if (t[i] & PTE_P) {
			uint32_t child = record_of(g, (t[i] & PTE_ADDR) >> 12);
			if (child != NONE32 && same_derivation(rec(g, child), &want)) {
				r = child;
				continue;
			}
			zap(g, r, i);
		}
		uint32_t child = new_table(g, &want);
		if (child == NONE32)
			return FILL_NO_MEMORY;
		t = fill_table(g, rec(g, r)->mfn);
		t[i] = (rec(g, child)->mfn << 12) | UPPER_FLAGS;
		r = child;
	}
	unsigned i = PT_INDEX(va, 1);
	uint64_t v, absent = UINT64_MAX;
	if (!leaf_for(g, r, i, &v, &absent))
		return FILL_GUEST;
	if (absent != UINT64_MAX) {
		/* the guest touched a frame it gave the balloon: it reads zero,
		 * and what it writes takes host memory again; counted */
		g->frame[absent] &= (uint8_t)~SF_ABSENT;
		g->stats.ballooned_touches++;
	}
	if (set_leaf(g, r, i, v, true))
		return FILL_NO_MEMORY;
	prefetch(g, r, i);
	return FILL_OK;
}

void fill_invalidate(struct shadow_guest *g, uint64_t gfn, unsigned idx)
{
	if (gfn >= g->nr_frames)
		return;
	uint32_t r = g->priv->derived[gfn];
	while (r != NONE32) {
		uint32_t next = rec(g, r)->next;
		if (rec(g, r)->level != 4 || idx < GUEST_PML4_SLOTS)
			zap(g, r, idx);
		r = next;
	}
}

void fill_flush_va(struct shadow_guest *g, uint64_t va)
{
	uint32_t r = g->priv->root;
	if (r == NONE32 || va >= L1_SHADOW_GUEST_VA_END)
		return;
	for (unsigned level = 4; level >= 2; level--) {
		uint64_t e = fill_table(g, rec(g, r)->mfn)[PT_INDEX(va, level)];
		if (!(e & PTE_P))
			return;
		r = record_of(g, (e & PTE_ADDR) >> 12);
		if (r == NONE32)
			return;
	}
	zap(g, r, PT_INDEX(va, 1));
}

unsigned fill_refresh_mfn(struct shadow_guest *g, uint64_t mfn, uint64_t *first_moved)
{
	/* collect first: rewriting a leaf moves it off the list being walked
	 * (at most RMAP_FRAME_MAX of them) */
	uint32_t nodes[RMAP_FRAME_MAX];
	unsigned n = 0, moved = 0;
	uint32_t first = rmap_first(g, mfn);
	for (uint32_t k = first; k != NONE32 && n < RMAP_FRAME_MAX; k = rmap_next(g, first, k))
		nodes[n++] = k;
	for (unsigned k = 0; k < n; k++) {
		uint32_t r = RMAP_NODE_RECORD(nodes[k]);
		unsigned idx = RMAP_NODE_INDEX(nodes[k]);
		uint64_t v = 0;
		if (!leaf_for(g, r, idx, &v, NULL))
			v = 0;
		uint64_t old = fill_table(g, rec(g, r)->mfn)[idx];
		if ((old & PTE_ADDR) != (v & PTE_ADDR) || !(v & PTE_P)) {
			if (moved++ == 0 && first_moved)
				*first_moved = RMAP_SLOT(rec(g, r)->mfn, idx);
		}
		/* no room on the new target: the leaf stays dropped, it fills again */
		write_leaf(g, r, idx, v, true, false);
	}
	return moved;
}

bool fill_leaf_slot(const struct shadow_guest *g, uint64_t va, uint64_t *slot)
{
	uint32_t r = g->priv->root;
	if (r == NONE32 || va >= L1_SHADOW_GUEST_VA_END)
		return false;
	for (unsigned level = 4; level >= 2; level--) {
		uint64_t e = fill_table(g, rec(g, r)->mfn)[PT_INDEX(va, level)];
		if (!(e & PTE_P))
			return false;
		r = record_of(g, (e & PTE_ADDR) >> 12);
		if (r == NONE32)
			return false;
	}
	*slot = RMAP_SLOT(rec(g, r)->mfn, PT_INDEX(va, 1));
	return true;
}
