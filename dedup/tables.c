/* SPDX-License-Identifier: MIT */
/*
 * The engine's tables and its memory bill.
 *
 * Stable table: stored copies in one array (indices stay valid while a copy
 * lives, so per-gfn maps can name them in 4 bytes), chained by hash from a
 * power-of-two bucket array. Unstable table: open addressing with linear
 * probing, keyed by (hash, domain), at most half full, emptied at each full
 * scan, so it never needs deletion.
 *
 * Every allocation is counted in meta_bytes. The cap (max_meta_bytes) is
 * checked only where the engine would grow for a new copy or candidate;
 * failing to grow never fails a guest: the frame stays private.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dedup/dedup_priv.h"

#define INITIAL_COPIES 64u
#define INITIAL_BUCKETS 64u
#define INITIAL_CANDS 64u

void *meta_calloc(struct dedup *e, size_t n, size_t size)
{
	if (n == 0 || size == 0 || n > SIZE_MAX / size)
		return NULL;
	void *p = calloc(n, size);
	if (p)
		e->meta_bytes += n * size;
	return p;
}

void meta_free(struct dedup *e, void *p, size_t bytes)
{
	if (!p)
		return;
	free(p);
	e->meta_bytes -= bytes;
}

bool meta_room(const struct dedup *e, size_t more)
{
	uint64_t cap = e->knob[DEDUP_MAX_META_BYTES];
	return e->meta_bytes <= cap && more <= cap - e->meta_bytes;
}

/* Spread the hash's bits: the bucket and slot indices use its low bits. */
static uint64_t mix(uint64_t hash, uint64_t domain)
{
	uint64_t x = hash ^ (domain * 0x9e3779b97f4a7c15ull);
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 29);
}

int tables_init(struct dedup *e)
{
	e->copies = meta_calloc(e, INITIAL_COPIES, sizeof(*e->copies));
	e->buckets = meta_calloc(e, INITIAL_BUCKETS, sizeof(*e->buckets));
	e->cands = meta_calloc(e, INITIAL_CANDS, sizeof(*e->cands));
	if (!e->copies || !e->buckets || !e->cands)
		return -ENOMEM;
	e->copies_cap = INITIAL_COPIES;
	e->nr_buckets = INITIAL_BUCKETS;
	e->cands_cap = INITIAL_CANDS;
	/* Every slot starts on the free list, lowest index first. */
	for (uint32_t i = 0; i < INITIAL_COPIES; i++)
		e->copies[i].next = i + 1 < INITIAL_COPIES ? i + 2 : 0;
	e->free_copies = 1;
	return 0;
}

void tables_destroy(struct dedup *e)
{
	for (uint32_t i = 0; e->copies && i < e->copies_cap; i++)
		if (e->copies[i].handle)
			e->be.copy_free(e->be.ctx, e->copies[i].handle);
	meta_free(e, e->copies, (size_t)e->copies_cap * sizeof(*e->copies));
	meta_free(e, e->buckets, (size_t)e->nr_buckets * sizeof(*e->buckets));
	meta_free(e, e->cands, e->cands_cap * sizeof(*e->cands));
	e->copies = NULL;
	e->buckets = NULL;
	e->cands = NULL;
}

/* ---- stable table ---- */

static uint32_t *bucket_of(const struct dedup *e, uint64_t hash)
{
	return &e->buckets[mix(hash, 0) & (e->nr_buckets - 1)];
}

/* Double the buckets when chains get long; staying small is harmless. */
static void buckets_grow(struct dedup *e)
{
	if (e->nr_copies < e->nr_buckets || e->nr_buckets > UINT32_MAX / 2)
		return;
	uint32_t n = e->nr_buckets * 2;
	if (!meta_room(e, (size_t)n * sizeof(uint32_t)))
		return;
	uint32_t *b = meta_calloc(e, n, sizeof(*b));
	if (!b)
		return;
	meta_free(e, e->buckets, (size_t)e->nr_buckets * sizeof(*e->buckets));
	e->buckets = b;
	e->nr_buckets = n;
	for (uint32_t i = 0; i < e->copies_cap; i++) {
		struct dedup_copy *c = &e->copies[i];
		if (!c->handle)
			continue;
		uint32_t *head = bucket_of(e, c->hash);
		c->next = *head;
		*head = i + 1;
	}
}

bool copy_reserve(struct dedup *e)
{
	if (e->free_copies)
		return true;
	uint32_t old = e->copies_cap;
	if (old > (NO_COPY - 1) / 2)
		goto full;
	uint32_t n = old * 2;
	size_t more = (size_t)(n - old) * sizeof(*e->copies);
	if (!meta_room(e, more))
		goto full;
	struct dedup_copy *c = realloc(e->copies, (size_t)n * sizeof(*c));
	if (!c)
		goto full;
	e->meta_bytes += more;
	memset(&c[old], 0, more);
	for (uint32_t i = old; i < n; i++)
		c[i].next = i + 1 < n ? i + 2 : 0;
	e->copies = c;
	e->copies_cap = n;
	e->free_copies = old + 1;
	return true;
full:
	e->meta_cap_hits++;
	return false;
}

