/* SPDX-License-Identifier: MIT */
/*
 * DOC: page sharing on the host: the engines, their backends, the scanner.
 *
 * The engine (dedup/) decides what to share; a backend applies it to host
 * memory. l1vmm runs one engine per backend in use:
 *   ept     ept-mode guests (mmu/ept/share.h, wired in l1vmm/dedup_ept.c):
 *           stored copies live in a
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

#include <stdbool.h>
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
	 * Record in the VMs' p2ms what the guests wrote since the last call
	 * (p2m__record_written(): a first write to an UNPOPULATED frame, a
	 * write that unshared a SHARED or ZERO frame, whose writer already has
	 * its own page with the old bytes plus the write); the p2m tells the
	 * engine e as its client. Called with no engine lock and no backend
	 * lock held, by the scanner before every scan and by every reader of
	 * statistics, so counters are exact when read. e: for where it scans
	 * next (ept tracks writes just ahead of it).
	 */
	void (*sync)(void *ctx, struct dedup *e);
	/* Optional: the scanner's sync before each batch (struct dedup_scan_job). */
	void (*sync_periodic)(void *ctx, struct dedup *e);
	/* After each dedup__scan() (engine lock not held): apply what the scan
	 * batched (shadow: flush and release a machine hold). May be NULL. */
	void (*scan_end)(void *ctx);
	/* Host mappings in use for sharing now (ept: VMAs over guest RAM), or 0. */
	uint64_t (*host_mappings)(void *ctx);
	/* Optional: mapping calls made so far (ept: one per run of frames replaced). */
	uint64_t (*map_calls)(void *ctx);
	/* Optional: batches applied with the vCPUs held, and holds missed (ept). */
	void (*vcpu_holds)(void *ctx, uint64_t out[2]);
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

/*
 * A KVM_RUN of ept VM vm failed with EFAULT, or ended in an emulation
 * failure (KVM's emulator cannot make a locked write to a write-protected
 * frame): if page sharing is on for vm, wait until no frame is
 * write-protected and return true (run again); false when the fault cannot
 * be ours. *retries counts them in a row (the caller resets it after a good
 * KVM_RUN or another exit); past a bound the fault is taken as genuine.
 */
bool dedup_ept__fault(struct vm *vm, unsigned *retries, unsigned max_retries);
/* Bounds for dedup_ept__fault(): a frame stays write-protected for microseconds. */
#define DEDUP_EFAULT_RETRIES 100000
#define DEDUP_EMULATION_RETRIES 1000
#define DEDUP_SHUTDOWN_RETRIES 3
/*
 * A KVM_EXIT_SHUTDOWN of ept VM vm right after page sharing write-protected
 * frames: KVM could not push an interrupt or exception frame onto a kernel
 * stack page that was protected; the vCPU is still at the interrupted
 * instruction. Wait for the share and return true (run again), at most
 * DEDUP_SHUTDOWN_RETRIES times in a row; false otherwise (a real triple fault).
 */
bool dedup_ept__protect_fault(struct vm *vm, unsigned *retries);

/*
 * An MMIO exit of ept VM vm at a RAM address: KVM's instruction emulator
 * could not write a frame page sharing had write-protected. Wait for the
 * share, make the access on guest RAM, count a write as the guest's. False
 * when the address is not RAM or page sharing is not on for vm.
 */
struct vm_exit;
bool dedup_ept__ram_mmio(struct vm *vm, const struct vm_exit *e);

/*
 * l1vmm writes guest RAM [gpa, gpa + len) of ept VM vm from now on, outside
 * any vCPU (a virtio device's used ring). The ept backend can neither see
 * such writes in the dirty log nor let them meet a write-protected frame, so
 * those frames are kept out of sharing: one shared now gets a private page
 * with its bytes, and none is shared again. Remembered for a VM not handed
 * to the engine yet. 0, or -ENOSPC (too many ranges; the caller must not
 * write there).
 */
int dedup_ept__host_writes(struct vm *vm, uint64_t gpa, uint64_t len);

/* ---- the host's side (dedup_host.c) ---- */

struct dedup_host;
struct ctl_tree;

/* Knobs at their defaults, no engine, no scanner. NULL when out of memory. */
struct dedup_host *dedup_host__create(void);
/* Stop the scanner, put KSM's knobs back, free the engines. Remove VMs first. */
void dedup_host__destroy(struct dedup_host *h);
/* dedup/ in t (knobs, statistics, check). ctl__register()'s result. */
int dedup_host__register(struct dedup_host *h, struct ctl_tree *t);
/*
 * Share vm's memory from now on (before its vCPUs start): with the engine of
 * its mode (created with its backend on first use; machine: the shadow
 * machine), in domain ("" or NULL: its own), or with KSM. 0, or -1 with a
 * one-line reason.
 */
int dedup_host__add_vm(struct dedup_host *h, struct vm *vm, struct machine *machine,
		       const char *domain, char *err, size_t errlen);
/* Start the scanner (and KSM with backend ksm). 0, or -1 with a reason. */
int dedup_host__start(struct dedup_host *h, char *err, size_t errlen);
/* Stop the scanner and put KSM's knobs back (before the VMs are removed). */
void dedup_host__stop(struct dedup_host *h);
/* The forced exit's: put KSM's knobs back if l1vmm drives KSM, without
 * taking h's lock (a stuck thread may hold it). */
void dedup_host__restore_host(struct dedup_host *h);
/* dedup/backend is ksm: l1vmm writes /sys/kernel/mm/ksm/ while it runs and at the end. */
bool dedup_host__uses_ksm(struct dedup_host *h);
/* After vm's vCPUs stopped, before its memory goes. */
void dedup_host__remove_vm(struct dedup_host *h, struct vm *vm);
/* Let every backend report what happened (counters exact after this). */
void dedup_host__sync(struct dedup_host *h);

enum dedup_vm_field { DEDUP_VM_BACKEND, DEDUP_VM_SHARED, DEDUP_VM_PRIVATE, DEDUP_VM_ZERO,
		      DEDUP_VM_VOLATILE, DEDUP_VM_META };
/* vms/NAME/dedup/<f> of vm (which may be NULL: not running). 0. */
int dedup_host__vm_show(struct vm *vm, enum dedup_vm_field f, char *buf, size_t len);

#endif
