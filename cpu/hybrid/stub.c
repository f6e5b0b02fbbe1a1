/* SPDX-License-Identifier: MIT */
#include "cpu/hybrid/stub.h"

#include <stdio.h>
#include <string.h>

#include "pvops/l1vmm_abi.h"

/* Machine frames of the stub area (all below STUB_RESERVED_BYTES). */
#define MFN_GDT   1u
#define MFN_IDT   2u
#define MFN_CODE  3u
#define MFN_TSS   4u  /* two frames: 64 TSSes of 128 bytes */
#define MFN_PDPT  8u  /* the slot-511 subtree; its tables follow */
#define MFN_TABLES_END 0x40u
#define MFN_STACKS 0x100u /* two frames per vCPU */

#define PTE_P   (1ull << 0)
#define PTE_RW  (1ull << 1)
#define PTE_US  (1ull << 2)
#define PTE_PCD (1ull << 4)
#define PTE_NX  (1ull << 63)
#define PAGE    4096ull

_Static_assert(STUB_TSS_STRIDE * STUB_MAX_VCPUS <= 2 * PAGE, "TSSes fit their frames");
_Static_assert((MFN_STACKS + 2 * STUB_MAX_VCPUS) * PAGE <= STUB_RESERVED_BYTES,
	       "stacks fit the reserved area");
_Static_assert(8 + 2 * STUB_MAX_VCPUS <= PAGE / 8, "TSS descriptors fit the GDT page");
_Static_assert(STUB_ENTRY_SIZE * 256 <= PAGE, "stub entries fit one page");

