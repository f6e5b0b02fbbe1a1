/*
 * qemu_mb: entry and the AP trampoline of a test kernel written the way
 * kernels for QEMU are (main.c says what it checks).
 *
 * _start: Multiboot v1 entry in flat 32-bit protected mode (EAX = magic,
 * EBX = info): load our own GDT, set a stack, call kmain(magic, info).
 *
 * ap_tramp..ap_tramp_end: copied by main.c to AP_TRAMP_GPA (page aligned,
 * below 1 MiB) and started there by INIT/SIPI in real mode at CS = vector <<
 * 8, IP = 0. It loads the same GDT, enters protected mode and jumps to
 * ap_main32 in the kernel proper, which counts the AP in and halts.
 */
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0x00000003	/* page-aligned modules, memory info */
	.set CODE32,   0x08
	.set DATA32,   0x10

	.section .multiboot, "a"
	.align 4
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl _start
_start:
	cli
	lgdt	gdt_desc
	ljmp	$CODE32, $1f
1:	mov	$DATA32, %cx
	mov	%cx, %ds
	mov	%cx, %es
	mov	%cx, %ss
	mov	%cx, %fs
	mov	%cx, %gs
	mov	$stack_top, %esp
	push	%ebx
	push	%eax
	call	kmain
2:	cli
	hlt
	jmp	2b

	.globl ap_main32
ap_main32:
	mov	$DATA32, %cx
	mov	%cx, %ds
	mov	%cx, %es
	mov	%cx, %ss
	lock incl ap_count
3:	cli
	hlt
	jmp	3b

	.code16
	.globl ap_tramp, ap_tramp_end
ap_tramp:
	cli
	lgdtl	%cs:(ap_gdt_desc - ap_tramp)
	mov	%cr0, %eax
	or	$1, %eax
	mov	%eax, %cr0
	ljmpl	$CODE32, $ap_main32
	.align 4
ap_gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt
ap_tramp_end:

	.code32
	.data
	.align 8
gdt:
	.quad	0
	.quad	0x00cf9a000000ffff	/* 0x08: flat 32-bit code */
	.quad	0x00cf92000000ffff	/* 0x10: flat data */
gdt_end:
gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt

	.globl ap_count
	.align 4
ap_count:
	.long	0

	.bss
	.align 16
	.space	16384
stack_top:
	.section .note.GNU-stack, "", @progbits
