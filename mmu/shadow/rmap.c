/* SPDX-License-Identifier: MIT */
/*
 * DOC: the reverse map (machine frame → shadow entries that map it).
 *
 * Every present shadow leaf is in the reverse map exactly once, on the list
 * of the machine frame it maps. fill.c keeps it exact: a leaf goes in when it
 * is filled and out when it is zapped, overwritten or its table freed. So
 * unmapping a frame, or write-protecting a page that has just become a page
 * table, touches exactly the entries that map it.
 *
 * Bounded work (a guest chooses how many leaves map one frame): each leaf
 * slot's list node sits at a fixed index, RMAP_NODE(shadow table record,
 * entry), in an array that grows with the records, and the lists are
 * circular and doubly linked, so adding and deleting a leaf is O(1) however
 * many leaves map its frame; a frame's list head (leaf count, first node) is
 * found through a chained hash map (struct hmap) with one key per mapped
 * frame. At most RMAP_FRAME_MAX leaves of a guest map one frame: every walk
 * of one frame's list is bounded too. The same hash map indexes the shadow
 * tables by mfn.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mmu/shadow/shadow_priv.h"
#include "mmu/array.h"

static uint32_t bucket_of(const struct hmap *h, uint64_t key)
{
	uint64_t x = key * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(x >> 32) & (h->nbuckets - 1);
}

static int grow_buckets(struct hmap *h)
{
	uint32_t n = h->nbuckets ? h->nbuckets * 2 : 64;
	uint32_t *b = malloc(sizeof(*b) * n);
	if (!b)
		return -ENOMEM;
	memset(b, 0xff, sizeof(*b) * n);
	uint32_t *old = h->bucket;
	uint32_t old_n = h->nbuckets;
	h->bucket = b;
	h->nbuckets = n;
	for (uint32_t i = 0; i < old_n; i++) {
		uint32_t j = old[i];
		while (j != NONE32) {
			uint32_t next = h->node[j].next;
			uint32_t k = bucket_of(h, h->node[j].key);
			h->node[j].next = h->bucket[k];
			h->bucket[k] = j;
			j = next;
		}
	}
	free(old);
	return 0;
}

size_t hmap_grow_bytes(const struct hmap *h)
{
	size_t b = 0;
	if (h->count >= h->nbuckets && h->nbuckets < (1u << 30))
		b += sizeof(*h->bucket) * (h->nbuckets ? h->nbuckets * 2 : 64);
	if (h->free_head == NONE32 && h->nnodes >= h->cap)
		b += sizeof(*h->node) * (h->cap ? h->cap : 64);
	return b;
}

int hmap_add(struct hmap *h, uint64_t key, uint64_t val)
{
	if (h->count >= h->nbuckets && h->nbuckets < (1u << 30) && grow_buckets(h))
		return -ENOMEM;
	uint32_t i;
	if (h->free_head != NONE32) { /* hmaps start with free_head = NONE32 */
		i = h->free_head;
		h->free_head = h->node[i].next;
	} else {
		if (ARRAY_ROOM(h->node, h->cap, h->nnodes, 64) < 0)
			return -ENOMEM;
		i = h->nnodes++;
	}
	uint32_t k = bucket_of(h, key);
	h->node[i] = (struct hnode){ .key = key, .val = val, .next = h->bucket[k] };
	h->bucket[k] = i;
	h->count++;
	return 0;
}

bool hmap_del(struct hmap *h, uint64_t key, uint64_t val)
{
	if (!h->nbuckets)
		return false;
	uint32_t *link = &h->bucket[bucket_of(h, key)];
	while (*link != NONE32) {
		struct hnode *n = &h->node[*link];
		if (n->key == key && n->val == val) {
			uint32_t i = *link;
			*link = n->next;
			n->next = h->free_head;
			h->free_head = i;
			h->count--;
			return true;
		}
		link = &n->next;
	}
	return false;
}

uint32_t hmap_first(const struct hmap *h, uint64_t key)
{
	if (!h->nbuckets)
		return NONE32;
	uint32_t i = h->bucket[bucket_of(h, key)];
	uint64_t probes = 1;
	while (i != NONE32 && h->node[i].key != key) {
		i = h->node[i].next;
		probes++;
	}
	/* a statistic of a lookup through a const pointer (no hmap is a const
	 * object); the tests read it to bound the work */
	((struct hmap *)h)->probes += probes;
	return i;
}

