/* SPDX-License-Identifier: MIT */
/*
 * DOC: l1guest system-call ABI, shared by the guest kernel and its tasks.
 *
 * A task enters the kernel with `int $0x80`: rax = number, arguments in
 * rdi, rsi, rdx, rcx, r8; the result comes back in rax and every other
 * register is preserved. Results >= 0 are success; errors are -L1G_E*.
 * Pointers must lie entirely in user memory (the user image, task stacks,
 * SYS_MEM_ALLOC regions), else the call fails with -L1G_EFAULT.
 */
#ifndef L1G_UAPI_H
#define L1G_UAPI_H

#include <stdint.h>

enum l1g_sys {
	SYS_WRITE = 0,      /* (buf, len) -> len: console output, one piece */
	SYS_EXIT,           /* (status) -> no return */
	SYS_SPAWN,          /* (start, fn, arg, cpu) -> tid: new task at start(fn, arg); cpu -1 = spread */
	SYS_JOIN,           /* (tid) -> status of the task once it is dead; reaps it */
	SYS_YIELD,          /* () -> 0 */
	SYS_WAIT,           /* (uint64_t *addr, expected) -> 0 when woken, -EAGAIN if *addr != expected */
	SYS_WAKE,           /* (uint64_t *addr, max) -> number of tasks woken */
	SYS_TICKS,          /* () -> timer ticks since boot (CPU 0's tick) */
	SYS_SLEEP_UNTIL,    /* (tick) -> 0 once ticks >= tick */
	SYS_MEM_ALLOC,      /* (bytes) -> address: 2 MiB aligned, contiguous, user; not zeroed */
	SYS_MEM_FREE,       /* (address) -> 0 */
	SYS_INFO,           /* (struct l1g_info *) -> 0 */
	SYS_POWEROFF,       /* (code) -> no return: the VM exits with code */
	SYS_KTEST,          /* (which) -> 0 or a negative code: kernel-internal self checks */
	SYS_SET_HZ,         /* (hz) -> 0: every CPU re-arms its tick at that rate */
	SYS_CRASH,          /* () -> no return: the kernel triple-faults on purpose */
	SYS_SELF,           /* () -> tid | cpu << 32 */
	SYS_PVTEST,         /* (which, arg) -> >= 0 or negative: shadow-mode probes (L1G_PVT_*) */
	SYS_CPUID,          /* (leaf, subleaf, uint32_t regs[4]) -> 0: what l1vmm's CPUID says on
			     * this CPU (L1_HC_CPUID); the instruction may answer for the
			     * hardware below l1vmm instead */
	SYS_SWAP_ALLOC,     /* (bytes) -> address of a region the kernel pages to its disk
			     * (`swap=virtio`); demand-zero, one region at a time */
	SYS_SWAP_FREE,      /* (address) -> 0: the region's frames and disk slots freed */
	SYS_SWAP_STATS,     /* (struct l1g_swap_stats *) -> 0 */
	SYS_DISK_IO,        /* (op, sector, buf, len) -> 0: op 0 reads, 1 writes len bytes (512
			     * multiple, <= 1 MiB) of the virtio-blk disk; 2 flushes */
	SYS_APF_STATS,      /* (struct l1g_apf_stats *) -> 0: pseudo page faults (kernel/apf.c) */
	SYS_NR
};

#define L1G_EPERM  1
#define L1G_ESRCH  3
#define L1G_EIO    5
#define L1G_EAGAIN 11
#define L1G_ENOMEM 12
#define L1G_EFAULT 14
#define L1G_EINVAL 22
#define L1G_ENOSYS 38

/* Status of a task killed by an exception (vector), as SYS_JOIN reports it. */
#define L1G_STATUS_KILLED(vec) (0x10000 | (vec))
#define L1G_STATUS_IS_KILLED(s) (((s) & ~0xff) == 0x10000)

/* SYS_KTEST "which" */
#define L1G_KTEST_FRAMES 1
#define L1G_KTEST_BALLOON_TOUCH 2 /* read, then write, a chunk in the balloon: -> nonzero bytes read, -1 when empty */

/*
 * SYS_PVTEST "which" (shadow mode only; -L1G_ENOSYS in ept mode). Each is
 * a kernel-side step of a selftest check or a hostile case; see
 * kernel/pvtest.c for the failure codes.
 */
enum l1g_pvt {
	L1G_PVT_MASKING = 1,   /* () -> 0: masked events pend, unmask + yield delivers */
	L1G_PVT_MMU_MAP,       /* () -> PV_SPARE_VA: 4 frames mapped there in one batch */
	L1G_PVT_MMU_UNMAP,     /* () -> 0: unmapped and flushed, frames freed */
	L1G_PVT_UPCALLS,       /* (cpu) -> event upcalls that cpu has taken */
	L1G_PVT_HOSTILE,       /* (enum l1g_hostile) -> what l1vmm answered (< 0: refused) */
	L1G_PVT_PTE_OF_NULL,   /* () -> gpa of the PTE that maps va 0 (left unmapped) */
	L1G_PVT_NR_FRAMES,     /* () -> frames of RAM (gfns the guest owns) */
	L1G_PVT_RESTORE,       /* () -> 1 if a hostile mapping at va 0 had to be undone, else 0 */
	L1G_PVT_NULL_HYPERCALLS, /* (n <= 10000) -> TSC cycles n L1_HC_VCPU_INFO round trips took */
	L1G_PVT_ATTACK,        /* (kind | regions << 4 | 2 MiB-aligned user address) -> one round
				* of workload=attack (kernel/pvattack.c): 0 or what l1vmm said */
	L1G_PVT_DP_MOVE,       /* (rounds) -> 0: the double-paging bitmap moved that many times,
				* its frames pinned only while registered (kernel/pvtest.c) */
};

