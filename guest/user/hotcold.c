// SPDX-License-Identifier: MIT
/*
 * DOC: workload=hotcold size=SIZE hot=SIZE [seconds=10] [seed=1] [vm=0] [full=10]: a
 * small hot set rewritten over and over above a large cold one, the load a
 * host reclaim is measured with (issue 16).
 *
 * SIZE bytes are P = SIZE / 4 KiB pages; pages [0, H) with H = HOT / 4 KiB
 * are hot, the rest cold. Page i at version v holds
 * hotcold__fill(seed', i, v) (lib/hotcold.h, the host's benchmarks compute
 * the same pages), seed' = seed ^ (vm * 0x9e3779b97f4a7c15): VMs given
 * different vm= hold different pages. A run has three phases:
 *
 *   fill     one task per slice writes its pages at version 0 (2 tasks per
 *            vCPU, at most one per hot page; slice t owns hot pages
 *            [H*t/T, H*(t+1)/T) and cold pages H + [C*t/T, C*(t+1)/T),
 *            C = P - H, in one SYS_MEM_ALLOC region, hot pages first)
 *   rounds   back to back, each task takes its hot pages one by one:
 *            verify (the version of the last round: a write the host lost
 *            since shows here), rewrite at version + 1, verify again. At
 *            every `full` seconds after the start (TSC) each task, at the
 *            end of its round, verifies all its pages, hot and cold: the
 *            cold part is read only then, it is what a host reclaim evicts.
 *            full=0: no full verification before the final one (the hot
 *            rounds alone, a working set that stays small).
 *   final    once `seconds` have passed, each task ends its round and
 *            verifies all its pages once more.
 *
 * A task touches only its own slice. Each page's version is a 4-byte state
 * in an array outside the region; a mismatching page is counted once (bit
 * 31 of its state), and the first MAX_REPORTS are printed with what they
 * hold. Output (stable, tests and perf/ parse it):
 *
 *   hotcold: size=BYTES hot=BYTES pages=P hot_pages=H tasks=T seed=N vm=N fill_MBps=X
 *   hotcold: round=N hot_rounds_per_s=X.XX mismatches=M
 *       at most one a second (the first task polls each tick): N is the
 *       number of rounds every slice has finished, the rate counts hot pages
 *       rewritten since the last line over H pages per second; a round
 *       slower than 1 s gets its line when it ends
 *   hotcold: full_verify=K pages=P mismatches=M ms=T
 *       when every slice has done its K-th full verification (the last one
 *       is the final); T: the slowest slice's, in ms
 *   hotcold: mismatch page=I hot|cold check=start|rewrite|full version=V
 *            words=N first_word=W got=X want=Y [holds_version=V-1 (a lost write)]
 *       the first MAX_REPORTS pages found bad: where (start: the check
 *       before a hot page's rewrite, rewrite: right after it, full: a full
 *       verification), the version expected, the first bad word
 *   hotcold: rounds=N rounds_per_s=X.XX mismatches=M seconds=S.SSS
 *       at the end; the rate counts all hot pages rewritten over H pages
 *       over S, the seconds of the rounds phase
 *
 *   hotcold: touches=fill|full pages=N faulted=F us_p50=A us_p90=B us_p99=C
 *       the time the first access to a page took, as the guest sees it
 *       (TSC around one load or store of the page's first word): fill, the
 *       first store to every page (after the fill phase); full, the first
 *       load of every cold page in the full verifications (at the end, all
 *       of them together). F: the accesses that took TOUCH_FAULT_US or more,
 *       a fault the host served (or an interrupt); the percentiles are over
 *       those F (0 when F = 0), in µs, from a histogram of 1 µs steps to
 *       256 µs, 64 µs steps to 16,640 µs, and ">" beyond (printed as 99999)
 *
 * mismatches= is cumulative everywhere (pages, each counted once). PASS
 * (exit 0) only with 0. With seconds=0 the rounds never end: no final or
 * result line (stop the VM). A task that makes no progress for
 * STALL_SECONDS fails the run.
 */
#include "lib/hotcold.h"
#include "lib/string.h"
#include "user/user.h"
#include "user/workload.h"

