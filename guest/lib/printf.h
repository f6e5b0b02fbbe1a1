/* SPDX-License-Identifier: MIT */
/*
 * DOC: formatted output into a buffer.
 *
 * Conversions: %d %i %u %x %X %o %c %s %p %%, length modifiers hh h l ll z,
 * flags '-', '0' and '#' (0x prefix), width (number or '*'), precision for %s. No floating
 * point (the guest is built without SSE/x87). The result is always NUL
 * terminated when size > 0; the return value is the length the whole
 * output would have had, as in C99.
 */
#ifndef L1G_LIB_PRINTF_H
#define L1G_LIB_PRINTF_H

#include <stdarg.h>
#include <stddef.h>

int printf__vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
int printf__snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
