/*
 * libFuzzer target: shadow mode's trap, iret and event path
 * (l1vmm/shadow_vm.c: the trap port, bounces to the guest's handlers, the
 * hypercalls SET_TRAP_TABLE, IRET, BLOCK, CONSOLE, ..., event upcalls; the
 * shadow faults they lead to in mmu/shadow) through l1vmm's real shadow vCPU
 * loop on a fake /dev/kvm (vm_world.h): the machine and the VM are made by
 * machine__create() and vm__create(). The input is a program: exceptions
 * as the stub leaves them (any vector, error code, CR2; the context a CPU
 * at CPL3 could have been in), hypercalls from the kernel or a task with
 * any registers, guest writes of memory (trap tables, iret frames, stacks)
 * and of the shared-info page (pending, masked, kernel_sp), interruptions
 * with or without an exception KVM has yet to deliver. Invariants: every
 * state l1vmm enters is a CPL3 guest context (the guest's selectors as a
 * pair, RIP in the guest half, IF on, IOPL 0); a VM that ends as a crash
 * does so for the guest's fault, never as "l1vmm bug"; no access outside
 * guest or machine memory (ASan); no hang (-timeout).
 */
#include <stdlib.h>
#include <string.h>

#include "balloon/balloon.h"
#include "pvops/l1vmm_abi.h"
#include "vm_world.h"

#define RAM (8ull << 20)
#define RFLAGS_IF (1ull << 9)
#define IOPL (3ull << 12)
#define MFN_STACKS 0x100u /* cpu/hybrid/stub.c: two frames per machine vCPU */

struct script {
	struct vm_world w;
	const uint8_t *data;
	size_t size;
};

static const uint8_t *take(struct script *s, size_t n)
{
	if (s->size < n)
		return NULL;
	const uint8_t *p = s->data;
	s->data += n;
	s->size -= n;
	return p;
}

static bool is_guest_pair(uint64_t cs, uint64_t ss)
{
	return (cs == L1_SHADOW_KERNEL_CS && ss == L1_SHADOW_KERNEL_SS) ||
	       (cs == L1_SHADOW_USER_CS && ss == L1_SHADOW_USER_SS);
}

/* After every KVM_SET_REGS / KVM_SET_SREGS: the state l1vmm makes is the guest's. */
static void on_set(void *ctx)
{
	struct script *s = ctx;
	const struct fake_kvm *k = &s->w.k;
	uint16_t cs = k->sregs.cs.selector, ss = k->sregs.ss.selector;
	if (cs != L1_SHADOW_KERNEL_CS && cs != L1_SHADOW_USER_CS)
		return; /* not entered yet (the boot state comes in two calls) */
	if (!is_guest_pair(cs, ss) || k->regs.rip >= L1_SHADOW_GUEST_VA_END ||
	    !(k->regs.rflags & RFLAGS_IF) || (k->regs.rflags & IOPL))
		abort();
}

/* A guest-half address: in RAM (identity-mapped by the boot tables), or any. */
static uint64_t guest_va(uint64_t v, bool raw)
{
	return raw ? v % L1_SHADOW_GUEST_VA_END : v % RAM;
}

static void trap(struct script *s, const uint8_t *p, uint64_t y, uint64_t z, uint64_t w)
{
	struct fake_kvm *k = &s->w.k;
	uint8_t a = p[1], b = p[2], c = p[3];
	uint32_t x;
	memcpy(&x, p + 4, 4);
	struct machine *m = &s->w.m;
	unsigned id = s->w.vm.shadow->vcpus[0].machine_id;
	uint64_t top = (MFN_STACKS + 2ull * id) * 4096 + 0x2000 - 16;
	uint64_t *f = ept__gpa_ptr(&m->mem.mem, top - 56, 56);
	if (!f)
		abort();
	bool user = b & 1;
	/* what the CPU pushed at CPL3 and the stub added: vector, error, rip, cs, rflags, rsp, ss */
	f[0] = a & 0x80 ? a : 14 * (a & 1) + (a >> 1) % 21;
	f[1] = x;
	f[2] = guest_va(y, b & 2);
	f[3] = b & 4 ? (uint64_t)(c | 3) : user ? L1_SHADOW_USER_CS : L1_SHADOW_KERNEL_CS;
	f[4] = ((z & 0x3f7fd5ull) & ~IOPL) | RFLAGS_IF | 2;
	f[5] = b & 8 ? w : guest_va(w, false);
	f[6] = user ? L1_SHADOW_USER_SS : L1_SHADOW_KERNEL_SS;
	k->sregs.cr2 = b & 0x10 ? guest_va(z, b & 0x20) : 0;
	/* the stub's out, or a guest's own port I/O (refused as #GP) */
	k->regs.rip = b & 0x40 ? guest_va(y, false) : 0xffffff8000003000ull + (a % 34) * 16;
	k->sregs.cs.selector = b & 0x40 ? f[3] : 0x08;
	k->run->exit_reason = KVM_EXIT_IO;
	k->run->io = (typeof(k->run->io)){ .direction = KVM_EXIT_IO_OUT, .size = 1,
					   .port = b & 0x80 ? 0x80 : 0xf5, .count = 1,
					   .data_offset = 256 };
}

