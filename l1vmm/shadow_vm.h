/* SPDX-License-Identifier: MIT */
/*
 * DOC: shadow-mode VMs: the machine they share, and their vCPU loop.
 *
 * The machine is one KVM VM for every shadow-mode guest of the process; its
 * memory (mmu/shadow) holds l1vmm's stub area (cpu/hybrid/stub.h), each
 * guest's RAM and the shadow page tables. A shadow VM's vCPUs are vCPUs of
 * the machine, running the guest kernel at CPL3.
 *
 * The vCPU loop (shadow_vm__vcpu_loop) handles three kinds of exit:
 *  - a trap: an exception at CPL3 enters l1vmm's stub, which exits on
 *    L1_PORT_SHADOW_TRAP. A #PF the shadow layer can fix is fixed; a write
 *    to a page table is emulated; anything else is bounced to the handler the
 *    guest registered (set_trap_table), on a hardware-shaped frame.
 *  - a hypercall: a write to the hypercall page (MMIO). Arguments come from
 *    the registers, arrays from guest memory (pvops/hypercall.h).
 *  - an interruption (kick, timer signal): pending events are delivered as an
 *    upcall when the guest's mask allows.
 * Before each entry, a vCPU delivers events and picks up a new shadow root.
 *
 * Changing present shadow entries (mmu_update, new_baseptr, flush, an
 * emulated page-table write, a fill that replaced an entry): KVM here keeps
 * CPL3 translations built from the shadows until the machine's memslots
 * change (docs/machine-notes.md). Such a change is therefore made with the
 * guest's own vCPUs held out of KVM_RUN (shadow_vm__hold), however long it
 * takes: its neighbours run on. If it changed a present entry, the guest's
 * vCPUs stay out (sv->stale) until the memslots are deleted and added again,
 * which is the only thing done with every vCPU of every shadow VM held
 * (machine__hold): bounded work, whatever the guest did. A VM asks for at
 * most flush_rate such flushes a second (vms/NAME/shadow/flush_rate); above
 * it the asking vCPU waits, its guest held, so the storm costs the guest
 * that makes it. Frames freed from shadow tables wait in the machine's
 * quarantine until a flush, so no frame is reused while KVM may still hold
 * a translation built from it. Filling a not-present entry needs none of this. Page
 * sharing (l1vmm/dedup_shadow.c, mmu/shadow/share.c) retargets leaves of
 * *data* frames without either: KVM drops every translation of a host page
 * when its host mapping changes (MADV_DONTNEED, or an mprotect round trip),
 * which costs a TLB shootdown (tens of µs) instead of a hold and a memslot
 * flush (ms, plus every translation rebuilt).
 *
 * Register state after an exit is changed only once the exit is "settled":
 * a KVM_RUN with immediate_exit completes the pending I/O or MMIO first, so
 * KVM cannot advance RIP over the state l1vmm set.
 *
 * Locking: sv->lock protects holders, stale, flush_tat, generation, root_mfn,
 * handlers, console_cons, and each shadow_vcpu's in_guest; sv->cv signals their
 * changes. m->recycle_lock serialises machine-wide holds and is taken before
 * any VM is held; a vCPU never waits for it while it holds a VM. The shadow
 * guest's own lock (shadow.h) is taken inside shadow__* calls only; sv->lock
 * is never held across a shadow__* call or an ioctl.
 */
#ifndef L1VMM_SHADOW_VM_H
#define L1VMM_SHADOW_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "l1vmm/kvm.h"
#include "l1vmm/shadow_apf.h"
#include "cpu/hybrid/stub.h"
#include "mmu/shadow/shadow.h"
#include "pvops/l1vmm_abi.h"

struct vm;
struct vm_config;
struct vcpu;
struct dedup_shadow;

struct machine {
	const struct kvm_host *kvm;
	int fd;                        /* the machine's KVM VM */
	struct shadow_machine mem;     /* frames freed from shadow tables wait in quarantine */
	pthread_mutex_t lock;          /* protects next_vcpu, vms, nr_vms */
	unsigned next_vcpu;            /* machine vCPU ids handed out */
	struct vm *vms[STUB_MAX_VCPUS]; /* the shadow VMs on the machine */
	unsigned nr_vms;
	pthread_mutex_t recycle_lock;  /* one machine-wide hold at a time; taken first */
	uint64_t recycles;             /* atomic: memslot flushes done */
	uint64_t memslot_failures;     /* atomic: flushes whose re-registration failed */
	uint64_t hold_start_ns;        /* CLOCK_MONOTONIC when the current hold began
					* (under recycle_lock) */
	struct vm *hold_by;            /* the VM whose vCPU holds the machine (recycle_lock) */
	uint64_t hold_max_ns;          /* atomic: the longest machine hold so far ... */
	char hold_max_vm[64];          /* ... and the VM that made it (under recycle_lock;
					* readers take it too) */
	struct dedup_shadow *dedup_shadow; /* page sharing's backend (its zero frames), or NULL;
					    * set and cleared by l1vmm/dedup_shadow.c while
					    * no VM is attached to it */
};

