// SPDX-License-Identifier: MIT
/*
 * DOC: workload=hello: a greeting, plus one task per CPU to show each runs.
 */
#include "user/user.h"
#include "user/workload.h"

static int64_t greet(uint64_t arg)
{
	uint64_t self = sys__self();

	(void)arg;
	printf("l1guest: hello from task %lu on cpu %lu\n", self & 0xffffffff, self >> 32);
	return 0;
}

static enum workload_result hello_run(const struct args *a, struct result *r)
{
	int64_t tids[64];
	unsigned int n = user__info.nr_cpus < 64 ? user__info.nr_cpus : 64;

	(void)a;
	printf("l1guest: hello from CPL3: %u vCPUs, %lu MiB RAM\n", user__info.nr_cpus,
	       user__info.mem_bytes >> 20);
	for (unsigned int i = 0; i < n; i++) {
		tids[i] = task__spawn(greet, 0, (int)i);
		if (tids[i] < 0)
			return result__fail(r, "spawn on cpu %u: error %ld", i, tids[i]);
	}
	for (unsigned int i = 0; i < n; i++) {
		int64_t st = task__join(tids[i]);

		if (st != 0)
			return result__fail(r, "task %ld ended with status %#lx", tids[i], st);
	}
	return W_PASS;
}

const struct workload workload__hello = {
	.name = "hello",
	.run = hello_run,
};
