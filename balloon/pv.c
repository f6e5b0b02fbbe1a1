/* SPDX-License-Identifier: MIT */
/* The PV balloon device, host side (pv.h). */
#include "balloon/pv.h"

#include <errno.h>

#define STATS_READ_TRIES 16

static void store_u64(uint64_t *p, uint64_t v)
{
	/* pairs with the guest's acquire load of the field */
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

void balloon_pv__publish(struct balloon *b, struct l1_balloon_info *bi)
{
	struct balloon_snapshot s;
	balloon__snapshot(b, &s);
	store_u64(&bi->target_frames, s.target_frames);
	store_u64(&bi->actual_frames, s.actual_frames);
}

bool balloon_pv__ready(const struct l1_balloon_info *bi)
{
	return __atomic_load_n(&bi->flags, __ATOMIC_ACQUIRE) & L1_BALLOON_G_READY;
}

void balloon_pv__pull_stats(struct balloon *b, const struct l1_balloon_info *bi)
{
	if (!balloon_pv__ready(bi))
		return;
	uint64_t val[L1_BSTAT_NR];
	for (unsigned t = 0; t < STATS_READ_TRIES; t++) {
		/* a seqcount read: pairs with the guest's release stores of stats_seq */
		uint32_t seq = __atomic_load_n(&bi->stats_seq, __ATOMIC_ACQUIRE);
		if (seq & 1)
			continue;
		for (unsigned i = 0; i < L1_BSTAT_NR; i++)
			val[i] = __atomic_load_n(&bi->stats[i], __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&bi->stats_seq, __ATOMIC_RELAXED) == seq) {
			balloon__set_guest_stats(b, val, (1u << (L1_BSTAT_OOM_DEFLATE + 1)) - 1);
			return;
		}
	}
}

int64_t balloon_pv__hypercall(struct balloon *b, struct l1_balloon_info *bi,
			      const struct pv_mem *mem, uint64_t op, uint64_t list, uint64_t count,
			      uint64_t order)
{
	static _Thread_local uint64_t gfns[L1_BALLOON_MAX_EXTENTS];
	if ((op != L1_BALLOON_INFLATE && op != L1_BALLOON_DEFLATE) || order > L1_BALLOON_MAX_ORDER) {
		balloon__refuse_request(b, "L1_HC_BALLOON with an unknown op or an order above 9");
		return -L1_EINVAL;
	}
	int64_t n = pv__fetch_balloon_gfns(mem, list, count, gfns);
	if (n < 0) {
		balloon__refuse_request(b, n == -L1_E2BIG ? "L1_HC_BALLOON: more than 512 extents"
							  : "L1_HC_BALLOON: the gfn list is not readable");
		return n;
	}
	long rc = op == L1_BALLOON_INFLATE ? balloon__inflate(b, gfns, (size_t)n, (unsigned)order)
					   : balloon__deflate(b, gfns, (size_t)n, (unsigned)order);
	balloon_pv__publish(b, bi);
	if (rc >= 0)
		return rc;
	return rc == -EPERM ? -L1_EPERM : -L1_EINVAL;
}
