/* SPDX-License-Identifier: MIT */
#include "virtio/virtq.h"

#include <endian.h>
#include <string.h>

static const char *const errors[VIRTQ_ENR_ERRORS] = {
	[0] = "no error",
	[VIRTQ_EBROKEN] = "queue broken by an earlier error: the device needs a reset",
	[VIRTQ_EFEATURES] = "VIRTIO_F_VERSION_1 not negotiated or the packed ring was",
	[VIRTQ_ESIZE] = "queue size not a power of 2 between 1 and 32768",
	[VIRTQ_EALIGN] = "a ring area is misaligned (descriptors 16, driver 2, device 4)",
	[VIRTQ_ERING_RANGE] = "a ring area is not inside guest RAM",
	[VIRTQ_ERING_OVERLAP] = "two ring areas overlap",
	[VIRTQ_EAVAIL_IDX] = "avail->idx moved more than the queue size",
	[VIRTQ_EHEAD_RANGE] = "an available chain head is not below the queue size",
	[VIRTQ_ENEXT_RANGE] = "a descriptor's next index is outside its table",
	[VIRTQ_ELOOP] = "a descriptor chain is longer than its table: a loop",
	[VIRTQ_EBUF_ZERO] = "a descriptor has a zero-length buffer",
	[VIRTQ_EBUF_WRAP] = "a buffer's address plus length wraps around",
	[VIRTQ_EBUF_RANGE] = "a buffer is not inside guest RAM",
	[VIRTQ_EORDER] = "a device-readable buffer follows a device-writable one",
	[VIRTQ_ETOTAL_LEN] = "a chain's total length does not fit 32 bits",
	[VIRTQ_ESEGS] = "a chain has more buffers than the device accepts",
	[VIRTQ_EINDIRECT_FEATURE] = "an indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC",
	[VIRTQ_EINDIRECT_NEXT] = "a descriptor has both INDIRECT and NEXT set",
	[VIRTQ_EINDIRECT_NESTED] = "an indirect descriptor inside an indirect table",
	[VIRTQ_EINDIRECT_LEN] = "an indirect table's length is 0 or not a multiple of 16",
	[VIRTQ_EINDIRECT_SIZE] = "an indirect table has more entries than the queue size",
	[VIRTQ_EINDIRECT_RANGE] = "an indirect table is not inside guest RAM",
	[VIRTQ_EUSED_ID] = "device bug: used id not below the queue size",
	[VIRTQ_EUSED_NONE] = "device bug: used element pushed with no chain in flight",
};

const char *virtq__strerror(int err)
{
	if (err > 0 || -err >= VIRTQ_ENR_ERRORS)
		return "unknown virtqueue error";
	return errors[-err];
}

/* Record the first error: the queue stays broken until virtq__init(). */
static int fail(struct virtq *q, int err)
{
	q->broken = err;
	return err;
}

static void *ring_area(const struct virtq_mem *mem, uint64_t gpa, uint64_t bytes)
{
	if (gpa > UINT64_MAX - bytes)
		return NULL;
	return mem->gpa_ptr(mem->ctx, gpa, bytes);
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen; /* both ranges already checked not to wrap */
}

int virtq__init(struct virtq *q, const struct virtq_config *cfg, const struct virtq_mem *mem)
{
	*q = (struct virtq){ .mem = *mem, .broken = -VIRTQ_EBROKEN };
	if (!(cfg->features & (1ull << VIRTIO_F_VERSION_1)) ||
	    (cfg->features & (1ull << VIRTIO_F_RING_PACKED)))
		return -VIRTQ_EFEATURES;
	uint32_t n = cfg->size;
	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
		return -VIRTQ_ESIZE;
	if (cfg->desc_gpa % 16 || cfg->driver_gpa % 2 || cfg->device_gpa % 4)
		return -VIRTQ_EALIGN;
	uint64_t dlen = VIRTQ_DESC_BYTES(n), alen = VIRTQ_AVAIL_BYTES(n), ulen = VIRTQ_USED_BYTES(n);
	if (cfg->device_gpa > UINT64_MAX - ulen ||
	    (mem->device_writes && mem->device_writes(mem->ctx, cfg->device_gpa, ulen) < 0))
		return -VIRTQ_ERING_RANGE;
	void *desc = ring_area(mem, cfg->desc_gpa, dlen);
	void *avail = ring_area(mem, cfg->driver_gpa, alen);
	void *used = ring_area(mem, cfg->device_gpa, ulen);
	if (!desc || !avail || !used)
		return -VIRTQ_ERING_RANGE;
	if (overlap(cfg->desc_gpa, dlen, cfg->driver_gpa, alen) ||
	    overlap(cfg->desc_gpa, dlen, cfg->device_gpa, ulen) ||
	    overlap(cfg->driver_gpa, alen, cfg->device_gpa, ulen))
		return -VIRTQ_ERING_OVERLAP;
	q->size = (uint16_t)n; /* 32768 fits */
	q->event_idx = cfg->features & (1ull << VIRTIO_RING_F_EVENT_IDX);
	q->indirect = cfg->features & (1ull << VIRTIO_RING_F_INDIRECT_DESC);
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->broken = 0;
	return 0;
}

