/* SPDX-License-Identifier: MIT */
/*
 * DOC: host reclaim, one VM's part: evicting cold frames to the store and
 * fetching them back on access.
 *
 * Host reclaim is the last resort of an overcommitted host, after page
 * sharing and the balloon (docs/design.md, "Reclaim"). A VM's frames move,
 * through the p2m (mmu/p2m.h), the only door:
 *
 *   evict   PRIVATE -> IN_FLIGHT    the backend fences guest writes off the
 *                                   run (fence(), the move's host side)
 *           the page's bytes go to the store (reclaim/store.h), outside any
 *           lock but the store's own
 *           IN_FLIGHT -> COMPRESSED the backend releases the host pages
 *                                   (discard()); the next access to any of
 *                                   them, by the guest or by the host, ends
 *                                   in reclaim_vm__fetch()
 *           or, when the store refused (full, file full, error):
 *           IN_FLIGHT -> PRIVATE    unfence(): the page stayed, resident;
 *                                   the error is counted and said once
 *   fetch   COMPRESSED -> IN_FLIGHT the stored bytes are read back
 *           IN_FLIGHT -> PRIVATE    install() puts them in a new page (the
 *                                   move's host side); the stored copy goes
 *
 * A page's bytes are never lost: they leave the host page only once the
 * store holds them, and leave the store only once install() has put them
 * back, or once the guest gave the frame away (balloon, free page report:
 * the p2m's store hook drops them, never fetched). A fetch that cannot read
 * the store returns the error and keeps the stored copy; the frame stays
 * COMPRESSED and the caller tries again or stops the VM, never zero-fills.
 *
 * Prefetch: frames are evicted in runs; a fetch also brings back up to
 * `prefetch` frames of the same eviction batch that follow it (what was cold
 * together tends to be read together), each through the same install().
 *
 * Coldness: the reclaim thread calls reclaim_vm__age() once per scan
 * interval; it asks the backend which frames the guest touched since the
 * last time (harvest()) and keeps an age per frame (intervals since the last
 * touch, saturating). Victims are frames that are PRIVATE, evictable() by
 * the backend, and at least cold_age intervals old, taken by a clock hand
 * that goes round the VM's frames. Frames shared, zero, ballooned or in
 * flight are never victims (their p2m state says so); a VM at its floor
 * gives nothing.
 *
 * Locking: r->lock (a leaf: held for the per-frame arrays and counters, never
 * across a p2m move, a backend call or a store call). The reclaim thread
 * alone ages and evicts; fetches run on any thread (ept's fetch pool, shadow
 * vCPUs, host threads touching guest memory). The p2m serialises them: a
 * fetch and an eviction of one frame never overlap, since each holds the
 * frame IN_FLIGHT.
 */
#ifndef L1_RECLAIM_RECLAIM_H
#define L1_RECLAIM_RECLAIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmu/p2m.h"
#include "reclaim/store.h"

/*
 * What a mode's backend does for host reclaim (ept: mmu/ept/reclaim.c,
 * shadow: mmu/shadow/reclaim.c). Every call may run concurrently with the
 * guest's vCPUs. fence/unfence/discard are p2m moves' host sides: they run
 * under the VM's p2m lock and may take the backend's own locks (which rank
 * after it, docs/locking.md), never a mechanism's.
 */
struct reclaim_backend {
	/*
	 * Set bit (g - gfn) of accessed[] for every frame g of [gfn, gfn + n)
	 * the guest touched since the previous call that covered g, and watch
	 * again. A backend may call a frame touched without watching it (what
	 * watching costs: ept's write faults) for a bounded number of calls
	 * after it last saw it touched. Reclaim thread, no lock held. 0 or
	 * -errno (then no frame counts as touched or untouched: ages stay).
	 */
	int (*harvest)(void *ctx, uint64_t gfn, uint64_t n, uint64_t *accessed);
	/* Whether PRIVATE frame gfn may be evicted, by what only the backend
	 * knows (shadow: not a page table, not pinned; ept: backed by guest
	 * RAM's own anonymous mapping). A hint: fence() decides. */
	bool (*evictable)(void *ctx, uint64_t gfn);
	/* Host side of PRIVATE -> IN_FLIGHT for [gfn, gfn + n): from its
	 * return until unfence() or discard(), no write reaches the frames'
	 * pages (a guest write waits); page() still reads them. 0 or -errno
	 * (nothing fenced: e.g. -EBUSY, a frame became a page table). */
	int (*fence)(void *ctx, uint64_t gfn, uint64_t n);
	/* Host side of IN_FLIGHT -> PRIVATE, an eviction given up: the pages
	 * are writable again and waiting writers go on. Must not fail. */
	void (*unfence)(void *ctx, uint64_t gfn, uint64_t n);
	/* Host side of IN_FLIGHT -> COMPRESSED: release the frames' host
	 * pages; afterwards any access to them ends in reclaim_vm__fetch()
	 * (through the fetcher the wiring registered with the backend), and
	 * waiting writers go on into it. 0 or -errno (nothing released: the
	 * eviction is given up). */
	int (*discard)(void *ctx, uint64_t gfn, uint64_t n);
	/* The host address of frame gfn's own page (readable while fenced). */
	const void *(*page)(void *ctx, uint64_t gfn);
};

