/* SPDX-License-Identifier: MIT */
/*
 * DOC: the p2m, l1vmm's per-guest map from guest frame (gfn) to state.
 *
 * Every memory mechanism (loader, page sharing, balloon, reclaim) changes a
 * frame's state through p2m__move() and nowhere else. It checks each frame's
 * move against the table of allowed transitions below and refuses the whole
 * call, changing nothing, when one is not allowed; it keeps the counters
 * exact. The p2m is the truth: every per-frame statistic is derived from it.
 *
 * The transitions (from -> to), and who makes them:
 *   UNPOPULATED -> PRIVATE    content for the first time: the loader, a boot
 *                             structure, the guest's first write (populate)
 *   PRIVATE -> SHARED         page sharing maps the frame onto a stored copy
 *   PRIVATE -> ZERO           page sharing discards a page of zeros
 *   SHARED, ZERO -> PRIVATE   a write gave the frame its own page (a
 *                             copy-on-write break), or the host gave it one
 *                             before the balloon takes it
 *   UNPOPULATED, PRIVATE -> BALLOONED   the guest gave the frame back
 *   BALLOONED -> UNPOPULATED  the guest took it back (deflate)
 *   PRIVATE -> UNPOPULATED    the guest reported it free: its content went
 *   PRIVATE -> IN_FLIGHT      host reclaim starts evicting it: the host has
 *                             fenced off guest writes (reclaim/reclaim.h)
 *   IN_FLIGHT -> COMPRESSED   its bytes are in the store, its page is gone
 *   IN_FLIGHT -> PRIVATE      an eviction given up (the page stayed), or a
 *                             fetch done (the stored bytes are back)
 *   COMPRESSED -> IN_FLIGHT   an access: reclaim fetches it back
 *   COMPRESSED -> BALLOONED, UNPOPULATED   the guest gave the frame back or
 *                             reported it free: the stored bytes are dropped
 *                             (the store hook, below), never fetched
 * A frame already in the target state stays (no move, nothing counted) when
 * the caller allows that state as a source.
 *
 * IN_FLIGHT belongs to host reclaim, which keeps a frame in it only while it
 * compresses or fetches that page and takes no lock a mover may hold
 * meanwhile. So p2m__move() meeting an IN_FLIGHT frame it does not name as
 * a source waits for it to leave that state (a sleep of 50 us at a time,
 * without the p2m lock) and tries again; page sharing's own moves and
 * p2m__record_written() refuse it (-EPERM) instead, as for any other state
 * they do not take.
 *
 * SHARED and ZERO belong to page sharing, which keeps per-frame state of its
 * own (which stored copy a frame maps). It registers as the p2m's client
 * (struct p2m_client) and makes its own moves with p2m__client_move(); every
 * other mechanism uses p2m__move(), which never moves a frame into those
 * states, and moves a frame out of them only through the client: under the
 * client's lock, the client's release() gives the frames their own pages and
 * drops their copies, then the move happens, then the client hears of it
 * (moved()). A write the host already served (a copy-on-write break, a
 * first write) is recorded with p2m__record_written(), which tells the client
 * through broken(). So the balloon, later reclaim, and the backends that see
 * the writes never call the sharing engine, and no scan sees a frame
 * half-way.
 *
 * When the p2m is exact: a write that breaks a shared frame is served by
 * the host at once (ept: the host kernel copies on write, no exit; shadow:
 * the write fault copies, holding the backend's locks, which rank after the
 * engine's), and recorded at the backend's next sync (the scanner's, before
 * every scan and every statistics read). Until then the p2m may still say
 * SHARED or ZERO for a frame the guest has written since. The frame's bytes
 * are right either way; only the state lags, and no decision is taken on
 * the stale state: a scan that meets the frame again compares bytes under
 * the backend's write protection first.
 *
 * Locking: p2m->lock (rank L1_RANK_P2M, mmu/lock.h) serialises moves and
 * the client's registration; a move through the client holds the client's
 * lock (rank L1_RANK_DEDUP_ENGINE) around it. Callers hold their own
 * mechanism's lock (balloon, engine), never a backend's. p2m__get() and p2m__count() read without it: a state byte and a
 * counter are read whole (atomics), a value one move later is possible and
 * the caller's own lock decides whether that matters.
 */
#ifndef L1_MMU_P2M_H
#define L1_MMU_P2M_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmu/lock.h"

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

/* A set of states, for p2m__move()'s sources. */
#define P2M_BIT(state) (1u << (state))
#define P2M_ANY ((1u << P2M_NR_STATES) - 1)

