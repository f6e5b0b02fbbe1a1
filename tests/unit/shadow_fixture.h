/* The fixture the shadow MMU's unit tests share: a fake machine and one guest
 * in it (no KVM), and helpers to write guest page tables. */
#ifndef L1_TEST_SHADOW_FIXTURE_H
#define L1_TEST_SHADOW_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "mmu/shadow/shadow.h"
#include "mmu/shadow/shadow_priv.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define RESERVED_LOW 16
#define GUEST_MEM (4 * MiB)
#define NR (GUEST_MEM / 4096)

#define TBL (PTE_P | PTE_RW | PTE_US | PTE_A)
#define DATA (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D)

struct fx {
	struct shadow_machine m;
	struct shadow_guest g;
	uint64_t boot_pml4, boot_end;
};

/* A machine of `machine` bytes with one guest of `guest` bytes; stub_pdpt as the
 * slot-511 subtree (0: none). */
static inline int fx_setup(void **state, uint64_t machine, uint64_t guest, uint64_t stub_pdpt)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_int_equal(shadow__machine_init(&f->m, machine, RESERVED_LOW), 0);
	f->m.stub_pdpt_mfn = stub_pdpt;
	assert_int_equal(shadow__guest_init(&f->g, &f->m, guest), 0);
	*state = f;
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct fx *f = *state;
	shadow__guest_destroy(&f->g);
	assert_int_equal(f->m.free_frames, f->m.nr_frames - RESERVED_LOW); /* nothing leaked */
	shadow__machine_destroy(&f->m);
	free(f);
	return 0;
}

/* Entry idx of guest page gfn. */
static inline uint64_t *ent(struct shadow_guest *g, uint64_t gfn, unsigned idx)
{
	uint64_t *p = ept__gpa_ptr(&g->view, gfn * 4096 + idx * 8ull, 8);
	assert_non_null(p);
	return p;
}

/* Tables at base..base+3 (PML4, PDPT, PD, PT): va [0, 2 MiB) → gfn [0, 512), RW. */
static inline void small_tree(struct shadow_guest *g, uint64_t base)
{
	memset(ept__gpa_ptr(&g->view, base * 4096, 4 * 4096), 0, 4 * 4096);
	*ent(g, base, 0) = ((base + 1) << 12) | TBL;
	*ent(g, base + 1, 0) = ((base + 2) << 12) | TBL;
	*ent(g, base + 2, 0) = ((base + 3) << 12) | TBL;
	for (unsigned i = 0; i < 512; i++)
		*ent(g, base + 3, i) = ((uint64_t)i << 12) | DATA;
}

#endif
