/* SPDX-License-Identifier: MIT */
/*
 * DOC: kernel image loaders.
 *
 * loader__load() recognises the image and loads it into guest RAM:
 *  - a Multiboot v1 header (magic 0x1BADB002, 4-byte aligned, within the
 *    first 8192 bytes, checksum valid) makes it a multiboot kernel: loaded
 *    through the header's address fields when flags bit 16 is set (the
 *    "a.out kludge"), else as an ELF32 or ELF64 file; the loader also writes
 *    the multiboot information structure (mem_lower/mem_upper, cmdline,
 *    memory map) at L1_MB_INFO_GPA. Entered in 32-bit protected mode.
 *  - otherwise an ELF64 x86-64 executable is an l1vmm-protocol kernel
 *    (pvops/l1vmm_abi.h): its PT_LOAD segments go to their physical
 *    addresses and it is entered in long mode at e_entry.
 *
 * The loaders are pure functions of the image bytes and guest memory (no
 * KVM), so they are unit-tested and fuzzed. Every header field is
 * bounds-checked with overflow-safe arithmetic: a segment must lie inside
 * the file, inside guest RAM, above the host boot area (L1_BOOT_AREA_END),
 * and not overlap another segment. Memory past p_filesz up to p_memsz is
 * zeroed. Loaded frames are marked P2M_PRIVATE (ept__write).
 */
#ifndef L1VMM_LOADER_H
#define L1VMM_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mmu/ept/ept.h"

#define L1_MB_INFO_GPA 0x9000ull /* multiboot info, then its memory map */
#define L1_MB_MODS_GPA 0xa000ull /* multiboot module list, then the modules' strings */
#define L1_MB_MODS_END 0x10000ull
#define LOADER_MAX_MODULES 16u
#define L1_MB_BOOTLOADER_MAGIC 0x2BADB002u

enum boot_protocol {
	BOOT_L1_LONG64 = 1, /* pvops/l1vmm_abi.h boot protocol */
	BOOT_MULTIBOOT,     /* Multiboot v1, 32-bit protected mode, EAX/EBX set */
};

struct boot_image {
	enum boot_protocol protocol;
	uint64_t entry;       /* first instruction (physical == virtual at entry) */
	uint64_t image_start; /* lowest gpa the image occupies */
	uint64_t image_end;   /* first gpa above the image, page aligned */
	uint32_t mb_info_gpa; /* BOOT_MULTIBOOT: EBX at entry */
};

/*
 * Load the kernel image img[0, size) into mem. cmdline_gpa is where the caller
 * puts the NUL-terminated command line (multiboot info points at it, so for
 * a multiboot kernel it must be RAM below 4 GiB; 0 means no command line, and
 * the info's cmdline flag stays clear).
 * Returns 0, or -1 with a one-line reason (no newline) in err[0, errlen),
 * e.g. "ELF segment 2 ends at 0x..., beyond guest memory (256 MiB)".
 * *out is zeroed first; on failure guest memory and the p2m are untouched.
 */
int loader__load(const void *img, size_t size, struct ept_mem *mem,
		 uint64_t cmdline_gpa, struct boot_image *out, char *err, size_t errlen);

/* A multiboot module: a file's bytes and the string the kernel sees with it. */
struct loader_module {
	const void *data;
	size_t size;
	const char *string; /* NUL-terminated, e.g. "env.txt" or "env.txt arg=1" */
};

/*
 * Load mods[0, nr) for the multiboot kernel img that loader__load() just put
 * in mem: each module page-aligned, one after the other from img->image_end
 * (as QEMU and GRUB place them), the list of struct { mod_start, mod_end,
 * string, reserved } at L1_MB_MODS_GPA with the strings after it, and the
 * info structure's mods_count/mods_addr (flags bit 3). Every module must lie
 * below 4 GiB inside one RAM region; at most LOADER_MAX_MODULES; the list and
 * strings must fit below L1_MB_MODS_END. Nothing is written unless all fit.
 * Returns 0, or -1 with a one-line reason naming the module ("module 2 ...").
 * Refused for a kernel that is not multiboot.
 */
int loader__load_modules(struct ept_mem *mem, const struct boot_image *img,
			 const struct loader_module *mods, unsigned nr, char *err, size_t errlen);

/*
 * True when img is an ELF64 l1vmm kernel with a PT_NOTE segment holding the
 * note L1_ELF_NOTE_NAME / L1_ELF_NOTE_PV (pvops/l1vmm_abi.h): it can run
 * deprivileged in shadow mode. Any malformed input is simply false.
 */
bool loader__probe_pv(const void *img, size_t size);

/* The two formats, for tests and fuzzing; same contract as loader__load(). */
int loader__load_elf(const void *img, size_t size, struct ept_mem *mem,
		     struct boot_image *out, char *err, size_t errlen);
int loader__load_multiboot(const void *img, size_t size, struct ept_mem *mem,
			   uint64_t cmdline_gpa, struct boot_image *out,
			   char *err, size_t errlen);

/*
 * Internal to the loader module (loader.c, loader_elf.c, loader_multiboot.c),
 * declared here so the formats can share one placement routine and the
 * tests can reach it. Not for the rest of l1vmm.
 */

/* The first address a 32-bit (multiboot) kernel cannot reach. */
#define LOADER_LIMIT_32BIT 0x100000000ull

/* At most this many program headers (and so loaded segments) per image. */
#define LOADER_MAX_SEGMENTS 64

/* One piece of the image to place in guest memory. */
struct loader_segment {
	uint64_t gpa;    /* first guest-physical byte */
	uint64_t memsz;  /* bytes it occupies in the guest; 0 = nothing to place */
	uint64_t offset; /* first byte in the file */
	uint64_t filesz; /* bytes copied from the file; [filesz, memsz) is zeroed */
};

/*
 * Check segs[0, nr) against the file and guest memory, then load them: each
 * must lie inside img, inside one RAM region, at or above L1_BOOT_AREA_END,
 * below limit (exclusive; 4 GiB for 32-bit kernels), and overlap no other;
 * entry must lie inside one of them. Nothing is written unless all checks
 * pass. Sets out->entry, image_start, image_end. what names a segment in the
 * messages ("ELF segment", "multiboot image"); segment i is called "what i"
 * when nr > 1. Same return and err contract as loader__load().
 */
int loader__place(const void *img, size_t size, struct ept_mem *mem,
		  const struct loader_segment *segs, unsigned nr, uint64_t limit,
		  uint64_t entry, const char *what, struct boot_image *out,
		  char *err, size_t errlen);

/* Which ELF files an ELF kernel loader accepts. */
enum loader_elf_kind {
	LOADER_ELF_L1,        /* ELF64 x86-64 only, anywhere in RAM */
	LOADER_ELF_MULTIBOOT, /* ELF32 i386 or ELF64 x86-64, below 4 GiB */
};

/*
 * Load an ELF executable's PT_LOAD segments (at p_paddr) through
 * loader__place(). Sets out->entry, image_start and image_end only; the
 * caller sets the protocol. Same return and err contract as loader__load().
 */
int loader__load_elf_kind(const void *img, size_t size, struct ept_mem *mem,
			  enum loader_elf_kind kind, struct boot_image *out,
			  char *err, size_t errlen);

/* True when img holds a Multiboot v1 header with a valid checksum. */
bool loader__is_multiboot(const void *img, size_t size);

/* Format a one-line reason into err[0, errlen) (may be NULL/0); returns -1. */
int loader__fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
