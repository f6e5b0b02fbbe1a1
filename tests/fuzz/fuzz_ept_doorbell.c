/*
 * libFuzzer target: ept mode's hypercall doorbell (l1vmm/hypercall_ept.c)
 * and what it dispatches (L1_HC_BALLOON into the balloon core, L1_HC_CPUID),
 * through l1vmm's real ept vCPU loop on a fake /dev/kvm (vm_world.h). The
 * input is a program: hypercall blocks and balloon gfn lists written into
 * guest RAM, doorbell writes of any offset, size and value at any privilege
 * level, guest writes of data pages, interruptions. Invariants, checked
 * after each exit: a block the doorbell cannot reach or that is misaligned
 * stays as it was; a reached block gets a result, -L1_EPERM from CPL != 0,
 * -L1_ENOSYS for calls ept mode does not serve, at most the extents asked
 * for from L1_HC_BALLOON; the balloon's count equals the p2m's ballooned
 * frames; every page the guest wrote reads what it wrote, or zero once an
 * inflate took it (a model of guest memory).
 */
#include <stdlib.h>
#include <string.h>

#include "balloon/balloon.h"
#include "pvops/l1vmm_abi.h"
#include "page_model.h"
#include "vm_world.h"

#define RAM (64ull << 20)
#define NRF (RAM >> 12)
#define BLOCKS 0x20000ull   /* 8 blocks of 64 bytes */
#define LISTS 0x30000ull    /* 8 lists of 512 gfns */
#define SENTINEL 0x5a5a5a5a5a5a5a5all

struct script {
	struct vm_world w;
	/* the last doorbell write, checked when the loop comes back */
	bool rang, reached;
	unsigned slot, cpl;
	struct l1_hypercall_block sent;
	uint64_t list[L1_BALLOON_MAX_EXTENTS]; /* the list the call read, as written */
	struct page_model mem;
};

static struct l1_hypercall_block *block(struct script *s, unsigned slot)
{
	return vm_world__ram(&s->w, BLOCKS + slot * 64ull, 64);
}

static void check_memory(struct script *s)
{
	struct balloon_snapshot b;
	balloon__snapshot(s->w.vm.balloon, &b);
	if (b.actual_frames != s->w.vm.ram->p2m.count[P2M_BALLOONED])
		abort();
	for (unsigned i = 0; i < s->mem.n; i++)
		if (*(uint8_t *)vm_world__ram(&s->w, s->mem.gfn[i] << 12, 1) != s->mem.byte[i])
			abort();
}

static void check_last(struct script *s)
{
	if (!s->rang)
		return;
	s->rang = false;
	int64_t ret = block(s, s->slot)->ret;
	if (!s->reached) {
		if (ret != s->sent.ret)
			abort(); /* nowhere to answer, or not a doorbell write: unchanged */
		return;
	}
	if (ret == (int64_t)SENTINEL)
		abort(); /* every reached block gets a result (SENTINEL is none) */
	if (s->cpl != 0) {
		if (ret != -L1_EPERM)
			abort();
		return;
	}
	const struct l1_hypercall_block *c = &s->sent;
	if (c->nr == L1_HC_BALLOON) {
		if (ret > 0 && (uint64_t)ret > c->arg[2])
			abort();
		if (ret > 0 && c->arg[0] == L1_BALLOON_INFLATE) /* the first ret extents */
			page_model__inflated(&s->mem, s->list, (uint64_t)ret, (unsigned)c->arg[3]);
	} else if (c->nr == L1_HC_CPUID) {
		if (ret != 0 && ret != -L1_EINVAL)
			abort();
	} else if (ret != -L1_ENOSYS) {
		abort();
	}
}

