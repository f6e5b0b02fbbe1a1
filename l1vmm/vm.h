/* SPDX-License-Identifier: MIT */
/*
 * DOC: a VM: its KVM VM, guest memory, devices and vCPU threads.
 *
 * Life cycle: vm__create() builds everything and loads the kernel (nothing
 * runs yet); vm__start() starts one thread per vCPU; vm__stop() ends it (the first cause wins:
 * guest exit, crash, timeout, signal) and kicks every vCPU out of KVM_RUN;
 * vm__destroy() joins the threads and frees everything.
 *
 * Ending is race-free: a kick sets kvm_run->immediate_exit before it signals
 * the thread, so a vCPU either leaves KVM_RUN with EINTR or never re-enters
 * it, and every vCPU loop re-checks vm->end after each KVM_RUN.
 */
#ifndef L1VMM_VM_H
#define L1VMM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "cpu/hybrid/hybrid.h"
#include "l1vmm/bus.h"
#include "l1vmm/fw_cfg.h"
#include "l1vmm/kvm.h"
#include "l1vmm/loader.h"
#include "l1vmm/testdev.h"
#include "l1vmm/uart.h"
#include "mmu/ept/ept.h"

#define VM_NAME_MAX 32

enum vm_end {
	VM_RUNNING = 0,
	VM_END_EXIT,    /* the guest wrote its exit code */
	VM_END_CRASH,   /* triple fault, emulation failure, unhandled exit */
	VM_END_TIMEOUT, /* --timeout expired */
	VM_END_SIGNAL,  /* SIGINT/SIGTERM */
};

#define VM_HOST_WRITES_MAX 8 /* ranges: a virtio device's used rings */
enum { VM_LOG_NONE = 0, VM_LOG_SHARING, VM_LOG_RECLAIM };

struct dedup_host;
struct vm_reclaim;
struct reclaim_vm;
struct ept_reclaim;
struct balloon;
struct virtio_balloon;
struct virtio_blk;
struct l1_shared_info;
struct console;

struct vm_config {
	const char *name;         /* for messages and the console prefix */
	uint64_t mem_bytes;
	unsigned vcpus;
	enum cpu_mode mode;       /* the mode to run (auto means ept here: the host resolves it) */
	const char *mode_why;     /* how the mode was chosen, or NULL */
	struct machine *machine;  /* CPU_MODE_SHADOW: the machine the guest joins */
	unsigned shadow_prefetch; /* CPU_MODE_SHADOW: entries filled per fault; 0 = default */
	bool cpuid_hide_leaves;   /* the CPUID instruction shows KVM's leaves, not l1vmm's */
	int dp_cooperative;       /* vms/NAME/reclaim/cooperative (dp_host.h) */
	const void *kernel;       /* image bytes */
	size_t kernel_size;
	const char *kernel_name;  /* path, or "built-in" */
	const char *cmdline;      /* guest command line, may be empty */
	const char *module_spec;  /* vms/NAME/modules as frozen ("" = none); the host reads them */
	const struct loader_module *modules; /* multiboot modules, read by the host */
	unsigned nr_modules;
	bool isa_debug_exit;      /* port 0xf4 gives QEMU's status, (V << 1) | 1 */
	const char *domain;       /* sharing domain; "" or NULL = the VM's own */
	bool console_prefix;      /* prefix console lines with the VM name */
	const char *disk;         /* virtio-blk backing file, or NULL / "" (blk_host.h) */
	uint64_t disk_size;       /* bytes, when disk must be created; 0 = the default */
	const char *numa_nodes;   /* a node list (mmu/numa.h) for RAM and vCPUs; "" or NULL = none */
	void (*on_end)(void *ctx); /* optional: called once when the VM ends, any thread */
	void *on_end_ctx;
};

struct vcpu;
struct machine;
struct shadow_vm;

