// SPDX-License-Identifier: MIT
/*
 * DOC: a vCPU's pseudo-page-fault tokens (states and rules in apf.h).
 *
 * Linear scans of 64 slots: a fault or a ready costs far less than the
 * fetch it stands for (tens of microseconds).
 */
#include "reclaim/apf.h"

#include <errno.h>
#include <string.h>

#define SLOT_BITS 6u
_Static_assert(APF_TOKENS == 1u << SLOT_BITS, "a token's slot field covers the table");
#define SEQ_MAX ((1u << (32 - SLOT_BITS)) - 1)

void apf__init(struct apf_table *t)
{
	memset(t, 0, sizeof(*t));
	t->seq = 1;
}

static uint32_t next_token(struct apf_table *t, unsigned slot)
{
	uint32_t tok = t->seq << SLOT_BITS | slot;
	/* seq runs 1..SEQ_MAX: never 0; the last seq with slot 63 would be
	 * L1_APF_WAKE_ALL, so the sequence wraps one early */
	t->seq = t->seq >= SEQ_MAX - 1 ? 1 : t->seq + 1;
	return tok;
}

static int failing_index(const struct apf_table *t, uint64_t gfn)
{
	for (unsigned i = 0; i < t->nfailing; i++)
		if (t->failing[i] == gfn)
			return (int)i;
	return -1;
}

int apf__issue(struct apf_table *t, uint64_t gfn, uint32_t *token, bool *fetch)
{
	if (t->nfailing && failing_index(t, gfn) >= 0)
		return -EIO;
	unsigned free_slot = APF_TOKENS;
	*fetch = true;
	for (unsigned i = 0; i < APF_TOKENS; i++) {
		if (t->state[i] == APF_FREE && free_slot == APF_TOKENS)
			free_slot = i;
		else if (t->state[i] == APF_WAITING && t->gfn[i] == gfn)
			*fetch = false;
	}
	if (free_slot == APF_TOKENS)
		return -ENOSPC;
	t->state[free_slot] = APF_WAITING;
	t->gfn[free_slot] = gfn;
	t->token[free_slot] = next_token(t, free_slot);
	t->outstanding++;
	*token = t->token[free_slot];
	return 0;
}

unsigned apf__complete(struct apf_table *t, uint64_t gfn, uint32_t epoch)
{
	if (epoch != t->epoch)
		return 0;
	unsigned n = 0;
	for (unsigned i = 0; i < APF_TOKENS; i++) {
		if (t->state[i] == APF_WAITING && t->gfn[i] == gfn) {
			t->state[i] = APF_DONE;
			n++;
		}
	}
	t->done += n;
	return n;
}

bool apf__take_ready(struct apf_table *t, uint32_t *token)
{
	if (!t->done)
		return false;
	for (unsigned i = 0; i < APF_TOKENS; i++) {
		if (t->state[i] == APF_DONE) {
			t->state[i] = APF_FREE;
			t->done--;
			t->outstanding--;
			*token = t->token[i];
			return true;
		}
	}
	return false; /* not reached: done counts DONE slots */
}

void apf__reset(struct apf_table *t)
{
	struct apf_table keep = *t;
	apf__init(t);
	t->seq = keep.seq;
	t->epoch = keep.epoch + 1;
	memcpy(t->failing, keep.failing, sizeof(t->failing));
	t->nfailing = keep.nfailing;
	t->next_failing = keep.next_failing;
}

void apf__fail(struct apf_table *t, uint64_t gfn)
{
	if (failing_index(t, gfn) >= 0)
		return;
	if (t->nfailing < APF_FAILING_MARKS) {
		t->failing[t->nfailing++] = gfn;
		return;
	}
	/* full: a mark goes, round robin (its gfn costs one more failed fetch) */
	t->failing[t->next_failing] = gfn;
	t->next_failing = (t->next_failing + 1) % APF_FAILING_MARKS;
}

void apf__fetched(struct apf_table *t, uint64_t gfn)
{
	int i = t->nfailing ? failing_index(t, gfn) : -1;
	if (i < 0)
		return;
	t->failing[i] = t->failing[--t->nfailing];
	t->next_failing = 0;
}
