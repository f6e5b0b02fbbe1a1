# l1_exit64.elf: the smallest l1vmm-protocol kernel (ELF64, entered in long
# mode at CPL0, pvops/l1vmm_abi.h). Prints "l1 ok\n" on the UART and exits
# through the test-exit port with 0. A valid ELF64 seed for the loader
# fuzzer, and a boot smoke test for the ELF64 path. Has a bss (its stack).

	.set UART,      0x3f8
	.set EXIT_PORT, 0xf4

	.code64
	.text
	.globl _start
_start:
	lea	stack_top(%rip), %rsp
	lea	msg_ok(%rip), %rsi
	mov	$UART, %dx
1:	movb	(%rsi), %al
	test	%al, %al
	jz	2f
	out	%al, %dx
	inc	%rsi
	jmp	1b
2:	xor	%eax, %eax
	mov	$EXIT_PORT, %dx
	out	%eax, %dx
3:	hlt
	jmp	3b

	.section .rodata
msg_ok:	.asciz "l1 ok\n"

	.bss
	.align 16
	.skip 256
stack_top:
