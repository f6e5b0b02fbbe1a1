/* SPDX-License-Identifier: MIT */
/*
 * DOC: bench_exits: the cost of one guest exit, measured on the host.
 *
 * Each benchmark builds a VM with l1vmm's own code (kvm_host__open,
 * vm__create) around a tiny guest kernel (bench_guest.S) that does nothing
 * but exit: it writes a port or an unbacked MMIO page in an endless loop,
 * from CPL0 or, after an iretq, from CPL3. No vCPU thread is started: the
 * benchmark thread calls KVM_RUN itself, so one iteration is exactly one
 * KVM_RUN that enters the guest, runs one access, exits to KVM, leaves to
 * user space and is checked to be the exit expected (the right kind, port or
 * address, a write). Wall-clock time, since the thread spends it in the
 * guest and in the kernel.
 *
 * Two baselines run in the same process, so that ratios can be quoted from
 * one run on a noisy shared machine:
 *   native/getppid          one host system call round trip;
 *   native/kvm_run_no_entry KVM_RUN with immediate_exit set: the ioctl path
 *                           into KVM and back, without entering the guest.
 *
 * Usage: bench_exits [--benchmark_* flags], e.g. the figures of perf/run.sh:
 *   bench_exits --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
 * Exit status 2 when /dev/kvm cannot be opened.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cpu/hybrid/hybrid.h"
#include "l1vmm/kvm.h"
#include "l1vmm/vcpu.h"
#include "l1vmm/vm.h"
#include "perf/bench_guest.h"
#include "perf/gbench.h"
#include "pvops/l1vmm_abi.h"

/* bench_guest.elf, embedded by bench_guest_blob.S */
extern const unsigned char bench_guest_elf[];
extern const unsigned char bench_guest_elf_end[];

/* The 16550 scratch register: a port write that means nothing to any device. */
#define BENCH_PORT (L1_PORT_UART0 + 7)
/* The doorbell's counted no-op, the MMIO exit the ABI provides for measuring. */
#define BENCH_MMIO_GPA (L1_DOORBELL_GPA + L1_DOORBELL_NOP)
#define BENCH_MEM_BYTES (16ull << 20)

#define PTE_P    (1ull << 0)
#define PTE_U    (1ull << 2)
#define PTE_PS   (1ull << 7)
#define PTE_ADDR 0x000ffffffffff000ull

#define ERR_MAX 512

struct exit_bench {
	const char *name;
	unsigned variant;       /* BENCH_GUEST_* */
	enum vm_exit_kind kind; /* VM_EXIT_IO or VM_EXIT_MMIO */
	uint64_t addr;          /* the port or guest-physical address written */
	bool user;              /* runs at CPL3 */
};

static const struct exit_bench exit_benches[] = {
	{ "exit/pio/cpl0", BENCH_GUEST_PIO_CPL0, VM_EXIT_IO, BENCH_PORT, false },
	{ "exit/mmio/cpl0", BENCH_GUEST_MMIO_CPL0, VM_EXIT_MMIO, BENCH_MMIO_GPA, false },
	{ "exit/mmio/cpl3", BENCH_GUEST_MMIO_CPL3, VM_EXIT_MMIO, BENCH_MMIO_GPA, true },
	{ "exit/pio/cpl3", BENCH_GUEST_PIO_CPL3, VM_EXIT_IO, BENCH_PORT, true },
	/* real hardware would #GP: does this KVM enforce the guest's IOPL? */
	{ "exit/pio/cpl3_iopl0", BENCH_GUEST_PIO_CPL3_IOPL0, VM_EXIT_IO, BENCH_PORT, true },
};

static struct kvm_host kvm; /* opened once in main() */

/*
 * Let CPL3 use the host's identity map at gva: set U on each entry of the walk
 * (PML4E, PDPTE, PDE, and the PTE if any), since the host maps supervisor-only.
 */
