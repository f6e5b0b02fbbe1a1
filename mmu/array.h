/* SPDX-License-Identifier: MIT */
/*
 * DOC: growable arrays: one way to make room for one more element.
 *
 * ARRAY_ROOM(arr, cap, used, first) makes sure arr (a pointer to elements,
 * cap of them allocated) has room at index used, doubling cap (from first
 * when empty) with realloc. It evaluates to 0, or -ENOMEM with arr and cap
 * unchanged, so the caller decides what running out of memory means (drop
 * the element and count it, or fail the request). cap may be any unsigned
 * type; a doubling that would overflow it fails like realloc.
 */
#ifndef L1_MMU_ARRAY_H
#define L1_MMU_ARRAY_H

#include <errno.h>
#include <stdlib.h>

#define ARRAY_ROOM(arr, cap, used, first) __extension__({                               \
	int rc_ = 0;                                                                     \
	if ((used) >= (cap)) {                                                           \
		__typeof__(cap) ncap_ = (cap) ? (__typeof__(cap))((cap) * 2) : (first);  \
		size_t bytes_;                                                           \
		__typeof__(arr) narr_ =                                                  \
			ncap_ > (cap) && !__builtin_mul_overflow(sizeof(*(arr)),         \
								 (size_t)ncap_, &bytes_) \
			? realloc((arr), bytes_) : NULL;                                 \
		if (narr_) {                                                             \
			(arr) = narr_;                                                   \
			(cap) = ncap_;                                                   \
		} else {                                                                 \
			rc_ = -ENOMEM;                                                   \
		}                                                                        \
	}                                                                                \
	rc_;                                                                             \
})

#endif
