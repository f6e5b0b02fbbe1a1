/* SPDX-License-Identifier: MIT */
/*
 * DOC: pseudo page faults in the guest kernel (`apf=1` on the command line).
 *
 * When the host must fetch a page a task touched (host reclaim put it in its
 * store), it does not stall the vCPU: it tells the kernel "page not present
 * (token)" as a #PF, the kernel parks the task on the token and runs another;
 * "page ready (token)" later wakes the task, which retries its access.
 *  - ept mode: KVM's own async page faults (MSR_KVM_ASYNC_PF_EN with
 *    interrupt delivery; "not present" is a #PF with the token in CR2 and
 *    the reason in a per-CPU area KVM writes; "ready" is an interrupt at
 *    VEC_APF with the token in that area, acknowledged by
 *    MSR_KVM_ASYNC_PF_ACK);
 *  - shadow mode: l1vmm's protocol (pvops/l1vmm_abi.h, L1_HC_APF): the
 *    reason and tokens in the vCPU's shared info, "ready" as an event.
 * Tasks stay on their CPU and a token belongs to the vCPU it was issued on,
 * so each CPU keeps its own table of APF_SLOTS parked tokens, touched only
 * by that CPU with interrupts off. A ready token that finds no parked task
 * (it overtook its "not present") is remembered, so the park that follows
 * returns at once.
 */
#ifndef L1G_KERNEL_APF_H
#define L1G_KERNEL_APF_H

#include <stdbool.h>
#include <stdint.h>

#include "include/uapi.h"
#include "kernel/sched.h"

/* Parse apf=0|1|noack|toggle (CPU 0, boot; the last two are hostile test modes, apf.c). */
void apf__init(const char *cmdline);
/* Turn them on for this CPU unless apf=0 (each CPU, after its LAPIC). */
void apf__init_cpu(struct cpu *c);
/* A #PF: true if it was "page not present" (cur parked or the fault retried). */
bool apf__page_fault(struct cpu *c, struct task *cur, struct trap_frame *f);
/* ept mode: the "page ready" interrupt (VEC_APF). */
void apf__ready_irq(struct cpu *c);
/* shadow mode: L1_EVT_APF_READY was raised. */
void apf__ready_event(struct cpu *c);
/* SYS_APF_STATS. */
void apf__stats(struct l1g_apf_stats *out);

#endif
