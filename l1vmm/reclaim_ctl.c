/* SPDX-License-Identifier: MIT */
/* Host reclaim on the host (reclaim_ctl.h). */
#include "l1vmm/reclaim_ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "balloon/balloon.h"
#include "l1vmm/ctl.h"
#include "l1vmm/sandbox.h"
#include "l1vmm/shadow_vm.h"
#include "l1vmm/vm.h"
#include "mmu/clock.h"
#include "mmu/ept/reclaim.h"
#include "mmu/shadow/reclaim.h"

#define MAX_VMS 64
#define MIB (1ull << 20)
#define PAGE 4096ull
#define FETCH_THREADS 2

/* One VM's part (vm->reclaim). */
struct vm_reclaim {
	struct reclaim_vm r;
	struct ept_reclaim *er;  /* ept mode: its userfaultfd and fetch threads */
	struct vm *vm;
	uint64_t floor_mb;       /* atomic */
	bool log_decided;        /* ept: the dirty log's reader is settled (reclaim thread) */
};

#define LIMIT_SLACK_DIV 64 /* eviction under host_limit_mb goes 1/64 below it */

enum knob {
	K_RUN, K_LIMIT, K_LOW, K_PSI, K_RATE, K_INTERVAL, K_COLD_AGE, K_DELAY, K_PREFETCH,
	K_REFAULT, K_CAP, K_SWAP_MB, K_IDLE_AGE, NR_KNOBS
};

enum state { ST_OFF, ST_IDLE, ST_WAITING_BALLOON, ST_WAITING_DELAY, ST_RECLAIMING, ST_FLOOR };
static const char *const state_names[] = { "off", "idle", "waiting-for-balloon",
					   "waiting", "reclaiming", "at-floor" };

struct reclaim_ctl {
	pthread_mutex_t lock;    /* everything below */
	pthread_cond_t cv;       /* a knob write or stop wakes the thread */
	uint64_t knob[NR_KNOBS];
	enum rstore_compressor compressor;
	char swap_file[256];
	int swap_fd;
	struct rstore *store;    /* made with the first VM; fixed then */
	struct vm_reclaim *vms[MAX_VMS];
	unsigned nr_vms;
	struct machine *machine; /* the shadow machine, when a VM is on it */
	pthread_t thread;
	bool running, stopping;
	/* the thread's readings (lock) */
	enum state state;
	uint64_t rounds, resident_bytes, need_bytes, evicted_last;
	uint64_t over_since_ns, balloon_frames, balloon_grew_ns;
	uint64_t aged_ns, ageings;
	uint64_t mem_available, harvest_errors;
	double psi;
	struct ctl_table table;
};

/* ---- knobs ---- */

struct knob_desc {
	const char *path;
	int64_t min, max, def;
	bool config_only; /* read when the store is made */
	const char *doc;
};

