/*
 * Unit tests: the hardened split-virtqueue walker (virtio/virtq.c) against a
 * fake guest: a malloc'ed buffer as RAM at FAKE_BASE, rings laid out in it
 * exactly as a virtio 1.x driver would, and every malformation the guest
 * could write.
 */
#include "cmocka_all.h"

#include <stdlib.h>
#include <string.h>

#include "virtio/virtq.h"

#define FAKE_BASE 0x100000ull
#define FAKE_BYTES 0x10000ull
#define DESC_GPA (FAKE_BASE + 0x0)
#define AVAIL_GPA (FAKE_BASE + 0x1000)
#define USED_GPA (FAKE_BASE + 0x2000)
#define BUF_GPA (FAKE_BASE + 0x4000)
#define TABLE_GPA (FAKE_BASE + 0x3008) /* indirect tables need no alignment */
/* Claimed RAM that is never touched: only for lengths RAM cannot hold. */
#define HUGE_BASE 0x100000000ull
#define HUGE_BYTES 0x200000000ull

#define QSIZE 4
#define FEATURES (1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_INDIRECT_DESC)

struct fake {
	uint8_t *ram;
	struct virtq q;
	struct virtq_mem mem;
	struct virtq_seg seg[64];
	struct virtq_chain c;
	uint16_t avail_idx; /* the driver's copy */
};

static void *fake_gpa_ptr(void *ctx, uint64_t gpa, uint64_t len)
{
	struct fake *f = ctx;
	if (gpa >= HUGE_BASE && gpa - HUGE_BASE <= HUGE_BYTES && len <= HUGE_BYTES - (gpa - HUGE_BASE))
		return (void *)(uintptr_t)0x1000; /* never dereferenced by the walker */
	if (gpa < FAKE_BASE || gpa - FAKE_BASE > FAKE_BYTES || len > FAKE_BYTES - (gpa - FAKE_BASE))
		return NULL;
	return f->ram + (gpa - FAKE_BASE);
}

static void *at(struct fake *f, uint64_t gpa)
{
	return f->ram + (gpa - FAKE_BASE);
}

static struct virtq_desc *desc(struct fake *f, uint64_t table_gpa, unsigned i)
{
	return (struct virtq_desc *)at(f, table_gpa) + i;
}

/* Write descriptor i of the table at table_gpa (memcpy: tables may be unaligned). */
static void set_desc(struct fake *f, uint64_t table_gpa, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };
	memcpy(desc(f, table_gpa, i), &d, sizeof(d));
}

static struct virtq_avail *avail(struct fake *f)
{
	return at(f, AVAIL_GPA);
}

static struct virtq_used *used(struct fake *f)
{
	return at(f, USED_GPA);
}

/* Make head available, as virtqueue_add_split() + kick would. */
static void publish(struct fake *f, uint16_t head)
{
	avail(f)->ring[f->avail_idx % QSIZE] = head;
	f->avail_idx++;
	__atomic_store_n(&avail(f)->idx, f->avail_idx, __ATOMIC_RELEASE);
}

static int setup_features(void **state, uint64_t features)
{
	struct fake *f = calloc(1, sizeof(*f));
	f->ram = calloc(1, FAKE_BYTES);
	f->mem = (struct virtq_mem){ .gpa_ptr = fake_gpa_ptr, .ctx = f };
	f->c = (struct virtq_chain){ .seg = f->seg, .max_segs = 64 };
	struct virtq_config cfg = { .features = features, .size = QSIZE, .desc_gpa = DESC_GPA,
				    .driver_gpa = AVAIL_GPA, .device_gpa = USED_GPA };
	if (virtq__init(&f->q, &cfg, &f->mem) != 0)
		return -1;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_features(state, FEATURES);
}

static int setup_event_idx(void **state)
{
	return setup_features(state, FEATURES | 1ull << VIRTIO_RING_F_EVENT_IDX);
}

static int teardown(void **state)
{
	struct fake *f = *state;
	free(f->ram);
	free(f);
	return 0;
}

