// SPDX-License-Identifier: MIT
/*
 * DOC: system calls (numbers and contracts: include/uapi.h).
 *
 * Every pointer a task passes is checked with mm__user_ok() before the
 * kernel touches it, so a bad argument costs the task an error code, never
 * the kernel a fault. Calls that wait (SYS_WAIT, SYS_SLEEP_UNTIL) block with
 * their result already in rax; SYS_JOIN is restarted instead (sched.h).
 *
 * SYS_WAIT/SYS_WAKE are futex-like: all waiters sit on one list keyed by
 * address, under futex_lock; the value check and the sleep happen under that
 * lock, so a wake that follows a store to the word is never lost.
 */
#include "include/uapi.h"
#include "arch/x86/gdt.h"
#include "kernel/apf.h"
#include "kernel/balloon.h"
#include "kernel/console.h"
#include "kernel/mm.h"
#include "kernel/pvops.h"
#include "kernel/sched.h"
#include "kernel/swap.h"
#include "kernel/virtio_blk.h"
#include "kernel/trap.h"
#include "lib/string.h"

#define WRITE_MAX (1u << 20)

extern uint64_t kernel__boot_tsc;
extern const struct l1_start_info *kernel__start_info;

static struct spinlock futex_lock;
static struct waitq futex_waiters;

static int64_t sys_write(uint64_t buf, uint64_t len)
{
	if (len > WRITE_MAX)
		return -L1G_EINVAL;
	if (!mm__user_ok(buf, len))
		return -L1G_EFAULT;
	console__write((const char *)buf, len);
	return (int64_t)len;
}

static int64_t sys_spawn(uint64_t start, uint64_t fn, uint64_t arg, int64_t cpu)
{
	if (!mm__user_ok(start, 1))
		return -L1G_EFAULT;
	if (cpu >= (int64_t)nr_cpus)
		return -L1G_EINVAL;
	return sched__spawn(start, fn, arg, cpu < 0 ? -1 : (int)cpu);
}

static int64_t sys_wait(struct task *cur, uint64_t addr, uint64_t expected)
{
	if (addr & 7)
		return -L1G_EINVAL;
	if (!mm__user_ok(addr, 8))
		return -L1G_EFAULT;
	spin__lock(&futex_lock);
	if (*(volatile uint64_t *)addr != expected) {
		spin__unlock(&futex_lock);
		return -L1G_EAGAIN;
	}
	cur->wait_key = addr;
	sched__block(cur, &futex_waiters);
	spin__unlock(&futex_lock);
	return 0;
}

static int64_t sys_wake(uint64_t addr, uint64_t max)
{
	struct task **pp, *t;
	int64_t n = 0;

	spin__lock(&futex_lock);
	for (pp = &futex_waiters.head; (t = *pp) && (uint64_t)n < max;) {
		if (t->wait_key != addr) {
			pp = &t->next;
			continue;
		}
		*pp = t->next;
		sched__wake(t);
		n++;
	}
	spin__unlock(&futex_lock);
	return n;
}

static int64_t sys_sleep_until(struct task *cur, uint64_t tick)
{
	if (tick > sched__ticks)
		sched__sleep_until(cur, tick);
	return 0;
}

static int64_t sys_info(uint64_t ptr)
{
	struct l1g_info *info = (struct l1g_info *)ptr;

	if (!mm__user_ok(ptr, sizeof(*info)))
		return -L1G_EFAULT;
	*info = (struct l1g_info){
		.mem_bytes = kernel__start_info->mem_bytes,
		.tsc_khz = kernel__start_info->tsc_khz,
		.boot_tsc = kernel__boot_tsc,
		.user_free = mm__user_free_bytes(),
		.balloon_bytes = balloon__chunks() << CHUNK_SHIFT,
		.nr_cpus = nr_cpus,
		.hz = sched__hz,
		.mode = kernel__start_info->mode,
		.abi_version = kernel__start_info->version,
		.features = kernel__start_info->features,
	};
	memcpy(info->pvops, pv_ops.name, strnlen(pv_ops.name, sizeof(info->pvops) - 1));
	return 0;
}

/* The kernel runs with interrupts off: nothing else uses c's block or its
 * shared-info slot until we return. */
static int64_t sys_cpuid(const struct cpu *c, uint64_t leaf, uint64_t subleaf, uint64_t ptr)
{
	static struct l1_hypercall_block blocks[MAX_CPUS];
	const struct l1_start_info *si = kernel__start_info;
	const struct l1_shared_info *sh = (const void *)(uintptr_t)si->shared_info_gpa;
	int64_t rc;

	if (!mm__user_ok(ptr, 4 * sizeof(uint32_t)))
		return -L1G_EFAULT;
	if (si->version < 4 || !(si->features & L1_FEAT_CPUID) || !sh || c->index >= L1_MAX_PV_VCPUS)
		return -L1G_ENOSYS;
	rc = pvops__hypercall(&blocks[c->index], L1_HC_CPUID, leaf, subleaf, 0, 0);
	if (rc < 0)
		return rc == -L1_EINVAL ? -L1G_EINVAL : -L1G_ENOSYS;
	memcpy((void *)ptr, (const void *)sh->vcpu[c->index].cpuid, 4 * sizeof(uint32_t));
	return 0;
}

