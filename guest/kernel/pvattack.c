// SPDX-License-Identifier: MIT
/*
 * DOC: SYS_PVTEST L1G_PVT_ATTACK: one round of a hostile page-table pattern
 * (workload=attack, include/uapi.h), made by the kernel, which alone may
 * make the hypercalls. Each round is bounded here; what it costs l1vmm, and
 * the guests beside this one, is what the workload is for.
 *
 *  - alias: a page table whose 512 entries all map one frame, linked from
 *    every entry of a PD, itself linked at PML4 slot ATTACK_SLOT; a read in
 *    each of `regions` 2 MiB regions (prefetch fills the other 511 leaves),
 *    then FLUSH(ALL): up to 512 * regions shadow leaves of one frame dropped
 *    at once.
 *  - flushstorm: `regions` FLUSH(ALL) hypercalls in a row.
 *  - validate: NEW_BASEPTR of a tree of VALIDATE_PDS page directories full
 *    of writable 2 MiB leaves, the last of which covers one of the tree's
 *    own tables: refused (-L1_EPERM), after every other leaf was checked.
 *  - quota: like alias over QUOTA_PDPT_ENTRIES GiB, but the page table maps
 *    64 distinct frames; every region touched wants a shadow table of its
 *    own; the slot is unlinked and linked again between rounds.
 * The round returns l1vmm's refusals as they are for validate (it must be
 * refused) and 0 or the failing hypercall's answer for the others.
 */
#include <stdbool.h>

#include "arch/x86/hypercall.h"
#include "arch/x86/x86.h"
#include "include/uapi.h"
#include "kernel/mm.h"
#include "kernel/pvops.h"
#include "kernel/trap.h"
#include "lib/string.h"

#define ATTACK_SLOT 200u /* PML4 slot of the aliased window: va 200 << 39 */
#define ATTACK_VA ((uint64_t)ATTACK_SLOT << 39)
#define QUOTA_PDPT_ENTRIES 4u
#define VALIDATE_PDS 256u
#define TABLE (PTE_P | PTE_RW | PTE_US | PTE_A)
#define LEAF (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D)

static uint64_t *pt_alias, *pt_spread, *pd_alias, *pd_spread, *pdpt;
static uint64_t frame_x, spread_frames;
static uint64_t *v_pml4, *v_pdpt;
static bool linked;

static uint64_t *zeroed_frame(void)
{
	uint64_t *p = mm__alloc_frames(0, false);

	if (p)
		memset(p, 0, PAGE_SIZE);
	return p;
}

static int64_t mmu_set(uint64_t *ptep, uint64_t val)
{
	struct l1_mmu_update u = { .ptr = (uint64_t)ptep, .val = val };

	pv_ops.mmu.commit();
	return hypercall2(L1_HC_MMU_UPDATE, (uint64_t)&u, 1);
}

/* The tables, made once while none is a page table (plain stores). */
static int64_t prepare(void)
{
	if (pdpt)
		return 0;
	pt_alias = zeroed_frame();
	pt_spread = zeroed_frame();
	pd_alias = zeroed_frame();
	pd_spread = zeroed_frame();
	pdpt = zeroed_frame();
	frame_x = (uint64_t)zeroed_frame();
	spread_frames = (uint64_t)mm__alloc_frames(6, false);
	if (!pt_alias || !pt_spread || !pd_alias || !pd_spread || !pdpt || !frame_x ||
	    !spread_frames)
		return -L1G_ENOMEM;
	*(uint64_t *)frame_x = 0xa11a5a11a5a11a5ull;
	*(uint64_t *)spread_frames = 0x5b7ead5b7ead5b7eull;
	for (unsigned int i = 0; i < 512; i++) {
		pt_alias[i] = frame_x | LEAF;
		pt_spread[i] = (spread_frames + (i % 64) * PAGE_SIZE) | LEAF;
		pd_alias[i] = (uint64_t)pt_alias | TABLE;
		pd_spread[i] = (uint64_t)pt_spread | TABLE;
		if (i < 64)
			((uint64_t *)spread_frames)[i * 512] = *(uint64_t *)spread_frames;
	}
	return 0;
}

