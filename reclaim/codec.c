/* SPDX-License-Identifier: MIT */
/* The store's codecs on one page: lz4 and zstd (codec.h). */
#include "reclaim/codec.h"

#include <errno.h>
#include <lz4.h>
#include <stdlib.h>
#include <zstd.h>

_Static_assert(RCODEC_BOUND >= LZ4_COMPRESSBOUND(RSTORE_PAGE_SIZE), "lz4 bound");
_Static_assert(RCODEC_BOUND >= ZSTD_COMPRESSBOUND(RSTORE_PAGE_SIZE), "zstd bound");

struct rcodec_ctx *rcodec__ctx_new(void)
{
	return calloc(1, sizeof(struct rcodec_ctx));
}

void rcodec__ctx_free(struct rcodec_ctx *x)
{
	if (!x)
		return;
	ZSTD_freeCCtx(x->zc);
	ZSTD_freeDCtx(x->zd);
	free(x);
}

size_t rcodec__ctx_bytes(const struct rcodec_ctx *x)
{
	return sizeof(*x) + (x->zc ? ZSTD_sizeof_CCtx(x->zc) : 0) +
	       (x->zd ? ZSTD_sizeof_DCtx(x->zd) : 0);
}

int rcodec__compress(struct rcodec_ctx *x, enum rstore_compressor c, int level,
		     const void *page, void *dst, size_t dst_cap)
{
	int n;
	size_t z;

	switch (c) {
	case RSTORE_LZ4:
		n = level > 1 ? LZ4_compress_fast(page, dst, RSTORE_PAGE_SIZE, (int)dst_cap, level)
			      : LZ4_compress_default(page, dst, RSTORE_PAGE_SIZE, (int)dst_cap);
		return n > 0 ? n : -EPROTO; /* 0: an error, with a buffer of the bound */
	case RSTORE_ZSTD:
		if (!x->zc && !(x->zc = ZSTD_createCCtx()))
			return -ENOMEM;
		z = ZSTD_compressCCtx(x->zc, dst, dst_cap, page, RSTORE_PAGE_SIZE, level);
		return ZSTD_isError(z) ? -EPROTO : (int)z;
	default:
		return -EPROTO;
	}
}

int rcodec__decompress(struct rcodec_ctx *x, enum rstore_compressor c, const void *src,
		       size_t len, void *page)
{
	size_t z;

	switch (c) {
	case RSTORE_LZ4:
		return LZ4_decompress_safe(src, page, (int)len, RSTORE_PAGE_SIZE) ==
		       RSTORE_PAGE_SIZE ? 0 : -EBADMSG;
	case RSTORE_ZSTD:
		if (!x->zd && !(x->zd = ZSTD_createDCtx()))
			return -ENOMEM;
		z = ZSTD_decompressDCtx(x->zd, page, RSTORE_PAGE_SIZE, src, len);
		return !ZSTD_isError(z) && z == RSTORE_PAGE_SIZE ? 0 : -EBADMSG;
	default:
		return -EBADMSG;
	}
}
