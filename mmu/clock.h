/* SPDX-License-Identifier: MIT */
/*
 * DOC: the clocks l1vmm's host code reads: one definition each.
 *
 * Monotonic time for intervals and deadlines (never the wall clock, which
 * jumps), and the calling thread's CPU time for what a worker costs.
 */
#ifndef L1_MMU_CLOCK_H
#define L1_MMU_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock__ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Monotonic nanoseconds. */
static inline uint64_t clock__mono_ns(void)
{
	return clock__ns(CLOCK_MONOTONIC);
}

/* Monotonic seconds. */
static inline double clock__mono_s(void)
{
	return (double)clock__mono_ns() / 1e9;
}

/* CPU time of the calling thread, nanoseconds. */
static inline uint64_t clock__thread_cpu_ns(void)
{
	return clock__ns(CLOCK_THREAD_CPUTIME_ID);
}

#endif
