/*
 * Unit tests: the reclaim store (reclaim/store.h) and its codecs
 * (reclaim/codec.h). Pages come from guest/lib/hotcold.h (made like a real
 * program's memory), plus same-byte, zero and random pages; every page read
 * back is compared byte for byte.
 */
#include "tests/unit/cmocka_all.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest/lib/hotcold.h"
#include "reclaim/codec.h"
#include "reclaim/store.h"

#define PAGE RSTORE_PAGE_SIZE
#define SEED 7

static const enum rstore_compressor codecs[] = { RSTORE_LZ4, RSTORE_ZSTD };

static void hotcold_page(void *p, uint64_t page, uint64_t version)
{
	hotcold__fill(p, SEED, page, version);
}

/* A hotcold page (version 0) from `from` on that goes to a blob with either
 * codec: not one repeated byte, and compressed to at most 75 % by both. */
static uint64_t blob_page(uint64_t from)
{
	uint64_t w[HOTCOLD_PAGE_WORDS];
	struct rcodec_ctx *x = rcodec__ctx_new();
	assert_non_null(x);

	for (;; from++) {
		hotcold_page(w, from, 0);
		if ((hotcold__page_hash(SEED, from, 0) & 15) == 0)
			continue;
		int lz4 = rcodec__compress(x, RSTORE_LZ4, 1, w, x->buf, sizeof(x->buf));
		int zstd = rcodec__compress(x, RSTORE_ZSTD, RSTORE_ZSTD_LEVEL, w, x->buf,
					    sizeof(x->buf));
		if (lz4 > 0 && lz4 <= (int)PAGE * 3 / 4 && zstd > 0 && zstd <= (int)PAGE * 3 / 4)
			break;
	}
	rcodec__ctx_free(x);
	return from;
}

static void random_page(void *p, uint64_t seed)
{
	uint64_t *w = p;
	for (unsigned i = 0; i < PAGE / 8; i++)
		w[i] = hotcold__mix(seed * 4096 + i);
}

static struct rstore *store_new(enum rstore_compressor c, uint64_t cap, int fd, uint64_t slots)
{
	struct rstore *s = NULL;
	struct rstore_config cfg = { .compressor = c, .cap_bytes = cap, .swap_fd = fd,
				     .swap_bytes = slots * PAGE };
	assert_int_equal(rstore__create(&s, &cfg), 0);
	assert_non_null(s);
	return s;
}

static struct rstore_stats stats(struct rstore *s)
{
	struct rstore_stats st;
	rstore__stats(s, &st);
	return st;
}

static int swap_file(void)
{
	int fd = memfd_create("rstore-swap", 0);
	assert_true(fd >= 0);
	return fd;
}

/* Put a copy of page, check the copy was not written, and read it back. */
static rstore_handle put_and_check(struct rstore *s, const void *page)
{
	_Alignas(8) unsigned char copy[PAGE], back[PAGE];
	rstore_handle h = 0;

	memcpy(copy, page, PAGE);
	assert_int_equal(rstore__put(s, copy, &h), 0);
	assert_true(h != 0);
	assert_memory_equal(copy, page, PAGE);
	memset(back, 0x5a, PAGE);
	assert_int_equal(rstore__get(s, h, back), 0);
	assert_memory_equal(back, page, PAGE);
	return h;
}

static void names_parse(void **state)
{
	(void)state;
	enum rstore_compressor c = RSTORE_NR_COMPRESSORS;

	assert_string_equal(rstore__compressor_name(RSTORE_LZ4), "lz4");
	assert_string_equal(rstore__compressor_name(RSTORE_ZSTD), "zstd");
	assert_int_equal(rstore__compressor_parse("zstd", &c), 0);
	assert_int_equal(c, RSTORE_ZSTD);
	assert_int_equal(rstore__compressor_parse("lz4", &c), 0);
	assert_int_equal(c, RSTORE_LZ4);
	assert_int_equal(rstore__compressor_parse("lz4 ", &c), -EINVAL);
	assert_int_equal(rstore__compressor_parse("", &c), -EINVAL);
	assert_int_equal(rstore__compressor_parse("gzip", &c), -EINVAL);
	assert_int_equal(c, RSTORE_LZ4);
}

