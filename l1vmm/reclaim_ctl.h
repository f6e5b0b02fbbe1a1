/* SPDX-License-Identifier: MIT */
/*
 * DOC: host reclaim on the host: the store, the reclaim thread, reclaim/ in
 * the tree, each VM's part.
 *
 * Every VM gets a struct reclaim_vm (reclaim/reclaim.h) over its p2m, with
 * its mode's backend: ept (mmu/ept/reclaim.h: userfaultfd, a small pool of
 * fetch threads) or shadow (mmu/shadow: the fault path fetches). The store
 * (reclaim/store.h) is one for the host, made when the first VM is added
 * (reclaim/compressor, store_cap_mb, swap_file are read then; the
 * compressor and the cap can change later).
 *
 * The thread wakes every reclaim/interval_ms while reclaim/run is 1. Each
 * round it ages every VM's frames (which were touched since the last round),
 * measures l1vmm's resident guest memory (mincore over every VM's RAM
 * mapping and the shadow machine's memory: what the host really holds, not
 * a counter), and decides how much to evict:
 *   need = resident - host_limit_mb (when set), or low_watermark_mb -
 *          MemAvailable (when set and below), or, with PSI memory "some
 *          avg10" above psi_some_avg10_pct, one round's max_rate_mb;
 * at most max_rate_mb per second. Reclaim is the last resort, so it waits:
 *   1. page sharing runs all the time and needs nothing from here;
 *   2. the balloon goes first: while any VM's balloon has grown in the last
 *      delay_ms, reclaim waits (a cooperative balloon under balloon/policy
 *      auto covers the need, and reclaim stays idle);
 *   3. only a need that lasted delay_ms with no balloon growth is reclaimed.
 * Victims are the coldest frames (cold_age rounds untouched; when none are
 * that cold and the limit is a hard one, younger ones, never one touched or
 * fetched in the last round), shared
 * out over the VMs by their resident frames above their floor
 * (vms/NAME/reclaim/floor_mb).
 */
#ifndef L1VMM_RECLAIM_CTL_H
#define L1VMM_RECLAIM_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "reclaim/reclaim.h"

struct reclaim_ctl;
struct ctl_tree;
struct vm;

struct reclaim_ctl *reclaim_ctl__create(void);
void reclaim_ctl__destroy(struct reclaim_ctl *c);
/* reclaim/ entries. 0 or -errno. */
int reclaim_ctl__register(struct reclaim_ctl *c, struct ctl_tree *t);
/* After vm__create(), before its vCPUs start: the VM's part (and the store,
 * for the first VM). 0, or -1 with a reason. */
int reclaim_ctl__add_vm(struct reclaim_ctl *c, struct vm *vm, uint64_t floor_mb, char *err,
			size_t errlen);
int reclaim_ctl__start(struct reclaim_ctl *c, char *err, size_t errlen);
/* Stop the thread (before the VMs are torn down). */
void reclaim_ctl__stop(struct reclaim_ctl *c);
/* After the VM's vCPUs stopped, before vm__destroy(): drop its stored pages,
 * stop its fetch threads. */
void reclaim_ctl__remove_vm(struct reclaim_ctl *c, struct vm *vm);

/* vms/NAME/reclaim/: the VM's floor (set at once while it runs) and counters. */
void reclaim_ctl__set_floor(struct vm *vm, uint64_t floor_mb);
/* 0, or -ENOENT when the VM has no reclaim part. */
int reclaim_ctl__vm_stats(struct vm *vm, struct reclaim_vm_stats *out);

#endif
