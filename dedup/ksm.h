/* SPDX-License-Identifier: MIT */
/*
 * DOC: Linux KSM as the page-sharing backend for comparison (dedup/backend=ksm).
 *
 * Guests' RAM is offered with MADV_MERGEABLE (ept__mergeable) and ksmd does
 * the sharing. This drives KSM's knobs in /sys/kernel/mm/ksm/ with the same
 * names and values as l1vmm's engine (dedup.h), saving KSM's own values at
 * start and putting them back at stop, and reads KSM's statistics into
 * struct dedup_stats, ksmd's CPU time counted from start. Needs root.
 *
 * Locking: none inside; the caller serialises every call on one
 * struct dedup_ksm (the dedup host's lock).
 */
#ifndef L1_DEDUP_KSM_H
#define L1_DEDUP_KSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dedup/dedup.h"

struct dedup_ksm {
	bool active;                        /* started and not stopped */
	char saved[DEDUP_NR_KNOBS][32];     /* KSM's values at start */
	uint64_t cpu_base_ms;               /* ksmd's CPU time at start */
};

/* Save KSM's knobs and write ours (knob[]: the engine's values). 0, or -1
 * with a one-line reason (KSM absent, or not root). */
int dedup_ksm__start(struct dedup_ksm *ks, const uint64_t knob[DEDUP_NR_KNOBS], char *err,
		     size_t errlen);
/* Stop ksmd and put KSM's own knobs back (nothing when not active). */
void dedup_ksm__stop(struct dedup_ksm *ks);
/* One knob changed: write it to KSM while active (max_meta_bytes has no KSM
 * counterpart and is ignored). 0 or -errno (KSM refuses max_page_sharing
 * with -EBUSY while it shares pages). */
int dedup_ksm__push(struct dedup_ksm *ks, enum dedup_knob knob, uint64_t value);
/* KSM's statistics now, in the engine's terms. */
void dedup_ksm__stats(const struct dedup_ksm *ks, struct dedup_stats *s);

#endif
