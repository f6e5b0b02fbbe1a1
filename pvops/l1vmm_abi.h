/* SPDX-License-Identifier: MIT */
/*
 * DOC: l1vmm PV ABI, shared by the host (l1vmm) and its guests.
 *
 * C99, freestanding (only <stdint.h>), fixed-size little-endian structs with
 * _Static_assert on every size. Append-only: a new field goes at the end of a
 * struct, into its reserved space, and bumps L1_ABI_VERSION. Each field says
 * who writes it: IN = written by the host for the guest, OUT = written by the
 * guest for the host. Guest addresses are plain integers (gpa); the host
 * never dereferences one without its checked accessor (ept__gpa_ptr).
 *
 * Boot protocol (ELF64 kernels, not multiboot): every vCPU starts in 64-bit
 * long mode at CPL0 at the ELF entry point, with interrupts disabled, paging
 * on through a host-built identity map of [0, 4 GiB) and of all RAM above
 * 4 GiB (2 MiB pages, supervisor, writable), a flat host GDT (selectors
 * L1_BOOT_CS/L1_BOOT_DS), RDI = gpa of struct l1_start_info, RSI = the vCPU
 * index (0 = boot vCPU), RSP = 0 (the kernel sets its own stack). The host
 * keeps its boot structures in [0, L1_BOOT_AREA_END); a kernel image must load
 * at or above L1_BOOT_AREA_END.
 *
 * Guest physical layout: RAM at [0, ram_below_4g) and, for guests larger than
 * L1_RAM_HOLE_START, at [4 GiB, 4 GiB + mem_bytes - ram_below_4g). The hole
 * [L1_RAM_HOLE_START, 4 GiB) holds MMIO: the doorbell page, IOAPIC, LAPIC.
 */
#ifndef L1VMM_ABI_H
#define L1VMM_ABI_H

#include <stdint.h>

#define L1_ABI_VERSION 5u /* 2: shadow mode (start info fields, shared info, hypercalls);
			    3: PV balloon in both modes (shared info and hypercalls in ept mode too);
			    4: L1_HC_CPUID, l1vmm's CPUID answered without the instruction;
			    5: pseudo page faults in shadow mode (L1_FEAT_APF, L1_HC_APF) and
			       L1_HC_DP, the double-paging protocol (L1_FEAT_DP) */

/*
 * Finding l1vmm: through the boot protocol, not the CPUID instruction.
 *
 * A kernel booted by l1vmm finds struct l1_start_info in RDI with magic
 * L1_START_MAGIC; its version is the ABI version and its features the
 * L1_FEAT_* bits. That is all a guest needs to know it runs on l1vmm.
 *
 * The CPUID instruction cannot be trusted for more: where the CPU has no
 * CPUID faulting (seen on an AMD host), CPUID at CPL3 runs natively and
 * answers with the real CPU's leaves and those of the hypervisor *below*
 * l1vmm ("KVMKVMKVM" when l1vmm itself runs in a KVM guest); on such hosts
 * it does so even in ept mode at CPL0 (and a shadow-mode kernel always runs
 * at CPL3). So, as Xen PV guests do with their forced-emulation prefix, a
 * guest asks l1vmm: with L1_FEAT_CPUID, hypercall L1_HC_CPUID(leaf, subleaf)
 * answers any leaf as l1vmm's CPUID table for this vCPU says (the table
 * l1vmm gives KVM, so it matches what CPUID returns where the host does
 * intercept it): the four registers land in this vCPU's shared_info
 * vcpu[].cpuid. A leaf the table lacks answers zeros. The hypervisor leaves below are part of it:
 * 0x40000000 (signature, max leaf) and 0x40000001 (L1_FEAT_* as in start
 * info, ABI version). KVM's own leaves ("KVMKVMKVM") sit at 0x40000100.
 */

/* CPUID: hypervisor leaves (L1_HC_CPUID, and the instruction where intercepted). */
#define L1_CPUID_SIGNATURE 0x40000000u /* eax = max leaf, ebx:ecx:edx = signature */
#define L1_CPUID_FEATURES  0x40000001u /* eax = L1_FEAT_*, ebx = ABI version */
#define L1_CPUID_MAX_LEAF  L1_CPUID_FEATURES
/* The signature, read as ebx, ecx, edx: */
#define L1_CPUID_SIGNATURE_STR "L1VMML1VMM  "

