/*
 * Unit tests: the ept sharing backend's copy store (mmu/ept/store.c): a freed
 * copy's page is reused with the new bytes, or punched out at the next flush
 * (its memory given back), and copies made after that hold their own bytes.
 * No guest is attached: the store needs no KVM.
 */
#include "tests/unit/cmocka_all.h"

#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

#include "mmu/ept/share.h"

#define PAGE 4096

static void fill(unsigned char *p, unsigned seed)
{
	for (unsigned i = 0; i < PAGE; i++)
		p[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 8));
}

static bool resident(const void *page)
{
	unsigned char v = 0;
	void *at = (void *)((uintptr_t)page & ~(uintptr_t)(PAGE - 1));
	assert_int_equal(mincore(at, PAGE, &v), 0);
	return v & 1;
}

static struct ept_share *new_store(void)
{
	struct ept_share *b = NULL;
	char err[256];
	assert_int_equal(ept_share__create(&b, err, sizeof(err)), 0);
	return b;
}

/* A page freed and asked for again at once is the same page, with the new bytes. */
static void freed_page_reused_with_new_bytes(void **state)
{
	(void)state;
	struct ept_share *b = new_store();
	unsigned char a[PAGE], c[PAGE];
	fill(a, 1);
	fill(c, 2);
	void *x = ept_share__copy_new(b, a, -1);
	assert_non_null(x);
	assert_memory_equal(ept_share__copy_data(b, x), a, PAGE);
	const void *where = ept_share__copy_data(b, x);
	ept_share__copy_free(b, x);
	void *y = ept_share__copy_new(b, c, -1);
	assert_non_null(y);
	assert_ptr_equal(ept_share__copy_data(b, y), where); /* reused, not grown */
	assert_memory_equal(ept_share__copy_data(b, y), c, PAGE);
	ept_share__copy_free(b, y);
	ept_share__destroy(b);
}

/* Freed pages keep their memory until a flush, which punches them out; the
 * copies made afterwards (on those pages) hold exactly their own bytes. */
static void flush_gives_freed_memory_back(void **state)
{
	(void)state;
	enum { N = 40 };
	struct ept_share *b = new_store();
	void *h[N];
	const void *at[N];
	unsigned char page[PAGE];
	for (unsigned i = 0; i < N; i++) {
		fill(page, 10 + i);
		h[i] = ept_share__copy_new(b, page, -1);
		assert_non_null(h[i]);
		at[i] = ept_share__copy_data(b, h[i]);
	}
	for (unsigned i = 0; i < N; i += 2) /* every second one: runs of one page */
		ept_share__copy_free(b, h[i]);
	for (unsigned i = 0; i < N; i += 2)
		assert_true(resident(at[i])); /* not punched yet */
	ept_share__flush(b);
	for (unsigned i = 0; i < N; i += 2)
		assert_false(resident(at[i])); /* given back */
	for (unsigned i = 1; i < N; i += 2) {
		assert_true(resident(at[i])); /* the live copies are untouched */
		fill(page, 10 + i);
		assert_memory_equal(ept_share__copy_data(b, h[i]), page, PAGE);
	}
	/* new copies take the punched pages first, each with its own bytes */
	for (unsigned i = 0; i < N; i += 2) {
		fill(page, 100 + i);
		h[i] = ept_share__copy_new(b, page, -1);
		assert_non_null(h[i]);
	}
	for (unsigned i = 0; i < N; i++) {
		fill(page, (i % 2 ? 10 : 100) + i);
		assert_memory_equal(ept_share__copy_data(b, h[i]), page, PAGE);
	}
	for (unsigned i = 0; i < N; i++)
		ept_share__copy_free(b, h[i]);
	ept_share__flush(b);
	for (unsigned i = 0; i < N; i++)
		assert_false(resident(ept_share__copy_data(b, h[i])));
	ept_share__destroy(b);
}

/* More freed pages than may wait: the oldest are punched without a flush. */
static void too_many_freed_are_punched_at_once(void **state)
{
	(void)state;
	enum { N = 1100 }; /* above the store's 1024 */
	struct ept_share *b = new_store();
	static void *h[N];
	unsigned char page[PAGE];
	for (unsigned i = 0; i < N; i++) {
		fill(page, i);
		h[i] = ept_share__copy_new(b, page, -1);
		assert_non_null(h[i]);
	}
	for (unsigned i = 0; i < N; i++)
		ept_share__copy_free(b, h[i]);
	unsigned still = 0;
	for (unsigned i = 0; i < N; i++)
		still += resident(ept_share__copy_data(b, h[i]));
	assert_true(still <= 1024);
	assert_true(still >= 1); /* the last ones wait for a flush */
	ept_share__flush(b);
	for (unsigned i = 0; i < N; i++)
		assert_false(resident(ept_share__copy_data(b, h[i])));
	ept_share__destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(freed_page_reused_with_new_bytes),
		cmocka_unit_test(flush_gives_freed_memory_back),
		cmocka_unit_test(too_many_freed_are_punched_at_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
