/* SPDX-License-Identifier: MIT */
/*
 * DOC: the shadow MMU's public API: guests, typing, faults, updates.
 *
 * Typing. A guest page is a page-table page of level L (pt_level[gfn] = L)
 * while it is part of the guest's current tree. new_baseptr validates a whole
 * tree (walk.c) and retypes: the old tree's pages are untyped, the new tree's
 * typed. An mmu_update (or an emulated direct write) that links an untyped
 * page types it and its subtree after validating them, and write-protects the
 * shadow leaves that map them (through the reverse map).
 *
 * Untyping is by reference count: refs[gfn] counts the links to gfn from
 * entries of typed tables, plus one for the root. An update that removes or
 * replaces a link drops a reference; at zero the page is untyped and drops
 * the references of its own links, recursively. So a page the guest stops
 * using as a table becomes ordinary (writable) memory again without a
 * new_baseptr. Shadows derived from it are gone by then: every link to it was
 * changed, and each change zapped the shadow subtree below it.
 *
 * Accessed and dirty bits are maintained in the guest's entries as hardware
 * would on the path of each fault: A on every entry walked, D on the leaf on a
 * write. A shadow leaf is writable only when the guest leaf is dirty, so the
 * first write to a clean page faults once and sets D: D is exact. Prefetched
 * neighbours do not get A set (a page reached only through a prefetched
 * translation may keep A clear). Hypercall translations (shadow__translate)
 * set neither.
 *
 * Every public function takes g->lock. Refusals are counted by reason in
 * g->stats.refusals and returned as -L1_E* (walk.c maps reasons to codes).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mmu/clock.h"
#include "mmu/shadow/shadow_priv.h"

static void count_refusal(struct shadow_guest *g, enum shadow_refusal why)
{
	if (why < SHADOW_NR_REFUSALS)
		g->stats.refusals[why]++;
}

static uint8_t *guest_bytes(const struct shadow_machine *m, uint64_t first_mfn, uint64_t n)
{
	return ept__gpa_ptr(&m->mem, first_mfn * EPT_PAGE_SIZE, n * EPT_PAGE_SIZE);
}

static void free_guest_arrays(struct shadow_guest *g)
{
	struct shadow_guest_priv *p = g->priv;
	if (p) {
		hmap_destroy(&p->pages);
		rmap_destroy(&p->rmap);
		free(p->sp);
		free(p->derived);
		free(p->refs);
		free(p->typed_2m);
		free(p->typed_1g);
		free(p->ctx.pend);
		free(p->ctx.pend_list);
		free(p->ctx.pend_2m);
		free(p->ctx.pend_1g);
		free(p);
	}
	free(g->p2m_mfn);
	free(g->pt_level);
	free(g->frame);
	free(g->ev);
	free(g->stale.gfn);
	free(g->discard.gfn);
	g->frame = NULL;
	g->ev = NULL;
	g->stale = g->discard = (struct shadow_gfns){ 0 };
	g->priv = NULL;
	g->p2m_mfn = NULL;
	g->pt_level = NULL;
}

uint64_t shadow__default_table_quota(uint64_t mem_bytes)
{
	return SHADOW_TABLES_BASE + mem_bytes / (256 * 1024);
}

uint64_t shadow__default_meta_quota(uint64_t mem_bytes)
{
	return shadow__default_table_quota(mem_bytes) * SHADOW_META_PER_TABLE;
}

int shadow__guest_init(struct shadow_guest *g, struct shadow_machine *m, uint64_t mem_bytes)
{
	*g = (struct shadow_guest){ .m = m, .prefetch = PT_ENTRIES,
				    .table_quota = shadow__default_table_quota(mem_bytes),
				    .meta_quota = shadow__default_meta_quota(mem_bytes) };
	if (mem_bytes == 0 || mem_bytes % EPT_PAGE_SIZE || mem_bytes > SHADOW_MAX_GUEST_MEM)
		return -EINVAL;
	uint64_t n = mem_bytes / EPT_PAGE_SIZE;
	int64_t first = shadow__alloc_frames(m, n);
	if (first < 0)
		return -ENOMEM;
	g->first_mfn = (uint64_t)first;
	g->nr_frames = n;
	uint8_t *hva = guest_bytes(m, g->first_mfn, n);
	/* The frames may have been another guest's: they must read as zero. */
	madvise(hva, mem_bytes, MADV_DONTNEED);

	struct shadow_guest_priv *p = calloc(1, sizeof(*p));
	g->priv = p;
	g->p2m_mfn = malloc(n * sizeof(*g->p2m_mfn));
	g->pt_level = calloc(n, 1);
	g->frame = calloc(n, 1);
	if (p) {
		p->derived = malloc(n * sizeof(*p->derived));
		p->refs = calloc(n, sizeof(*p->refs));
		p->ctx.pend = calloc(n, 1);
		p->ctx.pend_list = malloc(n * sizeof(*p->ctx.pend_list));
		p->typed_2m = calloc(REGION_2M(n) + 1, sizeof(uint32_t));
		p->typed_1g = calloc(REGION_1G(n) + 1, sizeof(uint32_t));
		p->ctx.pend_2m = calloc(REGION_2M(n) + 1, sizeof(uint32_t));
		p->ctx.pend_1g = calloc(REGION_1G(n) + 1, sizeof(uint32_t));
	}
	int err = -ENOMEM;
	if (!p || !g->p2m_mfn || !g->pt_level || !g->frame || !p->derived || !p->refs || !p->ctx.pend ||
	    !p->ctx.pend_list || !p->typed_2m || !p->typed_1g || !p->ctx.pend_2m || !p->ctx.pend_1g ||
	    (err = ept__mem_view(&g->view, hva, mem_bytes))) {
		free_guest_arrays(g);
		shadow__free_frames(m, g->first_mfn, n);
		*g = (struct shadow_guest){ 0 };
		return err;
	}
	for (uint64_t i = 0; i < n; i++)
		g->p2m_mfn[i] = g->first_mfn + i;
	memset(p->derived, 0xff, n * sizeof(*p->derived));
	p->pages = (struct hmap){ .free_head = NONE32 };
	p->rmap = (struct rmap){ .heads = { .free_head = NONE32 } };
	p->sp_free = NONE32;
	p->root = NONE32;
	p->ctx.mem = &g->view;
	p->ctx.nr_frames = n;
	p->ctx.pt_level = g->pt_level;
	p->ctx.typed_2m = p->typed_2m;
	p->ctx.typed_1g = p->typed_1g;
	p->ctx.g = g;
	p->ctx.evicted = UINT64_MAX;
	pthread_mutex_init(&g->lock, NULL);
	return 0;
}