static void bad_configs(void **state)
{
	(void)state;
	struct rstore *s = NULL;

	assert_int_equal(rstore__create(&s, &(struct rstore_config){
		.compressor = RSTORE_NR_COMPRESSORS, .swap_fd = -1 }), -EINVAL);
	assert_int_equal(rstore__create(&s, &(struct rstore_config){
		.bad_pct = 101, .swap_fd = -1 }), -EINVAL);
	assert_int_equal(rstore__create(&s, &(struct rstore_config){
		.swap_fd = 0, .swap_bytes = PAGE - 1 }), -EINVAL);
	assert_null(s);
}

/* Every kind, both codecs: hotcold, same-byte, zero, random (to the file). */
static void round_trips(void **state)
{
	(void)state;
	_Alignas(8) unsigned char page[PAGE];
	enum { N = 256 };

	for (unsigned k = 0; k < 2; k++) {
		int fd = swap_file();
		struct rstore *s = store_new(codecs[k], 0, fd, 64);
		rstore_handle h[N + 3 + 8];
		uint64_t same = 0, mem = 0;

		for (uint64_t p = 0; p < N; p++) {
			hotcold_page(page, p, 1);
			h[p] = put_and_check(s, page);
			if ((hotcold__page_hash(SEED, p, 1) & 15) == 0)
				same++;
			else
				mem++;
		}
		assert_true(same > 0 && mem > 0);
		memset(page, 0, PAGE);
		h[N] = put_and_check(s, page);
		memset(page, 0xff, PAGE);
		h[N + 1] = put_and_check(s, page);
		memset(page, 0xa5, PAGE);
		h[N + 2] = put_and_check(s, page);
		for (unsigned r = 0; r < 8; r++) {
			random_page(page, r);
			h[N + 3 + r] = put_and_check(s, page);
		}
		struct rstore_stats st = stats(s);
		assert_int_equal(st.pages, N + 3 + 8);
		assert_int_equal(st.same_byte_pages, same + 3);
		/* the random pages and hotcold's worst (mostly random runs) go to the file */
		assert_int_equal(st.compressed_pages + st.file_pages, mem + 8);
		assert_true(st.file_pages >= 8);
		assert_true(st.compressed_pages >= mem * 9 / 10);
		mem = st.compressed_pages;
		assert_int_equal(st.orig_bytes, (N + 3 + 8) * (uint64_t)PAGE);
		assert_int_equal(st.puts, N + 3 + 8);
		assert_int_equal(st.gets, N + 3 + 8);
		/* hotcold compresses well below 75 % with either codec */
		assert_true(st.stored_bytes < mem * PAGE * 3 / 4);
		assert_true(st.mem_bytes >= st.stored_bytes);
		assert_true(st.compress_ns > 0 && st.decompress_ns > 0);

		/* every page again, after all the others went in */
		for (uint64_t p = 0; p < N; p++) {
			uint64_t want[HOTCOLD_PAGE_WORDS];
			hotcold_page(want, p, 1);
			assert_int_equal(rstore__get(s, h[p], page), 0);
			assert_memory_equal(page, want, PAGE);
		}
		for (unsigned i = 0; i < N + 3 + 8; i++)
			rstore__drop(s, h[i]);
		st = stats(s);
		assert_int_equal(st.pages, 0);
		assert_int_equal(st.same_byte_pages + st.compressed_pages + st.file_pages, 0);
		assert_int_equal(st.stored_bytes, 0);
		assert_int_equal(st.drops, N + 3 + 8);
		rstore__destroy(s);
		close(fd);
	}
}

/* Without a file a page that compresses badly is refused, untouched, not stored. */
static void bad_page_without_file(void **state)
{
	(void)state;
	_Alignas(8) unsigned char page[PAGE], copy[PAGE];

	for (unsigned k = 0; k < 2; k++) {
		struct rstore *s = store_new(codecs[k], 0, -1, 0);
		struct rstore_stats before = stats(s), st;
		rstore_handle h = 0;

		random_page(page, 99);
		memcpy(copy, page, PAGE);
		assert_int_equal(rstore__put(s, page, &h), -E2BIG);
		assert_memory_equal(page, copy, PAGE);
		st = stats(s);
		assert_int_equal(st.pages, 0);
		assert_int_equal(st.bad_no_file, 1);
		assert_int_equal(st.mem_bytes, before.mem_bytes);
		rstore__destroy(s);
	}
}

