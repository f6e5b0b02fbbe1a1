// SPDX-License-Identifier: MIT
/*
 * Host-native run of the guest's compute loop (lib/compute.c), the baseline
 * for workload=compute: the ratio of the two iter_per_sec is the guest's
 * overhead (timer ticks, exits). Not part of the build; from the repo root:
 *
 *   gcc -O2 -mgeneral-regs-only -c guest/lib/compute.c -o /tmp/compute.o
 *   gcc -O2 -Iguest/lib guest/scripts/native_compute.c /tmp/compute.o -o /tmp/native_compute
 *   /tmp/native_compute 1000000000
 *
 * (compute.c is compiled with the guest's -mgeneral-regs-only so both run
 * the same code; this file uses floating point, hence the two steps.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "compute.h"
int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], 0, 0) : 200000000ul;
	for (int r = 0; r < 5; r++) {
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		unsigned long s = compute__run(n, 1);
		clock_gettime(CLOCK_MONOTONIC, &b);
		double t = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
		printf("native: iterations=%lu seconds=%.3f iter_per_sec=%.0f checksum=%#lx\n", n, t, n / t, s);
	}
	return 0;
}
