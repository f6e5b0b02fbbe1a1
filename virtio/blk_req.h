/* SPDX-License-Identifier: MIT */
/*
 * DOC: the virtio-blk request parser: what a walked chain of the request
 * queue asks for (virtio 1.2 §5.2.6).
 *
 * A request is a device-readable header { le32 type, le32 reserved, le64
 * sector } (16 bytes, possibly cut over several segments), then the data
 * (device-readable for VIRTIO_BLK_T_OUT, device-writable for IN and GET_ID,
 * none for FLUSH), then one device-writable status byte: the last byte of the
 * chain. blk__parse() checks, in this order:
 *  - the chain ends in a writable byte (else there is nowhere to say
 *    anything: -BLK_ENO_STATUS, and the device returns the chain with
 *    length 0);
 *  - the header is there (readable part >= 16 bytes);
 *  - the type is one the device serves (IN, OUT, FLUSH, GET_ID), else
 *    VIRTIO_BLK_S_UNSUPP;
 *  - IN: no readable bytes after the header; OUT: no writable bytes but the
 *    status; FLUSH: neither; GET_ID: some writable room before the status;
 *  - IN/OUT: the data is a whole number of 512-byte sectors, at most
 *    max_bytes, and [sector, sector + sectors) lies inside the capacity
 *    (overflow-safe);
 * any failure but the type being VIRTIO_BLK_S_IOERR. The parser reads the
 * header once (the guest may change it afterwards; nothing is read twice)
 * and reads or writes no data itself: the device moves the data segment by
 * segment with blk__data_seg().
 */
#ifndef L1_VIRTIO_BLK_REQ_H
#define L1_VIRTIO_BLK_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/virtq.h"

#define VIRTIO_ID_BLOCK 2

/* Feature bits (§5.2.3) the device may offer. */
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_SECTOR 512u
#define VIRTIO_BLK_HDR_BYTES 16u
#define VIRTIO_BLK_ID_BYTES 20u

enum blk_err {
	BLK_ENO_STATUS = 1, /* the chain does not end in a device-writable byte */
	BLK_ENR_ERRORS
};

/* What one request asks for; valid with its chain. */
struct blk_req {
	uint32_t type;      /* VIRTIO_BLK_T_* as the guest wrote it */
	uint64_t sector;    /* IN/OUT: the first sector */
	uint32_t data_len;  /* bytes of data: IN/OUT a multiple of 512, GET_ID the room */
	uint8_t *status;    /* the status byte in guest RAM */
	uint64_t status_gpa; /* its guest-physical address */
	uint8_t verdict;    /* VIRTIO_BLK_S_OK: serve it; else the status to return as is */
};

/*
 * Parse chain c for a disk of capacity sectors, at most max_bytes of data a
 * request. 0 with *r filled (r->verdict says whether to serve it), or
 * -BLK_ENO_STATUS (nothing in *r is valid).
 */
int blk__parse(const struct virtq_chain *c, uint64_t capacity, uint32_t max_bytes,
	       struct blk_req *r);

/* One piece of a request's data in guest RAM. */
struct blk_seg {
	uint8_t *ptr;
	uint64_t gpa;       /* guest-physical address of ptr */
	uint32_t len;
};

/*
 * The data of request r (parsed from c) as pieces of guest RAM, in order:
 * the readable bytes after the header (OUT) or the writable bytes before the
 * status (IN, GET_ID). Fills at most max into out; the number filled. The
 * lengths add up to r->data_len when max is c->nr_segs or more.
 */
unsigned blk__data_segs(const struct virtq_chain *c, const struct blk_req *r,
			struct blk_seg *out, unsigned max);

#endif