uint32_t hmap_next_of(const struct hmap *h, uint32_t i, uint64_t key)
{
	for (i = h->node[i].next; i != NONE32 && h->node[i].key != key; i = h->node[i].next)
		;
	return i;
}

void hmap_clear(struct hmap *h)
{
	if (h->nbuckets)
		memset(h->bucket, 0xff, sizeof(*h->bucket) * h->nbuckets);
	h->nnodes = 0;
	h->free_head = NONE32;
	h->count = 0;
}

void hmap_destroy(struct hmap *h)
{
	free(h->bucket);
	free(h->node);
	*h = (struct hmap){ .free_head = NONE32 };
}

size_t hmap_bytes(const struct hmap *h)
{
	return sizeof(*h->bucket) * h->nbuckets + sizeof(*h->node) * h->cap;
}

/* ---- the reverse map ---- */

#define HEAD(count, first) ((uint64_t)(count) << 32 | (first))
#define HEAD_COUNT(v) ((uint32_t)((v) >> 32))
#define HEAD_FIRST(v) ((uint32_t)(v))

int rmap_reserve(struct shadow_guest *g, uint32_t records)
{
	struct rmap *rm = &g->priv->rmap;
	if (records <= rm->node_records)
		return 0;
	if (records > (UINT32_MAX >> 9))
		return -ENOMEM;
	struct rnode *n = realloc(rm->node, (size_t)records * PT_ENTRIES * sizeof(*n));
	if (!n)
		return -ENOMEM;
	rm->node = n;
	rm->node_records = records;
	return 0;
}

void rmap_destroy(struct rmap *rm)
{
	hmap_destroy(&rm->heads);
	free(rm->node);
	*rm = (struct rmap){ .heads = { .free_head = NONE32 } };
}

size_t rmap_bytes(const struct rmap *rm)
{
	return hmap_bytes(&rm->heads) + (size_t)rm->node_records * PT_ENTRIES * sizeof(*rm->node);
}

static struct hnode *head_of(const struct rmap *rm, uint64_t mfn)
{
	uint32_t h = hmap_first(&rm->heads, mfn);
	return h == NONE32 ? NULL : &rm->heads.node[h];
}

static void unlink_node(struct rmap *rm, struct hnode *head, uint32_t n)
{
	struct rnode *x = &rm->node[n];
	uint32_t count = HEAD_COUNT(head->val) - 1, first = HEAD_FIRST(head->val);
	rm->count--;
	if (count == 0) {
		hmap_del(&rm->heads, head->key, head->val);
		return;
	}
	rm->node[x->prev].next = x->next;
	rm->node[x->next].prev = x->prev;
	head->val = HEAD(count, first == n ? x->next : first);
}

/*
 * Zero the oldest leaf on mfn's list. It was present: a flush (flush_needed)
 * drops KVM's translation before the guest runs on. Not shadow__machine_forget():
 * that shoots down the TLBs of every vCPU of the machine, once per eviction,
 * where the flush is rate-limited and charged to this guest.
 */
static void evict_oldest(struct shadow_guest *g, struct hnode *head)
{
	struct rmap *rm = &g->priv->rmap;
	uint32_t oldest = rm->node[HEAD_FIRST(head->val)].prev;
	fill_table(g, RMAP_TABLE(rmap_slot(g, oldest)))[RMAP_NODE_INDEX(oldest)] = 0;
	unlink_node(rm, head, oldest);
	g->flush_needed = true;
	g->stats.rmap_evictions++;
}

int rmap_add(struct shadow_guest *g, uint32_t r, unsigned i, uint64_t mfn, bool evict)
{
	struct rmap *rm = &g->priv->rmap;
	uint32_t n = RMAP_NODE(r, i);
	struct hnode *head = head_of(rm, mfn);
	if (head && HEAD_COUNT(head->val) >= RMAP_FRAME_MAX) {
		if (!evict)
			return -EMLINK;
		evict_oldest(g, head);
		head = head_of(rm, mfn); /* the list may have gone with its last leaf */
	}
	if (!head) {
		if (!meta_allows(g, hmap_grow_bytes(&rm->heads)) ||
		    hmap_add(&rm->heads, mfn, HEAD(1, n)))
			return -ENOMEM;
		rm->node[n] = (struct rnode){ .prev = n, .next = n };
		rm->count++;
		return 0;
	}
	uint32_t first = HEAD_FIRST(head->val), last = rm->node[first].prev;
	rm->node[n] = (struct rnode){ .prev = last, .next = first };
	rm->node[last].next = n;
	rm->node[first].prev = n;
	head->val = HEAD(HEAD_COUNT(head->val) + 1, n);
	rm->count++;
	return 0;
}

