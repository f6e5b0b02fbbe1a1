/* Unit tests: hypercall decoding (pvops/hypercall.c) and the trap stub's tables. */
#include "cmocka_all.h"

#include <string.h>

#include "cpu/hybrid/stub.h"
#include "pvops/hypercall.h"

/* Guest memory: one page mapped at 0x400000. */
static uint8_t page[4096];
#define PAGE_VA 0x400000ull

static int page_read(void *ctx, uint64_t va, void *dst, size_t len)
{
	(void)ctx;
	if (va < PAGE_VA || va - PAGE_VA > sizeof(page) || len > sizeof(page) - (va - PAGE_VA))
		return -L1_EFAULT;
	memcpy(dst, page + (va - PAGE_VA), len);
	return 0;
}

static const struct pv_mem mem = { .read = page_read };

static void decode_takes_the_abi_registers(void **state)
{
	(void)state;
	struct kvm_regs r = { .rax = L1_HC_MMU_UPDATE, .rdi = 1, .rsi = 2, .rdx = 3, .r10 = 4,
			      .r8 = 5, .rcx = 99 };
	struct pv_call c;
	pv__decode(&r, &c);
	assert_int_equal(c.nr, L1_HC_MMU_UPDATE);
	for (int i = 0; i < 5; i++)
		assert_int_equal(c.arg[i], (uint64_t)i + 1);
}

static void mmu_update_counts_and_pointers(void **state)
{
	(void)state;
	static struct l1_mmu_update out[L1_MMU_UPDATE_MAX];
	struct l1_mmu_update in[2] = { { 0x1000, 0x2003 }, { 0x1008, 0x3003 } };
	memcpy(page + 16, in, sizeof(in));
	assert_int_equal(pv__fetch_mmu_updates(&mem, PAGE_VA + 16, 2, out), 2);
	assert_int_equal(out[1].val, 0x3003);
	assert_int_equal(pv__fetch_mmu_updates(&mem, PAGE_VA, 0, out), 0);
	assert_int_equal(pv__fetch_mmu_updates(&mem, PAGE_VA, L1_MMU_UPDATE_MAX + 1, out), -L1_E2BIG);
	assert_int_equal(pv__fetch_mmu_updates(&mem, PAGE_VA + 4090, 1, out), -L1_EFAULT);
	assert_int_equal(pv__fetch_mmu_updates(&mem, 0x1000, 1, out), -L1_EFAULT);
	/* 256 entries are 4 KiB: exactly the page from its start, not from 16 on */
	assert_int_equal(pv__fetch_mmu_updates(&mem, PAGE_VA, 256, out), 256);
	assert_int_equal(pv__fetch_mmu_updates(&mem, PAGE_VA + 16, 256, out), -L1_EFAULT);
}

static void trap_table_is_all_or_nothing(void **state)
{
	(void)state;
	uint64_t handlers[256] = { [3] = 0x1234 };
	struct l1_trap_info t[3] = { { .vector = 14, .handler = 0x100000 },
				     { .vector = 32, .handler = 0x100040 },
				     { .vector = 13, .handler = L1_SHADOW_GUEST_VA_END } };
	memcpy(page, t, sizeof(t));
	assert_int_equal(pv__fetch_trap_table(&mem, PAGE_VA, 3, handlers), -L1_EINVAL);
	assert_int_equal(handlers[14], 0); /* nothing applied */
	assert_int_equal(pv__fetch_trap_table(&mem, PAGE_VA, 2, handlers), 2);
	assert_int_equal(handlers[14], 0x100000);
	assert_int_equal(handlers[32], 0x100040);
	assert_int_equal(handlers[3], 0x1234);
	assert_int_equal(pv__fetch_trap_table(&mem, PAGE_VA, 100000, handlers), -L1_E2BIG);
	assert_int_equal(pv__fetch_trap_table(&mem, 0xffff800000000000ull, 1, handlers), -L1_EFAULT);
}

