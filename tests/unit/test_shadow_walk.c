/*
 * Unit tests: the shadow MMU's validator and typing (mmu/shadow/walk.c,
 * shadow.c): boot tables, new_baseptr, mmu_update refusals, typing and
 * untyping, translate. A 16 MiB fake machine, no KVM.
 */
#include "cmocka_all.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shadow_fixture.h"

static int setup(void **state)
{
	return fx_setup(state, 16 * MiB, GUEST_MEM, 0);
}

static int teardown(void **state)
{
	return fx_teardown(state);
}

static uint64_t refusals(const struct shadow_guest *g)
{
	uint64_t n = 0;
	for (int i = 0; i < SHADOW_NR_REFUSALS; i++)
		n += g->stats.refusals[i];
	return n;
}

static void boot_tables_identity_map(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	uint64_t pml4, end;
	assert_int_equal(shadow__build_boot_tables(g, 1 * MiB, &pml4, &end), 0);
	/* 1024 frames: 2 PTs, 1 PD, 1 PDPT, 1 PML4 */
	assert_int_equal(pml4, 1 * MiB);
	assert_int_equal(end, 1 * MiB + 5 * 4096);
	assert_int_equal(g->guest_root_gpa, 1 * MiB);
	assert_int_not_equal(g->shadow_root_mfn, 0);
	assert_int_equal(g->stats.baseptrs, 1);
	uint64_t t0 = MiB / 4096;
	assert_int_equal(g->pt_level[t0], 4);
	assert_int_equal(g->pt_level[t0 + 1], 3);
	assert_int_equal(g->pt_level[t0 + 2], 2);
	assert_int_equal(g->pt_level[t0 + 3], 1);
	assert_int_equal(g->pt_level[t0 + 4], 1);
	for (uint64_t gfn = 0; gfn < NR; gfn++) {
		bool table = gfn >= t0 && gfn < t0 + 5;
		uint64_t gpa = 0;
		assert_int_equal(shadow__translate(g, gfn * 4096 + 123, false, &gpa), 0);
		assert_int_equal(gpa, gfn * 4096 + 123);
		int w = shadow__translate(g, gfn * 4096, true, &gpa);
		assert_int_equal(w, table ? -L1_EFAULT : 0);
		if (!table)
			assert_int_equal(g->pt_level[gfn], 0);
	}
	assert_int_equal(shadow__translate(g, GUEST_MEM, false, &(uint64_t){ 0 }), -L1_EFAULT);
	assert_int_equal(refusals(g), 0);
}

static void boot_tables_need_room(void **state)
{
	struct fx *f = *state;
	uint64_t pml4, end;
	assert_int_equal(shadow__build_boot_tables(&f->g, GUEST_MEM - 4096, &pml4, &end),
			 -L1_ENOMEM);
	assert_int_equal(shadow__build_boot_tables(&f->g, GUEST_MEM + 4096, &pml4, &end),
			 -L1_ENOMEM);
	assert_int_equal(shadow__build_boot_tables(&f->g, 4096 + 8, &pml4, &end), -L1_EINVAL);
	assert_int_equal(f->g.stats.baseptrs, 0);
}

/* Install tree A at 600, then try a broken tree B at 700: nothing changes. */
static void expect_baseptr_refused(struct fx *f, void (*breaker)(struct shadow_guest *),
				   int err, enum shadow_refusal why)
{
	struct shadow_guest *g = &f->g;
	small_tree(g, 600);
	assert_int_equal(shadow__new_baseptr(g, 600 * 4096), 0);
	assert_int_equal(shadow__fault(g, 0x5000, 2), SHADOW_FIXED);
	uint64_t root = g->shadow_root_mfn, tables = g->stats.tables;
	small_tree(g, 700);
	breaker(g);
	uint64_t before = g->stats.refusals[why], total = refusals(g);
	assert_int_equal(shadow__new_baseptr(g, 700 * 4096), err);
	assert_int_equal(g->stats.refusals[why], before + 1);
	assert_int_equal(refusals(g), total + 1);
	assert_int_equal(g->guest_root_gpa, 600 * 4096);
	assert_int_equal(g->shadow_root_mfn, root);
	assert_int_equal(g->stats.tables, tables);
	assert_int_equal(g->stats.baseptrs, 1);
	for (unsigned k = 0; k < 4; k++) {
		assert_int_equal(g->pt_level[600 + k], 4 - k);
		assert_int_equal(g->pt_level[700 + k], 0);
	}
	for (uint64_t gfn = 0; gfn < NR; gfn++)
		if (gfn < 600 || gfn >= 604)
			assert_int_equal(g->pt_level[gfn], 0);
	assert_int_equal(g->priv->ctx.pend_n, 0);
}

