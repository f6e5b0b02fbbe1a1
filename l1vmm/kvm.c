/* SPDX-License-Identifier: MIT */
#include "l1vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define CPUID_SPARE 8 /* room for l1vmm's own leaves */

static const struct {
	int cap;
	const char *name;
	const char *why;
} required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "the in-kernel LAPIC timer" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "stopping vCPUs without races" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "the CPUID policy" },
	{ KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE", "starting secondary vCPUs" },
};

static int get_supported_cpuid(struct kvm_host *kvm, char *err, size_t errlen)
{
	for (int nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) +
					      (size_t)(nent + CPUID_SPARE) * sizeof(c->entries[0]));
		if (!c)
			break;
		c->nent = (uint32_t)nent;
		if (ioctl(kvm->fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			kvm->cpuid = c;
			kvm->cpuid_cap = nent + CPUID_SPARE;
			return 0;
		}
		int e = errno;
		free(c);
		if (e != E2BIG) {
			snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(e));
			return -1;
		}
	}
	snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: no memory for the CPUID table");
	return -1;
}

int kvm_host__open(struct kvm_host *kvm, const char *path, char *err, size_t errlen)
{
	*kvm = (struct kvm_host){ .fd = -1 };
	kvm->fd = open(path, O_RDWR | O_CLOEXEC);
	if (kvm->fd < 0) {
		int e = errno;
		if (e == ENOENT)
			snprintf(err, errlen, "%s does not exist: this host has no KVM "
				 "(load kvm_intel, kvm_amd or kvm_pvm)", path);
		else if (e == EACCES || e == EPERM)
			snprintf(err, errlen, "no permission to open %s: run as root or join "
				 "the kvm group", path);
		else
			snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
		return -1;
	}
	int version = ioctl(kvm->fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		snprintf(err, errlen, "%s speaks KVM API version %d, l1vmm needs %d",
			 path, version, KVM_API_VERSION);
		goto fail;
	}
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (ioctl(kvm->fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0) {
			snprintf(err, errlen, "KVM lacks %s (needed for %s)",
				 required_caps[i].name, required_caps[i].why);
			goto fail;
		}
	}
	int run_size = ioctl(kvm->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(struct kvm_run)) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE returned %d", run_size);
		goto fail;
	}
	kvm->run_size = (size_t)run_size;
	int max = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	kvm->max_vcpus = max > 0 ? (unsigned)max : 1;
	if (get_supported_cpuid(kvm, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	kvm_host__close(kvm);
	return -1;
}

void kvm_host__close(struct kvm_host *kvm)
{
	if (kvm->fd >= 0)
		close(kvm->fd);
	free(kvm->cpuid);
	*kvm = (struct kvm_host){ .fd = -1 };
}
