// SPDX-License-Identifier: MIT
/*
 * The pseudo-page-fault token table (reclaim/apf.h): the bound, duplicate
 * faults on one frame, stale completions, each token delivered once.
 */
#include "tests/unit/cmocka_all.h"

#include <errno.h>

#include "reclaim/apf.h"

static void issue_ok(struct apf_table *t, uint64_t gfn, uint32_t *tok, bool want_fetch)
{
	bool fetch;
	assert_int_equal(apf__issue(t, gfn, tok, &fetch), 0);
	assert_int_equal(fetch, want_fetch);
	assert_true(*tok != 0 && *tok != L1_APF_WAKE_ALL);
}

static void bounded_at_64(void **state)
{
	(void)state;
	struct apf_table t;
	apf__init(&t);
	uint32_t tok[APF_TOKENS + 1];
	for (unsigned i = 0; i < APF_TOKENS; i++) {
		issue_ok(&t, 100 + i, &tok[i], true);
		for (unsigned j = 0; j < i; j++)
			assert_int_not_equal(tok[i], tok[j]);
	}
	bool fetch;
	assert_int_equal(apf__issue(&t, 999, &tok[APF_TOKENS], &fetch), -ENOSPC);
	assert_int_equal(t.outstanding, APF_TOKENS);
	/* finished but never taken by the guest: still no room */
	assert_int_equal(apf__complete(&t, 100, t.epoch), 1);
	assert_int_equal(apf__issue(&t, 999, &tok[APF_TOKENS], &fetch), -ENOSPC);
	uint32_t r;
	assert_true(apf__take_ready(&t, &r));
	assert_int_equal(r, tok[0]);
	issue_ok(&t, 999, &tok[APF_TOKENS], true);
	assert_int_not_equal(tok[APF_TOKENS], tok[0]); /* the slot's next token is new */
}

static void duplicates_share_one_fetch(void **state)
{
	(void)state;
	struct apf_table t;
	apf__init(&t);
	uint32_t a, b, c;
	issue_ok(&t, 7, &a, true);
	issue_ok(&t, 7, &b, false);
	issue_ok(&t, 8, &c, true);
	assert_int_not_equal(a, b);
	assert_int_equal(apf__complete(&t, 7, t.epoch), 2);
	assert_int_equal(apf__complete(&t, 7, t.epoch), 0); /* a second completion: nothing */
	uint32_t r1, r2, r3;
	assert_true(apf__take_ready(&t, &r1));
	assert_true(apf__take_ready(&t, &r2));
	assert_false(apf__take_ready(&t, &r3)); /* 8 is still waiting */
	assert_true((r1 == a && r2 == b) || (r1 == b && r2 == a));
	assert_int_equal(apf__complete(&t, 8, t.epoch), 1);
	assert_true(apf__take_ready(&t, &r3));
	assert_int_equal(r3, c);
	assert_false(apf__take_ready(&t, &r3)); /* each token once */
	assert_int_equal(t.outstanding, 0);
}

static void stale_completions_ignored(void **state)
{
	(void)state;
	struct apf_table t;
	apf__init(&t);
	uint32_t a, b;
	issue_ok(&t, 5, &a, true);
	uint32_t old_epoch = t.epoch;
	apf__reset(&t);
	assert_int_equal(t.outstanding, 0);
	issue_ok(&t, 5, &b, true); /* the same frame again, after the reset */
	assert_int_not_equal(a, b);
	assert_int_equal(apf__complete(&t, 5, old_epoch), 0);
	uint32_t r;
	assert_false(apf__take_ready(&t, &r));
	assert_int_equal(apf__complete(&t, 5, t.epoch), 1);
	assert_true(apf__take_ready(&t, &r));
	assert_int_equal(r, b);
	assert_int_equal(apf__complete(&t, 6, t.epoch), 0); /* never issued */
}

static void tokens_never_zero_or_wake_all(void **state)
{
	(void)state;
	struct apf_table t;
	apf__init(&t);
	t.seq = (1u << 26) - 3; /* near the wrap */
	for (unsigned round = 0; round < 8; round++) {
		for (unsigned i = 0; i < APF_TOKENS; i++) {
			uint32_t tok;
			issue_ok(&t, i, &tok, true);
		}
		for (unsigned i = 0; i < APF_TOKENS; i++)
			apf__complete(&t, i, t.epoch);
		uint32_t r;
		while (apf__take_ready(&t, &r))
			assert_true(r != 0 && r != L1_APF_WAKE_ALL);
	}
}

/* A frame whose fetch failed gets no token until a fetch of it succeeds:
 * the guest's retry waits on the vCPU instead of looping through tokens. */
static void failing_frames_get_no_token(void **state)
{
	(void)state;
	struct apf_table t;
	apf__init(&t);
	uint32_t a, b;
	bool fetch;
	issue_ok(&t, 40, &a, true);
	apf__fail(&t, 40);
	assert_int_equal(apf__complete(&t, 40, t.epoch), 1); /* its ready still comes */
	assert_true(apf__take_ready(&t, &b));
	assert_int_equal(b, a);
	assert_int_equal(apf__issue(&t, 40, &a, &fetch), -EIO);
	assert_int_equal(t.outstanding, 0);
	issue_ok(&t, 41, &a, true); /* others are not held up */
	apf__reset(&t);            /* the guest's reset does not forget the store's failure */
	assert_int_equal(apf__issue(&t, 40, &a, &fetch), -EIO);
	apf__fetched(&t, 40);
	issue_ok(&t, 40, &a, true);
	/* more failing frames than marks: bounded, each still refused or new */
	for (uint64_t g = 100; g < 100 + 3 * APF_FAILING_MARKS; g++)
		apf__fail(&t, g);
	assert_int_equal(t.nfailing, APF_FAILING_MARKS);
	assert_int_equal(apf__issue(&t, 100 + 3 * APF_FAILING_MARKS - 1, &b, &fetch), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bounded_at_64),
		cmocka_unit_test(duplicates_share_one_fetch),
		cmocka_unit_test(stale_completions_ignored),
		cmocka_unit_test(tokens_never_zero_or_wake_all),
		cmocka_unit_test(failing_frames_get_no_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
