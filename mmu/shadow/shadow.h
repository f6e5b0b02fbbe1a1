/* SPDX-License-Identifier: MIT */
/*
 * DOC: shadow mode memory: machine frames and shadow page tables.
 *
 * All shadow-mode guests live in one KVM VM, "the machine", whose
 * guest-physical memory is l1vmm's machine memory (mfn = machine frame). Each
 * guest's RAM is a contiguous run of machine frames, so the guest's
 * pseudo-physical memory (gfn) is also an ept_mem view that the loaders and
 * the p2m work on unchanged; p2m_mfn[] keeps gfn → mfn per frame so later
 * issues (dedup, ballooning) can move single frames.
 *
 * The guest's page tables are guest data: the CPU walks shadow tables that
 * this module builds from them (guest-virtual → machine frame), filled on
 * demand at page faults, with prefetching of the neighbouring entries of the
 * same table. Coherence: the guest's page-table pages are typed (level 1..4)
 * when a tree is validated (new_baseptr); they are never mapped writable in
 * a shadow, so a direct write traps and is emulated; mmu_update batches are
 * validated and applied. A change of a guest entry invalidates the shadow
 * entries derived from it (each shadow table records the guest table and
 * level it shadows). PML4 slot 511 of every shadow root is l1vmm's own
 * subtree (trap stub, descriptor tables, hypercall page), given at init.
 *
 * A reverse map (machine frame → shadow entries that map it) makes unmapping
 * a frame exact.
 *
 * Coherence with the hardware (docs/machine-notes.md): changing a *present*
 * shadow entry is seen by a vCPU only after it re-enters KVM_RUN. Every
 * function that may have done so sets the guest's flush_needed flag; the
 * caller takes it (shadow__take_flush_needed) and kicks the guest's vCPUs
 * before it resumes any of them.
 *
 * Validation: a guest maps only its own gfns, never a page-table page
 * writable, never anything at or above L1_SHADOW_GUEST_VA_END, never with
 * reserved bits; refusals are counted by reason and returned as -L1_E*.
 *
 * Page sharing (share.c, for l1vmm/dedup_shadow.c): a frame's p2m_mfn may
 * name a stored copy or a zero frame instead of the guest's own frame
 * (own_mfn = first_mfn + gfn), always mapped read-only. Write tracking marks
 * frames write-protected (SF_WP); a guest write to one faults, and the fault
 * gives the writer its own frame back (copy-on-write) and records what
 * happened for the sharing engine (shadow__take_events). Page-table pages and
 * pinned pages (read by the host behind the shadows) are never shared: every
 * host access to guest memory resolves through p2m_mfn.
 *
 * Telling KVM about a changed *data* frame needs no machine flush: KVM drops
 * every translation of a host page when its host mapping changes (the MMU
 * notifier), so shadow__machine_forget() toggles PROT_EXEC on the frame (the
 * data stays, no writer is refused) and MADV_DONTNEED of a frame does the
 * same. That is what makes sharing and unsharing cheap here.
 *
 * Host reclaim (reclaim.c, the backend of reclaim/reclaim.h): a frame it
 * evicts is the guest's own frame, never a page table, a pinned frame, a
 * ballooned one or one on a copy. SF_EVICTED marks it from fence() (every
 * shadow leaf of it zapped, KVM told with shadow__machine_forget(): no vCPU
 * reaches the page afterwards) through discard() (its host page released)
 * until install() puts the fetched bytes back (or unfence() gives up, or the
 * balloon takes it, or the guest reports it free: then it reads zero). No
 * fill maps a marked frame, prefetch included. A guest fault on one lets go
 * of g->lock and calls the fetcher (shadow__set_fetcher), then fills;
 * SHADOW_FETCH_FAILED when the store cannot give it back (the vCPU retries
 * later, nothing is mapped). Host accesses (shadow__access, the validator,
 * an emulated write, shadow__pin) fetch the same way first; page sharing
 * skips marked frames. harvest() reads and clears the leaves' accessed bits
 * and makes KVM forget the frames it cleared, so a touch sets A again.
 *
 * Locking: g->lock serialises everything on one guest (its vCPUs fault
 * concurrently); m->lock the machine's frame allocator. Order: g->lock, then
 * m->lock. Host reclaim's fence/unfence/discard/install take g->lock under
 * the p2m lock (p2m lock, then g->lock); no fetch is made holding g->lock.
 */
