/* SPDX-License-Identifier: MIT */
/*
 * DOC: the dedup engine's algorithm.
 *
 * States of a frame, as the p2m says them:
 *   PRIVATE  the guest's own page: a scan may share it or zero it;
 *   SHARED   mapped read-only onto a stored copy (copy_of[gfn] names it);
 *   ZERO     discarded to the zero page, no copy;
 *   other    not the engine's business (unpopulated, ballooned, ...): skipped.
 * Only the engine moves a frame into SHARED or ZERO; it goes back to PRIVATE
 * when the backend records a write (p2m__record_written, which calls the
 * engine's client_broken) or when another mechanism's move has the engine
 * release it (client_release).
 *
 * Two tables, as KSM's two trees:
 *   stable    hash -> stored copies (chained: several copies may have one
 *             hash, from collisions, domains, or max_page_sharing);
 *   unstable  (hash, domain) -> one earlier candidate (vm, gfn), a private
 *             page seen once; emptied at every full scan, because its
 *             entries go stale as guests write.
 *
 * dedup__scan() visits gfns round robin (every gfn of the first VM, then the
 * next VM, ...); passing the end of the last VM completes a full scan. For
 * each gfn in state PRIVATE with content (backend page() != NULL):
 *  1. h = XXH3_64bits_withSeed(content, seed): a secret seed per engine, so
 *     a guest cannot aim collisions at one bucket (see random_seed()).
 *  2. Volatile? Its content changed since its last visit (32 bits of h are
 *     kept per frame), or, for a frame with a twin (step 3, 4 or 5 would
 *     share it), the backend saw it written lately (backend written(),
 *     optional). Then it is counted, skipped, and is nobody's candidate. A
 *     frame seen for the first time is not volatile: a page written once and
 *     quiet since is shared at its first visit (KSM checksums it at two).
 *     written() is asked only for frames about to be shared, so a backend
 *     that tracks writes by protecting frames re-arms only those, and the
 *     guest's writes to its other pages never trap; ept passes NULL (the
 *     hash alone), shadow tracks.
 *  3. Zero page (h equals the zero page's hash and every byte is 0) and
 *     use_zero_pages: backend zero() -> ZERO. Without use_zero_pages a zero
 *     page is ordinary content (KSM's meaning of the knob).
 *  4. Stable: a copy with hash h, of the same domain, with fewer than
 *     max_page_sharing users, whose bytes equal ours -> backend share() ->
 *     SHARED, one more user.
 *  5. Unstable: the candidate under (h, domain), if it is another frame,
 *     still PRIVATE, not written since (asking clears its written state; a
 *     written candidate is marked volatile) and byte-equal to ours (a
 *     candidate that changed since fails here) ->
 *     backend copy_new() from our content, share() both -> SHARED, and the
 *     candidate slot is emptied. Otherwise we become the candidate.
 * Bytes are compared before every share: an equal hash is only a hint.
 * The unstable table holds one candidate per (hash, domain), so when two
 * different pages collide they displace each other and equal twins may need
 * more passes to meet; with a 64-bit seeded hash that is rare, and costs
 * sharing, never correctness.
 *
 * Exactness: copy_of[gfn] != 0 exactly when the p2m says SHARED, and a
 * copy's users is the number of frames naming it. client_broken(),
 * client_release() and dedup__remove_vm() walk from the frame to its copy, so unsharing never
 * searches and never guesses; a copy is freed when its last user goes.
 * Statistics about frames are read from the p2m counters, not kept apart.
 * dedup__check() verifies all of this.
 *
 * Memory: every table and per-VM map is counted in meta_bytes (tables.c).
 * Growth for a new candidate or copy stops at max_meta_bytes; joining an
 * existing copy or zeroing needs no metadata and goes on. The per-VM maps
 * are allocated whole at dedup__add_vm() so that removal stays exact.
 *
 * Locking: one mutex per engine, held by every public call (dedup.h); a scan
 * lets go of it every SCAN_LOCK_BATCH gfns, between two frames, where every
 * invariant above holds.
 *
 * Failures never fail a guest: a backend error (no memory for a copy, a
 * share that raced with a write) or the metadata cap leaves the frame
 * PRIVATE, and is counted (backend_errors, meta_cap_hits).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <xxhash.h>

#include "dedup/dedup_priv.h"
#include "mmu/clock.h"

/*
 * Backoff for pages without a twin (as KSM's smart_scan): after BACKOFF_FROM
 * visits in a row that found none, a page is examined every 2nd pass, then
 * every 4th, ... up to every 2^BACKOFF_MAX_SHIFT-th. Asking the backend
 * whether a page was written costs it write tracking (a write fault for the
 * guest, on this host ~100 µs), so a converged host should not ask about
 * the same unique pages at every pass. A write that unshares, a share or a
 * zero resets it; so does a page found written when it is examined. A page
 * in backoff is not looked at between its passes, written or not: a unique
 * page that becomes a duplicate is found within 64 passes at worst.
 */
