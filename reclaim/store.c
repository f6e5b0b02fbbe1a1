/* SPDX-License-Identifier: MIT */
/* The reclaim store: handles, the entry table, the file's slots, the cap (store.h). */
#include "reclaim/store.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "reclaim/codec.h"

/*
 * A handle: kind (2 bits) | codec (2) | generation (28) | entry index (32).
 * A same-byte handle is kind | the byte, every other bit 0.
 */
enum kind { KIND_NONE, KIND_SAME, KIND_MEM, KIND_FILE };

#define H_KIND_SHIFT 62
#define H_CODEC_SHIFT 60
#define H_GEN_SHIFT 32
#define GEN_MASK 0x0fffffffu
#define NO_ENTRY UINT32_MAX
#define TABLE_FIRST 64u

#define E_PENDING 1 /* a file write in progress: no handle given out yet */
#define E_DEAD 2    /* dropped while a get had it pinned: freed by the last get */

/* One stored page of kind memory or file. All fields under s->lock. */
struct entry {
	union {
		void *blob;         /* KIND_MEM: the compressed page, from malloc */
		uint64_t slot;      /* KIND_FILE: its slot in the backing file */
		uint32_t next_free; /* KIND_NONE: the next free entry, or NO_ENTRY */
	};
	uint32_t len;  /* KIND_MEM: compressed length */
	uint32_t gen;  /* 1..GEN_MASK, changed when the entry is freed */
	uint32_t pins; /* gets inside the codec or the file read now */
	uint8_t kind;  /* enum kind */
	uint8_t codec; /* enum rstore_compressor (KIND_MEM), else 0 */
	uint8_t flags; /* E_* */
};

struct rstore {
	pthread_mutex_t lock; /* a leaf: protects everything below but the fixed fields */
	/* fixed after create */
	unsigned bad_bytes;   /* compressed lengths above this compress badly */
	int swap_fd;          /* -1: none */
	uint64_t nr_slots;

	enum rstore_compressor compressor;
	uint64_t cap;
	struct entry *e;      /* the entry table, nr_e entries */
	uint32_t nr_e;
	uint32_t free_head;   /* first free entry, or NO_ENTRY */
	uint64_t *slot_map;   /* nr_slots bits: 1 = slot in use */
	uint64_t slot_hint;   /* the word the next slot search starts at */
	struct rcodec_ctx *pool; /* free codec contexts */
	struct rstore_stats st;  /* st.mem_bytes: blobs + table + slot_map + this struct */
};

const char *rstore__compressor_name(enum rstore_compressor c)
{
	static const char *const names[RSTORE_NR_COMPRESSORS] = {
		[RSTORE_LZ4] = "lz4",
		[RSTORE_ZSTD] = "zstd",
	};
	return (unsigned)c < RSTORE_NR_COMPRESSORS ? names[c] : "?";
}

int rstore__compressor_parse(const char *name, enum rstore_compressor *c)
{
	for (unsigned i = 0; i < RSTORE_NR_COMPRESSORS; i++) {
		if (!strcmp(name, rstore__compressor_name(i))) {
			*c = i;
			return 0;
		}
	}
	return -EINVAL;
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Link entries [from, to) into the free list, ahead of what is there. */
static void link_free(struct rstore *s, uint32_t from, uint32_t to)
{
	for (uint32_t i = to; i-- > from;) {
		s->e[i] = (struct entry){ .next_free = s->free_head, .gen = 1 };
		s->free_head = i;
	}
}

int rstore__create(struct rstore **out, const struct rstore_config *c)
{
	unsigned bad_pct = c->bad_pct ? c->bad_pct : RSTORE_BAD_PCT_DEFAULT;
	uint64_t slots = c->swap_fd >= 0 ? c->swap_bytes / RSTORE_PAGE_SIZE : 0;
	struct rstore *s;

	if ((unsigned)c->compressor >= RSTORE_NR_COMPRESSORS || bad_pct > 100 ||
	    (c->swap_fd >= 0 && slots == 0))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct rstore){
		.bad_bytes = RSTORE_PAGE_SIZE * bad_pct / 100,
		.swap_fd = c->swap_fd >= 0 ? c->swap_fd : -1,
		.nr_slots = slots,
		.compressor = c->compressor,
		.cap = c->cap_bytes,
		.nr_e = TABLE_FIRST,
		.free_head = NO_ENTRY,
	};
	s->e = malloc(TABLE_FIRST * sizeof(*s->e));
	s->slot_map = slots ? calloc((slots + 63) / 64, sizeof(uint64_t)) : NULL;
	if (!s->e || (slots && !s->slot_map)) {
		free(s->e);
		free(s->slot_map);
		free(s);
		return -ENOMEM;
	}
	link_free(s, 0, TABLE_FIRST);
	pthread_mutex_init(&s->lock, NULL);
	s->st.mem_bytes = malloc_usable_size(s) + malloc_usable_size(s->e) +
			  (s->slot_map ? malloc_usable_size(s->slot_map) : 0);
	*out = s;
	return 0;
}

