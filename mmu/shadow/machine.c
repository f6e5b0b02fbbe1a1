/* SPDX-License-Identifier: MIT */
/*
 * DOC: the machine's frame allocator.
 *
 * Machine memory is one ept_mem mapping (a single region at machine-physical
 * 0, so bytes <= L1_RAM_HOLE_START). A bitmap says which frames are free;
 * frames [0, reserved_low) never are (l1vmm's stub area). Allocation is
 * first fit from a hint (the lowest frame that may be free), which keeps the
 * common one-frame allocation of a shadow table short. The allocator neither
 * zeroes nor discards: callers zero shadow tables on allocation, and guest
 * RAM is discarded (reads as zero) when a guest takes and gives back frames.
 *
 * Frames freed while m->quarantine is set go to a second bitmap instead and
 * come back only through shadow__machine_release_quarantine() (shadow.h).
 *
 * Locking: m->lock around the bitmaps, the counters and the hint.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mmu/shadow/shadow_priv.h"

static bool frame_free(const struct shadow_machine *m, uint64_t f)
{
	return m->free_map[f / 64] >> (f % 64) & 1;
}

int shadow__machine_init(struct shadow_machine *m, uint64_t bytes, uint64_t reserved_low)
{
	*m = (struct shadow_machine){ 0 };
	if (bytes == 0 || bytes % EPT_PAGE_SIZE || bytes > SHADOW_MAX_GUEST_MEM)
		return -EINVAL;
	uint64_t nr = bytes / EPT_PAGE_SIZE;
	if (reserved_low > nr)
		return -EINVAL;
	int err = ept__mem_init(&m->mem, bytes);
	if (err)
		return err;
	m->free_map = calloc((nr + 63) / 64, sizeof(uint64_t));
	m->quarantine_map = calloc((nr + 63) / 64, sizeof(uint64_t));
	if (!m->free_map || !m->quarantine_map) {
		free(m->free_map);
		free(m->quarantine_map);
		ept__mem_destroy(&m->mem);
		return -ENOMEM;
	}
	for (uint64_t f = reserved_low; f < nr; f++)
		m->free_map[f / 64] |= 1ull << (f % 64);
	m->nr_frames = nr;
	m->free_frames = nr - reserved_low;
	m->search_hint = reserved_low;
	pthread_mutex_init(&m->lock, NULL);
	return 0;
}

void shadow__machine_destroy(struct shadow_machine *m)
{
	if (!m->free_map)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->free_map);
	free(m->quarantine_map);
	ept__mem_destroy(&m->mem);
	*m = (struct shadow_machine){ 0 };
}

int64_t shadow__alloc_frames(struct shadow_machine *m, uint64_t n)
{
	if (n == 0)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	int64_t found = -ENOMEM;
	uint64_t first_free = m->nr_frames; /* the lowest free frame at or above the hint */
	bool searched = n <= m->free_frames;
	if (searched) {
		uint64_t run = 0;
		for (uint64_t f = m->search_hint; f < m->nr_frames; f++) {
			if (f % 64 == 0 && run == 0 && m->free_map[f / 64] == 0) {
				f += 63; /* a whole word in use */
				continue;
			}
			run = frame_free(m, f) ? run + 1 : 0;
			if (run == 1 && first_free == m->nr_frames)
				first_free = f;
			if (run == n) {
				found = (int64_t)(f + 1 - n);
				break;
			}
		}
	}
	if (found >= 0) {
		for (uint64_t f = (uint64_t)found; f < (uint64_t)found + n; f++)
			m->free_map[f / 64] &= ~(1ull << (f % 64));
		m->free_frames -= n;
	}
	/* no free frame below the first one seen, nor in the run just taken
	 * when it starts there: the next search starts past the frames in use
	 * instead of walking them again */
	if (searched)
		m->search_hint = found >= 0 && (uint64_t)found == first_free ? first_free + n : first_free;
	pthread_mutex_unlock(&m->lock);
	return found;
}

void shadow__free_frames(struct shadow_machine *m, uint64_t mfn, uint64_t n)
{
	pthread_mutex_lock(&m->lock);
	for (uint64_t f = mfn; f < mfn + n && f < m->nr_frames; f++) {
		uint64_t bit = 1ull << (f % 64);
		if (frame_free(m, f) || (m->quarantine_map[f / 64] & bit))
			continue; /* a double free must not inflate the count */
		if (m->quarantine) {
			m->quarantine_map[f / 64] |= bit;
			m->quarantined++;
			continue;
		}
		m->free_map[f / 64] |= bit;
		m->free_frames++;
	}
	if (mfn < m->search_hint)
		m->search_hint = mfn;
	pthread_mutex_unlock(&m->lock);
}

void shadow__free_data_frames(struct shadow_machine *m, uint64_t mfn, uint64_t n)
{
	if (mfn >= m->nr_frames || n > m->nr_frames - mfn)
		return;
	madvise(shadow__mfn_ptr(m, mfn), n * EPT_PAGE_SIZE, MADV_DONTNEED);
	pthread_mutex_lock(&m->lock);
	for (uint64_t f = mfn; f < mfn + n; f++) {
		if (frame_free(m, f) || (m->quarantine_map[f / 64] >> (f % 64) & 1))
			continue;
		m->free_map[f / 64] |= 1ull << (f % 64);
		m->free_frames++;
	}
	if (mfn < m->search_hint)
		m->search_hint = mfn;
	pthread_mutex_unlock(&m->lock);
}

int shadow__machine_forget(struct shadow_machine *m, uint64_t mfn, uint64_t n)
{
	if (n == 0 || mfn >= m->nr_frames || n > m->nr_frames - mfn)
		return -EINVAL;
	void *p = shadow__mfn_ptr(m, mfn);
	/* Both calls change the host PTEs, so both run the MMU notifier; only the
	 * first is needed for KVM, the second puts the mapping back as it was. */
	if (mprotect(p, n * EPT_PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC) < 0 ||
	    mprotect(p, n * EPT_PAGE_SIZE, PROT_READ | PROT_WRITE) < 0)
		return -errno;
	return 0;
}

uint64_t shadow__machine_release_quarantine(struct shadow_machine *m)
{
	pthread_mutex_lock(&m->lock);
	uint64_t released = m->quarantined;
	for (uint64_t w = 0; w < (m->nr_frames + 63) / 64; w++) {
		m->free_map[w] |= m->quarantine_map[w];
		m->quarantine_map[w] = 0;
	}
	m->free_frames += released;
	m->quarantined = 0;
	m->search_hint = 0;
	pthread_mutex_unlock(&m->lock);
	return released;
}

void *shadow__mfn_ptr(const struct shadow_machine *m, uint64_t mfn)
{
	if (mfn >= m->nr_frames)
		return NULL;
	return ept__gpa_ptr(&m->mem, mfn * EPT_PAGE_SIZE, EPT_PAGE_SIZE);
}
