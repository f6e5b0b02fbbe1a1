/* Unit tests: the p2m's transition table, p2m__move(), and a model run. */
#include "tests/unit/cmocka_all.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "mmu/p2m.h"

/* The documented table (mmu/p2m.h), written out again on purpose: the
 * implementation's table is checked against this one, not against itself. */
static bool documented(enum p2m_state from, enum p2m_state to)
{
	switch (from) {
	case P2M_UNPOPULATED:
		return to == P2M_PRIVATE || to == P2M_BALLOONED;
	case P2M_PRIVATE:
		return to == P2M_SHARED || to == P2M_ZERO || to == P2M_BALLOONED ||
		       to == P2M_UNPOPULATED || to == P2M_IN_FLIGHT;
	case P2M_SHARED:
	case P2M_ZERO:
		return to == P2M_PRIVATE;
	case P2M_BALLOONED:
		return to == P2M_UNPOPULATED;
	case P2M_COMPRESSED:
		return to == P2M_IN_FLIGHT || to == P2M_BALLOONED || to == P2M_UNPOPULATED;
	case P2M_IN_FLIGHT:
		return to == P2M_COMPRESSED || to == P2M_PRIVATE;
	default:
		return false;
	}
}

/* Bring frame 0 of a fresh p2m to s by allowed moves; false if unreachable. */
static bool reach(struct p2m *p, enum p2m_state s)
{
	static const enum p2m_state path[P2M_NR_STATES][3] = {
		[P2M_UNPOPULATED] = { P2M_NR_STATES },
		[P2M_PRIVATE] = { P2M_PRIVATE, P2M_NR_STATES },
		[P2M_SHARED] = { P2M_PRIVATE, P2M_SHARED, P2M_NR_STATES },
		[P2M_ZERO] = { P2M_PRIVATE, P2M_ZERO, P2M_NR_STATES },
		[P2M_BALLOONED] = { P2M_BALLOONED, P2M_NR_STATES },
		[P2M_COMPRESSED] = { P2M_PRIVATE, P2M_IN_FLIGHT, P2M_COMPRESSED },
		[P2M_IN_FLIGHT] = { P2M_PRIVATE, P2M_IN_FLIGHT, P2M_NR_STATES },
	};
	for (int i = 0; i < 3 && path[s][i] != P2M_NR_STATES; i++)
		assert_int_equal(p2m__client_move(p, 0, 1, P2M_ANY, path[s][i], NULL, NULL), 0);
	return p2m__get(p, 0) == s;
}

static void counts_sum(const struct p2m *p)
{
	uint64_t sum = 0;
	for (int s = 0; s < P2M_NR_STATES; s++)
		sum += p2m__count(p, (enum p2m_state)s);
	assert_int_equal(sum, p->nr_frames);
}

/* Every pair: allowed moves happen and are counted, refused ones change nothing. */
static void each_move_allowed_or_refused(void **state)
{
	(void)state;
	for (int from = 0; from < P2M_NR_STATES; from++) {
		for (int to = 0; to < P2M_NR_STATES; to++) {
			assert_int_equal(p2m__allowed((enum p2m_state)from, (enum p2m_state)to),
					 documented((enum p2m_state)from, (enum p2m_state)to));
			struct p2m p;
			assert_int_equal(p2m__init(&p, 4), 0);
			if (!reach(&p, (enum p2m_state)from)) {
				p2m__destroy(&p);
				continue;
			}
			bool ok = from == to || documented((enum p2m_state)from, (enum p2m_state)to);
			/* only page sharing's own moves enter or leave its states freely */
			bool sharing = to == P2M_SHARED || to == P2M_ZERO;
			if (sharing)
				assert_int_equal(p2m__move(&p, 0, 1, P2M_ANY, (enum p2m_state)to,
							   NULL, NULL), -EPERM);
			int rc = p2m__client_move(&p, 0, 1, P2M_ANY, (enum p2m_state)to, NULL, NULL);
			assert_int_equal(rc, ok ? 0 : -EPERM);
			assert_int_equal(p2m__get(&p, 0), ok ? to : from);
			assert_int_equal(p2m__count(&p, (enum p2m_state)(ok ? to : from)),
					 (ok ? to : from) == P2M_UNPOPULATED ? 4 : 1);
			counts_sum(&p);
			/* a source set without the frame's state refuses even an allowed move */
			rc = p2m__client_move(&p, 0, 1, P2M_ANY & ~P2M_BIT(p2m__get(&p, 0)),
					      P2M_PRIVATE, NULL, NULL);
			assert_int_equal(rc, -EPERM);
			p2m__destroy(&p);
		}
	}
}

