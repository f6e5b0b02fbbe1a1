/* SPDX-License-Identifier: MIT */
/*
 * The engine's knobs and statistics as tables, so the control tree (and its
 * README) can list them without a wall of code. Knob stores follow KSM's
 * pattern: range-check, take the lock, refuse with -EBUSY when unsafe.
 */
#include <errno.h>
#include <stddef.h>

#include "dedup/dedup_priv.h"

static const struct dedup_knob_desc knobs[DEDUP_NR_KNOBS] = {
	[DEDUP_RUN] = { "run", 0, 1, 0,
		"0: stop scanning (shared pages stay shared); 1: scan" },
	/* Bounded because one dedup__scan() call holds the engine lock in batches. */
	[DEDUP_PAGES_TO_SCAN] = { "pages_to_scan", 1, 1u << 20, 100,
		"pages the scanner visits per wake-up" },
	/* At least 1 ms: a scanner thread must not spin. */
	[DEDUP_SLEEP_MILLISECS] = { "sleep_millisecs", 1, 3600000, 20,
		"milliseconds the scanner sleeps between wake-ups" },
	/* At least 2: a copy with one user saves nothing. */
	[DEDUP_MAX_PAGE_SHARING] = { "max_page_sharing", 2, 1u << 16, 256,
		"most guest pages mapped onto one stored copy (EBUSY while copies exist)" },
	/* On by default (KSM's default is 0): a zero page needs no stored copy. */
	[DEDUP_USE_ZERO_PAGES] = { "use_zero_pages", 0, 1, 1,
		"1: zero pages are discarded to the zero page instead of a stored copy" },
	[DEDUP_MAX_META_BYTES] = { "max_meta_bytes", 0, 1ull << 48, 256ull << 20,
		"cap on the engine's own tables; beyond it no new candidates or copies" },
	/* KSM's knob: its default 1, and like KSM refused while pages are shared */
	[DEDUP_MERGE_ACROSS_NODES] = { "merge_across_nodes", 0, 1, 1,
		"0: pages of VMs whose home NUMA nodes (vms/NAME/numa_nodes) differ are never "
		"shared; 1: they may be (EBUSY while copies exist)" },
};

const struct dedup_knob_desc *dedup__knob_desc(enum dedup_knob knob)
{
	return (unsigned)knob < DEDUP_NR_KNOBS ? &knobs[knob] : NULL;
}

int dedup__knob_set(struct dedup *e, enum dedup_knob knob, uint64_t value)
{
	const struct dedup_knob_desc *d = dedup__knob_desc(knob);
	if (!d || value < d->min || value > d->max)
		return -EINVAL;
	int rc = 0;
	l1_lock__acquire(&e->lock);
	/* As KSM: copies already at the old limit would break the new one, and
	 * copies shared across nodes would stay shared across them */
	if ((knob == DEDUP_MAX_PAGE_SHARING || knob == DEDUP_MERGE_ACROSS_NODES) && e->nr_copies &&
	    value != e->knob[knob])
		rc = -EBUSY;
	else
		e->knob[knob] = value;
	if (rc == 0 && knob == DEDUP_MERGE_ACROSS_NODES)
		rekey_vms(e);
	l1_lock__release(&e->lock);
	return rc;
}

void dedup__add_scan_cpu(struct dedup *e, uint64_t ns)
{
	l1_lock__acquire(&e->lock);
	e->scan_cpu_ns += ns;
	l1_lock__release(&e->lock);
}

uint64_t dedup__knob_get(struct dedup *e, enum dedup_knob knob)
{
	if ((unsigned)knob >= DEDUP_NR_KNOBS)
		return 0;
	l1_lock__acquire(&e->lock);
	uint64_t v = e->knob[knob];
	l1_lock__release(&e->lock);
	return v;
}

