/* SPDX-License-Identifier: MIT */
/*
 * DOC: the virtio-balloon device (virtio_balloon.h).
 *
 * Every queue is served the same way: pop until the queue is empty (or the
 * budget is spent), act on the chain, push it back with length 0, and
 * interrupt once per notification if the driver wants it. A negative pop or
 * push is a queue the driver broke: the transport enters NEEDS_RESET and
 * the device stops touching it. Everything runs under the transport's lock.
 */
#include "balloon/virtio_balloon.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvops/l1vmm_abi.h"
#include "virtio/balloon_req.h"

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ull << PAGE_SHIFT)

_Static_assert((int)BALLOON_S_NR <= (int)L1_BSTAT_NR, "virtio stats tags fit the core's table");
_Static_assert((int)BALLOON_S_HTLB_PGFAIL == (int)L1_BSTAT_HTLB_PGFAIL,
	       "virtio and l1vmm stats tags are the same numbers");

struct virtio_balloon {
	struct virtio_mmio t;
	struct balloon *b;
	/* Everything below is protected by t.lock. */
	uint32_t num_pages;
	uint32_t actual;
	bool stats_held;       /* the driver's stats buffer is with the device */
	uint16_t stats_head;   /* its chain id, while stats_held */
	struct virtio_balloon_counters c;
	/* scratch for one chain; a chain has at most the queue size of
	 * descriptors (virtq.h), so pop never runs out of segments */
	struct virtq_seg seg[VIRTIO_BALLOON_QUEUE_SIZE];
	uint32_t pfn[VIRTIO_BALLOON_MAX_PFNS];
	uint64_t gfn[L1_BALLOON_MAX_EXTENTS];
};

static bool has(uint64_t features, unsigned bit)
{
	return features & (1ull << bit);
}

/* What queue index q is with features f: the compacted numbering of Linux and QEMU. */
static enum virtio_balloon_queue role(uint64_t f, unsigned q)
{
	if (q <= VIRTIO_BALLOON_Q_DEFLATE)
		return (enum virtio_balloon_queue)q;
	unsigned next = 2;
	if (has(f, VIRTIO_BALLOON_F_STATS_VQ) && q == next++)
		return VIRTIO_BALLOON_Q_STATS;
	if (has(f, VIRTIO_BALLOON_F_PAGE_REPORTING) && q == next)
		return VIRTIO_BALLOON_Q_REPORTING;
	return VIRTIO_BALLOON_Q_NONE;
}

static unsigned nr_queues(void *dev, uint64_t f)
{
	(void)dev;
	return 2 + has(f, VIRTIO_BALLOON_F_STATS_VQ) + has(f, VIRTIO_BALLOON_F_PAGE_REPORTING);
}

/* The index of the queue with role r, or VIRTIO_MMIO_MAX_QUEUES if there is none. */
static unsigned queue_of(uint64_t f, enum virtio_balloon_queue r)
{
	for (unsigned q = 0; q < nr_queues(NULL, f); q++)
		if (role(f, q) == r)
			return q;
	return VIRTIO_MMIO_MAX_QUEUES;
}

static void config_image(const struct virtio_balloon *d, uint8_t img[VIRTIO_BALLOON_CFG_SIZE])
{
	uint32_t v[4] = { htole32(d->num_pages), htole32(d->actual), 0, 0 };
	memcpy(img, v, VIRTIO_BALLOON_CFG_SIZE);
}

static void config_read(void *dev, uint64_t off, void *data, unsigned size)
{
	struct virtio_balloon *d = dev;
	uint8_t img[VIRTIO_BALLOON_CFG_SIZE];
	config_image(d, img);
	memset(data, 0, size);
	for (unsigned i = 0; i < size; i++)
		if (off + i < VIRTIO_BALLOON_CFG_SIZE)
			((uint8_t *)data)[i] = img[off + i];
}

/* Only `actual` is the driver's to write; bytes elsewhere are dropped. */
static void config_write(void *dev, uint64_t off, const void *data, unsigned size)
{
	struct virtio_balloon *d = dev;
	uint8_t img[VIRTIO_BALLOON_CFG_SIZE];
	config_image(d, img);
	for (unsigned i = 0; i < size; i++)
		if (off + i >= VIRTIO_BALLOON_CFG_ACTUAL && off + i < VIRTIO_BALLOON_CFG_ACTUAL + 4)
			img[off + i] = ((const uint8_t *)data)[i];
	uint32_t actual;
	memcpy(&actual, img + VIRTIO_BALLOON_CFG_ACTUAL, sizeof(actual));
	d->actual = le32toh(actual);
}

/* Hand the n gfns to the core; an extent it refuses is skipped, the rest still go. */
static void move_gfns(struct virtio_balloon *d, size_t n, bool inflate)
{
	size_t done = 0;
	while (done < n) {
		size_t k = n - done;
		long rc = inflate ? balloon__inflate(d->b, d->gfn + done, k, 0)
				  : balloon__deflate(d->b, d->gfn + done, k, 0);
		if (rc == -EINVAL)
			rc = 0; /* the first was refused: skip it below */
		else if (rc < 0)
			return; /* the p2m or the backend: the rest would fare the same */
		done += (size_t)rc;
		if (done < n)
			done++; /* extent `done` was refused (counted by the core) */
	}
}

