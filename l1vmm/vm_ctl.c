/* SPDX-License-Identifier: MIT */
/*
 * DOC: vms/NAME/: a VM's configuration, state and statistics in the tree.
 *
 * The entries are written against struct vm_ctl (ctl.h), which holds the
 * configuration a VM is created from and, once created, the struct vm. The
 * configuration entries (mem, vcpus, mode, kernel, cmdline, domain) are what
 * a config directory gives; they refuse writes with EBUSY from
 * vm_ctl__freeze() until the VM ends (or is detached), so what the tree shows
 * is what runs. state, mode_active and stats/ are readings of the VM.
 *
 * Locking: vmc->lock protects the config and vmc->vm; a show that reads the
 * VM holds it, so vm_ctl__detach() (which takes it) is a barrier before
 * vm__destroy(). Inside, vm->lock is taken for end/start/end times (order:
 * tree lock, vmc->lock, vm->lock). The vCPU exit counters are written by
 * their vCPU threads without a lock; they are read with relaxed atomic loads
 * (a statistic needs no ordering, only untorn values).
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "l1vmm/ctl.h"
#include "balloon/balloon.h"
#include "l1vmm/reclaim_ctl.h"
#include "l1vmm/balloon_ctl.h"
#include "l1vmm/balloon_host.h"
#include "l1vmm/blk_host.h"
#include "l1vmm/dedup_host.h"
#include "l1vmm/dp_host.h"
#include "l1vmm/options.h"
#include "l1vmm/vcpu.h"
#include "l1vmm/shadow_vm.h"
#include "l1vmm/vm.h"

_Static_assert(VM_CTL_NAME_MAX < VM_NAME_MAX, "a VM directory name fits struct vm's name");

enum { LIMIT_TABLES, LIMIT_META, LIMIT_FLUSH_RATE, NR_LIMITS };
#define DEFAULT_FLUSH_RATE 50 /* machine flushes a second; a 1.4 ms hold each */
_Static_assert(NR_LIMITS == sizeof(((struct vm_ctl *)0)->shadow_limit) / sizeof(uint64_t),
	       "vm_ctl's shadow_limit[] has a slot per limit");

bool vm_ctl__valid_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > VM_CTL_NAME_MAX || name[0] == '.' || strcmp(name, "README") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

struct vm_ctl *vm_ctl__new(const char *name)
{
	if (!vm_ctl__valid_name(name))
		return NULL;
	struct vm_ctl *vmc = calloc(1, sizeof(*vmc));
	if (!vmc)
		return NULL;
	snprintf(vmc->name, sizeof(vmc->name), "%s", name);
	pthread_mutex_init(&vmc->lock, NULL);
	vmc->vcpus = 1;
	vmc->shadow_prefetch = 512;
	vmc->shadow_limit[LIMIT_FLUSH_RATE] = DEFAULT_FLUSH_RATE;
	vmc->cpuid_leaves = 1;
	vmc->mode = CPU_MODE_AUTO;
	vmc->disk_size = BLK_HOST_DEFAULT_SIZE;
	vmc->reclaim_cooperative = 1;
	return vmc;
}

void vm_ctl__free(struct vm_ctl *vmc)
{
	if (!vmc)
		return;
	pthread_mutex_destroy(&vmc->lock);
	free(vmc);
}

/* ---- the running rule ---- */

/* vmc->lock held. */
static bool busy_locked(struct vm_ctl *vmc)
{
	if (!vmc->frozen)
		return false;
	if (!vmc->vm)
		return true; /* being created */
	pthread_mutex_lock(&vmc->vm->lock);
	bool running = vmc->vm->end == VM_RUNNING;
	pthread_mutex_unlock(&vmc->vm->lock);
	return running;
}

static bool vm_running(void *obj)
{
	struct vm_ctl *vmc = obj;
	pthread_mutex_lock(&vmc->lock);
	bool busy = busy_locked(vmc);
	pthread_mutex_unlock(&vmc->lock);
	return busy;
}

void vm_ctl__freeze(struct vm_ctl *vmc, struct vm_config *cfg)
{
	pthread_mutex_lock(&vmc->lock);
	vmc->frozen = true;
	cfg->name = vmc->name;
	cfg->mem_bytes = vmc->mem_bytes;
	cfg->vcpus = vmc->vcpus;
	cfg->mode = vmc->mode;
	cfg->kernel_name = vmc->kernel[0] ? vmc->kernel : "built-in";
	cfg->cmdline = vmc->cmdline;
	cfg->domain = vmc->domain;
	cfg->shadow_prefetch = vmc->shadow_prefetch;
	cfg->cpuid_hide_leaves = !vmc->cpuid_leaves;
	cfg->dp_cooperative = (int)vmc->reclaim_cooperative;
	cfg->module_spec = vmc->modules;
	cfg->isa_debug_exit = vmc->isa_debug_exit;
	cfg->disk = vmc->disk;
	cfg->disk_size = vmc->disk_size;
	cfg->numa_nodes = vmc->numa_nodes;
	pthread_mutex_unlock(&vmc->lock);
}

/* Give the running VM vmc's shadow limit i (vmc->lock held). */
static void apply_limit(struct vm_ctl *vmc, unsigned i)
{
	struct shadow_vm *sv = vmc->vm ? vmc->vm->shadow : NULL;
	if (!sv)
		return;
	uint64_t v = vmc->shadow_limit[i], mem = sv->g.nr_frames * EPT_PAGE_SIZE;
	switch (i) {
	case LIMIT_TABLES:
		__atomic_store_n(&sv->g.table_quota, v ? v : shadow__default_table_quota(mem),
				 __ATOMIC_RELAXED);
		break;
	case LIMIT_META:
		__atomic_store_n(&sv->g.meta_quota, v ? v : shadow__default_meta_quota(mem),
				 __ATOMIC_RELAXED);
		break;
	default:
		__atomic_store_n(&sv->flush_rate, v, __ATOMIC_RELAXED);
	}
}

void vm_ctl__attach(struct vm_ctl *vmc, struct vm *vm)
{
	pthread_mutex_lock(&vmc->lock);
	vmc->vm = vm;
	for (unsigned i = 0; i < NR_LIMITS; i++)
		apply_limit(vmc, i);
	if (vm->balloon)
		balloon__set_target(vm->balloon, vmc->balloon_target_mb << (20 - 12));
	pthread_mutex_unlock(&vmc->lock);
}

