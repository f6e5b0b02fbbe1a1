/* SPDX-License-Identifier: MIT */
/* ept mode's hypercall doorbell (hypercall_ept.h). */
#include "l1vmm/hypercall_ept.h"

#include <string.h>

#include "l1vmm/balloon_host.h"
#include "l1vmm/dp_host.h"
#include "l1vmm/vcpu.h"
#include "l1vmm/vm.h"
#include "pvops/hypercall.h"

/* Guest-physical reads of guest RAM, for the calls that take a guest list. */
static int gpa_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	struct vm *vm = ctx;
	const void *src = ept__gpa_ptr(vm->ram, gpa, len);
	if (!src)
		return -L1_EFAULT;
	memcpy(dst, src, len);
	return 0;
}

static int64_t dispatch(struct vm *vm, const struct l1_hypercall_block *b)
{
	struct pv_mem mem = { .read = gpa_read, .ctx = vm };
	struct vcpu *v = vcpu__current();
	switch (b->nr) {
	case L1_HC_BALLOON:
		return balloon_host__hypercall(vm, &mem, b->arg[0], b->arg[1], b->arg[2], b->arg[3]);
	case L1_HC_DP:
		return dp_host__hypercall(vm, &mem, b->arg[0], b->arg[1], b->arg[2], b->arg[3]);
	case L1_HC_CPUID:
		return v ? vcpu__cpuid_hypercall(v, vm->shared_info, b->arg[0], b->arg[1])
			 : -L1_ENOSYS;
	default:
		return -L1_ENOSYS;
	}
}

static void doorbell_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct vm *vm = opaque;
	uint64_t gpa = 0;
	if (offset != 0 || size != 8)
		return;
	memcpy(&gpa, data, 8);
	struct l1_hypercall_block *blk = ept__gpa_ptr(vm->ram, gpa, sizeof(*blk));
	if (!blk || (gpa & 7))
		return; /* nowhere to put a result: the guest sees its block unchanged */
	struct l1_hypercall_block b;
	memcpy(&b, blk, sizeof(b)); /* once: the guest may change it meanwhile */
	/* the doorbell page is mapped for tasks too: only the kernel may call */
	int64_t ret = vcpu__current_cpl() != 0 ? -L1_EPERM : dispatch(vm, &b);
	__atomic_store_n(&blk->ret, ret, __ATOMIC_RELEASE);
}

static void doorbell_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	(void)opaque;
	(void)offset;
	memset(data, 0, size);
}

const struct bus_dev_ops hypercall_ept__doorbell_ops = { .read = doorbell_read,
							 .write = doorbell_write };
