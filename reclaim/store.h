/* SPDX-License-Identifier: MIT */
/*
 * DOC: the reclaim store, a compressed in-memory store for 4 KiB guest pages.
 *
 * Host reclaim (docs/design.md) takes cold guest pages out of guest memory and
 * keeps their bytes here until the guest touches them again. A page goes in
 * with rstore__put() and comes back with rstore__get() as a handle, one of
 * three kinds:
 *
 *   same-byte  a page of one repeated byte (zero pages included) is kept as
 *              that byte, in the handle itself: no memory at all;
 *   memory     other pages are compressed (lz4 or zstd at level 1, the
 *              compressor in force at the put) into a blob of their own,
 *              from malloc (jemalloc in l1vmm);
 *   file       a page that compresses badly (to more than bad_pct % of 4096)
 *              goes to a 4 KiB slot of the backing file, uncompressed, when
 *              the store has one; without a file the put fails -E2BIG and the
 *              caller keeps the page resident.
 *
 * A handle says its kind and codec (so pages stored before a change of
 * compressor stay readable) plus an index into the store's entry table and
 * that entry's generation: a handle that was never given out, or was dropped,
 * is refused with -EINVAL, never followed. 0 is never a handle.
 *
 * What is counted (rstore_stats.mem_bytes, what the cap limits): every blob
 * as allocated (malloc_usable_size, not its compressed length), the entry
 * table, the file's slot bitmap and the store itself. Not counted: the codec
 * contexts and buffers, one per thread that was inside the codec at the same
 * time (work_bytes), and the file's slots (file_pages * 4096 on disk). The
 * cap is checked, under the lock, against the real sizes of what a put would
 * add (the blob, a grown entry table) before anything is stored; a put that
 * would exceed it fails -ENOSPC.
 *
 * Failures: a put that fails stores nothing and never writes the caller's
 * page, so the caller, which keeps the page resident until the put succeeds,
 * loses nothing. The error says why: -ENOSPC cap reached or file full (also
 * ENOSPC from the file), -E2BIG bad page without a file, -EIO file write
 * failed, -ENOMEM, -EPROTO the compressor failed. Each has its counter.
 *
 * Locking: one pthread mutex, a leaf (docs/locking.md), around the entry
 * table, the slot bitmap, the context pool and the counters. Compression,
 * decompression and file I/O run outside it: a get pins its entry, so a drop
 * that races with it (a caller's bug) frees the entry only after the get is
 * done; the dropped handle is refused at once. Puts, gets and drops run on
 * any number of threads.
 */
#ifndef L1_RECLAIM_STORE_H
#define L1_RECLAIM_STORE_H

#include <stdint.h>

#define RSTORE_PAGE_SIZE 4096u
#define RSTORE_BAD_PCT_DEFAULT 75u
#define RSTORE_ZSTD_LEVEL 1

enum rstore_compressor { RSTORE_LZ4 = 0, RSTORE_ZSTD = 1, RSTORE_NR_COMPRESSORS };

/* The compressor to configure when the user names none: zstd's ratio is worth its speed
 * (perf/README.md, "Issue 16: compressors"). */
#define RSTORE_COMPRESSOR_DEFAULT RSTORE_ZSTD

/* "lz4", "zstd"; "?" for a value out of range. */
const char *rstore__compressor_name(enum rstore_compressor c);
/* The compressor of that exact name: 0, or -EINVAL. */
int rstore__compressor_parse(const char *name, enum rstore_compressor *c);

typedef uint64_t rstore_handle; /* 0 is never a valid handle */

struct rstore_config {
	enum rstore_compressor compressor;
	uint64_t cap_bytes;     /* the store's own memory at most (blobs + its metadata); 0 = no cap */
	unsigned bad_pct;       /* a page that compresses to more than bad_pct % of 4096 "compresses
				 * badly"; 0 means the default (75); above 100: -EINVAL */
	int swap_fd;            /* -1: no backing file; else pages that compress badly go there
				 * (pwrite/pread, 4 KiB slots). The caller owns the fd (not closed) */
	uint64_t swap_bytes;    /* the file's capacity in bytes (slots = swap_bytes / 4096) */
};

struct rstore;

/* 0, or -EINVAL (a bad config: compressor, bad_pct, a file of no slot), -ENOMEM. */
int rstore__create(struct rstore **s, const struct rstore_config *c);
/* Frees every blob; handles die with it. The backing file's fd stays open. */
void rstore__destroy(struct rstore *s);

/* Store one page (never modifies it). 0 and *h; or -ENOSPC (cap reached, or file full),
 * -E2BIG (compresses badly and no file), -EIO (file write failed), -ENOMEM, or a compressor
 * error (-EPROTO). On any error nothing is stored. Thread-safe. */
int rstore__put(struct rstore *s, const void *page, rstore_handle *h);
/* Copy the page back into page (4 KiB). 0, or -EIO (file read), -EBADMSG (decompression
 * failed / wrong size), -EINVAL (bad handle). The handle stays valid. Thread-safe. */
int rstore__get(struct rstore *s, rstore_handle h, void *page);
/* Forget a stored page. A bad handle is ignored (counted in bad_handles). Thread-safe. */
void rstore__drop(struct rstore *s, rstore_handle h);

/* Settings that change at run time (the sysfs-style tree writes them): new puts use them,
 * pages already stored stay readable (a handle knows its compressor/kind). A compressor out
 * of range is ignored. A cap below mem_bytes stores nothing new and frees nothing. */
void rstore__set_compressor(struct rstore *s, enum rstore_compressor c);
void rstore__set_cap(struct rstore *s, uint64_t cap_bytes);

struct rstore_stats {
	uint64_t pages;            /* pages stored now, all kinds */
	uint64_t same_byte_pages;  /* kept as their one repeated byte (no blob) */
	uint64_t compressed_pages; /* kept compressed in memory */
	uint64_t file_pages;       /* in the backing file */
	uint64_t orig_bytes;       /* 4096 * pages */
	uint64_t stored_bytes;     /* compressed payload bytes in memory */
	uint64_t mem_bytes;        /* the store's own memory now (blobs as allocated, plus
				    * metadata) — what the cap counts */
	uint64_t puts, gets, drops;
	uint64_t cap_hits, file_full, bad_no_file, io_errors, codec_errors;
	uint64_t compress_ns, decompress_ns;  /* wall time (CLOCK_MONOTONIC) in the codec */
	/* added beyond the interface the reclaim paths share */
	uint64_t work_bytes;       /* codec contexts idle in the pool (all of them while no put or
				    * get runs); not in mem_bytes, not capped */
	uint64_t bad_handles;      /* gets and drops refused for a bad handle */
	uint64_t cap_bytes;        /* the cap in force (0 = none) */
	enum rstore_compressor compressor; /* the compressor new puts use */
};
void rstore__stats(struct rstore *s, struct rstore_stats *out);

#endif
