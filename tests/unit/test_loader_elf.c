/* SPDX-License-Identifier: MIT */
/*
 * ELF64 (l1vmm protocol) loader tests over fake guest memory.
 *
 * Images are assembled here: build_elf64() writes a file header, the program
 * headers and each segment's file bytes (a pattern that is never 0 and never
 * the 0xAA that pre-fills guest memory), and the tests then break one field
 * at a time. Every refused image must leave guest memory untouched and give
 * a one-line reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "l1vmm/loader.h"
#include "pvops/l1vmm_abi.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define GUEST_BYTES (4 * MiB)
#define FILL 0xAA

struct image {
	_Alignas(8) uint8_t b[64 * 1024];
	size_t size;
};

struct fixture {
	struct ept_mem mem;
	struct image im;
	struct boot_image bi;
	char err[256];
};

struct seg {
	uint32_t type;
	uint64_t paddr;
	uint64_t filesz;
	uint64_t memsz;
};

/* Byte k of segment i's file data: odd, so never 0 and never FILL. */
static uint8_t pattern(unsigned i, uint64_t k)
{
	return (uint8_t)((k * 131 + i * 17) | 1);
}

static Elf64_Ehdr *ehdr(struct image *im)
{
	return (Elf64_Ehdr *)im->b;
}

static Elf64_Phdr *phdr(struct image *im, unsigned i)
{
	return (Elf64_Phdr *)(im->b + sizeof(Elf64_Ehdr)) + i;
}

/* An ELF64 x86-64 executable with segments n at p_vaddr == p_paddr. */
static void build_elf64(struct image *im, uint64_t entry, const struct seg *segs, unsigned n)
{
	memset(im, 0, sizeof(*im));
	Elf64_Ehdr *eh = ehdr(im);
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = entry;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = (uint16_t)n;

	size_t off = sizeof(Elf64_Ehdr) + n * sizeof(Elf64_Phdr);
	for (unsigned i = 0; i < n; i++) {
		assert_true(off + segs[i].filesz <= sizeof(im->b));
		*phdr(im, i) = (Elf64_Phdr){
			.p_type = segs[i].type, .p_flags = PF_R | PF_W | PF_X,
			.p_offset = off, .p_vaddr = segs[i].paddr, .p_paddr = segs[i].paddr,
			.p_filesz = segs[i].filesz, .p_memsz = segs[i].memsz, .p_align = 0x1000,
		};
		for (uint64_t k = 0; k < segs[i].filesz; k++)
			im->b[off + k] = pattern(i, k);
		off += segs[i].filesz;
	}
	im->size = off;
}

/* Text with a bss tail at 1 MiB, data at 2 MiB; entry in the text. */
static const struct seg default_segs[] = {
	{ PT_LOAD, 0x100000, 0x1800, 0x3000 },
	{ PT_LOAD, 0x200000, 0x100, 0x100 },
};
#define DEFAULT_ENTRY 0x100010ull

static void build_default(struct image *im)
{
	build_elf64(im, DEFAULT_ENTRY, default_segs, 2);
}

static int setup_mem(void **state, uint64_t bytes, bool fill)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || ept__mem_init(&f->mem, bytes))
		return -1;
	/* Memory that was used before: the loader must zero the bss itself. */
	if (fill)
		memset(f->mem.base, FILL, bytes);
	build_default(&f->im);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_mem(state, GUEST_BYTES, true);
}

/* 3 GiB + 4 MiB: RAM [0, 3 GiB) and [4 GiB, 4 GiB + 4 MiB), the hole between. */
static int setup_hole(void **state)
{
	return setup_mem(state, 3 * GiB + 4 * MiB, false);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ept__mem_destroy(&f->mem);
	free(f);
	return 0;
}

static int load(struct fixture *f)
{
	memset(f->err, 0, sizeof(f->err));
	return loader__load_elf(f->im.b, f->im.size, &f->mem, &f->bi, f->err, sizeof(f->err));
}

static uint8_t *guest(struct fixture *f, uint64_t gpa, uint64_t len)
{
	uint8_t *p = ept__gpa_ptr(&f->mem, gpa, len);
	assert_non_null(p);
	return p;
}

