/* SPDX-License-Identifier: MIT */
#include "l1vmm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "l1vmm/shadow_vm.h"
#include "l1vmm/dedup_host.h"
#include "l1vmm/sandbox.h"
#include "l1vmm/thread.h"
#include "l1vmm/vm.h"
#include "mmu/clock.h"
#include "mmu/numa.h"
#include "pvops/l1vmm_abi.h"

#define KICK_SIGNAL SIGUSR1
#define CRASH_REPORT_MAX 4096
#define RIP_BYTES 16

/* The run area of the vCPU this thread runs (NULL outside vCPU threads). */
static _Thread_local struct kvm_run *thread_run;
/* The vCPU this thread runs (NULL outside vCPU threads). */
static _Thread_local struct vcpu *thread_vcpu;

static void kick_handler(int sig)
{
	(void)sig;
	/* A kick (or a shadow-mode timer) that lands just before KVM_RUN must not
	 * be lost: immediate_exit makes that KVM_RUN return at once. */
	if (thread_run)
		thread_run->immediate_exit = 1;
}

void vcpu__init_signals(void)
{
	struct sigaction sa = { .sa_handler = kick_handler }; /* no SA_RESTART */
	sigemptyset(&sa.sa_mask);
	sigaction(KICK_SIGNAL, &sa, NULL);
}

/* The vCPU's CPUID table with or without l1vmm's leaves; NULL: no memory or room. */
static struct kvm_cpuid2 *cpuid_table(const struct vcpu *vcpu, bool l1_leaves)
{
	const struct kvm_host *kvm = vcpu->vm->kvm;
	size_t bytes = sizeof(struct kvm_cpuid2) +
		       (size_t)kvm->cpuid_cap * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = malloc(bytes);
	if (!c)
		return NULL;
	memcpy(c, kvm->cpuid, bytes);
	int nent = hybrid__cpuid_policy(c->entries, (int)kvm->cpuid->nent, kvm->cpuid_cap,
					vcpu->index, vm__features(vcpu->vm), l1_leaves);
	if (nent < 0) {
		free(c);
		return NULL;
	}
	c->nent = (uint32_t)nent;
	return c;
}

/* L1_HC_CPUID's table always has l1vmm's leaves; KVM's (the instruction,
 * where the host intercepts it) has them unless the VM hides them. */
static int set_cpuid(struct vcpu *vcpu, char *err, size_t errlen)
{
	bool hide = vcpu->vm->cpuid_hide_leaves;
	vcpu->cpuid = cpuid_table(vcpu, true);
	struct kvm_cpuid2 *for_kvm = hide ? cpuid_table(vcpu, false) : vcpu->cpuid;
	int rc = -1;
	if (!vcpu->cpuid || !for_kvm)
		snprintf(err, errlen, "out of memory for the CPUID table, or no room for l1vmm's leaves");
	else if (ioctl(vcpu->fd, KVM_SET_CPUID2, for_kvm) < 0)
		snprintf(err, errlen, "KVM_SET_CPUID2 failed: %s", strerror(errno));
	else
		rc = 0;
	if (hide)
		free(for_kvm);
	return rc;
}

int64_t vcpu__cpuid_hypercall(struct vcpu *vcpu, struct l1_shared_info *si, uint64_t leaf,
			      uint64_t subleaf)
{
	if (!si || !vcpu->cpuid || vcpu->index >= L1_MAX_PV_VCPUS)
		return -L1_ENOSYS;
	if (leaf > UINT32_MAX || subleaf > UINT32_MAX)
		return -L1_EINVAL;
	uint32_t r[4];
	hybrid__cpuid_lookup(vcpu->cpuid->entries, (int)vcpu->cpuid->nent, (uint32_t)leaf,
			     (uint32_t)subleaf, r);
	/* the guest reads them once the hypercall returns: the exit orders them */
	for (int i = 0; i < 4; i++)
		__atomic_store_n(&si->vcpu[vcpu->index].cpuid[i], r[i], __ATOMIC_RELAXED);
	return 0;
}