#define BACKOFF_FROM 2
#define BACKOFF_MAX_SHIFT 6

/*
 * dedup__scan() lets go of the lock after this many gfns, so a backend
 * recording writes (p2m__record_written) is not held up for a whole pages_to_scan batch (a
 * mutex is not fair: this bounds the common case, not the worst).
 */
#define SCAN_LOCK_BATCH 64u

static const uint8_t zero_page[DEDUP_PAGE_SIZE];

static uint64_t page_hash(const struct dedup *e, const void *content)
{
	if (e->be.hash)
		return e->be.hash(content);
	return XXH3_64bits_withSeed(content, DEDUP_PAGE_SIZE, e->hash_seed);
}

/*
 * XXH3 is not collision resistant: a guest that could predict the hash could
 * fill one bucket with colliding pages, making every lookup there a chain of
 * memcmp()s and keeping its domain's equal pages from meeting in the unstable
 * table. A secret per-engine seed makes the buckets unpredictable. A failed
 * getrandom() only weakens that hardening, so the clock stands in.
 */
static uint64_t random_seed(void)
{
	uint64_t seed;
	if (getrandom(&seed, sizeof(seed), 0) == (ssize_t)sizeof(seed))
		return seed;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec;
}

static bool is_zero_page(const void *content)
{
	return memcmp(content, zero_page, DEDUP_PAGE_SIZE) == 0;
}

/* macros, so a lock-order report names the caller's line */
#define lock(e) l1_lock__acquire(&(e)->lock)
#define unlock(e) l1_lock__release(&(e)->lock)

static struct dedup_vm *find_vm(const struct dedup *e, const void *handle, size_t *index)
{
	for (size_t i = 0; i < e->nr_vms; i++) {
		if (e->vms[i]->handle == handle) {
			if (index)
				*index = i;
			return e->vms[i];
		}
	}
	return NULL;
}

static uint64_t resolve_domain(struct dedup *e, uint32_t domain)
{
	return domain == DEDUP_DOMAIN_OWN ? e->next_own_domain++ : domain;
}

/*
 * v's sharing key (engine lock held). With merge_across_nodes 0 the home
 * node goes into bits 56 and up: domain ids stay far below 2^56 (own ones
 * count up from 2^32), so VMs of one domain on different nodes never meet.
 */
static void set_key(struct dedup *e, struct dedup_vm *v)
{
	v->domain = v->domain_id;
	if (!e->knob[DEDUP_MERGE_ACROSS_NODES])
		v->domain |= (uint64_t)(v->node + 1) << 56;
}

void rekey_vms(struct dedup *e)
{
	for (size_t i = 0; i < e->nr_vms; i++)
		set_key(e, e->vms[i]);
}

static void set_volatile(struct dedup_vm *v, uint64_t gfn, bool on)
{
	uint64_t bit = 1ull << (gfn % 64);
	uint64_t *word = &v->volatile_map[gfn / 64];
	if (on == !!(*word & bit))
		return;
	*word ^= bit;
	if (on)
		v->nr_volatile++;
	else
		v->nr_volatile--;
}

