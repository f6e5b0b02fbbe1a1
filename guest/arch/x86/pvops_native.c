// SPDX-License-Identifier: MIT
/*
 * DOC: the native pv_ops backend: real instructions, ports and MMIO.
 *
 * Used in ept mode, where the kernel really runs at CPL0. Console output is
 * one `rep outsb` per buffer, which the VMM serves in a single exit; the test
 * exit port takes a 32-bit outl whose value becomes the VM's exit code.
 */
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/x86.h"
#include "kernel/pvops.h"

static void native_load_cr3(uint64_t pa)
{
	__asm__ volatile("mov %0, %%cr3" ::"r"(pa) : "memory");
}

static uint64_t native_read_cr2(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static void native_halt(void)
{
	__asm__ volatile("hlt" ::: "memory");
}

static void native_safe_halt(void)
{
	/* sti's one-instruction shadow: no interrupt slips in before hlt. */
	__asm__ volatile("sti; hlt" ::: "memory");
}

static void native_irq_enable(void)
{
	__asm__ volatile("sti" ::: "memory");
}

static void native_irq_disable(void)
{
	__asm__ volatile("cli" ::: "memory");
}

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static void native_load_gdt(const void *base, uint16_t limit)
{
	struct desc_ptr d = { .limit = limit, .base = (uint64_t)base };

	__asm__ volatile("lgdt %0\n\t"
			 "mov %1, %%ds\n\t"
			 "mov %1, %%es\n\t"
			 "mov %1, %%ss\n\t"
			 "pushq %2\n\t"
			 "lea 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:"
			 :
			 : "m"(d), "r"((uint64_t)KERNEL_DS), "i"(KERNEL_CS)
			 : "rax", "memory");
}

static void native_load_idt(const void *base, uint16_t limit)
{
	struct desc_ptr d = { .limit = limit, .base = (uint64_t)base };

	__asm__ volatile("lidt %0" ::"m"(d) : "memory");
}

static void native_load_tr(uint16_t sel)
{
	__asm__ volatile("ltr %0" ::"r"(sel) : "memory");
}

static void native_write_msr(uint32_t msr, uint64_t val)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)val), "d"((uint32_t)(val >> 32))
			 : "memory");
}

static uint64_t native_read_msr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}

static x86_u64_unaligned *native_kernel_stack_slot(uint32_t cpu_index,
						   x86_u64_unaligned *tss_rsp0)
{
	(void)cpu_index;
	return tss_rsp0;
}

static void native_commit(void)
{
	/* set_pte writes the entry itself: nothing is queued */
}

static void native_set_pte(uint64_t *ptep, uint64_t val)
{
	*(volatile uint64_t *)ptep = val;
}

static void native_set_pte_range(uint64_t *ptep, uint64_t first, uint64_t step, size_t n)
{
	for (size_t i = 0; i < n; i++, first += step)
		ptep[i] = first;
}

static void native_flush_tlb(void)
{
	uint64_t cr3;

	__asm__ volatile("mov %%cr3, %0\n\tmov %0, %%cr3" : "=r"(cr3)::"memory");
}

static void native_flush_page(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" ::"r"(va) : "memory");
}

static void native_console_write(const char *buf, size_t len)
{
	if (!len)
		return;
	__asm__ volatile("rep outsb"
			 : "+S"(buf), "+c"(len)
			 : "d"((uint16_t)L1_PORT_UART0)
			 : "memory");
}

__attribute__((noreturn)) static void native_exit(uint32_t code)
{
	__asm__ volatile("outl %0, %1" ::"a"(code), "Nd"((uint16_t)L1_PORT_TEST_EXIT));
	for (;;)
		__asm__ volatile("cli; hlt");
}

const struct pv_ops pvops__native = {
	.name = "native",
	.cpu = {
		.load_cr3 = native_load_cr3,
		.read_cr2 = native_read_cr2,
		.halt = native_halt,
		.safe_halt = native_safe_halt,
		.irq_enable = native_irq_enable,
		.irq_disable = native_irq_disable,
		.load_gdt = native_load_gdt,
		.load_idt = native_load_idt,
		.load_tr = native_load_tr,
		.write_msr = native_write_msr,
		.read_msr = native_read_msr,
		.kernel_stack_slot = native_kernel_stack_slot,
	},
	.mmu = {
		.set_pte = native_set_pte,
		.set_pte_range = native_set_pte_range,
		.flush_tlb = native_flush_tlb,
		.flush_page = native_flush_page,
		.commit = native_commit,
	},
	.timer = {
		.init_cpu = apic__native_init_cpu,
		.cpu_hw_id = apic__native_id,
		.arm_periodic = apic__native_arm_periodic,
		.eoi = apic__native_eoi,
		.send_ipi = apic__native_send_ipi,
	},
	.console = {
		.write = native_console_write,
	},
	.exit = native_exit,
};