/* The cap: a put past it fails -ENOSPC and stores nothing; what is stored stays. */
static void cap_refuses_cleanly(void **state)
{
	(void)state;
	_Alignas(8) unsigned char page[PAGE], copy[PAGE];
	rstore_handle h[64];
	unsigned n = 0;

	for (unsigned k = 0; k < 2; k++) {
		struct rstore *s = store_new(codecs[k], 0, -1, 0);
		uint64_t base = stats(s).mem_bytes;
		uint64_t p = 0;

		rstore__set_cap(s, base + 8 * PAGE);
		assert_int_equal(stats(s).cap_bytes, base + 8 * PAGE);
		for (n = 0; n < 64; n++) {
			p = blob_page(p + 1);
			hotcold_page(page, p, 0);
			memcpy(copy, page, PAGE);
			struct rstore_stats before = stats(s);
			int err = rstore__put(s, page, &h[n]);
			assert_memory_equal(page, copy, PAGE);
			if (err) {
				struct rstore_stats st = stats(s);
				assert_int_equal(err, -ENOSPC);
				assert_int_equal(st.cap_hits, before.cap_hits + 1);
				assert_int_equal(st.pages, before.pages);
				assert_int_equal(st.mem_bytes, before.mem_bytes);
				assert_int_equal(st.stored_bytes, before.stored_bytes);
				assert_int_equal(st.puts, before.puts);
				break;
			}
		}
		assert_true(n > 8 && n < 64); /* pages of ~2 KiB: more than 8, fewer than 64 */
		assert_true(stats(s).mem_bytes <= base + 8 * PAGE);

		/* a same-byte page costs nothing and still goes in */
		memset(page, 0x11, PAGE);
		rstore_handle same = put_and_check(s, page);

		/* each stored page reads back; dropping one makes room again */
		p = 0;
		for (unsigned i = 0; i < n; i++) {
			uint64_t want[HOTCOLD_PAGE_WORDS];
			p = blob_page(p + 1);
			hotcold_page(want, p, 0);
			assert_int_equal(rstore__get(s, h[i], page), 0);
			assert_memory_equal(page, want, PAGE);
		}
		rstore__drop(s, h[0]);
		rstore__drop(s, h[1]);
		hotcold_page(page, blob_page(1), 0);
		h[0] = put_and_check(s, page);

		/* no cap: everything goes in */
		rstore__set_cap(s, 0);
		hotcold_page(page, p, 0);
		put_and_check(s, page);
		rstore__drop(s, same);
		rstore__destroy(s);
	}
}

/* mem_bytes counts blobs as allocated; a drop gives back exactly what the put took. */
static void drop_frees_memory(void **state)
{
	(void)state;
	_Alignas(8) unsigned char page[PAGE];
	enum { MANY = 1000 };
	rstore_handle *h = calloc(MANY, sizeof(*h));
	assert_non_null(h);

	for (unsigned k = 0; k < 2; k++) {
		int fd = swap_file();
		struct rstore *s = store_new(codecs[k], 0, fd, MANY);
		uint64_t m0 = stats(s).mem_bytes;
		uint64_t p = blob_page(0);

		hotcold_page(page, p, 0);
		h[0] = put_and_check(s, page);
		struct rstore_stats st = stats(s);
		uint64_t took = st.mem_bytes - m0;
		assert_true(took >= st.stored_bytes);
		assert_true(took <= st.stored_bytes + st.stored_bytes / 4 + 32);
		rstore__drop(s, h[0]);
		assert_int_equal(stats(s).mem_bytes, m0);

		/* many pages: the entry table grows (counted), the blobs go back */
		for (unsigned i = 0; i < MANY; i++) {
			hotcold_page(page, i, 2);
			h[i] = put_and_check(s, page);
		}
		uint64_t full = stats(s).mem_bytes;
		for (unsigned i = 0; i < MANY; i++)
			rstore__drop(s, h[i]);
		st = stats(s);
		assert_int_equal(st.pages, 0);
		assert_int_equal(st.stored_bytes, 0);
		assert_true(st.mem_bytes > m0);           /* the grown table */
		assert_true(st.mem_bytes < m0 + MANY * 64); /* and nothing else */
		assert_true(full - st.mem_bytes >= (uint64_t)MANY * 1024);
		rstore__destroy(s);
		close(fd);
	}
	free(h);
}

