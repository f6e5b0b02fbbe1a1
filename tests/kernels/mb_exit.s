# mb_exit.elf: an ELF32 Multiboot v1 kernel for the integration tests.
#
# Prints "multiboot ok\n" on the UART, checks the loader's handoff and exits
# through the test-exit port with:
#   0  EAX held the bootloader magic and the info struct gave a command line
#      (flags bit 2) pointing into RAM (below 1 MiB + mem_upper KiB), which it
#      prints as "cmdline: <text>\n";
#   7  EAX did not hold 0x2BADB002;
#   8  the info struct has no usable command line.
# It runs at CPL0, where every instruction is emulated (~2 us each): plain
# moves and jumps, no string instructions, no loop.

	.set MB_MAGIC,      0x1BADB002
	.set MB_FLAGS,      0x00000003	# page-aligned modules, memory info
	.set BOOT_MAGIC,    0x2BADB002
	.set MBI_MEMORY,    1 << 0
	.set MBI_CMDLINE,   1 << 2
	.set UART,          0x3f8
	.set EXIT_PORT,     0xf4
	.set CMDLINE_MAX,   4096

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.code32
	.text
	.globl _start
_start:
	mov	$stack_top, %esp
	mov	%eax, %edi		# the magic, checked after the greeting
	mov	%ebx, %ebp		# multiboot info
	mov	$msg_ok, %esi
	call	puts
	cmp	$BOOT_MAGIC, %edi
	jne	bad_magic

	mov	(%ebp), %eax		# info flags
	test	$MBI_CMDLINE, %eax
	jz	bad_cmdline
	test	$MBI_MEMORY, %eax	# mem_upper bounds the pointer
	jz	bad_cmdline
	mov	16(%ebp), %ebx		# cmdline
	test	%ebx, %ebx
	jz	bad_cmdline
	mov	8(%ebp), %eax		# mem_upper, KiB above 1 MiB
	add	$1024, %eax
	shl	$10, %eax		# end of RAM below the hole
	cmp	%eax, %ebx
	jae	bad_cmdline

	mov	$msg_cmdline, %esi
	call	puts
	mov	%ebx, %esi
	call	puts
	mov	$msg_nl, %esi
	call	puts
	xor	%eax, %eax
	jmp	exit

bad_magic:
	mov	$msg_bad_magic, %esi
	call	puts
	mov	$7, %eax
	jmp	exit
bad_cmdline:
	mov	$msg_bad_cmdline, %esi
	call	puts
	mov	$8, %eax
exit:
	mov	$EXIT_PORT, %dx
	out	%eax, %dx
1:	hlt
	jmp	1b

# puts: write the NUL-terminated string at %esi (at most CMDLINE_MAX bytes).
puts:
	mov	$UART, %dx
	mov	$CMDLINE_MAX, %ecx
1:	movb	(%esi), %al
	test	%al, %al
	jz	2f
	out	%al, %dx
	inc	%esi
	dec	%ecx
	jnz	1b
2:	ret

	.section .rodata
msg_ok:		.asciz "multiboot ok\n"
msg_cmdline:	.asciz "cmdline: "
msg_nl:		.asciz "\n"
msg_bad_magic:	.asciz "multiboot: bad magic in EAX\n"
msg_bad_cmdline: .asciz "multiboot: no usable cmdline\n"

	.bss
	.align 16
	.skip 256
stack_top:
