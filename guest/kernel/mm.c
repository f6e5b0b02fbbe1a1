// SPDX-License-Identifier: MIT
/*
 * DOC: frame allocator.
 *
 * RAM is managed in chunks (2 MiB, one PDE each; see mm.h). A chunk is:
 *  - FREE: never handed out, mapped supervisor-only;
 *  - RESERVED / USER_IMAGE: the host boot area, the kernel and user images;
 *  - KFRAMES / UFRAMES: split into 4 KiB frames by a frame pool (a 512-bit
 *    bitmap), supervisor-only resp. user;
 *  - UBIG (first chunk of a run, with its length) / UBIG_TAIL: one
 *    SYS_MEM_ALLOC region;
 *  - USER_FREE: a freed user chunk. It keeps its user mapping and is only
 *    ever handed out to tasks again, never to the kernel, so a stale user TLB
 *    entry on another CPU can never reach kernel data - which is why freeing
 *    needs no TLB shootdown.
 *  - BALLOONED / BALLOONED_USER: in the balloon (see mm__balloon_claim);
 *  - REPORTING: a USER_FREE chunk in flight for free page reporting: the
 *    host may be discarding it, so nothing hands it out until it is put
 *    back (USER_FREE again). It still counts as free (nr_free, user_free).
 * Free page reporting only takes USER_FREE chunks: a FREE chunk was never
 * written by this kernel (pools keep their chunks for good, a task's chunk
 * comes back USER_FREE, a deflated one was released by the host), so the
 * host holds no memory for it. reported[] marks the USER_FREE chunks
 * reported since they last became free; allocating, ballooning or freeing
 * a chunk clears its bit, so a chunk is reported at most once per free.
 * A reported chunk reads zeros (the host discarded it) where an unreported
 * one reads what its last owner left: nothing here promises either, memory
 * is handed out not zeroed.
 * Small blocks (2^order frames, aligned to their size) come from pools; a
 * pool takes a FREE chunk when the others are full and never gives it back.
 * The bitmap of the chunk states starts all-zero (= FREE) from the ELF bss,
 * so boot only writes the reserved chunks: boot cost does not grow with RAM.
 *
 * Locking: mm_lock guards everything here. mm__user_ok() reads the states
 * without it: a racing free only turns a region into USER_FREE, which is
 * still user-mapped RAM, so the worst case is reading freed user memory.
 */
#include <stddef.h>

#include "arch/x86/x86.h"
#include "include/uapi.h"
#include "kernel/balloon.h"
#include "kernel/mm.h"
#include "kernel/spinlock.h"

enum chunk_state {
	CH_FREE = 0,
	CH_RESERVED,
	CH_USER_IMAGE,
	CH_KFRAMES,
	CH_UFRAMES,
	CH_UBIG,
	CH_UBIG_TAIL,
	CH_USER_FREE,
	CH_BALLOONED,      /* in the balloon, was FREE (supervisor-only) */
	CH_BALLOONED_USER, /* in the balloon, was USER_FREE (still user-mapped) */
	CH_REPORTING,      /* being reported, was USER_FREE (still user-mapped) */
};

#define MAX_POOLS 64
#define FRAMES_PER_CHUNK 512

struct frame_pool {
	uint32_t chunk;
	uint16_t used;                            /* frames allocated */
	bool user;
	uint64_t bits[FRAMES_PER_CHUNK / 64];     /* 1 = allocated */
};

