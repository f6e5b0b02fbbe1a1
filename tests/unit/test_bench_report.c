/*
 * Unit tests: the per-guest view of `l1vmm bench` (l1vmm/bench.c's guest lines,
 * l1vmm/bench_report.c's group rows and per-guest table).
 */
#include "cmocka_all.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l1vmm/bench_priv.h"

static struct bench_scenario sc;
static struct bench_run runs[6];

/* Two guest lines of different workloads: web (2 dup guests), cache (1 hotcold guest). */
static void two_groups(const char *contenders)
{
	char text[400], err[256];
	snprintf(text, sizeof(text),
		 "contenders = %s\nhost_limit = 64M\n"
		 "guest = web count=2 mem=64M domain=web workload=dup size=32M\n"
		 "guest = cache mem=64M workload=hotcold size=32M hot=4M\n", contenders);
	if (!bench__parse("t.scn", text, 8192, &sc, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		fail();
	}
}

/* Run k: contender c, repetition rep, its three guests' summary figures, all passed. */
static void set_run(unsigned k, enum bench_contender c, unsigned rep, double web1, double web2, double cache)
{
	struct bench_run *r = &runs[k];
	*r = (struct bench_run){ .contender = c, .rep = rep, .t_ready = -1 };
	const char *names[] = { "web1", "web2", "cache" };
	const double rates[] = { web1, web2, cache };
	for (unsigned i = 0; i < 3; i++) {
		snprintf(r->guest[i].name, sizeof(r->guest[i].name), "%s", names[i]);
		r->guest[i].workload = i < 2 ? "dup" : "hotcold";
		r->guest[i].final_rate = rates[i];
		r->guest[i].passed = true;
	}
}

/* Guest i of run k reported these fault and fetch latencies (p50, p99). */
static void latencies(unsigned k, unsigned i, double fault50, double fault99, double fetch50, double fetch99)
{
	struct bench_guest *g = &runs[k].guest[i];
	g->fault_us_p50 = fault50;
	g->fault_us_p99 = fault99;
	g->fetch_us_p50 = fetch50;
	g->fetch_us_p99 = fetch99;
}

static void line(struct bench_run *r, const char *text, double t)
{
	float rate[BENCH_MAX_VMS] = { 0 };
	bench__guest_line(r, 3, text, t, rate);
}

static void figure_names(void **state)
{
	(void)state;
	assert_string_equal(bench__figure_name("apf"), "compute_pct");
	assert_string_equal(bench__figure_name("dup"), "verify_MBps");
	assert_string_equal(bench__figure_name("hotcold"), "rounds_per_s");
	assert_string_equal(bench__figure_name("swapstorm"), "touches_per_s");
	assert_string_equal(bench__figure_name("compute"), "iter_per_sec");
	assert_string_equal(bench__figure_name("hostile"), "-");
}

/* The guests' own lines reach the right guest's figures; others' lines and noise do not. */
static void guest_lines(void **state)
{
	(void)state;
	struct bench_run *r = &runs[0];
	*r = (struct bench_run){ .t_ready = -1 };
	const char *names[] = { "on", "off", "pager" };
	const char *workloads[] = { "apf", "apf", "swapstorm" };
	for (unsigned i = 0; i < 3; i++) {
		snprintf(r->guest[i].name, sizeof(r->guest[i].name), "%s", names[i]);
		r->guest[i].workload = workloads[i];
	}
	line(r, "[on] apf: size=16777216 pages=4096 apf=on", 1.0);
	line(r, "[off] apf: size=16777216 pages=4096 apf=off", 1.5);
	assert_true(r->guest[0].ready && r->guest[1].ready && !r->guest[2].ready);
	assert_true(r->t_ready < 0); /* the pager is not past its fill yet */
	line(r, "[pager] swapstorm: fill pages=12288 ms=900 swap_outs=4000", 2.5);
	assert_true(r->t_ready == 2.5);

	line(r, "[on] apf: compute_per_s=620000 compute_pct=62 touch_pages_per_s=85 passes=3 mismatches=0", 9);
	line(r, "[off] apf: compute_per_s=320000 compute_pct=32 touch_pages_per_s=3136 passes=40 mismatches=0",
	     9);
	assert_true(r->guest[0].final_rate == 62 && r->guest[1].final_rate == 32);
	line(r, "[pager] swapstorm: touches=5000 mismatches=0 swap_outs=1 swap_ins=1 zero_fills=0 "
	     "slots_used=3 io_errors=0 seconds=2.500", 10);
	assert_true(r->guest[2].final_rate == 2000); /* touches over seconds */

	line(r, "[onx] apf: compute_per_s=1 compute_pct=99 touch_pages_per_s=1 passes=1 mismatches=0", 11);
	line(r, "[on apf: compute_per_s=1 compute_pct=98", 11);
	line(r, "l1vmm: [on] apf: compute_pct=97", 11);
	assert_true(r->guest[0].final_rate == 62);

	line(r, "[off] apf: mismatch page=3 version=2 word=0 got=0x1 want=0x2", 12);
	assert_int_equal(r->guest[1].mismatches, 1);
	assert_int_equal(r->guest[0].mismatches, 0);
	line(r, "[on] l1guest: workload=apf result=PASS", 13);
	line(r, "[off] l1guest: workload=apf result=FAIL (1 mismatches in the touched memory)", 13);
	assert_true(r->guest[0].passed && !r->guest[0].failed);
	assert_true(r->guest[1].failed && !r->guest[1].passed);
}

static void hotcold_latencies(void **state)
{
	(void)state;
	two_groups("none");
	set_run(0, BENCH_NONE, 0, 0, 0, 0);
	struct bench_run *r = &runs[0];
	line(r, "[cache] hotcold: touches=full pages=8192 faulted=8192 us_p50=17 us_p90=40 us_p99=215", 5);
	line(r, "[cache] hotcold: touches=full pages=8192 faulted=8192 us_p50=9 us_p90=20 us_p99=99", 6);
	line(r, "[cache] hotcold: rounds=120 rounds_per_s=126.71 mismatches=0 seconds=4.000", 7);
	assert_true(r->guest[2].fault_us_p50 == 17 && r->guest[2].fault_us_p99 == 215); /* the worst */
	assert_true(fabs(r->guest[2].final_rate - 126.71) < 1e-9);
	assert_true(r->guest[0].fault_us_p99 == 0);
}

/* Each group's value is its own guests' mean, x none against the same guests in none. */
static void group_rows(void **state)
{
	(void)state;
	two_groups("none all");
	set_run(0, BENCH_NONE, 0, 2000, 1000, 200);
	set_run(1, BENCH_ALL, 0, 1000, 1000, 100);
	latencies(1, 2, 17, 215, 0, 0);
	latencies(1, 0, 0, 0, 25, 48);
	latencies(1, 1, 0, 0, 30, 40);
	struct bench_group_row row;

	bench__group_row(&sc, runs, 2, BENCH_NONE, 0, &row);
	assert_int_equal(row.runs, 1);
	assert_true(row.value == 1500 && row.x_none == 1 && !row.failed);

	bench__group_row(&sc, runs, 2, BENCH_ALL, 0, &row);
	assert_true(row.value == 1000);
	assert_true(fabs(row.x_none - sqrt(0.5 * 1.0)) < 1e-9); /* geometric mean of 0.5 and 1 */
	assert_true(row.fault_us_p99 == 0);
	assert_true(row.fetch_us_p50 == 30 && row.fetch_us_p99 == 48); /* the worst of the two */

	bench__group_row(&sc, runs, 2, BENCH_ALL, 1, &row);
	assert_true(row.value == 100 && row.x_none == 0.5);
	assert_true(row.fault_us_p50 == 17 && row.fault_us_p99 == 215 && row.fetch_us_p99 == 0);
	assert_true(row.mismatches == 0 && !row.failed);

	bench__group_row(&sc, runs, 2, BENCH_SHARING, 0, &row);
	assert_int_equal(row.runs, 0); /* did not run */

	runs[1].guest[2].mismatches = 3;
	runs[1].guest[1].passed = false;
	bench__group_row(&sc, runs, 2, BENCH_ALL, 1, &row);
	assert_true(row.mismatches == 3 && row.failed);
	bench__group_row(&sc, runs, 2, BENCH_ALL, 0, &row);
	assert_true(row.failed); /* web2 never reported a result */
	assert_true(row.value == 1000);
}

/* With repetitions, the median of each repetition's figure against the same repetition's none. */
static void group_rows_repeated(void **state)
{
	(void)state;
	two_groups("none reclaim");
	set_run(0, BENCH_NONE, 0, 100, 100, 100);
	set_run(1, BENCH_RECLAIM, 0, 90, 90, 50);
	set_run(2, BENCH_NONE, 1, 200, 200, 100);
	set_run(3, BENCH_RECLAIM, 1, 200, 200, 80);
	set_run(4, BENCH_NONE, 2, 100, 100, 100);
	set_run(5, BENCH_RECLAIM, 2, 40, 40, 10);
	struct bench_group_row row;
	bench__group_row(&sc, runs, 6, BENCH_RECLAIM, 0, &row);
	assert_int_equal(row.runs, 3);
	assert_true(row.value == 90);				/* of 90, 200, 40 */
	assert_true(fabs(row.x_none - 0.9) < 1e-9);		/* of 0.9, 1.0, 0.4 */
	bench__group_row(&sc, runs, 6, BENCH_RECLAIM, 1, &row);
	assert_true(row.value == 50 && fabs(row.x_none - 0.5) < 1e-9);

	/* a guest with no figure (it failed before its summary) leaves the group's x none to the others */
	runs[1].guest[0].final_rate = 0;
	bench__group_row(&sc, runs, 2, BENCH_RECLAIM, 0, &row);
	assert_true(row.value == 90 && fabs(row.x_none - 0.9) < 1e-9);
}

/* Without none, the first contender is the baseline. */
static void baseline_without_none(void **state)
{
	(void)state;
	two_groups("reclaim all");
	set_run(0, BENCH_RECLAIM, 0, 100, 100, 100);
	set_run(1, BENCH_ALL, 0, 50, 50, 200);
	struct bench_group_row row;
	bench__group_row(&sc, runs, 2, BENCH_ALL, 1, &row);
	assert_true(row.x_none == 2);
}

static char *table_text(unsigned nr)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&buf, &len);
	assert_non_null(o);
	bench__guest_table(o, &sc, runs, nr);
	fclose(o);
	return buf;
}