/* A recorded write leaves every state it may come from as PRIVATE, refuses the others. */
static void record_written_from_each_state(void **state)
{
	(void)state;
	for (int from = 0; from < P2M_NR_STATES; from++) {
		struct p2m p;
		assert_int_equal(p2m__init(&p, 4), 0);
		if (!reach(&p, (enum p2m_state)from)) {
			p2m__destroy(&p);
			continue;
		}
		/* a first write (populate), a copy-on-write break, or no change */
		bool ok = from == P2M_UNPOPULATED || from == P2M_PRIVATE || from == P2M_SHARED ||
			  from == P2M_ZERO;
		assert_int_equal(p2m__record_written(&p, 0, 1), ok ? 0 : -EPERM);
		assert_int_equal(p2m__get(&p, 0), ok ? P2M_PRIVATE : from);
		counts_sum(&p);
		/* all or nothing: frame 1 is UNPOPULATED, frame 0 decides */
		assert_int_equal(p2m__record_written(&p, 0, 2), ok ? 0 : -EPERM);
		assert_int_equal(p2m__get(&p, 1), ok ? P2M_PRIVATE : P2M_UNPOPULATED);
		assert_int_equal(p2m__record_written(&p, 3, 2), -EINVAL);
		p2m__destroy(&p);
	}
}

struct apply_log {
	unsigned calls;
	uint64_t gfn, n;
	int fail;
};

static int apply_fn(void *ctx, uint64_t gfn, uint64_t n)
{
	struct apply_log *a = ctx;
	a->calls++;
	a->gfn = gfn;
	a->n = n;
	return a->fail;
}

/* All or nothing: a refused frame, a bad range or a failed host side change no state. */
static void moves_are_all_or_nothing(void **state)
{
	(void)state;
	struct p2m p;
	struct apply_log a = { 0 };
	assert_int_equal(p2m__init(&p, 16), 0);
	assert_int_equal(p2m__move(&p, 0, 8, P2M_BIT(P2M_UNPOPULATED), P2M_PRIVATE, NULL, NULL), 0);
	assert_int_equal(p2m__client_move(&p, 3, 1, P2M_BIT(P2M_PRIVATE), P2M_SHARED, NULL, NULL), 0);
	/* frames 0..7 to the balloon: frame 3 is SHARED, which may not */
	assert_int_equal(p2m__move(&p, 0, 8, P2M_ANY, P2M_BALLOONED, apply_fn, &a), -EPERM);
	assert_int_equal(a.calls, 0); /* checked before the host side runs */
	assert_int_equal(p2m__get(&p, 0), P2M_PRIVATE);
	assert_int_equal(p2m__count(&p, P2M_PRIVATE), 7);
	/* the host side fails: nothing moves */
	a.fail = -EIO;
	assert_int_equal(p2m__move(&p, 4, 4, P2M_BIT(P2M_PRIVATE), P2M_BALLOONED, apply_fn, &a),
			 -EIO);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.gfn, 4);
	assert_int_equal(a.n, 4);
	assert_int_equal(p2m__count(&p, P2M_BALLOONED), 0);
	/* it succeeds: every frame moves, unpopulated ones too */
	a.fail = 0;
	assert_int_equal(p2m__move(&p, 4, 8, P2M_BIT(P2M_PRIVATE) | P2M_BIT(P2M_UNPOPULATED),
				   P2M_BALLOONED, apply_fn, &a), 0);
	assert_int_equal(a.calls, 2);
	assert_int_equal(p2m__count(&p, P2M_BALLOONED), 8);
	assert_int_equal(p2m__count(&p, P2M_UNPOPULATED), 4);
	/* a frame already there stays, nothing counted twice */
	assert_int_equal(p2m__move(&p, 8, 8, P2M_BIT(P2M_UNPOPULATED) | P2M_BIT(P2M_BALLOONED),
				   P2M_BALLOONED, NULL, NULL), 0);
	assert_int_equal(p2m__count(&p, P2M_BALLOONED), 12);
	counts_sum(&p);
	/* ranges */
	assert_int_equal(p2m__move(&p, 15, 2, P2M_ANY, P2M_PRIVATE, NULL, NULL), -EINVAL);
	assert_int_equal(p2m__move(&p, UINT64_MAX, 2, P2M_ANY, P2M_PRIVATE, NULL, NULL), -EINVAL);
	assert_int_equal(p2m__move(&p, 0, 1, P2M_ANY, P2M_NR_STATES, NULL, NULL), -EINVAL);
	assert_int_equal(p2m__get(&p, 16), P2M_NR_STATES);
	assert_int_equal(p2m__move(&p, 16, 0, P2M_ANY, P2M_PRIVATE, NULL, NULL), 0); /* empty */
	counts_sum(&p);
	p2m__destroy(&p);
}

