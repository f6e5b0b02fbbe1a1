/* SPDX-License-Identifier: MIT */
/*
 * DOC: page sharing in the shadow MMU: write tracking, sharing, unsharing.
 *
 * A frame (gfn) maps, in p2m_mfn[gfn], either the guest's own machine frame
 * (own_mfn) or a frame l1vmm shares between guests: a stored copy or a zero
 * frame. g->frame[gfn] holds its flags (shadow.h, SF_*). The invariants:
 *  - p2m_mfn[gfn] != own_mfn implies SF_WP: shared frames are mapped
 *    read-only, and a shared frame is never a page table nor pinned;
 *  - SF_WP: no shadow leaf maps the frame writable; SF_STALE: KVM may still
 *    hold a writable translation of it from before (shadow__track_flush()
 *    or shadow__share() tells KVM before relying on SF_WP);
 *  - the own frame of a shared gfn is discarded (MADV_DONTNEED, batched:
 *    flush_discard()); until then it holds the copy's bytes and nobody
 *    writes it. Afterwards it holds nothing and KVM has no translation of it.
 *
 * Why no machine hold: KVM here keeps CPL3 translations across changes of
 * present shadow entries (docs/machine-notes.md), but it drops every
 * translation of a host page when that page's host mapping changes (the MMU
 * notifier). So every change below that could leave a wrong translation is
 * paired with such a change on the frame that translation points to:
 *  - share: the leaves move from own to the copy, read-only; KVM's read-only
 *    translations of own still read the same bytes until own is discarded;
 *    a writable one cannot exist (SF_WP, and SF_STALE is told first);
 *  - copy-on-write: the leaves move from the copy to own; the faulting leaf's
 *    translation is replaced by KVM as it handles the retried write (it
 *    walks the shadows again: the same path that makes a read-only leaf
 *    writable work); any other leaf that moved (an alias) makes KVM forget
 *    the copy (a PROT_EXEC round trip, shadow__machine_forget);
 *  - written(): leaves of own lose RW; KVM is told within a second
 *    (flush_stale), and a share tells it at once.
 * Widening a leaf (read-only to writable, same frame) needs nothing.
 *
 * Evidence (2 guests x dup 32 MiB, mutate 2 %, 20 s): with the forget calls
 * disabled, write-protection faults fell from ~10,000 to ~9,000 per guest:
 * KVM kept writable translations of frames l1vmm had write-protected. With
 * them, every dup run verified every page with 0 mismatches.
 *
 * Why the host goes through p2m_mfn too (walk.c's validator,
 * shadow__access): the guest's own frame of a shared gfn holds nothing.
 *
 * Everything here runs under g->lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "mmu/shadow/shadow_priv.h"
#include "mmu/clock.h"
#include "mmu/array.h"
#include "mmu/runs.h"


static void record(struct shadow_guest *g, uint64_t gfn, enum shadow_event_kind kind)
{
	if (ARRAY_ROOM(g->ev, g->ev_cap, g->nev, 256) < 0) {
		g->stats.lost_events++;
		return;
	}
	g->ev[g->nev++] = (struct shadow_event){ .gfn = gfn, .kind = kind };
}

/* How long stale and discarded frames wait for one batched call (scan_end). */
#define FLUSH_DELAY_NS 1000000000ull /* 1 s */
#define FLUSH_BATCH 16384

static void forget(struct shadow_guest *g, uint64_t mfn, uint64_t n)
{
	uint64_t c0 = clock__thread_cpu_ns(), t0 = clock__mono_ns();
	g->stats.forgets++;
	/* Cannot fail for a range of machine memory short of the kernel running
	 * out of VMAs; then the next machine flush is the only way left. */
	if (shadow__machine_forget(g->m, mfn, n) < 0)
		g->flush_needed = true;
	g->stats.forget_ns += clock__mono_ns() - t0;
	g->stats.forget_cpu_ns += clock__thread_cpu_ns() - c0;
}

/* A write to gfn from va (NO_VA: the host, or an emulated write). */
#define NO_VA UINT64_MAX