void shadow__guest_destroy(struct shadow_guest *g)
{
	if (!g->priv)
		return;
	pthread_mutex_lock(&g->lock);
	fill_free_all(g);
	/* Give the host its memory back now, not when the frames are reused. */
	madvise(guest_bytes(g->m, g->first_mfn, g->nr_frames), g->nr_frames * EPT_PAGE_SIZE,
		MADV_DONTNEED);
	shadow__free_frames(g->m, g->first_mfn, g->nr_frames);
	free_guest_arrays(g);
	ept__mem_destroy(&g->view);
	pthread_mutex_unlock(&g->lock);
	pthread_mutex_destroy(&g->lock);
	*g = (struct shadow_guest){ 0 };
}

/* Drop a reference to table gfn; at zero untype it and drop its own links. */
static void unref(struct shadow_guest *g, uint64_t gfn)
{
	uint32_t *refs = g->priv->refs;
	if (gfn >= g->nr_frames || refs[gfn] == 0 || --refs[gfn])
		return;
	unsigned level = g->pt_level[gfn];
	walk_set_typed(g, gfn, 0);
	for (unsigned i = 0; level > 1 && i < PT_ENTRIES; i++) {
		struct entry_info info;
		enum shadow_refusal why;
		if (!walk_check_shape(g->nr_frames, level, i, walk_read(&g->view, gfn, i), &info,
				      &why) && info.kind == ENTRY_LINK)
			unref(g, info.gfn);
	}
}

