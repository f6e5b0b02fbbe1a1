/* SPDX-License-Identifier: MIT */
/*
 * DOC: the ept backend of page sharing (dedup_host.h).
 *
 * Stored copies are pages of one memfd, also mapped once MAP_SHARED (the
 * store) so the engine can read them and copies can be filled. A shared
 * guest frame is that memfd page mapped MAP_PRIVATE | MAP_FIXED over the
 * frame's place in guest RAM: KVM maps it read-only into the guest, and a
 * guest write makes the host kernel copy it (copy-on-write) into an
 * anonymous page of the guest's own, with the old bytes plus the write, and
 * no exit to l1vmm. A zero frame is discarded (MADV_DONTNEED on anonymous
 * memory, a fresh anonymous mapping over a memfd page); the guest reads the
 * kernel's zero page until it writes.
 *
 * Writes are seen through KVM's dirty log (with manual protection when KVM
 * offers it: KVM_GET_DIRTY_LOG, then KVM_CLEAR_DIRTY_LOG of what was read).
 * sync() harvests it: a written SHARED or ZERO frame was copied on write and
 * is reported as a COW break; a written UNPOPULATED frame is reported
 * populated; every written frame is remembered for written(), which says
 * whether the frame was written recently: in the current window of harvests
 * or the one before (a window is at least WINDOW_SECONDS; the scanner's
 * harvest every sleep_millisecs starts a new one). A page written once and
 * quiet since is a candidate at its first visit: one pass, where KSM needs
 * two (its checksum must be the same at two visits).
 *
 * The window between the engine's byte compare and the new mapping is
 * closed by write-protecting the frame's host page first (mprotect): a vCPU
 * that writes it then gets EFAULT from KVM_RUN and waits in
 * dedup_ept__fault() for the share to finish (the backend lock), then runs
 * again and writes into the new mapping (a copy-on-write). Guest code KVM
 * emulates (CPL0 here, docs/machine-notes.md) does not fault: KVM's emulator
 * turns a write it cannot make into an MMIO exit at a RAM address, which
 * dedup_ept__ram_mmio() completes the same way, after the share, and counts
 * as a guest write; a locked read-modify-write it cannot make (xchg, cmpxchg)
 * ends in an emulation failure, which the vCPU retries once the share is
 * done (dedup_ept__fault, like an EFAULT); an interrupt or exception whose
 * frame KVM could not push onto a write-protected kernel stack page ends in
 * a shutdown (a "triple fault") with the vCPU still at the interrupted
 * instruction, which is re-run too when it comes right after a protection
 * (dedup_ept__protect_fault, bounded: a guest's own triple fault repeats and
 * still ends it). One case has no exit to wait in: KVM's emulated page walk
 * sets accessed/dirty bits in the guest's page tables through our mapping,
 * and when the table page is protected the write fails and KVM injects a
 * not-present #PF into the guest. The guest kernel and the boot tables
 * (cpu/hybrid/boot.c) therefore create every entry accessed and every leaf
 * dirty, so their walks never write; a guest that leaves those bits clear
 * can still see such a spurious fault (docs/machine-notes.md). Under the
 * protection, the frame's dirty bit is cleared, its bytes compared again, and
 * only then is it replaced. A write is therefore never lost, and a dirty bit
 * after the replacement always means a write to the new mapping.
 *
 * Host mappings: each replaced frame may split guest RAM's mapping; runs of
 * frames mapped onto consecutive memfd pages merge into one mapping. The
 * count (an estimate from the per-frame layout, kept exact for l1vmm's own
 * splits) is checked against vm.max_map_count before every share: past
 * max_map_count - EPT_MAP_RESERVE, shares are refused (-ENOSPC, counted as
 * backend errors) and one warning says which sysctl to raise.
 *
 * Locking: b->lock protects everything here; share() and zero() hold it from
 * the write protection to the new mapping. The engine calls in with its lock
 * held (engine lock, then b->lock); sync() calls the engine with b->lock
 * released.
 */
#include "l1vmm/dedup_host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "l1vmm/vm.h"
#include "mmu/array.h"

#define PAGE EPT_PAGE_SIZE
#define STORE_MAX_BYTES (64ull << 30)   /* virtual reservation for the store */
#define STORE_GROW_PAGES 512            /* the memfd grows 2 MiB at a time */
#define EPT_MAP_RESERVE 4096            /* mappings left for the rest of l1vmm */
#define WINDOW_SECONDS 0.010            /* written(): a write in this window or the last */
#define PROTECT_FAULT_SECONDS 0.5       /* a shutdown this soon after a protection may be ours */

struct ept_slot {
	unsigned slot;
	uint64_t first_gfn, nr_pages;
	uint8_t *hva;
	uint64_t *log;          /* scratch for KVM_GET_DIRTY_LOG */
};

struct ept_backend;

struct ept_vm {
	struct vm *vm;
	struct ept_backend *b;
	struct ept_slot slot[EPT_MAX_REGIONS];
	unsigned nr_slots;
	uint64_t nr_frames;
	uint64_t *written;      /* bit per gfn: written in the current window */
	uint64_t *written_prev; /* ... in the window before */
	double window_start;    /* monotonic seconds */
	uint64_t win_lo, win_hi; /* the watch window: gfns whose writes are tracked */
	bool stuck;             /* a frame could not be made writable again: the VM is ended */
	uint32_t *file_page;    /* gfn -> memfd page + 1 mapped there, 0: anonymous */
	uint64_t *host_written; /* bit per gfn: written by l1vmm for the guest (MMIO to RAM) */
	uint64_t *pinned;       /* bit per gfn: l1vmm's devices write it: never shared */
	uint64_t mappings;      /* estimated host mappings over this VM's RAM */
	struct ept_vm *next;
};

