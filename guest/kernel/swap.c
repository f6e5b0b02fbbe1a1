// SPDX-License-Identifier: MIT
/*
 * DOC: the guest pages for itself: a swap region backed by the virtio-blk disk.
 *
 * `swap=virtio` on the command line turns it on. A task asks for a region
 * (SYS_SWAP_ALLOC, at most SWAP_MAX_BYTES, one at a time): virtual memory
 * at SWAP_VA (PML4 slot 1) mapped with 4 KiB pages, no frame behind it
 * until touched. Each page's PTE is in one of three states:
 *   0                  never touched: a fault gives it a zeroed frame;
 *   frame | P ...      resident;
 *   PTE_SWAPPED        on the disk, in slot slot_of(page): a fault reads it
 *                      back into a frame.
 * Frames come from user memory (mm__alloc_frames) while more than
 * SWAP_RESERVE of it is free; below that (the guest runs short of frames)
 * a fault takes the frame of a resident page instead, SWAP_BATCH victims at
 * a time: their PTEs become PTE_SWAPPED, one TLB flush, each is written to
 * its slot (a page keeps its slot from its first swap-out until the region
 * is freed, so its slot is always its own), and their frames are reused.
 *
 * The victims are chosen by a clock over the resident pages (a ring of
 * page numbers in the order they became resident, so the hand never walks
 * pages that are not in RAM): a page whose accessed bit is set gets it
 * cleared (and its TLB entry flushed, so the next access sets it again) and
 * a second chance at the back of the ring; one found clear goes. ept mode: the CPU sets the accessed bits in
 * the guest's own tables. Shadow mode: l1vmm walks its shadow tables, never
 * the guest's, and leaves the guest's accessed bits as the guest wrote them
 * (set: every PTE is made with A and D, which l1vmm wants before it maps a
 * page writable), so the clock there is first in, first out: each page the
 * hand passes goes. Every PTE change goes through pv_ops.mmu, so in shadow
 * mode it is an mmu_update l1vmm validates; new page-table pages are made
 * read-only in the kernel's map before they are linked, as l1vmm requires.
 *
 * Disk I/O is synchronous (kernel/virtio_blk.c): a fault that swaps out and
 * in makes two requests. Slot 0 of the disk is written with zeros at
 * start and never given out: in ept mode, where every kernel instruction is
 * emulated, a zeroed frame is a one-request read of it rather than 512
 * emulated stores. SWAP_FREE (and nothing else: a task that exits without
 * it leaves the region as it is) frees every frame and slot.
 *
 * One vCPU only: swapping a page out on one CPU while another may still
 * write it through its TLB would lose the write, and the kernel has no TLB
 * shootdown in shadow mode; with more CPUs, swap=virtio is refused at boot.
 * No double paging (pvops/l1vmm_abi.h, L1_FEAT_DP): at start the kernel
 * registers a bitmap with l1vmm in which l1vmm marks the frames it holds in
 * its compressed store. The clock passes over a page whose frame is marked
 * (l1vmm would have to read it out of its store to write it to the disk),
 * in its first lap and at most SWAP_BATCH times a batch; a marked page the clock takes anyway is written out as usual (l1vmm
 * copies it from its store to the disk, not into RAM), and its frame is
 * then hinted dropped (L1_DP_HINT, kind L1_DP_ZEROED) before it is reused,
 * so l1vmm forgets the stored bytes instead of fetching them; the frames
 * l1vmm says read zero now are marked so (spare_zero), and a first touch
 * that gets one maps it as it is instead of clearing it (in ept mode a disk
 * read from emulated CPL0, the dearest part of a zero fill).
 *
 * All state is under swap_lock (faults and system calls run with
 * interrupts off).
 */
#include "kernel/swap.h"

#include "arch/x86/x86.h"
#include "kernel/console.h"
#include "kernel/mm.h"
#include "kernel/pvops.h"
#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include "kernel/virtio_blk.h"
#include "lib/cpu.h"
#include "lib/string.h"

