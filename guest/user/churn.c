// SPDX-License-Identifier: MIT
/*
 * DOC: workload=churn peak=SIZE [hold=0] [seconds=10] [seed=1] [touch_balloon=0]
 * [grow=0] [grow_after=1]: touch a peak of memory, give most of it back to the
 * kernel, keep the rest alive; optionally grow suddenly later on.
 * touch_balloon=1 is the hostile case: after the free phase the kernel
 * reads and writes a chunk it gave to the balloon; it must read zeros.
 *
 * The classic guest whose freed memory the host still holds until a balloon
 * takes it (issue 6). A run has three phases, four with grow:
 *
 *   peak     PEAK bytes are taken as PEAK / 2 MiB SYS_MEM_ALLOC regions of
 *            one chunk each (the kernel's unit of user memory), filled with
 *            the seeded pattern (lib/pattern.c) and verified once.
 *   free     every region but HOLD / 2 MiB of them goes back with
 *            SYS_MEM_FREE. The kept ones are spread evenly over the peak, so
 *            the freed memory is scattered the way a real guest's is. The
 *            kernel's free frames (SYS_INFO user_free plus what is in the
 *            balloon, / 4 KiB) are read just
 *            before and after; with no task running in between, the
 *            difference must be exactly the frames freed.
 *   hold     at every whole second (TSC) all of HOLD is verified once more
 *            and one line printed; seconds=0 never ends (stop the VM).
 *   grow     right after the round of second grow_after, GROW more bytes
 *            are taken as GROW / 2 MiB regions, each filled with the pattern
 *            as soon as it is allocated, and verified once; from then on
 *            every round verifies HOLD + GROW. One line before and one after,
 *            the latter with the growth's wall time (TSC): the sudden growth
 *            a host balloon policy must answer (perf/balloon_auto.py). A
 *            region the kernel cannot hand out (even after deflating its
 *            balloon) ends the growth there; the rounds go on with what was
 *            taken and the run FAILs, saying so.
 *
 * A freed chunk is free in the kernel's allocator (mm.c: USER_FREE, counted
 * in user_free and handed out again by the next SYS_MEM_ALLOC); it stays
 * mapped user, so nothing here depends on the host keeping or dropping it.
 * The pattern word depends on its address, so a page the host dropped or
 * swapped for another one shows up as mismatching words. PASS only with 0
 * mismatching words over all phases (and a growth that got all of GROW).
 */
#include "lib/pattern.h"
#include "user/user.h"
#include "user/workload.h"

#define REGION     ((uint64_t)2 << 20)     /* one chunk: what SYS_MEM_ALLOC hands out */
#define FRAME      ((uint64_t)4096)
#define STALL      10                /* seconds a round may be late before we say so */

static const char *const churn_keys[] = { "peak", "hold", "seconds", "seed", "touch_balloon",
					  "grow", "grow_after", NULL };

struct churn {
	uint64_t peak, hold, seconds, seed, touch_balloon, grow, grow_after;
	uint64_t nregions, nhold;        /* the peak's regions, the kept ones among them */
	uint64_t nall;                   /* entries in use: nregions + the grown ones */
	uint64_t *regions;               /* region addresses, room for peak + grow; 0 once freed */
	uint64_t list;                   /* SYS_MEM_ALLOC region holding `regions` */
	uint64_t held;                   /* bytes each hold round verifies: HOLD, + GROW once grown */
};

static uint64_t mbps(uint64_t bytes, uint64_t cycles)
{
	uint64_t us = time__cycles_to_us(cycles);

	return us ? bytes / us : 0;
}

/* Is region i one of the nhold kept ones? Spread evenly: exactly nhold of the
 * peak's regions are; a grown region (i >= nregions) is always kept. */
static bool kept(const struct churn *c, uint64_t i)
{
	return i >= c->nregions ||
	       (i * c->nhold) / c->nregions != ((i + 1) * c->nhold) / c->nregions;
}

static uint64_t free_frames(void)
{
	struct l1g_info info;

	sys__info(&info);
	/* the balloon may take freed chunks at any tick: they still came back */
	return (info.user_free + info.balloon_bytes) / FRAME;
}

/* Verify every region still held; returns mismatching words. */
static uint64_t verify_held(const struct churn *c)
{
	uint64_t bad = 0;

	for (uint64_t i = 0; i < c->nall; i++)
		if (c->regions[i])
			bad += pattern__verify((const uint64_t *)c->regions[i], REGION / 8, c->seed);
	return bad;
}