struct pending;
struct ept_backend;
static void apply_pending(struct ept_backend *b);

struct ept_backend {
	struct l1_lock lock;
	int memfd;
	uint8_t *store;         /* the memfd, MAP_SHARED, STORE_MAX_BYTES reserved */
	uint64_t file_pages;    /* the memfd's size in pages */
	uint64_t next_page;     /* never used yet: [next_page, file_pages) */
	uint32_t *free_pages;   /* a stack of freed memfd pages */
	uint64_t nr_free, free_cap;
	uint64_t max_map_count;
	uint64_t map_refusals;
	bool warned;
	struct pending *pending; /* frames queued by share()/zero() (apply_pending) */
	size_t nr_pending, pending_cap;
	uint64_t map_calls;     /* runs replaced: one mprotect + one mapping call each */
	uint64_t last_protect_us; /* monotonic µs of the last write protection (atomic) */
	uint64_t apply_errors;  /* runs a mapping call failed for: left private */
	struct ept_vm *vms;
};

#define BIT_TEST(map, i) (((map)[(i) / 64] >> ((i) % 64)) & 1)
#define BIT_SET(map, i) ((map)[(i) / 64] |= 1ull << ((i) % 64))
#define BIT_CLEAR(map, i) ((map)[(i) / 64] &= ~(1ull << ((i) % 64)))

static struct ept_vm *ev_of(void *vm)
{
	return ((struct vm *)vm)->dedup_priv;
}

static uint8_t *frame_hva(const struct ept_vm *ev, uint64_t gfn)
{
	for (unsigned i = 0; i < ev->nr_slots; i++) {
		const struct ept_slot *s = &ev->slot[i];
		if (gfn >= s->first_gfn && gfn - s->first_gfn < s->nr_pages)
			return s->hva + (gfn - s->first_gfn) * PAGE;
	}
	return NULL;
}

static const struct ept_slot *slot_of(const struct ept_vm *ev, uint64_t gfn)
{
	for (unsigned i = 0; i < ev->nr_slots; i++)
		if (gfn >= ev->slot[i].first_gfn && gfn - ev->slot[i].first_gfn < ev->slot[i].nr_pages)
			return &ev->slot[i];
	return NULL;
}

/* ---- host mappings ---- */

/* What a mapping boundary depends on: anonymous, or the memfd at an offset
 * that runs with the frame number. */
static int64_t map_key(const struct ept_vm *ev, uint64_t gfn)
{
	uint32_t fp = ev->file_page[gfn];
	return fp ? (int64_t)(fp - 1) - (int64_t)gfn : INT64_MIN;
}

/* Mapping boundaries around gfn inside its slot (0..2). */
static unsigned boundaries(const struct ept_vm *ev, const struct ept_slot *s, uint64_t gfn)
{
	unsigned n = 0;
	if (gfn > s->first_gfn && map_key(ev, gfn - 1) != map_key(ev, gfn))
		n++;
	if (gfn + 1 < s->first_gfn + s->nr_pages && map_key(ev, gfn + 1) != map_key(ev, gfn))
		n++;
	return n;
}

static uint64_t total_mappings(struct ept_backend *b)
{
	uint64_t n = 0;
	for (struct ept_vm *ev = b->vms; ev; ev = ev->next)
		n += ev->mappings;
	return n;
}

/* Set gfn's mapping to memfd page fp + 1 (0: anonymous) and keep the count. */
static void set_file_page(struct ept_vm *ev, uint64_t gfn, uint32_t fp)
{
	const struct ept_slot *s = slot_of(ev, gfn);
	unsigned before = boundaries(ev, s, gfn);
	ev->file_page[gfn] = fp;
	ev->mappings = ev->mappings + boundaries(ev, s, gfn) - before;
}

/* vm.max_map_count; L1VMM_MAX_MAP_COUNT (tests) stands in for it when set. */
static uint64_t read_max_map_count(void)
{
	const char *test = getenv("L1VMM_MAX_MAP_COUNT");
	if (test && *test)
		return strtoull(test, NULL, 10);
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");
	unsigned long long v = 65530;
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 65530;
		fclose(f);
	}
	return v;
}

/* Room for two more mappings beyond the queued frames'? Warn once when not. */
static bool room_for_mappings(struct ept_backend *b)
{
	uint64_t limit = b->max_map_count > EPT_MAP_RESERVE ? b->max_map_count - EPT_MAP_RESERVE : 0;
	if (total_mappings(b) + 2 * (b->nr_pending + 1) <= limit)
		return true;
	b->map_refusals++;
	if (!b->warned) {
		b->warned = true;
		fprintf(stderr, "l1vmm: dedup: ept backend at %llu host mappings, near "
			"vm.max_map_count (%llu): new shares refused; raise it, e.g. "
			"sysctl vm.max_map_count=1048576\n",
			(unsigned long long)total_mappings(b), (unsigned long long)b->max_map_count);
	}
	return false;
}

/* ---- the dirty log ---- */

/* Clear the dirty bits of frames [gfn, gfn + n) (one slot) in KVM's log
 * and in ours (l1vmm's own writes for the guest included). 0 or -errno: a
 * bit KVM did not clear may be a write from before. */
