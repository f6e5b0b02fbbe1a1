/* SPDX-License-Identifier: MIT */
/*
 * DOC: page sharing for ept-mode VMs: the wiring (dedup_host.h).
 *
 * The host-memory side is mmu/ept/share.h (the copy store, the mappings,
 * KVM's dirty log, the vCPU waits); this file only connects it to the
 * engine's callbacks (struct dedup_backend, whose VM handle is a struct vm)
 * and to the VM: a VM's struct ept_guest is vm->dedup_priv, and a VM whose
 * frames cannot be made writable again is ended.
 */
#include "l1vmm/dedup_host.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l1vmm/vm.h"
#include "mmu/ept/share.h"

#define PROTECT_FAULT_SECONDS 0.5 /* a shutdown this soon after a protection may be ours */

static struct ept_guest *guest_of(void *vm)
{
	return ((struct vm *)vm)->dedup_priv;
}

/* The VM's ept_guest when page sharing is on for it (any thread). */
static struct ept_guest *guest_now(struct vm *vm)
{
	if (vm->mode != CPU_MODE_EPT) /* dedup_priv is another backend's */
		return NULL;
	return __atomic_load_n(&vm->dedup_priv, __ATOMIC_ACQUIRE);
}

/* ---- the engine's callbacks ---- */

static const void *page(void *vm, uint64_t gfn)
{
	return ept_share__page(guest_of(vm), gfn);
}

static void unpopulated(void *vm, uint64_t gfn, uint64_t n)
{
	ept_share__unpopulated(guest_of(vm), gfn, n);
}

static void *copy_new(void *ctx, const void *content, int node)
{
	return ept_share__copy_new(ctx, content, node);
}

static void copy_free(void *ctx, void *copy)
{
	ept_share__copy_free(ctx, copy);
}

static const void *copy_data(void *ctx, const void *copy)
{
	return ept_share__copy_data(ctx, copy);
}

static int share(void *vm, uint64_t gfn, void *copy)
{
	return ept_share__queue(guest_of(vm), gfn, copy);
}

static int zero(void *vm, uint64_t gfn)
{
	return ept_share__queue(guest_of(vm), gfn, NULL);
}

static int unshare_frames(void *vm, uint64_t gfn, uint64_t n, uint64_t *done)
{
	return ept_share__unshare(guest_of(vm), gfn, n, done);
}

/* ---- the host's ---- */

static void sync_guests(void *ctx, struct dedup *e)
{
	(void)e; /* the p2m tells the engine */
	ept_share__sync(ctx);
}

static void scan_end(void *ctx)
{
	ept_share__flush(ctx);
}

static uint64_t host_mappings(void *ctx)
{
	return ept_share__mappings(ctx);
}

static uint64_t map_calls(void *ctx)
{
	return ept_share__map_calls(ctx);
}

static void vcpu_holds(void *ctx, uint64_t out[2])
{
	ept_share__holds(ctx, &out[0], &out[1]);
}

/* Frames of vm stayed read-only: end it with the reason (backend lock held). */
static void stuck(void *owner, const char *why)
{
	struct vm *vm = owner;
	char *report = NULL;
	if (asprintf(&report, "%s\n", why) < 0)
		report = NULL;
	fprintf(stderr, "l1vmm: %s: %s\n", vm->name, why);
	vm__stop(vm, VM_END_CRASH, 0, report);
}

static int attach(void *ctx, struct vm *vm)
{
	struct ept_guest *g;
	int owner = VM_LOG_NONE;
	if (!__atomic_compare_exchange_n(&vm->dirty_log_owner, &owner, VM_LOG_SHARING, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) &&
	    owner != VM_LOG_SHARING)
		return -EBUSY; /* host reclaim reads its dirty log already */
	int rc = ept_share__attach(ctx, &vm->mem, vm->fd, stuck, vm, &g);
	if (rc < 0)
		return rc;
	/* a vCPU may find it now (dedup_ept__fault), and dedup_ept__host_writes
	 * pins from now on; the ranges asked for before are pinned here (a
	 * range asked for meanwhile is pinned by both: no harm) */
	__atomic_store_n(&vm->dedup_priv, g, __ATOMIC_RELEASE);
	__typeof__(vm->host_writes) ranges;
	pthread_mutex_lock(&vm->lock);
	unsigned nr = vm->nr_host_writes;
	memcpy(ranges, vm->host_writes, sizeof(ranges));
	pthread_mutex_unlock(&vm->lock);
	for (unsigned i = 0; i < nr; i++)
		ept_share__pin(g, ranges[i].gfn, ranges[i].n);
	return 0;
}

