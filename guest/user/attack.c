// SPDX-License-Identifier: MIT
/*
 * DOC: workload=attack kind=alias|flushstorm|validate|quota [seconds=S]
 * [regions=N]: a shadow-mode guest that spends S seconds (10) on one hostile
 * page-table pattern, round after round (kernel/pvattack.c says what each
 * kind does, and what `regions` means for it), so that the cost to the
 * guests beside it can be measured (tests/integration/test_neighbour.py,
 * perf/neighbour.sh).
 *
 * Output: `attack: kind=K rounds=N refused=M seconds=S` then the result.
 * PASS when every round ended as it should: validate refused (l1vmm must
 * refuse a tree with a writable leaf over its own table), the others
 * accepted, and every word read through the aliased window the frame's own.
 * In ept mode there is no shadow MMU to attack: FAIL.
 */
#include "lib/string.h"
#include "user/user.h"
#include "user/workload.h"

static const char *const attack_keys[] = { "kind", "seconds", "regions", NULL };

static const struct {
	const char *name;
	enum l1g_attack kind;
	uint64_t regions; /* default */
} kinds[] = {
	{ "alias", L1G_ATTACK_ALIAS, 512 },
	{ "flushstorm", L1G_ATTACK_FLUSHSTORM, 64 },
	{ "validate", L1G_ATTACK_VALIDATE, 0 },
	{ "quota", L1G_ATTACK_QUOTA, 2048 },
};

static enum workload_result attack_run(const struct args *a, struct result *r)
{
	const char *name = args__get(a, "kind");
	uint64_t seconds, regions, rounds = 0, refused = 0, arg, t0, t1;
	unsigned int k = 0;
	int64_t data = 0, rc;

	while (k < sizeof(kinds) / sizeof(kinds[0]) && (!name || strcmp(name, kinds[k].name)))
		k++;
	if (k == sizeof(kinds) / sizeof(kinds[0])) {
		args__bad("kind=%s: one of alias, flushstorm, validate, quota", name ? name : "");
		return W_BADARG;
	}
	if (args__u64(a, "seconds", 10, 1, 86400, &seconds) ||
	    args__u64(a, "regions", kinds[k].regions, 0, 2048, &regions))
		return W_BADARG;
	if (user__info.mode != L1_MODE_SHADOW)
		return result__fail(r, "needs shadow mode (no shadow MMU to attack)");
	if (!user__info.tsc_khz)
		return result__fail(r, "TSC frequency unknown (start_info.tsc_khz = 0)");
	if (kinds[k].kind == L1G_ATTACK_VALIDATE && (data = sys__mem_alloc(2ull << 20)) < 0)
		return result__fail(r, "no 2 MiB of user memory: error %ld", data);
	arg = (uint64_t)data | kinds[k].kind | regions << 4;

	t0 = t1 = cpu__rdtsc();
	while (t1 - t0 < seconds * user__info.tsc_khz * 1000) {
		rc = sys__pvtest(L1G_PVT_ATTACK, arg);
		rounds++;
		if (rc < 0)
			refused++;
		if (kinds[k].kind == L1G_ATTACK_VALIDATE ? rc >= 0 : rc < 0)
			return result__fail(r, "round %lu: %s %ld", rounds,
					    rc < 0 ? "l1vmm answered" : "l1vmm accepted the tree:", rc);
		t1 = cpu__rdtsc();
	}
	printf("attack: kind=%s rounds=%lu refused=%lu seconds=%lu\n", kinds[k].name, rounds,
	       refused, time__cycles_to_us(t1 - t0) / 1000000);
	return W_PASS;
}

const struct workload workload__attack = {
	.name = "attack",
	.keys = attack_keys,
	.run = attack_run,
};