static int forget_writes(struct ept_vm *ev, uint64_t gfn, uint64_t n)
{
	for (uint64_t k = 0; k < n; k++) {
		BIT_CLEAR(ev->written, gfn + k);
		BIT_CLEAR(ev->written_prev, gfn + k);
		BIT_CLEAR(ev->host_written, gfn + k);
	}
	const struct ept_slot *s = slot_of(ev, gfn);
	if (!s)
		return -EINVAL;
	uint64_t rel = gfn - s->first_gfn, end = rel + n;
	for (uint64_t first = rel & ~63ull; first < end; first += 64) {
		uint64_t bits = 0;
		for (uint64_t r = first > rel ? first : rel; r < end && r < first + 64; r++)
			bits |= 1ull << (r - first);
		uint64_t num = s->nr_pages - first < 64 ? s->nr_pages - first : 64;
		struct kvm_clear_dirty_log c = { .slot = s->slot, .first_page = first,
						 .num_pages = (uint32_t)num, .dirty_bitmap = &bits };
		if (ioctl(ev->vm->fd, KVM_CLEAR_DIRTY_LOG, &c) < 0)
			return -errno;
	}
	return 0;
}

/* A list of frames to report to the engine once b->lock is released. */
struct report {
	uint64_t *gfn;
	uint8_t *what; /* 0 populate, 1 cow break */
	size_t n, cap;
};

static void report_add(struct report *r, uint64_t gfn, uint8_t what)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 1024;
		uint64_t *g = realloc(r->gfn, cap * sizeof(*g));
		uint8_t *w = g ? realloc(r->what, cap) : NULL;
		if (!g || !w) {
			/* out of memory: what does not fit is reported at a later
			 * harvest (KVM's bits of SHARED, ZERO and UNPOPULATED frames
			 * stay set until then), except l1vmm's own writes: say so */
			if (g)
				r->gfn = g;
			fprintf(stderr, "l1vmm: dedup: out of memory reporting guest writes\n");
			return;
		}
		r->gfn = g;
		r->what = w;
		r->cap = cap;
	}
	r->gfn[r->n] = gfn;
	r->what[r->n++] = what;
}

/*
 * Move ev's watch window to [lo, hi): the PRIVATE frames that enter it get
 * their dirty bits cleared (KVM write-protects them) without counting as
 * written, so the next harvests tell whether they are being written now.
 * The bits of other frames are left for the harvest: for an UNPOPULATED
 * frame a bit means it got content, for a SHARED or ZERO one a break.
 */
static void move_window(struct ept_vm *ev, uint64_t lo, uint64_t hi)
{
	const struct p2m *p2m = &ev->vm->ram->p2m;
	for (unsigned i = 0; i < ev->nr_slots; i++) {
		const struct ept_slot *s = &ev->slot[i];
		uint64_t a = lo > s->first_gfn ? lo : s->first_gfn;
		uint64_t z = hi < s->first_gfn + s->nr_pages ? hi : s->first_gfn + s->nr_pages;
		for (uint64_t chunk = (a - s->first_gfn) & ~63ull; s->first_gfn + chunk < z; chunk += 64) {
			uint64_t bits = 0;
			for (unsigned k = 0; k < 64 && chunk + k < s->nr_pages; k++) {
				uint64_t g = s->first_gfn + chunk + k;
				if (g < a || g >= z || (g >= ev->win_lo && g < ev->win_hi) ||
				    p2m__get(p2m, g) != P2M_PRIVATE)
					continue;
				bits |= 1ull << k;
				BIT_CLEAR(ev->written, g);
				BIT_CLEAR(ev->written_prev, g);
			}
			if (!bits)
				continue;
			uint64_t num = s->nr_pages - chunk < 64 ? s->nr_pages - chunk : 64;
			struct kvm_clear_dirty_log c = { .slot = s->slot, .first_page = chunk,
							 .num_pages = (uint32_t)num, .dirty_bitmap = &bits };
			ioctl(ev->vm->fd, KVM_CLEAR_DIRTY_LOG, &c);
		}
	}
	ev->win_lo = lo;
	ev->win_hi = hi;
}

/*
 * Harvest ev's dirty log. Which writes matter: to a SHARED or ZERO frame (a
 * copy-on-write break), to an UNPOPULATED one (it has content now), and to a
 * PRIVATE frame in the watch window just ahead of the scan cursor (it is
 * volatile). Only frames in the window have their dirty bits cleared (and
 * are write-protected again by KVM); a private frame the scanner is far
 * from stays writable at full speed however often the guest writes it:
 * write tracking costs a guest about one fault per frame per full scan.
 */
