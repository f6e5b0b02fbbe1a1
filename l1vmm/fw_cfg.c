/* SPDX-License-Identifier: MIT */
#include "l1vmm/fw_cfg.h"

#include <errno.h>
#include <string.h>

static const uint8_t signature[4] = { 'Q', 'E', 'M', 'U' };
static const char e820_name[] = "etc/e820";
_Static_assert(sizeof(e820_name) <= FW_CFG_FILE_NAME_MAX, "a file name fits its entry");

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_be(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static void set_item(struct fw_cfg *fw, unsigned key, const uint8_t *data, uint32_t len)
{
	fw->item[key] = (struct fw_cfg_item){ .data = data, .len = len };
}

/* "etc/e820" and its directory entry, at FW_CFG_FILE_FIRST. */
static void add_e820(struct fw_cfg *fw, const struct fw_cfg_machine *m)
{
	for (unsigned i = 0; i < m->nr_ram; i++) {
		uint8_t *e = fw->e820 + 20 * i;
		put_le(e, m->ram[i].gpa, 8);
		put_le(e + 8, m->ram[i].size, 8);
		put_le(e + 16, FW_CFG_E820_RAM, 4);
	}
	uint32_t len = 20 * m->nr_ram;
	set_item(fw, FW_CFG_FILE_FIRST, fw->e820, len);

	put_be(fw->dir, 1, 4); /* count */
	uint8_t *f = fw->dir + 4;
	put_be(f, len, 4);
	put_be(f + 4, FW_CFG_FILE_FIRST, 2);
	memcpy(f + 8, e820_name, sizeof(e820_name)); /* the rest of name[] stays 0 */
	set_item(fw, FW_CFG_FILE_DIR, fw->dir, sizeof(fw->dir));
}

int fw_cfg__init(struct fw_cfg *fw, const struct fw_cfg_machine *m)
{
	*fw = (struct fw_cfg){ 0 };
	if (m->nr_cpus == 0 || m->nr_cpus > UINT16_MAX || m->nr_ram == 0 ||
	    m->nr_ram > FW_CFG_E820_MAX)
		return -EINVAL;
	uint64_t ram = 0;
	for (unsigned i = 0; i < m->nr_ram; i++)
		ram += m->ram[i].size;

	put_le(fw->id, FW_CFG_ID_TRADITIONAL, 4);
	put_le(fw->ram_size, ram, 8);
	put_le(fw->nographic, 1, 2);
	put_le(fw->nb_cpus, m->nr_cpus, 2);
	put_le(fw->max_cpus, m->nr_cpus, 2);
	set_item(fw, FW_CFG_SIGNATURE, signature, sizeof(signature));
	set_item(fw, FW_CFG_ID, fw->id, sizeof(fw->id));
	set_item(fw, FW_CFG_UUID, fw->uuid, sizeof(fw->uuid));
	set_item(fw, FW_CFG_RAM_SIZE, fw->ram_size, sizeof(fw->ram_size));
	set_item(fw, FW_CFG_NOGRAPHIC, fw->nographic, sizeof(fw->nographic));
	set_item(fw, FW_CFG_NB_CPUS, fw->nb_cpus, sizeof(fw->nb_cpus));
	set_item(fw, FW_CFG_BOOT_MENU, fw->boot_menu, sizeof(fw->boot_menu));
	set_item(fw, FW_CFG_MAX_CPUS, fw->max_cpus, sizeof(fw->max_cpus));
	add_e820(fw, m);
	pthread_mutex_init(&fw->lock, NULL);
	return 0;
}

void fw_cfg__destroy(struct fw_cfg *fw)
{
	pthread_mutex_destroy(&fw->lock);
}

static uint8_t next_byte(struct fw_cfg *fw)
{
	/* no architecture-specific items: those keys select nothing readable */
	if (!fw->selected || (fw->cur & FW_CFG_ARCH_LOCAL))
		return 0;
	const struct fw_cfg_item *it = &fw->item[fw->cur & FW_CFG_ENTRY_MASK];
	if (!it->data || fw->offset >= it->len)
		return 0;
	return it->data[fw->offset++];
}

static void port_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	(void)offset; /* QEMU reads data at either port */
	struct fw_cfg *fw = opaque;
	if (size != 1) {
		memset(data, 0, size);
		return;
	}
	pthread_mutex_lock(&fw->lock);
	*(uint8_t *)data = next_byte(fw);
	pthread_mutex_unlock(&fw->lock);
}

static void port_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	(void)offset;
	struct fw_cfg *fw = opaque;
	if (size != 2)
		return; /* data writes: ignored, as by QEMU since 2.4 */
	uint16_t key;
	memcpy(&key, data, sizeof(key));
	pthread_mutex_lock(&fw->lock);
	fw->cur = key;
	fw->selected = (key & FW_CFG_ENTRY_MASK) < FW_CFG_MAX_ENTRY;
	fw->offset = 0;
	pthread_mutex_unlock(&fw->lock);
}

const struct bus_dev_ops fw_cfg__port_ops = { .read = port_read, .write = port_write };