void vm_ctl__detach(struct vm_ctl *vmc)
{
	pthread_mutex_lock(&vmc->lock);
	vmc->vm = NULL;
	vmc->frozen = false;
	pthread_mutex_unlock(&vmc->lock);
}

/* ---- configuration ---- */

static const char *const mode_choices[] = { "auto", "ept", "shadow", NULL };
_Static_assert(CPU_MODE_AUTO == 0 && CPU_MODE_EPT == 1 && CPU_MODE_SHADOW == 2,
	       "mode_choices is indexed by enum cpu_mode");

enum vm_field { F_MEM, F_VCPUS, F_MODE, F_KERNEL, F_CMDLINE, F_DOMAIN, F_PREFETCH, F_CPUID_LEAVES,
		F_MODULES, F_ISA_DEBUG_EXIT, F_DISK, F_DISK_SIZE, F_NUMA_NODES };

/* The string field for arg, and its capacity. */
static char *field_str(struct vm_ctl *vmc, uintptr_t arg, size_t *cap)
{
	switch (arg) {
	case F_KERNEL:
		*cap = sizeof(vmc->kernel);
		return vmc->kernel;
	case F_CMDLINE:
		*cap = sizeof(vmc->cmdline);
		return vmc->cmdline;
	case F_MODULES:
		*cap = sizeof(vmc->modules);
		return vmc->modules;
	case F_DISK:
		*cap = sizeof(vmc->disk);
		return vmc->disk;
	case F_NUMA_NODES:
		*cap = sizeof(vmc->numa_nodes);
		return vmc->numa_nodes;
	default:
		*cap = sizeof(vmc->domain);
		return vmc->domain;
	}
}

static int show_config(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	struct vm_ctl *vmc = obj;
	size_t cap;
	pthread_mutex_lock(&vmc->lock);
	switch (e->arg) {
	case F_MEM:
		snprintf(buf, len, "%llu", (unsigned long long)vmc->mem_bytes);
		break;
	case F_VCPUS:
		snprintf(buf, len, "%u", vmc->vcpus);
		break;
	case F_PREFETCH:
		snprintf(buf, len, "%u", vmc->shadow_prefetch);
		break;
	case F_CPUID_LEAVES:
		snprintf(buf, len, "%u", vmc->cpuid_leaves);
		break;
	case F_ISA_DEBUG_EXIT:
		snprintf(buf, len, "%u", vmc->isa_debug_exit);
		break;
	case F_DISK_SIZE:
		snprintf(buf, len, "%llu", (unsigned long long)vmc->disk_size);
		break;
	case F_MODE:
		snprintf(buf, len, "%s", mode_choices[vmc->mode]);
		break;
	default:
		snprintf(buf, len, "%s", field_str(vmc, e->arg, &cap));
	}
	pthread_mutex_unlock(&vmc->lock);
	return 0;
}

static int store_config(void *obj, const struct ctl_entry *e, const union ctl_value *v)
{
	struct vm_ctl *vmc = obj;
	size_t cap;
	int rc = 0;
	pthread_mutex_lock(&vmc->lock);
	if (busy_locked(vmc)) {
		rc = -EBUSY;
	} else {
		switch (e->arg) {
		case F_MEM:
			vmc->mem_bytes = v->size;
			break;
		case F_VCPUS:
			vmc->vcpus = (unsigned)v->i;
			break;
		case F_PREFETCH:
			vmc->shadow_prefetch = (unsigned)v->i;
			break;
		case F_CPUID_LEAVES:
			vmc->cpuid_leaves = (unsigned)v->i;
			break;
		case F_ISA_DEBUG_EXIT:
			vmc->isa_debug_exit = (unsigned)v->i;
			break;
		case F_DISK_SIZE:
			vmc->disk_size = v->size;
			break;
		case F_MODE:
			vmc->mode = (enum cpu_mode)v->choice;
			break;
		default: {
			char *s = field_str(vmc, e->arg, &cap);
			snprintf(s, cap, "%s", v->str);
		}
		}
	}
	pthread_mutex_unlock(&vmc->lock);
	return rc;
}

/* ---- readings ---- */

static int show_disk(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	(void)e;
	struct vm_ctl *vmc = obj;
	pthread_mutex_lock(&vmc->lock);
	if (vmc->vm)
		blk_host__show(vmc->vm, buf, len);
	else
		snprintf(buf, len, "none\n");
	pthread_mutex_unlock(&vmc->lock);
	return 0;
}

/* "created", "running", "exited", ... (vmc->lock held). */
static const char *state_locked(struct vm_ctl *vmc)
{
	static const char *const ends[] = {
		[VM_END_EXIT] = "exited", [VM_END_CRASH] = "crashed",
		[VM_END_TIMEOUT] = "timed-out", [VM_END_SIGNAL] = "stopped",
	};
	struct vm *vm = vmc->vm;
	if (!vm)
		return "created";
	pthread_mutex_lock(&vm->lock);
	enum vm_end end = vm->end;
	unsigned running = vm->nr_running;
	pthread_mutex_unlock(&vm->lock);
	if (end != VM_RUNNING)
		return (unsigned)end < sizeof(ends) / sizeof(ends[0]) && ends[end] ? ends[end]
										 : "stopped";
	return running ? "running" : "created";
}

static int show_state(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	(void)e;
	struct vm_ctl *vmc = obj;
	pthread_mutex_lock(&vmc->lock);
	snprintf(buf, len, "%s", state_locked(vmc));
	pthread_mutex_unlock(&vmc->lock);
	return 0;
}

/* stop: writing 1 ends the running VM as a SIGKILL would (its vCPUs stop
 * where they are; the other VMs run on). */
static int store_stop(void *obj, const struct ctl_entry *e, const union ctl_value *v)
{
	(void)e;
	struct vm_ctl *vmc = obj;
	pthread_mutex_lock(&vmc->lock);
	int rc = vmc->vm ? 0 : -EBUSY;
	if (vmc->vm && v->b)
		vm__stop(vmc->vm, VM_END_SIGNAL, SIGKILL, NULL);
	pthread_mutex_unlock(&vmc->lock);
	return rc;
}

static int show_stop(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	(void)e;
	struct vm_ctl *vmc = obj;
	pthread_mutex_lock(&vmc->lock);
	snprintf(buf, len, "%d", vmc->vm && vm__ended(vmc->vm));
	pthread_mutex_unlock(&vmc->lock);
	return 0;
}

