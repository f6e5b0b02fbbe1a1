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

/*
 * apf=1 turns them on; apf=noack and apf=toggle are hostile test modes
 * (tests/integration/test_apf.py): what the host must survive.
 *  - noack: a "not present" parks nothing (the task retries at once, and
 *    faults again) and no "page ready" is ever taken (apf_ready, or KVM's
 *    token, is never zeroed nor acknowledged);
 *  - toggle: each time TOGGLE_PARKED tasks are parked on a CPU, it turns
 *    them off and on again and wakes nobody itself: the host's wake-all
 *    must.
 */
enum apf_mode { APF_OFF, APF_ON, APF_NOACK, APF_TOGGLE };
#define TOGGLE_PARKED 2

static struct apf_cpu apf_cpus[MAX_CPUS];
static enum apf_mode mode;
static struct l1g_apf_stats stats; /* updated with interrupts off; read racily */

static bool word_is(const char *p, const char *w)
{
	size_t n = strlen(w);

	return !strncmp(p, w, n) && (!p[n] || p[n] == ' ');
}

void apf__init(const char *cmdline)
{
	static const char *const names[] = { [APF_OFF] = "0", [APF_ON] = "1",
					     [APF_NOACK] = "noack", [APF_TOGGLE] = "toggle" };

	for (const char *p = cmdline; *p; p++) {
		if ((p != cmdline && p[-1] != ' ') || strncmp(p, "apf=", 4))
			continue;
		unsigned int m = 0;

		while (m < sizeof(names) / sizeof(names[0]) && !word_is(p + 4, names[m]))
			m++;
		if (m < sizeof(names) / sizeof(names[0]))
			mode = (enum apf_mode)m;
		else
			console__printf("apf: unknown apf= (want 0, 1, noack or toggle): off\n");
	}
}

/* This CPU's host protocol on (true) or off. 0 or the host's refusal. */
static int64_t host_switch(struct apf_cpu *a, bool on)
{
	if (pvops__shadow)
		return hypercall2(L1_HC_APF, on ? L1_APF_ENABLE : L1_APF_DISABLE, 0);
	if (!on) {
		pv_ops.cpu.write_msr(MSR_KVM_ASYNC_PF_EN, 0);
		return 0;
	}
	/* Vector first: KVM takes interrupt delivery only with one set. */
	pv_ops.cpu.write_msr(MSR_KVM_ASYNC_PF_INT, VEC_APF);
	pv_ops.cpu.write_msr(MSR_KVM_ASYNC_PF_EN, (uint64_t)&a->kvm | KVM_ASYNC_PF_ENABLED |
				     KVM_ASYNC_PF_DELIVERY_AS_INT);
	return 0;
}

void apf__init_cpu(struct cpu *c)
{
	struct apf_cpu *a = &apf_cpus[c->index];

	if (mode == APF_OFF)
		return;
	int64_t rc = host_switch(a, true);

	if (rc < 0) {
		console__printf("apf: l1vmm refused L1_HC_APF (%ld): cpu %u without\n", rc,
				c->index);
		return;
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
	if (++stats.parked >= TOGGLE_PARKED && mode == APF_TOGGLE) {
		host_switch(a, false);
		host_switch(a, true);
		stats.toggles++;
	}
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
	if (mode == APF_NOACK)
		stats.not_present++; /* retried at once: it faults again */
	else if (x86__from_user(f) && cur != c->idle)
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

	if (mode == APF_NOACK) {
		pv_ops.timer.eoi(); /* the token stays: KVM sends no other */
		return;
	}
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

	if (mode == APF_NOACK)
		return; /* apf_ready stays taken: l1vmm writes no other */
	uint32_t token = __atomic_exchange_n(&v->apf_ready, 0, __ATOMIC_ACQ_REL);

	if (token)
		ready(a, token);
}

void apf__stats(struct l1g_apf_stats *out)
{
	*out = stats;
}
