// SPDX-License-Identifier: MIT
/*
 * DOC: kernel-internal self checks, run by workload=selftest via SYS_KTEST.
 *
 * Only what a task cannot observe through system calls lives here (the 4 KiB
 * frame allocator); everything else is tested from CPL3, where it is cheap.
 * Each failure returns its own negative code; user/selftest.c names them.
 */
#include <stdbool.h>

#include "arch/x86/x86.h"
#include "include/uapi.h"
#include "kernel/balloon.h"
#include "kernel/mm.h"
#include "kernel/trap.h"

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int64_t ktest_frames(void)
{
	uint64_t a = (uint64_t)mm__alloc_frames(0, false);
	uint64_t b = (uint64_t)mm__alloc_frames(0, false);
	uint64_t c = (uint64_t)mm__alloc_frames(2, false);
	uint64_t u = (uint64_t)mm__alloc_frames(0, true);
	int64_t ret = 0;

	if (!a || !b || !c || !u)
		ret = -1; /* allocation failed */
	else if ((a | b | u) & (PAGE_SIZE - 1) || c & (4 * PAGE_SIZE - 1))
		ret = -2; /* misaligned */
	else if (overlap(a, PAGE_SIZE, b, PAGE_SIZE) || overlap(a, PAGE_SIZE, c, 4 * PAGE_SIZE) ||
		 overlap(b, PAGE_SIZE, c, 4 * PAGE_SIZE) || overlap(u, PAGE_SIZE, a, PAGE_SIZE))
		ret = -3; /* handed out twice */
	else if (mm__user_ok(a, 1) || mm__user_ok(c, 1) || !mm__user_ok(u, PAGE_SIZE))
		ret = -5; /* wrong side of the user/supervisor split */
	else if (mm__alloc_frames(MM_MAX_ORDER + 1, false))
		ret = -6; /* impossible request granted */

	if (a && mm__free_frames((void *)a, 0))
		ret = ret ? ret : -7; /* free refused */
	if (a && !mm__free_frames((void *)a, 0))
		ret = ret ? ret : -4; /* double free not detected */
	if (b)
		mm__free_frames((void *)b, 0);
	if (c)
		mm__free_frames((void *)c, 2);
	if (u)
		mm__free_frames((void *)u, 0);
	if (!ret) {
		/* Freed frames are reusable: the lowest free frame comes back first. */
		uint64_t again = (uint64_t)mm__alloc_frames(0, false);

		if (!again || again > a)
			ret = -8;
		if (again)
			mm__free_frames((void *)again, 0);
	}
	return ret;
}

int64_t ktest__run(uint64_t which)
{
	switch (which) {
	case L1G_KTEST_FRAMES:
		return ktest_frames();
	case L1G_KTEST_BALLOON_TOUCH:
		return balloon__touch_test();
	default:
		return -L1G_EINVAL;
	}
}
