/*
 * Unit tests: the work a hostile guest can make the shadow MMU do is bounded,
 * and its quotas cost it alone (issue 15). Counts of operations, never time:
 * reverse-map probes and deletes, evictions, tables, quota hits. A fake
 * machine, no KVM.
 */
#include "cmocka_all.h"

#include <stdlib.h>
#include <string.h>

#include "shadow_fixture.h"

#define X 7u           /* the aliased frame */
#define PML4 600u      /* the alias tree: PML4, PDPT, PD, PT at 600..603 */
#define REGIONS 512u   /* 2 MiB regions under the PD */

static int setup(void **state)
{
	return fx_setup(state, 64 * MiB, GUEST_MEM, 3);
}

static int teardown(void **state)
{
	return fx_teardown(state);
}

/* A PT whose 512 entries all map X, linked from all 512 entries of a PD:
 * 512 x 512 leaves of one frame for the asking. */
static void alias_tree(struct shadow_guest *g)
{
	memset(ept__gpa_ptr(&g->view, PML4 * 4096ull, 4 * 4096), 0, 4 * 4096);
	*ent(g, PML4, 0) = ((PML4 + 1ull) << 12) | TBL;
	*ent(g, PML4 + 1, 0) = ((PML4 + 2ull) << 12) | TBL;
	for (unsigned i = 0; i < 512; i++) {
		*ent(g, PML4 + 2, i) = ((PML4 + 3ull) << 12) | TBL;
		*ent(g, PML4 + 3, i) = ((uint64_t)X << 12) | DATA;
	}
	assert_int_equal(shadow__new_baseptr(g, PML4 * 4096), 0);
}

/* Touch every 2 MiB region; each fault must be fixed. */
static void touch_all(struct shadow_guest *g)
{
	for (unsigned j = 0; j < REGIONS; j++)
		assert_int_equal(shadow__fault(g, (uint64_t)j << 21, 0), SHADOW_FIXED);
}

static uint64_t sleaf(struct shadow_guest *g, uint64_t va)
{
	uint64_t mfn = g->shadow_root_mfn;
	for (unsigned level = 4; level >= 1; level--) {
		uint64_t e = ((uint64_t *)shadow__mfn_ptr(g->m, mfn))[PT_INDEX(va, level)];
		if (level == 1 || !(e & PTE_P))
			return e;
		mfn = (e & PTE_ADDR) >> 12;
	}
	return 0;
}

static void alias_512x512_is_capped_and_flush_is_linear(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	g->table_quota = 0; /* the cap alone bounds it */
	g->meta_quota = 0;
	alias_tree(g);
	touch_all(g);
	/* without the cap: 262,144 leaves of X; with it, at most 512 */
	assert_int_equal(rmap_count(g, g->first_mfn + X), RMAP_FRAME_MAX);
	assert_int_equal(g->priv->rmap.count, RMAP_FRAME_MAX);
	/* every fault after the first shadow L1 evicted one leaf; prefetch evicts none */
	assert_int_equal(g->stats.rmap_evictions, REGIONS - 1);
	assert_int_equal(g->stats.tables, 3 + REGIONS);
	/* the newest leaf is the last region's; the first region's oldest went */
	assert_int_not_equal(sleaf(g, (uint64_t)(REGIONS - 1) << 21), 0);
	/* an evicted leaf was present: KVM forgets it at the guest's (rate-limited) flush */
	assert_true(shadow__take_flush_needed(g));

	/* FLUSH(ALL): one delete per leaf, each O(1) (one hash probe to find the
	 * frame's list); the old chain walk made it 512 * 512 / 2 probes */
	uint64_t probes = g->priv->rmap.heads.probes, dels = g->priv->rmap.dels;
	shadow__flush(g, L1_FLUSH_ALL);
	assert_int_equal(g->priv->rmap.count, 0);
	assert_int_equal(g->stats.tables, 1);
	assert_int_equal(g->priv->rmap.dels - dels, RMAP_FRAME_MAX);
	assert_true(g->priv->rmap.heads.probes - probes <= 2 * RMAP_FRAME_MAX);
	assert_true(shadow__take_flush_needed(g));

	/* and again: the guest's reads through the window still see X */
	touch_all(g);
	assert_int_equal(rmap_count(g, g->first_mfn + X), RMAP_FRAME_MAX);
	assert_int_equal((sleaf(g, 5ull << 21) & PTE_ADDR) >> 12, g->first_mfn + X);
}

static void deletes_are_o1_in_any_order(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	g->table_quota = 0;
	alias_tree(g);
	assert_int_equal(shadow__fault(g, 0, 0), SHADOW_FIXED); /* 512 leaves of X, one table */
	/* zap them oldest first (the old bucket chain's worst case), then newest first */
	uint64_t probes = g->priv->rmap.heads.probes;
	for (unsigned i = 0; i < 256; i++)
		shadow__flush(g, (uint64_t)i << 12);
	for (unsigned i = 511; i >= 256; i--)
		shadow__flush(g, (uint64_t)i << 12);
	assert_int_equal(rmap_count(g, g->first_mfn + X), 0);
	assert_true(g->priv->rmap.heads.probes - probes <= 2 * 512);
}

