// SPDX-License-Identifier: MIT
/*
 * DOC: virtio-mmio windows from the command line (virtio_mmio.h).
 */
#include "kernel/virtio_mmio.h"

#include "kernel/console.h"
#include "kernel/mm.h"
#include "kernel/pvops.h"

/* A number as Linux's memparse takes it: 0x hex or decimal, then K/M/G. */
static bool parse_num(const char **sp, uint64_t *out, bool suffix)
{
	const char *s = *sp;
	uint64_t v = 0;
	unsigned int base = 10, digits = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (;; s++, digits++) {
		unsigned int d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned int)(*s - '0');
		else if (base == 16 && (*s | 0x20) >= 'a' && (*s | 0x20) <= 'f')
			d = (unsigned int)((*s | 0x20) - 'a' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	if (!digits)
		return false;
	if (suffix) {
		unsigned int shift = 0;

		switch (*s | 0x20) {
		case 'k': shift = 10; break;
		case 'm': shift = 20; break;
		case 'g': shift = 30; break;
		}
		if (shift) {
			if (v > UINT64_MAX >> shift)
				return false;
			v <<= shift;
			s++;
		}
	}
	*sp = s;
	*out = v;
	return true;
}

int virtio_mmio__window(const char *cmdline, unsigned int index, struct virtio_mmio_window *w,
			const char *who)
{
	static const char key[] = "virtio_mmio.device=";
	const char *s = 0;
	uint64_t id;

	for (const char *p = cmdline; *p && !s; p++) {
		size_t i = 0;

		if (p != cmdline && p[-1] != ' ')
			continue;
		while (key[i] && p[i] == key[i])
			i++;
		if (!key[i] && index-- == 0)
			s = p + i;
	}
	if (!s)
		return 0;
	if (!parse_num(&s, &w->size, true) || *s++ != '@' || !parse_num(&s, &w->base, true) ||
	    *s++ != ':' || !parse_num(&s, &w->irq, false) ||
	    (*s == ':' && (s++, !parse_num(&s, &id, false))) || (*s && *s != ' ')) {
		console__printf("%s: cannot parse virtio_mmio.device= "
				"(want <size>@<base>:<irq>, e.g. 4K@0xd0001000:5)\n", who);
		return -1;
	}
	return 1;
}

uint64_t virtio_mmio__map(uint64_t gpa)
{
	if (!pvops__shadow)
		return paging__map_mmio(gpa) ? gpa : 0;
	if (gpa <= L1_DOORBELL_GPA || gpa - L1_DOORBELL_GPA >= L1_SHADOW_MMIO_BYTES)
		return 0;
	return L1_SHADOW_MMIO_VA + (gpa - L1_DOORBELL_GPA);
}
