/*
 * One VM built by l1vmm's own set-up (vm__create, and machine__create in
 * shadow mode) on the fake /dev/kvm (fake_kvm.h), with the test kernel
 * L1_TEST_L1_EXIT64 loaded and one vCPU whose thread runs l1vmm's real loop
 * on the exits a fuzzer scripts. The console goes to /dev/null.
 */
#ifndef L1_FUZZ_VM_WORLD_H
#define L1_FUZZ_VM_WORLD_H

#include <stdbool.h>
#include <stdint.h>

#include "fake_kvm.h"
#include "l1vmm/shadow_vm.h"
#include "l1vmm/vm.h"

struct vm_world {
	struct fake_kvm k;
	struct kvm_host host;
	struct machine m;
	bool have_machine;
	struct vm vm;
};

/* Once per process (LLVMFuzzerInitialize). */
void vm_world__init_process(void);

/* Build w (shadow or ept mode, mem_bytes of RAM). The script: k.next_exit,
 * k.on_set, k.ctx are set by the caller after this. Aborts on failure: the
 * set-up takes no fuzz input. */
void vm_world__create(struct vm_world *w, bool shadow, uint64_t mem_bytes);
/* Start the vCPU and wait until its thread has left the loop. */
void vm_world__run(struct vm_world *w);
/* End the script: the VM stops (VM_END_SIGNAL, code 0). For next_exit. */
bool vm_world__script_over(struct vm_world *w);
void vm_world__destroy(struct vm_world *w);

#endif
