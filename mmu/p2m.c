/* SPDX-License-Identifier: MIT */
/* The p2m and its transition table (p2m.h). */
#include "mmu/p2m.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* allowed[from] = the states a frame in from may move to (p2m.h says why). */
static const uint32_t allowed[P2M_NR_STATES] = {
	[P2M_UNPOPULATED] = P2M_BIT(P2M_PRIVATE) | P2M_BIT(P2M_BALLOONED),
	[P2M_PRIVATE] = P2M_BIT(P2M_SHARED) | P2M_BIT(P2M_ZERO) | P2M_BIT(P2M_BALLOONED) |
			P2M_BIT(P2M_UNPOPULATED) | P2M_BIT(P2M_IN_FLIGHT),
	[P2M_SHARED] = P2M_BIT(P2M_PRIVATE),
	[P2M_ZERO] = P2M_BIT(P2M_PRIVATE),
	[P2M_BALLOONED] = P2M_BIT(P2M_UNPOPULATED),
	[P2M_COMPRESSED] = P2M_BIT(P2M_IN_FLIGHT) | P2M_BIT(P2M_BALLOONED) |
			   P2M_BIT(P2M_UNPOPULATED),
	[P2M_IN_FLIGHT] = P2M_BIT(P2M_COMPRESSED) | P2M_BIT(P2M_PRIVATE),
};

int p2m__init(struct p2m *p2m, uint64_t nr_frames)
{
	*p2m = (struct p2m){ .nr_frames = nr_frames };
	if (nr_frames == 0)
		return -EINVAL;
	p2m->state = calloc(nr_frames, sizeof(*p2m->state));
	if (!p2m->state)
		return -ENOMEM;
	l1_lock__init(&p2m->lock, L1_RANK_P2M, "p2m");
	p2m->count[P2M_UNPOPULATED] = nr_frames;
	return 0;
}

void p2m__destroy(struct p2m *p2m)
{
	if (p2m->state)
		l1_lock__destroy(&p2m->lock);
	free(p2m->state);
	*p2m = (struct p2m){ 0 };
}

bool p2m__allowed(enum p2m_state from, enum p2m_state to)
{
	return from < P2M_NR_STATES && to < P2M_NR_STATES && (allowed[from] & P2M_BIT(to));
}

#define CLIENT_STATES (P2M_BIT(P2M_SHARED) | P2M_BIT(P2M_ZERO))

/*
 * The move itself, p2m->lock taken here. With no_client, refuse with -EAGAIN
 * when a client is registered (the caller then goes through it).
 */
static int move_locked(struct p2m *p2m, uint64_t gfn, uint64_t n, uint32_t from,
		       enum p2m_state to, int (*apply)(void *ctx, uint64_t gfn, uint64_t n),
		       void *ctx, bool no_client)
{
	uint64_t moved[P2M_NR_STATES] = { 0 };
	l1_lock__acquire(&p2m->lock);
	if (no_client && p2m->client.lock) {
		l1_lock__release(&p2m->lock);
		return -EAGAIN;
	}
	for (uint64_t i = gfn; i < gfn + n; i++) {
		enum p2m_state s = p2m->state[i];
		if (s == P2M_IN_FLIGHT && !(from & P2M_BIT(s))) {
			l1_lock__release(&p2m->lock);
			return -EINPROGRESS;
		}
		if (!(from & P2M_BIT(s)) || (s != to && !p2m__allowed(s, to))) {
			l1_lock__release(&p2m->lock);
			return -EPERM;
		}
		moved[s] += s != to;
	}
	int rc = apply && n ? apply(ctx, gfn, n) : 0;
	if (rc < 0) {
		l1_lock__release(&p2m->lock);
		return rc;
	}
	/* frames that leave the store for good (the balloon took them, the
	 * guest reported them free): their stored content goes */
	if (moved[P2M_COMPRESSED] && to != P2M_IN_FLIGHT && p2m->store_hook.dropped)
		for (uint64_t i = gfn; i < gfn + n; i++)
			if (p2m->state[i] == P2M_COMPRESSED)
				p2m->store_hook.dropped(p2m->store_hook.ctx, i);
	uint64_t total = 0;
	for (int s = 0; s < P2M_NR_STATES; s++) {
		if (!moved[s])
			continue;
		__atomic_store_n(&p2m->count[s], p2m->count[s] - moved[s], __ATOMIC_RELAXED);
		total += moved[s];
	}
	__atomic_store_n(&p2m->count[to], p2m->count[to] + total, __ATOMIC_RELAXED);
	for (uint64_t i = gfn; i < gfn + n; i++)
		__atomic_store_n(&p2m->state[i], (uint8_t)to, __ATOMIC_RELAXED);
	l1_lock__release(&p2m->lock);
	return 0;
}

static bool bad_range(const struct p2m *p2m, uint64_t gfn, uint64_t n, enum p2m_state to)
{
	return to >= P2M_NR_STATES || gfn > p2m->nr_frames || n > p2m->nr_frames - gfn;
}

