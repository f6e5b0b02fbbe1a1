// SPDX-License-Identifier: MIT
/*
 * DOC: the kernel's page tables in shadow mode: a 4 KiB identity map.
 *
 * l1vmm shadows our tables and refuses a tree that maps one of its own
 * table pages writable, so the map is made of 4 KiB pages and the table
 * pages are read-only in it. The kernel runs at CPL3 here, so every page
 * is user-accessible: in shadow mode tasks are not protected from the
 * kernel by the page tables (one address space, no supervisor pages).
 *
 * Layout, built once at boot (at native speed: this is CPL3) in RAM right
 * after start_info.image_end, before the switch (L1_HC_NEW_BASEPTR):
 *   pml4 | pdpt | pd[npd] | pte[frames] | spare_pd | spare_pt
 * The leaf tables are one flat array: pte[gfn] maps va = gfn << 12. gfn 0
 * is left unmapped (null pointers fault). Read-only: our own table pages
 * and the host's boot tables (walked from boot_pml4_gpa), which l1vmm may
 * still count as page tables. The spare tables are for a window at
 * PV_SPARE_VA that nothing maps at boot (selftest's mmu_update batch).
 * Every change after the switch goes through pv_ops.mmu (batched).
 *
 * `pv_tables=boot` on the command line keeps the host's boot tables
 * instead (same shape: a flat run of leaf tables) and changes them only
 * through mmu_update; no L1_HC_NEW_BASEPTR is made. It exists to tell
 * l1vmm's re-rooting apart from everything else when debugging the host.
 */
#include <stddef.h>

#include "arch/x86/x86.h"
#include "kernel/mm.h"
#include "kernel/pvops.h"
#include "kernel/trap.h"
#include "lib/string.h"

struct paging_pv paging_pv;

/* A and D preset: l1vmm maps a page writable in its shadow only once the
 * guest's D bit is set, and nothing here needs the bits' history. */
#define PV_TABLE (PTE_P | PTE_RW | PTE_US | PTE_A)
#define PV_LEAF  (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D)
#define PV_ADDR_MASK 0x000ffffffffff000ull

/* Clear RW in our map for the table pages of the host's boot tree. */
static void boot_tree_ro(uint64_t table_gpa, int level)
{
	const uint64_t *t = (const uint64_t *)table_gpa;
	uint64_t gfn = table_gpa >> PAGE_SHIFT;

	if (gfn >= paging_pv.nr_frames)
		return;
	paging_pv.pte[gfn] &= ~PTE_RW;
	if (level == 1)
		return;
	for (unsigned int i = 0; i < (level == 4 ? 256u : 512u); i++)
		if ((t[i] & PTE_P) && !(t[i] & PTE_PS))
			boot_tree_ro(t[i] & PV_ADDR_MASK, level - 1);
}

static bool cmdline_has(const struct l1_start_info *si, const char *word)
{
	const char *c = (const char *)si->cmdline_gpa;
	size_t n = strlen(word);

	for (uint32_t i = 0; si->cmdline_gpa && i + n <= si->cmdline_len; i++)
		if ((i == 0 || c[i - 1] == ' ') && !strncmp(c + i, word, n) &&
		    (c[i + n] == ' ' || c[i + n] == '\0'))
			return true;
	return false;
}

/* pv_tables=boot: take over the host's boot tree, keep only the spares. */
static uint64_t adopt_boot_tables(const struct l1_start_info *si, uint64_t base,
				  uint64_t frames)
{
	uint64_t *pml4 = (uint64_t *)si->boot_pml4_gpa;
	uint64_t *pdpt = (uint64_t *)(pml4[0] & PV_ADDR_MASK);
	uint64_t *pd = (uint64_t *)(pdpt[0] & PV_ADDR_MASK);
	uint64_t *pte = (uint64_t *)(pd[0] & PV_ADDR_MASK);

	for (uint64_t i = 0; i < frames / 512; i++)
		if ((((uint64_t *)(pdpt[i / 512] & PV_ADDR_MASK))[i % 512] & PV_ADDR_MASK) !=
		    (uint64_t)&pte[i * 512])
			trap__panic("pv_tables=boot: the boot tables' leaf tables are not one run");
	paging_pv = (struct paging_pv){
		.pml4 = pml4, .pdpt = pdpt, .pd = pd, .pte = pte,
		.spare_pd = (uint64_t *)base, .spare_pt = (uint64_t *)(base + PAGE_SIZE),
		.nr_frames = frames, .start = base, .end = base + 2 * PAGE_SIZE,
		.adopted = true,
	};
	memset((void *)base, 0, 2 * PAGE_SIZE);
	return paging_pv.end;
}

