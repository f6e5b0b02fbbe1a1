// SPDX-License-Identifier: MIT
/*
 * DOC: pseudo page faults for shadow-mode guests (overview in shadow_apf.h).
 */
#include "l1vmm/shadow_apf.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "l1vmm/sandbox.h"
#include "l1vmm/shadow_vm.h"
#include "l1vmm/thread.h"

#define FETCH_TRIES 4
#define FETCH_PAUSE_NS 1000000L

static void *worker(void *arg);

int shadow_apf__init(struct shadow_vm *sv, unsigned nr_vcpus)
{
	struct shadow_apf *a = &sv->apf;
	*a = (struct shadow_apf){ .nr_vcpus = nr_vcpus, .cap = nr_vcpus * APF_TOKENS };
	a->enabled = calloc(nr_vcpus, sizeof(*a->enabled));
	a->table = calloc(nr_vcpus, sizeof(*a->table));
	a->queue = calloc(a->cap, sizeof(*a->queue));
	if (!a->enabled || !a->table || !a->queue) {
		free(a->enabled), free(a->table), free(a->queue);
		*a = (struct shadow_apf){ 0 };
		return -ENOMEM;
	}
	for (unsigned i = 0; i < nr_vcpus; i++)
		apf__init(&a->table[i]);
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cv, NULL);
	/* now, before the sandbox forbids new threads (an idle one per VM) */
	if (thread__create_quiet(&a->worker, worker, sv, 0)) {
		shadow_apf__destroy(a);
		return -ENOMEM;
	}
	a->have_worker = true;
	return 0;
}

void shadow_apf__stop(struct shadow_apf *a)
{
	if (!a->table)
		return;
	pthread_mutex_lock(&a->lock);
	a->stop = true;
	bool join = a->have_worker;
	a->have_worker = false;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->lock);
	if (join)
		pthread_join(a->worker, NULL);
}

void shadow_apf__destroy(struct shadow_apf *a)
{
	if (!a->table)
		return;
	shadow_apf__stop(a);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->lock);
	free(a->enabled), free(a->table), free(a->queue);
	*a = (struct shadow_apf){ 0 };
}

/* Under a->lock: the next DONE token of vCPU index into its free apf_ready.
 * True if one was delivered. */
static bool deliver_locked(struct shadow_vm *sv, unsigned index)
{
	struct l1_vcpu_info *info = &sv->si->vcpu[index];
	struct apf_table *t = &sv->apf.table[index];
	if (!t->done || __atomic_load_n(&info->apf_ready, __ATOMIC_ACQUIRE))
		return false;
	uint32_t token;
	if (!apf__take_ready(t, &token))
		return false;
	__atomic_fetch_sub(&sv->apf.done, 1, __ATOMIC_RELAXED);
	uint32_t zero = 0;
	/* the guest only ever zeroes it: it is still 0 */
	__atomic_compare_exchange_n(&info->apf_ready, &zero, token, false, __ATOMIC_RELEASE,
				    __ATOMIC_RELAXED);
	/* after the token: the guest reads it once it sees the bit */
	__atomic_fetch_or(&info->pending, L1_EVT_APF_READY, __ATOMIC_RELEASE);
	sv->apf.stats.ready++;
	return true;
}

