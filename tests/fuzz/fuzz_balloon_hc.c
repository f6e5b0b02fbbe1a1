/*
 * libFuzzer target: the PV balloon hypercall L1_HC_BALLOON (balloon/pv.c,
 * the balloon core balloon/balloon.c, the backends' take / give back /
 * discard in mmu/ept and mmu/shadow) with large extents (up to 512 extents
 * of order 9, 1 GiB a call), in both modes, through l1vmm's real vCPU loops
 * on a fake /dev/kvm (vm_world.h): ept mode calls through the hypercall
 * doorbell, shadow mode through the hypercall page. The input is a program:
 * the mode, gfn lists written into guest RAM (aligned runs of any order and
 * stride, or raw values), inflate and deflate calls of any count and order,
 * guest writes of data pages, and (shadow mode) guest accesses that fill
 * shadow leaves. Invariants after every call: the result is an error or at
 * most the extents asked for; the balloon's count equals the p2m's
 * ballooned frames; every page the guest wrote and still owns reads what it
 * wrote, a page an inflate took reads zero once deflated (a model of guest
 * memory); the VM never ends as a crash.
 */
#include <stdlib.h>
#include <string.h>

#include "balloon/balloon.h"
#include "pvops/l1vmm_abi.h"
#include "page_model.h"
#include "vm_world.h"

#define EPT_RAM (64ull << 20)
#define SHADOW_RAM (32ull << 20)
#define BLOCK 0x20000ull  /* ept: the hypercall block */
#define LISTS 0x30000ull  /* 8 lists of 512 gfns, below L1_BALLOON_MIN_GFN */

struct script {
	struct vm_world w;
	bool shadow;
	uint64_t nrf;
	/* the last call, checked when the loop comes back */
	bool called;
	uint64_t op, count, order;
	uint64_t list[L1_BALLOON_MAX_EXTENTS];
	struct page_model mem;
};

/* What the guest reads at the first byte of gfn (the boot tables map VA = gpa). */
static bool guest_reads(struct script *s, uint64_t gfn, uint8_t *out)
{
	if (!s->shadow) {
		*out = *(uint8_t *)vm_world__ram(&s->w, gfn << 12, 1);
		return true;
	}
	return shadow__access(&s->w.vm.shadow->g, gfn << 12, out, 1, false) == 0;
}

static bool guest_writes(struct script *s, uint64_t gfn, uint8_t v)
{
	if (!s->shadow) {
		*(uint8_t *)vm_world__ram(&s->w, gfn << 12, 1) = v;
		return true;
	}
	return shadow__access(&s->w.vm.shadow->g, gfn << 12, &v, 1, true) == 0;
}

static int64_t last_result(struct script *s)
{
	if (s->shadow)
		return (int64_t)s->w.k.regs.rax;
	return ((struct l1_hypercall_block *)vm_world__ram(&s->w, BLOCK, 64))->ret;
}

static void check(struct script *s)
{
	if (s->called) {
		s->called = false;
		int64_t ret = last_result(s);
		if (ret > 0 && (uint64_t)ret > s->count)
			abort();
		if (ret > 0 && s->op == L1_BALLOON_INFLATE) /* given back: zero from now on */
			page_model__inflated(&s->mem, s->list, (uint64_t)ret, (unsigned)s->order);
	}
	struct balloon_snapshot b;
	balloon__snapshot(s->w.vm.balloon, &b);
	const struct p2m *p2m = &s->w.vm.ram->p2m;
	if (b.actual_frames != p2m->count[P2M_BALLOONED])
		abort();
	for (unsigned i = 0; i < s->mem.n; i++) {
		if (p2m__get(p2m, s->mem.gfn[i]) == P2M_BALLOONED)
			continue; /* the guest promised not to touch it */
		uint8_t v;
		if (!guest_reads(s, s->mem.gfn[i], &v) || v != s->mem.byte[i])
			abort();
	}
}

