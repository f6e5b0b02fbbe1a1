/* SPDX-License-Identifier: MIT */
/*
 * DOC: interrupt and exception entry.
 *
 * One stub per vector we use pushes a fake error code where the CPU pushes
 * none, then the vector, and jumps to trap_common, which saves the general
 * registers to finish a struct trap_frame (arch/x86/x86.h) and calls
 * trap__dispatch(frame). The dispatcher returns the frame to resume - the
 * same one, or another task's: a context switch is just "resume a different
 * frame", and the return at the end does the rest (the kernel stack for the
 * next trap from the task was set by the scheduler). Everything here runs at
 * CPL0 in ept mode, which is emulated at ~2 us per instruction on this
 * machine, so the path is kept to the bare pushes/pops.
 * No segment registers are saved: the kernel never changes fs/gs.
 *
 * Two flavours of trap_common share the body and differ in the return:
 * trap_common_native ends in iretq; trap_common_pv (shadow mode, the kernel
 * at CPL3) returns through l1vmm's iret hypercall with RSP at struct
 * l1_iret_frame (RAX pushed on the hardware-shaped frame). The stubs jump
 * through trap__common, set once at boot: an indirect jmp is one
 * instruction like a direct one, so ept mode pays nothing for the choice.
 * l1vmm bounces shadow-mode traps to the same stubs (trap table) on a
 * hardware-shaped frame.
 */
#include "arch/x86/x86.h"

.macro TRAP_BODY
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, %rdi
	call trap__dispatch
	mov %rax, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp		/* vector, error code */
.endm

	.text

	.globl trap_common_native
	.type trap_common_native, @function
trap_common_native:
	TRAP_BODY
	iretq
	.size trap_common_native, . - trap_common_native

	.globl trap_common_pv
	.type trap_common_pv, @function
trap_common_pv:
	TRAP_BODY
	push %rax		/* struct l1_iret_frame: rax on the hardware frame */
	mov $HC_NR_IRET, %eax
	movabs %rax, 0xffffffffff000000	/* L1_SHADOW_HYPERCALL_VA: never returns */
	ud2
	.size trap_common_pv, . - trap_common_pv

/*
 * sched__kyield(): enter the scheduler from kernel code (the idle loop) as if
 * interrupted right after the call. `int $n` cannot be used at CPL0 here:
 * KVM's emulator only handles it in real mode. Called with interrupts off
 * (events masked in shadow mode, where pushfq still shows the real IF=1, so
 * the frame's IF is cleared: the resumed idle loop stays masked);
 * clobbers only caller-saved registers, so it looks like a normal call.
 */
	.globl sched__kyield
	.type sched__kyield, @function
sched__kyield:
	pushfq
	pop %rdx		/* rflags */
	btr $9, %rdx		/* IF: interrupts are off here */
	mov (%rsp), %rcx	/* resume at the return address... */
	lea 8(%rsp), %rax	/* ...with the stack as after ret */
	and $-16, %rsp		/* what the CPU does before an interrupt frame */
	push x86__sel+SEL_KERNEL_SS(%rip)
	push %rax
	push %rdx
	push x86__sel+SEL_KERNEL_CS(%rip)
	push %rcx
	push $0
	push $VEC_KYIELD
	jmp *trap__common(%rip)
	.size sched__kyield, . - sched__kyield

.macro STUB name, vec, err
	.globl trap_stub_\name
	.type trap_stub_\name, @function
trap_stub_\name:
	.if \err == 0
	push $0
	.endif
	push $\vec
	jmp *trap__common(%rip)
	.size trap_stub_\name, . - trap_stub_\name
.endm

/* Exceptions; the CPU pushes an error code for 8, 10-14, 17, 21, 29, 30. */
	STUB 0, 0, 0
	STUB 1, 1, 0
	STUB 2, 2, 0
	STUB 3, 3, 0
	STUB 4, 4, 0
	STUB 5, 5, 0
	STUB 6, 6, 0
	STUB 7, 7, 0
	STUB 8, 8, 1
	STUB 9, 9, 0
	STUB 10, 10, 1
	STUB 11, 11, 1
	STUB 12, 12, 1
	STUB 13, 13, 1
	STUB 14, 14, 1
	STUB 15, 15, 0
	STUB 16, 16, 0
	STUB 17, 17, 1
	STUB 18, 18, 0
	STUB 19, 19, 0
	STUB 20, 20, 0
	STUB 21, 21, 1
	STUB 22, 22, 0
	STUB 23, 23, 0
	STUB 24, 24, 0
	STUB 25, 25, 0
	STUB 26, 26, 0
	STUB 27, 27, 0
	STUB 28, 28, 0
	STUB 29, 29, 1
	STUB 30, 30, 1
	STUB 31, 31, 0
	STUB timer, VEC_TIMER, 0
	STUB virtio, VEC_VIRTIO, 0
	STUB balloon, VEC_BALLOON, 0
	STUB apf, VEC_APF, 0
	STUB syscall, VEC_SYSCALL, 0
	STUB resched, VEC_RESCHED, 0
	STUB spurious, VEC_SPURIOUS, 0
	STUB event, VEC_EVENT, 0	/* shadow mode only: not in the IDT */

	.data
	.balign 8
	.globl trap__common
trap__common:
	.quad trap_common_native	/* pvops__select() may switch it to trap_common_pv */

/* { stub, vector } pairs for idt__init(), ended by a zero stub. */
	.section .rodata
	.balign 8
	.globl trap__stub_table
trap__stub_table:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad trap_stub_\v, \v
	.endr
	.quad trap_stub_timer, VEC_TIMER
	.quad trap_stub_virtio, VEC_VIRTIO
	.quad trap_stub_balloon, VEC_BALLOON
	.quad trap_stub_apf, VEC_APF
	.quad trap_stub_syscall, VEC_SYSCALL
	.quad trap_stub_resched, VEC_RESCHED
	.quad trap_stub_spurious, VEC_SPURIOUS
	.quad 0, 0
