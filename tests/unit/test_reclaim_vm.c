/*
 * Unit tests: host reclaim's per-VM core (reclaim/reclaim.h) against fake
 * guest memory (an array of pages with a fake backend) and the real store:
 * eviction and fetch keep every byte, refusals leave pages resident, the
 * balloon's take drops stored bytes, ageing picks cold frames only, the
 * floor holds, prefetch brings the batch's neighbours; the double-paging
 * paths: a stored page read without a fetch, the watch's bits following the
 * p2m, pinned frames never evicted.
 */
#include "tests/unit/cmocka_all.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "guest/lib/hotcold.h"
#include "reclaim/reclaim.h"

#define NR 256u
#define PAGE 4096u

/* Fake guest memory: a page per frame, with what a backend would keep. */
struct fake {
	uint8_t *mem;
	bool fenced[NR], gone[NR], pinned[NR];
	bool touched[NR];
	int fence_rc, install_rc;
	unsigned fences, discards, installs;
};

static int f_harvest(void *ctx, uint64_t gfn, uint64_t n, uint64_t *accessed)
{
	struct fake *f = ctx;
	for (uint64_t i = 0; i < n; i++) {
		if (f->touched[gfn + i])
			accessed[i / 64] |= 1ull << (i % 64);
		f->touched[gfn + i] = false;
	}
	return 0;
}

static bool f_evictable(void *ctx, uint64_t gfn)
{
	struct fake *f = ctx;
	return !f->pinned[gfn];
}

static int f_fence(void *ctx, uint64_t gfn, uint64_t n)
{
	struct fake *f = ctx;
	if (f->fence_rc)
		return f->fence_rc;
	for (uint64_t i = gfn; i < gfn + n; i++) {
		assert_false(f->gone[i]);
		f->fenced[i] = true;
	}
	f->fences++;
	return 0;
}

static void f_unfence(void *ctx, uint64_t gfn, uint64_t n)
{
	struct fake *f = ctx;
	for (uint64_t i = gfn; i < gfn + n; i++)
		f->fenced[i] = false;
}

static int f_discard(void *ctx, uint64_t gfn, uint64_t n)
{
	struct fake *f = ctx;
	for (uint64_t i = gfn; i < gfn + n; i++) {
		assert_true(f->fenced[i]);
		memset(f->mem + i * PAGE, 0, PAGE); /* what MADV_DONTNEED leaves */
		f->gone[i] = true;
		f->fenced[i] = false;
	}
	f->discards++;
	return 0;
}

static const void *f_page(void *ctx, uint64_t gfn)
{
	struct fake *f = ctx;
	return f->mem + gfn * PAGE;
}

static const struct reclaim_backend fake_ops = {
	.harvest = f_harvest, .evictable = f_evictable, .fence = f_fence,
	.unfence = f_unfence, .discard = f_discard, .page = f_page,
};

static int f_install(void *ctx, uint64_t gfn, const void *bytes)
{
	struct fake *f = ctx;
	if (f->install_rc)
		return f->install_rc;
	if (!f->gone[gfn])
		return -EEXIST;
	memcpy(f->mem + gfn * PAGE, bytes, PAGE);
	f->gone[gfn] = false;
	__atomic_add_fetch(&f->installs, 1, __ATOMIC_RELAXED);
	return 0;
}

struct world {
	struct fake f;
	struct p2m p2m;
	struct rstore *store;
	struct reclaim_vm r;
};

static struct world *world_new(uint64_t cap)
{
	struct world *w = calloc(1, sizeof(*w));
	assert_non_null(w);
	w->f.mem = aligned_alloc(PAGE, NR * PAGE);
	assert_non_null(w->f.mem);
	for (uint64_t g = 0; g < NR; g++)
		hotcold__fill((uint64_t *)(w->f.mem + g * PAGE), 7, g, 0);
	assert_int_equal(p2m__init(&w->p2m, NR), 0);
	assert_int_equal(p2m__move(&w->p2m, 0, NR, P2M_ANY, P2M_PRIVATE, NULL, NULL), 0);
	struct rstore_config c = { .compressor = RSTORE_ZSTD, .cap_bytes = cap, .bad_pct = 75,
				   .swap_fd = -1 };
	assert_int_equal(rstore__create(&w->store, &c), 0);
	assert_int_equal(reclaim_vm__init(&w->r, &w->p2m, w->store, &fake_ops, &w->f), 0);
	return w;
}

