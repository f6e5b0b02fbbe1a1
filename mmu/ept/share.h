/* SPDX-License-Identifier: MIT */
/*
 * DOC: ept mode's host side of page sharing.
 *
 * The sharing engine (dedup/) decides what to share; this applies it to the
 * host memory of ept-mode guests. It knows nothing of the engine: the
 * wiring (l1vmm/dedup_ept.c) turns the engine's callbacks into these calls,
 * and what the guests wrote is recorded in their p2ms
 * (p2m__record_written()), where the engine hears of it as the p2m's client.
 *
 * Stored copies (store.c) are pages of one memfd, also mapped once
 * MAP_SHARED (the store) so the engine can read them and copies can be
 * filled. A shared guest frame (maps.c) is that memfd page mapped
 * MAP_PRIVATE | MAP_FIXED over the frame's place in guest RAM: KVM maps it
 * read-only into the guest, and a guest write makes the host kernel copy it
 * (copy-on-write) into an anonymous page of the guest's own, with the old
 * bytes plus the write, and no exit to l1vmm. A zero frame is discarded
 * (MADV_DONTNEED on anonymous memory, a fresh anonymous mapping over a memfd
 * page); the guest reads the kernel's zero page until it writes.
 *
 * Writes are seen through KVM's dirty log (track.c; manual protection:
 * KVM_GET_DIRTY_LOG, then KVM_CLEAR_DIRTY_LOG of what was read), which only
 * this backend reads. ept_share__sync() harvests it: a written SHARED or
 * ZERO frame was copied on write, a written UNPOPULATED frame got content;
 * both are recorded written in the p2m. A PRIVATE frame's bit is never
 * cleared, so KVM never write-protects it again and the guest's writes to
 * its own pages cost nothing: whether such a page is volatile, the engine
 * tells from its content hash.
 *
 * The window between the engine's byte compare and the new mapping is
 * closed one of two ways. A flush of many frames holds every guest's vCPUs
 * out of guest mode (ept_share__set_hold; l1vmm's vCPU threads wait in
 * their loop), so nothing can write the frames while they are compared and
 * replaced, and no frame is write-protected. Otherwise (few frames, no hold
 * ops, or a vCPU that did not stop in time) each run of frames is
 * write-protected first (mprotect): a vCPU
 * that writes it then gets EFAULT from KVM_RUN and waits in
 * ept_share__wait() for the share to finish (the backend lock), then runs
 * again and writes into the new mapping (a copy-on-write). Guest code KVM
 * emulates (CPL0 here, docs/machine-notes.md) does not fault: KVM's emulator
 * turns a write it cannot make into an MMIO exit at a RAM address, which
 * ept_share__ram_access() completes the same way, after the share, and
 * counts as a guest write; a locked read-modify-write it cannot make (xchg,
 * cmpxchg) ends in an emulation failure, which the vCPU retries once the
 * share is done; an interrupt or exception whose frame KVM could not push
 * onto a write-protected kernel stack page ends in a shutdown (a "triple
 * fault") with the vCPU still at the interrupted instruction, which is
 * re-run too when it comes right after a protection
 * (ept_share__since_protect(), bounded by the caller: a guest's own triple
 * fault repeats and still ends it). One case has no exit to wait in: KVM's
 * emulated page walk sets accessed/dirty bits in the guest's page tables
 * through our mapping, and when the table page is protected the write fails
 * and KVM injects a not-present #PF into the guest. The guest kernel and the
 * boot tables (cpu/hybrid/boot.c) therefore create every entry accessed and
 * every leaf dirty, so their walks never write; a guest that leaves those
 * bits clear can still see such a spurious fault (docs/machine-notes.md).
 * Under the protection, the frame's dirty bit is cleared, its bytes compared
 * again, and only then is it replaced. A write is therefore never lost, and
 * a dirty bit after the replacement always means a write to the new mapping.
 *
 * Host mappings: each replaced frame may split guest RAM's mapping; runs of
 * frames mapped onto consecutive memfd pages merge into one mapping. The
 * count (an estimate from the per-frame layout, kept exact for l1vmm's own
 * splits) is checked against vm.max_map_count before every share: past
 * max_map_count - EPT_MAP_RESERVE, shares are refused (-ENOSPC) and one
 * warning says which sysctl to raise.
 *
 * Locking: one lock per backend (rank L1_RANK_BACKEND) protects everything
 * here; a share holds it from the write protection to the new mapping. The
 * engine calls in with its lock held (engine lock, then this one);
 * ept_share__sync() records writes in the p2ms with it released.
 */
#ifndef L1_MMU_EPT_SHARE_H
#define L1_MMU_EPT_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmu/ept/ept.h"

struct ept_share;
struct ept_guest;

/* The owner of a guest memory hears that frames could not be made writable
 * again (why: one line): the guest cannot go on safely and must be ended.
 * Called with the backend lock held: it must not call back in. */
typedef void ept_stuck_fn(void *owner, const char *why);

/*
 * Holding vCPUs (optional, ept_share__set_hold): request asks every vCPU
 * of owner's guest to leave guest mode and wait; wait (until a monotonic
 * time in seconds) is true once all of them wait, none able to write guest
 * memory until release. release ends a request, held or not. Called with no
 * backend lock held.
 */