static struct spinlock mm_lock;
static uint8_t chunk_state[MM_MAX_CHUNKS];
static uint32_t chunk_run[MM_MAX_CHUNKS];          /* CH_UBIG: chunks in the region */
static struct frame_pool pools[MAX_POOLS];
static unsigned int nr_pools;
/* RAM chunks: [lo_first, lo_end) and [MM_LOW_CHUNKS, hi_end). */
static uint64_t lo_first, lo_end, hi_end;
static uint64_t free_hint;                         /* no FREE/USER_FREE chunk below it */
static uint64_t nr_free;                           /* FREE + USER_FREE + REPORTING chunks */
static uint64_t nr_reporting;                      /* REPORTING chunks; read outside mm_lock */
static uint64_t oom_events;
static uint64_t reported[MM_MAX_CHUNKS / 64];      /* USER_FREE and reported since it became so */
static bool maybe_unreported;                      /* a USER_FREE chunk may be unreported */
#define REPORTED(c) (reported[(c) / 64] >> ((c) % 64) & 1)
#define SET_REPORTED(c, on) \
	(reported[(c) / 64] = (reported[(c) / 64] & ~(1ull << ((c) % 64))) | (uint64_t)(on) << ((c) % 64))

static bool chunk_in_ram(uint64_t c)
{
	return (c >= lo_first && c < lo_end) || (c >= MM_LOW_CHUNKS && c < hi_end);
}

void mm__init(const struct l1_start_info *si, uint64_t image_end,
	      uint64_t user_start, uint64_t user_end)
{
	uint64_t low = si->ram_below_4g < L1_RAM_HOLE_START ? si->ram_below_4g : L1_RAM_HOLE_START;
	uint64_t high = si->mem_bytes > si->ram_below_4g ? si->mem_bytes - si->ram_below_4g : 0;
	uint64_t first_free;

	if (high > (uint64_t)MM_HIGH_PD_MAX << 30)
		high = (uint64_t)MM_HIGH_PD_MAX << 30;
	lo_end = low >> CHUNK_SHIFT;
	hi_end = MM_LOW_CHUNKS + (high >> CHUNK_SHIFT);

	image_end = paging__init(si, image_end, lo_end, hi_end - MM_LOW_CHUNKS);
	first_free = (image_end + CHUNK_SIZE - 1) >> CHUNK_SHIFT;
	lo_first = first_free < lo_end ? first_free : lo_end;
	free_hint = lo_first;

	for (uint64_t c = 0; c < lo_first; c++)
		chunk_state[c] = CH_RESERVED;
	nr_free = (lo_end - lo_first) + (hi_end - MM_LOW_CHUNKS);
	for (uint64_t c = user_start >> CHUNK_SHIFT; c < (user_end + CHUNK_SIZE - 1) >> CHUNK_SHIFT; c++)
		chunk_state[c] = CH_USER_IMAGE;
	paging__set_user(user_start >> CHUNK_SHIFT,
			 ((user_end + CHUNK_SIZE - 1) >> CHUNK_SHIFT) - (user_start >> CHUNK_SHIFT), true);
}

static bool takeable(uint64_t c, bool user)
{
	return chunk_state[c] == CH_FREE || (user && chunk_state[c] == CH_USER_FREE);
}

/* First run of n takeable chunks, or -1. Caller holds mm_lock. */
static int64_t find_run(uint64_t n, bool user)
{
	uint64_t c = free_hint, run = 0;

	while (c < hi_end) {
		if (c == lo_end && c < MM_LOW_CHUNKS) {
			c = MM_LOW_CHUNKS; /* runs never span the hole */
			run = 0;
			continue;
		}
		if (chunk_in_ram(c) && takeable(c, user)) {
			if (++run == n)
				return (int64_t)(c + 1 - n);
		} else {
			run = 0;
		}
		c++;
	}
	return -1;
}

static void advance_hint(void)
{
	while (free_hint < hi_end && !(chunk_in_ram(free_hint) &&
				       (chunk_state[free_hint] == CH_FREE ||
					chunk_state[free_hint] == CH_USER_FREE))) {
		if (free_hint == lo_end && free_hint < MM_LOW_CHUNKS)
			free_hint = MM_LOW_CHUNKS;
		else
			free_hint++;
	}
}