static int show_mode_active(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	(void)e;
	struct vm_ctl *vmc = obj;
	pthread_mutex_lock(&vmc->lock);
	/* vm->mode is set by vm__create() before attach and never changes */
	snprintf(buf, len, "%s", vmc->vm ? hybrid__mode_name(vmc->vm->mode) : "none");
	pthread_mutex_unlock(&vmc->lock);
	return 0;
}

static int show_mode_reason(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	(void)e;
	struct vm_ctl *vmc = obj;
	pthread_mutex_lock(&vmc->lock);
	snprintf(buf, len, "%s", vmc->vm ? vmc->vm->mode_why : "none");
	pthread_mutex_unlock(&vmc->lock);
	return 0;
}

/* shadow/: the shadow MMU's counters (plain words written under the guest's
 * shadow lock; an untorn relaxed read is all a statistic needs). */
static int show_shadow(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	struct vm_ctl *vmc = obj;
	uint64_t v = 0;
	pthread_mutex_lock(&vmc->lock);
	struct vm *vm = vmc->vm;
	if (vm && vm->shadow) {
		const uint64_t *word = (const uint64_t *)((const char *)&vm->shadow->g.stats + e->arg);
		v = __atomic_load_n(word, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&vmc->lock);
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return 0;
}

/* shadow/ readings of the machine hold: this VM's (microseconds or a count,
 * struct shadow_stats_vm at e->arg), or the machine's longest (HOLD_MACHINE_*). */
enum { HOLD_MACHINE_MAX = 1 << 20, HOLD_MACHINE_BY }; /* above any offset */
static int show_hold(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	struct vm_ctl *vmc = obj;
	uint64_t v = 0;
	char by[64] = "none";
	pthread_mutex_lock(&vmc->lock);
	struct vm *vm = vmc->vm;
	if (vm && vm->shadow && e->arg < HOLD_MACHINE_MAX)
		v = __atomic_load_n((const uint64_t *)((const char *)&vm->shadow->stats + e->arg),
				    __ATOMIC_RELAXED);
	else if (vm && vm->shadow)
		machine__hold_max(vm->shadow->machine, &v, by, sizeof(by));
	pthread_mutex_unlock(&vmc->lock);
	if (e->arg == HOLD_MACHINE_BY)
		snprintf(buf, len, "%s", by);
	else if (e->arg == offsetof(struct shadow_stats_vm, holds) ||
		 e->arg == offsetof(struct shadow_stats_vm, flush_waits))
		snprintf(buf, len, "%llu", (unsigned long long)v);
	else
		snprintf(buf, len, "%llu", (unsigned long long)(v / 1000));
	return 0;
}

static int show_exits(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	struct vm_ctl *vmc = obj;
	uint64_t sum = 0;
	pthread_mutex_lock(&vmc->lock);
	struct vm *vm = vmc->vm;
	for (unsigned i = 0; vm && i < vm->nr_vcpus; i++)
		sum += __atomic_load_n(&vm->vcpus[i].exits[e->arg], __ATOMIC_RELAXED);
	pthread_mutex_unlock(&vmc->lock);
	snprintf(buf, len, "%llu", (unsigned long long)sum);
	return 0;
}

static int show_run_time(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	(void)e;
	struct vm_ctl *vmc = obj;
	double t = 0;
	pthread_mutex_lock(&vmc->lock);
	struct vm *vm = vmc->vm;
	if (vm) {
		/*
		 * vm__start() writes start_time before it takes vm->lock to count
		 * the first vCPU in, so once nr_running or end is seen under the
		 * lock, start_time is stable.
		 */
		pthread_mutex_lock(&vm->lock);
		bool started = vm->nr_running || vm->end != VM_RUNNING;
		if (started && vm->start_time > 0)
			t = (vm->end != VM_RUNNING ? vm->end_time : vm__now()) - vm->start_time;
		pthread_mutex_unlock(&vm->lock);
	}
	pthread_mutex_unlock(&vmc->lock);
	snprintf(buf, len, "%.3f", t > 0 ? t : 0.0);
	return 0;
}

static int show_populated(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	(void)e;
	struct vm_ctl *vmc = obj;
	uint64_t bytes = 0;
	pthread_mutex_lock(&vmc->lock);
	/* the regions are laid out by vm__create() and fixed while attached */
	struct vm *vm = vmc->vm;
	for (unsigned i = 0; vm && i < vm->ram->nr_regions && i < EPT_MAX_REGIONS; i++)
		if (vm->ram->region[i].hva)
			bytes += host__resident_bytes(vm->ram->region[i].hva, vm->ram->region[i].size);
	pthread_mutex_unlock(&vmc->lock);
	snprintf(buf, len, "%llu", (unsigned long long)bytes);
	return 0;
}

static int show_dedup(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	struct vm_ctl *vmc = obj;
	pthread_mutex_lock(&vmc->lock);
	int rc = dedup_host__vm_show(vmc->vm, (enum dedup_vm_field)e->arg, buf, len);
	pthread_mutex_unlock(&vmc->lock);
	return rc;
}

/* ---- the balloon ---- */

enum balloon_field {
	B_TARGET, B_ACTUAL, B_DEVICE, B_INFLATED, B_DEFLATED, B_OOM_DEFLATED, B_REPORTED,
	B_INFLATE_RATE, B_DEFLATE_RATE, B_MOVE_RATE, B_TIME_TO_TARGET, B_REFUSALS,
	B_LAST_REFUSAL, B_DISCARD_CALLS, B_G_TOTAL, B_G_FREE, B_G_AVAIL, B_G_OOM, B_G_AGE,
};

static int show_balloon(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	struct vm_ctl *vmc = obj;
	pthread_mutex_lock(&vmc->lock);
	struct vm *vm = vmc->vm;
	if (!vm || !vm->balloon) {
		uint64_t target = vmc->balloon_target_mb;
		pthread_mutex_unlock(&vmc->lock);
		if (e->arg == B_TARGET)
			snprintf(buf, len, "%llu", (unsigned long long)target);
		else
			snprintf(buf, len, e->type == CTL_TEXT ? "none" : "0");
		return 0;
	}
	balloon_host__pull_stats(vm);
	struct balloon_snapshot s;
	balloon__snapshot(vm->balloon, &s);
	const char *device = balloon_host__driver(vm);
	pthread_mutex_unlock(&vmc->lock);
	const uint64_t *g = s.gs.val;
	unsigned long long mib = 1ull << 20, v = 0;
	switch ((enum balloon_field)e->arg) {
	case B_TARGET: v = s.target_frames >> 8; break;
	case B_ACTUAL: v = s.actual_frames >> 8; break;
	case B_INFLATED: v = s.c.inflated_frames >> 8; break;
	case B_DEFLATED: v = s.c.deflated_frames >> 8; break;
	case B_OOM_DEFLATED: v = s.c.oom_deflations >> 8; break;
	case B_REPORTED: v = s.c.reported_frames >> 8; break;
	case B_REFUSALS: v = s.c.refused_extents + s.c.refused_requests; break;
	case B_DISCARD_CALLS: v = s.c.discard_calls; break;
	case B_G_TOTAL: v = g[L1_BSTAT_MEMTOT] / mib; break;
	case B_G_FREE: v = g[L1_BSTAT_MEMFREE] / mib; break;
	case B_G_AVAIL: v = g[L1_BSTAT_AVAIL] / mib; break;
	case B_G_OOM: v = g[L1_BSTAT_OOM]; break;
	case B_DEVICE:
		snprintf(buf, len, "%s", device);
		return 0;
	case B_LAST_REFUSAL:
		snprintf(buf, len, "%s", s.last_refusal[0] ? s.last_refusal : "none");
		return 0;
	case B_INFLATE_RATE:
	case B_DEFLATE_RATE:
	case B_MOVE_RATE: {
		double r = e->arg == B_INFLATE_RATE ? s.inflate_mib_s :
			   e->arg == B_DEFLATE_RATE ? s.deflate_mib_s : s.move_mib_s;
		snprintf(buf, len, "%.1f", r);
		return 0;
	}
	case B_TIME_TO_TARGET:
		if (s.target_reached_after < 0)
			snprintf(buf, len, "pending");
		else
			snprintf(buf, len, "%.3f", s.target_reached_after);
		return 0;
	case B_G_AGE:
		if (!s.gs.when)
			snprintf(buf, len, "none");
		else
			snprintf(buf, len, "%.1f", vm__now() - s.gs.when);
		return 0;
	}
	snprintf(buf, len, "%llu", v);
	return 0;
}

static int store_balloon_target(void *obj, const struct ctl_entry *e, const union ctl_value *v)
{
	(void)e;
	struct vm_ctl *vmc = obj;
	pthread_mutex_lock(&vmc->lock);
	int rc = 0;
	if (!balloon_ctl__targets_by_hand()) {
		rc = -EBUSY; /* balloon/policy is off or auto */
	} else if (vmc->mem_bytes && (uint64_t)v->i > vmc->mem_bytes >> 20) {
		rc = -ERANGE;
	} else {
		vmc->balloon_target_mb = (uint64_t)v->i;
		if (vmc->vm && vmc->vm->balloon)
			balloon__set_target(vmc->vm->balloon, (uint64_t)v->i << (20 - 12));
	}
	pthread_mutex_unlock(&vmc->lock);
	return rc;
}

/* shadow/table_quota, meta_quota, flush_rate: what the running VM has, else
 * what is set. */
static int show_limit(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	struct vm_ctl *vmc = obj;
	pthread_mutex_lock(&vmc->lock);
	uint64_t v = vmc->shadow_limit[e->arg];
	struct shadow_vm *sv = vmc->vm ? vmc->vm->shadow : NULL;
	if (sv)
		v = __atomic_load_n(e->arg == LIMIT_TABLES ? &sv->g.table_quota :
				    e->arg == LIMIT_META ? &sv->g.meta_quota : &sv->flush_rate,
				    __ATOMIC_RELAXED);
	pthread_mutex_unlock(&vmc->lock);
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return 0;
}

static int store_limit(void *obj, const struct ctl_entry *e, const union ctl_value *v)
{
	struct vm_ctl *vmc = obj;
	pthread_mutex_lock(&vmc->lock);
	vmc->shadow_limit[e->arg] = e->type == CTL_SIZE ? v->size : (uint64_t)v->i;
	apply_limit(vmc, (unsigned)e->arg);
	pthread_mutex_unlock(&vmc->lock);
	return 0;
}

/* ---- pseudo page faults (shadow mode) ---- */

enum apf_field { APF_NOT_PRESENT, APF_READY, APF_IN_FLIGHT, APF_FALLBACKS, APF_STALE,
		 APF_FETCH_ERRORS, APF_ENABLES, APF_FAILING, APF_WAKE_ALLS };

static int show_apf(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	struct vm_ctl *vmc = obj;
	struct shadow_apf_stats s = { 0 };
	uint64_t in_flight = 0;
	pthread_mutex_lock(&vmc->lock);
	if (vmc->vm && vmc->vm->shadow)
		shadow_apf__stats(&vmc->vm->shadow->apf, &s, &in_flight);
	pthread_mutex_unlock(&vmc->lock);
	uint64_t v[] = { [APF_NOT_PRESENT] = s.not_present, [APF_READY] = s.ready,
			 [APF_IN_FLIGHT] = in_flight, [APF_FALLBACKS] = s.fallbacks,
			 [APF_STALE] = s.stale, [APF_FETCH_ERRORS] = s.fetch_errors,
			 [APF_ENABLES] = s.enables, [APF_FAILING] = s.failing,
			 [APF_WAKE_ALLS] = s.wake_alls };
	snprintf(buf, len, "%llu", (unsigned long long)v[e->arg]);
	return 0;
}

#define APF_STAT(name, field, what) \
	{ .path = "apf/" name, .type = CTL_INT, .arg = field, .show = show_apf, .doc = what }

/* ---- host reclaim ---- */

enum reclaim_field {
	RC_FLOOR, RC_COMPRESSED, RC_EVICTIONS, RC_FETCHES, RC_PREFETCHES, RC_REFAULTS, RC_DROPPED,
	RC_REFUSALS, RC_ERRORS, RC_P50, RC_P99, RC_COOPERATIVE, RC_DOUBLE_PAGING, RC_STORED_READS,
	RC_HINTED, RC_HINTS_IGNORED, RC_HINT_ERRORS,
};

uint64_t vm_ctl__reclaim_floor_mb(struct vm_ctl *vmc)
{
	pthread_mutex_lock(&vmc->lock);
	uint64_t v = vmc->reclaim_floor_mb;
	pthread_mutex_unlock(&vmc->lock);
	return v;
}

static int show_reclaim(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	struct vm_ctl *vmc = obj;
	struct reclaim_vm_stats s = { 0 };
	pthread_mutex_lock(&vmc->lock);
	uint64_t floor = vmc->reclaim_floor_mb, hinted = 0, ignored = 0, hint_errors = 0;
	if (vmc->vm) {
		reclaim_ctl__vm_stats(vmc->vm, &s);
		hinted = __atomic_load_n(&vmc->vm->dp_hinted, __ATOMIC_RELAXED);
		ignored = __atomic_load_n(&vmc->vm->dp_hints_ignored, __ATOMIC_RELAXED);
		hint_errors = __atomic_load_n(&vmc->vm->dp_hint_errors, __ATOMIC_RELAXED);
	}
	uint64_t coop = vmc->reclaim_cooperative;
	pthread_mutex_unlock(&vmc->lock);
	uint64_t v[] = {
		[RC_FLOOR] = floor, [RC_COMPRESSED] = s.compressed, [RC_EVICTIONS] = s.evictions,
		[RC_FETCHES] = s.fetches, [RC_PREFETCHES] = s.prefetches, [RC_REFAULTS] = s.refaults,
		[RC_DROPPED] = s.dropped, [RC_REFUSALS] = s.store_refusals,
		[RC_ERRORS] = s.fence_refusals + s.fetch_errors, [RC_P50] = s.fetch_ns_p50 / 1000,
		[RC_P99] = s.fetch_ns_p99 / 1000, [RC_COOPERATIVE] = coop,
		[RC_DOUBLE_PAGING] = s.double_paging, [RC_STORED_READS] = s.stored_reads,
		[RC_HINTED] = hinted, [RC_HINTS_IGNORED] = ignored, [RC_HINT_ERRORS] = hint_errors,
	};
	snprintf(buf, len, "%llu", (unsigned long long)v[e->arg]);
	return 0;
}

static int store_reclaim(void *obj, const struct ctl_entry *e, const union ctl_value *v)
{
	struct vm_ctl *vmc = obj;
	pthread_mutex_lock(&vmc->lock);
	if (e->arg == RC_FLOOR)
		vmc->reclaim_floor_mb = (uint64_t)v->i;
	else
		vmc->reclaim_cooperative = (uint64_t)v->i;
	if (vmc->vm && e->arg == RC_FLOOR)
		reclaim_ctl__set_floor(vmc->vm, (uint64_t)v->i);
	else if (vmc->vm)
		dp_host__set_cooperative(vmc->vm, (int)v->i);
	pthread_mutex_unlock(&vmc->lock);
	return 0;
}

#define RECLAIM_STAT(name, field, what) \
	{ .path = "reclaim/" name, .type = CTL_INT, .arg = field, .show = show_reclaim, .doc = what }

#define BALLOON_STAT(name, type_, field, what) \
	{ .path = "balloon/" name, .type = type_, .arg = field, .show = show_balloon, .doc = what }

/* ---- the table ---- */

#define CONFIG (CTL_WRITABLE | CTL_IDLE | CTL_CONFIG)
#define EXITS(kind, name, what) \
	{ .path = "stats/exits/" name, .type = CTL_INT, .doc = "exits: " what, \
	  .arg = (kind), .show = show_exits }

/* One shadow-MMU counter; its file is named after the field (refusals by reason). */
#define SHADOW_STAT(name, field, what) \
	{ .path = "shadow/" name, .type = CTL_TEXT, .show = show_shadow, \
	  .arg = offsetof(struct shadow_stats, field), .doc = what }

static const struct ctl_entry vm_entries[] = {
	{ .path = "mem", .type = CTL_SIZE, .flags = CONFIG | CTL_REQUIRED, .arg = F_MEM,
	  .doc = "guest RAM in bytes (K/M/G suffixes accepted)",
	  .size_min = OPT_MIN_MEM, .size_max = OPT_MAX_MEM, .size_align = 4096,
	  .show = show_config, .store = store_config },
	{ .path = "vcpus", .type = CTL_INT, .flags = CONFIG, .arg = F_VCPUS,
	  .doc = "number of vCPUs", .min = 1, .max = OPT_MAX_VCPUS,
	  .show = show_config, .store = store_config },
	{ .path = "mode", .type = CTL_ENUM, .flags = CONFIG, .arg = F_MODE,
	  .doc = "execution mode requested (mode_active: the one that runs)",
	  .choices = mode_choices, .show = show_config, .store = store_config },
	{ .path = "kernel", .type = CTL_STRING, .flags = CONFIG, .arg = F_KERNEL,
	  .doc = "kernel image path; empty: the built-in kernel", .max_len = VM_CTL_KERNEL_MAX,
	  .show = show_config, .store = store_config },
	{ .path = "cmdline", .type = CTL_STRING, .flags = CONFIG, .arg = F_CMDLINE,
	  .doc = "guest command line", .max_len = L1_CMDLINE_MAX - 1,
	  .show = show_config, .store = store_config },
	{ .path = "domain", .type = CTL_STRING, .flags = CONFIG, .arg = F_DOMAIN,
	  .doc = "sharing domain: identical pages are shared only between VMs of one domain; "
		 "empty: a domain of its own. Same domain = mutual trust: a guest can time a "
		 "write to learn whether another guest holds a page (README: Sharing domains)",
	  .max_len = VM_CTL_DOMAIN_MAX, .show = show_config, .store = store_config },
	{ .path = "shadow_prefetch", .type = CTL_INT, .flags = CONFIG, .arg = F_PREFETCH,
	  .doc = "shadow mode: page-table entries filled per page fault (1 = no prefetch)",
	  .min = 1, .max = 512, .show = show_config, .store = store_config },
	{ .path = "cpuid_leaves", .type = CTL_INT, .flags = CONFIG, .arg = F_CPUID_LEAVES,
	  .doc = "1: the CPUID instruction shows l1vmm's leaves at 0x40000000 where the host "
		 "intercepts it; 0: KVM's stay there (l1vmm hidden from CPUID probes, as on hosts "
		 "without CPUID faulting). L1_HC_CPUID answers with l1vmm's either way",
	  .min = 0, .max = 1, .show = show_config, .store = store_config },
	{ .path = "modules", .type = CTL_STRING, .flags = CONFIG, .arg = F_MODULES,
	  .doc = "multiboot modules, loaded after the kernel: PATH[,ARGS] items joined by ';' "
		 "(the kernel sees the string \"PATH ARGS\"); empty: none",
	  .max_len = VM_CTL_MODULES_MAX, .show = show_config, .store = store_config },
	{ .path = "isa_debug_exit", .type = CTL_INT, .flags = CONFIG, .arg = F_ISA_DEBUG_EXIT,
	  .doc = "1: a write of V to port 0xf4 ends the VM with QEMU's isa-debug-exit status "
		 "(V << 1) | 1; 0: with V itself (l1vmm's test-exit port)",
	  .min = 0, .max = 1, .show = show_config, .store = store_config },
	{ .path = "disk", .type = CTL_STRING, .flags = CONFIG, .arg = F_DISK,
	  .doc = "virtio-blk disk: the host file backing it, created at disk_size when missing; "
		 "empty: no disk (README: A disk for the guest)", .max_len = VM_CTL_KERNEL_MAX,
	  .show = show_config, .store = store_config },
	{ .path = "disk_size", .type = CTL_SIZE, .flags = CONFIG, .arg = F_DISK_SIZE,
	  .doc = "bytes of a disk file l1vmm creates (K/M/G accepted); an existing file keeps "
		 "its size", .size_min = 4096, .size_max = 1ull << 40, .size_align = 4096,
	  .show = show_config, .store = store_config },
	{ .path = "numa_nodes", .type = CTL_STRING, .flags = CONFIG, .arg = F_NUMA_NODES,
	  .doc = "NUMA nodes for the guest's RAM (MPOL_BIND) and its vCPU threads (their CPUs), "
		 "such as 0 or 0-1,3, checked against the host when the VM is created; empty: "
		 "no binding (README: NUMA)", .max_len = VM_CTL_NUMA_MAX,
	  .show = show_config, .store = store_config },
	{ .path = "disk_stats", .type = CTL_TEXT, .show = show_disk,
	  .doc = "the virtio-blk device: status, capacity in sectors, requests served by kind, "
		 "bytes moved, refusals (\"none\" without a disk)" },
	SHADOW_STAT("faults", faults, "page faults taken"),
	SHADOW_STAT("fills", fills, "faults fixed by filling shadow entries"),
	SHADOW_STAT("prefetched", prefetched, "entries filled ahead of a fault"),
	SHADOW_STAT("guest_faults", guest_faults, "faults bounced to the guest"),
	SHADOW_STAT("ballooned_touches", ballooned_touches,
		    "faults on frames the guest gave the balloon (mapped again, reading zero)"),
	SHADOW_STAT("pt_writes", pt_writes, "trapped page-table writes emulated"),
	SHADOW_STAT("wp_faults", wp_faults, "page sharing: write faults on write-tracked frames"),
	SHADOW_STAT("cow_breaks", cow_breaks, "page sharing: writes that unshared a frame (copied)"),
	SHADOW_STAT("break_ns", break_ns, "page sharing: time in copy-on-write breaks"),
	SHADOW_STAT("shares", shares, "page sharing: frames mapped onto a copy or a zero frame"),
	SHADOW_STAT("forgets", forgets, "page sharing: KVM told to drop translations of a range"),
	SHADOW_STAT("forget_ns", forget_ns, "page sharing: time in those calls"),
	SHADOW_STAT("discards", discards, "page sharing: host pages of shared frames given back (calls)"),
	SHADOW_STAT("updates", updates, "mmu_update entries applied"),
	SHADOW_STAT("tables", tables, "shadow page tables in use"),
	{ .path = "shadow/table_quota", .type = CTL_INT, .flags = CTL_WRITABLE | CTL_CONFIG,
	  .arg = LIMIT_TABLES, .min = 0, .max = 1 << 24, .show = show_limit, .store = store_limit,
	  .doc = "shadow tables (4 KiB machine frames) this guest may have; above it its shadows "
		 "are dropped and filled again. 0 when set: the default, 256 + 1 per 256 KiB of RAM" },
	{ .path = "shadow/meta_quota", .type = CTL_SIZE, .flags = CTL_WRITABLE | CTL_CONFIG,
	  .arg = LIMIT_META, .size_min = 0, .size_max = 1ull << 40, .size_align = 1,
	  .show = show_limit, .store = store_limit,
	  .doc = "bytes of l1vmm memory for this guest's shadows (reverse map, records: "
		 "shadow/meta_bytes) it may take; above it, as for table_quota. 0 when set: "
		 "the default, 32 KiB per table of the default table quota" },
	{ .path = "shadow/flush_rate", .type = CTL_INT, .flags = CTL_WRITABLE | CTL_CONFIG,
	  .arg = LIMIT_FLUSH_RATE, .min = 0, .max = 1000000, .show = show_limit,
	  .store = store_limit,
	  .doc = "machine flushes a second this guest may cause (every shadow guest pays for one); "
		 "above it, after a burst of 8, its vCPU waits. 0: no limit" },
	SHADOW_STAT("rmap_evictions", rmap_evictions,
		    "leaves dropped because their frame had 512 leaves of this guest"),
	SHADOW_STAT("table_quota_hits", table_quota_hits, "shadow tables refused at table_quota"),
	SHADOW_STAT("meta_quota_hits", meta_quota_hits, "metadata growths refused at meta_quota"),
	SHADOW_STAT("quota_drops", quota_drops,
		    "times all of this guest's shadows were dropped to stay within a quota (or no frame)"),
	SHADOW_STAT("meta_bytes", meta_bytes, "l1vmm memory for this guest's shadows now, bytes"),
	SHADOW_STAT("pinned", pinned, "frames l1vmm writes behind the shadows now (shared info, rings, bitmap)"),
	{ .path = "shadow/flush_waits", .type = CTL_TEXT, .show = show_hold,
	  .arg = offsetof(struct shadow_stats_vm, flush_waits),
	  .doc = "machine flushes this guest asked for above flush_rate (its vCPU waited)" },
	{ .path = "shadow/flush_wait_us", .type = CTL_TEXT, .show = show_hold,
	  .arg = offsetof(struct shadow_stats_vm, flush_wait_ns),
	  .doc = "time its vCPUs waited for them, microseconds" },
	{ .path = "shadow/holds", .type = CTL_TEXT, .show = show_hold,
	  .arg = offsetof(struct shadow_stats_vm, holds),
	  .doc = "machine holds this VM made (every shadow vCPU of the machine held out of the guest)" },
	{ .path = "shadow/hold_us", .type = CTL_TEXT, .show = show_hold,
	  .arg = offsetof(struct shadow_stats_vm, hold_ns), .doc = "their time in all, microseconds" },
	{ .path = "shadow/hold_max_us", .type = CTL_TEXT, .show = show_hold,
	  .arg = offsetof(struct shadow_stats_vm, hold_max_ns),
	  .doc = "the longest of them, microseconds" },
	{ .path = "shadow/machine_hold_max_us", .type = CTL_TEXT, .show = show_hold,
	  .arg = HOLD_MACHINE_MAX,
	  .doc = "the longest machine hold any VM of the machine made, microseconds" },
	{ .path = "shadow/machine_hold_max_by", .type = CTL_TEXT, .show = show_hold,
	  .arg = HOLD_MACHINE_BY, .doc = "the VM that made it (none: no hold yet)" },
	SHADOW_STAT("refused/foreign_gfn", refusals[SHADOW_REFUSE_FOREIGN_GFN], "refused: a gfn the guest does not own"),
	SHADOW_STAT("refused/pt_writable", refusals[SHADOW_REFUSE_PT_WRITABLE], "refused: a page-table page made writable"),
	SHADOW_STAT("refused/reserved", refusals[SHADOW_REFUSE_RESERVED], "refused: reserved bits, alignment or level"),
	SHADOW_STAT("refused/va_range", refusals[SHADOW_REFUSE_VA_RANGE], "refused: l1vmm's half of the address space"),
	SHADOW_STAT("refused/not_pt", refusals[SHADOW_REFUSE_NOT_PT], "refused: an update of a non-table page"),
	SHADOW_STAT("refused/too_many", refusals[SHADOW_REFUSE_TOO_MANY], "refused: a batch above the limit"),
	SHADOW_STAT("refused/bad_write", refusals[SHADOW_REFUSE_BAD_WRITE], "refused: a table write it cannot emulate"),
	SHADOW_STAT("refused/pinned", refusals[SHADOW_REFUSE_PINNED], "refused: a page l1vmm writes (pinned) as a table"),
	{ .path = "dedup/backend", .type = CTL_TEXT, .arg = DEDUP_VM_BACKEND, .show = show_dedup,
	  .doc = "what shares this VM's memory: ept, shadow, ksm, pending (dedup/run is 0) or none" },
	{ .path = "dedup/pages_shared", .type = CTL_INT, .arg = DEDUP_VM_SHARED, .show = show_dedup,
	  .doc = "guest pages mapped onto a stored copy (from the p2m; not kept for ksm)" },
	{ .path = "dedup/pages_private", .type = CTL_INT, .arg = DEDUP_VM_PRIVATE, .show = show_dedup,
	  .doc = "guest pages with a host page of their own (written at least once)" },
	{ .path = "dedup/pages_zero", .type = CTL_INT, .arg = DEDUP_VM_ZERO, .show = show_dedup,
	  .doc = "guest pages discarded to the zero page" },
	{ .path = "dedup/pages_volatile", .type = CTL_INT, .arg = DEDUP_VM_VOLATILE,
	  .show = show_dedup, .doc = "private pages found written at their last scan" },
	{ .path = "dedup/meta_bytes", .type = CTL_INT, .arg = DEDUP_VM_META, .show = show_dedup,
	  .doc = "the engine's memory for this VM, bytes" },
	{ .path = "balloon/target_mb", .type = CTL_INT, .flags = CTL_WRITABLE, .arg = B_TARGET,
	  .min = 0, .max = OPT_MAX_MEM >> 20, .show = show_balloon, .store = store_balloon_target,
	  .doc = "MiB l1vmm wants in the guest's balloon (0: none); set by hand with "
		 "balloon/policy manual, by the policy with auto" },
	BALLOON_STAT("actual_mb", CTL_INT, B_ACTUAL, "MiB in the balloon now (host memory given back)"),
	BALLOON_STAT("device", CTL_TEXT, B_DEVICE, "the guest's balloon driver in use: pv, virtio or none"),
	BALLOON_STAT("inflated_mb", CTL_INT, B_INFLATED, "MiB the guest gave back, in all"),
	BALLOON_STAT("deflated_mb", CTL_INT, B_DEFLATED, "MiB the guest took back, in all"),
	BALLOON_STAT("oom_deflated_mb", CTL_INT, B_OOM_DEFLATED,
		     "MiB taken back while not above target: the guest needed them (deflate on OOM)"),
	BALLOON_STAT("reported_mb", CTL_INT, B_REPORTED, "MiB of free pages the guest reported (discarded)"),
	BALLOON_STAT("inflate_rate", CTL_TEXT, B_INFLATE_RATE, "MiB/s l1vmm released, over its time in inflate requests"),
	BALLOON_STAT("deflate_rate", CTL_TEXT, B_DEFLATE_RATE, "MiB/s over l1vmm's time in deflate requests"),
	BALLOON_STAT("move_rate", CTL_TEXT, B_MOVE_RATE,
		     "MiB/s end to end since the last target change (guest and host)"),
	BALLOON_STAT("time_to_target", CTL_TEXT, B_TIME_TO_TARGET,
		     "seconds from the last target change until the balloon reached it, or pending"),
	BALLOON_STAT("refusals", CTL_INT, B_REFUSALS, "extents and requests l1vmm refused"),
	BALLOON_STAT("last_refusal", CTL_TEXT, B_LAST_REFUSAL, "why the last one was refused"),
	BALLOON_STAT("discard_calls", CTL_INT, B_DISCARD_CALLS, "host calls that released memory (runs coalesced)"),
	BALLOON_STAT("guest/total_mb", CTL_INT, B_G_TOTAL, "the guest's RAM, as it reports it"),
	BALLOON_STAT("guest/free_mb", CTL_INT, B_G_FREE, "memory the guest reports free (the balloon excluded)"),
	BALLOON_STAT("guest/available_mb", CTL_INT, B_G_AVAIL, "memory the guest reports available"),
	BALLOON_STAT("guest/oom_events", CTL_INT, B_G_OOM, "allocations that failed in the guest"),
	BALLOON_STAT("guest/age", CTL_TEXT, B_G_AGE, "seconds since the guest's last statistics, or none"),
	{ .path = "reclaim/floor_mb", .type = CTL_INT, .flags = CTL_WRITABLE | CTL_CONFIG,
	  .arg = RC_FLOOR, .min = 0, .max = OPT_MAX_MEM >> 20, .show = show_reclaim,
	  .store = store_reclaim,
	  .doc = "MiB of the VM's own pages host reclaim always leaves resident" },
	RECLAIM_STAT("pages_compressed", RC_COMPRESSED, "frames in the reclaim store now"),
	RECLAIM_STAT("evictions", RC_EVICTIONS, "frames moved to the store"),
	RECLAIM_STAT("fetches", RC_FETCHES, "frames brought back on an access"),
	RECLAIM_STAT("prefetches", RC_PREFETCHES, "frames brought back ahead of an access"),
	RECLAIM_STAT("refaults", RC_REFAULTS, "fetches soon after the eviction (reclaim/refault_ms)"),
	RECLAIM_STAT("dropped", RC_DROPPED, "stored frames the guest gave away (never fetched)"),
	RECLAIM_STAT("store_refusals", RC_REFUSALS, "evictions the store refused: the page stayed"),
	RECLAIM_STAT("errors", RC_ERRORS, "fence refusals and fetch retries"),
	RECLAIM_STAT("fetch_us_p50", RC_P50, "fetch latency, median of the last 1024"),
	RECLAIM_STAT("fetch_us_p99", RC_P99, "fetch latency, 99th percentile"),
	APF_STAT("not_present", APF_NOT_PRESENT,
		 "shadow mode: \"page not present\" tokens given (a task parked, the vCPU ran on)"),
	APF_STAT("ready", APF_READY, "shadow mode: \"page ready\" tokens delivered"),
	APF_STAT("in_flight", APF_IN_FLIGHT, "shadow mode: tokens given and not yet delivered"),
	APF_STAT("fallbacks", APF_FALLBACKS,
		 "shadow mode: faults fetched on the vCPU because the tokens or the queue were full"),
	APF_STAT("stale", APF_STALE, "shadow mode: fetches that ended after the guest reset its tokens"),
	APF_STAT("fetch_errors", APF_FETCH_ERRORS, "shadow mode: worker fetches that failed"),
	APF_STAT("enables", APF_ENABLES, "shadow mode: L1_HC_APF enables (one per vCPU that uses them)"),
	APF_STAT("failing", APF_FAILING,
		 "shadow mode: of fallbacks, faults on a frame whose worker fetch failed"),
	APF_STAT("wake_alls", APF_WAKE_ALLS,
		 "shadow mode: wake-alls given (disabled or re-enabled with tokens outstanding)"),
	{ .path = "reclaim/cooperative", .type = CTL_INT, .flags = CTL_WRITABLE | CTL_CONFIG,
	  .arg = RC_COOPERATIVE, .min = 0, .max = 1, .show = show_reclaim,
	  .store = store_reclaim,
	  .doc = "1: the double-paging protocol (bitmap, hints, disk writes from the store); "
		 "0: off" },
	RECLAIM_STAT("double_paging_events", RC_DOUBLE_PAGING, "fetches the guest's own paging "
		     "caused (a disk access to a frame in the store)"),
	RECLAIM_STAT("stored_reads", RC_STORED_READS, "pages written to the disk straight from "
		     "the store (never fetched)"),
	RECLAIM_STAT("hinted", RC_HINTED, "frames discarded on the guest's hints"),
	RECLAIM_STAT("hints_ignored", RC_HINTS_IGNORED, "frames hinted while cooperative was 0"),
	RECLAIM_STAT("hint_errors", RC_HINT_ERRORS, "hint calls refused (a bad list, kind or frame)"),
	{ .path = "stop", .type = CTL_BOOL, .flags = CTL_WRITABLE, .show = show_stop,
	  .store = store_stop,
	  .doc = "write 1 to end this VM at once, as a SIGKILL would (status 137); 1 once ended" },
	{ .path = "state", .type = CTL_TEXT, .show = show_state,
	  .doc = "created, running, exited, crashed, timed-out or stopped" },
	{ .path = "mode_reason", .type = CTL_TEXT, .show = show_mode_reason,
	  .doc = "how mode_active was chosen (auto: the CPL0/CPL3 measurement)" },
	{ .path = "mode_active", .type = CTL_TEXT, .show = show_mode_active,
	  .doc = "the execution mode that runs (none before the VM is created)" },
	{ .path = "stats/run_time", .type = CTL_TEXT, .show = show_run_time,
	  .doc = "seconds the vCPUs have run (to the end, once ended)" },
	{ .path = "stats/mem_populated", .type = CTL_SIZE, .show = show_populated,
	  .doc = "bytes of guest RAM backed by resident host pages" },
	EXITS(VM_EXIT_IO, "io", "port I/O"),
	EXITS(VM_EXIT_MMIO, "mmio", "MMIO"),
	EXITS(VM_EXIT_HLT, "hlt", "HLT"),
	EXITS(VM_EXIT_SHUTDOWN, "shutdown", "triple faults"),
	EXITS(VM_EXIT_INTERNAL_ERROR, "internal_error", "KVM internal errors"),
	EXITS(VM_EXIT_FAIL_ENTRY, "fail_entry", "failed VM entries"),
	EXITS(VM_EXIT_INTR, "intr", "interrupted by a signal or a kick"),
	EXITS(VM_EXIT_SYSTEM_EVENT, "system_event", "system events"),
	EXITS(VM_EXIT_UNKNOWN, "unknown", "unknown or malformed"),
};
#define NR_EXIT_ENTRIES 9
_Static_assert(NR_EXIT_ENTRIES == sizeof(((struct vcpu *)0)->exits) / sizeof(uint64_t),
	       "stats/exits/ covers every exit kind of struct vcpu's exits[]");

static const struct ctl_table vm_table = CTL_TABLE(vm_entries, vm_running);

const struct ctl_table *vm_ctl__table(void)
{
	return &vm_table;
}

int vm_ctl__register(struct ctl_tree *t, struct vm_ctl *vmc)
{
	char dir[sizeof("vms/") + VM_CTL_NAME_MAX];
	snprintf(dir, sizeof(dir), "vms/%s", vmc->name);
	int rc = ctl__register(t, dir, &vm_table, vmc);
	if (rc == 0)
		host_ctl__count_vm(+1);
	return rc;
}

void vm_ctl__unregister(struct ctl_tree *t, struct vm_ctl *vmc)
{
	char dir[sizeof("vms/") + VM_CTL_NAME_MAX];
	snprintf(dir, sizeof(dir), "vms/%s", vmc->name);
	if (ctl__remove(t, dir) == 0)
		host_ctl__count_vm(-1);
}
