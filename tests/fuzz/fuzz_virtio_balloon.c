/*
 * libFuzzer target: the virtio-balloon device (balloon/virtio_balloon.c)
 * and its virtio-mmio transport (virtio/mmio.c) against a hostile driver.
 * The input is a program: register reads and writes of any offset and
 * size, writes into guest RAM (rings, descriptors, PFN arrays: the guest
 * owns them all), target changes and stats requests from the host, and a
 * shortcut that does a correct driver initialisation so that inputs reach
 * the queues quickly. Guest RAM is 2 MiB at gpa 0 over a real p2m and
 * balloon core. Invariants after every step: the interrupt line is
 * (InterruptStatus != 0); the core's actual count equals the p2m's
 * BALLOONED frames; DEVICE_NEEDS_RESET comes with a reason; no access
 * outside RAM (ASan).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "balloon/virtio_balloon.h"

#define RAM_BYTES 0x200000ull
#define NR_FRAMES (RAM_BYTES >> 12)
#define QSIZE 16

struct world {
	uint8_t *ram;
	struct virtq_mem mem;
	struct p2m p2m;
	struct balloon b;
	struct virtio_balloon *d;
	struct virtio_mmio *t;
	bool irq;
};

static void *ram_ptr(void *ctx, uint64_t gpa, uint64_t len)
{
	struct world *w = ctx;
	if (gpa >= RAM_BYTES || len > RAM_BYTES - gpa)
		return NULL;
	return w->ram + gpa;
}

static int discard(void *ctx, uint64_t gfn, uint64_t n)
{
	struct world *w = ctx;
	if (gfn >= NR_FRAMES || n > NR_FRAMES - gfn)
		abort(); /* the core checked the range */
	memset(w->ram + (gfn << 12), 0, n << 12);
	return 0;
}

static void set_irq(void *ctx, bool level)
{
	struct world *w = ctx;
	if (w->irq == level)
		abort(); /* only changes are signalled */
	w->irq = level;
}

static void wr(struct world *w, uint64_t off, uint32_t v)
{
	virtio_mmio__write(w->t, off, &v, 4);
}

/* A correct driver bring-up with features f: queues at 0x10000 + q * 0x1000. */
static void driver_init(struct world *w, uint64_t f)
{
	wr(w, VIRTIO_MMIO_STATUS, 0);
	wr(w, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(w, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(w, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(w, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(w, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	wr(w, VIRTIO_MMIO_STATUS, 0xb);
	for (unsigned q = 0; q < 4; q++) {
		uint64_t ring = 0x10000 + q * 0x1000;
		wr(w, VIRTIO_MMIO_QUEUE_SEL, q);
		wr(w, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		wr(w, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)ring);
		wr(w, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)ring + 0x100);
		wr(w, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)ring + 0x200);
		wr(w, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr(w, VIRTIO_MMIO_STATUS, 0xf);
}

static void check(struct world *w)
{
	struct virtio_balloon_state s;
	virtio_balloon__state(w->d, &s);
	if (w->irq != (s.t.isr != 0))
		abort();
	if ((s.t.status & VIRTIO_STATUS_NEEDS_RESET) && !s.t.needs_reset_reason[0])
		abort();
	if ((s.t.status & VIRTIO_STATUS_DRIVER_OK) && !(s.t.status & VIRTIO_STATUS_FEATURES_OK))
		abort();
	struct balloon_snapshot b;
	balloon__snapshot(&w->b, &b);
	if (b.actual_frames != w->p2m.count[P2M_BALLOONED])
		abort();
}

/* Take n bytes of the input, or NULL when it runs out. */
static const uint8_t *take(const uint8_t **data, size_t *size, size_t n)
{
	if (*size < n)
		return NULL;
	const uint8_t *p = *data;
	*data += n;
	*size -= n;
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned sizes[] = { 4, 4, 4, 1, 2, 8, 3, 0 };
	struct world *w = calloc(1, sizeof(*w));
	w->ram = calloc(1, RAM_BYTES);
	w->mem = (struct virtq_mem){ .gpa_ptr = ram_ptr, .ctx = w };
	if (p2m__init(&w->p2m, NR_FRAMES))
		abort();
	p2m__move(&w->p2m, 0, NR_FRAMES, P2M_ANY, P2M_PRIVATE, NULL, NULL);
	struct balloon_mem bm = { .p2m = &w->p2m, .ctx = w, .discard = discard };
	if (balloon__init(&w->b, &bm))
		abort();
	w->d = virtio_balloon__create(&w->b, &w->mem, set_irq, w);
	if (!w->d)
		abort();
	w->t = virtio_balloon__transport(w->d);

	const uint8_t *p;
	while ((p = take(&data, &size, 1))) {
		uint8_t op = p[0];
		switch (op % 6) {
		case 0: /* register write: u16 offset (mod 0x200), size, u64 value */
		case 1: /* register read */
			if (!(p = take(&data, &size, 11)))
				break;
			{
				uint16_t off;
				uint64_t v;
				memcpy(&off, p, 2);
				memcpy(&v, p + 3, 8);
				unsigned sz = sizes[p[2] & 7];
				uint8_t buf[8];
				memcpy(buf, &v, 8);
				if (op % 6 == 0)
					virtio_mmio__write(w->t, off % 0x200, buf, sz);
				else
					virtio_mmio__read(w->t, off % 0x200, buf, sz);
			}
			break;
		case 2: /* guest RAM write: u24 gpa, u8 len, bytes */
			if (!(p = take(&data, &size, 4)))
				break;
			{
				uint32_t gpa = (p[0] | p[1] << 8 | (uint32_t)p[2] << 16) % RAM_BYTES;
				size_t n = p[3];
				if (n > RAM_BYTES - gpa)
					n = RAM_BYTES - gpa;
				if (!(p = take(&data, &size, n)))
					break;
				memcpy(w->ram + gpa, p, n);
			}
			break;
		case 3: /* the host changes the target */
			if (!(p = take(&data, &size, 2)))
				break;
			balloon__set_target(&w->b, (uint64_t)(p[0] | p[1] << 8));
			break;
		case 4:
			virtio_balloon__request_stats(w->d);
			break;
		case 5: /* a bring-up by the book, features from the opcode's high bits
			 * (0x20: one not offered, so FEATURES_OK is refused) */
			driver_init(w, 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_RING_F_INDIRECT_DESC |
				    (op & 0x08 ? 1ull << VIRTIO_BALLOON_F_STATS_VQ : 0) |
				    (op & 0x10 ? 1ull << VIRTIO_BALLOON_F_PAGE_REPORTING : 0) |
				    (op & 0x20 ? 1ull << VIRTIO_BALLOON_F_FREE_PAGE_HINT : 0) |
				    (op & 0x40 ? 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM : 0) |
				    (op & 0x80 ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0));
			break;
		}
		check(w);
	}

	virtio_balloon__destroy(w->d);
	balloon__destroy(&w->b);
	p2m__destroy(&w->p2m);
	free(w->ram);
	free(w);
	return 0;
}
