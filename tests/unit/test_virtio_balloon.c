/*
 * Unit tests: the virtio-balloon device (balloon/virtio_balloon.c) on the
 * virtio-mmio transport, driven by a fake driver that does what Linux's
 * virtio_mmio + virtio_balloon do, through the register callbacks only:
 * reset, ACKNOWLEDGE, DRIVER, feature negotiation, FEATURES_OK read back,
 * queue setup, DRIVER_OK, buffers and notifications. Guest RAM is a
 * malloc'ed 4 MiB at gpa 0 (1024 frames); the balloon core runs over a real
 * p2m with a discard() that records its ranges.
 */
#include "cmocka_all.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "balloon/virtio_balloon.h"
#include "pvops/l1vmm_abi.h"

#define RAM_BYTES 0x400000ull
#define NR_FRAMES (RAM_BYTES >> 12)
#define QSIZE 16
#define RING_GPA(q) (0x10000ull + (q) * 0x4000ull) /* desc; +0x1000 avail; +0x2000 used */
#define BUF_GPA(q) (0x40000ull + (q) * 0x4000ull)
#define ALL_FEATURES (1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_BALLOON_F_STATS_VQ | \
		      1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM |                        \
		      1ull << VIRTIO_BALLOON_F_PAGE_REPORTING)

struct range {
	uint64_t gfn, n;
};

struct fake {
	uint8_t *ram;
	struct virtq_mem mem;
	struct p2m p2m;
	struct balloon b;
	struct virtio_balloon *d;
	struct virtio_mmio *t;
	bool irq;
	unsigned irq_changes;
	struct range discard[64];
	unsigned nr_discard;
	/* the driver's side of each queue */
	uint16_t next_desc[4], avail_idx[4];
	unsigned nr_queues;
	bool refill; /* a greedy driver: each discard adds another report buffer */
};

static uint16_t add_buf(struct fake *f, unsigned q, uint64_t gpa, uint32_t len, uint16_t flags);

static void *ram_ptr(void *ctx, uint64_t gpa, uint64_t len)
{
	struct fake *f = ctx;
	if (gpa >= RAM_BYTES || len > RAM_BYTES - gpa)
		return NULL;
	return f->ram + gpa;
}

static int discard(void *ctx, uint64_t gfn, uint64_t n)
{
	struct fake *f = ctx;
	if (f->nr_discard < 64)
		f->discard[f->nr_discard++] = (struct range){ gfn, n };
	memset(f->ram + (gfn << 12), 0, n << 12);
	if (f->refill)
		add_buf(f, 2, gfn << 12, (uint32_t)(n << 12), VIRTQ_DESC_F_WRITE);
	return 0;
}

static void set_irq(void *ctx, bool level)
{
	struct fake *f = ctx;
	f->irq = level;
	f->irq_changes++;
}

/* --- the fake driver: registers --- */

static uint32_t rd(struct fake *f, uint64_t off)
{
	uint32_t v;
	virtio_mmio__read(f->t, off, &v, 4);
	return v;
}

static void wr(struct fake *f, uint64_t off, uint32_t v)
{
	virtio_mmio__write(f->t, off, &v, 4);
}

static uint32_t cfg32(struct fake *f, uint64_t off)
{
	uint32_t v;
	virtio_mmio__read(f->t, VIRTIO_MMIO_CONFIG + off, &v, 4);
	return v;
}

static uint64_t device_features(struct fake *f)
{
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint64_t hi = rd(f, VIRTIO_MMIO_DEVICE_FEATURES);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	return hi << 32 | rd(f, VIRTIO_MMIO_DEVICE_FEATURES);
}

/* Reset, ACK, DRIVER, features; true if the device kept FEATURES_OK. */
static bool negotiate(struct fake *f, uint64_t features)
{
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr(f, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK;
}

static void setup_queue(struct fake *f, unsigned q)
{
	uint64_t ring = RING_GPA(q);
	memset(f->ram + ring, 0, 0x4000);
	f->next_desc[q] = f->avail_idx[q] = 0;
	wr(f, VIRTIO_MMIO_QUEUE_SEL, q);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_BALLOON_QUEUE_SIZE);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)ring);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)(ring + 0x1000));
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)(ring + 0x2000));
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
}