static void assert_one_line(const char *err)
{
	assert_true(err[0] != '\0');
	assert_null(strchr(err, '\n'));
	assert_null(strchr(err, '\r'));
}

/* A digest of all guest RAM (only for the small guests). */
static uint64_t guest_digest(const struct fixture *f)
{
	if (f->mem.mem_bytes > GUEST_BYTES)
		return 0;
	const uint64_t *w = (const uint64_t *)f->mem.base;
	uint64_t h = 0;
	for (uint64_t i = 0; i < f->mem.mem_bytes / 8; i++)
		h = (h ^ w[i]) * 0x100000001b3ull + i;
	return h;
}

/* Refused with a reason that mentions needle, and nothing written. */
static void expect_fail(struct fixture *f, const char *needle)
{
	uint64_t digest = guest_digest(f);
	uint64_t private = f->mem.p2m.count[P2M_PRIVATE];
	assert_int_equal(load(f), -1);
	assert_one_line(f->err);
	if (needle && !strstr(f->err, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", f->err, needle);
	assert_int_equal(f->mem.p2m.count[P2M_PRIVATE], private);
	assert_int_equal(guest_digest(f), digest);
}

static void assert_segment_loaded(struct fixture *f, unsigned i, const struct seg *s)
{
	const uint8_t *g = guest(f, s->paddr, s->memsz);
	for (uint64_t k = 0; k < s->filesz; k++)
		if (g[k] != pattern(i, k))
			fail_msg("segment %u byte 0x%llx: 0x%x, expected 0x%x", i,
				 (unsigned long long)k, g[k], pattern(i, k));
	for (uint64_t k = s->filesz; k < s->memsz; k++)
		if (g[k] != 0)
			fail_msg("segment %u bss byte 0x%llx is 0x%x, not zeroed", i,
				 (unsigned long long)k, g[k]);
}

static void valid_image_loads_bytes_and_zeroes_bss(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(load(f), 0);
	assert_segment_loaded(f, 0, &default_segs[0]);
	assert_segment_loaded(f, 1, &default_segs[1]);
	/* Around the segments, guest memory is untouched. */
	assert_int_equal(*guest(f, 0x100000 - 1, 1), FILL);
	assert_int_equal(*guest(f, 0x103000, 1), FILL);
	assert_int_equal(*guest(f, 0x200100, 1), FILL);
}

static void valid_image_reports_range_and_entry(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(load(f), 0);
	assert_int_equal(f->bi.protocol, BOOT_L1_LONG64);
	assert_int_equal(f->bi.entry, DEFAULT_ENTRY);
	assert_int_equal(f->bi.image_start, 0x100000);
	assert_int_equal(f->bi.image_end, 0x201000); /* 0x200100 page aligned up */
	assert_int_equal(f->bi.mb_info_gpa, 0);
}

static void loaded_frames_are_private(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(load(f), 0);
	const struct p2m *p = &f->mem.p2m;
	/* 0x100000 + 0x3000 covers three frames including the bss; 0x200000 one. */
	for (uint64_t gfn = 0x100; gfn < 0x103; gfn++)
		assert_int_equal(p2m__get(p, gfn), P2M_PRIVATE);
	assert_int_equal(p2m__get(p, 0x103), P2M_UNPOPULATED);
	assert_int_equal(p2m__get(p, 0xff), P2M_UNPOPULATED);
	assert_int_equal(p2m__get(p, 0x200), P2M_PRIVATE);
	assert_int_equal(p->count[P2M_PRIVATE], 4);
	assert_int_equal(p->count[P2M_PRIVATE] + p->count[P2M_UNPOPULATED], p->nr_frames);
}

static void load_dispatches_elf64(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(loader__load(f->im.b, f->im.size, &f->mem, L1_CMDLINE_GPA, &f->bi,
				      f->err, sizeof(f->err)), 0);
	assert_int_equal(f->bi.protocol, BOOT_L1_LONG64);
	assert_int_equal(f->bi.entry, DEFAULT_ENTRY);
	assert_int_equal(f->mem.p2m.count[P2M_PRIVATE], 4);
}

static void load_refuses_unknown_format(void **state)
{
	struct fixture *f = *state;
	memset(f->im.b, 0x90, 4096);
	assert_int_equal(loader__load(f->im.b, 4096, &f->mem, L1_CMDLINE_GPA, &f->bi,
				      f->err, sizeof(f->err)), -1);
	assert_one_line(f->err);
	assert_non_null(strstr(f->err, "not a kernel"));
	assert_int_equal(loader__load(f->im.b, 0, &f->mem, L1_CMDLINE_GPA, &f->bi,
				      f->err, sizeof(f->err)), -1);
	assert_one_line(f->err);
	assert_int_equal(f->mem.p2m.count[P2M_PRIVATE], 0);
}

/* Every prefix of a valid image is refused, by both entry points. */
static void every_truncation_fails(void **state)
{
	struct fixture *f = *state;
	for (size_t len = 0; len < f->im.size; len++) {
		f->err[0] = '\0';
		if (loader__load_elf(f->im.b, len, &f->mem, &f->bi, f->err, sizeof(f->err)) != -1)
			fail_msg("image cut to 0x%zx bytes was accepted", len);
		assert_one_line(f->err);
		f->err[0] = '\0';
		if (loader__load(f->im.b, len, &f->mem, 0, &f->bi, f->err, sizeof(f->err)) != -1)
			fail_msg("loader__load accepted an image cut to 0x%zx bytes", len);
		assert_one_line(f->err);
	}
	assert_int_equal(f->mem.p2m.count[P2M_PRIVATE], 0);
	assert_int_equal(*guest(f, 0x100000, 1), FILL);
}

static void bad_magic(void **state)
{
	struct fixture *f = *state;
	f->im.b[1] = 'e';
	expect_fail(f, "ELF magic");
}

static void elf32_needs_multiboot(void **state)
{
	struct fixture *f = *state;
	ehdr(&f->im)->e_ident[EI_CLASS] = ELFCLASS32;
	expect_fail(f, "multiboot");
}

static void bad_class_encoding_version(void **state)
{
	struct fixture *f = *state;
	ehdr(&f->im)->e_ident[EI_CLASS] = 3;
	expect_fail(f, "class 0x3");
	build_default(&f->im);
	ehdr(&f->im)->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_fail(f, "little-endian");
	build_default(&f->im);
	ehdr(&f->im)->e_ident[EI_VERSION] = 0;
	expect_fail(f, "version");
}

static void wrong_machine(void **state)
{
	struct fixture *f = *state;
	ehdr(&f->im)->e_machine = EM_386;
	expect_fail(f, "machine 0x3, expected 0x3e");
	ehdr(&f->im)->e_machine = EM_AARCH64;
	expect_fail(f, "machine 0xb7");
}

static void wrong_type(void **state)
{
	struct fixture *f = *state;
	ehdr(&f->im)->e_type = ET_DYN;
	expect_fail(f, "ELF type 0x3");
	ehdr(&f->im)->e_type = ET_REL;
	expect_fail(f, "ELF type 0x1");
	ehdr(&f->im)->e_type = ET_CORE;
	expect_fail(f, "ELF type 0x4");
}

static void phdr_table_outside_file(void **state)
{
	struct fixture *f = *state;
	ehdr(&f->im)->e_phoff = f->im.size;
	expect_fail(f, "program headers");
	ehdr(&f->im)->e_phoff = f->im.size - sizeof(Elf64_Phdr); /* second one cut off */
	expect_fail(f, "program headers");
	ehdr(&f->im)->e_phoff = UINT64_MAX - 8; /* phoff + table wraps */
	expect_fail(f, "program headers");
	build_default(&f->im);
	f->im.size = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) + 8; /* phnum reaches past the end */
	expect_fail(f, "program headers");
}

static void bad_phentsize(void **state)
{
	struct fixture *f = *state;
	static const uint16_t sizes[] = { 0, 1, sizeof(Elf32_Phdr), sizeof(Elf64_Phdr) + 8, 0xffff };
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ehdr(&f->im)->e_phentsize = sizes[i];
		expect_fail(f, "e_phentsize");
	}
}

