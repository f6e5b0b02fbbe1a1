/* SPDX-License-Identifier: MIT */
/*
 * DOC: the clocks l1vmm's host code reads: one definition each.
 *
 * Monotonic time for intervals and deadlines (never the wall clock, which
 * jumps), and the calling thread's CPU time for what a worker costs.
 */
#ifndef L1_MMU_CLOCK_H
#define L1_MMU_CLOCK_H

#include <pthread.h>
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

/*
 * Wait on cv (mutex held) for at most seconds (<= 0: a poll). Condition
 * variables time out on CLOCK_REALTIME by default, so the deadline is taken
 * from it; a jump of the wall clock shortens or stretches this one wait.
 */
static inline void clock__cond_wait(pthread_cond_t *cv, pthread_mutex_t *mutex, double seconds)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t ns = seconds > 0 ? (int64_t)(seconds * 1e9) : 0;
	ns += ts.tv_nsec;
	ts.tv_sec += (time_t)(ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	pthread_cond_timedwait(cv, mutex, &ts);
}

#endif