#ifndef L1_MMU_SHADOW_H
#define L1_MMU_SHADOW_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmu/ept/ept.h"
#include "pvops/l1vmm_abi.h"

#define SHADOW_STUB_SLOT 511u       /* PML4 slot of l1vmm's subtree */
#define SHADOW_MAX_GUEST_MEM L1_RAM_HOLE_START /* shadow guests are one region */

/* ---- the machine ---- */

struct shadow_machine {
	struct ept_mem mem;       /* machine memory: registered with the machine VM */
	pthread_mutex_t lock;     /* protects the allocator below */
	uint64_t *free_map;       /* bit set = frame free */
	uint64_t nr_frames;
	uint64_t free_frames;
	bool quarantine;          /* freed frames wait for shadow__machine_release_quarantine() */
	uint64_t *quarantine_map; /* bit set = freed, not yet reusable (under lock) */
	uint64_t quarantined;     /* frames in quarantine_map (under lock) */
	uint64_t stub_pdpt_mfn;   /* l1vmm's slot-511 subtree (0 until set); set it
				   * before the first baseptr: roots link it when made */
	uint64_t search_hint;     /* no free frame below it (m->lock) */
};

/* Map bytes of machine memory (frames [0, reserved_low) are never handed out:
 * l1vmm's stub area). 0 or -errno. */
int shadow__machine_init(struct shadow_machine *m, uint64_t bytes, uint64_t reserved_low);
void shadow__machine_destroy(struct shadow_machine *m);
/* n contiguous frames; the first mfn, or -ENOMEM. */
int64_t shadow__alloc_frames(struct shadow_machine *m, uint64_t n);
void shadow__free_frames(struct shadow_machine *m, uint64_t mfn, uint64_t n);
/*
 * With m->quarantine set, freed frames are not handed out again until this
 * call: KVM here may keep translations it built from a shadow table frame
 * after l1vmm recycles the frame (docs/machine-notes.md), so the caller first
 * makes KVM drop everything it built from machine memory, then releases the
 * quarantine. Returns the number of frames released.
 */
uint64_t shadow__machine_release_quarantine(struct shadow_machine *m);
/* Host pointer to machine frame mfn (a whole page), or NULL. */
void *shadow__mfn_ptr(const struct shadow_machine *m, uint64_t mfn);
/* Free data frames (stored copies), bypassing the quarantine: their KVM
 * translations go with their host pages, which this discards. */
void shadow__free_data_frames(struct shadow_machine *m, uint64_t mfn, uint64_t n);
/*
 * Make KVM drop every translation of frames [mfn, mfn + n) without touching
 * their content: a PROT_EXEC round trip over their host mapping (the MMU
 * notifier zaps KVM's entries; writers are never refused). 0 or -errno.
 */
int shadow__machine_forget(struct shadow_machine *m, uint64_t mfn, uint64_t n);

/* ---- a guest ---- */

enum shadow_refusal {
	SHADOW_REFUSE_FOREIGN_GFN,   /* maps a gfn the guest does not own */
	SHADOW_REFUSE_PT_WRITABLE,   /* maps one of its page-table pages writable */
	SHADOW_REFUSE_RESERVED,      /* reserved bits, bad alignment, bad level */
	SHADOW_REFUSE_VA_RANGE,      /* a mapping at or above L1_SHADOW_GUEST_VA_END */
	SHADOW_REFUSE_NOT_PT,        /* an update of a page that is not a page table */
	SHADOW_REFUSE_TOO_MANY,      /* a batch above L1_MMU_UPDATE_MAX */
	SHADOW_REFUSE_BAD_WRITE,     /* a trapped write it cannot emulate */
	SHADOW_REFUSE_PINNED,        /* a page the host writes (pinned) linked as a table */
	SHADOW_NR_REFUSALS
};

