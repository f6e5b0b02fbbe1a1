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
 * and of the shared-info page (pending, masked, kernel_sp), iret frames
 * and trap tables for the next hypercall, interruptions, page-table pages
 * linked with mmu_update and stores to them that l1vmm emulates,
 * with or without an exception KVM has yet to deliver. Invariants: every
 * state l1vmm enters is a CPL3 guest context (the guest's code and stack
 * selectors, RIP in the guest half, IF on, IOPL 0); a VM that ends as a crash
 * does so for the guest's fault, never as "l1vmm bug"; no access outside
 * guest or machine memory (ASan); no hang (-timeout).
 */
#include <stdlib.h>
#include <string.h>

#include "pvops/l1vmm_abi.h"
#include "vm_world.h"

#define RAM (8ull << 20)
#define RFLAGS_IF (1ull << 9)
#define IOPL (3ull << 12)
#define MFN_STACKS 0x100u /* cpu/hybrid/stub.c: two frames per machine vCPU */

#define TABLE_VA 0x300000ull   /* the prologue's trap table */
#define HANDLERS_VA 0x310000ull /* handler of vector v at HANDLERS_VA + 16 v */
#define KSTACK_VA 0x400000ull
#define UPDATE_VA 0x320000ull   /* an mmu_update request */
#define CODE_VA 0x321000ull     /* a store instruction */

struct script {
	struct vm_world w;
	bool prologue_done;
	uint64_t last_write_va; /* where the last guest write went (instruction bytes) */
};

/* The guest's selectors. Not as pairs: code at CPL3 may load either data
 * selector into SS, and a trap resumes the context as the CPU left it (the
 * contexts l1vmm makes itself, bounces and irets, are pairs: fuzz.hypercall
 * checks the iret frames it accepts). */
static bool is_guest_cs_ss(uint64_t cs, uint64_t ss)
{
	return (cs == L1_SHADOW_KERNEL_CS || cs == L1_SHADOW_USER_CS) &&
	       (ss == L1_SHADOW_KERNEL_SS || ss == L1_SHADOW_USER_SS);
}

/* Every state l1vmm enters is a guest context. */
static void on_enter(void *ctx)
{
	struct script *s = ctx;
	const struct fake_kvm *k = &s->w.k;
	uint16_t cs = k->sregs.cs.selector, ss = k->sregs.ss.selector;
	if (!is_guest_cs_ss(cs, ss) || k->regs.rip >= L1_SHADOW_GUEST_VA_END ||
	    !(k->regs.rflags & RFLAGS_IF) || (k->regs.rflags & IOPL))
		abort();
}

/* A guest-half address: in RAM (identity-mapped by the boot tables), or any. */
static uint64_t guest_va(uint64_t v, bool raw)
{
	return raw ? v % L1_SHADOW_GUEST_VA_END : v % RAM;
}

/* Where the stub leaves its frame (struct stub_frame) for our machine vCPU:
 * below RSP0, 16 under the top of its stack (cpu/hybrid/stub.c). */
static uint64_t *stub_frame(struct script *s)
{
	unsigned id = s->w.vm.shadow->vcpus[0].machine_id;
	uint64_t top = (MFN_STACKS + 2ull * id) * 4096 + STUB_STACK_SIZE - 16;
	uint64_t *f = ept__gpa_ptr(&s->w.m.mem.mem, top - sizeof(struct stub_frame),
				   sizeof(struct stub_frame));
	if (!f)
		abort();
	return f;
}

