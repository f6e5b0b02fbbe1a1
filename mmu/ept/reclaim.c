/* SPDX-License-Identifier: MIT */
/* ept mode's host side of host reclaim: userfaultfd and the fetch pool
 * (mmu/ept/reclaim.h has the protocol and its races). */
#include "mmu/ept/reclaim.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "mmu/clock.h"
#include "mmu/ept/share.h"

#define PAGE EPT_PAGE_SIZE
#define MSG_BATCH 16
#define BACKOFF_MIN_NS 1000000ull
#define BACKOFF_MAX_NS 100000000ull

struct ept_reclaim {
	struct ept_mem *mem;     /* fixed */
	int vm_fd;               /* fixed; -1: no KVM */
	int uffd;                /* fixed */
	int stop_fd;             /* eventfd: the pool stops (destroy) */
	int maps_fd;             /* /proc/self/maps, opened before any sandbox */
	ept_reclaim_fetch_fn fetch;
	void *fctx;
	pthread_t thread[EPT_RECLAIM_MAX_THREADS];
	unsigned nr_threads;
	atomic_bool stopping;
	pthread_mutex_t lock;    /* leaf: registered, foreign */
	atomic_bool registered;  /* written under lock */
	uint64_t *foreign;       /* bit per gfn: not in a registered mapping (lock) */
	/* harvest (reclaim thread only) */
	struct ept_guest *share; /* page sharing's view of the same guest, or NULL */
	bool logging;            /* dirty logging is on (ours or sharing's) */
	uint64_t *log[EPT_MAX_REGIONS]; /* scratch for KVM_GET_DIRTY_LOG, per slot */
	uint8_t *hold;           /* gfn -> harvests left reporting it touched unwatched */
	struct ept_reclaim_stats c; /* atomics */
};

#define BIT_TEST(map, i) (((map)[(i) / 64] >> ((i) % 64)) & 1)
#define STAT_ADD(er, field, v) atomic_fetch_add_explicit((_Atomic uint64_t *)&(er)->c.field, \
							 (v), memory_order_relaxed)

static uint8_t *frame_hva(const struct ept_reclaim *er, uint64_t gfn)
{
	if (gfn > UINT64_MAX / PAGE)
		return NULL;
	return ept__gpa_ptr(er->mem, gfn * PAGE, PAGE);
}

/* The run's host range, or NULL when it is not RAM within one region. */
static uint8_t *run_hva(const struct ept_reclaim *er, uint64_t gfn, uint64_t n)
{
	if (n == 0 || n > UINT64_MAX / PAGE || gfn > UINT64_MAX / PAGE - n)
		return NULL;
	return ept__gpa_ptr(er->mem, gfn * PAGE, n * PAGE);
}

static bool gfn_of(const struct ept_reclaim *er, uint64_t addr, uint64_t *gfn)
{
	for (unsigned i = 0; i < er->mem->nr_regions; i++) {
		const struct ept_region *r = &er->mem->region[i];
		uint64_t start = (uint64_t)(uintptr_t)r->hva;
		if (addr >= start && addr - start < r->size) {
			*gfn = (r->gpa + (addr - start)) / PAGE;
			return true;
		}
	}
	return false;
}

static int uffd_range(int uffd, unsigned long req, void *arg)
{
	return ioctl(uffd, req, arg) < 0 ? -errno : 0;
}

static int wake(const struct ept_reclaim *er, uint64_t start, uint64_t len)
{
	struct uffdio_range r = { .start = start, .len = len };
	return uffd_range(er->uffd, UFFDIO_WAKE, &r);
}

/* ---- registration (first fence) ---- */

/* Register an anonymous mapping [start, end) of guest RAM. */
static int register_range(struct ept_reclaim *er, uint64_t start, uint64_t end)
{
	struct uffdio_register reg = {
		.range = { .start = start, .len = end - start },
		.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP };
	int rc = uffd_range(er->uffd, UFFDIO_REGISTER, &reg);
	if (rc == 0)
		STAT_ADD(er, registrations, 1);
	return rc;
}

