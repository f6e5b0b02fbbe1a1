// SPDX-License-Identifier: MIT
#include "compute.h"

uint64_t compute__run(uint64_t iterations, uint64_t seed)
{
	uint64_t x = seed, acc = 0;

	for (uint64_t i = 0; i < iterations; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		acc += x ^ (x >> 29);
		/* Keeps the compiler from folding the loop into a closed form. */
		__asm__ volatile("" : "+r"(acc));
	}
	return acc ^ x;
}
