/*
 * libFuzzer target: the split-virtqueue walker (virtio/virtq.c) and the
 * balloon request parser (virtio/balloon_req.c) against a hostile driver.
 * The input is a queue configuration (struct layout below) followed by the
 * guest's RAM, copied into a buffer of exactly that size so ASan sees any
 * access outside it. The device pops, walks, parses each chain as an
 * inflate and as a stats request, writes its writable buffers and pushes it
 * back until the queue is empty or broken. Invariants: every segment lies in
 * RAM, readable segments come first and add up, a broken queue stays broken,
 * every error has its line, accepted PFNs are RAM frames, pushes of popped
 * chains succeed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/balloon_req.h"
#include "virtio/virtq.h"

struct layout {
	uint8_t flags;     /* FL_* */
	uint8_t size_log;  /* queue size 1 << (size_log & 15) unless FL_RAW */
	uint16_t start;    /* the device's indices (raw) or their lag behind avail->idx */
	uint32_t base_pfn; /* RAM's first frame */
	uint32_t desc_off, driver_off, device_off; /* into RAM and aligned, or raw with FL_RAW */
	uint32_t raw_size;
	uint8_t max_segs;
	uint8_t pad[3];
};

#define FL_EVENT_IDX 1
#define FL_INDIRECT 2
#define FL_NO_VERSION_1 4
#define FL_RAW 8 /* raw size, offsets, start: exercise the configuration checks */

struct ram {
	uint64_t base;
	uint8_t *bytes;
	size_t size;
};

static void *ram_ptr(void *ctx, uint64_t gpa, uint64_t len)
{
	const struct ram *r = ctx;
	if (gpa < r->base || gpa - r->base > r->size || len > r->size - (gpa - r->base))
		return NULL;
	return r->bytes + (gpa - r->base);
}

static bool inside(const struct ram *r, const void *p, uint64_t len)
{
	const uint8_t *b = p;
	return b >= r->bytes && b <= r->bytes + r->size && len <= (uint64_t)(r->bytes + r->size - b);
}

static void check_chain(const struct ram *r, const struct virtq_mem *mem,
			const struct virtq_chain *c)
{
	uint64_t readable = 0, writable = 0;
	if (c->nr_segs > c->max_segs || c->nr_readable > c->nr_segs)
		abort();
	for (unsigned i = 0; i < c->nr_segs; i++) {
		const struct virtq_seg *s = &c->seg[i];
		if (!s->len || !inside(r, s->ptr, s->len) || s->writable != (i >= c->nr_readable))
			abort();
		*(s->writable ? &writable : &readable) += s->len;
	}
	if (readable != c->readable || writable != c->writable)
		abort();

	static uint32_t pfn[256];
	struct balloon_pfns out = { .pfn = pfn, .max = 256 };
	int err = balloon__parse_pfns(c, mem, &out);
	if (!balloon__strerror(err))
		abort();
	if (err == 0) {
		if (out.nr_valid + out.nr_rejected != c->readable / 4)
			abort();
		for (size_t i = 0; i < out.nr_valid; i++)
			if (!ram_ptr((void *)r, (uint64_t)pfn[i] << 12, 4096))
				abort();
	} else if (out.nr_valid || out.nr_rejected) {
		abort();
	}
	struct balloon_stats st;
	err = balloon__parse_stats(c, &st);
	if (!balloon__strerror(err) || (st.present >> BALLOON_S_NR) ||
	    (err && (st.present || st.nr_unknown)))
		abort();

	for (unsigned i = c->nr_readable; i < c->nr_segs; i++)
		memset(c->seg[i].ptr, 0xa5, c->seg[i].len); /* the device's answer */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct layout l;
	if (size < sizeof(l))
		return 0;
	memcpy(&l, data, sizeof(l));
	struct ram r = { .base = (uint64_t)l.base_pfn << 12, .size = size - sizeof(l) };
	r.bytes = malloc(r.size ? r.size : 1);
	memcpy(r.bytes, data + sizeof(l), r.size);
	struct virtq_mem mem = { .gpa_ptr = ram_ptr, .ctx = &r };

	struct virtq_config cfg = {
		.features = (l.flags & FL_NO_VERSION_1 ? 0 : 1ull << VIRTIO_F_VERSION_1) |
			    (l.flags & FL_EVENT_IDX ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0) |
			    (l.flags & FL_INDIRECT ? 1ull << VIRTIO_RING_F_INDIRECT_DESC : 0),
		.size = l.flags & FL_RAW ? l.raw_size : 1u << (l.size_log & 15),
		.desc_gpa = l.flags & FL_RAW ? l.desc_off : r.base + (l.desc_off % (r.size + 1) & ~15u),
		.driver_gpa = l.flags & FL_RAW ? l.driver_off : r.base + (l.driver_off % (r.size + 1) & ~1u),
		.device_gpa = l.flags & FL_RAW ? l.device_off : r.base + (l.device_off % (r.size + 1) & ~3u),
	};
	static struct virtq_seg seg[VIRTQ_MAX_SIZE * 2];
	struct virtq_chain c = { .seg = seg, .max_segs = l.max_segs ? l.max_segs : VIRTQ_MAX_SIZE * 2 };
	struct virtq q;
	int err = virtq__init(&q, &cfg, &mem);
	if (err) {
		if (err > 0 || !virtq__strerror(err) || virtq__pop(&q, &c) != -VIRTQ_EBROKEN)
			abort();
		free(r.bytes);
		return 0;
	}
	if (!inside(&r, q.desc, VIRTQ_DESC_BYTES(q.size)) ||
	    !inside(&r, q.avail, VIRTQ_AVAIL_BYTES(q.size)) ||
	    !inside(&r, q.used, VIRTQ_USED_BYTES(q.size)))
		abort();
	/* Raw: the device's indices start anywhere (ring wrap included). Else a
	 * believable distance behind the driver's avail->idx, so most inputs
	 * have chains to walk without the fuzzer first guessing the index. */
	uint16_t avail_idx;
	memcpy(&avail_idx, &q.avail->idx, sizeof(avail_idx));
	q.last_avail = q.used_idx =
		l.flags & FL_RAW ? l.start : (uint16_t)(avail_idx - l.start % (q.size + 1u));

	/* Writable buffers may cover the available ring, so avail->idx can move
	 * under the device's own writes: bound the run, not the count. */
	for (unsigned popped = 0; popped < (1u << 17) && (err = virtq__pop(&q, &c)) == 1; popped++) {
		if (c.head >= q.size)
			abort();
		check_chain(&r, &mem, &c);
		if (virtq__push(&q, c.head, c.writable) != 0)
			abort();
		virtq__should_notify(&q);
	}
	if (err < 0) {
		if (!virtq__strerror(err) || q.broken != err || virtq__pop(&q, &c) != -VIRTQ_EBROKEN ||
		    virtq__push(&q, 0, 0) != -VIRTQ_EBROKEN)
			abort();
	} else if (virtq__push(&q, 0, 0) != -VIRTQ_EUSED_NONE) {
		abort();
	}
	free(r.bytes);
	return 0;
}
