/* SPDX-License-Identifier: MIT */
/* No double paging, the host's side (dp_host.h). */
#include "l1vmm/dp_host.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "l1vmm/dedup_host.h"
#include "l1vmm/shadow_vm.h"
#include "l1vmm/vm.h"
#include "mmu/ept/reclaim.h"
#include "mmu/shadow/shadow.h"
#include "reclaim/reclaim.h"

#define PAGE 4096ull

static bool cooperative(struct vm *vm)
{
	return __atomic_load_n(&vm->dp_cooperative, __ATOMIC_RELAXED) != 0;
}

static struct p2m *p2m_of(struct vm *vm)
{
	return &vm->ram->p2m;
}

/* ---- discarding frames the guest does not need ---- */

static int discard_apply(void *ctx, uint64_t gfn, uint64_t n)
{
	struct vm *vm = ctx;
	return vm->shadow ? shadow__discard(&vm->shadow->g, gfn, n) : ept__discard(vm->ram, gfn, n);
}

/* Frame gfn's content is not wanted: its page goes, its stored bytes too
 * (the p2m's store hook). 0 (done, or UNPOPULATED already), 1 (skipped:
 * page sharing or the balloon holds it), or -errno (a page table, pinned). */
static int discard_frame(struct vm *vm, uint64_t gfn)
{
	const uint32_t from =
		P2M_BIT(P2M_PRIVATE) | P2M_BIT(P2M_COMPRESSED) | P2M_BIT(P2M_UNPOPULATED);
	int rc = p2m__move(p2m_of(vm), gfn, 1, from, P2M_UNPOPULATED, discard_apply, vm);
	return rc == -EPERM ? 1 : rc;
}

/* ---- the device access path ---- */

static int keep_pages(void *ctx, uint64_t gfn, uint64_t n)
{
	(void)ctx, (void)gfn, (void)n;
	return 0; /* the frames keep their (own, after release) pages */
}

/*
 * Copy one page's part, as the guest would see it; fetches counted. With
 * no_fetch (a cooperative read, or a cooperative write of a whole page), a
 * frame found evicted is not fetched: 1, the caller takes it from the store
 * or drops its stored bytes, and comes back. 0, 1 or -1.
 */
static int plain_access(struct vm *vm, struct reclaim_vm *r, uint64_t gpa, void *buf,
			uint32_t len, bool write, bool no_fetch)
{
	if (vm->shadow) {
		unsigned fetched = 0;
		int rc = shadow__access_gpa(&vm->shadow->g, gpa, buf, len, write,
					    no_fetch ? NULL : &fetched);
		if (fetched && r)
			reclaim_vm__note_double_paging(r, fetched);
		return rc < 0 ? -1 : rc;
	}
	uint8_t *hva = ept__gpa_ptr(vm->ram, gpa, len);
	if (!hva)
		return -1;
	uint64_t gfn = gpa / PAGE;
	enum p2m_state st = p2m__get(p2m_of(vm), gfn);
	if (no_fetch && (st == P2M_COMPRESSED || st == P2M_IN_FLIGHT))
		return 1; /* evicted since the caller looked */
	if (r && st == P2M_COMPRESSED)
		reclaim_vm__note_double_paging(r, 1); /* the copy below faults it back */
	if (write && (st == P2M_SHARED || st == P2M_ZERO))
		/* page sharing gives it its own page first: its copy is not ours to write */
		p2m__move(p2m_of(vm), gfn, 1,
			  P2M_BIT(P2M_SHARED) | P2M_BIT(P2M_ZERO) | P2M_BIT(P2M_PRIVATE), P2M_PRIVATE,
			  keep_pages, NULL);
	if (write)
		memcpy(hva, buf, len);
	else
		memcpy(buf, hva, len);
	if (write)
		p2m__record_written(p2m_of(vm), gfn, 1); /* -EPERM (IN_FLIGHT now): its own page */
	return 0;
}

/* Each call covers [gpa, gpa + len) a page at a time. */
static int for_pages(struct vm *vm, uint64_t gpa, uint8_t *buf, uint32_t len, bool write)
{
	struct reclaim_vm *r = __atomic_load_n(&vm->reclaim_core, __ATOMIC_ACQUIRE);
	if (gpa + len < gpa)
		return -1;
	bool fetch_anyway = false; /* this page's stored bytes could not be dropped */
	unsigned again = 0;        /* times round for this page */
	while (len) {
		uint32_t chunk = (uint32_t)(PAGE - gpa % PAGE);
		if (chunk > len)
			chunk = len;
		uint64_t gfn = gpa / PAGE;
		/* an eviction in flight ends COMPRESSED: decide once it did (host
		 * reclaim holds IN_FLIGHT for one page's compression or fetch) */
		while (r && cooperative(vm) && p2m__get(p2m_of(vm), gfn) == P2M_IN_FLIGHT)
			nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 }, NULL);
		bool stored = r && cooperative(vm) && p2m__get(p2m_of(vm), gfn) == P2M_COMPRESSED;
		bool copied = false;
		if (stored && !write) {
			/* to the disk from the store: the frame stays where it is */
			_Alignas(64) uint8_t page[PAGE];
			int rc = reclaim_vm__read_stored(r, gfn, page);
			if (rc < 0)
				return -1;
			if (rc == 1)
				memcpy(buf, page + gpa % PAGE, chunk);
			copied = rc == 1;
		} else if (stored && chunk == PAGE) {
			/* overwritten whole: its stored bytes are dropped, not fetched */
			if (discard_frame(vm, gfn) != 0)
				fetch_anyway = true;
		}
		if (!copied) {
			/*
			 * The frame may be evicted between the look above and the
			 * copy: a read or a whole-page write then comes round again
			 * (the store, or the discard) instead of fetching it.
			 */
			bool no_fetch = r && cooperative(vm) && !fetch_anyway &&
					(!write || chunk == PAGE);
			int rc = plain_access(vm, r, gpa, buf, chunk, write, no_fetch);
			if (rc < 0)
				return -1;
			if (rc == 1) {
				/* evicted meanwhile: next time round (a frame that keeps
				 * moving is fetched after a few, as without the protocol) */
				if (++again >= 8)
					fetch_anyway = true;
				continue;
			}
		}
		fetch_anyway = false;
		again = 0;
		gpa += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

int dp_host__read(void *vm, uint64_t gpa, void *dst, uint32_t len)
{
	return for_pages(vm, gpa, dst, len, false);
}

int dp_host__write(void *vm, uint64_t gpa, const void *src, uint32_t len)
{
	return for_pages(vm, gpa, (uint8_t *)src, len, true);
}

/* ---- the bitmap ---- */

static void bit_stored(void *ctx, uint64_t gfn, bool in_store)
{
	struct vm *vm = ctx;
	uint64_t *bm = __atomic_load_n(&vm->dp_bitmap, __ATOMIC_ACQUIRE);
	uint64_t frames = __atomic_load_n(&vm->dp_bitmap_pages, __ATOMIC_RELAXED) * PAGE * 8;
	if (!bm || gfn >= frames || !cooperative(vm))
		return;
	uint64_t m = 1ull << (gfn % 64);
	/* the guest reads the word as a hint: no order with anything else */
	if (in_store)
		__atomic_fetch_or(&bm[gfn / 64], m, __ATOMIC_RELAXED);
	else
		__atomic_fetch_and(&bm[gfn / 64], ~m, __ATOMIC_RELAXED);
}

static void watch(struct vm *vm, bool on)
{
	struct reclaim_vm *r = __atomic_load_n(&vm->reclaim_core, __ATOMIC_ACQUIRE);
	if (r)
		reclaim_vm__set_watch(r, on ? &(struct reclaim_watch){ .stored = bit_stored,
								       .ctx = vm }
					    : NULL);
}

static void clear_bitmap(struct vm *vm)
{
	uint64_t *bm = vm->dp_bitmap;
	for (uint64_t w = 0; bm && w < vm->dp_bitmap_pages * PAGE / 8; w++)
		__atomic_store_n(&bm[w], 0, __ATOMIC_RELAXED);
}

/* ept: make frame gfn the guest's own, resident page (out of page sharing:
 * dedup_ept__host_writes first): a write of what it holds fetches,
 * unshares and records it. */
static int ept_hold_frame(struct vm *vm, uint64_t gfn)
{
	uint64_t word;
	if (plain_access(vm, NULL, gfn * PAGE, &word, 8, false, false) < 0 ||
	    plain_access(vm, NULL, gfn * PAGE, &word, 8, true, false) < 0)
		return -L1_EINVAL;
	return 0;
}

/* The frames of a new bitmap: resident, the guest's own, out of sharing and
 * of reclaim. dp_lock held. 0 or -L1_E*; on an error nothing is held. */
static int hold_frames(struct vm *vm, struct reclaim_vm *r, uint64_t gfn, uint64_t pages)
{
	/* ept: out of page sharing as one range (the VM keeps a few such ranges) */
	if (!vm->shadow && dedup_ept__host_writes(vm, gfn * PAGE, pages * PAGE) < 0)
		return -L1_E2BIG;
	if (r)
		reclaim_vm__set_pinned(r, gfn, pages); /* no new eviction of them */
	int rc = 0;
	if (vm->shadow) {
		/* checked (no page table, not pinned) and pinned under one hold of
		 * the guest's lock: no update types a frame in between */
		int e = shadow__pin_unused(&vm->shadow->g, gfn, pages);
		rc = e == 0 ? 0 : e == -EBUSY || e == -EINVAL ? -L1_EINVAL : -L1_EFAULT;
	}
	for (uint64_t i = 0; !vm->shadow && i < pages && !rc; i++)
		rc = ept_hold_frame(vm, gfn + i);
	if (rc < 0 && r)
		reclaim_vm__set_pinned(r, 0, 0);
	return rc;
}

/* Forget the bitmap (dp_lock held): no bit is written into it any more, and
 * its frames are the guest's again (unpinned, evictable). */
static void unregister_bitmap(struct vm *vm, struct reclaim_vm *r)
{
	watch(vm, false); /* under r->lock: no callback writes a bit after it */
	if (r)
		reclaim_vm__set_pinned(r, 0, 0);
	pthread_mutex_lock(&vm->lock);
	bool had = vm->dp_bitmap != NULL;
	uint64_t gfn = vm->dp_bitmap_gfn, pages = vm->dp_bitmap_pages;
	__atomic_store_n(&vm->dp_bitmap, NULL, __ATOMIC_RELEASE);
	vm->dp_bitmap_gfn = vm->dp_bitmap_pages = 0;
	pthread_mutex_unlock(&vm->lock);
	if (had && vm->shadow)
		shadow__unpin(&vm->shadow->g, gfn, pages);
}

static int64_t dp_register(struct vm *vm, uint64_t gfn, uint64_t pages)
{
	if (pages > L1_DP_BITMAP_MAX_PAGES)
		return -L1_E2BIG;
	uint64_t nr = p2m_of(vm)->nr_frames;
	if (pages && (gfn < L1_BALLOON_MIN_GFN || gfn >= nr || pages > nr - gfn ||
		      !ept__gpa_ptr(vm->ram, gfn * PAGE, pages * PAGE)))
		return -L1_EINVAL;
	struct reclaim_vm *r = __atomic_load_n(&vm->reclaim_core, __ATOMIC_ACQUIRE);
	/* from the check that there is none to the install: one registration */
	pthread_mutex_lock(&vm->dp_lock);
	int64_t rc = 0;
	if (!pages)
		unregister_bitmap(vm, r);
	else if (vm->dp_bitmap)
		rc = -L1_EPERM; /* one bitmap; 0 pages first to move it */
	else
		rc = hold_frames(vm, r, gfn, pages);
	if (pages && rc == 0) {
		pthread_mutex_lock(&vm->lock);
		vm->dp_bitmap_gfn = gfn;
		vm->dp_bitmap_pages = pages;
		__atomic_store_n(&vm->dp_bitmap, ept__gpa_ptr(vm->ram, gfn * PAGE, pages * PAGE),
				 __ATOMIC_RELEASE);
		clear_bitmap(vm);
		pthread_mutex_unlock(&vm->lock);
		if (cooperative(vm))
			watch(vm, true); /* the frames in the store now get their bits */
	}
	pthread_mutex_unlock(&vm->dp_lock);
	return rc;
}

/* ---- hints ---- */

static bool in_bitmap(struct vm *vm, uint64_t gfn)
{
	return vm->dp_bitmap && gfn >= vm->dp_bitmap_gfn &&
	       gfn - vm->dp_bitmap_gfn < vm->dp_bitmap_pages;
}

static int64_t dp_hint(struct vm *vm, const struct pv_mem *mem, uint64_t list, uint64_t count,
		       uint64_t kind)
{
	static _Thread_local uint64_t gfns[L1_DP_HINT_MAX];
	int64_t n = pv__fetch_dp_hints(mem, kind, list, count, p2m_of(vm)->nr_frames, gfns);
	if (n < 0)
		__atomic_fetch_add(&vm->dp_hint_errors, 1, __ATOMIC_RELAXED);
	if (n <= 0)
		return n;
	if (!cooperative(vm)) {
		__atomic_fetch_add(&vm->dp_hints_ignored, (uint64_t)n, __ATOMIC_RELAXED);
		return kind == L1_DP_ZEROED ? 0 : n; /* ZEROED: none made zero */
	}
	int64_t done = 0;
	for (; done < n; done++) {
		pthread_mutex_lock(&vm->lock);
		bool bitmap = in_bitmap(vm, gfns[done]);
		pthread_mutex_unlock(&vm->lock);
		int rc = bitmap ? -EBUSY : discard_frame(vm, gfns[done]);
		if (rc < 0)
			break;
		if (rc == 1 && kind == L1_DP_ZEROED)
			return done; /* skipped: not zero; the guest clears it and the rest */
		if (rc == 0)
			__atomic_fetch_add(&vm->dp_hinted, 1, __ATOMIC_RELAXED);
		if (rc == 0 && kind == L1_DP_ZEROED && vm->reclaim_ept)
			/* reused at once: its zeroed page now, not at a fault
			 * through userfaultfd (any error: the fault does it) */
			ept_reclaim__zero(vm->reclaim_ept, gfns[done]);
	}
	if (done < n)
		__atomic_fetch_add(&vm->dp_hint_errors, 1, __ATOMIC_RELAXED);
	return done ? done : -L1_EINVAL;
}

int64_t dp_host__hypercall(struct vm *vm, const struct pv_mem *mem, uint64_t op, uint64_t a1,
			   uint64_t a2, uint64_t a3)
{
	switch (op) {
	case L1_DP_REGISTER:
		return dp_register(vm, a1, a2);
	case L1_DP_HINT:
		return dp_hint(vm, mem, a1, a2, a3);
	default:
		__atomic_fetch_add(&vm->dp_hint_errors, 1, __ATOMIC_RELAXED);
		return -L1_EINVAL;
	}
}

void dp_host__set_cooperative(struct vm *vm, int on)
{
	__atomic_store_n(&vm->dp_cooperative, on, __ATOMIC_RELAXED);
	pthread_mutex_lock(&vm->dp_lock);
	if (!on) {
		pthread_mutex_lock(&vm->lock);
		clear_bitmap(vm);
		pthread_mutex_unlock(&vm->lock);
	}
	if (vm->dp_bitmap)
		watch(vm, on); /* on: the bits again from the p2m */
	pthread_mutex_unlock(&vm->dp_lock);
}
