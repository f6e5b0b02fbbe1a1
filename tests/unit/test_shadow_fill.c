/*
 * Unit tests: shadow tables (mmu/shadow/fill.c, rmap.c, shadow.c): fault
 * fill and its flags, prefetch, large-leaf splitting, guest faults, page-table
 * write detection and emulation, invalidation on updates, flushes, the
 * reverse map, running out of machine frames. A fake machine, no KVM.
 */
#include "cmocka_all.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shadow_fixture.h"

#define W 2u       /* #PF error code: write */
#define FETCH 16u  /* #PF error code: instruction fetch */

static int setup_machine(void **state, uint64_t machine, uint64_t guest)
{
	return fx_setup(state, machine, guest, 3);
}

static int setup(void **state)
{
	return setup_machine(state, 16 * MiB, GUEST_MEM);
}

static int setup_boot(void **state)
{
	setup(state);
	struct fx *f = *state;
	assert_int_equal(shadow__build_boot_tables(&f->g, 1 * MiB, &f->boot_pml4, &f->boot_end), 0);
	return 0;
}

static int teardown(void **state)
{
	return fx_teardown(state);
}

/* The shadow leaf for va (0 when the path is not there), and its L1 table's mfn. */
static uint64_t sleaf(struct shadow_guest *g, uint64_t va, uint64_t *table_mfn)
{
	uint64_t mfn = g->shadow_root_mfn;
	for (unsigned level = 4; level >= 2; level--) {
		uint64_t e = ((uint64_t *)shadow__mfn_ptr(g->m, mfn))[PT_INDEX(va, level)];
		if (!(e & PTE_P))
			return 0;
		assert_int_equal(e & ~PTE_ADDR, PTE_P | PTE_RW | PTE_US | PTE_A);
		mfn = (e & PTE_ADDR) >> 12;
	}
	if (table_mfn)
		*table_mfn = mfn;
	return ((uint64_t *)shadow__mfn_ptr(g->m, mfn))[PT_INDEX(va, 1)];
}

/* Walk every shadow table: present leaves, tables; check the rmap and the invariants. */
static void walk_shadows(struct shadow_guest *g, uint64_t mfn, unsigned level,
			 uint64_t *leaves, uint64_t *tables)
{
	uint64_t *t = shadow__mfn_ptr(g->m, mfn);
	(*tables)++;
	for (unsigned i = 0; i < (level == 4 ? 256u : 512u); i++) {
		if (!(t[i] & PTE_P))
			continue;
		uint64_t to = (t[i] & PTE_ADDR) >> 12;
		if (level > 1) {
			walk_shadows(g, to, level - 1, leaves, tables);
			continue;
		}
		(*leaves)++;
		assert_true(to >= g->first_mfn && to < g->first_mfn + g->nr_frames);
		if (t[i] & PTE_RW)
			assert_int_equal(g->pt_level[to - g->first_mfn], 0);
		bool found = rmap_has(g, to, RMAP_SLOT(mfn, i));
		assert_true(found);
	}
}

static void check_consistent(struct shadow_guest *g)
{
	uint64_t leaves = 0, tables = 0;
	if (g->shadow_root_mfn)
		walk_shadows(g, g->shadow_root_mfn, 4, &leaves, &tables);
	assert_int_equal(leaves, g->priv->rmap.count);
	assert_int_equal(tables, g->stats.tables);
	assert_int_equal(tables, g->priv->pages.count);
}

