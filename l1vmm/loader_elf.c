/* SPDX-License-Identifier: MIT */
/*
 * DOC: ELF kernels.
 *
 * One reader serves both ELF classes: the file header and each program
 * header are copied out of the image (the image may be unaligned) into a
 * class-neutral form, and the PT_LOAD segments go to loader__place(), which
 * enforces the placement rules (loader.c).
 *
 * An l1vmm-protocol kernel (LOADER_ELF_L1) is ELF64, little-endian, ET_EXEC,
 * EM_X86_64. A multiboot ELF kernel (LOADER_ELF_MULTIBOOT) may also be ELF32
 * EM_386, and everything it loads must lie below 4 GiB. For both:
 *  - e_phentsize is exactly the size of the class's program header, e_phnum is
 *    1 to LOADER_MAX_SEGMENTS, and the program header table lies inside the
 *    file;
 *  - segments load at p_paddr; program headers other than PT_LOAD, and
 *    PT_LOAD with p_memsz 0, place nothing; at least one segment must load;
 *  - e_entry is a virtual address: when it falls inside a PT_LOAD's
 *    [p_vaddr, p_vaddr + p_memsz) it is moved to the same offset from that
 *    segment's p_paddr (what GRUB does for kernels linked above their load
 *    address), and the result must lie inside a loaded segment. Execution
 *    starts with physical == virtual, so that is where the first instruction
 *    is.
 * Segment numbers in messages are program header indices (as in readelf -l).
 */
#include "l1vmm/loader.h"
#include "pvops/l1vmm_abi.h"

#include <elf.h>
#include <inttypes.h>
#include <string.h>

/* The fields of either class's file header that the loader uses. */
struct elf_file {
	unsigned cls; /* ELFCLASS32 or ELFCLASS64 */
	uint16_t type;
	uint16_t machine;
	uint64_t entry;
	uint64_t phoff;
	uint16_t phentsize;
	uint16_t phnum;
};

/* The fields of either class's program header that the loader uses. */
struct elf_phdr {
	uint32_t type;
	uint64_t offset;
	uint64_t vaddr;
	uint64_t paddr;
	uint64_t filesz;
	uint64_t memsz;
};

/* Copy the class-specific file header out of img (size already checked). */
static void read_ehdr(const uint8_t *img, unsigned cls, struct elf_file *f)
{
	if (cls == ELFCLASS64) {
		Elf64_Ehdr h;
		memcpy(&h, img, sizeof(h));
		*f = (struct elf_file){
			.cls = cls, .type = h.e_type, .machine = h.e_machine,
			.entry = h.e_entry, .phoff = h.e_phoff,
			.phentsize = h.e_phentsize, .phnum = h.e_phnum,
		};
	} else {
		Elf32_Ehdr h;
		memcpy(&h, img, sizeof(h));
		*f = (struct elf_file){
			.cls = cls, .type = h.e_type, .machine = h.e_machine,
			.entry = h.e_entry, .phoff = h.e_phoff,
			.phentsize = h.e_phentsize, .phnum = h.e_phnum,
		};
	}
}

/* Program header i; the table was checked to lie inside the file. */
static void read_phdr(const uint8_t *img, const struct elf_file *f, unsigned i,
		      struct elf_phdr *p)
{
	const uint8_t *at = img + f->phoff + (uint64_t)i * f->phentsize;
	if (f->cls == ELFCLASS64) {
		Elf64_Phdr h;
		memcpy(&h, at, sizeof(h));
		*p = (struct elf_phdr){
			.type = h.p_type, .offset = h.p_offset, .vaddr = h.p_vaddr,
			.paddr = h.p_paddr, .filesz = h.p_filesz, .memsz = h.p_memsz,
		};
	} else {
		Elf32_Phdr h;
		memcpy(&h, at, sizeof(h));
		*p = (struct elf_phdr){
			.type = h.p_type, .offset = h.p_offset, .vaddr = h.p_vaddr,
			.paddr = h.p_paddr, .filesz = h.p_filesz, .memsz = h.p_memsz,
		};
	}
}

static int read_file_header(const uint8_t *img, size_t size, enum loader_elf_kind kind,
			    struct elf_file *f, char *err, size_t errlen)
{
	if (size < EI_NIDENT || memcmp(img, ELFMAG, SELFMAG) != 0)
		return loader__fail(err, errlen, "not an ELF file: no ELF magic (file is 0x%zx bytes)",
				    size);

	unsigned cls = img[EI_CLASS];
	if (cls == ELFCLASS32 && kind == LOADER_ELF_L1)
		return loader__fail(err, errlen,
				    "ELF32 file: an l1vmm kernel is ELF64; a 32-bit kernel needs a multiboot header (with a valid checksum) in its first 8192 bytes");
	if (cls != ELFCLASS32 && cls != ELFCLASS64)
		return loader__fail(err, errlen, "ELF class 0x%x is neither ELF32 (1) nor ELF64 (2)",
				    cls);
	if (img[EI_DATA] != ELFDATA2LSB)
		return loader__fail(err, errlen, "ELF data encoding 0x%x is not little-endian (1)",
				    img[EI_DATA]);
	if (img[EI_VERSION] != EV_CURRENT)
		return loader__fail(err, errlen, "ELF version 0x%x, expected 1", img[EI_VERSION]);