/* The walk failed with err, and the queue stays broken. */
static void assert_broken(struct fake *f, int err)
{
	assert_int_equal(virtq__pop(&f->q, &f->c), err);
	assert_int_equal(f->q.broken, err);
	assert_int_equal(virtq__pop(&f->q, &f->c), -VIRTQ_EBROKEN);
	assert_int_equal(virtq__push(&f->q, 0, 0), -VIRTQ_EBROKEN);
	assert_false(virtq__should_notify(&f->q));
}

static void init_checks_the_configuration(void **state)
{
	struct fake *f = *state;
	struct virtq q;
	struct virtq_config good = { .features = FEATURES, .size = QSIZE, .desc_gpa = DESC_GPA,
				     .driver_gpa = AVAIL_GPA, .device_gpa = USED_GPA };
	struct virtq_config c;
#define TRY(field, value, err)                                        \
	do {                                                          \
		c = good;                                             \
		c.field = value;                                      \
		assert_int_equal(virtq__init(&q, &c, &f->mem), err); \
		assert_int_equal(virtq__pop(&q, &f->c), -VIRTQ_EBROKEN); \
	} while (0)
	TRY(features, 1ull << VIRTIO_RING_F_INDIRECT_DESC, -VIRTQ_EFEATURES);
	TRY(features, FEATURES | 1ull << VIRTIO_F_RING_PACKED, -VIRTQ_EFEATURES);
	TRY(size, 0, -VIRTQ_ESIZE);
	TRY(size, 3, -VIRTQ_ESIZE);
	TRY(size, 65536, -VIRTQ_ESIZE);
	TRY(size, 32768 + 4, -VIRTQ_ESIZE);
	TRY(size, 32768, -VIRTQ_ERING_RANGE); /* a valid size, 512 KiB of table: past RAM */
	TRY(desc_gpa, DESC_GPA + 8, -VIRTQ_EALIGN);
	TRY(driver_gpa, AVAIL_GPA + 1, -VIRTQ_EALIGN);
	TRY(device_gpa, USED_GPA + 2, -VIRTQ_EALIGN);
	TRY(desc_gpa, FAKE_BASE - 16, -VIRTQ_ERING_RANGE);
	TRY(desc_gpa, FAKE_BASE + FAKE_BYTES - 48, -VIRTQ_ERING_RANGE); /* 64 bytes of table */
	TRY(driver_gpa, FAKE_BASE + FAKE_BYTES - 12, -VIRTQ_ERING_RANGE); /* 14 bytes of ring */
	TRY(device_gpa, UINT64_MAX - 3, -VIRTQ_ERING_RANGE);               /* wraps */
	TRY(desc_gpa, UINT64_MAX - 15, -VIRTQ_ERING_RANGE);
	TRY(driver_gpa, DESC_GPA + 62, -VIRTQ_ERING_OVERLAP);
	TRY(device_gpa, AVAIL_GPA + 12, -VIRTQ_ERING_OVERLAP);
	TRY(device_gpa, DESC_GPA, -VIRTQ_ERING_OVERLAP);
#undef TRY
	c = good;
	c.driver_gpa = DESC_GPA + 64; /* adjacent is fine */
	c.device_gpa = FAKE_BASE + FAKE_BYTES - 40; /* 38 bytes, 2 short of RAM's end */
	assert_int_equal(virtq__init(&q, &c, &f->mem), 0);
	assert_int_equal(q.size, QSIZE);
	assert_true(q.indirect);
	assert_false(q.event_idx);
	c.size = 1;
	assert_int_equal(virtq__init(&q, &c, &f->mem), 0);
}

