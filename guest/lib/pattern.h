/* SPDX-License-Identifier: MIT */
/*
 * DOC: seeded memory pattern, identical in the guest and on the host.
 *
 * Each 8-byte word holds pattern__word(seed, its address): splitmix64 of
 * (seed ^ address). Any lost, stale or misplaced page shows up as mismatching
 * words. No dependency beyond <stdint.h>/<stddef.h>: the host-side benchmark
 * compiles this very file to run the same loops natively.
 */
#ifndef L1G_LIB_PATTERN_H
#define L1G_LIB_PATTERN_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t pattern__word(uint64_t seed, uint64_t addr)
{
	uint64_t z = (seed ^ addr) + 0x9e3779b97f4a7c15ull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Fill words[0, nwords) with the pattern for seed. */
void pattern__fill(uint64_t *words, size_t nwords, uint64_t seed);
/* Number of words in words[0, nwords) that differ from the pattern for seed. */
size_t pattern__verify(const uint64_t *words, size_t nwords, uint64_t seed);

#endif