static int set_boot_state(struct vcpu *vcpu, char *err, size_t errlen)
{
	struct vm *vm = vcpu->vm;
	struct vcpu_boot boot = { 0 };
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &boot.sregs) < 0) {
		snprintf(err, errlen, "KVM_GET_SREGS failed: %s", strerror(errno));
		return -1;
	}
	hybrid__boot_state(&vm->image, vcpu->index, L1_START_INFO_GPA, &boot);
	if (!boot.runnable)
		return 0; /* stays in KVM's wait-for-SIPI state */
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &boot.sregs) < 0 ||
	    ioctl(vcpu->fd, KVM_SET_REGS, &boot.regs) < 0) {
		snprintf(err, errlen, "setting the boot registers failed: %s", strerror(errno));
		return -1;
	}
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	if (vcpu->index > 0 && ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp) < 0) {
		snprintf(err, errlen, "KVM_SET_MP_STATE failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int vcpu__create(struct vcpu *vcpu, struct vm *vm, unsigned index, char *err, size_t errlen)
{
	*vcpu = (struct vcpu){ .vm = vm, .index = index, .fd = -1 };
	/* a shadow-mode vCPU is a vCPU of the machine that all shadow guests share */
	int vm_fd = vm->shadow ? vm->shadow->machine->fd : vm->fd;
	unsigned id = vm->shadow ? shadow_vm__vcpu_id(vm, index) : index;
	vcpu->fd = ioctl(vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VCPU %u failed: %s", index, strerror(errno));
		return -1;
	}
	void *run = mmap(NULL, vm->kvm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 vcpu->fd, 0);
	if (run == MAP_FAILED) {
		snprintf(err, errlen, "mapping vCPU %u's run area failed: %s", index,
			 strerror(errno));
		return -1;
	}
	vcpu->run = run;
	if (set_cpuid(vcpu, err, errlen) < 0)
		return -1;
	/* shadow mode sets the entry state once the guest's tables exist */
	if (!vm->shadow && set_boot_state(vcpu, err, errlen) < 0)
		return -1;
	return 0;
}

/* Gather registers and the bytes at RIP, and end the VM as a crash. */
void vcpu__crash(struct vcpu *vcpu, const char *fmt, ...)
{
	char reason[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);

	struct kvm_regs regs;
	struct kvm_sregs sregs;
	bool have_regs = ioctl(vcpu->fd, KVM_GET_REGS, &regs) == 0;
	bool have_sregs = ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) == 0;
	const uint8_t *bytes = NULL;
	if (have_regs && have_sregs) {
		struct kvm_translation tr = { .linear_address = sregs.cs.base + regs.rip };
		if (!(sregs.cr0 & 0x80000000u)) /* no paging: linear is physical */
			bytes = ept__gpa_ptr(vcpu->vm->phys, tr.linear_address, RIP_BYTES);
		else if (ioctl(vcpu->fd, KVM_TRANSLATE, &tr) == 0 && tr.valid)
			bytes = ept__gpa_ptr(vcpu->vm->phys, tr.physical_address, RIP_BYTES);
	}
	struct crash_state cs = {
		.vm_name = vcpu->vm->name, .reason = reason, .vcpu = vcpu->index,
		.regs = have_regs ? &regs : NULL, .sregs = have_sregs ? &sregs : NULL,
		.rip_bytes = bytes, .nr_rip_bytes = bytes ? RIP_BYTES : 0,
	};
	char *report = malloc(CRASH_REPORT_MAX);
	if (report)
		hybrid__format_crash(report, CRASH_REPORT_MAX, &cs);
	vm__stop(vcpu->vm, VM_END_CRASH, 0, report);
}

static void dispatch_io(struct bus *bus, const struct vm_exit *e)
{
	for (uint32_t i = 0; i < e->count; i++)
		bus__access(bus, e->addr, e->data + (size_t)i * e->size, e->size, e->is_write);
}

int vcpu__settle(struct vcpu *vcpu)
{
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_RELAXED);
	int rc = ioctl(vcpu->fd, KVM_RUN, 0);
	int saved = errno;
	__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_RELAXED);
	if (rc < 0 && saved != EINTR && saved != EAGAIN) {
		vcpu__crash(vcpu, "completing an exit failed: %s", strerror(saved));
		return -1;
	}
	return 0;
}

/* Handle one exit; false when the guest cannot continue (the VM was ended). */
static bool handle_exit(struct vcpu *vcpu, const struct vm_exit *e)
{
	struct vm *vm = vcpu->vm;
	switch (e->kind) {
	case VM_EXIT_IO:
		dispatch_io(&vm->pio, e);
		return true;
	case VM_EXIT_MMIO:
		if (!dedup_ept__ram_mmio(vm, e))
			dispatch_io(&vm->mmio, e);
		return true;
	case VM_EXIT_INTERNAL_ERROR:
		/* a locked instruction KVM emulates on a frame page sharing has
		 * write-protected: run it again once the share is done */
		if (e->suberror == KVM_INTERNAL_ERROR_EMULATION &&
		    dedup_ept__fault(vm, &vcpu->emulation_retries, DEDUP_EMULATION_RETRIES))
			return true;
		return vcpu__handle_fatal(vcpu, e);
	case VM_EXIT_SHUTDOWN:
		/* an interrupt or exception whose frame KVM could not write to a
		 * kernel stack page page sharing had just write-protected: the
		 * vCPU is still at the interrupted instruction; run it again */
		if (dedup_ept__protect_fault(vm, &vcpu->emulation_retries))
			return true;
		return vcpu__handle_fatal(vcpu, e);
	case VM_EXIT_INTR:
		return true;
	default:
		return vcpu__handle_fatal(vcpu, e);
	}
}

