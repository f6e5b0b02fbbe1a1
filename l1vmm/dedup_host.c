/* SPDX-License-Identifier: MIT */
/*
 * DOC: page sharing on the host (see dedup_host.h): the engines, their
 * scanner (dedup/scanner.h), the choice of the ksm backend and the dedup/
 * entries of the tree.
 *
 * Knobs live here (one value for every engine) and are pushed to each engine
 * when it is created and on every write. With dedup/backend = ksm the ept
 * guests' RAM is offered to KSM (ept__mergeable) and dedup/ksm.c drives KSM's
 * own knobs with the same values (put back when l1vmm ends); the statistics
 * then are KSM's own.
 *
 * Locking: h->lock protects the knob values, the engines array and the VMs
 * waiting for run. The scanner thread never takes it; knob pushes,
 * statistics readers (a sync first, so counters are exact), the check and
 * VM removal hold it across scanner, engine and backend calls, none of
 * which waits for a vCPU. Order (ranks, mmu/lock.h): tree lock, vm_ctl lock,
 * then h->lock, the scanner's locks, the engine's lock, a p2m's, the
 * backend's.
 */
#include "l1vmm/dedup_host.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dedup/ksm.h"
#include "dedup/scanner.h"
#include "l1vmm/ctl.h"
#include "l1vmm/sandbox.h"
#include "l1vmm/vm.h"
#include "mmu/clock.h"
#include "mmu/numa.h"


enum engine_kind { ENGINE_EPT, ENGINE_SHADOW, NR_ENGINES };
enum backend_choice { BACKEND_L1VMM, BACKEND_KSM };

struct engine {
	struct dedup_host_backend b;
	struct dedup *e;         /* NULL until the first VM of this kind */
};

#define MAX_DOMAINS 64
#define MAX_PENDING 64

/* A VM that waits for dedup/run = 1 to be handed to its engine. */
struct pending {
	struct vm *vm;
	struct machine *machine;
	uint32_t domain;
};

struct dedup_host {
	struct l1_lock lock;
	struct dedup_scanner scanner;
	uint64_t knob[DEDUP_NR_KNOBS];
	enum backend_choice backend;
	struct engine eng[NR_ENGINES];
	char domains[MAX_DOMAINS][VM_CTL_DOMAIN_MAX + 1]; /* name -> id (the index) */
	unsigned nr_domains;
	bool started;            /* dedup_host__start() .. dedup_host__stop() */
	struct pending pending[MAX_PENDING];
	unsigned nr_pending;
	struct dedup_ksm ksm;    /* backend ksm: KSM's saved knobs while l1vmm drives it */
	struct ctl_entry *entries; /* dedup/: built from the engine's tables */
	size_t nr_entries;
	struct ctl_table table;
	char paths[DEDUP_NR_KNOBS + 32][48]; /* the dedup/ entries' paths */
};

/* ---- the engines ---- */

void dedup_host__sync(struct dedup_host *h)
{
	dedup_scanner__sync(&h->scanner);
}

/* The scanner's settings from the knobs (h->lock held). */
static void push_scanner(struct dedup_host *h)
{
	dedup_scanner__set(&h->scanner, h->knob[DEDUP_PAGES_TO_SCAN], h->knob[DEDUP_SLEEP_MILLISECS],
			   h->knob[DEDUP_RUN] != 0);
}

static void scanner_start(void)
{
	sandbox__enter(SANDBOX_SCANNER, "scanner");
}

struct dedup_host *dedup_host__create(void)
{
	struct dedup_host *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	l1_lock__init(&h->lock, L1_RANK_DEDUP_HOST, "dedup host");
	dedup_scanner__init(&h->scanner);
	h->scanner.thread_start = scanner_start;
	for (unsigned k = 0; k < DEDUP_NR_KNOBS; k++)
		h->knob[k] = dedup__knob_desc(k)->def;
	push_scanner(h);
	return h;
}

/* The domain id of name ("" = a domain of its own). */
static uint32_t domain_id(struct dedup_host *h, const char *name)
{
	if (!name || !*name)
		return DEDUP_DOMAIN_OWN;
	for (unsigned i = 0; i < h->nr_domains; i++)
		if (strcmp(h->domains[i], name) == 0)
			return i;
	if (h->nr_domains == MAX_DOMAINS)
		return DEDUP_DOMAIN_OWN; /* no room for the name: a domain of its own, never a stranger's */
	snprintf(h->domains[h->nr_domains], sizeof(h->domains[0]), "%s", name);
	return h->nr_domains++;
}