struct dedup *dedup__create(const struct dedup_backend *backend)
{
	if (!backend || !backend->page || !backend->copy_new ||
	    !backend->copy_free || !backend->copy_data || !backend->share || !backend->zero)
		return NULL;
	struct dedup *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->meta_bytes = sizeof(*e);
	e->be = *backend;
	for (int k = 0; k < DEDUP_NR_KNOBS; k++)
		e->knob[k] = dedup__knob_desc((enum dedup_knob)k)->def;
	e->hash_seed = random_seed();
	e->zero_hash = page_hash(e, zero_page);
	e->next_own_domain = 1ull << 32;
	e->topo = numa__host();
	l1_lock__init(&e->lock, L1_RANK_DEDUP_ENGINE, "dedup engine");
	if (tables_init(e) != 0) {
		dedup__destroy(e);
		return NULL;
	}
	return e;
}

void dedup__destroy(struct dedup *e)
{
	if (!e)
		return;
	while (e->nr_vms)
		dedup__remove_vm(e, e->vms[e->nr_vms - 1]->handle);
	tables_destroy(e);
	meta_free(e, e->vms, e->vms_cap * sizeof(*e->vms));
	l1_lock__destroy(&e->lock);
	free(e);
}

static void vm_free(struct dedup *e, struct dedup_vm *v)
{
	uint64_t n = v->p2m->nr_frames;
	meta_free(e, v->copy_of, n * sizeof(*v->copy_of));
	meta_free(e, v->volatile_map, (n + 63) / 64 * sizeof(*v->volatile_map));
	meta_free(e, v->unique_streak, n);
	meta_free(e, v->seen_hash, n * sizeof(*v->seen_hash));
	meta_free(e, v, sizeof(*v));
}

static int client_release(void *ctx, uint64_t gfn, uint64_t n);
static void client_moved(void *ctx, uint64_t gfn, uint64_t n, enum p2m_state to);
static void client_broken(void *ctx, uint64_t gfn, enum p2m_state from);

int dedup__add_vm(struct dedup *e, void *vm, const char *name, uint32_t domain,
		  struct p2m *p2m)
{
	if (!vm || !p2m || p2m->nr_frames == 0 || p2m->nr_frames > SIZE_MAX / sizeof(uint32_t))
		return -EINVAL;
	lock(e);
	int rc = -EEXIST;
	if (find_vm(e, vm, NULL))
		goto out;
	rc = -ENOMEM;
	if (e->nr_vms == e->vms_cap) {
		size_t cap = e->vms_cap ? e->vms_cap * 2 : 4;
		struct dedup_vm **vms = meta_calloc(e, cap, sizeof(*vms));
		if (!vms)
			goto out;
		if (e->nr_vms)
			memcpy(vms, e->vms, e->nr_vms * sizeof(*vms));
		meta_free(e, e->vms, e->vms_cap * sizeof(*e->vms));
		e->vms = vms;
		e->vms_cap = cap;
	}
	size_t before = e->meta_bytes;
	struct dedup_vm *v = meta_calloc(e, 1, sizeof(*v));
	if (!v)
		goto out;
	*v = (struct dedup_vm){ .handle = vm, .p2m = p2m, .engine = e, .node = -1 };
	v->copy_of = meta_calloc(e, p2m->nr_frames, sizeof(*v->copy_of));
	v->volatile_map = meta_calloc(e, (p2m->nr_frames + 63) / 64, sizeof(*v->volatile_map));
	v->unique_streak = meta_calloc(e, p2m->nr_frames, 1);
	v->seen_hash = meta_calloc(e, p2m->nr_frames, sizeof(*v->seen_hash));
	if (!v->copy_of || !v->volatile_map || !v->unique_streak || !v->seen_hash) {
		vm_free(e, v);
		goto out;
	}
	snprintf(v->name, sizeof(v->name), "%s", name ? name : "?");
	v->domain_id = resolve_domain(e, domain);
	set_key(e, v);
	v->meta_bytes = e->meta_bytes - before;
	e->vms[e->nr_vms++] = v;
	p2m__set_client(p2m, &(struct p2m_client){ .lock = &e->lock, .release = client_release,
						   .moved = client_moved, .broken = client_broken,
						   .ctx = v });
	rc = 0;
out:
	unlock(e);
	return rc;
}

