/* SPDX-License-Identifier: MIT */
/*
 * Multiboot v1 loader tests over fake guest memory.
 *
 * Two kinds of image are assembled here: a flat a.out-kludge image
 * (build_kludge(): pattern bytes with the header at HDR_OFF) and a multiboot
 * ELF kernel of either class (build_mb_elf(): header at the start of the
 * first segment's bytes). The information structure is checked at the byte
 * offsets of the Multiboot specification (3.3), not through the loader's own
 * struct, so a layout mistake shows up here.
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

#define MB_MAGIC 0x1BADB002u
#define MB_MEMORY_INFO (1u << 1)
#define MB_KLUDGE (1u << 16)

/* Default kludge image: 4 KiB file at 1 MiB, header at 0x40, 8 KiB of bss. */
#define LOAD_ADDR 0x100000u
#define IMG_BYTES 0x1000u
#define HDR_OFF 0x40u
#define BSS_END (LOAD_ADDR + IMG_BYTES + 0x2000u)
#define ENTRY (LOAD_ADDR + 0x100u)

struct image {
	_Alignas(8) uint8_t b[16 * 1024];
	size_t size;
};

struct fixture {
	struct ept_mem mem;
	struct image im;
	struct boot_image bi;
	char err[256];
};

/* The kludge address fields, in header order. */
struct addrs {
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

static uint8_t pattern(uint64_t k)
{
	return (uint8_t)((k * 151 + 3) | 1); /* odd: never 0, never FILL */
}

static void put32(struct image *im, size_t off, uint32_t v)
{
	memcpy(im->b + off, &v, sizeof(v));
}

/* A header at off with a valid checksum; a != NULL adds the address fields. */
static void put_header(struct image *im, size_t off, uint32_t flags, const struct addrs *a)
{
	put32(im, off, MB_MAGIC);
	put32(im, off + 4, flags);
	put32(im, off + 8, -(MB_MAGIC + flags));
	if (a)
		memcpy(im->b + off + 12, a, sizeof(*a));
}

static void fill_pattern(struct image *im, size_t size)
{
	memset(im, 0, sizeof(*im));
	for (size_t k = 0; k < size; k++)
		im->b[k] = pattern(k);
	im->size = size;
}

static const struct addrs default_addrs = {
	.header_addr = LOAD_ADDR + HDR_OFF, .load_addr = LOAD_ADDR,
	.load_end_addr = LOAD_ADDR + IMG_BYTES, .bss_end_addr = BSS_END,
	.entry_addr = ENTRY,
};

static void build_kludge_with(struct image *im, const struct addrs *a)
{
	fill_pattern(im, IMG_BYTES);
	put_header(im, HDR_OFF, MB_KLUDGE | MB_MEMORY_INFO, a);
}

static void build_kludge(struct image *im)
{
	build_kludge_with(im, &default_addrs);
}

/*
 * A multiboot ELF executable of class cls: segment 0 at 1 MiB (0x800 file
 * bytes starting with the multiboot header, 0x1000 in memory), segment 1 at
 * 1.5 MiB (0x40 bytes); entry 1 MiB + 0x20.
 */
#define ELF_ENTRY 0x100020u
static void build_mb_elf(struct image *im, unsigned cls)
{
	static const struct { uint64_t paddr, filesz, memsz; } segs[] = {
		{ 0x100000, 0x800, 0x1000 },
		{ 0x180000, 0x40, 0x40 },
	};
	const unsigned n = 2;
	bool is64 = cls == ELFCLASS64;
	size_t ehsize = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phsize = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	size_t off = ehsize + n * phsize;

	fill_pattern(im, off + segs[0].filesz + segs[1].filesz);
	uint8_t ident[EI_NIDENT] = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, (uint8_t)cls,
				     ELFDATA2LSB, EV_CURRENT };
	if (is64) {
		Elf64_Ehdr h = { .e_type = ET_EXEC, .e_machine = EM_X86_64,
				 .e_version = EV_CURRENT, .e_entry = ELF_ENTRY,
				 .e_phoff = ehsize, .e_ehsize = (uint16_t)ehsize,
				 .e_phentsize = (uint16_t)phsize, .e_phnum = n };
		memcpy(h.e_ident, ident, sizeof(ident));
		memcpy(im->b, &h, sizeof(h));
	} else {
		Elf32_Ehdr h = { .e_type = ET_EXEC, .e_machine = EM_386,
				 .e_version = EV_CURRENT, .e_entry = ELF_ENTRY,
				 .e_phoff = (uint32_t)ehsize, .e_ehsize = (uint16_t)ehsize,
				 .e_phentsize = (uint16_t)phsize, .e_phnum = n };
		memcpy(h.e_ident, ident, sizeof(ident));
		memcpy(im->b, &h, sizeof(h));
	}
	size_t data = off;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *ph = im->b + ehsize + i * phsize;
		if (is64) {
			Elf64_Phdr p = { .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
					 .p_offset = data, .p_vaddr = segs[i].paddr,
					 .p_paddr = segs[i].paddr, .p_filesz = segs[i].filesz,
					 .p_memsz = segs[i].memsz, .p_align = 4 };
			memcpy(ph, &p, sizeof(p));
		} else {
			Elf32_Phdr p = { .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
					 .p_offset = (uint32_t)data,
					 .p_vaddr = (uint32_t)segs[i].paddr,
					 .p_paddr = (uint32_t)segs[i].paddr,
					 .p_filesz = (uint32_t)segs[i].filesz,
					 .p_memsz = (uint32_t)segs[i].memsz, .p_align = 4 };
			memcpy(ph, &p, sizeof(p));
		}
		data += segs[i].filesz;
	}
	put_header(im, off, MB_MEMORY_INFO, NULL); /* off is a multiple of 4 */
}

