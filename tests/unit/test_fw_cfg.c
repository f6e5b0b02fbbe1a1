/* Unit tests: QEMU's fw_cfg on the legacy ports (l1vmm/fw_cfg.h), through the bus. */
#include "cmocka_all.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "l1vmm/bus.h"
#include "l1vmm/fw_cfg.h"
#include "pvops/l1vmm_abi.h"

#define SEL  L1_PORT_FW_CFG
#define DATA (L1_PORT_FW_CFG + 1)

struct fixture {
	struct fw_cfg fw;
	struct bus pio;
};

static const struct fw_cfg_machine two_regions = {
	.nr_cpus = 3, .nr_ram = 2,
	.ram = { { 0, L1_RAM_HOLE_START }, { L1_RAM_HIGH_START, 512ull << 20 } },
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || fw_cfg__init(&f->fw, &two_regions) != 0)
		return -1;
	f->pio.name = "test";
	if (bus__register(&f->pio, SEL, FW_CFG_PORT_LEN, &fw_cfg__port_ops, &f->fw, "fw_cfg"))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	fw_cfg__destroy(&f->fw);
	free(f);
	return 0;
}

static void select_key(struct fixture *f, uint16_t key)
{
	assert_true(bus__access(&f->pio, SEL, &key, 2, true));
}

static uint8_t read_byte(struct fixture *f, uint64_t port)
{
	uint8_t b = 0x5a;
	assert_true(bus__access(&f->pio, port, &b, 1, false));
	return b;
}

static void read_item(struct fixture *f, uint16_t key, uint8_t *buf, size_t len)
{
	select_key(f, key);
	for (size_t i = 0; i < len; i++)
		buf[i] = read_byte(f, DATA);
}