static void fault_fills_right_frame_and_flags(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	g->prefetch = 1;
	uint64_t root = g->shadow_root_mfn;
	assert_int_equal(((uint64_t *)shadow__mfn_ptr(g->m, root))[511],
			 (3ull << 12) | PTE_P | PTE_RW | PTE_US);
	assert_int_equal(shadow__fault(g, 0x5123, W), SHADOW_FIXED);
	uint64_t e = sleaf(g, 0x5123, NULL);
	assert_int_equal(e, ((g->first_mfn + 5) << 12) | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
	assert_int_equal(g->stats.tables, 4);
	assert_int_equal(g->stats.faults, 1);
	assert_int_equal(g->stats.fills, 1);
	assert_int_equal(g->stats.prefetched, 0);
	assert_int_equal(sleaf(g, 0x6000, NULL), 0);
	/* a table page: read-only in the shadow, even on a read fault */
	uint64_t t = f->boot_pml4 + 4096;
	assert_int_equal(shadow__fault(g, t, 0), SHADOW_FIXED);
	assert_int_equal(sleaf(g, t, NULL), ((g->first_mfn + t / 4096) << 12) | PTE_P | PTE_US | PTE_A);
	assert_int_equal(shadow__fault(g, t, W), SHADOW_GUEST_FAULT); /* the boot map: read-only */
	/* every page of RAM maps to its own frame */
	for (uint64_t va = 0; va < GUEST_MEM; va += 4096) {
		assert_int_equal(shadow__fault(g, va, 0), SHADOW_FIXED);
		assert_int_equal(sleaf(g, va, NULL) >> 12, g->first_mfn + va / 4096);
	}
	assert_int_equal(g->stats.tables, 5); /* root, PDPT, PD, 2 PTs */
	check_consistent(g);
}

static void prefetch_counts(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	assert_int_equal(g->prefetch, 512);
	assert_int_equal(shadow__fault(g, 0x7000, 0), SHADOW_FIXED);
	assert_int_equal(g->stats.prefetched, 511);
	for (uint64_t va = 0; va < 2 * MiB; va += 4096)
		assert_int_equal(sleaf(g, va, NULL) >> 12, g->first_mfn + va / 4096);
	assert_int_equal(shadow__fault(g, 0x9000, W), SHADOW_FIXED); /* spurious: nothing new */
	assert_int_equal(g->stats.prefetched, 511);
	check_consistent(g);

	shadow__flush(g, L1_FLUSH_ALL);
	g->prefetch = 8; /* the faulting index and the 7 nearest */
	assert_int_equal(shadow__fault(g, 100 * 4096, 0), SHADOW_FIXED);
	assert_int_equal(g->stats.prefetched, 511 + 7);
	for (unsigned i = 90; i < 110; i++)
		assert_int_equal(sleaf(g, i * 4096ull, NULL) != 0, i >= 97 && i < 105);
	/* at the edge of the table: all on one side */
	assert_int_equal(shadow__fault(g, 1 * 4096, 0), SHADOW_FIXED);
	assert_int_equal(g->stats.prefetched, 511 + 7 + 7);
	assert_int_equal(sleaf(g, 7 * 4096, NULL) != 0, true);
	assert_int_equal(sleaf(g, 8 * 4096, NULL), 0);
	/* a sequential walk: the next fault fills 8 new entries, not the window's 4 */
	assert_int_equal(shadow__fault(g, 8 * 4096, 0), SHADOW_FIXED);
	assert_int_equal(g->stats.prefetched, 511 + 7 + 7 + 7);
	assert_int_not_equal(sleaf(g, 15 * 4096, NULL), 0);
	assert_int_equal(sleaf(g, 16 * 4096, NULL), 0);
	/* not-present guest entries are skipped, not filled */
	uint64_t pt = f->boot_pml4 / 4096 + 3;
	struct l1_mmu_update u = { pt * 4096 + 8 * 301, 0 };
	uint64_t done;
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), 0);
	assert_int_equal(shadow__fault(g, 300 * 4096, 0), SHADOW_FIXED);
	assert_int_equal(g->stats.prefetched, 511 + 7 + 7 + 7 + 7);
	assert_int_equal(sleaf(g, 301 * 4096, NULL), 0);
	assert_int_not_equal(sleaf(g, 296 * 4096, NULL), 0); /* 299 302 298 303 297 304 296 */
	assert_int_equal(sleaf(g, 305 * 4096, NULL), 0);
	g->prefetch = 1;
	assert_int_equal(shadow__fault(g, 400 * 4096, 0), SHADOW_FIXED);
	assert_int_equal(g->stats.prefetched, 511 + 7 + 7 + 7 + 7);
	check_consistent(g);
}

static void guest_faults(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	small_tree(g, 600);
	*ent(g, 603, 3) = (3ull << 12) | PTE_P | PTE_A | PTE_D; /* read-only */
	*ent(g, 603, 4) = 0;                                    /* not present */
	*ent(g, 603, 5) |= PTE_NX;
	assert_int_equal(shadow__new_baseptr(g, 600 * 4096), 0);
	assert_int_equal(shadow__fault(g, 0x4000, 0), SHADOW_GUEST_FAULT);
	assert_int_equal(shadow__fault(g, 0x3000, W), SHADOW_GUEST_FAULT);
	assert_int_equal(shadow__fault(g, 0x5000, FETCH), SHADOW_GUEST_FAULT);
	assert_int_equal(shadow__fault(g, 2 * MiB, 0), SHADOW_GUEST_FAULT);
	assert_int_equal(shadow__fault(g, L1_SHADOW_HYPERCALL_VA, 0), SHADOW_GUEST_FAULT);
	assert_int_equal(g->stats.guest_faults, 5);
	assert_int_equal(g->stats.fills, 0);
	assert_int_equal(g->stats.tables, 1);
	/* what the guest allows works */
	assert_int_equal(shadow__fault(g, 0x3000, 0), SHADOW_FIXED);
	assert_false(sleaf(g, 0x3000, NULL) & PTE_RW);
	assert_int_equal(shadow__fault(g, 0x5000, W), SHADOW_FIXED);
	uint64_t e = sleaf(g, 0x5000, NULL);
	assert_true(e & PTE_NX);
	assert_true(e & PTE_RW);
	/* NX at an upper level reaches every leaf below */
	assert_true(sleaf(g, 0x6000, NULL) & PTE_RW); /* prefetched */
	assert_false(sleaf(g, 0x6000, NULL) & PTE_NX);
	struct l1_mmu_update u = { 602 * 4096, (603ull << 12) | TBL | PTE_NX };
	uint64_t done;
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), 0);
	assert_int_equal(shadow__fault(g, 0x6000, FETCH), SHADOW_GUEST_FAULT);
	assert_int_equal(shadow__fault(g, 0x6000, 0), SHADOW_FIXED);
	assert_true(sleaf(g, 0x6000, NULL) & PTE_NX);
	check_consistent(g);
}