/* A file of 3 slots: the fourth bad page fails -ENOSPC; a drop frees a slot. */
static void file_full(void **state)
{
	(void)state;
	_Alignas(8) unsigned char page[PAGE], copy[PAGE];
	int fd = swap_file();
	struct rstore *s = store_new(RSTORE_LZ4, 0, fd, 3);
	rstore_handle h[4];

	for (unsigned i = 0; i < 3; i++) {
		random_page(page, 10 + i);
		h[i] = put_and_check(s, page);
	}
	random_page(page, 13);
	memcpy(copy, page, PAGE);
	struct rstore_stats before = stats(s);
	assert_int_equal(rstore__put(s, page, &h[3]), -ENOSPC);
	assert_memory_equal(page, copy, PAGE);
	struct rstore_stats st = stats(s);
	assert_int_equal(st.file_full, 1);
	assert_int_equal(st.file_pages, 3);
	assert_int_equal(st.pages, before.pages);
	assert_int_equal(st.mem_bytes, before.mem_bytes);

	rstore__drop(s, h[1]);
	h[1] = put_and_check(s, page);
	for (unsigned i = 0; i < 3; i++) {
		random_page(copy, i == 1 ? 13 : 10 + i);
		assert_int_equal(rstore__get(s, h[i], page), 0);
		assert_memory_equal(page, copy, PAGE);
	}

	/* a file cut short under the store: the read fails -EIO, nothing crashes */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(rstore__get(s, h[0], page), -EIO);
	assert_int_equal(stats(s).io_errors, 1);
	rstore__destroy(s);
	close(fd);
}

/* Writes that fail: /dev/full (-ENOSPC) and a read-only fd (-EIO); nothing stored. */
static void file_write_fails(void **state)
{
	(void)state;
	_Alignas(8) unsigned char page[PAGE], copy[PAGE];
	int full = open("/dev/full", O_RDWR);
	int mfd = swap_file();
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	int ro = open(path, O_RDONLY);
	const struct { int fd; int err; } cases[] = { { full, -ENOSPC }, { ro, -EIO } };

	assert_true(full >= 0 && ro >= 0);
	for (unsigned c = 0; c < 2; c++) {
		struct rstore *s = store_new(RSTORE_ZSTD, 0, cases[c].fd, 16);
		struct rstore_stats before = stats(s), st;
		rstore_handle h = 0;

		random_page(page, 42);
		memcpy(copy, page, PAGE);
		assert_int_equal(rstore__put(s, page, &h), cases[c].err);
		assert_memory_equal(page, copy, PAGE);
		st = stats(s);
		assert_int_equal(st.pages, 0);
		assert_int_equal(st.file_pages, 0);
		assert_int_equal(st.mem_bytes, before.mem_bytes);
		assert_int_equal(st.file_full, cases[c].err == -ENOSPC);
		assert_int_equal(st.io_errors, cases[c].err == -EIO);
		/* the slot went back: 16 more failures, then compressible pages still work */
		for (unsigned i = 0; i < 16; i++)
			assert_int_equal(rstore__put(s, page, &h), cases[c].err);
		hotcold_page(page, blob_page(0), 0);
		rstore__drop(s, put_and_check(s, page));
		rstore__destroy(s);
	}
	close(full);
	close(ro);
	close(mfd);
}

/* Pages stored under lz4 stay readable after a switch to zstd, and back. */
static void compressor_change(void **state)
{
	(void)state;
	_Alignas(8) unsigned char page[PAGE];
	enum { N = 64 };
	rstore_handle h[3 * N];
	int fd = swap_file();
	struct rstore *s = store_new(RSTORE_LZ4, 0, fd, 3 * N);

	for (unsigned round = 0; round < 3; round++) {
		enum rstore_compressor c = round == 1 ? RSTORE_ZSTD : RSTORE_LZ4;
		rstore__set_compressor(s, c);
		assert_int_equal(stats(s).compressor, c);
		for (unsigned i = 0; i < N; i++) {
			hotcold_page(page, round * N + i, 3);
			h[round * N + i] = put_and_check(s, page);
		}
	}
	rstore__set_compressor(s, RSTORE_NR_COMPRESSORS); /* ignored */
	assert_int_equal(stats(s).compressor, RSTORE_LZ4);
	for (unsigned i = 0; i < 3 * N; i++) {
		uint64_t want[HOTCOLD_PAGE_WORDS];
		hotcold_page(want, i, 3);
		assert_int_equal(rstore__get(s, h[i], page), 0);
		assert_memory_equal(page, want, PAGE);
	}
	/* the same page under both codecs: two handles that differ */
	uint64_t p = blob_page(0);
	hotcold_page(page, p, 0);
	rstore_handle a = put_and_check(s, page);
	rstore__set_compressor(s, RSTORE_ZSTD);
	rstore_handle b = put_and_check(s, page);
	assert_true(a != b);
	rstore__destroy(s);
	close(fd);
}

