/*
 * libFuzzer target: port I/O and MMIO dispatch (l1vmm/bus.c and the devices
 * on the buses: UART, test-exit port, doorbell page, ept hypercall doorbell,
 * virtio-balloon over virtio-mmio, fw_cfg) through l1vmm's real ept vCPU loop: the VM
 * is made by vm__create() on a fake /dev/kvm whose KVM_RUN plays the exits
 * the input describes (any port, address, size, count, direction, data
 * offset, including malformed ones, which must end the VM as a crash, not
 * l1vmm). Invariants, checked after each exit: a
 * read that no device claims (by the ABI's device map) returns all ones; a
 * write of V to the test-exit port or the doorbell's exit register ends the
 * VM with exit code V; well-formed I/O never ends the VM as a crash; no access outside
 * the run area or guest RAM (ASan).
 */
#include <stdlib.h>
#include <string.h>

#include "balloon/virtio_balloon.h"
#include "pvops/l1vmm_abi.h"
#include "vm_world.h"

#define RAM (16ull << 20)
#define DATA_OFFSET 256u /* where the fake KVM puts port I/O data */

struct range {
	uint64_t base, len;
};
/* The devices the ABI promises (pvops/l1vmm_abi.h), per bus. */
static const struct range pio_devs[] = { { L1_PORT_UART0, 8 }, { L1_PORT_TEST_EXIT, 4 },
					 { L1_PORT_FW_CFG, 2 } };
static const struct range mmio_devs[] = { { L1_DOORBELL_GPA, L1_DOORBELL_HYPERCALL + 8 },
					  { L1_VIRTIO_BALLOON_GPA, L1_VIRTIO_BALLOON_SIZE } };

struct script {
	struct vm_world w;
	/* the last exit, checked when the loop comes back for the next */
	bool pending_read_check;
	uint8_t *read_data;
	size_t read_len;
	bool expect_exit;
	uint32_t exit_code;
	bool malformed; /* an exit KVM never makes was played: a crash is the answer */
};

static bool claimed(const struct range *r, size_t n, uint64_t addr, unsigned size)
{
	for (size_t i = 0; i < n; i++)
		if (addr + size > r[i].base && addr < r[i].base + r[i].len)
			return true;
	return false;
}

static void check_last(struct script *s)
{
	if (s->pending_read_check)
		for (size_t i = 0; i < s->read_len; i++)
			if (s->read_data[i] != 0xff)
				abort(); /* a read nobody claimed must be all ones */
	s->pending_read_check = false;
	if (s->expect_exit)
		abort(); /* the exit write did not end the VM */
}

static uint64_t pick_addr(uint8_t sel, uint64_t raw, bool pio)
{
	static const uint64_t pio_bases[] = { L1_PORT_UART0, L1_PORT_TEST_EXIT, 0 };
	static const uint64_t mmio_bases[] = { L1_DOORBELL_GPA, L1_VIRTIO_BALLOON_GPA, 0x100000,
					       0 };
	if (pio)
		return (pio_bases[sel % 3] + (raw & 0xf)) & 0xffff;
	return sel % 4 == 3 ? raw : mmio_bases[sel % 4] + (raw & 0x1fff);
}

static bool next_exit(void *ctx)
{
	struct script *s = ctx;
	check_last(s);
	struct kvm_run *run = s->w.k.run;
	const uint8_t *p = vm_world__take(&s->w, 20);
	if (!p)
		return vm_world__script_over(&s->w);
	uint8_t op = p[0], sel = p[1], sz = p[2], cnt = p[3];
	uint64_t raw, val;
	memcpy(&raw, p + 4, 8);
	memcpy(&val, p + 12, 8);
	bool write = op & 1;
	switch ((op >> 1) % 4) {
	case 0: { /* port I/O: size 1, 2, 4 (or a bad one), count 1..4 */
		static const uint8_t sizes[] = { 1, 2, 4, 1, 2, 4, 3, 8 };
		run->exit_reason = KVM_EXIT_IO;
		run->io.direction = write ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
		run->io.size = sizes[sz & 7];
		run->io.port = (uint16_t)pick_addr(sel, raw, true);
		run->io.count = 1 + cnt % 4;
		run->io.data_offset = (op & 0x80) ? (uint64_t)(raw >> 32) : DATA_OFFSET;
		uint8_t *d = (uint8_t *)run + DATA_OFFSET;
		for (unsigned i = 0; i < 32; i++)
			d[i] = (uint8_t)(val >> (8 * (i % 8)));
		bool valid = (run->io.size == 1 || run->io.size == 2 || run->io.size == 4) &&
			     !(op & 0x80);
		s->malformed |= !valid;
		if (valid && !write && !claimed(pio_devs, 2, run->io.port, run->io.size)) {
			s->pending_read_check = true;
			s->read_data = d;
			s->read_len = (size_t)run->io.size * run->io.count;
		}
		if (valid && write && run->io.port == L1_PORT_TEST_EXIT) {
			s->expect_exit = true;
			uint32_t v = 0;
			memcpy(&v, d, run->io.size);
			s->exit_code = v;
		}
		return true;
	}
	case 1: { /* MMIO: length 1..8 (or 0, 9: malformed) */
		run->exit_reason = KVM_EXIT_MMIO;
		run->mmio.phys_addr = pick_addr(sel, raw, false);
		run->mmio.len = sz % 10;
		run->mmio.is_write = write;
		memcpy(run->mmio.data, &val, 8);
		uint32_t len = run->mmio.len;
		s->malformed |= len < 1 || len > 8;
		bool ram = run->mmio.phys_addr < RAM;
		if (len >= 1 && len <= 8 && !write && !ram &&
		    !claimed(mmio_devs, 2, run->mmio.phys_addr, len)) {
			s->pending_read_check = true;
			s->read_data = run->mmio.data;
			s->read_len = len;
		}
		if (len >= 1 && len <= 8 && write &&
		    run->mmio.phys_addr == L1_DOORBELL_GPA + L1_DOORBELL_EXIT) {
			s->expect_exit = true;
			uint64_t v = 0;
			memcpy(&v, run->mmio.data, len);
			s->exit_code = (uint32_t)v;
		}
		/* the hypercall doorbell's block: guest RAM the input wrote */
		s->w.k.sregs.cs.selector = (uint16_t)(cnt & 3);
		return true;
	}
	case 2: { /* the guest writes RAM (virtqueues, hypercall blocks) */
		uint64_t gpa = raw % (RAM - 8);
		if (gpa >= L1_BOOT_AREA_END || gpa < 0x6000)
			ept__write(s->w.vm.ram, gpa, &val, 8);
		s->w.k.run->exit_reason = KVM_EXIT_INTR;
		return true;
	}
	default: /* an interruption (a kick) */
		run->exit_reason = KVM_EXIT_INTR;
		return true;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct script s;
	memset(&s, 0, sizeof(s));
	vm_world__create(&s.w, false, RAM, next_exit, NULL, &s);
	vm_world__play(&s.w, data, size, 4096); /* a bounded script */
	if (s.w.vm.end == VM_END_CRASH && !s.malformed)
		abort(); /* port I/O and MMIO never crash the VM */
	if (s.expect_exit && (s.w.vm.end != VM_END_EXIT || s.w.vm.exit_code != s.exit_code))
		abort();
	vm_world__destroy(&s.w);
	return 0;
}
