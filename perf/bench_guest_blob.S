/* SPDX-License-Identifier: MIT */
/*
 * DOC: bench_guest.elf embedded in bench_exits, so the program runs from
 * anywhere. BENCH_GUEST_ELF is the file's path (perf/CMakeLists.txt).
 */
	.section .rodata
	.balign 16
	.globl bench_guest_elf
	.globl bench_guest_elf_end
bench_guest_elf:
	.incbin BENCH_GUEST_ELF
bench_guest_elf_end:

	.section .note.GNU-stack, "", @progbits
