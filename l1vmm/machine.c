/* SPDX-License-Identifier: MIT */
/*
 * DOC: the shadow machine: the one KVM VM all shadow-mode guests share, and
 * the machine-wide hold around changes to present shadow entries (see
 * shadow_vm.h for why: KVM here keeps CPL3 translations until the memslots
 * change).
 */
#include "l1vmm/shadow_vm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cpu/hybrid/stub.h"
#include "l1vmm/vcpu.h"
#include "l1vmm/vm.h"
#include "mmu/clock.h"

#define MACHINE_SLACK (16ull << 20)
#define QUIESCE_RETRY_SECONDS 0.01 /* kick again if a vCPU is still inside */
#define RECYCLE_FRAMES 512 /* quarantined frames that trigger a flush (2 MiB) */

/* ---- the machine ---- */

int machine__create(struct machine *m, const struct kvm_host *kvm, uint64_t guest_bytes,
		    char *err, size_t errlen)
{
	*m = (struct machine){ .kvm = kvm, .fd = -1 };
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->recycle_lock, NULL);
	/* l1vmm's area, the guests, and their shadow tables: room for every guest's
	 * default table quota (shadow.h: a frame per 256 KiB of RAM, and
	 * SHADOW_TABLES_BASE frames per guest, which the slack covers for up to
	 * 16 guests), so that no guest's tables can take another's */
	uint64_t bytes = STUB_RESERVED_BYTES + guest_bytes + guest_bytes / 64 + MACHINE_SLACK;
	bytes = (bytes + (2ull << 20) - 1) & ~((2ull << 20) - 1);
	/*
	 * Room for page sharing's stored copies: at most one per guest frame.
	 * The mapping is MAP_NORESERVE, so room never used costs nothing; where
	 * it does not fit below the hole, sharing runs out of copies earlier
	 * (counted as backend errors), never the guests out of memory.
	 */
	uint64_t copies = guest_bytes;
	if (bytes <= SHADOW_MAX_GUEST_MEM && copies > SHADOW_MAX_GUEST_MEM - bytes)
		copies = SHADOW_MAX_GUEST_MEM - bytes;
	if (bytes > SHADOW_MAX_GUEST_MEM) {
		snprintf(err, errlen, "shadow-mode guests need %llu MiB of machine memory; at most "
			 "%llu MiB fit below the MMIO hole", (unsigned long long)(bytes >> 20),
			 (unsigned long long)(SHADOW_MAX_GUEST_MEM >> 20));
		return -1;
	}
	bytes += copies & ~(EPT_PAGE_SIZE - 1);
	int rc = shadow__machine_init(&m->mem, bytes, STUB_RESERVED_BYTES / EPT_PAGE_SIZE);
	if (rc < 0) {
		snprintf(err, errlen, "cannot map %llu MiB of machine memory: %s",
			 (unsigned long long)(bytes >> 20), strerror(-rc));
		return -1;
	}
	m->mem.quarantine = true;
	if (stub__build(&m->mem, err, errlen) < 0)
		return -1;
	m->fd = ioctl(kvm->fd, KVM_CREATE_VM, 0);
	if (m->fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VM for the shadow machine failed: %s",
			 strerror(errno));
		return -1;
	}
	rc = ept__mem_register(&m->mem.mem, m->fd);
	if (rc < 0) {
		snprintf(err, errlen, "registering machine memory failed: %s", strerror(-rc));
		return -1;
	}
	return 0;
}

void machine__destroy(struct machine *m)
{
	if (m->dedup_shadow)
		dedup_shadow__machine_gone(m->dedup_shadow);
	m->dedup_shadow = NULL;
	if (m->fd >= 0)
		close(m->fd);
	if (m->mem.nr_frames)
		shadow__machine_destroy(&m->mem);
	pthread_mutex_destroy(&m->recycle_lock);
	pthread_mutex_destroy(&m->lock);
	m->fd = -1;
}

/* ---- quiescing a guest around shadow changes ---- */

/* Hold every vCPU of vm but the one with index self (or all: -1) out of
 * KVM_RUN, kicking those inside, until shadow_vm__release(). Holds nest: a
 * machine hold does not wait for the guest's own change to end. */
void shadow_vm__hold(struct vm *vm, int self)
{
	struct shadow_vm *sv = vm->shadow;
	pthread_mutex_lock(&sv->lock);
	sv->holders++;
	for (;;) {
		bool busy = false;
		for (unsigned j = 0; j < vm->nr_vcpus; j++) {
			if ((int)j != self && sv->vcpus[j].in_guest) {
				busy = true;
				vcpu__kick(&vm->vcpus[j]);
			}
		}
		if (!busy)
			break;
		vm__timedwait(&sv->cv, &sv->lock, QUIESCE_RETRY_SECONDS);
	}
	pthread_mutex_unlock(&sv->lock);
}


void shadow_vm__release(struct shadow_vm *sv)
{
	pthread_mutex_lock(&sv->lock);
	sv->holders--;
	pthread_cond_broadcast(&sv->cv);
	pthread_mutex_unlock(&sv->lock);
}

/*
 * Changes to present shadow entries. At CPL3 KVM here keeps the translations
 * it built from l1vmm's shadow tables until the machine's memslots change
 * (docs/machine-notes.md): neither a CR3 reload nor invlpg at CPL0 drops
 * them. So a change that may remove or retarget a present entry is made with
 * the guest's own vCPUs held out of KVM_RUN (shadow_vm__hold: its neighbours
 * run on, whatever the change costs); if it did change one, or if enough
 * freed table frames wait in quarantine, the guest stays out (sv->stale) and
 * the machine is held only for the memslots to be deleted and added again
 * (KVM drops all it built from them) before anyone runs again. Filling a
 * not-present entry needs none of this.
 */
void machine__hold(struct machine *m, struct vm *by, struct vm *vms[], unsigned *n)
{
	pthread_mutex_lock(&m->recycle_lock);
	m->hold_start_ns = clock__mono_ns();
	m->hold_by = by;
	pthread_mutex_lock(&m->lock);
	*n = m->nr_vms;
	memcpy(vms, m->vms, *n * sizeof(vms[0]));
	pthread_mutex_unlock(&m->lock);
	for (unsigned i = 0; i < *n; i++)
		shadow_vm__hold(vms[i], -1); /* the caller is not in KVM_RUN: -1 holds it too */
}

void machine__release(struct machine *m, struct vm *vms[], unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		shadow_vm__release(vms[i]->shadow);
	uint64_t ns = clock__mono_ns() - m->hold_start_ns;
	struct shadow_stats_vm *st = &m->hold_by->shadow->stats;
	__atomic_fetch_add(&st->holds, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&st->hold_ns, ns, __ATOMIC_RELAXED);
	if (ns > __atomic_load_n(&st->hold_max_ns, __ATOMIC_RELAXED))
		__atomic_store_n(&st->hold_max_ns, ns, __ATOMIC_RELAXED);
	if (ns > __atomic_load_n(&m->hold_max_ns, __ATOMIC_RELAXED)) {
		__atomic_store_n(&m->hold_max_ns, ns, __ATOMIC_RELAXED);
		snprintf(m->hold_max_vm, sizeof(m->hold_max_vm), "%s", m->hold_by->name);
	}
	pthread_mutex_unlock(&m->recycle_lock);
}

void machine__hold_max(struct machine *m, uint64_t *ns, char *vm, size_t len)
{
	pthread_mutex_lock(&m->recycle_lock);
	*ns = m->hold_max_ns;
	snprintf(vm, len, "%s", m->hold_max_vm[0] ? m->hold_max_vm : "none");
	pthread_mutex_unlock(&m->recycle_lock);
}

static void set_stale(struct vm *vms[], unsigned n, bool stale)
{
	for (unsigned i = 0; i < n; i++) {
		struct shadow_vm *sv = vms[i]->shadow;
		pthread_mutex_lock(&sv->lock);
		sv->stale = stale;
		pthread_mutex_unlock(&sv->lock);
	}
}

/* With the machine held: make KVM forget every translation, free the quarantine. */
void machine__flush(struct machine *m, struct vm *vms[], unsigned n)
{
	const struct ept_mem *mem = &m->mem.mem;
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		struct kvm_userspace_memory_region gone = { .slot = i,
							    .guest_phys_addr = mem->region[i].gpa };
		ioctl(m->fd, KVM_SET_USER_MEMORY_REGION, &gone);
	}
	int rc = ept__mem_register(mem, m->fd);
	if (rc < 0) {
		/*
		 * The guests cannot run without their memory, and nothing of it is
		 * lost: they stay out (stale), and a vCPU of each tries again
		 * (shadow_vm__vcpu_loop); --timeout and signals still end them.
		 */
		if (__atomic_fetch_add(&m->memslot_failures, 1, __ATOMIC_RELAXED) == 0)
			fprintf(stderr, "l1vmm: re-registering machine memory failed: %s; the shadow "
				"guests wait, l1vmm retries\n", strerror(-rc));
		set_stale(vms, n, true);
		return;
	}
	shadow__machine_release_quarantine(&m->mem);
	__atomic_fetch_add(&m->recycles, 1, __ATOMIC_RELAXED);
	set_stale(vms, n, false); /* every guest's stale translations went with the memslots */
}

bool machine__quarantine_due(struct machine *m)
{
	pthread_mutex_lock(&m->mem.lock);
	bool due = m->mem.quarantined >= RECYCLE_FRAMES;
	pthread_mutex_unlock(&m->mem.lock);
	return due;
}