int dedup__remove_vm(struct dedup *e, void *vm)
{
	lock(e);
	size_t i;
	struct dedup_vm *v = find_vm(e, vm, &i);
	if (!v) {
		unlock(e);
		return -ENOENT;
	}
	p2m__set_client(v->p2m, NULL);
	for (uint64_t gfn = 0; gfn < v->p2m->nr_frames; gfn++)
		if (v->copy_of[gfn])
			copy_put(e, v->copy_of[gfn] - 1);
	cand_forget_vm(e, v);
	memmove(&e->vms[i], &e->vms[i + 1], (e->nr_vms - i - 1) * sizeof(*e->vms));
	e->nr_vms--;
	/* The scan goes on with the VM that followed the removed one. */
	if (e->cursor_vm > i) {
		e->cursor_vm--;
	} else if (e->cursor_vm == i) {
		e->cursor_gfn = 0;
		if (e->cursor_vm == e->nr_vms)
			e->cursor_vm = 0;
	}
	vm_free(e, v);
	unlock(e);
	return 0;
}

int dedup__set_domain(struct dedup *e, void *vm, uint32_t domain)
{
	lock(e);
	int rc = -ENOENT;
	struct dedup_vm *v = find_vm(e, vm, NULL);
	if (v) {
		/* Its copies carry the old domain; moving now would share across. */
		rc = -EBUSY;
		if (p2m__count(v->p2m, P2M_SHARED) == 0) {
			v->domain_id = resolve_domain(e, domain);
			set_key(e, v);
			rc = 0;
		}
	}
	unlock(e);
	return rc;
}

int dedup__set_node(struct dedup *e, void *vm, int node)
{
	if (node < -1 || node >= NUMA_NODES_MAX)
		return -EINVAL;
	lock(e);
	int rc = -ENOENT;
	struct dedup_vm *v = find_vm(e, vm, NULL);
	if (v) {
		/* as for a domain: its copies were shared under the old key */
		rc = -EBUSY;
		if (p2m__count(v->p2m, P2M_SHARED) == 0 || node == v->node) {
			v->node = node;
			set_key(e, v);
			rc = 0;
		}
	}
	unlock(e);
	return rc;
}

void dedup__set_topology(struct dedup *e, const struct numa_topology *t)
{
	lock(e);
	e->topo = t;
	unlock(e);
}

/* Map (v, gfn) onto copy idx and make the p2m say so; 0 or the backend's -errno. */
static int share_onto(struct dedup *e, struct dedup_vm *v, uint64_t gfn, uint32_t idx)
{
	struct dedup_copy *c = &e->copies[idx];
	int rc = e->be.share(v->handle, gfn, c->handle);
	if (rc) {
		e->backend_errors++;
		return rc;
	}
	/* PRIVATE when the scan took it, and nothing else moves the frames of a
	 * VM the engine has without its lock */
	if (p2m__client_move(v->p2m, gfn, 1, P2M_BIT(P2M_PRIVATE), P2M_SHARED, NULL, NULL) < 0) {
		e->backend_errors++; /* mapped, but not counted: its next write is a plain one */
		return -EPERM;
	}
	v->copy_of[gfn] = idx + 1;
	c->users++;
	return 0;
}

static void zero_one(struct dedup *e, struct dedup_vm *v, uint64_t gfn)
{
	if (e->be.zero(v->handle, gfn) != 0 ||
	    p2m__client_move(v->p2m, gfn, 1, P2M_BIT(P2M_PRIVATE), P2M_ZERO, NULL, NULL) < 0)
		e->backend_errors++;
}

/* Users a copy may have: max_page_sharing, within the backend's bound. */
static uint64_t max_users(const struct dedup *e)
{
	uint64_t n = e->knob[DEDUP_MAX_PAGE_SHARING];
	return e->be.max_users && n > e->be.max_users ? e->be.max_users : n;
}