/* The guest may rewrite a descriptor at any time: take one copy, check that. */
static struct virtq_desc read_desc(const uint8_t *table, uint16_t i)
{
	struct virtq_desc d;
	memcpy(&d, table + (size_t)i * sizeof(d), sizeof(d));
	return (struct virtq_desc){ .addr = le64toh(d.addr), .len = le32toh(d.len),
				    .flags = le16toh(d.flags), .next = le16toh(d.next) };
}

static int add_seg(const struct virtq *q, struct virtq_chain *c, const struct virtq_desc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	if (d->len == 0)
		return -VIRTQ_EBUF_ZERO;
	if (d->addr > UINT64_MAX - d->len)
		return -VIRTQ_EBUF_WRAP;
	if (!writable && c->writable)
		return -VIRTQ_EORDER;
	if ((uint64_t)c->readable + c->writable + d->len > UINT32_MAX)
		return -VIRTQ_ETOTAL_LEN;
	void *ptr = q->mem.gpa_ptr(q->mem.ctx, d->addr, d->len);
	if (!ptr)
		return -VIRTQ_EBUF_RANGE;
	if (c->nr_segs == c->max_segs)
		return -VIRTQ_ESEGS;
	c->seg[c->nr_segs++] = (struct virtq_seg){ .ptr = ptr, .gpa = d->addr, .len = d->len,
						     .writable = writable };
	if (writable) {
		c->writable += d->len;
	} else {
		c->readable += d->len;
		c->nr_readable++;
	}
	return 0;
}

/*
 * Walk `table` of n descriptors from index i. Each visit counts, so a walk
 * longer than n went round a loop. An indirect descriptor is followed from
 * the direct table only, and ends the chain since it cannot carry NEXT.
 */
static int walk_indirect(const struct virtq *q, struct virtq_chain *c, const struct virtq_desc *d);

static int walk_table(const struct virtq *q, struct virtq_chain *c, const uint8_t *table,
		      uint32_t n, uint16_t i, bool direct)
{
	for (uint32_t visits = 1;; visits++) {
		if (visits > n)
			return -VIRTQ_ELOOP;
		struct virtq_desc d = read_desc(table, i);
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (!direct)
				return -VIRTQ_EINDIRECT_NESTED;
			if (!q->indirect)
				return -VIRTQ_EINDIRECT_FEATURE;
			if (d.flags & VIRTQ_DESC_F_NEXT)
				return -VIRTQ_EINDIRECT_NEXT;
			return walk_indirect(q, c, &d);
		}
		int err = add_seg(q, c, &d);
		if (err)
			return err;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return -VIRTQ_ENEXT_RANGE;
		i = d.next;
	}
}

static int walk_indirect(const struct virtq *q, struct virtq_chain *c, const struct virtq_desc *d)
{
	if (d->len == 0 || d->len % sizeof(struct virtq_desc))
		return -VIRTQ_EINDIRECT_LEN;
	uint32_t n = d->len / sizeof(struct virtq_desc);
	if (n > q->size)
		return -VIRTQ_EINDIRECT_SIZE;
	const uint8_t *table = ring_area(&q->mem, d->addr, d->len);
	if (!table)
		return -VIRTQ_EINDIRECT_RANGE;
	/* The table's own alignment is not promised (§2.7.5.3): read_desc() copies. */
	return walk_table(q, c, table, n, 0, false);
}