static void pfn_request(struct virtio_balloon *d, const struct virtq_chain *c, bool inflate)
{
	struct balloon_pfns p = { .pfn = d->pfn, .max = VIRTIO_BALLOON_MAX_PFNS };
	int err = balloon__parse_pfns(c, &d->t.mem, &p);
	if (err) {
		d->c.malformed_bufs++;
		balloon__refuse_request(d->b, balloon__strerror(err));
		return;
	}
	d->c.pfns_rejected += p.nr_rejected;
	for (size_t i = 0; i < p.nr_valid; i += L1_BALLOON_MAX_EXTENTS) {
		size_t n = p.nr_valid - i < L1_BALLOON_MAX_EXTENTS ? p.nr_valid - i
								   : L1_BALLOON_MAX_EXTENTS;
		for (size_t j = 0; j < n; j++)
			d->gfn[j] = p.pfn[i + j]; /* 4 KiB balloon pages are l1vmm's frames */
		move_gfns(d, n, inflate);
	}
}

static void stats_request(struct virtio_balloon *d, const struct virtq_chain *c)
{
	struct balloon_stats st;
	int err = balloon__parse_stats(c, &st);
	if (err) {
		d->c.malformed_bufs++;
		balloon__refuse_request(d->b, balloon__strerror(err));
		return;
	}
	uint64_t val[L1_BSTAT_NR] = { 0 };
	memcpy(val, st.val, sizeof(st.val));
	balloon__set_guest_stats(d->b, val, st.present);
}

/* Free page reporting: the whole frames inside each writable segment. */
static void report_request(struct virtio_balloon *d, const struct virtq_chain *c)
{
	for (unsigned i = c->nr_readable; i < c->nr_segs; i++) {
		const struct virtq_seg *s = &c->seg[i];
		uint64_t first = (s->gpa + PAGE_SIZE - 1) >> PAGE_SHIFT; /* no wrap: virtq.h */
		uint64_t end = (s->gpa + s->len) >> PAGE_SHIFT;
		if (end > first && balloon__report_free(d->b, first, end - first) == 0)
			d->c.reported_ranges++;
	}
}

/* Serve queue q: pop, act, push (except a stats buffer, which is held). */
static void notify(void *dev, unsigned q)
{
	struct virtio_balloon *d = dev;
	enum virtio_balloon_queue r = role(virtio_mmio__features(&d->t), q);
	struct virtq *vq = virtio_mmio__queue(&d->t, q);
	if (!vq || r == VIRTIO_BALLOON_Q_NONE)
		return;
	struct virtq_chain c = { .seg = d->seg, .max_segs = VIRTIO_BALLOON_QUEUE_SIZE };
	unsigned served = 0, pushed = 0;
	for (;;) {
		if (served == VIRTIO_BALLOON_BUDGET) {
			d->c.budget_exhausted++;
			break;
		}
		int rc = virtq__pop(vq, &c);
		if (rc == 0)
			break;
		if (rc < 0) {
			virtio_mmio__queue_error(&d->t, q, rc);
			return;
		}
		served++;
		switch (r) {
		case VIRTIO_BALLOON_Q_INFLATE:
		case VIRTIO_BALLOON_Q_DEFLATE:
			(*(r == VIRTIO_BALLOON_Q_INFLATE ? &d->c.inflate_bufs : &d->c.deflate_bufs))++;
			pfn_request(d, &c, r == VIRTIO_BALLOON_Q_INFLATE);
			break;
		case VIRTIO_BALLOON_Q_STATS:
			d->c.stats_bufs++;
			stats_request(d, &c);
			if (d->stats_held) {
				/* a second buffer: give the older one back, keep the newest */
				rc = virtq__push(vq, d->stats_head, 0);
				if (rc < 0) {
					virtio_mmio__queue_error(&d->t, q, rc);
					return;
				}
				pushed++;
			}
			d->stats_held = true;
			d->stats_head = c.head;
			continue;
		case VIRTIO_BALLOON_Q_REPORTING:
			d->c.report_bufs++;
			report_request(d, &c);
			break;
		case VIRTIO_BALLOON_Q_NONE:
			break;
		}
		rc = virtq__push(vq, c.head, 0);
		if (rc < 0) {
			virtio_mmio__queue_error(&d->t, q, rc);
			return;
		}
		pushed++;
	}
	if (pushed) /* a held stats buffer is no reason to interrupt */
		virtio_mmio__used(&d->t, q);
}

static void queue_stop(void *dev, unsigned q)
{
	struct virtio_balloon *d = dev;
	if (role(virtio_mmio__features(&d->t), q) == VIRTIO_BALLOON_Q_STATS)
		d->stats_held = false;
}

static void reset(void *dev)
{
	struct virtio_balloon *d = dev;
	d->stats_held = false;
	d->actual = 0;
}

