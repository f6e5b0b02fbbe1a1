// SPDX-License-Identifier: MIT
/*
 * DOC: workload=crash: the kernel triple-faults on purpose (SYS_CRASH), so
 * the VMM's crash path (exit status 3, register dump) can be tested.
 */
#include "user/user.h"
#include "user/workload.h"

static enum workload_result crash_run(const struct args *a, struct result *r)
{
	(void)a;
	printf("crash: triple faulting now\n");
	sys__crash();
	return result__fail(r, "the kernel survived SYS_CRASH");
}

const struct workload workload__crash = {
	.name = "crash",
	.run = crash_run,
};
