/* Unit tests: the lock-order checker (mmu/lock.h) catches an inversion. */
#include "tests/unit/cmocka_all.h"

#include <stdio.h>
#include <string.h>

#include "mmu/lock.h"

static unsigned violations;
static char last_report[512];

static void record(const char *report)
{
	violations++;
	snprintf(last_report, sizeof(last_report), "%s", report);
}

static int setup(void **state)
{
	(void)state;
	violations = 0;
	last_report[0] = '\0';
	l1_lock__set_checking(true);
	l1_lock__set_violation_handler(record);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	l1_lock__set_violation_handler(NULL);
	return 0;
}

/* engine, then p2m, then backend: fine; p2m, then the engine: caught. */
static void order_kept_and_broken(void **state)
{
	(void)state;
	struct l1_lock engine, p2m, backend;
	l1_lock__init(&engine, L1_RANK_DEDUP_ENGINE, "engine");
	l1_lock__init(&p2m, L1_RANK_P2M, "p2m");
	l1_lock__init(&backend, L1_RANK_BACKEND, "backend");

	l1_lock__acquire(&engine);
	l1_lock__acquire(&p2m);
	l1_lock__acquire(&backend);
	assert_true(l1_lock__held(&p2m));
	l1_lock__release(&backend);
	l1_lock__release(&p2m);
	l1_lock__release(&engine);
	assert_int_equal(violations, 0);
	assert_false(l1_lock__held(&p2m));

	/* the inversion: reported with both names, then taken anyway */
	l1_lock__acquire(&p2m);
	l1_lock__acquire(&engine);
	assert_int_equal(violations, 1);
	assert_non_null(strstr(last_report, "engine (rank 40)"));
	assert_non_null(strstr(last_report, "while holding p2m (rank 50)"));
	assert_non_null(strstr(last_report, "test_lock.c"));
	l1_lock__release(&engine);
	l1_lock__release(&p2m);

	/* a release out of order keeps the record right */
	l1_lock__acquire(&engine);
	l1_lock__acquire(&p2m);
	l1_lock__release(&engine);
	assert_true(l1_lock__held(&p2m));
	assert_false(l1_lock__held(&engine));
	l1_lock__acquire(&backend);
	l1_lock__release(&backend);
	l1_lock__release(&p2m);
	assert_int_equal(violations, 1);

	/* two of one rank (two engines) are not ordered: refused as well */
	struct l1_lock engine2;
	l1_lock__init(&engine2, L1_RANK_DEDUP_ENGINE, "engine 2");
	l1_lock__acquire(&engine);
	l1_lock__acquire(&engine2);
	assert_int_equal(violations, 2);
	l1_lock__release(&engine2);
	l1_lock__release(&engine);

	l1_lock__destroy(&engine2);
	l1_lock__destroy(&backend);
	l1_lock__destroy(&p2m);
	l1_lock__destroy(&engine);
}

/* With checking off nothing is recorded or reported. */
static void checking_off(void **state)
{
	(void)state;
	struct l1_lock a, b;
	l1_lock__init(&a, L1_RANK_P2M, "a");
	l1_lock__init(&b, L1_RANK_DEDUP_ENGINE, "b");
	l1_lock__set_checking(false);
	l1_lock__acquire(&a);
	l1_lock__acquire(&b);
	l1_lock__release(&b);
	l1_lock__release(&a);
	assert_int_equal(violations, 0);
	l1_lock__set_checking(true);
	l1_lock__destroy(&b);
	l1_lock__destroy(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(order_kept_and_broken, setup, teardown),
		cmocka_unit_test_setup_teardown(checking_off, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