/* Step 4: join a stored copy. True when the frame was dealt with. */
static bool join_stable(struct dedup *e, struct dedup_vm *v, uint64_t gfn, const void *page,
			uint64_t h)
{
	for (uint32_t i = copy_first(e, h); i != NO_COPY; i = copy_next(e, i)) {
		const struct dedup_copy *c = &e->copies[i];
		if (c->domain != v->domain || c->users >= max_users(e))
			continue;
		if (memcmp(page, e->be.copy_data(e->be.ctx, c->handle), DEDUP_PAGE_SIZE) != 0) {
			e->hash_collisions++;
			continue;
		}
		share_onto(e, v, gfn, i); /* on error the frame stays private, counted */
		return true;
	}
	return false;
}

/*
 * Step 5, the candidate side: merge (v, gfn) with the candidate in slot s.
 * True when the frame was dealt with (merged, or left private for a counted
 * reason); false when the candidate is of no use and we should replace it.
 */
static bool merge_candidate(struct dedup *e, struct dedup_vm *v, uint64_t gfn, const void *page,
			    uint64_t h, struct dedup_cand *s)
{
	struct dedup_vm *cv = s->vm;
	uint64_t cgfn = s->gfn;
	if (cv->domain != v->domain || p2m__get(cv->p2m, cgfn) != P2M_PRIVATE)
		return false;
	if (e->be.written && e->be.written(cv->handle, cgfn)) {
		set_volatile(cv, cgfn, true);
		cv->unique_streak[cgfn] = 0; /* not unique: written, with a twin */
		return false;
	}
	const void *other = e->be.page(cv->handle, cgfn);
	if (!other)
		return false;
	if (memcmp(page, other, DEDUP_PAGE_SIZE) != 0) {
		e->hash_collisions++;
		return false;
	}
	if (!copy_reserve(e))
		return true;
	/* the copy goes near its first users (placed once: a copy does not move) */
	int node = numa__place(e->topo, (const int[]){ cv->node, v->node }, 2);
	void *handle = e->be.copy_new(e->be.ctx, page, node);
	if (!handle) {
		e->backend_errors++;
		return true;
	}
	uint32_t idx = copy_insert(e, handle, h, v->domain);
	/* The copy holds one reference of its own until both shares were tried. */
	e->copies[idx].users = 1;
	int crc = share_onto(e, cv, cgfn, idx);
	share_onto(e, v, gfn, idx);
	if (crc == 0) {
		s->vm = NULL;
		e->nr_cands--;
	}
	copy_put(e, idx);
	return true;
}

/*
 * Step 1: whether (v, gfn), about to be shared, is volatile: its content
 * changed since its last visit (its hash did), or the backend saw it
 * written lately (asked only here, for a frame with a twin: a backend that
 * tracks writes by protecting frames re-arms only the ones about to be
 * shared, and the guest's other writes stay free).
 */
static bool is_volatile(struct dedup *e, struct dedup_vm *v, uint64_t gfn, bool changed)
{
	bool vol = changed || (e->be.written && e->be.written(v->handle, gfn));
	set_volatile(v, gfn, vol);
	if (vol)
		v->unique_streak[gfn] = 0;
	return vol;
}