static void brk_va_range(struct shadow_guest *g) { *ent(g, 700, 256) = (701ull << 12) | TBL; }
static void brk_ps_pml4(struct shadow_guest *g) { *ent(g, 700, 0) |= PTE_PS; }
static void brk_foreign_leaf(struct shadow_guest *g) { *ent(g, 703, 7) = (5000ull << 12) | DATA; }
static void brk_foreign_link(struct shadow_guest *g) { *ent(g, 702, 9) = ((uint64_t)NR << 12) | TBL; }
static void brk_pt_writable(struct shadow_guest *g) { *ent(g, 703, 7) = (702ull << 12) | DATA; }
static void brk_two_levels(struct shadow_guest *g) { *ent(g, 702, 1) = (701ull << 12) | TBL; }
static void brk_self(struct shadow_guest *g) { *ent(g, 701, 3) = (700ull << 12) | TBL; }
static void brk_large_reserved(struct shadow_guest *g)
{
	*ent(g, 702, 1) = (512ull << 12) | (1ull << 13) | DATA | PTE_PS;
}
static void brk_large_has_table(struct shadow_guest *g)
{
	/* a 2 MiB leaf over gfns [512, 1024), which contain the tables at 700.. */
	*ent(g, 702, 1) = (512ull << 12) | DATA | PTE_PS;
}
static void brk_large_past_end(struct shadow_guest *g)
{
	*ent(g, 702, 2) = (1024ull << 12) | PTE_P | PTE_PS;
}
static void brk_old_tree_writable(struct shadow_guest *g)
{
	/* maps a table of the *new* tree writable through a leaf of the same tree */
	*ent(g, 703, 100) = (700ull << 12) | DATA;
}

static void refuse_va_range(void **s) { expect_baseptr_refused(*s, brk_va_range, -L1_EPERM, SHADOW_REFUSE_VA_RANGE); }
static void refuse_ps_pml4(void **s) { expect_baseptr_refused(*s, brk_ps_pml4, -L1_EINVAL, SHADOW_REFUSE_RESERVED); }
static void refuse_foreign_leaf(void **s) { expect_baseptr_refused(*s, brk_foreign_leaf, -L1_EPERM, SHADOW_REFUSE_FOREIGN_GFN); }
static void refuse_foreign_link(void **s) { expect_baseptr_refused(*s, brk_foreign_link, -L1_EPERM, SHADOW_REFUSE_FOREIGN_GFN); }
static void refuse_pt_writable(void **s) { expect_baseptr_refused(*s, brk_pt_writable, -L1_EPERM, SHADOW_REFUSE_PT_WRITABLE); }
static void refuse_two_levels(void **s) { expect_baseptr_refused(*s, brk_two_levels, -L1_EINVAL, SHADOW_REFUSE_RESERVED); }
static void refuse_self(void **s) { expect_baseptr_refused(*s, brk_self, -L1_EINVAL, SHADOW_REFUSE_RESERVED); }
static void refuse_large_reserved(void **s) { expect_baseptr_refused(*s, brk_large_reserved, -L1_EINVAL, SHADOW_REFUSE_RESERVED); }
static void refuse_large_has_table(void **s) { expect_baseptr_refused(*s, brk_large_has_table, -L1_EPERM, SHADOW_REFUSE_PT_WRITABLE); }
static void refuse_large_past_end(void **s) { expect_baseptr_refused(*s, brk_large_past_end, -L1_EPERM, SHADOW_REFUSE_FOREIGN_GFN); }
static void refuse_root_table_rw(void **s) { expect_baseptr_refused(*s, brk_old_tree_writable, -L1_EPERM, SHADOW_REFUSE_PT_WRITABLE); }

