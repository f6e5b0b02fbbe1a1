/* SPDX-License-Identifier: MIT */
/*
 * DOC: l1vmm PV ABI, shared by the host (l1vmm) and its guests.
 *
 * C99, freestanding (only <stdint.h>), fixed-size little-endian structs with
 * _Static_assert on every size. Append-only: a new field goes at the end of a
 * struct, into its reserved space, and bumps L1_ABI_VERSION. Each field says
 * who writes it: IN = written by the host for the guest, OUT = written by the
 * guest for the host. Guest addresses are plain integers (gpa); the host
 * never dereferences one without its checked accessor (ept__gpa_ptr).
 *
 * Boot protocol (ELF64 kernels, not multiboot): every vCPU starts in 64-bit
 * long mode at CPL0 at the ELF entry point, with interrupts disabled, paging
 * on through a host-built identity map of [0, 4 GiB) and of all RAM above
 * 4 GiB (2 MiB pages, supervisor, writable), a flat host GDT (selectors
 * L1_BOOT_CS/L1_BOOT_DS), RDI = gpa of struct l1_start_info, RSI = the vCPU
 * index (0 = boot vCPU), RSP = 0 (the kernel sets its own stack). The host
 * keeps its boot structures in [0, L1_BOOT_AREA_END); a kernel image must load
 * at or above L1_BOOT_AREA_END.
 *
 * Guest physical layout: RAM at [0, ram_below_4g) and, for guests larger than
 * L1_RAM_HOLE_START, at [4 GiB, 4 GiB + mem_bytes - ram_below_4g). The hole
 * [L1_RAM_HOLE_START, 4 GiB) holds MMIO: the doorbell page, IOAPIC, LAPIC.
 */
#ifndef L1VMM_ABI_H
#define L1VMM_ABI_H

#include <stdint.h>

#define L1_ABI_VERSION 1u

/* CPUID: hypervisor leaves. */
#define L1_CPUID_SIGNATURE 0x40000000u /* eax = max leaf, ebx:ecx:edx = signature */
#define L1_CPUID_FEATURES  0x40000001u /* eax = L1_FEAT_*, ebx = ABI version */
#define L1_CPUID_MAX_LEAF  L1_CPUID_FEATURES
/* The signature, read as ebx, ecx, edx: */
#define L1_CPUID_SIGNATURE_STR "L1VMML1VMM  "

#define L1_FEAT_START_INFO (1u << 0) /* RDI carries struct l1_start_info at entry */
#define L1_FEAT_TEST_EXIT  (1u << 1) /* port L1_PORT_TEST_EXIT ends the VM */
#define L1_FEAT_DOORBELL   (1u << 2) /* MMIO doorbell page at L1_DOORBELL_GPA */
#define L1_FEAT_UART       (1u << 3) /* 16550 console at L1_PORT_UART0 */

/* Port I/O. */
#define L1_PORT_UART0     0x3f8u /* 16550 subset, 8 registers */
#define L1_PORT_TEST_EXIT 0xf4u  /* 32-bit write: the VM exits with that code, unmangled */

/* Guest-physical layout. */
#define L1_BOOT_AREA_END   0x100000ull     /* host boot structures live below 1 MiB */
#define L1_START_INFO_GPA  0x7000ull
#define L1_CMDLINE_GPA     0x8000ull
#define L1_CMDLINE_MAX     4096u           /* bytes, including the terminating NUL */
#define L1_RAM_HOLE_START  0xc0000000ull   /* RAM stops here below 4 GiB */
#define L1_RAM_HIGH_START  0x100000000ull
#define L1_DOORBELL_GPA    0xd0000000ull   /* one page, unbacked: every access exits */
#define L1_IOAPIC_GPA      0xfec00000ull
#define L1_LAPIC_GPA       0xfee00000ull

/* Boot GDT selectors installed by the host (64-bit code, data). */
#define L1_BOOT_CS 0x08u
#define L1_BOOT_DS 0x10u

/*
 * Doorbell page registers: a 32-bit or 64-bit write at these offsets exits to
 * the host. This is how CPL3 code reaches the host (port I/O from CPL3 cannot
 * rely on IOPL after an iretq).
 */
#define L1_DOORBELL_NOP  0x00u /* counted and ignored: measures the exit round trip */
#define L1_DOORBELL_EXIT 0x08u /* like L1_PORT_TEST_EXIT: the value is the exit code */

#define L1_START_MAGIC 0x4953314cu /* "L1SI" */

enum l1_mode {
	L1_MODE_EPT = 1,    /* guest kernel at CPL0, hardware-assisted paging */
	L1_MODE_SHADOW = 2, /* guest kernel deprivileged, shadow page tables */
};

/* The start-info page: written by the host before the first instruction. */
struct l1_start_info {
	uint32_t magic;          /* IN: L1_START_MAGIC */
	uint32_t version;        /* IN: L1_ABI_VERSION */
	uint64_t mem_bytes;      /* IN: guest RAM in bytes (all regions) */
	uint64_t ram_below_4g;   /* IN: RAM at [0, ram_below_4g); the rest starts at 4 GiB */
	uint64_t cmdline_gpa;    /* IN: NUL-terminated command line */
	uint32_t cmdline_len;    /* IN: strlen of the command line */
	uint32_t nr_vcpus;       /* IN: vCPUs started, all at the entry point */
	uint64_t tsc_khz;        /* IN: TSC frequency, 0 if unknown */
	uint64_t apic_bus_hz;    /* IN: LAPIC timer input clock (before the divider) */
	uint64_t image_start;    /* IN: lowest gpa the kernel image occupies */
	uint64_t image_end;      /* IN: first gpa above the image (page aligned) */
	uint32_t mode;           /* IN: enum l1_mode */
	uint32_t features;       /* IN: L1_FEAT_* (same as CPUID 0x40000001 eax) */
	uint8_t reserved[48];    /* zero; later ABI versions append here */
};
_Static_assert(sizeof(struct l1_start_info) == 128, "l1_start_info is ABI");

#endif /* L1VMM_ABI_H */
