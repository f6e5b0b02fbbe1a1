// SPDX-License-Identifier: MIT
/*
 * DOC: the pv pv_ops backend: shadow mode, the kernel at CPL3 under l1vmm.
 *
 * Nothing privileged is executed; every operation is a hypercall
 * (arch/x86/hypercall.h) or a store to the shared-info page:
 *  - cpu: "interrupts off/on" is the vCPU's event mask (shared info
 *    vcpu[i].masked, no hypercall; on unmask, pending events are fetched
 *    with L1_HC_YIELD); halt is L1_HC_BLOCK; the IDT is the trap table
 *    (L1_HC_SET_TRAP_TABLE with entry.S's stubs), there is no GDT/TSS/MSR
 *    to load; CR3 is L1_HC_NEW_BASEPTR; CR2 is vcpu[i].cr2; the kernel
 *    stack for traps from tasks is vcpu[i].kernel_sp.
 *  - mmu: PTE writes are queued and sent as L1_HC_MMU_UPDATE batches of
 *    up to L1_MMU_UPDATE_MAX, on commit() or before a flush (L1_HC_FLUSH).
 *  - timer: a one-shot L1_HC_SET_TIMER on pvclock time, re-armed at every
 *    tick (pvops__pv_take_events) one period after the last deadline. There
 *    are no IPIs: a vCPU that is idle in L1_HC_BLOCK when another one queues
 *    it a task notices at its next tick (at most 1/hz later).
 *  - console: bytes go to the shared-info ring, then one L1_HC_CONSOLE.
 *  - exit: L1_HC_EXIT.
 */
#include <stddef.h>
#include <stdint.h>

#include "arch/x86/hypercall.h"
#include "arch/x86/x86.h"
#include "kernel/pvops.h"
#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include "kernel/trap.h"
#include "lib/cpu.h"

_Static_assert(HC_NR_IRET == L1_HC_IRET && HC_NR_BLOCK == L1_HC_BLOCK, "entry.S, start.S");
_Static_assert(START_INFO_MODE == offsetof(struct l1_start_info, mode), "start.S");
_Static_assert(L1_MODE_SHADOW == 2 && L1_ELF_NOTE_PV == 1 && L1_ABI_VERSION >= 2, "start.S");
_Static_assert(VEC_EVENT == L1_EVENT_VECTOR, "entry.S");
_Static_assert(MAX_CPUS <= L1_MAX_PV_VCPUS, "a vcpu_info per CPU");
_Static_assert(L1_SHADOW_HYPERCALL_VA == 0xffffffffff000000ull, "hypercall.h, entry.S");

struct l1_shared_info *pv__shared;
struct pv_stats pvops__pv_stats;

static uint64_t tsc_khz_boot;
static uint64_t period_ns[MAX_CPUS], deadline_ns[MAX_CPUS];

static uint32_t this_cpu(void)
{
	struct cpu *c = sched__current()->cpu;

	return c ? c->index : 0; /* before sched__init: only CPU 0 runs kernel code */
}

struct l1_vcpu_info *pv__vcpu(void)
{
	return &pv__shared->vcpu[this_cpu()];
}

