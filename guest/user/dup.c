// SPDX-License-Identifier: MIT
/*
 * DOC: workload=dup size=SIZE [shared=25] [internal=25] [zero=25] [mutate=1]
 * [mutate_from=1] [seconds=10] [seed=1] [vm=0]: memory with a known amount
 * of duplication, the load a host page-sharing (dedup) engine is measured with.
 *
 * SIZE bytes are P = SIZE / 4 KiB pages, each of a class (lib/dup.h: zero,
 * shared across VMs with the same seed, internal to this VM, unique) with
 * exact counts. A run has three phases:
 *
 *   fill     one task per slice writes its pages (2 tasks per vCPU; slice t
 *            owns pages [P*t/T, P*(t+1)/T), its own SYS_MEM_ALLOC region)
 *   rounds   the tasks verify their pages over and over; at each whole
 *            second after the start (TSC) each rewrites the pages of its
 *            slice that dup__mutates() picks for that round, P*mutate/100
 *            in all, from round mutate_from on (earlier rounds only
 *            verify, so a host engine can converge first). A rewritten page
 *            becomes unique with its generation bumped, so the host sees it
 *            change (and unshares it).
 *   final    after round `seconds`, every page is verified once more.
 *
 * A task touches only its own slice, so mutation and verification never
 * race. Expected contents come from a 4-byte state per page (class and
 * content number or generation) in an array outside the region; a page is
 * counted as mismatching at most once. The first task prints one line per
 * round as the slices finish it; with seconds=0 the rounds never end and no
 * result line is printed (stop the VM).
 *
 * Each rewrite is timed (TSC around the page's fill), apart for pages that
 * were duplicates (zero, shared, internal: the ones a host may have shared,
 * so the write may break a copy-on-write) and pages already unique (never
 * shareable: the same loop without that cost). The round line reports both
 * as rewrite_dup_ns and rewrite_unique_ns, nanoseconds per page (0: none
 * rewritten), after the fields older tools read.
 */
#include "lib/dup.h"
#include "user/user.h"
#include "user/workload.h"

#define MAX_SLICES     64
#define MAX_REPORTS    8   /* mismatch detail lines, all tasks together */
#define STALL_SECONDS  10  /* a round this late means a task died */

static const char *const dup_keys[] = { "size", "shared", "internal", "zero", "mutate",
					"mutate_from", "seconds", "seed", "vm", NULL };

static const char *const class_names[DUP_NR_CLASSES] = { "zero", "shared", "internal", "unique" };

/*
 * Page state: class in bits 31-30, ST_COUNTED once the page has been
 * counted as mismatching, and the dup__content() value: the content number
 * (shared, internal) or the generation (unique; it wraps after 2^29
 * rewrites, which only makes page i repeat one of its own old contents).
 */
#define ST_CLASS_SHIFT 30
#define ST_COUNTED     (1u << 29)
#define ST_VALUE       (ST_COUNTED - 1)

_Static_assert(DUP_NR_CLASSES <= 4, "the class must fit in 2 bits of the page state");

/* Set by dup_run before any task starts; read-only afterwards. */
static struct {
	uint64_t seed, vm, pages, seconds;
	uint64_t mutated;        /* pages rewritten per round */
	uint64_t mutate_from;    /* the first round that rewrites pages */
	uint64_t t_start;        /* TSC at which round 1 starts */
	uint64_t tsc_per_sec;
	struct dup_split split;
	uint32_t *state;         /* [pages]; entry i written only by the task owning page i */
} cfg;

struct slice {
	/* set before the tasks start */
	uint64_t *mem;           /* page k of the slice is mem + k * DUP_PAGE_WORDS */
	uint64_t region;         /* SYS_MEM_ALLOC address, to free */
	uint64_t first, count;   /* pages [first, first + count) of the region */
	/*
	 * Written by the slice's task only (relaxed stores), read by dup_run
	 * with relaxed loads; round_done is stored with release after the
	 * round's mutations and loaded with acquire.
	 */
	uint64_t round_done;
	uint64_t verified;       /* page verifications */
	uint64_t mismatches;     /* pages found mismatching (each counted once) */
	uint64_t mutated;        /* pages rewritten */
	uint64_t rewrites[2];    /* of those: [0] were duplicates, [1] were unique */
	uint64_t rewrite_cycles[2]; /* TSC cycles spent rewriting them */
	uint64_t classes[DUP_NR_CLASSES];
};

static struct slice slices[MAX_SLICES];
static uint64_t reports; /* mismatch lines printed (atomic) */

