/* SPDX-License-Identifier: MIT */
/* The scanner thread (scanner.h). */
#include "dedup/scanner.h"

#include <errno.h>

#include "mmu/clock.h"

void dedup_scanner__init(struct dedup_scanner *s)
{
	*s = (struct dedup_scanner){ 0 };
	l1_lock__init(&s->lock, L1_RANK_DEDUP_SCANNER, "dedup scanner");
	l1_lock__init(&s->sync_lock, L1_RANK_DEDUP_SYNC, "dedup sync");
	pthread_cond_init(&s->cv, NULL);
}

void dedup_scanner__destroy(struct dedup_scanner *s)
{
	pthread_cond_destroy(&s->cv);
	l1_lock__destroy(&s->sync_lock);
	l1_lock__destroy(&s->lock);
}

int dedup_scanner__add(struct dedup_scanner *s, const struct dedup_scan_job *j)
{
	l1_lock__acquire(&s->lock);
	int rc = -ENOSPC;
	if (s->nr_jobs < DEDUP_SCANNER_MAX_JOBS) {
		s->job[s->nr_jobs++] = *j;
		rc = 0;
	}
	l1_lock__release(&s->lock);
	return rc;
}

void dedup_scanner__set(struct dedup_scanner *s, uint64_t pages_to_scan, uint64_t sleep_ms,
			bool run)
{
	l1_lock__acquire(&s->lock);
	s->pages_to_scan = pages_to_scan;
	s->sleep_ms = sleep_ms;
	s->run = run;
	pthread_cond_broadcast(&s->cv);
	l1_lock__release(&s->lock);
}

/* One job's sync, timed as the engine's scan CPU time; s->sync_lock held. */
static void sync_job(const struct dedup_scan_job *j, bool periodic)
{
	uint64_t t0 = clock__thread_cpu_ns();
	if (periodic && j->sync_periodic)
		j->sync_periodic(j->ctx, j->e);
	else
		j->sync(j->ctx, j->e);
	dedup__add_scan_cpu(j->e, clock__thread_cpu_ns() - t0);
}

/* A copy of the jobs (s->lock held): they run without it. Their number. */
static unsigned copy_jobs(const struct dedup_scanner *s, struct dedup_scan_job *jobs)
{
	for (unsigned i = 0; i < s->nr_jobs; i++)
		jobs[i] = s->job[i];
	return s->nr_jobs;
}

static void *scanner(void *arg)
{
	struct dedup_scanner *s = arg;
	if (s->thread_start)
		s->thread_start();
	l1_lock__acquire(&s->lock);
	while (!s->stop) {
		uint64_t pages = s->pages_to_scan;
		double sleep_s = (double)s->sleep_ms / 1000.0;
		struct dedup_scan_job jobs[DEDUP_SCANNER_MAX_JOBS];
		unsigned nr = s->run ? copy_jobs(s, jobs) : 0;
		l1_lock__release(&s->lock);
		for (unsigned i = 0; i < nr; i++) {
			l1_lock__acquire(&s->sync_lock);
			sync_job(&jobs[i], true);
			dedup__scan(jobs[i].e, pages); /* counts its own time */
			uint64_t t0 = clock__thread_cpu_ns();
			if (jobs[i].scan_end)
				jobs[i].scan_end(jobs[i].ctx);
			dedup__add_scan_cpu(jobs[i].e, clock__thread_cpu_ns() - t0);
			l1_lock__release(&s->sync_lock);
		}
		l1_lock__acquire(&s->lock);
		if (!s->stop)
			clock__cond_wait(&s->cv, &s->lock.mutex, sleep_s);
	}
	l1_lock__release(&s->lock);
	return NULL;
}

int dedup_scanner__start(struct dedup_scanner *s)
{
	l1_lock__acquire(&s->lock);
	int rc = 0;
	if (!s->started) {
		s->stop = false;
		rc = -pthread_create(&s->thread, NULL, scanner, s);
		s->started = rc == 0;
	}
	l1_lock__release(&s->lock);
	return rc;
}

void dedup_scanner__stop(struct dedup_scanner *s)
{
	l1_lock__acquire(&s->lock);
	bool started = s->started;
	s->stop = true;
	pthread_cond_broadcast(&s->cv);
	l1_lock__release(&s->lock);
	if (started)
		pthread_join(s->thread, NULL);
	l1_lock__acquire(&s->lock);
	s->started = false;
	s->stop = false;
	l1_lock__release(&s->lock);
}

bool dedup_scanner__running(struct dedup_scanner *s)
{
	l1_lock__acquire(&s->lock);
	bool r = s->started;
	l1_lock__release(&s->lock);
	return r;
}

void dedup_scanner__sync(struct dedup_scanner *s)
{
	struct dedup_scan_job jobs[DEDUP_SCANNER_MAX_JOBS];
	l1_lock__acquire(&s->lock);
	unsigned nr = copy_jobs(s, jobs);
	l1_lock__release(&s->lock);
	for (unsigned i = 0; i < nr; i++) {
		l1_lock__acquire(&s->sync_lock);
		sync_job(&jobs[i], false);
		l1_lock__release(&s->sync_lock);
	}
}