static int setup_mem(void **state, uint64_t bytes, bool fill)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (!f || ept__mem_init(&f->mem, bytes))
		return -1;
	if (fill)
		memset(f->mem.base, FILL, bytes);
	build_kludge(&f->im);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_mem(state, GUEST_BYTES, true);
}

/* 3 GiB + 4 MiB: RAM [0, 3 GiB) and [4 GiB, 4 GiB + 4 MiB). */
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

static int load_mb(struct fixture *f, uint64_t cmdline_gpa)
{
	memset(f->err, 0, sizeof(f->err));
	return loader__load_multiboot(f->im.b, f->im.size, &f->mem, cmdline_gpa, &f->bi,
				      f->err, sizeof(f->err));
}

static int load(struct fixture *f)
{
	return load_mb(f, L1_CMDLINE_GPA);
}

static const uint8_t *guest(struct fixture *f, uint64_t gpa, uint64_t len)
{
	const uint8_t *p = ept__gpa_ptr(&f->mem, gpa, len);
	assert_non_null(p);
	return p;
}

static uint32_t rd32(struct fixture *f, uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, guest(f, gpa, 4), 4);
	return v;
}

static uint64_t rd64(struct fixture *f, uint64_t gpa)
{
	uint64_t v;
	memcpy(&v, guest(f, gpa, 8), 8);
	return v;
}

