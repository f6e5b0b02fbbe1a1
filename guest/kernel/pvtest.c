// SPDX-License-Identifier: MIT
/*
 * DOC: SYS_PVTEST: kernel-side steps of the shadow-mode selftest checks and
 * of workload=hostile (include/uapi.h has the list).
 *
 * Only what needs the kernel's view of the PV interface lives here; the
 * checks themselves (what to expect, the report lines, the tasks that must
 * die) are at CPL3 in user/selftest_pv.c and user/hostile.c.
 *
 * Hostile cases make one bad hypercall each and return l1vmm's answer
 * unchanged (< 0 = refused). The mapping cases aim at the PTE of va 0,
 * which the kernel leaves unmapped, so an accepted one harms nothing that
 * L1G_PVT_RESTORE does not undo; the trap-table cases register the real
 * table again afterwards, whatever l1vmm did.
 */
#include <stdbool.h>

#include "arch/x86/hypercall.h"
#include "arch/x86/x86.h"
#include "include/uapi.h"
#include "kernel/mm.h"
#include "kernel/pvops.h"
#include "kernel/sched.h"
#include "kernel/trap.h"
#include "lib/cpu.h"
#include "lib/string.h"

#define PV_TABLE (PTE_P | PTE_RW | PTE_US)
#define MAP_PAGES 4

static uint64_t map_frames;

/*
 * Failure codes: -1 events not masked in the kernel, -2 no pending bit
 * within 100 ms of a 1 ms timer, -3 an upcall ran while masked, -4 no
 * upcall after unmask, -5 the timer bit still pending after it.
 */
static int64_t pvt_masking(void)
{
	struct l1_vcpu_info *v = pv__vcpu();
	uint32_t i = sched__current()->cpu->index;
	uint64_t up0 = pvops__pv_stats.upcalls[i], t0;

	if (!__atomic_load_n(&v->masked, __ATOMIC_RELAXED))
		return -1;
	hypercall1(L1_HC_SET_TIMER, pv__clock_ns() + 1000000);
	t0 = pv__clock_ns();
	while (!(__atomic_load_n(&v->pending, __ATOMIC_ACQUIRE) & L1_EVT_TIMER) &&
	       pv__clock_ns() - t0 < 100000000ull)
		cpu_relax();
	if (!(__atomic_load_n(&v->pending, __ATOMIC_ACQUIRE) & L1_EVT_TIMER))
		return -2;
	if (pvops__pv_stats.upcalls[i] != up0)
		return -3;
	pv_ops.cpu.irq_enable(); /* the upcall runs here, on top of this call */
	pv_ops.cpu.irq_disable();
	if (pvops__pv_stats.upcalls[i] == up0)
		return -4;
	if (__atomic_load_n(&v->pending, __ATOMIC_ACQUIRE) & L1_EVT_TIMER)
		return -5;
	return 0;
}

/*
 * Failure codes: -1 no frames, -2 the batch was not one hypercall of
 * MAP_PAGES + 2 entries, -3 the pattern written at PV_SPARE_VA is not in
 * the frames, -4 already mapped.
 */
static int64_t pvt_mmu_map(void)
{
	uint64_t calls, entries, fr;

	if (map_frames)
		return -4;
	fr = (uint64_t)mm__alloc_frames(2, false);
	if (!fr)
		return -1;
	pv_ops.mmu.commit();
	calls = pvops__pv_stats.mmu_calls;
	entries = pvops__pv_stats.mmu_entries;
	pv_ops.mmu.set_pte(&paging_pv.pdpt[PV_SPARE_VA >> 30], (uint64_t)paging_pv.spare_pd | PV_TABLE);
	pv_ops.mmu.set_pte(&paging_pv.spare_pd[0], (uint64_t)paging_pv.spare_pt | PV_TABLE);
	pv_ops.mmu.set_pte_range(paging_pv.spare_pt, fr | PV_TABLE, PAGE_SIZE, MAP_PAGES);
	pv_ops.mmu.commit();
	map_frames = fr;
	if (pvops__pv_stats.mmu_calls - calls != 1 ||
	    pvops__pv_stats.mmu_entries - entries != MAP_PAGES + 2)
		return -2;
	for (uint64_t p = 0; p < MAP_PAGES; p++)
		for (uint64_t w = 0; w < 512; w += 64)
			((volatile uint64_t *)(PV_SPARE_VA + p * PAGE_SIZE))[w] = L1G_PVT_PATTERN(p, w);
	for (uint64_t p = 0; p < MAP_PAGES; p++)
		for (uint64_t w = 0; w < 512; w += 64)
			if (((volatile uint64_t *)(fr + p * PAGE_SIZE))[w] != L1G_PVT_PATTERN(p, w))
				return -3;
	return (int64_t)PV_SPARE_VA;
}

