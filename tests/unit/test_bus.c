/* Unit tests: the port/MMIO bus, the test-exit device and the doorbell. */
#include "cmocka_all.h"

#include <errno.h>
#include <string.h>

#include "l1vmm/bus.h"
#include "l1vmm/testdev.h"
#include "pvops/l1vmm_abi.h"

struct recorder {
	uint64_t offset;
	uint8_t data[8];
	unsigned size;
	int writes, reads;
};

static void rec_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	struct recorder *r = opaque;
	r->reads++;
	r->offset = offset;
	memset(data, 0xab, size);
}

static void rec_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct recorder *r = opaque;
	r->writes++;
	r->offset = offset;
	r->size = size;
	memcpy(r->data, data, size);
}

static const struct bus_dev_ops rec_ops = { .read = rec_read, .write = rec_write };

static void register_rejects_overlap_and_wrap(void **state)
{
	(void)state;
	struct bus bus = { .name = "test" };
	struct recorder r = { 0 };
	assert_int_equal(bus__register(&bus, 0x100, 0x10, &rec_ops, &r, "a"), 0);
	assert_int_equal(bus__register(&bus, 0x300, 0x10, &rec_ops, &r, "c"), 0);
	assert_int_equal(bus__register(&bus, 0x200, 0x10, &rec_ops, &r, "b"), 0);
	assert_int_equal(bus__register(&bus, 0x10f, 1, &rec_ops, &r, "x"), -EEXIST);
	assert_int_equal(bus__register(&bus, 0xf0, 0x11, &rec_ops, &r, "x"), -EEXIST);
	assert_int_equal(bus__register(&bus, 0x1ff, 2, &rec_ops, &r, "x"), -EEXIST);
	assert_int_equal(bus__register(&bus, 0x0, 0x1000, &rec_ops, &r, "x"), -EEXIST);
	assert_int_equal(bus__register(&bus, 0x500, 0, &rec_ops, &r, "x"), -EINVAL);
	assert_int_equal(bus__register(&bus, UINT64_MAX, 2, &rec_ops, &r, "x"), -EINVAL);
	assert_int_equal(bus__register(&bus, UINT64_MAX, 1, &rec_ops, &r, "top"), 0);
	assert_int_equal(bus__register(&bus, 0x110, 0xf0, &rec_ops, &r, "gap"), 0);
	assert_int_equal(bus.nr, 5);
	for (unsigned i = 1; i < bus.nr; i++)
		assert_true(bus.range[i - 1].base < bus.range[i].base);
	assert_string_equal(bus__find(&bus, 0x205)->name, "b");
	assert_string_equal(bus__find(&bus, 0x1ff)->name, "gap");
	assert_string_equal(bus__find(&bus, UINT64_MAX)->name, "top");
	assert_null(bus__find(&bus, 0x210));
	assert_null(bus__find(&bus, 0xff));
}

static void register_full_table(void **state)
{
	(void)state;
	struct bus bus = { .name = "test" };
	struct recorder r = { 0 };
	for (unsigned i = 0; i < BUS_MAX_RANGES; i++)
		assert_int_equal(bus__register(&bus, i * 16, 16, &rec_ops, &r, "d"), 0);
	assert_int_equal(bus__register(&bus, 0x10000, 16, &rec_ops, &r, "d"), -ENOSPC);
}

static void access_dispatches_with_offset(void **state)
{
	(void)state;
	struct bus bus = { .name = "test" };
	struct recorder r = { 0 };
	assert_int_equal(bus__register(&bus, 0x3f8, 8, &rec_ops, &r, "uart"), 0);
	uint32_t v = 0x11223344;
	assert_true(bus__access(&bus, 0x3fa, &v, 2, true));
	assert_int_equal(r.writes, 1);
	assert_int_equal(r.offset, 2);
	assert_int_equal(r.size, 2);
	assert_int_equal(r.data[0], 0x44);
	uint8_t b[4];
	assert_true(bus__access(&bus, 0x3f8, b, 4, false));
	assert_int_equal(r.reads, 1);
	assert_int_equal(b[3], 0xab);
}