/* ---- a model run: the mechanisms' moves at random, checked after each ---- */

#define MODEL_FRAMES 256
#define MODEL_STEPS 20000

enum op { OP_POPULATE, OP_SHARE, OP_ZERO, OP_COW, OP_INFLATE, OP_DEFLATE, OP_REPORT, OP_NR };

/* what a recorded write may find: p2m__record_written() */
#define WRITTEN (P2M_BIT(P2M_UNPOPULATED) | P2M_BIT(P2M_PRIVATE) | P2M_BIT(P2M_SHARED) | \
		 P2M_BIT(P2M_ZERO))

static const struct {
	uint32_t from;
	enum p2m_state to;
	bool release;
} ops[OP_NR] = {
	/* a populate and a break are both recorded writes, picked at random
	 * frames: two names so that each shows in the tally */
	[OP_POPULATE] = { WRITTEN, P2M_PRIVATE, false },
	[OP_SHARE] = { P2M_BIT(P2M_PRIVATE), P2M_SHARED, false },
	[OP_ZERO] = { P2M_BIT(P2M_PRIVATE), P2M_ZERO, true },
	[OP_COW] = { WRITTEN, P2M_PRIVATE, false },
	[OP_INFLATE] = { P2M_BIT(P2M_UNPOPULATED) | P2M_BIT(P2M_PRIVATE), P2M_BALLOONED, true },
	[OP_DEFLATE] = { P2M_BIT(P2M_BALLOONED), P2M_UNPOPULATED, false },
	[OP_REPORT] = { P2M_BIT(P2M_UNPOPULATED) | P2M_BIT(P2M_PRIVATE), P2M_UNPOPULATED, true },
};

static int discard_fn(void *ctx, uint64_t gfn, uint64_t n)
{
	struct apply_log *a = ctx;
	(void)gfn;
	a->calls++;
	a->n += n;
	/* now and then the host fails, and the move must not happen */
	return a->fail && (a->calls % 7 == 0) ? -ENOMEM : 0;
}

