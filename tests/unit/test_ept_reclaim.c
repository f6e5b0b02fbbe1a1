/* Unit tests: ept mode's reclaim backend (mmu/ept/reclaim.c) on plain
 * anonymous memory, without KVM. The p2m moves a real core makes
 * (reclaim/reclaim.h) are made here by hand, with a fake store: a table of
 * bytes per frame. */
#include "tests/unit/cmocka_all.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mmu/clock.h"
#include "mmu/ept/ept.h"
#include "mmu/ept/reclaim.h"

#define PAGE EPT_PAGE_SIZE
#define FRAMES 1024 /* 4 MiB of guest RAM */

struct fake {
	struct ept_mem mem;
	struct ept_reclaim *er;
	uint8_t (*stored)[PAGE]; /* gfn -> bytes while COMPRESSED */
	atomic_int fail;         /* fetches to fail with -EIO first (< 0: all) */
	atomic_int fetches;
};

/* The fetch fn: what reclaim_vm__fetch does, without prefetch. */
struct install_ctx {
	reclaim_install_fn install;
	void *ictx;
	const void *bytes;
};

static int apply_install(void *ctx, uint64_t gfn, uint64_t n)
{
	(void)n;
	struct install_ctx *c = ctx;
	return c->install(c->ictx, gfn, c->bytes);
}

static int fake_fetch(void *fctx, uint64_t gfn, reclaim_install_fn install, void *ictx,
		      uint64_t since_ns)
{
	(void)since_ns;
	struct fake *f = fctx;
	int fail = atomic_load(&f->fail);
	if (fail < 0 || (fail > 0 && atomic_fetch_sub(&f->fail, 1) > 0))
		return -EIO;
	if (p2m__move(&f->mem.p2m, gfn, 1, P2M_BIT(P2M_COMPRESSED), P2M_IN_FLIGHT, NULL, NULL))
		return 0;
	struct install_ctx c = { .install = install, .ictx = ictx, .bytes = f->stored[gfn] };
	int rc = p2m__move(&f->mem.p2m, gfn, 1, P2M_BIT(P2M_IN_FLIGHT), P2M_PRIVATE, apply_install, &c);
	if (rc) {
		p2m__move(&f->mem.p2m, gfn, 1, P2M_BIT(P2M_IN_FLIGHT), P2M_COMPRESSED, NULL, NULL);
		return rc;
	}
	atomic_fetch_add(&f->fetches, 1);
	return 1;
}

static int apply_fence(void *ctx, uint64_t gfn, uint64_t n)
{
	return ept_reclaim__ops.fence(ctx, gfn, n);
}

static int apply_unfence(void *ctx, uint64_t gfn, uint64_t n)
{
	ept_reclaim__ops.unfence(ctx, gfn, n);
	return 0;
}

static int apply_discard(void *ctx, uint64_t gfn, uint64_t n)
{
	return ept_reclaim__ops.discard(ctx, gfn, n);
}

static uint8_t pattern(uint64_t gfn, size_t i)
{
	return (uint8_t)(gfn * 131 + i * 7 + 1);
}

static void fill(struct fake *f, uint64_t gfn, uint64_t n)
{
	uint8_t page[PAGE];
	for (uint64_t g = gfn; g < gfn + n; g++) {
		for (size_t i = 0; i < PAGE; i++)
			page[i] = pattern(g, i);
		assert_true(ept__write(&f->mem, g * PAGE, page, PAGE));
	}
}

static struct fake *fake_new(unsigned threads)
{
	struct fake *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(ept__mem_init(&f->mem, FRAMES * PAGE), 0);
	f->stored = calloc(FRAMES, PAGE);
	assert_non_null(f->stored);
	assert_int_equal(ept_reclaim__create(&f->er, &f->mem, -1, fake_fetch, f, threads), 0);
	return f;
}

static void fake_free(struct fake *f)
{
	ept_reclaim__destroy(f->er);
	ept__mem_destroy(&f->mem);
	free(f->stored);
	free(f);
}

/* Fence: PRIVATE -> IN_FLIGHT. */
static int fence(struct fake *f, uint64_t gfn, uint64_t n)
{
	return p2m__move(&f->mem.p2m, gfn, n, P2M_BIT(P2M_PRIVATE), P2M_IN_FLIGHT, apply_fence, f->er);
}

