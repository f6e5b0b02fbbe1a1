/* SPDX-License-Identifier: MIT */
/*
 * DOC: the reverse map (machine frame → shadow entries that map it).
 *
 * Every present shadow leaf is in the reverse map exactly once, keyed by the
 * machine frame it maps, with its slot (shadow table mfn, index). fill.c
 * keeps it exact: an entry goes in when a leaf is filled and out when the
 * leaf is zapped, overwritten or its table freed. So unmapping a frame, or
 * write-protecting a page that has just become a page table, touches exactly
 * the entries that map it.
 *
 * The map is a chained hash multimap (struct hmap) of u64 keys and values
 * with a node pool; the same structure indexes the shadow tables by mfn.
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
	while (i != NONE32 && h->node[i].key != key)
		i = h->node[i].next;
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

int rmap_add(struct shadow_guest *g, uint64_t mfn, uint64_t slot)
{
	return hmap_add(&g->priv->rmap, mfn, slot);
}

void rmap_del(struct shadow_guest *g, uint64_t mfn, uint64_t slot)
{
	hmap_del(&g->priv->rmap, mfn, slot);
}

unsigned rmap_clear_rw(struct shadow_guest *g, uint64_t mfn)
{
	const struct hmap *h = &g->priv->rmap;
	unsigned n = 0;
	for (uint32_t i = hmap_first(h, mfn); i != NONE32; i = hmap_next_of(h, i, mfn)) {
		uint64_t slot = h->node[i].val;
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

unsigned rmap_unmap(struct shadow_guest *g, uint64_t mfn)
{
	struct hmap *h = &g->priv->rmap;
	unsigned n = 0;
	uint32_t i;
	while ((i = hmap_first(h, mfn)) != NONE32) {
		uint64_t slot = h->node[i].val;
		fill_table(g, RMAP_TABLE(slot))[RMAP_INDEX(slot)] = 0;
		hmap_del(h, mfn, slot);
		n++;
	}
	if (n)
		g->flush_needed = true;
	return n;
}
