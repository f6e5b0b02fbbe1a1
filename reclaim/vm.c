// SPDX-License-Identifier: MIT
/*
 * DOC: host reclaim's per-VM core (reclaim.h): ageing, the victim clock,
 * eviction runs and fetches.
 *
 * Every state change is a p2m move, so a frame is never evicted and fetched
 * at once, and never shared, ballooned or reported free half-way: the
 * p2m's IN_FLIGHT state is held only here, across one run's compression or
 * one page's decompression, and p2m__move() callers that meet it wait.
 * A move of a VM under page sharing takes the sharing engine's lock (the
 * p2m's client); the engine reads only frames it finds PRIVATE under that
 * lock, so it never touches a page that is gone.
 */
#include "reclaim/reclaim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mmu/clock.h"

#define RUN_MAX 64u     /* frames fenced and discarded with one backend call */
#define AGE_CHUNK 32768u /* frames harvested per backend call */
#define PAGE 4096u

/* Tell the watch that gfn entered or left the store. r->lock held. */
static void tell(struct reclaim_vm *r, uint64_t gfn, bool in_store)
{
	if (r->watch.stored)
		r->watch.stored(r->watch.ctx, gfn, in_store);
}

static void hook_dropped(void *ctx, uint64_t gfn)
{
	struct reclaim_vm *r = ctx;
	pthread_mutex_lock(&r->lock);
	rstore_handle h = r->handle[gfn];
	r->handle[gfn] = 0;
	r->c.dropped++;
	tell(r, gfn, false);
	pthread_mutex_unlock(&r->lock);
	if (h)
		rstore__drop(r->store, h);
}

int reclaim_vm__init(struct reclaim_vm *r, struct p2m *p2m, struct rstore *store,
		     const struct reclaim_backend *be, void *ctx)
{
	uint64_t n = p2m->nr_frames;
	*r = (struct reclaim_vm){ .p2m = p2m, .store = store, .be = be, .be_ctx = ctx,
				  .nr_frames = n, .prefetch = 8,
				  .refault_ns = 10ull * 1000 * 1000 * 1000 };
	r->handle = calloc(n, sizeof(*r->handle));
	r->batch = calloc(n, sizeof(*r->batch));
	r->evicted_ns = calloc(n, sizeof(*r->evicted_ns));
	r->age = calloc(n, sizeof(*r->age));
	r->accessed = calloc((AGE_CHUNK + 63) / 64, sizeof(*r->accessed));
	if (!r->handle || !r->batch || !r->evicted_ns || !r->age || !r->accessed) {
		free(r->handle), free(r->batch), free(r->evicted_ns), free(r->age), free(r->accessed);
		*r = (struct reclaim_vm){ 0 };
		return -ENOMEM;
	}
	pthread_mutex_init(&r->lock, NULL);
	p2m__set_store_hook(p2m, &(struct p2m_store_hook){ .dropped = hook_dropped, .ctx = r });
	return 0;
}

void reclaim_vm__destroy(struct reclaim_vm *r)
{
	if (!r->handle)
		return;
	p2m__set_store_hook(r->p2m, NULL);
	for (uint64_t g = 0; g < r->nr_frames; g++)
		if (r->handle[g])
			rstore__drop(r->store, r->handle[g]);
	pthread_mutex_destroy(&r->lock);
	free(r->handle), free(r->batch), free(r->evicted_ns), free(r->age), free(r->accessed);
	*r = (struct reclaim_vm){ 0 };
}

uint64_t reclaim_vm__bytes(const struct reclaim_vm *r)
{
	return r->nr_frames * (sizeof(*r->handle) + sizeof(*r->batch) + sizeof(*r->evicted_ns) +
				sizeof(*r->age)) +
	       (AGE_CHUNK + 63) / 64 * sizeof(*r->accessed) + sizeof(*r);
}

