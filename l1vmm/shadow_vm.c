/* SPDX-License-Identifier: MIT */
#include "l1vmm/dp_host.h"
#include "l1vmm/shadow_vm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpu/hybrid/stub.h"
#include "l1vmm/vcpu.h"
#include "l1vmm/balloon_host.h"
#include "l1vmm/vm.h"
#include "pvops/hypercall.h"
#include "mmu/clock.h"

#define PAGE 4096ull
#define BLOCK_SLICE_NS 50000000L
#define FLUSH_BURST 8                 /* machine flushes a VM may ask for at once */
#define FLUSH_WAIT_SLICE_NS 10000000ull /* a waiting vCPU checks for the VM's end */
#define STALE_WAIT_NS 50000000ull     /* then a vCPU of a stale VM flushes itself */
#define MSR_IA32_TSC 0x10
#define RFLAGS_IF (1ull << 9)

/* ---- guest memory through the guest's own page tables ---- */

/* Through the guest's own tables and p2m_mfn (a frame may be shared). */
static int guest_copy(struct shadow_vm *sv, uint64_t va, void *buf, size_t len, bool write)
{
	return shadow__access(&sv->g, va, buf, len, write);
}

static int guest_read(void *ctx, uint64_t va, void *dst, size_t len)
{
	return guest_copy(ctx, va, dst, len, false);
}

/* ---- creation ---- */

unsigned shadow_vm__vcpu_id(struct vm *vm, unsigned index)
{
	struct shadow_vcpu *svc = &vm->shadow->vcpus[index];
	return svc->machine_id;
}


int shadow_vm__create(struct vm *vm, struct machine *m, const struct vm_config *cfg,
		      char *err, size_t errlen)
{
	if (cfg->vcpus > L1_MAX_PV_VCPUS) {
		snprintf(err, errlen, "shadow mode runs at most %u vCPUs per guest", L1_MAX_PV_VCPUS);
		return -1;
	}
	struct shadow_vm *sv = calloc(1, sizeof(*sv));
	if (!sv || !(sv->vcpus = calloc(cfg->vcpus, sizeof(*sv->vcpus)))) {
		free(sv);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	vm->shadow = sv;
	sv->machine = m;
	pthread_mutex_init(&sv->lock, NULL);
	pthread_cond_init(&sv->cv, NULL);
	int rc = shadow__guest_init(&sv->g, &m->mem, cfg->mem_bytes);
	if (rc < 0) {
		snprintf(err, errlen, "no machine memory for %llu MiB of shadow-mode guest: %s",
			 (unsigned long long)(cfg->mem_bytes >> 20), strerror(-rc));
		return -1;
	}
	if (cfg->shadow_prefetch)
		sv->g.prefetch = cfg->shadow_prefetch;
	if (shadow_apf__init(sv, cfg->vcpus) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_lock(&m->lock);
	if (m->next_vcpu + cfg->vcpus > STUB_MAX_VCPUS) {
		pthread_mutex_unlock(&m->lock);
		snprintf(err, errlen, "the shadow machine runs at most %u vCPUs in all",
			 STUB_MAX_VCPUS);
		return -1;
	}
	for (unsigned i = 0; i < cfg->vcpus; i++)
		sv->vcpus[i].machine_id = m->next_vcpu++;
	m->vms[m->nr_vms++] = vm; /* fewer VMs than vCPUs: it fits */
	pthread_mutex_unlock(&m->lock);
	vm->ram = &sv->g.view;
	vm->phys = &m->mem.mem;
	return 0;
}

/* Boot data beyond the ept case: shared info, boot page tables, start-info fields. */
int shadow_vm__finish(struct vm *vm, char *err, size_t errlen)
{
	struct shadow_vm *sv = vm->shadow;
	struct l1_start_info *si_start = ept__gpa_ptr(vm->ram, L1_START_INFO_GPA, sizeof(*si_start));
	sv->si = ept__gpa_ptr(vm->ram, VM_SHARED_INFO_GPA, sizeof(*sv->si));
	uint64_t pml4, end;
	uint64_t at = (vm->image.image_end + PAGE - 1) & ~(PAGE - 1);
	if (!si_start || !sv->si || shadow__build_boot_tables(&sv->g, at, &pml4, &end) < 0) {
		snprintf(err, errlen, "guest memory too small for the shadow-mode boot page tables");
		return -1;
	}
	memset(sv->si, 0, sizeof(*sv->si));
	ept__mark_written(vm->ram, VM_SHARED_INFO_GPA, PAGE);
	/* l1vmm reads and writes it behind the shadows: never shared */
	shadow__pin(&sv->g, VM_SHARED_INFO_GPA / PAGE);
	si_start->image_end = end;
	si_start->mode = L1_MODE_SHADOW;
	si_start->shared_info_gpa = VM_SHARED_INFO_GPA;
	si_start->boot_pml4_gpa = pml4;
	si_start->hypercall_va = L1_SHADOW_HYPERCALL_VA;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		sv->si->vcpu[i].masked = 1;

	/* pvclock: time 0 is now; the guest's TSC is read from vCPU 0 */
	/* struct kvm_msrs ends in a flexible array: room for one entry after it */
	union {
		struct kvm_msrs h;
		uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} msr = { .h.nmsrs = 1 };
	msr.h.entries[0].index = MSR_IA32_TSC;
	if (ioctl(vm->vcpus[0].fd, KVM_GET_MSRS, &msr) != 1) {
		snprintf(err, errlen, "reading the machine vCPU's TSC failed: %s", strerror(errno));
		return -1;
	}
	sv->clock_start_ns = clock__mono_ns();
	sv->si->clock = (struct l1_pvclock){ .version = 2, .tsc_timestamp = msr.h.entries[0].data,
					     .system_time_ns = 0, .tsc_khz = si_start->tsc_khz };

	sv->generation = 1;
	sv->root_mfn = sv->g.shadow_root_mfn;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		struct shadow_vcpu *svc = &sv->vcpus[i];
		if (ioctl(v->fd, KVM_GET_SREGS, &svc->sregs) < 0) {
			snprintf(err, errlen, "KVM_GET_SREGS failed: %s", strerror(errno));
			return -1;
		}
		stub__vcpu_sregs(svc->machine_id, sv->g.shadow_root_mfn, &svc->sregs);
		svc->generation = sv->generation;
		struct kvm_regs regs = { .rip = vm->image.entry, .rdi = L1_START_INFO_GPA,
					 .rsi = i, .rflags = 0x202 };
		if (ioctl(v->fd, KVM_SET_SREGS, &svc->sregs) < 0 ||
		    ioctl(v->fd, KVM_SET_REGS, &regs) < 0) {
			snprintf(err, errlen, "setting the shadow-mode entry state failed: %s",
				 strerror(errno));
			return -1;
		}
	}
	return 0;
}

void shadow_vm__destroy(struct vm *vm)
{
	struct shadow_vm *sv = vm->shadow;
	if (!sv)
		return;
	struct machine *m = sv->machine;
	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < m->nr_vms; i++)
		if (m->vms[i] == vm)
			m->vms[i] = m->vms[--m->nr_vms];
	pthread_mutex_unlock(&m->lock);
	shadow_apf__destroy(&sv->apf); /* its worker fetches through sv->g */
	if (sv->g.nr_frames)
		shadow__guest_destroy(&sv->g);
	pthread_cond_destroy(&sv->cv);
	pthread_mutex_destroy(&sv->lock);
	free(sv->vcpus);
	free(sv);
	vm->shadow = NULL;
}