/* Linux's order: negotiate, queues (and the stats buffer), DRIVER_OK. */
static void driver_init(struct fake *f, uint64_t features)
{
	assert_true(negotiate(f, features));
	f->nr_queues = 2 + !!(features & 1ull << VIRTIO_BALLOON_F_STATS_VQ) +
		       !!(features & 1ull << VIRTIO_BALLOON_F_PAGE_REPORTING);
	for (unsigned q = 0; q < f->nr_queues; q++)
		setup_queue(f, q);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, f->nr_queues);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0); /* no such queue */
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0xf);
}

/* --- the fake driver: rings --- */

static struct virtq_desc *desc(struct fake *f, unsigned q, unsigned i)
{
	return (struct virtq_desc *)(f->ram + RING_GPA(q)) + i;
}

static struct virtq_avail *avail(struct fake *f, unsigned q)
{
	return (struct virtq_avail *)(f->ram + RING_GPA(q) + 0x1000);
}

static struct virtq_used *used(struct fake *f, unsigned q)
{
	return (struct virtq_used *)(f->ram + RING_GPA(q) + 0x2000);
}

/* Add a one-descriptor chain; returns its head. */
static uint16_t add_buf(struct fake *f, unsigned q, uint64_t gpa, uint32_t len, uint16_t flags)
{
	uint16_t head = f->next_desc[q]++ % QSIZE;
	*desc(f, q, head) = (struct virtq_desc){ .addr = gpa, .len = len, .flags = flags };
	avail(f, q)->ring[f->avail_idx[q] % QSIZE] = head;
	f->avail_idx[q]++;
	__atomic_store_n(&avail(f, q)->idx, f->avail_idx[q], __ATOMIC_RELEASE);
	return head;
}

static void kick(struct fake *f, unsigned q)
{
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

/* A PFN buffer on queue q, kicked. */
static void send_pfns(struct fake *f, unsigned q, const uint32_t *pfn, unsigned n)
{
	memcpy(f->ram + BUF_GPA(q), pfn, n * 4);
	add_buf(f, q, BUF_GPA(q), n * 4, 0);
	kick(f, q);
}

static void ack_all(struct fake *f)
{
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, rd(f, VIRTIO_MMIO_INTERRUPT_STATUS));
	assert_false(f->irq);
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	f->ram = calloc(1, RAM_BYTES);
	f->mem = (struct virtq_mem){ .gpa_ptr = ram_ptr, .ctx = f };
	assert_int_equal(p2m__init(&f->p2m, NR_FRAMES), 0);
	p2m__move(&f->p2m, 0, NR_FRAMES, P2M_ANY, P2M_PRIVATE, NULL, NULL);
	struct balloon_mem bm = { .p2m = &f->p2m, .ctx = f, .discard = discard };
	assert_int_equal(balloon__init(&f->b, &bm), 0);
	f->d = virtio_balloon__create(&f->b, &f->mem, set_irq, f);
	assert_non_null(f->d);
	f->t = virtio_balloon__transport(f->d);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;
	virtio_balloon__destroy(f->d);
	balloon__destroy(&f->b);
	p2m__destroy(&f->p2m);
	free(f->ram);
	free(f);
	return 0;
}

static struct virtio_balloon_state dstate(struct fake *f)
{
	struct virtio_balloon_state s;
	virtio_balloon__state(f->d, &s);
	return s;
}

static struct balloon_snapshot core(struct fake *f)
{
	struct balloon_snapshot s;
	balloon__snapshot(&f->b, &s);
	return s;
}

/* --- tests --- */