static void trap(struct script *s, const uint8_t *p, uint64_t y, uint64_t z, uint64_t w)
{
	struct fake_kvm *k = &s->w.k;
	uint8_t a = p[1], b = p[2], c = p[3];
	uint32_t x;
	memcpy(&x, p + 4, 4);
	uint64_t *f = stub_frame(s);
	bool user = b & 1;
	/* what the CPU pushed at CPL3 and the stub added: vector, error, rip, cs, rflags, rsp, ss */
	f[0] = a & 0x80 ? a : 14 * (a & 1) + (a >> 1) % 21;
	f[1] = x;
	f[2] = c & 0x40 ? s->last_write_va : guest_va(y, b & 2);
	f[3] = b & 4 ? (uint64_t)(c | 3) : user ? L1_SHADOW_USER_CS : L1_SHADOW_KERNEL_CS;
	f[4] = ((z & 0x3f7fd5ull) & ~IOPL) | RFLAGS_IF | 2;
	f[5] = b & 8 ? w : guest_va(w, false);
	f[6] = user ? L1_SHADOW_USER_SS : L1_SHADOW_KERNEL_SS;
	/* CR2: anywhere, 0 (KVM's stale report), or in the boot page tables
	 * (a write there is a page-table update l1vmm emulates) */
	const struct l1_start_info *si = ept__gpa_ptr(s->w.vm.ram, L1_START_INFO_GPA, sizeof(*si));
	k->sregs.cr2 = c & 0x20 ? si->boot_pml4_gpa + z % (8 * 4096) :
		       b & 0x10 ? guest_va(z, b & 0x20) : 0;
	/* the stub's out, or a guest's own port I/O (refused as #GP) */
	k->regs.rip = b & 0x40 ? guest_va(y, false) : STUB_CODE_VA + (a % 34) * STUB_ENTRY_SIZE;
	k->sregs.cs.selector = b & 0x40 ? f[3] : STUB_KERNEL_CS;
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
	if (!(c & 0x80)) { /* else: what an iret frame or trap table step left */
		k->regs.rdi = b & 1 ? y : guest_va(y, false);
		k->regs.rsi = b & 2 ? z : z % 300;
		k->regs.rsp = b & 8 ? guest_va(w, true) : guest_va(w, false);
	}
	k->regs.rdx = b & 4 ? w : w % 600;
	k->regs.r10 = c;
	k->regs.r8 = x;
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

/* The guest kernel's hypercall nr(rdi, rsi), from a handler on its stack. */
static void kernel_hypercall(struct script *s, uint64_t nr, uint64_t rdi, uint64_t rsi)
{
	struct fake_kvm *k = &s->w.k;
	k->regs = (struct kvm_regs){ .rax = nr, .rdi = rdi, .rsi = rsi, .rip = HANDLERS_VA,
				     .rsp = KSTACK_VA, .rflags = 0x202 };
	k->sregs.cs.selector = L1_SHADOW_KERNEL_CS;
	k->sregs.ss.selector = L1_SHADOW_KERNEL_SS;
	vm_world__mmio_write(&s->w, L1_DOORBELL_GPA, 0);
}

static bool next_exit(void *ctx)
{
	struct script *s = ctx;
	struct fake_kvm *k = &s->w.k;
	struct shadow_vm *sv = s->w.vm.shadow;
	k->run->exit_reason = KVM_EXIT_INTR;
	k->events = (struct kvm_vcpu_events){ 0 };
	if (!s->prologue_done) {
		/* what a guest kernel does first: a trap table for vectors 0..32
		 * (the input can replace it) and a kernel stack for tasks' traps */
		s->prologue_done = true;
		struct l1_trap_info t[33];
		for (unsigned v = 0; v < 33; v++)
			t[v] = (struct l1_trap_info){ .vector = (uint8_t)v,
						      .handler = HANDLERS_VA + 16 * v };
		if (shadow__access(&sv->g, TABLE_VA, t, sizeof(t), true) < 0)
			abort();
		__atomic_store_n(&sv->si->vcpu[0].kernel_sp, KSTACK_VA, __ATOMIC_RELEASE);
		kernel_hypercall(s, L1_HC_SET_TRAP_TABLE, TABLE_VA, 33);
		return true;
	}
	const uint8_t *p = vm_world__take(&s->w, 32);
	if (!p)
		return vm_world__script_over(&s->w);
	uint64_t y, z, w;
	memcpy(&y, p + 8, 8);
	memcpy(&z, p + 16, 8);
	memcpy(&w, p + 24, 8);
	const struct l1_start_info *si = ept__gpa_ptr(s->w.vm.ram, L1_START_INFO_GPA, sizeof(*si));
	uint64_t pd = si->boot_pml4_gpa + 2 * 4096; /* boot tables: PML4, PDPT, PD, PTs */
	switch (p[0] % 9) {
	case 7: { /* L1_HC_MMU_UPDATE linking a page (writable in the boot map: data) into the boot PD */
		struct l1_mmu_update u = { .ptr = pd + (64 + p[1] % 64) * 8ull,
					   .val = p[2] & 1 ? y : (guest_va(y, false) & ~0xfffull) | 0x67 };
		if (shadow__access(&sv->g, UPDATE_VA, &u, sizeof(u), true) < 0)
			return true; /* the input made it a table, or unmapped it */
		kernel_hypercall(s, L1_HC_MMU_UPDATE, UPDATE_VA, 1);
		return true;
	}
	case 8: { /* a store to a page that may be a table now: #PF, l1vmm emulates it */
		static const uint8_t insns[][4] = {
			{ 0x48, 0x89, 0x03 }, /* mov %rax,(%rbx) */
			{ 0x89, 0x03 },       /* mov %eax,(%rbx) */
			{ 0x48, 0x89, 0x43, 0x08 }, /* mov %rax,8(%rbx) */
		};
		uint8_t insn[4];
		memcpy(insn, insns[p[1] % 3], 4);
		if (shadow__access(&sv->g, CODE_VA, insn, 4, true) < 0)
			return true; /* the input made it a table, or unmapped it */
		uint64_t va = guest_va(y, false) & ~7ull;
		k->regs.rax = z;
		k->regs.rbx = p[1] % 3 == 2 ? va - 8 : va;
		uint64_t *f = stub_frame(s);
		bool user = p[2] & 1;
		f[0] = 14;
		f[1] = p[3] & 7;
		f[2] = CODE_VA;
		f[3] = user ? L1_SHADOW_USER_CS : L1_SHADOW_KERNEL_CS;
		f[4] = 0x202;
		f[5] = KSTACK_VA - 64;
		f[6] = user ? L1_SHADOW_USER_SS : L1_SHADOW_KERNEL_SS;
		k->sregs.cr2 = va;
		k->regs.rip = STUB_CODE_VA + 14 * STUB_ENTRY_SIZE;
		k->sregs.cs.selector = STUB_KERNEL_CS;
		k->run->exit_reason = KVM_EXIT_IO;
		k->run->io = (typeof(k->run->io)){ .direction = KVM_EXIT_IO_OUT, .size = 1,
						   .port = 0xf5, .count = 1, .data_offset = 256 };
		return true;
	}
	case 5: { /* a well-formed-looking iret frame at a guest VA (the next RSP) */
		bool user = p[1] & 1;
		struct l1_iret_frame f = {
			.rax = z, .rip = guest_va(y, p[1] & 2),
			.cs = p[1] & 4 ? p[2] : user ? L1_SHADOW_USER_CS : L1_SHADOW_KERNEL_CS,
			.rflags = p[1] & 8 ? w : (w & 0x3f7fd5ull) | 2,
			.rsp = guest_va(w, p[1] & 0x10),
			.ss = p[1] & 0x20 ? p[3] : user ? L1_SHADOW_USER_SS : L1_SHADOW_KERNEL_SS };
		uint64_t at = guest_va(z >> 8, false) & ~7ull;
		shadow__access(&sv->g, at, &f, sizeof(f), true);
		k->regs.rsp = at;
		return true;
	}
	case 6: { /* a trap table of up to 8 entries at a guest VA (the next RDI) */
		struct l1_trap_info t[8];
		unsigned n = 1 + p[1] % 8;
		for (unsigned i = 0; i < n; i++) {
			t[i] = (struct l1_trap_info){ .vector = (uint8_t)(p[2] + i * (p[3] | 1)) };
			t[i].handler = p[3] & 0x80 && i == 0 ? w : guest_va(y + i * 64, false);
		}
		uint64_t at = guest_va(z, false) & ~7ull;
		shadow__access(&sv->g, at, t, n * sizeof(t[0]), true);
		k->regs.rdi = at;
		k->regs.rsi = n;
		return true;
	}
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
		s->last_write_va = guest_va(y, false);
		shadow__access(&sv->g, s->last_write_va, v, 16 - n, true);
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
		k->sregs.cs.selector = p[2] & 2 ? STUB_KERNEL_CS : task ? L1_SHADOW_USER_CS : L1_SHADOW_KERNEL_CS;
		k->sregs.ss.selector = task ? L1_SHADOW_USER_SS : L1_SHADOW_KERNEL_SS;
		k->regs.rsp = guest_va(z, false);
		k->regs.rflags = RFLAGS_IF | 2;
		return true;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct script s;
	memset(&s, 0, sizeof(s));
	vm_world__create(&s.w, true, RAM, next_exit, on_enter, &s);
	vm_world__play(&s.w, data, size, 32 * 64); /* at most 64 steps */
	if (s.w.vm.end == VM_END_CRASH && s.w.vm.crash_report &&
	    strstr(s.w.vm.crash_report, "l1vmm bug"))
		abort();
	vm_world__destroy(&s.w);
	return 0;
}