static const struct knob_desc knobs[NR_KNOBS] = {
	[K_RUN] = { "reclaim/run", 0, 1, 0, false,
		    "1: evict cold guest pages to the store when the host needs memory" },
	[K_LIMIT] = { "reclaim/host_limit_mb", 0, 1 << 24, 0, false,
		      "budget for l1vmm's resident guest memory (mincore over guest RAM); 0 = none" },
	[K_LOW] = { "reclaim/low_watermark_mb", 0, 1 << 24, 0, false,
		    "host MemAvailable below it: reclaim up to it; 0 disables" },
	[K_PSI] = { "reclaim/psi_some_avg10_pct", 0, 100, 0, false,
		    "PSI memory some avg10 above it: reclaim max_rate_mb a second; 0 disables" },
	[K_RATE] = { "reclaim/max_rate_mb", 1, 1 << 20, 256, false,
		     "MiB evicted per second at most" },
	[K_INTERVAL] = { "reclaim/interval_ms", 50, 60000, 500, false,
			 "milliseconds between rounds (ageing, measuring, evicting)" },
	[K_COLD_AGE] = { "reclaim/cold_age", 1, 255, 2, false,
			 "rounds a frame must go untouched to be a first-choice victim" },
	[K_DELAY] = { "reclaim/delay_ms", 0, 600000, 2000, false,
		      "a need must last this long, with no balloon growing, before reclaim acts" },
	[K_PREFETCH] = { "reclaim/prefetch", 0, 64, 8, false,
			 "frames of the same eviction fetched along with the one accessed" },
	[K_REFAULT] = { "reclaim/refault_ms", 0, 3600000, 10000, false,
			"a fetch sooner than this after the eviction counts as a refault" },
	[K_CAP] = { "reclaim/store_cap_mb", 1, 1 << 24, 2048, false,
		    "the store's own memory (compressed pages and metadata) at most" },
	[K_IDLE_AGE] = { "reclaim/idle_age_ms", 0, 600000, 4000, false,
			 "with no need, VMs are aged (their accessed pages read) this often at most" },
	[K_SWAP_MB] = { "reclaim/swap_file_mb", 1, 1 << 24, 1024, true,
			"size of reclaim/swap_file (set before the VMs start)" },
};

static const char *const compressor_choices[] = { "lz4", "zstd", NULL };

struct reclaim_ctl *reclaim_ctl__create(void)
{
	struct reclaim_ctl *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cv, NULL);
	for (int k = 0; k < NR_KNOBS; k++)
		c->knob[k] = (uint64_t)knobs[k].def;
	c->compressor = RSTORE_COMPRESSOR_DEFAULT;
	c->swap_fd = -1;
	return c;
}

static struct vm_reclaim *part(struct vm *vm)
{
	return vm->reclaim;
}

static int fetch(void *fctx, uint64_t gfn, reclaim_install_fn install, void *ictx,
		 uint64_t since_ns)
{
	return reclaim_vm__fetch(fctx, gfn, install, ictx, since_ns);
}

static void fetch_thread_start(void)
{
	sandbox__enter(SANDBOX_FETCH, "fetch");
}

/*
 * ept mode: KVM's dirty log has one reader. Page sharing attached first
 * (dedup/run 1 when the VM starts): reclaim asks it for what it saw
 * (ept_reclaim__share). Otherwise reclaim's first harvest takes the log for
 * itself, and page sharing stays off for the VM if dedup/run is set later
 * (its attach says so): two readers would each clear writes the other has
 * not seen.
 */
static int ept_harvest(void *ctx, uint64_t gfn, uint64_t n, uint64_t *accessed)
{
	struct vm_reclaim *p = ctx;
	if (!p->log_decided) {
		int owner = VM_LOG_NONE;
		if (!__atomic_compare_exchange_n(&p->vm->dirty_log_owner, &owner, VM_LOG_RECLAIM,
						 false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) &&
		    owner == VM_LOG_SHARING) {
			struct ept_guest *g = __atomic_load_n(&p->vm->dedup_priv, __ATOMIC_ACQUIRE);
			if (!g)
				return -EAGAIN; /* attaching: next round */
			ept_reclaim__share(p->er, g);
		}
		p->log_decided = true;
	}
	return ept_reclaim__ops.harvest(p->er, gfn, n, accessed);
}

static bool ept_evictable(void *ctx, uint64_t gfn)
{
	return ept_reclaim__ops.evictable(((struct vm_reclaim *)ctx)->er, gfn);
}

static int ept_fence(void *ctx, uint64_t gfn, uint64_t n)
{
	return ept_reclaim__ops.fence(((struct vm_reclaim *)ctx)->er, gfn, n);
}

static void ept_unfence(void *ctx, uint64_t gfn, uint64_t n)
{
	ept_reclaim__ops.unfence(((struct vm_reclaim *)ctx)->er, gfn, n);
}

static int ept_discard(void *ctx, uint64_t gfn, uint64_t n)
{
	return ept_reclaim__ops.discard(((struct vm_reclaim *)ctx)->er, gfn, n);
}

