/*
 * A CPU's view of a shadow-mode guest for the host-only tests and fuzzers:
 * walk the shadow tables as the hardware would and take shadow__fault()
 * where it would fault.
 */
#ifndef L1_TEST_SHADOW_CPU_H
#define L1_TEST_SHADOW_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu/shadow/shadow.h"
#include "mmu/shadow/shadow_priv.h"

/* The shadow leaf for va (0 when the path is not there). */
static inline uint64_t shadow_cpu__leaf(struct shadow_guest *g, uint64_t va)
{
	uint64_t mfn = g->shadow_root_mfn;
	for (unsigned level = 4; level >= 2; level--) {
		uint64_t e = ((uint64_t *)shadow__mfn_ptr(g->m, mfn))[PT_INDEX(va, level)];
		if (!(e & PTE_P))
			return 0;
		mfn = (e & PTE_ADDR) >> 12;
	}
	return ((uint64_t *)shadow__mfn_ptr(g->m, mfn))[PT_INDEX(va, 1)];
}

/* The machine byte a user-mode access to va reaches, faulting in as the CPU
 * would; NULL when a fault is not fixed or the access never gets through. */
static inline uint8_t *shadow_cpu__byte(struct shadow_guest *g, uint64_t va, bool write)
{
	for (int tries = 0; tries < 3; tries++) {
		uint64_t e = shadow_cpu__leaf(g, va);
		if ((e & PTE_P) && (!write || (e & PTE_RW)))
			return (uint8_t *)shadow__mfn_ptr(g->m, (e & PTE_ADDR) >> 12) + va % 4096;
		if (shadow__fault(g, va, write ? 2u | 4u : 4u) != SHADOW_FIXED)
			return NULL;
	}
	return NULL;
}

#endif
