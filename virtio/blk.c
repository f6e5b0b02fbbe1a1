/* SPDX-License-Identifier: MIT */
/*
 * DOC: the virtio-blk device (blk.h): pop a chain, parse it (blk_req.c),
 * move its data between guest RAM and the file, write the status byte, push
 * it back; one interrupt a notification if the driver wants it. Everything
 * runs under the transport's lock.
 */
#include "virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct virtio_blk {
	struct virtio_mmio t;
	int fd;
	uint64_t capacity;
	char id[VIRTIO_BLK_ID_BYTES];
	/* Everything below is protected by t.lock. */
	struct virtio_blk_access acc; /* read == NULL: guest RAM through the segments' pointers */
	struct virtio_blk_counters c;
	/* scratch for one chain: at most the queue size of descriptors (virtq.h) */
	struct virtq_seg seg[VIRTIO_BLK_QUEUE_SIZE];
	struct blk_seg data[VIRTIO_BLK_QUEUE_SIZE];
	uint8_t bounce[VIRTIO_BLK_BOUNCE_BYTES]; /* data between the file and acc */
};

static unsigned nr_queues(void *dev, uint64_t f)
{
	(void)dev;
	(void)f;
	return 1;
}

static void config_read(void *dev, uint64_t off, void *data, unsigned size)
{
	struct virtio_blk *d = dev;
	uint8_t img[VIRTIO_BLK_CFG_SIZE] = { 0 };
	uint64_t cap = htole64(d->capacity);
	uint32_t seg_max = htole32(VIRTIO_BLK_SEG_MAX), blk_size = htole32(VIRTIO_BLK_SECTOR);
	memcpy(img, &cap, 8);
	memcpy(img + 12, &seg_max, 4);
	memcpy(img + 20, &blk_size, 4);
	memset(data, 0, size);
	for (unsigned i = 0; i < size; i++)
		if (off + i < VIRTIO_BLK_CFG_SIZE)
			((uint8_t *)data)[i] = img[off + i];
}

static void config_write(void *dev, uint64_t off, const void *data, unsigned size)
{
	(void)dev, (void)off, (void)data, (void)size; /* nothing is writable without CONFIG_WCE */
}

/* One file I/O of len bytes at pos into or out of p, whole: 0 or -errno. */
static int file_io(struct virtio_blk *d, bool in, uint8_t *p, size_t len, off_t pos)
{
	while (len) {
		ssize_t k = in ? pread(d->fd, p, len, pos) : pwrite(d->fd, p, len, pos);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0) {
			if (!in)
				return -EIO;
			memset(p, 0, len); /* past the file's end: it reads zero */
			k = (ssize_t)len;
		}
		p += k;
		pos += k;
		len -= (size_t)k;
	}
	return 0;
}

/* One data segment through the access path, a bounce buffer at a time. */
static int seg_through_acc(struct virtio_blk *d, bool in, const struct blk_seg *sg, off_t pos)
{
	for (uint32_t done = 0; done < sg->len;) {
		uint32_t k = sg->len - done;
		if (k > VIRTIO_BLK_BOUNCE_BYTES)
			k = VIRTIO_BLK_BOUNCE_BYTES;
		int rc = in ? file_io(d, true, d->bounce, k, pos + done) : 0;
		if (rc == 0 && (in ? d->acc.write(d->acc.ctx, sg->gpa + done, d->bounce, k)
				   : d->acc.read(d->acc.ctx, sg->gpa + done, d->bounce, k)) < 0) {
			d->c.access_errors++;
			rc = -EFAULT;
		}
		if (rc == 0 && !in)
			rc = file_io(d, false, d->bounce, k, pos + done);
		if (rc < 0)
			return rc;
		done += k;
	}
	return 0;
}

/* Move the data of r between guest RAM and the file: 0 or -errno. */
static int transfer(struct virtio_blk *d, const struct virtq_chain *c, const struct blk_req *r)
{
	unsigned n = blk__data_segs(c, r, d->data, VIRTIO_BLK_QUEUE_SIZE);
	off_t pos = (off_t)(r->sector * VIRTIO_BLK_SECTOR); /* < capacity: checked */
	bool in = r->type == VIRTIO_BLK_T_IN;
	for (unsigned i = 0; i < n; i++) {
		int rc = d->acc.read ? seg_through_acc(d, in, &d->data[i], pos)
				     : file_io(d, in, d->data[i].ptr, d->data[i].len, pos);
		if (rc < 0)
			return rc;
		pos += d->data[i].len;
	}
	return 0;
}

static void get_id(struct virtio_blk *d, const struct virtq_chain *c, const struct blk_req *r)
{
	unsigned n = blk__data_segs(c, r, d->data, VIRTIO_BLK_QUEUE_SIZE);
	uint32_t done = 0;
	for (unsigned i = 0; i < n && done < VIRTIO_BLK_ID_BYTES; i++) {
		uint32_t k = d->data[i].len;
		if (k > VIRTIO_BLK_ID_BYTES - done)
			k = VIRTIO_BLK_ID_BYTES - done;
		if (!d->acc.write)
			memcpy(d->data[i].ptr, d->id + done, k);
		else if (d->acc.write(d->acc.ctx, d->data[i].gpa, d->id + done, k) < 0)
			d->c.access_errors++;
		done += k;
	}
}