static const void *ept_page(void *ctx, uint64_t gfn)
{
	return ept_reclaim__ops.page(((struct vm_reclaim *)ctx)->er, gfn);
}

static const struct reclaim_backend ept_ops = {
	.harvest = ept_harvest, .evictable = ept_evictable, .fence = ept_fence,
	.unfence = ept_unfence, .discard = ept_discard, .page = ept_page,
};

static void push_settings(struct reclaim_ctl *c, struct vm_reclaim *p)
{
	__atomic_store_n(&p->r.prefetch, (unsigned)c->knob[K_PREFETCH], __ATOMIC_RELAXED);
	__atomic_store_n(&p->r.refault_ns, c->knob[K_REFAULT] * 1000000ull, __ATOMIC_RELAXED);
}

/* The store, with the settings of now. Lock held. */
static int make_store(struct reclaim_ctl *c, char *err, size_t errlen)
{
	if (c->swap_file[0]) {
		c->swap_fd = open(c->swap_file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (c->swap_fd < 0 ||
		    ftruncate(c->swap_fd, (off_t)(c->knob[K_SWAP_MB] * MIB)) < 0) {
			snprintf(err, errlen, "reclaim/swap_file %s: %s", c->swap_file,
				 strerror(errno));
			if (c->swap_fd >= 0)
				close(c->swap_fd);
			c->swap_fd = -1;
			return -1;
		}
	}
	struct rstore_config cfg = { .compressor = c->compressor, .cap_bytes = c->knob[K_CAP] * MIB,
				     .bad_pct = RSTORE_BAD_PCT_DEFAULT, .swap_fd = c->swap_fd,
				     .swap_bytes = c->swap_fd >= 0 ? c->knob[K_SWAP_MB] * MIB : 0 };
	int rc = rstore__create(&c->store, &cfg);
	if (rc < 0) {
		snprintf(err, errlen, "cannot make the reclaim store: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

int reclaim_ctl__add_vm(struct reclaim_ctl *c, struct vm *vm, uint64_t floor_mb, char *err,
			size_t errlen)
{
	pthread_mutex_lock(&c->lock);
	int rc = -1;
	struct vm_reclaim *p = NULL;
	if (c->nr_vms == MAX_VMS) {
		snprintf(err, errlen, "host reclaim takes at most %d VMs", MAX_VMS);
		goto out;
	}
	if (!c->store && make_store(c, err, errlen) < 0)
		goto out;
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "out of memory for host reclaim");
		goto out;
	}
	p->vm = vm;
	p->floor_mb = floor_mb;
	int e;
	if (vm->shadow) {
		e = reclaim_vm__init(&p->r, &vm->ram->p2m, c->store, &shadow_reclaim__ops,
				     &vm->shadow->g);
		if (e == 0)
			shadow__set_fetcher(&vm->shadow->g, fetch, &p->r);
		c->machine = vm->shadow->machine;
	} else {
		ept_reclaim__set_thread_start(fetch_thread_start);
		e = ept_reclaim__create(&p->er, &vm->mem, vm->fd, fetch, &p->r, FETCH_THREADS);
		if (e == 0) {
			e = reclaim_vm__init(&p->r, &vm->ram->p2m, c->store, &ept_ops, p);
			if (e < 0)
				ept_reclaim__destroy(p->er);
		}
	}
	if (e == -EPERM && !vm->shadow) {
		/* userfaultfd is root's here (vm.unprivileged_userfaultfd=0): the
		 * VM runs without host reclaim, said when reclaim is asked for */
		if (c->knob[K_RUN])
			fprintf(stderr, "l1vmm: %s: host reclaim off: userfaultfd needs root or "
				"vm.unprivileged_userfaultfd=1\n", vm->name);
		free(p);
		rc = 0;
		goto out;
	}
	if (e < 0) {
		snprintf(err, errlen, "cannot set up host reclaim: %s", strerror(-e));
		free(p);
		p = NULL;
		goto out;
	}
	push_settings(c, p);
	vm->reclaim = p;
	vm->reclaim_ept = p->er;
	__atomic_store_n(&vm->reclaim_core, &p->r, __ATOMIC_RELEASE);
	c->vms[c->nr_vms++] = p;
	rc = 0;
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void reclaim_ctl__remove_vm(struct reclaim_ctl *c, struct vm *vm)
{
	struct vm_reclaim *p = part(vm);
	if (!p)
		return;
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->nr_vms; i++)
		if (c->vms[i] == p)
			c->vms[i--] = c->vms[--c->nr_vms];
	pthread_mutex_unlock(&c->lock);
	__atomic_store_n(&vm->reclaim_core, NULL, __ATOMIC_RELEASE);
	vm->reclaim_ept = NULL;
	if (vm->shadow)
		shadow__set_fetcher(&vm->shadow->g, NULL, NULL);
	else
		ept_reclaim__destroy(p->er);
	reclaim_vm__destroy(&p->r);
	vm->reclaim = NULL;
	free(p);
}

void reclaim_ctl__set_floor(struct vm *vm, uint64_t floor_mb)
{
	if (part(vm))
		__atomic_store_n(&part(vm)->floor_mb, floor_mb, __ATOMIC_RELAXED);
}

int reclaim_ctl__vm_stats(struct vm *vm, struct reclaim_vm_stats *out)
{
	if (!part(vm))
		return -ENOENT;
	reclaim_vm__stats(&part(vm)->r, out);
	return 0;
}

/* ---- one round ---- */

/* l1vmm's resident guest memory: every ept VM's RAM, the shadow machine once. */
static uint64_t guest_resident(struct reclaim_ctl *c)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < c->nr_vms; i++) {
		struct vm *vm = c->vms[i]->vm;
		if (!vm->shadow)
			for (unsigned k = 0; k < vm->mem.nr_regions; k++)
				n += host__resident_bytes(vm->mem.region[k].hva, vm->mem.region[k].size);
	}
	if (c->machine)
		n += host__resident_bytes(c->machine->mem.mem.base, c->machine->mem.mem.mem_bytes);
	return n;
}

