/* SPDX-License-Identifier: MIT */
/*
 * DOC: page sharing on the host: the engines, their backends, the scanner.
 *
 * The engine (dedup/) decides what to share; a backend applies it to host
 * memory. l1vmm runs one engine per backend in use:
 *   ept     ept-mode guests (l1vmm/dedup_ept.c): stored copies live in a
 *           memfd; a shared frame is that memfd mapped MAP_PRIVATE over guest
 *           RAM, so a guest write is a copy-on-write by the host kernel; the
 *           KVM dirty log tells which frames were written;
 *   shadow  shadow-mode guests (l1vmm/dedup_shadow.c): stored copies are
 *           machine frames; a shared frame is mapped read-only in the shadow
 *           page tables; a write fault copies;
 *   ksm     ept-mode guests handed to Linux KSM instead (dedup/backend = ksm):
 *           no engine, only MADV_MERGEABLE and KSM's own knobs and counters.
 * One scanner thread wakes every sleep_millisecs and, for each engine, lets
 * the backend report what happened since (sync), scans pages_to_scan frames,
 * and lets the backend finish what the scan batched (scan_end).
 *
 * The handle every backend and engine call takes for a VM is its struct vm *.
 * Lifetime: attach, dedup__add_vm before the VM's vCPUs start; after they
 * stopped: sync, dedup__remove_vm, detach, then the VM's memory goes.
 */
#ifndef L1VMM_DEDUP_HOST_H
#define L1VMM_DEDUP_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "dedup/dedup.h"

struct vm;
struct machine;

struct dedup_host_backend {
	const char *name;           /* "ept", "shadow" */
	struct dedup_backend ops;   /* the engine's callbacks (ops.ctx = ctx) */
	void *ctx;
	/*
	 * Report to e what the guests did since the last call:
	 * dedup__populate() for the first write to an UNPOPULATED frame,
	 * dedup__cow_break() for a write that unshared a SHARED or ZERO frame
	 * (the writer already has its own page with the old bytes plus the
	 * write). Called with no engine lock and no backend lock held, by the
	 * scanner before every scan and by every reader of statistics, so
	 * counters are exact when read.
	 */
	void (*sync)(void *ctx, struct dedup *e);
	/* After each dedup__scan() (engine lock not held): apply what the scan
	 * batched (shadow: flush and release a machine hold). May be NULL. */
	void (*scan_end)(void *ctx);
	/* Host mappings in use for sharing now (ept: VMAs over guest RAM), or 0. */
	uint64_t (*host_mappings)(void *ctx);
	/* Per-VM state, before dedup__add_vm / after dedup__remove_vm. 0 or -errno. */
	int (*attach)(void *ctx, struct vm *vm);
	void (*detach)(void *ctx, struct vm *vm);
	void (*destroy)(void *ctx);
};

/* The shadow backend over machine m (all shadow VMs). 0, or -1 with a reason. */
int dedup_shadow__create(struct machine *m, struct dedup_host_backend *out, char *err,
			 size_t errlen);

/* The ept backend (all ept VMs of the process). 0, or -1 with a reason. */
int dedup_ept__create(struct dedup_host_backend *out, char *err, size_t errlen);

#endif
