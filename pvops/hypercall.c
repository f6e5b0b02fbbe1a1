/* SPDX-License-Identifier: MIT */
#include "pvops/hypercall.h"

#include <stdbool.h>
#include <string.h>

#define RFLAGS_GUEST_BITS 0xdd5ull /* CF PF AF ZF SF TF DF OF */
#define RFLAGS_IF (1ull << 9)

void pv__decode(const struct kvm_regs *r, struct pv_call *c)
{
	*c = (struct pv_call){ .nr = r->rax, .arg = { r->rdi, r->rsi, r->rdx, r->r10, r->r8 } };
}

/* count entries of size bytes at va into out, count <= max. */
static int64_t fetch_array(const struct pv_mem *mem, uint64_t va, uint64_t count, uint64_t max,
			   size_t size, void *out)
{
	if (count > max)
		return -L1_E2BIG;
	if (count && mem->read(mem->ctx, va, out, count * size) < 0)
		return -L1_EFAULT;
	return (int64_t)count;
}

int64_t pv__fetch_mmu_updates(const struct pv_mem *mem, uint64_t va, uint64_t count,
			      struct l1_mmu_update *out)
{
	return fetch_array(mem, va, count, L1_MMU_UPDATE_MAX, sizeof(*out), out);
}

int64_t pv__fetch_balloon_gfns(const struct pv_mem *mem, uint64_t va, uint64_t count,
			       uint64_t *out)
{
	return fetch_array(mem, va, count, L1_BALLOON_MAX_EXTENTS, sizeof(*out), out);
}

int64_t pv__fetch_dp_hints(const struct pv_mem *mem, uint64_t kind, uint64_t va, uint64_t count,
			   uint64_t nr_frames, uint64_t *out)
{
	if (kind != L1_DP_DROPPED && kind != L1_DP_FREE && kind != L1_DP_ZEROED)
		return -L1_EINVAL;
	int64_t n = fetch_array(mem, va, count, L1_DP_HINT_MAX, sizeof(*out), out);
	if (n <= 0)
		return n;
	/* the valid prefix: the first bad gfn ends the call there */
	for (int64_t i = 0; i < n; i++)
		if (out[i] < L1_BALLOON_MIN_GFN || out[i] >= nr_frames)
			return i ? i : -L1_EINVAL;
	return n;
}

static int guest_half(uint64_t va)
{
	return va < L1_SHADOW_GUEST_VA_END;
}

int64_t pv__fetch_trap_table(const struct pv_mem *mem, uint64_t va, uint64_t count,
			     uint64_t handlers[256])
{
	struct l1_trap_info table[L1_TRAP_TABLE_MAX];
	if (count > L1_TRAP_TABLE_MAX)
		return -L1_E2BIG;
	if (count && mem->read(mem->ctx, va, table, count * sizeof(table[0])) < 0)
		return -L1_EFAULT;
	for (uint64_t i = 0; i < count; i++)
		if (!guest_half(table[i].handler))
			return -L1_EINVAL;
	for (uint64_t i = 0; i < count; i++)
		handlers[table[i].vector] = table[i].handler;
	return (int64_t)count;
}

int pv__fetch_iret_frame(const struct pv_mem *mem, uint64_t rsp, struct l1_iret_frame *f)
{
	if (mem->read(mem->ctx, rsp, f, sizeof(*f)) < 0)
		return -L1_EFAULT;
	bool kernel = f->cs == L1_SHADOW_KERNEL_CS && f->ss == L1_SHADOW_KERNEL_SS;
	bool user = f->cs == L1_SHADOW_USER_CS && f->ss == L1_SHADOW_USER_SS;
	if ((!kernel && !user) || !guest_half(f->rip) || !guest_half(f->rsp))
		return -L1_EINVAL;
	return 0;
}

uint64_t pv__guest_rflags(uint64_t rflags)
{
	return (rflags & RFLAGS_GUEST_BITS) | RFLAGS_IF | 0x2;
}

int64_t pv__console_take(const uint8_t ring[L1_CONSOLE_RING], uint32_t prod, uint32_t *cons,
			 void (*emit)(void *ctx, uint8_t byte), void *ctx)
{
	uint32_t n = prod - *cons; /* free-running: wraps correctly */
	if (n > L1_CONSOLE_RING) {
		*cons = prod;
		return -L1_EINVAL;
	}
	for (uint32_t i = 0; i < n; i++)
		emit(ctx, ring[(*cons + i) & (L1_CONSOLE_RING - 1)]);
	*cons = prod;
	return n;
}
