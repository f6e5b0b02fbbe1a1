/* SPDX-License-Identifier: MIT */
/*
 * DOC: what the kernel needs to know about the user side: the first task's
 * entry and the buffer that receives the command line (both in the user
 * image, so the task can read them).
 */
#ifndef L1G_USER_INIT_H
#define L1G_USER_INIT_H

#include <stdint.h>

#include "pvops/l1vmm_abi.h"

extern char user__cmdline[L1_CMDLINE_MAX];
/* Every task starts here, at CPL3: rdi = fn, rsi = arg; calls fn(arg), exits with its result. */
void user__task_start(void);
/* The first task (tid 1): runs the workload named on the command line. */
int64_t user__main(uint64_t cmdline);

#endif