/* Type what the last validation left pending; count the links of the new tables. */
static void type_pending(struct shadow_guest *g, bool write_protect)
{
	struct walk_ctx *c = &g->priv->ctx;
	for (uint64_t k = 0; k < c->pend_n; k++) {
		uint64_t gfn = c->pend_list[k];
		walk_set_typed(g, gfn, c->pend[gfn]);
		/* a table is the guest's own frame: the host reads and writes it
		 * there (typed first, so the leaves that move to it are read-only) */
		if (g->p2m_mfn[gfn] != own_mfn(g, gfn))
			share_note_write(g, gfn);
	}
	for (uint64_t k = 0; k < c->pend_n; k++) {
		uint64_t gfn = c->pend_list[k];
		unsigned level = c->pend[gfn];
		for (unsigned i = 0; level > 1 && i < PT_ENTRIES; i++) {
			struct entry_info info;
			enum shadow_refusal why;
			if (!walk_check_shape(g->nr_frames, level, i, walk_read(&g->view, gfn, i),
					      &info, &why) && info.kind == ENTRY_LINK)
				g->priv->refs[info.gfn]++;
		}
		if (write_protect)
			rmap_write_protect(g, g->p2m_mfn[gfn]);
	}
	walk_pend_reset(c);
}

/* Validate and apply one entry write (mmu_update or emulated). 0 or -L1_E*. */
static int apply_update(struct shadow_guest *g, uint64_t ptr, uint64_t val)
{
	struct walk_ctx *c = &g->priv->ctx;
	enum shadow_refusal why;
	int err = walk_validate_update(c, ptr, val, &why);
	if (c->evicted != UINT64_MAX || err) {
		walk_pend_reset(c);
		if (c->evicted != UINT64_MAX)
			return -EAGAIN; /* read a frame host reclaim holds: refetch() */
		count_refusal(g, why);
		return err;
	}
	uint64_t gfn = ptr / EPT_PAGE_SIZE;
	unsigned idx = (unsigned)(ptr % EPT_PAGE_SIZE) / 8;
	unsigned level = g->pt_level[gfn];
	uint64_t *slot = walk_entry_ptr(&g->view, gfn, idx);
	share_note_write(g, gfn); /* a table: its own frame; the write is recorded */
	uint64_t old = __atomic_exchange_n(slot, val, __ATOMIC_RELAXED);

	type_pending(g, true);
	struct entry_info now, was;
	walk_check_shape(g->nr_frames, level, idx, val, &now, &why);
	if (now.kind == ENTRY_LINK)
		g->priv->refs[now.gfn]++;
	if (!walk_check_shape(g->nr_frames, level, idx, old, &was, &why) &&
	    was.kind == ENTRY_LINK)
		unref(g, was.gfn);
	fill_invalidate(g, gfn, idx);
	return 0;
}

static int new_baseptr_locked(struct shadow_guest *g, uint64_t pml4_gpa)
{
	struct shadow_guest_priv *p = g->priv;
	enum shadow_refusal why;
	int err;
	if (pml4_gpa % EPT_PAGE_SIZE) {
		why = SHADOW_REFUSE_RESERVED;
		err = -L1_EINVAL;
	} else {
		err = walk_validate_tree(&p->ctx, pml4_gpa / EPT_PAGE_SIZE, &why);
	}
	if (p->ctx.evicted != UINT64_MAX || err) {
		walk_pend_reset(&p->ctx);
		if (p->ctx.evicted != UINT64_MAX)
			return -EAGAIN; /* read a frame host reclaim holds: refetch() */
		count_refusal(g, why);
		return err;
	}
	uint64_t root_gfn = pml4_gpa / EPT_PAGE_SIZE;
	uint32_t first_root = NONE32;
	if (p->root == NONE32) {
		first_root = fill_new_root(g, root_gfn);
		if (first_root == NONE32) {
			walk_pend_reset(&p->ctx);
			return -L1_ENOMEM;
		}
	}
	if (p->has_root)
		unref(g, g->guest_root_gpa / EPT_PAGE_SIZE);
	type_pending(g, false); /* every shadow is dropped below */
	p->refs[root_gfn]++;
	g->guest_root_gpa = pml4_gpa;
	p->has_root = true;
	if (first_root != NONE32) {
		p->root = first_root;
		g->shadow_root_mfn = p->sp[first_root].mfn;
		g->flush_needed = true;
	} else {
		/*
		 * Keep the root frame and empty it: a new CR3 makes KVM here reuse
		 * its cached shadows of recycled table frames without resyncing
		 * them (docs/machine-notes.md), while changes under an unchanged
		 * root are seen at the next entry.
		 */
		fill_drop_all(g, false);
	}
	g->stats.baseptrs++;
	return 0;
}