/*
 * Wait, holding nothing, until this VM may make one more machine flush at
 * its flush_rate (a generic cell rate: up to FLUSH_BURST at once, then one
 * per 1/rate s). Every shadow guest pays for a flush (~1.4 ms held, then
 * their translations rebuilt): the guest that asks too often pays the wait.
 */
static void wait_flush_credit(struct vcpu *v)
{
	struct shadow_vm *sv = v->vm->shadow;
	uint64_t rate = __atomic_load_n(&sv->flush_rate, __ATOMIC_RELAXED);
	if (!rate)
		return;
	uint64_t interval = 1000000000ull / rate, now = clock__mono_ns();
	pthread_mutex_lock(&sv->lock);
	uint64_t tat = sv->flush_tat > now ? sv->flush_tat : now;
	uint64_t due = tat - interval * (FLUSH_BURST - 1);
	if (due > now) {
		uint64_t t0 = now;
		__atomic_fetch_add(&sv->stats.flush_waits, 1, __ATOMIC_RELAXED);
		while (!vm__ended(v->vm) && (now = clock__mono_ns()) < due)
			vm__timedwait(&sv->cv, &sv->lock,
				      (double)(due - now < FLUSH_WAIT_SLICE_NS ? due - now
									 : FLUSH_WAIT_SLICE_NS) / 1e9);
		__atomic_fetch_add(&sv->stats.flush_wait_ns, clock__mono_ns() - t0, __ATOMIC_RELAXED);
	}
	sv->flush_tat = tat + interval;
	pthread_mutex_unlock(&sv->lock);
}

