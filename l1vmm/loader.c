/* SPDX-License-Identifier: MIT */
/*
 * DOC: format detection and the placement rules every format shares.
 *
 * loader__load() picks the format: a Multiboot v1 header (magic with a valid
 * checksum in the first 8192 bytes) wins, because a multiboot kernel may also
 * be an ELF file; otherwise the ELF magic makes it an l1vmm-protocol ELF64
 * kernel; anything else is refused.
 *
 * Whatever the format, the image ends up as a list of segments (ELF program
 * headers, or the one range of an a.out-kludge multiboot image), and
 * loader__place() is the only code that puts bytes into the guest. It checks
 * everything first and writes nothing unless the whole image is acceptable:
 *  - filesz <= memsz; a segment with memsz 0 places nothing and is not
 *    looked at further;
 *  - the file bytes [offset, offset + filesz) lie inside the image;
 *  - the guest range [gpa, gpa + memsz) does not wrap, starts at or above
 *    L1_BOOT_AREA_END (the host's boot structures live below), ends at or
 *    below the caller's limit (4 GiB for 32-bit kernels), and lies inside one
 *    RAM region (so never in or across the MMIO hole);
 *  - no two segments overlap;
 *  - the entry point lies inside a segment.
 * Then it copies the file bytes with ept__write() and zeroes the rest of each
 * segment through ept__gpa_ptr(), marking those frames private too: the bss
 * now has a host page, and the guest must read zeros there even if the
 * memory was used before.
 */
#include "l1vmm/loader.h"

#include <elf.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pvops/l1vmm_abi.h"