static void table_quota_costs_the_guest_only(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	struct shadow_guest b;
	assert_int_equal(shadow__guest_init(&b, &f->m, GUEST_MEM), 0);
	uint64_t pml4, end;
	assert_int_equal(shadow__build_boot_tables(&b, 1 * MiB, &pml4, &end), 0);
	for (uint64_t p = 0; p < 64; p++)
		assert_int_equal(shadow__fault(&b, (300 + p) * 4096, 0), SHADOW_FIXED);
	uint64_t b_tables = b.stats.tables, b_leaves = b.priv->rmap.count;
	uint64_t b_leaf = sleaf(&b, 320 * 4096);
	assert_int_not_equal(b_leaf, 0);

	g->table_quota = 40;
	uint64_t free0 = f->m.free_frames;
	alias_tree(g);
	for (int round = 0; round < 3; round++) {
		touch_all(g); /* every fault fixed: the guest runs on */
		assert_true(g->stats.tables <= 40);
		assert_true(f->m.free_frames + 40 >= free0);
		shadow__flush(g, L1_FLUSH_ALL);
	}
	assert_true(g->stats.table_quota_hits > 0);
	assert_true(g->stats.quota_drops > 0);

	/* the neighbour's shadows are untouched and it still fills */
	assert_int_equal(b.stats.tables, b_tables);
	assert_int_equal(b.priv->rmap.count, b_leaves);
	assert_int_equal(sleaf(&b, 320 * 4096), b_leaf);
	assert_int_equal(b.stats.quota_drops, 0);
	assert_int_equal(shadow__fault(&b, 900 * 4096, 0), SHADOW_FIXED);
	shadow__guest_destroy(&b);
}

static void meta_quota_costs_the_guest_only(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	g->table_quota = 0;
	alias_tree(g);
	assert_int_equal(shadow__fault(g, 0, 0), SHADOW_FIXED);
	/* room for what there is, not for the next doubling of the records */
	g->meta_quota = meta_bytes(g) + 4096;
	touch_all(g);
	assert_true(g->stats.meta_quota_hits > 0);
	assert_true(g->stats.quota_drops > 0);
	assert_true(meta_bytes(g) <= g->meta_quota);
}

/* A writable large leaf is checked against per-region table counts. */
static void large_leaf_checks_count_regions(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	small_tree(g, 600); /* tables 600..603: in the second 2 MiB region */
	assert_int_equal(shadow__new_baseptr(g, 600 * 4096), 0);
	assert_int_equal(g->priv->typed_2m[1], 4);
	assert_int_equal(g->priv->typed_2m[0], 0);
	assert_int_equal(g->priv->typed_1g[0], 4);
	uint64_t done;
	/* PD entry 1: a writable 2 MiB leaf over region 1 (our tables): refused */
	struct l1_mmu_update u = { 602 * 4096 + 8, (512ull << 12) | DATA | PTE_PS };
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), -L1_EPERM);
	assert_int_equal(g->stats.refusals[SHADOW_REFUSE_PT_WRITABLE], 1);
	/* over region 0 (no table there): accepted */
	u.val = (0ull << 12) | DATA | PTE_PS;
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), 0);
	/* the same tree moved to region 0: the counts follow the typing */
	small_tree(g, 100);
	for (unsigned t = 100; t < 104; t++)
		*ent(g, 103, t) &= ~PTE_RW; /* its identity map: its own tables read-only */
	assert_int_equal(shadow__new_baseptr(g, 100 * 4096), 0);
	assert_int_equal(g->priv->typed_2m[1], 0);
	assert_int_equal(g->priv->typed_2m[0], 4);
	u = (struct l1_mmu_update){ 102 * 4096 + 8, (512ull << 12) | DATA | PTE_PS };
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), 0);
	u.val = (0ull << 12) | DATA | PTE_PS;
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), -L1_EPERM);
	/* a table the same update would type counts too (pending): a new PD at 700
	 * (region 1, no typed table there) whose entry 0 maps region 1 writable */
	memset(ept__gpa_ptr(&g->view, 700 * 4096ull, 4096), 0, 4096);
	*ent(g, 700, 0) = (512ull << 12) | DATA | PTE_PS;
	u = (struct l1_mmu_update){ 101 * 4096 + 8, (700ull << 12) | TBL };
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), -L1_EPERM);
	assert_int_equal(g->pt_level[700], 0);
	assert_int_equal(g->priv->ctx.pend_2m[1], 0); /* reset with the refusal */
	/* read-only, it is accepted and typed; its region counts it */
	*ent(g, 700, 0) &= ~PTE_RW;
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), 0);
	assert_int_equal(g->pt_level[700], 2);
	assert_int_equal(g->priv->typed_2m[1], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(alias_512x512_is_capped_and_flush_is_linear, setup,
						teardown),
		cmocka_unit_test_setup_teardown(deletes_are_o1_in_any_order, setup, teardown),
		cmocka_unit_test_setup_teardown(table_quota_costs_the_guest_only, setup, teardown),
		cmocka_unit_test_setup_teardown(meta_quota_costs_the_guest_only, setup, teardown),
		cmocka_unit_test_setup_teardown(large_leaf_checks_count_regions, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
