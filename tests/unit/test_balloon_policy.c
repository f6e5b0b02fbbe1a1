/*
 * Unit tests: the automatic balloon policy (balloon/policy.c), step by step
 * against simulated guests and a simulated host.
 *
 * A simulated guest has nr_frames of RAM and in_use bytes it cannot give;
 * it reports available = (nr - actual) * 4 KiB - in_use, and (unless told
 * to be slow) puts its balloon at the target at once. The host's
 * MemAvailable is base + what the balloons hold; the guests' RSS is their
 * RAM minus their balloons. After every step the checks that hold for any
 * input are made: no target above in-use + margin allows, no target rises
 * by more than max_step_mb.
 */
#include "cmocka_all.h"

#include <errno.h>
#include <string.h>

#include "balloon/balloon.h"
#include "balloon/policy.h"
#include "pvops/l1vmm_abi.h"

#define MiB (1ull << 20)
#define FRAMES_PER_MIB 256ull
#define GUEST_FRAMES (1024 * FRAMES_PER_MIB) /* 1 GiB guests */
#define NVM 3

struct sim_guest {
	uint64_t nr, in_use; /* frames, bytes */
	bool no_driver, no_stats;
	unsigned report_every; /* 0 or 1: a report every step */
	uint64_t target, actual;
	uint64_t oom, oom_deflated, reports;
	uint64_t rep_available; /* the last report's */
};

struct sim {
	struct balloon_policy_knobs k;
	struct balloon_policy_state st;
	struct sim_guest g[NVM];
	struct balloon_policy_vm_state vs[NVM];
	struct balloon_policy_vm_out out[NVM];
	struct balloon_policy_result res;
	uint64_t host_base; /* bytes of MemAvailable with every balloon empty */
	double psi;
};

static uint64_t margin_bytes(const struct sim *s, const struct sim_guest *g)
{
	uint64_t pct = g->nr * 4096 * s->k.margin_pct / 100;
	return pct > s->k.margin_mb * MiB ? pct : s->k.margin_mb * MiB;
}

/* The largest balloon that leaves the guest in_use + margin, from the truth. */
static uint64_t true_floor(const struct sim *s, const struct sim_guest *g)
{
	uint64_t keep = g->in_use + margin_bytes(s, g);
	uint64_t ram = g->nr * 4096;
	return keep >= ram ? 0 : (ram - keep) / 4096;
}

static uint64_t balloons(const struct sim *s)
{
	uint64_t sum = 0;
	for (int i = 0; i < NVM; i++)
		sum += s->g[i].actual;
	return sum;
}

static uint64_t rss(const struct sim *s)
{
	uint64_t sum = 0;
	for (int i = 0; i < NVM; i++)
		sum += (s->g[i].nr - s->g[i].actual) * 4096;
	return sum;
}

static void sim_init(struct sim *s, uint64_t idle0, uint64_t idle1, uint64_t idle2)
{
	*s = (struct sim){ .k = balloon_policy__defaults(), .psi = -1 };
	s->k.margin_mb = 32;
	s->k.margin_pct = 0;
	s->k.psi_some_avg10_pct = 0;
	s->k.low_watermark_mb = 1100;
	s->k.high_watermark_mb = 1300;
	s->k.max_step_mb = 64;
	s->k.oom_hold_steps = 4;
	uint64_t idle[NVM] = { idle0, idle1, idle2 };
	for (int i = 0; i < NVM; i++) /* idle (MiB) = available - margin */
		s->g[i] = (struct sim_guest){ .nr = GUEST_FRAMES,
					      .in_use = (1024 - 32 - idle[i]) * MiB };
}

