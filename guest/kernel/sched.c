// SPDX-License-Identifier: MIT
/*
 * DOC: the scheduler (overview and task states in sched.h).
 *
 * Round robin per CPU, preemptive at the periodic tick: a tick that finds
 * another runnable task on its CPU's run queue switches to it, so a time
 * slice is one tick. New tasks are spread over the CPUs round robin and stay
 * on their CPU; waking a task on an idle remote CPU sends it an IPI so it
 * does not sleep until its next tick.
 *
 * A task that dies keeps running on its kernel stack until its CPU switches
 * away; the CPU then remembers it in cpu->dead and, on its next trap (already
 * on another stack), makes it a zombie and wakes its joiners. Only then may
 * a join free the stacks.
 *
 * Locks: tasks_lock (task table, T_DEAD/T_ZOMBIE, exit_wq) before a run
 * queue lock. A task's state moves BLOCKED -> RUNNABLE under its run queue
 * lock (make_runnable) while whoever wakes it also holds the lock of the
 * wait queue it sits on.
 */
#include <stddef.h>

#include "include/uapi.h"
#include "kernel/balloon.h"
#include "kernel/console.h"
#include "kernel/mm.h"
#include "kernel/pvops.h"
#include "kernel/sched.h"
#include "lib/cpu.h"
#include "lib/string.h"

union kstack {
	struct task task;
	uint8_t bytes[KSTACK_SIZE];
};

/* Boot and idle stacks; start.S points each CPU's %rsp at the top of its own. */
union kstack idle_stacks[MAX_CPUS] __attribute__((aligned(KSTACK_SIZE)));

struct cpu cpus[MAX_CPUS];
unsigned int nr_cpus = 1;
volatile uint64_t sched__ticks;
volatile uint32_t sched__hz = DEFAULT_HZ;

static struct spinlock tasks_lock;
static struct task *task_table[MAX_TASKS]; /* tid - 1 -> task, until reaped */
static unsigned int spread_next;

/*
 * Make every page of t's kernel stack above struct task unlike any other
 * page, here or in another guest. In ept mode, where the CPU's pushes of an
 * interrupt frame are emulated here, l1vmm's page sharing write-protects a
 * page for a moment while it compares and maps it; an identical kernel stack
 * page of two guests (the same kernel, the same workload) can be caught in
 * that moment, the emulated push fails and the task sees a #DF (seen once in
 * CI). A page no other page equals is never shared, so never protected. The
 * stamp sits at the bottom of the page, far below the frames at its top.
 */
static void stamp_kstack(struct task *t)
{
	for (uint64_t off = PAGE_SIZE; off < KSTACK_SIZE; off += PAGE_SIZE)
		*(volatile uint64_t *)((uint8_t *)t + off) = cpu__rdtsc() ^ (uint64_t)t;
}

void sched__init(unsigned int ncpus)
{
	nr_cpus = ncpus;
	for (unsigned int i = 0; i < ncpus; i++) {
		struct task *idle = &idle_stacks[i].task;

		stamp_kstack(idle);
		cpus[i].index = i;
		cpus[i].idle = idle;
		idle->cpu = &cpus[i];
		idle->state = T_RUNNABLE;
	}
}

static void enqueue_locked(struct runqueue *rq, struct task *t)
{
	t->next = NULL;
	if (rq->tail)
		rq->tail->next = t;
	else
		rq->head = t;
	rq->tail = t;
}

static struct task *dequeue_locked(struct runqueue *rq)
{
	struct task *t = rq->head;

	if (t) {
		rq->head = t->next;
		if (!rq->head)
			rq->tail = NULL;
		t->next = NULL;
	}
	return t;
}

/* t is new or blocked (and on no wait queue any more): let it run. */
static void make_runnable(struct task *t)
{
	struct cpu *c = t->cpu;
	bool kick = false;

	spin__lock(&c->rq.lock);
	t->state = T_RUNNABLE;
	/* Still current: it blocked but its CPU has not switched away yet. */
	if (c->rq.current != t) {
		enqueue_locked(&c->rq, t);
		kick = c->rq.current == c->idle && c != sched__current()->cpu;
	}
	spin__unlock(&c->rq.lock);
	if (kick)
		pv_ops.timer.send_ipi(c->hw_id, VEC_RESCHED);
}

__attribute__((noreturn)) void sched__run_idle(struct cpu *c)
{
	spin__lock(&c->rq.lock);
	c->rq.current = c->idle;
	spin__unlock(&c->rq.lock);
	*c->kernel_sp = sched__kstack_top(c->idle);
	for (;;) {
		/* Interrupts are off here: nothing can be queued between test and hlt. */
		if (c->rq.head)
			sched__kyield();
		else
			pv_ops.cpu.safe_halt();
		pv_ops.cpu.irq_disable();
	}
}