static void note_write(struct shadow_guest *g, uint64_t gfn, uint64_t va)
{
	if (!g->tracking || gfn >= g->nr_frames)
		return;
	uint8_t *f = &g->frame[gfn];
	uint64_t own = own_mfn(g, gfn), from = g->p2m_mfn[gfn];
	if (from != own) {
		/* copy-on-write: the bytes the guest reads now, in its own frame */
		uint64_t t0 = clock__mono_ns();
		memcpy(shadow__mfn_ptr(g->m, own), shadow__mfn_ptr(g->m, from), EPT_PAGE_SIZE);
		g->p2m_mfn[gfn] = own;
		*f = (uint8_t)((*f & ~(SF_WP | SF_STALE)) | SF_WRITTEN);
		/* this gfn's leaves move to own (writable where the guest allows) */
		uint64_t first = 0, slot;
		unsigned moved = fill_refresh_mfn(g, from, &first);
		/*
		 * KVM may hold read-only translations of from for each leaf that
		 * moved. One that is the faulting leaf itself is replaced by KVM
		 * as it handles the retried write (it walks the shadows again, as
		 * for a read-only leaf made writable); any other one (an alias,
		 * a host write) could let a read see the old bytes after the
		 * write: KVM must forget from.
		 */
		if (!(va != NO_VA && (moved == 0 || (moved == 1 && fill_leaf_slot(g, va, &slot) &&
						      slot == first))))
			forget(g, from, 1);
		record(g, gfn, SHADOW_EV_BREAK);
		g->stats.cow_breaks++;
		g->stats.break_ns += clock__mono_ns() - t0;
		return;
	}
	if (*f & SF_UNPOP) {
		record(g, gfn, SHADOW_EV_POPULATE);
		g->stats.populates++;
	}
	bool was_wp = *f & SF_WP;
	*f = (uint8_t)((*f & ~(SF_WP | SF_STALE | SF_UNPOP | SF_ZEROPAGE)) | SF_WRITTEN);
	if (was_wp)
		fill_refresh_mfn(g, own, NULL); /* widen every alias: no KVM change needed */
}

void share_note_write(struct shadow_guest *g, uint64_t gfn)
{
	note_write(g, gfn, NO_VA);
}

void share_write_fault(struct shadow_guest *g, uint64_t gfn, uint64_t va)
{
	note_write(g, gfn, va);
}

/* Under g->lock, its bytes in: the host uses gfn behind the shadows from now on. */
static void pin_locked(struct shadow_guest *g, uint64_t gfn)
{
	share_note_write(g, gfn); /* its own frame again, if it was shared */
	if (!(g->frame[gfn] & SF_PINNED))
		g->stats.pinned++;
	g->frame[gfn] |= SF_PINNED;
}

void shadow__pin(struct shadow_guest *g, uint64_t gfn)
{
	pthread_mutex_lock(&g->lock);
	/* the host reads it behind the shadows from now on: its bytes first */
	while (gfn < g->nr_frames && frame_evicted(g, gfn) && reclaim_fetch_relocked(g, gfn) >= 0)
		;
	if (gfn < g->nr_frames)
		pin_locked(g, gfn);
	pthread_mutex_unlock(&g->lock);
}

/* Fetches shadow__pin_unused() makes beyond one per frame before it gives up. */
#define PIN_FETCH_SLACK 8

int shadow__pin_unused(struct shadow_guest *g, uint64_t gfn, uint64_t n)
{
	if (!n || gfn > g->nr_frames || n > g->nr_frames - gfn)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	int rc = 0;
	uint64_t fetches = 0;
	for (uint64_t i = gfn; i < gfn + n && !rc;) {
		if (g->pt_level[i] || (g->frame[i] & SF_PINNED)) {
			rc = -EBUSY;
		} else if (!frame_evicted(g, i)) {
			i++;
		} else if (++fetches > n + PIN_FETCH_SLACK) {
			rc = -EAGAIN; /* evicted again and again, or fenced all along */
		} else {
			/* the fetch lets go of the lock: every frame is checked again */
			int f = reclaim_fetch_relocked(g, i);
			rc = f < 0 ? f : 0;
			i = gfn;
		}
	}
	/* the check and the pins under one hold of the lock: no update typed
	 * a frame as a table in between, and the validator refuses pinned ones */
	for (uint64_t i = gfn; i < gfn + n && !rc; i++)
		pin_locked(g, i);
	pthread_mutex_unlock(&g->lock);
	return rc < 0 ? rc : 0;
}