#define PAGE_SIZE      4096ul
#define MAX_SLICES     64
#define MAX_REPORTS    8    /* mismatch lines, all tasks together */
#define TOUCH_FAULT_US 2    /* a first access this slow was a fault */
#define HIST_FINE      256  /* 1 µs buckets below this */
#define HIST_COARSE    64   /* µs per bucket above it */
#define HIST_BUCKETS   (HIST_FINE + 256 + 1)
#define STALL_SECONDS  60   /* no page handled for this long: a task died */

_Static_assert(HOTCOLD_PAGE_WORDS * 8 == PAGE_SIZE, "hotcold pages are 4 KiB");

static const char *const hotcold_keys[] = { "size", "hot", "seconds", "seed", "vm", "full", NULL };

/* Page state: the version, ST_COUNTED once the page has been counted as mismatching. */
#define ST_COUNTED (1u << 31)
#define ST_VERSION (ST_COUNTED - 1)

enum check { CHECK_START, CHECK_REWRITE, CHECK_FULL };
static const char *const check_names[] = { "start", "rewrite", "full" };

/* Set by hotcold_run before any task starts; read-only afterwards. */
static struct {
	uint64_t seed;           /* seed' of the DOC */
	uint64_t pages, hot_pages, seconds;
	uint64_t full_every;     /* seconds between full verifications, 0: only the final */
	uint64_t t_start, t_end; /* TSC of the rounds phase (t_end: 0 = never) */
	uint64_t tsc_per_sec;
	uint32_t *state;         /* [pages]; entry i written only by the task owning page i */
} cfg;

struct slice {
	/* set before the tasks start */
	uint64_t *mem;           /* hot pages, then cold pages, 4 KiB each */
	uint64_t region;         /* SYS_MEM_ALLOC address, to free */
	uint64_t hot_first, hot_count;   /* pages [hot_first, +hot_count) at mem page 0.. */
	uint64_t cold_first, cold_count; /* pages [cold_first, +cold_count) after them */
	/*
	 * Written by the slice's task only, read by hotcold_run: counters with
	 * relaxed atomics; round_done, full_done and finished are stored with
	 * release after the work they count and loaded with acquire.
	 */
	uint64_t round_done;
	uint64_t full_done;      /* full verifications done */
	uint64_t full_cycles;    /* TSC cycles of the last one */
	uint64_t rewritten;      /* hot pages rewritten */
	uint64_t handled;        /* pages filled or verified: the stall check's heartbeat */
	uint64_t mismatches;     /* pages found mismatching (each counted once) */
	uint64_t last_round_end; /* TSC at the end of the last round */
	uint64_t finished;
	/* first-access times (the touches= line), written by the task, read after it is joined */
	uint32_t fill_hist[HIST_BUCKETS];
	uint32_t full_hist[HIST_BUCKETS];
};

static struct slice slices[MAX_SLICES];
static uint64_t reports; /* mismatch lines printed (atomic) */

static void add(uint64_t *counter, uint64_t n)
{
	__atomic_store_n(counter, *counter + n, __ATOMIC_RELAXED);
}

static uint64_t *page_of(const struct slice *s, uint64_t i)
{
	uint64_t k = i < cfg.hot_pages ? i - s->hot_first : s->hot_count + i - s->cold_first;

	return s->mem + k * HOTCOLD_PAGE_WORDS;
}

/* Check page i against its version; count and describe it if it is the first time it is bad. */
static void check(struct slice *s, uint64_t i, enum check how)
{
	const uint64_t *page = page_of(s, i);
	uint32_t st = cfg.state[i];
	uint32_t v = st & ST_VERSION;
	unsigned int bad = hotcold__verify(page, cfg.seed, i, v), w = 0;

	add(&s->handled, 1);
	if (!bad || (st & ST_COUNTED))
		return;
	cfg.state[i] = st | ST_COUNTED;
	add(&s->mismatches, 1);
	if (__atomic_fetch_add(&reports, 1, __ATOMIC_RELAXED) >= MAX_REPORTS)
		return;
	while (w < HOTCOLD_PAGE_WORDS - 1 && page[w] == hotcold__word(cfg.seed, i, v, w))
		w++;
	printf("hotcold: mismatch page=%lu %s check=%s version=%u words=%u first_word=%u "
	       "got=%#lx want=%#lx", i, i < cfg.hot_pages ? "hot" : "cold", check_names[how],
	       v, bad, w, page[w], hotcold__word(cfg.seed, i, v, w));
	printf(v && !hotcold__verify(page, cfg.seed, i, v - 1) ? " holds_version=%u (a lost write)\n"
	       : "\n", v - 1);
}

