/*
 * Unit tests: host reclaim's shadow backend (mmu/shadow/reclaim.c) and what
 * the rest of the shadow MMU does with an evicted frame: fence, discard and
 * install round trips (bytes exact), a fault on an evicted frame fetching it
 * first, prefetch leaving evicted frames out, refusals, accessed bits, host
 * accesses and the validator fetching, sharing skipping, the balloon taking
 * an evicted frame. A fake machine, no KVM; the fetcher is a fake that
 * installs bytes the test kept, as reclaim_vm__fetch would from the store.
 */
#include "cmocka_all.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mmu/shadow/reclaim.h"
#include "shadow_fixture.h"

#define W 2u /* #PF error code: write */
#define ROOT 600ull

/* The fake store: one saved page per gfn, and what the fetcher saw. */
struct fake {
	uint8_t saved[NR][4096];
	bool have[NR];
	unsigned calls;
	uint64_t last_gfn;
	int fail;          /* the fetcher's result while nonzero: an error, no install */
};
static struct fake *fk;

static int fake_fetch(void *fctx, uint64_t gfn,
		      int (*install)(void *ictx, uint64_t gfn, const void *bytes), void *ictx,
		      uint64_t since_ns)
{
	(void)fctx;
	(void)since_ns;
	fk->calls++;
	fk->last_gfn = gfn;
	if (fk->fail)
		return fk->fail;
	if (!fk->have[gfn])
		return 0; /* not compressed (any more) */
	int rc = install(ictx, gfn, fk->saved[gfn]);
	assert_int_equal(rc, 0);
	fk->have[gfn] = false;
	return 1;
}

static const struct reclaim_backend *be = &shadow_reclaim__ops;

static int setup(void **state)
{
	fx_setup(state, 16 * MiB, GUEST_MEM, 3);
	struct fx *f = *state;
	fk = calloc(1, sizeof(*fk));
	small_tree(&f->g, ROOT);
	assert_int_equal(shadow__new_baseptr(&f->g, ROOT * 4096), 0);
	shadow__set_fetcher(&f->g, fake_fetch, fk);
	return 0;
}

static int teardown(void **state)
{
	free(fk);
	fk = NULL;
	return fx_teardown(state);
}

static uint8_t *own_page(struct shadow_guest *g, uint64_t gfn)
{
	return shadow__mfn_ptr(g->m, g->first_mfn + gfn);
}

