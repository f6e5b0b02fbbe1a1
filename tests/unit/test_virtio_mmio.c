/*
 * Unit tests: the virtio-mmio transport (virtio/mmio.c) with a dummy device
 * of one queue and 8 bytes of config space: the parts of the register file
 * and state machine that do not depend on a device (the balloon tests drive
 * a full device through it).
 */
#include "cmocka_all.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/mmio.h"

#define RAM_BYTES 0x100000ull
#define QSIZE 8
#define DESC 0x1000ull
#define DRIVER 0x2000ull
#define DEVICE 0x3000ull
#define OFFERED (1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_EVENT_IDX | 1ull << 3)

struct fake {
	uint8_t *ram;
	struct virtq_mem mem;
	struct virtio_mmio t;
	uint8_t config[8];
	unsigned notified, resets, stops;
	unsigned irq_calls;
	bool irq;
	bool push_on_notify;
};

static void *ram_ptr(void *ctx, uint64_t gpa, uint64_t len)
{
	struct fake *f = ctx;
	if (gpa >= RAM_BYTES || len > RAM_BYTES - gpa)
		return NULL;
	return f->ram + gpa;
}

static unsigned dummy_nr_queues(void *dev, uint64_t features)
{
	(void)dev;
	(void)features;
	return 1;
}

static void dummy_config_read(void *dev, uint64_t off, void *data, unsigned size)
{
	struct fake *f = dev;
	for (unsigned i = 0; i < size; i++)
		((uint8_t *)data)[i] = off + i < 8 ? f->config[off + i] : 0;
}

static void dummy_config_write(void *dev, uint64_t off, const void *data, unsigned size)
{
	struct fake *f = dev;
	for (unsigned i = 0; i < size; i++)
		if (off + i < 8)
			f->config[off + i] = ((const uint8_t *)data)[i];
}

/* Consume everything and push it back, as a device does. */
static void dummy_notify(void *dev, unsigned q)
{
	struct fake *f = dev;
	f->notified++;
	struct virtq *vq = virtio_mmio__queue(&f->t, q);
	struct virtq_seg seg[QSIZE];
	struct virtq_chain c = { .seg = seg, .max_segs = QSIZE };
	int rc;
	while ((rc = virtq__pop(vq, &c)) > 0)
		virtq__push(vq, c.head, 0);
	if (rc < 0)
		virtio_mmio__queue_error(&f->t, q, rc);
	else
		virtio_mmio__used(&f->t, q);
}

static void dummy_queue_stop(void *dev, unsigned q)
{
	struct fake *f = dev;
	(void)q;
	f->stops++;
}

static void dummy_reset(void *dev)
{
	struct fake *f = dev;
	f->resets++;
}

static void set_irq(void *ctx, bool level)
{
	struct fake *f = ctx;
	f->irq = level;
	f->irq_calls++;
}

static const struct virtio_mmio_ops ops = {
	.device_id = 42,
	.features = OFFERED,
	.queue_num_max = QSIZE,
	.nr_queues = dummy_nr_queues,
	.config_read = dummy_config_read,
	.config_write = dummy_config_write,
	.notify = dummy_notify,
	.queue_stop = dummy_queue_stop,
	.reset = dummy_reset,
};

static uint32_t rd(struct fake *f, uint64_t off)
{
	uint32_t v;
	virtio_mmio__read(&f->t, off, &v, 4);
	return v;
}

static void wr(struct fake *f, uint64_t off, uint32_t v)
{
	virtio_mmio__write(&f->t, off, &v, 4);
}

static void bring_up(struct fake *f, uint64_t features)
{
	wr(f, VIRTIO_MMIO_STATUS, 0);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	wr(f, VIRTIO_MMIO_STATUS, 0xb);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0xb);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, DESC);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, DRIVER);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, DEVICE);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
	wr(f, VIRTIO_MMIO_STATUS, 0xf);
}