/* sv is stale: flush the machine, unless another VM's flush did meanwhile. */
static void flush_machine(struct vcpu *v)
{
	struct shadow_vm *sv = v->vm->shadow;
	wait_flush_credit(v);
	pthread_mutex_lock(&sv->lock);
	bool stale = sv->stale;
	pthread_mutex_unlock(&sv->lock);
	if (!stale || vm__ended(v->vm))
		return;
	struct vm *vms[STUB_MAX_VCPUS];
	unsigned n;
	machine__hold(sv->machine, v->vm, vms, &n);
	machine__flush(sv->machine, vms, n);
	machine__release(sv->machine, vms, n);
}

/*
 * After a change to sv's shadows (own_held: made with sv's vCPUs held by
 * this thread, which this releases): tell the vCPUs about a new root frame;
 * if a present entry changed (or the quarantine is due), keep them out
 * (stale) until a machine flush, which this makes.
 */
static void settle_shadow_change(struct vcpu *v, bool own_held)
{
	struct shadow_vm *sv = v->vm->shadow;
	bool flush = shadow__take_flush_needed(&sv->g) || machine__quarantine_due(sv->machine);
	if (flush && !own_held) {
		shadow_vm__hold(v->vm, -1); /* its other vCPUs may be running on them */
		own_held = true;
	}
	pthread_mutex_lock(&sv->lock);
	if (sv->g.shadow_root_mfn != sv->root_mfn) {
		sv->root_mfn = sv->g.shadow_root_mfn;
		sv->generation++;
	}
	sv->stale |= flush;
	pthread_mutex_unlock(&sv->lock);
	if (own_held)
		shadow_vm__release(sv);
	if (flush)
		flush_machine(v);
}

/* ---- entering the guest ---- */

struct ctx {
	uint64_t rip, cs, rflags, rsp, ss;
};

/* Put the vCPU at ctx with general registers r (CPL3; events as they are). */
static bool enter(struct vcpu *v, struct kvm_regs *r, const struct ctx *c)
{
	struct shadow_vcpu *svc = &v->vm->shadow->vcpus[v->index];
	r->rip = c->rip;
	r->rsp = c->rsp;
	r->rflags = c->rflags;
	if (!stub__guest_segment((uint16_t)c->cs, &svc->sregs.cs) ||
	    !stub__guest_segment((uint16_t)c->ss, &svc->sregs.ss)) {
		vcpu__crash(v, "l1vmm bug: guest context with selectors %#llx/%#llx",
			    (unsigned long long)c->cs, (unsigned long long)c->ss);
		return false;
	}
	if (ioctl(v->fd, KVM_SET_REGS, r) < 0 || ioctl(v->fd, KVM_SET_SREGS, &svc->sregs) < 0) {
		vcpu__crash(v, "setting the guest's registers failed: %s", strerror(errno));
		return false;
	}
	return true;
}

/*
 * Deliver vector to the guest's handler from context from: a hardware-shaped
 * frame on the kernel stack, events masked. False when it cannot be (the VM
 * was ended with the reason).
 */
static bool bounce(struct vcpu *v, struct kvm_regs *r, unsigned vector, uint64_t error,
		   const struct ctx *from)
{
	struct shadow_vm *sv = v->vm->shadow;
	struct l1_vcpu_info *info = &sv->si->vcpu[v->index];
	pthread_mutex_lock(&sv->lock);
	uint64_t handler = sv->handlers[vector & 255];
	pthread_mutex_unlock(&sv->lock);
	if (!handler) {
		vcpu__crash(v, "the guest has no handler for vector %u (error %#llx) at rip %#llx%s%llx",
			    vector, (unsigned long long)error, (unsigned long long)from->rip,
			    vector == 14 ? ", address " : "", vector == 14 ?
			    (unsigned long long)__atomic_load_n(&info->cr2, __ATOMIC_RELAXED) : 0ull);
		return false;
	}
	uint64_t sp = from->rsp;
	if (from->cs == L1_SHADOW_USER_CS) {
		sp = __atomic_load_n(&info->kernel_sp, __ATOMIC_RELAXED);
		if (!sp || sp >= L1_SHADOW_GUEST_VA_END) {
			vcpu__crash(v, "vector %u from a task, but the vCPU's kernel_sp is %#llx",
				    vector, (unsigned long long)sp);
			return false;
		}
	}
	sp &= ~0xfull;
	bool unmasked = __atomic_load_n(&info->masked, __ATOMIC_RELAXED) == 0;
	uint64_t frame[6];
	unsigned n = 0;
	if (vector < 32 && stub__vector_has_error(vector))
		frame[n++] = error;
	frame[n++] = from->rip;
	frame[n++] = from->cs;
	frame[n++] = (from->rflags & ~RFLAGS_IF) | (unmasked ? RFLAGS_IF : 0);
	frame[n++] = from->rsp;
	frame[n++] = from->ss;
	sp -= n * 8;
	if (guest_copy(sv, sp, frame, n * 8, true) < 0) {
		vcpu__crash(v, "cannot deliver vector %u: the guest's stack at %#llx is not writable",
			    vector, (unsigned long long)sp);
		return false;
	}
	__atomic_store_n(&info->masked, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&sv->stats.bounces, 1, __ATOMIC_RELAXED);
	struct ctx to = { .rip = handler, .cs = L1_SHADOW_KERNEL_CS, .rflags = 0x202, .rsp = sp,
			  .ss = L1_SHADOW_KERNEL_SS };
	return enter(v, r, &to);
}

