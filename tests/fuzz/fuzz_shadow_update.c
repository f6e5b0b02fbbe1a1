/* SPDX-License-Identifier: MIT */
/*
 * DOC: libFuzzer target for the shadow MMU's page-table update validator and
 * trapped-write decoder (mmu/shadow/).
 *
 * Each input is a program of operations on one fresh 1 MiB guest of a small
 * fake machine (4 MiB, made once), starting on host-built boot tables placed
 * where the input says:
 *  - mmu_update batches of random entries, aimed mostly at the guest's current
 *    page-table pages, with random frames (some foreign), flags, PS, NX and
 *    reserved bits, and counts up to above L1_MMU_UPDATE_MAX;
 *  - direct writes of random bytes into pages that are not page tables (what
 *    the guest can do through its own writable mappings);
 *  - page faults at random addresses with random error codes;
 *  - trapped writes: random instruction bytes and registers, and well-formed
 *    stores aimed at an entry of a page-table page, through
 *    shadow__emulate_pt_write(); the decoder also on its own;
 *  - new_baseptr on a random page, flushes, unmap_frame, prefetch changes,
 *    the pure validator on random (ptr, val), and taking machine frames away
 *    so that shadow allocation fails.
 *
 * Invariants (abort() on violation, so libFuzzer reports a crash), after
 * every operation: every shadow leaf maps a frame of the guest and never a
 * page-table page writable, is in the reverse map, and the reverse map holds
 * nothing else; the shadow table count matches stats.tables and the page
 * index; slot 511 of the root is l1vmm's; the typing equals what a walk of the
 * guest's current tree gives (levels and link counts), every entry of a typed
 * table is well-formed; the stats add up (faults = fills + guest faults +
 * page-table writes + no memory; refusals = refused calls; updates = entries
 * applied); the validator is pure (the typing does not move); machine frames
 * are all accounted for.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mmu/shadow/shadow.h"
#include "mmu/shadow/shadow_priv.h"

#define MiB (1ull << 20)
#define RESERVED_LOW 16u
#define GUEST_MEM (1 * MiB)
#define NR (GUEST_MEM / 4096)
#define STUB_PDPT 5u

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "fuzz_shadow_update: invariant failed: %s (%s:%d)\n", \
				#cond, __FILE__, __LINE__);                           \
			abort();                                                      \
		}                                                                     \
	} while (0)

static struct shadow_machine machine;

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned k = 0; k < bytes && in->n; k++, in->n--)
		v |= (uint64_t)*in->p++ << (8 * k);
	return v;
}

/* What the harness expects the stats to say. */
struct expect {
	uint64_t refusals, updates, fixed, guest, pt_write, no_memory;
};

static void check_shadow(struct shadow_guest *g, uint64_t mfn, unsigned level,
			 uint64_t *leaves, uint64_t *tables)
{
	uint64_t *t = shadow__mfn_ptr(g->m, mfn);
	CHECK(t);
	CHECK(hmap_first(&g->priv->pages, mfn) != NONE32);
	(*tables)++;
	if (level == 4)
		CHECK(t[SHADOW_STUB_SLOT] == ((STUB_PDPT << 12) | PTE_P | PTE_RW | PTE_US));
	for (unsigned i = 0; i < (level == 4 ? 256u : 512u); i++) {
		if (!(t[i] & PTE_P))
			continue;
		uint64_t to = (t[i] & PTE_ADDR) >> 12;
		CHECK(t[i] & PTE_US);
		if (level > 1) {
			check_shadow(g, to, level - 1, leaves, tables);
			continue;
		}
		(*leaves)++;
		CHECK(to >= g->first_mfn && to < g->first_mfn + g->nr_frames);
		if (t[i] & PTE_RW)
			CHECK(g->pt_level[to - g->first_mfn] == 0);
		bool found = rmap_has(g, to, RMAP_SLOT(mfn, i));
		CHECK(found);
	}
	for (unsigned i = 256; level == 4 && i < SHADOW_STUB_SLOT; i++)
		CHECK(t[i] == 0);
}