#define STAT(field, is_signed, doc) \
	{ #field, doc, offsetof(struct dedup_stats, field), is_signed }

const struct dedup_stat_desc dedup__stat_table[] = {
	STAT(pages_shared, false, "stored copies in use"),
	STAT(pages_sharing, false, "guest pages mapped onto a copy, minus the copies: pages saved"),
	STAT(pages_unshared, false, "candidates waiting for a twin in this full scan"),
	STAT(pages_volatile, false, "private pages found written at their last scan"),
	STAT(full_scans, false, "passes over every page of every VM"),
	STAT(zero_pages, false, "guest pages discarded to the zero page"),
	STAT(cow_breaks, false, "guest writes that unshared a shared or zero page"),
	STAT(general_profit, true, "bytes saved minus the engine's own memory"),
	STAT(scan_cpu_ms, false, "CPU time spent scanning, milliseconds"),
	STAT(pages_scanned, false, "private pages examined by the scanner"),
	STAT(meta_bytes, false, "the engine's own memory: tables and per-VM maps, bytes"),
	STAT(meta_cap_hits, false, "candidates or copies not added because of max_meta_bytes"),
	STAT(hash_collisions, false, "equal hash, different bytes: not shared"),
	STAT(backend_errors, false, "copy, share or zero refused by the backend: page left private"),
};
const size_t dedup__stat_table_len = sizeof(dedup__stat_table) / sizeof(dedup__stat_table[0]);

_Static_assert(sizeof(dedup__stat_table) / sizeof(dedup__stat_table[0]) * sizeof(uint64_t) ==
		       sizeof(struct dedup_stats),
	       "dedup__stat_table covers every field of struct dedup_stats");

void dedup__stats(struct dedup *e, struct dedup_stats *out)
{
	l1_lock__acquire(&e->lock);
	uint64_t shared = 0, zero = 0, vol = 0;
	for (size_t i = 0; i < e->nr_vms; i++) {
		shared += p2m__count(e->vms[i]->p2m, P2M_SHARED);
		zero += p2m__count(e->vms[i]->p2m, P2M_ZERO);
		vol += e->vms[i]->nr_volatile;
	}
	/* Every live copy has >= 1 user (dedup__check), so shared >= nr_copies. */
	uint64_t sharing = shared >= e->nr_copies ? shared - e->nr_copies : 0;
	*out = (struct dedup_stats){
		.pages_shared = e->nr_copies,
		.pages_sharing = sharing,
		.pages_unshared = e->nr_cands,
		.pages_volatile = vol,
		.full_scans = e->full_scans,
		.zero_pages = zero,
		.cow_breaks = e->cow_breaks,
		.general_profit = (int64_t)((sharing + zero) * DEDUP_PAGE_SIZE) -
				  (int64_t)e->meta_bytes,
		.scan_cpu_ms = e->scan_cpu_ns / 1000000,
		.pages_scanned = e->pages_scanned,
		.meta_bytes = e->meta_bytes,
		.meta_cap_hits = e->meta_cap_hits,
		.hash_collisions = e->hash_collisions,
		.backend_errors = e->backend_errors,
	};
	l1_lock__release(&e->lock);
}

int dedup__vm_stats(struct dedup *e, void *vm, struct dedup_vm_stats *out)
{
	int rc = -ENOENT;
	l1_lock__acquire(&e->lock);
	for (size_t i = 0; i < e->nr_vms; i++) {
		const struct dedup_vm *v = e->vms[i];
		if (v->handle != vm)
			continue;
		*out = (struct dedup_vm_stats){
			.domain = v->domain_id,
			.pages_shared = p2m__count(v->p2m, P2M_SHARED),
			.pages_private = p2m__count(v->p2m, P2M_PRIVATE),
			.pages_zero = p2m__count(v->p2m, P2M_ZERO),
			.pages_volatile = v->nr_volatile,
			.meta_bytes = v->meta_bytes,
		};
		rc = 0;
		break;
	}
	l1_lock__release(&e->lock);
	return rc;
}