/* The vCPU's registers and context now; *cr2 (if asked) too. CR2 must be read
 * before the exit is settled: the settling KVM_RUN can clobber it here. */
static bool current_ctx(struct vcpu *v, struct kvm_regs *r, struct ctx *c, uint64_t *cr2)
{
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_REGS, r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		vcpu__crash(v, "reading the guest's registers failed: %s", strerror(errno));
		return false;
	}
	*c = (struct ctx){ .rip = r->rip, .cs = s.cs.selector, .rflags = r->rflags,
			   .rsp = r->rsp, .ss = s.ss.selector };
	if (cr2)
		*cr2 = s.cr2;
	return true;
}

static bool is_guest_cs(uint64_t cs)
{
	return cs == L1_SHADOW_KERNEL_CS || cs == L1_SHADOW_USER_CS;
}

/* Timer expiry and event upcall, before an entry. False if the VM ended. */
static bool deliver_events(struct vcpu *v)
{
	struct shadow_vm *sv = v->vm->shadow;
	struct shadow_vcpu *svc = &sv->vcpus[v->index];
	struct l1_vcpu_info *info = &sv->si->vcpu[v->index];
	shadow_apf__deliver(sv, v->index);
	if (svc->timer_deadline && clock__mono_ns() - sv->clock_start_ns >= svc->timer_deadline) {
		svc->timer_deadline = 0;
		__atomic_fetch_or(&info->pending, L1_EVT_TIMER, __ATOMIC_RELAXED);
	}
	if (!__atomic_load_n(&info->pending, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&info->masked, __ATOMIC_ACQUIRE))
		return true;
	struct kvm_regs r;
	struct ctx c;
	if (!current_ctx(v, &r, &c, NULL))
		return false;
	if (!is_guest_cs(c.cs))
		return true; /* inside the stub on the way to a trap: deliver after it */
	/*
	 * A signal can end KVM_RUN after the CPU raised an exception at the
	 * guest's RIP but before KVM delivered it (a task's `int $0x80` is a #UD
	 * here, docs/machine-notes.md). Moving RIP to the upcall now would have
	 * KVM deliver that exception from the upcall's first instruction: let it
	 * reach the stub first, and deliver the event on the next entry.
	 */
	struct kvm_vcpu_events ev;
	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0) {
		vcpu__crash(v, "reading the vCPU's pending events failed: %s", strerror(errno));
		return false;
	}
	if (ev.exception.injected || ev.exception.pending || ev.interrupt.injected ||
	    ev.nmi.injected) {
		__atomic_fetch_add(&sv->stats.events_deferred, 1, __ATOMIC_RELAXED);
		return true;
	}
	__atomic_fetch_add(&sv->stats.events, 1, __ATOMIC_RELAXED);
	return bounce(v, &r, L1_EVENT_VECTOR, 0, &c);
}

static bool pick_up_root(struct vcpu *v)
{
	struct shadow_vm *sv = v->vm->shadow;
	struct shadow_vcpu *svc = &sv->vcpus[v->index];
	pthread_mutex_lock(&sv->lock);
	uint64_t gen = sv->generation;
	pthread_mutex_unlock(&sv->lock);
	if (svc->generation == gen)
		return true;
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return false;
	s.cr3 = sv->g.shadow_root_mfn * PAGE;
	svc->sregs.cr3 = s.cr3;
	svc->generation = gen;
	return ioctl(v->fd, KVM_SET_SREGS, &s) == 0;
}

/* ---- timers ---- */

static void arm_timer(struct vcpu *v, uint64_t deadline_ns)
{
	struct shadow_vm *sv = v->vm->shadow;
	struct shadow_vcpu *svc = &sv->vcpus[v->index];
	svc->timer_deadline = deadline_ns;
	if (!svc->have_timer)
		return;
	uint64_t at = sv->clock_start_ns + deadline_ns;
	struct itimerspec its = { .it_value = { .tv_sec = (time_t)(at / 1000000000ull),
						.tv_nsec = (long)(at % 1000000000ull) } };
	if (deadline_ns == 0)
		its.it_value = (struct timespec){ 0 };
	timer_settime(svc->timer, TIMER_ABSTIME, &its, NULL);
}