static void baseptr_bad_root(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	assert_int_equal(shadow__new_baseptr(g, 600 * 4096 + 8), -L1_EINVAL);
	assert_int_equal(g->stats.refusals[SHADOW_REFUSE_RESERVED], 1);
	assert_int_equal(shadow__new_baseptr(g, GUEST_MEM), -L1_EPERM);
	assert_int_equal(g->stats.refusals[SHADOW_REFUSE_FOREIGN_GFN], 1);
	assert_int_equal(g->shadow_root_mfn, 0);
	/* nothing to fault on yet */
	assert_int_equal(shadow__fault(g, 0x1000, 0), SHADOW_GUEST_FAULT);
}

static void baseptr_switches_typing(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	small_tree(g, 600);
	assert_int_equal(shadow__new_baseptr(g, 600 * 4096), 0);
	/* tree B shares A's PT (603) */
	small_tree(g, 700);
	*ent(g, 702, 0) = (603ull << 12) | TBL;
	assert_int_equal(shadow__new_baseptr(g, 700 * 4096), 0);
	assert_int_equal(g->pt_level[600], 0);
	assert_int_equal(g->pt_level[601], 0);
	assert_int_equal(g->pt_level[602], 0);
	assert_int_equal(g->pt_level[603], 1);
	assert_int_equal(g->pt_level[703], 0); /* not reachable from B */
	assert_int_equal(g->pt_level[700], 4);
	assert_int_equal(g->priv->refs[603], 1);
	assert_int_equal(g->priv->refs[700], 1);
	assert_int_equal(g->stats.baseptrs, 2);
	/* the same root again: still exact */
	assert_int_equal(shadow__new_baseptr(g, 700 * 4096), 0);
	assert_int_equal(g->priv->refs[700], 1);
	assert_int_equal(g->priv->refs[603], 1);
}

