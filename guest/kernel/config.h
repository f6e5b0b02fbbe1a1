/* SPDX-License-Identifier: MIT */
/*
 * DOC: compile-time limits of the guest kernel.
 *
 * Plain #defines only: this header is included by assembly too.
 */
#ifndef L1G_KERNEL_CONFIG_H
#define L1G_KERNEL_CONFIG_H

#define MAX_CPUS      32      /* vCPUs beyond this park in hlt */
#define MAX_TASKS     256     /* live + unjoined tasks */
#define KSTACK_SHIFT  13      /* 8 KiB kernel stack per task, struct task at its base */
#define KSTACK_SIZE   (1 << KSTACK_SHIFT)
#define KSTACK_ORDER  1       /* KSTACK_SIZE in 4 KiB frames, as an order */
#define USTACK_ORDER  3       /* 32 KiB user stack per task */
#define DEFAULT_HZ    100     /* periodic LAPIC tick */

#endif
