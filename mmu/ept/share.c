/* SPDX-License-Identifier: MIT */
/* The ept sharing backend (share.h): guests coming and going, vCPU waits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mmu/clock.h"
#include "mmu/ept/share_priv.h"

uint8_t *share__frame_hva(const struct ept_guest *g, uint64_t gfn)
{
	const struct ept_slot *s = share__slot_of(g, gfn);
	return s ? s->hva + (gfn - s->first_gfn) * PAGE : NULL;
}

const struct ept_slot *share__slot_of(const struct ept_guest *g, uint64_t gfn)
{
	for (unsigned i = 0; i < g->nr_slots; i++)
		if (gfn >= g->slot[i].first_gfn && gfn - g->slot[i].first_gfn < g->slot[i].nr_pages)
			return &g->slot[i];
	return NULL;
}

int ept_share__create(struct ept_share **out, char *err, size_t errlen)
{
	struct ept_share *b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "out of memory for the dedup ept backend");
		return -1;
	}
	if (store__init(b, err, errlen) < 0) {
		free(b);
		return -1;
	}
	l1_lock__init(&b->hold_lock, L1_RANK_BACKEND_HOLD, "ept sharing vCPU holds");
	l1_lock__init(&b->lock, L1_RANK_BACKEND, "ept sharing backend");
	maps__init(b);
	*out = b;
	return 0;
}

void ept_share__destroy(struct ept_share *b)
{
	if (!b)
		return;
	store__destroy(b);
	free(b->pending);
	l1_lock__destroy(&b->lock);
	l1_lock__destroy(&b->hold_lock);
	free(b);
}

/*
 * A guest handed over while it runs (dedup/run set to 1 later) has written
 * frames the dirty log never saw: every resident page of the slot becomes
 * PRIVATE (the engine is not looking at this guest yet, and nothing else
 * writes its p2m). Before the guest starts only the loader's frames are
 * resident, and those are PRIVATE already.
 */
static int mark_resident(struct ept_guest *g, const struct ept_slot *s)
{
	unsigned char *vec = malloc(s->nr_pages);
	if (!vec)
		return -ENOMEM;
	int rc = mincore(s->hva, s->nr_pages * PAGE, vec) < 0 ? -errno : 0;
	for (uint64_t i = 0; rc == 0 && i < s->nr_pages; i++)
		if ((vec[i] & 1) && p2m__get(&g->mem->p2m, s->first_gfn + i) == P2M_UNPOPULATED)
			p2m__record_written(&g->mem->p2m, s->first_gfn + i, 1);
	free(vec);
	return rc;
}

static void guest_free(struct ept_guest *g)
{
	for (unsigned i = 0; i < g->nr_slots; i++)
		free(g->slot[i].log);
	free(g->quiet);
	free(g->file_page);
	free(g->host_written);
	free(g->pinned);
	free(g);
}

int ept_share__attach(struct ept_share *b, struct ept_mem *mem, int vm_fd,
		      ept_stuck_fn *stuck, void *owner, struct ept_guest **out)
{
	struct ept_guest *g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	*g = (struct ept_guest){ .b = b, .mem = mem, .vm_fd = vm_fd, .stuck_fn = stuck,
				 .owner = owner, .nr_frames = mem->p2m.nr_frames };
	uint64_t words = (g->nr_frames + 63) / 64;
	g->quiet = calloc(words, sizeof(uint64_t));
	g->file_page = calloc(g->nr_frames, sizeof(uint32_t));
	g->host_written = calloc(words, sizeof(uint64_t));
	g->pinned = calloc(words, sizeof(uint64_t));
	int rc = g->quiet && g->file_page && g->host_written && g->pinned ? 0 : -ENOMEM;
	for (unsigned i = 0; rc == 0 && i < mem->nr_regions; i++) {
		const struct ept_region *r = &mem->region[i];
		struct ept_slot *s = &g->slot[g->nr_slots++];
		*s = (struct ept_slot){ .slot = i, .first_gfn = r->gpa / PAGE,
					.nr_pages = r->size / PAGE, .hva = r->hva };
		s->log = calloc((s->nr_pages + 63) / 64, sizeof(uint64_t));
		if (!s->log)
			rc = -ENOMEM;
		g->mappings++;
	}
	if (rc == 0)
		rc = track__start(g);
	for (unsigned i = 0; rc == 0 && i < g->nr_slots; i++)
		rc = mark_resident(g, &g->slot[i]);
	if (rc < 0) {
		guest_free(g);
		return rc;
	}
	l1_lock__acquire(&b->hold_lock);
	l1_lock__acquire(&b->lock);
	g->next = b->guests;
	b->guests = g;
	l1_lock__release(&b->lock);
	l1_lock__release(&b->hold_lock);
	*out = g;
	return 0;
}

void ept_share__detach(struct ept_guest *g)
{
	if (!g)
		return;
	struct ept_share *b = g->b;
	l1_lock__acquire(&b->hold_lock); /* no flush holds g's vCPUs now */
	l1_lock__acquire(&b->lock);
	maps__apply_pending(b); /* none of g's frames stays queued */
	for (struct ept_guest **pp = &b->guests; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	l1_lock__release(&b->lock);
	l1_lock__release(&b->hold_lock);
	guest_free(g);
}

void ept_share__set_hold(struct ept_share *b, const struct ept_hold_ops *ops)
{
	l1_lock__acquire(&b->hold_lock);
	b->hold = *ops;
	l1_lock__release(&b->hold_lock);
}

const void *ept_share__page(struct ept_guest *g, uint64_t gfn)
{
	if (gfn < g->nr_frames && __atomic_load_n(&g->pinned[gfn / 64], __ATOMIC_RELAXED) >>
	    (gfn % 64) & 1)
		return NULL; /* ept_share__queue() checks again, under the lock */
	return share__frame_hva(g, gfn);
}

bool ept_share__wait(struct ept_guest *g)
{
	/* a share of one of g's frames holds the lock from the write protection
	 * to the new mapping: once we have it, the frame is writable (unless g
	 * is stuck, and being ended) */
	l1_lock__acquire(&g->b->lock);
	bool stuck = g->stuck;
	l1_lock__release(&g->b->lock);
	return !stuck;
}

bool ept_share__ram_access(struct ept_guest *g, uint64_t gpa, void *data, uint32_t size,
			   bool is_write)
{
	uint8_t *hva = ept__gpa_ptr(g->mem, gpa, size);
	if (!hva || size == 0)
		return false; /* not RAM: a device's */
	/* once we hold the lock no frame is write-protected: the access is
	 * plain memory (a write to a shared frame copies it on write) */
	l1_lock__acquire(&g->b->lock);
	if (g->stuck) {
		/* the guest is being ended (keep_private): touch nothing */
	} else if (is_write) {
		memcpy(hva, data, size);
		for (uint64_t gfn = gpa / PAGE; gfn <= (gpa + size - 1) / PAGE; gfn++)
			BIT_SET(g->host_written, gfn);
	} else {
		memcpy(data, hva, size);
	}
	l1_lock__release(&g->b->lock);
	return true;
}

double ept_share__since_protect(const struct ept_guest *g)
{
	uint64_t last = __atomic_load_n(&g->b->last_protect_us, __ATOMIC_RELAXED);
	return (double)(clock__mono_ns() / 1000 - last) / 1e6;
}
