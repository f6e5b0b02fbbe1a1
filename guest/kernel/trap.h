/* SPDX-License-Identifier: MIT */
/*
 * DOC: trap dispatch: every interrupt, exception and system call.
 */
#ifndef L1G_KERNEL_TRAP_H
#define L1G_KERNEL_TRAP_H

#include "arch/x86/x86.h"
#include "kernel/sched.h"

/* Called by entry.S with the frame it built; returns the frame to resume. */
struct trap_frame *trap__dispatch(struct trap_frame *f);

/* The kernel cannot go on: print why and triple-fault (the host reports a crash). */
__attribute__((noreturn, format(printf, 1, 2))) void trap__panic(const char *fmt, ...);

/* syscall.c: run the call in f->rax for cur; the result goes to f->rax. */
void syscall__dispatch(struct task *cur, struct trap_frame *f);

/* ktest.c: SYS_KTEST, kernel-internal self checks: 0 or a negative failure code. */
int64_t ktest__run(uint64_t which);

/* pvtest.c: SYS_PVTEST, shadow-mode probes for selftest and hostile:
 * a result >= 0, or a negative failure / refusal code (-L1G_ENOSYS in ept mode). */
int64_t pvtest__run(uint64_t which, uint64_t arg);
/* One round of workload=attack (L1G_PVT_ATTACK), kernel/pvattack.c. */
int64_t pvattack__round(uint64_t arg);

#endif