static uint64_t read_le(struct fixture *f, uint16_t key, unsigned bytes)
{
	uint8_t b[8] = { 0 };
	read_item(f, key, b, bytes);
	uint64_t v = 0;
	for (int i = (int)bytes - 1; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static uint64_t le(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;
	for (int i = (int)bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint32_t be(const uint8_t *p, unsigned bytes)
{
	uint32_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static void signature_and_id(void **state)
{
	struct fixture *f = *state;
	uint8_t sig[4];
	read_item(f, FW_CFG_SIGNATURE, sig, 4);
	assert_memory_equal(sig, "QEMU", 4);
	/* bit 0: the port interface; bit 1 (DMA) clear: port 0x514 is not ours */
	assert_int_equal(read_le(f, FW_CFG_ID, 4), 1);
}

static void machine_items(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(read_le(f, FW_CFG_NB_CPUS, 2), 3);
	assert_int_equal(read_le(f, FW_CFG_MAX_CPUS, 2), 3);
	assert_int_equal(read_le(f, FW_CFG_RAM_SIZE, 8), L1_RAM_HOLE_START + (512ull << 20));
	assert_int_equal(read_le(f, FW_CFG_NOGRAPHIC, 2), 1);
	uint8_t uuid[16], zero[16] = { 0 };
	read_item(f, FW_CFG_UUID, uuid, sizeof(uuid));
	assert_memory_equal(uuid, zero, sizeof(uuid));
}

static void file_directory_and_e820(void **state)
{
	struct fixture *f = *state;
	uint8_t dir[4 + 64];
	read_item(f, FW_CFG_FILE_DIR, dir, sizeof(dir));
	assert_int_equal(be(dir, 4), 1);           /* count, big-endian */
	assert_int_equal(be(dir + 4, 4), 40);      /* size: two 20-byte entries */
	assert_int_equal(be(dir + 8, 2), FW_CFG_FILE_FIRST);
	assert_int_equal(be(dir + 10, 2), 0);      /* reserved */
	assert_string_equal((const char *)dir + 12, "etc/e820");
	for (size_t i = 12 + sizeof("etc/e820"); i < sizeof(dir); i++)
		assert_int_equal(dir[i], 0);       /* the name is NUL padded */
	assert_int_equal(read_byte(f, DATA), 0);   /* past the end: 0 */

	uint8_t e[40];
	read_item(f, FW_CFG_FILE_FIRST, e, sizeof(e));
	assert_int_equal(le(e, 8), 0);
	assert_int_equal(le(e + 8, 8), L1_RAM_HOLE_START);
	assert_int_equal(le(e + 16, 4), 1);
	assert_int_equal(le(e + 20, 8), L1_RAM_HIGH_START);
	assert_int_equal(le(e + 28, 8), 512ull << 20);
	assert_int_equal(le(e + 36, 4), 1);
}

static void offset_semantics(void **state)
{
	struct fixture *f = *state;
	select_key(f, FW_CFG_SIGNATURE);
	assert_int_equal(read_byte(f, DATA), 'Q');
	assert_int_equal(read_byte(f, SEL), 'E');  /* the selector port reads data too (QEMU) */
	/* selecting again starts over */
	select_key(f, FW_CFG_SIGNATURE);
	assert_int_equal(read_byte(f, DATA), 'Q');
	assert_int_equal(read_byte(f, DATA), 'E');
	assert_int_equal(read_byte(f, DATA), 'M');
	assert_int_equal(read_byte(f, DATA), 'U');
	for (int i = 0; i < 100; i++)
		assert_int_equal(read_byte(f, DATA), 0); /* past the end */
	/* bit 14 (write channel) reads the same item */
	select_key(f, 0x4000 | FW_CFG_SIGNATURE);
	assert_int_equal(read_byte(f, DATA), 'Q');
}

static void nothing_selected_reads_zero(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(read_byte(f, DATA), 0);         /* before any select */
	uint16_t keys[] = { 0x06, 0x18, 0x21, 0x3f, 0x40, 0x3fff, 0x8000, 0x8003, 0xffff };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		select_key(f, keys[i]);
		assert_int_equal(read_byte(f, DATA), 0);
	}
}

static void other_widths(void **state)
{
	struct fixture *f = *state;
	select_key(f, FW_CFG_SIGNATURE);
	uint32_t v = 0xdeadbeef;
	/* a word read is refused (QEMU): zeros, and the offset does not move */
	assert_true(bus__access(&f->pio, SEL, &v, 2, false));
	assert_int_equal(v & 0xffff, 0);
	/* byte writes are data writes, ignored (QEMU since 2.4) */
	uint8_t b = FW_CFG_NB_CPUS;
	assert_true(bus__access(&f->pio, DATA, &b, 1, true));
	assert_true(bus__access(&f->pio, SEL, &b, 1, true));
	/* a 32-bit access at 0x510 reaches past 0x511: not the device's, selects nothing */
	uint32_t key32 = FW_CFG_NB_CPUS;
	assert_false(bus__access(&f->pio, SEL, &key32, 4, true));
	assert_int_equal(read_byte(f, DATA), 'Q');
	/* a word access at the data port straddles the device's end: not ours */
	uint16_t key = FW_CFG_NB_CPUS;
	assert_false(bus__access(&f->pio, DATA, &key, 2, true));
	assert_int_equal(read_byte(f, DATA), 'E');
}

static void init_refuses_impossible_machines(void **state)
{
	(void)state;
	struct fw_cfg fw;
	struct fw_cfg_machine m = { .nr_cpus = 0, .nr_ram = 1, .ram = { { 0, 1 << 20 } } };
	assert_int_equal(fw_cfg__init(&fw, &m), -EINVAL);
	m.nr_cpus = 65536;
	assert_int_equal(fw_cfg__init(&fw, &m), -EINVAL);
	m.nr_cpus = 1;
	m.nr_ram = 0;
	assert_int_equal(fw_cfg__init(&fw, &m), -EINVAL);
	m.nr_ram = FW_CFG_E820_MAX + 1;
	assert_int_equal(fw_cfg__init(&fw, &m), -EINVAL);
	m.nr_ram = 1;
	assert_int_equal(fw_cfg__init(&fw, &m), 0);
	fw_cfg__destroy(&fw);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(signature_and_id),
		T(machine_items),
		T(file_directory_and_e820),
		T(offset_semantics),
		T(nothing_selected_reads_zero),
		T(other_widths),
		cmocka_unit_test(init_refuses_impossible_machines),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