static void free_regions(struct churn *c, bool all)
{
	for (uint64_t i = 0; i < c->nall; i++) {
		if (c->regions[i] && (all || !kept(c, i))) {
			sys__mem_free(c->regions[i]);
			c->regions[i] = 0;
		}
	}
}

static int parse(const struct args *a, struct churn *c)
{
	if (!args__get(a, "peak")) {
		args__bad("workload=churn needs peak=SIZE");
		return -1;
	}
	if (args__size(a, "peak", 0, REGION, 1ull << 46, &c->peak) ||
	    args__size(a, "hold", 0, 0, 1ull << 46, &c->hold) ||
	    args__u64(a, "seconds", 10, 0, 86400, &c->seconds) ||
	    args__u64(a, "seed", 1, 0, UINT64_MAX, &c->seed) ||
	    args__u64(a, "touch_balloon", 0, 0, 1, &c->touch_balloon))
		return -1;
	if (c->peak % REGION || c->hold % REGION) {
		args__bad("peak=%lu hold=%lu: both must be multiples of 2M (the kernel's chunk)",
			  c->peak, c->hold);
		return -1;
	}
	if (c->hold > c->peak) {
		args__bad("hold=%lu is more than peak=%lu", c->hold, c->peak);
		return -1;
	}
		if (args__size(a, "grow", 0, 0, 1ull << 46, &c->grow) ||
	    args__u64(a, "grow_after", 1, 1, 86400, &c->grow_after))
		return -1;
	if (c->grow % REGION) {
		args__bad("grow=%lu: must be a multiple of 2M (the kernel's chunk)", c->grow);
		return -1;
	}
	if (c->grow && c->seconds && c->grow_after >= c->seconds) {
		args__bad("grow_after=%lu: the run ends at seconds=%lu, before the growth",
			  c->grow_after, c->seconds);
		return -1;
	}
	/* The region list takes one more chunk (it needs 8 bytes per region).
	 * (memory in the balloon counts: the kernel takes it back before an OOM) */
	uint64_t list = (((c->peak + c->grow) / REGION * 8 + REGION - 1) / REGION) * REGION;
	uint64_t can = user__info.user_free + user__info.balloon_bytes;
	if (c->peak + list > can) {
		args__bad("peak=%lu is more than the %lu bytes the guest can hand out (with %lu MiB RAM)",
			  c->peak, can, user__info.mem_bytes >> 20);
		return -1;
	}
	if (c->hold + c->grow + list > can) {
		args__bad("hold=%lu + grow=%lu is more than the %lu bytes the guest can hand out "
			  "(with %lu MiB RAM)", c->hold, c->grow, can, user__info.mem_bytes >> 20);
		return -1;
	}
	c->nregions = c->peak / REGION;
	c->nhold = c->hold / REGION;
	c->nall = c->nregions;
	c->held = c->hold;
	return 0;
}

static int alloc_peak(struct churn *c)
{
	int64_t r = sys__mem_alloc((c->peak + c->grow) / REGION * sizeof(*c->regions));

	if (r < 0) {
		args__bad("peak=%lu: no room for its region list: error %ld", c->peak, r);
		return -1;
	}
	c->list = (uint64_t)r;
	c->regions = (uint64_t *)r;
	for (uint64_t i = 0; i < c->nregions; i++) {
		r = sys__mem_alloc(REGION);
		if (r < 0) {
			args__bad("peak=%lu cannot be allocated: region %lu: error %ld (%lu bytes free at boot)",
				  c->peak, i, r, user__info.user_free);
			c->nregions = i;
			free_regions(c, true);
			sys__mem_free(c->list);
			return -1;
		}
		c->regions[i] = (uint64_t)r;
	}
	return 0;
}

/*
 * The growth: take GROW more, region by region, each filled at once; then
 * verify it once. Returns mismatching words; an allocation failure fails r.
 */
static uint64_t grow(struct churn *c, uint64_t round, struct result *r)
{
	uint64_t n = c->grow / REGION, t0 = cpu__rdtsc(), t1, got = 0, bad;

	printf("churn: growing=%lu t=%lu\n", c->grow, round);
	for (; got < n; got++) {
		int64_t a = sys__mem_alloc(REGION);

		if (a < 0) {
			printf("churn: grow stopped at %lu of %lu bytes: error %ld\n",
			       got * REGION, c->grow, a);
			result__fail(r, "grow=%lu: only %lu bytes could be allocated (error %ld)",
				     c->grow, got * REGION, a);
			break;
		}
		c->regions[c->nall++] = (uint64_t)a;
		pattern__fill((uint64_t *)a, REGION / 8, c->seed);
	}
	t1 = cpu__rdtsc();
	c->held += got * REGION;
	bad = 0;
	for (uint64_t i = c->nregions; i < c->nall; i++)
		bad += pattern__verify((const uint64_t *)c->regions[i], REGION / 8, c->seed);
	printf("churn: grew=%lu held=%lu grow_ms=%lu write_MBps=%lu mismatches=%lu\n",
	       got * REGION, c->held, time__cycles_to_us(t1 - t0) / 1000,
	       mbps(got * REGION, t1 - t0), bad);
	return bad;
}

