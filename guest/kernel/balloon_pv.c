// SPDX-License-Identifier: MIT
/*
 * DOC: the PV balloon driver (`balloon=pv`, both modes; pvops/l1vmm_abi.h).
 *
 * The target comes from shared_info.balloon; chunks go to l1vmm as extents
 * of order 9 (one gfn per 2 MiB chunk), up to L1_BALLOON_MAX_EXTENTS per
 * hypercall. In shadow mode the hypercall is the usual store to the
 * hypercall page and the event is L1_EVT_BALLOON; in ept mode the hypercall
 * is a block in kernel memory whose address goes to the hypercall doorbell,
 * and the event is an interrupt at VEC_BALLOON. Statistics are published
 * under a seqcount (stats_seq odd while they change).
 */
#include "arch/x86/x86.h"
#include "kernel/balloon.h"
#include "kernel/pvops.h"

#define CHUNK_GFN_SHIFT (CHUNK_SHIFT - PAGE_SHIFT)

extern const struct l1_start_info *kernel__start_info;

static struct l1_balloon_info *info;
static uint64_t gfns[L1_BALLOON_MAX_EXTENTS];
static struct l1_hypercall_block block; /* ept mode; used under balloon_lock only */

static int64_t call(uint64_t op, uint64_t count)
{
	return pvops__hypercall(&block, L1_HC_BALLOON, op, (uint64_t)gfns, count,
				L1_BALLOON_MAX_ORDER);
}

/* Send chunks in hypercalls of at most L1_BALLOON_MAX_EXTENTS; how many l1vmm took, in order. */
static unsigned int send(uint64_t op, const uint32_t *chunks, unsigned int n)
{
	unsigned int done = 0;

	while (done < n) {
		unsigned int k = n - done < L1_BALLOON_MAX_EXTENTS ? n - done : L1_BALLOON_MAX_EXTENTS;
		int64_t ret;

		for (unsigned int i = 0; i < k; i++)
			gfns[i] = (uint64_t)chunks[done + i] << CHUNK_GFN_SHIFT;
		ret = call(op, k);
		if (ret <= 0)
			break;
		done += ret > k ? k : (unsigned int)ret;
		if ((uint64_t)ret < k)
			break;
	}
	return done;
}

static unsigned int pv_give(const uint32_t *chunks, unsigned int n)
{
	return send(L1_BALLOON_INFLATE, chunks, n);
}

static unsigned int pv_take(const uint32_t *chunks, unsigned int n)
{
	return send(L1_BALLOON_DEFLATE, chunks, n);
}

static uint64_t pv_target(void)
{
	/* pairs with l1vmm's release store of the target */
	return __atomic_load_n(&info->target_frames, __ATOMIC_ACQUIRE);
}

static void pv_stats(const struct balloon_gstats *s)
{
	uint32_t seq = info->stats_seq;

	/* seqcount: odd while writing; the releases pair with l1vmm's acquire loads */
	__atomic_store_n(&info->stats_seq, seq + 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (unsigned int i = 0; i < L1_BSTAT_NR; i++)
		__atomic_store_n(&info->stats[i], s->val[i], __ATOMIC_RELAXED);
	__atomic_store_n(&info->stats_seq, seq + 2, __ATOMIC_RELEASE);
}

static const struct balloon_driver pv_driver = {
	.name = "pv",
	.target = pv_target,
	.give = pv_give,
	.take = pv_take,
	.stats = pv_stats,
	.max_chunks = BALLOON_BATCH_CHUNKS, /* send() splits into hypercalls itself */
	.deflate_on_oom = true,
};

int balloon_pv__init(void)
{
	const struct l1_start_info *si = kernel__start_info;
	struct balloon_gstats s;

	if (!(si->features & L1_FEAT_BALLOON) || !si->shared_info_gpa ||
	    (!pvops__shadow && !(si->features & L1_FEAT_HYPERCALL)))
		return -1;
	info = &((struct l1_shared_info *)(uintptr_t)si->shared_info_gpa)->balloon;
	balloon__collect(&s);
	pv_stats(&s);
	if (!pvops__shadow)
		info->event_vector = VEC_BALLOON;
	__atomic_store_n(&info->flags, L1_BALLOON_G_READY | L1_BALLOON_G_DEFLATE_ON_OOM,
			 __ATOMIC_RELEASE);
	balloon__register(&pv_driver);
	return 0;
}
