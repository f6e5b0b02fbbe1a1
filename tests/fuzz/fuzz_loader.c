/* SPDX-License-Identifier: MIT */
/*
 * DOC: libFuzzer target for the kernel image loaders.
 *
 * Every input is fed to loader__load(), loader__load_elf() and
 * loader__load_multiboot() over two small fake guests:
 *  - "flat": 8 MiB of RAM at [0, 8 MiB), as ept__mem_init() lays it out;
 *  - "split": RAM at [0, 8 MiB) and [4 GiB, 4 GiB + 4 MiB), built by hand so
 *    that the second region, the hole between and the 4 GiB limit of 32-bit
 *    kernels are reachable without mapping 3 GiB (the loader takes the
 *    layout from mem->region[] and assumes nothing else about it).
 * Guest memory stays small so a huge p_memsz cannot blow the RSS limit.
 *
 * Invariants checked (abort() on violation, so libFuzzer reports a crash):
 * on success the entry point and both ends of the image are guest RAM, the
 * image starts at or above L1_BOOT_AREA_END, ends page aligned, and contains
 * the entry; a multiboot image and its entry lie below 4 GiB and mb_info_gpa
 * is L1_MB_INFO_GPA; the entry's frame is private; the p2m counters still add
 * up. On failure the reason is a non-empty, NUL-terminated single line that
 * fits in 256 bytes (the VMM's buffer) without being cut.
 * ASan/UBSan catch any read outside the input or any overflow on the way.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "l1vmm/loader.h"
#include "pvops/l1vmm_abi.h"

#define MiB (1ull << 20)
#define LOW_BYTES (8 * MiB)
#define HIGH_BYTES (4 * MiB)

static struct ept_mem flat, split;

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "fuzz_loader: invariant failed: %s (%s:%d)\n", \
				#cond, __FILE__, __LINE__);                      \
			abort();                                                 \
		}                                                                \
	} while (0)

/* Two regions with a hole between, the way ept__mem_init() would for a big guest. */
static void init_split(struct ept_mem *mem)
{
	uint64_t bytes = LOW_BYTES + HIGH_BYTES;
	void *base = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	CHECK(base != MAP_FAILED);
	*mem = (struct ept_mem){ .base = base, .mem_bytes = bytes, .nr_regions = 2 };
	mem->region[0] = (struct ept_region){ .gpa = 0, .size = LOW_BYTES, .hva = mem->base };
	mem->region[1] = (struct ept_region){ .gpa = L1_RAM_HIGH_START, .size = HIGH_BYTES,
					      .hva = mem->base + LOW_BYTES };
	CHECK(p2m__init(&mem->p2m, (L1_RAM_HIGH_START + HIGH_BYTES) / EPT_PAGE_SIZE) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	CHECK(ept__mem_init(&flat, LOW_BYTES) == 0);
	init_split(&split);
	return 0;
}

static bool is_ram(const struct ept_mem *mem, uint64_t gpa)
{
	return ept__gpa_ptr(mem, gpa, 1) != NULL;
}

static void check_result(const struct ept_mem *mem, int r, const struct boot_image *bi,
			 const char *err, size_t errlen)
{
	uint64_t sum = 0;
	for (unsigned s = 0; s < P2M_NR_STATES; s++)
		sum += mem->p2m.count[s];
	CHECK(sum == mem->p2m.nr_frames);

	if (r != 0) {
		CHECK(r == -1);
		CHECK(memchr(err, '\0', errlen) != NULL);
		CHECK(err[0] != '\0');
		CHECK(strlen(err) < errlen - 1); /* not cut short by the VMM's 256 bytes */
		CHECK(strchr(err, '\n') == NULL && strchr(err, '\r') == NULL);
		return;
	}
	CHECK(bi->protocol == BOOT_L1_LONG64 || bi->protocol == BOOT_MULTIBOOT);
	CHECK(bi->image_start >= L1_BOOT_AREA_END);
	CHECK(bi->image_start < bi->image_end);
	CHECK(bi->image_end % EPT_PAGE_SIZE == 0);
	CHECK(bi->entry >= bi->image_start && bi->entry < bi->image_end);
	CHECK(is_ram(mem, bi->image_start));
	CHECK(is_ram(mem, bi->image_end - 1));
	CHECK(is_ram(mem, bi->entry));
	CHECK(p2m__get(&mem->p2m, bi->entry / EPT_PAGE_SIZE) == P2M_PRIVATE);
	if (bi->protocol == BOOT_MULTIBOOT) {
		CHECK(bi->image_end <= LOADER_LIMIT_32BIT);
		CHECK(bi->mb_info_gpa == L1_MB_INFO_GPA);
		CHECK(p2m__get(&mem->p2m, L1_MB_INFO_GPA / EPT_PAGE_SIZE) == P2M_PRIVATE);
	} else {
		CHECK(bi->mb_info_gpa == 0);
	}
}

static void run(struct ept_mem *mem, const uint8_t *data, size_t size)
{
	struct boot_image bi;
	char err[256];

	for (unsigned which = 0; which < 3; which++) {
		memset(err, 'x', sizeof(err)); /* a missing NUL would show */
		memset(&bi, 0x5a, sizeof(bi));
		int r;
		if (which == 0)
			r = loader__load(data, size, mem, L1_CMDLINE_GPA, &bi, err, sizeof(err));
		else if (which == 1)
			r = loader__load_elf(data, size, mem, &bi, err, sizeof(err));
		else
			r = loader__load_multiboot(data, size, mem, L1_CMDLINE_GPA, &bi, err,
						   sizeof(err));
		check_result(mem, r, &bi, err, sizeof(err));
	}
}

/* libFuzzer passes a heap copy of exactly size bytes: ASan sees any overread. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(&flat, data, size);
	run(&split, data, size);
	return 0;
}
