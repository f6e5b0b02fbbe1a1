/* SPDX-License-Identifier: MIT */
/*
 * DOC: host reclaim in the shadow MMU: fencing, eviction, fetching back.
 *
 * A frame host reclaim takes is the guest's own machine frame (own_mfn):
 * page tables, pinned frames, frames the balloon holds and frames that map
 * a stored copy or a zero frame (page sharing) are refused (-EBUSY). Its
 * flag SF_EVICTED says that no shadow leaf maps it:
 *  - fence() sets the flag, zaps every leaf of the frame (the reverse map)
 *    and makes KVM forget the frame (shadow__machine_forget: a PROT_EXEC
 *    round trip, the MMU notifier drops every translation of it, as page
 *    sharing does, share.c). From its return no vCPU reaches the page: the
 *    next access faults into l1vmm, and every fill path leaves the frame
 *    out (leaf_for(): prefetch too). The host still reads it (page());
 *  - discard() gives the host page back (MADV_DONTNEED); the flag stays;
 *  - unfence() clears the flag: the next access fills as usual;
 *  - install() (a fetch's host side) copies the bytes back into the own
 *    frame and clears the flag, under g->lock.
 * The flag changes under g->lock, inside the p2m move whose host side it is
 * (fence, unfence and discard are called under the p2m lock), so the flag
 * and the p2m's IN_FLIGHT / COMPRESSED agree whenever the p2m lock is free.
 *
 * An access to a flagged frame never sees the (discarded, zero) page:
 *  - a guest fault (shadow__fault) lets go of g->lock, calls the fetcher
 *    (reclaim_vm__fetch through the wiring: it waits while an eviction of the
 *    frame is in flight), and fills after it; a fetch that fails leaves the
 *    frame out and returns SHADOW_FETCH_FAILED: the vCPU retries later;
 *  - the host's accesses through the guest's tables (shadow__access: the
 *    hypercalls' arguments, bounce frames, the balloon's lists) and the
 *    page-table validator (a frame linked as a table is read first) fetch
 *    it the same way (reclaim_fetch_relocked), a few tries, then fail as
 *    for an unreadable guest address;
 *  - page sharing's reads and shares skip it (shareable());
 *  - the balloon taking it (COMPRESSED -> BALLOONED, shadow__take) or a
 *    report that it is free (shadow__discard) clears the flag: it reads zero
 *    from then on, and the p2m's store hook drops the stored bytes.
 *
 * Accessed bits (harvest()): every shadow leaf is born with A set (fill.c);
 * KVM sets A in a leaf with a compare-exchange as it walks the shadows to
 * build a translation, and only then. harvest() takes A from each frame's
 * leaves (the reverse map) and makes KVM forget the frames it took A from,
 * so a frame touched again sets it again; a frame whose A was clear already
 * has no translation in KVM to forget. One forget per HARVEST_CHUNK frames,
 * over the first to the last frame taken; g->lock is held for one chunk at
 * a time, never across a forget.
 *
 * Locking: g->lock, taken after the p2m lock (the moves' host sides), never
 * held across a fetch (which takes the p2m lock).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "mmu/clock.h"
#include "mmu/shadow/reclaim.h"
#include "mmu/shadow/shadow_priv.h"

_Static_assert(__builtin_types_compatible_p(
		       reclaim_install_fn, int (*)(void *, uint64_t, const void *)),
	       "shadow_fetch_fn spells out reclaim_install_fn");

#define HARVEST_CHUNK 4096u   /* frames per g->lock hold in harvest() */
#define HOST_FETCH_TRIES 4    /* a host access gives up after as many failed fetches */
#define HOST_FETCH_PAUSE_NS 1000000L

static struct shadow_guest *guest_of(void *ctx)
{
	return ctx;
}

static bool in_guest(const struct shadow_guest *g, uint64_t gfn, uint64_t n)
{
	return gfn <= g->nr_frames && n <= g->nr_frames - gfn;
}