uint32_t copy_insert(struct dedup *e, void *handle, uint64_t hash, uint64_t domain)
{
	uint32_t idx = e->free_copies - 1;
	struct dedup_copy *c = &e->copies[idx];
	e->free_copies = c->next;
	uint32_t *head = bucket_of(e, hash);
	*c = (struct dedup_copy){ .handle = handle, .hash = hash, .domain = domain, .next = *head };
	*head = idx + 1;
	e->nr_copies++;
	buckets_grow(e);
	return idx;
}

uint32_t copy_first(const struct dedup *e, uint64_t hash)
{
	for (uint32_t i = *bucket_of(e, hash); i; i = e->copies[i - 1].next)
		if (e->copies[i - 1].hash == hash)
			return i - 1;
	return NO_COPY;
}

uint32_t copy_next(const struct dedup *e, uint32_t idx)
{
	uint64_t hash = e->copies[idx].hash;
	for (uint32_t i = e->copies[idx].next; i; i = e->copies[i - 1].next)
		if (e->copies[i - 1].hash == hash)
			return i - 1;
	return NO_COPY;
}

void copy_put(struct dedup *e, uint32_t idx)
{
	struct dedup_copy *c = &e->copies[idx];
	if (c->users > 0)
		c->users--;
	if (c->users > 0)
		return;
	for (uint32_t *link = bucket_of(e, c->hash); *link; link = &e->copies[*link - 1].next) {
		if (*link == idx + 1) {
			*link = c->next;
			break;
		}
	}
	e->be.copy_free(e->be.ctx, c->handle);
	*c = (struct dedup_copy){ .next = e->free_copies };
	e->free_copies = idx + 1;
	e->nr_copies--;
}

/* ---- unstable table ---- */

static struct dedup_cand *cand_probe(struct dedup_cand *cands, size_t cap, uint64_t hash,
				     uint64_t domain)
{
	for (size_t i = mix(hash, domain) & (cap - 1);; i = (i + 1) & (cap - 1)) {
		struct dedup_cand *s = &cands[i];
		if (!s->used || (s->hash == hash && s->domain == domain))
			return s; /* terminates: the table is never more than half full */
	}
}

struct dedup_cand *cand_find(struct dedup *e, uint64_t hash, uint64_t domain)
{
	struct dedup_cand *s = cand_probe(e->cands, e->cands_cap, hash, domain);
	return s->used ? s : NULL;
}

/* Double the table, keeping only slots that hold a candidate. */
static bool cands_grow(struct dedup *e)
{
	size_t cap = e->cands_cap * 2;
	if (cap > SIZE_MAX / 2 / sizeof(*e->cands) || !meta_room(e, cap * sizeof(*e->cands)))
		return false;
	struct dedup_cand *n = meta_calloc(e, cap, sizeof(*n));
	if (!n)
		return false;
	size_t used = 0;
	for (size_t i = 0; i < e->cands_cap; i++) {
		struct dedup_cand *s = &e->cands[i];
		if (!s->vm)
			continue;
		*cand_probe(n, cap, s->hash, s->domain) = *s;
		used++;
	}
	meta_free(e, e->cands, e->cands_cap * sizeof(*e->cands));
	e->cands = n;
	e->cands_cap = cap;
	e->cands_used = used;
	return true;
}

struct dedup_cand *cand_claim(struct dedup *e, uint64_t hash, uint64_t domain)
{
	struct dedup_cand *s = cand_probe(e->cands, e->cands_cap, hash, domain);
	if (s->used)
		return s;
	if (e->cands_used + 1 > e->cands_cap / 2) {
		if (!cands_grow(e)) {
			e->meta_cap_hits++;
			return NULL;
		}
		s = cand_probe(e->cands, e->cands_cap, hash, domain);
	}
	*s = (struct dedup_cand){ .hash = hash, .domain = domain, .used = true };
	e->cands_used++;
	return s;
}

void cand_forget_vm(struct dedup *e, const struct dedup_vm *vm)
{
	for (size_t i = 0; i < e->cands_cap; i++) {
		if (e->cands[i].vm == vm) {
			e->cands[i].vm = NULL;
			e->nr_cands--;
		}
	}
}

void cand_reset(struct dedup *e)
{
	size_t bytes = e->cands_cap * sizeof(*e->cands);
	e->cands_used = 0;
	e->nr_cands = 0;
	/* Over the cap (it was lowered): give back all but the smallest table. */
	if (!meta_room(e, 0) && e->cands_cap > INITIAL_CANDS) {
		struct dedup_cand *small = meta_calloc(e, INITIAL_CANDS, sizeof(*small));
		if (small) {
			meta_free(e, e->cands, bytes);
			e->cands = small;
			e->cands_cap = INITIAL_CANDS;
			return;
		}
	}
	memset(e->cands, 0, bytes);
}
