/* SPDX-License-Identifier: MIT */
/*
 * DOC: the scanner thread: one thread scans for every sharing engine.
 *
 * Every sleep_millisecs, for each engine in turn (a job): the backend's
 * sync (it records what the guests wrote), dedup__scan() of pages_to_scan
 * frames, and the backend's scan_end (it applies what the scan batched).
 * The three are one unit under the sync lock: a statistics reader's sync
 * (dedup_scanner__sync) must not harvest between a share the scan queued
 * and the scan_end that applies it, or it would take a write made before
 * the share for a break of it. A setting's change wakes the thread.
 *
 * Locking: s->lock (rank L1_RANK_DEDUP_SCANNER) protects the settings, the
 * jobs and the thread's state, and is never held across a job;
 * s->sync_lock (L1_RANK_DEDUP_SYNC) is held across one job's unit. The
 * caller may hold a lock of lower rank (the host's, L1_RANK_DEDUP_HOST).
 */
#ifndef L1_DEDUP_SCANNER_H
#define L1_DEDUP_SCANNER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dedup/dedup.h"
#include "mmu/lock.h"

#define DEDUP_SCANNER_MAX_JOBS 4

/* One engine and its backend's two steps around a scan. */
struct dedup_scan_job {
	struct dedup *e;
	void (*sync)(void *ctx, struct dedup *e); /* record what the guests wrote */
	/* the scanner's own sync before each batch, if set (else sync): may put
	 * off work a batch can do without (dedup_scanner__sync() calls sync) */
	void (*sync_periodic)(void *ctx, struct dedup *e);
	void (*scan_end)(void *ctx);              /* apply what the scan batched; may be NULL */
	void *ctx;
};

struct dedup_scanner {
	struct l1_lock lock;
	struct l1_lock sync_lock;
	pthread_cond_t cv;       /* wakes the thread: a setting changed, or stop */
	uint64_t pages_to_scan, sleep_ms;
	bool run;
	struct dedup_scan_job job[DEDUP_SCANNER_MAX_JOBS];
	unsigned nr_jobs;
	bool started, stop;
	pthread_t thread;
	/* called first in the thread, if set (l1vmm confines it: l1vmm/sandbox.h) */
	void (*thread_start)(void);
};

/* Not running, no jobs, run off. */
void dedup_scanner__init(struct dedup_scanner *s);
/* Stopped first. */
void dedup_scanner__destroy(struct dedup_scanner *s);
/* Scan j's engine from the next round on. 0, or -ENOSPC. */
int dedup_scanner__add(struct dedup_scanner *s, const struct dedup_scan_job *j);
/* The settings (dedup/pages_to_scan, sleep_millisecs, run); wakes the thread. */
void dedup_scanner__set(struct dedup_scanner *s, uint64_t pages_to_scan, uint64_t sleep_ms,
			bool run);
/* Start the thread (again after a stop). 0 or -errno. */
int dedup_scanner__start(struct dedup_scanner *s);
/* Stop the thread and wait for it; a job under way finishes first. */
void dedup_scanner__stop(struct dedup_scanner *s);
bool dedup_scanner__running(struct dedup_scanner *s);
/* Run every job's sync now, one at a time with the thread's units, and count
 * its CPU time as the engine's scan time (counters are exact afterwards). */
void dedup_scanner__sync(struct dedup_scanner *s);

#endif