uint64_t pv__clock_ns(void)
{
	volatile struct l1_pvclock *c = &pv__shared->clock;
	uint64_t ts, sys, khz, tsc;
	uint32_t v;

	do {
		/* Pairs with the host's release of an even version after its update. */
		v = __atomic_load_n(&c->version, __ATOMIC_ACQUIRE);
		ts = c->tsc_timestamp;
		sys = c->system_time_ns;
		khz = c->tsc_khz;
		tsc = cpu__rdtsc();
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((v & 1) || v != c->version);
	if (!khz)
		khz = tsc_khz_boot ? tsc_khz_boot : 1000000;
	return sys + (tsc > ts ? cpu__muldiv(tsc - ts, 1000000, khz) : 0);
}

/* A hypercall the kernel cannot do without: a refusal is a kernel bug. */
static void must(int64_t rc, const char *what)
{
	if (rc < 0)
		trap__panic("l1vmm refused %s: %ld", what, rc);
}

/* ---- cpu ---- */

static void pv_load_cr3(uint64_t pa)
{
	must(hypercall1(L1_HC_NEW_BASEPTR, pa), "new_baseptr");
}

static uint64_t pv_read_cr2(void)
{
	return pv__vcpu()->cr2;
}

static void pv_irq_disable(void)
{
	__atomic_store_n(&pv__vcpu()->masked, 1, __ATOMIC_RELAXED);
	__asm__ volatile("" ::: "memory");
}

static void pv_irq_enable(void)
{
	struct l1_vcpu_info *v = pv__vcpu();

	__atomic_store_n(&v->masked, 0, __ATOMIC_RELAXED);
	/* Store masked, then load pending: pairs with the host setting pending
	 * and then reading masked; either it sees 0 and delivers, or we see
	 * the bit and ask for it. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&v->pending, __ATOMIC_RELAXED))
		hypercall0(L1_HC_YIELD);
}

static void pv_safe_halt(void)
{
	hypercall0(L1_HC_BLOCK); /* unmasks, sleeps until an event is delivered */
}

static void pv_halt(void)
{
	hypercall0(L1_HC_BLOCK);
	pv_irq_disable();
}

static void pv_load_gdt(const void *base, uint16_t limit)
{
	(void)base, (void)limit; /* l1vmm owns the GDT; our selectors are x86__sel */
}

static void pv_load_tr(uint16_t sel)
{
	(void)sel; /* no TSS: kernel_stack_slot() says where traps from tasks land */
}

static void set_traps(bool on)
{
	struct l1_trap_info t[40];
	unsigned int n = 0;

	for (const struct trap_stub *s = trap__stub_table; s->addr; s++)
		if (s->vector < 32 || s->vector == VEC_SYSCALL)
			t[n++] = (struct l1_trap_info){ .vector = (uint8_t)s->vector,
							.handler = on ? s->addr : 0 };
	t[n++] = (struct l1_trap_info){ .vector = VEC_EVENT,
					.handler = on ? (uint64_t)trap_stub_event : 0 };
	must(hypercall2(L1_HC_SET_TRAP_TABLE, (uint64_t)t, n), "set_trap_table");
}

int64_t pvops__pv_set_trap_table(void)
{
	set_traps(true);
	return 0;
}

/* The IDT's job is the trap table's; limit 0 (idt__triple_fault) removes it,
 * so the next fault cannot be bounced and l1vmm ends the guest as crashed. */
static void pv_load_idt(const void *base, uint16_t limit)
{
	(void)base;
	set_traps(limit != 0);
}

static void pv_write_msr(uint32_t msr, uint64_t val)
{
	trap__panic("wrmsr %#x <- %#lx in shadow mode", msr, val);
}

static uint64_t pv_read_msr(uint32_t msr)
{
	trap__panic("rdmsr %#x in shadow mode", msr);
}

static x86_u64_unaligned *pv_kernel_stack_slot(uint32_t cpu_index,
						x86_u64_unaligned *tss_rsp0)
{
	(void)tss_rsp0;
	return &pv__shared->vcpu[cpu_index].kernel_sp;
}

/* ---- mmu: one queue for all CPUs (writes are rare after boot) ---- */

static struct {
	struct spinlock lock;
	uint32_t n;
	struct l1_mmu_update req[L1_MMU_UPDATE_MAX];
} mq;

static void commit_locked(void)
{
	int64_t rc;

	if (!mq.n)
		return;
	rc = hypercall2(L1_HC_MMU_UPDATE, (uint64_t)mq.req, mq.n);
	pvops__pv_stats.mmu_calls++;
	pvops__pv_stats.mmu_entries += mq.n;
	if (rc != (int64_t)mq.n)
		trap__panic("l1vmm applied %ld of %u page-table updates (first: %#lx <- %#lx)",
			    rc, mq.n, mq.req[0].ptr, mq.req[0].val);
	mq.n = 0;
}

static void queue_locked(uint64_t *ptep, uint64_t val)
{
	mq.req[mq.n++] = (struct l1_mmu_update){ .ptr = (uint64_t)ptep, .val = val };
	if (mq.n == L1_MMU_UPDATE_MAX)
		commit_locked();
}

static void pv_set_pte(uint64_t *ptep, uint64_t val)
{
	spin__lock(&mq.lock);
	queue_locked(ptep, val);
	spin__unlock(&mq.lock);
}

static void pv_set_pte_range(uint64_t *ptep, uint64_t first, uint64_t step, size_t n)
{
	spin__lock(&mq.lock);
	for (size_t i = 0; i < n; i++, first += step)
		queue_locked(&ptep[i], first);
	spin__unlock(&mq.lock);
}

static void pv_commit(void)
{
	spin__lock(&mq.lock);
	commit_locked();
	spin__unlock(&mq.lock);
}

static void pv_flush_tlb(void)
{
	pv_commit();
	hypercall1(L1_HC_FLUSH, L1_FLUSH_ALL);
}

static void pv_flush_page(uint64_t va)
{
	pv_commit();
	hypercall1(L1_HC_FLUSH, va);
}

/* ---- timer and events ---- */

static void pv_nothing(void)
{
}

static uint32_t pv_cpu_hw_id(void)
{
	return this_cpu();
}

static void pv_arm_periodic(uint32_t hz)
{
	uint32_t i = this_cpu();

	period_ns[i] = 1000000000ull / (hz ? hz : 1);
	deadline_ns[i] = pv__clock_ns() + period_ns[i];
	must(hypercall1(L1_HC_SET_TIMER, deadline_ns[i]), "set_timer");
}

static void pv_send_ipi(uint32_t hw_id, uint8_t vector)
{
	(void)hw_id, (void)vector; /* none in shadow mode: the target's next tick */
}

uint32_t pvops__pv_take_events(void)
{
	uint32_t i = this_cpu();
	uint32_t bits = __atomic_exchange_n(&pv__shared->vcpu[i].pending, 0, __ATOMIC_ACQ_REL);

	pvops__pv_stats.upcalls[i]++;
	if ((bits & L1_EVT_TIMER) && period_ns[i]) {
		uint64_t now = pv__clock_ns();

		deadline_ns[i] += period_ns[i];
		if (deadline_ns[i] <= now) /* missed ticks are dropped, not caught up */
			deadline_ns[i] = now + period_ns[i];
		hypercall1(L1_HC_SET_TIMER, deadline_ns[i]);
	}
	return bits;
}

/* ---- console ---- */

static struct spinlock ring_lock; /* a leaf, inside console_lock */

static void pv_console_write(const char *buf, size_t len)
{
	struct l1_shared_info *s = pv__shared;
	unsigned int stuck = 0;
	uint32_t prod;

	if (!len)
		return;
	spin__lock(&ring_lock);
	prod = s->console_prod;
	while (len) {
		uint32_t cons = __atomic_load_n(&s->console_cons, __ATOMIC_ACQUIRE);
		uint32_t used = prod - cons, room, n;

		room = used >= L1_CONSOLE_RING ? 0 : L1_CONSOLE_RING - used;
		if (!room) {
			/* Full: let l1vmm drain it. If it takes nothing, drop the rest. */
			hypercall0(L1_HC_CONSOLE);
			if (++stuck > 1000)
				break;
			continue;
		}
		n = len < room ? (uint32_t)len : room;
		for (uint32_t k = 0; k < n; k++)
			s->console_ring[(prod + k) & (L1_CONSOLE_RING - 1)] = (uint8_t)buf[k];
		prod += n;
		buf += n;
		len -= n;
		/* The bytes before the index: pairs with l1vmm's acquire of console_prod. */
		__atomic_store_n(&s->console_prod, prod, __ATOMIC_RELEASE);
	}
	hypercall0(L1_HC_CONSOLE);
	spin__unlock(&ring_lock);
}

/* For hostile: run fn with the ring to itself. */
int64_t pvops__pv_with_ring(int64_t (*fn)(struct l1_shared_info *s))
{
	int64_t rc;

	spin__lock(&ring_lock);
	rc = fn(pv__shared);
	spin__unlock(&ring_lock);
	return rc;
}

__attribute__((noreturn)) static void pv_exit(uint32_t code)
{
	for (;;)
		hypercall1(L1_HC_EXIT, code);
}

void pvops__pv_init(const struct l1_start_info *si)
{
	tsc_khz_boot = si->tsc_khz;
	pv__shared = (struct l1_shared_info *)si->shared_info_gpa;
	if (!si->shared_info_gpa || !(si->features & L1_FEAT_PV) ||
	    si->hypercall_va != L1_SHADOW_HYPERCALL_VA) {
		static const char msg[] = "l1guest: shadow mode without the PV interface this kernel "
					  "was built for (features, shared info, hypercall page)\n";

		if (si->shared_info_gpa)
			pv_console_write(msg, sizeof(msg) - 1);
		pv_exit(1);
	}
}

const struct pv_ops pvops__pv = {
	.name = "pv",
	.cpu = {
		.load_cr3 = pv_load_cr3,
		.read_cr2 = pv_read_cr2,
		.halt = pv_halt,
		.safe_halt = pv_safe_halt,
		.irq_enable = pv_irq_enable,
		.irq_disable = pv_irq_disable,
		.load_gdt = pv_load_gdt,
		.load_idt = pv_load_idt,
		.load_tr = pv_load_tr,
		.write_msr = pv_write_msr,
		.read_msr = pv_read_msr,
		.kernel_stack_slot = pv_kernel_stack_slot,
	},
	.mmu = {
		.set_pte = pv_set_pte,
		.set_pte_range = pv_set_pte_range,
		.flush_tlb = pv_flush_tlb,
		.flush_page = pv_flush_page,
		.commit = pv_commit,
	},
	.timer = {
		.init_cpu = pv_nothing,
		.cpu_hw_id = pv_cpu_hw_id,
		.arm_periodic = pv_arm_periodic,
		.eoi = pv_nothing,
		.send_ipi = pv_send_ipi,
	},
	.console = {
		.write = pv_console_write,
	},
	.exit = pv_exit,
};