#define SWAP_VA         (1ull << 39)           /* PML4 slot 1 */
#define SWAP_MAX_BYTES  (1ull << 30)           /* one page directory */
#define SWAP_MAX_PAGES  (SWAP_MAX_BYTES >> PAGE_SHIFT)
#define SWAP_RESERVE    (2ull << 20)           /* user memory left to the rest of the kernel */
#define SWAP_MAX_SLOTS  (1u << 18)             /* 1 GiB of disk */
#define SLOT_SECTORS    (PAGE_SIZE / VBLK_SECTOR)
#define PTE_SWAPPED     (1ull << 9)            /* software bit, P clear: on the disk */
#define PTE_ADDR        0x000ffffffffff000ull
#define TABLE (PTE_P | PTE_RW | PTE_US | PTE_A)
#define LEAF  (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D)
#define SLOTS_PER_FRAME (PAGE_SIZE / sizeof(uint32_t))
#define SWAP_BATCH      64                     /* pages evicted under one TLB flush */

static struct spinlock swap_lock;
static bool enabled;
static uint64_t *pdpt, *pd;                    /* the region's upper tables */
static uint64_t *pt[SWAP_MAX_PAGES / 512];     /* leaf tables, linked while the region lives */
static uint32_t *slot_page[SWAP_MAX_PAGES / SLOTS_PER_FRAME]; /* page -> slot (0: none) */
static uint64_t slot_map[SWAP_MAX_SLOTS / 64]; /* slots in use; slot 0 always */
static uint32_t *ring_page[SWAP_MAX_PAGES / SLOTS_PER_FRAME + 1]; /* the clock's ring */
static uint64_t nr_slots, region_pages, ring_head, ring_tail; /* free-running indices */
static bool region_live;
static uint64_t spare[SWAP_BATCH];             /* frames evicted, not yet reused */
static uint64_t spare_zero;                    /* bit i: spare[i] reads zero (l1vmm said so) */
static unsigned int nr_spare;
static struct l1g_swap_stats st;
static volatile uint64_t *host_bitmap;         /* l1vmm's marks: frames in its store */
static uint64_t host_bitmap_frames;            /* frames it covers */
static struct l1_hypercall_block dp_block;     /* ept mode; under swap_lock (or at init) */
static uint64_t dp_hints[SWAP_BATCH];

extern const struct l1_start_info *kernel__start_info;

static uint64_t *pte_of(uint64_t page)
{
	return &pt[page / 512][page % 512];
}

static uint32_t *slot_of(uint64_t page)
{
	return &slot_page[page / SLOTS_PER_FRAME][page % SLOTS_PER_FRAME];
}

static uint64_t va_of(uint64_t page)
{
	return SWAP_VA + (page << PAGE_SHIFT);
}

/* A zeroed kernel frame to become a page table: read-only in the kernel's map. */
static uint64_t *table_page(void)
{
	uint64_t *t = mm__alloc_frames(0, false);

	if (!t)
		return 0;
	memset(t, 0, PAGE_SIZE);
	paging__make_table((uint64_t)t);
	return t;
}

static uint32_t slot_alloc(void)
{
	for (uint64_t w = 0; w < (nr_slots + 63) / 64; w++) {
		if (slot_map[w] == ~0ull)
			continue;
		uint64_t s = w * 64 + (uint64_t)__builtin_ctzll(~slot_map[w]);

		if (s >= nr_slots)
			break;
		slot_map[w] |= 1ull << (s % 64);
		st.slots_used++;
		return (uint32_t)s;
	}
	return 0;
}

static void slot_free(uint32_t s)
{
	if (!s)
		return;
	slot_map[s / 64] &= ~(1ull << (s % 64));
	st.slots_used--;
}

static int disk_io(bool write, uint32_t slot, uint64_t frame)
{
	int rc = vblk__rw(write, (uint64_t)slot * SLOT_SECTORS, frame, PAGE_SIZE);

	if (rc < 0)
		st.io_errors++;
	return rc;
}

/* Register the double-paging bitmap with l1vmm, when it offers the protocol. */
static void host_bitmap_init(void)
{
	const struct l1_start_info *si = kernel__start_info;
	uint64_t frames = si->mem_bytes >> PAGE_SHIFT;
	uint64_t pages = (frames / 8 + PAGE_SIZE - 1) / PAGE_SIZE;
	unsigned int order = 0;
	uint64_t *bm;

	if (!(si->features & L1_FEAT_DP) || pages > L1_DP_BITMAP_MAX_PAGES)
		return;
	while ((1ull << order) < pages)
		order++;
	if (order > MM_MAX_ORDER || !(bm = mm__alloc_frames(order, false)))
		return;
	memset(bm, 0, PAGE_SIZE << order);
	if (pvops__hypercall(&dp_block, L1_HC_DP, L1_DP_REGISTER, (uint64_t)bm >> PAGE_SHIFT,
			     1ull << order, 0) < 0) {
		console__printf("swap: l1vmm refused the store bitmap\n");
		mm__free_frames(bm, order);
		return;
	}
	host_bitmap = bm;
	host_bitmap_frames = (PAGE_SIZE << order) * 8;
	st.host_bitmap = 1;
}