/* machine__destroy() tells page sharing's backend that its frames are gone
 * (l1vmm/dedup_shadow.c; the backend may be destroyed later). */
void dedup_shadow__machine_gone(struct dedup_shadow *d);

/* Create the machine for guests of guest_bytes RAM in all. 0, or -1 with a reason. */
int machine__create(struct machine *m, const struct kvm_host *kvm, uint64_t guest_bytes,
		    char *err, size_t errlen);
void machine__destroy(struct machine *m);

/*
 * Hold every vCPU of every shadow VM out of KVM_RUN (the caller, a vCPU
 * thread of VM by, holds no VM). vms[] (STUB_MAX_VCPUS) and *n receive
 * the VMs held, for machine__flush() and machine__release(). The hold's
 * length, from the first VM held to the release, is charged to by
 * (shadow_stats_vm.hold_*) and kept in the machine's maximum.
 */
void machine__hold(struct machine *m, struct vm *by, struct vm *vms[], unsigned *n);
void machine__release(struct machine *m, struct vm *vms[], unsigned n);
/* With the machine held: make KVM drop every translation, free the quarantine. */
void machine__flush(struct machine *m, struct vm *vms[], unsigned n);
/* The longest machine hold so far (ns) and the VM that made it ("none"). Takes
 * recycle_lock: waits for a hold in progress. */
void machine__hold_max(struct machine *m, uint64_t *ns, char *vm, size_t len);
/* Enough freed frames wait in quarantine to warrant a flush. */
bool machine__quarantine_due(struct machine *m);

struct shadow_stats_vm {
	uint64_t traps, bounces, hypercalls, hypercall_errors, events, port_io_refused;
	uint64_t events_deferred; /* upcalls put off behind an exception KVM had not delivered */
	uint64_t holds;           /* machine holds this VM's vCPUs made */
	uint64_t hold_ns;         /* their time in all */
	uint64_t hold_max_ns;     /* the longest of them */
	uint64_t flush_waits;     /* flushes this VM asked for above its flush_rate */
	uint64_t flush_wait_ns;   /* time its vCPUs waited for them */
};

struct shadow_vcpu {
	unsigned machine_id;
	bool in_guest;                 /* inside KVM_RUN (under sv->lock) */
	uint64_t generation;           /* of the shadow root its CR3 holds */
	uint64_t timer_deadline;       /* pvclock ns; 0 = none (vCPU thread only) */
	timer_t timer;
	bool have_timer;
	struct kvm_sregs sregs;        /* its CPL3 state (vCPU thread only) */
	uint64_t zero_cr2_rip;         /* RIP of the last #PF retried for a CR2 of 0 */
	unsigned fetch_failures;       /* page faults in a row that reclaim could not fetch */
};

struct shadow_vm {
	struct machine *machine;
	struct shadow_guest g;
	struct l1_shared_info *si;     /* in guest RAM: the guest writes it concurrently */
	uint64_t clock_start_ns;       /* CLOCK_MONOTONIC at pvclock time 0 */
	pthread_mutex_t lock;          /* see DOC */
	pthread_cond_t cv;
	unsigned holders;              /* shadow_vm__hold()s in force: no vCPU enters */
	bool stale;                    /* present entries changed: no vCPU enters until a
					* machine flush (machine__flush clears it) */
	uint64_t flush_rate;           /* atomic: machine flushes a second this VM may ask
					* for (0: no limit); the excess waits */
	uint64_t flush_tat;            /* when the next flush is due at that rate (GCRA) */
	uint64_t generation;           /* bumped when the shadow root changes */
	uint64_t root_mfn;             /* the root the vCPUs were told about */
	uint64_t handlers[256];        /* trap table: guest VAs */
	uint32_t console_cons;
	struct shadow_vcpu *vcpus;     /* [vm->nr_vcpus] */
	struct shadow_stats_vm stats;  /* atomics */
	struct shadow_apf apf;         /* pseudo page faults (its own lock) */
};

/* Make vm a shadow VM on m: RAM, kernel, boot data. The vCPUs follow through
 * vcpu__create(). 0, or -1 with a reason. */
int shadow_vm__create(struct vm *vm, struct machine *m, const struct vm_config *cfg,
		      char *err, size_t errlen);
/* After the vCPUs exist: their boot state and the pvclock. */
int shadow_vm__finish(struct vm *vm, char *err, size_t errlen);
void shadow_vm__destroy(struct vm *vm);

/* Hold vm's vCPUs but the one with index self (-1: all) out of KVM_RUN,
 * kicking those inside, until shadow_vm__release(). */
void shadow_vm__hold(struct vm *vm, int self);
void shadow_vm__release(struct shadow_vm *sv);

/* The machine vCPU id for vCPU index of vm (allocated once). */
unsigned shadow_vm__vcpu_id(struct vm *vm, unsigned index);

/* The vCPU thread's body in shadow mode. */
void shadow_vm__vcpu_loop(struct vcpu *vcpu);

#endif
