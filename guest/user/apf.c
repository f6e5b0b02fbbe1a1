// SPDX-License-Identifier: MIT
/*
 * DOC: workload=apf size=SIZE [seconds=5] [settle=3] [alone=1] [touchers=1]
 * [incompressible=0]:
 * one task touches cold memory, one computes; what pseudo page faults are
 * for (the kernel's `apf=1`, kernel/apf.c).
 *
 *   fill     SIZE bytes (P pages) written at version 0
 *   settle   `settle` seconds asleep: host reclaim evicts the region
 *   alone    the compute task alone for `alone` seconds: its unconstrained
 *            rate
 *   both     for `seconds`, on CPU 0 both: the toucher goes over the
 *            pages in order, verifies every word of each (the version it
 *            wrote last) and rewrites it at the next version; the compute
 *            task runs an integer loop (with touchers=N, N tasks touch,
 *            task k the pages i with i % N == k: that many can wait for
 *            fetches at once). Under a host limit smaller than
 *            SIZE, host reclaim keeps evicting the pages the toucher will
 *            come to next, so nearly every page it touches is a fetch.
 *   final    every page verified once more.
 *
 * Output (stable, tests and perf/ parse it):
 *   apf: size=BYTES pages=P apf=on|off
 *   apf: compute_alone_per_s=X
 *   apf: compute_per_s=Y compute_pct=Z touch_pages_per_s=T passes=N mismatches=M
 *   apf: not_present=N ready=R woken=W early=E full=F unknown=U parked=K wake_all=A toggles=T
 *   apf: mismatch page=I version=V word=J got=X want=Y   (the first few)
 * compute_pct is Y over X in percent. PASS only with 0 mismatches.
 */
#include "user/user.h"
#include "user/workload.h"

#define PAGE_SIZE  4096ul
#define PAGE_WORDS (PAGE_SIZE / 8)
#define CHUNK      4096ul /* compute iterations between clock reads */
#define MAX_REPORTS 4
#define MAX_TOUCHERS 8

static const char *const apf_keys[] = { "size",     "seconds",        "settle", "alone",
					 "touchers", "incompressible", NULL };

static struct {
	uint64_t *mem;
	uint32_t *version;
	uint64_t pages, touchers, incompressible;
	uint64_t deadline;          /* TSC: the phase ends */
	uint64_t compute_iters, compute_cycles;
	uint64_t touched, passes, mismatches;
	unsigned int reports;
} st;

/* Distinct per page, version and 32-word run, and compressible: host
 * reclaim's store refuses pages that do not compress (without a swap
 * file). With incompressible=1 every word differs (splitmix64): such pages
 * go to host reclaim's swap file. */
static uint64_t word(uint64_t page, uint64_t j, uint32_t version)
{
	uint64_t w = (page * 0x9e3779b97f4a7c15ull) ^ (uint64_t)version << 40 ^ (j >> 5);

	if (!st.incompressible)
		return w;
	w += j * 0xbf58476d1ce4e5b9ull;
	w = (w ^ (w >> 30)) * 0xbf58476d1ce4e5b9ull;
	w = (w ^ (w >> 27)) * 0x94d049bb133111ebull;
	return w ^ (w >> 31);
}

static void check_page(uint64_t i)
{
	volatile uint64_t *p = st.mem + i * PAGE_WORDS;

	for (uint64_t j = 0; j < PAGE_WORDS; j++) {
		uint64_t want = word(i, j, st.version[i]), got = p[j];

		if (got == want)
			continue;
		__atomic_fetch_add(&st.mismatches, 1, __ATOMIC_RELAXED);
		if (__atomic_fetch_add(&st.reports, 1, __ATOMIC_RELAXED) < MAX_REPORTS)
			printf("apf: mismatch page=%lu version=%u word=%lu got=%#lx want=%#lx\n", i,
			       st.version[i], j, got, want);
		return;
	}
}

static void write_page(uint64_t i, uint32_t version)
{
	uint64_t *p = st.mem + i * PAGE_WORDS;

	st.version[i] = version;
	for (uint64_t j = 0; j < PAGE_WORDS; j++)
		p[j] = word(i, j, version);
}