void shadow__unpin(struct shadow_guest *g, uint64_t gfn, uint64_t n)
{
	if (gfn > g->nr_frames || n > g->nr_frames - gfn)
		return;
	pthread_mutex_lock(&g->lock);
	for (uint64_t i = gfn; i < gfn + n; i++) {
		if (g->frame[i] & SF_PINNED)
			g->stats.pinned--;
		g->frame[i] &= (uint8_t)~SF_PINNED;
	}
	pthread_mutex_unlock(&g->lock);
}

static bool push(struct shadow_gfns *l, uint64_t gfn)
{
	if (ARRAY_ROOM(l->gfn, l->cap, l->n, 256) < 0)
		return false;
	l->gfn[l->n++] = gfn;
	return true;
}

static void mark_stale(struct shadow_guest *g, uint64_t gfn)
{
	if (!push(&g->stale, gfn)) {
		forget(g, own_mfn(g, gfn), 1); /* no room to batch: tell KVM now */
		return;
	}
	g->frame[gfn] |= SF_STALE;
}

/* Write-protect gfn's own frame in the shadows (KVM told later: SF_STALE). */
static void protect(struct shadow_guest *g, uint64_t gfn)
{
	g->frame[gfn] |= SF_WP;
	if (rmap_clear_rw(g, own_mfn(g, gfn)))
		mark_stale(g, gfn);
}

/* Whether flush_stale() / flush_discard(g, false) would act now (g->lock held). */
static bool stale_due(const struct shadow_guest *g, uint64_t t)
{
	return g->stale.n >= FLUSH_BATCH || t - g->stale_ns >= FLUSH_DELAY_NS;
}

static bool discard_due(const struct shadow_guest *g, uint64_t t)
{
	return g->discard.n && (g->discard.n >= FLUSH_BATCH || t - g->discard_ns >= FLUSH_DELAY_NS);
}

/*
 * Tell KVM about the frames protect() left stale. Each call costs a TLB
 * shootdown of the host and of every vCPU of the machine (~60-110 us of CPU
 * here), whatever its length, while a frame told needlessly costs one
 * KVM-internal fault at its next access: so the stale frames, sorted, are
 * told in ranges that bridge gaps of up to STALE_GAP frames.
 * shadow__share() tells KVM about a stale frame itself before it trusts its
 * bytes.
 */
#define STALE_GAP 256

static void flush_stale(struct shadow_guest *g)
{
	uint64_t *v = g->stale.gfn;
	size_t live = 0;
	g->stale_ns = clock__mono_ns();
	for (size_t i = 0; i < g->stale.n; i++) {
		if (!(g->frame[v[i]] & SF_STALE))
			continue;
		g->frame[v[i]] &= (uint8_t)~SF_STALE;
		v[live++] = v[i];
	}
	g->stale.n = 0;
	if (!live)
		return;
	runs__sort(v, live);
	for (size_t i = 0; i < live;) {
		uint64_t first, last;
		i = runs__next(v, live, i, STALE_GAP, &first, &last);
		forget(g, own_mfn(g, first), last - first + 1);
	}
}

/* Give the host its pages back for runs of own frames [first, first + n). */
static void discard_own(struct shadow_guest *g, uint64_t first, uint64_t n)
{
	/* KVM's read-only translations of them go with the host pages */
	g->stats.discards++;
	g->stats.discarded += n;
	if (madvise(shadow__mfn_ptr(g->m, own_mfn(g, first)), n * EPT_PAGE_SIZE,
		    MADV_DONTNEED) < 0) {
		g->stats.discard_errors++; /* no memory saved; KVM must forget them still */
		forget(g, own_mfn(g, first), n);
	}
}

/*
 * Many runs of own frames in one call: process_madvise(MADV_DONTNEED) on
 * l1vmm itself (PIDFD_SELF; Linux 6.13 takes any advice for the caller,
 * 6.16 flushes the TLB once for the whole vector). Each madvise() costs a
 * TLB shootdown of the other CPUs that run vCPU threads, ~60 % of the
 * scanner's time on a 2-CPU host (perf/README, issue 14). Returns how many
 * runs it gave back (a prefix of iov); the caller does the rest one by one
 * (madvise). A kernel that refuses it (errno) is not asked again.
 */
#define PIDFD_SELF_PROCESS (-10001) /* linux/pidfd.h's PIDFD_SELF_THREAD_GROUP */
#define DISCARD_IOV 512             /* under UIO_MAXIOV (1024) */
static bool no_batched_discard;

