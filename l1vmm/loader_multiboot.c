/* SPDX-License-Identifier: MIT */
/*
 * DOC: Multiboot v1 kernels (Multiboot Specification 0.6.96, section 3).
 *
 * The header is the first 4-byte aligned offset in the first 8192 bytes
 * where magic 0x1BADB002 is followed by flags and a checksum with
 * magic + flags + checksum == 0 (mod 2^32); the whole header must fit in
 * those 8192 bytes and in the file. A magic with a bad checksum does not make
 * a header (loader__load() then tries ELF64), but loader__load_multiboot()
 * names it when no good header exists.
 *
 * Flags bits 0-15 are requirements: a loader must refuse one it cannot meet.
 * Bit 0 (page-aligned modules) holds: modules always start on a page; bit 1
 * (memory information) is always met; bit 2 (video mode) and the undefined
 * bits are refused. Bits 16-31 are optional; only bit 16 is used.
 *
 * Flags bit 16 (the "a.out kludge"): the header's address fields say where
 * the image goes, for files that are not ELF. header_addr is where the
 * header's own first byte lands, so the file bytes loaded at load_addr start
 * at file offset header_offset - (header_addr - load_addr); that must be a
 * valid offset. load_end_addr (0 = to the end of the file) must be above
 * load_addr and the header must lie inside [load_addr, load_end_addr);
 * bss_end_addr (0 = no bss) must be at or above the end of the loaded data,
 * and the bss is zeroed. entry_addr must lie inside the image. The image is
 * one segment for loader__place(), limited to 4 GiB.
 *
 * Without bit 16 the file must be ELF32 or ELF64 and is loaded as such
 * (loader__load_elf_kind(), LOADER_ELF_MULTIBOOT); entry = e_entry.
 *
 * The information structure goes at L1_MB_INFO_GPA with its memory map right
 * after it. It carries mem_lower/mem_upper (flags bit 0: KiB of RAM from 0
 * up to 640 KiB, and from 1 MiB up to the first hole), the command line
 * (bit 2, when the caller gave one; its gpa must be RAM below 4 GiB) and the
 * memory map (bit 6: one "available" entry per guest RAM region). Its place is checked before
 * anything is written, so a refused image leaves guest memory untouched.
 *
 * Modules (loader__load_modules(), after the kernel) follow the kernel's
 * image, each on a fresh page, with mod_end exclusive, as QEMU's -initrd and
 * GRUB's "module" do. The list and the strings live in the boot area at
 * L1_MB_MODS_GPA, out of the kernel's way. A refused module leaves the kernel
 * loaded; the caller then discards the guest.
 */
#include "l1vmm/loader.h"

#include <elf.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#define MB_HEADER_MAGIC  0x1BADB002u
#define MB_SEARCH_BYTES  8192u
#define MB_HEADER_MIN    12u /* magic, flags, checksum */
#define MB_HEADER_KLUDGE 32u /* ... and the five address fields */

#define MB_FLAG_PAGE_ALIGN  (1u << 0)
#define MB_FLAG_MEMORY_INFO (1u << 1)
#define MB_FLAG_VIDEO_MODE  (1u << 2)
#define MB_FLAG_AOUT_KLUDGE (1u << 16)
#define MB_FLAGS_REQUIRED   0xffffu
#define MB_FLAGS_SUPPORTED  (MB_FLAG_PAGE_ALIGN | MB_FLAG_MEMORY_INFO)

/* Info structure flags: which fields are valid. */
#define MB_INFO_MEMORY  (1u << 0)
#define MB_INFO_CMDLINE (1u << 2)
#define MB_INFO_MODS    (1u << 3)
#define MB_INFO_MMAP    (1u << 6)

#define MB_MMAP_AVAILABLE 1u

#define MB_LOWER_MEM_END   0xa0000ull  /* 640 KiB: the most mem_lower may claim */
#define MB_UPPER_MEM_START 0x100000ull /* mem_upper counts from 1 MiB */

struct mb_header {
	uint32_t magic;
	uint32_t flags;
	uint32_t checksum;
	uint32_t header_addr;   /* flags bit 16 */
	uint32_t load_addr;     /* flags bit 16 */
	uint32_t load_end_addr; /* flags bit 16; 0 = to the end of the file */
	uint32_t bss_end_addr;  /* flags bit 16; 0 = no bss */
	uint32_t entry_addr;    /* flags bit 16 */
};
_Static_assert(sizeof(struct mb_header) == MB_HEADER_KLUDGE, "multiboot header layout");

/* One entry of the module list (spec 3.3: mods_addr). */
struct mb_module {
	uint32_t mod_start;
	uint32_t mod_end; /* exclusive */
	uint32_t string;  /* gpa of a NUL-terminated string */
	uint32_t reserved;
};
_Static_assert(sizeof(struct mb_module) == 16, "multiboot module entry layout");
_Static_assert(L1_MB_MODS_GPA + LOADER_MAX_MODULES * sizeof(struct mb_module) < L1_MB_MODS_END,
	       "the module list fits its area");

