/* SPDX-License-Identifier: MIT */
/*
 * DOC: dedup, content-hash page sharing (the engine).
 *
 * The engine scans guest frames, hashes each with XXH3, finds equal pages
 * through a table of stored copies (stable) and a table of candidates
 * (unstable), compares the bytes before every share, and shares: one stored
 * copy, copy-on-write for every user. Zero pages need no copy. The algorithm
 * is written up at the top of dedup/dedup.c.
 *
 * The engine never touches host memory or KVM itself: a backend (mmu/ept,
 * mmu/shadow) implements struct dedup_backend. The engine owns the p2m
 * transitions it causes: PRIVATE -> SHARED / ZERO when it shares, and back to
 * PRIVATE when the backend records a copy-on-write break
 * (p2m__record_written(), which calls the engine as the p2m's client). The
 * p2m is the truth: every per-page statistic is derived from it.
 *
 * Locking: one mutex per engine (struct dedup's lock) serialises every
 * dedup__* call below, so a scanner thread may call dedup__scan() every
 * sleep_millisecs while backends record guest writes (p2m__record_written(),
 * which takes the engine lock as the p2m's client) and the control tree reads
 * statistics and sets knobs. Backend callbacks run with the engine
 * lock held: a callback must not call back into the engine. The lock is
 * taken before any backend lock (the engine lock -> the backend's own locks);
 * a backend must therefore not hold its locks while calling
 * p2m__record_written(). The engine moves the p2m states of the VMs added to it
 * under its lock (engine lock, then the p2m's) with p2m__client_move(): it is
 * the client of each VM's p2m (mmu/p2m.h), so another mechanism's move of
 * those frames (the balloon's p2m__move()) runs under the engine lock too, and
 * no scan sees a frame half-way.
 */
#ifndef L1_DEDUP_DEDUP_H
#define L1_DEDUP_DEDUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmu/numa.h"
#include "mmu/p2m.h"

#define DEDUP_PAGE_SIZE 4096u

/*
 * What the engine asks of a backend. "vm" is the caller's handle given to
 * dedup__add_vm(); "copy" is a handle the backend returned from copy_new.
 * Every callback runs with the engine lock held (see above).
 */
struct dedup_backend {
	/*
	 * The current content of (vm, gfn) as a host pointer to 4 KiB, or NULL
	 * when the frame is not populated or not RAM. For a shared frame this
	 * is the copy's data; for a zero frame, zeros. Valid until the next
	 * callback for the same vm.
	 */
	const void *(*page)(void *vm, uint64_t gfn);
	/*
	 * Optional: whether (vm, gfn) was written recently (shadow mode: write
	 * protection). Asked only for a frame about to be shared or to be
	 * shared with; such a page is volatile: not shared now. A page written
	 * once and quiet since is not volatile, whenever it was written: that
	 * is what lets one pass find it (KSM needs two). NULL: the engine's own
	 * test alone (the page's hash changed since its last visit).
	 */
	bool (*written)(void *vm, uint64_t gfn);
	/*
	 * A new stored copy of 4 KiB of content, its memory preferably on NUMA
	 * node (-1: no preference); NULL when out of memory.
	 */
	void *(*copy_new)(void *ctx, const void *content, int node);
	/* Free a copy no frame maps any more. */
	void (*copy_free)(void *ctx, void *copy);
	/* The copy's 4 KiB of data (read only). */
	const void *(*copy_data)(void *ctx, const void *copy);
	/*
	 * Map (vm, gfn) read-only, copy-on-write, onto copy. 0 or -errno;
	 * nothing changed on error. The engine has compared the bytes just
	 * before; closing the window between that compare and the mapping
	 * against a vCPU write is the backend's job (write-protect, re-check,
	 * map; -EAGAIN if the content changed).
	 */
	int (*share)(void *vm, uint64_t gfn, void *copy);
	/* Discard (vm, gfn) to the zero page. 0 or -errno; nothing changed on error. */
	int (*zero)(void *vm, uint64_t gfn);
	/*
	 * Optional, for another mechanism's move (the balloon's, through the
	 * p2m's client): frames [gfn, gfn + n) of vm are about to be
	 * discarded; give every one of them a page of its own, writable,
	 * content undefined (a SHARED or ZERO frame leaves its copy or the
	 * zero page). 0 or -errno; *done is set to the frames from gfn on that
	 * have their own page (n on success; the ones after are unchanged).
	 * NULL: such a move of a shared frame is refused (-EOPNOTSUPP).
	 */
	int (*unshare)(void *vm, uint64_t gfn, uint64_t n, uint64_t *done);
	/*
	 * Optional: frames [gfn, gfn + n) of vm are UNPOPULATED again (taken
	 * back from the balloon, or reported free): report their next first
	 * write as a populate.
	 */
	void (*unpopulated)(void *vm, uint64_t gfn, uint64_t n);
	/*
	 * Optional: the most frames one stored copy may have, whatever
	 * max_page_sharing says (shadow mode: KVM rebuilds every translation of
	 * a frame mapped too many times). 0: no bound of the backend's.
	 */
	uint32_t max_users;
	/*
	 * Optional: the content hash. NULL means XXH3_64bits with the engine's
	 * secret seed, which is what every backend uses; tests set it to force
	 * collisions.
	 */
	uint64_t (*hash)(const void *content);
	void *ctx; /* passed to the copy_* callbacks */
};