static void world_free(struct world *w)
{
	reclaim_vm__destroy(&w->r);
	struct rstore_stats s;
	rstore__stats(w->store, &s);
	assert_int_equal(s.pages, 0); /* nothing left behind */
	rstore__destroy(w->store);
	p2m__destroy(&w->p2m);
	free(w->f.mem);
	free(w);
}

static void assert_page(struct world *w, uint64_t g)
{
	assert_int_equal(hotcold__verify((const uint64_t *)(w->f.mem + g * PAGE), 7, g, 0), 0);
}

/* Evict a run, fetch each frame back: the bytes are the ones written. */
static void evict_and_fetch_keep_bytes(void **state)
{
	(void)state;
	struct world *w = world_new(0);
	assert_int_equal(reclaim_vm__evict_run(&w->r, 10, 20), 20);
	assert_int_equal(p2m__count(&w->p2m, P2M_COMPRESSED), 20);
	assert_true(w->f.gone[10] && w->f.gone[29] && !w->f.gone[30]);
	struct rstore_stats s;
	rstore__stats(w->store, &s);
	assert_int_equal(s.pages, 20);
	w->r.prefetch = 0;
	for (uint64_t g = 10; g < 30; g++) {
		assert_int_equal(reclaim_vm__fetch(&w->r, g, f_install, &w->f, 0), 1);
		assert_int_equal(p2m__get(&w->p2m, g), P2M_PRIVATE);
		assert_page(w, g);
	}
	/* not compressed (any more): nothing to do */
	assert_int_equal(reclaim_vm__fetch(&w->r, 10, f_install, &w->f, 0), 0);
	assert_int_equal(reclaim_vm__fetch(&w->r, NR, f_install, &w->f, 0), -EINVAL);
	struct reclaim_vm_stats st;
	reclaim_vm__stats(&w->r, &st);
	assert_int_equal(st.evictions, 20);
	assert_int_equal(st.evict_runs, 1);
	assert_int_equal(st.fetches, 20);
	assert_int_equal(st.refaults, 20); /* all within refault_ns of their eviction */
	assert_int_equal(st.compressed, 0);
	assert_true(st.fetch_ns_p99 >= st.fetch_ns_p50);
	rstore__stats(w->store, &s);
	assert_int_equal(s.pages, 0);
	world_free(w);
}

/* A store that takes no more: the pages stay resident, bytes and states intact. */
static void store_refusal_leaves_pages_resident(void **state)
{
	(void)state;
	struct world *w = world_new(64 * 1024); /* a few dozen pages at most */
	int64_t got = reclaim_vm__evict_run(&w->r, 0, 64);
	assert_true(got > 0 && got < 64);
	assert_int_equal(p2m__count(&w->p2m, P2M_COMPRESSED), (uint64_t)got);
	for (uint64_t g = (uint64_t)got; g < 64; g++) {
		assert_int_equal(p2m__get(&w->p2m, g), P2M_PRIVATE);
		assert_false(w->f.fenced[g] || w->f.gone[g]);
		assert_page(w, g);
	}
	/* no room at all now: a page that needs a blob (a same-byte one
	 * would still fit) is refused whole */
	struct rstore_stats s;
	rstore__stats(w->store, &s);
	rstore__set_cap(w->store, s.mem_bytes);
	uint64_t g = 100;
	while ((hotcold__page_hash(7, g, 0) & 15) == 0)
		g++;
	assert_int_equal(reclaim_vm__evict_run(&w->r, g, 8), -ENOSPC);
	assert_int_equal(p2m__get(&w->p2m, g), P2M_PRIVATE);
	assert_page(w, g);
	struct reclaim_vm_stats st;
	reclaim_vm__stats(&w->r, &st);
	assert_int_equal(st.store_refusals, 2);
	/* a run with a frame in another state: nothing happens */
	assert_int_equal(reclaim_vm__evict_run(&w->r, 0, 2), -EPERM);
	world_free(w);
}