/* The engine for kind, created with its backend on first use (h->lock held). */
static struct engine *engine_for(struct dedup_host *h, enum engine_kind kind,
				 struct machine *machine, char *err, size_t errlen)
{
	struct engine *en = &h->eng[kind];
	if (en->e)
		return en;
	int rc = kind == ENGINE_EPT ? dedup_ept__create(&en->b, err, errlen)
				    : dedup_shadow__create(machine, &en->b, err, errlen);
	if (rc < 0)
		return NULL;
	struct dedup *e = dedup__create(&en->b.ops);
	if (!e) {
		en->b.destroy(en->b.ctx);
		snprintf(err, errlen, "out of memory for the dedup engine");
		return NULL;
	}
	for (unsigned k = 0; k < DEDUP_NR_KNOBS; k++)
		dedup__knob_set(e, k, h->knob[k]);
	/* two kinds of engine, room for four jobs: cannot fail */
	dedup_scanner__add(&h->scanner, &(struct dedup_scan_job){
		.e = e, .sync = en->b.sync, .sync_periodic = en->b.sync_periodic,
		.scan_end = en->b.scan_end, .ctx = en->b.ctx });
	en->e = e;
	return en;
}

/* Hand vm to its engine (h->lock held). 0, or -1 with a reason. */
static int attach_vm(struct dedup_host *h, struct vm *vm, struct machine *machine,
		     uint32_t domain, char *err, size_t errlen)
{
	enum engine_kind kind = vm->mode == CPU_MODE_SHADOW ? ENGINE_SHADOW : ENGINE_EPT;
	struct engine *en = engine_for(h, kind, machine, err, errlen);
	if (!en)
		return -1;
	int e = en->b.attach(en->b.ctx, vm);
	if (e == -EBUSY && vm->dirty_log_owner == VM_LOG_RECLAIM) {
		snprintf(err, errlen, "host reclaim reads the VM's dirty log already (set dedup/run=1 "
			 "before reclaim/run=1 to have both)");
		return -1;
	}
	if (e < 0) {
		snprintf(err, errlen, "dedup: %s backend: %s", en->b.name, strerror(-e));
		return -1;
	}
	e = dedup__add_vm(en->e, vm, vm->name, domain, &vm->ram->p2m);
	if (e == 0) /* a new VM shares nothing yet: never refused */
		e = dedup__set_node(en->e, vm, numa__home(vm->numa_nodes));
	if (e < 0) {
		en->b.detach(en->b.ctx, vm);
		snprintf(err, errlen, "dedup: adding the VM failed: %s", strerror(-e));
		return -1;
	}
	vm->dedup_kind = (int)kind;
	return 0;
}

/*
 * Attach the VMs that wait for run = 1 (h->lock held). A VM that cannot be
 * attached runs on unshared, with one line on stderr that says why; the
 * others are shared (the write of run succeeds).
 */
static void attach_pending(struct dedup_host *h)
{
	for (unsigned i = 0; i < h->nr_pending; i++) {
		struct pending *p = &h->pending[i];
		char err[256];
		if (attach_vm(h, p->vm, p->machine, p->domain, err, sizeof(err)) < 0) {
			fprintf(stderr, "l1vmm: %s: page sharing off: %s\n", p->vm->name, err);
			p->vm->dedup_host = NULL;
		}
	}
	h->nr_pending = 0;
}

int dedup_host__add_vm(struct dedup_host *h, struct vm *vm, struct machine *machine,
		       const char *domain, char *err, size_t errlen)
{
	l1_lock__acquire(&h->lock);
	int rc = -1;
	if (vm->mode == CPU_MODE_EPT && h->backend == BACKEND_KSM) {
		int mrc = ept__mergeable(&vm->mem);
		if (mrc < 0) {
			snprintf(err, errlen, "dedup/backend=ksm: madvise(MADV_MERGEABLE) failed: %s",
				 strerror(-mrc));
			goto out;
		}
		vm->dedup_host = h;
		vm->dedup_kind = -1;
		rc = 0;
		goto out;
	}
	uint32_t id = domain_id(h, domain);
	if (h->knob[DEDUP_RUN]) {
		/* sharing is on: the VM starts under the engine */
		rc = attach_vm(h, vm, machine, id, err, errlen);
		if (rc == 0) {
			vm->dedup_host = h;
			}
		goto out;
	}
	/* off: no dirty logging, no write protection until run is set to 1 */
	if (h->nr_pending == MAX_PENDING) {
		snprintf(err, errlen, "dedup: too many VMs");
		goto out;
	}
	h->pending[h->nr_pending++] = (struct pending){ vm, machine, id };
	vm->dedup_host = h;
	vm->dedup_kind = -2;
	rc = 0;
out:
	l1_lock__release(&h->lock);
	return rc;
}

