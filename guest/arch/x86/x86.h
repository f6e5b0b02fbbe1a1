/* SPDX-License-Identifier: MIT */
/*
 * DOC: x86-64 definitions shared by the guest kernel's C and assembly.
 *
 * Selectors, vectors and page-table bits, plus the trap frame that entry.S
 * builds. The C-only part (structs) is hidden from the assembler.
 *
 * GDT (one per CPU): 0 null, 0x08 kernel code, 0x10 kernel data, 0x18 user
 * data, 0x20 user code (64-bit), 0x28 the CPU's TSS (16 bytes). The kernel
 * selectors equal the host's boot selectors (L1_BOOT_CS/DS), so nothing
 * breaks between the host's GDT and ours.
 */
#ifndef L1G_ARCH_X86_H
#define L1G_ARCH_X86_H

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS   (0x18 | 3)
#define USER_CS   (0x20 | 3)
#define TSS_SEL   0x28
#define GDT_SLOTS 7

/*
 * The selectors in use, picked at boot (pvops__select): the ones above in
 * ept mode, l1vmm's L1_SHADOW_* in shadow mode, where kernel and tasks both
 * run at CPL3 and only the selector tells them apart. Offsets for entry.S.
 */
#define SEL_KERNEL_CS 0
#define SEL_KERNEL_SS 8
#define SEL_USER_CS   16
#define SEL_USER_SS   24

/* Hypercall numbers entry.S needs (checked against the ABI in pvops_pv.c). */
#define HC_NR_IRET  9
#define HC_NR_BLOCK 3
/* Offset of l1_start_info.mode, for start.S (checked in pvops_pv.c). */
#define START_INFO_MODE 72

/* Vectors: 0-31 exceptions, then ours. */
#define VEC_UD       6
#define VEC_DF       8
#define VEC_GP       13
#define VEC_PF       14
#define VEC_EVENT    32   /* shadow mode: l1vmm's event upcall (L1_EVENT_VECTOR) */
#define VEC_TIMER    0x30
#define VEC_VIRTIO   0x32 /* ept mode: the virtio-mmio balloon (IOAPIC, level) */
#define VEC_BALLOON  0x33 /* ept mode: the PV balloon event (l1vmm sends an MSI) */
#define VEC_APF      0x3a /* ept mode: KVM's "page ready" interrupt (kernel/apf.c) */
#define VEC_SYSCALL  0x80 /* int $0x80, the only DPL3 gate */
#define VEC_KYIELD   0x81 /* never raised by an instruction: sched__kyield() fakes it */
#define VEC_RESCHED  0xf1 /* IPI: "your run queue got a task" */
#define VEC_SPURIOUS 0xff

#define RFLAGS_IF    (1 << 9)
#define RFLAGS_FIXED (1 << 1)

#define PTE_P   (1ull << 0)
#define PTE_RW  (1ull << 1)
#define PTE_US  (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_A   (1ull << 5)
#define PTE_D   (1ull << 6)
#define PTE_PS  (1ull << 7)

#define PF_ERR_WRITE (1u << 1)
#define PF_ERR_USER  (1u << 2)

#define PAGE_SHIFT  12
#define PAGE_SIZE   (1ull << PAGE_SHIFT)
#define CHUNK_SHIFT 21 /* one 2 MiB page: the unit of mapping and of big allocations */
#define CHUNK_SIZE  (1ull << CHUNK_SHIFT)

#ifndef __ASSEMBLER__
#include <stdint.h>

/* What entry.S pushes, lowest address first; see trap_common. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};
_Static_assert(sizeof(struct trap_frame) == 22 * 8, "entry.S builds this layout");

/* TSS.rsp0 sits at offset 4: a pointer to it must not assume alignment. */
typedef uint64_t x86_u64_unaligned __attribute__((aligned(1)));

struct x86_selectors {
	uint64_t kernel_cs, kernel_ss, user_cs, user_ss;
};
extern struct x86_selectors x86__sel;

/* A trap frame from a task (not from the kernel, which may be CPL3 too). */
static inline int x86__from_user(const struct trap_frame *f)
{
	return f->cs == x86__sel.user_cs;
}

/* entry.S: { stub, vector } pairs, ended by a zero stub; and the stubs for
 * the shadow-mode event upcall and the trap_common flavour in use. */
struct trap_stub {
	uint64_t addr;
	uint64_t vector;
};
extern const struct trap_stub trap__stub_table[];
void trap_stub_event(void);
void trap_common_native(void);
void trap_common_pv(void);
extern void *trap__common;

/* 64-bit TSS: only rsp0 is used (no IST, no I/O bitmap). */
struct tss {
	uint32_t reserved0;
	uint64_t rsp0, rsp1, rsp2;
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "hardware layout");

#endif /* __ASSEMBLER__ */
#endif