/*
 * The call under g->lock met a frame host reclaim holds (-EAGAIN, the frame
 * in ctx.evicted): bring it back and let the caller try again (0), or
 * -L1_ENOMEM: the store could not give it back (the guest's call fails).
 */
static int refetch(struct shadow_guest *g)
{
	uint64_t gfn = g->priv->ctx.evicted;
	g->priv->ctx.evicted = UINT64_MAX;
	return reclaim_fetch_relocked(g, gfn) < 0 ? -L1_ENOMEM : 0;
}

int shadow__new_baseptr(struct shadow_guest *g, uint64_t pml4_gpa)
{
	pthread_mutex_lock(&g->lock);
	int err;
	while ((err = new_baseptr_locked(g, pml4_gpa)) == -EAGAIN && !(err = refetch(g)))
		;
	pthread_mutex_unlock(&g->lock);
	return err;
}

int shadow__build_boot_tables(struct shadow_guest *g, uint64_t at_gpa, uint64_t *pml4_gpa,
			      uint64_t *end_gpa)
{
	if (at_gpa % EPT_PAGE_SIZE)
		return -L1_EINVAL;
	uint64_t n = g->nr_frames;
	uint64_t pts = (n + 511) / 512, pds = (pts + 511) / 512, pdpts = (pds + 511) / 512;
	uint64_t total = 1 + pdpts + pds + pts;
	uint64_t at = at_gpa / EPT_PAGE_SIZE;
	if (at > n || total > n - at)
		return -L1_ENOMEM;
	uint64_t pdpt0 = at + 1, pd0 = pdpt0 + pdpts, pt0 = pd0 + pds;
	const uint64_t upper = PTE_P | PTE_RW | PTE_US | PTE_A;

	/* the tables' frames are the host's writes; the p2m before g->lock (a
	 * backend lock is never held across a p2m move) */
	if (ept__mark_written(&g->view, at_gpa, total * EPT_PAGE_SIZE) < 0)
		return -L1_EINVAL;
	pthread_mutex_lock(&g->lock);
	memset(ept__gpa_ptr(&g->view, at_gpa, total * EPT_PAGE_SIZE), 0, total * EPT_PAGE_SIZE);
	for (uint64_t j = 0; j < pdpts; j++)
		*walk_entry_ptr(&g->view, at, (unsigned)j) = ((pdpt0 + j) << 12) | upper;
	for (uint64_t j = 0; j < pds; j++)
		*walk_entry_ptr(&g->view, pdpt0 + j / 512, j % 512) = ((pd0 + j) << 12) | upper;
	for (uint64_t j = 0; j < pts; j++)
		*walk_entry_ptr(&g->view, pd0 + j / 512, j % 512) = ((pt0 + j) << 12) | upper;
	for (uint64_t f = 0; f < n; f++) {
		bool table = f >= at && f < at + total;
		*walk_entry_ptr(&g->view, pt0 + f / 512, f % 512) =
			(f << 12) | PTE_P | PTE_US | PTE_A | (table ? 0 : PTE_RW | PTE_D);
	}
	int err = new_baseptr_locked(g, at_gpa);
	pthread_mutex_unlock(&g->lock);
	if (err)
		return err;
	*pml4_gpa = at_gpa;
	*end_gpa = (at + total) * EPT_PAGE_SIZE;
	return 0;
}

/* Set A on the entries of walk w, and D on its leaf for a write. */
static void set_accessed(struct shadow_guest *g, struct guest_walk *w, uint64_t va, bool write)
{
	for (unsigned level = 4; level >= w->leaf_level; level--) {
		uint64_t bits = PTE_A | (level == w->leaf_level && write ? PTE_D : 0);
		if ((w->entry[level] & bits) == bits)
			continue;
		uint64_t *e = walk_entry_ptr(&g->view, w->table[level], PT_INDEX(va, level));
		w->entry[level] = __atomic_or_fetch(e, bits, __ATOMIC_RELAXED);
	}
}