void rstore__destroy(struct rstore *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nr_e; i++)
		if (s->e[i].kind == KIND_MEM)
			free(s->e[i].blob);
	while (s->pool) {
		struct rcodec_ctx *x = s->pool;
		s->pool = x->next;
		rcodec__ctx_free(x);
	}
	free(s->e);
	free(s->slot_map);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Would adding bytes exceed the cap? Counts the refusal. Under s->lock. */
static bool over_cap(struct rstore *s, uint64_t bytes)
{
	if (!s->cap || s->st.mem_bytes + bytes <= s->cap)
		return false;
	s->st.cap_hits++;
	return true;
}

/*
 * A free entry for a page that adds `adding` bytes of its own (its blob),
 * growing the table when none is free; the cap counts both. The index, or
 * -ENOSPC (cap), -ENOMEM. Under s->lock.
 */
static int64_t entry_take(struct rstore *s, uint64_t adding)
{
	uint32_t i;

	if (s->free_head == NO_ENTRY) {
		uint32_t n = s->nr_e > UINT32_MAX / 2 ? UINT32_MAX - 1 : s->nr_e * 2;
		struct entry *grown;
		size_t old = malloc_usable_size(s->e), now;

		if (n <= s->nr_e)
			return -ENOSPC; /* 4 G entries: no index left for a handle */
		/* malloc, not realloc: the cap check needs the new table's real size */
		grown = malloc((size_t)n * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		now = malloc_usable_size(grown);
		if (over_cap(s, now - old + adding)) {
			free(grown);
			return -ENOSPC;
		}
		memcpy(grown, s->e, (size_t)s->nr_e * sizeof(*grown));
		free(s->e);
		s->e = grown;
		s->st.mem_bytes += now - old;
		link_free(s, s->nr_e, n);
		s->nr_e = n;
	} else if (over_cap(s, adding)) {
		return -ENOSPC;
	}
	i = s->free_head;
	s->free_head = s->e[i].next_free;
	return i;
}

static rstore_handle handle_of(const struct rstore *s, uint32_t i)
{
	const struct entry *e = &s->e[i];
	return (uint64_t)e->kind << H_KIND_SHIFT | (uint64_t)e->codec << H_CODEC_SHIFT |
	       (uint64_t)e->gen << H_GEN_SHIFT | i;
}

/* Count a page in or out of the store (sign +1 or -1). Under s->lock. */
static void count_page(struct rstore *s, enum kind k, int sign)
{
	uint64_t *kind_count = k == KIND_SAME  ? &s->st.same_byte_pages
			       : k == KIND_MEM ? &s->st.compressed_pages
					       : &s->st.file_pages;
	*kind_count += (uint64_t)(int64_t)sign;
	s->st.pages += (uint64_t)(int64_t)sign;
	s->st.orig_bytes += (uint64_t)(int64_t)sign * RSTORE_PAGE_SIZE;
}

/* Entry i (its page freed, or never stored) back on the free list, with a new
 * generation so its old handle dies. Under s->lock. */
static void entry_release(struct rstore *s, uint32_t i)
{
	uint32_t gen = s->e[i].gen;

	s->e[i] = (struct entry){
		.next_free = s->free_head,
		.gen = gen == GEN_MASK ? 1 : gen + 1,
	};
	s->free_head = i;
}

/* Give entry i back: its blob or slot, its counts; its handles die. Under s->lock. */
static void entry_free(struct rstore *s, uint32_t i)
{
	struct entry *e = &s->e[i];

	if (e->kind == KIND_MEM) {
		s->st.mem_bytes -= malloc_usable_size(e->blob);
		s->st.stored_bytes -= e->len;
		free(e->blob);
	} else {
		s->slot_map[e->slot / 64] &= ~(1ull << (e->slot % 64));
	}
	if (!(e->flags & E_PENDING))
		count_page(s, e->kind, -1);
	entry_release(s, i);
}

/*
 * The entry handle h names, or -EINVAL: its kind, codec and generation must be
 * those of a stored page, and a same-byte handle has only its byte. For a
 * same-byte handle: NO_ENTRY. Under s->lock.
 */
static int64_t lookup(struct rstore *s, rstore_handle h)
{
	unsigned kind = h >> H_KIND_SHIFT, codec = (h >> H_CODEC_SHIFT) & 3;
	uint32_t i = (uint32_t)h, gen = (h >> H_GEN_SHIFT) & GEN_MASK;
	const struct entry *e;

	if (kind == KIND_SAME)
		return (h & ~(3ull << H_KIND_SHIFT)) <= 0xff ? (int64_t)NO_ENTRY : -EINVAL;
	if (kind == KIND_NONE || i >= s->nr_e)
		return -EINVAL;
	e = &s->e[i];
	if (e->kind != kind || e->codec != codec || e->gen != gen ||
	    (e->flags & (E_PENDING | E_DEAD)))
		return -EINVAL;
	return i;
}

/* A codec context of the pool, or a new one (NULL: no memory). */
static struct rcodec_ctx *ctx_take(struct rstore *s)
{
	struct rcodec_ctx *x;

	pthread_mutex_lock(&s->lock);
	x = s->pool;
	if (x)
		s->pool = x->next;
	pthread_mutex_unlock(&s->lock);
	return x ? x : rcodec__ctx_new();
}

/* Back to the pool. Under s->lock. */
static void ctx_give(struct rstore *s, struct rcodec_ctx *x)
{
	x->next = s->pool;
	s->pool = x;
}

/* Is the page one repeated byte? (Every byte equals the next one.) */
static bool same_byte(const void *page, uint8_t *byte)
{
	const uint8_t *b = page;

	if (memcmp(b, b + 1, RSTORE_PAGE_SIZE - 1))
		return false;
	*byte = b[0];
	return true;
}

/* The whole page into slot, retrying interrupted and partial writes: 0, -ENOSPC, -EIO. */
static int write_slot(int fd, uint64_t slot, const void *page)
{
	size_t done = 0;

	while (done < RSTORE_PAGE_SIZE) {
		ssize_t n = pwrite(fd, (const char *)page + done, RSTORE_PAGE_SIZE - done,
				   (off_t)(slot * RSTORE_PAGE_SIZE + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == ENOSPC || errno == EDQUOT))
			return -ENOSPC;
		if (n <= 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

static int read_slot(int fd, uint64_t slot, void *page)
{
	size_t done = 0;

	while (done < RSTORE_PAGE_SIZE) {
		ssize_t n = pread(fd, (char *)page + done, RSTORE_PAGE_SIZE - done,
				  (off_t)(slot * RSTORE_PAGE_SIZE + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO; /* an error, or a file shorter than its slots */
		done += (size_t)n;
	}
	return 0;
}

/* A free slot, marked used, or -ENOSPC. Under s->lock. */
static int64_t slot_take(struct rstore *s)
{
	uint64_t words = (s->nr_slots + 63) / 64;

	for (uint64_t k = 0; k < words; k++) {
		uint64_t w = (s->slot_hint + k) % words, bit;
		uint64_t free_bits = ~s->slot_map[w];

		if (w == words - 1 && s->nr_slots % 64)
			free_bits &= (1ull << (s->nr_slots % 64)) - 1;
		if (!free_bits)
			continue;
		bit = (uint64_t)__builtin_ctzll(free_bits);
		s->slot_map[w] |= 1ull << bit;
		s->slot_hint = w;
		return (int64_t)(w * 64 + bit);
	}
	return -ENOSPC;
}

/* A page that compresses badly, to a slot of the file. Under no lock. */
static int put_file(struct rstore *s, const void *page, rstore_handle *h)
{
	int64_t i, slot = -ENOSPC;
	int err;

	pthread_mutex_lock(&s->lock);
	i = entry_take(s, 0);
	if (i >= 0) {
		slot = slot_take(s);
		if (slot < 0) {
			s->st.file_full++;
			entry_release(s, (uint32_t)i);
			i = -ENOSPC;
		} else {
			s->e[i] = (struct entry){ .kind = KIND_FILE, .flags = E_PENDING,
						  .gen = s->e[i].gen, .slot = (uint64_t)slot };
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (i < 0)
		return (int)i;

	err = write_slot(s->swap_fd, (uint64_t)slot, page);
	pthread_mutex_lock(&s->lock);
	if (err) {
		err == -ENOSPC ? s->st.file_full++ : s->st.io_errors++;
		entry_free(s, (uint32_t)i);
	} else {
		s->e[i].flags = 0;
		count_page(s, KIND_FILE, +1);
		s->st.puts++;
		*h = handle_of(s, (uint32_t)i);
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

/* A compressed page (len bytes at buf, codec c) into a blob of its own. Under no lock. */
static int put_blob(struct rstore *s, const void *buf, int len, enum rstore_compressor c,
		    rstore_handle *h)
{
	void *blob = malloc((size_t)len);
	size_t size;
	int64_t i;

	if (!blob)
		return -ENOMEM;
	memcpy(blob, buf, (size_t)len);
	size = malloc_usable_size(blob);
	pthread_mutex_lock(&s->lock);
	i = entry_take(s, size);
	if (i >= 0) {
		s->e[i] = (struct entry){ .kind = KIND_MEM, .codec = c, .gen = s->e[i].gen,
					  .blob = blob, .len = (uint32_t)len };
		s->st.mem_bytes += size;
		s->st.stored_bytes += (uint64_t)len;
		count_page(s, KIND_MEM, +1);
		s->st.puts++;
		*h = handle_of(s, (uint32_t)i);
	}
	pthread_mutex_unlock(&s->lock);
	if (i < 0)
		free(blob);
	return i < 0 ? (int)i : 0;
}

int rstore__put(struct rstore *s, const void *page, rstore_handle *h)
{
	enum rstore_compressor c;
	struct rcodec_ctx *x;
	uint64_t t0, t1;
	uint8_t byte;
	int len, err;

	if (same_byte(page, &byte)) {
		pthread_mutex_lock(&s->lock);
		count_page(s, KIND_SAME, +1);
		s->st.puts++;
		pthread_mutex_unlock(&s->lock);
		*h = (uint64_t)KIND_SAME << H_KIND_SHIFT | byte;
		return 0;
	}
	x = ctx_take(s);
	if (!x)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	c = s->compressor;
	pthread_mutex_unlock(&s->lock);

	t0 = now_ns();
	len = rcodec__compress(x, c, c == RSTORE_ZSTD ? RSTORE_ZSTD_LEVEL : 1, page, x->buf,
			       sizeof(x->buf));
	t1 = now_ns();
	if (len < 0)
		err = len;
	else if ((unsigned)len > s->bad_bytes)
		err = s->swap_fd >= 0 ? put_file(s, page, h) : -E2BIG;
	else
		err = put_blob(s, x->buf, len, c, h);

	pthread_mutex_lock(&s->lock);
	s->st.compress_ns += t1 - t0;
	s->st.bad_no_file += err == -E2BIG;
	s->st.codec_errors += err == -EPROTO;
	ctx_give(s, x);
	pthread_mutex_unlock(&s->lock);
	return err;
}

/* Unpin entry i after a get; free it if it was dropped meanwhile. Under s->lock. */
static void unpin(struct rstore *s, uint32_t i)
{
	struct entry *e = &s->e[i];

	if (--e->pins == 0 && (e->flags & E_DEAD))
		entry_free(s, i);
}

int rstore__get(struct rstore *s, rstore_handle h, void *page)
{
	struct rcodec_ctx *x = NULL;
	struct entry e;
	uint64_t t0 = 0, t1 = 0;
	int64_t i;
	int err;

	pthread_mutex_lock(&s->lock);
	i = lookup(s, h);
	if (i == NO_ENTRY) {
		s->st.gets++;
	} else if (i >= 0) {
		s->e[i].pins++;
		e = s->e[i];
		if (e.kind == KIND_MEM && (x = s->pool))
			s->pool = x->next;
	} else {
		s->st.bad_handles++;
	}
	pthread_mutex_unlock(&s->lock);
	if (i == NO_ENTRY) {
		memset(page, (int)(h & 0xff), RSTORE_PAGE_SIZE);
		return 0;
	}
	if (i < 0)
		return (int)i;

	if (e.kind == KIND_FILE) {
		err = read_slot(s->swap_fd, e.slot, page);
	} else if (!x && !(x = rcodec__ctx_new())) {
		err = -ENOMEM;
	} else {
		t0 = now_ns();
		err = rcodec__decompress(x, e.codec, e.blob, e.len, page);
		t1 = now_ns();
	}

	pthread_mutex_lock(&s->lock);
	unpin(s, (uint32_t)i);
	if (x)
		ctx_give(s, x);
	s->st.decompress_ns += t1 - t0;
	s->st.io_errors += err == -EIO;
	s->st.codec_errors += err == -EBADMSG;
	s->st.gets += !err;
	pthread_mutex_unlock(&s->lock);
	return err;
}

void rstore__drop(struct rstore *s, rstore_handle h)
{
	int64_t i;

	pthread_mutex_lock(&s->lock);
	i = lookup(s, h);
	if (i == NO_ENTRY && s->st.same_byte_pages) {
		count_page(s, KIND_SAME, -1);
		s->st.drops++;
	} else if (i >= 0 && s->e[i].pins) {
		s->e[i].flags |= E_DEAD; /* refused from now on, freed by the last get */
		s->st.drops++;
	} else if (i >= 0) {
		entry_free(s, (uint32_t)i);
		s->st.drops++;
	} else {
		s->st.bad_handles++;
	}
	pthread_mutex_unlock(&s->lock);
}

void rstore__set_compressor(struct rstore *s, enum rstore_compressor c)
{
	if ((unsigned)c >= RSTORE_NR_COMPRESSORS)
		return;
	pthread_mutex_lock(&s->lock);
	s->compressor = c;
	pthread_mutex_unlock(&s->lock);
}

void rstore__set_cap(struct rstore *s, uint64_t cap_bytes)
{
	pthread_mutex_lock(&s->lock);
	s->cap = cap_bytes;
	pthread_mutex_unlock(&s->lock);
}

void rstore__stats(struct rstore *s, struct rstore_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->st;
	out->work_bytes = 0;
	for (const struct rcodec_ctx *x = s->pool; x; x = x->next)
		out->work_bytes += rcodec__ctx_bytes(x);
	out->cap_bytes = s->cap;
	out->compressor = s->compressor;
	pthread_mutex_unlock(&s->lock);
}
