/* SPDX-License-Identifier: MIT */
/*
 * DOC: a VM's balloon, the part both devices share (host side).
 *
 * The PV balloon (L1_HC_BALLOON, shared info) and the virtio-balloon device
 * (balloon/virtio_balloon.c) are two ways for a guest to hand frames back;
 * both end here. balloon__inflate() takes extents of frames from the guest:
 * each is checked (inside the p2m, at or above L1_BALLOON_MIN_GFN, not
 * already in the balloon), marked P2M_BALLOONED, and their host memory is
 * released through the backend's discard(), the extents of one call sorted
 * and coalesced so that adjacent frames cost one call. balloon__deflate()
 * gives them back (P2M_UNPOPULATED: they read zero, host memory comes back
 * when the guest writes). balloon__report_free() is free page reporting:
 * the guest keeps the frames, their content is dropped.
 *
 * The target (frames l1vmm wants in the balloon) is set by hand or by the
 * policy; a device registers notify() to pass it on to its guest.
 *
 * Locking: b->lock (rank L1_RANK_BALLOON, mmu/lock.h) protects everything
 * in struct balloon; a move of the VM's p2m states happens under it (and,
 * for a VM under page sharing, the engine's lock under it, taken by
 * p2m__move). notify() is called without b->lock.
 */
#ifndef L1_BALLOON_BALLOON_H
#define L1_BALLOON_BALLOON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmu/lock.h"
#include "mmu/p2m.h"

#define BALLOON_MAX_DEVICES 2 /* PV and virtio: the guest picks one */

/* How a VM's frames are released: the backend of its mode. */
struct balloon_mem {
	struct p2m *p2m;
	void *ctx;
	/* Release the host memory of frames [gfn, gfn + n): afterwards they read
	 * zero. ept: MADV_DONTNEED on guest RAM; shadow: on the machine frames.
	 * 0 or -errno (the frames stay as they were). */
	int (*discard)(void *ctx, uint64_t gfn, uint64_t n);
	/* Optional: whether [gfn, gfn + n) is all guest RAM (not a hole the p2m
	 * spans). NULL: every frame of the p2m is. */
	bool (*is_ram)(void *ctx, uint64_t gfn, uint64_t n);
	/* Optional: the inflate's host side in place of discard(): release the
	 * memory and make the frames not present to the guest (shadow mode:
	 * an access faults). 0 or -errno (the frames stay as they were). */
	int (*take)(void *ctx, uint64_t gfn, uint64_t n);
	/* Optional: the deflate's host side: the frames are present again. */
	int (*give_back)(void *ctx, uint64_t gfn, uint64_t n);
	/* Optional: whether a frame of [gfn, gfn + n) is one the backend cannot
	 * give up (shadow mode: a page table of the guest's, a page the host
	 * uses): refused like a frame outside RAM. The backend's take() and
	 * discard() refuse them too (-EBUSY), atomically with the change. */
	bool (*in_use)(void *ctx, uint64_t gfn, uint64_t n);
};

/* Guest statistics, as the last report had them (virtio tags 0..9, plus OOM). */
struct balloon_guest_stats {
	uint64_t val[16];      /* enum l1_balloon_stat */
	uint32_t present;      /* bit per tag present in the last report */
	uint64_t reports;      /* reports received */
	double when;           /* vm__now() of the last report, 0 = none */
};

struct balloon_counters {
	uint64_t inflated_frames;  /* total frames given back by the guest */
	uint64_t deflated_frames;  /* total frames taken back */
	uint64_t reported_frames;  /* free page reporting: frames discarded */
	uint64_t refused_extents;  /* extents refused (bad gfn or state, a move the p2m refused) */
	uint64_t refused_requests; /* requests refused as a whole (malformed) */
	uint64_t discard_calls;    /* backend discard() calls */
	uint64_t oom_deflations;   /* deflates while actual <= target (the guest needed memory) */
	uint64_t target_changes;
	double inflate_seconds;    /* time spent inside inflate calls */
	double deflate_seconds;
};

struct balloon {
	struct l1_lock lock;
	struct balloon_mem mem;
	const char *device;          /* "pv", "virtio" or NULL (none attached yet) */
	uint64_t target_frames;      /* frames l1vmm wants in the balloon */
	uint64_t actual_frames;      /* frames in it (P2M_BALLOONED) */
	double target_set_at;        /* vm__now() when the target last changed */
	double target_reached_after; /* seconds from that change to actual == target; <0: not yet */
	/* frames moved since the last target change, and when the last move ended */
	uint64_t move_frames;
	double move_last;
	struct balloon_counters c;
	struct balloon_guest_stats gs;
	char last_refusal[128];      /* why the last extent or request was refused */
	struct {                     /* the devices: tell the guest the target changed */
		void (*fn)(void *ctx);
		void *ctx;
	} notify[BALLOON_MAX_DEVICES];
};

/* 0 or -errno. mem is copied. */
int balloon__init(struct balloon *b, const struct balloon_mem *mem);
void balloon__destroy(struct balloon *b);

/* A device that talks to the guest: notify(ctx) on every target change
 * (at most BALLOON_MAX_DEVICES; -ENOSPC). device becomes b->device. */
int balloon__attach(struct balloon *b, const char *device, void (*notify)(void *ctx), void *ctx);
/* Remove the device attached with ctx. */
void balloon__detach(struct balloon *b, void *ctx);

/*
 * The guest gives back n extents of 2^order frames starting at gfns[i]
 * (order <= 9). Extents are taken in order until the first refused one.
 * Returns the number taken; -EINVAL if the first was refused for its gfn or
 * state, -EIO if the move failed (the p2m refused it or the backend could not
 * release the memory; the reason in last_refusal).
 */
long balloon__inflate(struct balloon *b, const uint64_t *gfns, size_t n, unsigned order);
/* The guest takes extents back (each must be in the balloon). As inflate. */
long balloon__deflate(struct balloon *b, const uint64_t *gfns, size_t n, unsigned order);
/* Free page reporting: drop the content of [gfn, gfn + n) (they stay the
 * guest's, reading zero). 0, -EINVAL (not RAM, in the balloon), -EPERM, -EIO. */
int balloon__report_free(struct balloon *b, uint64_t gfn, uint64_t n);
/* Count a request refused as a whole (a malformed buffer), with why. */
void balloon__refuse_request(struct balloon *b, const char *why);

/* Set the target in frames (clamped to the VM's frames); notify the device. */
void balloon__set_target(struct balloon *b, uint64_t frames);
/* Store the guest's latest statistics. */
void balloon__set_guest_stats(struct balloon *b, const uint64_t *val, uint32_t present);

/* A consistent copy of b's state, for the tree and the policy. */
struct balloon_snapshot {
	uint64_t target_frames, actual_frames, nr_frames;
	double target_reached_after;
	double inflate_mib_s, deflate_mib_s; /* host side: over the time inside the calls */
	double move_mib_s;   /* end to end: frames moved since the last target change
			      * over the time from that change to the last move */
	struct balloon_counters c;
	struct balloon_guest_stats gs;
	const char *device;
	char last_refusal[128];
};
void balloon__snapshot(struct balloon *b, struct balloon_snapshot *out);

#endif
