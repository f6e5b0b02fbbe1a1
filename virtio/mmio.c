/* SPDX-License-Identifier: MIT */
/*
 * DOC: the virtio-mmio transport (mmio.h): register decoding and the status
 * state machine. Every guest access is decoded against a fixed table of
 * offsets and does bounded work; the only loops run over the transport's
 * own queues.
 */
#include "virtio/mmio.h"

#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int virtio_mmio__init(struct virtio_mmio *t, const struct virtio_mmio_ops *ops, void *dev,
		      const struct virtq_mem *mem, void (*set_irq)(void *ctx, bool level),
		      void *irq_ctx)
{
	if (!(ops->features & (1ull << VIRTIO_F_VERSION_1)) || !ops->queue_num_max ||
	    ops->queue_num_max & (ops->queue_num_max - 1))
		return -EINVAL;
	*t = (struct virtio_mmio){ .ops = ops, .dev = dev, .mem = *mem, .set_irq = set_irq,
				   .irq_ctx = irq_ctx };
	return -pthread_mutex_init(&t->lock, NULL);
}

void virtio_mmio__destroy(struct virtio_mmio *t)
{
	pthread_mutex_destroy(&t->lock);
}

void virtio_mmio__lock(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
}

void virtio_mmio__unlock(struct virtio_mmio *t)
{
	pthread_mutex_unlock(&t->lock);
}

static void update_irq(struct virtio_mmio *t)
{
	bool level = t->isr != 0;
	if (level == t->irq_level)
		return;
	t->irq_level = level;
	if (t->set_irq)
		t->set_irq(t->irq_ctx, level);
}

static void raise(struct virtio_mmio *t, uint32_t bits)
{
	if (bits & ~t->isr)
		t->c.interrupts++;
	t->isr |= bits;
	update_irq(t);
}

uint64_t virtio_mmio__features(const struct virtio_mmio *t)
{
	return t->status & VIRTIO_STATUS_FEATURES_OK ? t->driver_features : 0;
}

struct virtq *virtio_mmio__queue(struct virtio_mmio *t, unsigned q)
{
	if (q >= VIRTIO_MMIO_MAX_QUEUES || !t->q[q].ready || (t->status & VIRTIO_STATUS_NEEDS_RESET))
		return NULL;
	return &t->q[q].vq;
}

__attribute__((format(printf, 2, 3)))
static void needs_reset(struct virtio_mmio *t, const char *fmt, ...);

void virtio_mmio__queue_error(struct virtio_mmio *t, unsigned q, int err)
{
	needs_reset(t, "queue %u: %s", q, virtq__strerror(err));
}

static void needs_reset(struct virtio_mmio *t, const char *fmt, ...)
{
	if (t->status & VIRTIO_STATUS_NEEDS_RESET)
		return; /* the first reason is the one that matters */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->needs_reset_reason, sizeof(t->needs_reset_reason), fmt, ap);
	va_end(ap);
	t->status |= VIRTIO_STATUS_NEEDS_RESET;
	t->c.needs_reset++;
	raise(t, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio__used(struct virtio_mmio *t, unsigned q)
{
	if (q < VIRTIO_MMIO_MAX_QUEUES && t->q[q].ready && virtq__should_notify(&t->q[q].vq))
		raise(t, VIRTIO_MMIO_INT_VRING);
}

void virtio_mmio__config_changed(struct virtio_mmio *t)
{
	t->config_generation++;
	if (t->status & VIRTIO_STATUS_DRIVER_OK)
		raise(t, VIRTIO_MMIO_INT_CONFIG);
}

static void reset(struct virtio_mmio *t)
{
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		t->q[i] = (struct virtio_mmio_queue){ 0 };
	t->status = 0;
	t->device_features_sel = t->driver_features_sel = t->queue_sel = 0;
	t->driver_features = 0;
	t->isr = 0;
	update_irq(t);
	t->c.resets++;
	t->ops->reset(t->dev);
}

/* §3.1.1 step 5: a subset of what was offered, and a virtio 1.x driver. */
static bool features_ok(const struct virtio_mmio *t)
{
	uint64_t f = t->driver_features;
	return !(f & ~t->ops->features) && (f & (1ull << VIRTIO_F_VERSION_1));
}

static void write_status(struct virtio_mmio *t, uint32_t v)
{
	if (v == 0) {
		reset(t);
		return;
	}
	uint32_t old = t->status;
	v &= ~VIRTIO_STATUS_NEEDS_RESET;
	v |= old & VIRTIO_STATUS_NEEDS_RESET;
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    !features_ok(t)) {
		v &= ~VIRTIO_STATUS_FEATURES_OK;
		t->c.features_refused++;
	}
	if (!(v & VIRTIO_STATUS_FEATURES_OK))
		v &= ~VIRTIO_STATUS_DRIVER_OK;
	t->status = v;
}

static unsigned nr_queues(const struct virtio_mmio *t)
{
	unsigned n = t->ops->nr_queues(t->dev, t->driver_features);
	return n < VIRTIO_MMIO_MAX_QUEUES ? n : VIRTIO_MMIO_MAX_QUEUES;
}

/* The selected queue if it exists; NULL otherwise. */
static struct virtio_mmio_queue *selected(struct virtio_mmio *t)
{
	return t->queue_sel < nr_queues(t) ? &t->q[t->queue_sel] : NULL;
}

