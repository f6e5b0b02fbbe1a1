/* SPDX-License-Identifier: MIT */
/*
 * Host mappings of ept guest RAM under sharing (share.h): which frames map
 * a stored copy, how many mappings that makes, and replacing frames in runs.
 *
 * ept_share__queue() only queues a frame (the engine has just compared its
 * bytes); maps__apply_pending() replaces the queued frames in runs:
 * consecutive gfns of one slot onto consecutive copies (or all to zero) take
 * one mprotect, one dirty-log clear per 64 frames, and one mmap (or
 * madvise). A frame whose bytes changed since the engine compared them is
 * left as it is and reported written, so the next sync makes it PRIVATE
 * again: the same outcome as a write just after sharing. The queue is
 * applied before anything can look behind it: at the end of every scan
 * batch, at the start of every sync, and before a copy is freed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mmu/array.h"
#include "mmu/clock.h"
#include "mmu/ept/share_priv.h"

#define EPT_MAP_RESERVE 4096 /* mappings left for the rest of l1vmm */

/* ---- the mapping count ---- */

/* What a mapping boundary depends on: anonymous, or the memfd at an offset
 * that runs with the frame number. */
static int64_t map_key(const struct ept_guest *g, uint64_t gfn)
{
	uint32_t fp = g->file_page[gfn];
	return fp ? (int64_t)(fp - 1) - (int64_t)gfn : INT64_MIN;
}

/* Mapping boundaries around gfn inside its slot (0..2). */
static unsigned boundaries(const struct ept_guest *g, const struct ept_slot *s, uint64_t gfn)
{
	unsigned n = 0;
	if (gfn > s->first_gfn && map_key(g, gfn - 1) != map_key(g, gfn))
		n++;
	if (gfn + 1 < s->first_gfn + s->nr_pages && map_key(g, gfn + 1) != map_key(g, gfn))
		n++;
	return n;
}

uint64_t maps__total(const struct ept_share *b)
{
	uint64_t n = 0;
	for (const struct ept_guest *g = b->guests; g; g = g->next)
		n += g->mappings;
	return n;
}

/* Set gfn's mapping to memfd page fp + 1 (0: anonymous) and keep the count. */
static void set_file_page(struct ept_guest *g, uint64_t gfn, uint32_t fp)
{
	const struct ept_slot *s = share__slot_of(g, gfn);
	unsigned before = boundaries(g, s, gfn);
	g->file_page[gfn] = fp;
	g->mappings = g->mappings + boundaries(g, s, gfn) - before;
}

/* vm.max_map_count; L1VMM_MAX_MAP_COUNT (tests) stands in for it when set. */
static uint64_t read_max_map_count(void)
{
	const char *test = getenv("L1VMM_MAX_MAP_COUNT");
	if (test && *test)
		return strtoull(test, NULL, 10);
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	unsigned long long v = 65530;
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 65530;
		fclose(f);
	}
	return v;
}

void maps__init(struct ept_share *b)
{
	b->max_map_count = read_max_map_count();
}

/* Room for two more mappings beyond the queued frames'? Warn once when not. */
static bool room_for_mappings(struct ept_share *b)
{
	uint64_t limit = b->max_map_count > EPT_MAP_RESERVE ? b->max_map_count - EPT_MAP_RESERVE : 0;
	if (maps__total(b) + 2 * (b->nr_pending + 1) <= limit)
		return true;
	b->map_refusals++;
	if (!b->warned) {
		b->warned = true;
		fprintf(stderr, "l1vmm: dedup: ept backend at %llu host mappings, near "
			"vm.max_map_count (%llu): new shares refused; raise it, e.g. "
			"sysctl vm.max_map_count=1048576\n",
			(unsigned long long)maps__total(b), (unsigned long long)b->max_map_count);
	}
	return false;
}

static void note_protect(struct ept_share *b)
{
	__atomic_store_n(&b->last_protect_us, clock__mono_ns() / 1000, __ATOMIC_RELAXED);
}

