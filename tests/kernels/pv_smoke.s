# pv_smoke: a minimal shadow-mode (PV) kernel that exercises l1vmm's PV paths
# from CPL3 with nothing but hypercalls, and exits 0 only if each works:
#   console ring + L1_HC_CONSOLE, L1_HC_SET_TRAP_TABLE, a #PF bounced with cr2,
#   L1_HC_IRET back to a changed frame, port I/O refused with a #GP bounce,
#   a one-shot timer delivered as an event upcall while in L1_HC_BLOCK,
#   a bad hypercall number (-ENOSYS), then L1_HC_EXIT.
# vCPUs other than 0 block forever. Exit codes: 0 pass, 10+n: check n failed.
	.set HC, 0xffffffffff000000
	.set HC_CONSOLE, 1
	.set HC_SET_TIMER, 2
	.set HC_BLOCK, 3
	.set HC_SET_TRAP_TABLE, 8
	.set HC_IRET, 9
	.set HC_EXIT, 10
	.set SI_PROD, 2080          # l1_shared_info.console_prod
	.set SI_RING, 3584          # l1_shared_info.console_ring
	.set SI_CLOCK, 2048         # l1_shared_info.clock
	.set FAULT_VA, 0x40000000000

	.code64
	.text
	.globl _start
_start:
	cmpl $2, 72(%rdi)           # start_info.mode == L1_MODE_SHADOW
	jne fail_mode
	mov 80(%rdi), %r14          # shared info
	lea stack_top(%rip), %rsp
	test %rsi, %rsi
	jnz idle
	lea traps(%rip), %rdi
	mov $4, %esi
	mov $HC_SET_TRAP_TABLE, %eax
	movabs %rax, HC
	test %rax, %rax
	js fail_traps
	lea msg_hello(%rip), %rsi
	call print

	# 1. a #PF far outside RAM: the handler checks cr2 and skips us to after_pf
	movabs $FAULT_VA, %rax
	mov (%rax), %rbx
	jmp fail_pf_returned
after_pf:
	cmpq $1, pf_seen(%rip)
	jne fail_pf_seen
	lea msg_pf(%rip), %rsi
	call print

	# 2. port I/O at CPL3 (even to l1vmm's trap port) must come back as #GP
	out %al, $0xf5
	jmp fail_gp_returned
after_gp:
	lea msg_gp(%rip), %rsi
	call print

	# 3. a timer 2 ms from now, then block: the event arrives as vector 32
	rdtsc
	shl $32, %rdx
	or %rdx, %rax
	sub SI_CLOCK+8(%r14), %rax      # - tsc_timestamp
	mov $1000000, %rcx
	mul %rcx
	divq SI_CLOCK+24(%r14)          # / tsc_khz  -> ns since pvclock 0
	add $2000000, %rax
	mov %rax, %rdi
	mov $HC_SET_TIMER, %eax
	movabs %rax, HC
1:	mov $HC_BLOCK, %eax
	movabs %rax, HC
	cmpq $0, ticks(%rip)
	je 1b
	lea msg_tick(%rip), %rsi
	call print

	# 4. an unknown hypercall is refused with -ENOSYS (38)
	mov $9999, %eax
	movabs %rax, HC
	cmp $-38, %rax
	jne fail_enosys

	lea msg_done(%rip), %rsi
	call print
	xor %edi, %edi
	jmp exit

# print(rsi = NUL-terminated string): append to the console ring, notify
print:
	mov SI_PROD(%r14), %ecx
1:	movzbl (%rsi), %eax
	test %al, %al
	jz 2f
	mov %ecx, %edx
	and $511, %edx
	mov %al, SI_RING(%r14,%rdx)
	inc %ecx
	inc %rsi
	jmp 1b
2:	mov %ecx, SI_PROD(%r14)
	mov $HC_CONSOLE, %eax
	movabs %rax, HC
	ret

pf_handler:                        # frame: error, rip, cs, rflags, rsp, ss
	movabs $FAULT_VA, %rax
	cmp 8(%r14), %rax               # vcpu[0].cr2
	jne fail_cr2
	movq $1, pf_seen(%rip)
	lea after_pf(%rip), %rax
	mov %rax, 8(%rsp)
	add $8, %rsp                    # drop the error code
	jmp iret

gp_handler:
	lea after_gp(%rip), %rax
	mov %rax, 8(%rsp)
	add $8, %rsp
	jmp iret

event_handler:                     # frame: rip, cs, rflags, rsp, ss
	lock andl $~1, 0(%r14)          # clear L1_EVT_TIMER in vcpu[0].pending
	incq ticks(%rip)
iret:
	push %rax
	mov $HC_IRET, %eax
	movabs %rax, HC

idle:
	mov $HC_BLOCK, %eax
	movabs %rax, HC
	jmp idle

fail_mode:        mov $11, %edi ; jmp exit_nostack
fail_traps:       mov $12, %edi ; jmp exit
fail_pf_returned: mov $13, %edi ; jmp exit
fail_pf_seen:     mov $14, %edi ; jmp exit
fail_cr2:         mov $15, %edi ; jmp exit
fail_gp_returned: mov $16, %edi ; jmp exit
fail_enosys:      mov $17, %edi ; jmp exit
exit:
exit_nostack:
	mov $HC_EXIT, %eax
	movabs %rax, HC
	jmp exit

	.section .rodata
traps:
	.byte 14, 0, 0, 0, 0, 0, 0, 0
	.quad pf_handler
	.byte 13, 0, 0, 0, 0, 0, 0, 0
	.quad gp_handler
	.byte 32, 0, 0, 0, 0, 0, 0, 0
	.quad event_handler
	.byte 6, 0, 0, 0, 0, 0, 0, 0
	.quad gp_handler
msg_hello: .asciz "pv_smoke: hello from CPL3\n"
msg_pf:    .asciz "pv_smoke: #PF bounced with cr2, iret ok\n"
msg_gp:    .asciz "pv_smoke: port I/O refused with #GP\n"
msg_tick:  .asciz "pv_smoke: timer event delivered\n"
msg_done:  .asciz "pv_smoke: all checks passed\n"

	.data
pf_seen: .quad 0
ticks:   .quad 0
	.balign 16
	.space 8192
stack_top:

	.section .note.l1vmm, "a"
	.balign 4
	.long 6, 0, 1                   # namesz ("L1VMM\0"), descsz, L1_ELF_NOTE_PV
	.asciz "L1VMM"
	.balign 4
