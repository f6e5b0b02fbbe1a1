/* SPDX-License-Identifier: MIT */
/*
 * DOC: kernel entry (l1vmm boot protocol, pvops/l1vmm_abi.h).
 *
 * Every vCPU starts here in long mode at CPL0 with interrupts off,
 * RDI = start info, RSI = vCPU index and no stack (RSP = 0). Each CPU takes
 * the kernel stack of its idle task (idle_stacks[index], struct task at its
 * base, so sched__current() works from the first C instruction) and calls
 * kernel__main(start_info, index). CPUs past MAX_CPUS park for good.
 */
#include "kernel/config.h"

	.section .text.boot, "ax"
	.globl _start
	.type _start, @function
_start:
	cli
	cld
	cmp $MAX_CPUS, %rsi
	jae 1f
	mov %rsi, %rax
	inc %rax
	shl $KSTACK_SHIFT, %rax
	lea idle_stacks(%rax), %rsp
	xor %ebp, %ebp
	call kernel__main
1:	cli
	hlt
	jmp 1b
	.size _start, . - _start
