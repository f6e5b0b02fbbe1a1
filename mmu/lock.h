/* SPDX-License-Identifier: MIT */
/*
 * DOC: ranked mutexes for the memory path, and the lock-order checker.
 *
 * The memory path nests locks: the balloon core, page sharing's host and
 * engine, the p2m, a backend (docs/locking.md has the order and why). Each
 * such mutex is a struct l1_lock with a rank; a thread may take a ranked lock
 * only while every ranked lock it holds has a lower rank. A deadlock between
 * two threads needs one of them to break that rule, so checking the rule on
 * every acquire finds an inversion the first time its code runs, not the one
 * time in a thousand that the interleaving bites (the idea of Linux's
 * lockdep, without its lock classes learned at run time: ranks are written
 * down here).
 *
 * Checking keeps a per-thread record of the ranked locks held. It is on in
 * the sanitizer build (L1VMM_LOCK_CHECK, which CI runs) and off otherwise,
 * where l1_lock__acquire() is pthread_mutex_lock() and one branch. A
 * violation prints both locks and where each was taken, and aborts.
 *
 * Waiting on a condition variable under an l1_lock: pass &lock->mutex to
 * pthread_cond_wait(); the record is the thread's, and the lock is held
 * again when the wait returns.
 */
#ifndef L1_MMU_LOCK_H
#define L1_MMU_LOCK_H

#include <pthread.h>
#include <stdbool.h>

/* Lower ranks are taken first. Gaps leave room for locks to come. */
enum l1_lock_rank {
	L1_RANK_BALLOON = 10,       /* balloon/balloon.c: a VM's balloon core */
	L1_RANK_DEDUP_HOST = 20,    /* l1vmm/dedup_host.c: knobs, engines, waiting VMs */
	L1_RANK_DEDUP_SCANNER = 25, /* dedup/scanner.c: the scanner's settings and jobs */
	L1_RANK_DEDUP_SYNC = 30,    /* dedup/scanner.c: one backend sync at a time */
	L1_RANK_BACKEND_HOLD = 35,  /* mmu/ept/: ept sharing's guest list while it holds vCPUs */
	L1_RANK_DEDUP_ENGINE = 40,  /* dedup/: an engine's tables and copies */
	L1_RANK_P2M = 50,           /* mmu/p2m.c: a guest's frame states */
	L1_RANK_BACKEND = 60,       /* a sharing backend: ept's copy store, shadow's VM list */
};

struct l1_lock {
	pthread_mutex_t mutex;
	int rank;                /* enum l1_lock_rank; fixed */
	const char *name;        /* for violation reports; fixed */
};

#define L1_LOCK_INITIALIZER(rank_, name_) \
	{ .mutex = PTHREAD_MUTEX_INITIALIZER, .rank = (rank_), .name = (name_) }

void l1_lock__init(struct l1_lock *l, int rank, const char *name);
void l1_lock__destroy(struct l1_lock *l);

#define l1_lock__acquire(l) l1_lock__acquire_at((l), __FILE__, __LINE__)
void l1_lock__acquire_at(struct l1_lock *l, const char *file, int line);
void l1_lock__release(struct l1_lock *l);

/* Whether this thread holds l; true whenever checking is off (no record). */
bool l1_lock__held(const struct l1_lock *l);

/* Checking on or off for the whole process (default: L1VMM_LOCK_CHECK). Turn
 * it on or off only while no thread holds a ranked lock. */
void l1_lock__set_checking(bool on);
bool l1_lock__checking(void);

/* What a violation does after printing it (default: abort()). For tests. */
void l1_lock__set_violation_handler(void (*fn)(const char *report));

#endif
