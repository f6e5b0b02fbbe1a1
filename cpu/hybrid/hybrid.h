/* SPDX-License-Identifier: MIT */
/*
 * DOC: execution modes and everything about a vCPU's architectural state.
 *
 * - exit decoding: hybrid__decode_exit() turns a kvm_run into a struct
 *   vm_exit; a pure function, unit-tested, that never trusts offsets it was
 *   given without checking them against the run area's size.
 * - boot state: the registers and page tables a kernel is entered with, for
 *   each boot protocol (l1vmm long mode, Multiboot 32-bit protected mode).
 * - CPUID policy: what KVM supports plus l1vmm's hypervisor leaves.
 * - crash reports: a readable dump of a vCPU that stopped the guest.
 * - mode selection: ept or shadow (shadow is not implemented yet).
 */
#ifndef L1_CPU_HYBRID_H
#define L1_CPU_HYBRID_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "l1vmm/loader.h"
#include "mmu/ept/ept.h"

/* ---- exit decoding ---- */

enum vm_exit_kind {
	VM_EXIT_IO,             /* port I/O: addr = port, count repetitions of size bytes */
	VM_EXIT_MMIO,           /* addr = gpa, size bytes */
	VM_EXIT_HLT,            /* only without an in-kernel irqchip */
	VM_EXIT_SHUTDOWN,       /* triple fault */
	VM_EXIT_INTERNAL_ERROR, /* suberror: 1 = emulation failure */
	VM_EXIT_FAIL_ENTRY,     /* hw_reason */
	VM_EXIT_INTR,           /* interrupted by a signal / immediate_exit */
	VM_EXIT_SYSTEM_EVENT,   /* event_type: KVM_SYSTEM_EVENT_* */
	VM_EXIT_UNKNOWN,        /* any other reason, or a malformed run area */
};

struct vm_exit {
	enum vm_exit_kind kind;
	uint32_t reason;        /* raw kvm_run->exit_reason */
	bool is_write;          /* IO, MMIO */
	uint64_t addr;          /* IO: port; MMIO: guest-physical address */
	unsigned size;          /* IO, MMIO: bytes per access (1, 2, 4, 8) */
	uint32_t count;         /* IO: repetitions (rep ins/outs); MMIO: 1 */
	uint8_t *data;          /* IO, MMIO: count * size bytes inside the run area */
	uint32_t suberror;      /* INTERNAL_ERROR */
	uint64_t hw_reason;     /* FAIL_ENTRY */
	uint32_t event_type;    /* SYSTEM_EVENT */
};

/*
 * Decode run (run_size bytes, as mmap'ed). Port I/O whose data would lie
 * outside the run area, or with a size other than 1/2/4, decodes as
 * VM_EXIT_UNKNOWN, as does an MMIO access wider than 8 bytes.
 */
void hybrid__decode_exit(struct kvm_run *run, size_t run_size, struct vm_exit *out);

/* A short name for an exit reason ("IO", "SHUTDOWN", ...). */
const char *hybrid__exit_reason_name(uint32_t reason);

/* ---- boot state ---- */

struct vcpu_boot {
	struct kvm_regs regs;
	struct kvm_sregs sregs;  /* in: as read from KVM (keeps its TR/LDT); out: to set */
	bool runnable;           /* false: the vCPU waits for INIT/SIPI (multiboot APs) */
};

/*
 * Write the host boot structures (GDT, identity page tables) for img into
 * guest memory. 0, or -1 with a one-line reason in err.
 */
int hybrid__write_boot_tables(struct ept_mem *mem, const struct boot_image *img,
			      char *err, size_t errlen);

/* The entry state of vCPU index for img; boot->sregs must hold KVM's state. */
void hybrid__boot_state(const struct boot_image *img, unsigned index,
			uint64_t start_info_gpa, struct vcpu_boot *boot);

/* ---- CPUID ---- */

/*
 * Turn KVM's supported CPUID (in place, nent entries of capacity cap) into
 * the guest's for vCPU index: the hypervisor bit set, the APIC ID set and,
 * with l1_leaves, l1vmm's leaves at 0x40000000 (0x40000001 eax = features,
 * the L1_FEAT_* the start info gives) with KVM's own PV leaves moved to
 * 0x40000100; without, KVM's stay where they are.
 * Returns the new number of entries, or -1 if cap is too small.
 */
int hybrid__cpuid_policy(struct kvm_cpuid_entry2 *ent, int nent, int cap, unsigned index,
			 uint32_t features, bool l1_leaves);

/*
 * What CPUID(leaf, subleaf) answers from such a table, by KVM's matching
 * rule (the subleaf counts only for entries flagged
 * KVM_CPUID_FLAG_SIGNIFCANT_INDEX): eax, ebx, ecx, edx into out; zeros for
 * a leaf the table lacks. L1_HC_CPUID's answer.
 */
void hybrid__cpuid_lookup(const struct kvm_cpuid_entry2 *ent, int nent, uint32_t leaf,
			  uint32_t subleaf, uint32_t out[4]);

/* ---- crash reports ---- */

struct crash_state {
	const char *vm_name;
	const char *reason;          /* one line: "triple fault (KVM_EXIT_SHUTDOWN)" */
	unsigned vcpu;
	const struct kvm_regs *regs; /* NULL when they could not be read */
	const struct kvm_sregs *sregs;
	const uint8_t *rip_bytes;    /* bytes at RIP, or NULL */
	size_t nr_rip_bytes;
};

/* Format the report (several lines) into buf; returns the length written. */
size_t hybrid__format_crash(char *buf, size_t len, const struct crash_state *cs);

/* ---- modes ---- */

enum cpu_mode { CPU_MODE_AUTO = 0, CPU_MODE_EPT, CPU_MODE_SHADOW };

/* How guest CPL0 code runs here compared with CPL3 (measure.c). */
struct cpl_measure {
	bool valid;
	double cpl0_ns_per_loop;   /* one dec+jnz iteration at CPL0 */
	double cpl3_ns_per_loop;
	double ratio;              /* cpl0 / cpl3 */
};

/* Run the measurement in a scratch VM of kvm_fd. 0, or -1 (out->valid false). */
int hybrid__measure_cpl(int kvm_fd, size_t run_size, struct cpl_measure *out);

/* CPL0 counts as emulated when it is this many times slower than CPL3. */
#define CPL0_EMULATED_RATIO 10.0

/* "auto", "ept", "shadow"; false for anything else. */
bool hybrid__parse_mode(const char *s, enum cpu_mode *out);
const char *hybrid__mode_name(enum cpu_mode mode);

/*
 * Resolve the requested mode to the one that runs: auto picks shadow for a
 * PV-capable kernel where CPL0 is emulated (m, measured only for auto), ept
 * otherwise. why (why_len bytes) says how. 0, or -1 with a one-line reason in
 * why (shadow requested for a kernel that is not PV-capable).
 */
int hybrid__select_mode(enum cpu_mode requested, bool pv_capable, const struct cpl_measure *m,
			enum cpu_mode *out, char *why, size_t why_len);

#endif