/*
 * Sharing domain: pages are shared only between VMs of the same domain.
 *
 * Why the default is one domain per VM: sharing across tenants is a timing
 * side channel. A tenant that guesses the content of another tenant's page
 * (a key, a library version, a file) writes the guess into a page of its
 * own, waits one scan interval for the engine to merge it, then times a
 * write to it. A write to a shared page is a copy-on-write break (a fault
 * into the host and a page copy, microseconds) while a write to a private
 * page is a plain store (nanoseconds): the time tells whether the other
 * tenant holds that exact page. Only VMs that trust each other (one tenant's
 * fleet of identical guests) should be put in one domain.
 */
#define DEDUP_DOMAIN_OWN UINT32_MAX /* a fresh domain of this VM alone (default) */

/*
 * Knobs, with KSM's names and meanings where they exist. Set through
 * dedup__knob_set(), which range-checks and refuses with -EBUSY when the
 * change would be unsafe now.
 */
enum dedup_knob {
	DEDUP_RUN,              /* 0 stop, 1 scan (KSM's 2, "unmerge all", is not offered) */
	DEDUP_PAGES_TO_SCAN,    /* gfns the scanner visits per wake-up */
	DEDUP_SLEEP_MILLISECS,  /* the scanner's sleep between wake-ups */
	DEDUP_MAX_PAGE_SHARING, /* most frames mapped onto one copy; -EBUSY while copies exist */
	DEDUP_USE_ZERO_PAGES,   /* 1: zero pages become P2M_ZERO; 0: shared like any content */
	DEDUP_MAX_META_BYTES,   /* cap on the engine's own tables, bytes */
	DEDUP_MERGE_ACROSS_NODES, /* 0: VMs of different home nodes never share; -EBUSY while copies exist */
	DEDUP_NR_KNOBS
};

struct dedup_knob_desc {
	const char *name;
	uint64_t min, max, def;
	const char *doc;
};

/* Global statistics (KSM's names and meanings where they exist). */
struct dedup_stats {
	uint64_t pages_shared;   /* stored copies in use */
	uint64_t pages_sharing;  /* frames mapped onto a copy, minus the copies: pages saved */
	uint64_t pages_unshared; /* candidates waiting in the unstable table */
	uint64_t pages_volatile; /* private frames found written at their last scan */
	uint64_t full_scans;     /* passes over every frame of every VM */
	uint64_t zero_pages;     /* frames in P2M_ZERO */
	uint64_t cow_breaks;     /* writes that unshared a shared or zero frame */
	int64_t general_profit;  /* (pages_sharing + zero_pages) * 4 KiB - meta_bytes */
	uint64_t scan_cpu_ms;    /* thread CPU time spent in dedup__scan() */
	uint64_t pages_scanned;  /* private pages examined by dedup__scan() */
	uint64_t meta_bytes;     /* the engine's own memory (tables, per-VM maps) */
	uint64_t meta_cap_hits;  /* candidates or copies not added: max_meta_bytes reached */
	uint64_t hash_collisions; /* equal hash, different bytes: not shared */
	uint64_t backend_errors; /* copy_new, share or zero failed: frame left private */
};

/* One VM's view, from its p2m. */
struct dedup_vm_stats {
	uint64_t domain;         /* the id given, or >= 2^32 for a domain of its own */
	uint64_t pages_shared;   /* frames in P2M_SHARED */
	uint64_t pages_private;  /* frames in P2M_PRIVATE */
	uint64_t pages_zero;     /* frames in P2M_ZERO */
	uint64_t pages_volatile; /* private frames found written at their last scan */
	uint64_t meta_bytes;     /* this VM's share of the engine's memory */
};

