/* SPDX-License-Identifier: MIT */
/*
 * DOC: ept mode's host side of host reclaim (reclaim/reclaim.h).
 *
 * An evicted frame's page is gone from guest RAM's anonymous mapping; the
 * next access to it, by a vCPU (through KVM's page walk of the host
 * mapping) or by any l1vmm thread (virtio, hypercall arguments, the dedup
 * scanner), must wait until the stored bytes are back. userfaultfd gives
 * exactly that: the faulting thread sleeps in the kernel, a message names
 * the address, and a fetch thread of this backend installs the page
 * (UFFDIO_COPY), which wakes it.
 *
 * Registration is lazy. Registered in MISSING mode, every first touch of
 * guest RAM would go through a fetch thread (~55 us instead of a page
 * allocation), so nothing is registered until the first fence(). Then every
 * anonymous mapping inside guest RAM is registered, MISSING | WP; from then
 * on a missing page is served by the pool: the fetch fn (the wiring's
 * reclaim_vm__fetch) brings back a COMPRESSED frame; any other frame
 * (never touched, ZERO, BALLOONED, reported free) reads zero, as it would
 * without userfaultfd (UFFDIO_ZEROPAGE for a read, a copy of zeros for a
 * write, which saves the write's second fault). A frame whose state is
 * COMPRESSED or IN_FLIGHT is never zero-filled: the pool tries the fetch
 * again.
 *
 * Only guest RAM's own anonymous pages may be evicted. Page sharing maps
 * frames onto its memfd (MAP_PRIVATE): a MADV_DONTNEED there would bring
 * back the memfd's bytes instead of faulting, so such mappings, and the
 * fresh anonymous mappings sharing puts over frames later, are not
 * registered (registration belongs to a mapping, and mappings made after
 * it are not). fence() relies on the kernel to tell: UFFDIO_WRITEPROTECT
 * refuses a range not registered for WP (-ENOENT); the frames of such a run
 * are remembered as foreign, evictable() says false for them from then on,
 * and the fence is refused (-EBUSY). Frames sharing remaps after
 * registration are therefore never evicted, even once they are PRIVATE
 * again (not re-registered: that would split mappings behind sharing's
 * mapping count).
 *
 * The moves (reclaim/reclaim.h), each under the p2m lock:
 *   fence    UFFDIO_WRITEPROTECT of the run: the kernel write-protects the
 *            ptes and KVM's MMU notifier drops its writable translations;
 *            a writer (vCPU or host thread) sleeps in a WP fault.
 *   unfence  clear the protection, which wakes the writers.
 *   discard  MADV_DONTNEED of the run, then UFFDIO_WAKE of it: a writer
 *            asleep in a WP fault retries and meets a missing page, which
 *            the pool fetches.
 * The race: a WP fault's message may be read by the pool after discard()
 * woke the range (the writer's thread queued itself before the wake,
 * or re-checked the pte after the zap: an empty pte keeps it asleep). So a
 * WP message is never just dropped: the pool waits until the frame is no
 * longer IN_FLIGHT (p2m__get) and then wakes the page. The writer then
 * writes (the eviction was given up) or faults MISSING (it is COMPRESSED).
 * A thread is never left asleep: every message ends in a copy, a zero page
 * or a wake, and destroy unregisters, which wakes every sleeper.
 *
 * The fetch threads must never touch registered guest memory themselves
 * (they would wait for themselves): they only read and write it through
 * userfaultfd ioctls; the fetch fn reads the store and calls install().
 * A fetch error (the store could not give the bytes) is counted and the
 * fetch retried with a backoff of 1 ms doubling to 100 ms, the faulting
 * thread asleep meanwhile; stopping the VM over it is the wiring's call
 * (the counter says it). destroy() stops the retries.
 *
 * Coldness (harvest): what this host offers for ept is KVM's dirty log (see
 * docs/machine-notes.md: no idle page tracking, no young bit in pagemap).
 * It sees writes only: a frame only read looks cold, is evicted, and shows
 * as a refault when read back. Watching a frame costs a write fault after
 * each clear, so a frame seen written is reported touched, without clearing
 * its bit, for EPT_RECLAIM_HOLD calls; only then is its bit cleared and
 * watched again. Without page sharing this backend enables dirty logging
 * (manual protection) on the slots at the first harvest. With page sharing
 * (ept_reclaim__share()) the log is sharing's too: this backend reads it
 * but clears a frame's bit only through ept_share__rearm(), which clears
 * only bits sharing has already seen, so both see every write. Without KVM
 * (vm_fd -1, the unit tests) harvest() returns -EOPNOTSUPP.
 *
 * Locking: er->lock (a leaf, after the p2m's and the sharing backend's):
 * the registration and the foreign bitmap. The pool threads take no lock
 * but what the fetch fn takes. harvest() runs on the reclaim thread only.
 */
