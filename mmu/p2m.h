/* SPDX-License-Identifier: MIT */
/*
 * DOC: the p2m, l1vmm's per-guest map from guest frame (gfn) to state.
 *
 * Every memory mechanism (loader, dedup, balloon, reclaim) changes a frame's
 * state through this interface and nowhere else; the backends (mmu/ept,
 * mmu/shadow) apply the change to host memory. The p2m is the truth: the
 * counters are derived from it and kept exact on every transition.
 *
 * Locking: none yet; the p2m is written only by the VM's owner thread before
 * the vCPUs start. Later issues add the lock (docs/locking.md).
 */
#ifndef L1_MMU_P2M_H
#define L1_MMU_P2M_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum p2m_state {
	P2M_UNPOPULATED = 0, /* no host page yet: reads as zero */
	P2M_PRIVATE,         /* the guest's own host page */
	P2M_SHARED,          /* one stored copy, copy-on-write */
	P2M_ZERO,            /* known zero, no host page */
	P2M_BALLOONED,       /* given back by the guest */
	P2M_COMPRESSED,      /* in the reclaim store */
	P2M_IN_FLIGHT,       /* being moved between states */
	P2M_NR_STATES
};

struct p2m {
	uint8_t *state;          /* one enum p2m_state per gfn */
	uint64_t nr_frames;      /* gfns [0, nr_frames) */
	uint64_t count[P2M_NR_STATES]; /* frames in each state; sums to nr_frames */
};

/* Allocate a p2m of nr_frames frames, all P2M_UNPOPULATED. 0 or -errno. */
int p2m__init(struct p2m *p2m, uint64_t nr_frames);
void p2m__destroy(struct p2m *p2m);

/* Set frames [gfn, gfn + n) to state; false (nothing changed) if out of range. */
bool p2m__set_range(struct p2m *p2m, uint64_t gfn, uint64_t n, enum p2m_state state);

/* The state of gfn; P2M_NR_STATES when gfn is out of range. */
enum p2m_state p2m__get(const struct p2m *p2m, uint64_t gfn);


#endif
