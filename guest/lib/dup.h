/* SPDX-License-Identifier: MIT */
/*
 * DOC: page contents for workload=dup, exactly predictable.
 *
 * The region is split into 4 KiB pages, page i of P. Each page has a class:
 *
 *   zero      all words 0
 *   shared    pages that depend on seed and their rank only: distinct within
 *             one VM, and every VM given the same seed holds the same ones
 *             (like a kernel or library image loaded by every guest)
 *   internal  one of DUP_INTERNAL_CONTENTS pages that depend on seed and vm:
 *             repeated within one VM, different in a VM with another vm=
 *   unique    depends on seed, vm, i and the page's generation: no two equal
 *
 * Classes are exact to the page: rank = dup__permute(class key, P, i) is a
 * seeded bijection of [0, P), and ranks [0, Z) are zero, [Z, Z+S) shared,
 * [Z+S, Z+S+I) internal, the rest unique, with Z = P*zero/100 etc. (rounded
 * down). A shared page of rank r holds content number r - Z; an internal
 * page content number (r - Z - S) mod DUP_INTERNAL_CONTENTS.
 *
 * Word w of a page is dup__word(content, w), with content from dup__content():
 * a pure function of (class, seed, vm, content number or index, generation).
 * Kernel-free (stdint only, like pattern.h) so a host-side checker can
 * compute the same pages.
 */
#ifndef L1G_LIB_DUP_H
#define L1G_LIB_DUP_H

#include <stddef.h>
#include <stdint.h>

#include "pattern.h"

#define DUP_PAGE_SIZE         4096
#define DUP_PAGE_WORDS        (DUP_PAGE_SIZE / 8)
#define DUP_INTERNAL_CONTENTS 16

enum dup_class { DUP_ZERO, DUP_SHARED, DUP_INTERNAL, DUP_UNIQUE, DUP_NR_CLASSES };

/* How many pages of each class a region of `pages` starts with. */
struct dup_split {
	uint64_t pages;
	uint64_t count[DUP_NR_CLASSES];
	uint64_t key; /* dup__permute key for the class ranks (from the seed) */
};

/* What a page holds: word w is dup__word(c, w). */
struct dup_content {
	uint64_t key;  /* hash of (class, seed, vm, content number or index, generation) */
	uint64_t mask; /* 0 for a zero page, else all ones */
};

static inline uint64_t dup__word(struct dup_content c, uint64_t w)
{
	return pattern__word(c.key, w) & c.mask;
}

/* A seeded bijection of [0, n): x < n in, a different x < n out (n < 2^62). */
uint64_t dup__permute(uint64_t key, uint64_t n, uint64_t x);

/* The split for pages and the percentages (zero + shared + internal <= 100). */
struct dup_split dup__split(uint64_t seed, uint64_t pages, uint64_t zero_pct,
			    uint64_t shared_pct, uint64_t internal_pct);

/*
 * Initial class of page i (< s->pages). *value is its content number
 * (shared, internal) or 0 (zero, unique: generation 0).
 */
enum dup_class dup__class(const struct dup_split *s, uint64_t i, uint32_t *value);

/*
 * Content of page `index` of class cls: value is the content number for
 * shared and internal pages, the generation for unique ones (ignored for zero).
 */
struct dup_content dup__content(enum dup_class cls, uint64_t seed, uint64_t vm,
				uint64_t index, uint32_t value);

/* Is page i rewritten in mutation round r (1, 2, ...)? Exactly `mutated` of the pages are. */
int dup__mutates(uint64_t seed, uint64_t pages, uint64_t mutated, uint64_t round, uint64_t i);

/* Write one page; the number of mismatching words of one page (*first: index of the first). */
void dup__fill(uint64_t *page, struct dup_content c);
size_t dup__verify(const uint64_t *page, struct dup_content c, size_t *first);

#endif