/* Failure codes: -1 nothing mapped, -2 the unmap was not one hypercall,
 * -3 the entry is still set afterwards. */
static int64_t pvt_mmu_unmap(void)
{
	uint64_t calls = pvops__pv_stats.mmu_calls;

	if (!map_frames)
		return -1;
	pv_ops.mmu.set_pte_range(paging_pv.spare_pt, 0, 0, MAP_PAGES);
	for (uint64_t p = 0; p < MAP_PAGES; p++)
		pv_ops.mmu.flush_page(PV_SPARE_VA + p * PAGE_SIZE); /* the first one commits */
	mm__free_frames((void *)map_frames, 2);
	map_frames = 0;
	if (__atomic_load_n(&paging_pv.spare_pt[0], __ATOMIC_RELAXED))
		return -3;
	return pvops__pv_stats.mmu_calls - calls == 1 ? 0 : -2;
}

static int64_t console_flood(struct l1_shared_info *s)
{
	uint32_t cons0 = __atomic_load_n(&s->console_cons, __ATOMIC_ACQUIRE), cons1;
	int64_t rc;

	/* What l1vmm may print if it clamps to the ring: blanks, a few newlines. */
	for (unsigned int i = 0; i < L1_CONSOLE_RING; i++)
		s->console_ring[i] = (i % 128 == 127) ? '\n' : ' ';
	__atomic_store_n(&s->console_prod, cons0 + (1u << 30), __ATOMIC_RELEASE);
	rc = hypercall0(L1_HC_CONSOLE);
	cons1 = __atomic_load_n(&s->console_cons, __ATOMIC_ACQUIRE);
	/* Whatever l1vmm took, the ring is empty again from here on. */
	__atomic_store_n(&s->console_prod, cons1, __ATOMIC_RELEASE);
	return rc < 0 ? rc : (int64_t)(uint32_t)(cons1 - cons0);
}

static int64_t mmu_one(uint64_t *ptep, uint64_t val)
{
	struct l1_mmu_update u = { .ptr = (uint64_t)ptep, .val = val };

	pv_ops.mmu.commit();
	return hypercall2(L1_HC_MMU_UPDATE, (uint64_t)&u, 1);
}

#define DP_PAGES 2    /* the bitmap: an order-1 block */
#define DP_SLOT 201u  /* a PML4 slot nothing else links */

static int64_t dp_register(const uint64_t *bm)
{
	return hypercall5(L1_HC_DP, L1_DP_REGISTER, bm ? (uint64_t)bm >> PAGE_SHIFT : 0,
			  bm ? DP_PAGES : 0, 0, 0);
}

/* Frame f (zeroed, read-only in the kernel's map) linked as a table at
 * DP_SLOT, and unlinked if that was taken: 0, or l1vmm's refusal. */
static int64_t link_as_table(uint64_t *f)
{
	memset(f, 0, PAGE_SIZE);
	paging__make_table((uint64_t)f);
	int64_t rc = mmu_one(&paging_pv.pml4[DP_SLOT], (uint64_t)f | PV_TABLE);

	if (rc == 1) /* applied */
		mmu_one(&paging_pv.pml4[DP_SLOT], 0);
	paging__unmake_table((uint64_t)f);
	return rc == 1 ? 0 : rc;
}

/*
 * L1G_PVT_DP_MOVE: the double-paging bitmap moved between two places
 * `rounds` times; l1vmm must pin its frames only while it holds them.
 * Failure codes: -1 a registration refused, -2 a second bitmap accepted,
 * -3 a bitmap frame accepted as a page table while registered, -4 one
 * refused as a table after the bitmap moved away (still pinned), -5 the
 * unregistration refused, -6 no memory.
 */
static int64_t pvt_dp_move(uint64_t rounds)
{
	static uint64_t *place[2];

	if (!rounds || rounds > 100000)
		return -L1G_EINVAL;
	for (unsigned int i = 0; i < 2; i++)
		if (!place[i] && !(place[i] = mm__alloc_frames(1, false)))
			return -6;
	for (uint64_t r = 0; r < rounds; r++) {
		uint64_t *bm = place[r & 1];

		if (dp_register(bm) != 0)
			return -1;
		if (r == 0 && dp_register(place[1]) != -L1_EPERM)
			return -2;
		if (r < 2 && link_as_table(bm) != -L1_EPERM)
			return -3;
		if (dp_register(NULL) != 0)
			return -5;
		if ((r < 2 || r == rounds - 1) && link_as_table(bm) != 0)
			return -4;
	}
	return 0;
}

