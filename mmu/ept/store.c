/* SPDX-License-Identifier: MIT */
/*
 * The copy store of the ept sharing backend (share.h): one memfd, mapped
 * once MAP_SHARED. A copy's handle is its memfd page + 1. Freed pages have
 * their memory punched out at once and are reused before the file grows.
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
}

void *ept_share__copy_new(struct ept_share *b, const void *content, int node)
{
	l1_lock__acquire(&b->lock);
	uint64_t p;
	if (b->nr_free) {
		p = b->free_pages[--b->nr_free];
	} else {
		if (b->next_page == b->file_pages) {
			uint64_t grow = b->file_pages + STORE_GROW_PAGES;
			if (grow * PAGE > STORE_MAX_BYTES || ftruncate(b->memfd, (off_t)(grow * PAGE)) < 0) {
				l1_lock__release(&b->lock);
				return NULL;
			}
			b->file_pages = grow;
		}
		p = b->next_page++;
	}
	/* the page's first touch (new, or punched out when freed): on node */
	numa__copy_on(node, b->store + p * PAGE, content, PAGE);
	l1_lock__release(&b->lock);
	return (void *)(uintptr_t)(p + 1);
}

void ept_share__copy_free(struct ept_share *b, void *copy)
{
	uint64_t p = (uint64_t)(uintptr_t)copy - 1;
	l1_lock__acquire(&b->lock);
	maps__apply_pending(b); /* no queued frame may name a freed copy */
	/* give the memory back now; the page reads as zeros until reused */
	fallocate(b->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(p * PAGE),
		  (off_t)PAGE);
	if (ARRAY_ROOM(b->free_pages, b->free_cap, b->nr_free, 1024) < 0) {
		/* the page is leaked in the memfd (its memory is already freed) */
		l1_lock__release(&b->lock);
		return;
	}
	b->free_pages[b->nr_free++] = (uint32_t)p;
	l1_lock__release(&b->lock);
}

const void *ept_share__copy_data(const struct ept_share *b, const void *copy)
{
	return store__page(b, (uint64_t)(uintptr_t)copy);
}
