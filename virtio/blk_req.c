/* SPDX-License-Identifier: MIT */
#include "virtio/blk_req.h"

#include <endian.h>
#include <string.h>

int blk__parse(const struct virtq_chain *c, uint64_t capacity, uint32_t max_bytes,
	       struct blk_req *r)
{
	*r = (struct blk_req){ 0 };
	if (!c->writable || !c->nr_segs || !c->seg[c->nr_segs - 1].writable)
		return -BLK_ENO_STATUS;
	const struct virtq_seg *last = &c->seg[c->nr_segs - 1];
	r->status = (uint8_t *)last->ptr + last->len - 1; /* len > 0: virtq.h */
	r->status_gpa = last->gpa + last->len - 1;
	r->verdict = VIRTIO_BLK_S_IOERR;
	uint8_t hdr[VIRTIO_BLK_HDR_BYTES];
	if (virtq__chain_read(c, 0, hdr, sizeof(hdr)) < sizeof(hdr))
		return 0;
	uint32_t type;
	uint64_t sector;
	memcpy(&type, hdr, sizeof(type));
	memcpy(&sector, hdr + 8, sizeof(sector));
	r->type = le32toh(type);
	r->sector = le64toh(sector);
	uint32_t in = c->readable - VIRTIO_BLK_HDR_BYTES; /* readable data after the header */
	uint32_t out = c->writable - 1;                   /* writable room before the status */
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		if (in)
			return 0;
		r->data_len = out;
		break;
	case VIRTIO_BLK_T_OUT:
		if (out)
			return 0;
		r->data_len = in;
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (in || out)
			return 0;
		r->verdict = VIRTIO_BLK_S_OK;
		return 0;
	case VIRTIO_BLK_T_GET_ID:
		if (in || !out)
			return 0;
		r->data_len = out;
		r->verdict = VIRTIO_BLK_S_OK;
		return 0;
	default:
		r->verdict = VIRTIO_BLK_S_UNSUPP;
		return 0;
	}
	uint64_t sectors = r->data_len / VIRTIO_BLK_SECTOR;
	if (r->data_len % VIRTIO_BLK_SECTOR || r->data_len > max_bytes ||
	    r->sector > capacity || sectors > capacity - r->sector)
		return 0;
	r->verdict = VIRTIO_BLK_S_OK;
	return 0;
}

unsigned blk__data_segs(const struct virtq_chain *c, const struct blk_req *r,
			struct blk_seg *out, unsigned max)
{
	bool writable = r->type != VIRTIO_BLK_T_OUT;
	uint64_t skip = writable ? 0 : VIRTIO_BLK_HDR_BYTES; /* the header, before OUT's data */
	uint32_t left = r->data_len;
	unsigned n = 0;
	for (unsigned i = writable ? c->nr_readable : 0; i < c->nr_segs && left && n < max; i++) {
		const struct virtq_seg *s = &c->seg[i];
		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		uint32_t len = s->len - (uint32_t)skip;
		if (len > left)
			len = left;
		out[n++] = (struct blk_seg){ .ptr = (uint8_t *)s->ptr + skip, .gpa = s->gpa + skip,
					     .len = len };
		left -= len;
		skip = 0;
	}
	return n;
}