/* Whether l1vmm holds the frame at addr in its store now (a hint). */
static bool host_holds(uint64_t addr)
{
	uint64_t gfn = addr >> PAGE_SHIFT;

	return host_bitmap && gfn < host_bitmap_frames &&
	       (host_bitmap[gfn / 64] >> (gfn % 64) & 1);
}

/* The value of word key= on cmdline, or NULL. */
static const char *word_value(const char *cmdline, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = cmdline; *p; p++)
		if ((p == cmdline || p[-1] == ' ') && !strncmp(p, key, n))
			return p + n;
	return 0;
}

void swap__init(const char *cmdline)
{
	const char *v = word_value(cmdline, "swap=");
	uint64_t *zero;

	if (!v)
		return;
	if (strncmp(v, "virtio", 6) || (v[6] && v[6] != ' ')) {
		console__printf("swap: unknown swap= (want swap=virtio): no swap\n");
		return;
	}
	if (nr_cpus != 1) {
		console__printf("swap: swap=virtio needs one vCPU (no TLB shootdown): no swap\n");
		return;
	}
	if (!vblk__capacity()) {
		console__printf("swap: no working virtio-blk disk (give the VM one: vms/NAME/disk): "
				"no swap\n");
		return;
	}
	nr_slots = vblk__capacity() / SLOT_SECTORS;
	if (nr_slots > SWAP_MAX_SLOTS)
		nr_slots = SWAP_MAX_SLOTS;
	zero = mm__alloc_frames(0, false);
	pd = table_page();
	pdpt = mm__alloc_frames(0, false);
	if (nr_slots < 2 || !zero || !pdpt || !pd) {
		console__printf("swap: disk or memory too small: no swap\n");
		return;
	}
	memset(zero, 0, PAGE_SIZE);
	if (disk_io(true, 0, (uint64_t)zero) < 0) {
		console__printf("swap: cannot write the disk: no swap\n");
		return;
	}
	mm__free_frames(zero, 0);
	slot_map[0] = 1; /* the zero slot */
	/* shadow mode: l1vmm takes updates to tables of the tree only, so the
	 * new top is filled with plain stores, then made read-only and linked */
	memset(pdpt, 0, PAGE_SIZE);
	pdpt[0] = (uint64_t)pd | TABLE;
	paging__make_table((uint64_t)pdpt);
	paging__link_pml4(SWAP_VA >> 39, (uint64_t)pdpt | TABLE);
	pv_ops.mmu.commit();
	enabled = true;
	st.enabled = 1;
	host_bitmap_init();
	st.slots = nr_slots - 1;
	console__printf("swap: on, %lu slots of 4 KiB on the virtio-blk disk, region at %#llx\n",
			nr_slots - 1, SWAP_VA);
}

static void free_region_tables(void)
{
	for (uint64_t i = 0; i < SWAP_MAX_PAGES / 512 && pt[i]; i++) {
		pv_ops.mmu.set_pte(&pd[i], 0);
		pv_ops.mmu.commit();
		paging__unmake_table((uint64_t)pt[i]);
		mm__free_frames(pt[i], 0);
		pt[i] = 0;
	}
	for (uint64_t i = 0; i < SWAP_MAX_PAGES / SLOTS_PER_FRAME && slot_page[i]; i++) {
		mm__free_frames(slot_page[i], 0);
		slot_page[i] = 0;
	}
	for (uint64_t i = 0; i < SWAP_MAX_PAGES / SLOTS_PER_FRAME + 1 && ring_page[i]; i++) {
		mm__free_frames(ring_page[i], 0);
		ring_page[i] = 0;
	}
	pv_ops.mmu.flush_tlb();
}