static void update_refusals(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	small_tree(g, 600);
	assert_int_equal(shadow__new_baseptr(g, 600 * 4096), 0);
	uint64_t done = 99;
	struct { uint64_t ptr, val; int err; enum shadow_refusal why; } cases[] = {
		{ 603 * 4096 + 4, 0, -L1_EINVAL, SHADOW_REFUSE_RESERVED },
		{ 5 * 4096, 0, -L1_EINVAL, SHADOW_REFUSE_NOT_PT },
		{ GUEST_MEM + 8, 0, -L1_EINVAL, SHADOW_REFUSE_NOT_PT },
		{ UINT64_MAX - 7, 0, -L1_EINVAL, SHADOW_REFUSE_NOT_PT },
		{ 603 * 4096 + 8, (5000ull << 12) | DATA, -L1_EPERM, SHADOW_REFUSE_FOREIGN_GFN },
		{ 603 * 4096 + 8, (602ull << 12) | DATA, -L1_EPERM, SHADOW_REFUSE_PT_WRITABLE },
		{ 600 * 4096 + 300 * 8, (601ull << 12) | TBL, -L1_EPERM, SHADOW_REFUSE_VA_RANGE },
		{ 600 * 4096 + 8, (603ull << 12) | TBL, -L1_EINVAL, SHADOW_REFUSE_RESERVED },
		{ 600 * 4096 + 8, (601ull << 12) | TBL | PTE_PS, -L1_EINVAL, SHADOW_REFUSE_RESERVED },
		{ 602 * 4096 + 8, (512ull << 12) | DATA | PTE_PS, -L1_EPERM, SHADOW_REFUSE_PT_WRITABLE },
		{ 602 * 4096 + 8, (700ull << 12) | (1ull << 20) | PTE_P | PTE_PS, -L1_EINVAL,
		  SHADOW_REFUSE_RESERVED },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t before = g->stats.refusals[cases[i].why];
		uint64_t old = cases[i].ptr < GUEST_MEM ? *ent(g, cases[i].ptr / 4096,
							    (cases[i].ptr % 4096) / 8) : 0;
		struct l1_mmu_update u = { .ptr = cases[i].ptr, .val = cases[i].val };
		assert_int_equal(shadow__mmu_update(g, &u, 1, &done), cases[i].err);
		assert_int_equal(done, 0);
		assert_int_equal(g->stats.refusals[cases[i].why], before + 1);
		if (cases[i].ptr < GUEST_MEM)
			assert_int_equal(*ent(g, cases[i].ptr / 4096, (cases[i].ptr % 4096) / 8), old);
	}
	assert_int_equal(g->stats.updates, 0);

	/* a read-only 2 MiB leaf over the tables is fine, and so is a non-present anything */
	struct l1_mmu_update ok[] = {
		{ 602 * 4096 + 8, (512ull << 12) | PTE_P | PTE_PS },
		{ 600 * 4096 + 300 * 8, 0xfffffffffffff000ull },
	};
	assert_int_equal(shadow__mmu_update(g, ok, 2, &done), 0);
	assert_int_equal(done, 2);
	assert_int_equal(g->stats.updates, 2);

	/* too many: nothing done */
	struct l1_mmu_update *many = calloc(L1_MMU_UPDATE_MAX + 1, sizeof(*many));
	for (unsigned i = 0; i <= L1_MMU_UPDATE_MAX; i++)
		many[i] = (struct l1_mmu_update){ 603 * 4096 + 8, 0 };
	assert_int_equal(shadow__mmu_update(g, many, L1_MMU_UPDATE_MAX + 1, &done), -L1_E2BIG);
	assert_int_equal(done, 0);
	assert_int_equal(g->stats.refusals[SHADOW_REFUSE_TOO_MANY], 1);
	assert_int_not_equal(*ent(g, 603, 1), 0);
	/* exactly the limit is fine */
	assert_int_equal(shadow__mmu_update(g, many, L1_MMU_UPDATE_MAX, &done), 0);
	assert_int_equal(done, L1_MMU_UPDATE_MAX);
	assert_int_equal(*ent(g, 603, 1), 0);
	free(many);
}

static void update_batch_stops_at_first_refusal(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	small_tree(g, 600);
	assert_int_equal(shadow__new_baseptr(g, 600 * 4096), 0);
	struct l1_mmu_update u[] = {
		{ 603 * 4096 + 8 * 10, (20ull << 12) | DATA },
		{ 603 * 4096 + 8 * 11, (21ull << 12) | DATA },
		{ 603 * 4096 + 8 * 12, (603ull << 12) | DATA }, /* refused */
		{ 603 * 4096 + 8 * 13, (23ull << 12) | DATA },
	};
	uint64_t done;
	assert_int_equal(shadow__mmu_update(g, u, 4, &done), -L1_EPERM);
	assert_int_equal(done, 2);
	assert_int_equal(*ent(g, 603, 10), (20ull << 12) | DATA);
	assert_int_equal(*ent(g, 603, 11), (21ull << 12) | DATA);
	assert_int_equal(*ent(g, 603, 12), (12ull << 12) | DATA);
	assert_int_equal(*ent(g, 603, 13), (13ull << 12) | DATA);
	assert_int_equal(g->stats.updates, 2);
	uint64_t gpa;
	assert_int_equal(shadow__translate(g, 10 * 4096 + 5, true, &gpa), 0);
	assert_int_equal(gpa, 20 * 4096 + 5);
}

