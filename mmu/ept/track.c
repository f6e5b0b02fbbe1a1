/* SPDX-License-Identifier: MIT */
/*
 * What ept guests wrote (share.h): KVM's dirty log, which only this file
 * reads or clears, with manual protection (a harvest clears only what it
 * read), and l1vmm's own writes for the guest (host_written).
 *
 * What sharing needs from it: a write to a SHARED or ZERO frame (a
 * copy-on-write break) and the first write to an UNPOPULATED one (it has
 * content now). Whether a PRIVATE page is volatile the engine tells from its
 * content hash, so a PRIVATE frame's dirty bit is never cleared: KVM does
 * not write-protect it again, and the guest writes it at full speed. Its bit
 * stays set in KVM's log, and g->quiet says so, so a harvest skips it. Only a
 * share clears a frame's bit (track__forget_writes, under the write
 * protection): the next write to it is a break.
 *
 * Host reclaim's coldness tracking (mmu/ept/reclaim.c) is the second
 * consumer: it reads the log itself and clears a bit only through
 * ept_share__rearm(), for frames whose writes sharing already saw.
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
		BIT_CLEAR(g->quiet, gfn + k);
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

int ept_share__rearm(struct ept_guest *g, uint64_t gfn, uint64_t bits)
{
	l1_lock__acquire(&g->b->lock);
	const struct ept_slot *s = share__slot_of(g, gfn);
	int rc = -EINVAL;
	if (s && gfn % 64 == 0) {
		uint64_t seen = bits & g->quiet[gfn / 64];
		rc = seen ? clear_log(g, s, gfn - s->first_gfn, 64, &seen) : 0;
		if (rc == 0 && seen != bits)
			rc = -EAGAIN;
	}
	l1_lock__release(&g->b->lock);
	return rc;
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
 * Harvest g's dirty log: every frame written since its bit was last cleared,
 * but the quiet ones (PRIVATE frames seen before), and l1vmm's own writes
 * for the guest. A written UNPOPULATED, SHARED or ZERO frame is reported;
 * every written frame is quiet from now on (it is PRIVATE once reported).
 * Nothing is cleared in KVM's log here.
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
			uint64_t bits = (s->log[w] & ~g->quiet[base + w]) | g->host_written[base + w];
			g->host_written[base + w] = 0;
			g->quiet[base + w] |= s->log[w];
			for (; bits; bits &= bits - 1) {
				uint64_t gfn = s->first_gfn + w * 64 + (unsigned)__builtin_ctzll(bits);
				/* a frame being shared now is queued, and the queue
				 * was applied (its dirty bit cleared) before this */
				enum p2m_state st = p2m__get(p2m, gfn);
				if (st == P2M_UNPOPULATED || st == P2M_SHARED || st == P2M_ZERO)
					report_add(r, gfn);
			}
		}
	}
}

void ept_share__sync(struct ept_share *b)
{
	l1_lock__acquire(&b->lock);
	maps__apply_pending(b); /* the frames it leaves private are recorded below */
	for (struct ept_guest *g = b->guests; g; g = g->next) {
		struct report r = { 0 };
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

void ept_share__unpopulated(struct ept_guest *g, uint64_t gfn, uint64_t n)
{
	/* their next write is a populate: a bit set since is news again */
	l1_lock__acquire(&g->b->lock);
	for (uint64_t f = gfn; f < gfn + n && f < g->nr_frames; f++)
		BIT_CLEAR(g->quiet, f);
	l1_lock__release(&g->b->lock);
}
