// SPDX-License-Identifier: MIT
/*
 * DOC: the guest's compute loop (guest/lib/compute.c, the very same file)
 * run natively on the host: the baseline for workload=compute. The ratio of
 * the guest's iter_per_sec to this one is what being a guest costs the loop
 * (timer ticks, exits). compute.c is built with the guest's code-generation
 * flags (-mgeneral-regs-only), so both sides run the same instructions.
 *
 *   compute_native [ITERATIONS] [RUNS]   (defaults 1000000000, 1)
 * prints one line per run: `native: iterations=N seconds=S iter_per_sec=N`.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "guest/lib/compute.h"

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000000000ull;
	int runs = argc > 2 ? atoi(argv[2]) : 1;
	if (n == 0 || runs <= 0) {
		fprintf(stderr, "usage: compute_native [ITERATIONS] [RUNS]\n");
		return 2;
	}
	for (int r = 0; r < runs; r++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		uint64_t sum = compute__run(n, 1);
		clock_gettime(CLOCK_MONOTONIC, &b);
		double t = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		printf("native: iterations=%" PRIu64 " seconds=%.3f iter_per_sec=%.0f checksum=%#" PRIx64
		       "\n", n, t, (double)n / t, sum);
	}
	return 0;
}