/* 0, garbage, stale and altered handles: -EINVAL, drops ignored, nothing changes. */
static void bad_handles(void **state)
{
	(void)state;
	_Alignas(8) unsigned char page[PAGE], back[PAGE];
	int fd = swap_file();
	struct rstore *s = store_new(RSTORE_LZ4, 0, fd, 4);
	rstore_handle mem, file, same, dropped;

	hotcold_page(page, blob_page(0), 0);
	mem = put_and_check(s, page);
	hotcold_page(page, blob_page(5), 0);
	dropped = put_and_check(s, page);
	rstore__drop(s, dropped);
	random_page(page, 1);
	file = put_and_check(s, page);
	memset(page, 0, PAGE);
	same = put_and_check(s, page);

	const rstore_handle bad[] = {
		0, 1, ~0ull, 0xdeadbeefcafef00dull, dropped,
		mem ^ 1ull << 60,          /* the other codec */
		mem ^ 1ull << 32,          /* another generation */
		mem + 1,                   /* a free entry */
		(mem & ~0xffffffffull) | 0xfffffff0u, /* beyond the table */
		file ^ 1ull << 63,         /* another kind */
		same | 1ull << 8,          /* a same-byte handle with more than its byte */
		same | 1ull << 40,
	};
	struct rstore_stats before = stats(s);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(back, 0x77, PAGE);
		assert_int_equal(rstore__get(s, bad[i], back), -EINVAL);
		rstore__drop(s, bad[i]);
	}
	struct rstore_stats st = stats(s);
	assert_int_equal(st.bad_handles, 2 * (sizeof(bad) / sizeof(bad[0])));
	assert_int_equal(st.pages, before.pages);
	assert_int_equal(st.drops, before.drops);
	assert_int_equal(st.mem_bytes, before.mem_bytes);
	/* the good ones still work */
	assert_int_equal(rstore__get(s, mem, back), 0);
	assert_int_equal(rstore__get(s, file, back), 0);
	random_page(page, 1);
	assert_memory_equal(back, page, PAGE);
	rstore__destroy(s);
	close(fd);
}

/* The codecs refuse corrupt and truncated input instead of making a page of it. */
static void codec_refuses_garbage(void **state)
{
	(void)state;
	struct rcodec_ctx *x = rcodec__ctx_new();
	_Alignas(8) unsigned char page[PAGE], out[PAGE], junk[256];
	assert_non_null(x);

	hotcold_page(page, blob_page(0), 0);
	random_page(out, 3);
	memcpy(junk, out, sizeof(junk)); /* the first 256 bytes of a random page */
	for (unsigned k = 0; k < 2; k++) {
		int len = rcodec__compress(x, codecs[k], 1, page, x->buf, sizeof(x->buf));
		assert_true(len > 0 && len < (int)PAGE);
		assert_int_equal(rcodec__decompress(x, codecs[k], x->buf, (size_t)len, out), 0);
		assert_memory_equal(out, page, PAGE);
		assert_int_equal(rcodec__decompress(x, codecs[k], x->buf, (size_t)len / 2, out),
				 -EBADMSG);
		assert_int_equal(rcodec__decompress(x, codecs[k], junk, sizeof(junk), out),
				 -EBADMSG);
		assert_int_equal(rcodec__decompress(x, codecs[k], x->buf, 0, out), -EBADMSG);
	}
	/* lz4 with acceleration and zstd at level 3 round-trip too */
	int len = rcodec__compress(x, RSTORE_LZ4, 8, page, x->buf, sizeof(x->buf));
	assert_true(len > 0);
	assert_int_equal(rcodec__decompress(x, RSTORE_LZ4, x->buf, (size_t)len, out), 0);
	assert_memory_equal(out, page, PAGE);
	len = rcodec__compress(x, RSTORE_ZSTD, 3, page, x->buf, sizeof(x->buf));
	assert_true(len > 0);
	assert_int_equal(rcodec__decompress(x, RSTORE_ZSTD, x->buf, (size_t)len, out), 0);
	assert_memory_equal(out, page, PAGE);
	assert_true(rcodec__ctx_bytes(x) > sizeof(*x)); /* zstd's contexts exist now */
	rcodec__ctx_free(x);
}

