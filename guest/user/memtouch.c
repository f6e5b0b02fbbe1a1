// SPDX-License-Identifier: MIT
/*
 * DOC: workload=memtouch size=SIZE [seed=N] [passes=N] [tasks=N].
 *
 * SIZE bytes of user memory are split into one slice per task (each its own
 * SYS_MEM_ALLOC region, so no single huge contiguous run is needed). Each
 * pass spawns the tasks to fill their slices with the seeded pattern
 * (lib/pattern.c: every word a function of seed and its address), joins
 * them, then spawns them again to verify. Write and verify rates are bytes
 * over the wall time of each phase, all tasks together (MB = 10^6 bytes).
 * Fails on any mismatching word or if SIZE cannot be allocated.
 */
#include "lib/pattern.h"
#include "user/user.h"
#include "user/workload.h"

#define MAX_TASKS 64

static const char *const memtouch_keys[] = { "size", "seed", "passes", "tasks", NULL };

struct slice {
	uint64_t *words;
	uint64_t nwords;
	uint64_t region;   /* SYS_MEM_ALLOC address, to free */
	uint64_t seed;
	uint64_t mismatches;
};

static struct slice slices[MAX_TASKS];

static int64_t fill_task(uint64_t arg)
{
	struct slice *s = (struct slice *)arg;

	pattern__fill(s->words, s->nwords, s->seed);
	return 0;
}

static int64_t verify_task(uint64_t arg)
{
	struct slice *s = (struct slice *)arg;

	s->mismatches = pattern__verify(s->words, s->nwords, s->seed);
	return 0;
}

/* Run fn on every slice in parallel; returns the elapsed TSC cycles or 0 on error. */
static uint64_t phase(int64_t (*fn)(uint64_t), unsigned int ntasks, struct result *r)
{
	int64_t tids[MAX_TASKS];
	uint64_t t0 = cpu__rdtsc();

	for (unsigned int i = 0; i < ntasks; i++) {
		tids[i] = task__spawn(fn, (uint64_t)&slices[i], -1);
		if (tids[i] < 0) {
			result__fail(r, "cannot spawn task %u: error %ld", i, tids[i]);
			while (i--)
				task__join(tids[i]);
			return 0;
		}
	}
	for (unsigned int i = 0; i < ntasks; i++) {
		int64_t st = task__join(tids[i]);

		if (st != 0 && !r->reason[0])
			result__fail(r, "task %ld ended with status %#lx", tids[i], st);
	}
	return r->reason[0] ? 0 : cpu__rdtsc() - t0 + 1;
}

static uint64_t mbps(uint64_t bytes, uint64_t cycles)
{
	uint64_t us = time__cycles_to_us(cycles);

	return us ? bytes / us : 0;
}

static enum workload_result memtouch_run(const struct args *a, struct result *r)
{
	uint64_t size, seed, passes, ntasks, nwords, wcycles = 0, vcycles = 0, bad = 0;
	unsigned int allocated = 0;
	enum workload_result rc = W_PASS;

	if (!args__get(a, "size")) {
		args__bad("workload=memtouch needs size=SIZE");
		return W_BADARG;
	}
	if (args__size(a, "size", 0, 8, 1ull << 46, &size) ||
	    args__u64(a, "seed", 1, 0, UINT64_MAX, &seed) ||
	    args__u64(a, "passes", 1, 1, 1000, &passes) ||
	    args__u64(a, "tasks", user__info.nr_cpus * 2 < 2 ? 2 : user__info.nr_cpus * 2, 1,
		      MAX_TASKS, &ntasks))
		return W_BADARG;
	if (size % 8) {
		args__bad("size=%lu is not a multiple of 8 bytes", size);
		return W_BADARG;
	}
	nwords = size / 8;
	if (ntasks > nwords)
		ntasks = nwords;

	for (unsigned int i = 0; i < ntasks; i++) {
		uint64_t n = nwords / ntasks + (i == ntasks - 1 ? nwords % ntasks : 0);
		int64_t region = sys__mem_alloc(n * 8);

		if (region < 0) {
			rc = result__fail(r, "cannot allocate %lu bytes: slice %u of %lu bytes: error %ld "
					  "(%lu bytes free at boot)", size, i, n * 8, region,
					  user__info.user_free);
			goto out;
		}
		slices[i] = (struct slice){ .words = (uint64_t *)region, .nwords = n, .region = (uint64_t)region };
		allocated++;
	}

	for (uint64_t p = 0; p < passes; p++) {
		uint64_t w, v;

		for (unsigned int i = 0; i < ntasks; i++)
			slices[i].seed = seed + p;
		w = phase(fill_task, ntasks, r);
		v = w ? phase(verify_task, ntasks, r) : 0;
		if (!w || !v) {
			rc = W_FAIL;
			goto out;
		}
		wcycles += w;
		vcycles += v;
		for (unsigned int i = 0; i < ntasks; i++)
			bad += slices[i].mismatches;
	}
	printf("memtouch: size=%lu tasks=%lu passes=%lu mismatches=%lu write_MBps=%lu verify_MBps=%lu\n",
	       size, ntasks, passes, bad, mbps(size * passes, wcycles), mbps(size * passes, vcycles));
	if (bad)
		rc = result__fail(r, "%lu mismatching words", bad);
out:
	for (unsigned int i = 0; i < allocated; i++)
		sys__mem_free(slices[i].region);
	return rc;
}

const struct workload workload__memtouch = {
	.name = "memtouch",
	.keys = memtouch_keys,
	.run = memtouch_run,
};
