/* SPDX-License-Identifier: MIT */
/*
 * DOC: unprivileged x86 instructions, usable at any CPL.
 */
#ifndef L1G_LIB_CPU_H
#define L1G_LIB_CPU_H

#include <stdint.h>

static inline void cpu__cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}

/* The 12-character signature of a hypervisor leaf (ebx, ecx, edx of r) into
 * sig[13], anything unprintable shown as '.'. */
static inline void cpu__signature(const uint32_t r[4], char sig[13])
{
	for (int i = 0; i < 12; i++) {
		char ch = (char)(r[1 + i / 4] >> (8 * (i % 4)));

		sig[i] = ch >= 0x20 && ch < 0x7f ? ch : '.';
	}
	sig[12] = '\0';
}

static inline uint64_t cpu__rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* a * b / c without overflow in the product (c != 0, result fits 64 bits). */
static inline uint64_t cpu__muldiv(uint64_t a, uint64_t b, uint64_t c)
{
	unsigned __int128 p = (unsigned __int128)a * b;
	uint64_t hi = (uint64_t)(p >> 64), lo = (uint64_t)p, q, r;

	if (hi >= c)
		return UINT64_MAX; /* would not fit: saturate instead of #DE */
	__asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(c));
	(void)r;
	return q;
}

#endif
