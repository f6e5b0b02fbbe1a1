/* SPDX-License-Identifier: MIT */
/* Starting a thread that leaves signals to main (thread.h). */
#include "l1vmm/thread.h"

#include <signal.h>

int thread__create_quiet(pthread_t *t, void *(*fn)(void *), void *arg, int kick)
{
	static const int raised[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS };
	sigset_t mask, old;
	sigfillset(&mask);
	for (unsigned i = 0; i < sizeof(raised) / sizeof(raised[0]); i++)
		sigdelset(&mask, raised[i]);
	if (kick)
		sigdelset(&mask, kick);
	pthread_sigmask(SIG_SETMASK, &mask, &old); /* the new thread inherits it */
	int rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}