static void bump(uint64_t *counter, uint64_t n)
{
	__atomic_store_n(counter, *counter + n, __ATOMIC_RELAXED);
}

static uint64_t load(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

static struct dup_content content_of(uint64_t i, uint32_t st)
{
	return dup__content((enum dup_class)(st >> ST_CLASS_SHIFT), cfg.seed, cfg.vm, i,
			    st & ST_VALUE);
}

static uint32_t make_state(enum dup_class cls, uint32_t value)
{
	return (uint32_t)cls << ST_CLASS_SHIFT | (value & ST_VALUE);
}

static int64_t fill_task(uint64_t arg)
{
	struct slice *s = (struct slice *)arg;

	for (uint64_t k = 0; k < s->count; k++) {
		uint64_t i = s->first + k;
		uint32_t value;
		enum dup_class cls = dup__class(&cfg.split, i, &value);

		cfg.state[i] = make_state(cls, value);
		dup__fill(s->mem + k * DUP_PAGE_WORDS, content_of(i, cfg.state[i]));
		s->classes[cls]++;
	}
	return 0;
}

static void check_page(struct slice *s, uint64_t k)
{
	uint64_t i = s->first + k;
	uint32_t st = cfg.state[i];
	struct dup_content c = content_of(i, st);
	const uint64_t *page = s->mem + k * DUP_PAGE_WORDS;
	size_t first = 0, bad = dup__verify(page, c, &first);

	bump(&s->verified, 1);
	if (!bad || (st & ST_COUNTED))
		return;
	cfg.state[i] = st | ST_COUNTED;
	bump(&s->mismatches, 1);
	if (__atomic_fetch_add(&reports, 1, __ATOMIC_RELAXED) < MAX_REPORTS)
		printf("dup: mismatch page=%lu class=%s value=%u words=%zu first_word=%zu "
		       "got=%#lx want=%#lx\n", i, class_names[st >> ST_CLASS_SHIFT], st & ST_VALUE,
		       bad, first, page[first], dup__word(c, first));
}

/* Rewrite this slice's pages that round r picks: each becomes unique, one generation on. */
static void mutate(struct slice *s, uint64_t r)
{
	for (uint64_t k = 0; cfg.mutated && r >= cfg.mutate_from && k < s->count; k++) {
		uint64_t i = s->first + k, t0;
		uint32_t st = cfg.state[i];
		enum dup_class cls = (enum dup_class)(st >> ST_CLASS_SHIFT);
		uint32_t gen = cls == DUP_UNIQUE ? (st & ST_VALUE) + 1 : 1;
		struct dup_content c;

		if (!dup__mutates(cfg.seed, cfg.pages, cfg.mutated, r, i))
			continue;
		cfg.state[i] = make_state(DUP_UNIQUE, gen) | (st & ST_COUNTED);
		c = content_of(i, cfg.state[i]);
		t0 = cpu__rdtsc();
		dup__fill(s->mem + k * DUP_PAGE_WORDS, c);
		bump(&s->rewrite_cycles[cls == DUP_UNIQUE], cpu__rdtsc() - t0);
		bump(&s->rewrites[cls == DUP_UNIQUE], 1);
		bump(&s->classes[cls], (uint64_t)-1);
		bump(&s->classes[DUP_UNIQUE], 1);
		bump(&s->mutated, 1);
	}
}

static int64_t round_task(uint64_t arg)
{
	struct slice *s = (struct slice *)arg;
	uint64_t k = 0;

	for (uint64_t r = 1; !cfg.seconds || r <= cfg.seconds; r++) {
		uint64_t deadline = cfg.t_start + r * cfg.tsc_per_sec;

		while (cpu__rdtsc() < deadline) {
			check_page(s, k);
			k = k + 1 == s->count ? 0 : k + 1;
		}
		mutate(s, r);
		__atomic_store_n(&s->round_done, r, __ATOMIC_RELEASE);
	}
	for (k = 0; k < s->count; k++)
		check_page(s, k);
	return 0;
}

static uint64_t sum(unsigned int n, size_t offset)
{
	uint64_t total = 0;

	for (unsigned int t = 0; t < n; t++)
		total += load((const uint64_t *)((const char *)&slices[t] + offset));
	return total;
}
#define SUM(n, field) sum(n, __builtin_offsetof(struct slice, field))

/* Nanoseconds per page of `cycles` spent on `pages` (0 for no page). */
static uint64_t ns_per_page(uint64_t cycles, uint64_t pages)
{
	return pages ? cycles * 1000000 / user__info.tsc_khz / pages : 0;
}

static uint64_t mbps(uint64_t pages, uint64_t cycles)
{
	uint64_t us = time__cycles_to_us(cycles);

	return us ? pages * DUP_PAGE_SIZE / us : 0;
}

/* Wait until every slice has finished round r; -1 if one is STALL_SECONDS late. */
static int wait_round(unsigned int n, uint64_t r, struct result *res)
{
	uint64_t late = cfg.t_start + (r + STALL_SECONDS) * cfg.tsc_per_sec;

	for (unsigned int t = 0; t < n; t++) {
		while (__atomic_load_n(&slices[t].round_done, __ATOMIC_ACQUIRE) < r) {
			if (cpu__rdtsc() > late) {
				result__fail(res, "the task of pages [%lu, %lu) is stuck in round %lu",
					     slices[t].first, slices[t].first + slices[t].count, r);
				return -1;
			}
			sys__sleep_until(sys__ticks() + 1);
		}
	}
	return 0;
}

static int parse(const struct args *a, uint64_t *size, uint64_t pct[DUP_NR_CLASSES],
		 uint64_t *mutate_pct)
{
	if (!args__get(a, "size")) {
		args__bad("workload=dup needs size=SIZE");
		return -1;
	}
	if (args__size(a, "size", 0, DUP_PAGE_SIZE, 1ull << 46, size) ||
	    args__u64(a, "shared", 25, 0, 100, &pct[DUP_SHARED]) ||
	    args__u64(a, "internal", 25, 0, 100, &pct[DUP_INTERNAL]) ||
	    args__u64(a, "zero", 25, 0, 100, &pct[DUP_ZERO]) ||
	    args__u64(a, "mutate", 1, 0, 100, mutate_pct) ||
	    args__u64(a, "mutate_from", 1, 1, UINT64_MAX, &cfg.mutate_from) ||
	    args__u64(a, "seconds", 10, 0, 86400, &cfg.seconds) ||
	    args__u64(a, "seed", 1, 0, UINT64_MAX, &cfg.seed) ||
	    args__u64(a, "vm", 0, 0, UINT64_MAX, &cfg.vm))
		return -1;
	if (*size % DUP_PAGE_SIZE) {
		args__bad("size=%lu is not a multiple of %d bytes", *size, DUP_PAGE_SIZE);
		return -1;
	}
	if (pct[DUP_SHARED] + pct[DUP_INTERNAL] + pct[DUP_ZERO] > 100) {
		args__bad("shared=%lu internal=%lu zero=%lu add up to more than 100 (%%)",
			  pct[DUP_SHARED], pct[DUP_INTERNAL], pct[DUP_ZERO]);
		return -1;
	}
	return 0;
}

/* How many of rounds 1..rounds rewrite pages. */
static uint64_t mutating_rounds(uint64_t rounds)
{
	return rounds >= cfg.mutate_from ? rounds - cfg.mutate_from + 1 : 0;
}

static void free_all(unsigned int n, uint64_t state_region)
{
	for (unsigned int t = 0; t < n; t++)
		sys__mem_free(slices[t].region);
	if (state_region)
		sys__mem_free(state_region);
}

static enum workload_result dup_run(const struct args *a, struct result *r)
{
	uint64_t size, pct[DUP_NR_CLASSES], mutate_pct, state_region, prev_verified = 0, prev_mutated = 0;
	uint64_t prev_rw[2] = { 0, 0 }, prev_rw_cycles[2] = { 0, 0 };
	uint64_t prev_t, rounds = 0, ntasks = user__info.nr_cpus * 2 < 2 ? 2 : user__info.nr_cpus * 2;
	unsigned int n = 0;
	int64_t tids[MAX_SLICES], region;

	if (parse(a, &size, pct, &mutate_pct))
		return W_BADARG;
	if (!user__info.tsc_khz)
		return result__fail(r, "TSC frequency unknown (start_info.tsc_khz = 0)");
	cfg.pages = size / DUP_PAGE_SIZE;
	cfg.mutated = cfg.pages * mutate_pct / 100;
	cfg.tsc_per_sec = user__info.tsc_khz * 1000;
	cfg.split = dup__split(cfg.seed, cfg.pages, pct[DUP_ZERO], pct[DUP_SHARED], pct[DUP_INTERNAL]);
	if (ntasks > MAX_SLICES)
		ntasks = MAX_SLICES;
	if (ntasks > cfg.pages)
		ntasks = cfg.pages;

	region = sys__mem_alloc(cfg.pages * sizeof(*cfg.state));
	if (region < 0) {
		args__bad("size=%lu: no room for its %lu-byte page state: error %ld (%lu bytes free at boot)",
			  size, cfg.pages * sizeof(*cfg.state), region, user__info.user_free);
		return W_BADARG;
	}
	state_region = (uint64_t)region;
	cfg.state = (uint32_t *)region;
	for (; n < ntasks; n++) {
		uint64_t first = cfg.pages * n / ntasks, count = cfg.pages * (n + 1) / ntasks - first;

		region = sys__mem_alloc(count * DUP_PAGE_SIZE);
		if (region < 0) {
			args__bad("size=%lu cannot be allocated: slice %u of %lu bytes: error %ld "
				  "(%lu bytes free at boot)", size, n, count * DUP_PAGE_SIZE, region,
				  user__info.user_free);
			free_all(n, state_region);
			return W_BADARG;
		}
		slices[n] = (struct slice){ .mem = (uint64_t *)region, .region = (uint64_t)region,
					    .first = first, .count = count };
	}

	if (tasks__spawn(fill_task, slices, sizeof(slices[0]), n, tids, r) || tasks__join(n, tids, r))
		goto fail;
	printf("dup: size=%lu pages=%lu zero=%lu shared=%lu internal=%lu unique=%lu seed=%lu vm=%lu\n",
	       size, cfg.pages, SUM(n, classes[DUP_ZERO]), SUM(n, classes[DUP_SHARED]),
	       SUM(n, classes[DUP_INTERNAL]), SUM(n, classes[DUP_UNIQUE]), cfg.seed, cfg.vm);

	cfg.t_start = prev_t = cpu__rdtsc();
	if (tasks__spawn(round_task, slices, sizeof(slices[0]), n, tids, r))
		goto fail;
	for (uint64_t rd = 1; !cfg.seconds || rd <= cfg.seconds; rd++) {
		uint64_t now, verified, mutated, rw[2], rw_cycles[2];

		if (wait_round(n, rd, r))
			return W_FAIL; /* tasks still run in the regions: no free, poweroff follows */
		now = cpu__rdtsc();
		verified = SUM(n, verified);
		mutated = SUM(n, mutated);
		for (int u = 0; u < 2; u++) {
			rw[u] = SUM(n, rewrites[u]);
			rw_cycles[u] = SUM(n, rewrite_cycles[u]);
		}
		printf("dup: t=%lu mutated=%lu mismatches=%lu verify_MBps=%lu rewrite_dup_ns=%lu "
		       "rewrite_unique_ns=%lu\n", rd, mutated - prev_mutated, SUM(n, mismatches),
		       mbps(verified - prev_verified, now - prev_t),
		       ns_per_page(rw_cycles[0] - prev_rw_cycles[0], rw[0] - prev_rw[0]),
		       ns_per_page(rw_cycles[1] - prev_rw_cycles[1], rw[1] - prev_rw[1]));
		for (int u = 0; u < 2; u++) {
			prev_rw[u] = rw[u];
			prev_rw_cycles[u] = rw_cycles[u];
		}
		prev_t = now;
		prev_verified = verified;
		prev_mutated = mutated;
		rounds = rd;
	}
	if (tasks__join(n, tids, r))
		goto fail;

	printf("dup: classes now zero=%lu shared=%lu internal=%lu unique=%lu\n",
	       SUM(n, classes[DUP_ZERO]), SUM(n, classes[DUP_SHARED]),
	       SUM(n, classes[DUP_INTERNAL]), SUM(n, classes[DUP_UNIQUE]));
	printf("dup: rounds=%lu mutated=%lu mismatches=%lu verify_MBps=%lu\n", rounds,
	       SUM(n, mutated), SUM(n, mismatches),
	       mbps(SUM(n, verified), cpu__rdtsc() - cfg.t_start));
	if (SUM(n, mismatches))
		result__fail(r, "%lu mismatched pages", SUM(n, mismatches));
	else if (SUM(n, mutated) != mutating_rounds(rounds) * cfg.mutated)
		result__fail(r, "%lu pages rewritten, expected %lu rounds x %lu", SUM(n, mutated),
			     mutating_rounds(rounds), cfg.mutated);
	free_all(n, state_region);
	return r->reason[0] ? W_FAIL : W_PASS;
fail:
	free_all(n, state_region);
	return W_FAIL;
}

const struct workload workload__dup = {
	.name = "dup",
	.keys = dup_keys,
	.run = dup_run,
};