int dedup_host__start(struct dedup_host *h, char *err, size_t errlen)
{
	l1_lock__acquire(&h->lock);
	int rc = 0;
	if (h->backend == BACKEND_KSM)
		rc = dedup_ksm__start(&h->ksm, h->knob, err, errlen);
	if (rc == 0 && !h->started) {
		int e = dedup_scanner__start(&h->scanner);
		if (e < 0) {
			snprintf(err, errlen, "cannot start the dedup scanner: %s", strerror(-e));
			rc = -1;
		} else {
			h->started = true;
		}
	}
	l1_lock__release(&h->lock);
	return rc;
}

bool dedup_host__uses_ksm(struct dedup_host *h)
{
	l1_lock__acquire(&h->lock);
	bool ksm = h->backend == BACKEND_KSM;
	l1_lock__release(&h->lock);
	return ksm;
}

void dedup_host__stop(struct dedup_host *h)
{
	dedup_scanner__stop(&h->scanner);
	l1_lock__acquire(&h->lock);
	h->started = false;
	dedup_ksm__stop(&h->ksm);
	l1_lock__release(&h->lock);
}

void dedup_host__restore_host(struct dedup_host *h)
{
	dedup_ksm__stop(&h->ksm); /* its own atomic claim: one of us restores */
}

void dedup_host__remove_vm(struct dedup_host *h, struct vm *vm)
{
	if (vm->dedup_host != h)
		return;
	l1_lock__acquire(&h->lock);
	for (unsigned i = 0; i < h->nr_pending; i++)
		if (h->pending[i].vm == vm)
			h->pending[i--] = h->pending[--h->nr_pending];
	if (vm->dedup_kind >= 0) {
		struct engine *en = &h->eng[vm->dedup_kind];
		dedup_host__sync(h);
		dedup__remove_vm(en->e, vm);
		en->b.detach(en->b.ctx, vm);
	}
	vm->dedup_host = NULL;
	l1_lock__release(&h->lock);
}

void dedup_host__destroy(struct dedup_host *h)
{
	if (!h)
		return;
	dedup_host__stop(h);
	for (unsigned i = 0; i < NR_ENGINES; i++) {
		if (!h->eng[i].e)
			continue;
		dedup__destroy(h->eng[i].e);
		h->eng[i].b.destroy(h->eng[i].b.ctx);
	}
	free(h->entries);
	dedup_scanner__destroy(&h->scanner);
	l1_lock__destroy(&h->lock);
	free(h);
}

/* ---- statistics ---- */

/* Sum of every engine's statistics, after a sync (so they are exact). */
static void totals(struct dedup_host *h, struct dedup_stats *sum, uint64_t *mappings,
		   uint64_t *calls, uint64_t holds[2])
{
	*sum = (struct dedup_stats){ 0 };
	*mappings = *calls = holds[0] = holds[1] = 0;
	dedup_host__sync(h);
	for (unsigned i = 0; i < NR_ENGINES; i++) {
		struct engine *en = &h->eng[i];
		if (!en->e)
			continue;
		struct dedup_stats s;
		dedup__stats(en->e, &s);
		for (size_t k = 0; k < dedup__stat_table_len; k++) {
			size_t off = dedup__stat_table[k].offset;
			uint64_t a, b;
			memcpy(&a, (char *)sum + off, sizeof(a));
			memcpy(&b, (char *)&s + off, sizeof(b));
			a += b; /* general_profit: two's complement sums right */
			memcpy((char *)sum + off, &a, sizeof(a));
		}
		if (en->b.host_mappings)
			*mappings += en->b.host_mappings(en->b.ctx);
		if (en->b.map_calls)
			*calls += en->b.map_calls(en->b.ctx);
		if (en->b.vcpu_holds) {
			uint64_t h2[2];
			en->b.vcpu_holds(en->b.ctx, h2);
			holds[0] += h2[0];
			holds[1] += h2[1];
		}
	}
}

/* KSM's counters under our names (KSM's own meanings); scan_cpu_ms is
 * ksmd's CPU time since l1vmm started KSM. */

