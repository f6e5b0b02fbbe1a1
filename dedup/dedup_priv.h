/* SPDX-License-Identifier: MIT */
/*
 * The engine's internals, shared by dedup.c (the algorithm), tables.c (copies,
 * the stable and unstable tables, metadata accounting) and knobs.c (knobs and
 * statistics). Everything here is protected by struct dedup's lock.
 */
#ifndef L1_DEDUP_DEDUP_PRIV_H
#define L1_DEDUP_DEDUP_PRIV_H

#include <pthread.h>

#include "dedup/dedup.h"

#define NO_COPY UINT32_MAX

/*
 * A stored copy. Valid while handle != NULL; then users >= 1 except inside
 * the one call that created it.
 */
struct dedup_copy {
	void *handle;    /* the backend's copy; NULL: the slot is free */
	uint64_t hash;   /* of the content it was made from (never written since) */
	uint64_t domain; /* only frames of this domain map it */
	uint32_t users;  /* frames in P2M_SHARED whose copy_of names this copy */
	uint32_t next;   /* live: next copy in the hash bucket; free: next free slot (index + 1, 0 = end) */
};

/*
 * One slot of the unstable table, keyed by (hash, domain). A used slot keeps
 * its key while its candidate goes away (vm = NULL: merged, or its VM
 * removed) so that linear probing never needs deletion; the slot is reused
 * for the same key. The table is emptied at every full scan.
 */
struct dedup_cand {
	uint64_t hash;
	uint64_t domain;
	struct dedup_vm *vm; /* NULL: no candidate */
	uint64_t gfn;
	bool used;
};

/* A VM the engine scans. */
struct dedup_vm {
	void *handle;          /* the backend's vm */
	char name[32];         /* for messages only */
	uint64_t domain_id;    /* < 2^32: given by the caller; above: its own */
	int node;              /* its home NUMA node, -1: none (dedup__set_node) */
	/* the sharing key: domain_id, and with merge_across_nodes 0 the home
	 * node too (sharing_key()); frames share only with frames of one key */
	uint64_t domain;
	struct p2m *p2m;       /* the caller's; the engine is its client (p2m__set_client) */
	struct dedup *engine;  /* the engine this VM belongs to */
	uint32_t *copy_of;     /* per gfn: copy index + 1 while P2M_SHARED, else 0 */
	uint64_t *volatile_map; /* per gfn: found written at its last scan */
	uint64_t nr_volatile;  /* bits set in volatile_map */
	uint8_t *unique_streak; /* per gfn: visits in a row that found no twin (backoff) */
	uint32_t *seen_hash;   /* per gfn: 32 bits of its hash at its last visit, | 1; 0: never */
	size_t meta_bytes;     /* this struct and its maps */
};

struct dedup {
	struct l1_lock lock;   /* protects everything below; rank L1_RANK_DEDUP_ENGINE:
				* before the p2m's and any backend lock */
	struct dedup_backend be;
	uint64_t knob[DEDUP_NR_KNOBS];
	uint64_t hash_seed;    /* secret XXH3 seed, fixed for the engine's life */
	uint64_t zero_hash;    /* hash of the zero page under this engine's hash */
	uint64_t next_own_domain; /* next fresh domain id, from 2^32 up */
	const struct numa_topology *topo; /* where copies go (numa__place); NULL: anywhere */

	struct dedup_vm **vms;
	size_t nr_vms, vms_cap;
	size_t cursor_vm;      /* the scan resumes at (vms[cursor_vm], cursor_gfn) */
	uint64_t cursor_gfn;

	struct dedup_copy *copies;
	uint32_t copies_cap, nr_copies, free_copies; /* free_copies: first free slot + 1 */
	uint32_t *buckets;     /* stable table: hash -> first copy (index + 1) */
	uint32_t nr_buckets;   /* a power of two */

	struct dedup_cand *cands;
	size_t cands_cap;      /* a power of two */
	size_t cands_used;     /* slots with a key; kept <= cands_cap / 2 */
	size_t nr_cands;       /* slots with a candidate: pages_unshared */

	size_t meta_bytes;     /* every allocation the engine made for itself */
	uint64_t full_scans, cow_breaks, pages_scanned, meta_cap_hits;
	uint64_t hash_collisions, backend_errors, scan_cpu_ns;
};

/* Metadata accounting (tables.c): every engine allocation goes through these. */
void *meta_calloc(struct dedup *e, size_t n, size_t size);
void meta_free(struct dedup *e, void *p, size_t bytes);
/* Whether growing by more bytes stays within max_meta_bytes. */
bool meta_room(const struct dedup *e, size_t more);

/* The initial tables; 0 or -ENOMEM. */
int tables_init(struct dedup *e);
void tables_destroy(struct dedup *e);

/*
 * Make sure copy_insert() will not need memory: false (counted as a cap hit)
 * when the copy array would have to grow beyond max_meta_bytes or cannot grow.
 */
bool copy_reserve(struct dedup *e);
/* Register a backend copy with no users yet; its index. After copy_reserve(). */
uint32_t copy_insert(struct dedup *e, void *handle, uint64_t hash, uint64_t domain);
/* Every VM's sharing key again, after merge_across_nodes changed (lock held). */
void rekey_vms(struct dedup *e);
/* First / next live copy with this hash; NO_COPY at the end. */
uint32_t copy_first(const struct dedup *e, uint64_t hash);
uint32_t copy_next(const struct dedup *e, uint32_t idx);
/* Drop one user (if any); a copy left without users is freed through the backend. */
void copy_put(struct dedup *e, uint32_t idx);

/* The slot with key (hash, domain), or NULL. */
struct dedup_cand *cand_find(struct dedup *e, uint64_t hash, uint64_t domain);
/*
 * The slot with key (hash, domain), claiming a free one (growing the table
 * within max_meta_bytes) if there is none; NULL at the cap.
 */
struct dedup_cand *cand_claim(struct dedup *e, uint64_t hash, uint64_t domain);
/* Forget every candidate of vm (it is being removed). */
void cand_forget_vm(struct dedup *e, const struct dedup_vm *vm);
/* Empty the unstable table (each full scan); shrink it if over the cap. */
void cand_reset(struct dedup *e);

#endif
