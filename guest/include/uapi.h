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
	SYS_NR
};

#define L1G_EPERM  1
#define L1G_ESRCH  3
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
};

#endif