int p2m__client_move(struct p2m *p2m, uint64_t gfn, uint64_t n, uint32_t from,
		     enum p2m_state to, int (*apply)(void *ctx, uint64_t gfn, uint64_t n),
		     void *ctx)
{
	if (bad_range(p2m, gfn, n, to))
		return -EINVAL;
	int rc = move_locked(p2m, gfn, n, from, to, apply, ctx, false);
	return rc == -EINPROGRESS ? -EPERM : rc;
}

/* A frame of the range is IN_FLIGHT: host reclaim moves it and takes no
 * lock a mover may hold while it does, so it leaves that state within one
 * page's compression or fetch. Wait a little, without the p2m lock. */
static void wait_in_flight(void)
{
	struct timespec ts = { .tv_nsec = 50 * 1000 };
	nanosleep(&ts, NULL);
}

static struct p2m_client client_of(struct p2m *p2m)
{
	l1_lock__acquire(&p2m->lock);
	struct p2m_client c = p2m->client;
	l1_lock__release(&p2m->lock);
	return c;
}

/*
 * The registered client, with its lock held: its lock first (it ranks before
 * ours), then make sure it is still the one registered (it removes itself
 * under that lock). False: there is none now.
 */
static bool lock_client(struct p2m *p2m, struct p2m_client *c)
{
	for (;;) {
		*c = client_of(p2m);
		if (!c->lock)
			return false;
		l1_lock__acquire(c->lock);
		struct p2m_client now = client_of(p2m);
		if (now.lock == c->lock && now.ctx == c->ctx)
			return true;
		l1_lock__release(c->lock);
	}
}

int p2m__move(struct p2m *p2m, uint64_t gfn, uint64_t n, uint32_t from, enum p2m_state to,
	      int (*apply)(void *ctx, uint64_t gfn, uint64_t n), void *ctx)
{
	if (bad_range(p2m, gfn, n, to))
		return -EINVAL;
	if (CLIENT_STATES & P2M_BIT(to))
		return -EPERM;
	for (;;) {
		int rc = move_locked(p2m, gfn, n, from & ~CLIENT_STATES, to, apply, ctx, true);
		if (rc == -EINPROGRESS) {
			wait_in_flight();
			continue;
		}
		if (rc != -EAGAIN)
			return rc;
		struct p2m_client c;
		if (!lock_client(p2m, &c))
			continue;
		rc = apply && (from & CLIENT_STATES) ? c.release(c.ctx, gfn, n) : 0;
		if (rc == 0)
			rc = move_locked(p2m, gfn, n, from & ~CLIENT_STATES, to, apply, ctx, false);
		if (rc == 0 && c.moved)
			c.moved(c.ctx, gfn, n, to);
		l1_lock__release(c.lock);
		if (rc == -EINPROGRESS) {
			wait_in_flight();
			continue;
		}
		return rc;
	}
}

int p2m__record_written(struct p2m *p2m, uint64_t gfn, uint64_t n)
{
	const uint32_t from = P2M_BIT(P2M_UNPOPULATED) | P2M_BIT(P2M_PRIVATE) | CLIENT_STATES;
	if (bad_range(p2m, gfn, n, P2M_PRIVATE))
		return -EINVAL;
	for (;;) {
		int rc = move_locked(p2m, gfn, n, from, P2M_PRIVATE, NULL, NULL, true);
		if (rc == -EINPROGRESS)
			return -EPERM;
		if (rc != -EAGAIN)
			return rc;
		struct p2m_client c;
		if (!lock_client(p2m, &c))
			continue;
		/* with the client's lock held no frame changes state but through
		 * us: check them all, tell the client of the breaks, then move */
		for (uint64_t g = gfn; g < gfn + n && rc == -EAGAIN; g++)
			if (!(from & P2M_BIT(p2m__get(p2m, g))))
				rc = -EPERM;
		for (uint64_t g = gfn; g < gfn + n && rc == -EAGAIN; g++) {
			enum p2m_state s = p2m__get(p2m, g);
			if ((CLIENT_STATES & P2M_BIT(s)) && c.broken)
				c.broken(c.ctx, g, s);
		}
		if (rc == -EAGAIN)
			rc = move_locked(p2m, gfn, n, from, P2M_PRIVATE, NULL, NULL, false);
		l1_lock__release(c.lock);
		return rc == -EINPROGRESS ? -EPERM : rc;
	}
}

void p2m__set_store_hook(struct p2m *p2m, const struct p2m_store_hook *h)
{
	l1_lock__acquire(&p2m->lock);
	p2m->store_hook = h ? *h : (struct p2m_store_hook){ 0 };
	l1_lock__release(&p2m->lock);
}

void p2m__set_client(struct p2m *p2m, const struct p2m_client *c)
{
	l1_lock__acquire(&p2m->lock);
	p2m->client = c ? *c : (struct p2m_client){ 0 };
	l1_lock__release(&p2m->lock);
}

enum p2m_state p2m__get(const struct p2m *p2m, uint64_t gfn)
{
	return gfn < p2m->nr_frames
		       ? (enum p2m_state)__atomic_load_n(&p2m->state[gfn], __ATOMIC_RELAXED)
		       : P2M_NR_STATES;
}

uint64_t p2m__count(const struct p2m *p2m, enum p2m_state state)
{
	return state < P2M_NR_STATES ? __atomic_load_n(&p2m->count[state], __ATOMIC_RELAXED) : 0;
}