static void unhandled_reads_all_ones_and_counts(void **state)
{
	(void)state;
	struct bus bus = { .name = "test" };
	struct recorder r = { 0 };
	assert_int_equal(bus__register(&bus, 0x3f8, 8, &rec_ops, &r, "uart"), 0);
	uint32_t v = 0;
	assert_false(bus__access(&bus, 0x80, &v, 4, false));
	assert_int_equal(v, 0xffffffffu);
	/* straddling the end of a range is not the device's */
	assert_false(bus__access(&bus, 0x3fe, &v, 4, false));
	assert_false(bus__access(&bus, 0x3fe, &v, 4, true));
	assert_int_equal(r.writes + r.reads, 0);
	assert_int_equal(bus.unhandled, 3);
	uint64_t big[2];
	assert_false(bus__access(&bus, 0x3f8, big, 16, false)); /* no such access size */
}

static uint32_t exit_code;
static int exits;
static void on_exit_cb(void *ctx, uint32_t code)
{
	(void)ctx;
	exit_code = code;
	exits++;
}

static void testdev_exit_codes_are_unmangled(void **state)
{
	(void)state;
	struct bus pio = { .name = "pio" }, mmio = { .name = "mmio" };
	struct testdev dev = { .on_exit = on_exit_cb };
	assert_int_equal(bus__register(&pio, L1_PORT_TEST_EXIT, 4, &testdev__port_ops, &dev, "t"), 0);
	assert_int_equal(bus__register(&mmio, L1_DOORBELL_GPA, 4096, &testdev__doorbell_ops, &dev, "d"), 0);
	uint32_t v = 0x12345678;
	exits = 0;
	assert_true(bus__access(&pio, L1_PORT_TEST_EXIT, &v, 4, true));
	assert_int_equal(exits, 1);
	assert_int_equal(exit_code, 0x12345678); /* not (v << 1) | 1 */
	uint8_t b = 7;
	assert_true(bus__access(&pio, L1_PORT_TEST_EXIT, &b, 1, true));
	assert_int_equal(exit_code, 7);
	/* a write to the other three ports of the device is not an exit */
	assert_true(bus__access(&pio, L1_PORT_TEST_EXIT + 1, &b, 1, true));
	assert_int_equal(exits, 2);

	uint64_t q = 0;
	assert_true(bus__access(&mmio, L1_DOORBELL_GPA + L1_DOORBELL_NOP, &q, 8, true));
	assert_true(bus__access(&mmio, L1_DOORBELL_GPA + L1_DOORBELL_NOP, &q, 4, true));
	assert_int_equal(dev.doorbell_nops, 2);
	assert_int_equal(exits, 2);
	q = 0xffffffff00000005ull;
	assert_true(bus__access(&mmio, L1_DOORBELL_GPA + L1_DOORBELL_EXIT, &q, 8, true));
	assert_int_equal(exits, 3);
	assert_int_equal(exit_code, 5);
}

static void testdev_isa_debug_exit_status(void **state)
{
	(void)state;
	struct bus pio = { .name = "pio" }, mmio = { .name = "mmio" };
	struct testdev dev = { .on_exit = on_exit_cb, .isa_debug_exit = true };
	assert_int_equal(bus__register(&pio, L1_PORT_TEST_EXIT, 4, &testdev__port_ops, &dev, "t"), 0);
	assert_int_equal(bus__register(&mmio, L1_DOORBELL_GPA, 4096, &testdev__doorbell_ops, &dev, "d"), 0);
	exits = 0;
	uint8_t b = 0x10;
	assert_true(bus__access(&pio, L1_PORT_TEST_EXIT, &b, 1, true));
	assert_int_equal(exit_code, 33); /* QEMU: (0x10 << 1) | 1 */
	b = 0;
	assert_true(bus__access(&pio, L1_PORT_TEST_EXIT, &b, 1, true));
	assert_int_equal(exit_code, 1);
	uint32_t v = 0x80000001u;
	assert_true(bus__access(&pio, L1_PORT_TEST_EXIT, &v, 4, true));
	assert_int_equal(exit_code, 3); /* on 32 bits, as the status keeps 8 anyway */
	assert_int_equal(exits, 3);
	/* the doorbell stays l1vmm's: the value itself */
	uint64_t q = 5;
	assert_true(bus__access(&mmio, L1_DOORBELL_GPA + L1_DOORBELL_EXIT, &q, 8, true));
	assert_int_equal(exit_code, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(register_rejects_overlap_and_wrap),
		cmocka_unit_test(register_full_table),
		cmocka_unit_test(access_dispatches_with_offset),
		cmocka_unit_test(unhandled_reads_all_ones_and_counts),
		cmocka_unit_test(testdev_exit_codes_are_unmangled),
		cmocka_unit_test(testdev_isa_debug_exit_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