struct shadow_stats {
	uint64_t faults;             /* page faults seen */
	uint64_t fills;              /* faults fixed by filling shadow entries */
	uint64_t prefetched;         /* entries filled ahead of a fault */
	uint64_t guest_faults;       /* faults that were the guest's: bounced */
	uint64_t pt_writes;          /* trapped writes to page tables, emulated */
	uint64_t updates;            /* mmu_update entries applied */
	uint64_t baseptrs;           /* new_baseptr calls accepted */
	uint64_t flushes;            /* shadow translations dropped on request */
	uint64_t tables;             /* shadow tables in use now */
	uint64_t wp_faults;          /* write faults on write-tracked frames */
	uint64_t cow_breaks;         /* writes that unshared a shared or zero frame */
	uint64_t populates;          /* first writes to never-written frames */
	uint64_t shares;             /* frames moved onto a copy or a zero frame */
	uint64_t share_races;        /* shares refused: the content changed (-EAGAIN) */
	uint64_t unshares;           /* frames taken off a copy or zero frame for the balloon */
	uint64_t forgets;            /* shadow__machine_forget() calls (KVM told) */
	uint64_t break_ns;           /* time spent in copy-on-write breaks */
	uint64_t forget_ns;          /* time spent in shadow__machine_forget() */
	uint64_t forget_cpu_ns;      /* thread CPU time of the same */
	uint64_t lost_events;        /* events not recorded: out of memory */
	uint64_t discard_errors;     /* own frames madvise() would not discard */
	uint64_t discards;           /* madvise(MADV_DONTNEED) calls on own frames */
	uint64_t discarded;          /* own frames they gave back */
	uint64_t ballooned_touches;  /* faults on frames the balloon took (mapped again) */
	uint64_t rmap_evictions;     /* leaves dropped: their frame had RMAP_FRAME_MAX */
	uint64_t table_quota_hits;   /* shadow tables refused: table_quota reached */
	uint64_t meta_quota_hits;    /* growths refused: meta_quota reached */
	uint64_t quota_drops;        /* all shadows dropped to stay within a quota */
	uint64_t meta_bytes;         /* l1vmm's growable memory for the shadows now */
	uint64_t reclaim_fences;     /* frames host reclaim fenced off (reclaim.c) */
	uint64_t reclaim_refusals;   /* fence() calls refused (-EBUSY) */
	uint64_t reclaim_installs;   /* frames whose bytes came back (install) */
	uint64_t reclaim_faults;     /* guest faults that met an evicted frame: fetched */
	uint64_t reclaim_host_fetches; /* host accesses that met one: fetched */
	uint64_t reclaim_fetch_errors; /* fetches that failed (the access is retried) */
	uint64_t pinned;             /* frames pinned now (shadow__pin, shadow__pin_unused) */
	uint64_t harvest_forgets;    /* shadow__machine_forget() calls of harvest() */
	uint64_t refusals[SHADOW_NR_REFUSALS];
};

struct shadow_guest_priv;        /* the derivation index, rmap, ... (shadow.c) */