/* L1G_PVT_ATTACK kinds. */
enum l1g_attack {
	L1G_ATTACK_ALIAS = 1,    /* one frame under every leaf of `regions` 2 MiB, then FLUSH(ALL) */
	L1G_ATTACK_FLUSHSTORM,   /* `regions` FLUSH(ALL) in a row */
	L1G_ATTACK_VALIDATE,     /* NEW_BASEPTR of a large tree refused at its last leaf */
	L1G_ATTACK_QUOTA,        /* a shadow table per 2 MiB touched, `regions` of them */
};

/* The pattern L1G_PVT_MMU_MAP writes: word w of mapped page p. */
#define L1G_PVT_PATTERN(p, w) (0x5056000000000000ull ^ ((uint64_t)(p) << 32) ^ (w))

/* L1G_PVT_HOSTILE cases: one bad hypercall each, made by the kernel. */
enum l1g_hostile {
	L1G_HOSTILE_FOREIGN_GFN = 1, /* mmu_update: a leaf to a gfn past the guest's RAM */
	L1G_HOSTILE_MACHINE_ADDR,    /* mmu_update: a leaf to 1 TiB (a "machine address") */
	L1G_HOSTILE_PT_WRITABLE,     /* mmu_update: a writable leaf to our own PML4 */
	L1G_HOSTILE_MMU_BAD_PTR,     /* mmu_update: the request array at an unmapped va */
	L1G_HOSTILE_TRAPS_COUNT,     /* set_trap_table: count 100000 */
	L1G_HOSTILE_TRAPS_PTR,       /* set_trap_table: table at 0xffffffff80000000 */
	L1G_HOSTILE_CONSOLE,         /* console: prod 1 GiB ahead -> bytes l1vmm took */
	L1G_HOSTILE_MMU_TOO_MANY,    /* mmu_update: L1_MMU_UPDATE_MAX + 1 entries */
	L1G_HOSTILE_UNKNOWN_HC,      /* hypercall number L1_HC_NR + 1000 */
};

struct l1g_info {
	uint64_t mem_bytes;      /* guest RAM */
	uint64_t tsc_khz;        /* 0 if unknown */
	uint64_t boot_tsc;       /* TSC when CPU 0 entered the kernel */
	uint64_t user_free;      /* bytes SYS_MEM_ALLOC could still hand out (not contiguous) */
	uint32_t nr_cpus;        /* CPUs running tasks */
	uint32_t hz;             /* tick rate */
	uint32_t mode;           /* enum l1_mode */
	uint32_t abi_version;    /* L1_ABI_VERSION the host gave */
	char pvops[16];          /* pv_ops backend name */
	uint64_t balloon_bytes;  /* memory in the balloon (given back to the host) */
	uint32_t features;       /* L1_FEAT_* the host gave (start info) */
	uint32_t pad;
};

/* SYS_SWAP_STATS: the kernel's own paging (kernel/swap.c). */
struct l1g_swap_stats {
	uint64_t enabled;        /* 1 with swap=virtio and a working disk */
	uint64_t swap_outs;      /* pages written to the disk and unmapped */
	uint64_t swap_ins;       /* pages read back at a fault */
	uint64_t zero_fills;     /* first touches (a zeroed frame) */
	uint64_t resident;       /* region pages in RAM now */
	uint64_t slots_used;     /* disk slots (4 KiB) holding a page now */
	uint64_t slots;          /* disk slots in all */
	uint64_t io_errors;      /* disk requests that failed */
	uint64_t clock_steps;    /* pages the clock hand passed */
	uint64_t host_passed;    /* victims passed over once: l1vmm holds their frames in its
				  * store (the double-paging bitmap) */
	uint64_t host_hinted;    /* frames written out while in l1vmm's store, hinted dropped */
	uint64_t host_bitmap;    /* 1: l1vmm's store bitmap is registered */
	/* TSC cycles spent in the swap fault path (a profile of the guest's own paging) */
	uint64_t faults;         /* region faults that got a frame */
	uint64_t tsc_fault;      /* in those faults, in all */
	uint64_t tsc_clock;      /* choosing victims and unmapping them (evict_batch's scan) */
	uint64_t tsc_out;        /* swap-out disk writes */
	uint64_t tsc_in;         /* swap-in disk reads */
	uint64_t tsc_zero;       /* zero fills (ept: a read of slot 0) */
	uint64_t tsc_hint;       /* L1_DP_HINT hypercalls */
	uint64_t tsc_map;        /* mapping the faulting page (set_pte, commit) */
	uint64_t zero_hinted;    /* zero fills with no work: l1vmm had made the frame zero
				  * (L1_DP_ZEROED) */
};

/* SYS_APF_STATS: pseudo page faults seen by the kernel, all CPUs. */
struct l1g_apf_stats {
	uint64_t enabled;        /* CPUs on which the host took the enable (apf=1) */
	uint64_t not_present;    /* "page not present" faults: a task parked */
	uint64_t ready;          /* "page ready" tokens taken */
	uint64_t woken;          /* parked tasks woken by a ready */
	uint64_t early;          /* ready before its not-present: the park returned at once */
	uint64_t full;           /* not-present with the CPU's table full: retried at once */
	uint64_t unknown;        /* ready for a token nobody waits on (after a wake-all) */
	uint64_t parked;         /* tasks parked now */
	uint64_t wake_all;       /* "wake every parked task" (KVM sends one when enabled) */
	uint64_t toggles;        /* apf=toggle: off and on again with tasks parked */
};

#endif