static void sim_step(struct sim *s)
{
	struct balloon_policy_vm vms[NVM];
	for (int i = 0; i < NVM; i++) {
		struct sim_guest *g = &s->g[i];
		uint64_t usable = (g->nr - g->actual) * 4096;
		if (g->report_every <= 1 || s->st.steps % g->report_every == 0) {
			g->rep_available = usable > g->in_use ? usable - g->in_use : 0;
			g->reports++;
		}
		vms[i] = (struct balloon_policy_vm){
			.has_driver = !g->no_driver,
			.nr_frames = g->nr,
			.target_frames = g->target,
			.actual_frames = g->actual,
			.stats_valid = !g->no_stats,
			.stats_reports = g->reports,
			.total = g->nr * 4096,
			.available = g->rep_available,
			.oom_events = g->oom,
			.oom_deflated = g->oom_deflated,
		};
	}
	struct balloon_policy_host h = {
		.mem_available = s->host_base + balloons(s) * 4096,
		.psi_some_avg10 = s->psi,
		.guest_rss = rss(s),
	};
	balloon_policy__step(&s->k, &h, &s->st, vms, s->vs, s->out, NVM, &s->res);
	for (int i = 0; i < NVM; i++) {
		struct sim_guest *g = &s->g[i];
		uint64_t t = s->out[i].target_frames;
		if (s->out[i].reason == BALLOON_POLICY_NO_DRIVER ||
		    s->out[i].reason == BALLOON_POLICY_NO_STATS) {
			assert_int_equal(t, g->target);
			continue;
		}
		/* Never below the working set + margin... */
		assert_true(t <= true_floor(s, g));
		/* ...and never up by more than one step. */
		if (t > g->target)
			assert_true(t - g->target <= s->k.max_step_mb * FRAMES_PER_MIB);
		g->target = t;
		g->actual = t;
	}
}

static void sim_run(struct sim *s, int steps)
{
	while (steps--)
		sim_step(s);
}

/* Targets in MiB, the tolerance stated: 1 MiB. */
static void assert_targets_mib(const struct sim *s, uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t want[NVM] = { a, b, c };
	for (int i = 0; i < NVM; i++) {
		uint64_t t = s->g[i].target, w = want[i] * FRAMES_PER_MIB;
		assert_true(t + FRAMES_PER_MIB >= w && t <= w + FRAMES_PER_MIB);
	}
}

static void squeezed_in_proportion_to_idle(void **state)
{
	(void)state;
	struct sim s;
	sim_init(&s, 100, 200, 300);
	s.host_base = 1000 * MiB; /* need: up to high (1300) = 300 MiB */
	sim_step(&s);
	assert_int_equal(s.res.mode, BALLOON_POLICY_PRESSURE);
	assert_int_equal(s.res.signals, BALLOON_POLICY_SIG_AVAIL);
	assert_int_equal(s.res.need_bytes, 300 * MiB);
	/* The first step: 50 MiB, then max_step (64 MiB) for the others. */
	assert_int_equal(s.g[0].target, 50 * FRAMES_PER_MIB);
	assert_int_equal(s.g[1].target, 64 * FRAMES_PER_MIB);
	assert_int_equal(s.g[2].target, 64 * FRAMES_PER_MIB);
	assert_int_equal(s.out[2].reason, BALLOON_POLICY_SQUEEZE);
	sim_run(&s, 20);
	/* 1:2:3, within 1 MiB each; then the episode is over and all is kept. */
	assert_targets_mib(&s, 50, 100, 150);
	assert_int_equal(s.res.mode, BALLOON_POLICY_STEADY);
	assert_int_equal(s.out[0].reason, BALLOON_POLICY_KEEP);
	/* The hysteresis: above low but below high the episode went on. */
	assert_true(balloons(&s) >= 300 * FRAMES_PER_MIB - NVM);
}

static void idle_tax_then_by_size(void **state)
{
	(void)state;
	struct sim s;
	/* tax 50 %: 50/100/150 MiB by idle, then the other 100 MiB by size (equal). */
	sim_init(&s, 100, 200, 300);
	s.k.idle_tax_pct = 50;
	s.host_base = 900 * MiB; /* need 400 */
	sim_run(&s, 20);
	assert_targets_mib(&s, 83, 133, 183);

	/* tax 0: by size alone, capped at each floor: the smallest idle caps first. */
	sim_init(&s, 50, 200, 300);
	s.k.idle_tax_pct = 0;
	s.host_base = 1000 * MiB; /* need 300: 100 each would pass guest 0's 50 */
	sim_run(&s, 20);
	assert_targets_mib(&s, 50, 125, 125);

	/* tax 100: by idle memory alone. */
	sim_init(&s, 100, 200, 300);
	s.k.idle_tax_pct = 100;
	s.host_base = 1000 * MiB;
	sim_run(&s, 20);
	assert_targets_mib(&s, 50, 100, 150);
}

static void need_beyond_all_idle_stops_at_floors(void **state)
{
	(void)state;
	struct sim s;
	sim_init(&s, 100, 200, 300);
	s.host_base = 0; /* need 1300 MiB, 600 idle */
	sim_run(&s, 40);
	for (int i = 0; i < NVM; i++)
		assert_int_equal(s.g[i].target, true_floor(&s, &s.g[i]));
	assert_targets_mib(&s, 100, 200, 300);
	assert_int_equal(s.res.mode, BALLOON_POLICY_PRESSURE);
	assert_int_equal(s.res.goal_frames, 600 * FRAMES_PER_MIB);
}