static void model_run(void **state)
{
	(void)state;
	struct p2m p;
	uint8_t model[MODEL_FRAMES] = { 0 }; /* all P2M_UNPOPULATED */
	struct apply_log a = { .fail = 1 };
	unsigned done[OP_NR] = { 0 }, refused = 0, failed = 0;
	assert_int_equal(p2m__init(&p, MODEL_FRAMES), 0);
	srandom(12345);
	for (int step = 0; step < MODEL_STEPS; step++) {
		enum op op = (enum op)(random() % OP_NR);
		/* single frames mostly (the engine's moves), runs for the balloon's */
		uint64_t n = op >= OP_INFLATE ? 1 + (uint64_t)random() % 8 : 1;
		uint64_t gfn = (uint64_t)random() % (MODEL_FRAMES - n + 1);
		bool ok = true;
		for (uint64_t g = gfn; g < gfn + n; g++)
			ok &= (ops[op].from & P2M_BIT(model[g])) != 0 &&
			      (model[g] == ops[op].to ||
			       documented((enum p2m_state)model[g], ops[op].to));
		unsigned calls = a.calls;
		/* page sharing's moves are its own (the client's); writes are recorded */
		bool own = op == OP_SHARE || op == OP_ZERO;
		int rc;
		if (op == OP_POPULATE || op == OP_COW)
			rc = p2m__record_written(&p, gfn, n);
		else
			rc = (own ? p2m__client_move : p2m__move)(&p, gfn, n, ops[op].from,
								   ops[op].to, ops[op].release ?
								   discard_fn : NULL, &a);
		if (!ok) {
			assert_int_equal(rc, -EPERM);
			assert_int_equal(a.calls, calls);
			refused++;
		} else if (rc == -ENOMEM) {
			assert_true(ops[op].release);
			failed++;
		} else {
			assert_int_equal(rc, 0);
			for (uint64_t g = gfn; g < gfn + n; g++)
				model[g] = (uint8_t)ops[op].to;
			done[op]++;
		}
		uint64_t count[P2M_NR_STATES] = { 0 };
		for (uint64_t g = 0; g < MODEL_FRAMES; g++) {
			assert_int_equal(p2m__get(&p, g), model[g]);
			count[model[g]]++;
		}
		for (int s = 0; s < P2M_NR_STATES; s++)
			assert_int_equal(p2m__count(&p, (enum p2m_state)s), count[s]);
	}
	/* the run exercised every kind of move, refusals and host failures */
	for (int o = 0; o < OP_NR; o++)
		assert_true(done[o] > 50);
	assert_true(refused > 1000);
	assert_true(failed > 10);
	p2m__destroy(&p);
}

/* ---- the client: page sharing hears of every move of its frames ---- */

struct fake_client {
	struct l1_lock lock;
	struct p2m *p2m;
	unsigned releases, moves, breaks;
	bool locked_in_release, locked_in_moved, locked_in_broken;
	enum p2m_state broken_from, state_in_broken;
	enum p2m_state last_to;
	int fail;
};

static int fc_release(void *ctx, uint64_t gfn, uint64_t n)
{
	struct fake_client *c = ctx;
	c->releases++;
	c->locked_in_release = l1_lock__held(&c->lock);
	if (c->fail)
		return c->fail;
	for (uint64_t g = gfn; g < gfn + n; g++)
		if (p2m__get(c->p2m, g) == P2M_SHARED || p2m__get(c->p2m, g) == P2M_ZERO)
			assert_int_equal(p2m__client_move(c->p2m, g, 1, P2M_ANY, P2M_PRIVATE, NULL,
							  NULL), 0);
	return 0;
}

static void fc_moved(void *ctx, uint64_t gfn, uint64_t n, enum p2m_state to)
{
	struct fake_client *c = ctx;
	(void)gfn;
	(void)n;
	c->moves++;
	c->last_to = to;
	c->locked_in_moved = l1_lock__held(&c->lock);
}

static void fc_broken(void *ctx, uint64_t gfn, enum p2m_state from)
{
	struct fake_client *c = ctx;
	c->breaks++;
	c->broken_from = from;
	c->state_in_broken = p2m__get(c->p2m, gfn); /* told before the move */
	c->locked_in_broken = l1_lock__held(&c->lock);
}