/* One try at a fault; an evicted frame in the way is left in *evicted_gfn. */
static enum shadow_fault_result fault_once(struct shadow_guest *g, uint64_t va,
					   uint32_t error_code, bool first, uint64_t *evicted_gfn)
{
	bool write = error_code & 2, fetch = error_code & 16;
	enum shadow_fault_result res = SHADOW_GUEST_FAULT;
	pthread_mutex_lock(&g->lock);
	if (first)
		g->stats.faults++;
	struct guest_walk w = { 0 };
	if (g->priv->has_root)
		walk_guest(&g->view, g->nr_frames, g->pt_level, g->guest_root_gpa / EPT_PAGE_SIZE,
			   va, &w);
	if (!w.present || (write && !w.rw) || (fetch && w.nx))
		goto out;
	if (write && g->pt_level[w.gfn]) {
		res = SHADOW_PT_WRITE;
		goto out;
	}
	if (frame_evicted(g, w.gfn)) {
		/* its page holds nothing now: shadow__fault() fetches it first */
		*evicted_gfn = w.gfn;
		res = SHADOW_FETCH_FAILED;
		goto out;
	}
	if (write && (g->frame[w.gfn] & SF_WP)) {
		/* write-tracked, shared or zero: the guest may write, l1vmm watches */
		g->stats.wp_faults++;
		share_write_fault(g, w.gfn, va);
	}
	set_accessed(g, &w, va, write);
	enum fill_result f = fill_fault(g, va, &w);
	if (f == FILL_NO_MEMORY) {
		/* a quota, or the machine's frames: this guest's shadows go */
		g->stats.quota_drops++;
		fill_drop_all(g, false);
		f = fill_fault(g, va, &w);
	}
	res = f == FILL_OK ? SHADOW_FIXED : f == FILL_GUEST ? SHADOW_GUEST_FAULT : SHADOW_NO_MEMORY;
out:
	if (res == SHADOW_FIXED)
		g->stats.fills++;
	else if (res == SHADOW_GUEST_FAULT)
		g->stats.guest_faults++;
	pthread_mutex_unlock(&g->lock);
	return res;
}

/* Fetches of evicted frames in one fault before the vCPU retries from the
 * guest (a frame evicted again at once, or several frames in the way). */
#define FAULT_FETCHES 4

/* The access's first fault met evicted frame gfn: fetch it, fault again, and so on. */
static enum shadow_fault_result fetch_and_refault(struct shadow_guest *g, uint64_t va,
						  uint32_t error_code, uint64_t gfn)
{
	uint64_t since = clock__mono_ns();
	for (unsigned k = 0;; k++) {
		if (k == FAULT_FETCHES)
			return SHADOW_FIXED; /* the retried instruction faults again */
		/* no lock held: the fetch takes the p2m lock, and waits while an
		 * eviction of the frame is in flight */
		if (reclaim_fault_fetch(g, gfn, since) < 0)
			return SHADOW_FETCH_FAILED;
		gfn = UINT64_MAX;
		enum shadow_fault_result res = fault_once(g, va, error_code, false, &gfn);
		if (gfn == UINT64_MAX)
			return res;
	}
}

enum shadow_fault_result shadow__fault(struct shadow_guest *g, uint64_t va, uint32_t error_code)
{
	uint64_t gfn = UINT64_MAX;
	enum shadow_fault_result res = fault_once(g, va, error_code, true, &gfn);
	return gfn == UINT64_MAX ? res : fetch_and_refault(g, va, error_code, gfn);
}

enum shadow_fault_result shadow__fault_evicted(struct shadow_guest *g, uint64_t va,
					       uint32_t error_code, uint64_t gfn)
{
	return fetch_and_refault(g, va, error_code, gfn);
}

enum shadow_fault_result shadow__fault_nowait(struct shadow_guest *g, uint64_t va,
					     uint32_t error_code, uint64_t *gfn)
{
	*gfn = UINT64_MAX;
	enum shadow_fault_result res = fault_once(g, va, error_code, true, gfn);
	return *gfn == UINT64_MAX ? res : SHADOW_EVICTED;
}

int shadow__fetch(struct shadow_guest *g, uint64_t gfn)
{
	return reclaim_fault_fetch(g, gfn, clock__mono_ns());
}

static int bad_write(struct shadow_guest *g, int err)
{
	count_refusal(g, SHADOW_REFUSE_BAD_WRITE);
	return err;
}