static size_t discard_batched(struct shadow_guest *g, const struct iovec *iov, size_t cnt)
{
	if (__atomic_load_n(&no_batched_discard, __ATOMIC_RELAXED) || cnt < 2)
		return 0;
	long rc = syscall(SYS_process_madvise, PIDFD_SELF_PROCESS, iov, cnt, MADV_DONTNEED, 0);
	if (rc < 0) {
		if (errno == ENOSYS || errno == EINVAL || errno == EBADF || errno == EPERM ||
		    errno == ESRCH)
			__atomic_store_n(&no_batched_discard, true, __ATOMIC_RELAXED);
		return 0;
	}
	/* the runs it covered whole; a run it covered in part is done again */
	g->stats.discards++;
	size_t done = 0;
	for (uint64_t left = (uint64_t)rc; done < cnt && left >= iov[done].iov_len; done++) {
		left -= iov[done].iov_len;
		g->stats.discarded += iov[done].iov_len / EPT_PAGE_SIZE;
	}
	return done;
}

/*
 * The own frames of frames shared lately, in runs of consecutive gfns. Each
 * call is one TLB flush of the host and one of KVM (every vCPU of the
 * machine): one per frame made sharing cost ~70 us a page, so frames are
 * gathered for FLUSH_DELAY_NS (or FLUSH_BATCH frames) and sorted, which
 * lets the shares of several scan batches join into longer runs.
 *
 * Until then an own frame keeps the bytes of the copy it was found equal to
 * and nobody writes it (no shadow leaf maps it, KVM only read-only, host
 * writers go through p2m_mfn), so a stale translation still reads the right
 * bytes; a frame unshared meanwhile is its own again and is skipped.
 */

static void flush_discard(struct shadow_guest *g, bool now)
{
	uint64_t t = clock__mono_ns();
	if (!g->discard.n || (!now && !discard_due(g, t)))
		return;
	g->discard_ns = t;
	uint64_t *v = g->discard.gfn;
	size_t n = g->discard.n;
	g->discard.n = 0;
	/* a frame unshared since is its own again: its own frame holds its bytes */
	size_t live = 0;
	for (size_t i = 0; i < n; i++)
		if (g->p2m_mfn[v[i]] != own_mfn(g, v[i]))
			v[live++] = v[i];
	runs__sort(v, live);
	struct iovec iov[DISCARD_IOV];
	uint64_t run_first[DISCARD_IOV];
	for (size_t i = 0; i < live;) {
		size_t cnt = 0;
		while (i < live && cnt < DISCARD_IOV) {
			uint64_t first, last;
			i = runs__next(v, live, i, 1, &first, &last);
			run_first[cnt] = first;
			iov[cnt].iov_base = shadow__mfn_ptr(g->m, own_mfn(g, first));
			iov[cnt].iov_len = (last - first + 1) * EPT_PAGE_SIZE;
			cnt++;
		}
		for (size_t k = discard_batched(g, iov, cnt); k < cnt; k++)
			discard_own(g, run_first[k], iov[k].iov_len / EPT_PAGE_SIZE);
	}
}

static bool is_zero(const uint8_t *p)
{
	static const uint8_t zero[EPT_PAGE_SIZE];
	return memcmp(p, zero, EPT_PAGE_SIZE) == 0;
}

