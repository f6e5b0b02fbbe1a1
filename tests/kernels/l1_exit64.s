# l1_exit64.elf: the smallest l1vmm-protocol kernel (ELF64, entered in long
# mode at CPL0, pvops/l1vmm_abi.h). Prints "l1 ok\n" on the UART and exits
# through the test-exit port with 0. A valid ELF64 seed for the loader
# fuzzer, and a boot smoke test for the ELF64 path. Has a bss (its stack).
# Assembled with --defsym CONSOLE_BYTES=1 it is console_bytes.elf instead.

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
.ifdef CONSOLE_BYTES
# console_bytes.elf: bytes a terminal would obey (ESC sequences, CR, a tab) and
# a line that pretends to come from another VM (tests/integration/test_process.py)
msg_ok:	.ascii "red \033[31mtext\033[0m\r\tend\n"
	.asciz "[other] l1vmm: other: exited with code 0\n"
.else
msg_ok:	.asciz "l1 ok\n"
.endif

	.bss
	.align 16
	.skip 256
stack_top:
