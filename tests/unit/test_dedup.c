/* SPDX-License-Identifier: MIT */
/*
 * The dedup engine against a fake backend: guest RAM is malloc'ed arrays,
 * share/zero record the mapping, page() returns what the guest would read
 * (the copy for a shared frame, zeros for a zero frame), and a guest write to
 * a shared or zero frame does what a real backend does on copy-on-write: the
 * old content goes to a private page, the write lands there, then it is
 * recorded in the p2m (p2m__record_written), which tells the engine as its
 * client. A randomized test checks the engine against a model of
 * every guest byte and against the p2m after each step.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmocka_all.h"
#include "dedup/dedup.h"

#define PAGE DEDUP_PAGE_SIZE

enum fmap { OWN, MAPPED, ZEROED };

struct fvm {
	uint64_t n;
	uint8_t *ram;            /* the guest's own pages */
	const uint8_t **copy;    /* per gfn: the copy it maps when MAPPED */
	uint8_t *map;            /* enum fmap per gfn */
	bool *written;           /* set by the test, cleared by written() */
	bool *hole;              /* page() says "not RAM" */
	struct p2m p2m;
};

static struct {
	long live_copies;
	int last_copy_node;        /* the node the last copy_new() was asked for */
	int fail_share, fail_copy, fail_unshare; /* that many of the next calls fail */
	uint64_t unpopulated;      /* frames f_unpopulated() heard of */
	uint64_t released;         /* frames the balloon's release saw */
	int fail_release;
} fk;

static const uint8_t zeros[PAGE];

static const void *f_page(void *vm, uint64_t gfn)
{
	struct fvm *v = vm;
	if (v->hole[gfn])
		return NULL;
	switch (v->map[gfn]) {
	case MAPPED: return v->copy[gfn];
	case ZEROED: return zeros;
	default: return v->ram + gfn * PAGE;
	}
}

static bool f_written(void *vm, uint64_t gfn)
{
	struct fvm *v = vm;
	bool w = v->written[gfn];
	v->written[gfn] = false;
	return w;
}

static void *f_copy_new(void *ctx, const void *content, int node)
{
	(void)ctx;
	if (fk.fail_copy > 0) {
		fk.fail_copy--;
		return NULL;
	}
	uint8_t *c = malloc(PAGE);
	assert_non_null(c);
	memcpy(c, content, PAGE);
	fk.live_copies++;
	fk.last_copy_node = node;
	return c;
}

static void f_copy_free(void *ctx, void *copy)
{
	(void)ctx;
	memset(copy, 0xdd, PAGE); /* a frame still reading it would now see garbage */
	free(copy);
	fk.live_copies--;
}

static const void *f_copy_data(void *ctx, const void *copy)
{
	(void)ctx;
	return copy;
}

static int f_share(void *vm, uint64_t gfn, void *copy)
{
	struct fvm *v = vm;
	if (fk.fail_share > 0) {
		fk.fail_share--;
		return -EAGAIN;
	}
	assert_int_equal(v->map[gfn], OWN);
	assert_memory_equal(v->ram + gfn * PAGE, copy, PAGE); /* never share unequal bytes */
	v->map[gfn] = MAPPED;
	v->copy[gfn] = copy;
	memset(v->ram + gfn * PAGE, 0xee, PAGE); /* the private page is gone */
	return 0;
}

static int f_zero(void *vm, uint64_t gfn)
{
	struct fvm *v = vm;
	assert_int_equal(v->map[gfn], OWN);
	assert_memory_equal(v->ram + gfn * PAGE, zeros, PAGE);
	v->map[gfn] = ZEROED;
	return 0;
}

/* The balloon's unshare: every frame its own page again, content undefined. */
static int f_unshare(void *vm, uint64_t gfn, uint64_t n, uint64_t *done)
{
	struct fvm *v = vm;
	/* fail_unshare > 0: fails after that many frames minus one (1: at once) */
	uint64_t upto = fk.fail_unshare > 0 ? (uint64_t)fk.fail_unshare - 1 : n;
	if (upto > n)
		upto = n;
	for (uint64_t g = gfn; g < gfn + upto; g++) {
		v->map[g] = OWN;
		v->copy[g] = NULL;
		memset(v->ram + g * PAGE, 0x55, PAGE); /* whatever the host leaves there */
	}
	*done = upto;
	if (fk.fail_unshare > 0) {
		fk.fail_unshare = 0;
		return -ENOMEM;
	}
	return 0;
}

static void f_unpopulated(void *vm, uint64_t gfn, uint64_t n)
{
	(void)vm;
	fk.unpopulated += n;
	(void)gfn;
}

/* Only the first byte: pages that differ later collide, the zero page's hash is 0. */
static uint64_t first_byte_hash(const void *content)
{
	return *(const uint8_t *)content;
}

static const struct dedup_backend fake_backend = {
	.page = f_page, .written = f_written, .copy_new = f_copy_new,
	.copy_free = f_copy_free, .copy_data = f_copy_data, .share = f_share,
	.zero = f_zero, .unshare = f_unshare, .unpopulated = f_unpopulated,
};

static struct fvm *fvm_new(uint64_t n)
{
	struct fvm *v = calloc(1, sizeof(*v));
	v->n = n;
	v->ram = calloc(n, PAGE);
	v->copy = calloc(n, sizeof(*v->copy));
	v->map = calloc(n, 1);
	v->written = calloc(n, sizeof(bool));
	v->hole = calloc(n, sizeof(bool));
	assert_int_equal(p2m__init(&v->p2m, n), 0);
	assert_int_equal(p2m__move(&v->p2m, 0, n, P2M_ANY, P2M_PRIVATE, NULL, NULL), 0);
	return v;
}

static void fvm_free(struct fvm *v)
{
	p2m__destroy(&v->p2m);
	free(v->ram), free(v->copy), free(v->map), free(v->written), free(v->hole);
	free(v);
}

/* Fill a page with a pattern named by seed (0: zeros). */
static void fill(uint8_t *page, unsigned seed)
{
	for (unsigned i = 0; i < PAGE; i++)
		page[i] = seed ? (uint8_t)(seed * 131 + i * (seed | 1)) : 0;
}

static void fill_gfn(struct fvm *v, uint64_t gfn, unsigned seed)
{
	fill(v->ram + gfn * PAGE, seed);
}

static const uint8_t *guest_read(struct fvm *v, uint64_t gfn)
{
	return f_page(v, gfn);
}