/* ---- hypercalls ---- */

static void console_emit(void *ctx, uint8_t byte)
{
	uart__ops.write(ctx, 0, &byte, 1);
}

/* Sleep until an event is pending (events unmasked), the timer fires or the VM ends. */
static void block(struct vcpu *v)
{
	struct shadow_vm *sv = v->vm->shadow;
	struct shadow_vcpu *svc = &sv->vcpus[v->index];
	struct l1_vcpu_info *info = &sv->si->vcpu[v->index];
	__atomic_store_n(&info->masked, 0, __ATOMIC_RELEASE);
	shadow_apf__deliver(sv, v->index); /* a token that waited for a free apf_ready */
	pthread_mutex_lock(&sv->lock);
	while (!__atomic_load_n(&info->pending, __ATOMIC_ACQUIRE) && !vm__ended(v->vm)) {
		uint64_t now = clock__mono_ns() - sv->clock_start_ns;
		if (svc->timer_deadline && now >= svc->timer_deadline)
			break;
		uint64_t wait = BLOCK_SLICE_NS;
		if (svc->timer_deadline && svc->timer_deadline - now < wait)
			wait = svc->timer_deadline - now;
		vm__timedwait(&sv->cv, &sv->lock, (double)wait / 1e9);
	}
	pthread_mutex_unlock(&sv->lock);
}

/* A change to the shadows, made with the guest's own vCPUs held. */
static int64_t with_guest_held(struct vcpu *v, const struct pv_call *c,
			       const struct l1_mmu_update *reqs)
{
	struct shadow_vm *sv = v->vm->shadow;
	int64_t ret = 0;
	uint64_t done = 0;
	shadow_vm__hold(v->vm, -1); /* the caller is not in KVM_RUN: -1 holds it too */
	switch (c->nr) {
	case L1_HC_MMU_UPDATE:
		ret = shadow__mmu_update(&sv->g, reqs, c->arg[1], &done);
		ret = ret < 0 ? ret : (int64_t)done;
		break;
	case L1_HC_NEW_BASEPTR:
		ret = shadow__new_baseptr(&sv->g, c->arg[0]);
		break;
	case L1_HC_FLUSH:
		shadow__flush(&sv->g, c->arg[0]);
		break;
	default:
		break;
	}
	settle_shadow_change(v, true);
	return ret;
}

/* Run hypercall c. Its result for RAX, or false: the VM ended, or the call
 * set the vCPU's state itself (*set_state cleared). */