static void accessed_dirty(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	small_tree(g, 600);
	for (unsigned i = 0; i < 512; i++)
		*ent(g, 603, i) &= ~(PTE_A | PTE_D);
	*ent(g, 600, 0) &= ~PTE_A;
	assert_int_equal(shadow__new_baseptr(g, 600 * 4096), 0);
	assert_true(shadow__take_flush_needed(g)); /* a new root */
	assert_int_equal(shadow__fault(g, 0x8000, 0), SHADOW_FIXED);
	assert_true(*ent(g, 600, 0) & PTE_A);
	assert_int_equal(*ent(g, 603, 8) & (PTE_A | PTE_D), PTE_A);
	assert_false(sleaf(g, 0x8000, NULL) & PTE_RW); /* clean: a write must fault */
	assert_false(*ent(g, 603, 9) & PTE_A);         /* prefetched, not accessed */
	assert_int_equal(shadow__fault(g, 0x8000, W), SHADOW_FIXED);
	assert_int_equal(*ent(g, 603, 8) & (PTE_A | PTE_D), PTE_A | PTE_D);
	assert_true(sleaf(g, 0x8000, NULL) & PTE_RW);
	assert_false(shadow__take_flush_needed(g)); /* more rights: no flush */
	check_consistent(g);
}

static void pt_write_detected_and_emulated(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	small_tree(g, 600);
	assert_int_equal(shadow__new_baseptr(g, 600 * 4096), 0);
	/* gfn 50, mapped writable at va 50 * 4096, becomes the PT of va [2 MiB, 4 MiB) */
	memset(ept__gpa_ptr(&g->view, 50 * 4096, 4096), 0, 4096);
	struct l1_mmu_update link = { 602 * 4096 + 8, (50ull << 12) | TBL };
	uint64_t done;
	assert_int_equal(shadow__mmu_update(g, &link, 1, &done), 0);
	uint64_t pt = 50 * 4096, va = 2 * MiB + 5 * 4096;
	assert_int_equal(shadow__fault(g, pt + 8 * 5, W), SHADOW_PT_WRITE);
	assert_int_equal(g->stats.fills, 0);
	assert_int_equal(g->stats.guest_faults, 0);
	assert_int_equal(shadow__fault(g, pt + 8 * 5, 0), SHADOW_FIXED);
	assert_false(sleaf(g, pt, NULL) & PTE_RW);
	assert_int_equal(shadow__fault(g, va, W), SHADOW_GUEST_FAULT);
	/* mov %rax,0x28(%rdi): PT entry 5 maps gfn 9 */
	const uint8_t insn[] = { 0x48, 0x89, 0x47, 0x28 };
	struct kvm_regs regs = { .rdi = pt, .rax = (9ull << 12) | DATA };
	assert_int_equal(shadow__emulate_pt_write(g, pt + 0x28, insn, sizeof(insn), &regs), 4);
	assert_int_equal(*ent(g, 50, 5), (9ull << 12) | DATA);
	assert_int_equal(g->stats.pt_writes, 1);
	assert_int_equal(shadow__fault(g, va, W), SHADOW_FIXED);
	assert_int_equal(sleaf(g, va, NULL) >> 12, g->first_mfn + 9);
	shadow__take_flush_needed(g);
	/* a second write invalidates the shadow entry derived from it */
	regs.rax = (10ull << 12) | DATA;
	assert_int_equal(shadow__emulate_pt_write(g, pt + 0x28, insn, sizeof(insn), &regs), 4);
	assert_int_equal(sleaf(g, va, NULL), 0);
	assert_true(shadow__take_flush_needed(g));
	/* a 4-byte store into the high half (NX on), merged */
	const uint8_t insn4[] = { 0xc7, 0x47, 0x2c, 0x00, 0x00, 0x00, 0x80 };
	assert_int_equal(shadow__emulate_pt_write(g, pt + 0x2c, insn4, sizeof(insn4), &regs), 7);
	assert_int_equal(*ent(g, 50, 5), (10ull << 12) | DATA | PTE_NX);
	/* and into the low half */
	const uint8_t insn4lo[] = { 0x89, 0x5f, 0x28 }; /* mov %ebx,0x28(%rdi) */
	regs.rbx = (11ull << 12) | PTE_P | PTE_A;
	assert_int_equal(shadow__emulate_pt_write(g, pt + 0x28, insn4lo, sizeof(insn4lo), &regs), 3);
	assert_int_equal(*ent(g, 50, 5), (11ull << 12) | PTE_P | PTE_A | PTE_NX);
	/* refused: a store that maps a table writable, counted as such */
	regs.rax = (602ull << 12) | DATA;
	assert_int_equal(shadow__emulate_pt_write(g, pt + 0x28, insn, sizeof(insn), &regs), -L1_EPERM);
	assert_int_equal(g->stats.refusals[SHADOW_REFUSE_PT_WRITABLE], 1);
	/* bad writes: misaligned, wrong address, not a store, too short, 2 bytes */
	regs.rdi = pt + 1;
	assert_int_equal(shadow__emulate_pt_write(g, pt + 0x29, insn, sizeof(insn), &regs), -L1_EINVAL);
	regs.rdi = pt;
	assert_int_equal(shadow__emulate_pt_write(g, pt + 0x30, insn, sizeof(insn), &regs), -L1_EINVAL);
	const uint8_t byte[] = { 0x88, 0x47, 0x28 };
	assert_int_equal(shadow__emulate_pt_write(g, pt + 0x28, byte, sizeof(byte), &regs), -L1_EINVAL);
	assert_int_equal(shadow__emulate_pt_write(g, pt + 0x28, insn, 3, &regs), -L1_EINVAL);
	const uint8_t word[] = { 0x66, 0x89, 0x47, 0x28 };
	assert_int_equal(shadow__emulate_pt_write(g, pt + 0x28, word, sizeof(word), &regs), -L1_EINVAL);
	/* a va the guest cannot write */
	regs.rdi = 3 * MiB;
	assert_int_equal(shadow__emulate_pt_write(g, 3 * MiB + 0x28, insn, sizeof(insn), &regs),
			 -L1_EFAULT);
	assert_int_equal(g->stats.refusals[SHADOW_REFUSE_BAD_WRITE], 6);
	assert_int_equal(g->stats.pt_writes, 4);
	assert_int_equal(*ent(g, 50, 5), (11ull << 12) | PTE_P | PTE_A | PTE_NX);
	check_consistent(g);
}

