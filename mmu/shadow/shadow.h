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
 * Locking: g->lock serialises everything on one guest (its vCPUs fault
 * concurrently); m->lock the machine's frame allocator. Order: g->lock, then
 * m->lock.
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

/* ---- a guest ---- */

enum shadow_refusal {
	SHADOW_REFUSE_FOREIGN_GFN,   /* maps a gfn the guest does not own */
	SHADOW_REFUSE_PT_WRITABLE,   /* maps one of its page-table pages writable */
	SHADOW_REFUSE_RESERVED,      /* reserved bits, bad alignment, bad level */
	SHADOW_REFUSE_VA_RANGE,      /* a mapping at or above L1_SHADOW_GUEST_VA_END */
	SHADOW_REFUSE_NOT_PT,        /* an update of a page that is not a page table */
	SHADOW_REFUSE_TOO_MANY,      /* a batch above L1_MMU_UPDATE_MAX */
	SHADOW_REFUSE_BAD_WRITE,     /* a trapped write it cannot emulate */
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
	uint64_t refusals[SHADOW_NR_REFUSALS];
};

struct shadow_guest_priv;        /* the derivation index, rmap, ... (shadow.c) */

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
	bool flush_needed;           /* a present shadow entry changed since last taken */
	struct shadow_stats stats;
	struct shadow_guest_priv *priv;
};

/* Give a guest mem_bytes (<= SHADOW_MAX_GUEST_MEM, page multiple) of machine
 * frames. 0 or -errno (-ENOMEM: the machine is full). */
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
};

/* A #PF at va with the x86 error code (bit 0 P, 1 W, 2 U, 3 RSVD, 4 I/D). */
enum shadow_fault_result shadow__fault(struct shadow_guest *g, uint64_t va, uint32_t error_code);

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

#endif