#define L1_FEAT_START_INFO (1u << 0) /* RDI carries struct l1_start_info at entry */
#define L1_FEAT_TEST_EXIT  (1u << 1) /* port L1_PORT_TEST_EXIT ends the VM */
#define L1_FEAT_DOORBELL   (1u << 2) /* MMIO doorbell page at L1_DOORBELL_GPA */
#define L1_FEAT_UART       (1u << 3) /* 16550 console at L1_PORT_UART0 */
#define L1_FEAT_PV         (1u << 4) /* shadow mode: hypercalls, shared info, events */
#define L1_FEAT_BALLOON    (1u << 5) /* PV balloon: shared_info.balloon, L1_HC_BALLOON, L1_EVT_BALLOON */
#define L1_FEAT_HYPERCALL  (1u << 6) /* ept mode: hypercalls through L1_DOORBELL_HYPERCALL */
#define L1_FEAT_CPUID      (1u << 7) /* L1_HC_CPUID (ABI 4, both modes) */
#define L1_FEAT_APF        (1u << 8) /* shadow mode: pseudo page faults, L1_HC_APF (ABI 5) */
#define L1_FEAT_DP         (1u << 9) /* L1_HC_DP: the double-paging protocol (ABI 5, both modes) */

/* Port I/O. */
#define L1_PORT_UART0     0x3f8u /* 16550 subset, 8 registers */
#define L1_PORT_TEST_EXIT 0xf4u  /* 32-bit write: the VM exits with that code, unmangled
				  * (isa_debug_exit=1: with QEMU's (code << 1) | 1) */
#define L1_PORT_FW_CFG    0x510u /* QEMU's fw_cfg, legacy: selector, then data at +1 */

/* Guest-physical layout. */
#define L1_BOOT_AREA_END   0x100000ull     /* host boot structures live below 1 MiB */
#define L1_START_INFO_GPA  0x7000ull
#define L1_CMDLINE_GPA     0x8000ull
#define L1_CMDLINE_MAX     4096u           /* bytes, including the terminating NUL */
#define L1_RAM_HOLE_START  0xc0000000ull   /* RAM stops here below 4 GiB */
#define L1_RAM_HIGH_START  0x100000000ull
#define L1_DOORBELL_GPA    0xd0000000ull   /* one page, unbacked: every access exits */
#define L1_IOAPIC_GPA      0xfec00000ull
#define L1_LAPIC_GPA       0xfee00000ull

/* Boot GDT selectors installed by the host (64-bit code, data). */
#define L1_BOOT_CS 0x08u
#define L1_BOOT_DS 0x10u

/*
 * Doorbell page registers: a 32-bit or 64-bit write at these offsets exits to
 * the host. This is how CPL3 code reaches the host (port I/O from CPL3 cannot
 * rely on IOPL after an iretq).
 */
#define L1_DOORBELL_NOP  0x00u /* counted and ignored: measures the exit round trip */
#define L1_DOORBELL_EXIT 0x08u /* like L1_PORT_TEST_EXIT: the value is the exit code */
/* ept mode (L1_FEAT_HYPERCALL): a 64-bit write of the gpa of a struct
 * l1_hypercall_block makes the hypercall it describes; l1vmm writes ret
 * before the write completes. Pointer arguments are guest-physical. */
#define L1_DOORBELL_HYPERCALL 0x10u

struct l1_hypercall_block {
	uint64_t nr;      /* OUT: L1_HC_* */
	uint64_t arg[5];  /* OUT: the arguments shadow mode passes in RDI, RSI, RDX, R10, R8 */
	int64_t ret;      /* IN: the result (>= 0, or -L1_E*) */
	uint64_t pad;
};
_Static_assert(sizeof(struct l1_hypercall_block) == 64, "l1_hypercall_block is ABI");

#define L1_START_MAGIC 0x4953314cu /* "L1SI" */

enum l1_mode {
	L1_MODE_EPT = 1,    /* guest kernel at CPL0, hardware-assisted paging */
	L1_MODE_SHADOW = 2, /* guest kernel deprivileged, shadow page tables */
};

/* The start-info page: written by the host before the first instruction. */
struct l1_start_info {
	uint32_t magic;          /* IN: L1_START_MAGIC */
	uint32_t version;        /* IN: L1_ABI_VERSION */
	uint64_t mem_bytes;      /* IN: guest RAM in bytes (all regions) */
	uint64_t ram_below_4g;   /* IN: RAM at [0, ram_below_4g); the rest starts at 4 GiB */
	uint64_t cmdline_gpa;    /* IN: NUL-terminated command line */
	uint32_t cmdline_len;    /* IN: strlen of the command line */
	uint32_t nr_vcpus;       /* IN: vCPUs started, all at the entry point */
	uint64_t tsc_khz;        /* IN: TSC frequency, 0 if unknown */
	uint64_t apic_bus_hz;    /* IN: LAPIC timer input clock (before the divider) */
	uint64_t image_start;    /* IN: lowest gpa the kernel image occupies */
	uint64_t image_end;      /* IN: first gpa above the image and, in shadow mode,
				  *     above the host-built boot page tables (page aligned) */
	uint32_t mode;           /* IN: enum l1_mode */
	uint32_t features;       /* IN: L1_FEAT_* (same as CPUID 0x40000001 eax) */
	/* ABI 2, shadow mode; ABI 3: shared_info_gpa in ept mode too (only its
	 * balloon part is used there): */
	uint64_t shared_info_gpa;/* IN: struct l1_shared_info, one page, inside RAM */
	uint64_t boot_pml4_gpa;  /* IN: the page tables the guest starts on */
	uint64_t hypercall_va;   /* IN: L1_SHADOW_HYPERCALL_VA */
	uint8_t reserved[24];    /* zero; later ABI versions append here */
};
_Static_assert(sizeof(struct l1_start_info) == 128, "l1_start_info is ABI");

/*
 * ---- Shadow mode (ABI 2) ----
 *
 * The guest kernel runs at CPL3 (ring compression) on page tables l1vmm
 * builds from the guest's own ("shadow page tables"). Entry: every vCPU
 * starts at the ELF entry at CPL3 with CS = L1_SHADOW_KERNEL_CS, SS =
 * L1_SHADOW_KERNEL_SS, RDI = start info gpa, RSI = vCPU index, RSP = 0,
 * events masked, on host-built page tables (boot_pml4_gpa) that identity-map
 * RAM with 4 KiB pages, writable except the page-table pages themselves.
 * Nothing privileged works: the guest talks to l1vmm through hypercalls and
 * the shared-info page.
 *
 * Virtual layout: the guest owns [0, L1_SHADOW_GUEST_VA_END) (PML4 slots
 * 0..255); PML4 slot 511 belongs to l1vmm (its trap stub, descriptor tables,
 * supervisor-only, and the hypercall page, user-accessible).
 *
 * Code selectors: two CPL3 code segments tell l1vmm whether the guest was
 * in its kernel or in one of its tasks when a trap or event arrives. From
 * L1_SHADOW_USER_CS it switches to the vCPU's kernel stack (shared info
 * kernel_sp) and enters the handler with L1_SHADOW_KERNEL_CS; from
 * L1_SHADOW_KERNEL_CS it stays on the current stack. The guest moves to a
 * task by returning (iret hypercall) to a frame with L1_SHADOW_USER_CS.
 */
#define L1_SHADOW_GUEST_VA_END  0x0000800000000000ull
#define L1_SHADOW_HYPERCALL_VA  0xffffffffff000000ull
/*
 * Shadow mode's device window: page i of [L1_SHADOW_MMIO_VA,
 * + L1_SHADOW_MMIO_BYTES) is guest-physical L1_DOORBELL_GPA + i * 4096, so
 * the virtio-mmio devices l1vmm places right after the doorbell (the command
 * line's virtio_mmio.device=, e.g. 0xd0002000) are at L1_SHADOW_MMIO_VA +
 * (gpa - L1_DOORBELL_GPA); page 0 is the hypercall page. Every access exits
 * to l1vmm, which serves it as an access to that device; only the guest
 * kernel's (L1_SHADOW_KERNEL_CS) are served, a task's reads all ones.
 */
#define L1_SHADOW_MMIO_VA       L1_SHADOW_HYPERCALL_VA
#define L1_SHADOW_MMIO_BYTES    0x10000ull
#define L1_SHADOW_KERNEL_CS     0x2bu /* GDT[5], 64-bit code, DPL3 */
#define L1_SHADOW_KERNEL_SS     0x23u /* GDT[4], data, DPL3 */
#define L1_SHADOW_USER_CS       0x3bu /* GDT[7], 64-bit code, DPL3 */
#define L1_SHADOW_USER_SS       0x33u /* GDT[6], data, DPL3 */

/*
 * Hypercalls: the guest writes the hypercall number to the hypercall page,
 * `movabs %rax, L1_SHADOW_HYPERCALL_VA` with RAX = L1_HC_*, arguments in
 * RDI, RSI, RDX, R10, R8. The result comes back in RAX: >= 0 success,
 * -L1_E* failure. Other registers are preserved. Guest pointers are guest
 * virtual addresses, translated through the guest's page tables.
 */
enum l1_hypercall {
	L1_HC_CONSOLE = 1,      /* () drain the console ring of shared info */
	L1_HC_SET_TIMER,        /* (deadline_ns) one-shot timer on pvclock time; 0 cancels */
	L1_HC_BLOCK,            /* () sleep until an event is pending; unmasks events */
	L1_HC_YIELD,            /* () deliver pending unmasked events now */
	L1_HC_MMU_UPDATE,       /* (struct l1_mmu_update *reqs, count) -> count applied */
	L1_HC_NEW_BASEPTR,      /* (pml4_gpa) validate the tree and switch to it */
	L1_HC_FLUSH,            /* (va or L1_FLUSH_ALL) drop shadow translations */
	L1_HC_SET_TRAP_TABLE,   /* (struct l1_trap_info *table, count) */
	L1_HC_IRET,             /* () return through the frame at RSP (struct l1_iret_frame) */
	L1_HC_EXIT,             /* (code) end the VM with this exit code */
	L1_HC_VCPU_INFO,        /* () -> this vCPU's index */
	L1_HC_BALLOON,          /* (op, uint64_t *gfns, count, order) -> extents done (both modes) */
	L1_HC_CPUID,            /* (leaf, subleaf) -> 0; the registers in this vCPU's
				 * l1_vcpu_info.cpuid (ABI 4, both modes; -L1_EINVAL for
				 * a leaf or subleaf above 32 bits) */
	L1_HC_APF,              /* (op, flags) -> 0: pseudo page faults on this vCPU
				 * (ABI 5, shadow mode; op L1_APF_ENABLE, L1_APF_DISABLE;
				 * flags 0, -L1_EINVAL otherwise) */
	L1_HC_DP,               /* (op, ...) the double-paging protocol (ABI 5, below) */
	L1_HC_NR                /* first unused number */
};

/* Errors, returned negated. */
#define L1_EPERM   1  /* not allowed: a mapping the guest may not make */
#define L1_EFAULT 14  /* a guest pointer that does not translate, or not writable */
#define L1_EINVAL 22  /* a malformed request */
#define L1_E2BIG   7  /* a count above the limit */
#define L1_ENOSYS 38  /* no such hypercall */
#define L1_ENOMEM 12  /* l1vmm ran out of machine memory for shadow tables */

#define L1_MMU_UPDATE_MAX 512u /* entries in one L1_HC_MMU_UPDATE */
#define L1_FLUSH_ALL ((uint64_t)-1)

/* One page-table write: *(uint64_t *)ptr = val, where ptr is the guest-physical
 * address of an entry in one of the guest's current page-table pages. */
struct l1_mmu_update {
	uint64_t ptr; /* OUT: gpa of the entry, 8-byte aligned */
	uint64_t val; /* OUT: the new entry */
};
_Static_assert(sizeof(struct l1_mmu_update) == 16, "l1_mmu_update is ABI");

/* One trap-table entry: exceptions and events for vector go to handler. */
struct l1_trap_info {
	uint8_t vector;   /* OUT: 0..255; L1_EVENT_VECTOR is the event upcall */
	uint8_t pad[7];
	uint64_t handler; /* OUT: guest VA; 0 removes the entry */
};
_Static_assert(sizeof(struct l1_trap_info) == 16, "l1_trap_info is ABI");
#define L1_TRAP_TABLE_MAX 256u

/*
 * A bounce: l1vmm enters handler with RSP pointing at the frame a CPU would
 * push (error code only for the vectors that have one), with events masked;
 * the frame's rflags.IF (bit 9) says whether they were unmasked before.
 * For #PF the faulting address is in the vCPU's shared info (cr2).
 * L1_HC_IRET returns through struct l1_iret_frame at RSP: the guest pushes
 * its RAX on top of the hardware-shaped frame, so no register is lost.
 */
#define L1_EVENT_VECTOR 32u
struct l1_iret_frame {
	uint64_t rax, rip, cs, rflags, rsp, ss; /* OUT */
};
_Static_assert(sizeof(struct l1_iret_frame) == 48, "l1_iret_frame is ABI");

/* Event bits (l1_vcpu_info.pending). */
#define L1_EVT_TIMER   (1u << 0)
#define L1_EVT_CONSOLE (1u << 1)
#define L1_EVT_BALLOON (1u << 2) /* shared_info.balloon.target_frames changed (vCPU 0) */
#define L1_EVT_APF_READY (1u << 3) /* l1_vcpu_info.apf_ready holds a token (ABI 5) */

/*
 * ---- Pseudo page faults (ABI 5, L1_FEAT_APF, shadow mode) ----
 *
 * When a vCPU that enabled them (L1_HC_APF op L1_APF_ENABLE, per vCPU)
 * touches from a task (L1_SHADOW_USER_CS) a page host reclaim holds in its
 * store, l1vmm does not stall the vCPU while it fetches the page: it starts
 * the fetch on a worker and bounces a #PF whose vcpu[].cr2 is a token
 * (nonzero, 32 bits) and whose vcpu[].apf_reason is L1_APF_NOT_PRESENT.
 * The guest zeroes apf_reason, parks the task on the token and runs another.
 * When the page is back, l1vmm writes the token into vcpu[].apf_ready (only
 * while it is 0) and raises L1_EVT_APF_READY; the guest reads the token,
 * zeroes apf_ready (that is the acknowledgement: the next one can come) and
 * wakes the task, which retries its access. Token L1_APF_WAKE_ALL wakes
 * every task parked on the vCPU. A token goes to ready exactly once.
 *
 * At most L1_APF_TOKENS tokens are outstanding per vCPU (issued and not yet
 * written to apf_ready); past that, and for a fault in the guest kernel, the
 * vCPU waits for the fetch as without pseudo page faults. A guest that never
 * zeroes apf_ready therefore costs l1vmm nothing more than its token table.
 * Faults that touch one page at once get a token each, one fetch. A page
 * whose fetch failed gets no token until it is back: the vCPU waits for it.
 *
 * L1_APF_DISABLE, or L1_APF_ENABLE again, forgets the vCPU's tokens; if any
 * was outstanding, l1vmm writes L1_APF_WAKE_ALL into apf_ready (over a token
 * not taken yet) and raises L1_EVT_APF_READY, so no parked task waits for a
 * "ready" that will not come (the event comes even with them disabled).
 */
#define L1_APF_ENABLE 1u
#define L1_APF_DISABLE 2u
#define L1_APF_NOT_PRESENT 1u      /* apf_reason: this #PF is "page not present (token)" */
#define L1_APF_TOKENS 64u          /* outstanding tokens per vCPU (KVM's ASYNC_PF_PER_VCPU) */
#define L1_APF_WAKE_ALL 0xffffffffu

/*
 * ---- PV balloon (ABI 3, L1_FEAT_BALLOON, both modes) ----
 *
 * l1vmm publishes in shared_info.balloon how many 4 KiB frames it wants in
 * the balloon (target_frames) and raises the balloon event on vCPU 0: in
 * shadow mode L1_EVT_BALLOON, in ept mode an interrupt at the LAPIC vector
 * the guest put in event_vector (none while it is 0). The guest's driver
 * gives frames back or takes them back with L1_HC_BALLOON:
 *   op L1_BALLOON_INFLATE: the frames of each extent are given back; l1vmm
 *     releases their host memory. The guest must not touch them until it
 *     has taken them back; if it does, it reads zeros (and its writes may be
 *     dropped at any time).
 *   op L1_BALLOON_DEFLATE: the frames are the guest's again, reading zero
 *     (unless the guest wrote them while they were in the balloon).
 * An extent is the 2^order frames starting at gfns[i] (aligned to 2^order,
 * order <= L1_BALLOON_MAX_ORDER), at most L1_BALLOON_MAX_EXTENTS per call;
 * the gfn list is read through the guest's page tables in shadow mode and
 * is a gpa in ept mode. Extents are taken in order; the result is how many
 * were done; the first refused one stops the call (-L1_EINVAL if it was the
 * first: not RAM, below L1_BALLOON_MIN_GFN, inflating a frame already in
 * the balloon, or one of the guest's page tables in shadow mode, or
 * deflating one that is not in the balloon; -L1_EPERM: l1vmm does not take
 * frames from this guest now, e.g. its memory is shared by page sharing).
 * The guest keeps stats current (seqcount: stats_seq odd while it writes).
 */
#define L1_BALLOON_INFLATE 1u
#define L1_BALLOON_DEFLATE 2u
#define L1_BALLOON_MAX_EXTENTS 512u
#define L1_BALLOON_MAX_ORDER 9u       /* 2 MiB */
#define L1_BALLOON_MIN_GFN (L1_BOOT_AREA_END >> 12) /* the boot area stays */

/*
 * ---- No double paging (ABI 5, L1_FEAT_DP, both modes) ----
 *
 * A guest that pages for itself (writes its own pages to its disk) and
 * l1vmm, which evicts guest frames to its compressed store, must not page
 * the same frame twice: l1vmm fetching a frame back only for the guest to
 * write it out and drop it. Three parts:
 *
 * L1_HC_DP(L1_DP_REGISTER, gfn, pages): the bitmap. The guest gives l1vmm
 *   `pages` frames of its RAM from `gfn` on (at most L1_DP_BITMAP_MAX_PAGES;
 *   0 pages: no bitmap), one bit per guest frame, frame f at bit f % 64 of
 *   little-endian uint64_t word f / 64. l1vmm sets the bit when it moves the
 *   frame into its store and clears it when the frame leaves the store
 *   (fetched back, or dropped on a hint, a free page report, the balloon).
 *   The bits are IN (l1vmm writes them with atomic operations; the guest only
 *   reads them) and a hint: a frame may change state right after the guest
 *   read its bit. l1vmm keeps those frames out of page sharing and never
 *   evicts them. -L1_EINVAL: frames that are not RAM, below
 *   L1_BALLOON_MIN_GFN, or page tables (shadow mode); -L1_E2BIG: too many.
 *   The guest's swap prefers victims whose frames are not in the store.
 *
 * L1_HC_DP(L1_DP_HINT, list, count, kind): frames whose content the guest
 *   no longer needs: kind L1_DP_DROPPED (it wrote them to its disk, or
 *   dropped them) or L1_DP_FREE (free memory). list is count uint64_t gfns
 *   (a guest-virtual address in shadow mode, a gpa in ept mode), count at
 *   most L1_DP_HINT_MAX. l1vmm discards each frame: its host page is
 *   released and, if the frame is in the store, its stored bytes are dropped,
 *   never fetched; the frame reads zero afterwards. Frames are taken in
 *   order; the result is how many were done; the first refused one stops the
 *   call (-L1_EINVAL if it was the first: not RAM, below L1_BALLOON_MIN_GFN,
 *   a page table or the bitmap; a frame page sharing holds is skipped, not
 *   refused). A bad kind or list: -L1_EINVAL, -L1_E2BIG, -L1_EFAULT.
 *   Kind L1_DP_ZEROED is L1_DP_DROPPED for frames the guest will reuse at
 *   once and wants zero: the result counts the frames, from the first on,
 *   that read zero now, so the guest need not clear them itself; a frame
 *   l1vmm skips (page sharing holds it) ends the call there, and with the
 *   protocol off the call does nothing and returns 0.
 *
 * Disk writes from the store: when the guest writes a frame l1vmm holds in
 *   its store to its virtio-blk disk, the bytes go from the store to the
 *   disk file, and the frame stays in the store (the guest then hints it
 *   dropped); a disk read that overwrites a whole stored frame drops the
 *   stored bytes instead of fetching them. Nothing to call: it is how l1vmm
 *   serves the device.
 *
 * With vms/NAME/reclaim/cooperative 0 the protocol is off for the VM: the
 * bitmap is not updated, hints are ignored (the call succeeds and does
 * nothing) and the disk reads every frame back first.
 */
#define L1_DP_REGISTER 1u
#define L1_DP_HINT 2u
#define L1_DP_DROPPED 1u
#define L1_DP_FREE 2u
#define L1_DP_ZEROED 3u
#define L1_DP_HINT_MAX 512u
#define L1_DP_BITMAP_MAX_PAGES 64u /* 2 Mi frames: 8 GiB of guest RAM */

/* Statistics tags: 0..9 are virtio-balloon's (virtio 1.2 §5.5.6.3); values in
 * bytes for memory sizes, in pages or events for the counters. */
enum l1_balloon_stat {
	L1_BSTAT_SWAP_IN = 0, L1_BSTAT_SWAP_OUT, L1_BSTAT_MAJFLT, L1_BSTAT_MINFLT,
	L1_BSTAT_MEMFREE, L1_BSTAT_MEMTOT, L1_BSTAT_AVAIL, L1_BSTAT_CACHES,
	L1_BSTAT_HTLB_PGALLOC, L1_BSTAT_HTLB_PGFAIL,
	L1_BSTAT_OOM = 10,     /* allocations that failed for want of memory */
	L1_BSTAT_OOM_DEFLATE,  /* frames the guest took back on its own to avoid one */
	L1_BSTAT_NR = 16
};

#define L1_BALLOON_G_READY          (1u << 0) /* OUT: a driver runs */
#define L1_BALLOON_G_DEFLATE_ON_OOM (1u << 1) /* OUT: it takes frames back before an OOM */

struct l1_balloon_info {
	uint64_t target_frames;  /* IN: frames l1vmm wants in the balloon */
	uint64_t actual_frames;  /* IN: frames in the balloon now, by l1vmm's count */
	uint32_t event_vector;   /* OUT, ept mode: LAPIC vector of the balloon event, 0 = none */
	uint32_t flags;          /* OUT: L1_BALLOON_G_* */
	uint32_t stats_seq;      /* OUT: odd while stats[] is being written */
	uint32_t pad;
	uint64_t stats[L1_BSTAT_NR]; /* OUT: enum l1_balloon_stat */
	uint8_t reserved[96];
};
_Static_assert(sizeof(struct l1_balloon_info) == 256, "l1_balloon_info is ABI");

#define L1_CONSOLE_RING 512u /* bytes, a power of two */
#define L1_MAX_PV_VCPUS 32u

/* Time: ns = system_time_ns + (rdtsc() - tsc_timestamp) * 10^6 / tsc_khz. */
struct l1_pvclock {
	uint32_t version;        /* IN: odd while the host updates the fields */
	uint32_t pad;
	uint64_t tsc_timestamp;  /* IN */
	uint64_t system_time_ns; /* IN */
	uint64_t tsc_khz;        /* IN */
};
_Static_assert(sizeof(struct l1_pvclock) == 32, "l1_pvclock is ABI");

struct l1_vcpu_info {
	uint32_t pending;        /* IN (host sets bits), OUT (guest clears what it handled) */
	uint32_t masked;         /* OUT: nonzero = no upcalls (the virtual IF=0) */
	uint64_t cr2;            /* IN: the faulting address of the last #PF bounce */
	uint64_t kernel_sp;      /* OUT: the stack a trap from a task lands on */
	uint32_t cpuid[4];       /* IN: eax, ebx, ecx, edx of this vCPU's last L1_HC_CPUID
				  *     (ABI 4; valid once the hypercall returned) */
	uint32_t apf_reason;     /* IN: L1_APF_NOT_PRESENT with a #PF bounce; OUT: the guest zeroes it */
	uint32_t apf_ready;      /* IN: a token whose page is back (written only while 0);
				  * OUT: the guest zeroes it once it took the token (ABI 5) */
	uint64_t reserved[2];
};
_Static_assert(sizeof(struct l1_vcpu_info) == 64, "l1_vcpu_info is ABI");

/* The shared-info page (one page of guest RAM, start_info.shared_info_gpa). */
struct l1_shared_info {
	struct l1_vcpu_info vcpu[L1_MAX_PV_VCPUS];   /* 2048 bytes */
	struct l1_pvclock clock;                      /* IN */
	uint32_t console_prod;   /* OUT: bytes written into console_ring (free-running) */
	uint32_t console_cons;   /* IN: bytes l1vmm has taken out (free-running) */
	struct l1_balloon_info balloon; /* ABI 3 */
	uint8_t reserved[1240];
	uint8_t console_ring[L1_CONSOLE_RING]; /* OUT: guest console output */
};
_Static_assert(sizeof(struct l1_shared_info) == 4096, "l1_shared_info is one page");

#define L1_ELF_NOTE_NAME "L1VMM"   /* an ELF note with this name ... */
#define L1_ELF_NOTE_PV   1u        /* ... and this type marks a PV-capable kernel */

#endif /* L1VMM_ABI_H */
