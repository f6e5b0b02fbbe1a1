/* SPDX-License-Identifier: MIT */
#ifndef L1G_ARCH_GDT_H
#define L1G_ARCH_GDT_H

#include "kernel/sched.h"

/* Build this CPU's GDT with its TSS, load both (pv_ops). */
void gdt__init_cpu(struct cpu *cpu);

/* Fill the shared IDT from entry.S's stub table (CPU 0, once). */
void idt__init(void);
/* Load the shared IDT on this CPU. */
void idt__load(void);
/* Triple-fault on purpose: the host ends the VM as crashed (workload=crash, panic). */
__attribute__((noreturn)) void idt__triple_fault(void);

#endif
