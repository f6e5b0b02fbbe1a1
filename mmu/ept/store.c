/* SPDX-License-Identifier: MIT */
/*
 * The copy store of the ept sharing backend (share.h): one memfd, mapped
 * once MAP_SHARED. A copy's handle is its memfd page + 1. A freed page keeps
 * its memory until the next flush (a new copy for the same node reuses it
 * first: no punch, no page fault), then it is punched out, in runs, while
 * the flush holds the vCPUs when it does (punching a page mapped in the
 * store flushes the TLB of every CPU running one of l1vmm's threads), and
 * reused before the file grows. At most STORE_DIRTY_MAX wait so.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmu/array.h"
#include "mmu/numa.h"
#include "mmu/ept/share_priv.h"

#define STORE_MAX_BYTES (64ull << 30) /* virtual reservation for the store */
#define STORE_GROW_PAGES 512          /* the memfd grows 2 MiB at a time */
#define STORE_DIRTY_MAX 1024          /* freed pages not punched yet (4 MiB) */

int store__init(struct ept_share *b, char *err, size_t errlen)
{
	b->memfd = memfd_create("l1vmm-dedup-copies", MFD_CLOEXEC);
	if (b->memfd < 0) {
		snprintf(err, errlen, "dedup: memfd_create failed: %s", strerror(errno));
		return -1;
	}
	b->store = mmap(NULL, STORE_MAX_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			b->memfd, 0);
	if (b->store == MAP_FAILED) {
		snprintf(err, errlen, "dedup: cannot reserve the copy store: %s", strerror(errno));
		close(b->memfd);
		return -1;
	}
	return 0;
}

void store__destroy(struct ept_share *b)
{
	munmap(b->store, STORE_MAX_BYTES);
	close(b->memfd);
	free(b->free_pages);
	free(b->dirty);
	free(b->page_node);
}

static int dirty_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct store_dirty *)a)->page, y = ((const struct store_dirty *)b)->page;
	return x < y ? -1 : x > y;
}

/* Punch out memfd pages [first, first + n) and put them on the free stack. */
static void punch(struct ept_share *b, uint32_t first, uint64_t n)
{
	/* give the memory back; the pages read as zeros until reused */
	fallocate(b->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)first * (off_t)PAGE,
		  (off_t)(n * PAGE));
	for (uint64_t k = 0; k < n; k++) {
		if (ARRAY_ROOM(b->free_pages, b->free_cap, b->nr_free, 1024) < 0)
			return; /* leaked in the memfd (its memory is freed) */
		b->free_pages[b->nr_free++] = (uint32_t)(first + k);
	}
}

void store__punch_freed(struct ept_share *b)
{
	if (!b->nr_dirty)
		return;
	qsort(b->dirty, b->nr_dirty, sizeof(*b->dirty), dirty_cmp);
	for (uint64_t i = 0; i < b->nr_dirty;) {
		uint64_t j = i + 1;
		while (j < b->nr_dirty && b->dirty[j].page == b->dirty[i].page + (j - i))
			j++;
		punch(b, b->dirty[i].page, j - i);
		i = j;
	}
	b->nr_dirty = 0;
}

/* The node a copy is placed for, as kept per page (-1: none). */
static int8_t node_key(int node)
{
	return (int8_t)(node >= 0 && node < INT8_MAX ? node : -1);
}

void *ept_share__copy_new(struct ept_share *b, const void *content, int node)
{
	l1_lock__acquire(&b->lock);
	uint64_t p;
	if (b->nr_dirty && b->dirty[b->nr_dirty - 1].node == node_key(node)) {
		/* freed lately, its memory still there (on node): no fault */
		p = b->dirty[--b->nr_dirty].page;
		memcpy(b->store + p * PAGE, content, PAGE);
		l1_lock__release(&b->lock);
		return (void *)(uintptr_t)(p + 1);
	}
	if (b->nr_free) {
		p = b->free_pages[--b->nr_free];
	} else {
		if (b->next_page == b->file_pages) {
			uint64_t grow = b->file_pages + STORE_GROW_PAGES;
			int8_t *nodes = grow * PAGE > STORE_MAX_BYTES ? NULL :
					realloc(b->page_node, grow * sizeof(*nodes));
			if (nodes)
				b->page_node = nodes;
			if (!nodes || ftruncate(b->memfd, (off_t)(grow * PAGE)) < 0) {
				l1_lock__release(&b->lock);
				return NULL;
			}
			b->file_pages = grow;
		}
		p = b->next_page++;
	}
	/* the page's first touch (new, or punched out when freed): on node */
	numa__copy_on(node, b->store + p * PAGE, content, PAGE);
	b->page_node[p] = node_key(node);
	l1_lock__release(&b->lock);
	return (void *)(uintptr_t)(p + 1);
}

void ept_share__copy_free(struct ept_share *b, void *copy)
{
	uint64_t p = (uint64_t)(uintptr_t)copy - 1;
	l1_lock__acquire(&b->lock);
	maps__apply_pending(b); /* no queued frame may name a freed copy */
	if (b->nr_dirty >= STORE_DIRTY_MAX)
		store__punch_freed(b);
	if (ARRAY_ROOM(b->dirty, b->dirty_cap, b->nr_dirty, 1024) < 0)
		punch(b, (uint32_t)p, 1); /* no room to wait: punched now */
	else
		b->dirty[b->nr_dirty++] = (struct store_dirty){ (uint32_t)p, b->page_node[p] };
	l1_lock__release(&b->lock);
}

const void *ept_share__copy_data(const struct ept_share *b, const void *copy)
{
	return store__page(b, (uint64_t)(uintptr_t)copy);
}
