/* SPDX-License-Identifier: MIT */
/*
 * DOC: a vCPU's pseudo-page-fault tokens (pvops/l1vmm_abi.h, L1_HC_APF).
 *
 * One table per vCPU, L1_APF_TOKENS slots. A slot is
 *   FREE     no token;
 *   WAITING  a token the guest was given ("page not present") for gfn,
 *            whose fetch has not finished;
 *   DONE     its fetch finished; its "page ready" is not delivered yet.
 * apf__issue() takes a FREE slot (-ENOSPC when none: the caller fetches
 * synchronously, so a guest that never takes its ready tokens costs no more
 * than this table); a gfn already WAITING gets a token of its own but no
 * second fetch (*fetch false). apf__complete() makes every WAITING slot of
 * gfn DONE, if the fetch was started in the table's current epoch:
 * apf__reset() (the guest disabled or re-enabled) frees every slot and
 * bumps the epoch, so a fetch that finishes later is stale and ignored.
 * apf__take_ready() frees one DONE slot and hands out its token: each token
 * is delivered once. Tokens are (sequence << 6 | slot), never 0 nor
 * L1_APF_WAKE_ALL, and a slot's next token differs from its last.
 *
 * A fetch that failed (the store, its swap file) marks its gfn failing
 * (apf__fail, the last APF_FAILING_MARKS such gfns): apf__issue() refuses a token
 * for it (-EIO), so the guest's retry waits for the fetch on the vCPU, whose
 * bound on a failing fetch ends the VM with a clear error, instead of going
 * round "not present", a failed fetch, "ready" for ever. apf__fetched()
 * clears the mark once a fetch of the gfn succeeded. apf__reset() keeps the
 * marks: they describe the store, not the guest's tokens.
 *
 * Pure data, no locks: the caller (l1vmm/shadow_apf.c) serialises.
 */
#ifndef L1VMM_RECLAIM_APF_H
#define L1VMM_RECLAIM_APF_H

#include <stdbool.h>
#include <stdint.h>

#include "pvops/l1vmm_abi.h"

#define APF_TOKENS L1_APF_TOKENS
#define APF_FAILING_MARKS 8

enum apf_slot_state { APF_FREE = 0, APF_WAITING, APF_DONE };

struct apf_table {
	uint64_t gfn[APF_TOKENS];       /* WAITING, DONE: the frame fetched */
	uint32_t token[APF_TOKENS];     /* WAITING, DONE: the guest's token */
	uint8_t state[APF_TOKENS];      /* enum apf_slot_state */
	uint32_t seq;                   /* the next token's sequence */
	uint32_t epoch;                 /* bumped by apf__reset() */
	unsigned outstanding;           /* slots not FREE */
	unsigned done;                  /* slots DONE */
	uint64_t failing[APF_FAILING_MARKS];  /* [0, nfailing): gfns whose last fetch failed */
	unsigned nfailing, next_failing; /* next_failing: the mark replaced when full */
};

void apf__init(struct apf_table *t);
/* A token for a fault on gfn into *token; *fetch: the caller must start
 * the fetch (no other token waits on gfn). 0, -ENOSPC (table full) or -EIO
 * (gfn is failing: no token). */
int apf__issue(struct apf_table *t, uint64_t gfn, uint32_t *token, bool *fetch);
/* The fetch of gfn started in epoch finished: the tokens waiting on it
 * are DONE. How many (0: stale, or nobody waited). */
unsigned apf__complete(struct apf_table *t, uint64_t gfn, uint32_t epoch);
/* A DONE token into *token, its slot freed: true; false if none. */
bool apf__take_ready(struct apf_table *t, uint32_t *token);
/* Forget every token (their fetches become stale). */
void apf__reset(struct apf_table *t);
/* The fetch of gfn failed: mark it failing. */
void apf__fail(struct apf_table *t, uint64_t gfn);
/* A fetch of gfn succeeded: no longer failing. */
void apf__fetched(struct apf_table *t, uint64_t gfn);

#endif
