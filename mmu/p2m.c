/* SPDX-License-Identifier: MIT */
#include "mmu/p2m.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int p2m__init(struct p2m *p2m, uint64_t nr_frames)
{
	*p2m = (struct p2m){ .nr_frames = nr_frames };
	if (nr_frames == 0)
		return -EINVAL;
	p2m->state = calloc(nr_frames, sizeof(*p2m->state));
	if (!p2m->state)
		return -ENOMEM;
	p2m->count[P2M_UNPOPULATED] = nr_frames;
	return 0;
}

void p2m__destroy(struct p2m *p2m)
{
	free(p2m->state);
	*p2m = (struct p2m){ 0 };
}

bool p2m__set_range(struct p2m *p2m, uint64_t gfn, uint64_t n, enum p2m_state state)
{
	if (state >= P2M_NR_STATES || gfn > p2m->nr_frames || n > p2m->nr_frames - gfn)
		return false;
	for (uint64_t i = gfn; i < gfn + n; i++) {
		p2m->count[p2m->state[i]]--;
		p2m->state[i] = (uint8_t)state;
	}
	p2m->count[state] += n;
	return true;
}

enum p2m_state p2m__get(const struct p2m *p2m, uint64_t gfn)
{
	return gfn < p2m->nr_frames ? (enum p2m_state)p2m->state[gfn] : P2M_NR_STATES;
}
