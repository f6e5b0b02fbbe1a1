/* SPDX-License-Identifier: MIT */
/* Ranked mutexes and the lock-order checker (lock.h). */
#include "mmu/lock.h"

#include <stdio.h>
#include <stdlib.h>

#define HELD_MAX 16 /* deeper nesting than the memory path has */

struct held {
	const struct l1_lock *lock;
	const char *file;
	int line;
};

/* This thread's ranked locks, in the order taken. */
static _Thread_local struct held held[HELD_MAX];
static _Thread_local unsigned nr_held;

#ifdef L1VMM_LOCK_CHECK
static bool checking = true;
#else
static bool checking;
#endif

static void default_violation(const char *report)
{
	(void)report;
	abort();
}

static void (*on_violation)(const char *report) = default_violation;

void l1_lock__init(struct l1_lock *l, int rank, const char *name)
{
	pthread_mutex_init(&l->mutex, NULL);
	l->rank = rank;
	l->name = name;
}

void l1_lock__destroy(struct l1_lock *l)
{
	pthread_mutex_destroy(&l->mutex);
}

static void violation(const char *report)
{
	fprintf(stderr, "l1vmm: lock order violation: %s\n", report);
	on_violation(report);
}

/* Check that this thread may take l now; report the first lock in the way. */
static void check_order(const struct l1_lock *l, const char *file, int line)
{
	char report[512];
	for (unsigned i = 0; i < nr_held; i++) {
		const struct held *h = &held[i];
		if (h->lock->rank < l->rank)
			continue;
		if (h->lock == l)
			snprintf(report, sizeof(report), "%s taken again at %s:%d (held since %s:%d)",
				 l->name, file, line, h->file, h->line);
		else
			snprintf(report, sizeof(report),
				 "%s (rank %d) taken at %s:%d while holding %s (rank %d) since %s:%d",
				 l->name, l->rank, file, line, h->lock->name, h->lock->rank, h->file,
				 h->line);
		violation(report);
		return;
	}
	if (nr_held == HELD_MAX) {
		snprintf(report, sizeof(report), "%s taken at %s:%d with %d ranked locks held",
			 l->name, file, line, HELD_MAX);
		violation(report);
	}
}

void l1_lock__acquire_at(struct l1_lock *l, const char *file, int line)
{
	bool check = __atomic_load_n(&checking, __ATOMIC_RELAXED);
	if (check)
		check_order(l, file, line);
	pthread_mutex_lock(&l->mutex);
	if (check && nr_held < HELD_MAX)
		held[nr_held++] = (struct held){ .lock = l, .file = file, .line = line };
}

void l1_lock__release(struct l1_lock *l)
{
	/* usually the last one taken; any order is allowed */
	for (unsigned i = nr_held; i-- > 0;) {
		if (held[i].lock != l)
			continue;
		for (unsigned j = i; j + 1 < nr_held; j++)
			held[j] = held[j + 1];
		nr_held--;
		break;
	}
	pthread_mutex_unlock(&l->mutex);
}

bool l1_lock__held(const struct l1_lock *l)
{
	if (!__atomic_load_n(&checking, __ATOMIC_RELAXED))
		return true;
	for (unsigned i = 0; i < nr_held; i++)
		if (held[i].lock == l)
			return true;
	return false;
}

void l1_lock__set_checking(bool on)
{
	__atomic_store_n(&checking, on, __ATOMIC_RELAXED);
}

bool l1_lock__checking(void)
{
	return __atomic_load_n(&checking, __ATOMIC_RELAXED);
}

void l1_lock__set_violation_handler(void (*fn)(const char *report))
{
	on_violation = fn ? fn : default_violation;
}
