// SPDX-License-Identifier: MIT
/*
 * DOC: the balloon core (balloon.h).
 *
 * held[] lists the chunks in the balloon, in the order they went in; a
 * deflate takes the newest back first. The target is read from the driver
 * whenever work runs; work runs on the driver's event, on CPU 0's tick while
 * the last run left the balloon off target (one batch per tick, so a big
 * move never holds a CPU for long), and every BALLOON_POLL_TICKS in case an
 * event was lost. A target that is not a whole number of chunks is rounded
 * down: the balloon never holds more than asked.
 *
 * Event handlers may interrupt kernel code that holds balloon_lock (shadow
 * mode delivers events inside a blocking hypercall), so they only try the
 * lock and leave the work to the next tick when it is busy.
 */
#include "kernel/balloon.h"

#include "arch/x86/x86.h"
#include "kernel/console.h"
#include "kernel/mm.h"
#include "kernel/spinlock.h"
#include "lib/string.h"
#include "pvops/l1vmm_abi.h"

#define BALLOON_POLL_TICKS 50u
#define OOM_RETRIES 3

extern const struct l1_start_info *kernel__start_info;

static struct spinlock balloon_lock;
static const struct balloon_driver *drv;
static uint32_t held[MM_MAX_CHUNKS];
static uint32_t batch[BALLOON_BATCH_CHUNKS];
static uint64_t nr_held;
static volatile bool pending;          /* run work at the next tick */
static uint64_t ticks;
static uint64_t oom_deflated_frames;

static void work_locked(void);

static bool has_word(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = s; *p; p++)
		if ((p == s || p[-1] == ' ') && !strncmp(p, word, n) &&
		    (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

void balloon__init(const char *cmdline)
{
	int rc = 0;
	const char *which = NULL;

	if (has_word(cmdline, "balloon=pv")) {
		which = "pv";
		rc = balloon_pv__init();
	} else if (has_word(cmdline, "balloon=virtio")) {
		which = "virtio";
		rc = balloon_virtio__init(cmdline);
	}
	if (which && rc < 0)
		console__printf("balloon: the %s driver did not start (%d): no balloon\n", which, rc);
}

void balloon__register(const struct balloon_driver *d)
{
	spin__lock(&balloon_lock);
	drv = d;
	work_locked(); /* the first batch at once: a guest booted with a target starts small */
	spin__unlock(&balloon_lock);
}

uint64_t balloon__chunks(void)
{
	return nr_held;
}

/* Give back up to n more chunks. Caller holds balloon_lock. */
static void inflate(uint64_t n)
{
	unsigned int got, ok;

	if (n > BALLOON_BATCH_CHUNKS)
		n = BALLOON_BATCH_CHUNKS;
	got = mm__balloon_claim(batch, (unsigned int)n);
	if (!got)
		return; /* nothing free: the balloon waits for memory (the tick polls) */
	ok = drv->give(batch, got);
	if (ok > got)
		ok = got;
	memcpy(&held[nr_held], batch, ok * sizeof(batch[0]));
	nr_held += ok;
	if (ok < got)
		mm__balloon_unclaim(&batch[ok], got - ok);
}

/* Take back up to n chunks, newest first. Caller holds balloon_lock. Returns how many. */
static unsigned int deflate(uint64_t n)
{
	uint32_t *slice;
	unsigned int ok;

	if (n > BALLOON_BATCH_CHUNKS)
		n = BALLOON_BATCH_CHUNKS;
	if (n > nr_held)
		n = nr_held;
	if (!n)
		return 0;
	slice = &held[nr_held - n];
	ok = drv->take(slice, (unsigned int)n);
	if (ok > n)
		ok = (unsigned int)n;
	mm__balloon_release(slice, ok);
	/* keep the ones the host did not take back at the end of held[] */
	memmove(slice, &slice[ok], (n - ok) * sizeof(*slice));
	nr_held -= ok;
	return ok;
}

/* One batch toward the target. Caller holds balloon_lock. */
static void work_locked(void)
{
	uint64_t want = drv->target() / BALLOON_CHUNK_FRAMES, before = nr_held;

	if (want > MM_MAX_CHUNKS)
		want = MM_MAX_CHUNKS;
	if (nr_held < want)
		inflate(want - nr_held);
	else if (nr_held > want)
		deflate(nr_held - want);
	if (nr_held != before && drv->set_actual)
		drv->set_actual(nr_held * BALLOON_CHUNK_FRAMES);
	/* off target and moving: continue at the next tick */
	pending = nr_held != want && nr_held != before;
}

void balloon__work(void)
{
	if (!drv)
		return;
	if (__atomic_exchange_n(&balloon_lock.locked, 1, __ATOMIC_ACQUIRE)) {
		pending = true; /* busy: the tick does it */
		return;
	}
	work_locked();
	spin__unlock(&balloon_lock);
}

void balloon__collect(struct balloon_gstats *s)
{
	uint64_t free_bytes = mm__user_free_bytes() + mm__pool_free_bytes();

	memset(s, 0, sizeof(*s));
	s->val[L1_BSTAT_MEMTOT] = kernel__start_info->mem_bytes;
	s->val[L1_BSTAT_MEMFREE] = free_bytes;
	s->val[L1_BSTAT_AVAIL] = free_bytes;
	s->val[L1_BSTAT_OOM] = mm__oom_events();
	s->val[L1_BSTAT_OOM_DEFLATE] = oom_deflated_frames;
}

void balloon__tick(void)
{
	struct balloon_gstats s;

	if (!drv)
		return;
	ticks++;
	if (ticks % BALLOON_POLL_TICKS == 0)
		pending = true;
	if (pending)
		balloon__work();
	if (ticks % BALLOON_STATS_TICKS == 0 && drv->stats) {
		balloon__collect(&s);
		drv->stats(&s);
	}
}

bool balloon__deflate_on_oom(uint64_t bytes)
{
	uint64_t chunks = (bytes + (BALLOON_CHUNK_FRAMES << 12) - 1) / (BALLOON_CHUNK_FRAMES << 12);
	unsigned int got = 0;

	if (!drv || !drv->deflate_on_oom)
		return false;
	spin__lock(&balloon_lock);
	for (unsigned int i = 0; i < OOM_RETRIES && got < chunks && nr_held; i++)
		got += deflate(chunks - got);
	if (got) {
		oom_deflated_frames += (uint64_t)got * BALLOON_CHUNK_FRAMES;
		if (drv->set_actual)
			drv->set_actual(nr_held * BALLOON_CHUNK_FRAMES);
	}
	spin__unlock(&balloon_lock);
	return got > 0;
}

static uint64_t nonzero_bytes(const volatile uint64_t *p, unsigned int words)
{
	uint64_t n = 0;

	for (unsigned int i = 0; i < words; i++) {
		uint64_t w = p[i];

		for (; w; w >>= 8)
			n += (w & 0xff) != 0;
	}
	return n;
}

int64_t balloon__touch_test(void)
{
	const unsigned int words = (1u << PAGE_SHIFT) / 8;
	volatile uint64_t *first, *last;
	int64_t n = -1;

	spin__lock(&balloon_lock);
	if (nr_held) {
		first = (volatile uint64_t *)((uint64_t)held[0] << CHUNK_SHIFT);
		last = first + (BALLOON_CHUNK_FRAMES - 1) * words;
		n = (int64_t)(nonzero_bytes(first, words) + nonzero_bytes(last, words));
		for (unsigned int i = 0; i < words; i++)
			first[i] = last[i] = 0x5a5a5a5a5a5a5a5aull;
	}
	spin__unlock(&balloon_lock);
	return n;
}