/*
 * Register every anonymous mapping inside guest RAM (page sharing's memfd
 * mappings stay out). /proc/self/maps was opened at create: the sandbox may
 * not allow opening it now. er->lock held.
 */
static int register_guest_ram(struct ept_reclaim *er)
{
	uint64_t lo = (uint64_t)(uintptr_t)er->mem->base, hi = lo + er->mem->mem_bytes;
	if (er->maps_fd < 0) /* no maps file: the one mapping ept__mem_init made */
		return register_range(er, lo, hi);
	size_t cap = 1 << 16, len = 0;
	char *text = malloc(cap + 1);
	if (!text)
		return -ENOMEM;
	ssize_t got;
	if (lseek(er->maps_fd, 0, SEEK_SET) < 0) {
		free(text);
		return -errno;
	}
	while ((got = read(er->maps_fd, text + len, cap - len)) > 0) {
		len += (size_t)got;
		if (len == cap) {
			char *bigger = realloc(text, cap * 2 + 1);
			if (!bigger) {
				free(text);
				return -ENOMEM;
			}
			text = bigger;
			cap *= 2;
		}
	}
	if (got < 0) {
		free(text);
		return -errno;
	}
	text[len] = '\0';
	int rc = 0;
	for (char *line = text; line && *line && rc == 0;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		unsigned long long start, end, off, inode;
		char perms[8], dev[16];
		int path_at = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %15s %llu %n", &start, &end, perms, &off, dev,
			   &inode, &path_at) >= 6 && inode == 0 && line[path_at] == '\0' &&
		    end > lo && start < hi)
			rc = register_range(er, start > lo ? start : lo, end < hi ? end : hi);
		line = next;
	}
	free(text);
	return rc;
}

static int ensure_registered(struct ept_reclaim *er)
{
	if (atomic_load_explicit(&er->registered, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&er->lock);
	int rc = 0;
	if (!atomic_load_explicit(&er->registered, memory_order_relaxed)) {
		rc = register_guest_ram(er);
		if (rc == 0)
			atomic_store_explicit(&er->registered, true, memory_order_release);
		else
			fprintf(stderr, "l1vmm: reclaim: userfaultfd registration of guest RAM failed: "
				"%s\n", strerror(-rc));
	}
	pthread_mutex_unlock(&er->lock);
	return rc;
}

/* ---- the backend's operations ---- */

static int write_protect(struct ept_reclaim *er, uint8_t *hva, uint64_t n, bool on)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uint64_t)(uintptr_t)hva, .len = n * PAGE },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0 };
	int rc;
	do
		rc = uffd_range(er->uffd, UFFDIO_WRITEPROTECT, &wp);
	while (rc == -EAGAIN);
	return rc;
}

/* Frames of a run the kernel would not protect: find which, frame by frame,
 * and remember them. er->lock held. */
static void mark_foreign(struct ept_reclaim *er, uint64_t gfn, uint64_t n)
{
	for (uint64_t k = 0; k < n; k++) {
		uint8_t *hva = frame_hva(er, gfn + k);
		if (write_protect(er, hva, 1, true) == 0) {
			write_protect(er, hva, 1, false);
			continue;
		}
		if (!BIT_TEST(er->foreign, gfn + k)) {
			er->foreign[(gfn + k) / 64] |= 1ull << ((gfn + k) % 64);
			STAT_ADD(er, foreign_frames, 1);
		}
	}
}

static bool op_evictable(void *ctx, uint64_t gfn)
{
	struct ept_reclaim *er = ctx;
	if (!frame_hva(er, gfn))
		return false;
	pthread_mutex_lock(&er->lock);
	bool ours = !BIT_TEST(er->foreign, gfn);
	pthread_mutex_unlock(&er->lock);
	return ours;
}

