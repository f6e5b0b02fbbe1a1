# mb_kludge.bin: a flat Multiboot v1 kernel (no ELF) loaded through the
# header's address fields (flags bit 16, the "a.out kludge").
#
# Prints "multiboot kludge ok\n" on the UART and exits through the test-exit
# port with 42, or with 7 when EAX did not hold the bootloader magic. It has
# a bss (its stack) so the loader's zeroing of [load_end_addr, bss_end_addr)
# is exercised. Built as ELF at 1 MiB, then objcopy -O binary: file offset 0
# is load_addr.

	.set MB_MAGIC,   0x1BADB002
	.set MB_FLAGS,   0x00010002	# address fields valid, memory info
	.set BOOT_MAGIC, 0x2BADB002
	.set UART,       0x3f8
	.set EXIT_PORT,  0xf4

	.section .multiboot, "a"
	.align 4
mb_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
	.long mb_header		# header_addr
	.long _load_start	# load_addr
	.long _edata		# load_end_addr
	.long _end		# bss_end_addr
	.long _start		# entry_addr

	.code32
	.text
	.globl _start
_start:
	mov	$stack_top, %esp
	mov	%eax, %edi
	mov	$msg_ok, %esi
	call	puts
	mov	$42, %eax
	cmp	$BOOT_MAGIC, %edi
	je	exit
	mov	$7, %eax
exit:
	mov	$EXIT_PORT, %dx
	out	%eax, %dx
1:	hlt
	jmp	1b

# puts: write the NUL-terminated string at %esi to the UART.
puts:
	mov	$UART, %dx
1:	movb	(%esi), %al
	test	%al, %al
	jz	2f
	out	%al, %dx
	inc	%esi
	jmp	1b
2:	ret

	.section .rodata
msg_ok:	.asciz "multiboot kludge ok\n"

	.bss
	.align 16
	.skip 256
stack_top:
