/* SPDX-License-Identifier: MIT */
/*
 * What ept guests wrote (share.h): KVM's dirty log, which only this file
 * reads or clears, with manual protection (a harvest clears only what it
 * read), and l1vmm's own writes for the guest (host_written).
 *
 * One consumer today: page sharing's volatility (the watch window ahead of
 * the scan cursor). Host reclaim's coldness tracking is to be the second;
 * since no other file touches the log, it becomes a second watch here, and
 * a harvest re-arms the union of the watched frames once.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "mmu/array.h"
#include "mmu/clock.h"
#include "mmu/ept/share_priv.h"

int track__start(struct ept_guest *g)
{
	for (unsigned i = 0; i < g->nr_slots; i++) {
		const struct ept_slot *s = &g->slot[i];
		/* the same slot again, now with dirty logging (before any vCPU runs) */
		struct kvm_userspace_memory_region slot = {
			.slot = s->slot, .flags = KVM_MEM_LOG_DIRTY_PAGES,
			.guest_phys_addr = s->first_gfn * PAGE, .memory_size = s->nr_pages * PAGE,
			.userspace_addr = (uint64_t)(uintptr_t)s->hva };
		if (ioctl(g->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return -errno;
	}
	/* manual protection: a harvest clears only what it read (all VMs alike);
	 * required: without it a harvest cannot leave alone the bits of frames
	 * being replaced, and a write from before a share would be taken for a
	 * break of it */
	struct kvm_enable_cap cap = { .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
				      .args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE } };
	return ioctl(g->vm_fd, KVM_ENABLE_CAP, &cap) < 0 ? -EOPNOTSUPP : 0;
}

/* Clear the bits of bitmap (64 frames from rel_first of slot s) in KVM's log. */
static int clear_log(const struct ept_guest *g, const struct ept_slot *s, uint64_t rel_first,
		     uint64_t n, uint64_t *bitmap)
{
	if (rel_first + n > s->nr_pages)
		n = s->nr_pages - rel_first;
	struct kvm_clear_dirty_log c = { .slot = s->slot, .first_page = rel_first,
					 .num_pages = (uint32_t)n, .dirty_bitmap = bitmap };
	return ioctl(g->vm_fd, KVM_CLEAR_DIRTY_LOG, &c) < 0 ? -errno : 0;
}

