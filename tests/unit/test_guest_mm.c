/*
 * Unit tests: the guest kernel's chunk allocator (guest/kernel/mm.c) and
 * free page reporting's side of it, compiled for the host. mm.c is pure
 * bookkeeping (it hands out addresses, it never touches the memory), so it
 * runs here as it is; it is included rather than linked so that every test
 * can start from the all-zero state the guest's bss gives it at boot.
 *
 * What the integration test (balloon_virtio_ept_report) cannot pin down:
 * a chunk in flight for reporting is never handed out, an allocation that
 * finds only such chunks waits for them instead of failing, and a reported
 * chunk is reported again only after it was used and freed again.
 */
#include "cmocka_all.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "kernel/mm.c"

#define RAM_CHUNKS 32 /* 64 MiB below 4 GiB; chunk 0 is the "image" */
#define USER_CHUNKS (RAM_CHUNKS - 1)

/* ---- what mm.c calls in the rest of the kernel ---- */

uint64_t paging__init(const struct l1_start_info *si, uint64_t image_end, uint64_t low_chunks,
		      uint64_t high_chunks)
{
	(void)si, (void)low_chunks, (void)high_chunks;
	return image_end;
}

void paging__set_user(uint64_t first, uint64_t n, bool user)
{
	(void)first, (void)n, (void)user;
}

static unsigned int deflate_calls;

bool balloon__deflate_on_oom(uint64_t bytes)
{
	(void)bytes;
	__atomic_fetch_add(&deflate_calls, 1, __ATOMIC_RELAXED);
	return false; /* an empty balloon */
}

/* ---- fixture ---- */

static int boot(void **state)
{
	(void)state;
	memset(chunk_state, 0, sizeof(chunk_state));
	memset(chunk_run, 0, sizeof(chunk_run));
	memset(pools, 0, sizeof(pools));
	memset(reported, 0, sizeof(reported));
	nr_pools = 0;
	nr_reporting = 0;
	oom_events = 0;
	maybe_unreported = false;
	deflate_calls = 0;
	struct l1_start_info si = { .mem_bytes = RAM_CHUNKS * CHUNK_SIZE,
				    .ram_below_4g = RAM_CHUNKS * CHUNK_SIZE };
	mm__init(&si, CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE);
	return 0;
}

/* Every user chunk used once and freed: USER_FREE, not reported. */
static void use_everything(void)
{
	int64_t a = mm__alloc_user(USER_CHUNKS * CHUNK_SIZE);
	assert_int_equal(a, CHUNK_SIZE);
	assert_int_equal(mm__user_free_bytes(), 0);
	assert_int_equal(mm__free_user((uint64_t)a), 0);
	assert_int_equal(mm__user_free_bytes(), USER_CHUNKS * CHUNK_SIZE);
}

static bool in(const uint32_t *chunks, unsigned int n, uint64_t c)
{
	for (unsigned int i = 0; i < n; i++)
		if (chunks[i] == c)
			return true;
	return false;
}

/* ---- tests ---- */

/* Only used-and-freed chunks are reported, each once per free; a reported
 * chunk is handed out again like any other. */
static void test_report_once_per_free(void **state)
{
	(void)state;
	uint32_t c[64];
	assert_int_equal(mm__report_isolate(c, 64), 0); /* never written: nothing to report */
	use_everything();

	unsigned int n = mm__report_isolate(c, 64);
	assert_int_equal(n, USER_CHUNKS);
	/* in flight: still free in the count, but nobody may have them */
	assert_int_equal(mm__user_free_bytes(), USER_CHUNKS * CHUNK_SIZE);
	mm__report_putback(c, n, n);
	assert_int_equal(mm__report_isolate(c, 64), 0);

	/* reuse 8 reported chunks; freed again, exactly those are reportable */
	int64_t b = mm__alloc_user(8 * CHUNK_SIZE);
	assert_true(b >= (int64_t)CHUNK_SIZE);
	assert_true(mm__user_ok((uint64_t)b, 8 * CHUNK_SIZE));
	assert_int_equal(mm__report_isolate(c, 64), 0); /* allocated: not free */
	assert_int_equal(mm__free_user((uint64_t)b), 0);
	n = mm__report_isolate(c, 64);
	assert_int_equal(n, 8);
	for (unsigned int i = 0; i < n; i++)
		assert_true(c[i] >= (uint64_t)b >> CHUNK_SHIFT && c[i] < ((uint64_t)b >> CHUNK_SHIFT) + 8);

	/* the host took only 3: the other 5 stay reportable */
	mm__report_putback(c, n, 3);
	uint32_t d[64];
	unsigned int m = mm__report_isolate(d, 64);
	assert_int_equal(m, 5);
	for (unsigned int i = 0; i < m; i++)
		assert_true(in(c + 3, 5, d[i]));
	mm__report_putback(d, m, m);
	assert_int_equal(mm__oom_events(), 0);
}

/* Chunks in flight are not handed out: with every chunk in flight, a user
 * allocation has no chunk to take. */