static void growing_working_set_deflates_at_once(void **state)
{
	(void)state;
	struct sim s;
	sim_init(&s, 100, 200, 300);
	s.host_base = 0;
	sim_run(&s, 20);
	assert_targets_mib(&s, 100, 200, 300);
	/* Guest 2 uses 20 of its 32 MiB margin: its target drops by 20 MiB in one step. */
	s.g[2].in_use += 20 * MiB;
	sim_step(&s);
	assert_int_equal(s.out[2].reason, BALLOON_POLICY_FLOOR);
	assert_targets_mib(&s, 100, 200, 280);
	/* Held: not inflated again, though the host still wants more. */
	s.g[2].in_use -= 20 * MiB;
	for (uint64_t i = 0; i < s.k.oom_hold_steps; i++) {
		sim_step(&s);
		assert_int_equal(s.out[2].reason, BALLOON_POLICY_HOLD);
		assert_int_equal(s.out[2].target_frames, 280 * FRAMES_PER_MIB);
	}
	sim_step(&s);
	assert_int_equal(s.out[2].reason, BALLOON_POLICY_SQUEEZE);
	assert_targets_mib(&s, 100, 200, 300);

	/* Memory all used (available 0): down to actual - margin at once. */
	s.g[1].in_use = (1024 - 200) * MiB;
	sim_step(&s);
	assert_int_equal(s.out[1].reason, BALLOON_POLICY_FLOOR);
	assert_targets_mib(&s, 100, 168, 300);

	/* A pseudo-random working set under pressure: the floor holds every step. */
	uint32_t seed = 12345;
	for (int i = 0; i < 200; i++) {
		seed = seed * 1103515245u + 12345u;
		struct sim_guest *g = &s.g[seed % NVM];
		/* A guest cannot use more than it has: beyond that it has an OOM. */
		uint64_t usable = (g->nr - g->actual) * 4096;
		g->in_use = (uint64_t)((seed >> 8) % 1100) * MiB;
		if (g->in_use > usable)
			g->in_use = usable;
		s.host_base = (uint64_t)((seed >> 4) % 1500) * MiB;
		sim_step(&s); /* sim_step() asserts the floor and the step */
	}
}

static void old_reports_are_corrected(void **state)
{
	(void)state;
	struct sim s;
	sim_init(&s, 100, 200, 300);
	for (int i = 0; i < NVM; i++)
		s.g[i].report_every = 5;
	s.host_base = 0;
	sim_run(&s, 60); /* sim_step() asserts the floor with the true in_use */
	assert_targets_mib(&s, 100, 200, 300);
}

static void oom_deflates_at_once_and_holds(void **state)
{
	(void)state;
	struct sim s;
	sim_init(&s, 100, 200, 300);
	s.host_base = 0;
	sim_run(&s, 20);
	uint64_t before = s.g[1].target;
	s.g[1].oom++;
	sim_step(&s);
	uint64_t margin = 32 * FRAMES_PER_MIB;
	assert_int_equal(s.out[1].reason, BALLOON_POLICY_OOM);
	assert_int_equal(s.g[1].target, before - margin);
	for (uint64_t i = 0; i < s.k.oom_hold_steps; i++) {
		sim_step(&s);
		assert_int_equal(s.out[1].reason, BALLOON_POLICY_HOLD);
		assert_int_equal(s.g[1].target, before - margin);
	}
	sim_step(&s);
	assert_int_equal(s.out[1].reason, BALLOON_POLICY_SQUEEZE);
	assert_true(s.g[1].target > before - margin);

	/* The guest deflated on its own (OOM_DEFLATE): the target follows it down. */
	sim_run(&s, 10);
	s.g[0].actual -= 40 * FRAMES_PER_MIB;
	s.g[0].oom_deflated += 40 * FRAMES_PER_MIB;
	uint64_t actual = s.g[0].actual;
	sim_step(&s);
	assert_int_equal(s.out[0].reason, BALLOON_POLICY_OOM);
	assert_int_equal(s.g[0].target, actual - margin);

	/* Counters that went down (a rebooted guest) are no OOM. */
	sim_run(&s, 10);
	s.g[2].oom = 0;
	s.g[1].oom = 0;
	sim_step(&s);
	for (int i = 0; i < NVM; i++)
		assert_int_not_equal(s.out[i].reason, BALLOON_POLICY_OOM);
}