uint64_t paging_pv__init(const struct l1_start_info *si, uint64_t image_end,
			 uint64_t low_chunks, uint64_t high_chunks)
{
	uint64_t frames = low_chunks << (CHUNK_SHIFT - PAGE_SHIFT);
	uint64_t nl1 = frames / 512, npd = (nl1 + 511) / 512;
	uint64_t base = (image_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	uint64_t end = base + (2 + npd + nl1 + 2) * PAGE_SIZE;

	if (high_chunks)
		trap__panic("shadow mode: RAM above 4 GiB is not supported");
	if (end > frames << PAGE_SHIFT || npd > 256)
		trap__panic("shadow mode: no room for page tables (%lu frames of RAM)", frames);
	if (si->boot_pml4_gpa && cmdline_has(si, "pv_tables=boot"))
		return adopt_boot_tables(si, base, frames);
	paging_pv = (struct paging_pv){
		.pml4 = (uint64_t *)base,
		.pdpt = (uint64_t *)(base + PAGE_SIZE),
		.pd = (uint64_t *)(base + 2 * PAGE_SIZE),
		.pte = (uint64_t *)(base + (2 + npd) * PAGE_SIZE),
		.spare_pd = (uint64_t *)(base + (2 + npd + nl1) * PAGE_SIZE),
		.spare_pt = (uint64_t *)(base + (3 + npd + nl1) * PAGE_SIZE),
		.nr_frames = frames,
		.start = base,
		.end = end,
	};
	/* Plain stores: none of these pages is a page table yet. */
	memset((void *)base, 0, (2 + npd) * PAGE_SIZE);
	memset(paging_pv.spare_pd, 0, 2 * PAGE_SIZE);
	for (uint64_t g = 0; g < frames; g++)
		paging_pv.pte[g] = g << PAGE_SHIFT | PV_LEAF;
	paging_pv.pte[0] = 0;
	for (uint64_t g = base >> PAGE_SHIFT; g < end >> PAGE_SHIFT; g++)
		paging_pv.pte[g] &= ~PTE_RW;
	if (si->boot_pml4_gpa)
		boot_tree_ro(si->boot_pml4_gpa, 4);
	for (uint64_t i = 0; i < nl1; i++)
		paging_pv.pd[i] = (uint64_t)&paging_pv.pte[i * 512] | PV_TABLE;
	for (uint64_t i = 0; i < npd; i++)
		paging_pv.pdpt[i] = (uint64_t)&paging_pv.pd[i * 512] | PV_TABLE;
	paging_pv.pml4[0] = (uint64_t)paging_pv.pdpt | PV_TABLE;
	return end;
}

uint64_t paging_pv__root(void)
{
	return (uint64_t)paging_pv.pml4;
}

void paging_pv__after_load(void)
{
	if (!paging_pv.adopted)
		return;
	/* The boot tree maps gfn 0 and our spare tables writable: not any more. */
	pv_ops.mmu.set_pte(&paging_pv.pte[0], 0);
	for (uint64_t a = paging_pv.start; a < paging_pv.end; a += PAGE_SIZE)
		pv_ops.mmu.set_pte(&paging_pv.pte[a >> PAGE_SHIFT],
				   paging_pv.pte[a >> PAGE_SHIFT] & ~PTE_RW);
	pv_ops.mmu.flush_page(0);
	for (uint64_t a = paging_pv.start; a < paging_pv.end; a += PAGE_SIZE)
		pv_ops.mmu.flush_page(a);
}

void paging_pv__set_writable(uint64_t gpa, bool writable)
{
	uint64_t *pte = &paging_pv.pte[gpa >> PAGE_SHIFT];

	pv_ops.mmu.set_pte(pte, writable ? *pte | PTE_RW : *pte & ~PTE_RW);
	pv_ops.mmu.flush_page(gpa);
}