/* The typing a walk of the current tree gives: levels and link counts. */
static void expected_typing(struct shadow_guest *g, uint64_t gfn, unsigned level, uint8_t *lv,
			    uint32_t *refs)
{
	refs[gfn]++;
	if (lv[gfn]) {
		CHECK(lv[gfn] == level);
		return;
	}
	lv[gfn] = (uint8_t)level;
	for (unsigned i = 0; i < 512; i++) {
		struct entry_info info;
		enum shadow_refusal why;
		CHECK(walk_check_shape(g->nr_frames, level, i, walk_read(&g->view, gfn, i), &info,
				       &why) == 0);
		if (info.kind == ENTRY_LINK)
			expected_typing(g, info.gfn, level - 1, lv, refs);
	}
}

static void check_all(struct shadow_guest *g, const struct expect *e, uint64_t grabbed)
{
	uint64_t leaves = 0, tables = 0;
	if (g->shadow_root_mfn)
		check_shadow(g, g->shadow_root_mfn, 4, &leaves, &tables);
	CHECK(leaves == g->priv->rmap.count);
	CHECK(tables == g->stats.tables);
	CHECK(tables == g->priv->pages.count);

	static uint8_t lv[NR];
	static uint32_t refs[NR];
	memset(lv, 0, sizeof(lv));
	memset(refs, 0, sizeof(refs));
	if (g->priv->has_root)
		expected_typing(g, g->guest_root_gpa / 4096, 4, lv, refs);
	for (uint64_t gfn = 0; gfn < NR; gfn++) {
		CHECK(g->pt_level[gfn] == lv[gfn]);
		CHECK(g->priv->refs[gfn] == refs[gfn]);
		CHECK(g->priv->ctx.pend[gfn] == 0);
	}

	uint64_t refused = 0;
	for (int i = 0; i < SHADOW_NR_REFUSALS; i++)
		refused += g->stats.refusals[i];
	CHECK(refused == e->refusals);
	CHECK(g->stats.updates == e->updates);
	CHECK(g->stats.fills == e->fixed);
	CHECK(g->stats.guest_faults == e->guest);
	CHECK(g->stats.faults == e->fixed + e->guest + e->pt_write + e->no_memory);
	CHECK(machine.free_frames + grabbed + g->nr_frames + g->stats.tables ==
	      machine.nr_frames - RESERVED_LOW);
}

/* A gfn the input picks: mostly a current page-table page, else anything (some foreign). */
static uint64_t pick_gfn(struct shadow_guest *g, struct input *in, bool tables)
{
	uint64_t r = take(in, 2);
	if (tables && (r & 3)) {
		uint64_t n = 0;
		for (uint64_t gfn = 0; gfn < NR; gfn++)
			n += g->pt_level[gfn] != 0;
		uint64_t want = n ? (r >> 2) % n : 0;
		for (uint64_t gfn = 0; gfn < NR && n; gfn++)
			if (g->pt_level[gfn] && want-- == 0)
				return gfn;
	}
	return (r >> 2) % (NR + 16);
}

static uint64_t random_entry(struct shadow_guest *g, struct input *in)
{
	uint64_t flags = take(in, 1);
	uint64_t gfn = pick_gfn(g, in, (flags & 0x80) != 0);
	uint64_t e = (gfn << 12) | (flags & 0x7f) | ((flags & 0x80) ? PTE_PS : 0);
	uint8_t extra = (uint8_t)take(in, 1);
	if (extra & 1)
		e |= PTE_NX;
	if (extra & 2)
		e |= (uint64_t)(extra >> 2) << 13; /* bits that are reserved in large leaves */
	if ((extra & 0xc0) == 0xc0)
		e &= ~(PTE_RW | PTE_PS);
	return e | ((extra & 0x30) == 0x30 ? 0 : PTE_P);
}