static void relief_gives_back_gradually(void **state)
{
	(void)state;
	struct sim s;
	sim_init(&s, 100, 200, 300);
	s.host_base = 0;
	sim_run(&s, 20);
	s.host_base = 4000 * MiB; /* far above high */
	uint64_t step = s.k.max_step_mb * FRAMES_PER_MIB;
	for (int n = 0; n < 40 && balloons(&s); n++) {
		uint64_t before[NVM];
		for (int i = 0; i < NVM; i++)
			before[i] = s.g[i].target;
		sim_step(&s);
		assert_int_equal(s.res.mode, BALLOON_POLICY_RELIEF);
		for (int i = 0; i < NVM; i++) {
			assert_true(s.g[i].target <= before[i]);
			assert_true(before[i] - s.g[i].target <= step);
			if (before[i])
				assert_true(s.g[i].target < before[i]);
		}
	}
	assert_int_equal(balloons(&s), 0);

	/* Relief bounded by the excess: MemAvailable 100 MiB above high gives back 100. */
	sim_init(&s, 100, 200, 300);
	s.host_base = 0;
	sim_run(&s, 20);
	s.host_base = 1400 * MiB - 600 * MiB;
	sim_step(&s);
	assert_int_equal(s.res.mode, BALLOON_POLICY_RELIEF);
	assert_int_equal(s.res.excess_bytes, 100 * MiB);
	assert_int_equal(s.res.goal_frames, 500 * FRAMES_PER_MIB);
}

static void no_driver_or_no_stats_untouched(void **state)
{
	(void)state;
	struct sim s;
	sim_init(&s, 100, 200, 300);
	s.g[0].no_driver = true;
	s.g[0].target = 7; /* set by hand */
	s.g[1].no_stats = true;
	s.g[1].target = 9;
	s.host_base = 0;
	sim_run(&s, 20);
	assert_int_equal(s.out[0].reason, BALLOON_POLICY_NO_DRIVER);
	assert_int_equal(s.out[1].reason, BALLOON_POLICY_NO_STATS);
	assert_int_equal(s.g[0].target, 7);
	assert_int_equal(s.g[1].target, 9);
	assert_int_equal(s.g[2].target, true_floor(&s, &s.g[2]));

	/* Impossible statistics (more available than RAM) are not believed. */
	struct balloon_policy_vm v = { .has_driver = true, .nr_frames = 100, .target_frames = 5,
				       .stats_valid = true, .available = 101 * 4096 };
	struct balloon_policy_vm_state vs = { 0 };
	struct balloon_policy_vm_out o;
	struct balloon_policy_state st = { 0 };
	struct balloon_policy_host h = { .psi_some_avg10 = -1 };
	balloon_policy__step(&s.k, &h, &st, &v, &vs, &o, 1, NULL);
	assert_int_equal(o.reason, BALLOON_POLICY_NO_STATS);
	assert_int_equal(o.target_frames, 5);
	v.available = 50 * 4096;
	v.total = 40 * 4096;
	balloon_policy__step(&s.k, &h, &st, &v, &vs, &o, 1, NULL);
	assert_int_equal(o.reason, BALLOON_POLICY_NO_STATS);
}

static void host_limit_is_an_artificial_watermark(void **state)
{
	(void)state;
	struct sim s;
	sim_init(&s, 100, 200, 300);
	s.k.low_watermark_mb = 0; /* MemAvailable ignored */
	s.k.host_limit_mb = 2800; /* RSS 3072: aim 2800 - 175 = 2625, need 447 */
	s.host_base = 0;
	sim_step(&s);
	assert_int_equal(s.res.mode, BALLOON_POLICY_PRESSURE);
	assert_int_equal(s.res.signals, BALLOON_POLICY_SIG_LIMIT);
	assert_int_equal(s.res.need_bytes, 447 * MiB);
	sim_run(&s, 30);
	assert_true(rss(&s) <= 2625 * MiB);
	assert_int_equal(s.res.mode, BALLOON_POLICY_STEADY);
	/* 447 <= 75 % of 600: in proportion to idle memory. */
	assert_targets_mib(&s, 75, 149, 224);

	/* A budget below every floor: all at their floors, none beyond. */
	s.k.host_limit_mb = 1000;
	sim_run(&s, 30);
	assert_targets_mib(&s, 100, 200, 300);
	assert_int_equal(s.res.mode, BALLOON_POLICY_PRESSURE);

	/* Budget raised far: relief, everything given back. */
	s.k.host_limit_mb = 100000;
	sim_run(&s, 30);
	assert_int_equal(balloons(&s), 0);
}