static void p_offset_plus_filesz_overflows(void **state)
{
	struct fixture *f = *state;
	phdr(&f->im, 1)->p_offset = UINT64_MAX - 0x10;
	expect_fail(f, "ELF segment 1 takes file bytes");
}

static void segment_beyond_file(void **state)
{
	struct fixture *f = *state;
	phdr(&f->im, 1)->p_filesz += 1;
	phdr(&f->im, 1)->p_memsz += 1;
	expect_fail(f, "beyond the end of the file");
	build_default(&f->im);
	phdr(&f->im, 0)->p_offset = f->im.size + 0x1000;
	expect_fail(f, "beyond the end of the file");
}

static void filesz_exceeds_memsz(void **state)
{
	struct fixture *f = *state;
	phdr(&f->im, 0)->p_memsz = phdr(&f->im, 0)->p_filesz - 1;
	expect_fail(f, "file size exceeds memory size");
	/* A zero-sized PT_LOAD carrying file bytes is just as wrong. */
	build_default(&f->im);
	phdr(&f->im, 1)->p_memsz = 0;
	expect_fail(f, "ELF segment 1");
}

static void segment_outside_guest_memory(void **state)
{
	struct fixture *f = *state;
	/* Ends one page past the 4 MiB of RAM. */
	phdr(&f->im, 1)->p_paddr = GUEST_BYTES - 0x80;
	phdr(&f->im, 1)->p_memsz = 0x1080;
	expect_fail(f, "beyond guest memory (4 MiB");
	phdr(&f->im, 1)->p_paddr = 0x10000000;
	expect_fail(f, "0x10000000");
	/* gpa + memsz wraps. */
	phdr(&f->im, 1)->p_paddr = UINT64_MAX - 0xff;
	phdr(&f->im, 1)->p_memsz = 0x1000;
	expect_fail(f, "wraps");
}