static void identity_and_offered_features(void **state)
{
	struct fake *f = *state;
	assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
	assert_int_equal(rd(f, VIRTIO_MMIO_VERSION_REG), 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BALLOON);
	uint64_t feat = device_features(f);
	assert_true(feat & 1ull << VIRTIO_F_VERSION_1);
	assert_true(feat & 1ull << VIRTIO_BALLOON_F_STATS_VQ);
	assert_true(feat & 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
	assert_true(feat & 1ull << VIRTIO_BALLOON_F_PAGE_REPORTING);
	assert_true(feat & 1ull << VIRTIO_RING_F_INDIRECT_DESC);
	assert_true(feat & 1ull << VIRTIO_RING_F_EVENT_IDX);
	assert_false(feat & 1ull << VIRTIO_BALLOON_F_MUST_TELL_HOST);
	assert_false(feat & 1ull << VIRTIO_BALLOON_F_FREE_PAGE_HINT);
	assert_false(feat & 1ull << VIRTIO_BALLOON_F_PAGE_POISON);

	driver_init(f, ALL_FEATURES);
	struct virtio_balloon_state s = dstate(f);
	assert_int_equal(s.t.driver_features, ALL_FEATURES);
	assert_int_equal(s.t.queues_ready, 0xf);
	assert_string_equal(core(f).device, "virtio");
}

static void inflate_then_deflate(void **state)
{
	struct fake *f = *state;
	driver_init(f, ALL_FEATURES);
	/* 0x50 is below the boot area (refused by the core), 5000 is not RAM */
	uint32_t in[] = { 0x50, 302, 5000, 300, 301, 500 };
	send_pfns(f, VIRTIO_BALLOON_Q_INFLATE, in, 6);
	assert_int_equal(used(f, 0)->idx, 1);
	assert_int_equal(used(f, 0)->ring[0].id, 0);
	assert_int_equal(used(f, 0)->ring[0].len, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	assert_true(f->irq);
	ack_all(f);

	for (uint64_t g = 300; g <= 302; g++)
		assert_int_equal(p2m__get(&f->p2m, g), P2M_BALLOONED);
	assert_int_equal(p2m__get(&f->p2m, 500), P2M_BALLOONED);
	assert_int_equal(p2m__get(&f->p2m, 0x50), P2M_PRIVATE);
	/* sorted and coalesced by the core; the refused extent did not stop the rest */
	assert_int_equal(f->nr_discard, 2);
	assert_int_equal(f->discard[0].gfn, 300);
	assert_int_equal(f->discard[0].n, 3);
	assert_int_equal(f->discard[1].gfn, 500);
	assert_int_equal(f->discard[1].n, 1);
	struct balloon_snapshot c = core(f);
	assert_int_equal(c.actual_frames, 4);
	assert_int_equal(c.c.refused_extents, 1);
	struct virtio_balloon_state s = dstate(f);
	assert_int_equal(s.c.inflate_bufs, 1);
	assert_int_equal(s.c.pfns_rejected, 1);

	/* the driver tells its count */
	wr(f, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_ACTUAL, 4);
	assert_int_equal(cfg32(f, VIRTIO_BALLOON_CFG_ACTUAL), 4);
	assert_int_equal(dstate(f).actual, 4);

	uint32_t out[] = { 301, 300, 302 /* twice */, 302 };
	send_pfns(f, VIRTIO_BALLOON_Q_DEFLATE, out, 4);
	assert_int_equal(used(f, 1)->idx, 1);
	assert_int_equal(p2m__get(&f->p2m, 300), P2M_UNPOPULATED);
	assert_int_equal(p2m__get(&f->p2m, 302), P2M_UNPOPULATED);
	assert_int_equal(p2m__get(&f->p2m, 500), P2M_BALLOONED);
	c = core(f);
	assert_int_equal(c.actual_frames, 1);
	assert_int_equal(c.c.deflated_frames, 3);
	assert_int_equal(c.c.refused_extents, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

static void many_pfns_in_one_buffer(void **state)
{
	struct fake *f = *state;
	driver_init(f, 1ull << VIRTIO_F_VERSION_1);
	/* 700 frames: two slices of the core's 512 */
	static uint32_t in[700];
	for (unsigned i = 0; i < 700; i++)
		in[i] = 256 + i;
	send_pfns(f, VIRTIO_BALLOON_Q_INFLATE, in, 700);
	assert_int_equal(used(f, 0)->idx, 1);
	assert_int_equal(core(f).actual_frames, 700);
	assert_int_equal(p2m__get(&f->p2m, 955), P2M_BALLOONED);

	/* more than VIRTIO_BALLOON_MAX_PFNS: refused as a whole, returned */
	add_buf(f, 0, 0x100000, (VIRTIO_BALLOON_MAX_PFNS + 1) * 4, 0);
	kick(f, 0);
	assert_int_equal(used(f, 0)->idx, 2);
	assert_int_equal(core(f).c.refused_requests, 1);
	assert_int_equal(dstate(f).c.malformed_bufs, 1);
}

static void malformed_pfn_buffer_is_refused_not_fatal(void **state)
{
	struct fake *f = *state;
	driver_init(f, ALL_FEATURES);
	uint32_t in[] = { 300, 301 };
	memcpy(f->ram + BUF_GPA(0), in, sizeof(in));
	add_buf(f, 0, BUF_GPA(0), 6, 0); /* not a whole number of PFNs */
	kick(f, 0);
	add_buf(f, 0, BUF_GPA(0), 8, VIRTQ_DESC_F_WRITE); /* device-writable */
	kick(f, 0);
	assert_int_equal(used(f, 0)->idx, 2);
	struct balloon_snapshot c = core(f);
	assert_int_equal(c.c.refused_requests, 2);
	assert_int_equal(c.actual_frames, 0);
	assert_non_null(strstr(c.last_refusal, "writable"));
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0xf);
}

static void put_stat(uint8_t *p, uint16_t tag, uint64_t val)
{
	memcpy(p, &tag, 2);
	memcpy(p + 2, &val, 8);
}

static void stats_buffer_held_until_requested(void **state)
{
	struct fake *f = *state;
	assert_false(virtio_balloon__request_stats(f->d)); /* no driver yet */
	assert_true(negotiate(f, ALL_FEATURES));
	for (unsigned q = 0; q < 4; q++)
		setup_queue(f, q);
	/* Linux adds and kicks the stats buffer before DRIVER_OK */
	uint8_t *buf = f->ram + BUF_GPA(2);
	put_stat(buf, L1_BSTAT_MEMFREE, 1000);
	put_stat(buf + 10, L1_BSTAT_MEMTOT, 4096);
	add_buf(f, 2, BUF_GPA(2), 20, 0);
	kick(f, 2);
	wr(f, VIRTIO_MMIO_STATUS, 0xf);

	assert_int_equal(used(f, 2)->idx, 0); /* held */
	assert_false(f->irq);
	struct balloon_snapshot c = core(f);
	assert_int_equal(c.gs.reports, 1);
	assert_int_equal(c.gs.present, 1u << L1_BSTAT_MEMFREE | 1u << L1_BSTAT_MEMTOT);
	assert_int_equal(c.gs.val[L1_BSTAT_MEMFREE], 1000);
	assert_true(dstate(f).stats_held);

	assert_true(virtio_balloon__request_stats(f->d));
	assert_int_equal(used(f, 2)->idx, 1);
	assert_int_equal(used(f, 2)->ring[0].len, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	assert_true(f->irq);
	assert_false(virtio_balloon__request_stats(f->d)); /* nothing held now */
	ack_all(f);

	/* the driver refills and re-adds */
	put_stat(buf, L1_BSTAT_MEMFREE, 800);
	add_buf(f, 2, BUF_GPA(2), 10, 0);
	kick(f, 2);
	c = core(f);
	assert_int_equal(c.gs.reports, 2);
	assert_int_equal(c.gs.val[L1_BSTAT_MEMFREE], 800);
	assert_int_equal(used(f, 2)->idx, 1);
	assert_int_equal(dstate(f).c.stats_requests, 1);

	/* a reset drops the held buffer: nothing to return afterwards */
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_false(dstate(f).stats_held);
	assert_false(virtio_balloon__request_stats(f->d));
}

static void free_page_reporting(void **state)
{
	struct fake *f = *state;
	/* without STATS_VQ the reporting queue is index 2 */
	driver_init(f, 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_BALLOON_F_PAGE_REPORTING);
	memset(f->ram + 0x200000, 0xaa, 0x8000);
	/* [0x201800, 0x204800): whole frames 0x202 and 0x203 only */
	add_buf(f, 2, 0x201800, 0x3000, VIRTQ_DESC_F_WRITE);
	kick(f, 2);
	assert_int_equal(used(f, 2)->idx, 1);
	assert_int_equal(used(f, 2)->ring[0].len, 0);
	assert_int_equal(f->nr_discard, 1);
	assert_int_equal(f->discard[0].gfn, 0x202);
	assert_int_equal(f->discard[0].n, 2);
	assert_int_equal(core(f).c.reported_frames, 2);
	assert_int_equal(p2m__get(&f->p2m, 0x202), P2M_UNPOPULATED);
	assert_int_equal(p2m__get(&f->p2m, 0x201), P2M_PRIVATE);
	assert_int_equal(f->ram[0x201fff], 0xaa); /* the partial frame kept */
	assert_int_equal(f->ram[0x202000], 0);
	assert_int_equal(dstate(f).c.reported_ranges, 1);
	assert_true(f->irq);

	/* a range the core will not take (the boot area) is refused, buffer returned */
	add_buf(f, 2, 0x1000, 0x2000, VIRTQ_DESC_F_WRITE);
	kick(f, 2);
	assert_int_equal(used(f, 2)->idx, 2);
	assert_int_equal(core(f).c.reported_frames, 2);
	assert_int_equal(dstate(f).c.report_bufs, 2);
}

static void a_greedy_driver_cannot_hold_the_vcpu(void **state)
{
	struct fake *f = *state;
	driver_init(f, 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_BALLOON_F_PAGE_REPORTING);
	f->refill = true;
	add_buf(f, 2, 0x300000, 0x1000, VIRTQ_DESC_F_WRITE);
	kick(f, 2);
	assert_int_equal(used(f, 2)->idx, VIRTIO_BALLOON_BUDGET);
	assert_int_equal(dstate(f).c.budget_exhausted, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0xf);
	assert_true(f->irq);
	/* what is left is served on the next notification */
	f->refill = false;
	kick(f, 2);
	assert_int_equal(used(f, 2)->idx, VIRTIO_BALLOON_BUDGET + 1);
	assert_int_equal(core(f).c.reported_frames, VIRTIO_BALLOON_BUDGET + 1);
}

static void reporting_after_stats_is_queue_3(void **state)
{
	struct fake *f = *state;
	driver_init(f, ALL_FEATURES);
	add_buf(f, 3, 0x300000, 0x1000, VIRTQ_DESC_F_WRITE);
	kick(f, 3);
	assert_int_equal(used(f, 3)->idx, 1);
	assert_int_equal(core(f).c.reported_frames, 1);
	assert_false(dstate(f).stats_held);
}

static void target_change_reaches_config(void **state)
{
	struct fake *f = *state;
	driver_init(f, ALL_FEATURES);
	assert_int_equal(cfg32(f, VIRTIO_BALLOON_CFG_NUM_PAGES), 0);
	uint32_t gen = rd(f, VIRTIO_MMIO_CONFIG_GENERATION);
	balloon__set_target(&f->b, 100);
	assert_int_equal(cfg32(f, VIRTIO_BALLOON_CFG_NUM_PAGES), 100);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_true(f->irq);
	ack_all(f);
	/* read-only to the driver */
	wr(f, VIRTIO_MMIO_CONFIG + VIRTIO_BALLOON_CFG_NUM_PAGES, 7);
	assert_int_equal(cfg32(f, VIRTIO_BALLOON_CFG_NUM_PAGES), 100);
	/* 1- and 2-byte config reads, and the fields that read 0 */
	uint8_t b1;
	virtio_mmio__read(f->t, VIRTIO_MMIO_CONFIG, &b1, 1);
	assert_int_equal(b1, 100);
	assert_int_equal(cfg32(f, VIRTIO_BALLOON_CFG_HINT_CMD_ID), 0);
	assert_int_equal(cfg32(f, VIRTIO_BALLOON_CFG_POISON), 0);
	/* clamped to the VM's frames */
	balloon__set_target(&f->b, 1ull << 40);
	assert_int_equal(cfg32(f, VIRTIO_BALLOON_CFG_NUM_PAGES), NR_FRAMES);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), gen + 2);
}

static void feature_negotiation_refusals(void **state)
{
	struct fake *f = *state;
	/* a legacy driver */
	assert_false(negotiate(f, 1ull << VIRTIO_BALLOON_F_STATS_VQ));
	/* a bit not offered */
	assert_false(negotiate(f, 1ull << VIRTIO_F_VERSION_1 |
					  1ull << VIRTIO_BALLOON_F_FREE_PAGE_HINT));
	/* DRIVER_OK without FEATURES_OK does not stick */
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	assert_int_equal(dstate(f).t.c.features_refused, 3);
	assert_int_equal(dstate(f).t.driver_features, 0);

	/* accepted features are frozen after FEATURES_OK */
	assert_true(negotiate(f, 1ull << VIRTIO_F_VERSION_1));
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_BALLOON_F_STATS_VQ);
	assert_int_equal(dstate(f).t.driver_features, 1ull << VIRTIO_F_VERSION_1);
	/* and define the queues: no stats queue, so queue 2 does not exist */
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
}

static void broken_queue_needs_reset(void **state)
{
	struct fake *f = *state;
	driver_init(f, ALL_FEATURES);
	add_buf(f, 0, RAM_BYTES - 4, 8, 0); /* runs off the end of RAM */
	kick(f, 0);
	uint32_t st = rd(f, VIRTIO_MMIO_STATUS);
	assert_int_equal(st, 0xf | VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_true(f->irq);
	struct virtio_balloon_state s = dstate(f);
	assert_int_equal(s.t.c.needs_reset, 1);
	assert_non_null(strstr(s.t.needs_reset_reason, "not inside guest RAM"));
	char text[1024];
	assert_true(virtio_balloon__show(f->d, text, sizeof(text)) > 0);
	assert_non_null(strstr(text, "needs_reset yes"));
	ack_all(f);

	/* further notifications are ignored, even of healthy queues */
	uint32_t in[] = { 300 };
	send_pfns(f, VIRTIO_BALLOON_Q_DEFLATE, in, 1);
	assert_int_equal(used(f, 1)->idx, 0);
	assert_int_equal(dstate(f).t.c.notifies_ignored, 1);
	assert_false(virtio_balloon__request_stats(f->d));
	/* the driver cannot clear the bit itself */
	wr(f, VIRTIO_MMIO_STATUS, 0xf);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);

	/* reset recovers */
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_false(f->irq);
	driver_init(f, ALL_FEATURES);
	send_pfns(f, VIRTIO_BALLOON_Q_INFLATE, in, 1);
	assert_int_equal(used(f, 0)->idx, 1);
	assert_int_equal(p2m__get(&f->p2m, 300), P2M_BALLOONED);
	assert_int_equal(dstate(f).t.c.resets >= 2, 1);
}

static void descriptor_loop_needs_reset(void **state)
{
	struct fake *f = *state;
	driver_init(f, ALL_FEATURES);
	*desc(f, 1, 0) = (struct virtq_desc){ .addr = BUF_GPA(1), .len = 4,
					      .flags = VIRTQ_DESC_F_NEXT, .next = 1 };
	*desc(f, 1, 1) = (struct virtq_desc){ .addr = BUF_GPA(1), .len = 4,
					      .flags = VIRTQ_DESC_F_NEXT, .next = 0 };
	avail(f, 1)->ring[0] = 0;
	avail(f, 1)->idx = 1;
	kick(f, 1);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_non_null(strstr(dstate(f).t.needs_reset_reason, "loop"));
	assert_int_equal(used(f, 1)->idx, 0);
}

static void bad_ring_address_needs_reset(void **state)
{
	struct fake *f = *state;
	assert_true(negotiate(f, ALL_FEATURES));
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 1); /* 4 GiB: not RAM */
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_non_null(strstr(dstate(f).t.needs_reset_reason, "queue 0 set up"));
	/* a queue size above QueueNumMax */
	assert_true(negotiate(f, ALL_FEATURES));
	wr(f, VIRTIO_MMIO_QUEUE_NUM, 2 * VIRTIO_BALLOON_QUEUE_SIZE);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, 0x20000);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, 0x30000);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
}

