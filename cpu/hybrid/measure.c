/* SPDX-License-Identifier: MIT */
/*
 * DOC: how much slower is guest CPL0 than CPL3 here?
 *
 * --mode auto asks once per process. A scratch VM runs the same two-instruction
 * loop (dec; jnz) at CPL0 and at CPL3, each ended by a write to an unbacked
 * guest-physical page (an MMIO exit), and the host times each KVM_RUN. Where
 * CPL0 is emulated (kvm_pvm: ~2 us an instruction) the ratio is in the
 * thousands; with hardware virtualization it is about 1. Not `out`: port
 * I/O from CPL3 depends on IOPL and the TSS, and on an AMD host it faulted
 * (with a TSS loaded) where Intel hosts let it through (docs/machine-notes.md).
 */
#include "cpu/hybrid/hybrid.h"
#include "mmu/clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define CODE_GPA 0x100000ull
#define RAM_BYTES (4ull << 20)
#define MMIO_GPA RAM_BYTES      /* unbacked: the loop's closing write exits */
#define CPL0_LOOPS 2000ull      /* ~8 ms where CPL0 is emulated */
#define CPL3_LOOPS 20000000ull  /* ~10 ms natively */

static const uint8_t loop_code[] = {
	0xff, 0xc9,                               /* 1: dec %ecx */
	0x75, 0xfc,                               /*    jnz 1b */
	0x89, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, /*    mov %eax, MMIO_GPA */
	0xeb, 0xf3,                               /*    jmp 1b (never: the host stops here) */
};
_Static_assert(MMIO_GPA == 0x400000ull, "the absolute address in loop_code");


/* Time one run of the loop with the given privilege; seconds, or < 0. */
static double run_loop(int vcpu, struct kvm_run *run, const struct vcpu_boot *boot, bool cpl3,
		       uint64_t loops)
{
	struct kvm_regs regs = boot->regs;
	struct kvm_sregs sregs = boot->sregs;
	regs.rcx = loops;
	regs.rip = CODE_GPA;
	if (cpl3) {
		sregs.cs = (struct kvm_segment){ .limit = 0xffffffff, .selector = 0x2b, .type = 11,
						 .present = 1, .dpl = 3, .s = 1, .l = 1, .g = 1 };
		sregs.ss = sregs.ds = sregs.es = (struct kvm_segment){
			.limit = 0xffffffff, .selector = 0x23, .type = 3, .present = 1, .dpl = 3,
			.s = 1, .db = 1, .g = 1 };
	}
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return -1;
	double t0 = clock__mono_s();
	int rc = ioctl(vcpu, KVM_RUN, 0);
	double t = clock__mono_s() - t0;
	if (rc < 0 || run->exit_reason != KVM_EXIT_MMIO || !run->mmio.is_write ||
	    run->mmio.phys_addr != MMIO_GPA)
		return -1;
	return t;
}

int hybrid__measure_cpl(int kvm_fd, size_t run_size, struct cpl_measure *out)
{
	*out = (struct cpl_measure){ 0 };
	struct ept_mem mem;
	int vm = -1, vcpu = -1, rc = -1;
	void *run = MAP_FAILED;
	if (ept__mem_init(&mem, RAM_BYTES) < 0)
		return -1;
	struct boot_image img = { .protocol = BOOT_L1_LONG64, .entry = CODE_GPA };
	char err[128];
	if (hybrid__write_boot_tables(&mem, &img, err, sizeof(err)) < 0 ||
	    !ept__write(&mem, CODE_GPA, loop_code, sizeof(loop_code)))
		goto out;
	/* CPL3 needs user pages: the boot map is supervisor-only; open the first
	 * 2 MiB (the code) and the 2 MiB the closing write goes to */
	uint64_t *pml4 = ept__gpa_ptr(&mem, 0x2000, 8), *pdpt = ept__gpa_ptr(&mem, 0x3000, 8);
	uint64_t *pd = ept__gpa_ptr(&mem, *pdpt & ~0xfffull, 8 * (MMIO_GPA / (2 << 20) + 1));
	*pml4 |= 4;
	*pdpt |= 4;
	pd[0] |= 4;
	pd[MMIO_GPA / (2 << 20)] |= 4;
	vm = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (vm < 0 || ept__mem_register(&mem, vm) < 0)
		goto out;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		goto out;
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		goto out;
	struct vcpu_boot boot = { 0 };
	if (ioctl(vcpu, KVM_GET_SREGS, &boot.sregs) < 0)
		goto out;
	hybrid__boot_state(&img, 0, 0, &boot);
	double t0 = run_loop(vcpu, run, &boot, false, CPL0_LOOPS);
	double t3 = run_loop(vcpu, run, &boot, true, CPL3_LOOPS);
	if (t0 <= 0 || t3 <= 0)
		goto out;
	out->cpl0_ns_per_loop = t0 * 1e9 / CPL0_LOOPS;
	out->cpl3_ns_per_loop = t3 * 1e9 / CPL3_LOOPS;
	out->ratio = out->cpl0_ns_per_loop / out->cpl3_ns_per_loop;
	out->valid = true;
	rc = 0;
out:
	if (run != MAP_FAILED)
		munmap(run, run_size);
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	ept__mem_destroy(&mem);
	return rc;
}