/* ---- replacing frames, in runs ---- */

static int pending_cmp(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;
	if (x->g != y->g)
		return (uintptr_t)x->g < (uintptr_t)y->g ? -1 : 1;
	return x->gfn < y->gfn ? -1 : x->gfn > y->gfn;
}

/* Frames [gfn, gfn + n) stay as they are; their writes are the guest's. */
static void keep_private(struct ept_guest *g, uint64_t gfn, uint64_t n)
{
	if (g->b->held) {
		/* never write-protected: the vCPUs are held instead */
	} else if (mprotect(share__frame_hva(g, gfn), n * PAGE, PROT_READ | PROT_WRITE) < 0 &&
		   !g->stuck) {
		/* the frames stay read-only: the guest cannot go on safely (its
		 * writes there could only be dropped); its owner ends it */
		int err = errno;
		g->stuck = true;
		char why[160];
		snprintf(why, sizeof(why), "page sharing could not make guest frames %#llx..%#llx "
			 "writable again: %s", (unsigned long long)gfn,
			 (unsigned long long)(gfn + n - 1), strerror(err));
		g->stuck_fn(g->owner, why);
	}
	for (uint64_t k = 0; k < n; k++)
		BIT_SET(g->host_written, gfn + k);
}

static bool all_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	for (size_t i = 0; i < PAGE / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* Replace frames [gfn, gfn + n) whose bytes equal copy + k (or zeros). */
static void replace_same(struct ept_share *b, struct ept_guest *g, uint64_t gfn, uint64_t n,
			 uint64_t copy)
{
	uint8_t *hva = share__frame_hva(g, gfn);
	void *p;
	bool any_file = false;
	for (uint64_t k = 0; k < n && !copy; k++)
		any_file |= g->file_page[gfn + k] != 0;
	if (copy)
		p = mmap(hva, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE,
			 b->memfd, (off_t)((copy - 1) * PAGE));
	else if (any_file) /* a memfd page would read back as the copy: map fresh zeros */
		p = mmap(hva, n * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	else
		p = madvise(hva, n * PAGE, MADV_DONTNEED) == 0 &&
		    (b->held || mprotect(hva, n * PAGE, PROT_READ | PROT_WRITE) == 0) ? hva
										      : MAP_FAILED;
	if (p == MAP_FAILED) {
		/* nothing was replaced (mmap fails before it unmaps on every error it
		 * can return here): the frames keep their bytes */
		b->apply_errors++;
		keep_private(g, gfn, n);
		return;
	}
	for (uint64_t k = 0; k < n; k++)
		set_file_page(g, gfn + k, copy ? (uint32_t)(copy + k) : 0);
}

/* Whether frame hva holds copy's bytes (copy 0: zeros). */
static bool same_bytes(const struct ept_share *b, const uint8_t *hva, uint64_t copy)
{
	return copy ? memcmp(hva, store__page(b, copy), PAGE) == 0 : all_zero(hva);
}

/* One run: consecutive gfns of one slot, onto consecutive copies (or zero). */
static void apply_run(struct ept_share *b, struct ept_guest *g, uint64_t gfn, uint64_t n,
		      uint64_t copy)
{
	uint8_t *hva = share__frame_hva(g, gfn);
	b->map_calls++;
	if (!b->held) {
		note_protect(b);
		if (mprotect(hva, n * PAGE, PROT_READ) < 0) {
			b->apply_errors++;
			keep_private(g, gfn, n);
			return;
		}
	}
	/* from here no vCPU can write the run (write-protected, or every vCPU
	 * held): forget what was written before, compare, replace what is
	 * still equal */
	if (track__forget_writes(g, gfn, n) < 0) {
		b->apply_errors++;
		keep_private(g, gfn, n);
		return;
	}
	uint64_t k = 0;
	while (k < n) {
		uint64_t c = copy ? copy + k : 0;
		bool same = same_bytes(b, hva + k * PAGE, c);
		uint64_t end = k + 1;
		while (end < n && same_bytes(b, hva + end * PAGE, copy ? copy + end : 0) == same)
			end++;
		if (same)
			replace_same(b, g, gfn + k, end - k, c);
		else
			keep_private(g, gfn + k, end - k);
		k = end;
	}
}

void maps__apply_pending(struct ept_share *b)
{
	if (!b->nr_pending)
		return;
	qsort(b->pending, b->nr_pending, sizeof(*b->pending), pending_cmp);
	for (size_t i = 0; i < b->nr_pending; ) {
		const struct pending *p = &b->pending[i];
		const struct ept_slot *s = share__slot_of(p->g, p->gfn);
		size_t j = i + 1;
		while (j < b->nr_pending && b->pending[j].g == p->g &&
		       b->pending[j].gfn == p->gfn + (j - i) &&
		       b->pending[j].gfn < s->first_gfn + s->nr_pages &&
		       (p->copy ? b->pending[j].copy == p->copy + (j - i) : !b->pending[j].copy))
			j++;
		apply_run(b, p->g, p->gfn, j - i, p->copy);
		i = j;
	}
	b->nr_pending = 0;
}

/*
 * A flush of many frames holds every guest's vCPUs out of guest mode while
 * it replaces them and punches out the copies freed since the last flush:
 * no write protection is needed then (one mapping call a run instead of
 * three), and the TLB flush of each call reaches no CPU that runs a vCPU of
 * ours (a held thread sleeps, and its CPU is not flushed until it comes
 * back): on a host that is itself a guest, each such flush is an IPI and an
 * exit (perf/README.md, issue 14). The guests lose the time of the
 * replacements and of one kick each. When some vCPU does not
 * stop within EPT_HOLD_TIMEOUT_S (its thread waits for a CPU, or for a lock
 * of ours), the frames are fenced one run at a time as before.
 */
#define EPT_HOLD_MIN_PENDING 32
#define EPT_HOLD_TIMEOUT_S 0.01
#define EPT_HOLD_GUESTS_MAX 64

void ept_share__flush(struct ept_share *b)
{
	void *owner[EPT_HOLD_GUESTS_MAX];
	unsigned n = 0;
	l1_lock__acquire(&b->hold_lock); /* the guest list stays */
	l1_lock__acquire(&b->lock);
	bool hold = b->hold.request && b->nr_pending + b->nr_dirty >= EPT_HOLD_MIN_PENDING;
	for (const struct ept_guest *g = b->guests; hold && g; g = g->next) {
		if (n == EPT_HOLD_GUESTS_MAX)
			hold = false;
		else
			owner[n++] = g->owner;
	}
	l1_lock__release(&b->lock);
	if (!hold)
		n = 0;
	for (unsigned i = 0; i < n; i++)
		b->hold.request(owner[i]);
	double until = clock__mono_s() + EPT_HOLD_TIMEOUT_S;
	bool all = hold;
	for (unsigned i = 0; all && i < n; i++)
		all = b->hold.wait(owner[i], until);
	l1_lock__acquire(&b->lock);
	if (hold && all)
		b->holds++;
	else if (hold)
		b->hold_misses++;
	b->held = all;
	maps__apply_pending(b);
	store__punch_freed(b); /* the copies freed since the last flush */
	b->held = false;
	l1_lock__release(&b->lock);
	for (unsigned i = 0; i < n; i++)
		b->hold.release(owner[i]);
	l1_lock__release(&b->hold_lock);
}

void ept_share__holds(struct ept_share *b, uint64_t *holds, uint64_t *misses)
{
	l1_lock__acquire(&b->lock);
	*holds = b->holds;
	*misses = b->hold_misses;
	l1_lock__release(&b->lock);
}

int ept_share__queue(struct ept_guest *g, uint64_t gfn, void *copy)
{
	struct ept_share *b = g->b;
	int rc = 0;
	l1_lock__acquire(&b->lock);
	if (!share__frame_hva(g, gfn))
		rc = -EINVAL;
	else if (BIT_TEST(g->pinned, gfn))
		rc = -EBUSY; /* l1vmm's devices write it */
	else if (!room_for_mappings(b))
		rc = -ENOSPC;
	else if ((rc = ARRAY_ROOM(b->pending, b->pending_cap, b->nr_pending, 1024)) == 0)
		b->pending[b->nr_pending++] = (struct pending){ g, gfn, (uint64_t)(uintptr_t)copy };
	l1_lock__release(&b->lock);
	return rc;
}

/*
 * Frames mapped onto a copy get anonymous memory again (their bytes are not
 * kept), in runs. Zero frames are anonymous already. Queued shares are
 * applied first, so none maps a frame of the range afterwards.
 */
int ept_share__unshare(struct ept_guest *g, uint64_t gfn, uint64_t n, uint64_t *done)
{
	struct ept_share *b = g->b;
	int rc = 0;
	l1_lock__acquire(&b->lock);
	maps__apply_pending(b);
	uint64_t k = 0;
	while (k < n && rc == 0) {
		uint64_t f = gfn + k, run = 1;
		const struct ept_slot *s = share__slot_of(g, f);
		if (!s) {
			rc = -EINVAL; /* not RAM: the balloon checks first */
			break;
		}
		if (!g->file_page[f]) {
			k++;
			continue;
		}
		while (k + run < n && f + run < s->first_gfn + s->nr_pages && g->file_page[f + run])
			run++;
		b->map_calls++;
		if (mmap(share__frame_hva(g, f), run * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED) {
			rc = -errno; /* nothing unmapped: these frames still map their copies */
			b->apply_errors++;
			break;
		}
		for (uint64_t i = 0; i < run; i++)
			set_file_page(g, f + i, 0);
		k += run;
	}
	*done = k;
	l1_lock__release(&b->lock);
	return rc;
}

/*
 * b->lock held. A frame mapped onto a copy gets anonymous memory with the
 * same bytes, write-protected while it moves (a vCPU that writes meanwhile
 * waits in ept_share__wait), and every frame is reported written, so shared
 * and zero ones are PRIVATE again after the next sync.
 */
void maps__pin(struct ept_guest *g, uint64_t gfn, uint64_t n)
{
	struct ept_share *b = g->b;
	maps__apply_pending(b); /* nothing queued lands on them afterwards */
	for (uint64_t f = gfn; f < gfn + n && f < g->nr_frames; f++) {
		uint8_t *hva = share__frame_hva(g, f);
		if (!hva)
			continue;
		__atomic_fetch_or(&g->pinned[f / 64], 1ull << (f % 64), __ATOMIC_RELAXED);
		BIT_SET(g->host_written, f);
		if (!g->file_page[f])
			continue;
		uint8_t bytes[PAGE];
		note_protect(b);
		if (mprotect(hva, PAGE, PROT_READ) < 0) {
			keep_private(g, f, 1);
			continue;
		}
		memcpy(bytes, hva, PAGE);
		if (mmap(hva, PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED) {
			/* still the copy, copied on write by the host kernel: correct,
			 * only not private yet; writable again */
			b->apply_errors++;
			keep_private(g, f, 1);
			continue;
		}
		memcpy(hva, bytes, PAGE);
		b->map_calls++;
		set_file_page(g, f, 0);
	}
}

void ept_share__pin(struct ept_guest *g, uint64_t gfn, uint64_t n)
{
	l1_lock__acquire(&g->b->lock);
	maps__pin(g, gfn, n);
	l1_lock__release(&g->b->lock);
}

uint64_t ept_share__mappings(struct ept_share *b)
{
	l1_lock__acquire(&b->lock);
	uint64_t n = maps__total(b);
	l1_lock__release(&b->lock);
	return n;
}

uint64_t ept_share__map_calls(struct ept_share *b)
{
	l1_lock__acquire(&b->lock);
	uint64_t n = b->map_calls;
	l1_lock__release(&b->lock);
	return n;
}
