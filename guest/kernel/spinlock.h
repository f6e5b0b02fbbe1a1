/* SPDX-License-Identifier: MIT */
/*
 * DOC: spinlocks.
 *
 * The kernel runs with interrupts off (every gate is an interrupt gate), so
 * a lock is never taken twice on one CPU by an interrupt; spinlocks only
 * guard against the other CPUs. Lock order: tasks_lock -> futex_lock ->
 * runqueue lock; mm_lock and console_lock are leaves.
 */
#ifndef L1G_KERNEL_SPINLOCK_H
#define L1G_KERNEL_SPINLOCK_H

#include <stdint.h>

struct spinlock {
	volatile uint32_t locked;
};

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline void spin__lock(struct spinlock *l)
{
	/* xchg is a full barrier: pairs with the release store in spin__unlock. */
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (l->locked)
			cpu_relax();
}

static inline void spin__unlock(struct spinlock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

#endif