static void odd_register_accesses_are_harmless(void **state)
{
	struct fake *f = *state;
	driver_init(f, ALL_FEATURES);
	uint64_t bad0 = dstate(f).t.c.bad_accesses;
	uint8_t b = 0xff;
	virtio_mmio__read(f->t, VIRTIO_MMIO_MAGIC_VALUE, &b, 1);
	assert_int_equal(b, 0);
	uint16_t h = 0;
	virtio_mmio__write(f->t, VIRTIO_MMIO_STATUS, &h, 2); /* would be a reset */
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0xf);
	uint64_t q = 0;
	virtio_mmio__write(f->t, VIRTIO_MMIO_QUEUE_NOTIFY, &q, 8);
	uint32_t v = 0;
	virtio_mmio__write(f->t, VIRTIO_MMIO_STATUS + 1, &v, 4); /* misaligned */
	wr(f, 0x0f0, 1);                                         /* no register */
	wr(f, VIRTIO_MMIO_MAGIC_VALUE, 0);                        /* read-only */
	assert_int_equal(rd(f, 0x0f0), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0xf);
	assert_int_equal(dstate(f).t.c.bad_accesses, bad0 + 7);
	assert_int_equal(dstate(f).t.c.notifies, 0);

	/* queue registers of a ready queue are not writable */
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x100000);
	uint32_t in[] = { 300 };
	send_pfns(f, 0, in, 1);
	assert_int_equal(used(f, 0)->idx, 1);
	/* notifying a queue that does not exist */
	kick(f, 7);
	kick(f, 0x12345);
	assert_int_equal(dstate(f).t.c.notifies_ignored, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0xf);
}

