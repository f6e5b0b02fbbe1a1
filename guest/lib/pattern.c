// SPDX-License-Identifier: MIT
/*
 * DOC: pattern fill and verify loops (see pattern.h). Kept free of any guest
 * or host header so both sides build the same code.
 */
#include "pattern.h"

void pattern__fill(uint64_t *words, size_t nwords, uint64_t seed)
{
	for (size_t i = 0; i < nwords; i++)
		words[i] = pattern__word(seed, (uint64_t)(uintptr_t)&words[i]);
}

size_t pattern__verify(const uint64_t *words, size_t nwords, uint64_t seed)
{
	size_t bad = 0;

	for (size_t i = 0; i < nwords; i++)
		bad += words[i] != pattern__word(seed, (uint64_t)(uintptr_t)&words[i]);
	return bad;
}
