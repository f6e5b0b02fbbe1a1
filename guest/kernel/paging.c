// SPDX-License-Identifier: MIT
/*
 * DOC: the kernel's page tables: one identity map for all CPUs and tasks.
 *
 * PML4[0] -> one PDPT -> one page directory per GiB, all with 2 MiB pages, so
 * the whole map is a handful of static pages and a PDE per chunk; the PDE of
 * chunk n is pd[0][n] (high RAM, from chunk 2048, follows the 4 low GiB).
 * Upper levels are user+writable and the PDE decides. The LAPIC page is
 * mapped uncached and supervisor-only. The doorbell page is uncached and
 * user (the ABI's way for CPL3 code to reach the host), so its chunk is the
 * one mapped with 4 KiB pages (doorbell_pt): a 2 MiB user page there would
 * also give tasks the virtio-mmio window l1vmm puts right after it
 * (0xd0001000). Everything else in the hole below 4 GiB stays unmapped
 * until a driver asks for it (paging__map_mmio: the IOAPIC, a virtio-mmio
 * window; supervisor-only). Every write goes through pv_ops.mmu.
 *
 * Every entry is created accessed, and every leaf dirty (PTE_A, PTE_D), so
 * no page walk ever writes these tables. Here KVM emulates this kernel's
 * code, and its emulated walk sets those bits through l1vmm's mapping of
 * the table; when l1vmm's page sharing holds that page write-protected for
 * its compare (the tables are alike in every guest), the write fails and
 * KVM injects a not-present #PF the tables do not explain (a CI run saw
 * one: a panic in sys_info's write to a user page).
 *
 * Shadow mode uses paging_pv.c's 4 KiB map instead; there every page is
 * user-accessible already, so paging__set_user has nothing to do.
 */
#include <stddef.h>

#include "arch/x86/x86.h"
#include "kernel/mm.h"
#include "kernel/pvops.h"

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[4 + MM_HIGH_PD_MAX][512] __attribute__((aligned(4096)));
static uint64_t doorbell_pt[512] __attribute__((aligned(4096))); /* the doorbell's chunk */

#define PDE_RAM (PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D)
#define PTE_MMIO (PTE_P | PTE_RW | PTE_PCD | PTE_PWT | PTE_A | PTE_D) /* 4 KiB: no PS (PAT there) */
#define TABLE (PTE_P | PTE_RW | PTE_US | PTE_A) /* a PML4E, PDPTE or non-leaf PDE */
#define DOORBELL_CHUNK (L1_DOORBELL_GPA >> CHUNK_SHIFT)
#define PT_INDEX(va) (((va) >> PAGE_SHIFT) & 511)

static uint64_t *pde_of(uint64_t chunk)
{
	return &pd[0][0] + chunk;
}

uint64_t paging__init(const struct l1_start_info *si, uint64_t image_end,
		      uint64_t low_chunks, uint64_t high_chunks)
{
	uint64_t npd = 4 + (high_chunks + 511) / 512;

	if (pvops__shadow) {
		image_end = paging_pv__init(si, image_end, low_chunks, high_chunks);
		paging__load();
		paging_pv__after_load();
		return image_end;
	}

	pv_ops.mmu.set_pte_range(pde_of(0), PDE_RAM, CHUNK_SIZE, low_chunks);
	pv_ops.mmu.set_pte_range(pde_of(MM_LOW_CHUNKS), L1_RAM_HIGH_START | PDE_RAM,
				 CHUNK_SIZE, high_chunks);
	pv_ops.mmu.set_pte(pde_of(L1_LAPIC_GPA >> CHUNK_SHIFT),
			   L1_LAPIC_GPA | PDE_RAM | PTE_PCD | PTE_PWT);
	pv_ops.mmu.set_pte(&doorbell_pt[PT_INDEX(L1_DOORBELL_GPA)], L1_DOORBELL_GPA | PTE_MMIO | PTE_US);
	pv_ops.mmu.set_pte(pde_of(DOORBELL_CHUNK), (uint64_t)doorbell_pt | TABLE);
	pv_ops.mmu.set_pte_range(pdpt, (uint64_t)pd | TABLE, PAGE_SIZE, npd);
	pv_ops.mmu.set_pte(&pml4[0], (uint64_t)pdpt | TABLE);
	paging__load();
	return image_end;
}

void paging__load(void)
{
	if (pvops__shadow && paging_pv.adopted)
		return; /* pv_tables=boot: already current */
	pv_ops.cpu.load_cr3(pvops__shadow ? paging_pv__root() : (uint64_t)pml4);
}

void paging__set_user(uint64_t first, uint64_t n, bool user)
{
	uint64_t flags = PDE_RAM | (user ? PTE_US : 0);

	if (pvops__shadow)
		return;

	pv_ops.mmu.set_pte_range(pde_of(first), (first << CHUNK_SHIFT) | flags, CHUNK_SIZE, n);
	if (n > 8) {
		pv_ops.mmu.flush_tlb();
		return;
	}
	for (uint64_t c = first; c < first + n; c++)
		pv_ops.mmu.flush_page(c << CHUNK_SHIFT);
}

bool paging__map_mmio(uint64_t gpa)
{
	uint64_t *pde = pde_of(gpa >> CHUNK_SHIFT);

	if (pvops__shadow || gpa < L1_RAM_HOLE_START || gpa >= L1_RAM_HIGH_START)
		return false;
	if (gpa >> CHUNK_SHIFT == DOORBELL_CHUNK) {
		uint64_t *pte = &doorbell_pt[PT_INDEX(gpa)];

		/* not present: no CPU can have it cached, no flush (the doorbell
		 * page itself keeps its flags) */
		if (!(*pte & PTE_P))
			pv_ops.mmu.set_pte(pte, (gpa & ~(PAGE_SIZE - 1)) | PTE_MMIO);
		pv_ops.mmu.commit();
		return true;
	}
	if (!(*pde & PTE_P)) /* not present: no CPU can have it cached, no flush */
		pv_ops.mmu.set_pte(pde, (gpa & ~(CHUNK_SIZE - 1)) | PDE_RAM | PTE_PCD | PTE_PWT);
	pv_ops.mmu.commit();
	return true;
}

bool paging__user_may_access(uint64_t va, bool write)
{
	uint64_t c = va >> CHUNK_SHIFT, pde;

	if (pvops__shadow)
		return false; /* l1vmm owns the TLB: a bounced #PF is always real */
	if (c >= MM_MAX_CHUNKS)
		return false;
	pde = *pde_of(c);
	if (c == DOORBELL_CHUNK)
		pde = doorbell_pt[PT_INDEX(va)]; /* its PDE allows all: the PTE decides */
	return (pde & PTE_P) && (pde & PTE_US) && (!write || (pde & PTE_RW));
}

void paging__make_table(uint64_t gpa)
{
	if (pvops__shadow)
		paging_pv__set_writable(gpa, false);
}

void paging__unmake_table(uint64_t gpa)
{
	if (pvops__shadow)
		paging_pv__set_writable(gpa, true);
}

void paging__link_pml4(unsigned int slot, uint64_t entry)
{
	pv_ops.mmu.set_pte(pvops__shadow ? &paging_pv.pml4[slot] : &pml4[slot], entry);
}