static uint64_t balloon_frames(struct reclaim_ctl *c)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < c->nr_vms; i++) {
		struct vm *vm = c->vms[i]->vm;
		if (!vm->balloon)
			continue;
		struct balloon_snapshot s;
		balloon__snapshot(vm->balloon, &s);
		n += s.actual_frames;
	}
	return n;
}

/* What this round should give back, in bytes, and whether the limit is a
 * hard one (host_limit_mb: younger frames go too when no cold ones are left). */
static uint64_t need_now(struct reclaim_ctl *c, bool *hard)
{
	uint64_t need = 0;
	*hard = false;
	if (c->knob[K_LIMIT] && c->resident_bytes > c->knob[K_LIMIT] * MIB) {
		need = c->resident_bytes - c->knob[K_LIMIT] * MIB;
		*hard = true;
	}
	if (c->knob[K_LOW] && c->mem_available < c->knob[K_LOW] * MIB &&
	    c->knob[K_LOW] * MIB - c->mem_available > need)
		need = c->knob[K_LOW] * MIB - c->mem_available;
	if (c->knob[K_PSI] && c->psi > (double)c->knob[K_PSI] && !need)
		need = c->knob[K_RATE] * MIB * c->knob[K_INTERVAL] / 1000;
	return need;
}

/* Evict up to frames over the VMs, each by its resident frames above its floor. */
static uint64_t evict_over_vms(struct reclaim_ctl *c, uint64_t frames, bool hard)
{
	uint64_t spare[MAX_VMS], total = 0, done = 0;
	for (unsigned i = 0; i < c->nr_vms; i++) {
		struct vm_reclaim *p = c->vms[i];
		uint64_t priv = p2m__count(p->r.p2m, P2M_PRIVATE);
		uint64_t floor = __atomic_load_n(&p->floor_mb, __ATOMIC_RELAXED) * (MIB / PAGE);
		spare[i] = vm__ended(p->vm) || priv <= floor ? 0 : priv - floor;
		total += spare[i];
	}
	if (!total) {
		c->state = ST_FLOOR;
		return 0;
	}
	/* under a hard limit younger frames go too, but never one touched or
	 * fetched in the last round: the vCPU that faulted it back must get to
	 * run its access before the page goes again (a guest whose working set
	 * does not fit then stays above the limit by that set, not livelocked) */
	unsigned cold = (unsigned)c->knob[K_COLD_AGE];
	for (unsigned age = cold;; age = 1) {
		for (unsigned i = 0; i < c->nr_vms && done < frames; i++) {
			if (!spare[i])
				continue;
			struct vm_reclaim *p = c->vms[i];
			uint64_t want = (frames - done) * spare[i] / total + 1;
			uint64_t floor = __atomic_load_n(&p->floor_mb, __ATOMIC_RELAXED) * (MIB / PAGE);
			done += reclaim_vm__evict(&p->r, want, age, floor);
		}
		if (done >= frames || !hard || age == 1)
			break;
	}
	return done;
}