static void hypercall(struct script *s, const uint8_t *p, uint64_t y, uint64_t z, uint64_t w)
{
	struct fake_kvm *k = &s->w.k;
	uint8_t a = p[1], b = p[2], c = p[3];
	uint32_t x;
	memcpy(&x, p + 4, 4);
	uint64_t nr = a & 0x80 ? y : 1 + a % (L1_HC_NR - 1);
	struct l1_vcpu_info *info = &s->w.vm.shadow->si->vcpu[0];
	if (nr == L1_HC_BLOCK)
		__atomic_fetch_or(&info->pending, L1_EVT_CONSOLE, __ATOMIC_RELEASE); /* no sleep */
	if (nr == L1_HC_SET_TIMER)
		y %= 1000000; /* a timer that fires within 1 ms of pvclock time */
	k->regs.rax = nr;
	k->regs.rdi = b & 1 ? y : guest_va(y, false);
	k->regs.rsi = b & 2 ? z : z % 300;
	k->regs.rdx = b & 4 ? w : w % 600;
	k->regs.r10 = c;
	k->regs.r8 = x;
	k->regs.rsp = b & 8 ? guest_va(w, true) : guest_va(w, false);
	k->regs.rip = guest_va(z, false);
	k->regs.rflags = RFLAGS_IF | 2;
	bool task = b & 0x10;
	k->sregs.cs.selector = task ? L1_SHADOW_USER_CS : L1_SHADOW_KERNEL_CS;
	k->sregs.ss.selector = task ? L1_SHADOW_USER_SS : L1_SHADOW_KERNEL_SS;
	k->run->exit_reason = KVM_EXIT_MMIO;
	k->run->mmio.phys_addr = L1_DOORBELL_GPA + (b & 0x20 ? x % 4096 : 0);
	k->run->mmio.len = 8;
	k->run->mmio.is_write = !(b & 0x40);
}

static bool next_exit(void *ctx)
{
	struct script *s = ctx;
	struct fake_kvm *k = &s->w.k;
	struct shadow_vm *sv = s->w.vm.shadow;
	k->run->exit_reason = KVM_EXIT_INTR;
	k->events = (struct kvm_vcpu_events){ 0 };
	const uint8_t *p = take(s, 32);
	if (!p)
		return vm_world__script_over(&s->w);
	uint64_t y, z, w;
	memcpy(&y, p + 8, 8);
	memcpy(&z, p + 16, 8);
	memcpy(&w, p + 24, 8);
	switch (p[0] % 5) {
	case 0:
		trap(s, p, y, z, w);
		return true;
	case 1:
		hypercall(s, p, y, z, w);
		return true;
	case 2: { /* the guest writes 16 bytes where it can (a write fault is its own) */
		uint64_t v[2] = { z, w };
		uint8_t n = p[1] & 0x0f;
		if (p[1] & 0x80) /* a trap-table entry, an iret frame field: small values */
			v[0] = p[2] & 1 ? guest_va(z, false) : (p[3] & 3) + 0x20 + 8 * (p[3] & 0x10);
		shadow__access(&sv->g, guest_va(y, false), v, 16 - n, true);
		return true;
	}
	case 3: { /* the shared-info page: events pending, masked, the kernel stack */
		struct l1_vcpu_info *info = &sv->si->vcpu[0];
		__atomic_store_n(&info->pending, p[1] & 7, __ATOMIC_RELEASE);
		__atomic_store_n(&info->masked, p[2] & 1, __ATOMIC_RELEASE);
		if (p[2] & 2)
			__atomic_store_n(&info->kernel_sp, p[2] & 4 ? y : guest_va(y, false),
					 __ATOMIC_RELEASE);
		return true;
	}
	default: { /* an interruption, maybe with an exception KVM has not delivered */
		k->events.exception.injected = p[1] & 1;
		k->events.exception.pending = (p[1] >> 1) & 1;
		k->events.interrupt.injected = (p[1] >> 2) & 1;
		k->regs.rip = guest_va(y, false);
		bool task = p[2] & 1;
		k->sregs.cs.selector = p[2] & 2 ? 0x08 : task ? L1_SHADOW_USER_CS : L1_SHADOW_KERNEL_CS;
		k->sregs.ss.selector = task ? L1_SHADOW_USER_SS : L1_SHADOW_KERNEL_SS;
		k->regs.rsp = guest_va(z, false);
		k->regs.rflags = RFLAGS_IF | 2;
		return true;
	}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	vm_world__init_process();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct script s;
	memset(&s, 0, sizeof(s));
	vm_world__create(&s.w, true, RAM);
	s.data = data;
	s.size = size > 32 * 64 ? 32 * 64 : size; /* at most 64 steps */
	s.w.k.next_exit = next_exit;
	s.w.k.on_set = on_set;
	s.w.k.ctx = &s;
	vm_world__run(&s.w);
	if (s.w.vm.end == VM_END_CRASH && s.w.vm.crash_report &&
	    strstr(s.w.vm.crash_report, "l1vmm bug"))
		abort();
	vm_world__destroy(&s.w);
	return 0;
}
