// SPDX-License-Identifier: MIT
/*
 * DOC: workload=compute [iterations=N] [seconds=S]: a CPU-bound integer loop
 * at CPL3, timed with rdtsc; with seconds=S it runs chunks of `iterations`
 * until S seconds have passed (a guest that stays busy for a known time). Its speed against the same loop run natively on the host
 * (lib/compute.c) is the cost of being a guest: timer ticks and exits.
 * [calls=N] sets how many null system calls time a kernel entry (100); a
 * large N makes it a system call storm, which races every kernel entry
 * against the host's event delivery.
 */
#include "lib/compute.h"
#include "user/user.h"
#include "user/workload.h"

#define NULL_HYPERCALLS 100

static const char *const compute_keys[] = { "iterations", "seconds", "calls", NULL };
#define WINDOW_MS 100

/*
 * Cycles this task loses in WINDOW_MS while the tick runs at hz: spin on
 * rdtsc and add up every gap between 2 us (the loop itself takes
 * nanoseconds) and 1 ms (longer ones are the host scheduling the vCPU
 * thread out, not interrupts). The host interrupts the vCPU too, so one
 * number mixes both; tick_cost_ns() takes the difference between two rates.
 */
static uint64_t lost_cycles(uint32_t hz)
{
	uint64_t thresh = user__info.tsc_khz * 2 / 1000, cap = user__info.tsc_khz;
	uint64_t span = user__info.tsc_khz * WINDOW_MS;
	uint64_t start, prev, now, lost = 0;

	sys__set_hz(hz);
	sys__sleep_until(sys__ticks() + 2); /* every CPU has re-armed */
	start = prev = cpu__rdtsc();
	while ((now = cpu__rdtsc()) - start < span) {
		if (now - prev > thresh && now - prev < cap)
			lost += now - prev;
		prev = now;
	}
	return lost;
}

/* The cost of one tick as the interrupted task sees it: entry, handler, EOI, iretq. */
static uint64_t tick_cost_ns(void)
{
	uint32_t hz = user__info.hz;
	uint64_t lo = lost_cycles(10), hi = lost_cycles(1000);

	sys__set_hz(hz);
	if (hi <= lo)
		return 0;
	/* (hi - lo) cycles over (1000 - 10) * WINDOW_MS / 1000 extra ticks */
	return cpu__muldiv(hi - lo, 1000000, user__info.tsc_khz * (1000 - 10) * WINDOW_MS / 1000);
}

static enum workload_result compute_run(const struct args *a, struct result *r)
{
	uint64_t iters, seconds, calls, t0, t1, tick0, tick1, sum, us, per_sec, ns, chunk;

	if (args__u64(a, "iterations", 200000000ull, 1, 1ull << 40, &iters) ||
	    args__u64(a, "seconds", 0, 0, 86400, &seconds) ||
	    args__u64(a, "calls", 100, 1, 100000000ull, &calls))
		return W_BADARG;
	if (!user__info.tsc_khz)
		return result__fail(r, "TSC frequency unknown (start_info.tsc_khz = 0)");

	tick0 = sys__ticks();
	t0 = cpu__rdtsc();
	sum = compute__run(iters, 1);
	t1 = cpu__rdtsc();
	for (chunk = iters; seconds && t1 - t0 < seconds * user__info.tsc_khz * 1000;) {
		sum += compute__run(chunk, 1);
		iters += chunk;
		t1 = cpu__rdtsc();
	}
	tick1 = sys__ticks();

	us = time__cycles_to_us(t1 - t0);
	per_sec = us ? cpu__muldiv(iters, 1000000, us) : 0;
	printf("compute: checksum=%#lx ticks=%lu hz=%u\n", sum, tick1 - tick0, user__info.hz);
	printf("compute: iterations=%lu seconds=%lu.%03lu iter_per_sec=%lu\n", iters,
	       us / 1000000, us / 1000 % 1000, per_sec);

	/* What one kernel entry costs here (CPL0 is emulated): SYS_SELF does nothing. */
	t0 = cpu__rdtsc();
	for (uint64_t i = 0; i < calls; i++)
		sys__self();
	t1 = cpu__rdtsc();
	printf("compute: null_syscall_us=%lu (%lu calls)\n", time__cycles_to_us(t1 - t0) / calls,
	       calls);
	/* shadow mode: the bare hypercall round trip, made by the kernel */
	int64_t cycles = sys__pvtest(L1G_PVT_NULL_HYPERCALLS, NULL_HYPERCALLS);
	if (cycles > 0)
		printf("compute: null_hypercall_us=%lu (%d calls)\n",
		       time__cycles_to_us((uint64_t)cycles) / NULL_HYPERCALLS, NULL_HYPERCALLS);
	ns = tick_cost_ns();
	/* ns * hz / 10^7 = per cent of the CPU the tick takes */
	printf("compute: tick_cost_us=%lu.%03lu tick_overhead=%lu.%02lu%% at %u Hz\n",
	       ns / 1000, ns % 1000, ns * user__info.hz / 10000000,
	       ns * user__info.hz / 100000 % 100, user__info.hz);
	return W_PASS;
}

const struct workload workload__compute = {
	.name = "compute",
	.keys = compute_keys,
	.run = compute_run,
};