static void moves_go_through_the_client(void **state)
{
	(void)state;
	bool was = l1_lock__checking();
	l1_lock__set_checking(true); /* so l1_lock__held() answers */
	struct p2m p;
	struct apply_log a = { 0 };
	assert_int_equal(p2m__init(&p, 8), 0);
	struct fake_client c = { .p2m = &p };
	l1_lock__init(&c.lock, L1_RANK_DEDUP_ENGINE, "fake engine");
	assert_int_equal(p2m__client_move(&p, 0, 8, P2M_ANY, P2M_PRIVATE, NULL, NULL), 0);
	assert_int_equal(p2m__client_move(&p, 2, 1, P2M_ANY, P2M_SHARED, NULL, NULL), 0);
	assert_int_equal(p2m__client_move(&p, 3, 1, P2M_ANY, P2M_ZERO, NULL, NULL), 0);
	p2m__set_client(&p, &(struct p2m_client){ .lock = &c.lock, .release = fc_release,
						  .moved = fc_moved, .broken = fc_broken,
						  .ctx = &c });
	const uint32_t take = P2M_ANY & ~P2M_BIT(P2M_BALLOONED);

	/* a move that keeps the frames' memory cannot take them off their copies */
	assert_int_equal(p2m__move(&p, 0, 4, take, P2M_BALLOONED, NULL, NULL), -EPERM);
	assert_int_equal(c.releases, 0);
	assert_int_equal(p2m__get(&p, 2), P2M_SHARED);
	/* the client fails to release: nothing moves, the host side never runs */
	c.fail = -ENOMEM;
	assert_int_equal(p2m__move(&p, 0, 4, take, P2M_BALLOONED, apply_fn, &a), -ENOMEM);
	assert_int_equal(a.calls, 0);
	assert_int_equal(c.moves, 0);
	/* it succeeds: released under its lock, moved, told under its lock */
	c.fail = 0;
	assert_int_equal(p2m__move(&p, 0, 4, take, P2M_BALLOONED, apply_fn, &a), 0);
	assert_int_equal(c.releases, 2);
	assert_true(c.locked_in_release);
	assert_int_equal(c.moves, 1);
	assert_true(c.locked_in_moved);
	assert_int_equal(c.last_to, P2M_BALLOONED);
	assert_int_equal(a.calls, 1);
	assert_int_equal(p2m__count(&p, P2M_BALLOONED), 4);
	assert_int_equal(p2m__count(&p, P2M_SHARED) + p2m__count(&p, P2M_ZERO), 0);
	assert_false(l1_lock__held(&c.lock));
	/* a recorded write: the client hears of each break, under its lock,
	 * before the move; a refused record tells it nothing */
	assert_int_equal(p2m__client_move(&p, 5, 1, P2M_ANY, P2M_SHARED, NULL, NULL), 0);
	assert_int_equal(p2m__client_move(&p, 6, 1, P2M_ANY, P2M_ZERO, NULL, NULL), 0);
	assert_int_equal(p2m__record_written(&p, 3, 4), -EPERM); /* 3 is BALLOONED */
	assert_int_equal(c.breaks, 0);
	assert_int_equal(p2m__record_written(&p, 4, 3), 0);
	assert_int_equal(c.breaks, 2);
	assert_true(c.locked_in_broken);
	assert_int_equal(c.broken_from, P2M_ZERO);
	assert_int_equal(c.state_in_broken, P2M_ZERO);
	assert_int_equal(p2m__get(&p, 5), P2M_PRIVATE);
	assert_int_equal(p2m__get(&p, 6), P2M_PRIVATE);
	assert_int_equal(c.moves, 1); /* not a move by another mechanism */
	assert_false(l1_lock__held(&c.lock));
	/* without the client, a frame is moved directly and nobody is told */
	p2m__set_client(&p, NULL);
	assert_int_equal(p2m__move(&p, 0, 4, P2M_BIT(P2M_BALLOONED), P2M_UNPOPULATED, NULL, NULL),
			 0);
	assert_int_equal(c.moves, 1);
	counts_sum(&p);
	l1_lock__destroy(&c.lock);
	p2m__destroy(&p);
	l1_lock__set_checking(was);
}

struct hook_log {
	unsigned calls;
	uint64_t last;
};

static void dropped(void *ctx, uint64_t gfn)
{
	struct hook_log *h = ctx;
	h->calls++;
	h->last = gfn;
}

/* Host reclaim's path: evict, fetch back, and the store hook hears exactly
 * of the frames that leave the store for good. */
