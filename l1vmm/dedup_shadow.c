/* SPDX-License-Identifier: MIT */
/*
 * DOC: the shadow-mode backend of page sharing (dedup_host.h).
 *
 * Stored copies and the zero frames are machine frames (mmu/shadow's
 * allocator; machine__create() leaves room for one copy per guest frame, at
 * no cost until used). A shared frame is one p2m_mfn entry and its shadow
 * leaves pointed at the copy, read-only; the guest's own frame is discarded.
 * A guest write to it faults into l1vmm, which copies the bytes back into the
 * writer's own frame on the vCPU thread (mmu/shadow/share.c), records the
 * break, and lets the vCPU go on: the engine hears of it from sync(), on the
 * scanner thread, because a vCPU must never wait for the engine lock. Frames
 * UNPOPULATED in the p2m are not write-protected (a fault per first write
 * would cost a CPL3 exit per page of a guest filling its memory): sync()
 * finds the ones that got content (mincore, then a zero check) and reports
 * them populated.
 *
 * written(): write protection sees the first write after the engine's last
 * ask. Frames with content are protected when the VM is attached, so a page
 * quiet since then is a candidate at its first visit; a page written after
 * an ask (or populated since) is volatile at the next one and a candidate at
 * the one after, unless written again.
 *
 * No machine hold and no memslot flush anywhere: every change of a present
 * shadow entry made here is paired with a change of the host mapping of the
 * frame KVM's stale translations point to, which makes KVM drop them (the
 * MMU notifier; mmu/shadow/share.c says which and why). scan_end() tells KVM
 * about the frames written() write-protected during the scan, in runs.
 *
 * Zero frames: one per ZERO_USERS machine frames (at least MIN_ZERO), a
 * zero page mapping the one its own machine frame picks, so that none has
 * more than ZERO_USERS users. KVM's shadow MMU drops every translation of a
 * frame that more than 1000 entries map (its RMAP_RECYCLE_THRESHOLD) each
 * time one more is made: with 16 zero frames for all guests, each mapped by
 * thousands of zero pages, the guests refaulted ~100,000 times a second and
 * read their memory 4x slower for as long as the pages stayed shared
 * (perf/README.md, issue 14; docs/machine-notes.md). Stored copies are bound
 * the same way: at most ZERO_USERS users each (the engine's max_users), even
 * when dedup/max_page_sharing allows more. It also keeps an
 * unshare of one zero page from making KVM drop the translations of more
 * than ZERO_USERS others.
 *
 * Lifetime: the backend may outlive the machine (the host destroys the
 * machine first); machine__destroy() tells it, and it touches machine memory
 * no more.
 *
 * Locking: the backend's lock protects the list of attached VMs; it is taken
 * after the engine lock and before a guest's g->lock, and never held while
 * calling into the engine (sync() reports after letting go of it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l1vmm/dedup_host.h"
#include "l1vmm/shadow_vm.h"
#include "l1vmm/vm.h"
#include "mmu/array.h"
#include "mmu/clock.h"
#include "mmu/numa.h"

#define ZERO_USERS 256u /* zero pages per zero frame, at most */
#define MIN_ZERO 16u

struct dedup_shadow {
	struct machine *m;
	struct shadow_machine *mem;
	uint64_t *zero_mfn;
	uint64_t nr_zero;
	struct l1_lock lock;   /* protects vms, nr_vms, cap */
	struct vm **vms;       /* attached */
	size_t nr_vms, cap;
	uint64_t holds;        /* scan ends done with the vCPUs held (under lock) */
	uint64_t polled_ns;    /* monotonic: the last sync that polled (under lock) */
};

static struct shadow_guest *guest_of(void *vm)
{
	return &((struct vm *)vm)->shadow->g;
}

static uint64_t mfn_of(const void *copy)
{
	return (uint64_t)(uintptr_t)copy;
}

static const void *b_page(void *vm, uint64_t gfn)
{
	return shadow__frame_content(guest_of(vm), gfn);
}

static bool b_written(void *vm, uint64_t gfn)
{
	return shadow__frame_written(guest_of(vm), gfn);
}

static void *b_copy_new(void *ctx, const void *content, int node)
{
	struct dedup_shadow *d = ctx;
	int64_t mfn = shadow__alloc_frames(d->mem, 1);
	if (mfn < 0)
		return NULL;
	/* a free frame was discarded and lies in no VM's bound run (a VM's
	 * frames are freed only when l1vmm ends): its first touch is here */
	numa__copy_on(node, shadow__mfn_ptr(d->mem, (uint64_t)mfn), content, DEDUP_PAGE_SIZE);
	return (void *)(uintptr_t)mfn; /* never NULL: frame 0 is l1vmm's */
}

static void b_copy_free(void *ctx, void *copy)
{
	struct dedup_shadow *d = ctx;
	if (!d->mem)
		return; /* the machine is gone, and its memory with it */
	/* discarding makes KVM drop any translation of it left (a VM removed) */
	shadow__free_data_frames(d->mem, mfn_of(copy), 1);
}