int loader__fail(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	/* The VMM prints the reason on one line after "kernel IMAGE: ". */
	for (char *c = err; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	return -1;
}

int loader__load(const void *img, size_t size, struct ept_mem *mem,
		 uint64_t cmdline_gpa, struct boot_image *out, char *err, size_t errlen)
{
	*out = (struct boot_image){ 0 };
	if (loader__is_multiboot(img, size))
		return loader__load_multiboot(img, size, mem, cmdline_gpa, out, err, errlen);
	if (size >= SELFMAG && memcmp(img, ELFMAG, SELFMAG) == 0)
		return loader__load_elf(img, size, mem, out, err, errlen);
	return loader__fail(err, errlen,
			    "not a kernel: no multiboot header (with a valid checksum) in the first 8192 bytes and no ELF magic (file is 0x%zx bytes)",
			    size);
}

/* "what" alone for a single segment, "what i" when there are several. */
static const char *segment_name(char *buf, size_t len, const char *what,
				unsigned i, unsigned nr)
{
	if (nr == 1)
		return what;
	snprintf(buf, len, "%s %u", what, i);
	return buf;
}

static uint64_t ram_end(const struct ept_mem *mem)
{
	const struct ept_region *top = &mem->region[mem->nr_regions - 1];
	return top->gpa + top->size;
}

/* [gpa, end) is not inside one RAM region: say whether it is too high or in the hole. */
static int ram_fail(const struct ept_mem *mem, const char *name, uint64_t gpa,
		    uint64_t end, char *err, size_t errlen)
{
	if (end > ram_end(mem) || mem->nr_regions < 2)
		return loader__fail(err, errlen,
				    "%s [0x%" PRIx64 ", 0x%" PRIx64 ") ends beyond guest memory (%" PRIu64 " MiB, RAM ends at 0x%" PRIx64 ")",
				    name, gpa, end, mem->mem_bytes >> 20, ram_end(mem));
	const struct ept_region *low = &mem->region[0], *high = &mem->region[1];
	return loader__fail(err, errlen,
			    "%s [0x%" PRIx64 ", 0x%" PRIx64 ") is not inside one RAM region: it reaches into the MMIO hole [0x%" PRIx64 ", 0x%" PRIx64 ")",
			    name, gpa, end, low->gpa + low->size, high->gpa);
}

/* The checks of the DOC for segment i; segs[0, i) have passed them already. */
static int check_segment(size_t size, const struct ept_mem *mem,
			 const struct loader_segment *segs, unsigned i, unsigned nr,
			 uint64_t limit, const char *what, char *err, size_t errlen)
{
	const struct loader_segment *s = &segs[i];
	char buf[64];
	const char *name = segment_name(buf, sizeof(buf), what, i, nr);

	if (s->filesz > s->memsz)
		return loader__fail(err, errlen,
				    "%s has 0x%" PRIx64 " bytes in the file but only 0x%" PRIx64 " in memory (file size exceeds memory size)",
				    name, s->filesz, s->memsz);
	if (s->memsz == 0)
		return 0; /* places nothing, reads nothing */
	if (s->offset > size || s->filesz > size - s->offset)
		return loader__fail(err, errlen,
				    "%s takes file bytes [0x%" PRIx64 ", +0x%" PRIx64 "), beyond the end of the file (0x%zx bytes)",
				    name, s->offset, s->filesz, size);
	if (s->gpa < L1_BOOT_AREA_END)
		return loader__fail(err, errlen,
				    "%s loads at 0x%" PRIx64 ", inside the host boot area below 0x%llx (kernels load at or above 1 MiB)",
				    name, s->gpa, L1_BOOT_AREA_END);
	if (s->memsz > UINT64_MAX - s->gpa)
		return loader__fail(err, errlen,
				    "%s at 0x%" PRIx64 " of 0x%" PRIx64 " bytes wraps around the address space",
				    name, s->gpa, s->memsz);
	uint64_t end = s->gpa + s->memsz;
	if (end > limit)
		return loader__fail(err, errlen,
				    "%s [0x%" PRIx64 ", 0x%" PRIx64 ") ends above 0x%" PRIx64 ", out of reach of a 32-bit kernel",
				    name, s->gpa, end, limit);
	if (!ept__gpa_ptr(mem, s->gpa, s->memsz))
		return ram_fail(mem, name, s->gpa, end, err, errlen);
	for (unsigned j = 0; j < i; j++) {
		const struct loader_segment *o = &segs[j];
		if (o->memsz == 0 || o->gpa >= end || s->gpa >= o->gpa + o->memsz)
			continue;
		char obuf[64];
		return loader__fail(err, errlen,
				    "%s [0x%" PRIx64 ", 0x%" PRIx64 ") overlaps %s [0x%" PRIx64 ", 0x%" PRIx64 ")",
				    name, s->gpa, end,
				    segment_name(obuf, sizeof(obuf), what, j, nr),
				    o->gpa, o->gpa + o->memsz);
	}
	return 0;
}

/* Zero guest bytes [gpa, gpa + len), already checked to be RAM, and own them. */
static void zero_guest(struct ept_mem *mem, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		return;
	memset(ept__gpa_ptr(mem, gpa, len), 0, len);
	ept__mark_written(mem, gpa, len);
}

int loader__place(const void *img, size_t size, struct ept_mem *mem,
		  const struct loader_segment *segs, unsigned nr, uint64_t limit,
		  uint64_t entry, const char *what, struct boot_image *out,
		  char *err, size_t errlen)
{
	if (nr > LOADER_MAX_SEGMENTS)
		return loader__fail(err, errlen, "%u %ss, more than the %u allowed",
				    nr, what, LOADER_MAX_SEGMENTS);
	if (mem->nr_regions == 0)
		return loader__fail(err, errlen, "guest has no RAM");

	uint64_t start = UINT64_MAX, end = 0;
	bool entry_inside = false;
	for (unsigned i = 0; i < nr; i++) {
		if (check_segment(size, mem, segs, i, nr, limit, what, err, errlen))
			return -1;
		const struct loader_segment *s = &segs[i];
		if (s->memsz == 0)
			continue;
		if (s->gpa < start)
			start = s->gpa;
		if (s->gpa + s->memsz > end)
			end = s->gpa + s->memsz;
		if (entry >= s->gpa && entry - s->gpa < s->memsz)
			entry_inside = true;
	}
	if (end == 0)
		return loader__fail(err, errlen, "nothing to load: every %s is empty", what);
	if (!entry_inside)
		return loader__fail(err, errlen,
				    "entry point 0x%" PRIx64 " is outside %s loaded %s (image spans [0x%" PRIx64 ", 0x%" PRIx64 "))",
				    entry, nr == 1 ? "the" : "every", what, start, end);

	const uint8_t *bytes = img;
	for (unsigned i = 0; i < nr; i++) {
		const struct loader_segment *s = &segs[i];
		if (s->memsz == 0)
			continue;
		if (!ept__write(mem, s->gpa, bytes + s->offset, s->filesz))
			return loader__fail(err, errlen, "cannot write guest bytes at 0x%" PRIx64,
					    s->gpa); /* unreachable: checked above */
		zero_guest(mem, s->gpa + s->filesz, s->memsz - s->filesz);
	}

	/* end <= the top of RAM, which is page aligned: rounding up cannot wrap. */
	out->entry = entry;
	out->image_start = start;
	out->image_end = (end + EPT_PAGE_SIZE - 1) & ~(EPT_PAGE_SIZE - 1);
	return 0;
}
