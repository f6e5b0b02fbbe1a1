/* SPDX-License-Identifier: MIT */
/* The built-in guest kernel (guest/), embedded at build time (builtin_kernel.S). */
#ifndef L1VMM_BUILTIN_H
#define L1VMM_BUILTIN_H

extern const unsigned char l1_builtin_kernel[];
extern const unsigned char l1_builtin_kernel_end[];

#endif