static int op_fence(void *ctx, uint64_t gfn, uint64_t n)
{
	struct ept_reclaim *er = ctx;
	uint8_t *hva = run_hva(er, gfn, n);
	if (!hva)
		return -EINVAL;
	int rc = ensure_registered(er);
	if (rc)
		return -EBUSY;
	uint64_t t0 = clock__mono_ns();
	rc = write_protect(er, hva, n, true);
	if (rc == -ENOENT || rc == -EINVAL) {
		/* a frame outside the registered mappings (page sharing remapped
		 * it): undo what was protected before it, and never again */
		write_protect(er, hva, n, false);
		pthread_mutex_lock(&er->lock);
		mark_foreign(er, gfn, n);
		pthread_mutex_unlock(&er->lock);
		return -EBUSY;
	}
	if (rc)
		return rc;
	STAT_ADD(er, fences, 1);
	STAT_ADD(er, fence_ns, clock__mono_ns() - t0);
	return 0;
}

static void op_unfence(void *ctx, uint64_t gfn, uint64_t n)
{
	struct ept_reclaim *er = ctx;
	uint8_t *hva = run_hva(er, gfn, n);
	if (!hva)
		return;
	int rc = write_protect(er, hva, n, false); /* wakes the writers */
	if (rc)
		fprintf(stderr, "l1vmm: reclaim: clearing write protection of frames %#" PRIx64
			"..%#" PRIx64 " failed: %s\n", gfn, gfn + n - 1, strerror(-rc));
}

static int op_discard(void *ctx, uint64_t gfn, uint64_t n)
{
	struct ept_reclaim *er = ctx;
	uint8_t *hva = run_hva(er, gfn, n);
	if (!hva)
		return -EINVAL;
	if (madvise(hva, n * PAGE, MADV_DONTNEED) < 0)
		return -errno;
	/* writers asleep on the protection retry and fault MISSING (the pool
	 * wakes any whose message comes later: WP messages, below) */
	wake(er, (uint64_t)(uintptr_t)hva, n * PAGE);
	return 0;
}

static const void *op_page(void *ctx, uint64_t gfn)
{
	return frame_hva(ctx, gfn);
}

/* ---- harvest ---- */

