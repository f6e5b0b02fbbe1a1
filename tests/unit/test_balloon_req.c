/*
 * Unit tests: the virtio-balloon request parser (virtio/balloon_req.c) on
 * chains as virtq__pop() hands them over, over a fake guest of 16 frames.
 */
#include "cmocka_all.h"

#include <string.h>

#include "virtio/balloon_req.h"

#define RAM_BASE 0x10000ull /* frames 16..31 */
#define RAM_BYTES 0x10000ull

static uint8_t ram[RAM_BYTES];

static void *ram_ptr(void *ctx, uint64_t gpa, uint64_t len)
{
	(void)ctx;
	if (gpa < RAM_BASE || gpa - RAM_BASE > RAM_BYTES || len > RAM_BYTES - (gpa - RAM_BASE))
		return NULL;
	return ram + (gpa - RAM_BASE);
}

static const struct virtq_mem mem = { .gpa_ptr = ram_ptr };

/* The guest's buffer bytes, cut into readable segments of the given lengths. */
static struct virtq_seg seg[8];
static struct virtq_chain chain(const void *bytes, const uint32_t *lens, unsigned n)
{
	struct virtq_chain c = { .seg = seg, .max_segs = 8 };
	uint32_t off = 0;
	for (unsigned i = 0; i < n; i++) {
		memcpy(ram + 0x100 * i, (const uint8_t *)bytes + off, lens[i]);
		seg[c.nr_segs++] = (struct virtq_seg){ .ptr = ram + 0x100 * i, .len = lens[i] };
		c.nr_readable++;
		c.readable += lens[i];
		off += lens[i];
	}
	return c;
}

static void pfns_in_and_out_of_ram(void **state)
{
	(void)state;
	uint32_t in[] = { 16, 31, 32, 15, 0, 0xffffffff, 20 };
	uint32_t len = sizeof(in);
	struct virtq_chain c = chain(in, &len, 1);
	uint32_t pfn[8];
	struct balloon_pfns out = { .pfn = pfn, .max = 8 };
	assert_int_equal(balloon__parse_pfns(&c, &mem, &out), 0);
	assert_int_equal(out.nr_valid, 3);
	assert_int_equal(out.nr_rejected, 4);
	assert_int_equal(pfn[0], 16);
	assert_int_equal(pfn[1], 31);
	assert_int_equal(pfn[2], 20);
}

static void pfn_straddling_two_segments(void **state)
{
	(void)state;
	uint32_t in[] = { 17, 18, 19 };
	uint32_t lens[] = { 6, 5, 1 };
	struct virtq_chain c = chain(in, lens, 3);
	uint32_t pfn[3];
	struct balloon_pfns out = { .pfn = pfn, .max = 3 };
	assert_int_equal(balloon__parse_pfns(&c, &mem, &out), 0);
	assert_int_equal(out.nr_valid, 3);
	assert_int_equal(pfn[1], 18);
	assert_int_equal(pfn[2], 19);
}

static void pfn_buffer_errors(void **state)
{
	(void)state;
	uint32_t in[] = { 16, 17, 18 };
	uint32_t len = 10;
	struct virtq_chain c = chain(in, &len, 1);
	uint32_t pfn[3];
	struct balloon_pfns out = { .pfn = pfn, .max = 3, .nr_valid = 9 };
	assert_int_equal(balloon__parse_pfns(&c, &mem, &out), -BALLOON_EPFN_LEN);
	assert_int_equal(out.nr_valid, 0);

	len = 12;
	c = chain(in, &len, 1);
	out.max = 2;
	assert_int_equal(balloon__parse_pfns(&c, &mem, &out), -BALLOON_ETOO_MANY);

	out.max = 3;
	seg[1] = (struct virtq_seg){ .ptr = ram + 0x800, .len = 4, .writable = true };
	c.nr_segs = 2;
	c.writable = 4;
	assert_int_equal(balloon__parse_pfns(&c, &mem, &out), -BALLOON_EWRITABLE);

	c = chain(in, &len, 1);
	assert_int_equal(balloon__parse_pfns(&c, &mem, &out), 0);
	assert_int_equal(out.nr_valid, 3);
}

static void put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
	memcpy(p, &tag, 2);
	memcpy(p + 2, &val, 8);
}

static void stats_known_unknown_and_repeated(void **state)
{
	(void)state;
	uint8_t buf[5 * BALLOON_STAT_BYTES];
	put_stat(buf + 0, BALLOON_S_MEMFREE, 1000);
	put_stat(buf + 10, 42, 7);
	put_stat(buf + 20, BALLOON_S_MEMTOT, 4096);
	put_stat(buf + 30, BALLOON_S_HTLB_PGFAIL, 3);
	put_stat(buf + 40, BALLOON_S_MEMFREE, 900);
	uint32_t lens[] = { 13, 37 }; /* the 2nd entry straddles the segments */
	struct virtq_chain c = chain(buf, lens, 2);
	struct balloon_stats st;
	assert_int_equal(balloon__parse_stats(&c, &st), 0);
	assert_int_equal(st.present, 1u << BALLOON_S_MEMFREE | 1u << BALLOON_S_MEMTOT |
				     1u << BALLOON_S_HTLB_PGFAIL);
	assert_int_equal(st.val[BALLOON_S_MEMFREE], 900);
	assert_int_equal(st.val[BALLOON_S_MEMTOT], 4096);
	assert_int_equal(st.val[BALLOON_S_HTLB_PGFAIL], 3);
	assert_int_equal(st.val[BALLOON_S_SWAP_IN], 0);
	assert_int_equal(st.nr_unknown, 1);
}

static void stats_buffer_errors(void **state)
{
	(void)state;
	static uint8_t buf[(BALLOON_STATS_MAX + 1) * BALLOON_STAT_BYTES];
	uint32_t len = 15;
	struct virtq_chain c = chain(buf, &len, 1);
	struct balloon_stats st;
	assert_int_equal(balloon__parse_stats(&c, &st), -BALLOON_ESTATS_LEN);
	c.readable = c.seg[0].len = sizeof(buf); /* a whole number, one too many */
	assert_int_equal(balloon__parse_stats(&c, &st), -BALLOON_ESTATS_MANY);
	c.readable = c.seg[0].len = BALLOON_STATS_MAX * BALLOON_STAT_BYTES;
	assert_int_equal(balloon__parse_stats(&c, &st), 0);
	assert_int_equal(st.present, 1u << BALLOON_S_SWAP_IN); /* all zero: tag 0 */
	c.writable = 1;
	assert_int_equal(balloon__parse_stats(&c, &st), -BALLOON_EWRITABLE);
}

static void every_error_has_its_own_line(void **state)
{
	(void)state;
	for (int i = 0; i < BALLOON_ENR_ERRORS; i++)
		for (int j = 0; j < i; j++)
			assert_string_not_equal(balloon__strerror(-i), balloon__strerror(-j));
	assert_string_equal(balloon__strerror(-BALLOON_ENR_ERRORS), "unknown balloon request error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pfns_in_and_out_of_ram),
		cmocka_unit_test(pfn_straddling_two_segments),
		cmocka_unit_test(pfn_buffer_errors),
		cmocka_unit_test(stats_known_unknown_and_repeated),
		cmocka_unit_test(stats_buffer_errors),
		cmocka_unit_test(every_error_has_its_own_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
