/* SPDX-License-Identifier: MIT */
/*
 * DOC: the task-side library: system calls, printf, tasks, events, time.
 *
 * Everything here runs at CPL3, natively and fast; the kernel is entered
 * only for what needs it (one SYS_WRITE per printf, not per character).
 */
#ifndef L1G_USER_USER_H
#define L1G_USER_USER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "include/uapi.h"
#include "lib/cpu.h"
#include "pvops/l1vmm_abi.h"

static inline int64_t sys__call(uint64_t nr, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	int64_t ret;

	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "c"(d)
			 : "memory");
	return ret;
}

static inline int64_t sys__write(const void *buf, size_t len)
{
	return sys__call(SYS_WRITE, (uint64_t)buf, len, 0, 0);
}

__attribute__((noreturn)) static inline void sys__exit(int64_t status)
{
	sys__call(SYS_EXIT, (uint64_t)status, 0, 0, 0);
	__builtin_unreachable();
}

/* Shadow mode's kernel-side probes (L1G_PVT_*); -L1G_ENOSYS in ept mode. */
static inline int64_t sys__pvtest(uint64_t which, uint64_t arg)
{
	return sys__call(SYS_PVTEST, which, arg, 0, 0);
}

static inline int64_t sys__yield(void)
{
	return sys__call(SYS_YIELD, 0, 0, 0, 0);
}

static inline int64_t sys__wait(volatile uint64_t *addr, uint64_t expected)
{
	return sys__call(SYS_WAIT, (uint64_t)addr, expected, 0, 0);
}

static inline int64_t sys__wake(volatile uint64_t *addr, uint64_t max)
{
	return sys__call(SYS_WAKE, (uint64_t)addr, max, 0, 0);
}

static inline uint64_t sys__ticks(void)
{
	return (uint64_t)sys__call(SYS_TICKS, 0, 0, 0, 0);
}

static inline int64_t sys__sleep_until(uint64_t tick)
{
	return sys__call(SYS_SLEEP_UNTIL, tick, 0, 0, 0);
}

static inline int64_t sys__mem_alloc(uint64_t bytes)
{
	return sys__call(SYS_MEM_ALLOC, bytes, 0, 0, 0);
}

static inline int64_t sys__mem_free(uint64_t addr)
{
	return sys__call(SYS_MEM_FREE, addr, 0, 0, 0);
}

static inline int64_t sys__info(struct l1g_info *info)
{
	return sys__call(SYS_INFO, (uint64_t)info, 0, 0, 0);
}

__attribute__((noreturn)) static inline void sys__poweroff(uint32_t code)
{
	sys__call(SYS_POWEROFF, code, 0, 0, 0);
	__builtin_unreachable();
}

static inline int64_t sys__ktest(uint64_t which)
{
	return sys__call(SYS_KTEST, which, 0, 0, 0);
}

static inline int64_t sys__set_hz(uint64_t hz)
{
	return sys__call(SYS_SET_HZ, hz, 0, 0, 0);
}

static inline int64_t sys__crash(void)
{
	return sys__call(SYS_CRASH, 0, 0, 0, 0);
}

/* l1vmm's CPUID on this task's CPU: 0, or -L1G_ENOSYS (an older l1vmm). */
static inline int64_t sys__cpuid(uint64_t leaf, uint64_t subleaf, uint32_t regs[4])
{
	return sys__call(SYS_CPUID, leaf, subleaf, (uint64_t)regs, 0);
}

static inline int64_t sys__apf_stats(struct l1g_apf_stats *s)
{
	return sys__call(SYS_APF_STATS, (uint64_t)s, 0, 0, 0);
}

static inline uint64_t sys__self(void)
{
	return (uint64_t)sys__call(SYS_SELF, 0, 0, 0, 0);
}

/* ulib.c */
extern struct l1g_info user__info; /* filled by user__main before any workload */

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

__attribute__((noreturn)) void user__assert_fail(const char *file, int line, const char *expr);
#define assert(e) ((e) ? (void)0 : user__assert_fail(__FILE__, __LINE__, #e))

/* A new task running fn(arg) on cpu (-1: spread). Returns its tid or -L1G_E*. */
int64_t task__spawn(int64_t (*fn)(uint64_t), uint64_t arg, int cpu);
/* Wait for a task to end and return its status (or -L1G_E*). */
int64_t task__join(int64_t tid);

/* An event: waiters sleep in the kernel until the count moves on. */
struct event {
	volatile uint64_t count;
};
/* Sleep until ev->count != seen (seen: a value read earlier). */
void event__wait(struct event *ev, uint64_t seen);
/* Bump the count and wake every waiter. Returns how many were asleep. */
int64_t event__signal(struct event *ev);

/* TSC cycles to microseconds (user__info.tsc_khz; 0 if unknown). */
uint64_t time__cycles_to_us(uint64_t cycles);

#endif