static void op_update(struct shadow_guest *g, struct input *in, struct expect *e)
{
	static struct l1_mmu_update req[L1_MMU_UPDATE_MAX + 1];
	uint8_t c = (uint8_t)take(in, 1);
	uint64_t count = c == 0xff ? L1_MMU_UPDATE_MAX + 1 : c % 6 + 1;
	for (uint64_t i = 0; i < count && i < 8; i++) {
		uint64_t gfn = pick_gfn(g, in, true);
		uint64_t off = take(in, 2) % 4096;
		if (!(off & 1))
			off &= ~7ull;
		req[i] = (struct l1_mmu_update){ .ptr = gfn * 4096 + off, .val = random_entry(g, in) };
	}
	for (uint64_t i = 8; i < count; i++)
		req[i] = req[i % 8];
	uint64_t done = 0;
	int err = shadow__mmu_update(g, req, count, &done);
	CHECK(done <= count);
	CHECK(err == 0 ? done == count : done < count);
	CHECK(err == 0 || err == -L1_EPERM || err == -L1_EINVAL || err == -L1_E2BIG);
	e->updates += done;
	e->refusals += err != 0;
}

static void op_raw_write(struct shadow_guest *g, struct input *in)
{
	uint64_t gfn = pick_gfn(g, in, false) % NR;
	unsigned idx = (unsigned)take(in, 2) % 512;
	uint64_t val = take(in, 1) & 1 ? random_entry(g, in) : take(in, 8);
	if (g->pt_level[gfn])
		return; /* the guest cannot: its tables are never writable in a shadow */
	*walk_entry_ptr(&g->view, gfn, idx) = val;
}

static void count_fault(struct expect *e, enum shadow_fault_result r)
{
	switch (r) {
	case SHADOW_FIXED: e->fixed++; break;
	case SHADOW_GUEST_FAULT: e->guest++; break;
	case SHADOW_PT_WRITE: e->pt_write++; break;
	case SHADOW_NO_MEMORY: e->no_memory++; break;
	default: CHECK(!"fault result");
	}
}

static void op_fault(struct shadow_guest *g, struct input *in, struct expect *e)
{
	uint64_t va = take(in, 1) & 1 ? take(in, 8) : take(in, 3) * 8 % (4 * MiB);
	uint32_t ec = (uint32_t)take(in, 1) & 0x1f;
	enum shadow_fault_result r = shadow__fault(g, va, ec);
	count_fault(e, r);
	if (r == SHADOW_PT_WRITE) {
		uint64_t gpa;
		CHECK(shadow__translate(g, va, false, &gpa) == 0);
		CHECK(g->pt_level[gpa / 4096] != 0);
	}
}

static void op_emulate(struct shadow_guest *g, struct input *in, struct expect *e)
{
	uint8_t insn[16];
	struct kvm_regs regs = { 0 };
	uint64_t va;
	size_t len;
	if (take(in, 1) & 1) {
		/* mov %rax,(%rdi) or movq $imm,(%rdi) at an entry of a table the guest maps */
		va = pick_gfn(g, in, true) * 4096 + take(in, 2) % 512 * 8;
		regs.rdi = va;
		regs.rax = random_entry(g, in);
		static const uint8_t st64[] = { 0x48, 0x89, 0x07 };
		static const uint8_t st32[] = { 0x89, 0x07 };
		bool half = take(in, 1) & 1;
		len = half ? sizeof(st32) : sizeof(st64);
		memcpy(insn, half ? st32 : st64, len);
		if (half && (take(in, 1) & 1)) {
			va += 4;
			regs.rdi += 4;
			regs.rax >>= 32;
		}
	} else {
		len = take(in, 1) % 17;
		for (size_t k = 0; k < len; k++)
			insn[k] = (uint8_t)take(in, 1);
		regs.rax = take(in, 8);
		regs.rdi = take(in, 3) * 8 % GUEST_MEM;
		regs.rip = take(in, 3);
		va = regs.rdi;
	}
	struct shadow_store st;
	int ok = decode_store(insn, len, &regs, &st);
	CHECK(ok == 0 || ok == -L1_EINVAL);
	if (ok == 0)
		CHECK(st.length <= len && st.length <= 15);
	uint64_t before = g->stats.pt_writes;
	int r = shadow__emulate_pt_write(g, va, insn, len, &regs);
	if (r >= 0) {
		CHECK(ok == 0 && (unsigned)r == st.length);
	} else {
		CHECK(g->stats.pt_writes == before);
		e->refusals++;
	}
}

