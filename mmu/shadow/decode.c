/* SPDX-License-Identifier: MIT */
/*
 * DOC: the x86-64 store decoder for trapped page-table writes.
 *
 * A guest that writes its page tables directly traps (its tables are never
 * writable in a shadow); l1vmm emulates the store. Compilers write a PTE with
 * `mov %reg, (mem)` or `movq $imm, (mem)`, so that is all this decodes:
 *
 *   [0x66] [REX] 0x89 /r                mov r/m32|r/m64, r32|r64
 *   [0x66] [REX] 0xC7 /0 id|iw          mov r/m32|r/m64, imm32 (sign-extended)
 *
 * with any memory operand of 64-bit addressing: ModRM, SIB (scale, index,
 * base, "no base" with disp32, "no index" 100b), disp8 / disp32, RIP-relative.
 * Segment overrides, 0x67, LOCK, REP and every other opcode are refused; so
 * is a register destination (mod 11b: not a store) and an instruction longer
 * than the bytes given or than 15. A REX prefix must come last (as the CPU
 * would otherwise ignore it). The store size is 8 with REX.W, 2 with 0x66
 * (decoded, for the caller to refuse), else 4.
 *
 * The effective address is computed from the registers so that the caller can
 * check it against the fault address: RIP-relative addressing is relative to
 * the end of the instruction.
 */
#include "mmu/shadow/shadow_priv.h"

#define MAX_INSN 15u

static uint64_t reg_by_number(const struct kvm_regs *r, unsigned n)
{
	switch (n) {
	case 0: return r->rax;
	case 1: return r->rcx;
	case 2: return r->rdx;
	case 3: return r->rbx;
	case 4: return r->rsp;
	case 5: return r->rbp;
	case 6: return r->rsi;
	case 7: return r->rdi;
	case 8: return r->r8;
	case 9: return r->r9;
	case 10: return r->r10;
	case 11: return r->r11;
	case 12: return r->r12;
	case 13: return r->r13;
	case 14: return r->r14;
	default: return r->r15;
	}
}

/* Read n (1, 2 or 4) little-endian bytes at *p, sign-extended; false if past the end. */
static bool take_signed(const uint8_t *insn, size_t len, size_t *p, unsigned n, int64_t *out)
{
	if (*p + n > len)
		return false;
	uint32_t v = 0;
	for (unsigned k = 0; k < n; k++)
		v |= (uint32_t)insn[*p + k] << (8 * k);
	*p += n;
	if (n == 1)
		*out = (int8_t)v;
	else if (n == 2)
		*out = (int16_t)v;
	else
		*out = (int32_t)v;
	return true;
}

int decode_store(const uint8_t *insn, size_t len, const struct kvm_regs *regs,
		 struct shadow_store *st)
{
	*st = (struct shadow_store){ 0 };
	if (len > MAX_INSN)
		len = MAX_INSN;
	size_t p = 0;
	bool opsize16 = false;
	uint8_t rex = 0;
	while (p < len && insn[p] == 0x66) {
		opsize16 = true;
		p++;
	}
	if (p < len && (insn[p] & 0xf0) == 0x40)
		rex = insn[p++];
	if (p + 2 > len)
		return -L1_EINVAL;
	uint8_t op = insn[p++];
	uint8_t modrm = insn[p++];
	unsigned mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;
	bool w = rex & 8;
	if (op != 0x89 && !(op == 0xC7 && reg == 0))
		return -L1_EINVAL;
	if (mod == 3)
		return -L1_EINVAL;
	reg |= (rex & 4) ? 8 : 0;

	uint64_t base = 0, index = 0;
	bool rip_relative = false;
	int64_t disp = 0;
	if (rm == 4) {
		if (p >= len)
			return -L1_EINVAL;
		uint8_t sib = insn[p++];
		unsigned scale = sib >> 6, idx = ((sib >> 3) & 7) | ((rex & 2) ? 8 : 0);
		unsigned b = (sib & 7) | ((rex & 1) ? 8 : 0);
		if (idx != 4)
			index = reg_by_number(regs, idx) << scale;
		if ((sib & 7) == 5 && mod == 0) {
			if (!take_signed(insn, len, &p, 4, &disp))
				return -L1_EINVAL;
		} else {
			base = reg_by_number(regs, b);
		}
	} else if (rm == 5 && mod == 0) {
		rip_relative = true;
		if (!take_signed(insn, len, &p, 4, &disp))
			return -L1_EINVAL;
	} else {
		base = reg_by_number(regs, rm | ((rex & 1) ? 8 : 0));
	}
	if ((mod == 1 && !take_signed(insn, len, &p, 1, &disp)) ||
	    (mod == 2 && !take_signed(insn, len, &p, 4, &disp)))
		return -L1_EINVAL;

	unsigned size = w ? 8 : opsize16 ? 2 : 4;
	uint64_t value;
	if (op == 0x89) {
		value = reg_by_number(regs, reg);
	} else {
		int64_t imm;
		if (!take_signed(insn, len, &p, size == 2 ? 2 : 4, &imm))
			return -L1_EINVAL;
		value = (uint64_t)imm;
	}
	if (size < 8)
		value &= (1ull << (8 * size)) - 1;

	uint64_t ea = base + index + (uint64_t)disp;
	if (rip_relative)
		ea = regs->rip + p + (uint64_t)disp;
	*st = (struct shadow_store){ .length = (unsigned)p, .size = size, .value = value, .ea = ea };
	return 0;
}