static void test_in_flight_not_handed_out(void **state)
{
	(void)state;
	uint32_t c[64];
	use_everything();
	unsigned int n = mm__report_isolate(c, 10);
	assert_int_equal(n, 10);
	int64_t a = mm__alloc_user((USER_CHUNKS - 10) * CHUNK_SIZE);
	assert_true(a >= 0);
	for (uint64_t k = (uint64_t)a >> CHUNK_SHIFT; k < ((uint64_t)a >> CHUNK_SHIFT) + USER_CHUNKS - 10;
	     k++)
		assert_false(in(c, n, k));
	/* a kernel allocation never takes a USER_FREE chunk and has nothing to
	 * wait for: it fails at once (a wait here would hang the test) */
	assert_null(mm__alloc_frames(0, false));
	mm__report_putback(c, n, n);
}

struct waiter {
	int64_t got;
	void *frame;
	bool frames; /* mm__alloc_frames(0, true) instead of mm__alloc_user */
	bool done;
};

static void *alloc_thread(void *arg)
{
	struct waiter *w = arg;
	if (w->frames)
		w->frame = mm__alloc_frames(0, true);
	else
		w->got = mm__alloc_user(2 * CHUNK_SIZE);
	__atomic_store_n(&w->done, true, __ATOMIC_RELEASE);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* With every free chunk in flight, an allocation waits for the report to
 * end and then gets reported chunks; it neither fails nor deflates. */
static void wait_for_report(bool frames)
{
	uint32_t c[64];
	use_everything();
	unsigned int n = mm__report_isolate(c, 64);
	assert_int_equal(n, USER_CHUNKS);

	struct waiter w = { .got = -1, .frames = frames };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, alloc_thread, &w), 0);
	sleep_ms(200);
	assert_false(__atomic_load_n(&w.done, __ATOMIC_ACQUIRE)); /* still waiting */
	mm__report_putback(c, n, n);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(w.done);
	if (frames) {
		assert_non_null(w.frame);
		assert_true(in(c, n, (uint64_t)w.frame >> CHUNK_SHIFT));
	} else {
		assert_true(w.got > 0);
		assert_true(in(c, n, (uint64_t)w.got >> CHUNK_SHIFT));
		assert_true(in(c, n, ((uint64_t)w.got >> CHUNK_SHIFT) + 1));
	}
	assert_int_equal(mm__oom_events(), 0);
	assert_int_equal(deflate_calls, 0);
}

static void test_alloc_user_waits_for_report(void **state)
{
	(void)state;
	wait_for_report(false);
}

static void test_alloc_frames_waits_for_report(void **state)
{
	(void)state;
	wait_for_report(true);
}

/* Nothing in flight and nothing free: the allocation fails at once, after
 * asking the balloon (deflate on OOM), and counts an OOM event. */
static void test_no_wait_without_report(void **state)
{
	(void)state;
	int64_t a = mm__alloc_user(USER_CHUNKS * CHUNK_SIZE);
	assert_true(a > 0);
	assert_int_equal(mm__alloc_user(CHUNK_SIZE), -L1G_ENOMEM);
	assert_int_equal(deflate_calls, 1);
	assert_int_equal(mm__oom_events(), 1);
}

/* The balloon takes freed chunks the host still backs (used, not reported)
 * before reported ones, and those before never-used ones. */
static void test_balloon_prefers_unreported(void **state)
{
	(void)state;
	uint32_t c[64], b[64];
	int64_t a = mm__alloc_user(20 * CHUNK_SIZE); /* chunks 1..20; 21..31 never used */
	assert_int_equal(a, CHUNK_SIZE);
	assert_int_equal(mm__free_user((uint64_t)a), 0);
	unsigned int n = mm__report_isolate(c, 12);
	assert_int_equal(n, 12);
	mm__report_putback(c, n, n); /* 12 reported, 8 used and unreported */

	unsigned int got = mm__balloon_claim(b, 8);
	assert_int_equal(got, 8);
	for (unsigned int i = 0; i < got; i++) {
		assert_true(b[i] >= 1 && b[i] <= 20);
		assert_false(in(c, n, b[i]));
	}
	got = mm__balloon_claim(b + 8, 12);
	assert_int_equal(got, 12);
	for (unsigned int i = 8; i < 20; i++)
		assert_true(in(c, n, b[i]));
	got = mm__balloon_claim(b + 20, 11);
	assert_int_equal(got, 11);
	for (unsigned int i = 20; i < 31; i++)
		assert_true(b[i] >= 21 && b[i] < RAM_CHUNKS);
	assert_int_equal(mm__user_free_bytes(), 0);

	/* back from the balloon, the used chunks are reportable again (release
	 * is also unclaim, and an unclaimed chunk was never discarded), the
	 * never-used ones are not */
	mm__balloon_release(b, 31);
	assert_int_equal(mm__user_free_bytes(), USER_CHUNKS * CHUNK_SIZE);
	assert_int_equal(mm__report_isolate(c, 64), 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_report_once_per_free, boot),
		cmocka_unit_test_setup(test_in_flight_not_handed_out, boot),
		cmocka_unit_test_setup(test_alloc_user_waits_for_report, boot),
		cmocka_unit_test_setup(test_alloc_frames_waits_for_report, boot),
		cmocka_unit_test_setup(test_no_wait_without_report, boot),
		cmocka_unit_test_setup(test_balloon_prefers_unreported, boot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