static void store_hook_hears_frames_leaving_for_good(void **state)
{
	(void)state;
	struct p2m p;
	struct hook_log h = { 0 };
	assert_int_equal(p2m__init(&p, 8), 0);
	p2m__set_store_hook(&p, &(struct p2m_store_hook){ .dropped = dropped, .ctx = &h });
	assert_int_equal(p2m__move(&p, 0, 8, P2M_ANY, P2M_PRIVATE, NULL, NULL), 0);
	assert_int_equal(p2m__move(&p, 0, 4, P2M_BIT(P2M_PRIVATE), P2M_IN_FLIGHT, NULL, NULL), 0);
	assert_int_equal(p2m__move(&p, 0, 4, P2M_BIT(P2M_IN_FLIGHT), P2M_COMPRESSED, NULL, NULL), 0);
	assert_int_equal(p2m__count(&p, P2M_COMPRESSED), 4);
	/* a fetch: in flight, then private; the stored bytes are reclaim's to drop */
	assert_int_equal(p2m__move(&p, 0, 1, P2M_BIT(P2M_COMPRESSED), P2M_IN_FLIGHT, NULL, NULL), 0);
	assert_int_equal(p2m__move(&p, 0, 1, P2M_BIT(P2M_IN_FLIGHT), P2M_PRIVATE, NULL, NULL), 0);
	assert_int_equal(h.calls, 0);
	/* the balloon takes frames 1..2, a report frees frame 3 */
	uint32_t guest = P2M_BIT(P2M_PRIVATE) | P2M_BIT(P2M_COMPRESSED) | P2M_BIT(P2M_UNPOPULATED);
	assert_int_equal(p2m__move(&p, 1, 2, guest, P2M_BALLOONED, NULL, NULL), 0);
	assert_int_equal(h.calls, 2);
	assert_int_equal(h.last, 2);
	/* a failed host side drops nothing */
	struct apply_log a = { .fail = -EIO };
	assert_int_equal(p2m__move(&p, 3, 1, guest, P2M_UNPOPULATED, apply_fn, &a), -EIO);
	assert_int_equal(h.calls, 2);
	assert_int_equal(p2m__move(&p, 3, 1, guest, P2M_UNPOPULATED, NULL, NULL), 0);
	assert_int_equal(h.calls, 3);
	assert_int_equal(h.last, 3);
	assert_int_equal(p2m__count(&p, P2M_COMPRESSED), 0);
	counts_sum(&p);
	p2m__destroy(&p);
}

struct finisher {
	struct p2m *p;
	int rc;
};

static void *finish_later(void *arg)
{
	struct finisher *f = arg;
	struct timespec ts = { .tv_nsec = 20 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	f->rc = p2m__move(f->p, 1, 1, P2M_BIT(P2M_IN_FLIGHT), P2M_COMPRESSED, NULL, NULL);
	return NULL;
}

/* A move meeting a frame in flight waits for it to land; sharing's moves
 * and recorded writes refuse it. */
static void in_flight_frames_are_waited_for(void **state)
{
	(void)state;
	struct p2m p;
	assert_int_equal(p2m__init(&p, 4), 0);
	assert_int_equal(p2m__move(&p, 0, 4, P2M_ANY, P2M_PRIVATE, NULL, NULL), 0);
	assert_int_equal(p2m__move(&p, 1, 1, P2M_BIT(P2M_PRIVATE), P2M_IN_FLIGHT, NULL, NULL), 0);
	assert_int_equal(p2m__client_move(&p, 0, 2, P2M_BIT(P2M_PRIVATE), P2M_SHARED, NULL, NULL),
			 -EPERM);
	assert_int_equal(p2m__record_written(&p, 1, 1), -EPERM);
	struct finisher f = { .p = &p, .rc = 1 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, finish_later, &f), 0);
	/* frames 0..1 to the balloon: frame 1 lands COMPRESSED first, then goes */
	uint32_t guest = P2M_BIT(P2M_PRIVATE) | P2M_BIT(P2M_COMPRESSED);
	assert_int_equal(p2m__move(&p, 0, 2, guest, P2M_BALLOONED, NULL, NULL), 0);
	pthread_join(t, NULL);
	assert_int_equal(f.rc, 0);
	assert_int_equal(p2m__get(&p, 1), P2M_BALLOONED);
	assert_int_equal(p2m__count(&p, P2M_IN_FLIGHT), 0);
	counts_sum(&p);
	p2m__destroy(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(each_move_allowed_or_refused),
		cmocka_unit_test(moves_are_all_or_nothing),
		cmocka_unit_test(record_written_from_each_state),
		cmocka_unit_test(model_run),
		cmocka_unit_test(moves_go_through_the_client),
		cmocka_unit_test(store_hook_hears_frames_leaving_for_good),
		cmocka_unit_test(in_flight_frames_are_waited_for),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
