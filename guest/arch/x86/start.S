/* SPDX-License-Identifier: MIT */
/*
 * DOC: kernel entry (l1vmm boot protocol, pvops/l1vmm_abi.h).
 *
 * Every vCPU starts here with RDI = start info, RSI = vCPU index and no
 * stack (RSP = 0): in ept mode in long mode at CPL0 with interrupts off, in
 * shadow mode at CPL3 with events masked. The mode is looked at before any
 * privileged instruction: in shadow mode `cli` would raise #GP with no
 * handler yet. Each CPU takes the kernel stack of its idle task
 * (idle_stacks[index], struct task at its base, so sched__current() works
 * from the first C instruction) and calls kernel__main(start_info, index).
 * CPUs past MAX_CPUS park for good (hlt, or the block hypercall).
 *
 * The ELF note at the end marks the kernel PV-capable: l1vmm's --mode auto
 * may then run it in shadow mode.
 */
#include "kernel/config.h"
#include "arch/x86/x86.h"

	.section .text.boot, "ax"
	.globl _start
	.type _start, @function
_start:
	cmpl $2, START_INFO_MODE(%rdi)	/* L1_MODE_SHADOW: checked in pvops_pv.c */
	je 2f
	cli
2:	cld
	cmp $MAX_CPUS, %rsi
	jae 1f
	mov %rsi, %rax
	inc %rax
	shl $KSTACK_SHIFT, %rax
	lea idle_stacks(%rax), %rsp
	xor %ebp, %ebp
	call kernel__main
1:	cmpl $2, START_INFO_MODE(%rdi)
	je 3f
	cli
	hlt
	jmp 1b
3:	mov $HC_NR_BLOCK, %eax		/* no timer armed: sleeps for good */
	movabs %rax, 0xffffffffff000000
	jmp 3b
	.size _start, . - _start

/* ELF note: name "L1VMM", type L1_ELF_NOTE_PV, desc = the ABI version built against. */
	.section .note.l1vmm, "a", @note
	.balign 4
	.long 2f - 1f		/* namesz */
	.long 4f - 3f		/* descsz */
	.long 1			/* L1_ELF_NOTE_PV */
1:	.asciz "L1VMM"
2:	.balign 4
3:	.long 2			/* L1_ABI_VERSION */
4:	.balign 4
