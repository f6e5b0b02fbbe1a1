/* SPDX-License-Identifier: MIT */
/*
 * DOC: the virtio-mmio transport, device side (virtio 1.2 §4.2, version 2).
 *
 * One struct virtio_mmio per device: the register file of §4.2.2 at
 * offsets 0x000-0x0ff, the device's configuration space from 0x100, the
 * status state machine of §2.1 / §3.1 and the interrupt line. The device
 * (e.g. balloon/virtio_balloon.c) supplies struct virtio_mmio_ops and
 * serves its queues; the VMM wires virtio_mmio__read()/virtio_mmio__write()
 * to its MMIO bus (struct bus_dev_ops) with the transport as opaque.
 *
 * Registers are 32 bits wide: any other access below 0x100, an unknown
 * offset, or a write to a read-only register is ignored (reads give 0) and
 * counted in bad_accesses. The configuration space takes 1, 2, 4 and 8
 * byte accesses.
 *
 * Status (§2.1): writing 0 resets the device (queues dropped, features and
 * selectors cleared, InterruptStatus cleared and the line lowered, the
 * device's reset() called). Otherwise the driver's bits are stored, except
 * that FEATURES_OK stays clear unless the driver's features are a subset of
 * the offered ones and include VIRTIO_F_VERSION_1 (§3.1.1: the driver reads
 * it back), DRIVER_OK stays clear without FEATURES_OK, and
 * DEVICE_NEEDS_RESET belongs to the device. DriverFeatures is writable
 * only before FEATURES_OK; the queue registers of a queue only while it is
 * not ready. QueueNumMax reads 0 for a queue the device does not have with
 * the features the driver wrote (ops->nr_queues()), which is how Linux
 * learns that a queue does not exist.
 *
 * QueueReady=1 sets the queue up with virtq__init() over the negotiated
 * features and the written addresses; a failure puts the device in
 * DEVICE_NEEDS_RESET, as does any later queue error the device reports
 * through virtio_mmio__queue_error(): status bit 0x40 set, a configuration
 * change interrupt raised (§2.1.2), every later QueueNotify ignored until
 * the driver writes 0 to Status. QueueReady=0 stops the queue (the
 * device's queue_stop() drops what it holds of it).
 *
 * Notifications are served on the notifying vCPU's thread: QueueNotify
 * calls ops->notify(dev, queue) for a ready queue, whether or not
 * DRIVER_OK is set yet (Linux's virtio-balloon kicks its stats queue before
 * DRIVER_OK and never again). A notification of a queue that is not ready
 * is ignored and counted. VIRTIO_F_NOTIFICATION_DATA and
 * VIRTIO_F_RING_RESET are not offered: the notify value is the queue index,
 * QueueReset reads 0 and ignores writes. There are no shared memory
 * regions (§4.2.2: SHMLen and SHMBase read all ones).
 *
 * Interrupts (§4.2.2): InterruptStatus bit 0 used buffer, bit 1
 * configuration change; the line is level-triggered, set_irq(ctx, level)
 * called whenever (InterruptStatus != 0) changes, InterruptACK clears bits.
 *
 * Locking: t->lock serialises everything in the transport and the device:
 * register accesses from any vCPU thread, and the device's own entry points
 * from host threads (they take it with virtio_mmio__lock()). The ops are
 * called with t->lock held and must not take it again; the functions marked
 * "t->lock held" below are for them. set_irq() is called with t->lock held.
 * Lock order: t->lock before any lock of the device's backend (e.g.
 * struct balloon's lock).
 */
#ifndef L1_VIRTIO_MMIO_H
#define L1_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtq.h"

#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */
#define VIRTIO_MMIO_VERSION 2u
#define VIRTIO_MMIO_VENDOR 0x4c31564du /* "L1VM" */

/* Register offsets (§4.2.2). */
#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION_REG 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_SHM_SEL 0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW 0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH 0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW 0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH 0x0bc
#define VIRTIO_MMIO_QUEUE_RESET 0x0c0
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

/* Device status bits (§2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER 2u
#define VIRTIO_STATUS_DRIVER_OK 4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_NEEDS_RESET 0x40u
#define VIRTIO_STATUS_FAILED 0x80u

/* InterruptStatus bits (§4.2.2). */
#define VIRTIO_MMIO_INT_VRING 1u
#define VIRTIO_MMIO_INT_CONFIG 2u

#define VIRTIO_MMIO_MAX_QUEUES 8

struct virtio_mmio;

