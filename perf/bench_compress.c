/* SPDX-License-Identifier: MIT */
/*
 * DOC: bench_compress, the reclaim store's codecs on guest-like pages (issue 16).
 *
 *   bench_compress [runs=N] [kernel=PATH] [pages=N] [dump=DIR]
 *
 * Three page sets: (a) hotcold, pages of workload=hotcold (guest/lib/hotcold.h,
 * seed 7, version 0); (b) kernel, the built-in guest kernel image cut into
 * 4 KiB pages (the last one zero-padded); (c) dup, workload=dup's pages at its
 * defaults (25 % zero, 25 % shared, 25 % internal, the rest unique; seed 1,
 * vm 0; guest/lib/dup.h). For each codec setting (lz4, lz4 with acceleration 4,
 * zstd levels 1 and 3), through the store's own codec calls (reclaim/codec.h),
 * one thread: the ratio (all pages' bytes over all compressed bytes), the share
 * of pages that compress badly (above 75 % of 4096), and compress and
 * decompress MB/s of page bytes, each the median of `runs` passes over the
 * whole set (wall time, CLOCK_MONOTONIC). Then the store itself (lz4 and
 * zstd-1, as l1vmm would run it, no file, no cap): pages kept, pages refused
 * (-E2BIG), and the memory ratio: the bytes of the pages kept over mem_bytes,
 * blobs as the allocator rounds them (this program links jemalloc, like
 * l1vmm) plus the store's table; same-byte pages cost nothing.
 *
 * dump=DIR also writes each set's pages to DIR/SET.pages (to feed zram the
 * same pages, perf/README.md).
 *
 * Exit status: 0; 1 a round trip was wrong; 2 bad arguments or no memory.
 * The kernel set is skipped with a note when the image cannot be read.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest/lib/dup.h"
#include "guest/lib/hotcold.h"
#include "reclaim/codec.h"
#include "reclaim/store.h"

#define PAGE RSTORE_PAGE_SIZE
#define MAX_RUNS 31

struct pageset {
	const char *name;
	uint8_t *pages;
	size_t n;
};

struct setting {
	const char *name;
	enum rstore_compressor codec;
	int level;
};

static const struct setting settings[] = {
	{ "lz4", RSTORE_LZ4, 1 },
	{ "lz4-a4", RSTORE_LZ4, 4 },
	{ "zstd-1", RSTORE_ZSTD, 1 },
	{ "zstd-3", RSTORE_ZSTD, 3 },
};

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint8_t *alloc_pages(size_t n)
{
	uint8_t *p = aligned_alloc(PAGE, n * PAGE);
	if (!p) {
		fprintf(stderr, "bench_compress: no memory for %zu pages\n", n);
		exit(2);
	}
	return p;
}

static struct pageset hotcold_set(size_t n)
{
	struct pageset s = { "hotcold", alloc_pages(n), n };
	for (size_t i = 0; i < n; i++)
		hotcold__fill((uint64_t *)(s.pages + i * PAGE), 7, i, 0);
	return s;
}

static struct pageset dup_set(size_t n)
{
	struct pageset s = { "dup", alloc_pages(n), n };
	struct dup_split split = dup__split(1, n, 25, 25, 25);

	for (size_t i = 0; i < n; i++) {
		uint32_t value;
		enum dup_class cls = dup__class(&split, i, &value);
		struct dup_content c = dup__content(cls, 1, 0, i, value);
		uint64_t *w = (uint64_t *)(s.pages + i * PAGE);
		for (unsigned k = 0; k < DUP_PAGE_WORDS; k++)
			w[k] = dup__word(c, k);
	}
	return s;
}

/* The kernel image in pages, or an empty set when it cannot be read. */
static struct pageset kernel_set(const char *path)
{
	struct pageset s = { "kernel", NULL, 0 };
	FILE *f = fopen(path, "rb");
	long size;

	if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "bench_compress: kernel set skipped: cannot read %s: %s\n", path,
			strerror(errno));
		if (f)
			fclose(f);
		return s;
	}
	s.n = ((size_t)size + PAGE - 1) / PAGE;
	s.pages = alloc_pages(s.n);
	memset(s.pages, 0, s.n * PAGE);
	if (fread(s.pages, 1, (size_t)size, f) != (size_t)size) {
		fprintf(stderr, "bench_compress: kernel set skipped: short read of %s\n", path);
		free(s.pages);
		s = (struct pageset){ "kernel", NULL, 0 };
	}
	fclose(f);
	return s;
}

/* One codec setting on one set: ratio, bad share, median MB/s. 0, or 1 on a wrong page. */
static int bench_codec(const struct pageset *set, const struct setting *st, unsigned runs)
{
	struct rcodec_ctx *x = rcodec__ctx_new();
	uint8_t *out = malloc(set->n * RCODEC_BOUND);
	int *len = malloc(set->n * sizeof(*len));
	_Alignas(64) uint8_t back[PAGE];
	double ct[MAX_RUNS], dt[MAX_RUNS], mb = (double)set->n * PAGE / 1e6;
	uint64_t total = 0, bad = 0;

	if (!x || !out || !len) {
		fprintf(stderr, "bench_compress: no memory\n");
		exit(2);
	}
	for (unsigned r = 0; r < runs; r++) {
		double t0 = now();
		for (size_t i = 0; i < set->n; i++)
			len[i] = rcodec__compress(x, st->codec, st->level, set->pages + i * PAGE,
						  out + i * RCODEC_BOUND, RCODEC_BOUND);
		double t1 = now();
		for (size_t i = 0; i < set->n; i++)
			if (len[i] < 0 ||
			    rcodec__decompress(x, st->codec, out + i * RCODEC_BOUND, (size_t)len[i],
					       back))
				return 1;
		double t2 = now();
		ct[r] = t1 - t0;
		dt[r] = t2 - t1;
	}
	for (size_t i = 0; i < set->n; i++) {
		if (rcodec__decompress(x, st->codec, out + i * RCODEC_BOUND, (size_t)len[i], back) ||
		    memcmp(back, set->pages + i * PAGE, PAGE)) {
			fprintf(stderr, "bench_compress: %s/%s: page %zu did not round-trip\n",
				set->name, st->name, i);
			return 1;
		}
		total += (uint64_t)len[i];
		bad += (unsigned)len[i] > PAGE * RSTORE_BAD_PCT_DEFAULT / 100;
	}
	printf("%-8s %-7s %6zu %7.2f %6.1f%% %9.0f %9.0f\n", set->name, st->name, set->n,
	       (double)set->n * PAGE / (double)total, 100.0 * (double)bad / (double)set->n,
	       mb / median(ct, runs), mb / median(dt, runs));
	rcodec__ctx_free(x);
	free(out);
	free(len);
	return 0;
}

/* The store as l1vmm runs it (no file, no cap): what it keeps and what that costs. */
static int bench_store(const struct pageset *set, enum rstore_compressor c)
{
	struct rstore *s;
	struct rstore_stats st;
	rstore_handle *h = calloc(set->n, sizeof(*h));
	_Alignas(64) uint8_t back[PAGE];
	size_t refused = 0;
	int ret = 0;

	if (!h || rstore__create(&s, &(struct rstore_config){ .compressor = c, .swap_fd = -1 })) {
		fprintf(stderr, "bench_compress: no memory\n");
		exit(2);
	}
	for (size_t i = 0; i < set->n; i++) {
		int err = rstore__put(s, set->pages + i * PAGE, &h[i]);
		if (err == -E2BIG)
			refused++;
		else if (err)
			ret = 1;
	}
	rstore__stats(s, &st);
	for (size_t i = 0; i < set->n; i++)
		if (h[i] && (rstore__get(s, h[i], back) || memcmp(back, set->pages + i * PAGE, PAGE)))
			ret = 1;
	printf("%-8s %-7s %6zu %6" PRIu64 " %6" PRIu64 " %6zu %10" PRIu64 " %10" PRIu64 " %6.2f\n",
	       set->name, rstore__compressor_name(c), set->n, st.same_byte_pages,
	       st.compressed_pages, refused, st.stored_bytes, st.mem_bytes,
	       (double)st.orig_bytes / (double)st.mem_bytes);
	rstore__destroy(s);
	free(h);
	return ret;
}

static int dump_set(const struct pageset *set, const char *dir)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.pages", dir, set->name);
	f = fopen(path, "wb");
	if (!f || fwrite(set->pages, PAGE, set->n, f) != set->n || fclose(f)) {
		fprintf(stderr, "bench_compress: cannot write %s: %s\n", path, strerror(errno));
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned runs = 5;
	size_t n = 16384;
	const char *kernel = L1_GUEST_ELF, *dump = NULL;
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "runs=", 5))
			runs = (unsigned)strtoul(argv[i] + 5, NULL, 10);
		else if (!strncmp(argv[i], "pages=", 6))
			n = strtoul(argv[i] + 6, NULL, 10);
		else if (!strncmp(argv[i], "kernel=", 7))
			kernel = argv[i] + 7;
		else if (!strncmp(argv[i], "dump=", 5))
			dump = argv[i] + 5;
		else
			runs = 0;
		if (runs < 1 || runs > MAX_RUNS || n < 1) {
			fprintf(stderr, "usage: bench_compress [runs=1..%u] [kernel=PATH] [pages=N] "
				"[dump=DIR]\n",
				MAX_RUNS);
			return 2;
		}
	}
	struct pageset sets[] = { hotcold_set(n), kernel_set(kernel), dup_set(n) };
	for (unsigned k = 0; dump && k < sizeof(sets) / sizeof(sets[0]); k++)
		if (dump_set(&sets[k], dump))
			return 2;

	printf("codecs, one thread, median of %u runs (MB/s of page bytes)\n", runs);
	printf("%-8s %-7s %6s %7s %7s %9s %9s\n", "set", "codec", "pages", "ratio", "bad",
	       "comp", "decomp");
	for (unsigned k = 0; k < sizeof(sets) / sizeof(sets[0]); k++)
		for (unsigned c = 0; sets[k].n && c < sizeof(settings) / sizeof(settings[0]); c++)
			ret |= bench_codec(&sets[k], &settings[c], runs);

	printf("\nthe store (no file, no cap): memory ratio = bytes of pages kept / mem_bytes\n");
	printf("%-8s %-7s %6s %6s %6s %6s %10s %10s %6s\n", "set", "codec", "pages", "same",
	       "comp", "E2BIG", "stored", "mem_bytes", "ratio");
	for (unsigned k = 0; k < sizeof(sets) / sizeof(sets[0]); k++)
		for (unsigned c = 0; sets[k].n && c < RSTORE_NR_COMPRESSORS; c++)
			ret |= bench_store(&sets[k], c);
	for (unsigned k = 0; k < sizeof(sets) / sizeof(sets[0]); k++)
		free(sets[k].pages);
	if (ret)
		fprintf(stderr, "bench_compress: a page did not round-trip\n");
	return ret;
}