/* A guest write of len bytes at off, with the copy-on-write a real backend does. */
static void guest_write(struct fvm *v, uint64_t gfn, unsigned off,
			const uint8_t *src, unsigned len)
{
	uint8_t *own = v->ram + gfn * PAGE;
	if (v->map[gfn] != OWN) {
		memcpy(own, f_page(v, gfn), PAGE);
		v->map[gfn] = OWN;
		v->copy[gfn] = NULL;
		assert_int_equal(p2m__record_written(&v->p2m, gfn, 1), 0);
	}
	memcpy(own + off, src, len);
	v->written[gfn] = true;
}

static void write_byte(struct fvm *v, uint64_t gfn, unsigned off, uint8_t b)
{
	guest_write(v, gfn, off, &b, 1);
}

static struct dedup *engine(const struct dedup_backend *be)
{
	fk = (typeof(fk)){ 0 };
	struct dedup *e = dedup__create(be ? be : &fake_backend);
	assert_non_null(e);
	assert_int_equal(dedup__knob_set(e, DEDUP_RUN, 1), 0);
	return e;
}

static struct dedup_stats stats(struct dedup *e)
{
	struct dedup_stats s;
	dedup__stats(e, &s);
	return s;
}

/* nr VMs of n frames, gfn g holding pattern g + 1 in each, all in domain (or their own). */
static void twins(struct dedup *e, struct fvm **v, unsigned nr, uint64_t n, uint32_t domain)
{
	for (unsigned i = 0; i < nr; i++) {
		v[i] = fvm_new(n);
		for (uint64_t g = 0; g < n; g++)
			fill_gfn(v[i], g, (unsigned)g + 1);
		char name[16];
		snprintf(name, sizeof(name), "vm%u", i);
		assert_int_equal(dedup__add_vm(e, v[i], name, domain, &v[i]->p2m), 0);
	}
}

static void teardown_all(struct dedup *e, struct fvm **v, unsigned nr)
{
	assert_int_equal(dedup__check(e), 0);
	for (unsigned i = 0; i < nr; i++) {
		if (!v[i])
			continue;
		assert_int_equal(dedup__remove_vm(e, v[i]), 0);
		fvm_free(v[i]);
	}
	dedup__destroy(e);
	assert_int_equal(fk.live_copies, 0);
}

static void test_same_domain_shares(void **state)
{
	(void)state;
	struct dedup *e = engine(NULL);
	struct fvm *v[2];
	twins(e, v, 2, 8, 7);
	/* Not RAM and not populated: never touched. */
	v[0]->hole[7] = v[1]->hole[7] = true;
	assert_int_equal(p2m__move(&v[1]->p2m, 6, 1, P2M_ANY, P2M_UNPOPULATED, NULL, NULL), 0);

	/* 14 private pages: the two others are skipped without counting */
	assert_int_equal(dedup__scan(e, 14), 14);
	for (uint64_t g = 0; g < 6; g++) {
		assert_int_equal(p2m__get(&v[0]->p2m, g), P2M_SHARED);
		assert_int_equal(p2m__get(&v[1]->p2m, g), P2M_SHARED);
		assert_ptr_equal(v[0]->copy[g], v[1]->copy[g]); /* one copy for both */
		uint8_t want[PAGE];
		fill(want, (unsigned)g + 1);
		assert_memory_equal(guest_read(v[0], g), want, PAGE);
	}
	assert_int_equal(p2m__get(&v[0]->p2m, 6), P2M_PRIVATE);
	assert_int_equal(p2m__get(&v[0]->p2m, 7), P2M_PRIVATE);
	struct dedup_stats s = stats(e);
	assert_int_equal(s.pages_shared, 6);
	assert_int_equal(s.pages_sharing, 6);
	assert_int_equal(fk.live_copies, 6);
	assert_int_equal(s.full_scans, 1);
	struct dedup_vm_stats vs;
	assert_int_equal(dedup__vm_stats(e, v[1], &vs), 0);
	assert_int_equal(vs.pages_shared, 6);
	assert_int_equal(vs.pages_private, 1);
	assert_int_equal(vs.domain, 7);
	assert_int_equal(dedup__vm_stats(e, e, &vs), -ENOENT);
	/* A second pass changes nothing. */
	dedup__scan(e, 16);
	assert_int_equal(stats(e).pages_sharing, 6);
	teardown_all(e, v, 2);
}

