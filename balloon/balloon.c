/* SPDX-License-Identifier: MIT */
/*
 * DOC: a VM's balloon core (balloon.h).
 *
 * An inflate call is checked whole before anything changes: every extent
 * in range, aligned, not in the balloon and not repeated within the call;
 * the first that fails ends the list there (the ones before it are taken).
 * The accepted extents are then sorted and merged into runs, each run
 * discarded with one backend call, and only then marked P2M_BALLOONED. If
 * a discard fails, the whole call is refused and the runs done before it
 * become UNPOPULATED: their host memory is gone, but they are the guest's
 * again. The guest has promised not to touch the frames, so the order does
 * not matter to it; a guest that breaks the promise reads zeros.
 *
 * Every change is one p2m__move() with the discard as its host side. For a
 * VM under l1vmm's page sharing the p2m hands the move to its client, the
 * sharing engine, which takes shared frames off their copies first, under
 * its lock (mmu/p2m.h): the balloon never calls page sharing itself.
 */
#include "balloon/balloon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pvops/l1vmm_abi.h"
#include "mmu/clock.h"
#include "mmu/runs.h"

#define MAX_EXTENT_ORDER L1_BALLOON_MAX_ORDER


int balloon__init(struct balloon *b, const struct balloon_mem *mem)
{
	*b = (struct balloon){ .mem = *mem, .target_reached_after = 0 };
	l1_lock__init(&b->lock, L1_RANK_BALLOON, "balloon");
	return 0;
}

void balloon__destroy(struct balloon *b)
{
	l1_lock__destroy(&b->lock);
}

int balloon__attach(struct balloon *b, const char *device, void (*notify)(void *ctx), void *ctx)
{
	int rc = -ENOSPC;
	l1_lock__acquire(&b->lock);
	for (unsigned i = 0; i < BALLOON_MAX_DEVICES && rc; i++)
		if (!b->notify[i].fn) {
			b->notify[i].fn = notify;
			b->notify[i].ctx = ctx;
			b->device = device;
			rc = 0;
		}
	l1_lock__release(&b->lock);
	return rc;
}

void balloon__detach(struct balloon *b, void *ctx)
{
	l1_lock__acquire(&b->lock);
	for (unsigned i = 0; i < BALLOON_MAX_DEVICES; i++)
		if (b->notify[i].ctx == ctx)
			b->notify[i].fn = NULL, b->notify[i].ctx = NULL;
	l1_lock__release(&b->lock);
}

__attribute__((format(printf, 2, 3)))
static void refused(struct balloon *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->last_refusal, sizeof(b->last_refusal), fmt, ap);
	va_end(ap);
	b->c.refused_extents++;
}

/*
 * Frames [gfn, gfn + n) from the states of from to state, their host memory
 * released first if asked.
 */
static int apply(struct balloon *b, uint64_t gfn, uint64_t n, uint32_t from,
		 enum p2m_state state, bool release)
{
	/* into the balloon: taken (not present) where the mode can, else
	 * discarded if asked; out of it: present again */
	int (*host)(void *ctx, uint64_t gfn, uint64_t n) = NULL;
	if (state == P2M_BALLOONED)
		host = b->mem.take ? b->mem.take : release ? b->mem.discard : NULL;
	else if (release)
		host = b->mem.discard;
	else if (from == P2M_BIT(P2M_BALLOONED))
		host = b->mem.give_back;
	if (release)
		b->c.discard_calls++;
	/* shared frames leave their copies through the p2m's client (page sharing) */
	return p2m__move(b->mem.p2m, gfn, n, from, state, host, b->mem.ctx);
}

/* The guest's own frames, shared or not (page sharing gives a shared one its
 * own page first), in host reclaim's store or not (its stored bytes are
 * dropped, never fetched): what an inflate or a free page report takes; and the
 * frames in the balloon, what a deflate gives back. */
#define GUEST_FRAMES (P2M_BIT(P2M_UNPOPULATED) | P2M_BIT(P2M_PRIVATE) | P2M_BIT(P2M_SHARED) | \
		      P2M_BIT(P2M_ZERO) | P2M_BIT(P2M_COMPRESSED))
#define IN_BALLOON P2M_BIT(P2M_BALLOONED)

/*
 * Move the n extents of gfns (sorted in place) to state, coalesced into
 * runs. On a failure the runs already moved go back: an inflate's to
 * UNPOPULATED (their memory is gone, but they are the guest's again), a
 * deflate's to BALLOONED, so the call is all or nothing for the counters.
 */