/* The information structure up to the VBE fields (spec 3.3). */
struct mb_info {
	uint32_t flags;
	uint32_t mem_lower; /* KiB */
	uint32_t mem_upper; /* KiB */
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count;
	uint32_t mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length; /* bytes */
	uint32_t mmap_addr;
	uint32_t drives_length;
	uint32_t drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
	uint32_t apm_table;
	uint32_t vbe_control_info;
	uint32_t vbe_mode_info;
	uint16_t vbe_mode;
	uint16_t vbe_interface_seg;
	uint16_t vbe_interface_off;
	uint16_t vbe_interface_len;
};
_Static_assert(offsetof(struct mb_info, cmdline) == 16, "multiboot info layout");
_Static_assert(offsetof(struct mb_info, mmap_length) == 44, "multiboot info layout");
_Static_assert(sizeof(struct mb_info) == 88, "multiboot info layout");

/* A memory map entry; size counts the bytes after itself (20). */
struct mb_mmap_entry {
	uint32_t size;
	uint64_t base_addr;
	uint64_t length;
	uint32_t type;
} __attribute__((packed));
_Static_assert(sizeof(struct mb_mmap_entry) == 24, "multiboot mmap entry layout");

/* The info structure and its map, written to the guest in one piece. */
struct mb_info_block {
	struct mb_info info;
	struct mb_mmap_entry mmap[EPT_MAX_REGIONS];
} __attribute__((packed));

/*
 * Offset of the first header with a valid checksum, or -1. *bad_at gets the
 * offset of the first magic with a bad checksum before it, or -1.
 */
static long find_header(const uint8_t *img, size_t size, long *bad_at)
{
	size_t end = size < MB_SEARCH_BYTES ? size : MB_SEARCH_BYTES;
	*bad_at = -1;
	for (size_t off = 0; end >= MB_HEADER_MIN && off <= end - MB_HEADER_MIN; off += 4) {
		uint32_t w[3];
		memcpy(w, img + off, sizeof(w));
		if (w[0] != MB_HEADER_MAGIC)
			continue;
		if ((uint32_t)(w[0] + w[1] + w[2]) == 0)
			return (long)off;
		if (*bad_at < 0)
			*bad_at = (long)off;
	}
	return -1;
}

bool loader__is_multiboot(const void *img, size_t size)
{
	long bad_at;
	return find_header(img, size, &bad_at) >= 0;
}

/* The a.out kludge: the header's address fields as one segment (see DOC). */
static int kludge_segment(const struct mb_header *h, size_t hdr_off, size_t size,
			  struct loader_segment *seg, char *err, size_t errlen)
{
	if (h->header_addr < h->load_addr)
		return loader__fail(err, errlen,
				    "multiboot header_addr 0x%x is below load_addr 0x%x",
				    h->header_addr, h->load_addr);
	uint32_t lead = h->header_addr - h->load_addr;
	if (lead > hdr_off)
		return loader__fail(err, errlen,
				    "multiboot header_addr 0x%x is 0x%x bytes above load_addr 0x%x, but the header is at file offset 0x%zx: the fields do not match the file",
				    h->header_addr, lead, h->load_addr, hdr_off);
	uint64_t offset = hdr_off - lead;

	uint64_t filesz;
	if (h->load_end_addr == 0) {
		filesz = size - offset; /* offset <= hdr_off < size */
	} else {
		if (h->load_end_addr <= h->load_addr)
			return loader__fail(err, errlen,
					    "multiboot load_end_addr 0x%x is not above load_addr 0x%x",
					    h->load_end_addr, h->load_addr);
		filesz = h->load_end_addr - h->load_addr;
	}
	if (filesz < MB_HEADER_MIN || lead > filesz - MB_HEADER_MIN)
		return loader__fail(err, errlen,
				    "multiboot header_addr 0x%x is not inside the loaded range [0x%x, 0x%" PRIx64 ")",
				    h->header_addr, h->load_addr, h->load_addr + filesz);

	uint64_t memsz = filesz;
	if (h->bss_end_addr != 0) {
		if (h->bss_end_addr < h->load_addr + filesz)
			return loader__fail(err, errlen,
					    "multiboot bss_end_addr 0x%x is below the end of the loaded data 0x%" PRIx64,
					    h->bss_end_addr, h->load_addr + filesz);
		memsz = h->bss_end_addr - h->load_addr;
	}
	*seg = (struct loader_segment){
		.gpa = h->load_addr, .memsz = memsz, .offset = offset, .filesz = filesz,
	};
	return 0;
}