/* Per-frame flags (g->frame[gfn]) for page sharing. */
enum {
	SF_WP = 1,       /* mapped read-only for tracking (always, while not own) */
	SF_WRITTEN = 2,  /* written since the last shadow__frame_written() */
	SF_UNPOP = 4,    /* UNPOPULATED when tracking started, no content seen yet */
	SF_PINNED = 8,   /* the host uses it behind the shadows: never shared */
	SF_STALE = 16,   /* write-protected, KVM not yet told (shadow__track_flush) */
	SF_ZEROPAGE = 32, /* SF_UNPOP, and the host mapped its zero page (a read):
			   * shadow__poll_populated() checks its content only */
	SF_ABSENT = 64,  /* not present in the shadows (ballooned): shadow__take() */
	SF_EVICTED = 128, /* host reclaim fenced it off or evicted it (reclaim.c):
			   * no shadow leaf maps it, an access fetches it first */
};

/* A growing list of gfns. */
struct shadow_gfns {
	uint64_t *gfn;
	size_t n, cap;
};

/* What a guest write did, for the sharing engine. */
enum shadow_event_kind { SHADOW_EV_POPULATE, SHADOW_EV_BREAK };
struct shadow_event {
	uint64_t gfn;
	enum shadow_event_kind kind;
};

/*
 * What an access to an evicted frame calls (host reclaim: the wiring passes
 * reclaim_vm__fetch and the VM's struct reclaim_vm). Called without g->lock;
 * 1 or 0: look again (fetched, or no longer evicted), -errno: not now.
 */
typedef int (*shadow_fetch_fn)(void *fctx, uint64_t gfn,
			       int (*install)(void *ictx, uint64_t gfn, const void *bytes),
			       void *ictx, uint64_t since_ns);

struct shadow_guest {
	struct shadow_machine *m;
	pthread_mutex_t lock;        /* protects everything below */
	struct ept_mem view;         /* the guest's RAM as guest-physical memory (not owning) */
	uint64_t first_mfn;          /* gfn 0 is this machine frame; the run is contiguous */
	uint64_t nr_frames;          /* gfns [0, nr_frames) */
	uint64_t *p2m_mfn;           /* gfn → mfn */
	uint8_t *pt_level;           /* gfn → 0, or the level (1..4) it is typed as */
	uint64_t guest_root_gpa;     /* the guest's PML4 (0 before the first baseptr) */
	uint64_t shadow_root_mfn;    /* what the machine vCPUs' CR3 holds for this guest */
	unsigned prefetch;           /* entries filled per fault, 1..512 (1 = none ahead) */
	uint64_t table_quota;        /* atomic: shadow tables at most (0: no limit) */
	uint64_t meta_quota;         /* atomic: meta_bytes at most (0: no limit) */
	bool flush_needed;           /* a present shadow entry changed since last taken */
	uint8_t *frame;              /* gfn → SF_* flags */
	bool tracking;               /* page sharing attached: writes are tracked */
	struct shadow_event *ev;     /* writes to report, in order */
	size_t nev, ev_cap;
	struct shadow_gfns stale;    /* SF_STALE gfns, for shadow__track_flush() */
	uint64_t stale_ns;           /* CLOCK_MONOTONIC of the last stale flush */
	struct shadow_gfns discard;  /* shared lately: their own frames are
				      * discarded by shadow__track_flush() */
	uint64_t discard_ns;         /* CLOCK_MONOTONIC of the last discard */
	struct shadow_stats stats;
	shadow_fetch_fn fetch;       /* host reclaim's (NULL: none); set before the vCPUs run */
	void *fetch_ctx;
	struct shadow_guest_priv *priv;
};

/*
 * Quotas (per guest; reaching one costs that guest only: the table that
 * would exceed it is not made, so the fault drops the guest's own shadows and
 * fills again). The defaults for a guest of mem_bytes: SHADOW_TABLES_BASE
 * tables plus one per 256 KiB of RAM (8x what a 4 KiB map of all of it takes);
 * SHADOW_META_PER_TABLE bytes of metadata per table of that quota.
 */
#define SHADOW_TABLES_BASE 256u
#define SHADOW_META_PER_TABLE 32768u
uint64_t shadow__default_table_quota(uint64_t mem_bytes);
uint64_t shadow__default_meta_quota(uint64_t mem_bytes);

