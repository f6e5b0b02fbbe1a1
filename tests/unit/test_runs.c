/* Unit tests: sorting frame numbers and cutting them into runs (mmu/runs.h). */
#include "tests/unit/cmocka_all.h"

#include "mmu/runs.h"

/* Cut v into runs with gap; write first/last pairs to out; their number. */
static size_t cut(uint64_t *v, size_t n, uint64_t gap, uint64_t out[][2])
{
	size_t nr = 0;
	runs__sort(v, n);
	for (size_t i = 0; i < n;) {
		size_t j = runs__next(v, n, i, gap, &out[nr][0], &out[nr][1]);
		assert_true(j > i && j <= n);
		i = j;
		nr++;
	}
	return nr;
}

static void consecutive_frames(void **state)
{
	(void)state;
	uint64_t v[] = { 9, 3, 4, 5, 12, 10, 4, 0 };
	uint64_t r[8][2];
	/* sorted: 0 3 4 4 5 9 10 12 */
	assert_int_equal(cut(v, 8, 1, r), 4);
	assert_int_equal(r[0][0], 0);
	assert_int_equal(r[0][1], 0);
	assert_int_equal(r[1][0], 3); /* the duplicate 4 joins */
	assert_int_equal(r[1][1], 5);
	assert_int_equal(r[2][0], 9);
	assert_int_equal(r[2][1], 10);
	assert_int_equal(r[3][0], 12);
	assert_int_equal(r[3][1], 12);
}

static void extents_and_gaps(void **state)
{
	(void)state;
	/* extents of 512 frames: end to end when 512 apart */
	uint64_t e[] = { 1536, 512, 1024, 4096 };
	uint64_t r[4][2];
	assert_int_equal(cut(e, 4, 512, r), 2);
	assert_int_equal(r[0][0], 512);
	assert_int_equal(r[0][1], 1536);
	assert_int_equal(r[1][0], 4096);
	/* a wide gap bridges holes; the largest values do not wrap */
	uint64_t w[] = { UINT64_MAX, 100, 300, UINT64_MAX - 1 };
	assert_int_equal(cut(w, 4, 256, r), 2);
	assert_int_equal(r[0][0], 100);
	assert_int_equal(r[0][1], 300);
	assert_int_equal(r[1][0], UINT64_MAX - 1);
	assert_int_equal(r[1][1], UINT64_MAX);
	/* one value is one run */
	uint64_t one[] = { 7 };
	assert_int_equal(cut(one, 1, 1, r), 1);
	assert_int_equal(r[0][0], 7);
	assert_int_equal(r[0][1], 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(consecutive_frames),
		cmocka_unit_test(extents_and_gaps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