static void op_baseptr(struct shadow_guest *g, struct input *in, struct expect *e)
{
	uint64_t gpa = pick_gfn(g, in, true) * 4096;
	if (take(in, 1) == 0x5a)
		gpa |= 8;
	uint64_t root = g->guest_root_gpa;
	int err = shadow__new_baseptr(g, gpa);
	if (err == -L1_ENOMEM)
		return;
	if (err) {
		e->refusals++;
		CHECK(g->guest_root_gpa == root);
	} else {
		CHECK(g->guest_root_gpa == gpa);
		CHECK(g->pt_level[gpa / 4096] == 4);
	}
}

static void op_validate(struct shadow_guest *g, struct input *in)
{
	static uint8_t before[NR];
	memcpy(before, g->pt_level, NR);
	uint64_t ptr = pick_gfn(g, in, true) * 4096 + take(in, 2) % 4096;
	enum shadow_refusal why;
	struct walk_ctx *c = &g->priv->ctx;
	int err = walk_validate_update(c, ptr, random_entry(g, in), &why);
	CHECK(err <= 0);
	if (err)
		CHECK(why < SHADOW_NR_REFUSALS);
	for (uint64_t k = 0; k < c->pend_n; k++)
		CHECK(g->pt_level[c->pend_list[k]] == 0 && c->pend[c->pend_list[k]]);
	walk_pend_reset(c);
	CHECK(memcmp(before, g->pt_level, NR) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!machine.free_map) {
		CHECK(shadow__machine_init(&machine, 4 * MiB, RESERVED_LOW) == 0);
		machine.stub_pdpt_mfn = STUB_PDPT;
	}
	struct input in = { data, size };
	struct shadow_guest g;
	CHECK(shadow__guest_init(&g, &machine, GUEST_MEM) == 0);
	struct expect e = { 0 };
	uint64_t pml4, end;
	int err = shadow__build_boot_tables(&g, take(&in, 1) % NR * 4096, &pml4, &end);
	CHECK(err == 0 || err == -L1_ENOMEM);
	int64_t grabbed_mfn = -1;
	uint64_t grabbed = 0;

	for (unsigned ops = 0; in.n && ops < 64; ops++) {
		switch (take(&in, 1) % 12) {
		case 0: case 1: op_update(&g, &in, &e); break;
		case 2: op_raw_write(&g, &in); break;
		case 3: case 4: op_fault(&g, &in, &e); break;
		case 5: op_emulate(&g, &in, &e); break;
		case 6: op_baseptr(&g, &in, &e); break;
		case 7: shadow__flush(&g, take(&in, 1) & 1 ? L1_FLUSH_ALL : take(&in, 3) * 4096); break;
		case 8: shadow__unmap_frame(&g, g.first_mfn + take(&in, 2) % (NR + 8)); break;
		case 9: g.prefetch = (unsigned)take(&in, 2) % 600; break;
		case 10: op_validate(&g, &in); break;
		case 11:
			if (grabbed_mfn < 0 && machine.free_frames > 2) {
				grabbed = machine.free_frames - take(&in, 1) % 3;
				grabbed_mfn = shadow__alloc_frames(&machine, grabbed);
				if (grabbed_mfn < 0)
					grabbed = 0;
			}
			break;
		}
		check_all(&g, &e, grabbed);
		shadow__take_flush_needed(&g);
	}
	if (grabbed_mfn >= 0)
		shadow__free_frames(&machine, (uint64_t)grabbed_mfn, grabbed);
	shadow__guest_destroy(&g);
	CHECK(machine.free_frames == machine.nr_frames - RESERVED_LOW);
	return 0;
}
