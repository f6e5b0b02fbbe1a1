/* SPDX-License-Identifier: MIT */
/*
 * DOC: the device side of a split virtqueue, hardened against its driver.
 *
 * Follows virtio 1.2 §2.7 (split virtqueues) as configured through
 * virtio-mmio (§4.2.2: QueueNum, QueueDesc, QueueDriver, QueueDevice). The
 * guest owns every byte of the three ring areas and of every buffer, so
 * nothing it writes is trusted:
 *
 *  - virtq__init(): the queue size is a power of 2 in [1, 32768]; the
 *    descriptor table, driver (available) and device (used) areas have the
 *    §2.7 alignments (16, 2, 4), lie wholly inside guest RAM (overflow-safe)
 *    and do not overlap; VIRTIO_F_VERSION_1 was negotiated and the packed
 *    ring was not.
 *  - virtq__pop(): avail->idx is read once with acquire ordering and may be
 *    at most the queue size ahead of what the device consumed (else the
 *    driver lied); the head and every `next` index are in range; a chain is
 *    bounded by the queue size (a longer walk is a loop); every buffer is
 *    non-empty, does not wrap the 64-bit address space and lies in one piece
 *    of guest RAM; readable buffers come before writable ones; the total
 *    length fits the used ring's 32 bits. VIRTQ_DESC_F_INDIRECT (when
 *    VIRTIO_RING_F_INDIRECT_DESC was negotiated): the table is inside guest
 *    RAM, its length a non-zero multiple of 16 and at most the queue size
 *    entries, not combined with NEXT, no nested indirect, loops bounded.
 *    Each descriptor is copied once before it is checked, so the guest
 *    cannot change it between check and use.
 *  - virtq__push(): writes the used element, then used->idx with release
 *    ordering; virtq__should_notify() honours VIRTQ_AVAIL_F_NO_INTERRUPT or,
 *    with VIRTIO_RING_F_EVENT_IDX, used_event (and the device keeps
 *    avail_event up to date in virtq__pop()).
 *
 * Any violation by the guest is a negative VIRTQ_E* code (virtq__strerror()
 * says what was wrong) and leaves the queue broken: every later call returns
 * -VIRTQ_EBROKEN until virtq__init() again, so the device can set
 * DEVICE_NEEDS_RESET (§2.1.2) and carry on. Nothing outside guest RAM is
 * ever read or written; guest RAM is reached only through struct virtq_mem.
 *
 * Not supported yet: packed virtqueues (§2.8), legacy (pre-1.0) layouts and
 * their 4096-byte used-ring alignment, VIRTIO_F_IN_ORDER, notification
 * suppression from the device side (VIRTQ_USED_F_NO_NOTIFY is never set;
 * with EVENT_IDX avail_event always asks for the next buffer), and buffers
 * that straddle two RAM regions (e.g. the MMIO hole: refused as out of RAM).
 *
 * Not thread-safe: one thread owns a queue (the device's), as in kvmtool.
 */
#ifndef L1_VIRTIO_VIRTQ_H
#define L1_VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIRTQ_MAX_SIZE 32768u

/* Feature bits (§6) that change the ring layout or the walk. */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_RING_PACKED 34

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

/* The guest ABI (§2.7.5, §2.7.6, §2.7.8): all fields little-endian. */
struct virtq_desc {
	uint64_t addr;  /* le64 guest-physical */
	uint32_t len;   /* le32 */
	uint16_t flags; /* le16 VIRTQ_DESC_F_* */
	uint16_t next;  /* le16, valid with VIRTQ_DESC_F_NEXT */
};
_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc is 16 bytes (§2.7.5)");

struct virtq_avail {
	uint16_t flags;  /* le16 VIRTQ_AVAIL_F_* */
	uint16_t idx;    /* le16 free-running: next slot the driver fills */
	uint16_t ring[]; /* le16 heads, [size], then le16 used_event */
};

struct virtq_used_elem {
	uint32_t id;  /* le32 head of the chain */
	uint32_t len; /* le32 bytes written into its writable buffers */
};
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtq_used_elem is 8 bytes (§2.7.8)");

struct virtq_used {
	uint16_t flags; /* le16 VIRTQ_USED_F_* */
	uint16_t idx;   /* le16 free-running: next slot the device fills */
	struct virtq_used_elem ring[]; /* [size], then le16 avail_event */
};

/* Bytes of each area for a queue of size entries, event fields included. */
#define VIRTQ_DESC_BYTES(size) (16ull * (size))
#define VIRTQ_AVAIL_BYTES(size) (6ull + 2ull * (size))
#define VIRTQ_USED_BYTES(size) (6ull + 8ull * (size))

/*
 * Guest RAM as the device sees it: a host pointer to guest bytes
 * [gpa, gpa + len), or NULL when any of them is not RAM (ept__gpa_ptr()'s
 * contract; len > 0 whenever this module asks). The used ring and writable
 * segments are written through these pointers, so the provider must hand
 * out memory the device may write. With page sharing (dedup/), frames that
 * are shared must be made private first, which ept__gpa_ptr() alone does not
 * do: virtq__init() calls device_writes() (optional) for the used ring, the
 * only guest memory this module writes, before it takes the pointer; a
 * negative return refuses the queue (-VIRTQ_ERING_RANGE).
 */
struct virtq_mem {
	void *(*gpa_ptr)(void *ctx, uint64_t gpa, uint64_t len);
	int (*device_writes)(void *ctx, uint64_t gpa, uint64_t len);
	void *ctx;
};

