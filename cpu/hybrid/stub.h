/* SPDX-License-Identifier: MIT */
/*
 * DOC: l1vmm's CPL0 trap stub for shadow mode.
 *
 * Shadow-mode guests run at CPL3 on l1vmm's descriptor tables. The stub is
 * everything the CPU itself needs at CPL0, mapped supervisor-only in PML4
 * slot 511 of every shadow address space and kept in the machine's reserved
 * low frames:
 *   GDT (flat CPL0 code/data, the guest's four CPL3 selectors, one TSS per
 *   machine vCPU), IDT (every vector to its stub entry, DPL0 gates), the
 *   TSSes (RSP0 = that vCPU's stub stack), the stub code, the stacks, and the
 *   hypercall page (user-accessible, backed by nothing: every access exits).
 * A stub entry is two or three instructions: push a zero error code where
 * the CPU pushes none, push the vector, `out` to L1_PORT_SHADOW_TRAP. It never
 * returns: l1vmm reads the frame off the stub stack and sets the vCPU's next
 * state itself (CPL0 code is emulated here, ~2 us an instruction, so the
 * stub must stay this short).
 */
#ifndef L1_CPU_HYBRID_STUB_H
#define L1_CPU_HYBRID_STUB_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmu/shadow/shadow.h"

#define STUB_BASE_VA   0xffffff8000000000ull /* PML4 slot 511 */
#define STUB_GDT_VA    (STUB_BASE_VA + 0x1000)
#define STUB_IDT_VA    (STUB_BASE_VA + 0x2000)
#define STUB_CODE_VA   (STUB_BASE_VA + 0x3000)
#define STUB_TSS_VA    (STUB_BASE_VA + 0x4000) /* STUB_TSS_STRIDE bytes per vCPU */
#define STUB_STACKS_VA (STUB_BASE_VA + 0x100000)
#define STUB_STACK_SIZE 0x2000ull
#define STUB_TSS_STRIDE 128u
#define STUB_MAX_VCPUS 64u
#define STUB_ENTRY_SIZE 16u     /* bytes of stub code per vector */
#define STUB_RESERVED_BYTES (4ull << 20) /* machine frames [0, 4 MiB) */
#define L1_PORT_SHADOW_TRAP 0xf5u

#define STUB_KERNEL_CS 0x08u    /* l1vmm's CPL0 code (the stub) */
#define STUB_KERNEL_DS 0x10u
#define STUB_TSS_SEL(i) ((8u + 2u * (i)) << 3)

/* What the stub leaves on its stack, lowest address first. */
struct stub_frame {
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

/* Write the stub area into m's reserved frames and set m->stub_pdpt_mfn.
 * 0, or -1 with a reason. */
int stub__build(struct shadow_machine *m, char *err, size_t errlen);

/* The machine vCPU's CPL3 entry state on shadow root cr3_mfn: CR0/CR4/EFER,
 * GDT/IDT/TR, CS = L1_SHADOW_KERNEL_CS, SS = L1_SHADOW_KERNEL_SS. s holds KVM's
 * state on entry (kept where not set). */
void stub__vcpu_sregs(unsigned machine_vcpu, uint64_t cr3_mfn, struct kvm_sregs *s);

/* The CPL3 code or data segment for selector sel (one of the four guest ones). */
bool stub__guest_segment(uint16_t sel, struct kvm_segment *seg);

/* Read the frame the stub pushed for machine vCPU i. False if out of range. */
bool stub__read_frame(const struct shadow_machine *m, unsigned machine_vcpu,
		      struct stub_frame *f);

/* True when rip is inside the stub's code (a trap-port exit really came from it). */
bool stub__rip_in_code(uint64_t rip);

/* True for the vectors on which the CPU pushes an error code. */
bool stub__vector_has_error(unsigned vector);

#endif