static void harvest_vm(struct ept_vm *ev, struct report *r)
{
	const struct p2m *p2m = &ev->vm->ram->p2m;
	for (unsigned i = 0; i < ev->nr_slots; i++) {
		struct ept_slot *s = &ev->slot[i];
		struct kvm_dirty_log d = { .slot = s->slot, .dirty_bitmap = s->log };
		if (ioctl(ev->vm->fd, KVM_GET_DIRTY_LOG, &d) < 0)
			continue;
		uint64_t words = (s->nr_pages + 63) / 64, base = s->first_gfn / 64;
		for (uint64_t w = 0; w < words; w++) {
			/* writes l1vmm made for the guest count as the guest's
			 * (slots start at multiples of 64 gfns) */
			uint64_t bits = s->log[w] | ev->host_written[base + w];
			ev->host_written[base + w] = 0;
			uint64_t clear = 0;
			for (; bits; bits &= bits - 1) {
				unsigned bit = (unsigned)__builtin_ctzll(bits);
				uint64_t gfn = s->first_gfn + w * 64 + bit;
				/* only the engine writes the p2m, under its lock; a frame
				 * it is sharing now is queued with us, and the queue was
				 * applied (its dirty bits cleared) before this harvest */
				switch (p2m__get(p2m, gfn)) {
				case P2M_UNPOPULATED:
					report_add(r, gfn, 0);
					break;
				case P2M_SHARED:
				case P2M_ZERO:
					report_add(r, gfn, 1);
					break;
				default:
					break;
				}
				/* a PRIVATE frame in the window is being written:
				 * volatile, and watched again */
				if (gfn >= ev->win_lo && gfn < ev->win_hi &&
				    p2m__get(p2m, gfn) == P2M_PRIVATE) {
					BIT_SET(ev->written, gfn);
					clear |= 1ull << bit;
				}
			}
			s->log[w] = clear;
		}
		for (uint64_t w = 0; w < words; ) {
			if (!s->log[w]) {
				w++;
				continue;
			}
			uint64_t end = w;
			while (end < words && s->log[end])
				end++;
			uint64_t first = w * 64, n = (end - w) * 64;
			if (first + n > s->nr_pages)
				n = s->nr_pages - first;
			struct kvm_clear_dirty_log c = { .slot = s->slot, .first_page = first,
							 .num_pages = (uint32_t)n, .dirty_bitmap = &s->log[w] };
			ioctl(ev->vm->fd, KVM_CLEAR_DIRTY_LOG, &c);
			w = end;
		}
	}
}

static void ept_sync(void *ctx, struct dedup *e)
{
	struct ept_backend *b = ctx;
	void *cursor_vm = NULL;
	uint64_t cursor_gfn = 0;
	dedup__cursor(e, &cursor_vm, &cursor_gfn);
	/* the gfns the next scans will visit first (a VM boundary aside) */
	uint64_t window = DEDUP_WATCH_AHEAD(dedup__knob_get(e, DEDUP_PAGES_TO_SCAN));
	l1_lock__acquire(&b->lock);
	apply_pending(b); /* the frames it leaves private are reported below */
	double now = vm__now();
	for (struct ept_vm *ev = b->vms; ev; ev = ev->next) {
		struct report r = { 0 };
		if (now - ev->window_start >= WINDOW_SECONDS) {
			uint64_t *t = ev->written_prev;
			ev->written_prev = ev->written;
			ev->written = t;
			memset(t, 0, (ev->nr_frames + 63) / 64 * sizeof(uint64_t));
			ev->window_start = now;
		}
		/* watch the frames the scanner examines next; in the other VMs
		 * their first frames, where it will start */
		uint64_t lo = ev->vm == cursor_vm ? cursor_gfn : 0;
		uint64_t hi = lo + window < ev->nr_frames ? lo + window : ev->nr_frames;
		move_window(ev, lo, hi);
		harvest_vm(ev, &r);
		if (r.n) {
			l1_lock__release(&b->lock);
			for (size_t k = 0; k < r.n; k++) {
				if (r.what[k])
					dedup__cow_break(e, ev->vm, r.gfn[k]);
				else
					dedup__populate(e, ev->vm, r.gfn[k]);
			}
			l1_lock__acquire(&b->lock);
		}
		free(r.gfn);
		free(r.what);
	}
	l1_lock__release(&b->lock);
}

/* ---- the engine's callbacks ---- */

static const void *page(void *vm, uint64_t gfn)
{
	struct ept_vm *ev = ev_of(vm);
	if (gfn < ev->nr_frames && __atomic_load_n(&ev->pinned[gfn / 64], __ATOMIC_RELAXED) >>
	    (gfn % 64) & 1)
		return NULL; /* queue() checks again, under the lock */
	return frame_hva(ev, gfn);
}

static bool written(void *vm, uint64_t gfn)
{
	struct ept_vm *ev = ev_of(vm);
	if (gfn >= ev->nr_frames)
		return false;
	l1_lock__acquire(&ev->b->lock);
	bool w = BIT_TEST(ev->written, gfn) || BIT_TEST(ev->written_prev, gfn);
	l1_lock__release(&ev->b->lock);
	return w;
}

static void *copy_new(void *ctx, const void *content)
{
	struct ept_backend *b = ctx;
	l1_lock__acquire(&b->lock);
	uint64_t p;
	if (b->nr_free) {
		p = b->free_pages[--b->nr_free];
	} else {
		if (b->next_page == b->file_pages) {
			uint64_t grow = b->file_pages + STORE_GROW_PAGES;
			if (grow * PAGE > STORE_MAX_BYTES || ftruncate(b->memfd, (off_t)(grow * PAGE)) < 0) {
				l1_lock__release(&b->lock);
				return NULL;
			}
			b->file_pages = grow;
		}
		p = b->next_page++;
	}
	memcpy(b->store + p * PAGE, content, PAGE);
	l1_lock__release(&b->lock);
	return (void *)(uintptr_t)(p + 1);
}

static void copy_free(void *ctx, void *copy)
{
	struct ept_backend *b = ctx;
	uint64_t p = (uint64_t)(uintptr_t)copy - 1;
	l1_lock__acquire(&b->lock);
	apply_pending(b); /* no queued frame may name a freed copy */
	/* give the memory back now; the page reads as zeros until reused */
	fallocate(b->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(p * PAGE),
		  (off_t)PAGE);
	if (ARRAY_ROOM(b->free_pages, b->free_cap, b->nr_free, 1024) < 0) {
		/* the page is leaked in the memfd (its memory is already freed) */
		l1_lock__release(&b->lock);
		return;
	}
	b->free_pages[b->nr_free++] = (uint32_t)p;
	l1_lock__release(&b->lock);
}