static void hist_add(uint32_t *hist, uint64_t cycles)
{
	uint64_t us = cycles * 1000 / (cfg.tsc_per_sec / 1000);
	uint64_t b = us < HIST_FINE ? us : HIST_FINE + (us - HIST_FINE) / HIST_COARSE;

	hist[b < HIST_BUCKETS ? b : HIST_BUCKETS - 1]++;
}

/* The lowest µs of bucket b (99999: beyond the histogram). */
static uint64_t bucket_us(uint64_t b)
{
	if (b == HIST_BUCKETS - 1)
		return 99999;
	return b < HIST_FINE ? b : HIST_FINE + (b - HIST_FINE) * HIST_COARSE;
}

/* The TSC once the accesses before have completed (rdtsc alone may run ahead of a load). */
static inline uint64_t rdtsc_after(void)
{
	__asm__ volatile("lfence" ::: "memory");
	return cpu__rdtsc();
}

/* The first store to page p, timed. */
static void touch_store(uint32_t *hist, uint64_t *p)
{
	uint64_t t0 = cpu__rdtsc();

	*(volatile uint64_t *)p = 0;
	hist_add(hist, rdtsc_after() - t0);
}

/* The first load of page p, timed. */
static void touch_load(uint32_t *hist, const uint64_t *p)
{
	uint64_t t0 = cpu__rdtsc();

	(void)*(const volatile uint64_t *)p;
	hist_add(hist, rdtsc_after() - t0);
}

/* The touches= line of one histogram, summed over the n slices (offset: which one). */
static void print_touches(unsigned int n, const char *what, size_t offset)
{
	static uint64_t sum[HIST_BUCKETS]; /* run's main task only: not on its small stack */
	static const unsigned int want[3] = { 50, 90, 99 };
	uint64_t pages = 0, faulted = 0, pct[3] = { 0 };

	memset(sum, 0, sizeof(sum));

	for (unsigned int t = 0; t < n; t++) {
		const uint32_t *h = (const uint32_t *)((const char *)&slices[t] + offset);

		for (unsigned int b = 0; b < HIST_BUCKETS; b++)
			sum[b] += h[b];
	}
	for (unsigned int b = 0; b < HIST_BUCKETS; b++) {
		pages += sum[b];
		faulted += b >= TOUCH_FAULT_US ? sum[b] : 0;
	}
	for (unsigned int k = 0; k < 3 && faulted; k++) {
		uint64_t rank = (faulted * want[k] + 99) / 100, seen = 0, b = TOUCH_FAULT_US;

		for (; b < HIST_BUCKETS && seen + sum[b] < rank; b++)
			seen += sum[b];
		pct[k] = bucket_us(b);
	}
	printf("hotcold: touches=%s pages=%lu faulted=%lu us_p50=%lu us_p90=%lu us_p99=%lu\n",
	       what, pages, faulted, pct[0], pct[1], pct[2]);
}

static int64_t fill_task(uint64_t arg)
{
	struct slice *s = (struct slice *)arg;

	for (uint64_t k = 0; k < s->hot_count + s->cold_count; k++) {
		uint64_t i = k < s->hot_count ? s->hot_first + k : s->cold_first + k - s->hot_count;

		cfg.state[i] = 0;
		touch_store(s->fill_hist, s->mem + k * HOTCOLD_PAGE_WORDS);
		hotcold__fill(s->mem + k * HOTCOLD_PAGE_WORDS, cfg.seed, i, 0);
		add(&s->handled, 1);
	}
	return 0;
}

