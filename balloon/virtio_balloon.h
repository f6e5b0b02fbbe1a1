/* SPDX-License-Identifier: MIT */
/*
 * DOC: the virtio-balloon device (virtio 1.2 §5.5) on the virtio-mmio
 * transport, in front of a VM's balloon core (balloon.h).
 *
 * Device ID 5. Offered: VIRTIO_F_VERSION_1, VIRTIO_BALLOON_F_STATS_VQ,
 * VIRTIO_BALLOON_F_DEFLATE_ON_OOM, VIRTIO_BALLOON_F_PAGE_REPORTING,
 * VIRTIO_RING_F_INDIRECT_DESC and VIRTIO_RING_F_EVENT_IDX. Not offered:
 * MUST_TELL_HOST (the core discards at inflate, and a deflated frame reads
 * zero until written, so the guest need not wait), FREE_PAGE_HINT (a
 * migration aid) and PAGE_POISON.
 *
 * Queues are numbered as Linux and QEMU number them, compacted: 0 inflateq,
 * 1 deflateq, then statsq if STATS_VQ was negotiated, then reporting_vq if
 * PAGE_REPORTING was.
 *
 *  - inflateq / deflateq: each buffer is an array of le32 PFNs of 4 KiB
 *    frames (= gfns), device-readable only, at most VIRTIO_BALLOON_MAX_PFNS
 *    (Linux sends 256). PFNs outside guest RAM are counted
 *    (pfns_rejected) and dropped; the rest go to balloon__inflate() /
 *    balloon__deflate() as order-0 extents, L1_BALLOON_MAX_EXTENTS at a
 *    time. An extent the core refuses is counted there and skipped, the
 *    ones after it still go. A malformed buffer is refused as a whole
 *    (balloon__refuse_request()). Either way the buffer is returned with
 *    length 0: a refusal is not a broken queue.
 *  - statsq (§5.5.6.3): the device keeps the buffer the driver added until
 *    virtio_balloon__request_stats() returns it; each buffer received is
 *    parsed into balloon__set_guest_stats() (a malformed one is refused and
 *    kept all the same, so the driver's cycle goes on).
 *  - reporting_vq (§5.5.6.7): each device-writable segment is a free
 *    range; the whole 4 KiB frames inside it go to balloon__report_free()
 *    (a partial frame at either end is left alone; Linux reports whole
 *    pages of at least 2 MiB, so there are none). Readable segments are
 *    ignored. The buffer is returned with length 0.
 *
 * Config space: le32 num_pages (the core's target in 4 KiB frames, clamped
 * to 2^32 - 1, read-only), le32 actual (written by the driver, kept and
 * shown: the core counts frames itself), le32 free_page_hint_cmd_id and
 * le32 poison_val, both 0. A target change from the core bumps
 * ConfigGeneration and raises the configuration change interrupt.
 *
 * A queue the driver breaks puts the device in DEVICE_NEEDS_RESET (mmio.h);
 * reset drops the held stats buffer.
 *
 * Each notification serves at most VIRTIO_BALLOON_BUDGET chains of its
 * queue, so a driver that keeps refilling cannot hold the vCPU's thread
 * forever; what is left waits for its next notification (Linux waits for
 * each inflate/deflate buffer before it sends the next, so it never gets
 * there).
 *
 * Locking: the transport's lock (virtio_mmio__lock()) protects the device;
 * the core's lock is taken inside it.
 */
#ifndef L1_BALLOON_VIRTIO_BALLOON_H
#define L1_BALLOON_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "balloon/balloon.h"
#include "virtio/mmio.h"
#include "virtio/virtq.h"

/* Where l1vmm puts the device: virtio_mmio.device=4K@0xd0001000:5 */
#define L1_VIRTIO_BALLOON_GPA 0xd0001000ull
#define L1_VIRTIO_BALLOON_SIZE 0x1000ull
#define L1_VIRTIO_BALLOON_IRQ 5

#define VIRTIO_ID_BALLOON 5
#define VIRTIO_BALLOON_F_MUST_TELL_HOST 0
#define VIRTIO_BALLOON_F_STATS_VQ 1
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_FREE_PAGE_HINT 3
#define VIRTIO_BALLOON_F_PAGE_POISON 4
#define VIRTIO_BALLOON_F_PAGE_REPORTING 5

#define VIRTIO_BALLOON_QUEUE_SIZE 256
#define VIRTIO_BALLOON_MAX_PFNS 4096 /* per inflate/deflate buffer */
#define VIRTIO_BALLOON_BUDGET (4 * VIRTIO_BALLOON_QUEUE_SIZE) /* chains per notification */

/* Config space offsets (§5.5.4), from the start of the config space. */
#define VIRTIO_BALLOON_CFG_NUM_PAGES 0
#define VIRTIO_BALLOON_CFG_ACTUAL 4
#define VIRTIO_BALLOON_CFG_HINT_CMD_ID 8
#define VIRTIO_BALLOON_CFG_POISON 12
#define VIRTIO_BALLOON_CFG_SIZE 16

enum virtio_balloon_queue {
	VIRTIO_BALLOON_Q_INFLATE,
	VIRTIO_BALLOON_Q_DEFLATE,
	VIRTIO_BALLOON_Q_STATS,
	VIRTIO_BALLOON_Q_REPORTING,
	VIRTIO_BALLOON_Q_NONE
};

struct virtio_balloon_counters {
	uint64_t inflate_bufs, deflate_bufs, stats_bufs, report_bufs;
	uint64_t pfns_rejected;   /* PFNs outside guest RAM, dropped */
	uint64_t malformed_bufs;  /* refused as a whole (balloon__refuse_request) */
	uint64_t stats_requests;  /* held stats buffers returned on request */
	uint64_t reported_ranges; /* balloon__report_free() calls that succeeded */
	uint64_t budget_exhausted; /* notifications left with chains pending */
};

struct virtio_balloon;

/*
 * A device in front of b, over guest RAM mem (copied), interrupting
 * through set_irq(irq_ctx, level). Attaches to b as "virtio" (b's notify).
 * NULL on failure (out of memory).
 */
struct virtio_balloon *virtio_balloon__create(struct balloon *b, const struct virtq_mem *mem,
					      void (*set_irq)(void *ctx, bool level),
					      void *irq_ctx);
/* Detaches from the core. No other thread may be inside d or set b's target. */
void virtio_balloon__destroy(struct virtio_balloon *d);

/* The opaque for virtio_mmio__read()/virtio_mmio__write() on the MMIO bus. */
struct virtio_mmio *virtio_balloon__transport(struct virtio_balloon *d);

/*
 * Ask the guest for fresh statistics: return the held stats buffer and
 * interrupt. False when there is none to return (no stats queue, not
 * received yet, or the device needs a reset).
 */
bool virtio_balloon__request_stats(struct virtio_balloon *d);

/* A consistent copy of d's state. */
struct virtio_balloon_state {
	struct virtio_mmio_state t;
	uint32_t num_pages;   /* config: what the guest is asked for */
	uint32_t actual;      /* config: what the driver says it has */
	bool stats_held;
	struct virtio_balloon_counters c;
};
void virtio_balloon__state(struct virtio_balloon *d, struct virtio_balloon_state *out);

/* d's state as lines of "key value", for the tree: bytes written (as snprintf). */
int virtio_balloon__show(struct virtio_balloon *d, char *buf, size_t len);

#endif