/* A backend that will not fence, an install that fails: nothing is lost. */
static void backend_refusals_lose_nothing(void **state)
{
	(void)state;
	struct world *w = world_new(0);
	w->f.fence_rc = -EBUSY;
	assert_int_equal(reclaim_vm__evict_run(&w->r, 0, 4), -EBUSY);
	assert_int_equal(p2m__count(&w->p2m, P2M_PRIVATE), NR);
	w->f.fence_rc = 0;
	assert_int_equal(reclaim_vm__evict_run(&w->r, 0, 4), 4);
	w->f.install_rc = -EIO;
	assert_int_equal(reclaim_vm__fetch(&w->r, 0, f_install, &w->f, 0), -EIO);
	assert_int_equal(p2m__get(&w->p2m, 0), P2M_COMPRESSED);
	w->f.install_rc = 0;
	assert_int_equal(reclaim_vm__fetch(&w->r, 0, f_install, &w->f, 0), 1);
	assert_page(w, 0);
	struct reclaim_vm_stats st;
	reclaim_vm__stats(&w->r, &st);
	assert_int_equal(st.fence_refusals, 1);
	assert_int_equal(st.fetch_errors, 1);
	world_free(w);
}

/* The balloon takes a stored frame: its bytes are dropped, never fetched. */
static void balloon_take_drops_stored_bytes(void **state)
{
	(void)state;
	struct world *w = world_new(0);
	assert_int_equal(reclaim_vm__evict_run(&w->r, 0, 8), 8);
	uint32_t guest = P2M_BIT(P2M_PRIVATE) | P2M_BIT(P2M_COMPRESSED);
	assert_int_equal(p2m__move(&w->p2m, 0, 4, guest, P2M_BALLOONED, NULL, NULL), 0);
	assert_int_equal(p2m__move(&w->p2m, 4, 1, guest, P2M_UNPOPULATED, NULL, NULL), 0);
	struct rstore_stats s;
	rstore__stats(w->store, &s);
	assert_int_equal(s.pages, 3);
	struct reclaim_vm_stats st;
	reclaim_vm__stats(&w->r, &st);
	assert_int_equal(st.dropped, 5);
	assert_int_equal(reclaim_vm__fetch(&w->r, 0, f_install, &w->f, 0), 0);
	assert_int_equal(w->f.installs, 0);
	world_free(w);
}

/* Ageing: frames touched lately are not victims; the floor holds. */
static void ageing_picks_cold_frames_and_keeps_the_floor(void **state)
{
	(void)state;
	struct world *w = world_new(0);
	for (int round = 0; round < 3; round++) {
		for (uint64_t g = 0; g < 64; g++) /* the hot part */
			w->f.touched[g] = true;
		assert_int_equal(reclaim_vm__age(&w->r), 0);
	}
	w->f.pinned[200] = true;
	/* cold_age 2: frames 64.. are 3 intervals old, frames 0..63 are 0 */
	uint64_t got = reclaim_vm__evict(&w->r, NR, 2, 100);
	assert_int_equal(got, NR - 100);
	for (uint64_t g = 0; g < 64; g++)
		assert_int_equal(p2m__get(&w->p2m, g), P2M_PRIVATE);
	assert_int_equal(p2m__get(&w->p2m, 200), P2M_PRIVATE);
	assert_int_equal(p2m__count(&w->p2m, P2M_PRIVATE), 100);
	/* at the floor: nothing more */
	assert_int_equal(reclaim_vm__evict(&w->r, NR, 2, 100), 0);
	/* too young for a higher cold age */
	world_free(w);
	w = world_new(0);
	assert_int_equal(reclaim_vm__age(&w->r), 0);
	assert_int_equal(reclaim_vm__evict(&w->r, NR, 2, 0), 0);
	assert_int_equal(reclaim_vm__evict(&w->r, 10, 1, 0), 10);
	world_free(w);
}