static void update_types_and_untypes(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	small_tree(g, 600);
	assert_int_equal(shadow__new_baseptr(g, 600 * 4096), 0);
	/* a new PD (610) with one PT (611) mapping 4 frames at va 1 GiB */
	memset(ept__gpa_ptr(&g->view, 610 * 4096, 2 * 4096), 0, 2 * 4096);
	*ent(g, 610, 0) = (611ull << 12) | TBL;
	for (unsigned i = 0; i < 4; i++)
		*ent(g, 611, i) = ((100ull + i) << 12) | DATA;
	uint64_t done;
	/* invalid content in the new subtree: refused, nothing typed */
	*ent(g, 611, 4) = (610ull << 12) | DATA;
	struct l1_mmu_update link = { 601 * 4096 + 8, (610ull << 12) | TBL };
	assert_int_equal(shadow__mmu_update(g, &link, 1, &done), -L1_EPERM);
	assert_int_equal(g->pt_level[610], 0);
	assert_int_equal(g->pt_level[611], 0);
	assert_int_equal(*ent(g, 601, 1), 0);
	*ent(g, 611, 4) = (610ull << 12) | PTE_P; /* read-only: fine */
	assert_int_equal(shadow__mmu_update(g, &link, 1, &done), 0);
	assert_int_equal(g->pt_level[610], 2);
	assert_int_equal(g->pt_level[611], 1);
	assert_int_equal(g->priv->refs[610], 1);
	assert_int_equal(g->priv->refs[611], 1);
	uint64_t gpa;
	assert_int_equal(shadow__translate(g, (1ull << 30) + 2 * 4096 + 1, false, &gpa), 0);
	assert_int_equal(gpa, 102 * 4096 + 1);
	/* a second link to the same PD from another slot shares it */
	struct l1_mmu_update link2 = { 601 * 4096 + 16, (610ull << 12) | TBL };
	assert_int_equal(shadow__mmu_update(g, &link2, 1, &done), 0);
	assert_int_equal(g->priv->refs[610], 2);
	/* a link to it one level too high is refused */
	struct l1_mmu_update wrong = { 600 * 4096 + 8, (610ull << 12) | TBL };
	assert_int_equal(shadow__mmu_update(g, &wrong, 1, &done), -L1_EINVAL);
	/* unlinking: typed while referenced, untyped (with its subtree) at zero */
	struct l1_mmu_update unlink[] = { { 601 * 4096 + 8, 0 } };
	assert_int_equal(shadow__mmu_update(g, unlink, 1, &done), 0);
	assert_int_equal(g->pt_level[610], 2);
	unlink[0].ptr = 601 * 4096 + 16;
	assert_int_equal(shadow__mmu_update(g, unlink, 1, &done), 0);
	assert_int_equal(g->pt_level[610], 0);
	assert_int_equal(g->pt_level[611], 0);
	assert_int_equal(g->priv->refs[610], 0);
	assert_int_equal(g->priv->refs[611], 0);
	/* an untyped page is not an update target any more, and is writable */
	struct l1_mmu_update stale = { 611 * 4096, 0 };
	assert_int_equal(shadow__mmu_update(g, &stale, 1, &done), -L1_EINVAL);
	assert_int_equal(shadow__translate(g, (1ull << 30), false, &gpa), -L1_EFAULT);
}

