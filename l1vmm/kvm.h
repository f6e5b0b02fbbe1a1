/* SPDX-License-Identifier: MIT */
/*
 * DOC: the host's /dev/kvm: opened once per l1vmm process, checked for the
 * API version and every capability l1vmm relies on, so that a missing one
 * fails at start with its name rather than later with a bare errno.
 */
#ifndef L1VMM_KVM_H
#define L1VMM_KVM_H

#include <linux/kvm.h>
#include <stddef.h>

struct kvm_host {
	int fd;                      /* /dev/kvm */
	size_t run_size;             /* KVM_GET_VCPU_MMAP_SIZE */
	unsigned max_vcpus;          /* per VM */
	struct kvm_cpuid2 *cpuid;    /* KVM_GET_SUPPORTED_CPUID, with spare room */
	int cpuid_cap;               /* entries cpuid has room for */
};

/* 0, or -1 with a one-line reason (no /dev/kvm, no permission, old API, missing cap). */
int kvm_host__open(struct kvm_host *kvm, const char *path, char *err, size_t errlen);
void kvm_host__close(struct kvm_host *kvm);

#endif
