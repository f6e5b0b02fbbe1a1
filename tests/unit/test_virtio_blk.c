/*
 * Unit tests: the virtio-blk request parser (virtio/blk_req.c) on chains as
 * virtq__pop() hands them over, and the device (virtio/blk.c) through its
 * virtio-mmio transport over fake guest RAM and a temporary disk file: a
 * driver's bring-up, reads, writes, flush, GET_ID, and what a hostile driver
 * gets (IOERR, UNSUPP, DEVICE_NEEDS_RESET), never an access outside RAM.
 */
#include "cmocka_all.h"

#include <endian.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "virtio/blk.h"

#define RAM_BYTES 0x40000ull
#define CAPACITY 64 /* sectors */
#define QSIZE 8
#define RING 0x1000ull /* descriptors; driver area at +0x100, device at +0x200 */

static uint8_t ram[RAM_BYTES];

static void *ram_ptr(void *ctx, uint64_t gpa, uint64_t len)
{
	(void)ctx;
	if (gpa >= RAM_BYTES || len > RAM_BYTES - gpa)
		return NULL;
	return ram + gpa;
}

static const struct virtq_mem mem = { .gpa_ptr = ram_ptr };

/* ---- the parser ---- */

static struct virtq_seg seg[8];

/* A chain of segments at gpa 0x8000 + 0x1000 * i with the given lengths;
 * writable from index first_w on. */
static struct virtq_chain chain(const uint32_t *lens, unsigned n, unsigned first_w)
{
	struct virtq_chain c = { .seg = seg, .max_segs = 8 };
	for (unsigned i = 0; i < n; i++) {
		bool w = i >= first_w;
		seg[c.nr_segs++] = (struct virtq_seg){ .ptr = ram + 0x8000 + 0x1000 * i,
						       .gpa = 0x8000 + 0x1000 * i, .len = lens[i],
						       .writable = w };
		if (w) {
			c.writable += lens[i];
		} else {
			c.readable += lens[i];
			c.nr_readable++;
		}
	}
	return c;
}

static void header(unsigned at_seg, uint32_t type, uint64_t sector)
{
	uint32_t t = htole32(type);
	uint64_t s = htole64(sector);
	memset(ram + 0x8000 + 0x1000 * at_seg, 0, 16);
	memcpy(ram + 0x8000 + 0x1000 * at_seg, &t, 4);
	memcpy(ram + 0x8000 + 0x1000 * at_seg + 8, &s, 8);
}

static void parse_good_requests(void **state)
{
	(void)state;
	struct blk_req r;
	uint32_t in[] = { 16, 1024, 1 };
	header(0, VIRTIO_BLK_T_IN, 3);
	struct virtq_chain c = chain(in, 3, 1);
	assert_int_equal(blk__parse(&c, CAPACITY, 1 << 20, &r), 0);
	assert_int_equal(r.verdict, VIRTIO_BLK_S_OK);
	assert_int_equal(r.sector, 3);
	assert_int_equal(r.data_len, 1024);
	assert_ptr_equal(r.status, ram + 0xa000);

	/* data and status in one writable segment; the header cut in two */
	uint32_t in2[] = { 10, 6, 513 };
	memset(ram + 0x8000, 0, 16);
	uint32_t t = htole32(VIRTIO_BLK_T_IN);
	memcpy(ram + 0x8000, &t, 4);
	uint64_t s = htole64(CAPACITY - 1);
	memcpy(ram + 0x8000 + 8, &s, 2);
	memcpy(ram + 0x9000, (uint8_t *)&s + 2, 6);
	c = chain(in2, 3, 2);
	assert_int_equal(blk__parse(&c, CAPACITY, 1 << 20, &r), 0);
	assert_int_equal(r.verdict, VIRTIO_BLK_S_OK);
	assert_int_equal(r.sector, CAPACITY - 1);
	assert_ptr_equal(r.status, ram + 0xa000 + 512);
	struct blk_seg d[4];
	assert_int_equal(blk__data_segs(&c, &r, d, 4), 1);
	assert_ptr_equal(d[0].ptr, ram + 0xa000);
	assert_int_equal(d[0].len, 512);

	/* OUT: data after the header in the same segment, then another one */
	uint32_t out[] = { 16 + 512, 512, 1 };
	header(0, VIRTIO_BLK_T_OUT, 0);
	c = chain(out, 3, 2);
	assert_int_equal(blk__parse(&c, CAPACITY, 1 << 20, &r), 0);
	assert_int_equal(r.verdict, VIRTIO_BLK_S_OK);
	assert_int_equal(r.data_len, 1024);
	assert_int_equal(blk__data_segs(&c, &r, d, 4), 2);
	assert_ptr_equal(d[0].ptr, ram + 0x8000 + 16);
	assert_int_equal(d[0].len, 512);
	assert_ptr_equal(d[1].ptr, ram + 0x9000);

	uint32_t fl[] = { 16, 1 };
	header(0, VIRTIO_BLK_T_FLUSH, 12345);
	c = chain(fl, 2, 1);
	assert_int_equal(blk__parse(&c, CAPACITY, 1 << 20, &r), 0);
	assert_int_equal(r.verdict, VIRTIO_BLK_S_OK);

	uint32_t id[] = { 16, 20, 1 };
	header(0, VIRTIO_BLK_T_GET_ID, 0);
	c = chain(id, 3, 1);
	assert_int_equal(blk__parse(&c, CAPACITY, 1 << 20, &r), 0);
	assert_int_equal(r.verdict, VIRTIO_BLK_S_OK);
	assert_int_equal(r.data_len, 20);
}