static void test_domains_never_share(void **state)
{
	(void)state;
	struct dedup *e = engine(NULL);
	struct fvm *v[3];
	twins(e, v, 2, 4, DEDUP_DOMAIN_OWN); /* the default: each VM alone */
	twins(e, &v[2], 1, 4, 3);
	dedup__scan(e, 36);
	assert_int_equal(stats(e).full_scans, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(v[i]->p2m.count[P2M_SHARED], 0);
	assert_int_equal(fk.live_copies, 0);
	struct dedup_vm_stats a, b;
	dedup__vm_stats(e, v[0], &a);
	dedup__vm_stats(e, v[1], &b);
	assert_int_not_equal(a.domain, b.domain);
	assert_true(a.domain > UINT32_MAX);

	/* Put them together: only then do they share. Moving back is refused. */
	assert_int_equal(dedup__set_domain(e, v[0], 3), 0);
	assert_int_equal(dedup__set_domain(e, v[1], 3), 0);
	dedup__scan(e, 12);
	assert_int_equal(stats(e).pages_sharing, 8);
	assert_int_equal(dedup__set_domain(e, v[0], DEDUP_DOMAIN_OWN), -EBUSY);
	assert_int_equal(dedup__set_domain(e, e, 1), -ENOENT);
	teardown_all(e, v, 3);
}

/* merge_across_nodes (KSM's): 0 keeps VMs of different home nodes apart;
 * a copy goes to the node its users' topology says (numa__place). */
static void test_merge_across_nodes(void **state)
{
	(void)state;
	struct dedup *e = engine(NULL);
	static struct numa_topology t = { .nodes = 0x3 }; /* two nodes, ACPI's default distances */
	dedup__set_topology(e, &t);
	assert_int_equal(dedup__knob_get(e, DEDUP_MERGE_ACROSS_NODES), 1); /* KSM's default */
	assert_int_equal(dedup__knob_set(e, DEDUP_MERGE_ACROSS_NODES, 2), -EINVAL);
	assert_int_equal(dedup__knob_set(e, DEDUP_MERGE_ACROSS_NODES, 0), 0);
	struct fvm *v[3];
	twins(e, v, 3, 4, 5); /* one domain: only the nodes keep them apart */
	assert_int_equal(dedup__set_node(e, v[0], 0), 0);
	assert_int_equal(dedup__set_node(e, v[1], 1), 0);
	assert_int_equal(dedup__set_node(e, v[2], 1), 0);
	assert_int_equal(dedup__set_node(e, v[2], NUMA_NODES_MAX), -EINVAL);
	assert_int_equal(dedup__set_node(e, e, 0), -ENOENT);
	fk.last_copy_node = -2;
	dedup__scan(e, 24);
	/* v1 and v2 (node 1) share; v0 (node 0) stays private */
	assert_int_equal(v[0]->p2m.count[P2M_SHARED], 0);
	assert_int_equal(v[1]->p2m.count[P2M_SHARED], 4);
	assert_int_equal(v[2]->p2m.count[P2M_SHARED], 4);
	assert_int_equal(fk.last_copy_node, 1);
	/* like KSM: no change while pages are shared, nor a node move */
	assert_int_equal(dedup__knob_set(e, DEDUP_MERGE_ACROSS_NODES, 1), -EBUSY);
	assert_int_equal(dedup__knob_set(e, DEDUP_MERGE_ACROSS_NODES, 0), 0); /* the same value */
	assert_int_equal(dedup__set_node(e, v[1], 0), -EBUSY);
	teardown_all(e, v, 3);

	/* 1: all three share; the copies go to the node of the first pair's
	 * earlier user (a tie between node 0 and 1), and later to the majority */
	e = engine(NULL);
	dedup__set_topology(e, &t);
	twins(e, v, 2, 4, 5);
	assert_int_equal(dedup__set_node(e, v[0], 1), 0);
	assert_int_equal(dedup__set_node(e, v[1], 0), 0);
	fk.last_copy_node = -2;
	dedup__scan(e, 16);
	assert_int_equal(stats(e).pages_sharing, 4);
	assert_int_equal(fk.last_copy_node, 1); /* v0 was the candidate: its node */
	/* unbound VMs: no preference */
	assert_int_equal(dedup__set_node(e, v[0], -1), -EBUSY);
	teardown_all(e, v, 2);
	e = engine(NULL);
	dedup__set_topology(e, &t);
	twins(e, v, 2, 4, 5);
	dedup__scan(e, 16);
	assert_int_equal(stats(e).pages_sharing, 4);
	assert_int_equal(fk.last_copy_node, -1);
	teardown_all(e, v, 2);
}

static void test_collision_not_shared(void **state)
{
	(void)state;
	struct dedup_backend be = fake_backend;
	be.hash = first_byte_hash;
	struct dedup *e = engine(&be);
	assert_int_equal(dedup__knob_set(e, DEDUP_USE_ZERO_PAGES, 1), 0);
	struct fvm *v[4];
	twins(e, v, 4, 3, 1);
	/* gfn 0: X in v0 and v3, X' (X but its last byte) in v1 and v2: one hash. */
	v[1]->ram[PAGE - 1] ^= 0xff;
	v[2]->ram[PAGE - 1] ^= 0xff;
	/* gfn 1: zeros in v1 and v2; in v0 and v3 a page with the zero page's hash. */
	for (unsigned i = 0; i < 4; i++)
		fill_gfn(v[i], 1, 0);
	v[0]->ram[2 * PAGE - 1] = v[3]->ram[2 * PAGE - 1] = 1;

	dedup__scan(e, 12);
	dedup__scan(e, 12);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(p2m__get(&v[i]->p2m, 0), P2M_SHARED);
	assert_ptr_equal(v[0]->copy[0], v[3]->copy[0]);
	assert_ptr_equal(v[1]->copy[0], v[2]->copy[0]);
	assert_ptr_not_equal(v[0]->copy[0], v[1]->copy[0]);
	assert_int_equal(p2m__get(&v[1]->p2m, 1), P2M_ZERO);
	assert_int_equal(p2m__get(&v[2]->p2m, 1), P2M_ZERO);
	assert_int_equal(p2m__get(&v[0]->p2m, 1), P2M_SHARED); /* not zero: its own copy */
	assert_ptr_equal(v[0]->copy[1], v[3]->copy[1]);
	assert_int_equal(fk.live_copies, 4); /* X, X', almost-zero, pattern 3 */
	assert_true(stats(e).hash_collisions >= 2);
	uint8_t want[PAGE];
	fill(want, 1);
	assert_memory_equal(guest_read(v[0], 0), want, PAGE);
	want[PAGE - 1] ^= 0xff;
	assert_memory_equal(guest_read(v[2], 0), want, PAGE);
	teardown_all(e, v, 4);
}

static void test_volatile_skipped(void **state)
{
	(void)state;
	struct dedup *e = engine(NULL);
	struct fvm *v[2];
	twins(e, v, 2, 4, 1);
	v[1]->written[0] = true;
	dedup__scan(e, 8);
	assert_int_equal(p2m__get(&v[1]->p2m, 0), P2M_PRIVATE);
	assert_int_equal(stats(e).pages_volatile, 1);
	struct dedup_vm_stats vs;
	dedup__vm_stats(e, v[1], &vs);
	assert_int_equal(vs.pages_volatile, 1);
	/* Quiet for an interval: shared on the next pass, no longer volatile. */
	dedup__scan(e, 8);
	assert_int_equal(p2m__get(&v[1]->p2m, 0), P2M_SHARED);
	assert_int_equal(stats(e).pages_volatile, 0);

	/* A candidate written after it was seen is not merged (and is volatile). */
	write_byte(v[0], 1, 0, 5);
	write_byte(v[1], 1, 0, 5);
	v[0]->written[1] = v[1]->written[1] = false; /* their writes were long ago */
	/* (dedup__scan counts only private pages: the shared ones are skipped) */
	dedup__scan(e, 2);       /* both changed since they were shared: volatile */
	assert_int_equal(p2m__get(&v[1]->p2m, 1), P2M_PRIVATE);
	assert_int_equal(stats(e).pages_volatile, 2);
	dedup__scan(e, 2);       /* quiet since: one becomes a candidate, the other merges */
	assert_int_equal(p2m__get(&v[1]->p2m, 1), P2M_SHARED);
	assert_int_equal(stats(e).pages_volatile, 0);
	write_byte(v[0], 2, 0, 6);
	write_byte(v[1], 2, 0, 6);
	v[1]->written[2] = false;
	dedup__scan(e, 2);       /* both changed since they were shared: volatile */
	assert_int_equal(stats(e).pages_volatile, 2);
	/* v0 gfn 2 keeps being written: never merged, whichever is visited first */
	bool asked = false;
	for (int k = 0; k < 3; k++) {
		v[0]->written[2] = true;
		dedup__scan(e, 2);
		asked |= !v[0]->written[2];
		assert_int_equal(p2m__get(&v[0]->p2m, 2), P2M_PRIVATE);
		assert_int_equal(p2m__get(&v[1]->p2m, 2), P2M_PRIVATE);
		assert_true(stats(e).pages_volatile <= 1);
	}
	assert_true(asked); /* the engine asked about it: it has a twin */
	/* quiet from now on: shared within a few passes (their backoff aligns) */
	for (int k = 0; k < 64 && p2m__get(&v[1]->p2m, 2) != P2M_SHARED; k++)
		dedup__scan(e, 8);
	assert_int_equal(p2m__get(&v[1]->p2m, 2), P2M_SHARED);
	assert_int_equal(p2m__get(&v[0]->p2m, 2), P2M_SHARED);
	/* written() is asked only for frames with a twin: a unique page's
	 * write tracking stays as it is (a backend re-arms nothing for it) */
	write_byte(v[0], 3, 0, 7);
	dedup__scan(e, 8);
	assert_true(v[0]->written[3]);
	teardown_all(e, v, 2);
}

/* Without written() (ept), a page whose content changed since its last visit is volatile. */
static void test_volatile_by_hash(void **state)
{
	(void)state;
	struct dedup_backend be = fake_backend;
	be.written = NULL;
	struct dedup *e = engine(&be);
	struct fvm *v[2];
	twins(e, v, 2, 4, 1);
	fill_gfn(v[1], 1, 99);   /* v1's gfn 1 differs from v0's at first */
	dedup__scan(e, 8);
	assert_int_equal(p2m__get(&v[1]->p2m, 0), P2M_SHARED); /* one pass: seen once, shared */
	assert_int_equal(p2m__get(&v[1]->p2m, 1), P2M_PRIVATE);
	fill_gfn(v[1], 1, 2);    /* now equal to v0's gfn 1: changed since its visit */
	/* (dedup__scan counts only private pages: these two, one pass each) */
	dedup__scan(e, 2);
	assert_int_equal(p2m__get(&v[1]->p2m, 1), P2M_PRIVATE);
	assert_int_equal(stats(e).pages_volatile, 1);
	dedup__scan(e, 2);       /* the same bytes as at its last visit: shared */
	assert_int_equal(p2m__get(&v[1]->p2m, 1), P2M_SHARED);
	assert_int_equal(stats(e).pages_volatile, 0);
	assert_memory_equal(guest_read(v[1], 1), guest_read(v[0], 1), PAGE);
	assert_int_equal(dedup__check(e), 0);
	teardown_all(e, v, 2);
}

static void test_zero_pages(void **state)
{
	(void)state;
	struct dedup *e = engine(NULL);
	struct fvm *v[2];
	twins(e, v, 1, 4, DEDUP_DOMAIN_OWN);
	fill_gfn(v[0], 1, 0);
	/* l1vmm's default is on (KSM's is off) */
	assert_int_equal(dedup__knob_get(e, DEDUP_USE_ZERO_PAGES), 1);
	assert_int_equal(dedup__knob_set(e, DEDUP_USE_ZERO_PAGES, 0), 0);
	/* Without use_zero_pages a lone zero page is ordinary content: left private. */
	dedup__scan(e, 8);
	assert_int_equal(v[0]->p2m.count[P2M_PRIVATE], 4);
	assert_int_equal(stats(e).zero_pages, 0);
	/* Two of them share one stored copy, as any two equal pages (KSM's meaning). */
	fill_gfn(v[0], 2, 0);
	dedup__scan(e, 8);
	assert_int_equal(p2m__get(&v[0]->p2m, 2), P2M_SHARED);
	assert_int_equal(p2m__get(&v[0]->p2m, 1), P2M_SHARED);
	assert_int_equal(fk.live_copies, 1);

	/* With it: zero pages are discarded, no copy. */
	assert_int_equal(dedup__knob_set(e, DEDUP_USE_ZERO_PAGES, 1), 0);
	twins(e, &v[1], 1, 3, DEDUP_DOMAIN_OWN);
	for (uint64_t g = 0; g < 3; g++)
		fill_gfn(v[1], g, 0);
	dedup__scan(e, 7);
	assert_int_equal(v[1]->p2m.count[P2M_ZERO], 3);
	assert_int_equal(fk.live_copies, 1);
	assert_int_equal(stats(e).zero_pages, 3);
	assert_memory_equal(guest_read(v[1], 0), zeros, PAGE);
	/* A write to a zero page: the writer's byte on zeros, private again. */
	write_byte(v[1], 2, 10, 0x7f);
	assert_int_equal(p2m__get(&v[1]->p2m, 2), P2M_PRIVATE);
	assert_int_equal(guest_read(v[1], 2)[10], 0x7f);
	assert_int_equal(guest_read(v[1], 2)[11], 0);
	struct dedup_stats s = stats(e);
	assert_int_equal(s.zero_pages, 2);
	assert_int_equal(s.cow_breaks, 1);
	teardown_all(e, v, 2);
}

/* Five twins scanned with room for two users a copy: v0+v1 fill one copy, v2
 * finds it full and waits, v3 joins v2 in a second, v4 waits. */
static void two_copies_of_two(struct dedup *e, struct fvm **v)
{
	twins(e, v, 5, 1, 1);
	dedup__scan(e, 5);
	assert_int_equal(fk.live_copies, 2);
	assert_ptr_equal(v[0]->copy[0], v[1]->copy[0]);
	assert_ptr_equal(v[2]->copy[0], v[3]->copy[0]);
	assert_ptr_not_equal(v[0]->copy[0], v[2]->copy[0]);
	assert_int_equal(p2m__get(&v[4]->p2m, 0), P2M_PRIVATE);
}

/* A backend's own bound (shadow: KVM) caps a copy's users below the knob. */
static void test_backend_max_users(void **state)
{
	(void)state;
	struct dedup_backend be = fake_backend;
	be.max_users = 2;
	struct dedup *e = engine(&be);
	assert_int_equal(dedup__knob_get(e, DEDUP_MAX_PAGE_SHARING), 256);
	struct fvm *v[5];
	two_copies_of_two(e, v);
	assert_int_equal(dedup__check(e), 0);
	teardown_all(e, v, 5);
}

static void test_max_page_sharing(void **state)
{
	(void)state;
	struct dedup *e = engine(NULL);
	assert_int_equal(dedup__knob_set(e, DEDUP_MAX_PAGE_SHARING, 2), 0);
	struct fvm *v[5];
	two_copies_of_two(e, v);
	struct dedup_stats s = stats(e);
	assert_int_equal(s.pages_shared, 2);
	assert_int_equal(s.pages_sharing, 2);
	assert_int_equal(dedup__knob_set(e, DEDUP_MAX_PAGE_SHARING, 3), -EBUSY);
	assert_int_equal(dedup__knob_set(e, DEDUP_MAX_PAGE_SHARING, 2), 0);
	/* A break frees room in a copy: the lone page joins it on the next pass. */
	write_byte(v[0], 0, 0, 1);
	dedup__scan(e, 5);
	assert_int_equal(p2m__get(&v[4]->p2m, 0), P2M_SHARED);
	assert_int_equal(fk.live_copies, 2);
	teardown_all(e, v, 5);
}

static void test_cow_break_keeps_bytes(void **state)
{
	(void)state;
	struct dedup *e = engine(NULL);
	struct fvm *v[2];
	twins(e, v, 2, 2, 1);
	dedup__scan(e, 4);
	assert_int_equal(p2m__get(&v[0]->p2m, 0), P2M_SHARED);
	uint8_t old[PAGE], mine[PAGE];
	fill(old, 1);
	memcpy(mine, old, PAGE);
	const uint8_t w[3] = { 0xab, 0xcd, 0xef };
	memcpy(mine + 100, w, sizeof(w));

	guest_write(v[0], 0, 100, w, sizeof(w));
	assert_memory_equal(guest_read(v[0], 0), mine, PAGE); /* old content + the write */
	assert_memory_equal(guest_read(v[1], 0), old, PAGE);  /* the other sharer untouched */
	assert_int_equal(p2m__get(&v[0]->p2m, 0), P2M_PRIVATE);
	assert_int_equal(p2m__get(&v[1]->p2m, 0), P2M_SHARED);
	struct dedup_stats s = stats(e);
	assert_int_equal(s.cow_breaks, 1);
	assert_int_equal(s.pages_shared, 2);
	assert_int_equal(s.pages_sharing, 1);
	assert_int_equal(fk.live_copies, 2);
	assert_int_equal(dedup__check(e), 0);

	/* The last user's break frees the copy. */
	write_byte(v[1], 0, 0, 9);
	old[0] = 9;
	assert_memory_equal(guest_read(v[1], 0), old, PAGE);
	assert_int_equal(fk.live_copies, 1);
	assert_int_equal(stats(e).pages_shared, 1);
	uint64_t breaks = stats(e).cow_breaks;
	assert_int_equal(breaks, 2);
	/* recording the write again changes nothing: the frame is private now */
	assert_int_equal(p2m__record_written(&v[1]->p2m, 0, 1), 0);
	assert_int_equal(stats(e).cow_breaks, breaks);
	assert_int_equal(p2m__get(&v[1]->p2m, 0), P2M_PRIVATE);
	assert_int_equal(p2m__record_written(&v[1]->p2m, 99, 1), -EINVAL); /* out of range */
	assert_int_equal(dedup__check(e), 0);
	teardown_all(e, v, 2);
}

static void test_remove_vm_exact(void **state)
{
	(void)state;
	struct dedup *e = engine(NULL);
	struct fvm *v[4];
	twins(e, v, 1, 1, DEDUP_DOMAIN_OWN); /* v0 only so the VM table exists */
	size_t meta0 = stats(e).meta_bytes;
	twins(e, &v[1], 3, 4, 1);
	assert_int_equal(dedup__add_vm(e, v[1], "again", 1, &v[1]->p2m), -EEXIST);
	dedup__scan(e, 13);
	assert_int_equal(stats(e).pages_sharing, 8);
	dedup__scan(e, 2); /* the cursor now sits inside v1 */
	assert_int_equal(dedup__remove_vm(e, v[2]), 0);
	assert_int_equal(dedup__check(e), 0);
	assert_int_equal(stats(e).pages_sharing, 4);
	assert_int_equal(dedup__remove_vm(e, v[1]), 0);
	struct dedup_stats s = stats(e);
	assert_int_equal(s.pages_sharing, 0);
	assert_int_equal(s.pages_shared, 4);
	assert_int_equal(fk.live_copies, 4);
	assert_int_equal(dedup__remove_vm(e, v[3]), 0);
	assert_int_equal(fk.live_copies, 0);
	assert_int_equal(stats(e).meta_bytes, meta0);
	assert_int_equal(dedup__remove_vm(e, v[3]), -ENOENT);
	for (unsigned i = 1; i < 4; i++)
		fvm_free(v[i]), v[i] = NULL;
	dedup__scan(e, 3);
	assert_int_equal(dedup__check(e), 0);
	teardown_all(e, v, 4);
}

static void test_meta_cap(void **state)
{
	(void)state;
	struct dedup *e = engine(NULL);
	struct fvm *v[2];
	twins(e, v, 2, 200, 1);
	uint64_t cap = stats(e).meta_bytes;
	assert_int_equal(dedup__knob_set(e, DEDUP_MAX_META_BYTES, cap), 0);
	dedup__scan(e, 400);
	struct dedup_stats s = stats(e);
	assert_int_equal(s.meta_bytes, cap); /* not one byte more */
	assert_true(s.meta_cap_hits > 0);
	assert_true(s.pages_sharing > 0 && s.pages_sharing < 200); /* what fitted was shared */
	assert_int_equal(dedup__check(e), 0);
	/* Lift the cap: everything gets shared. */
	const struct dedup_knob_desc *d = dedup__knob_desc(DEDUP_MAX_META_BYTES);
	assert_int_equal(dedup__knob_set(e, DEDUP_MAX_META_BYTES, d->def), 0);
	dedup__scan(e, 400);
	s = stats(e);
	assert_int_equal(s.pages_sharing, 200);
	assert_true(s.meta_bytes > cap);
	/* Lowering it below use is allowed: growth stops, the unstable table shrinks. */
	assert_int_equal(dedup__knob_set(e, DEDUP_MAX_META_BYTES, 0), 0);
	dedup__scan(e, 400);
	assert_true(stats(e).meta_bytes < s.meta_bytes);
	teardown_all(e, v, 2);
}

static void test_knob_ranges(void **state)
{
	(void)state;
	struct dedup *e = engine(NULL);
	for (int k = 0; k < DEDUP_NR_KNOBS; k++) {
		const struct dedup_knob_desc *d = dedup__knob_desc((enum dedup_knob)k);
		assert_non_null(d);
		assert_non_null(d->name);
		assert_true(d->min <= d->def && d->def <= d->max);
		if (d->min > 0)
			assert_int_equal(dedup__knob_set(e, (enum dedup_knob)k, d->min - 1), -EINVAL);
		assert_int_equal(dedup__knob_set(e, (enum dedup_knob)k, d->max + 1), -EINVAL);
		assert_int_equal(dedup__knob_set(e, (enum dedup_knob)k, d->max), 0);
		assert_int_equal(dedup__knob_get(e, (enum dedup_knob)k), d->max);
		assert_int_equal(dedup__knob_set(e, (enum dedup_knob)k, d->min), 0);
		assert_int_equal(dedup__knob_get(e, (enum dedup_knob)k), d->min);
	}
	assert_int_equal(dedup__knob_set(e, DEDUP_RUN, 2), -EINVAL); /* no "unmerge all" */
	assert_int_equal(dedup__knob_set(e, DEDUP_MAX_PAGE_SHARING, 1), -EINVAL);
	assert_int_equal(dedup__knob_set(e, DEDUP_NR_KNOBS, 0), -EINVAL);
	assert_null(dedup__knob_desc(DEDUP_NR_KNOBS));
	assert_string_equal(dedup__knob_desc(DEDUP_PAGES_TO_SCAN)->name, "pages_to_scan");
	/* The statistics table names every field once. */
	assert_int_equal(dedup__stat_table_len * sizeof(uint64_t), sizeof(struct dedup_stats));
	assert_string_equal(dedup__stat_table[0].name, "pages_shared");
	dedup__destroy(e);
}

static void test_full_scans(void **state)
{
	(void)state;
	struct dedup *e = engine(NULL);
	struct fvm *v[2];
	twins(e, v, 1, 5, DEDUP_DOMAIN_OWN);
	twins(e, &v[1], 1, 7, DEDUP_DOMAIN_OWN);
	assert_int_equal(dedup__scan(e, 12), 12);
	assert_int_equal(stats(e).full_scans, 1);
	dedup__scan(e, 6);
	assert_int_equal(stats(e).full_scans, 1);
	assert_int_equal(stats(e).pages_unshared, 6); /* v0's five and v1's first wait */
	dedup__scan(e, 6);
	assert_int_equal(stats(e).full_scans, 2);
	assert_int_equal(stats(e).pages_unshared, 0); /* emptied at the full scan */
	assert_int_equal(stats(e).pages_scanned, 12 + 12);
	/* Every page is unique: after two visits without a twin a page is examined
	 * every 2nd pass, then every 4th, 8th, ... (a call skips at most one pass
	 * of gfns beyond its budget, so a call may examine nothing). */
	static const uint64_t examined[] = { 12, 12, 0, 12, 0, 0, 0, 12 };
	for (size_t i = 0; i < sizeof(examined) / sizeof(examined[0]); i++)
		assert_int_equal(dedup__scan(e, 12), examined[i]);
	assert_int_equal(stats(e).full_scans, 17);
	assert_int_equal(dedup__knob_set(e, DEDUP_RUN, 0), 0);
	assert_int_equal(dedup__scan(e, 100), 0);
	teardown_all(e, v, 2);
}

static void test_general_profit(void **state)
{
	(void)state;
	struct dedup *e = engine(NULL);
	assert_true(stats(e).general_profit < 0); /* nothing saved yet, tables cost */
	assert_int_equal(stats(e).general_profit, -(int64_t)stats(e).meta_bytes);
	assert_int_equal(dedup__knob_set(e, DEDUP_USE_ZERO_PAGES, 1), 0);
	struct fvm *v[3];
	twins(e, v, 3, 6, 1);
	for (unsigned i = 0; i < 3; i++)
		fill_gfn(v[i], 4, 0), fill_gfn(v[i], 5, 0);
	dedup__scan(e, 18);
	struct dedup_stats s = stats(e);
	assert_int_equal(s.pages_shared, 4);
	assert_int_equal(s.pages_sharing, 4 * 3 - 4);
	assert_int_equal(s.zero_pages, 2 * 3);
	assert_int_equal(s.general_profit, (int64_t)(8 + 6) * 4096 - (int64_t)s.meta_bytes);
	teardown_all(e, v, 3);
}

static void test_backend_errors(void **state)
{
	(void)state;
	struct dedup *e = engine(NULL);
	struct fvm *v[2];
	twins(e, v, 2, 2, 1);
	fk.fail_copy = 1;  /* gfn 0: no memory for a copy */
	fk.fail_share = 1; /* gfn 1: the candidate's share fails; ours works */
	dedup__scan(e, 4);
	assert_int_equal(stats(e).backend_errors, 2);
	assert_int_equal(p2m__get(&v[0]->p2m, 0), P2M_PRIVATE);
	assert_int_equal(p2m__get(&v[1]->p2m, 0), P2M_PRIVATE);
	assert_int_equal(p2m__get(&v[0]->p2m, 1), P2M_PRIVATE);
	assert_int_equal(p2m__get(&v[1]->p2m, 1), P2M_SHARED); /* a copy with one user */
	assert_int_equal(dedup__check(e), 0);
	dedup__scan(e, 4);
	assert_int_equal(stats(e).pages_sharing, 2);
	assert_int_equal(fk.live_copies, 2);
	teardown_all(e, v, 2);
}

/* ---- randomized: the engine against a model of every guest byte ---- */

#define RV 4
#define RN 16

static void check_model(struct dedup *e, struct fvm **v, uint8_t (*model)[RN][PAGE],
			const uint32_t *domain, unsigned seed, int step)
{
	if (dedup__check(e) != 0)
		fail_msg("seed %u step %d: dedup__check", seed, step);
	uint64_t shared = 0, zero = 0;
	for (unsigned i = 0; i < RV; i++) {
		for (uint64_t g = 0; g < RN; g++) {
			if (memcmp(guest_read(v[i], g), model[i][g], PAGE) != 0)
				fail_msg("seed %u step %d: vm%u gfn %llu lost its bytes", seed, step, i,
					 (unsigned long long)g);
			enum p2m_state st = p2m__get(&v[i]->p2m, g);
			assert_int_equal(v[i]->map[g] == MAPPED, st == P2M_SHARED);
			assert_int_equal(v[i]->map[g] == ZEROED, st == P2M_ZERO);
			for (unsigned j = 0; v[i]->map[g] == MAPPED && j < RV; j++)
				for (uint64_t h = 0; domain[j] != domain[i] && h < RN; h++)
					assert_ptr_not_equal(v[i]->copy[g], v[j]->copy[h]);
		}
		struct dedup_vm_stats vs;
		assert_int_equal(dedup__vm_stats(e, v[i], &vs), 0);
		assert_int_equal(vs.pages_shared, v[i]->p2m.count[P2M_SHARED]);
		assert_int_equal(vs.pages_private, v[i]->p2m.count[P2M_PRIVATE]);
		assert_int_equal(vs.pages_zero, v[i]->p2m.count[P2M_ZERO]);
		shared += v[i]->p2m.count[P2M_SHARED];
		zero += v[i]->p2m.count[P2M_ZERO];
	}
	struct dedup_stats s = stats(e);
	assert_int_equal(s.pages_shared, (uint64_t)fk.live_copies);
	assert_int_equal(s.pages_shared + s.pages_sharing, shared);
	assert_int_equal(s.zero_pages, zero);
	assert_int_equal(s.general_profit,
			 (int64_t)((s.pages_sharing + s.zero_pages) * PAGE) - (int64_t)s.meta_bytes);
}

/* What the randomized runs went through: proof they exercised the engine. */
static struct {
	uint64_t sharing, zero, cow_breaks, backend_errors;
} seen;

static void random_run(unsigned seed)
{
	srand(seed);
	struct dedup *e = engine(NULL);
	assert_int_equal(dedup__knob_set(e, DEDUP_MAX_PAGE_SHARING, 3), 0);
	static uint8_t model[RV][RN][PAGE];
	const uint32_t domain[RV] = { 1, 1, 1, 2 };
	struct fvm *v[RV];
	for (unsigned i = 0; i < RV; i++) {
		v[i] = fvm_new(RN);
		for (uint64_t g = 0; g < RN; g++) {
			fill(model[i][g], (unsigned)rand() % 5); /* few patterns: many twins */
			memcpy(v[i]->ram + g * PAGE, model[i][g], PAGE);
		}
		assert_int_equal(dedup__add_vm(e, v[i], "r", domain[i], &v[i]->p2m), 0);
	}
	uint64_t cow_breaks = 0;
	for (int step = 0; step < 400; step++) {
		unsigned i = (unsigned)rand() % RV;
		uint64_t g = (uint64_t)rand() % RN;
		int op = rand() % 10;
		if (op < 3) { /* write a whole page with another pattern */
			uint8_t page[PAGE];
			fill(page, (unsigned)rand() % 5);
			cow_breaks += v[i]->map[g] != OWN;
			guest_write(v[i], g, 0, page, PAGE);
			memcpy(model[i][g], page, PAGE);
		} else if (op < 4) { /* write one byte */
			unsigned off = (unsigned)rand() % PAGE;
			uint8_t b = (uint8_t)rand();
			cow_breaks += v[i]->map[g] != OWN;
			write_byte(v[i], g, off, b);
			model[i][g][off] = b;
		} else if (op < 8) {
			fk.fail_share = rand() % 20 == 0;
			fk.fail_copy = rand() % 20 == 0;
			dedup__scan(e, (uint64_t)(rand() % 40) + 1);
			fk.fail_share = fk.fail_copy = 0;
		} else if (op < 9) {
			dedup__knob_set(e, DEDUP_USE_ZERO_PAGES, (uint64_t)rand() % 2);
			/* Now and then the cap pins the tables at their current size. */
			uint64_t cap = rand() % 4 ? dedup__knob_desc(DEDUP_MAX_META_BYTES)->def
						  : stats(e).meta_bytes;
			assert_int_equal(dedup__knob_set(e, DEDUP_MAX_META_BYTES, cap), 0);
		} else { /* the VM goes and comes back with the same content */
			assert_int_equal(dedup__remove_vm(e, v[i]), 0);
			for (uint64_t h = 0; h < RN; h++) {
				memcpy(v[i]->ram + h * PAGE, model[i][h], PAGE);
				v[i]->map[h] = OWN;
				v[i]->copy[h] = NULL;
			}
			/* the memory's owner resets what the removed engine left */
			assert_int_equal(p2m__client_move(&v[i]->p2m, 0, RN, P2M_ANY, P2M_PRIVATE,
							  NULL, NULL), 0);
			assert_int_equal(dedup__add_vm(e, v[i], "r", domain[i], &v[i]->p2m), 0);
		}
		check_model(e, v, model, domain, seed, step);
		struct dedup_stats s = stats(e);
		seen.sharing += s.pages_sharing;
		seen.zero += s.zero_pages;
	}
	assert_int_equal(stats(e).cow_breaks, cow_breaks);
	seen.cow_breaks += cow_breaks;
	seen.backend_errors += stats(e).backend_errors;
	teardown_all(e, v, RV);
}

/* The balloon's release: what the host does after the unshare (discard). */
static int b_release(void *ctx, uint64_t gfn, uint64_t n)
{
	struct fvm *v = ctx;
	if (fk.fail_release > 0) {
		fk.fail_release--;
		return -EIO;
	}
	for (uint64_t g = gfn; g < gfn + n; g++) {
		assert_int_equal(v->map[g], OWN); /* never a copy: that would zero the others' */
		memset(v->ram + g * PAGE, 0, PAGE);
	}
	fk.released += n;
	return 0;
}

/* What a balloon inflate may take: any of the guest's frames (shared ones
 * leave their copies first). */
#define TAKE (P2M_BIT(P2M_UNPOPULATED) | P2M_BIT(P2M_PRIVATE) | P2M_BIT(P2M_SHARED) | \
	      P2M_BIT(P2M_ZERO))