static int64_t compute_task(uint64_t unused)
{
	uint64_t x = 1, iters = 0, t0 = cpu__rdtsc(), now;

	(void)unused;
	do {
		for (uint64_t k = 0; k < CHUNK; k++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		iters += CHUNK;
		now = cpu__rdtsc();
	} while (now < st.deadline);
	st.compute_iters = iters + (x == 42); /* keep x alive */
	st.compute_cycles = now - t0;
	return 0;
}

/* Toucher k of st.touchers: pages k, k + touchers, ... */
static int64_t touch_task(uint64_t k)
{
	while (cpu__rdtsc() < st.deadline) {
		for (uint64_t i = k; i < st.pages && cpu__rdtsc() < st.deadline; i += st.touchers) {
			check_page(i);
			write_page(i, st.version[i] + 1);
			__atomic_fetch_add(&st.touched, 1, __ATOMIC_RELAXED);
		}
		if (k == 0)
			st.passes++;
	}
	return 0;
}

static uint64_t per_s(uint64_t n, uint64_t cycles)
{
	return cycles ? cpu__muldiv(n, user__info.tsc_khz * 1000, cycles) : 0;
}

static enum workload_result apf_run(const struct args *a, struct result *r)
{
	uint64_t size, seconds, settle, alone, hz = user__info.hz, alone_rate, t0, t1;
	int64_t tids[MAX_TOUCHERS + 1];
	struct l1g_apf_stats s;

	if (args__size(a, "size", 8ul << 20, PAGE_SIZE, 1ul << 36, &size) ||
	    args__u64(a, "seconds", 5, 1, 3600, &seconds) ||
	    args__u64(a, "settle", 3, 0, 3600, &settle) ||
	    args__u64(a, "alone", 1, 1, 3600, &alone) ||
	    args__u64(a, "touchers", 1, 1, MAX_TOUCHERS, &st.touchers) ||
	    args__u64(a, "incompressible", 0, 0, 1, &st.incompressible))
		return W_BADARG;
	if (!user__info.tsc_khz)
		return result__fail(r, "no TSC frequency: cannot time the tasks");
	st.pages = size / PAGE_SIZE;
	st.mem = (uint64_t *)sys__mem_alloc(st.pages * PAGE_SIZE);
	st.version = (uint32_t *)sys__mem_alloc(st.pages * sizeof(uint32_t));
	if ((int64_t)st.mem < 0 || (int64_t)st.version < 0)
		return result__fail(r, "cannot allocate %lu bytes", size);
	sys__apf_stats(&s);
	printf("apf: size=%lu pages=%lu apf=%s\n", st.pages * PAGE_SIZE, st.pages,
	       s.enabled ? "on" : "off");
	for (uint64_t i = 0; i < st.pages; i++)
		write_page(i, 0);
	sys__sleep_until(sys__ticks() + settle * hz);

	st.deadline = cpu__rdtsc() + alone * user__info.tsc_khz * 1000;
	tids[0] = task__spawn(compute_task, 0, 0);
	if (tids[0] < 0)
		return result__fail(r, "cannot spawn the compute task: %ld", tids[0]);
	if (tasks__join(1, tids, r))
		return W_FAIL;
	alone_rate = per_s(st.compute_iters, st.compute_cycles);
	printf("apf: compute_alone_per_s=%lu\n", alone_rate);

	t0 = cpu__rdtsc();
	st.deadline = t0 + seconds * user__info.tsc_khz * 1000;
	unsigned int n = 0;
	int64_t err = 0;

	for (uint64_t k = 0; k <= st.touchers && err >= 0; k++) {
		err = task__spawn(k < st.touchers ? touch_task : compute_task, k, 0);
		if (err >= 0)
			tids[n++] = err;
	}
	if (err < 0) {
		for (unsigned int i = 0; i < n; i++)
			task__join(tids[i]);
		return result__fail(r, "cannot spawn the tasks: %ld", err);
	}
	if (tasks__join(n, tids, r))
		return W_FAIL;
	t1 = cpu__rdtsc();
	uint64_t rate = per_s(st.compute_iters, st.compute_cycles);
	printf("apf: compute_per_s=%lu compute_pct=%lu touch_pages_per_s=%lu passes=%lu "
	       "mismatches=%lu\n", rate, alone_rate ? rate * 100 / alone_rate : 0,
	       per_s(st.touched, t1 - t0), st.passes, st.mismatches);
	for (uint64_t i = 0; i < st.pages; i++)
		check_page(i);
	sys__apf_stats(&s);
	printf("apf: not_present=%lu ready=%lu woken=%lu early=%lu full=%lu unknown=%lu "
	       "parked=%lu wake_all=%lu toggles=%lu\n", s.not_present, s.ready, s.woken, s.early,
	       s.full, s.unknown, s.parked, s.wake_all, s.toggles);
	if (st.mismatches)
		return result__fail(r, "%lu mismatches in the touched memory", st.mismatches);
	return W_PASS;
}

const struct workload workload__apf = { .name = "apf", .keys = apf_keys, .run = apf_run };