int64_t swap__alloc(uint64_t bytes)
{
	uint64_t pages = (bytes + PAGE_SIZE - 1) >> PAGE_SHIFT;
	int64_t rc = (int64_t)SWAP_VA;

	if (!enabled)
		return -L1G_ENOSYS;
	if (!bytes || bytes > SWAP_MAX_BYTES)
		return -L1G_EINVAL;
	spin__lock(&swap_lock);
	if (region_live) {
		spin__unlock(&swap_lock);
		return -L1G_EAGAIN;
	}
	for (uint64_t i = 0; i < (pages + 511) / 512 && rc > 0; i++) {
		pt[i] = table_page();
		if (!pt[i])
			rc = -L1G_ENOMEM;
		else
			pv_ops.mmu.set_pte(&pd[i], (uint64_t)pt[i] | TABLE);
	}
	for (uint64_t i = 0; i < (pages + SLOTS_PER_FRAME - 1) / SLOTS_PER_FRAME && rc > 0; i++) {
		slot_page[i] = mm__alloc_frames(0, false);
		if (!slot_page[i])
			rc = -L1G_ENOMEM;
		else
			memset(slot_page[i], 0, PAGE_SIZE);
	}
	for (uint64_t i = 0; i < (pages + SLOTS_PER_FRAME) / SLOTS_PER_FRAME && rc > 0; i++) {
		ring_page[i] = mm__alloc_frames(0, false); /* written before read: not zeroed */
		if (!ring_page[i])
			rc = -L1G_ENOMEM;
	}
	pv_ops.mmu.commit();
	if (rc < 0) {
		free_region_tables();
	} else {
		region_pages = pages;
		region_live = true;
		ring_head = ring_tail = 0;
	}
	spin__unlock(&swap_lock);
	return rc;
}

int64_t swap__free(uint64_t addr)
{
	if (!enabled || addr != SWAP_VA)
		return -L1G_EINVAL;
	spin__lock(&swap_lock);
	if (!region_live) {
		spin__unlock(&swap_lock);
		return -L1G_EINVAL;
	}
	for (uint64_t i = 0; i < region_pages; i++) {
		uint64_t pte = *pte_of(i);

		if (pte & PTE_P) {
			mm__free_frames((void *)(pte & PTE_ADDR), 0);
			st.resident--;
		}
		slot_free(*slot_of(i));
	}
	while (nr_spare)
		mm__free_frames((void *)spare[--nr_spare], 0);
	free_region_tables();
	region_pages = 0;
	region_live = false;
	spin__unlock(&swap_lock);
	return 0;
}

void swap__stats(struct l1g_swap_stats *out)
{
	spin__lock(&swap_lock);
	*out = st;
	spin__unlock(&swap_lock);
}

/* The resident pages in the order the hand meets them (ring[head..tail)). */
static uint32_t *ring_slot(uint64_t i)
{
	i %= region_pages + 1;
	return &ring_page[i / SLOTS_PER_FRAME][i % SLOTS_PER_FRAME];
}

static void ring_push(uint64_t page)
{
	*ring_slot(ring_tail++) = (uint32_t)page;
}

/*
 * The clock over the resident pages: up to SWAP_BATCH of them whose
 * accessed bit is clear (ept mode: a set one is cleared and goes round
 * again) are unmapped, then one TLB flush for all (shadow mode: one machine
 * flush, which l1vmm rate-limits, instead of one a page), then each is
 * written to its slot and its frame goes to spare[]. A page whose write
 * fails is mapped again (its bytes are still in its frame) and goes round.
 * How many frames spare[] holds now.
 */
