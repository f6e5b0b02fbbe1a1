// SPDX-License-Identifier: MIT
/*
 * DOC: trap dispatch.
 *
 * trap__dispatch() runs on the kernel stack of the interrupted task (or the
 * idle task), with interrupts off. It saves the frame pointer in the task,
 * handles the event, and returns the frame sched__resume() picks. This is
 * the hottest CPL0 path (every tick and system call), so it stays short.
 *
 * System calls: `int $0x80` reaches vector 0x80 on hardware, but on this
 * machine (kvm_pvm) KVM's emulator cannot emulate `int n` in protected mode
 * and injects #UD with rip at the instruction instead. So a #UD from CPL3
 * whose bytes at rip are CD 80 is that system call: step over it and handle
 * it exactly like vector 0x80 (which leaves rip after the instruction too).
 *
 * Exceptions: from CPL3 they kill the task with a message (the kernel goes
 * on); from CPL0 they are kernel bugs and panic. A #PF from CPL3 on memory
 * that its PDE now allows is spurious: a stale TLB entry (another CPU made
 * the chunk user after this one cached it supervisor), or the host could not
 * set the accessed/dirty bits of the entry at that moment (a host that
 * write-protects the page-table page for a few microseconds, e.g. while it
 * shares identical pages between guests). Flush it and retry, up to
 * STALE_FAULT_RETRIES times in a row at one address; past that it is real.
 *
 * Shadow mode: l1vmm bounces the guest's traps to the same stubs (its trap
 * table), with the same frame; kernel and tasks are both CPL3 there, so
 * "from a task" is the selector (x86__from_user). `int $0x80` may also
 * arrive as #GP with error code 0x402 (IDT entry 0x80). Events (the timer)
 * arrive as VEC_EVENT upcalls. The kernel runs with events masked, like
 * interrupts off natively, except in the idle loop's block and where a
 * selftest unmasks them on purpose inside a system call: an upcall there is
 * handled without a switch, on top of the call, which goes on after it.
 */
#include <stdarg.h>

#include "include/uapi.h"
#include "arch/x86/gdt.h"
#include "kernel/apf.h"
#include "kernel/balloon.h"
#include "kernel/console.h"
#include "kernel/mm.h"
#include "kernel/pvops.h"
#include "kernel/swap.h"
#include "kernel/trap.h"
#include "kernel/virtio_balloon.h"
#include "lib/printf.h"

static const char *const exception_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM device not available",
	"#DF double fault", "coprocessor overrun", "#TS invalid TSS",
	"#NP segment not present", "#SS stack fault", "#GP general protection",
	"#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check",
	"#MC machine check", "#XM SIMD error", "#VE virtualization",
	"#CP control protection", "reserved 22", "reserved 23", "reserved 24",
	"reserved 25", "reserved 26", "reserved 27", "#HV hypervisor injection",
	"#VC VMM communication", "#SX security", "reserved 31",
};

static const char *vector_name(uint64_t v)
{
	return v < 32 ? exception_names[v] : "unexpected interrupt";
}

void trap__panic(const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	printf__vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	console__printf("l1guest: PANIC: %s\n", buf);
	idt__triple_fault(); /* a panic is a crash: the host reports it with the registers */
}

#define STALE_FAULT_RETRIES 16

static void exception(struct task *cur, struct trap_frame *f)
{
	uint64_t addr = f->vector == VEC_PF ? pv_ops.cpu.read_cr2() : 0;

	if (!x86__from_user(f))
		trap__panic("%s in the kernel at rip=%#lx addr=%#lx error=%#lx rsp=%#lx "
			    "rax=%#lx rdi=%#lx rsi=%#lx (cpu %u, task %u)",
			    vector_name(f->vector), f->rip, addr, f->error, f->rsp, f->rax,
			    f->rdi, f->rsi, cur->cpu->index, cur->tid);
	if (f->vector == VEC_PF && swap__fault(addr))
		return;
	if (f->vector == VEC_PF && paging__user_may_access(addr, f->error & PF_ERR_WRITE)) {
		if (addr != cur->stale_fault) {
			cur->stale_fault = addr;
			cur->stale_retries = 0;
		}
		if (cur->stale_retries++ < STALE_FAULT_RETRIES) {
			pv_ops.mmu.flush_page(addr);
			return;
		}
	}
	console__printf("l1guest: task %u killed: %s at rip=%#lx addr=%#lx error=%#lx\n",
			cur->tid, vector_name(f->vector), f->rip, addr, f->error);
	sched__exit(cur, L1G_STATUS_KILLED(f->vector));
}

/* Is this #UD an `int $0x80` the CPU could not deliver? */
static bool is_int80(const struct trap_frame *f)
{
	return x86__from_user(f) && mm__user_ok(f->rip, 2) &&
	       *(const volatile uint16_t *)f->rip == 0x80cd;
}

/* Shadow mode: the event upcall. */
static struct trap_frame *event(struct cpu *c, struct task *cur, struct trap_frame *f)
{
	bool nested = !x86__from_user(f) && cur != c->idle;

	uint32_t bits = pvops__pv_take_events();

	if (bits & L1_EVT_TIMER)
		sched__tick(c);
	if (bits & L1_EVT_BALLOON)
		balloon__work();
	if (bits & L1_EVT_APF_READY)
		apf__ready_event(c);
	if (!nested)
		return sched__resume(c, cur);
	/* On top of a system call: its frame (from the task, so at the top of
	 * the kernel stack) is the task's again; any switch waits for its end. */
	cur->frame = (struct trap_frame *)(sched__kstack_top(cur) - sizeof(*f));
	return f;
}

struct trap_frame *trap__dispatch(struct trap_frame *f)
{
	struct task *cur = sched__current();
	struct cpu *c = cur->cpu;

	cur->frame = f;
	if (c->dead)
		sched__bury(c);
	switch (f->vector) {
	case VEC_TIMER:
		pv_ops.timer.eoi();
		sched__tick(c);
		break;
	case VEC_VIRTIO:
		virtio_balloon__irq(); /* acks the device, then EOI */
		break;
	case VEC_BALLOON:
		pv_ops.timer.eoi();
		balloon__work();
		break;
	case VEC_APF:
		apf__ready_irq(c); /* acks KVM, then EOI */
		break;
	case VEC_PF:
		if (apf__page_fault(c, cur, f))
			break;
		exception(cur, f);
		break;
	case VEC_SYSCALL:
		syscall__dispatch(cur, f);
		break;
	case VEC_KYIELD:
		c->need_resched = true;
		break;
	case VEC_RESCHED:
		pv_ops.timer.eoi();
		c->need_resched = true;
		break;
	case VEC_SPURIOUS:
		break; /* no EOI for the spurious vector */
	case VEC_UD:
		if (is_int80(f)) {
			f->rip += 2;
			syscall__dispatch(cur, f);
			break;
		}
		exception(cur, f);
		break;
	case VEC_GP:
		if (f->error == (VEC_SYSCALL << 3 | 2) && is_int80(f)) {
			f->rip += 2;
			syscall__dispatch(cur, f);
			break;
		}
		exception(cur, f);
		break;
	case VEC_EVENT:
		return event(c, cur, f);
	default:
		exception(cur, f);
		break;
	}
	return sched__resume(c, cur);
}