void shadow_apf__deliver(struct shadow_vm *sv, unsigned index)
{
	struct shadow_apf *a = &sv->apf;
	if (!a->table || !__atomic_load_n(&a->done, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&a->lock);
	deliver_locked(sv, index);
	pthread_mutex_unlock(&a->lock);
}

static void *worker(void *arg)
{
	struct shadow_vm *sv = arg;
	struct shadow_apf *a = &sv->apf;
	/* it fetches as ept's fetch threads do (the store, its swap file, the p2m) */
	sandbox__enter(SANDBOX_FETCH, "apf");
	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->count && !a->stop)
			pthread_cond_wait(&a->cv, &a->lock);
		if (a->stop)
			break;
		struct apf_job j = a->queue[a->head];
		a->head = (a->head + 1) % a->cap;
		a->count--;
		pthread_mutex_unlock(&a->lock);

		int rc = shadow__fetch(&sv->g, j.gfn);
		for (unsigned t = 1; rc < 0 && rc != -ENOSYS && t < FETCH_TRIES; t++) {
			nanosleep(&(struct timespec){ .tv_nsec = FETCH_PAUSE_NS }, NULL);
			rc = shadow__fetch(&sv->g, j.gfn);
		}

		pthread_mutex_lock(&a->lock);
		if (rc < 0) {
			a->stats.fetch_errors++;
			apf__fail(&a->table[j.vcpu], j.gfn); /* its retry waits on the vCPU */
		}
		unsigned n = apf__complete(&a->table[j.vcpu], j.gfn, j.epoch);
		if (!n) {
			a->stats.stale++;
			continue;
		}
		__atomic_fetch_add(&a->done, n, __ATOMIC_RELAXED);
		if (deliver_locked(sv, j.vcpu)) {
			/* a vCPU asleep in L1_HC_BLOCK waits on sv->cv for pending bits */
			pthread_mutex_unlock(&a->lock);
			pthread_mutex_lock(&sv->lock);
			pthread_cond_broadcast(&sv->cv);
			pthread_mutex_unlock(&sv->lock);
			pthread_mutex_lock(&a->lock);
		}
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

int64_t shadow_apf__hypercall(struct shadow_vm *sv, unsigned index, uint64_t op, uint64_t flags)
{
	struct shadow_apf *a = &sv->apf;
	if ((op != L1_APF_ENABLE && op != L1_APF_DISABLE) || flags)
		return -L1_EINVAL;
	if (!a->table || index >= a->nr_vcpus)
		return -L1_ENOSYS;
	int64_t ret = 0;
	pthread_mutex_lock(&a->lock);
	struct apf_table *t = &a->table[index];
	unsigned done = t->done;
	bool orphans = t->outstanding != 0;
	apf__reset(t); /* a re-enable starts afresh too */
	__atomic_fetch_sub(&a->done, done, __ATOMIC_RELAXED);
	if (orphans) {
		/* no "ready" comes for those tokens now: every task parked on this
		 * vCPU retries. Over a token the guest has not taken yet, which
		 * WAKE_ALL covers; the guest is in this hypercall, not reading it. */
		struct l1_vcpu_info *info = &sv->si->vcpu[index];
		__atomic_store_n(&info->apf_ready, L1_APF_WAKE_ALL, __ATOMIC_RELEASE);
		__atomic_fetch_or(&info->pending, L1_EVT_APF_READY, __ATOMIC_RELEASE);
		a->stats.wake_alls++;
	}
	if (op == L1_APF_DISABLE) {
		a->enabled[index] = false;
	} else if (!a->have_worker) {
		ret = -L1_ENOMEM; /* the VM is ending */
	} else {
		a->enabled[index] = true;
		a->stats.enables++;
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

bool shadow_apf__enabled(struct shadow_apf *a, unsigned index)
{
	if (!a->table || index >= a->nr_vcpus)
		return false;
	pthread_mutex_lock(&a->lock);
	bool on = a->enabled[index];
	pthread_mutex_unlock(&a->lock);
	return on;
}

bool shadow_apf__not_present(struct shadow_vm *sv, unsigned index, uint64_t gfn,
			     uint32_t *token)
{
	struct shadow_apf *a = &sv->apf;
	bool fetch, ok = false;
	pthread_mutex_lock(&a->lock);
	int rc = -ENOSPC;
	if (a->enabled[index] && a->count < a->cap && !a->stop)
		rc = apf__issue(&a->table[index], gfn, token, &fetch);
	if (rc == 0) {
		if (fetch) {
			a->queue[(a->head + a->count) % a->cap] =
				(struct apf_job){ .gfn = gfn, .vcpu = index,
						  .epoch = a->table[index].epoch };
			a->count++;
			pthread_cond_signal(&a->cv);
		}
		a->stats.not_present++;
		ok = true;
	} else {
		a->stats.fallbacks++;
		a->stats.failing += rc == -EIO;
	}
	pthread_mutex_unlock(&a->lock);
	return ok;
}

void shadow_apf__fetched(struct shadow_vm *sv, unsigned index, uint64_t gfn)
{
	struct shadow_apf *a = &sv->apf;
	if (!a->table || index >= a->nr_vcpus)
		return;
	pthread_mutex_lock(&a->lock);
	apf__fetched(&a->table[index], gfn);
	pthread_mutex_unlock(&a->lock);
}

void shadow_apf__stats(struct shadow_apf *a, struct shadow_apf_stats *s, uint64_t *outstanding)
{
	*s = (struct shadow_apf_stats){ 0 };
	*outstanding = 0;
	if (!a->table)
		return;
	pthread_mutex_lock(&a->lock);
	*s = a->stats;
	for (unsigned i = 0; i < a->nr_vcpus; i++)
		*outstanding += a->table[i].outstanding;
	pthread_mutex_unlock(&a->lock);
}
