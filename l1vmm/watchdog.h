/* SPDX-License-Identifier: MIT */
/*
 * DOC: the shutdown watchdog: a bound on how long l1vmm takes to stop.
 *
 * Orderly shutdown joins vCPU threads, flushes the console and tears the VMs
 * down; any of that can wait on something a guest controls (a vCPU in a long
 * change under the machine hold, a console reader that stopped reading). Once
 * the process has decided to end (a stop signal, --timeout, or every VM
 * ended), the host arms the watchdog; if the orderly path has not disarmed it
 * in time, the watchdog thread calls fire(), which must end the process
 * (restore host state, report, _exit). The thread blocks every signal but
 * watches the stop-signal flag itself, so a signal that comes while the main
 * thread is stuck anywhere (set-up included) arms it too.
 */
#ifndef L1VMM_WATCHDOG_H
#define L1VMM_WATCHDOG_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

struct watchdog {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	pthread_t thread;
	bool started;            /* the thread exists: join it */
	bool stopping;           /* under lock: the thread should return */
	double deadline;         /* under lock: monotonic seconds; 0 = not armed */
	double grace;            /* from arming to firing, seconds */
	volatile sig_atomic_t *stop_signal; /* set by a signal handler: arms; or NULL */
	void (*fire)(void *ctx); /* called once, on the watchdog thread, never returns */
	void *ctx;
};

/* Start the (unarmed) watchdog thread: it fires grace seconds after it is
 * armed, by watchdog__arm() or by *stop_signal becoming non-zero. 0, or -errno. */
int watchdog__start(struct watchdog *w, double grace, volatile sig_atomic_t *stop_signal,
		    void (*fire)(void *ctx), void *ctx);
/* Fire grace seconds from now unless stopped first; an earlier arming stays. */
void watchdog__arm(struct watchdog *w);
/* Disarm and join the thread (no-op if never started). */
void watchdog__stop(struct watchdog *w);

#endif