struct ept_hold_ops {
	void (*request)(void *owner);
	bool (*wait)(void *owner, double until_s);
	void (*release)(void *owner);
};

/* A backend with an empty copy store. 0, or -1 with a one-line reason. */
int ept_share__create(struct ept_share **out, char *err, size_t errlen);
/* After every guest is detached. */
void ept_share__destroy(struct ept_share *b);
/* Let flushes hold the guests' vCPUs (see ept_share__flush); before any attach. */
void ept_share__set_hold(struct ept_share *b, const struct ept_hold_ops *ops);

/*
 * Put mem (registered as KVM memslots 0.. of vm_fd) under sharing: its slots
 * get dirty logging with manual protection, and frames already resident
 * become PRIVATE. Before mem's p2m has a client. 0 or -errno.
 */
int ept_share__attach(struct ept_share *b, struct ept_mem *mem, int vm_fd,
		      ept_stuck_fn *stuck, void *owner, struct ept_guest **out);
/* After the guest's vCPUs stopped and the engine let go of it. */
void ept_share__detach(struct ept_guest *g);

/* ---- stored copies (store.c); a copy is an opaque non-NULL handle ---- */
/* A new copy of 4 KiB of content; NULL when out of memory. */
void *ept_share__copy_new(struct ept_share *b, const void *content, int node);
/* Free a copy no frame maps (queued frames are applied first). */
void ept_share__copy_free(struct ept_share *b, void *copy);
/* The copy's 4 KiB (read only). */
const void *ept_share__copy_data(const struct ept_share *b, const void *copy);

/* ---- frames (maps.c) ---- */
/* The frame's bytes as the guest sees them, or NULL (not RAM, or pinned). */
const void *ept_share__page(struct ept_guest *g, uint64_t gfn);
/*
 * Queue gfn to be mapped onto copy (NULL: to zeros) at the next flush; the
 * caller compared its bytes just now. 0, -EINVAL (not RAM), -EBUSY (pinned:
 * l1vmm's devices write it) or -ENOSPC (near vm.max_map_count).
 */
int ept_share__queue(struct ept_guest *g, uint64_t gfn, void *copy);
/*
 * Replace the queued frames, in runs (see maps.c). A frame whose bytes
 * changed since they were compared stays as it is and is reported written
 * at the next sync. With hold ops and EPT_HOLD_MIN_PENDING frames or more
 * queued, every guest's vCPUs are held out of guest mode meanwhile: no
 * frame needs its write protection, and the host's TLB flushes of the
 * mapping calls reach no CPU running a vCPU (see maps.c).
 */
void ept_share__flush(struct ept_share *b);
/* Flushes done with the vCPUs held, and those that asked and fenced instead. */
void ept_share__holds(struct ept_share *b, uint64_t *holds, uint64_t *misses);
/*
 * Give frames [gfn, gfn + n) their own anonymous pages (their bytes are not
 * kept: the caller discards them next). 0 or -errno; *done: the frames from
 * gfn on that have their own page.
 */
int ept_share__unshare(struct ept_guest *g, uint64_t gfn, uint64_t n, uint64_t *done);
/*
 * Keep [gfn, gfn + n) out of sharing from now on: l1vmm writes them outside
 * any vCPU. A frame mapped onto a copy gets a private page with its bytes;
 * every frame is reported written at the next sync.
 */
void ept_share__pin(struct ept_guest *g, uint64_t gfn, uint64_t n);

/* ---- what the guests wrote (track.c) ---- */
/* Apply the queue, then harvest every guest's dirty log and record in its
 * p2m what was written (p2m__record_written). */
void ept_share__sync(struct ept_share *b);
/* Frames [gfn, gfn + n) are UNPOPULATED again (the balloon gave them back):
 * their next write is a populate. */
void ept_share__unpopulated(struct ept_guest *g, uint64_t gfn, uint64_t n);

/*
 * Host reclaim's harvest (mmu/ept/reclaim.c) watches frames again: clear in
 * KVM's log the bits of frames gfn + k (gfn a multiple of 64) set in bits
 * whose writes sharing has already seen (quiet); sharing still has to see
 * the others. 0, -EAGAIN (some were left for sharing), or -errno.
 */
int ept_share__rearm(struct ept_guest *g, uint64_t gfn, uint64_t bits);

/* ---- a vCPU meets a write-protected frame (share.c) ---- */
/* Wait until no frame of g is write-protected. False: g is stuck. */
bool ept_share__wait(struct ept_guest *g);
/*
 * Complete an access KVM's emulator could not make to guest RAM at gpa
 * (size bytes, one frame), after waiting as above; a write counts as the
 * guest's. False when gpa is not RAM.
 */
bool ept_share__ram_access(struct ept_guest *g, uint64_t gpa, void *data, uint32_t size,
			   bool is_write);
/* Seconds since g's backend last write-protected a frame (of any guest). */
double ept_share__since_protect(const struct ept_guest *g);

/* ---- statistics ---- */
uint64_t ept_share__mappings(struct ept_share *b); /* host mappings over guest RAM now */
uint64_t ept_share__map_calls(struct ept_share *b); /* runs replaced so far */

#endif