/*
 * Without page sharing nothing records a guest's first writes in the p2m
 * (sharing's sync does, from its write tracking), so pages the host holds
 * for the guest would stay UNPOPULATED and never be victims. A frame the
 * p2m calls UNPOPULATED whose own host page is resident (mincore, over runs
 * of frames whose pages are contiguous) got content: record it written.
 */
static void record_populated(struct reclaim_vm *r, uint64_t gfn, uint64_t n)
{
	static _Thread_local unsigned char vec[4096];
	if (__atomic_load_n(&r->p2m->client.lock, __ATOMIC_ACQUIRE))
		return; /* page sharing records them */
	for (uint64_t g = gfn; g < gfn + n;) {
		if (p2m__get(r->p2m, g) != P2M_UNPOPULATED) {
			g++;
			continue;
		}
		const uint8_t *first = r->be->page(r->be_ctx, g);
		uint64_t k = 1;
		while (first && k < sizeof(vec) && g + k < gfn + n &&
		       (const uint8_t *)r->be->page(r->be_ctx, g + k) == first + k * PAGE)
			k++;
		if (first && mincore((void *)first, k * PAGE, vec) == 0)
			for (uint64_t i = 0; i < k; i++)
				if ((vec[i] & 1) && p2m__get(r->p2m, g + i) == P2M_UNPOPULATED)
					p2m__record_written(r->p2m, g + i, 1);
		g += k;
	}
}

int reclaim_vm__age(struct reclaim_vm *r)
{
	for (uint64_t gfn = 0; gfn < r->nr_frames; gfn += AGE_CHUNK) {
		uint64_t n = r->nr_frames - gfn < AGE_CHUNK ? r->nr_frames - gfn : AGE_CHUNK;
		memset(r->accessed, 0, (n + 63) / 64 * sizeof(*r->accessed));
		int rc = r->be->harvest(r->be_ctx, gfn, n, r->accessed);
		if (rc < 0)
			return rc;
		record_populated(r, gfn, n);
		for (uint64_t i = 0; i < n; i++) {
			uint8_t *a = &r->age[gfn + i];
			if (r->accessed[i / 64] >> (i % 64) & 1)
				__atomic_store_n(a, 0, __ATOMIC_RELAXED);
			else if (*a < UINT8_MAX)
				__atomic_store_n(a, (uint8_t)(*a + 1), __ATOMIC_RELAXED);
		}
	}
	return 0;
}

/* The p2m's host side of IN_FLIGHT -> PRIVATE for an eviction given up. */
static int unfence(void *ctx, uint64_t gfn, uint64_t n)
{
	struct reclaim_vm *r = ctx;
	r->be->unfence(r->be_ctx, gfn, n);
	return 0;
}

/* The p2m's host side of IN_FLIGHT -> COMPRESSED: the backend releases the
 * pages, then the watch hears of each (still under the p2m lock). */
static int discard_told(void *ctx, uint64_t gfn, uint64_t n)
{
	struct reclaim_vm *r = ctx;
	int rc = r->be->discard(r->be_ctx, gfn, n);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&r->lock);
	for (uint64_t i = gfn; i < gfn + n; i++)
		tell(r, i, true);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static bool pinned(struct reclaim_vm *r, uint64_t gfn, uint64_t n)
{
	uint64_t lo = __atomic_load_n(&r->pin_gfn, __ATOMIC_RELAXED);
	uint64_t k = __atomic_load_n(&r->pin_n, __ATOMIC_RELAXED);
	return k && gfn < lo + k && lo < gfn + n;
}

static void give_up(struct reclaim_vm *r, uint64_t gfn, uint64_t n)
{
	if (n)
		p2m__move(r->p2m, gfn, n, P2M_BIT(P2M_IN_FLIGHT), P2M_PRIVATE, unfence, r);
}