/*
 * Ageing costs the guests: each harvest makes every page they touched since
 * fault again to be seen touched again (shadow: KVM forgets the translation;
 * ept: the dirty log write-protects it). So VMs are aged every round only
 * while there is a need, or was one the round before; with none, at most
 * every idle_age_ms (ages then count longer intervals: cold_age harvests).
 */
static void age_vms(struct reclaim_ctl *c, uint64_t now, bool needed)
{
	if (!needed && c->aged_ns && now - c->aged_ns < c->knob[K_IDLE_AGE] * 1000000ull)
		return;
	for (unsigned i = 0; i < c->nr_vms; i++)
		if (!vm__ended(c->vms[i]->vm) && reclaim_vm__age(&c->vms[i]->r) < 0)
			c->harvest_errors++;
	c->aged_ns = now;
	c->ageings++;
}

static void round_once(struct reclaim_ctl *c)
{
	uint64_t now = clock__mono_ns();
	bool needed_before = c->need_bytes != 0;
	c->resident_bytes = guest_resident(c);
	c->mem_available = host__proc_kb("/proc/meminfo", "MemAvailable");
	c->psi = host__psi_some_avg10();
	bool hard;
	c->need_bytes = need_now(c, &hard);
	age_vms(c, now, needed_before || c->need_bytes);
	c->rounds++;
	c->evicted_last = 0;
	uint64_t bf = balloon_frames(c);
	if (bf > c->balloon_frames)
		c->balloon_grew_ns = now;
	c->balloon_frames = bf;
	if (!c->need_bytes) {
		c->over_since_ns = 0;
		c->state = ST_IDLE;
		return;
	}
	if (!c->over_since_ns)
		c->over_since_ns = now;
	uint64_t delay = c->knob[K_DELAY] * 1000000ull;
	if (c->balloon_grew_ns && now - c->balloon_grew_ns < delay) {
		c->state = ST_WAITING_BALLOON;
		return;
	}
	if (now - c->over_since_ns < delay) {
		c->state = ST_WAITING_DELAY;
		return;
	}
	c->state = ST_RECLAIMING;
	uint64_t rate = c->knob[K_RATE] * MIB * c->knob[K_INTERVAL] / 1000 / PAGE;
	/* under the limit, evict 1/64 of it more than the need: the guests'
	 * next few new pages then fit, with no need, no ageing every round */
	uint64_t slack = hard ? c->knob[K_LIMIT] * MIB / LIMIT_SLACK_DIV : 0;
	uint64_t frames = (c->need_bytes + slack + PAGE - 1) / PAGE;
	c->evicted_last = evict_over_vms(c, frames < rate ? frames : rate, hard);
}