static void update_invalidates_derived(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	uint64_t pt = f->boot_pml4 / 4096 + 3, pd = f->boot_pml4 / 4096 + 2;
	assert_int_equal(shadow__fault(g, 20 * 4096, W), SHADOW_FIXED);
	assert_true(shadow__take_flush_needed(g)); /* the new root */
	struct l1_mmu_update u = { pt * 4096 + 8 * 20, (30ull << 12) | DATA };
	uint64_t done;
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), 0);
	assert_int_equal(sleaf(g, 20 * 4096, NULL), 0);
	assert_int_not_equal(sleaf(g, 21 * 4096, NULL), 0);
	assert_true(shadow__take_flush_needed(g));
	/* a change of a non-present shadow entry needs no flush */
	u.ptr = pt * 4096 + 8 * 20;
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), 0);
	assert_false(shadow__take_flush_needed(g));
	assert_int_equal(shadow__fault(g, 20 * 4096, 0), SHADOW_FIXED);
	assert_int_equal(sleaf(g, 20 * 4096, NULL) >> 12, g->first_mfn + 30);
	/* an upper entry: the subtree goes */
	assert_int_equal(g->stats.tables, 4);
	u = (struct l1_mmu_update){ pd * 4096, (pt << 12) | (TBL & ~PTE_RW) };
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), 0);
	assert_int_equal(g->stats.tables, 3);
	assert_true(shadow__take_flush_needed(g));
	assert_int_equal(shadow__fault(g, 20 * 4096, W), SHADOW_GUEST_FAULT);
	assert_int_equal(shadow__fault(g, 20 * 4096, 0), SHADOW_FIXED);
	assert_false(sleaf(g, 20 * 4096, NULL) & PTE_RW);
	assert_int_equal(g->stats.updates, 3);
	check_consistent(g);
}