/* Mark chunks [c, c + n) with state; map them user if they were FREE. */
static void take_chunks(uint64_t c, uint64_t n, uint8_t state, bool user)
{
	uint64_t flip_from = c, flip_n = 0;

	for (uint64_t i = c; i < c + n; i++) {
		/* Map the FREE ones user, in runs: a USER_FREE one is already. */
		if (user && chunk_state[i] == CH_FREE) {
			if (!flip_n)
				flip_from = i;
			flip_n++;
		} else if (flip_n) {
			paging__set_user(flip_from, flip_n, true);
			flip_n = 0;
		}
		chunk_state[i] = state;
		SET_REPORTED(i, false);
	}
	nr_free -= n;
	if (flip_n)
		paging__set_user(flip_from, flip_n, true);
	if (c == free_hint)
		advance_hint();
}

static void *pool_take(struct frame_pool *p, unsigned int order)
{
	unsigned int n = 1u << order;
	uint64_t mask = n == 64 ? ~0ull : (1ull << n) - 1;

	for (unsigned int w = 0; w < FRAMES_PER_CHUNK / 64; w++) {
		if (p->bits[w] == ~0ull)
			continue;
		for (unsigned int s = 0; s < 64; s += n) {
			if (p->bits[w] & (mask << s))
				continue;
			p->bits[w] |= mask << s;
			p->used += n;
			return (void *)(((uint64_t)p->chunk << CHUNK_SHIFT) +
					((uint64_t)(w * 64 + s) << PAGE_SHIFT));
		}
	}
	return NULL;
}

/*
 * A user allocation found no room while chunks were in flight for
 * reporting (on another CPU: the reporter allocates nothing meanwhile):
 * wait until they are back, then the caller looks again. A kernel
 * allocation has nothing to wait for: they come back USER_FREE. The report
 * is bounded (the driver gives up on a device that does not answer), so is
 * this wait. Caller holds mm_lock; it is dropped while waiting. False when
 * nothing was in flight.
 */
static bool wait_reported(void)
{
	if (!nr_reporting)
		return false;
	spin__unlock(&mm_lock);
	/* acquire: pairs with mm__report_putback's release of nr_reporting */
	while (__atomic_load_n(&nr_reporting, __ATOMIC_ACQUIRE))
		cpu_relax();
	spin__lock(&mm_lock);
	return true;
}

void *mm__alloc_frames(unsigned int order, bool user)
{
	void *frame = NULL;
	int64_t c;

	if (order > MM_MAX_ORDER)
		return NULL;
	spin__lock(&mm_lock);
	do {
		for (unsigned int i = 0; i < nr_pools && !frame; i++)
			if (pools[i].user == user && pools[i].used + (1u << order) <= FRAMES_PER_CHUNK)
				frame = pool_take(&pools[i], order);
		if (!frame && nr_pools < MAX_POOLS && (c = find_run(1, user)) >= 0) {
			struct frame_pool *p = &pools[nr_pools++];

			*p = (struct frame_pool){ .chunk = (uint32_t)c, .user = user };
			take_chunks((uint64_t)c, 1, user ? CH_UFRAMES : CH_KFRAMES, user);
			frame = pool_take(p, order);
		}
	} while (!frame && user && nr_pools < MAX_POOLS && wait_reported());
	spin__unlock(&mm_lock);
	return frame;
}

int mm__free_frames(void *ptr, unsigned int order)
{
	uint64_t pa = (uint64_t)ptr, n = 1ull << order;
	uint64_t idx = (pa >> PAGE_SHIFT) & (FRAMES_PER_CHUNK - 1);
	uint64_t mask = n == 64 ? ~0ull : (1ull << n) - 1;
	int ret = -1;

	if (order > MM_MAX_ORDER || (pa & ((n << PAGE_SHIFT) - 1)))
		return -1;
	spin__lock(&mm_lock);
	for (unsigned int i = 0; i < nr_pools; i++) {
		struct frame_pool *p = &pools[i];
		uint64_t *w = &p->bits[idx / 64];

		if (p->chunk != pa >> CHUNK_SHIFT)
			continue;
		if ((*w & (mask << (idx % 64))) == (mask << (idx % 64))) {
			*w &= ~(mask << (idx % 64));
			p->used -= n;
			ret = 0;
		}
		break;
	}
	spin__unlock(&mm_lock);
	return ret;
}