static int emulate_locked(struct shadow_guest *g, uint64_t va, const uint8_t *insn, size_t len,
			  const struct kvm_regs *regs)
{
	struct shadow_store st;
	if (decode_store(insn, len, regs, &st) || st.ea != va || (st.size != 4 && st.size != 8) ||
	    va % st.size)
		return bad_write(g, -L1_EINVAL);
	struct guest_walk w = { 0 };
	if (g->priv->has_root)
		walk_guest(&g->view, g->nr_frames, g->pt_level, g->guest_root_gpa / EPT_PAGE_SIZE,
			   va, &w);
	if (!w.present || !w.rw)
		return bad_write(g, -L1_EFAULT);
	uint64_t gpa = w.gfn * EPT_PAGE_SIZE + va % EPT_PAGE_SIZE;
	uint64_t ptr = gpa & ~7ull;
	uint64_t *entry = walk_entry_ptr(&g->view, w.gfn, (unsigned)(gpa % EPT_PAGE_SIZE) / 8);
	set_accessed(g, &w, va, true); /* the CPU's walk did, before the write */
	uint64_t val = st.value;
	if (st.size == 4) {
		uint64_t cur = __atomic_load_n(entry, __ATOMIC_RELAXED);
		val = gpa & 4 ? (cur & 0xffffffffull) | (st.value << 32)
			      : (cur & ~0xffffffffull) | st.value;
	}
	if (!g->pt_level[w.gfn]) {
		/* No longer a table (untyped since the fault): an ordinary write,
		 * to the guest's own frame (copy-on-write if it was shared since,
		 * fetched first if host reclaim took it since). */
		if (frame_evicted(g, w.gfn)) {
			g->priv->ctx.evicted = w.gfn;
			return -EAGAIN;
		}
		share_note_write(g, w.gfn);
		__atomic_store_n(entry, val, __ATOMIC_RELAXED);
	} else {
		int err = apply_update(g, ptr, val);
		if (err)
			return err;
		g->stats.pt_writes++;
	}
	return (int)st.length;
}

int shadow__emulate_pt_write(struct shadow_guest *g, uint64_t va, const uint8_t *insn,
			     size_t len, const struct kvm_regs *regs)
{
	pthread_mutex_lock(&g->lock);
	int ret;
	while ((ret = emulate_locked(g, va, insn, len, regs)) == -EAGAIN && !(ret = refetch(g)))
		;
	pthread_mutex_unlock(&g->lock);
	return ret;
}

int shadow__mmu_update(struct shadow_guest *g, const struct l1_mmu_update *req, uint64_t count,
		       uint64_t *done)
{
	*done = 0;
	pthread_mutex_lock(&g->lock);
	int err = 0;
	if (count > L1_MMU_UPDATE_MAX) {
		count_refusal(g, SHADOW_REFUSE_TOO_MANY);
		err = -L1_E2BIG;
		count = 0;
	}
	for (uint64_t i = 0; i < count;) {
		err = apply_update(g, req[i].ptr, req[i].val);
		if (err == -EAGAIN && !(err = refetch(g)))
			continue; /* the same entry again, its frames back */
		if (err)
			break;
		g->stats.updates++;
		*done = ++i;
	}
	pthread_mutex_unlock(&g->lock);
	return err;
}

void shadow__flush(struct shadow_guest *g, uint64_t va)
{
	pthread_mutex_lock(&g->lock);
	g->stats.flushes++;
	if (va == L1_FLUSH_ALL) {
		/* In place: the root, so the vCPUs' CR3, stays (only new_baseptr moves it). */
		if (g->priv->has_root)
			fill_drop_all(g, false);
	} else {
		fill_flush_va(g, va);
	}
	pthread_mutex_unlock(&g->lock);
}

int shadow__translate(struct shadow_guest *g, uint64_t va, bool write, uint64_t *gpa)
{
	pthread_mutex_lock(&g->lock);
	struct guest_walk w = { 0 };
	if (g->priv->has_root)
		walk_guest(&g->view, g->nr_frames, g->pt_level, g->guest_root_gpa / EPT_PAGE_SIZE,
			   va, &w);
	/* The host must not write a page table behind the validator's back. */
	bool ok = w.present && (!write || (w.rw && !g->pt_level[w.gfn]));
	if (ok)
		*gpa = w.gfn * EPT_PAGE_SIZE + va % EPT_PAGE_SIZE;
	pthread_mutex_unlock(&g->lock);
	return ok ? 0 : -L1_EFAULT;
}

