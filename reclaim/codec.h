/* SPDX-License-Identifier: MIT */
/*
 * DOC: the store's two codecs on one 4 KiB page (lz4, zstd), behind one call.
 *
 * The store (store.c) and the compressor benchmark (perf/bench_compress.c) both
 * compress through here, so the benchmark measures the store's own code path.
 * A context holds what one thread needs at a time: zstd's compression and
 * decompression contexts (made on first use) and an output buffer large
 * enough for either codec's worst case. A context is used by one thread at a
 * time; the store keeps a pool of them.
 */
#ifndef L1_RECLAIM_CODEC_H
#define L1_RECLAIM_CODEC_H

#include <stddef.h>

#include "reclaim/store.h"

/* At least LZ4_COMPRESSBOUND(4096) and ZSTD_COMPRESSBOUND(4096) (checked in codec.c). */
#define RCODEC_BOUND 4352u

struct rcodec_ctx {
	void *zc;                   /* ZSTD_CCtx, made on first zstd compression */
	void *zd;                   /* ZSTD_DCtx, made on first zstd decompression */
	struct rcodec_ctx *next;    /* the store's pool list; the codec leaves it alone */
	unsigned char buf[RCODEC_BOUND]; /* the caller's output buffer */
};

/* A new context (no zstd context yet), or NULL. */
struct rcodec_ctx *rcodec__ctx_new(void);
void rcodec__ctx_free(struct rcodec_ctx *x);
/* Bytes the context holds now, its zstd contexts included. */
size_t rcodec__ctx_bytes(const struct rcodec_ctx *x);

/*
 * Compress the 4 KiB page into dst (dst_cap >= RCODEC_BOUND). level: zstd's
 * level, or lz4's acceleration (1: LZ4_compress_default, more: LZ4_compress_fast).
 * The compressed length, or -EPROTO (the codec failed), -ENOMEM (no zstd context).
 */
int rcodec__compress(struct rcodec_ctx *x, enum rstore_compressor c, int level,
		     const void *page, void *dst, size_t dst_cap);

/* Decompress src (len bytes) into the 4 KiB page: 0, or -EBADMSG (the codec failed or
 * the result is not exactly 4096 bytes), -ENOMEM (no zstd context). */
int rcodec__decompress(struct rcodec_ctx *x, enum rstore_compressor c, const void *src,
		       size_t len, void *page);

#endif