static const void *copy_data(void *ctx, const void *copy)
{
	struct ept_backend *b = ctx;
	return b->store + ((uint64_t)(uintptr_t)copy - 1) * PAGE;
}

static bool all_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;
	for (size_t i = 0; i < PAGE / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* ---- replacing frames, in runs ---- */

/*
 * share() and zero() only queue the frame (the engine has just compared its
 * bytes); apply_pending() replaces the queued frames in runs: consecutive
 * gfns of one slot onto consecutive copies (or all to zero) take one
 * mprotect, one dirty-log clear per 64 frames, and one mmap (or madvise).
 * A frame whose bytes changed since the engine compared them is left as it
 * is and reported as written, so the next sync() makes it PRIVATE again: the
 * same outcome as a write just after sharing. The queue is applied before
 * anything can look behind it: at the end of every scan batch, at the start
 * of every sync(), and before a copy is freed.
 */
struct pending {
	struct ept_vm *ev;
	uint64_t gfn;
	uint64_t copy; /* memfd page + 1; 0: zero */
};

static int pending_cmp(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;
	if (x->ev != y->ev)
		return (uintptr_t)x->ev < (uintptr_t)y->ev ? -1 : 1;
	return x->gfn < y->gfn ? -1 : x->gfn > y->gfn;
}

/* Frames [gfn, gfn + n) stay as they are; their writes are the guest's. */
static void keep_private(struct ept_vm *ev, uint64_t gfn, uint64_t n)
{
	if (mprotect(frame_hva(ev, gfn), n * PAGE, PROT_READ | PROT_WRITE) < 0 && !ev->stuck) {
		/* the frames stay read-only: the guest cannot go on safely (its
		 * writes there could only be dropped); end this VM with the reason */
		int err = errno;
		ev->stuck = true;
		char *why = NULL;
		if (asprintf(&why, "page sharing could not make guest frames %#llx..%#llx writable "
			     "again: %s\n", (unsigned long long)gfn, (unsigned long long)(gfn + n - 1),
			     strerror(err)) < 0)
			why = NULL;
		fprintf(stderr, "l1vmm: %s: %s", ev->vm->name, why ? why : "page sharing failed\n");
		vm__stop(ev->vm, VM_END_CRASH, 0, why);
	}
	for (uint64_t k = 0; k < n; k++) {
		BIT_SET(ev->host_written, gfn + k);
		BIT_SET(ev->written, gfn + k);
	}
}

/* Replace frames [gfn, gfn + n) whose bytes equal copy + k (or zeros). */
static void replace_same(struct ept_backend *b, struct ept_vm *ev, uint64_t gfn, uint64_t n,
			 uint64_t copy)
{
	uint8_t *hva = frame_hva(ev, gfn);
	void *p;
	bool any_file = false;
	for (uint64_t k = 0; k < n && !copy; k++)
		any_file |= ev->file_page[gfn + k] != 0;
	if (copy)
		p = mmap(hva, n * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE,
			 b->memfd, (off_t)((copy - 1) * PAGE));
	else if (any_file) /* a memfd page would read back as the copy: map fresh zeros */
		p = mmap(hva, n * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	else
		p = madvise(hva, n * PAGE, MADV_DONTNEED) == 0 &&
		    mprotect(hva, n * PAGE, PROT_READ | PROT_WRITE) == 0 ? hva : MAP_FAILED;
	if (p == MAP_FAILED) {
		/* nothing was replaced (mmap fails before it unmaps on every error it
		 * can return here): the frames keep their bytes */
		b->apply_errors++;
		keep_private(ev, gfn, n);
		return;
	}
	for (uint64_t k = 0; k < n; k++)
		set_file_page(ev, gfn + k, copy ? (uint32_t)(copy + k) : 0);
}

/* One run: consecutive gfns of one slot, onto consecutive copies (or zero). */
static void apply_run(struct ept_backend *b, struct ept_vm *ev, uint64_t gfn, uint64_t n,
		      uint64_t copy)
{
	uint8_t *hva = frame_hva(ev, gfn);
	b->map_calls++;
	__atomic_store_n(&b->last_protect_us, (uint64_t)(vm__now() * 1e6), __ATOMIC_RELAXED);
	if (mprotect(hva, n * PAGE, PROT_READ) < 0) {
		b->apply_errors++;
		keep_private(ev, gfn, n);
		return;
	}
	/* from here no vCPU can write the run: forget what was written before,
	 * compare, replace what is still equal */
	if (forget_writes(ev, gfn, n) < 0) {
		b->apply_errors++;
		keep_private(ev, gfn, n);
		return;
	}
	uint64_t k = 0;
	while (k < n) {
		uint64_t c = copy ? copy + k : 0;
		bool same = c ? memcmp(hva + k * PAGE, b->store + (c - 1) * PAGE, PAGE) == 0
			      : all_zero(hva + k * PAGE);
		uint64_t end = k + 1;
		while (end < n) {
			uint64_t ce = copy ? copy + end : 0;
			bool s2 = ce ? memcmp(hva + end * PAGE, b->store + (ce - 1) * PAGE, PAGE) == 0
				     : all_zero(hva + end * PAGE);
			if (s2 != same)
				break;
			end++;
		}
		if (same)
			replace_same(b, ev, gfn + k, end - k, c);
		else
			keep_private(ev, gfn + k, end - k);
		k = end;
	}
}

static void apply_pending(struct ept_backend *b)
{
	if (!b->nr_pending)
		return;
	qsort(b->pending, b->nr_pending, sizeof(*b->pending), pending_cmp);
	for (size_t i = 0; i < b->nr_pending; ) {
		const struct pending *p = &b->pending[i];
		const struct ept_slot *s = slot_of(p->ev, p->gfn);
		size_t j = i + 1;
		while (j < b->nr_pending && b->pending[j].ev == p->ev &&
		       b->pending[j].gfn == p->gfn + (j - i) &&
		       b->pending[j].gfn < s->first_gfn + s->nr_pages &&
		       (p->copy ? b->pending[j].copy == p->copy + (j - i) : !b->pending[j].copy))
			j++;
		apply_run(b, p->ev, p->gfn, j - i, p->copy);
		i = j;
	}
	b->nr_pending = 0;
}

/* Queue (vm, gfn) for copy (0: zero). 0 or -errno (nothing queued). */
static int queue(void *vm, uint64_t gfn, uint64_t copy)
{
	struct ept_vm *ev = ev_of(vm);
	struct ept_backend *b = ev->b;
	int rc = 0;
	l1_lock__acquire(&b->lock);
	if (!frame_hva(ev, gfn)) {
		rc = -EINVAL;
	} else if (BIT_TEST(ev->pinned, gfn)) {
		rc = -EBUSY; /* l1vmm's devices write it */
	} else if (!room_for_mappings(b)) {
		rc = -ENOSPC;
	} else {
		rc = ARRAY_ROOM(b->pending, b->pending_cap, b->nr_pending, 1024);
		if (rc < 0)
			goto out;
		b->pending[b->nr_pending++] = (struct pending){ ev, gfn, copy };
	}
out:
	l1_lock__release(&b->lock);
	return rc;
}

static int share(void *vm, uint64_t gfn, void *copy)
{
	return queue(vm, gfn, (uint64_t)(uintptr_t)copy);
}

static int zero(void *vm, uint64_t gfn)
{
	return queue(vm, gfn, 0);
}

/*
 * The balloon discards [gfn, gfn + n) next: frames mapped onto a copy get
 * anonymous memory again (their bytes are not kept), in runs. Zero frames
 * are anonymous already. Queued shares are applied first, so none maps a
 * frame of the range afterwards.
 */
static int ept_unshare(void *vm, uint64_t gfn, uint64_t n, uint64_t *done)
{
	struct ept_vm *ev = ev_of(vm);
	struct ept_backend *b = ev->b;
	int rc = 0;
	l1_lock__acquire(&b->lock);
	apply_pending(b);
	uint64_t k = 0;
	while (k < n && rc == 0) {
		uint64_t g = gfn + k, run = 1;
		const struct ept_slot *s = slot_of(ev, g);
		if (!s) {
			rc = -EINVAL; /* not RAM: the balloon checks first */
			break;
		}
		if (!ev->file_page[g]) {
			k++;
			continue;
		}
		while (k + run < n && g + run < s->first_gfn + s->nr_pages && ev->file_page[g + run])
			run++;
		b->map_calls++;
		if (mmap(frame_hva(ev, g), run * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED) {
			rc = -errno; /* nothing unmapped: these frames still map their copies */
			b->apply_errors++;
			break;
		}
		for (uint64_t i = 0; i < run; i++)
			set_file_page(ev, g + i, 0);
		k += run;
	}
	*done = k;
	l1_lock__release(&b->lock);
	return rc;
}

static void scan_end(void *ctx)
{
	struct ept_backend *b = ctx;
	l1_lock__acquire(&b->lock);
	apply_pending(b);
	l1_lock__release(&b->lock);
}

/* ---- VMs ---- */

/*
 * A VM handed over while it runs (dedup/run set to 1 later) has written
 * frames the dirty log never saw: every resident page of the slot becomes
 * PRIVATE (the engine is not looking at this VM yet, and nothing else
 * writes its p2m). Before the VM starts only the loader's frames are
 * resident, and those are PRIVATE already.
 */
static int mark_resident(struct vm *vm, const struct ept_slot *s)
{
	unsigned char *vec = malloc(s->nr_pages);
	if (!vec)
		return -ENOMEM;
	int rc = mincore(s->hva, s->nr_pages * PAGE, vec) < 0 ? -errno : 0;
	for (uint64_t i = 0; rc == 0 && i < s->nr_pages; i++)
		if ((vec[i] & 1) && p2m__get(&vm->mem.p2m, s->first_gfn + i) == P2M_UNPOPULATED)
			p2m__move(&vm->mem.p2m, s->first_gfn + i, 1, P2M_BIT(P2M_UNPOPULATED),
				  P2M_PRIVATE, NULL, NULL);
	free(vec);
	return rc;
}

static void ept_vm_free(struct ept_vm *ev)
{
	for (unsigned i = 0; i < ev->nr_slots; i++)
		free(ev->slot[i].log);
	free(ev->written);
	free(ev->written_prev);
	free(ev->file_page);
	free(ev->host_written);
	free(ev->pinned);
	free(ev);
}

/*
 * Keep [gfn, gfn + n) out of sharing (b->lock held): a frame mapped onto a
 * copy gets anonymous memory with the same bytes, write-protected while it
 * moves (a vCPU that writes meanwhile waits in dedup_ept__fault), and every
 * frame is reported written, so the engine takes shared and zero ones back
 * to PRIVATE at the next sync.
 */
static void pin(struct ept_vm *ev, uint64_t gfn, uint64_t n)
{
	struct ept_backend *b = ev->b;
	apply_pending(b); /* nothing queued lands on them afterwards */
	for (uint64_t g = gfn; g < gfn + n && g < ev->nr_frames; g++) {
		uint8_t *hva = frame_hva(ev, g);
		if (!hva)
			continue;
		__atomic_fetch_or(&ev->pinned[g / 64], 1ull << (g % 64), __ATOMIC_RELAXED);
		BIT_SET(ev->host_written, g);
		if (!ev->file_page[g])
			continue;
		uint8_t bytes[PAGE];
		__atomic_store_n(&b->last_protect_us, (uint64_t)(vm__now() * 1e6), __ATOMIC_RELAXED);
		if (mprotect(hva, PAGE, PROT_READ) < 0) {
			keep_private(ev, g, 1);
			continue;
		}
		memcpy(bytes, hva, PAGE);
		if (mmap(hva, PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0) == MAP_FAILED) {
			/* still the copy, copied on write by the host kernel: correct,
			 * only not private yet; writable again */
			b->apply_errors++;
			keep_private(ev, g, 1);
			continue;
		}
		memcpy(hva, bytes, PAGE);
		b->map_calls++;
		set_file_page(ev, g, 0);
	}
}

int dedup_ept__host_writes(struct vm *vm, uint64_t gpa, uint64_t len)
{
	if (!len || gpa + len < gpa)
		return 0;
	uint64_t gfn = gpa / PAGE, n = (gpa + len - 1) / PAGE - gfn + 1;
	pthread_mutex_lock(&vm->lock);
	bool known = false;
	for (unsigned i = 0; i < vm->nr_host_writes; i++)
		known |= vm->host_writes[i].gfn == gfn && vm->host_writes[i].n == n;
	int rc = 0;
	if (!known && vm->nr_host_writes == VM_HOST_WRITES_MAX)
		rc = -ENOSPC;
	else if (!known)
		vm->host_writes[vm->nr_host_writes].gfn = gfn, vm->host_writes[vm->nr_host_writes++].n = n;
	pthread_mutex_unlock(&vm->lock);
	/* attach() reads the ranges after it publishes dedup_priv: one of us pins */
	struct ept_vm *ev = vm->mode == CPU_MODE_EPT ?
		__atomic_load_n(&vm->dedup_priv, __ATOMIC_ACQUIRE) : NULL;
	if (rc == 0 && ev) {
		l1_lock__acquire(&ev->b->lock);
		pin(ev, gfn, n);
		l1_lock__release(&ev->b->lock);
	}
	return rc;
}

static int attach(void *ctx, struct vm *vm)
{
	struct ept_backend *b = ctx;
	struct ept_vm *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	ev->vm = vm;
	ev->b = b;
	ev->nr_frames = vm->mem.p2m.nr_frames;
	ev->written = calloc((ev->nr_frames + 63) / 64, sizeof(uint64_t));
	ev->written_prev = calloc((ev->nr_frames + 63) / 64, sizeof(uint64_t));
	ev->file_page = calloc(ev->nr_frames, sizeof(uint32_t));
	ev->host_written = calloc((ev->nr_frames + 63) / 64, sizeof(uint64_t));
	ev->pinned = calloc((ev->nr_frames + 63) / 64, sizeof(uint64_t));
	int rc = ev->written && ev->written_prev && ev->file_page && ev->host_written &&
		 ev->pinned ? 0 : -ENOMEM;
	for (unsigned i = 0; rc == 0 && i < vm->mem.nr_regions; i++) {
		const struct ept_region *r = &vm->mem.region[i];
		struct ept_slot *s = &ev->slot[ev->nr_slots++];
		*s = (struct ept_slot){ .slot = i, .first_gfn = r->gpa / PAGE,
					.nr_pages = r->size / PAGE, .hva = r->hva };
		s->log = calloc((s->nr_pages + 63) / 64, sizeof(uint64_t));
		if (!s->log) {
			rc = -ENOMEM;
			break;
		}
		/* the same slot again, now with dirty logging (before any vCPU runs) */
		struct kvm_userspace_memory_region slot = {
			.slot = i, .flags = KVM_MEM_LOG_DIRTY_PAGES, .guest_phys_addr = r->gpa,
			.memory_size = r->size, .userspace_addr = (uint64_t)(uintptr_t)r->hva };
		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			rc = -errno;
		ev->mappings++;
		if (rc == 0)
			rc = mark_resident(vm, s);
	}
	if (rc == 0) {
		/* manual protection: a harvest clears only what it read (all VMs alike) */
		struct kvm_enable_cap cap = { .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
					      .args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE } };
		/* required: without it a harvest cannot leave alone the bits of
		 * frames being replaced, and a write from before a share would be
		 * taken for a break of it */
		if (ioctl(vm->fd, KVM_ENABLE_CAP, &cap) < 0)
			rc = -EOPNOTSUPP;
		l1_lock__acquire(&b->lock);
		if (rc == 0) {
			ev->next = b->vms;
			b->vms = ev;
			/* a vCPU may read it now (dedup_ept__fault) */
			__atomic_store_n(&vm->dedup_priv, ev, __ATOMIC_RELEASE);
			/* ranges l1vmm's devices write, asked for before (host_writes) */
			__typeof__(vm->host_writes) ranges;
			pthread_mutex_lock(&vm->lock);
			unsigned nr = vm->nr_host_writes;
			memcpy(ranges, vm->host_writes, sizeof(ranges));
			pthread_mutex_unlock(&vm->lock);
			for (unsigned i = 0; i < nr; i++)
				pin(ev, ranges[i].gfn, ranges[i].n);
		}
		l1_lock__release(&b->lock);
	}
	if (rc < 0)
		ept_vm_free(ev);
	return rc;
}

static void detach(void *ctx, struct vm *vm)
{
	struct ept_backend *b = ctx;
	struct ept_vm *ev = vm->dedup_priv;
	if (!ev)
		return;
	l1_lock__acquire(&b->lock);
	for (struct ept_vm **pp = &b->vms; *pp; pp = &(*pp)->next)
		if (*pp == ev) {
			*pp = ev->next;
			break;
		}
	l1_lock__release(&b->lock);
	vm->dedup_priv = NULL;
	ept_vm_free(ev);
}

static uint64_t host_mappings(void *ctx)
{
	struct ept_backend *b = ctx;
	l1_lock__acquire(&b->lock);
	uint64_t n = total_mappings(b);
	l1_lock__release(&b->lock);
	return n;
}

static uint64_t map_calls(void *ctx)
{
	struct ept_backend *b = ctx;
	l1_lock__acquire(&b->lock);
	uint64_t n = b->map_calls;
	l1_lock__release(&b->lock);
	return n;
}

static void destroy(void *ctx)
{
	struct ept_backend *b = ctx;
	munmap(b->store, STORE_MAX_BYTES);
	close(b->memfd);
	free(b->free_pages);
	free(b->pending);
	l1_lock__destroy(&b->lock);
	free(b);
}

int dedup_ept__create(struct dedup_host_backend *out, char *err, size_t errlen)
{
	struct ept_backend *b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "out of memory for the dedup ept backend");
		return -1;
	}
	l1_lock__init(&b->lock, L1_RANK_BACKEND, "ept sharing backend");
	b->max_map_count = read_max_map_count();
	b->memfd = memfd_create("l1vmm-dedup-copies", MFD_CLOEXEC);
	if (b->memfd < 0) {
		snprintf(err, errlen, "dedup: memfd_create failed: %s", strerror(errno));
		free(b);
		return -1;
	}
	b->store = mmap(NULL, STORE_MAX_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			b->memfd, 0);
	if (b->store == MAP_FAILED) {
		snprintf(err, errlen, "dedup: cannot reserve the copy store: %s", strerror(errno));
		close(b->memfd);
		free(b);
		return -1;
	}
	*out = (struct dedup_host_backend){
		.name = "ept",
		.ops = { .page = page, .written = written, .copy_new = copy_new,
			 .copy_free = copy_free, .copy_data = copy_data, .share = share,
			 .zero = zero, .unshare = ept_unshare, .ctx = b },
		.ctx = b,
		.sync = ept_sync,
		.scan_end = scan_end,
		.host_mappings = host_mappings,
		.map_calls = map_calls,
		.attach = attach,
		.detach = detach,
		.destroy = destroy,
	};
	return 0;
}