/* The rest of an eviction: bytes to the table, IN_FLIGHT -> COMPRESSED. */
static void finish_evict(struct fake *f, uint64_t gfn, uint64_t n)
{
	for (uint64_t g = gfn; g < gfn + n; g++)
		memcpy(f->stored[g], ept_reclaim__ops.page(f->er, g), PAGE);
	assert_int_equal(p2m__move(&f->mem.p2m, gfn, n, P2M_BIT(P2M_IN_FLIGHT), P2M_COMPRESSED,
				   apply_discard, f->er), 0);
}

static void evict(struct fake *f, uint64_t gfn, uint64_t n)
{
	assert_int_equal(fence(f, gfn, n), 0);
	finish_evict(f, gfn, n);
}

/* A thread touching guest memory, as a vCPU or a device would. */
struct toucher {
	struct fake *f;
	uint64_t gfn, n;
	bool write;        /* else check the pattern */
	uint8_t value;     /* written at byte 100 of each frame */
	atomic_bool done;
	uint64_t bad;      /* bytes that differed from the pattern */
	pthread_t t;
};

static void *touch_main(void *arg)
{
	struct toucher *t = arg;
	for (uint64_t g = t->gfn; g < t->gfn + t->n; g++) {
		volatile uint8_t *p = ept__gpa_ptr(&t->f->mem, g * PAGE, PAGE);
		if (t->write) {
			p[100] = t->value;
			continue;
		}
		for (size_t i = 0; i < PAGE; i++)
			t->bad += p[i] != pattern(g, i);
	}
	atomic_store(&t->done, true);
	return NULL;
}

static void touch_start(struct toucher *t, struct fake *f, uint64_t gfn, uint64_t n, bool write,
			uint8_t value)
{
	*t = (struct toucher){ .f = f, .gfn = gfn, .n = n, .write = write, .value = value };
	assert_int_equal(pthread_create(&t->t, NULL, touch_main, t), 0);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* The pool counts a fetch after install() woke the reader: wait (2 s at
 * most) until n fetches are counted in both places, then check exactly n. */
static void expect_fetched(struct fake *f, int n)
{
	struct ept_reclaim_stats s;
	uint64_t deadline = clock__mono_ns() + 2000000000ull;
	do {
		ept_reclaim__stats(f->er, &s);
		if (atomic_load(&f->fetches) >= n && s.fetched >= (uint64_t)n)
			break;
		sleep_ms(1);
	} while (clock__mono_ns() < deadline);
	assert_int_equal(atomic_load(&f->fetches), n);
	assert_int_equal(s.fetched, n);
}

static void test_evict_and_fetch_bytes(void **state)
{
	(void)state;
	struct fake *f = fake_new(2);
	fill(f, 0, 128);
	evict(f, 10, 64);
	assert_int_equal(p2m__count(&f->mem.p2m, P2M_COMPRESSED), 64);

	struct toucher t;
	uint64_t t0 = clock__mono_ns();
	touch_start(&t, f, 0, 128, false, 0);
	pthread_join(t.t, NULL);
	uint64_t ns = clock__mono_ns() - t0;
	assert_int_equal(t.bad, 0);
	expect_fetched(f, 64);
	assert_int_equal(p2m__count(&f->mem.p2m, P2M_COMPRESSED), 0);
	printf("fetch round trip (fault, fake fetch, UFFDIO_COPY, wake): %.1f us per frame "
	       "over 64 frames\n", (double)ns / 64 / 1000);

	/* a frame that never had content reads zero (UFFDIO_ZEROPAGE), and
	 * takes a write (a copy of zeros) */
	volatile uint8_t *z = ept__gpa_ptr(&f->mem, 500 * PAGE, PAGE);
	assert_int_equal(z[7], 0);
	volatile uint8_t *w = ept__gpa_ptr(&f->mem, 501 * PAGE, PAGE);
	w[9] = 0x5a;
	assert_int_equal(w[9], 0x5a);
	assert_int_equal(w[10], 0);
	struct ept_reclaim_stats s;
	uint64_t deadline = clock__mono_ns() + 2000000000ull; /* counted after the wake */
	do
		ept_reclaim__stats(f->er, &s);
	while (s.zero_fills < 2 && clock__mono_ns() < deadline);
	assert_int_equal(s.zero_fills, 2);
	assert_int_equal(s.registrations, 1);
	fake_free(f);
}

static void test_fence_holds_writer(void **state)
{
	(void)state;
	struct fake *f = fake_new(2);
	fill(f, 0, 64);
	uint64_t t0 = clock__mono_ns();
	assert_int_equal(fence(f, 0, 64), 0); /* the first: registration too */
	uint64_t first = clock__mono_ns() - t0;
	assert_int_equal(p2m__move(&f->mem.p2m, 0, 64, P2M_BIT(P2M_IN_FLIGHT), P2M_PRIVATE,
				   apply_unfence, f->er), 0);
	t0 = clock__mono_ns();
	assert_int_equal(fence(f, 0, 64), 0);
	uint64_t again = clock__mono_ns() - t0;
	printf("fence of 64 frames: %.1f us (first, with registration), %.1f us\n",
	       (double)first / 1000, (double)again / 1000);

	struct toucher t;
	touch_start(&t, f, 5, 1, true, 0xee);
	sleep_ms(50);
	assert_false(atomic_load(&t.done)); /* waits on the fence */
	const uint8_t *p = ept_reclaim__ops.page(f->er, 5);
	assert_int_equal(p[100], pattern(5, 100)); /* readable, unchanged */
	assert_int_equal(p2m__move(&f->mem.p2m, 0, 64, P2M_BIT(P2M_IN_FLIGHT), P2M_PRIVATE,
				   apply_unfence, f->er), 0);
	pthread_join(t.t, NULL);
	assert_int_equal(p[100], 0xee); /* landed after the unfence */
	assert_int_equal(p[101], pattern(5, 101));
	struct ept_reclaim_stats s;
	ept_reclaim__stats(f->er, &s);
	assert_true(s.fences >= 2);
	fake_free(f);
}

/* A writer asleep on the fence when the eviction completes: it refaults
 * MISSING, the frame is fetched, its write lands on the old bytes. */
static void test_discard_with_writer_waiting(void **state)
{
	(void)state;
	struct fake *f = fake_new(1);
	fill(f, 0, 64);
	for (int round = 0; round < 20; round++) {
		assert_int_equal(fence(f, 0, 64), 0);
		struct toucher t;
		touch_start(&t, f, 3, 1, true, (uint8_t)(round + 1));
		if (round % 2)
			sleep_ms(5); /* asleep on the WP fault; else racing the discard */
		finish_evict(f, 0, 64);
		pthread_join(t.t, NULL);
		const uint8_t *p = ept__gpa_ptr(&f->mem, 3 * PAGE, PAGE);
		assert_int_equal(p[100], round + 1);
		assert_int_equal(p[99], pattern(3, 99));
		/* the others come back as they were: the next round evicts them all */
		struct toucher r;
		touch_start(&r, f, 0, 3, false, 0);
		pthread_join(r.t, NULL);
		assert_int_equal(r.bad, 0);
		touch_start(&r, f, 4, 60, false, 0);
		pthread_join(r.t, NULL);
		assert_int_equal(r.bad, 0);
		assert_int_equal(p2m__count(&f->mem.p2m, P2M_COMPRESSED), 0);
		f->stored[3][100] = 0; /* the table must not be what is read next round */
		uint8_t *w = ept__gpa_ptr(&f->mem, 3 * PAGE, PAGE);
		w[100] = pattern(3, 100);
	}
	struct ept_reclaim_stats s;
	ept_reclaim__stats(f->er, &s);
	printf("20 rounds: %llu WP messages, %llu missing\n", (unsigned long long)s.wp_faults,
	       (unsigned long long)s.missing_faults);
	fake_free(f);
}

static void test_fetch_errors_retried(void **state)
{
	(void)state;
	struct fake *f = fake_new(1);
	fill(f, 0, 8);
	evict(f, 0, 8);
	atomic_store(&f->fail, 3);
	struct toucher t;
	touch_start(&t, f, 0, 8, false, 0);
	pthread_join(t.t, NULL);
	assert_int_equal(t.bad, 0);
	expect_fetched(f, 8);
	struct ept_reclaim_stats s;
	ept_reclaim__stats(f->er, &s);
	assert_int_equal(s.fetch_errors, 3);
	fake_free(f);
}

static void test_destroy_with_faults_pending(void **state)
{
	(void)state;
	struct fake *f = fake_new(3);
	fill(f, 0, 8);
	evict(f, 0, 8);
	atomic_store(&f->fail, -1); /* the store never gives them back */
	struct toucher t;
	touch_start(&t, f, 0, 1, false, 0);
	sleep_ms(30);
	assert_false(atomic_load(&t.done));
	ept_reclaim__destroy(f->er); /* must not hang; wakes the reader */
	f->er = NULL;
	pthread_join(t.t, NULL);
	assert_true(atomic_load(&t.done));
	ept__mem_destroy(&f->mem);
	free(f->stored);
	free(f);
}

/* Page sharing's memfd mapping over a frame (maps.c): never registered,
 * never evicted; the anonymous frames around it are. */
static void test_foreign_mapping(void **state)
{
	(void)state;
	struct fake *f = fake_new(1);
	fill(f, 0, 64);
	int fd = memfd_create("copy", 0);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, PAGE), 0);
	uint8_t *hva = ept__gpa_ptr(&f->mem, 20 * PAGE, PAGE);
	uint8_t old[PAGE];
	memcpy(old, hva, PAGE);
	assert_true(mmap(hva, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0) == hva);
	memcpy(hva, old, PAGE); /* as after a copy-on-write break: PRIVATE */
	assert_true(ept_reclaim__ops.evictable(f->er, 20));
	assert_int_equal(fence(f, 16, 8), -EBUSY);
	assert_int_equal(p2m__get(&f->mem.p2m, 20), P2M_PRIVATE);
	assert_false(ept_reclaim__ops.evictable(f->er, 20));
	assert_true(ept_reclaim__ops.evictable(f->er, 19));
	evict(f, 0, 20);
	evict(f, 21, 43);
	struct toucher t;
	touch_start(&t, f, 0, 64, false, 0);
	pthread_join(t.t, NULL);
	assert_int_equal(t.bad, 0);
	struct ept_reclaim_stats s;
	ept_reclaim__stats(f->er, &s);
	assert_int_equal(s.registrations, 2); /* the two anonymous mappings around it */
	assert_int_equal(s.foreign_frames, 1);
	close(fd);
	fake_free(f);
}

