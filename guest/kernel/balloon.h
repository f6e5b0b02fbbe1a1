/* SPDX-License-Identifier: MIT */
/*
 * DOC: the balloon (guest side): the part both drivers share.
 *
 * `balloon=pv` or `balloon=virtio` on the command line picks a driver
 * (balloon_pv.c: shared info and L1_HC_BALLOON; virtio_balloon.c: the
 * virtio-balloon device on virtio-mmio, ept mode). The core takes memory
 * for the balloon from the frame allocator in whole 2 MiB chunks (512
 * frames: kernel code runs in KVM's emulator in ept mode, so per-frame work
 * is what makes a balloon slow) and only chunks that are free: inflating
 * never takes memory anybody uses. A ballooned chunk is never handed out
 * until the driver has taken it back from the host.
 *
 * balloon__work() moves the balloon one batch (at most BALLOON_BATCH_CHUNKS,
 * and at most the driver's max_chunks) toward the driver's target; drivers
 * call it from their event handler, and CPU 0's tick calls it while the
 * balloon is off target and every BALLOON_STATS_TICKS to refresh the
 * statistics. mm.c calls balloon__deflate_on_oom() when an allocation fails.
 *
 * Free page reporting (a driver with report_free;
 * `balloon=DRIVER,page_reporting=0` on the command line turns it off):
 * every BALLOON_REPORT_SECONDS CPU 0's tick isolates free user chunks not
 * yet reported (mm__report_isolate), hands them to the driver and puts
 * them back marked reported; while a batch comes out full, the next one
 * follows at the next tick. The host discards a reported chunk, so it
 * costs no host memory until it is used again.
 *
 * Everything runs in the kernel with interrupts off; balloon_lock (a leaf
 * outside mm_lock: mm_lock may be taken inside it) serialises the core.
 */
#ifndef L1G_KERNEL_BALLOON_H
#define L1G_KERNEL_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

#define BALLOON_CHUNK_FRAMES 512u
#define BALLOON_BATCH_CHUNKS 256u  /* 512 MiB per batch */
#define BALLOON_STATS_TICKS 10u
#define BALLOON_REPORT_SECONDS 2u  /* like Linux's page_reporting delay */

/* Guest statistics, enum l1_balloon_stat (bytes / counts). */
struct balloon_gstats {
	uint64_t val[16];
};

struct balloon_driver {
	const char *name;
	/* 4 KiB frames the host wants in the balloon now. */
	uint64_t (*target)(void);
	/* Tell the host the chunks are given back (inflate) / taken back
	 * (deflate). Returns how many of them, in order, the host accepted
	 * (the core returns the others to the allocator / keeps them). */
	unsigned int (*give)(const uint32_t *chunks, unsigned int n);
	unsigned int (*take)(const uint32_t *chunks, unsigned int n);
	/* Optional: frames now in the balloon (virtio: config.actual). */
	void (*set_actual)(uint64_t frames);
	/* Optional: publish statistics. */
	void (*stats)(const struct balloon_gstats *s);
	/* Optional: free page reporting of free chunks; returns how many, in
	 * order, the host has discarded (the chunks may be reused at return). */
	unsigned int (*report_free)(const uint32_t *chunks, unsigned int n);
	/* The most chunks give, take and report_free handle per call (the core
	 * never passes more). */
	unsigned int max_chunks;
	bool deflate_on_oom;        /* the host agreed: take frames back before an OOM */
};

/* Parse balloon=DRIVER[,page_reporting=0|1] from the raw command line and start that
 * driver (boot, CPU 0). */
void balloon__init(const char *cmdline);
/* The drivers' entry points (balloon__init calls one). 0 or a negative code. */
int balloon_pv__init(void);
int balloon_virtio__init(const char *cmdline);

/* A driver is up: the core starts moving toward its target. */
void balloon__register(const struct balloon_driver *d);
/* One batch toward the target (interrupts off). */
void balloon__work(void);
/* CPU 0's tick. */
void balloon__tick(void);
/* An allocation of bytes failed: take chunks back if allowed. True if some came back. */
bool balloon__deflate_on_oom(uint64_t bytes);
/* Chunks in the balloon now. */
uint64_t balloon__chunks(void);
/*
 * The hostile case (workload=churn touch_balloon=1): read the first and the
 * last frame of the oldest chunk in the balloon, then write them, breaking
 * the promise not to touch given-back frames. Returns the nonzero bytes
 * read (l1vmm must have released them: 0), or -1 when the balloon is empty.
 */
int64_t balloon__touch_test(void);
/* Fill s with the kernel's current statistics. */
void balloon__collect(struct balloon_gstats *s);

#endif
