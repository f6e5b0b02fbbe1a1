/* SPDX-License-Identifier: MIT */
/*
 * DOC: the balloon policy on the host (balloon_ctl.h).
 *
 * The thread sleeps interval_ms on c->cv (a knob write or stop wakes it).
 * Each round under auto: read the host, pull every guest's statistics
 * (PV: shared info; virtio: the held stats buffer goes back to the guest,
 * which refills it for the next round), snapshot the balloons, step the
 * policy, set the targets that changed. A pressure episode is timed from
 * the first round that saw pressure to the first that did not
 * (balloon/last_relief_s): how long the policy took to bring the host back
 * under its watermark.
 */
#include "l1vmm/balloon_ctl.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balloon/balloon.h"
#include "balloon/policy.h"
#include "balloon/virtio_balloon.h"
#include "l1vmm/balloon_host.h"
#include "l1vmm/ctl.h"
#include "l1vmm/sandbox.h"
#include "l1vmm/vm.h"

#define MAX_VMS 64
#define MIB (1ull << 20)
#define CHUNK_FRAMES 512 /* the built-in guest's balloon unit (2 MiB) */

enum policy { POLICY_OFF, POLICY_MANUAL, POLICY_AUTO };
static const char *const policy_choices[] = { "off", "manual", "auto", NULL };
static int policy_now = POLICY_MANUAL; /* atomic: the one host's policy, for vm_ctl.c */

struct balloon_ctl {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	enum policy policy;
	uint64_t interval_ms;
	struct balloon_policy_knobs k;
	struct vm *vms[MAX_VMS];
	unsigned nr_vms;
	struct balloon_policy_state st;
	struct balloon_policy_vm_state vm_st[MAX_VMS];
	struct balloon_policy_vm_out out[MAX_VMS];
	struct balloon_policy_result res;
	struct balloon_policy_host host;
	uint64_t steps;
	double pressure_since;   /* vm__now() of the episode's first round, 0 = none */
	double last_relief_s;    /* the last episode's length, <0 = none yet */
	pthread_t thread;
	bool running, stopping;
	char paths[BALLOON_POLICY_NR_KNOBS][48];
	struct ctl_entry *entries;
	struct ctl_table table;
};

bool balloon_ctl__targets_by_hand(void)
{
	return __atomic_load_n(&policy_now, __ATOMIC_RELAXED) == POLICY_MANUAL;
}

struct balloon_ctl *balloon_ctl__create(void)
{
	struct balloon_ctl *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->policy = POLICY_MANUAL;
	c->interval_ms = 500;
	c->k = balloon_policy__defaults();
	c->last_relief_s = -1;
	__atomic_store_n(&policy_now, POLICY_MANUAL, __ATOMIC_RELAXED);
	return c;
}

void balloon_ctl__destroy(struct balloon_ctl *c)
{
	if (!c)
		return;
	balloon_ctl__stop(c);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->lock);
	free(c->entries);
	free(c);
}