static bool hypercall(struct vcpu *v, struct kvm_regs *r, bool *set_state, int64_t *ret)
{
	struct shadow_vm *sv = v->vm->shadow;
	struct pv_mem mem = { .read = guest_read, .ctx = sv };
	struct pv_call c;
	pv__decode(r, &c);
	*set_state = true;
	*ret = -L1_ENOSYS;
	static _Thread_local struct l1_mmu_update reqs[L1_MMU_UPDATE_MAX];
	switch (c.nr) {
	case L1_HC_CONSOLE:
		pthread_mutex_lock(&sv->lock);
		*ret = pv__console_take(sv->si->console_ring,
					__atomic_load_n(&sv->si->console_prod, __ATOMIC_ACQUIRE),
					&sv->console_cons, console_emit, &v->vm->uart);
		__atomic_store_n(&sv->si->console_cons, sv->console_cons, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&sv->lock);
		break;
	case L1_HC_SET_TIMER:
		arm_timer(v, c.arg[0]);
		*ret = 0;
		break;
	case L1_HC_BLOCK:
		block(v);
		*ret = 0;
		break;
	case L1_HC_YIELD:
		*ret = 0;
		break;
	case L1_HC_MMU_UPDATE:
		*ret = pv__fetch_mmu_updates(&mem, c.arg[0], c.arg[1], reqs);
		if (*ret >= 0)
			*ret = with_guest_held(v, &c, reqs);
		break;
	case L1_HC_NEW_BASEPTR:
	case L1_HC_FLUSH:
		*ret = with_guest_held(v, &c, NULL);
		break;
	case L1_HC_SET_TRAP_TABLE: {
		uint64_t handlers[256];
		pthread_mutex_lock(&sv->lock);
		memcpy(handlers, sv->handlers, sizeof(handlers));
		pthread_mutex_unlock(&sv->lock);
		*ret = pv__fetch_trap_table(&mem, c.arg[0], c.arg[1], handlers);
		if (*ret >= 0) {
			pthread_mutex_lock(&sv->lock);
			memcpy(sv->handlers, handlers, sizeof(handlers));
			pthread_mutex_unlock(&sv->lock);
		}
		break;
	}
	case L1_HC_IRET: {
		struct l1_iret_frame f;
		int rc = pv__fetch_iret_frame(&mem, r->rsp, &f);
		if (rc < 0) {
			vcpu__crash(v, "iret through a %s frame at %#llx",
				    rc == -L1_EFAULT ? "unreadable" : "malformed",
				    (unsigned long long)r->rsp);
			return false;
		}
		__atomic_store_n(&sv->si->vcpu[v->index].masked, !(f.rflags & RFLAGS_IF),
				 __ATOMIC_RELEASE);
		r->rax = f.rax;
		struct ctx to = { .rip = f.rip, .cs = f.cs, .rflags = pv__guest_rflags(f.rflags),
				  .rsp = f.rsp, .ss = f.ss };
		*set_state = false;
		return enter(v, r, &to);
	}
	case L1_HC_EXIT:
		vm__stop(v->vm, VM_END_EXIT, (uint32_t)c.arg[0], NULL);
		return false;
	case L1_HC_VCPU_INFO:
		*ret = v->index;
		break;
	case L1_HC_CPUID:
		*ret = vcpu__cpuid_hypercall(v, sv->si, c.arg[0], c.arg[1]);
		break;
	case L1_HC_APF:
		*ret = shadow_apf__hypercall(sv, v->index, c.arg[0], c.arg[1]);
		break;
	case L1_HC_DP:
		*ret = dp_host__hypercall(v->vm, &mem, c.arg[0], c.arg[1], c.arg[2], c.arg[3]);
		if (__atomic_load_n(&sv->g.flush_needed, __ATOMIC_RELAXED))
			settle_shadow_change(v, false); /* a bitmap frame taken off a copy */
		break;
	case L1_HC_BALLOON:
		*ret = balloon_host__hypercall(v->vm, &mem, c.arg[0], c.arg[1], c.arg[2], c.arg[3]);
		/* frames taken off shared copies: KVM may still read the copies
		 * through them, so it forgets before the guest runs on */
		if (__atomic_load_n(&sv->g.flush_needed, __ATOMIC_RELAXED))
			settle_shadow_change(v, false);
		break;
	default:
		break;
	}
	return true;
}

/* ---- exits ---- */