static void assert_one_line(const char *err)
{
	assert_true(err[0] != '\0');
	assert_null(strchr(err, '\n'));
	assert_null(strchr(err, '\r'));
}

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
static void expect_fail_with(struct fixture *f, uint64_t cmdline_gpa, const char *needle)
{
	uint64_t digest = guest_digest(f);
	uint64_t private = f->mem.p2m.count[P2M_PRIVATE];
	assert_int_equal(load_mb(f, cmdline_gpa), -1);
	assert_one_line(f->err);
	if (needle && !strstr(f->err, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", f->err, needle);
	assert_int_equal(f->mem.p2m.count[P2M_PRIVATE], private);
	assert_int_equal(guest_digest(f), digest);
}

static void expect_fail(struct fixture *f, const char *needle)
{
	expect_fail_with(f, L1_CMDLINE_GPA, needle);
}

static void kludge_loads_bytes_and_zeroes_bss(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(load(f), 0);
	const uint8_t *g = guest(f, LOAD_ADDR, BSS_END - LOAD_ADDR + 1);
	for (uint64_t k = 0; k < IMG_BYTES; k++)
		if (g[k] != f->im.b[k])
			fail_msg("byte 0x%llx: 0x%x, expected 0x%x", (unsigned long long)k,
				 g[k], f->im.b[k]);
	for (uint64_t k = IMG_BYTES; k < BSS_END - LOAD_ADDR; k++)
		if (g[k] != 0)
			fail_msg("bss byte 0x%llx is 0x%x", (unsigned long long)k, g[k]);
	assert_int_equal(g[BSS_END - LOAD_ADDR], FILL);
	assert_int_equal(*guest(f, LOAD_ADDR - 1, 1), FILL);
}

static void kludge_reports_image(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(load(f), 0);
	assert_int_equal(f->bi.protocol, BOOT_MULTIBOOT);
	assert_int_equal(f->bi.entry, ENTRY);
	assert_int_equal(f->bi.image_start, LOAD_ADDR);
	assert_int_equal(f->bi.image_end, BSS_END);
	assert_int_equal(f->bi.mb_info_gpa, L1_MB_INFO_GPA);
	/* Image frames and the info frame are private, nothing else. */
	for (uint64_t gfn = LOAD_ADDR >> 12; gfn < BSS_END >> 12; gfn++)
		assert_int_equal(p2m__get(&f->mem.p2m, gfn), P2M_PRIVATE);
	assert_int_equal(p2m__get(&f->mem.p2m, L1_MB_INFO_GPA >> 12), P2M_PRIVATE);
	assert_int_equal(f->mem.p2m.count[P2M_PRIVATE], 4);
}

static void kludge_load_end_zero_means_whole_file(void **state)
{
	struct fixture *f = *state;
	struct addrs a = default_addrs;
	a.load_end_addr = 0;
	a.bss_end_addr = 0;
	build_kludge_with(&f->im, &a);
	f->im.size = IMG_BYTES - 0x10; /* not page sized: the end rounds up */
	assert_int_equal(load(f), 0);
	assert_int_equal(f->bi.image_end, LOAD_ADDR + IMG_BYTES);
	assert_memory_equal(guest(f, LOAD_ADDR, f->im.size), f->im.b, f->im.size);
	assert_int_equal(*guest(f, LOAD_ADDR + f->im.size, 1), FILL);
}

static void kludge_header_deeper_in_file(void **state)
{
	struct fixture *f = *state;
	/* The header at 0x800, loaded from file offset 0x400 (an a.out header before). */
	struct addrs a = { .header_addr = 0x200400, .load_addr = 0x200000,
			   .load_end_addr = 0x200c00, .bss_end_addr = 0,
			   .entry_addr = 0x200500 };
	fill_pattern(&f->im, IMG_BYTES);
	put_header(&f->im, 0x800, MB_KLUDGE, &a);
	assert_int_equal(load(f), 0);
	assert_memory_equal(guest(f, 0x200000, 0xc00), f->im.b + 0x400, 0xc00);
	assert_int_equal(f->bi.image_start, 0x200000);
	assert_int_equal(f->bi.entry, 0x200500);
}

static void load_dispatches_multiboot(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(loader__load(f->im.b, f->im.size, &f->mem, L1_CMDLINE_GPA, &f->bi,
				      f->err, sizeof(f->err)), 0);
	assert_int_equal(f->bi.protocol, BOOT_MULTIBOOT);
	assert_int_equal(f->bi.mb_info_gpa, L1_MB_INFO_GPA);

	/* A multiboot ELF32 goes the multiboot way, not the ELF64 way. */
	build_mb_elf(&f->im, ELFCLASS32);
	assert_int_equal(loader__load(f->im.b, f->im.size, &f->mem, L1_CMDLINE_GPA, &f->bi,
				      f->err, sizeof(f->err)), 0);
	assert_int_equal(f->bi.protocol, BOOT_MULTIBOOT);
	assert_int_equal(f->bi.entry, ELF_ENTRY);
}

static void info_struct_contents(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(load(f), 0);
	const uint64_t mbi = L1_MB_INFO_GPA;
	assert_int_equal(rd32(f, mbi + 0), (1u << 0) | (1u << 2) | (1u << 6)); /* flags */
	assert_int_equal(rd32(f, mbi + 4), 640);                    /* mem_lower, KiB */
	assert_int_equal(rd32(f, mbi + 8), (GUEST_BYTES - MiB) >> 10); /* mem_upper */
	assert_int_equal(rd32(f, mbi + 16), L1_CMDLINE_GPA);        /* cmdline */
	assert_int_equal(rd32(f, mbi + 20), 0);                     /* mods_count */
	assert_int_equal(rd32(f, mbi + 44), 24);                    /* mmap_length */
	uint32_t mmap = rd32(f, mbi + 48);
	assert_true(mmap >= mbi + 88 && mmap < 0xa0000); /* after the info, in low RAM */
	assert_int_equal(rd32(f, mmap + 0), 20);           /* size (of the rest) */
	assert_int_equal(rd64(f, mmap + 4), 0);            /* base_addr */
	assert_int_equal(rd64(f, mmap + 12), GUEST_BYTES); /* length */
	assert_int_equal(rd32(f, mmap + 20), 1);           /* available */
}

static void info_struct_two_regions(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(load(f), 0);
	const uint64_t mbi = L1_MB_INFO_GPA;
	assert_int_equal(rd32(f, mbi + 4), 640);
	assert_int_equal(rd32(f, mbi + 8), (L1_RAM_HOLE_START - MiB) >> 10);
	assert_int_equal(rd32(f, mbi + 44), 48);
	uint32_t mmap = rd32(f, mbi + 48);
	assert_int_equal(rd64(f, mmap + 4), 0);
	assert_int_equal(rd64(f, mmap + 12), L1_RAM_HOLE_START);
	assert_int_equal(rd32(f, mmap + 20), 1);
	/* Entries are size + 4 apart. */
	uint32_t next = mmap + rd32(f, mmap) + 4;
	assert_int_equal(rd32(f, next), 20);
	assert_int_equal(rd64(f, next + 4), L1_RAM_HIGH_START);
	assert_int_equal(rd64(f, next + 12), 4 * MiB);
	assert_int_equal(rd32(f, next + 20), 1);
}

static void info_without_cmdline(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(load_mb(f, 0), 0);
	assert_int_equal(rd32(f, L1_MB_INFO_GPA) & (1u << 2), 0);
	assert_int_equal(rd32(f, L1_MB_INFO_GPA + 16), 0);
}

static void cmdline_outside_reach_refused(void **state)
{
	struct fixture *f = *state;
	expect_fail_with(f, L1_RAM_HIGH_START + 0x1000, "command line at 0x100001000");
	expect_fail_with(f, GUEST_BYTES, "not in guest RAM");
}

static void guest_too_small_for_info(void **state)
{
	(void)state;
	struct ept_mem mem;
	struct image *im = malloc(sizeof(*im));
	struct boot_image bi;
	char err[256] = "";
	assert_non_null(im);
	assert_int_equal(ept__mem_init(&mem, L1_MB_INFO_GPA), 0); /* RAM ends at the info */
	build_kludge(im);
	int r = loader__load_multiboot(im->b, im->size, &mem, L1_CMDLINE_GPA, &bi, err,
				       sizeof(err));
	uint64_t private = mem.p2m.count[P2M_PRIVATE];
	ept__mem_destroy(&mem);
	free(im);
	assert_int_equal(r, -1);
	assert_one_line(err);
	assert_non_null(strstr(err, "multiboot information"));
	assert_int_equal(private, 0);
}

static void header_not_found(void **state)
{
	struct fixture *f = *state;
	fill_pattern(&f->im, IMG_BYTES);
	expect_fail(f, "no multiboot header");

	/* Not 4-byte aligned. */
	put_header(&f->im, 0x42, MB_KLUDGE, &default_addrs);
	expect_fail(f, "no multiboot header");

	/* A file shorter than a header. */
	f->im.size = 11;
	expect_fail(f, "no multiboot header");
}

static void header_beyond_8192(void **state)
{
	struct fixture *f = *state;
	struct addrs a = default_addrs;
	a.header_addr = LOAD_ADDR + 8192;
	a.load_end_addr = LOAD_ADDR + 3 * 4096;
	fill_pattern(&f->im, 3 * 4096);
	put_header(&f->im, 8192, MB_KLUDGE, &a);
	expect_fail(f, "no multiboot header");
	assert_false(loader__is_multiboot(f->im.b, f->im.size));

	/* Magic, flags and checksum fit below 8192, the address fields do not. */
	fill_pattern(&f->im, 3 * 4096);
	a.header_addr = LOAD_ADDR + 8180;
	put_header(&f->im, 8180, MB_KLUDGE, &a);
	expect_fail(f, "cut off");

	/* The last place a full kludge header fits. */
	fill_pattern(&f->im, 3 * 4096);
	a.header_addr = LOAD_ADDR + 8160;
	put_header(&f->im, 8160, MB_KLUDGE, &a);
	assert_int_equal(load(f), 0);
	assert_int_equal(f->bi.image_end, LOAD_ADDR + 3 * 4096);
}

static void header_cut_off_by_end_of_file(void **state)
{
	struct fixture *f = *state;
	f->im.size = HDR_OFF + 20; /* magic..load_addr present, the rest missing */
	expect_fail(f, "cut off");
}

static void bad_checksum(void **state)
{
	struct fixture *f = *state;
	put32(&f->im, HDR_OFF + 8, 0x12345678);
	expect_fail(f, "bad checksum");
	expect_fail(f, "0x40");
	assert_false(loader__is_multiboot(f->im.b, f->im.size));
	/* Neither multiboot nor ELF, then. */
	assert_int_equal(loader__load(f->im.b, f->im.size, &f->mem, L1_CMDLINE_GPA, &f->bi,
				      f->err, sizeof(f->err)), -1);
	assert_one_line(f->err);
	assert_non_null(strstr(f->err, "not a kernel"));
}

static void required_flags(void **state)
{
	struct fixture *f = *state;
	put_header(&f->im, HDR_OFF, MB_KLUDGE | (1u << 2), &default_addrs);
	expect_fail(f, "video mode");
	put_header(&f->im, HDR_OFF, MB_KLUDGE | (1u << 5), &default_addrs);
	expect_fail(f, "bits 0x20");
	/* Page alignment and memory info are met; unknown optional bits are ignored. */
	put_header(&f->im, HDR_OFF, MB_KLUDGE | 3u | (1u << 20), &default_addrs);
	assert_int_equal(load(f), 0);
}

static void kludge_header_addr_below_load_addr(void **state)
{
	struct fixture *f = *state;
	struct addrs a = default_addrs;
	a.header_addr = LOAD_ADDR - 4;
	build_kludge_with(&f->im, &a);
	expect_fail(f, "below load_addr");
}

static void kludge_header_addr_not_matching_file(void **state)
{
	struct fixture *f = *state;
	/* Says 0x80 bytes precede the header; only 0x40 do in the file. */
	struct addrs a = default_addrs;
	a.header_addr = LOAD_ADDR + 0x80;
	build_kludge_with(&f->im, &a);
	expect_fail(f, "do not match the file");
}

static void kludge_load_end_not_above_load_addr(void **state)
{
	struct fixture *f = *state;
	struct addrs a = default_addrs;
	a.load_end_addr = LOAD_ADDR - 0x1000;
	build_kludge_with(&f->im, &a);
	expect_fail(f, "load_end_addr 0xff000 is not above load_addr 0x100000");
	a.load_end_addr = LOAD_ADDR;
	build_kludge_with(&f->im, &a);
	expect_fail(f, "not above load_addr");
}

static void kludge_load_end_beyond_file(void **state)
{
	struct fixture *f = *state;
	struct addrs a = default_addrs;
	a.load_end_addr = LOAD_ADDR + IMG_BYTES + 1;
	build_kludge_with(&f->im, &a);
	expect_fail(f, "beyond the end of the file");
}

static void kludge_header_outside_loaded_range(void **state)
{
	struct fixture *f = *state;
	struct addrs a = default_addrs;
	a.load_end_addr = LOAD_ADDR + HDR_OFF + 4; /* stops inside the header */
	a.bss_end_addr = 0;
	build_kludge_with(&f->im, &a);
	expect_fail(f, "not inside the loaded range");
}

static void kludge_bss_end_inconsistent(void **state)
{
	struct fixture *f = *state;
	struct addrs a = default_addrs;
	a.bss_end_addr = a.load_end_addr - 1;
	build_kludge_with(&f->im, &a);
	expect_fail(f, "bss_end_addr");
	/* Ends past the 4 MiB of RAM. */
	a.bss_end_addr = GUEST_BYTES + 0x1000;
	build_kludge_with(&f->im, &a);
	expect_fail(f, "beyond guest memory");
	/* Into the MMIO hole (the kludge fields are 32-bit: nothing reaches past 4 GiB). */
	a.bss_end_addr = 0xffffffffu;
	build_kludge_with(&f->im, &a);
	expect_fail(f, "beyond guest memory");
}

static void kludge_in_boot_area(void **state)
{
	struct fixture *f = *state;
	struct addrs a = { .header_addr = 0x80000 + HDR_OFF, .load_addr = 0x80000,
			   .load_end_addr = 0x80000 + IMG_BYTES, .bss_end_addr = 0,
			   .entry_addr = 0x80100 };
	build_kludge_with(&f->im, &a);
	expect_fail(f, "boot area");
}

static void kludge_entry_outside_image(void **state)
{
	struct fixture *f = *state;
	struct addrs a = default_addrs;
	a.entry_addr = BSS_END;
	build_kludge_with(&f->im, &a);
	expect_fail(f, "entry point 0x103000");
	a.entry_addr = 0;
	build_kludge_with(&f->im, &a);
	expect_fail(f, "entry point");
}

static void kludge_straddling_ram_hole(void **state)
{
	struct fixture *f = *state;
	uint32_t base = (uint32_t)L1_RAM_HOLE_START - 0x1000;
	struct addrs a = { .header_addr = base + HDR_OFF, .load_addr = base,
			   .load_end_addr = base + IMG_BYTES, .bss_end_addr = base + 0x2000,
			   .entry_addr = base + 0x100 };
	build_kludge_with(&f->im, &a);
	expect_fail(f, "MMIO hole");
}

static void elf32_kernel_loads(void **state)
{
	struct fixture *f = *state;
	build_mb_elf(&f->im, ELFCLASS32);
	assert_int_equal(load(f), 0);
	assert_int_equal(f->bi.protocol, BOOT_MULTIBOOT);
	assert_int_equal(f->bi.entry, ELF_ENTRY);
	assert_int_equal(f->bi.image_start, 0x100000);
	assert_int_equal(f->bi.image_end, 0x181000);
	assert_int_equal(f->bi.mb_info_gpa, L1_MB_INFO_GPA);
	size_t data = sizeof(Elf32_Ehdr) + 2 * sizeof(Elf32_Phdr);
	assert_memory_equal(guest(f, 0x100000, 0x800), f->im.b + data, 0x800);
	assert_memory_equal(guest(f, 0x180000, 0x40), f->im.b + data + 0x800, 0x40);
	static const uint8_t zero[0x800];
	assert_memory_equal(guest(f, 0x100800, 0x800), zero, 0x800);
	assert_int_equal(*guest(f, 0x101000, 1), FILL);
	assert_int_equal(rd32(f, L1_MB_INFO_GPA + 16), L1_CMDLINE_GPA);
	assert_int_equal(f->mem.p2m.count[P2M_PRIVATE], 3); /* 0x100, 0x180, the info */
}

static void elf64_kernel_loads(void **state)
{
	struct fixture *f = *state;
	build_mb_elf(&f->im, ELFCLASS64);
	assert_int_equal(load(f), 0);
	assert_int_equal(f->bi.protocol, BOOT_MULTIBOOT);
	assert_int_equal(f->bi.entry, ELF_ENTRY);
	size_t data = sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);
	assert_memory_equal(guest(f, 0x100000, 0x800), f->im.b + data, 0x800);
}

static void elf64_kernel_above_4g_refused(void **state)
{
	struct fixture *f = *state;
	build_mb_elf(&f->im, ELFCLASS64);
	Elf64_Phdr p;
	size_t at = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
	memcpy(&p, f->im.b + at, sizeof(p));
	p.p_paddr = p.p_vaddr = L1_RAM_HIGH_START; /* in RAM, but not for a 32-bit kernel */
	memcpy(f->im.b + at, &p, sizeof(p));
	expect_fail(f, "32-bit kernel");
}

static void elf32_kernel_bad_headers(void **state)
{
	struct fixture *f = *state;
	build_mb_elf(&f->im, ELFCLASS32);
	Elf32_Ehdr h;
	memcpy(&h, f->im.b, sizeof(h));
	h.e_machine = EM_X86_64;
	memcpy(f->im.b, &h, sizeof(h));
	expect_fail(f, "machine 0x3e, expected 0x3");

	build_mb_elf(&f->im, ELFCLASS32);
	h.e_machine = EM_386;
	h.e_entry = 0x200000;
	memcpy(f->im.b, &h, sizeof(h));
	expect_fail(f, "entry point 0x200000");

	build_mb_elf(&f->im, ELFCLASS32);
	Elf32_Phdr p;
	memcpy(&p, f->im.b + sizeof(Elf32_Ehdr), sizeof(p));
	p.p_paddr = 0xf0000;
	memcpy(f->im.b + sizeof(Elf32_Ehdr), &p, sizeof(p));
	expect_fail(f, "boot area");

	build_mb_elf(&f->im, ELFCLASS32);
	p.p_paddr = 0x180000 - 0x100; /* runs into segment 1 */
	memcpy(f->im.b + sizeof(Elf32_Ehdr), &p, sizeof(p));
	p.p_memsz = 0x1000;
	memcpy(f->im.b + sizeof(Elf32_Ehdr), &p, sizeof(p));
	expect_fail(f, "overlaps");
}

static void not_elf_without_kludge(void **state)
{
	struct fixture *f = *state;
	put_header(&f->im, HDR_OFF, MB_MEMORY_INFO, NULL);
	expect_fail(f, "bit 16");
}

/* Every prefix of a valid image is refused: a kludge image and an ELF32 kernel. */
static void every_truncation_fails(void **state)
{
	struct fixture *f = *state;
	for (unsigned kind = 0; kind < 2; kind++) {
		if (kind == 0)
			build_kludge(&f->im);
		else
			build_mb_elf(&f->im, ELFCLASS32);
		size_t full = f->im.size;
		assert_int_equal(load(f), 0); /* the whole image is fine... */
		memset(f->mem.base, FILL, GUEST_BYTES);
		p2m__move(&f->mem.p2m, 0, f->mem.p2m.nr_frames, P2M_ANY, P2M_UNPOPULATED, NULL, NULL);
		for (size_t len = 0; len < full; len++) {
			f->im.size = len;
			f->err[0] = '\0';
			if (load(f) != -1)
				fail_msg("image %u cut to 0x%zx bytes was accepted", kind, len);
			assert_one_line(f->err);
			if (loader__load(f->im.b, len, &f->mem, L1_CMDLINE_GPA, &f->bi,
					 f->err, sizeof(f->err)) != -1)
				fail_msg("loader__load accepted image %u cut to 0x%zx bytes",
					 kind, len);
			assert_one_line(f->err);
		}
		assert_int_equal(f->mem.p2m.count[P2M_PRIVATE], 0);
		assert_int_equal(*guest(f, L1_MB_INFO_GPA, 1), FILL);
	}
}

/* ---- modules (loader__load_modules) ---- */

/* Load the kernel, then mods: loader__load_modules()'s result. */
static int load_with_modules(struct fixture *f, const struct loader_module *mods, unsigned nr)
{
	assert_int_equal(load(f), 0);
	memset(f->err, 0, sizeof(f->err));
	return loader__load_modules(&f->mem, &f->bi, mods, nr, f->err, sizeof(f->err));
}

static void modules_placed_after_kernel(void **state)
{
	struct fixture *f = *state;
	uint8_t env[5000];
	for (size_t i = 0; i < sizeof(env); i++)
		env[i] = (uint8_t)(i * 7 + 1);
	const struct loader_module mods[] = {
		{ .data = env, .size = sizeof(env), .string = "env.txt arg=1" },
		{ .data = NULL, .size = 0, .string = "empty" },
		{ .data = env, .size = 3, .string = "three" },
	};
	assert_int_equal(load_with_modules(f, mods, 3), 0);
	const uint64_t mbi = L1_MB_INFO_GPA;
	assert_int_equal(rd32(f, mbi), (1u << 0) | (1u << 2) | (1u << 3) | (1u << 6));
	assert_int_equal(rd32(f, mbi + 20), 3);              /* mods_count */
	assert_int_equal(rd32(f, mbi + 24), L1_MB_MODS_GPA); /* mods_addr */
	uint64_t prev_end = f->bi.image_end;
	for (unsigned i = 0; i < 3; i++) {
		uint64_t e = L1_MB_MODS_GPA + 16 * i;
		uint32_t start = rd32(f, e), end = rd32(f, e + 4), str = rd32(f, e + 8);
		assert_int_equal(start % 4096, 0);                 /* page aligned */
		assert_true(start >= prev_end);                    /* after the kernel, in order */
		assert_true(start < prev_end + 4096);              /* on the next free page */
		assert_int_equal(end - start, mods[i].size);       /* mod_end exclusive */
		assert_int_equal(rd32(f, e + 12), 0);
		assert_true(str > e && str < L1_MB_MODS_END);
		assert_string_equal((const char *)guest(f, str, strlen(mods[i].string) + 1),
				    mods[i].string);
		if (mods[i].size)
			assert_memory_equal(guest(f, start, mods[i].size), mods[i].data, mods[i].size);
		prev_end = end;
	}
	/* the kernel's own bytes are intact */
	assert_memory_equal(guest(f, LOAD_ADDR, IMG_BYTES), f->im.b, IMG_BYTES);
}

static void no_modules_no_flag(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(load_with_modules(f, NULL, 0), 0);
	assert_int_equal(rd32(f, L1_MB_INFO_GPA) & (1u << 3), 0);
}

/* Refused with needle in the reason, and nothing written after the kernel. */
static void expect_modules_fail(struct fixture *f, const struct loader_module *mods, unsigned nr,
				const char *needle)
{
	assert_int_equal(load(f), 0);
	uint64_t digest = guest_digest(f);
	uint64_t private = f->mem.p2m.count[P2M_PRIVATE];
	assert_int_equal(loader__load_modules(&f->mem, &f->bi, mods, nr, f->err, sizeof(f->err)), -1);
	assert_one_line(f->err);
	if (!strstr(f->err, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", f->err, needle);
	assert_int_equal(f->mem.p2m.count[P2M_PRIVATE], private);
	assert_int_equal(guest_digest(f), digest);
}

static void module_beyond_ram_refused(void **state)
{
	struct fixture *f = *state;
	static uint8_t big[GUEST_BYTES];
	const struct loader_module mods[] = {
		{ .data = big, .size = 16, .string = "small" },
		{ .data = big, .size = sizeof(big), .string = "big.bin" },
	};
	expect_modules_fail(f, mods, 2, "module 1 (big.bin, 4194304 bytes) does not fit in guest RAM");
}

static void module_into_hole_refused(void **state)
{
	struct fixture *f = *state;
	/* starts below the hole, would end inside it: never placed across */
	const struct loader_module m = { .data = NULL, .size = L1_RAM_HOLE_START, .string = "huge" };
	assert_int_equal(load_with_modules(f, &m, 1), -1);
	assert_non_null(strstr(f->err, "module 0 (huge"));
	assert_non_null(strstr(f->err, "is not RAM"));
}

static void too_many_modules_refused(void **state)
{
	struct fixture *f = *state;
	struct loader_module mods[LOADER_MAX_MODULES + 1];
	for (unsigned i = 0; i <= LOADER_MAX_MODULES; i++)
		mods[i] = (struct loader_module){ .data = "x", .size = 1, .string = "m" };
	expect_modules_fail(f, mods, LOADER_MAX_MODULES + 1, "17 modules, at most 16");
}

static void module_strings_overflow_refused(void **state)
{
	struct fixture *f = *state;
	static char s[3000];
	memset(s, 'a', sizeof(s) - 1);
	struct loader_module mods[LOADER_MAX_MODULES];
	for (unsigned i = 0; i < LOADER_MAX_MODULES; i++)
		mods[i] = (struct loader_module){ .data = "x", .size = 1, .string = s };
	expect_modules_fail(f, mods, LOADER_MAX_MODULES, "strings take more than");
}

static void modules_need_multiboot(void **state)
{
	struct fixture *f = *state;
	const struct loader_module m = { .data = "x", .size = 1, .string = "m" };
	struct boot_image l1 = { .protocol = BOOT_L1_LONG64, .image_end = 2 * MiB };
	assert_int_equal(loader__load_modules(&f->mem, &l1, &m, 1, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "modules are for multiboot kernels"));
	assert_int_equal(loader__load_modules(&f->mem, &l1, &m, 0, f->err, sizeof(f->err)), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
#define H(fn) cmocka_unit_test_setup_teardown(fn, setup_hole, teardown)
	const struct CMUnitTest tests[] = {
		T(kludge_loads_bytes_and_zeroes_bss),
		T(kludge_reports_image),
		T(kludge_load_end_zero_means_whole_file),
		T(kludge_header_deeper_in_file),
		T(load_dispatches_multiboot),
		T(info_struct_contents),
		H(info_struct_two_regions),
		T(info_without_cmdline),
		T(cmdline_outside_reach_refused),
		T(guest_too_small_for_info),
		T(header_not_found),
		T(header_beyond_8192),
		T(header_cut_off_by_end_of_file),
		T(bad_checksum),
		T(required_flags),
		T(kludge_header_addr_below_load_addr),
		T(kludge_header_addr_not_matching_file),
		T(kludge_load_end_not_above_load_addr),
		T(kludge_load_end_beyond_file),
		T(kludge_header_outside_loaded_range),
		T(kludge_bss_end_inconsistent),
		T(kludge_in_boot_area),
		T(kludge_entry_outside_image),
		H(kludge_straddling_ram_hole),
		T(elf32_kernel_loads),
		T(elf64_kernel_loads),
		H(elf64_kernel_above_4g_refused),
		T(elf32_kernel_bad_headers),
		T(not_elf_without_kludge),
		T(every_truncation_fails),
		T(modules_placed_after_kernel),
		T(no_modules_no_flag),
		T(module_beyond_ram_refused),
		H(module_into_hole_refused),
		T(too_many_modules_refused),
		T(module_strings_overflow_refused),
		T(modules_need_multiboot),
	};
#undef T
#undef H
	return cmocka_run_group_tests(tests, NULL, NULL);
}