/* Sleep (ticks) until the TSC reaches deadline. */
static void sleep_until_tsc(uint64_t deadline)
{
	while (cpu__rdtsc() < deadline)
		sys__sleep_until(sys__ticks() + 1);
}

/* The hostile case: wait (up to STALL s) for the balloon to hold memory, then
 * have the kernel read and write a given-back chunk; it must read zeros. */
static void touch_balloon(struct result *r, uint64_t tsc_per_sec)
{
	struct l1g_info info;
	uint64_t until = cpu__rdtsc() + STALL * tsc_per_sec;
	int64_t n;

	do {
		sys__info(&info);
		if (info.balloon_bytes)
			break;
		sleep_until_tsc(cpu__rdtsc() + tsc_per_sec / 10);
	} while (cpu__rdtsc() < until);
	n = sys__ktest(L1G_KTEST_BALLOON_TOUCH);
	printf("churn: balloon_touch balloon_bytes=%lu nonzero_bytes=%ld\n", info.balloon_bytes, n);
	if (n < 0)
		result__fail(r, "touch_balloon=1: the balloon stayed empty for %d s", STALL);
	else if (n)
		result__fail(r, "touch_balloon=1: given-back frames read %ld nonzero bytes", n);
}

static enum workload_result churn_run(const struct args *a, struct result *r)
{
	static struct churn c;
	uint64_t t0, tw, tv, before, after, bad, tsc_per_sec, rounds = 0, held_cycles = 0;
	uint64_t held_bytes = 0;

	if (parse(a, &c))
		return W_BADARG;
	if (!user__info.tsc_khz)
		return result__fail(r, "TSC frequency unknown (start_info.tsc_khz = 0)");
	tsc_per_sec = user__info.tsc_khz * 1000;
	if (alloc_peak(&c))
		return W_BADARG;

	t0 = cpu__rdtsc();
	for (uint64_t i = 0; i < c.nregions; i++)
		pattern__fill((uint64_t *)c.regions[i], REGION / 8, c.seed);
	tw = cpu__rdtsc();
	bad = verify_held(&c);
	tv = cpu__rdtsc();

	before = free_frames();
	free_regions(&c, false);
	after = free_frames();
	printf("churn: peak=%lu hold=%lu freed=%lu kernel_free_frames_before=%lu after=%lu "
	       "returned_frames=%lu mismatches=%lu write_MBps=%lu verify_MBps=%lu\n",
	       c.peak, c.hold, c.peak - c.hold, before, after, after - before, bad,
	       mbps(c.peak, tw - t0), mbps(c.peak, tv - tw));
	if (after - before != (c.peak - c.hold) / FRAME)
		result__fail(r, "the kernel got %lu frames back, %lu were freed", after - before,
			     (c.peak - c.hold) / FRAME);

	if (c.touch_balloon)
		touch_balloon(r, tsc_per_sec);

	t0 = cpu__rdtsc();
	for (uint64_t rd = 1; !c.seconds || rd <= c.seconds; rd++) {
		uint64_t deadline = t0 + rd * tsc_per_sec, start;

		sleep_until_tsc(deadline);
		start = cpu__rdtsc();
		if (start > deadline + STALL * tsc_per_sec)
			printf("churn: round %lu started %lu s late\n", rd, (start - deadline) / tsc_per_sec);
		bad += verify_held(&c);
		held_cycles += cpu__rdtsc() - start;
		held_bytes += c.held;
		printf("churn: t=%lu mismatches=%lu verify_MBps=%lu\n", rd, bad,
		       mbps(c.held, cpu__rdtsc() - start));
		rounds = rd;
		if (c.grow && rd == c.grow_after)
			bad += grow(&c, rd, r);
	}
	printf("churn: rounds=%lu mismatches=%lu verify_MBps=%lu\n", rounds, bad,
	       mbps(held_bytes, held_cycles));
	if (bad)
		result__fail(r, "%lu mismatching words", bad);
	free_regions(&c, true);
	sys__mem_free(c.list);
	return r->reason[0] ? W_FAIL : W_PASS;
}

const struct workload workload__churn = {
	.name = "churn",
	.keys = churn_keys,
	.run = churn_run,
};
