/* SPDX-License-Identifier: MIT */
#include "mmu/ept/ept.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "pvops/l1vmm_abi.h"

uint64_t ept__ram_below_4g(uint64_t mem_bytes)
{
	return mem_bytes < L1_RAM_HOLE_START ? mem_bytes : L1_RAM_HOLE_START;
}

int ept__mem_init(struct ept_mem *mem, uint64_t mem_bytes)
{
	*mem = (struct ept_mem){ .mem_bytes = mem_bytes };
	if (mem_bytes == 0 || mem_bytes % EPT_PAGE_SIZE)
		return -EINVAL;

	void *base = mmap(NULL, mem_bytes, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	mem->base = base;
	mem->owns_mapping = true;

	uint64_t below = ept__ram_below_4g(mem_bytes);
	mem->region[mem->nr_regions++] = (struct ept_region){
		.gpa = 0, .size = below, .hva = mem->base };
	if (mem_bytes > below)
		mem->region[mem->nr_regions++] = (struct ept_region){
			.gpa = L1_RAM_HIGH_START, .size = mem_bytes - below,
			.hva = mem->base + below };

	const struct ept_region *top = &mem->region[mem->nr_regions - 1];
	int err = p2m__init(&mem->p2m, (top->gpa + top->size) / EPT_PAGE_SIZE);
	if (err) {
		munmap(mem->base, mem_bytes);
		*mem = (struct ept_mem){ 0 };
		return err;
	}
	return 0;
}

int ept__mem_view(struct ept_mem *mem, uint8_t *hva, uint64_t bytes)
{
	*mem = (struct ept_mem){ .base = hva, .mem_bytes = bytes };
	if (bytes == 0 || bytes % EPT_PAGE_SIZE || bytes > L1_RAM_HOLE_START)
		return -EINVAL;
	mem->region[mem->nr_regions++] = (struct ept_region){ .gpa = 0, .size = bytes, .hva = hva };
	int err = p2m__init(&mem->p2m, bytes / EPT_PAGE_SIZE);
	if (err)
		*mem = (struct ept_mem){ 0 };
	return err;
}

void ept__mem_destroy(struct ept_mem *mem)
{
	if (mem->base && mem->owns_mapping)
		munmap(mem->base, mem->mem_bytes);
	p2m__destroy(&mem->p2m);
	*mem = (struct ept_mem){ 0 };
}

int ept__mem_register(const struct ept_mem *mem, int vm_fd)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct ept_region *r = &mem->region[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->hva,
		};
		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			return -errno;
	}
	return 0;
}

void *ept__gpa_ptr(const struct ept_mem *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct ept_region *r = &mem->region[i];
		if (gpa < r->gpa)
			continue;
		uint64_t off = gpa - r->gpa;
		if (off > r->size || len > r->size - off)
			continue;
		if (off == r->size && len == 0 && i + 1 < mem->nr_regions)
			continue; /* prefer the region that starts there */
		return r->hva + off;
	}
	return NULL;
}

bool ept__write(struct ept_mem *mem, uint64_t gpa, const void *src, uint64_t len)
{
	uint8_t *dst = ept__gpa_ptr(mem, gpa, len);
	if (!dst)
		return false;
	if (len == 0)
		return true;
	memcpy(dst, src, len);
	ept__mark_written(mem, gpa, len);
	return true;
}

int ept__discard(struct ept_mem *mem, uint64_t gfn, uint64_t n)
{
	if (n > UINT64_MAX / EPT_PAGE_SIZE || gfn > UINT64_MAX / EPT_PAGE_SIZE)
		return -EFAULT;
	void *hva = ept__gpa_ptr(mem, gfn * EPT_PAGE_SIZE, n * EPT_PAGE_SIZE);
	if (!hva)
		return -EFAULT;
	return madvise(hva, n * EPT_PAGE_SIZE, MADV_DONTNEED) < 0 ? -errno : 0;
}

int ept__mergeable(struct ept_mem *mem)
{
	for (unsigned i = 0; i < mem->nr_regions; i++)
		if (madvise(mem->region[i].hva, mem->region[i].size, MADV_MERGEABLE) < 0)
			return -errno;
	return 0;
}

int ept__mark_written(struct ept_mem *mem, uint64_t gpa, uint64_t len)
{
	if (len == 0)
		return 0;
	if (gpa + len < gpa)
		return -EINVAL;
	uint64_t first = gpa / EPT_PAGE_SIZE, last = (gpa + len - 1) / EPT_PAGE_SIZE;
	return p2m__move(&mem->p2m, first, last - first + 1,
			 P2M_BIT(P2M_UNPOPULATED) | P2M_BIT(P2M_PRIVATE), P2M_PRIVATE, NULL, NULL);
}
