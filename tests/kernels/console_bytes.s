# console_bytes.elf: an l1vmm-protocol kernel (ELF64, CPL0) that prints bytes a
# terminal would obey (ESC sequences, CR, a tab) and a line that pretends to
# come from another VM, then exits with 0. l1vmm must show them escaped, one
# prefixed line per guest line (tests/integration/test_process.py).

	.set UART,      0x3f8
	.set EXIT_PORT, 0xf4

	.code64
	.text
	.globl _start
_start:
	lea	stack_top(%rip), %rsp
	lea	msg(%rip), %rsi
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
msg:	.ascii "red \033[31mtext\033[0m\r\tend\n"
	.asciz "[other] l1vmm: other: exited with code 0\n"

	.bss
	.align 16
	.skip 256
stack_top:
