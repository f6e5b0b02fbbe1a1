/* SPDX-License-Identifier: MIT */
/* The built-in guest kernel (guest/), embedded at build time (builtin_kernel.S). */
#ifndef L1VMM_BUILTIN_H
#define L1VMM_BUILTIN_H

#include <stdint.h>

extern const unsigned char l1_builtin_kernel[];
extern const uint64_t l1_builtin_kernel_size;

#endif
