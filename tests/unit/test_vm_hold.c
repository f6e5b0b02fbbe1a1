/*
 * Unit tests: holding a VM's vCPU threads out of guest mode (vm__hold_request,
 * vm__hold_wait, vm__release_vcpus, vm__hold_point; ept page sharing's batches).
 *
 * Threads stand in for vCPU threads: each loops through vm__hold_point() and
 * then "runs the guest" (a flag set for a few microseconds). KVM_RUN and the
 * kicks are not here (the VM has no vCPUs to kick, so a thread comes back to
 * its hold point at the end of its "guest" time, as a kicked vCPU would);
 * tests/integration/test_dedup.py holds real ones.
 */
#include "tests/unit/cmocka_all.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "l1vmm/vm.h"
#include "mmu/clock.h"

#define THREADS 3

struct fake_vcpu {
	struct vm *vm;
	int in_guest;  /* atomic: between the hold point and the next one */
	int stop;      /* atomic */
	int blocked;   /* atomic: stays away from its hold point while set */
	unsigned long rounds;
};

static void spin_us(unsigned us)
{
	uint64_t end = clock__mono_ns() + us * 1000ull;
	while (clock__mono_ns() < end)
		;
}

static void *vcpu_loop(void *arg)
{
	struct fake_vcpu *v = arg;
	while (!__atomic_load_n(&v->stop, __ATOMIC_ACQUIRE) && !vm__ended(v->vm)) {
		while (__atomic_load_n(&v->blocked, __ATOMIC_ACQUIRE) &&
		       !__atomic_load_n(&v->stop, __ATOMIC_ACQUIRE))
			spin_us(50);
		vm__hold_point(v->vm);
		__atomic_store_n(&v->in_guest, 1, __ATOMIC_RELEASE);
		spin_us(20);
		__atomic_store_n(&v->in_guest, 0, __ATOMIC_RELEASE);
		v->rounds++;
	}
	pthread_mutex_lock(&v->vm->lock);
	v->vm->nr_running--;
	pthread_cond_broadcast(&v->vm->ended_cv);
	pthread_mutex_unlock(&v->vm->lock);
	return NULL;
}

struct fixture {
	struct vm vm;
	struct fake_vcpu v[THREADS];
	pthread_t t[THREADS];
};

static void start(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->vm.lock, NULL);
	pthread_cond_init(&f->vm.ended_cv, NULL);
	for (int i = 0; i < THREADS; i++) {
		f->v[i].vm = &f->vm;
		f->vm.nr_running++; /* as vm__start(): counted before the thread runs */
		assert_int_equal(pthread_create(&f->t[i], NULL, vcpu_loop, &f->v[i]), 0);
	}
}

static void finish(struct fixture *f)
{
	for (int i = 0; i < THREADS; i++)
		__atomic_store_n(&f->v[i].stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < THREADS; i++)
		pthread_join(f->t[i], NULL);
	assert_int_equal(f->vm.nr_running, 0);
	assert_int_equal(f->vm.nr_held, 0);
	pthread_cond_destroy(&f->vm.ended_cv);
	pthread_mutex_destroy(&f->vm.lock);
}

static bool any_in_guest(const struct fixture *f)
{
	for (int i = 0; i < THREADS; i++)
		if (__atomic_load_n(&f->v[i].in_guest, __ATOMIC_ACQUIRE))
			return true;
	return false;
}

/* While held, no thread is past its hold point; after the release they all run again. */
static void held_means_none_runs(void **state)
{
	(void)state;
	static struct fixture f;
	start(&f);
	for (int round = 0; round < 200; round++) {
		vm__hold_request(&f.vm);
		assert_true(vm__hold_wait(&f.vm, clock__mono_s() + 5.0));
		for (int look = 0; look < 20; look++) {
			assert_false(any_in_guest(&f));
			spin_us(5);
		}
		unsigned long before[THREADS];
		for (int i = 0; i < THREADS; i++)
			before[i] = f.v[i].rounds; /* still: the threads wait */
		spin_us(100);
		for (int i = 0; i < THREADS; i++)
			assert_int_equal(f.v[i].rounds, before[i]);
		vm__release_vcpus(&f.vm);
	}
	/* released: every thread goes round again */
	unsigned long before[THREADS];
	for (int i = 0; i < THREADS; i++)
		before[i] = __atomic_load_n(&f.v[i].rounds, __ATOMIC_RELAXED);
	for (int i = 0; i < THREADS; i++)
		while (__atomic_load_n(&f.v[i].rounds, __ATOMIC_RELAXED) < before[i] + 3)
			spin_us(50);
	finish(&f);
}

/* A thread that does not come to its hold point: the wait gives up at its
 * deadline, says so, and the others go on once released. */
static void a_thread_that_does_not_stop(void **state)
{
	(void)state;
	static struct fixture f;
	start(&f);
	__atomic_store_n(&f.v[1].blocked, 1, __ATOMIC_RELEASE);
	spin_us(200); /* thread 1 is in its blocked loop now */
	vm__hold_request(&f.vm);
	double t0 = clock__mono_s();
	assert_false(vm__hold_wait(&f.vm, t0 + 0.02));
	double waited = clock__mono_s() - t0;
	assert_true(waited >= 0.019 && waited < 2.0);
	vm__release_vcpus(&f.vm);
	__atomic_store_n(&f.v[1].blocked, 0, __ATOMIC_RELEASE);
	unsigned long r0 = __atomic_load_n(&f.v[0].rounds, __ATOMIC_RELAXED);
	while (__atomic_load_n(&f.v[0].rounds, __ATOMIC_RELAXED) < r0 + 3)
		spin_us(50);
	finish(&f);
}

/* A VM that ends while its threads are held: they leave, and a wait says no. */
static void the_vm_ends_while_held(void **state)
{
	(void)state;
	static struct fixture f;
	start(&f);
	vm__hold_request(&f.vm);
	assert_true(vm__hold_wait(&f.vm, clock__mono_s() + 5.0));
	pthread_mutex_lock(&f.vm.lock);
	__atomic_store_n(&f.vm.end, VM_END_EXIT, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&f.vm.ended_cv);
	pthread_mutex_unlock(&f.vm.lock);
	for (int i = 0; i < THREADS; i++)
		pthread_join(f.t[i], NULL); /* they left their hold point */
	assert_false(vm__hold_wait(&f.vm, clock__mono_s() + 0.01));
	vm__release_vcpus(&f.vm);
	assert_int_equal(f.vm.nr_running, 0);
	assert_int_equal(f.vm.nr_held, 0);
	pthread_cond_destroy(&f.vm.ended_cv);
	pthread_mutex_destroy(&f.vm.lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(held_means_none_runs),
		cmocka_unit_test(a_thread_that_does_not_stop),
		cmocka_unit_test(the_vm_ends_while_held),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