/* What a p2m__move() of another mechanism needs from page sharing. */
struct p2m_client {
	struct l1_lock *lock;    /* the client's own, held around every move through it */
	/* Give frames [gfn, gfn + n) that are SHARED or ZERO a page of their own
	 * and move them to PRIVATE (p2m__client_move); the others are left as
	 * they are. Called with *lock held. 0, or -errno: the frames done are
	 * PRIVATE, the others unchanged. */
	int (*release)(void *ctx, uint64_t gfn, uint64_t n);
	/* Frames [gfn, gfn + n) moved to `to` by another mechanism. *lock held. */
	void (*moved)(void *ctx, uint64_t gfn, uint64_t n, enum p2m_state to);
	/* Frame gfn, in state from (SHARED or ZERO), already has a page of its own:
	 * a write broke it (p2m__record_written). Drop what the client keeps for
	 * it (the stored copy's reference); the move to PRIVATE follows. *lock held. */
	void (*broken)(void *ctx, uint64_t gfn, enum p2m_state from);
	void *ctx;
};

/* How host reclaim hears that frames left its store for good. */
struct p2m_store_hook {
	/* Frame gfn moved from COMPRESSED to BALLOONED or UNPOPULATED by another
	 * mechanism: drop its stored bytes. Called under the p2m lock, after the
	 * move's host side succeeded; takes only leaf locks of its own. */
	void (*dropped)(void *ctx, uint64_t gfn);
	void *ctx;
};

struct p2m {
	struct l1_lock lock;     /* serialises moves and the client's registration */
	struct p2m_client client; /* under lock; client.lock == NULL: none */
	struct p2m_store_hook store_hook; /* under lock; dropped == NULL: none */
	uint8_t *state;          /* one enum p2m_state per gfn; written under lock */
	uint64_t nr_frames;      /* gfns [0, nr_frames); fixed */
	uint64_t count[P2M_NR_STATES]; /* frames in each state, sums to nr_frames;
					* written under lock, read with p2m__count() */
};

/* Allocate a p2m of nr_frames frames, all P2M_UNPOPULATED. 0 or -errno. */
int p2m__init(struct p2m *p2m, uint64_t nr_frames);
void p2m__destroy(struct p2m *p2m);

/* Whether the table allows a frame to move from one state to the other. */
bool p2m__allowed(enum p2m_state from, enum p2m_state to);

/*
 * Move frames [gfn, gfn + n) to state to; each must be in one of the states
 * of the set from (P2M_BIT()s) and its move allowed. When every frame may
 * move, apply(ctx, gfn, n) (if given) does the host side (a discard of the
 * frames' memory, say) under the p2m lock, and only if it succeeds do the
 * states change. Never into SHARED or ZERO; frames in them (when from has
 * them) leave through the client first, and only with an apply (a move
 * that keeps the frames' memory cannot take them off their copies). 0;
 * -EINVAL (a range outside the p2m, or no such state), -EPERM (a frame in
 * another state, a move the table refuses, or into SHARED or ZERO), or the
 * -errno of the client's release() or of apply: then the frames the client
 * released are PRIVATE and no other state changed.
 */
int p2m__move(struct p2m *p2m, uint64_t gfn, uint64_t n, uint32_t from, enum p2m_state to,
	      int (*apply)(void *ctx, uint64_t gfn, uint64_t n), void *ctx);

/*
 * Record what the host already did: frames [gfn, gfn + n) were written and
 * have a page of their own. UNPOPULATED ones got content (a populate),
 * SHARED and ZERO ones were copied on write (a break: the client's broken()
 * hears of each, under its lock, before the move), PRIVATE ones stay. The
 * backends call this when they see a write (the ept dirty log, a shadow
 * write fault); no other call moves a frame out of SHARED or ZERO without
 * the client's release(). 0, -EINVAL (a range outside the p2m) or -EPERM (a
 * frame in another state: nothing moved).
 */
int p2m__record_written(struct p2m *p2m, uint64_t gfn, uint64_t n);

/* The client's own moves (with its lock held): as p2m__move(), into SHARED
 * and ZERO too, never through the client. */
int p2m__client_move(struct p2m *p2m, uint64_t gfn, uint64_t n, uint32_t from,
		     enum p2m_state to, int (*apply)(void *ctx, uint64_t gfn, uint64_t n),
		     void *ctx);

/* Register c as the p2m's client (copied), or none with NULL. Not while a
 * move through the old client could still run (the client removes itself
 * holding its own lock). */
void p2m__set_client(struct p2m *p2m, const struct p2m_client *c);

/* Register h (copied) as the p2m's store hook, or none with NULL. */
void p2m__set_store_hook(struct p2m *p2m, const struct p2m_store_hook *h);

/* The state of gfn; P2M_NR_STATES when gfn is out of range. */
enum p2m_state p2m__get(const struct p2m *p2m, uint64_t gfn);

/* Frames in state now. */
uint64_t p2m__count(const struct p2m *p2m, enum p2m_state state);

#endif
