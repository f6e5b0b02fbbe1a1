/* SPDX-License-Identifier: MIT */
#include "l1vmm/vm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "l1vmm/balloon_host.h"
#include "l1vmm/blk_host.h"
#include "l1vmm/console.h"
#include "l1vmm/hypercall_ept.h"
#include "l1vmm/sandbox.h"
#include "l1vmm/shadow_vm.h"
#include "l1vmm/vcpu.h"
#include "pvops/l1vmm_abi.h"

#include "balloon/virtio_balloon.h"
#include "mmu/clock.h"
#include "mmu/numa.h"
_Static_assert(L1_VIRTIO_BALLOON_GPA == 0xd0001000ull && L1_VIRTIO_BALLOON_IRQ == 5 &&
	       L1_VIRTIO_BALLOON_SIZE == 4096, "BALLOON_HOST_VIRTIO_CMDLINE describes the device");

#define KVM_TSS_GPA 0xfffbd000ull /* 3 pages KVM needs on VMX hosts, inside the hole */
#define KICK_RETRY_SECONDS 0.05
#define APIC_BUS_HZ 1000000000ull /* KVM's default: 1 ns per LAPIC timer tick */

bool vm__ended(const struct vm *vm)
{
	return __atomic_load_n(&vm->end, __ATOMIC_ACQUIRE) != VM_RUNNING;
}

double vm__now(void)
{
	return clock__mono_s();
}

static void on_guest_exit(void *ctx, uint32_t code)
{
	vm__stop(ctx, VM_END_EXIT, code, NULL);
}

static int add_device(struct bus *bus, uint64_t base, uint64_t len,
		      const struct bus_dev_ops *ops, void *opaque, const char *name,
		      char *err, size_t errlen)
{
	int rc = bus__register(bus, base, len, ops, opaque, name);
	if (rc < 0)
		snprintf(err, errlen, "cannot place %s at 0x%llx on the %s bus: %s", name,
			 (unsigned long long)base, bus->name, strerror(-rc));
	return rc;
}

/* The console's writer only writes: it takes main's list, which has what it needs. */
static void console_thread_start(void)
{
	sandbox__enter(SANDBOX_MAIN, "console");
}

static int create_devices(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen)
{
	vm->pio.name = "port I/O";
	vm->mmio.name = "MMIO";
	uart__init(&vm->uart, cfg->console_prefix ? vm->name : NULL, console__sink, NULL);
	vm->console = console__open(STDOUT_FILENO, console_thread_start);
	if (!vm->console) {
		snprintf(err, errlen, "cannot start the console writer thread");
		return -1;
	}
	vm->uart.sink_ctx = vm->console; /* no vCPU runs yet */
	vm->testdev = (struct testdev){ .on_exit = on_guest_exit, .ctx = vm,
					.isa_debug_exit = cfg->isa_debug_exit };
	if (add_device(&vm->pio, L1_PORT_UART0, UART_NR_REGS, &uart__ops, &vm->uart,
		       "uart0", err, errlen) < 0 ||
	    add_device(&vm->pio, L1_PORT_TEST_EXIT, 4, &testdev__port_ops, &vm->testdev,
		       "test-exit", err, errlen) < 0 ||
	    add_device(&vm->mmio, L1_DOORBELL_GPA, L1_DOORBELL_HYPERCALL, &testdev__doorbell_ops,
		       &vm->testdev, "doorbell", err, errlen) < 0 ||
	    add_device(&vm->mmio, L1_DOORBELL_GPA + L1_DOORBELL_HYPERCALL, 8,
		       &hypercall_ept__doorbell_ops, vm, "hypercall doorbell", err, errlen) < 0)
		return -1;
	return 0;
}