static void queue_stop_and_restart(void **state)
{
	struct fake *f = *state;
	driver_init(f, ALL_FEATURES);
	add_buf(f, 2, BUF_GPA(2), 10, 0);
	kick(f, 2);
	assert_true(dstate(f).stats_held);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 2);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_false(dstate(f).stats_held);
	kick(f, 2);
	assert_int_equal(dstate(f).t.c.notifies_ignored, 1);
	setup_queue(f, 2);
	add_buf(f, 2, BUF_GPA(2), 10, 0);
	kick(f, 2);
	assert_true(virtio_balloon__request_stats(f->d));
	assert_int_equal(used(f, 2)->idx, 1);
}

static void *set_targets(void *arg)
{
	struct fake *f = arg;
	for (unsigned i = 0; i < 3000; i++)
		balloon__set_target(&f->b, i % 700);
	return NULL;
}

static void *request_stats(void *arg)
{
	struct fake *f = arg;
	for (unsigned i = 0; i < 3000; i++)
		virtio_balloon__request_stats(f->d);
	return NULL;
}

/* vCPU work, target changes and stats requests at once: no deadlock, config follows. */
static void concurrent_host_and_guest(void **state)
{
	struct fake *f = *state;
	driver_init(f, ALL_FEATURES);
	add_buf(f, 2, BUF_GPA(2), 10, 0);
	kick(f, 2);
	pthread_t th[2];
	pthread_create(&th[0], NULL, set_targets, f);
	pthread_create(&th[1], NULL, request_stats, f);
	for (uint32_t i = 0; i < 300; i++) {
		uint32_t pfn = 400 + i % 16;
		send_pfns(f, VIRTIO_BALLOON_Q_INFLATE, &pfn, 1);
		send_pfns(f, VIRTIO_BALLOON_Q_DEFLATE, &pfn, 1);
		wr(f, VIRTIO_MMIO_INTERRUPT_ACK, rd(f, VIRTIO_MMIO_INTERRUPT_STATUS));
	}
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	assert_int_equal(used(f, 0)->idx, 300);
	assert_int_equal(used(f, 1)->idx, 300);
	assert_int_equal(core(f).actual_frames, 0);
	assert_int_equal(cfg32(f, VIRTIO_BALLOON_CFG_NUM_PAGES), core(f).target_frames);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0xf);
}