static void *reclaim_thread(void *arg)
{
	struct reclaim_ctl *c = arg;
	sandbox__enter(SANDBOX_RECLAIM, "reclaim");
	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		if (c->knob[K_RUN]) {
			round_once(c);
		} else {
			c->state = ST_OFF;
			c->over_since_ns = 0;
		}
		vm__timedwait(&c->cv, &c->lock, (double)c->knob[K_INTERVAL] / 1000.0);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int reclaim_ctl__start(struct reclaim_ctl *c, char *err, size_t errlen)
{
	pthread_mutex_lock(&c->lock);
	c->stopping = false;
	int rc = pthread_create(&c->thread, NULL, reclaim_thread, c);
	c->running = rc == 0;
	pthread_mutex_unlock(&c->lock);
	if (rc) {
		snprintf(err, errlen, "cannot start the reclaim thread: %s", strerror(rc));
		return -1;
	}
	return 0;
}

void reclaim_ctl__stop(struct reclaim_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	bool running = c->running;
	c->stopping = true;
	c->running = false;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->lock);
	if (running)
		pthread_join(c->thread, NULL);
}

void reclaim_ctl__destroy(struct reclaim_ctl *c)
{
	if (!c)
		return;
	reclaim_ctl__stop(c);
	while (c->nr_vms) /* each removal takes its VM off the list */
		reclaim_ctl__remove_vm(c, c->vms[0]->vm);
	if (c->store)
		rstore__destroy(c->store);
	if (c->swap_fd >= 0)
		close(c->swap_fd);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->lock);
	free((void *)c->table.entries);
	free(c);
}

/* ---- the tree ---- */

enum reading {
	R_COMPRESSOR = NR_KNOBS, R_SWAP_FILE, R_STATE, R_ROUNDS, R_AGEINGS, R_RESIDENT, R_NEED, R_EVICTED_LAST,
	R_PAGES, R_SAME_BYTE, R_FILE_PAGES, R_STORED, R_STORE_MEM, R_RATIO, R_OVERHEAD,
	R_EVICTIONS, R_FETCHES, R_PREFETCHES, R_REFAULTS, R_DROPPED, R_REFUSALS, R_ERRORS,
	R_P50, R_P99, R_DOUBLE_PAGING, R_STORED_READS,
};

/* The VMs' counters added up; latency figures: the worst VM's. */
static void sum_vms(struct reclaim_ctl *c, struct reclaim_vm_stats *t, uint64_t *overhead)
{
	*t = (struct reclaim_vm_stats){ 0 };
	*overhead = 0;
	for (unsigned i = 0; i < c->nr_vms; i++) {
		struct reclaim_vm_stats s;
		reclaim_vm__stats(&c->vms[i]->r, &s);
		t->evictions += s.evictions;
		t->fetches += s.fetches;
		t->prefetches += s.prefetches;
		t->refaults += s.refaults;
		t->dropped += s.dropped;
		t->store_refusals += s.store_refusals;
		t->fence_refusals += s.fence_refusals;
		t->fetch_errors += s.fetch_errors;
		t->compressed += s.compressed;
		t->double_paging += s.double_paging;
		t->stored_reads += s.stored_reads;
		t->fetch_ns_p50 = s.fetch_ns_p50 > t->fetch_ns_p50 ? s.fetch_ns_p50 : t->fetch_ns_p50;
		t->fetch_ns_p99 = s.fetch_ns_p99 > t->fetch_ns_p99 ? s.fetch_ns_p99 : t->fetch_ns_p99;
		*overhead += reclaim_vm__bytes(&c->vms[i]->r);
	}
}

