/* SPDX-License-Identifier: MIT */
/*
 * DOC: the automatic balloon policy (policy.h).
 *
 * Every step has three parts.
 *
 * 1. Each guest's floor. A guest with a driver and statistics has
 *      in_use = (nr_frames - actual) - available
 * (what it cannot use among the frames it has; reserved kernel memory
 * counts as in use). Its floor is the largest balloon that leaves it
 * in_use + margin, margin = max(margin_mb, margin_pct % of its RAM):
 *      floor = actual + available - margin   (0 if negative)
 * i.e. its idle memory (available - margin) is what may still be taken.
 * nr_frames is used rather than the guest's MemTotal, because whether
 * MemTotal includes the balloon depends on the driver (Linux's virtio
 * balloon takes the pages out of totalram unless DEFLATE_ON_OOM). A report
 * older than the last change of the balloon is corrected by that change
 * (each frame inflated since is one frame less available). A target above
 * the floor drops to it at once ("floor"): the guest's working set grew,
 * and this is how a guest under memory pressure gets memory back without
 * waiting for the host. The guest is then held (not inflated) for
 * oom_hold_steps steps.
 *
 * 2. Deflate-on-OOM. When a guest's OOM counters (L1_BSTAT_OOM, or
 * L1_BSTAT_OOM_DEFLATE: frames it took back on its own) rose since the
 * last step, its target drops at once to min(target, actual) - margin
 * (and not above its floor), and it is held for oom_hold_steps steps.
 * Such a guest sits out the sharing below for this step.
 *
 * 3. The host. Three signals, each can be disabled:
 *    - MemAvailable: below low_watermark a pressure episode starts, and
 *      lasts until MemAvailable reaches high_watermark (hysteresis); the
 *      need is high - MemAvailable. Above high: relief, excess
 *      MemAvailable - high.
 *    - host_limit: guest RSS above the limit starts an episode that lasts
 *      until RSS is back at limit - limit/16 (the headroom); the need is
 *      RSS - (limit - limit/16). RSS below limit - 2 * limit/16: relief.
 *    - PSI memory "some avg10" above its threshold: pressure, the need is
 *      one step (max_step_mb) — PSI says "stalling", not by how much. It
 *      blocks relief until it is down to half the threshold.
 * The need is the largest of the signals' needs; relief needs every
 * enabled signal relieved (none enabled: always relief, with no bound),
 * the excess is the smallest. Otherwise the targets are kept (steady).
 *
 *    The total the balloons should hold is then sum(actual) + need, or
 *    sum(actual) - excess, over the guests taking part: absolute, from
 *    what the guests really gave, so a slow guest is not asked twice.
 *    It is shared out ESX-style: first an idle tax, up to idle_tax_pct %
 *    of each guest's idle memory (its floor), in proportion to it; what is
 *    left beyond the tax is shared in proportion to the guests' RAM, each
 *    capped at its floor (water-filling: a guest whose share would pass
 *    its floor gets the floor, the rest is shared again among the others).
 *    So with idle_tax_pct = 100 memory comes in proportion to idle memory
 *    only; with 0 in proportion to size; never below anyone's floor.
 *
 *    Each target then moves towards its share by at most max_step_mb per
 *    step, up or down; up not while the guest is held; in relief never up.
 *    Only the floor and an OOM move a target down faster.
 *
 * Arithmetic: frame counts are clamped to 2^52 (2^64 bytes), sums and
 * products are 128-bit, so no input overflows.
 */
#include "balloon/policy.h"

#include <errno.h>
#include <string.h>

#include "balloon/balloon.h"
#include "pvops/l1vmm_abi.h"

#define FRAME_SHIFT 12
#define MAX_FRAMES (1ull << (64 - FRAME_SHIFT))
#define MAX_VMS 65536u /* keeps sum(floor) * weight inside 128 bits */

typedef unsigned __int128 u128;