struct vm {
	char name[VM_NAME_MAX];
	const struct kvm_host *kvm;
	int fd;                   /* KVM VM */
	enum cpu_mode mode;       /* the mode that runs */
	char mode_why[192];
	struct ept_mem mem;       /* ept mode: guest RAM */
	struct ept_mem *ram;      /* guest RAM as the guest sees it (&mem, or the shadow view) */
	struct ept_mem *phys;     /* what the vCPUs' physical addresses mean (&mem, or machine memory) */
	struct shadow_vm *shadow; /* shadow mode only */
	bool cpuid_hide_leaves;   /* from vm_config; fixed */
	uint64_t numa_nodes;      /* the nodes its RAM and vCPUs are bound to (0: none); fixed */
	struct dedup_host *dedup_host; /* page sharing, or NULL (dedup_host.h) */
	int dedup_kind;           /* its engine in dedup_host.c; -1: KSM */
	void *dedup_priv;         /* the dedup backend's per-VM state */
	/* Guest RAM l1vmm's devices write (virtio used rings): kept out of page
	 * sharing (dedup_ept__host_writes). Under lock. */
	struct { uint64_t gfn, n; } host_writes[VM_HOST_WRITES_MAX];
	unsigned nr_host_writes;
	struct vm_reclaim *reclaim; /* host reclaim's part (reclaim_ctl.h), or NULL */
	struct reclaim_vm *reclaim_core; /* its core (reclaim/reclaim.h), for the VM's
					  * devices (dp_host.h): set while the VM runs */
	struct ept_reclaim *reclaim_ept; /* ept mode: its userfaultfd side
					  * (mmu/ept/reclaim.h), set with reclaim_core */
	/* The double-paging protocol (dp_host.h): cooperative (atomic, 0 or 1);
	 * the guest's bitmap (host address, frames it covers; written under
	 * dp_lock and lock, read under either, and atomically by the watch);
	 * counters (atomic). dp_lock: one registration (or cooperative switch)
	 * at a time, from its check to its install. */
	pthread_mutex_t dp_lock;
	int dp_cooperative;
	uint64_t *dp_bitmap;
	uint64_t dp_bitmap_gfn, dp_bitmap_pages;
	uint64_t dp_hinted, dp_hints_ignored, dp_hint_errors;
	/* ept mode: who reads KVM's dirty log, decided once (atomic compare and
	 * swap): VM_LOG_SHARING (page sharing, which then hands reclaim what it
	 * sees) or VM_LOG_RECLAIM (reclaim alone: sharing stays off) */
	int dirty_log_owner;
	struct balloon *balloon;  /* l1vmm-protocol guests (balloon_host.h), else NULL */
	struct virtio_balloon *virtio_balloon; /* ept mode, with balloon; else NULL */
	struct l1_shared_info *shared_info; /* in guest RAM, with balloon; the guest writes it */
	uint64_t balloon_event_errors; /* atomic: ept balloon events KVM refused */
	struct virtio_blk *virtio_blk; /* with a disk (blk_host.h), else NULL */
	int disk_fd;              /* its backing file, or -1 */
	uint64_t disk_irq_errors; /* atomic: its interrupt line changes KVM refused */
	struct boot_image image;
	struct bus pio, mmio;     /* registered before start, read-only after */
	struct uart uart;
	struct console *console;  /* the uart's sink until vm__join(), then NULL */
	struct testdev testdev;
	struct fw_cfg fw_cfg;     /* QEMU's firmware configuration, legacy ports */
	bool fw_cfg_ready;        /* fw_cfg__init() done: destroy it */
	unsigned nr_vcpus;
	struct vcpu *vcpus;

	pthread_mutex_t lock;     /* protects end, exit_code, crash_report, nr_running */
	pthread_cond_t ended_cv;  /* signalled when end becomes set and when a vCPU thread ends */
	enum vm_end end;          /* written once (first cause), under lock */
	int end_signal;           /* VM_END_SIGNAL: which */
	uint32_t exit_code;       /* VM_END_EXIT */
	char *crash_report;       /* VM_END_CRASH: formatted report */
	unsigned nr_running;      /* vCPU threads not yet returned */
	unsigned hold_req;        /* atomic, written under lock: vm__hold_vcpus() asks the
				   * vCPU threads (ept mode) to wait out of KVM_RUN */
	unsigned nr_held;         /* vCPU threads waiting so (under lock) */
	double start_time, end_time; /* monotonic seconds: start, and when the first cause came */
	uint64_t stopped_ns;      /* atomic: monotonic ns when the last vCPU thread left; 0 before */
	void (*on_end)(void *ctx);
	void *on_end_ctx;
};

/* Build the VM. 0, or -1 with a one-line reason in err (a configuration error). */
int vm__create(struct vm *vm, const struct kvm_host *kvm, const struct vm_config *cfg,
	       char *err, size_t errlen);
/* Start the vCPU threads. 0, or -1 with a reason (the VM is stopped). */
int vm__start(struct vm *vm, char *err, size_t errlen);
/*
 * End the VM for why (first cause wins) and kick its vCPUs. code is the exit
 * code (VM_END_EXIT) or the signal (VM_END_SIGNAL); the VM takes ownership of
 * crash_report (malloc'ed). Thread-safe.
 */
void vm__stop(struct vm *vm, enum vm_end why, uint32_t code, char *crash_report);
/* Stop if needed, join the vCPU threads and flush the console. */
void vm__join(struct vm *vm);
/* vm__join(), then free everything. */
void vm__destroy(struct vm *vm);

/* The process exit status for how the VM ended (README's table). */
int vm__exit_status(const struct vm *vm);
/* One line: "exited with code 0 after 1.20 s", "crashed ...", "timed out ...": the
 * time is from the start to when the vCPUs stopped (to now while any runs). */
void vm__describe_end(const struct vm *vm, char *buf, size_t len);

double vm__now(void);

/* pthread_cond_timedwait() for at most seconds (<= 0: just check), lock held. */
void vm__timedwait(pthread_cond_t *cv, pthread_mutex_t *lock, double seconds);

/*
 * Hold an ept-mode VM's vCPU threads out of KVM_RUN: vm__hold_request()
 * kicks each, and each waits in vm__hold_point() until vm__release_vcpus().
 * vm__hold_wait() is true once every running one waits (none can enter
 * guest mode until the release), false when some did not by until
 * (vm__now() seconds) or the VM is ending. One holder at a time per VM (the
 * caller's lock); every request ends with a release.
 */
void vm__hold_request(struct vm *vm);
bool vm__hold_wait(struct vm *vm, double until);
void vm__release_vcpus(struct vm *vm);
/* A vCPU thread's, before each KVM_RUN: wait while its VM is held. */
void vm__hold_point(struct vm *vm);

/* The L1_FEAT_* this VM's guest gets (start info, CPUID 0x40000001 eax);
 * valid once the kernel is loaded. */
uint32_t vm__features(const struct vm *vm);
/* True once the VM has ended (any thread; pairs with the release in vm__stop()). */
bool vm__ended(const struct vm *vm);

#endif
