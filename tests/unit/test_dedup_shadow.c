/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: the shadow-mode sharing backend (l1vmm/dedup_shadow.c,
 * mmu/shadow/share.c) driven by the real engine, on a machine without KVM.
 * Guests read and write the way the CPU does: through their shadow leaves,
 * taking shadow__fault() when a leaf is missing or read-only. Every case
 * checks the bytes each guest reads, where the leaves point, the p2m against
 * the engine (dedup__check), and that detaching gives every frame back.
 */
#include "cmocka_all.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dedup/dedup.h"
#include "l1vmm/dedup_host.h"
#include "l1vmm/shadow_vm.h"
#include "l1vmm/vm.h"
#include "mmu/shadow/shadow_priv.h"
#include "tests/shadow_cpu.h"

#define MiB (1ull << 20)
#define GUEST (4 * MiB)
#define NRF (GUEST / 4096)
#define RESERVED_LOW 16
#define NVM 3

struct fx {
	struct machine m;
	struct vm vm[NVM];
	struct shadow_vm sv[NVM];
	struct dedup_host_backend be;
	struct dedup *e;
	uint64_t free_before;
};

static struct shadow_guest *G(struct fx *f, int i)
{
	return &f->sv[i].g;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_int_equal(shadow__machine_init(&f->m.mem, 64 * MiB, RESERVED_LOW), 0);
	f->free_before = f->m.mem.free_frames;
	char err[200];
	assert_int_equal(dedup_shadow__create(&f->m, &f->be, err, sizeof(err)), 0);
	for (int i = 0; i < NVM; i++) {
		struct vm *vm = &f->vm[i];
		vm->shadow = &f->sv[i];
		f->sv[i].machine = &f->m;
		assert_int_equal(shadow__guest_init(G(f, i), &f->m.mem, GUEST), 0);
		vm->ram = &G(f, i)->view;
		uint64_t pml4, end;
		assert_int_equal(shadow__build_boot_tables(G(f, i), 1 * MiB, &pml4, &end), 0);
		assert_int_equal(f->be.attach(f->be.ctx, vm), 0);
	}
	f->e = dedup__create(&f->be.ops);
	assert_non_null(f->e);
	for (int i = 0; i < NVM; i++)
		assert_int_equal(dedup__add_vm(f->e, &f->vm[i], "t", i < 2 ? 7 : DEDUP_DOMAIN_OWN,
					       &f->vm[i].ram->p2m), 0);
	assert_int_equal(dedup__knob_set(f->e, DEDUP_RUN, 1), 0);
	assert_int_equal(dedup__knob_set(f->e, DEDUP_USE_ZERO_PAGES, 1), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	for (int i = 0; i < NVM; i++) {
		f->be.sync(f->be.ctx, f->e);
		assert_int_equal(dedup__check(f->e), 0);
		assert_int_equal(dedup__remove_vm(f->e, &f->vm[i]), 0);
		f->be.detach(f->be.ctx, &f->vm[i]);
		for (uint64_t gfn = 0; gfn < NRF; gfn++)
			assert_int_equal(G(f, i)->p2m_mfn[gfn], G(f, i)->first_mfn + gfn);
		shadow__guest_destroy(G(f, i));
	}
	dedup__destroy(f->e);
	f->be.destroy(f->be.ctx);
	assert_null(f->m.dedup_shadow);
	/* every copy and zero frame went back (copies skip the quarantine) */
	shadow__machine_release_quarantine(&f->m.mem);
	assert_int_equal(f->m.mem.free_frames, f->free_before);
	shadow__machine_destroy(&f->m.mem);
	free(f);
	return 0;
}

/* The machine byte a CPU access to va reaches, faulting in as the CPU would. */
static uint8_t *cpu(struct shadow_guest *g, uint64_t va, bool write)
{
	uint8_t *p = shadow_cpu__byte(g, va, write);
	if (!p)
		fail_msg("va %#llx does not become accessible", (unsigned long long)va);
	return p;
}

static void gwrite_page(struct shadow_guest *g, uint64_t gfn, uint8_t seed)
{
	for (unsigned i = 0; i < 4096; i += 512)
		*cpu(g, gfn * 4096 + i, true) = (uint8_t)(seed + i / 512);
}

static void gfill_page(struct shadow_guest *g, uint64_t gfn, uint8_t byte)
{
	memset(cpu(g, gfn * 4096, true), byte, 4096);
}

static bool greads(struct shadow_guest *g, uint64_t gfn, uint8_t seed)
{
	for (unsigned i = 0; i < 4096; i += 512)
		if (*cpu(g, gfn * 4096 + i, false) != (uint8_t)(seed + i / 512))
			return false;
	return true;
}

/* One scanner round: what the host layer's scanner thread does. */
static void round_(struct fx *f)
{
	f->be.sync(f->be.ctx, f->e);
	uint64_t private = 0; /* each private page once: the scan counts those */
	for (int i = 0; i < NVM; i++)
		private += f->vm[i].ram->p2m.count[P2M_PRIVATE];
	dedup__scan(f->e, private);
	f->be.scan_end(f->be.ctx);
	f->be.sync(f->be.ctx, f->e);
	assert_int_equal(dedup__check(f->e), 0);
}

static enum p2m_state st(struct fx *f, int i, uint64_t gfn)
{
	return p2m__get(&f->vm[i].ram->p2m, gfn);
}

static void first_write_populates(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = G(f, 0);
	assert_int_equal(st(f, 0, 100), P2M_UNPOPULATED);
	/* a read populates nothing (the host maps its zero page) */
	assert_int_equal(*(volatile uint8_t *)cpu(g, 100 * 4096, false), 0);
	round_(f);
	assert_int_equal(st(f, 0, 100), P2M_UNPOPULATED);
	/* a write of zeros does: that frame took a host page (then it is zeroed) */
	*(volatile uint8_t *)cpu(g, 101 * 4096, true) = 0;
	round_(f);
	assert_int_equal(st(f, 0, 101), P2M_PRIVATE);
	round_(f);
	assert_int_equal(st(f, 0, 101), P2M_ZERO);
	gwrite_page(g, 100, 1);
	assert_int_equal(g->stats.wp_faults, 0); /* no fault for it */
	f->be.sync(f->be.ctx, f->e);
	assert_int_equal(g->stats.populates, 2);
	assert_int_equal(st(f, 0, 100), P2M_PRIVATE);
	assert_int_equal(dedup__check(f->e), 0);
	/* the boot tables were private already; nothing else was written */
	assert_int_equal(f->vm[0].ram->p2m.count[P2M_PRIVATE], 5 + 1);
	/* a host write populates at once */
	uint8_t z = 0;
	assert_int_equal(shadow__access(g, 102 * 4096, &z, 1, true), 0);
	f->be.sync(f->be.ctx, f->e);
	assert_int_equal(st(f, 0, 102), P2M_PRIVATE);
}

static void shares_across_vms_of_a_domain(void **state)
{
	struct fx *f = *state;
	gwrite_page(G(f, 0), 300, 40);
	gwrite_page(G(f, 1), 310, 40);  /* same bytes, another gfn */
	gwrite_page(G(f, 2), 300, 40);  /* same bytes, its own domain */
	gwrite_page(G(f, 0), 301, 41);
	gwrite_page(G(f, 1), 301, 42);
	for (int r = 0; r < 3; r++)
		round_(f);
	assert_int_equal(st(f, 0, 300), P2M_SHARED);
	assert_int_equal(st(f, 1, 310), P2M_SHARED);
	assert_int_equal(st(f, 2, 300), P2M_PRIVATE);
	assert_int_equal(st(f, 0, 301), P2M_PRIVATE);
	uint64_t a = shadow_cpu__leaf(G(f, 0), 300 * 4096), b = shadow_cpu__leaf(G(f, 1), 310 * 4096);
	assert_true((a & PTE_P) && (b & PTE_P));
	assert_int_equal(a & PTE_ADDR, b & PTE_ADDR);
	assert_false(a & PTE_RW);
	assert_false(b & PTE_RW);
	uint64_t copy = (a & PTE_ADDR) >> 12;
	assert_int_equal(G(f, 0)->p2m_mfn[300], copy);
	assert_true(copy < G(f, 0)->first_mfn || copy >= G(f, 0)->first_mfn + NRF);
	assert_true(greads(G(f, 0), 300, 40));
	assert_true(greads(G(f, 1), 310, 40));
	/* the own frame was given back to the host (batched, within 1 s) */
	usleep(1010 * 1000);
	f->be.scan_end(f->be.ctx);
	const uint8_t *own = shadow__mfn_ptr(&f->m.mem, G(f, 0)->first_mfn + 300);
	for (unsigned i = 0; i < 4096; i++)
		assert_int_equal(own[i], 0);
	struct dedup_stats s;
	dedup__stats(f->e, &s);
	assert_int_equal(s.pages_shared, 1);
	assert_int_equal(s.pages_sharing, 1);
}

static void zero_pages_map_a_zero_frame(void **state)
{
	struct fx *f = *state;
	gfill_page(G(f, 0), 400, 0);
	gfill_page(G(f, 2), 400, 0);
	for (int r = 0; r < 3; r++)
		round_(f);
	assert_int_equal(st(f, 0, 400), P2M_ZERO);
	assert_int_equal(st(f, 2, 400), P2M_ZERO); /* zero pages ignore domains */
	uint64_t e = shadow_cpu__leaf(G(f, 0), 400 * 4096);
	assert_false(e & PTE_RW);
	assert_non_null(f->m.dedup_shadow);
	assert_int_equal((e & PTE_ADDR) >> 12, G(f, 0)->p2m_mfn[400]);
	for (unsigned i = 0; i < 4096; i += 64)
		assert_int_equal(*cpu(G(f, 0), 400 * 4096 + i, false), 0);
	/* writing it: its own page, zeros plus the write */
	*cpu(G(f, 0), 400 * 4096 + 8, true) = 0x5a;
	assert_int_equal(G(f, 0)->p2m_mfn[400], G(f, 0)->first_mfn + 400);
	assert_int_equal(*cpu(G(f, 0), 400 * 4096 + 8, false), 0x5a);
	assert_int_equal(*cpu(G(f, 0), 400 * 4096 + 9, false), 0);
	f->be.sync(f->be.ctx, f->e);
	assert_int_equal(st(f, 0, 400), P2M_PRIVATE);
	assert_int_equal(st(f, 2, 400), P2M_ZERO);
	assert_int_equal(*cpu(G(f, 2), 400 * 4096 + 8, false), 0);
	assert_int_equal(dedup__check(f->e), 0);
}

static void write_to_shared_keeps_bytes(void **state)
{
	struct fx *f = *state;
	gwrite_page(G(f, 0), 500, 7);
	gwrite_page(G(f, 1), 500, 7);
	for (int r = 0; r < 3; r++)
		round_(f);
	assert_int_equal(st(f, 0, 500), P2M_SHARED);
	uint64_t copy = G(f, 0)->p2m_mfn[500];
	/* A writes one byte: its own frame, the old bytes plus the write */
	*cpu(G(f, 0), 500 * 4096 + 1, true) = 0xee;
	assert_int_equal(G(f, 0)->p2m_mfn[500], G(f, 0)->first_mfn + 500);
	uint64_t e = shadow_cpu__leaf(G(f, 0), 500 * 4096);
	assert_int_equal((e & PTE_ADDR) >> 12, G(f, 0)->first_mfn + 500);
	assert_true(e & PTE_RW);
	assert_true(greads(G(f, 0), 500, 7));
	assert_int_equal(*cpu(G(f, 0), 500 * 4096 + 1, false), 0xee);
	/* B still reads the copy, unchanged */
	assert_int_equal(G(f, 1)->p2m_mfn[500], copy);
	assert_true(greads(G(f, 1), 500, 7));
	assert_int_equal(*cpu(G(f, 1), 500 * 4096 + 1, false), 0);
	assert_int_equal(G(f, 0)->stats.cow_breaks, 1);
	f->be.sync(f->be.ctx, f->e);
	assert_int_equal(st(f, 0, 500), P2M_PRIVATE);
	assert_int_equal(st(f, 1, 500), P2M_SHARED);
	assert_int_equal(dedup__check(f->e), 0);
	struct dedup_stats s;
	dedup__stats(f->e, &s);
	assert_int_equal(s.cow_breaks, 1);
	assert_int_equal(s.pages_shared, 1); /* B's copy stays, one user */
	/* B writes too: the copy loses its last user and goes */
	gwrite_page(G(f, 1), 500, 9);
	f->be.sync(f->be.ctx, f->e);
	dedup__stats(f->e, &s);
	assert_int_equal(s.pages_shared, 0);
	assert_true(greads(G(f, 1), 500, 9));
	assert_int_equal(dedup__check(f->e), 0);
}

static void volatile_pages_are_not_shared(void **state)
{
	struct fx *f = *state;
	for (int r = 0; r < 5; r++) {
		gwrite_page(G(f, 0), 600, 3);
		gwrite_page(G(f, 1), 600, 3);
		round_(f);
		assert_int_equal(st(f, 0, 600), P2M_PRIVATE);
	}
	/* the one visited second, the one with a twin, is found written */
	struct dedup_vm_stats vs0, vs1;
	assert_int_equal(dedup__vm_stats(f->e, &f->vm[0], &vs0), 0);
	assert_int_equal(dedup__vm_stats(f->e, &f->vm[1], &vs1), 0);
	assert_true(vs0.pages_volatile + vs1.pages_volatile >= 1);
	/* written() write-protected the frame it was asked about, the one with
	 * a twin: each round's first write to it faulted; the other one, a
	 * candidate nobody merged with, was not protected again */
	uint64_t wp0 = G(f, 0)->stats.wp_faults, wp1 = G(f, 1)->stats.wp_faults;
	assert_true(wp0 + wp1 >= 3);
	assert_true(wp0 == 0 || wp1 == 0);
	/* left alone, it is shared: the first round protects the side not
	 * asked about yet, the second shares */
	for (int r = 0; r < 2; r++)
		round_(f);
	assert_int_equal(st(f, 0, 600), P2M_SHARED);
}

static void host_writes_unshare(void **state)
{
	struct fx *f = *state;
	gwrite_page(G(f, 0), 700, 11);
	gwrite_page(G(f, 1), 700, 11);
	for (int r = 0; r < 3; r++)
		round_(f);
	assert_int_equal(st(f, 0, 700), P2M_SHARED);
	uint8_t buf[16];
	assert_int_equal(shadow__access(G(f, 0), 700 * 4096 + 512, buf, 1, false), 0);
	assert_int_equal(buf[0], 12);
	buf[0] = 0x77;
	assert_int_equal(shadow__access(G(f, 0), 700 * 4096 + 4095, buf, 1, true), 0);
	assert_int_equal(G(f, 0)->p2m_mfn[700], G(f, 0)->first_mfn + 700);
	assert_true(greads(G(f, 0), 700, 11));
	assert_int_equal(*cpu(G(f, 0), 700 * 4096 + 4095, false), 0x77);
	assert_true(greads(G(f, 1), 700, 11));
	f->be.sync(f->be.ctx, f->e);
	assert_int_equal(st(f, 0, 700), P2M_PRIVATE);
}

static void shared_page_becoming_a_table_is_unshared(void **state)
{
	struct fx *f = *state;
	struct shadow_guest *g = G(f, 0);
	/* a page of zeros with one valid non-present-free content: a leaf table
	 * mapping gfn 0 read-only at index 0 */
	uint64_t *p = (uint64_t *)cpu(g, 800 * 4096, true);
	memset(p, 0, 4096);
	p[0] = PTE_P | PTE_US;
	uint64_t *q = (uint64_t *)cpu(G(f, 1), 800 * 4096, true);
	memset(q, 0, 4096);
	q[0] = PTE_P | PTE_US;
	for (int r = 0; r < 3; r++)
		round_(f);
	assert_int_equal(st(f, 0, 800), P2M_SHARED);
	/* link it into the guest's boot PD as the table for va 1 GiB - 2 MiB... */
	uint64_t pd = 1 * MiB / 4096 + 2; /* boot tables: PML4, PDPT, PD, PTs */
	struct l1_mmu_update u = { .ptr = pd * 4096 + 100 * 8, .val = (800ull << 12) | PTE_P | PTE_RW | PTE_US };
	uint64_t done;
	assert_int_equal(shadow__mmu_update(g, &u, 1, &done), 0);
	assert_int_equal(g->pt_level[800], 1);
	assert_int_equal(g->p2m_mfn[800], g->first_mfn + 800);
	const uint64_t *own = shadow__mfn_ptr(g->m, g->first_mfn + 800);
	assert_int_equal(own[0], PTE_P | PTE_US);
	f->be.sync(f->be.ctx, f->e);
	assert_int_equal(st(f, 0, 800), P2M_PRIVATE);
	assert_null(f->be.ops.page(&f->vm[0], 800)); /* tables are never candidates */
	assert_int_equal(dedup__check(f->e), 0);
}

static void pinned_pages_are_never_shared(void **state)
{
	struct fx *f = *state;
	gwrite_page(G(f, 0), 900, 5);
	gwrite_page(G(f, 1), 900, 5);
	shadow__pin(G(f, 0), 900);
	for (int r = 0; r < 4; r++)
		round_(f);
	assert_int_equal(st(f, 0, 900), P2M_PRIVATE);
	assert_int_equal(G(f, 0)->p2m_mfn[900], G(f, 0)->first_mfn + 900);
	/* pinning a shared page gives it its own frame back first */
	gwrite_page(G(f, 2), 901, 6);
	gwrite_page(G(f, 1), 901, 6);
	gwrite_page(G(f, 0), 901, 6);
	for (int r = 0; r < 3; r++)
		round_(f);
	assert_int_equal(st(f, 1, 901), P2M_SHARED);
	shadow__pin(G(f, 1), 901);
	assert_int_equal(G(f, 1)->p2m_mfn[901], G(f, 1)->first_mfn + 901);
	assert_true(greads(G(f, 1), 901, 6));
	f->be.sync(f->be.ctx, f->e);
	assert_int_equal(st(f, 1, 901), P2M_PRIVATE);
	assert_int_equal(dedup__check(f->e), 0);
}

/* Random writes and scans against a model of every byte each guest reads. */
static void random_against_a_model(void **state)
{
	struct fx *f = *state;
	enum { LO = 300, HI = 364 };
	static uint8_t model[NVM][HI - LO][8];
	srand(5);
	for (int i = 0; i < NVM; i++)
		for (int gfn = LO; gfn < HI; gfn++) {
			uint8_t seed = (uint8_t)(rand() % 4 * 16);
			gwrite_page(G(f, i), (uint64_t)gfn, seed);
			for (int k = 0; k < 8; k++)
				model[i][gfn - LO][k] = (uint8_t)(seed + k);
		}
	for (int step = 0; step < 60; step++) {
		for (int w = 0; w < 6; w++) {
			int i = rand() % NVM, gfn = LO + rand() % (HI - LO), k = rand() % 8;
			uint8_t v = (uint8_t)(rand() % 3 == 0 ? 0 : rand() % 4 * 16 + k);
			*cpu(G(f, i), (uint64_t)gfn * 4096 + (uint64_t)k * 512, true) = v;
			model[i][gfn - LO][k] = v;
		}
		round_(f);
		for (int i = 0; i < NVM; i++)
			for (int gfn = LO; gfn < HI; gfn++)
				for (int k = 0; k < 8; k++)
					assert_int_equal(*cpu(G(f, i), (uint64_t)gfn * 4096 +
							      (uint64_t)k * 512, false),
							 model[i][gfn - LO][k]);
	}
	struct dedup_stats s;
	dedup__stats(f->e, &s);
	assert_true(s.pages_sharing > 0);
	assert_true(s.cow_breaks > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(first_write_populates, setup, teardown),
		cmocka_unit_test_setup_teardown(shares_across_vms_of_a_domain, setup, teardown),
		cmocka_unit_test_setup_teardown(zero_pages_map_a_zero_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(write_to_shared_keeps_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(volatile_pages_are_not_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(host_writes_unshare, setup, teardown),
		cmocka_unit_test_setup_teardown(shared_page_becoming_a_table_is_unshared, setup,
						teardown),
		cmocka_unit_test_setup_teardown(pinned_pages_are_never_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(random_against_a_model, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
