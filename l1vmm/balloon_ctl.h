/* SPDX-License-Identifier: MIT */
/*
 * DOC: the balloon policy on the host: balloon/ in the tree and its thread.
 *
 * balloon/policy chooses who sets the VMs' balloon targets:
 *   off     nobody: every target is held at 0 (vms/NAME/balloon/target_mb
 *           refuses writes);
 *   manual  the operator, through vms/NAME/balloon/target_mb (the default);
 *   auto    the policy thread: every interval_ms it reads the host's
 *           MemAvailable (/proc/meminfo), PSI memory "some avg10"
 *           (/proc/pressure/memory) and l1vmm's RssAnon (the guests'
 *           resident memory), asks every guest for fresh statistics, and
 *           lets balloon_policy__step() (balloon/policy.h) set the targets;
 *           target_mb refuses writes.
 * The knobs of balloon/policy.h are balloon/<name>; what the thread saw last
 * is under balloon/host/ and balloon/state, balloon/reasons.
 *
 * Locking: c->lock protects everything in struct balloon_ctl; it is taken
 * before a VM's balloon lock (balloon__set_target) and never inside it.
 */
#ifndef L1VMM_BALLOON_CTL_H
#define L1VMM_BALLOON_CTL_H

#include <stdbool.h>
#include <stddef.h>

struct balloon_ctl;
struct ctl_tree;
struct vm;

/* Knobs at their defaults, policy manual. NULL when out of memory. */
struct balloon_ctl *balloon_ctl__create(void);
void balloon_ctl__destroy(struct balloon_ctl *c);
/* balloon/ in t. ctl__register()'s result. */
int balloon_ctl__register(struct balloon_ctl *c, struct ctl_tree *t);
/* Before the VMs start: one more VM for the policy (ignored when it has no balloon). */
int balloon_ctl__add_vm(struct balloon_ctl *c, struct vm *vm, char *err, size_t errlen);
/* Start the policy thread. 0, or -1 with a reason. */
int balloon_ctl__start(struct balloon_ctl *c, char *err, size_t errlen);
/* Stop it (before the VMs go). */
void balloon_ctl__stop(struct balloon_ctl *c);

/* May vms/NAME/balloon/target_mb be written now (policy manual)? */
bool balloon_ctl__targets_by_hand(void);

#endif
