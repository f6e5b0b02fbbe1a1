/* SPDX-License-Identifier: MIT */
/*
 * DOC: bench_exits' guest kernel: one exit per instruction, forever.
 *
 * Contract (registers at entry, variants): bench_guest.h. The loops are
 * unrolled so that nearly every instruction the guest runs between two exits
 * is the exiting access itself: at CPL0 each instruction is emulated (about
 * 2 us, docs/machine-notes.md), and a jmp per exit would be a second emulated
 * instruction charged to the exit. The CPL3 loops could also be left rolled (CPL3 runs natively),
 * but one loop serves both levels.
 *
 * The GDT is the host's boot GDT (same kernel selectors, so CS/DS stay valid
 * across the lgdt) plus a user data and a 64-bit user code descriptor for the
 * iretq to CPL3. No IDT: any fault triple-faults, which the host sees as
 * KVM_EXIT_SHUTDOWN and reports.
 */
#include "perf/bench_guest.h"

#define USER_DS   (0x18 | 3)
#define USER_CS   (0x20 | 3)
#define RFLAGS_IOPL0 0x0002 /* IF = 0, the reserved bit 1 */
#define RFLAGS_IOPL3 0x3002 /* the same with IOPL = 3 */
#define UNROLL 64

	.text
	.globl _start
_start:
	lgdt gdt_desc
	lea stack_top(%rip), %rsp
	cmp $BENCH_GUEST_NR_VARIANTS, %rbx
	jae bad_variant
	jmp *variants(, %rbx, 8)

bad_variant:
	ud2 /* no IDT: triple fault, reported by the host */

pio_cpl3:
	lea pio_loop(%rip), %rcx
	mov $RFLAGS_IOPL3, %r8
	jmp enter_user
pio_cpl3_iopl0:
	lea pio_loop(%rip), %rcx
	mov $RFLAGS_IOPL0, %r8
	jmp enter_user
mmio_cpl3:
	lea mmio_loop(%rip), %rcx
	mov $RFLAGS_IOPL0, %r8
	/* fall through */

/* iretq to CPL3 at RCX with RFLAGS = R8; the loops use no stack: user RSP 0. */
enter_user:
	pushq $USER_DS
	pushq $0
	pushq %r8
	pushq $USER_CS
	pushq %rcx
	iretq

	.balign 64
pio_loop:
	.rept UNROLL
	outb %al, %dx
	.endr
	jmp pio_loop

	.balign 64
mmio_loop:
	.rept UNROLL
	movl %eax, (%r9)
	.endr
	jmp mmio_loop

	.section .rodata
	.balign 8
variants:
	.quad pio_loop  /* BENCH_GUEST_PIO_CPL0 */
	.quad mmio_loop /* BENCH_GUEST_MMIO_CPL0 */
	.quad pio_cpl3  /* BENCH_GUEST_PIO_CPL3 */
	.quad mmio_cpl3 /* BENCH_GUEST_MMIO_CPL3 */
	.quad pio_cpl3_iopl0 /* BENCH_GUEST_PIO_CPL3_IOPL0 */

	.balign 8
gdt:
	.quad 0
	.quad 0x00af9a000000ffff /* 0x08: 64-bit code, DPL0 (as the boot GDT) */
	.quad 0x00cf92000000ffff /* 0x10: flat data, DPL0 (as the boot GDT) */
	.quad 0x00cff2000000ffff /* 0x18: flat data, DPL3 */
	.quad 0x00affa000000ffff /* 0x20: 64-bit code, DPL3 */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.quad gdt

	.bss
	.balign 16
	.skip 4096
stack_top:

	.section .note.GNU-stack, "", @progbits
