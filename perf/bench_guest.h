/* SPDX-License-Identifier: MIT */
/*
 * DOC: the contract between bench_exits and its guest kernel (bench_guest.S).
 *
 * The kernel is entered by the l1vmm boot protocol (long mode, CPL0, the host's
 * identity map) with three registers set by bench_exits before the first
 * KVM_RUN:
 *   RBX = the variant (BENCH_GUEST_*), RDX = the port to write,
 *   R9  = the guest-physical address to write (an unbacked MMIO page).
 * It then writes the port or the address forever, one access per instruction,
 * so that every KVM_RUN returns with exactly one exit. The CPL3 variants get
 * there with an iretq; the host must first set the U bit on the page-table
 * entries that map the kernel and the MMIO page. RFLAGS.IOPL in the iretq
 * frame is 3 for BENCH_GUEST_PIO_CPL3, 0 for the others: on real hardware
 * BENCH_GUEST_PIO_CPL3_IOPL0 would #GP (and, with no IDT, triple fault), so it
 * tells whether the KVM at hand enforces the guest's IOPL for port I/O.
 *
 * Included by assembly: #defines only.
 */
#ifndef L1_PERF_BENCH_GUEST_H
#define L1_PERF_BENCH_GUEST_H

#define BENCH_GUEST_PIO_CPL0  0
#define BENCH_GUEST_MMIO_CPL0 1
#define BENCH_GUEST_PIO_CPL3  2
#define BENCH_GUEST_MMIO_CPL3 3
#define BENCH_GUEST_PIO_CPL3_IOPL0 4
#define BENCH_GUEST_NR_VARIANTS 5

#endif
