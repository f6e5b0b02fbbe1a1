/* SPDX-License-Identifier: MIT */
/*
 * DOC: a vCPU and its thread: the KVM_RUN loop.
 *
 * The loop is a small state machine: RUN (enter the guest), then DECODE the
 * exit (hybrid__decode_exit, a pure function), then DISPATCH it: port I/O and
 * MMIO go to the VM's buses, interruptions re-check whether the VM ended,
 * anything that means the guest cannot go on (triple fault, emulation
 * failure, failed entry, an exit l1vmm cannot handle) ends the VM as a crash
 * with a register report. The loop leaves when vm->end is set.
 */
#ifndef L1VMM_VCPU_H
#define L1VMM_VCPU_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu/hybrid/hybrid.h"

struct vm;
struct l1_shared_info;

struct vcpu {
	struct vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;      /* mmap'ed, vm->kvm->run_size bytes */
	pthread_t thread;
	bool started;             /* thread exists (join it) */
	uint64_t exits[VM_EXIT_UNKNOWN + 1]; /* by kind; written by the vCPU thread only */
	unsigned efault_retries;  /* EFAULTs in a row waited out for page sharing */
	unsigned emulation_retries; /* emulation failures in a row, retried for page sharing */
	struct kvm_cpuid2 *cpuid; /* the table KVM_SET_CPUID2 got; set at creation, read-only */
};

/* Create vCPU index of vm with its boot state. 0, or -1 with a reason. */
int vcpu__create(struct vcpu *vcpu, struct vm *vm, unsigned index, char *err, size_t errlen);
int vcpu__start(struct vcpu *vcpu);
/* Make the vCPU leave KVM_RUN soon; safe from any thread, any time. */
void vcpu__kick(struct vcpu *vcpu);
/* The vCPU whose thread this is; NULL outside vCPU threads. */
struct vcpu *vcpu__current(void);
/* L1_HC_CPUID for this vCPU: the registers its CPUID table gives for
 * (leaf, subleaf) go to its slot of si. 0, -L1_EINVAL (an argument above 32
 * bits) or -L1_ENOSYS (no shared info, or a vCPU beyond its slots). */
int64_t vcpu__cpuid_hypercall(struct vcpu *vcpu, struct l1_shared_info *si, uint64_t leaf,
			      uint64_t subleaf);
/* The privilege level the guest ran at when this vCPU thread's exit began
 * (a device handler asks); -1 outside vCPU threads or on error. */
int vcpu__current_cpl(void);
/* Join the thread (if started) and release the vCPU. */
void vcpu__destroy(struct vcpu *vcpu);

/* Install the kick signal handler; once per process, before vCPUs start. */
void vcpu__init_signals(void);

struct vm_exit;
/* End the VM as a crash with a register report; reason as printf. */
void vcpu__crash(struct vcpu *vcpu, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An exit that ends the guest (triple fault, emulation failure, ...): crash; false. */
bool vcpu__handle_fatal(struct vcpu *vcpu, const struct vm_exit *e);
/*
 * One KVM_RUN: 1 with the exit decoded into *e, 0 when it was interrupted
 * (a kick or a signal; immediate_exit is reset), -1 when it failed (the VM
 * was ended as a crash). Counts the exit in vcpu->exits.
 */
int vcpu__run(struct vcpu *vcpu, struct vm_exit *e);
/* Complete the pending I/O or MMIO of the last exit without running the guest
 * (KVM_RUN with immediate_exit), so its registers can be changed. 0 or -1. */
int vcpu__settle(struct vcpu *vcpu);

#endif