void shadow__set_fetcher(struct shadow_guest *g, shadow_fetch_fn fetch, void *fctx)
{
	pthread_mutex_lock(&g->lock);
	g->fetch = fetch;
	g->fetch_ctx = fctx;
	pthread_mutex_unlock(&g->lock);
}

static int install(void *ctx, uint64_t gfn, const void *bytes)
{
	struct shadow_guest *g = guest_of(ctx);
	if (gfn >= g->nr_frames)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	int rc = -EEXIST; /* not out: the page is there (the core counts it done) */
	if (frame_evicted(g, gfn)) {
		/* no leaf maps it, KVM forgot it: nobody else writes it now */
		memcpy(shadow__mfn_ptr(g->m, own_mfn(g, gfn)), bytes, EPT_PAGE_SIZE);
		g->frame[gfn] &= (uint8_t)~SF_EVICTED;
		g->stats.reclaim_installs++;
		rc = 0;
	}
	pthread_mutex_unlock(&g->lock);
	return rc;
}

/* No g->lock held. 1 (fetched), 0 (not in the store) or -errno. */
static int fetch_counted(struct shadow_guest *g, uint64_t gfn, uint64_t since_ns)
{
	shadow_fetch_fn f = g->fetch; /* set before the vCPUs run */
	if (!f)
		return -ENOSYS;
	return f(g->fetch_ctx, gfn, install, g, since_ns);
}

/* No g->lock held. 0 or -errno. */
static int fetch(struct shadow_guest *g, uint64_t gfn, uint64_t since_ns)
{
	int rc = fetch_counted(g, gfn, since_ns);
	return rc < 0 ? rc : 0;
}

int reclaim_fault_fetch(struct shadow_guest *g, uint64_t gfn, uint64_t since_ns)
{
	int rc = fetch(g, gfn, since_ns);
	pthread_mutex_lock(&g->lock);
	g->stats.reclaim_faults++;
	if (rc < 0)
		g->stats.reclaim_fetch_errors++;
	pthread_mutex_unlock(&g->lock);
	return rc;
}

int reclaim_fetch_relocked(struct shadow_guest *g, uint64_t gfn)
{
	g->stats.reclaim_host_fetches++;
	pthread_mutex_unlock(&g->lock);
	uint64_t since = clock__mono_ns();
	int rc = fetch_counted(g, gfn, since);
	for (unsigned t = 1; rc < 0 && rc != -ENOSYS && t < HOST_FETCH_TRIES; t++) {
		nanosleep(&(struct timespec){ .tv_nsec = HOST_FETCH_PAUSE_NS }, NULL);
		rc = fetch_counted(g, gfn, since);
	}
	pthread_mutex_lock(&g->lock);
	if (rc < 0)
		g->stats.reclaim_fetch_errors++;
	return rc;
}

/* Under g->lock. */
static bool evictable_locked(const struct shadow_guest *g, uint64_t gfn)
{
	return !g->pt_level[gfn] && !(g->frame[gfn] & (SF_PINNED | SF_ABSENT | SF_EVICTED)) &&
	       g->p2m_mfn[gfn] == own_mfn(g, gfn);
}

static bool b_evictable(void *ctx, uint64_t gfn)
{
	struct shadow_guest *g = guest_of(ctx);
	if (gfn >= g->nr_frames)
		return false;
	pthread_mutex_lock(&g->lock);
	bool ok = evictable_locked(g, gfn);
	pthread_mutex_unlock(&g->lock);
	return ok;
}

static void clear_marks(struct shadow_guest *g, uint64_t gfn, uint64_t n)
{
	for (uint64_t i = gfn; i < gfn + n; i++)
		g->frame[i] &= (uint8_t)~SF_EVICTED;
}