static int allow_user(struct ept_mem *mem, uint64_t cr3, uint64_t gva, char *err,
		      size_t errlen)
{
	uint64_t table = cr3 & PTE_ADDR;
	for (int level = 3; level >= 0; level--) {
		unsigned shift = 12 + 9 * (unsigned)level;
		uint64_t gpa = table + ((gva >> shift) & 511) * 8;
		uint64_t *pte = ept__gpa_ptr(mem, gpa, sizeof(*pte));
		if (!pte || !(*pte & PTE_P)) {
			snprintf(err, errlen, "gva 0x%llx is not mapped by the boot page tables",
				 (unsigned long long)gva);
			return -1;
		}
		*pte |= PTE_U;
		if (level == 0 || (*pte & PTE_PS))
			break;
		table = *pte & PTE_ADDR;
	}
	return 0;
}

/* Point the guest at variant b, and open the pages it touches to CPL3 if it needs them. */
static int setup_guest(struct vm *vm, const struct exit_bench *b, char *err, size_t errlen)
{
	int fd = vm->vcpus[0].fd;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	if (ioctl(fd, KVM_GET_REGS, &regs) < 0 || ioctl(fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(err, errlen, "reading vCPU 0's registers failed: %s", strerror(errno));
		return -1;
	}
	regs.rbx = b->variant;
	regs.rdx = BENCH_PORT;
	regs.r9 = BENCH_MMIO_GPA;
	if (ioctl(fd, KVM_SET_REGS, &regs) < 0) {
		snprintf(err, errlen, "KVM_SET_REGS failed: %s", strerror(errno));
		return -1;
	}
	if (!b->user)
		return 0;
	/* the image is a few KiB inside one 2 MiB page, but check both ends anyway */
	if (allow_user(&vm->mem, sregs.cr3, vm->image.image_start, err, errlen) < 0 ||
	    allow_user(&vm->mem, sregs.cr3, vm->image.image_end - 1, err, errlen) < 0 ||
	    allow_user(&vm->mem, sregs.cr3, BENCH_MMIO_GPA, err, errlen) < 0)
		return -1;
	return 0;
}

/* Build a VM around the bench kernel, set up for b, its vCPU 0 ready for KVM_RUN. */
static int bench_vm_create(struct vm *vm, const struct exit_bench *b, char *err, size_t errlen)
{
	struct vm_config cfg = {
		.name = "bench",
		.mem_bytes = BENCH_MEM_BYTES,
		.vcpus = 1,
		.mode = CPU_MODE_EPT,
		.kernel = bench_guest_elf,
		.kernel_size = (size_t)(bench_guest_elf_end - bench_guest_elf),
		.kernel_name = "bench_guest.elf (built in)",
		.cmdline = "",
	};
	if (vm__create(vm, &kvm, &cfg, err, errlen) < 0 || setup_guest(vm, b, err, errlen) < 0)
		return -1;
	return 0;
}

/* Why the guest did not exit as b expects: the exit, and where the guest was. */
static void describe_exit(const struct vm *vm, const struct exit_bench *b,
			  const struct vm_exit *e, char *err, size_t errlen)
{
	char what[96] = "";
	if (e->kind == VM_EXIT_IO || e->kind == VM_EXIT_MMIO)
		snprintf(what, sizeof(what), ", a %s 0x%llx", e->is_write ? "write to" : "read of",
			 (unsigned long long)e->addr);
	else if (e->kind == VM_EXIT_INTERNAL_ERROR)
		snprintf(what, sizeof(what), ", suberror %u%s", e->suberror,
			 e->suberror == KVM_INTERNAL_ERROR_EMULATION ? " (emulation failure)" : "");
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	int fd = vm->vcpus[0].fd;
	char where[96] = "";
	if (ioctl(fd, KVM_GET_REGS, &regs) == 0 && ioctl(fd, KVM_GET_SREGS, &sregs) == 0)
		snprintf(where, sizeof(where), " at rip 0x%llx, cpl %u, rflags 0x%llx",
			 (unsigned long long)regs.rip, sregs.cs.dpl,
			 (unsigned long long)regs.rflags);
	snprintf(err, errlen, "exit %s%s%s; expected a %s write to 0x%llx",
		 hybrid__exit_reason_name(e->reason), what, where,
		 b->kind == VM_EXIT_IO ? "port" : "MMIO", (unsigned long long)b->addr);
}

/* One KVM_RUN; true when it ended with the exit b expects, else a reason in err. */
static bool run_once(struct vm *vm, const struct exit_bench *b, char *err, size_t errlen)
{
	struct vcpu *v = &vm->vcpus[0];
	if (ioctl(v->fd, KVM_RUN, 0) < 0) {
		snprintf(err, errlen, "KVM_RUN failed: %s", strerror(errno));
		return false;
	}
	struct vm_exit e;
	hybrid__decode_exit(v->run, kvm.run_size, &e);
	if (e.kind == b->kind && e.is_write && e.addr == b->addr)
		return true;
	describe_exit(vm, b, &e, err, errlen);
	return false;
}

/*
 * The first run also executes the guest's prologue (emulated) and, for CPL3,
 * its iretq: keep it out of the timing, and check that the guest now exits
 * from the privilege level the benchmark is named after.
 */
static bool warm_up(struct vm *vm, const struct exit_bench *b, char *err, size_t errlen)
{
	if (!run_once(vm, b, err, errlen))
		return false;
	struct kvm_sregs sregs;
	if (ioctl(vm->vcpus[0].fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(err, errlen, "KVM_GET_SREGS failed: %s", strerror(errno));
		return false;
	}
	unsigned want = b->user ? 3 : 0;
	if (sregs.cs.dpl != want) {
		snprintf(err, errlen, "the guest exits from CPL%u, not CPL%u", sregs.cs.dpl, want);
		return false;
	}
	return true;
}

/* End a benchmark that ran ok (one item per iteration) or failed with err. */
static void finish(struct gbench_state *st, struct vm *vm, bool ok, const char *err)
{
	if (ok)
		gbench_set_items_processed(st, gbench_iterations(st));
	else
		gbench_skip_with_error(st, err);
	vm__destroy(vm);
}

static void bm_exit(struct gbench_state *st, void *arg)
{
	const struct exit_bench *b = arg;
	struct vm vm;
	char err[ERR_MAX];
	bool ok = bench_vm_create(&vm, b, err, sizeof(err)) == 0 &&
		  warm_up(&vm, b, err, sizeof(err));
	while (ok && gbench_keep_running(st))
		ok = run_once(&vm, b, err, sizeof(err));
	finish(st, &vm, ok, err);
}

/* arg: any exit_bench, for building the VM; the guest never runs. */
static void bm_kvm_run_no_entry(struct gbench_state *st, void *arg)
{
	const struct exit_bench *b = arg;
	struct vm vm;
	char err[ERR_MAX];
	bool ok = bench_vm_create(&vm, b, err, sizeof(err)) == 0;
	struct kvm_run *run = ok ? vm.vcpus[0].run : NULL;
	while (ok && gbench_keep_running(st)) {
		/* KVM checks immediate_exit before entering: -1 with EINTR, guest untouched */
		run->immediate_exit = 1;
		if (ioctl(vm.vcpus[0].fd, KVM_RUN, 0) == 0 || errno != EINTR) {
			snprintf(err, sizeof(err), "KVM_RUN with immediate_exit did not fail "
				 "with EINTR: %s", strerror(errno));
			ok = false;
		}
	}
	finish(st, &vm, ok, err);
}

static void bm_getppid(struct gbench_state *st, void *arg)
{
	(void)arg;
	/* syscall(), not getppid(): no libc may ever answer from a cache */
	while (gbench_keep_running(st))
		syscall(SYS_getppid);
	gbench_set_items_processed(st, gbench_iterations(st));
}

int main(int argc, char **argv)
{
	char err[ERR_MAX];
	const char *dev = getenv("L1VMM_KVM_DEVICE"); /* as l1vmm itself */
	if (kvm_host__open(&kvm, dev && *dev ? dev : "/dev/kvm", err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_exits: %s\n", err);
		return 2;
	}
	gbench_unit(gbench_use_real_time(gbench_register("native/getppid", bm_getppid, NULL)),
		    GBENCH_NS);
	gbench_unit(gbench_use_real_time(gbench_register("native/kvm_run_no_entry",
							 bm_kvm_run_no_entry,
							 (void *)&exit_benches[0])),
		    GBENCH_NS);
	for (size_t i = 0; i < sizeof(exit_benches) / sizeof(exit_benches[0]); i++)
		gbench_unit(gbench_use_real_time(gbench_register(exit_benches[i].name, bm_exit,
								 (void *)&exit_benches[i])),
			    GBENCH_US);
	int status = gbench_main(argc, argv);
	kvm_host__close(&kvm);
	return status;
}
