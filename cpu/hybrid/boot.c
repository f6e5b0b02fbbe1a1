/* SPDX-License-Identifier: MIT */
/*
 * DOC: boot state.
 *
 * l1vmm-protocol kernels (pvops/l1vmm_abi.h) start in long mode: the host
 * writes a flat GDT and an identity map of [0, max(4 GiB, top of RAM)) with
 * 2 MiB pages into the boot area below 1 MiB, and every vCPU starts at the
 * entry point. Multiboot kernels start in flat 32-bit protected mode without
 * paging, EAX = 0x2BADB002 and EBX = the info structure, on the boot vCPU
 * only; the others wait for INIT/SIPI as on real hardware.
 */
#include "cpu/hybrid/hybrid.h"

#include <stdio.h>

#include "pvops/l1vmm_abi.h"

#define BOOT_GDT_GPA  0x1000ull
#define BOOT_PML4_GPA 0x2000ull
#define BOOT_PDPT_GPA 0x3000ull
#define BOOT_PD_GPA   0x10000ull /* one page of PDEs per GiB mapped */
#define BOOT_PD_END   L1_BOOT_AREA_END
#define BOOT_CS32     0x18u

#define PTE_P  (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_A  (1ull << 5)
#define PTE_D  (1ull << 6)
#define PTE_PS (1ull << 7)
#define GIB    (1ull << 30)

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define RFLAGS_FIXED 0x2ull

/*
 * The boot GDT's descriptors are accessed and the boot tables' entries
 * accessed (and leaves dirty) from the start, so that neither a segment load
 * nor a page walk writes them: KVM emulates guest CPL0 code here, and such a
 * write fails while page sharing holds the page write-protected (the boot
 * structures are alike in every guest), which KVM turns into a fault in the
 * guest (guest/kernel/paging.c).
 */
static const uint64_t boot_gdt[] = {
	0,
	0x00af9b000000ffffull, /* 0x08: 64-bit code, DPL0 */
	0x00cf93000000ffffull, /* 0x10: flat data, DPL0 */
	0x00cf9b000000ffffull, /* 0x18: flat 32-bit code, DPL0 (multiboot) */
};

static uint64_t top_of_ram(const struct ept_mem *mem)
{
	const struct ept_region *r = &mem->region[mem->nr_regions - 1];
	return r->gpa + r->size;
}

int hybrid__write_boot_tables(struct ept_mem *mem, const struct boot_image *img,
			      char *err, size_t errlen)
{
	if (!ept__write(mem, BOOT_GDT_GPA, boot_gdt, sizeof(boot_gdt))) {
		snprintf(err, errlen, "guest memory too small for the boot structures");
		return -1;
	}
	if (img->protocol != BOOT_L1_LONG64)
		return 0;

	uint64_t top = top_of_ram(mem);
	uint64_t gibs = (top < 4 * GIB ? 4 * GIB : top + GIB - 1) / GIB;
	if (BOOT_PD_GPA + gibs * EPT_PAGE_SIZE > BOOT_PD_END || gibs > 512) {
		snprintf(err, errlen, "guest memory too large for the boot page tables "
			 "(%llu GiB mapped at most)",
			 (unsigned long long)((BOOT_PD_END - BOOT_PD_GPA) / EPT_PAGE_SIZE));
		return -1;
	}
	uint64_t pml4e = BOOT_PDPT_GPA | PTE_P | PTE_RW | PTE_A;
	if (!ept__write(mem, BOOT_PML4_GPA, &pml4e, sizeof(pml4e)))
		goto small;
	for (uint64_t g = 0; g < gibs; g++) {
		uint64_t pd_gpa = BOOT_PD_GPA + g * EPT_PAGE_SIZE;
		uint64_t pdpte = pd_gpa | PTE_P | PTE_RW | PTE_A;
		uint64_t *pd = ept__gpa_ptr(mem, pd_gpa, EPT_PAGE_SIZE);
		if (!pd || !ept__write(mem, BOOT_PDPT_GPA + g * 8, &pdpte, sizeof(pdpte)))
			goto small;
		for (uint64_t i = 0; i < 512; i++)
			pd[i] = (g * GIB + i * (2ull << 20)) | PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D;
		ept__mark_written(mem, pd_gpa, EPT_PAGE_SIZE);
	}
	return 0;
small:
	snprintf(err, errlen, "guest memory too small for the boot page tables");
	return -1;
}

static struct kvm_segment flat_segment(uint16_t selector, uint8_t type, bool code64)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
		.present = 1, .dpl = 0, .db = code64 ? 0 : 1, .s = 1, .l = code64, .g = 1,
	};
}

void hybrid__boot_state(const struct boot_image *img, unsigned index,
			uint64_t start_info_gpa, struct vcpu_boot *boot)
{
	struct kvm_sregs *s = &boot->sregs;
	boot->regs = (struct kvm_regs){ .rip = img->entry, .rflags = RFLAGS_FIXED };
	s->gdt = (struct kvm_dtable){ .base = BOOT_GDT_GPA, .limit = sizeof(boot_gdt) - 1 };
	s->idt = (struct kvm_dtable){ .base = 0, .limit = 0 };
	struct kvm_segment data = flat_segment(L1_BOOT_DS, 3, false);
	s->ds = s->es = s->fs = s->gs = s->ss = data;

	if (img->protocol == BOOT_MULTIBOOT) {
		s->cs = flat_segment(BOOT_CS32, 11, false);
		s->cr0 = CR0_PE | CR0_ET;
		s->cr3 = 0;
		s->cr4 = 0;
		s->efer = 0;
		boot->regs.rax = L1_MB_BOOTLOADER_MAGIC;
		boot->regs.rbx = img->mb_info_gpa;
		boot->runnable = index == 0;
		return;
	}
	s->cs = flat_segment(L1_BOOT_CS, 11, true);
	s->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	s->cr3 = BOOT_PML4_GPA;
	s->cr4 = CR4_PAE;
	s->efer = EFER_LME | EFER_LMA | EFER_NXE;
	boot->regs.rdi = start_info_gpa;
	boot->regs.rsi = index;
	boot->runnable = true;
}