/* A fetch brings back the frames of its batch that follow it. */
static void prefetch_brings_the_batch(void **state)
{
	(void)state;
	struct world *w = world_new(0);
	assert_int_equal(reclaim_vm__evict_run(&w->r, 0, 16), 16);
	assert_int_equal(reclaim_vm__evict_run(&w->r, 16, 16), 16);
	w->r.prefetch = 8;
	assert_int_equal(reclaim_vm__fetch(&w->r, 12, f_install, &w->f, 0), 1);
	/* 13, 14, 15 came along; 16.. are another batch */
	for (uint64_t g = 12; g < 16; g++) {
		assert_int_equal(p2m__get(&w->p2m, g), P2M_PRIVATE);
		assert_page(w, g);
	}
	assert_int_equal(p2m__get(&w->p2m, 11), P2M_COMPRESSED);
	assert_int_equal(p2m__get(&w->p2m, 16), P2M_COMPRESSED);
	struct reclaim_vm_stats st;
	reclaim_vm__stats(&w->r, &st);
	assert_int_equal(st.fetches, 1);
	assert_int_equal(st.prefetches, 3);
	world_free(w);
}

struct racer {
	struct world *w;
	int rc[NR];
};

static void *fetch_all(void *arg)
{
	struct racer *x = arg;
	for (uint64_t g = 0; g < 128; g++)
		x->rc[g] = reclaim_vm__fetch(&x->w->r, g, f_install, &x->w->f, 0);
	return NULL;
}

/* Two threads fetch the same frames: each installed once, both see success
 * or "already back". */
