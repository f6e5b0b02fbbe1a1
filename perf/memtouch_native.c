/* SPDX-License-Identifier: MIT */
/*
 * DOC: memtouch_native: the guest's memtouch workload, run natively on the host.
 *
 * It does what guest/user/memtouch.c does, with the very same fill and
 * verify loops (guest/lib/pattern.c, compiled from the same file with the
 * guest's code-generation flags), and prints the guest's line:
 *
 *   memtouch: size=BYTES tasks=T passes=P mismatches=M write_MBps=X verify_MBps=Y
 *
 * so that perf/run.sh can put the two side by side. As in the guest: SIZE
 * bytes are split into one slice per task, each its own fresh mapping (so
 * the first pass also pays for first-touch faults, on both sides); each pass
 * starts the tasks to fill their slices with seed + pass, joins them, then
 * starts them again to verify; a rate is the bytes of all passes over the wall
 * time of that phase, thread start and join included, MB = 10^6 bytes,
 * rounded down. Host threads stand in for guest tasks, and cpus=N keeps them
 * on N host CPUs, as many as the guest had vCPUs: the guest's tasks share its
 * vCPUs, and the native run must not get more CPUs than the guest had.
 *
 *   memtouch_native [size=SIZE] [seed=N] [passes=N] [tasks=N] [cpus=N]
 *
 * SIZE takes a K, M or G suffix (powers of 1024). Defaults: the guest's with
 * one vCPU (size=256M, seed=1, passes=1, tasks=2), and every CPU the process
 * may use. perf/run.sh passes the values the guest printed and cpus= the
 * guest's vCPU count. Exit status 0, 1 on a mismatch, 2 on a usage error or
 * when memory, threads or the CPUs cannot be had.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "guest/lib/pattern.h"

#define MAX_TASKS 64 /* as the guest */
#define MAX_PASSES 1000

struct options {
	uint64_t size, seed, passes, tasks;
	uint64_t cpus; /* 0: no limit */
};

struct slice {
	uint64_t *words;
	size_t nwords;
	uint64_t seed;
	size_t mismatches; /* the last verify's */
};

static struct slice slices[MAX_TASKS];

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* "KEY=VALUE" with an optional K/M/G suffix when suffix is set; -1 if malformed. */
static int parse_u64(const char *s, bool suffix, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	unsigned shift = 0;
	if (suffix && *end) {
		const char *units = "KMG", *u = strchr(units, *end);
		if (u && *u) {
			shift = 10 * (unsigned)(u - units + 1);
			end++;
		}
	}
	if (errno || end == s || *end || s[0] == '-' || v > (UINT64_MAX >> shift))
		return -1;
	v <<= shift;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	*o = (struct options){ .size = 256ull << 20, .seed = 1, .passes = 1, .tasks = 2 };
	static const struct {
		const char *key;
		bool suffix;
		uint64_t min, max;
		size_t offset;
	} keys[] = {
		{ "size=", true, 8, 1ull << 46, offsetof(struct options, size) },
		{ "seed=", false, 0, UINT64_MAX, offsetof(struct options, seed) },
		{ "passes=", false, 1, MAX_PASSES, offsetof(struct options, passes) },
		{ "tasks=", false, 1, MAX_TASKS, offsetof(struct options, tasks) },
		{ "cpus=", false, 1, CPU_SETSIZE, offsetof(struct options, cpus) },
	};
	for (int i = 1; i < argc; i++) {
		size_t k = 0;
		while (k < sizeof(keys) / sizeof(keys[0]) &&
		       strncmp(argv[i], keys[k].key, strlen(keys[k].key)) != 0)
			k++;
		if (k == sizeof(keys) / sizeof(keys[0]) ||
		    parse_u64(argv[i] + strlen(keys[k].key), keys[k].suffix, keys[k].min,
			      keys[k].max, (uint64_t *)((char *)o + keys[k].offset)) < 0) {
			fprintf(stderr, "memtouch_native: bad argument '%s' (usage: memtouch_native "
				"[size=SIZE[K|M|G]] [seed=N] [passes=1..%u] [tasks=1..%u] [cpus=N])\n",
				argv[i], MAX_PASSES, MAX_TASKS);
			return -1;
		}
	}
	if (o->size % 8) {
		fprintf(stderr, "memtouch_native: size=%" PRIu64 " is not a multiple of 8 bytes\n",
			o->size);
		return -1;
	}
	if (o->tasks > o->size / 8)
		o->tasks = o->size / 8; /* as the guest: at least a word per task */
	return 0;
}