static void post(struct fake *f)
{
	struct virtq_desc *d = (struct virtq_desc *)(f->ram + DESC);
	struct virtq_avail *a = (struct virtq_avail *)(f->ram + DRIVER);
	d[0] = (struct virtq_desc){ .addr = 0x8000, .len = 16 };
	a->ring[a->idx % QSIZE] = 0;
	__atomic_store_n(&a->idx, a->idx + 1, __ATOMIC_RELEASE);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

static uint16_t used_idx(struct fake *f)
{
	return ((struct virtq_used *)(f->ram + DEVICE))->idx;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	f->ram = calloc(1, RAM_BYTES);
	f->mem = (struct virtq_mem){ .gpa_ptr = ram_ptr, .ctx = f };
	assert_int_equal(virtio_mmio__init(&f->t, &ops, f, &f->mem, set_irq, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;
	virtio_mmio__destroy(&f->t);
	free(f->ram);
	free(f);
	return 0;
}

static struct virtio_mmio_state st(struct fake *f)
{
	struct virtio_mmio_state s;
	virtio_mmio__state(&f->t, &s);
	return s;
}

static void init_refuses_a_device_without_version_1(void **state)
{
	struct fake *f = *state;
	struct virtio_mmio t;
	struct virtio_mmio_ops legacy = ops;
	legacy.features = 1;
	assert_int_equal(virtio_mmio__init(&t, &legacy, f, &f->mem, set_irq, f), -22);
	struct virtio_mmio_ops odd = ops;
	odd.queue_num_max = 6;
	assert_int_equal(virtio_mmio__init(&t, &odd, f, &f->mem, set_irq, f), -22);
}

static void identity_and_feature_windows(void **state)
{
	struct fake *f = *state;
	assert_int_equal(rd(f, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(f, VIRTIO_MMIO_VERSION_REG), 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), 42);
	assert_int_equal(rd(f, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), (uint32_t)OFFERED);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 1); /* VERSION_1 is bit 32 */
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_RESET), 0);
	wr(f, VIRTIO_MMIO_SHM_SEL, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	assert_int_equal(rd(f, VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
	assert_int_equal(st(f).c.bad_accesses, 0);
	/* a write to the third window is ignored; negotiation still works */
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 0xffffffff);
	bring_up(f, 1ull << VIRTIO_F_VERSION_1 | 1ull << 3);
	assert_int_equal(st(f).driver_features, 1ull << VIRTIO_F_VERSION_1 | 1ull << 3);
	assert_int_equal(st(f).queues_ready, 1);
}

static void used_interrupt_is_a_level(void **state)
{
	struct fake *f = *state;
	bring_up(f, 1ull << VIRTIO_F_VERSION_1);
	post(f);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(f->notified, 1);
	assert_true(f->irq);
	assert_int_equal(f->irq_calls, 1);
	post(f); /* already high: no second edge */
	assert_int_equal(f->irq_calls, 1);
	assert_int_equal(st(f).c.interrupts, 1);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG); /* not the pending bit */
	assert_true(f->irq);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_false(f->irq);
	assert_int_equal(f->irq_calls, 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	/* the driver suppresses interrupts */
	((struct virtq_avail *)(f->ram + DRIVER))->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	post(f);
	assert_int_equal(used_idx(f), 3);
	assert_false(f->irq);
}

static void config_space_and_generation(void **state)
{
	struct fake *f = *state;
	uint64_t v = 0x1122334455667788ull, r = 0;
	virtio_mmio__write(&f->t, VIRTIO_MMIO_CONFIG, &v, 8);
	virtio_mmio__read(&f->t, VIRTIO_MMIO_CONFIG, &r, 8);
	assert_int_equal(r, v);
	uint16_t h = 0;
	virtio_mmio__read(&f->t, VIRTIO_MMIO_CONFIG + 2, &h, 2);
	assert_int_equal(h, 0x5566);
	uint8_t b3[3] = { 1, 2, 3 };
	virtio_mmio__write(&f->t, VIRTIO_MMIO_CONFIG, b3, 3); /* no such size */
	virtio_mmio__read(&f->t, VIRTIO_MMIO_CONFIG, &r, 8);
	assert_int_equal(r, v);
	assert_int_equal(st(f).c.bad_accesses, 1);

	/* before DRIVER_OK a change bumps the generation only */
	virtio_mmio__lock(&f->t);
	virtio_mmio__config_changed(&f->t);
	virtio_mmio__unlock(&f->t);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), 1);
	assert_false(f->irq);
	bring_up(f, 1ull << VIRTIO_F_VERSION_1);
	virtio_mmio__lock(&f->t);
	virtio_mmio__config_changed(&f->t);
	virtio_mmio__unlock(&f->t);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), 2);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_true(f->irq);
	/* a reset lowers the line */
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_false(f->irq);
	assert_int_equal(rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

static void reset_drops_everything(void **state)
{
	struct fake *f = *state;
	bring_up(f, 1ull << VIRTIO_F_VERSION_1);
	unsigned resets = f->resets;
	wr(f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(f->resets, resets + 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(st(f).driver_features, 0);
	assert_int_equal(st(f).queues_ready, 0);
	post(f); /* the queue is gone */
	assert_int_equal(f->notified, 0);
	assert_int_equal(st(f).c.notifies_ignored, 1);
	/* QueueReady=0 stops a queue and tells the device */
	bring_up(f, 1ull << VIRTIO_F_VERSION_1);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(f->stops, 1);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
}

static void first_error_reason_is_kept(void **state)
{
	struct fake *f = *state;
	bring_up(f, 1ull << VIRTIO_F_VERSION_1);
	virtio_mmio__lock(&f->t);
	virtio_mmio__queue_error(&f->t, 0, -VIRTQ_ELOOP);
	assert_null(virtio_mmio__queue(&f->t, 0));
	virtio_mmio__queue_error(&f->t, 0, -VIRTQ_EBROKEN);
	virtio_mmio__unlock(&f->t);
	struct virtio_mmio_state s = st(f);
	assert_int_equal(s.c.needs_reset, 1);
	assert_int_equal(s.status, 0xf | VIRTIO_STATUS_NEEDS_RESET);
	assert_non_null(strstr(s.needs_reset_reason, "queue 0: a descriptor chain"));
	assert_int_equal(s.isr, VIRTIO_MMIO_INT_CONFIG);
	post(f);
	assert_int_equal(f->notified, 0);
	/* the device's queue broken in its notify: same path */
	bring_up(f, 1ull << VIRTIO_F_VERSION_1);
	memset(f->ram, 0, 0x4000);
	struct virtq_avail *a = (struct virtq_avail *)(f->ram + DRIVER);
	((struct virtq_desc *)(f->ram + DESC))[0] = (struct virtq_desc){ .addr = 0x8000 };
	a->ring[0] = 0;
	__atomic_store_n(&a->idx, 1, __ATOMIC_RELEASE);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	s = st(f);
	assert_int_equal(s.c.needs_reset, 2);
	assert_non_null(strstr(s.needs_reset_reason, "zero-length"));
}

/* vCPU threads hammering registers while a host thread changes config. */
static void *hammer(void *arg)
{
	struct fake *f = arg;
	for (int i = 0; i < 20000; i++) {
		uint32_t v = rd(f, VIRTIO_MMIO_CONFIG_GENERATION);
		(void)v;
		wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	}
	return NULL;
}

static void concurrent_access(void **state)
{
	struct fake *f = *state;
	bring_up(f, 1ull << VIRTIO_F_VERSION_1);
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, hammer, f);
	for (int i = 0; i < 20000; i++) {
		virtio_mmio__lock(&f->t);
		virtio_mmio__config_changed(&f->t);
		virtio_mmio__unlock(&f->t);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(rd(f, VIRTIO_MMIO_CONFIG_GENERATION), 20000);
	wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	assert_false(f->irq);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(init_refuses_a_device_without_version_1, setup,
						teardown),
		cmocka_unit_test_setup_teardown(identity_and_feature_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(used_interrupt_is_a_level, setup, teardown),
		cmocka_unit_test_setup_teardown(config_space_and_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(reset_drops_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(first_error_reason_is_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(concurrent_access, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