static uint16_t *avail_event(const struct virtq *q)
{
	return (uint16_t *)&q->used->ring[q->size];
}

static uint16_t *used_event(const struct virtq *q)
{
	return &q->avail->ring[q->size];
}

/*
 * avail->idx with acquire ordering: pairs with the driver's write barrier
 * between filling the ring slot and publishing idx (virtio_wmb() in Linux's
 * virtqueue_add_split()), so the slot and its descriptors read after this
 * are the ones the driver published.
 */
static uint16_t load_avail_idx(const struct virtq *q)
{
	return le16toh(__atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE));
}

int virtq__pop(struct virtq *q, struct virtq_chain *c)
{
	if (q->broken)
		return -VIRTQ_EBROKEN;
	uint16_t avail_idx = load_avail_idx(q);
	if (avail_idx == q->last_avail && q->event_idx) {
		/*
		 * Ask for a kick at the next buffer, then look again: the full
		 * barrier pairs with the driver's between publishing avail->idx
		 * and reading avail_event (virtqueue_kick_prepare_split()), so
		 * either it sees our avail_event or we see its new idx.
		 */
		__atomic_store_n(avail_event(q), htole16(q->last_avail), __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = load_avail_idx(q);
	}
	uint16_t pending = avail_idx - q->last_avail;
	if (pending > q->size)
		return fail(q, -VIRTQ_EAVAIL_IDX);
	if (!pending)
		return 0;
	uint16_t slot = q->last_avail & (q->size - 1);
	uint16_t head = le16toh(__atomic_load_n(&q->avail->ring[slot], __ATOMIC_RELAXED));
	q->last_avail++;
	*c = (struct virtq_chain){ .seg = c->seg, .max_segs = c->max_segs, .head = head };
	if (head >= q->size)
		return fail(q, -VIRTQ_EHEAD_RANGE);
	int err = walk_table(q, c, (const uint8_t *)q->desc, q->size, head, true);
	if (err)
		return fail(q, err);
	q->inflight++;
	return 1;
}

int virtq__push(struct virtq *q, uint16_t id, uint32_t len)
{
	if (q->broken)
		return -VIRTQ_EBROKEN;
	if (id >= q->size)
		return -VIRTQ_EUSED_ID;
	if (!q->inflight)
		return -VIRTQ_EUSED_NONE;
	struct virtq_used_elem *e = &q->used->ring[q->used_idx & (q->size - 1)];
	__atomic_store_n(&e->id, htole32(id), __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, htole32(len), __ATOMIC_RELAXED);
	q->used_idx++;
	/*
	 * Release: the element is visible before the index that covers it;
	 * pairs with the driver's read barrier after it reads used->idx
	 * (virtio_rmb() in virtqueue_get_buf_ctx_split()).
	 */
	__atomic_store_n(&q->used->idx, htole16(q->used_idx), __ATOMIC_RELEASE);
	q->inflight--;
	return 0;
}

/* §2.7.10: the driver asked for an interrupt when used_idx passes event. */
static bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx)
{
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old_idx);
}

bool virtq__should_notify(struct virtq *q)
{
	if (q->broken)
		return false;
	/*
	 * Full barrier: our used->idx store is ordered before the reads of
	 * the driver's flags / used_event. Pairs with the driver's barrier
	 * between writing those and re-reading used->idx
	 * (virtqueue_enable_cb_prepare_split() and virtio_mb() in its caller).
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx) {
		uint16_t flags = le16toh(__atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED));
		return !(flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
	}
	uint16_t old_idx = q->signalled_used;
	bool valid = q->signalled_valid;
	q->signalled_used = q->used_idx;
	q->signalled_valid = true;
	if (!valid)
		return true;
	uint16_t event = le16toh(__atomic_load_n(used_event(q), __ATOMIC_RELAXED));
	return need_event(event, q->used_idx, old_idx);
}

size_t virtq__chain_read(const struct virtq_chain *c, uint64_t off, void *dst, size_t len)
{
	size_t done = 0;
	for (unsigned i = 0; i < c->nr_readable && done < len; i++) {
		const struct virtq_seg *s = &c->seg[i];
		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		size_t n = s->len - off;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)dst + done, (const uint8_t *)s->ptr + off, n);
		done += n;
		off = 0;
	}
	return done;
}
