/* SPDX-License-Identifier: MIT */
/*
 * DOC: the virtio-blk device (virtio 1.2 §5.2) on the virtio-mmio transport,
 * backed by a host file.
 *
 * Device ID 2, one request queue (queue 0) of VIRTIO_BLK_QUEUE_SIZE entries.
 * Offered: VIRTIO_F_VERSION_1, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_BLK_SIZE,
 * VIRTIO_BLK_F_FLUSH, VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX.
 * Not offered: SIZE_MAX (a request's data is still bounded: above
 * VIRTIO_BLK_MAX_BYTES it fails with IOERR), RO, GEOMETRY, TOPOLOGY,
 * CONFIG_WCE, MQ, DISCARD, WRITE_ZEROES, SECURE_ERASE, LIFETIME.
 *
 * Config space (§5.2.4): le64 capacity (512-byte sectors, the file's size
 * rounded down), le32 size_max 0, le32 seg_max, geometry 0, le32 blk_size
 * 512; everything read-only, the rest of the space reads 0.
 *
 * Requests (virtio/blk_req.h parses them): IN is one pread per data
 * segment, OUT one pwrite per segment, FLUSH is fdatasync(), GET_ID writes
 * the device's id (at most 20 bytes, NUL-padded). Anything else gets
 * VIRTIO_BLK_S_UNSUPP, a malformed request or a host I/O error
 * VIRTIO_BLK_S_IOERR; a chain with no writable status byte is returned with
 * length 0 and counted. A queue the driver breaks (virtq.h) puts the device
 * in DEVICE_NEEDS_RESET. Each notification serves at most
 * VIRTIO_BLK_BUDGET chains; the rest wait for the next one.
 *
 * Requests are served on the notifying vCPU's thread, synchronously, so a
 * driver that polls sees its answer as soon as its notify returns; the
 * used-buffer interrupt follows the driver's wishes (virtq__should_notify).
 * The device reaches guest RAM through the struct virtq_mem it is given
 * (see virtq.h on page sharing), or, once virtio_blk__set_access() gave it
 * an access path, moves request data and writes status bytes and ids only
 * through that path (a bounce buffer of VIRTIO_BLK_BOUNCE_BYTES between it
 * and the file): l1vmm's path knows which frames page sharing or host
 * reclaim holds (l1vmm/dp_host.h). Descriptors, request headers and rings
 * are still read through virtq_mem's pointers.
 *
 * Locking: the transport's lock protects the device (as virtio_balloon.h).
 */
#ifndef L1_VIRTIO_BLK_H
#define L1_VIRTIO_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/blk_req.h"
#include "virtio/mmio.h"

#define VIRTIO_BLK_QUEUE_SIZE 128
#define VIRTIO_BLK_SEG_MAX (VIRTIO_BLK_QUEUE_SIZE - 2) /* data segments: header and status aside */
#define VIRTIO_BLK_MAX_BYTES (1u << 20)                /* data bytes a request */
#define VIRTIO_BLK_BUDGET (2 * VIRTIO_BLK_QUEUE_SIZE)  /* chains a notification */
#define VIRTIO_BLK_CFG_SIZE 24
#define VIRTIO_BLK_BOUNCE_BYTES (64u << 10)

struct virtio_blk_counters {
	uint64_t reads, writes, flushes, get_ids;  /* requests served with S_OK */
	uint64_t bytes_read, bytes_written;        /* guest data moved */
	uint64_t unsupported;                      /* S_UNSUPP returned */
	uint64_t bad_requests;                     /* malformed: S_IOERR returned */
	uint64_t io_errors;                        /* the host file failed: S_IOERR returned */
	uint64_t no_status;                        /* chains without a status byte */
	uint64_t budget_exhausted;                 /* notifications left with chains pending */
	uint64_t access_errors;                    /* the access path refused guest RAM: S_IOERR */
};

/*
 * How the device reaches guest RAM for a request's data, status byte and
 * id: copy len bytes at guest-physical gpa to dst (read) or from src
 * (write). 0, or -1: the request fails with S_IOERR (its status byte, if
 * that fails too, is lost and counted). Called under the transport's lock.
 */
struct virtio_blk_access {
	int (*read)(void *ctx, uint64_t gpa, void *dst, uint32_t len);
	int (*write)(void *ctx, uint64_t gpa, const void *src, uint32_t len);
	void *ctx;
};

struct virtio_blk;

/*
 * A device over the open file fd (read-write; the caller keeps it open
 * while the device lives) of capacity sectors, id its GET_ID string (at
 * most 20 bytes are used), guest RAM mem (copied), interrupting through
 * set_irq(irq_ctx, level) (may be NULL: the driver polls). NULL: out of memory.
 */
struct virtio_blk *virtio_blk__create(int fd, uint64_t capacity, const char *id,
				      const struct virtq_mem *mem,
				      void (*set_irq)(void *ctx, bool level), void *irq_ctx);
void virtio_blk__destroy(struct virtio_blk *d);

/* Serve guest RAM through a (copied; both calls set), or through the
 * segments' pointers again with NULL. Before the driver starts. */
void virtio_blk__set_access(struct virtio_blk *d, const struct virtio_blk_access *a);

/* The opaque for virtio_mmio__read()/virtio_mmio__write() on the MMIO bus. */
struct virtio_mmio *virtio_blk__transport(struct virtio_blk *d);

struct virtio_blk_state {
	struct virtio_mmio_state t;
	uint64_t capacity;
	struct virtio_blk_counters c;
};
void virtio_blk__state(struct virtio_blk *d, struct virtio_blk_state *out);

#endif
