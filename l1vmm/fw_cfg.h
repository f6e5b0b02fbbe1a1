/* SPDX-License-Identifier: MIT */
/*
 * DOC: QEMU's firmware configuration device (fw_cfg), legacy port interface.
 *
 * Kernels written for QEMU ask it how many CPUs and how much RAM they have.
 * The guest writes a 16-bit key to the selector port (0x510) and reads the
 * item's bytes one at a time from the data port (0x511), as QEMU documents
 * in docs/specs/fw_cfg.rst and does in hw/nvram/fw_cfg.c:
 *  - a 16-bit write at 0x510 selects the item key & 0x3fff (bit 15: the
 *    architecture's table, bit 14 ignored for reads) and sets the offset to
 *    0; a key at or beyond FW_CFG_MAX_ENTRY selects nothing;
 *  - a byte read at 0x510 or 0x511 returns the selected item's next byte and
 *    moves the offset by one; past the end, or with nothing selected, 0;
 *  - byte writes (data writes, ignored by QEMU since 2.4) and writes of any
 *    other width are ignored; a read wider than a byte, which QEMU refuses,
 *    returns zeros and moves nothing.
 * There is no DMA interface (port 0x514 stays unbacked): FW_CFG_ID says so
 * (bit 0 only).
 *
 * Items (little-endian integers, as QEMU's x86 machines give them):
 * FW_CFG_SIGNATURE "QEMU", FW_CFG_ID 1, FW_CFG_UUID 16 zero bytes (QEMU's
 * default), FW_CFG_RAM_SIZE (u64: all guest RAM, both regions),
 * FW_CFG_NOGRAPHIC 1, FW_CFG_NB_CPUS and FW_CFG_MAX_CPUS (u16: the vCPU count;
 * l1vmm has no hot-plug, and APIC IDs are 0..n-1), FW_CFG_BOOT_MENU 0, and the
 * file directory FW_CFG_FILE_DIR (big-endian count, then 64-byte entries:
 * big-endian size and key, a NUL-terminated name). One file: "etc/e820",
 * the RAM map as QEMU writes it (20-byte packed entries: u64 address, u64
 * length, u32 type 1), at key FW_CFG_FILE_FIRST.
 *
 * The selector and offset belong to the device, not to a vCPU (as in QEMU):
 * vCPUs that use it at once must take turns themselves. The lock only keeps
 * every access whole. The items never change after fw_cfg__init().
 */
#ifndef L1VMM_FW_CFG_H
#define L1VMM_FW_CFG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "l1vmm/bus.h"

#define FW_CFG_PORT_LEN 2 /* selector at +0, data at +1 */

/* QEMU's keys (include/standard-headers/linux/qemu_fw_cfg.h). */
#define FW_CFG_SIGNATURE  0x00u
#define FW_CFG_ID         0x01u
#define FW_CFG_UUID       0x02u
#define FW_CFG_RAM_SIZE   0x03u
#define FW_CFG_NOGRAPHIC  0x04u
#define FW_CFG_NB_CPUS    0x05u
#define FW_CFG_BOOT_MENU  0x0eu
#define FW_CFG_MAX_CPUS   0x0fu
#define FW_CFG_FILE_DIR   0x19u
#define FW_CFG_FILE_FIRST 0x20u
#define FW_CFG_FILE_SLOTS 0x20u /* QEMU's default: keys 0x20..0x3f may be files */
#define FW_CFG_MAX_ENTRY  (FW_CFG_FILE_FIRST + FW_CFG_FILE_SLOTS)
#define FW_CFG_ARCH_LOCAL 0x8000u
#define FW_CFG_ENTRY_MASK 0x3fffu

#define FW_CFG_ID_TRADITIONAL 1u /* bit 0: the port interface; bit 1 (DMA) stays clear */
#define FW_CFG_FILE_NAME_MAX  56u
#define FW_CFG_E820_MAX       2u  /* RAM regions: below the hole, above 4 GiB */
#define FW_CFG_E820_RAM       1u

/* What the guest is told: its CPUs and RAM regions. */
struct fw_cfg_machine {
	unsigned nr_cpus;
	unsigned nr_ram;
	struct { uint64_t gpa, size; } ram[FW_CFG_E820_MAX];
};

struct fw_cfg_item {
	const uint8_t *data; /* NULL: the key has no item (reads 0) */
	uint32_t len;
};

struct fw_cfg {
	pthread_mutex_t lock;      /* protects cur, selected, offset */
	uint16_t cur;              /* the key last selected */
	bool selected;             /* cur names a valid entry */
	uint32_t offset;           /* next byte of the selected item */
	struct fw_cfg_item item[FW_CFG_MAX_ENTRY]; /* generic keys; fixed after init */
	/* the items' bytes; fixed after init */
	uint8_t id[4], uuid[16], ram_size[8], nographic[2], nb_cpus[2], boot_menu[2],
		max_cpus[2];
	uint8_t dir[4 + 64];       /* one file */
	uint8_t e820[20 * FW_CFG_E820_MAX];
};

/* Build the items for m. 0, or -EINVAL (no CPU, more than 65535, bad RAM list). */
int fw_cfg__init(struct fw_cfg *fw, const struct fw_cfg_machine *m);
void fw_cfg__destroy(struct fw_cfg *fw);

/* At port 0x510 (L1_PORT_FW_CFG), FW_CFG_PORT_LEN ports; opaque is the struct fw_cfg. */
extern const struct bus_dev_ops fw_cfg__port_ops;

#endif