/* Give a guest mem_bytes (<= SHADOW_MAX_GUEST_MEM, page multiple) of machine
 * frames, with the default quotas. 0 or -errno (-ENOMEM: the machine is full). */
int shadow__guest_init(struct shadow_guest *g, struct shadow_machine *m, uint64_t mem_bytes);
void shadow__guest_destroy(struct shadow_guest *g);

/*
 * Build boot page tables in guest RAM at at_gpa (page aligned): a 4 KiB
 * identity map of the guest's RAM, writable except the table pages; typed
 * and made current (as new_baseptr would). *pml4_gpa and *end_gpa (first gpa
 * after the tables) out. 0 or -L1_ENOMEM (not enough RAM above at_gpa).
 */
int shadow__build_boot_tables(struct shadow_guest *g, uint64_t at_gpa, uint64_t *pml4_gpa,
			      uint64_t *end_gpa);

/* Validate the tree at pml4_gpa, type its pages, drop the old shadows, start a
 * new shadow root. 0 or -L1_E* (nothing changed; the refusal is counted).
 * On success shadow_root_mfn usually changes (the old root is cleared in place
 * when no frame is free): reload CR3. Nothing else moves the root. */
int shadow__new_baseptr(struct shadow_guest *g, uint64_t pml4_gpa);

enum shadow_fault_result {
	SHADOW_FIXED,        /* shadow entries filled: retry the instruction */
	SHADOW_GUEST_FAULT,  /* the guest's own tables say no: bounce #PF to the guest */
	SHADOW_PT_WRITE,     /* a write to a page-table page: emulate it */
	SHADOW_NO_MEMORY,    /* no machine frame for a shadow table, even after dropping all */
	SHADOW_FETCH_FAILED, /* the frame is in host reclaim's store and could not be
			      * fetched now: retry the instruction later (never bounce) */
	SHADOW_EVICTED,      /* shadow__fault_nowait(): the frame is in host reclaim's
			      * store; nothing was fetched */
};

/* A #PF at va with the x86 error code (bit 0 P, 1 W, 2 U, 3 RSVD, 4 I/D). */
enum shadow_fault_result shadow__fault(struct shadow_guest *g, uint64_t va, uint32_t error_code);
/* The same, but a frame in host reclaim's store in the way is not fetched:
 * SHADOW_EVICTED with it in *gfn (pseudo page faults fetch it elsewhere). */
enum shadow_fault_result shadow__fault_nowait(struct shadow_guest *g, uint64_t va,
					     uint32_t error_code, uint64_t *gfn);
/* After shadow__fault_nowait() said SHADOW_EVICTED with gfn: go on as
 * shadow__fault() would (fetch, fault again), without walking or counting
 * the fault a second time. */
enum shadow_fault_result shadow__fault_evicted(struct shadow_guest *g, uint64_t va,
					       uint32_t error_code, uint64_t gfn);
/* Fetch gfn from host reclaim's store, as a fault would (no lock held; waits
 * while an eviction of it is in flight). 0 (also: it was not out), -errno. */
int shadow__fetch(struct shadow_guest *g, uint64_t gfn);

/*
 * Emulate the trapped write at va (a page-table page) by the instruction at
 * insn[0, len) with the guest's registers regs: decode it (mov r/m64 or r/m32
 * from a register, mov imm32 to r/m64 or r/m32), validate the new entry like
 * an mmu_update, apply it. The instruction's length (the caller advances RIP),
 * or -L1_E* (refused and counted: the caller bounces the fault to the guest).
 */
int shadow__emulate_pt_write(struct shadow_guest *g, uint64_t va, const uint8_t *insn,
			     size_t len, const struct kvm_regs *regs);

/* Apply req[0, count) in order; stop at the first refused one. 0 or -L1_E*;
 * *done = entries applied. count > L1_MMU_UPDATE_MAX: -L1_E2BIG, nothing done. */