static const void *b_copy_data(void *ctx, const void *copy)
{
	struct dedup_shadow *d = ctx;
	return shadow__mfn_ptr(d->mem, mfn_of(copy));
}

static int b_share(void *vm, uint64_t gfn, void *copy)
{
	return shadow__share(guest_of(vm), gfn, mfn_of(copy));
}

/* zero() gets no ctx: the zero frames are found through the VM's machine. */
static int b_zero(void *vm, uint64_t gfn)
{
	const struct dedup_shadow *d = ((struct vm *)vm)->shadow->machine->dedup_shadow;
	if (!d)
		return -EINVAL;
	struct shadow_guest *g = guest_of(vm);
	return shadow__share(g, gfn, d->zero_mfn[(g->first_mfn + gfn) % d->nr_zero]);
}

/* The balloon discards the frames next: they map their own frames again.
 * The vCPU that asked flushes KVM before it runs on (flush_needed). */
static int b_unshare(void *vm, uint64_t gfn, uint64_t n, uint64_t *done)
{
	int rc = shadow__unshare(guest_of(vm), gfn, n);
	*done = rc == 0 ? n : 0;
	return rc;
}

static void b_unpopulated(void *vm, uint64_t gfn, uint64_t n)
{
	shadow__unpopulated(guest_of(vm), gfn, n);
}

/*
 * Record what the guests wrote. Finding frames populated without a fault
 * (shadow__poll_populated: mincore, and pagemap where a frame reads zeros)
 * walks all of a guest's host page tables: ~15-20 % of the scanner's time
 * when it ran before every batch (every 20 ms by default). The scanner's own
 * syncs do it at most every POLL_INTERVAL_NS; every other sync (the tree's
 * readings, which must be exact) does it.
 */
#define POLL_INTERVAL_NS 100000000ull

static void sync_guests(struct dedup_shadow *d, bool periodic);

static void b_sync(void *ctx, struct dedup *e)
{
	(void)e; /* the writes go to the p2m, which tells the engine */
	sync_guests(ctx, false);
}

static void b_sync_periodic(void *ctx, struct dedup *e)
{
	(void)e;
	sync_guests(ctx, true);
}

static void sync_guests(struct dedup_shadow *d, bool periodic)
{
	struct taken {
		struct vm *vm;
		struct shadow_event *ev;
		size_t n;
	} *t = NULL;
	size_t nt = 0;
	l1_lock__acquire(&d->lock);
	uint64_t now = clock__mono_ns();
	bool poll = !periodic || now - d->polled_ns >= POLL_INTERVAL_NS;
	if (poll)
		d->polled_ns = now;
	if (d->nr_vms)
		t = calloc(d->nr_vms, sizeof(*t));
	for (size_t i = 0; t && i < d->nr_vms; i++) {
		struct taken *x = &t[nt];
		x->vm = d->vms[i];
		if (poll) /* -ENOMEM: next time */
			shadow__poll_populated(&x->vm->shadow->g);
		x->n = shadow__take_events(&x->vm->shadow->g, &x->ev);
		if (x->n)
			nt++;
		else
			free(x->ev);
	}
	l1_lock__release(&d->lock);
	/* no lock held: the p2m takes the engine's (its client's) for a break;
	 * a populate and a break are both "written, has its own page now" */
	for (size_t i = 0; i < nt; i++) {
		for (size_t k = 0; k < t[i].n; k++)
			p2m__record_written(&t[i].vm->ram->p2m, t[i].ev[k].gfn, 1);
		free(t[i].ev);
	}
	free(t);
}

/*
 * Telling KVM and giving own frames back change host mappings of machine
 * memory: each call's MMU notifier makes KVM kick every vCPU of the machine
 * that is in guest mode, and the host's TLB flush reaches every CPU running
 * one (on a host that is itself a guest, an IPI and an exit each: ~60 % of
 * the scanner's time with four guests, perf/README.md, issue 14). When
 * HOLD_MIN_FRAMES or more are due, the attached VMs' vCPUs are held out of
 * KVM_RUN meanwhile (shadow_vm__hold: kicked once each), so none of those
 * calls has a vCPU to reach. A shadow VM not under sharing runs on (its
 * vCPUs still get the kicks).
 */
#define HOLD_MIN_FRAMES 256

static void b_scan_end(void *ctx)
{
	struct dedup_shadow *d = ctx;
	l1_lock__acquire(&d->lock);
	uint64_t due = 0;
	for (size_t i = 0; i < d->nr_vms; i++)
		due += shadow__track_flush_due(&d->vms[i]->shadow->g);
	bool hold = due >= HOLD_MIN_FRAMES;
	for (size_t i = 0; hold && i < d->nr_vms; i++)
		shadow_vm__hold(d->vms[i], -1);
	for (size_t i = 0; i < d->nr_vms; i++)
		shadow__track_flush(&d->vms[i]->shadow->g);
	for (size_t i = 0; hold && i < d->nr_vms; i++)
		shadow_vm__release(d->vms[i]->shadow);
	if (hold)
		d->holds++;
	l1_lock__release(&d->lock);
}