static void aliased_table_has_two_shadows(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	small_tree(g, 600);
	*ent(g, 602, 1) = (603ull << 12) | PTE_P | PTE_US | PTE_A; /* same PT, read-only */
	assert_int_equal(shadow__new_baseptr(g, 600 * 4096), 0);
	assert_int_equal(g->priv->refs[603], 2);
	assert_int_equal(shadow__fault(g, 0x3000, W), SHADOW_FIXED);
	assert_int_equal(shadow__fault(g, 2 * MiB + 0x3000, W), SHADOW_GUEST_FAULT);
	assert_int_equal(shadow__fault(g, 2 * MiB + 0x3000, 0), SHADOW_FIXED);
	assert_true(sleaf(g, 0x3000, NULL) & PTE_RW);
	assert_false(sleaf(g, 2 * MiB + 0x3000, NULL) & PTE_RW);
	/* both map the frame: the rmap knows both */
	assert_int_equal(shadow__unmap_frame(g, g->first_mfn + 3), 2);
	assert_int_equal(sleaf(g, 0x3000, NULL), 0);
	assert_int_equal(sleaf(g, 2 * MiB + 0x3000, NULL), 0);
	assert_int_equal(shadow__unmap_frame(g, g->first_mfn + 3), 0);
	assert_true(shadow__take_flush_needed(g));
	/* a change in the shared PT reaches both shadows */
	shadow__fault(g, 0x4000, 0);
	shadow__fault(g, 2 * MiB + 0x4000, 0);
	struct l1_mmu_update u = { 603 * 4096 + 8 * 4, 0 };
	uint64_t done;
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), 0);
	assert_int_equal(sleaf(g, 0x4000, NULL), 0);
	assert_int_equal(sleaf(g, 2 * MiB + 0x4000, NULL), 0);
	assert_int_not_equal(sleaf(g, 0x5000, NULL), 0);
	/* the faults at 0x4000 prefetched entry 3 back in; entry 4 is gone */
	assert_int_equal(g->priv->rmap.count, 2 * 511);
	check_consistent(g);
}

static void typing_write_protects_existing_mappings(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	small_tree(g, 600);
	assert_int_equal(shadow__new_baseptr(g, 600 * 4096), 0);
	assert_int_equal(shadow__fault(g, 50 * 4096, W), SHADOW_FIXED);
	assert_true(sleaf(g, 50 * 4096, NULL) & PTE_RW);
	shadow__take_flush_needed(g);
	memset(ept__gpa_ptr(&g->view, 50 * 4096, 4096), 0, 4096);
	/* gfn 50 becomes a PT (linked at va 2 MiB): its writable mapping must go */
	struct l1_mmu_update u = { 602 * 4096 + 8, (50ull << 12) | TBL };
	uint64_t done;
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), 0);
	assert_int_equal(g->pt_level[50], 1);
	uint64_t e = sleaf(g, 50 * 4096, NULL);
	assert_int_not_equal(e, 0);
	assert_false(e & PTE_RW);
	assert_true(shadow__take_flush_needed(g));
	assert_int_equal(shadow__fault(g, 50 * 4096 + 16, W), SHADOW_PT_WRITE);
	check_consistent(g);
	/* unlinked again: an ordinary page, writable at the next write fault */
	u.val = 0;
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), 0);
	assert_int_equal(g->pt_level[50], 0);
	assert_int_equal(shadow__fault(g, 50 * 4096 + 16, W), SHADOW_FIXED);
	assert_true(sleaf(g, 50 * 4096, NULL) & PTE_RW);
	check_consistent(g);
}

static void large_leaves_are_split(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	small_tree(g, 600);
	/* va [2 MiB, 4 MiB) → gfn [512, 1024) with one 2 MiB leaf, read-only (tables inside) */
	*ent(g, 602, 1) = (512ull << 12) | PTE_P | PTE_US | PTE_A | PTE_PS;
	assert_int_equal(shadow__new_baseptr(g, 600 * 4096), 0);
	assert_int_equal(shadow__fault(g, 2 * MiB + 5 * 4096 + 7, 0), SHADOW_FIXED);
	assert_int_equal(sleaf(g, 2 * MiB + 5 * 4096, NULL),
			 ((g->first_mfn + 517) << 12) | PTE_P | PTE_US | PTE_A);
	assert_int_equal(g->stats.prefetched, 511);
	for (unsigned i = 0; i < 512; i++)
		assert_int_equal(sleaf(g, 2 * MiB + i * 4096ull, NULL) >> 12, g->first_mfn + 512 + i);
	assert_int_equal(shadow__fault(g, 2 * MiB, W), SHADOW_GUEST_FAULT);
	/* writable 2 MiB leaf over frames [0, 512) moved to va 4 MiB: D on the large leaf */
	struct l1_mmu_update u = { 602 * 4096 + 16, PTE_P | PTE_RW | PTE_US | PTE_PS };
	uint64_t done;
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), 0);
	assert_int_equal(shadow__fault(g, 4 * MiB + 0x3000, 0), SHADOW_FIXED);
	assert_false(sleaf(g, 4 * MiB + 0x3000, NULL) & PTE_RW);
	assert_int_equal(*ent(g, 602, 2) & (PTE_A | PTE_D), PTE_A);
	assert_int_equal(shadow__fault(g, 4 * MiB + 0x3000, W), SHADOW_FIXED);
	assert_int_equal(*ent(g, 602, 2) & (PTE_A | PTE_D), PTE_A | PTE_D);
	assert_int_equal(sleaf(g, 4 * MiB + 0x3000, NULL),
			 ((g->first_mfn + 3) << 12) | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
	/* changing the large leaf drops the synthetic table */
	uint64_t tables = g->stats.tables;
	u.val = 0;
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), 0);
	assert_int_equal(g->stats.tables, tables - 1);
	assert_int_equal(shadow__fault(g, 4 * MiB + 0x3000, 0), SHADOW_GUEST_FAULT);
	check_consistent(g);
}