static void detach(void *ctx, struct vm *vm)
{
	(void)ctx;
	struct ept_guest *g = vm->dedup_priv;
	vm->dedup_priv = NULL;
	ept_share__detach(g);
}

/* Holding a VM's vCPUs while a flush replaces many frames (share.h). */
static void hold_request(void *owner)
{
	vm__hold_request(owner);
}

static bool hold_wait(void *owner, double until_s)
{
	return vm__hold_wait(owner, until_s);
}

static void hold_release(void *owner)
{
	vm__release_vcpus(owner);
}

static void destroy(void *ctx)
{
	ept_share__destroy(ctx);
}

int dedup_ept__create(struct dedup_host_backend *out, char *err, size_t errlen)
{
	struct ept_share *b;
	if (ept_share__create(&b, err, errlen) < 0)
		return -1;
	ept_share__set_hold(b, &(struct ept_hold_ops){
		.request = hold_request, .wait = hold_wait, .release = hold_release });
	*out = (struct dedup_host_backend){
		.name = "ept",
		.ops = { .page = page, .copy_new = copy_new, .copy_free = copy_free,
			 .copy_data = copy_data, .share = share, .zero = zero,
			 .unshare = unshare_frames, .unpopulated = unpopulated, .ctx = b },
		/* no written(): volatility from the engine's hashes, so the
		 * guests' writes to their own pages never trap */
		.ctx = b,
		.sync = sync_guests,
		.scan_end = scan_end,
		.host_mappings = host_mappings,
		.map_calls = map_calls,
		.vcpu_holds = vcpu_holds,
		.attach = attach,
		.detach = detach,
		.destroy = destroy,
	};
	return 0;
}

/* ---- the VM's side ---- */

int dedup_ept__host_writes(struct vm *vm, uint64_t gpa, uint64_t len)
{
	if (!len || gpa + len < gpa)
		return 0;
	uint64_t gfn = gpa / EPT_PAGE_SIZE, n = (gpa + len - 1) / EPT_PAGE_SIZE - gfn + 1;
	pthread_mutex_lock(&vm->lock);
	bool known = false;
	for (unsigned i = 0; i < vm->nr_host_writes; i++)
		known |= vm->host_writes[i].gfn == gfn && vm->host_writes[i].n == n;
	int rc = 0;
	if (!known && vm->nr_host_writes == VM_HOST_WRITES_MAX)
		rc = -ENOSPC;
	else if (!known)
		vm->host_writes[vm->nr_host_writes].gfn = gfn, vm->host_writes[vm->nr_host_writes++].n = n;
	pthread_mutex_unlock(&vm->lock);
	/* attach() reads the ranges after it publishes dedup_priv: one of us pins */
	struct ept_guest *g = guest_now(vm);
	if (rc == 0 && g)
		ept_share__pin(g, gfn, n);
	return rc;
}

bool dedup_ept__fault(struct vm *vm, unsigned *retries, unsigned max_retries)
{
	struct ept_guest *g = guest_now(vm);
	/* a fault that outlives max_retries waits was not ours */
	if (!g || ++*retries > max_retries)
		return false;
	return ept_share__wait(g);
}

bool dedup_ept__ram_mmio(struct vm *vm, const struct vm_exit *e)
{
	struct ept_guest *g = guest_now(vm);
	if (!g || e->count != 1)
		return false;
	return ept_share__ram_access(g, e->addr, e->data, e->size, e->is_write);
}

bool dedup_ept__protect_fault(struct vm *vm, unsigned *retries)
{
	struct ept_guest *g = guest_now(vm);
	if (!g)
		return false;
	/* only right after a write protection: a guest's own triple fault (it
	 * has no handler left) comes back at once, and ends it after the bound */
	if (ept_share__since_protect(g) > PROTECT_FAULT_SECONDS)
		return false;
	return dedup_ept__fault(vm, retries, DEDUP_SHUTDOWN_RETRIES);
}