int64_t sched__spawn(uint64_t start, uint64_t fn, uint64_t arg, int cpu)
{
	struct task *t = mm__alloc_frames(KSTACK_ORDER, false);
	void *ustack = t ? mm__alloc_frames(USTACK_ORDER, true) : NULL;
	struct trap_frame *f;
	unsigned int slot;

	if (!ustack) {
		if (t)
			mm__free_frames(t, KSTACK_ORDER);
		return -L1G_ENOMEM;
	}
	memset(t, 0, sizeof(*t));
	stamp_kstack(t);

	spin__lock(&tasks_lock);
	for (slot = 0; slot < MAX_TASKS && task_table[slot]; slot++)
		;
	if (slot == MAX_TASKS) {
		spin__unlock(&tasks_lock);
		mm__free_frames(ustack, USTACK_ORDER);
		mm__free_frames(t, KSTACK_ORDER);
		return -L1G_EAGAIN;
	}
	if (cpu < 0)
		cpu = (int)(spread_next++ % nr_cpus);
	task_table[slot] = t;
	t->tid = slot + 1;
	t->cpu = &cpus[cpu];
	t->state = T_BLOCKED; /* until make_runnable() */
	t->ustack = (uint64_t)ustack;
	spin__unlock(&tasks_lock);

	/* The first "return" to CPL3 resumes this frame: start(fn, arg). */
	f = (struct trap_frame *)(sched__kstack_top(t) - sizeof(*f));
	memset(f, 0, sizeof(*f));
	f->rip = start;
	f->cs = x86__sel.user_cs;
	f->rflags = RFLAGS_IF | RFLAGS_FIXED;
	f->rsp = t->ustack + (PAGE_SIZE << USTACK_ORDER);
	f->ss = x86__sel.user_ss;
	f->rdi = fn;
	f->rsi = arg;
	t->frame = f;
	make_runnable(t);
	return t->tid;
}

void sched__exit(struct task *t, int64_t status)
{
	spin__lock(&tasks_lock);
	t->status = status;
	t->state = T_DEAD;
	spin__unlock(&tasks_lock);
	t->cpu->need_resched = true;
	if (t->tid == 1) {
		/* The init task is the workload runner: its end is the VM's. */
		if (L1G_STATUS_IS_KILLED(status))
			console__printf("l1guest: init task killed, powering off\n");
		pv_ops.exit(status >= 0 && status <= 255 ? (uint32_t)status : 1);
	}
}

void sched__bury(struct cpu *c)
{
	struct task *t = c->dead;

	c->dead = NULL;
	spin__lock(&tasks_lock);
	t->state = T_ZOMBIE;
	sched__wake_all(&t->exit_wq);
	spin__unlock(&tasks_lock);
}

int64_t sched__join(struct task *cur, struct trap_frame *f, uint32_t tid)
{
	struct task *t;
	int64_t status;

	if (tid == 0 || tid > MAX_TASKS)
		return -L1G_ESRCH;
	spin__lock(&tasks_lock);
	t = task_table[tid - 1];
	if (!t || t == cur) {
		spin__unlock(&tasks_lock);
		return -L1G_ESRCH;
	}
	if (t->state != T_ZOMBIE) {
		/* Issue the call again once woken: it will find a zombie. */
		f->rip -= 2;
		sched__block(cur, &t->exit_wq);
		spin__unlock(&tasks_lock);
		return SCHED_RESTART;
	}
	task_table[tid - 1] = NULL;
	status = t->status;
	spin__unlock(&tasks_lock);
	mm__free_frames((void *)t->ustack, USTACK_ORDER);
	mm__free_frames(t, KSTACK_ORDER);
	return status;
}

void sched__block(struct task *t, struct waitq *wq)
{
	t->next = wq->head;
	wq->head = t;
	t->state = T_BLOCKED;
	t->cpu->need_resched = true;
}

void sched__wake(struct task *t)
{
	if (t->state == T_BLOCKED)
		make_runnable(t);
}

unsigned int sched__wake_all(struct waitq *wq)
{
	struct task *t = wq->head, *next;
	unsigned int n = 0;

	wq->head = NULL;
	for (; t; t = next, n++) {
		next = t->next; /* make_runnable() reuses the link */
		sched__wake(t);
	}
	return n;
}

void sched__sleep_until(struct task *t, uint64_t tick)
{
	struct task **pp = &t->cpu->sleepers;

	while (*pp && (*pp)->wake_tick <= tick)
		pp = &(*pp)->next;
	t->wake_tick = tick;
	t->next = *pp;
	*pp = t;
	t->state = T_BLOCKED;
	t->cpu->need_resched = true;
}

void sched__tick(struct cpu *c)
{
	c->ticks++;
	if (c->index == 0) {
		sched__ticks++;
		balloon__tick();
	}
	while (c->sleepers && c->sleepers->wake_tick <= sched__ticks) {
		struct task *t = c->sleepers;

		c->sleepers = t->next;
		make_runnable(t);
	}
	if (c->rq.head)
		c->need_resched = true;
	if (c->armed_hz != sched__hz) {
		c->armed_hz = sched__hz;
		pv_ops.timer.arm_periodic(c->armed_hz);
	}
}

struct trap_frame *sched__resume(struct cpu *c, struct task *cur)
{
	struct task *next;

	if (!c->need_resched && cur->state == T_RUNNABLE)
		return cur->frame;
	c->need_resched = false;
	spin__lock(&c->rq.lock);
	if (cur->state == T_RUNNABLE && cur != c->idle)
		enqueue_locked(&c->rq, cur);
	next = dequeue_locked(&c->rq);
	if (!next)
		next = c->idle;
	c->rq.current = next;
	spin__unlock(&c->rq.lock);
	if (cur->state == T_DEAD)
		c->dead = cur;
	*c->kernel_sp = sched__kstack_top(next);
	return next->frame;
}