/*
 * How a backend puts fetched bytes back: copy the 4 KiB at bytes into frame
 * gfn's page and make it present for the guest (ept: UFFDIO_COPY, which also
 * wakes the waiting threads; shadow: a copy into the frame's own machine
 * page, under the guest's lock). Runs as the host side of IN_FLIGHT ->
 * PRIVATE (p2m lock held). 0, or -errno (the frame stays COMPRESSED).
 * -EEXIST (the page is already there) counts as done.
 */
typedef int (*reclaim_install_fn)(void *ctx, uint64_t gfn, const void *bytes);

/*
 * Who hears that a frame entered or left the store (the double-paging
 * protocol's bitmap, l1vmm/dp_host.h). stored(ctx, gfn, true) runs inside
 * the move IN_FLIGHT -> COMPRESSED, stored(ctx, gfn, false) inside the
 * moves out of COMPRESSED for good (a fetch's install, a drop), both under
 * the p2m lock, so the bits follow the p2m exactly. It must not block or
 * take a lock a mover may hold (an atomic bit operation).
 */
struct reclaim_watch {
	void (*stored)(void *ctx, uint64_t gfn, bool in_store);
	void *ctx;
};

/* Per VM counters; read with reclaim_vm__stats(). */
struct reclaim_vm_stats {
	uint64_t evictions;      /* frames moved to the store */
	uint64_t evict_runs;     /* fence/discard calls (one per run) */
	uint64_t fetches;        /* frames brought back on an access */
	uint64_t prefetches;     /* frames brought back ahead of an access */
	uint64_t refaults;       /* fetches within refault_ms of the frame's eviction */
	uint64_t dropped;        /* stored frames the guest gave away (never fetched) */
	uint64_t store_refusals; /* evictions the store refused (full, file, codec): the page stayed */
	uint64_t fence_refusals; /* runs the backend would not fence */
	uint64_t fetch_errors;   /* fetches that could not read the store (retried) */
	uint64_t compressed;     /* frames COMPRESSED now (the p2m's count) */
	uint64_t double_paging;  /* fetches the guest's own paging caused (a device access
				  * to a COMPRESSED frame; reclaim_vm__note_double_paging) */
	uint64_t stored_reads;   /* pages read straight from the store, never fetched
				  * (reclaim_vm__read_stored: a disk write of a stored frame) */
	uint64_t fetch_ns_p50;   /* fetch latency (access to install), median of the last 1024 */
	uint64_t fetch_ns_p99;
};

#define RECLAIM_LAT_WINDOW 1024u

struct reclaim_vm {
	pthread_mutex_t lock;      /* leaf: the arrays and counters below */
	struct p2m *p2m;           /* the VM's; fixed */
	struct rstore *store;      /* the host's store; fixed */
	const struct reclaim_backend *be; /* fixed */
	void *be_ctx;
	uint64_t nr_frames;        /* fixed */
	rstore_handle *handle;     /* gfn -> stored copy; valid while COMPRESSED or a fetch is in flight */
	uint32_t *batch;           /* gfn -> the eviction batch it went out in (0: none) */
	uint64_t *evicted_ns;      /* gfn -> CLOCK_MONOTONIC of its eviction (for refaults) */
	uint8_t *age;              /* gfn -> scan intervals since last touched (written by the
				    * reclaim thread, zeroed by fetches; atomic bytes) */
	uint64_t *accessed;        /* harvest()'s bitmap for one chunk (reclaim thread only) */
	uint64_t hand;             /* the clock hand: next gfn to consider (reclaim thread only) */
	uint32_t next_batch;       /* reclaim thread only */
	unsigned prefetch;         /* frames fetched ahead (0..64), atomic */
	uint64_t refault_ns;       /* a fetch sooner than this after eviction is a refault, atomic */
	uint64_t lat[RECLAIM_LAT_WINDOW]; /* fetch latencies, ring (lock) */
	uint64_t nr_lat;           /* latencies recorded (lock) */
	struct reclaim_vm_stats c; /* counters (lock) */
	bool said_store_error;     /* the one line about a store refusal was printed (lock) */
	struct reclaim_watch watch; /* under the p2m lock (reclaim_vm__set_watch) */
	uint64_t pin_gfn, pin_n;   /* frames never evicted (reclaim_vm__set_pinned), atomic */
};