int shadow__track_start(struct shadow_guest *g, const struct p2m *p2m)
{
	pthread_mutex_lock(&g->lock);
	g->tracking = true;
	for (uint64_t gfn = 0; gfn < g->nr_frames; gfn++) {
		/* the host's, the balloon's and host reclaim's */
		g->frame[gfn] &= SF_PINNED | SF_ABSENT | SF_EVICTED;
		if (g->pt_level[gfn] || (g->frame[gfn] & (SF_PINNED | SF_ABSENT | SF_EVICTED)))
			continue;
		if (p2m__get(p2m, gfn) == P2M_UNPOPULATED) {
			/* found by shadow__poll_populated(), without a fault */
			g->frame[gfn] |= SF_UNPOP;
			continue;
		}
		/* protected from the start: a page quiet since is found in one pass */
		protect(g, gfn);
	}
	flush_stale(g);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

#define PM_PRESENT (1ull << 63)
#define PM_EXCLUSIVE (1ull << 56) /* mapped by this process alone: not the zero page */

/*
 * Which of the resident own frames [0, n) are pages of their own, from
 * /proc/self/pagemap: a frame the guest only read maps the host's shared
 * zero page. NULL when pagemap cannot be read (then zero frames wait).
 */
static uint64_t *pagemap_of(const struct shadow_guest *g)
{
	uint64_t *pm = malloc(g->nr_frames * sizeof(*pm));
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	off_t at = (off_t)((uintptr_t)shadow__mfn_ptr(g->m, g->first_mfn) / EPT_PAGE_SIZE * 8);
	size_t want = g->nr_frames * sizeof(*pm);
	bool ok = pm && fd >= 0 && pread(fd, pm, want, at) == (ssize_t)want;
	if (fd >= 0)
		close(fd);
	if (!ok) {
		free(pm);
		return NULL;
	}
	return pm;
}

int shadow__poll_populated(struct shadow_guest *g)
{
	/*
	 * Which own frames the host has a page for: mincore() without g->lock;
	 * a frame written meanwhile is found at the next poll.
	 */
	unsigned char *resident = malloc(g->nr_frames);
	if (!resident)
		return -ENOMEM;
	if (mincore(shadow__mfn_ptr(g->m, g->first_mfn), g->nr_frames * EPT_PAGE_SIZE,
		    resident) < 0) {
		int rc = -errno;
		free(resident);
		return rc;
	}
	uint64_t *pm = NULL;
	bool pm_tried = false;
	pthread_mutex_lock(&g->lock);
	for (uint64_t gfn = 0; g->tracking && gfn < g->nr_frames; gfn++) {
		if (!(g->frame[gfn] & SF_UNPOP) || !(resident[gfn] & 1) || frame_evicted(g, gfn) ||
		    g->p2m_mfn[gfn] != own_mfn(g, gfn))
			continue;
		/* anything but zeros was written; zeros were if the page is its own */
		bool written = !is_zero(frame_ptr(g, gfn));
		if (!written && !(g->frame[gfn] & SF_ZEROPAGE)) {
			if (!pm_tried) {
				pm = pagemap_of(g);
				pm_tried = true;
			}
			written = pm && (pm[gfn] & (PM_PRESENT | PM_EXCLUSIVE)) ==
						(PM_PRESENT | PM_EXCLUSIVE);
			/* the host's zero page (only read): from now on, content only */
			if (pm && !written)
				g->frame[gfn] |= SF_ZEROPAGE;
		}
		if (written) {
			g->frame[gfn] &= (uint8_t)~(SF_UNPOP | SF_ZEROPAGE);
			record(g, gfn, SHADOW_EV_POPULATE);
			g->stats.populates++;
		}
	}
	pthread_mutex_unlock(&g->lock);
	free(pm);
	free(resident);
	return 0;
}

void shadow__track_stop(struct shadow_guest *g)
{
	pthread_mutex_lock(&g->lock);
	for (uint64_t gfn = 0; gfn < g->nr_frames; gfn++) {
		uint64_t own = own_mfn(g, gfn);
		if (g->p2m_mfn[gfn] != own) {
			/* the copy may be gone already: drop the leaves, never read it */
			rmap_unmap(g, g->p2m_mfn[gfn]);
			g->p2m_mfn[gfn] = own;
		}
		g->frame[gfn] &= SF_PINNED | SF_ABSENT | SF_EVICTED;
	}
	g->tracking = false;
	free(g->ev);
	free(g->stale.gfn);
	free(g->discard.gfn);
	g->ev = NULL;
	g->nev = g->ev_cap = 0;
	g->stale = g->discard = (struct shadow_gfns){ 0 };
	pthread_mutex_unlock(&g->lock);
}

static bool shareable(const struct shadow_guest *g, uint64_t gfn)
{
	/* an evicted frame's page holds nothing: it is host reclaim's now */
	return gfn < g->nr_frames && !g->pt_level[gfn] &&
	       !(g->frame[gfn] & (SF_PINNED | SF_ABSENT | SF_EVICTED));
}

const void *shadow__frame_content(struct shadow_guest *g, uint64_t gfn)
{
	pthread_mutex_lock(&g->lock);
	const void *p = shareable(g, gfn) ? frame_ptr(g, gfn) : NULL;
	pthread_mutex_unlock(&g->lock);
	return p;
}

bool shadow__frame_written(struct shadow_guest *g, uint64_t gfn)
{
	pthread_mutex_lock(&g->lock);
	bool written = true;
	if (g->tracking && shareable(g, gfn)) {
		uint8_t *f = &g->frame[gfn];
		written = (*f & SF_WRITTEN) || !(*f & SF_WP);
		if (!(*f & SF_WP))
			protect(g, gfn);
		*f &= (uint8_t)~SF_WRITTEN;
	}
	pthread_mutex_unlock(&g->lock);
	return written;
}

int shadow__share(struct shadow_guest *g, uint64_t gfn, uint64_t to_mfn)
{
	const uint8_t *to = shadow__mfn_ptr(g->m, to_mfn);
	if (!to || gfn >= g->nr_frames)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	int rc = -EBUSY;
	uint64_t own = own_mfn(g, gfn);
	if (!g->tracking || !shareable(g, gfn) || g->p2m_mfn[gfn] != own || to_mfn == own)
		goto out;
	uint8_t *f = &g->frame[gfn];
	if (!(*f & SF_WP))
		protect(g, gfn);
	if (*f & SF_STALE) {
		/* KVM may still let a vCPU write own: not before it is told */
		forget(g, own, 1);
		*f &= (uint8_t)~SF_STALE;
	}
	/* From here on nothing writes own: the shadows and KVM map it read-only,
	 * and every host writer takes g->lock. */
	rc = -EAGAIN;
	if (memcmp(shadow__mfn_ptr(g->m, own), to, EPT_PAGE_SIZE) != 0) {
		g->stats.share_races++;
		goto out;
	}
	g->p2m_mfn[gfn] = to_mfn;
	fill_refresh_mfn(g, own, NULL);
	if (!push(&g->discard, gfn))
		discard_own(g, gfn, 1); /* no room to batch: now */
	*f &= (uint8_t)~SF_WRITTEN;
	g->stats.shares++;
	rc = 0;
out:
	pthread_mutex_unlock(&g->lock);
	return rc;
}

int shadow__unshare(struct shadow_guest *g, uint64_t gfn, uint64_t n)
{
	if (gfn + n < gfn || gfn + n > g->nr_frames)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	/* the frames they mapped: each one's leaves are refreshed once, after
	 * every p2m_mfn moved (a zero frame may be mapped by thousands) */
	uint64_t *from = malloc(n * sizeof(*from));
	size_t nf = 0;
	for (uint64_t i = gfn; i < gfn + n; i++) {
		uint64_t own = own_mfn(g, i), was = g->p2m_mfn[i];
		if (was == own)
			continue;
		g->p2m_mfn[i] = own;
		g->frame[i] &= (uint8_t)~(SF_WP | SF_STALE);
		g->stats.unshares++;
		if (from)
			from[nf++] = was;
		else
			fill_refresh_mfn(g, was, NULL); /* no memory to batch: one by one */
	}
	if (nf) {
		runs__sort(from, nf);
		for (size_t k = 0; k < nf; k++)
			if (k == 0 || from[k] != from[k - 1])
				fill_refresh_mfn(g, from[k], NULL);
	}
	if (nf || !from)
		g->flush_needed = true; /* KVM's read-only translations of the copies */
	free(from);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

void shadow__unpopulated(struct shadow_guest *g, uint64_t gfn, uint64_t n)
{
	pthread_mutex_lock(&g->lock);
	for (uint64_t i = gfn; g->tracking && i < gfn + n && i < g->nr_frames; i++)
		if (g->p2m_mfn[i] == own_mfn(g, i) && shareable(g, i))
			g->frame[i] = (uint8_t)((g->frame[i] & ~(SF_WRITTEN | SF_ZEROPAGE)) | SF_UNPOP);
	pthread_mutex_unlock(&g->lock);
}

void shadow__track_flush(struct shadow_guest *g)
{
	pthread_mutex_lock(&g->lock);
	/*
	 * At most once per FLUSH_DELAY_NS: a write through a stale translation
	 * meanwhile goes unseen by written() (a page the engine asks about again
	 * a pass later, seconds on), never by shadow__share().
	 */
	if (stale_due(g, clock__mono_ns()))
		flush_stale(g);
	flush_discard(g, false);
	pthread_mutex_unlock(&g->lock);
}

uint64_t shadow__track_flush_due(struct shadow_guest *g)
{
	pthread_mutex_lock(&g->lock);
	uint64_t t = clock__mono_ns(), n = 0;
	if (stale_due(g, t))
		n += g->stale.n;
	if (discard_due(g, t))
		n += g->discard.n;
	pthread_mutex_unlock(&g->lock);
	return n;
}

size_t shadow__take_events(struct shadow_guest *g, struct shadow_event **out)
{
	pthread_mutex_lock(&g->lock);
	size_t n = g->nev;
	*out = g->ev;
	g->ev = NULL;
	g->nev = g->ev_cap = 0;
	pthread_mutex_unlock(&g->lock);
	return n;
}

/* Whether a frame of [gfn, gfn + n) is a page table of the guest's tree or
 * pinned (the host uses it behind the shadows): the balloon may not take it. */
static bool in_use(const struct shadow_guest *g, uint64_t gfn, uint64_t n)
{
	for (uint64_t i = gfn; i < gfn + n; i++)
		if (g->pt_level[i] || (g->frame[i] & SF_PINNED))
			return true;
	return false;
}

bool shadow__in_use(struct shadow_guest *g, uint64_t gfn, uint64_t n)
{
	if (gfn > g->nr_frames || n > g->nr_frames - gfn)
		return true;
	pthread_mutex_lock(&g->lock);
	bool busy = in_use(g, gfn, n);
	pthread_mutex_unlock(&g->lock);
	return busy;
}

/* Set or clear SF_ABSENT on [gfn, gfn + n); with set, drop their leaves. */
static void set_absent(struct shadow_guest *g, uint64_t gfn, uint64_t n, bool set)
{
	for (uint64_t i = gfn; i < gfn + n; i++) {
		if (!set) {
			g->frame[i] &= (uint8_t)~SF_ABSENT;
			continue;
		}
		g->frame[i] |= SF_ABSENT;
		rmap_unmap(g, g->p2m_mfn[i]); /* sets flush_needed when one was there */
	}
}

/*
 * Frames [gfn, gfn + n) were given away and discarded (the balloon took them,
 * or the guest reported them free): one host reclaim evicted leaves the
 * store with them (the p2m's store hook drops its bytes) and reads zero.
 */
static void drop_evicted(struct shadow_guest *g, uint64_t gfn, uint64_t n)
{
	for (uint64_t i = gfn; i < gfn + n; i++)
		g->frame[i] &= (uint8_t)~SF_EVICTED;
}

static int discard(struct shadow_guest *g, uint64_t gfn, uint64_t n)
{
	for (uint64_t i = 0; i < n;) {
		uint64_t first = g->p2m_mfn[gfn + i], run = 1;
		while (i + run < n && g->p2m_mfn[gfn + i + run] == first + run)
			run++;
		uint8_t *hva = shadow__mfn_ptr(g->m, first);
		if (!hva || !shadow__mfn_ptr(g->m, first + run - 1))
			return -EFAULT;
		if (madvise(hva, run * EPT_PAGE_SIZE, MADV_DONTNEED) < 0)
			return -errno;
		i += run;
	}
	return 0;
}

/*
 * The balloon's calls. A page table (or a pinned page) is refused with
 * -EBUSY, checked under g->lock with the change itself, so an mmu_update
 * cannot type a frame in between: discarding a table would zero it behind
 * the shadows derived from it.
 */
int shadow__take(struct shadow_guest *g, uint64_t gfn, uint64_t n)
{
	if (gfn > g->nr_frames || n > g->nr_frames - gfn)
		return -EFAULT;
	pthread_mutex_lock(&g->lock);
	int rc = in_use(g, gfn, n) ? -EBUSY : 0;
	if (!rc) {
		set_absent(g, gfn, n, true);
		rc = discard(g, gfn, n);
		if (rc < 0)
			set_absent(g, gfn, n, false);
		else
			drop_evicted(g, gfn, n);
	}
	pthread_mutex_unlock(&g->lock);
	return rc;
}

int shadow__give_back(struct shadow_guest *g, uint64_t gfn, uint64_t n)
{
	if (gfn > g->nr_frames || n > g->nr_frames - gfn)
		return -EFAULT;
	pthread_mutex_lock(&g->lock);
	set_absent(g, gfn, n, false);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

int shadow__discard(struct shadow_guest *g, uint64_t gfn, uint64_t n)
{
	if (gfn > g->nr_frames || n > g->nr_frames - gfn)
		return -EFAULT;
	pthread_mutex_lock(&g->lock);
	int rc = in_use(g, gfn, n) ? -EBUSY : discard(g, gfn, n);
	if (!rc)
		drop_evicted(g, gfn, n);
	pthread_mutex_unlock(&g->lock);
	return rc;
}
