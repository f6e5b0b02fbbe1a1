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
 *
 * Free page reporting (on unless `balloon=DRIVER,page_reporting=0`) runs
 * under balloon_lock too (the driver's queues are used under it), from CPU
 * 0's tick, which also only tries the lock. The chunks in flight are out
 * of the allocator (mm.c: REPORTING), so a task on another CPU cannot be
 * handed memory the host is discarding; it waits for them instead of
 * failing. The balloon never claims them (it takes FREE and USER_FREE
 * chunks only), and a deflate on OOM waits for the report to end on
 * balloon_lock.
 */
#include "kernel/balloon.h"

#include "arch/x86/x86.h"
#include "kernel/console.h"
#include "kernel/mm.h"
#include "kernel/sched.h"
#include "kernel/spinlock.h"
#include "lib/string.h"
#include "pvops/l1vmm_abi.h"

#define BALLOON_POLL_TICKS 50u
#define OOM_RETRIES 3 /* deflate calls in a row that may give nothing back */

extern const struct l1_start_info *kernel__start_info;

static struct spinlock balloon_lock;
static const struct balloon_driver *drv;
static uint32_t held[MM_MAX_CHUNKS];
static uint32_t batch[BALLOON_BATCH_CHUNKS];
static uint64_t nr_held;
static volatile bool pending;          /* run work at the next tick */
static uint64_t ticks;
static uint64_t oom_deflated_frames;
/* balloon=...,page_reporting=: -1 absent (on when the driver can), 0, 1. Boot. */
static int report_wanted = -1;
static bool reporting;                 /* set at register; cleared if the driver fails */
static uint64_t next_report;           /* tick of the next report; CPU 0 */

static void work_locked(void);

/* Does the driver name at p (ended by a space, a comma or NUL) equal word? */
static bool word_is(const char *p, const char *word)
{
	size_t n = strlen(word);

	return !strncmp(p, word, n) && (p[n] == ' ' || p[n] == ',' || p[n] == '\0');
}

/*
 * balloon=DRIVER[,page_reporting=0|1] (one word: the workloads take each
 * key once, and balloon= is the kernel's). Returns the driver name's start
 * or NULL; report_wanted from the option. A bad word: one line, no balloon.
 */
static const char *parse_balloon(const char *cmdline)
{
	static const char key[] = "balloon=";
	const char *v = NULL, *opt;

	for (const char *p = cmdline; *p && !v; p++)
		if ((p == cmdline || p[-1] == ' ') && !strncmp(p, key, sizeof(key) - 1))
			v = p + sizeof(key) - 1;
	if (!v)
		return NULL;
	for (opt = v; *opt && *opt != ' ' && *opt != ','; opt++)
		;
	if (*opt == ',') {
		static const char opt_key[] = "page_reporting=";
		const char *val = opt + sizeof(opt_key);

		if (strncmp(opt + 1, opt_key, sizeof(opt_key) - 1) || (*val != '0' && *val != '1') ||
		    (val[1] != ' ' && val[1] != '\0')) {
			console__printf("balloon: cannot parse the options of balloon= (want "
					"balloon=pv|virtio[,page_reporting=0|1]): no balloon\n");
			return NULL;
		}
		report_wanted = *val - '0';
	}
	return v;
}

void balloon__init(const char *cmdline)
{
	int rc = 0;
	const char *which = parse_balloon(cmdline);

	if (!which)
		return;
	if (word_is(which, "pv")) {
		which = "pv";
		rc = balloon_pv__init();
	} else if (word_is(which, "virtio")) {
		which = "virtio";
		rc = balloon_virtio__init(cmdline);
	} else {
		console__printf("balloon: unknown driver in balloon= (want pv or virtio): no balloon\n");
		return;
	}
	if (rc < 0)
		console__printf("balloon: the %s driver did not start (%d): no balloon\n", which, rc);
}

void balloon__register(const struct balloon_driver *d)
{
	spin__lock(&balloon_lock);
	drv = d;
	reporting = d->report_free && report_wanted != 0;
	next_report = ticks + BALLOON_REPORT_SECONDS * sched__hz;
	work_locked(); /* the first batch at once: a guest booted with a target starts small */
	spin__unlock(&balloon_lock);
	if (d->report_free)
		console__printf("balloon: free page reporting %s\n",
				reporting ? "on" : "off (balloon=...,page_reporting=0)");
	else if (report_wanted == 1)
		console__printf("balloon: page_reporting=1, but the %s driver cannot report: no reporting\n",
				d->name);
}

/* Chunks per driver call: the core's batch, or less if the driver says so. */
static unsigned int per_call(void)
{
	return drv->max_chunks && drv->max_chunks < BALLOON_BATCH_CHUNKS ? drv->max_chunks
									 : BALLOON_BATCH_CHUNKS;
}

/* balloon_lock if it is free (event handlers and the tick must not spin on it). */
static bool try_lock(void)
{
	return !__atomic_exchange_n(&balloon_lock.locked, 1, __ATOMIC_ACQUIRE);
}

uint64_t balloon__chunks(void)
{
	return nr_held;
}

/* Give back up to n more chunks. Caller holds balloon_lock. */
static void inflate(uint64_t n)
{
	unsigned int got, ok;

	if (n > per_call())
		n = per_call();
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

	if (n > per_call())
		n = per_call();
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
	if (!try_lock()) {
		pending = true; /* busy: the tick does it */
		return;
	}
	work_locked();
	spin__unlock(&balloon_lock);
}

/* Report one batch of free chunks. Caller holds balloon_lock. True when there may be more. */
static bool report_locked(void)
{
	unsigned int max = per_call(), n, ok;

	n = mm__report_isolate(batch, max);
	if (!n)
		return false;
	ok = drv->report_free(batch, n);
	if (ok > n)
		ok = n;
	mm__report_putback(batch, n, ok);
	if (!ok)
		reporting = false; /* the driver failed (it said so): stop asking */
	return n == max && ok == n;
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
	if (reporting && ticks >= next_report && try_lock()) {
		bool more = report_locked();

		spin__unlock(&balloon_lock);
		next_report = ticks + (more ? 1 : BALLOON_REPORT_SECONDS * sched__hz);
	}
	if (ticks % BALLOON_STATS_TICKS == 0 && drv->stats) {
		balloon__collect(&s);
		drv->stats(&s);
	}
}

bool balloon__deflate_on_oom(uint64_t bytes)
{
	uint64_t chunks = (bytes + (BALLOON_CHUNK_FRAMES << 12) - 1) / (BALLOON_CHUNK_FRAMES << 12);
	unsigned int got = 0, fails = 0;

	if (!drv || !drv->deflate_on_oom)
		return false;
	spin__lock(&balloon_lock);
	/* per_call() chunks a call: loop while the host takes them back */
	while (got < chunks && nr_held && fails < OOM_RETRIES) {
		unsigned int k = deflate(chunks - got);

		got += k;
		fails = k ? 0 : fails + 1;
	}
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