bool vcpu__handle_fatal(struct vcpu *vcpu, const struct vm_exit *e)
{
	switch (e->kind) {
	case VM_EXIT_SHUTDOWN:
		vcpu__crash(vcpu, "triple fault (KVM_EXIT_SHUTDOWN)");
		return false;
	case VM_EXIT_INTERNAL_ERROR:
		vcpu__crash(vcpu, "KVM internal error, suberror %u%s", e->suberror,
		      e->suberror == KVM_INTERNAL_ERROR_EMULATION ?
		      " (emulation failure: an instruction KVM cannot emulate)" : "");
		return false;
	case VM_EXIT_FAIL_ENTRY:
		vcpu__crash(vcpu, "VM entry failed, hardware reason 0x%llx",
		      (unsigned long long)e->hw_reason);
		return false;
	case VM_EXIT_HLT:
		vcpu__crash(vcpu, "the guest halted with no way to wake up (KVM_EXIT_HLT)");
		return false;
	case VM_EXIT_SYSTEM_EVENT:
		vcpu__crash(vcpu, "system event %u (shutdown/reset requested)", e->event_type);
		return false;
	case VM_EXIT_UNKNOWN:
	default:
		vcpu__crash(vcpu, "unhandled exit reason %u (%s)", e->reason,
		      hybrid__exit_reason_name(e->reason));
		return false;
	}
}

int vcpu__run(struct vcpu *vcpu, struct vm_exit *e)
{
	if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
		int saved = errno;
		if (saved == EINTR || saved == EAGAIN) {
			/* the kick's release pairs with the vm__ended() check of the caller */
			__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_RELAXED);
			vcpu->exits[VM_EXIT_INTR]++;
			return 0;
		}
		/* a frame write-protected while page sharing replaces it */
		if (saved == EFAULT && dedup_ept__fault(vcpu->vm, &vcpu->efault_retries, DEDUP_EFAULT_RETRIES))
			return 0;
		vcpu__crash(vcpu, "KVM_RUN failed: %s", strerror(saved));
		return -1;
	}
	vcpu->efault_retries = 0;
	hybrid__decode_exit(vcpu->run, vcpu->vm->kvm->run_size, e);
	if (e->kind != VM_EXIT_INTERNAL_ERROR && e->kind != VM_EXIT_SHUTDOWN)
		vcpu->emulation_retries = 0;
	vcpu->exits[e->kind]++;
	return 1;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	char name[48];
	snprintf(name, sizeof(name), "vcpu %s/%u", vm->name, vcpu->index);
	/* before the sandbox, which has no sched_setaffinity or set_mempolicy */
	int numa_rc = numa__bind_thread(vm->numa_nodes);
	sandbox__enter(SANDBOX_VCPU, name);
	thread_run = vcpu->run;
	thread_vcpu = vcpu;
	if (numa_rc < 0) /* the nodes were checked: a host without CPUs on them */
		vcpu__crash(vcpu, "cannot run on the CPUs of its numa_nodes: %s", strerror(-numa_rc));
	if (vm->shadow)
		shadow_vm__vcpu_loop(vcpu);
	while (!vm->shadow && !vm__ended(vm)) {
		struct vm_exit e;
		vm__hold_point(vm); /* page sharing may hold us out of KVM_RUN */
		int rc = vcpu__run(vcpu, &e);
		if (rc < 0 || (rc > 0 && !handle_exit(vcpu, &e)))
			break;
	}
	pthread_mutex_lock(&vm->lock);
	if (--vm->nr_running == 0) /* pairs with the acquire in vm__describe_end() */
		__atomic_store_n(&vm->stopped_ns, clock__mono_ns(), __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->ended_cv);
	pthread_mutex_unlock(&vm->lock);
	return NULL;
}

int vcpu__start(struct vcpu *vcpu)
{
	/* signals other than kicks (and a thread's own faults) go to main */
	int rc = thread__create_quiet(&vcpu->thread, vcpu_thread, vcpu, KICK_SIGNAL);
	if (rc != 0)
		return -rc;
	vcpu->started = true;
	return 0;
}

struct vcpu *vcpu__current(void)
{
	return thread_vcpu;
}

int vcpu__current_cpl(void)
{
	struct kvm_sregs s;
	if (!thread_vcpu || ioctl(thread_vcpu->fd, KVM_GET_SREGS, &s) < 0)
		return -1;
	return s.cs.selector & 3;
}

void vcpu__kick(struct vcpu *vcpu)
{
	if (!vcpu->run)
		return;
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_RELEASE);
	if (vcpu->started)
		pthread_kill(vcpu->thread, KICK_SIGNAL);
}

void vcpu__destroy(struct vcpu *vcpu)
{
	if (vcpu->started)
		pthread_join(vcpu->thread, NULL);
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->kvm->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	free(vcpu->cpuid);
	vcpu->cpuid = NULL;
	vcpu->started = false;
	vcpu->run = NULL;
	vcpu->fd = -1;
}
