/* SPDX-License-Identifier: MIT */
/*
 * DOC: the PV balloon device, host side (ABI: pvops/l1vmm_abi.h).
 *
 * The device is the balloon part of the shared-info page (struct
 * l1_balloon_info) and the L1_HC_BALLOON hypercall; both modes have it.
 * The page is guest RAM the guest writes concurrently: the host only stores
 * whole aligned 64-bit words into it (target, actual) and reads the
 * statistics under the guest's seqcount, retrying a torn read a bounded
 * number of times (a guest that never finishes its update keeps its old
 * statistics). Raising the balloon event is the VM's (l1vmm/balloon_host.c).
 */
#ifndef L1_BALLOON_PV_H
#define L1_BALLOON_PV_H

#include <stdbool.h>
#include <stdint.h>

#include "balloon/balloon.h"
#include "pvops/hypercall.h"
#include "pvops/l1vmm_abi.h"

/* Store b's target and actual frames into the guest's page. */
void balloon_pv__publish(struct balloon *b, struct l1_balloon_info *bi);

/* Whether the guest's driver said it is ready (L1_BALLOON_G_READY). */
bool balloon_pv__ready(const struct l1_balloon_info *bi);

/* Read the guest's statistics into b (nothing when not ready or torn). */
void balloon_pv__pull_stats(struct balloon *b, const struct l1_balloon_info *bi);

/*
 * L1_HC_BALLOON(op, list, count, order): fetch the extents from the guest
 * (mem), inflate or deflate b, publish. The frames done (>= 0) or an -L1_E*
 * error; a malformed request is counted and logged by the balloon.
 */
int64_t balloon_pv__hypercall(struct balloon *b, struct l1_balloon_info *bi,
			      const struct pv_mem *mem, uint64_t op, uint64_t list, uint64_t count,
			      uint64_t order);

#endif