static void validator_is_pure(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	small_tree(g, 600);
	assert_int_equal(shadow__new_baseptr(g, 600 * 4096), 0);
	struct walk_ctx *c = &g->priv->ctx;
	enum shadow_refusal why = SHADOW_NR_REFUSALS;
	memset(ept__gpa_ptr(&g->view, 620 * 4096, 4096), 0, 4096);
	uint64_t before = *ent(g, 601, 5);
	assert_int_equal(walk_validate_update(c, 601 * 4096 + 40, (620ull << 12) | TBL, &why), 0);
	assert_int_equal(c->pend_n, 1);
	assert_int_equal(c->pend[620], 2);
	assert_int_equal(g->pt_level[620], 0);
	assert_int_equal(*ent(g, 601, 5), before);
	walk_pend_reset(c);
	assert_int_equal(c->pend[620], 0);
	assert_int_equal(walk_validate_update(c, 603 * 4096, (600ull << 12) | DATA, &why), -L1_EPERM);
	assert_int_equal(why, SHADOW_REFUSE_PT_WRITABLE);
	assert_int_equal(walk_validate_update(c, 603 * 4096, (600ull << 12) | PTE_P, &why), 0);

	struct entry_info info;
	assert_int_equal(walk_check_shape(NR, 3, 0, (1ull << 30) | PTE_P | PTE_PS, &info, &why),
			 -L1_EPERM); /* a 1 GiB leaf does not fit in 4 MiB */
	assert_int_equal(why, SHADOW_REFUSE_FOREIGN_GFN);
	assert_int_equal(walk_check_shape(1ull << 20, 3, 0, (1ull << 30) | (1ull << 12) | PTE_P | PTE_PS,
					  &info, &why), 0); /* PAT bit */
	assert_int_equal(info.kind, ENTRY_LEAF);
	assert_int_equal(info.gfn, 1ull << 18);
	assert_int_equal(info.frames, 1ull << 18);
	assert_int_equal(walk_check_shape(NR, 1, 0, 0x123456789abcdef0ull & ~PTE_P, &info, &why), 0);
	assert_int_equal(info.kind, ENTRY_NONE);
}

static void translate_rules(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	uint64_t gpa = 7;
	assert_int_equal(shadow__translate(g, 0, false, &gpa), -L1_EFAULT); /* no tables yet */
	small_tree(g, 600);
	*ent(g, 603, 3) = (3ull << 12) | PTE_P | PTE_A;       /* read-only */
	*ent(g, 603, 4) = 0;                                  /* not present */
	*ent(g, 602, 0) &= ~PTE_RW;                           /* the whole 2 MiB read-only ... */
	assert_int_equal(shadow__new_baseptr(g, 600 * 4096), 0);
	assert_int_equal(shadow__translate(g, 0x2fff, false, &gpa), 0);
	assert_int_equal(gpa, 0x2fff);
	assert_int_equal(shadow__translate(g, 0x2fff, true, &gpa), -L1_EFAULT);
	*ent(g, 602, 0) |= PTE_RW; /* a host write for the test's sake */
	assert_int_equal(shadow__translate(g, 0x2fff, true, &gpa), 0);
	assert_int_equal(shadow__translate(g, 0x3000, true, &gpa), -L1_EFAULT);
	assert_int_equal(shadow__translate(g, 0x3000, false, &gpa), 0);
	assert_int_equal(shadow__translate(g, 0x4000, false, &gpa), -L1_EFAULT);
	assert_int_equal(shadow__translate(g, 2 * MiB, false, &gpa), -L1_EFAULT);
	assert_int_equal(shadow__translate(g, L1_SHADOW_GUEST_VA_END, false, &gpa), -L1_EFAULT);
	assert_int_equal(shadow__translate(g, L1_SHADOW_HYPERCALL_VA, false, &gpa), -L1_EFAULT);
	assert_int_equal(gpa, 0x3000); /* untouched on failure */
}

