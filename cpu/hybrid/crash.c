/* SPDX-License-Identifier: MIT */
#include "cpu/hybrid/hybrid.h"

#include <stdarg.h>
#include <stdio.h>

struct out {
	char *buf;
	size_t len, pos;
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *o, const char *fmt, ...)
{
	if (o->pos >= o->len)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->pos, o->len - o->pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos = (size_t)n < o->len - o->pos ? o->pos + (size_t)n : o->len - 1;
}

static void put_segment(struct out *o, const char *name, const struct kvm_segment *seg)
{
	put(o, "  %-3s sel=%04x base=%016llx limit=%08x type=%x dpl=%u%s%s\n", name,
	    seg->selector, (unsigned long long)seg->base, seg->limit, seg->type, seg->dpl,
	    seg->l ? " long" : "", seg->present ? "" : " not-present");
}

size_t hybrid__format_crash(char *buf, size_t len, const struct crash_state *cs)
{
	struct out o = { .buf = buf, .len = len };
	if (len == 0)
		return 0;
	buf[0] = '\0';
	put(&o, "l1vmm: %s: guest crashed on vCPU %u: %s\n", cs->vm_name ? cs->vm_name : "vm",
	    cs->vcpu, cs->reason);
	const struct kvm_regs *r = cs->regs;
	if (!r) {
		put(&o, "  (registers unavailable)\n");
		return o.pos;
	}
	put(&o, "  RIP=%016llx RFLAGS=%016llx\n", r->rip, r->rflags);
	put(&o, "  RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n", r->rax, r->rbx, r->rcx, r->rdx);
	put(&o, "  RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n", r->rsi, r->rdi, r->rbp, r->rsp);
	put(&o, "  R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n", r->r8, r->r9, r->r10, r->r11);
	put(&o, "  R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n", r->r12, r->r13, r->r14, r->r15);
	const struct kvm_sregs *s = cs->sregs;
	if (s) {
		put(&o, "  CR0=%016llx CR2=%016llx CR3=%016llx CR4=%016llx EFER=%016llx\n",
		    s->cr0, s->cr2, s->cr3, s->cr4, s->efer);
		put(&o, "  CPL=%u GDT=%016llx/%04x IDT=%016llx/%04x\n", s->cs.dpl,
		    (unsigned long long)s->gdt.base, s->gdt.limit,
		    (unsigned long long)s->idt.base, s->idt.limit);
		put_segment(&o, "CS", &s->cs);
		put_segment(&o, "SS", &s->ss);
		put_segment(&o, "TR", &s->tr);
	}
	if (cs->rip_bytes && cs->nr_rip_bytes) {
		put(&o, "  bytes at RIP:");
		for (size_t i = 0; i < cs->nr_rip_bytes; i++)
			put(&o, " %02x", cs->rip_bytes[i]);
		put(&o, "\n");
	} else {
		put(&o, "  bytes at RIP: (not in guest RAM)\n");
	}
	return o.pos;
}
