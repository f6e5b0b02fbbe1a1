// SPDX-License-Identifier: MIT
/*
 * DOC: pv_ops backend selection (see pvops.h).
 *
 * start_info.mode decides: L1_MODE_SHADOW (with L1_FEAT_PV) takes the pv
 * backend, anything else the native one. The selectors and the trap return
 * flavour (entry.S) follow the backend.
 */
#include "arch/x86/hypercall.h"
#include "arch/x86/x86.h"
#include "kernel/pvops.h"

struct pv_ops pv_ops;
bool pvops__shadow;
struct x86_selectors x86__sel = {
	.kernel_cs = KERNEL_CS, .kernel_ss = KERNEL_DS, .user_cs = USER_CS, .user_ss = USER_DS,
};

void pvops__select(const struct l1_start_info *si)
{
	if (si->mode != L1_MODE_SHADOW) {
		pv_ops = pvops__native;
		apic__set_bus_hz(si->apic_bus_hz);
		return;
	}
	pvops__shadow = true;
	pv_ops = pvops__pv;
	pvops__pv_init(si);
	x86__sel = (struct x86_selectors){
		.kernel_cs = L1_SHADOW_KERNEL_CS, .kernel_ss = L1_SHADOW_KERNEL_SS,
		.user_cs = L1_SHADOW_USER_CS, .user_ss = L1_SHADOW_USER_SS,
	};
	trap__common = (void *)trap_common_pv;
}

int64_t pvops__hypercall(struct l1_hypercall_block *blk, uint64_t nr, uint64_t a1, uint64_t a2,
			 uint64_t a3, uint64_t a4)
{
	if (pvops__shadow)
		return hypercall5(nr, a1, a2, a3, a4, 0);
	*blk = (struct l1_hypercall_block){ .nr = nr, .arg = { a1, a2, a3, a4 }, .ret = -L1_ENOSYS };
	/* the store exits to l1vmm, which writes ret before the store completes */
	*(volatile uint64_t *)(uintptr_t)(L1_DOORBELL_GPA + L1_DOORBELL_HYPERCALL) = (uint64_t)blk;
	return __atomic_load_n(&blk->ret, __ATOMIC_ACQUIRE);
}
