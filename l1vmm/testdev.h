/* SPDX-License-Identifier: MIT */
/*
 * DOC: the test-exit port and the doorbell page.
 *
 * Port L1_PORT_TEST_EXIT: a write of any width ends the VM with the value
 * written (zero-extended) as its exit code, unmangled. With isa_debug_exit
 * set, it is QEMU's isa-debug-exit instead: the code is (V << 1) | 1 (on 32
 * bits), as QEMU's process status would be. The doorbell page at L1_DOORBELL_GPA is the
 * same for code that cannot do port I/O (CPL3): a write at L1_DOORBELL_EXIT
 * ends the VM, a write at L1_DOORBELL_NOP is only counted. The device never
 * stops anything itself; it calls on_exit and the VM decides.
 */
#ifndef L1VMM_TESTDEV_H
#define L1VMM_TESTDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "l1vmm/bus.h"

typedef void testdev_exit_fn(void *ctx, uint32_t code);

struct testdev {
	testdev_exit_fn *on_exit;
	void *ctx;
	bool isa_debug_exit;     /* the port gives QEMU's (V << 1) | 1; fixed */
	uint64_t doorbell_nops; /* atomic: L1_DOORBELL_NOP writes */
};

extern const struct bus_dev_ops testdev__port_ops;     /* at L1_PORT_TEST_EXIT, 4 ports */
extern const struct bus_dev_ops testdev__doorbell_ops; /* at L1_DOORBELL_GPA, 1 page */

#endif