static void *fill_task(void *arg)
{
	struct slice *s = arg;
	pattern__fill(s->words, s->nwords, s->seed);
	return NULL;
}

static void *verify_task(void *arg)
{
	struct slice *s = arg;
	s->mismatches = pattern__verify(s->words, s->nwords, s->seed);
	return NULL;
}

/* Run fn on every slice in its own thread; the elapsed ns, or 0 if a thread failed to start. */
static uint64_t phase(void *(*fn)(void *), unsigned tasks)
{
	pthread_t tids[MAX_TASKS];
	uint64_t t0 = now_ns();
	unsigned started = 0;
	while (started < tasks && pthread_create(&tids[started], NULL, fn, &slices[started]) == 0)
		started++;
	for (unsigned i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	if (started < tasks) {
		fprintf(stderr, "memtouch_native: cannot start thread %u of %u\n", started, tasks);
		return 0;
	}
	return now_ns() - t0 + 1;
}

/* Bytes per microsecond = MB/s with MB = 10^6 bytes, rounded down as in the guest. */
static uint64_t mbps(uint64_t bytes, uint64_t ns)
{
	uint64_t us = ns / 1000;
	return us ? bytes / us : 0;
}

/* Keep this process (and the threads it starts) on the first n CPUs it may use. */
static int limit_cpus(unsigned n)
{
	cpu_set_t may, want;
	if (sched_getaffinity(0, sizeof(may), &may) < 0) {
		fprintf(stderr, "memtouch_native: sched_getaffinity: %s\n", strerror(errno));
		return -1;
	}
	CPU_ZERO(&want);
	for (unsigned cpu = 0, got = 0; cpu < CPU_SETSIZE && got < n; cpu++)
		if (CPU_ISSET(cpu, &may)) {
			CPU_SET(cpu, &want);
			got++;
		}
	if ((unsigned)CPU_COUNT(&want) < n) {
		fprintf(stderr, "memtouch_native: cpus=%u, but this process may use %d CPUs\n", n,
			CPU_COUNT(&may));
		return -1;
	}
	if (sched_setaffinity(0, sizeof(want), &want) < 0) {
		fprintf(stderr, "memtouch_native: sched_setaffinity: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int alloc_slices(const struct options *o)
{
	uint64_t nwords = o->size / 8;
	for (unsigned i = 0; i < o->tasks; i++) {
		uint64_t n = nwords / o->tasks + (i == o->tasks - 1 ? nwords % o->tasks : 0);
		void *p = mmap(NULL, n * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (p == MAP_FAILED) {
			fprintf(stderr, "memtouch_native: cannot map slice %u of %" PRIu64
				" bytes: %s\n", i, n * 8, strerror(errno));
			return -1;
		}
		slices[i] = (struct slice){ .words = p, .nwords = n };
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	if (parse_args(argc, argv, &o) < 0 || (o.cpus && limit_cpus((unsigned)o.cpus) < 0) ||
	    alloc_slices(&o) < 0)
		return 2;
	unsigned tasks = (unsigned)o.tasks;
	uint64_t wns = 0, vns = 0, bad = 0;
	for (uint64_t p = 0; p < o.passes; p++) {
		for (unsigned i = 0; i < tasks; i++)
			slices[i].seed = o.seed + p;
		uint64_t w = phase(fill_task, tasks);
		uint64_t v = w ? phase(verify_task, tasks) : 0;
		if (!w || !v)
			return 2;
		wns += w;
		vns += v;
		for (unsigned i = 0; i < tasks; i++)
			bad += slices[i].mismatches;
	}
	printf("memtouch: size=%" PRIu64 " tasks=%u passes=%" PRIu64 " mismatches=%" PRIu64
	       " write_MBps=%" PRIu64 " verify_MBps=%" PRIu64 "\n", o.size, tasks, o.passes, bad,
	       mbps(o.size * o.passes, wns), mbps(o.size * o.passes, vns));
	return bad ? 1 : 0;
}