#ifndef L1_MMU_EPT_RECLAIM_H
#define L1_MMU_EPT_RECLAIM_H

#include <stdint.h>

#include "mmu/ept/ept.h"
#include "reclaim/reclaim.h"

#define EPT_RECLAIM_MAX_THREADS 8
#define EPT_RECLAIM_HOLD 4 /* harvest calls a written frame is reported touched unwatched */

struct ept_reclaim;
struct ept_guest;

/* What the fetch pool calls for a missing frame: the wiring passes
 * reclaim_vm__fetch and the VM's struct reclaim_vm. */
typedef int (*ept_reclaim_fetch_fn)(void *fctx, uint64_t gfn, reclaim_install_fn install,
				    void *ictx, uint64_t since_ns);

/* Host reclaim for the ept guest memory mem (memslots already registered
 * with KVM VM vm_fd; -1: no KVM, harvest() unsupported). Starts `threads`
 * fetch threads (1..8). 0 or -errno with nothing left behind. */
int ept_reclaim__create(struct ept_reclaim **out, struct ept_mem *mem, int vm_fd,
			ept_reclaim_fetch_fn fetch, void *fctx, unsigned threads);
/* Stops the pool (after the VM's vCPUs have stopped), unregisters
 * userfaultfd, frees. Safe with faults pending: unregistering wakes every
 * sleeper, which then reads what the mapping holds (zero for an evicted
 * frame): only while the VM is going away. */
void ept_reclaim__destroy(struct ept_reclaim *er);

/* The guest is under page sharing (g, attached to the same mem and vm_fd):
 * harvest() shares its dirty log (see above). Before the first harvest. */
void ept_reclaim__share(struct ept_reclaim *er, struct ept_guest *g);

/* What every fetch thread runs first (the wiring's sandbox), or NULL.
 * Before the first ept_reclaim__create(). */
void ept_reclaim__set_thread_start(void (*fn)(void));

/* Give frame gfn, discarded (UNPOPULATED), a zeroed page now, as a fault on
 * it would (UFFDIO_COPY; its p2m state stays): for a frame its guest said it
 * reuses at once, so its next touch costs no fault through userfaultfd.
 * 0, or -errno (-EEXIST: it has a page; -ENOENT or -EINVAL: not registered
 * with userfaultfd yet, where a touch needs no help). */
int ept_reclaim__zero(struct ept_reclaim *er, uint64_t gfn);

/* The backend's operations; ctx is the struct ept_reclaim. */
extern const struct reclaim_backend ept_reclaim__ops;

struct ept_reclaim_stats {
	uint64_t missing_faults; /* MISSING messages served */
	uint64_t wp_faults;      /* WP messages served (writers woken) */
	uint64_t zero_fills;     /* missing frames that were not COMPRESSED: zero page */
	uint64_t fetched;        /* missing frames the fetch fn brought back */
	uint64_t fetch_errors;   /* fetch fn errors (retried with backoff) */
	uint64_t busy_ns;        /* fetch threads' time serving messages */
	uint64_t registrations;  /* anonymous mappings registered with userfaultfd */
	uint64_t fences;         /* runs write-protected */
	uint64_t fence_ns;       /* time in fence() */
	uint64_t foreign_frames; /* frames found outside the registered mappings */
	uint64_t harvest_clears; /* dirty-log bits cleared to watch a frame again */
};
void ept_reclaim__stats(struct ept_reclaim *er, struct ept_reclaim_stats *out);

#endif
