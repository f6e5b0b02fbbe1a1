/*
 * libFuzzer target: the host's hypercall decoding (pvops/hypercall.c) on
 * arbitrary guest registers and guest memory. The input is the registers
 * followed by a window of guest memory mapped at a VA the registers choose;
 * everything else is unmapped. Invariants: counts stay within their limits,
 * nothing outside the window is read, an accepted trap table or iret frame
 * only holds guest-half addresses and the guest's selectors, the console
 * never emits more than a ring's worth, a double-paging hint list is a
 * prefix of valid gfns (>= L1_BALLOON_MIN_GFN, < the guest's frames).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pvops/hypercall.h"

struct window {
	uint64_t base;
	const uint8_t *data;
	size_t size;
};

static int window_read(void *ctx, uint64_t va, void *dst, size_t len)
{
	const struct window *w = ctx;
	if (va < w->base || va - w->base > w->size || len > w->size - (va - w->base))
		return -L1_EFAULT;
	memcpy(dst, w->data + (va - w->base), len);
	return 0;
}

static size_t emitted;
static void count_byte(void *ctx, uint8_t byte)
{
	(void)ctx;
	(void)byte;
	emitted++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvm_regs regs;
	if (size < sizeof(regs))
		return 0;
	memcpy(&regs, data, sizeof(regs));
	struct window w = { .base = regs.rbx & ~0xfffull, .data = data + sizeof(regs),
			    .size = size - sizeof(regs) };
	struct pv_mem mem = { .read = window_read, .ctx = &w };
	struct pv_call c;
	pv__decode(&regs, &c);
	if (c.nr != regs.rax || c.arg[3] != regs.r10)
		abort();

	static struct l1_mmu_update reqs[L1_MMU_UPDATE_MAX];
	int64_t n = pv__fetch_mmu_updates(&mem, c.arg[0], c.arg[1], reqs);
	if (n > (int64_t)L1_MMU_UPDATE_MAX || (n >= 0 && (uint64_t)n != c.arg[1]))
		abort();

	uint64_t handlers[256] = { 0 };
	n = pv__fetch_trap_table(&mem, c.arg[0], c.arg[1], handlers);
	for (unsigned v = 0; v < 256; v++)
		if (handlers[v] >= L1_SHADOW_GUEST_VA_END || (n < 0 && handlers[v]))
			abort();

	struct l1_iret_frame f;
	if (pv__fetch_iret_frame(&mem, regs.rsp, &f) == 0) {
		bool kernel = f.cs == L1_SHADOW_KERNEL_CS && f.ss == L1_SHADOW_KERNEL_SS;
		bool user = f.cs == L1_SHADOW_USER_CS && f.ss == L1_SHADOW_USER_SS;
		if ((!kernel && !user) || f.rip >= L1_SHADOW_GUEST_VA_END ||
		    f.rsp >= L1_SHADOW_GUEST_VA_END)
			abort();
		uint64_t rf = pv__guest_rflags(f.rflags);
		if (!(rf & (1u << 9)) || (rf & 0x3000))
			abort(); /* IF always on for the machine, IOPL never given */
	}

	static uint64_t gfns[L1_DP_HINT_MAX];
	uint64_t frames = regs.r9 % (1ull << 40);
	n = pv__fetch_dp_hints(&mem, c.arg[3], c.arg[0], c.arg[1], frames, gfns);
	if (n > (int64_t)L1_DP_HINT_MAX || (n >= 0 && (uint64_t)n > c.arg[1]) ||
	    (n == 0 && c.arg[1]) || (n > 0 && c.arg[3] != L1_DP_DROPPED && c.arg[3] != L1_DP_FREE &&
	     c.arg[3] != L1_DP_ZEROED))
		abort();
	for (int64_t i = 0; i < n; i++)
		if (gfns[i] < L1_BALLOON_MIN_GFN || gfns[i] >= frames)
			abort();

	uint8_t ring[L1_CONSOLE_RING] = { 0 };
	memcpy(ring, w.data, w.size < sizeof(ring) ? w.size : sizeof(ring));
	uint32_t cons = (uint32_t)regs.rcx;
	emitted = 0;
	n = pv__console_take(ring, (uint32_t)regs.rdx, &cons, count_byte, NULL);
	if (emitted > L1_CONSOLE_RING || cons != (uint32_t)regs.rdx || (n < 0 && emitted))
		abort();
	return 0;
}
