/* SPDX-License-Identifier: MIT */
/*
 * The shadow-mode backend of host reclaim (reclaim/reclaim.h); how it works
 * is in mmu/shadow/reclaim.c.
 */
#ifndef L1_MMU_SHADOW_RECLAIM_H
#define L1_MMU_SHADOW_RECLAIM_H

#include "mmu/shadow/shadow.h"
#include "reclaim/reclaim.h"

/* The backend's operations; ctx is the struct shadow_guest. */
extern const struct reclaim_backend shadow_reclaim__ops;

/*
 * What a fault (or a host access) on an evicted frame calls: the wiring
 * passes reclaim_vm__fetch and the VM's struct reclaim_vm, before the vCPUs
 * run. Called without g->lock held (the fetch takes the p2m lock, which
 * ranks before g->lock: docs/locking.md). shadow_fetch_fn (shadow.h) is this
 * type, spelled out so that shadow.h needs nothing of reclaim/.
 */
void shadow__set_fetcher(struct shadow_guest *g, shadow_fetch_fn fetch, void *fctx);

#endif