/*
 * Stress: threads put, get and drop their own pages (hotcold, same-byte,
 * random to a small file) while one of them switches the compressor; every
 * get is checked against the page's generator. At the end nothing is left.
 */
#define STRESS_THREADS 4
#define STRESS_SLOTS 48
#define STRESS_OPS 3000

struct stress {
	struct rstore *s;
	unsigned id;
	unsigned failures;
};

/* The page of (thread, slot, version): mostly hotcold, some random, some one byte. */
static void stress_page(void *p, unsigned id, unsigned slot, uint64_t version)
{
	uint64_t key = (uint64_t)id << 32 | (uint64_t)slot << 16 | version;
	switch (hotcold__mix(key) % 8) {
	case 0:
		random_page(p, key);
		break;
	case 1:
		memset(p, (int)(version & 0xff), PAGE);
		break;
	default:
		hotcold_page(p, key, version);
	}
}

static void *stress_thread(void *arg)
{
	struct stress *t = arg;
	rstore_handle h[STRESS_SLOTS] = { 0 };
	uint64_t version[STRESS_SLOTS] = { 0 };
	_Alignas(8) unsigned char page[PAGE], want[PAGE];
	uint64_t rng = t->id + 1;

	for (unsigned op = 0; op < STRESS_OPS; op++) {
		rng = hotcold__mix(rng);
		unsigned slot = rng % STRESS_SLOTS;
		if (t->id == 0 && op % 97 == 0)
			rstore__set_compressor(t->s, (op / 97) % 2 ? RSTORE_ZSTD : RSTORE_LZ4);
		if (!h[slot]) {
			version[slot]++;
			stress_page(page, t->id, slot, version[slot]);
			memcpy(want, page, PAGE);
			int err = rstore__put(t->s, page, &h[slot]);
			if (err)
				h[slot] = 0;
			/* only the small file may refuse a page; the page stays intact */
			t->failures += (err && err != -ENOSPC) || memcmp(page, want, PAGE);
		} else if ((rng >> 32) % 4) {
			stress_page(want, t->id, slot, version[slot]);
			t->failures += rstore__get(t->s, h[slot], page) != 0 ||
				       memcmp(page, want, PAGE);
		} else {
			rstore__drop(t->s, h[slot]);
			h[slot] = 0;
		}
	}
	for (unsigned slot = 0; slot < STRESS_SLOTS; slot++)
		if (h[slot])
			rstore__drop(t->s, h[slot]);
	return NULL;
}

static void threads_stress(void **state)
{
	(void)state;
	int fd = swap_file();
	struct rstore *s = store_new(RSTORE_LZ4, 0, fd, 32);
	uint64_t m0 = stats(s).mem_bytes;
	pthread_t tid[STRESS_THREADS];
	struct stress t[STRESS_THREADS];

	for (unsigned i = 0; i < STRESS_THREADS; i++) {
		t[i] = (struct stress){ .s = s, .id = i };
		assert_int_equal(pthread_create(&tid[i], NULL, stress_thread, &t[i]), 0);
	}
	for (unsigned i = 0; i < STRESS_THREADS; i++) {
		pthread_join(tid[i], NULL);
		assert_int_equal(t[i].failures, 0);
	}
	struct rstore_stats st = stats(s);
	assert_int_equal(st.pages, 0);
	assert_int_equal(st.compressed_pages + st.same_byte_pages + st.file_pages, 0);
	assert_int_equal(st.stored_bytes, 0);
	assert_int_equal(st.puts, st.drops);
	assert_true(st.gets > STRESS_THREADS * STRESS_OPS / 4);
	assert_true(st.mem_bytes >= m0 && st.mem_bytes < m0 + 64 * 1024); /* the table only */
	assert_int_equal(st.io_errors + st.codec_errors + st.bad_handles, 0);
	assert_true(st.work_bytes > 0);
	rstore__destroy(s);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names_parse),
		cmocka_unit_test(bad_configs),
		cmocka_unit_test(round_trips),
		cmocka_unit_test(bad_page_without_file),
		cmocka_unit_test(cap_refuses_cleanly),
		cmocka_unit_test(drop_frees_memory),
		cmocka_unit_test(file_full),
		cmocka_unit_test(file_write_fails),
		cmocka_unit_test(compressor_change),
		cmocka_unit_test(bad_handles),
		cmocka_unit_test(codec_refuses_garbage),
		cmocka_unit_test(threads_stress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
