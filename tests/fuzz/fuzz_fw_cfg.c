/*
 * libFuzzer target: QEMU's fw_cfg (l1vmm/fw_cfg.c) on the port bus, driven by
 * any sequence of port accesses a guest can make (any port around 0x510, any
 * width 1..8, either direction, any value), for a machine the input
 * describes (CPU count, one or two RAM regions).
 *
 * A model built here from fw_cfg.rst, not from fw_cfg.c, says what every byte
 * read must be: the model keeps the selected key and the offset, and holds
 * the items (signature, ID, UUID, RAM size, CPU counts, the file directory
 * and etc/e820) as the spec lays them out. Invariants after each access:
 * the bus claims exactly the accesses inside [0x510, 0x512); a byte read
 * gives the model's byte; a wider read gives zeros; no access outside the
 * device's state (ASan).
 */
#include <stdlib.h>
#include <string.h>

#include "l1vmm/bus.h"
#include "l1vmm/fw_cfg.h"
#include "pvops/l1vmm_abi.h"

struct model {
	uint8_t item[FW_CFG_MAX_ENTRY][128];
	uint32_t len[FW_CFG_MAX_ENTRY];
	uint16_t key;
	bool valid;
	uint32_t offset;
};

static void le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[n - 1 - i] = (uint8_t)(v >> (8 * i));
}

static void model_init(struct model *m, const struct fw_cfg_machine *mc)
{
	memset(m, 0, sizeof(*m));
	memcpy(m->item[FW_CFG_SIGNATURE], "QEMU", 4);
	m->len[FW_CFG_SIGNATURE] = 4;
	le(m->item[FW_CFG_ID], 1, 4);
	m->len[FW_CFG_ID] = 4;
	m->len[FW_CFG_UUID] = 16;
	uint64_t ram = 0;
	for (unsigned i = 0; i < mc->nr_ram; i++)
		ram += mc->ram[i].size;
	le(m->item[FW_CFG_RAM_SIZE], ram, 8);
	m->len[FW_CFG_RAM_SIZE] = 8;
	le(m->item[FW_CFG_NOGRAPHIC], 1, 2);
	m->len[FW_CFG_NOGRAPHIC] = 2;
	le(m->item[FW_CFG_NB_CPUS], mc->nr_cpus, 2);
	m->len[FW_CFG_NB_CPUS] = 2;
	m->len[FW_CFG_BOOT_MENU] = 2;
	le(m->item[FW_CFG_MAX_CPUS], mc->nr_cpus, 2);
	m->len[FW_CFG_MAX_CPUS] = 2;
	uint8_t *e = m->item[FW_CFG_FILE_FIRST];
	for (unsigned i = 0; i < mc->nr_ram; i++) {
		le(e + 20 * i, mc->ram[i].gpa, 8);
		le(e + 20 * i + 8, mc->ram[i].size, 8);
		le(e + 20 * i + 16, 1, 4);
	}
	m->len[FW_CFG_FILE_FIRST] = 20 * mc->nr_ram;
	uint8_t *d = m->item[FW_CFG_FILE_DIR];
	be(d, 1, 4);
	be(d + 4, 20 * mc->nr_ram, 4);
	be(d + 8, FW_CFG_FILE_FIRST, 2);
	memcpy(d + 12, "etc/e820", 8);
	m->len[FW_CFG_FILE_DIR] = 4 + 64;
}

static uint8_t model_read(struct model *m)
{
	if (!m->valid || (m->key & 0x8000))
		return 0;
	unsigned k = m->key & 0x3fff;
	return m->offset < m->len[k] ? m->item[k][m->offset++] : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4)
		return 0;
	struct fw_cfg_machine mc = {
		.nr_cpus = 1 + (data[0] | (unsigned)data[1] << 8) % 0xffff,
		.nr_ram = 1 + (data[2] & 1),
		.ram = { { 0, (uint64_t)(1 + data[3]) << 20 }, { L1_RAM_HIGH_START, 1ull << 30 } },
	};
	data += 4;
	size -= 4;
	static struct fw_cfg fw;
	static struct model m;
	if (fw_cfg__init(&fw, &mc) != 0)
		abort();
	model_init(&m, &mc);
	struct bus pio = { .name = "pio" };
	if (bus__register(&pio, L1_PORT_FW_CFG, FW_CFG_PORT_LEN, &fw_cfg__port_ops, &fw, "fw_cfg"))
		abort();

	/* each step: op (port delta, direction, width), then a 16-bit value */
	for (; size >= 3; data += 3, size -= 3) {
		uint8_t op = data[0];
		uint64_t port = L1_PORT_FW_CFG - 2 + (op & 7);  /* 0x50e..0x515 */
		bool write = op & 8;
		unsigned width = 1u << ((op >> 4) & 3);          /* 1, 2, 4, 8 */
		uint8_t buf[8] = { data[1], data[2] };
		bool inside = port >= L1_PORT_FW_CFG &&
			      port + width <= L1_PORT_FW_CFG + FW_CFG_PORT_LEN;
		if (bus__access(&pio, port, buf, width, write) != inside)
			abort();
		if (!inside)
			continue;
		if (write && width == 2) {
			m.key = (uint16_t)(data[1] | data[2] << 8);
			m.valid = (m.key & 0x3fff) < FW_CFG_MAX_ENTRY;
			m.offset = 0;
		} else if (!write && width == 1) {
			if (buf[0] != model_read(&m))
				abort();
		} else if (!write) {
			for (unsigned i = 0; i < width; i++)
				if (buf[i] != 0)
					abort();
		}
	}
	fw_cfg__destroy(&fw);
	return 0;
}