/* An exit on the trap port: the stub's (an exception) or a guest's port I/O. */
static bool on_trap_port(struct vcpu *v)
{
	struct shadow_vm *sv = v->vm->shadow;
	struct kvm_regs r;
	struct ctx at;
	uint64_t cr2;
	if (!current_ctx(v, &r, &at, &cr2) || vcpu__settle(v) < 0)
		return false;
	if (!stub__rip_in_code(at.rip)) {
		/* kvm_pvm lets CPL3 reach ports (docs/machine-notes.md): refuse it as #GP */
		__atomic_fetch_add(&sv->stats.port_io_refused, 1, __ATOMIC_RELAXED);
		return bounce(v, &r, 13, 0, &at);
	}
	struct stub_frame f;
	if (!stub__read_frame(&sv->machine->mem, sv->vcpus[v->index].machine_id, &f) ||
	    !is_guest_cs(f.cs)) {
		vcpu__crash(v, "exception %llu at CPL0 inside l1vmm's stub (rip %#llx)",
			    (unsigned long long)f.vector, (unsigned long long)f.rip);
		return false;
	}
	__atomic_fetch_add(&sv->stats.traps, 1, __ATOMIC_RELAXED);
	struct ctx from = { .rip = f.rip, .cs = f.cs, .rflags = f.rflags, .rsp = f.rsp,
			    .ss = f.ss };
	if (f.vector == 8 || f.vector == 18 || f.vector >= 32) {
		vcpu__crash(v, "%s (vector %llu) at rip %#llx", f.vector == 8 ? "double fault" :
			    f.vector == 18 ? "machine check" : "unexpected vector",
			    (unsigned long long)f.vector, (unsigned long long)f.rip);
		return false;
	}
	if (f.vector != 14)
		return bounce(v, &r, (unsigned)f.vector, f.error, &from);

	/*
	 * KVM here sometimes reports CR2 = 0 for a fault elsewhere (when the vCPU
	 * left KVM_RUN inside the stub, docs/machine-notes.md). Re-running the
	 * instruction is harmless (it did not complete) and faults again; a real
	 * access to address 0 does so at the same RIP, and is delivered then.
	 */
	struct shadow_vcpu *svc = &sv->vcpus[v->index];
	if (cr2 == 0 && svc->zero_cr2_rip != f.rip) {
		svc->zero_cr2_rip = f.rip;
		return enter(v, &r, &from);
	}
	svc->zero_cr2_rip = 0;
	enum shadow_fault_result res;
	if (from.cs == L1_SHADOW_USER_CS && shadow_apf__enabled(&sv->apf, v->index)) {
		/* a task: the guest may run another while the page comes back */
		uint64_t gfn;
		uint32_t token;
		res = shadow__fault_nowait(&sv->g, cr2, (uint32_t)f.error, &gfn);
		if (res == SHADOW_EVICTED && shadow_apf__not_present(sv, v->index, gfn, &token)) {
			struct l1_vcpu_info *info = &sv->si->vcpu[v->index];
			__atomic_store_n(&info->apf_reason, L1_APF_NOT_PRESENT, __ATOMIC_RELAXED);
			__atomic_store_n(&info->cr2, token, __ATOMIC_RELAXED);
			return bounce(v, &r, 14, f.error, &from);
		}
		if (res == SHADOW_EVICTED) { /* fetched on the vCPU: the fault is counted already */
			res = shadow__fault_evicted(&sv->g, cr2, (uint32_t)f.error, gfn);
			if (res != SHADOW_FETCH_FAILED)
				shadow_apf__fetched(sv, v->index, gfn);
		}
	} else {
		res = shadow__fault(&sv->g, cr2, (uint32_t)f.error);
	}
	if (res == SHADOW_NO_MEMORY) {
		/* freed table frames may wait in quarantine: flush, release them, retry */
		shadow_vm__hold(v->vm, -1);
		pthread_mutex_lock(&sv->lock);
		sv->stale = true;
		pthread_mutex_unlock(&sv->lock);
		shadow_vm__release(sv);
		flush_machine(v);
		res = shadow__fault(&sv->g, cr2, (uint32_t)f.error);
	}
	if (res != SHADOW_FETCH_FAILED)
		svc->fetch_failures = 0;
	switch (res) {
	case SHADOW_FIXED:
		if (sv->g.flush_needed || sv->g.shadow_root_mfn != sv->root_mfn ||
		    machine__quarantine_due(sv->machine))
			/* a fill that replaced a present entry, or dropped the guest's
			 * shadows for a quota: as for an update */
			settle_shadow_change(v, false);
		if (!pick_up_root(v))
			return false;
		return enter(v, &r, &from);
	case SHADOW_PT_WRITE: {
		uint8_t insn[15];
		size_t len = sizeof(insn), on_page = PAGE - (f.rip & (PAGE - 1));
		/* the instruction may end on an unmapped page: take what there is */
		if (guest_copy(sv, f.rip, insn, len, false) < 0) {
			len = on_page < len ? on_page : 0;
			if (len && guest_copy(sv, f.rip, insn, len, false) < 0)
				len = 0;
		}
		shadow_vm__hold(v->vm, -1);
		int skip = len ? shadow__emulate_pt_write(&sv->g, cr2, insn, len, &r) : -L1_EFAULT;
		settle_shadow_change(v, true);
		if (!pick_up_root(v))
			return false;
		if (skip > 0) {
			from.rip += (uint64_t)skip;
			return enter(v, &r, &from);
		}
		break; /* refused: the guest sees its write fault */
	}
	case SHADOW_NO_MEMORY:
		vcpu__crash(v, "out of machine memory for shadow page tables");
		return false;
	case SHADOW_FETCH_FAILED: {
		/* host reclaim could not give the page back yet (the store's file
		 * failed a read): its bytes stay stored; run the access again a
		 * little later, and give up after 10 s rather than show zeros */
		struct timespec ts = { .tv_nsec = 1000 * 1000 };
		nanosleep(&ts, NULL);
		if (++svc->fetch_failures > 10000) {
			vcpu__crash(v, "host reclaim could not fetch a guest page back for 10 s "
				    "(reclaim/errors; the store's swap file?)");
			return false;
		}
		return vm__ended(v->vm) ? false : enter(v, &r, &from);
	}
	case SHADOW_GUEST_FAULT:
	default:
		break;
	}
	__atomic_store_n(&sv->si->vcpu[v->index].cr2, cr2, __ATOMIC_RELAXED);
	return bounce(v, &r, 14, f.error, &from);
}

static bool on_hypercall_page(struct vcpu *v, const struct vm_exit *e)
{
	struct shadow_vm *sv = v->vm->shadow;
	if (!e->is_write)
		memset(e->data, 0, e->size); /* reading the hypercall page gives zeros */
	if (vcpu__settle(v) < 0)
		return false;
	if (!e->is_write)
		return true;
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return false;
	__atomic_fetch_add(&sv->stats.hypercalls, 1, __ATOMIC_RELAXED);
	bool set_state = true;
	int64_t ret = -L1_EPERM;
	/* only the guest kernel talks to l1vmm: a task's hypercall is refused */
	if (s.cs.selector == L1_SHADOW_KERNEL_CS && !hypercall(v, &r, &set_state, &ret))
		return !vm__ended(v->vm);
	if (!set_state)
		return true;
	if (ret < 0)
		__atomic_fetch_add(&sv->stats.hypercall_errors, 1, __ATOMIC_RELAXED);
	r.rax = (uint64_t)ret;
	return ioctl(v->fd, KVM_SET_REGS, &r) == 0;
}