/* The info block for this guest; its size in *len. */
static int build_info(const struct ept_mem *mem, uint64_t cmdline_gpa,
		      struct mb_info_block *b, size_t *len, char *err, size_t errlen)
{
	*b = (struct mb_info_block){ 0 };
	const struct ept_region *low = &mem->region[0];
	uint64_t lower = low->size < MB_LOWER_MEM_END ? low->size : MB_LOWER_MEM_END;
	uint64_t upper = low->size > MB_UPPER_MEM_START ? low->size - MB_UPPER_MEM_START : 0;

	b->info.flags = MB_INFO_MEMORY | MB_INFO_MMAP;
	b->info.mem_lower = (uint32_t)(lower >> 10);
	b->info.mem_upper = (uint32_t)(upper >> 10); /* < 3 GiB: fits */

	if (cmdline_gpa) {
		if (cmdline_gpa >= LOADER_LIMIT_32BIT)
			return loader__fail(err, errlen,
					    "command line at 0x%" PRIx64 " is above 4 GiB, out of reach of a 32-bit kernel",
					    cmdline_gpa);
		if (!ept__gpa_ptr(mem, cmdline_gpa, 1))
			return loader__fail(err, errlen,
					    "command line at 0x%" PRIx64 " is not in guest RAM",
					    cmdline_gpa);
		b->info.flags |= MB_INFO_CMDLINE;
		b->info.cmdline = (uint32_t)cmdline_gpa;
	}

	for (unsigned i = 0; i < mem->nr_regions; i++)
		b->mmap[i] = (struct mb_mmap_entry){
			.size = sizeof(struct mb_mmap_entry) - sizeof(uint32_t),
			.base_addr = mem->region[i].gpa,
			.length = mem->region[i].size,
			.type = MB_MMAP_AVAILABLE,
		};
	b->info.mmap_length = mem->nr_regions * (uint32_t)sizeof(struct mb_mmap_entry);
	b->info.mmap_addr = (uint32_t)(L1_MB_INFO_GPA + offsetof(struct mb_info_block, mmap));
	*len = sizeof(b->info) + b->info.mmap_length;
	if (!ept__gpa_ptr(mem, L1_MB_INFO_GPA, *len))
		return loader__fail(err, errlen,
				    "guest memory (0x%" PRIx64 " bytes) has no room for the multiboot information at 0x%llx",
				    mem->mem_bytes, L1_MB_INFO_GPA);
	return 0;
}

int loader__load_multiboot(const void *img, size_t size, struct ept_mem *mem,
			   uint64_t cmdline_gpa, struct boot_image *out,
			   char *err, size_t errlen)
{
	*out = (struct boot_image){ 0 };
	if (mem->nr_regions == 0)
		return loader__fail(err, errlen, "guest has no RAM");

	long bad_at;
	long found = find_header(img, size, &bad_at);
	if (found < 0 && bad_at >= 0) {
		uint32_t w[3];
		memcpy(w, (const uint8_t *)img + bad_at, sizeof(w));
		return loader__fail(err, errlen,
				    "multiboot header at file offset 0x%lx has a bad checksum: magic + flags + checksum = 0x%x, must be 0",
				    bad_at, (uint32_t)(w[0] + w[1] + w[2]));
	}
	if (found < 0)
		return loader__fail(err, errlen,
				    "no multiboot header (magic 0x%x, 4-byte aligned) in the first %u bytes (file is 0x%zx bytes)",
				    MB_HEADER_MAGIC, MB_SEARCH_BYTES, size);
	size_t hdr_off = (size_t)found;

	struct mb_header h = { 0 };
	memcpy(&h, (const uint8_t *)img + hdr_off, MB_HEADER_MIN);
	uint32_t refused = h.flags & MB_FLAGS_REQUIRED & ~MB_FLAGS_SUPPORTED;
	if (refused & MB_FLAG_VIDEO_MODE)
		return loader__fail(err, errlen,
				    "multiboot header flags 0x%x ask for a video mode (bit 2): l1vmm has no display",
				    h.flags);
	if (refused)
		return loader__fail(err, errlen,
				    "multiboot header flags 0x%x require features l1vmm does not know (bits 0x%x)",
				    h.flags, refused);

	struct mb_info_block info;
	size_t info_len = 0;
	if (build_info(mem, cmdline_gpa, &info, &info_len, err, errlen))
		return -1;

	if (h.flags & MB_FLAG_AOUT_KLUDGE) {
		size_t room = (size < MB_SEARCH_BYTES ? size : MB_SEARCH_BYTES) - hdr_off;
		if (room < MB_HEADER_KLUDGE)
			return loader__fail(err, errlen,
					    "multiboot header at file offset 0x%zx is cut off: its address fields (flags bit 16) need 0x%x bytes within the first %u bytes of the file",
					    hdr_off, MB_HEADER_KLUDGE, MB_SEARCH_BYTES);
		memcpy(&h, (const uint8_t *)img + hdr_off, sizeof(h));
		struct loader_segment seg;
		if (kludge_segment(&h, hdr_off, size, &seg, err, errlen) ||
		    loader__place(img, size, mem, &seg, 1, LOADER_LIMIT_32BIT, h.entry_addr,
				  "multiboot image", out, err, errlen))
			return -1;
	} else {
		if (size < SELFMAG || memcmp(img, ELFMAG, SELFMAG) != 0)
			return loader__fail(err, errlen,
					    "multiboot kernel is not ELF and its header flags 0x%x lack the address fields (bit 16)",
					    h.flags);
		if (loader__load_elf_kind(img, size, mem, LOADER_ELF_MULTIBOOT, out, err, errlen))
			return -1;
	}

	/* Checked to be RAM by build_info(). */
	ept__write(mem, L1_MB_INFO_GPA, &info, info_len);
	out->protocol = BOOT_MULTIBOOT;
	out->mb_info_gpa = (uint32_t)L1_MB_INFO_GPA;
	return 0;
}

