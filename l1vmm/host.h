/* SPDX-License-Identifier: MIT */
/*
 * DOC: the host: several VMs in one l1vmm process, and its control tree.
 *
 * The VMs' configurations live in the control tree (vms/NAME/, l1vmm/ctl.h):
 * they come from the command line, applied through the tree's registry so
 * that a command-line value is checked exactly as a file write would be, or
 * from a config directory. Each VM is then its own KVM VM with its own vCPU
 * threads; one ending (exit, crash, timeout) leaves the others running. The
 * host waits for all of them, each against its own timeout, stops them all
 * on SIGINT/SIGTERM, prints one summary line per VM, unmounts the live tree
 * and returns the process exit status: 0 if every VM exited 0, else the
 * first non-zero status in VM order.
 */
#ifndef L1VMM_HOST_H
#define L1VMM_HOST_H

#include <signal.h>
#include <stddef.h>

#include "l1vmm/ctl.h"
#include "l1vmm/options.h"

/*
 * Run the VMs of o. stop_signal is polled (set by a signal handler). Returns
 * the process exit status; configuration errors print one line and return 2.
 */
int host__run(const struct run_options *o, volatile sig_atomic_t *stop_signal);

/*
 * Create VM spec i of o as vms/NAME/ in t, applying o's defaults and then the
 * VM's own settings through the tree. The new struct vm_ctl (registered) in
 * *out, or -1 with a one-line reason in err (nothing stays registered).
 */
int host__configure_vm(struct ctl_tree *t, const struct run_options *o, unsigned i,
		       struct vm_ctl **out, char *err, size_t errlen);

#endif