static int show(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	struct reclaim_ctl *c = obj;
	pthread_mutex_lock(&c->lock);
	struct rstore_stats s = { 0 };
	if (c->store)
		rstore__stats(c->store, &s);
	struct reclaim_vm_stats t;
	uint64_t overhead, v = 0;
	sum_vms(c, &t, &overhead);
	int n = 0;
	switch (e->arg) {
	case R_COMPRESSOR: n = snprintf(buf, len, "%s", compressor_choices[c->compressor]); break;
	case R_SWAP_FILE: n = snprintf(buf, len, "%s", c->swap_file); break;
	case R_STATE: n = snprintf(buf, len, "%s", state_names[c->state]); break;
	case R_RATIO:
		n = s.stored_bytes ? snprintf(buf, len, "%.2f", (double)(s.compressed_pages * PAGE) /
							   (double)s.stored_bytes)
				   : snprintf(buf, len, "none");
		break;
	default:
		switch (e->arg) {
		case R_ROUNDS: v = c->rounds; break;
		case R_AGEINGS: v = c->ageings; break;
		case R_RESIDENT: v = c->resident_bytes / MIB; break;
		case R_NEED: v = c->need_bytes / MIB; break;
		case R_EVICTED_LAST: v = c->evicted_last; break;
		case R_PAGES: v = s.pages; break;
		case R_SAME_BYTE: v = s.same_byte_pages; break;
		case R_FILE_PAGES: v = s.file_pages; break;
		case R_STORED: v = s.stored_bytes; break;
		case R_STORE_MEM: v = s.mem_bytes; break;
		case R_OVERHEAD: v = s.mem_bytes + overhead; break;
		case R_EVICTIONS: v = t.evictions; break;
		case R_FETCHES: v = t.fetches; break;
		case R_PREFETCHES: v = t.prefetches; break;
		case R_REFAULTS: v = t.refaults; break;
		case R_DROPPED: v = t.dropped; break;
		case R_REFUSALS: v = t.store_refusals; break;
		case R_ERRORS: v = t.fence_refusals + t.fetch_errors + c->harvest_errors +
				   s.io_errors + s.codec_errors; break;
		case R_P50: v = t.fetch_ns_p50 / 1000; break;
		case R_DOUBLE_PAGING: v = t.double_paging; break;
		case R_STORED_READS: v = t.stored_reads; break;
		case R_P99: v = t.fetch_ns_p99 / 1000; break;
		default: v = c->knob[e->arg]; break;
		}
		n = snprintf(buf, len, "%llu", (unsigned long long)v);
	}
	pthread_mutex_unlock(&c->lock);
	return n < 0 ? -EIO : 0;
}

