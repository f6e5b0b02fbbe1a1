/* SPDX-License-Identifier: MIT */
/*
 * DOC: pv_ops, every privileged operation of the guest kernel.
 *
 * The kernel never executes a privileged instruction or touches a device
 * outside a pv_ops backend: it calls through this table. Two backends are
 * planned (DESIGN.md §5):
 *  - native (arch/x86/pvops_native.c): real instructions, LAPIC MMIO and
 *    ports; used in ept mode, where the kernel runs at CPL0;
 *  - pv (later): hypercalls through the doorbell page, for shadow mode where
 *    the kernel is deprivileged to CPL3.
 * pvops__select() picks one at boot, before anything else runs. Hooks are
 * plain function pointers; each call costs a few instructions, which matters
 * only on paths that run at every tick.
 */
#ifndef L1G_KERNEL_PVOPS_H
#define L1G_KERNEL_PVOPS_H

#include <stddef.h>
#include <stdint.h>

#include "pvops/l1vmm_abi.h"

struct pv_cpu_ops {
	void (*load_cr3)(uint64_t pml4_pa);
	uint64_t (*read_cr2)(void);          /* fault address of the last #PF */
	void (*halt)(void);                  /* wait for an interrupt, IF unchanged */
	void (*safe_halt)(void);             /* enable interrupts and wait for one, none lost */
	void (*irq_enable)(void);
	void (*irq_disable)(void);
	/* Also reloads the segment registers with KERNEL_CS/KERNEL_DS. */
	void (*load_gdt)(const void *base, uint16_t limit);
	void (*load_idt)(const void *base, uint16_t limit);
	void (*load_tr)(uint16_t sel);
	void (*write_msr)(uint32_t msr, uint64_t val);
	uint64_t (*read_msr)(uint32_t msr);
};

struct pv_mmu_ops {
	void (*set_pte)(uint64_t *ptep, uint64_t val);
	/* n consecutive entries: ptep[i] = first + i * step (identity maps, flips). */
	void (*set_pte_range)(uint64_t *ptep, uint64_t first, uint64_t step, size_t n);
	void (*flush_tlb)(void);               /* this CPU, everything */
	void (*flush_page)(uint64_t va);       /* this CPU, the page holding va */
};

struct pv_timer_ops {
	void (*init_cpu)(void);                /* enable this CPU's interrupt controller */
	uint32_t (*cpu_hw_id)(void);           /* the id send_ipi() takes (APIC id) */
	void (*arm_periodic)(uint32_t hz);     /* tick at VEC_TIMER, hz times a second */
	void (*eoi)(void);
	void (*send_ipi)(uint32_t hw_id, uint8_t vector);
};

struct pv_console_ops {
	void (*write)(const char *buf, size_t len); /* whole buffer, one exit if possible */
};

struct pv_ops {
	const char *name;
	struct pv_cpu_ops cpu;
	struct pv_mmu_ops mmu;
	struct pv_timer_ops timer;
	struct pv_console_ops console;
	__attribute__((noreturn)) void (*exit)(uint32_t code); /* end the VM */
};

extern struct pv_ops pv_ops;

/* Backends. */
extern const struct pv_ops pvops__native;

/* Native backend pieces that live with their hardware (arch/x86/apic.c). */
void apic__set_bus_hz(uint64_t hz);
void apic__native_init_cpu(void);
uint32_t apic__native_id(void);
void apic__native_arm_periodic(uint32_t hz);
void apic__native_eoi(void);
void apic__native_send_ipi(uint32_t apic_id, uint8_t vector);

/* Pick the backend for this boot. Runs first on CPU 0; never fails. */
void pvops__select(const struct l1_start_info *si);

#endif
