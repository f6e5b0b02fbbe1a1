/*
 * What the balloon fuzzers expect guest memory to hold: the first byte of up
 * to PAGE_MODEL_MAX pages the guest wrote, zero once an inflate took them;
 * and the balloon gfn lists their steps write.
 */
#ifndef L1_FUZZ_PAGE_MODEL_H
#define L1_FUZZ_PAGE_MODEL_H

#include <stdint.h>

#define PAGE_MODEL_MAX 64

struct page_model {
	uint64_t gfn[PAGE_MODEL_MAX];
	uint8_t byte[PAGE_MODEL_MAX];
	unsigned n;
};

/* The slot of gfn (a new one while there is room), or -1. */
int page_model__slot(const struct page_model *m, uint64_t gfn);
/* The guest wrote v at the first byte of gfn, whose slot is slot. */
void page_model__wrote(struct page_model *m, int slot, uint64_t gfn, uint8_t v);
/* An inflate took the n extents of 2^order frames at list[]: they read zero. */
void page_model__inflated(struct page_model *m, const uint64_t *list, uint64_t n,
			  unsigned order);

/*
 * A step's extents into list[512] (nr_frames of RAM): n = 1 + x % 512 from
 * index (x >> 9) % 512 on, of order c % 10, either aligned runs from y with a
 * stride of 1 to 4 extents (most of them acceptable), or y + i * z (b & 0x80).
 */
void balloon_list__fill(uint64_t *list, uint64_t nr_frames, uint8_t b, uint8_t c, uint32_t x,
			uint64_t y, uint64_t z);

#endif