/* What the driver wrote to the virtio-mmio queue registers, and the features. */
struct virtq_config {
	uint64_t features;   /* negotiated feature bits */
	uint32_t size;       /* QueueNum */
	uint64_t desc_gpa;   /* QueueDescLow/High */
	uint64_t driver_gpa; /* QueueDriverLow/High: the available ring */
	uint64_t device_gpa; /* QueueDeviceLow/High: the used ring */
};

enum virtq_err {
	VIRTQ_EBROKEN = 1,       /* an earlier error broke the queue */
	VIRTQ_EFEATURES,         /* VERSION_1 missing or the packed ring negotiated */
	VIRTQ_ESIZE,             /* size not a power of 2 in [1, 32768] */
	VIRTQ_EALIGN,            /* a ring area misaligned */
	VIRTQ_ERING_RANGE,       /* a ring area not inside guest RAM */
	VIRTQ_ERING_OVERLAP,     /* two ring areas overlap */
	VIRTQ_EAVAIL_IDX,        /* avail->idx more than the queue size ahead */
	VIRTQ_EHEAD_RANGE,       /* an available head >= size */
	VIRTQ_ENEXT_RANGE,       /* a next index outside its table */
	VIRTQ_ELOOP,             /* a chain longer than its table: a loop */
	VIRTQ_EBUF_ZERO,         /* a zero-length buffer */
	VIRTQ_EBUF_WRAP,         /* addr + len wraps the address space */
	VIRTQ_EBUF_RANGE,        /* a buffer not inside guest RAM */
	VIRTQ_EORDER,            /* a readable buffer after a writable one */
	VIRTQ_ETOTAL_LEN,        /* the chain's total length above 4 GiB - 1 */
	VIRTQ_ESEGS,             /* more buffers than the device accepts */
	VIRTQ_EINDIRECT_FEATURE, /* INDIRECT used but not negotiated */
	VIRTQ_EINDIRECT_NEXT,    /* INDIRECT together with NEXT */
	VIRTQ_EINDIRECT_NESTED,  /* INDIRECT inside an indirect table */
	VIRTQ_EINDIRECT_LEN,     /* table length 0 or not a multiple of 16 */
	VIRTQ_EINDIRECT_SIZE,    /* table longer than the queue size */
	VIRTQ_EINDIRECT_RANGE,   /* table not inside guest RAM or wraps */
	VIRTQ_EUSED_ID,          /* device bug: pushing an id >= size */
	VIRTQ_EUSED_NONE,        /* device bug: pushing with nothing popped */
	VIRTQ_ENR_ERRORS
};

/* One line saying what err (negative VIRTQ_E* or 0) means; never NULL. */
const char *virtq__strerror(int err);

/*
 * One guest buffer, checked: len bytes of guest RAM at host address ptr,
 * guest-physical gpa (for devices that act on guest frames, e.g. free page
 * reporting).
 */
struct virtq_seg {
	void *ptr;
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

/*
 * A walked chain. The caller sets seg and max_segs (its capacity); pop fills
 * the rest. Valid until the chain is pushed back. Readable segments come
 * first: seg[0, nr_readable), then the writable ones.
 */
struct virtq_chain {
	struct virtq_seg *seg;
	unsigned max_segs;
	unsigned nr_segs;
	unsigned nr_readable;
	uint16_t head;      /* the id to push back */
	uint32_t readable;  /* total bytes of the readable segments */
	uint32_t writable;  /* total bytes of the writable segments */
};

/*
 * The device's state of one queue. Every field is set by virtq__init() and
 * owned by the device thread; the ring pointers stay valid while guest RAM
 * is mapped.
 */
struct virtq {
	struct virtq_mem mem;
	uint16_t size;
	bool event_idx;             /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;              /* VIRTIO_RING_F_INDIRECT_DESC negotiated */
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	uint16_t last_avail;        /* next avail slot to consume (free-running) */
	uint16_t used_idx;          /* next used slot to fill (free-running) */
	uint16_t signalled_used;    /* used_idx at the last notification... */
	bool signalled_valid;       /* ...once there was one (EVENT_IDX only) */
	uint32_t inflight;          /* popped and not yet pushed */
	int broken;                 /* 0, or the error that broke the queue */
};

/* Check cfg and set q up over mem (indices at 0). 0 or a negative VIRTQ_E*. */
int virtq__init(struct virtq *q, const struct virtq_config *cfg, const struct virtq_mem *mem);

/*
 * Take the next available chain into c: 1 (c filled), 0 (queue empty), or a
 * negative VIRTQ_E* (the queue is now broken; c's contents are undefined).
 * Pop until 0 on each notification: with EVENT_IDX, that is when the device
 * asks to be kicked again (avail_event). A chain with more buffers than
 * c->max_segs (-VIRTQ_ESEGS) breaks the queue too: the device cannot serve it.
 */
int virtq__pop(struct virtq *q, struct virtq_chain *c);

/*
 * Return chain head id to the driver having written len bytes into it.
 * 0, -VIRTQ_EBROKEN, or -VIRTQ_EUSED_ID / -VIRTQ_EUSED_NONE (a device bug,
 * nothing written, the queue stays usable).
 */
int virtq__push(struct virtq *q, uint16_t id, uint32_t len);

/*
 * After pushes: does the driver want an interrupt for them? Also records
 * the notification as sent (EVENT_IDX), so call it once per batch.
 */
bool virtq__should_notify(struct virtq *q);

/*
 * Copy up to len readable bytes of c, from byte off of its readable part,
 * into dst: the number copied (less than len at the end of the data).
 */
size_t virtq__chain_read(const struct virtq_chain *c, uint64_t off, void *dst, size_t len);

#endif