static void single_buffer_round_trip(void **state)
{
	struct fake *f = *state;
	assert_int_equal(virtq__pop(&f->q, &f->c), 0);
	set_desc(f, DESC_GPA, 2, BUF_GPA, 100, 0, 0);
	publish(f, 2);
	assert_int_equal(virtq__pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.head, 2);
	assert_int_equal(f->c.nr_segs, 1);
	assert_ptr_equal(f->c.seg[0].ptr, at(f, BUF_GPA));
	assert_int_equal(f->c.seg[0].gpa, BUF_GPA);
	assert_int_equal(f->c.seg[0].len, 100);
	assert_false(f->c.seg[0].writable);
	assert_int_equal(f->c.readable, 100);
	assert_int_equal(f->c.writable, 0);
	assert_int_equal(virtq__pop(&f->q, &f->c), 0);

	assert_int_equal(virtq__push(&f->q, 2, 0), 0);
	assert_int_equal(used(f)->idx, 1);
	assert_int_equal(used(f)->ring[0].id, 2);
	assert_int_equal(used(f)->ring[0].len, 0);
	assert_true(virtq__should_notify(&f->q));
	avail(f)->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	assert_false(virtq__should_notify(&f->q));
}

static void chain_of_readable_then_writable(void **state)
{
	struct fake *f = *state;
	set_desc(f, DESC_GPA, 0, BUF_GPA, 3, VIRTQ_DESC_F_NEXT, 3);
	set_desc(f, DESC_GPA, 3, BUF_GPA + 0x100, 5, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, DESC_GPA, 1, BUF_GPA + 0x200, 16, VIRTQ_DESC_F_WRITE, 7 /* ignored */);
	memcpy(at(f, BUF_GPA), "abc", 3);
	memcpy(at(f, BUF_GPA + 0x100), "defgh", 5);
	publish(f, 0);
	assert_int_equal(virtq__pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.nr_segs, 3);
	assert_int_equal(f->c.nr_readable, 2);
	assert_int_equal(f->c.readable, 8);
	assert_int_equal(f->c.writable, 16);
	assert_ptr_equal(f->c.seg[1].ptr, at(f, BUF_GPA + 0x100));
	assert_int_equal(f->c.seg[1].gpa, BUF_GPA + 0x100);
	assert_true(f->c.seg[2].writable);
	assert_int_equal(f->c.seg[2].gpa, BUF_GPA + 0x200);

	char out[16] = { 0 };
	assert_int_equal(virtq__chain_read(&f->c, 0, out, sizeof(out)), 8);
	assert_string_equal(out, "abcdefgh");
	memset(out, 0, sizeof(out));
	assert_int_equal(virtq__chain_read(&f->c, 2, out, 4), 4);
	assert_string_equal(out, "cdef");
	assert_int_equal(virtq__chain_read(&f->c, 8, out, 4), 0);

	assert_int_equal(virtq__push(&f->q, 0, 16), 0);
	assert_int_equal(used(f)->ring[0].len, 16);
}

static void indirect_table(void **state)
{
	struct fake *f = *state;
	set_desc(f, TABLE_GPA, 0, BUF_GPA, 10, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, TABLE_GPA, 2, BUF_GPA + 0x10, 20, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, TABLE_GPA, 1, BUF_GPA + 0x40, 30, VIRTQ_DESC_F_WRITE, 0);
	/* WRITE on the descriptor that points at the table is ignored (§2.7.5.3.2) */
	set_desc(f, DESC_GPA, 1, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_WRITE, 0);
	publish(f, 1);
	assert_int_equal(virtq__pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.head, 1);
	assert_int_equal(f->c.nr_segs, 3);
	assert_ptr_equal(f->c.seg[1].ptr, at(f, BUF_GPA + 0x10));
	assert_int_equal(f->c.seg[1].gpa, BUF_GPA + 0x10);
	assert_int_equal(f->c.readable, 30);
	assert_int_equal(f->c.writable, 30);

	/* direct descriptors, then an indirect one ending the chain */
	set_desc(f, DESC_GPA, 3, BUF_GPA + 0x100, 4, VIRTQ_DESC_F_NEXT, 1);
	publish(f, 3);
	assert_int_equal(virtq__pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.nr_segs, 4);
	assert_int_equal(f->c.readable, 34);
}

