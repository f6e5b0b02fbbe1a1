// SPDX-License-Identifier: MIT
/*
 * DOC: workload=dup's page contents (see dup.h). Every key is a chain of
 * pattern__word (splitmix64) over a per-class tag and the inputs, so the
 * classes cannot produce each other's pages except by a 64-bit collision.
 */
#include "dup.h"

/* Domain tags: "dupclass", "dupmutat", "dupshare", "dupinter", "dupuniqu" */
#define TAG_CLASS    0x647570636c617373ull
#define TAG_MUTATE   0x6475706d75746174ull
#define TAG_SHARED   0x6475707368617265ull
#define TAG_INTERNAL 0x647570696e746572ull
#define TAG_UNIQUE   0x647570756e697175ull

#define FEISTEL_ROUNDS 4

static uint64_t hash(uint64_t a, uint64_t b)
{
	return pattern__word(a, b);
}

/*
 * A balanced Feistel network on [0, 4^half) with 4^half >= n is a
 * bijection; walking the cycle until the value falls below n again restricts
 * it to a bijection of [0, n) (at most ~4 steps on average, as 4^half < 4n).
 */
uint64_t dup__permute(uint64_t key, uint64_t n, uint64_t x)
{
	unsigned int half = 1;
	uint64_t mask;

	while (half < 31 && (1ull << (2 * half)) < n)
		half++;
	mask = (1ull << half) - 1;
	do {
		uint64_t l = x >> half, r = x & mask;

		for (unsigned int round = 0; round < FEISTEL_ROUNDS; round++) {
			uint64_t t = l ^ (hash(key + round, r) & mask);

			l = r;
			r = t;
		}
		x = l << half | r;
	} while (x >= n);
	return x;
}

struct dup_split dup__split(uint64_t seed, uint64_t pages, uint64_t zero_pct,
			    uint64_t shared_pct, uint64_t internal_pct)
{
	struct dup_split s = {
		.pages = pages,
		.count = {
			[DUP_ZERO] = pages * zero_pct / 100,
			[DUP_SHARED] = pages * shared_pct / 100,
			[DUP_INTERNAL] = pages * internal_pct / 100,
		},
		.key = hash(seed ^ TAG_CLASS, 0),
	};

	s.count[DUP_UNIQUE] = pages - s.count[DUP_ZERO] - s.count[DUP_SHARED] - s.count[DUP_INTERNAL];
	return s;
}

enum dup_class dup__class(const struct dup_split *s, uint64_t i, uint32_t *value)
{
	uint64_t rank = dup__permute(s->key, s->pages, i);

	*value = 0;
	if (rank < s->count[DUP_ZERO])
		return DUP_ZERO;
	rank -= s->count[DUP_ZERO];
	if (rank < s->count[DUP_SHARED]) {
		*value = (uint32_t)rank;
		return DUP_SHARED;
	}
	rank -= s->count[DUP_SHARED];
	if (rank < s->count[DUP_INTERNAL]) {
		*value = (uint32_t)(rank % DUP_INTERNAL_CONTENTS);
		return DUP_INTERNAL;
	}
	return DUP_UNIQUE;
}

struct dup_content dup__content(enum dup_class cls, uint64_t seed, uint64_t vm,
				uint64_t index, uint32_t value)
{
	switch (cls) {
	case DUP_SHARED:
		return (struct dup_content){ .key = hash(seed ^ TAG_SHARED, value), .mask = ~0ull };
	case DUP_INTERNAL:
		return (struct dup_content){ .key = hash(hash(seed ^ TAG_INTERNAL, vm), value),
					     .mask = ~0ull };
	case DUP_UNIQUE:
		return (struct dup_content){
			.key = hash(hash(hash(seed ^ TAG_UNIQUE, vm), index), value), .mask = ~0ull };
	default:
		return (struct dup_content){ .key = 0, .mask = 0 };
	}
}

int dup__mutates(uint64_t seed, uint64_t pages, uint64_t mutated, uint64_t round, uint64_t i)
{
	return dup__permute(hash(seed ^ TAG_MUTATE, round), pages, i) < mutated;
}

void dup__fill(uint64_t *page, struct dup_content c)
{
	for (size_t w = 0; w < DUP_PAGE_WORDS; w++)
		page[w] = dup__word(c, w);
}

size_t dup__verify(const uint64_t *page, struct dup_content c, size_t *first)
{
	size_t bad = 0;

	for (size_t w = 0; w < DUP_PAGE_WORDS; w++) {
		if (page[w] != dup__word(c, w) && !bad++)
			*first = w;
	}
	return bad;
}