static const struct virtio_mmio_ops balloon_ops = {
	.device_id = VIRTIO_ID_BALLOON,
	.features = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_BALLOON_F_STATS_VQ |
		    1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM |
		    1ull << VIRTIO_BALLOON_F_PAGE_REPORTING | 1ull << VIRTIO_RING_F_INDIRECT_DESC |
		    1ull << VIRTIO_RING_F_EVENT_IDX,
	.queue_num_max = VIRTIO_BALLOON_QUEUE_SIZE,
	.nr_queues = nr_queues,
	.config_read = config_read,
	.config_write = config_write,
	.notify = notify,
	.queue_stop = queue_stop,
	.reset = reset,
};

static uint32_t target_pages(struct balloon *b)
{
	struct balloon_snapshot s;
	balloon__snapshot(b, &s);
	return s.target_frames > UINT32_MAX ? UINT32_MAX : (uint32_t)s.target_frames;
}

/* The core's notify(): called without its lock, from whichever thread set the target. */
static void target_changed(void *ctx)
{
	struct virtio_balloon *d = ctx;
	virtio_mmio__lock(&d->t);
	uint32_t pages = target_pages(d->b);
	if (pages != d->num_pages) {
		d->num_pages = pages;
		virtio_mmio__config_changed(&d->t);
	}
	virtio_mmio__unlock(&d->t);
}

struct virtio_balloon *virtio_balloon__create(struct balloon *b, const struct virtq_mem *mem,
					      void (*set_irq)(void *ctx, bool level),
					      void *irq_ctx)
{
	struct virtio_balloon *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->b = b;
	if (virtio_mmio__init(&d->t, &balloon_ops, d, mem, set_irq, irq_ctx)) {
		free(d);
		return NULL;
	}
	d->num_pages = target_pages(b);
	balloon__attach(b, "virtio", target_changed, d);
	return d;
}

void virtio_balloon__destroy(struct virtio_balloon *d)
{
	if (!d)
		return;
	balloon__detach(d->b, d);
	virtio_mmio__destroy(&d->t);
	free(d);
}

struct virtio_mmio *virtio_balloon__transport(struct virtio_balloon *d)
{
	return &d->t;
}

bool virtio_balloon__request_stats(struct virtio_balloon *d)
{
	virtio_mmio__lock(&d->t);
	unsigned q = queue_of(virtio_mmio__features(&d->t), VIRTIO_BALLOON_Q_STATS);
	struct virtq *vq = virtio_mmio__queue(&d->t, q);
	bool sent = false;
	if (vq && d->stats_held) {
		int rc = virtq__push(vq, d->stats_head, 0);
		if (rc < 0) {
			virtio_mmio__queue_error(&d->t, q, rc);
		} else {
			d->stats_held = false;
			d->c.stats_requests++;
			sent = true;
			virtio_mmio__used(&d->t, q);
		}
	}
	virtio_mmio__unlock(&d->t);
	return sent;
}

void virtio_balloon__state(struct virtio_balloon *d, struct virtio_balloon_state *out)
{
	virtio_mmio__state(&d->t, &out->t);
	virtio_mmio__lock(&d->t);
	out->num_pages = d->num_pages;
	out->actual = d->actual;
	out->stats_held = d->stats_held;
	out->c = d->c;
	virtio_mmio__unlock(&d->t);
}

int virtio_balloon__show(struct virtio_balloon *d, char *buf, size_t len)
{
	struct virtio_balloon_state s;
	virtio_balloon__state(d, &s);
	return snprintf(buf, len,
			"status %#x\nfeatures %#llx\nneeds_reset %s\nneeds_reset_count %llu\n"
			"reason %s\nnum_pages %u\nactual %u\nconfig_generation %u\n"
			"stats_held %d\nnotifies %llu\nnotifies_ignored %llu\ninterrupts %llu\n"
			"resets %llu\nbad_accesses %llu\ninflate_bufs %llu\ndeflate_bufs %llu\n"
			"stats_bufs %llu\nreport_bufs %llu\npfns_rejected %llu\n"
			"malformed_bufs %llu\nstats_requests %llu\nreported_ranges %llu\n",
			s.t.status, (unsigned long long)s.t.driver_features,
			s.t.status & VIRTIO_STATUS_NEEDS_RESET ? "yes" : "no",
			(unsigned long long)s.t.c.needs_reset,
			s.t.needs_reset_reason[0] ? s.t.needs_reset_reason : "-", s.num_pages,
			s.actual, s.t.config_generation, s.stats_held,
			(unsigned long long)s.t.c.notifies,
			(unsigned long long)s.t.c.notifies_ignored,
			(unsigned long long)s.t.c.interrupts, (unsigned long long)s.t.c.resets,
			(unsigned long long)s.t.c.bad_accesses, (unsigned long long)s.c.inflate_bufs,
			(unsigned long long)s.c.deflate_bufs, (unsigned long long)s.c.stats_bufs,
			(unsigned long long)s.c.report_bufs, (unsigned long long)s.c.pfns_rejected,
			(unsigned long long)s.c.malformed_bufs,
			(unsigned long long)s.c.stats_requests,
			(unsigned long long)s.c.reported_ranges);
}
