// SPDX-License-Identifier: MIT
/*
 * DOC: boot.
 *
 * All vCPUs enter kernel__main() together (start.S). CPU 0 copies the start
 * info and command line, picks the pv_ops backend, builds the page tables
 * and the allocator, fills the IDT, prepares the run queues and spawns the
 * first task (user__main, at CPL3); then it releases the others, which spin
 * on smp_go until then. Each CPU finally loads its own GDT/TSS, the IDT and
 * the page tables, starts its LAPIC tick and becomes its idle loop.
 *
 * Every instruction here runs in KVM's emulator (~2 us each), so boot does
 * only what is needed: no clearing of memory (the ELF loader zeroes .bss),
 * a few dozen IDT gates, one PDE per 2 MiB of RAM. Parsing the command line
 * and printing the banner happen at CPL3, in the first task.
 */
#include <stdint.h>

#include "arch/x86/gdt.h"
#include "kernel/apf.h"
#include "kernel/balloon.h"
#include "kernel/console.h"
#include "kernel/mm.h"
#include "kernel/pvops.h"
#include "kernel/sched.h"
#include "kernel/swap.h"
#include "kernel/virtio_blk.h"
#include "kernel/trap.h"
#include "lib/cpu.h"
#include "lib/string.h"
#include "user/init.h"

/* linker.ld */
extern char __image_start[], __kernel_end[], __user_start[], __user_end[];

void kernel__main(const struct l1_start_info *si, uint64_t index);

static struct l1_start_info boot_info;
const struct l1_start_info *kernel__start_info = &boot_info;
uint64_t kernel__boot_tsc;
static volatile uint32_t smp_go;

static void boot(const struct l1_start_info *si)
{
	uint64_t image_end, len;
	int64_t tid;

	boot_info = *si;
	pvops__select(&boot_info);
	if (boot_info.magic != L1_START_MAGIC) {
		static const char msg[] = "l1guest: bad start info magic, not an l1vmm boot\n";

		pv_ops.console.write(msg, sizeof(msg) - 1);
		pv_ops.exit(1);
	}
	len = boot_info.cmdline_len < L1_CMDLINE_MAX - 1 ? boot_info.cmdline_len : L1_CMDLINE_MAX - 1;
	if (boot_info.cmdline_gpa && len)
		memcpy(user__cmdline, (const void *)boot_info.cmdline_gpa, len);
	user__cmdline[len] = '\0';

	image_end = boot_info.image_end > (uint64_t)__user_end ? boot_info.image_end
							       : (uint64_t)__user_end;
	mm__init(&boot_info, image_end, (uint64_t)__user_start, (uint64_t)__user_end);
	idt__init();
	sched__init(boot_info.nr_vcpus < 1 ? 1 :
		    boot_info.nr_vcpus > MAX_CPUS ? MAX_CPUS : boot_info.nr_vcpus);
	balloon__init(user__cmdline);
	vblk__init(user__cmdline); /* a disk, if l1vmm gave one: SYS_DISK_IO and swap */
	swap__init(user__cmdline);
	apf__init(user__cmdline);
	tid = sched__spawn((uint64_t)user__task_start, (uint64_t)user__main,
			   (uint64_t)user__cmdline, 0);
	if (tid != 1)
		trap__panic("cannot start the first task (%ld)", tid);
}

void kernel__main(const struct l1_start_info *si, uint64_t index)
{
	struct cpu *cpu = &cpus[index];

	if (index == 0) {
		kernel__boot_tsc = cpu__rdtsc();
		boot(si);
		/* Pairs with the acquire loads below: all of boot() is visible. */
		__atomic_store_n(&smp_go, 1, __ATOMIC_RELEASE);
	} else {
		while (!__atomic_load_n(&smp_go, __ATOMIC_ACQUIRE))
			cpu_relax();
		if (index >= nr_cpus)
			for (;;)
				pv_ops.cpu.halt(); /* interrupts stay off: parked for good */
		paging__load();
	}
	gdt__init_cpu(cpu);
	idt__load();
	pv_ops.timer.init_cpu();
	cpu->hw_id = pv_ops.timer.cpu_hw_id();
	cpu->armed_hz = sched__hz;
	pv_ops.timer.arm_periodic(cpu->armed_hz);
	apf__init_cpu(cpu);
	sched__run_idle(cpu);
}
