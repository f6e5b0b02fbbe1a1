/* SPDX-License-Identifier: MIT */
/*
 * DOC: the CPU-bound integer loop of workload=compute.
 *
 * Standalone (only <stdint.h>) so the same code can be compiled natively on
 * the host: the ratio of the two speeds is the guest's overhead (timer ticks,
 * exits), since CPL3 code runs natively here.
 */
#ifndef L1G_LIB_COMPUTE_H
#define L1G_LIB_COMPUTE_H

#include <stdint.h>

/* Run iterations steps of an LCG/xorshift mix from seed; returns the state. */
uint64_t compute__run(uint64_t iterations, uint64_t seed);

#endif
