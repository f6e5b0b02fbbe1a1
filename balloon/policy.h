/* SPDX-License-Identifier: MIT */
/*
 * DOC: the automatic balloon policy (balloon/policy = auto), a pure function.
 *
 * A host thread calls balloon_policy__step() every interval (about 0.5 s)
 * with what it read (MemAvailable, PSI memory "some avg10", the resident
 * memory of the guests) and a copy of every VM's balloon (target, actual,
 * guest statistics); the step returns a new target per VM and why. It
 * touches nothing else: no clock, no I/O, no locks, so the caller owns the
 * timing and the tests drive it step by step. Under balloon/policy = off or
 * manual the caller does not call it.
 *
 * All the state that lives from one step to the next is in the caller's
 * struct balloon_policy_state and one struct balloon_policy_vm_state per
 * VM, zeroed before the first step (and a VM's when the VM is new).
 * The algorithm is described in policy.c.
 */
#ifndef L1_BALLOON_POLICY_H
#define L1_BALLOON_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct balloon_snapshot;

/* The knobs, exposed as balloon/<name>; ranges and defaults in balloon_policy__knob[]. */
struct balloon_policy_knobs {
	uint64_t low_watermark_mb;   /* host MemAvailable below it: pressure; 0 disables */
	uint64_t high_watermark_mb;  /* pressure lasts until MemAvailable reaches it; above: relief */
	uint64_t psi_some_avg10_pct; /* PSI memory some avg10 above it: pressure; 0 disables */
	uint64_t host_limit_mb;      /* budget for the guests' resident memory; 0 = none */
	uint64_t idle_tax_pct;       /* share of each guest's idle memory taken first, by idle */
	uint64_t margin_mb;          /* a guest keeps in-use + max(margin_mb, */
	uint64_t margin_pct;         /*                  margin_pct % of its RAM) */
	uint64_t max_step_mb;        /* most one target rises (or falls in relief) per step */
	uint64_t oom_hold_steps;     /* steps a guest is not inflated after an OOM or its floor */
};

/* One knob: a uint64_t at offset in struct balloon_policy_knobs. */
struct balloon_policy_knob_desc {
	const char *name;
	size_t offset;
	uint64_t min, max, def;
	const char *doc;
};

#define BALLOON_POLICY_NR_KNOBS 9
/* Every field of struct balloon_policy_knobs, in order (the tree registers them). */
extern const struct balloon_policy_knob_desc balloon_policy__knob[BALLOON_POLICY_NR_KNOBS];

/* Every knob at its default. */
struct balloon_policy_knobs balloon_policy__defaults(void);
/* The knob named name (a field name), or NULL. */
const struct balloon_policy_knob_desc *balloon_policy__knob_find(const char *name);
/* Range-check and store: 0 or -EINVAL (value outside [min, max], d NULL). */
int balloon_policy__knob_set(struct balloon_policy_knobs *k,
			     const struct balloon_policy_knob_desc *d, uint64_t value);
uint64_t balloon_policy__knob_get(const struct balloon_policy_knobs *k,
				  const struct balloon_policy_knob_desc *d);

/* What the host thread read this interval. */
struct balloon_policy_host {
	uint64_t mem_available;  /* bytes, /proc/meminfo MemAvailable */
	double psi_some_avg10;   /* percent, /proc/pressure/memory "some avg10"; < 0: unknown */
	uint64_t guest_rss;      /* bytes of guest memory resident in l1vmm */
};

/* One VM, as its balloon snapshot had it (balloon_policy__vm_from_snapshot()). */
struct balloon_policy_vm {
	bool has_driver;         /* a balloon driver runs in the guest; false: never targeted */
	uint64_t nr_frames;      /* the VM's RAM, 4 KiB frames */
	uint64_t target_frames;  /* current target: frames wanted in the balloon */
	uint64_t actual_frames;  /* frames in the balloon now */
	bool stats_valid;        /* the guest reported MemAvailable; the fields below are valid */
	uint64_t stats_reports;  /* reports received so far (tells a fresh report from an old one) */
	uint64_t total;          /* bytes, L1_BSTAT_MEMTOT; 0: not reported */
	uint64_t available;      /* bytes, L1_BSTAT_AVAIL: what the guest could use, balloon excluded */
	uint64_t oom_events;     /* cumulative, L1_BSTAT_OOM */
	uint64_t oom_deflated;   /* cumulative frames, L1_BSTAT_OOM_DEFLATE */
};

