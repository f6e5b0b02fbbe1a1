/* SPDX-License-Identifier: MIT */
/*
 * DOC: the virtio-balloon request parser: what a walked chain from the
 * inflate, deflate or stats queue asks for (virtio 1.2 §5.5.6).
 *
 * Inflate and deflate buffers are arrays of le32 page frame numbers in 4 KiB
 * balloon pages whatever the host's page size (§5.5.6). The buffer must be
 * device-readable only and a whole number of PFNs, and hold at most what the
 * caller can take (Linux sends 256 per buffer). Each PFN is checked against
 * guest RAM through the same struct virtq_mem the queue uses (the whole
 * 4 KiB frame must be RAM, so the MMIO hole is refused too); the valid ones
 * are kept in order, the others only counted, and the device decides what to
 * do about them.
 *
 * The stats buffer (§5.5.6.3) is an array of packed {le16 tag, le64 val},
 * 10 bytes each: a whole number of entries, at most BALLOON_STATS_MAX of
 * them. Known tags (0..9) land in struct balloon_stats, unknown ones are
 * counted and ignored as the spec asks, a repeated tag keeps its last value.
 *
 * Not here yet: free page hinting and page reporting queues (§5.5.6.4-7),
 * VIRTIO_BALLOON_F_MUST_TELL_HOST ordering (the device's job).
 */
#ifndef L1_VIRTIO_BALLOON_REQ_H
#define L1_VIRTIO_BALLOON_REQ_H

#include <stddef.h>
#include <stdint.h>

#include "virtio/virtq.h"

#define BALLOON_PFN_SHIFT 12
#define BALLOON_STAT_BYTES 10
#define BALLOON_STATS_MAX 64 /* entries per buffer; Linux sends 10 */

enum balloon_stat_tag {
	BALLOON_S_SWAP_IN,
	BALLOON_S_SWAP_OUT,
	BALLOON_S_MAJFLT,
	BALLOON_S_MINFLT,
	BALLOON_S_MEMFREE,
	BALLOON_S_MEMTOT,
	BALLOON_S_AVAIL,
	BALLOON_S_CACHES,
	BALLOON_S_HTLB_PGALLOC,
	BALLOON_S_HTLB_PGFAIL,
	BALLOON_S_NR
};

struct balloon_stats {
	uint64_t val[BALLOON_S_NR]; /* valid where present has bit 1 << tag */
	uint32_t present;
	unsigned nr_unknown;        /* entries with a tag >= BALLOON_S_NR */
};

enum balloon_err {
	BALLOON_EWRITABLE = 1, /* a device-writable buffer on a driver-to-device queue */
	BALLOON_EPFN_LEN,      /* length not a multiple of 4 */
	BALLOON_ETOO_MANY,     /* more PFNs than the caller takes */
	BALLOON_ESTATS_LEN,    /* length not a multiple of 10 */
	BALLOON_ESTATS_MANY,   /* more than BALLOON_STATS_MAX entries */
	BALLOON_ENR_ERRORS
};

/* One line saying what err (negative BALLOON_E* or 0) means; never NULL. */
const char *balloon__strerror(int err);

/* The outcome of one inflate or deflate buffer. */
struct balloon_pfns {
	uint32_t *pfn;        /* IN: room for max; OUT: the valid PFNs, in order */
	size_t max;           /* IN */
	size_t nr_valid;      /* OUT */
	size_t nr_rejected;   /* OUT: PFNs outside guest RAM */
};

/*
 * Parse the PFN array of chain c, checking each frame against mem.
 * 0 (out filled, even when some PFNs were rejected), or a negative BALLOON_E*
 * (out->nr_valid and nr_rejected are 0).
 */
int balloon__parse_pfns(const struct virtq_chain *c, const struct virtq_mem *mem,
			struct balloon_pfns *out);

/* Parse the stats buffer of chain c into *st. 0 or a negative BALLOON_E*. */
int balloon__parse_stats(const struct virtq_chain *c, struct balloon_stats *st);

#endif
