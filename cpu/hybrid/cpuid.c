/* SPDX-License-Identifier: MIT */
/*
 * DOC: CPUID policy.
 *
 * The guest sees what KVM supports, plus l1vmm's leaves at 0x40000000.
 * KVM's own PV leaves ("KVMKVMKVM", kvmclock, async page faults) move to
 * 0x40000100: guests find them by scanning the hypervisor range in steps of
 * 0x100, and KVM locates them the same way.
 *
 * One table per vCPU serves two readers: KVM (KVM_SET_CPUID2), for the CPUID
 * instruction where the host intercepts it, and L1_HC_CPUID
 * (hybrid__cpuid_lookup), for PV guests on hosts where the instruction runs
 * natively and tells the truth about the hardware below instead
 * (pvops/l1vmm_abi.h, "Finding l1vmm").
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

int hybrid__cpuid_policy(struct kvm_cpuid_entry2 *ent, int nent, int cap, unsigned index,
			 uint32_t features, bool l1_leaves)
{
	for (int i = 0; i < nent; i++) {
		struct kvm_cpuid_entry2 *e = &ent[i];
		if (e->function == 1) {
			e->ecx |= CPUID_HYPERVISOR_BIT;
			e->ebx = (e->ebx & 0x00ffffffu) | (index << 24);
		} else if (e->function == 0xb || e->function == 0x1f) {
			e->edx = index; /* x2APIC ID */
		} else if (l1_leaves && (e->function & 0xffffff00u) == 0x40000000u) {
			/* KVM's 0x40000000 / 0x40000001 move up; max leaf follows */
			if (e->function == 0x40000000u)
				e->eax = KVM_LEAVES_NEW_BASE + 1;
			e->function += KVM_LEAVES_NEW_BASE - 0x40000000u;
		}
	}
	if (!l1_leaves)
		return nent;
	if (nent + 2 > cap)
		return -1;
	ent[nent++] = (struct kvm_cpuid_entry2){
		.function = L1_CPUID_SIGNATURE, .eax = L1_CPUID_MAX_LEAF,
		.ebx = sig_word(0), .ecx = sig_word(1), .edx = sig_word(2),
	};
	ent[nent++] = (struct kvm_cpuid_entry2){
		.function = L1_CPUID_FEATURES,
		.eax = features,
		.ebx = L1_ABI_VERSION,
	};
	return nent;
}

void hybrid__cpuid_lookup(const struct kvm_cpuid_entry2 *ent, int nent, uint32_t leaf,
			  uint32_t subleaf, uint32_t out[4])
{
	for (int i = 0; i < nent; i++) {
		const struct kvm_cpuid_entry2 *e = &ent[i];
		if (e->function != leaf ||
		    ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != subleaf))
			continue;
		out[0] = e->eax;
		out[1] = e->ebx;
		out[2] = e->ecx;
		out[3] = e->edx;
		return;
	}
	out[0] = out[1] = out[2] = out[3] = 0;
}
