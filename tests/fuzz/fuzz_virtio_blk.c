/*
 * libFuzzer target: the virtio-blk device (virtio/blk.c), its request parser
 * (virtio/blk_req.c) and its virtio-mmio transport against a hostile driver.
 * The input is a program: register reads and writes of any offset and size,
 * writes into guest RAM (rings, descriptors, headers: the guest owns them
 * all), a correct driver bring-up, and a shortcut that submits one request
 * of any type, sector and length (cut into up to three data descriptors,
 * direct or through an indirect table) so that inputs reach the device's
 * paths quickly. Guest RAM is 1 MiB at gpa 0; the disk is a 64 KiB memfd.
 * Invariants after every step: the interrupt line is (InterruptStatus != 0);
 * DEVICE_NEEDS_RESET comes with a reason; DRIVER_OK only with FEATURES_OK;
 * the disk never grows (no write past the capacity); a read the device
 * answered with S_OK put the file's bytes into guest RAM; no access outside
 * RAM (ASan).
 */
#ifndef _GNU_SOURCE /* the build defines it for every file */
#define _GNU_SOURCE
#endif
#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio/blk.h"

#define RAM_BYTES 0x100000ull
#define DISK_BYTES 0x10000ull
#define QSIZE 16
#define RING 0x10000ull    /* descriptors; driver area +0x100, device area +0x200 */
#define HDR 0x20000ull     /* the shortcut's header, status byte at +0x100 */
#define TABLE 0x21000ull   /* the shortcut's indirect table */
#define DATA 0x40000ull    /* the shortcut's data */

struct world {
	uint8_t *ram;
	struct virtq_mem mem;
	int fd;
	struct virtio_blk *d;
	struct virtio_mmio *t;
	bool irq;
	uint16_t avail_idx;
};