int shadow__mmu_update(struct shadow_guest *g, const struct l1_mmu_update *req, uint64_t count,
		       uint64_t *done);

/* Drop the shadow translation of va, or of everything (L1_FLUSH_ALL: the root
 * is emptied in place, shadow_root_mfn stays). */
void shadow__flush(struct shadow_guest *g, uint64_t va);

/* Translate va through the guest's own tables (not the shadows): the gpa, or
 * -L1_EFAULT when not mapped (or, with write, not writable or a page-table
 * page: the host must not write a table behind the validator). No A/D bits. */
int shadow__translate(struct shadow_guest *g, uint64_t va, bool write, uint64_t *gpa);

/* Remove every shadow mapping of machine frame mfn; how many there were. */
unsigned shadow__unmap_frame(struct shadow_guest *g, uint64_t mfn);

/* True (and cleared) when a present shadow entry changed since the last call. */
bool shadow__take_flush_needed(struct shadow_guest *g);

/*
 * Copy len bytes between buf and the guest at va, through the guest's own
 * tables and p2m_mfn, under g->lock (so a share cannot race it). A write
 * refuses page-table pages and does what a guest write would (copy-on-write,
 * first-write report). 0 or -L1_EFAULT (nothing more copied).
 */
int shadow__access(struct shadow_guest *g, uint64_t va, void *buf, size_t len, bool write);

/*
 * The same at guest-physical gpa (a device's access: virtio-blk data): no
 * walk; a write refuses page-table frames. Each evicted frame met is fetched
 * first and counted in *fetched, or, with fetched NULL, not fetched: the call
 * stops there and returns 1 (the bytes before it are copied). 0, 1, or
 * -L1_EFAULT (outside the guest, a page table, or a fetch that failed).
 */
int shadow__access_gpa(struct shadow_guest *g, uint64_t gpa, void *buf, size_t len, bool write,
		       unsigned *fetched);

/* ---- page sharing (share.c) ---- */

/* The host keeps using gfn behind the shadows (shared info): never share it,
 * never evict it, and the validator refuses it as a page table. */
void shadow__pin(struct shadow_guest *g, uint64_t gfn);
/*
 * Pin [gfn, gfn + n) for a user that must have the frames to itself (the
 * double-paging bitmap): evicted frames are fetched first, and the check
 * that none is a page table or pinned already and the pins happen under one
 * hold of the guest's lock. 0, -EINVAL (outside g), -EBUSY (a page table or
 * pinned), -EAGAIN (frames kept being evicted) or a fetch's -errno; on an
 * error nothing is pinned.
 */
int shadow__pin_unused(struct shadow_guest *g, uint64_t gfn, uint64_t n);
/* Release the pins of [gfn, gfn + n) (frames pinned with shadow__pin_unused). */
void shadow__unpin(struct shadow_guest *g, uint64_t gfn, uint64_t n);
/*
 * Start tracking writes: every frame with content is write-protected; frames
 * UNPOPULATED in p2m are left writable and watched by
 * shadow__poll_populated(). 0 or -ENOMEM.
 */
int shadow__track_start(struct shadow_guest *g, const struct p2m *p2m);
/*
 * Record a populate event for every frame UNPOPULATED at the start that the
 * guest wrote since: one that holds anything but zeros, or a page of its own
 * holding zeros (/proc/self/pagemap tells it from the host's zero page,
 * which a read maps). A frame once seen on the zero page is checked by
 * content only afterwards: zeros written over it later stay unreported
 * (they read the same as never written). 0 or -errno.
 */
int shadow__poll_populated(struct shadow_guest *g);
/*
 * Stop tracking; every frame maps its own frame again (content of shared
 * frames is not restored: the guest must not run again) and the events are
 * dropped.
 */
void shadow__track_stop(struct shadow_guest *g);
/* The frame's current content (own, copy or zero frame), or NULL when it is
 * not shareable (page table, pinned, out of range). */