/* Serve one parsed request: its status, and the bytes written into the chain. */
static uint8_t serve(struct virtio_blk *d, const struct virtq_chain *c, const struct blk_req *r,
		     uint32_t *written)
{
	*written = 1;
	if (r->verdict == VIRTIO_BLK_S_UNSUPP) {
		d->c.unsupported++;
		return r->verdict;
	}
	if (r->verdict != VIRTIO_BLK_S_OK) {
		d->c.bad_requests++;
		return r->verdict;
	}
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool in = r->type == VIRTIO_BLK_T_IN;
		int rc = transfer(d, c, r);
		if (rc < 0) {
			d->c.io_errors += rc != -EFAULT; /* else counted as an access error */
			return VIRTIO_BLK_S_IOERR;
		}
		if (in) {
			d->c.reads++;
			d->c.bytes_read += r->data_len;
			*written += r->data_len;
		} else {
			d->c.writes++;
			d->c.bytes_written += r->data_len;
		}
		return VIRTIO_BLK_S_OK;
	}
	case VIRTIO_BLK_T_FLUSH:
		if (fdatasync(d->fd) < 0) {
			d->c.io_errors++;
			return VIRTIO_BLK_S_IOERR;
		}
		d->c.flushes++;
		return VIRTIO_BLK_S_OK;
	default: /* VIRTIO_BLK_T_GET_ID: the parser lets nothing else through */
		get_id(d, c, r);
		d->c.get_ids++;
		*written += r->data_len < VIRTIO_BLK_ID_BYTES ? r->data_len : VIRTIO_BLK_ID_BYTES;
		return VIRTIO_BLK_S_OK;
	}
}

static void notify(void *dev, unsigned q)
{
	struct virtio_blk *d = dev;
	struct virtq *vq = virtio_mmio__queue(&d->t, q);
	if (!vq)
		return;
	struct virtq_chain c = { .seg = d->seg, .max_segs = VIRTIO_BLK_QUEUE_SIZE };
	unsigned served = 0;
	for (;;) {
		if (served == VIRTIO_BLK_BUDGET) {
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
		struct blk_req r;
		uint32_t written = 0;
		if (blk__parse(&c, d->capacity, VIRTIO_BLK_MAX_BYTES, &r) < 0) {
			d->c.no_status++;
		} else {
			uint8_t status = serve(d, &c, &r, &written);
			/* after the data: a driver that sees the status sees the data
			 * (the access path copies under a lock: a release too) */
			if (!d->acc.write)
				__atomic_store_n(r.status, status, __ATOMIC_RELEASE);
			else if (d->acc.write(d->acc.ctx, r.status_gpa, &status, 1) < 0)
				d->c.access_errors++;
		}
		rc = virtq__push(vq, c.head, written);
		if (rc < 0) {
			virtio_mmio__queue_error(&d->t, q, rc);
			return;
		}
	}
	if (served)
		virtio_mmio__used(&d->t, q);
}

static void reset(void *dev)
{
	(void)dev; /* requests are served on the spot: nothing is held between notifications */
}

static const struct virtio_mmio_ops blk_ops = {
	.device_id = VIRTIO_ID_BLOCK,
	.features = 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_BLK_F_SEG_MAX |
		    1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH |
		    1ull << VIRTIO_RING_F_INDIRECT_DESC | 1ull << VIRTIO_RING_F_EVENT_IDX,
	.queue_num_max = VIRTIO_BLK_QUEUE_SIZE,
	.nr_queues = nr_queues,
	.config_read = config_read,
	.config_write = config_write,
	.notify = notify,
	.reset = reset,
};

struct virtio_blk *virtio_blk__create(int fd, uint64_t capacity, const char *id,
				      const struct virtq_mem *mem,
				      void (*set_irq)(void *ctx, bool level), void *irq_ctx)
{
	struct virtio_blk *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->fd = fd;
	d->capacity = capacity;
	size_t n = strlen(id); /* NUL-padded (calloc); not terminated at 20 bytes (§5.2.6) */
	memcpy(d->id, id, n < sizeof(d->id) ? n : sizeof(d->id));
	if (virtio_mmio__init(&d->t, &blk_ops, d, mem, set_irq, irq_ctx)) {
		free(d);
		return NULL;
	}
	return d;
}

void virtio_blk__destroy(struct virtio_blk *d)
{
	if (!d)
		return;
	virtio_mmio__destroy(&d->t);
	free(d);
}

void virtio_blk__set_access(struct virtio_blk *d, const struct virtio_blk_access *a)
{
	virtio_mmio__lock(&d->t);
	d->acc = a ? *a : (struct virtio_blk_access){ 0 };
	virtio_mmio__unlock(&d->t);
}

struct virtio_mmio *virtio_blk__transport(struct virtio_blk *d)
{
	return &d->t;
}

void virtio_blk__state(struct virtio_blk *d, struct virtio_blk_state *out)
{
	virtio_mmio__state(&d->t, &out->t);
	virtio_mmio__lock(&d->t);
	out->capacity = d->capacity;
	out->c = d->c;
	virtio_mmio__unlock(&d->t);
}