static void machine_allocator(void **state)
{
	(void)state;
	struct shadow_machine m;
	assert_int_equal(shadow__machine_init(&m, 1 * MiB, 300), -EINVAL);
	assert_int_equal(shadow__machine_init(&m, 4097, 0), -EINVAL);
	assert_int_equal(shadow__machine_init(&m, L1_RAM_HOLE_START + 4096, 0), -EINVAL);
	assert_int_equal(shadow__machine_init(&m, 1 * MiB, 10), 0);
	assert_int_equal(m.free_frames, 246);
	assert_null(shadow__mfn_ptr(&m, 256));
	assert_non_null(shadow__mfn_ptr(&m, 255));
	int64_t a = shadow__alloc_frames(&m, 1);
	assert_int_equal(a, 10);
	int64_t b = shadow__alloc_frames(&m, 100);
	assert_int_equal(b, 11);
	shadow__free_frames(&m, 10, 1);
	assert_int_equal(shadow__alloc_frames(&m, 2), 111);
	assert_int_equal(shadow__alloc_frames(&m, 1), 10);
	assert_int_equal(shadow__alloc_frames(&m, 200), -ENOMEM);
	assert_int_equal(shadow__alloc_frames(&m, 0), -ENOMEM);
	assert_int_equal(m.free_frames, 246 - 103);
	shadow__free_frames(&m, 11, 100);
	shadow__free_frames(&m, 11, 100); /* double free: no inflation */
	assert_int_equal(m.free_frames, 246 - 3);
	assert_int_equal(shadow__alloc_frames(&m, 142), 113);
	assert_int_equal(shadow__alloc_frames(&m, 100), 11);
	assert_int_equal(m.free_frames, 1);
	assert_int_equal(shadow__alloc_frames(&m, 1), 255);
	assert_int_equal(shadow__alloc_frames(&m, 1), -ENOMEM);
	shadow__machine_destroy(&m);

	/* guests get disjoint zeroed runs; a full machine says ENOMEM */
	assert_int_equal(shadow__machine_init(&m, 2 * MiB, 16), 0);
	struct shadow_guest g1, g2;
	assert_int_equal(shadow__guest_init(&g1, &m, 1 * MiB), 0);
	assert_int_equal(g1.first_mfn, 16);
	assert_int_equal(g1.p2m_mfn[255], 16 + 255);
	assert_int_equal(g1.prefetch, 512);
	memset(ept__gpa_ptr(&g1.view, 0, 4096), 0xab, 4096);
	assert_int_equal(shadow__guest_init(&g2, &m, 1 * MiB), -ENOMEM);
	assert_int_equal(shadow__guest_init(&g2, &m, 4095), -EINVAL);
	shadow__guest_destroy(&g1);
	assert_int_equal(shadow__guest_init(&g2, &m, 1 * MiB), 0);
	assert_int_equal(g2.first_mfn, 16);
	assert_int_equal(*(uint8_t *)ept__gpa_ptr(&g2.view, 0, 1), 0);
	shadow__guest_destroy(&g2);
	assert_int_equal(m.free_frames, 512 - 16);
	shadow__machine_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(boot_tables_identity_map, setup, teardown),
		cmocka_unit_test_setup_teardown(boot_tables_need_room, setup, teardown),
		cmocka_unit_test_setup_teardown(refuse_va_range, setup, teardown),
		cmocka_unit_test_setup_teardown(refuse_ps_pml4, setup, teardown),
		cmocka_unit_test_setup_teardown(refuse_foreign_leaf, setup, teardown),
		cmocka_unit_test_setup_teardown(refuse_foreign_link, setup, teardown),
		cmocka_unit_test_setup_teardown(refuse_pt_writable, setup, teardown),
		cmocka_unit_test_setup_teardown(refuse_two_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(refuse_self, setup, teardown),
		cmocka_unit_test_setup_teardown(refuse_large_reserved, setup, teardown),
		cmocka_unit_test_setup_teardown(refuse_large_has_table, setup, teardown),
		cmocka_unit_test_setup_teardown(refuse_large_past_end, setup, teardown),
		cmocka_unit_test_setup_teardown(refuse_root_table_rw, setup, teardown),
		cmocka_unit_test_setup_teardown(baseptr_bad_root, setup, teardown),
		cmocka_unit_test_setup_teardown(baseptr_switches_typing, setup, teardown),
		cmocka_unit_test_setup_teardown(update_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(update_batch_stops_at_first_refusal, setup, teardown),
		cmocka_unit_test_setup_teardown(update_types_and_untypes, setup, teardown),
		cmocka_unit_test_setup_teardown(validator_is_pure, setup, teardown),
		cmocka_unit_test_setup_teardown(translate_rules, setup, teardown),
		cmocka_unit_test(machine_allocator),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