static void full_verify(struct slice *s)
{
	uint64_t t0 = cpu__rdtsc();

	for (uint64_t i = s->hot_first; i < s->hot_first + s->hot_count; i++)
		check(s, i, CHECK_FULL);
	for (uint64_t i = s->cold_first; i < s->cold_first + s->cold_count; i++) {
		touch_load(s->full_hist, page_of(s, i));
		check(s, i, CHECK_FULL);
	}
	__atomic_store_n(&s->full_cycles, cpu__rdtsc() - t0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->full_done, s->full_done + 1, __ATOMIC_RELEASE);
}

static int64_t round_task(uint64_t arg)
{
	struct slice *s = (struct slice *)arg;

	for (uint64_t r = 1;; r++) {
		uint64_t now;

		for (uint64_t i = s->hot_first; i < s->hot_first + s->hot_count; i++) {
			check(s, i, CHECK_START);
			cfg.state[i] = ((cfg.state[i] + 1) & ST_VERSION) | (cfg.state[i] & ST_COUNTED);
			hotcold__fill(page_of(s, i), cfg.seed, i, cfg.state[i] & ST_VERSION);
			check(s, i, CHECK_REWRITE);
		}
		add(&s->rewritten, s->hot_count);
		now = cpu__rdtsc();
		__atomic_store_n(&s->last_round_end, now, __ATOMIC_RELAXED);
		__atomic_store_n(&s->round_done, r, __ATOMIC_RELEASE);
		if (cfg.t_end && now >= cfg.t_end)
			break;
		if (cfg.full_every &&
		    now >= cfg.t_start + (s->full_done + 1) * cfg.full_every * cfg.tsc_per_sec)
			full_verify(s);
	}
	full_verify(s);
	__atomic_store_n(&s->finished, 1, __ATOMIC_RELEASE);
	return 0;
}

/* The sum of one counter over the slices (min: the smallest instead). */
static uint64_t total(unsigned int n, size_t offset, bool min)
{
	uint64_t acc = min ? UINT64_MAX : 0;

	for (unsigned int t = 0; t < n; t++) {
		uint64_t v = __atomic_load_n((const uint64_t *)((const char *)&slices[t] + offset),
					     __ATOMIC_ACQUIRE);

		acc = min ? (v < acc ? v : acc) : acc + v;
	}
	return acc;
}
#define SUM(n, field) total(n, __builtin_offsetof(struct slice, field), false)
#define MIN(n, field) total(n, __builtin_offsetof(struct slice, field), true)

/* Hot rounds per second times 100, from hot pages rewritten over TSC cycles. */
static uint64_t rate_x100(uint64_t rewritten, uint64_t cycles)
{
	uint64_t us = time__cycles_to_us(cycles);

	return us ? cpu__muldiv(rewritten, 100000000, us) / cfg.hot_pages : 0;
}

static int parse(const struct args *a, uint64_t *size, uint64_t *hot, uint64_t *seed,
		 uint64_t *vm)
{
	uint64_t can = user__info.user_free;

	if (!args__get(a, "size") || !args__get(a, "hot")) {
		args__bad("workload=hotcold needs size=SIZE and hot=SIZE");
		return -1;
	}
	if (args__size(a, "size", 0, PAGE_SIZE, 1ull << 46, size) ||
	    args__size(a, "hot", 0, PAGE_SIZE, 1ull << 46, hot) ||
	    args__u64(a, "seconds", 10, 0, 86400, &cfg.seconds) ||
	    args__u64(a, "seed", 1, 0, UINT64_MAX, seed) ||
	    args__u64(a, "vm", 0, 0, UINT64_MAX, vm) ||
	    args__u64(a, "full", 10, 0, 86400, &cfg.full_every))
		return -1;
	if (*size % PAGE_SIZE || *hot % PAGE_SIZE) {
		args__bad("size=%lu hot=%lu: both must be multiples of 4K", *size, *hot);
		return -1;
	}
	if (*hot > *size) {
		args__bad("hot=%lu is more than size=%lu", *hot, *size);
		return -1;
	}
	/* the page state, 4 bytes a page, takes whole 2 MiB chunks too */
	if (*size + *size / PAGE_SIZE * 4 > can) {
		args__bad("size=%lu is more than the %lu bytes the guest can hand out (with %lu MiB RAM)",
			  *size, can, user__info.mem_bytes >> 20);
		return -1;
	}
	return 0;
}

