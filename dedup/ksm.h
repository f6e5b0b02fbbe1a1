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
 * A crash must not leave KSM changed: before writing a knob, start saves
 * KSM's values to a state file, DEDUP_KSM_STATE_DIR/ksm-saved (the directory
 * can be moved with $L1VMM_RUN_DIR), and holds an exclusive flock on it while
 * it drives KSM. stop puts the values back and removes the file. A file that
 * nobody holds is what a killed l1vmm left: dedup_ksm__recover(), called at
 * every start, and dedup_ksm__start() put its values back first. A file that
 * a live l1vmm holds makes start refuse: one l1vmm drives KSM at a time.
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

#define DEDUP_KSM_STATE_DIR "/run/l1vmm"

struct dedup_ksm {
	bool active;                        /* started and not stopped */
	char saved[DEDUP_NR_KNOBS][32];     /* KSM's values at start */
	uint64_t cpu_base_ms;               /* ksmd's CPU time at start */
	int state_fd;                       /* the locked state file while active, else -1 */
	char state_path[256];               /* its path while active */
};

/*
 * If a killed l1vmm left KSM changed (a state file nobody holds), put KSM's
 * saved values back and remove the file. 1 restored, 0 nothing to do, or -1
 * with a one-line reason (the file is there but cannot be used: not root).
 */
int dedup_ksm__recover(char *err, size_t errlen);

/* Save KSM's knobs and write ours (knob[]: the engine's values). 0, or -1
 * with a one-line reason (KSM absent, or not root). */
int dedup_ksm__start(struct dedup_ksm *ks, const uint64_t knob[DEDUP_NR_KNOBS], char *err,
		     size_t errlen);
/* Stop ksmd and put KSM's own knobs back, remove the state file (nothing
 * when not active). Also the forced exit's: safe while another thread is in
 * any call but start (ks->saved is written once, before the VMs run). */
void dedup_ksm__stop(struct dedup_ksm *ks);
/* One knob changed: write it to KSM while active (max_meta_bytes has no KSM
 * counterpart and is ignored). 0 or -errno (KSM refuses max_page_sharing
 * with -EBUSY while it shares pages). */
int dedup_ksm__push(struct dedup_ksm *ks, enum dedup_knob knob, uint64_t value);
/* KSM's statistics now, in the engine's terms. */
void dedup_ksm__stats(const struct dedup_ksm *ks, struct dedup_stats *s);

#endif
