/* SPDX-License-Identifier: MIT */
/*
 * DOC: a VM's balloon on the host (balloon_host.h): the wiring of the
 * balloon core and its devices (balloon/) to the VM: the mode's discard,
 * the balloon event (an MSI in ept mode, an upcall in shadow mode), the
 * virtio-balloon device's place on the bus and its interrupt line.
 */
#include "l1vmm/balloon_host.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "balloon/balloon.h"
#include "balloon/pv.h"
#include "balloon/virtio_balloon.h"
#include "l1vmm/dedup_host.h"
#include "l1vmm/shadow_vm.h"
#include "l1vmm/vcpu.h"
#include "l1vmm/vm.h"

#define PAGE 4096ull

/* ---- releasing host memory ---- */

/* The mode's backend releases the memory (mmu/ept, mmu/shadow). */
static int discard_ept(void *ctx, uint64_t gfn, uint64_t n)
{
	struct vm *vm = ctx;
	return ept__discard(vm->ram, gfn, n);
}

static int discard_shadow(void *ctx, uint64_t gfn, uint64_t n)
{
	struct vm *vm = ctx;
	return shadow__discard(&vm->shadow->g, gfn, n);
}

/* Shadow mode: a ballooned frame is not present in the shadows. */
static int take_shadow(void *ctx, uint64_t gfn, uint64_t n)
{
	struct vm *vm = ctx;
	return shadow__take(&vm->shadow->g, gfn, n);
}

static int give_back_shadow(void *ctx, uint64_t gfn, uint64_t n)
{
	struct vm *vm = ctx;
	return shadow__give_back(&vm->shadow->g, gfn, n);
}

static bool in_use_shadow(void *ctx, uint64_t gfn, uint64_t n)
{
	struct vm *vm = ctx;
	return shadow__in_use(&vm->shadow->g, gfn, n);
}

static bool is_ram(void *ctx, uint64_t gfn, uint64_t n)
{
	struct vm *vm = ctx;
	return vm->shadow || ept__gpa_ptr(vm->ram, gfn * PAGE, n * PAGE) != NULL;
}

/* ---- the PV device: shared info and the event ---- */

static void pv_publish(struct vm *vm)
{
	balloon_pv__publish(vm->balloon, &vm->shared_info->balloon);
}

static void raise_event(struct vm *vm)
{
	if (vm->shadow) {
		struct shadow_vm *sv = vm->shadow;
		__atomic_fetch_or(&sv->si->vcpu[0].pending, L1_EVT_BALLOON, __ATOMIC_RELEASE);
		pthread_mutex_lock(&sv->lock);
		pthread_cond_broadcast(&sv->cv); /* a vCPU 0 in L1_HC_BLOCK */
		pthread_mutex_unlock(&sv->lock);
		vcpu__kick(&vm->vcpus[0]);
		return;
	}
	uint32_t vector = __atomic_load_n(&vm->shared_info->balloon.event_vector, __ATOMIC_ACQUIRE);
	if (vector < 32 || vector > 255)
		return; /* none asked for (or nonsense): the guest's tick polls */
	struct kvm_msi msi = { .address_lo = 0xfee00000u, .data = vector }; /* APIC id 0, fixed */
	if (ioctl(vm->fd, KVM_SIGNAL_MSI, &msi) < 0)
		__atomic_fetch_add(&vm->balloon_event_errors, 1, __ATOMIC_RELAXED);
}

static void pv_notify(void *ctx)
{
	struct vm *vm = ctx;
	pv_publish(vm);
	raise_event(vm);
}

void balloon_host__pull_stats(struct vm *vm)
{
	if (vm->balloon && vm->shared_info)
		balloon_pv__pull_stats(vm->balloon, &vm->shared_info->balloon);
}

/* ---- L1_HC_BALLOON ---- */

int64_t balloon_host__hypercall(struct vm *vm, const struct pv_mem *mem, uint64_t op,
				uint64_t list, uint64_t count, uint64_t order)
{
	if (!vm->balloon)
		return -L1_ENOSYS;
	return balloon_pv__hypercall(vm->balloon, &vm->shared_info->balloon, mem, op, list, count,
				     order);
}

/* ---- the virtio-balloon device (ept mode) ---- */

static void *virtio_gpa_ptr(void *ctx, uint64_t gpa, uint64_t len)
{
	struct vm *vm = ctx;
	return ept__gpa_ptr(vm->ram, gpa, len);
}