enum { ARG_BACKEND = 1000, ARG_MAPPINGS, ARG_MAP_CALLS, ARG_HOLDS, ARG_HOLD_MISSES, ARG_CHECK };

static int show_stat(void *obj, const struct ctl_entry *ce, char *buf, size_t len)
{
	struct dedup_host *h = obj;
	struct dedup_stats s;
	uint64_t mappings = 0, calls = 0, holds[2] = { 0, 0 };
	l1_lock__acquire(&h->lock);
	if (h->ksm.active)
		dedup_ksm__stats(&h->ksm, &s);
	else
		totals(h, &s, &mappings, &calls, holds);
	l1_lock__release(&h->lock);
	if (ce->arg >= ARG_MAPPINGS && ce->arg <= ARG_HOLD_MISSES) {
		uint64_t v = ce->arg == ARG_MAPPINGS ? mappings : ce->arg == ARG_MAP_CALLS ? calls :
			     holds[ce->arg - ARG_HOLDS];
		snprintf(buf, len, "%llu", (unsigned long long)v);
		return 0;
	}
	const struct dedup_stat_desc *d = &dedup__stat_table[ce->arg];
	uint64_t v;
	memcpy(&v, (char *)&s + d->offset, sizeof(v));
	if (d->is_signed)
		snprintf(buf, len, "%lld", (long long)(int64_t)v);
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
	return 0;
}

static int show_check(void *obj, const struct ctl_entry *ce, char *buf, size_t len)
{
	(void)ce;
	struct dedup_host *h = obj;
	int rc = 0;
	l1_lock__acquire(&h->lock);
	dedup_host__sync(h);
	for (unsigned i = 0; rc == 0 && i < NR_ENGINES; i++)
		if (h->eng[i].e)
			rc = dedup__check(h->eng[i].e);
	l1_lock__release(&h->lock);
	snprintf(buf, len, "%s", rc == 0 ? "ok" : "broken (see stderr)");
	return 0;
}

static const char *const backend_choices[] = { "l1vmm", "ksm", NULL };

static int show_knob(void *obj, const struct ctl_entry *ce, char *buf, size_t len)
{
	struct dedup_host *h = obj;
	l1_lock__acquire(&h->lock);
	if (ce->arg == ARG_BACKEND)
		snprintf(buf, len, "%s", backend_choices[h->backend]);
	else
		snprintf(buf, len, "%llu", (unsigned long long)h->knob[ce->arg]);
	l1_lock__release(&h->lock);
	return 0;
}

static int store_knob(void *obj, const struct ctl_entry *ce, const union ctl_value *v)
{
	struct dedup_host *h = obj;
	int rc = 0;
	l1_lock__acquire(&h->lock);
	if (ce->arg == ARG_BACKEND) {
		if (h->started)
			rc = -EBUSY;
		else
			h->backend = (enum backend_choice)v->choice;
		goto out;
	}
	enum dedup_knob k = (enum dedup_knob)ce->arg;
	uint64_t value = (uint64_t)v->i;
	/* every engine first (only max_page_sharing can refuse), then KSM */
	for (unsigned i = 0; rc == 0 && i < NR_ENGINES; i++)
		if (h->eng[i].e)
			rc = dedup__knob_set(h->eng[i].e, k, value);
	if (rc == 0)
		rc = dedup_ksm__push(&h->ksm, k, value);
	if (rc == 0) {
		h->knob[k] = value;
		if (k == DEDUP_RUN && value)
			attach_pending(h);
		push_scanner(h);
	}
out:
	l1_lock__release(&h->lock);
	return rc;
}

static bool host_running(void *obj)
{
	struct dedup_host *h = obj;
	l1_lock__acquire(&h->lock);
	bool r = h->started;
	l1_lock__release(&h->lock);
	return r;
}

