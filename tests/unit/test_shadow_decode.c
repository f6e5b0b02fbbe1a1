/*
 * Unit tests: the store decoder for trapped page-table writes
 * (mmu/shadow/decode.c), a pure function of instruction bytes and registers.
 */
#include "cmocka_all.h"

#include <stdlib.h>
#include <string.h>

#include "mmu/shadow/shadow.h"
#include "mmu/shadow/shadow_priv.h"

static const struct kvm_regs regs = {
	.rax = 0x1111111111111111ull, .rcx = 0x0000000000000002ull, .rdx = 0x3333333333333333ull,
	.rbx = 0x0000000000004000ull, .rsp = 0x0000000000007000ull, .rbp = 0x0000000000008000ull,
	.rsi = 0x0000000000009000ull, .rdi = 0x000000000000a000ull, .r8 = 0x000000000000b000ull,
	.r9 = 0x0000000000000003ull, .r10 = 0xaaaaaaaaaaaaaaaaull, .r11 = 0xbbbbbbbbbbbbbbbbull,
	.r12 = 0x000000000000c000ull, .r13 = 0x000000000000d000ull, .r14 = 0xeeeeeeeeeeeeeeeeull,
	.r15 = 0xffffffff00000001ull, .rip = 0x0000000000400000ull,
};

struct ok_case {
	const char *what;
	uint8_t bytes[16];
	size_t n;
	unsigned length, size;
	uint64_t value, ea;
};

#define B(...) { __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ })

static const struct ok_case ok_cases[] = {
	{ "mov %rax,(%rdi)", B(0x48, 0x89, 0x07), 3, 8, 0x1111111111111111ull, 0xa000 },
	{ "mov %eax,(%rdi)", B(0x89, 0x07), 2, 4, 0x11111111ull, 0xa000 },
	{ "mov %rdx,0x8(%rdi)", B(0x48, 0x89, 0x57, 0x08), 4, 8, 0x3333333333333333ull, 0xa008 },
	{ "mov %rax,-0x8(%rdi)", B(0x48, 0x89, 0x47, 0xf8), 4, 8, 0x1111111111111111ull, 0x9ff8 },
	{ "mov %rax,0x100(%rdi)", B(0x48, 0x89, 0x87, 0x00, 0x01, 0x00, 0x00), 7, 8,
	  0x1111111111111111ull, 0xa100 },
	{ "mov %rax,-0x1000(%rbx) disp32", B(0x48, 0x89, 0x83, 0x00, 0xf0, 0xff, 0xff), 7, 8,
	  0x1111111111111111ull, 0x3000 },
	{ "mov %rax,(%rsp)", B(0x48, 0x89, 0x04, 0x24), 4, 8, 0x1111111111111111ull, 0x7000 },
	{ "mov %rax,(%rax,%rcx,8)", B(0x48, 0x89, 0x04, 0xc8), 4, 8, 0x1111111111111111ull,
	  0x1111111111111111ull + 16 },
	{ "mov %rsi,0x10(%rbx,%rcx,4)", B(0x48, 0x89, 0x74, 0x8b, 0x10), 5, 8, 0x9000, 0x4018 },
	{ "mov %rdi,(%rbx,%rcx,1) disp32", B(0x48, 0x89, 0xbc, 0x0b, 0x04, 0x00, 0x00, 0x00), 8, 8,
	  0xa000, 0x4006 },
	{ "mov %r8,(%rbx,%rcx,8) REX.R", B(0x4c, 0x89, 0x04, 0xcb), 4, 8, 0xb000, 0x4010 },
	{ "mov %rax,(%rbx,%r9,8) REX.X", B(0x4a, 0x89, 0x04, 0xcb), 4, 8, 0x1111111111111111ull,
	  0x4018 },
	{ "mov %rax,(%r8) REX.B", B(0x49, 0x89, 0x00), 3, 8, 0x1111111111111111ull, 0xb000 },
	{ "mov %rax,(%r12) REX.B needs SIB", B(0x49, 0x89, 0x04, 0x24), 4, 8,
	  0x1111111111111111ull, 0xc000 },
	{ "mov %r13,0x0(%r13) REX.RB, mod 01", B(0x4d, 0x89, 0x6d, 0x00), 4, 8, 0xd000, 0xd000 },
	{ "mov %rax,0x0(%rbp) mod 01", B(0x48, 0x89, 0x45, 0x00), 4, 8, 0x1111111111111111ull,
	  0x8000 },
	{ "mov %r15,(%rsp,%r12,1) REX.RXB? no: .R .X", B(0x4e, 0x89, 0x3c, 0x24), 4, 8,
	  0xffffffff00000001ull, 0x7000 + 0xc000 },
	{ "mov %rax,0x10(%rip)", B(0x48, 0x89, 0x05, 0x10, 0x00, 0x00, 0x00), 7, 8,
	  0x1111111111111111ull, 0x400000 + 7 + 0x10 },
	{ "mov %eax,-0x10(%rip)", B(0x89, 0x05, 0xf0, 0xff, 0xff, 0xff), 6, 4, 0x11111111ull,
	  0x400000 + 6 - 0x10 },
	{ "mov %rax,0x1000 (SIB, no base, no index)", B(0x48, 0x89, 0x04, 0x25, 0x00, 0x10, 0x00, 0x00),
	  8, 8, 0x1111111111111111ull, 0x1000 },
	{ "mov %rax,0x20(,%rcx,8) (no base)", B(0x48, 0x89, 0x04, 0xcd, 0x20, 0x00, 0x00, 0x00), 8, 8,
	  0x1111111111111111ull, 0x30 },
	{ "mov %rax,(%r13) mod 01 needed", B(0x49, 0x89, 0x45, 0x00), 4, 8, 0x1111111111111111ull,
	  0xd000 },
	{ "mov %rax,(%rbx,%r12,2) index r12", B(0x4a, 0x89, 0x04, 0x63), 4, 8,
	  0x1111111111111111ull, 0x4000 + 0x18000 },
	{ "movq $-1,(%rdi)", B(0x48, 0xc7, 0x07, 0xff, 0xff, 0xff, 0xff), 7, 8, UINT64_MAX, 0xa000 },
	{ "movq $0x7fffffff,(%rdi)", B(0x48, 0xc7, 0x07, 0xff, 0xff, 0xff, 0x7f), 7, 8, 0x7fffffff,
	  0xa000 },
	{ "movl $0x12345678,(%rdi)", B(0xc7, 0x07, 0x78, 0x56, 0x34, 0x12), 6, 4, 0x12345678, 0xa000 },
	{ "movl $0x80000000,(%rdi) not extended", B(0xc7, 0x07, 0x00, 0x00, 0x00, 0x80), 6, 4,
	  0x80000000ull, 0xa000 },
	{ "movq $1,0x8(%rsp)", B(0x48, 0xc7, 0x44, 0x24, 0x08, 0x01, 0x00, 0x00, 0x00), 9, 8, 1,
	  0x7008 },
	{ "movq $2,0x10(%rip)", B(0x48, 0xc7, 0x05, 0x10, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00),
	  11, 8, 2, 0x400000 + 11 + 0x10 },
	{ "movq $3,0x100(%rbx,%rcx,8)",
	  B(0x48, 0xc7, 0x84, 0xcb, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00), 12, 8, 3,
	  0x4110 },
	{ "mov %ax,(%rdi) (decoded, size 2)", B(0x66, 0x89, 0x07), 3, 2, 0x1111, 0xa000 },
	{ "movw $0x1234,(%rdi)", B(0x66, 0xc7, 0x07, 0x34, 0x12), 5, 2, 0x1234, 0xa000 },
	{ "66 REX.W: REX.W wins", B(0x66, 0x48, 0x89, 0x07), 4, 8, 0x1111111111111111ull, 0xa000 },
	{ "66 REX.W movq imm32", B(0x66, 0x48, 0xc7, 0x07, 0x01, 0x00, 0x00, 0x80), 8, 8,
	  0xffffffff80000001ull, 0xa000 },
	{ "mov %r10d,(%rdi) REX without W", B(0x44, 0x89, 0x17), 3, 4, 0xaaaaaaaaull, 0xa000 },
	{ "REX 0x40 alone", B(0x40, 0x89, 0x07), 3, 4, 0x11111111ull, 0xa000 },
	{ "trailing bytes ignored", B(0x48, 0x89, 0x07, 0x90, 0x90), 3, 8, 0x1111111111111111ull,
	  0xa000 },
};