int track__forget_writes(struct ept_guest *g, uint64_t gfn, uint64_t n)
{
	for (uint64_t k = 0; k < n; k++) {
		BIT_CLEAR(g->written, gfn + k);
		BIT_CLEAR(g->written_prev, gfn + k);
		BIT_CLEAR(g->host_written, gfn + k);
	}
	const struct ept_slot *s = share__slot_of(g, gfn);
	if (!s)
		return -EINVAL;
	uint64_t rel = gfn - s->first_gfn, end = rel + n;
	for (uint64_t first = rel & ~63ull; first < end; first += 64) {
		uint64_t bits = 0;
		for (uint64_t r = first > rel ? first : rel; r < end && r < first + 64; r++)
			bits |= 1ull << (r - first);
		int rc = clear_log(g, s, first, 64, &bits);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Frames to record written once b->lock is released. */
struct report {
	uint64_t *gfn;
	size_t n, cap;
};

static void report_add(struct report *r, uint64_t gfn)
{
	if (ARRAY_ROOM(r->gfn, r->cap, r->n, 1024) < 0) {
		/* out of memory: what does not fit is recorded at a later harvest
		 * (KVM's bits of SHARED, ZERO and UNPOPULATED frames stay set
		 * until then), except l1vmm's own writes: say so */
		fprintf(stderr, "l1vmm: dedup: out of memory reporting guest writes\n");
		return;
	}
	r->gfn[r->n++] = gfn;
}

/*
 * Move g's watch window to [lo, hi): the PRIVATE frames that enter it get
 * their dirty bits cleared (KVM write-protects them) without counting as
 * written, so the next harvests tell whether they are being written now.
 * The bits of other frames are left for the harvest: for an UNPOPULATED
 * frame a bit means it got content, for a SHARED or ZERO one a break.
 */
static void move_window(struct ept_guest *g, uint64_t lo, uint64_t hi)
{
	const struct p2m *p2m = &g->mem->p2m;
	for (unsigned i = 0; i < g->nr_slots; i++) {
		const struct ept_slot *s = &g->slot[i];
		uint64_t a = lo > s->first_gfn ? lo : s->first_gfn;
		uint64_t z = hi < s->first_gfn + s->nr_pages ? hi : s->first_gfn + s->nr_pages;
		for (uint64_t chunk = (a - s->first_gfn) & ~63ull; s->first_gfn + chunk < z; chunk += 64) {
			uint64_t bits = 0;
			for (unsigned k = 0; k < 64 && chunk + k < s->nr_pages; k++) {
				uint64_t f = s->first_gfn + chunk + k;
				if (f < a || f >= z || (f >= g->win_lo && f < g->win_hi) ||
				    p2m__get(p2m, f) != P2M_PRIVATE)
					continue;
				bits |= 1ull << k;
				BIT_CLEAR(g->written, f);
				BIT_CLEAR(g->written_prev, f);
			}
			if (bits)
				clear_log(g, s, chunk, 64, &bits);
		}
	}
	g->win_lo = lo;
	g->win_hi = hi;
}

/*
 * Harvest g's dirty log. Which writes matter: to a SHARED or ZERO frame (a
 * copy-on-write break), to an UNPOPULATED one (it has content now), and to a
 * PRIVATE frame in the watch window just ahead of the scan cursor (it is
 * volatile). Only frames in the window have their dirty bits cleared (and
 * are write-protected again by KVM); a private frame the scanner is far
 * from stays writable at full speed however often the guest writes it:
 * write tracking costs a guest about one fault per frame per full scan.
 */
static void harvest(struct ept_guest *g, struct report *r)
{
	const struct p2m *p2m = &g->mem->p2m;
	for (unsigned i = 0; i < g->nr_slots; i++) {
		struct ept_slot *s = &g->slot[i];
		struct kvm_dirty_log d = { .slot = s->slot, .dirty_bitmap = s->log };
		if (ioctl(g->vm_fd, KVM_GET_DIRTY_LOG, &d) < 0)
			continue;
		uint64_t words = (s->nr_pages + 63) / 64, base = s->first_gfn / 64;
		for (uint64_t w = 0; w < words; w++) {
			/* writes l1vmm made for the guest count as the guest's
			 * (slots start at multiples of 64 gfns) */
			uint64_t bits = s->log[w] | g->host_written[base + w];
			g->host_written[base + w] = 0;
			uint64_t clear = 0;
			for (; bits; bits &= bits - 1) {
				unsigned bit = (unsigned)__builtin_ctzll(bits);
				uint64_t gfn = s->first_gfn + w * 64 + bit;
				/* a frame being shared now is queued, and the queue
				 * was applied (its dirty bits cleared) before this */
				enum p2m_state st = p2m__get(p2m, gfn);
				if (st == P2M_UNPOPULATED || st == P2M_SHARED || st == P2M_ZERO)
					report_add(r, gfn);
				/* a PRIVATE frame in the window is being written:
				 * volatile, and watched again */
				if (gfn >= g->win_lo && gfn < g->win_hi && st == P2M_PRIVATE) {
					BIT_SET(g->written, gfn);
					clear |= 1ull << bit;
				}
			}
			s->log[w] = clear;
		}
		for (uint64_t w = 0; w < words; ) {
			if (!s->log[w]) {
				w++;
				continue;
			}
			uint64_t end = w;
			while (end < words && s->log[end])
				end++;
			clear_log(g, s, w * 64, (end - w) * 64, &s->log[w]);
			w = end;
		}
	}
}

void ept_share__sync(struct ept_share *b, const struct ept_mem *cursor, uint64_t cursor_gfn,
		     uint64_t window)
{
	l1_lock__acquire(&b->lock);
	maps__apply_pending(b); /* the frames it leaves private are recorded below */
	double now = clock__mono_s();
	for (struct ept_guest *g = b->guests; g; g = g->next) {
		struct report r = { 0 };
		if (now - g->window_start >= WINDOW_SECONDS) {
			uint64_t *t = g->written_prev;
			g->written_prev = g->written;
			g->written = t;
			memset(t, 0, (g->nr_frames + 63) / 64 * sizeof(uint64_t));
			g->window_start = now;
		}
		/* watch the frames the scanner examines next; in the other
		 * guests their first frames, where it will start */
		uint64_t lo = g->mem == cursor ? cursor_gfn : 0;
		uint64_t hi = lo + window < g->nr_frames ? lo + window : g->nr_frames;
		move_window(g, lo, hi);
		harvest(g, &r);
		if (r.n) {
			/* the p2m takes its client's (the engine's) lock, which
			 * ranks before ours */
			l1_lock__release(&b->lock);
			for (size_t k = 0; k < r.n; k++)
				p2m__record_written(&g->mem->p2m, r.gfn[k], 1);
			l1_lock__acquire(&b->lock);
		}
		free(r.gfn);
	}
	l1_lock__release(&b->lock);
}

bool ept_share__written(struct ept_guest *g, uint64_t gfn)
{
	if (gfn >= g->nr_frames)
		return false;
	l1_lock__acquire(&g->b->lock);
	bool w = BIT_TEST(g->written, gfn) || BIT_TEST(g->written_prev, gfn);
	l1_lock__release(&g->b->lock);
	return w;
}