/* Visit one gfn; false when it was not a private page (nothing to examine). */
static bool scan_one(struct dedup *e, struct dedup_vm *v, uint64_t gfn)
{
	const void *page = NULL;
	if (p2m__get(v->p2m, gfn) != P2M_PRIVATE || !(page = e->be.page(v->handle, gfn))) {
		/* a shared frame keeps the hash it was shared with: after a
		 * break, a visit that finds other bytes finds it volatile */
		set_volatile(v, gfn, false);
		return false;
	}
	/* backoff: a page found without a twin pass after pass is visited every
	 * 2nd, 4th, ... 64th pass only (the same passes for all, so runs of
	 * frames stay runs) */
	uint8_t streak = v->unique_streak[gfn];
	if (streak >= BACKOFF_FROM) {
		unsigned shift = streak - BACKOFF_FROM + 1;
		uint64_t period = 1ull << (shift < BACKOFF_MAX_SHIFT ? shift : BACKOFF_MAX_SHIFT);
		if (e->full_scans % period)
			return false;
	}
	uint64_t h = page_hash(e, page);
	uint32_t seen = (uint32_t)(h >> 32) | 1, before = v->seen_hash[gfn];
	bool changed = before && before != seen;
	v->seen_hash[gfn] = seen;
	if (e->knob[DEDUP_USE_ZERO_PAGES] && h == e->zero_hash && is_zero_page(page)) {
		if (!is_volatile(e, v, gfn, changed)) {
			zero_one(e, v, gfn);
			v->unique_streak[gfn] = 0;
		}
		return true;
	}
	struct dedup_cand *s = cand_find(e, h, v->domain);
	bool cand = s && s->vm && !(s->vm == v && s->gfn == gfn);
	bool twin = cand || copy_first(e, h) != NO_COPY;
	if (twin && is_volatile(e, v, gfn, changed)) {
		if (cand)
			s->vm->unique_streak[s->gfn] = 0; /* it has a twin: not unique */
		return true;
	}
	if (!twin) {
		/* a unique page that keeps changing is volatile all the same */
		set_volatile(v, gfn, changed);
		if (changed)
			v->unique_streak[gfn] = 0;
	}
	if (join_stable(e, v, gfn, page, h)) {
		v->unique_streak[gfn] = 0;
		return true;
	}
	if (cand && merge_candidate(e, v, gfn, page, h, s)) {
		v->unique_streak[gfn] = 0;
		return true;
	}
	if (changed)
		return true; /* changing: not a candidate others should wait for */
	if (streak < UINT8_MAX)
		v->unique_streak[gfn] = streak + 1;
	if (!s && !(s = cand_claim(e, h, v->domain)))
		return true; /* at the metadata cap: counted */
	if (!s->vm)
		e->nr_cands++;
	s->vm = v;
	s->gfn = gfn;
	return true;
}

uint64_t dedup__scan(struct dedup *e, uint64_t max_pages)
{
	uint64_t done = 0, visited = 0;
	lock(e);
	uint64_t t0 = clock__thread_cpu_ns();
	/* max_pages counts private pages examined (as KSM counts present pages);
	 * gfns with nothing to examine are skipped, at most one pass of them */
	uint64_t max_visits = max_pages;
	for (size_t i = 0; i < e->nr_vms; i++)
		max_visits += e->vms[i]->p2m->nr_frames;
	while (done < max_pages && visited < max_visits && e->knob[DEDUP_RUN] && e->nr_vms) {
		struct dedup_vm *v = e->vms[e->cursor_vm];
		visited++;
		if (scan_one(e, v, e->cursor_gfn)) {
			done++;
			e->pages_scanned++;
		}
		if (++e->cursor_gfn >= v->p2m->nr_frames) {
			e->cursor_gfn = 0;
			if (++e->cursor_vm == e->nr_vms) {
				e->cursor_vm = 0;
				e->full_scans++;
				cand_reset(e);
			}
		}
		if (visited % SCAN_LOCK_BATCH == 0) {
			uint64_t t1 = clock__thread_cpu_ns();
			e->scan_cpu_ns += t1 - t0;
			unlock(e);
			lock(e);
			t0 = clock__thread_cpu_ns();
		}
	}
	e->scan_cpu_ns += clock__thread_cpu_ns() - t0;
	unlock(e);
	return done;
}

/*
 * The p2m's client (mmu/p2m.h): another mechanism moves frames of v (the
 * balloon). Both run with the engine lock held, taken by p2m__move().
 */
static int client_release(void *ctx, uint64_t gfn, uint64_t n)
{
	struct dedup_vm *v = ctx;
	struct dedup *e = v->engine;
	if (!e->be.unshare)
		return -EOPNOTSUPP;
	uint64_t done = 0;
	int rc = e->be.unshare(v->handle, gfn, n, &done);
	if (done > n)
		done = n;
	/* the frames done have a page of their own now: none maps a copy */
	for (uint64_t g = gfn; g < gfn + done; g++) {
		enum p2m_state s = p2m__get(v->p2m, g);
		if (s != P2M_SHARED && s != P2M_ZERO)
			continue;
		if (v->copy_of[g])
			copy_put(e, v->copy_of[g] - 1);
		v->copy_of[g] = 0;
		p2m__client_move(v->p2m, g, 1, P2M_BIT(P2M_SHARED) | P2M_BIT(P2M_ZERO), P2M_PRIVATE,
				 NULL, NULL);
	}
	return rc;
}

