/* SPDX-License-Identifier: MIT */
#include "cpu/hybrid/hybrid.h"

#include <stdio.h>

static bool io_fits(const struct kvm_run *run, size_t run_size)
{
	uint64_t bytes = (uint64_t)run->io.size * run->io.count;
	return (run->io.size == 1 || run->io.size == 2 || run->io.size == 4) &&
	       run->io.count > 0 && run->io.data_offset <= run_size &&
	       bytes <= run_size - run->io.data_offset;
}

void hybrid__decode_exit(struct kvm_run *run, size_t run_size, struct vm_exit *out)
{
	*out = (struct vm_exit){ .kind = VM_EXIT_UNKNOWN, .reason = run->exit_reason };
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		if (!io_fits(run, run_size))
			return;
		out->kind = VM_EXIT_IO;
		out->is_write = run->io.direction == KVM_EXIT_IO_OUT;
		out->addr = run->io.port;
		out->size = run->io.size;
		out->count = run->io.count;
		out->data = (uint8_t *)run + run->io.data_offset;
		return;
	case KVM_EXIT_MMIO:
		if (run->mmio.len == 0 || run->mmio.len > sizeof(run->mmio.data))
			return;
		out->kind = VM_EXIT_MMIO;
		out->is_write = run->mmio.is_write;
		out->addr = run->mmio.phys_addr;
		out->size = run->mmio.len;
		out->count = 1;
		out->data = run->mmio.data;
		return;
	case KVM_EXIT_HLT:
		out->kind = VM_EXIT_HLT;
		return;
	case KVM_EXIT_SHUTDOWN:
		out->kind = VM_EXIT_SHUTDOWN;
		return;
	case KVM_EXIT_INTERNAL_ERROR:
		out->kind = VM_EXIT_INTERNAL_ERROR;
		out->suberror = run->internal.suberror;
		return;
	case KVM_EXIT_FAIL_ENTRY:
		out->kind = VM_EXIT_FAIL_ENTRY;
		out->hw_reason = run->fail_entry.hardware_entry_failure_reason;
		return;
	case KVM_EXIT_INTR:
		out->kind = VM_EXIT_INTR;
		return;
	case KVM_EXIT_SYSTEM_EVENT:
		out->kind = VM_EXIT_SYSTEM_EVENT;
		out->event_type = run->system_event.type;
		return;
	default:
		return;
	}
}

const char *hybrid__exit_reason_name(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "UNKNOWN",       [KVM_EXIT_EXCEPTION] = "EXCEPTION",
		[KVM_EXIT_IO] = "IO",                 [KVM_EXIT_HYPERCALL] = "HYPERCALL",
		[KVM_EXIT_DEBUG] = "DEBUG",           [KVM_EXIT_HLT] = "HLT",
		[KVM_EXIT_MMIO] = "MMIO",             [KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",     [KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
		[KVM_EXIT_INTR] = "INTR",             [KVM_EXIT_SET_TPR] = "SET_TPR",
		[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS", [KVM_EXIT_NMI] = "NMI",
		[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
	};
	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "OTHER";
}