/*
 * The device window (pvops/l1vmm_abi.h): the machine address is the device's
 * guest-physical one. The guest kernel's accesses go to the VM's MMIO bus
 * (a read's data is in place before the settle completes it); a task's
 * read all ones and write nothing, as a device the task cannot see.
 */
static bool on_device_window(struct vcpu *v, const struct vm_exit *e)
{
	struct kvm_sregs s;
	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return false;
	if (s.cs.selector == L1_SHADOW_KERNEL_CS)
		bus__access(&v->vm->mmio, e->addr, e->data, e->size, e->is_write);
	else if (!e->is_write)
		memset(e->data, 0xff, e->size);
	return vcpu__settle(v) == 0;
}

static bool handle_exit(struct vcpu *v, const struct vm_exit *e)
{
	switch (e->kind) {
	case VM_EXIT_IO:
		if (e->addr == L1_PORT_SHADOW_TRAP && e->is_write)
			return on_trap_port(v);
		/* a guest's port I/O at CPL3: settle (reads see all ones), then #GP */
		if (!e->is_write)
			memset(e->data, 0xff, (size_t)e->size * e->count);
		{
			struct kvm_regs r;
			struct ctx at;
			if (!current_ctx(v, &r, &at, NULL) || vcpu__settle(v) < 0)
				return false;
			__atomic_fetch_add(&v->vm->shadow->stats.port_io_refused, 1, __ATOMIC_RELAXED);
			return bounce(v, &r, 13, 0, &at);
		}
	case VM_EXIT_MMIO:
		if (e->addr >= L1_DOORBELL_GPA && e->addr < L1_DOORBELL_GPA + PAGE)
			return on_hypercall_page(v, e);
		if (e->addr > L1_DOORBELL_GPA && e->addr < L1_DOORBELL_GPA + L1_SHADOW_MMIO_BYTES)
			return on_device_window(v, e);
		vcpu__crash(v, "MMIO at %#llx outside the hypercall page", (unsigned long long)e->addr);
		return false;
	case VM_EXIT_INTR:
		return true;
	default:
		return vcpu__handle_fatal(v, e);
	}
}

static void make_timer(struct vcpu *v)
{
	struct shadow_vcpu *svc = &v->vm->shadow->vcpus[v->index];
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGUSR1 };
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid); /* sigev_notify_thread_id */
	svc->have_timer = timer_create(CLOCK_MONOTONIC, &sev, &svc->timer) == 0;
}

void shadow_vm__vcpu_loop(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct shadow_vm *sv = vm->shadow;
	struct shadow_vcpu *svc = &sv->vcpus[v->index];
	make_timer(v);
	while (!vm__ended(vm)) {
		pthread_mutex_lock(&sv->lock);
		uint64_t since = clock__mono_ns();
		while ((sv->holders || sv->stale) && !vm__ended(vm)) {
			vm__timedwait(&sv->cv, &sv->lock, STALE_WAIT_NS / 1e9);
			if (!sv->holders && sv->stale && clock__mono_ns() - since >= STALE_WAIT_NS) {
				/* nobody flushed (a re-registration failed): try again */
				pthread_mutex_unlock(&sv->lock);
				flush_machine(v);
				pthread_mutex_lock(&sv->lock);
				since = clock__mono_ns();
			}
		}
		pthread_mutex_unlock(&sv->lock);
		if (!pick_up_root(v) || !deliver_events(v))
			break;
		pthread_mutex_lock(&sv->lock);
		bool held = sv->holders || sv->stale; /* someone is changing the shadows */
		svc->in_guest = !held;
		pthread_mutex_unlock(&sv->lock);
		if (held)
			continue;
		struct vm_exit e;
		int rc = vcpu__run(v, &e);
		pthread_mutex_lock(&sv->lock);
		svc->in_guest = false;
		pthread_cond_broadcast(&sv->cv);
		pthread_mutex_unlock(&sv->lock);
		if (rc < 0 || (rc > 0 && !handle_exit(v, &e)))
			break;
	}
	if (svc->have_timer)
		timer_delete(svc->timer);
	if (v->index == 0)
		shadow_apf__stop(&sv->apf); /* before the VM's reclaim and memory go */
}