void rmap_del(struct shadow_guest *g, uint32_t r, unsigned i, uint64_t mfn)
{
	struct rmap *rm = &g->priv->rmap;
	struct hnode *head = head_of(rm, mfn);
	rm->dels++;
	if (head)
		unlink_node(rm, head, RMAP_NODE(r, i));
}

unsigned rmap_count(const struct shadow_guest *g, uint64_t mfn)
{
	const struct hnode *head = head_of(&g->priv->rmap, mfn);
	return head ? HEAD_COUNT(head->val) : 0;
}

uint32_t rmap_first(const struct shadow_guest *g, uint64_t mfn)
{
	const struct hnode *head = head_of(&g->priv->rmap, mfn);
	return head ? HEAD_FIRST(head->val) : NONE32;
}

uint32_t rmap_next(const struct shadow_guest *g, uint32_t first, uint32_t n)
{
	uint32_t next = g->priv->rmap.node[n].next;
	return next == first ? NONE32 : next;
}

uint64_t rmap_slot(const struct shadow_guest *g, uint32_t n)
{
	return RMAP_SLOT(g->priv->sp[RMAP_NODE_RECORD(n)].mfn, RMAP_NODE_INDEX(n));
}

bool rmap_has(const struct shadow_guest *g, uint64_t mfn, uint64_t slot)
{
	uint32_t first = rmap_first(g, mfn);
	for (uint32_t n = first; n != NONE32; n = rmap_next(g, first, n))
		if (rmap_slot(g, n) == slot)
			return true;
	return false;
}

unsigned rmap_clear_rw(struct shadow_guest *g, uint64_t mfn)
{
	unsigned n = 0;
	uint32_t first = rmap_first(g, mfn);
	for (uint32_t k = first; k != NONE32; k = rmap_next(g, first, k)) {
		uint64_t slot = rmap_slot(g, k);
		uint64_t *e = &fill_table(g, RMAP_TABLE(slot))[RMAP_INDEX(slot)];
		if (*e & PTE_RW) {
			*e &= ~(PTE_RW | PTE_D);
			n++;
		}
	}
	return n;
}

void rmap_write_protect(struct shadow_guest *g, uint64_t mfn)
{
	if (rmap_clear_rw(g, mfn))
		g->flush_needed = true;
}

unsigned rmap_zap(struct shadow_guest *g, uint64_t mfn)
{
	struct rmap *rm = &g->priv->rmap;
	unsigned n = 0;
	struct hnode *head;
	while ((head = head_of(rm, mfn)) != NULL) {
		uint32_t k = HEAD_FIRST(head->val);
		uint64_t slot = rmap_slot(g, k);
		fill_table(g, RMAP_TABLE(slot))[RMAP_INDEX(slot)] = 0;
		unlink_node(rm, head, k);
		n++;
	}
	return n;
}

unsigned rmap_unmap(struct shadow_guest *g, uint64_t mfn)
{
	unsigned n = rmap_zap(g, mfn);
	if (n)
		g->flush_needed = true;
	return n;
}

unsigned rmap_take_accessed(struct shadow_guest *g, uint64_t mfn)
{
	unsigned n = 0;
	uint32_t first = rmap_first(g, mfn);
	for (uint32_t k = first; k != NONE32; k = rmap_next(g, first, k)) {
		uint64_t slot = rmap_slot(g, k);
		uint64_t *e = &fill_table(g, RMAP_TABLE(slot))[RMAP_INDEX(slot)];
		/* KVM sets A in the leaf with a compare-exchange as it walks */
		if (__atomic_fetch_and(e, ~PTE_A, __ATOMIC_RELAXED) & PTE_A)
			n++;
	}
	return n;
}

/* ---- l1vmm's memory for the guest ---- */

size_t meta_bytes(const struct shadow_guest *g)
{
	const struct shadow_guest_priv *p = g->priv;
	return hmap_bytes(&p->pages) + rmap_bytes(&p->rmap) + (size_t)p->sp_cap * sizeof(*p->sp);
}

bool meta_allows(struct shadow_guest *g, size_t bytes)
{
	uint64_t quota = __atomic_load_n(&g->meta_quota, __ATOMIC_RELAXED);
	if (bytes == 0 || quota == 0 || meta_bytes(g) + bytes <= quota)
		return true;
	g->stats.meta_quota_hits++;
	return false;
}