static int setup_big(void **state)
{
	return setup_machine(state, GiB + 4 * MiB, GiB);
}

static void one_gib_leaf_is_split(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	uint64_t base = 1000;
	memset(ept__gpa_ptr(&g->view, base * 4096, 2 * 4096), 0, 2 * 4096);
	*ent(g, base, 0) = ((base + 1) << 12) | TBL;
	*ent(g, base + 1, 1) = PTE_P | PTE_US | PTE_A | PTE_PS | PTE_NX; /* va 1 GiB → gfn 0 */
	assert_int_equal(shadow__new_baseptr(g, base * 4096), 0);
	uint64_t va = GiB + 3 * 2 * MiB + 7 * 4096;
	assert_int_equal(shadow__fault(g, va, 0), SHADOW_FIXED);
	assert_int_equal(sleaf(g, va, NULL),
			 ((g->first_mfn + 3 * 512 + 7) << 12) | PTE_P | PTE_US | PTE_A | PTE_NX);
	assert_int_equal(g->stats.tables, 4); /* root, PDPT, synthetic PD, synthetic PT */
	assert_int_equal(shadow__fault(g, GiB + GiB - 4096, 0), SHADOW_FIXED);
	assert_int_equal((sleaf(g, GiB + GiB - 4096, NULL) & PTE_ADDR) >> 12, g->first_mfn + 262143);
	assert_int_equal(g->stats.tables, 5);
	assert_int_equal(shadow__fault(g, va, FETCH), SHADOW_GUEST_FAULT);
	shadow__flush(g, va);
	assert_int_equal(sleaf(g, va, NULL), 0);
	assert_int_not_equal(sleaf(g, va + 4096, NULL), 0);
	check_consistent(g);
}

static void flushes(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	assert_int_equal(shadow__fault(g, 0x3000, 0), SHADOW_FIXED);
	shadow__take_flush_needed(g);
	shadow__flush(g, 0x9000); /* prefetched: present */
	assert_int_equal(sleaf(g, 0x9000, NULL), 0);
	assert_int_not_equal(sleaf(g, 0x3000, NULL), 0);
	assert_true(shadow__take_flush_needed(g));
	shadow__flush(g, 0x9000);
	shadow__flush(g, 3 * MiB);              /* no shadow path */
	shadow__flush(g, L1_SHADOW_HYPERCALL_VA); /* not the guest's */
	assert_false(shadow__take_flush_needed(g));
	uint64_t root = g->shadow_root_mfn;
	shadow__flush(g, L1_FLUSH_ALL);
	assert_int_equal(g->shadow_root_mfn, root); /* CR3 stays */
	assert_int_equal(g->stats.tables, 1);
	assert_int_equal(g->priv->rmap.count, 0);
	assert_true(shadow__take_flush_needed(g));
	assert_int_equal(((uint64_t *)shadow__mfn_ptr(g->m, g->shadow_root_mfn))[511] >> 12, 3);
	assert_int_equal(g->stats.flushes, 5);
	/* new_baseptr drops every shadow too */
	assert_int_equal(shadow__fault(g, 0x3000, 0), SHADOW_FIXED);
	assert_int_equal(shadow__new_baseptr(g, f->boot_pml4), 0);
	assert_int_equal(g->shadow_root_mfn, root); /* emptied in place: CR3 stays (shadow.c) */
	assert_int_equal(g->stats.tables, 1);
	assert_int_equal(sleaf(g, 0x3000, NULL), 0);
	check_consistent(g);
}