static void store_refused(struct reclaim_vm *r, int err)
{
	pthread_mutex_lock(&r->lock);
	r->c.store_refusals++;
	bool say = !r->said_store_error;
	r->said_store_error = true;
	pthread_mutex_unlock(&r->lock);
	if (say)
		fprintf(stderr,
			"l1vmm: reclaim: the store refused a page (%s); it stays resident "
			"(counted in reclaim/store_refusals, said once per VM)\n",
			err == -ENOSPC ? "store or file full"
			: err == -E2BIG ? "compresses badly and no swap_file is set"
					: strerror(-err));
}

int64_t reclaim_vm__evict_run(struct reclaim_vm *r, uint64_t gfn, uint64_t n)
{
	if (!n || n > RUN_MAX || gfn >= r->nr_frames || n > r->nr_frames - gfn)
		return -EINVAL;
	if (pinned(r, gfn, n))
		return -EBUSY;
	int rc = p2m__move(r->p2m, gfn, n, P2M_BIT(P2M_PRIVATE), P2M_IN_FLIGHT, r->be->fence,
			   r->be_ctx);
	if (rc < 0) {
		if (rc != -EPERM) {
			pthread_mutex_lock(&r->lock);
			r->c.fence_refusals++;
			pthread_mutex_unlock(&r->lock);
		}
		return rc;
	}
	/* fenced: the bytes read now are the page's last */
	rstore_handle h[RUN_MAX];
	uint64_t k = 0;
	int err = 0;
	for (; k < n; k++) {
		err = rstore__put(r->store, r->be->page(r->be_ctx, gfn + k), &h[k]);
		if (err)
			break;
	}
	if (err) {
		store_refused(r, err);
		give_up(r, gfn + k, n - k);
		if (!k)
			return err;
		n = k; /* the frames stored so far still go */
	}
	uint64_t now = clock__mono_ns();
	pthread_mutex_lock(&r->lock);
	uint32_t batch = ++r->next_batch ? r->next_batch : ++r->next_batch;
	for (uint64_t i = 0; i < n; i++) {
		r->handle[gfn + i] = h[i];
		r->batch[gfn + i] = batch;
		r->evicted_ns[gfn + i] = now;
	}
	pthread_mutex_unlock(&r->lock);
	rc = p2m__move(r->p2m, gfn, n, P2M_BIT(P2M_IN_FLIGHT), P2M_COMPRESSED, discard_told, r);
	pthread_mutex_lock(&r->lock);
	if (rc < 0) {
		for (uint64_t i = 0; i < n; i++)
			r->handle[gfn + i] = 0;
		r->c.fence_refusals++;
	} else {
		r->c.evictions += n;
		r->c.evict_runs++;
	}
	pthread_mutex_unlock(&r->lock);
	if (rc < 0) {
		for (uint64_t i = 0; i < n; i++)
			rstore__drop(r->store, h[i]);
		give_up(r, gfn, n);
		return rc;
	}
	return (int64_t)n;
}

static bool victim(struct reclaim_vm *r, uint64_t gfn, unsigned cold_age)
{
	return __atomic_load_n(&r->age[gfn], __ATOMIC_RELAXED) >= cold_age &&
	       p2m__get(r->p2m, gfn) == P2M_PRIVATE && !pinned(r, gfn, 1) &&
	       r->be->evictable(r->be_ctx, gfn);
}

uint64_t reclaim_vm__evict(struct reclaim_vm *r, uint64_t max, unsigned cold_age,
			   uint64_t floor_frames)
{
	uint64_t resident = p2m__count(r->p2m, P2M_PRIVATE);
	if (resident <= floor_frames)
		return 0;
	if (max > resident - floor_frames)
		max = resident - floor_frames;
	uint64_t done = 0, visited = 0;
	while (done < max && visited < r->nr_frames) {
		uint64_t g = r->hand < r->nr_frames ? r->hand : 0;
		uint64_t n = 0;
		while (n < RUN_MAX && n < max - done && g + n < r->nr_frames &&
		       victim(r, g + n, cold_age))
			n++;
		uint64_t step = n ? n : 1;
		visited += step;
		r->hand = g + step;
		if (!n)
			continue;
		int64_t got = reclaim_vm__evict_run(r, g, n);
		if (got > 0)
			done += (uint64_t)got;
		else if (got == -ENOSPC || got == -E2BIG || got == -EIO || got == -EPROTO ||
			 got == -ENOMEM)
			break; /* the store takes no more now */
	}
	return done;
}