static void decodes_stores(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
		const struct ok_case *c = &ok_cases[i];
		struct shadow_store st;
		int err = decode_store(c->bytes, c->n, &regs, &st);
		if (err || st.length != c->length || st.size != c->size || st.value != c->value ||
		    st.ea != c->ea)
			fail_msg("%s: err %d length %u size %u value %#llx ea %#llx", c->what, err,
				 st.length, st.size, (unsigned long long)st.value,
				 (unsigned long long)st.ea);
		/* every shorter prefix of it is refused */
		for (size_t n = 0; n < c->length; n++)
			if (decode_store(c->bytes, n, &regs, &st) != -L1_EINVAL)
				fail_msg("%s: accepted with %zu bytes", c->what, n);
	}
}

struct bad_case {
	const char *what;
	uint8_t bytes[16];
	size_t n;
};

static const struct bad_case bad_cases[] = {
	{ "empty", { 0 }, 0 },
	{ "8-bit mov", B(0x88, 0x07) },
	{ "register destination", B(0x48, 0x89, 0xc7) },
	{ "C7 with a register destination", B(0x48, 0xc7, 0xc0, 0x01, 0x00, 0x00, 0x00) },
	{ "C7 /1", B(0x48, 0xc7, 0x0f, 0x01, 0x00, 0x00, 0x00) },
	{ "mov load 8B", B(0x48, 0x8b, 0x07) },
	{ "lock", B(0xf0, 0x48, 0x89, 0x07) },
	{ "rep", B(0xf3, 0x48, 0x89, 0x07) },
	{ "fs override", B(0x64, 0x48, 0x89, 0x07) },
	{ "gs override", B(0x65, 0x48, 0x89, 0x07) },
	{ "cs override", B(0x2e, 0x48, 0x89, 0x07) },
	{ "address size", B(0x67, 0x48, 0x89, 0x07) },
	{ "REX before 66", B(0x48, 0x66, 0x89, 0x07) },
	{ "two REX", B(0x48, 0x48, 0x89, 0x07) },
	{ "xchg", B(0x48, 0x87, 0x07) },
	{ "cmpxchg", B(0xf0, 0x48, 0x0f, 0xb1, 0x17) },
	{ "movnti", B(0x48, 0x0f, 0xc3, 0x07) },
	{ "stosq", B(0x48, 0xab) },
	{ "nop", B(0x90) },
	{ "all ones", B(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) },
	{ "only prefixes", B(0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
			    0x66, 0x66, 0x66, 0x66) },
	{ "longer than 15", B(0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
			     0x48, 0xc7, 0x07, 0x01, 0x00) },
};

static void refuses_everything_else(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct shadow_store st = { .length = 99 };
		if (decode_store(bad_cases[i].bytes, bad_cases[i].n, &regs, &st) != -L1_EINVAL)
			fail_msg("%s: accepted (length %u)", bad_cases[i].what, st.length);
		assert_int_equal(st.length, 0);
	}
	/* 14 prefixes and a 3-byte store: 17 > 15 */
	uint8_t many[20];
	memset(many, 0x66, 12);
	memcpy(many + 12, (uint8_t[]){ 0x48, 0x89, 0x07 }, 3);
	struct shadow_store st;
	assert_int_equal(decode_store(many, 15, &regs, &st), 0);
	assert_int_equal(st.length, 15);
	memset(many, 0x66, 13);
	memcpy(many + 13, (uint8_t[]){ 0x48, 0x89, 0x07 }, 3);
	assert_int_equal(decode_store(many, 16, &regs, &st), -L1_EINVAL);
}

/* Random bytes: never a crash, never a length outside the bytes given. */
static void random_bytes(void **state)
{
	(void)state;
	srand(1);
	unsigned accepted = 0;
	for (int i = 0; i < 200000; i++) {
		uint8_t b[16];
		for (size_t k = 0; k < sizeof(b); k++)
			b[k] = (uint8_t)rand();
		if (i % 3 == 0)
			b[0] = (uint8_t)(0x48 | (rand() & 7));
		if (i % 3 == 0)
			b[1] = rand() & 1 ? 0x89 : 0xc7;
		size_t n = (size_t)rand() % 17;
		struct shadow_store st;
		int err = decode_store(b, n, &regs, &st);
		if (err) {
			assert_int_equal(err, -L1_EINVAL);
			continue;
		}
		accepted++;
		assert_true(st.length >= 2 && st.length <= n && st.length <= 15);
		assert_true(st.size == 2 || st.size == 4 || st.size == 8);
		if (st.size < 8)
			assert_int_equal(st.value >> (8 * st.size), 0);
	}
	assert_true(accepted > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decodes_stores),
		cmocka_unit_test(refuses_everything_else),
		cmocka_unit_test(random_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