static void running_out_of_frames(void **state)
{
	(void)state;
	struct shadow_machine m;
	struct shadow_guest g;
	/* 16 reserved + 1024 guest + 5 free frames */
	assert_int_equal(shadow__machine_init(&m, (RESERVED_LOW + 1024 + 5) * 4096ull, RESERVED_LOW), 0);
	assert_int_equal(shadow__guest_init(&g, &m, GUEST_MEM), 0);
	small_tree(&g, 600);
	*ent(&g, 601, 1) = (602ull << 12) | TBL; /* va 1 GiB: same PD, another shadow path */
	assert_int_equal(shadow__new_baseptr(&g, 600 * 4096), 0); /* root: 4 left */
	assert_int_equal(shadow__fault(&g, 0x1000, 0), SHADOW_FIXED); /* 3 tables: 1 left */
	uint64_t root = g.shadow_root_mfn;
	shadow__take_flush_needed(&g);
	/* needs 3 more: all of this guest's shadows go, then it fits */
	assert_int_equal(shadow__fault(&g, GiB + 0x1000, 0), SHADOW_FIXED);
	assert_int_equal(g.shadow_root_mfn, root); /* kept, cleared in place */
	assert_int_equal(sleaf(&g, 0x1000, NULL), 0);
	assert_int_not_equal(sleaf(&g, GiB + 0x1000, NULL), 0);
	assert_true(shadow__take_flush_needed(&g));
	assert_int_equal(g.stats.tables, 4);
	check_consistent(&g);
	/* with even that gone: no memory */
	int64_t grab[4];
	grab[0] = shadow__alloc_frames(&m, 1);
	assert_true(grab[0] >= 0);
	shadow__flush(&g, L1_FLUSH_ALL); /* in place: CR3 stays */
	assert_int_equal(g.shadow_root_mfn, root);
	assert_int_equal(g.stats.tables, 1);
	assert_int_equal(m.free_frames, 3);
	for (int i = 1; i < 4; i++)
		assert_true((grab[i] = shadow__alloc_frames(&m, 1)) >= 0);
	/* no frame for a fresh root: new_baseptr clears the old one in place */
	assert_int_equal(shadow__new_baseptr(&g, 600 * 4096), 0);
	assert_int_equal(g.shadow_root_mfn, root);
	assert_int_equal(shadow__fault(&g, 0x1000, 0), SHADOW_NO_MEMORY);
	check_consistent(&g);
	for (int i = 0; i < 4; i++)
		shadow__free_frames(&m, (uint64_t)grab[i], 1);
	assert_int_equal(shadow__fault(&g, 0x1000, 0), SHADOW_FIXED);
	check_consistent(&g);
	shadow__guest_destroy(&g);
	assert_int_equal(m.free_frames, 1024 + 5);
	shadow__machine_destroy(&m);
}

static void unmap_frame_exact(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	assert_int_equal(shadow__fault(g, 0x3000, 0), SHADOW_FIXED);
	uint64_t n = g->priv->rmap.count;
	shadow__take_flush_needed(g);
	assert_int_equal(shadow__unmap_frame(g, g->first_mfn + 7), 1);
	assert_int_equal(sleaf(g, 7 * 4096, NULL), 0);
	assert_int_equal(g->priv->rmap.count, n - 1);
	assert_true(shadow__take_flush_needed(g));
	assert_int_equal(shadow__unmap_frame(g, g->first_mfn + 7), 0);
	assert_int_equal(shadow__unmap_frame(g, 1), 0);
	assert_false(shadow__take_flush_needed(g));
	/* a shadow table is not a guest frame: never in the rmap */
	assert_int_equal(shadow__unmap_frame(g, g->shadow_root_mfn), 0);
	assert_int_equal(shadow__fault(g, 7 * 4096, 0), SHADOW_FIXED);
	check_consistent(g);
}

/* A frame the balloon took is not present: prefetch leaves it out, and a
 * touch faults into l1vmm, which counts it and maps it again (reading zero). */