static void test_harvest_needs_kvm(void **state)
{
	(void)state;
	struct fake *f = fake_new(1);
	uint64_t acc[2];
	assert_int_equal(ept_reclaim__ops.harvest(f->er, 0, 128, acc), -EOPNOTSUPP);
	struct ept_reclaim *er;
	assert_int_equal(ept_reclaim__create(&er, &f->mem, -1, fake_fetch, f, 0), -EINVAL);
	assert_int_equal(ept_reclaim__create(&er, &f->mem, -1, fake_fetch, f, 9), -EINVAL);
	fake_free(f);
}

/*
 * With a KVM VM (no vCPU: this host's KVM needs l1vmm's guest setup to run
 * one): memslots on the registered mapping, evict and fetch back under
 * KVM's MMU notifier; the dirty log switched on by the first harvest, and
 * host writes not in it (it sees guest writes only). Skipped without
 * /dev/kvm, but not under CI=true.
 */
static void test_with_kvm_vm(void **state)
{
	(void)state;
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		const char *ci = getenv("CI");
		assert_false(ci && !strcmp(ci, "true"));
		skip();
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	assert_true(vm >= 0);
	struct fake *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(ept__mem_init(&f->mem, FRAMES * PAGE), 0);
	assert_int_equal(ept__mem_register(&f->mem, vm), 0);
	f->stored = calloc(FRAMES, PAGE);
	assert_non_null(f->stored);
	assert_int_equal(ept_reclaim__create(&f->er, &f->mem, vm, fake_fetch, f, 2), 0);
	fill(f, 0, 256);
	uint64_t acc[FRAMES / 64];
	assert_int_equal(ept_reclaim__ops.harvest(f->er, 0, FRAMES, acc), 0);
	for (size_t w = 0; w < FRAMES / 64; w++)
		assert_int_equal(acc[w], 0);
	evict(f, 64, 128);
	struct toucher t;
	touch_start(&t, f, 0, 256, false, 0);
	pthread_join(t.t, NULL);
	assert_int_equal(t.bad, 0);
	expect_fetched(f, 128);
	assert_int_equal(ept_reclaim__ops.harvest(f->er, 0, FRAMES, acc), 0);
	fake_free(f);
	close(vm);
	close(kvm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evict_and_fetch_bytes),
		cmocka_unit_test(test_fence_holds_writer),
		cmocka_unit_test(test_discard_with_writer_waiting),
		cmocka_unit_test(test_fetch_errors_retried),
		cmocka_unit_test(test_destroy_with_faults_pending),
		cmocka_unit_test(test_foreign_mapping),
		cmocka_unit_test(test_harvest_needs_kvm),
		cmocka_unit_test(test_with_kvm_vm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