const void *shadow__frame_content(struct shadow_guest *g, uint64_t gfn);
/* Written since the last ask (the first ask after tracking starts says yes);
 * write-protects the frame for the next ask. */
bool shadow__frame_written(struct shadow_guest *g, uint64_t gfn);
/*
 * Map gfn read-only onto machine frame to_mfn (a copy, or a zero frame) if
 * the guest's own frame still holds the same bytes, and discard the own
 * frame. 0, -EAGAIN (the content differs now), -EBUSY (page table, pinned, or
 * not own), -EINVAL.
 */
int shadow__share(struct shadow_guest *g, uint64_t gfn, uint64_t to_mfn);
/*
 * The balloon is about to discard frames [gfn, gfn + n): every one that maps
 * a copy or a zero frame maps its own frame again (content undefined: its
 * bytes are not copied back). Sets flush_needed when a leaf moved: KVM may
 * hold read-only translations of the copies, and the caller must flush
 * before the guest runs on. 0 or -EINVAL (out of range; nothing changed).
 */
int shadow__unshare(struct shadow_guest *g, uint64_t gfn, uint64_t n);

/*
 * Release the host memory of frames [gfn, gfn + n) of g (a balloon's
 * discard): one MADV_DONTNEED per run of consecutive machine frames, which
 * also makes KVM drop its translations of them. The frames are not freed in
 * the machine's bitmap: a guest's own frame is first_mfn + gfn for as long as
 * the guest lives, and the machine mapping is MAP_NORESERVE with room for
 * every guest and copy, so the memory that matters is the host's, and the
 * discard returns it. The frames must map no copy (shadow__unshare first);
 * nothing else changes their p2m_mfn meanwhile (the caller's p2m move).
 * 0, -EBUSY (a frame is in use: shadow__in_use), -EFAULT (a frame outside
 * machine memory), or -errno.
 */
int shadow__discard(struct shadow_guest *g, uint64_t gfn, uint64_t n);
/* Whether a frame of [gfn, gfn + n) is one the balloon may not have: a page
 * table of the guest's tree (discarding it would zero it behind the shadows
 * derived from it) or a page the host uses (pinned); true outside g. */
bool shadow__in_use(struct shadow_guest *g, uint64_t gfn, uint64_t n);
/*
 * The balloon takes frames [gfn, gfn + n): they are not present in g's
 * shadows from now on (their leaves are dropped, flush_needed set; prefetch
 * leaves them out), then discarded as above. A guest access to one faults
 * into l1vmm, which counts it (stats.ballooned_touches) and maps the frame
 * again: it reads zero, and a write takes host memory back, as in ept mode,
 * where KVM repopulates silently. 0, or shadow__discard()'s error (the
 * frames are present again; -EBUSY: in use, nothing changed).
 */
int shadow__take(struct shadow_guest *g, uint64_t gfn, uint64_t n);
/* The balloon gives frames [gfn, gfn + n) back: present again (they fill on
 * the next access, reading zero). 0, or -EFAULT (outside g). */
int shadow__give_back(struct shadow_guest *g, uint64_t gfn, uint64_t n);
/* Frames [gfn, gfn + n) are UNPOPULATED again: report their first write as a
 * populate (shadow__poll_populated, or the write fault). */
void shadow__unpopulated(struct shadow_guest *g, uint64_t gfn, uint64_t n);
/* Tell KVM about frames write-protected lately, and give the host the own
 * frames of the frames shared lately (scan_end): batched, each at most 1 s
 * after the fact. */
void shadow__track_flush(struct shadow_guest *g);
/* How many frames shadow__track_flush() would tell KVM about or give back
 * now (0: it would do nothing). */
uint64_t shadow__track_flush_due(struct shadow_guest *g);
/* Take the recorded events (the caller frees *out); their number. */
size_t shadow__take_events(struct shadow_guest *g, struct shadow_event **out);

#endif