static void taken_frames_not_present(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	uint8_t zero[4096] = { 0 };
	assert_int_equal(shadow__fault(g, 7 * 4096, W), SHADOW_FIXED);
	assert_true(sleaf(g, 7 * 4096, NULL) & PTE_P);
	memset(shadow__mfn_ptr(g->m, g->first_mfn + 7), 0xab, 4096);
	shadow__take_flush_needed(g);
	assert_int_equal(shadow__take(g, 7, 2), 0);
	assert_int_equal(sleaf(g, 7 * 4096, NULL), 0);
	assert_true(shadow__take_flush_needed(g));
	assert_memory_equal(shadow__mfn_ptr(g->m, g->first_mfn + 7), zero, 4096); /* host memory went */
	/* the neighbours fill, and their prefetch leaves the taken frames out */
	assert_int_equal(shadow__fault(g, 6 * 4096, 0), SHADOW_FIXED);
	assert_int_equal(shadow__fault(g, 9 * 4096, 0), SHADOW_FIXED);
	assert_int_equal(sleaf(g, 7 * 4096, NULL), 0);
	assert_int_equal(sleaf(g, 8 * 4096, NULL), 0);
	assert_int_equal(g->stats.ballooned_touches, 0);
	check_consistent(g);
	/* a touch: counted, mapped again onto its own frame, reading zero */
	uint64_t guest_faults = g->stats.guest_faults;
	assert_int_equal(shadow__fault(g, 7 * 4096 + 8, W), SHADOW_FIXED);
	assert_int_equal(g->stats.ballooned_touches, 1);
	assert_int_equal(g->stats.guest_faults, guest_faults);
	assert_int_equal(sleaf(g, 7 * 4096, NULL) >> 12, g->first_mfn + 7);
	assert_memory_equal(shadow__mfn_ptr(g->m, g->first_mfn + 7), zero, 4096);
	assert_int_equal(sleaf(g, 8 * 4096, NULL), 0); /* its neighbour stays out */
	/* given back: present again on its next fault, with no touch counted */
	assert_int_equal(shadow__give_back(g, 7, 2), 0);
	assert_int_equal(shadow__fault(g, 8 * 4096, 0), SHADOW_FIXED);
	assert_int_equal(sleaf(g, 8 * 4096, NULL) >> 12, g->first_mfn + 8);
	assert_int_equal(g->stats.ballooned_touches, 1);
	assert_int_equal(shadow__take(g, g->nr_frames, 1), -EFAULT);
	assert_int_equal(shadow__give_back(g, g->nr_frames - 1, 2), -EFAULT);
	check_consistent(g);
}

/* The balloon never takes a page table of the guest's tree nor a page the
 * host uses: discarding a table would zero it behind the shadows derived from
 * it (found by fuzz.balloon_hc: the guest's reads through it failed). */
static void tables_and_pinned_frames_are_not_taken(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = &f->g;
	uint64_t t = f->boot_pml4 / 4096 + 3; /* the boot tables' first leaf table */
	assert_int_equal(g->pt_level[t], 1);
	assert_int_equal(shadow__fault(g, 7 * 4096, W), SHADOW_FIXED);
	uint8_t before[4096];
	memcpy(before, shadow__mfn_ptr(g->m, g->p2m_mfn[t]), 4096);
	assert_true(shadow__in_use(g, t, 1));
	assert_true(shadow__in_use(g, t - 1, 2));
	assert_int_equal(shadow__take(g, t - 1, 2), -EBUSY);
	assert_int_equal(shadow__discard(g, t, 1), -EBUSY);
	assert_false(g->frame[t - 1] & SF_ABSENT); /* nothing of the range changed */
	assert_memory_equal(shadow__mfn_ptr(g->m, g->p2m_mfn[t]), before, 4096);
	assert_true(sleaf(g, 7 * 4096, NULL) & PTE_P); /* the table still maps */
	shadow__pin(g, 9);
	assert_true(shadow__in_use(g, 9, 1));
	assert_int_equal(shadow__take(g, 8, 2), -EBUSY);
	assert_false(shadow__in_use(g, 7, 2));
	assert_int_equal(shadow__take(g, 7, 2), 0);
	assert_true(shadow__in_use(g, g->nr_frames, 1));
	check_consistent(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(fault_fills_right_frame_and_flags, setup_boot, teardown),
		cmocka_unit_test_setup_teardown(prefetch_counts, setup_boot, teardown),
		cmocka_unit_test_setup_teardown(guest_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(accessed_dirty, setup, teardown),
		cmocka_unit_test_setup_teardown(pt_write_detected_and_emulated, setup_boot, teardown),
		cmocka_unit_test_setup_teardown(update_invalidates_derived, setup_boot, teardown),
		cmocka_unit_test_setup_teardown(aliased_table_has_two_shadows, setup, teardown),
		cmocka_unit_test_setup_teardown(typing_write_protects_existing_mappings, setup, teardown),
		cmocka_unit_test_setup_teardown(large_leaves_are_split, setup, teardown),
		cmocka_unit_test_setup_teardown(one_gib_leaf_is_split, setup_big, teardown),
		cmocka_unit_test_setup_teardown(flushes, setup_boot, teardown),
		cmocka_unit_test(running_out_of_frames),
		cmocka_unit_test_setup_teardown(unmap_frame_exact, setup_boot, teardown),
		cmocka_unit_test_setup_teardown(taken_frames_not_present, setup_boot, teardown),
		cmocka_unit_test_setup_teardown(tables_and_pinned_frames_are_not_taken, setup_boot,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