/* QEMU's fw_cfg: the vCPU count and RAM regions, for kernels written for QEMU. */
static int add_fw_cfg(struct vm *vm, char *err, size_t errlen)
{
	struct fw_cfg_machine m = { .nr_cpus = vm->nr_vcpus, .nr_ram = vm->ram->nr_regions };
	for (unsigned i = 0; i < m.nr_ram && i < FW_CFG_E820_MAX; i++)
		m.ram[i] = (typeof(m.ram[0])){ .gpa = vm->ram->region[i].gpa,
					       .size = vm->ram->region[i].size };
	if (fw_cfg__init(&vm->fw_cfg, &m) < 0) {
		snprintf(err, errlen, "cannot describe %u vCPUs and %u RAM regions in fw_cfg",
			 m.nr_cpus, m.nr_ram);
		return -1;
	}
	vm->fw_cfg_ready = true;
	return add_device(&vm->pio, L1_PORT_FW_CFG, FW_CFG_PORT_LEN, &fw_cfg__port_ops,
			  &vm->fw_cfg, "fw_cfg", err, errlen);
}

uint32_t vm__features(const struct vm *vm)
{
	/* a multiboot kernel gets no start info and no shared info: no PV calls */
	if (vm->image.protocol != BOOT_L1_LONG64)
		return L1_FEAT_TEST_EXIT | L1_FEAT_DOORBELL | L1_FEAT_UART;
	return L1_FEAT_START_INFO | L1_FEAT_TEST_EXIT | L1_FEAT_DOORBELL | L1_FEAT_UART |
	       L1_FEAT_BALLOON | L1_FEAT_CPUID | L1_FEAT_DP |
	       (vm->shadow ? L1_FEAT_PV | L1_FEAT_APF : L1_FEAT_HYPERCALL);
}

static uint64_t tsc_khz(const struct vm *vm)
{
	if (vm->nr_vcpus == 0 || ioctl(vm->kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_GET_TSC_KHZ) <= 0)
		return 0;
	int khz = ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);
	return khz > 0 ? (uint64_t)khz : 0;
}

static int write_boot_data(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen)
{
	char cmdline[L1_CMDLINE_MAX + sizeof(BALLOON_HOST_VIRTIO_CMDLINE) + sizeof(BLK_HOST_CMDLINE)];
	snprintf(cmdline, sizeof(cmdline), "%s%s%s", cfg->cmdline,
		 vm->virtio_balloon ? BALLOON_HOST_VIRTIO_CMDLINE : "",
		 vm->virtio_blk ? BLK_HOST_CMDLINE : "");
	size_t len = strlen(cmdline);
	if (len >= L1_CMDLINE_MAX) {
		snprintf(err, errlen, "guest command line is %zu bytes%s, the limit is %u", len,
			 vm->virtio_balloon || vm->virtio_blk ? " with the virtio devices' descriptions" : "",
			 L1_CMDLINE_MAX - 1);
		return -1;
	}
	if (!ept__write(vm->ram, L1_CMDLINE_GPA, cmdline, len + 1)) {
		snprintf(err, errlen, "guest memory too small for the command line");
		return -1;
	}
	if (!vm->shadow && hybrid__write_boot_tables(vm->ram, &vm->image, err, errlen) < 0)
		return -1;
	if (vm->image.protocol != BOOT_L1_LONG64)
		return 0;
	struct l1_start_info si = {
		.magic = L1_START_MAGIC,
		.version = L1_ABI_VERSION,
		.mem_bytes = vm->ram->mem_bytes,
		.ram_below_4g = ept__ram_below_4g(vm->ram->mem_bytes),
		.cmdline_gpa = L1_CMDLINE_GPA,
		.cmdline_len = (uint32_t)len,
		.nr_vcpus = vm->nr_vcpus,
		.tsc_khz = tsc_khz(vm),
		.apic_bus_hz = APIC_BUS_HZ,
		.image_start = vm->image.image_start,
		.image_end = vm->image.image_end,
		.mode = vm->shadow ? L1_MODE_SHADOW : L1_MODE_EPT,
		.features = vm__features(vm),
		.shared_info_gpa = VM_SHARED_INFO_GPA,
	};
	if (!ept__write(vm->ram, L1_START_INFO_GPA, &si, sizeof(si))) {
		snprintf(err, errlen, "guest memory too small for the start info");
		return -1;
	}
	return vm->shadow ? shadow_vm__finish(vm, err, errlen) : 0;
}