static void free_all(unsigned int n, uint64_t state_region)
{
	for (unsigned int t = 0; t < n; t++)
		sys__mem_free(slices[t].region);
	if (state_region)
		sys__mem_free(state_region);
}

/* Allocate the page state and the slices' regions; W_BADARG (one line said why) if one fails. */
static enum workload_result alloc_all(uint64_t size, unsigned int ntasks, unsigned int *n,
				      uint64_t *state_region)
{
	uint64_t cold = cfg.pages - cfg.hot_pages;
	int64_t region = sys__mem_alloc(cfg.pages * sizeof(*cfg.state));

	if (region < 0) {
		args__bad("size=%lu: no room for its %lu-byte page state: error %ld (%lu bytes free at boot)",
			  size, cfg.pages * sizeof(*cfg.state), region, user__info.user_free);
		return W_BADARG;
	}
	*state_region = (uint64_t)region;
	cfg.state = (uint32_t *)region;
	for (*n = 0; *n < ntasks; (*n)++) {
		uint64_t t = *n, hf = cfg.hot_pages * t / ntasks, cf = cold * t / ntasks;
		struct slice s = {
			.hot_first = hf, .hot_count = cfg.hot_pages * (t + 1) / ntasks - hf,
			.cold_first = cfg.hot_pages + cf, .cold_count = cold * (t + 1) / ntasks - cf,
		};

		region = sys__mem_alloc((s.hot_count + s.cold_count) * PAGE_SIZE);
		if (region < 0) {
			args__bad("size=%lu cannot be allocated: slice %u of %lu bytes: error %ld "
				  "(%lu bytes free at boot)", size, *n, (s.hot_count + s.cold_count) * PAGE_SIZE,
				  region, user__info.user_free);
			free_all(*n, *state_region);
			return W_BADARG;
		}
		s.mem = (uint64_t *)region;
		s.region = (uint64_t)region;
		slices[*n] = s;
	}
	return W_PASS;
}

/*
 * -1 (r failed) if a slice has handled no page for STALL_SECONDS. seen[t] and
 * moved[t]: its heartbeat at the last change and the TSC of that change.
 */
static int stalled(unsigned int n, uint64_t now, uint64_t *seen, uint64_t *moved, struct result *r)
{
	for (unsigned int t = 0; t < n; t++) {
		uint64_t h = __atomic_load_n(&slices[t].handled, __ATOMIC_RELAXED);

		if (h != seen[t]) {
			seen[t] = h;
			moved[t] = now;
		} else if (now - moved[t] > STALL_SECONDS * cfg.tsc_per_sec) {
			result__fail(r, "the task of hot pages [%lu, %lu) has handled no page for %d s",
				     slices[t].hot_first, slices[t].hot_first + slices[t].hot_count,
				     STALL_SECONDS);
			return -1;
		}
	}
	return 0;
}

/* Print the round and full-verification lines until every slice has finished. */
static int watch(unsigned int n, struct result *r)
{
	uint64_t seen[MAX_SLICES] = { 0 }, moved[MAX_SLICES];
	uint64_t line_t = cfg.t_start, line_round = 0, line_rewritten = 0, fulls = 0;

	for (unsigned int t = 0; t < n; t++)
		moved[t] = cfg.t_start;
	for (;;) {
		uint64_t now = cpu__rdtsc(), rounds = MIN(n, round_done);
		bool done = MIN(n, finished);

		if (rounds > line_round && now - line_t >= cfg.tsc_per_sec) {
			uint64_t rw = SUM(n, rewritten), x = rate_x100(rw - line_rewritten, now - line_t);

			printf("hotcold: round=%lu hot_rounds_per_s=%lu.%02lu mismatches=%lu\n",
			       rounds, x / 100, x % 100, SUM(n, mismatches));
			line_t = now;
			line_round = rounds;
			line_rewritten = rw;
		}
		while (MIN(n, full_done) > fulls) {
			uint64_t slowest = 0;

			for (unsigned int t = 0; t < n; t++) {
				uint64_t c = __atomic_load_n(&slices[t].full_cycles, __ATOMIC_RELAXED);

				slowest = c > slowest ? c : slowest;
			}
			printf("hotcold: full_verify=%lu pages=%lu mismatches=%lu ms=%lu\n", ++fulls,
			       cfg.pages, SUM(n, mismatches), time__cycles_to_us(slowest) / 1000);
		}
		if (done)
			return 0;
		if (stalled(n, now, seen, moved, r))
			return -1;
		sys__sleep_until(sys__ticks() + 1);
	}
}

