// SPDX-License-Identifier: MIT
/*
 * DOC: per-CPU GDT and TSS.
 *
 * Each CPU needs its own TSS (TSS.rsp0 is the kernel stack of the task it
 * runs) and thus its own GDT, since a TSS descriptor is marked busy by ltr.
 * Layout and selectors: arch/x86/x86.h. In shadow mode l1vmm owns the
 * GDT and there is no TSS: the loads are no-ops and the kernel stack for
 * traps from tasks goes to the shared-info page (kernel_stack_slot).
 */
#include <stddef.h>

#include "arch/x86/gdt.h"
#include "kernel/pvops.h"

/*
 * Accessed from the start (type bit 0), as Linux does: a segment load then
 * never writes the GDT. KVM emulates this kernel's code here, and a write
 * to a GDT page l1vmm's page sharing holds write-protected for a moment
 * would make the load fail (see paging.c for the page tables).
 */
#define SEG_KCODE 0x00af9b000000ffffull /* 64-bit, DPL0, present */
#define SEG_KDATA 0x00cf93000000ffffull
#define SEG_UDATA 0x00cff3000000ffffull /* DPL3 */
#define SEG_UCODE 0x00affb000000ffffull /* 64-bit, DPL3 */

void gdt__init_cpu(struct cpu *cpu)
{
	uint64_t base = (uint64_t)&cpu->tss;
	uint64_t limit = sizeof(cpu->tss) - 1;

	cpu->tss.iomap_base = sizeof(cpu->tss); /* no I/O bitmap: no port access from CPL3 */
	cpu->gdt[0] = 0;
	cpu->gdt[1] = SEG_KCODE;
	cpu->gdt[2] = SEG_KDATA;
	cpu->gdt[3] = SEG_UDATA;
	cpu->gdt[4] = SEG_UCODE;
	/* Available 64-bit TSS (type 9), present. */
	cpu->gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
		      (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	cpu->gdt[6] = base >> 32;
	pv_ops.cpu.load_gdt(cpu->gdt, sizeof(cpu->gdt) - 1);
	pv_ops.cpu.load_tr(TSS_SEL);
	cpu->kernel_sp = pv_ops.cpu.kernel_stack_slot(
		cpu->index, (x86_u64_unaligned *)((char *)&cpu->tss + offsetof(struct tss, rsp0)));
}