/* Dirty logging with manual protection on every slot (no page sharing). */
static int start_logging(struct ept_reclaim *er)
{
	for (unsigned i = 0; i < er->mem->nr_regions; i++) {
		const struct ept_region *r = &er->mem->region[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i, .flags = KVM_MEM_LOG_DIRTY_PAGES, .guest_phys_addr = r->gpa,
			.memory_size = r->size, .userspace_addr = (uint64_t)(uintptr_t)r->hva };
		if (ioctl(er->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return -errno;
	}
	struct kvm_enable_cap cap = { .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
				      .args = { KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE } };
	return ioctl(er->vm_fd, KVM_ENABLE_CAP, &cap) < 0 ? -EOPNOTSUPP : 0;
}

/* Watch again the frames of bits (64 from region-relative frame rel of slot i). */
static int rearm(struct ept_reclaim *er, unsigned i, uint64_t rel, uint64_t bits)
{
	const struct ept_region *r = &er->mem->region[i];
	uint64_t gfn = r->gpa / PAGE + rel;
	if (er->share)
		return ept_share__rearm(er->share, gfn, bits);
	uint64_t pages = r->size / PAGE - rel;
	struct kvm_clear_dirty_log c = { .slot = i, .first_page = rel,
					 .num_pages = (uint32_t)(pages < 64 ? pages : 64),
					 .dirty_bitmap = &bits };
	return ioctl(er->vm_fd, KVM_CLEAR_DIRTY_LOG, &c) < 0 ? -errno : 0;
}

/* One region's part of a harvest; log: its dirty bitmap as read now. */
static int harvest_region(struct ept_reclaim *er, unsigned i, uint64_t gfn, uint64_t n,
			  uint64_t *accessed)
{
	const struct ept_region *r = &er->mem->region[i];
	uint64_t first = r->gpa / PAGE, pages = r->size / PAGE;
	uint64_t lo = gfn > first ? gfn : first, hi = gfn + n < first + pages ? gfn + n : first + pages;
	const uint64_t *log = er->log[i];
	int rc = 0;
	for (uint64_t w = (lo - first) / 64; w * 64 < hi - first; w++) {
		uint64_t again = 0;
		for (uint64_t rel = w * 64; rel < w * 64 + 64 && rel < hi - first; rel++) {
			uint64_t f = first + rel;
			if (f < lo)
				continue;
			bool written = (log[w] >> (rel % 64)) & 1;
			bool touched;
			if (er->hold[f]) {
				touched = true;
				if (--er->hold[f] == 0)
					again |= 1ull << (rel % 64);
			} else {
				touched = written;
				if (written)
					er->hold[f] = EPT_RECLAIM_HOLD;
			}
			if (touched)
				accessed[(f - gfn) / 64] |= 1ull << ((f - gfn) % 64);
		}
		if (again) {
			int e = rearm(er, i, w * 64, again);
			if (e == -EAGAIN) {
				/* sharing has not seen these writes yet: report
				 * them once more, clear them next time */
				for (uint64_t b = again; b; b &= b - 1)
					er->hold[first + w * 64 + (unsigned)__builtin_ctzll(b)] = 1;
			} else if (e) {
				rc = e;
			} else {
				STAT_ADD(er, harvest_clears, (uint64_t)__builtin_popcountll(again));
			}
		}
	}
	return rc;
}

static int op_harvest(void *ctx, uint64_t gfn, uint64_t n, uint64_t *accessed)
{
	struct ept_reclaim *er = ctx;
	if (er->vm_fd < 0)
		return -EOPNOTSUPP;
	if (n == 0 || gfn > er->mem->p2m.nr_frames || n > er->mem->p2m.nr_frames - gfn)
		return -EINVAL;
	if (!er->logging) {
		int rc = er->share ? 0 : start_logging(er);
		if (rc)
			return rc;
		er->logging = true;
	}
	memset(accessed, 0, (n + 63) / 64 * sizeof(*accessed));
	for (unsigned i = 0; i < er->mem->nr_regions; i++) {
		const struct ept_region *r = &er->mem->region[i];
		uint64_t first = r->gpa / PAGE, pages = r->size / PAGE;
		if (gfn >= first + pages || gfn + n <= first)
			continue;
		struct kvm_dirty_log d = { .slot = i, .dirty_bitmap = er->log[i] };
		if (ioctl(er->vm_fd, KVM_GET_DIRTY_LOG, &d) < 0)
			return -errno;
		int rc = harvest_region(er, i, gfn, n, accessed);
		if (rc)
			return rc;
	}
	return 0;
}

const struct reclaim_backend ept_reclaim__ops = {
	.harvest = op_harvest,
	.evictable = op_evictable,
	.fence = op_fence,
	.unfence = op_unfence,
	.discard = op_discard,
	.page = op_page,
};

/* ---- the fetch pool ---- */

/* install(): the fetched bytes into gfn's page; wakes its waiters. */
static int install(void *ctx, uint64_t gfn, const void *bytes)
{
	struct ept_reclaim *er = ctx;
	uint8_t *hva = frame_hva(er, gfn);
	if (!hva)
		return -EINVAL;
	struct uffdio_copy c = { .dst = (uint64_t)(uintptr_t)hva,
				 .src = (uint64_t)(uintptr_t)bytes, .len = PAGE };
	int rc;
	do {
		c.copy = 0;
		rc = uffd_range(er->uffd, UFFDIO_COPY, &c);
	} while (rc == -EAGAIN && c.copy <= 0);
	return rc == -EEXIST ? 0 : rc;
}

/* A frame with no stored bytes reads zero, as it would without userfaultfd. */
static void zero_fill(struct ept_reclaim *er, uint64_t addr, bool write)
{
	static const uint8_t zeros[PAGE] __attribute__((aligned(PAGE)));
	int rc;
	if (write) { /* the page the write will copy anyway: one fault, not two */
		struct uffdio_copy c = { .dst = addr, .src = (uint64_t)(uintptr_t)zeros, .len = PAGE };
		rc = uffd_range(er->uffd, UFFDIO_COPY, &c);
	} else {
		struct uffdio_zeropage z = { .range = { .start = addr, .len = PAGE } };
		rc = uffd_range(er->uffd, UFFDIO_ZEROPAGE, &z);
	}
	if (rc == 0)
		STAT_ADD(er, zero_fills, 1);
	else /* -EEXIST: someone installed it; -EAGAIN: the mapping changed */
		wake(er, addr, PAGE);
}

int ept_reclaim__zero(struct ept_reclaim *er, uint64_t gfn)
{
	static const uint8_t zeros[PAGE] __attribute__((aligned(PAGE)));
	uint8_t *hva = frame_hva(er, gfn);
	if (!hva)
		return -EINVAL;
	if (!atomic_load_explicit(&er->registered, memory_order_acquire))
		return -ENOENT;
	struct uffdio_copy c = { .dst = (uint64_t)(uintptr_t)hva,
				 .src = (uint64_t)(uintptr_t)zeros, .len = PAGE };
	int rc = uffd_range(er->uffd, UFFDIO_COPY, &c);
	if (rc == 0)
		STAT_ADD(er, zero_fills, 1);
	return rc;
}

static void backoff(uint64_t *ns)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)*ns };
	nanosleep(&ts, NULL);
	*ns = *ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : *ns * 2;
}

