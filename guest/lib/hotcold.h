/* SPDX-License-Identifier: MIT */
/*
 * DOC: the page contents of workload=hotcold, identical in the guest and on
 * the host.
 *
 * A host reclaim store compresses guest pages, so a test load full of random
 * bytes would tell nothing (nothing compresses) and one full of zeros would
 * tell nothing either (everything does). Each page here is made like the
 * memory of a real program: its 512 words come in 32 runs of 16, and each
 * run is, by a hash of (seed, page, version, run), one of
 *   zeros, counters (page * 512 + word + version), kernel-like pointers
 *   (0xffff888000000000 | 28 random bits, 8-aligned), or random words;
 * and one page in 16 is one repeated byte (a pattern page of a store).
 * Every word still depends on (seed, page, version), so a lost, stale or
 * misplaced page shows up as mismatching words, except in the zero runs,
 * which are the same everywhere (a page is never all zero runs: run 0 is
 * never zero).
 *
 * No dependency beyond <stdint.h>/<stddef.h>: the host's benchmarks and
 * tests include this very file.
 */
#ifndef L1G_LIB_HOTCOLD_H
#define L1G_LIB_HOTCOLD_H

#include <stddef.h>
#include <stdint.h>

#define HOTCOLD_PAGE_WORDS 512u
#define HOTCOLD_RUN_WORDS 16u

static inline uint64_t hotcold__mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The hash every word of page (seed, page, version) derives from. */
static inline uint64_t hotcold__page_hash(uint64_t seed, uint64_t page, uint64_t version)
{
	return hotcold__mix(seed ^ hotcold__mix(page * 0x100000001b3ull + version));
}

/* Word w (0..511) of the page. */
static inline uint64_t hotcold__word(uint64_t seed, uint64_t page, uint64_t version, unsigned w)
{
	uint64_t h = hotcold__page_hash(seed, page, version);
	unsigned run = w / HOTCOLD_RUN_WORDS;
	uint64_t x;

	if ((h & 15) == 0) /* a page of one repeated byte */
		return 0x0101010101010101ull * ((h >> 8) & 0xff);
	x = hotcold__mix(h ^ (0xd6e8feb86659fd93ull * (w + 1)));
	switch (run == 0 ? 3 : hotcold__mix(h + run) & 3) {
	case 0:
		return 0;
	case 1:
		return page * HOTCOLD_PAGE_WORDS + w + version;
	case 2:
		return 0xffff888000000000ull | (x & 0xffffff8ull);
	default:
		return x;
	}
}

/* Fill the 4 KiB page at words with page (seed, page, version). */
static inline void hotcold__fill(uint64_t *words, uint64_t seed, uint64_t page, uint64_t version)
{
	for (unsigned w = 0; w < HOTCOLD_PAGE_WORDS; w++)
		words[w] = hotcold__word(seed, page, version, w);
}

/* Words of the page at words that differ from (seed, page, version). */
static inline unsigned hotcold__verify(const uint64_t *words, uint64_t seed, uint64_t page,
				       uint64_t version)
{
	unsigned bad = 0;

	for (unsigned w = 0; w < HOTCOLD_PAGE_WORDS; w++)
		bad += words[w] != hotcold__word(seed, page, version, w);
	return bad;
}

#endif
