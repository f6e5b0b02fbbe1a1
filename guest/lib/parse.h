/* SPDX-License-Identifier: MIT */
/*
 * DOC: strict number parsing for command lines.
 *
 * Each parser takes the whole string s[0, len) and fails (returns -1) on an
 * empty string, trailing junk or overflow; it never reads past len.
 */
#ifndef L1G_LIB_PARSE_H
#define L1G_LIB_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Decimal, or hex with a 0x prefix. */
int parse__u64(const char *s, size_t len, uint64_t *out);
/* A number with an optional K, M, G or T suffix (powers of 1024, either case). */
int parse__size(const char *s, size_t len, uint64_t *out);

#endif