struct dedup;

/*
 * A new engine over backend (copied; its callbacks must stay valid), knobs
 * at their defaults (run = 0). NULL when out of memory.
 */
struct dedup *dedup__create(const struct dedup_backend *backend);
/* Free every copy (through the backend) and the engine. Remove VMs first. */
void dedup__destroy(struct dedup *e);

/*
 * Start scanning vm (the backend's handle, unique per engine) whose frames
 * p2m describes. domain: a sharing domain id below DEDUP_DOMAIN_OWN, or
 * DEDUP_DOMAIN_OWN for a fresh domain of its own. The per-gfn map is
 * allocated here and counted in meta_bytes, but never refused by the cap (a
 * VM must be removable exactly). 0, -EEXIST (vm already added), -EINVAL, or
 * -ENOMEM.
 */
int dedup__add_vm(struct dedup *e, void *vm, const char *name, uint32_t domain,
		  struct p2m *p2m);

/*
 * Stop scanning vm and drop its frames from the copies they map (a copy
 * left without users is freed). Call it once the VM's vCPUs have stopped
 * and before its memory goes: its p2m is left as it is, so frames that said
 * SHARED may map copies that are now freed and the VM must not run again.
 * 0 or -ENOENT.
 */
int dedup__remove_vm(struct dedup *e, void *vm);

/*
 * Move vm to another sharing domain (DEDUP_DOMAIN_OWN: a fresh one).
 * -EBUSY while any of its frames is shared; -ENOENT; -EINVAL.
 */
int dedup__set_domain(struct dedup *e, void *vm, uint32_t domain);
/*
 * vm's home NUMA node (-1: none, the default). With merge_across_nodes 0 its
 * frames share only with frames of VMs of the same home node; a stored copy
 * is placed on the node nearest its first users (numa__place()). 0,
 * -ENOENT, or -EBUSY while vm has shared frames (nothing changed).
 */
int dedup__set_node(struct dedup *e, void *vm, int node);
/* The NUMA topology copies are placed on (default: numa__host()); tests give
 * a made-up one. t must outlive the engine. */
void dedup__set_topology(struct dedup *e, const struct numa_topology *t);

/*
 * Examine up to max_pages private pages, round robin over VMs and their gfns,
 * resuming where the last call stopped; gfns that are not private (nothing
 * to examine) are skipped without counting, at most one pass of them per
 * call. The unit of work of a scanner thread that wakes every
 * sleep_millisecs and passes pages_to_scan (KSM likewise counts only present
 * pages). Returns the pages examined (0 when run is 0 or there are no VMs).
 * Never fails a guest: a backend error or the metadata cap leaves frames
 * private and is counted.
 */
uint64_t dedup__scan(struct dedup *e, uint64_t max_pages);


/* The knob's description (name, range, default, doc); NULL when out of range. */
const struct dedup_knob_desc *dedup__knob_desc(enum dedup_knob knob);
/* 0, -EINVAL (no such knob or value out of range) or -EBUSY (not now). */
int dedup__knob_set(struct dedup *e, enum dedup_knob knob, uint64_t value);
/* The knob's value; 0 for no such knob. */
uint64_t dedup__knob_get(struct dedup *e, enum dedup_knob knob);

/* Count ns of CPU time spent for the engine outside dedup__scan() (a
 * backend's sync, a dirty-log harvest) in scan_cpu_ms. */
void dedup__add_scan_cpu(struct dedup *e, uint64_t ns);

void dedup__stats(struct dedup *e, struct dedup_stats *out);
/* 0 or -ENOENT. */
int dedup__vm_stats(struct dedup *e, void *vm, struct dedup_vm_stats *out);

/* One row of the statistics table: name, doc, and where it lives. */
struct dedup_stat_desc {
	const char *name;
	const char *doc;
	size_t offset; /* of a uint64_t or int64_t in struct dedup_stats */
	bool is_signed;
};
extern const struct dedup_stat_desc dedup__stat_table[];
extern const size_t dedup__stat_table_len;

/*
 * Cross-check every invariant against the p2m (each SHARED frame maps one
 * live copy, users sum up, no copy without users, no copy map entry for a
 * non-SHARED frame). 0, or -EUCLEAN with a line on stderr naming the first
 * broken invariant. O(frames); for tests and debug builds.
 */
int dedup__check(struct dedup *e);

#endif