int64_t mm__alloc_user(uint64_t bytes)
{
	uint64_t n = (bytes >> CHUNK_SHIFT) + !!(bytes & (CHUNK_SIZE - 1));
	int64_t c;

	if (!bytes || bytes > (uint64_t)MM_MAX_CHUNKS << CHUNK_SHIFT)
		return bytes ? -L1G_ENOMEM : -L1G_EINVAL;
	for (;;) {
		spin__lock(&mm_lock);
		while ((c = find_run(n, true)) < 0 && wait_reported())
			;
		if (c >= 0) {
			take_chunks((uint64_t)c, n, CH_UBIG_TAIL, true);
			chunk_state[c] = CH_UBIG;
			chunk_run[c] = (uint32_t)n;
		}
		spin__unlock(&mm_lock);
		/* Before failing, the balloon may give memory back (deflate on OOM).
		 * Chunks it returns need not be contiguous: retry while it makes progress. */
		if (c >= 0 || !balloon__deflate_on_oom(n << CHUNK_SHIFT))
			break;
	}
	if (c < 0)
		__atomic_fetch_add(&oom_events, 1, __ATOMIC_RELAXED);
	return c < 0 ? -L1G_ENOMEM : c << CHUNK_SHIFT;
}

int mm__free_user(uint64_t addr)
{
	uint64_t c = addr >> CHUNK_SHIFT;
	int ret = -L1G_EINVAL;

	if (addr & (CHUNK_SIZE - 1) || c >= MM_MAX_CHUNKS)
		return ret;
	spin__lock(&mm_lock);
	if (chunk_state[c] == CH_UBIG) {
		for (uint64_t i = c; i < c + chunk_run[c]; i++) {
			chunk_state[i] = CH_USER_FREE;
			SET_REPORTED(i, false);
		}
		nr_free += chunk_run[c];
		maybe_unreported = true;
		if (c < free_hint)
			free_hint = c;
		ret = 0;
	}
	spin__unlock(&mm_lock);
	return ret;
}

bool mm__user_ok(uint64_t addr, uint64_t len)
{
	uint64_t last;

	if (!len)
		return true;
	if (addr + len < addr)
		return false;
	last = (addr + len - 1) >> CHUNK_SHIFT;
	if (last >= MM_MAX_CHUNKS)
		return false;
	for (uint64_t c = addr >> CHUNK_SHIFT; c <= last; c++) {
		uint8_t s = chunk_state[c];

		if (s != CH_USER_IMAGE && s != CH_UFRAMES && s != CH_UBIG && s != CH_UBIG_TAIL)
			return false;
	}
	return true;
}

uint64_t mm__user_free_bytes(void)
{
	/* in-flight chunks count: they are free, and back within one report */
	return __atomic_load_n(&nr_free, __ATOMIC_RELAXED) << CHUNK_SHIFT;
}

uint64_t mm__pool_free_bytes(void)
{
	uint64_t frames = 0;

	spin__lock(&mm_lock);
	for (unsigned int i = 0; i < nr_pools; i++)
		frames += FRAMES_PER_CHUNK - pools[i].used;
	spin__unlock(&mm_lock);
	return frames << PAGE_SHIFT;
}

/* Chunks in state from (with reported_too, reported ones as well), highest
 * first, into chunks[n..max); caller holds mm_lock. */
static unsigned int claim_state(uint8_t from, bool reported_too, uint8_t to, uint32_t *chunks,
				unsigned int n, unsigned int max)
{
	for (uint64_t c = hi_end; c-- > lo_first && n < max && nr_free;) {
		if (c == MM_LOW_CHUNKS - 1 && lo_end < MM_LOW_CHUNKS) {
			c = lo_end; /* skip the hole: c-- follows */
			continue;
		}
		if (!chunk_in_ram(c) || chunk_state[c] != from || (!reported_too && REPORTED(c)))
			continue;
		chunk_state[c] = to;
		nr_free--;
		chunks[n++] = (uint32_t)c;
	}
	return n;
}

