/* The balloon fuzzers' model of guest memory (page_model.h). */
#include "page_model.h"

int page_model__slot(const struct page_model *m, uint64_t gfn)
{
	unsigned i = 0;
	while (i < m->n && m->gfn[i] != gfn)
		i++;
	return i < PAGE_MODEL_MAX ? (int)i : -1;
}

void page_model__wrote(struct page_model *m, int slot, uint64_t gfn, uint8_t v)
{
	if ((unsigned)slot == m->n)
		m->n++;
	m->gfn[slot] = gfn;
	m->byte[slot] = v;
}

void page_model__inflated(struct page_model *m, const uint64_t *list, uint64_t n, unsigned order)
{
	for (uint64_t e = 0; e < n; e++)
		for (unsigned i = 0; i < m->n; i++)
			if (m->gfn[i] - list[e] < 1ull << order)
				m->byte[i] = 0;
}

void balloon_list__fill(uint64_t *list, uint64_t nr_frames, uint8_t b, uint8_t c, uint32_t x,
			uint64_t y, uint64_t z)
{
	unsigned order = c % 10, n = 1 + x % 512, first = (x >> 9) % 512;
	uint64_t stride = (1 + (uint64_t)(b % 4)) << order;
	uint64_t base = y % nr_frames & ~((1ull << order) - 1);
	for (unsigned i = 0; i < n && first + i < 512; i++)
		list[first + i] = b & 0x80 ? y + i * z : base + i * stride;
}