static void iret_frame_checks(void **state)
{
	(void)state;
	struct l1_iret_frame f = { .rax = 7, .rip = 0x100000, .cs = L1_SHADOW_USER_CS,
				   .rflags = 0x3246, .rsp = 0x500000, .ss = L1_SHADOW_USER_SS };
	memcpy(page + 64, &f, sizeof(f));
	struct l1_iret_frame got;
	assert_int_equal(pv__fetch_iret_frame(&mem, PAGE_VA + 64, &got), 0);
	assert_int_equal(got.rax, 7);
	assert_int_equal(pv__guest_rflags(got.rflags) & 0x3000, 0);     /* no IOPL */
	assert_int_equal(pv__guest_rflags(got.rflags) & 0x200, 0x200);  /* IF is l1vmm's */
	assert_int_equal(pv__guest_rflags(got.rflags) & 0xc5, 0x44 & 0xc5);
	f.cs = L1_SHADOW_KERNEL_CS; /* kernel CS with the user SS: a mixed pair */
	memcpy(page + 64, &f, sizeof(f));
	assert_int_equal(pv__fetch_iret_frame(&mem, PAGE_VA + 64, &got), -L1_EINVAL);
	f.cs = 0x08; /* l1vmm's own CPL0 selector */
	f.ss = 0x10;
	memcpy(page + 64, &f, sizeof(f));
	assert_int_equal(pv__fetch_iret_frame(&mem, PAGE_VA + 64, &got), -L1_EINVAL);
	f = (struct l1_iret_frame){ .rip = STUB_CODE_VA, .cs = L1_SHADOW_KERNEL_CS,
				    .ss = L1_SHADOW_KERNEL_SS, .rsp = 0x1000 };
	memcpy(page + 64, &f, sizeof(f));
	assert_int_equal(pv__fetch_iret_frame(&mem, PAGE_VA + 64, &got), -L1_EINVAL);
	assert_int_equal(pv__fetch_iret_frame(&mem, PAGE_VA + 4090, &got), -L1_EFAULT);
}

static char console[1024];
static size_t console_len;
static void emit(void *ctx, uint8_t b)
{
	(void)ctx;
	console[console_len++] = (char)b;
}

static void console_ring_wraps_and_clamps(void **state)
{
	(void)state;
	uint8_t ring[L1_CONSOLE_RING];
	for (unsigned i = 0; i < L1_CONSOLE_RING; i++)
		ring[i] = (uint8_t)('a' + i % 26);
	uint32_t cons = 0xfffffffe; /* free-running indices wrap at 2^32 */
	console_len = 0;
	assert_int_equal(pv__console_take(ring, 3, &cons, emit, NULL), 5);
	assert_int_equal(cons, 3);
	assert_int_equal(console_len, 5);
	assert_int_equal(console[0], ring[(0xfffffffeu) & (L1_CONSOLE_RING - 1)]);
	/* a producer more than a ring ahead lies: nothing emitted, resynchronised */
	console_len = 0;
	assert_int_equal(pv__console_take(ring, 3 + (1u << 30), &cons, emit, NULL), -L1_EINVAL);
	assert_int_equal(console_len, 0);
	assert_int_equal(cons, 3 + (1u << 30));
	assert_int_equal(pv__console_take(ring, cons, &cons, emit, NULL), 0);
}

static void dp_hints_are_a_valid_prefix(void **state)
{
	(void)state;
	static uint64_t out[L1_DP_HINT_MAX];
	const uint64_t lo = L1_BALLOON_MIN_GFN, frames = 4096;
	uint64_t in[4] = { lo, frames - 1, frames, lo + 1 };
	memcpy(page, in, sizeof(in));
	assert_int_equal(pv__fetch_dp_hints(&mem, L1_DP_DROPPED, PAGE_VA, 4, frames, out), 2);
	assert_int_equal(out[0], lo);
	assert_int_equal(out[1], frames - 1);
	assert_int_equal(pv__fetch_dp_hints(&mem, L1_DP_FREE, PAGE_VA, 2, frames, out), 2);
	assert_int_equal(pv__fetch_dp_hints(&mem, L1_DP_ZEROED, PAGE_VA, 2, frames, out), 2);
	assert_int_equal(pv__fetch_dp_hints(&mem, L1_DP_FREE, PAGE_VA + 16, 2, frames, out),
			 -L1_EINVAL); /* the first is beyond the guest */
	in[0] = lo - 1;
	memcpy(page, in, sizeof(in));
	assert_int_equal(pv__fetch_dp_hints(&mem, L1_DP_FREE, PAGE_VA, 2, frames, out),
			 -L1_EINVAL); /* the boot area stays */
	assert_int_equal(pv__fetch_dp_hints(&mem, 4, PAGE_VA, 1, frames, out), -L1_EINVAL);
	assert_int_equal(pv__fetch_dp_hints(&mem, 0, PAGE_VA, 1, frames, out), -L1_EINVAL);
	assert_int_equal(pv__fetch_dp_hints(&mem, L1_DP_DROPPED, PAGE_VA, L1_DP_HINT_MAX + 1,
					    frames, out), -L1_E2BIG);
	assert_int_equal(pv__fetch_dp_hints(&mem, L1_DP_DROPPED, PAGE_VA + 4090, 1, frames, out),
			 -L1_EFAULT);
	assert_int_equal(pv__fetch_dp_hints(&mem, L1_DP_DROPPED, PAGE_VA, 0, frames, out), 0);
}