static bool next_exit(void *ctx)
{
	struct script *s = ctx;
	check_last(s);
	check_memory(s);
	struct kvm_run *run = s->w.k.run;
	run->exit_reason = KVM_EXIT_INTR;
	struct step st;
	if (!vm_world__step(&s->w, 24, &st))
		return vm_world__script_over(&s->w);
	uint8_t op = st.op, a = st.a, b = st.b, c = st.c;
	uint32_t x = st.x;
	uint64_t y = st.y, z = st.z;
	switch (op % 5) {
	case 0: { /* a hypercall block */
		static const uint64_t nrs[] = { L1_HC_BALLOON, L1_HC_BALLOON, L1_HC_CPUID };
		struct l1_hypercall_block *blk = block(s, a % 8);
		uint64_t nr = (a >> 3) % 4 == 3 ? y : nrs[(a >> 3) % 4 % 3];
		*blk = (struct l1_hypercall_block){ .nr = nr, .ret = (int64_t)SENTINEL };
		if (nr == L1_HC_BALLOON) {
			blk->arg[0] = b & 0x80 ? b : 1 + (b & 1);
			blk->arg[1] = b & 0x40 ? z : LISTS + (b % 8) * 0x1000ull;
			blk->arg[2] = x % 600;
			blk->arg[3] = c % 11;
		} else {
			blk->arg[0] = y;
			blk->arg[1] = z;
		}
		return true;
	}
	case 1: { /* extents into a list: aligned and spread, or raw */
		balloon_list__fill(vm_world__ram(&s->w, LISTS + (a % 8) * 0x1000ull, 0x1000), NRF, b,
				   c, x, y, z);
		return true;
	}
	case 2: { /* the doorbell */
		unsigned slot = a % 8;
		uint64_t gpa = b & 0x80 ? y : BLOCKS + slot * 64ull + (b & 0x40 ? z % 64 : 0);
		unsigned len = c & 0x80 ? 1 + c % 8 : 8;
		uint64_t off = c & 0x40 ? x % 16 : 0;
		run->exit_reason = KVM_EXIT_MMIO;
		run->mmio.phys_addr = L1_DOORBELL_GPA + L1_DOORBELL_HYPERCALL + off;
		run->mmio.len = len;
		run->mmio.is_write = true;
		memcpy(run->mmio.data, &gpa, 8);
		s->w.k.sregs.cs.selector = (uint16_t)(x >> 30);
		s->rang = true;
		s->slot = slot;
		s->cpl = x >> 30;
		s->reached = off == 0 && len == 8 && gpa == BLOCKS + slot * 64ull;
		if (!s->reached && gpa >= BLOCKS && gpa < BLOCKS + 8 * 64)
			s->rang = false; /* another slot's block, misaligned or not: unchecked */
		memcpy(&s->sent, block(s, slot), sizeof(s->sent));
		if (s->sent.nr == L1_HC_BALLOON && s->sent.arg[2] <= L1_BALLOON_MAX_EXTENTS) {
			const void *l = ept__gpa_ptr(s->w.vm.ram, s->sent.arg[1], s->sent.arg[2] * 8);
			if (l)
				memcpy(s->list, l, s->sent.arg[2] * 8);
		}
		return true;
	}
	case 3: { /* the guest writes the first byte of a data page */
		uint64_t gfn = L1_BALLOON_MIN_GFN + y % (NRF - L1_BALLOON_MIN_GFN);
		int slot = page_model__slot(&s->mem, gfn);
		if (slot < 0)
			return true;
		*(uint8_t *)vm_world__ram(&s->w, gfn << 12, 1) = a;
		page_model__wrote(&s->mem, slot, gfn, a);
		return true;
	}
	default:
		return true;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct script s;
	memset(&s, 0, sizeof(s));
	vm_world__create(&s.w, false, RAM, next_exit, NULL, &s);
	vm_world__play(&s.w, data, size, 24 * 64); /* at most 64 steps */
	if (s.w.vm.end != VM_END_SIGNAL)
		abort(); /* only the script's end ends this VM */
	vm_world__destroy(&s.w);
	return 0;
}