/*
 * Ballooning frames of a VM under the engine: shared and zero frames leave
 * their copies first, the twin keeps its bytes, copies go with their last
 * user, and the p2m says BALLOONED, then UNPOPULATED on the way back.
 */
static void test_balloon_unshares(void **state)
{
	(void)state;
	struct dedup *e = engine(NULL);
	struct fvm *v[2];
	twins(e, v, 2, 8, 7);
	fill_gfn(v[0], 5, 0), fill_gfn(v[1], 5, 0);  /* zero pages */
	dedup__scan(e, 16);
	assert_int_equal(p2m__get(&v[0]->p2m, 0), P2M_SHARED);
	assert_int_equal(p2m__get(&v[0]->p2m, 5), P2M_ZERO);
	assert_int_equal(fk.live_copies, 7);

	/* v0 gives back gfns 0..5: shared, shared, ..., zero */
	assert_int_equal(p2m__move(&v[0]->p2m, 0, 6, TAKE, P2M_BALLOONED, b_release, v[0]), 0);
	assert_int_equal(fk.released, 6);
	for (uint64_t g = 0; g < 6; g++)
		assert_int_equal(p2m__get(&v[0]->p2m, g), P2M_BALLOONED);
	assert_int_equal(dedup__check(e), 0);
	/* the twin still reads its bytes from the copies it now has alone */
	for (uint64_t g = 0; g < 5; g++) {
		uint8_t want[PAGE];
		fill(want, (unsigned)g + 1);
		assert_memory_equal(guest_read(v[1], g), want, PAGE);
		assert_int_equal(p2m__get(&v[1]->p2m, g), P2M_SHARED);
	}
	assert_int_equal(stats(e).pages_sharing, 2); /* gfns 6 and 7 */
	/* a scan leaves ballooned frames alone */
	dedup__scan(e, 32);
	assert_int_equal(p2m__get(&v[0]->p2m, 3), P2M_BALLOONED);

	/* v1 gives back the same frames: their copies go */
	long before = fk.live_copies;
	assert_int_equal(p2m__move(&v[1]->p2m, 0, 5, TAKE, P2M_BALLOONED, b_release, v[1]), 0);
	assert_int_equal(fk.live_copies, before - 5);
	assert_int_equal(dedup__check(e), 0);

	/* back: only the p2m changes, and the backend hears the frames are unpopulated */
	assert_int_equal(p2m__move(&v[0]->p2m, 0, 6, P2M_BIT(P2M_BALLOONED), P2M_UNPOPULATED, NULL,
				   NULL), 0);
	assert_int_equal(p2m__get(&v[0]->p2m, 2), P2M_UNPOPULATED);
	assert_int_equal(fk.unpopulated, 6);
	/* without release a frame mapping a copy cannot move */
	assert_int_equal(p2m__move(&v[0]->p2m, 6, 1, TAKE, P2M_BALLOONED, NULL, NULL), -EPERM);
	assert_int_equal(p2m__get(&v[0]->p2m, 6), P2M_SHARED);
	/* bad arguments change nothing */
	assert_int_equal(p2m__move(&v[0]->p2m, 7, 2, TAKE, P2M_BALLOONED, b_release, v[0]), -EINVAL);
	assert_int_equal(p2m__move(&v[0]->p2m, 6, 1, TAKE, P2M_SHARED, b_release, v[0]), -EPERM);
	/* a failed release: the frame was unshared, stays PRIVATE (its own page), copy kept right */
	fk.fail_release = 1;
	assert_int_equal(p2m__move(&v[0]->p2m, 6, 1, TAKE, P2M_BALLOONED, b_release, v[0]), -EIO);
	assert_int_equal(p2m__get(&v[0]->p2m, 6), P2M_PRIVATE);
	assert_int_equal(dedup__check(e), 0);
	/* a failed unshare: the frames it did are PRIVATE, the others unchanged */
	fk.fail_unshare = 1;
	assert_int_equal(p2m__move(&v[0]->p2m, 7, 1, TAKE, P2M_BALLOONED, b_release, v[0]), -ENOMEM);
	assert_int_equal(p2m__get(&v[0]->p2m, 7), P2M_SHARED);
	assert_int_equal(dedup__check(e), 0);
	assert_int_equal(p2m__move(&v[1]->p2m, 5, 3, TAKE, P2M_BALLOONED, NULL, NULL), -EPERM);
	fk.fail_unshare = 3; /* v1's 5, 6 done, 7 not */
	assert_int_equal(p2m__move(&v[1]->p2m, 5, 3, TAKE, P2M_BALLOONED, b_release, v[1]), -ENOMEM);
	assert_int_equal(p2m__get(&v[1]->p2m, 5), P2M_PRIVATE);
	assert_int_equal(p2m__get(&v[1]->p2m, 6), P2M_PRIVATE);
	assert_int_equal(p2m__get(&v[1]->p2m, 7), P2M_SHARED);
	assert_int_equal(fk.released, 6 + 5);
	assert_int_equal(dedup__check(e), 0);
	teardown_all(e, v, 2);
}