static void stub_vectors_and_selectors(void **state)
{
	(void)state;
	int with_error = 0;
	for (unsigned v = 0; v < 32; v++)
		with_error += stub__vector_has_error(v);
	assert_int_equal(with_error, 10); /* 8, 10-14, 17, 21, 29, 30 */
	assert_true(stub__vector_has_error(14));
	assert_false(stub__vector_has_error(3));
	struct kvm_segment s;
	assert_true(stub__guest_segment(L1_SHADOW_USER_CS, &s));
	assert_int_equal(s.dpl, 3);
	assert_true(s.l);
	assert_true(stub__guest_segment(L1_SHADOW_KERNEL_SS, &s));
	assert_false(s.l);
	assert_int_equal(s.dpl, 3);
	assert_false(stub__guest_segment(STUB_KERNEL_CS, &s)); /* never for a guest */
	assert_true(stub__rip_in_code(STUB_CODE_VA + 14 * STUB_ENTRY_SIZE));
	assert_false(stub__rip_in_code(0x100000));
}

static void stub_area_in_machine_memory(void **state)
{
	(void)state;
	struct shadow_machine m;
	assert_int_equal(shadow__machine_init(&m, 8 << 20, STUB_RESERVED_BYTES / 4096), 0);
	char err[128];
	assert_int_equal(stub__build(&m, err, sizeof(err)), 0);
	assert_int_not_equal(m.stub_pdpt_mfn, 0);
	/* walk VA → frame through the slot-511 subtree, as the CPU will */
	const uint64_t probes[] = { STUB_GDT_VA, STUB_IDT_VA, STUB_CODE_VA, STUB_TSS_VA,
				    STUB_STACKS_VA, L1_SHADOW_HYPERCALL_VA };
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		uint64_t *t = shadow__mfn_ptr(&m, m.stub_pdpt_mfn), e = 0;
		for (int shift = 30; shift >= 12; shift -= 9) {
			e = t[(probes[i] >> shift) & 511];
			assert_true(e & 1);
			if (shift > 12)
				t = shadow__mfn_ptr(&m, (e & 0x000ffffffffff000ull) >> 12);
		}
		bool user = e & 4;
		assert_int_equal(user, probes[i] == L1_SHADOW_HYPERCALL_VA); /* only the hypercall page */
		if (probes[i] == L1_SHADOW_HYPERCALL_VA)
			assert_int_equal(e & 0x000ffffffffff000ull, L1_DOORBELL_GPA);
	}
	/* the code of vector 14 pushes the vector (no zero: the CPU pushes the error) */
	uint8_t *code = (uint8_t *)shadow__mfn_ptr(&m, 3) + 14 * STUB_ENTRY_SIZE;
	assert_int_equal(code[0], 0x68);
	assert_int_equal(code[1], 14);
	assert_int_equal(code[5], 0xe6);
	assert_int_equal(code[6], L1_PORT_SHADOW_TRAP);
	code = (uint8_t *)shadow__mfn_ptr(&m, 3) + 32 * STUB_ENTRY_SIZE;
	assert_int_equal(code[0], 0x6a); /* push $0 first */
	struct kvm_sregs s = { 0 };
	stub__vcpu_sregs(3, 0x1234, &s);
	assert_int_equal(s.cs.selector, L1_SHADOW_KERNEL_CS);
	assert_int_equal(s.tr.selector, STUB_TSS_SEL(3));
	assert_int_equal(s.tr.base, STUB_TSS_VA + 3 * STUB_TSS_STRIDE);
	assert_int_equal(s.cr3, 0x1234ull << 12);
	shadow__machine_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decode_takes_the_abi_registers),
		cmocka_unit_test(mmu_update_counts_and_pointers),
		cmocka_unit_test(trap_table_is_all_or_nothing),
		cmocka_unit_test(iret_frame_checks),
		cmocka_unit_test(console_ring_wraps_and_clamps),
		cmocka_unit_test(dp_hints_are_a_valid_prefix),
		cmocka_unit_test(stub_vectors_and_selectors),
		cmocka_unit_test(stub_area_in_machine_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
