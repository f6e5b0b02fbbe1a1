/* SPDX-License-Identifier: MIT */
/*
 * DOC: kernel console. One lock keeps lines from different CPUs whole; the
 * kernel itself prints rarely (formatting costs ~2 us per instruction at
 * CPL0 here): tasks format at CPL3 and only hand finished text to SYS_WRITE.
 */
#ifndef L1G_KERNEL_CONSOLE_H
#define L1G_KERNEL_CONSOLE_H

#include <stddef.h>

void console__write(const char *buf, size_t len);
void console__printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