static int store(void *obj, const struct ctl_entry *e, const union ctl_value *v)
{
	struct reclaim_ctl *c = obj;
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	if (e->arg == R_COMPRESSOR) {
		c->compressor = (enum rstore_compressor)v->choice;
		if (c->store)
			rstore__set_compressor(c->store, c->compressor);
	} else if (e->arg == R_SWAP_FILE) {
		if (c->store)
			rc = -EBUSY; /* the store has its file (or none) for good */
		else
			snprintf(c->swap_file, sizeof(c->swap_file), "%s", v->str);
	} else if (knobs[e->arg].config_only && c->store) {
		rc = -EBUSY;
	} else {
		c->knob[e->arg] = (uint64_t)v->i;
		if (e->arg == K_CAP && c->store)
			rstore__set_cap(c->store, c->knob[K_CAP] * MIB);
		for (unsigned i = 0; i < c->nr_vms; i++)
			push_settings(c, c->vms[i]);
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

#define READING(name, what_, doc_) \
	{ .path = "reclaim/" name, .type = CTL_TEXT, .arg = (what_), .show = show, .doc = doc_ }

int reclaim_ctl__register(struct reclaim_ctl *c, struct ctl_tree *t)
{
	static const struct ctl_entry fixed[] = {
		{ .path = "reclaim/compressor", .type = CTL_ENUM, .flags = CTL_WRITABLE | CTL_CONFIG,
		  .choices = compressor_choices, .arg = R_COMPRESSOR, .show = show, .store = store,
		  .doc = "codec for pages evicted from now on: zstd (default: level 1, the best "
			 "ratio per store byte) or lz4 (the fastest)" },
		{ .path = "reclaim/swap_file", .type = CTL_STRING, .flags = CTL_WRITABLE | CTL_CONFIG,
		  .max_len = 255, .arg = R_SWAP_FILE, .show = show, .store = store,
		  .doc = "file for pages that compress badly (else they stay resident); set before "
			 "the VMs start" },
		READING("state", R_STATE, "off, idle, waiting-for-balloon, waiting (delay_ms), "
			"reclaiming, at-floor"),
		READING("rounds", R_ROUNDS, "rounds run while reclaim/run was 1"),
		READING("ageings", R_AGEINGS, "rounds that aged the VMs (every round with a need, "
			"else every idle_age_ms)"),
		READING("guest_resident_mb", R_RESIDENT, "l1vmm's resident guest memory at the last "
			"round (mincore)"),
		READING("need_mb", R_NEED, "MiB the last round wanted back"),
		READING("evicted_last", R_EVICTED_LAST, "frames the last round evicted"),
		READING("pages_compressed", R_PAGES, "pages in the store now (all kinds)"),
		READING("same_byte_pages", R_SAME_BYTE, "of them, kept as one repeated byte"),
		READING("file_pages", R_FILE_PAGES, "of them, in reclaim/swap_file"),
		READING("stored_bytes", R_STORED, "compressed bytes held in memory"),
		READING("store_mem_bytes", R_STORE_MEM, "the store's own memory (what store_cap_mb "
			"caps)"),
		READING("compression_ratio", R_RATIO, "4 KiB per compressed page over its stored "
			"bytes (none: no page yet)"),
		READING("overhead_bytes", R_OVERHEAD, "l1vmm's memory for reclaim: the store and the "
			"per-frame tables"),
		READING("evictions", R_EVICTIONS, "frames moved to the store"),
		READING("fetches", R_FETCHES, "frames brought back on an access"),
		READING("prefetches", R_PREFETCHES, "frames brought back ahead of an access"),
		READING("refaults", R_REFAULTS, "fetches within refault_ms of the eviction"),
		READING("dropped", R_DROPPED, "stored frames the guests gave away (never fetched)"),
		READING("store_refusals", R_REFUSALS, "evictions the store refused: the page stayed"),
		READING("errors", R_ERRORS, "fence refusals, fetch retries, harvest, I/O and codec "
			"errors"),
		READING("double_paging_events", R_DOUBLE_PAGING, "fetches the guests' own paging "
			"caused (a disk access to a frame in the store; vms/NAME/reclaim/)"),
		READING("stored_reads", R_STORED_READS, "pages the guests wrote to their disks "
			"straight from the store (never fetched)"),
		READING("fetch_us_p50", R_P50, "fetch latency, median of the last 1024 (worst VM)"),
		READING("fetch_us_p99", R_P99, "fetch latency, 99th percentile (worst VM)"),
	};
	size_t nf = sizeof(fixed) / sizeof(fixed[0]), n = NR_KNOBS + nf;
	struct ctl_entry *es = calloc(n, sizeof(*es));
	if (!es)
		return -ENOMEM;
	for (unsigned k = 0; k < NR_KNOBS; k++)
		es[k] = (struct ctl_entry){ .path = knobs[k].path, .type = CTL_INT,
			.flags = CTL_WRITABLE | CTL_CONFIG, .doc = knobs[k].doc, .min = knobs[k].min,
			.max = knobs[k].max, .arg = k, .show = show, .store = store };
	memcpy(&es[NR_KNOBS], fixed, sizeof(fixed));
	c->table = (struct ctl_table){ .entries = es, .nr_entries = n };
	int rc = ctl__register(t, "", &c->table, c);
	if (rc < 0)
		free(es);
	return rc;
}