int dedup_host__register(struct dedup_host *h, struct ctl_tree *t)
{
	size_t n = DEDUP_NR_KNOBS + 1 + dedup__stat_table_len + 5;
	if (DEDUP_NR_KNOBS + dedup__stat_table_len > sizeof(h->paths) / sizeof(h->paths[0]))
		return -EINVAL; /* paths[] too small for the engine's tables */
	struct ctl_entry *es = calloc(n, sizeof(*es));
	if (!es)
		return -ENOMEM;
	size_t i = 0;
	for (unsigned k = 0; k < DEDUP_NR_KNOBS; k++, i++) {
		const struct dedup_knob_desc *d = dedup__knob_desc(k);
		snprintf(h->paths[i], sizeof(h->paths[i]), "dedup/%s", d->name);
		es[i] = (struct ctl_entry){ .path = h->paths[i], .type = CTL_INT,
			.flags = CTL_WRITABLE | CTL_CONFIG, .doc = d->doc,
			.min = (int64_t)d->min, .max = (int64_t)d->max, .arg = k,
			.show = show_knob, .store = store_knob };
	}
	es[i++] = (struct ctl_entry){ .path = "dedup/backend", .type = CTL_ENUM,
		.flags = CTL_WRITABLE | CTL_IDLE | CTL_CONFIG, .choices = backend_choices,
		.arg = ARG_BACKEND, .show = show_knob, .store = store_knob,
		.doc = "ept guests: l1vmm's engine, or Linux KSM (MADV_MERGEABLE); shadow guests "
		       "always use l1vmm's" };
	for (size_t s = 0; s < dedup__stat_table_len; s++, i++) {
		snprintf(h->paths[i], sizeof(h->paths[i]), "dedup/%s", dedup__stat_table[s].name);
		es[i] = (struct ctl_entry){ .path = h->paths[i], .type = CTL_TEXT,
			.doc = dedup__stat_table[s].doc, .arg = s, .show = show_stat };
	}
	es[i++] = (struct ctl_entry){ .path = "dedup/host_mappings", .type = CTL_TEXT,
		.arg = ARG_MAPPINGS, .show = show_stat,
		.doc = "host memory mappings used for sharing (ept: VMAs; see vm.max_map_count)" };
	es[i++] = (struct ctl_entry){ .path = "dedup/map_calls", .type = CTL_TEXT,
		.arg = ARG_MAP_CALLS, .show = show_stat,
		.doc = "ept: mapping calls made; a run of frames onto consecutive copies takes one" };
	es[i++] = (struct ctl_entry){ .path = "dedup/vcpu_holds", .type = CTL_TEXT,
		.arg = ARG_HOLDS, .show = show_stat,
		.doc = "batches of host mapping changes made with the guests' vCPUs held out of "
		       "guest mode, so no TLB shootdown reaches their CPUs (ept: shares, no write "
		       "protection; shadow: own pages given back, KVM told of protected ones)" };
	es[i++] = (struct ctl_entry){ .path = "dedup/vcpu_hold_misses", .type = CTL_TEXT,
		.arg = ARG_HOLD_MISSES, .show = show_stat,
		.doc = "ept: batches that asked to hold the vCPUs, some did not stop within 10 ms, "
		       "and were write-protected a run at a time instead" };
	es[i++] = (struct ctl_entry){ .path = "dedup/check", .type = CTL_TEXT,
		.show = show_check, .doc = "ok when every counter and copy agrees with the p2m "
		"(a full cross-check: slow on big guests)" };
	h->entries = es;
	h->nr_entries = i;
	/* the tree keeps a pointer to the table: it lives as long as h */
	h->table = (struct ctl_table){ .entries = es, .nr_entries = i, .running = host_running };
	return ctl__register(t, "", &h->table, h);
}

/* ---- one VM: vms/NAME/dedup/ (vm_ctl.c shows them through this) ---- */

int dedup_host__vm_show(struct vm *vm, enum dedup_vm_field f, char *buf, size_t len)
{
	struct dedup_host *h = vm ? vm->dedup_host : NULL;
	struct dedup_vm_stats s = { 0 };
	const char *backend = "none";
	if (h) {
		l1_lock__acquire(&h->lock);
		if (vm->dedup_kind == -2) {
			backend = "pending (dedup/run is 0)";
		} else if (vm->dedup_kind >= 0) {
			struct engine *en = &h->eng[vm->dedup_kind];
			dedup_host__sync(h);
			dedup__vm_stats(en->e, vm, &s);
			backend = en->b.name;
		} else {
			backend = "ksm";
		}
		l1_lock__release(&h->lock);
	}
	uint64_t v = 0;
	switch (f) {
	case DEDUP_VM_BACKEND:
		snprintf(buf, len, "%s", backend);
		return 0;
	case DEDUP_VM_SHARED: v = s.pages_shared; break;
	case DEDUP_VM_PRIVATE: v = s.pages_private; break;
	case DEDUP_VM_ZERO: v = s.pages_zero; break;
	case DEDUP_VM_VOLATILE: v = s.pages_volatile; break;
	case DEDUP_VM_META: v = s.meta_bytes; break;
	}
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return 0;
}