#define KNOB(field, lo, hi, d, text) \
	{ #field, offsetof(struct balloon_policy_knobs, field), lo, hi, d, text }

const struct balloon_policy_knob_desc balloon_policy__knob[BALLOON_POLICY_NR_KNOBS] = {
	KNOB(low_watermark_mb, 0, 1u << 30, 512,
	     "host MemAvailable (MiB) below which guests are squeezed; 0: ignore MemAvailable"),
	KNOB(high_watermark_mb, 0, 1u << 30, 1024,
	     "MemAvailable (MiB) squeezing aims at; above it memory is given back"),
	KNOB(psi_some_avg10_pct, 0, 100, 10,
	     "PSI memory some avg10 (%) above which guests are squeezed a step; 0: ignore PSI"),
	KNOB(host_limit_mb, 0, 1u << 30, 0,
	     "budget (MiB) for the guests' resident memory; 0: none"),
	KNOB(idle_tax_pct, 0, 100, 75,
	     "share (%) of each guest's idle memory taken first, in proportion to idle memory"),
	KNOB(margin_mb, 0, 1u << 20, 64,
	     "a guest keeps its memory in use plus the larger of this (MiB)"),
	/* At most half: a larger margin leaves nothing to balloon. */
	KNOB(margin_pct, 0, 50, 5,
	     "and this share (%) of its RAM"),
	/* At least 1: a step of 0 would freeze every target. */
	KNOB(max_step_mb, 1, 1u << 20, 64,
	     "most a guest's target changes per step (MiB), except for OOM and floor"),
	KNOB(oom_hold_steps, 0, 1u << 20, 20,
	     "steps a guest is not inflated after an OOM or a drop to its floor"),
};
_Static_assert(sizeof(struct balloon_policy_knobs) == BALLOON_POLICY_NR_KNOBS * sizeof(uint64_t),
	       "balloon_policy__knob[] covers struct balloon_policy_knobs");

static const char *const reason_names[BALLOON_POLICY_NR_REASONS] = {
	[BALLOON_POLICY_NO_DRIVER] = "no-driver",
	[BALLOON_POLICY_NO_STATS] = "no-stats",
	[BALLOON_POLICY_KEEP] = "keep",
	[BALLOON_POLICY_SQUEEZE] = "squeeze",
	[BALLOON_POLICY_RELEASE] = "release",
	[BALLOON_POLICY_FLOOR] = "floor",
	[BALLOON_POLICY_OOM] = "oom",
	[BALLOON_POLICY_HOLD] = "hold",
};

struct balloon_policy_knobs balloon_policy__defaults(void)
{
	struct balloon_policy_knobs k;
	for (unsigned i = 0; i < BALLOON_POLICY_NR_KNOBS; i++)
		memcpy((char *)&k + balloon_policy__knob[i].offset, &balloon_policy__knob[i].def,
		       sizeof(uint64_t));
	return k;
}

const struct balloon_policy_knob_desc *balloon_policy__knob_find(const char *name)
{
	for (unsigned i = 0; name && i < BALLOON_POLICY_NR_KNOBS; i++)
		if (!strcmp(balloon_policy__knob[i].name, name))
			return &balloon_policy__knob[i];
	return NULL;
}

int balloon_policy__knob_set(struct balloon_policy_knobs *k,
			     const struct balloon_policy_knob_desc *d, uint64_t value)
{
	if (!d || value < d->min || value > d->max)
		return -EINVAL;
	memcpy((char *)k + d->offset, &value, sizeof(value));
	return 0;
}

uint64_t balloon_policy__knob_get(const struct balloon_policy_knobs *k,
				  const struct balloon_policy_knob_desc *d)
{
	uint64_t v = 0;
	if (d)
		memcpy(&v, (const char *)k + d->offset, sizeof(v));
	return v;
}

const char *balloon_policy__reason_name(enum balloon_policy_reason r)
{
	return (unsigned)r < BALLOON_POLICY_NR_REASONS ? reason_names[r] : "?";
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static uint64_t mib_to_bytes(uint64_t mb)
{
	return mb > (UINT64_MAX >> 20) ? UINT64_MAX : mb << 20;
}

static uint64_t bytes_to_frames_up(uint64_t bytes)
{
	return (bytes >> FRAME_SHIFT) + ((bytes & ((1u << FRAME_SHIFT) - 1)) != 0);
}

static uint64_t mib_to_frames(uint64_t mb)
{
	return mb > (MAX_FRAMES >> (20 - FRAME_SHIFT)) ? MAX_FRAMES : mb << (20 - FRAME_SHIFT);
}

static uint64_t margin_frames(const struct balloon_policy_knobs *k, uint64_t nr)
{
	uint64_t pct = (uint64_t)((u128)nr * k->margin_pct / 100);
	uint64_t fixed = mib_to_frames(k->margin_mb);
	return pct > fixed ? pct : fixed;
}

/*
 * Part 1 and 2 for one VM: untouched, OOM, or taking part (reason KEEP,
 * floor_frames set). Updates the VM's persistent state.
 */
static void assess_vm(const struct balloon_policy_knobs *k, const struct balloon_policy_vm *v,
		      struct balloon_policy_vm_state *s, struct balloon_policy_vm_out *o)
{
	*o = (struct balloon_policy_vm_out){ .target_frames = v->target_frames };
	if (!v->has_driver) {
		o->reason = BALLOON_POLICY_NO_DRIVER;
		return;
	}
	uint64_t nr = min_u64(v->nr_frames, MAX_FRAMES);
	uint64_t actual = min_u64(v->actual_frames, nr);
	uint64_t avail = v->available >> FRAME_SHIFT;
	/* A guest that claims more available memory than it has is not believed. */
	if (!v->stats_valid || avail > nr || (v->total && v->available > v->total)) {
		o->reason = BALLOON_POLICY_NO_STATS;
		return;
	}

	if (!s->seen || v->stats_reports != s->reports) {
		s->reports = v->stats_reports;
		s->report_actual = actual;
	}
	/* Correct an old report by what the balloon did since. */
	uint64_t ra = min_u64(s->report_actual, nr);
	avail = ra >= actual ? avail + (ra - actual) : sub_sat(avail, actual - ra);
	avail = min_u64(avail, nr - actual);
	uint64_t margin = margin_frames(k, nr);
	o->floor_frames = sub_sat(actual + avail, margin);

	/* A counter that went down is a rebooted guest's: no OOM, a new base. */
	bool oom = s->seen && (v->oom_events > s->oom_events || v->oom_deflated > s->oom_deflated);
	s->seen = true;
	s->oom_events = v->oom_events;
	s->oom_deflated = v->oom_deflated;
	if (oom) {
		uint64_t t = sub_sat(min_u64(min_u64(v->target_frames, nr), actual), margin);
		o->target_frames = min_u64(t, o->floor_frames);
		o->reason = BALLOON_POLICY_OOM;
		s->hold = k->oom_hold_steps;
		return;
	}
	o->reason = BALLOON_POLICY_KEEP;
}

/* Part 3, the host: mode, need and excess in bytes. st carries the episodes. */
static void assess_host(const struct balloon_policy_knobs *k, const struct balloon_policy_host *h,
			struct balloon_policy_state *st, struct balloon_policy_result *r)
{
	uint64_t need = 0, excess = UINT64_MAX;
	bool relief = true;
	*r = (struct balloon_policy_result){ .mode = BALLOON_POLICY_STEADY };

	if (k->low_watermark_mb) {
		uint64_t low = mib_to_bytes(k->low_watermark_mb);
		uint64_t high = mib_to_bytes(k->high_watermark_mb > k->low_watermark_mb
					     ? k->high_watermark_mb : k->low_watermark_mb);
		if (h->mem_available < low)
			st->avail_episode = true;
		if (h->mem_available >= high)
			st->avail_episode = false;
		if (st->avail_episode) {
			need = high - h->mem_available;
			r->signals |= BALLOON_POLICY_SIG_AVAIL;
		}
		if (h->mem_available > high)
			excess = min_u64(excess, h->mem_available - high);
		else
			relief = false;
	}

	if (k->host_limit_mb) {
		uint64_t limit = mib_to_bytes(k->host_limit_mb);
		uint64_t aim = limit - limit / 16;
		if (h->guest_rss > limit)
			st->limit_episode = true;
		if (h->guest_rss <= aim)
			st->limit_episode = false;
		if (st->limit_episode) {
			need = need > h->guest_rss - aim ? need : h->guest_rss - aim;
			r->signals |= BALLOON_POLICY_SIG_LIMIT;
		}
		if (h->guest_rss < aim - limit / 16)
			excess = min_u64(excess, aim - h->guest_rss);
		else
			relief = false;
	}

	if (k->psi_some_avg10_pct && h->psi_some_avg10 >= 0) {
		double thr = (double)k->psi_some_avg10_pct;
		if (h->psi_some_avg10 > thr) {
			uint64_t step = mib_to_bytes(k->max_step_mb);
			need = need > step ? need : step;
			r->signals |= BALLOON_POLICY_SIG_PSI;
		}
		if (h->psi_some_avg10 > thr / 2)
			relief = false;
	}

	if (need) {
		r->mode = BALLOON_POLICY_PRESSURE;
		r->need_bytes = need;
	} else if (relief) {
		r->mode = BALLOON_POLICY_RELIEF;
		r->excess_bytes = excess;
	}
}

static bool takes_part(const struct balloon_policy_vm_out *o)
{
	return o->reason == BALLOON_POLICY_KEEP;
}

/*
 * Share x frames among the guests taking part in proportion to their RAM,
 * on top of their goal_frames, none beyond its floor. Each round either
 * ends it or caps at least one guest, so at most n + 1 rounds.
 */
static void water_fill(const struct balloon_policy_vm *vms, struct balloon_policy_vm_out *out,
		       size_t n, u128 x)
{
	for (;;) {
		u128 w_sum = 0;
		for (size_t i = 0; i < n; i++)
			if (takes_part(&out[i]) && out[i].goal_frames < out[i].floor_frames)
				w_sum += min_u64(vms[i].nr_frames, MAX_FRAMES);
		if (!x || !w_sum)
			return;
		u128 round_x = x;
		bool capped = false;
		for (size_t i = 0; i < n; i++) {
			struct balloon_policy_vm_out *o = &out[i];
			if (!takes_part(o) || o->goal_frames >= o->floor_frames)
				continue;
			uint64_t room = o->floor_frames - o->goal_frames;
			u128 share = round_x * min_u64(vms[i].nr_frames, MAX_FRAMES) / w_sum;
			if (share >= room) {
				o->goal_frames = o->floor_frames;
				x -= room;
				capped = true;
			}
		}
		if (capped)
			continue;
		for (size_t i = 0; i < n; i++)
			if (takes_part(&out[i]) && out[i].goal_frames < out[i].floor_frames)
				out[i].goal_frames += (uint64_t)(x * min_u64(vms[i].nr_frames, MAX_FRAMES)
								 / w_sum);
		return;
	}
}

/* Share a total of frames: the idle tax first, then by size (see DOC). */
static void share_out(const struct balloon_policy_knobs *k, const struct balloon_policy_vm *vms,
		      struct balloon_policy_vm_out *out, size_t n, u128 total, u128 floor_sum)
{
	u128 tax_sum = 0;
	if (total >= floor_sum) {
		for (size_t i = 0; i < n; i++)
			out[i].goal_frames = takes_part(&out[i]) ? out[i].floor_frames : 0;
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (takes_part(&out[i]))
			tax_sum += (u128)out[i].floor_frames * k->idle_tax_pct / 100;
	for (size_t i = 0; i < n; i++) {
		if (!takes_part(&out[i]))
			continue;
		u128 tax = (u128)out[i].floor_frames * k->idle_tax_pct / 100;
		out[i].goal_frames = (uint64_t)(total >= tax_sum ? tax : total * tax / tax_sum);
	}
	if (total > tax_sum)
		water_fill(vms, out, n, total - tax_sum);
}

void balloon_policy__step(const struct balloon_policy_knobs *k,
			  const struct balloon_policy_host *host,
			  struct balloon_policy_state *st,
			  const struct balloon_policy_vm *vms,
			  struct balloon_policy_vm_state *vm_st,
			  struct balloon_policy_vm_out *out, size_t n,
			  struct balloon_policy_result *res)
{
	struct balloon_policy_result r;
	if (n > MAX_VMS)
		n = MAX_VMS;
	st->steps++;

	u128 actual_sum = 0, floor_sum = 0;
	for (size_t i = 0; i < n; i++) {
		assess_vm(k, &vms[i], &vm_st[i], &out[i]);
		if (takes_part(&out[i])) {
			actual_sum += min_u64(min_u64(vms[i].actual_frames, vms[i].nr_frames), MAX_FRAMES);
			floor_sum += out[i].floor_frames;
		}
	}

	assess_host(k, host, st, &r);
	u128 total = 0;
	if (r.mode == BALLOON_POLICY_PRESSURE)
		total = actual_sum + bytes_to_frames_up(r.need_bytes);
	else if (r.mode == BALLOON_POLICY_RELIEF)
		total = actual_sum > (r.excess_bytes >> FRAME_SHIFT)
			? actual_sum - (r.excess_bytes >> FRAME_SHIFT) : 0;
	if (total > floor_sum)
		total = floor_sum;
	r.goal_frames = (uint64_t)total;
	if (r.mode != BALLOON_POLICY_STEADY)
		share_out(k, vms, out, n, total, floor_sum);

	uint64_t step = mib_to_frames(k->max_step_mb);
	for (size_t i = 0; i < n; i++) {
		struct balloon_policy_vm_out *o = &out[i];
		struct balloon_policy_vm_state *s = &vm_st[i];
		if (!takes_part(o))
			continue;
		uint64_t cur = min_u64(vms[i].target_frames, min_u64(vms[i].nr_frames, MAX_FRAMES));
		if (r.mode == BALLOON_POLICY_STEADY)
			o->goal_frames = cur;
		if (r.mode == BALLOON_POLICY_RELIEF && o->goal_frames > cur)
			o->goal_frames = cur;

		if (cur > o->floor_frames) {
			o->target_frames = o->floor_frames;
			o->reason = BALLOON_POLICY_FLOOR;
			s->hold = k->oom_hold_steps;
			continue;
		}
		if (o->goal_frames > cur && s->hold) {
			o->target_frames = cur;
			o->reason = BALLOON_POLICY_HOLD;
		} else if (o->goal_frames > cur) {
			o->target_frames = cur + min_u64(o->goal_frames - cur, step);
			o->reason = BALLOON_POLICY_SQUEEZE;
		} else if (o->goal_frames < cur) {
			o->target_frames = cur - min_u64(cur - o->goal_frames, step);
			o->reason = BALLOON_POLICY_RELEASE;
		} else {
			o->target_frames = cur;
		}
		if (s->hold)
			s->hold--;
	}
	if (res)
		*res = r;
}

void balloon_policy__vm_from_snapshot(const struct balloon_snapshot *s, bool has_driver,
				      struct balloon_policy_vm *v)
{
	const struct balloon_guest_stats *g = &s->gs;
	*v = (struct balloon_policy_vm){
		.has_driver = has_driver,
		.nr_frames = s->nr_frames,
		.target_frames = s->target_frames,
		.actual_frames = s->actual_frames,
		.stats_valid = g->present & (1u << L1_BSTAT_AVAIL),
		.stats_reports = g->reports,
		.total = g->present & (1u << L1_BSTAT_MEMTOT) ? g->val[L1_BSTAT_MEMTOT] : 0,
		.available = g->val[L1_BSTAT_AVAIL],
		.oom_events = g->val[L1_BSTAT_OOM],
		.oom_deflated = g->val[L1_BSTAT_OOM_DEFLATE],
	};
}