static int b_fence(void *ctx, uint64_t gfn, uint64_t n)
{
	struct shadow_guest *g = guest_of(ctx);
	if (n == 0 || !in_guest(g, gfn, n))
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	int rc = 0;
	for (uint64_t i = gfn; i < gfn + n && !rc; i++)
		if (!evictable_locked(g, i))
			rc = -EBUSY;
	if (rc) {
		g->stats.reclaim_refusals++;
		goto out;
	}
	for (uint64_t i = gfn; i < gfn + n; i++) {
		g->frame[i] |= SF_EVICTED;
		rmap_zap(g, own_mfn(g, i)); /* KVM is told below, for the whole run */
	}
	/* the frames are own: one run of machine frames */
	rc = shadow__machine_forget(g->m, own_mfn(g, gfn), n);
	if (rc < 0) {
		/* KVM may keep a writable translation: give up (the leaves refill) */
		clear_marks(g, gfn, n);
		goto out;
	}
	g->stats.reclaim_fences += n;
out:
	pthread_mutex_unlock(&g->lock);
	return rc;
}

static void b_unfence(void *ctx, uint64_t gfn, uint64_t n)
{
	struct shadow_guest *g = guest_of(ctx);
	if (!in_guest(g, gfn, n))
		return;
	pthread_mutex_lock(&g->lock);
	clear_marks(g, gfn, n);
	pthread_mutex_unlock(&g->lock);
}

static int b_discard(void *ctx, uint64_t gfn, uint64_t n)
{
	struct shadow_guest *g = guest_of(ctx);
	if (n == 0 || !in_guest(g, gfn, n))
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	int rc = 0;
	for (uint64_t i = gfn; i < gfn + n && !rc; i++)
		if (!frame_evicted(g, i))
			rc = -EINVAL; /* not fenced: the core's bug, but never discard a live page */
	if (!rc && madvise(shadow__mfn_ptr(g->m, own_mfn(g, gfn)), n * EPT_PAGE_SIZE,
			   MADV_DONTNEED) < 0) {
		rc = -errno;
		g->stats.discard_errors++;
	}
	if (!rc) {
		g->stats.discards++;
		g->stats.discarded += n;
	}
	pthread_mutex_unlock(&g->lock);
	return rc;
}

static const void *b_page(void *ctx, uint64_t gfn)
{
	struct shadow_guest *g = guest_of(ctx);
	return gfn < g->nr_frames ? shadow__mfn_ptr(g->m, own_mfn(g, gfn)) : NULL;
}

static int b_harvest(void *ctx, uint64_t gfn, uint64_t n, uint64_t *accessed)
{
	struct shadow_guest *g = guest_of(ctx);
	if (!in_guest(g, gfn, n))
		return -EINVAL;
	memset(accessed, 0, (n + 63) / 64 * sizeof(*accessed));
	for (uint64_t at = 0; at < n; at += HARVEST_CHUNK) {
		uint64_t end = n - at < HARVEST_CHUNK ? n : at + HARVEST_CHUNK;
		uint64_t first = UINT64_MAX, last = 0;
		pthread_mutex_lock(&g->lock);
		for (uint64_t i = at; i < end; i++) {
			uint64_t f = gfn + i;
			/* a frame on a copy is not PRIVATE: no victim, nothing to say */
			if (g->p2m_mfn[f] != own_mfn(g, f) || !rmap_take_accessed(g, own_mfn(g, f)))
				continue;
			accessed[i / 64] |= 1ull << (i % 64);
			if (first == UINT64_MAX)
				first = f;
			last = f;
		}
		if (first != UINT64_MAX)
			g->stats.harvest_forgets++;
		pthread_mutex_unlock(&g->lock);
		/* KVM sets A again only in a translation it builds anew */
		if (first != UINT64_MAX &&
		    shadow__machine_forget(g->m, own_mfn(g, first), last - first + 1) < 0)
			return -EIO;
	}
	return 0;
}

const struct reclaim_backend shadow_reclaim__ops = {
	.harvest = b_harvest,
	.evictable = b_evictable,
	.fence = b_fence,
	.unfence = b_unfence,
	.discard = b_discard,
	.page = b_page,
};
