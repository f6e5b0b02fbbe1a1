/* SPDX-License-Identifier: MIT */
/*
 * Shadow mode's machine-frame allocator (mmu/shadow/machine.c) on a full
 * pool: a 2 GiB machine, 90 % of its frames taken one by one, then one frame
 * in every 997 of the upper half given back. That is the shape of a machine
 * with guests, their shadow tables and page sharing's copies in it: every
 * shadow table and every copy-on-write break takes one frame. Each iteration
 * takes one frame and gives back every second one taken (so the pool stays
 * full). Host only; no KVM.
 *
 *	build/perf/bench_frames [--benchmark_repetitions=5]
 */
#include <stdio.h>
#include <stdlib.h>

#include "mmu/shadow/shadow.h"
#include "perf/gbench.h"

static void bm_alloc_one(struct gbench_state *st, void *arg)
{
	(void)arg;
	struct shadow_machine m;
	if (shadow__machine_init(&m, 2ull << 30, 16) < 0) {
		gbench_skip_with_error(st, "shadow__machine_init failed");
		return;
	}
	uint64_t nr = m.free_frames;
	for (uint64_t i = 0; i < nr * 9 / 10; i++)
		shadow__alloc_frames(&m, 1);
	for (uint64_t f = 16 + nr / 2; f < 16 + nr * 9 / 10; f += 997)
		shadow__free_frames(&m, f, 1);
	uint64_t n = 0;
	while (gbench_keep_running(st)) {
		int64_t f = shadow__alloc_frames(&m, 1);
		if (f >= 0 && n++ % 2)
			shadow__free_frames(&m, (uint64_t)f, 1);
	}
	gbench_set_items_processed(st, gbench_iterations(st));
	shadow__machine_destroy(&m);
}

int main(int argc, char **argv)
{
	gbench_unit(gbench_register("shadow_alloc_one_frame_full_pool", bm_alloc_one, NULL), GBENCH_NS);
	return gbench_main(argc, argv);
}