static void psi_squeezes_a_step_at_a_time(void **state)
{
	(void)state;
	struct sim s;
	sim_init(&s, 100, 200, 300);
	s.k.low_watermark_mb = 0;
	s.k.psi_some_avg10_pct = 10;
	s.psi = 20;
	uint64_t step = s.k.max_step_mb * FRAMES_PER_MIB;
	for (int n = 0; n < 5; n++) {
		uint64_t before = balloons(&s);
		sim_step(&s);
		assert_int_equal(s.res.signals, BALLOON_POLICY_SIG_PSI);
		assert_int_equal(s.res.need_bytes, s.k.max_step_mb * MiB);
		assert_true(balloons(&s) > before && balloons(&s) <= before + step);
	}
	uint64_t held = balloons(&s);
	s.psi = 7; /* between half the threshold and it: kept */
	sim_run(&s, 5);
	assert_int_equal(s.res.mode, BALLOON_POLICY_STEADY);
	assert_int_equal(balloons(&s), held);
	s.psi = 2; /* relieved */
	sim_step(&s);
	assert_int_equal(s.res.mode, BALLOON_POLICY_RELIEF);
	assert_true(balloons(&s) < held);
	s.psi = -1; /* unknown: no signal */
	sim_run(&s, 30);
	assert_int_equal(balloons(&s), 0);

	/* PSI enabled but MemAvailable pressure is there too: the larger need. */
	sim_init(&s, 100, 200, 300);
	s.k.psi_some_avg10_pct = 10;
	s.psi = 50;
	s.host_base = 1000 * MiB;
	sim_step(&s);
	assert_int_equal(s.res.signals, BALLOON_POLICY_SIG_PSI | BALLOON_POLICY_SIG_AVAIL);
	assert_int_equal(s.res.need_bytes, 300 * MiB);
}

static void huge_numbers_do_not_overflow(void **state)
{
	(void)state;
	struct balloon_policy_knobs k;
	for (unsigned i = 0; i < BALLOON_POLICY_NR_KNOBS; i++) /* every knob at its max */
		assert_int_equal(balloon_policy__knob_set(&k, &balloon_policy__knob[i],
							  balloon_policy__knob[i].max), 0);
	k.margin_pct = 0;
	k.margin_mb = 0;
	k.oom_hold_steps = 0;
	struct balloon_policy_vm v[2];
	for (int i = 0; i < 2; i++)
		v[i] = (struct balloon_policy_vm){
			.has_driver = true, .nr_frames = UINT64_MAX, .target_frames = UINT64_MAX / 3,
			.actual_frames = UINT64_MAX / 5, .stats_valid = true, .stats_reports = 1,
			.available = UINT64_MAX, .oom_events = UINT64_MAX - 1,
		};
	struct balloon_policy_vm_state vs[2] = { 0 };
	struct balloon_policy_vm_out o[2];
	struct balloon_policy_state st = { 0 };
	struct balloon_policy_result r;
	struct balloon_policy_host hosts[] = {
		{ .mem_available = 0, .psi_some_avg10 = 100, .guest_rss = UINT64_MAX },
		{ .mem_available = UINT64_MAX, .psi_some_avg10 = 0, .guest_rss = 0 },
		{ .mem_available = 0, .psi_some_avg10 = 1e300, .guest_rss = 0 },
	};
	for (int round = 0; round < 6; round++) {
		balloon_policy__step(&k, &hosts[round % 3], &st, v, vs, o, 2, &r);
		for (int i = 0; i < 2; i++) {
			assert_true(o[i].target_frames <= 1ull << 52);
			assert_true(o[i].floor_frames <= 1ull << 52);
			v[i].target_frames = o[i].target_frames;
		}
		v[1].oom_events++; /* wraps to 0 once: a "reboot", not an OOM */
	}
	/* Pressure with everything at the maximum: each guest squeezed to its floor. */
	assert_int_equal(r.mode, BALLOON_POLICY_PRESSURE);
	assert_true(r.need_bytes > 0);
}