static enum workload_result hotcold_run(const struct args *a, struct result *r)
{
	uint64_t size, hot, seed, vm, state_region = 0, t0, end = 0, x;
	uint64_t ntasks = user__info.nr_cpus * 2 < 2 ? 2 : user__info.nr_cpus * 2;
	unsigned int n = 0;
	int64_t tids[MAX_SLICES];
	enum workload_result rc;

	if (!user__info.tsc_khz)
		return result__fail(r, "TSC frequency unknown (start_info.tsc_khz = 0)");
	if (parse(a, &size, &hot, &seed, &vm))
		return W_BADARG;
	cfg.seed = seed ^ vm * 0x9e3779b97f4a7c15ull;
	cfg.pages = size / PAGE_SIZE;
	cfg.hot_pages = hot / PAGE_SIZE;
	cfg.tsc_per_sec = user__info.tsc_khz * 1000;
	if (ntasks > MAX_SLICES)
		ntasks = MAX_SLICES;
	if (ntasks > cfg.hot_pages)
		ntasks = cfg.hot_pages;
	rc = alloc_all(size, (unsigned int)ntasks, &n, &state_region);
	if (rc != W_PASS)
		return rc;

	t0 = cpu__rdtsc();
	if (tasks__spawn(fill_task, slices, sizeof(slices[0]), n, tids, r) || tasks__join(n, tids, r))
		goto fail;
	x = time__cycles_to_us(cpu__rdtsc() - t0);
	printf("hotcold: size=%lu hot=%lu pages=%lu hot_pages=%lu tasks=%u seed=%lu vm=%lu "
	       "fill_MBps=%lu\n", size, hot, cfg.pages, cfg.hot_pages, n, seed, vm,
	       x ? size / x : 0);
	print_touches(n, "fill", __builtin_offsetof(struct slice, fill_hist));

	cfg.t_start = cpu__rdtsc();
	cfg.t_end = cfg.seconds ? cfg.t_start + cfg.seconds * cfg.tsc_per_sec : 0;
	if (tasks__spawn(round_task, slices, sizeof(slices[0]), n, tids, r))
		goto fail;
	if (watch(n, r))
		return W_FAIL; /* tasks may still run in the regions: no free, poweroff follows */
	if (tasks__join(n, tids, r))
		goto fail;

	for (unsigned int t = 0; t < n; t++)
		end = slices[t].last_round_end > end ? slices[t].last_round_end : end;
	x = rate_x100(SUM(n, rewritten), end - cfg.t_start);
	t0 = time__cycles_to_us(end - cfg.t_start) / 1000;
	printf("hotcold: rounds=%lu rounds_per_s=%lu.%02lu mismatches=%lu seconds=%lu.%03lu\n",
	       MIN(n, round_done), x / 100, x % 100, SUM(n, mismatches), t0 / 1000, t0 % 1000);
	print_touches(n, "full", __builtin_offsetof(struct slice, full_hist));
	if (SUM(n, mismatches))
		result__fail(r, "%lu mismatched pages", SUM(n, mismatches));
	free_all(n, state_region);
	return r->reason[0] ? W_FAIL : W_PASS;
fail:
	free_all(n, state_region);
	return W_FAIL;
}

const struct workload workload__hotcold = {
	.name = "hotcold",
	.keys = hotcold_keys,
	.run = hotcold_run,
};