static void serve_missing(struct ept_reclaim *er, uint64_t addr, bool write, uint64_t since)
{
	STAT_ADD(er, missing_faults, 1);
	uint64_t gfn;
	if (!gfn_of(er, addr, &gfn)) {
		wake(er, addr, PAGE);
		return;
	}
	uint64_t pause = BACKOFF_MIN_NS;
	while (!atomic_load_explicit(&er->stopping, memory_order_relaxed)) {
		int rc = er->fetch(er->fctx, gfn, install, er, since);
		if (rc > 0) {
			STAT_ADD(er, fetched, 1);
			return;
		}
		if (rc == 0) {
			enum p2m_state st = p2m__get(&er->mem->p2m, gfn);
			if (st != P2M_COMPRESSED && st != P2M_IN_FLIGHT) {
				zero_fill(er, addr, write);
				return;
			}
			/* its bytes are in the store, or on their way: never zeros */
			pause = BACKOFF_MIN_NS / 20;
		} else {
			STAT_ADD(er, fetch_errors, 1);
		}
		backoff(&pause);
	}
	wake(er, addr, PAGE); /* stopping: destroy's unregister wakes it anyway */
}

static void serve_wp(struct ept_reclaim *er, uint64_t addr)
{
	STAT_ADD(er, wp_faults, 1);
	uint64_t gfn;
	if (gfn_of(er, addr, &gfn))
		while (p2m__get(&er->mem->p2m, gfn) == P2M_IN_FLIGHT &&
		       !atomic_load_explicit(&er->stopping, memory_order_relaxed)) {
			struct timespec ts = { .tv_nsec = 20000 };
			nanosleep(&ts, NULL);
		}
	/* unfenced: it writes; discarded: it faults MISSING next */
	wake(er, addr, PAGE);
}

static void (*thread_start)(void); /* ept_reclaim__set_thread_start() */

void ept_reclaim__set_thread_start(void (*fn)(void))
{
	thread_start = fn;
}