bool stub__vector_has_error(unsigned v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

struct builder {
	struct shadow_machine *m;
	unsigned next_table;     /* bump allocator over [MFN_PDPT + 1, MFN_TABLES_END) */
};

static uint64_t *frame(const struct shadow_machine *m, uint64_t mfn)
{
	return shadow__mfn_ptr(m, mfn);
}

/* Map va → phys in the slot-511 subtree; intermediate tables are user-reachable
 * so that one user leaf (the hypercall page) can be; the leaves decide. */
static int map(struct builder *b, uint64_t va, uint64_t phys, uint64_t flags)
{
	uint64_t *table = frame(b->m, MFN_PDPT);
	for (int shift = 30; shift > 12; shift -= 9) {
		uint64_t *e = &table[(va >> shift) & 511];
		if (!(*e & PTE_P)) {
			if (b->next_table == MFN_TABLES_END)
				return -1;
			uint64_t mfn = b->next_table++;
			memset(frame(b->m, mfn), 0, PAGE);
			*e = mfn * PAGE | PTE_P | PTE_RW | PTE_US;
		}
		table = frame(b->m, (*e & ~0xfffull & ~PTE_NX) / PAGE);
	}
	table[(va >> 12) & 511] = phys | flags | PTE_P;
	return 0;
}

static void write_gdt(struct shadow_machine *m)
{
	uint64_t *gdt = frame(m, MFN_GDT);
	memset(gdt, 0, PAGE);
	gdt[STUB_KERNEL_CS >> 3] = 0x00af9a000000ffffull;          /* CPL0 code64 */
	gdt[STUB_KERNEL_DS >> 3] = 0x00cf92000000ffffull;          /* CPL0 data */
	gdt[L1_SHADOW_KERNEL_SS >> 3] = 0x00cff2000000ffffull;     /* CPL3 data */
	gdt[L1_SHADOW_KERNEL_CS >> 3] = 0x00affa000000ffffull;     /* CPL3 code64 */
	gdt[L1_SHADOW_USER_SS >> 3] = 0x00cff2000000ffffull;
	gdt[L1_SHADOW_USER_CS >> 3] = 0x00affa000000ffffull;
	for (unsigned i = 0; i < STUB_MAX_VCPUS; i++) {
		uint64_t base = STUB_TSS_VA + i * STUB_TSS_STRIDE, limit = 103;
		/* available 64-bit TSS (type 9), present, DPL0; 16 bytes */
		gdt[8 + 2 * i] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
				 (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
		gdt[8 + 2 * i + 1] = base >> 32;
	}
}

static void write_tss(struct shadow_machine *m)
{
	uint8_t *tss = (uint8_t *)frame(m, MFN_TSS);
	memset(tss, 0, 2 * PAGE);
	for (unsigned i = 0; i < STUB_MAX_VCPUS; i++) {
		uint8_t *t = tss + i * STUB_TSS_STRIDE;
		uint64_t rsp0 = STUB_STACKS_VA + (i + 1) * STUB_STACK_SIZE - 16;
		memcpy(t + 4, &rsp0, 8);       /* RSP0 */
		uint16_t iomap = 104;          /* no I/O bitmap */
		memcpy(t + 102, &iomap, 2);
	}
}

/* push $0 (when the CPU pushes no error code); push $vector; out %al, $port; ud2 */
static void write_code_and_idt(struct shadow_machine *m)
{
	uint8_t *code = (uint8_t *)frame(m, MFN_CODE);
	uint64_t *idt = frame(m, MFN_IDT);
	memset(code, 0xcc, PAGE); /* never executed: only whole entries are jumped to */
	for (unsigned v = 0; v < 256; v++) {
		uint8_t *p = code + v * STUB_ENTRY_SIZE;
		if (!stub__vector_has_error(v)) {
			*p++ = 0x6a; /* push imm8 */
			*p++ = 0x00;
		}
		*p++ = 0x68; /* push imm32 (sign-extended; vectors are < 2^31) */
		memcpy(p, &(uint32_t){ v }, 4);
		p += 4;
		*p++ = 0xe6; /* out %al, imm8 */
		*p++ = (uint8_t)L1_PORT_SHADOW_TRAP;
		*p++ = 0x0f; /* ud2 */
		*p++ = 0x0b;
		uint64_t off = STUB_CODE_VA + v * STUB_ENTRY_SIZE;
		/* 64-bit interrupt gate, present, DPL0: int n from CPL3 is refused */
		idt[2 * v] = (off & 0xffff) | ((uint64_t)STUB_KERNEL_CS << 16) | (0x8eull << 40) |
			     (((off >> 16) & 0xffff) << 48);
		idt[2 * v + 1] = off >> 32;
	}
}

int stub__build(struct shadow_machine *m, char *err, size_t errlen)
{
	if (m->nr_frames * PAGE < STUB_RESERVED_BYTES) {
		snprintf(err, errlen, "machine memory too small for l1vmm's stub area");
		return -1;
	}
	struct builder b = { .m = m, .next_table = MFN_PDPT + 1 };
	memset(frame(m, MFN_PDPT), 0, PAGE);
	write_gdt(m);
	write_tss(m);
	write_code_and_idt(m);
	int rc = map(&b, STUB_GDT_VA, MFN_GDT * PAGE, PTE_RW | PTE_NX) |
		 map(&b, STUB_IDT_VA, MFN_IDT * PAGE, PTE_NX) |
		 map(&b, STUB_CODE_VA, MFN_CODE * PAGE, 0) |
		 map(&b, STUB_TSS_VA, MFN_TSS * PAGE, PTE_RW | PTE_NX) |
		 map(&b, STUB_TSS_VA + PAGE, (MFN_TSS + 1) * PAGE, PTE_RW | PTE_NX);
	for (unsigned i = 0; i < 2 * STUB_MAX_VCPUS; i++)
		rc |= map(&b, STUB_STACKS_VA + i * PAGE, (MFN_STACKS + i) * PAGE, PTE_RW | PTE_NX);
	/* the hypercall page, then the device window (pvops/l1vmm_abi.h): unbacked, all exit */
	for (uint64_t off = 0; off < L1_SHADOW_MMIO_BYTES; off += PAGE)
		rc |= map(&b, L1_SHADOW_MMIO_VA + off, L1_DOORBELL_GPA + off,
			  PTE_RW | PTE_US | PTE_PCD | PTE_NX);
	if (rc) {
		snprintf(err, errlen, "the stub's page tables do not fit their frames");
		return -1;
	}
	m->stub_pdpt_mfn = MFN_PDPT;
	return 0;
}

bool stub__guest_segment(uint16_t sel, struct kvm_segment *seg)
{
	bool code = sel == L1_SHADOW_KERNEL_CS || sel == L1_SHADOW_USER_CS;
	if (!code && sel != L1_SHADOW_KERNEL_SS && sel != L1_SHADOW_USER_SS)
		return false;
	*seg = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = code ? 11 : 3,
		.present = 1, .dpl = 3, .db = code ? 0 : 1, .s = 1, .l = code, .g = 1,
	};
	return true;
}

void stub__vcpu_sregs(unsigned i, uint64_t cr3_mfn, struct kvm_sregs *s)
{
	stub__guest_segment(L1_SHADOW_KERNEL_CS, &s->cs);
	stub__guest_segment(L1_SHADOW_KERNEL_SS, &s->ss);
	s->ds = s->es = s->ss;
	s->fs = s->gs = (struct kvm_segment){ .selector = 0, .unusable = 1, .limit = 0xffffffff,
					      .type = 3, .s = 1, .dpl = 3, .db = 1, .g = 1 };
	s->gdt = (struct kvm_dtable){ .base = STUB_GDT_VA, .limit = PAGE - 1 };
	s->idt = (struct kvm_dtable){ .base = STUB_IDT_VA, .limit = 256 * 16 - 1 };
	s->tr = (struct kvm_segment){ .base = STUB_TSS_VA + i * STUB_TSS_STRIDE, .limit = 103,
				      .selector = (uint16_t)STUB_TSS_SEL(i), .type = 11, .present = 1 };
	s->ldt = (struct kvm_segment){ .unusable = 1, .type = 2, .present = 1 };
	s->cr0 = 0x80050033ull; /* PG, WP, NE, ET, MP, PE */
	s->cr3 = cr3_mfn * PAGE;
	s->cr4 = 0x20;          /* PAE */
	s->efer = 0xd00;        /* LMA, LME, NXE */
	memset(s->interrupt_bitmap, 0, sizeof(s->interrupt_bitmap));
}

bool stub__read_frame(const struct shadow_machine *m, unsigned i, struct stub_frame *f)
{
	if (i >= STUB_MAX_VCPUS)
		return false;
	/* RSP0 is 16 below the stack top; the CPU pushed 5 words, the stub 2 */
	uint64_t top = (MFN_STACKS + 2 * (uint64_t)i) * PAGE + STUB_STACK_SIZE - 16;
	uint8_t *stack = (uint8_t *)frame(m, MFN_STACKS + 2 * i);
	if (!stack)
		return false;
	memcpy(f, stack + (top - sizeof(*f)) - (MFN_STACKS + 2 * (uint64_t)i) * PAGE, sizeof(*f));
	return true;
}

bool stub__rip_in_code(uint64_t rip)
{
	return rip >= STUB_CODE_VA && rip < STUB_CODE_VA + PAGE;
}
