/*
 * A fake /dev/kvm for the fuzzers that run l1vmm's real VM set-up and vCPU
 * loops (vm__create, machine__create, vm__start, vm__destroy; ept and
 * shadow mode): ioctl() is interposed for the fds the fake hands out, every
 * other fd goes to the kernel. KVM_CREATE_VM gives an eventfd, KVM_CREATE_VCPU
 * a memfd of the run area's size, so that l1vmm's own mmap() of it works.
 * The fake runs one vCPU: KVM_RUN plays the next exit the fuzzer scripts
 * (next_exit fills run, regs, sregs, events); with immediate_exit set it
 * returns EINTR at once, as KVM does, which completes a pending exit. The
 * register ioctls read and write the fake's state; memslots, MSIs and IRQ
 * lines succeed and are counted; anything else fails with ENOTTY.
 */
#ifndef L1_FUZZ_FAKE_KVM_H
#define L1_FUZZ_FAKE_KVM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "l1vmm/kvm.h"

#define FAKE_RUN_SIZE 8192u /* the run area, as KVM_GET_VCPU_MMAP_SIZE would say */

struct fake_kvm {
	int sys_fd;                  /* stands for /dev/kvm */
	int vm_fd[4];                /* KVM_CREATE_VM's (closed by their owners) */
	unsigned nr_vm_fds;
	int vcpu_fd;                 /* KVM_CREATE_VCPU's, -1 before (closed by vcpu__destroy) */
	struct kvm_run *run;         /* the fake's own mapping of vcpu_fd */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
	/* KVM_RUN without immediate_exit: script the next exit into run, regs,
	 * sregs, events and return true; false when the script is over (the
	 * callback has ended the VM; KVM_RUN then returns EINTR). */
	bool (*next_exit)(void *ctx);
	/* optional: at a KVM_RUN that enters a state l1vmm set (KVM_SET_REGS or
	 * KVM_SET_SREGS since the last exit), before the next exit is scripted */
	void (*on_enter)(void *ctx);
	bool state_set;
	void *ctx;
	uint64_t runs, settles, memslot_calls, irq_calls;
};

/* Make k the fake and host the /dev/kvm l1vmm sees (its fd is k's). 0 or -errno. */
int fake_kvm__init(struct fake_kvm *k, struct kvm_host *host);
/* After vm__destroy() / machine__destroy(): what is left of the fake. */
void fake_kvm__destroy(struct fake_kvm *k, struct kvm_host *host);

#endif