static int64_t hostile(uint64_t which)
{
	static struct l1_mmu_update many[L1_MMU_UPDATE_MAX + 1];
	struct l1_trap_info one = { .vector = 0, .handler = 0 };
	int64_t rc;

	switch (which) {
	case L1G_HOSTILE_FOREIGN_GFN:
		return mmu_one(&paging_pv.pte[0], (paging_pv.nr_frames + 16) << PAGE_SHIFT | PV_TABLE);
	case L1G_HOSTILE_MACHINE_ADDR:
		return mmu_one(&paging_pv.pte[0], (1ull << 40) | PV_TABLE);
	case L1G_HOSTILE_PT_WRITABLE:
		return mmu_one(&paging_pv.pte[0], (uint64_t)paging_pv.pml4 | PV_TABLE);
	case L1G_HOSTILE_MMU_BAD_PTR:
		return hypercall2(L1_HC_MMU_UPDATE, 0x00007f0000000000ull, 1);
	case L1G_HOSTILE_TRAPS_COUNT:
		rc = hypercall2(L1_HC_SET_TRAP_TABLE, (uint64_t)&one, 100000);
		pvops__pv_set_trap_table();
		return rc;
	case L1G_HOSTILE_TRAPS_PTR:
		rc = hypercall2(L1_HC_SET_TRAP_TABLE, 0xffffffff80000000ull, 1);
		pvops__pv_set_trap_table();
		return rc;
	case L1G_HOSTILE_CONSOLE:
		return pvops__pv_with_ring(console_flood);
	case L1G_HOSTILE_MMU_TOO_MANY:
		for (unsigned int i = 0; i <= L1_MMU_UPDATE_MAX; i++)
			many[i] = (struct l1_mmu_update){ .ptr = (uint64_t)&paging_pv.pte[0], .val = 0 };
		pv_ops.mmu.commit();
		return hypercall2(L1_HC_MMU_UPDATE, (uint64_t)many, L1_MMU_UPDATE_MAX + 1);
	case L1G_HOSTILE_UNKNOWN_HC:
		return hypercall0(L1_HC_NR + 1000);
	default:
		return -L1G_EINVAL;
	}
}

/* Undo whatever an accepted hostile mapping left at va 0. */
static int64_t restore(void)
{
	if (!__atomic_load_n(&paging_pv.pte[0], __ATOMIC_RELAXED))
		return 0;
	pv_ops.mmu.set_pte(&paging_pv.pte[0], 0);
	pv_ops.mmu.flush_page(0);
	return 1;
}

/* The bare hypercall round trip, from the kernel (tasks may not make them). */
static int64_t null_hypercalls(uint64_t n)
{
	if (n == 0 || n > 10000)
		return -L1G_EINVAL;
	uint64_t t0 = cpu__rdtsc();
	for (uint64_t i = 0; i < n; i++)
		hypercall0(L1_HC_VCPU_INFO);
	return (int64_t)(cpu__rdtsc() - t0);
}

int64_t pvtest__run(uint64_t which, uint64_t arg)
{
	if (!pvops__shadow)
		return -L1G_ENOSYS;
	switch (which) {
	case L1G_PVT_MASKING:
		return pvt_masking();
	case L1G_PVT_MMU_MAP:
		return pvt_mmu_map();
	case L1G_PVT_MMU_UNMAP:
		return pvt_mmu_unmap();
	case L1G_PVT_UPCALLS:
		return arg < nr_cpus ? (int64_t)pvops__pv_stats.upcalls[arg] : -L1G_EINVAL;
	case L1G_PVT_HOSTILE:
		return hostile(arg);
	case L1G_PVT_PTE_OF_NULL:
		return (int64_t)&paging_pv.pte[0];
	case L1G_PVT_NR_FRAMES:
		return (int64_t)paging_pv.nr_frames;
	case L1G_PVT_RESTORE:
		return restore();
	case L1G_PVT_NULL_HYPERCALLS:
		return null_hypercalls(arg);
	case L1G_PVT_ATTACK:
		return pvattack__round(arg);
	case L1G_PVT_DP_MOVE:
		return pvt_dp_move(arg);
	default:
		return -L1G_EINVAL;
	}
}