static int create_kvm_vm(struct vm *vm, char *err, size_t errlen)
{
	vm->fd = ioctl(vm->kvm->fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VM failed: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->kvm->fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0 &&
	    ioctl(vm->fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_GPA) < 0) {
		snprintf(err, errlen, "KVM_SET_TSS_ADDR failed: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		snprintf(err, errlen, "KVM_CREATE_IRQCHIP failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* ept mode: the guest is its own KVM VM with its own RAM. */
static int create_ept(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen)
{
	int rc = ept__mem_init(&vm->mem, cfg->mem_bytes);
	if (rc < 0) {
		snprintf(err, errlen, "cannot map %llu MiB of guest memory: %s",
			 (unsigned long long)(cfg->mem_bytes >> 20), strerror(-rc));
		return -1;
	}
	vm->ram = vm->phys = &vm->mem;
	if (create_kvm_vm(vm, err, errlen) < 0)
		return -1;
	rc = ept__mem_register(&vm->mem, vm->fd);
	if (rc < 0) {
		snprintf(err, errlen, "registering guest memory with KVM failed: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

/* vms/NAME/numa_nodes: a node list this host has (before any memory is made). */
static int check_numa(struct vm *vm, const struct vm_config *cfg, char *err, size_t errlen)
{
	const char *list = cfg->numa_nodes ? cfg->numa_nodes : "";
	if (numa__parse(list, &vm->numa_nodes) < 0) {
		snprintf(err, errlen, "numa_nodes '%s': not a node list (such as 0 or 0-1,3; "
			 "empty: no binding)", list);
		return -1;
	}
	return numa__check(numa__host(), vm->numa_nodes, err, errlen);
}

/* Guest RAM (ept: its memslots' mapping; shadow: its own machine frames, one
 * run) allocated on the VM's nodes only, bound before anything touches it. */
static int bind_numa(struct vm *vm, char *err, size_t errlen)
{
	for (unsigned i = 0; vm->numa_nodes && i < vm->ram->nr_regions; i++) {
		int rc = numa__bind_range(vm->ram->region[i].hva, vm->ram->region[i].size,
					  vm->numa_nodes);
		if (rc < 0) {
			char list[3 * NUMA_NODES_MAX];
			numa__format(vm->numa_nodes, list, sizeof(list));
			snprintf(err, errlen, "numa_nodes %s: cannot bind guest RAM: %s", list,
				 strerror(-rc));
			return -1;
		}
	}
	return 0;
}

int vm__create(struct vm *vm, const struct kvm_host *kvm, const struct vm_config *cfg,
	       char *err, size_t errlen)
{
	*vm = (struct vm){ .kvm = kvm, .fd = -1, .on_end = cfg->on_end,
			   .on_end_ctx = cfg->on_end_ctx, .ram = &vm->mem, .phys = &vm->mem,
			   .disk_fd = -1 };
	snprintf(vm->name, sizeof(vm->name), "%s", cfg->name);
	vm->cpuid_hide_leaves = cfg->cpuid_hide_leaves;
	vm->dp_cooperative = cfg->dp_cooperative;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->dp_lock, NULL);
	pthread_cond_init(&vm->ended_cv, NULL);
	if (create_devices(vm, cfg, err, errlen) < 0)
		return -1;
	vm->mode = cfg->mode == CPU_MODE_SHADOW ? CPU_MODE_SHADOW : CPU_MODE_EPT;
	snprintf(vm->mode_why, sizeof(vm->mode_why), "%s", cfg->mode_why ? cfg->mode_why :
		 cfg->mode == CPU_MODE_AUTO ? "auto, unresolved: ept" : "requested");
	if (cfg->vcpus == 0 || cfg->vcpus > kvm->max_vcpus) {
		snprintf(err, errlen, "%u vCPUs requested, KVM allows 1 to %u", cfg->vcpus,
			 kvm->max_vcpus);
		return -1;
	}
	if (check_numa(vm, cfg, err, errlen) < 0)
		return -1;
	if (vm->mode == CPU_MODE_SHADOW) {
		if (!cfg->machine) {
			snprintf(err, errlen, "l1vmm bug: a shadow-mode VM without a machine");
			return -1;
		}
		if (shadow_vm__create(vm, cfg->machine, cfg, err, errlen) < 0)
			return -1;
	} else if (create_ept(vm, cfg, err, errlen) < 0) {
		return -1;
	}
	if (bind_numa(vm, err, errlen) < 0)
		return -1;
	char why[256];
	if (loader__load(cfg->kernel, cfg->kernel_size, vm->ram, L1_CMDLINE_GPA, &vm->image,
			 why, sizeof(why)) < 0) {
		snprintf(err, errlen, "kernel %s: %s", cfg->kernel_name, why);
		return -1;
	}
	if (loader__load_modules(vm->ram, &vm->image, cfg->modules, cfg->nr_modules, why,
				 sizeof(why)) < 0) {
		snprintf(err, errlen, "kernel %s: %s", cfg->kernel_name, why);
		return -1;
	}
	if (vm->shadow && vm->image.protocol != BOOT_L1_LONG64) {
		snprintf(err, errlen, "kernel %s: a multiboot kernel cannot run in shadow mode",
			 cfg->kernel_name);
		return -1;
	}
	vm->vcpus = calloc(cfg->vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		snprintf(err, errlen, "out of memory for %u vCPUs", cfg->vcpus);
		return -1;
	}
	vm->nr_vcpus = cfg->vcpus;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vm->vcpus[i].fd = -1;
	/* vCPUs before the start info: its TSC frequency comes from vCPU 0 */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vcpu__create(&vm->vcpus[i], vm, i, err, errlen) < 0)
			return -1;
	if (balloon_host__create(vm, err, errlen) < 0 || add_fw_cfg(vm, err, errlen) < 0 ||
	    blk_host__create(vm, cfg, err, errlen) < 0)
		return -1;
	return write_boot_data(vm, cfg, err, errlen);
}

int vm__start(struct vm *vm, char *err, size_t errlen)
{
	vm->start_time = vm__now();
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		pthread_mutex_lock(&vm->lock);
		vm->nr_running++;
		pthread_mutex_unlock(&vm->lock);
		int rc = vcpu__start(&vm->vcpus[i]);
		if (rc < 0) {
			pthread_mutex_lock(&vm->lock);
			vm->nr_running--;
			pthread_mutex_unlock(&vm->lock);
			snprintf(err, errlen, "cannot start vCPU %u's thread: %s", i, strerror(-rc));
			vm__stop(vm, VM_END_SIGNAL, 0, NULL);
			return -1;
		}
	}
	return 0;
}

void vm__stop(struct vm *vm, enum vm_end why, uint32_t code, char *crash_report)
{
	bool first = false;
	pthread_mutex_lock(&vm->lock);
	if (vm->end == VM_RUNNING) {
		first = true;
		vm->exit_code = why == VM_END_EXIT ? code : 0;
		vm->end_signal = why == VM_END_SIGNAL ? (int)code : 0;
		vm->crash_report = crash_report;
		crash_report = NULL;
		vm->end_time = vm__now();
		/* pairs with the acquire in the vCPU loop's vm_ended() */
		__atomic_store_n(&vm->end, why, __ATOMIC_RELEASE);
		pthread_cond_broadcast(&vm->ended_cv);
	}
	pthread_mutex_unlock(&vm->lock);
	free(crash_report); /* a later crash loses to the first cause */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu__kick(&vm->vcpus[i]);
	if (first && vm->on_end)
		vm->on_end(vm->on_end_ctx);
}

void vm__hold_request(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	__atomic_store_n(&vm->hold_req, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&vm->lock);
	/* a vCPU between its hold point and KVM_RUN: immediate_exit returns it */
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu__kick(&vm->vcpus[i]);
}

bool vm__hold_wait(struct vm *vm, double until)
{
	pthread_mutex_lock(&vm->lock);
	while (vm->nr_held < vm->nr_running && vm->end == VM_RUNNING) {
		double left = until - vm__now();
		if (left <= 0)
			break;
		vm__timedwait(&vm->ended_cv, &vm->lock, left);
	}
	bool held = vm->nr_held >= vm->nr_running && vm->end == VM_RUNNING;
	pthread_mutex_unlock(&vm->lock);
	return held;
}

void vm__release_vcpus(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	__atomic_store_n(&vm->hold_req, 0, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&vm->ended_cv);
	pthread_mutex_unlock(&vm->lock);
}

void vm__hold_point(struct vm *vm)
{
	if (!__atomic_load_n(&vm->hold_req, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&vm->lock);
	if (vm->hold_req && vm->end == VM_RUNNING) {
		vm->nr_held++;
		pthread_cond_broadcast(&vm->ended_cv); /* the holder counts us */
		while (vm->hold_req && vm->end == VM_RUNNING)
			pthread_cond_wait(&vm->ended_cv, &vm->lock);
		vm->nr_held--;
	}
	pthread_mutex_unlock(&vm->lock);
}

void vm__timedwait(pthread_cond_t *cv, pthread_mutex_t *lock, double seconds)
{
	clock__cond_wait(cv, lock, seconds);
}

/* Kick until every vCPU thread has left its loop: a kick can land in the
 * instant between a loop's end check and KVM_RUN; the next one will not. */
static void wait_vcpus_out(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	while (vm->nr_running > 0) {
		pthread_mutex_unlock(&vm->lock);
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			vcpu__kick(&vm->vcpus[i]);
		pthread_mutex_lock(&vm->lock);
		vm__timedwait(&vm->ended_cv, &vm->lock, KICK_RETRY_SECONDS);
	}
	pthread_mutex_unlock(&vm->lock);
}

void vm__join(struct vm *vm)
{
	if (vm->nr_vcpus) {
		vm__stop(vm, VM_END_SIGNAL, 0, NULL);
		wait_vcpus_out(vm);
		for (unsigned i = 0; i < vm->nr_vcpus; i++)
			vcpu__destroy(&vm->vcpus[i]);
	}
	uart__flush(&vm->uart);
	pthread_mutex_lock(&vm->uart.lock);
	vm->uart.sink_ctx = NULL; /* a closed console discards */
	pthread_mutex_unlock(&vm->uart.lock);
	console__close(vm->console, vm->end_time + CONSOLE_DRAIN_SECONDS);
	vm->console = NULL;
}

void vm__destroy(struct vm *vm)
{
	vm__join(vm);
	free(vm->vcpus);
	uart__destroy(&vm->uart);
	if (vm->fw_cfg_ready)
		fw_cfg__destroy(&vm->fw_cfg);
	vm->fw_cfg_ready = false;
	if (vm->fd >= 0)
		close(vm->fd);
	balloon_host__destroy(vm);
	blk_host__destroy(vm);
	ept__mem_destroy(&vm->mem);
	shadow_vm__destroy(vm);
	free(vm->crash_report);
	pthread_cond_destroy(&vm->ended_cv);
	pthread_mutex_destroy(&vm->lock);
	pthread_mutex_destroy(&vm->dp_lock);
	vm->vcpus = NULL;
	vm->nr_vcpus = 0;
	vm->crash_report = NULL;
	vm->fd = -1;
}

int vm__exit_status(const struct vm *vm)
{
	switch (vm->end) {
	case VM_END_EXIT:    return (int)(vm->exit_code & 0xff);
	case VM_END_CRASH:   return 3;
	case VM_END_TIMEOUT: return 124;
	case VM_END_SIGNAL:  return 128 + vm->end_signal;
	case VM_RUNNING:
	default:             return 3;
	}
}

void vm__describe_end(const struct vm *vm, char *buf, size_t len)
{
	uint64_t stopped_ns = __atomic_load_n(&vm->stopped_ns, __ATOMIC_ACQUIRE);
	double t = (stopped_ns ? (double)stopped_ns / 1e9 : vm__now()) - vm->start_time;
	switch (vm->end) {
	case VM_END_EXIT:
		if (vm->testdev.isa_debug_exit && (vm->exit_code & 1))
			snprintf(buf, len, "exited with code %u (isa-debug-exit: the guest wrote %u) after %.2f s",
				 vm->exit_code, vm->exit_code >> 1, t);
		else
			snprintf(buf, len, "exited with code %u after %.2f s", vm->exit_code, t);
		break;
	case VM_END_CRASH:
		snprintf(buf, len, "crashed (status 3) after %.2f s", t);
		break;
	case VM_END_TIMEOUT:
		snprintf(buf, len, "timed out (status 124) after %.2f s", t);
		break;
	case VM_END_SIGNAL:
		snprintf(buf, len, "stopped by signal %d (status %d) after %.2f s", vm->end_signal,
			 128 + vm->end_signal, t);
		break;
	default:
		snprintf(buf, len, "still running");
		break;
	}
}
