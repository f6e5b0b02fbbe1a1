// SPDX-License-Identifier: MIT
/*
 * DOC: pseudo page faults (overview in apf.h).
 *
 * A slot of a CPU's table is free (token 0), parked (a task waits on the
 * token) or early (its ready came first: no task). Park and ready both run
 * on the token's CPU in trap context, interrupts off, so the table needs no
 * lock; waking takes the run queue's lock as every wake does.
 */
#include "arch/x86/hypercall.h"
#include "kernel/apf.h"
#include "kernel/console.h"
#include "kernel/pvops.h"
#include "lib/string.h"

/* KVM's paravirtual interface (Linux Documentation/virt/kvm/x86/msr.rst). */
#define MSR_KVM_ASYNC_PF_EN  0x4b564d02u
#define MSR_KVM_ASYNC_PF_INT 0x4b564d06u
#define MSR_KVM_ASYNC_PF_ACK 0x4b564d07u
#define KVM_ASYNC_PF_ENABLED        (1ull << 0)
#define KVM_ASYNC_PF_DELIVERY_AS_INT (1ull << 3)
#define KVM_PV_REASON_PAGE_NOT_PRESENT 1u

#define APF_SLOTS L1_APF_TOKENS /* KVM's ASYNC_PF_PER_VCPU is 64 too */

/* KVM's struct kvm_vcpu_pv_apf_data: flags at 0, token at 4 (64-byte aligned). */
struct kvm_apf_data {
	volatile uint32_t flags;   /* KVM_PV_REASON_PAGE_NOT_PRESENT with a "not present" #PF */
	volatile uint32_t token;   /* the ready token; the guest zeroes it, then acks */
	uint8_t pad[56];
	uint32_t enabled;
} __attribute__((aligned(64)));

struct apf_slot {
	uint32_t token;            /* 0: free */
	struct task *task;         /* parked task, or NULL: ready came first */
};

struct apf_cpu {
	struct kvm_apf_data kvm;
	struct apf_slot slot[APF_SLOTS];
	bool on;
};

static struct apf_cpu apf_cpus[MAX_CPUS];
static bool wanted;
static struct l1g_apf_stats stats; /* updated with interrupts off; read racily */

void apf__init(const char *cmdline)
{
	for (const char *p = cmdline; *p; p++) {
		if ((p == cmdline || p[-1] == ' ') && !strncmp(p, "apf=", 4)) {
			if ((p[4] == '0' || p[4] == '1') && (!p[5] || p[5] == ' '))
				wanted = p[4] == '1';
			else
				console__printf("apf: unknown apf= (want apf=0 or apf=1): off\n");
		}
	}
}

void apf__init_cpu(struct cpu *c)
{
	struct apf_cpu *a = &apf_cpus[c->index];

	if (!wanted)
		return;
	if (pvops__shadow) {
		int64_t rc = hypercall2(L1_HC_APF, L1_APF_ENABLE, 0);

		if (rc < 0) {
			console__printf("apf: l1vmm refused L1_HC_APF (%ld): cpu %u without\n",
					rc, c->index);
			return;
		}
	} else {
		/* Vector first: KVM takes interrupt delivery only with one set. */
		pv_ops.cpu.write_msr(MSR_KVM_ASYNC_PF_INT, VEC_APF);
		pv_ops.cpu.write_msr(MSR_KVM_ASYNC_PF_EN, (uint64_t)&a->kvm | KVM_ASYNC_PF_ENABLED |
					     KVM_ASYNC_PF_DELIVERY_AS_INT);
	}
	a->on = true;
	__atomic_fetch_add(&stats.enabled, 1, __ATOMIC_RELAXED);
}

static struct apf_slot *find(struct apf_cpu *a, uint32_t token)
{
	for (unsigned int i = 0; i < APF_SLOTS; i++)
		if (a->slot[i].token == token)
			return &a->slot[i];
	return NULL;
}

static void park(struct apf_cpu *a, struct task *cur, uint32_t token)
{
	struct apf_slot *s = find(a, token);

	stats.not_present++;
	if (s && !s->task) {
		s->token = 0; /* its ready came first: the retry finds the page */
		stats.early++;
		return;
	}
	s = find(a, 0);
	if (!s) {
		stats.full++; /* the host keeps the bound too: the retry waits there */
		return;
	}
	*s = (struct apf_slot){ .token = token, .task = cur };
	cur->state = T_BLOCKED;
	cur->cpu->need_resched = true;
	stats.parked++;
}

bool apf__page_fault(struct cpu *c, struct task *cur, struct trap_frame *f)
{
	struct apf_cpu *a = &apf_cpus[c->index];
	uint32_t token;

	if (!a->on)
		return false;
	if (pvops__shadow) {
		struct l1_vcpu_info *v = &pv__shared->vcpu[c->index];

		if (__atomic_load_n(&v->apf_reason, __ATOMIC_ACQUIRE) != L1_APF_NOT_PRESENT)
			return false;
		__atomic_store_n(&v->apf_reason, 0, __ATOMIC_RELAXED);
	} else {
		if (a->kvm.flags != KVM_PV_REASON_PAGE_NOT_PRESENT)
			return false;
		a->kvm.flags = 0;
	}
	token = (uint32_t)pv_ops.cpu.read_cr2();
	/* Only a task can be parked; neither host sends one for the kernel, but
	 * if it did, retrying the access is safe (it waits in the host). */
	if (x86__from_user(f) && cur != c->idle)
		park(a, cur, token);
	return true;
}

static void ready(struct apf_cpu *a, uint32_t token)
{
	struct apf_slot *s;

	if (token == L1_APF_WAKE_ALL) {
		stats.wake_all++;
		for (unsigned int i = 0; i < APF_SLOTS; i++) {
			if (a->slot[i].task) {
				sched__wake(a->slot[i].task);
				stats.woken++;
				stats.parked--;
			}
			a->slot[i] = (struct apf_slot){ 0 };
		}
		return;
	}
	stats.ready++;
	s = find(a, token);
	if (s && s->task) {
		/* runnable at the running task's next tick, not at once: a switch
		 * per ready costs ~1.4 ms of emulated CPL0 on a kvm_pvm host
		 * (docs/machine-notes.md), more than the fetch it hides */
		sched__wake(s->task);
		*s = (struct apf_slot){ 0 };
		stats.woken++;
		stats.parked--;
		return;
	}
	if (!s && (s = find(a, 0))) {
		*s = (struct apf_slot){ .token = token }; /* before its not-present */
		return;
	}
	stats.unknown++;
}

void apf__ready_irq(struct cpu *c)
{
	struct apf_cpu *a = &apf_cpus[c->index];
	uint32_t token = a->kvm.token;

	a->kvm.token = 0;
	/* the slot is free: KVM may send the next ready */
	pv_ops.cpu.write_msr(MSR_KVM_ASYNC_PF_ACK, 1);
	pv_ops.timer.eoi();
	if (token)
		ready(a, token);
}

void apf__ready_event(struct cpu *c)
{
	struct apf_cpu *a = &apf_cpus[c->index];
	struct l1_vcpu_info *v = &pv__shared->vcpu[c->index];
	uint32_t token = __atomic_exchange_n(&v->apf_ready, 0, __ATOMIC_ACQ_REL);

	if (token)
		ready(a, token);
}

void apf__stats(struct l1g_apf_stats *out)
{
	*out = stats;
}