/* Where each module goes (see DOC), checked; the list entries in list[]. */
static int plan_modules(const struct ept_mem *mem, const struct boot_image *img,
			const struct loader_module *mods, unsigned nr, struct mb_module *list,
			char *err, size_t errlen)
{
	uint64_t at = img->image_end;
	uint64_t str = L1_MB_MODS_GPA + nr * sizeof(struct mb_module);
	for (unsigned i = 0; i < nr; i++) {
		const struct loader_module *m = &mods[i];
		uint64_t start = (at + EPT_PAGE_SIZE - 1) & ~(EPT_PAGE_SIZE - 1);
		if (m->size > LOADER_LIMIT_32BIT || start + m->size > LOADER_LIMIT_32BIT)
			return loader__fail(err, errlen,
					    "module %u (%s, %zu bytes) does not fit below 4 GiB after the kernel's image (it would start at 0x%" PRIx64 ")",
					    i, m->string, m->size, start);
		if (!ept__gpa_ptr(mem, start, m->size ? m->size : 1))
			return loader__fail(err, errlen,
					    "module %u (%s, %zu bytes) does not fit in guest RAM after the kernel's image: [0x%" PRIx64 ", 0x%" PRIx64 ") is not RAM (guest memory %" PRIu64 " MiB)",
					    i, m->string, m->size, start, start + m->size,
					    mem->mem_bytes >> 20);
		size_t len = strlen(m->string) + 1;
		if (len > L1_MB_MODS_END - str)
			return loader__fail(err, errlen,
					    "module %u (%.60s): the modules' strings take more than the %llu bytes l1vmm has for them",
					    i, m->string,
					    L1_MB_MODS_END - L1_MB_MODS_GPA - nr * sizeof(struct mb_module));
		list[i] = (struct mb_module){
			.mod_start = (uint32_t)start, .mod_end = (uint32_t)(start + m->size),
			.string = (uint32_t)str,
		};
		str += len;
		at = start + m->size;
	}
	return 0;
}

int loader__load_modules(struct ept_mem *mem, const struct boot_image *img,
			 const struct loader_module *mods, unsigned nr, char *err, size_t errlen)
{
	if (nr == 0)
		return 0;
	if (img->protocol != BOOT_MULTIBOOT)
		return loader__fail(err, errlen,
				    "modules are for multiboot kernels; this kernel uses l1vmm's boot protocol");
	if (nr > LOADER_MAX_MODULES)
		return loader__fail(err, errlen, "%u modules, at most %u", nr, LOADER_MAX_MODULES);
	uint32_t *info = ept__gpa_ptr(mem, img->mb_info_gpa, sizeof(struct mb_info));
	if (!info)
		return loader__fail(err, errlen, "no multiboot information at 0x%x",
				    img->mb_info_gpa); /* unreachable after loader__load() */
	struct mb_module list[LOADER_MAX_MODULES];
	if (plan_modules(mem, img, mods, nr, list, err, errlen))
		return -1;

	for (unsigned i = 0; i < nr; i++) {
		/* planned inside RAM: the writes cannot fail */
		if (mods[i].size)
			ept__write(mem, list[i].mod_start, mods[i].data, mods[i].size);
		ept__write(mem, list[i].string, mods[i].string, strlen(mods[i].string) + 1);
	}
	ept__write(mem, L1_MB_MODS_GPA, list, nr * sizeof(list[0]));
	struct mb_info mbi;
	memcpy(&mbi, info, sizeof(mbi));
	mbi.flags |= MB_INFO_MODS;
	mbi.mods_count = nr;
	mbi.mods_addr = (uint32_t)L1_MB_MODS_GPA;
	ept__write(mem, img->mb_info_gpa, &mbi, sizeof(mbi));
	return 0;
}