static void fill_pattern(struct shadow_guest *g, uint64_t gfn, uint8_t seed)
{
	uint8_t *p = own_page(g, gfn);
	for (unsigned i = 0; i < 4096; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static bool has_pattern(const uint8_t *p, uint8_t seed)
{
	for (unsigned i = 0; i < 4096; i++)
		if (p[i] != (uint8_t)(seed + i * 7))
			return false;
	return true;
}

/* The shadow leaf of va (0: none). */
static uint64_t sleaf(struct shadow_guest *g, uint64_t va)
{
	uint64_t mfn = g->shadow_root_mfn;
	for (unsigned level = 4; level >= 1; level--) {
		uint64_t e = ((uint64_t *)shadow__mfn_ptr(g->m, mfn))[PT_INDEX(va, level)];
		if (!(e & PTE_P) || level == 1)
			return e & PTE_P ? e : 0;
		mfn = (e & PTE_ADDR) >> 12;
	}
	return 0;
}

/* Evict [gfn, gfn + n) as the core would: keep the bytes, fence, discard. */
static void evict(struct shadow_guest *g, uint64_t gfn, uint64_t n)
{
	assert_int_equal(be->fence(g, gfn, n), 0);
	for (uint64_t i = gfn; i < gfn + n; i++) {
		memcpy(fk->saved[i], be->page(g, i), 4096);
		fk->have[i] = true;
	}
	assert_int_equal(be->discard(g, gfn, n), 0);
}

static bool is_zero(const uint8_t *p)
{
	for (unsigned i = 0; i < 4096; i++)
		if (p[i])
			return false;
	return true;
}

static void round_trip_is_byte_exact(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	fill_pattern(g, 40, 3);
	fill_pattern(g, 41, 9);
	assert_int_equal(shadow__fault(g, 40 * 4096, W), SHADOW_FIXED);
	assert_true(sleaf(g, 40 * 4096) & PTE_P);
	assert_true(be->evictable(g, 40));

	assert_int_equal(be->fence(g, 40, 2), 0);
	/* no leaf maps them now, and the host still reads them */
	assert_int_equal(sleaf(g, 40 * 4096), 0);
	assert_int_equal(sleaf(g, 41 * 4096), 0);
	assert_int_equal(rmap_count(g, g->first_mfn + 40), 0);
	assert_true(has_pattern(be->page(g, 40), 3));
	assert_false(be->evictable(g, 40));
	/* given up: the frames fill again as usual */
	be->unfence(g, 40, 2);
	assert_int_equal(shadow__fault(g, 40 * 4096, 0), SHADOW_FIXED);
	assert_true(sleaf(g, 40 * 4096) & PTE_P);
	assert_int_equal(fk->calls, 0);

	evict(g, 40, 2);
	assert_true(is_zero(own_page(g, 40))); /* the host page went */
	assert_int_equal(g->stats.reclaim_fences, 4);
	/* a fault brings the bytes back first, then fills */
	assert_int_equal(shadow__fault(g, 41 * 4096 + 8, 0), SHADOW_FIXED);
	assert_int_equal(fk->calls, 1);
	assert_int_equal(fk->last_gfn, 41);
	assert_true(has_pattern(own_page(g, 41), 9));
	assert_int_equal((sleaf(g, 41 * 4096) & PTE_ADDR) >> 12, g->first_mfn + 41);
	assert_int_equal(g->stats.reclaim_installs, 1);
	assert_int_equal(g->stats.reclaim_faults, 1);
	/* 40 stayed out: its neighbour's fill did not prefetch it */
	assert_int_equal(sleaf(g, 40 * 4096), 0);
	assert_int_equal(shadow__fault(g, 40 * 4096, W), SHADOW_FIXED);
	assert_true(has_pattern(own_page(g, 40), 3));
	assert_true(sleaf(g, 40 * 4096) & PTE_RW);
	assert_int_equal(fk->calls, 2);
	/* installing a frame that is in already counts as done (-EEXIST) */
	fk->have[40] = true;
	assert_int_equal(be->fence(g, 40, 1), 0);
	be->unfence(g, 40, 1);
	assert_int_equal(shadow__fault(g, 40 * 4096, 0), SHADOW_FIXED);
	assert_int_equal(fk->calls, 2);
	fk->have[40] = false;
}

static void fault_on_a_failing_fetch_maps_nothing(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	fill_pattern(g, 70, 5);
	evict(g, 70, 1);
	fk->fail = -EIO;
	assert_int_equal(shadow__fault(g, 70 * 4096, 0), SHADOW_FETCH_FAILED);
	assert_int_equal(shadow__fault(g, 70 * 4096, W), SHADOW_FETCH_FAILED);
	assert_int_equal(sleaf(g, 70 * 4096), 0); /* never the zero page */
	assert_int_equal(g->stats.reclaim_fetch_errors, 2);
	char buf[16];
	assert_int_equal(shadow__access(g, 70 * 4096, buf, sizeof(buf), false), -L1_EFAULT);
	/* the store works again: the bytes come back */
	fk->fail = 0;
	assert_int_equal(shadow__fault(g, 70 * 4096, 0), SHADOW_FIXED);
	assert_true(has_pattern(own_page(g, 70), 5));
	assert_true(sleaf(g, 70 * 4096) & PTE_P);
	/* a fetcher that finds the frame fetched already (returns 0): the fault
	 * looks again, and retries from the guest if it is still out */
	assert_int_equal(be->fence(g, 71, 1), 0);
	unsigned before = fk->calls;
	assert_int_equal(shadow__fault(g, 71 * 4096, 0), SHADOW_FIXED);
	assert_true(fk->calls > before);
	assert_int_equal(sleaf(g, 71 * 4096), 0);
	be->unfence(g, 71, 1);
}

static void prefetch_leaves_evicted_frames_out(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	evict(g, 101, 1);
	evict(g, 103, 1);
	assert_int_equal(shadow__fault(g, 102 * 4096, 0), SHADOW_FIXED);
	assert_true(sleaf(g, 102 * 4096) & PTE_P);
	assert_true(sleaf(g, 100 * 4096) & PTE_P); /* prefetched */
	assert_true(sleaf(g, 104 * 4096) & PTE_P);
	assert_int_equal(sleaf(g, 101 * 4096), 0);
	assert_int_equal(sleaf(g, 103 * 4096), 0);
	assert_int_equal(fk->calls, 0);
	/* a drop of every shadow and a refill leaves them out as well */
	shadow__flush(g, L1_FLUSH_ALL);
	assert_int_equal(shadow__fault(g, 200 * 4096, 0), SHADOW_FIXED);
	assert_int_equal(sleaf(g, 101 * 4096), 0);
	assert_int_equal(fk->calls, 0);
}

static void tables_pinned_shared_and_absent_are_refused(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	assert_false(be->evictable(g, ROOT + 3));
	assert_int_equal(be->fence(g, ROOT + 3, 1), -EBUSY);
	/* a run with one table in it: nothing fenced */
	assert_int_equal(be->fence(g, ROOT + 2, 3), -EBUSY);
	assert_false(frame_evicted(g, ROOT + 4));
	shadow__pin(g, 30);
	assert_int_equal(be->fence(g, 30, 1), -EBUSY);
	assert_int_equal(shadow__take(g, 31, 1), 0);
	assert_int_equal(be->fence(g, 31, 1), -EBUSY);
	/* on a copy (page sharing): not its own frame */
	uint64_t own = g->p2m_mfn[32];
	g->p2m_mfn[32] = g->first_mfn + 33;
	assert_false(be->evictable(g, 32));
	assert_int_equal(be->fence(g, 32, 1), -EBUSY);
	g->p2m_mfn[32] = own;
	/* fenced already */
	assert_int_equal(be->fence(g, 33, 1), 0);
	assert_int_equal(be->fence(g, 33, 1), -EBUSY);
	be->unfence(g, 33, 1);
	assert_int_equal(g->stats.reclaim_refusals, 6);
	assert_int_equal(be->fence(g, NR - 1, 2), -EINVAL);
	/* discard() never releases a frame that is not fenced */
	fill_pattern(g, 34, 1);
	assert_int_equal(be->discard(g, 34, 1), -EINVAL);
	assert_true(has_pattern(own_page(g, 34), 1));
}

static bool bit(const uint64_t *a, uint64_t i)
{
	return a[i / 64] >> (i % 64) & 1;
}

static void harvest_sees_touched_frames(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	g->prefetch = 1; /* only what the guest touches gets a leaf */
	assert_int_equal(shadow__fault(g, 10 * 4096, 0), SHADOW_FIXED);
	assert_int_equal(shadow__fault(g, 20 * 4096, W), SHADOW_FIXED);
	uint64_t acc[NR / 64];
	memset(acc, 0xff, sizeof(acc));
	assert_int_equal(be->harvest(g, 0, NR, acc), 0);
	for (uint64_t i = 0; i < NR; i++)
		assert_int_equal(bit(acc, i), i == 10 || i == 20);
	/* A was taken: nothing touched since */
	uint64_t forgets = g->stats.harvest_forgets;
	assert_int_equal(be->harvest(g, 0, NR, acc), 0);
	for (uint64_t i = 0; i < NR; i++)
		assert_false(bit(acc, i));
	assert_int_equal(g->stats.harvest_forgets, forgets);
	/* the CPU's walk sets A in the leaf again (KVM does it, as it builds
	 * a translation anew after the forget); a new fill too */
	uint64_t mfn = g->shadow_root_mfn;
	for (unsigned level = 4; level > 1; level--)
		mfn = (((uint64_t *)shadow__mfn_ptr(g->m, mfn))[PT_INDEX(20 * 4096ull, level)] &
		       PTE_ADDR) >> 12;
	uint64_t *leaf = &((uint64_t *)shadow__mfn_ptr(g->m, mfn))[PT_INDEX(20 * 4096ull, 1)];
	assert_false(*leaf & PTE_A);
	*leaf |= PTE_A;
	assert_int_equal(shadow__fault(g, 30 * 4096, 0), SHADOW_FIXED);
	/* a window: frames [16, 16 + 64) */
	uint64_t win[1];
	assert_int_equal(be->harvest(g, 16, 64, win), 0);
	assert_int_equal(win[0], (1ull << (20 - 16)) | (1ull << (30 - 16)));
	assert_int_equal(be->harvest(g, NR - 1, 2, win), -EINVAL);
}

static void device_access_fetches_or_leaves_it(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	uint8_t buf[4096];
	/* shadow__access_gpa (a device's data): with no count it does not fetch
	 * (the caller reads the store); with one, it fetches and counts */
	fill_pattern(g, 82, 12);
	evict(g, 82, 1);
	unsigned calls = fk->calls, fetched = 0;
	assert_int_equal(shadow__access_gpa(g, 82 * 4096, buf, sizeof(buf), false, NULL), 1);
	assert_int_equal(fk->calls, calls);
	assert_int_equal(shadow__access_gpa(g, 82 * 4096, buf, sizeof(buf), false, &fetched), 0);
	assert_true(has_pattern(buf, 12));
	assert_int_equal(fetched, 1);
	memset(buf, 0x33, 16);
	assert_int_equal(shadow__access_gpa(g, 82 * 4096 + 4090, buf, 16, true, &fetched), 0);
	assert_int_equal(own_page(g, 82)[4095], 0x33);
	assert_int_equal(own_page(g, 83)[9], 0x33);
	assert_int_equal(shadow__access_gpa(g, NR * 4096ull, buf, 1, false, &fetched), -L1_EFAULT);
	assert_int_equal(shadow__access_gpa(g, ROOT * 4096ull, buf, 1, true, &fetched), -L1_EFAULT);
}

static void host_access_and_validator_fetch_first(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	/* shadow__access (hypercall arguments, bounce frames) */
	fill_pattern(g, 80, 11);
	evict(g, 80, 1);
	uint8_t buf[4096];
	assert_int_equal(shadow__access(g, 80 * 4096, buf, sizeof(buf), false), 0);
	assert_true(has_pattern(buf, 11));
	assert_int_equal(fk->calls, 1);
	assert_int_equal(g->stats.reclaim_host_fetches, 1);
	evict(g, 81, 1);
	memset(buf, 0x5a, 8);
	assert_int_equal(shadow__access(g, 81 * 4096, buf, 8, true), 0);
	assert_int_equal(own_page(g, 81)[7], 0x5a);
	assert_int_equal(fk->calls, 2);

	/* a page linked as a page table is validated on its real bytes: gfn 50
	 * holds a PT with a writable leaf onto the PD (ROOT + 2): refused */
	uint64_t *pt = (uint64_t *)own_page(g, 50);
	memset(pt, 0, 4096);
	pt[0] = ((ROOT + 2) << 12) | DATA;
	evict(g, 50, 1);
	struct l1_mmu_update link = { (ROOT + 2) * 4096 + 8, (50ull << 12) | TBL };
	uint64_t done;
	assert_int_equal(shadow__mmu_update(g, &link, 1, &done), -L1_EPERM);
	assert_int_equal(fk->calls, 3);
	assert_int_equal(g->pt_level[50], 0);
	/* made harmless (read-only), it validates and is typed */
	pt[0] = ((ROOT + 2) << 12) | PTE_P | PTE_US | PTE_A;
	evict(g, 50, 1);
	assert_int_equal(shadow__mmu_update(g, &link, 1, &done), 0);
	assert_int_equal(done, 1);
	assert_int_equal(g->pt_level[50], 1);
	assert_int_equal(fk->calls, 4);
	assert_int_equal(be->fence(g, 50, 1), -EBUSY); /* a table now */
	/* a store that fails: the update fails, nothing typed */
	evict(g, 51, 1);
	fk->fail = -EIO;
	struct l1_mmu_update link2 = { (ROOT + 2) * 4096 + 16, (51ull << 12) | TBL };
	assert_int_equal(shadow__mmu_update(g, &link2, 1, &done), -L1_ENOMEM);
	assert_int_equal(g->pt_level[51], 0);
	assert_true(frame_evicted(g, 51));
	fk->fail = 0;
}

static void sharing_skips_evicted_frames(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	assert_int_equal(shadow__track_start(g, &g->view.p2m), 0);
	evict(g, 90, 1);
	assert_null(shadow__frame_content(g, 90));
	assert_true(shadow__frame_written(g, 90));
	int64_t copy = shadow__alloc_frames(&f->m, 1);
	assert_true(copy > 0);
	memset(shadow__mfn_ptr(&f->m, (uint64_t)copy), 0, 4096);
	assert_int_equal(shadow__share(g, 90, (uint64_t)copy), -EBUSY);
	assert_int_equal(shadow__poll_populated(g), 0);
	/* tracking stopped and started again keeps the mark */
	shadow__track_stop(g);
	assert_true(frame_evicted(g, 90));
	assert_int_equal(shadow__track_start(g, &g->view.p2m), 0);
	assert_true(frame_evicted(g, 90));
	shadow__track_stop(g);
	shadow__free_data_frames(&f->m, (uint64_t)copy, 1);
	assert_int_equal(fk->calls, 0);
}

static void balloon_takes_an_evicted_frame(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	fill_pattern(g, 60, 2);
	fill_pattern(g, 61, 4);
	evict(g, 60, 2);
	assert_int_equal(shadow__take(g, 60, 1), 0);
	assert_false(frame_evicted(g, 60));
	assert_true(g->frame[60] & SF_ABSENT);
	/* the guest touches it anyway: it reads zero, no fetch */
	assert_int_equal(shadow__fault(g, 60 * 4096, 0), SHADOW_FIXED);
	assert_int_equal(fk->calls, 0);
	assert_int_equal(g->stats.ballooned_touches, 1);
	assert_true(is_zero(own_page(g, 60)));
	/* reported free (free page reporting's discard): the same */
	assert_int_equal(shadow__discard(g, 61, 1), 0);
	assert_false(frame_evicted(g, 61));
	assert_int_equal(shadow__fault(g, 61 * 4096, 0), SHADOW_FIXED);
	assert_int_equal(fk->calls, 0);
}

static uint64_t pinned_now(const struct shadow_guest *g)
{
	uint64_t n = 0;
	for (uint64_t i = 0; i < g->nr_frames; i++)
		n += (g->frame[i] & SF_PINNED) != 0;
	return n;
}

/* The double-paging bitmap's pins: all or nothing, checked and set under one
 * hold of the lock, released by shadow__unpin, never a page table after. */
static void pin_unused_is_all_or_nothing_and_unpins(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	uint64_t base = pinned_now(g);
	/* a run with a page table in it: nothing pinned */
	assert_int_equal(shadow__pin_unused(g, ROOT + 2, 4), -EBUSY);
	assert_int_equal(pinned_now(g), base);
	assert_int_equal(shadow__pin_unused(g, NR - 1, 2), -EINVAL);
	/* an evicted frame comes back first, bytes exact */
	fill_pattern(g, 45, 4);
	evict(g, 45, 1);
	assert_int_equal(shadow__pin_unused(g, 44, 3), 0);
	assert_true(has_pattern(own_page(g, 45), 4));
	assert_false(frame_evicted(g, 45));
	assert_int_equal(pinned_now(g), base + 3);
	assert_int_equal(g->stats.pinned, base + 3);
	/* a frame pinned already is not handed out twice */
	assert_int_equal(shadow__pin_unused(g, 46, 2), -EBUSY);
	assert_int_equal(pinned_now(g), base + 3);
	/* a fetch that fails: nothing pinned */
	fill_pattern(g, 50, 6);
	evict(g, 50, 1);
	fk->fail = -EIO;
	assert_int_equal(shadow__pin_unused(g, 49, 2), -EIO);
	assert_int_equal(pinned_now(g), base + 3);
	fk->fail = 0;
	/* a pinned frame is refused as a page table, an unpinned one is not */
	memset(own_page(g, 40), 0, 4096);
	assert_int_equal(shadow__pin_unused(g, 40, 1), 0);
	struct l1_mmu_update link = { .ptr = (ROOT + 2) * 4096 + 8, .val = (40ull << 12) | TBL };
	uint64_t done;
	assert_int_equal(shadow__mmu_update(g, &link, 1, &done), -L1_EPERM);
	assert_int_equal(g->stats.refusals[SHADOW_REFUSE_PINNED], 1);
	shadow__unpin(g, 40, 1);
	assert_int_equal(shadow__mmu_update(g, &link, 1, &done), 0);
	assert_int_equal(shadow__pin_unused(g, 40, 1), -EBUSY); /* a table now */
	link.val = 0;
	assert_int_equal(shadow__mmu_update(g, &link, 1, &done), 0);
	/* moved again and again: one bitmap's pins at a time */
	shadow__unpin(g, 44, 3);
	for (uint64_t round = 0; round < 200; round++) {
		uint64_t at = 100 + round % 150;
		assert_int_equal(shadow__pin_unused(g, at, 4), 0);
		assert_int_equal(g->stats.pinned, base + 4);
		shadow__unpin(g, at, 4);
	}
	assert_int_equal(pinned_now(g), base);
	assert_int_equal(g->stats.pinned, base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_trip_is_byte_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(device_access_fetches_or_leaves_it, setup, teardown),
		cmocka_unit_test_setup_teardown(fault_on_a_failing_fetch_maps_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(prefetch_leaves_evicted_frames_out, setup, teardown),
		cmocka_unit_test_setup_teardown(tables_pinned_shared_and_absent_are_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(harvest_sees_touched_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(host_access_and_validator_fetch_first, setup,
						teardown),
		cmocka_unit_test_setup_teardown(sharing_skips_evicted_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(balloon_takes_an_evicted_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(pin_unused_is_all_or_nothing_and_unpins, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