/* Kept by the caller between steps; zero before the first step. */
struct balloon_policy_state {
	bool avail_episode;      /* MemAvailable fell below low and has not reached high yet */
	bool limit_episode;      /* guest RSS went over host_limit and is not back under it */
	uint64_t steps;
};

/* Per VM, kept by the caller between steps; zero for a new VM. */
struct balloon_policy_vm_state {
	bool seen;               /* the fields below hold the last step's values */
	uint64_t oom_events, oom_deflated;
	uint64_t hold;           /* steps left in which the target may not rise */
	uint64_t reports;        /* stats_reports at the last step */
	uint64_t report_actual;  /* actual_frames when the guest's last report was new */
};

enum balloon_policy_reason {
	BALLOON_POLICY_NO_DRIVER, /* untouched: no balloon driver */
	BALLOON_POLICY_NO_STATS,  /* untouched: no (or impossible) statistics */
	BALLOON_POLICY_KEEP,      /* target unchanged */
	BALLOON_POLICY_SQUEEZE,   /* target raised: host pressure */
	BALLOON_POLICY_RELEASE,   /* target lowered: relief, or moved to another guest */
	BALLOON_POLICY_FLOOR,     /* target lowered at once to in-use + margin */
	BALLOON_POLICY_OOM,       /* the guest reported an OOM: deflated at once */
	BALLOON_POLICY_HOLD,      /* would rise, but the guest is held after OOM / floor */
	BALLOON_POLICY_NR_REASONS
};
/* "no-driver", "no-stats", "keep", "squeeze", "release", "floor", "oom", "hold". */
const char *balloon_policy__reason_name(enum balloon_policy_reason r);

struct balloon_policy_vm_out {
	uint64_t target_frames;  /* the new target (== in target when untouched) */
	enum balloon_policy_reason reason;
	uint64_t floor_frames;   /* largest balloon that leaves in-use + margin; 0 if untouched */
	uint64_t goal_frames;    /* the share of the total this step aimed at */
};

enum balloon_policy_host_mode {
	BALLOON_POLICY_STEADY,   /* between the watermarks: targets kept */
	BALLOON_POLICY_PRESSURE, /* need > 0: take from the guests */
	BALLOON_POLICY_RELIEF,   /* every signal comfortable: give back */
};

#define BALLOON_POLICY_SIG_AVAIL (1u << 0) /* MemAvailable */
#define BALLOON_POLICY_SIG_PSI   (1u << 1)
#define BALLOON_POLICY_SIG_LIMIT (1u << 2) /* host_limit_mb */

struct balloon_policy_result {
	enum balloon_policy_host_mode mode;
	unsigned signals;        /* BALLOON_POLICY_SIG_*: the signals in pressure */
	uint64_t need_bytes;     /* PRESSURE: what the balloons should hold beyond today's */
	uint64_t excess_bytes;   /* RELIEF: what may be given back (UINT64_MAX: all) */
	uint64_t goal_frames;    /* the total aimed at over the guests that take part */
};

/*
 * One step. vms[i], st[i] and out[i] describe VM i (n <= 65536). The
 * caller sets out[i].target_frames with balloon__set_target() (the core
 * clamps it and notifies the guest) and keeps st and vm_st for the next
 * step. k's knobs are used as they are (knob_set() range-checked them);
 * high_watermark_mb below low_watermark_mb counts as equal to it. res may
 * be NULL.
 */
void balloon_policy__step(const struct balloon_policy_knobs *k,
			  const struct balloon_policy_host *host,
			  struct balloon_policy_state *st,
			  const struct balloon_policy_vm *vms,
			  struct balloon_policy_vm_state *vm_st,
			  struct balloon_policy_vm_out *out, size_t n,
			  struct balloon_policy_result *res);

/* Fill v from a balloon snapshot (the statistics tags in one place). */
void balloon_policy__vm_from_snapshot(const struct balloon_snapshot *s, bool has_driver,
				      struct balloon_policy_vm *v);

#endif