static void segment_in_boot_area(void **state)
{
	struct fixture *f = *state;
	struct seg low[] = { { PT_LOAD, 0x80000, 0x100, 0x100 } };
	build_elf64(&f->im, 0x80000, low, 1);
	expect_fail(f, "boot area");
	/* Starts one byte below 1 MiB. */
	struct seg edge[] = { { PT_LOAD, 0xfffff, 0x100, 0x100 } };
	build_elf64(&f->im, 0x100000, edge, 1);
	expect_fail(f, "0xfffff");
	/* A segment at gpa 0 (a common mistake: p_paddr left at 0). */
	struct seg zero[] = { { PT_LOAD, 0, 0x100, 0x100 } };
	build_elf64(&f->im, 0, zero, 1);
	expect_fail(f, "boot area");
}

static void overlapping_segments(void **state)
{
	struct fixture *f = *state;
	/* Segment 1 starts inside segment 0's bss. */
	phdr(&f->im, 1)->p_paddr = 0x102fff;
	expect_fail(f, "ELF segment 1 [0x102fff, 0x1030ff) overlaps ELF segment 0");
	/* Segment 1 contains segment 0. */
	build_default(&f->im);
	phdr(&f->im, 1)->p_paddr = 0xff000 + 0x1000;
	phdr(&f->im, 1)->p_memsz = 0x10000;
	expect_fail(f, "overlaps");
	/* Same start. */
	phdr(&f->im, 1)->p_paddr = 0x100000;
	phdr(&f->im, 1)->p_memsz = 0x100;
	expect_fail(f, "overlaps");
}

static void adjacent_segments_load(void **state)
{
	struct fixture *f = *state;
	/* Segment 1 starts exactly where segment 0's bss ends. */
	phdr(&f->im, 1)->p_paddr = 0x103000;
	phdr(&f->im, 1)->p_vaddr = 0x103000;
	assert_int_equal(load(f), 0);
	assert_int_equal(f->bi.image_end, 0x104000);
	struct seg moved = { PT_LOAD, 0x103000, 0x100, 0x100 };
	assert_segment_loaded(f, 1, &moved);
}