static int64_t sys_swap_stats(uint64_t ptr)
{
	if (!mm__user_ok(ptr, sizeof(struct l1g_swap_stats)))
		return -L1G_EFAULT;
	swap__stats((struct l1g_swap_stats *)ptr);
	return 0;
}

/* User memory is identity mapped in both modes: the buffer's address is its gpa. */
static int64_t sys_disk_io(uint64_t write, uint64_t sector, uint64_t buf, uint64_t len)
{
	if (len > (1u << 20))
		return -L1G_EINVAL;
	if (!mm__user_ok(buf, len))
		return -L1G_EFAULT;
	if (!vblk__capacity())
		return -L1G_ENOSYS;
	if (write > 2)
		return -L1G_EINVAL;
	if (write == 2)
		return vblk__flush();
	return vblk__rw(write, sector, buf, (uint32_t)len);
}

static int64_t sys_set_hz(struct cpu *c, uint64_t hz)
{
	if (hz < 1 || hz > 10000)
		return -L1G_EINVAL;
	sched__hz = (uint32_t)hz;
	/* This CPU now; the others at their next tick (sched__tick). */
	c->armed_hz = sched__hz;
	pv_ops.timer.arm_periodic(c->armed_hz);
	return 0;
}

void syscall__dispatch(struct task *cur, struct trap_frame *f)
{
	int64_t ret;

	switch (f->rax) {
	case SYS_WRITE:
		ret = sys_write(f->rdi, f->rsi);
		break;
	case SYS_EXIT:
		sched__exit(cur, (int64_t)(int32_t)f->rdi);
		ret = 0;
		break;
	case SYS_SPAWN:
		ret = sys_spawn(f->rdi, f->rsi, f->rdx, (int64_t)f->rcx);
		break;
	case SYS_JOIN:
		ret = sched__join(cur, f, (uint32_t)f->rdi);
		break;
	case SYS_YIELD:
		cur->cpu->need_resched = true;
		ret = 0;
		break;
	case SYS_WAIT:
		ret = sys_wait(cur, f->rdi, f->rsi);
		break;
	case SYS_WAKE:
		ret = sys_wake(f->rdi, f->rsi);
		break;
	case SYS_TICKS:
		ret = (int64_t)sched__ticks;
		break;
	case SYS_SLEEP_UNTIL:
		ret = sys_sleep_until(cur, f->rdi);
		break;
	case SYS_MEM_ALLOC:
		ret = mm__alloc_user(f->rdi);
		break;
	case SYS_MEM_FREE:
		ret = mm__free_user(f->rdi);
		break;
	case SYS_INFO:
		ret = sys_info(f->rdi);
		break;
	case SYS_POWEROFF:
		pv_ops.exit((uint32_t)f->rdi);
	case SYS_KTEST:
		ret = ktest__run(f->rdi);
		break;
	case SYS_SET_HZ:
		ret = sys_set_hz(cur->cpu, f->rdi);
		break;
	case SYS_CRASH:
		idt__triple_fault();
	case SYS_SELF:
		ret = (int64_t)(cur->tid | (uint64_t)cur->cpu->index << 32);
		break;
	case SYS_PVTEST:
		ret = pvtest__run(f->rdi, f->rsi);
		break;
	case SYS_CPUID:
		ret = sys_cpuid(cur->cpu, f->rdi, f->rsi, f->rdx);
		break;
	case SYS_SWAP_ALLOC:
		ret = swap__alloc(f->rdi);
		break;
	case SYS_SWAP_FREE:
		ret = swap__free(f->rdi);
		break;
	case SYS_SWAP_STATS:
		ret = sys_swap_stats(f->rdi);
		break;
	case SYS_APF_STATS:
		if (!mm__user_ok(f->rdi, sizeof(struct l1g_apf_stats))) {
			ret = -L1G_EFAULT;
			break;
		}
		apf__stats((struct l1g_apf_stats *)f->rdi);
		ret = 0;
		break;
	case SYS_DISK_IO:
		ret = sys_disk_io(f->rdi, f->rsi, f->rdx, f->rcx);
		break;
	default:
		ret = -L1G_ENOSYS;
		break;
	}
	if (ret != SCHED_RESTART)
		f->rax = (uint64_t)ret;
}