/* Link pd from the first n PDPT entries at ATTACK_SLOT (nothing else there). */
static int64_t link(uint64_t *pd, unsigned int n)
{
	int64_t rc;

	if (linked && (rc = mmu_set(&paging_pv.pml4[ATTACK_SLOT], 0)) < 0)
		return rc;
	linked = false;
	hypercall1(L1_HC_FLUSH, L1_FLUSH_ALL);
	/* pdpt is not a table while unlinked (l1vmm untyped it): plain stores */
	for (unsigned int k = 0; k < 512; k++)
		pdpt[k] = k < n ? (uint64_t)pd | TABLE : 0;
	rc = mmu_set(&paging_pv.pml4[ATTACK_SLOT], (uint64_t)pdpt | TABLE);
	linked = rc >= 0;
	return rc < 0 ? rc : 0;
}

/* Read each region's first word through the window: what its frame holds,
 * or -L1G_EFAULT (the bytes read through a shadow are not the frame's). */
static int64_t touch(unsigned int regions, bool spread)
{
	for (unsigned int j = 0; j < regions; j++) {
		uint64_t want = spread ? *(volatile uint64_t *)spread_frames
				       : *(volatile uint64_t *)frame_x;

		if (*(volatile uint64_t *)(ATTACK_VA + ((uint64_t)j << 21)) != want)
			return -L1G_EFAULT;
	}
	return 0;
}

static int64_t alias(unsigned int regions)
{
	int64_t rc;

	if (regions > 512)
		return -L1G_EINVAL;
	if (!linked && (rc = link(pd_alias, 1)) < 0)
		return rc;
	if ((rc = touch(regions, false)) < 0)
		return rc;
	return hypercall1(L1_HC_FLUSH, L1_FLUSH_ALL);
}

static int64_t quota(unsigned int regions)
{
	int64_t rc = link(pd_spread, QUOTA_PDPT_ENTRIES);

	if (rc < 0)
		return rc;
	return touch(regions < 512 * QUOTA_PDPT_ENTRIES ? regions : 512 * QUOTA_PDPT_ENTRIES, true);
}

/* The tree NEW_BASEPTR is refused for, built once (plain stores: never linked). */
static int64_t validate(uint64_t data_2m)
{
	if (!data_2m || data_2m & ((2ull << 20) - 1))
		return -L1G_EINVAL;
	if (!v_pml4) {
		uint64_t *pds[VALIDATE_PDS / 64];

		v_pml4 = zeroed_frame();
		v_pdpt = zeroed_frame();
		for (unsigned int b = 0; b < VALIDATE_PDS / 64; b++)
			pds[b] = mm__alloc_frames(6, false);
		if (!v_pml4 || !v_pdpt)
			return -L1G_ENOMEM;
		for (unsigned int k = 0; k < VALIDATE_PDS; k++) {
			uint64_t *pd = pds[k / 64];

			if (!pd)
				return -L1G_ENOMEM;
			pd += (k % 64) * 512;
			for (unsigned int i = 0; i < 512; i++)
				pd[i] = data_2m | LEAF | PTE_PS;
			v_pdpt[k] = (uint64_t)pd | TABLE;
		}
		/* the last leaf maps the region holding the last PD itself, writable */
		uint64_t *last = (uint64_t *)(v_pdpt[VALIDATE_PDS - 1] & ~0xfffull);
		last[511] = ((uint64_t)last & ~((2ull << 20) - 1)) | LEAF | PTE_PS;
		v_pml4[0] = (uint64_t)v_pdpt | TABLE;
	}
	pv_ops.mmu.commit();
	return hypercall1(L1_HC_NEW_BASEPTR, (uint64_t)v_pml4);
}

int64_t pvattack__round(uint64_t arg)
{
	unsigned int kind = arg & 0xf, regions = (arg >> 4) & 0xfff;
	int64_t rc = prepare();

	if (rc < 0)
		return rc;
	switch (kind) {
	case L1G_ATTACK_ALIAS:
		return alias(regions);
	case L1G_ATTACK_FLUSHSTORM:
		for (unsigned int i = 0; i < regions; i++)
			hypercall1(L1_HC_FLUSH, L1_FLUSH_ALL);
		return 0;
	case L1G_ATTACK_VALIDATE:
		return validate(arg & ~((2ull << 20) - 1));
	case L1G_ATTACK_QUOTA:
		return quota(regions);
	default:
		return -L1G_EINVAL;
	}
}
