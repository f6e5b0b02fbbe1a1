/* SPDX-License-Identifier: MIT */
/*
 * DOC: pv_ops, every privileged operation of the guest kernel.
 *
 * The kernel never executes a privileged instruction or touches a device
 * outside a pv_ops backend: it calls through this table. Two backends
 * (docs/design.md §5):
 *  - native (arch/x86/pvops_native.c): real instructions, LAPIC MMIO and
 *    ports; used in ept mode, where the kernel runs at CPL0;
 *  - pv (arch/x86/pvops_pv.c): l1vmm hypercalls and the shared-info page,
 *    for shadow mode where the kernel is deprivileged to CPL3.
 * pvops__select() picks one at boot from start_info.mode, before anything
 * else runs (start.S has already avoided `cli` in shadow mode). Hooks are
 * plain function pointers; each call costs a few instructions, which matters
 * only on paths that run at every tick.
 *
 * A few things differ by mode outside the table, because they are data, not
 * operations: the selectors (x86__sel), the trap return (trap__common), the
 * page-table layout (kernel/paging.c or paging_pv.c, by pvops__shadow).
 */
#ifndef L1G_KERNEL_PVOPS_H
#define L1G_KERNEL_PVOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/x86.h"
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
	/* Where the scheduler writes the kernel stack a trap from a task lands on:
	 * tss_rsp0 natively, the vCPU's shared-info kernel_sp in shadow mode. */
	x86_u64_unaligned *(*kernel_stack_slot)(uint32_t cpu_index,
						 x86_u64_unaligned *tss_rsp0);
};

struct pv_mmu_ops {
	void (*set_pte)(uint64_t *ptep, uint64_t val);
	/* n consecutive entries: ptep[i] = first + i * step (identity maps, flips). */
	void (*set_pte_range)(uint64_t *ptep, uint64_t first, uint64_t step, size_t n);
	void (*flush_tlb)(void);               /* this CPU, everything */
	void (*flush_page)(uint64_t va);       /* this CPU, the page holding va */
	/* set_pte* may be queued (pv: mmu_update batches); after commit() every
	 * earlier write is in the tables. The flushes commit first. */
	void (*commit)(void);
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
extern bool pvops__shadow; /* the pv backend is in use (shadow mode) */

/* Backends. */
extern const struct pv_ops pvops__native;
extern const struct pv_ops pvops__pv;

/* Native backend pieces that live with their hardware (arch/x86/apic.c). */
void apic__set_bus_hz(uint64_t hz);
void apic__native_init_cpu(void);
uint32_t apic__native_id(void);
void apic__native_arm_periodic(uint32_t hz);
void apic__native_eoi(void);
void apic__native_send_ipi(uint32_t apic_id, uint8_t vector);

/*
 * An l1vmm hypercall in either mode: shadow mode through the hypercall page
 * (blk unused), ept mode through the hypercall doorbell with blk, which
 * must be kernel memory (identity mapped: its address is its gpa) that no
 * other CPU uses meanwhile. The result (>= 0, or -L1_E*).
 */
int64_t pvops__hypercall(struct l1_hypercall_block *blk, uint64_t nr, uint64_t a1, uint64_t a2,
			 uint64_t a3, uint64_t a4);

/* Pick the backend for this boot. Runs first on CPU 0; never fails (a
 * shadow-mode boot it cannot serve prints why and exits). */
void pvops__select(const struct l1_start_info *si);

/* ---- pv backend internals the kernel uses (arch/x86/pvops_pv.c) ---- */

/* Shadow-mode boot checks and shared-info setup (pvops__select). */
void pvops__pv_init(const struct l1_start_info *si);
/* Run fn with the console ring locked (hostile's console case). */
int64_t pvops__pv_with_ring(int64_t (*fn)(struct l1_shared_info *s));
/* Take this vCPU's pending event bits (L1_EVT_*); re-arms the tick on
 * L1_EVT_TIMER. Runs in the event upcall, events masked. */
uint32_t pvops__pv_take_events(void);
/* Register the trap table (entry.S stubs) with l1vmm; 0 or -L1_E*. */
int64_t pvops__pv_set_trap_table(void);
/* Counters for selftest: mmu_update hypercalls and entries, event upcalls. */
struct pv_stats {
	uint64_t mmu_calls, mmu_entries;
	uint64_t upcalls[32];   /* per CPU */
};
extern struct pv_stats pvops__pv_stats;

#endif