struct install_ctx {
	struct reclaim_vm *r;
	reclaim_install_fn install;
	void *ctx;
	const void *bytes;
};

/* The host side of IN_FLIGHT -> PRIVATE for a fetch: the bytes go back,
 * and the frame's record is cleared and its age reset here, under the p2m
 * lock, before the frame is PRIVATE again: an eviction that takes it next
 * must find a clean record, never have its new handle cleared by us. */
static int install_apply(void *ctx, uint64_t gfn, uint64_t n)
{
	struct install_ctx *ic = ctx;
	struct reclaim_vm *r = ic->r;
	(void)n;
	int rc = ic->install(ic->ctx, gfn, ic->bytes);
	if (rc < 0 && rc != -EEXIST)
		return rc;
	pthread_mutex_lock(&r->lock);
	r->handle[gfn] = 0;
	r->batch[gfn] = 0;
	tell(r, gfn, false);
	pthread_mutex_unlock(&r->lock);
	__atomic_store_n(&r->age[gfn], 0, __ATOMIC_RELAXED);
	return 0;
}

/* Fetch one frame: 1, 0 (not COMPRESSED), or -errno (it stays COMPRESSED). */
static int fetch_one(struct reclaim_vm *r, uint64_t gfn, reclaim_install_fn install, void *ictx,
		     uint64_t *evicted_ns)
{
	if (p2m__get(r->p2m, gfn) != P2M_COMPRESSED)
		return 0;
	int rc = p2m__move(r->p2m, gfn, 1, P2M_BIT(P2M_COMPRESSED), P2M_IN_FLIGHT, NULL, NULL);
	if (rc == -EPERM)
		return 0; /* fetched by another thread meanwhile, or given away */
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&r->lock);
	rstore_handle h = r->handle[gfn];
	*evicted_ns = r->evicted_ns[gfn];
	pthread_mutex_unlock(&r->lock);
	_Alignas(64) uint8_t buf[PAGE];
	rc = rstore__get(r->store, h, buf);
	if (rc == 0) {
		struct install_ctx ic = { .r = r, .install = install, .ctx = ictx, .bytes = buf };
		rc = p2m__move(r->p2m, gfn, 1, P2M_BIT(P2M_IN_FLIGHT), P2M_PRIVATE, install_apply,
			       &ic);
	}
	if (rc < 0) {
		/* the stored copy stays: the frame waits for the next try */
		p2m__move(r->p2m, gfn, 1, P2M_BIT(P2M_IN_FLIGHT), P2M_COMPRESSED, NULL, NULL);
		pthread_mutex_lock(&r->lock);
		r->c.fetch_errors++;
		pthread_mutex_unlock(&r->lock);
		return rc;
	}
	rstore__drop(r->store, h); /* ours alone: install_apply took it off the frame */
	return 1;
}

