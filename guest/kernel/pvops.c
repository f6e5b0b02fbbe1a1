// SPDX-License-Identifier: MIT
/*
 * DOC: pv_ops backend selection (see pvops.h).
 *
 * Only the native backend exists yet: the kernel runs at CPL0 in ept mode.
 * A shadow-mode boot would need the PV backend (and the PV ELF note that
 * makes l1vmm pick shadow mode), so it cannot happen with this kernel.
 */
#include "kernel/pvops.h"

struct pv_ops pv_ops;

void pvops__select(const struct l1_start_info *si)
{
	pv_ops = pvops__native;
	apic__set_bus_hz(si->apic_bus_hz);
}
