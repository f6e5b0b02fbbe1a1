/* SPDX-License-Identifier: MIT */
/*
 * DOC: ept mode's hypercalls: the doorbell register L1_DOORBELL_HYPERCALL.
 *
 * The guest kernel writes the gpa of a struct l1_hypercall_block; the write
 * exits, l1vmm runs the call the block describes and stores its result in
 * the block's ret before the vCPU goes on (pvops/l1vmm_abi.h). Only
 * hypercalls that make sense with the guest at CPL0 on its own page tables
 * are served: L1_HC_BALLOON and L1_HC_CPUID; any other gets -L1_ENOSYS, and
 * a call from CPL3 (the doorbell page is mapped for tasks too) -L1_EPERM.
 */
#ifndef L1VMM_HYPERCALL_EPT_H
#define L1VMM_HYPERCALL_EPT_H

#include "l1vmm/bus.h"

extern const struct bus_dev_ops hypercall_ept__doorbell_ops; /* opaque: the struct vm */

#endif