static int apply_runs(struct balloon *b, uint64_t *gfns, size_t n, uint64_t frames,
		      bool inflate)
{
	/* extents are aligned and distinct (check_extents): neighbours at most
	 * frames apart are end to end */
	runs__sort(gfns, n);
	for (size_t i = 0; i < n;) {
		uint64_t first, last;
		size_t j = runs__next(gfns, n, i, frames, &first, &last);
		uint64_t end = last + frames;
		int rc = apply(b, first, end - first, inflate ? GUEST_FRAMES : IN_BALLOON,
			       inflate ? P2M_BALLOONED : P2M_UNPOPULATED, inflate);
		if (rc < 0) {
			/* back out (no release): an inflate's frames are the guest's
			 * again, a deflate's (unpopulated, or written since) go back */
			for (size_t k = 0; k < i; k++)
				apply(b, gfns[k], frames,
				      inflate ? IN_BALLOON
					      : P2M_BIT(P2M_UNPOPULATED) | P2M_BIT(P2M_PRIVATE),
				      inflate ? P2M_UNPOPULATED : P2M_BALLOONED, false);
			return rc;
		}
		i = j;
	}
	return 0;
}

/*
 * How many leading extents of gfns are acceptable: an inflate takes frames
 * not in the balloon, a deflate frames in it. A gfn repeated within the
 * call is refused (at most 512 extents: a quadratic scan is cheap).
 */
static size_t check_extents(struct balloon *b, const uint64_t *gfns, size_t n, unsigned order,
			    bool inflate)
{
	uint64_t frames = 1ull << order;
	for (size_t i = 0; i < n; i++) {
		uint64_t g = gfns[i];
		if ((g & (frames - 1)) || g < L1_BALLOON_MIN_GFN || g + frames < g ||
		    g + frames > b->mem.p2m->nr_frames ||
		    (b->mem.is_ram && !b->mem.is_ram(b->mem.ctx, g, frames))) {
			refused(b, "gfn %#llx (order %u) is not a guest frame l1vmm takes",
				(unsigned long long)g, order);
			return i;
		}
		if (inflate && b->mem.in_use && b->mem.in_use(b->mem.ctx, g, frames)) {
			refused(b, "gfn %#llx (order %u) holds a page table or a page l1vmm uses",
				(unsigned long long)g, order);
			return i;
		}
		for (uint64_t k = 0; k < frames; k++) {
			enum p2m_state s = p2m__get(b->mem.p2m, g + k);
			if (inflate ? s == P2M_BALLOONED : s != P2M_BALLOONED) {
				refused(b, "gfn %#llx is %s the balloon (extent %zu)",
					(unsigned long long)(g + k),
					inflate ? "already in" : "not in", i);
				return i;
			}
		}
		for (size_t j = 0; j < i; j++)
			if (gfns[j] == g) {
				refused(b, "gfn %#llx appears twice in one request (extent %zu)",
					(unsigned long long)g, i);
				return i;
			}
	}
	return n;
}

static void count_move(struct balloon *b, uint64_t frames, double t1)
{
	b->move_frames += frames;
	b->move_last = t1;
	if (b->actual_frames == b->target_frames && b->target_reached_after < 0)
		b->target_reached_after = t1 - b->target_set_at;
}

static long move(struct balloon *b, const uint64_t *gfns, size_t n, unsigned order, bool inflate)
{
	if (order > MAX_EXTENT_ORDER || n > L1_BALLOON_MAX_EXTENTS) {
		balloon__refuse_request(b, "extent order above 9 or more than 512 extents");
		return -EINVAL;
	}
	double t0 = clock__mono_s();
	l1_lock__acquire(&b->lock);
	size_t ok = check_extents(b, gfns, n, order, inflate);
	uint64_t frames = 1ull << order;
	long ret = ok ? (long)ok : (n ? -EINVAL : 0);
	if (ok) {
		uint64_t *sorted = malloc(ok * sizeof(*sorted));
		int rc = sorted ? 0 : -ENOMEM;
		if (sorted) {
			memcpy(sorted, gfns, ok * sizeof(*sorted));
			rc = apply_runs(b, sorted, ok, frames, inflate);
			free(sorted);
		}
		if (rc < 0) {
			/* frames already discarded read zero, which the guest may
			 * not notice: it gave them up; they stay the guest's */
			snprintf(b->last_refusal, sizeof(b->last_refusal), "%s host memory failed: %s",
				 inflate ? "releasing" : "taking back", strerror(-rc));
			b->c.refused_extents += ok;
			ret = -EIO;
			ok = 0;
		}
	}
	uint64_t moved = ok * frames;
	double t1 = clock__mono_s();
	if (inflate) {
		b->actual_frames += moved;
		b->c.inflated_frames += moved;
		b->c.inflate_seconds += t1 - t0;
	} else {
		/* a deflate while the balloon is not above target: the guest needed it */
		if (b->actual_frames <= b->target_frames)
			b->c.oom_deflations += moved;
		b->actual_frames -= moved;
		b->c.deflated_frames += moved;
		b->c.deflate_seconds += t1 - t0;
	}
	if (moved)
		count_move(b, moved, t1);
	l1_lock__release(&b->lock);
	return ret;
}

