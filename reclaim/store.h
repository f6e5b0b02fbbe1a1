/* SPDX-License-Identifier: MIT */
/*
 * DOC: host reclaim's compressed store for 4 KiB guest pages (interface;
 * the implementation and its documentation arrive with reclaim/store.c).
 */
#ifndef L1_RECLAIM_STORE_H
#define L1_RECLAIM_STORE_H

#include <stdint.h>

enum rstore_compressor { RSTORE_LZ4 = 0, RSTORE_ZSTD = 1, RSTORE_NR_COMPRESSORS };
const char *rstore__compressor_name(enum rstore_compressor c);
int rstore__compressor_parse(const char *name, enum rstore_compressor *c);
typedef uint64_t rstore_handle; /* 0 is never a valid handle */
struct rstore_config {
	enum rstore_compressor compressor;
	uint64_t cap_bytes;
	unsigned bad_pct;
	int swap_fd;
	uint64_t swap_bytes;
};
struct rstore;
int rstore__create(struct rstore **s, const struct rstore_config *c);
void rstore__destroy(struct rstore *s);
int rstore__put(struct rstore *s, const void *page, rstore_handle *h);
int rstore__get(struct rstore *s, rstore_handle h, void *page);
void rstore__drop(struct rstore *s, rstore_handle h);
void rstore__set_compressor(struct rstore *s, enum rstore_compressor c);
void rstore__set_cap(struct rstore *s, uint64_t cap_bytes);
struct rstore_stats {
	uint64_t pages, same_byte_pages, compressed_pages, file_pages;
	uint64_t orig_bytes, stored_bytes, mem_bytes;
	uint64_t puts, gets, drops;
	uint64_t cap_hits, file_full, bad_no_file, io_errors, codec_errors;
	uint64_t compress_ns, decompress_ns;
};
void rstore__stats(struct rstore *s, struct rstore_stats *out);

#endif