/* --- the core with a mode that takes frames away (shadow: not present) --- */

struct hooks {
	unsigned takes, gives, discards, fail_give_at;
	uint64_t taken, given;
};

static int h_take(void *ctx, uint64_t gfn, uint64_t n)
{
	struct hooks *h = ctx;
	(void)gfn;
	h->takes++;
	h->taken += n;
	return 0;
}

static int h_give(void *ctx, uint64_t gfn, uint64_t n)
{
	struct hooks *h = ctx;
	(void)gfn;
	if (++h->gives == h->fail_give_at)
		return -EIO;
	h->given += n;
	return 0;
}

static int h_discard(void *ctx, uint64_t gfn, uint64_t n)
{
	struct hooks *h = ctx;
	(void)gfn;
	(void)n;
	h->discards++;
	return 0;
}

/* Inflate takes (in runs), deflate gives back, a failed deflate takes its
 * done extents again, free page reporting only discards. */
static void core_takes_and_gives_back(void **state)
{
	(void)state;
	const uint64_t B = L1_BALLOON_MIN_GFN; /* below it: the boot area */
	struct p2m p;
	struct balloon b;
	struct hooks h = { 0 };
	assert_int_equal(p2m__init(&p, B + 64), 0);
	assert_int_equal(p2m__move(&p, 0, B + 64, P2M_ANY, P2M_PRIVATE, NULL, NULL), 0);
	struct balloon_mem bm = { .p2m = &p, .ctx = &h, .discard = h_discard, .take = h_take,
				  .give_back = h_give };
	assert_int_equal(balloon__init(&b, &bm), 0);
	uint64_t g[] = { B + 10, B + 11, B + 20 };
	assert_int_equal(balloon__inflate(&b, g, 3, 0), 3);
	assert_int_equal(h.takes, 2); /* runs {10, 11} and {20} */
	assert_int_equal(h.taken, 3);
	assert_int_equal(h.discards, 0);
	assert_int_equal(p2m__count(&p, P2M_BALLOONED), 3);
	/* the second run's give-back fails: the first run's extents are taken again */
	h.fail_give_at = 2;
	assert_true(balloon__deflate(&b, g, 3, 0) < 0);
	assert_int_equal(p2m__count(&p, P2M_BALLOONED), 3);
	assert_int_equal(h.given, 2);
	assert_int_equal(h.takes, 4); /* extents 10 and 11, one by one */
	assert_int_equal(h.taken, 5);
	h.fail_give_at = 0;
	assert_int_equal(balloon__deflate(&b, g, 3, 0), 3);
	assert_int_equal(p2m__count(&p, P2M_BALLOONED), 0);
	assert_int_equal(p2m__get(&p, B + 20), P2M_UNPOPULATED);
	assert_int_equal(h.given, 5);
	/* reported free pages stay the guest's: discarded, not taken */
	assert_int_equal(balloon__report_free(&b, B + 30, 2), 0);
	assert_int_equal(h.discards, 1);
	assert_int_equal(h.takes, 4);
	balloon__destroy(&b);
	p2m__destroy(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(identity_and_offered_features, setup, teardown),
		cmocka_unit_test_setup_teardown(inflate_then_deflate, setup, teardown),
		cmocka_unit_test_setup_teardown(many_pfns_in_one_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_pfn_buffer_is_refused_not_fatal, setup,
						teardown),
		cmocka_unit_test_setup_teardown(stats_buffer_held_until_requested, setup, teardown),
		cmocka_unit_test_setup_teardown(free_page_reporting, setup, teardown),
		cmocka_unit_test_setup_teardown(a_greedy_driver_cannot_hold_the_vcpu, setup, teardown),
		cmocka_unit_test_setup_teardown(reporting_after_stats_is_queue_3, setup, teardown),
		cmocka_unit_test_setup_teardown(target_change_reaches_config, setup, teardown),
		cmocka_unit_test_setup_teardown(feature_negotiation_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(broken_queue_needs_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(descriptor_loop_needs_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_ring_address_needs_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(odd_register_accesses_are_harmless, setup, teardown),
		cmocka_unit_test_setup_teardown(queue_stop_and_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(concurrent_host_and_guest, setup, teardown),
		cmocka_unit_test(core_takes_and_gives_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