static void call(struct script *s, uint64_t op, uint64_t list, uint64_t count, uint64_t order)
{
	struct fake_kvm *k = &s->w.k;
	s->called = true;
	s->op = op;
	s->count = count;
	s->order = order;
	const void *l = count <= L1_BALLOON_MAX_EXTENTS ? ept__gpa_ptr(s->w.vm.ram, list, count * 8)
							: NULL;
	if (l)
		memcpy(s->list, l, count * 8);
	else
		s->called = false; /* refused as a whole: nothing to model */
	if (s->shadow) {
		k->regs = (struct kvm_regs){ .rax = L1_HC_BALLOON, .rdi = op, .rsi = list, .rdx = count,
					     .r10 = order, .rip = 0x100000, .rflags = 0x202 };
		k->sregs.cs.selector = L1_SHADOW_KERNEL_CS;
		k->sregs.ss.selector = L1_SHADOW_KERNEL_SS;
		k->run->exit_reason = KVM_EXIT_MMIO;
		k->run->mmio.phys_addr = L1_DOORBELL_GPA;
	} else {
		*(struct l1_hypercall_block *)vm_world__ram(&s->w, BLOCK, 64) = (struct l1_hypercall_block){
			.nr = L1_HC_BALLOON, .arg = { op, list, count, order }, .ret = -1 };
		k->sregs.cs.selector = 0x08;
		k->run->exit_reason = KVM_EXIT_MMIO;
		k->run->mmio.phys_addr = L1_DOORBELL_GPA + L1_DOORBELL_HYPERCALL;
		uint64_t gpa = BLOCK;
		memcpy(k->run->mmio.data, &gpa, 8);
	}
	k->run->mmio.len = 8;
	k->run->mmio.is_write = true;
}

static bool next_exit(void *ctx)
{
	struct script *s = ctx;
	check(s);
	s->w.k.run->exit_reason = KVM_EXIT_INTR;
	struct step st;
	if (!vm_world__step(&s->w, 24, &st))
		return vm_world__script_over(&s->w);
	uint8_t op = st.op, a = st.a, b = st.b, c = st.c;
	uint32_t x = st.x;
	uint64_t y = st.y, z = st.z;
	switch (op % 4) {
	case 0: { /* extents into a list: aligned runs of some stride, or raw */
		balloon_list__fill(vm_world__ram(&s->w, LISTS + (a % 8) * 0x1000ull, 0x1000), s->nrf,
				   b, c, x, y, z);
		return true;
	}
	case 1: { /* a call: inflate or deflate, any count and order */
		uint64_t bop = b & 0x80 ? b : 1 + (b & 1);
		uint64_t list = b & 0x40 ? z : LISTS + (a % 8) * 0x1000ull;
		call(s, bop, list, b & 0x20 ? x : x % 513, c & 0x80 ? c : c % 10);
		return true;
	}
	case 2: { /* the guest writes the first byte of a data page */
		uint64_t gfn = L1_BALLOON_MIN_GFN + y % (s->nrf - L1_BALLOON_MIN_GFN);
		if (p2m__get(&s->w.vm.ram->p2m, gfn) == P2M_BALLOONED)
			return true; /* the guest keeps its promise */
		int slot = page_model__slot(&s->mem, gfn);
		if (slot >= 0 && guest_writes(s, gfn, a))
			page_model__wrote(&s->mem, slot, gfn, a);
		return true;
	}
	default: /* shadow mode: the guest touches n pages (shadow__fault, as a #PF trap does) */
		if (s->shadow)
			for (unsigned i = 0; i < 1 + a % 64; i++)
				shadow__fault(&s->w.vm.shadow->g, ((y + i) % s->nrf) << 12,
					      b & 1 ? 6 : 4);
		return true;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct script s;
	if (size < 1)
		return 0;
	memset(&s, 0, sizeof(s));
	s.shadow = data[0] & 1;
	uint64_t bytes = s.shadow ? SHADOW_RAM : EPT_RAM;
	s.nrf = bytes >> 12;
	vm_world__create(&s.w, s.shadow, bytes, next_exit, NULL, &s);
	vm_world__play(&s.w, data + 1, size - 1, 24 * 32); /* at most 32 steps */
	if (s.w.vm.end != VM_END_SIGNAL)
		abort(); /* only the script's end ends this VM */
	vm_world__destroy(&s.w);
	return 0;
}
