/*
 * libFuzzer target: a vCPU's pseudo-page-fault tokens (reclaim/apf.c). What a
 * guest controls is the order of events: which frames its tasks fault on, how
 * fast it takes its "page ready" tokens, when it disables and re-enables
 * pseudo page faults (a reset), and when fetches finish (host timing it can
 * steer). Each input byte is one event on one table, checked against a model
 * kept here: issue (a fault on one of 8 frames), complete (the fetch of one
 * frame, in the current or a past epoch), take a ready token, reset, a
 * frame's fetch failing or succeeding (apf__fail, apf__fetched).
 * Invariants: at most APF_TOKENS tokens out; a token is never 0 nor
 * L1_APF_WAKE_ALL, and no two outstanding tokens are equal; a frame's first
 * waiter starts its fetch, later ones do not; a complete of a past epoch
 * changes nothing; every ready token handed out was issued in this epoch,
 * completed, and is handed out once; a failing frame gets no token (-EIO)
 * until it was fetched, across resets; the counters match the model.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reclaim/apf.h"

#define NR_GFNS 8

#define check(cond) \
	do { \
		if (!(cond)) \
			abort(); \
	} while (0)

enum model_state { M_OUT_WAITING = 1, M_OUT_DONE };

struct model {
	uint32_t token[APF_TOKENS * 2];
	uint64_t gfn[APF_TOKENS * 2];
	uint8_t state[APF_TOKENS * 2]; /* 0: none */
	unsigned n;
};

static int find_token(const struct model *m, uint32_t tok)
{
	for (unsigned i = 0; i < m->n; i++)
		if (m->state[i] && m->token[i] == tok)
			return (int)i;
	return -1;
}

static unsigned count(const struct model *m, enum model_state s)
{
	unsigned c = 0;
	for (unsigned i = 0; i < m->n; i++)
		c += m->state[i] == s;
	return c;
}

static bool waiting_on(const struct model *m, uint64_t gfn)
{
	for (unsigned i = 0; i < m->n; i++)
		if (m->state[i] == M_OUT_WAITING && m->gfn[i] == gfn)
			return true;
	return false;
}

/* Drop the model's freed entries so it never outgrows its arrays. */
static void compact(struct model *m)
{
	unsigned k = 0;
	for (unsigned i = 0; i < m->n; i++) {
		if (!m->state[i])
			continue;
		m->token[k] = m->token[i];
		m->gfn[k] = m->gfn[i];
		m->state[k++] = m->state[i];
	}
	m->n = k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct apf_table t;
	static struct model m;
	apf__init(&t);
	memset(&m, 0, sizeof(m));
	uint32_t epoch = 0;
	bool failing[NR_GFNS] = { false };
	_Static_assert(NR_GFNS <= APF_FAILING_MARKS, "the model keeps every mark");

	for (size_t k = 0; k < size; k++) {
		uint8_t op = data[k] >> 6, arg = data[k] & 63;
		uint64_t gfn = 0x1000 + (arg % NR_GFNS);
		switch (op) {
		case 0: { /* a fault */
			uint32_t tok = 0;
			bool fetch = false, first = !waiting_on(&m, gfn);
			int rc = apf__issue(&t, gfn, &tok, &fetch);
			unsigned out = count(&m, M_OUT_WAITING) + count(&m, M_OUT_DONE);
			if (failing[arg % NR_GFNS]) {
				check(rc == -EIO);
				break;
			}
			if (out == APF_TOKENS) {
				check(rc < 0);
				break;
			}
			check(rc == 0);
			check(tok != 0 && tok != L1_APF_WAKE_ALL);
			check(find_token(&m, tok) < 0);
			check(fetch == first);
			compact(&m);
			m.token[m.n] = tok;
			m.gfn[m.n] = gfn;
			m.state[m.n++] = M_OUT_WAITING;
			break;
		}
		case 1: { /* a fetch finishes, in this epoch or (arg bit 5) an older one */
			bool stale = (arg & 32) && epoch > 0;
			unsigned n = apf__complete(&t, gfn, stale ? epoch - 1 : epoch);
			unsigned want = 0;
			for (unsigned i = 0; i < m.n && !stale; i++) {
				if (m.state[i] == M_OUT_WAITING && m.gfn[i] == gfn) {
					m.state[i] = M_OUT_DONE;
					want++;
				}
			}
			check(n == want);
			break;
		}
		case 2: { /* the guest takes a ready token */
			uint32_t tok = 0;
			bool got = apf__take_ready(&t, &tok);
			check(got == (count(&m, M_OUT_DONE) > 0));
			if (got) {
				int i = find_token(&m, tok);
				check(i >= 0 && m.state[i] == M_OUT_DONE);
				m.state[i] = 0;
			}
			break;
		}
		default:
			if (arg & 32) { /* a fetch of the frame failed (arg bit 4 clear) or worked */
				if (arg & 16)
					apf__fetched(&t, gfn);
				else
					apf__fail(&t, gfn);
				failing[arg % NR_GFNS] = !(arg & 16);
				break;
			}
			/* disable / re-enable: the marks stay */
			apf__reset(&t);
			epoch++;
			memset(&m, 0, sizeof(m));
			break;
		}
		check(t.outstanding == count(&m, M_OUT_WAITING) + count(&m, M_OUT_DONE));
		check(t.done == count(&m, M_OUT_DONE));
		check(t.outstanding <= APF_TOKENS);
	}
	return 0;
}