static uint8_t verdict(uint32_t type, uint64_t sector, const uint32_t *lens, unsigned n,
		       unsigned first_w, uint32_t max)
{
	struct blk_req r;
	header(0, type, sector);
	struct virtq_chain c = chain(lens, n, first_w);
	assert_int_equal(blk__parse(&c, CAPACITY, max, &r), 0);
	return r.verdict;
}

static void parse_refusals(void **state)
{
	(void)state;
	struct blk_req r;
	uint32_t no_status[] = { 16, 512 };
	header(0, VIRTIO_BLK_T_OUT, 0);
	struct virtq_chain c = chain(no_status, 2, 2);
	assert_int_equal(blk__parse(&c, CAPACITY, 1 << 20, &r), -BLK_ENO_STATUS);

	uint32_t short_hdr[] = { 15, 1 };
	assert_int_equal(verdict(VIRTIO_BLK_T_IN, 0, short_hdr, 2, 1, 1 << 20), VIRTIO_BLK_S_IOERR);
	uint32_t io[] = { 16, 512, 1 };
	assert_int_equal(verdict(VIRTIO_BLK_T_IN, CAPACITY, io, 3, 1, 1 << 20), VIRTIO_BLK_S_IOERR);
	assert_int_equal(verdict(VIRTIO_BLK_T_IN, CAPACITY - 1, io, 3, 1, 1 << 20), VIRTIO_BLK_S_OK);
	assert_int_equal(verdict(VIRTIO_BLK_T_IN, UINT64_MAX, io, 3, 1, 1 << 20), VIRTIO_BLK_S_IOERR);
	assert_int_equal(verdict(VIRTIO_BLK_T_IN, 0, io, 3, 1, 256), VIRTIO_BLK_S_IOERR);
	uint32_t odd[] = { 16, 100, 1 };
	assert_int_equal(verdict(VIRTIO_BLK_T_IN, 0, odd, 3, 1, 1 << 20), VIRTIO_BLK_S_IOERR);
	/* IN with readable data, OUT with writable data */
	assert_int_equal(verdict(VIRTIO_BLK_T_IN, 0, io, 3, 2, 1 << 20), VIRTIO_BLK_S_IOERR);
	assert_int_equal(verdict(VIRTIO_BLK_T_OUT, 0, io, 3, 1, 1 << 20), VIRTIO_BLK_S_IOERR);
	assert_int_equal(verdict(VIRTIO_BLK_T_FLUSH, 0, io, 3, 1, 1 << 20), VIRTIO_BLK_S_IOERR);
	uint32_t id_no_room[] = { 16, 1 };
	assert_int_equal(verdict(VIRTIO_BLK_T_GET_ID, 0, id_no_room, 2, 1, 1 << 20),
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(verdict(11 /* DISCARD */, 0, io, 3, 1, 1 << 20), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(verdict(0xdeadbeef, 0, io, 3, 1, 1 << 20), VIRTIO_BLK_S_UNSUPP);
}

/* ---- the device through its transport ---- */

struct fake {
	struct virtio_blk *d;
	struct virtio_mmio *t;
	int fd;
	uint16_t avail_idx, next_desc;
	int irq;
};

static void set_irq(void *ctx, bool level)
{
	((struct fake *)ctx)->irq = level;
}

static void wr(struct fake *f, uint64_t off, uint32_t v)
{
	virtio_mmio__write(f->t, off, &v, 4);
}

static uint32_t rd(struct fake *f, uint64_t off)
{
	uint32_t v = 0;
	virtio_mmio__read(f->t, off, &v, 4);
	return v;
}

static void bring_up(struct fake *f)
{
	memset(ram, 0, RAM_BYTES);
	char path[] = "/tmp/l1vmm-test-blk-XXXXXX";
	f->fd = mkstemp(path);
	assert_true(f->fd >= 0);
	unlink(path);
	assert_int_equal(ftruncate(f->fd, CAPACITY * 512), 0);
	f->d = virtio_blk__create(f->fd, CAPACITY, "l1vmm-test-disk-0123456789", &mem, set_irq, f);
	assert_non_null(f->d);
	f->t = virtio_blk__transport(f->d);
	assert_int_equal(rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t lo = rd(f, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(lo & 1u << VIRTIO_BLK_F_FLUSH);
	assert_true(lo & 1u << VIRTIO_BLK_F_BLK_SIZE);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_BLK_F_FLUSH);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	wr(f, VIRTIO_MMIO_STATUS, 0xb);
	assert_true(rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	uint64_t cap = 0;
	virtio_mmio__read(f->t, VIRTIO_MMIO_CONFIG, &cap, 8);
	assert_int_equal(le64toh(cap), CAPACITY);
	wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_BLK_QUEUE_SIZE);
	wr(f, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, RING);
	wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, RING + 0x100);
	wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, RING + 0x200);
	wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(f, VIRTIO_MMIO_STATUS, 0xf);
	assert_int_equal(rd(f, VIRTIO_MMIO_STATUS), 0xf);
}

static void tear_down(struct fake *f)
{
	virtio_blk__destroy(f->d);
	close(f->fd);
}

static uint16_t desc(struct fake *f, uint64_t gpa, uint32_t len, bool writable, bool next)
{
	uint16_t i = f->next_desc++ % QSIZE;
	struct virtq_desc d = { .addr = htole64(gpa), .len = htole32(len),
				.flags = htole16((writable ? VIRTQ_DESC_F_WRITE : 0) |
						 (next ? VIRTQ_DESC_F_NEXT : 0)),
				.next = htole16((uint16_t)((i + 1) % QSIZE)) };
	memcpy(ram + RING + 16ull * i, &d, sizeof(d));
	return i;
}

/* Make head available, notify; the used length. */
static uint32_t submit(struct fake *f, uint16_t head)
{
	uint16_t *avail = (uint16_t *)(ram + RING + 0x100);
	avail[2 + f->avail_idx % QSIZE] = htole16(head);
	avail[1] = htole16(++f->avail_idx);
	wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	struct virtq_used_elem *e = (struct virtq_used_elem *)(ram + RING + 0x200 + 4);
	return le32toh(e[(f->avail_idx - 1) % QSIZE].len);
}

/* One request: header at 0x4000, data at 0x10000 (len), status at 0x5000. */
static uint8_t request(struct fake *f, uint32_t type, uint64_t sector, uint32_t len,
		       uint32_t *used)
{
	uint32_t t = htole32(type);
	uint64_t s = htole64(sector);
	memset(ram + 0x4000, 0, 16);
	memcpy(ram + 0x4000, &t, 4);
	memcpy(ram + 0x4008, &s, 8);
	ram[0x5000] = 0xee;
	uint16_t head = desc(f, 0x4000, 16, false, true);
	if (len)
		desc(f, 0x10000, len, type != VIRTIO_BLK_T_OUT, true);
	desc(f, 0x5000, 1, true, false);
	uint32_t u = submit(f, head);
	if (used)
		*used = u;
	return ram[0x5000];
}

static void device_round_trip(void **state)
{
	(void)state;
	struct fake f = { 0 };
	bring_up(&f);
	for (unsigned i = 0; i < 4096; i++)
		ram[0x10000 + i] = (uint8_t)(i * 7 + 3);
	uint32_t used;
	assert_int_equal(request(&f, VIRTIO_BLK_T_OUT, 8, 4096, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	uint8_t file[4096];
	assert_int_equal(pread(f.fd, file, 4096, 8 * 512), 4096);
	assert_memory_equal(file, ram + 0x10000, 4096);
	memset(ram + 0x10000, 0, 4096);
	assert_int_equal(request(&f, VIRTIO_BLK_T_IN, 8, 4096, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 4097);
	assert_memory_equal(file, ram + 0x10000, 4096);
	assert_int_equal(request(&f, VIRTIO_BLK_T_FLUSH, 0, 0, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(request(&f, VIRTIO_BLK_T_GET_ID, 0, 20, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 21);
	assert_memory_equal(ram + 0x10000, "l1vmm-test-disk-0123", 20);
	assert_true(f.irq); /* the driver did not ask for no interrupts */

	/* refusals: past the end, unsupported, a chain without a status byte */
	assert_int_equal(request(&f, VIRTIO_BLK_T_IN, CAPACITY - 1, 1024, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(&f, 11, 0, 512, NULL), VIRTIO_BLK_S_UNSUPP);
	uint16_t head = desc(&f, 0x4000, 16, false, false);
	assert_int_equal(submit(&f, head), 0);
	struct virtio_blk_state s;
	virtio_blk__state(f.d, &s);
	assert_int_equal(s.c.reads, 1);
	assert_int_equal(s.c.writes, 1);
	assert_int_equal(s.c.flushes, 1);
	assert_int_equal(s.c.get_ids, 1);
	assert_int_equal(s.c.bad_requests, 1);
	assert_int_equal(s.c.unsupported, 1);
	assert_int_equal(s.c.no_status, 1);
	assert_false(s.t.status & VIRTIO_STATUS_NEEDS_RESET);

	/* a buffer outside RAM breaks the queue: NEEDS_RESET, later notifies ignored */
	head = desc(&f, 0x4000, 16, false, true);
	desc(&f, RAM_BYTES - 8, 4096, true, true);
	desc(&f, 0x5000, 1, true, false);
	submit(&f, head);
	virtio_blk__state(f.d, &s);
	assert_true(s.t.status & VIRTIO_STATUS_NEEDS_RESET);
	assert_non_null(strstr(s.t.needs_reset_reason, "not inside guest RAM"));
	/* a reset brings it back */
	wr(&f, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(&f, VIRTIO_MMIO_STATUS), 0);
	tear_down(&f);
}

/* A disk file that fails every write: IOERR, the device carries on. */
static void host_io_error(void **state)
{
	(void)state;
	struct fake f = { 0 };
	bring_up(&f);
	int ro = open("/dev/null", O_RDONLY);
	assert_true(ro >= 0);
	dup2(ro, f.fd); /* now the device's fd refuses writes */
	close(ro);
	assert_int_equal(request(&f, VIRTIO_BLK_T_OUT, 0, 512, NULL), VIRTIO_BLK_S_IOERR);
	struct virtio_blk_state s;
	virtio_blk__state(f.d, &s);
	assert_int_equal(s.c.io_errors, 1);
	assert_false(s.t.status & VIRTIO_STATUS_NEEDS_RESET);
	tear_down(&f);
}

/* The access path: what it hands out, the device writes to the file (not
 * the RAM under the pointers); what it is given, lands only through it. */
struct acc_log {
	unsigned reads, writes, refuse_at; /* refuse_at: the nth call fails (0: none) */
	uint8_t stored[4096];              /* what the path reads for gpa 0x10000.. */
};

static int acc_read(void *ctx, uint64_t gpa, void *dst, uint32_t len)
{
	struct acc_log *a = ctx;
	if (++a->reads == a->refuse_at)
		return -1;
	assert_true(gpa >= 0x10000 && gpa + len <= 0x11000);
	memcpy(dst, a->stored + (gpa - 0x10000), len);
	return 0;
}

static int acc_write(void *ctx, uint64_t gpa, const void *src, uint32_t len)
{
	struct acc_log *a = ctx;
	a->writes++;
	memcpy(ram + gpa, src, len);
	return 0;
}

static void access_path(void **state)
{
	(void)state;
	struct fake f = { 0 };
	struct acc_log a = { 0 };
	bring_up(&f);
	for (unsigned i = 0; i < 4096; i++)
		a.stored[i] = (uint8_t)(i * 13 + 1);
	memset(ram + 0x10000, 0x55, 4096); /* what the guest's page holds: not what goes out */
	virtio_blk__set_access(f.d, &(struct virtio_blk_access){
		.read = acc_read, .write = acc_write, .ctx = &a });
	assert_int_equal(request(&f, VIRTIO_BLK_T_OUT, 16, 4096, NULL), VIRTIO_BLK_S_OK);
	uint8_t file[4096];
	assert_int_equal(pread(f.fd, file, 4096, 16 * 512), 4096);
	assert_memory_equal(file, a.stored, 4096);
	assert_int_equal(a.reads, 1);
	assert_int_equal(a.writes, 1); /* the status byte */
	memset(ram + 0x10000, 0, 4096);
	assert_int_equal(request(&f, VIRTIO_BLK_T_IN, 16, 4096, NULL), VIRTIO_BLK_S_OK);
	assert_memory_equal(ram + 0x10000, a.stored, 4096);
	assert_int_equal(a.writes, 3); /* the data, the status */
	/* a path that refuses: IOERR, counted, nothing written to the file */
	a.refuse_at = a.reads + 1;
	uint8_t before[4096];
	assert_int_equal(pread(f.fd, before, 4096, 32 * 512), 4096);
	assert_int_equal(request(&f, VIRTIO_BLK_T_OUT, 32, 4096, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(pread(f.fd, file, 4096, 32 * 512), 4096);
	assert_memory_equal(file, before, 4096);
	struct virtio_blk_state s;
	virtio_blk__state(f.d, &s);
	assert_int_equal(s.c.access_errors, 1);
	assert_int_equal(s.c.io_errors, 0);
	tear_down(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_good_requests),
		cmocka_unit_test(parse_refusals),
		cmocka_unit_test(device_round_trip),
		cmocka_unit_test(host_io_error),
		cmocka_unit_test(access_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