/*
 * One page's part of a host access: chunk bytes at offset off of frame gfn.
 * Under g->lock. 0 (copied), 1 (the frame was evicted and is fetched now:
 * look again, the lock was let go) or -L1_EFAULT.
 */
static int access_frame(struct shadow_guest *g, uint64_t gfn, uint64_t off, uint8_t *p,
			size_t chunk, bool write, unsigned *fetched)
{
	if (frame_evicted(g, gfn)) {
		/* its page holds nothing now: bring it back, then look again */
		int rc = reclaim_fetch_relocked(g, gfn);
		if (rc < 0)
			return -L1_EFAULT;
		if (fetched && rc == 1)
			(*fetched)++;
		return 1;
	}
	if (write)
		share_note_write(g, gfn);
	uint8_t *host = frame_ptr(g, gfn) + off;
	if (write)
		memcpy(host, p, chunk);
	else
		memcpy(p, host, chunk);
	return 0;
}

/*
 * The frame of guest address at (a guest-virtual one through the guest's
 * tables, or a guest-physical one): 0 and *gfn, or -L1_EFAULT (not mapped,
 * outside the guest, or a write the host may not make: a page table, read
 * only). Under g->lock.
 */
static int resolve(struct shadow_guest *g, uint64_t at, bool virt, bool write, uint64_t *gfn)
{
	if (!virt) {
		*gfn = at / EPT_PAGE_SIZE;
		return *gfn < g->nr_frames && !(write && g->pt_level[*gfn]) ? 0 : -L1_EFAULT;
	}
	struct guest_walk w = { 0 };
	if (g->priv->has_root && at < L1_SHADOW_GUEST_VA_END)
		walk_guest(&g->view, g->nr_frames, g->pt_level, g->guest_root_gpa / EPT_PAGE_SIZE,
			   at, &w);
	/* the host must not write a page table behind the validator's back */
	if (!w.present || (write && (!w.rw || g->pt_level[w.gfn])))
		return -L1_EFAULT;
	*gfn = w.gfn;
	return 0;
}

/* shadow__access() and shadow__access_gpa(): 0, 1 (an evicted frame left to
 * the caller, fetch NULL with no_fetch) or -L1_EFAULT. */
static int access_range(struct shadow_guest *g, uint64_t at, bool virt, uint8_t *p, size_t len,
			bool write, bool no_fetch, unsigned *fetched)
{
	int rc = 0;
	pthread_mutex_lock(&g->lock);
	while (len) {
		size_t chunk = EPT_PAGE_SIZE - (at & (EPT_PAGE_SIZE - 1));
		if (chunk > len)
			chunk = len;
		uint64_t gfn;
		rc = resolve(g, at, virt, write, &gfn);
		if (rc < 0)
			break;
		if (no_fetch && frame_evicted(g, gfn)) {
			rc = 1; /* the caller reads it from the store */
			break;
		}
		rc = access_frame(g, gfn, at & (EPT_PAGE_SIZE - 1), p, chunk, write, fetched);
		if (rc < 0)
			break;
		if (rc > 0) {
			rc = 0;
			continue;
		}
		p += chunk;
		at += chunk;
		len -= chunk;
	}
	pthread_mutex_unlock(&g->lock);
	return rc;
}

int shadow__access(struct shadow_guest *g, uint64_t va, void *buf, size_t len, bool write)
{
	return access_range(g, va, true, buf, len, write, false, NULL);
}

int shadow__access_gpa(struct shadow_guest *g, uint64_t gpa, void *buf, size_t len, bool write,
		       unsigned *fetched)
{
	if (gpa / EPT_PAGE_SIZE >= g->nr_frames || len > (g->nr_frames * EPT_PAGE_SIZE) - gpa)
		return -L1_EFAULT;
	return access_range(g, gpa, false, buf, len, write, fetched == NULL, fetched);
}

unsigned shadow__unmap_frame(struct shadow_guest *g, uint64_t mfn)
{
	pthread_mutex_lock(&g->lock);
	unsigned n = rmap_unmap(g, mfn);
	pthread_mutex_unlock(&g->lock);
	return n;
}

bool shadow__take_flush_needed(struct shadow_guest *g)
{
	pthread_mutex_lock(&g->lock);
	bool v = g->flush_needed;
	g->flush_needed = false;
	pthread_mutex_unlock(&g->lock);
	return v;
}