static void segment_straddling_ram_hole(void **state)
{
	struct fixture *f = *state;
	struct seg straddle[] = { { PT_LOAD, L1_RAM_HOLE_START - 0x1000, 0x100, 0x2000 } };
	build_elf64(&f->im, L1_RAM_HOLE_START - 0x1000, straddle, 1);
	expect_fail(f, "MMIO hole [0xc0000000, 0x100000000)");
	struct seg inside[] = { { PT_LOAD, L1_DOORBELL_GPA, 0x100, 0x100 } };
	build_elf64(&f->im, L1_DOORBELL_GPA, inside, 1);
	expect_fail(f, "MMIO hole");
	/* Ends exactly at the hole: fine. */
	struct seg below[] = { { PT_LOAD, L1_RAM_HOLE_START - 0x1000, 0x100, 0x1000 } };
	build_elf64(&f->im, L1_RAM_HOLE_START - 0x1000, below, 1);
	assert_int_equal(load(f), 0);
	assert_int_equal(f->bi.image_end, L1_RAM_HOLE_START);
}

static void segment_in_high_ram_loads(void **state)
{
	struct fixture *f = *state;
	struct seg high[] = { { PT_LOAD, L1_RAM_HIGH_START + 0x2000, 0x80, 0x1000 } };
	build_elf64(&f->im, L1_RAM_HIGH_START + 0x2000, high, 1);
	assert_int_equal(load(f), 0);
	assert_segment_loaded(f, 0, &high[0]);
	assert_int_equal(f->bi.image_start, L1_RAM_HIGH_START + 0x2000);
	assert_int_equal(p2m__get(&f->mem.p2m, (L1_RAM_HIGH_START + 0x2000) >> 12), P2M_PRIVATE);
	/* Past the end of high RAM. */
	high[0].paddr = L1_RAM_HIGH_START + 4 * MiB - 0x800;
	build_elf64(&f->im, high[0].paddr, high, 1);
	expect_fail(f, "beyond guest memory");
}

static void entry_outside_segments(void **state)
{
	struct fixture *f = *state;
	ehdr(&f->im)->e_entry = 0x103000; /* just past segment 0's bss */
	expect_fail(f, "entry point 0x103000");
	ehdr(&f->im)->e_entry = 0;
	expect_fail(f, "entry point 0x0");
	/* Inside the bss is inside the segment. */
	ehdr(&f->im)->e_entry = 0x102000;
	assert_int_equal(load(f), 0);
	assert_int_equal(f->bi.entry, 0x102000);
}

static void entry_translated_from_vaddr(void **state)
{
	struct fixture *f = *state;
	/* Linked high, loaded at 1 MiB: the entry moves with the segment. */
	phdr(&f->im, 0)->p_vaddr = 0xffffffff80100000ull;
	ehdr(&f->im)->e_entry = 0xffffffff80100040ull;
	assert_int_equal(load(f), 0);
	assert_int_equal(f->bi.entry, 0x100040);
}

static void too_many_program_headers(void **state)
{
	struct fixture *f = *state;
	struct seg many[LOADER_MAX_SEGMENTS + 1];
	for (unsigned i = 0; i < LOADER_MAX_SEGMENTS + 1; i++)
		many[i] = (struct seg){ PT_LOAD, 0x100000 + i * 0x1000ull, 0x10, 0x1000 };
	build_elf64(&f->im, 0x100000, many, LOADER_MAX_SEGMENTS + 1);
	expect_fail(f, "65 program headers");
	ehdr(&f->im)->e_phnum = 0xffff; /* PN_XNUM: extended numbering, not supported */
	expect_fail(f, "program headers");

	/* The limit itself is fine. */
	build_elf64(&f->im, 0x100000, many, LOADER_MAX_SEGMENTS);
	assert_int_equal(load(f), 0);
	assert_int_equal(f->bi.image_end, 0x100000 + LOADER_MAX_SEGMENTS * 0x1000ull);
	assert_int_equal(f->mem.p2m.count[P2M_PRIVATE], LOADER_MAX_SEGMENTS);
}

static void no_loadable_segment(void **state)
{
	struct fixture *f = *state;
	ehdr(&f->im)->e_phnum = 0;
	expect_fail(f, "no program headers");
	build_default(&f->im);
	phdr(&f->im, 0)->p_type = PT_NOTE;
	phdr(&f->im, 1)->p_type = PT_GNU_STACK;
	expect_fail(f, "no PT_LOAD");
	struct seg empty[] = { { PT_LOAD, 0x100000, 0, 0 } };
	build_elf64(&f->im, 0x100000, empty, 1);
	expect_fail(f, "no PT_LOAD");
}