static void concurrent_fetches_install_once(void **state)
{
	(void)state;
	struct world *w = world_new(0);
	for (uint64_t g = 0; g < 128; g += 64)
		assert_int_equal(reclaim_vm__evict_run(&w->r, g, 64), 64);
	w->r.prefetch = 0;
	struct racer a = { .w = w }, b = { .w = w };
	pthread_t ta, tb;
	assert_int_equal(pthread_create(&ta, NULL, fetch_all, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, fetch_all, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	for (uint64_t g = 0; g < 128; g++) {
		assert_true(a.rc[g] == 0 || a.rc[g] == 1);
		assert_int_equal(a.rc[g] + b.rc[g], 1);
		assert_page(w, g);
	}
	assert_int_equal(w->f.installs, 128);
	world_free(w);
}

/* A disk write of a stored frame: the bytes from the store, the frame stays stored. */
static void read_stored_leaves_the_frame_stored(void **state)
{
	(void)state;
	struct world *w = world_new(0);
	assert_int_equal(reclaim_vm__evict_run(&w->r, 40, 4), 4);
	_Alignas(64) uint8_t page[PAGE];
	assert_int_equal(reclaim_vm__read_stored(&w->r, 41, page), 1);
	assert_int_equal(hotcold__verify((const uint64_t *)page, 7, 41, 0), 0);
	assert_int_equal(p2m__get(&w->p2m, 41), P2M_COMPRESSED);
	assert_true(w->f.gone[41]);
	assert_int_equal(w->f.installs, 0);
	/* not stored: nothing read, the caller reads the frame */
	assert_int_equal(reclaim_vm__read_stored(&w->r, 39, page), 0);
	assert_int_equal(reclaim_vm__read_stored(&w->r, NR, page), 0);
	/* the stored copy is still there: a later fetch gives the same bytes */
	w->r.prefetch = 0;
	assert_int_equal(reclaim_vm__fetch(&w->r, 41, f_install, &w->f, 0), 1);
	assert_page(w, 41);
	reclaim_vm__note_double_paging(&w->r, 3);
	struct reclaim_vm_stats st;
	reclaim_vm__stats(&w->r, &st);
	assert_int_equal(st.stored_reads, 1);
	assert_int_equal(st.fetches, 1);
	assert_int_equal(st.double_paging, 3);
	/* dropped (a hint: COMPRESSED -> UNPOPULATED): no stored copy left to read */
	assert_int_equal(p2m__move(&w->p2m, 42, 1, P2M_BIT(P2M_COMPRESSED), P2M_UNPOPULATED, NULL,
				   NULL), 0);
	assert_int_equal(reclaim_vm__read_stored(&w->r, 42, page), 0);
	world_free(w);
}

static void watch_bit(void *ctx, uint64_t gfn, bool in_store)
{
	uint64_t *bm = ctx;
	if (in_store)
		bm[gfn / 64] |= 1ull << (gfn % 64);
	else
		bm[gfn / 64] &= ~(1ull << (gfn % 64));
}

static bool bit(const uint64_t *bm, uint64_t gfn)
{
	return bm[gfn / 64] >> (gfn % 64) & 1;
}

/* The watch's bits are the p2m's COMPRESSED frames through evict, fetch, drop. */
static void watch_follows_the_store(void **state)
{
	(void)state;
	struct world *w = world_new(0);
	uint64_t bm[NR / 64] = { 0 };
	assert_int_equal(reclaim_vm__evict_run(&w->r, 0, 2), 2);
	reclaim_vm__set_watch(&w->r, &(struct reclaim_watch){ .stored = watch_bit, .ctx = bm });
	assert_true(bit(bm, 0) && bit(bm, 1)); /* told at registration */
	assert_int_equal(reclaim_vm__evict_run(&w->r, 100, 8), 8);
	w->r.prefetch = 0;
	assert_int_equal(reclaim_vm__fetch(&w->r, 103, f_install, &w->f, 0), 1);
	assert_int_equal(p2m__move(&w->p2m, 104, 1, P2M_BIT(P2M_COMPRESSED), P2M_UNPOPULATED, NULL,
				   NULL), 0);
	_Alignas(64) uint8_t page[PAGE];
	assert_int_equal(reclaim_vm__read_stored(&w->r, 105, page), 1);
	for (uint64_t g = 0; g < NR; g++)
		assert_int_equal(bit(bm, g), p2m__get(&w->p2m, g) == P2M_COMPRESSED);
	assert_false(bit(bm, 103) || bit(bm, 104));
	assert_true(bit(bm, 105));
	reclaim_vm__set_watch(&w->r, NULL);
	assert_int_equal(reclaim_vm__fetch(&w->r, 105, f_install, &w->f, 0), 1);
	assert_true(bit(bm, 105)); /* nobody told any more */
	world_free(w);
}

/* Pinned frames (the bitmap) are never victims, whatever their age. */
static void pinned_frames_stay(void **state)
{
	(void)state;
	struct world *w = world_new(0);
	reclaim_vm__set_pinned(&w->r, 8, 4);
	assert_int_equal(reclaim_vm__evict_run(&w->r, 6, 4), -EBUSY);
	assert_int_equal(reclaim_vm__evict_run(&w->r, 11, 1), -EBUSY);
	for (int i = 0; i < 3; i++)
		assert_int_equal(reclaim_vm__age(&w->r), 0);
	reclaim_vm__evict(&w->r, NR, 1, 0);
	for (uint64_t g = 0; g < NR; g++)
		assert_int_equal(p2m__get(&w->p2m, g),
				 g >= 8 && g < 12 ? P2M_PRIVATE : P2M_COMPRESSED);
	reclaim_vm__set_pinned(&w->r, 0, 0);
	assert_int_equal(reclaim_vm__evict_run(&w->r, 8, 4), 4);
	world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(evict_and_fetch_keep_bytes),
		cmocka_unit_test(store_refusal_leaves_pages_resident),
		cmocka_unit_test(backend_refusals_lose_nothing),
		cmocka_unit_test(balloon_take_drops_stored_bytes),
		cmocka_unit_test(ageing_picks_cold_frames_and_keeps_the_floor),
		cmocka_unit_test(prefetch_brings_the_batch),
		cmocka_unit_test(concurrent_fetches_install_once),
		cmocka_unit_test(read_stored_leaves_the_frame_stored),
		cmocka_unit_test(watch_follows_the_store),
		cmocka_unit_test(pinned_frames_stay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