long balloon__inflate(struct balloon *b, const uint64_t *gfns, size_t n, unsigned order)
{
	return move(b, gfns, n, order, true);
}

long balloon__deflate(struct balloon *b, const uint64_t *gfns, size_t n, unsigned order)
{
	return move(b, gfns, n, order, false);
}

int balloon__report_free(struct balloon *b, uint64_t gfn, uint64_t n)
{
	l1_lock__acquire(&b->lock);
	int rc = 0;
	if (!n || gfn < L1_BALLOON_MIN_GFN || gfn + n < gfn || gfn + n > b->mem.p2m->nr_frames ||
	    (b->mem.is_ram && !b->mem.is_ram(b->mem.ctx, gfn, n)) ||
	    (b->mem.in_use && b->mem.in_use(b->mem.ctx, gfn, n))) {
		refused(b, "reported range at gfn %#llx (%llu frames) is not guest RAM l1vmm takes",
			(unsigned long long)gfn, (unsigned long long)n);
		rc = -EINVAL;
	} else {
		for (uint64_t k = 0; k < n && !rc; k++)
			if (p2m__get(b->mem.p2m, gfn + k) == P2M_BALLOONED) {
				refused(b, "reported gfn %#llx is in the balloon",
					(unsigned long long)(gfn + k));
				rc = -EINVAL;
			}
	}
	if (!rc) {
		rc = apply(b, gfn, n, GUEST_FRAMES, P2M_UNPOPULATED, true);
		if (rc == 0) {
			b->c.reported_frames += n;
		} else {
			snprintf(b->last_refusal, sizeof(b->last_refusal),
				 "releasing reported memory failed: %s", strerror(-rc));
			rc = -EIO;
		}
	}
	l1_lock__release(&b->lock);
	return rc;
}

void balloon__refuse_request(struct balloon *b, const char *why)
{
	l1_lock__acquire(&b->lock);
	snprintf(b->last_refusal, sizeof(b->last_refusal), "%s", why);
	b->c.refused_requests++;
	l1_lock__release(&b->lock);
}

void balloon__set_target(struct balloon *b, uint64_t frames)
{
	l1_lock__acquire(&b->lock);
	uint64_t max = b->mem.p2m->nr_frames;
	if (frames > max)
		frames = max;
	bool changed = frames != b->target_frames;
	if (changed) {
		b->target_frames = frames;
		b->target_set_at = clock__mono_s();
		b->target_reached_after = b->actual_frames == frames ? 0 : -1;
		b->move_frames = 0;
		b->c.target_changes++;
	}
	__typeof__(b->notify) notify;
	memcpy(notify, b->notify, sizeof(notify));
	l1_lock__release(&b->lock);
	for (unsigned i = 0; changed && i < BALLOON_MAX_DEVICES; i++)
		if (notify[i].fn)
			notify[i].fn(notify[i].ctx);
}

void balloon__set_guest_stats(struct balloon *b, const uint64_t *val, uint32_t present)
{
	l1_lock__acquire(&b->lock);
	for (unsigned i = 0; i < 16; i++)
		if (present & (1u << i))
			b->gs.val[i] = val[i];
	b->gs.present = present;
	b->gs.reports++;
	b->gs.when = clock__mono_s();
	l1_lock__release(&b->lock);
}

void balloon__snapshot(struct balloon *b, struct balloon_snapshot *out)
{
	l1_lock__acquire(&b->lock);
	double span = b->move_last - b->target_set_at;
	*out = (struct balloon_snapshot){
		.target_frames = b->target_frames,
		.actual_frames = b->actual_frames,
		.nr_frames = b->mem.p2m->nr_frames,
		.target_reached_after = b->target_reached_after,
		.c = b->c,
		.gs = b->gs,
		.device = b->device,
	};
	out->inflate_mib_s = b->c.inflate_seconds > 0
		? (double)b->c.inflated_frames * 4096.0 / (1 << 20) / b->c.inflate_seconds : 0;
	out->deflate_mib_s = b->c.deflate_seconds > 0
		? (double)b->c.deflated_frames * 4096.0 / (1 << 20) / b->c.deflate_seconds : 0;
	out->move_mib_s = span > 0 ? (double)b->move_frames * 4096.0 / (1 << 20) / span : 0;
	memcpy(out->last_refusal, b->last_refusal, sizeof(out->last_refusal));
	l1_lock__release(&b->lock);
}
