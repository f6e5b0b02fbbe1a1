// SPDX-License-Identifier: MIT
/*
 * DOC: workload=swapstorm size=SIZE [seconds=10] [seed=1] [pause_ms=0]: a working set
 * larger than the guest's memory, paged by the guest kernel itself to its
 * virtio-blk disk (`swap=virtio`, kernel/swap.c), every page verified all
 * along.
 *
 * SIZE bytes (a 4K multiple, at most 256M) are P = SIZE / 4 KiB pages of
 * one SYS_SWAP_ALLOC region. Page i at version v holds
 * hotcold__fill(seed, i, v) (lib/hotcold.h). A run has three phases:
 *
 *   fill     every page checked to read zero, then written at version 0, in
 *            order (each a first touch: the kernel gives it a zeroed frame,
 *            and once the guest runs short of frames, writes older pages to
 *            the disk);
 *   pause    pause_ms milliseconds asleep (the guest idle: every frame goes
 *            cold, so host reclaim can take the guest's resident pages
 *            before the storm makes the guest write them out: the
 *            double-paging tests rely on it);
 *   storm    until `seconds` have passed (TSC), pages picked at random
 *            (xorshift64 from the seed): verify it at its version (it may
 *            have to be read back from the disk first), rewrite it at
 *            version + 1, verify it again;
 *   final    every page verified at its last version.
 *
 * Versions live in an array of the user image (not in the region). A
 * mismatching page is counted once, and the first MAX_REPORTS are printed.
 * Output (stable; the tests parse it):
 *
 *   swapstorm: size=BYTES pages=P seed=N mem_mb=M
 *   swapstorm: fill pages=P ms=T swap_outs=X
 *   swapstorm: mismatch page=I check=zero|storm|rewrite|final version=V words=N
 *   swapstorm: profile phase=fill|all faults=N fault_ms=T clock_ms=T out_ms=T in_ms=T
 *              zero_ms=T hint_ms=T map_ms=T zero_hinted=N
 *       (one line, after the fill and at the end) where the kernel's swap
 *       path spent its time (TSC): faults in all (fault_ms includes the
 *       rest), the clock's scan, swap-out writes, swap-in reads, zero
 *       fills, double-paging hints, mapping the page; zero fills l1vmm
 *       had done already (frames it discarded at an L1_DP_ZEROED hint)
 *   swapstorm: touches=N mismatches=M swap_outs=X swap_ins=Y zero_fills=Z
 *              slots_used=S io_errors=E seconds=S.SSS
 *       (one line), the counters the kernel's (SYS_SWAP_STATS)
 *
 * PASS (exit 0) only with 0 mismatches, 0 disk errors and every page
 * verified; the region is freed at the end (its frames and disk slots),
 * and a kernel that does not give the slots back fails the run.
 */
#include "lib/hotcold.h"
#include "user/user.h"
#include "user/workload.h"

#define PAGE_SIZE   4096ul
#define MAX_PAGES   65536ul /* 256 MiB */
#define MAX_REPORTS 8

static const char *const swapstorm_keys[] = { "size", "seconds", "seed", "pause_ms", NULL };

static uint16_t version[MAX_PAGES];
static uint64_t mismatches, reports;
static uint8_t counted[MAX_PAGES / 8];

static int64_t sys__swap_alloc(uint64_t bytes)
{
	return sys__call(SYS_SWAP_ALLOC, bytes, 0, 0, 0);
}

static int64_t sys__swap_free(uint64_t addr)
{
	return sys__call(SYS_SWAP_FREE, addr, 0, 0, 0);
}

static void swap_stats(struct l1g_swap_stats *s)
{
	sys__call(SYS_SWAP_STATS, (uint64_t)s, 0, 0, 0);
}

/* Where the kernel's swap path spent its time so far (TSC in ms). */
static void print_profile(const char *phase, const struct l1g_swap_stats *s)
{
	uint64_t k = user__info.tsc_khz;

	printf("swapstorm: profile phase=%s faults=%lu fault_ms=%lu clock_ms=%lu out_ms=%lu "
	       "in_ms=%lu zero_ms=%lu hint_ms=%lu map_ms=%lu zero_hinted=%lu\n", phase, s->faults,
	       s->tsc_fault / k, s->tsc_clock / k, s->tsc_out / k, s->tsc_in / k, s->tsc_zero / k,
	       s->tsc_hint / k, s->tsc_map / k, s->zero_hinted);
}

/* A page touched for the first time reads zero. */
static void check_zero(const uint64_t *words, uint64_t page)
{
	unsigned int bad = 0;

	for (unsigned int w = 0; w < HOTCOLD_PAGE_WORDS; w++)
		bad += words[w] != 0;
	if (!bad)
		return;
	counted[page / 8] |= (uint8_t)(1u << (page % 8));
	mismatches++;
	if (reports++ < MAX_REPORTS)
		printf("swapstorm: mismatch page=%lu check=zero version=0 words=%u\n", page, bad);
}

