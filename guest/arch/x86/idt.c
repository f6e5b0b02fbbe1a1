// SPDX-License-Identifier: MIT
/*
 * DOC: the interrupt descriptor table, shared by all CPUs.
 *
 * Only the vectors entry.S has stubs for are filled (a few dozen gates, not
 * 256: each store costs ~2 us at CPL0 here); any other vector finds a
 * not-present gate and raises #NP, which lands in the exception path. All
 * gates are interrupt gates (IF cleared on entry), so the kernel always runs
 * with interrupts off; only the syscall gate is reachable from CPL3.
 */
#include <stdint.h>

#include "arch/x86/gdt.h"
#include "arch/x86/x86.h"
#include "kernel/pvops.h"

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t zero;
};
_Static_assert(sizeof(struct idt_gate) == 16, "hardware layout");

static struct idt_gate idt[256] __attribute__((aligned(16)));

void idt__init(void)
{
	for (const struct trap_stub *s = trap__stub_table; s->addr; s++) {
		unsigned int dpl = s->vector == VEC_SYSCALL ? 3 : 0;

		idt[s->vector] = (struct idt_gate){
			.off_lo = s->addr & 0xffff,
			.sel = KERNEL_CS,
			.type_attr = 0x8e | dpl << 5, /* present, 64-bit interrupt gate */
			.off_mid = (s->addr >> 16) & 0xffff,
			.off_hi = s->addr >> 32,
		};
	}
}

void idt__load(void)
{
	pv_ops.cpu.load_idt(idt, sizeof(idt) - 1);
}

void idt__triple_fault(void)
{
	/* No IDT: ud2 raises #UD, its delivery #GP, then #DF, then a triple fault. */
	pv_ops.cpu.load_idt(idt, 0);
	__asm__ volatile("ud2");
	__builtin_unreachable();
}
