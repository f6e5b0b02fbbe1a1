/* SPDX-License-Identifier: MIT */
/*
 * DOC: runs of frame numbers: sort a list, then walk it run by run.
 *
 * The memory path batches: one host call per run of nearby frames, never one
 * per frame (a discard, a write protection, a TLB flush). Every such batch
 * sorts its frame numbers and cuts them into runs here. A run is a maximal
 * stretch of the sorted list whose neighbours are at most gap apart:
 * gap 1 gives runs of consecutive frames, gap k runs of extents of k frames
 * laid end to end, a larger gap bridges holes a single call may cover
 * anyway (a flush). Duplicates join their run.
 */
#ifndef L1_MMU_RUNS_H
#define L1_MMU_RUNS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static inline int runs__cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Sort v[0, n) ascending. */
static inline void runs__sort(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), runs__cmp);
}

/*
 * The run of sorted v[0, n) that starts at index i (< n): *first and *last
 * are its smallest and largest values; returns the index after it.
 */
static inline size_t runs__next(const uint64_t *v, size_t n, size_t i, uint64_t gap,
				uint64_t *first, uint64_t *last)
{
	*first = *last = v[i];
	while (++i < n && v[i] - *last <= gap)
		*last = v[i];
	return i;
}

#endif
