/* SPDX-License-Identifier: MIT */
/*
 * DOC: tasks, CPUs and the scheduler.
 *
 * A task is a CPL3 thread of the one user address space. Its struct task
 * sits at the base of its 8 KiB kernel stack, so the running task is found
 * from %rsp alone (no per-CPU segment base, no swapgs). Each CPU has an idle
 * task (a kernel loop of "hlt with interrupts on") and a run queue of
 * runnable tasks that are not running; a task stays on the CPU it was spawned
 * on. Scheduling happens only on the way out of trap__dispatch: a switch is
 * "resume another task's saved trap frame" (plus the kernel stack for its
 * next trap: TSS.rsp0, or shared info kernel_sp in shadow mode).
 *
 * States: RUNNABLE (running, or on its CPU's run queue), BLOCKED (on a wait
 * queue, sleeping or joining), DEAD (exited; its kernel stack may still be
 * in use until its CPU switches away), ZOMBIE (nothing uses it any more; a
 * join reaps it).
 *
 * Blocking system calls are restarted, not continued: the call puts the task
 * to sleep and rewinds rip over the `int $0x80`, so once woken it simply
 * issues the call again and re-checks its condition. The kernel therefore
 * never needs a kernel-side continuation, and wakeups may be spurious.
 */
#ifndef L1G_KERNEL_SCHED_H
#define L1G_KERNEL_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/x86.h"
#include "kernel/config.h"
#include "kernel/spinlock.h"

enum task_state { T_RUNNABLE = 0, T_BLOCKED, T_DEAD, T_ZOMBIE };

struct task;

/* Tasks waiting for one event; protected by the lock of whoever owns it. */
struct waitq {
	struct task *head;
};

struct task {
	struct trap_frame *frame;   /* saved user (or idle) state; valid while not running */
	struct task *next;          /* run queue or wait queue link (only on one at a time) */
	struct cpu *cpu;            /* fixed at spawn */
	volatile int state;         /* enum task_state; changed under cpu->rq.lock or tasks_lock */
	uint32_t tid;               /* 1.. ; 0 for idle tasks */
	int64_t status;             /* exit status, valid from T_DEAD on */
	uint64_t wait_key;          /* SYS_WAIT: address waited on (futex_lock) */
	uint64_t wake_tick;         /* sleeping: tick to wake at (cpu-local list) */
	uint64_t ustack;            /* user stack base, 0 for idle */
	uint64_t stale_fault;       /* last #PF address retried as a stale TLB entry */
	unsigned stale_retries;     /* retries in a row at stale_fault */
	struct waitq exit_wq;       /* joiners (tasks_lock) */
};

struct runqueue {
	struct spinlock lock;
	struct task *head, *tail;   /* runnable, not running */
	struct task *current;       /* running on this CPU; NULL before the CPU is up */
};

struct cpu {
	uint32_t index;
	uint32_t hw_id;             /* for pv_ops.timer.send_ipi */
	struct task *idle;
	struct runqueue rq;
	uint64_t ticks;             /* this CPU's ticks */
	uint32_t armed_hz;          /* the rate this CPU's tick is armed at */
	bool need_resched;          /* pick another task on the way out of this trap */
	struct task *dead;          /* switched away from while T_DEAD: make it a zombie */
	struct task *sleepers;      /* sorted by wake_tick; only this CPU touches it */
	x86_u64_unaligned *kernel_sp; /* where the running task's kernel stack top goes
				     * (pv_ops.cpu.kernel_stack_slot); set by gdt__init_cpu */
	struct tss tss __attribute__((aligned(16)));
	uint64_t gdt[GDT_SLOTS] __attribute__((aligned(16)));
};

extern struct cpu cpus[MAX_CPUS];
extern unsigned int nr_cpus;
extern volatile uint64_t sched__ticks; /* CPU 0's ticks: the system clock */
extern volatile uint32_t sched__hz;

static inline struct task *sched__current(void)
{
	uint64_t sp;

	__asm__("mov %%rsp, %0" : "=r"(sp));
	return (struct task *)(sp & ~(uint64_t)(KSTACK_SIZE - 1));
}

static inline uint64_t sched__kstack_top(struct task *t)
{
	return (uint64_t)t + KSTACK_SIZE;
}

/* Boot: CPU 0 prepares every CPU's run queue and idle task. */
void sched__init(unsigned int ncpus);
/* Each CPU, last step of boot: become the idle loop. Never returns. */
__attribute__((noreturn)) void sched__run_idle(struct cpu *cpu);
/* Fake an interrupt from kernel code to reschedule (entry.S). */
void sched__kyield(void);

/*
 * New CPL3 task that starts at start(fn, arg) (rdi, rsi) on its own user
 * stack, on CPU cpu (or spread when cpu < 0). Returns the tid or -L1G_E*.
 */
int64_t sched__spawn(uint64_t start, uint64_t fn, uint64_t arg, int cpu);
/* The running task ends with status; the CPU switches away on trap exit. */
void sched__exit(struct task *t, int64_t status);
/* A system call's "result" meaning: do not touch rax, the call is issued again. */
#define SCHED_RESTART INT64_MIN

/* SYS_JOIN: status, -L1G_ESRCH, or SCHED_RESTART after blocking until the task is a zombie. */
int64_t sched__join(struct task *cur, struct trap_frame *f, uint32_t tid);

/* Put the running task t on wq (caller holds wq's lock) and switch away on trap exit. */
void sched__block(struct task *t, struct waitq *wq);
/* Make every task on wq runnable (caller holds wq's lock). Returns how many. */
unsigned int sched__wake_all(struct waitq *wq);
/* Make t runnable if it is blocked (caller holds the lock of the queue t was on). */
void sched__wake(struct task *t);
/* Block the running task until sched__ticks >= tick. */
void sched__sleep_until(struct task *t, uint64_t tick);

/* Timer tick on this CPU (after EOI). */
void sched__tick(struct cpu *cpu);
/* Last step of every trap: the frame to resume on this CPU. */
struct trap_frame *sched__resume(struct cpu *cpu, struct task *cur);
/* Finish a task this CPU switched away from while it was T_DEAD. */
void sched__bury(struct cpu *cpu);

#endif