/* Set up r for a VM whose frames the p2m p2m holds, with the host's store and
 * the backend be (ctx). Registers the p2m's store hook. 0 or -errno. */
int reclaim_vm__init(struct reclaim_vm *r, struct p2m *p2m, struct rstore *store,
		     const struct reclaim_backend *be, void *ctx);
/* Drop every stored copy of the VM (it is going away: its vCPUs have
 * stopped), unregister the hook, free r's memory. */
void reclaim_vm__destroy(struct reclaim_vm *r);

/* Age the VM's frames once (one scan interval): harvest(), then every
 * frame touched gets age 0, the others one more. 0 or -errno. */
int reclaim_vm__age(struct reclaim_vm *r);

/*
 * Evict up to max frames of age >= cold_age, from the clock hand on, in
 * runs of consecutive victims (at most 64 frames a run), skipping frames
 * below floor_frames of resident memory (the VM keeps at least that many
 * frames that are not COMPRESSED). Returns the frames evicted (0: none
 * cold enough, or the store refused), never an error: refusals are counted.
 */
uint64_t reclaim_vm__evict(struct reclaim_vm *r, uint64_t max, unsigned cold_age,
			   uint64_t floor_frames);

/*
 * Evict frames [gfn, gfn + n) now, whatever their age (tests, and the
 * eviction above): each must be PRIVATE and evictable, else nothing
 * happens. The frames evicted (n or 0), or -errno (-EPERM: a frame in
 * another state; -ENOSPC/-E2BIG/-EIO/-EPROTO: the store refused; -EBUSY:
 * the backend would not fence).
 */
int64_t reclaim_vm__evict_run(struct reclaim_vm *r, uint64_t gfn, uint64_t n);

/*
 * Bring frame gfn back (an access reached it), and its batch's next
 * `prefetch` frames. 1: fetched; 0: gfn was not COMPRESSED (another thread
 * fetched it, or it never was: the caller gives the frame what its state
 * says); -errno: the store could not give it back (the frame stays
 * COMPRESSED; counted). since_ns: CLOCK_MONOTONIC when the access was
 * noticed (for the latency figures; 0: now).
 */
int reclaim_vm__fetch(struct reclaim_vm *r, uint64_t gfn, reclaim_install_fn install, void *ctx,
		      uint64_t since_ns);

/*
 * Copy the stored bytes of COMPRESSED frame gfn into page (4 KiB) without
 * bringing the frame back: it is held IN_FLIGHT meanwhile (movers wait) and
 * stays COMPRESSED, its stored copy too. For a disk write of a frame the
 * host holds (no double paging: the bytes go from the store to the disk).
 * 1: copied; 0: gfn is not COMPRESSED (the caller reads the frame as usual);
 * -errno: the store could not read it (counted as a fetch error).
 */
int reclaim_vm__read_stored(struct reclaim_vm *r, uint64_t gfn, void *page);

/* n fetches were caused by the guest's own paging (counted in double_paging). */
void reclaim_vm__note_double_paging(struct reclaim_vm *r, uint64_t n);

/* Register w (copied), or none with NULL. Frames COMPRESSED at the time are
 * told (stored(.., true)) before the call returns. */
void reclaim_vm__set_watch(struct reclaim_vm *r, const struct reclaim_watch *w);

/* Frames [gfn, gfn + n) are never evicted from now on (n 0: none): pages
 * the host writes behind the guest (the bitmap of the protocol). Frames of
 * the range already in the store stay there until accessed. */
void reclaim_vm__set_pinned(struct reclaim_vm *r, uint64_t gfn, uint64_t n);

void reclaim_vm__stats(struct reclaim_vm *r, struct reclaim_vm_stats *out);

/* l1vmm's own memory for r (its per-frame arrays): part of the overhead. */
uint64_t reclaim_vm__bytes(const struct reclaim_vm *r);

#endif