static void knob_table(void **state)
{
	(void)state;
	struct balloon_policy_knobs k = balloon_policy__defaults();
	static const char *const names[] = {
		"low_watermark_mb", "high_watermark_mb", "psi_some_avg10_pct", "host_limit_mb",
		"idle_tax_pct", "margin_mb", "margin_pct", "max_step_mb", "oom_hold_steps",
	};
	assert_int_equal(sizeof(names) / sizeof(names[0]), BALLOON_POLICY_NR_KNOBS);
	for (unsigned i = 0; i < BALLOON_POLICY_NR_KNOBS; i++) {
		const struct balloon_policy_knob_desc *d = &balloon_policy__knob[i];
		assert_string_equal(d->name, names[i]);
		assert_ptr_equal(balloon_policy__knob_find(names[i]), d);
		assert_int_equal(d->offset, i * sizeof(uint64_t));
		assert_true(d->min <= d->def && d->def <= d->max);
		assert_true(d->doc && d->doc[0]);
		assert_int_equal(balloon_policy__knob_get(&k, d), d->def);
		assert_int_equal(balloon_policy__knob_set(&k, d, d->max), 0);
		assert_int_equal(balloon_policy__knob_get(&k, d), d->max);
		if (d->max < UINT64_MAX)
			assert_int_equal(balloon_policy__knob_set(&k, d, d->max + 1), -EINVAL);
		if (d->min > 0)
			assert_int_equal(balloon_policy__knob_set(&k, d, d->min - 1), -EINVAL);
		assert_int_equal(balloon_policy__knob_get(&k, d), d->max);
	}
	k = balloon_policy__defaults();
	assert_int_equal(k.idle_tax_pct, 75);
	assert_int_equal(k.host_limit_mb, 0);
	assert_int_equal(k.max_step_mb, 64);
	assert_null(balloon_policy__knob_find("nope"));
	assert_null(balloon_policy__knob_find(NULL));
	assert_int_equal(balloon_policy__knob_set(&k, NULL, 1), -EINVAL);
	assert_string_equal(balloon_policy__reason_name(BALLOON_POLICY_FLOOR), "floor");
	assert_string_equal(balloon_policy__reason_name(BALLOON_POLICY_NR_REASONS), "?");
	for (int r = 0; r < BALLOON_POLICY_NR_REASONS; r++)
		assert_non_null(balloon_policy__reason_name((enum balloon_policy_reason)r));
}

static void from_snapshot(void **state)
{
	(void)state;
	struct balloon_snapshot s = { .target_frames = 3, .actual_frames = 2, .nr_frames = 100 };
	s.gs.val[L1_BSTAT_AVAIL] = 4096 * 50;
	s.gs.val[L1_BSTAT_MEMTOT] = 4096 * 90;
	s.gs.val[L1_BSTAT_OOM] = 4;
	s.gs.val[L1_BSTAT_OOM_DEFLATE] = 6;
	s.gs.reports = 8;
	struct balloon_policy_vm v;
	balloon_policy__vm_from_snapshot(&s, true, &v);
	assert_false(v.stats_valid); /* no report has AVAIL */
	assert_int_equal(v.total, 0);
	s.gs.present = (1u << L1_BSTAT_AVAIL) | (1u << L1_BSTAT_MEMTOT);
	balloon_policy__vm_from_snapshot(&s, true, &v);
	assert_true(v.stats_valid && v.has_driver);
	assert_int_equal(v.nr_frames, 100);
	assert_int_equal(v.target_frames, 3);
	assert_int_equal(v.actual_frames, 2);
	assert_int_equal(v.available, 4096 * 50);
	assert_int_equal(v.total, 4096 * 90);
	assert_int_equal(v.oom_events, 4);
	assert_int_equal(v.oom_deflated, 6);
	assert_int_equal(v.stats_reports, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(squeezed_in_proportion_to_idle),
		cmocka_unit_test(idle_tax_then_by_size),
		cmocka_unit_test(need_beyond_all_idle_stops_at_floors),
		cmocka_unit_test(growing_working_set_deflates_at_once),
		cmocka_unit_test(old_reports_are_corrected),
		cmocka_unit_test(oom_deflates_at_once_and_holds),
		cmocka_unit_test(relief_gives_back_gradually),
		cmocka_unit_test(no_driver_or_no_stats_untouched),
		cmocka_unit_test(host_limit_is_an_artificial_watermark),
		cmocka_unit_test(psi_squeezes_a_step_at_a_time),
		cmocka_unit_test(huge_numbers_do_not_overflow),
		cmocka_unit_test(knob_table),
		cmocka_unit_test(from_snapshot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
