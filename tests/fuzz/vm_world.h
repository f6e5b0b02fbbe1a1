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
	const uint8_t *in;  /* the rest of the script */
	size_t in_left;
};

/* vm_world.c defines LLVMFuzzerInitialize(): the kernel image is read once,
 * the guest's console goes to /dev/null, the kick signal is installed. */

/* Build w (shadow or ept mode, mem_bytes of RAM) for a script: the fake's
 * next_exit, on_enter (may be NULL) and their ctx. Aborts on failure: the
 * set-up takes no fuzz input. */
void vm_world__create(struct vm_world *w, bool shadow, uint64_t mem_bytes,
		      bool (*next_exit)(void *ctx), void (*on_enter)(void *ctx), void *ctx);
/* Play the script data (at most max bytes; next_exit takes it with
 * vm_world__take): start the vCPU and wait until its thread has left the loop. */
void vm_world__play(struct vm_world *w, const uint8_t *data, size_t size, size_t max);
/* The next n bytes of the script, or NULL when it is over. */
const uint8_t *vm_world__take(struct vm_world *w, size_t n);
/* A step of 24 bytes (op, a, b, c, x, y, z) or 32 (and w); false when over. */
struct step {
	uint8_t op, a, b, c;
	uint32_t x;
	uint64_t y, z, w;
};
bool vm_world__step(struct vm_world *w, size_t bytes, struct step *st);
/* Guest RAM at gpa; aborts outside it (the fuzzer's own addresses). */
void *vm_world__ram(struct vm_world *w, uint64_t gpa, uint64_t len);
/* Script a write of 8 bytes at gpa (MMIO): a doorbell, the hypercall page. */
void vm_world__mmio_write(struct vm_world *w, uint64_t gpa, uint64_t value);
/* End the script: the VM stops (VM_END_SIGNAL, code 0). For next_exit. */
bool vm_world__script_over(struct vm_world *w);
void vm_world__destroy(struct vm_world *w);

#endif