static void *ram_ptr(void *ctx, uint64_t gpa, uint64_t len)
{
	struct world *w = ctx;
	if (gpa >= RAM_BYTES || len > RAM_BYTES - gpa)
		return NULL;
	return w->ram + gpa;
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

static void driver_init(struct world *w, uint64_t f)
{
	wr(w, VIRTIO_MMIO_STATUS, 0);
	wr(w, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(w, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(w, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(w, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(w, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
	wr(w, VIRTIO_MMIO_STATUS, 0xb);
	wr(w, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(w, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(w, VIRTIO_MMIO_QUEUE_DESC_LOW, RING);
	wr(w, VIRTIO_MMIO_QUEUE_DRIVER_LOW, RING + 0x100);
	wr(w, VIRTIO_MMIO_QUEUE_DEVICE_LOW, RING + 0x200);
	wr(w, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(w, VIRTIO_MMIO_STATUS, 0xf);
	/* the driver's view of the ring starts where the device's does */
	w->avail_idx = le16toh(((uint16_t *)(w->ram + RING + 0x100))[1]);
}

static void put_desc(uint8_t *table, unsigned i, uint64_t gpa, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct virtq_desc d = { .addr = htole64(gpa), .len = htole32(len),
				.flags = htole16(flags), .next = htole16(next) };
	memcpy(table + 16ull * i, &d, sizeof(d));
}

/*
 * One request: p[0] type selector, p[1..2] sector (le16), p[3..4] data
 * length (le16, cut in up to 3 pieces by p[5]), p[6] flags: bit 0 indirect,
 * bit 1 no status descriptor.
 */
static void shortcut(struct world *w, const uint8_t *p)
{
	static const uint32_t types[] = { VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH,
					  VIRTIO_BLK_T_GET_ID, 11, 0xffffffff };
	uint32_t type = types[p[0] % 6];
	uint64_t sector = (uint64_t)(p[1] | p[2] << 8);
	uint32_t len = (uint32_t)(p[3] | p[4] << 8) % 0x8000;
	bool indirect = p[6] & 1, no_status = p[6] & 2;
	uint8_t hdr[16] = { 0 };
	uint32_t t = htole32(type);
	uint64_t s = htole64(sector);
	memcpy(hdr, &t, 4);
	memcpy(hdr + 8, &s, 8);
	memcpy(w->ram + HDR, hdr, 16);
	w->ram[HDR + 0x100] = 0xee;
	uint16_t data_flags = type == VIRTIO_BLK_T_OUT ? 0 : VIRTQ_DESC_F_WRITE;
	uint32_t cut[3] = { len, 0, 0 };
	if (len >= 3) {
		cut[0] = len / 3 + (p[5] & 0xf);
		cut[1] = (len - cut[0]) / 2;
		cut[2] = len - cut[0] - cut[1];
	}
	uint8_t *table = indirect ? w->ram + TABLE : w->ram + RING;
	unsigned n = 0;
	uint64_t gpa = DATA;
	put_desc(table, n, HDR, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(n + 1));
	n++;
	for (unsigned i = 0; i < 3; i++) {
		if (!cut[i])
			continue;
		put_desc(table, n, gpa, cut[i], data_flags | VIRTQ_DESC_F_NEXT, (uint16_t)(n + 1));
		gpa += cut[i];
		n++;
	}
	if (!no_status) {
		put_desc(table, n, HDR + 0x100, 1, VIRTQ_DESC_F_WRITE, 0);
		n++;
	} else {
		table[16 * (n - 1) + 12] &= (uint8_t)~VIRTQ_DESC_F_NEXT; /* end the chain there */
	}
	if (indirect)
		put_desc(w->ram + RING, 0, TABLE, 16 * n, VIRTQ_DESC_F_INDIRECT, 0);
	uint16_t *avail = (uint16_t *)(w->ram + RING + 0x100);
	avail[2 + w->avail_idx % QSIZE] = 0;
	avail[1] = htole16(++w->avail_idx);
	wr(w, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	/* a read served with S_OK holds the disk's bytes */
	if (type == VIRTIO_BLK_T_IN && !no_status && w->ram[HDR + 0x100] == VIRTIO_BLK_S_OK) {
		if (len % 512 || (sector + len / 512) * 512 > DISK_BYTES)
			abort(); /* the parser let a bad request through */
		uint8_t *file = malloc(len + 1);
		if (pread(w->fd, file, len, (off_t)sector * 512) != (ssize_t)len ||
		    memcmp(file, w->ram + DATA, len))
			abort();
		free(file);
	}
}

static void check(struct world *w)
{
	struct virtio_blk_state s;
	virtio_blk__state(w->d, &s);
	if (w->irq != (s.t.isr != 0))
		abort();
	if ((s.t.status & VIRTIO_STATUS_NEEDS_RESET) && !s.t.needs_reset_reason[0])
		abort();
	if ((s.t.status & VIRTIO_STATUS_DRIVER_OK) && !(s.t.status & VIRTIO_STATUS_FEATURES_OK))
		abort();
	struct stat st;
	if (fstat(w->fd, &st) || (uint64_t)st.st_size != DISK_BYTES)
		abort();
	if (s.c.bytes_read > s.c.reads * VIRTIO_BLK_MAX_BYTES ||
	    s.c.bytes_written > s.c.writes * VIRTIO_BLK_MAX_BYTES)
		abort();
}

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
	w->fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
	if (w->fd < 0 || ftruncate(w->fd, DISK_BYTES))
		abort();
	w->d = virtio_blk__create(w->fd, DISK_BYTES / 512, "fuzz", &w->mem, set_irq, w);
	if (!w->d)
		abort();
	w->t = virtio_blk__transport(w->d);

	const uint8_t *p;
	while ((p = take(&data, &size, 1))) {
		uint8_t op = p[0];
		switch (op % 5) {
		case 0: /* register write: u16 offset (mod 0x200), size, u64 value */
		case 1: /* register read */
			if (!(p = take(&data, &size, 11)))
				break;
			{
				uint16_t off;
				uint8_t buf[8];
				memcpy(&off, p, 2);
				memcpy(buf, p + 3, 8);
				unsigned sz = sizes[p[2] & 7];
				if (op % 5 == 0)
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
		case 3: /* a bring-up by the book; 0x20: a feature not offered (refused) */
			driver_init(w, 1ull << VIRTIO_F_VERSION_1 |
				    (op & 0x08 ? 1ull << VIRTIO_RING_F_INDIRECT_DESC : 0) |
				    (op & 0x10 ? 1ull << VIRTIO_BLK_F_FLUSH : 0) |
				    (op & 0x20 ? 1ull << 12 /* VIRTIO_BLK_F_MQ */ : 0) |
				    (op & 0x40 ? 1ull << VIRTIO_RING_F_EVENT_IDX : 0));
			break;
		case 4:
			if ((p = take(&data, &size, 7)))
				shortcut(w, p);
			break;
		}
		check(w);
	}

	virtio_blk__destroy(w->d);
	close(w->fd);
	free(w->ram);
	free(w);
	return 0;
}