static void check(const uint64_t *words, uint64_t seed, uint64_t page, const char *where)
{
	unsigned int bad = hotcold__verify(words, seed, page, version[page]);

	if (!bad || (counted[page / 8] & (1u << (page % 8))))
		return;
	counted[page / 8] |= (uint8_t)(1u << (page % 8));
	mismatches++;
	if (reports++ < MAX_REPORTS)
		printf("swapstorm: mismatch page=%lu check=%s version=%u words=%u\n", page, where,
		       version[page], bad);
}

static enum workload_result swapstorm_run(const struct args *a, struct result *r)
{
	uint64_t size, seconds, seed, pause_ms, pages, rng, touches = 0, t0, t_fill, t_end, now;
	struct l1g_swap_stats st;
	uint64_t *base;
	int64_t addr;

	if (!args__get(a, "size")) {
		args__bad("workload=swapstorm needs size=SIZE");
		return W_BADARG;
	}
	if (args__size(a, "size", 0, PAGE_SIZE, MAX_PAGES * PAGE_SIZE, &size) ||
	    args__u64(a, "seconds", 10, 0, 86400, &seconds) ||
	    args__u64(a, "seed", 1, 0, UINT64_MAX, &seed) ||
	    args__u64(a, "pause_ms", 0, 0, 600000, &pause_ms))
		return W_BADARG;
	if (size % PAGE_SIZE) {
		args__bad("size=%lu must be a multiple of 4K", size);
		return W_BADARG;
	}
	if (!user__info.tsc_khz)
		return result__fail(r, "TSC frequency unknown (start_info.tsc_khz = 0)");
	addr = sys__swap_alloc(size);
	if (addr < 0)
		return result__fail(r, "no swap region (%ld): the kernel needs swap=virtio and a disk",
				    addr);
	base = (uint64_t *)addr;
	pages = size / PAGE_SIZE;
	printf("swapstorm: size=%lu pages=%lu seed=%lu mem_mb=%lu\n", size, pages, seed,
	       user__info.mem_bytes >> 20);

	t0 = cpu__rdtsc();
	for (uint64_t i = 0; i < pages; i++) {
		check_zero(base + i * HOTCOLD_PAGE_WORDS, i);
		hotcold__fill(base + i * HOTCOLD_PAGE_WORDS, seed, i, 0);
	}
	t_fill = cpu__rdtsc();
	swap_stats(&st);
	printf("swapstorm: fill pages=%lu ms=%lu swap_outs=%lu\n", pages,
	       (t_fill - t0) / user__info.tsc_khz, st.swap_outs);
	print_profile("fill", &st);

	if (pause_ms) {
		uint64_t wake = cpu__rdtsc() + pause_ms * user__info.tsc_khz;

		while (cpu__rdtsc() < wake)
			sys__sleep_until(sys__ticks() + 1);
		t_fill = cpu__rdtsc();
	}

	rng = hotcold__mix(seed) | 1;
	t_end = t_fill + seconds * user__info.tsc_khz * 1000;
	for (now = t_fill; now < t_end; now = cpu__rdtsc()) {
		uint64_t i, *w;

		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		i = rng % pages;
		w = base + i * HOTCOLD_PAGE_WORDS;
		check(w, seed, i, "storm");
		version[i]++;
		hotcold__fill(w, seed, i, version[i]);
		check(w, seed, i, "rewrite");
		touches++;
	}
	for (uint64_t i = 0; i < pages; i++)
		check(base + i * HOTCOLD_PAGE_WORDS, seed, i, "final");
	swap_stats(&st);
	now = cpu__rdtsc();
	printf("swapstorm: touches=%lu mismatches=%lu swap_outs=%lu swap_ins=%lu zero_fills=%lu "
	       "slots_used=%lu io_errors=%lu seconds=%lu.%03lu\n", touches, mismatches,
	       st.swap_outs, st.swap_ins, st.zero_fills, st.slots_used, st.io_errors,
	       (now - t0) / (user__info.tsc_khz * 1000),
	       (now - t0) / user__info.tsc_khz % 1000);
	printf("swapstorm: host_bitmap=%lu host_passed=%lu host_hinted=%lu\n", st.host_bitmap,
	       st.host_passed, st.host_hinted);
	print_profile("all", &st);
	if (sys__swap_free(addr) < 0)
		return result__fail(r, "SYS_SWAP_FREE refused the region");
	swap_stats(&st);
	if (st.slots_used || st.resident)
		return result__fail(r, "freeing the region left %lu slots and %lu frames in use",
				    st.slots_used, st.resident);
	if (mismatches)
		return result__fail(r, "%lu pages mismatched", mismatches);
	if (st.io_errors)
		return result__fail(r, "%lu disk errors", st.io_errors);
	return W_PASS;
}

const struct workload workload__swapstorm = {
	.name = "swapstorm", .keys = swapstorm_keys, .run = swapstorm_run,
};
