/* Unit tests: hybrid__decode_exit(), a pure function of the kvm_run area. */
#include "cmocka_all.h"

#include <stdlib.h>
#include <string.h>

#include "cpu/hybrid/hybrid.h"

#define RUN_SIZE 4096

static struct kvm_run *new_run(uint32_t reason)
{
	struct kvm_run *run = calloc(1, RUN_SIZE);
	assert_non_null(run);
	run->exit_reason = reason;
	return run;
}

static void io_out_is_decoded(void **state)
{
	(void)state;
	struct kvm_run *run = new_run(KVM_EXIT_IO);
	run->io.direction = KVM_EXIT_IO_OUT;
	run->io.port = 0x3f8;
	run->io.size = 1;
	run->io.count = 5;
	run->io.data_offset = 1024;
	struct vm_exit e;
	hybrid__decode_exit(run, RUN_SIZE, &e);
	assert_int_equal(e.kind, VM_EXIT_IO);
	assert_true(e.is_write);
	assert_int_equal(e.addr, 0x3f8);
	assert_int_equal(e.size, 1);
	assert_int_equal(e.count, 5);
	assert_ptr_equal(e.data, (uint8_t *)run + 1024);
	free(run);
}

static void io_in_dword(void **state)
{
	(void)state;
	struct kvm_run *run = new_run(KVM_EXIT_IO);
	run->io.direction = KVM_EXIT_IO_IN;
	run->io.port = 0xf4;
	run->io.size = 4;
	run->io.count = 1;
	run->io.data_offset = RUN_SIZE - 4; /* the last 4 bytes: still inside */
	struct vm_exit e;
	hybrid__decode_exit(run, RUN_SIZE, &e);
	assert_int_equal(e.kind, VM_EXIT_IO);
	assert_false(e.is_write);
	assert_int_equal(e.size, 4);
	free(run);
}

static void io_outside_run_area_is_unknown(void **state)
{
	(void)state;
	struct kvm_run *run = new_run(KVM_EXIT_IO);
	struct vm_exit e;
	run->io.size = 1;
	run->io.count = 2;
	run->io.data_offset = RUN_SIZE - 1; /* second byte beyond the area */
	hybrid__decode_exit(run, RUN_SIZE, &e);
	assert_int_equal(e.kind, VM_EXIT_UNKNOWN);

	run->io.data_offset = UINT64_MAX; /* offset itself out of range */
	run->io.count = 1;
	hybrid__decode_exit(run, RUN_SIZE, &e);
	assert_int_equal(e.kind, VM_EXIT_UNKNOWN);

	run->io.data_offset = 1024;
	run->io.size = 4;
	run->io.count = 0xffffffffu; /* size * count overflows 32 bits */
	hybrid__decode_exit(run, RUN_SIZE, &e);
	assert_int_equal(e.kind, VM_EXIT_UNKNOWN);
	free(run);
}

static void io_bad_size_is_unknown(void **state)
{
	(void)state;
	struct kvm_run *run = new_run(KVM_EXIT_IO);
	run->io.count = 1;
	run->io.data_offset = 1024;
	for (unsigned size = 0; size <= 8; size++) {
		run->io.size = (uint8_t)size;
		struct vm_exit e;
		hybrid__decode_exit(run, RUN_SIZE, &e);
		bool valid = size == 1 || size == 2 || size == 4;
		assert_int_equal(e.kind, valid ? VM_EXIT_IO : VM_EXIT_UNKNOWN);
	}
	run->io.size = 1;
	run->io.count = 0;
	struct vm_exit e;
	hybrid__decode_exit(run, RUN_SIZE, &e);
	assert_int_equal(e.kind, VM_EXIT_UNKNOWN);
	free(run);
}

static void mmio_is_decoded(void **state)
{
	(void)state;
	struct kvm_run *run = new_run(KVM_EXIT_MMIO);
	run->mmio.phys_addr = 0xd0000008;
	run->mmio.len = 8;
	run->mmio.is_write = 1;
	struct vm_exit e;
	hybrid__decode_exit(run, RUN_SIZE, &e);
	assert_int_equal(e.kind, VM_EXIT_MMIO);
	assert_true(e.is_write);
	assert_int_equal(e.addr, 0xd0000008);
	assert_int_equal(e.size, 8);
	assert_ptr_equal(e.data, run->mmio.data);

	run->mmio.len = 9;
	hybrid__decode_exit(run, RUN_SIZE, &e);
	assert_int_equal(e.kind, VM_EXIT_UNKNOWN);
	run->mmio.len = 0;
	hybrid__decode_exit(run, RUN_SIZE, &e);
	assert_int_equal(e.kind, VM_EXIT_UNKNOWN);
	free(run);
}

static void fatal_exits_are_classified(void **state)
{
	(void)state;
	struct kvm_run *run = new_run(KVM_EXIT_SHUTDOWN);
	struct vm_exit e;
	hybrid__decode_exit(run, RUN_SIZE, &e);
	assert_int_equal(e.kind, VM_EXIT_SHUTDOWN);

	run->exit_reason = KVM_EXIT_INTERNAL_ERROR;
	run->internal.suberror = KVM_INTERNAL_ERROR_EMULATION;
	hybrid__decode_exit(run, RUN_SIZE, &e);
	assert_int_equal(e.kind, VM_EXIT_INTERNAL_ERROR);
	assert_int_equal(e.suberror, KVM_INTERNAL_ERROR_EMULATION);

	run->exit_reason = KVM_EXIT_FAIL_ENTRY;
	run->fail_entry.hardware_entry_failure_reason = 0x21;
	hybrid__decode_exit(run, RUN_SIZE, &e);
	assert_int_equal(e.kind, VM_EXIT_FAIL_ENTRY);
	assert_int_equal(e.hw_reason, 0x21);

	run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
	run->system_event.type = KVM_SYSTEM_EVENT_RESET;
	hybrid__decode_exit(run, RUN_SIZE, &e);
	assert_int_equal(e.kind, VM_EXIT_SYSTEM_EVENT);
	assert_int_equal(e.event_type, KVM_SYSTEM_EVENT_RESET);

	run->exit_reason = KVM_EXIT_INTR;
	hybrid__decode_exit(run, RUN_SIZE, &e);
	assert_int_equal(e.kind, VM_EXIT_INTR);

	run->exit_reason = KVM_EXIT_HLT;
	hybrid__decode_exit(run, RUN_SIZE, &e);
	assert_int_equal(e.kind, VM_EXIT_HLT);

	run->exit_reason = 0x7fff;
	hybrid__decode_exit(run, RUN_SIZE, &e);
	assert_int_equal(e.kind, VM_EXIT_UNKNOWN);
	assert_int_equal(e.reason, 0x7fff);
	assert_string_equal(hybrid__exit_reason_name(0x7fff), "OTHER");
	assert_string_equal(hybrid__exit_reason_name(KVM_EXIT_SHUTDOWN), "SHUTDOWN");
	free(run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(io_out_is_decoded),
		cmocka_unit_test(io_in_dword),
		cmocka_unit_test(io_outside_run_area_is_unknown),
		cmocka_unit_test(io_bad_size_is_unknown),
		cmocka_unit_test(mmio_is_decoded),
		cmocka_unit_test(fatal_exits_are_classified),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