/* One block per guest line, a row per contender that ran, the line's name on its first row only. */
static void guest_table(void **state)
{
	(void)state;
	two_groups("none sharing all");
	set_run(0, BENCH_NONE, 0, 2000, 2000, 185.03);
	set_run(1, BENCH_ALL, 0, 500, 500, 126.71);
	latencies(1, 2, 17, 215, 22, 1235);
	runs[1].guest[2].mismatches = 2;
	char *t = table_text(2);
	const char *want[] = {
		"web x2       dup       verify_MBps   none           2000  1.000           -           -     0 ok\n",
		"                                     all           500.0  0.250           -           -     0 ok\n",
		"cache        hotcold   rounds_per_s  none          185.0  1.000           -           -     0 ok\n",
		"                                     all           126.7  0.685      17/215     22/1235     2 FAILED\n",
	};
	const char *p = t;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const char *q = strstr(p, want[i]);
		if (!q) {
			fprintf(stderr, "missing, in order:\n%s---\n%s", want[i], t);
			fail();
		}
		p = q + strlen(want[i]);
	}
	assert_null(strstr(t, "sharing ")); /* it did not run: no row */
	for (char *l = t, *nl; (nl = strchr(l, '\n')); l = nl + 1)
		assert_true(nl - l <= 120); /* one screen wide */
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(figure_names),
		cmocka_unit_test(guest_lines),
		cmocka_unit_test(hotcold_latencies),
		cmocka_unit_test(group_rows),
		cmocka_unit_test(group_rows_repeated),
		cmocka_unit_test(baseline_without_none),
		cmocka_unit_test(guest_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
