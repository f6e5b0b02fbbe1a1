/*
 * libFuzzer target: the reclaim store (reclaim/store.c, reclaim/codec.c) on
 * pages a guest could hold. A guest controls the contents of its pages and
 * nothing else the store sees, so the input is page contents: its first byte
 * picks how the rest becomes up to 8 pages (cut into 4 KiB pieces, each piece
 * tiled or zero-padded to a page, or runs of one byte), and every page goes
 * through three stores: lz4 and zstd with a small backing file, and zstd with
 * a tight cap and no file. Invariants: a put either succeeds or fails with one
 * of its documented errors and leaves the page as it was; every stored page
 * reads back exactly, also after all the others went in; the counters add
 * up; after the drops nothing is left but the store's table.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "reclaim/store.h"

#define PAGE RSTORE_PAGE_SIZE
#define MAX_PAGES 8
#define NR_STORES 3

static int swap_fd = -1;

#define check(cond) \
	do { \
		if (!(cond)) \
			__builtin_trap(); \
	} while (0)

/* Page n from the input's bytes, by mode. */
static void make_page(uint8_t *page, uint8_t mode, const uint8_t *data, size_t size, unsigned n)
{
	const uint8_t *piece;
	size_t len;

	switch (mode % 3) {
	case 0: /* the input tiled (short inputs make compressible pages) */
		for (size_t i = 0; i < PAGE; i++)
			page[i] = data[(n * 131 + i) % size];
		return;
	case 1: /* 4 KiB pieces, zero-padded */
		piece = data + (size_t)n * PAGE % size;
		len = size - (size_t)(piece - data);
		len = len < PAGE ? len : PAGE;
		memset(page, 0, PAGE);
		memcpy(page, piece, len);
		return;
	default: /* runs: each input byte pair is (length, byte) */
		memset(page, data[n % size], PAGE);
		for (size_t i = 0, at = 0; at < PAGE && i + 1 < size; i += 2) {
			size_t run = (size_t)data[i] * 16;
			run = run < PAGE - at ? run : PAGE - at;
			memset(page + at, data[i + 1] ^ (uint8_t)n, run);
			at += run;
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	swap_fd = memfd_create("fuzz-store-swap", 0);
	check(swap_fd >= 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static _Alignas(64) uint8_t pages[MAX_PAGES][PAGE];
	static _Alignas(64) uint8_t copy[PAGE], back[PAGE];
	const struct rstore_config cfg[NR_STORES] = {
		{ .compressor = RSTORE_LZ4, .swap_fd = swap_fd, .swap_bytes = 4 * PAGE },
		{ .compressor = RSTORE_ZSTD, .swap_fd = swap_fd, .swap_bytes = 4 * PAGE },
		{ .compressor = RSTORE_ZSTD, .swap_fd = -1, .cap_bytes = 8192, .bad_pct = 50 },
	};
	struct rstore *s[NR_STORES];
	rstore_handle h[NR_STORES][MAX_PAGES];
	int err[NR_STORES][MAX_PAGES];
	unsigned nr;

	if (size < 2)
		return 0;
	nr = 1 + (data[0] >> 2) % MAX_PAGES;
	for (unsigned n = 0; n < nr; n++)
		make_page(pages[n], data[0], data + 1, size - 1, n);

	for (unsigned k = 0; k < NR_STORES; k++) {
		check(rstore__create(&s[k], &cfg[k]) == 0);
		for (unsigned n = 0; n < nr; n++) {
			memcpy(copy, pages[n], PAGE);
			h[k][n] = 0;
			err[k][n] = rstore__put(s[k], copy, &h[k][n]);
			check(!memcmp(copy, pages[n], PAGE));
			check(err[k][n] == 0 || err[k][n] == -ENOSPC || err[k][n] == -E2BIG);
			check(err[k][n] != -E2BIG || cfg[k].swap_fd < 0);
			check(!err[k][n] == (h[k][n] != 0));
			if (!err[k][n]) {
				check(rstore__get(s[k], h[k][n], back) == 0);
				check(!memcmp(back, pages[n], PAGE));
			}
		}
		/* the stores take turns with the file: each drops all before the next */
		struct rstore_stats st;
		rstore__stats(s[k], &st);
		check(st.pages == st.same_byte_pages + st.compressed_pages + st.file_pages);
		check(!cfg[k].cap_bytes || st.mem_bytes <= cfg[k].cap_bytes);
		for (unsigned n = 0; n < nr; n++) {
			if (err[k][n])
				continue;
			check(rstore__get(s[k], h[k][n], back) == 0);
			check(!memcmp(back, pages[n], PAGE));
			rstore__drop(s[k], h[k][n]);
			check(rstore__get(s[k], h[k][n], back) == -EINVAL ||
			      (h[k][n] >> 62) == 1); /* same-byte handles hold their page */
		}
		rstore__stats(s[k], &st);
		check(st.pages == 0 && st.stored_bytes == 0 && st.orig_bytes == 0);
		check(st.io_errors == 0 && st.codec_errors == 0);
		rstore__destroy(s[k]);
	}
	return 0;
}