/* A backend without unshare cannot take part: the balloon's discard is refused. */
static void test_balloon_needs_unshare(void **state)
{
	(void)state;
	struct dedup_backend be = fake_backend;
	be.unshare = NULL;
	struct dedup *e = engine(&be);
	struct fvm *v[1];
	twins(e, v, 1, 4, 7);
	assert_int_equal(p2m__move(&v[0]->p2m, 0, 2, TAKE, P2M_BALLOONED, b_release, v[0]), -EOPNOTSUPP);
	assert_int_equal(p2m__get(&v[0]->p2m, 0), P2M_PRIVATE);
	assert_int_equal(fk.released, 0);
	teardown_all(e, v, 1);
}

static void test_random_model(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 20; seed++)
		random_run(seed);
	assert_true(seen.sharing > 1000);
	assert_true(seen.zero > 100);
	assert_true(seen.cow_breaks > 100);
	assert_true(seen.backend_errors > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_domain_shares),
		cmocka_unit_test(test_domains_never_share),
		cmocka_unit_test(test_merge_across_nodes),
		cmocka_unit_test(test_collision_not_shared),
		cmocka_unit_test(test_volatile_skipped),
		cmocka_unit_test(test_volatile_by_hash),
		cmocka_unit_test(test_zero_pages),
		cmocka_unit_test(test_max_page_sharing),
		cmocka_unit_test(test_backend_max_users),
		cmocka_unit_test(test_cow_break_keeps_bytes),
		cmocka_unit_test(test_remove_vm_exact),
		cmocka_unit_test(test_meta_cap),
		cmocka_unit_test(test_knob_ranges),
		cmocka_unit_test(test_full_scans),
		cmocka_unit_test(test_general_profit),
		cmocka_unit_test(test_backend_errors),
		cmocka_unit_test(test_balloon_unshares),
		cmocka_unit_test(test_balloon_needs_unshare),
		cmocka_unit_test(test_random_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
