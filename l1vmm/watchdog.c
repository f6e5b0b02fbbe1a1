/* SPDX-License-Identifier: MIT */
#include "l1vmm/watchdog.h"

#include <errno.h>
#include <signal.h>

#include "l1vmm/sandbox.h"
#include "l1vmm/thread.h"
#include "mmu/clock.h"

#define SIGNAL_POLL_SECONDS 0.05

static void *watch(void *arg)
{
	struct watchdog *w = arg;
	/* what fire() does at the end (KSM's knobs, the mount, stderr, _exit) is
	 * on main's list */
	sandbox__enter(SANDBOX_MAIN, "watchdog");
	pthread_mutex_lock(&w->lock);
	while (!w->stopping) {
		double now = clock__mono_s();
		if (!w->deadline && w->stop_signal && *w->stop_signal)
			w->deadline = now + w->grace;
		if (w->deadline && now >= w->deadline) {
			pthread_mutex_unlock(&w->lock);
			w->fire(w->ctx);
			return NULL; /* not reached: fire ends the process */
		}
		double wait = w->deadline ? w->deadline - now : SIGNAL_POLL_SECONDS;
		if (!w->deadline && !w->stop_signal)
			wait = 3600.0; /* only watchdog__arm() wakes it */
		clock__cond_wait(&w->cv, &w->lock, wait);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int watchdog__start(struct watchdog *w, double grace, volatile sig_atomic_t *stop_signal,
		    void (*fire)(void *ctx), void *ctx)
{
	*w = (struct watchdog){ .grace = grace, .stop_signal = stop_signal, .fire = fire,
				.ctx = ctx };
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cv, NULL);
	int rc = thread__create_quiet(&w->thread, watch, w, 0); /* signals stay with main */
	if (rc != 0)
		return -rc;
	w->started = true;
	return 0;
}

void watchdog__arm(struct watchdog *w)
{
	pthread_mutex_lock(&w->lock);
	double at = clock__mono_s() + w->grace;
	if (!w->deadline || at < w->deadline)
		w->deadline = at;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->lock);
}

void watchdog__stop(struct watchdog *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->started = false;
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->lock);
}