int reclaim_vm__fetch(struct reclaim_vm *r, uint64_t gfn, reclaim_install_fn install, void *ctx,
		      uint64_t since_ns)
{
	if (gfn >= r->nr_frames)
		return -EINVAL;
	if (!since_ns)
		since_ns = clock__mono_ns();
	pthread_mutex_lock(&r->lock);
	uint32_t batch = r->batch[gfn];
	pthread_mutex_unlock(&r->lock);
	uint64_t evicted = 0;
	int rc = fetch_one(r, gfn, install, ctx, &evicted);
	if (rc != 1)
		return rc;
	uint64_t now = clock__mono_ns();
	pthread_mutex_lock(&r->lock);
	r->c.fetches++;
	r->c.refaults += now - evicted < __atomic_load_n(&r->refault_ns, __ATOMIC_RELAXED);
	r->lat[r->nr_lat++ % RECLAIM_LAT_WINDOW] = now - since_ns;
	pthread_mutex_unlock(&r->lock);
	/* what went out with it and follows it comes back too */
	unsigned ahead = __atomic_load_n(&r->prefetch, __ATOMIC_RELAXED);
	for (uint64_t g = gfn + 1; batch && g < r->nr_frames && g <= gfn + ahead; g++) {
		pthread_mutex_lock(&r->lock);
		bool same = r->batch[g] == batch;
		pthread_mutex_unlock(&r->lock);
		if (!same || fetch_one(r, g, install, ctx, &evicted) != 1)
			break;
		pthread_mutex_lock(&r->lock);
		r->c.prefetches++;
		pthread_mutex_unlock(&r->lock);
	}
	return 1;
}

int reclaim_vm__read_stored(struct reclaim_vm *r, uint64_t gfn, void *page)
{
	if (gfn >= r->nr_frames || p2m__get(r->p2m, gfn) != P2M_COMPRESSED)
		return 0;
	/* held IN_FLIGHT: no fetch, drop or eviction of it meanwhile */
	int rc = p2m__move(r->p2m, gfn, 1, P2M_BIT(P2M_COMPRESSED), P2M_IN_FLIGHT, NULL, NULL);
	if (rc == -EPERM)
		return 0; /* fetched or given away meanwhile */
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&r->lock);
	rstore_handle h = r->handle[gfn];
	pthread_mutex_unlock(&r->lock);
	rc = rstore__get(r->store, h, page);
	/* the page stays where it was: in the store, its host page released */
	p2m__move(r->p2m, gfn, 1, P2M_BIT(P2M_IN_FLIGHT), P2M_COMPRESSED, NULL, NULL);
	pthread_mutex_lock(&r->lock);
	if (rc < 0)
		r->c.fetch_errors++;
	else
		r->c.stored_reads++;
	pthread_mutex_unlock(&r->lock);
	return rc < 0 ? rc : 1;
}

void reclaim_vm__note_double_paging(struct reclaim_vm *r, uint64_t n)
{
	pthread_mutex_lock(&r->lock);
	r->c.double_paging += n;
	pthread_mutex_unlock(&r->lock);
}

void reclaim_vm__set_watch(struct reclaim_vm *r, const struct reclaim_watch *w)
{
	pthread_mutex_lock(&r->lock);
	r->watch = w ? *w : (struct reclaim_watch){ 0 };
	for (uint64_t g = 0; w && g < r->nr_frames; g++)
		if (p2m__get(r->p2m, g) == P2M_COMPRESSED)
			tell(r, g, true);
	pthread_mutex_unlock(&r->lock);
}

void reclaim_vm__set_pinned(struct reclaim_vm *r, uint64_t gfn, uint64_t n)
{
	__atomic_store_n(&r->pin_n, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&r->pin_gfn, gfn, __ATOMIC_RELAXED);
	__atomic_store_n(&r->pin_n, n, __ATOMIC_RELAXED);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

void reclaim_vm__stats(struct reclaim_vm *r, struct reclaim_vm_stats *out)
{
	uint64_t lat[RECLAIM_LAT_WINDOW];
	pthread_mutex_lock(&r->lock);
	*out = r->c;
	uint64_t n = r->nr_lat < RECLAIM_LAT_WINDOW ? r->nr_lat : RECLAIM_LAT_WINDOW;
	memcpy(lat, r->lat, n * sizeof(*lat));
	pthread_mutex_unlock(&r->lock);
	out->compressed = p2m__count(r->p2m, P2M_COMPRESSED);
	if (n) {
		qsort(lat, n, sizeof(*lat), cmp_u64);
		out->fetch_ns_p50 = lat[(n - 1) / 2];
		out->fetch_ns_p99 = lat[(n - 1) * 99 / 100];
	}
}