unsigned int mm__balloon_claim(uint32_t *chunks, unsigned int max)
{
	unsigned int n;

	spin__lock(&mm_lock);
	/* Freed user chunks first: they were used, so the host holds memory for
	 * them, unless they were reported since; a FREE chunk was never written
	 * and gives it nothing. */
	n = claim_state(CH_USER_FREE, false, CH_BALLOONED_USER, chunks, 0, max);
	n = claim_state(CH_USER_FREE, true, CH_BALLOONED_USER, chunks, n, max);
	n = claim_state(CH_FREE, true, CH_BALLOONED, chunks, n, max);
	if (free_hint < hi_end && !takeable(free_hint, true))
		advance_hint();
	spin__unlock(&mm_lock);
	return n;
}

void mm__balloon_release(const uint32_t *chunks, unsigned int n)
{
	spin__lock(&mm_lock);
	for (unsigned int i = 0; i < n; i++) {
		uint32_t c = chunks[i];

		if (c >= MM_MAX_CHUNKS ||
		    (chunk_state[c] != CH_BALLOONED && chunk_state[c] != CH_BALLOONED_USER))
			continue;
		if (chunk_state[c] == CH_BALLOONED_USER)
			maybe_unreported = true;
		chunk_state[c] = chunk_state[c] == CH_BALLOONED ? CH_FREE : CH_USER_FREE;
		SET_REPORTED(c, false);
		nr_free++;
		if (c < free_hint)
			free_hint = c;
	}
	spin__unlock(&mm_lock);
}

unsigned int mm__report_isolate(uint32_t *chunks, unsigned int max)
{
	unsigned int n = 0;
	uint64_t c;

	spin__lock(&mm_lock);
	if (!maybe_unreported) {
		spin__unlock(&mm_lock);
		return 0; /* the usual case: no scan, no per-chunk work */
	}
	for (c = free_hint; c < hi_end && n < max; c++) {
		if (c == lo_end && c < MM_LOW_CHUNKS)
			c = MM_LOW_CHUNKS;
		if (!chunk_in_ram(c) || chunk_state[c] != CH_USER_FREE || REPORTED(c))
			continue;
		chunk_state[c] = CH_REPORTING;
		chunks[n++] = (uint32_t)c;
	}
	if (c >= hi_end)
		maybe_unreported = false; /* scanned to the end: every one is taken or reported */
	__atomic_store_n(&nr_reporting, nr_reporting + n, __ATOMIC_RELAXED);
	if (free_hint < hi_end && !takeable(free_hint, true))
		advance_hint();
	spin__unlock(&mm_lock);
	return n;
}

void mm__report_putback(const uint32_t *chunks, unsigned int n, unsigned int reported_n)
{
	unsigned int back = 0;

	spin__lock(&mm_lock);
	for (unsigned int i = 0; i < n; i++) {
		uint32_t c = chunks[i];

		if (c >= MM_MAX_CHUNKS || chunk_state[c] != CH_REPORTING)
			continue;
		chunk_state[c] = CH_USER_FREE;
		SET_REPORTED(c, i < reported_n);
		back++;
		if (c < free_hint)
			free_hint = c;
	}
	if (reported_n < n)
		maybe_unreported = true;
	/* release: the chunks are USER_FREE before a waiter sees the count drop
	 * (pairs with wait_reported's acquire) */
	__atomic_store_n(&nr_reporting, nr_reporting - back, __ATOMIC_RELEASE);
	spin__unlock(&mm_lock);
}

uint64_t mm__oom_events(void)
{
	return __atomic_load_n(&oom_events, __ATOMIC_RELAXED);
}