static unsigned int evict_batch(void)
{
	uint64_t page[SWAP_BATCH], old[SWAP_BATCH], t = cpu__rdtsc(), t2;
	uint64_t resident = ring_tail - ring_head;
	unsigned int n = 0, passed = 0;

	for (uint64_t step = 0; step < 2 * resident && n < SWAP_BATCH; step++) {
		uint64_t p = *ring_slot(ring_head++), *pte = pte_of(p), v = *pte;
		uint32_t *slot = slot_of(p);

		st.clock_steps++;
		if (!pvops__shadow && (v & PTE_A)) {
			pv_ops.mmu.set_pte(pte, v & ~PTE_A);
			pv_ops.mmu.flush_page(va_of(p));
			ring_push(p);
			continue;
		}
		if (step < resident && passed < SWAP_BATCH && host_holds(v & PTE_ADDR)) {
			/* l1vmm holds it: another victim, if one comes soon (at
			 * most SWAP_BATCH passes a batch: where l1vmm holds
			 * nearly everything, looking costs more than it saves) */
			passed++;
			st.host_passed++;
			ring_push(p);
			continue;
		}
		if (!*slot && !(*slot = slot_alloc())) {
			ring_push(p);
			break; /* the disk is full */
		}
		pv_ops.mmu.set_pte(pte, PTE_SWAPPED);
		page[n] = p;
		old[n++] = v;
	}
	if (!n) {
		st.tsc_clock += cpu__rdtsc() - t;
		return nr_spare;
	}
	pv_ops.mmu.flush_tlb(); /* commits: no CPU writes these pages from here */
	t2 = cpu__rdtsc();
	st.tsc_clock += t2 - t;
	unsigned int hints = 0, hint_spare[SWAP_BATCH];
	for (unsigned int i = 0; i < n; i++) {
		bool held = host_holds(old[i] & PTE_ADDR);
		int rc = disk_io(true, *slot_of(page[i]), old[i] & PTE_ADDR);

		if (rc < 0) {
			pv_ops.mmu.set_pte(pte_of(page[i]), old[i]);
			ring_push(page[i]);
			continue;
		}
		st.swap_outs++;
		st.resident--;
		spare_zero &= ~(1ull << nr_spare);
		if (held) {
			hint_spare[hints] = nr_spare;
			dp_hints[hints++] = (old[i] & PTE_ADDR) >> PAGE_SHIFT;
		}
		spare[nr_spare++] = old[i] & PTE_ADDR;
	}
	pv_ops.mmu.commit();
	t = cpu__rdtsc();
	st.tsc_out += t - t2;
	/* on the disk now: l1vmm may forget what it stored of them */
	if (hints) {
		int64_t k = pvops__hypercall(&dp_block, L1_HC_DP, L1_DP_HINT, (uint64_t)dp_hints,
					     hints, L1_DP_ZEROED);

		if (k > 0)
			st.host_hinted += (uint64_t)k;
		for (int64_t i = 0; i < k && i < hints; i++) /* the first k read zero */
			spare_zero |= 1ull << hint_spare[i];
		st.tsc_hint += cpu__rdtsc() - t;
	}
	return nr_spare;
}

/* A frame for a faulting page: a spare one, fresh user memory while there is
 * more than SWAP_RESERVE of it (or too few pages are resident to make a
 * batch worth it: then the reserve's), else one a batch of evictions frees.
 * 0: none at all. *zero: the frame reads zero (l1vmm made it so). */
static uint64_t get_frame(bool *zero)
{
	uint64_t f = 0;

	*zero = false;
	if (!nr_spare && (mm__user_free_bytes() > SWAP_RESERVE || st.resident < 2 * SWAP_BATCH))
		f = (uint64_t)mm__alloc_frames(0, true);
	if (!f && (nr_spare || evict_batch())) {
		f = spare[--nr_spare];
		*zero = spare_zero >> nr_spare & 1;
	}
	return f;
}

bool swap__fault(uint64_t addr)
{
	uint64_t page, *pte, v, frame, t0, t;
	bool ok = false, zero;

	if (!enabled || addr < SWAP_VA || addr - SWAP_VA >= SWAP_MAX_BYTES)
		return false;
	spin__lock(&swap_lock);
	page = (addr - SWAP_VA) >> PAGE_SHIFT;
	if (!region_live || page >= region_pages)
		goto out;
	pte = pte_of(page);
	v = *pte;
	if (v & PTE_P) { /* a stale TLB entry, or a bit the host could not set: retry */
		pv_ops.mmu.flush_page(va_of(page));
		ok = true;
		goto out;
	}
	t0 = cpu__rdtsc();
	frame = get_frame(&zero);
	if (!frame)
		goto out;
	t = cpu__rdtsc();
	if (v & PTE_SWAPPED) {
		if (disk_io(false, *slot_of(page), frame) < 0)
			goto give_back;
		st.swap_ins++;
		st.tsc_in += cpu__rdtsc() - t;
	} else {
		if (zero)
			st.zero_hinted++;
		else if (pvops__shadow)
			memset((void *)frame, 0, PAGE_SIZE);
		else if (disk_io(false, 0, frame) < 0)
			goto give_back;
		st.zero_fills++;
		st.tsc_zero += cpu__rdtsc() - t;
	}
	t = cpu__rdtsc();
	pv_ops.mmu.set_pte(pte, frame | LEAF);
	pv_ops.mmu.commit();
	ring_push(page);
	st.resident++;
	st.faults++;
	st.tsc_map += cpu__rdtsc() - t;
	st.tsc_fault += cpu__rdtsc() - t0;
	ok = true;
	goto out;
give_back:
	mm__free_frames((void *)frame, 0);
out:
	spin__unlock(&swap_lock);
	return ok;
}
