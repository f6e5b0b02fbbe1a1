/* SPDX-License-Identifier: MIT */
/*
 * DOC: task entry, at CPL3.
 *
 * The kernel starts every task here with rdi = fn, rsi = arg and a fresh,
 * 16-byte aligned stack: call fn(arg), then SYS_EXIT with what it returned.
 * The kernel knows only this address, not the C calling convention.
 */
	.text
	.globl user__task_start
	.type user__task_start, @function
user__task_start:
	xor %ebp, %ebp
	mov %rdi, %rax
	mov %rsi, %rdi
	call *%rax
	mov %rax, %rdi
	mov $1, %eax		/* SYS_EXIT, checked in ulib.c */
	int $0x80
	ud2
	.size user__task_start, . - user__task_start