static void client_moved(void *ctx, uint64_t gfn, uint64_t n, enum p2m_state to)
{
	struct dedup_vm *v = ctx;
	struct dedup *e = v->engine;
	for (uint64_t g = gfn; g < gfn + n; g++) {
		set_volatile(v, g, false);
		v->unique_streak[g] = 0;
		v->seen_hash[g] = 0; /* ballooned or reported free: its next content is new */
	}
	if (to == P2M_UNPOPULATED && e->be.unpopulated)
		e->be.unpopulated(v->handle, gfn, n);
}

/*
 * A write broke shared or zero frame gfn of v (p2m__record_written, the
 * backend's report): the writer already has its own page with the old bytes
 * plus the write. Drop the frame from its copy (freeing the copy at no
 * users); the p2m moves it to PRIVATE next. Engine lock held.
 */
static void client_broken(void *ctx, uint64_t gfn, enum p2m_state from)
{
	struct dedup_vm *v = ctx;
	struct dedup *e = v->engine;
	if (from == P2M_SHARED && v->copy_of[gfn]) /* 0 only if someone else wrote the p2m:
						     * dedup__check says so */
		copy_put(e, v->copy_of[gfn] - 1);
	v->copy_of[gfn] = 0;
	v->unique_streak[gfn] = 0; /* new content: look at it at the next pass */
	e->cow_breaks++;
}

static int broken(const char *what, const struct dedup_vm *v, uint64_t gfn)
{
	fprintf(stderr, "dedup: invariant broken: %s (vm %s, gfn %#llx)\n", what,
		v ? v->name : "-", (unsigned long long)gfn);
	return -EUCLEAN;
}

static int check_locked(struct dedup *e, uint32_t *users)
{
	uint64_t shared = 0;
	for (size_t i = 0; i < e->nr_vms; i++) {
		const struct dedup_vm *v = e->vms[i];
		uint64_t nr_volatile = 0;
		for (uint64_t gfn = 0; gfn < v->p2m->nr_frames; gfn++) {
			uint32_t c = v->copy_of[gfn];
			bool is_shared = p2m__get(v->p2m, gfn) == P2M_SHARED;
			nr_volatile += (v->volatile_map[gfn / 64] >> (gfn % 64)) & 1;
			if (is_shared != (c != 0))
				return broken("copy map and p2m disagree", v, gfn);
			if (!c)
				continue;
			if (c > e->copies_cap || !e->copies[c - 1].handle)
				return broken("shared frame names no live copy", v, gfn);
			if (e->copies[c - 1].domain != v->domain)
				return broken("frame maps a copy of another domain", v, gfn);
			users[c - 1]++;
		}
		if (nr_volatile != v->nr_volatile)
			return broken("volatile count", v, 0);
		shared += p2m__count(v->p2m, P2M_SHARED);
	}
	uint64_t live = 0, sum = 0;
	for (uint32_t i = 0; i < e->copies_cap; i++) {
		const struct dedup_copy *c = &e->copies[i];
		if (!c->handle)
			continue;
		live++;
		sum += c->users;
		if (c->users == 0 || c->users != users[i] || c->users > max_users(e))
			return broken("copy users", NULL, i);
		if (copy_first(e, c->hash) == NO_COPY)
			return broken("copy not in its hash bucket", NULL, i);
	}
	if (live != e->nr_copies || sum != shared)
		return broken("copy totals", NULL, 0);
	size_t cands = 0;
	for (size_t i = 0; i < e->cands_cap; i++)
		cands += e->cands[i].vm != NULL;
	if (cands != e->nr_cands)
		return broken("candidate count", NULL, 0);
	return 0;
}

int dedup__check(struct dedup *e)
{
	lock(e);
	uint32_t *users = calloc(e->copies_cap, sizeof(*users));
	int rc = users ? check_locked(e, users) : -ENOMEM;
	free(users);
	unlock(e);
	return rc;
}