static void queue_ready(struct virtio_mmio *t, struct virtio_mmio_queue *mq, uint32_t v)
{
	unsigned i = (unsigned)(mq - t->q);
	if (!v) {
		if (mq->ready && t->ops->queue_stop)
			t->ops->queue_stop(t->dev, i);
		mq->ready = false;
		return;
	}
	if (mq->ready)
		return;
	struct virtq_config cfg = { .features = virtio_mmio__features(t), .size = mq->num,
				    .desc_gpa = mq->desc, .driver_gpa = mq->driver,
				    .device_gpa = mq->device };
	int err = mq->num > t->ops->queue_num_max ? -VIRTQ_ESIZE : virtq__init(&mq->vq, &cfg, &t->mem);
	if (err) {
		needs_reset(t, "queue %u set up: %s", i, virtq__strerror(err));
		return;
	}
	mq->ready = true;
}

static void queue_notify(struct virtio_mmio *t, uint32_t q)
{
	if (q >= nr_queues(t) || !virtio_mmio__queue(t, q)) {
		t->c.notifies_ignored++;
		return;
	}
	t->c.notifies++;
	t->ops->notify(t->dev, q);
}

static void set_half(uint64_t *reg, bool high, uint32_t v)
{
	unsigned shift = high ? 32 : 0;
	*reg = (*reg & ~(0xffffffffull << shift)) | (uint64_t)v << shift;
}

static uint32_t read_reg(struct virtio_mmio *t, uint64_t off)
{
	struct virtio_mmio_queue *mq = selected(t);
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION_REG:
		return VIRTIO_MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return t->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return t->device_features_sel < 2
			? (uint32_t)(t->ops->features >> (32 * t->device_features_sel)) : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return mq ? t->ops->queue_num_max : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return mq && mq->ready;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return t->isr;
	case VIRTIO_MMIO_STATUS:
		return t->status;
	case VIRTIO_MMIO_QUEUE_RESET:
		return 0;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		return 0xffffffff; /* no such region */
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return t->config_generation;
	}
	t->c.bad_accesses++;
	return 0;
}

static void write_reg(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct virtio_mmio_queue *mq = selected(t);
	/* queue registers: only for a queue that exists and is not ready (§4.2.2) */
	bool q_ok = mq && !mq->ready;
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->device_features_sel = v;
		return;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (t->driver_features_sel < 2 && !(t->status & VIRTIO_STATUS_FEATURES_OK)) {
			set_half(&t->driver_features, t->driver_features_sel, v);
			return;
		}
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->driver_features_sel = v;
		return;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = v;
		return;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (q_ok) {
			mq->num = v;
			return;
		}
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (mq) {
			queue_ready(t, mq, v);
			return;
		}
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		queue_notify(t, v);
		return;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		t->isr &= ~v;
		update_irq(t);
		return;
	case VIRTIO_MMIO_STATUS:
		write_status(t, v);
		return;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (q_ok) {
			set_half(&mq->desc, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, v);
			return;
		}
		break;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		if (q_ok) {
			set_half(&mq->driver, off == VIRTIO_MMIO_QUEUE_DRIVER_HIGH, v);
			return;
		}
		break;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		if (q_ok) {
			set_half(&mq->device, off == VIRTIO_MMIO_QUEUE_DEVICE_HIGH, v);
			return;
		}
		break;
	case VIRTIO_MMIO_QUEUE_RESET:
		return; /* VIRTIO_F_RING_RESET is not offered */
	case VIRTIO_MMIO_SHM_SEL:
		return; /* there are no regions to select */
	}
	t->c.bad_accesses++;
}

static bool config_size(unsigned size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

void virtio_mmio__read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	struct virtio_mmio *t = opaque;
	if (size)
		memset(data, 0, size > 8 ? 8 : size);
	pthread_mutex_lock(&t->lock);
	if (offset >= VIRTIO_MMIO_CONFIG && config_size(size)) {
		t->ops->config_read(t->dev, offset - VIRTIO_MMIO_CONFIG, data, size);
	} else if (offset < VIRTIO_MMIO_CONFIG && size == 4 && !(offset & 3)) {
		uint32_t v = htole32(read_reg(t, offset));
		memcpy(data, &v, 4);
	} else {
		t->c.bad_accesses++;
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio__write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct virtio_mmio *t = opaque;
	pthread_mutex_lock(&t->lock);
	if (offset >= VIRTIO_MMIO_CONFIG && config_size(size)) {
		t->ops->config_write(t->dev, offset - VIRTIO_MMIO_CONFIG, data, size);
	} else if (offset < VIRTIO_MMIO_CONFIG && size == 4 && !(offset & 3)) {
		uint32_t v;
		memcpy(&v, data, 4);
		write_reg(t, offset, le32toh(v));
	} else {
		t->c.bad_accesses++;
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio__state(struct virtio_mmio *t, struct virtio_mmio_state *out)
{
	pthread_mutex_lock(&t->lock);
	*out = (struct virtio_mmio_state){
		.status = t->status,
		.driver_features = virtio_mmio__features(t),
		.isr = t->isr,
		.irq_level = t->irq_level,
		.config_generation = t->config_generation,
		.c = t->c,
	};
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		if (t->q[i].ready)
			out->queues_ready |= 1u << i;
	memcpy(out->needs_reset_reason, t->needs_reset_reason, sizeof(out->needs_reset_reason));
	pthread_mutex_unlock(&t->lock);
}
