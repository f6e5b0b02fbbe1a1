/* SPDX-License-Identifier: MIT */
/*
 * DOC: freestanding string functions (libc names: the compiler emits calls
 * to memcpy/memset on its own, so those names must exist).
 */
#ifndef L1G_LIB_STRING_H
#define L1G_LIB_STRING_H

#include <stddef.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);

#endif