static void virtio_set_irq(void *ctx, bool level)
{
	struct vm *vm = ctx;
	struct kvm_irq_level irq = { .irq = L1_VIRTIO_BALLOON_IRQ, .level = level };
	if (ioctl(vm->fd, KVM_IRQ_LINE, &irq) < 0)
		__atomic_fetch_add(&vm->balloon_event_errors, 1, __ATOMIC_RELAXED);
}

static const struct bus_dev_ops virtio_ops = { .read = virtio_mmio__read,
						.write = virtio_mmio__write };

/* The used rings the device writes stay out of page sharing (virtq.h's caveat). */
static int virtio_device_writes(void *ctx, uint64_t gpa, uint64_t len)
{
	return dedup_ept__host_writes(ctx, gpa, len);
}

static int create_virtio(struct vm *vm, char *err, size_t errlen)
{
	struct virtq_mem mem = { .gpa_ptr = virtio_gpa_ptr, .device_writes = virtio_device_writes,
				 .ctx = vm };
	vm->virtio_balloon = virtio_balloon__create(vm->balloon, &mem, virtio_set_irq, vm);
	if (!vm->virtio_balloon) {
		snprintf(err, errlen, "out of memory for the virtio-balloon device");
		return -1;
	}
	int rc = bus__register(&vm->mmio, L1_VIRTIO_BALLOON_GPA, L1_VIRTIO_BALLOON_SIZE, &virtio_ops,
			       virtio_balloon__transport(vm->virtio_balloon), "virtio-balloon");
	if (rc < 0) {
		snprintf(err, errlen, "cannot place the virtio-balloon device: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

const char *balloon_host__driver(struct vm *vm)
{
	if (vm->shared_info && balloon_pv__ready(&vm->shared_info->balloon))
		return "pv";
	if (vm->virtio_balloon) {
		struct virtio_balloon_state st;
		virtio_balloon__state(vm->virtio_balloon, &st);
		if (st.t.status & VIRTIO_STATUS_DRIVER_OK)
			return "virtio";
	}
	return "none";
}

/* ---- life cycle ---- */

int balloon_host__create(struct vm *vm, char *err, size_t errlen)
{
	if (vm->image.protocol != BOOT_L1_LONG64)
		return 0; /* no start info, no shared info: no balloon */
	vm->shared_info = ept__gpa_ptr(vm->ram, VM_SHARED_INFO_GPA, sizeof(*vm->shared_info));
	vm->balloon = calloc(1, sizeof(*vm->balloon));
	if (!vm->shared_info || !vm->balloon) {
		snprintf(err, errlen, "guest memory too small for the shared-info page, or out of memory");
		return -1;
	}
	struct balloon_mem mem = { .p2m = &vm->ram->p2m, .ctx = vm, .is_ram = is_ram,
				   .discard = vm->shadow ? discard_shadow : discard_ept,
				   .take = vm->shadow ? take_shadow : NULL,
				   .give_back = vm->shadow ? give_back_shadow : NULL,
				   .in_use = vm->shadow ? in_use_shadow : NULL };
	int rc = balloon__init(vm->balloon, &mem);
	if (rc < 0) {
		free(vm->balloon);
		vm->balloon = NULL;
		snprintf(err, errlen, "cannot set up the balloon: %s", strerror(-rc));
		return -1;
	}
	balloon__attach(vm->balloon, "pv", pv_notify, vm);
	if (!vm->shadow) {
		memset(vm->shared_info, 0, sizeof(*vm->shared_info));
		ept__mark_written(vm->ram, VM_SHARED_INFO_GPA, PAGE);
		/* l1vmm writes it (balloon target, L1_HC_CPUID results): never shared */
		rc = dedup_ept__host_writes(vm, VM_SHARED_INFO_GPA, PAGE);
		if (rc < 0) {
			snprintf(err, errlen, "cannot keep the shared-info page private: %s",
				 strerror(-rc));
			return -1;
		}
		return create_virtio(vm, err, errlen);
	}
	return 0;
}

void balloon_host__destroy(struct vm *vm)
{
	if (!vm->balloon)
		return;
	if (vm->virtio_balloon)
		virtio_balloon__destroy(vm->virtio_balloon);
	vm->virtio_balloon = NULL;
	balloon__destroy(vm->balloon);
	free(vm->balloon);
	vm->balloon = NULL;
}