bool dedup_ept__fault(struct vm *vm, unsigned *retries, unsigned max_retries)
{
	if (vm->mode != CPU_MODE_EPT) /* dedup_priv is another backend's */
		return false;
	struct ept_vm *ev = __atomic_load_n(&vm->dedup_priv, __ATOMIC_ACQUIRE);
	/* a fault that outlives max_retries waits was not ours */
	if (!ev || ++*retries > max_retries)
		return false;
	/* a share or zero of one of this VM's frames holds the lock from the write
	 * protection to the new mapping: once we have it, the frame is writable
	 * (unless it is stuck, and the VM is being ended) */
	l1_lock__acquire(&ev->b->lock);
	bool stuck = ev->stuck;
	l1_lock__release(&ev->b->lock);
	return !stuck;
}

bool dedup_ept__ram_mmio(struct vm *vm, const struct vm_exit *e)
{
	if (vm->mode != CPU_MODE_EPT) /* dedup_priv is another backend's */
		return false;
	struct ept_vm *ev = __atomic_load_n(&vm->dedup_priv, __ATOMIC_ACQUIRE);
	if (!ev || e->count != 1)
		return false;
	uint8_t *hva = ept__gpa_ptr(&vm->mem, e->addr, e->size);
	if (!hva)
		return false; /* not RAM: a device's */
	/* once we hold the lock no frame is write-protected: the access is
	 * plain memory (a write to a shared frame copies it on write) */
	l1_lock__acquire(&ev->b->lock);
	if (ev->stuck) {
		/* the VM is being ended (keep_private): touch nothing */
	} else if (e->is_write) {
		memcpy(hva, e->data, e->size);
		for (uint64_t gfn = e->addr / PAGE; gfn <= (e->addr + e->size - 1) / PAGE; gfn++)
			BIT_SET(ev->host_written, gfn);
	} else {
		memcpy(e->data, hva, e->size);
	}
	l1_lock__release(&ev->b->lock);
	return true;
}

bool dedup_ept__protect_fault(struct vm *vm, unsigned *retries)
{
	if (vm->mode != CPU_MODE_EPT)
		return false;
	struct ept_vm *ev = __atomic_load_n(&vm->dedup_priv, __ATOMIC_ACQUIRE);
	if (!ev)
		return false;
	/* only right after a write protection: a guest's own triple fault (it
	 * has no handler left) comes back at once, and ends it after the bound */
	double since = vm__now() - (double)__atomic_load_n(&ev->b->last_protect_us, __ATOMIC_RELAXED) / 1e6;
	if (since > PROTECT_FAULT_SECONDS)
		return false;
	return dedup_ept__fault(vm, retries, DEDUP_SHUTDOWN_RETRIES);
}