	size_t ehdr_size = cls == ELFCLASS64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phdr_size = cls == ELFCLASS64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	uint16_t machine = cls == ELFCLASS64 ? EM_X86_64 : EM_386;
	if (size < ehdr_size)
		return loader__fail(err, errlen,
				    "ELF header truncated: file is 0x%zx bytes, the header needs 0x%zx",
				    size, ehdr_size);
	read_ehdr(img, cls, f);

	if (f->type != ET_EXEC)
		return loader__fail(err, errlen,
				    "ELF type 0x%x is not an executable (ET_EXEC, 2): relocatable and PIE kernels are not supported",
				    f->type);
	if (f->machine != machine)
		return loader__fail(err, errlen, "ELF machine 0x%x, expected 0x%x (%s)",
				    f->machine, machine, cls == ELFCLASS64 ? "x86-64" : "i386");
	if (f->phentsize != phdr_size)
		return loader__fail(err, errlen, "ELF e_phentsize is 0x%x, expected 0x%zx",
				    f->phentsize, phdr_size);
	if (f->phnum == 0)
		return loader__fail(err, errlen, "ELF file has no program headers");
	if (f->phnum > LOADER_MAX_SEGMENTS)
		return loader__fail(err, errlen,
				    "ELF file has %u program headers, more than the %u allowed",
				    f->phnum, LOADER_MAX_SEGMENTS);
	uint64_t table = (uint64_t)f->phnum * f->phentsize; /* <= 64 * 56: no overflow */
	if (f->phoff > size || table > size - f->phoff)
		return loader__fail(err, errlen,
				    "ELF program headers [0x%" PRIx64 ", +0x%" PRIx64 ") lie beyond the end of the file (0x%zx bytes)",
				    f->phoff, table, size);
	return 0;
}

int loader__load_elf_kind(const void *img, size_t size, struct ept_mem *mem,
			  enum loader_elf_kind kind, struct boot_image *out,
			  char *err, size_t errlen)
{
	struct elf_file f = { 0 };
	if (read_file_header(img, size, kind, &f, err, errlen))
		return -1;

	/* Indexed like the program headers, so messages name the right one. */
	struct loader_segment segs[LOADER_MAX_SEGMENTS] = { 0 };
	uint64_t entry = f.entry;
	bool entry_mapped = false;
	unsigned loadable = 0;
	for (unsigned i = 0; i < f.phnum; i++) {
		struct elf_phdr p;
		read_phdr(img, &f, i, &p);
		if (p.type != PT_LOAD)
			continue;
		segs[i] = (struct loader_segment){
			.gpa = p.paddr, .memsz = p.memsz,
			.offset = p.offset, .filesz = p.filesz,
		};
		if (p.memsz)
			loadable++;
		/* Unsigned arithmetic: a wrapped result fails the entry check. */
		if (!entry_mapped && f.entry >= p.vaddr && f.entry - p.vaddr < p.memsz) {
			entry = f.entry - p.vaddr + p.paddr;
			entry_mapped = true;
		}
	}
	if (loadable == 0)
		return loader__fail(err, errlen,
				    "ELF file has no PT_LOAD segment with p_memsz > 0 (e_phnum %u)",
				    f.phnum);

	uint64_t limit = kind == LOADER_ELF_MULTIBOOT ? LOADER_LIMIT_32BIT : UINT64_MAX;
	return loader__place(img, size, mem, segs, f.phnum, limit, entry, "ELF segment",
			     out, err, errlen);
}

int loader__load_elf(const void *img, size_t size, struct ept_mem *mem,
		     struct boot_image *out, char *err, size_t errlen)
{
	*out = (struct boot_image){ 0 };
	if (loader__load_elf_kind(img, size, mem, LOADER_ELF_L1, out, err, errlen))
		return -1;
	out->protocol = BOOT_L1_LONG64;
	return 0;
}

/* Does note segment [off, off + len) of img carry l1vmm's PV note? */
static bool has_pv_note(const uint8_t *img, uint64_t off, uint64_t len)
{
	static const char name[] = L1_ELF_NOTE_NAME; /* namesz counts the NUL */
	while (len >= 12) {
		uint32_t namesz, descsz, type;
		memcpy(&namesz, img + off, 4);
		memcpy(&descsz, img + off + 4, 4);
		memcpy(&type, img + off + 8, 4);
		uint64_t name_pad = ((uint64_t)namesz + 3) & ~3ull;
		uint64_t desc_pad = ((uint64_t)descsz + 3) & ~3ull;
		if (name_pad + desc_pad > len - 12)
			return false;
		if (type == L1_ELF_NOTE_PV && namesz == sizeof(name) &&
		    memcmp(img + off + 12, name, sizeof(name)) == 0)
			return true;
		off += 12 + name_pad + desc_pad;
		len -= 12 + name_pad + desc_pad;
	}
	return false;
}

bool loader__probe_pv(const void *image, size_t size)
{
	const uint8_t *img = image;
	struct elf_file f = { 0 };
	char err[8];
	if (read_file_header(img, size, LOADER_ELF_L1, &f, err, sizeof(err)))
		return false;
	for (unsigned i = 0; i < f.phnum; i++) {
		struct elf_phdr p;
		read_phdr(img, &f, i, &p);
		if (p.type == PT_NOTE && p.offset <= size && p.filesz <= size - p.offset &&
		    has_pv_note(img, p.offset, p.filesz))
			return true;
	}
	return false;
}