static void b_vcpu_holds(void *ctx, uint64_t out[2])
{
	struct dedup_shadow *d = ctx;
	l1_lock__acquire(&d->lock);
	out[0] = d->holds;
	out[1] = 0; /* a shadow hold waits for as long as it takes */
	l1_lock__release(&d->lock);
}

static uint64_t b_host_mappings(void *ctx)
{
	(void)ctx;
	return 0; /* sharing changes no host mapping here */
}

static int b_attach(void *ctx, struct vm *vm)
{
	struct dedup_shadow *d = ctx;
	if (!vm->shadow || &vm->shadow->machine->mem != d->mem)
		return -EINVAL;
	l1_lock__acquire(&d->lock);
	int rc = 0;
	for (size_t i = 0; i < d->nr_vms; i++)
		if (d->vms[i] == vm)
			rc = -EEXIST;
	if (!rc)
		rc = ARRAY_ROOM(d->vms, d->cap, d->nr_vms, 8);
	if (!rc)
		rc = shadow__track_start(&vm->shadow->g, &vm->ram->p2m);
	if (!rc)
		d->vms[d->nr_vms++] = vm;
	l1_lock__release(&d->lock);
	return rc;
}

static void b_detach(void *ctx, struct vm *vm)
{
	struct dedup_shadow *d = ctx;
	l1_lock__acquire(&d->lock);
	for (size_t i = 0; i < d->nr_vms; i++) {
		if (d->vms[i] == vm) {
			d->vms[i] = d->vms[--d->nr_vms];
			shadow__track_stop(&vm->shadow->g);
			break;
		}
	}
	l1_lock__release(&d->lock);
}

static void b_destroy(void *ctx)
{
	struct dedup_shadow *d = ctx;
	if (d->m && d->m->dedup_shadow == d)
		d->m->dedup_shadow = NULL;
	for (uint64_t i = 0; d->mem && d->zero_mfn && i < d->nr_zero; i++)
		if (d->zero_mfn[i])
			shadow__free_data_frames(d->mem, d->zero_mfn[i], 1);
	free(d->zero_mfn);
	l1_lock__destroy(&d->lock);
	free(d->vms);
	free(d);
}

void dedup_shadow__machine_gone(struct dedup_shadow *d)
{
	/* the host may destroy the machine before the backend: forget it */
	d->m = NULL;
	d->mem = NULL;
}

int dedup_shadow__create(struct machine *m, struct dedup_host_backend *out, char *err,
			 size_t errlen)
{
	struct dedup_shadow *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory for the shadow sharing backend");
		return -1;
	}
	d->mem = &m->mem;
	l1_lock__init(&d->lock, L1_RANK_BACKEND, "shadow sharing backend");
	/* machine frames map at most one zero page each: ZERO_USERS per zero frame */
	d->nr_zero = d->mem->nr_frames / ZERO_USERS + 1;
	if (d->nr_zero < MIN_ZERO)
		d->nr_zero = MIN_ZERO;
	d->zero_mfn = calloc(d->nr_zero, sizeof(*d->zero_mfn));
	if (!d->zero_mfn) {
		snprintf(err, errlen, "out of memory for the shadow zero frames");
		b_destroy(d);
		return -1;
	}
	for (uint64_t i = 0; i < d->nr_zero; i++) {
		int64_t mfn = shadow__alloc_frames(d->mem, 1);
		if (mfn < 0) {
			snprintf(err, errlen, "no machine frame for the shadow zero pages");
			b_destroy(d);
			return -1;
		}
		d->zero_mfn[i] = (uint64_t)mfn;
		memset(shadow__mfn_ptr(d->mem, (uint64_t)mfn), 0, DEDUP_PAGE_SIZE);
	}
	/* sharing relies on it (mmu/shadow/share.c): check it works once, here */
	int rc = shadow__machine_forget(d->mem, d->zero_mfn[0], 1);
	if (rc < 0) {
		snprintf(err, errlen, "shadow sharing cannot make KVM forget a frame "
			 "(mprotect PROT_EXEC on machine memory: %s)", strerror(-rc));
		b_destroy(d);
		return -1;
	}
	d->m = m;
	m->dedup_shadow = d;
	*out = (struct dedup_host_backend){
		.name = "shadow",
		.ops = { .page = b_page, .written = b_written, .copy_new = b_copy_new,
			 .copy_free = b_copy_free, .copy_data = b_copy_data, .share = b_share,
			 .zero = b_zero, .unshare = b_unshare, .unpopulated = b_unpopulated,
			 .max_users = ZERO_USERS, .ctx = d },
		.ctx = d,
		.sync = b_sync,
		.sync_periodic = b_sync_periodic,
		.scan_end = b_scan_end,
		.host_mappings = b_host_mappings,
		.vcpu_holds = b_vcpu_holds,
		.attach = b_attach,
		.detach = b_detach,
		.destroy = b_destroy,
	};
	return 0;
}