static void other_program_headers_are_ignored(void **state)
{
	struct fixture *f = *state;
	/* A note whose fields would fail every check: it places nothing. */
	struct seg segs[] = {
		{ PT_NOTE, 0, 0, 0 },
		{ PT_LOAD, 0x100000, 0x40, 0x40 },
	};
	build_elf64(&f->im, 0x100000, segs, 2);
	*phdr(&f->im, 0) = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = UINT64_MAX,
					  .p_paddr = 0x10, .p_filesz = 0x1000, .p_memsz = 0x10 };
	assert_int_equal(load(f), 0);
	assert_int_equal(f->mem.p2m.count[P2M_PRIVATE], 1);
}

static void unaligned_image_loads(void **state)
{
	struct fixture *f = *state;
	/* The loader copies headers out, so an odd buffer address is fine. */
	uint8_t *copy = malloc(f->im.size + 1);
	assert_non_null(copy);
	memcpy(copy + 1, f->im.b, f->im.size);
	int r = loader__load_elf(copy + 1, f->im.size, &f->mem, &f->bi, f->err, sizeof(f->err));
	free(copy);
	assert_int_equal(r, 0);
	assert_segment_loaded(f, 0, &default_segs[0]);
}

static void small_error_buffers(void **state)
{
	struct fixture *f = *state;
	f->im.b[0] = 0;
	char tiny[8];
	memset(tiny, 'x', sizeof(tiny));
	assert_int_equal(loader__load_elf(f->im.b, f->im.size, &f->mem, &f->bi, tiny,
					  sizeof(tiny)), -1);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
	assert_int_equal(loader__load_elf(f->im.b, f->im.size, &f->mem, &f->bi, NULL, 0), -1);
}

static void place_refuses_too_many_segments(void **state)
{
	struct fixture *f = *state;
	struct loader_segment segs[LOADER_MAX_SEGMENTS + 1] = { 0 };
	segs[0] = (struct loader_segment){ .gpa = 0x100000, .memsz = 0x10 };
	assert_int_equal(loader__place(f->im.b, f->im.size, &f->mem, segs,
				       LOADER_MAX_SEGMENTS + 1, UINT64_MAX, 0x100000, "piece",
				       &f->bi, f->err, sizeof(f->err)), -1);
	assert_one_line(f->err);
	assert_non_null(strstr(f->err, "65 pieces"));
	assert_int_equal(loader__place(f->im.b, f->im.size, &f->mem, segs, 1, UINT64_MAX,
				       0x100000, "piece", &f->bi, f->err, sizeof(f->err)), 0);
	assert_int_equal(*guest(f, 0x100000, 1), 0);
	assert_int_equal(f->bi.image_end, 0x101000);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define H(fn) cmocka_unit_test_setup_teardown(fn, setup_hole, teardown)
	const struct CMUnitTest tests[] = {
		T(valid_image_loads_bytes_and_zeroes_bss),
		T(valid_image_reports_range_and_entry),
		T(loaded_frames_are_private),
		T(load_dispatches_elf64),
		T(load_refuses_unknown_format),
		T(every_truncation_fails),
		T(bad_magic),
		T(elf32_needs_multiboot),
		T(bad_class_encoding_version),
		T(wrong_machine),
		T(wrong_type),
		T(phdr_table_outside_file),
		T(bad_phentsize),
		T(p_offset_plus_filesz_overflows),
		T(segment_beyond_file),
		T(filesz_exceeds_memsz),
		T(segment_outside_guest_memory),
		T(segment_in_boot_area),
		T(overlapping_segments),
		T(adjacent_segments_load),
		H(segment_straddling_ram_hole),
		H(segment_in_high_ram_loads),
		T(entry_outside_segments),
		T(entry_translated_from_vaddr),
		T(too_many_program_headers),
		T(no_loadable_segment),
		T(other_program_headers_are_ignored),
		T(unaligned_image_loads),
		T(small_error_buffers),
		T(place_refuses_too_many_segments),
	};
#undef T
#undef H
	return cmocka_run_group_tests(tests, NULL, NULL);
}