static void *pool_main(void *arg)
{
	struct ept_reclaim *er = arg;
	if (thread_start)
		thread_start();
	struct pollfd pfd[2] = { { .fd = er->uffd, .events = POLLIN },
				 { .fd = er->stop_fd, .events = POLLIN } };
	struct uffd_msg msg[MSG_BATCH];
	while (!atomic_load_explicit(&er->stopping, memory_order_relaxed)) {
		if (poll(pfd, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		ssize_t got = read(er->uffd, msg, sizeof(msg)); /* nonblocking: another thread may win */
		if (got <= 0)
			continue;
		uint64_t since = clock__mono_ns();
		for (size_t k = 0; k < (size_t)got / sizeof(msg[0]); k++) {
			if (msg[k].event != UFFD_EVENT_PAGEFAULT)
				continue;
			uint64_t addr = msg[k].arg.pagefault.address & ~(PAGE - 1);
			uint64_t flags = msg[k].arg.pagefault.flags;
			if (flags & UFFD_PAGEFAULT_FLAG_WP)
				serve_wp(er, addr);
			else
				serve_missing(er, addr, flags & UFFD_PAGEFAULT_FLAG_WRITE, since);
		}
		STAT_ADD(er, busy_ns, clock__mono_ns() - since);
	}
	return NULL;
}

/* ---- life ---- */

static void stop_pool(struct ept_reclaim *er)
{
	atomic_store(&er->stopping, true);
	uint64_t one = 1;
	if (er->nr_threads && write(er->stop_fd, &one, sizeof(one)) < 0)
		perror("l1vmm: reclaim: stopping the fetch pool");
	for (unsigned t = 0; t < er->nr_threads; t++)
		pthread_join(er->thread[t], NULL);
	er->nr_threads = 0;
}

static void free_all(struct ept_reclaim *er)
{
	if (er->uffd >= 0) {
		/* wakes every thread still asleep in a fault of guest RAM */
		struct uffdio_range r = { .start = (uint64_t)(uintptr_t)er->mem->base,
					  .len = er->mem->mem_bytes };
		if (atomic_load(&er->registered))
			ioctl(er->uffd, UFFDIO_UNREGISTER, &r);
		close(er->uffd);
	}
	if (er->stop_fd >= 0)
		close(er->stop_fd);
	if (er->maps_fd >= 0)
		close(er->maps_fd);
	for (unsigned i = 0; i < EPT_MAX_REGIONS; i++)
		free(er->log[i]);
	free(er->hold);
	free(er->foreign);
	pthread_mutex_destroy(&er->lock);
	free(er);
}

static int open_uffd(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP };
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int ept_reclaim__create(struct ept_reclaim **out, struct ept_mem *mem, int vm_fd,
			ept_reclaim_fetch_fn fetch, void *fctx, unsigned threads)
{
	*out = NULL;
	if (!mem || !mem->base || !fetch || threads < 1 || threads > EPT_RECLAIM_MAX_THREADS)
		return -EINVAL;
	struct ept_reclaim *er = calloc(1, sizeof(*er));
	if (!er)
		return -ENOMEM;
	*er = (struct ept_reclaim){ .mem = mem, .vm_fd = vm_fd, .fetch = fetch, .fctx = fctx,
				    .uffd = -1, .stop_fd = -1, .maps_fd = -1 };
	pthread_mutex_init(&er->lock, NULL);
	uint64_t frames = mem->p2m.nr_frames;
	int rc = -ENOMEM;
	er->foreign = calloc((frames + 63) / 64, sizeof(uint64_t));
	er->hold = calloc(frames ? frames : 1, 1);
	if (!er->foreign || !er->hold)
		goto fail;
	for (unsigned i = 0; i < mem->nr_regions && vm_fd >= 0; i++) {
		er->log[i] = calloc((mem->region[i].size / PAGE + 63) / 64, sizeof(uint64_t));
		if (!er->log[i])
			goto fail;
	}
	er->uffd = open_uffd();
	if (er->uffd < 0) {
		rc = er->uffd;
		goto fail;
	}
	er->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (er->stop_fd < 0) {
		rc = -errno;
		goto fail;
	}
	er->maps_fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC); /* -1: one mapping assumed */
	for (unsigned t = 0; t < threads; t++) {
		rc = -pthread_create(&er->thread[t], NULL, pool_main, er);
		if (rc)
			goto fail;
		er->nr_threads++;
	}
	*out = er;
	return 0;
fail:
	stop_pool(er);
	free_all(er);
	return rc;
}

void ept_reclaim__destroy(struct ept_reclaim *er)
{
	if (!er)
		return;
	stop_pool(er);
	free_all(er);
}

void ept_reclaim__share(struct ept_reclaim *er, struct ept_guest *g)
{
	er->share = g;
}

void ept_reclaim__stats(struct ept_reclaim *er, struct ept_reclaim_stats *out)
{
	_Static_assert(sizeof(*out) % sizeof(uint64_t) == 0, "counters only");
	const _Atomic uint64_t *src = (const _Atomic uint64_t *)&er->c;
	uint64_t *dst = (uint64_t *)out;
	for (size_t k = 0; k < sizeof(*out) / sizeof(uint64_t); k++)
		dst[k] = atomic_load_explicit(&src[k], memory_order_relaxed);
}