static void ring_index_wraps_at_65535(void **state)
{
	struct fake *f = *state;
	f->q.last_avail = f->q.used_idx = 65534;
	f->avail_idx = 65534;
	used(f)->idx = 65534;
	for (uint16_t i = 0; i < 3; i++) {
		set_desc(f, DESC_GPA, i, BUF_GPA + i * 0x100u, 8, VIRTQ_DESC_F_WRITE, 0);
		publish(f, i);
	}
	assert_int_equal(avail(f)->idx, 1);
	for (uint16_t i = 0; i < 3; i++) {
		assert_int_equal(virtq__pop(&f->q, &f->c), 1);
		assert_int_equal(f->c.head, i);
	}
	assert_int_equal(virtq__pop(&f->q, &f->c), 0);
	for (uint16_t i = 0; i < 3; i++)
		assert_int_equal(virtq__push(&f->q, i, i + 1u), 0);
	assert_int_equal(used(f)->idx, 1);
	assert_int_equal(used(f)->ring[65534 % QSIZE].id, 0);
	assert_int_equal(used(f)->ring[65535 % QSIZE].id, 1);
	assert_int_equal(used(f)->ring[0].id, 2);
	assert_int_equal(used(f)->ring[0].len, 3);
}

static void event_idx_notifications(void **state)
{
	struct fake *f = *state;
	uint16_t *used_event = &avail(f)->ring[QSIZE];
	uint16_t *avail_event = (uint16_t *)&used(f)->ring[QSIZE];
	assert_true(f->q.event_idx);
	*avail_event = 77;
	assert_int_equal(virtq__pop(&f->q, &f->c), 0);
	assert_int_equal(*avail_event, 0); /* kick me at the next buffer */
	for (uint16_t i = 0; i < 3; i++) {
		set_desc(f, DESC_GPA, i, BUF_GPA, 8, 0, 0);
		publish(f, i);
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(virtq__pop(&f->q, &f->c), 1);
	assert_int_equal(virtq__pop(&f->q, &f->c), 0);
	assert_int_equal(*avail_event, 3);

	assert_int_equal(virtq__push(&f->q, 0, 0), 0);
	assert_true(virtq__should_notify(&f->q)); /* the first one always */
	*used_event = 5;                           /* interrupt when entry 5 is used */
	assert_int_equal(virtq__push(&f->q, 1, 0), 0);
	assert_false(virtq__should_notify(&f->q));
	*used_event = 2; /* interrupt when entry 2 is used: the next push */
	assert_int_equal(virtq__push(&f->q, 2, 0), 0);
	assert_true(virtq__should_notify(&f->q));
	assert_false(virtq__should_notify(&f->q)); /* nothing new since */
}

static void push_rejects_device_bugs(void **state)
{
	struct fake *f = *state;
	assert_int_equal(virtq__push(&f->q, 0, 0), -VIRTQ_EUSED_NONE);
	set_desc(f, DESC_GPA, 0, BUF_GPA, 8, 0, 0);
	publish(f, 0);
	assert_int_equal(virtq__pop(&f->q, &f->c), 1);
	assert_int_equal(virtq__push(&f->q, QSIZE, 0), -VIRTQ_EUSED_ID);
	assert_int_equal(used(f)->idx, 0);
	assert_int_equal(virtq__push(&f->q, 0, 0), 0); /* still usable */
	assert_int_equal(used(f)->idx, 1);
}

/* One malformed head descriptor (index 0) and the error it must give. */
static void bad_desc(void **state, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next,
		     int err)
{
	struct fake *f = *state;
	set_desc(f, DESC_GPA, 0, addr, len, flags, next);
	publish(f, 0);
	assert_broken(f, err);
}

static void buffer_below_ram(void **state)
{
	bad_desc(state, FAKE_BASE - 8, 16, 0, 0, -VIRTQ_EBUF_RANGE);
}

static void buffer_running_past_ram(void **state)
{
	bad_desc(state, FAKE_BASE + FAKE_BYTES - 8, 9, 0, 0, -VIRTQ_EBUF_RANGE);
}

static void buffer_wrapping(void **state)
{
	bad_desc(state, UINT64_MAX - 10, 100, 0, 0, -VIRTQ_EBUF_WRAP);
}

static void buffer_empty(void **state)
{
	bad_desc(state, BUF_GPA, 0, 0, 0, -VIRTQ_EBUF_ZERO);
}

static void next_out_of_range(void **state)
{
	bad_desc(state, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, QSIZE, -VIRTQ_ENEXT_RANGE);
}

static void self_loop(void **state)
{
	bad_desc(state, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0, -VIRTQ_ELOOP);
}

static void loop_through_the_table(void **state)
{
	/* 0 → 1 → 2 → 3 → 1: every descriptor once, then longer than the queue */
	struct fake *f = *state;
	for (uint16_t i = 0; i < QSIZE; i++)
		set_desc(f, DESC_GPA, i, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, i == QSIZE - 1 ? 1 : i + 1);
	publish(f, 0);
	assert_broken(f, -VIRTQ_ELOOP);
}

static void chain_of_the_whole_queue_is_fine(void **state)
{
	struct fake *f = *state;
	for (uint16_t i = 0; i < QSIZE; i++)
		set_desc(f, DESC_GPA, i, BUF_GPA, 8,
			 i == QSIZE - 1 ? 0 : VIRTQ_DESC_F_NEXT, i + 1);
	publish(f, 0);
	assert_int_equal(virtq__pop(&f->q, &f->c), 1);
	assert_int_equal(f->c.nr_segs, QSIZE);
}

static void more_segments_than_the_device_takes(void **state)
{
	struct fake *f = *state;
	f->c.max_segs = 1;
	set_desc(f, DESC_GPA, 1, BUF_GPA, 8, 0, 0);
	bad_desc(state, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1, -VIRTQ_ESEGS);
}

static void head_out_of_range(void **state)
{
	struct fake *f = *state;
	publish(f, QSIZE);
	assert_broken(f, -VIRTQ_EHEAD_RANGE);
}

static void avail_idx_jumps_too_far(void **state)
{
	struct fake *f = *state;
	set_desc(f, DESC_GPA, 0, BUF_GPA, 8, 0, 0);
	avail(f)->idx = QSIZE; /* a full ring is still believable */
	assert_int_equal(virtq__pop(&f->q, &f->c), 1);
	avail(f)->idx = 1 + QSIZE + 1;
	assert_broken(f, -VIRTQ_EAVAIL_IDX);
}

static void avail_idx_going_back(void **state)
{
	struct fake *f = *state;
	avail(f)->idx = 65535;
	assert_broken(f, -VIRTQ_EAVAIL_IDX);
}

static void writable_then_readable(void **state)
{
	struct fake *f = *state;
	set_desc(f, DESC_GPA, 1, BUF_GPA + 0x100, 8, 0, 0);
	bad_desc(state, BUF_GPA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1, -VIRTQ_EORDER);
}

static void total_length_overflow(void **state)
{
	struct fake *f = *state;
	set_desc(f, DESC_GPA, 1, HUGE_BASE + 0x100000000ull, 1, 0, 0);
	bad_desc(state, HUGE_BASE, UINT32_MAX, VIRTQ_DESC_F_NEXT, 1, -VIRTQ_ETOTAL_LEN);
}

static void indirect_without_the_feature(void **state)
{
	teardown(state);
	assert_int_equal(setup_features(state, 1ull << VIRTIO_F_VERSION_1), 0);
	struct fake *f = *state;
	set_desc(f, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	bad_desc(state, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0, -VIRTQ_EINDIRECT_FEATURE);
}

static void indirect_with_next(void **state)
{
	struct fake *f = *state;
	set_desc(f, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	bad_desc(state, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1,
		 -VIRTQ_EINDIRECT_NEXT);
}

static void indirect_nested(void **state)
{
	struct fake *f = *state;
	set_desc(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, TABLE_GPA, 1, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
	bad_desc(state, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0, -VIRTQ_EINDIRECT_NESTED);
}

static void indirect_length_not_a_multiple_of_16(void **state)
{
	bad_desc(state, TABLE_GPA, 24, VIRTQ_DESC_F_INDIRECT, 0, -VIRTQ_EINDIRECT_LEN);
}

static void indirect_length_zero(void **state)
{
	bad_desc(state, TABLE_GPA, 0, VIRTQ_DESC_F_INDIRECT, 0, -VIRTQ_EINDIRECT_LEN);
}

static void indirect_longer_than_the_queue(void **state)
{
	bad_desc(state, TABLE_GPA, (QSIZE + 1) * 16, VIRTQ_DESC_F_INDIRECT, 0,
		 -VIRTQ_EINDIRECT_SIZE);
}

static void indirect_table_outside_ram(void **state)
{
	bad_desc(state, FAKE_BASE + FAKE_BYTES - 16, 32, VIRTQ_DESC_F_INDIRECT, 0,
		 -VIRTQ_EINDIRECT_RANGE);
}

static void indirect_table_wrapping(void **state)
{
	bad_desc(state, UINT64_MAX - 15, 32, VIRTQ_DESC_F_INDIRECT, 0, -VIRTQ_EINDIRECT_RANGE);
}

static void indirect_loop(void **state)
{
	struct fake *f = *state;
	set_desc(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, TABLE_GPA, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	bad_desc(state, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0, -VIRTQ_ELOOP);
}

static void indirect_next_out_of_its_table(void **state)
{
	struct fake *f = *state;
	/* index 2 is inside the queue but outside this 2-entry table */
	set_desc(f, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	bad_desc(state, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0, -VIRTQ_ENEXT_RANGE);
}

static void indirect_buffer_outside_ram(void **state)
{
	struct fake *f = *state;
	set_desc(f, TABLE_GPA, 0, 0x1000, 8, 0, 0);
	bad_desc(state, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0, -VIRTQ_EBUF_RANGE);
}

static void every_error_has_its_own_line(void **state)
{
	(void)state;
	for (int i = 0; i < VIRTQ_ENR_ERRORS; i++) {
		assert_non_null(virtq__strerror(-i));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(virtq__strerror(-i), virtq__strerror(-j));
	}
	assert_string_equal(virtq__strerror(-VIRTQ_ENR_ERRORS), "unknown virtqueue error");
	assert_string_equal(virtq__strerror(5), "unknown virtqueue error");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(init_checks_the_configuration),
		T(single_buffer_round_trip),
		T(chain_of_readable_then_writable),
		T(indirect_table),
		T(ring_index_wraps_at_65535),
		cmocka_unit_test_setup_teardown(event_idx_notifications, setup_event_idx, teardown),
		T(push_rejects_device_bugs),
		T(buffer_below_ram),
		T(buffer_running_past_ram),
		T(buffer_wrapping),
		T(buffer_empty),
		T(next_out_of_range),
		T(self_loop),
		T(loop_through_the_table),
		T(chain_of_the_whole_queue_is_fine),
		T(more_segments_than_the_device_takes),
		T(head_out_of_range),
		T(avail_idx_jumps_too_far),
		T(avail_idx_going_back),
		T(writable_then_readable),
		T(total_length_overflow),
		T(indirect_without_the_feature),
		T(indirect_with_next),
		T(indirect_nested),
		T(indirect_length_not_a_multiple_of_16),
		T(indirect_length_zero),
		T(indirect_longer_than_the_queue),
		T(indirect_table_outside_ram),
		T(indirect_table_wrapping),
		T(indirect_loop),
		T(indirect_next_out_of_its_table),
		T(indirect_buffer_outside_ram),
		cmocka_unit_test(every_error_has_its_own_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