int balloon_ctl__add_vm(struct balloon_ctl *c, struct vm *vm, char *err, size_t errlen)
{
	if (!vm->balloon)
		return 0;
	pthread_mutex_lock(&c->lock);
	int rc = 0;
	if (c->nr_vms == MAX_VMS) {
		snprintf(err, errlen, "the balloon policy takes at most %d VMs", MAX_VMS);
		rc = -1;
	} else {
		c->vms[c->nr_vms++] = vm;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* ---- reading the host ---- */

/* ---- one round ---- */

static void round_auto(struct balloon_ctl *c)
{
	struct balloon_policy_vm in[MAX_VMS];
	c->host = (struct balloon_policy_host){
		.mem_available = host__proc_kb("/proc/meminfo", "MemAvailable"),
		.psi_some_avg10 = host__psi_some_avg10(),
		.guest_rss = host__proc_kb("/proc/self/status", "RssAnon"),
	};
	for (unsigned i = 0; i < c->nr_vms; i++) {
		struct vm *vm = c->vms[i];
		struct balloon_snapshot s;
		balloon_host__pull_stats(vm);
		if (vm->virtio_balloon)
			virtio_balloon__request_stats(vm->virtio_balloon);
		balloon__snapshot(vm->balloon, &s);
		bool live = !vm__ended(vm) && strcmp(balloon_host__driver(vm), "none");
		balloon_policy__vm_from_snapshot(&s, live, &in[i]);
	}
	balloon_policy__step(&c->k, &c->host, &c->st, in, c->vm_st, c->out, c->nr_vms, &c->res);
	c->steps++;
	for (unsigned i = 0; i < c->nr_vms; i++) {
		uint64_t t = c->out[i].target_frames;
		/* Guests balloon whole 2 MiB chunks and round a target down: a
		 * rise of less than a chunk would never move, and the policy would
		 * ask for it forever. A rise is rounded up to a chunk instead (the
		 * floor may be passed by less than 2 MiB). */
		if (t > in[i].target_frames)
			t = (t + CHUNK_FRAMES - 1) / CHUNK_FRAMES * CHUNK_FRAMES;
		if (t != in[i].target_frames)
			balloon__set_target(c->vms[i]->balloon, t);
	}
	double now = vm__now();
	if (c->res.mode == BALLOON_POLICY_PRESSURE && !c->pressure_since) {
		c->pressure_since = now;
	} else if (c->res.mode != BALLOON_POLICY_PRESSURE && c->pressure_since) {
		c->last_relief_s = now - c->pressure_since;
		c->pressure_since = 0;
	}
}

static void *policy_thread(void *arg)
{
	struct balloon_ctl *c = arg;
	sandbox__enter(SANDBOX_BALLOON, "balloon");
	pthread_mutex_lock(&c->lock);
	enum policy last = c->policy;
	while (!c->stopping) {
		if (c->policy == POLICY_AUTO)
			round_auto(c);
		else if (c->policy == POLICY_OFF && last != POLICY_OFF)
			for (unsigned i = 0; i < c->nr_vms; i++)
				balloon__set_target(c->vms[i]->balloon, 0);
		last = c->policy;
		vm__timedwait(&c->cv, &c->lock, (double)c->interval_ms / 1000.0);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int balloon_ctl__start(struct balloon_ctl *c, char *err, size_t errlen)
{
	pthread_mutex_lock(&c->lock);
	if (c->policy == POLICY_OFF)
		for (unsigned i = 0; i < c->nr_vms; i++)
			balloon__set_target(c->vms[i]->balloon, 0);
	c->stopping = false;
	int rc = pthread_create(&c->thread, NULL, policy_thread, c);
	c->running = rc == 0;
	pthread_mutex_unlock(&c->lock);
	if (rc) {
		snprintf(err, errlen, "cannot start the balloon policy thread: %s", strerror(rc));
		return -1;
	}
	return 0;
}

void balloon_ctl__stop(struct balloon_ctl *c)
{
	pthread_mutex_lock(&c->lock);
	bool running = c->running;
	c->stopping = true;
	c->running = false;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->lock);
	if (running)
		pthread_join(c->thread, NULL);
	pthread_mutex_lock(&c->lock);
	c->nr_vms = 0;
	pthread_mutex_unlock(&c->lock);
}

/* ---- the tree ---- */

enum { ARG_POLICY = BALLOON_POLICY_NR_KNOBS, ARG_INTERVAL, ARG_MODE, ARG_NEED, ARG_AVAIL,
       ARG_PSI, ARG_RSS, ARG_STEPS, ARG_RELIEF, ARG_REASONS };

static int show(void *obj, const struct ctl_entry *e, char *buf, size_t len)
{
	struct balloon_ctl *c = obj;
	static const char *const modes[] = { "steady", "pressure", "relief" };
	pthread_mutex_lock(&c->lock);
	int n = 0;
	if (e->arg < BALLOON_POLICY_NR_KNOBS) {
		n = snprintf(buf, len, "%llu", (unsigned long long)
			     balloon_policy__knob_get(&c->k, &balloon_policy__knob[e->arg]));
	} else switch (e->arg) {
	case ARG_POLICY: n = snprintf(buf, len, "%s", policy_choices[c->policy]); break;
	case ARG_INTERVAL: n = snprintf(buf, len, "%llu", (unsigned long long)c->interval_ms); break;
	case ARG_MODE: n = snprintf(buf, len, "%s", c->steps ? modes[c->res.mode] : "none"); break;
	case ARG_NEED: n = snprintf(buf, len, "%llu", (unsigned long long)(c->res.need_bytes / MIB)); break;
	case ARG_AVAIL: n = snprintf(buf, len, "%llu", (unsigned long long)(c->host.mem_available / MIB)); break;
	case ARG_PSI: n = snprintf(buf, len, "%.2f", c->host.psi_some_avg10); break;
	case ARG_RSS: n = snprintf(buf, len, "%llu", (unsigned long long)(c->host.guest_rss / MIB)); break;
	case ARG_STEPS: n = snprintf(buf, len, "%llu", (unsigned long long)c->steps); break;
	case ARG_RELIEF:
		n = c->last_relief_s < 0 ? snprintf(buf, len, "none")
					 : snprintf(buf, len, "%.2f", c->last_relief_s);
		break;
	case ARG_REASONS:
		buf[0] = '\0';
		for (unsigned i = 0; i < c->nr_vms && c->steps && (size_t)n < len; i++)
			n += snprintf(buf + n, len - (size_t)n, "%s%s:%s", i ? " " : "",
				      c->vms[i]->name, balloon_policy__reason_name(c->out[i].reason));
		break;
	}
	pthread_mutex_unlock(&c->lock);
	return n < 0 ? -EIO : 0;
}

static int store(void *obj, const struct ctl_entry *e, const union ctl_value *v)
{
	struct balloon_ctl *c = obj;
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	if (e->arg < BALLOON_POLICY_NR_KNOBS) {
		rc = balloon_policy__knob_set(&c->k, &balloon_policy__knob[e->arg], (uint64_t)v->i);
	} else if (e->arg == ARG_POLICY) {
		c->policy = (enum policy)v->choice;
		__atomic_store_n(&policy_now, (int)c->policy, __ATOMIC_RELAXED);
	} else if (e->arg == ARG_INTERVAL) {
		c->interval_ms = (uint64_t)v->i;
	}
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int balloon_ctl__register(struct balloon_ctl *c, struct ctl_tree *t)
{
	static const struct ctl_entry fixed[] = {
		{ .path = "balloon/policy", .type = CTL_ENUM, .flags = CTL_WRITABLE | CTL_CONFIG,
		  .choices = policy_choices, .arg = ARG_POLICY, .show = show, .store = store,
		  .doc = "who sets balloon targets: off (none), manual (vms/NAME/balloon/target_mb), "
			 "auto (from host pressure and guest statistics)" },
		{ .path = "balloon/interval_ms", .type = CTL_INT, .flags = CTL_WRITABLE | CTL_CONFIG,
		  .min = 50, .max = 60000, .arg = ARG_INTERVAL, .show = show, .store = store,
		  .doc = "auto: milliseconds between policy rounds" },
		{ .path = "balloon/state", .type = CTL_TEXT, .arg = ARG_MODE, .show = show,
		  .doc = "auto: steady, pressure or relief at the last round (none before one)" },
		{ .path = "balloon/need_mb", .type = CTL_TEXT, .arg = ARG_NEED, .show = show,
		  .doc = "auto: MiB the last round wanted back from the guests" },
		{ .path = "balloon/host/mem_available_mb", .type = CTL_TEXT, .arg = ARG_AVAIL,
		  .show = show, .doc = "auto: the host's MemAvailable at the last round" },
		{ .path = "balloon/host/psi_some_avg10", .type = CTL_TEXT, .arg = ARG_PSI,
		  .show = show, .doc = "auto: PSI memory some avg10 at the last round (-1: none)" },
		{ .path = "balloon/host/guest_rss_mb", .type = CTL_TEXT, .arg = ARG_RSS,
		  .show = show, .doc = "auto: l1vmm's RssAnon (guest memory) at the last round" },
		{ .path = "balloon/steps", .type = CTL_TEXT, .arg = ARG_STEPS, .show = show,
		  .doc = "auto: policy rounds run" },
		{ .path = "balloon/last_relief_s", .type = CTL_TEXT, .arg = ARG_RELIEF, .show = show,
		  .doc = "auto: seconds the last pressure episode lasted, or none" },
		{ .path = "balloon/reasons", .type = CTL_TEXT, .arg = ARG_REASONS, .show = show,
		  .doc = "auto: NAME:why for each VM at the last round" },
	};
	size_t nf = sizeof(fixed) / sizeof(fixed[0]), n = BALLOON_POLICY_NR_KNOBS + nf;
	struct ctl_entry *es = calloc(n, sizeof(*es));
	if (!es)
		return -ENOMEM;
	for (unsigned i = 0; i < BALLOON_POLICY_NR_KNOBS; i++) {
		const struct balloon_policy_knob_desc *d = &balloon_policy__knob[i];
		snprintf(c->paths[i], sizeof(c->paths[i]), "balloon/%s", d->name);
		es[i] = (struct ctl_entry){ .path = c->paths[i], .type = CTL_INT,
			.flags = CTL_WRITABLE | CTL_CONFIG, .doc = d->doc, .min = (int64_t)d->min,
			.max = (int64_t)d->max, .arg = i, .show = show, .store = store };
	}
	memcpy(&es[BALLOON_POLICY_NR_KNOBS], fixed, sizeof(fixed));
	c->entries = es;
	c->table = (struct ctl_table){ .entries = es, .nr_entries = n };
	return ctl__register(t, "", &c->table, c);
}
