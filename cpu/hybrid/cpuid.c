/* SPDX-License-Identifier: MIT */
/*
 * DOC: CPUID policy.
 *
 * The guest sees what KVM supports, plus l1vmm's leaves at 0x40000000 (the
 * issue's fixed place). KVM's own PV leaves ("KVMKVMKVM", kvmclock, async
 * page faults) move to 0x40000100: guests find them by scanning the
 * hypervisor range in steps of 0x100, and KVM locates them the same way.
 */
#include "cpu/hybrid/hybrid.h"

#include <string.h>

#include "pvops/l1vmm_abi.h"

#define KVM_LEAVES_NEW_BASE 0x40000100u
#define CPUID_HYPERVISOR_BIT (1u << 31) /* leaf 1 ecx */

static uint32_t sig_word(unsigned i)
{
	uint32_t w;
	memcpy(&w, &L1_CPUID_SIGNATURE_STR[4 * i], 4);
	return w;
}

int hybrid__cpuid_policy(struct kvm_cpuid_entry2 *ent, int nent, int cap, unsigned index)
{
	for (int i = 0; i < nent; i++) {
		struct kvm_cpuid_entry2 *e = &ent[i];
		if (e->function == 1) {
			e->ecx |= CPUID_HYPERVISOR_BIT;
			e->ebx = (e->ebx & 0x00ffffffu) | (index << 24);
		} else if (e->function == 0xb || e->function == 0x1f) {
			e->edx = index; /* x2APIC ID */
		} else if ((e->function & 0xffffff00u) == 0x40000000u) {
			/* KVM's 0x40000000 / 0x40000001 move up; max leaf follows */
			if (e->function == 0x40000000u)
				e->eax = KVM_LEAVES_NEW_BASE + 1;
			e->function += KVM_LEAVES_NEW_BASE - 0x40000000u;
		}
	}
	if (nent + 2 > cap)
		return -1;
	ent[nent++] = (struct kvm_cpuid_entry2){
		.function = L1_CPUID_SIGNATURE, .eax = L1_CPUID_MAX_LEAF,
		.ebx = sig_word(0), .ecx = sig_word(1), .edx = sig_word(2),
	};
	ent[nent++] = (struct kvm_cpuid_entry2){
		.function = L1_CPUID_FEATURES,
		.eax = L1_FEAT_START_INFO | L1_FEAT_TEST_EXIT | L1_FEAT_DOORBELL | L1_FEAT_UART,
		.ebx = L1_ABI_VERSION,
	};
	return nent;
}