/* What a device brings to the transport. Every callback runs with t->lock held. */
struct virtio_mmio_ops {
	uint32_t device_id;
	uint64_t features;       /* offered; VIRTIO_F_VERSION_1 must be among them */
	uint16_t queue_num_max;  /* QueueNumMax of each queue, a power of 2 */
	/* Queues the device has with driver features f (<= VIRTIO_MMIO_MAX_QUEUES). */
	unsigned (*nr_queues)(void *dev, uint64_t f);
	/* size is 1, 2, 4 or 8; off is from the start of the config space.
	 * read fills data (little-endian) whatever off is. */
	void (*config_read)(void *dev, uint64_t off, void *data, unsigned size);
	void (*config_write)(void *dev, uint64_t off, const void *data, unsigned size);
	/* The driver notified queue q, which is ready: pop what it has. */
	void (*notify)(void *dev, unsigned q);
	/* Queue q is being stopped (QueueReady=0): forget its chains. May be NULL. */
	void (*queue_stop)(void *dev, unsigned q);
	/* The driver reset the device: forget everything about the queues. */
	void (*reset)(void *dev);
};

/* Per queue, protected by t->lock. */
struct virtio_mmio_queue {
	uint32_t num;                        /* QueueNum */
	uint64_t desc, driver, device;       /* QueueDesc/Driver/Device */
	bool ready;                          /* QueueReady: vq is set up */
	struct virtq vq;                     /* valid while ready */
};

struct virtio_mmio_counters {
	uint64_t notifies;         /* QueueNotify writes served */
	uint64_t notifies_ignored; /* not ready, out of range, or the device needs a reset */
	uint64_t interrupts;       /* InterruptStatus bits raised (0 -> 1 transitions) */
	uint64_t resets;           /* Status written 0 */
	uint64_t needs_reset;      /* times the device entered DEVICE_NEEDS_RESET */
	uint64_t features_refused; /* FEATURES_OK writes refused */
	uint64_t bad_accesses;     /* wrong size, unknown offset, read-only register */
};

/*
 * A transport. Every field after lock is protected by it; ops, dev, mem,
 * set_irq and irq_ctx are fixed at virtio_mmio__init().
 */
struct virtio_mmio {
	pthread_mutex_t lock;
	const struct virtio_mmio_ops *ops;
	void *dev;
	struct virtq_mem mem;
	void (*set_irq)(void *ctx, bool level);
	void *irq_ctx;

	uint32_t status;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint64_t driver_features;  /* as written; negotiated once FEATURES_OK is set */
	uint32_t isr;              /* InterruptStatus */
	bool irq_level;            /* what set_irq() was last told */
	uint32_t config_generation;
	struct virtio_mmio_queue q[VIRTIO_MMIO_MAX_QUEUES];
	struct virtio_mmio_counters c;
	char needs_reset_reason[128]; /* why the device last entered NEEDS_RESET */
};

/* Set t up for device dev, in the reset state. 0 or -errno. ops and *mem must outlive t. */
int virtio_mmio__init(struct virtio_mmio *t, const struct virtio_mmio_ops *ops, void *dev,
		      const struct virtq_mem *mem, void (*set_irq)(void *ctx, bool level),
		      void *irq_ctx);
void virtio_mmio__destroy(struct virtio_mmio *t);

/* struct bus_dev_ops callbacks; opaque is the struct virtio_mmio. Take t->lock. */
void virtio_mmio__read(void *opaque, uint64_t offset, void *data, unsigned size);
void virtio_mmio__write(void *opaque, uint64_t offset, const void *data, unsigned size);

/* For the device's own entry points from host threads. */
void virtio_mmio__lock(struct virtio_mmio *t);
void virtio_mmio__unlock(struct virtio_mmio *t);

/* The negotiated features: 0 until the driver set FEATURES_OK. t->lock held. */
uint64_t virtio_mmio__features(const struct virtio_mmio *t);

/*
 * Queue q to serve, or NULL when it is not ready or the device needs a
 * reset. t->lock held.
 */
struct virtq *virtio_mmio__queue(struct virtio_mmio *t, unsigned q);

/*
 * Queue q failed with err (a negative VIRTQ_E* from virtq__pop/push): enter
 * DEVICE_NEEDS_RESET, recording why. t->lock held.
 */
void virtio_mmio__queue_error(struct virtio_mmio *t, unsigned q, int err);

/*
 * After pushing chains to queue q: raise the used buffer interrupt if
 * virtq__should_notify() says the driver wants it. t->lock held.
 */
void virtio_mmio__used(struct virtio_mmio *t, unsigned q);

/*
 * The device changed its configuration space: bump ConfigGeneration and,
 * once DRIVER_OK is set, raise the configuration change interrupt.
 * t->lock held.
 */
void virtio_mmio__config_changed(struct virtio_mmio *t);

/* A copy of the transport's state, for the tree and the tests. Takes t->lock. */
struct virtio_mmio_state {
	uint32_t status;
	uint64_t driver_features; /* negotiated (0 before FEATURES_OK) */
	uint32_t isr;
	bool irq_level;
	uint32_t config_generation;
	uint32_t queues_ready;    /* bit per ready queue */
	struct virtio_mmio_counters c;
	char needs_reset_reason[128];
};
void virtio_mmio__state(struct virtio_mmio *t, struct virtio_mmio_state *out);

#endif
