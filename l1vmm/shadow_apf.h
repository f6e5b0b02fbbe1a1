/* SPDX-License-Identifier: MIT */
/*
 * DOC: pseudo page faults for shadow-mode guests (pvops/l1vmm_abi.h, ABI 5).
 *
 * A vCPU that enabled them (L1_HC_APF) and faults from a task on a frame in
 * host reclaim's store is not stalled: shadow_apf__not_present() gives it a
 * token (reclaim/apf.h) and queues the fetch for the VM's worker thread, and
 * the vCPU bounces a "not present" #PF to the guest. When the fetch is done,
 * the worker writes the token into the vCPU's shared-info apf_ready if that
 * is free (0) and raises L1_EVT_APF_READY, and wakes a vCPU asleep in
 * L1_HC_BLOCK; otherwise the vCPU itself delivers it before an entry
 * (shadow_apf__deliver), once the guest has taken the previous one.
 *
 * Bounds: APF_TOKENS tokens per vCPU and a queue of as many jobs; a fault
 * that finds either full, or a fault in the guest kernel, is fetched on the
 * vCPU as before (counted in fallbacks). A guest that never takes its ready
 * tokens so holds at most APF_TOKENS of them per vCPU, and then waits on
 * the vCPU for every fetch. A frame whose fetch failed on the worker gets
 * no token until a fetch of it succeeds (apf__fail): its faults wait on the
 * vCPU, which retries a failing fetch for at most 10 s and then ends the VM
 * with an error, rather than "not present", "ready", "not present" for ever.
 *
 * Disable and re-enable (L1_HC_APF) forget the vCPU's tokens (apf__reset);
 * their fetches still run (stale). If any was outstanding, the vCPU gets
 * L1_APF_WAKE_ALL: no "ready" comes for them any more, so every task the
 * guest parked retries its access (and finds its page, or waits for it). One worker per VM, started with
 * the VM (the sandbox forbids new threads later; it sleeps until a guest
 * enables), stopped by the VM's vCPU 0 on its way out (before anything the
 * worker uses goes away).
 *
 * Locking: apf->lock protects the tables, the queue and the worker's state;
 * taken alone (never with sv->lock or g->lock held), and the worker holds
 * nothing across a fetch.
 */
#ifndef L1VMM_SHADOW_APF_H
#define L1VMM_SHADOW_APF_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "reclaim/apf.h"

struct shadow_vm;

struct shadow_apf_stats {
	uint64_t not_present;  /* "page not present" tokens given */
	uint64_t ready;        /* "page ready" tokens delivered */
	uint64_t fallbacks;    /* faults fetched on the vCPU: tables or queue full */
	uint64_t stale;        /* fetches that finished after the guest reset its tokens */
	uint64_t fetch_errors; /* worker fetches that failed (the guest's retry waits on the vCPU) */
	uint64_t failing;      /* of fallbacks: a frame whose fetch failed, no token for it */
	uint64_t enables;      /* L1_HC_APF enables taken */
	uint64_t wake_alls;    /* L1_APF_WAKE_ALL given: disabled or re-enabled with tokens out */
};

struct apf_job {
	uint64_t gfn;
	uint32_t vcpu, epoch;
};

struct shadow_apf {
	pthread_mutex_t lock;
	pthread_cond_t cv;            /* jobs queued, or stop */
	pthread_t worker;
	bool have_worker, stop;
	unsigned nr_vcpus;
	bool *enabled;                /* [nr_vcpus] */
	struct apf_table *table;      /* [nr_vcpus] */
	struct apf_job *queue;        /* ring of cap = nr_vcpus * APF_TOKENS */
	unsigned head, count, cap;
	unsigned done;                /* atomic: DONE tokens of all vCPUs (a lock-free peek) */
	struct shadow_apf_stats stats;
};

/* sv->apf for nr_vcpus, and its worker. 0, or -ENOMEM. */
int shadow_apf__init(struct shadow_vm *sv, unsigned nr_vcpus);
/* Stop and join the worker (idempotent). */
void shadow_apf__stop(struct shadow_apf *a);
void shadow_apf__destroy(struct shadow_apf *a);

/* L1_HC_APF from vCPU index: 0 or -L1_E*. */
int64_t shadow_apf__hypercall(struct shadow_vm *sv, unsigned index, uint64_t op, uint64_t flags);
/* Pseudo page faults on for vCPU index. */
bool shadow_apf__enabled(struct shadow_apf *a, unsigned index);
/* A task's fault on evicted gfn: true with *token (bounce "not present"),
 * false: fetch on the vCPU (counted fallback). */
bool shadow_apf__not_present(struct shadow_vm *sv, unsigned index, uint64_t gfn,
			     uint32_t *token);
/* A fallback's fetch of gfn on vCPU index succeeded: tokens for it again. */
void shadow_apf__fetched(struct shadow_vm *sv, unsigned index, uint64_t gfn);
/* Before an entry: a finished token into the guest's free apf_ready slot. */
void shadow_apf__deliver(struct shadow_vm *sv, unsigned index);
/* The counters and the tokens outstanding now (all vCPUs). */
void shadow_apf__stats(struct shadow_apf *a, struct shadow_apf_stats *s, uint64_t *outstanding);

#endif
